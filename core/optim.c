/* core/optim.c — SGD (momentum, Nesterov), Adam and AdamW, as torch.optim computes them. */
#include <math.h>
#include <string.h>

#include "earshot/nn.h"
#include "internal.h"

struct es_optimizer {
    es_net *net;
    es_opt_config cfg;
    es_opt_state st;        /* m, v per parameter; n floats per block (the net's
                               gradient block); steps taken */
    float *anchor;          /* [n] weights decay towards (NULL: towards 0) */
};

es_opt_config es_opt_defaults(es_opt_kind kind) {
    es_opt_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.lr = kind == ES_OPT_SGD ? 1e-2f : 1e-3f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.weight_decay = kind == ES_OPT_ADAMW ? 1e-2f : 0.0f;
    return c;
}

/* The state mirrors the gradient block: tensor t's state sits at the same
 * offset from m as its gradient from the first parameter's gradient. */
static size_t grad_span(const es_net *net) {
    size_t end = 0;
    const float *base = NULL;
    for (int i = 0; i < es_net_num_tensors(net); i++) {
        const es_tensor *t = es_net_tensor_at(net, i);
        if (t->kind != ES_TENSOR_PARAM) continue;
        if (!base) base = t->grad;
        if ((size_t)(t->grad - base) + t->numel > end) end = (size_t)(t->grad - base) + t->numel;
    }
    return end;
}

int es_optimizer_create(es_optimizer **out, es_net *net, const es_opt_config *cfg) {
    es_optimizer *o;
    const es_tensor *t0 = NULL;
    if (!out || !net || !cfg) return es__fail(ES_EINVAL, "es_optimizer_create: NULL argument");
    *out = NULL;
    for (int i = 0; i < es_net_num_tensors(net) && !t0; i++)
        if (es_net_tensor_at(net, i)->kind == ES_TENSOR_PARAM) t0 = es_net_tensor_at(net, i);
    if (!t0 || !t0->grad)
        return es__fail(ES_ESTATE, "optimizer needs a network built with ES_NET_TRAIN");
    if (!(cfg->lr > 0.0f) || cfg->weight_decay < 0.0f || cfg->momentum < 0.0f ||
        !(cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f) || !(cfg->beta2 >= 0.0f && cfg->beta2 < 1.0f) ||
        !(cfg->eps > 0.0f || cfg->kind == ES_OPT_SGD))
        return es__fail(ES_EINVAL, "optimizer settings out of range (lr %g, weight_decay %g, "
                        "momentum %g, betas %g/%g, eps %g)", cfg->lr, cfg->weight_decay,
                        cfg->momentum, cfg->beta1, cfg->beta2, cfg->eps);
    o = es__calloc(1, sizeof *o);
    if (!o) return es__fail(ES_ENOMEM, "out of memory creating an optimizer");
    o->net = net;
    o->cfg = *cfg;
    o->st.n = grad_span(net);
    o->st.m = es__calloc(o->st.n ? o->st.n : 1, sizeof *o->st.m);
    if (cfg->kind != ES_OPT_SGD) o->st.v = es__calloc(o->st.n ? o->st.n : 1, sizeof *o->st.v);
    if (!o->st.m || (cfg->kind != ES_OPT_SGD && !o->st.v)) {
        es_optimizer_free(o);
        return es__fail(ES_ENOMEM, "out of memory for optimizer state (%zu floats)", o->st.n);
    }
    *out = o;
    return 0;
}

void es_optimizer_free(es_optimizer *o) {
    if (!o) return;
    es__free(o->st.m);
    es__free(o->st.v);
    es__free(o->anchor);
    es__free(o);
}

void es_optimizer_set_lr(es_optimizer *o, float lr) { o->cfg.lr = lr; }

int es_optimizer_anchor(es_optimizer *o) {
    const float *gbase = NULL;
    if (!o->anchor && !(o->anchor = es__malloc_array(o->st.n ? o->st.n : 1, sizeof *o->anchor)))
        return es__fail(ES_ENOMEM, "out of memory for the optimizer's anchor");
    for (int i = 0; i < es_net_num_tensors(o->net); i++) {
        const es_tensor *t = es_net_tensor_at(o->net, i);
        if (t->kind != ES_TENSOR_PARAM) continue;
        if (!gbase) gbase = t->grad;
        memcpy(o->anchor + (t->grad - gbase), t->data, t->numel * sizeof *t->data);
    }
    return 0;
}

es_opt_state *es_optimizer_state(es_optimizer *o) { return &o->st; }

/* Adam's constants for one step, copied out of the config so that the
 * loops below see no store that could alias them and vectorize. */
typedef struct {
    float lr, wd, b1, b2, eps, step_size, sqrt_bc2;
} adam_coef;

/* The moments and the update of one element, as torch.optim.Adam has them. */
#define ADAM_UPDATE(d)                                                                    \
    do {                                                                                  \
        m[i] = k.b1 * m[i] + (1.0f - k.b1) * (d);                                         \
        v[i] = k.b2 * v[i] + (1.0f - k.b2) * (d) * (d);                                   \
        p[i] -= k.step_size * m[i] / (sqrtf(v[i]) / k.sqrt_bc2 + k.eps);                  \
    } while (0)

/* AdamW decaying towards a[n] (L2-SP); p, m, v, g: [n]. */
ES__HOT static void adamw_anchored(float *restrict p, float *restrict m, float *restrict v,
                                   const float *restrict g, const float *restrict a, size_t n,
                                   const adam_coef *kp) {
    const adam_coef k = *kp;
    for (size_t i = 0; i < n; i++) {
        p[i] -= k.lr * k.wd * (p[i] - a[i]);
        ADAM_UPDATE(g[i]);
    }
}

/* AdamW decaying towards 0; p, m, v, g: [n]. */
ES__HOT static void adamw_step(float *restrict p, float *restrict m, float *restrict v,
                               const float *restrict g, size_t n, const adam_coef *kp) {
    const adam_coef k = *kp;
    for (size_t i = 0; i < n; i++) {
        p[i] *= 1.0f - k.lr * k.wd;
        ADAM_UPDATE(g[i]);
    }
}

/* Adam with L2 in the gradient (towards a[n], or 0 when a is NULL). */
static void adam_step(float *restrict p, float *restrict m, float *restrict v,
                      const float *restrict g, const float *restrict a, size_t n,
                      const adam_coef *kp) {
    const adam_coef k = *kp;
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + k.wd * (a ? p[i] - a[i] : p[i]);
        ADAM_UPDATE(d);
    }
}

int es_optimizer_step(es_optimizer *o) {
    const es_opt_config *c = &o->cfg;
    const es_net *net = o->net;
    const float *gbase = NULL;
    int first = es_net_first_trainable(net);
    double bc1, bc2;
    o->st.step++;
    bc1 = 1.0 - pow(c->beta1, (double)o->st.step);
    bc2 = 1.0 - pow(c->beta2, (double)o->st.step);
    for (int i = 0; i < es_net_num_tensors(net); i++) {
        const es_tensor *t = es_net_tensor_at(net, i);
        float *p, *m, *v;
        const float *g;
        if (t->kind != ES_TENSOR_PARAM) continue;
        if (!gbase) gbase = t->grad;
        if (t->layer < first) continue; /* frozen: no update, no decay */
        p = t->data;
        g = t->grad;
        m = o->st.m + (t->grad - gbase);
        v = o->st.v ? o->st.v + (t->grad - gbase) : NULL;
        switch (c->kind) {
        case ES_OPT_SGD: {
            const float *a = o->anchor ? o->anchor + (t->grad - gbase) : NULL;
            for (size_t k = 0; k < t->numel; k++) {
                float d = g[k] + c->weight_decay * (a ? p[k] - a[k] : p[k]);
                if (c->momentum != 0.0f) {
                    /* torch: the buffer starts as the first gradient */
                    m[k] = o->st.step == 1 ? d : c->momentum * m[k] + d;
                    d = c->nesterov ? d + c->momentum * m[k] : m[k];
                }
                p[k] -= c->lr * d;
            }
            break;
        }
        case ES_OPT_ADAM:
        case ES_OPT_ADAMW: {
            /* torch: p -= lr/bc1 · m / (√v/√bc2 + eps) */
            adam_coef k = {c->lr, c->weight_decay, c->beta1, c->beta2, c->eps,
                           (float)(c->lr / bc1), (float)sqrt(bc2)};
            const float *a = o->anchor ? o->anchor + (t->grad - gbase) : NULL;
            if (c->kind == ES_OPT_ADAMW && a)
                adamw_anchored(p, m, v, g, a, t->numel, &k);
            else if (c->kind == ES_OPT_ADAMW)
                adamw_step(p, m, v, g, t->numel, &k);
            else
                adam_step(p, m, v, g, a, t->numel, &k);
            break;
        }
        }
    }
    return 0;
}

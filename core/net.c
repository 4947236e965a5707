/* core/net.c — a network of layers: shapes, memory, forward and backward. */
#include <math.h>
#include <string.h>

#include "earshot/nn.h"
#include "internal.h"
#include "layers.h"
#include "workers.h"

/* Tensors start on 64-byte boundaries so the kernels' SIMD loads align. */
#define ALIGN_FLOATS 16

typedef struct {
    es_layer_spec spec;
    es_shape in, out;
    int flat_out;               /* output is a vector (after flatten/linear) */
    es__win2d g;                /* conv2d and pools */
    int t_w, t_b, t_rm, t_rv, t_nbt; /* tensor indices, -1 when absent */
    float *act;                 /* [max_batch, out]: own output, or NULL (aliases) */
    float *dinp;                /* [max_batch, in]: gradient wrt input (training) */
    int32_t *argmax;            /* maxpool2d, training: [max_batch, out] */
    float *mask;                /* dropout, training: [max_batch, out] */
    float *bn_mean, *bn_rstd;   /* batchnorm2d: [C] */
    int defer_bias;             /* conv2d: its bias is added after the next layer */
    int add_bias;               /* maxpool2d: tensor index of a deferred conv bias, or -1 */
    float *fold_w, *fold_b;     /* conv2d before batchnorm2d: [out, in, kh, kw], [out] */
    const float *x, *y;         /* input and output of the last forward */
} layer;

struct es_net {
    int n_layers;
    layer *layers;
    es_shape in;
    int max_batch, n_out;
    unsigned flags;
    int n_tensors;
    es_tensor *tensors;
    int64_t *counters;          /* [n_counters] batch-norm num_batches_tracked */
    float *values;              /* every PARAM then BUFFER tensor */
    float *grads;               /* PARAM tensors, same offsets as in values */
    size_t n_values, n_grads, n_params;
    float *work;                /* activations, gradients, masks and scratch */
    float *col;                 /* im2col scratch, the largest a conv needs */
    float *probs, *dlogits;     /* [max_batch, n_out] */
    const float *out;           /* logits of the last forward */
    int B;                      /* batch of the last forward */
    es_mode mode;
    uint64_t rng;
    int first_trainable;
    /* data-parallel training (es_net_set_threads): per-thread scratch */
    es__workers *workers;
    int n_threads;
    size_t col_per_thread, acc_per_thread;
    float *tcol;                /* [n_threads, col_per_thread] im2col scratch */
    float *tacc;                /* [n_threads, acc_per_thread] weight-gradient partial sums */
};

static size_t numel(es_shape s) { return (size_t)s.c * (size_t)s.h * (size_t)s.w; }
static size_t align_up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

static const char *type_name(es_layer_type t) {
    static const char *const names[] = {"conv2d",      "relu",    "maxpool2d",
                                        "avgpool2d",   "global_avgpool", "batchnorm2d",
                                        "dropout",     "flatten", "linear"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* Adds a tensor to the table; sizes are settled later by carve_values. */
static int add_tensor(es_net *net, int layer_i, const char *name, es_tensor_kind kind, int ndim,
                      int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    es_tensor *t = &net->tensors[net->n_tensors];
    for (int i = 0; i < net->n_tensors; i++)
        if (strcmp(net->tensors[i].name, name) == 0)
            return es__fail(ES_ECONFIG, "layer %d names tensor '%s', already used by layer %d",
                            layer_i, name, net->tensors[i].layer);
    memset(t, 0, sizeof *t);
    t->name = name;
    t->kind = kind;
    t->ndim = ndim;
    t->shape[0] = d0, t->shape[1] = d1, t->shape[2] = d2, t->shape[3] = d3;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) t->numel *= (size_t)t->shape[i];
    t->layer = layer_i;
    return net->n_tensors++;
}

/* The weight [d0, d1, (d2, d3)] and optional bias [d0] of conv2d and linear. */
static int add_weight_bias(es_net *net, int i, int ndim, int64_t d0, int64_t d1, int64_t d2,
                           int64_t d3) {
    layer *L = &net->layers[i];
    int rc = add_tensor(net, i, L->spec.weight, ES_TENSOR_PARAM, ndim, d0, d1, d2, d3);
    if (rc < 0) return rc;
    L->t_w = rc;
    if (L->spec.bias[0]) {
        if ((rc = add_tensor(net, i, L->spec.bias, ES_TENSOR_PARAM, 1, d0, 0, 0, 0)) < 0) return rc;
        L->t_b = rc;
    }
    return 0;
}

/* Propagates shapes and builds the tensor table. */
static int plan_layers(es_net *net) {
    es_shape s = net->in;
    int flat = 0, rc;
    for (int i = 0; i < net->n_layers; i++) {
        layer *L = &net->layers[i];
        es_layer_spec *sp = &L->spec;
        L->in = s;
        L->t_w = L->t_b = L->t_rm = L->t_rv = L->t_nbt = -1;
        switch (sp->type) {
        case ES_LAYER_CONV2D:
            if (flat || s.c != sp->in)
                return es__fail(ES_ECONFIG, "layer %d (conv2d): expects %d input channels, gets "
                                "%s[%d, %d, %d]", i, sp->in, flat ? "flattened " : "", s.c, s.h,
                                s.w);
            if (es__win2d_init(&L->g, s.c, s.h, s.w, sp->kh, sp->kw, sp->sh, sp->sw, sp->ph,
                               sp->pw) < 0)
                return es__fail(ES_ECONFIG, "layer %d (conv2d): a %dx%d kernel does not fit the "
                                "%dx%d input", i, sp->kh, sp->kw, s.h, s.w);
            s = (es_shape){sp->out, L->g.Ho, L->g.Wo};
            if ((rc = add_weight_bias(net, i, 4, sp->out, sp->in, sp->kh, sp->kw)) < 0) return rc;
            break;
        case ES_LAYER_MAXPOOL2D:
        case ES_LAYER_AVGPOOL2D:
            if (flat)
                return es__fail(ES_ECONFIG, "layer %d (%s): input is already flattened", i,
                                type_name(sp->type));
            if (es__win2d_init(&L->g, s.c, s.h, s.w, sp->kh, sp->kw, sp->sh, sp->sw, 0, 0) < 0)
                return es__fail(ES_ECONFIG, "layer %d (%s): a %dx%d window does not fit the "
                                "%dx%d input", i, type_name(sp->type), sp->kh, sp->kw, s.h, s.w);
            s = (es_shape){s.c, L->g.Ho, L->g.Wo};
            break;
        case ES_LAYER_GLOBAL_AVGPOOL:
            if (flat)
                return es__fail(ES_ECONFIG, "layer %d (global_avgpool): input is already "
                                "flattened", i);
            s = (es_shape){s.c, 1, 1};
            break;
        case ES_LAYER_BATCHNORM2D:
            if (flat || s.c != sp->in)
                return es__fail(ES_ECONFIG, "layer %d (batchnorm2d): num_features %d, input has "
                                "%d channels", i, sp->in, s.c);
            if ((rc = add_tensor(net, i, sp->weight, ES_TENSOR_PARAM, 1, s.c, 0, 0, 0)) < 0)
                return rc;
            L->t_w = rc;
            if ((rc = add_tensor(net, i, sp->bias, ES_TENSOR_PARAM, 1, s.c, 0, 0, 0)) < 0)
                return rc;
            L->t_b = rc;
            if ((rc = add_tensor(net, i, sp->running_mean, ES_TENSOR_BUFFER, 1, s.c, 0, 0, 0)) <
                0)
                return rc;
            L->t_rm = rc;
            if ((rc = add_tensor(net, i, sp->running_var, ES_TENSOR_BUFFER, 1, s.c, 0, 0, 0)) < 0)
                return rc;
            L->t_rv = rc;
            if (sp->num_batches_tracked[0]) {
                if ((rc = add_tensor(net, i, sp->num_batches_tracked, ES_TENSOR_COUNTER, 0, 0, 0,
                                     0, 0)) < 0)
                    return rc;
                L->t_nbt = rc;
            }
            break;
        case ES_LAYER_RELU:
        case ES_LAYER_DROPOUT:
            break;
        case ES_LAYER_FLATTEN:
            s = (es_shape){(int)numel(s), 1, 1};
            flat = 1;
            break;
        case ES_LAYER_LINEAR:
            if (!flat || (size_t)sp->in != numel(s))
                return es__fail(ES_ECONFIG, "layer %d (linear): expects %d %sinputs, gets "
                                "[%d, %d, %d]%s", i, sp->in, "flattened ", s.c, s.h, s.w,
                                flat ? "" : " (add a flatten layer before it)");
            s = (es_shape){sp->out, 1, 1};
            if ((rc = add_weight_bias(net, i, 2, sp->out, sp->in, 0, 0)) < 0) return rc;
            break;
        default:
            return es__fail(ES_ECONFIG, "layer %d: unknown layer type %d", i, (int)sp->type);
        }
        if (numel(s) == 0 || numel(s) > ((size_t)1 << 30))
            return es__fail(ES_ECONFIG, "layer %d (%s): output size [%d, %d, %d] is out of range",
                            i, type_name(sp->type), s.c, s.h, s.w);
        L->out = s;
        L->flat_out = flat;
    }
    if (!flat)
        return es__fail(ES_ECONFIG, "the last layer must output a vector of logits (end with "
                        "flatten and linear)");
    /* A conv's bias is constant per channel, so it commutes with the max
     * pooling right after it: add it to the pooled quarter of the values. */
    for (int i = 0; i < net->n_layers; i++) net->layers[i].add_bias = -1;
    for (int i = 0; i + 1 < net->n_layers; i++) {
        layer *L = &net->layers[i], *P = &net->layers[i + 1];
        if (L->spec.type == ES_LAYER_CONV2D && L->t_b >= 0 && P->spec.type == ES_LAYER_MAXPOOL2D) {
            L->defer_bias = 1;
            P->add_bias = L->t_b;
        }
    }
    net->n_out = s.c;
    return 0;
}

/* Size table for the values and gradient blocks. */
static void carve_values(es_net *net) {
    size_t off = 0;
    for (int pass = 0; pass < 2; pass++) { /* parameters first, so grads mirror them */
        for (int i = 0; i < net->n_tensors; i++) {
            es_tensor *t = &net->tensors[i];
            if (t->kind == ES_TENSOR_COUNTER) continue;
            if ((pass == 0) != (t->kind == ES_TENSOR_PARAM)) continue;
            t->data = (float *)(uintptr_t)off; /* an offset until the block exists */
            off += align_up(t->numel);
            if (pass == 0) net->n_grads = off, net->n_params += t->numel;
        }
    }
    net->n_values = off;
}

/* Size table for the work block: returns the floats needed, and when base is
 * non-NULL points every buffer into it. */
static size_t carve_work(es_net *net, float *base) {
    size_t off = 0, B = (size_t)net->max_batch, col = 0;
    int train = (net->flags & ES_NET_TRAIN) != 0;
    /* While only views (flatten, dropout at inference) separate a layer from
     * the network's input, an in-place ReLU would write the caller's data. */
    int views_input = 1;
#define TAKE(ptr, type, n)                                            \
    do {                                                              \
        if (base) (ptr) = (type *)(void *)(base + off);               \
        off += align_up(n);                                           \
    } while (0)
    for (int i = 0; i < net->n_layers; i++) {
        layer *L = &net->layers[i];
        size_t nin = numel(L->in) * B, nout = numel(L->out) * B;
        L->act = NULL;
        switch (L->spec.type) {
        case ES_LAYER_FLATTEN:
            break; /* a view of its input */
        case ES_LAYER_RELU:
            if (views_input) TAKE(L->act, float, nout);
            views_input = 0;
            break; /* otherwise in place: backward needs only its output */
        case ES_LAYER_DROPOUT:
            TAKE(L->act, float, nout);
            if (train) TAKE(L->mask, float, nout);
            break;
        case ES_LAYER_MAXPOOL2D:
            TAKE(L->act, float, nout);
            if (train) TAKE(L->argmax, int32_t, nout);
            break;
        case ES_LAYER_BATCHNORM2D:
            TAKE(L->act, float, nout);
            TAKE(L->bn_mean, float, (size_t)L->in.c);
            TAKE(L->bn_rstd, float, (size_t)L->in.c);
            break;
        case ES_LAYER_CONV2D: {
            size_t c = es__conv2d_scratch(&L->g);
            if (c > col) col = c;
            TAKE(L->act, float, nout);
            L->fold_w = L->fold_b = NULL;
            if (i + 1 < net->n_layers && L[1].spec.type == ES_LAYER_BATCHNORM2D) {
                TAKE(L->fold_w, float,
                     (size_t)L->spec.out * L->spec.in * L->spec.kh * L->spec.kw);
                TAKE(L->fold_b, float, (size_t)L->spec.out);
            }
            break;
        }
        default:
            TAKE(L->act, float, nout);
            break;
        }
        if (L->spec.type != ES_LAYER_FLATTEN && L->spec.type != ES_LAYER_DROPOUT &&
            L->spec.type != ES_LAYER_RELU)
            views_input = 0;
        L->dinp = NULL;
        if (train && i > 0 && L->spec.type != ES_LAYER_FLATTEN) TAKE(L->dinp, float, nin);
    }
    TAKE(net->col, float, col);
    TAKE(net->probs, float, B * (size_t)net->n_out);
    TAKE(net->dlogits, float, B * (size_t)net->n_out);
#undef TAKE
    return off;
}

void es_net_free(es_net *net) {
    if (!net) return;
    es__workers_free(net->workers);
    es__free(net->tcol);
    es__free(net->tacc);
    es__free(net->layers);
    es__free(net->tensors);
    es__free(net->counters);
    es__free(net->values);
    es__free(net->grads);
    es__free(net->work);
    es__free(net);
}

int es_net_create(es_net **out, const es_layer_spec *layers, int n_layers, es_shape in,
                  int max_batch, unsigned flags) {
    es_net *net;
    int rc, n_counters = 0;
    size_t work;

    if (!out || !layers || n_layers < 1 || max_batch < 0 || in.c < 1 || in.h < 1 || in.w < 1)
        return es__fail(ES_EINVAL, "es_net_create: bad arguments");
    *out = NULL;
    net = es__calloc(1, sizeof *net);
    if (!net) return es__fail(ES_ENOMEM, "out of memory creating a network");
    net->n_layers = n_layers;
    net->in = in;
    net->max_batch = max_batch;
    net->flags = flags;
    net->rng = 0x853c49e6748fea9bull;
    net->layers = es__calloc((size_t)n_layers, sizeof *net->layers);
    net->tensors = es__calloc((size_t)n_layers * 5, sizeof *net->tensors);
    if (!net->layers || !net->tensors) goto oom;
    for (int i = 0; i < n_layers; i++) net->layers[i].spec = layers[i];
    /* max(relu(x)) = relu(max(x)), gradient included (ties and all-negative
     * windows route the same way): pooling first runs the ReLU on a quarter
     * of the values. */
    for (int i = 0; i + 1 < n_layers; i++) {
        if (layers[i].type == ES_LAYER_RELU && layers[i + 1].type == ES_LAYER_MAXPOOL2D) {
            net->layers[i].spec = layers[i + 1];
            net->layers[i + 1].spec = layers[i];
            i++;
        }
    }
    if ((rc = plan_layers(net)) < 0) goto fail;
    carve_values(net);
    net->values = es__calloc(net->n_values ? net->n_values : 1, sizeof *net->values);
    if (!net->values) goto oom;
    if (flags & ES_NET_TRAIN) {
        net->grads = es__calloc(net->n_grads ? net->n_grads : 1, sizeof *net->grads);
        if (!net->grads) goto oom;
    }
    for (int i = 0; i < net->n_tensors; i++)
        if (net->tensors[i].kind == ES_TENSOR_COUNTER) n_counters++;
    net->counters = es__calloc((size_t)(n_counters ? n_counters : 1), sizeof *net->counters);
    if (!net->counters) goto oom;
    n_counters = 0;
    for (int i = 0; i < net->n_tensors; i++) {
        es_tensor *t = &net->tensors[i];
        if (t->kind == ES_TENSOR_COUNTER) {
            t->counter = &net->counters[n_counters++];
            continue;
        }
        {
            size_t off = (size_t)(uintptr_t)t->data;
            t->data = net->values + off;
            t->grad = (t->kind == ES_TENSOR_PARAM && net->grads) ? net->grads + off : NULL;
        }
    }
    if (max_batch > 0) {
        work = carve_work(net, NULL);
        net->work = es__malloc_array(work ? work : 1, sizeof *net->work);
        if (!net->work) goto oom;
        carve_work(net, net->work);
    }
    /* batch norm starts as the identity: running var 1, weight 1 */
    es_net_init_params(net, 0);
    *out = net;
    return 0;
oom:
    rc = es__fail(ES_ENOMEM, "out of memory creating a %d-layer network for batch %d", n_layers,
                  max_batch);
fail:
    es_net_free(net);
    return rc;
}

int es_net_num_layers(const es_net *net) { return net->n_layers; }
const es_layer_spec *es_net_layer(const es_net *net, int i) {
    return (i >= 0 && i < net->n_layers) ? &net->layers[i].spec : NULL;
}
es_shape es_net_input_shape(const es_net *net) { return net->in; }
es_shape es_net_layer_output_shape(const es_net *net, int i) { return net->layers[i].out; }
int es_net_num_outputs(const es_net *net) { return net->n_out; }
int es_net_max_batch(const es_net *net) { return net->max_batch; }
size_t es_net_num_params(const es_net *net) { return net->n_params; }
int es_net_num_tensors(const es_net *net) { return net->n_tensors; }
const es_tensor *es_net_tensor_at(const es_net *net, int i) {
    return (i >= 0 && i < net->n_tensors) ? &net->tensors[i] : NULL;
}
const es_tensor *es_net_tensor(const es_net *net, const char *name) {
    for (int i = 0; i < net->n_tensors; i++)
        if (strcmp(net->tensors[i].name, name) == 0) return &net->tensors[i];
    return NULL;
}
const float *es_net_output(const es_net *net) { return net->out; }
void es_net_seed(es_net *net, uint64_t seed) { net->rng = seed * 2 + 0x9E3779B97F4A7C15ull; }
uint64_t es_net_rng_state(const es_net *net) { return net->rng; }
void es_net_set_rng_state(es_net *net, uint64_t state) { net->rng = state; }
int es_net_first_trainable(const es_net *net) { return net->first_trainable; }

int es_net_head_start(const es_net *net) {
    int i = net->n_layers, first_linear = net->n_layers;
    while (i > 0) {
        es_layer_type t = net->layers[i - 1].spec.type;
        if (t != ES_LAYER_LINEAR && t != ES_LAYER_RELU && t != ES_LAYER_DROPOUT &&
            t != ES_LAYER_FLATTEN)
            break;
        i--;
        if (t == ES_LAYER_LINEAR) first_linear = i;
    }
    return first_linear;
}

int es_net_top_start(const es_net *net) {
    for (int i = net->n_layers - 1; i >= 0; i--)
        if (net->layers[i].spec.type == ES_LAYER_CONV2D) return i;
    return es_net_head_start(net);
}

int es_net_freeze_before(es_net *net, int first) {
    if (first < 0 || first >= net->n_layers)
        return es__fail(ES_EINVAL, "cannot freeze before layer %d of %d", first, net->n_layers);
    net->first_trainable = first;
    return 0;
}

static int same_arch(const es_net *dst, const es_net *src) {
    if (dst->n_tensors != src->n_tensors || dst->n_values != src->n_values)
        return es__fail(ES_EINVAL, "networks have different architectures");
    for (int i = 0; i < src->n_tensors; i++)
        if (strcmp(dst->tensors[i].name, src->tensors[i].name) != 0 ||
            dst->tensors[i].numel != src->tensors[i].numel)
            return es__fail(ES_EINVAL, "networks differ at tensor '%s'", src->tensors[i].name);
    return 0;
}

static void copy_counters(es_net *dst, const es_net *src) {
    for (int i = 0; i < src->n_tensors; i++)
        if (src->tensors[i].kind == ES_TENSOR_COUNTER)
            *dst->tensors[i].counter = *src->tensors[i].counter;
}

int es_net_copy_weights(es_net *dst, const es_net *src) {
    int rc = same_arch(dst, src);
    if (rc < 0) return rc;
    memcpy(dst->values, src->values, src->n_values * sizeof *dst->values);
    copy_counters(dst, src);
    return 0;
}

int es_net_average_weights(es_net *avg, const es_net *src, int n) {
    float f = 1.0f / (float)(n + 1);
    int rc;
    if (n < 0) return es__fail(ES_EINVAL, "a running mean of %d networks", n);
    if (n == 0) return es_net_copy_weights(avg, src); /* exactly src: a + (b - a) may round */
    if ((rc = same_arch(avg, src)) < 0) return rc;
    for (size_t i = 0; i < src->n_values; i++)
        avg->values[i] += (src->values[i] - avg->values[i]) * f;
    copy_counters(avg, src);
    return 0;
}

/* splitmix64 → uniform in [-bound, bound) */
static float uniform(uint64_t *s, float bound) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)(((double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0) * bound);
}

void es_net_init_params(es_net *net, uint64_t seed) {
    uint64_t s = seed;
    for (int i = 0; i < net->n_layers; i++) {
        layer *L = &net->layers[i];
        const es_layer_spec *sp = &L->spec;
        if (sp->type == ES_LAYER_CONV2D || sp->type == ES_LAYER_LINEAR) {
            /* kaiming_uniform_(a=√5): bound = gain·√(3/fan_in) = 1/√fan_in */
            int fan_in = sp->type == ES_LAYER_CONV2D ? sp->in * sp->kh * sp->kw : sp->in;
            float bound = 1.0f / sqrtf((float)fan_in);
            es_tensor *w = &net->tensors[L->t_w];
            for (size_t k = 0; k < w->numel; k++) w->data[k] = uniform(&s, bound);
            if (L->t_b >= 0) {
                es_tensor *b = &net->tensors[L->t_b];
                for (size_t k = 0; k < b->numel; k++) b->data[k] = uniform(&s, bound);
            }
        } else if (sp->type == ES_LAYER_BATCHNORM2D) {
            for (int c = 0; c < L->in.c; c++) {
                net->tensors[L->t_w].data[c] = 1.0f;
                net->tensors[L->t_b].data[c] = 0.0f;
                net->tensors[L->t_rm].data[c] = 0.0f;
                net->tensors[L->t_rv].data[c] = 1.0f;
            }
            if (L->t_nbt >= 0) *net->tensors[L->t_nbt].counter = 0;
        }
    }
}

static float *tdata(es_net *net, int t) { return t >= 0 ? net->tensors[t].data : NULL; }
static float *tgrad(es_net *net, int t) { return t >= 0 ? net->tensors[t].grad : NULL; }

/* Index of the first NaN or infinity in x[n], or n. Checked once here so the
 * layers can assume finite values (max pooling compares without NaN tests). */
static size_t first_non_finite(const float *x, size_t n) {
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    if (!bad) return n;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return n;
}

/* ---- data-parallel execution ------------------------------------------------
 * With worker threads and a batch, the heavy layers split their work: convs
 * and pools by sample, batch norm by channel, ReLU by chunk. Each item calls
 * the same kernel as the serial path on its slice, so results are identical
 * except for the order in which per-sample weight gradients are summed. */

typedef struct {
    es_net *net;
    layer *L;
    const float *x, *dy;
    float *y, *dx;
    int B, train;
    const float *w, *bias; /* conv forward: the weights it runs with */
} par_ctx;

static const float *conv_bias(es_net *net, const layer *L) {
    return L->defer_bias ? NULL : tdata(net, L->t_b);
}

static void par_conv_forward(void *p, int b, int t) {
    par_ctx *c = p;
    layer *L = c->L;
    es__conv2d_forward(c->y + (size_t)b * numel(L->out), c->x + (size_t)b * numel(L->in), c->w,
                       c->bias, c->net->tcol + (size_t)t * c->net->col_per_thread, &L->g, 1,
                       L->spec.out);
}

static void par_conv_backward(void *p, int b, int t) {
    par_ctx *c = p;
    layer *L = c->L;
    es_net *net = c->net;
    size_t nw = net->tensors[L->t_w].numel;
    float *acc = net->tacc + (size_t)t * net->acc_per_thread;
    es__conv2d_backward(c->dx ? c->dx + (size_t)b * numel(L->in) : NULL, acc,
                        L->t_b >= 0 ? acc + nw : NULL, c->dy + (size_t)b * numel(L->out),
                        c->x + (size_t)b * numel(L->in), tdata(net, L->t_w),
                        net->tcol + (size_t)t * net->col_per_thread, &L->g, 1, L->spec.out);
}

/* Where a max-pool records its winners, or NULL for a frozen layer: no
 * backward pass reaches it, and the record's branches are most of the
 * pool's time (two of the digits model's three pools when "top" learns). */
static int32_t *pool_argmax(const es_net *net, const layer *L) {
    return L - net->layers >= net->first_trainable ? L->argmax : NULL;
}

static void par_pool_forward(void *p, int b, int t) {
    par_ctx *c = p;
    layer *L = c->L;
    size_t o = (size_t)b * numel(L->out), i = (size_t)b * numel(L->in);
    (void)t;
    if (L->spec.type == ES_LAYER_MAXPOOL2D) {
        int32_t *am = pool_argmax(c->net, L);
        es__maxpool2d_forward(c->y + o, am ? am + o : NULL, c->x + i, &L->g, 1);
        if (L->add_bias >= 0)
            es__add_channel_bias(c->y + o, tdata(c->net, L->add_bias), 1, L->out.c,
                                 L->out.h * L->out.w);
    } else {
        es__avgpool2d_forward(c->y + o, c->x + i, &L->g, 1);
    }
}

static void par_pool_backward(void *p, int b, int t) {
    par_ctx *c = p;
    layer *L = c->L;
    size_t o = (size_t)b * numel(L->out), i = (size_t)b * numel(L->in);
    (void)t;
    if (L->spec.type == ES_LAYER_MAXPOOL2D)
        es__maxpool2d_backward(c->dx + i, c->dy + o, L->argmax + o, &L->g, 1);
    else
        es__avgpool2d_backward(c->dx + i, c->dy + o, &L->g, 1);
}

static void par_bn_forward(void *p, int ch, int t) {
    par_ctx *c = p;
    layer *L = c->L;
    es_net *net = c->net;
    (void)t;
    es__batchnorm2d_forward(c->y, L->bn_mean, L->bn_rstd, c->x, tdata(net, L->t_w),
                            tdata(net, L->t_b), tdata(net, L->t_rm), tdata(net, L->t_rv), c->train,
                            (float)L->spec.momentum, (float)L->spec.eps, c->B, L->in.c,
                            L->in.h * L->in.w, ch, ch + 1);
}

static void par_bn_backward(void *p, int ch, int t) {
    par_ctx *c = p;
    layer *L = c->L;
    es_net *net = c->net;
    (void)t;
    es__batchnorm2d_backward(c->dx, tgrad(net, L->t_w), tgrad(net, L->t_b), c->dy, c->x,
                             tdata(net, L->t_w), L->bn_mean, L->bn_rstd, c->train, c->B, L->in.c,
                             L->in.h * L->in.w, ch, ch + 1);
}

static int parallel(const es_net *net, int B) { return net->workers && net->n_threads > 1 && B > 1; }

int es_net_set_threads(es_net *net, int n) {
    size_t col = 0, acc = 0;
    if (n < 1) n = 1;
    es__workers_free(net->workers);
    es__free(net->tcol);
    es__free(net->tacc);
    net->workers = NULL;
    net->tcol = net->tacc = NULL;
    net->n_threads = 1;
    if (n == 1) return 0;
    for (int i = 0; i < net->n_layers; i++) {
        const layer *L = &net->layers[i];
        if (L->spec.type != ES_LAYER_CONV2D) continue;
        if (es__conv2d_scratch(&L->g) > col) col = es__conv2d_scratch(&L->g);
        if (net->tensors[L->t_w].numel + (size_t)L->spec.out > acc)
            acc = net->tensors[L->t_w].numel + (size_t)L->spec.out;
    }
    net->col_per_thread = align_up(col);
    net->acc_per_thread = align_up(acc);
    net->tcol = es__malloc_array((size_t)n * net->col_per_thread + 1, sizeof *net->tcol);
    net->tacc = es__malloc_array((size_t)n * net->acc_per_thread + 1, sizeof *net->tacc);
    if (!net->tcol || !net->tacc || es__workers_create(&net->workers, n) < 0) {
        es__free(net->tcol);
        es__free(net->tacc);
        net->tcol = net->tacc = NULL;
        return es__fail(ES_ENOMEM, "out of memory for %d training threads", n);
    }
    net->n_threads = es__workers_count(net->workers);
    return 0;
}

/* A conv whose batch norm runs on its running statistics (at inference, or
 * frozen) is one affine map per channel after it: scaled into the conv's
 * weights and bias, it spares the batch norm's pass over the activations
 * (7% of a fine-tuning step with the top block learning, perf). Folded
 * afresh from the parameters by every forward: a few thousand products. */
static void fold_batchnorm(es_net *net, layer *L, const layer *N) {
    const float *w = tdata(net, L->t_w), *b = tdata(net, L->t_b), *g = tdata(net, N->t_w),
                *beta = tdata(net, N->t_b), *rm = tdata(net, N->t_rm), *rv = tdata(net, N->t_rv);
    size_t k = (size_t)L->spec.in * L->spec.kh * L->spec.kw;
    for (int o = 0; o < L->spec.out; o++) {
        /* the scale and shift es__batchnorm2d_forward applies (eps here
         * in double, there rounded to float first) */
        float r = (float)(1.0 / sqrt((double)rv[o] + N->spec.eps)), a = g[o] * r;
        for (size_t j = 0; j < k; j++) L->fold_w[(size_t)o * k + j] = w[(size_t)o * k + j] * a;
        L->fold_b[o] = beta[o] + ((b ? b[o] : 0.0f) - rm[o]) * a;
    }
}

static void conv_forward(es_net *net, layer *L, const float *x, float *y, int B,
                         const float *w, const float *bias) {
    par_ctx pc = {net, L, x, NULL, y, NULL, B, 0, w, bias};
    if (parallel(net, B))
        es__workers_run(net->workers, B, par_conv_forward, &pc);
    else
        es__conv2d_forward(y, x, w, bias, net->col, &L->g, B, L->spec.out);
}

static void forward_layer(es_net *net, layer *L, const float *x, float *y, int B, int train) {
    const es_layer_spec *sp = &L->spec;
    par_ctx pc = {net, L, x, NULL, y, NULL, B, train, NULL, NULL};
    int par = parallel(net, B);
    switch (sp->type) {
    case ES_LAYER_CONV2D:
        conv_forward(net, L, x, y, B, tdata(net, L->t_w), conv_bias(net, L));
        break;
    case ES_LAYER_RELU:
        es__relu_forward(y, x, numel(L->out) * (size_t)B);
        break;
    case ES_LAYER_MAXPOOL2D:
    case ES_LAYER_AVGPOOL2D:
        if (par) {
            es__workers_run(net->workers, B, par_pool_forward, &pc);
        } else if (sp->type == ES_LAYER_MAXPOOL2D) {
            es__maxpool2d_forward(y, pool_argmax(net, L), x, &L->g, B);
            if (L->add_bias >= 0)
                es__add_channel_bias(y, tdata(net, L->add_bias), B, L->out.c,
                                     L->out.h * L->out.w);
        } else {
            es__avgpool2d_forward(y, x, &L->g, B);
        }
        break;
    case ES_LAYER_GLOBAL_AVGPOOL:
        es__global_avgpool_forward(y, x, B, L->in.c, L->in.h * L->in.w);
        break;
    case ES_LAYER_BATCHNORM2D:
        if (par)
            es__workers_run(net->workers, L->in.c, par_bn_forward, &pc);
        else
            es__batchnorm2d_forward(y, L->bn_mean, L->bn_rstd, x, tdata(net, L->t_w),
                                    tdata(net, L->t_b), tdata(net, L->t_rm), tdata(net, L->t_rv),
                                    train, (float)sp->momentum, (float)sp->eps, B, L->in.c,
                                    L->in.h * L->in.w, 0, L->in.c);
        if (train && L->t_nbt >= 0) (*net->tensors[L->t_nbt].counter)++;
        break;
    case ES_LAYER_DROPOUT:
        es__dropout_forward(y, L->mask, x, (float)sp->p, numel(L->out) * (size_t)B, &net->rng);
        break;
    case ES_LAYER_LINEAR:
        es__linear_forward(y, x, tdata(net, L->t_w), tdata(net, L->t_b), B, sp->in, sp->out);
        break;
    case ES_LAYER_FLATTEN:
        break;
    }
}

int es_net_forward_layers(es_net *net, const float *x, int B, es_mode mode, int from, int to) {
    int train = mode == ES_MODE_TRAIN;
    size_t n_in, bad;
    if (from < 0 || to > net->n_layers || from >= to)
        return es__fail(ES_EINVAL, "layers %d..%d are not a range of the network's %d", from,
                        to - 1, net->n_layers);
    if (B < 1 || B > net->max_batch)
        return es__fail(ES_EINVAL, "batch %d is outside 1..%d", B, net->max_batch);
    if (!net->layers[from].act && net->layers[from].spec.type == ES_LAYER_RELU)
        return es__fail(ES_EINVAL, "layer %d works in place: it cannot start a forward", from);
    if (train && !(net->flags & ES_NET_TRAIN))
        return es__fail(ES_ESTATE, "network was built for inference only");
    if (train && from > net->first_trainable)
        return es__fail(ES_EINVAL, "layer %d learns: a training forward cannot start after it "
                        "(at %d)", net->first_trainable, from);
    n_in = (size_t)B * numel(net->layers[from].in);
    if ((bad = first_non_finite(x, n_in)) < n_in)
        return es__fail(ES_EINVAL, "network input holds a non-finite value at index %zu", bad);
    for (int i = from; i < to; i++) {
        layer *L = &net->layers[i];
        float *y = L->act;
        /* frozen layers run as at inference (running batch-norm statistics,
         * no dropout), as PyTorch's frozen modules in eval() do: what they
         * compute is fixed, so what the trained layers learn from stays so */
        int ltrain = train && i >= net->first_trainable;
        L->x = x;
        if (L->fold_w && i + 1 < to && !(train && i + 1 >= net->first_trainable)) {
            layer *N = L + 1; /* the batch norm, run by the conv */
            fold_batchnorm(net, L, N);
            conv_forward(net, L, x, N->act, B, L->fold_w, L->fold_b);
            L->y = N->x = NULL; /* the conv's own output is never made */
            N->y = N->act;
            x = N->act;
            i++;
            continue;
        }
        if (L->spec.type == ES_LAYER_FLATTEN ||
            (L->spec.type == ES_LAYER_DROPOUT && !(ltrain && L->spec.p > 0.0))) {
            y = (float *)x; /* a view, or the identity at inference */
        } else {
            if (L->spec.type == ES_LAYER_RELU && !y) y = (float *)x; /* in place */
            forward_layer(net, L, x, y, B, ltrain);
        }
        L->y = y;
        x = y;
    }
    net->out = to == net->n_layers ? x : NULL;
    net->B = B;
    net->mode = mode;
    return 0;
}

int es_net_forward(es_net *net, const float *x, int B, es_mode mode) {
    return es_net_forward_layers(net, x, B, mode, 0, net->n_layers);
}

const float *es_net_activation(const es_net *net, int i) {
    return i >= 0 && i < net->n_layers ? net->layers[i].y : NULL;
}

static void backward_conv(es_net *net, layer *L, const float *dy, float *dx, int B) {
    par_ctx pc = {net, L, L->x, dy, NULL, dx, B, 0, NULL, NULL};
    float *gw = tgrad(net, L->t_w), *gb = tgrad(net, L->t_b);
    size_t nw = net->tensors[L->t_w].numel, nacc = nw + (gb ? (size_t)L->spec.out : 0);
    if (!parallel(net, B)) {
        es__conv2d_backward(dx, gw, gb, dy, L->x, tdata(net, L->t_w), net->col, &L->g, B,
                            L->spec.out);
        return;
    }
    for (int t = 0; t < net->n_threads; t++)
        memset(net->tacc + (size_t)t * net->acc_per_thread, 0, nacc * sizeof *net->tacc);
    es__workers_run(net->workers, B, par_conv_backward, &pc);
    for (int t = 0; t < net->n_threads; t++) {
        const float *acc = net->tacc + (size_t)t * net->acc_per_thread;
        for (size_t k = 0; k < nw; k++) gw[k] += acc[k];
        for (size_t k = 0; gb && k < (size_t)L->spec.out; k++) gb[k] += acc[nw + k];
    }
}

int es_net_backward(es_net *net, const int *labels, const float *class_weights, float *loss) {
    int B = net->B, K = net->n_out, train = net->mode == ES_MODE_TRAIN;
    const float *dy;
    float l;
    if (!(net->flags & ES_NET_TRAIN))
        return es__fail(ES_ESTATE, "network was built for inference only");
    if (!net->out) return es__fail(ES_ESTATE, "backward needs a forward first");
    for (int b = 0; b < B; b++)
        if (labels[b] < 0 || labels[b] >= K)
            return es__fail(ES_EINVAL, "label %d of sample %d is outside 0..%d", labels[b], b,
                            K - 1);
    l = es__xent_forward(net->probs, net->out, labels, class_weights, B, K);
    if (loss) *loss = l;
    es__xent_backward(net->dlogits, net->probs, labels, class_weights, B, K);
    dy = net->dlogits;
    for (int i = net->n_layers - 1; i >= net->first_trainable; i--) {
        layer *L = &net->layers[i];
        const es_layer_spec *sp = &L->spec;
        float *dx = i > net->first_trainable ? L->dinp : NULL;
        size_t nin = numel(L->in) * (size_t)B;
        par_ctx pc = {net, L, L->x, dy, NULL, dx, B, train, NULL, NULL};
        switch (sp->type) {
        case ES_LAYER_CONV2D:
            backward_conv(net, L, dy, dx, B);
            break;
        case ES_LAYER_RELU:
            if (dx) es__relu_backward(dx, dy, L->y, nin);
            break;
        case ES_LAYER_MAXPOOL2D:
        case ES_LAYER_AVGPOOL2D:
            if (!dx) break;
            if (parallel(net, B))
                es__workers_run(net->workers, B, par_pool_backward, &pc);
            else if (sp->type == ES_LAYER_MAXPOOL2D)
                es__maxpool2d_backward(dx, dy, L->argmax, &L->g, B);
            else
                es__avgpool2d_backward(dx, dy, &L->g, B);
            break;
        case ES_LAYER_GLOBAL_AVGPOOL:
            if (dx) es__global_avgpool_backward(dx, dy, B, L->in.c, L->in.h * L->in.w);
            break;
        case ES_LAYER_BATCHNORM2D:
            if (parallel(net, B))
                es__workers_run(net->workers, L->in.c, par_bn_backward, &pc);
            else
                es__batchnorm2d_backward(dx, tgrad(net, L->t_w), tgrad(net, L->t_b), dy, L->x,
                                         tdata(net, L->t_w), L->bn_mean, L->bn_rstd, train, B,
                                         L->in.c, L->in.h * L->in.w, 0, L->in.c);
            break;
        case ES_LAYER_DROPOUT:
            if (dx) {
                if (train && sp->p > 0.0)
                    es__dropout_backward(dx, dy, L->mask, nin);
                else
                    memcpy(dx, dy, nin * sizeof *dx);
            }
            break;
        case ES_LAYER_FLATTEN:
            dx = (float *)dy; /* a view: the gradient passes through */
            break;
        case ES_LAYER_LINEAR:
            es__linear_backward(dx, tgrad(net, L->t_w), tgrad(net, L->t_b), dy, L->x,
                                tdata(net, L->t_w), B, sp->in, sp->out);
            break;
        }
        dy = dx;
    }
    return 0;
}

float es_softmax_xent(const float *logits, const int *labels, const float *class_weights, int B,
                      int K) {
    float probs_small[64], *probs = probs_small;
    float l;
    if ((size_t)B * K > 64) probs = es__malloc_array((size_t)B * K, sizeof *probs);
    if (!probs) return NAN;
    l = es__xent_forward(probs, logits, labels, class_weights, B, K);
    if (probs != probs_small) es__free(probs);
    return l;
}

void es_net_zero_grad(es_net *net) {
    if (net->grads) memset(net->grads, 0, net->n_grads * sizeof *net->grads);
}

int es_net_clip_grad_norm(es_net *net, float max_norm, float *norm_out) {
    double ss = 0.0;
    float norm, scale;
    if (!net->grads) return es__fail(ES_ESTATE, "network has no gradients");
    for (int i = 0; i < net->n_tensors; i++) {
        const es_tensor *t = &net->tensors[i];
        if (t->kind != ES_TENSOR_PARAM || t->layer < net->first_trainable) continue;
        for (size_t k = 0; k < t->numel; k++) ss += (double)t->grad[k] * t->grad[k];
    }
    norm = (float)sqrt(ss);
    if (norm_out) *norm_out = norm;
    /* PyTorch: clip_coef = max_norm / (norm + 1e-6), applied when below 1 */
    scale = max_norm / (norm + 1e-6f);
    if (scale < 1.0f) {
        for (int i = 0; i < net->n_tensors; i++) {
            const es_tensor *t = &net->tensors[i];
            if (t->kind != ES_TENSOR_PARAM || t->layer < net->first_trainable) continue;
            for (size_t k = 0; k < t->numel; k++) t->grad[k] *= scale;
        }
    }
    return 0;
}

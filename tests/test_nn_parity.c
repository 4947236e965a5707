/* PyTorch parity, from fixtures tests/gen_nn_fixtures.py made with torch:
 * logits of three networks (the cat/dog seed, a mel CNN with batch norm and
 * global pooling, and a network of the remaining layer options), one Adam
 * step, SGD with momentum, AdamW, gradient clipping, class-weighted loss,
 * and whole-clip posteriors through features and windowing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "earshot/audio.h"
#include "earshot/classify.h"
#include "earshot/model.h"
#include "earshot/npy.h"
#include "fileio.h"
#include "safetensors.h"

#define NN_DIR ES_FIXTURES_DIR "/nn"
/* The tolerance for logits and weights after an optimizer step. */
#define TOL 1e-4

static float *load_npy(const char *name, size_t *n) {
    char path[512];
    size_t shape[8];
    int nd;
    float *d = NULL;
    snprintf(path, sizeof path, "%s/%s", NN_DIR, name);
    CHECK_RC(es_npy_read_f32(path, &d, shape, 8, &nd), 0);
    *n = 1;
    for (int i = 0; d && i < nd; i++) *n *= shape[i];
    return d;
}

static es_model *load_model(const char *name) {
    char path[512];
    es_model *m = NULL;
    snprintf(path, sizeof path, "%s/%s.safetensors", NN_DIR, name);
    CHECK_RC(es_model_load(&m, path), 0);
    return m;
}

/* Compares every tensor of a fixture file with the network's.
 *
 * adam_lr > 0 marks a first Adam step from the weights in `before`. That step
 * is Δ = -lr·d/(|d| + eps) per element, d the (clipped, decayed) gradient:
 * where |d| is within a few eps of zero the direction is set by rounding, and
 * no float32 implementation can follow a float64 reference there — PyTorch's
 * own float32 step misses it by 5.4e-4 on the mel fixture, where a conv
 * weight ahead of batch norm has |d| = 2e-9. Such elements are recognisable
 * in the reference itself (0 < |Δ| < 0.99·lr, i.e. 0 < |d| < 99·eps; an exact
 * zero, a dead unit, is well determined and checked); for them only
 * the bound |Δ| ≤ lr is checked, they must stay rare, and their count is
 * printed. Every other element is held to TOL. */
static void compare_weights_adam(const es_net *net, const char *file, const char *what,
                                 const es_net *before, float adam_lr) {
    char path[512], *buf = NULL;
    size_t len;
    es__st_file st;
    double worst = 0.0;
    const char *worst_name = "";
    size_t n_checked = 0, n_ill = 0, n_bad_bound = 0;
    snprintf(path, sizeof path, "%s/%s", NN_DIR, file);
    CHECK_RC(es__read_file(path, (size_t)1 << 30, &buf, &len), 0);
    if (!buf) return;
    CHECK_RC(es__st_parse(&st, buf, len, path), 0);
    for (int i = 0; i < es_net_num_tensors(net); i++) {
        const es_tensor *t = es_net_tensor_at(net, i);
        const es__st_tensor *f = es__st_find(&st, t->name);
        if (!f) {
            fprintf(stderr, "%s: tensor %s missing from %s\n", what, t->name, file);
            check_failures++;
            continue;
        }
        if (t->kind == ES_TENSOR_COUNTER) {
            int64_t c;
            memcpy(&c, f->data, sizeof c);
            CHECK_EQ_INT(*t->counter, c);
            continue;
        }
        CHECK_EQ_INT(f->numel, t->numel);
        for (size_t k = 0; k < t->numel && f->numel == t->numel; k++) {
            float ref;
            double d;
            memcpy(&ref, f->data + 4 * k, 4);
            d = fabs((double)t->data[k] - ref);
            if (adam_lr > 0.0f && t->kind == ES_TENSOR_PARAM) {
                float w0 = es_net_tensor(before, t->name)->data[k];
                n_checked++;
                if (ref != w0 && fabs((double)ref - w0) < 0.99 * adam_lr) {
                    n_ill++;
                    /* only the bound is determined */
                    if (fabs((double)t->data[k] - w0) > adam_lr * 1.0001 + 1e-7) n_bad_bound++;
                    continue;
                }
            }
            if (d > worst) worst = d, worst_name = t->name;
        }
    }
    fprintf(stderr, "%-28s worst |earshot - torch| = %.2e (%s)", what, worst, worst_name);
    if (adam_lr > 0.0f)
        fprintf(stderr, "; %zu of %zu parameters had |d| < 99 eps (bound checked only)", n_ill,
                n_checked);
    fputc('\n', stderr);
    CHECK(worst <= TOL);
    CHECK_EQ_INT(n_bad_bound, 0);
    CHECK(n_ill * 100 <= n_checked); /* at most 1% may be that ill-conditioned */
    es__st_free(&st);
    es_free(buf);
}

static void compare_weights(const es_net *net, const char *file, const char *what) {
    compare_weights_adam(net, file, what, NULL, 0.0f);
}

static void compare_logits(const float *got, const float *ref, size_t n, const char *what) {
    double worst = 0.0, scale = 1.0;
    for (size_t i = 0; i < n; i++)
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    for (size_t i = 0; i < n; i++)
        if (fabs((double)got[i] - ref[i]) > worst) worst = fabs((double)got[i] - ref[i]);
    fprintf(stderr, "%-28s worst |earshot - torch| = %.2e (max |logit| %.3g)\n", what, worst,
            scale);
    CHECK(worst <= TOL * scale);
}

/* A training network like the model's, dropout disabled (the fixtures turn
 * it off so a step is deterministic). */
static es_net *train_net(const es_model *m, int B, int no_dropout) {
    const es_net *w = es_model_weights(m);
    int n = es_net_num_layers(w);
    es_layer_spec *L = malloc((size_t)n * sizeof *L);
    es_net *net = NULL;
    for (int i = 0; i < n; i++) {
        L[i] = *es_net_layer(w, i);
        if (no_dropout && L[i].type == ES_LAYER_DROPOUT) L[i].p = 0.0;
    }
    CHECK_RC(es_net_create(&net, L, n, es_model_input_shape(m), B, ES_NET_TRAIN), 0);
    if (net) CHECK_RC(es_net_copy_weights(net, w), 0);
    free(L);
    return net;
}

static int *labels_of(const char *name, size_t *B) {
    float *f = load_npy(name, B);
    int *lab = calloc(*B ? *B : 1, sizeof *lab);
    for (size_t i = 0; f && i < *B; i++) lab[i] = (int)f[i];
    es_free(f);
    return lab;
}

static void check_logits(const char *name) {
    char file[64];
    size_t nx, nl;
    es_model *m = load_model(name);
    es_net *net = NULL;
    float *x, *ref;
    es_shape s;
    int B;
    if (!m) return;
    snprintf(file, sizeof file, "%s_input.npy", name);
    x = load_npy(file, &nx);
    snprintf(file, sizeof file, "%s_logits.npy", name);
    ref = load_npy(file, &nl);
    s = es_model_input_shape(m);
    B = (int)(nx / ((size_t)s.c * s.h * s.w));
    CHECK_EQ_INT((size_t)B * es_model_num_labels(m), nl);
    CHECK_RC(es_model_instantiate(m, B, 0, &net), 0);
    if (net && x && ref) {
        snprintf(file, sizeof file, "%s logits (batch %d)", name, B);
        CHECK_RC(es_net_forward(net, x, B, ES_MODE_INFER), 0);
        compare_logits(es_net_output(net), ref, nl, file);
        /* batch 1 gives the same logits as the batch */
        CHECK_RC(es_net_forward(net, x, 1, ES_MODE_INFER), 0);
        snprintf(file, sizeof file, "%s logits (batch 1)", name);
        compare_logits(es_net_output(net), ref, nl / (size_t)B, file);
    }
    es_free(x);
    es_free(ref);
    es_net_free(net);
    es_model_free(m);
}

/* One network's training fixture: model, batch, labels, reference losses. */
typedef struct {
    es_model *m;
    float *x, *loss_ref;
    int *lab;
    size_t B, n_loss;
    es_net *net;
    es_optimizer *opt;
} step_fixture;

static int step_fixture_load(step_fixture *f, const char *name, int no_dropout) {
    char file[64];
    size_t nx;
    memset(f, 0, sizeof *f);
    f->m = load_model(name);
    snprintf(file, sizeof file, "%s_input.npy", name);
    f->x = load_npy(file, &nx);
    snprintf(file, sizeof file, "%s_loss.npy", name);
    f->loss_ref = load_npy(file, &f->n_loss);
    snprintf(file, sizeof file, "%s_labels.npy", name);
    f->lab = labels_of(file, &f->B);
    if (f->m) f->net = train_net(f->m, (int)f->B, no_dropout);
    return f->m && f->x && f->loss_ref && f->net;
}

static void step_fixture_free(step_fixture *f) {
    es_optimizer_free(f->opt);
    es_net_free(f->net);
    es_model_free(f->m);
    es_free(f->x);
    es_free(f->loss_ref);
    free(f->lab);
}

/* zero_grad, forward, backward; the loss must match loss_ref[i]. */
static void forward_backward(step_fixture *f, es_mode mode, const float *cw, size_t i) {
    float loss;
    es_net_zero_grad(f->net);
    CHECK_RC(es_net_forward(f->net, f->x, (int)f->B, mode), 0);
    CHECK_RC(es_net_backward(f->net, f->lab, cw, &loss), 0);
    if (i < f->n_loss) CHECK_NEAR(loss, f->loss_ref[i], 1e-5 * fabs(f->loss_ref[i]) + 1e-6);
}

static void check_seed_adam(void) {
    step_fixture f;
    es_opt_config oc = es_opt_defaults(ES_OPT_ADAM);
    if (step_fixture_load(&f, "seed", 0)) {
        oc.lr = 1e-3f;
        CHECK_RC(es_optimizer_create(&f.opt, f.net, &oc), 0);
        /* eval mode in the fixture: dropout off, so the step is deterministic */
        forward_backward(&f, ES_MODE_INFER, NULL, 0);
        CHECK_RC(es_optimizer_step(f.opt), 0);
        compare_weights(f.net, "seed_adam.safetensors", "seed, one Adam step");
    }
    step_fixture_free(&f);
}

static void check_mel_adam(void) {
    step_fixture f;
    size_t ng;
    float *gn_ref = load_npy("mel_gradnorm.npy", &ng), norm;
    es_opt_config oc = es_opt_defaults(ES_OPT_ADAM);
    if (step_fixture_load(&f, "mel", 1) && gn_ref) {
        oc.lr = 1e-3f;
        oc.weight_decay = 1e-4f;
        CHECK_RC(es_optimizer_create(&f.opt, f.net, &oc), 0);
        forward_backward(&f, ES_MODE_TRAIN, NULL, 0);
        CHECK_RC(es_net_clip_grad_norm(f.net, 1.0f, &norm), 0);
        CHECK_NEAR(norm, gn_ref[0], 1e-4 * fabs(gn_ref[0]));
        CHECK_RC(es_optimizer_step(f.opt), 0);
        compare_weights_adam(f.net, "mel_adam.safetensors", "mel, clip + one Adam step",
                             es_model_weights(f.m), oc.lr);
    }
    es_free(gn_ref);
    step_fixture_free(&f);
}

static void check_mix_sgd_adamw(void) {
    step_fixture f;
    const float cw[3] = {1.0f, 2.0f, 0.5f};
    es_opt_config oc = es_opt_defaults(ES_OPT_SGD);
    if (step_fixture_load(&f, "mix", 1) && f.n_loss == 2) {
        oc.lr = 0.05f;
        oc.momentum = 0.9f;
        oc.weight_decay = 1e-3f;
        CHECK_RC(es_optimizer_create(&f.opt, f.net, &oc), 0);
        for (size_t step = 0; step < 2; step++) {
            forward_backward(&f, ES_MODE_TRAIN, cw, step);
            CHECK_RC(es_optimizer_step(f.opt), 0);
        }
        compare_weights(f.net, "mix_sgd.safetensors", "mix, two SGD momentum steps");
        es_optimizer_free(f.opt);
        f.opt = NULL;
        /* AdamW from the original weights; its loss is the first SGD loss */
        CHECK_RC(es_net_copy_weights(f.net, es_model_weights(f.m)), 0);
        oc = es_opt_defaults(ES_OPT_ADAMW);
        oc.lr = 1e-2f;
        oc.weight_decay = 0.1f;
        CHECK_RC(es_optimizer_create(&f.opt, f.net, &oc), 0);
        forward_backward(&f, ES_MODE_TRAIN, cw, 0);
        CHECK_RC(es_optimizer_step(f.opt), 0);
        compare_weights(f.net, "mix_adamw.safetensors", "mix, one AdamW step");
    }
    step_fixture_free(&f);
}

/* Whole clips: features, windows and averaging against torch's. */
static void check_posteriors(const char *model, const char *wav, const char *ref_name) {
    char path[512];
    es_model *m = load_model(model);
    es_classifier *c = NULL;
    es_audio a = {0};
    size_t nr;
    float *ref = load_npy(ref_name, &nr), post[ES_MAX_LABELS];
    double worst = 0.0;
    int windows = 0;
    snprintf(path, sizeof path, "%s", wav);
    CHECK_RC(es_audio_read(path, &a), 0);
    if (m && ref && a.samples) {
        CHECK_RC(es_classifier_create(&c, m), 0);
        CHECK_EQ_INT(nr, es_model_num_labels(m));
        CHECK_RC(es_classify(c, a.samples, a.n, post, &windows), 0);
        for (size_t k = 0; k < nr; k++)
            if (fabs((double)post[k] - ref[k]) > worst) worst = fabs((double)post[k] - ref[k]);
        fprintf(stderr, "%-28s worst |earshot - torch| posterior = %.2e over %d window(s)\n",
                ref_name, worst, windows);
        CHECK(worst <= 1e-3);
    }
    es_classifier_free(c);
    es_audio_free(&a);
    es_free(ref);
    es_model_free(m);
}

/* A loaded model saved and reloaded is the same model, bit for bit. */
static void check_round_trip(void) {
    char dir[] = "/tmp/es-model-XXXXXX", path[256];
    es_model *m = load_model("mel"), *m2 = NULL;
    if (!m || !mkdtemp(dir)) return;
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    CHECK_RC(es_model_save(m, path), 0);
    CHECK_RC(es_model_load(&m2, path), 0);
    if (m2) {
        const es_net *a = es_model_weights(m), *b = es_model_weights(m2);
        CHECK_EQ_INT(es_net_num_tensors(a), es_net_num_tensors(b));
        for (int i = 0; i < es_net_num_tensors(a) && i < es_net_num_tensors(b); i++) {
            const es_tensor *x = es_net_tensor_at(a, i), *y = es_net_tensor_at(b, i);
            CHECK(strcmp(x->name, y->name) == 0);
            if (x->kind == ES_TENSOR_COUNTER)
                CHECK_EQ_INT(*x->counter, *y->counter);
            else
                CHECK(memcmp(x->data, y->data, x->numel * sizeof *x->data) == 0);
        }
        CHECK(memcmp(es_model_features(m), es_model_features(m2), sizeof(es_feature_desc)) == 0);
        CHECK_EQ_INT(es_model_num_labels(m2), 11);
        CHECK(strcmp(es_model_label(m2, 10), "background") == 0);
    }
    es_model_free(m2);
    es_model_free(m);
    remove(path);
    remove(dir);
}

/* A running mean of networks (training's weight averaging): n = 0 copies
 * exactly; folding b into the mean of {a} gives (a + b) / 2, then a again
 * (2a + b) / 3, for weights and running statistics alike; another arch or
 * a negative count is refused. */
static void check_average(void) {
    es_model *m = load_model("mel"), *other = load_model("seed");
    es_net *a = NULL, *b = NULL, *avg = NULL, *o = NULL;
    if (!m || !other) return;
    CHECK_RC(es_model_instantiate(m, 1, 0, &a), 0);
    CHECK_RC(es_model_instantiate(m, 1, 0, &b), 0);
    CHECK_RC(es_model_instantiate(m, 1, 0, &avg), 0);
    CHECK_RC(es_model_instantiate(other, 1, 0, &o), 0);
    if (!a || !b || !avg || !o) return;
    es_net_init_params(b, 5);
    for (int i = 0; i < es_net_num_tensors(b); i++) { /* running statistics differ too */
        const es_tensor *t = es_net_tensor_at(b, i);
        for (size_t k = 0; t->kind == ES_TENSOR_BUFFER && k < t->numel; k++)
            t->data[k] = 0.5f + 0.25f * (float)(k % 7);
    }
    for (int step = 0; step < 3; step++) {
        const es_net *src = step == 1 ? b : a;
        double worst = 0.0;
        int exact = 1;
        CHECK_RC(es_net_average_weights(avg, src, step), 0);
        for (int i = 0; i < es_net_num_tensors(a); i++) {
            const es_tensor *ta = es_net_tensor_at(a, i), *tb = es_net_tensor_at(b, i);
            const es_tensor *tm = es_net_tensor_at(avg, i);
            if (ta->kind == ES_TENSOR_COUNTER) continue;
            for (size_t k = 0; k < ta->numel; k++) {
                double want = step == 0   ? ta->data[k]
                              : step == 1 ? (ta->data[k] + (double)tb->data[k]) / 2.0
                                          : (2.0 * ta->data[k] + tb->data[k]) / 3.0;
                exact &= tm->data[k] == ta->data[k];
                if (fabs(tm->data[k] - want) > worst) worst = fabs(tm->data[k] - want);
            }
        }
        if (step == 0) CHECK(exact);
        CHECK(worst <= 1e-6);
    }
    CHECK_RC(es_net_average_weights(avg, o, 1), ES_EINVAL);
    CHECK_RC(es_net_average_weights(avg, a, -1), ES_EINVAL);
    es_net_free(a);
    es_net_free(b);
    es_net_free(avg);
    es_net_free(o);
    es_model_free(m);
    es_model_free(other);
}

int main(void) {
    check_logits("seed");
    check_logits("mel");
    check_logits("mix");
    check_seed_adam();
    check_mel_adam();
    check_mix_sgd_adamw();
    check_posteriors("mel", ES_FIXTURES_DIR "/synth1-16000.wav", "mel_synth1-16000_posteriors.npy");
    check_posteriors("mel", ES_FIXTURES_DIR "/synth2-16000.wav", "mel_synth2-16000_posteriors.npy");
    check_posteriors("mix", ES_FIXTURES_DIR "/synth1-8000.wav", "mix_synth1-8000_posteriors.npy");
    check_posteriors("mel", NN_DIR "/short-16000.wav", "mel_short_posteriors.npy");
    check_round_trip();
    check_average();
    CHECK_DONE();
}

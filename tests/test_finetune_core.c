/* The library pieces fine-tuning stands on: a model grown by a class, model
 * copies and bytes, the augmentation a model carries, the replay store,
 * in-memory datasets, the head of a network, frozen layers running as at
 * inference, weight decay towards an anchor (L2-SP), and batches made on a
 * helper thread. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "earshot/alloc.h"
#include "earshot/augment.h"
#include "earshot/classify.h"
#include "earshot/dataset.h"
#include "earshot/error.h"
#include "earshot/model.h"
#include "earshot/nn.h"
#include "earshot/replay.h"
#include "earshot/train.h"

#define MEL ES_FIXTURES_DIR "/nn/mel.safetensors"

static es_model *load(void) {
    es_model *m = NULL;
    CHECK_RC(es_model_load(&m, MEL), 0);
    return m;
}

/* logits of a model for a deterministic input */
static void logits_of(const es_model *m, float *out, int *K) {
    es_net *net;
    es_shape s = es_model_input_shape(m);
    size_t n = (size_t)s.c * s.h * s.w;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)sin(0.37 * (double)i) * 0.8f;
    CHECK_RC(es_model_instantiate(m, 1, 0, &net), 0);
    CHECK_RC(es_net_forward(net, x, 1, ES_MODE_INFER), 0);
    *K = es_net_num_outputs(net);
    memcpy(out, es_net_output(net), (size_t)*K * sizeof *out);
    es_net_free(net);
    free(x);
}

static void grown_model(void) {
    es_model *m = load(), *g = NULL, *back = NULL;
    const char *names[] = {"doorbell", "kettle"};
    float a[64], b[64];
    int Ka, Kb;
    char path[] = "/tmp/es_grown_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK_RC(es_model_add_labels(m, names, 2, 7, &g), 0);
    CHECK_EQ_INT(es_model_num_labels(g), es_model_num_labels(m) + 2);
    CHECK(strcmp(es_model_label(g, es_model_num_labels(m)), "doorbell") == 0);
    logits_of(m, a, &Ka);
    logits_of(g, b, &Kb);
    CHECK_EQ_INT(Kb, Ka + 2);
    /* old classes answer exactly as before; the new ones start below them all */
    for (int k = 0; k < Ka; k++) CHECK_NEAR(b[k], a[k], 1e-6);
    {
        int top = 0;
        for (int k = 1; k < Kb; k++)
            if (b[k] > b[top]) top = k;
        CHECK(top < Ka);
    }
    /* refused: a label it has, twice the same, an empty one */
    {
        const char *dup[] = {es_model_label(m, 0)}, *twice[] = {"x", "x"}, *empty[] = {""};
        CHECK_RC(es_model_add_labels(m, dup, 1, 1, &back), ES_EINVAL);
        CHECK_RC(es_model_add_labels(m, twice, 2, 1, &back), ES_EINVAL);
        CHECK_RC(es_model_add_labels(m, empty, 1, 1, &back), ES_EINVAL);
    }
    /* the grown model saves and loads as any other */
    CHECK_RC(es_model_save(g, path), 0);
    CHECK_RC(es_model_load(&back, path), 0);
    CHECK_EQ_INT(es_model_num_labels(back), Kb);
    es_model_free(back);
    unlink(path);
    es_model_free(g);
    es_model_free(m);
}

static void bytes_and_copy(void) {
    es_model *m = load(), *c = NULL;
    unsigned char *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    char path[] = "/tmp/es_bytes_XXXXXX", *file;
    FILE *f;
    int fd = mkstemp(path);
    close(fd);
    CHECK_RC(es_model_serialize(m, &buf, &len), 0);
    CHECK_RC(es_model_save(m, path), 0);
    file = malloc(len + 1);
    f = fopen(path, "rb");
    CHECK(f && fread(file, 1, len + 1, f) == len);   /* same length, same bytes */
    if (f) fclose(f);
    CHECK(memcmp(file, buf, len) == 0);
    CHECK_RC(es_model_copy(m, &c), 0);
    CHECK_RC(es_model_serialize(c, &buf2, &len2), 0);
    CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
    es_free(buf);
    es_free(buf2);
    free(file);
    unlink(path);
    es_model_free(c);
    es_model_free(m);
}

static void augment_json(void) {
    es_augment a = es_augment_none(), b;
    es_model *m = load(), *c = NULL;
    char *json = NULL;
    a.shift = 0.5;
    a.gain_db = 6.0;
    a.level_p = 0.7;
    a.level_min = -40.0;
    a.level_max = -3.0;
    a.speed_p = 0.6;
    a.speed_min = 0.85;
    a.speed_max = 1.15;
    a.time_masks = 2;
    a.time_mask_width = 10;
    a.time_mask_p = 0.25;
    CHECK_RC(es_augment_to_json(&a, &json), 0);
    CHECK_RC(es_augment_from_json(&b, json, "test"), 0);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    es_free(json);
    CHECK_RC(es_augment_from_json(&b, "{\"speed\":{\"p\":0.5,\"min\":0.1,\"max\":1}}", "t"),
             ES_ERANGE);
    CHECK(strstr(es_errmsg(), "speed"));
    CHECK_RC(es_augment_from_json(&b, "{\"sped\":{}}", "t"), ES_EFORMAT);
    CHECK(strstr(es_errmsg(), "sped"));
    CHECK_RC(es_augment_from_json(&b, "{\"time_mask\":{\"count\":1.5}}", "t"), ES_EFORMAT);
    CHECK_RC(es_augment_from_json(&b, "[1]", "t"), ES_EJSON);
    /* a model carries it through a copy (save and load) */
    CHECK_EQ_INT(es_model_augment(m, NULL), 0);
    es_model_set_augment(m, &a);
    CHECK_RC(es_model_copy(m, &c), 0);
    CHECK_EQ_INT(es_model_augment(c, &b), 1);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    es_model_free(c);
    es_model_free(m);
}

static void replay_store(void) {
    es_dataset *ds = NULL, *back = NULL;
    float x[3000], y[500];
    size_t idx[3] = {0, 1, 2};
    char path[] = "/tmp/es_replay_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    for (int i = 0; i < 3000; i++) x[i] = 0.5f * (float)sin(0.05 * i) * (i > 2000 ? 1.0f : 0.01f);
    for (int i = 0; i < 500; i++) y[i] = (float)(i % 7) / 10.0f - 0.3f;
    CHECK_RC(es_dataset_new(&ds), 0);
    CHECK_RC(es_dataset_add(ds, "b", "dog", "g", x, 3000), 0);
    CHECK_RC(es_dataset_add(ds, "a", "cat", "g", y, 500), 0);
    CHECK_RC(es_dataset_add(ds, "c", "cat", "h", y, 0), 0);
    CHECK_RC(es_dataset_finish(ds), 0);
    CHECK_RC(es_dataset_add(ds, "d", "cat", "g", y, 10), ES_ESTATE);
    CHECK_EQ_INT(es_dataset_num_labels(ds), 2);
    CHECK(strcmp(es_dataset_clip(ds, 0)->path, "a") == 0);   /* ordered by name */
    /* clips longer than max_seconds keep their loudest stretch */
    CHECK_RC(es_replay_write(path, ds, idx, 3, 1000, 1.0), 0);
    CHECK_RC(es_replay_load(&back, path, 1000), 0);
    CHECK_EQ_INT((int)es_dataset_size(back), 3);
    {
        const es_clip *a = es_dataset_clip(back, 0), *b = es_dataset_clip(back, 1);
        CHECK(strcmp(es_dataset_label(back, a->label), "cat") == 0);
        CHECK_EQ_INT((int)a->n, 500);
        for (int i = 0; i < 500; i++) CHECK_NEAR(a->x[i], y[i], 1.0 / 32768 + 1e-6);
        CHECK(strcmp(es_dataset_label(back, b->label), "dog") == 0);
        CHECK_EQ_INT((int)b->n, 1000);
        CHECK_NEAR(b->x[500], x[2000 + 500], 1.0 / 32768 + 1e-6);   /* the loud end */
    }
    es_dataset_free(back);
    /* loaded at another rate: resampled */
    CHECK_RC(es_replay_load(&back, path, 2000), 0);
    CHECK(es_dataset_clip(back, 1)->n >= 1990 && es_dataset_clip(back, 1)->n <= 2010);
    es_dataset_free(back);
    /* a model file is no replay file */
    CHECK_RC(es_replay_load(&back, MEL, 1000), ES_EFORMAT);
    CHECK(back == NULL);
    unlink(path);
    es_dataset_free(ds);
}

/* Frozen layers run as at inference; the head is the trailing linear part;
 * an anchored optimizer decays towards the start, not to 0. */
static void frozen_head_anchor(void) {
    es_model *m = load();
    es_net *net, *ref;
    es_optimizer *opt;
    es_opt_config oc = es_opt_defaults(ES_OPT_ADAMW);
    es_shape s = es_model_input_shape(m);
    size_t n = (size_t)s.c * s.h * s.w;
    float *x = malloc(4 * n * sizeof *x), before[64];
    int head, K, lab[4] = {0, 1, 0, 1};
    const es_tensor *w;
    for (size_t i = 0; i < 4 * n; i++) x[i] = (float)cos(0.11 * (double)i);
    CHECK_RC(es_model_instantiate(m, 4, ES_NET_TRAIN, &net), 0);
    CHECK_RC(es_model_instantiate(m, 4, 0, &ref), 0);
    head = es_net_head_start(net);
    CHECK(head > 0 && head < es_net_num_layers(net));
    CHECK_EQ_INT(es_net_layer(net, head)->type, ES_LAYER_LINEAR);
    for (int i = head; i < es_net_num_layers(net); i++) {
        es_layer_type t = es_net_layer(net, i)->type;
        CHECK(t == ES_LAYER_LINEAR || t == ES_LAYER_RELU || t == ES_LAYER_DROPOUT ||
              t == ES_LAYER_FLATTEN);
    }
    /* the top: the last convolution, with only its block and the head after it */
    {
        int top = es_net_top_start(net);
        CHECK(top >= 0 && top < head);
        CHECK_EQ_INT(es_net_layer(net, top)->type, ES_LAYER_CONV2D);
        for (int i = top + 1; i < head; i++) CHECK(es_net_layer(net, i)->type != ES_LAYER_CONV2D);
    }
    CHECK_EQ_INT(es_layers_parse("top"), ES_LAYERS_TOP);
    CHECK_EQ_INT(es_layers_parse("head"), ES_LAYERS_HEAD);
    CHECK_EQ_INT(es_layers_parse("all"), ES_LAYERS_ALL);
    CHECK_EQ_INT(es_layers_parse("most"), -1);
    CHECK_EQ_INT(es_layers_parse(NULL), -1);
    CHECK(strcmp(es_layers_name(ES_LAYERS_TOP), "top") == 0);
    CHECK(es_layers_name((es_layers)7) == NULL);
    /* everything frozen but the last layer: a training forward of a model
     * without dropout in the head equals inference */
    CHECK_RC(es_net_freeze_before(net, es_net_num_layers(net) - 1), 0);
    CHECK_RC(es_net_forward(net, x, 4, ES_MODE_TRAIN), 0);
    CHECK_RC(es_net_forward(ref, x, 4, ES_MODE_INFER), 0);
    K = es_net_num_outputs(net);
    for (int i = 0; i < 4 * K; i++) CHECK_NEAR(es_net_output(net)[i], es_net_output(ref)[i], 1e-5);
    /* the running statistics did not move */
    for (int i = 0; i < es_net_num_tensors(net); i++) {
        const es_tensor *t = es_net_tensor_at(net, i), *r = es_net_tensor(ref, t->name);
        if (t->kind == ES_TENSOR_BUFFER)
            for (size_t k = 0; k < t->numel; k++) CHECK(t->data[k] == r->data[k]);
    }
    /* anchored AdamW, zero gradients: nothing moves (unanchored: decays) */
    oc.weight_decay = 1.0f;
    oc.lr = 0.1f;
    CHECK_RC(es_optimizer_create(&opt, net, &oc), 0);
    CHECK_RC(es_optimizer_anchor(opt), 0);
    w = es_net_tensor_at(net, es_net_num_tensors(net) - 2);   /* the last weight */
    CHECK(w->kind == ES_TENSOR_PARAM && w->layer == es_net_num_layers(net) - 1);
    memcpy(before, w->data, 64 * sizeof *before);
    es_net_zero_grad(net);
    CHECK_RC(es_optimizer_step(opt), 0);
    for (int k = 0; k < 64; k++) CHECK(w->data[k] == before[k]);
    /* moved away, one step with zero gradient pulls back by lr·wd of the gap */
    w->data[0] = before[0] + 1.0f;
    CHECK_RC(es_optimizer_step(opt), 0);
    CHECK_NEAR(w->data[0], before[0] + 0.9f, 1e-5);
    es_optimizer_free(opt);
    CHECK_RC(es_optimizer_create(&opt, net, &oc), 0);
    memcpy(w->data, before, 64 * sizeof *before);
    CHECK_RC(es_optimizer_step(opt), 0);
    CHECK_NEAR(w->data[1], before[1] * 0.9f, 1e-6);
    /* a backward of the frozen net trains the last layer only */
    es_net_zero_grad(net);
    CHECK_RC(es_net_forward(net, x, 4, ES_MODE_TRAIN), 0);
    CHECK_RC(es_net_backward(net, lab, NULL, NULL), 0);
    for (int i = 0; i < es_net_num_tensors(net); i++) {
        const es_tensor *t = es_net_tensor_at(net, i);
        double g = 0.0;
        if (t->kind != ES_TENSOR_PARAM) continue;
        for (size_t k = 0; k < t->numel; k++) g += fabs(t->grad[k]);
        CHECK(t->layer == es_net_num_layers(net) - 1 ? g > 0.0 : g == 0.0);
    }
    es_optimizer_free(opt);
    es_net_free(net);
    es_net_free(ref);
    free(x);
    es_model_free(m);
}

/* A forward in two pieces is the forward: layers [0, top) then [top, n)
 * give the same logits bit for bit, at inference and in training with the
 * layers before top frozen (as fine-tuning's helper thread runs them). */
static void forward_in_pieces(void) {
    es_model *m = load();
    es_net *net = NULL, *ref = NULL;
    es_shape s = es_model_input_shape(m), ms;
    size_t n = (size_t)s.c * s.h * s.w, nm;
    float *x = malloc(4 * n * sizeof *x), *mid = NULL, *whole = NULL;
    int top, L, K;
    CHECK(x != NULL);
    if (!x) goto out;
    for (size_t i = 0; i < 4 * n; i++) x[i] = (float)sin(0.23 * (double)i);
    CHECK_RC(es_model_instantiate(m, 4, ES_NET_TRAIN, &net), 0);
    CHECK_RC(es_model_instantiate(m, 4, 0, &ref), 0);
    if (!net || !ref) goto out;
    top = es_net_top_start(net);
    L = es_net_num_layers(net);
    K = es_net_num_outputs(net);
    ms = es_net_layer_output_shape(net, top - 1);
    nm = (size_t)ms.c * ms.h * ms.w;
    mid = malloc(4 * nm * sizeof *mid);
    whole = malloc(4 * (size_t)K * sizeof *whole);
    CHECK(top > 0 && mid && whole);
    if (!mid || !whole || top <= 0) goto out;
    /* at inference */
    CHECK_RC(es_net_forward(ref, x, 4, ES_MODE_INFER), 0);
    memcpy(whole, es_net_output(ref), 4 * (size_t)K * sizeof *whole);
    CHECK_RC(es_net_forward_layers(ref, x, 4, ES_MODE_INFER, 0, top), 0);
    CHECK(es_net_output(ref) == NULL); /* nothing to backpropagate */
    CHECK(es_net_activation(ref, top - 1) != NULL);
    memcpy(mid, es_net_activation(ref, top - 1), 4 * nm * sizeof *mid);
    CHECK_RC(es_net_forward_layers(ref, mid, 4, ES_MODE_INFER, top, L), 0);
    CHECK(memcmp(es_net_output(ref), whole, 4 * (size_t)K * sizeof *whole) == 0);
    /* training the top */
    CHECK_RC(es_net_freeze_before(net, top), 0);
    es_net_seed(net, 3);
    CHECK_RC(es_net_forward(net, x, 4, ES_MODE_TRAIN), 0);
    memcpy(whole, es_net_output(net), 4 * (size_t)K * sizeof *whole);
    es_net_seed(net, 3);
    CHECK_RC(es_net_forward_layers(net, mid, 4, ES_MODE_TRAIN, top, L), 0);
    CHECK(memcmp(es_net_output(net), whole, 4 * (size_t)K * sizeof *whole) == 0);
    /* ranges that are not, and a training forward starting past a layer
     * that learns */
    CHECK_RC(es_net_forward_layers(net, mid, 4, ES_MODE_TRAIN, top + 1, L), ES_EINVAL);
    CHECK_RC(es_net_forward_layers(net, x, 4, ES_MODE_INFER, 2, 2), ES_EINVAL);
    CHECK_RC(es_net_forward_layers(net, x, 4, ES_MODE_INFER, 0, L + 1), ES_EINVAL);
    CHECK_RC(es_net_forward_layers(net, x, 4, ES_MODE_INFER, -1, L), ES_EINVAL);
    CHECK(es_net_activation(net, L) == NULL);
out:
    es_net_free(net);
    es_net_free(ref);
    free(x);
    free(mid);
    free(whole);
    es_model_free(m);
}

/* Making the next batch on a helper thread (prefetch) trains exactly the
 * model the plain loop trains: same draws, same order, same bytes; also
 * when the helper runs the frozen layers. */
/* Trains a copy of m on all of ds with cfg, with and without prefetch:
 * the two must be the same bytes, and not m's. */
static void same_with_prefetch(const es_model *m, es_dataset *ds, es_train_config cfg) {
    es_model *ab[2] = {NULL, NULL};
    unsigned char *bytes[2] = {NULL, NULL}, *b0 = NULL;
    size_t len[2] = {0, 0}, l0 = 0;
    for (int k = 0; k < 2; k++) {
        cfg.prefetch = k;
        CHECK_RC(es_model_copy(m, &ab[k]), 0);
        CHECK_RC(es_train(ab[k], NULL, (es_split){ds, NULL, es_dataset_size(ds)},
                          (es_split){ds, NULL, 0}, NULL, 0, &cfg, NULL, NULL), 0);
        CHECK_RC(es_model_serialize(ab[k], &bytes[k], &len[k]), 0);
    }
    CHECK_RC(es_model_serialize(m, &b0, &l0), 0);
    CHECK(len[0] == len[1] && memcmp(bytes[0], bytes[1], len[0]) == 0);
    CHECK(len[0] != l0 || memcmp(bytes[0], b0, l0) != 0); /* and it did train */
    for (int k = 0; k < 2; k++) {
        es_free(bytes[k]);
        es_model_free(ab[k]);
    }
    es_free(b0);
}

static void prefetch_same(void) {
    es_model *m = load();
    es_dataset *ds = NULL;
    const es_feature_desc *d = es_model_features(m);
    size_t n = (size_t)(d->clip_seconds * d->sample_rate);
    float *x = malloc(n * sizeof *x);
    es_train_config cfg = es_train_defaults();
    CHECK(x != NULL);
    CHECK_RC(es_dataset_new(&ds), 0);
    for (int i = 0; i < 12; i++) {
        int k = i % 2;
        char name[16];
        for (size_t t = 0; t < n; t++)
            x[t] = 0.3f * (float)sin((double)t * (0.05 + 0.2 * k + 0.01 * i));
        snprintf(name, sizeof name, "c%d", i);
        CHECK_RC(es_dataset_add(ds, name, es_model_label(m, k), "g", x, n), 0);
    }
    CHECK_RC(es_dataset_finish(ds), 0);
    cfg.epochs = 2;
    cfg.batch = 4;
    cfg.aug.shift = 0.5;
    cfg.aug.gain_db = 6.0;
    cfg.aug.noise_p = 0.5;
    cfg.aug.snr_min = 10.0;
    cfg.aug.snr_max = 30.0;
    same_with_prefetch(m, ds, cfg);
    /* with the top learning, the helper also runs the frozen blocks */
    cfg.layers = ES_LAYERS_TOP;
    same_with_prefetch(m, ds, cfg);
    es_dataset_free(ds);
    free(x);
    es_model_free(m);
}

int main(void) {
    grown_model();
    bytes_and_copy();
    augment_json();
    replay_store();
    frozen_head_anchor();
    forward_in_pieces();
    prefetch_same();
    CHECK_DONE();
}

/* core/classify.c — whole-clip classification: windows, features, network, averaging. */
#include "earshot/classify.h"

#include <math.h>
#include <string.h>

#include "internal.h"

struct es_classifier {
    const es_model *model;
    es_features *fx;
    es_net *net;
    size_t clip, stride;   /* samples */
    size_t F, T;
    int K;
    float *window;         /* [clip] zero-padded copy for short clips */
    float *matrix;         /* [F, T] */
    float *post;           /* [K] one window's posteriors */
};

void es_classifier_free(es_classifier *c) {
    if (!c) return;
    es_features_free(c->fx);
    es_net_free(c->net);
    es__free(c->window);
    es__free(c->matrix);
    es__free(c->post);
    es__free(c);
}

int es_classifier_create(es_classifier **out, const es_model *m) {
    es_classifier *c;
    const es_feature_desc *d = es_model_features(m);
    es_shape in = es_model_input_shape(m);
    int rc;
    *out = NULL;
    c = es__calloc(1, sizeof *c);
    if (!c) return es__fail(ES_ENOMEM, "out of memory creating a classifier");
    c->model = m;
    c->clip = (size_t)lround(d->clip_seconds * d->sample_rate);
    c->stride = (size_t)lround(d->stride_seconds * d->sample_rate);
    if (c->stride < 1) c->stride = 1;
    c->F = (size_t)in.h;
    c->T = (size_t)in.w;
    c->K = es_model_num_labels(m);
    if ((rc = es_features_create(&c->fx, d)) < 0) goto fail;
    if ((rc = es_model_instantiate(m, 1, 0, &c->net)) < 0) goto fail;
    c->window = es__malloc_array(c->clip, sizeof *c->window);
    c->matrix = es__malloc_array(c->F * c->T, sizeof *c->matrix);
    c->post = es__malloc_array((size_t)c->K, sizeof *c->post);
    if (!c->window || !c->matrix || !c->post) {
        rc = es__fail(ES_ENOMEM, "out of memory creating a classifier");
        goto fail;
    }
    *out = c;
    return 0;
fail:
    es_classifier_free(c);
    return rc;
}

size_t es_classifier_window(const es_classifier *c) { return c->clip; }
size_t es_classifier_stride(const es_classifier *c) { return c->stride; }

int es_classify_features(es_classifier *c, const float *matrix, float *posteriors) {
    const float *z;
    float mx;
    double sum = 0.0;
    int rc = es_net_forward(c->net, matrix, 1, ES_MODE_INFER);
    if (rc < 0) return rc;
    z = es_net_output(c->net);
    mx = z[0];
    for (int k = 1; k < c->K; k++)
        if (z[k] > mx) mx = z[k];
    for (int k = 0; k < c->K; k++) sum += exp((double)z[k] - mx);
    for (int k = 0; k < c->K; k++) posteriors[k] = (float)(exp((double)z[k] - mx) / sum);
    return 0;
}

static int classify_window(es_classifier *c, const float *x) {
    int rc = es_features_compute(c->fx, x, c->clip, c->matrix, c->T);
    if (rc < 0) return rc;
    return es_classify_features(c, c->matrix, c->post);
}

/* A clip's trailing silence is not part of its sound: speech synthesizers
 * and some recorders leave up to half a second after a word (espeak-ng:
 * 0.38 s on average), and a model that learnt words ending near the
 * window's end would see them end that much earlier (the digits model on
 * 960 unheard synthetic clips: 0.948 untrimmed, 0.982 trimmed). Returns n
 * without the trailing blocks of `block` samples whose RMS is more than
 * QUIET_DB under the loudest block's. 50 dB trims silence but keeps a
 * recording's breath and room tail, which training showed the model
 * (leave-one-speaker-out: 40 dB cost 0.5 points, 50 dB nothing). */
#define QUIET_DB 50.0

static double block_energy(const float *x, size_t block, size_t b) {
    double e = 0.0;
    for (size_t i = b * block; i < (b + 1) * block; i++) e += (double)x[i] * x[i];
    return e;
}

static size_t sounding_length(const float *x, size_t n, size_t block) {
    double peak = 0.0, floor_e;
    size_t nb, last;
    if (block == 0 || n < block) return n;
    nb = n / block;
    for (size_t b = 0; b < nb; b++) {
        double e = block_energy(x, block, b);
        if (e > peak) peak = e;
    }
    if (peak <= 0.0) return n;
    floor_e = peak * pow(10.0, -QUIET_DB / 10.0);
    /* the last loud block, searched from the end (the loudest one is loud) */
    last = nb - 1;
    while (block_energy(x, block, last) <= floor_e) last--;
    /* the partial block at the end counts as sounding when the last full one does */
    return last + 1 == nb ? n : (last + 1) * block;
}

int es_classify(es_classifier *c, const float *x, size_t n, float *posteriors, int *n_windows) {
    int windows = 0, rc;
    size_t start;
    if (n == 0) return es__fail(ES_EEMPTY, "nothing to classify: no samples");
    for (int k = 0; k < c->K; k++) posteriors[k] = 0.0f;
    if (n <= c->clip) {
        /* where the model learnt to see a short clip: `place` of the spare
         * room from the window's start, or from its end without the clip's
         * trailing quiet */
        const es_feature_desc *d = es_model_features(c->model);
        size_t off;
        if (d->align_end) n = sounding_length(x, n, (size_t)d->sample_rate / 100);
        off = (size_t)(d->place * (double)(c->clip - n));
        if (d->align_end) off = c->clip - n - off;
        memset(c->window, 0, c->clip * sizeof *x);
        memcpy(c->window + off, x, n * sizeof *x);
        if ((rc = classify_window(c, c->window)) < 0) return rc;
        memcpy(posteriors, c->post, (size_t)c->K * sizeof *posteriors);
        windows = 1;
    } else {
        /* windows every stride while they fit: the samples after the last
         * window (fewer than a stride) are heard by the windows before it */
        for (start = 0; start + c->clip <= n; start += c->stride) {
            if ((rc = classify_window(c, x + start)) < 0) return rc;
            for (int k = 0; k < c->K; k++) posteriors[k] += c->post[k];
            windows++;
        }
        for (int k = 0; k < c->K; k++) posteriors[k] /= (float)windows;
    }
    if (n_windows) *n_windows = windows;
    return 0;
}

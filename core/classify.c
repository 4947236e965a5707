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

int es_classify(es_classifier *c, const float *x, size_t n, float *posteriors, int *n_windows) {
    int windows = 0, rc;
    size_t start;
    if (n == 0) return es__fail(ES_EEMPTY, "nothing to classify: no samples");
    for (int k = 0; k < c->K; k++) posteriors[k] = 0.0f;
    if (n <= c->clip) {
        memcpy(c->window, x, n * sizeof *x);
        memset(c->window + n, 0, (c->clip - n) * sizeof *x);
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

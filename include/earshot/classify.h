/* earshot/classify.h — classify whole clips with a model, as `earshot classify` does.
 *
 *   es_classifier *c;
 *   es_classifier_create(&c, model);
 *   float post[ES_MAX_LABELS];
 *   int windows;
 *   es_classify(c, samples, n, post, &windows);   // samples at the model's rate
 *   es_classifier_free(c);
 *
 * A clip no longer than the model's window (clip_seconds) is zero-padded at
 * the end to the window. A longer one is cut into windows every
 * stride_seconds from the start, as long as they fit; each window's features
 * are computed on its own samples, and the windows' softmax posteriors are
 * averaged.
 * Everything is allocated at create: a call allocates nothing.
 */
#ifndef EARSHOT_CLASSIFY_H
#define EARSHOT_CLASSIFY_H

#include <stddef.h>

#include "earshot/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct es_classifier es_classifier;

/* The classifier keeps a pointer to the model: it must outlive it. */
int es_classifier_create(es_classifier **c, const es_model *m);
void es_classifier_free(es_classifier *c);

/* Samples per window and per stride at the model's rate. */
size_t es_classifier_window(const es_classifier *c);
size_t es_classifier_stride(const es_classifier *c);

/* posteriors: [n_labels], the mean of the windows' softmax. */
int es_classify(es_classifier *c, const float *x, size_t n, float *posteriors, int *n_windows);

/* One window's posteriors from its [F, T] feature matrix (matrix stage
 * already applied). */
int es_classify_features(es_classifier *c, const float *matrix, float *posteriors);

#ifdef __cplusplus
}
#endif
#endif

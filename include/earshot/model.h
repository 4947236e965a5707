/* earshot/model.h — model files: a network, its weights, labels and features.
 *
 *   es_model *m;
 *   if (es_model_load(&m, "digits.safetensors") < 0) { puts(es_errmsg()); ... }
 *   es_net *net;
 *   es_model_instantiate(m, 1, 0, &net);          // an inference network
 *   ...
 *   es_model_save(m, "copy.safetensors");         // atomic
 *   es_net_free(net);
 *   es_model_free(m);
 *
 * The file is safetensors (see ../shared/DESIGN.md, "Model files"): tensors
 * named as PyTorch's state_dict() names them, and __metadata__ with
 * earshot.format "1", earshot.labels (JSON array), earshot.features (a
 * feature description with clip_seconds and stride_seconds) and
 * earshot.arch (JSON array of layers). Loading checks everything before
 * trusting anything — header, offsets, dtypes, every shape against the arch,
 * the label count against the outputs, finite weights — and names the field
 * at fault. A model is a value: networks are instantiated from it, and
 * trained weights are put back with es_model_set_weights.
 */
#ifndef EARSHOT_MODEL_H
#define EARSHOT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "earshot/augment.h"
#include "earshot/features.h"
#include "earshot/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Label names are at most this long; a model has at most ES_MAX_LABELS. */
#define ES_LABEL_MAX 64
#define ES_MAX_LABELS 1024

typedef struct es_model es_model;

/* Reads and validates a model file (at most ES_MODEL_FILE_MAX bytes). */
#define ES_MODEL_FILE_MAX ((size_t)1 << 30)
int es_model_load(es_model **m, const char *path);

/* The same from bytes in memory; origin names them in errors. */
int es_model_load_buffer(es_model **m, const void *data, size_t len, const char *origin);

/* A new model with freshly initialised weights (es_net_init_params(seed)).
 * The features must have clip_seconds; the arch must map the [1, F, T]
 * feature matrix to n_labels outputs. */
int es_model_create(es_model **m, const es_layer_spec *layers, int n_layers,
                    const es_feature_desc *features, const char *const *labels, int n_labels,
                    uint64_t seed);

/* Writes the model atomically (temporary file, fsync, rename). */
int es_model_save(const es_model *m, const char *path);
/* The bytes es_model_save would write, into a buffer for the caller
 * (es_free it): for hashing, or keeping a model to go back to. */
int es_model_serialize(const es_model *m, unsigned char **buf, size_t *len);
/* An independent copy (weights, labels, features, arch). */
int es_model_copy(const es_model *m, es_model **out);
/* A copy with n more labels: the last layer (which must be linear) grows by
 * n outputs. Old weights are kept; the new rows start as PyTorch
 * initialises a layer (from seed) with a bias below every old class, so the
 * grown model answers as the old one until it learns the new classes. */
int es_model_add_labels(const es_model *m, const char *const *names, int n, uint64_t seed,
                        es_model **out);

void es_model_free(es_model *m);

const es_feature_desc *es_model_features(const es_model *m);
int es_model_num_labels(const es_model *m);
const char *es_model_label(const es_model *m, int i);
/* Index of a label, or -1. */
int es_model_label_index(const es_model *m, const char *label);
/* The augmentation the model was trained with (its earshot.augment, which
 * `earshot train` writes and fine-tuning reuses): 1 and *a filled when the
 * file has one, else 0. set: NULL removes it. */
int es_model_augment(const es_model *m, es_augment *a);
void es_model_set_augment(es_model *m, const es_augment *a);
/* The network input: [1, F, T] for the model's clip. */
es_shape es_model_input_shape(const es_model *m);
/* The weights, as a network without activations (read-only use). */
const es_net *es_model_weights(const es_model *m);

/* A network for batches up to max_batch (flags: ES_NET_TRAIN or 0) holding
 * a copy of the model's weights. */
int es_model_instantiate(const es_model *m, int max_batch, unsigned flags, es_net **net);

/* Copies a network's weights (same arch) into the model. */
int es_model_set_weights(es_model *m, const es_net *net);
/* Folds a network's weights into the model's, which hold the mean of n
 * networks (es_net_average_weights); n = 0 copies. */
int es_model_average_weights(es_model *m, const es_net *net, int n);

#ifdef __cplusplus
}
#endif
#endif

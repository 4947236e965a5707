/* core/model_meta.h — what model files and training checkpoints share:
 * the earshot.* metadata of a model and its tensors as safetensors entries. */
#ifndef ES_MODEL_META_H
#define ES_MODEL_META_H

#include "earshot/model.h"
#include "safetensors.h"

typedef struct {
    char *labels, *arch, *augment;   /* owned JSON strings (augment may be NULL) */
    char features[2048];
    const char *keys[5], *vals[5];   /* earshot.format, .labels, .features, .arch
                                        [, .augment] */
    size_t n;                        /* entries used */
} es__model_meta;

int es__model_meta_init(es__model_meta *mm, const es_model *m);
void es__model_meta_free(es__model_meta *mm);

/* outs[es_net_num_tensors(net)] point at net's tensors; with a prefix the
 * names are written into names[n_tensors][name_cap] as prefix + name. */
int es__model_tensors(const es_net *net, const char *prefix, es__st_out *outs, char *names,
                      size_t name_cap);

/* Copies net's tensors, named prefix + name (prefix may be NULL), out of a
 * parsed file, checking dtype, shape and finiteness; extra tensors are the
 * caller's business. */
int es__load_net_tensors(es_net *net, const es__st_file *st, const char *prefix,
                         const char *origin);

#endif

/* core/model.c — model files: safetensors + earshot metadata <-> es_model. */
#include "earshot/model.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "internal.h"
#include "model_meta.h"
#include "safetensors.h"

struct es_model {
    es_feature_desc features;
    int n_labels;
    char (*labels)[ES_LABEL_MAX];
    es_layer_spec *layers;
    int n_layers;
    es_shape input;
    es_net *weights;       /* a network with max_batch 0: the weight store */
    int has_augment;       /* earshot.augment: how it was trained (optional) */
    es_augment augment;
};

void es_model_free(es_model *m) {
    if (!m) return;
    es_net_free(m->weights);
    es__free(m->layers);
    es__free(m->labels);
    es__free(m);
}

const es_feature_desc *es_model_features(const es_model *m) { return &m->features; }
int es_model_num_labels(const es_model *m) { return m->n_labels; }
const char *es_model_label(const es_model *m, int i) {
    return (i >= 0 && i < m->n_labels) ? m->labels[i] : NULL;
}
int es_model_label_index(const es_model *m, const char *label) {
    for (int i = 0; i < m->n_labels; i++)
        if (strcmp(m->labels[i], label) == 0) return i;
    return -1;
}
es_shape es_model_input_shape(const es_model *m) { return m->input; }
const es_net *es_model_weights(const es_model *m) { return m->weights; }
int es_model_augment(const es_model *m, es_augment *a) {
    if (m->has_augment && a) *a = m->augment;
    return m->has_augment;
}
void es_model_set_augment(es_model *m, const es_augment *a) {
    m->has_augment = a != NULL;
    if (a) m->augment = *a;
}

/* The [1, F, T] input a clip of the features makes. */
static int input_shape(const es_feature_desc *d, const char *origin, es_shape *s) {
    size_t n, T, F;
    if (!(d->clip_seconds > 0.0) || !(d->stride_seconds > 0.0))
        return es__fail(ES_ECONFIG, "%s: earshot.features needs clip_seconds and stride_seconds",
                        origin);
    n = (size_t)lround(d->clip_seconds * d->sample_rate);
    if (n < es_features_min_samples(d))
        return es__fail(ES_ECONFIG, "%s: clip_seconds %g is too short for n_fft %d", origin,
                        d->clip_seconds, d->n_fft);
    T = es_features_nframes(d, n);
    F = d->kind == ES_FEAT_MELSPECTROGRAM ? (size_t)d->n_mels : (size_t)d->n_fft / 2 + 1;
    if (T > 100000)
        return es__fail(ES_ECONFIG, "%s: clip_seconds %g makes %zu frames, too many", origin,
                        d->clip_seconds, T);
    *s = (es_shape){1, (int)F, (int)T};
    return 0;
}

static int parse_labels(es_model *m, const char *json, const char *origin) {
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr), *v;
    size_t n, i;
    int rc = 0;
    if (!root)
        return es__fail(ES_EJSON, "%s: earshot.labels is not valid JSON (%s)", origin, jerr.text);
    if (!json_is_array(root) || (n = json_array_size(root)) < 1 || n > ES_MAX_LABELS) {
        json_decref(root);
        return es__fail(ES_ECONFIG, "%s: earshot.labels must be an array of 1 to %d names",
                        origin, ES_MAX_LABELS);
    }
    m->labels = es__calloc(n, sizeof *m->labels);
    if (!m->labels) {
        json_decref(root);
        return es__fail(ES_ENOMEM, "out of memory reading labels");
    }
    json_array_foreach(root, i, v) {
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;
        if (!s || !s[0] || strlen(s) >= ES_LABEL_MAX) {
            rc = es__fail(ES_ECONFIG, "%s: earshot.labels[%zu] must be a name of 1 to %d bytes",
                          origin, i, ES_LABEL_MAX - 1);
            break;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->labels[j], s) == 0) {
                rc = es__fail(ES_ECONFIG, "%s: earshot.labels has '%s' twice", origin, s);
                break;
            }
        if (rc < 0) break;
        strcpy(m->labels[i], s);
    }
    m->n_labels = (int)n;
    json_decref(root);
    return rc;
}

static const char *require_meta(const es__st_file *st, const char *key, const char *origin,
                                int *rc) {
    const char *v = es__st_meta(st, key);
    if (!v) *rc = es__fail(ES_EFORMAT, "%s: metadata '%s' is missing (not an earshot model?)",
                           origin, key);
    return v;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int same_shape(const es__st_tensor *f, const es_tensor *t) {
    if (f->ndim != t->ndim) return 0;
    for (int d = 0; d < t->ndim; d++)
        if (f->shape[d] != t->shape[d]) return 0;
    return 1;
}

int es__load_net_tensors(es_net *net, const es__st_file *st, const char *prefix,
                         const char *origin) {
    char name[256];
    for (int i = 0; i < es_net_num_tensors(net); i++) {
        const es_tensor *t = es_net_tensor_at(net, i);
        const es__st_tensor *f;
        snprintf(name, sizeof name, "%s%s", prefix ? prefix : "", t->name);
        if (!(f = es__st_find(st, name)))
            return es__fail(ES_EFORMAT, "%s: tensor '%s' (arch layer %d) is missing", origin,
                            name, t->layer);
        if (t->kind == ES_TENSOR_COUNTER) {
            if (f->dtype != ES__ST_I64 || f->numel != 1)
                return es__fail(ES_EFORMAT, "%s: tensor '%s' must be a single I64", origin,
                                name);
            memcpy(t->counter, f->data, sizeof *t->counter);
            continue;
        }
        if (f->dtype != ES__ST_F32)
            return es__fail(ES_EFORMAT, "%s: tensor '%s' has dtype %s, earshot needs F32", origin,
                            name, es__st_dtype_name(f->dtype));
        if (!same_shape(f, t)) {
            char want[96] = "", got[96] = "";
            for (int d = 0; d < t->ndim; d++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? ", " : "",
                         (long long)t->shape[d]);
            for (int d = 0; d < f->ndim; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "",
                         (long long)f->shape[d]);
            return es__fail(ES_EFORMAT, "%s: tensor '%s' has shape [%s], arch layer %d needs [%s]",
                            origin, name, got, t->layer, want);
        }
        memcpy(t->data, f->data, t->numel * sizeof *t->data);
        for (size_t k = 0; k < t->numel; k++)
            if (!isfinite(t->data[k]))
                return es__fail(ES_EFORMAT, "%s: tensor '%s' holds a non-finite value at index "
                                "%zu", origin, name, k);
        if (t->kind == ES_TENSOR_BUFFER && strcmp(t->name, es_net_layer(net, t->layer)->running_var) == 0)
            for (size_t k = 0; k < t->numel; k++)
                if (t->data[k] < 0.0f)
                    return es__fail(ES_EFORMAT, "%s: tensor '%s' holds a negative variance",
                                    origin, name);
    }
    return 0;
}

/* Copies every tensor the arch names out of the file, checking dtype, shape
 * and values; rejects tensors the arch does not use. */
static int load_tensors(es_model *m, const es__st_file *st, const char *origin) {
    const es_net *net = m->weights;
    int rc = es__load_net_tensors(m->weights, st, NULL, origin);
    if (rc < 0) return rc;
    for (size_t i = 0; i < st->n_tensors; i++) {
        const char *name = st->tensors[i].name;
        /* PyTorch's BatchNorm always saves its counter; an arch may ignore it */
        if (!es_net_tensor(net, name) && !ends_with(name, ".num_batches_tracked"))
            return es__fail(ES_EFORMAT, "%s: tensor '%s' is not used by earshot.arch", origin,
                            name);
    }
    return 0;
}

int es_model_load_buffer(es_model **out, const void *data, size_t len, const char *origin) {
    es__st_file st;
    es_model *m;
    const char *fmt, *labels, *features, *arch, *aug;
    int rc = 0;
    if (!out || !data) return es__fail(ES_EINVAL, "es_model_load_buffer: NULL argument");
    *out = NULL;
    if (!origin) origin = "model";
    if ((rc = es__st_parse(&st, data, len, origin)) < 0) return rc;
    m = es__calloc(1, sizeof *m);
    if (!m) {
        es__st_free(&st);
        return es__fail(ES_ENOMEM, "out of memory loading a model");
    }
    fmt = require_meta(&st, "earshot.format", origin, &rc);
    if (rc < 0) goto fail;
    if (strcmp(fmt, "1") != 0) {
        rc = es__fail(ES_EFORMAT, "%s: earshot.format is \"%.20s\", this earshot reads \"1\"",
                      origin, fmt);
        goto fail;
    }
    labels = require_meta(&st, "earshot.labels", origin, &rc);
    features = require_meta(&st, "earshot.features", origin, &rc);
    arch = require_meta(&st, "earshot.arch", origin, &rc);
    if (rc < 0) goto fail;
    if ((rc = parse_labels(m, labels, origin)) < 0) goto fail;
    {
        char where[600];
        snprintf(where, sizeof where, "%s: earshot.features", origin);
        if ((rc = es_feature_desc_parse(&m->features, features, where)) < 0) goto fail;
    }
    if ((rc = input_shape(&m->features, origin, &m->input)) < 0) goto fail;
    if ((rc = es_arch_parse(arch, origin, &m->layers, &m->n_layers)) < 0) goto fail;
    if ((rc = es_net_create(&m->weights, m->layers, m->n_layers, m->input, 0, 0)) < 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", es_errmsg());
        rc = es__fail(rc, "%s: earshot.arch does not fit the %dx%d feature input: %s", origin,
                      m->input.h, m->input.w, msg);
        goto fail;
    }
    if (es_net_num_outputs(m->weights) != m->n_labels) {
        rc = es__fail(ES_EFORMAT, "%s: earshot.labels has %d names, the network outputs %d",
                      origin, m->n_labels, es_net_num_outputs(m->weights));
        goto fail;
    }
    if ((rc = load_tensors(m, &st, origin)) < 0) goto fail;
    if ((aug = es__st_meta(&st, "earshot.augment"))) {
        if ((rc = es_augment_from_json(&m->augment, aug, origin)) < 0) goto fail;
        m->has_augment = 1;
    }
    es__st_free(&st);
    es__clear_error();
    *out = m;
    return 0;
fail:
    es__st_free(&st);
    es_model_free(m);
    return rc;
}

int es_model_load(es_model **out, const char *path) {
    char *data;
    size_t len;
    int rc;
    if (!out || !path) return es__fail(ES_EINVAL, "es_model_load: NULL argument");
    *out = NULL;
    if ((rc = es__read_file(path, ES_MODEL_FILE_MAX, &data, &len)) < 0) return rc;
    rc = es_model_load_buffer(out, data, len, path);
    es__free(data);
    return rc;
}

int es_model_create(es_model **out, const es_layer_spec *layers, int n_layers,
                    const es_feature_desc *features, const char *const *labels, int n_labels,
                    uint64_t seed) {
    es_model *m;
    int rc;
    if (!out || !layers || !features || !labels || n_labels < 1 || n_labels > ES_MAX_LABELS)
        return es__fail(ES_EINVAL, "es_model_create: bad arguments");
    *out = NULL;
    m = es__calloc(1, sizeof *m);
    if (!m) return es__fail(ES_ENOMEM, "out of memory creating a model");
    m->features = *features;
    if ((rc = es_feature_desc_validate(features, "model features")) < 0 ||
        (rc = input_shape(features, "model features", &m->input)) < 0)
        goto fail;
    m->labels = es__calloc((size_t)n_labels, sizeof *m->labels);
    m->layers = es__malloc_array((size_t)n_layers, sizeof *m->layers);
    if (!m->labels || !m->layers) {
        rc = es__fail(ES_ENOMEM, "out of memory creating a model");
        goto fail;
    }
    for (int i = 0; i < n_labels; i++) {
        if (!labels[i][0] || strlen(labels[i]) >= ES_LABEL_MAX) {
            rc = es__fail(ES_EINVAL, "label %d must be a name of 1 to %d bytes", i,
                          ES_LABEL_MAX - 1);
            goto fail;
        }
        strcpy(m->labels[i], labels[i]);
    }
    m->n_labels = n_labels;
    memcpy(m->layers, layers, (size_t)n_layers * sizeof *layers);
    m->n_layers = n_layers;
    if ((rc = es_net_create(&m->weights, m->layers, n_layers, m->input, 0, 0)) < 0) goto fail;
    if (es_net_num_outputs(m->weights) != n_labels) {
        rc = es__fail(ES_ECONFIG, "the network outputs %d values for %d labels",
                      es_net_num_outputs(m->weights), n_labels);
        goto fail;
    }
    es_net_init_params(m->weights, seed);
    *out = m;
    return 0;
fail:
    es_model_free(m);
    return rc;
}

int es_model_instantiate(const es_model *m, int max_batch, unsigned flags, es_net **net) {
    int rc = es_net_create(net, m->layers, m->n_layers, m->input, max_batch, flags);
    if (rc < 0) return rc;
    if ((rc = es_net_copy_weights(*net, m->weights)) < 0) {
        es_net_free(*net);
        *net = NULL;
    }
    return rc;
}

int es_model_set_weights(es_model *m, const es_net *net) {
    return es_net_copy_weights(m->weights, net);
}

int es_model_average_weights(es_model *m, const es_net *net, int n) {
    return es_net_average_weights(m->weights, net, n);
}

void es__model_meta_free(es__model_meta *mm) {
    es__free(mm->labels);
    es__free(mm->arch);
    es__free(mm->augment);
    memset(mm, 0, sizeof *mm);
}

int es__model_meta_init(es__model_meta *mm, const es_model *m) {
    json_t *jl = json_array();
    char *s;
    int rc;
    memset(mm, 0, sizeof *mm);
    if (!jl) return es__fail(ES_ENOMEM, "out of memory describing a model");
    for (int i = 0; i < m->n_labels; i++) json_array_append_new(jl, json_string(m->labels[i]));
    s = json_dumps(jl, JSON_COMPACT);
    json_decref(jl);
    mm->labels = s ? es__strdup(s) : NULL;
    free(s);
    if (!mm->labels) return es__fail(ES_ENOMEM, "out of memory describing a model");
    if ((rc = es_feature_desc_to_json(&m->features, mm->features, sizeof mm->features)) < 0 ||
        (rc = es_arch_to_json(m->layers, m->n_layers, &mm->arch)) < 0) {
        es__model_meta_free(mm);
        return rc;
    }
    mm->keys[0] = "earshot.format";
    mm->keys[1] = "earshot.labels";
    mm->keys[2] = "earshot.features";
    mm->keys[3] = "earshot.arch";
    mm->vals[0] = "1";
    mm->vals[1] = mm->labels;
    mm->vals[2] = mm->features;
    mm->vals[3] = mm->arch;
    mm->n = 4;
    if (m->has_augment) {
        if ((rc = es_augment_to_json(&m->augment, &mm->augment)) < 0) {
            es__model_meta_free(mm);
            return rc;
        }
        mm->keys[4] = "earshot.augment";
        mm->vals[4] = mm->augment;
        mm->n = 5;
    }
    return 0;
}

int es__model_tensors(const es_net *net, const char *prefix, es__st_out *outs, char *names,
                      size_t name_cap) {
    for (int i = 0; i < es_net_num_tensors(net); i++) {
        const es_tensor *t = es_net_tensor_at(net, i);
        outs[i].name = t->name;
        if (prefix) {
            if ((size_t)snprintf(names, name_cap, "%s%s", prefix, t->name) >= name_cap)
                return es__fail(ES_ERANGE, "tensor name '%s%s' is too long", prefix, t->name);
            outs[i].name = names;
            names += name_cap;
        }
        outs[i].ndim = t->ndim;
        outs[i].shape = t->shape;
        outs[i].dtype = t->kind == ES_TENSOR_COUNTER ? ES__ST_I64 : ES__ST_F32;
        outs[i].data = t->kind == ES_TENSOR_COUNTER ? (const void *)t->counter
                                                     : (const void *)t->data;
    }
    return 0;
}

/* The file's bytes: to a path (atomically) when path is set, else into *buf. */
static int model_write(const es_model *m, const char *path, unsigned char **buf, size_t *len) {
    const es_net *net = m->weights;
    int n = es_net_num_tensors(net), rc;
    es__st_out *outs = es__calloc((size_t)n, sizeof *outs);
    es__model_meta mm;
    if (!outs) return es__fail(ES_ENOMEM, "out of memory saving a model");
    if ((rc = es__model_meta_init(&mm, m)) < 0) {
        es__free(outs);
        return rc;
    }
    es__model_tensors(net, NULL, outs, NULL, 0);
    if (path)
        rc = es__st_write(path, outs, (size_t)n, mm.keys, mm.vals, mm.n);
    else
        rc = es__st_serialize("model", outs, (size_t)n, mm.keys, mm.vals, mm.n, buf, len);
    es__model_meta_free(&mm);
    es__free(outs);
    return rc;
}

int es_model_save(const es_model *m, const char *path) {
    if (!m || !path) return es__fail(ES_EINVAL, "es_model_save: NULL argument");
    return model_write(m, path, NULL, NULL);
}

int es_model_serialize(const es_model *m, unsigned char **buf, size_t *len) {
    if (!m || !buf || !len) return es__fail(ES_EINVAL, "es_model_serialize: NULL argument");
    return model_write(m, NULL, buf, len);
}

int es_model_copy(const es_model *m, es_model **out) {
    unsigned char *buf;
    size_t len;
    int rc;
    if (!out) return es__fail(ES_EINVAL, "es_model_copy: NULL argument");
    *out = NULL;
    if ((rc = es_model_serialize(m, &buf, &len)) < 0) return rc;
    rc = es_model_load_buffer(out, buf, len, "a model copy");
    es__free(buf);
    return rc;
}

/* Copies src's tensors into dst's by name; the last linear layer's weight
 * [K, in] and bias [K] go into the first K rows of dst's larger ones. */
static void copy_grown(es_net *dst, const es_net *src) {
    for (int i = 0; i < es_net_num_tensors(src); i++) {
        const es_tensor *s = es_net_tensor_at(src, i);
        const es_tensor *d = es_net_tensor(dst, s->name);
        if (s->kind == ES_TENSOR_COUNTER)
            *d->counter = *s->counter;
        else
            memcpy(d->data, s->data, s->numel * sizeof *s->data);  /* rows first: a prefix */
    }
}

int es_model_add_labels(const es_model *m, const char *const *names, int n, uint64_t seed,
                        es_model **out) {
    const char **labels = NULL;
    es_layer_spec *layers = NULL;
    const es_layer_spec *last;
    es_model *g = NULL;
    int K = m ? m->n_labels + n : 0, rc;
    if (!m || !out || n < 0 || (n && !names))
        return es__fail(ES_EINVAL, "es_model_add_labels: bad arguments");
    *out = NULL;
    last = &m->layers[m->n_layers - 1];
    if (last->type != ES_LAYER_LINEAR)
        return es__fail(ES_ECONFIG, "a class can be added only when the last layer is linear");
    if (K > ES_MAX_LABELS)
        return es__fail(ES_ERANGE, "a model has at most %d labels", ES_MAX_LABELS);
    for (int i = 0; i < n; i++) {
        if (!names[i] || !names[i][0] || strlen(names[i]) >= ES_LABEL_MAX)
            return es__fail(ES_EINVAL, "label '%s' must be 1 to %d bytes", names[i] ? names[i] : "",
                            ES_LABEL_MAX - 1);
        if (es_model_label_index(m, names[i]) >= 0)
            return es__fail(ES_EINVAL, "the model already has label '%s'", names[i]);
        for (int j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return es__fail(ES_EINVAL, "label '%s' is given twice", names[i]);
    }
    labels = es__malloc_array((size_t)K, sizeof *labels);
    layers = es__malloc_array((size_t)m->n_layers, sizeof *layers);
    if (!labels || !layers) {
        rc = es__fail(ES_ENOMEM, "out of memory adding labels");
        goto out;
    }
    for (int i = 0; i < m->n_labels; i++) labels[i] = m->labels[i];
    for (int i = 0; i < n; i++) labels[m->n_labels + i] = names[i];
    memcpy(layers, m->layers, (size_t)m->n_layers * sizeof *layers);
    layers[m->n_layers - 1].out = K;
    /* fresh weights everywhere (PyTorch's init, so new rows start as a new
     * layer would), then the old values over them */
    if ((rc = es_model_create(&g, layers, m->n_layers, &m->features, labels, K, seed)) < 0)
        goto out;
    copy_grown(g->weights, m->weights);
    g->has_augment = m->has_augment;
    g->augment = m->augment;
    {
        /* a new class starts below every old one, so the grown model answers
         * as the old one did until it has learned the new class */
        const es_tensor *b = last->bias[0] ? es_net_tensor(g->weights, last->bias) : NULL;
        if (b) {
            float lo = b->data[0];
            for (int k = 1; k < m->n_labels; k++) lo = b->data[k] < lo ? b->data[k] : lo;
            for (int k = m->n_labels; k < K; k++) b->data[k] = lo - 4.0f;
        }
    }
    *out = g;
    g = NULL;
    rc = 0;
out:
    es_model_free(g);
    es__free(labels);
    es__free(layers);
    return rc;
}

/* core/arch.c — the `earshot.arch` JSON array: parsing, checking, writing. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/nn.h"
#include "internal.h"

/* Generous bounds: far beyond any audio CNN, small enough that no product
 * of them overflows the size arithmetic downstream. */
#define MAX_LAYERS 256
#define MAX_UNITS 1048576
#define MAX_KERNEL 64

typedef struct {
    json_t *obj;
    const char *origin;
    int index;
    const char *type;
} lreader;

static const char *const type_names[] = {"conv2d", "relu", "maxpool2d", "avgpool2d",
                                         "global_avgpool", "batchnorm2d", "dropout", "flatten",
                                         "linear"};
#define N_TYPES ((int)(sizeof type_names / sizeof type_names[0]))

/* Keys each type accepts, beyond "type". */
static const char *const keys_of[N_TYPES][10] = {
    {"in", "out", "kernel", "stride", "padding", "weight", "bias", "dilation", "groups", NULL},
    {NULL},
    {"kernel", "stride", "padding", NULL},
    {"kernel", "stride", "padding", NULL},
    {NULL},
    {"num_features", "eps", "momentum", "weight", "bias", "running_mean", "running_var",
     "num_batches_tracked", NULL},
    {"p", NULL},
    {NULL},
    {"in", "out", "weight", "bias", NULL},
};


static int get_int(lreader *r, const char *key, int required, int def, int lo, int hi,
                   int *out) {
    json_t *v = json_object_get(r->obj, key);
    json_int_t x;
    if (!v) {
        if (required)
            return es__fail(ES_ECONFIG, "%s: arch layer %d (%s): key '%s' is missing", r->origin,
                            r->index, r->type, key);
        *out = def;
        return 0;
    }
    if (!json_is_integer(v))
        return es__fail(ES_ECONFIG, "%s: arch layer %d (%s): key '%s' must be an integer",
                        r->origin, r->index, r->type, key);
    x = json_integer_value(v);
    if (x < lo || x > hi)
        return es__fail(ES_ECONFIG, "%s: arch layer %d (%s): key '%s' is %lld, must be from %d "
                        "to %d", r->origin, r->index, r->type, key, (long long)x, lo, hi);
    *out = (int)x;
    return 0;
}

/* An int or an [h, w] pair. */
static int get_pair(lreader *r, const char *key, int required, int def, int lo, int hi, int *h,
                    int *w) {
    json_t *v = json_object_get(r->obj, key);
    if (v && json_is_array(v)) {
        json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
        if (json_array_size(v) != 2 || !json_is_integer(a) || !json_is_integer(b))
            return es__fail(ES_ECONFIG, "%s: arch layer %d (%s): key '%s' must be an integer or "
                            "[h, w]", r->origin, r->index, r->type, key);
        if (json_integer_value(a) < lo || json_integer_value(a) > hi ||
            json_integer_value(b) < lo || json_integer_value(b) > hi)
            return es__fail(ES_ECONFIG, "%s: arch layer %d (%s): key '%s' must be from %d to %d",
                            r->origin, r->index, r->type, key, lo, hi);
        *h = (int)json_integer_value(a);
        *w = (int)json_integer_value(b);
        return 0;
    }
    {
        int rc = get_int(r, key, required, def, lo, hi, h);
        *w = *h;
        return rc;
    }
}

static int get_real(lreader *r, const char *key, double def, double lo, double hi, int lo_open,
                    double *out) {
    json_t *v = json_object_get(r->obj, key);
    double x = def;
    if (v) {
        if (!json_is_number(v))
            return es__fail(ES_ECONFIG, "%s: arch layer %d (%s): key '%s' must be a number",
                            r->origin, r->index, r->type, key);
        x = json_number_value(v);
    }
    if (!(lo_open ? x > lo : x >= lo) || !(x <= hi))
        return es__fail(ES_ECONFIG, "%s: arch layer %d (%s): key '%s' is %g, must be in %s%g, "
                        "%g]", r->origin, r->index, r->type, key, x, lo_open ? "(" : "[", lo,
                        hi);
    *out = x;
    return 0;
}

/* A tensor name; optional ones may be null or absent (then ""). */
static int get_name(lreader *r, const char *key, int required, char *out) {
    json_t *v = json_object_get(r->obj, key);
    const char *s;
    out[0] = '\0';
    if (!v || json_is_null(v)) {
        if (required)
            return es__fail(ES_ECONFIG, "%s: arch layer %d (%s): tensor name '%s' is missing",
                            r->origin, r->index, r->type, key);
        return 0;
    }
    if (!json_is_string(v) || !(s = json_string_value(v))[0])
        return es__fail(ES_ECONFIG, "%s: arch layer %d (%s): key '%s' must be a tensor name",
                        r->origin, r->index, r->type, key);
    if (strlen(s) >= ES_TENSOR_NAME_MAX)
        return es__fail(ES_ECONFIG, "%s: arch layer %d (%s): tensor name '%.40s...' is longer "
                        "than %d bytes", r->origin, r->index, r->type, s, ES_TENSOR_NAME_MAX - 1);
    strcpy(out, s);
    return 0;
}

/* Keys PyTorch modules carry that earshot supports only at their neutral
 * value (conv dilation and groups 1, pool padding 0): accepted so a
 * straightforward export loads, refused by name otherwise. */
static int require_neutral(lreader *r, const char *key, int neutral) {
    int h = neutral, w = neutral, rc;
    if (!json_object_get(r->obj, key)) return 0;
    if ((rc = get_pair(r, key, 1, 0, 0, MAX_KERNEL, &h, &w)) < 0) return rc;
    if (h != neutral || w != neutral)
        return es__fail(ES_ECONFIG, "%s: arch layer %d (%s): %s %d is not supported (only %d)",
                        r->origin, r->index, r->type, key, h != neutral ? h : w, neutral);
    return 0;
}

static int parse_layer(es_layer_spec *sp, lreader *r) {
    const char *key;
    json_t *v;
    int t, rc = 0;
    json_t *tv = json_object_get(r->obj, "type");
    if (!json_is_string(tv))
        return es__fail(ES_ECONFIG, "%s: arch layer %d: key 'type' must be a string", r->origin,
                        r->index);
    for (t = 0; t < N_TYPES; t++)
        if (strcmp(json_string_value(tv), type_names[t]) == 0) break;
    if (t == N_TYPES)
        return es__fail(ES_ECONFIG, "%s: arch layer %d: unknown type '%s'", r->origin, r->index,
                        json_string_value(tv));
    r->type = type_names[t];
    json_object_foreach(r->obj, key, v) {
        int ok = strcmp(key, "type") == 0;
        (void)v;
        for (int k = 0; !ok && keys_of[t][k]; k++) ok = strcmp(key, keys_of[t][k]) == 0;
        if (!ok)
            return es__fail(ES_ECONFIG, "%s: arch layer %d (%s): unknown key '%s'", r->origin,
                            r->index, r->type, key);
    }
    memset(sp, 0, sizeof *sp);
    sp->type = (es_layer_type)t;
    switch (sp->type) {
    case ES_LAYER_CONV2D:
        if ((rc = get_int(r, "in", 1, 0, 1, MAX_UNITS, &sp->in)) < 0 ||
            (rc = get_int(r, "out", 1, 0, 1, MAX_UNITS, &sp->out)) < 0 ||
            (rc = get_pair(r, "kernel", 1, 0, 1, MAX_KERNEL, &sp->kh, &sp->kw)) < 0 ||
            (rc = get_pair(r, "stride", 0, 1, 1, MAX_KERNEL, &sp->sh, &sp->sw)) < 0 ||
            (rc = get_pair(r, "padding", 0, 0, 0, MAX_KERNEL, &sp->ph, &sp->pw)) < 0 ||
            (rc = get_name(r, "weight", 1, sp->weight)) < 0 ||
            (rc = get_name(r, "bias", 0, sp->bias)) < 0 ||
            (rc = require_neutral(r, "dilation", 1)) < 0 ||
            (rc = require_neutral(r, "groups", 1)) < 0)
            return rc;
        break;
    case ES_LAYER_MAXPOOL2D:
    case ES_LAYER_AVGPOOL2D:
        if ((rc = get_pair(r, "kernel", 1, 0, 1, MAX_KERNEL, &sp->kh, &sp->kw)) < 0 ||
            (rc = require_neutral(r, "padding", 0)) < 0)
            return rc;
        /* PyTorch: stride defaults to the kernel size */
        if (!json_object_get(r->obj, "stride") || json_is_null(json_object_get(r->obj, "stride"))) {
            sp->sh = sp->kh;
            sp->sw = sp->kw;
        } else if ((rc = get_pair(r, "stride", 1, 0, 1, MAX_KERNEL, &sp->sh, &sp->sw)) < 0) {
            return rc;
        }
        break;
    case ES_LAYER_BATCHNORM2D:
        if ((rc = get_int(r, "num_features", 1, 0, 1, MAX_UNITS, &sp->in)) < 0 ||
            (rc = get_real(r, "eps", 1e-5, 0.0, 1.0, 1, &sp->eps)) < 0 ||
            (rc = get_real(r, "momentum", 0.1, 0.0, 1.0, 0, &sp->momentum)) < 0 ||
            (rc = get_name(r, "weight", 1, sp->weight)) < 0 ||
            (rc = get_name(r, "bias", 1, sp->bias)) < 0 ||
            (rc = get_name(r, "running_mean", 1, sp->running_mean)) < 0 ||
            (rc = get_name(r, "running_var", 1, sp->running_var)) < 0 ||
            (rc = get_name(r, "num_batches_tracked", 0, sp->num_batches_tracked)) < 0)
            return rc;
        sp->out = sp->in;
        break;
    case ES_LAYER_DROPOUT:
        if ((rc = get_real(r, "p", 0.5, 0.0, 1.0, 0, &sp->p)) < 0) return rc;
        if (sp->p >= 1.0)
            return es__fail(ES_ECONFIG, "%s: arch layer %d (dropout): p must be below 1",
                            r->origin, r->index);
        break;
    case ES_LAYER_LINEAR:
        if ((rc = get_int(r, "in", 1, 0, 1, 1 << 28, &sp->in)) < 0 ||
            (rc = get_int(r, "out", 1, 0, 1, MAX_UNITS, &sp->out)) < 0 ||
            (rc = get_name(r, "weight", 1, sp->weight)) < 0 ||
            (rc = get_name(r, "bias", 0, sp->bias)) < 0)
            return rc;
        break;
    default:
        break;
    }
    return 0;
}

int es_arch_parse(const char *json, const char *origin, es_layer_spec **layers, int *n_layers) {
    json_error_t jerr;
    json_t *root;
    es_layer_spec *out = NULL;
    size_t n;
    int rc = 0;
    if (!origin) origin = "arch";
    root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return es__fail(ES_EJSON, "%s: earshot.arch is not valid JSON (line %d, column %d: %s)",
                        origin, jerr.line, jerr.column, jerr.text);
    if (!json_is_array(root) || (n = json_array_size(root)) == 0 || n > MAX_LAYERS) {
        json_decref(root);
        return es__fail(ES_ECONFIG, "%s: earshot.arch must be an array of 1 to %d layers",
                        origin, MAX_LAYERS);
    }
    out = es__calloc(n, sizeof *out);
    if (!out) {
        json_decref(root);
        return es__fail(ES_ENOMEM, "out of memory parsing earshot.arch");
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        lreader r = {json_array_get(root, i), origin, (int)i, "?"};
        if (!json_is_object(r.obj))
            rc = es__fail(ES_ECONFIG, "%s: arch layer %zu is not an object", origin, i);
        else
            rc = parse_layer(&out[i], &r);
    }
    json_decref(root);
    if (rc < 0) {
        es__free(out);
        return rc;
    }
    *layers = out;
    *n_layers = (int)n;
    return 0;
}

static json_t *pair(int h, int w) {
    return h == w ? json_integer(h) : json_pack("[ii]", h, w);
}

static json_t *name_or_null(const char *s) { return s[0] ? json_string(s) : json_null(); }

int es_arch_to_json(const es_layer_spec *layers, int n_layers, char **out) {
    json_t *arr = json_array();
    char *s;
    if (!arr) return es__fail(ES_ENOMEM, "out of memory writing earshot.arch");
    for (int i = 0; i < n_layers; i++) {
        const es_layer_spec *sp = &layers[i];
        json_t *o = NULL;
        switch (sp->type) {
        case ES_LAYER_CONV2D:
            o = json_pack("{sssisisososososo}", "type", "conv2d", "in", sp->in, "out", sp->out,
                          "kernel", pair(sp->kh, sp->kw), "stride", pair(sp->sh, sp->sw),
                          "padding", pair(sp->ph, sp->pw), "weight", json_string(sp->weight),
                          "bias", name_or_null(sp->bias));
            break;
        case ES_LAYER_MAXPOOL2D:
        case ES_LAYER_AVGPOOL2D:
            o = json_pack("{sssoso}", "type", type_names[sp->type], "kernel",
                          pair(sp->kh, sp->kw), "stride", pair(sp->sh, sp->sw));
            break;
        case ES_LAYER_BATCHNORM2D:
            o = json_pack("{sssisfsfssssssssso}", "type", "batchnorm2d", "num_features", sp->in,
                          "eps", sp->eps, "momentum", sp->momentum, "weight",
                          sp->weight, "bias", sp->bias, "running_mean", sp->running_mean,
                          "running_var", sp->running_var, "num_batches_tracked",
                          name_or_null(sp->num_batches_tracked));
            break;
        case ES_LAYER_DROPOUT:
            o = json_pack("{sssf}", "type", "dropout", "p", sp->p);
            break;
        case ES_LAYER_LINEAR:
            o = json_pack("{sssisisoso}", "type", "linear", "in", sp->in, "out", sp->out,
                          "weight", json_string(sp->weight), "bias", name_or_null(sp->bias));
            break;
        default:
            o = json_pack("{ss}", "type", type_names[sp->type]);
            break;
        }
        if (!o || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            return es__fail(ES_ENOMEM, "out of memory writing earshot.arch");
        }
    }
    /* 15 digits: eps, momentum and p are decimal settings; 17 would print
     * 1e-05 as 1.0000000000000001e-05 */
    s = json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(arr);
    if (!s) return es__fail(ES_ENOMEM, "out of memory writing earshot.arch");
    *out = es__strdup(s);
    free(s);
    if (!*out) return es__fail(ES_ENOMEM, "out of memory writing earshot.arch");
    return 0;
}

/* core/safetensors.c — parsing and writing the safetensors container. */
#include "safetensors.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/file.h"
#include "fileio.h"
#include "internal.h"

#define META_KEY "__metadata__"
/* The reference writer pads the header so that the data starts 8-byte aligned. */
#define DATA_ALIGN 8
/* Bound on the data a writer lays out: far past any model, and every offset
 * below it is a JSON integer. */
#define WRITE_MAX ((uint64_t)1 << 62)

/* Indexed by es__st_dtype. */
static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [ES__ST_F32] = {"F32", 4}, [ES__ST_F64] = {"F64", 8}, [ES__ST_F16] = {"F16", 2},
    [ES__ST_BF16] = {"BF16", 2}, [ES__ST_I64] = {"I64", 8}, [ES__ST_I32] = {"I32", 4},
    [ES__ST_I16] = {"I16", 2},    [ES__ST_I8] = {"I8", 1}, [ES__ST_U8] = {"U8", 1}, [ES__ST_BOOL] = {"BOOL", 1},
};
#define N_DTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))
/* For messages; keep in step with the table above. */
#define DTYPE_LIST "F32, F64, F16, BF16, I64, I32, I16, I8, U8 or BOOL"

size_t es__st_dtype_size(es__st_dtype dt) {
    return ((int)dt >= 0 && (int)dt < N_DTYPES) ? dtypes[dt].size : 0;
}

const char *es__st_dtype_name(es__st_dtype dt) {
    return ((int)dt >= 0 && (int)dt < N_DTYPES) ? dtypes[dt].name : "?";
}

static int dtype_from_name(const char *s) {
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(s, dtypes[i].name) == 0) return i;
    return -1;
}

/* "an array", "a string"...: what a JSON value is, for messages. */
static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    default:
        return "null";
    }
}

/* "[2, 3]" for messages; 8 dims of at most 20 digits always fit in 200 bytes. */
static const char *format_shape(char out[200], const int64_t *shape, int ndim) {
    size_t n = 1;
    out[0] = '[';
    for (int i = 0; i < ndim; i++)
        n += (size_t)snprintf(out + n, 200 - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    snprintf(out + n, 200 - n, "]");
    return out;
}

void es__st_free(es__st_file *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n_tensors; i++) es__free(st->tensors[i].name);
    es__free(st->tensors);
    for (size_t i = 0; i < st->n_meta; i++) {
        es__free(st->meta_keys[i]);
        es__free(st->meta_values[i]);
    }
    es__free(st->meta_keys);
    es__free(st->meta_values);
    memset(st, 0, sizeof *st);
}

/* Where a tensor's bytes lie in the data section, for the coverage check. */
typedef struct {
    uint64_t begin, end;
    size_t index;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    /* qsort is not stable; the index keeps the messages deterministic */
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Reads data_offsets[i] as a non-negative integer. */
static int get_offset(const json_t *offs, size_t i, const char *name, const char *origin,
                      uint64_t *out) {
    const json_t *v = json_array_get(offs, i);
    if (!json_is_integer(v))
        return es__fail(ES_EFORMAT, "'%s': tensor '%s': data_offsets[%zu] is %s, not an integer",
                        origin, name, i, json_kind(v));
    if (json_integer_value(v) < 0)
        return es__fail(ES_EFORMAT, "'%s': tensor '%s': data_offsets[%zu] is %lld, negative",
                        origin, name, i, (long long)json_integer_value(v));
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* Fills t (all but the name) and sp from one header entry, checking it whole. */
static int parse_tensor(es__st_tensor *t, span *sp, const char *name, json_t *entry,
                        const unsigned char *data, size_t data_len, const char *origin) {
    const char *field;
    json_t *v, *dtype = NULL, *shape = NULL, *offs = NULL;
    uint64_t numel = 1, nbytes, begin, end;
    char shp[200];
    int dt, rc;

    if (!json_is_object(entry))
        return es__fail(ES_EFORMAT, "'%s': entry '%s' is %s, not a tensor object", origin, name,
                        json_kind(entry));
    json_object_foreach(entry, field, v) {
        if (strcmp(field, "dtype") == 0)
            dtype = v;
        else if (strcmp(field, "shape") == 0)
            shape = v;
        else if (strcmp(field, "data_offsets") == 0)
            offs = v;
        else
            return es__fail(ES_EFORMAT, "'%s': tensor '%s' has an unknown field '%s' (only "
                            "dtype, shape and data_offsets belong there)", origin, name, field);
    }
    if (!dtype || !shape || !offs)
        return es__fail(ES_EFORMAT, "'%s': tensor '%s' has no '%s'", origin, name,
                        !dtype ? "dtype" : !shape ? "shape" : "data_offsets");

    if (!json_is_string(dtype))
        return es__fail(ES_EFORMAT, "'%s': tensor '%s': dtype is %s, not a string", origin, name,
                        json_kind(dtype));
    dt = dtype_from_name(json_string_value(dtype));
    if (dt < 0)
        return es__fail(ES_EFORMAT, "'%s': tensor '%s': dtype '%s' is not supported (" DTYPE_LIST
                        " are)", origin, name, json_string_value(dtype));
    t->dtype = (es__st_dtype)dt;

    if (!json_is_array(shape))
        return es__fail(ES_EFORMAT, "'%s': tensor '%s': shape is %s, not an array", origin, name,
                        json_kind(shape));
    if (json_array_size(shape) > ES__ST_MAX_DIMS)
        return es__fail(ES_EFORMAT, "'%s': tensor '%s': shape has %zu dimensions, at most %d are "
                        "supported", origin, name, json_array_size(shape), ES__ST_MAX_DIMS);
    t->ndim = (int)json_array_size(shape);
    for (int i = 0; i < t->ndim; i++) {
        json_int_t d;
        v = json_array_get(shape, (size_t)i);
        if (!json_is_integer(v))
            return es__fail(ES_EFORMAT, "'%s': tensor '%s': shape[%d] is %s, not an integer",
                            origin, name, i, json_kind(v));
        d = json_integer_value(v);
        if (d < 0)
            return es__fail(ES_EFORMAT, "'%s': tensor '%s': shape[%d] is %lld, negative", origin,
                            name, i, (long long)d);
        t->shape[i] = d;
        /* overflow is checked in order, as the reference does, even if a later dim is 0 */
        if (d != 0 && numel > UINT64_MAX / (uint64_t)d)
            return es__fail(ES_ERANGE, "'%s': tensor '%s': shape %s has too many elements",
                            origin, name, format_shape(shp, t->shape, i + 1));
        numel *= (uint64_t)d;
    }
    if (numel > UINT64_MAX / dtypes[dt].size)
        return es__fail(ES_ERANGE, "'%s': tensor '%s': shape %s has too many elements", origin,
                        name, format_shape(shp, t->shape, t->ndim));
    nbytes = numel * dtypes[dt].size;

    if (!json_is_array(offs))
        return es__fail(ES_EFORMAT, "'%s': tensor '%s': data_offsets is %s, not an array of "
                        "two integers", origin, name, json_kind(offs));
    if (json_array_size(offs) != 2)
        return es__fail(ES_EFORMAT, "'%s': tensor '%s': data_offsets has %zu elements, not 2 "
                        "(begin and end)", origin, name, json_array_size(offs));
    if ((rc = get_offset(offs, 0, name, origin, &begin)) < 0 ||
        (rc = get_offset(offs, 1, name, origin, &end)) < 0)
        return rc;
    if (begin > end)
        return es__fail(ES_EFORMAT, "'%s': tensor '%s': data_offsets [%llu, %llu] run backwards",
                        origin, name, (unsigned long long)begin, (unsigned long long)end);
    if (end > data_len)
        return es__fail(ES_ETRUNC, "'%s': tensor '%s': data_offsets [%llu, %llu] run past the "
                        "end of the data section (%zu bytes)", origin, name,
                        (unsigned long long)begin, (unsigned long long)end, data_len);
    if (end - begin != nbytes)
        return es__fail(ES_EFORMAT, "'%s': tensor '%s': data_offsets [%llu, %llu] hold %llu "
                        "bytes, but shape %s of %s needs %llu", origin, name,
                        (unsigned long long)begin, (unsigned long long)end,
                        (unsigned long long)(end - begin), format_shape(shp, t->shape, t->ndim),
                        dtypes[dt].name, (unsigned long long)nbytes);
    /* end <= data_len, so every count below fits a size_t */
    t->numel = (size_t)numel;
    t->nbytes = (size_t)nbytes;
    t->data = data + begin;
    sp->begin = begin;
    sp->end = end;
    return 0;
}

static int parse_meta(es__st_file *st, json_t *meta, const char *origin) {
    const char *key;
    json_t *v;
    size_t n;
    if (!json_is_object(meta))
        return es__fail(ES_EFORMAT, "'%s': " META_KEY " is %s, not an object of strings", origin,
                        json_kind(meta));
    n = json_object_size(meta);
    json_object_foreach(meta, key, v) {
        if (!json_is_string(v))
            return es__fail(ES_EFORMAT, "'%s': " META_KEY " key '%s' is %s, not a string", origin,
                            key, json_kind(v));
    }
    if (n == 0) return 0;
    st->meta_keys = es__calloc(n, sizeof *st->meta_keys);
    st->meta_values = es__calloc(n, sizeof *st->meta_values);
    if (!st->meta_keys || !st->meta_values)
        return es__fail(ES_ENOMEM, "out of memory reading '%s'", origin);
    json_object_foreach(meta, key, v) {
        /* counted first, so es__st_free releases a key whose value failed */
        st->meta_keys[st->n_meta++] = es__strdup(key);
        st->meta_values[st->n_meta - 1] = es__strdup(json_string_value(v));
        if (!st->meta_keys[st->n_meta - 1] || !st->meta_values[st->n_meta - 1])
            return es__fail(ES_ENOMEM, "out of memory reading '%s'", origin);
    }
    return 0;
}

/* The data section must be covered exactly once, in the reference's terms:
 * sorted by offsets, each tensor starts where the previous one ended and the
 * last one ends at the end of the file. */
static int check_coverage(const es__st_file *st, span *spans, size_t data_len,
                          const char *origin) {
    uint64_t at = 0;
    if (st->n_tensors) qsort(spans, st->n_tensors, sizeof *spans, span_cmp);
    for (size_t i = 0; i < st->n_tensors; i++) {
        const span *s = &spans[i];
        if (s->begin < at)
            return es__fail(ES_EFORMAT, "'%s': tensors '%s' and '%s' overlap (data_offsets "
                            "[%llu, %llu] and [%llu, %llu])", origin,
                            st->tensors[spans[i - 1].index].name, st->tensors[s->index].name,
                            (unsigned long long)spans[i - 1].begin,
                            (unsigned long long)spans[i - 1].end, (unsigned long long)s->begin,
                            (unsigned long long)s->end);
        if (s->begin > at)
            return es__fail(ES_EFORMAT, "'%s': bytes [%llu, %llu) of the data section, before "
                            "tensor '%s', belong to no tensor (a hole)", origin,
                            (unsigned long long)at, (unsigned long long)s->begin,
                            st->tensors[s->index].name);
        at = s->end;
    }
    if (at == data_len) return 0;
    if (st->n_tensors == 0)
        return es__fail(ES_EFORMAT, "'%s': the header lists no tensors, but %zu trailing data "
                        "bytes follow it", origin, data_len);
    return es__fail(ES_EFORMAT, "'%s': %llu trailing bytes after tensor '%s' belong to no "
                    "tensor (data section is %zu bytes, tensors end at %llu)", origin,
                    (unsigned long long)(data_len - at),
                    st->tensors[spans[st->n_tensors - 1].index].name, data_len,
                    (unsigned long long)at);
}

static int parse_header(es__st_file *st, json_t *root, const unsigned char *data,
                        size_t data_len, const char *origin) {
    const char *key;
    json_t *v, *meta = json_object_get(root, META_KEY);
    size_t n = json_object_size(root) - (meta ? 1 : 0);
    span *spans = NULL;
    int rc = 0;

    if (meta && (rc = parse_meta(st, meta, origin)) < 0) return rc;
    if (n > 0) {
        st->tensors = es__calloc(n, sizeof *st->tensors);
        spans = es__malloc_array(n, sizeof *spans);
        if (!st->tensors || !spans) {
            es__free(spans);
            return es__fail(ES_ENOMEM, "out of memory reading '%s'", origin);
        }
    }
    json_object_foreach(root, key, v) {
        es__st_tensor *t;
        if (v == meta) continue;
        t = &st->tensors[st->n_tensors];
        rc = parse_tensor(t, &spans[st->n_tensors], key, v, data, data_len, origin);
        if (rc < 0) break;
        if (!(t->name = es__strdup(key))) {
            rc = es__fail(ES_ENOMEM, "out of memory reading '%s'", origin);
            break;
        }
        spans[st->n_tensors].index = st->n_tensors;
        st->n_tensors++;
    }
    if (rc == 0) rc = check_coverage(st, spans, data_len, origin);
    es__free(spans);
    return rc;
}

int es__st_parse(es__st_file *st, const void *buf, size_t len, const char *origin) {
    const unsigned char *b = buf;
    es__st_file out;
    json_error_t jerr;
    json_t *root;
    uint64_t n = 0;
    int rc;

    if (!st) return es__fail(ES_EINVAL, "es__st_parse: NULL file");
    memset(st, 0, sizeof *st);
    if (!origin) origin = "safetensors";
    if (!buf && len) return es__fail(ES_EINVAL, "es__st_parse: '%s': NULL buffer", origin);
    if (len < 8)
        return es__fail(ES_ETRUNC, "'%s': %zu bytes is too short for the 8-byte header length",
                        origin, len);
    /* assembled byte by byte: the format is little-endian whatever the host is */
    for (int i = 7; i >= 0; i--) n = (n << 8) | b[i];
    /* A safetensors file opens with a small length and then '{': anything
     * else (a text file, a .pt pickle, a WAV) is called what it is. */
    if (n > ES__ST_HEADER_MAX)
        return es__fail(ES_ERANGE, "'%s': header length %llu exceeds 16 MiB%s", origin,
                        (unsigned long long)n,
                        b[8 < len ? 8 : 0] != '{' ? " (not a safetensors file?)" : "");
    if (n > len - 8)
        return es__fail(ES_ETRUNC, "'%s': header length %llu runs past the end of the file "
                        "(%zu bytes)", origin, (unsigned long long)n, len);

    root = json_loadb((const char *)b + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return es__fail(ES_ENOMEM, "out of memory reading '%s'", origin);
        return es__fail(ES_EJSON, "'%s': header is not valid JSON at line %d, column %d: %s",
                        origin, jerr.line, jerr.column, jerr.text);
    }
    if (!json_is_object(root)) {
        rc = es__fail(ES_EFORMAT, "'%s': header is %s, not a JSON object", origin,
                      json_kind(root));
        json_decref(root);
        return rc;
    }
    memset(&out, 0, sizeof out);
    rc = parse_header(&out, root, b + 8 + n, len - 8 - (size_t)n, origin);
    json_decref(root);
    if (rc < 0) {
        es__st_free(&out);
        return rc;
    }
    *st = out;
    es__clear_error();
    return 0;
}

const es__st_tensor *es__st_find(const es__st_file *st, const char *name) {
    if (!st || !name) return NULL;
    for (size_t i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

const char *es__st_meta(const es__st_file *st, const char *key) {
    if (!st || !key) return NULL;
    for (size_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

/* Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF),
 * as jansson demands of every string; checked here so that the _nocheck
 * setters below can only fail for want of memory. */
static int utf8_valid(const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s++, cp;
        int extra;
        if (c < 0x80) continue;
        if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        for (int i = 0; i < extra; i++, s++) {
            if ((*s & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (*s & 0x3f);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
    }
    return 1;
}

/* Checks every argument of es__st_write and returns the data size of each
 * tensor in nbytes[]. */
static int check_out(const char *path, const es__st_out *tensors, size_t n_tensors,
                     const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                     size_t *nbytes) {
    uint64_t total = 0;
    if (n_tensors && !tensors)
        return es__fail(ES_EINVAL, "es__st_write '%s': NULL tensor array", path);
    if (n_meta && (!meta_keys || !meta_values))
        return es__fail(ES_EINVAL, "es__st_write '%s': NULL metadata array", path);
    for (size_t i = 0; i < n_tensors; i++) {
        const es__st_out *t = &tensors[i];
        uint64_t numel = 1, nb;
        if (!t->name)
            return es__fail(ES_EINVAL, "es__st_write '%s': tensor %zu has no name", path, i);
        if (!utf8_valid(t->name) || strcmp(t->name, META_KEY) == 0)
            return es__fail(ES_EINVAL, "es__st_write '%s': tensor %zu: name '%s' is not valid "
                            "UTF-8 or is reserved", path, i, t->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(tensors[j].name, t->name) == 0)
                return es__fail(ES_EINVAL, "es__st_write '%s': tensor '%s' appears twice", path,
                                t->name);
        if ((int)t->dtype < 0 || (int)t->dtype >= N_DTYPES)
            return es__fail(ES_EINVAL, "es__st_write '%s': tensor '%s': dtype %d is unknown",
                            path, t->name, (int)t->dtype);
        if (t->ndim < 0 || t->ndim > ES__ST_MAX_DIMS || (t->ndim && !t->shape))
            return es__fail(ES_EINVAL, "es__st_write '%s': tensor '%s': ndim %d is not 0 to %d "
                            "or shape is NULL", path, t->name, t->ndim, ES__ST_MAX_DIMS);
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0)
                return es__fail(ES_EINVAL, "es__st_write '%s': tensor '%s': shape[%d] is %lld",
                                path, t->name, d, (long long)t->shape[d]);
            if (t->shape[d] && numel > UINT64_MAX / (uint64_t)t->shape[d])
                return es__fail(ES_ERANGE, "es__st_write '%s': tensor '%s' has too many "
                                "elements", path, t->name);
            numel *= (uint64_t)t->shape[d];
        }
        /* offsets stay below 2^62, so every one is a JSON integer, and fit a size_t */
        if (numel > WRITE_MAX / 8 || (nb = numel * dtypes[t->dtype].size) > WRITE_MAX - total ||
            (size_t)(total + nb) != total + nb)
            return es__fail(ES_ERANGE, "es__st_write '%s': tensor '%s' is too large", path,
                            t->name);
        nbytes[i] = (size_t)nb;
        total += nb;
        if (nbytes[i] && !t->data)
            return es__fail(ES_EINVAL, "es__st_write '%s': tensor '%s' has NULL data", path,
                            t->name);
    }
    for (size_t i = 0; i < n_meta; i++) {
        if (!meta_keys[i] || !meta_values[i])
            return es__fail(ES_EINVAL, "es__st_write '%s': metadata entry %zu is NULL", path, i);
        if (!utf8_valid(meta_keys[i]) || !utf8_valid(meta_values[i]))
            return es__fail(ES_EINVAL, "es__st_write '%s': metadata key '%s' or its value is not "
                            "valid UTF-8", path, meta_keys[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(meta_keys[j], meta_keys[i]) == 0)
                return es__fail(ES_EINVAL, "es__st_write '%s': metadata key '%s' appears twice",
                                path, meta_keys[i]);
    }
    return 0;
}

/* The header object, NULL for want of memory. The jansson setters steal the
 * new value and fail on NULL, so one check per entry covers every allocation. */
static json_t *build_header(const es__st_out *tensors, size_t n_tensors,
                            const char *const *meta_keys, const char *const *meta_values,
                            size_t n_meta, const size_t *nbytes) {
    json_t *hdr = json_object(), *meta;
    size_t off = 0;
    if (!hdr) return NULL;
    /* the reference writer puts the metadata first */
    if (n_meta) {
        if (json_object_set_new_nocheck(hdr, META_KEY, meta = json_object()) < 0) goto fail;
        for (size_t i = 0; i < n_meta; i++)
            if (json_object_set_new_nocheck(meta, meta_keys[i],
                                            json_string_nocheck(meta_values[i])) < 0)
                goto fail;
    }
    for (size_t i = 0; i < n_tensors; i++) {
        const es__st_out *t = &tensors[i];
        json_t *e, *shape;
        const char *dt = dtypes[t->dtype].name;
        if (json_object_set_new_nocheck(hdr, t->name, e = json_object()) < 0 ||
            json_object_set_new_nocheck(e, "dtype", json_string_nocheck(dt)) < 0 ||
            json_object_set_new_nocheck(e, "shape", shape = json_array()) < 0 ||
            json_object_set_new_nocheck(e, "data_offsets",
                                        json_pack("[II]", (json_int_t)off,
                                                  (json_int_t)(off + nbytes[i]))) < 0)
            goto fail;
        for (int d = 0; d < t->ndim; d++)
            if (json_array_append_new(shape, json_integer(t->shape[d])) < 0) goto fail;
        off += nbytes[i];
    }
    return hdr;
fail:
    json_decref(hdr);
    return NULL;
}

int es__st_serialize(const char *origin, const es__st_out *tensors, size_t n_tensors,
                     const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                     unsigned char **buf, size_t *len) {
    size_t *nbytes = NULL, hlen, padded, total = 0;
    json_t *hdr = NULL;
    unsigned char *out = NULL, *p;
    int rc;

    *buf = NULL;
    *len = 0;
    nbytes = es__malloc_array(n_tensors ? n_tensors : 1, sizeof *nbytes);
    if (!nbytes) return es__fail(ES_ENOMEM, "out of memory writing '%s'", origin);
    rc = check_out(origin, tensors, n_tensors, meta_keys, meta_values, n_meta, nbytes);
    if (rc < 0) goto out;
    hdr = build_header(tensors, n_tensors, meta_keys, meta_values, n_meta, nbytes);
    hlen = hdr ? json_dumpb(hdr, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER) : 0;
    if (hlen == 0) {
        rc = es__fail(ES_ENOMEM, "out of memory writing '%s'", origin);
        goto out;
    }
    /* spaces after the JSON, so that 8 + N (where the data starts) is aligned */
    padded = hlen + (DATA_ALIGN - hlen % DATA_ALIGN) % DATA_ALIGN;
    if (padded > ES__ST_HEADER_MAX) {
        rc = es__fail(ES_ERANGE, "es__st_write '%s': header of %zu bytes exceeds 16 MiB", origin,
                      padded);
        goto out;
    }
    for (size_t i = 0; i < n_tensors; i++) total += nbytes[i];   /* bounded by check_out */
    if (!(out = es__malloc(8 + padded + total))) {
        rc = es__fail(ES_ENOMEM, "out of memory writing '%s'", origin);
        goto out;
    }
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    if (json_dumpb(hdr, (char *)out + 8, padded, JSON_COMPACT | JSON_PRESERVE_ORDER) != hlen) {
        rc = es__fail(ES_ENOMEM, "out of memory writing '%s'", origin);
        goto out;
    }
    memset(out + 8 + hlen, ' ', padded - hlen);
    p = out + 8 + padded;
    for (size_t i = 0; i < n_tensors; i++) {
        if (nbytes[i]) memcpy(p, tensors[i].data, nbytes[i]);
        p += nbytes[i];
    }
    *buf = out;
    *len = 8 + padded + total;
    out = NULL;
out:
    json_decref(hdr);
    es__free(out);
    es__free(nbytes);
    return rc;
}

int es__st_write(const char *path, const es__st_out *tensors, size_t n_tensors,
                 const char *const *meta_keys, const char *const *meta_values, size_t n_meta) {
    unsigned char *buf;
    size_t len;
    int rc;
    if (!path) return es__fail(ES_EINVAL, "es__st_write: NULL path");
    rc = es__st_serialize(path, tensors, n_tensors, meta_keys, meta_values, n_meta, &buf, &len);
    if (rc < 0) return rc;
    rc = es_write_file_atomic(path, buf, len);
    if (rc == 0) es__clear_error();
    es__free(buf);
    return rc;
}

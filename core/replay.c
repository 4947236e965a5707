/* core/replay.c — a model's rehearsal clips as one safetensors file. */
#include "earshot/replay.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/resample.h"
#include "fileio.h"
#include "internal.h"
#include "safetensors.h"

/* Start of the loudest stretch of m samples in x[n] (sum of squares, one
 * pass with a running window). */
static size_t loudest(const float *x, size_t n, size_t m) {
    double e = 0.0, best;
    size_t at = 0;
    if (m >= n) return 0;
    for (size_t i = 0; i < m; i++) e += (double)x[i] * x[i];
    best = e;
    for (size_t i = m; i < n; i++) {
        e += (double)x[i] * x[i] - (double)x[i - m] * x[i - m];
        if (e > best) {
            best = e;
            at = i - m + 1;
        }
    }
    return at;
}

static int16_t to_i16(float v) {
    float s = v * 32767.0f;
    if (!(s > -32768.0f)) return -32768;   /* NaN too */
    if (s > 32767.0f) return 32767;
    return (int16_t)lrintf(s);
}

int es_replay_write(const char *path, const es_dataset *ds, const size_t *idx, size_t n, int rate,
                    double max_seconds) {
    size_t cap = max_seconds > 0.0 ? (size_t)(max_seconds * rate) : SIZE_MAX, total = 0;
    int64_t *off = NULL, shape_s[1], shape_o[1];
    int16_t *pcm = NULL;
    json_t *meta = NULL, *labels;
    char *meta_json = NULL;
    int rc;
    if (!path || !ds || !idx || n == 0 || n > ES_REPLAY_MAX_CLIPS || rate < 1)
        return es__fail(ES_EINVAL, "es_replay_write: bad arguments");
    for (size_t i = 0; i < n; i++) {
        const es_clip *c = es_dataset_clip(ds, idx[i]);
        if (!c || !c->x) return es__fail(ES_ESTATE, "replay clip %zu is not loaded", i);
        total += c->n < cap ? c->n : cap;
    }
    if (total > ES_REPLAY_MAX_SAMPLES)
        return es__fail(ES_ERANGE, "%s: %zu samples is more than a replay file holds", path, total);
    off = es__malloc_array(n + 1, sizeof *off);
    pcm = es__malloc_array(total ? total : 1, sizeof *pcm);
    meta = json_pack("{s:i, s:[]}", "sample_rate", rate, "labels");
    if (!off || !pcm || !meta) {
        rc = es__fail(ES_ENOMEM, "out of memory writing '%s'", path);
        goto out;
    }
    labels = json_object_get(meta, "labels");
    off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const es_clip *c = es_dataset_clip(ds, idx[i]);
        size_t m = c->n < cap ? c->n : cap, at = loudest(c->x, c->n, m);
        for (size_t k = 0; k < m; k++) pcm[(size_t)off[i] + k] = to_i16(c->x[at + k]);
        off[i + 1] = off[i] + (int64_t)m;
        if (json_array_append_new(labels, json_string(es_dataset_label(ds, c->label))) < 0) {
            rc = es__fail(ES_ENOMEM, "out of memory writing '%s'", path);
            goto out;
        }
    }
    if (!(meta_json = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
        rc = es__fail(ES_ENOMEM, "out of memory writing '%s'", path);
        goto out;
    }
    shape_s[0] = (int64_t)total;
    shape_o[0] = (int64_t)n + 1;
    {
        es__st_out outs[2] = {{"samples", ES__ST_I16, 1, shape_s, pcm},
                              {"offsets", ES__ST_I64, 1, shape_o, off}};
        const char *keys[1] = {"earshot.replay"}, *vals[1] = {meta_json};
        rc = es__st_write(path, outs, 2, keys, vals, 1);
    }
out:
    free(meta_json);
    json_decref(meta);
    es__free(off);
    es__free(pcm);
    return rc;
}

/* The metadata: the rate and one label per clip, checked. */
static int read_meta(const es__st_file *st, const char *path, size_t n, int *rate,
                     json_t **labels) {
    const char *s = es__st_meta(st, "earshot.replay");
    json_error_t jerr;
    json_t *o, *r, *l;
    if (!s) return es__fail(ES_EFORMAT, "%s: no earshot.replay metadata (not a replay file)", path);
    o = json_loads(s, JSON_REJECT_DUPLICATES, &jerr);
    r = json_object_get(o, "sample_rate");
    l = json_object_get(o, "labels");
    if (!o || !json_is_integer(r) || json_integer_value(r) < 1000 ||
        json_integer_value(r) > 384000 || !json_is_array(l) || json_array_size(l) != n) {
        json_decref(o);
        return es__fail(ES_EFORMAT, "%s: earshot.replay must hold sample_rate (1000-384000) and "
                        "labels, one per clip (%zu)", path, n);
    }
    for (size_t i = 0; i < n; i++) {
        const char *lab = json_string_value(json_array_get(l, i));
        if (!lab || !lab[0] || strlen(lab) >= 64) {
            json_decref(o);
            return es__fail(ES_EFORMAT, "%s: earshot.replay label %zu is not a name of 1-63 bytes",
                            path, i);
        }
    }
    *rate = (int)json_integer_value(r);
    *labels = json_incref(l);
    json_decref(o);
    return 0;
}

int es_replay_load(es_dataset **out, const char *path, int rate) {
    es__st_file st;
    const es__st_tensor *ts, *to;
    char *data = NULL, name[32];
    size_t len, n;
    json_t *labels = NULL;
    es_dataset *ds = NULL;
    float *x = NULL, *y = NULL;
    int rc, file_rate = 0;
    if (!out || !path || rate < 1) return es__fail(ES_EINVAL, "es_replay_load: bad arguments");
    *out = NULL;
    memset(&st, 0, sizeof st);
    if ((rc = es__read_file(path, ES_REPLAY_MAX_SAMPLES * 2 + ((size_t)1 << 24), &data, &len)) < 0)
        return rc;
    if ((rc = es__st_parse(&st, data, len, path)) < 0) goto out;
    ts = es__st_find(&st, "samples");
    to = es__st_find(&st, "offsets");
    if (!ts || !to || ts->dtype != ES__ST_I16 || ts->ndim != 1 || to->dtype != ES__ST_I64 ||
        to->ndim != 1 || to->numel < 2 || to->numel - 1 > ES_REPLAY_MAX_CLIPS) {
        rc = es__fail(ES_EFORMAT, "%s: a replay file holds samples (I16 [N]) and offsets "
                      "(I64 [clips + 1], 1 to %d clips)", path, ES_REPLAY_MAX_CLIPS);
        goto out;
    }
    n = to->numel - 1;
    if ((rc = read_meta(&st, path, n, &file_rate, &labels)) < 0) goto out;
    if ((rc = es_dataset_new(&ds)) < 0) goto out;
    x = es__malloc_array(ts->numel ? ts->numel : 1, sizeof *x);
    if (!x) {
        rc = es__fail(ES_ENOMEM, "out of memory reading '%s'", path);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t a, b;
        size_t m;
        memcpy(&a, to->data + 8 * i, 8);   /* the buffer may be unaligned */
        memcpy(&b, to->data + 8 * (i + 1), 8);
        if (a < 0 || b < a || (uint64_t)b > ts->numel || (i == 0 && a != 0)) {
            rc = es__fail(ES_EFORMAT, "%s: offsets[%zu..%zu] = %lld..%lld is not a rising range "
                          "inside the %zu samples", path, i, i + 1, (long long)a, (long long)b,
                          ts->numel);
            goto out;
        }
        m = (size_t)(b - a);
        for (size_t k = 0; k < m; k++) {
            int16_t v;
            memcpy(&v, ts->data + 2 * ((size_t)a + k), 2);
            x[k] = (float)v / 32768.0f;
        }
        snprintf(name, sizeof name, "replay:%06zu", i);
        if (file_rate != rate && m > 0) {
            size_t ny;
            if ((rc = es_resample(x, m, file_rate, rate, &y, &ny)) < 0) goto out;
            rc = es_dataset_add(ds, name, json_string_value(json_array_get(labels, i)), "replay",
                                y, ny);
            es_free(y);
            y = NULL;
        } else {
            rc = es_dataset_add(ds, name, json_string_value(json_array_get(labels, i)), "replay",
                                x, m);
        }
        if (rc < 0) goto out;
    }
    if ((rc = es_dataset_finish(ds)) < 0) goto out;
    *out = ds;
    ds = NULL;
out:
    es_dataset_free(ds);
    es__free(x);
    json_decref(labels);
    es__st_free(&st);
    es__free(data);
    return rc;
}

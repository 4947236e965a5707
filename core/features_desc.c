/* core/features_desc.c — parsing and checking the `earshot.features` JSON object. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "earshot/features.h"
#include "fileio.h"
#include "internal.h"

/* Bounds that keep every size derived from a description small enough to
 * allocate and every filter meaningful; wider than any model needs. */
#define RATE_MIN 1000
#define RATE_MAX 384000
#define NFFT_MIN 16
#define NFFT_MAX 65536
#define NMELS_MAX 2048
#define SECONDS_MAX 600.0
/* A feature JSON is a few hundred bytes; anything much larger is a mistake. */
#define DESC_FILE_MAX (1u << 20)

static const char *const known_keys[] = {
    "kind", "sample_rate", "n_fft", "win_length", "hop_length", "window", "center",
    "pad_mode", "power", "n_mels", "f_min", "f_max", "mel_scale", "norm", "log",
    "log_offset", "top_db", "mean", "std", "clip_seconds", "stride_seconds", "align", "cmn",
    "place",
};

typedef struct {
    json_t *obj;
    const char *origin;
} reader;

static int get_int(reader *r, const char *key, int required, int def, int lo, int hi, int *out) {
    json_t *v = json_object_get(r->obj, key);
    json_int_t x;
    if (!v || json_is_null(v)) {
        if (required)
            return es__fail(ES_ECONFIG, "%s: required key '%s' is missing", r->origin, key);
        *out = def;
        return 0;
    }
    if (!json_is_integer(v))
        return es__fail(ES_ECONFIG, "%s: key '%s' must be an integer", r->origin, key);
    x = json_integer_value(v);
    if (x < lo || x > hi)
        return es__fail(ES_ECONFIG, "%s: key '%s' is %lld, must be from %d to %d", r->origin,
                        key, (long long)x, lo, hi);
    *out = (int)x;
    return 0;
}

/* present: set to 1 when the key holds a number, 0 when absent or null. */
static int get_num(reader *r, const char *key, double def, double *out, int *present) {
    json_t *v = json_object_get(r->obj, key);
    *present = 0;
    *out = def;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v))
        return es__fail(ES_ECONFIG, "%s: key '%s' must be a number", r->origin, key);
    *out = json_number_value(v);
    if (!isfinite(*out))
        return es__fail(ES_ECONFIG, "%s: key '%s' must be finite", r->origin, key);
    *present = 1;
    return 0;
}

/* A boolean key: *out = its value, or def when absent. */
static int get_bool(reader *r, const char *key, int def, int *out) {
    json_t *v = json_object_get(r->obj, key);
    if (v && !json_is_boolean(v))
        return es__fail(ES_ECONFIG, "%s: key '%s' must be true or false", r->origin, key);
    *out = v ? json_is_true(v) : def;
    return 0;
}

/* Returns the index of the key's string value in choices[], def when absent. */
static int get_choice(reader *r, const char *key, const char *const *choices, int n, int def,
                      int *out) {
    json_t *v = json_object_get(r->obj, key);
    const char *s;
    char list[256] = "";
    if (!v) {
        *out = def;
        return 0;
    }
    s = json_is_string(v) ? json_string_value(v) : NULL;
    for (int i = 0; s && i < n; i++) {
        if (choices[i] && strcmp(s, choices[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    for (int i = 0; i < n; i++) {
        if (!choices[i]) continue;
        strncat(list, list[0] ? ", \"" : "\"", sizeof list - strlen(list) - 1);
        strncat(list, choices[i], sizeof list - strlen(list) - 1);
        strncat(list, "\"", sizeof list - strlen(list) - 1);
    }
    return es__fail(ES_ECONFIG, "%s: key '%s' must be one of %s", r->origin, key, list);
}

static int check_unknown_keys(reader *r) {
    const char *key;
    json_t *v;
    json_object_foreach(r->obj, key, v) {
        size_t i, n = sizeof known_keys / sizeof known_keys[0];
        (void)v;
        for (i = 0; i < n; i++)
            if (strcmp(key, known_keys[i]) == 0) break;
        if (i == n) return es__fail(ES_ECONFIG, "%s: unknown key '%s'", r->origin, key);
    }
    return 0;
}

/* A key given a value that the chosen kind/log never uses is a mistake the
 * user should hear about, not a setting silently ignored. */
static int reject_inapplicable(reader *r, const char *key, const char *why) {
    json_t *v = json_object_get(r->obj, key);
    if (v && !json_is_null(v))
        return es__fail(ES_ECONFIG, "%s: key '%s' applies only %s", r->origin, key, why);
    return 0;
}

static int parse_object(es_feature_desc *d, reader *r) {
    static const char *const kinds[] = {"spectrogram", "melspectrogram"};
    static const char *const windows[] = {"hann"};
    static const char *const pads[] = {"reflect"};
    static const char *const scales[] = {"htk", "slaney"};
    static const char *const logs[] = {"none", "log", "db"};
    static const char *const norms[] = {"slaney"};
    json_t *v;
    int rc, idx, has;

    memset(d, 0, sizeof *d);
    if ((rc = check_unknown_keys(r)) < 0) return rc;
    if (!json_object_get(r->obj, "kind"))
        return es__fail(ES_ECONFIG, "%s: required key 'kind' is missing", r->origin);
    if ((rc = get_choice(r, "kind", kinds, 2, 0, &idx)) < 0) return rc;
    d->kind = (es_feat_kind)idx;
    if ((rc = get_int(r, "sample_rate", 1, 0, RATE_MIN, RATE_MAX, &d->sample_rate)) < 0) return rc;
    if ((rc = get_int(r, "n_fft", 1, 0, NFFT_MIN, NFFT_MAX, &d->n_fft)) < 0) return rc;
    if ((rc = get_int(r, "win_length", 0, d->n_fft, 1, d->n_fft, &d->win_length)) < 0) return rc;
    if ((rc = get_int(r, "hop_length", 1, 0, 1, NFFT_MAX, &d->hop_length)) < 0) return rc;
    if ((rc = get_choice(r, "window", windows, 1, 0, &idx)) < 0) return rc;
    if ((rc = get_choice(r, "pad_mode", pads, 1, 0, &idx)) < 0) return rc;
    if ((rc = get_bool(r, "center", 1, &d->center)) < 0) return rc;
    if ((rc = get_num(r, "power", 2.0, &d->power, &has)) < 0) return rc;
    if (d->power != 1.0 && d->power != 2.0)
        return es__fail(ES_ECONFIG, "%s: key 'power' is %g, must be 1.0 or 2.0", r->origin,
                        d->power);

    if (d->kind == ES_FEAT_MELSPECTROGRAM) {
        double nyquist = (double)(d->sample_rate / 2); /* torchaudio: sample_rate // 2 */
        if ((rc = get_int(r, "n_mels", 1, 0, 1, NMELS_MAX, &d->n_mels)) < 0) return rc;
        if ((rc = get_num(r, "f_min", 0.0, &d->f_min, &has)) < 0) return rc;
        if ((rc = get_num(r, "f_max", nyquist, &d->f_max, &has)) < 0) return rc;
        if (d->f_min < 0.0 || d->f_min >= nyquist)
            return es__fail(ES_ECONFIG, "%s: key 'f_min' is %g Hz, must be from 0 to below %g",
                            r->origin, d->f_min, nyquist);
        if (d->f_max <= d->f_min || d->f_max > nyquist)
            return es__fail(ES_ECONFIG,
                            "%s: key 'f_max' is %g Hz, must be above f_min (%g) and at most %g",
                            r->origin, d->f_max, d->f_min, nyquist);
        if ((rc = get_choice(r, "mel_scale", scales, 2, 0, &idx)) < 0) return rc;
        d->mel_scale = (es_mel_scale)idx;
        v = json_object_get(r->obj, "norm");
        d->mel_norm_slaney = 0;
        if (v && !json_is_null(v)) {
            if ((rc = get_choice(r, "norm", norms, 1, 0, &idx)) < 0)
                return es__fail(ES_ECONFIG, "%s: key 'norm' must be null or \"slaney\"",
                                r->origin);
            d->mel_norm_slaney = 1;
        }
    } else {
        static const char *const mel_keys[] = {"n_mels", "f_min", "f_max", "mel_scale", "norm"};
        for (size_t i = 0; i < sizeof mel_keys / sizeof mel_keys[0]; i++)
            if ((rc = reject_inapplicable(r, mel_keys[i], "to kind \"melspectrogram\"")) < 0)
                return rc;
    }

    if ((rc = get_choice(r, "log", logs, 3, 0, &idx)) < 0) return rc;
    d->log = (es_log_kind)idx;
    if (d->log == ES_LOG_NATURAL) {
        if ((rc = get_num(r, "log_offset", 1e-6, &d->log_offset, &has)) < 0) return rc;
        if (!(d->log_offset > 0.0))
            return es__fail(ES_ECONFIG, "%s: key 'log_offset' is %g, must be above 0",
                            r->origin, d->log_offset);
    } else if ((rc = reject_inapplicable(r, "log_offset", "with \"log\": \"log\"")) < 0) {
        return rc;
    }
    d->top_db = -1.0;
    if (d->log == ES_LOG_DB) {
        if ((rc = get_num(r, "top_db", -1.0, &d->top_db, &has)) < 0) return rc;
        if (has && !(d->top_db > 0.0))
            return es__fail(ES_ECONFIG, "%s: key 'top_db' is %g, must be above 0 or null",
                            r->origin, d->top_db);
    } else if ((rc = reject_inapplicable(r, "top_db", "with \"log\": \"db\"")) < 0) {
        return rc;
    }

    if ((rc = get_bool(r, "cmn", 0, &d->cmn)) < 0) return rc;
    if ((rc = get_num(r, "mean", 0.0, &d->mean, &has)) < 0) return rc;
    d->has_norm = has;
    if ((rc = get_num(r, "std", 1.0, &d->std, &has)) < 0) return rc;
    if (has != d->has_norm)
        return es__fail(ES_ECONFIG, "%s: keys 'mean' and 'std' go together: give both or neither",
                        r->origin);
    if (has && !(d->std > 0.0))
        return es__fail(ES_ECONFIG, "%s: key 'std' is %g, must be above 0", r->origin, d->std);

    if ((rc = get_num(r, "clip_seconds", 0.0, &d->clip_seconds, &has)) < 0) return rc;
    if (has && !(d->clip_seconds > 0.0 && d->clip_seconds <= SECONDS_MAX))
        return es__fail(ES_ECONFIG, "%s: key 'clip_seconds' is %g, must be above 0 and at most %g",
                        r->origin, d->clip_seconds, SECONDS_MAX);
    if ((rc = get_num(r, "stride_seconds", 0.0, &d->stride_seconds, &has)) < 0) return rc;
    if (has && !(d->stride_seconds > 0.0 && d->stride_seconds <= SECONDS_MAX))
        return es__fail(ES_ECONFIG,
                        "%s: key 'stride_seconds' is %g, must be above 0 and at most %g",
                        r->origin, d->stride_seconds, SECONDS_MAX);
    {
        static const char *const aligns[] = {"start", "end"};
        if ((rc = get_choice(r, "align", aligns, 2, 0, &d->align_end)) < 0) return rc;
    }
    if ((rc = get_num(r, "place", 0.0, &d->place, &has)) < 0) return rc;
    return es_feature_desc_validate(d, r->origin);
}

int es_feature_desc_parse(es_feature_desc *desc, const char *json, const char *origin) {
    json_error_t jerr;
    json_t *root;
    reader r;
    int rc;
    es_feature_desc tmp;

    if (!desc || !json) return es__fail(ES_EINVAL, "es_feature_desc_parse: NULL argument");
    if (!origin) origin = "features";
    root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return es__fail(ES_EJSON, "%s: bad JSON at line %d, column %d: %s", origin, jerr.line,
                        jerr.column, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return es__fail(ES_ECONFIG, "%s: the feature description must be a JSON object",
                        origin);
    }
    r.obj = root;
    r.origin = origin;
    rc = parse_object(&tmp, &r);
    json_decref(root);
    if (rc < 0) return rc;
    *desc = tmp; /* only a fully valid description reaches the caller */
    es__clear_error();
    return 0;
}

int es_feature_desc_load(es_feature_desc *desc, const char *path) {
    char *data;
    size_t len;
    int rc = es__read_file(path, DESC_FILE_MAX, &data, &len);
    if (rc < 0) return rc;
    if (strlen(data) != len) {
        es__free(data);
        return es__fail(ES_EJSON, "%s: holds a NUL byte; not a JSON text file", path);
    }
    rc = es_feature_desc_parse(desc, data, path);
    es__free(data);
    return rc;
}

int es_feature_desc_validate(const es_feature_desc *d, const char *origin) {
    if (!origin) origin = "features";
    if (d->sample_rate < RATE_MIN || d->sample_rate > RATE_MAX)
        return es__fail(ES_ECONFIG, "%s: sample_rate %d is out of range", origin, d->sample_rate);
    if (d->n_fft < NFFT_MIN || d->n_fft > NFFT_MAX)
        return es__fail(ES_ECONFIG, "%s: n_fft %d is out of range", origin, d->n_fft);
    if (d->win_length < 1 || d->win_length > d->n_fft)
        return es__fail(ES_ECONFIG, "%s: win_length %d must be from 1 to n_fft (%d)", origin,
                        d->win_length, d->n_fft);
    if (d->hop_length < 1 || d->hop_length > NFFT_MAX)
        return es__fail(ES_ECONFIG, "%s: hop_length %d is out of range", origin, d->hop_length);
    if (d->power != 1.0 && d->power != 2.0)
        return es__fail(ES_ECONFIG, "%s: power must be 1.0 or 2.0", origin);
    if (d->kind == ES_FEAT_MELSPECTROGRAM) {
        if (d->n_mels < 1 || d->n_mels > NMELS_MAX)
            return es__fail(ES_ECONFIG, "%s: n_mels %d is out of range", origin, d->n_mels);
        if (!(d->f_min >= 0.0 && d->f_max > d->f_min && d->f_max <= d->sample_rate / 2))
            return es__fail(ES_ECONFIG, "%s: f_min/f_max (%g, %g) are out of range", origin,
                            d->f_min, d->f_max);
    } else if (d->kind != ES_FEAT_SPECTROGRAM) {
        return es__fail(ES_ECONFIG, "%s: unknown kind", origin);
    }
    if (d->log == ES_LOG_NATURAL && !(d->log_offset > 0.0))
        return es__fail(ES_ECONFIG, "%s: log_offset must be above 0", origin);
    if (d->has_norm && !(d->std > 0.0 && isfinite(d->mean)))
        return es__fail(ES_ECONFIG, "%s: std must be above 0", origin);
    if (d->cmn && d->log == ES_LOG_NONE)
        return es__fail(ES_ECONFIG,
                        "%s: key 'cmn' needs \"log\": \"log\" or \"db\" (a colouring is a "
                        "constant per band only after the log)",
                        origin);
    if (!(d->place >= 0.0 && d->place <= 1.0))
        return es__fail(ES_ECONFIG, "%s: key 'place' is %g, must be from 0 to 1", origin,
                        d->place);
    return 0;
}

int es_feature_desc_to_json(const es_feature_desc *d, char *buf, size_t size) {
    static const char *const kinds[] = {"spectrogram", "melspectrogram"};
    static const char *const logs[] = {"none", "log", "db"};
    int n = snprintf(buf, size,
                     "{\"kind\":\"%s\",\"sample_rate\":%d,\"n_fft\":%d,\"win_length\":%d,"
                     "\"hop_length\":%d,\"window\":\"hann\",\"center\":%s,"
                     "\"pad_mode\":\"reflect\",\"power\":%.17g",
                     kinds[d->kind], d->sample_rate, d->n_fft, d->win_length, d->hop_length,
                     d->center ? "true" : "false", d->power);
    size_t len;
#define APPEND(...)                                                           \
    do {                                                                      \
        len = (n >= 0 && (size_t)n < size) ? (size_t)n : size;                \
        n += snprintf(buf + len, size - len, __VA_ARGS__);                    \
    } while (0)
    if (d->kind == ES_FEAT_MELSPECTROGRAM)
        APPEND(",\"n_mels\":%d,\"f_min\":%.17g,\"f_max\":%.17g,\"mel_scale\":\"%s\",\"norm\":%s",
               d->n_mels, d->f_min, d->f_max, d->mel_scale == ES_MEL_HTK ? "htk" : "slaney",
               d->mel_norm_slaney ? "\"slaney\"" : "null");
    APPEND(",\"log\":\"%s\"", logs[d->log]);
    if (d->log == ES_LOG_NATURAL) APPEND(",\"log_offset\":%.17g", d->log_offset);
    if (d->log == ES_LOG_DB) {
        if (d->top_db > 0.0)
            APPEND(",\"top_db\":%.17g", d->top_db);
        else
            APPEND(",\"top_db\":null");
    }
    if (d->cmn) APPEND(",\"cmn\":true"); /* only when set: older models keep their bytes */
    if (d->has_norm) APPEND(",\"mean\":%.17g,\"std\":%.17g", d->mean, d->std);
    if (d->clip_seconds > 0.0) APPEND(",\"clip_seconds\":%.17g", d->clip_seconds);
    if (d->stride_seconds > 0.0) APPEND(",\"stride_seconds\":%.17g", d->stride_seconds);
    /* only when not the default, so models from before the key keep their bytes */
    if (d->align_end) APPEND(",\"align\":\"end\"");
    if (d->place > 0.0) APPEND(",\"place\":%.17g", d->place);
    APPEND("}");
#undef APPEND
    if (n < 0 || (size_t)n >= size)
        return es__fail(ES_ERANGE, "feature description does not fit in %zu bytes", size);
    return n;
}

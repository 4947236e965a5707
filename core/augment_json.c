/* core/augment_json.c — an augmentation as JSON (a model's earshot.augment)
 * and the one range check every reader of augmentation settings shares.
 *
 * The JSON mirrors a recipe's augment group:
 *   {"shift":0.5,"gain_db":6,"level":{"p":0.5,"min":-40,"max":-3},"speed":{"p":0.6,"min":0.85,"max":1.15},
 *    "noise":{"p":0.5,"snr_min":5,"snr_max":35},"eq":{"p":0.5,"gain_db":10},
 *    "stretch":{"p":0.5,"min":0.8,"max":1.25},"warp":{"p":0.5,"min":0.9,"max":1.1},
 *    "time_mask":{"count":2,"width":10,"p":0.25},"freq_mask":{"count":2,"width":6},
 *    "reverb":{"p":0.5,"min":0.2,"max":0.8}}   (reverb only when used)
 * Every key is optional (absent = no such augmentation); unknown keys and
 * wrong types are errors, so a typo in a hand-edited file is not silently
 * "no augmentation".
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/augment.h"
#include "internal.h"

const char *es_augment_check(const es_augment *a) {
    /* speed factors go to the resampler as rates: keep them sane */
    const struct {
        int ok;
        const char *what;
    } rules[] = {
        {a->shift >= 0.0 && a->shift <= 1.0, "shift must be in [0, 1]"},
        {a->gain_db >= 0.0 && a->gain_db <= 60.0, "gain_db must be in [0, 60]"},
        {a->level_p >= 0.0 && a->level_p <= 1.0, "level.p must be in [0, 1]"},
        {a->level_min >= -100.0 && a->level_min <= a->level_max && a->level_max <= 0.0,
         "level needs -100 <= min <= max <= 0 (dBFS)"},
        {a->speed_p >= 0.0 && a->speed_p <= 1.0, "speed.p must be in [0, 1]"},
        {a->speed_min >= 0.5 && a->speed_min <= a->speed_max && a->speed_max <= 2.0,
         "speed needs 0.5 <= min <= max <= 2"},
        {a->noise_p >= 0.0 && a->noise_p <= 1.0, "noise.p must be in [0, 1]"},
        {a->snr_min <= a->snr_max && fabs(a->snr_min) <= 200.0 && fabs(a->snr_max) <= 200.0,
         "noise needs snr_min <= snr_max, both within ±200 dB"},
        {a->reverb_p >= 0.0 && a->reverb_p <= 1.0, "reverb.p must be in [0, 1]"},
        {a->reverb_p == 0.0 ||
             (a->reverb_min >= 0.05 && a->reverb_min <= a->reverb_max && a->reverb_max <= 3.0),
         "reverb needs 0.05 <= min <= max <= 3 (seconds)"},
        {a->eq_p >= 0.0 && a->eq_p <= 1.0, "eq.p must be in [0, 1]"},
        {a->eq_db >= 0.0 && a->eq_db <= 40.0, "eq.gain_db must be in [0, 40]"},
        {a->stretch_p >= 0.0 && a->stretch_p <= 1.0, "stretch.p must be in [0, 1]"},
        {a->stretch_min >= 0.5 && a->stretch_min <= a->stretch_max && a->stretch_max <= 2.0,
         "stretch needs 0.5 <= min <= max <= 2"},
        {a->warp_p >= 0.0 && a->warp_p <= 1.0, "warp.p must be in [0, 1]"},
        {a->warp_min >= 0.5 && a->warp_min <= a->warp_max && a->warp_max <= 2.0,
         "warp needs 0.5 <= min <= max <= 2"},
        {a->time_masks >= 0 && a->time_mask_width >= 0 && a->time_masks <= 100 &&
             a->time_mask_width <= 100000,
         "time_mask count (0-100) and width (0-100000) are out of range"},
        {a->time_mask_p >= 0.0 && a->time_mask_p <= 1.0, "time_mask.p must be in [0, 1]"},
        {a->freq_masks >= 0 && a->freq_mask_width >= 0 && a->freq_masks <= 100 &&
             a->freq_mask_width <= 100000,
         "freq_mask count (0-100) and width (0-100000) are out of range"},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (!rules[i].ok) return rules[i].what;
    return NULL;
}

int es_augment_to_json(const es_augment *a, char **json) {
    json_t *o = json_pack(
        "{s:f, s:f, s:{s:f, s:f, s:f}, s:{s:f, s:f, s:f}, s:{s:f, s:f, s:f}, s:{s:f, s:f}, "
        "s:{s:f, s:f, s:f}, s:{s:f, s:f, s:f}, s:{s:i, s:i, s:f}, s:{s:i, s:i}}",
        "shift", a->shift, "gain_db", a->gain_db, "level", "p", a->level_p, "min", a->level_min,
        "max", a->level_max, "speed", "p", a->speed_p, "min", a->speed_min,
        "max", a->speed_max, "noise", "p", a->noise_p, "snr_min", a->snr_min, "snr_max",
        a->snr_max, "eq", "p", a->eq_p, "gain_db", a->eq_db, "stretch", "p", a->stretch_p, "min",
        a->stretch_min, "max", a->stretch_max, "warp", "p", a->warp_p, "min", a->warp_min, "max",
        a->warp_max, "time_mask", "count", a->time_masks, "width", a->time_mask_width, "p",
        a->time_mask_p, "freq_mask", "count", a->freq_masks, "width", a->freq_mask_width);
    char *s;
    /* only when used: models trained without it keep their bytes */
    if (o && a->reverb_p > 0.0)
        json_object_set_new(o, "reverb", json_pack("{s:f, s:f, s:f}", "p", a->reverb_p, "min",
                                                   a->reverb_min, "max", a->reverb_max));
    s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(o);
    *json = s ? es__strdup(s) : NULL;
    free(s);
    return *json ? 0 : es__fail(ES_ENOMEM, "out of memory describing an augmentation");
}

typedef struct {
    const char *name;
    int is_int;
    size_t off;
} field;

#define F(n, m) {n, 0, offsetof(es_augment, m)}
#define I(n, m) {n, 1, offsetof(es_augment, m)}
static const struct {
    const char *group;   /* NULL: a top-level number */
    field f[3];
} groups[] = {
    {NULL, {F("shift", shift)}},
    {NULL, {F("gain_db", gain_db)}},
    {"level", {F("p", level_p), F("min", level_min), F("max", level_max)}},
    {"speed", {F("p", speed_p), F("min", speed_min), F("max", speed_max)}},
    {"noise", {F("p", noise_p), F("snr_min", snr_min), F("snr_max", snr_max)}},
    {"eq", {F("p", eq_p), F("gain_db", eq_db)}},
    {"reverb", {F("p", reverb_p), F("min", reverb_min), F("max", reverb_max)}},
    {"stretch", {F("p", stretch_p), F("min", stretch_min), F("max", stretch_max)}},
    {"warp", {F("p", warp_p), F("min", warp_min), F("max", warp_max)}},
    {"time_mask", {I("count", time_masks), I("width", time_mask_width), F("p", time_mask_p)}},
    {"freq_mask", {I("count", freq_masks), I("width", freq_mask_width)}},
};
#undef F
#undef I
#define N_GROUPS (sizeof groups / sizeof groups[0])

static int set_field(es_augment *a, const field *f, json_t *v, const char *origin,
                     const char *where) {
    if (f->is_int) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100000)
            return es__fail(ES_EFORMAT, "%s: earshot.augment: %s must be an integer 0-100000",
                            origin, where);
        *(int *)(void *)((char *)a + f->off) = (int)json_integer_value(v);
    } else {
        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            return es__fail(ES_EFORMAT, "%s: earshot.augment: %s must be a number", origin,
                            where);
        *(double *)(void *)((char *)a + f->off) = json_number_value(v);
    }
    return 0;
}

int es_augment_from_json(es_augment *out, const char *json, const char *origin) {
    json_error_t jerr;
    json_t *o = json_loads(json, JSON_REJECT_DUPLICATES, &jerr), *v;
    es_augment a = es_augment_none();
    const char *key, *why;
    int rc = 0;
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return es__fail(ES_EJSON, "%s: earshot.augment is not a JSON object", origin);
    }
    json_object_foreach(o, key, v) {
        size_t g;
        for (g = 0; g < N_GROUPS; g++)
            if (groups[g].group ? strcmp(groups[g].group, key) == 0
                                : strcmp(groups[g].f[0].name, key) == 0)
                break;
        if (g == N_GROUPS) {
            rc = es__fail(ES_EFORMAT, "%s: earshot.augment: unknown key '%.40s'", origin, key);
            break;
        }
        if (!groups[g].group) {
            if ((rc = set_field(&a, &groups[g].f[0], v, origin, key)) < 0) break;
            continue;
        }
        if (!json_is_object(v)) {
            rc = es__fail(ES_EFORMAT, "%s: earshot.augment: %s must be an object", origin, key);
            break;
        }
        {
            const char *sub;
            json_t *sv;
            json_object_foreach(v, sub, sv) {
                int k;
                char where[96];
                for (k = 0; k < 3 && groups[g].f[k].name; k++)
                    if (strcmp(groups[g].f[k].name, sub) == 0) break;
                snprintf(where, sizeof where, "%s.%.40s", key, sub);
                if (k == 3 || !groups[g].f[k].name) {
                    rc = es__fail(ES_EFORMAT, "%s: earshot.augment: unknown key '%s'", origin,
                                  where);
                    break;
                }
                if ((rc = set_field(&a, &groups[g].f[k], sv, origin, where)) < 0) break;
            }
        }
        if (rc < 0) break;
    }
    json_decref(o);
    if (rc < 0) return rc;
    if ((why = es_augment_check(&a)))
        return es__fail(ES_ERANGE, "%s: earshot.augment: %s", origin, why);
    *out = a;
    return 0;
}

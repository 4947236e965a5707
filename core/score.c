/* core/score.c — event-level scoring of detections against a truth file. */
#include "earshot/score.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "internal.h"

typedef struct {
    char model[ES_SCORE_NAME], label[ES_SCORE_NAME], category[ES_SCORE_NAME];
    char source[ES_SCORE_NAME], group[ES_SCORE_NAME];
    double onset, offset;
} row;

struct es_truth {
    row *r;
    size_t n;
    double seconds;
};

void es_truth_free(es_truth *t) {
    if (!t) return;
    es__free(t->r);
    es__free(t);
}

size_t es_truth_size(const es_truth *t) { return t->n; }
double es_truth_seconds(const es_truth *t) { return t->seconds; }
int es_truth_part_get(const es_truth *t, size_t i, es_truth_part *p) {
    const row *w;
    if (!t || !p || i >= t->n) return es__fail(ES_ERANGE, "no part %zu of the scene", i);
    w = &t->r[i];
    *p = (es_truth_part){w->model, w->label, w->category, w->source, w->group, w->onset,
                         w->offset};
    return 0;
}

/* Copies a field, refusing one that does not fit. */
static int put(char *dst, const char *src, const char *path, int lineno, const char *what) {
    if (strlen(src) >= ES_SCORE_NAME)
        return es__fail(ES_EFORMAT, "%s:%d: %s '%.32s...' is too long", path, lineno, what, src);
    strcpy(dst, src);
    return 0;
}

/* One line: 4 fields (model, label, onset, offset) or 7. */
static int parse_row(char *line, row *r, int want, const char *path, int lineno) {
    char *f[8], *save = NULL, *end;
    int n = 0, rc;
    for (char *tok = strtok_r(line, "\t", &save); tok; tok = strtok_r(NULL, "\t", &save)) {
        if (n == 8) break;
        f[n++] = tok;
    }
    if (n != want)
        return es__fail(ES_EFORMAT, "%s:%d: expected %d tab-separated fields, found %d", path,
                        lineno, want, n);
    memset(r, 0, sizeof *r);
    if ((rc = put(r->model, f[0], path, lineno, "model")) < 0 ||
        (rc = put(r->label, f[1], path, lineno, "label")) < 0)
        return rc;
    r->onset = strtod(f[2], &end);
    if (*end || !isfinite(r->onset) || r->onset < 0.0)
        return es__fail(ES_EFORMAT, "%s:%d: onset '%.32s' is not a time", path, lineno, f[2]);
    r->offset = strtod(f[3], &end);
    if (*end || !isfinite(r->offset) || !(r->offset > r->onset))
        return es__fail(ES_EFORMAT, "%s:%d: offset '%.32s' is not a time after the onset",
                        path, lineno, f[3]);
    if (want == 4) {
        strcpy(r->category, strcmp(r->model, "-") == 0 ? r->label : "target");
        strcpy(r->source, "-");
        strcpy(r->group, "-");
        return 0;
    }
    if ((rc = put(r->category, f[4], path, lineno, "category")) < 0 ||
        (rc = put(r->source, f[5], path, lineno, "source")) < 0 ||
        (rc = put(r->group, f[6], path, lineno, "group")) < 0)
        return rc;
    return 0;
}

int es_truth_read(es_truth **out, const char *path) {
    char *text = NULL, *line, *save = NULL;
    size_t len, cap = 0;
    int rc, lineno = 0, want = 4;
    es_truth *t;
    *out = NULL;
    if ((rc = es__read_file(path, (size_t)256 << 20, &text, &len)) < 0) return rc;
    if (!(t = es__calloc(1, sizeof *t))) {
        es__free(text);
        return es__fail(ES_ENOMEM, "out of memory reading '%s'", path);
    }
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\0') continue;
        if (lineno == 1 && strncmp(line, "model\t", 6) == 0) {
            want = 7;
            continue;
        }
        if (t->n == cap) {
            row *nr = es__realloc(t->r, (cap = cap ? 2 * cap : 256) * sizeof *nr);
            if (!nr) {
                rc = es__fail(ES_ENOMEM, "out of memory reading '%s'", path);
                goto out;
            }
            t->r = nr;
        }
        if ((rc = parse_row(line, &t->r[t->n], want, path, lineno)) < 0) goto out;
        if (t->r[t->n].offset > t->seconds) t->seconds = t->r[t->n].offset;
        t->n++;
    }
    rc = t->n ? 0 : es__fail(ES_EEMPTY, "%s: no parts of a scene in it", path);
out:
    es__free(text);
    if (rc < 0) {
        es_truth_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* The entry of keys named name, added when new; NULL past the cap. */
static es_score_key *key(es_score_key *keys, int *n, const char *name) {
    for (int i = 0; i < *n; i++)
        if (strcmp(keys[i].name, name) == 0) return &keys[i];
    if (*n == ES_SCORE_MAX_KEYS) return NULL;
    memset(&keys[*n], 0, sizeof keys[*n]);
    snprintf(keys[*n].name, sizeof keys[*n].name, "%s", name);
    return &keys[(*n)++];
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of x[n] (sorting it); NAN when n is 0. */
static double median(double *x, size_t n) {
    if (n == 0) return NAN;
    qsort(x, n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

static double overlap(double a0, double a1, double b0, double b1) {
    double lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0.0;
}

/* The category of the part of the scene a false alarm falls in most
 * ("room" when it falls in none). */
static const char *where(const es_truth *t, const es_det *d) {
    const char *best = "room";
    double most = 0.0;
    for (size_t i = 0; i < t->n; i++) {
        double o = overlap(d->onset, d->offset, t->r[i].onset, t->r[i].offset);
        if (o > most) {
            most = o;
            best = t->r[i].category;
        }
    }
    return best;
}

/* Lengths: the scene, outside the model's targets, and each category. */
static int measure(const es_truth *t, const char *model, es_score_report *r) {
    double targets = 0.0, speech = 0.0;
    r->seconds = t->seconds;
    for (size_t i = 0; i < t->n; i++) {
        const row *w = &t->r[i];
        es_score_key *k;
        double len = w->offset - w->onset;
        if (strcmp(w->model, model) == 0) {
            targets += len;
            if (!(k = key(r->sources, &r->n_sources, w->source)) ||
                !key(r->labels, &r->n_labels, w->label))
                return es__fail(ES_ERANGE, "more than %d sources or labels", ES_SCORE_MAX_KEYS);
            k->events++;
            key(r->labels, &r->n_labels, w->label)->events++;
            continue;
        }
        if (!(k = key(r->categories, &r->n_categories, w->category)))
            return es__fail(ES_ERANGE, "more than %d categories", ES_SCORE_MAX_KEYS);
        k->seconds += len;
        if (strcmp(w->category, "speech") == 0) speech += len;
    }
    r->nontarget_seconds = r->seconds - targets;
    r->nonspeech_seconds = r->nontarget_seconds - speech;
    return 0;
}

/* The model's targets a detection overlaps (widened by the collar). */
static int matches(const row *w, const es_det *d, double collar) {
    return d->onset < w->offset + collar && d->offset > w->onset - collar;
}

/* Judges one detection; hit[i] marks the truth's targets already hit.
 * Returns its ES_SCORE_ verdict, or a negative ES_E* code. */
static int judge(const es_truth *t, const char *model, const es_det *d, double collar,
                 unsigned char *hit, es_score_report *r, double *err, double *lat, size_t *nh) {
    long same = -1, same_hit = -1, other = -1;
    for (size_t i = 0; i < t->n; i++) {
        const row *w = &t->r[i];
        if (strcmp(w->model, model) != 0 || !matches(w, d, collar)) continue;
        if (strcmp(w->label, d->label) != 0) other = (long)i;
        else if (!hit[i] && same < 0) same = (long)i;
        else if (hit[i]) same_hit = (long)i;
    }
    if (same >= 0) {
        const row *w = &t->r[same];
        hit[same] = 1;
        r->hits++;
        key(r->sources, &r->n_sources, w->source)->hits++;
        key(r->labels, &r->n_labels, w->label)->hits++;
        err[*nh] = d->onset - w->onset;
        lat[*nh] = d->decided - w->onset;
        (*nh)++;
        return ES_SCORE_HIT;
    }
    if (same_hit >= 0) {
        r->duplicates++;
        return ES_SCORE_DUPLICATE;
    }
    if (other >= 0) {
        r->wrong_labels++;
        return ES_SCORE_WRONG_LABEL;
    } else {
        const char *cat = where(t, d);
        es_score_key *k = key(r->categories, &r->n_categories, cat);
        if (!k) return es__fail(ES_ERANGE, "more than %d categories", ES_SCORE_MAX_KEYS);
        k->false_alarms++;
        r->false_alarms++;
        if (strcmp(cat, "speech") != 0) r->false_alarms_nonspeech++;
        return ES_SCORE_FALSE_ALARM;
    }
}

int es_score(const es_truth *t, const char *model, const es_det *dets, size_t n, double collar,
             es_score_report *r, es_score_detail *detail) {
    unsigned char *hit = NULL;
    double *err = NULL, *lat = NULL;
    size_t nh = 0;
    int rc;
    memset(r, 0, sizeof *r);
    if (!t || !model || (n && !dets) || !(collar >= 0.0))
        return es__fail(ES_EINVAL, "es_score: bad arguments");
    if ((rc = measure(t, model, r)) < 0) return rc;
    hit = es__calloc(t->n ? t->n : 1, 1);
    err = es__malloc_array(n ? n : 1, sizeof *err);
    lat = es__malloc_array(n ? n : 1, sizeof *lat);
    if (!hit || !err || !lat) {
        rc = es__fail(ES_ENOMEM, "out of memory scoring");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const es_det *d = &dets[i];
        if (detail) detail->verdict[i] = ES_SCORE_OTHER_MODEL;
        if (strcmp(d->model, model) != 0) continue;
        if (!(d->offset >= d->onset) || !isfinite(d->onset) || !isfinite(d->offset)) {
            rc = es__fail(ES_EINVAL, "detection %zu: its span %g-%g is not a span", i, d->onset,
                          d->offset);
            goto out;
        }
        r->detections++;
        if ((rc = judge(t, model, d, collar, hit, r, err, lat, &nh)) < 0) goto out;
        if (detail) detail->verdict[i] = rc;
    }
    if (detail) memcpy(detail->hit, hit, t->n);
    r->events = 0;
    for (int i = 0; i < r->n_sources; i++) r->events += r->sources[i].events;
    r->recall = r->events ? (double)r->hits / r->events : 0.0;
    r->precision = r->detections ? (double)r->hits / r->detections : 0.0;
    r->fa_per_hour = r->nontarget_seconds > 0 ? r->false_alarms * 3600.0 / r->nontarget_seconds : 0;
    r->fa_per_hour_nonspeech =
        r->nonspeech_seconds > 0 ? r->false_alarms_nonspeech * 3600.0 / r->nonspeech_seconds : 0;
    r->onset_error_median = median(err, nh);
    r->latency_median = median(lat, nh);
    for (size_t i = 0; i < nh; i++) err[i] = fabs(err[i]);
    r->onset_error_abs_median = median(err, nh);
    rc = 0;
out:
    es__free(hit);
    es__free(err);
    es__free(lat);
    return rc;
}

/* core/detect.c — smoothing, votes, thresholds and refractory periods. */
#include "earshot/detect.h"

#include <math.h>
#include <string.h>

#include "internal.h"

struct es_detector {
    int K, background;
    es_detect_config cfg;
    int span;                  /* windows averaged */
    float *hist;               /* [ES_DETECT_MAX_AVERAGE, K] ring of posteriors */
    int n_hist, head;          /* windows held; next slot */
    float *smooth;             /* [K] */
    float *thr;                /* [K] per class; NaN = the default */
    double *last_onset;        /* [K] onset of the class's last detection; -inf */
    int run_label, run_count, run_fired;
    double run_onset;
};

es_detect_config es_detect_defaults(void) {
    es_detect_config c;
    c.average_seconds = 0.5;   /* two windows at the usual 0.25 s stride */
    c.stride_seconds = 0.25;
    c.threshold = 0.6f;
    c.min_count = 2;           /* one stray window never fires alone */
    c.refractory_seconds = 1.0;
    c.energy_gate_db = -1000.0;
    return c;
}

int es_detect_config_check(const es_detect_config *c) {
    if (!(c->stride_seconds > 0.0 && c->stride_seconds <= 3600.0) ||
        !(c->average_seconds >= 0.0 &&
          c->average_seconds / c->stride_seconds <= ES_DETECT_MAX_AVERAGE) ||
        !(c->threshold >= 0.0f && c->threshold <= 1.0f) || c->min_count < 1 ||
        c->min_count > 1000 || !(c->refractory_seconds >= 0.0 && c->refractory_seconds <= 3600.0) ||
        !(c->energy_gate_db >= -1000.0 && c->energy_gate_db <= 0.0))
        return es__fail(ES_EINVAL, "detection settings out of range: stride_seconds in (0, 3600], "
                        "average_seconds at most %d strides, threshold in [0, 1], min_count in "
                        "[1, 1000], refractory_seconds in [0, 3600], energy_gate_db in "
                        "[-1000, 0]", ES_DETECT_MAX_AVERAGE);
    return 0;
}

void es_detector_reset(es_detector *d) {
    d->n_hist = d->head = 0;
    memset(d->smooth, 0, (size_t)d->K * sizeof *d->smooth);
    for (int k = 0; k < d->K; k++) d->last_onset[k] = -INFINITY;
    d->run_label = -1;
    d->run_count = d->run_fired = 0;
}

int es_detector_configure(es_detector *d, const es_detect_config *c) {
    int rc = es_detect_config_check(c);
    if (rc < 0) return rc;
    d->cfg = *c;
    d->span = (int)lround(c->average_seconds / c->stride_seconds);
    if (d->span < 1) d->span = 1;
    return 0;
}

const es_detect_config *es_detector_config(const es_detector *d) { return &d->cfg; }

int es_detector_create(es_detector **out, int K, int background, const es_detect_config *c) {
    es_detector *d;
    int rc;
    if (!out || !c || K < 1 || background >= K || background < -1)
        return es__fail(ES_EINVAL, "es_detector_create: bad arguments");
    *out = NULL;
    if ((rc = es_detect_config_check(c)) < 0) return rc;
    d = es__calloc(1, sizeof *d);
    if (!d) return es__fail(ES_ENOMEM, "out of memory creating a detector");
    d->K = K;
    d->background = background;
    d->hist = es__malloc_array((size_t)ES_DETECT_MAX_AVERAGE * (size_t)K, sizeof *d->hist);
    d->smooth = es__malloc_array((size_t)K, sizeof *d->smooth);
    d->thr = es__malloc_array((size_t)K, sizeof *d->thr);
    d->last_onset = es__malloc_array((size_t)K, sizeof *d->last_onset);
    if (!d->hist || !d->smooth || !d->thr || !d->last_onset) {
        es_detector_free(d);
        return es__fail(ES_ENOMEM, "out of memory creating a detector");
    }
    for (int k = 0; k < K; k++) d->thr[k] = NAN;
    es_detector_configure(d, c);
    es_detector_reset(d);
    *out = d;
    return 0;
}

void es_detector_free(es_detector *d) {
    if (!d) return;
    es__free(d->hist);
    es__free(d->smooth);
    es__free(d->thr);
    es__free(d->last_onset);
    es__free(d);
}

int es_detector_set_threshold(es_detector *d, int label, float t) {
    if (label < 0 || label >= d->K) return es__fail(ES_EINVAL, "no class %d", label);
    if (!isnan(t) && !(t >= 0.0f && t <= 1.0f))
        return es__fail(ES_EINVAL, "a threshold must be in [0, 1]");
    d->thr[label] = t;
    return 0;
}

float es_detector_threshold(const es_detector *d, int label) {
    return isnan(d->thr[label]) ? d->cfg.threshold : d->thr[label];
}

const float *es_detector_smoothed(const es_detector *d) { return d->smooth; }

int es_detector_push(es_detector *d, const float *post, double t_start, double t_end,
                     double rms_db, es_detection *ev) {
    int K = d->K, n, top = 0, vote = -1;
    memcpy(d->hist + (size_t)d->head * K, post, (size_t)K * sizeof *post);
    d->head = (d->head + 1) % ES_DETECT_MAX_AVERAGE;
    if (d->n_hist < ES_DETECT_MAX_AVERAGE) d->n_hist++;
    /* mean of the newest `span` windows */
    n = d->n_hist < d->span ? d->n_hist : d->span;
    for (int k = 0; k < K; k++) {
        double s = 0.0;
        for (int i = 1; i <= n; i++)
            s += d->hist[(size_t)((d->head - i + ES_DETECT_MAX_AVERAGE) % ES_DETECT_MAX_AVERAGE) * K + k];
        d->smooth[k] = (float)(s / n);
    }
    for (int k = 1; k < K; k++)
        if (d->smooth[k] > d->smooth[top]) top = k;
    if (top != d->background && d->smooth[top] >= es_detector_threshold(d, top) &&
        rms_db >= d->cfg.energy_gate_db)
        vote = top;
    if (vote < 0 || vote != d->run_label) {
        d->run_label = vote;
        d->run_count = 0;
        d->run_fired = 0;
        d->run_onset = t_start;
    }
    if (vote < 0) return 0;
    d->run_count++;
    if (d->run_fired || d->run_count < d->cfg.min_count ||
        d->run_onset - d->last_onset[vote] < d->cfg.refractory_seconds)
        return 0;
    d->run_fired = 1;
    d->last_onset[vote] = d->run_onset;
    if (ev) {
        float taken[ES_DETECT_TOP_K];
        ev->label = vote;
        ev->score = d->smooth[vote];
        ev->onset = d->run_onset;
        ev->offset = t_end;
        ev->decided = t_end;
        for (int j = 0; j < ES_DETECT_TOP_K; j++) {
            int best = -1;
            for (int k = 0; k < K; k++) {
                int used = 0;
                for (int i = 0; i < j; i++) used |= ev->top[i] == k;
                if (!used && (best < 0 || d->smooth[k] > d->smooth[best])) best = k;
            }
            ev->top[j] = best;
            taken[j] = best >= 0 ? d->smooth[best] : 0.0f;
        }
        memcpy(ev->top_p, taken, sizeof taken);
    }
    return 1;
}

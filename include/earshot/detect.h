/* earshot/detect.h — from a stream of window posteriors to detection events.
 *
 *   es_detect_config dc = es_detect_defaults();
 *   es_detector *d;
 *   es_detector_create(&d, n_labels, background_index, &dc);
 *   for each window (every stride, oldest first):
 *       es_detection ev;
 *       if (es_detector_push(d, posteriors, t_start, t_end, rms_db, &ev) == 1)
 *           report(ev);              // ev.label is never the background class
 *   es_detector_free(d);
 *
 * The rule, per model (DESIGN.md, "Detections"):
 *  - posteriors are averaged over the last round(average_seconds /
 *    stride_seconds) windows (at least 1, at most ES_DETECT_MAX_AVERAGE):
 *    the smoothed posteriors;
 *  - a window votes for class c when c tops the smoothed posteriors, is not
 *    the background, reaches c's threshold, and the window is louder than
 *    the energy gate (a gated window votes for nothing);
 *  - c is detected when min_count windows in a row vote for it, unless c
 *    was detected less than refractory_seconds before (onset to onset); a
 *    run of votes fires once;
 *  - onset is the start of the run's first window, offset and decided the
 *    end of its latest; score is c's smoothed posterior when it fires (a
 *    caller that knows where the sound is in the window, as earshotd does,
 *    narrows onset and offset to it; decided stays when it was reported).
 * Everything is allocated at create; push allocates nothing.
 */
#ifndef EARSHOT_DETECT_H
#define EARSHOT_DETECT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ES_DETECT_TOP_K 3
#define ES_DETECT_MAX_AVERAGE 256

typedef struct {
    double average_seconds;     /* smoothing span (0: the window alone) */
    double stride_seconds;      /* time between windows: how many make the span */
    float threshold;            /* default per-class threshold on the smoothed posterior */
    int min_count;              /* votes in a row to fire */
    double refractory_seconds;  /* quiet time per class after a detection */
    double energy_gate_db;      /* windows below this RMS (dBFS) vote for nothing;
                                   -1000 = no gate */
} es_detect_config;

es_detect_config es_detect_defaults(void);

/* 0, or ES_EINVAL naming the ranges when a setting is out of range. */
int es_detect_config_check(const es_detect_config *c);

typedef struct {
    int label;                  /* class index */
    float score;                /* its smoothed posterior when the event fired */
    double onset, offset;       /* stream seconds */
    double decided;             /* stream seconds: the end of the window that fired */
    int top[ES_DETECT_TOP_K];   /* classes by smoothed posterior, best first (-1: none) */
    float top_p[ES_DETECT_TOP_K];
} es_detection;

typedef struct es_detector es_detector;

/* background: the class never reported (-1: none). */
int es_detector_create(es_detector **d, int n_labels, int background, const es_detect_config *c);
void es_detector_free(es_detector *d);

/* Changes the configuration (e.g. at runtime); the smoothing history is
 * kept when the span allows. ES_EINVAL on out-of-range values. */
int es_detector_configure(es_detector *d, const es_detect_config *c);
const es_detect_config *es_detector_config(const es_detector *d);

/* Per-class threshold (NaN: back to the default). */
int es_detector_set_threshold(es_detector *d, int label, float threshold);
float es_detector_threshold(const es_detector *d, int label);

/* One window: posteriors [n_labels], its span in stream seconds and its RMS
 * level in dBFS. Returns 1 and fills *ev when a detection fires, else 0. */
int es_detector_push(es_detector *d, const float *posteriors, double t_start, double t_end,
                     double rms_db, es_detection *ev);

/* The smoothed posteriors after the last push [n_labels] (zeros before any). */
const float *es_detector_smoothed(const es_detector *d);

/* Forgets the history (after a gap in the stream or a model swap). */
void es_detector_reset(es_detector *d);

#ifdef __cplusplus
}
#endif
#endif

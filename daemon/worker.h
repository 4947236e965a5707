/* daemon/worker.h — one model on the live stream, on its own thread.
 *
 * A worker reads the ring through its own cursor, resamples to its model's
 * rate, computes each STFT/mel frame once (streaming), and every
 * stride_seconds classifies the window of the last clip_seconds of frames
 * (matrix stage per window: top_db, mean/std), then runs the detection rule
 * (earshot/detect.h). Everything is allocated when a model is prepared: the
 * per-window path allocates nothing.
 *
 * The main thread talks to a worker only through small mutex-guarded
 * mailboxes that the worker checks between two windows: a prepared model to
 * swap in (the old one comes back to be freed), new detection settings. The
 * worker hands detections and posteriors out through a callback that must
 * not block (main queues them and wakes its loop).
 */
#ifndef EARSHOTD_WORKER_H
#define EARSHOTD_WORKER_H

#include <stdint.h>

#include "capture.h"
#include "config.h"
#include "earshot/detect.h"
#include "earshot/model.h"

typedef struct model_state model_state;  /* one loaded model, ready to run */
typedef struct worker worker;

typedef struct {
    int kind;                            /* WORKER_DETECTION or WORKER_POSTERIORS */
    const char *model;                   /* slot name */
    const es_model *m;                   /* labels */
    es_detection det;                    /* WORKER_DETECTION */
    const float *posteriors;             /* WORKER_POSTERIORS: smoothed, [n_labels] */
    double t_start, t_end;               /* the window */
} worker_event;

enum { WORKER_DETECTION = 1, WORKER_POSTERIORS = 2 };

typedef void (*worker_event_fn)(void *user, const worker_event *ev);

/* Loads and checks a model file and allocates everything it needs to run on
 * input at input_rate; the model's stride must be a whole number of hops
 * (it is rounded to the nearest otherwise, with a notice). */
int model_state_create(model_state **st, const char *path, int input_rate,
                       const esd_model_config *mc, char *err, size_t errlen);
/* The same for a model in memory (a fine-tuned one), which it takes over
 * (freed on failure too); path says where it came from, sha256 its hash. */
int model_state_create_model(model_state **st, es_model *model, const char *path,
                             const char *sha256, int input_rate, const esd_model_config *mc,
                             char *err, size_t errlen);
/* SHA-256 of the bytes es_model_save would write, as 64 hex digits. */
int model_state_sha256_of(const es_model *m, char hex[65]);
void model_state_free(model_state *st);
const es_model *model_state_model(const model_state *st);
const char *model_state_path(const model_state *st);
const char *model_state_sha256(const model_state *st);
/* Seconds of audio in each window: the model's clip, or less with
 * lookback_seconds (then the rest of a window is silence). */
double model_state_audio_seconds(const model_state *st);

/* rt_priority > 0: the worker thread runs under SCHED_FIFO at that
 * priority when the daemon may (root, CAP_SYS_NICE, or RLIMIT_RTPRIO, which
 * systemd's LimitRTPRIO= sets), else under the normal policy; worker_sched
 * says which. */
int worker_start(worker **w, const char *name, model_state *st, capture *cap, es_ring *ring,
                 int rt_priority, worker_event_fn fn, void *user);
/* The SCHED_FIFO priority the worker runs at; 0 when none was asked for;
 * -errno when it was refused (the worker then runs at normal priority). */
int worker_sched(const worker *w);
void worker_stop(worker *w);            /* joins and frees, models included */
const char *worker_name(const worker *w);

/* Hands a prepared model over; the worker swaps it in between two windows,
 * once main has collected the model the previous swap retired (so a second
 * swap may wait for main's next tick). worker_collect returns the model a
 * swap replaced (NULL while none is waiting): main frees it. */
void worker_swap(worker *w, model_state *st);
model_state *worker_collect(worker *w);

/* Copies under the worker's lock: the current model (main must not free it
 * while the worker runs), stats and the latest smoothed posteriors. */
typedef struct {
    uint64_t windows, lost, overruns, detections;
    double latency_p50, latency_p99;     /* seconds per window (features to detection) */
    double stream_seconds;               /* the newest window's end */
    int tail_done;                       /* the input ended and every frame was used */
} worker_stats;
void worker_stats_get(worker *w, worker_stats *s);
/* Latency percentiles (seconds) of windows number [from, to) that are still
 * in the record (the newest 1024); returns how many there were. *preempted
 * (when not NULL) gets how many of them the kernel preempted: those whose
 * thread had an involuntary context switch while it computed them. A
 * hypervisor that pauses the vCPU slows a window without one, so a slow
 * window that was not preempted was slowed outside this machine's kernel. */
size_t worker_latency(worker *w, uint64_t from, uint64_t to, double *p50, double *p99,
                      size_t *preempted);
const model_state *worker_model(worker *w);
/* The latest smoothed posteriors into out[n_labels]; returns n_labels or 0. */
int worker_predict(worker *w, float *out, int cap, double *t_end);

/* Detection settings, applied between two windows. label thresholds:
 * label index → value (NaN resets); -1 index = none. */
int worker_set_detect(worker *w, const es_detect_config *dc);
int worker_set_threshold(worker *w, int label, float value);
es_detect_config worker_detect_config(worker *w);
float worker_threshold(worker *w, int label);

/* Whether per-window posterior events are wanted (a subscriber asked). */
void worker_want_posteriors(worker *w, int on);

#endif

/* daemon/worker.c — per-model thread: ring → resampler → frames → windows →
 * network → detection. */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include "worker.h"

#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "earshot/alloc.h"
#include "earshot/classify.h"
#include "earshot/error.h"
#include "earshot/features.h"
#include "earshot/resample.h"
#include "earshot/span.h"
#include "log.h"

#define READ_MAX 4096          /* input samples per read */
#define LAT_N 1024             /* windows in the latency record */
#define WAKE_MS 10             /* device input: how often a worker looks at the ring */

struct model_state {
    es_model *model;
    char path[ESD_PATH_MAX], sha256[65];
    es_classifier *clf;
    es_features *fx;
    es_resampler *rs;
    es_detector *det;
    int K, bg, rate, hop;
    size_t F, T, stride_frames;
    size_t look;               /* frames of audio in a window (T, or fewer with
                                  lookback: the rest is silence) */
    float *silence;            /* [F] the frame the extractor makes of zeros */
    size_t quiet_hops;         /* lookback: the stretch that must be quiet */
    double quiet_db;
    double clip_seconds;
    float *frames;             /* [T, F] ring of the newest frames */
    double *energy;            /* [T] per-hop sum of squares, ring */
    double *span_e;            /* [2T] a window's hop energies and scratch, for where
                                  its sound is */
    es_span_config span;       /* earshot/span.h's defaults, in this model's hops */
    float *matrix;             /* [F, T] */
    float *post;               /* [K] */
    float *in, *out;           /* [READ_MAX], [max_out] */
    size_t out_cap;
    /* streaming position */
    uint64_t frames_total;     /* frames of the current segment */
    uint64_t hops_total;
    double hop_acc;            /* sum of squares of the hop being filled */
    size_t hop_fill;
    double seg_start;          /* stream seconds where the segment began */
    char features_json[2048];  /* the feature description, to see if a swap may
                                  keep the stream's frames */
};

struct worker {
    char name[ESD_NAME_MAX];
    capture *cap;
    es_ring *ring;
    es_ring_cursor cur;
    _Atomic uint64_t pos;      /* cur.pos for the fast producers */
    worker_event_fn fn;
    void *user;
    pthread_t thread;
    int sched;                          /* worker_sched(); set before the thread starts */
    atomic_int stop, want_post;
    model_state *st;           /* the worker's; main reads it under lock */
    /* mailboxes and shared stats, under lock */
    pthread_mutex_t lock;
    model_state *pending, *retired;
    int detect_dirty;
    es_detect_config detect;
    float thr[ES_MAX_LABELS];
    int thr_dirty;
    float *latest;             /* [ES_MAX_LABELS] smoothed posteriors */
    double latest_t;
    int latest_k;
    double lat[LAT_N];
    unsigned char preempted[LAT_N]; /* the window's thread was switched out while it ran */
    uint64_t windows, detections, lost, overruns;
    uint64_t lost_unlogged;    /* worker thread only */
    double lost_logged;    int tail_done;
};

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- model states ---------------------------------------------------------- */

static int file_sha256(const char *path, char hex[65]) {
    unsigned char buf[65536], md[32];
    unsigned int len = 0;
    size_t n;
    FILE *f = fopen(path, "rb");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = f && ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0) ok = EVP_DigestUpdate(ctx, buf, n);
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &len) && len == 32;
    for (unsigned i = 0; ok && i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    if (f) fclose(f);
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

void model_state_free(model_state *st) {
    if (!st) return;
    es_classifier_free(st->clf);
    es_features_free(st->fx);
    es_resampler_free(st->rs);
    es_detector_free(st->det);
    es_model_free(st->model);
    free(st->frames);
    free(st->energy);
    free(st->span_e);
    free(st->matrix);
    free(st->silence);
    free(st->post);
    free(st->in);
    free(st->out);
    free(st);
}

int model_state_create(model_state **out, const char *path, int input_rate,
                       const esd_model_config *mc, char *err, size_t errlen) {
    es_model *m;
    char hex[65];
    *out = NULL;
    if (es_model_load(&m, path) < 0) {
        snprintf(err, errlen, "%s", es_errmsg());
        return ES_EFORMAT;
    }
    if (file_sha256(path, hex) < 0) {
        snprintf(err, errlen, "%s: cannot read it to hash it", path);
        es_model_free(m);
        return ES_EIO;
    }
    return model_state_create_model(out, m, path, hex, input_rate, mc, err, errlen);
}

int model_state_sha256_of(const es_model *m, char hex[65]) {
    unsigned char *buf, md[32];
    size_t len;
    unsigned int mdlen = 0;
    int ok;
    if (es_model_serialize(m, &buf, &len) < 0) return -1;
    ok = EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) && mdlen == 32;
    for (unsigned i = 0; ok && i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    es_free(buf);
    return ok ? 0 : -1;
}

/* ---- lookback windows -------------------------------------------------------
 *
 * A model whose words sit at the start of its window (the default
 * alignment) is most sure of a word once the window has run on well past
 * it: with 1 s windows and half a second's word, the daemon heard a digit
 * 0.47 s after it ended (median, test scenes). With lookback_seconds, each
 * window holds only the newest lookback_seconds of audio, at its start, and
 * the frames of digital silence after it: the shape of every short training
 * clip, padded out to the window. The word's end is then the window's end
 * of audio, and the event comes one stride after the word instead.
 *
 * The price is windows that cut a sound off while it still goes on: a
 * truncated bark or "seven" read as a whole word. So with lookback_quiet_db
 * a window votes only when its last QUIET_SECONDS are that far under its
 * loudest hop, i.e. the sound in it has ended (measured on the e2e scenes
 * with the shipped digits model, lookback 0.7 s, threshold 0.6: digit F1
 * 0.905-0.930 without the test, 0.952-0.976 with 15 dB; bench/README.md). */

/* The stretch that must be quiet: longer than the gaps inside a word (the
 * stop before "t" in "eight", 50-80 ms), short against a stride. */
#define QUIET_SECONDS 0.1

typedef struct {
    float *dst;
    size_t F;
} silence_ctx;

static void keep_frame(void *user, uint64_t t, const float *frame) {
    silence_ctx *c = user;
    (void)t;
    memcpy(c->dst, frame, c->F * sizeof *frame);
}

/* st->look (audio frames per window), the silence frame and the quiet test. */
static int window_setup(model_state *st, const es_feature_desc *d, const esd_model_config *mc,
                        char *err, size_t errlen) {
    size_t L = st->T;
    es_features *z = NULL;
    float zero[256] = {0};
    silence_ctx sc;
    if (mc->lookback_seconds > 0.0) {
        if (d->align_end) {
            esd_log(ES_LOG_NOTICE, "model '%s': its windows end with their sounds already; "
                    "lookback_seconds does not apply", mc->name);
        } else {
            double f = mc->lookback_seconds * d->sample_rate / d->hop_length;
            L = f < 1.0 ? 1 : f >= (double)st->T ? st->T : (size_t)lround(f);
        }
    }
    st->look = L;
    st->quiet_hops = (size_t)lround(QUIET_SECONDS * d->sample_rate / d->hop_length);
    if (st->quiet_hops < 1) st->quiet_hops = 1;
    if (st->quiet_hops > L) st->quiet_hops = L;
    st->quiet_db = mc->lookback_quiet_db;
    st->silence = calloc(st->F, sizeof *st->silence);
    if (!st->silence) {
        snprintf(err, errlen, "out of memory loading '%s'", st->path);
        return -1;
    }
    if (L == st->T) return 0;
    /* what the extractor makes of zeros: a frame well inside the silence */
    sc.dst = st->silence;
    sc.F = st->F;
    if (es_features_create(&z, d) < 0) {
        snprintf(err, errlen, "%s: %s", st->path, es_errmsg());
        return -1;
    }
    for (size_t n = 0; n < 4 * (size_t)d->n_fft + sizeof zero / sizeof zero[0]; n += 256)
        if (es_features_push(z, zero, 256, keep_frame, &sc) < 0) {
            snprintf(err, errlen, "%s: %s", st->path, es_errmsg());
            es_features_free(z);
            return -1;
        }
    es_features_free(z);
    return 0;
}

/* Whether the sound in the window's audio has ended: its last quiet_hops
 * are quiet_db under its loudest hop. */
static int sound_ended(const model_state *st, size_t L) {
    double peak = 0.0, tail = 0.0;
    uint64_t h0 = st->hops_total - L;
    if (st->quiet_db <= 0.0) return 1;
    for (size_t j = 0; j < L; j++) {
        double v = st->energy[(h0 + j) % st->T];
        if (v > peak) peak = v;
        if (j >= L - st->quiet_hops) tail += v;
    }
    tail /= (double)st->quiet_hops;
    return 10.0 * log10((tail + 1e-30) / (peak + 1e-30)) <= -st->quiet_db;
}

int model_state_create_model(model_state **out, es_model *model, const char *path,
                             const char *sha256, int input_rate, const esd_model_config *mc,
                             char *err, size_t errlen) {
    model_state *st = calloc(1, sizeof *st);
    const es_feature_desc *d;
    es_shape in;
    es_detect_config dc;
    double stride_hops, stride;
    *out = NULL;
    if (!st) {
        snprintf(err, errlen, "out of memory loading '%s'", path);
        es_model_free(model);
        return ES_ENOMEM;
    }
    st->model = model;
    snprintf(st->path, sizeof st->path, "%s", path);
    snprintf(st->sha256, sizeof st->sha256, "%s", sha256);
    d = es_model_features(st->model);
    if (es_feature_desc_to_json(d, st->features_json, sizeof st->features_json) < 0)
        st->features_json[0] = '\0';
    in = es_model_input_shape(st->model);
    st->K = es_model_num_labels(st->model);
    st->bg = es_model_label_index(st->model, "background");
    st->rate = d->sample_rate;
    st->hop = d->hop_length;
    st->F = (size_t)in.h;
    st->T = (size_t)in.w;
    st->clip_seconds = d->clip_seconds;
    stride = mc->stride_seconds > 0.0 ? mc->stride_seconds : d->stride_seconds;
    stride_hops = stride * d->sample_rate / d->hop_length;
    st->stride_frames = (size_t)lround(stride_hops);
    if (st->stride_frames < 1) st->stride_frames = 1;
    if (fabs(stride_hops - (double)st->stride_frames) > 1e-6)
        esd_log(ES_LOG_NOTICE, "%s: stride %.4f s is %.2f hops; using %zu", path,
                stride, stride_hops, st->stride_frames);
    dc = mc->detect;
    dc.stride_seconds = (double)st->stride_frames * st->hop / st->rate;
    st->out_cap = 0;
    if (es_classifier_create(&st->clf, st->model) < 0 || es_features_create(&st->fx, d) < 0 ||
        es_resampler_create(&st->rs, input_rate, st->rate, READ_MAX) < 0 ||
        es_detector_create(&st->det, st->K, st->bg, &dc) < 0) {
        snprintf(err, errlen, "%s: %s", path, es_errmsg());
        model_state_free(st);
        return ES_ENOMEM;
    }
    for (int i = 0; i < mc->n_thresholds; i++) {
        int k = es_model_label_index(st->model, mc->threshold_label[i]);
        if (k < 0) {
            snprintf(err, errlen, "model '%s': thresholds name label '%s', which %s does not have",
                     mc->name, mc->threshold_label[i], path);
            model_state_free(st);
            return ES_ECONFIG;
        }
        es_detector_set_threshold(st->det, k, mc->threshold_value[i]);
    }
    if (window_setup(st, d, mc, err, errlen) < 0) {
        model_state_free(st);
        return ES_ENOMEM;
    }
    st->out_cap = es_resampler_max_out(st->rs);
    st->frames = malloc(st->T * st->F * sizeof *st->frames);
    st->energy = calloc(st->T, sizeof *st->energy);
    st->span_e = calloc(2 * st->T, sizeof *st->span_e);
    /* the defaults are for 10 ms hops */
    st->span = es_span_defaults;
    st->span.merge_hops = (size_t)lround((double)es_span_defaults.merge_hops * 0.01 * st->rate / st->hop);
    st->span.min_hops = (size_t)lround((double)es_span_defaults.min_hops * 0.01 * st->rate / st->hop);
    st->matrix = malloc(st->F * st->T * sizeof *st->matrix);
    st->post = malloc((size_t)st->K * sizeof *st->post);
    st->in = malloc(READ_MAX * sizeof *st->in);
    st->out = malloc(st->out_cap * sizeof *st->out);
    if (!st->frames || !st->energy || !st->span_e || !st->matrix || !st->post || !st->in ||
        !st->out) {
        snprintf(err, errlen, "out of memory loading '%s'", path);
        model_state_free(st);
        return ES_ENOMEM;
    }
    *out = st;
    return 0;
}

const es_model *model_state_model(const model_state *st) { return st->model; }
const char *model_state_path(const model_state *st) { return st->path; }
const char *model_state_sha256(const model_state *st) { return st->sha256; }
double model_state_audio_seconds(const model_state *st) {
    return st->look < st->T ? (double)st->look * st->hop / st->rate : st->clip_seconds;
}

/* ---- the per-window path ---------------------------------------------------- */

typedef struct {
    worker *w;
    model_state *st;
} frame_ctx;

/* The calling thread's involuntary context switches so far (getrusage: a
 * system call per window, about a microsecond; never in the audio path). */
static long involuntary_switches(void) {
    struct rusage ru;
    return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nivcsw : 0;
}

/* A detection's onset and offset narrowed to the sound in the window's
 * audio (hops t0 .. t0+L-1, from t_start) that set it off: the newest of
 * those within LOCATE_DB of the loudest. A run of windows fires soon after
 * a sound comes in, so what came in last is what it heard (the loudest
 * was often an earlier sound still in the window). Unchanged when no hop
 * stands out. */
#define LOCATE_DB 12.0
static void locate(model_state *st, uint64_t t0, size_t L, double t_start, es_detection *det) {
    es_span sp[16];
    size_t n, best = 0;
    double hop_s = (double)st->hop / st->rate, loudest = -INFINITY;
    for (size_t j = 0; j < L; j++) st->span_e[j] = st->energy[(t0 + j) % st->T] / st->hop;
    n = es_sound_spans(st->span_e, L, &st->span, st->span_e + st->T, sp, 16);
    if (n == 0) return;
    if (n > 16) n = 16;
    for (size_t k = 0; k < n; k++)
        if (sp[k].peak_db > loudest) loudest = sp[k].peak_db;
    for (size_t k = 0; k < n; k++)
        if (sp[k].peak_db >= loudest - LOCATE_DB) best = k;
    det->onset = t_start + (double)sp[best].start * hop_s;
    det->offset = t_start + (double)sp[best].end * hop_s;
}

static void run_window(worker *w, model_state *st) {
    size_t F = st->F, T = st->T, L = st->look;
    uint64_t t0 = st->frames_total - L;
    double t_start = st->seg_start + (double)t0 * st->hop / st->rate, t_end, e = 0.0, rms_db;
    long switches = involuntary_switches();
    double started = now_mono();
    es_detection det;
    int fired;
    /* the window: frames t0 .. t0+L-1 from the ring, transposed to [F, T] */
    for (size_t j = 0; j < L; j++) {
        const float *fr = st->frames + ((t0 + j) % T) * F;
        for (size_t f = 0; f < F; f++) st->matrix[f * T + j] = fr[f];
        e += st->energy[(t0 + j) % T];
    }
    for (size_t j = L; j < T; j++)
        for (size_t f = 0; f < F; f++) st->matrix[f * T + j] = st->silence[f];
    rms_db = 10.0 * log10(e / ((double)L * st->hop) + 1e-20);
    /* a lookback window whose sound goes on votes for nothing */
    if (L < T && !sound_ended(st, L)) rms_db = -INFINITY;
    es_features_finalize(es_model_features(st->model), st->matrix, F, T);
    if (es_classify_features(st->clf, st->matrix, st->post) < 0) return;
    t_end = L < T ? t_start + (double)L * st->hop / st->rate : t_start + st->clip_seconds;
    fired = es_detector_push(st->det, st->post, t_start, t_end, rms_db, &det);
    if (fired) locate(st, t0, L, t_start, &det);
    pthread_mutex_lock(&w->lock);
    memcpy(w->latest, es_detector_smoothed(st->det), (size_t)st->K * sizeof *w->latest);
    w->latest_k = st->K;
    w->latest_t = t_end;
    w->lat[w->windows % LAT_N] = now_mono() - started;
    w->preempted[w->windows % LAT_N] = involuntary_switches() != switches;
    w->windows++;
    w->detections += (uint64_t)fired;
    pthread_mutex_unlock(&w->lock);
    if (fired) {
        worker_event ev = {WORKER_DETECTION, w->name, st->model, det, NULL, t_start, t_end};
        w->fn(w->user, &ev);
    }
    if (atomic_load_explicit(&w->want_post, memory_order_relaxed)) {
        worker_event ev = {WORKER_POSTERIORS, w->name, st->model, det,
                           es_detector_smoothed(st->det), t_start, t_end};
        w->fn(w->user, &ev);
    }
}

static void on_frame(void *user, uint64_t t, const float *frame) {
    frame_ctx *c = user;
    model_state *st = c->st;
    memcpy(st->frames + (t % st->T) * st->F, frame, st->F * sizeof *frame);
    st->frames_total = t + 1;
    if (st->frames_total >= st->T && (st->frames_total - st->T) % st->stride_frames == 0)
        run_window(c->w, st);
}

/* Per-hop energies of the resampled samples, for the energy gate. */
static void add_energy(model_state *st, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        st->hop_acc += (double)x[i] * x[i];
        if (++st->hop_fill == (size_t)st->hop) {
            st->energy[st->hops_total % st->T] = st->hop_acc;
            st->hops_total++;
            st->hop_acc = 0.0;
            st->hop_fill = 0;
        }
    }
}

/* A new segment of the stream (start, model swap, samples lost). */
static void segment(model_state *st, double start, int reset_resampler) {
    es_features_reset(st->fx);
    if (reset_resampler) es_resampler_reset(st->rs);
    es_detector_reset(st->det);
    st->frames_total = st->hops_total = 0;
    st->hop_acc = 0.0;
    st->hop_fill = 0;
    st->seg_start = start;
}

/* Whether two models read the stream alike (same features, same input rate):
 * then a swap hands the frames made so far to the new one. */
static int same_stream(const model_state *a, const model_state *b) {
    return a->features_json[0] && strcmp(a->features_json, b->features_json) == 0 &&
           a->out_cap == b->out_cap && a->F == b->F && a->T == b->T;
}

/* The streaming state (extractor, resampler, frame and energy rings,
 * positions) moves from old to st; old gets st's fresh one to be freed. */
static void take_stream(model_state *st, model_state *old) {
#define SWAP(field)                      \
    do {                                 \
        __typeof__(st->field) t = st->field; \
        st->field = old->field;          \
        old->field = t;                  \
    } while (0)
    SWAP(fx);
    SWAP(rs);
    SWAP(frames);
    SWAP(energy);
    SWAP(frames_total);
    SWAP(hops_total);
    SWAP(hop_acc);
    SWAP(hop_fill);
    SWAP(seg_start);
#undef SWAP
    es_detector_reset(st->det);
}

/* w->thr from the current model's detector (label thresholds of the config). */
static void copy_thresholds(worker *w) {
    const es_detector *d = w->st->det;
    for (int k = 0; k < ES_MAX_LABELS; k++) w->thr[k] = NAN;
    for (int k = 0; k < w->st->K && k < ES_MAX_LABELS; k++)
        if (es_detector_threshold(d, k) != es_detector_config(d)->threshold)
            w->thr[k] = es_detector_threshold(d, k);
}

static void apply_mail(worker *w, double now_stream) {
    pthread_mutex_lock(&w->lock);
    /* one retired model at a time: while main has not yet collected the last
     * one (on its next tick), a newer model waits, instead of overwriting
     * and leaking it (two swaps within a tick: a load, then a reload) */
    if (w->pending && !w->retired) {
        model_state *old = w->st;
        w->st = w->pending;
        w->pending = NULL;
        w->retired = old;
        if (same_stream(old, w->st))
            take_stream(w->st, old);   /* no gap: the new model sees the frames already made */
        else
            segment(w->st, now_stream, 0);
        /* settings made at runtime carry over to the new model; its label
         * thresholds come with it (main built it with the slot's config) */
        w->detect_dirty = 1;
        copy_thresholds(w);
    }
    if (w->detect_dirty) {
        es_detect_config dc = w->detect;
        dc.stride_seconds = es_detector_config(w->st->det)->stride_seconds;
        es_detector_configure(w->st->det, &dc);
        w->detect_dirty = 0;
    }
    if (w->thr_dirty) {
        for (int k = 0; k < w->st->K && k < ES_MAX_LABELS; k++)
            es_detector_set_threshold(w->st->det, k, w->thr[k]);
        w->thr_dirty = 0;
    }
    pthread_mutex_unlock(&w->lock);
}

static void finish_tail(worker *w, model_state *st) {
    frame_ctx c = {w, st};
    size_t n;
    /* the resampler's held-back samples, then the reflect-padded last frames */
    do {
        if (es_resampler_flush(st->rs, st->out, st->out_cap, &n) < 0) break;
        add_energy(st, st->out, n);
        es_features_push(st->fx, st->out, n, on_frame, &c);
    } while (n > 0);
    es_features_finish(st->fx, on_frame, &c);
}

/* Input samples still to come before the next window can run. The worker
 * sleeps until then rather than waking for every block of the input (100
 * wake-ups a second per model at 10 ms blocks; with them the kernel's
 * scheduling was a fifth of the daemon's CPU). The resampler's own delay is
 * left out: an estimate that falls short costs one more, short, wait. */
static uint64_t to_next_window(const model_state *st, int rate_in) {
    const es_feature_desc *d = es_features_desc(st->fx);
    uint64_t f = st->frames_total, next, have;
    int64_t last;
    next = f < st->T ? st->T : f + st->stride_frames - (f - st->T) % st->stride_frames;
    /* frame next-1 is made once its last sample is in */
    last = (int64_t)(next - 1) * d->hop_length - (d->center ? d->n_fft / 2 : 0) + d->n_fft;
    have = st->hops_total * (uint64_t)st->hop + st->hop_fill;
    if (last <= (int64_t)have) return 1;
    return (((uint64_t)last - have) * (uint64_t)rate_in + (uint64_t)st->rate - 1) /
           (uint64_t)st->rate;
}

static void *worker_main(void *p) {
    worker *w = p;
    int rate_in = capture_rate(w->cap);
    while (!atomic_load(&w->stop)) {
        model_state *st;
        uint64_t lost0 = w->cur.lost;
        size_t n, nout;
        frame_ctx c;
        apply_mail(w, (double)w->cur.pos / rate_in);
        st = w->st;
        n = es_ring_read(w->ring, &w->cur, st->in, READ_MAX);
        atomic_store_explicit(&w->pos, w->cur.pos, memory_order_release);
        if (w->cur.lost != lost0) {
            /* an overrun: the stream has a hole; start a new segment after it */
            pthread_mutex_lock(&w->lock);
            w->lost = w->cur.lost;
            w->overruns++;
            pthread_mutex_unlock(&w->lock);
            /* at most one line a second, however often it happens */
            w->lost_unlogged += w->cur.lost - lost0;
            if (now_mono() - w->lost_logged >= 1.0) {
                esd_log(ES_LOG_WARNING, "%s: fell behind, lost %llu samples", w->name,
                        (unsigned long long)w->lost_unlogged);
                w->lost_unlogged = 0;
                w->lost_logged = now_mono();
            }
            segment(st, (double)(w->cur.pos - n) / rate_in, 1);
        }
        if (n == 0) {
            if (capture_ended(w->cap) && w->cur.pos >= es_ring_write_pos(w->ring)) {
                int done;
                pthread_mutex_lock(&w->lock);
                done = w->tail_done;
                pthread_mutex_unlock(&w->lock);
                if (!done) {
                    finish_tail(w, st);
                    pthread_mutex_lock(&w->lock);
                    w->tail_done = 1;
                    pthread_mutex_unlock(&w->lock);
                    capture_consumed(w->cap);
                }
            }
            {
                uint64_t need = to_next_window(st, rate_in);
                double ms = (double)need * 1000.0 / rate_in;
                int sleep_ms = ms < WAKE_MS ? WAKE_MS : ms > CAPTURE_MAX_SLEEP_MS
                                                            ? CAPTURE_MAX_SLEEP_MS : (int)ms;
                capture_wait(w->cap, &w->stop, sleep_ms, w->cur.pos, w->cur.pos + need);
            }
            continue;
        }
        capture_consumed(w->cap);
        c.w = w;
        c.st = st;
        if (es_resampler_process(st->rs, st->in, n, st->out, st->out_cap, &nout) < 0) continue;
        add_energy(st, st->out, nout);
        es_features_push(st->fx, st->out, nout, on_frame, &c);
    }
    return NULL;
}

/* ---- main-thread side -------------------------------------------------------- */

/* Inference under SCHED_FIFO, when asked for and permitted. Nice only makes
 * it likely that a window does not wait on the fine-tuning job (under EEVDF
 * a nice-10 thread owed CPU time can take the rest of its slice, up to a
 * tick, in the middle of a 5 ms window); a real-time thread is never
 * preempted by one of the normal class (measured: bench/README.md). A window
 * takes a few ms every stride, so the worker holds a core a few percent of
 * the time, and the kernel's RT throttling (95% by default) bounds even a
 * runaway. */
static int start_thread(worker *w, int rt_priority) {
    if (rt_priority > 0) {
        pthread_attr_t a;
        struct sched_param sp = {.sched_priority = rt_priority};
        int rc = pthread_attr_init(&a);
        w->sched = rt_priority; /* before the thread exists: main alone reads it */
        if (rc == 0) {
            if (!(rc = pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED)) &&
                !(rc = pthread_attr_setschedpolicy(&a, SCHED_FIFO)) &&
                !(rc = pthread_attr_setschedparam(&a, &sp)))
                rc = pthread_create(&w->thread, &a, worker_main, w);
            pthread_attr_destroy(&a);
        }
        if (rc == 0) return 0;
        w->sched = -rc; /* EPERM without the privilege: run as every thread does */
    }
    return pthread_create(&w->thread, NULL, worker_main, w);
}

int worker_sched(const worker *w) { return w->sched; }

int worker_start(worker **out, const char *name, model_state *st, capture *cap, es_ring *ring,
                 int rt_priority, worker_event_fn fn, void *user) {
    worker *w = calloc(1, sizeof *w);
    *out = NULL;
    if (!w || !(w->latest = calloc(ES_MAX_LABELS, sizeof *w->latest))) {
        free(w);
        return ES_ENOMEM;
    }
    snprintf(w->name, sizeof w->name, "%s", name);
    w->cap = cap;
    w->ring = ring;
    w->fn = fn;
    w->user = user;
    w->st = st;
    w->detect = *es_detector_config(st->det);
    copy_thresholds(w);
    pthread_mutex_init(&w->lock, NULL);
    es_ring_cursor_init(ring, &w->cur);
    atomic_store(&w->pos, w->cur.pos);
    segment(st, (double)w->cur.pos / capture_rate(cap), 0);
    capture_add_consumer(cap, &w->pos);
    if (start_thread(w, rt_priority) != 0) {
        capture_remove_consumer(cap, &w->pos);
        pthread_mutex_destroy(&w->lock);
        free(w->latest);
        free(w);
        return ES_ENOMEM;
    }
    *out = w;
    return 0;
}

void worker_stop(worker *w) {
    if (!w) return;
    atomic_store(&w->stop, 1);
    capture_wake(w->cap);
    pthread_join(w->thread, NULL);
    capture_remove_consumer(w->cap, &w->pos);
    model_state_free(w->st);
    model_state_free(w->pending);
    model_state_free(w->retired);
    pthread_mutex_destroy(&w->lock);
    free(w->latest);
    free(w);
}

const char *worker_name(const worker *w) { return w->name; }

void worker_swap(worker *w, model_state *st) {
    pthread_mutex_lock(&w->lock);
    model_state_free(w->pending); /* a newer load overrides one not yet taken */
    w->pending = st;
    pthread_mutex_unlock(&w->lock);
    capture_wake(w->cap);
}

model_state *worker_collect(worker *w) {
    model_state *r;
    pthread_mutex_lock(&w->lock);
    r = w->retired;
    w->retired = NULL;
    pthread_mutex_unlock(&w->lock);
    return r;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentiles of the latencies of windows [from, to) still in
 * the record (the newest LAT_N); *n gets how many. */
static void latency_of(worker *w, uint64_t from, uint64_t to, double *p50, double *p99,
                       size_t *count, size_t *preempted) {
    double lat[LAT_N];
    size_t n = 0, pre = 0;
    pthread_mutex_lock(&w->lock);
    if (to > w->windows) to = w->windows;
    if (w->windows > LAT_N && from < w->windows - LAT_N) from = w->windows - LAT_N;
    for (uint64_t i = from; i < to; i++) {
        lat[n++] = w->lat[i % LAT_N];
        pre += w->preempted[i % LAT_N];
    }
    pthread_mutex_unlock(&w->lock);
    if (preempted) *preempted = pre;
    qsort(lat, n, sizeof *lat, cmp_double);
    /* nearest rank: the smallest value with at least p of the record at or below it */
    *p50 = n ? lat[(size_t)ceil(0.50 * (double)n) - 1] : 0.0;
    *p99 = n ? lat[(size_t)ceil(0.99 * (double)n) - 1] : 0.0;
    if (count) *count = n;
}

void worker_stats_get(worker *w, worker_stats *s) {
    pthread_mutex_lock(&w->lock);
    s->windows = w->windows;
    s->lost = w->lost;
    s->overruns = w->overruns;
    s->detections = w->detections;
    s->stream_seconds = w->latest_t;
    s->tail_done = w->tail_done;
    pthread_mutex_unlock(&w->lock);
    latency_of(w, 0, UINT64_MAX, &s->latency_p50, &s->latency_p99, NULL, NULL);
}

size_t worker_latency(worker *w, uint64_t from, uint64_t to, double *p50, double *p99,
                      size_t *preempted) {
    size_t n;
    latency_of(w, from, to, p50, p99, &n, preempted);
    return n;
}

const model_state *worker_model(worker *w) {
    const model_state *st;
    pthread_mutex_lock(&w->lock);
    st = w->pending ? w->pending : w->st;
    pthread_mutex_unlock(&w->lock);
    return st;
}

int worker_predict(worker *w, float *out, int cap, double *t_end) {
    int k;
    pthread_mutex_lock(&w->lock);
    k = w->latest_k <= cap ? w->latest_k : 0;
    memcpy(out, w->latest, (size_t)k * sizeof *out);
    *t_end = w->latest_t;
    pthread_mutex_unlock(&w->lock);
    return k;
}

int worker_set_detect(worker *w, const es_detect_config *dc) {
    es_detect_config c = *dc;
    int rc;
    /* the stride is fixed at load (the model's, or the config's
     * stride_seconds), whatever the caller's copy says */
    pthread_mutex_lock(&w->lock);
    c.stride_seconds = w->detect.stride_seconds;
    pthread_mutex_unlock(&w->lock);
    if ((rc = es_detect_config_check(&c)) < 0) return rc;
    pthread_mutex_lock(&w->lock);
    w->detect = c;
    w->detect_dirty = 1;
    pthread_mutex_unlock(&w->lock);
    return 0;
}

int worker_set_threshold(worker *w, int label, float value) {
    if (label < 0 || label >= ES_MAX_LABELS || (!isnan(value) && !(value >= 0.0f && value <= 1.0f)))
        return ES_EINVAL;
    pthread_mutex_lock(&w->lock);
    w->thr[label] = value;
    w->thr_dirty = 1;
    pthread_mutex_unlock(&w->lock);
    return 0;
}

es_detect_config worker_detect_config(worker *w) {
    es_detect_config c;
    pthread_mutex_lock(&w->lock);
    c = w->detect;
    pthread_mutex_unlock(&w->lock);
    return c;
}

float worker_threshold(worker *w, int label) {
    float t;
    pthread_mutex_lock(&w->lock);
    t = isnan(w->thr[label]) ? w->detect.threshold : w->thr[label];
    pthread_mutex_unlock(&w->lock);
    return t;
}

void worker_want_posteriors(worker *w, int on) { atomic_store(&w->want_post, on); }

/* daemon/capture.c — PortAudio, file and stdin inputs into the ring. */
#include "capture.h"

#include <errno.h>
#include <poll.h>
#include <portaudio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "earshot/audio.h"
#include "earshot/error.h"
#include "log.h"

#define BLOCK_MS 10  /* file/stdin blocks: a device-like granularity */

struct capture {
    esd_config cfg;
    es_ring *ring;
    int rate;
    char desc[ESD_PATH_MAX + 16];
    /* producers */
    pthread_t thread;
    int have_thread;
    atomic_int stop, ended;
    es_audio file;              /* file input, decoded once */
    /* PortAudio */
    PaStream *stream;
    int pa_ready, pa_channels;
    atomic_int running;
    _Atomic uint64_t overflows;
    double retry_at, backoff;
    /* consumers, and the producer's wait for the slowest of them */
    pthread_mutex_t lock;
    pthread_cond_t more;        /* producer → consumers: samples written */
    pthread_cond_t room;        /* consumers → producer: samples read */
    const _Atomic uint64_t *consumers[CAPTURE_MAX_CONSUMERS];
    int n_consumers;
    unsigned long generation;   /* bumped by capture_wake, the last write and the end,
                                   under lock */
    int written;                /* the producer wrote its last sample, under lock: a
                                   consumer waits for no more than what is there */
    uint64_t wake_at;           /* the earliest write position a waiting consumer
                                   waits for (UINT64_MAX: none), under lock */
};

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- PortAudio ---------------------------------------------------------- */

/* The real-time path: convert (mix to mono when the device gave more than
 * one channel), copy into the ring, count. Nothing else. */
static int pa_callback(const void *input, void *output, unsigned long frames,
                       const PaStreamCallbackTimeInfo *ti, PaStreamCallbackFlags flags,
                       void *user) {
    capture *c = user;
    const float *in = input;
    (void)output;
    (void)ti;
    if (flags & paInputOverflow) atomic_fetch_add_explicit(&c->overflows, 1, memory_order_relaxed);
    if (!in) return paContinue;
    if (c->pa_channels == 1) {
        es_ring_write(c->ring, in, frames);
    } else {
        float mono[256];
        int ch = c->pa_channels;
        while (frames > 0) {
            unsigned long n = frames < 256 ? frames : 256;
            for (unsigned long i = 0; i < n; i++) {
                float s = 0.0f;
                for (int k = 0; k < ch; k++) s += in[i * (unsigned long)ch + (unsigned long)k];
                mono[i] = s / (float)ch;
            }
            es_ring_write(c->ring, mono, n);
            in += n * (unsigned long)ch;
            frames -= n;
        }
    }
    return paContinue;
}

static void pa_finished(void *user) {
    capture *c = user;
    atomic_store(&c->running, 0);
}

/* Device index by number or by a substring of its name; the default input
 * when spec is empty. */
static PaDeviceIndex find_device(const char *spec) {
    int n = Pa_GetDeviceCount();
    char *end;
    long idx;
    if (!*spec) return Pa_GetDefaultInputDevice();
    idx = strtol(spec, &end, 10);
    if (!*end) {
        if (idx >= 0 && idx < n && Pa_GetDeviceInfo((PaDeviceIndex)idx)->maxInputChannels > 0)
            return (PaDeviceIndex)idx;
        return paNoDevice;
    }
    /* an exact name first, then the first name containing spec */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            const PaDeviceInfo *d = Pa_GetDeviceInfo(i);
            if (d && d->maxInputChannels > 0 &&
                (pass ? strstr(d->name, spec) != NULL : strcmp(d->name, spec) == 0))
                return i;
        }
    return paNoDevice;
}

static int pa_open(capture *c) {
    PaStreamParameters p;
    const PaDeviceInfo *info;
    PaError e;
    PaDeviceIndex dev = find_device(c->cfg.input_arg);
    if (dev == paNoDevice) {
        esd_log(ES_LOG_ERR, "capture: no input device '%s' (earshot devices lists them)",
               c->cfg.input_arg[0] ? c->cfg.input_arg : "default");
        return -1;
    }
    info = Pa_GetDeviceInfo(dev);
    memset(&p, 0, sizeof p);
    p.device = dev;
    p.sampleFormat = paFloat32;
    p.suggestedLatency = info->defaultLowInputLatency;
    /* mono when the device offers it, else its channels mixed down */
    p.channelCount = 1;
    c->rate = c->cfg.input_rate;
    if (Pa_IsFormatSupported(&p, NULL, c->rate) != paFormatIsSupported) {
        p.channelCount = info->maxInputChannels < 2 ? info->maxInputChannels : 2;
        if (Pa_IsFormatSupported(&p, NULL, c->rate) != paFormatIsSupported) {
            c->rate = (int)info->defaultSampleRate;
            esd_log(ES_LOG_NOTICE, "capture: '%s' cannot do %d Hz; using its own %d Hz",
                   info->name, c->cfg.input_rate, c->rate);
        }
    }
    c->pa_channels = p.channelCount;
    e = Pa_OpenStream(&c->stream, &p, NULL, c->rate, paFramesPerBufferUnspecified, paNoFlag,
                      pa_callback, c);
    if (e == paNoError) e = Pa_SetStreamFinishedCallback(c->stream, pa_finished);
    if (e == paNoError) e = Pa_StartStream(c->stream);
    if (e != paNoError) {
        esd_log(ES_LOG_ERR, "capture: cannot open '%s': %s", info->name, Pa_GetErrorText(e));
        if (c->stream) Pa_CloseStream(c->stream);
        c->stream = NULL;
        return -1;
    }
    snprintf(c->desc, sizeof c->desc, "portaudio:%s", info->name);
    atomic_store(&c->running, 1);
    esd_log(ES_LOG_INFO, "capture: '%s' at %d Hz, %d channel%s", info->name, c->rate,
           c->pa_channels, c->pa_channels > 1 ? "s mixed to mono" : "");
    return 0;
}

static void pa_close(capture *c) {
    if (c->stream) {
        Pa_AbortStream(c->stream);
        Pa_CloseStream(c->stream);
        c->stream = NULL;
    }
    atomic_store(&c->running, 0);
}

void capture_supervise(capture *c) {
    double t;
    if (c->cfg.input != ESD_IN_PORTAUDIO) return;
    if (atomic_load(&c->running) && c->stream && Pa_IsStreamActive(c->stream) == 1) {
        c->backoff = 0.0;
        return;
    }
    t = now_mono();
    if (c->retry_at > t) return;
    if (c->stream) esd_log(ES_LOG_WARNING, "capture: the input stream stopped; reopening");
    pa_close(c);
    /* PortAudio sees hot-plugged devices only after a re-initialisation */
    Pa_Terminate();
    Pa_Initialize();
    if (pa_open(c) == 0) return;
    c->backoff = c->backoff == 0.0 ? 1.0 : c->backoff * 2.0 > 30.0 ? 30.0 : c->backoff * 2.0;
    c->retry_at = t + c->backoff;
    esd_log(ES_LOG_WARNING, "capture: retrying in %.0f s", c->backoff);
}

/* ---- file and stdin ------------------------------------------------------ */

static uint64_t slowest(capture *c) {
    uint64_t lo = UINT64_MAX;
    for (int i = 0; i < c->n_consumers; i++) {
        uint64_t p = atomic_load_explicit(c->consumers[i], memory_order_acquire);
        if (p < lo) lo = p;
    }
    return lo;
}

/* Writes a block, first waiting (fast pace) until the slowest consumer has
 * room for it, so nothing is overwritten unread. */
static void produce(capture *c, const float *x, size_t n, int wait_for_room) {
    size_t cap = es_ring_capacity(c->ring);
    pthread_mutex_lock(&c->lock);
    while (wait_for_room && !atomic_load(&c->stop) && c->n_consumers > 0 &&
           es_ring_write_pos(c->ring) + n - slowest(c) > cap / 2)
        pthread_cond_wait(&c->room, &c->lock);
    pthread_mutex_unlock(&c->lock);
    es_ring_write(c->ring, x, n);
    /* consumers are woken only when one of them has what it waits for (a
     * window's worth, typically), not for every 10 ms block */
    pthread_mutex_lock(&c->lock);
    if (es_ring_write_pos(c->ring) >= c->wake_at) {
        c->wake_at = UINT64_MAX;
        pthread_cond_broadcast(&c->more);
    }
    pthread_mutex_unlock(&c->lock);
}

/* No more samples will come: consumers that wait for a window's worth stop
 * waiting and read what there is; once all of them have read everything
 * written, the input has ended. */
static void drain_then_end(capture *c) {
    pthread_mutex_lock(&c->lock);
    c->written = 1;
    c->generation++;
    pthread_cond_broadcast(&c->more);
    while (!atomic_load(&c->stop) && c->n_consumers > 0 && slowest(c) < es_ring_write_pos(c->ring))
        pthread_cond_wait(&c->room, &c->lock);
    atomic_store(&c->ended, 1);
    c->generation++;
    pthread_cond_broadcast(&c->more);
    pthread_mutex_unlock(&c->lock);
    esd_log(ES_LOG_NOTICE, "capture: %s ended", c->desc);
}

static void sleep_until(double t) {
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static void *file_main(void *p) {
    capture *c = p;
    size_t block = (size_t)c->rate * BLOCK_MS / 1000;
    do {
        double t0 = now_mono();
        for (size_t i = 0; i < c->file.n && !atomic_load(&c->stop); i += block) {
            size_t n = c->file.n - i < block ? c->file.n - i : block;
            if (!c->cfg.pace_fast) sleep_until(t0 + (double)(i + n) / c->rate);
            produce(c, c->file.samples + i, n, c->cfg.pace_fast);
        }
    } while (c->cfg.loop && !atomic_load(&c->stop));
    drain_then_end(c);
    return NULL;
}

static void *stdin_main(void *p) {
    capture *c = p;
    int16_t raw[4096];
    float x[4096];
    size_t have = 0; /* bytes in raw */
    for (;;) {
        struct pollfd pfd = {0, POLLIN, 0};
        ssize_t r;
        size_t n;
        /* a timeout only so that a stop request is seen while stdin is quiet */
        if (poll(&pfd, 1, 200) == 0) {
            if (atomic_load(&c->stop)) break;
            continue;
        }
        r = read(0, (char *)raw + have, sizeof raw - have);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        have += (size_t)r;
        n = have / 2;
        for (size_t i = 0; i < n; i++) x[i] = (float)raw[i] / 32768.0f;
        produce(c, x, n, 1);
        if (have % 2) memmove(raw, (char *)raw + n * 2, 1);
        have %= 2;
        if (atomic_load(&c->stop)) break;
    }
    drain_then_end(c);
    return NULL;
}

/* ---- consumers ----------------------------------------------------------- */

void capture_add_consumer(capture *c, const _Atomic uint64_t *pos) {
    pthread_mutex_lock(&c->lock);
    if (c->n_consumers < CAPTURE_MAX_CONSUMERS) c->consumers[c->n_consumers++] = pos;
    pthread_mutex_unlock(&c->lock);
}

void capture_remove_consumer(capture *c, const _Atomic uint64_t *pos) {
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->n_consumers; i++)
        if (c->consumers[i] == pos) {
            c->consumers[i] = c->consumers[--c->n_consumers];
            break;
        }
    pthread_cond_broadcast(&c->room);
    pthread_mutex_unlock(&c->lock);
}

void capture_consumed(capture *c) {
    if (c->cfg.input == ESD_IN_PORTAUDIO) return;
    pthread_mutex_lock(&c->lock);
    pthread_cond_broadcast(&c->room);
    pthread_mutex_unlock(&c->lock);
}

void capture_wait(capture *c, const atomic_int *stop, int sleep_ms, uint64_t pos,
                  uint64_t until) {
    if (until <= pos) until = pos + 1;
    if (c->cfg.input == ESD_IN_PORTAUDIO) {
        struct timespec ts = {sleep_ms / 1000, (long)(sleep_ms % 1000) * 1000000L};
        if (!atomic_load(stop)) nanosleep(&ts, NULL);
        return;
    }
    /* fast producers must be able to get this far ahead of the slowest
     * reader (they keep half the ring free) */
    if (until - pos > es_ring_capacity(c->ring) / 4) until = pos + es_ring_capacity(c->ring) / 4;
    /* samples written after the caller's read are seen here, under the lock
     * the producer takes to signal: no wake-up is lost */
    pthread_mutex_lock(&c->lock);
    {
        unsigned long g = c->generation;
        /* after the last write there is no window's worth to wait for: only
         * for the rest (there is some to read) or for the end */
        while (g == c->generation && es_ring_write_pos(c->ring) < until && !atomic_load(stop) &&
               !atomic_load(&c->ended) && !(c->written && pos < es_ring_write_pos(c->ring))) {
            if (until < c->wake_at) c->wake_at = until;
            pthread_cond_wait(&c->more, &c->lock);
        }
    }
    pthread_mutex_unlock(&c->lock);
}

void capture_wake(capture *c) {
    pthread_mutex_lock(&c->lock);
    c->generation++;
    pthread_cond_broadcast(&c->more);
    pthread_cond_broadcast(&c->room);
    pthread_mutex_unlock(&c->lock);
}

/* ---- life cycle ----------------------------------------------------------- */

int capture_open(capture **out, const esd_config *cfg, es_ring *ring) {
    capture *c = calloc(1, sizeof *c);
    int rc = 0;
    *out = NULL;
    if (!c) return ES_ENOMEM;
    c->cfg = *cfg;
    c->ring = ring;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->more, NULL);
    pthread_cond_init(&c->room, NULL);
    c->wake_at = UINT64_MAX;
    switch (cfg->input) {
    case ESD_IN_PORTAUDIO: {
        PaError e = Pa_Initialize();
        if (e != paNoError) {
            esd_log(ES_LOG_ERR, "capture: PortAudio: %s", Pa_GetErrorText(e));
            rc = ES_EIO;
            break;
        }
        c->pa_ready = 1;
        c->rate = cfg->input_rate;
        snprintf(c->desc, sizeof c->desc, "portaudio:%s", cfg->input_arg[0] ? cfg->input_arg : "default");
        /* a missing device is not fatal: the supervisor keeps trying */
        if (pa_open(c) < 0) {
            c->backoff = 1.0;
            c->retry_at = now_mono() + 1.0;
        }
        break;
    }
    case ESD_IN_FILE:
        if ((rc = es_audio_read(cfg->input_arg, &c->file)) < 0) {
            esd_log(ES_LOG_ERR, "capture: %s", es_errmsg());
            break;
        }
        c->rate = c->file.rate;
        snprintf(c->desc, sizeof c->desc, "file:%s", cfg->input_arg);
        break;
    case ESD_IN_STDIN:
        c->rate = cfg->input_rate;
        snprintf(c->desc, sizeof c->desc, "stdin:%d", c->rate);
        break;
    }
    if (rc < 0) {
        capture_stop(c);
        return rc;
    }
    *out = c;
    return 0;
}

int capture_go(capture *c) {
    void *(*fn)(void *) = c->cfg.input == ESD_IN_FILE ? file_main :
                          c->cfg.input == ESD_IN_STDIN ? stdin_main : NULL;
    if (!fn || c->have_thread) return 0;
    if (pthread_create(&c->thread, NULL, fn, c) != 0) return ES_ENOMEM;
    c->have_thread = 1;
    return 0;
}

void capture_stop(capture *c) {
    if (!c) return;
    atomic_store(&c->stop, 1);
    capture_wake(c);
    if (c->have_thread) {
        pthread_join(c->thread, NULL);
    }
    pa_close(c);
    if (c->pa_ready) Pa_Terminate();
    es_audio_free(&c->file);
    pthread_cond_destroy(&c->room);
    pthread_cond_destroy(&c->more);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int capture_rate(const capture *c) { return c->rate; }
const char *capture_describe(const capture *c) { return c->desc; }
int capture_ended(const capture *c) { return atomic_load(&c->ended); }
int capture_running(const capture *c) {
    return c->cfg.input == ESD_IN_PORTAUDIO ? atomic_load(&c->running) : !atomic_load(&c->ended);
}
uint64_t capture_overflows(const capture *c) { return atomic_load(&c->overflows); }

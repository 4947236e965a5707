/* daemon/events.c — detections and posteriors from the workers to the
 * journal, the history and the subscribers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

/* Worker side: copy the event into the queue and wake the loop. Never
 * blocks for long: a mutex held for a copy, one eventfd write. */
void events_on_worker(void *user, const worker_event *ev) {
    esd *d = user;
    queued_event *q;
    uint64_t one = 1;
    ssize_t r;
    pthread_mutex_lock(&d->qlock);
    if (d->q_len == ESD_QCAP) {
        d->q_dropped++;
        pthread_mutex_unlock(&d->qlock);
        return;
    }
    q = &d->queue[(d->q_head + d->q_len) % ESD_QCAP];
    q->ev = *ev;
    snprintf(q->model, sizeof q->model, "%s", ev->model);
    q->m = ev->m;
    q->k = es_model_num_labels(ev->m);
    if (ev->kind == WORKER_POSTERIORS && q->k <= ES_MAX_LABELS)
        memcpy(q->post, ev->posteriors, (size_t)q->k * sizeof *q->post);
    /* label names now: the model may be swapped before main reads this */
    if (ev->kind == WORKER_DETECTION) {
        snprintf(q->labels[0], ES_LABEL_MAX, "%s", es_model_label(ev->m, ev->det.label));
        for (int j = 0; j < ES_DETECT_TOP_K; j++)
            snprintf(q->labels[j + 1], ES_LABEL_MAX, "%s",
                     ev->det.top[j] >= 0 ? es_model_label(ev->m, ev->det.top[j]) : "");
    }
    d->q_len++;
    pthread_mutex_unlock(&d->qlock);
    r = write(d->event_fd, &one, sizeof one);
    (void)r; /* a full counter already wakes the loop */
}

static void iso8601(char *buf, size_t n) { /* n ≥ 64 */
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000) % 1000);
}

static void remember(esd *d, json_t *ev) {
    char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t cap = (size_t)d->cfg.history_events, at;
    if (!s) return;
    if (d->h_len == cap) {
        free(d->history[d->h_head]);
        d->history[d->h_head] = NULL;
        d->h_head = (d->h_head + 1) % cap;
        d->h_len--;
    }
    at = (d->h_head + d->h_len) % cap;
    d->history[at] = s;
    d->h_len++;
}

json_t *events_history(esd *d, int max) {
    json_t *a = json_array();
    size_t cap = (size_t)d->cfg.history_events, n = d->h_len, first = 0;
    if (max >= 0 && (size_t)max < n) first = n - (size_t)max;
    for (size_t i = first; a && i < n; i++) {
        json_t *e = json_loads(d->history[(d->h_head + i) % cap], 0, NULL);
        if (e) json_array_append_new(a, e);
    }
    return a;
}

static void detection(esd *d, const queued_event *q) {
    const es_detection *det = &q->ev.det;
    char when[64];
    json_t *ev, *top = json_array();
    iso8601(when, sizeof when);
    for (int j = 0; j < ES_DETECT_TOP_K; j++)
        if (det->top[j] >= 0)
            json_array_append_new(top, json_pack("[s, f]", q->labels[j + 1], (double)det->top_p[j]));
    ev = json_pack("{s:s, s:I, s:s, s:s, s:f, s:f, s:f, s:f, s:s, s:o}", "event", "detection",
                   "id", (json_int_t)++d->next_id, "model", q->model, "label", q->labels[0],
                   "score", (double)det->score, "onset", det->onset, "offset", det->offset,
                   "decided", det->decided, "time", when, "top", top);
    if (!ev) return;
    esd_log_detection(q->model, q->labels[0], det->score, det->onset, det->offset);
    clips_request(d, d->next_id, q->model, q->labels[0], det->onset, det->offset);
    remember(d, ev);
    server_broadcast(d, q->model, q->labels[0], ev, 0);
    json_decref(ev);
}

static void posteriors(esd *d, const queued_event *q) {
    json_t *p = json_object(), *ev;
    for (int k = 0; k < q->k; k++)
        json_object_set_new(p, es_model_label(q->m, k), json_real(q->post[k]));
    ev = json_pack("{s:s, s:s, s:f, s:f, s:o}", "event", "posteriors", "model", q->model, "start",
                   q->ev.t_start, "end", q->ev.t_end, "posteriors", p);
    if (!ev) return;
    server_broadcast(d, q->model, NULL, ev, 1);
    json_decref(ev);
}

void events_drain(esd *d) {
    uint64_t v;
    ssize_t r = read(d->event_fd, &v, sizeof v);
    (void)r;
    for (;;) {
        queued_event q;
        pthread_mutex_lock(&d->qlock);
        if (d->q_len == 0) {
            pthread_mutex_unlock(&d->qlock);
            break;
        }
        q = d->queue[d->q_head];
        d->q_head = (d->q_head + 1) % ESD_QCAP;
        d->q_len--;
        pthread_mutex_unlock(&d->qlock);
        if (q.ev.kind == WORKER_DETECTION) detection(d, &q);
        else posteriors(d, &q);
    }
}

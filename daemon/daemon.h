/* daemon/daemon.h — what the subsystems of earshotd share: the daemon's
 * state (owned by the main thread) and the calls between its files. */
#ifndef EARSHOTD_DAEMON_H
#define EARSHOTD_DAEMON_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "capture.h"
#include "config.h"
#include "finetune.h"
#include "worker.h"

typedef struct client client;

/* One model slot: its config (thresholds by label name) and its worker. */
typedef struct {
    esd_model_config cfg;
    worker *w;
    es_model *prev;             /* the model before the last swap, for rollback */
    char prev_path[ESD_PATH_MAX];
} slot;

/* An event from a worker waiting for the main loop. */
typedef struct {
    worker_event ev;            /* pointers below are into this record */
    char model[ESD_NAME_MAX];
    const es_model *m;          /* valid until main frees retired models, after the queue */
    char labels[ES_DETECT_TOP_K + 1][ES_LABEL_MAX];
    float post[ES_MAX_LABELS];
    int k;
} queued_event;

typedef struct esd {
    esd_config cfg;
    char config_path[ESD_PATH_MAX];
    int socket_from_flag;       /* --socket given: reload keeps it */
    double started_mono, started_wall;
    /* audio */
    es_ring ring;
    uint32_t *ring_storage;
    capture *cap;
    slot slots[ESD_MAX_MODELS];
    int n_slots;
    /* worker → main events */
    pthread_mutex_t qlock;
    queued_event *queue;        /* [QCAP] ring */
    size_t q_head, q_len;
    uint64_t q_dropped;
    int event_fd;               /* eventfd: the workers wake the loop */
    /* detections */
    uint64_t next_id;
    char **history;             /* [cfg.history_events] JSON lines, ring */
    size_t h_head, h_len;
    /* socket */
    int listen_fd, epoll_fd;
    int socket_activated;
    client *clients;
    int n_clients;
    uint64_t clients_total;
    gid_t priv_gid;             /* the configured group; (gid_t)-1 none */
    /* teaching: one fine-tuning job at a time (2 cores: one for it) */
    ft_job *job;
    int job_slot;
    char job_model[ESD_NAME_MAX], job_sha[65];
    json_t *job_last;           /* the last finished job's outcome, for finetune-status */
    uint64_t job_windows0[ESD_MAX_MODELS], job_lost0[ESD_MAX_MODELS];  /* at its start */
    double job_p99_before[ESD_MAX_MODELS];  /* inference latency before it (s) */
    size_t job_preempted_before[ESD_MAX_MODELS]; /* of those 200 windows, preempted ones */
    /* life */
    int want_reload, want_stop, ended_reported;
} esd;

#define ESD_QCAP 4096

/* events.c */
void events_on_worker(void *user, const worker_event *ev);   /* worker threads */
void events_drain(esd *d);                                    /* main: queue → clients */
json_t *events_history(esd *d, int max);

/* clips.c: a detection's audio to clips.dir once its post-roll is in */
void clips_request(esd *d, uint64_t id, const char *model, const char *label, double onset,
                   double offset);
void clips_tick(esd *d);

/* server.c */
int server_open(esd *d);                  /* the listening socket (or systemd's) */
void server_close(esd *d);
void server_on_listen(esd *d);
void server_on_client(esd *d, client *c, uint32_t events);
int server_is_listen(esd *d, void *tag);
/* Queues a JSON line to a client; a full queue counts a miss. Steals o. */
void server_send(esd *d, client *c, json_t *o);
/* Sends an event to every subscriber it matches. */
void server_broadcast(esd *d, const char *model, const char *label, json_t *ev, int posteriors);
void server_free_clients(esd *d);
/* Frees the clients a broadcast found gone; after each epoll batch. */
void server_reap(esd *d);
int client_privileged(const client *c);
uint64_t client_missed(const client *c);
void client_subscribe(esd *d, client *c, const char *model, const char *label, double post_hz);
void client_unsubscribe(esd *d, client *c);
void server_update_posterior_wants(esd *d);

/* commands.c */
void commands_dispatch(esd *d, client *c, const char *line, size_t len);

/* main.c */
/* Loads path into the slot named name (a new slot when there is none and
 * room): validated and fully prepared first, then swapped in between two
 * windows. with: the settings to use (NULL: the slot's, or the defaults for
 * a new slot). Returns the slot index, or -1 with err (the old model runs on). */
int esd_load_model(esd *d, const char *name, const char *path, const esd_model_config *with,
                   char *err, size_t errlen);
int esd_reload(esd *d, char *err, size_t errlen);
/* Puts model m (taken over, freed on failure) into slot i between two
 * windows; the model it replaces is kept for rollback. origin says where m
 * came from (a path, "fine-tuned from ..."). */
int esd_swap_model(esd *d, int i, es_model *m, const char *origin, char *err, size_t errlen);
/* teach.c: fine-tuning progress and results to subscribers (main loop) */
void teach_poll(esd *d);
void teach_stop(esd *d);    /* cancels and joins a running job (exit) */
/* The newest `seconds` of the input, or the stream span [t0, t1] s, from
 * the ring's history: x (malloc'd) of *n samples at the capture rate. */
int esd_history_audio(esd *d, double t0, double t1, float **x, size_t *n, char *err,
                      size_t errlen);
json_t *esd_status(esd *d);
int esd_slot_index(esd *d, const char *name);

#endif

/* daemon/main.c — earshotd: flags and config, start-up, the event loop
 * (socket, worker events, signals, a tick), systemd notifications, reload
 * and a clean stop. */
#define _GNU_SOURCE /* timerfd, eventfd */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "devices.h"
#include "earshot/error.h"
#include "examples.h"
#include "earshot/nn.h"
#include "earshot/replay.h"
#include "log.h"

#define TICK_MS 250   /* status, watchdog, device supervision, freeing swapped-out models */

static const char help[] =
    "usage: earshotd [options]\n"
    "\n"
    "Listens to a microphone (or a file, or stdin) and reports what it hears,\n"
    "live: detections go to stderr/the journal and to subscribers of the\n"
    "control socket (see README.md, \"The control socket\").\n"
    "\n"
    "  -c, --config FILE        configuration (default /etc/earshot/earshotd.conf)\n"
    "  -s, --socket PATH        control socket (overrides socket.path)\n"
    "  -i, --input SPEC         portaudio[:DEVICE], file:PATH or stdin:RATE (input.source)\n"
    "  -r, --input-rate HZ      capture rate for portaudio (input.rate)\n"
    "  -p, --input-pace PACE    file input: realtime or fast (input.pace)\n"
    "  -l, --loop               file input: start over at the end (input.loop)\n"
    "      --log-level LEVEL    err, warning, notice, info or debug (log_level)\n"
    "      --state-dir DIR      examples and fine-tuned models (state_dir; systemd's\n"
    "                           $STATE_DIRECTORY when neither is given)\n"
    "      --check-config       validate the configuration and its models, then exit\n"
    "      --list-devices       list PortAudio's input devices and exit\n"
    "  -h, --help               this text\n";

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int esd_slot_index(esd *d, const char *name) {
    for (int i = 0; i < d->n_slots; i++)
        if (strcmp(d->slots[i].cfg.name, name) == 0) return i;
    return -1;
}

/* Frees models the workers have swapped out. Events queued before a swap
 * point into the old model, so the queue is drained first. */
static void collect_retired(esd *d) {
    for (int i = 0; i < d->n_slots; i++) {
        model_state *r = worker_collect(d->slots[i].w);
        if (!r) continue;
        events_drain(d);
        model_state_free(r);
    }
}

/* A copy of slot i's model as it runs now (or is about to), for rollback. */
static void keep_prev(esd *d, int i) {
    const model_state *cur = worker_model(d->slots[i].w);
    es_model *copy;
    if (es_model_copy(model_state_model(cur), &copy) < 0) {
        esd_log(ES_LOG_WARNING, "model '%s': no copy kept for rollback: %s", d->slots[i].cfg.name,
                es_errmsg());
        return;
    }
    es_model_free(d->slots[i].prev);
    d->slots[i].prev = copy;
    snprintf(d->slots[i].prev_path, sizeof d->slots[i].prev_path, "%s", model_state_path(cur));
}

int esd_swap_model(esd *d, int i, es_model *m, const char *origin, char *err, size_t errlen) {
    model_state *st;
    char hex[65] = "";
    if (model_state_sha256_of(m, hex) < 0) {
        snprintf(err, errlen, "cannot hash the model: %s", es_errmsg());
        es_model_free(m);
        return -1;
    }
    if (model_state_create_model(&st, m, origin, hex, capture_rate(d->cap), &d->slots[i].cfg, err,
                                 errlen) < 0)
        return -1;
    keep_prev(d, i);
    worker_swap(d->slots[i].w, st);
    esd_log(ES_LOG_NOTICE, "model '%s' is now %s (sha256 %s)", d->slots[i].cfg.name, origin, hex);
    return 0;
}

int esd_history_audio(esd *d, double t0, double t1, float **x, size_t *n, char *err,
                      size_t errlen) {
    double rate = capture_rate(d->cap);
    uint64_t newest = es_ring_write_pos(&d->ring), a, b;
    size_t cap = es_ring_capacity(&d->ring);
    *x = NULL;
    *n = 0;
    if (t0 < 0.0) { /* the newest -t0 seconds */
        b = newest;
        a = (uint64_t)(-t0 * rate) > b ? 0 : b - (uint64_t)(-t0 * rate);
    } else {
        a = (uint64_t)(t0 * rate);
        b = (uint64_t)(t1 * rate);
        if (b > newest) b = newest;
    }
    if (b <= a) {
        snprintf(err, errlen, "no audio in that span yet");
        return -1;
    }
    if (newest - a > cap) {
        snprintf(err, errlen, "that audio is no longer in the %.0f s history",
                 (double)cap / rate);
        return -1;
    }
    if (!(*x = malloc((size_t)(b - a) * sizeof **x))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (es_ring_read_at(&d->ring, a, *x, (size_t)(b - a)) < 0) {
        free(*x);
        *x = NULL;
        snprintf(err, errlen, "that audio is no longer in the history");
        return -1;
    }
    *n = (size_t)(b - a);
    return 0;
}

/* Real-time inference only where the input comes in real time: a file read
 * as fast as the workers go, or stdin (which may be a file piped in), would
 * keep SCHED_FIFO workers busy without pause and starve the event loop. */
static int realtime_priority(const esd_config *c) {
    if (c->input == ESD_IN_STDIN || (c->input == ESD_IN_FILE && c->pace_fast)) return 0;
    return c->realtime_priority;
}

int esd_load_model(esd *d, const char *name, const char *path, const esd_model_config *with,
                   char *err, size_t errlen) {
    int i = esd_slot_index(d, name);
    model_state *st;
    esd_model_config mc;
    if (i < 0 && d->n_slots >= ESD_MAX_MODELS) {
        snprintf(err, errlen, "no room for another model (at most %d)", ESD_MAX_MODELS);
        return -1;
    }
    /* the settings: given, else the slot's (runtime `set`s included), else defaults */
    if (with) {
        mc = *with;
    } else if (i >= 0) {
        mc = d->slots[i].cfg;
    } else {
        memset(&mc, 0, sizeof mc);
        mc.detect = es_detect_defaults();
    }
    snprintf(mc.name, sizeof mc.name, "%s", name);
    snprintf(mc.file, sizeof mc.file, "%s", path);
    if (model_state_create(&st, path, capture_rate(d->cap), &mc, err, errlen) < 0) {
        esd_log(ES_LOG_WARNING, "load %s into '%s' refused: %s", path, name, err);
        return -1;
    }
    if (i >= 0) {
        /* the worker keeps runtime detection settings across a swap */
        if (with) worker_set_detect(d->slots[i].w, &mc.detect);
        keep_prev(d, i);
        worker_swap(d->slots[i].w, st);
    } else {
        int rt = realtime_priority(&d->cfg), got;
        if (worker_start(&d->slots[d->n_slots].w, name, st, d->cap, &d->ring, rt,
                         events_on_worker, d) < 0) {
            model_state_free(st);
            snprintf(err, errlen, "cannot start a worker thread");
            return -1;
        }
        if ((got = worker_sched(d->slots[d->n_slots].w)) > 0)
            esd_log(ES_LOG_INFO, "model '%s': inference under SCHED_FIFO, priority %d", name, got);
        else if (got < 0)
            esd_log(ES_LOG_NOTICE,
                    "model '%s': inference at normal priority, SCHED_FIFO %d refused (%s); "
                    "a training job can then delay windows (run as root, or give the "
                    "service LimitRTPRIO=%d)",
                    name, rt, strerror(-got), rt);
        i = d->n_slots++;
        server_update_posterior_wants(d);
    }
    d->slots[i].cfg = mc;
    esd_log(ES_LOG_NOTICE, "model '%s' is now %s (sha256 %s)", name, path, model_state_sha256(st));
    return i;
}

/* A file or stdin input is over and every worker has classified its tail. */
static int input_ended(esd *d) {
    int ended = capture_ended(d->cap);
    for (int i = 0; i < d->n_slots && ended; i++) {
        worker_stats s;
        worker_stats_get(d->slots[i].w, &s);
        ended = s.tail_done;
    }
    return ended;
}

json_t *esd_status(esd *d) {
    json_t *models = json_array();
    int ended = input_ended(d);
    for (int i = 0; i < d->n_slots; i++) {
        worker_stats s;
        const model_state *st = worker_model(d->slots[i].w);
        const es_model *m = model_state_model(st);
        json_t *labels = json_array();
        int rt = worker_sched(d->slots[i].w); /* < 0: refused, so normal scheduling */
        worker_stats_get(d->slots[i].w, &s);
        for (int k = 0; k < es_model_num_labels(m); k++)
            json_array_append_new(labels, json_string(es_model_label(m, k)));
        json_array_append_new(
            models, json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:i}",
                              "name", d->slots[i].cfg.name, "file", model_state_path(st),
                              "sha256", model_state_sha256(st), "labels", labels, "windows",
                              (json_int_t)s.windows, "detections", (json_int_t)s.detections,
                              "overruns", (json_int_t)s.overruns, "lost_samples",
                              (json_int_t)s.lost, "stream_seconds", s.stream_seconds,
                              "latency_p50_ms", s.latency_p50 * 1e3, "latency_p99_ms",
                              s.latency_p99 * 1e3, "realtime_priority", rt > 0 ? rt : 0));
    }
    return json_pack("{s:f, s:s, s:i, s:f, s:b, s:b, s:I, s:o, s:i, s:I, s:I}", "uptime",
                     now_mono() - d->started_mono, "input", capture_describe(d->cap), "rate",
                     capture_rate(d->cap), "input_seconds",
                     (double)es_ring_write_pos(&d->ring) / capture_rate(d->cap),
                     "input_running", capture_running(d->cap),
                     "input_ended", ended, "input_overflows",
                     (json_int_t)capture_overflows(d->cap), "models", models, "clients",
                     d->n_clients, "clients_total", (json_int_t)d->clients_total,
                     "events_dropped", (json_int_t)d->q_dropped);
}

static void notify_status(esd *d) {
    char line[512];
    int n = snprintf(line, sizeof line, "STATUS=%s", capture_describe(d->cap));
    for (int i = 0; i < d->n_slots && n < (int)sizeof line; i++) {
        worker_stats s;
        worker_stats_get(d->slots[i].w, &s);
        n += snprintf(line + n, sizeof line - (size_t)n, "%s %s: %llu detections", i ? "," : ";",
                      d->slots[i].cfg.name, (unsigned long long)s.detections);
    }
    if (n < (int)sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, "; %d clients", d->n_clients);
    sd_notify(0, line);
}

/* The audio path is healthy when every worker's stream moved since the last
 * look (or the input is a file or stdin that has ended). */
static int audio_healthy(esd *d, double *last_stream, double *last_change) {
    double t = now_mono();
    int ok = 1;
    if (capture_ended(d->cap)) return 1;
    for (int i = 0; i < d->n_slots; i++) {
        worker_stats s;
        worker_stats_get(d->slots[i].w, &s);
        if (s.stream_seconds != last_stream[i]) {
            last_stream[i] = s.stream_seconds;
            last_change[i] = t;
        }
        /* a window at least every stride; allow for start-up and a slow box */
        if (t - last_change[i] > 10.0) ok = 0;
    }
    return ok;
}

/* Whether two configs of a model cut its windows alike: otherwise a reload
 * must build the model's stream state anew (worker.c sizes it at load). */
static int same_windows(const esd_model_config *a, const esd_model_config *b) {
    return a->stride_seconds == b->stride_seconds && a->lookback_seconds == b->lookback_seconds &&
           a->lookback_quiet_db == b->lookback_quiet_db;
}

/* Reload: a model whose file or windows changed (or a new one) is loaded
 * with the new settings; the others get their detection settings and label
 * thresholds. */
static void apply_settings(esd *d, const esd_config *nc) {
    for (int i = 0; i < nc->n_models; i++) {
        const esd_model_config *mc = &nc->models[i];
        int s = esd_slot_index(d, mc->name);
        char err[1024];
        if (s < 0 || strcmp(d->slots[s].cfg.file, mc->file) != 0 ||
            !same_windows(&d->slots[s].cfg, mc)) {
            if (esd_load_model(d, mc->name, mc->file, mc, err, sizeof err) < 0)
                esd_log(ES_LOG_ERR, "reload: model '%s': %s", mc->name, err);
            continue;
        }
        {
            const es_model *m = model_state_model(worker_model(d->slots[s].w));
            worker_set_detect(d->slots[s].w, &mc->detect);
            for (int k = 0; k < es_model_num_labels(m); k++) {
                float t = NAN;
                for (int j = 0; j < mc->n_thresholds; j++)
                    if (strcmp(mc->threshold_label[j], es_model_label(m, k)) == 0)
                        t = mc->threshold_value[j];
                worker_set_threshold(d->slots[s].w, k, t);
            }
            d->slots[s].cfg = *mc;
        }
    }
}

int esd_reload(esd *d, char *err, size_t errlen) {
    esd_config nc;
    esd_config_defaults(&nc);
    if (esd_config_load(&nc, d->config_path, err, errlen) < 0) {
        esd_log(ES_LOG_ERR, "reload: %s; the running configuration stays", err);
        return -1;
    }
    esd_log_set_level(nc.log_level);
    d->cfg.log_level = nc.log_level;
    apply_settings(d, &nc);
    esd_log(ES_LOG_NOTICE, "reloaded %s (input, socket and realtime_priority changes need a "
            "restart)", d->config_path);
    return 0;
}

typedef struct {
    const char *config, *socket, *input, *pace, *level, *state_dir;
    int rate, loop, check, list;
} flags;

static int parse_flags(int argc, char **argv, flags *f) {
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},     {"socket", required_argument, NULL, 's'},
        {"input", required_argument, NULL, 'i'},      {"input-rate", required_argument, NULL, 'r'},
        {"input-pace", required_argument, NULL, 'p'}, {"loop", no_argument, NULL, 'l'},
        {"log-level", required_argument, NULL, 'L'},  {"check-config", no_argument, NULL, 'C'},
        {"list-devices", no_argument, NULL, 'D'},     {"help", no_argument, NULL, 'h'},
        {"state-dir", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    int o;
    char *end;
    memset(f, 0, sizeof *f);
    f->config = "/etc/earshot/earshotd.conf";
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":c:s:i:r:p:lh", opts, NULL)) != -1) {
        switch (o) {
        case 'c': f->config = optarg; break;
        case 's': f->socket = optarg; break;
        case 'i': f->input = optarg; break;
        case 'r':
            f->rate = (int)strtol(optarg, &end, 10);
            if (*end || f->rate < 1000 || f->rate > 384000) {
                fprintf(stderr, "earshotd: --input-rate: '%s' is not a rate in [1000, 384000]\n", optarg);
                return 2;
            }
            break;
        case 'p': f->pace = optarg; break;
        case 'l': f->loop = 1; break;
        case 'L': f->level = optarg; break;
        case 'S': f->state_dir = optarg; break;
        case 'C': f->check = 1; break;
        case 'D': f->list = 1; break;
        case 'h': fputs(help, stdout); return 1;
        case ':':
            fprintf(stderr, "earshotd: %s needs a value (--help)\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "earshotd: unknown option '%s' (--help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "earshotd: unexpected argument '%s' (--help)\n", argv[optind]);
        return 2;
    }
    return 0;
}

/* Config file, then flags over it. */
static int configure(esd *d, const flags *f) {
    char err[1200];
    esd_config *c = &d->cfg;
    esd_config_defaults(c);
    snprintf(d->config_path, sizeof d->config_path, "%s", f->config);
    if (esd_config_load(c, f->config, err, sizeof err) < 0) {
        fprintf(stderr, "earshotd: %s\n", err);
        return -1;
    }
    if (f->input && esd_config_input(c, f->input, err, sizeof err) < 0) {
        fprintf(stderr, "earshotd: --input: %s\n", err);
        return -1;
    }
    if (f->rate && c->input != ESD_IN_STDIN) c->input_rate = f->rate;
    if (f->pace) {
        if (strcmp(f->pace, "fast") && strcmp(f->pace, "realtime")) {
            fprintf(stderr, "earshotd: --input-pace: '%s' is not realtime or fast\n", f->pace);
            return -1;
        }
        c->pace_fast = strcmp(f->pace, "fast") == 0;
    }
    if (f->loop) c->loop = 1;
    if (f->socket) {
        snprintf(c->socket_path, sizeof c->socket_path, "%s", f->socket);
        d->socket_from_flag = 1;
    }
    if (f->level) {
        static const char *const names[] = {"err", "warning", "notice", "info", "debug"};
        int lv = -1;
        for (int i = 0; i < 5; i++)
            if (strcmp(f->level, names[i]) == 0) lv = ES_LOG_ERR + i;
        if (lv < 0) {
            fprintf(stderr, "earshotd: --log-level: '%s' is not err, warning, notice, info or debug\n", f->level);
            return -1;
        }
        c->log_level = lv;
    }
    if (f->state_dir) {
        if (!*f->state_dir || strlen(f->state_dir) >= sizeof c->state_dir) {
            fprintf(stderr, "earshotd: --state-dir: '%s' is not a usable path\n", f->state_dir);
            return -1;
        }
        snprintf(c->state_dir, sizeof c->state_dir, "%s", f->state_dir);
    } else if (!c->state_dir[0] && getenv("STATE_DIRECTORY") && *getenv("STATE_DIRECTORY")) {
        /* systemd's StateDirectory=: a colon-separated list, ours first */
        const char *e = getenv("STATE_DIRECTORY");
        size_t k = strcspn(e, ":");
        snprintf(c->state_dir, sizeof c->state_dir, "%.*s", (int)k, e);
    }
    if (c->n_models == 0) {
        fprintf(stderr, "earshotd: %s: no models (the 'models' list is empty)\n", f->config);
        return -1;
    }
    return 0;
}

static int check_models(const esd_config *c) {
    int bad = 0;
    for (int i = 0; i < c->n_models; i++) {
        model_state *st;
        char err[1200];
        if (model_state_create(&st, c->models[i].file, c->input_rate, &c->models[i], err, sizeof err) < 0) {
            fprintf(stderr, "earshotd: model '%s': %s\n", c->models[i].name, err);
            bad = 1;
        } else if (c->models[i].replay[0]) {
            /* a named replay store must load too (the default one is optional) */
            es_dataset *ds;
            int rate = es_model_features(model_state_model(st))->sample_rate;
            if (es_replay_load(&ds, c->models[i].replay, rate) < 0) {
                fprintf(stderr, "earshotd: model '%s': replay: %s\n", c->models[i].name,
                        es_errmsg());
                bad = 1;
            }
            es_dataset_free(ds);
        }
        model_state_free(st);
    }
    return bad ? -1 : 0;
}

static int ring_init(esd *d, int rate) {
    size_t need = (size_t)(d->cfg.history_seconds * rate), cap = 1;
    while (cap < need) cap <<= 1;
    d->ring_storage = calloc(cap, sizeof *d->ring_storage);
    if (!d->ring_storage) {
        esd_log(ES_LOG_ERR, "out of memory for %.0f s of audio history", d->cfg.history_seconds);
        return ES_ENOMEM;
    }
    return es_ring_init(&d->ring, d->ring_storage, cap);
}

static int add_fd(esd *d, int fd, void *tag) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = tag;
    return epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

/* Signals only set a flag and wake the loop (a write to its eventfd, which
 * is async-signal-safe); the loop acts on the flags. A handler, not a
 * blocked mask and a signalfd: libraries start threads of their own
 * (OpenBLAS does, before main), and a signal delivered to one of them must
 * not take the default action and kill the daemon. */
static volatile sig_atomic_t got_stop, got_reload;
static int wake_fd = -1;

static void on_signal(int sig) {
    uint64_t one = 1;
    ssize_t r;
    if (sig == SIGHUP) got_reload = 1;
    else got_stop = 1;
    r = write(wake_fd, &one, sizeof one);
    (void)r;
}

static void install_signals(int fd) {
    struct sigaction sa;
    wake_fd = fd;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int run(esd *d) {
    int tick_fd, status = 0, ready_sent = 0;
    struct itimerspec its = {{0, TICK_MS * 1000000L}, {0, TICK_MS * 1000000L}};
    uint64_t wd_usec = 0;
    double last_wd = 0.0, last_stream[ESD_MAX_MODELS] = {0}, last_change[ESD_MAX_MODELS];
    int ticks = 0;
    tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tick_fd < 0 || timerfd_settime(tick_fd, 0, &its, NULL) < 0 ||
        add_fd(d, tick_fd, &tick_fd) < 0 ||
        add_fd(d, d->event_fd, &d->event_fd) < 0) {
        esd_log(ES_LOG_ERR, "event loop: %s", strerror(errno));
        return 1;
    }
    if (sd_watchdog_enabled(0, &wd_usec) <= 0) wd_usec = 0;
    for (int i = 0; i < ESD_MAX_MODELS; i++) last_change[i] = now_mono();
    sd_notify(0, "READY=1");
    ready_sent = 1;
    esd_log(ES_LOG_INFO, "ready: %d model%s on %s", d->n_slots, d->n_slots == 1 ? "" : "s",
            capture_describe(d->cap));
    while (!d->want_stop) {
        struct epoll_event evs[64];
        int n = epoll_wait(d->epoll_fd, evs, 64, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            esd_log(ES_LOG_ERR, "epoll: %s", strerror(errno));
            status = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == &tick_fd) {
                uint64_t x;
                ssize_t r = read(tick_fd, &x, sizeof x);
                (void)r;
                capture_supervise(d->cap);
                collect_retired(d);
                clips_tick(d);
                teach_poll(d);
                if (++ticks % 4 == 0) notify_status(d);
                if (wd_usec && now_mono() - last_wd >= (double)wd_usec / 2e6 &&
                    audio_healthy(d, last_stream, last_change)) {
                    sd_notify(0, "WATCHDOG=1");
                    last_wd = now_mono();
                }
                if (!d->ended_reported && input_ended(d)) {
                    d->ended_reported = 1;
                    esd_log(ES_LOG_NOTICE, "input ended; every window classified");
                }
            } else if (tag == &d->event_fd) {
                events_drain(d);
                teach_poll(d);
            } else if (server_is_listen(d, tag)) {
                server_on_listen(d);
            } else {
                server_on_client(d, tag, evs[i].events);
            }
        }
        server_reap(d);
        if (got_stop) d->want_stop = 1;
        if (got_reload) {
            got_reload = 0;
            d->want_reload = 1;
        }
        if (d->want_reload) {
            char err[1200];
            d->want_reload = 0;
            esd_reload(d, err, sizeof err);
        }
    }
    if (ready_sent) sd_notify(0, "STOPPING=1");
    esd_log(ES_LOG_INFO, "stopping");
    close(tick_fd);
    return status;
}

int main(int argc, char **argv) {
    flags f;
    esd d;
    int rc = parse_flags(argc, argv, &f), status = 1;
    if (rc) return rc == 1 ? 0 : 2;
    if (f.list) return es_list_input_devices(stdout) < 0 ? 1 : 0;
    memset(&d, 0, sizeof d);
    d.listen_fd = d.epoll_fd = d.event_fd = -1;
    d.started_mono = now_mono();
    if (configure(&d, &f) < 0) return 1;
    if (f.check) {
        if (check_models(&d.cfg) < 0) return 1;
        printf("%s: configuration and %d model%s OK\n", f.config, d.cfg.n_models,
               d.cfg.n_models == 1 ? "" : "s");
        return 0;
    }
    esd_log_init(d.cfg.log_level);
    /* inference at batch 1: one BLAS thread per worker (README) */
    es_blas_set_threads(1);
    pthread_mutex_init(&d.qlock, NULL);
    d.queue = calloc(ESD_QCAP, sizeof *d.queue);
    d.history = calloc((size_t)d.cfg.history_events, sizeof *d.history);
    d.event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    d.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (!d.queue || !d.history || d.event_fd < 0 || d.epoll_fd < 0) {
        esd_log(ES_LOG_ERR, "out of resources at start-up");
        goto out;
    }
    install_signals(d.event_fd);
    if (d.cfg.clips_dir[0] && mkdir(d.cfg.clips_dir, 0750) < 0 && errno != EEXIST)
        esd_log(ES_LOG_WARNING, "clips: cannot create %s: %s", d.cfg.clips_dir, strerror(errno));
    if (server_open(&d) < 0) goto out;
    /* the ring exists before a device stream starts writing into it; a file
     * or stdin at a higher rate gets a bigger one (their producers start
     * only at capture_go) */
    if (ring_init(&d, d.cfg.input_rate > 48000 ? d.cfg.input_rate : 48000) < 0 ||
        capture_open(&d.cap, &d.cfg, &d.ring) < 0)
        goto out;
    if (d.cfg.input != ESD_IN_PORTAUDIO && capture_rate(d.cap) > 48000 &&
        capture_rate(d.cap) > d.cfg.input_rate) {
        free(d.ring_storage);
        if (ring_init(&d, capture_rate(d.cap)) < 0) goto out;
    }
    examples_sweep(d.cfg.state_dir);
    for (int i = 0; i < d.cfg.n_models; i++) {
        char err[1200], saved[ESD_PATH_MAX + 128];
        const esd_model_config *mc = &d.cfg.models[i];
        /* a model saved after fine-tuning takes the place of the shipped one */
        if (d.cfg.state_dir[0] &&
            (size_t)snprintf(saved, sizeof saved, "%s/models/%s.safetensors", d.cfg.state_dir,
                             mc->name) < sizeof saved &&
            access(saved, F_OK) == 0) {
            int s = esd_load_model(&d, mc->name, saved, mc, err, sizeof err);
            if (s >= 0) {
                snprintf(d.slots[s].cfg.file, sizeof d.slots[s].cfg.file, "%s", mc->file);
                continue;
            }
            esd_log(ES_LOG_WARNING, "model '%s': the saved %s is unusable (%s); using %s",
                    mc->name, saved, err, mc->file);
        }
        if (esd_load_model(&d, mc->name, mc->file, mc, err, sizeof err) < 0) {
            esd_log(ES_LOG_ERR, "model '%s': %s", mc->name, err);
            goto out;
        }
    }
    if (capture_go(d.cap) < 0) goto out;
    status = run(&d);
out:
    teach_stop(&d);
    for (int i = 0; i < d.n_slots; i++) {
        worker_stop(d.slots[i].w);
        d.slots[i].w = NULL;
        es_model_free(d.slots[i].prev);
        d.slots[i].prev = NULL;
    }
    /* no slots from here on: server_close drops the clients still
     * connected, and dropping one looks at every slot's worker */
    d.n_slots = 0;
    json_decref(d.job_last);
    capture_stop(d.cap);
    server_close(&d);
    if (d.event_fd >= 0) close(d.event_fd);
    if (d.epoll_fd >= 0) close(d.epoll_fd);
    for (int i = 0; d.history && i < d.cfg.history_events; i++) free(d.history[i]);
    free(d.history);
    free(d.queue);
    free(d.ring_storage);
    pthread_mutex_destroy(&d.qlock);
    return status;
}

/* tests/test_daemon.c — earshotd from the outside: systemd notifications
 * (READY, STATUS, WATCHDOG, STOPPING), the control socket under bad input
 * (invalid JSON, unknown commands, wrong types, a 10 MB line, 200 clients,
 * a subscriber that never reads, an unprivileged peer), a corrupt `load`
 * that leaves the old model detecting, SIGHUP (a changed lookback_seconds
 * takes effect), and a clean SIGTERM; then
 * socket activation through systemd-socket-activate.
 *
 * Usage: test_daemon EARSHOTD SOURCE_DIR
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* How long to wait for what must happen: only a hang takes this long,
 * even in a sanitizer build on a loaded machine. Nothing here is asserted
 * after a fixed sleep. */
#define LIVENESS 60.0
#define STARTUP 120.0   /* loading the models, in a TSan build */
#define CLIENT_QUEUE 16 /* socket.client_queue in the test config */

static char dir[256], sock_path[300], notify_path[300];
static int notify_fd = -1;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Notifications are read all along by a thread, as systemd does: the
 * daemon's sd_notify blocks when nobody reads. await_notify waits for one
 * that arrived after the previous match. */
static pthread_mutex_t note_lock = PTHREAD_MUTEX_INITIALIZER;
static char notes[1 << 16];
static size_t notes_len, notes_seen;

static void *notify_reader(void *p) {
    char buf[4096];
    (void)p;
    for (;;) {
        ssize_t n = recv(notify_fd, buf, sizeof buf - 1, 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            return NULL;
        }
        pthread_mutex_lock(&note_lock);
        if (notes_len + (size_t)n + 2 > sizeof notes) { /* keep the newest half */
            memmove(notes, notes + sizeof notes / 2, notes_len - sizeof notes / 2);
            notes_len -= sizeof notes / 2;
            notes_seen = notes_seen > sizeof notes / 2 ? notes_seen - sizeof notes / 2 : 0;
        }
        memcpy(notes + notes_len, buf, (size_t)n);
        notes_len += (size_t)n;
        notes[notes_len++] = '\n';
        notes[notes_len] = '\0';
        pthread_mutex_unlock(&note_lock);
    }
}

static int await_notify(const char *what, double secs) {
    double end = now() + secs;
    while (now() < end) {
        char *hit;
        pthread_mutex_lock(&note_lock);
        hit = notes_len ? strstr(notes + notes_seen, what) : NULL;
        if (hit) notes_seen = (size_t)(hit - notes) + strlen(what);
        pthread_mutex_unlock(&note_lock);
        if (hit) return 1;
        usleep(20000);
    }
    fprintf(stderr, "test_daemon: no %s from earshotd within %.0f s\n", what, secs);
    return 0;
}

static int connect_to(const char *path) {
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        if (fd >= 0) close(fd);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The lines a socket brings, read in bulk: a subscriber keeps up with
 * what it is sent however slowly the test runs. */
typedef struct {
    int fd;
    size_t off, len;
    char buf[16384];
} line_reader;

enum { LINE_EOF = -1, LINE_TIMEOUT = -2 };

static void reader_init(line_reader *lr, int fd) {
    lr->fd = fd;
    lr->off = lr->len = 0;
}

/* The next line within secs into buf (without the newline; a longer line is
 * cut to cap - 1 bytes): its length, LINE_EOF when the peer hung up, or
 * LINE_TIMEOUT. */
static int read_line(line_reader *lr, char *buf, size_t cap, double secs) {
    size_t n = 0;
    double end = now() + secs;
    for (;;) {
        struct pollfd p = {lr->fd, POLLIN, 0};
        double left;
        ssize_t r;
        while (lr->off < lr->len) {
            char ch = lr->buf[lr->off++];
            if (ch == '\n') {
                buf[n] = '\0';
                return (int)n;
            }
            if (n + 1 < cap) buf[n++] = ch;
        }
        buf[n] = '\0';
        if ((left = end - now()) <= 0) return LINE_TIMEOUT;
        if (poll(&p, 1, (int)(left * 1e3) + 1) <= 0) continue;
        r = recv(lr->fd, lr->buf, sizeof lr->buf, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r <= 0) return LINE_EOF;
        lr->off = 0;
        lr->len = (size_t)r;
    }
}

/* A request and its reply line (events before it are skipped). */
static int ask(const char *req, char *reply, size_t cap) {
    int fd = connect_to(sock_path), rc = -1;
    double end = now() + LIVENESS;
    line_reader lr;
    if (fd < 0) return -1;
    reader_init(&lr, fd);
    if (send_all(fd, req, strlen(req)) == 0 && send_all(fd, "\n", 1) == 0)
        while ((rc = read_line(&lr, reply, cap, end - now())) >= 0 && !strstr(reply, "\"ok\":")) {
        }
    close(fd);
    return rc;
}

static int expect_reply(const char *req, const char *want) {
    char r[65536];
    if (ask(req, r, sizeof r) < 0) {
        fprintf(stderr, "no reply to %s\n", req);
        return 0;
    }
    if (!strstr(r, want)) {
        fprintf(stderr, "reply to %.80s: %s (wanted %s)\n", req, r, want);
        return 0;
    }
    return 1;
}

/* expect_reply for a change the daemon makes in its own time: while the
 * reply still holds `before` (the state before the change), ask again */
static int expect_reply_after(const char *req, const char *before, const char *want, double secs) {
    char r[65536];
    double end = now() + secs;
    int rc;
    while ((rc = ask(req, r, sizeof r)) >= 0 && strstr(r, before) && now() < end) usleep(20000);
    if (rc < 0) {
        fprintf(stderr, "no reply to %s\n", req);
        return 0;
    }
    if (!strstr(r, want)) {
        fprintf(stderr, "reply to %.80s after up to %.0f s: %s (wanted %s)\n", req, secs, r, want);
        return 0;
    }
    return 1;
}

/* windows of a model in the status reply */
static long windows_of(const char *model) {
    char r[65536], key[128], *p;
    if (ask("{\"cmd\":\"status\"}", r, sizeof r) < 0) return -1;
    snprintf(key, sizeof key, "\"name\":\"%s\"", model);
    if (!(p = strstr(r, key)) || !(p = strstr(p, "\"windows\":"))) return -1;
    return strtol(p + 10, NULL, 10);
}

/* Whether a model classifies more windows than `past` within secs. */
static int windows_pass(const char *model, long past, double secs) {
    double end = now() + secs;
    long w = -1;
    while (now() < end && (w = windows_of(model)) <= past) usleep(20000);
    if (w > past) return 1;
    fprintf(stderr, "test_daemon: '%s' still at %ld windows (%ld before) after %.0f s\n", model, w,
            past, secs);
    return 0;
}

/* digits_extra: more settings of the digits model ("" for none) */
static void write_config(const char *src, const char *digits_extra) {
    char path[400];
    FILE *f;
    snprintf(path, sizeof path, "%s/earshotd.conf", dir);
    f = fopen(path, "w");
    if (!f) return;
    fprintf(f,
            /* fast: windows come as quickly as the workers go, so a
             * subscriber that never reads falls behind within a second */
            "input = { source = \"file:%s/demo/digits.wav\"; loop = true; pace = \"fast\"; };\n"
            "socket = { path = \"%s\"; max_clients = 64; client_queue = %d; };\n"
            "log_level = \"warning\";\n"
            "models = ( { name = \"digits\"; file = \"%s/models/digits.safetensors\";\n"
            "             thresholds = ( { label = \"8\"; threshold = 0.75; } ); %s },\n"
            "           { name = \"catdog\"; file = \"%s/models/catdog.safetensors\"; } );\n",
            src, sock_path, CLIENT_QUEUE, src, digits_extra, src);
    fclose(f);
}

static pid_t spawn(char *const argv[]) {
    pid_t pid = fork();
    if (pid == 0) {
        char log[400];
        int fd;
        snprintf(log, sizeof log, "%s/earshotd.log", dir);
        fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Whether pid exits within secs; one that hangs is killed, so that it does
 * not outlive the test. */
static int wait_exit(pid_t pid, double secs, int *status) {
    double end = now() + secs;
    while (now() < end) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return 1;
        usleep(20000);
    }
    fprintf(stderr, "test_daemon: process %d did not exit within %.0f s: killed\n", (int)pid, secs);
    kill(pid, SIGKILL);
    waitpid(pid, status, 0);
    return 0;
}

static void bad_requests(void) {
    CHECK(expect_reply("{not json", "\"code\":\"bad_json\""));
    CHECK(expect_reply("[1,2]", "\"code\":\"bad_request\""));
    CHECK(expect_reply("{\"id\":7}", "\"code\":\"bad_request\""));
    CHECK(expect_reply("{\"cmd\":\"fly\",\"id\":3}", "\"code\":\"unknown_command\""));
    CHECK(expect_reply("{\"cmd\":\"fly\",\"id\":3}", "\"id\":3"));
    CHECK(expect_reply("{\"cmd\":\"set\",\"model\":\"digits\",\"threshold\":\"high\"}",
                       "\"code\":\"bad_argument\""));
    CHECK(expect_reply("{\"cmd\":\"set\",\"model\":\"digits\",\"threshold\":7}",
                       "\"code\":\"bad_argument\""));
    CHECK(expect_reply("{\"cmd\":\"set\",\"model\":42,\"threshold\":0.5}", "\"code\":\"bad_argument\""));
    CHECK(expect_reply("{\"cmd\":\"set\",\"model\":\"nope\",\"threshold\":0.5}",
                       "\"code\":\"no_such_model\""));
    CHECK(expect_reply("{\"cmd\":\"history\",\"max\":\"x\"}", "\"code\":\"bad_argument\""));
    CHECK(expect_reply("{\"cmd\":\"status\",\"verbose\":true}", "\"code\":\"bad_argument\""));
    CHECK(expect_reply("{\"cmd\":\"subscribe\",\"posteriors\":-1}", "\"code\":\"bad_argument\""));
    CHECK(expect_reply("{\"cmd\":\"load\",\"model\":\"digits\"}", "\"code\":\"bad_argument\""));
    CHECK(expect_reply("{\"cmd\":\"history\",\"max\":5}", "\"events\":["));
    CHECK(expect_reply("{\"cmd\":\"models\"}", "\"sha256\":"));
    /* a label threshold from the config reaches the running model */
    CHECK(expect_reply("{\"cmd\":\"models\"}", "\"8\":0.75,"));
    /* and `set` changes one, and null brings back the default */
    CHECK(expect_reply("{\"cmd\":\"set\",\"model\":\"digits\",\"thresholds\":{\"3\":0.5}}", "\"3\":0.5,"));
    CHECK(expect_reply("{\"cmd\":\"set\",\"model\":\"digits\",\"thresholds\":{\"3\":null}}", "\"3\":0.6"));
    CHECK(expect_reply("{\"cmd\":\"set\",\"model\":\"digits\",\"thresholds\":{\"eleven\":0.5}}",
                       "\"code\":\"bad_argument\""));
    CHECK(expect_reply("{\"cmd\":\"set\",\"model\":\"digits\",\"min_count\":-99999999999}",
                       "\"code\":\"bad_argument\""));
    CHECK(expect_reply("{\"cmd\":\"predict\",\"model\":\"digits\"}", "\"posteriors\":"));
}

/* A 10 MB line: an error reply and a closed connection; the daemon goes on. */
static void long_line(void) {
    int fd = connect_to(sock_path), err = 0;
    size_t n = 10u << 20, sent = 0;
    char *big = malloc(n), reply[4096];
    double end = now() + LIVENESS;
    line_reader lr;
    CHECK(fd >= 0 && big);
    if (fd < 0 || !big) goto out;
    reader_init(&lr, fd);
    memset(big, 'x', n);
    CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
    /* the daemon hangs up once the line passes socket.max_line (1 MB): send
     * until it has (a slow daemon only makes this take longer) */
    while (sent < n && now() < end) {
        ssize_t w = send(fd, big + sent, n - sent, MSG_NOSIGNAL);
        if (w > 0) {
            sent += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd p = {fd, POLLOUT, 0};
            if (poll(&p, 1, 100) < 0 && errno != EINTR) break;
        } else {
            err = w < 0 ? errno : 0;
            break;
        }
    }
    if (err != EPIPE && err != ECONNRESET)
        fprintf(stderr, "test_daemon: a 10 MB request line: %zu bytes sent, then %s\n", sent,
                err ? strerror(err) : "no hang-up");
    CHECK(err == EPIPE || err == ECONNRESET);
    CHECK(sent < n); /* cut off before the whole line */
    CHECK(fcntl(fd, F_SETFL, 0) == 0);
    CHECK(read_line(&lr, reply, sizeof reply, LIVENESS) > 0 &&
          strstr(reply, "\"code\":\"too_long\""));
    CHECK(read_line(&lr, reply, sizeof reply, LIVENESS) == LINE_EOF); /* closed */
out:
    if (fd >= 0) close(fd);
    free(big);
    CHECK(expect_reply("{\"cmd\":\"status\"}", "\"ok\":true"));
}

/* 200 clients at once, each asking for the status: 64 allowed, the rest are
 * told so and closed. */
static void many_clients(void) {
    static const char req[] = "{\"cmd\":\"status\"}\n";
    int fds[200], busy = 0, served = 0;
    char line[65536];
    double end;
    line_reader lr;
    for (int i = 0; i < 200; i++) fds[i] = connect_to(sock_path);
    /* a refused client's socket may be closed already: its send can fail */
    for (int i = 0; i < 200; i++)
        if (fds[i] >= 0) (void)send_all(fds[i], req, sizeof req - 1);
    /* each one's first line: "busy" (then EOF), or its status */
    end = now() + LIVENESS;
    for (int i = 0; i < 200; i++) {
        int r = LINE_EOF;
        if (fds[i] >= 0) {
            reader_init(&lr, fds[i]);
            r = read_line(&lr, line, sizeof line, end - now());
        }
        if (r > 0 && strstr(line, "\"code\":\"busy\"")) busy++;
        else if (r > 0 && strstr(line, "\"ok\":true")) served++;
        else
            fprintf(stderr, "test_daemon: client %d of 200: %s\n", i,
                    fds[i] < 0 ? "could not connect"
                    : r == LINE_TIMEOUT ? "no reply"
                    : r == LINE_EOF     ? "closed without a reply"
                                        : line);
    }
    CHECK_EQ_INT(busy + served, 200);
    /* 64 allowed, fewer while the daemon has yet to see earlier clients'
     * hang-ups: the rest are told so and closed */
    CHECK(busy >= 200 - 64 && busy <= 200 - 60);
    for (int i = 0; i < 200; i++)
        if (fds[i] >= 0) close(fds[i]);
    /* served again once the daemon has seen those hang up */
    CHECK(expect_reply_after("{\"cmd\":\"status\"}", "\"code\":\"busy\"", "\"ok\":true", LIVENESS));
}

/* The reading subscriber's lines until `count` posteriors events have come
 * after the reply to a request sent now: the daemon broadcast those after it
 * took the request. Counts its posteriors events and missed notes. */
static int after_mark(line_reader *lr, int count, double end, int *posteriors, int *missed) {
    static int marks;
    char req[80], id[32], line[8192];
    int after = -1; /* posteriors events since the reply; -1 before it */
    snprintf(id, sizeof id, "\"id\":\"mark%d\"", ++marks);
    snprintf(req, sizeof req, "{\"cmd\":\"history\",\"max\":0,%s}\n", id);
    if (send_all(lr->fd, req, strlen(req)) < 0) return -1;
    while (after < count) {
        int r = read_line(lr, line, sizeof line, end - now());
        if (r < 0) {
            fprintf(stderr, "test_daemon: the reading subscriber: %s after %d posteriors events\n",
                    r == LINE_EOF ? "hung up on" : "nothing more", after);
            return -1;
        }
        if (strstr(line, "\"event\":\"missed\"")) {
            (*missed)++;
        } else if (strstr(line, "\"event\":\"posteriors\"")) {
            (*posteriors)++;
            if (after >= 0) after++;
        } else if (after < 0 && strstr(line, id)) {
            after = 0;
        }
    }
    return 0;
}

static long unread_bytes(int fd) {
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
}

/* A subscriber that never reads, with a tiny receive buffer: the daemon
 * queues a bounded amount for it (client_queue lines past what its socket
 * holds), counts the rest and tells it when it reads again, and a reading
 * subscriber misses nothing.
 *
 * Nothing here depends on how fast the daemon or the test runs. The reading
 * one takes the digits model's posteriors at 5 Hz, and its detections of
 * "8", which this recording does not reach: a few lines a second, read in
 * bulk, far from filling its socket and queue. The one that never reads
 * takes everything, posteriors at 100 Hz: for each posteriors event the
 * reader gets at time t, digits posteriors were due to it at some time in
 * (t - 0.01 s, t], a distinct one for each (the reader's come 0.2 s apart
 * or more). Its socket is full once its unread bytes stay the same across
 * such a due event; after that each one waits in its queue or is missed. */
static void slow_subscriber(void) {
    int slow = connect_to(sock_path), good = connect_to(sock_path), small = 1024;
    const char *sub_slow = "{\"cmd\":\"subscribe\",\"posteriors\":100}\n";
    const char *sub_good =
        "{\"cmd\":\"subscribe\",\"model\":\"digits\",\"label\":\"8\",\"posteriors\":5}\n";
    char line[8192];
    int events = 0, missed_good = 0, full = 0, noted = 0, r = 0;
    double end;
    long w0 = windows_of("digits");
    line_reader lslow, lgood;
    CHECK(slow >= 0 && good >= 0);
    if (slow < 0 || good < 0) goto out;
    reader_init(&lslow, slow);
    reader_init(&lgood, good);
    setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    /* the replies first: each is subscribed before what follows */
    CHECK(send_all(slow, sub_slow, strlen(sub_slow)) == 0);
    CHECK(read_line(&lslow, line, sizeof line, LIVENESS) >= 0 && strstr(line, "\"ok\":true"));
    CHECK(send_all(good, sub_good, strlen(sub_good)) == 0);
    CHECK(read_line(&lgood, line, sizeof line, LIVENESS) >= 0 && strstr(line, "\"ok\":true"));
    end = now() + STARTUP;
    /* until its socket is full: the 2nd event after a mark was preceded by a
     * due one, which is done before the 3rd is sent */
    while (!full) {
        long before = unread_bytes(slow);
        if (before < 0 || after_mark(&lgood, 3, end, &events, &missed_good) < 0) break;
        full = unread_bytes(slow) == before;
    }
    if (!full)
        fprintf(stderr, "test_daemon: the subscriber that never reads: its socket never filled\n");
    CHECK(full);
    /* then client_queue + 1 more due to it (the 2nd to the next to last
     * event after a mark): one at least is missed */
    CHECK(full && after_mark(&lgood, CLIENT_QUEUE + 3, end, &events, &missed_good) == 0);
    CHECK(events >= 20);
    CHECK_EQ_INT(missed_good, 0);
    CHECK(windows_of("digits") > w0); /* the audio path went on */
    /* the slow one reads now: it is told that it missed events */
    end = now() + LIVENESS;
    while (!noted && (r = read_line(&lslow, line, sizeof line, end - now())) >= 0)
        noted = strstr(line, "\"event\":\"missed\"") != NULL;
    if (!noted)
        fprintf(stderr, "test_daemon: the subscriber that fell behind: %s before a missed note\n",
                r == LINE_EOF ? "hung up on" : "nothing more");
    CHECK(noted);
out:
    if (slow >= 0) close(slow);
    if (good >= 0) close(good);
}

/* load, set and reload only for root, the daemon's user or its group */
static void unprivileged(void) {
    pid_t pid;
    int status = 1;
    if (geteuid() != 0) {
        fprintf(stderr, "test_daemon: not root: the unprivileged-peer check is skipped\n");
        return;
    }
    /* let nobody reach the socket for this check */
    chmod(dir, 0711);
    chmod(sock_path, 0666);
    pid = fork();
    if (pid == 0) {
        char r[4096];
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
        if (!expect_reply("{\"cmd\":\"status\"}", "\"ok\":true")) _exit(4);
        if (ask("{\"cmd\":\"load\",\"model\":\"digits\",\"file\":\"/dev/null\"}", r, sizeof r) < 0 ||
            !strstr(r, "\"code\":\"denied\""))
            _exit(5);
        if (ask("{\"cmd\":\"set\",\"model\":\"digits\",\"threshold\":0.1}", r, sizeof r) < 0 ||
            !strstr(r, "\"code\":\"denied\""))
            _exit(6);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "unprivileged peer: step %d failed\n", WEXITSTATUS(status));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    chmod(sock_path, 0660);
    chmod(dir, 0700);
}

/* A corrupt model is refused; the old one keeps running. */
static void corrupt_load(const char *src) {
    char bad[400], req[900], before[65536], after[65536];
    FILE *f;
    long w;
    snprintf(bad, sizeof bad, "%s/corrupt.safetensors", dir);
    f = fopen(bad, "wb");
    if (f) {
        /* a valid-looking length, then garbage */
        fwrite("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":[1,2,3]]}zzz", 1, 24, f);
        fclose(f);
    }
    CHECK(ask("{\"cmd\":\"models\"}", before, sizeof before) > 0);
    snprintf(req, sizeof req, "{\"cmd\":\"load\",\"model\":\"digits\",\"file\":\"%s\"}", bad);
    CHECK(expect_reply(req, "\"code\":\"load_failed\""));
    snprintf(req, sizeof req, "{\"cmd\":\"load\",\"model\":\"digits\",\"file\":\"%s/README.md\"}", src);
    CHECK(expect_reply(req, "\"code\":\"load_failed\""));
    w = windows_of("digits");
    CHECK(w >= 0 && windows_pass("digits", w, LIVENESS));
    CHECK(ask("{\"cmd\":\"models\"}", after, sizeof after) > 0);
    CHECK(strcmp(before, after) == 0);
    /* and a good load goes through */
    snprintf(req, sizeof req, "{\"cmd\":\"load\",\"model\":\"digits\",\"file\":\"%s/models/digits.safetensors\"}", src);
    CHECK(expect_reply(req, "\"ok\":true"));
}

static void socket_activation(const char *esd, const char *src) {
    char act[320], conf[400], input[600];
    char *argv[16];
    pid_t pid;
    int status = 0;
    if (access("/usr/bin/systemd-socket-activate", X_OK) != 0) {
        fprintf(stderr, "test_daemon: systemd-socket-activate is missing: skipped\n");
        return;
    }
    snprintf(act, sizeof act, "%s/act.sock", dir);
    snprintf(conf, sizeof conf, "%s/earshotd.conf", dir);
    snprintf(input, sizeof input, "file:%s/demo/digits.wav", src);
    argv[0] = "/usr/bin/systemd-socket-activate";
    argv[1] = "-l";
    argv[2] = act;
    argv[3] = (char *)esd;
    argv[4] = "--config";
    argv[5] = conf;
    argv[6] = "--input";
    argv[7] = input;
    argv[8] = NULL;
    unsetenv("NOTIFY_SOCKET");
    pid = spawn(argv);
    {
        /* the listener comes first; earshotd starts on the first connection */
        double end = now() + LIVENESS;
        int fd = -1, n = LINE_EOF;
        char r[4096];
        line_reader lr;
        while (now() < end && (fd = connect_to(act)) < 0) usleep(20000);
        if (fd < 0) fprintf(stderr, "test_daemon: nothing listens on %s\n", act);
        CHECK(fd >= 0);
        if (fd >= 0) {
            reader_init(&lr, fd);
            CHECK(send_all(fd, "{\"cmd\":\"status\",\"id\":\"a\"}\n", 26) == 0);
            /* earshotd loads its models before it answers */
            n = read_line(&lr, r, sizeof r, STARTUP);
            if (n < 0)
                fprintf(stderr, "test_daemon: socket activation: %s\n",
                        n == LINE_EOF ? "hung up without a reply" : "no reply");
            CHECK(n > 0 && strstr(r, "\"ok\":true") && strstr(r, "\"id\":\"a\""));
            close(fd);
        }
    }
    kill(pid, SIGTERM);
    CHECK(wait_exit(pid, LIVENESS, &status));
}

int main(int argc, char **argv) {
    struct sockaddr_un sa;
    char conf[400], *args[8];
    pid_t pid;
    int status = 0, sub;
    double t0;
    if (argc != 3) return 2;
    {
        char p1[600], p2[600];
        snprintf(p1, sizeof p1, "%s/models/digits.safetensors", argv[2]);
        snprintf(p2, sizeof p2, "%s/models/catdog.safetensors", argv[2]);
        if (access(p1, R_OK) || access(p2, R_OK)) {
            fprintf(stderr, "test_daemon: the shipped models are missing\n");
            return 1;
        }
    }
    snprintf(dir, sizeof dir, "/tmp/es-daemon-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    snprintf(sock_path, sizeof sock_path, "%s/control.sock", dir);
    snprintf(notify_path, sizeof notify_path, "%s/notify", dir);
    snprintf(conf, sizeof conf, "%s/earshotd.conf", dir);
    write_config(argv[2], "");
    signal(SIGPIPE, SIG_IGN);

    notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, notify_path, strlen(notify_path) + 1); /* short: in dir, under /tmp */
    CHECK(notify_fd >= 0 && bind(notify_fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    {
        pthread_t th;
        CHECK(pthread_create(&th, NULL, notify_reader, NULL) == 0);
        pthread_detach(th);
    }
    setenv("NOTIFY_SOCKET", notify_path, 1);
    setenv("WATCHDOG_USEC", "1000000", 1);   /* a ping every 0.5 s when healthy */
    unsetenv("WATCHDOG_PID");
    unsetenv("LISTEN_FDS");

    args[0] = argv[1];
    args[1] = "--config";
    args[2] = conf;
    args[3] = NULL;
    t0 = now();
    pid = spawn(args);
    CHECK(await_notify("READY=1", STARTUP));
    fprintf(stderr, "test_daemon: READY after %.0f ms\n", (now() - t0) * 1e3);
    CHECK(await_notify("STATUS=", LIVENESS));
    CHECK(await_notify("WATCHDOG=1", LIVENESS));

    bad_requests();
    long_line();
    many_clients();
    slow_subscriber();
    unprivileged();
    corrupt_load(argv[2]);

    /* SIGHUP re-reads the config and goes on; a model whose windows the
     * new config cuts differently is loaded again with them */
    CHECK(expect_reply("{\"cmd\":\"models\"}", "\"audio_seconds\":1.0,"));
    write_config(argv[2], "lookback_seconds = 0.5;");
    CHECK(kill(pid, SIGHUP) == 0);
    /* the daemon reloads when its loop next wakes: the old windows until then */
    CHECK(expect_reply_after("{\"cmd\":\"models\"}", "\"audio_seconds\":1.0,",
                             "\"audio_seconds\":0.5,", LIVENESS));
    CHECK(expect_reply("{\"cmd\":\"status\"}", "\"ok\":true"));
    CHECK(await_notify("WATCHDOG=1", LIVENESS));

    /* a subscriber still connected when the daemon stops: dropping it
     * must not touch the workers, already stopped by then (a use after
     * free that ASan caught once in a hundred runs, when some client's
     * close had not yet been seen at SIGTERM) */
    sub = connect_to(sock_path);
    CHECK(sub >= 0);
    if (sub >= 0) {
        const char *req = "{\"cmd\":\"subscribe\",\"posteriors\":10}\n";
        char line[8192];
        line_reader lr;
        reader_init(&lr, sub);
        CHECK(send_all(sub, req, strlen(req)) == 0);
        CHECK(read_line(&lr, line, sizeof line, LIVENESS) >= 0 && strstr(line, "\"ok\":true"));
    }
    kill(pid, SIGTERM);
    CHECK(await_notify("STOPPING=1", LIVENESS));
    CHECK(wait_exit(pid, LIVENESS, &status));
    if (sub >= 0) close(sub);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fprintf(stderr, "earshotd ended with %s %d\n", WIFSIGNALED(status) ? "signal" : "status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(access(sock_path, F_OK) != 0); /* its socket removed */

    socket_activation(argv[1], argv[2]);

    if (check_failures) {
        char log[400], cmd[500];
        snprintf(log, sizeof log, "%s/earshotd.log", dir);
        /* enough to hold a whole sanitizer report, not only its tail */
        snprintf(cmd, sizeof cmd, "tail -n 300 %s >&2", log);
        if (system(cmd) != 0) fprintf(stderr, "(no daemon log)\n");
    }
    {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    CHECK_DONE();
}

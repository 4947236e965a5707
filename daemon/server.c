/* daemon/server.c — the control socket: listening (or systemd's socket),
 * clients, line framing, bounded output queues, subscriptions. */
#define _GNU_SOURCE /* SO_PEERCRED, struct ucred, accept4, getgrouplist */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

/* A client's kernel send buffer: our own bounded queue does the buffering,
 * so a stalled reader costs little kernel memory and is noticed soon. */
#define CLIENT_SNDBUF (64 * 1024)
/* Replies a client may leave unread before it is cut off. */
#define REPLY_BYTES_MAX ((size_t)8 << 20)

typedef struct outline {
    struct outline *next;
    size_t len, off;
    char data[];
} outline;

struct client {
    client *next;
    int fd;
    struct ucred cred;
    int privileged;
    char *in;                   /* request bytes not yet a whole line */
    size_t in_len, in_cap;
    outline *out_head, *out_tail;
    int out_n;                  /* lines queued */
    size_t out_bytes;
    uint64_t missed;            /* events dropped for this client */
    int closing;                /* close once the queue is written */
    int dead;                   /* gone, freed by server_reap: the epoll batch being
                                   handled may still hold events that point here */
    /* subscription */
    int subscribed;
    char sub_model[ESD_NAME_MAX], sub_label[ES_LABEL_MAX];
    double post_hz, post_last[ESD_MAX_MODELS];
};

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int in_group(uid_t uid, gid_t primary, gid_t want) {
    struct passwd pw, *res = NULL;
    char buf[4096];
    gid_t groups[256];
    int n = 256;
    if (primary == want) return 1;
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) != 0 || !res) return 0;
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0) return 0;
    for (int i = 0; i < n; i++)
        if (groups[i] == want) return 1;
    return 0;
}

int server_open(esd *d) {
    struct sockaddr_un sa;
    struct epoll_event ev;
    int n = sd_listen_fds(1);
    d->priv_gid = (gid_t)-1;
    if (d->cfg.socket_group[0]) {
        struct group gr, *res = NULL;
        char buf[4096];
        if (getgrnam_r(d->cfg.socket_group, &gr, buf, sizeof buf, &res) != 0 || !res) {
            esd_log(ES_LOG_ERR, "socket: no group '%s' (socket.group)", d->cfg.socket_group);
            return -1;
        }
        d->priv_gid = gr.gr_gid;
    }
    if (n > 1) {
        esd_log(ES_LOG_ERR, "socket: systemd passed %d sockets; earshotd takes one", n);
        return -1;
    }
    if (n == 1 && sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) > 0) {
        d->listen_fd = SD_LISTEN_FDS_START;
        d->socket_activated = 1;
        fcntl(d->listen_fd, F_SETFL, fcntl(d->listen_fd, F_GETFL) | O_NONBLOCK);
        esd_log(ES_LOG_INFO, "socket: activated by systemd");
    } else {
        if (strlen(d->cfg.socket_path) >= sizeof sa.sun_path) {
            esd_log(ES_LOG_ERR, "socket: path '%s' is too long", d->cfg.socket_path);
            return -1;
        }
        d->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (d->listen_fd < 0) return -1;
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        memcpy(sa.sun_path, d->cfg.socket_path, strlen(d->cfg.socket_path) + 1);
        /* a stale socket from a crashed run: only a socket file is removed */
        {
            struct stat st;
            if (lstat(d->cfg.socket_path, &st) == 0 && S_ISSOCK(st.st_mode))
                unlink(d->cfg.socket_path);
        }
        if (bind(d->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
            listen(d->listen_fd, 64) < 0) {
            esd_log(ES_LOG_ERR, "socket: cannot listen on %s: %s", d->cfg.socket_path,
                    strerror(errno));
            close(d->listen_fd);
            d->listen_fd = -1;
            return -1;
        }
        chmod(d->cfg.socket_path, 0660);
        if (d->priv_gid != (gid_t)-1 && chown(d->cfg.socket_path, (uid_t)-1, d->priv_gid) < 0)
            esd_log(ES_LOG_WARNING, "socket: cannot give %s to group %s: %s", d->cfg.socket_path,
                    d->cfg.socket_group, strerror(errno));
        esd_log(ES_LOG_INFO, "socket: listening on %s", d->cfg.socket_path);
    }
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = &d->listen_fd;
    return epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->listen_fd, &ev);
}

int server_is_listen(esd *d, void *tag) { return tag == &d->listen_fd; }

static void client_free(client *c) {
    outline *o = c->out_head;
    while (o) {
        outline *n = o->next;
        free(o);
        o = n;
    }
    close(c->fd);
    free(c->in);
    free(c);
}

static void drop_client(esd *d, client *c) {
    client **p = &d->clients;
    while (*p && *p != c) p = &(*p)->next;
    if (*p) *p = c->next;
    d->n_clients--;
    epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    client_free(c);
    server_update_posterior_wants(d);
}

void server_free_clients(esd *d) {
    while (d->clients) drop_client(d, d->clients);
}

void server_close(esd *d) {
    server_free_clients(d);
    if (d->listen_fd >= 0) {
        close(d->listen_fd);
        if (!d->socket_activated) unlink(d->cfg.socket_path);
    }
    d->listen_fd = -1;
}

static void want_write(esd *d, client *c, int on) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
    ev.data.ptr = c;
    epoll_ctl(d->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what the socket takes now; 0, or -1 when the client is gone. */
static int flush_out(esd *d, client *c) {
    while (c->out_head) {
        outline *o = c->out_head;
        ssize_t w = send(c->fd, o->data + o->off, o->len - o->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            return -1;
        }
        o->off += (size_t)w;
        if (o->off < o->len) break;
        c->out_head = o->next;
        if (!c->out_head) c->out_tail = NULL;
        c->out_n--;
        c->out_bytes -= o->len;
        free(o);
    }
    want_write(d, c, c->out_head != NULL);
    return c->closing && !c->out_head ? -1 : 0;
}

static void enqueue(esd *d, client *c, const char *s, size_t n, int is_event) {
    outline *o;
    /* events wait their turn in a bounded queue; replies always go in, but a
     * client that lets megabytes of them pile up unread is cut off */
    if (is_event && c->out_n >= d->cfg.client_queue) {
        c->missed++;
        return;
    }
    if (!is_event && c->out_bytes > REPLY_BYTES_MAX) {
        c->closing = 2;
        return;
    }
    o = malloc(sizeof *o + n + 1);
    if (!o) {
        c->missed++;
        return;
    }
    o->next = NULL;
    o->len = n + 1;
    o->off = 0;
    memcpy(o->data, s, n);
    o->data[n] = '\n';
    if (c->out_tail) c->out_tail->next = o;
    else c->out_head = o;
    c->out_tail = o;
    c->out_n++;
    c->out_bytes += o->len;
}

void server_send(esd *d, client *c, json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s) return;
    enqueue(d, c, s, strlen(s), 0);
    free(s);
    if (c->closing == 2 || flush_out(d, c) < 0) c->closing = 2;
}

void server_broadcast(esd *d, const char *model, const char *label, json_t *ev, int posteriors) {
    char *s = NULL;
    size_t n = 0;
    double t = now_mono();
    int si = esd_slot_index(d, model);
    for (client *c = d->clients, *next; c; c = next) {
        next = c->next;
        if (c->dead || !c->subscribed ||
            (c->sub_model[0] && strcmp(c->sub_model, model) != 0))
            continue;
        if (posteriors) {
            /* at most post_hz per model */
            if (c->post_hz <= 0.0 || si < 0 || t - c->post_last[si] < 1.0 / c->post_hz) continue;
            c->post_last[si] = t;
        } else if (c->sub_label[0] && label && strcmp(c->sub_label, label) != 0) {
            continue;
        }
        if (!s) {
            /* what this client missed rides along with the next event it gets */
            s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (!s) return;
            n = strlen(s);
        }
        if (c->missed && c->out_n < d->cfg.client_queue) {
            char note[96];
            int k = snprintf(note, sizeof note, "{\"event\":\"missed\",\"count\":%llu}",
                             (unsigned long long)c->missed);
            c->missed = 0;
            enqueue(d, c, note, (size_t)k, 1);
        }
        enqueue(d, c, s, n, 1);
        /* not freed here: a broadcast runs from another event of the same
         * epoll batch (a worker's, or another client's command), and an
         * event of this client later in that batch would then use it after
         * free (seen: "double free" when a subscriber hung up) */
        if (flush_out(d, c) < 0) c->dead = 1;
    }
    free(s);
}

void server_reap(esd *d) {
    for (client *c = d->clients, *next; c; c = next) {
        next = c->next;
        if (c->dead) drop_client(d, c);
    }
}

void server_on_listen(esd *d) {
    for (;;) {
        struct epoll_event ev;
        socklen_t len = sizeof(struct ucred);
        client *c;
        int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (d->n_clients >= d->cfg.max_clients) {
            static const char full[] =
                "{\"ok\":false,\"error\":\"too many clients\",\"code\":\"busy\"}\n";
            ssize_t w = send(fd, full, sizeof full - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
            close(fd);
            esd_log(ES_LOG_WARNING, "socket: refused a client: %d already connected", d->n_clients);
            continue;
        }
        c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        {
            int sb = CLIENT_SNDBUF;
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
        }
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) == 0)
            c->privileged = c->cred.uid == 0 || c->cred.uid == geteuid() ||
                            (d->priv_gid != (gid_t)-1 && in_group(c->cred.uid, c->cred.gid, d->priv_gid));
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            client_free(c);
            continue;
        }
        c->next = d->clients;
        d->clients = c;
        d->n_clients++;
        d->clients_total++;
    }
}

static int take_lines(esd *d, client *c) {
    size_t start = 0;
    if (c->closing) { /* told it is being cut off: nothing more it sends counts */
        c->in_len = 0;
        return 0;
    }
    for (size_t i = 0; i < c->in_len; i++) {
        if (c->in[i] != '\n') continue;
        c->in[i] = '\0';
        if (i > start) commands_dispatch(d, c, c->in + start, i - start);
        start = i + 1;
        if (c->closing == 2) return -1;
    }
    memmove(c->in, c->in + start, c->in_len - start);
    c->in_len -= start;
    return 0;
}

void server_on_client(esd *d, client *c, uint32_t events) {
    if (c->dead) return; /* server_reap frees it after this batch */
    if (events & EPOLLOUT) {
        if (flush_out(d, c) < 0) {
            drop_client(d, c);
            return;
        }
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    for (;;) {
        ssize_t r;
        if (c->in_cap - c->in_len < 4096) {
            size_t cap = c->in_cap ? c->in_cap * 2 : 8192;
            char *p;
            if (cap > (size_t)d->cfg.max_line + 4096) cap = (size_t)d->cfg.max_line + 4096;
            if (cap <= c->in_len) cap = c->in_len + 4096;
            if (!(p = realloc(c->in, cap))) {
                drop_client(d, c);
                return;
            }
            c->in = p;
            c->in_cap = cap;
        }
        r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (r <= 0) {
            drop_client(d, c);
            return;
        }
        c->in_len += (size_t)r;
        if (take_lines(d, c) < 0) {
            drop_client(d, c);
            return;
        }
        if (c->in_len > (size_t)d->cfg.max_line) {
            /* an abusive line: say so and hang up */
            json_t *e = json_pack("{s:b, s:s, s:s}", "ok", 0, "error",
                                  "request line too long (socket.max_line)", "code", "too_long");
            c->in_len = 0;
            c->closing = 1;
            server_send(d, c, e);
            if (c->closing == 2 || !c->out_head) {
                drop_client(d, c);
                return;
            }
            return;
        }
    }
}

int client_privileged(const client *c) { return c->privileged; }
uint64_t client_missed(const client *c) { return c->missed; }

void server_update_posterior_wants(esd *d) {
    for (int i = 0; i < d->n_slots; i++) {
        int want = 0;
        for (client *c = d->clients; c && !want; c = c->next)
            want = c->subscribed && c->post_hz > 0.0 &&
                   (!c->sub_model[0] || strcmp(c->sub_model, d->slots[i].cfg.name) == 0);
        worker_want_posteriors(d->slots[i].w, want);
    }
}

void client_subscribe(esd *d, client *c, const char *model, const char *label, double post_hz) {
    c->subscribed = 1;
    snprintf(c->sub_model, sizeof c->sub_model, "%s", model ? model : "");
    snprintf(c->sub_label, sizeof c->sub_label, "%s", label ? label : "");
    c->post_hz = post_hz;
    memset(c->post_last, 0, sizeof c->post_last);
    server_update_posterior_wants(d);
}

void client_unsubscribe(esd *d, client *c) {
    c->subscribed = 0;
    c->post_hz = 0.0;
    server_update_posterior_wants(d);
}

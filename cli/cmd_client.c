/* cli/cmd_client.c — the daemon's client commands: status, listen,
 * predict, load, set, devices. Each connects to the control socket, sends
 * one JSON request per line and reads the replies (README, "The control
 * socket"). */
#define _DEFAULT_SOURCE /* realpath */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "devices.h"

#define DEFAULT_SOCKET "/run/earshot/control.sock"

const char *client_socket_path(const char *flag) {
    const char *env = getenv("EARSHOT_SOCKET");
    return flag ? flag : env && *env ? env : DEFAULT_SOCKET;
}

int client_connect(const char *cmd, const char *path, conn *c) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        cli_error(cmd, "--socket: '%s' is too long for a socket path", path);
        return CLI_USAGE;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        cli_error(cmd, "cannot connect to earshotd at %s: %s (is it running? --socket PATH)",
                  path, strerror(errno));
        if (c->fd >= 0) close(c->fd);
        return CLI_FAIL;
    }
    c->in = fdopen(dup(c->fd), "r");
    if (!c->in) {
        close(c->fd);
        cli_error(cmd, "out of memory");
        return CLI_FAIL;
    }
    return CLI_OK;
}

void client_disconnect(conn *c) {
    fclose(c->in);
    close(c->fd);
}

int client_send(const char *cmd, conn *c, json_t *req) {
    char *s = json_dumps(req, JSON_COMPACT);
    size_t n = s ? strlen(s) : 0, off = 0;
    json_decref(req);
    if (!s) return CLI_FAIL;
    s[n] = '\n'; /* json_dumps leaves room for the terminator we overwrite */
    while (off < n + 1) {
        ssize_t w = send(c->fd, s + off, n + 1 - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            free(s);
            cli_error(cmd, "the daemon closed the connection: %s", strerror(errno));
            return CLI_FAIL;
        }
        off += (size_t)w;
    }
    free(s);
    return CLI_OK;
}

/* The next line from the daemon as JSON (NULL at the end). */
json_t *client_read(conn *c) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, c->in);
    json_t *o = n > 0 ? json_loads(line, 0, NULL) : NULL;
    free(line);
    return o;
}

/* The reply to the request just sent (events before it are skipped). */
json_t *client_reply(const char *cmd, conn *c) {
    json_t *o;
    while ((o = client_read(c))) {
        if (json_object_get(o, "ok")) break;
        json_decref(o);
    }
    if (!o) {
        cli_error(cmd, "no reply from the daemon");
        return NULL;
    }
    if (!json_is_true(json_object_get(o, "ok"))) {
        cli_error(cmd, "%s (%s)", json_string_value(json_object_get(o, "error")),
                  json_string_value(json_object_get(o, "code")));
        json_decref(o);
        return NULL;
    }
    return o;
}

void client_print_json(json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s) puts(s);
    free(s);
}

/* One request, one reply: the shared shape of status, predict, load, set. */
int client_round_trip(const char *cmd, const char *sock, json_t *req, json_t **out) {
    conn c;
    int rc = client_connect(cmd, sock, &c);
    if (rc != CLI_OK) {
        json_decref(req);
        return rc;
    }
    if ((rc = client_send(cmd, &c, req)) == CLI_OK) *out = client_reply(cmd, &c);
    client_disconnect(&c);
    return rc == CLI_OK && *out ? CLI_OK : CLI_FAIL;
}

int client_parse(const char *cmd, const char *help, int argc, char **argv, common *o,
                 const struct option *extra, int (*on_extra)(int, const char *, void *),
                 void *user) {
    struct option opts[16];
    int n = 0, opt;
    static const struct option base[] = {
        {"socket", required_argument, NULL, 'S'}, {"json", no_argument, NULL, 'j'},
        {"model", required_argument, NULL, 'm'},  {"help", no_argument, NULL, 'h'},
    };
    for (size_t i = 0; i < 4; i++) opts[n++] = base[i];
    for (int i = 0; extra && extra[i].name && n < 15; i++) opts[n++] = extra[i];
    memset(&opts[n], 0, sizeof opts[n]);
    memset(o, 0, sizeof *o);
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":m:jh", opts, NULL)) != -1) {
        switch (opt) {
        case 'S': o->sock = optarg; break;
        case 'j': o->json = 1; break;
        case 'm': o->model = optarg; break;
        case 'h': fputs(help, stdout); return -1;
        case ':':
        case '?': return cli_bad_option(cmd, opt, argv, opts);
        default:
            if (!on_extra || on_extra(opt, optarg, user) < 0) return CLI_USAGE;
        }
    }
    o->sock = client_socket_path(o->sock);
    return 0;
}

static const char status_help[] =
    "usage: earshot status [--json] [--socket PATH]\n"
    "\n"
    "The daemon's state: input, uptime, and per model its file, windows,\n"
    "detections, lost samples and inference latency.\n"
    "  --socket PATH   the control socket (default $EARSHOT_SOCKET or " DEFAULT_SOCKET ")\n"
    "  -j, --json      the raw reply\n";

int cmd_status(int argc, char **argv) {
    common o;
    json_t *r = NULL, *m;
    size_t i;
    int rc = client_parse("status", status_help, argc, argv, &o, NULL, NULL, NULL);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (optind < argc) {
        cli_error("status", "unexpected argument '%s'", argv[optind]);
        return CLI_USAGE;
    }
    if ((rc = client_round_trip("status", o.sock, json_pack("{s:s}", "cmd", "status"), &r)) != CLI_OK)
        return rc;
    if (o.json) {
        client_print_json(r);
    } else {
        printf("input %s at %lld Hz%s, up %.0f s, %lld client%s\n",
               json_string_value(json_object_get(r, "input")),
               json_integer_value(json_object_get(r, "rate")),
               json_is_true(json_object_get(r, "input_ended")) ? " (ended)"
               : json_is_true(json_object_get(r, "input_running")) ? "" : " (not running)",
               json_number_value(json_object_get(r, "uptime")),
               json_integer_value(json_object_get(r, "clients")),
               json_integer_value(json_object_get(r, "clients")) == 1 ? "" : "s");
        json_array_foreach(json_object_get(r, "models"), i, m) {
            printf("  %-10s %lld windows, %lld detections, %lld samples lost, latency p50 %.2f ms "
                   "p99 %.2f ms\n    %s (sha256 %.12s)\n",
                   json_string_value(json_object_get(m, "name")),
                   json_integer_value(json_object_get(m, "windows")),
                   json_integer_value(json_object_get(m, "detections")),
                   json_integer_value(json_object_get(m, "lost_samples")),
                   json_number_value(json_object_get(m, "latency_p50_ms")),
                   json_number_value(json_object_get(m, "latency_p99_ms")),
                   json_string_value(json_object_get(m, "file")),
                   json_string_value(json_object_get(m, "sha256")));
        }
    }
    json_decref(r);
    return CLI_OK;
}

static const char predict_help[] =
    "usage: earshot predict [--model NAME] [--json] [--socket PATH]\n"
    "\n"
    "The latest smoothed posteriors of each model (or one), best first.\n";

int cmd_predict(int argc, char **argv) {
    common o;
    json_t *r = NULL, *req, *mm, *v;
    const char *name;
    int rc = client_parse("predict", predict_help, argc, argv, &o, NULL, NULL, NULL);
    if (rc) return rc < 0 ? CLI_OK : rc;
    req = json_pack("{s:s}", "cmd", "predict");
    if (o.model) json_object_set_new(req, "model", json_string(o.model));
    if ((rc = client_round_trip("predict", o.sock, req, &r)) != CLI_OK) return rc;
    if (o.json) {
        client_print_json(r);
        json_decref(r);
        return CLI_OK;
    }
    json_object_foreach(json_object_get(r, "models"), name, mm) {
        json_t *post = json_object_get(mm, "posteriors");
        const char *lab;
        printf("%s at %.2f s:", name, json_number_value(json_object_get(mm, "time")));
        /* best three */
        for (int k = 0; k < 3; k++) {
            const char *best = NULL;
            double bp = -1.0;
            json_object_foreach(post, lab, v) {
                if (json_number_value(v) > bp && !json_is_null(json_object_get(mm, lab))) {
                    bp = json_number_value(v);
                    best = lab;
                }
            }
            if (!best) break;
            printf(" %s %.3f", best, bp);
            json_object_set_new(mm, best, json_null()); /* mark as printed */
        }
        putchar('\n');
    }
    json_decref(r);
    return CLI_OK;
}

static const char listen_help[] =
    "usage: earshot listen [--model NAME] [--label L] [--json] [--socket PATH]\n"
    "\n"
    "Follows detections as they happen, one line each (--json: the raw events).\n"
    "Stops at end of input from the daemon or on Ctrl-C.\n";

static int listen_extra(int opt, const char *arg, void *user) {
    if (opt != 'L') return -1;
    *(const char **)user = arg;
    return 0;
}

int cmd_listen(int argc, char **argv) {
    static const struct option extra[] = {{"label", required_argument, NULL, 'L'}, {NULL, 0, NULL, 0}};
    common o;
    const char *label = NULL;
    conn c;
    json_t *req, *r, *ev;
    int rc = client_parse("listen", listen_help, argc, argv, &o, extra, listen_extra, &label);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if ((rc = client_connect("listen", o.sock, &c)) != CLI_OK) return rc;
    req = json_pack("{s:s}", "cmd", "subscribe");
    if (o.model) json_object_set_new(req, "model", json_string(o.model));
    if (label) json_object_set_new(req, "label", json_string(label));
    if ((rc = client_send("listen", &c, req)) != CLI_OK || !(r = client_reply("listen", &c))) {
        client_disconnect(&c);
        return CLI_FAIL;
    }
    json_decref(r);
    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((ev = client_read(&c))) {
        const char *kind = json_string_value(json_object_get(ev, "event"));
        if (o.json) {
            client_print_json(ev);
        } else if (kind && strcmp(kind, "detection") == 0) {
            const char *t = json_string_value(json_object_get(ev, "time"));
            printf("%s  %-8s %-10s %.2f  (%.2f-%.2f s)\n", t ? t + 11 : "",
                   json_string_value(json_object_get(ev, "model")),
                   json_string_value(json_object_get(ev, "label")),
                   json_number_value(json_object_get(ev, "score")),
                   json_number_value(json_object_get(ev, "onset")),
                   json_number_value(json_object_get(ev, "offset")));
        } else if (kind && strcmp(kind, "missed") == 0) {
            printf("(missed %lld events: this terminal was too slow)\n",
                   json_integer_value(json_object_get(ev, "count")));
        }
        json_decref(ev);
    }
    client_disconnect(&c);
    return CLI_OK;
}

static const char history_help[] =
    "usage: earshot history [--max N] [--json] [--socket PATH]\n"
    "\n"
    "The daemon's last detections, oldest first: one line each (--json: the raw\n"
    "events, one per line).\n";

static int history_extra(int opt, const char *arg, void *user) {
    char *end;
    long v = strtol(arg, &end, 10);
    if (opt != 'X' || *end || v < 0) {
        cli_error("history", "--max: '%s' is not a count", arg);
        return -1;
    }
    *(long *)user = v;
    return 0;
}

int cmd_history(int argc, char **argv) {
    static const struct option extra[] = {{"max", required_argument, NULL, 'X'}, {NULL, 0, NULL, 0}};
    common o;
    long max = -1;
    json_t *r = NULL, *req, *ev;
    size_t i;
    int rc = client_parse("history", history_help, argc, argv, &o, extra, history_extra, &max);
    if (rc) return rc < 0 ? CLI_OK : rc;
    req = json_pack("{s:s}", "cmd", "history");
    if (max >= 0) json_object_set_new(req, "max", json_integer(max));
    if ((rc = client_round_trip("history", o.sock, req, &r)) != CLI_OK) return rc;
    json_array_foreach(json_object_get(r, "events"), i, ev) {
        if (o.json) {
            client_print_json(ev);
            continue;
        }
        printf("%-6lld %-8s %-10s %.2f  %.2f-%.2f s  %s\n",
               json_integer_value(json_object_get(ev, "id")),
               json_string_value(json_object_get(ev, "model")),
               json_string_value(json_object_get(ev, "label")),
               json_number_value(json_object_get(ev, "score")),
               json_number_value(json_object_get(ev, "onset")),
               json_number_value(json_object_get(ev, "offset")),
               json_string_value(json_object_get(ev, "time")));
    }
    json_decref(r);
    return CLI_OK;
}

static const char load_help[] =
    "usage: earshot load --model NAME FILE [--socket PATH]\n"
    "\n"
    "Loads a model file into the daemon's slot NAME (a new slot if there is\n"
    "none). The file is checked first; on any problem the running model stays.\n";

int cmd_load(int argc, char **argv) {
    common o;
    json_t *r = NULL;
    char abs[PATH_MAX];
    int rc = client_parse("load", load_help, argc, argv, &o, NULL, NULL, NULL);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!o.model || optind != argc - 1) {
        cli_error("load", "usage: earshot load --model NAME FILE");
        return CLI_USAGE;
    }
    /* the daemon runs elsewhere: give it an absolute path */
    if (!realpath(argv[optind], abs)) {
        cli_error("load", "%s: %s", argv[optind], strerror(errno));
        return CLI_FAIL;
    }
    if ((rc = client_round_trip("load", o.sock, json_pack("{s:s, s:s, s:s}", "cmd", "load", "model",
                                                   o.model, "file", abs), &r)) != CLI_OK)
        return rc;
    if (o.json) client_print_json(r);
    else printf("%s: now %s\n", o.model, abs);
    json_decref(r);
    return CLI_OK;
}

static const char set_help[] =
    "usage: earshot set --model NAME [settings] [--socket PATH]\n"
    "\n"
    "Changes detection settings of a running model:\n"
    "  --threshold X          default threshold on the smoothed posterior, [0, 1]\n"
    "  --label-threshold L=X  one label's threshold (X 'default' resets it); repeatable\n"
    "  --min-count N          windows in a row\n"
    "  --average S            seconds of posteriors averaged\n"
    "  --refractory S         seconds between two detections of one label\n"
    "  --energy-gate DB       windows quieter than this (dBFS RMS) never fire\n";

static int set_extra(int opt, const char *arg, void *user) {
    json_t *req = user;
    char *end;
    double v;
    const char *key = opt == 'T' ? "threshold" : opt == 'N' ? "min_count" : opt == 'A' ? "average_seconds"
                    : opt == 'R' ? "refractory_seconds" : opt == 'E' ? "energy_gate_db" : NULL;
    if (opt == 'P') {
        const char *eq = strrchr(arg, '=');
        json_t *th = json_object_get(req, "thresholds");
        char label[256];
        if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof label) {
            cli_error("set", "--label-threshold: '%s' is not LABEL=VALUE", arg);
            return -1;
        }
        memcpy(label, arg, (size_t)(eq - arg));
        label[eq - arg] = '\0';
        if (!th) json_object_set_new(req, "thresholds", th = json_object());
        if (strcmp(eq + 1, "default") == 0) return json_object_set_new(th, label, json_null());
        v = strtod(eq + 1, &end);
        if (*end || !eq[1]) {
            cli_error("set", "--label-threshold: '%s' is not a number", eq + 1);
            return -1;
        }
        return json_object_set_new(th, label, json_real(v));
    }
    if (!key) return -1;
    v = strtod(arg, &end);
    if (*end || !*arg || !isfinite(v)) {
        cli_error("set", "'%s' is not a number", arg);
        return -1;
    }
    if (opt == 'N') {
        if (v != floor(v)) {
            cli_error("set", "--min-count: '%s' is not a whole number", arg);
            return -1;
        }
        return json_object_set_new(req, key, json_integer((json_int_t)v));
    }
    return json_object_set_new(req, key, json_real(v));
}

int cmd_set(int argc, char **argv) {
    static const struct option extra[] = {
        {"threshold", required_argument, NULL, 'T'},  {"label-threshold", required_argument, NULL, 'P'},
        {"min-count", required_argument, NULL, 'N'},  {"average", required_argument, NULL, 'A'},
        {"refractory", required_argument, NULL, 'R'}, {"energy-gate", required_argument, NULL, 'E'},
        {NULL, 0, NULL, 0}};
    common o;
    json_t *req = json_pack("{s:s}", "cmd", "set"), *r = NULL;
    int rc = client_parse("set", set_help, argc, argv, &o, extra, set_extra, req);
    if (rc) {
        json_decref(req);
        return rc < 0 ? CLI_OK : rc;
    }
    if (!o.model || optind < argc || json_object_size(req) < 2) {
        json_decref(req);
        cli_error("set", optind < argc ? "unexpected argument" : "--model NAME and at least one setting are required");
        return CLI_USAGE;
    }
    json_object_set_new(req, "model", json_string(o.model));
    if ((rc = client_round_trip("set", o.sock, req, &r)) != CLI_OK) return rc;
    client_print_json(o.json ? r : json_object_get(r, "model"));
    json_decref(r);
    return CLI_OK;
}

static const char devices_help[] =
    "usage: earshot devices\n"
    "\n"
    "PortAudio's input devices: index, name, channels, default rate; * marks\n"
    "the default. Give earshotd one as --input portaudio:INDEX or a name part.\n";

int cmd_devices(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(devices_help, stdout);
        return CLI_OK;
    }
    if (argc > 1) {
        cli_error("devices", "unexpected argument '%s'", argv[1]);
        return CLI_USAGE;
    }
    return es_list_input_devices(stdout) < 0 ? CLI_FAIL : CLI_OK;
}

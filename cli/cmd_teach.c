/* cli/cmd_teach.c — teaching a running daemon: example add/list/remove,
 * finetune (with a progress bar while it waits), save, rollback. */
#define _DEFAULT_SOURCE /* realpath */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "earshot/audio.h"
#include "earshot/error.h"
#include "earshot/train.h"

/* ---- example ------------------------------------------------------------------ */

static const char example_help[] =
    "usage: earshot example add --model NAME --label L [--new-class] FILE...\n"
    "       earshot example add --model NAME --label L [--new-class] --last SECONDS\n"
    "       earshot example add --model NAME --label L [--new-class] --detection ID\n"
    "       earshot example add --model NAME --label L [--new-class] --path FILE\n"
    "       earshot example list --model NAME [--json]\n"
    "       earshot example remove --model NAME ID...\n"
    "\n"
    "Collects examples for fine-tuning (earshot finetune). FILE... are read here\n"
    "and sent inline, so the daemon never opens your files; --last takes the\n"
    "newest SECONDS of what the daemon heard; --detection the audio of a past\n"
    "detection (earshot history shows ids); --path a file the daemon reads itself,\n"
    "inside its finetune.allowed_dirs. --new-class lets L be a label the model\n"
    "does not have yet: fine-tuning adds it.\n"
    "  --socket PATH   the daemon's control socket\n";

typedef struct {
    const char *label, *last, *detection, *path;
    int new_class;
} example_opts;

static int example_extra(int opt, const char *arg, void *user) {
    example_opts *e = user;
    switch (opt) {
    case 'L': e->label = arg; return 0;
    case 'T': e->last = arg; return 0;
    case 'D': e->detection = arg; return 0;
    case 'P': e->path = arg; return 0;
    case 'N': e->new_class = 1; return 0;
    default: return -1;
    }
}

/* FILE as base64 of its 16-bit samples (mono, its own rate). */
static json_t *inline_audio(const char *path, int *rate) {
    es_audio a;
    unsigned char *pcm;
    char *b64;
    json_t *s = NULL;
    if (es_audio_read(path, &a) < 0) {
        cli_error("example", "%s", es_errmsg());
        return NULL;
    }
    pcm = malloc(a.n * 2);
    b64 = malloc(4 * ((a.n * 2 + 2) / 3) + 1);
    if (pcm && b64) {
        for (size_t i = 0; i < a.n; i++) {
            float v = a.samples[i] * 32768.0f;
            long q = lrintf(v > 32767.0f ? 32767.0f : v < -32768.0f ? -32768.0f : v);
            pcm[2 * i] = (unsigned char)(q & 0xff);
            pcm[2 * i + 1] = (unsigned char)((q >> 8) & 0xff);
        }
        EVP_EncodeBlock((unsigned char *)b64, pcm, (int)(a.n * 2));
        s = json_string(b64);
        *rate = a.rate;
    } else {
        cli_error("example", "out of memory");
    }
    free(pcm);
    free(b64);
    es_audio_free(&a);
    return s;
}

static void print_example(const common *o, json_t *r) {
    json_t *e = json_object_get(r, "example");
    if (o->json) {
        client_print_json(e);
        return;
    }
    printf("example %lld: '%s', %.2f s (%s)\n", json_integer_value(json_object_get(e, "id")),
           json_string_value(json_object_get(e, "label")),
           json_number_value(json_object_get(e, "seconds")),
           json_string_value(json_object_get(e, "source")));
}

static int example_add(const common *o, const example_opts *e, int nfiles, char **files) {
    int sources = (nfiles > 0) + !!e->last + !!e->detection + !!e->path, rc = CLI_OK;
    conn c;
    if (!e->label || sources != 1) {
        cli_error("example", "add needs --label and one of FILE..., --last, --detection or --path");
        return CLI_USAGE;
    }
    if ((rc = client_connect("example", o->sock, &c)) != CLI_OK) return rc;
    for (int k = 0; k < (nfiles ? nfiles : 1) && rc == CLI_OK; k++) {
        json_t *req = json_pack("{s:s, s:s, s:s}", "cmd", "example-add", "model", o->model,
                                "label", e->label), *r;
        char *end;
        if (e->new_class) json_object_set_new(req, "new_class", json_true());
        if (nfiles) {
            int rate = 0;
            json_t *audio = inline_audio(files[k], &rate);
            if (!audio) {
                json_decref(req);
                rc = CLI_FAIL;
                break;
            }
            json_object_set_new(req, "audio", audio);
            json_object_set_new(req, "rate", json_integer(rate));
        } else if (e->last) {
            double s = strtod(e->last, &end);
            if (*end || !(s > 0.0)) {
                cli_error("example", "--last: '%s' is not a number of seconds", e->last);
                json_decref(req);
                rc = CLI_USAGE;
                break;
            }
            json_object_set_new(req, "last", json_real(s));
        } else if (e->detection) {
            long long id = strtoll(e->detection, &end, 10);
            if (*end || id < 1) {
                cli_error("example", "--detection: '%s' is not an event id", e->detection);
                json_decref(req);
                rc = CLI_USAGE;
                break;
            }
            json_object_set_new(req, "detection", json_integer(id));
        } else {
            char abs[PATH_MAX];
            json_object_set_new(req, "path",
                                json_string(realpath(e->path, abs) ? abs : e->path));
        }
        if ((rc = client_send("example", &c, req)) != CLI_OK) break;
        if (!(r = client_reply("example", &c))) {
            if (nfiles) fprintf(stderr, "earshot example: (%s)\n", files[k]);
            rc = CLI_FAIL;
            break;
        }
        print_example(o, r);
        json_decref(r);
    }
    client_disconnect(&c);
    return rc;
}

int cmd_example(int argc, char **argv) {
    static const struct option extra[] = {
        {"label", required_argument, NULL, 'L'},     {"last", required_argument, NULL, 'T'},
        {"detection", required_argument, NULL, 'D'}, {"path", required_argument, NULL, 'P'},
        {"new-class", no_argument, NULL, 'N'},       {NULL, 0, NULL, 0},
    };
    example_opts e = {0};
    common o;
    const char *sub = argc > 1 ? argv[1] : "";
    json_t *r = NULL, *ex;
    size_t i;
    int rc;
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        fputs(example_help, stdout);
        return CLI_OK;
    }
    if (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "remove")) {
        cli_error("example", "give add, list or remove (earshot example --help)");
        return CLI_USAGE;
    }
    rc = client_parse("example", example_help, argc - 1, argv + 1, &o, extra, example_extra, &e);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!o.model) {
        cli_error("example", "--model NAME is required");
        return CLI_USAGE;
    }
    argc--;
    argv++;
    if (strcmp(sub, "add") == 0) return example_add(&o, &e, argc - optind, argv + optind);
    if (strcmp(sub, "list") == 0) {
        if (optind != argc) {
            cli_error("example", "unexpected argument '%s'", argv[optind]);
            return CLI_USAGE;
        }
        rc = client_round_trip("example", o.sock,
                               json_pack("{s:s, s:s}", "cmd", "examples", "model", o.model), &r);
        if (rc != CLI_OK) return rc;
        json_array_foreach(json_object_get(r, "examples"), i, ex) {
            if (o.json) {
                client_print_json(ex);
                continue;
            }
            printf("%-6lld %-12s %6.2f s  %s  %s\n", json_integer_value(json_object_get(ex, "id")),
                   json_string_value(json_object_get(ex, "label")),
                   json_number_value(json_object_get(ex, "seconds")),
                   json_string_value(json_object_get(ex, "added")),
                   json_string_value(json_object_get(ex, "source")));
        }
        json_decref(r);
        return CLI_OK;
    }
    if (optind == argc) {
        cli_error("example", "remove needs the ids of the examples (earshot example list)");
        return CLI_USAGE;
    }
    for (int k = optind; k < argc; k++) {
        char *end;
        long long id = strtoll(argv[k], &end, 10);
        if (*end || id < 1) {
            cli_error("example", "'%s' is not an example id", argv[k]);
            return CLI_USAGE;
        }
        rc = client_round_trip("example", o.sock,
                               json_pack("{s:s, s:s, s:I}", "cmd", "example-remove", "model",
                                         o.model, "example", (json_int_t)id), &r);
        if (rc != CLI_OK) return rc;
        json_decref(r);
        if (!o.json) printf("removed example %lld\n", id);
    }
    return CLI_OK;
}

/* ---- finetune ----------------------------------------------------------------- */

static const char finetune_help[] =
    "usage: earshot finetune --model NAME [--layers all|top|head] [--epochs N] [--lr X] [--seed N]\n"
    "                        [--wait]\n"
    "       earshot finetune --model NAME --status | --cancel\n"
    "\n"
    "Starts a fine-tuning job on the model's examples (earshot example add). The\n"
    "daemon keeps detecting with the current model meanwhile; the new one takes\n"
    "over only if it does at least as well on held-out examples. --wait shows\n"
    "progress and returns when the job ends: 0 when the new model was taken, 1\n"
    "when it was not (the reason is printed). --status and --cancel ask about or\n"
    "stop a running job. --seed picks the held-out examples and every random draw\n"
    "of the job (default 1: the same examples give the same model). --layers says\n"
    "which layers learn: all, top (the last convolution block and the head) or\n"
    "head (the final linear layers); the daemon's finetune.layers by default.\n"
    "  --socket PATH   the daemon's control socket\n";

typedef struct {
    const char *layers, *epochs, *lr, *seed;
    int wait, status, cancel;
} ft_opts;

static int finetune_extra(int opt, const char *arg, void *user) {
    ft_opts *f = user;
    switch (opt) {
    case 'Y': f->layers = arg; return 0;
    case 'E': f->epochs = arg; return 0;
    case 'R': f->lr = arg; return 0;
    case 'D': f->seed = arg; return 0;
    case 'W': f->wait = 1; return 0;
    case 'Q': f->status = 1; return 0;
    case 'C': f->cancel = 1; return 0;
    default: return -1;
    }
}

static void bar(json_t *ev) {
    int e = (int)json_integer_value(json_object_get(ev, "epoch")),
        n = (int)json_integer_value(json_object_get(ev, "epochs")), w = 30, k;
    char line[64];
    k = n > 0 ? w * e / n : 0;
    memset(line, '#', (size_t)k);
    memset(line + k, '.', (size_t)(w - k));
    line[w] = '\0';
    fprintf(stderr, "%s[%s] epoch %d/%d  loss %.3f  accuracy %.3f  %.1f s", isatty(2) ? "\r" : "",
            line, e, n, json_number_value(json_object_get(ev, "loss")),
            json_number_value(json_object_get(ev, "accuracy")),
            json_number_value(json_object_get(ev, "seconds")));
    if (!isatty(2)) fputc('\n', stderr);
}

/* Follows the job's events to its finetune-done. */
static int wait_done(const common *o, conn *c) {
    json_t *ev;
    while ((ev = client_read(c))) {
        const char *kind = json_string_value(json_object_get(ev, "event"));
        if (o->json && kind) client_print_json(ev);
        if (kind && strcmp(kind, "finetune-progress") == 0) {
            if (!o->json) bar(ev);
        } else if (kind && strcmp(kind, "finetune-done") == 0) {
            int ok = json_is_true(json_object_get(ev, "accepted"));
            const char *why = json_string_value(json_object_get(ev, "reason"));
            if (!o->json) {
                if (isatty(2)) fputc('\n', stderr);
                printf("%s: %s in %.1f s; held-out accuracy %.3f -> %.3f%s%s\n", o->model,
                       ok ? "fine-tuned model taken" : "model unchanged",
                       json_number_value(json_object_get(ev, "seconds")),
                       json_number_value(json_object_get(ev, "accuracy_before")),
                       json_number_value(json_object_get(ev, "accuracy_after")),
                       why && *why ? "; " : "", why ? why : "");
            }
            json_decref(ev);
            return ok ? CLI_OK : CLI_FAIL;
        }
        json_decref(ev);
    }
    cli_error("finetune", "the daemon closed the connection before the job ended");
    return CLI_FAIL;
}

int cmd_finetune(int argc, char **argv) {
    static const struct option extra[] = {
        {"layers", required_argument, NULL, 'Y'}, {"epochs", required_argument, NULL, 'E'},
        {"lr", required_argument, NULL, 'R'},     {"wait", no_argument, NULL, 'W'},
        {"seed", required_argument, NULL, 'D'},
        {"status", no_argument, NULL, 'Q'},       {"cancel", no_argument, NULL, 'C'},
        {NULL, 0, NULL, 0},
    };
    ft_opts f = {0};
    common o;
    conn c;
    json_t *req, *r;
    char *end;
    int rc = client_parse("finetune", finetune_help, argc, argv, &o, extra, finetune_extra, &f);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!o.model || optind != argc) {
        cli_error("finetune", "usage: earshot finetune --model NAME [options] (--help)");
        return CLI_USAGE;
    }
    if (f.status || f.cancel) {
        rc = client_round_trip("finetune", o.sock,
                               json_pack("{s:s, s:s}", "cmd",
                                         f.cancel ? "finetune-cancel" : "finetune-status",
                                         "model", o.model), &r);
        if (rc != CLI_OK) return rc;
        if (o.json || f.status) client_print_json(f.status ? json_object_get(r, "finetune") : r);
        else printf("%s: cancelling the fine-tuning job\n", o.model);
        json_decref(r);
        return CLI_OK;
    }
    req = json_pack("{s:s, s:s}", "cmd", "finetune", "model", o.model);
    if (f.layers) {
        if (es_layers_parse(f.layers) < 0) {
            cli_error("finetune", "--layers: '%s' is not all, top or head", f.layers);
            json_decref(req);
            return CLI_USAGE;
        }
        json_object_set_new(req, "layers", json_string(f.layers));
    }
    if (f.epochs) {
        long v = strtol(f.epochs, &end, 10);
        if (*end || v < 1 || v > 1000) {
            cli_error("finetune", "--epochs: '%s' is not a count in [1, 1000]", f.epochs);
            json_decref(req);
            return CLI_USAGE;
        }
        json_object_set_new(req, "epochs", json_integer(v));
    }
    if (f.lr) {
        double v = strtod(f.lr, &end);
        if (*end || !(v > 0.0 && v <= 1.0)) {
            cli_error("finetune", "--lr: '%s' is not a learning rate in (0, 1]", f.lr);
            json_decref(req);
            return CLI_USAGE;
        }
        json_object_set_new(req, "lr", json_real(v));
    }
    if (f.seed) {
        long long v;
        errno = 0;
        v = strtoll(f.seed, &end, 10);
        if (*end || !*f.seed || v < 0 || errno == ERANGE) {
            cli_error("finetune", "--seed: '%s' is not a non-negative 64-bit integer", f.seed);
            json_decref(req);
            return CLI_USAGE;
        }
        json_object_set_new(req, "seed", json_integer(v));
    }
    if ((rc = client_connect("finetune", o.sock, &c)) != CLI_OK) {
        json_decref(req);
        return rc;
    }
    /* subscribe first, so no progress of the job is missed */
    if (f.wait &&
        ((rc = client_send("finetune", &c,
                           json_pack("{s:s, s:s}", "cmd", "subscribe", "model", o.model))) !=
             CLI_OK ||
         !(r = client_reply("finetune", &c)))) {
        json_decref(req);
        client_disconnect(&c);
        return CLI_FAIL;
    }
    if (f.wait) json_decref(r);
    if ((rc = client_send("finetune", &c, req)) != CLI_OK || !(r = client_reply("finetune", &c))) {
        client_disconnect(&c);
        return CLI_FAIL;
    }
    if (o.json) client_print_json(r);
    else
        fprintf(stderr, "%s: fine-tuning %s layers for %lld epochs on %lld examples and %lld "
                "replayed clips\n", o.model,
                json_string_value(json_object_get(json_object_get(r, "job"), "layers")),
                json_integer_value(json_object_get(json_object_get(r, "job"), "epochs")),
                json_integer_value(json_object_get(json_object_get(r, "job"), "examples")),
                json_integer_value(json_object_get(json_object_get(r, "job"), "replay")));
    json_decref(r);
    rc = f.wait ? wait_done(&o, &c) : CLI_OK;
    client_disconnect(&c);
    return rc;
}

/* ---- save, rollback ----------------------------------------------------------- */

static const char save_help[] =
    "usage: earshot save --model NAME [--out PATH]\n"
    "\n"
    "Writes the model as it runs now (fine-tuned or not) atomically: to PATH, or\n"
    "to the daemon's state directory, where it replaces the configured file at\n"
    "the next start. Prints the path written.\n"
    "  --socket PATH   the daemon's control socket\n";

static int save_extra(int opt, const char *arg, void *user) {
    if (opt != 'O') return -1;
    *(const char **)user = arg;
    return 0;
}

int cmd_save(int argc, char **argv) {
    static const struct option extra[] = {{"out", required_argument, NULL, 'O'},
                                          {NULL, 0, NULL, 0}};
    common o;
    const char *out = NULL;
    json_t *req, *r = NULL;
    int rc = client_parse("save", save_help, argc, argv, &o, extra, save_extra, &out);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!o.model || optind != argc) {
        cli_error("save", "usage: earshot save --model NAME [--out PATH]");
        return CLI_USAGE;
    }
    req = json_pack("{s:s, s:s}", "cmd", "save", "model", o.model);
    if (out) {
        /* the daemon may run elsewhere: an absolute path, the folder resolved here */
        char abs[2 * PATH_MAX + 2], dir[PATH_MAX];
        if (out[0] == '/') {
            snprintf(abs, sizeof abs, "%s", out);
        } else if (!getcwd(dir, sizeof dir)) {
            cli_error("save", "cannot tell the current folder: %s", strerror(errno));
            json_decref(req);
            return CLI_FAIL;
        } else {
            snprintf(abs, sizeof abs, "%s/%s", dir, out);
        }
        json_object_set_new(req, "path", json_string(abs));
    }
    if ((rc = client_round_trip("save", o.sock, req, &r)) != CLI_OK) return rc;
    if (o.json) client_print_json(r);
    else puts(json_string_value(json_object_get(r, "path")));
    json_decref(r);
    return CLI_OK;
}

static const char rollback_help[] =
    "usage: earshot rollback --model NAME\n"
    "\n"
    "Returns the model to the one it had before its last change (fine-tuning,\n"
    "load or rollback: rolling back twice undoes the rollback).\n"
    "  --socket PATH   the daemon's control socket\n";

int cmd_rollback(int argc, char **argv) {
    common o;
    json_t *r = NULL;
    int rc = client_parse("rollback", rollback_help, argc, argv, &o, NULL, NULL, NULL);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!o.model || optind != argc) {
        cli_error("rollback", "usage: earshot rollback --model NAME");
        return CLI_USAGE;
    }
    rc = client_round_trip("rollback", o.sock,
                           json_pack("{s:s, s:s}", "cmd", "rollback", "model", o.model), &r);
    if (rc != CLI_OK) return rc;
    if (o.json) client_print_json(r);
    else printf("%s: back to %s\n", o.model,
                json_string_value(json_object_get(json_object_get(r, "model"), "file")));
    json_decref(r);
    return CLI_OK;
}

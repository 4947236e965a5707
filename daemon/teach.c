/* daemon/teach.c — teaching the running daemon: examples, fine-tuning jobs,
 * saving and rolling back models (the socket commands), and the main-loop
 * side of a job (progress events, swapping its model in). */
#define _GNU_SOURCE /* realpath */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "daemon.h"
#include "earshot/audio.h"
#include "earshot/error.h"
#include "earshot/replay.h"
#include "examples.h"
#include "log.h"

/* ---- example-add -------------------------------------------------------------- */

/* Shorter than this is no sound anyone could label (a hop of the features is
 * 10-20 ms), and almost surely a client's mistake. */
#define MIN_EXAMPLE_SECONDS 0.05

/* base64 (RFC 4648, padding required as OpenSSL's decoder wants it) of s16le
 * samples into floats; -1 on anything malformed. */
static int decode_s16(const char *b64, float **x, size_t *n) {
    size_t len = strlen(b64), cap = len / 4 * 3 + 3;
    unsigned char *raw = malloc(cap ? cap : 1);
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    int a = 0, b = 0, ok = raw && ctx && len <= INT_MAX;
    *x = NULL;
    *n = 0;
    if (ok) {
        EVP_DecodeInit(ctx);
        ok = EVP_DecodeUpdate(ctx, raw, &a, (const unsigned char *)b64, (int)len) >= 0 &&
             EVP_DecodeFinal(ctx, raw + a, &b) == 1;
    }
    EVP_ENCODE_CTX_free(ctx);
    if (ok && (a + b) % 2 != 0) ok = 0;   /* a sample is two bytes */
    if (ok && a + b > 0) {
        size_t m = (size_t)(a + b) / 2;
        if ((*x = malloc(m * sizeof **x))) {
            for (size_t i = 0; i < m; i++)
                (*x)[i] = (float)(int16_t)(raw[2 * i] | raw[2 * i + 1] << 8) / 32768.0f;
            *n = m;
        } else {
            ok = 0;
        }
    }
    free(raw);
    return ok ? 0 : -1;
}

/* Whether path (resolved, symlinks and .. included) lies inside one of the
 * allowed folders. */
static int allowed(const esd_config *c, const char *path, char *real) {
    if (!realpath(path, real)) return 0;
    for (int i = 0; i < c->n_allowed_dirs; i++) {
        char dir[PATH_MAX];
        size_t k;
        if (!realpath(c->allowed_dirs[i], dir)) continue;
        k = strlen(dir);
        if (strncmp(real, dir, k) == 0 && (real[k] == '/' || (k == 1 && dir[0] == '/')))
            return 1;
    }
    return 0;
}

/* The detection's stream span from the history ring of events. */
static int detection_span(esd *d, json_int_t id, double *t0, double *t1) {
    json_t *ev = events_history(d, -1), *e;
    size_t i;
    int found = 0;
    json_array_foreach(ev, i, e) {
        if (json_integer_value(json_object_get(e, "id")) == id) {
            *t0 = json_number_value(json_object_get(e, "onset"));
            *t1 = json_number_value(json_object_get(e, "offset"));
            found = 1;
        }
    }
    json_decref(ev);
    return found;
}

json_t *cmd_example_add(esd *d, client *c, json_t *req, const char **code, char *err,
                        size_t errlen) {
    static const char *const known[] = {"model", "label", "new_class", "audio", "rate", "path",
                                        "last", "detection", NULL};
    int i, ok = 1, rate = 0, sources;
    const char *label = cmd_opt_str(req, "label", &ok), *b64 = cmd_opt_str(req, "audio", &ok),
               *path = cmd_opt_str(req, "path", &ok);
    json_t *nc = json_object_get(req, "new_class"), *jr = json_object_get(req, "rate"),
           *last = json_object_get(req, "last"), *det = json_object_get(req, "detection");
    const es_model *m;
    float *x = NULL;
    size_t n = 0;
    char source[PATH_MAX + 32], msg[600];
    uint64_t id;
    (void)c;
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    if ((i = cmd_slot_arg(d, req, 1, code, err, errlen)) < 0) return NULL;
    m = model_state_model(worker_model(d->slots[i].w));
    if (!ok) FAIL("bad_argument", "'label', 'audio' and 'path' must be strings");
    if (!label || !*label || strlen(label) >= ES_LABEL_MAX)
        FAIL("bad_argument", "'label' (a class name of 1 to %d bytes) is required",
             ES_LABEL_MAX - 1);
    if (nc && !json_is_boolean(nc)) FAIL("bad_argument", "'new_class' must be true or false");
    if (es_model_label_index(m, label) < 0 && !json_is_true(nc))
        FAIL("unknown_label", "model '%s' has no label '%.64s'; add \"new_class\": true to teach "
             "it a new class", d->slots[i].cfg.name, label);
    sources = !!b64 + !!path + !!last + !!det;
    if (sources != 1)
        FAIL("bad_argument", "give exactly one of 'audio' (base64 s16le, with 'rate'), 'path', "
             "'last' (seconds) or 'detection' (an id)");
    if (jr && !b64) FAIL("bad_argument", "'rate' goes with 'audio'");
    if (b64) {
        if (!json_is_integer(jr) || json_integer_value(jr) < 1000 ||
            json_integer_value(jr) > 384000)
            FAIL("bad_argument", "inline 'audio' needs 'rate', the sample rate in [1000, 384000]");
        rate = (int)json_integer_value(jr);
        if (decode_s16(b64, &x, &n) < 0)
            FAIL("bad_audio", "'audio' is not valid base64 of 16-bit samples (padded, an even "
                 "number of bytes)");
        snprintf(source, sizeof source, "inline");
    } else if (path) {
        char real[PATH_MAX];
        es_audio a;
        if (d->cfg.n_allowed_dirs == 0)
            FAIL("denied", "example paths are off: the config's finetune.allowed_dirs is empty; "
                 "send the audio inline");
        if (!allowed(&d->cfg, path, real))
            FAIL("denied", "'%.200s' is not a file inside finetune.allowed_dirs", path);
        if (es_audio_read(real, &a) < 0) FAIL("bad_audio", "%s", es_errmsg());
        n = a.n;
        rate = a.rate;
        if ((x = malloc((n ? n : 1) * sizeof *x))) memcpy(x, a.samples, n * sizeof *x);
        es_audio_free(&a);
        if (!x) FAIL("example_failed", "out of memory");
        snprintf(source, sizeof source, "file:%s", real);
    } else if (last) {
        double s = json_number_value(last);
        if (!json_is_number(last) || !(s > 0.0 && s <= d->cfg.history_seconds))
            FAIL("bad_argument", "'last' must be seconds in (0, %g], the history",
                 d->cfg.history_seconds);
        if (esd_history_audio(d, -s, 0.0, &x, &n, msg, sizeof msg) < 0)
            FAIL("no_audio", "%s", msg);
        rate = capture_rate(d->cap);
        snprintf(source, sizeof source, "last:%g", s);
    } else {
        double t0 = 0.0, t1 = 0.0;
        if (!json_is_integer(det)) FAIL("bad_argument", "'detection' must be an event id");
        if (!detection_span(d, json_integer_value(det), &t0, &t1))
            FAIL("no_audio", "detection %lld is not in the history of events",
                 (long long)json_integer_value(det));
        if (esd_history_audio(d, t0, t1, &x, &n, msg, sizeof msg) < 0)
            FAIL("no_audio", "detection %lld: %s", (long long)json_integer_value(det), msg);
        rate = capture_rate(d->cap);
        snprintf(source, sizeof source, "detection:%lld", (long long)json_integer_value(det));
    }
    if (n == 0) {
        free(x);
        FAIL("bad_audio", "the audio has zero length");
    }
    if ((double)n / rate < MIN_EXAMPLE_SECONDS) {
        free(x);
        FAIL("bad_audio", "the example lasts %.3f s; at least %g s is needed", (double)n / rate,
             MIN_EXAMPLE_SECONDS);
    }
    if ((double)n / rate > d->cfg.ft_max_example_seconds) {
        free(x);
        FAIL("bad_audio", "the example lasts %.1f s; finetune.max_example_seconds is %g",
             (double)n / rate, d->cfg.ft_max_example_seconds);
    }
    if (examples_add(d->cfg.state_dir, d->slots[i].cfg.name, label, source, x, n, rate,
                     d->cfg.ft_max_examples, &id, msg, sizeof msg) < 0) {
        free(x);
        FAIL("example_failed", "%s", msg);
    }
    free(x);
    esd_log(ES_LOG_INFO, "model '%s': example %llu, '%s', %.2f s (%s)", d->slots[i].cfg.name,
            (unsigned long long)id, label, (double)n / rate, source);
    return json_pack("{s:{s:I, s:s, s:o, s:f, s:i}}", "example", "id", (json_int_t)id, "label",
                     label, "source", esd_json_string_or(source, "file"), "seconds",
                     (double)n / rate,
                     "rate", rate);
}

json_t *cmd_examples(esd *d, client *c, json_t *req, const char **code, char *err,
                     size_t errlen) {
    static const char *const known[] = {"model", NULL};
    int i;
    json_t *list;
    (void)c;
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    if ((i = cmd_slot_arg(d, req, 1, code, err, errlen)) < 0) return NULL;
    if (!(list = examples_list(d->cfg.state_dir, d->slots[i].cfg.name, err, errlen))) {
        *code = "example_failed";
        return NULL;
    }
    return json_pack("{s:s, s:o}", "model", d->slots[i].cfg.name, "examples", list);
}

json_t *cmd_example_remove(esd *d, client *c, json_t *req, const char **code, char *err,
                           size_t errlen) {
    static const char *const known[] = {"model", "example", NULL};
    json_t *id = json_object_get(req, "example");
    int i;
    (void)c;
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    if ((i = cmd_slot_arg(d, req, 1, code, err, errlen)) < 0) return NULL;
    if (!json_is_integer(id) || json_integer_value(id) < 1)
        FAIL("bad_argument", "'example' (the id example-add gave) is required");
    if (examples_remove(d->cfg.state_dir, d->slots[i].cfg.name,
                        (uint64_t)json_integer_value(id), err, errlen) < 0) {
        *code = "no_such_example";
        return NULL;
    }
    return json_pack("{s:I}", "removed", json_integer_value(id));
}

/* ---- fine-tuning -------------------------------------------------------------- */

/* The slot's rehearsal store: its replay key, else the model file's name
 * with .replay.safetensors. NULL (no error) when there is none. */
static int load_replay(esd *d, int i, int rate, es_dataset **ds, char *path, size_t cap) {
    const esd_model_config *mc = &d->slots[i].cfg;
    *ds = NULL;
    if (mc->replay[0]) {
        snprintf(path, cap, "%s", mc->replay);
    } else {
        size_t k = strlen(mc->file);
        const char *ext = ".safetensors";
        if (k > strlen(ext) && strcmp(mc->file + k - strlen(ext), ext) == 0) k -= strlen(ext);
        snprintf(path, cap, "%.*s.replay.safetensors", (int)k, mc->file);
        if (access(path, F_OK) < 0) {
            path[0] = '\0';
            return 0;
        }
    }
    return es_replay_load(ds, path, rate);
}

json_t *cmd_finetune(esd *d, client *c, json_t *req, const char **code, char *err,
                     size_t errlen) {
    static const char *const known[] = {"model", "layers", "epochs", "lr", "seed", NULL};
    int i, ok = 1, rate;
    const char *layers = cmd_opt_str(req, "layers", &ok);
    json_t *je = json_object_get(req, "epochs"), *jl = json_object_get(req, "lr"),
           *js = json_object_get(req, "seed");
    ft_params p;
    const model_state *st;
    es_model *base;
    es_dataset *ex = NULL, *replay = NULL;
    char rpath[ESD_PATH_MAX + 32] = "", msg[600];
    (void)c;
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    if ((i = cmd_slot_arg(d, req, 1, code, err, errlen)) < 0) return NULL;
    if (d->job)
        FAIL("busy", "a fine-tuning job for '%s' is running; wait for it or finetune-cancel it",
             d->job_model);
    p.epochs = d->cfg.ft_epochs;
    p.lr = d->cfg.ft_lr;
    p.layers = d->cfg.ft_layers;
    p.threads = d->cfg.ft_threads;
    p.holdout = d->cfg.ft_holdout;
    p.seed = 1;
    if (layers) {
        int l = es_layers_parse(layers);
        if (l < 0) ok = 0;
        else p.layers = (es_layers)l;
    }
    if (!ok) FAIL("bad_argument", "'layers' must be \"all\", \"top\" or \"head\"");
    if (je) {
        if (!json_is_integer(je) || json_integer_value(je) < 1 || json_integer_value(je) > 1000)
            FAIL("bad_argument", "'epochs' must be an integer in [1, 1000]");
        p.epochs = (int)json_integer_value(je);
    }
    if (js) {
        /* which examples are held out and every random draw of the job */
        if (!json_is_integer(js) || json_integer_value(js) < 0)
            FAIL("bad_argument", "'seed' must be a non-negative integer");
        p.seed = (uint64_t)json_integer_value(js);
    }
    if (jl) {
        if (!json_is_number(jl) || !(json_number_value(jl) > 0.0 && json_number_value(jl) <= 1.0))
            FAIL("bad_argument", "'lr' must be a number in (0, 1]");
        p.lr = json_number_value(jl);
    }
    st = worker_model(d->slots[i].w);
    rate = es_model_features(model_state_model(st))->sample_rate;
    if (examples_dataset(d->cfg.state_dir, d->slots[i].cfg.name, rate, &ex, msg, sizeof msg) < 0)
        FAIL("example_failed", "%s", msg);
    if (!ex)
        FAIL("no_examples", "model '%s' has no examples: example-add some first",
             d->slots[i].cfg.name);
    if (load_replay(d, i, rate, &replay, rpath, sizeof rpath) < 0) {
        snprintf(msg, sizeof msg, "%s", es_errmsg());
        es_dataset_free(ex);
        FAIL("finetune_failed", "replay store: %s", msg);
    }
    if (es_model_copy(model_state_model(st), &base) < 0) {
        snprintf(msg, sizeof msg, "%s", es_errmsg());
        es_dataset_free(ex);
        es_dataset_free(replay);
        FAIL("finetune_failed", "%s", msg);
    }
    {
        size_t n_ex = es_dataset_size(ex), n_rp = replay ? es_dataset_size(replay) : 0;
        if (ft_start(&d->job, base, ex, replay, &p, d->event_fd, msg, sizeof msg) < 0)
            FAIL("finetune_failed", "%s", msg);
        d->job_slot = i;
        for (int k = 0; k < d->n_slots; k++) {
            worker_stats ws;
            double p50;
            worker_stats_get(d->slots[k].w, &ws);
            d->job_windows0[k] = ws.windows;
            d->job_lost0[k] = ws.lost;
            /* the last 200 windows (50 s at a 0.25 s stride) before the job */
            worker_latency(d->slots[k].w, ws.windows > 200 ? ws.windows - 200 : 0, ws.windows,
                           &p50, &d->job_p99_before[k], &d->job_preempted_before[k]);
        }
        snprintf(d->job_model, sizeof d->job_model, "%s", d->slots[i].cfg.name);
        snprintf(d->job_sha, sizeof d->job_sha, "%s", model_state_sha256(st));
        esd_log(ES_LOG_NOTICE, "model '%s': fine-tuning (%s layers, %d epochs, lr %g) on %zu "
                "examples and %zu replayed clips", d->job_model, es_layers_name(p.layers),
                p.epochs, p.lr, n_ex, n_rp);
        json_t *job = json_pack("{s:s, s:s, s:i, s:f, s:I, s:I}", "model", d->job_model,
                                "layers", es_layers_name(p.layers), "epochs", p.epochs,
                                "lr", p.lr, "examples", (json_int_t)n_ex, "replay",
                                (json_int_t)n_rp);
        if (job && rpath[0])
            json_object_set_new(job, "replay_file", esd_json_string_or(rpath, "?"));
        return json_pack("{s:o}", "job", job);
    }
}

static json_t *job_json(esd *d) {
    ft_progress pr = ft_progress_last(d->job);
    return json_pack("{s:b, s:s, s:i, s:i, s:f, s:f, s:f}", "running", 1, "model", d->job_model,
                     "epoch", pr.epoch, "epochs", pr.epochs, "loss", (double)pr.loss, "accuracy",
                     (double)pr.train_acc, "seconds", pr.seconds);
}

json_t *cmd_finetune_status(esd *d, client *c, json_t *req, const char **code, char *err,
                            size_t errlen) {
    static const char *const known[] = {"model", NULL};
    json_t *o;
    (void)c;
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    if (cmd_slot_arg(d, req, 0, code, err, errlen) == -2) return NULL;
    o = d->job ? job_json(d) : json_pack("{s:b}", "running", 0);
    if (d->job_last) json_object_set(o, "last", d->job_last);
    return json_pack("{s:o}", "finetune", o);
}

json_t *cmd_finetune_cancel(esd *d, client *c, json_t *req, const char **code, char *err,
                            size_t errlen) {
    static const char *const known[] = {"model", NULL};
    int i;
    (void)c;
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    if ((i = cmd_slot_arg(d, req, 0, code, err, errlen)) == -2) return NULL;
    if (!d->job || (i >= 0 && i != d->job_slot))
        FAIL("no_job", "no fine-tuning job is running%s%s", i >= 0 ? " for " : "",
             i >= 0 ? d->slots[i].cfg.name : "");
    ft_cancel(d->job);
    return json_pack("{s:s}", "cancelling", d->job_model);
}

/* ---- save, rollback ------------------------------------------------------------ */

json_t *cmd_save(esd *d, client *c, json_t *req, const char **code, char *err, size_t errlen) {
    static const char *const known[] = {"model", "path", NULL};
    int i, ok = 1;
    const char *path = cmd_opt_str(req, "path", &ok);
    char target[ESD_PATH_MAX + 128], real[PATH_MAX];
    const model_state *st;
    (void)c;
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    if ((i = cmd_slot_arg(d, req, 1, code, err, errlen)) < 0) return NULL;
    if (!ok || (path && (path[0] != '/' || strlen(path) >= ESD_PATH_MAX)))
        FAIL("bad_argument", "'path' must be an absolute path");
    if (path) {
        snprintf(target, sizeof target, "%s", path);
    } else {
        char dir[ESD_PATH_MAX + 16];
        if (!d->cfg.state_dir[0])
            FAIL("bad_argument", "the daemon has no state directory: give 'path'");
        if (!examples_name_ok(d->slots[i].cfg.name))
            FAIL("bad_argument", "model name '%s' cannot name a file: give 'path'",
                 d->slots[i].cfg.name);
        snprintf(dir, sizeof dir, "%s/models", d->cfg.state_dir);
        if ((mkdir(d->cfg.state_dir, 0750) < 0 && errno != EEXIST) ||
            (mkdir(dir, 0750) < 0 && errno != EEXIST))
            FAIL("save_failed", "cannot create %s: %s", dir, strerror(errno));
        snprintf(target, sizeof target, "%s/%s.safetensors", dir, d->slots[i].cfg.name);
    }
    st = worker_model(d->slots[i].w);
    if (es_model_save(model_state_model(st), target) < 0)
        FAIL("save_failed", "%s", es_errmsg());
    if (!realpath(target, real)) snprintf(real, sizeof real, "%s", target);
    esd_log(ES_LOG_NOTICE, "model '%s' saved to %s", d->slots[i].cfg.name, real);
    return json_pack("{s:s, s:o, s:s}", "model", d->slots[i].cfg.name, "path",
                     esd_json_string_or(real, "(not UTF-8)"), "sha256", model_state_sha256(st));
}

json_t *cmd_rollback(esd *d, client *c, json_t *req, const char **code, char *err,
                     size_t errlen) {
    static const char *const known[] = {"model", NULL};
    int i;
    es_model *prev;
    char origin[ESD_PATH_MAX + 32];
    (void)c;
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    if ((i = cmd_slot_arg(d, req, 1, code, err, errlen)) < 0) return NULL;
    if (!d->slots[i].prev)
        FAIL("no_previous", "model '%s' has no previous model to return to",
             d->slots[i].cfg.name);
    /* the current model becomes the previous one: rollback again undoes it */
    prev = d->slots[i].prev;
    d->slots[i].prev = NULL;
    snprintf(origin, sizeof origin, "%s", d->slots[i].prev_path);
    if (esd_swap_model(d, i, prev, origin, err, errlen) < 0) {
        *code = "rollback_failed";
        return NULL;
    }
    return json_pack("{s:o}", "model", cmd_model_info(d, i));
}

/* ---- the main loop's side of a job -------------------------------------------- */

/* What inference did while the job ran, per model: its windows' latency
 * against the 200 windows before, and samples lost. Training must not slow
 * inference: this is how a user (and the tests) can tell. */
static json_t *inference_during_job(esd *d) {
    json_t *a = json_array();
    for (int k = 0; k < d->n_slots; k++) {
        worker_stats ws;
        double j50, j99;
        size_t n_job, pre;
        worker_stats_get(d->slots[k].w, &ws);
        n_job = worker_latency(d->slots[k].w, d->job_windows0[k], ws.windows, &j50, &j99, &pre);
        json_array_append_new(
            a, json_pack("{s:s, s:f, s:I, s:I, s:f, s:f, s:I, s:I}", "model",
                         d->slots[k].cfg.name, "p99_ms_before", d->job_p99_before[k] * 1e3,
                         "preempted_before", (json_int_t)d->job_preempted_before[k],
                         "windows_during", (json_int_t)n_job, "p50_ms_during", j50 * 1e3,
                         "p99_ms_during", j99 * 1e3, "preempted_during", (json_int_t)pre,
                         "lost_samples_during", (json_int_t)(ws.lost - d->job_lost0[k])));
    }
    return a;
}

static void finish_job(esd *d) {
    ft_result r;
    json_t *ev;
    int i = d->job_slot, swapped = 0;
    char origin[ESD_PATH_MAX + 64], msg[600] = "";
    ft_finish(d->job, &r);
    d->job = NULL;
    if (r.accepted) {
        const model_state *st = worker_model(d->slots[i].w);
        if (strcmp(model_state_sha256(st), d->job_sha) != 0) {
            /* a load or rollback came in meanwhile: the job learned from a
             * model that no longer runs */
            snprintf(r.reason, sizeof r.reason, "the model was replaced while fine-tuning; the "
                     "result is discarded");
            es_model_free(r.model);
            r.accepted = 0;
        } else {
            snprintf(origin, sizeof origin, "fine-tuned from %s", model_state_path(st));
            if (esd_swap_model(d, i, r.model, origin, msg, sizeof msg) == 0) {
                swapped = 1;
            } else {
                r.accepted = 0;
                snprintf(r.reason, sizeof r.reason, "%s", msg);
            }
        }
        r.model = NULL;
    }
    ev = json_pack("{s:s, s:s, s:b, s:b, s:b, s:f, s:f, s:i, s:i, s:f}", "event",
                   "finetune-done", "model", d->job_model, "ok", r.ok, "accepted", swapped,
                   "cancelled", r.cancelled, "accuracy_before", r.acc_before, "accuracy_after",
                   r.acc_after, "train", r.n_train, "validation", r.n_val, "seconds", r.seconds);
    if (!ev) return;
    {
        /* the two halves of the held-out score (absent when nothing was held out) */
        static const char *const keys[2][2] = {
            {"examples_accuracy_before", "examples_accuracy_after"},
            {"replay_accuracy_before", "replay_accuracy_after"}};
        for (int g = 0; g < 2; g++) {
            if (r.group_before[g] >= 0.0)
                json_object_set_new(ev, keys[g][0], json_real(r.group_before[g]));
            if (r.group_after[g] >= 0.0)
                json_object_set_new(ev, keys[g][1], json_real(r.group_after[g]));
        }
    }
    /* a reason quoting a file name may not be UTF-8: the event goes out
     * regardless, since clients wait for it (earshot finetune --wait) */
    json_object_set_new(ev, "added_labels", esd_json_string_or(r.added, ""));
    json_object_set_new(ev, "reason", esd_json_string_or(r.reason, "(not UTF-8)"));
    json_object_set_new(ev, "inference", inference_during_job(d));
    esd_log(swapped ? ES_LOG_NOTICE : ES_LOG_WARNING,
            "model '%s': fine-tuning %s in %.1f s (held-out accuracy %.3f -> %.3f)%s%s",
            d->job_model, swapped ? "accepted" : r.cancelled ? "cancelled" : "not accepted",
            r.seconds, r.acc_before, r.acc_after, r.reason[0] ? ": " : "", r.reason);
    server_broadcast(d, d->job_model, NULL, ev, 0);
    json_decref(d->job_last);
    d->job_last = ev;
}

void teach_poll(esd *d) {
    ft_progress p[16];
    int n;
    if (!d->job) return;
    while ((n = ft_progress_take(d->job, p, 16)) > 0) {
        for (int k = 0; k < n; k++) {
            json_t *ev = json_pack("{s:s, s:s, s:i, s:i, s:f, s:f, s:f}", "event",
                                   "finetune-progress", "model", d->job_model, "epoch",
                                   p[k].epoch, "epochs", p[k].epochs, "loss", (double)p[k].loss,
                                   "accuracy", (double)p[k].train_acc, "seconds", p[k].seconds);
            if (ev) server_broadcast(d, d->job_model, NULL, ev, 0);
            json_decref(ev);
        }
    }
    if (ft_finished(d->job)) finish_job(d);
}

void teach_stop(esd *d) {
    ft_result r;
    if (!d->job) return;
    ft_cancel(d->job);
    ft_finish(d->job, &r);
    es_model_free(r.model);
    d->job = NULL;
}

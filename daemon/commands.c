/* daemon/commands.c — the control socket's commands: one JSON object per
 * line in, one reply per line out; a table of {name, handler, flags}. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "daemon.h"
#include "earshot/error.h"
#include "log.h"

/* The optional string member key; ok=0 when present but not a string. */
const char *cmd_opt_str(json_t *req, const char *key, int *ok) {
    json_t *v = json_object_get(req, key);
    if (!v || json_is_null(v)) return NULL;
    if (!json_is_string(v)) {
        *ok = 0;
        return NULL;
    }
    return json_string_value(v);
}

/* Members a command does not know are errors, as in the config files. */
int cmd_check_members(json_t *req, const char *const *known, char *err, size_t errlen) {
    const char *key;
    json_t *v;
    json_object_foreach(req, key, v) {
        int ok = strcmp(key, "cmd") == 0 || strcmp(key, "id") == 0;
        for (int i = 0; known[i] && !ok; i++) ok = strcmp(key, known[i]) == 0;
        if (!ok) {
            snprintf(err, errlen, "unknown argument '%s'", key);
            return -1;
        }
    }
    return 0;
}

json_t *cmd_bad_argument(const char **code) {
    *code = "bad_argument";
    return NULL;
}

static json_t *cmd_status(esd *d, client *c, json_t *req, const char **code, char *err,
                          size_t errlen) {
    static const char *const known[] = {NULL};
    (void)c;
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    return esd_status(d);
}

json_t *cmd_model_info(esd *d, int i) {
    const model_state *st = worker_model(d->slots[i].w);
    const es_model *m = model_state_model(st);
    const es_feature_desc *fd = es_model_features(m);
    es_detect_config dc = worker_detect_config(d->slots[i].w);
    json_t *labels = json_array(), *thr = json_object();
    for (int k = 0; k < es_model_num_labels(m); k++) {
        json_array_append_new(labels, json_string(es_model_label(m, k)));
        json_object_set_new(thr, es_model_label(m, k),
                            json_real(worker_threshold(d->slots[i].w, k)));
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:i, s:f, s:f, s:f, s:{s:o, s:i, s:f, s:f, s:f}}",
                     "name", d->slots[i].cfg.name, "file", model_state_path(st), "sha256",
                     model_state_sha256(st), "labels", labels, "sample_rate", fd->sample_rate,
                     "clip_seconds", fd->clip_seconds, "audio_seconds",
                     model_state_audio_seconds(st), "stride_seconds", dc.stride_seconds,
                     "detect", "thresholds", thr, "min_count", dc.min_count, "average_seconds",
                     dc.average_seconds, "refractory_seconds", dc.refractory_seconds,
                     "energy_gate_db", dc.energy_gate_db);
}

static json_t *cmd_models(esd *d, client *c, json_t *req, const char **code, char *err,
                          size_t errlen) {
    static const char *const known[] = {NULL};
    json_t *a = json_array();
    (void)c;
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    for (int i = 0; i < d->n_slots; i++) json_array_append_new(a, cmd_model_info(d, i));
    return json_pack("{s:o}", "models", a);
}

int cmd_slot_arg(esd *d, json_t *req, int required, const char **code, char *err,
                    size_t errlen) {
    int ok = 1, i;
    const char *name = cmd_opt_str(req, "model", &ok);
    if (!ok) {
        *code = "bad_argument";
        snprintf(err, errlen, "'model' must be a string");
        return -2;
    }
    if (!name) {
        if (!required) return -1;
        *code = "bad_argument";
        snprintf(err, errlen, "'model' (a model name) is required");
        return -2;
    }
    if ((i = esd_slot_index(d, name)) < 0) {
        *code = "no_such_model";
        snprintf(err, errlen, "no model named '%.64s'", name);
        return -2;
    }
    return i;
}

static json_t *cmd_predict(esd *d, client *c, json_t *req, const char **code, char *err,
                           size_t errlen) {
    static const char *const known[] = {"model", NULL};
    static float p[ES_MAX_LABELS];
    json_t *out = json_object();
    int only;
    (void)c;
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    if ((only = cmd_slot_arg(d, req, 0, code, err, errlen)) == -2) {
        json_decref(out);
        return NULL;
    }
    for (int i = 0; i < d->n_slots; i++) {
        const es_model *m = model_state_model(worker_model(d->slots[i].w));
        json_t *post = json_object();
        double t = 0.0;
        int k, top = 0;
        if (only >= 0 && i != only) {
            json_decref(post);
            continue;
        }
        k = worker_predict(d->slots[i].w, p, ES_MAX_LABELS, &t);
        for (int j = 0; j < k && j < es_model_num_labels(m); j++) {
            json_object_set_new(post, es_model_label(m, j), json_real(p[j]));
            if (p[j] > p[top]) top = j;
        }
        json_object_set_new(out, d->slots[i].cfg.name,
                            json_pack("{s:f, s:s?, s:o}", "time", t, "label",
                                      k ? es_model_label(m, top) : NULL, "posteriors", post));
    }
    return json_pack("{s:o}", "models", out);
}

static json_t *cmd_subscribe(esd *d, client *c, json_t *req, const char **code, char *err,
                             size_t errlen) {
    static const char *const known[] = {"model", "label", "posteriors", NULL};
    int ok = 1, i;
    const char *label = cmd_opt_str(req, "label", &ok);
    json_t *hz = json_object_get(req, "posteriors");
    double post_hz = 0.0;
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    if (!ok) FAIL("bad_argument", "'label' must be a string");
    if ((i = cmd_slot_arg(d, req, 0, code, err, errlen)) == -2) return NULL;
    if (hz && !json_is_null(hz)) {
        if (!json_is_number(hz) || !(json_number_value(hz) > 0.0 && json_number_value(hz) <= 100.0))
            FAIL("bad_argument", "'posteriors' is a rate in Hz, in (0, 100]");
        post_hz = json_number_value(hz);
    }
    if (label && i >= 0 &&
        es_model_label_index(model_state_model(worker_model(d->slots[i].w)), label) < 0)
        FAIL("bad_argument", "model '%s' has no label '%.64s'", d->slots[i].cfg.name, label);
    client_subscribe(d, c, i >= 0 ? d->slots[i].cfg.name : NULL, label, post_hz);
    return json_object();
}

static json_t *cmd_unsubscribe(esd *d, client *c, json_t *req, const char **code, char *err,
                               size_t errlen) {
    static const char *const known[] = {NULL};
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    client_unsubscribe(d, c);
    return json_object();
}

static json_t *cmd_history(esd *d, client *c, json_t *req, const char **code, char *err,
                           size_t errlen) {
    static const char *const known[] = {"max", NULL};
    json_t *mx = json_object_get(req, "max");
    int max = -1;
    (void)c;
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    if (mx) {
        if (!json_is_integer(mx) || json_integer_value(mx) < 0)
            FAIL("bad_argument", "'max' must be a count of at least 0");
        max = json_integer_value(mx) > 1000000 ? 1000000 : (int)json_integer_value(mx);
    }
    return json_pack("{s:o}", "events", events_history(d, max));
}

static json_t *cmd_load(esd *d, client *c, json_t *req, const char **code, char *err,
                        size_t errlen) {
    static const char *const known[] = {"model", "file", NULL};
    int ok = 1, i;
    const char *name = cmd_opt_str(req, "model", &ok), *file = cmd_opt_str(req, "file", &ok);
    (void)c;
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    if (!ok || !name || !file || !*name || strlen(name) >= ESD_NAME_MAX || !*file ||
        strlen(file) >= ESD_PATH_MAX)
        FAIL("bad_argument", "load needs 'model' (a slot name, 1 to 63 bytes) and 'file' (a path)");
    {
        char msg[1024];
        if ((i = esd_load_model(d, name, file, NULL, msg, sizeof msg)) < 0)
            FAIL("load_failed", "%s; the running model is unchanged", msg);
    }
    return json_pack("{s:o}", "model", cmd_model_info(d, i));
}

static json_t *cmd_set(esd *d, client *c, json_t *req, const char **code, char *err,
                       size_t errlen) {
    static const char *const known[] = {"model", "threshold", "thresholds", "min_count",
                                        "average_seconds", "refractory_seconds",
                                        "energy_gate_db", NULL};
    int i;
    worker *w;
    es_detect_config dc;
    json_t *v, *th;
    const es_model *m;
    const char *key;
    (void)c;
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    if ((i = cmd_slot_arg(d, req, 1, code, err, errlen)) < 0) return NULL;
    w = d->slots[i].w;
    m = model_state_model(worker_model(w));
    dc = worker_detect_config(w);
#define NUM(name, field, cast)                                                          \
    if ((v = json_object_get(req, name))) {                                             \
        if (!json_is_number(v)) FAIL("bad_argument", "'%s' must be a number", name);    \
        dc.field = (cast)json_number_value(v);                                          \
    }
    NUM("threshold", threshold, float)
    NUM("average_seconds", average_seconds, double)
    NUM("refractory_seconds", refractory_seconds, double)
    NUM("energy_gate_db", energy_gate_db, double)
#undef NUM
    if ((v = json_object_get(req, "min_count"))) {
        if (!json_is_integer(v)) FAIL("bad_argument", "'min_count' must be an integer");
        /* clamped into int; the range check below names the real limits */
        dc.min_count = json_integer_value(v) > 100000 ? 100000
                     : json_integer_value(v) < 0 ? 0 : (int)json_integer_value(v);
    }
    th = json_object_get(req, "thresholds");
    if (th) {
        if (!json_is_object(th)) FAIL("bad_argument", "'thresholds' must be an object label: value");
        json_object_foreach(th, key, v) {
            int k = es_model_label_index(m, key);
            if (k < 0) FAIL("bad_argument", "model '%s' has no label '%.64s'", d->slots[i].cfg.name, key);
            if (!json_is_null(v) && (!json_is_number(v) || !(json_number_value(v) >= 0.0 &&
                                                              json_number_value(v) <= 1.0)))
                FAIL("bad_argument", "threshold of '%.64s' must be in [0, 1] (or null: the default)", key);
        }
        {
            esd_model_config probe = d->slots[i].cfg;
            json_object_foreach(th, key, v)
                if (esd_model_config_threshold(&probe, key, json_is_null(v) ? NAN : (float)json_number_value(v)) < 0)
                    FAIL("bad_argument", "at most 32 labels may have their own threshold");
        }
    }
    if (worker_set_detect(w, &dc) < 0) FAIL("bad_argument", "%s", es_errmsg());
    d->slots[i].cfg.detect = dc;
    if (th) {
        json_object_foreach(th, key, v) {
            int k = es_model_label_index(m, key);
            float t = json_is_null(v) ? NAN : (float)json_number_value(v);
            worker_set_threshold(w, k, t);
            esd_model_config_threshold(&d->slots[i].cfg, key, t);
        }
    }
    return json_pack("{s:o}", "model", cmd_model_info(d, i));
}

static json_t *cmd_reload(esd *d, client *c, json_t *req, const char **code, char *err,
                          size_t errlen) {
    static const char *const known[] = {NULL};
    char msg[1024];
    (void)c;
    if (cmd_check_members(req, known, err, errlen) < 0) return cmd_bad_argument(code);
    if (esd_reload(d, msg, sizeof msg) < 0) FAIL("reload_failed", "%s", msg);
    return json_object();
}

static const struct {
    const char *name;
    cmd_fn fn;
    int flags;
} commands[] = {
    {"status", cmd_status, 0},       {"models", cmd_models, 0},
    {"predict", cmd_predict, 0},     {"subscribe", cmd_subscribe, 0},
    {"unsubscribe", cmd_unsubscribe, 0}, {"history", cmd_history, 0},
    {"load", cmd_load, CMD_PRIV},    {"set", cmd_set, CMD_PRIV},
    {"reload", cmd_reload, CMD_PRIV},
    {"example-add", cmd_example_add, CMD_PRIV},
    {"examples", cmd_examples, 0},
    {"example-remove", cmd_example_remove, CMD_PRIV},
    {"finetune", cmd_finetune, CMD_PRIV},
    {"finetune-status", cmd_finetune_status, 0},
    {"finetune-cancel", cmd_finetune_cancel, CMD_PRIV},
    {"save", cmd_save, CMD_PRIV},
    {"rollback", cmd_rollback, CMD_PRIV},
};

static void reply_error(esd *d, client *c, json_t *id, const char *code, const char *msg) {
    json_t *o = json_pack("{s:b, s:s, s:s}", "ok", 0, "error", msg, "code", code);
    if (id) json_object_set(o, "id", id);
    server_send(d, c, o);
}

void commands_dispatch(esd *d, client *c, const char *line, size_t len) {
    json_error_t je;
    json_t *req = json_loadb(line, len, 0, &je), *id = NULL, *cmd, *res;
    const char *code = "bad_request";
    char err[1200] = "";
    if (!req) {
        char msg[300];
        snprintf(msg, sizeof msg, "invalid JSON at column %d: %s", je.column, je.text);
        reply_error(d, c, NULL, "bad_json", msg);
        return;
    }
    if (!json_is_object(req)) {
        reply_error(d, c, NULL, "bad_request", "a request is a JSON object with \"cmd\"");
        json_decref(req);
        return;
    }
    id = json_object_get(req, "id");
    cmd = json_object_get(req, "cmd");
    if (!json_is_string(cmd)) {
        reply_error(d, c, id, "bad_request", "\"cmd\" (a string) is missing");
        json_decref(req);
        return;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, json_string_value(cmd)) != 0) continue;
        if ((commands[i].flags & CMD_PRIV) && !client_privileged(c)) {
            char msg[200];
            snprintf(msg, sizeof msg, "'%s' changes the daemon: only root, its own user or "
                     "members of socket.group may", commands[i].name);
            reply_error(d, c, id, "denied", msg);
            json_decref(req);
            return;
        }
        res = commands[i].fn(d, c, req, &code, err, sizeof err);
        if (!res) {
            reply_error(d, c, id, code, err[0] ? err : "failed");
        } else {
            json_t *o = json_pack("{s:b}", "ok", 1);
            if (id) json_object_set(o, "id", id);
            json_object_update(o, res);
            json_decref(res);
            server_send(d, c, o);
        }
        json_decref(req);
        return;
    }
    {
        char msg[200];
        snprintf(msg, sizeof msg, "unknown command '%.64s'", json_string_value(cmd));
        reply_error(d, c, id, "unknown_command", msg);
    }
    json_decref(req);
}

/* daemon/config.c — reading earshotd.conf. */
#include "config.h"

#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confread.h"
#include "earshot/error.h"
#include "earshot/log.h"

void esd_config_defaults(esd_config *c) {
    memset(c, 0, sizeof *c);
    c->input = ESD_IN_PORTAUDIO;
    c->input_rate = 16000;
    c->history_seconds = 32.0;          /* DESIGN: at least 30 s of history */
    snprintf(c->socket_path, sizeof c->socket_path, "/run/earshot/control.sock");
    c->max_clients = 64;
    c->max_line = 1 << 20;              /* inline audio examples are long lines */
    c->client_queue = 256;
    c->history_events = 1000;
    c->realtime_priority = 10;
    c->clip_pre = 1.0;
    c->clip_post = 0.5;
    c->clips_max_mb = 100.0;
    c->log_level = ES_LOG_INFO;
    c->ft_epochs = 30;
    c->ft_lr = 3e-3;
    c->ft_layers = ES_LAYERS_TOP;
    c->ft_holdout = 0.2;
    c->ft_max_examples = 2000;
    c->ft_threads = 2;
    c->ft_max_example_seconds = 30.0;
}

int esd_model_config_threshold(esd_model_config *mc, const char *label, float value) {
    int i = 0;
    while (i < mc->n_thresholds && strcmp(mc->threshold_label[i], label) != 0) i++;
    if (isnan(value)) {
        if (i == mc->n_thresholds) return 0;
        mc->n_thresholds--;
        memmove(mc->threshold_label[i], mc->threshold_label[i + 1],
                (size_t)(mc->n_thresholds - i) * sizeof mc->threshold_label[0]);
        memmove(&mc->threshold_value[i], &mc->threshold_value[i + 1],
                (size_t)(mc->n_thresholds - i) * sizeof mc->threshold_value[0]);
        return 0;
    }
    if (i == mc->n_thresholds) {
        if (i == (int)(sizeof mc->threshold_value / sizeof mc->threshold_value[0])) return -1;
        snprintf(mc->threshold_label[i], sizeof mc->threshold_label[i], "%s", label);
        mc->n_thresholds++;
    }
    mc->threshold_value[i] = value;
    return 0;
}

int esd_config_input(esd_config *c, const char *spec, char *err, size_t errlen) {
    const char *colon = strchr(spec, ':');
    size_t kind_len = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *arg = colon ? colon + 1 : "";
    if (strlen(arg) >= sizeof c->input_arg) {
        snprintf(err, errlen, "input '%.40s...': too long", spec);
        return -1;
    }
    if (kind_len == 9 && strncmp(spec, "portaudio", 9) == 0) {
        c->input = ESD_IN_PORTAUDIO;
    } else if (kind_len == 4 && strncmp(spec, "file", 4) == 0 && *arg) {
        c->input = ESD_IN_FILE;
    } else if (kind_len == 5 && strncmp(spec, "stdin", 5) == 0) {
        char *end;
        long rate = strtol(arg, &end, 10);
        if (!*arg || *end || rate < 1000 || rate > 384000) {
            snprintf(err, errlen, "input '%s': stdin needs its sample rate, stdin:RATE with "
                     "RATE in [1000, 384000] (raw s16le mono)", spec);
            return -1;
        }
        c->input = ESD_IN_STDIN;
        c->input_rate = (int)rate;
    } else {
        snprintf(err, errlen, "input '%s': expected portaudio, portaudio:DEVICE, file:PATH or "
                 "stdin:RATE", spec);
        return -1;
    }
    snprintf(c->input_arg, sizeof c->input_arg, "%s", arg);
    return 0;
}

/* dir of path + rel, unless rel is absolute */
static void resolve(char *out, size_t size, const char *path, const char *rel) {
    const char *slash = strrchr(path, '/');
    if (rel[0] == '/' || !slash)
        snprintf(out, size, "%s", rel);
    else
        snprintf(out, size, "%.*s/%s", (int)(slash - path), path, rel);
}

static int level_of(const char *s) {
    static const char *const names[] = {"err", "warning", "notice", "info", "debug"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) return ES_LOG_ERR + i;
    return -1;
}

/* A model's optional seconds key: 0 (absent) means `off`, else [lo, 60]. */
static double seconds_or_off(confread *rd, const config_setting_t *m, const char *key, double lo,
                             const char *off) {
    double v = confread_num(rd, m, key, 0.0);
    char msg[128];
    if (rd->bad || v == 0.0 || (v >= lo && v <= 60.0)) return v;
    snprintf(msg, sizeof msg, "%s must be 0 (%s) or in [%g, 60]", key, off, lo);
    confread_fail(rd, config_setting_get_member(m, key), "%s%s", msg, "");
    return 0.0;
}

static void read_model(confread *rd, const config_setting_t *m, esd_model_config *mc,
                       const char *path) {
    static const char *const keys[] = {"name", "file", "threshold", "thresholds",
                                       "min_count", "average_seconds", "refractory_seconds",
                                       "energy_gate_db", "replay", "stride_seconds",
                                       "lookback_seconds", "lookback_quiet_db", NULL};
    const config_setting_t *th;
    const char *name, *file;
    confread_keys(rd, m, keys);
    name = confread_str(rd, m, "name", NULL);
    file = confread_str(rd, m, "file", NULL);
    if (!name || !file || !*name || strlen(name) >= sizeof mc->name) {
        if (!rd->bad)
            confread_fail(rd, m, "a model needs a name (1 to 63 bytes) and a file%s%s", "", "");
        return;
    }
    snprintf(mc->name, sizeof mc->name, "%s", name);
    resolve(mc->file, sizeof mc->file, path, file);
    if ((file = confread_str(rd, m, "replay", NULL)) && *file)
        resolve(mc->replay, sizeof mc->replay, path, file);
    mc->detect = es_detect_defaults();
    mc->detect.threshold = (float)confread_num(rd, m, "threshold", mc->detect.threshold);
    mc->detect.min_count = confread_int(rd, m, "min_count", mc->detect.min_count);
    mc->detect.average_seconds = confread_num(rd, m, "average_seconds", mc->detect.average_seconds);
    mc->detect.refractory_seconds =
        confread_num(rd, m, "refractory_seconds", mc->detect.refractory_seconds);
    mc->detect.energy_gate_db = confread_num(rd, m, "energy_gate_db", mc->detect.energy_gate_db);
    mc->stride_seconds = seconds_or_off(rd, m, "stride_seconds", 0.01, "the model's own");
    mc->lookback_seconds = seconds_or_off(rd, m, "lookback_seconds", 0.05, "whole windows");
    mc->lookback_quiet_db = confread_num(rd, m, "lookback_quiet_db", 15.0);
    if (!rd->bad && !(mc->lookback_quiet_db >= 0.0 && mc->lookback_quiet_db <= 120.0)) {
        confread_fail(rd, config_setting_get_member(m, "lookback_quiet_db"),
                      "lookback_quiet_db must be in [0, 120]%s%s", "", "");
        return;
    }
    if ((th = config_setting_get_member(m, "thresholds"))) {
        /* a list of groups, not label = value: libconfig names must start
         * with a letter, and labels such as "8" do not */
        static const char *const tkeys[] = {"label", "threshold", NULL};
        if (!config_setting_is_list(th) || config_setting_length(th) > 32) {
            confread_fail(rd, th, "'thresholds' must be a list ( { label = \"...\"; threshold = "
                          "0.8; }, ... ) of at most 32%s%s", "", "");
            return;
        }
        for (int i = 0; i < config_setting_length(th) && !rd->bad; i++) {
            const config_setting_t *t = config_setting_get_elem(th, (unsigned)i);
            const char *label = confread_str(rd, t, "label", NULL);
            double v = confread_num(rd, t, "threshold", -1.0);
            confread_keys(rd, t, tkeys);
            if (rd->bad) return;
            if (!label || !*label || strlen(label) >= ESD_NAME_MAX || !(v >= 0.0 && v <= 1.0)) {
                confread_fail(rd, t, "a threshold needs a label and a threshold in [0, 1]%s%s",
                              "", "");
                return;
            }
            esd_model_config_threshold(mc, label, (float)v);
        }
    }
    if (!rd->bad) {
        /* the model's own stride is applied at load; 0.25 s stands in here
         * when the config does not set one */
        es_detect_config d = mc->detect;
        d.stride_seconds = mc->stride_seconds > 0.0 ? mc->stride_seconds : 0.25;
        if (es_detect_config_check(&d) < 0) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s", es_errmsg());
            confread_fail(rd, m, "model '%s': %s", mc->name, msg);
        }
    }
}

int esd_config_load(esd_config *c, const char *path, char *err, size_t errlen) {
    static const char *const top[] = {"input", "socket", "history_events", "clips", "log_level",
                                      "models", "state_dir", "finetune", "realtime_priority",
                                      NULL};
    static const char *const ft_keys[] = {"allowed_dirs", "epochs", "lr", "layers", "holdout",
                                          "max_examples", "max_example_seconds", "threads",
                                          NULL};
    static const char *const input_keys[] = {"source", "rate", "pace", "loop",
                                             "history_seconds", NULL};
    static const char *const socket_keys[] = {"path", "group", "max_clients", "max_line",
                                              "client_queue", NULL};
    static const char *const clip_keys[] = {"dir", "pre_roll", "post_roll", "max_mb", NULL};
    config_t cfg;
    confread rd = {path, err, errlen, 0};
    const config_setting_t *root, *g, *models;
    const char *s;
    int rc = -1;

    config_init(&cfg);
    if (!config_read_file(&cfg, path)) {
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
            snprintf(err, errlen, "%s: cannot read the file", path);
        else
            snprintf(err, errlen, "%s:%d: %s", path, config_error_line(&cfg),
                     config_error_text(&cfg));
        goto out;
    }
    root = config_root_setting(&cfg);
    confread_keys(&rd, root, top);
    if ((g = config_setting_get_member(root, "input"))) {
        confread_keys(&rd, g, input_keys);
        c->input_rate = confread_int(&rd, g, "rate", c->input_rate);
        if ((s = confread_str(&rd, g, "source", NULL)) &&
            esd_config_input(c, s, err, errlen) < 0) {
            char msg[600];
            snprintf(msg, sizeof msg, "%s", err);
            confread_fail(&rd, config_setting_get_member(g, "source"), "%s%s", msg, "");
        }
        if ((s = confread_str(&rd, g, "pace", NULL))) {
            if (strcmp(s, "fast") == 0) c->pace_fast = 1;
            else if (strcmp(s, "realtime") == 0) c->pace_fast = 0;
            else confread_fail(&rd, config_setting_get_member(g, "pace"),
                               "input.pace must be \"realtime\" or \"fast\", not \"%s\"%s", s, "");
        }
        c->loop = confread_bool(&rd, g, "loop", c->loop);
        c->history_seconds = confread_num(&rd, g, "history_seconds", c->history_seconds);
        if (!rd.bad && (c->input_rate < 1000 || c->input_rate > 384000))
            confread_fail(&rd, g, "input.rate must be in [1000, 384000]%s%s", "", "");
        if (!rd.bad && !(c->history_seconds >= 2.0 && c->history_seconds <= 600.0))
            confread_fail(&rd, g, "input.history_seconds must be in [2, 600]%s%s", "", "");
    }
    if ((g = config_setting_get_member(root, "socket"))) {
        confread_keys(&rd, g, socket_keys);
        if ((s = confread_str(&rd, g, "path", NULL)))
            snprintf(c->socket_path, sizeof c->socket_path, "%s", s);
        if ((s = confread_str(&rd, g, "group", NULL)))
            snprintf(c->socket_group, sizeof c->socket_group, "%s", s);
        c->max_clients = confread_int(&rd, g, "max_clients", c->max_clients);
        c->max_line = confread_int(&rd, g, "max_line", c->max_line);
        c->client_queue = confread_int(&rd, g, "client_queue", c->client_queue);
        if (!rd.bad && (c->max_clients < 1 || c->max_clients > 4096 || c->max_line < 256 ||
                        c->max_line > (64 << 20) || c->client_queue < 1 ||
                        c->client_queue > 1000000))
            confread_fail(&rd, g, "socket: max_clients in [1, 4096], max_line in [256, 64 MiB], "
                          "client_queue in [1, 1000000]%s%s", "", "");
    }
    c->history_events = confread_int(&rd, root, "history_events", c->history_events);
    if (!rd.bad && (c->history_events < 1 || c->history_events > 1000000))
        confread_fail(&rd, config_setting_get_member(root, "history_events"),
                      "history_events must be in [1, 1000000]%s%s", "", "");
    c->realtime_priority = confread_int(&rd, root, "realtime_priority", c->realtime_priority);
    if (!rd.bad && (c->realtime_priority < 0 || c->realtime_priority > 99))
        confread_fail(&rd, config_setting_get_member(root, "realtime_priority"),
                      "realtime_priority must be in [0, 99] (0: normal scheduling)%s%s", "", "");
    if ((g = config_setting_get_member(root, "clips"))) {
        confread_keys(&rd, g, clip_keys);
        if ((s = confread_str(&rd, g, "dir", NULL)) && *s)
            resolve(c->clips_dir, sizeof c->clips_dir, path, s);
        c->clip_pre = confread_num(&rd, g, "pre_roll", c->clip_pre);
        c->clip_post = confread_num(&rd, g, "post_roll", c->clip_post);
        c->clips_max_mb = confread_num(&rd, g, "max_mb", c->clips_max_mb);
        if (!rd.bad && !(c->clip_pre >= 0.0 && c->clip_pre <= 10.0 && c->clip_post >= 0.0 &&
                         c->clip_post <= 10.0 && c->clips_max_mb > 0.0))
            confread_fail(&rd, g, "clips: pre_roll and post_roll in [0, 10] s, max_mb above 0%s%s",
                          "", "");
    }
    if ((s = confread_str(&rd, root, "state_dir", NULL)) && *s)
        resolve(c->state_dir, sizeof c->state_dir, path, s);
    if ((g = config_setting_get_member(root, "finetune"))) {
        const config_setting_t *dirs = config_setting_get_member(g, "allowed_dirs");
        confread_keys(&rd, g, ft_keys);
        if (dirs) {
            if (!config_setting_is_array(dirs) || config_setting_length(dirs) > 8) {
                confread_fail(&rd, dirs, "finetune.allowed_dirs must be a list [\"...\"] of at "
                              "most %s folders%s", "8", "");
            } else {
                c->n_allowed_dirs = 0;
                for (int i = 0; i < config_setting_length(dirs) && !rd.bad; i++) {
                    const char *dir = config_setting_get_string_elem(dirs, (unsigned)i);
                    if (!dir || !*dir)
                        confread_fail(&rd, dirs, "finetune.allowed_dirs holds folder names%s%s",
                                      "", "");
                    else
                        resolve(c->allowed_dirs[c->n_allowed_dirs++], ESD_PATH_MAX, path, dir);
                }
            }
        }
        c->ft_epochs = confread_int(&rd, g, "epochs", c->ft_epochs);
        c->ft_lr = confread_num(&rd, g, "lr", c->ft_lr);
        c->ft_holdout = confread_num(&rd, g, "holdout", c->ft_holdout);
        c->ft_max_examples = confread_int(&rd, g, "max_examples", c->ft_max_examples);
        c->ft_threads = confread_int(&rd, g, "threads", c->ft_threads);
        c->ft_max_example_seconds =
            confread_num(&rd, g, "max_example_seconds", c->ft_max_example_seconds);
        if ((s = confread_str(&rd, g, "layers", NULL))) {
            int l = es_layers_parse(s);
            if (l >= 0) c->ft_layers = (es_layers)l;
            else confread_fail(&rd, config_setting_get_member(g, "layers"),
                               "finetune.layers must be \"all\", \"top\" or \"head\", not \"%s\"%s",
                               s, "");
        }
        if (!rd.bad && (c->ft_epochs < 1 || c->ft_epochs > 1000 || !(c->ft_lr > 0.0 && c->ft_lr <= 1.0) ||
                        !(c->ft_holdout >= 0.0 && c->ft_holdout <= 0.5) || c->ft_max_examples < 1 ||
                        c->ft_max_examples > 100000 || !(c->ft_max_example_seconds >= 0.1 &&
                                                          c->ft_max_example_seconds <= 600.0) ||
                        c->ft_threads < 1 || c->ft_threads > 2))
            confread_fail(&rd, g, "finetune: epochs in [1, 1000], lr in (0, 1], holdout in "
                          "[0, 0.5], max_examples in [1, 100000], max_example_seconds in "
                          "[0.1, 600], threads 1 or 2%s%s", "", "");
    }
    if ((s = confread_str(&rd, root, "log_level", NULL)) && (c->log_level = level_of(s)) < 0)
        confread_fail(&rd, config_setting_get_member(root, "log_level"),
                      "log_level must be err, warning, notice, info or debug, not \"%s\"%s", s, "");
    if ((models = config_setting_get_member(root, "models"))) {
        if (!config_setting_is_list(models) || config_setting_length(models) > ESD_MAX_MODELS) {
            confread_fail(&rd, models, "models must be a list ( ... ) of at most %s groups%s", "8", "");
        } else {
            c->n_models = 0;
            for (int i = 0; i < config_setting_length(models) && !rd.bad; i++) {
                esd_model_config *mc = &c->models[c->n_models];
                read_model(&rd, config_setting_get_elem(models, (unsigned)i), mc, path);
                for (int j = 0; j < c->n_models && !rd.bad; j++)
                    if (strcmp(c->models[j].name, mc->name) == 0)
                        confread_fail(&rd, config_setting_get_elem(models, (unsigned)i),
                                      "two models are named '%s'%s", mc->name, "");
                c->n_models++;
            }
        }
    }
    if (!rd.bad) rc = 0;
out:
    config_destroy(&cfg);
    return rc;
}

/* cli/recipe.c — reading training recipes (libconfig) into a model spec and
 * a training configuration. */
#include "recipe.h"

#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/error.h"
#include "confread.h"

/* Writes a libconfig setting as JSON (groups → objects, lists and arrays →
 * arrays), so the feature description goes through the library's own
 * strict parser. */
static int to_json(const config_setting_t *s, char *buf, size_t size, size_t *len) {
    int n;
#define PUT(...)                                                       \
    do {                                                               \
        n = snprintf(buf + *len, *len < size ? size - *len : 0, __VA_ARGS__); \
        *len += (size_t)n;                                             \
    } while (0)
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP:
    case CONFIG_TYPE_LIST:
    case CONFIG_TYPE_ARRAY: {
        int group = config_setting_type(s) == CONFIG_TYPE_GROUP;
        PUT("%c", group ? '{' : '[');
        for (int i = 0; i < config_setting_length(s); i++) {
            const config_setting_t *c = config_setting_get_elem(s, (unsigned)i);
            if (i) PUT(",");
            if (group) PUT("\"%s\":", config_setting_name(c));
            to_json(c, buf, size, len);
        }
        PUT("%c", group ? '}' : ']');
        break;
    }
    case CONFIG_TYPE_INT: PUT("%d", config_setting_get_int(s)); break;
    case CONFIG_TYPE_INT64: PUT("%lld", config_setting_get_int64(s)); break;
    case CONFIG_TYPE_FLOAT: PUT("%.17g", config_setting_get_float(s)); break;
    case CONFIG_TYPE_BOOL: PUT("%s", config_setting_get_bool(s) ? "true" : "false"); break;
    case CONFIG_TYPE_STRING: PUT("\"%s\"", config_setting_get_string(s)); break;
    default: PUT("null"); break;
    }
#undef PUT
    return *len < size ? 0 : -1;
}

static int get_pair(const config_setting_t *l, const char *name, int def, int *h, int *w) {
    const config_setting_t *s = config_setting_get_member(l, name);
    *h = *w = def;
    if (!s) return 0;
    if (config_setting_is_aggregate(s) && config_setting_length(s) == 2) {
        *h = config_setting_get_int_elem(s, 0);
        *w = config_setting_get_int_elem(s, 1);
    } else {
        *h = *w = config_setting_get_int(s);
    }
    return 0;
}

/* "layers.i.bias" in quotes, or null for a layer without bias. */
static const char *bias_name(int bias, int i, char *buf) {
    if (!bias) return "null";
    snprintf(buf, 64, "\"layers.%d.bias\"", i);
    return buf;
}

/* The arch list with channel counts, flattened sizes and tensor names
 * inferred from the input shape, as JSON for es_arch_parse. */
static int arch_json(confread *rd, const config_setting_t *arch, es_shape in, int n_labels,
                     char *buf, size_t size, char *err, size_t errlen) {
    static const char *const conv_keys[] = {"type", "out", "kernel", "stride", "padding", "bias", NULL};
    static const char *const pool_keys[] = {"type", "kernel", "stride", NULL};
    static const char *const lin_keys[] = {"type", "out", "bias", NULL};
    static const char *const drop_keys[] = {"type", "p", NULL};
    static const char *const bare_keys[] = {"type", NULL};
    size_t len = 0;
    int c = in.c, h = in.h, w = in.w, flat = 0, n = config_setting_length(arch);
    len += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < n; i++) {
        const config_setting_t *l = config_setting_get_elem(arch, (unsigned)i);
        const char *type = NULL;
        int kh, kw, sh, sw, ph, pw, out, bias = 1;
        char o[600], bn[64];
        if (!config_setting_lookup_string(l, "type", &type)) {
            snprintf(err, errlen, "line %d: arch layer %d has no type", config_setting_source_line(l), i);
            return -1;
        }
        o[0] = '\0';
        confread_keys(rd, l, strcmp(type, "conv2d") == 0    ? conv_keys
                          : strcmp(type, "linear") == 0  ? lin_keys
                          : strcmp(type, "dropout") == 0 ? drop_keys
                          : strstr(type, "pool2d") && strcmp(type, "global_avgpool") != 0
                              ? pool_keys
                              : bare_keys);
        if (rd->bad) return -1;
        if (strcmp(type, "conv2d") == 0) {
            get_pair(l, "kernel", 3, &kh, &kw);
            get_pair(l, "stride", 1, &sh, &sw);
            get_pair(l, "padding", 0, &ph, &pw);
            bias = confread_bool(rd, l, "bias", 1);
            out = confread_int(rd, l, "out", 0);
            snprintf(o, sizeof o, "{\"type\":\"conv2d\",\"in\":%d,\"out\":%d,\"kernel\":[%d,%d],"
                     "\"stride\":[%d,%d],\"padding\":[%d,%d],\"weight\":\"layers.%d.weight\","
                     "\"bias\":%s}", c, out, kh, kw, sh, sw, ph, pw, i, bias_name(bias, i, bn));
            c = out;
            h = (h + 2 * ph - kh) / sh + 1;
            w = (w + 2 * pw - kw) / sw + 1;
        } else if (strcmp(type, "batchnorm2d") == 0) {
            snprintf(o, sizeof o, "{\"type\":\"batchnorm2d\",\"num_features\":%d,\"weight\":"
                     "\"layers.%d.weight\",\"bias\":\"layers.%d.bias\",\"running_mean\":"
                     "\"layers.%d.running_mean\",\"running_var\":\"layers.%d.running_var\","
                     "\"num_batches_tracked\":\"layers.%d.num_batches_tracked\"}", c, i, i, i, i, i);
        } else if (strcmp(type, "maxpool2d") == 0 || strcmp(type, "avgpool2d") == 0) {
            get_pair(l, "kernel", 2, &kh, &kw);
            get_pair(l, "stride", 0, &sh, &sw);
            if (sh == 0) sh = kh, sw = kw;
            snprintf(o, sizeof o, "{\"type\":\"%s\",\"kernel\":[%d,%d],\"stride\":[%d,%d]}", type,
                     kh, kw, sh, sw);
            h = (h - kh) / sh + 1;
            w = (w - kw) / sw + 1;
        } else if (strcmp(type, "global_avgpool") == 0) {
            snprintf(o, sizeof o, "{\"type\":\"global_avgpool\"}");
            h = w = 1;
        } else if (strcmp(type, "flatten") == 0) {
            snprintf(o, sizeof o, "{\"type\":\"flatten\"}");
            c = c * h * w;
            h = w = 1;
            flat = 1;
        } else if (strcmp(type, "relu") == 0) {
            snprintf(o, sizeof o, "{\"type\":\"relu\"}");
        } else if (strcmp(type, "dropout") == 0) {
            snprintf(o, sizeof o, "{\"type\":\"dropout\",\"p\":%.17g}", confread_num(rd, l, "p", 0.5));
        } else if (strcmp(type, "linear") == 0) {
            out = confread_int(rd, l, "out", n_labels);
            bias = confread_bool(rd, l, "bias", 1);
            if (!flat) {
                snprintf(err, errlen, "line %d: arch layer %d (linear) needs a flatten before it",
                         config_setting_source_line(l), i);
                return -1;
            }
            snprintf(o, sizeof o, "{\"type\":\"linear\",\"in\":%d,\"out\":%d,\"weight\":"
                     "\"layers.%d.weight\",\"bias\":%s}", c, out, i, bias_name(bias, i, bn));
            c = out;
        } else {
            snprintf(err, errlen, "line %d: arch layer %d: unknown type '%s'",
                     config_setting_source_line(l), i, type);
            return -1;
        }
        if (rd->bad) return -1;
        if (h < 1 || w < 1) {
            snprintf(err, errlen, "line %d: arch layer %d (%s) shrinks the input below 1x1",
                     config_setting_source_line(l), i, type);
            return -1;
        }
        len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s", i ? "," : "", o);
    }
    len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "]");
    if (len >= size) {
        snprintf(err, errlen, "arch is too long");
        return -1;
    }
    return 0;
}

static void strlist(const config_setting_t *s, char **out, int *n, int max) {
    *n = 0;
    for (int i = 0; s && i < config_setting_length(s) && *n < max; i++) {
        const char *v = config_setting_get_string_elem(s, (unsigned)i);
        if (v) out[(*n)++] = strdup(v);
    }
}

/* How training draws its clips: balance_sources, crop_to_sound,
 * background_clips, background_balance, background_weights. */
static int read_sampling(confread *rd, const config_setting_t *train, recipe *r, const char *path) {
    es_train_config *t = &r->train;
    const config_setting_t *w = config_setting_get_member(train, "background_weights");
    t->balance_sources = confread_bool(rd, train, "balance_sources", 0);
    t->crop_to_sound = confread_bool(rd, train, "crop_to_sound", 0);
    t->background_clips = confread_num(rd, train, "background_clips", 0.0);
    t->background_balance = confread_bool(rd, train, "background_balance", 0);
    if (rd->bad) return -1;
    if (!(t->background_clips >= 0.0 && t->background_clips < 1.0)) {
        snprintf(rd->err, rd->errlen, "%s:%d: train.background_clips must be in [0, 1)", path,
                 config_setting_source_line(train));
        return -1;
    }
    if (!w) return 0;
    if (!config_setting_is_group(w)) {
        snprintf(rd->err, rd->errlen, "%s:%d: train.background_weights must be a group of "
                 "kind = weight, e.g. { speech = 3.0; }", path, config_setting_source_line(w));
        return -1;
    }
    for (int i = 0; i < config_setting_length(w) && i < RECIPE_MAX_LIST; i++) {
        const config_setting_t *e = config_setting_get_elem(w, (unsigned)i);
        double v = confread_num(rd, w, config_setting_name(e), -1.0);
        if (rd->bad) return -1;
        if (!(v >= 0.0 && v <= 1000.0)) {
            snprintf(rd->err, rd->errlen, "%s:%d: train.background_weights.%s must be a weight "
                     "in [0, 1000]", path, config_setting_source_line(e), config_setting_name(e));
            return -1;
        }
        r->weight_kinds[i] = strdup(config_setting_name(e));
        r->weights[i] = v;
        t->n_background_weights = i + 1;
    }
    t->background_weight_kinds = (const char *const *)r->weight_kinds;
    t->background_weights = r->weights;
    return 0;
}

void recipe_free(recipe *r) {
    for (int i = 0; i < r->n_labels; i++) free(r->labels[i]);
    for (int i = 0; i < r->n_val_groups; i++) free(r->val_groups[i]);
    for (int i = 0; i < r->n_background_dirs; i++) free(r->background_dirs[i]);
    for (int i = 0; i < r->n_background_manifests; i++) free(r->background_manifests[i]);
    for (int i = 0; i < r->train.n_background_weights; i++) free(r->weight_kinds[i]);
    es_free(r->layers);
    memset(r, 0, sizeof *r);
}

int recipe_load(recipe *r, const char *path, char *err, size_t errlen) {
    config_t cfg;
    const config_setting_t *model, *s, *train, *aug, *data;
    const char *str;
    char json[16384];
    size_t len = 0;
    int bg = 0, rc = -1;
    es_shape in;
    confread rd = {path, err, errlen, 0};
    static const char *const top_keys[] = {"model", "data", "train", "augment", NULL};
    static const char *const model_keys[] = {"labels", "background", "features", "arch", NULL};
    static const char *const data_keys[] = {"dir", "manifest", "label_regex", "group_regex",
                                            "val_groups", "background_dirs",
                                            "background_manifests", NULL};
    static const char *const train_keys[] = {
        "epochs", "batch", "optimizer", "lr", "weight_decay", "momentum", "clip_norm",
        "lr_final", "warmup_epochs", "average_epochs", "seed", "background_fraction",
        "background_bursts", "balance", "balance_sources", "crop_to_sound", "background_clips",
        "background_balance", "background_weights", NULL};
    static const char *const aug_keys[] = {"shift", "gain_db", "speed", "noise", "time_mask",
                                           "freq_mask", "eq", "stretch", "warp", "level",
                                           "reverb", NULL};
    static const char *const speed_keys[] = {"p", "min", "max", NULL};
    static const char *const noise_keys[] = {"p", "snr_min", "snr_max", NULL};
    static const char *const tmask_keys[] = {"count", "width", "p", NULL};
    static const char *const fmask_keys[] = {"count", "width", NULL};
    static const char *const eq_keys[] = {"p", "gain_db", NULL};

    memset(r, 0, sizeof *r);
    config_init(&cfg);
    if (!config_read_file(&cfg, path)) {
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
            snprintf(err, errlen, "cannot read '%s'", path);
        else
            snprintf(err, errlen, "%s:%d: %s", path, config_error_line(&cfg),
                     config_error_text(&cfg));
        goto out;
    }
    confread_keys(&rd, config_root_setting(&cfg), top_keys);
    model = config_lookup(&cfg, "model");
    if (!rd.bad && (!model || !config_setting_is_group(model))) {
        snprintf(err, errlen, "%s: no 'model' group", path);
        goto out;
    }
    confread_keys(&rd, model, model_keys);
    bg = confread_bool(&rd, model, "background", 0);
    if (rd.bad) goto out;
    strlist(config_setting_get_member(model, "labels"), r->labels, &r->n_labels, ES_MAX_LABELS - 1);
    if (r->n_labels == 0) {
        snprintf(err, errlen, "%s:%d: model.labels must list the classes", path,
                 config_setting_source_line(model));
        goto out;
    }
    if (bg) r->labels[r->n_labels++] = strdup(ES_BACKGROUND_LABEL);
    s = config_setting_get_member(model, "features");
    if (!s || to_json(s, json, sizeof json, &len) < 0 ||
        es_feature_desc_parse(&r->features, json, "model.features") < 0) {
        snprintf(err, errlen, "%s:%d: %s", path, s ? config_setting_source_line(s) : 0,
                 s ? es_errmsg() : "model.features is missing");
        goto out;
    }
    {
        size_t n = (size_t)(r->features.clip_seconds * r->features.sample_rate + 0.5);
        if (!(r->features.clip_seconds > 0.0) || !(r->features.stride_seconds > 0.0)) {
            snprintf(err, errlen, "%s:%d: model.features needs clip_seconds and stride_seconds",
                     path, config_setting_source_line(s));
            goto out;
        }
        in = (es_shape){1,
                        r->features.kind == ES_FEAT_MELSPECTROGRAM ? r->features.n_mels
                                                                   : r->features.n_fft / 2 + 1,
                        (int)es_features_nframes(&r->features, n)};
    }
    s = config_setting_get_member(model, "arch");
    if (!s || !config_setting_is_list(s)) {
        snprintf(err, errlen, "%s: model.arch must be a list of layers", path);
        goto out;
    }
    if (arch_json(&rd, s, in, r->n_labels, json, sizeof json, err, errlen) < 0) goto out;
    if (es_arch_parse(json, path, &r->layers, &r->n_layers) < 0) {
        snprintf(err, errlen, "%s", es_errmsg());
        goto out;
    }

    data = config_lookup(&cfg, "data");
    confread_keys(&rd, data, data_keys);
    if (data) {
        if (config_setting_lookup_string(data, "dir", &str)) snprintf(r->data_dir, sizeof r->data_dir, "%s", str);
        if (config_setting_lookup_string(data, "manifest", &str)) snprintf(r->manifest, sizeof r->manifest, "%s", str);
        if (config_setting_lookup_string(data, "label_regex", &str)) snprintf(r->label_regex, sizeof r->label_regex, "%s", str);
        if (config_setting_lookup_string(data, "group_regex", &str)) snprintf(r->group_regex, sizeof r->group_regex, "%s", str);
        strlist(config_setting_get_member(data, "val_groups"), r->val_groups, &r->n_val_groups, RECIPE_MAX_LIST);
        strlist(config_setting_get_member(data, "background_dirs"), r->background_dirs,
                &r->n_background_dirs, RECIPE_MAX_LIST);
        strlist(config_setting_get_member(data, "background_manifests"), r->background_manifests,
                &r->n_background_manifests, RECIPE_MAX_LIST);
    }

    r->train = es_train_defaults();
    train = config_lookup(&cfg, "train");
    confread_keys(&rd, train, train_keys);
    if (train) {
        es_train_config *t = &r->train;
        if (config_setting_lookup_string(train, "optimizer", &str)) {
            es_opt_kind k = strcmp(str, "sgd") == 0 ? ES_OPT_SGD
                            : strcmp(str, "adam") == 0 ? ES_OPT_ADAM
                            : strcmp(str, "adamw") == 0 ? ES_OPT_ADAMW : (es_opt_kind)-1;
            if ((int)k < 0) {
                snprintf(err, errlen, "%s:%d: train.optimizer must be \"sgd\", \"adam\" or \"adamw\"",
                         path, config_setting_source_line(train));
                goto out;
            }
            t->opt = es_opt_defaults(k);
        }
        t->epochs = confread_int(&rd, train, "epochs", t->epochs);
        t->batch = confread_int(&rd, train, "batch", t->batch);
        t->opt.lr = (float)confread_num(&rd, train, "lr", t->opt.lr);
        t->opt.weight_decay = (float)confread_num(&rd, train, "weight_decay", t->opt.weight_decay);
        t->opt.momentum = (float)confread_num(&rd, train, "momentum", t->opt.momentum);
        t->clip_norm = (float)confread_num(&rd, train, "clip_norm", t->clip_norm);
        t->lr_final = confread_num(&rd, train, "lr_final", t->lr_final);
        t->warmup_epochs = confread_int(&rd, train, "warmup_epochs", t->warmup_epochs);
        t->average_epochs = confread_int(&rd, train, "average_epochs", t->average_epochs);
        t->seed = (uint64_t)confread_int(&rd, train, "seed", (int)t->seed);
        t->background_fraction = confread_num(&rd, train, "background_fraction", t->background_fraction);
        t->background_bursts = confread_num(&rd, train, "background_bursts", t->background_bursts);
        t->balance = confread_bool(&rd, train, "balance", t->balance);
        if (read_sampling(&rd, train, r, path) < 0) goto out;
        if (rd.bad) goto out;
        if (t->epochs < 1 || t->batch < 1 || !(t->opt.lr > 0.0f) || t->opt.weight_decay < 0.0f ||
            t->opt.momentum < 0.0f || t->clip_norm < 0.0f || t->warmup_epochs < 0 ||
            t->average_epochs < 0 || t->average_epochs > t->epochs ||
            !(t->lr_final >= 0.0 && t->lr_final <= 1.0) ||
            !(t->background_fraction >= 0.0 && t->background_fraction < 1.0) ||
            !(t->background_bursts >= 0.0 && t->background_bursts <= 1.0)) {
            snprintf(err, errlen, "%s:%d: train: epochs, batch and lr must be positive; "
                     "weight_decay, momentum, clip_norm, warmup_epochs at least 0; "
                     "average_epochs from 0 to epochs; lr_final in [0, 1]; "
                     "background_fraction in [0, 1); background_bursts in [0, 1]", path,
                     config_setting_source_line(train));
            goto out;
        }
    }
    aug = config_lookup(&cfg, "augment");
    confread_keys(&rd, aug, aug_keys);
    if (aug) {
        es_augment *a = &r->train.aug;
        const config_setting_t *g;
        confread_keys(&rd, config_setting_get_member(aug, "speed"), speed_keys);
        confread_keys(&rd, config_setting_get_member(aug, "noise"), noise_keys);
        confread_keys(&rd, config_setting_get_member(aug, "level"), speed_keys);
        confread_keys(&rd, config_setting_get_member(aug, "time_mask"), tmask_keys);
        confread_keys(&rd, config_setting_get_member(aug, "freq_mask"), fmask_keys);
        confread_keys(&rd, config_setting_get_member(aug, "eq"), eq_keys);
        confread_keys(&rd, config_setting_get_member(aug, "stretch"), speed_keys);
        confread_keys(&rd, config_setting_get_member(aug, "warp"), speed_keys);
        confread_keys(&rd, config_setting_get_member(aug, "reverb"), speed_keys);
        a->shift = confread_num(&rd, aug, "shift", 0.0);
        a->gain_db = confread_num(&rd, aug, "gain_db", 0.0);
        if ((g = config_setting_get_member(aug, "speed"))) {
            a->speed_p = confread_num(&rd, g, "p", 0.0);
            a->speed_min = confread_num(&rd, g, "min", 1.0);
            a->speed_max = confread_num(&rd, g, "max", 1.0);
        }
        if ((g = config_setting_get_member(aug, "level"))) {
            a->level_p = confread_num(&rd, g, "p", 0.0);
            a->level_min = confread_num(&rd, g, "min", -40.0);
            a->level_max = confread_num(&rd, g, "max", -3.0);
        }
        if ((g = config_setting_get_member(aug, "noise"))) {
            a->noise_p = confread_num(&rd, g, "p", 0.0);
            a->snr_min = confread_num(&rd, g, "snr_min", 10.0);
            a->snr_max = confread_num(&rd, g, "snr_max", 30.0);
        }
        if ((g = config_setting_get_member(aug, "stretch"))) {
            a->stretch_p = confread_num(&rd, g, "p", 0.0);
            a->stretch_min = confread_num(&rd, g, "min", 1.0);
            a->stretch_max = confread_num(&rd, g, "max", 1.0);
        }
        if ((g = config_setting_get_member(aug, "warp"))) {
            a->warp_p = confread_num(&rd, g, "p", 0.0);
            a->warp_min = confread_num(&rd, g, "min", 1.0);
            a->warp_max = confread_num(&rd, g, "max", 1.0);
        }
        if ((g = config_setting_get_member(aug, "reverb"))) {
            a->reverb_p = confread_num(&rd, g, "p", 0.0);
            a->reverb_min = confread_num(&rd, g, "min", 0.2);
            a->reverb_max = confread_num(&rd, g, "max", 0.8);
        }
        if ((g = config_setting_get_member(aug, "eq"))) {
            a->eq_p = confread_num(&rd, g, "p", 0.0);
            a->eq_db = confread_num(&rd, g, "gain_db", 10.0);
        }
        if ((g = config_setting_get_member(aug, "time_mask"))) {
            a->time_masks = confread_int(&rd, g, "count", 1);
            a->time_mask_width = confread_int(&rd, g, "width", 10);
            a->time_mask_p = confread_num(&rd, g, "p", 1.0);
        }
        if ((g = config_setting_get_member(aug, "freq_mask"))) {
            a->freq_masks = confread_int(&rd, g, "count", 1);
            a->freq_mask_width = confread_int(&rd, g, "width", 8);
        }
        if (rd.bad) goto out;
        {
            const char *why = es_augment_check(a);
            if (why) {
                snprintf(err, errlen, "%s:%d: augment: %s", path, config_setting_source_line(aug),
                         why);
                goto out;
            }
        }
        /* classify puts a short clip in the middle of where training put it,
         * unless the recipe's features say where */
        if (!config_setting_get_member(config_setting_get_member(model, "features"), "place"))
            r->features.place = a->shift / 2.0;
    }
    if (rd.bad) goto out;
    rc = 0;
out:
    config_destroy(&cfg);
    if (rc < 0) recipe_free(r);
    return rc;
}

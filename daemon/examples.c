/* daemon/examples.c — the example store (see examples.h). */
#include "examples.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "earshot/alloc.h"
#include "earshot/audio.h"
#include "earshot/error.h"
#include "earshot/file.h"
#include "earshot/model.h"
#include "earshot/resample.h"

json_t *esd_json_string_or(const char *s, const char *alt) {
    json_t *j = json_string(s);
    return j ? j : json_string(alt);
}

int examples_name_ok(const char *model) {
    if (!model || !model[0] || model[0] == '.') return 0;
    for (const char *p = model; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return 0;
    return 1;
}

static int folder(const char *state_dir, const char *model, char *dir, size_t cap, int create,
                  char *err, size_t errlen) {
    char top[ESD_PATH_MAX + 16];
    if (!state_dir[0]) {
        snprintf(err, errlen, "the daemon has no state directory (--state-dir, state_dir or "
                 "$STATE_DIRECTORY), so examples cannot be kept");
        return -1;
    }
    if (!examples_name_ok(model)) {
        snprintf(err, errlen, "model name '%.64s' cannot name a folder", model);
        return -1;
    }
    snprintf(top, sizeof top, "%s/examples", state_dir);
    if ((size_t)snprintf(dir, cap, "%s/%s", top, model) >= cap) {
        snprintf(err, errlen, "the state directory's path is too long");
        return -1;
    }
    if (create && ((mkdir(state_dir, 0750) < 0 && errno != EEXIST) ||
                   (mkdir(top, 0750) < 0 && errno != EEXIST) ||
                   (mkdir(dir, 0750) < 0 && errno != EEXIST))) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* The index, or a fresh empty one when the folder has none yet. */
static json_t *read_index(const char *dir, char *err, size_t errlen) {
    char path[ESD_PATH_MAX + 64];
    json_error_t je;
    json_t *o, *ex;
    snprintf(path, sizeof path, "%s/index.json", dir);
    if (access(path, F_OK) < 0 && errno == ENOENT)
        return json_pack("{s:I, s:[]}", "next_id", (json_int_t)1, "examples");
    o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    ex = json_object_get(o, "examples");
    if (!o || !json_is_integer(json_object_get(o, "next_id")) || !json_is_array(ex)) {
        snprintf(err, errlen, "%s is unreadable or malformed (%s); fix or remove it", path,
                 o ? "missing next_id or examples" : je.text);
        json_decref(o);
        return NULL;
    }
    return o;
}

static int write_index(const char *dir, json_t *idx, char *err, size_t errlen) {
    char path[ESD_PATH_MAX + 64], *text = json_dumps(idx, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    int rc;
    snprintf(path, sizeof path, "%s/index.json", dir);
    rc = text ? es_write_file_atomic(path, text, strlen(text)) : ES_ENOMEM;
    free(text);
    if (rc < 0) snprintf(err, errlen, "cannot write %s: %s", path, es_errmsg());
    return rc < 0 ? -1 : 0;
}

int examples_add(const char *state_dir, const char *model, const char *label, const char *source,
                 const float *x, size_t n, int rate, int max, uint64_t *id, char *err,
                 size_t errlen) {
    char dir[ESD_PATH_MAX + 80], wav[ESD_PATH_MAX + 120], when[32];
    json_t *idx, *entry;
    json_int_t next;
    time_t now = time(NULL);
    struct tm tm;
    if (folder(state_dir, model, dir, sizeof dir, 1, err, errlen) < 0) return -1;
    if (!(idx = read_index(dir, err, errlen))) return -1;
    if ((int)json_array_size(json_object_get(idx, "examples")) >= max) {
        snprintf(err, errlen, "model '%s' already has %d examples (finetune.max_examples); "
                 "remove some first", model, max);
        json_decref(idx);
        return -1;
    }
    next = json_integer_value(json_object_get(idx, "next_id"));
    snprintf(wav, sizeof wav, "%s/%lld.wav", dir, (long long)next);
    if (es_audio_write_wav(wav, x, n, rate) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", wav, es_errmsg());
        json_decref(idx);
        return -1;
    }
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    entry = json_pack("{s:I, s:s, s:o, s:f, s:i, s:s}", "id", next, "label", label, "source",
                      esd_json_string_or(source, "file"), "seconds", (double)n / rate, "rate",
                      rate, "added", when);
    if (!entry || json_array_append_new(json_object_get(idx, "examples"), entry) < 0) {
        snprintf(err, errlen, "out of memory recording the example");
        unlink(wav);
        json_decref(idx);
        return -1;
    }
    json_object_set_new(idx, "next_id", json_integer(next + 1));
    if (write_index(dir, idx, err, errlen) < 0) {
        unlink(wav);
        json_decref(idx);
        return -1;
    }
    json_decref(idx);
    *id = (uint64_t)next;
    return 0;
}

int examples_remove(const char *state_dir, const char *model, uint64_t id, char *err,
                    size_t errlen) {
    char dir[ESD_PATH_MAX + 80], wav[ESD_PATH_MAX + 120];
    json_t *idx, *ex;
    size_t i;
    if (folder(state_dir, model, dir, sizeof dir, 0, err, errlen) < 0) return -1;
    if (!(idx = read_index(dir, err, errlen))) return -1;
    ex = json_object_get(idx, "examples");
    for (i = 0; i < json_array_size(ex); i++)
        if ((uint64_t)json_integer_value(json_object_get(json_array_get(ex, i), "id")) == id) break;
    if (i == json_array_size(ex)) {
        snprintf(err, errlen, "model '%s' has no example %llu", model, (unsigned long long)id);
        json_decref(idx);
        return -1;
    }
    json_array_remove(ex, i);
    if (write_index(dir, idx, err, errlen) < 0) {
        json_decref(idx);
        return -1;
    }
    json_decref(idx);
    snprintf(wav, sizeof wav, "%s/%llu.wav", dir, (unsigned long long)id);
    unlink(wav);   /* after the index: a crash between leaves an unlisted file */
    return 0;
}

json_t *examples_list(const char *state_dir, const char *model, char *err, size_t errlen) {
    char dir[ESD_PATH_MAX + 80];
    json_t *idx, *ex;
    if (folder(state_dir, model, dir, sizeof dir, 0, err, errlen) < 0) return NULL;
    if (!(idx = read_index(dir, err, errlen))) return NULL;
    ex = json_incref(json_object_get(idx, "examples"));
    json_decref(idx);
    return ex;
}

int examples_dataset(const char *state_dir, const char *model, int rate, es_dataset **out,
                     char *err, size_t errlen) {
    char dir[ESD_PATH_MAX + 80], wav[ESD_PATH_MAX + 120], name[32];
    json_t *idx, *ex, *e;
    es_dataset *ds = NULL;
    size_t i;
    *out = NULL;
    if (folder(state_dir, model, dir, sizeof dir, 0, err, errlen) < 0) return -1;
    if (!(idx = read_index(dir, err, errlen))) return -1;
    ex = json_object_get(idx, "examples");
    if (json_array_size(ex) == 0) {
        json_decref(idx);
        return 0;
    }
    if (es_dataset_new(&ds) < 0) goto fail_lib;
    json_array_foreach(ex, i, e) {
        json_int_t id = json_integer_value(json_object_get(e, "id"));
        const char *label = json_string_value(json_object_get(e, "label"));
        es_audio a;
        float *y = NULL;
        size_t ny;
        int rc;
        snprintf(wav, sizeof wav, "%s/%lld.wav", dir, (long long)id);
        snprintf(name, sizeof name, "example:%012lld", (long long)id);
        if (!label) {
            snprintf(err, errlen, "%s/index.json: example %lld has no label", dir, (long long)id);
            goto fail;
        }
        if (es_audio_read(wav, &a) < 0) goto fail_lib;
        if (a.rate != rate) {
            rc = es_resample(a.samples, a.n, a.rate, rate, &y, &ny);
            if (rc == 0) rc = es_dataset_add(ds, name, label, "example", y, ny);
            es_free(y);
        } else {
            rc = es_dataset_add(ds, name, label, "example", a.samples, a.n);
        }
        es_audio_free(&a);
        if (rc < 0) goto fail_lib;
    }
    if (es_dataset_finish(ds) < 0) goto fail_lib;
    json_decref(idx);
    *out = ds;
    return 0;
fail_lib:
    snprintf(err, errlen, "%s", es_errmsg());
fail:
    es_dataset_free(ds);
    json_decref(idx);
    return -1;
}

/* Removes dir/NAME.tmp.XXXXXX files (atomic writes a kill interrupted). */
static void sweep_dir(const char *dir) {
    DIR *dp = opendir(dir);
    struct dirent *e;
    char path[ESD_PATH_MAX + 300];
    if (!dp) return;
    while ((e = readdir(dp))) {
        if (!strstr(e->d_name, ".tmp.")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(dp);
}

void examples_sweep(const char *state_dir) {
    char dir[ESD_PATH_MAX + 300];
    DIR *dp;
    struct dirent *e;
    if (!state_dir[0]) return;
    snprintf(dir, sizeof dir, "%s/models", state_dir);
    sweep_dir(dir);
    snprintf(dir, sizeof dir, "%s/examples", state_dir);
    if (!(dp = opendir(dir))) return;
    while ((e = readdir(dp))) {
        char sub[ESD_PATH_MAX + 600];
        if (e->d_name[0] == '.') continue;
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        sweep_dir(sub);
    }
    closedir(dp);
}

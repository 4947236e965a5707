/* core/dataset.c — labelled clips from a folder (regex on file names) or a CSV manifest. */
#include "earshot/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/audio.h"
#include "earshot/resample.h"
#include "fileio.h"
#include "internal.h"

/* A manifest line or a file name longer than this is refused, not cut. */
#define NAME_MAX_LEN 4096

typedef struct {
    char *path, *label, *group;
    float *x;
    size_t n;
} entry;

struct es_dataset {
    entry *e;
    size_t n, cap;
    es_clip *clips;         /* [n], built by finalize */
    char **labels, **groups;
    int n_labels, n_groups;
    size_t skipped;
};

void es_dataset_free(es_dataset *ds) {
    if (!ds) return;
    for (size_t i = 0; i < ds->n; i++) {
        es__free(ds->e[i].path);
        es__free(ds->e[i].label);
        es__free(ds->e[i].group);
        es__free(ds->e[i].x);
    }
    es__free(ds->e);
    es__free(ds->clips);
    es__free(ds->labels);
    es__free(ds->groups);
    es__free(ds);
}

size_t es_dataset_size(const es_dataset *ds) { return ds->n; }
const es_clip *es_dataset_clip(const es_dataset *ds, size_t i) {
    return i < ds->n ? &ds->clips[i] : NULL;
}
int es_dataset_num_labels(const es_dataset *ds) { return ds->n_labels; }
const char *es_dataset_label(const es_dataset *ds, int i) {
    return (i >= 0 && i < ds->n_labels) ? ds->labels[i] : NULL;
}
int es_dataset_num_groups(const es_dataset *ds) { return ds->n_groups; }
const char *es_dataset_group(const es_dataset *ds, int i) {
    return (i >= 0 && i < ds->n_groups) ? ds->groups[i] : NULL;
}
size_t es_dataset_skipped(const es_dataset *ds) { return ds->skipped; }

static int compile(regex_t *re, const char *pattern, const char *what) {
    int rc = regcomp(re, pattern, REG_EXTENDED);
    if (rc != 0) {
        char msg[200];
        regerror(rc, re, msg, sizeof msg);
        return es__fail(ES_EINVAL, "%s '%s' is not a valid regular expression: %s", what,
                        pattern, msg);
    }
    if (re->re_nsub < 1) {
        regfree(re);
        return es__fail(ES_EINVAL, "%s '%s' needs a capture group, e.g. '^([0-9])_'", what,
                        pattern);
    }
    return 0;
}

/* The first capture group of re on s, or NULL when it does not match. */
static char *capture(const regex_t *re, const char *s) {
    regmatch_t m[2];
    char *out;
    if (regexec(re, s, 2, m, 0) != 0 || m[1].rm_so < 0) return NULL;
    out = es__malloc((size_t)(m[1].rm_eo - m[1].rm_so) + 1);
    if (!out) return NULL;
    memcpy(out, s + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
    out[m[1].rm_eo - m[1].rm_so] = '\0';
    return out;
}

static int add(es_dataset *ds, const char *path, char *label, const regex_t *group_re,
               const char *name) {
    entry *e;
    if (ds->n == ds->cap) {
        size_t cap = ds->cap ? ds->cap * 2 : 256;
        entry *ne = es__realloc(ds->e, cap * sizeof *ne);
        if (!ne) goto oom;
        ds->e = ne;
        ds->cap = cap;
    }
    e = &ds->e[ds->n];
    memset(e, 0, sizeof *e);
    e->label = label;
    e->path = es__strdup(path);
    if (!e->path) goto oom;
    if (group_re) {
        e->group = capture(group_re, name);
        if (!e->group) {
            es__free(e->path);
            return es__fail(ES_EINVAL, "'%s': the group regex does not match it", path);
        }
    } else {
        e->group = es__strdup("all");
        if (!e->group) {
            es__free(e->path);
            goto oom;
        }
    }
    ds->n++;
    return 0;
oom:
    es__free(label);
    return es__fail(ES_ENOMEM, "out of memory listing clips");
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const entry *)a)->path, ((const entry *)b)->path);
}

/* Sorted unique names of one field, and each entry's index into them. */
static int number(es_dataset *ds, int field, char ***names, int *n_names) {
    char **all = es__malloc_array(ds->n ? ds->n : 1, sizeof *all);
    int k = 0;
    if (!all) return es__fail(ES_ENOMEM, "out of memory listing clips");
    for (size_t i = 0; i < ds->n; i++) all[i] = field ? ds->e[i].group : ds->e[i].label;
    qsort(all, ds->n, sizeof *all, cmp_str);
    for (size_t i = 0; i < ds->n; i++)
        if (k == 0 || strcmp(all[k - 1], all[i]) != 0) all[k++] = all[i];
    *names = all;
    *n_names = k;
    return 0;
}

static int finalize(es_dataset *ds, const char *origin) {
    int rc;
    if (ds->n == 0)
        return es__fail(ES_EEMPTY, "%s: no clips match (%zu files skipped)", origin, ds->skipped);
    qsort(ds->e, ds->n, sizeof *ds->e, cmp_entry);
    if ((rc = number(ds, 0, &ds->labels, &ds->n_labels)) < 0) return rc;
    if ((rc = number(ds, 1, &ds->groups, &ds->n_groups)) < 0) return rc;
    ds->clips = es__calloc(ds->n, sizeof *ds->clips);
    if (!ds->clips) return es__fail(ES_ENOMEM, "out of memory listing clips");
    for (size_t i = 0; i < ds->n; i++) {
        es_clip *c = &ds->clips[i];
        c->path = ds->e[i].path;
        for (int k = 0; k < ds->n_labels; k++)
            if (strcmp(ds->labels[k], ds->e[i].label) == 0) c->label = k;
        for (int k = 0; k < ds->n_groups; k++)
            if (strcmp(ds->groups[k], ds->e[i].group) == 0) c->group = k;
    }
    return 0;
}

int es_dataset_new(es_dataset **out) {
    if (!out) return es__fail(ES_EINVAL, "es_dataset_new: NULL argument");
    *out = es__calloc(1, sizeof **out);
    return *out ? 0 : es__fail(ES_ENOMEM, "out of memory creating a dataset");
}

int es_dataset_add(es_dataset *ds, const char *name, const char *label, const char *group,
                   const float *x, size_t n) {
    char *lab;
    entry *e;
    int rc;
    if (!ds || !name || !label || !label[0] || !group || (n && !x))
        return es__fail(ES_EINVAL, "es_dataset_add: bad arguments");
    if (ds->clips) return es__fail(ES_ESTATE, "es_dataset_add: the dataset is finished");
    if (!(lab = es__strdup(label))) return es__fail(ES_ENOMEM, "out of memory adding a clip");
    if ((rc = add(ds, name, lab, NULL, name)) < 0) return rc;
    e = &ds->e[ds->n - 1];
    es__free(e->group);
    e->group = es__strdup(group);
    e->x = es__malloc_array(n ? n : 1, sizeof *e->x);
    if (!e->group || !e->x) return es__fail(ES_ENOMEM, "out of memory adding a clip");
    if (n) memcpy(e->x, x, n * sizeof *x);
    e->n = n;
    return 0;
}

int es_dataset_finish(es_dataset *ds) {
    int rc;
    if (!ds) return es__fail(ES_EINVAL, "es_dataset_finish: NULL argument");
    if (ds->clips) return 0;
    if ((rc = finalize(ds, "the examples")) < 0) return rc;
    for (size_t i = 0; i < ds->n; i++) {
        ds->clips[i].x = ds->e[i].x;
        ds->clips[i].n = ds->e[i].n;
    }
    return 0;
}

static int is_audio_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (strcmp(dot, ".wav") == 0 || strcmp(dot, ".flac") == 0 ||
                   strcmp(dot, ".ogg") == 0 || strcmp(dot, ".WAV") == 0);
}

int es_dataset_scan(es_dataset **out, const char *dir, const char *label_regex,
                    const char *group_regex) {
    regex_t lre, gre;
    es_dataset *ds;
    DIR *d;
    struct dirent *de;
    int rc = 0, have_group = group_regex != NULL;
    *out = NULL;
    if ((rc = compile(&lre, label_regex, "label regex")) < 0) return rc;
    if (have_group && (rc = compile(&gre, group_regex, "group regex")) < 0) {
        regfree(&lre);
        return rc;
    }
    ds = es__calloc(1, sizeof *ds);
    d = opendir(dir);
    if (!ds || !d) {
        rc = !ds ? es__fail(ES_ENOMEM, "out of memory listing clips")
                 : es__fail(errno == ENOENT ? ES_ENOENT : ES_EIO, "cannot open folder '%s': %s",
                            dir, strerror(errno));
        goto out;
    }
    while ((de = readdir(d)) != NULL) {
        char path[NAME_MAX_LEN], *label;
        if (de->d_name[0] == '.' || !is_audio_name(de->d_name)) continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= sizeof path) continue;
        label = capture(&lre, de->d_name);
        if (!label) {
            ds->skipped++;
            continue;
        }
        if ((rc = add(ds, path, label, have_group ? &gre : NULL, de->d_name)) < 0) goto out;
    }
    rc = finalize(ds, dir);
out:
    if (d) closedir(d);
    regfree(&lre);
    if (have_group) regfree(&gre);
    if (rc < 0) {
        es_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return 0;
}

int es_dataset_from_csv(es_dataset **out, const char *csv, const char *group_regex) {
    regex_t gre;
    es_dataset *ds;
    char *text = NULL, *line, *save = NULL, dir[NAME_MAX_LEN];
    size_t len;
    int rc, have_group = group_regex != NULL, lineno = 0;
    const char *slash = strrchr(csv, '/');
    *out = NULL;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - csv) : 1, slash ? csv : ".");
    if ((rc = es__read_file(csv, (size_t)64 << 20, &text, &len)) < 0) return rc;
    if (have_group && (rc = compile(&gre, group_regex, "group regex")) < 0) {
        es__free(text);
        return rc;
    }
    ds = es__calloc(1, sizeof *ds);
    if (!ds) {
        rc = es__fail(ES_ENOMEM, "out of memory reading '%s'", csv);
        goto out;
    }
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *comma, *label, path[NAME_MAX_LEN];
        const char *name;
        size_t l = strlen(line);
        lineno++;
        if (l && line[l - 1] == '\r') line[--l] = '\0';
        if (l == 0 || (lineno == 1 && strcmp(line, "path,label") == 0)) continue;
        comma = strrchr(line, ',');
        if (!comma || comma == line || !comma[1]) {
            rc = es__fail(ES_EFORMAT, "%s:%d: expected 'path,label'", csv, lineno);
            goto out;
        }
        *comma = '\0';
        if ((size_t)(line[0] == '/' ? snprintf(path, sizeof path, "%s", line)
                                    : snprintf(path, sizeof path, "%s/%s", dir, line)) >= sizeof path) {
            rc = es__fail(ES_EINVAL, "%s:%d: path is too long", csv, lineno);
            goto out;
        }
        label = es__strdup(comma + 1);
        if (!label) {
            rc = es__fail(ES_ENOMEM, "out of memory reading '%s'", csv);
            goto out;
        }
        name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        if ((rc = add(ds, path, label, have_group ? &gre : NULL, name)) < 0) goto out;
    }
    rc = finalize(ds, csv);
out:
    es__free(text);
    if (have_group) regfree(&gre);
    if (rc < 0) {
        es_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return 0;
}

int es_dataset_load(es_dataset *ds, int rate) {
    for (size_t i = 0; i < ds->n; i++) {
        entry *e = &ds->e[i];
        es_audio a;
        int rc;
        if (e->x) continue;
        if ((rc = es_audio_read(e->path, &a)) < 0) return rc;
        if (a.rate != rate) {
            float *y;
            size_t ny;
            rc = es_resample(a.samples, a.n, a.rate, rate, &y, &ny);
            es_audio_free(&a);
            if (rc < 0) return rc;
            e->x = y;
            e->n = ny;
        } else {
            e->x = a.samples;
            e->n = a.n;
        }
        ds->clips[i].x = e->x;
        ds->clips[i].n = e->n;
    }
    return 0;
}

/* core/dataset.c — labelled clips from a folder (regex on file names) or a CSV manifest. */
#include "earshot/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "earshot/audio.h"
#include "earshot/resample.h"
#include "fileio.h"
#include "internal.h"

/* A manifest line or a file name longer than this is refused, not cut. */
#define NAME_MAX_LEN 4096

typedef struct {
    char *path, *label, *group, *source;
    double start, end;      /* the span of the file the clip is (end 0: to its end) */
    float *x;
    size_t n;
} entry;

struct es_dataset {
    entry *e;
    size_t n, cap;
    es_clip *clips;         /* [n], built by finalize */
    char **labels, **groups, **sources;
    int n_labels, n_groups, n_sources;
    size_t skipped;
};

void es_dataset_free(es_dataset *ds) {
    if (!ds) return;
    for (size_t i = 0; i < ds->n; i++) {
        es__free(ds->e[i].path);
        es__free(ds->e[i].label);
        es__free(ds->e[i].group);
        es__free(ds->e[i].source);
        es__free(ds->e[i].x);
    }
    es__free(ds->e);
    es__free(ds->clips);
    es__free(ds->labels);
    es__free(ds->groups);
    es__free(ds->sources);
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
int es_dataset_num_sources(const es_dataset *ds) { return ds->n_sources; }
const char *es_dataset_source(const es_dataset *ds, int i) {
    return (i >= 0 && i < ds->n_sources) ? ds->sources[i] : NULL;
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
    e->source = es__strdup("");
    if (!e->path || !e->source) {
        es__free(e->path);
        es__free(e->source);
        goto oom;
    }
    if (group_re) {
        e->group = capture(group_re, name);
        if (!e->group) {
            es__free(e->path);
            es__free(e->source);
            return es__fail(ES_EINVAL, "'%s': the group regex does not match it", path);
        }
    } else {
        e->group = es__strdup("all");
        if (!e->group) {
            es__free(e->path);
            es__free(e->source);
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
    for (size_t i = 0; i < ds->n; i++)
        all[i] = field == 2 ? ds->e[i].source : field ? ds->e[i].group : ds->e[i].label;
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
    if ((rc = number(ds, 2, &ds->sources, &ds->n_sources)) < 0) return rc;
    ds->clips = es__calloc(ds->n, sizeof *ds->clips);
    if (!ds->clips) return es__fail(ES_ENOMEM, "out of memory listing clips");
    for (size_t i = 0; i < ds->n; i++) {
        es_clip *c = &ds->clips[i];
        c->path = ds->e[i].path;
        for (int k = 0; k < ds->n_labels; k++)
            if (strcmp(ds->labels[k], ds->e[i].label) == 0) c->label = k;
        for (int k = 0; k < ds->n_groups; k++)
            if (strcmp(ds->groups[k], ds->e[i].group) == 0) c->group = k;
        for (int k = 0; k < ds->n_sources; k++)
            if (strcmp(ds->sources[k], ds->e[i].source) == 0) c->source = k;
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

/* Manifest columns, by name in the header line. */
enum { COL_PATH, COL_LABEL, COL_GROUP, COL_SOURCE, COL_START, COL_END, N_COLS };
static const char *const col_names[N_COLS] = {"path", "label", "group", "source", "start", "end"};

/* The header's columns: col[c] is the field index of column c (-1: absent).
 * A header is a first line whose first field is "path". */
static int read_header(char *line, int *col, const char *csv) {
    char *f[16];
    int n = es__csv_split(line, f, 16);
    for (int c = 0; c < N_COLS; c++) col[c] = -1;
    if (n < 0) return es__fail(ES_EFORMAT, "%s:1: cannot read the header", csv);
    for (int i = 0; i < n; i++) {
        int c = 0;
        while (c < N_COLS && strcmp(f[i], col_names[c]) != 0) c++;
        if (c == N_COLS)
            return es__fail(ES_EFORMAT, "%s:1: unknown column '%.64s' (known: path, label, "
                            "group, source, start, end)", csv, f[i]);
        if (col[c] >= 0) return es__fail(ES_EFORMAT, "%s:1: column '%s' twice", csv, f[i]);
        col[c] = i;
    }
    if (col[COL_PATH] != 0 || col[COL_LABEL] < 0)
        return es__fail(ES_EFORMAT, "%s:1: the header must start with path and name a label "
                        "column", csv);
    return n;
}

/* A number of seconds in a manifest field (empty: def). */
static int seconds(const char *s, double def, double *out, const char *csv, int lineno,
                   const char *what) {
    char *end;
    if (!*s) {
        *out = def;
        return 0;
    }
    *out = strtod(s, &end);
    if (*end || !(*out >= 0.0 && *out < 1e7))
        return es__fail(ES_EFORMAT, "%s:%d: %s '%.32s' is not a number of seconds", csv, lineno,
                        what, s);
    return 0;
}

/* One line with the header's columns: the clip, its label, group, source
 * and span. */
static int add_row(es_dataset *ds, char *line, const int *col, int n_cols, const char *dir,
                   const regex_t *gre, const char *csv, int lineno) {
    char *f[16], path[NAME_MAX_LEN], *label;
    const char *name;
    entry *e;
    int rc;
    if (es__csv_split(line, f, 16) != n_cols)
        return es__fail(ES_EFORMAT, "%s:%d: expected %d fields, as the header has", csv, lineno,
                        n_cols);
    if (!f[0][0] || !f[col[COL_LABEL]][0])
        return es__fail(ES_EFORMAT, "%s:%d: a clip needs a path and a label", csv, lineno);
    if ((size_t)(f[0][0] == '/' ? snprintf(path, sizeof path, "%s", f[0])
                                : snprintf(path, sizeof path, "%s/%s", dir, f[0])) >= sizeof path)
        return es__fail(ES_EINVAL, "%s:%d: path is too long", csv, lineno);
    if (!(label = es__strdup(f[col[COL_LABEL]])))
        return es__fail(ES_ENOMEM, "out of memory reading '%s'", csv);
    name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    /* a group column wins over the group regex */
    if ((rc = add(ds, path, label, col[COL_GROUP] < 0 ? gre : NULL, name)) < 0) return rc;
    e = &ds->e[ds->n - 1];
    if (col[COL_GROUP] >= 0 && f[col[COL_GROUP]][0]) {
        es__free(e->group);
        if (!(e->group = es__strdup(f[col[COL_GROUP]])))
            return es__fail(ES_ENOMEM, "out of memory reading '%s'", csv);
    }
    if (col[COL_SOURCE] >= 0) {
        es__free(e->source);
        if (!(e->source = es__strdup(f[col[COL_SOURCE]])))
            return es__fail(ES_ENOMEM, "out of memory reading '%s'", csv);
    }
    if ((rc = seconds(col[COL_START] >= 0 ? f[col[COL_START]] : "", 0.0, &e->start, csv, lineno,
                      "start")) < 0 ||
        (rc = seconds(col[COL_END] >= 0 ? f[col[COL_END]] : "", 0.0, &e->end, csv, lineno,
                      "end")) < 0)
        return rc;
    if (e->end > 0.0 && e->end <= e->start)
        return es__fail(ES_EFORMAT, "%s:%d: end %.3f is not after start %.3f", csv, lineno,
                        e->end, e->start);
    return 0;
}

/* A line of the two-column form: the label after the last comma. */
static int add_pair(es_dataset *ds, char *line, const char *dir, const regex_t *gre,
                    const char *csv, int lineno) {
    char *comma = strrchr(line, ','), *label, path[NAME_MAX_LEN];
    const char *name;
    if (!comma || comma == line || !comma[1])
        return es__fail(ES_EFORMAT, "%s:%d: expected 'path,label'", csv, lineno);
    *comma = '\0';
    if ((size_t)(line[0] == '/' ? snprintf(path, sizeof path, "%s", line)
                                : snprintf(path, sizeof path, "%s/%s", dir, line)) >= sizeof path)
        return es__fail(ES_EINVAL, "%s:%d: path is too long", csv, lineno);
    if (!(label = es__strdup(comma + 1)))
        return es__fail(ES_ENOMEM, "out of memory reading '%s'", csv);
    name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    return add(ds, path, label, gre, name);
}

int es_dataset_from_csv(es_dataset **out, const char *csv, const char *group_regex) {
    regex_t gre;
    es_dataset *ds;
    char *text = NULL, *line, *save = NULL, dir[NAME_MAX_LEN];
    size_t len;
    int rc, have_group = group_regex != NULL, lineno = 0, col[N_COLS], n_cols = 0;
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
        size_t l = strlen(line);
        lineno++;
        if (l && line[l - 1] == '\r') line[--l] = '\0';
        if (l == 0) continue;
        if (lineno == 1 && strncmp(line, "path,", 5) == 0) {
            if ((rc = n_cols = read_header(line, col, csv)) < 0) goto out;
            if (n_cols == 2) n_cols = 0; /* path,label: paths may hold commas */
            continue;
        }
        rc = n_cols ? add_row(ds, line, col, n_cols, dir, have_group ? &gre : NULL, csv, lineno)
                    : add_pair(ds, line, dir, have_group ? &gre : NULL, csv, lineno);
        if (rc < 0) goto out;
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

/* The clip's span of the file, in place. */
static int cut_span(const entry *e, es_audio *a) {
    size_t i0 = (size_t)(e->start * a->rate + 0.5), i1;
    if (e->start == 0.0 && e->end == 0.0) return 0;
    i1 = e->end > 0.0 ? (size_t)(e->end * a->rate + 0.5) : a->n;
    if (i1 > a->n) i1 = a->n;
    if (i0 >= i1)
        return es__fail(ES_ERANGE, "'%s' is %.3f s long: no audio in %.3f-%.3f s", e->path,
                        (double)a->n / a->rate, e->start, e->end);
    memmove(a->samples, a->samples + i0, (i1 - i0) * sizeof *a->samples);
    a->n = i1 - i0;
    return 0;
}

/* Entry e's audio: its span, at rate, into *x (es__free it). */
static int read_entry(const entry *e, int rate, float **x, size_t *n) {
    es_audio a;
    int rc;
    if ((rc = es_audio_read(e->path, &a)) < 0) return rc;
    if ((rc = cut_span(e, &a)) < 0) {
        es_audio_free(&a);
        return rc;
    }
    if (a.rate == rate) {
        *x = a.samples;
        *n = a.n;
        return 0;
    }
    rc = es_resample(a.samples, a.n, a.rate, rate, x, n);
    es_audio_free(&a);
    return rc;
}

int es_dataset_read_clip(const es_dataset *ds, size_t i, int rate, float **x, size_t *n) {
    if (!ds || i >= ds->n || !x || !n) return es__fail(ES_EINVAL, "es_dataset_read_clip: bad arguments");
    return read_entry(&ds->e[i], rate, x, n);
}

int es_dataset_load(es_dataset *ds, int rate) {
    for (size_t i = 0; i < ds->n; i++) {
        entry *e = &ds->e[i];
        int rc;
        if (e->x) continue;
        if ((rc = read_entry(e, rate, &e->x, &e->n)) < 0) return rc;
        ds->clips[i].x = e->x;
        ds->clips[i].n = e->n;
    }
    return 0;
}

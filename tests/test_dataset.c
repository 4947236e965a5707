/* tests/test_dataset.c — manifests: the two-column form, named columns,
 * quoting, spans of files, and the errors that name the line at fault. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "csv.h"
#include "earshot/audio.h"
#include "earshot/dataset.h"

static char dir[] = "/tmp/es_test_dataset_XXXXXX";

static void write_text(const char *name, const char *text) {
    char path[256];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

/* A 1 s ramp at 1 kHz, so a span's first sample tells where it starts. */
static void write_ramp(const char *name) {
    float x[1000];
    char path[256];
    for (int i = 0; i < 1000; i++) x[i] = (float)i / 2048.0f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (es_audio_write_wav(path, x, 1000, 1000) < 0) {
        fprintf(stderr, "%s\n", es_errmsg());
        exit(1);
    }
}

static es_dataset *load(const char *manifest, int expect_rc) {
    char path[256];
    es_dataset *ds = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, manifest);
    CHECK_RC(es_dataset_from_csv(&ds, path, NULL), expect_rc);
    return ds;
}

static void csv_split(void) {
    char a[] = "x.wav,\"a, b\",\"say \"\"hi\"\"\",,end";
    char b[] = "\"open";
    char c[] = "\"x\"y,z";
    char d[] = "a,b,c";
    char *f[8];
    CHECK_EQ_INT(es__csv_split(a, f, 8), 5);
    CHECK(strcmp(f[0], "x.wav") == 0 && strcmp(f[1], "a, b") == 0 &&
          strcmp(f[2], "say \"hi\"") == 0 && strcmp(f[3], "") == 0 && strcmp(f[4], "end") == 0);
    CHECK_EQ_INT(es__csv_split(b, f, 8), -1);  /* a quote never closed */
    CHECK_EQ_INT(es__csv_split(c, f, 8), -1);  /* text after a closing quote */
    CHECK_EQ_INT(es__csv_split(d, f, 2), -1);  /* more fields than room */
}

static void named_columns(void) {
    es_dataset *ds;
    write_text("named.csv", "path,label,group,source,start,end\n"
                            "ramp.wav,cat,tom,\"kaggle, train\",0.25,0.5\n"
                            "ramp.wav,dog,rex,us8k,,\n"
                            "ramp.wav,cat,felix,catmeows,0.9,\n");
    ds = load("named.csv", 0);
    if (!ds) return;
    CHECK_EQ_INT(es_dataset_size(ds), 3);
    CHECK_EQ_INT(es_dataset_num_sources(ds), 3);
    CHECK_EQ_INT(es_dataset_num_groups(ds), 3);
    CHECK_RC(es_dataset_load(ds, 1000), 0);
    for (size_t i = 0; i < es_dataset_size(ds); i++) {
        const es_clip *c = es_dataset_clip(ds, i);
        const char *src = es_dataset_source(ds, c->source);
        const char *grp = es_dataset_group(ds, c->group);
        if (strcmp(src, "kaggle, train") == 0) {
            CHECK(strcmp(grp, "tom") == 0);
            CHECK_EQ_INT(c->n, 250); /* 0.25-0.5 s */
            CHECK_NEAR(c->x[0], 250.0 / 2048.0, 1e-6);
        } else if (strcmp(src, "us8k") == 0) {
            CHECK_EQ_INT(c->n, 1000); /* the whole file */
        } else {
            CHECK(strcmp(src, "catmeows") == 0);
            CHECK_EQ_INT(c->n, 100); /* 0.9 s to the end */
            CHECK_NEAR(c->x[0], 900.0 / 2048.0, 1e-6);
        }
    }
    es_dataset_free(ds);
}

static void two_columns(void) {
    es_dataset *ds;
    write_text("pairs.csv", "path,label\nramp.wav,3\nramp.wav,4\n");
    ds = load("pairs.csv", 0);
    if (ds) {
        CHECK_EQ_INT(es_dataset_num_labels(ds), 2);
        CHECK_EQ_INT(es_dataset_num_sources(ds), 1);
        CHECK(strcmp(es_dataset_source(ds, 0), "") == 0);
        CHECK(strcmp(es_dataset_group(ds, 0), "all") == 0);
        es_dataset_free(ds);
    }
    write_text("bare.csv", "ramp.wav,5\n");
    ds = load("bare.csv", 0);
    es_dataset_free(ds);
}

static void bad_manifests(void) {
    static const struct {
        const char *text, *says;
    } bad[] = {
        {"path,label,colour\nramp.wav,3,red\n", "unknown column 'colour'"},
        {"path,group\nramp.wav,g\n", "name a label column"},
        {"path,label,label\nramp.wav,3,4\n", "column 'label' twice"},
        {"path,label,group\nramp.wav,3\n", "bad.csv:2: expected 3 fields"},
        {"path,label,start\nramp.wav,3,soon\n", "bad.csv:2: start 'soon' is not a number"},
        {"path,label,start,end\nramp.wav,3,0.5,0.2\n", "bad.csv:2: end 0.200 is not after"},
        {"path,label,group\nramp.wav,,g\n", "bad.csv:2: a clip needs a path and a label"},
        {"just-a-path.wav\n", "bad.csv:1: expected 'path,label'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        es_dataset *ds;
        write_text("bad.csv", bad[i].text);
        ds = load("bad.csv", ES_EFORMAT);
        if (!strstr(es_errmsg(), bad[i].says)) {
            fprintf(stderr, "manifest %zu: expected '%s' in: %s\n", i, bad[i].says, es_errmsg());
            check_failures++;
        }
        es_dataset_free(ds);
    }
}

/* A span past the file's end is named when the audio is read. */
static void span_past_end(void) {
    es_dataset *ds;
    write_text("late.csv", "path,label,start\nramp.wav,3,2.5\n");
    ds = load("late.csv", 0);
    if (!ds) return;
    CHECK_RC(es_dataset_load(ds, 1000), ES_ERANGE);
    CHECK(strstr(es_errmsg(), "no audio in 2.500") != NULL);
    es_dataset_free(ds);
}

int main(void) {
    char cmd[300];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    write_ramp("ramp.wav");
    csv_split();
    named_columns();
    two_columns();
    bad_manifests();
    span_past_end();
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    CHECK_DONE();
}

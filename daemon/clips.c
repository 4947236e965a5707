/* daemon/clips.c — saving each detection's audio (pre-roll to post-roll)
 * from the ring's history, under a disk cap. */
#define _DEFAULT_SOURCE /* d_type */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "earshot/audio.h"
#include "earshot/error.h"
#include "log.h"

#define CLIPS_PENDING 64

typedef struct {
    uint64_t start, end;         /* ring positions */
    char name[ESD_NAME_MAX * 2 + 64];
} pending_clip;

static pending_clip pending[CLIPS_PENDING];
static int n_pending;

void clips_request(esd *d, uint64_t id, const char *model, const char *label, double onset,
                   double offset) {
    double rate = capture_rate(d->cap);
    double a = (onset - d->cfg.clip_pre) * rate, b = (offset + d->cfg.clip_post) * rate;
    pending_clip *p;
    if (!d->cfg.clips_dir[0]) return;
    if (n_pending == CLIPS_PENDING) {
        esd_log(ES_LOG_WARNING, "clips: %d clips waiting for their post-roll; detection %llu "
                "gets none", CLIPS_PENDING, (unsigned long long)id);
        return;
    }
    p = &pending[n_pending++];
    p->start = a > 0.0 ? (uint64_t)a : 0;
    p->end = (uint64_t)b;
    snprintf(p->name, sizeof p->name, "%06llu-%s-%s.wav", (unsigned long long)id, model, label);
    /* a label may hold any character: keep the file name tame */
    for (char *c = p->name; *c; c++)
        if (*c == '/' || *c == ' ') *c = '_';
}

typedef struct {
    char path[ESD_PATH_MAX + 256];
    off_t size;
    time_t mtime;
} clip_file;

static int older(const void *a, const void *b) {
    const clip_file *x = a, *y = b;
    return x->mtime < y->mtime ? -1 : x->mtime > y->mtime ? 1 : strcmp(x->path, y->path);
}

/* Deletes the oldest clips until the folder holds at most max_mb. */
static void enforce_cap(const esd *d) {
    DIR *dir = opendir(d->cfg.clips_dir);
    clip_file *files = NULL;
    size_t n = 0, cap = 0;
    double total = 0.0, limit = d->cfg.clips_max_mb * 1048576.0;
    struct dirent *e;
    if (!dir) return;
    while ((e = readdir(dir))) {
        size_t len = strlen(e->d_name);
        struct stat st;
        clip_file *f;
        if (len < 5 || strcmp(e->d_name + len - 4, ".wav") != 0) continue;
        if (n == cap) {
            clip_file *g = realloc(files, (cap = cap ? cap * 2 : 64) * sizeof *files);
            if (!g) break;
            files = g;
        }
        f = &files[n];
        snprintf(f->path, sizeof f->path, "%s/%s", d->cfg.clips_dir, e->d_name);
        if (stat(f->path, &st) != 0) continue;
        f->size = st.st_size;
        f->mtime = st.st_mtime;
        total += (double)st.st_size;
        n++;
    }
    closedir(dir);
    qsort(files, n, sizeof *files, older);
    for (size_t i = 0; i < n && total > limit; i++) {
        if (unlink(files[i].path) == 0) total -= (double)files[i].size;
    }
    free(files);
}

void clips_tick(esd *d) {
    uint64_t written = es_ring_write_pos(&d->ring);
    int kept = 0;
    for (int i = 0; i < n_pending; i++) {
        pending_clip *p = &pending[i];
        size_t n = (size_t)(p->end - p->start);
        float *x;
        char path[ESD_PATH_MAX + 256];
        if (p->end > written && !capture_ended(d->cap)) {
            pending[kept++] = *p; /* its post-roll is still to come */
            continue;
        }
        if (p->end > written) n = (size_t)(written - p->start);
        snprintf(path, sizeof path, "%s/%s", d->cfg.clips_dir, p->name);
        if (!(x = malloc((n ? n : 1) * sizeof *x))) continue;
        if (es_ring_read_at(&d->ring, p->start, x, n) < 0)
            esd_log(ES_LOG_WARNING, "clips: %s: the audio is no longer in the history", p->name);
        else if (es_audio_write_wav(path, x, n, capture_rate(d->cap)) < 0)
            esd_log(ES_LOG_WARNING, "clips: %s", es_errmsg());
        else
            esd_log(ES_LOG_INFO, "clips: wrote %s", path);
        free(x);
    }
    if (n_pending != kept) enforce_cap(d);
    n_pending = kept;
}

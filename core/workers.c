/* core/workers.c — the persistent thread pool of data-parallel training loops. */
#include "workers.h"

#include <pthread.h>

#include "internal.h"

struct es__workers {
    int n;                     /* threads including the caller */
    pthread_t *threads;        /* [n - 1] */
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    unsigned long generation;  /* bumped per run, under lock */
    int busy;                  /* workers still in the current run, under lock */
    int quit;
    es__work_fn fn;
    void *ctx;
    int n_items;
};

typedef struct {
    es__workers *w;
    int index;
} worker_arg;

/* Thread t takes the t-th contiguous share of the items, always the same
 * share: which partial sums hold which samples then never depends on timing,
 * so training with a fixed seed and thread count is reproducible bit for bit
 * (and resumable from a checkpoint). */
static void drain(es__workers *w, int thread) {
    int lo = (int)((long)w->n_items * thread / w->n), hi = (int)((long)w->n_items * (thread + 1) / w->n);
    for (int i = lo; i < hi; i++) w->fn(w->ctx, i, thread);
}

static void *worker_main(void *p) {
    worker_arg *a = p;
    es__workers *w = a->w;
    int index = a->index;
    unsigned long seen = 0;
    es__free(a);
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->quit && w->generation == seen) pthread_cond_wait(&w->wake, &w->lock);
        if (w->quit) break;
        seen = w->generation;
        pthread_mutex_unlock(&w->lock);
        drain(w, index);
        pthread_mutex_lock(&w->lock);
        if (--w->busy == 0) pthread_cond_signal(&w->done);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int es__workers_create(es__workers **out, int n_threads) {
    es__workers *w;
    if (n_threads < 1) n_threads = 1;
    *out = NULL;
    w = es__calloc(1, sizeof *w);
    if (!w) return es__fail(ES_ENOMEM, "out of memory creating worker threads");
    w->threads = es__calloc((size_t)n_threads, sizeof *w->threads);
    if (!w->threads) {
        es__free(w);
        return es__fail(ES_ENOMEM, "out of memory creating worker threads");
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->done, NULL);
    w->n = 1;
    for (int t = 1; t < n_threads; t++) {
        worker_arg *a = es__malloc(sizeof *a);
        if (!a) break;
        a->w = w;
        a->index = t;
        if (pthread_create(&w->threads[t - 1], NULL, worker_main, a) != 0) {
            es__free(a);
            break;
        }
        w->n++;
    }
    if (w->n < n_threads)
        es__log(ES_LOG_WARNING, "started %d of %d training threads", w->n, n_threads);
    *out = w;
    return 0;
}

void es__workers_free(es__workers *w) {
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->quit = 1;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    for (int t = 0; t < w->n - 1; t++) pthread_join(w->threads[t], NULL);
    pthread_cond_destroy(&w->done);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    es__free(w->threads);
    es__free(w);
}

int es__workers_count(const es__workers *w) { return w ? w->n : 1; }

void es__workers_run(es__workers *w, int n_items, es__work_fn fn, void *ctx) {
    if (!w || w->n == 1 || n_items <= 1) {
        for (int i = 0; i < n_items; i++) fn(ctx, i, 0);
        return;
    }
    pthread_mutex_lock(&w->lock);
    w->fn = fn;
    w->ctx = ctx;
    w->n_items = n_items;
    w->busy = w->n - 1;
    w->generation++;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    drain(w, 0);
    pthread_mutex_lock(&w->lock);
    while (w->busy > 0) pthread_cond_wait(&w->done, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

/* core/workers.h — a small persistent thread pool for data-parallel loops.
 *
 *   es__workers *w;
 *   es__workers_create(&w, 2);                 // the caller counts as one
 *   es__workers_run(w, n_items, fn, ctx);      // fn(ctx, item, thread) for every item
 *   es__workers_free(w);
 *
 * Training splits a batch's samples (or a layer's channels) across threads;
 * thread t always takes the t-th contiguous share of the items (so partial
 * sums, and training, are reproducible), the caller works too, and
 * es__workers_run returns when every item is done. Thread t has
 * index t in [0, count) for its private scratch. Workers sleep on a
 * condition variable between runs: no spinning that would steal the core
 * from the audio path.
 */
#ifndef EARSHOT_CORE_WORKERS_H
#define EARSHOT_CORE_WORKERS_H

typedef struct es__workers es__workers;

typedef void (*es__work_fn)(void *ctx, int item, int thread);

/* n_threads ≥ 1 (1: no extra thread, runs inline). */
int es__workers_create(es__workers **w, int n_threads);
void es__workers_free(es__workers *w);
int es__workers_count(const es__workers *w);
void es__workers_run(es__workers *w, int n_items, es__work_fn fn, void *ctx);

#endif

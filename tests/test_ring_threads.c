/* tests/test_ring_threads.c — one producer against racing consumers in a small ring (TSan). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "check.h"
#include "earshot/ring.h"

#define CAP 4096
#define MAX_BLOCK 700

/* TSan slows every atomic access by an order of magnitude; fewer samples
 * still give thousands of overruns. gcc says TSan one way, clang another. */
#if defined(__SANITIZE_THREAD__)
#define RING_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RING_TEST_TSAN 1
#endif
#endif
#ifdef RING_TEST_TSAN
#define TOTAL 4000000u
#else
#define TOTAL 64000000u
#endif

_Static_assert(TOTAL > CAP, "the lapped consumer waits for more than CAP samples");

static uint32_t storage[CAP];
static es_ring ring;
static atomic_int started;     /* threads ready; the producer waits for all */
static atomic_bool done;       /* the producer wrote its last block */

enum { N_CONSUMERS = 4 };

/* The value every position carries: exact in float, and a wrong position
 * shows up unless it is off by a multiple of 2^20. */
static float val(uint64_t p) { return (float)(p & 0xFFFFF); }

/* Per-thread results; checked by main after the join, so the CHECK counter
 * is only touched by one thread. */
typedef struct {
    size_t max;                /* read size for this consumer */
    int yield_every;           /* 0: never pause; else sched_yield every n reads */
    int lapped;                /* first read only once the producer wrote more than CAP */
    uint64_t start, end;       /* cursor position at start and after the drain */
    uint64_t read, lost, calls, bad;
    uint64_t bad_pos;          /* first mismatching position */
    float bad_got;
} consumer;

typedef struct {
    uint64_t ok, erange, other, bad;
} historian;

static void wait_start(void) {
    atomic_fetch_add(&started, 1);
    while (atomic_load(&started) < N_CONSUMERS + 2) sched_yield();
}

static uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void *producer_main(void *arg) {
    static float block[MAX_BLOCK];
    uint64_t w = 0;
    uint32_t seed = 12345;
    (void)arg;
    wait_start();
    while (w < TOTAL) {
        size_t n = 1 + lcg(&seed) % MAX_BLOCK, i;
        if (n > TOTAL - w) n = (size_t)(TOTAL - w);
        for (i = 0; i < n; i++) block[i] = val(w + i);
        es_ring_write(&ring, block, n);
        w += n;
    }
    atomic_store(&done, 1);
    return NULL;
}

static void check_block(consumer *c, const float *out, uint64_t pos, size_t got) {
    size_t i;
    for (i = 0; i < got; i++) {
        if (out[i] != val(pos + i)) {
            if (c->bad++ == 0) {
                c->bad_pos = pos + i;
                c->bad_got = out[i];
            }
        }
    }
}

static void *consumer_main(void *arg) {
    float out[2 * CAP];
    consumer *c = arg;
    es_ring_cursor cur;
    size_t got;

    es_ring_cursor_init(&ring, &cur);
    c->start = cur.pos;
    wait_start();
    /* The producer never waits, so this ends; the first read then must skip. */
    if (c->lapped)
        while (es_ring_write_pos(&ring) <= c->start + CAP) sched_yield();
    for (;;) {
        int finished = atomic_load(&done);
        got = es_ring_read(&ring, &cur, out, c->max);
        c->calls++;
        check_block(c, out, cur.pos - got, got);
        c->read += got;
        if (got == 0 && finished) break;
        if (c->yield_every && c->calls % (uint64_t)c->yield_every == 0) sched_yield();
    }
    /* The producer is finished: one more pass must find nothing left. */
    while ((got = es_ring_read(&ring, &cur, out, c->max)) > 0) {
        check_block(c, out, cur.pos - got, got);
        c->read += got;
    }
    c->end = cur.pos;
    c->lost = cur.lost;
    return NULL;
}

/* Reads recent history by absolute position while it is being overwritten:
 * a span either comes back exact or the call says ES_ERANGE. */
static void *historian_main(void *arg) {
    static float out[CAP];
    historian *h = arg;
    uint32_t seed = 777;

    wait_start();
    /* Until the producer stops, and at least once: on a quiet ring a span
     * must always come back. */
    while (!atomic_load(&done) || h->ok == 0) {
        uint64_t w = es_ring_write_pos(&ring);
        uint64_t back = 1 + lcg(&seed) % CAP, pos;
        size_t n = 1 + lcg(&seed) % (size_t)back, i;
        int rc;
        if (w < back) continue;
        pos = w - back;
        rc = es_ring_read_at(&ring, pos, out, n);
        if (rc == 0) {
            h->ok++;
            for (i = 0; i < n; i++) h->bad += out[i] != val(pos + i);
        } else if (rc == ES_ERANGE) {
            h->erange++;
        } else {
            h->other++;
        }
    }
    return NULL;
}

int main(void) {
    consumer cons[N_CONSUMERS] = {
        {.max = 1, .yield_every = 0, .lapped = 1},
        {.max = 37, .yield_every = 64},
        {.max = 700, .yield_every = 0},
        {.max = 2 * CAP, .yield_every = 3},
    };
    historian hist = {0};
    pthread_t tid[N_CONSUMERS + 2];
    struct timespec t0, t1;
    int i;

    CHECK_RC(es_ring_init(&ring, storage, CAP), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < N_CONSUMERS; i++)
        CHECK_EQ_INT(pthread_create(&tid[i], NULL, consumer_main, &cons[i]), 0);
    CHECK_EQ_INT(pthread_create(&tid[N_CONSUMERS], NULL, historian_main, &hist), 0);
    CHECK_EQ_INT(pthread_create(&tid[N_CONSUMERS + 1], NULL, producer_main, NULL), 0);
    for (i = 0; i < N_CONSUMERS + 2; i++) pthread_join(tid[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    CHECK_EQ_INT(es_ring_write_pos(&ring), TOTAL);
    for (i = 0; i < N_CONSUMERS; i++) {
        consumer *c = &cons[i];
        fprintf(stderr, "consumer max %5zu: %9llu calls, %9llu read, %9llu lost\n", c->max,
                (unsigned long long)c->calls, (unsigned long long)c->read,
                (unsigned long long)c->lost);
        if (c->bad)
            fprintf(stderr, "  %llu wrong samples, first at %llu: got %g, wanted %g\n",
                    (unsigned long long)c->bad, (unsigned long long)c->bad_pos,
                    (double)c->bad_got, (double)val(c->bad_pos));
        CHECK_EQ_INT(c->bad, 0);
        CHECK_EQ_INT(c->start, 0);
        CHECK_EQ_INT(c->end, TOTAL);
        CHECK_EQ_INT(c->read + c->lost, TOTAL - c->start);
        CHECK(c->read > 0);
    }
    /* The one-sample reader started a lap behind: it counted the skip. */
    CHECK(cons[0].lost > 0);
    fprintf(stderr, "read_at: %llu ok, %llu ES_ERANGE; %.2f s\n", (unsigned long long)hist.ok,
            (unsigned long long)hist.erange,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
    CHECK_EQ_INT(hist.bad, 0);
    CHECK_EQ_INT(hist.other, 0);
    CHECK(hist.ok > 0);
    CHECK_DONE();
}

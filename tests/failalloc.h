/* tests/failalloc.h — an allocator that fails the k-th allocation, for
 * walking every out-of-memory path of a call:
 *
 *   for (long k = 0; ; k++) {
 *       failalloc_arm(k);                 // installs it; allocation k fails
 *       int rc = es_features_create(&fx, &desc);
 *       failalloc_disarm();               // back to libc
 *       if (!failalloc_failed()) break;   // k passed the last allocation
 *       CHECK_EQ_INT(rc, ES_ENOMEM);
 *   }
 */
#ifndef EARSHOT_TESTS_FAILALLOC_H
#define EARSHOT_TESTS_FAILALLOC_H

#include <stdlib.h>

#include "earshot/alloc.h"

static long failalloc_at = -1, failalloc_count;
static int failalloc_hit;

static int failalloc_should_fail(void) {
    if (failalloc_count++ == failalloc_at) {
        failalloc_hit = 1;
        return 1;
    }
    return 0;
}
static void *failalloc_malloc(size_t n) { return failalloc_should_fail() ? NULL : malloc(n); }
static void *failalloc_realloc(void *p, size_t n) {
    return failalloc_should_fail() ? NULL : realloc(p, n);
}
static void *failalloc_calloc(size_t a, size_t b) {
    return failalloc_should_fail() ? NULL : calloc(a, b);
}

static inline void failalloc_arm(long k) {
    failalloc_at = k;
    failalloc_count = 0;
    failalloc_hit = 0;
    es_set_allocator(failalloc_malloc, failalloc_realloc, failalloc_calloc, free);
}

static inline void failalloc_disarm(void) { es_set_allocator(NULL, NULL, NULL, NULL); }

/* Whether the armed allocation was reached (and failed). */
static inline int failalloc_failed(void) { return failalloc_hit; }

#endif

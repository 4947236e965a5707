/* earshot/alloc.h — pluggable allocator, so out-of-memory paths can be tested.
 *
 *   static int budget = 3;
 *   static void *failing_malloc(size_t n) { return budget-- > 0 ? malloc(n) : NULL; }
 *   es_set_allocator(failing_malloc, realloc, calloc, free);
 *   assert(es_features_create(&fx, &desc) == ES_ENOMEM);   // nothing leaked
 *   es_set_allocator(NULL, NULL, NULL, NULL);               // back to libc
 *
 * Every allocation libearshot makes goes through these four functions
 * (FFTW's aligned buffers excepted: FFTW allocates them itself). Set them
 * before any other call; passing all NULL restores the C library's.
 */
#ifndef EARSHOT_ALLOC_H
#define EARSHOT_ALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void *(*es_malloc_fn)(size_t size);
typedef void *(*es_realloc_fn)(void *ptr, size_t size);
typedef void *(*es_calloc_fn)(size_t count, size_t size);
typedef void (*es_free_fn)(void *ptr);

/* Returns ES_EINVAL unless all four are set or all four are NULL. */
int es_set_allocator(es_malloc_fn m, es_realloc_fn r, es_calloc_fn c, es_free_fn f);

/* Releases memory a libearshot function allocated for the caller (a
 * resampled signal, a .npy array). NULL is a no-op. */
void es_free(void *ptr);

#ifdef __cplusplus
}
#endif
#endif

/* core/internal.h — helpers shared by libearshot's own files; not installed. */
#ifndef EARSHOT_CORE_INTERNAL_H
#define EARSHOT_CORE_INTERNAL_H

#include <stddef.h>

#include "earshot/error.h"
#include "earshot/log.h"

/* M_PI is an XSI extension; the strict C11 build does not see it. */
#define ES__PI 3.14159265358979323846

#if defined(__GNUC__)
#define ES__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ES__PRINTF(f, a)
#endif

/* Hot per-frame loops get an AVX2 clone next to the baseline one; the loader
 * picks the one the CPU runs (GCC function multiversioning, glibc ifunc), so
 * one binary is both portable and as fast as the machine allows. */
/* Sanitizer builds go without: ifunc resolvers run before the sanitizer
 * runtime is up (TSan crashes in them). */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && \
    !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
#define ES__HOT __attribute__((target_clones("avx2", "default")))
#else
#define ES__HOT
#endif

/* Denormal floats read and made as zero on the calling thread until the
 * mode is restored. Filters and fades decaying into silence make numbers
 * below 1e-38, which cost a microcode assist (~100 cycles) each: with them
 * the equaliser of a zero-padded clip took twice as long. Inaudible, so
 * augmentation and features run without them; the network does not. */
#if defined(__x86_64__) || defined(__SSE2__)
#include <xmmintrin.h>
static inline unsigned es__denormals_off(void) {
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u); /* FTZ (bit 15) and DAZ (bit 6) */
    return old;
}
static inline void es__denormals_restore(unsigned old) { _mm_setcsr(old); }
#else
static inline unsigned es__denormals_off(void) { return 0; }
static inline void es__denormals_restore(unsigned old) { (void)old; }
#endif

/* Allocation through the pluggable allocator (alloc.c). es__calloc and
 * es__malloc_array fail with NULL on count*size overflow. */
void *es__malloc(size_t size);
void *es__calloc(size_t count, size_t size);
void *es__malloc_array(size_t count, size_t size);
void *es__realloc(void *ptr, size_t size);
void es__free(void *ptr);
char *es__strdup(const char *s);

/* Records a detail message for es_errmsg() and returns code, so a failure
 * reads `return es__fail(ES_ERANGE, "n_fft %d is not ...", n);`. */
int es__fail(int code, const char *fmt, ...) ES__PRINTF(2, 3);

/* Clears the thread's detail message (a successful call leaves no stale one). */
void es__clear_error(void);

/* Logging: the level is checked before anything is formatted. */
extern int es__log_max_level;
void es__log_emit(int level, const char *fmt, ...) ES__PRINTF(2, 3);
#define es__log(level, ...)                                                  \
    do {                                                                     \
        if ((level) <= es__log_max_level) es__log_emit((level), __VA_ARGS__); \
    } while (0)

#endif

/* core/alloc.c — the pluggable allocator every libearshot allocation uses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "internal.h"

static es_malloc_fn a_malloc = malloc;
static es_realloc_fn a_realloc = realloc;
static es_calloc_fn a_calloc = calloc;
static es_free_fn a_free = free;

int es_set_allocator(es_malloc_fn m, es_realloc_fn r, es_calloc_fn c, es_free_fn f) {
    if (!m && !r && !c && !f) {
        a_malloc = malloc;
        a_realloc = realloc;
        a_calloc = calloc;
        a_free = free;
        return 0;
    }
    if (!m || !r || !c || !f)
        return es__fail(ES_EINVAL, "es_set_allocator: set all four functions or none");
    a_malloc = m;
    a_realloc = r;
    a_calloc = c;
    a_free = f;
    return 0;
}

void *es__malloc(size_t size) { return a_malloc(size ? size : 1); }
void *es__calloc(size_t count, size_t size) { return a_calloc(count ? count : 1, size ? size : 1); }
void *es__realloc(void *ptr, size_t size) { return a_realloc(ptr, size ? size : 1); }
void es__free(void *ptr) {
    if (ptr) a_free(ptr);
}

void es_free(void *ptr) { es__free(ptr); }

void *es__malloc_array(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return NULL;
    return es__malloc(count * size);
}

char *es__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = es__malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

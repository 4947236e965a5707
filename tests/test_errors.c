/* Error codes: every code has a distinct name and description. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "earshot/alloc.h"

static const int codes[] = {
#define X(name, val, desc) ES_##name,
    ES_ERRNO_MAP(X)
#undef X
};

int main(void) {
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        CHECK(codes[i] < 0);
        CHECK(strncmp(es_err_name(codes[i]), "ES_E", 4) == 0);
        CHECK(strcmp(es_strerror(codes[i]), "unknown error") != 0);
        for (size_t j = 0; j < i; j++) {
            CHECK(codes[i] != codes[j]);
            CHECK(strcmp(es_err_name(codes[i]), es_err_name(codes[j])) != 0);
        }
    }
    CHECK(strcmp(es_err_name(0), "ES_OK") == 0);
    CHECK(strcmp(es_strerror(-9999), "unknown error") == 0);
    CHECK(strcmp(es_err_name(-9999), "ES_EUNKNOWN") == 0);
    /* a half-set allocator is refused, with a detail message */
    CHECK_RC(es_set_allocator(malloc, NULL, NULL, free), ES_EINVAL);
    CHECK(strstr(es_errmsg(), "allocator") != NULL);
    CHECK_RC(es_set_allocator(NULL, NULL, NULL, NULL), 0);
    CHECK_DONE();
}

/* tests/check.h — the assertions every earshot test uses.
 *
 * A failed CHECK prints file:line and the expression and marks the test
 * failed; the test goes on so one run shows every mismatch. CHECK_DONE()
 * returns the exit status ctest reads. A test whose input is absent returns
 * CHECK_SKIP (ctest's SKIP_RETURN_CODE) after saying why.
 */
#ifndef EARSHOT_TESTS_CHECK_H
#define EARSHOT_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>

#include "earshot/error.h"

#define CHECK_SKIP 77

static int check_failures;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                         \
    do {                                                                           \
        long long ca_ = (long long)(a), cb_ = (long long)(b);                      \
        if (ca_ != cb_) {                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n",      \
                    __FILE__, __LINE__, #a, #b, ca_, cb_);                         \
            check_failures++;                                                      \
        }                                                                          \
    } while (0)

/* An earshot call that must return exactly `code` (0 for success). */
#define CHECK_RC(expr, code)                                                      \
    do {                                                                          \
        int crc_ = (expr);                                                        \
        if (crc_ != (code)) {                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s returned %s (%s), wanted %s\n", \
                    __FILE__, __LINE__, #expr, es_err_name(crc_), es_errmsg(),    \
                    es_err_name(code));                                           \
            check_failures++;                                                     \
        }                                                                         \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                      \
    do {                                                                           \
        double ca_ = (double)(a), cb_ = (double)(b);                               \
        if (!(fabs(ca_ - cb_) <= (tol))) {                                         \
            fprintf(stderr, "%s:%d: CHECK failed: |%s - %s| = |%.9g - %.9g| > %g\n", \
                    __FILE__, __LINE__, #a, #b, ca_, cb_, (double)(tol));          \
            check_failures++;                                                      \
        }                                                                          \
    } while (0)

#define CHECK_DONE()                                                 \
    do {                                                             \
        if (check_failures) {                                        \
            fprintf(stderr, "%d check(s) failed\n", check_failures); \
            return 1;                                                \
        }                                                            \
        return 0;                                                    \
    } while (0)

#endif

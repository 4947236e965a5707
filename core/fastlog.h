/* core/fastlog.h — natural log over arrays, branch-free so loops vectorize. */
#ifndef EARSHOT_CORE_FASTLOG_H
#define EARSHOT_CORE_FASTLOG_H

#include <stddef.h>

/* out[i] = ln(in[i]) · scale for n positive inputs. Cephes' logf polynomial,
 * within 2 ulp of ln (measured by tests/test_fastlog.c over every float
 * exponent); inputs below FLT_MIN are taken as FLT_MIN (no subnormal
 * arithmetic). in and out may be the same array. */
void es__log_array(float *out, const float *in, size_t n, float scale);

#endif

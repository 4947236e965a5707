/* core/blas.c — the process-wide OpenBLAS thread count. */
#include <cblas.h>

#include "earshot/nn.h"

void es_blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

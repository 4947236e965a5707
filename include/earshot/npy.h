/* earshot/npy.h — NumPy .npy files of float32 matrices.
 *
 *   es_npy_write_f32("feat.npy", matrix, 2, (size_t[]){64, 101});   // shape [64, 101]
 *
 *   float *m; size_t shape[4]; int ndim;
 *   es_npy_read_f32("ref.npy", &m, shape, 4, &ndim);              // es_free(m)
 *
 * Format 1.0, little-endian '<f4', C order — what numpy.load reads. Writes
 * are atomic (temporary file, fsync, rename).
 */
#ifndef EARSHOT_NPY_H
#define EARSHOT_NPY_H

#include <stddef.h>

#include "earshot/alloc.h" /* es_free */

#ifdef __cplusplus
extern "C" {
#endif

int es_npy_write_f32(const char *path, const float *data, int ndim, const size_t *shape);

/* Reads a '<f4' (or '<f8', converted) C-order array of at most max_dims
 * dimensions. ES_EFORMAT names what is wrong with a file it cannot take. */
int es_npy_read_f32(const char *path, float **data, size_t *shape, int max_dims, int *ndim);

#ifdef __cplusplus
}
#endif
#endif

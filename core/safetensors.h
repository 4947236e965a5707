/* core/safetensors.h — the safetensors container: parse and write, no model knowledge.
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON header, then
 * the raw little-endian tensor data. The header maps tensor names to
 * {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
 * data section) and may hold "__metadata__": {string: string}.
 *
 *   es__st_file st;
 *   if (es__st_parse(&st, bytes, len, "model.safetensors") < 0) ...  // checks everything
 *   const es__st_tensor *w = es__st_find(&st, "conv1.weight");
 *   const char *labels = es__st_meta(&st, "earshot.labels");
 *   es__st_free(&st);
 *
 * es__st_parse trusts nothing: the header length against the file size and
 * a cap, the JSON, every entry's dtype, shape, and offsets (inside the data
 * section, end - begin == numel * dtype size, no two tensors overlapping,
 * and the data section fully covered, as the reference implementation
 * requires), and metadata values being strings. Every error names the file
 * and the entry at fault. Tensor data stays in the caller's buffer (it may be
 * unaligned: copy it out with memcpy).
 */
#ifndef EARSHOT_CORE_SAFETENSORS_H
#define EARSHOT_CORE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

/* The header of a model is a few kilobytes; 16 MiB is far beyond any real
 * one and stops a hostile length from allocating gigabytes. */
#define ES__ST_HEADER_MAX (16u << 20)
#define ES__ST_MAX_DIMS 8

typedef enum { ES__ST_F32, ES__ST_F64, ES__ST_F16, ES__ST_BF16, ES__ST_I64, ES__ST_I32,
               ES__ST_I16, ES__ST_I8, ES__ST_U8, ES__ST_BOOL } es__st_dtype;

typedef struct {
    char *name;                    /* owned */
    es__st_dtype dtype;
    int ndim;
    int64_t shape[ES__ST_MAX_DIMS];
    size_t numel;
    const unsigned char *data;     /* into the parsed buffer; numel * dtype size bytes */
    size_t nbytes;
} es__st_tensor;

typedef struct {
    es__st_tensor *tensors;        /* [n_tensors], in header order */
    size_t n_tensors;
    char **meta_keys, **meta_values; /* [n_meta] each, owned */
    size_t n_meta;
} es__st_file;

/* Bytes per element of a dtype. */
size_t es__st_dtype_size(es__st_dtype dt);

/* Name as safetensors spells it ("F32"). */
const char *es__st_dtype_name(es__st_dtype dt);

/* Parses buf[0..len). origin names the file in errors. ES_EFORMAT,
 * ES_ETRUNC, ES_EJSON, ES_ERANGE or ES_ENOMEM; on error st is empty. */
int es__st_parse(es__st_file *st, const void *buf, size_t len, const char *origin);

void es__st_free(es__st_file *st);

const es__st_tensor *es__st_find(const es__st_file *st, const char *name);

/* Metadata value of key, or NULL. */
const char *es__st_meta(const es__st_file *st, const char *key);

/* A tensor to write: data points at numel * dtype size bytes. */
typedef struct {
    const char *name;
    es__st_dtype dtype;
    int ndim;
    const int64_t *shape;
    const void *data;
} es__st_out;

/* Writes a safetensors file atomically (temporary file, fsync, rename):
 * tensors in the given order, data 8-byte aligned as the reference writer
 * pads the header, metadata as given. */
int es__st_write(const char *path, const es__st_out *tensors, size_t n_tensors,
                 const char *const *meta_keys, const char *const *meta_values, size_t n_meta);
/* The same bytes into one buffer allocated for the caller (es__free it);
 * origin names the output in errors. */
int es__st_serialize(const char *origin, const es__st_out *tensors, size_t n_tensors,
                     const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                     unsigned char **buf, size_t *len);

#endif

/* core/npy.c — NumPy .npy reading and writing (format 1.0, little-endian float). */
#include "earshot/npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "internal.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* numpy pads the preamble + header to a multiple of 64 bytes. */
#define NPY_ALIGN 64
/* Refuse arrays of more than 4 GiB of elements: no earshot file is near it. */
#define NPY_MAX_ELEMS ((size_t)1 << 30)
#define NPY_MAX_DIMS 8

int es_npy_write_f32(const char *path, const float *data, int ndim, const size_t *shape) {
    char header[512];
    size_t count = 1;
    int len, rc;
    FILE *fp;
    char *tmp;
    uint16_t hlen;
    unsigned char pre[NPY_MAGIC_LEN + 4];

    if (!path || !data || !shape || ndim < 1 || ndim > NPY_MAX_DIMS)
        return es__fail(ES_EINVAL, "es_npy_write_f32: bad arguments");
    len = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < ndim; i++) {
        len += snprintf(header + len, sizeof header - (size_t)len, "%zu,%s", shape[i],
                        (i + 1 < ndim) ? " " : "");
        count *= shape[i];
    }
    if (ndim > 1) len--; /* numpy writes (3, 4) but (3,) */
    len += snprintf(header + len, sizeof header - (size_t)len, "), }");
    /* pad with spaces so that preamble + header + '\n' is a multiple of 64 */
    while ((NPY_MAGIC_LEN + 4 + (size_t)len + 1) % NPY_ALIGN != 0) header[len++] = ' ';
    header[len++] = '\n';
    hlen = (uint16_t)len;
    memcpy(pre, NPY_MAGIC, NPY_MAGIC_LEN);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);

    if ((rc = es__atomic_open(path, &tmp, &fp)) < 0) return rc;
    if (fwrite(pre, 1, sizeof pre, fp) != sizeof pre ||
        fwrite(header, 1, (size_t)len, fp) != (size_t)len ||
        fwrite(data, sizeof *data, count, fp) != count) {
        es__atomic_abort(tmp, fp);
        return es__fail(ES_EIO, "cannot write '%s'", path);
    }
    return es__atomic_commit(path, tmp, fp);
}

/* Finds `'key':` in a numpy header dict and returns the text after it. */
static const char *dict_value(const char *h, const char *key) {
    char pat[32];
    const char *p;
    snprintf(pat, sizeof pat, "'%s':", key);
    p = strstr(h, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    return p;
}

int es_npy_read_f32(const char *path, float **out, size_t *shape, int max_dims, int *ndim) {
    char *buf = NULL, *h;
    size_t len, hlen, count = 1, esize;
    const char *v;
    int rc, nd = 0, is_f8;

    if ((rc = es__read_file(path, NPY_MAX_ELEMS * 8, &buf, &len)) < 0) return rc;
    rc = ES_EFORMAT;
    if (len < NPY_MAGIC_LEN + 4 || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
        es__fail(rc, "'%s' is not a .npy file (bad magic)", path);
        goto out;
    }
    if (buf[6] != 1) {
        es__fail(rc, "'%s': .npy format version %d is not supported (1.0 is)", path, buf[6]);
        goto out;
    }
    hlen = (size_t)(unsigned char)buf[8] | ((size_t)(unsigned char)buf[9] << 8);
    if (NPY_MAGIC_LEN + 4 + hlen > len) {
        rc = es__fail(ES_ETRUNC, "'%s': .npy header runs past the end of the file", path);
        goto out;
    }
    h = buf + NPY_MAGIC_LEN + 4;
    h[hlen - 1] = '\0'; /* the header's trailing '\n' */
    v = dict_value(h, "descr");
    if (!v || (strncmp(v, "'<f4'", 5) != 0 && strncmp(v, "'<f8'", 5) != 0)) {
        es__fail(rc, "'%s': dtype must be '<f4' or '<f8'", path);
        goto out;
    }
    is_f8 = v[3] == '8';
    esize = is_f8 ? 8 : 4;
    v = dict_value(h, "fortran_order");
    if (!v || strncmp(v, "False", 5) != 0) {
        es__fail(rc, "'%s': only C-order arrays are supported", path);
        goto out;
    }
    v = dict_value(h, "shape");
    if (!v || *v != '(') {
        es__fail(rc, "'%s': no shape in the .npy header", path);
        goto out;
    }
    v++;
    while (*v != ')') {
        char *end;
        unsigned long long d;
        while (*v == ' ' || *v == ',') v++;
        if (*v == ')') break;
        d = strtoull(v, &end, 10);
        if (end == v || nd >= max_dims || d > NPY_MAX_ELEMS) {
            es__fail(rc, "'%s': shape is malformed or has more than %d dimensions", path,
                     max_dims);
            goto out;
        }
        shape[nd++] = (size_t)d;
        count *= (size_t)d;
        if (count > NPY_MAX_ELEMS) {
            es__fail(rc, "'%s': array is too large", path);
            goto out;
        }
        v = end;
    }
    if (len - (NPY_MAGIC_LEN + 4 + hlen) != count * esize) {
        rc = es__fail(ES_ETRUNC, "'%s': data holds %zu bytes, shape needs %zu", path,
                 len - (NPY_MAGIC_LEN + 4 + hlen), count * esize);
        goto out;
    }
    *out = es__malloc_array(count ? count : 1, sizeof **out);
    if (!*out) {
        rc = es__fail(ES_ENOMEM, "out of memory reading '%s'", path);
        goto out;
    }
    {
        const unsigned char *p = (const unsigned char *)buf + NPY_MAGIC_LEN + 4 + hlen;
        for (size_t i = 0; i < count; i++) {
            if (is_f8) {
                double d;
                memcpy(&d, p + 8 * i, 8);
                (*out)[i] = (float)d;
            } else {
                memcpy(&(*out)[i], p + 4 * i, 4);
            }
        }
    }
    *ndim = nd;
    rc = 0;
out:
    es__free(buf);
    return rc;
}

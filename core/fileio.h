/* core/fileio.h — atomic file replacement, shared by every writer in core/. */
#ifndef EARSHOT_CORE_FILEIO_H
#define EARSHOT_CORE_FILEIO_H

#include <stdio.h>

/* Opens a temporary file in the directory of `path` for writing. On success
 * *tmp_path (owned, es__free it) names it. */
int es__atomic_open(const char *path, char **tmp_path, FILE **fp);

/* Flushes, fsyncs and closes fp, renames tmp_path over path and fsyncs the
 * directory. On any failure the temporary file is removed and the old
 * `path` is untouched. Frees tmp_path either way. */
int es__atomic_commit(const char *path, char *tmp_path, FILE *fp);

/* Abandons a write: closes fp, removes and frees tmp_path. */
void es__atomic_abort(char *tmp_path, FILE *fp);

/* Reads a whole file into a NUL-terminated buffer (es__free it). Refuses
 * files over max_bytes with ES_ERANGE. */
int es__read_file(const char *path, size_t max_bytes, char **data, size_t *len);

#endif

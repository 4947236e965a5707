/* earshot/file.h — writing files atomically.
 *
 *   if (es_write_file_atomic("figure.png", png, png_len) < 0) puts(es_errmsg());
 *
 * The bytes go to a uniquely named temporary file beside the target, which
 * is fsynced and renamed over it, and the folder is fsynced: readers see the
 * old file or the whole new one, never a part, even after a crash.
 */
#ifndef EARSHOT_FILE_H
#define EARSHOT_FILE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

int es_write_file_atomic(const char *path, const void *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif

/* core/fileio.c — atomic replacement of files and whole-file reads. */
#include "fileio.h"

#include "earshot/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int es__atomic_open(const char *path, char **tmp_path, FILE **fp) {
    static const char suffix[] = ".tmp.XXXXXX";
    size_t n = strlen(path);
    char *tmp = es__malloc(n + sizeof suffix);
    int fd;
    if (!tmp) return es__fail(ES_ENOMEM, "out of memory writing '%s'", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, suffix, sizeof suffix);
    fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        es__free(tmp);
        return es__fail(e == ENOENT ? ES_ENOENT : ES_EIO, "cannot create '%s': %s", path,
                        strerror(e));
    }
    *fp = fdopen(fd, "wb");
    if (!*fp) {
        int e = errno;
        close(fd);
        unlink(tmp);
        es__free(tmp);
        return es__fail(ES_EIO, "cannot open '%s' for writing: %s", path, strerror(e));
    }
    *tmp_path = tmp;
    return 0;
}

void es__atomic_abort(char *tmp_path, FILE *fp) {
    if (fp) fclose(fp);
    if (tmp_path) {
        unlink(tmp_path);
        es__free(tmp_path);
    }
}

/* fsync of the directory makes the rename itself durable. */
static void sync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[4096];
    int fd;
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n == 0) n = 1;
        if (n >= sizeof dir) return;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int es__atomic_commit(const char *path, char *tmp_path, FILE *fp) {
    int e = 0;
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) e = errno;
    /* mkstemp makes 0600 files; an output file gets the usual 0644 less umask. */
    if (!e) {
        mode_t um = umask(0);
        umask(um);
        fchmod(fileno(fp), 0666 & ~um);
    }
    if (fclose(fp) != 0 && !e) e = errno;
    if (!e && rename(tmp_path, path) != 0) e = errno;
    if (e) {
        unlink(tmp_path);
        es__free(tmp_path);
        return es__fail(ES_EIO, "cannot write '%s': %s", path, strerror(e));
    }
    es__free(tmp_path);
    sync_parent_dir(path);
    return 0;
}

int es__read_file(const char *path, size_t max_bytes, char **data, size_t *len) {
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!fp)
        return es__fail(errno == ENOENT ? ES_ENOENT : ES_EIO, "cannot open '%s': %s", path,
                        strerror(errno));
    for (;;) {
        size_t got;
        if (n + 1 >= cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            char *nb;
            if (cap > max_bytes) {
                es__free(buf);
                fclose(fp);
                return es__fail(ES_ERANGE, "'%s' is larger than %zu bytes", path, max_bytes);
            }
            nb = es__realloc(buf, ncap);
            if (!nb) {
                es__free(buf);
                fclose(fp);
                return es__fail(ES_ENOMEM, "out of memory reading '%s'", path);
            }
            buf = nb;
            cap = ncap;
        }
        got = fread(buf + n, 1, cap - n - 1, fp);
        n += got;
        if (got == 0) break;
    }
    if (ferror(fp)) {
        es__free(buf);
        fclose(fp);
        return es__fail(ES_EIO, "cannot read '%s'", path);
    }
    fclose(fp);
    if (n > max_bytes) {
        es__free(buf);
        return es__fail(ES_ERANGE, "'%s' is larger than %zu bytes", path, max_bytes);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

int es_write_file_atomic(const char *path, const void *data, size_t n) {
    char *tmp;
    FILE *fp;
    int rc = es__atomic_open(path, &tmp, &fp);
    if (rc < 0) return rc;
    if (n && fwrite(data, 1, n, fp) != n) {
        es__atomic_abort(tmp, fp);
        return es__fail(ES_EIO, "cannot write '%s'", path);
    }
    return es__atomic_commit(path, tmp, fp);
}

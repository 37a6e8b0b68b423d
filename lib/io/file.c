/* file.c - atomic writes and bounded whole-file reads (file.h). */
#define _POSIX_C_SOURCE 200809L
#include "io/file.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zoq.h"

int zoq__errf(char *err, size_t cap, int status, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return status;
}

int zoq__afile_open(zoq__afile *f, const char *path, char *err, size_t cap)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->path = path;
    size_t plen = strlen(path);
    if (!(f->tmp = malloc(plen + 12))) {
        return zoq__errf(err, cap, ZOQ_E_NOMEM, "out of memory");
    }
    memcpy(f->tmp, path, plen);
    memcpy(f->tmp + plen, ".tmp.XXXXXX", 12);
    /* mkstemp makes the file 0600; give it what open(2) would under the usual
     * umask 022, so that other users (a serving engine) can read it. */
    if ((f->fd = mkstemp(f->tmp)) < 0 || fchmod(f->fd, 0644) != 0) {
        int e = errno;
        if (f->fd >= 0) {
            close(f->fd);
            unlink(f->tmp);
            f->fd = -1;
        }
        free(f->tmp);
        f->tmp = NULL;
        return zoq__errf(err, cap, ZOQ_E_IO, "cannot create a temporary file beside '%s': %s",
                         path, strerror(e));
    }
    return ZOQ_OK;
}

void zoq__afile_write(zoq__afile *f, const void *p, size_t n)
{
    const unsigned char *s = p;
    while (!f->failed && n > 0) {
        ssize_t w = write(f->fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            f->failed = 1;
            f->err_no = w < 0 ? errno : EIO;
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

void zoq__afile_abort(zoq__afile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->tmp)
        unlink(f->tmp);
    free(f->tmp);
    f->tmp = NULL;
    f->fd = -1;
}

void zoq__fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int zoq__afile_commit(zoq__afile *f, char *err, size_t cap)
{
    if (!f->failed && fsync(f->fd) != 0) {
        f->failed = 1;
        f->err_no = errno;
    }
    if (close(f->fd) != 0 && !f->failed) {
        f->failed = 1;
        f->err_no = errno;
    }
    f->fd = -1;
    if (!f->failed && rename(f->tmp, f->path) != 0) {
        f->failed = 1;
        f->err_no = errno;
    }
    if (f->failed) {
        zoq__afile_abort(f);
        return zoq__errf(err, cap, ZOQ_E_IO, "cannot write '%s': %s", f->path,
                         strerror(f->err_no));
    }
    free(f->tmp);
    f->tmp = NULL;
    zoq__fsync_parent(f->path);
    return ZOQ_OK;
}

int zoq__file_read_all(const char *path, size_t max, unsigned char **data, size_t *n,
                       char *err, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return zoq__errf(err, cap, ZOQ_E_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > max) {
        fclose(f);
        return zoq__errf(err, cap, ZOQ_E_IO, "cannot size '%s', or it is larger than %zu bytes",
                         path, max);
    }
    size_t len = (size_t)st.st_size;
    unsigned char *p = malloc(len + 1);
    if (!p) {
        fclose(f);
        return zoq__errf(err, cap, ZOQ_E_NOMEM, "out of memory reading '%s'", path);
    }
    size_t got = fread(p, 1, len, f);
    fclose(f);
    if (got != len) {
        free(p);
        return zoq__errf(err, cap, ZOQ_E_IO, "short read on '%s'", path);
    }
    p[len] = '\0';
    *data = p;
    *n = len;
    return ZOQ_OK;
}

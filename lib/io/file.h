/* file.h - atomic file writes (temporary file in the target's folder,
 * fsync, rename, fsync of the folder) and bounded whole-file reads.
 * Internal; errors are written to err[cap] and returned as a status. */
#ifndef ZOQ_IO_FILE_H
#define ZOQ_IO_FILE_H

#include <stddef.h>

typedef struct zoq__afile {
    int fd;
    char *tmp;                  /* <path>.tmp.XXXXXX */
    const char *path;
    int failed;                 /* a write failed: commit refuses */
    int err_no;
} zoq__afile;

/* Creates <path>.tmp.XXXXXX (mode 0644) for writing. ZOQ_E_IO, ZOQ_E_NOMEM. */
int zoq__afile_open(zoq__afile *f, const char *path, char *err, size_t cap);
/* Appends n bytes; a failure is remembered and reported by commit. */
void zoq__afile_write(zoq__afile *f, const void *p, size_t n);
/* fsyncs, closes and renames the temporary file over the path, then fsyncs
 * the folder; on any failure removes the temporary file. ZOQ_E_IO. */
int zoq__afile_commit(zoq__afile *f, char *err, size_t cap);
/* Drops the temporary file (after an error of the caller's own). */
void zoq__afile_abort(zoq__afile *f);

/* Formats a message into err[cap] (skipped when err is NULL or cap 0) and
 * returns status: the error convention of lib/io. */
int zoq__errf(char *err, size_t cap, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* fsync of the folder holding path (durability of a rename); best effort. */
void zoq__fsync_parent(const char *path);

/* Reads the whole file at path (at most max bytes) into *data (caller
 * frees; NUL-terminated for convenience, not counted in *n). ZOQ_E_IO for
 * an unreadable or larger file, ZOQ_E_NOMEM. */
int zoq__file_read_all(const char *path, size_t max, unsigned char **data, size_t *n,
                       char *err, size_t cap);

#endif

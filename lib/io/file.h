/* file.h - atomic file writes (temporary file in the target's folder,
 * fsync, rename, fsync of the folder), bounded whole-file reads, opens that
 * never block on a FIFO, and the clean-up of temporaries a killed writer
 * left. Internal; errors are returned as a status with a message for
 * zoq_last_error(NULL) (lib/core/error.h). */
#ifndef ZOQ_IO_FILE_H
#define ZOQ_IO_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct zoq__afile {
    int fd;
    char *tmp;                  /* <path>.tmp.XXXXXX */
    const char *path;
    int failed;                 /* a write failed: commit refuses */
    int err_no;
} zoq__afile;

/* Creates <path>.tmp.XXXXXX for writing, after removing the stale ones of
 * path (zoq__clean_stale). Its mode is that of the file it will replace, or
 * 0666 less the umask for a new one. ZOQ_E_IO, ZOQ_E_NOMEM. */
int zoq__afile_open(zoq__afile *f, const char *path);
/* Appends n bytes; a failure is remembered and reported by commit. */
void zoq__afile_write(zoq__afile *f, const void *p, size_t n);
/* fsyncs and renames the temporary file over the path, closes it, then
 * fsyncs the folder; on a failure before the rename removes the temporary
 * file. ZOQ_E_IO (ZOQ_E_NOMEM where the system ran out of memory). */
int zoq__afile_commit(zoq__afile *f);
/* Drops the temporary file (after an error of the caller's own). */
void zoq__afile_abort(zoq__afile *f);

/* fsync of the folder holding path (durability of a rename); ZOQ_E_IO or
 * ZOQ_E_NOMEM when it cannot be done (a folder that does not support it,
 * EINVAL or EROFS, counts as done). Does not allocate. */
int zoq__fsync_parent(const char *path);

/* ZOQ_E_NOMEM for errno ENOMEM, else ZOQ_E_IO. */
int zoq__io_status(int err_no);

/* Opens path for reading without blocking (O_NONBLOCK: a FIFO would wait
 * for a writer) and refuses anything but a regular file; *fd (caller
 * closes) and its *size. ZOQ_E_IO, ZOQ_E_NOMEM. */
int zoq__open_regular(const char *path, int *fd, uint64_t *size);

/* Replaces the trailing XXXXXX of tmpl and creates that file (O_EXCL, 0666
 * less the umask; dir: a folder, 0777 less the umask); returns its open fd
 * (a folder's read-only), locked with flock until closed so that
 * zoq__clean_stale leaves it alone, or -1 with errno. */
int zoq__make_temp(char *tmpl, int dir);

/* Removes what killed writers left beside target: entries named
 * <target>.tmp.XXXXXX (zoq__make_temp's pattern) that are regular files (dir:
 * folders) and that no live writer holds locked, each through
 * drop(parent folder fd, name, entry fd). Best effort. */
void zoq__clean_stale(const char *target, int dir,
                      void (*drop)(int parent, const char *name, int fd));
/* The same for <base>.tmp.XXXXXX in the open folder `folder` (left open). */
void zoq__clean_stale_in(int folder, const char *base, int dir,
                         void (*drop)(int parent, const char *name, int fd));
/* The drop for files: unlinks name in parent. */
void zoq__drop_file(int parent, const char *name, int fd);

/* Reads the whole file at path (at most max bytes) into *data (caller
 * frees; NUL-terminated for convenience, not counted in *n). ZOQ_E_IO for
 * an unreadable or larger file, ZOQ_E_NOMEM. */
int zoq__file_read_all(const char *path, size_t max, unsigned char **data, size_t *n);

#endif

/* file.c - atomic writes, bounded whole-file reads, non-blocking opens of
 * regular files, and the clean-up of temporaries a killed writer left (file.h). */
#define _DEFAULT_SOURCE /* flock */
#include "io/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zoq.h"

/* Suffix of every temporary zoq makes beside a target: ".tmp." and TMP_RAND
 * characters of TMP_ALPHABET (mkstemp's pattern, so older files match too). */
#define TMP_INFIX ".tmp."
#define TMP_RAND 6
static const char TMP_ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

int zoq__io_status(int err_no)
{
    return err_no == ENOMEM ? ZOQ_E_NOMEM : ZOQ_E_IO;
}

/* splitmix64: spreads a counter over 64 bits. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

int zoq__make_temp(char *tmpl, int dir)
{
    static atomic_uint counter; /* a repeat only costs one more try */
    char *x = tmpl + strlen(tmpl) - TMP_RAND;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t r = mix((uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_nsec ^ (uint64_t)atomic_fetch_add(&counter, 1));
    for (int attempt = 0; attempt < 100; attempt++, r = mix(r)) {
        for (int i = 0; i < TMP_RAND; i++)
            x[i] = TMP_ALPHABET[(r >> (8 * i)) % (sizeof TMP_ALPHABET - 1)];
        int fd;
        if (dir) /* 0777 and 0666: the umask decides, as for any new file */
            fd = mkdir(tmpl, 0777) == 0 ? open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        else
            fd = open(tmpl, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            /* held until the writer closes: tells zoq__clean_stale it is alive */
            flock(fd, LOCK_EX | LOCK_NB);
            return fd;
        }
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

/* Whether name is base followed by TMP_INFIX and TMP_RAND alphabet characters. */
static int is_temp_of(const char *name, const char *base, size_t blen)
{
    const size_t ilen = sizeof TMP_INFIX - 1;
    if (strncmp(name, base, blen) != 0 || strncmp(name + blen, TMP_INFIX, ilen) != 0 ||
        strlen(name + blen + ilen) != TMP_RAND)
        return 0;
    for (const char *c = name + blen + ilen; *c; c++)
        if (!strchr(TMP_ALPHABET, *c))
            return 0;
    return 1;
}

/* Splits path into its folder (copied into dir[cap]) and last component. */
static const char *split(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t len = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (len >= cap)
        return NULL;
    memcpy(dir, slash ? path : ".", len);
    dir[len] = '\0';
    return slash ? slash + 1 : path;
}

void zoq__clean_stale_in(int folder, const char *base, int dir,
                         void (*drop)(int parent, const char *name, int fd))
{
    int own = dup(folder); /* closedir closes the descriptor it was given */
    DIR *d = own >= 0 ? fdopendir(own) : NULL;
    if (!d) {
        if (own >= 0)
            close(own);
        return;
    }
    rewinddir(d); /* the copy shares the position a previous listing left at the end */
    const size_t blen = strlen(base);
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_temp_of(e->d_name, base, blen))
            continue;
        int fd = openat(folder, e->d_name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        struct stat sb;
        if (fd < 0)
            continue;
        /* a live writer holds its lock; a killed one released it */
        if (fstat(fd, &sb) == 0 && (dir ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode)) &&
            flock(fd, LOCK_EX | LOCK_NB) == 0)
            drop(folder, e->d_name, fd);
        close(fd);
    }
    closedir(d);
}

void zoq__clean_stale(const char *target, int dir, void (*drop)(int parent, const char *name,
                                                               int fd))
{
    char folder[PATH_MAX];
    const char *base = split(target, folder, sizeof folder);
    int fd = base ? open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        zoq__clean_stale_in(fd, base, dir, drop);
        close(fd);
    }
}

void zoq__drop_file(int parent, const char *name, int fd)
{
    (void)fd;
    unlinkat(parent, name, 0);
}

int zoq__afile_open(zoq__afile *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->path = path;
    size_t plen = strlen(path);
    if (!(f->tmp = malloc(plen + sizeof TMP_INFIX + TMP_RAND)))
        return zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
    zoq__clean_stale(path, 0, zoq__drop_file);
    memcpy(f->tmp, path, plen);
    memcpy(f->tmp + plen, TMP_INFIX "XXXXXX", sizeof TMP_INFIX + TMP_RAND);
    if ((f->fd = zoq__make_temp(f->tmp, 0)) < 0) {
        int e = errno;
        free(f->tmp);
        f->tmp = NULL;
        return zoq__fail(NULL, zoq__io_status(e), "cannot create a temporary file beside "
                         "'%s': %s", path, strerror(e));
    }
    /* replacing a file keeps its permissions; a new one has the umask's */
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
        fchmod(f->fd, sb.st_mode & 0777);
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

int zoq__fsync_parent(const char *path)
{
    char folder[PATH_MAX];
    if (!split(path, folder, sizeof folder))
        return zoq__fail(NULL, ZOQ_E_IO, "cannot sync the folder of '%.64s...': %s", path,
                         strerror(ENAMETOOLONG));
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    /* EINVAL, EROFS: a folder that cannot be synced (nothing to make durable) */
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return zoq__fail(NULL, zoq__io_status(e), "'%s' is in place, but its folder could "
                         "not be synced to disk: %s", path, strerror(e));
    }
    close(fd);
    return ZOQ_OK;
}

int zoq__afile_commit(zoq__afile *f)
{
    if (!f->failed && fsync(f->fd) != 0) {
        f->failed = 1;
        f->err_no = errno;
    }
    if (!f->failed && rename(f->tmp, f->path) != 0) {
        f->failed = 1;
        f->err_no = errno;
    }
    if (f->failed) {
        zoq__afile_abort(f);
        return zoq__fail(NULL, zoq__io_status(f->err_no), "cannot write '%s': %s", f->path,
                         strerror(f->err_no));
    }
    close(f->fd); /* after the rename: the lock marks the temporary as live until then */
    f->fd = -1;
    free(f->tmp);
    f->tmp = NULL;
    return zoq__fsync_parent(f->path);
}

int zoq__open_regular(const char *path, int *fd, uint64_t *size)
{
    struct stat sb;
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer */
    *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (*fd < 0 || fstat(*fd, &sb) != 0) {
        int e = errno;
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return zoq__fail(NULL, zoq__io_status(e), "cannot open '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size < 0) {
        close(*fd);
        *fd = -1;
        return zoq__fail(NULL, ZOQ_E_IO, "'%s' is not a regular file", path);
    }
    *size = (uint64_t)sb.st_size;
    return ZOQ_OK;
}

int zoq__file_read_all(const char *path, size_t max, unsigned char **data, size_t *n)
{
    int fd;
    uint64_t size;
    int rc = zoq__open_regular(path, &fd, &size);
    if (rc != ZOQ_OK)
        return rc;
    if (size > max) {
        close(fd);
        return zoq__fail(NULL, ZOQ_E_IO, "'%s' is larger than %zu bytes", path, max);
    }
    size_t len = (size_t)size, got = 0;
    unsigned char *p = malloc(len + 1);
    if (!p) {
        close(fd);
        return zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory reading '%s'", path);
    }
    while (got < len) {
        ssize_t r = read(fd, p + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != len) {
        free(p);
        return zoq__fail(NULL, ZOQ_E_IO, "short read on '%s'", path);
    }
    p[len] = '\0';
    *data = p;
    *n = len;
    return ZOQ_OK;
}

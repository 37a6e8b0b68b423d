/* error.h - the library's one error channel. Every failing function leaves
 * a message: ctx's (zoq_last_error(ctx)) where it has a context, else this
 * thread's (zoq_last_error(NULL)). */
#ifndef ZOQ_CORE_ERROR_H
#define ZOQ_CORE_ERROR_H

#include "zoq.h"

#define ZOQ__ERRMSG_CAP 256

/* Records a formatted message as ctx's last error (ctx NULL: as this
 * thread's, zoq_last_error(NULL)) and returns status. */
int zoq__fail(zoq_ctx *ctx, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Returns status; when it is a failure and err is non-NULL with cap > 0,
 * also copies this thread's message (zoq_last_error(NULL)) into err, NUL-
 * terminated: for the public calls that still take a message buffer. */
int zoq__fail_copy(int status, char *err, size_t cap);

/* Puts `prefix: ` before this thread's message (zoq_last_error(NULL)) and
 * records the result for ctx (NULL: this thread); returns status. */
int zoq__fail_wrap(zoq_ctx *ctx, int status, const char *prefix);

#endif

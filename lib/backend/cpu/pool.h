/* pool.h - a fixed set of worker threads that run numbered tasks. */
#ifndef ZOQ_CPU_POOL_H
#define ZOQ_CPU_POOL_H

#include <stddef.h>

typedef struct zoq__pool zoq__pool;

/* Creates a pool of n_threads (>= 1; the caller counts as one, so n_threads-1
 * workers). ZOQ_E_NOMEM / ZOQ_E_THREAD on failure. */
int zoq__pool_create(int n_threads, zoq__pool **out);
/* Joins the workers and frees the pool. Accepts NULL. */
void zoq__pool_destroy(zoq__pool *p);
/* Runs fn(arg, t) for every t in [0, n_tasks) across the pool (the caller
 * works too) and returns when all are done. Not reentrant. */
void zoq__pool_run(zoq__pool *p, void (*fn)(void *arg, size_t task), void *arg, size_t n_tasks);
/* Number of threads, caller included. */
int zoq__pool_threads(const zoq__pool *p);

#endif

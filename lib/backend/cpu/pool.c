/* pool.c - persistent pthread workers; tasks are claimed from an atomic
 * counter, so any thread may run any task (results must not depend on it). */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "zoq.h"

struct zoq__pool {
    int n_threads;
    pthread_t *workers;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned long generation;   /* bumped per run; workers wait for a change */
    int busy;                   /* workers still in the current run */
    int quit;
    void (*fn)(void *, size_t);
    void *arg;
    size_t n_tasks;
    atomic_size_t next;
};

static void run_tasks(zoq__pool *p)
{
    for (;;) {
        size_t t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->n_tasks)
            return;
        p->fn(p->arg, t);
    }
}

static void *worker_main(void *arg)
{
    zoq__pool *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_tasks(p);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void stop_workers(zoq__pool *p, int started)
{
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < started; i++)
        pthread_join(p->workers[i], NULL);
}

int zoq__pool_create(int n_threads, zoq__pool **out)
{
    if (n_threads < 1 || !out)
        return ZOQ_E_INVALID;
    zoq__pool *p = calloc(1, sizeof *p);
    if (!p)
        return ZOQ_E_NOMEM;
    p->n_threads = n_threads;
    atomic_init(&p->next, 0);
    if (n_threads > 1 && !(p->workers = calloc((size_t)n_threads - 1, sizeof *p->workers))) {
        free(p);
        return ZOQ_E_NOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 0; i < n_threads - 1; i++) {
        if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0) {
            stop_workers(p, i);
            p->n_threads = 1; /* nothing left to join in destroy */
            zoq__pool_destroy(p);
            return ZOQ_E_THREAD;
        }
    }
    *out = p;
    return ZOQ_OK;
}

void zoq__pool_destroy(zoq__pool *p)
{
    if (!p)
        return;
    if (p->n_threads > 1)
        stop_workers(p, p->n_threads - 1);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p);
}

void zoq__pool_run(zoq__pool *p, void (*fn)(void *arg, size_t task), void *arg, size_t n_tasks)
{
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    if (p->n_threads == 1 || n_tasks <= 1) {
        run_tasks(p);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->busy = p->n_threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p);
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

int zoq__pool_threads(const zoq__pool *p)
{
    return p->n_threads;
}

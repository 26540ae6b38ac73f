/* md_drive_all.c: many MDs driven at once -- worker threads share only the queue and what
 * they know about accounts; each job has its own pool (md_drive_one does the work). */
#include <string.h>
#include <apr_allocator.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include "md_drive_int.h"
#include "md_log.h"

/* Jobs at once in md_drive_all: pebble 2.4 can lock up with many orders in flight
 * (TESTING-NOTES.md), and real CAs rate-limit; more buys little. */
#define MD_DRIVE_CONCURRENCY_MAX 8

/* Most memory a worker thread keeps between its jobs (a job uses a few hundred KiB). */
#define MD_DRIVE_THREAD_MEM_KEEP (4 * 1024 * 1024)

typedef struct {
    md_reg_t *reg;
    const apr_array_header_t *mds;
    const md_drive_opts_t *opts;
    apr_thread_mutex_t *lock; /* guards next and failed */
    md_drive_accts_t accts;
    int next;
    apr_status_t failed;
} md_drive_queue_t;

/* Takes MDs from the queue until it is empty. */
static void drive_queue(md_drive_queue_t *q)
{
    md_drive_conn_t conn = {NULL, NULL, NULL};
    apr_allocator_t *alloc = NULL;
    apr_pool_t *p;
    apr_status_t rv;
    int i;

    /* Unmanaged pools: none is shared with other threads. They share this thread's allocator,
     * which keeps the memory one job gave back for the next: APR may map each block afresh,
     * and unmapping in a threaded process costs every CPU a TLB flush. */
    if (apr_allocator_create(&alloc) != APR_SUCCESS) {
        alloc = NULL;
    } else {
        apr_allocator_max_free_set(alloc, MD_DRIVE_THREAD_MEM_KEEP);
    }
    if (apr_pool_create_unmanaged_ex(&conn.p, NULL, alloc) != APR_SUCCESS) {
        conn.p = NULL;
    }
    for (;;) {
        apr_thread_mutex_lock(q->lock);
        i = q->next < q->mds->nelts && !md_drive_cancelled(q->opts->cancel) ? q->next++ : -1;
        apr_thread_mutex_unlock(q->lock);
        if (i < 0) {
            break;
        }
        if ((rv = apr_pool_create_unmanaged_ex(&p, NULL, alloc)) == APR_SUCCESS) {
            rv = md_drive_one(q->reg, APR_ARRAY_IDX(q->mds, i, const md_t *), q->opts, &q->accts,
                              conn.p ? &conn : NULL, p);
            apr_pool_destroy(p);
        }
        if (rv != APR_SUCCESS) {
            apr_thread_mutex_lock(q->lock);
            q->failed = q->failed == APR_SUCCESS ? rv : q->failed;
            apr_thread_mutex_unlock(q->lock);
        }
    }
    if (conn.p) {
        apr_pool_destroy(conn.p);
    }
    if (alloc) {
        apr_allocator_destroy(alloc);
    }
}

static void *APR_THREAD_FUNC drive_worker(apr_thread_t *thread, void *baton)
{
    drive_queue(baton);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

apr_status_t md_drive_all(md_reg_t *reg, const apr_array_header_t *mds, const md_drive_opts_t *opts,
                          int concurrency, apr_pool_t *p)
{
    md_drive_queue_t q;
    apr_thread_t **threads;
    apr_status_t rv, trv;
    int n, started = 0;

    n = concurrency < 1 ? 1 : concurrency;
    n = n > MD_DRIVE_CONCURRENCY_MAX ? MD_DRIVE_CONCURRENCY_MAX : n;
    n = n > mds->nelts ? mds->nelts : n;
    if (n == 0) {
        return APR_SUCCESS;
    }
    memset(&q, 0, sizeof(q));
    q.reg = reg;
    q.mds = mds;
    q.opts = opts;
    q.failed = APR_SUCCESS;
    /* the shared account strings get a pool of their own: p is not for use by the threads */
    if ((rv = apr_thread_mutex_create(&q.lock, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS ||
        (rv = apr_thread_mutex_create(&q.accts.lock, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS ||
        (rv = apr_pool_create_unmanaged_ex(&q.accts.p, NULL, NULL)) != APR_SUCCESS) {
        return rv;
    }
    threads = apr_pcalloc(p, (apr_size_t) n * sizeof(*threads));
    for (; started < n; ++started) {
        if ((rv = apr_thread_create(&threads[started], NULL, drive_worker, &q, p)) != APR_SUCCESS) {
            md_log_perror(MD_LOG_MARK, MD_LOG_WARN, rv, "drive: only %d of %d threads started",
                          started, n);
            break;
        }
    }
    if (started == 0) {
        drive_queue(&q);
    }
    for (int i = 0; i < started; ++i) {
        apr_thread_join(&trv, threads[i]);
    }
    apr_pool_destroy(q.accts.p);
    return q.failed;
}

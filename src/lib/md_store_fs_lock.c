/* md_store_fs_lock.c: the store lock of the file-system backend -- an open-file-description
 * lock on <dir>/store.lock between processes, a nested mutex between threads of one process. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_OFD_SETLK */
#endif
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "md_log.h"
#include "md_util.h"
#include "md_store.h"
#include "md_store_fs_int.h"

#define MD_FN_LOCK "store.lock"
/* How long a waiting md_store_lock sleeps between attempts. */
#define MD_STORE_LOCK_POLL apr_time_from_msec(10)

/* Invariants: the lock is held by this process exactly while st->depth > 0, and then by the
 * one thread that holds st->mutex (nested: it may take the lock again, as every store write
 * does inside an explicit md_store_lock). OFD locks belong to the open file description, not
 * the process: threads with one fd would not exclude each other (the mutex does that), and a
 * forked child must not use its parent's description (st->pid: it opens its own). */
struct md_store_lock_t {
    md_store_t *store;
    apr_pool_t *p;
    int held;
};

static int ofd_lock(int fd, short type)
{
    struct flock fl;
    int rc;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET; /* start 0, len 0: the whole file */
    do {
        rc = fcntl(fd, F_OFD_SETLK, &fl);
    } while (rc != 0 && errno == EINTR);
    return rc == 0 ? 0 : errno;
}

static apr_status_t lock_fd(md_store_fs_lockstate_t *st, const char *path)
{
    if (st->fd >= 0 && st->pid == getpid()) {
        return APR_SUCCESS;
    }
    if (st->fd >= 0) {
        close(st->fd); /* the parent's description: its lock, if any, stays the parent's */
    }
    st->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, S_IRUSR | S_IWUSR);
    st->pid = getpid();
    return st->fd >= 0 ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
}

static apr_status_t lock_release(void *baton)
{
    md_store_lock_t *lock = baton;
    md_store_fs_lockstate_t *st = md_store_fs_lockstate(lock->store);

    if (lock->held) {
        lock->held = 0;
        if (--st->depth == 0) {
            ofd_lock(st->fd, F_UNLCK);
        }
        apr_thread_mutex_unlock(st->mutex);
    }
    return APR_SUCCESS;
}

apr_status_t md_store_lock(md_store_lock_t **plock, md_store_t *store, apr_interval_time_t wait,
                           apr_pool_t *p)
{
    md_store_fs_lockstate_t *st = md_store_fs_lockstate(store);
    const char *path = apr_pstrcat(p, md_store_dir(store), "/", MD_FN_LOCK, NULL);
    apr_time_t deadline = apr_time_now() + (wait > 0 ? wait : 0), now;
    md_store_lock_t *lock;
    apr_status_t rv;
    int err = 0;

    *plock = NULL;
    while ((rv = apr_thread_mutex_trylock(st->mutex)) != APR_SUCCESS) {
        if (!APR_STATUS_IS_EBUSY(rv) || (now = apr_time_now()) >= deadline) {
            return APR_STATUS_IS_EBUSY(rv) ? APR_TIMEUP : rv;
        }
        apr_sleep(MD_STORE_LOCK_POLL);
    }
    if (st->depth == 0) {
        if ((rv = lock_fd(st, path)) != APR_SUCCESS) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot open store lock %s", path);
            apr_thread_mutex_unlock(st->mutex);
            return rv;
        }
        while ((err = ofd_lock(st->fd, F_WRLCK)) == EAGAIN || err == EACCES) {
            if ((now = apr_time_now()) >= deadline) {
                break;
            }
            apr_sleep(deadline - now < MD_STORE_LOCK_POLL ? deadline - now : MD_STORE_LOCK_POLL);
        }
        if (err != 0) {
            rv = err == EAGAIN || err == EACCES ? APR_TIMEUP : APR_FROM_OS_ERROR(err);
            md_log_perror(MD_LOG_MARK, rv == APR_TIMEUP ? MD_LOG_WARN : MD_LOG_ERR, rv,
                          "store lock %s: %s", path,
                          rv == APR_TIMEUP
                              ? apr_pstrcat(p, "held by another process for longer than ",
                                            md_duration_format(wait, p), NULL)
                              : "cannot lock it");
            apr_thread_mutex_unlock(st->mutex);
            return rv;
        }
    }
    ++st->depth;
    lock = apr_pcalloc(p, sizeof(*lock));
    lock->store = store;
    lock->p = p;
    lock->held = 1;
    apr_pool_cleanup_register(p, lock, lock_release, apr_pool_cleanup_null);
    *plock = lock;
    return APR_SUCCESS;
}

apr_status_t md_store_unlock(md_store_lock_t *lock)
{
    return lock ? apr_pool_cleanup_run(lock->p, lock, lock_release) : APR_SUCCESS;
}

apr_status_t md_store_fs_write_begin(md_store_lock_t **plock, md_store_t *store, apr_pool_t *p)
{
    apr_status_t rv = md_store_lock(plock, store, MD_STORE_WRITE_LOCK_WAIT, p);

    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv,
                      "writing to the store %s: its lock could not be taken within %s (another "
                      "a2md or httpd at work?); nothing was written",
                      md_store_dir(store), md_duration_format(MD_STORE_WRITE_LOCK_WAIT, p));
    }
    return rv;
}

/* md_store_fs_lock.c: the store lock of the file-system backend -- an fcntl write lock on
 * <dir>/store.lock that keeps concurrent a2md and httpd processes from writing at once. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "md_log.h"
#include "md_util.h"
#include "md_store.h"

#define MD_FN_LOCK "store.lock"
/* How long a waiting md_store_lock sleeps between attempts. */
#define MD_STORE_LOCK_POLL apr_time_from_msec(50)

/* Invariant: the lock is held exactly while fd is open. POSIX record locks belong to the
 * process and end when ANY descriptor of the file in it is closed, so a process takes the
 * lock once (the module serialises its threads itself). */
struct md_store_lock_t {
    apr_pool_t *p;
    int fd;
};

static apr_status_t lock_cleanup(void *baton)
{
    md_store_lock_t *lock = baton;

    if (lock->fd >= 0) {
        close(lock->fd); /* releases the fcntl lock */
        lock->fd = -1;
    }
    return APR_SUCCESS;
}

/* One attempt; 0 when taken, else errno (EAGAIN/EACCES: another process holds it). */
static int lock_try(int fd)
{
    struct flock fl;
    int rc;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET; /* start 0, len 0: the whole file */
    do {
        rc = fcntl(fd, F_SETLK, &fl);
    } while (rc != 0 && errno == EINTR);
    return rc == 0 ? 0 : errno;
}

static long lock_holder(int fd)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    return fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK ? (long) fl.l_pid : -1;
}

apr_status_t md_store_lock(md_store_lock_t **plock, md_store_t *store, apr_interval_time_t wait,
                           apr_pool_t *p)
{
    const char *path = apr_pstrcat(p, md_store_dir(store), "/", MD_FN_LOCK, NULL);
    apr_time_t deadline = apr_time_now() + (wait > 0 ? wait : 0), now;
    md_store_lock_t *lock;
    apr_status_t rv;
    int err;

    *plock = NULL;
    lock = apr_pcalloc(p, sizeof(*lock));
    lock->p = p;
    lock->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, S_IRUSR | S_IWUSR);
    if (lock->fd < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot open store lock %s", path);
        return rv;
    }
    apr_pool_cleanup_register(p, lock, lock_cleanup, apr_pool_cleanup_null);
    while ((err = lock_try(lock->fd)) == EAGAIN || err == EACCES) {
        now = apr_time_now();
        if (now >= deadline) {
            md_log_perror(MD_LOG_MARK, MD_LOG_WARN, APR_TIMEUP,
                          "store lock %s: held by process %ld for longer than %s", path,
                          lock_holder(lock->fd), md_duration_format(wait, p));
            apr_pool_cleanup_run(p, lock, lock_cleanup);
            return APR_TIMEUP;
        }
        apr_sleep(deadline - now < MD_STORE_LOCK_POLL ? deadline - now : MD_STORE_LOCK_POLL);
    }
    if (err != 0) {
        rv = APR_FROM_OS_ERROR(err);
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot lock %s", path);
        apr_pool_cleanup_run(p, lock, lock_cleanup);
        return rv;
    }
    *plock = lock;
    return APR_SUCCESS;
}

apr_status_t md_store_unlock(md_store_lock_t *lock)
{
    return lock ? apr_pool_cleanup_run(lock->p, lock, lock_cleanup) : APR_SUCCESS;
}

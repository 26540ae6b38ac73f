/* md_store_fs_lock.c: the two store locks of the file-system backend -- open-file-description
 * locks on <dir>/store.lock (root's groups) and <dir>/user.lock (the User's) between processes,
 * a nested mutex per lock between the threads of one process. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_OFD_SETLK, O_NOFOLLOW */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "md_log.h"
#include "md_util.h"
#include "md_store.h"
#include "md_store_fs_int.h"

#define MD_FN_LOCK_ROOT "store.lock"
#define MD_FN_LOCK_USER "user.lock"
/* How long a waiting md_store_lock sleeps between attempts. */
#define MD_STORE_LOCK_POLL apr_time_from_msec(10)
/* Lock files are for their owner only, whatever the umask. */
#define MD_LOCK_FILE_MODE (S_IRUSR | S_IWUSR)
/* Rounds of opening a lock file that other processes create or replace at the same moment:
 * each round loses only to one of them, so a few are plenty. */
#define MD_LOCK_OPEN_TRIES 8

/* Invariants: a lock is held by this process exactly while its state's depth > 0, and then
 * by the one thread that holds the state's mutex (nested: it may take the lock again, as
 * every store write does inside an explicit md_store_lock). OFD locks belong to the open
 * file description, not the process: threads with one fd would not exclude each other (the
 * mutex does that), and a forked child must not use its parent's description (st->pid: it
 * opens its own). A lock counts only on the file that is at its path when it is taken. */
struct md_store_lock_t {
    md_store_t *store;
    apr_pool_t *p;
    md_store_locks_t held; /* the locks this handle took and has not released */
};

static const char *lock_fname(md_store_locks_t one)
{
    return one == MD_STORE_LOCK_ROOT ? MD_FN_LOCK_ROOT : MD_FN_LOCK_USER;
}

const char *md_store_lock_path(const md_store_t *store, md_store_locks_t one, apr_pool_t *p)
{
    return apr_pstrcat(p, md_store_dir(store), "/", lock_fname(one), NULL);
}

static apr_status_t state_close(void *baton)
{
    md_store_fs_lockstate_t *st = baton;

    if (st->fd >= 0) {
        close(st->fd);
        st->fd = -1;
    }
    return APR_SUCCESS;
}

apr_status_t md_store_fs_locks_init(md_store_fs_lockstate_t *states, int n, apr_pool_t *p)
{
    apr_status_t rv;

    for (int i = 0; i < n; ++i) {
        memset(&states[i], 0, sizeof(states[i]));
        states[i].fd = -1;
        if ((rv = apr_thread_mutex_create(&states[i].mutex, APR_THREAD_MUTEX_NESTED, p)) !=
            APR_SUCCESS) {
            return rv;
        }
        apr_pool_cleanup_register(p, &states[i], state_close, apr_pool_cleanup_null);
    }
    return APR_SUCCESS;
}

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

/* ---- the lock files ---- */

/* The lock file at path, opened for writing (a link is not followed, nothing blocks), made
 * when missing; *pst says what it is. -1 and errno when it cannot be opened. */
static int lock_file_open(const char *path, struct stat *pst)
{
    int fd, err;

    for (int i = 0; i < MD_LOCK_OPEN_TRIES; ++i) {
        fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
            fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, MD_LOCK_FILE_MODE);
            if (fd < 0 && errno == EEXIST) {
                continue; /* another process made it just now: open that one */
            }
            if (fd >= 0 && fchmod(fd, MD_LOCK_FILE_MODE) != 0) {
                err = errno;
                close(fd);
                errno = err;
                return -1;
            }
        }
        if (fd >= 0 && fstat(fd, pst) != 0) {
            err = errno;
            close(fd);
            errno = err;
            return -1;
        }
        return fd;
    }
    errno = EEXIST;
    return -1;
}

/* Whether a lock file can guard root's groups: a regular file of ours, with one name, that
 * nobody else may open. Anyone who could open it could hold it, as long as they like. */
static int lock_file_is_own(const struct stat *st)
{
    return S_ISREG(st->st_mode) && st->st_uid == geteuid() && st->st_nlink == 1 &&
           (st->st_mode & (S_IRWXG | S_IRWXO)) == 0;
}

/* Whether open's errno says that what is at a lock file's path cannot be one of ours: a
 * link, a directory, a special file, or a file we may not open. */
static int lock_file_unusable(int err)
{
    return err == ELOOP || err == EISDIR || err == ENXIO || err == EACCES || err == EPERM ||
           err == EOPNOTSUPP;
}

/* Puts a new lock file of ours at path in place of what is there ('was'): made under a
 * temporary name (O_EXCL|O_NOFOLLOW: nothing planted there is followed or reused), then
 * renamed over the old one, which stays with whoever has it open and guards nothing any
 * more. Done once per store (an older version gave store.lock to the User): the new file is
 * ours and stays so. Two processes replacing the same old file at the same instant could each
 * lock a file of its own for that one time; only processes of the store's owner replace. */
static apr_status_t lock_file_replace(const char *path, const struct stat *was, apr_pool_t *p)
{
    const char *token, *tmp;
    apr_status_t rv;
    int fd, err = 0;

    if ((rv = md_store_fs_token(&token, p)) != APR_SUCCESS) {
        return rv;
    }
    tmp = apr_pstrcat(p, path, MD_FS_TMP_MARK, token, NULL);
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, MD_LOCK_FILE_MODE);
    if (fd < 0 || fchmod(fd, MD_LOCK_FILE_MODE) != 0 || rename(tmp, path) != 0) {
        err = errno;
    }
    if (fd >= 0) {
        close(fd);
    }
    if (err != 0) {
        unlink(tmp);
        rv = APR_FROM_OS_ERROR(err);
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv,
                      "store lock %s is not ours alone (uid %ld, mode %04o) and cannot be "
                      "replaced",
                      path, (long) was->st_uid, (unsigned) (was->st_mode & 07777));
        return rv;
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_WARN, APR_SUCCESS,
                  "store lock %s was not ours alone (uid %ld, mode %04o, %s): replaced by a new "
                  "one; whoever holds the old file holds nothing now",
                  path, (long) was->st_uid, (unsigned) (was->st_mode & 07777),
                  S_ISREG(was->st_mode) ? "a file" : "not a plain file");
    return APR_SUCCESS;
}

/* Opens lock 'one''s file into *pfd. Root's must be ours alone (else it is replaced); the
 * User's must be a regular file, whoever owns it. */
static apr_status_t lock_file_open_as(int *pfd, md_store_locks_t one, const char *path,
                                      apr_pool_t *p)
{
    struct stat st;
    apr_status_t rv;
    int fd;

    for (int i = 0; i < MD_LOCK_OPEN_TRIES; ++i) {
        fd = lock_file_open(path, &st);
        if (fd >= 0 && (one == MD_STORE_LOCK_USER || lock_file_is_own(&st))) {
            if (!S_ISREG(st.st_mode)) {
                close(fd);
                md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL,
                              "store lock %s: not a regular file", path);
                return APR_EINVAL;
            }
            *pfd = fd;
            return APR_SUCCESS;
        }
        if (fd >= 0) {
            close(fd);
        } else if (one == MD_STORE_LOCK_USER || !lock_file_unusable(errno) ||
                   lstat(path, &st) != 0) {
            rv = APR_FROM_OS_ERROR(errno);
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot open store lock %s", path);
            return rv;
        }
        if ((rv = lock_file_replace(path, &st, p)) != APR_SUCCESS) {
            return rv;
        }
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL,
                  "store lock %s: replaced by others each time it was opened", path);
    return APR_EGENERAL;
}

/* Whether fd can serve as lock 'one' now: it is the file at path (not one replaced or removed
 * since it was opened), and root's is still ours alone. */
static int lock_file_current(int fd, md_store_locks_t one, const char *path)
{
    struct stat open_st, path_st;

    return fstat(fd, &open_st) == 0 && lstat(path, &path_st) == 0 &&
           open_st.st_dev == path_st.st_dev && open_st.st_ino == path_st.st_ino &&
           (one == MD_STORE_LOCK_USER || lock_file_is_own(&open_st));
}

apr_status_t md_store_fs_lock_give(md_store_t *store, uid_t uid, gid_t gid, apr_pool_t *p)
{
    const char *path = md_store_lock_path(store, MD_STORE_LOCK_USER, p);
    apr_status_t rv = APR_SUCCESS;
    struct stat st;
    int fd = lock_file_open(path, &st);

    if (fd < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot open store lock %s", path);
        return rv;
    }
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
        rv = APR_EINVAL;
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv,
                      "store lock %s: not a regular file with one name; not given away", path);
    } else if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot chown %s", path);
    }
    close(fd);
    return rv;
}

/* ---- one lock ---- */

/* Takes the lock file's OFD lock for this process (st->mutex held, depth 0), polling until
 * the deadline: APR_TIMEUP when another process holds it that long. */
static apr_status_t lock_file_take(md_store_fs_lockstate_t *st, md_store_locks_t one,
                                   const char *path, apr_time_t deadline, apr_pool_t *p)
{
    apr_time_t now;
    apr_status_t rv;
    int err;

    for (;;) {
        if (st->fd >= 0 && st->pid != getpid()) {
            close(st->fd); /* the parent's description: its lock, if any, stays the parent's */
            st->fd = -1;
        }
        if (st->fd < 0) {
            if ((rv = lock_file_open_as(&st->fd, one, path, p)) != APR_SUCCESS) {
                return rv;
            }
            st->pid = getpid();
        }
        if ((err = ofd_lock(st->fd, F_WRLCK)) == 0) {
            if (lock_file_current(st->fd, one, path)) {
                return APR_SUCCESS;
            }
            state_close(st); /* gone from its path, or open to others: opened anew */
            continue;
        }
        if (err != EAGAIN && err != EACCES) {
            rv = APR_FROM_OS_ERROR(err);
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "store lock %s: cannot lock it", path);
            return rv;
        }
        if ((now = apr_time_now()) >= deadline) {
            return APR_TIMEUP;
        }
        apr_sleep(deadline - now < MD_STORE_LOCK_POLL ? deadline - now : MD_STORE_LOCK_POLL);
    }
}

static apr_status_t lock_one(md_store_t *store, md_store_locks_t one, apr_time_t deadline,
                             apr_interval_time_t wait, apr_pool_t *p)
{
    md_store_fs_lockstate_t *st = md_store_fs_lockstate(store, one);
    const char *path = md_store_lock_path(store, one, p);
    apr_status_t rv;

    while ((rv = apr_thread_mutex_trylock(st->mutex)) != APR_SUCCESS) {
        if (!APR_STATUS_IS_EBUSY(rv) || apr_time_now() >= deadline) {
            return APR_STATUS_IS_EBUSY(rv) ? APR_TIMEUP : rv;
        }
        apr_sleep(MD_STORE_LOCK_POLL);
    }
    if (st->depth == 0 && (rv = lock_file_take(st, one, path, deadline, p)) != APR_SUCCESS) {
        if (rv == APR_TIMEUP) {
            md_log_perror(MD_LOG_MARK, MD_LOG_WARN, rv,
                          "store lock %s: held by another process for longer than %s", path,
                          md_duration_format(wait, p));
        }
        apr_thread_mutex_unlock(st->mutex);
        return rv;
    }
    ++st->depth;
    return APR_SUCCESS;
}

static void unlock_one(md_store_t *store, md_store_locks_t one)
{
    md_store_fs_lockstate_t *st = md_store_fs_lockstate(store, one);

    if (--st->depth == 0) {
        ofd_lock(st->fd, F_UNLCK);
    }
    apr_thread_mutex_unlock(st->mutex);
}

/* Whether the calling thread holds lock 'one' (a nested mutex lets its holder in again). */
static int held_here(md_store_t *store, md_store_locks_t one)
{
    md_store_fs_lockstate_t *st = md_store_fs_lockstate(store, one);
    int held;

    if (apr_thread_mutex_trylock(st->mutex) != APR_SUCCESS) {
        return 0;
    }
    held = st->depth > 0;
    apr_thread_mutex_unlock(st->mutex);
    return held;
}

/* ---- the interface ---- */

static apr_status_t lock_release(void *baton)
{
    md_store_lock_t *lock = baton;

    /* the reverse of the order they are taken in */
    if (lock->held & MD_STORE_LOCK_USER) {
        unlock_one(lock->store, MD_STORE_LOCK_USER);
    }
    if (lock->held & MD_STORE_LOCK_ROOT) {
        unlock_one(lock->store, MD_STORE_LOCK_ROOT);
    }
    lock->held = 0;
    return APR_SUCCESS;
}

apr_status_t md_store_lock(md_store_lock_t **plock, md_store_t *store, md_store_locks_t which,
                           apr_interval_time_t wait, apr_pool_t *p)
{
    static const md_store_locks_t order[] = {MD_STORE_LOCK_ROOT, MD_STORE_LOCK_USER};
    apr_time_t deadline = apr_time_now() + (wait > 0 ? wait : 0);
    md_store_lock_t *lock;
    apr_status_t rv;

    *plock = NULL;
    if (which == 0 || (which & ~MD_STORE_LOCK_BOTH) != 0) {
        return APR_EINVAL;
    }
    if ((which & MD_STORE_LOCK_ROOT) && !held_here(store, MD_STORE_LOCK_ROOT) &&
        held_here(store, MD_STORE_LOCK_USER)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL,
                      "store lock %s asked for while holding %s: root's lock is taken first",
                      md_store_lock_path(store, MD_STORE_LOCK_ROOT, p),
                      md_store_lock_path(store, MD_STORE_LOCK_USER, p));
        return APR_EINVAL;
    }
    lock = apr_pcalloc(p, sizeof(*lock));
    lock->store = store;
    lock->p = p;
    for (apr_size_t i = 0; i < sizeof(order) / sizeof(order[0]); ++i) {
        if (!(which & order[i])) {
            continue;
        }
        if ((rv = lock_one(store, order[i], deadline, wait, p)) != APR_SUCCESS) {
            lock_release(lock);
            return rv;
        }
        lock->held |= order[i];
    }
    apr_pool_cleanup_register(p, lock, lock_release, apr_pool_cleanup_null);
    *plock = lock;
    return APR_SUCCESS;
}

apr_status_t md_store_unlock(md_store_lock_t *lock)
{
    return lock ? apr_pool_cleanup_run(lock->p, lock, lock_release) : APR_SUCCESS;
}

apr_status_t md_store_fs_write_begin(md_store_lock_t **plock, md_store_t *store,
                                     md_store_locks_t which, apr_pool_t *p)
{
    apr_status_t rv = md_store_lock(plock, store, which, MD_STORE_WRITE_LOCK_WAIT, p);

    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv,
                      "writing to the store %s: its lock could not be taken within %s (another "
                      "a2md or httpd at work?); nothing was written",
                      md_store_dir(store), md_duration_format(MD_STORE_WRITE_LOCK_WAIT, p));
    }
    return rv;
}

/* md_store_fs_own.c: handing the User's part of the store to the server's User, once -- when a
 * group directory is not the User's yet -- walking only by directory fds, never by path. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_NOFOLLOW, O_DIRECTORY with C11 */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "md_log.h"
#include "md_store.h"
#include "md_store_fs_int.h"

/* Deeper than any store entry goes (group/entry/file); a deeper tree is not ours to fix. */
#define MD_OWN_MAX_DEPTH 4

/* Chowns what dfd holds, then the directory itself. Entries are opened without following
 * links; a file is chowned only through its own descriptor after fstat shows a regular file
 * with one link (a hard link planted to a file elsewhere is left alone), a directory only
 * after opening it as one. Symbolic links, FIFOs and the like are skipped. */
static apr_status_t own_dir(int dfd, const char *path, uid_t uid, gid_t gid, int depth,
                            apr_pool_t *p)
{
    struct dirent *de;
    struct stat st;
    apr_status_t rv = APR_SUCCESS;
    DIR *dir;
    int fd, err;

    if (depth > MD_OWN_MAX_DEPTH || (fd = dup(dfd)) < 0 || !(dir = fdopendir(fd))) {
        return depth > MD_OWN_MAX_DEPTH ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
    }
    while (rv == APR_SUCCESS && (de = readdir(dir)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
            continue;
        }
        fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            err = errno;
            if (err != ELOOP && err != ENOENT && err != ENXIO) {
                rv = APR_FROM_OS_ERROR(err);
                md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot open %s/%s", path, de->d_name);
            }
            continue; /* a symbolic link (ELOOP) or a socket: not followed, not changed */
        }
        if (fstat(fd, &st) != 0) {
            rv = APR_FROM_OS_ERROR(errno);
        } else if (S_ISDIR(st.st_mode)) {
            rv = own_dir(fd, apr_pstrcat(p, path, "/", de->d_name, NULL), uid, gid, depth + 1, p);
        } else if (S_ISREG(st.st_mode) && st.st_nlink == 1) {
            if (fchown(fd, uid, gid) != 0) {
                rv = APR_FROM_OS_ERROR(errno);
                md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot chown %s/%s", path, de->d_name);
            }
        }
        close(fd);
    }
    closedir(dir);
    if (rv == APR_SUCCESS && fchown(dfd, uid, gid) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot chown %s", path);
    }
    return rv;
}

static apr_status_t give_group(md_store_t *store, md_store_group_t group, uid_t uid, gid_t gid,
                               apr_pool_t *p)
{
    apr_status_t rv;
    const char *dir = md_store_fs_group_dir(&rv, store, group, 1, p);
    struct stat st;
    int fd;

    if (!dir) {
        return rv;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot open %s (a directory, not a link)", dir);
        return rv;
    }
    if (fstat(fd, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
    } else if (st.st_uid == uid && st.st_gid == gid) {
        rv = APR_SUCCESS; /* given before: what is inside is the User's own doing */
    } else if (st.st_uid != 0 && st.st_uid != geteuid()) {
        /* the User of an earlier configuration could write here: walking it could be led
         * anywhere by links; only the directory itself changes hands */
        rv = fchown(fd, uid, gid) == 0 ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
        md_log_perror(MD_LOG_MARK, MD_LOG_WARN, rv,
                      "%s belonged to uid %ld: only the directory is given to uid %ld, its "
                      "entries stay as they are",
                      dir, (long) st.st_uid, (long) uid);
    } else {
        /* ours until now: nobody else could have planted anything in it */
        rv = own_dir(fd, dir, uid, gid, 1, p);
        md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, rv, "gave %s to uid %ld", dir, (long) uid);
    }
    close(fd);
    return rv;
}

apr_status_t md_store_fs_give_user(md_store_t *store, uid_t uid, gid_t gid, apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;

    for (int g = 0; rv == APR_SUCCESS && g < MD_SG_COUNT; ++g) {
        if (md_store_group_lock((md_store_group_t) g) == MD_STORE_LOCK_USER) {
            rv = give_group(store, (md_store_group_t) g, uid, gid, p);
        }
    }
    return rv == APR_SUCCESS ? md_store_fs_lock_give(store, uid, gid, p) : rv;
}

/* md_store_fs_write.c: writing and removing store files by directory descriptors -- a root
 * a2md or parent writing where the server's User can write never follows a link it planted. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_NOFOLLOW, O_DIRECTORY with C11 */
#endif
#include <errno.h>
#include <stdio.h> /* renameat */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "md_log.h"
#include "md_util.h"
#include "md_store.h"
#include "md_store_fs_int.h"

static apr_status_t invalid_name(md_store_group_t group, const char *name, const char *aspect)
{
    md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "invalid store name %s/%s/%s",
                  md_store_group_name(group), name ? name : "(null)", aspect ? aspect : "(null)");
    return APR_EINVAL;
}

/* The entry directory of group/name, opened by md_store_fs_open_entry; -1 with *prv set
 * (logged, but for a missing entry when it is not to be made). */
static int entry_fd(apr_status_t *prv, md_store_t *store, md_store_group_t group, const char *name,
                    int create, apr_pool_t *p)
{
    const char *err;
    int gfd, efd;

    *prv = md_store_fs_open_entry(&gfd, &efd, &err, store, group, name, create, p);
    if (gfd >= 0) {
        close(gfd);
    }
    if (*prv == APR_SUCCESS) {
        return efd;
    }
    if (efd >= 0) {
        close(efd);
    }
    if (!APR_STATUS_IS_EINVAL(*prv) && !(APR_STATUS_IS_ENOENT(*prv) && !create)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, *prv, "cannot open store directory %s",
                      err ? err : md_store_path(store, group, name, NULL, p));
    }
    return -1;
}

/* data into a new file tmp in efd with exactly perms, synced when durable. */
static apr_status_t write_tmp(const char **pstep, int efd, const char *tmp, const void *data,
                              apr_size_t len, apr_fileperms_t perms, int durable)
{
    const char *at = data;
    ssize_t n;
    int fd, err = 0;

    *pstep = "creating a temporary file for";
    fd = openat(efd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, S_IRUSR | S_IWUSR);
    if (fd < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    *pstep = "setting permissions of the temporary file for";
    if (fchmod(fd, md_perms_mode(perms)) != 0) {
        err = errno;
    }
    *pstep = "writing";
    while (!err && len > 0) {
        if ((n = write(fd, at, len)) < 0) {
            err = errno == EINTR ? 0 : errno;
            continue;
        }
        at += n;
        len -= (apr_size_t) n;
    }
    if (!err && durable) {
        *pstep = "syncing";
        err = fsync(fd) == 0 ? 0 : errno;
    }
    if (close(fd) != 0 && !err) {
        *pstep = "closing";
        err = errno;
    }
    return APR_FROM_OS_ERROR(err);
}

apr_status_t md_store_fs_write(md_store_t *store, md_store_group_t group, const char *name,
                               const char *aspect, const void *data, apr_size_t len,
                               apr_fileperms_t perms, int durable, apr_pool_t *p)
{
    const char *path = md_store_path(store, group, name, aspect, p), *step = "opening", *token;
    const char *tmp;
    apr_status_t rv;
    int efd;

    if (!path || !aspect) {
        return invalid_name(group, name, aspect);
    }
    if ((efd = entry_fd(&rv, store, group, name, 1, p)) < 0) {
        return rv;
    }
    if ((rv = md_store_fs_token(&token, p)) == APR_SUCCESS) {
        tmp = apr_pstrcat(p, aspect, MD_FS_TMP_MARK, token, NULL);
        rv = write_tmp(&step, efd, tmp, data, len, perms, durable);
        if (rv == APR_SUCCESS) {
            step = "renaming the temporary file to";
            rv = renameat(efd, tmp, efd, aspect) == 0 ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
        }
        if (rv != APR_SUCCESS) {
            unlinkat(efd, tmp, 0);
        } else if (durable && fsync(efd) != 0) {
            step = "syncing the directory of";
            rv = APR_FROM_OS_ERROR(errno);
        }
    }
    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s %s", step, path);
    }
    close(efd);
    return rv;
}

apr_status_t md_store_fs_unlink(md_store_t *store, md_store_group_t group, const char *name,
                                const char *aspect, apr_pool_t *p)
{
    const char *path = md_store_path(store, group, name, aspect, p);
    apr_status_t rv;
    int efd;

    if (!path || !aspect) {
        return invalid_name(group, name, aspect);
    }
    if ((efd = entry_fd(&rv, store, group, name, 0, p)) < 0) {
        return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
    }
    /* a link planted in place of the file goes, never what it points to */
    rv = unlinkat(efd, aspect, 0) == 0 || errno == ENOENT ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot remove %s", path);
    }
    close(efd);
    return rv;
}

/* md_store_fs_safe.c: reading, listing and removing in the store by directory descriptors --
 * no symbolic link followed, no special file opened, no file of a stranger taken for ours. */
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
#include "md_util.h"

/* Every file the store holds is small: a chain of a few certificates, a key, md.json, a job
 * with its short log. Anything bigger was put there by someone else. */
#define MD_STORE_FILE_MAX (256 * 1024)
/* How deep md_store_fs_rmtree goes (an entry holds files, never subtrees of its own). */
#define MD_RMTREE_MAX_DEPTH 8

int md_store_fs_open_dir(const char *path)
{
    return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* A refusal: logged at error level with the file and the reason, answered APR_EINVAL. */
static apr_status_t refuse(const char **perr, const char *path, const char *why, apr_pool_t *p)
{
    *perr = apr_psprintf(p, "%s: %s: refused", path, why);
    md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "%s", *perr);
    return APR_EINVAL;
}

static apr_status_t open_error(const char **perr, const char *path, int err, int is_dir,
                               apr_pool_t *p)
{
    char buf[128];

    if (err == ELOOP || (is_dir && err == ENOTDIR)) {
        return refuse(perr, path, is_dir ? "not a directory (a symbolic link?)" : "a symbolic link",
                      p);
    }
    *perr = apr_psprintf(p, "%s: %s", path, apr_strerror(APR_FROM_OS_ERROR(err), buf, sizeof(buf)));
    return APR_FROM_OS_ERROR(err);
}

apr_status_t md_store_fs_open_entry(int *pgfd, int *pefd, const char **perr, md_store_t *store,
                                    md_store_group_t group, const char *name, int create,
                                    apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;
    const char *gdir = md_store_fs_group_dir(&rv, store, group, create, p);
    mode_t mode = md_perms_mode(md_store_fs_dir_perms(group));
    int err, made = 0;

    *pgfd = *pefd = -1;
    *perr = NULL;
    if (!gdir) {
        *perr = "cannot create the group directory (see above)";
        return rv;
    }
    if ((*pgfd = md_store_fs_open_dir(gdir)) < 0) {
        err = errno;
        return open_error(perr, gdir, err, 1, p);
    }
    /* made with the group's permissions, not narrowed by the umask (fchmod below) */
    if (create && !(made = mkdirat(*pgfd, name, mode) == 0) && errno != EEXIST) {
        err = errno;
        return open_error(perr, md_store_path(store, group, name, NULL, p), err, 1, p);
    }
    if ((*pefd = openat(*pgfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        err = errno;
        return open_error(perr, md_store_path(store, group, name, NULL, p), err, 1, p);
    }
    if (made && fchmod(*pefd, mode) != 0) {
        err = errno;
        return open_error(perr, md_store_path(store, group, name, NULL, p), err, 1, p);
    }
    return APR_SUCCESS;
}

apr_status_t md_store_fs_read(char **pdata, apr_size_t *plen, const char **perr, md_store_t *store,
                              md_store_group_t group, const char *name, const char *aspect,
                              apr_pool_t *p)
{
    const char *gdir = md_store_fs_group_dir(&(apr_status_t){0}, store, group, 0, p);
    const char *path = md_store_path(store, group, name, aspect, p);
    struct stat gst, st;
    apr_status_t rv = APR_SUCCESS;
    int gfd = -1, efd = -1, fd = -1;
    ssize_t n;
    size_t got = 0;
    char *buf;

    *pdata = NULL;
    *perr = NULL;
    if (!path || !aspect) {
        *perr = "invalid store name";
        return APR_EINVAL;
    }
    if ((rv = md_store_fs_open_entry(&gfd, &efd, perr, store, group, name, 0, p)) != APR_SUCCESS) {
        goto out;
    }
    /* O_NONBLOCK: a FIFO planted in place of a file must not hang the reader */
    if ((fd = openat(efd, aspect, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
        rv = open_error(perr, path, errno, 0, p);
        goto out;
    }
    if (fstat(fd, &st) != 0 || fstat(gfd, &gst) != 0) {
        rv = open_error(perr, path, errno, 0, p);
    } else if (!S_ISREG(st.st_mode)) {
        rv = refuse(perr, path, "not a regular file", p);
    } else if (st.st_nlink != 1) {
        rv = refuse(perr, path, "a file with other links (a hard link into the store)", p);
    } else if (st.st_uid != 0 && st.st_uid != geteuid() && st.st_uid != gst.st_uid) {
        rv = refuse(perr, path,
                    apr_psprintf(p, "owned by uid %ld, not by root or the owner of %s",
                                 (long) st.st_uid, gdir),
                    p);
    } else if (st.st_size > MD_STORE_FILE_MAX) {
        rv =
            refuse(perr, path, apr_psprintf(p, "larger than %d bytes", (int) MD_STORE_FILE_MAX), p);
    }
    if (rv != APR_SUCCESS) {
        goto out;
    }
    buf = apr_palloc(p, (apr_size_t) st.st_size + 1);
    while (got < (size_t) st.st_size && ((n = read(fd, buf + got, (size_t) st.st_size - got)) > 0 ||
                                         (n < 0 && errno == EINTR))) {
        got += n > 0 ? (size_t) n : 0;
    }
    buf[got] = '\0';
    *pdata = buf;
    *plen = got;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (efd >= 0) {
        close(efd);
    }
    if (gfd >= 0) {
        close(gfd);
    }
    return rv;
}

apr_status_t md_store_fs_sync_entry(const char *path)
{
    struct dirent *de;
    struct stat st;
    apr_status_t rv = APR_SUCCESS;
    DIR *dir;
    int dfd, fd;

    if ((dfd = md_store_fs_open_dir(path)) < 0 || (fd = dup(dfd)) < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        if (dfd >= 0) {
            close(dfd);
        }
        return rv;
    }
    if (!(dir = fdopendir(fd))) {
        rv = APR_FROM_OS_ERROR(errno);
        close(fd);
        close(dfd);
        return rv;
    }
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') {
            continue; /* ".", "..", hidden: not part of the set */
        }
        fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            rv = errno == ELOOP ? rv : APR_FROM_OS_ERROR(errno); /* a link: nothing of ours */
            continue;
        }
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && fsync(fd) != 0) {
            rv = APR_FROM_OS_ERROR(errno);
        }
        close(fd);
    }
    closedir(dir);
    if (fsync(dfd) != 0 && errno != EINVAL) {
        rv = APR_FROM_OS_ERROR(errno);
    }
    close(dfd);
    return rv;
}

/* Removes what dfd holds: files and links are unlinked (a link, never what it points to),
 * directories opened as directories without following links and emptied the same way. */
static apr_status_t rm_within(int dfd, int depth)
{
    struct dirent *de;
    apr_status_t rv = APR_SUCCESS;
    DIR *dir;
    int fd, sub;

    if (depth > MD_RMTREE_MAX_DEPTH) {
        return APR_EINVAL;
    }
    if ((fd = dup(dfd)) < 0 || !(dir = fdopendir(fd))) {
        if (fd >= 0) {
            close(fd);
        }
        return APR_FROM_OS_ERROR(errno);
    }
    while ((de = readdir(dir)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
            continue;
        }
        if (unlinkat(dfd, de->d_name, 0) == 0 || errno == ENOENT) {
            continue;
        }
        if (errno != EISDIR && errno != EPERM) {
            rv = APR_FROM_OS_ERROR(errno);
            continue;
        }
        if ((sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
            rv = APR_FROM_OS_ERROR(errno);
            continue;
        }
        if (rm_within(sub, depth + 1) != APR_SUCCESS ||
            (unlinkat(dfd, de->d_name, AT_REMOVEDIR) != 0 && errno != ENOENT)) {
            rv = APR_FROM_OS_ERROR(errno ? errno : EINVAL);
        }
        close(sub);
    }
    closedir(dir);
    return rv;
}

apr_status_t md_store_fs_rmtree(const char *path)
{
    const char *slash = strrchr(path, '/');
    char parent[4096];
    apr_status_t rv;
    int pfd, fd;

    if (!slash || (size_t) (slash - path) >= sizeof(parent)) {
        return APR_EINVAL;
    }
    memcpy(parent, path, (size_t) (slash - path));
    parent[slash - path] = '\0';
    if ((pfd = md_store_fs_open_dir(slash == path ? "/" : parent)) < 0) {
        return errno == ENOENT ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
    }
    fd = openat(pfd, slash + 1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        /* gone already, or a file or link in the place of a directory: that goes alone */
        rv = errno == ENOENT || (unlinkat(pfd, slash + 1, 0) == 0) ? APR_SUCCESS
                                                                   : APR_FROM_OS_ERROR(errno);
        close(pfd);
        return rv;
    }
    rv = rm_within(fd, 1);
    close(fd);
    if (rv == APR_SUCCESS && unlinkat(pfd, slash + 1, AT_REMOVEDIR) != 0 && errno != ENOENT) {
        rv = APR_FROM_OS_ERROR(errno);
    }
    close(pfd);
    return rv;
}

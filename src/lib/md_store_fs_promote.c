/* md_store_fs_promote.c: replacing whole entries of the file-system store -- archiving
 * domains/<name>, promoting a staged or live set into domains/, publishing staging as live. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* renameat2 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "md_cert.h"
#include "md_log.h"
#include "md_util.h"
#include "md_store.h"
#include "md_store_fs_int.h"

#define MD_PEM_EXT ".pem"
/* Archive numbers tried before giving up (a store with this many archives of one name is
 * broken in some other way). */
#define MD_ARCHIVE_MAX_N 100000

/* glibc >= 2.28 declares renameat2; older ones only have the system call. */
#ifndef RENAME_EXCHANGE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
static int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
                     unsigned int flags)
{
    return (int) syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
}
#endif

/* 0 or the errno of renameat2. */
static int rename_flags(const char *from, const char *to, unsigned int flags)
{
    return renameat2(AT_FDCWD, from, AT_FDCWD, to, flags) == 0 ? 0 : errno;
}

/* Kernels or file systems without renameat2 flags answer EINVAL or ENOSYS. */
static int flags_unsupported(int err)
{
    return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP;
}

/* Renames from to 'to' unless 'to' exists (EEXIST then). Without RENAME_NOREPLACE support
 * the check and the rename are two steps; the group's store lock keeps other writers out. */
static int rename_noreplace(const char *from, const char *to)
{
    struct stat st;
    int err = rename_flags(from, to, RENAME_NOREPLACE);

    if (flags_unsupported(err)) {
        if (lstat(to, &st) == 0) {
            return EEXIST;
        }
        err = rename(from, to) == 0 ? 0 : errno;
    }
    return err;
}

static int is_dir(const char *path, apr_pool_t *p)
{
    apr_finfo_t fi;

    return apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_LINK, p) == APR_SUCCESS &&
           fi.filetype == APR_DIR;
}

static const char *parent_dir(const char *path, apr_pool_t *p)
{
    const char *slash = strrchr(path, '/');

    return slash ? apr_pstrndup(p, path, (apr_size_t) (slash - path)) : ".";
}

/* Moves directory 'from' to archive/<name>.<n>, n the first free number from 1. */
static apr_status_t move_to_archive(const char **parchived, md_store_t *store, const char *name,
                                    const char *from, apr_pool_t *p)
{
    const char *archive_dir, *aname, *to;
    apr_status_t rv;
    int err = EEXIST;

    *parchived = NULL;
    if (!(archive_dir = md_store_fs_group_dir(&rv, store, MD_SG_ARCHIVE, 1, p))) {
        return rv;
    }
    for (int n = 1; n <= MD_ARCHIVE_MAX_N && (err == EEXIST || err == ENOTEMPTY); ++n) {
        aname = apr_psprintf(p, "%s.%d", name, n);
        to = apr_pstrcat(p, archive_dir, "/", aname, NULL);
        err = rename_noreplace(from, to);
    }
    if (err != 0) {
        rv = APR_FROM_OS_ERROR(err);
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot move %s to %s/", from, archive_dir);
        return rv;
    }
    if ((rv = md_dir_sync(archive_dir, p)) == APR_SUCCESS) {
        rv = md_dir_sync(parent_dir(from, p), p);
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, rv, "%s: moved %s to archive/%s", name, from, aname);
    *parchived = aname;
    return rv;
}

static apr_status_t archive_unlocked(const char **parchived, md_store_t *store, const char *name,
                                     apr_pool_t *p)
{
    const char *from = md_store_path(store, MD_SG_DOMAINS, name, NULL, p);

    *parchived = NULL;
    if (!from) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "archive: invalid name %s",
                      name ? name : "(null)");
        return APR_EINVAL;
    }
    if (!is_dir(from, p)) {
        return APR_ENOENT;
    }
    return move_to_archive(parchived, store, name, from, p);
}

apr_status_t md_store_archive(const char **parchived, md_store_t *store, const char *name,
                              apr_pool_t *p)
{
    apr_status_t rv;

    MD_STORE_WRITE_LOCKED(rv, store, md_store_group_lock(MD_SG_ARCHIVE), p,
                          archive_unlocked(parchived, store, name, p));
    return rv;
}

static apr_status_t rename_unlocked(md_store_t *store, md_store_group_t group, const char *from,
                                    const char *to, apr_pool_t *p)
{
    const char *src = md_store_path(store, group, from, NULL, p);
    const char *dst = md_store_path(store, group, to, NULL, p);
    int err;

    if (!src || !dst) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "rename: invalid name %s or %s",
                      from ? from : "(null)", to ? to : "(null)");
        return APR_EINVAL;
    }
    if (!is_dir(src, p)) {
        return APR_ENOENT;
    }
    if ((err = rename_noreplace(src, dst)) != 0) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_FROM_OS_ERROR(err), "rename %s to %s failed",
                      src, dst);
        return APR_FROM_OS_ERROR(err);
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_SUCCESS, "renamed %s to %s", src, dst);
    return md_dir_sync(parent_dir(dst, p), p);
}

apr_status_t md_store_rename(md_store_t *store, md_store_group_t group, const char *from,
                             const char *to, apr_pool_t *p)
{
    apr_status_t rv;

    MD_STORE_WRITE_LOCKED(rv, store, md_store_group_lock(group), p,
                          rename_unlocked(store, group, from, to, p));
    return rv;
}

/* ---- promote ---- */

/* md.json of the new set: the current one (the registry's, in root's domains/), else the
 * source's, read like every file of a group the server's User may write (md_store_load_json:
 * no link followed, a regular file of bounded size). */
static apr_status_t copy_md_json(md_store_t *store, md_store_group_t source, const char *name,
                                 const char *dir, apr_pool_t *p)
{
    md_store_group_t from = MD_SG_DOMAINS;
    const char *err = NULL, *dst = apr_pstrcat(p, dir, "/", MD_FN_MD, NULL);
    md_json_t *j;
    apr_status_t rv = md_store_load_json(&j, &err, store, from, name, MD_FN_MD, p);

    if (APR_STATUS_IS_ENOENT(rv)) {
        from = source;
        rv = md_store_load_json(&j, &err, store, from, name, MD_FN_MD, p);
        if (APR_STATUS_IS_ENOENT(rv)) {
            md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_SUCCESS, "%s: promote without %s", name,
                          MD_FN_MD);
            return APR_SUCCESS;
        }
    }
    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s: cannot read %s/%s/%s: %s", name,
                      md_store_group_name(from), name, MD_FN_MD, err ? err : "see above");
        return rv;
    }
    if ((rv = md_json_write_file(j, dst, MD_FS_FILE_PRIVATE, p)) != APR_SUCCESS) {
        return rv;
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, rv, "%s: new set takes %s from %s", name, MD_FN_MD,
                  md_store_group_name(from));
    return rv;
}

/* Fills dir with the new set: md.json and, per entry of the verified set, its key (plain now)
 * and its chain -- each chain checked once more to be its key's. */
static apr_status_t build_new_set(md_store_t *store, md_store_group_t src, const char *name,
                                  const apr_array_header_t *set, const char *dir, apr_pool_t *p)
{
    apr_status_t rv = copy_md_json(store, src, name, dir, p);

    for (int i = 0; rv == APR_SUCCESS && i < set->nelts; ++i) {
        const md_set_entry_t *e = APR_ARRAY_IDX(set, i, const md_set_entry_t *);
        const char *suffix = md_pkey_spec_file_suffix(e->spec, p);
        if (!e->chain || e->chain->nelts == 0 || !e->key ||
            !md_cert_matches_key(APR_ARRAY_IDX(e->chain, 0, const md_cert_t *), e->key)) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL,
                          "%s: not promoting: the %s certificate is not for its private key", name,
                          md_pkey_spec_name(e->spec, p));
            return APR_EINVAL;
        }
        if ((rv = md_pkey_save(e->key,
                               apr_pstrcat(p, dir, "/", MD_FN_PRIVKEY, suffix, MD_PEM_EXT, NULL),
                               NULL, 0, p)) == APR_SUCCESS) {
            rv = md_chain_save(
                e->chain, apr_pstrcat(p, dir, "/", MD_FN_PUBCERT, suffix, MD_PEM_EXT, NULL), p);
        }
    }
    if (rv == APR_SUCCESS) {
        rv = md_dir_sync(dir, p);
    }
    return rv;
}

/* Makes a rename durable; the rename itself already happened, so a failure is only told. */
static void sync_after_rename(const char *dir, const char *name, apr_pool_t *p)
{
    apr_status_t rv = md_dir_sync(dir, p);

    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_WARN, rv, "%s: cannot sync %s", name, dir);
    }
}

/* Puts the complete set in 'fresh' at domains/<name>. With an existing set the two are
 * exchanged atomically and the old one (now at 'fresh') goes to the archive. Fails only
 * when domains/<name> is as it was and 'fresh' still holds the new set. */
static apr_status_t install_set(const char **parchived, md_store_t *store, const char *name,
                                const char *fresh, apr_pool_t *p)
{
    const char *domains_dir, *cur, *archived;
    apr_status_t rv;
    int err;

    *parchived = NULL;
    if (!(domains_dir = md_store_fs_group_dir(&rv, store, MD_SG_DOMAINS, 1, p))) {
        return rv;
    }
    cur = md_store_path(store, MD_SG_DOMAINS, name, NULL, p);
    if (!is_dir(cur, p)) {
        if ((err = rename_noreplace(fresh, cur)) != 0) {
            rv = APR_FROM_OS_ERROR(err);
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s: cannot rename %s to %s", name, fresh,
                          cur);
            return rv;
        }
        sync_after_rename(domains_dir, name, p);
        md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_SUCCESS, "%s: installed first set", name);
        return APR_SUCCESS;
    }
    err = rename_flags(fresh, cur, RENAME_EXCHANGE);
    if (err == 0) {
        sync_after_rename(domains_dir, name, p);
        md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_SUCCESS, "%s: exchanged %s with %s", name, cur,
                      fresh);
        if (move_to_archive(parchived, store, name, fresh, p) != APR_SUCCESS) {
            /* the new set is live; the old one just waits in tmp/ */
            md_log_perror(MD_LOG_MARK, MD_LOG_WARN, APR_SUCCESS,
                          "%s: new set installed, the previous one stays in %s", name, fresh);
        }
        return APR_SUCCESS;
    }
    if (!flags_unsupported(err)) {
        rv = APR_FROM_OS_ERROR(err);
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s: cannot exchange %s with %s", name, fresh,
                      cur);
        return rv;
    }
    /* No atomic exchange on this file system: between the two renames domains/<name> is
     * missing for a moment. A crash right there leaves the old set in archive/ and the new
     * one in tmp/; the staged set is still there to be promoted again. */
    md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_FROM_OS_ERROR(err),
                  "%s: no RENAME_EXCHANGE here, archiving first", name);
    if ((rv = move_to_archive(parchived, store, name, cur, p)) != APR_SUCCESS) {
        return rv;
    }
    if ((err = rename_noreplace(fresh, cur)) != 0) {
        rv = APR_FROM_OS_ERROR(err);
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s: cannot rename %s to %s", name, fresh, cur);
        archived = md_store_path(store, MD_SG_ARCHIVE, *parchived, NULL, p);
        if (rename_noreplace(archived, cur) == 0) { /* put the old set back */
            *parchived = NULL;
        }
        return rv;
    }
    sync_after_rename(domains_dir, name, p);
    return APR_SUCCESS;
}

static apr_status_t promote_unlocked(const char **parchived, md_store_t *store,
                                     md_store_group_t from, const char *name,
                                     const apr_array_header_t *set, apr_pool_t *p)
{
    const char *staged, *tmp_dir, *token, *fresh;
    apr_status_t rv;

    *parchived = NULL;
    if ((from != MD_SG_STAGING && from != MD_SG_LIVE) ||
        !(staged = md_store_path(store, from, name, NULL, p))) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "promote: invalid name %s",
                      name ? name : "(null)");
        return APR_EINVAL;
    }
    if (!set || set->nelts == 0) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "%s: not promoting %s/%s: no set", name,
                      md_store_group_name(from), name);
        return APR_EINVAL;
    }
    if (!(tmp_dir = md_store_fs_group_dir(&rv, store, MD_SG_TMP, 1, p)) ||
        (rv = md_store_fs_token(&token, p)) != APR_SUCCESS) {
        return rv;
    }
    fresh = apr_pstrcat(p, tmp_dir, "/", name, ".", token, NULL);
    if ((rv = md_store_fs_mkdir(fresh, MD_FS_DIR_PRIVATE, p)) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s: cannot create %s", name, fresh);
        return rv;
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_SUCCESS, "%s: building new set in %s", name,
                  fresh);
    if ((rv = build_new_set(store, from, name, set, fresh, p)) != APR_SUCCESS ||
        (rv = md_dir_sync(tmp_dir, p)) != APR_SUCCESS ||
        (rv = install_set(parchived, store, name, fresh, p)) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s: not promoted, domains/%s unchanged", name,
                      name);
        md_store_fs_rmtree(fresh);
        return rv;
    }
    /* A crash before this leaves the source set to be promoted once more: harmless. */
    if ((rv = md_store_purge(store, from, name, p)) == APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, rv, "%s: promoted %s to domains%s%s", name,
                      md_store_group_name(from), *parchived ? ", previous set in archive/" : "",
                      *parchived ? *parchived : "");
    }
    return rv;
}

apr_status_t md_store_promote(const char **parchived, md_store_t *store, md_store_group_t from,
                              const char *name, const apr_array_header_t *set, apr_pool_t *p)
{
    apr_status_t rv;

    /* from the User's groups into root's: both locks, root's first */
    MD_STORE_WRITE_LOCKED(rv, store, MD_STORE_LOCK_BOTH, p,
                          promote_unlocked(parchived, store, from, name, set, p));
    return rv;
}

/* ---- publish: staging/<name> becomes live/<name> ---- */

static apr_status_t publish_unlocked(md_store_t *store, const char *name, apr_pool_t *p)
{
    const char *staged = md_store_path(store, MD_SG_STAGING, name, NULL, p);
    const char *live = md_store_path(store, MD_SG_LIVE, name, NULL, p);
    const char *live_dir, *token, *aside = NULL;
    apr_status_t rv;
    int err;

    if (!staged || !live) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "publish: invalid name %s",
                      name ? name : "(null)");
        return APR_EINVAL;
    }
    if (!is_dir(staged, p)) {
        return APR_ENOENT;
    }
    if (!(live_dir = md_store_fs_group_dir(&rv, store, MD_SG_LIVE, 1, p)) ||
        (rv = md_store_fs_token(&token, p)) != APR_SUCCESS) {
        return rv;
    }
    /* staging/ is written without a sync per file: what goes live is durable first */
    if ((rv = md_store_fs_sync_entry(staged)) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s: cannot sync %s", name, staged);
        return rv;
    }
    if (is_dir(live, p)) {
        /* hidden: never listed, never taken for an entry */
        aside = apr_pstrcat(p, live_dir, "/.", name, ".old.", token, NULL);
        if ((err = rename_noreplace(live, aside)) != 0) {
            rv = APR_FROM_OS_ERROR(err);
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s: cannot move %s aside", name, live);
            return rv;
        }
    }
    if ((err = rename_noreplace(staged, live)) != 0) {
        rv = APR_FROM_OS_ERROR(err);
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s: cannot rename %s to %s", name, staged,
                      live);
        if (aside && rename_noreplace(aside, live) == 0) { /* the old set back */
            aside = NULL;
        }
        return rv;
    }
    sync_after_rename(live_dir, name, p);
    sync_after_rename(parent_dir(staged, p), name, p);
    if (aside && (rv = md_store_fs_rmtree(aside)) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_WARN, rv, "%s: cannot remove the previous set %s", name,
                      aside);
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_SUCCESS, "%s: published staging/%s as live/%s",
                  name, name, name);
    return APR_SUCCESS;
}

apr_status_t md_store_publish(md_store_t *store, const char *name, apr_pool_t *p)
{
    apr_status_t rv;

    /* staging/ to live/: the User's groups only */
    MD_STORE_WRITE_LOCKED(rv, store, md_store_group_lock(MD_SG_LIVE), p,
                          publish_unlocked(store, name, p));
    return rv;
}

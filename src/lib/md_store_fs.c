/* md_store_fs.c: the file-system backend of the store -- md_store.json and its secret, entry
 * paths, loading and saving files with the right permissions, listings, removal. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* link next to C11 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_escape.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "md_cert.h"
#include "md_log.h"
#include "md_util.h"
#include "md_store.h"
#include "md_store_fs_int.h"

/* md_store.json members, as the bundled mod_md writes them. */
#define MD_STORE_KEY "key"
#define MD_STORE_OBJ "store"
#define MD_STORE_OBJ_VERSION "version"

/* A new store secret: 48 random bytes (384 bits), 64 characters in base64url. */
#define MD_STORE_SECRET_LEN 48
/* Random bytes in the names of temporary files and directories. */
#define MD_STORE_TOKEN_LEN 8

/* The two locks, in md_store_fs_lockstate's order. */
#define MD_STORE_LOCKS 2

struct md_store_t {
    md_store_fs_lockstate_t locks[MD_STORE_LOCKS];
    const char *dir;
    const unsigned char *secret; /* passphrase of keys in encrypting groups */
    apr_size_t secret_len;
};

typedef struct {
    const char *name;
    int encrypts;  /* keys are stored encrypted with the secret */
    int is_public; /* read by the httpd workers (challenge answers) */
    int interim;   /* files are not synced one by one: challenge answers live for minutes, and
                    * staging/ is synced as a whole when it is published (md_store_publish);
                    * whatever a crash leaves there is verified before use, or redone */
    md_store_locks_t lock; /* USER: the server's User writes it (the driver), root's otherwise */
} md_store_group_info_t;

static const md_store_group_info_t group_infos[MD_SG_COUNT] = {
    [MD_SG_ACCOUNTS] = {"accounts", 1, 0, 0, MD_STORE_LOCK_USER},
    [MD_SG_CHALLENGES] = {"challenges", 0, 1, 1, MD_STORE_LOCK_USER},
    [MD_SG_DOMAINS] = {"domains", 0, 0, 0, MD_STORE_LOCK_ROOT},
    [MD_SG_STAGING] = {"staging", 1, 0, 1, MD_STORE_LOCK_USER},
    [MD_SG_LIVE] = {"live", 1, 0, 0, MD_STORE_LOCK_USER},
    [MD_SG_ARCHIVE] = {"archive", 0, 0, 0, MD_STORE_LOCK_ROOT},
    [MD_SG_TMP] = {"tmp", 0, 0, 0, MD_STORE_LOCK_ROOT},
    /* OCSP responses are public data; the workers (the User) read them, the parent never */
    [MD_SG_OCSP] = {"ocsp", 0, 0, 0, MD_STORE_LOCK_USER},
};

static int group_valid(md_store_group_t group)
{
    return (unsigned) group < (unsigned) MD_SG_COUNT;
}

const char *md_store_group_name(md_store_group_t group)
{
    return group_valid(group) ? group_infos[group].name : "unknown";
}

apr_status_t md_store_group_parse(md_store_group_t *pgroup, const char *name)
{
    for (int i = 0; i < MD_SG_COUNT; ++i) {
        if (name && !strcmp(name, group_infos[i].name)) {
            *pgroup = (md_store_group_t) i;
            return APR_SUCCESS;
        }
    }
    return APR_EINVAL;
}

int md_store_group_encrypts(md_store_group_t group)
{
    return group_valid(group) && group_infos[group].encrypts;
}

md_store_locks_t md_store_group_lock(md_store_group_t group)
{
    /* an unknown group is nobody's to write: the stricter lock */
    return group_valid(group) ? group_infos[group].lock : MD_STORE_LOCK_ROOT;
}

apr_fileperms_t md_store_fs_dir_perms(md_store_group_t group)
{
    return group_valid(group) && group_infos[group].is_public ? MD_FS_DIR_PUBLIC
                                                              : MD_FS_DIR_PRIVATE;
}

/* JSON and text files: readable by the workers only where they answer challenges. */
static apr_fileperms_t file_perms(md_store_group_t group)
{
    return group_infos[group].is_public ? MD_FS_FILE_PUBLIC : MD_FS_FILE_PRIVATE;
}

static int durable(md_store_group_t group)
{
    return !group_infos[group].interim;
}

md_store_fs_lockstate_t *md_store_fs_lockstate(md_store_t *store, md_store_locks_t one)
{
    return &store->locks[one == MD_STORE_LOCK_ROOT ? 0 : 1];
}

const char *md_store_dir(const md_store_t *store)
{
    return store->dir;
}

const unsigned char *md_store_secret(const md_store_t *store, apr_size_t *plen)
{
    *plen = store->secret_len;
    return store->secret;
}

void md_store_fs_passphrase(const char **ppass, apr_size_t *plen, const md_store_t *store,
                            md_store_group_t group)
{
    if (md_store_group_encrypts(group)) {
        *ppass = (const char *) store->secret;
        *plen = store->secret_len;
    } else {
        *ppass = NULL;
        *plen = 0;
    }
}

/* ---- helpers ---- */

apr_status_t md_store_fs_mkdir(const char *path, apr_fileperms_t perms, apr_pool_t *p)
{
    apr_finfo_t fi;
    apr_status_t rv = apr_dir_make(path, perms, p);

    if (rv == APR_SUCCESS) {
        return apr_file_perms_set(path, perms); /* undo the umask */
    }
    if (APR_STATUS_IS_EEXIST(rv)) {
        rv = apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_LINK, p);
        if (rv == APR_SUCCESS && fi.filetype != APR_DIR) {
            rv = APR_ENOTDIR;
        }
    }
    return rv;
}

apr_status_t md_store_fs_token(const char **ptoken, apr_pool_t *p)
{
    unsigned char buf[MD_STORE_TOKEN_LEN];
    apr_status_t rv = md_crypt_random(buf, sizeof(buf));

    *ptoken = rv == APR_SUCCESS ? apr_pescape_hex(p, buf, sizeof(buf), 0) : NULL;
    return rv;
}

int md_store_fs_is_hidden(const char *fname, int is_file)
{
    /* md_file_write_atomic's temporaries, "<file>.tmp.XXXXXX", remain only after a crash */
    return fname[0] == '.' || (is_file && strstr(fname, MD_FS_TMP_MARK) != NULL);
}

const char *md_store_fs_group_dir(apr_status_t *prv, md_store_t *store, md_store_group_t group,
                                  int create, apr_pool_t *p)
{
    const char *dir = apr_pstrcat(p, store->dir, "/", group_infos[group].name, NULL);

    *prv = APR_SUCCESS;
    if (create) {
        *prv = md_store_fs_mkdir(dir, md_store_fs_dir_perms(group), p);
        if (*prv != APR_SUCCESS) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, *prv, "cannot create store directory %s", dir);
            return NULL;
        }
    }
    return dir;
}

/* ---- md_store.json and the secret ---- */

/* The one place that turns md_store.json's "key" into the passphrase of encrypted keys:
 * the raw bytes the base64url text decodes to. */
static apr_status_t secret_from_key(const unsigned char **psecret, apr_size_t *plen,
                                    const char *key, apr_pool_t *p)
{
    unsigned char *raw = NULL;
    apr_status_t rv = md_base64url_decode(&raw, plen, key, p);

    *psecret = raw;
    return rv == APR_SUCCESS && *plen == 0 ? APR_EINVAL : rv;
}

static apr_status_t read_store_json(md_store_t *store, const char *fpath, apr_pool_t *p)
{
    md_json_t *j = NULL, *info;
    const char *err = NULL, *key;
    double version;
    apr_status_t rv = md_json_read_file(&j, &err, fpath, p);

    if (APR_STATUS_IS_ENOENT(rv)) {
        return rv;
    }
    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s", err ? err : fpath);
        return APR_STATUS_IS_EINVAL(rv) ? APR_EINVAL : rv;
    }
    if (!md_json_is_obj(j)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "%s: not a JSON object", fpath);
        return APR_EINVAL;
    }
    key = md_json_get_str(j, MD_STORE_KEY);
    if (!key) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "%s: no store secret (\"%s\") in it",
                      fpath, MD_STORE_KEY);
        return APR_EINVAL;
    }
    if (secret_from_key(&store->secret, &store->secret_len, key, p) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL,
                      "%s: the store secret (\"%s\") is not base64url text", fpath, MD_STORE_KEY);
        return APR_EINVAL;
    }
    info = md_json_get(j, MD_STORE_OBJ, p);
    version = md_json_get_num(info, MD_STORE_OBJ_VERSION, MD_STORE_VERSION);
    if (version > MD_STORE_VERSION) {
        md_log_perror(MD_LOG_MARK, MD_LOG_WARN, APR_SUCCESS,
                      "%s: store version %.1f is newer than ours (%.1f)", fpath, version,
                      MD_STORE_VERSION);
    }
    return APR_SUCCESS;
}

/* Writes a new md_store.json with a fresh secret. It is linked into place, so that when two
 * processes create a store at the same time one secret wins and both read it. */
static apr_status_t create_store_json(md_store_t *store, const char *fpath, apr_pool_t *p)
{
    unsigned char raw[MD_STORE_SECRET_LEN];
    md_json_t *j, *info;
    const char *token, *tmp;
    apr_status_t rv;
    int err;

    if ((rv = md_crypt_random(raw, sizeof(raw))) != APR_SUCCESS ||
        (rv = md_store_fs_token(&token, p)) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s: no random bytes for a secret", fpath);
        return rv;
    }
    j = md_json_new_obj(p);
    info = md_json_new_obj(p);
    md_json_set_num(info, MD_STORE_OBJ_VERSION, MD_STORE_VERSION);
    md_json_set(j, MD_STORE_OBJ, info);
    md_json_set_str(j, MD_STORE_KEY, md_base64url_encode(raw, sizeof(raw), p));

    tmp = apr_psprintf(p, "%s.new.%s", fpath, token);
    if ((rv = md_json_write_file(j, tmp, MD_FS_FILE_PRIVATE, p)) != APR_SUCCESS) {
        return rv; /* told by the writer */
    }
    err = link(tmp, fpath) == 0 ? 0 : errno;
    if (err == EPERM || err == EOPNOTSUPP || err == ENOSYS) {
        /* a file system without hard links: a rename, which a racing creator may lose */
        err = rename(tmp, fpath) == 0 ? 0 : errno;
    }
    if (err != 0 && err != EEXIST) {
        rv = APR_FROM_OS_ERROR(err);
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot create %s", fpath);
    }
    apr_file_remove(tmp, p);
    if (rv == APR_SUCCESS && (rv = md_dir_sync(store->dir, p)) == APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, rv, "created %s", fpath);
        rv = read_store_json(store, fpath, p);
    }
    return rv;
}

apr_status_t md_store_fs_open(md_store_t **pstore, const char *dir, int create, apr_pool_t *p)
{
    md_store_t *store = apr_pcalloc(p, sizeof(*store));
    const char *fpath = apr_pstrcat(p, dir, "/", MD_FN_STORE, NULL);
    apr_finfo_t fi;
    apr_status_t rv;

    *pstore = NULL;
    store->dir = apr_pstrdup(p, dir);
    if ((rv = md_store_fs_locks_init(store->locks, MD_STORE_LOCKS, p)) != APR_SUCCESS) {
        return rv;
    }
    if (create && apr_stat(&fi, dir, APR_FINFO_TYPE, p) != APR_SUCCESS) {
        rv = apr_dir_make_recursive(dir, MD_FS_DIR_PUBLIC, p);
        if (rv == APR_SUCCESS) {
            rv = apr_file_perms_set(dir, MD_FS_DIR_PUBLIC);
        }
        if (rv != APR_SUCCESS) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot create store directory %s", dir);
            return rv;
        }
    }
    rv = read_store_json(store, fpath, p);
    if (APR_STATUS_IS_ENOENT(rv) && !create &&
        apr_stat(&fi, apr_pstrcat(p, dir, "/", md_store_group_name(MD_SG_DOMAINS), NULL),
                 APR_FINFO_TYPE, p) == APR_SUCCESS &&
        fi.filetype == APR_DIR) {
        /* a store copied without its secret (or of a module that keeps it elsewhere): what
         * needs no secret works; keys can neither be read nor written */
        md_log_perror(MD_LOG_MARK, MD_LOG_WARN, rv,
                      "store %s has no %s: its private keys cannot be read, and none is written",
                      dir, MD_FN_STORE);
        rv = APR_SUCCESS;
    } else if (APR_STATUS_IS_ENOENT(rv)) {
        if (!create) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv,
                          "no store at %s: %s not found (create one with 'a2md -d %s add ...')",
                          dir, MD_FN_STORE, dir);
            return APR_ENOENT;
        }
        rv = create_store_json(store, fpath, p);
    }
    for (int g = 0; create && rv == APR_SUCCESS && g < MD_SG_COUNT; ++g) {
        md_store_fs_group_dir(&rv, store, (md_store_group_t) g, 1, p);
    }
    if (rv == APR_SUCCESS) {
        *pstore = store;
    }
    return rv;
}

/* ---- paths ---- */

/* Names and aspects are single path components that cannot point elsewhere or hide. */
static int component_ok(const char *s)
{
    return s && s[0] && s[0] != '.' && !strchr(s, '/') && !strstr(s, "..");
}

const char *md_store_path(const md_store_t *store, md_store_group_t group, const char *name,
                          const char *aspect, apr_pool_t *p)
{
    if (!group_valid(group) || !component_ok(name) || (aspect && !component_ok(aspect))) {
        return NULL;
    }
    if (!aspect) {
        return apr_pstrcat(p, store->dir, "/", group_infos[group].name, "/", name, NULL);
    }
    return apr_pstrcat(p, store->dir, "/", group_infos[group].name, "/", name, "/", aspect, NULL);
}

/* The path of a file to read; APR_EINVAL (logged) for a name the store refuses. */
static apr_status_t path_for_read(const char **ppath, md_store_t *store, md_store_group_t group,
                                  const char *name, const char *aspect, apr_pool_t *p)
{
    *ppath = md_store_path(store, group, name, aspect, p);
    if (!*ppath) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "invalid store name %s/%s/%s",
                      md_store_group_name(group), name ? name : "(null)",
                      aspect ? aspect : "(null)");
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* ---- load / save ---- */

/* Text into an entry's file, atomically, by descriptors (md_store_fs_write). */
static apr_status_t save_data(md_store_t *store, md_store_group_t group, const char *name,
                              const char *aspect, const char *data, apr_fileperms_t perms,
                              int durable, apr_pool_t *p)
{
    apr_status_t rv =
        md_store_fs_write(store, group, name, aspect, data, strlen(data), perms, durable, p);

    if (rv == APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_TRACE, rv, "saved %s/%s/%s", md_store_group_name(group),
                      name, aspect);
    }
    return rv;
}

apr_status_t md_store_load_json(md_json_t **pj, const char **perr, md_store_t *store,
                                md_store_group_t group, const char *name, const char *aspect,
                                apr_pool_t *p)
{
    const char *reason;
    char *data;
    apr_size_t len;
    apr_status_t rv = md_store_fs_read(&data, &len, perr, store, group, name, aspect, p);

    *pj = NULL;
    if (rv == APR_SUCCESS && (rv = md_json_parse(pj, &reason, data, len, p)) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "%s: %s", md_store_path(store, group, name, aspect, p), reason);
    }
    return rv;
}

apr_status_t md_store_save_json(md_store_t *store, md_store_group_t group, const char *name,
                                const char *aspect, const md_json_t *j, apr_pool_t *p)
{
    return md_store_save_json_ex(store, group, name, aspect, j,
                                 group_valid(group) ? durable(group) : 1, p);
}

apr_status_t md_store_save_json_ex(md_store_t *store, md_store_group_t group, const char *name,
                                   const char *aspect, const md_json_t *j, int durable,
                                   apr_pool_t *p)
{
    const char *s = md_json_dump(j, 1, p);

    if (!s) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "%s/%s/%s: no JSON to write",
                      md_store_group_name(group), name, aspect);
        return APR_EINVAL;
    }
    return save_data(store, group, name, aspect, apr_pstrcat(p, s, "\n", NULL), file_perms(group),
                     durable, p);
}

/* PKCS#8's marker of an encrypted key (RFC 5958 / RFC 7468 label). */
#define MD_PEM_ENCRYPTED_KEY "-----BEGIN ENCRYPTED PRIVATE KEY-----"

apr_status_t md_store_load_pkey(md_pkey_t **pkey, const char **perr, md_store_t *store,
                                md_store_group_t group, const char *name, const char *aspect,
                                apr_pool_t *p)
{
    const char *path = md_store_path(store, group, name, aspect, p), *pass;
    apr_size_t passlen, len;
    char *data;
    apr_status_t rv = md_store_fs_read(&data, &len, perr, store, group, name, aspect, p);

    *pkey = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    md_store_fs_passphrase(&pass, &passlen, store, group);
    if (!pass && md_store_group_encrypts(group)) {
        *perr = apr_psprintf(p,
                             "%s: the key is encrypted with the store secret, and the store "
                             "has no %s",
                             path, MD_FN_STORE);
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EACCES, "%s", *perr);
        return APR_EACCES;
    }
    if (pass && !strstr(data, MD_PEM_ENCRYPTED_KEY)) {
        /* a plain key where only encrypted ones belong was not written by us */
        *perr = apr_psprintf(p,
                             "%s: a key that must be encrypted with the store secret is not: "
                             "refused",
                             path);
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "%s", *perr);
        return APR_EINVAL;
    }
    rv = md_pkey_from_pem(pkey, data, len, pass, passlen, p);
    if (APR_STATUS_IS_EACCES(rv)) {
        *perr = apr_psprintf(p, "%s: cannot decrypt the key (%s)", path,
                             pass ? "the store secret does not fit" : "it is encrypted");
    } else if (rv != APR_SUCCESS) {
        *perr = apr_psprintf(p, "%s: holds no usable private key", path);
    }
    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s", *perr);
    }
    return rv;
}

apr_status_t md_store_save_pkey(md_store_t *store, md_store_group_t group, const char *name,
                                const char *aspect, const md_pkey_t *key, apr_pool_t *p)
{
    const char *pass, *pem;
    apr_size_t passlen;
    apr_status_t rv;

    md_store_fs_passphrase(&pass, &passlen, store, group);
    if (md_store_group_encrypts(group) && !pass) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EACCES,
                      "%s/%s: a key is not written into a store without its secret (%s)",
                      md_store_group_name(group), name, MD_FN_STORE);
        return APR_EACCES;
    }
    if ((rv = md_pkey_to_pem(&pem, key, pass, passlen, p)) == APR_SUCCESS) {
        /* a key: never more than the owner */
        rv = save_data(store, group, name, aspect, pem, MD_FS_FILE_PRIVATE, durable(group), p);
    }
    return rv;
}

apr_status_t md_store_load_chain(apr_array_header_t **pchain, const char **perr, md_store_t *store,
                                 md_store_group_t group, const char *name, const char *aspect,
                                 apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    apr_status_t rv = md_store_fs_read(&data, &len, perr, store, group, name, aspect, p);

    *pchain = NULL;
    if (rv == APR_SUCCESS && (rv = md_chain_from_pem(pchain, perr, data, len, p)) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "%s: %s", md_store_path(store, group, name, aspect, p), *perr);
    }
    return rv;
}

apr_status_t md_store_save_chain(md_store_t *store, md_store_group_t group, const char *name,
                                 const char *aspect, const apr_array_header_t *chain, apr_pool_t *p)
{
    const char *pem;
    apr_status_t rv = md_chain_to_pem(&pem, chain, p);

    if (rv == APR_SUCCESS) { /* certificates are public */
        rv = save_data(store, group, name, aspect, pem, MD_FS_FILE_PUBLIC, durable(group), p);
    }
    return rv;
}

apr_status_t md_store_load_text(const char **ptext, md_store_t *store, md_store_group_t group,
                                const char *name, const char *aspect, apr_pool_t *p)
{
    const char *err;
    char *data = NULL;
    apr_size_t len;
    apr_status_t rv = md_store_fs_read(&data, &len, &err, store, group, name, aspect, p);

    if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv) && !APR_STATUS_IS_ENOTDIR(rv) &&
        !APR_STATUS_IS_EINVAL(rv)) { /* refusals are told where they happen */
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot read %s", err ? err : "");
    }
    *ptext = data;
    return rv;
}

apr_status_t md_store_save_text(md_store_t *store, md_store_group_t group, const char *name,
                                const char *aspect, const char *text, apr_pool_t *p)
{
    return save_data(store, group, name, aspect, text, file_perms(group), durable(group), p);
}

/* ---- existence, removal, listings ---- */

int md_store_exists(md_store_t *store, md_store_group_t group, const char *name, const char *aspect,
                    apr_pool_t *p)
{
    const char *path = md_store_path(store, group, name, aspect, p);
    apr_finfo_t fi;

    return path && apr_stat(&fi, path, APR_FINFO_TYPE, p) == APR_SUCCESS;
}

apr_status_t md_store_remove(md_store_t *store, md_store_group_t group, const char *name,
                             const char *aspect, apr_pool_t *p)
{
    return md_store_fs_unlink(store, group, name, aspect, p);
}

static apr_status_t purge_unlocked(md_store_t *store, md_store_group_t group, const char *name,
                                   apr_pool_t *p)
{
    const char *path;
    apr_status_t rv = path_for_read(&path, store, group, name, NULL, p);

    if (rv == APR_SUCCESS && (rv = md_store_fs_rmtree(path)) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot remove %s", path);
    }
    return rv;
}

apr_status_t md_store_purge(md_store_t *store, md_store_group_t group, const char *name,
                            apr_pool_t *p)
{
    apr_status_t rv;

    MD_STORE_WRITE_LOCKED(rv, store, md_store_group_lock(group), p,
                          purge_unlocked(store, group, name, p));
    return rv;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Names of the entries of 'dir' that have 'type' (symbolic links are never followed, not even
 * 'dir' itself), sorted, without hidden ones. */
static apr_status_t list_dir(apr_array_header_t **pnames, const char *dir, apr_filetype_e type,
                             apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 10, sizeof(const char *));
    unsigned char want = type == APR_DIR ? DT_DIR : DT_REG;
    struct dirent *de;
    struct stat st;
    DIR *d;
    int fd;

    *pnames = names;
    if ((fd = md_store_fs_open_dir(dir)) < 0 || !(d = fdopendir(fd))) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);
        if (fd >= 0) {
            close(fd);
        }
        return rv;
    }
    while ((de = readdir(d)) != NULL) {
        unsigned char t = de->d_type;
        if (t == DT_UNKNOWN && fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            t = S_ISDIR(st.st_mode) ? DT_DIR : (S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN);
        }
        if (t == want && !md_store_fs_is_hidden(de->d_name, type == APR_REG)) {
            APR_ARRAY_PUSH(names, const char *) = apr_pstrdup(p, de->d_name);
        }
    }
    closedir(d);
    qsort(names->elts, (size_t) names->nelts, sizeof(const char *), cmp_str);
    return APR_SUCCESS;
}

apr_status_t md_store_names(apr_array_header_t **pnames, md_store_t *store, md_store_group_t group,
                            apr_pool_t *p)
{
    apr_status_t rv;
    const char *dir;

    *pnames = apr_array_make(p, 0, sizeof(const char *));
    if (!group_valid(group)) {
        return APR_EINVAL;
    }
    dir = md_store_fs_group_dir(&rv, store, group, 0, p);
    rv = list_dir(pnames, dir, APR_DIR, p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return APR_SUCCESS; /* a group not yet written to is empty */
    }
    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot list %s", dir);
    }
    return rv;
}

apr_status_t md_store_aspects(apr_array_header_t **paspects, md_store_t *store,
                              md_store_group_t group, const char *name, apr_pool_t *p)
{
    const char *dir;
    apr_status_t rv = path_for_read(&dir, store, group, name, NULL, p);

    *paspects = apr_array_make(p, 0, sizeof(const char *));
    if (rv == APR_SUCCESS) {
        rv = list_dir(paspects, dir, APR_REG, p);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot list %s", dir);
        }
    }
    return rv;
}

static apr_status_t create_entry_unlocked(md_store_t *store, md_store_group_t group,
                                          const char *name, apr_pool_t *p)
{
    const char *path = md_store_path(store, group, name, NULL, p);
    apr_fileperms_t perms = md_store_fs_dir_perms(group);
    apr_status_t rv;

    if (!path) {
        return APR_EINVAL;
    }
    if (!md_store_fs_group_dir(&rv, store, group, 1, p)) {
        return rv;
    }
    /* apr_dir_make fails with EEXIST for an existing directory: that is the point */
    if ((rv = apr_dir_make(path, perms, p)) == APR_SUCCESS) {
        rv = apr_file_perms_set(path, perms); /* undo the umask */
    }
    return rv;
}

apr_status_t md_store_create_entry(md_store_t *store, md_store_group_t group, const char *name,
                                   apr_pool_t *p)
{
    apr_status_t rv;

    MD_STORE_WRITE_LOCKED(rv, store, md_store_group_lock(group), p,
                          create_entry_unlocked(store, group, name, p));
    return rv;
}

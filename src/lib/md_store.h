/* md_store.h: the store of accounts, domains, staged renewals, archives and challenge
 * answers. This is the interface; md_store_fs.c is its file-system backend. */
#ifndef MD_STORE_H
#define MD_STORE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <sys/types.h>

#include "md_json.h"
#include "md_crypt.h"

/* Directory layout (the same as Apache's bundled mod_md 2.x, so its stores can be taken over):
 *   md_store.json          {"store":{"version":3.0},"key":"<secret, base64url>"}   0600
 *   accounts/<id>/         account.json, account.pem (key encrypted with the secret)
 *   domains/<name>/        md.json, privkey[.<curve>].pem, pubcert[.<curve>].pem  (plain keys)
 *   archive/<name>.<n>/    earlier domains/<name> sets, n = 1, 2, ...
 *   challenges/<domain>/   http-01 / tls-alpn-01 answers
 *   staging/<name>/        job.json, md.json, privkey*.pem (encrypted), pubcert*.pem
 *   live/<name>/           the staged set the workers present since the driver published it,
 *                          until the parent promotes it to domains/ (same files as staging/)
 *   tmp/                   private scratch space for atomic directory swaps
 *   ocsp/<name>/           OCSP responses for stapling, ocsp-<certid>.json (md_ocsp.h); <name> is
 *                          an MD's or "other"; written by the User's driver, read by workers
 * Invariants: every file write is atomic (temp + fsync + rename); entries holding keys are
 * 0700 and key files 0600; domains/<name> is only ever replaced whole (md_store_promote). */

typedef enum {
    MD_SG_ACCOUNTS,
    MD_SG_CHALLENGES,
    MD_SG_DOMAINS,
    MD_SG_STAGING,
    MD_SG_LIVE,
    MD_SG_ARCHIVE,
    MD_SG_TMP,
    MD_SG_OCSP,
    MD_SG_COUNT,
} md_store_group_t;

const char *md_store_group_name(md_store_group_t group); /* "accounts", ... */
/* APR_EINVAL for an unknown name. */
apr_status_t md_store_group_parse(md_store_group_t *pgroup, const char *name);

/* Files of an entry. */
#define MD_FN_MD "md.json"
#define MD_FN_JOB "job.json"
#define MD_FN_ACCOUNT "account.json"
#define MD_FN_ACCT_KEY "account.pem"
#define MD_FN_STORE "md_store.json"
#define MD_FN_PRIVKEY "privkey" /* + md_pkey_spec_file_suffix + ".pem" */
#define MD_FN_PUBCERT "pubcert"

#define MD_STORE_VERSION 3.0

typedef struct md_store_t md_store_t;

/* Opens the store at dir. With create, makes the directory tree and md_store.json (with a
 * fresh random secret) when missing. Without, a missing store is APR_ENOENT. A corrupt
 * md_store.json is APR_EINVAL with the path in the log; it is never rewritten. */
apr_status_t md_store_fs_open(md_store_t **pstore, const char *dir, int create, apr_pool_t *p);

const char *md_store_dir(const md_store_t *store);

/* The secret that encrypts keys in accounts/ and staging/ (raw bytes). */
const unsigned char *md_store_secret(const md_store_t *store, apr_size_t *plen);

/* Keys in these groups are stored encrypted with the secret. */
int md_store_group_encrypts(md_store_group_t group);

/* File name of aspect (NULL: the entry's directory) of entry name in group. Names and
 * aspects are checked: no '/', no leading '.', non-empty -- else NULL. */
const char *md_store_path(const md_store_t *store, md_store_group_t group, const char *name,
                          const char *aspect, apr_pool_t *p);

/* Loading: APR_ENOENT when the file is not there; APR_EINVAL (reason naming the file in
 * *perr, file untouched) when it cannot be parsed. Saving creates the entry directory. */
apr_status_t md_store_load_json(md_json_t **pj, const char **perr, md_store_t *store,
                                md_store_group_t group, const char *name, const char *aspect,
                                apr_pool_t *p);
apr_status_t md_store_save_json(md_store_t *store, md_store_group_t group, const char *name,
                                const char *aspect, const md_json_t *j, apr_pool_t *p);

/* durable 0: no fsync (for what is made again or verified before use when a crash tears it). */
apr_status_t md_store_save_json_ex(md_store_t *store, md_store_group_t group, const char *name,
                                   const char *aspect, const md_json_t *j, int durable,
                                   apr_pool_t *p);

apr_status_t md_store_load_pkey(md_pkey_t **pkey, const char **perr, md_store_t *store,
                                md_store_group_t group, const char *name, const char *aspect,
                                apr_pool_t *p);
apr_status_t md_store_save_pkey(md_store_t *store, md_store_group_t group, const char *name,
                                const char *aspect, const md_pkey_t *key, apr_pool_t *p);

/* Chains: apr arrays of md_cert_t*, leaf first. */
apr_status_t md_store_load_chain(apr_array_header_t **pchain, const char **perr, md_store_t *store,
                                 md_store_group_t group, const char *name, const char *aspect,
                                 apr_pool_t *p);
apr_status_t md_store_save_chain(md_store_t *store, md_store_group_t group, const char *name,
                                 const char *aspect, const apr_array_header_t *chain,
                                 apr_pool_t *p);

apr_status_t md_store_load_text(const char **ptext, md_store_t *store, md_store_group_t group,
                                const char *name, const char *aspect, apr_pool_t *p);
apr_status_t md_store_save_text(md_store_t *store, md_store_group_t group, const char *name,
                                const char *aspect, const char *text, apr_pool_t *p);

int md_store_exists(md_store_t *store, md_store_group_t group, const char *name, const char *aspect,
                    apr_pool_t *p);
/* Creates the entry's directory, failing with APR_EEXIST when it exists: claims a name
 * atomically, also against other processes. */
apr_status_t md_store_create_entry(md_store_t *store, md_store_group_t group, const char *name,
                                   apr_pool_t *p);

/* Removes one file; a missing file is success. */
apr_status_t md_store_remove(md_store_t *store, md_store_group_t group, const char *name,
                             const char *aspect, apr_pool_t *p);
/* Removes a whole entry; a missing entry is success. */
apr_status_t md_store_purge(md_store_t *store, md_store_group_t group, const char *name,
                            apr_pool_t *p);

/* Entry names of a group, sorted; aspects (file names) of an entry, sorted. */
apr_status_t md_store_names(apr_array_header_t **pnames, md_store_t *store, md_store_group_t group,
                            apr_pool_t *p);
apr_status_t md_store_aspects(apr_array_header_t **paspects, md_store_t *store,
                              md_store_group_t group, const char *name, apr_pool_t *p);

/* Moves domains/<name> to archive/<name>.<n> (the next free n) and reports the archive
 * entry's name. APR_ENOENT when there is no such domain entry. */
apr_status_t md_store_archive(const char **parchived, md_store_t *store, const char *name,
                              apr_pool_t *p);

/* Renames entry 'from' of a group to 'to' (which must not exist: APR_EEXIST). APR_ENOENT
 * when there is no such entry. */
apr_status_t md_store_rename(md_store_t *store, md_store_group_t group, const char *from,
                             const char *to, apr_pool_t *p);

/* One certificate of a set: its key spec, chain (leaf first) and key. */
typedef struct {
    const md_pkey_spec_t *spec;
    apr_array_header_t *chain; /* md_cert_t* */
    md_pkey_t *key;
} md_set_entry_t;

/* Installs the set (md_set_entry_t*) that the caller loaded from <from>/<name> (from:
 * MD_SG_STAGING or MD_SG_LIVE) and verified, as domains/<name>: the new set is built in tmp/
 * from exactly those keys and chains -- nothing in <from>, which the server's User may write,
 * is read again -- plus the current domains/<name>/md.json (the source's when there is none),
 * then swapped in with one atomic exchange; the previous set goes to archive/<name>.<n>,
 * <from>/<name> is removed. A crash at any point leaves domains/<name> either the old or the
 * new complete set. APR_EINVAL for an empty set or a chain that is not for its key. */
apr_status_t md_store_promote(const char **parchived, md_store_t *store, md_store_group_t from,
                              const char *name, const apr_array_header_t *set, apr_pool_t *p);

/* Publishes staging/<name> as live/<name> (the driver, as the server's User, does this once a
 * set is verified): the previous live set is moved aside under a hidden name, staging/<name>
 * renamed into its place, the old one removed. A reader that opens live/<name> in between
 * finds it missing (or, racing, mixed: readers check that each key matches its certificate);
 * a crash in between leaves the staged set to be published again. APR_ENOENT when nothing is
 * staged. */
apr_status_t md_store_publish(md_store_t *store, const char *name, apr_pool_t *p);

/* Gives the User's part of the store -- the groups MD_STORE_LOCK_USER guards and that lock's
 * file -- to the server's User, once: a group directory that is not that User's yet becomes
 * the User's with what it holds (walked by directory descriptors, never following a link;
 * files with more than one link are left alone); one that is the User's already is not
 * touched. Run by root at startup. */
apr_status_t md_store_fs_give_user(md_store_t *store, uid_t uid, gid_t gid, apr_pool_t *p);

/* The store has two locks, one for each owner of what they guard (in httpd: root, and the
 * server's User, whose driver writes its groups). A process writing several files of a group
 * holds the group's lock (md_store_group_lock) for that write; the store's own multi-file
 * writes take it themselves.
 *   MD_STORE_LOCK_ROOT  <dir>/store.lock: md_store.json, domains/, archive/, tmp/. Taken by
 *                       the store's owner only (root for httpd): the file is its own, 0600,
 *                       and one that is not (left by an older version, or planted) is
 *                       replaced, never used. A process of the User never opens it.
 *   MD_STORE_LOCK_USER  <dir>/user.lock: staging/, live/, challenges/, accounts/. Given to
 *                       the User with those groups (md_store_fs_give_user); root may find it held
 *                       by the User for as long as the User likes.
 * Whoever takes both takes root's first: every process keeps this order, so none waits for
 * another that waits for it. */
typedef enum {
    MD_STORE_LOCK_ROOT = 1,
    MD_STORE_LOCK_USER = 2,
    MD_STORE_LOCK_BOTH = MD_STORE_LOCK_ROOT | MD_STORE_LOCK_USER,
} md_store_locks_t;

/* The lock that guards writes to a group. */
md_store_locks_t md_store_group_lock(md_store_group_t group);

/* The file of one lock (MD_STORE_LOCK_ROOT or MD_STORE_LOCK_USER), for messages. */
const char *md_store_lock_path(const md_store_t *store, md_store_locks_t one, apr_pool_t *p);

/* Takes the locks 'which' names (an open-file-description lock on each file between
 * processes, a nested mutex between the threads of one process: a thread may take a lock it
 * holds again). Waits up to 'wait' for all of them; APR_TIMEUP when another process holds one
 * longer (nothing is held then), APR_EINVAL when this thread holds the User's lock and asks
 * for root's (the order above). Released by md_store_unlock or when p is cleared. */
typedef struct md_store_lock_t md_store_lock_t;
apr_status_t md_store_lock(md_store_lock_t **plock, md_store_t *store, md_store_locks_t which,
                           apr_interval_time_t wait, apr_pool_t *p);
apr_status_t md_store_unlock(md_store_lock_t *lock);

#endif

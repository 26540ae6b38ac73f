/* md_store_fs_int.h: helpers shared by the files of the file-system store backend
 * (md_store_fs.c, md_store_fs_promote.c); not part of the store interface. */
#ifndef MD_STORE_FS_INT_H
#define MD_STORE_FS_INT_H

#include <sys/types.h>
#include <apr_file_info.h>
#include <apr_thread_mutex.h>

#include "md_store.h"

/* The state of one store lock in one store handle (md_store_fs_lock.c). */
typedef struct {
    apr_thread_mutex_t *mutex; /* nested; held by the thread that holds the lock */
    int depth;                 /* how often that thread took it (under mutex) */
    int fd;                    /* the lock file, OFD-locked while depth > 0; -1: not open */
    pid_t pid;                 /* the process that opened fd */
} md_store_fs_lockstate_t;

/* The state of lock 'one' (MD_STORE_LOCK_ROOT or MD_STORE_LOCK_USER) of a store. */
md_store_fs_lockstate_t *md_store_fs_lockstate(md_store_t *store, md_store_locks_t one);

/* Makes the states of a store's locks; their files are closed when p is cleared. */
apr_status_t md_store_fs_locks_init(md_store_fs_lockstate_t *states, int n, apr_pool_t *p);

/* Gives the User's lock file to uid:gid (made when missing; it must be a regular file with one
 * name). Errors are logged. */
apr_status_t md_store_fs_lock_give(md_store_t *store, uid_t uid, gid_t gid, apr_pool_t *p);

/* Every write of more than one file (purge, create_entry, archive, rename, promote, publish)
 * holds the lock of the groups it writes for just that write (inside an explicit
 * md_store_lock it nests), waiting at most this long for another process to release it; a
 * single file's save is atomic by rename and takes none. The locks are never held across
 * network requests or commands, so a long wait means something is stuck. */
#define MD_STORE_WRITE_LOCK_WAIT apr_time_from_sec(10)
/* Takes the locks 'which' for one write; the failure is logged. */
apr_status_t md_store_fs_write_begin(md_store_lock_t **plock, md_store_t *store,
                                     md_store_locks_t which, apr_pool_t *p);

/* rv = call (an apr_status_t expression) with the store's locks 'which' held for just that
 * call; rv is the locks' failure when they could not be taken (nothing is called then). */
#define MD_STORE_WRITE_LOCKED(rv, store, which, p, call)                                           \
    do {                                                                                           \
        md_store_lock_t *write_lock_;                                                              \
        if (((rv) = md_store_fs_write_begin(&write_lock_, (store), (which), (p))) ==               \
            APR_SUCCESS) {                                                                         \
            (rv) = (call);                                                                         \
            md_store_unlock(write_lock_);                                                          \
        }                                                                                          \
    } while (0)

/* Permissions (APR notation) of what the store creates. Keys and everything next to them
 * are for the owner only; challenge answers must be readable by the httpd workers. */
#define MD_FS_DIR_PRIVATE (APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE)
#define MD_FS_DIR_PUBLIC                                                                           \
    (MD_FS_DIR_PRIVATE | APR_FPROT_GREAD | APR_FPROT_GEXECUTE | APR_FPROT_WREAD |                  \
     APR_FPROT_WEXECUTE)
#define MD_FS_FILE_PRIVATE (APR_FPROT_UREAD | APR_FPROT_UWRITE)
#define MD_FS_FILE_PUBLIC (MD_FS_FILE_PRIVATE | APR_FPROT_GREAD | APR_FPROT_WREAD)

/* Directory of a group, created (with the group's permissions) when 'create' is set and it
 * is missing. NULL and *prv set on failure (logged). */
const char *md_store_fs_group_dir(apr_status_t *prv, md_store_t *store, md_store_group_t group,
                                  int create, apr_pool_t *p);

/* Permissions for entry directories of a group. */
apr_fileperms_t md_store_fs_dir_perms(md_store_group_t group);

/* Makes a directory with exactly 'perms' (the umask does not apply); an existing directory
 * is success, anything else in its place APR_ENOTDIR. */
apr_status_t md_store_fs_mkdir(const char *path, apr_fileperms_t perms, apr_pool_t *p);

/* md_store_fs_write.c -- writes by directory descriptors. */

/* data as group/name/aspect, atomically: the entry directory is made when missing and opened
 * without following a link (a link there is refused, logged), the file is created beside
 * under a random temporary name with exactly perms (not narrowed by the umask), written,
 * synced when durable, and renamed into place -- no path is resolved twice. */
apr_status_t md_store_fs_write(md_store_t *store, md_store_group_t group, const char *name,
                               const char *aspect, const void *data, apr_size_t len,
                               apr_fileperms_t perms, int durable, apr_pool_t *p);

/* Removes group/name/aspect by the entry's descriptor (a link there is removed itself); a
 * missing file or entry is success. */
apr_status_t md_store_fs_unlink(md_store_t *store, md_store_group_t group, const char *name,
                                const char *aspect, apr_pool_t *p);

/* md_store_fs_safe.c -- what root may do in directories the server's User can write. */

/* Removes a file tree by directory descriptors, never following a symbolic link (a link is
 * removed itself); a missing path is success. */
apr_status_t md_store_fs_rmtree(const char *path);

/* Syncs the regular files of an entry directory and the directory itself, by descriptors (no
 * link followed, no special file blocking): what was written without fsync becomes durable. */
apr_status_t md_store_fs_sync_entry(const char *path);

/* The descriptors of the group's directory and of entry 'name' in it, both opened as
 * directories without following a link; with create, the group and the entry are made when
 * missing (with the group's permissions, not narrowed by the umask). A link in place of
 * either is refused (logged, APR_EINVAL); other failures are returned with *perr, not logged.
 * The caller closes the descriptors that are not -1, also after a failure. */
apr_status_t md_store_fs_open_entry(int *pgfd, int *pefd, const char **perr, md_store_t *store,
                                    md_store_group_t group, const char *name, int create,
                                    apr_pool_t *p);

/* A directory opened without following a link (O_DIRECTORY|O_NOFOLLOW); -1 and errno. */
int md_store_fs_open_dir(const char *path);

/* The content of a store file, opened relative to its group's and entry's descriptors without
 * following links and without blocking: it must be a regular file with one link, owned by
 * root, by us or by the owner of the group directory, and at most a few hundred KiB. A refusal
 * is APR_EINVAL, logged at error level naming the file and what was wrong (also in *perr);
 * a missing file APR_ENOENT. */
apr_status_t md_store_fs_read(char **pdata, apr_size_t *plen, const char **perr, md_store_t *store,
                              md_store_group_t group, const char *name, const char *aspect,
                              apr_pool_t *p);

/* The passphrase for keys of 'group': the store secret, or NULL/0 for plain groups. */
void md_store_fs_passphrase(const char **ppass, apr_size_t *plen, const md_store_t *store,
                            md_store_group_t group);

/* A random hex token for names of temporary files and directories. */
apr_status_t md_store_fs_token(const char **ptoken, apr_pool_t *p);

/* True for names the store never lists: dot files and, among files, leftovers of atomic
 * writes. */
#define MD_FS_TMP_MARK ".tmp."
int md_store_fs_is_hidden(const char *fname, int is_file);

#endif

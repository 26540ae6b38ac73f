/* unit_store.h: store set-up the unit tests share -- opening a file-system store, reading
 * back files and modes, and EC keys with self-signed chains saved under the usual names. */
#ifndef UNIT_STORE_H
#define UNIT_STORE_H

#include <sys/types.h>

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "md_cert.h"
#include "md_crypt.h"
#include "md.h"
#include "md_json.h"
#include "md_reg.h"
#include "md_store.h"
#include "unit_fixture.h"

/* The file names of an EC P-256 key and its certificate chain in a store entry. */
#define UNIT_KEY_FILE "privkey.secp256r1.pem"
#define UNIT_CERT_FILE "pubcert.secp256r1.pem"

/* The fixture of the store tests: a fresh temporary directory per test, the store goes in
 * <base>/md. The group set-up initializes APR, keeps logged errors (unit_fixture.h) and sets
 * a strict umask, so that the store has to set its permissions itself. */
typedef struct {
    apr_pool_t *pool;
    char base[UNIT_DIR_LEN]; /* the mkdtemp directory */
    const char *dir;         /* the store inside it */
} unit_store_fixture_t;

int unit_store_group_setup(void **state);
int unit_store_group_teardown(void **state);
int unit_store_setup(void **state);
int unit_store_teardown(void **state);

/* A file-system store at dir, created when missing (the test fails when it cannot be). */
md_store_t *unit_store_open(const char *dir, apr_pool_t *p);

/* A store at <base>/md (created) and a registry on it (the test fails when they cannot be). */
void unit_reg_open(md_store_t **pstore, md_reg_t **preg, const char *base, apr_pool_t *p);

/* A managed domain for the names given, NULL-terminated; the first one becomes its name. */
md_t *unit_md_make(apr_pool_t *p, const char *first, ...);

/* The permission bits of path itself (symlinks not followed); fails the test when missing. */
mode_t unit_mode_of(const char *path);

/* The content of the file at path; fails the test when it cannot be read. */
const char *unit_slurp(const char *path, apr_pool_t *p);

/* A set of one certificate (md_set_entry_t*, as md_plan_load_set gives it to promotion): key,
 * chain and the key's spec. */
apr_array_header_t *unit_set_of(md_pkey_t *key, apr_array_header_t *chain, apr_pool_t *p);

/* How many entries (but "." and "..") the directory at path holds; fails the test when it
 * cannot be read. */
int unit_dir_count(const char *path, apr_pool_t *p);

/* Writes text to a new file at path (replacing one there); fails the test when it cannot. */
void unit_spit(const char *path, const char *text);

/* A one-certificate chain: self-signed by key for names (CN cn, may be NULL), valid from a
 * day ago until now + valid_for. */
apr_array_header_t *unit_chain(const md_pkey_t *key, const char *cn,
                               const apr_array_header_t *names, apr_interval_time_t valid_for,
                               apr_pool_t *p);

/* A fresh EC P-256 key and a unit_chain for it naming only domain (no CN). */
void unit_key_and_chain(md_pkey_t **pkey, apr_array_header_t **pchain, const char *domain,
                        apr_interval_time_t valid_for, apr_pool_t *p);

/* Saves key as UNIT_KEY_FILE and chain as UNIT_CERT_FILE in group/name. */
void unit_save_key_chain(md_store_t *store, md_store_group_t group, const char *name,
                         const md_pkey_t *key, const apr_array_header_t *chain, apr_pool_t *p);

/* The fingerprint of the first certificate of chain. */
const char *unit_leaf_fingerprint(const apr_array_header_t *chain, apr_pool_t *p);

/* A JSON object {"name": value}. */
md_json_t *unit_json_with_name(const char *value, apr_pool_t *p);

#endif

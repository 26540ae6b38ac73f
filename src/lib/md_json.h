/* md_json.h: JSON values over jansson whose lifetime is tied to an APR pool; getters are
 * NULL-tolerant so callers can walk optional structure without checks at every step. */
#ifndef MD_JSON_H
#define MD_JSON_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_file_info.h>

/* A handle on a jansson value. The handle holds a reference released when its pool is
 * cleaned up; children obtained from a parent share the value (changes are visible in
 * both) and live in the pool given to the getter. */
typedef struct md_json_t md_json_t;

md_json_t *md_json_new_obj(apr_pool_t *p);
md_json_t *md_json_new_arr(apr_pool_t *p);
md_json_t *md_json_copy(const md_json_t *j, apr_pool_t *p); /* deep copy */

int md_json_is_obj(const md_json_t *j);
int md_json_is_arr(const md_json_t *j);
int md_json_is_str(const md_json_t *j);

/* ---- parse / serialise ---- */

/* On a syntax error returns APR_EINVAL and "line L, column C: what" in *perr. */
apr_status_t md_json_parse(md_json_t **pj, const char **perr, const char *data, apr_size_t len,
                           apr_pool_t *p);

/* Reads and parses a file. APR_ENOENT when it does not exist; APR_EINVAL with a reason
 * naming the path, line and column when it is not valid JSON (the file is left alone). */
apr_status_t md_json_read_file(md_json_t **pj, const char **perr, const char *path, apr_pool_t *p);

/* Keys in insertion order; pretty: indented by 2, compact otherwise. */
const char *md_json_dump(const md_json_t *j, int pretty, apr_pool_t *p);

/* Atomic write (md_file_write_atomic), pretty-printed with a final newline. */
apr_status_t md_json_write_file(const md_json_t *j, const char *path, apr_fileperms_t perms,
                                apr_pool_t *p);
/* durable 0: without fsync (see md_file_write_atomic_ex). */
apr_status_t md_json_write_file_ex(const md_json_t *j, const char *path, apr_fileperms_t perms,
                                   int durable, apr_pool_t *p);

/* ---- object members (j may be NULL: getters then return the 'missing' answer) ---- */

int md_json_has(const md_json_t *j, const char *key);
md_json_t *md_json_get(const md_json_t *j, const char *key, apr_pool_t *p); /* any type */
const char *md_json_get_str(const md_json_t *j, const char *key);           /* NULL unless a string;
                                                                                valid while j lives */
long long md_json_get_int(const md_json_t *j, const char *key, long long dflt); /* int or real */
double md_json_get_num(const md_json_t *j, const char *key, double dflt);
int md_json_get_bool(const md_json_t *j, const char *key, int dflt); /* true/false or 0/1 */
/* Array of strings as an apr array of const char* (pool copies); NULL when missing or
 * not an array; non-string members are skipped. */
apr_array_header_t *md_json_get_strs(const md_json_t *j, const char *key, apr_pool_t *p);
/* Keys of an object, in order. */
apr_array_header_t *md_json_keys(const md_json_t *j, apr_pool_t *p);

void md_json_set_str(md_json_t *j, const char *key, const char *val); /* val NULL: delete */
void md_json_set_int(md_json_t *j, const char *key, long long val);
void md_json_set_num(md_json_t *j, const char *key, double val);
void md_json_set_bool(md_json_t *j, const char *key, int val);
void md_json_set_strs(md_json_t *j, const char *key, const apr_array_header_t *vals);
void md_json_set(md_json_t *j, const char *key, const md_json_t *val); /* shares val */
void md_json_del(md_json_t *j, const char *key);

/* ---- arrays ---- */

apr_size_t md_json_len(const md_json_t *arr); /* 0 unless an array */
md_json_t *md_json_at(const md_json_t *arr, apr_size_t i, apr_pool_t *p);
const char *md_json_str_value(const md_json_t *j);       /* the string itself, NULL otherwise */
void md_json_push(md_json_t *arr, const md_json_t *val); /* shares val */
void md_json_push_str(md_json_t *arr, const char *val);

#endif

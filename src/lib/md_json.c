/* md_json.c: JSON values over jansson whose references are released by APR pool cleanups;
 * every getter tolerates a NULL handle or a missing key (see md_json.h). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <apr_strings.h>

#include "md_json.h"
#include "md_log.h"
#include "md_util.h"

/* Indentation of pretty output: what an operator reads in the store. */
#define MD_JSON_INDENT 2
/* Room for apr_strerror's text. */
#define MD_JSON_ERRBUF_LEN 256

struct md_json_t {
    json_t *j;
};

static apr_status_t json_cleanup(void *data)
{
    md_json_t *mj = data;

    json_decref(mj->j);
    mj->j = NULL;
    return APR_SUCCESS;
}

/* Wraps v in a handle owned by p; takes over the caller's reference to v. */
static md_json_t *json_wrap_new(json_t *v, apr_pool_t *p)
{
    md_json_t *mj;

    if (!v) {
        return NULL;
    }
    mj = apr_palloc(p, sizeof(*mj));
    mj->j = v;
    apr_pool_cleanup_register(p, mj, json_cleanup, apr_pool_cleanup_null);
    return mj;
}

/* Wraps a borrowed value (a child of another handle), taking a reference of its own. */
static md_json_t *json_wrap_borrowed(json_t *v, apr_pool_t *p)
{
    return v ? json_wrap_new(json_incref(v), p) : NULL;
}

static json_t *member(const md_json_t *j, const char *key)
{
    return (j && json_is_object(j->j)) ? json_object_get(j->j, key) : NULL;
}

static int is_settable(const md_json_t *j, const char *key)
{
    return j && key && json_is_object(j->j);
}

/* Sets key to a new value, taking over its reference; a NULL value (jansson refused it,
 * e.g. a string that is not UTF-8) is logged rather than silently dropped. */
static void set_new(md_json_t *j, const char *key, json_t *v)
{
    if (!is_settable(j, key)) {
        json_decref(v);
        return;
    }
    if (!v || json_object_set_new(j->j, key, v) != 0) {
        md_log_perror(MD_LOG_MARK, MD_LOG_WARN, APR_EINVAL,
                      "JSON: cannot set '%s' (out of memory or not UTF-8)", key);
    }
}

md_json_t *md_json_new_obj(apr_pool_t *p)
{
    return json_wrap_new(json_object(), p);
}

md_json_t *md_json_new_arr(apr_pool_t *p)
{
    return json_wrap_new(json_array(), p);
}

md_json_t *md_json_copy(const md_json_t *j, apr_pool_t *p)
{
    return j ? json_wrap_new(json_deep_copy(j->j), p) : NULL;
}

int md_json_is_obj(const md_json_t *j)
{
    return j && json_is_object(j->j);
}

int md_json_is_arr(const md_json_t *j)
{
    return j && json_is_array(j->j);
}

int md_json_is_str(const md_json_t *j)
{
    return j && json_is_string(j->j);
}

/* ---- parse / serialise ---- */

apr_status_t md_json_parse(md_json_t **pj, const char **perr, const char *data, apr_size_t len,
                           apr_pool_t *p)
{
    json_error_t err;
    json_t *v;

    *pj = NULL;
    *perr = NULL;
    v = json_loadb(data, len, 0, &err);
    if (!v) {
        *perr = apr_psprintf(p, "line %d, column %d: %s", err.line, err.column, err.text);
        return APR_EINVAL;
    }
    *pj = json_wrap_new(v, p);
    return APR_SUCCESS;
}

apr_status_t md_json_read_file(md_json_t **pj, const char **perr, const char *path, apr_pool_t *p)
{
    char *data, errbuf[MD_JSON_ERRBUF_LEN];
    apr_size_t len;
    apr_status_t rv;
    const char *reason;

    *pj = NULL;
    *perr = NULL;
    rv = md_file_read(&data, &len, path, 0, p);
    if (rv != APR_SUCCESS) {
        *perr = apr_psprintf(p, "%s: %s", path, apr_strerror(rv, errbuf, sizeof(errbuf)));
        return rv;
    }
    rv = md_json_parse(pj, &reason, data, len, p);
    if (rv != APR_SUCCESS) {
        *perr = apr_psprintf(p, "%s: %s", path, reason);
    }
    return rv;
}

const char *md_json_dump(const md_json_t *j, int pretty, apr_pool_t *p)
{
    size_t flags = JSON_PRESERVE_ORDER | JSON_ENCODE_ANY;
    const char *out;
    char *s;

    if (!j) {
        return NULL;
    }
    flags |= pretty ? JSON_INDENT(MD_JSON_INDENT) : JSON_COMPACT;
    s = json_dumps(j->j, flags);
    if (!s) {
        return NULL;
    }
    out = apr_pstrdup(p, s);
    free(s);
    return out;
}

apr_status_t md_json_write_file(const md_json_t *j, const char *path, apr_fileperms_t perms,
                                apr_pool_t *p)
{
    return md_json_write_file_ex(j, path, perms, 1, p);
}

apr_status_t md_json_write_file_ex(const md_json_t *j, const char *path, apr_fileperms_t perms,
                                   int durable, apr_pool_t *p)
{
    const char *s = md_json_dump(j, 1, p);

    if (!s) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "%s: no JSON to write", path);
        return APR_EINVAL;
    }
    s = apr_pstrcat(p, s, "\n", NULL);
    return md_file_write_atomic_ex(path, s, strlen(s), perms, durable, p);
}

/* ---- object members ---- */

int md_json_has(const md_json_t *j, const char *key)
{
    return member(j, key) != NULL;
}

md_json_t *md_json_get(const md_json_t *j, const char *key, apr_pool_t *p)
{
    return json_wrap_borrowed(member(j, key), p);
}

const char *md_json_get_str(const md_json_t *j, const char *key)
{
    return json_string_value(member(j, key));
}

long long md_json_get_int(const md_json_t *j, const char *key, long long dflt)
{
    json_t *v = member(j, key);

    if (json_is_integer(v)) {
        return json_integer_value(v);
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        /* 2^63 as a double bounds what a long long holds; beyond it the cast is undefined */
        if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
            return (long long) d;
        }
    }
    return dflt;
}

double md_json_get_num(const md_json_t *j, const char *key, double dflt)
{
    json_t *v = member(j, key);

    return json_is_number(v) ? json_number_value(v) : dflt;
}

int md_json_get_bool(const md_json_t *j, const char *key, int dflt)
{
    json_t *v = member(j, key);

    if (json_is_boolean(v)) {
        return json_is_true(v);
    }
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        return (int) json_integer_value(v);
    }
    return dflt;
}

apr_array_header_t *md_json_get_strs(const md_json_t *j, const char *key, apr_pool_t *p)
{
    json_t *v = member(j, key), *e;
    apr_array_header_t *a;
    size_t i;

    if (!json_is_array(v)) {
        return NULL;
    }
    a = apr_array_make(p, (int) json_array_size(v), sizeof(const char *));
    json_array_foreach(v, i, e)
    {
        if (json_is_string(e)) {
            APR_ARRAY_PUSH(a, const char *) = apr_pstrdup(p, json_string_value(e));
        }
    }
    return a;
}

apr_array_header_t *md_json_keys(const md_json_t *j, apr_pool_t *p)
{
    apr_array_header_t *a = apr_array_make(p, 8, sizeof(const char *));
    const char *key;
    json_t *v;

    if (!md_json_is_obj(j)) {
        return a;
    }
    /* jansson >= 2.14 iterates objects in insertion order */
    json_object_foreach(j->j, key, v)
    {
        APR_ARRAY_PUSH(a, const char *) = apr_pstrdup(p, key);
    }
    return a;
}

void md_json_set_str(md_json_t *j, const char *key, const char *val)
{
    if (!val) {
        md_json_del(j, key);
        return;
    }
    set_new(j, key, json_string(val));
}

void md_json_set_int(md_json_t *j, const char *key, long long val)
{
    set_new(j, key, json_integer(val));
}

void md_json_set_num(md_json_t *j, const char *key, double val)
{
    set_new(j, key, json_real(val));
}

void md_json_set_bool(md_json_t *j, const char *key, int val)
{
    set_new(j, key, json_boolean(val));
}

void md_json_set_strs(md_json_t *j, const char *key, const apr_array_header_t *vals)
{
    json_t *arr = json_array();
    int i;

    for (i = 0; arr && vals && i < vals->nelts; ++i) {
        const char *s = APR_ARRAY_IDX(vals, i, const char *);
        if (s && json_array_append_new(arr, json_string(s)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    set_new(j, key, arr);
}

void md_json_set(md_json_t *j, const char *key, const md_json_t *val)
{
    if (!val) {
        md_json_del(j, key);
        return;
    }
    set_new(j, key, json_incref(val->j));
}

void md_json_del(md_json_t *j, const char *key)
{
    if (is_settable(j, key)) {
        json_object_del(j->j, key);
    }
}

/* ---- arrays ---- */

apr_size_t md_json_len(const md_json_t *arr)
{
    return (arr && json_is_array(arr->j)) ? json_array_size(arr->j) : 0;
}

md_json_t *md_json_at(const md_json_t *arr, apr_size_t i, apr_pool_t *p)
{
    return md_json_is_arr(arr) ? json_wrap_borrowed(json_array_get(arr->j, i), p) : NULL;
}

const char *md_json_str_value(const md_json_t *j)
{
    return j ? json_string_value(j->j) : NULL;
}

void md_json_push(md_json_t *arr, const md_json_t *val)
{
    if (md_json_is_arr(arr) && val) {
        json_array_append(arr->j, val->j);
    }
}

void md_json_push_str(md_json_t *arr, const char *val)
{
    if (md_json_is_arr(arr) && val) {
        json_array_append_new(arr->j, json_string(val));
    }
}

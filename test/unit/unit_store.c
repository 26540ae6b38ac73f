/* unit_store.c: store set-up the unit tests share (file-system store, files and modes, keys
 * with self-signed chains). Failures fail the calling cmocka test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <apr_general.h>
#include <apr_strings.h>

#include <cmocka.h>

#include "md_util.h"
#include "unit_keys.h"
#include "unit_store.h"

/* permission bits and the set-user/group-id and sticky bits */
#define UNIT_MODE_MASK 07777
/* what the store tests run with: nothing for group and others */
#define UNIT_STRICT_UMASK 077

int unit_store_group_setup(void **state)
{
    (void) state;
    if (apr_initialize() != APR_SUCCESS) {
        return -1;
    }
    unit_log_capture(MD_LOG_ERR);
    umask(UNIT_STRICT_UMASK);
    return 0;
}

int unit_store_group_teardown(void **state)
{
    (void) state;
    apr_terminate();
    return 0;
}

int unit_store_setup(void **state)
{
    unit_store_fixture_t *f = calloc(1, sizeof(*f));

    if (!f || unit_tmp_open(&f->pool, f->base) != 0) {
        return -1;
    }
    f->dir = apr_pstrcat(f->pool, f->base, "/md", NULL);
    unit_log_clear();
    *state = f;
    return 0;
}

int unit_store_teardown(void **state)
{
    unit_store_fixture_t *f = *state;
    int rc = unit_tmp_close(f->pool, f->base);

    free(f);
    return rc;
}

md_store_t *unit_store_open(const char *dir, apr_pool_t *p)
{
    md_store_t *store = NULL;

    assert_int_equal(md_store_fs_open(&store, dir, 1, p), APR_SUCCESS);
    return store;
}

void unit_reg_open(md_store_t **pstore, md_reg_t **preg, const char *base, apr_pool_t *p)
{
    *pstore = unit_store_open(apr_pstrcat(p, base, "/md", NULL), p);
    assert_int_equal(md_reg_create(preg, *pstore, p), APR_SUCCESS);
}

md_t *unit_md_make(apr_pool_t *p, const char *first, ...)
{
    apr_array_header_t *domains = apr_array_make(p, 2, sizeof(const char *));
    const char *d = first;
    va_list ap;

    va_start(ap, first);
    for (; d; d = va_arg(ap, const char *)) {
        APR_ARRAY_PUSH(domains, const char *) = d;
    }
    va_end(ap);
    return md_create(domains, p);
}

mode_t unit_mode_of(const char *path)
{
    struct stat st;

    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & UNIT_MODE_MASK;
}

const char *unit_slurp(const char *path, apr_pool_t *p)
{
    char *data = NULL;
    apr_size_t len;

    assert_int_equal(md_file_read(&data, &len, path, 0, p), APR_SUCCESS);
    return data;
}

apr_array_header_t *unit_set_of(md_pkey_t *key, apr_array_header_t *chain, apr_pool_t *p)
{
    apr_array_header_t *set = apr_array_make(p, 1, sizeof(md_set_entry_t *));
    md_set_entry_t *e = apr_pcalloc(p, sizeof(*e));
    md_pkey_spec_t *spec;

    assert_int_equal(md_pkey_get_spec(&spec, key, p), APR_SUCCESS);
    e->spec = spec;
    e->key = key;
    e->chain = chain;
    APR_ARRAY_PUSH(set, md_set_entry_t *) = e;
    return set;
}

int unit_dir_count(const char *path, apr_pool_t *p)
{
    apr_finfo_t fi;
    apr_dir_t *dir;
    int n = 0;

    assert_int_equal(apr_dir_open(&dir, path, p), APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, dir) == APR_SUCCESS) {
        n += strcmp(fi.name, ".") && strcmp(fi.name, "..");
    }
    apr_dir_close(dir);
    return n;
}

void unit_spit(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

apr_array_header_t *unit_chain(const md_pkey_t *key, const char *cn,
                               const apr_array_header_t *names, apr_interval_time_t valid_for,
                               apr_pool_t *p)
{
    apr_array_header_t *chain = apr_array_make(p, 1, sizeof(md_cert_t *));
    md_cert_t *cert;

    assert_int_equal(md_cert_self_signed(&cert, cn, names, key, valid_for, p), APR_SUCCESS);
    APR_ARRAY_PUSH(chain, md_cert_t *) = cert;
    return chain;
}

void unit_key_and_chain(md_pkey_t **pkey, apr_array_header_t **pchain, const char *domain,
                        apr_interval_time_t valid_for, apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 1, sizeof(const char *));

    APR_ARRAY_PUSH(names, const char *) = domain;
    assert_int_equal(md_pkey_gen(pkey, &unit_spec_p256, p), APR_SUCCESS);
    *pchain = unit_chain(*pkey, NULL, names, valid_for, p);
}

void unit_save_key_chain(md_store_t *store, md_store_group_t group, const char *name,
                         const md_pkey_t *key, const apr_array_header_t *chain, apr_pool_t *p)
{
    assert_int_equal(md_store_save_pkey(store, group, name, UNIT_KEY_FILE, key, p), APR_SUCCESS);
    assert_int_equal(md_store_save_chain(store, group, name, UNIT_CERT_FILE, chain, p),
                     APR_SUCCESS);
}

const char *unit_leaf_fingerprint(const apr_array_header_t *chain, apr_pool_t *p)
{
    return md_cert_fingerprint(APR_ARRAY_IDX(chain, 0, const md_cert_t *), p);
}

md_json_t *unit_json_with_name(const char *value, apr_pool_t *p)
{
    md_json_t *j = md_json_new_obj(p);

    md_json_set_str(j, "name", value);
    return j;
}

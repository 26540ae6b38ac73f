/* test_store_promote.c: unit tests of whole-entry moves in the file-system store --
 * md_store_archive numbering and md_store_promote (install, replace, refusals). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "md_cert.h"
#include "md_crypt.h"
#include "md_json.h"
#include "md_log.h"
#include "md_store.h"
#include "md_util.h"

#define MODE_PRIVATE_DIR 0700
#define MODE_PRIVATE_FILE 0600
#define TEST_CERT_VALID apr_time_from_sec(86400)
#define TEST_LOG_LEN 1024

static const md_pkey_spec_t spec_p256 = {MD_PKEY_EC, 0, "secp256r1"};
#define KEY_FILE "privkey.secp256r1.pem"
#define CERT_FILE "pubcert.secp256r1.pem"

/* The last error the library logged (the sink is installed once, before any test runs). */
static char last_error[TEST_LOG_LEN];

static void test_sink(void *baton, const char *file, int line, md_log_level_t level,
                      apr_status_t rv, const char *msg)
{
    (void) baton;
    if (level == MD_LOG_ERR) {
        snprintf(last_error, sizeof(last_error), "%s", msg);
    }
    if (getenv("MD_TEST_LOG")) {
        fprintf(stderr, "[%s] %s:%d: %s (%d)\n", md_log_level_name(level), file, line, msg, rv);
    }
}

typedef struct {
    apr_pool_t *pool;
    char base[64];   /* the mkdtemp directory */
    const char *dir; /* the store inside it */
} fixture_t;

static int group_setup(void **state)
{
    (void) state;
    if (apr_initialize() != APR_SUCCESS) {
        return -1;
    }
    md_log_set(test_sink, NULL, getenv("MD_TEST_LOG") ? MD_LOG_TRACE : MD_LOG_WARN);
    /* a strict umask: the store must set its permissions regardless */
    umask(077);
    return 0;
}

static int group_teardown(void **state)
{
    (void) state;
    apr_terminate();
    return 0;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    if (!f || apr_pool_create(&f->pool, NULL) != APR_SUCCESS) {
        return -1;
    }
    strcpy(f->base, "/tmp/test_store_promote.XXXXXX");
    if (!mkdtemp(f->base)) {
        return -1;
    }
    f->dir = apr_pstrcat(f->pool, f->base, "/md", NULL);
    last_error[0] = '\0';
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    char *cmd = apr_psprintf(f->pool, "rm -rf '%s'", f->base);
    int rc = system(cmd);

    apr_pool_destroy(f->pool);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- helpers ---- */

static md_store_t *open_store(fixture_t *f)
{
    md_store_t *store;

    assert_int_equal(md_store_fs_open(&store, f->dir, 1, f->pool), APR_SUCCESS);
    return store;
}

static mode_t mode_of(const char *path)
{
    struct stat st;

    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

static const char *slurp(const char *path, apr_pool_t *p)
{
    char *data;
    apr_size_t len;

    assert_int_equal(md_file_read(&data, &len, path, 0, p), APR_SUCCESS);
    return data;
}

/* A fresh EC key and a self-signed one-certificate chain for it. */
static void make_pair(md_pkey_t **pkey, apr_array_header_t **pchain, const char *domain,
                      apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 1, sizeof(const char *));
    md_cert_t *cert;

    APR_ARRAY_PUSH(names, const char *) = domain;
    assert_int_equal(md_pkey_gen(pkey, &spec_p256, p), APR_SUCCESS);
    assert_int_equal(md_cert_self_signed(&cert, NULL, names, *pkey, TEST_CERT_VALID, p),
                     APR_SUCCESS);
    *pchain = apr_array_make(p, 1, sizeof(md_cert_t *));
    APR_ARRAY_PUSH(*pchain, md_cert_t *) = cert;
}

static const char *leaf_fingerprint(const apr_array_header_t *chain, apr_pool_t *p)
{
    return md_cert_fingerprint(APR_ARRAY_IDX(chain, 0, const md_cert_t *), p);
}

static md_json_t *json_with_name(const char *value, apr_pool_t *p)
{
    md_json_t *j = md_json_new_obj(p);

    md_json_set_str(j, "name", value);
    return j;
}

/* Stages a complete set (md.json, job.json, encrypted key, chain) for name. */
static void stage_set(md_store_t *store, const char *name, const char *mdname,
                      apr_array_header_t **pchain, apr_pool_t *p)
{
    md_pkey_t *key;

    make_pair(&key, pchain, name, p);
    assert_int_equal(
        md_store_save_json(store, MD_SG_STAGING, name, MD_FN_MD, json_with_name(mdname, p), p),
        APR_SUCCESS);
    assert_int_equal(
        md_store_save_json(store, MD_SG_STAGING, name, MD_FN_JOB, json_with_name("job", p), p),
        APR_SUCCESS);
    assert_int_equal(md_store_save_pkey(store, MD_SG_STAGING, name, KEY_FILE, key, p), APR_SUCCESS);
    assert_int_equal(md_store_save_chain(store, MD_SG_STAGING, name, CERT_FILE, *pchain, p),
                     APR_SUCCESS);
}

static int str_in(const apr_array_header_t *a, const char *s)
{
    return md_array_str_index(a, s, 1) >= 0;
}

/* ---- archive, promote ---- */

static void test_archive_numbering(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = open_store(f);
    const char *archived;

    assert_int_equal(md_store_archive(&archived, store, "a.org", f->pool), APR_ENOENT);
    assert_null(archived);
    for (int n = 1; n <= 2; ++n) {
        const char *expect = apr_psprintf(f->pool, "a.org.%d", n);

        assert_int_equal(md_store_save_json(store, MD_SG_DOMAINS, "a.org", MD_FN_MD,
                                            json_with_name(expect, f->pool), f->pool),
                         APR_SUCCESS);
        assert_int_equal(md_store_archive(&archived, store, "a.org", f->pool), APR_SUCCESS);
        assert_string_equal(archived, expect);
        assert_false(md_store_exists(store, MD_SG_DOMAINS, "a.org", NULL, f->pool));
        assert_true(md_store_exists(store, MD_SG_ARCHIVE, expect, MD_FN_MD, f->pool));
    }
    /* the first free number is taken */
    assert_int_equal(md_store_purge(store, MD_SG_ARCHIVE, "a.org.1", f->pool), APR_SUCCESS);
    assert_int_equal(md_store_save_json(store, MD_SG_DOMAINS, "a.org", MD_FN_MD,
                                        json_with_name("x", f->pool), f->pool),
                     APR_SUCCESS);
    assert_int_equal(md_store_archive(&archived, store, "a.org", f->pool), APR_SUCCESS);
    assert_string_equal(archived, "a.org.1");
}

/* domains/<name> holds exactly this set: md.json named 'mdname', a plain key that the
 * certificate with 'fingerprint' belongs to; no job.json. */
static void assert_domain_set(md_store_t *store, const char *name, const char *mdname,
                              const char *fingerprint, apr_pool_t *p)
{
    const char *entry = md_store_path(store, MD_SG_DOMAINS, name, NULL, p), *err;
    apr_array_header_t *chain, *aspects;
    md_pkey_t *key;
    md_json_t *j;

    assert_int_equal(md_store_aspects(&aspects, store, MD_SG_DOMAINS, name, p), APR_SUCCESS);
    assert_int_equal(aspects->nelts, 3);
    assert_true(str_in(aspects, MD_FN_MD));
    assert_true(str_in(aspects, KEY_FILE));
    assert_true(str_in(aspects, CERT_FILE));
    assert_int_equal(md_store_load_json(&j, &err, store, MD_SG_DOMAINS, name, MD_FN_MD, p),
                     APR_SUCCESS);
    assert_string_equal(md_json_get_str(j, "name"), mdname);
    assert_int_equal(md_store_load_chain(&chain, &err, store, MD_SG_DOMAINS, name, CERT_FILE, p),
                     APR_SUCCESS);
    assert_string_equal(leaf_fingerprint(chain, p), fingerprint);
    assert_int_equal(md_store_load_pkey(&key, &err, store, MD_SG_DOMAINS, name, KEY_FILE, p),
                     APR_SUCCESS);
    assert_true(md_cert_matches_key(APR_ARRAY_IDX(chain, 0, const md_cert_t *), key));
    assert_null(strstr(slurp(apr_pstrcat(p, entry, "/" KEY_FILE, NULL), p), "ENCRYPTED"));
    assert_int_equal(mode_of(entry), MODE_PRIVATE_DIR);
    assert_int_equal(mode_of(apr_pstrcat(p, entry, "/" KEY_FILE, NULL)), MODE_PRIVATE_FILE);
}

static void assert_group_empty(md_store_t *store, md_store_group_t group, apr_pool_t *p)
{
    apr_array_header_t *names;

    assert_int_equal(md_store_names(&names, store, group, p), APR_SUCCESS);
    assert_int_equal(names->nelts, 0);
}

static void test_promote_install_and_replace(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = open_store(f);
    apr_array_header_t *chain1, *chain2, *aspects;
    const char *archived, *fp1, *fp2;

    /* first install: the staged md.json is taken, nothing is archived */
    stage_set(store, "a.org", "staged-1", &chain1, f->pool);
    fp1 = leaf_fingerprint(chain1, f->pool);
    assert_int_equal(md_store_promote(&archived, store, "a.org", f->pool), APR_SUCCESS);
    assert_null(archived);
    assert_domain_set(store, "a.org", "staged-1", fp1, f->pool);
    assert_false(md_store_exists(store, MD_SG_STAGING, "a.org", NULL, f->pool));
    assert_group_empty(store, MD_SG_ARCHIVE, f->pool);
    assert_group_empty(store, MD_SG_TMP, f->pool);

    /* the registry changes md.json meanwhile; the second set keeps that md.json and the
     * first set goes to the archive whole */
    assert_int_equal(md_store_save_json(store, MD_SG_DOMAINS, "a.org", MD_FN_MD,
                                        json_with_name("registry", f->pool), f->pool),
                     APR_SUCCESS);
    stage_set(store, "a.org", "staged-2", &chain2, f->pool);
    fp2 = leaf_fingerprint(chain2, f->pool);
    assert_string_not_equal(fp1, fp2);
    assert_int_equal(md_store_promote(&archived, store, "a.org", f->pool), APR_SUCCESS);
    assert_non_null(archived);
    assert_string_equal(archived, "a.org.1");
    assert_domain_set(store, "a.org", "registry", fp2, f->pool);
    assert_false(md_store_exists(store, MD_SG_STAGING, "a.org", NULL, f->pool));
    assert_int_equal(md_store_aspects(&aspects, store, MD_SG_ARCHIVE, "a.org.1", f->pool),
                     APR_SUCCESS);
    assert_int_equal(aspects->nelts, 3);
    assert_true(md_store_exists(store, MD_SG_ARCHIVE, "a.org.1", KEY_FILE, f->pool));
    assert_group_empty(store, MD_SG_TMP, f->pool);
    assert_group_empty(store, MD_SG_STAGING, f->pool);

    /* a third one goes on numbering */
    stage_set(store, "a.org", "staged-3", &chain1, f->pool);
    assert_int_equal(md_store_promote(&archived, store, "a.org", f->pool), APR_SUCCESS);
    assert_string_equal(archived, "a.org.2");
    assert_domain_set(store, "a.org", "registry", leaf_fingerprint(chain1, f->pool), f->pool);
}

static void test_promote_nothing_staged(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = open_store(f);
    const char *archived = "x";

    assert_int_equal(md_store_promote(&archived, store, "a.org", f->pool), APR_ENOENT);
    assert_null(archived);
    assert_false(md_store_exists(store, MD_SG_DOMAINS, "a.org", NULL, f->pool));
}

static void test_promote_refuses_incomplete(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = open_store(f);
    apr_array_header_t *chain, *other_chain;
    md_pkey_t *other_key;
    const char *archived, *fp;

    stage_set(store, "a.org", "first", &chain, f->pool);
    assert_int_equal(md_store_promote(&archived, store, "a.org", f->pool), APR_SUCCESS);
    fp = leaf_fingerprint(chain, f->pool);

    /* a certificate without its key */
    stage_set(store, "a.org", "second", &chain, f->pool);
    assert_int_equal(md_store_remove(store, MD_SG_STAGING, "a.org", KEY_FILE, f->pool),
                     APR_SUCCESS);
    last_error[0] = '\0';
    assert_int_equal(md_store_promote(&archived, store, "a.org", f->pool), APR_EINVAL);
    assert_non_null(strstr(last_error, "a.org"));
    assert_domain_set(store, "a.org", "first", fp, f->pool);

    /* only a job, no certificate */
    assert_int_equal(md_store_remove(store, MD_SG_STAGING, "a.org", CERT_FILE, f->pool),
                     APR_SUCCESS);
    assert_int_equal(md_store_promote(&archived, store, "a.org", f->pool), APR_EINVAL);
    assert_domain_set(store, "a.org", "first", fp, f->pool);

    /* a certificate with somebody else's key */
    make_pair(&other_key, &other_chain, "a.org", f->pool);
    assert_int_equal(
        md_store_save_pkey(store, MD_SG_STAGING, "a.org", KEY_FILE, other_key, f->pool),
        APR_SUCCESS);
    assert_int_equal(md_store_save_chain(store, MD_SG_STAGING, "a.org", CERT_FILE, chain, f->pool),
                     APR_SUCCESS);
    assert_int_equal(md_store_promote(&archived, store, "a.org", f->pool), APR_EINVAL);
    assert_domain_set(store, "a.org", "first", fp, f->pool);

    /* refusals keep the staged files, leave no scraps and archive nothing */
    assert_true(md_store_exists(store, MD_SG_STAGING, "a.org", MD_FN_JOB, f->pool));
    assert_group_empty(store, MD_SG_TMP, f->pool);
    assert_group_empty(store, MD_SG_ARCHIVE, f->pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_archive_numbering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_promote_install_and_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_promote_nothing_staged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_promote_refuses_incomplete, setup, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

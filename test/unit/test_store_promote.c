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
#include "unit_fixture.h"
#include "unit_store.h"

#define MODE_PRIVATE_DIR 0700
#define MODE_PRIVATE_FILE 0600
#define TEST_CERT_VALID apr_time_from_sec(86400)

/* a fresh store directory per test; the group runs with a strict umask */
typedef unit_store_fixture_t fixture_t;

/* ---- helpers ---- */

/* Stages a complete set (md.json, job.json, encrypted key, chain) for name. */
static void stage_set(md_store_t *store, const char *name, const char *mdname,
                      apr_array_header_t **pchain, apr_pool_t *p)
{
    md_pkey_t *key;

    unit_key_and_chain(&key, pchain, name, TEST_CERT_VALID, p);
    assert_int_equal(
        md_store_save_json(store, MD_SG_STAGING, name, MD_FN_MD, unit_json_with_name(mdname, p), p),
        APR_SUCCESS);
    assert_int_equal(
        md_store_save_json(store, MD_SG_STAGING, name, MD_FN_JOB, unit_json_with_name("job", p), p),
        APR_SUCCESS);
    unit_save_key_chain(store, MD_SG_STAGING, name, key, *pchain, p);
}

/* The set staged for name as a caller loads it (md_plan_load_set) before it promotes. */
static apr_array_header_t *staged(md_store_t *store, const char *name, apr_pool_t *p)
{
    apr_array_header_t *chain;
    md_pkey_t *key;
    const char *err;

    assert_int_equal(md_store_load_pkey(&key, &err, store, MD_SG_STAGING, name, UNIT_KEY_FILE, p),
                     APR_SUCCESS);
    assert_int_equal(
        md_store_load_chain(&chain, &err, store, MD_SG_STAGING, name, UNIT_CERT_FILE, p),
        APR_SUCCESS);
    return unit_set_of(key, chain, p);
}

static int str_in(const apr_array_header_t *a, const char *s)
{
    return md_array_str_index(a, s, 1) >= 0;
}

/* ---- archive, promote ---- */

static void test_archive_numbering(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    const char *archived;

    assert_int_equal(md_store_archive(&archived, store, "a.org", f->pool), APR_ENOENT);
    assert_null(archived);
    for (int n = 1; n <= 2; ++n) {
        const char *expect = apr_psprintf(f->pool, "a.org.%d", n);

        assert_int_equal(md_store_save_json(store, MD_SG_DOMAINS, "a.org", MD_FN_MD,
                                            unit_json_with_name(expect, f->pool), f->pool),
                         APR_SUCCESS);
        assert_int_equal(md_store_archive(&archived, store, "a.org", f->pool), APR_SUCCESS);
        assert_string_equal(archived, expect);
        assert_false(md_store_exists(store, MD_SG_DOMAINS, "a.org", NULL, f->pool));
        assert_true(md_store_exists(store, MD_SG_ARCHIVE, expect, MD_FN_MD, f->pool));
    }
    /* the first free number is taken */
    assert_int_equal(md_store_purge(store, MD_SG_ARCHIVE, "a.org.1", f->pool), APR_SUCCESS);
    assert_int_equal(md_store_save_json(store, MD_SG_DOMAINS, "a.org", MD_FN_MD,
                                        unit_json_with_name("x", f->pool), f->pool),
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
    assert_true(str_in(aspects, UNIT_KEY_FILE));
    assert_true(str_in(aspects, UNIT_CERT_FILE));
    assert_int_equal(md_store_load_json(&j, &err, store, MD_SG_DOMAINS, name, MD_FN_MD, p),
                     APR_SUCCESS);
    assert_string_equal(md_json_get_str(j, "name"), mdname);
    assert_int_equal(
        md_store_load_chain(&chain, &err, store, MD_SG_DOMAINS, name, UNIT_CERT_FILE, p),
        APR_SUCCESS);
    assert_string_equal(unit_leaf_fingerprint(chain, p), fingerprint);
    assert_int_equal(md_store_load_pkey(&key, &err, store, MD_SG_DOMAINS, name, UNIT_KEY_FILE, p),
                     APR_SUCCESS);
    assert_true(md_cert_matches_key(APR_ARRAY_IDX(chain, 0, const md_cert_t *), key));
    assert_null(strstr(unit_slurp(apr_pstrcat(p, entry, "/" UNIT_KEY_FILE, NULL), p), "ENCRYPTED"));
    assert_int_equal(unit_mode_of(entry), MODE_PRIVATE_DIR);
    assert_int_equal(unit_mode_of(apr_pstrcat(p, entry, "/" UNIT_KEY_FILE, NULL)),
                     MODE_PRIVATE_FILE);
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
    md_store_t *store = unit_store_open(f->dir, f->pool);
    apr_array_header_t *chain1, *chain2, *aspects;
    const char *archived, *fp1, *fp2;

    /* first install: the staged md.json is taken, nothing is archived */
    stage_set(store, "a.org", "staged-1", &chain1, f->pool);
    fp1 = unit_leaf_fingerprint(chain1, f->pool);
    assert_int_equal(md_store_promote(&archived, store, MD_SG_STAGING, "a.org",
                                      staged(store, "a.org", f->pool), f->pool),
                     APR_SUCCESS);
    assert_null(archived);
    assert_domain_set(store, "a.org", "staged-1", fp1, f->pool);
    assert_false(md_store_exists(store, MD_SG_STAGING, "a.org", NULL, f->pool));
    assert_group_empty(store, MD_SG_ARCHIVE, f->pool);
    assert_group_empty(store, MD_SG_TMP, f->pool);

    /* the registry changes md.json meanwhile; the second set keeps that md.json and the
     * first set goes to the archive whole */
    assert_int_equal(md_store_save_json(store, MD_SG_DOMAINS, "a.org", MD_FN_MD,
                                        unit_json_with_name("registry", f->pool), f->pool),
                     APR_SUCCESS);
    stage_set(store, "a.org", "staged-2", &chain2, f->pool);
    fp2 = unit_leaf_fingerprint(chain2, f->pool);
    assert_string_not_equal(fp1, fp2);
    assert_int_equal(md_store_promote(&archived, store, MD_SG_STAGING, "a.org",
                                      staged(store, "a.org", f->pool), f->pool),
                     APR_SUCCESS);
    assert_non_null(archived);
    assert_string_equal(archived, "a.org.1");
    assert_domain_set(store, "a.org", "registry", fp2, f->pool);
    assert_false(md_store_exists(store, MD_SG_STAGING, "a.org", NULL, f->pool));
    assert_int_equal(md_store_aspects(&aspects, store, MD_SG_ARCHIVE, "a.org.1", f->pool),
                     APR_SUCCESS);
    assert_int_equal(aspects->nelts, 3);
    assert_true(md_store_exists(store, MD_SG_ARCHIVE, "a.org.1", UNIT_KEY_FILE, f->pool));
    assert_group_empty(store, MD_SG_TMP, f->pool);
    assert_group_empty(store, MD_SG_STAGING, f->pool);

    /* a third one goes on numbering */
    stage_set(store, "a.org", "staged-3", &chain1, f->pool);
    assert_int_equal(md_store_promote(&archived, store, MD_SG_STAGING, "a.org",
                                      staged(store, "a.org", f->pool), f->pool),
                     APR_SUCCESS);
    assert_string_equal(archived, "a.org.2");
    assert_domain_set(store, "a.org", "registry", unit_leaf_fingerprint(chain1, f->pool), f->pool);
}

static void test_promote_nothing_staged(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    apr_array_header_t *empty = apr_array_make(f->pool, 1, sizeof(md_set_entry_t *));
    const char *archived = "x";

    assert_int_equal(md_store_promote(&archived, store, MD_SG_STAGING, "a.org", empty, f->pool),
                     APR_EINVAL);
    assert_null(archived);
    assert_false(md_store_exists(store, MD_SG_DOMAINS, "a.org", NULL, f->pool));
}

static void test_promote_refuses_a_chain_of_another_key(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    apr_array_header_t *chain, *set;
    md_pkey_t *other_key;
    const char *archived, *fp;

    stage_set(store, "a.org", "first", &chain, f->pool);
    assert_int_equal(md_store_promote(&archived, store, MD_SG_STAGING, "a.org",
                                      staged(store, "a.org", f->pool), f->pool),
                     APR_SUCCESS);
    fp = unit_leaf_fingerprint(chain, f->pool);

    /* a set whose certificate is somebody else's key's */
    stage_set(store, "a.org", "second", &chain, f->pool);
    set = staged(store, "a.org", f->pool);
    unit_key_and_chain(&other_key, &chain, "a.org", TEST_CERT_VALID, f->pool);
    APR_ARRAY_IDX(set, 0, md_set_entry_t *)->key = other_key;
    unit_log_clear();
    assert_int_equal(md_store_promote(&archived, store, MD_SG_STAGING, "a.org", set, f->pool),
                     APR_EINVAL);
    assert_non_null(strstr(unit_log_last_error(), "a.org"));
    assert_domain_set(store, "a.org", "first", fp, f->pool);

    /* refusals keep the staged files, leave no scraps and archive nothing */
    assert_true(md_store_exists(store, MD_SG_STAGING, "a.org", MD_FN_JOB, f->pool));
    assert_group_empty(store, MD_SG_TMP, f->pool);
    assert_group_empty(store, MD_SG_ARCHIVE, f->pool);
}

static void test_promote_writes_the_set_it_was_given_not_what_staging_has_now(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    apr_array_header_t *chain, *other_chain, *set;
    md_pkey_t *other_key;
    const char *archived;

    /* verified, then the User swaps the files under the parent's feet */
    stage_set(store, "a.org", "first", &chain, f->pool);
    set = staged(store, "a.org", f->pool);
    unit_key_and_chain(&other_key, &other_chain, "b.org", TEST_CERT_VALID, f->pool);
    unit_save_key_chain(store, MD_SG_STAGING, "a.org", other_key, other_chain, f->pool);
    assert_int_equal(md_store_promote(&archived, store, MD_SG_STAGING, "a.org", set, f->pool),
                     APR_SUCCESS);
    assert_domain_set(store, "a.org", "first", unit_leaf_fingerprint(chain, f->pool), f->pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_archive_numbering, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_promote_install_and_replace, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_promote_nothing_staged, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(
            test_promote_writes_the_set_it_was_given_not_what_staging_has_now, unit_store_setup,
            unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_promote_refuses_a_chain_of_another_key,
                                        unit_store_setup, unit_store_teardown),
    };

    return cmocka_run_group_tests(tests, unit_store_group_setup, unit_store_group_teardown);
}

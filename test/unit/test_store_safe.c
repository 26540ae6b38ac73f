/* test_store_safe.c: unit tests of what root may do in store directories that the server's User
 * can write: reads refuse links, FIFOs, hard links and plain keys; removals never follow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "md_challenge.h"
#include "md_crypt.h"
#include "md_store.h"
#include "unit_fixture.h"
#include "unit_keys.h"
#include "unit_store.h"

#define NAME "example.org"
#define DECOY_TEXT "decoy: must stay as it is\n"

typedef unit_store_fixture_t fixture_t;

static const char *entry_path(fixture_t *f, md_store_t *store, const char *aspect)
{
    return md_store_path(store, MD_SG_STAGING, NAME, aspect, f->pool);
}

/* A decoy file outside the store, and the staging entry ready for planting. */
static const char *decoy_and_entry(fixture_t *f, md_store_t *store)
{
    const char *decoy = apr_pstrcat(f->pool, f->base, "/decoy", NULL);

    unit_spit(decoy, DECOY_TEXT);
    assert_int_equal(md_store_create_entry(store, MD_SG_STAGING, NAME, f->pool), APR_SUCCESS);
    return decoy;
}

static void test_symlinked_file_is_refused_and_named(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    const char *decoy = decoy_and_entry(f, store), *text, *err;
    apr_array_header_t *chain;

    assert_int_equal(symlink(decoy, entry_path(f, store, MD_FN_JOB)), 0);
    assert_int_equal(md_store_load_text(&text, store, MD_SG_STAGING, NAME, MD_FN_JOB, f->pool),
                     APR_EINVAL);
    assert_non_null(strstr(unit_log_last_error(), "symbolic link"));
    assert_non_null(strstr(unit_log_last_error(), entry_path(f, store, MD_FN_JOB)));
    assert_int_equal(symlink(decoy, entry_path(f, store, UNIT_CERT_FILE)), 0);
    assert_int_equal(
        md_store_load_chain(&chain, &err, store, MD_SG_STAGING, NAME, UNIT_CERT_FILE, f->pool),
        APR_EINVAL);
    assert_string_equal(unit_slurp(decoy, f->pool), DECOY_TEXT);
}

static void test_symlinked_entry_directory_is_refused(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    const char *dir = apr_pstrcat(f->pool, f->base, "/decoy-dir", NULL), *text;
    apr_array_header_t *aspects;

    assert_int_equal(mkdir(dir, 0700), 0);
    unit_spit(apr_pstrcat(f->pool, dir, "/", MD_FN_JOB, NULL), DECOY_TEXT);
    assert_int_equal(symlink(dir, md_store_path(store, MD_SG_STAGING, NAME, NULL, f->pool)), 0);
    assert_int_equal(md_store_load_text(&text, store, MD_SG_STAGING, NAME, MD_FN_JOB, f->pool),
                     APR_EINVAL);
    assert_non_null(strstr(unit_log_last_error(), "not a directory"));
    /* not listed through the link either */
    md_store_aspects(&aspects, store, MD_SG_STAGING, NAME, f->pool);
    assert_int_equal(aspects->nelts, 0);
}

static void test_fifo_is_refused_without_blocking(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    const char *err;
    md_pkey_t *key;

    decoy_and_entry(f, store);
    assert_int_equal(mkfifo(entry_path(f, store, UNIT_KEY_FILE), 0600), 0);
    /* a blocking open would hang here for good: nobody writes to the FIFO */
    assert_int_equal(
        md_store_load_pkey(&key, &err, store, MD_SG_STAGING, NAME, UNIT_KEY_FILE, f->pool),
        APR_EINVAL);
    assert_non_null(strstr(unit_log_last_error(), "not a regular file"));
}

static void test_hard_link_is_refused(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    const char *decoy = decoy_and_entry(f, store), *text;

    assert_int_equal(link(decoy, entry_path(f, store, MD_FN_JOB)), 0);
    assert_int_equal(md_store_load_text(&text, store, MD_SG_STAGING, NAME, MD_FN_JOB, f->pool),
                     APR_EINVAL);
    assert_non_null(strstr(unit_log_last_error(), "other links"));
}

static void test_plain_key_where_keys_are_encrypted_is_refused(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    md_pkey_t *key, *loaded;
    const char *pem, *err;

    assert_int_equal(md_pkey_gen(&key, &unit_spec_p256, f->pool), APR_SUCCESS);
    assert_int_equal(md_pkey_to_pem(&pem, key, NULL, 0, f->pool), APR_SUCCESS);
    decoy_and_entry(f, store);
    unit_spit(entry_path(f, store, UNIT_KEY_FILE), pem);
    assert_int_equal(
        md_store_load_pkey(&loaded, &err, store, MD_SG_STAGING, NAME, UNIT_KEY_FILE, f->pool),
        APR_EINVAL);
    assert_non_null(strstr(err, "must be encrypted"));
    /* the same key saved by the store (encrypted) loads */
    assert_int_equal(md_store_save_pkey(store, MD_SG_STAGING, NAME, UNIT_KEY_FILE, key, f->pool),
                     APR_SUCCESS);
    assert_int_equal(
        md_store_load_pkey(&loaded, &err, store, MD_SG_STAGING, NAME, UNIT_KEY_FILE, f->pool),
        APR_SUCCESS);
}

static void test_purge_removes_links_never_what_they_point_to(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    const char *decoy = decoy_and_entry(f, store);
    const char *dir = apr_pstrcat(f->pool, f->base, "/decoy-dir", NULL);
    const char *inside = apr_pstrcat(f->pool, dir, "/keep", NULL);
    struct stat st;

    assert_int_equal(mkdir(dir, 0700), 0);
    unit_spit(inside, DECOY_TEXT);
    assert_int_equal(symlink(decoy, entry_path(f, store, UNIT_CERT_FILE)), 0);
    assert_int_equal(symlink(dir, entry_path(f, store, "sub")), 0);
    assert_int_equal(mkfifo(entry_path(f, store, UNIT_KEY_FILE), 0600), 0);
    assert_int_equal(md_store_purge(store, MD_SG_STAGING, NAME, f->pool), APR_SUCCESS);
    assert_false(md_store_exists(store, MD_SG_STAGING, NAME, NULL, f->pool));
    assert_string_equal(unit_slurp(decoy, f->pool), DECOY_TEXT);
    assert_string_equal(unit_slurp(inside, f->pool), DECOY_TEXT);
    /* an entry that is itself a link goes as a link */
    assert_int_equal(symlink(dir, md_store_path(store, MD_SG_STAGING, NAME, NULL, f->pool)), 0);
    assert_int_equal(md_store_purge(store, MD_SG_STAGING, NAME, f->pool), APR_SUCCESS);
    assert_int_equal(lstat(md_store_path(store, MD_SG_STAGING, NAME, NULL, f->pool), &st), -1);
    assert_string_equal(unit_slurp(inside, f->pool), DECOY_TEXT);
}

static void test_writes_never_go_through_a_linked_entry_directory(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    const char *dir = apr_pstrcat(f->pool, f->base, "/decoy-dir", NULL);

    assert_int_equal(mkdir(dir, 0700), 0);
    unit_spit(apr_pstrcat(f->pool, dir, "/", MD_FN_JOB, NULL), DECOY_TEXT);
    assert_int_equal(
        md_store_save_text(store, MD_SG_STAGING, "other.org", MD_FN_JOB, "{}", f->pool),
        APR_SUCCESS); /* the group directory exists */
    assert_int_equal(symlink(dir, md_store_path(store, MD_SG_STAGING, NAME, NULL, f->pool)), 0);
    unit_log_clear();
    assert_int_equal(md_store_save_text(store, MD_SG_STAGING, NAME, MD_FN_JOB, "{}", f->pool),
                     APR_EINVAL);
    assert_non_null(strstr(unit_log_last_error(), "not a directory"));
    assert_int_equal(md_store_remove(store, MD_SG_STAGING, NAME, MD_FN_JOB, f->pool), APR_EINVAL);
    /* the decoy directory holds what it held, and only that */
    assert_string_equal(unit_slurp(apr_pstrcat(f->pool, dir, "/", MD_FN_JOB, NULL), f->pool),
                        DECOY_TEXT);
    assert_int_equal(unit_dir_count(dir, f->pool), 1);
}

static void test_a_write_replaces_a_planted_link_and_never_writes_through_it(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    const char *decoy = decoy_and_entry(f, store);
    struct stat st;

    assert_int_equal(symlink(decoy, entry_path(f, store, MD_FN_JOB)), 0);
    assert_int_equal(md_store_save_text(store, MD_SG_STAGING, NAME, MD_FN_JOB, "{}", f->pool),
                     APR_SUCCESS);
    assert_string_equal(unit_slurp(decoy, f->pool), DECOY_TEXT);
    assert_int_equal(lstat(entry_path(f, store, MD_FN_JOB), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_string_equal(unit_slurp(entry_path(f, store, MD_FN_JOB), f->pool), "{}");
}

static void test_remove_takes_a_planted_link_never_its_target(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    const char *decoy = decoy_and_entry(f, store);
    struct stat st;

    assert_int_equal(symlink(decoy, entry_path(f, store, UNIT_CERT_FILE)), 0);
    assert_int_equal(md_store_remove(store, MD_SG_STAGING, NAME, UNIT_CERT_FILE, f->pool),
                     APR_SUCCESS);
    assert_int_not_equal(lstat(entry_path(f, store, UNIT_CERT_FILE), &st), 0);
    assert_string_equal(unit_slurp(decoy, f->pool), DECOY_TEXT);
    /* nothing there is no failure */
    assert_int_equal(md_store_remove(store, MD_SG_STAGING, NAME, UNIT_CERT_FILE, f->pool),
                     APR_SUCCESS);
    assert_int_equal(md_store_remove(store, MD_SG_STAGING, "none.org", UNIT_CERT_FILE, f->pool),
                     APR_SUCCESS);
}

static void test_writes_have_their_exact_modes_whatever_the_umask(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    mode_t old = umask(0077);
    md_pkey_t *key;
    struct stat st;

    assert_int_equal(
        md_store_save_text(store, MD_SG_CHALLENGES, NAME, "acme-http-01.txt", "t", f->pool),
        APR_SUCCESS);
    assert_int_equal(md_pkey_gen(&key, &unit_spec_p256, f->pool), APR_SUCCESS);
    assert_int_equal(md_store_save_pkey(store, MD_SG_STAGING, NAME, UNIT_KEY_FILE, key, f->pool),
                     APR_SUCCESS);
    umask(old);
    /* challenge answers are for the workers to read, keys for their owner only */
    assert_int_equal(
        stat(md_store_path(store, MD_SG_CHALLENGES, NAME, "acme-http-01.txt", f->pool), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(stat(md_store_path(store, MD_SG_CHALLENGES, NAME, NULL, f->pool), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0755);
    assert_int_equal(stat(entry_path(f, store, UNIT_KEY_FILE), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_remove_never_follows_a_linked_entry(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    const char *decoy = apr_pstrcat(f->pool, f->base, "/decoy", NULL);
    const char *dir = apr_pstrcat(f->pool, f->base, "/decoy-dir", NULL);
    const char *inside = apr_pstrcat(f->pool, dir, "/", MD_FN_HTTP01, NULL);
    const char *entry = md_store_path(store, MD_SG_CHALLENGES, NAME, NULL, f->pool);
    const char *file = md_store_path(store, MD_SG_CHALLENGES, NAME, MD_FN_HTTP01, f->pool);
    struct stat st;

    assert_int_equal(mkdir(dir, 0700), 0);
    unit_spit(inside, DECOY_TEXT);
    unit_spit(decoy, DECOY_TEXT);
    assert_int_equal(symlink(dir, entry), 0);
    /* as a challenge's teardown by a2md (root) does: refused by name, nothing removed */
    assert_int_equal(md_store_remove(store, MD_SG_CHALLENGES, NAME, MD_FN_HTTP01, f->pool),
                     APR_EINVAL);
    assert_non_null(strstr(unit_log_last_error(), entry));
    assert_non_null(strstr(unit_log_last_error(), "not a directory"));
    assert_string_equal(unit_slurp(inside, f->pool), DECOY_TEXT);
    /* in a real entry a link or a FIFO in the file's place goes itself, never its target */
    assert_int_equal(unlink(entry), 0);
    assert_int_equal(md_store_create_entry(store, MD_SG_CHALLENGES, NAME, f->pool), APR_SUCCESS);
    assert_int_equal(symlink(decoy, file), 0);
    assert_int_equal(md_store_remove(store, MD_SG_CHALLENGES, NAME, MD_FN_HTTP01, f->pool),
                     APR_SUCCESS);
    assert_int_equal(lstat(file, &st), -1);
    assert_string_equal(unit_slurp(decoy, f->pool), DECOY_TEXT);
    assert_int_equal(mkfifo(file, 0600), 0);
    assert_int_equal(md_store_remove(store, MD_SG_CHALLENGES, NAME, MD_FN_HTTP01, f->pool),
                     APR_SUCCESS);
    assert_int_equal(lstat(file, &st), -1);
    /* nothing there: nothing to do */
    assert_int_equal(md_store_remove(store, MD_SG_CHALLENGES, NAME, MD_FN_HTTP01, f->pool),
                     APR_SUCCESS);
    assert_int_equal(md_store_remove(store, MD_SG_CHALLENGES, "other.org", MD_FN_HTTP01, f->pool),
                     APR_SUCCESS);
}

static void test_promote_refuses_a_linked_or_fifo_md_json_of_the_staged_set(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    const char *decoy = decoy_and_entry(f, store), *archived;
    const char *md_json = entry_path(f, store, MD_FN_MD);
    apr_array_header_t *chain, *set;
    md_pkey_t *key;

    /* a complete staged set, and no md.json in domains/ to take instead of the staged one */
    unit_key_and_chain(&key, &chain, NAME, apr_time_from_sec(3600), f->pool);
    unit_save_key_chain(store, MD_SG_STAGING, NAME, key, chain, f->pool);
    set = unit_set_of(key, chain, f->pool);
    assert_int_equal(symlink(decoy, md_json), 0);
    assert_int_equal(md_store_promote(&archived, store, MD_SG_STAGING, NAME, set, f->pool),
                     APR_EINVAL);
    assert_non_null(
        strstr(unit_log_text(), apr_pstrcat(f->pool, md_json, ": a symbolic link: refused", NULL)));
    assert_false(md_store_exists(store, MD_SG_DOMAINS, NAME, NULL, f->pool));
    /* a FIFO neither blocks nor gets in */
    assert_int_equal(unlink(md_json), 0);
    assert_int_equal(mkfifo(md_json, 0600), 0);
    assert_int_equal(md_store_promote(&archived, store, MD_SG_STAGING, NAME, set, f->pool),
                     APR_EINVAL);
    assert_non_null(strstr(unit_log_text(),
                           apr_pstrcat(f->pool, md_json, ": not a regular file: refused", NULL)));
    assert_false(md_store_exists(store, MD_SG_DOMAINS, NAME, NULL, f->pool));
    assert_string_equal(unit_slurp(decoy, f->pool), DECOY_TEXT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_symlinked_file_is_refused_and_named, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_symlinked_entry_directory_is_refused, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_fifo_is_refused_without_blocking, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_hard_link_is_refused, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_plain_key_where_keys_are_encrypted_is_refused,
                                        unit_store_setup, unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_writes_never_go_through_a_linked_entry_directory,
                                        unit_store_setup, unit_store_teardown),
        cmocka_unit_test_setup_teardown(
            test_a_write_replaces_a_planted_link_and_never_writes_through_it, unit_store_setup,
            unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_remove_takes_a_planted_link_never_its_target,
                                        unit_store_setup, unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_writes_have_their_exact_modes_whatever_the_umask,
                                        unit_store_setup, unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_remove_never_follows_a_linked_entry, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(
            test_promote_refuses_a_linked_or_fifo_md_json_of_the_staged_set, unit_store_setup,
            unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_purge_removes_links_never_what_they_point_to,
                                        unit_store_setup, unit_store_teardown),
    };

    return cmocka_run_group_tests(tests, unit_store_group_setup, unit_store_group_teardown);
}

/* test_store.c: unit tests of the file-system store (md_store_fs*.c) -- md_store.json and its
 * secret, paths, saving/loading with permissions and encryption, listings, the locks. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "md_cert.h"
#include "md_crypt.h"
#include "md_json.h"
#include "md_log.h"
#include "md_store.h"
#include "md_util.h"
#include "unit_fixture.h"
#include "unit_store.h"

#define MODE_PRIVATE_DIR 0700
#define MODE_PUBLIC_DIR 0755
#define MODE_PRIVATE_FILE 0600
#define MODE_PUBLIC_FILE 0644
/* the secret md_store_fs_open makes: 48 random bytes */
#define TEST_SECRET_LEN 48
#define TEST_CERT_VALID apr_time_from_sec(86400)
#define TEST_LOCK_WAIT apr_time_from_msec(200)
/* generous upper bound for a 200 ms wait on a loaded machine */
#define TEST_LOCK_WAIT_MAX apr_time_from_sec(3)
/* a lock-holding child ends by itself after this, whatever happens to the parent */
#define TEST_CHILD_MAX_SECS 20
/* a user other than root, to give files to (daemon on Debian) */
#define TEST_OTHER_UID 1

/* a fresh store directory per test; the group runs with a strict umask */
typedef unit_store_fixture_t fixture_t;

/* ---- md_store.json ---- */

static void test_create_and_reopen(void **state)
{
    fixture_t *f = *state;
    md_store_t *store, *again;
    const unsigned char *secret, *secret2;
    unsigned char *decoded;
    apr_size_t len, len2, dlen;
    const char *fpath = apr_pstrcat(f->pool, f->dir, "/", MD_FN_STORE, NULL), *before;
    md_json_t *j;
    const char *err;
    struct stat st1, st2;

    store = unit_store_open(f->dir, f->pool);
    assert_string_equal(md_store_dir(store), f->dir);
    secret = md_store_secret(store, &len);
    assert_int_equal(len, TEST_SECRET_LEN);

    assert_int_equal(unit_mode_of(f->dir), MODE_PUBLIC_DIR);
    assert_int_equal(unit_mode_of(fpath), MODE_PRIVATE_FILE);
    for (int g = 0; g < MD_SG_COUNT; ++g) {
        const char *gdir = apr_pstrcat(f->pool, f->dir, "/", md_store_group_name(g), NULL);

        assert_int_equal(unit_mode_of(gdir),
                         g == MD_SG_CHALLENGES ? MODE_PUBLIC_DIR : MODE_PRIVATE_DIR);
    }
    /* the file says version 3.0 and holds the secret as base64url */
    assert_int_equal(md_json_read_file(&j, &err, fpath, f->pool), APR_SUCCESS);
    assert_true(md_json_get_num(md_json_get(j, "store", f->pool), "version", 0) == 3.0);
    assert_int_equal(md_base64url_decode(&decoded, &dlen, md_json_get_str(j, "key"), f->pool),
                     APR_SUCCESS);
    assert_int_equal(dlen, len);
    assert_memory_equal(decoded, secret, len);

    /* reopening (with and without create) reads the same secret and leaves the file alone */
    before = unit_slurp(fpath, f->pool);
    assert_int_equal(stat(fpath, &st1), 0);
    for (int create = 1; create >= 0; --create) {
        assert_int_equal(md_store_fs_open(&again, f->dir, create, f->pool), APR_SUCCESS);
        secret2 = md_store_secret(again, &len2);
        assert_int_equal(len2, len);
        assert_memory_equal(secret2, secret, len);
    }
    assert_int_equal(stat(fpath, &st2), 0);
    assert_int_equal(st1.st_ino, st2.st_ino);
    assert_int_equal(st1.st_mtim.tv_sec, st2.st_mtim.tv_sec);
    assert_int_equal(st1.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);
    assert_string_equal(unit_slurp(fpath, f->pool), before);

    /* a second store gets a secret of its own */
    f->dir = apr_pstrcat(f->pool, f->base, "/md2", NULL);
    again = unit_store_open(f->dir, f->pool);
    secret2 = md_store_secret(again, &len2);
    assert_memory_not_equal(secret2, secret, len);
}

static void test_open_missing(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = (md_store_t *) f;

    /* no directory at all */
    assert_int_equal(md_store_fs_open(&store, f->dir, 0, f->pool), APR_ENOENT);
    assert_null(store);
    assert_non_null(strstr(unit_log_last_error(), "no store at"));
    assert_non_null(strstr(unit_log_last_error(), "md_store.json not found"));
    assert_non_null(strstr(unit_log_last_error(), "a2md -d"));
    /* a directory without md_store.json: still no store, and nothing is created */
    assert_int_equal(mkdir(f->dir, MODE_PUBLIC_DIR), 0);
    assert_int_equal(md_store_fs_open(&store, f->dir, 0, f->pool), APR_ENOENT);
    assert_false(access(apr_pstrcat(f->pool, f->dir, "/", MD_FN_STORE, NULL), F_OK) == 0);
    assert_false(access(apr_pstrcat(f->pool, f->dir, "/domains", NULL), F_OK) == 0);
}

static void test_corrupt_store_json(void **state)
{
    fixture_t *f = *state;
    const char *fpath = apr_pstrcat(f->pool, f->dir, "/", MD_FN_STORE, NULL);
    static const char *const bad[] = {
        "{\"store\": {\"version\": 3.0}, \"key\": ", /* truncated */
        "{\"store\": {\"version\": 3.0}}\n",         /* no key */
        "{\"store\": {\"version\": 3.0}, \"key\": \"!!not base64!!\"}\n",
        "[1, 2, 3]\n",
    };
    md_store_t *store;

    assert_int_equal(mkdir(f->dir, MODE_PUBLIC_DIR), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        unit_spit(fpath, bad[i]);
        for (int create = 0; create <= 1; ++create) {
            unit_log_clear();
            assert_int_equal(md_store_fs_open(&store, f->dir, create, f->pool), APR_EINVAL);
            assert_null(store);
            assert_non_null(strstr(unit_log_last_error(), fpath));
            assert_string_equal(unit_slurp(fpath, f->pool), bad[i]);
        }
    }
}

/* ---- paths ---- */

static void test_path_validation(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    static const char *const bad[] = {"../x", "a/b", ".hidden", "", "..", "x..y", "/abs"};
    md_json_t *j = unit_json_with_name("x", f->pool);

    assert_string_equal(md_store_path(store, MD_SG_DOMAINS, "example.org", MD_FN_MD, f->pool),
                        apr_pstrcat(f->pool, f->dir, "/domains/example.org/md.json", NULL));
    assert_string_equal(md_store_path(store, MD_SG_ARCHIVE, "example.org.1", NULL, f->pool),
                        apr_pstrcat(f->pool, f->dir, "/archive/example.org.1", NULL));
    assert_null(md_store_path(store, MD_SG_DOMAINS, NULL, NULL, f->pool));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        assert_null(md_store_path(store, MD_SG_DOMAINS, bad[i], NULL, f->pool));
        assert_null(md_store_path(store, MD_SG_DOMAINS, "ok.org", bad[i], f->pool));
        assert_int_equal(md_store_save_json(store, MD_SG_DOMAINS, bad[i], MD_FN_MD, j, f->pool),
                         APR_EINVAL);
        assert_int_equal(
            md_store_save_text(store, MD_SG_CHALLENGES, "ok.org", bad[i], "t", f->pool),
            APR_EINVAL);
    }
    /* nothing was written anywhere by the refused calls */
    assert_false(access(apr_pstrcat(f->pool, f->base, "/x", NULL), F_OK) == 0);
    assert_false(md_store_exists(store, MD_SG_CHALLENGES, "ok.org", NULL, f->pool));
}

static void test_group_names(void **state)
{
    md_store_group_t g;

    (void) state;
    for (int i = 0; i < MD_SG_COUNT; ++i) {
        assert_int_equal(md_store_group_parse(&g, md_store_group_name(i)), APR_SUCCESS);
        assert_int_equal(g, i);
    }
    assert_string_equal(md_store_group_name(MD_SG_STAGING), "staging");
    assert_int_equal(md_store_group_parse(&g, "domain"), APR_EINVAL);
    assert_true(md_store_group_encrypts(MD_SG_ACCOUNTS));
    assert_true(md_store_group_encrypts(MD_SG_STAGING));
    assert_false(md_store_group_encrypts(MD_SG_DOMAINS));
    assert_false(md_store_group_encrypts(MD_SG_ARCHIVE));
    assert_false(md_store_group_encrypts(MD_SG_CHALLENGES));
    assert_false(md_store_group_encrypts(MD_SG_TMP));
}

/* ---- save / load ---- */

static void test_save_load_every_group(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    md_pkey_t *key, *loaded;
    apr_array_header_t *chain, *chain2;
    const char *err, *text, *pub1, *pub2, *pem, *path;
    md_json_t *j;
    apr_size_t slen;
    const unsigned char *secret = md_store_secret(store, &slen);

    unit_key_and_chain(&key, &chain, "example.org", TEST_CERT_VALID, f->pool);
    assert_int_equal(md_pkey_pub_pem(&pub1, key, f->pool), APR_SUCCESS);
    for (int i = 0; i < MD_SG_COUNT; ++i) {
        md_store_group_t g = (md_store_group_t) i;
        int pub = g == MD_SG_CHALLENGES;
        const char *entry = md_store_path(store, g, "example.org", NULL, f->pool);

        assert_int_equal(md_store_save_json(store, g, "example.org", MD_FN_MD,
                                            unit_json_with_name("example.org", f->pool), f->pool),
                         APR_SUCCESS);
        assert_int_equal(md_store_save_text(store, g, "example.org", "token", "answer", f->pool),
                         APR_SUCCESS);
        assert_int_equal(
            md_store_save_chain(store, g, "example.org", UNIT_CERT_FILE, chain, f->pool),
            APR_SUCCESS);
        assert_int_equal(md_store_save_pkey(store, g, "example.org", UNIT_KEY_FILE, key, f->pool),
                         APR_SUCCESS);

        assert_int_equal(md_store_load_json(&j, &err, store, g, "example.org", MD_FN_MD, f->pool),
                         APR_SUCCESS);
        assert_string_equal(md_json_get_str(j, "name"), "example.org");
        assert_int_equal(md_store_load_text(&text, store, g, "example.org", "token", f->pool),
                         APR_SUCCESS);
        assert_string_equal(text, "answer");
        assert_int_equal(
            md_store_load_chain(&chain2, &err, store, g, "example.org", UNIT_CERT_FILE, f->pool),
            APR_SUCCESS);
        assert_string_equal(unit_leaf_fingerprint(chain2, f->pool),
                            unit_leaf_fingerprint(chain, f->pool));
        assert_int_equal(
            md_store_load_pkey(&loaded, &err, store, g, "example.org", UNIT_KEY_FILE, f->pool),
            APR_SUCCESS);
        assert_int_equal(md_pkey_pub_pem(&pub2, loaded, f->pool), APR_SUCCESS);
        assert_string_equal(pub2, pub1);

        /* permissions: keys always private, certificates public, the rest public only in
         * challenges; entries holding keys private */
        assert_int_equal(unit_mode_of(entry), pub ? MODE_PUBLIC_DIR : MODE_PRIVATE_DIR);
        assert_int_equal(unit_mode_of(apr_pstrcat(f->pool, entry, "/" UNIT_KEY_FILE, NULL)),
                         MODE_PRIVATE_FILE);
        assert_int_equal(unit_mode_of(apr_pstrcat(f->pool, entry, "/" UNIT_CERT_FILE, NULL)),
                         MODE_PUBLIC_FILE);
        assert_int_equal(unit_mode_of(apr_pstrcat(f->pool, entry, "/" MD_FN_MD, NULL)),
                         pub ? MODE_PUBLIC_FILE : MODE_PRIVATE_FILE);
        assert_int_equal(unit_mode_of(apr_pstrcat(f->pool, entry, "/token", NULL)),
                         pub ? MODE_PUBLIC_FILE : MODE_PRIVATE_FILE);

        /* encryption: accounts and staging only, with the raw secret as passphrase */
        path = apr_pstrcat(f->pool, entry, "/" UNIT_KEY_FILE, NULL);
        pem = unit_slurp(path, f->pool);
        if (md_store_group_encrypts(g)) {
            assert_non_null(strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
            assert_int_equal(
                md_pkey_from_pem(&loaded, pem, strlen(pem), (const char *) secret, slen, f->pool),
                APR_SUCCESS);
        } else {
            assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
            assert_null(strstr(pem, "ENCRYPTED"));
        }
    }
}

static void test_load_missing_and_corrupt(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    md_json_t *j;
    md_pkey_t *key;
    apr_array_header_t *chain;
    const char *err, *text, *path;

    assert_int_equal(md_store_load_json(&j, &err, store, MD_SG_DOMAINS, "a.org", MD_FN_MD, f->pool),
                     APR_ENOENT);
    assert_int_equal(
        md_store_load_pkey(&key, &err, store, MD_SG_STAGING, "a.org", UNIT_KEY_FILE, f->pool),
        APR_ENOENT);
    assert_int_equal(
        md_store_load_chain(&chain, &err, store, MD_SG_DOMAINS, "a.org", UNIT_CERT_FILE, f->pool),
        APR_ENOENT);
    assert_int_equal(md_store_load_text(&text, store, MD_SG_CHALLENGES, "a.org", "t", f->pool),
                     APR_ENOENT);

    /* a broken md.json is reported with its path and stays as it is */
    assert_int_equal(
        md_store_save_text(store, MD_SG_DOMAINS, "a.org", MD_FN_MD, "{\"name\":", f->pool),
        APR_SUCCESS);
    path = md_store_path(store, MD_SG_DOMAINS, "a.org", MD_FN_MD, f->pool);
    assert_int_equal(md_store_load_json(&j, &err, store, MD_SG_DOMAINS, "a.org", MD_FN_MD, f->pool),
                     APR_EINVAL);
    assert_non_null(err);
    assert_non_null(strstr(err, path));
    assert_string_equal(unit_slurp(path, f->pool), "{\"name\":");

    /* a key file without a key */
    assert_int_equal(
        md_store_save_text(store, MD_SG_DOMAINS, "a.org", UNIT_KEY_FILE, "junk", f->pool),
        APR_SUCCESS);
    assert_int_not_equal(
        md_store_load_pkey(&key, &err, store, MD_SG_DOMAINS, "a.org", UNIT_KEY_FILE, f->pool),
        APR_SUCCESS);
    assert_non_null(err);
    assert_non_null(strstr(err, "a.org"));
}

static void test_key_needs_the_store_secret(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool), *other;
    md_pkey_t *key, *loaded;
    apr_array_header_t *chain;
    const char *err, *pem;

    unit_key_and_chain(&key, &chain, "a.org", TEST_CERT_VALID, f->pool);
    assert_int_equal(
        md_store_save_pkey(store, MD_SG_ACCOUNTS, "ACME-a-0000", MD_FN_ACCT_KEY, key, f->pool),
        APR_SUCCESS);
    assert_int_equal(
        md_store_load_text(&pem, store, MD_SG_ACCOUNTS, "ACME-a-0000", MD_FN_ACCT_KEY, f->pool),
        APR_SUCCESS);
    /* the same file in another store (other secret) cannot be decrypted */
    f->dir = apr_pstrcat(f->pool, f->base, "/other", NULL);
    other = unit_store_open(f->dir, f->pool);
    assert_int_equal(
        md_store_save_text(other, MD_SG_ACCOUNTS, "ACME-a-0000", MD_FN_ACCT_KEY, pem, f->pool),
        APR_SUCCESS);
    assert_int_equal(md_store_load_pkey(&loaded, &err, other, MD_SG_ACCOUNTS, "ACME-a-0000",
                                        MD_FN_ACCT_KEY, f->pool),
                     APR_EACCES);
    assert_non_null(strstr(err, MD_FN_ACCT_KEY));
}

static void test_a_store_without_its_secret_works_without_keys(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool), *keyless;
    md_pkey_t *key, *loaded;
    apr_array_header_t *chain;
    md_json_t *j;
    const char *err;

    unit_key_and_chain(&key, &chain, "a.org", TEST_CERT_VALID, f->pool);
    assert_int_equal(md_store_save_json(store, MD_SG_DOMAINS, "a.org", MD_FN_MD,
                                        md_json_new_obj(f->pool), f->pool),
                     APR_SUCCESS);
    assert_int_equal(
        md_store_save_pkey(store, MD_SG_ACCOUNTS, "ACME-a-0000", MD_FN_ACCT_KEY, key, f->pool),
        APR_SUCCESS);
    assert_int_equal(unlink(apr_pstrcat(f->pool, f->dir, "/", MD_FN_STORE, NULL)), 0);
    /* copied without md_store.json: what needs no secret works (a warning says the rest) */
    assert_int_equal(md_store_fs_open(&keyless, f->dir, 0, f->pool), APR_SUCCESS);
    assert_int_equal(
        md_store_load_json(&j, &err, keyless, MD_SG_DOMAINS, "a.org", MD_FN_MD, f->pool),
        APR_SUCCESS);
    /* keys encrypted with the secret: a clear error reading, and none written unencrypted */
    assert_int_equal(md_store_load_pkey(&loaded, &err, keyless, MD_SG_ACCOUNTS, "ACME-a-0000",
                                        MD_FN_ACCT_KEY, f->pool),
                     APR_EACCES);
    assert_non_null(strstr(err, "encrypted with the store secret"));
    assert_int_equal(
        md_store_save_pkey(keyless, MD_SG_ACCOUNTS, "ACME-b-0000", MD_FN_ACCT_KEY, key, f->pool),
        APR_EACCES);
    assert_false(md_store_exists(keyless, MD_SG_ACCOUNTS, "ACME-b-0000", NULL, f->pool));
    assert_false(access(apr_pstrcat(f->pool, f->dir, "/", MD_FN_STORE, NULL), F_OK) == 0);
}

static void test_group_dirs_made_when_first_written(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    const char *gdir = apr_pstrcat(f->pool, f->dir, "/challenges", NULL);
    apr_array_header_t *names;

    assert_int_equal(rmdir(gdir), 0);
    assert_int_equal(md_store_fs_open(&store, f->dir, 0, f->pool), APR_SUCCESS);
    assert_false(access(gdir, F_OK) == 0); /* opening without create adds nothing */
    assert_int_equal(md_store_names(&names, store, MD_SG_CHALLENGES, f->pool), APR_SUCCESS);
    assert_int_equal(names->nelts, 0);
    assert_int_equal(md_store_save_text(store, MD_SG_CHALLENGES, "a.org", "tok", "x", f->pool),
                     APR_SUCCESS);
    assert_int_equal(unit_mode_of(gdir), MODE_PUBLIC_DIR);
}

/* ---- listings, removal ---- */

static void test_names_and_aspects(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    static const char *const names_in[] = {"c.org", "a.org", "b.tmp.org"};
    apr_array_header_t *names, *aspects;
    const char *entry;
    md_json_t *j = unit_json_with_name("x", f->pool);

    for (size_t i = 0; i < sizeof(names_in) / sizeof(names_in[0]); ++i) {
        assert_int_equal(
            md_store_save_json(store, MD_SG_DOMAINS, names_in[i], MD_FN_MD, j, f->pool),
            APR_SUCCESS);
    }
    /* neither a dot directory nor a plain file is an entry */
    assert_int_equal(mkdir(apr_pstrcat(f->pool, f->dir, "/domains/.old", NULL), 0700), 0);
    unit_spit(apr_pstrcat(f->pool, f->dir, "/domains/stray.txt", NULL), "x");
    assert_int_equal(md_store_names(&names, store, MD_SG_DOMAINS, f->pool), APR_SUCCESS);
    assert_int_equal(names->nelts, 3);
    assert_string_equal(APR_ARRAY_IDX(names, 0, const char *), "a.org");
    assert_string_equal(APR_ARRAY_IDX(names, 1, const char *), "b.tmp.org");
    assert_string_equal(APR_ARRAY_IDX(names, 2, const char *), "c.org");

    /* aspects: regular files, sorted, no dot files or leftovers of atomic writes */
    assert_int_equal(md_store_save_text(store, MD_SG_DOMAINS, "a.org", "pubcert.pem", "c", f->pool),
                     APR_SUCCESS);
    assert_int_equal(md_store_save_text(store, MD_SG_DOMAINS, "a.org", "job.json", "{}", f->pool),
                     APR_SUCCESS);
    entry = md_store_path(store, MD_SG_DOMAINS, "a.org", NULL, f->pool);
    unit_spit(apr_pstrcat(f->pool, entry, "/.hidden", NULL), "x");
    unit_spit(apr_pstrcat(f->pool, entry, "/md.json.tmp.AbC123", NULL), "x");
    assert_int_equal(mkdir(apr_pstrcat(f->pool, entry, "/subdir", NULL), 0700), 0);
    assert_int_equal(md_store_aspects(&aspects, store, MD_SG_DOMAINS, "a.org", f->pool),
                     APR_SUCCESS);
    assert_int_equal(aspects->nelts, 3);
    assert_string_equal(APR_ARRAY_IDX(aspects, 0, const char *), "job.json");
    assert_string_equal(APR_ARRAY_IDX(aspects, 1, const char *), "md.json");
    assert_string_equal(APR_ARRAY_IDX(aspects, 2, const char *), "pubcert.pem");
    assert_int_equal(md_store_aspects(&aspects, store, MD_SG_DOMAINS, "none.org", f->pool),
                     APR_ENOENT);

    /* exists, remove (missing is fine), purge */
    assert_true(md_store_exists(store, MD_SG_DOMAINS, "a.org", "job.json", f->pool));
    assert_true(md_store_exists(store, MD_SG_DOMAINS, "a.org", NULL, f->pool));
    assert_int_equal(md_store_remove(store, MD_SG_DOMAINS, "a.org", "job.json", f->pool),
                     APR_SUCCESS);
    assert_false(md_store_exists(store, MD_SG_DOMAINS, "a.org", "job.json", f->pool));
    assert_int_equal(md_store_remove(store, MD_SG_DOMAINS, "a.org", "job.json", f->pool),
                     APR_SUCCESS);
    assert_int_equal(md_store_purge(store, MD_SG_DOMAINS, "a.org", f->pool), APR_SUCCESS);
    assert_false(md_store_exists(store, MD_SG_DOMAINS, "a.org", NULL, f->pool));
    assert_int_equal(md_store_purge(store, MD_SG_DOMAINS, "a.org", f->pool), APR_SUCCESS);
    assert_int_equal(md_store_names(&names, store, MD_SG_DOMAINS, f->pool), APR_SUCCESS);
    assert_int_equal(names->nelts, 2);
}

static void test_purge_does_not_follow_links(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    const char *outside = apr_pstrcat(f->pool, f->base, "/outside", NULL);
    const char *entry;

    assert_int_equal(mkdir(outside, 0700), 0);
    unit_spit(apr_pstrcat(f->pool, outside, "/keep", NULL), "x");
    assert_int_equal(md_store_save_text(store, MD_SG_STAGING, "a.org", "t", "x", f->pool),
                     APR_SUCCESS);
    entry = md_store_path(store, MD_SG_STAGING, "a.org", NULL, f->pool);
    assert_int_equal(symlink(outside, apr_pstrcat(f->pool, entry, "/link", NULL)), 0);
    assert_int_equal(md_store_purge(store, MD_SG_STAGING, "a.org", f->pool), APR_SUCCESS);
    assert_false(md_store_exists(store, MD_SG_STAGING, "a.org", NULL, f->pool));
    assert_true(access(apr_pstrcat(f->pool, outside, "/keep", NULL), F_OK) == 0);
}

/* ---- locks ---- */

/* Forks a child that takes the store locks 'which' and holds them until told through a pipe
 * (*ptell: closing it tells). */
static pid_t fork_lock_holder(const char *dir, md_store_locks_t which, int *ptell)
{
    int ready[2], tell[2];
    char c;
    pid_t pid;

    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(tell), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        apr_pool_t *p;
        md_store_t *store;
        md_store_lock_t *lock;
        int ok = apr_pool_create(&p, NULL) == APR_SUCCESS &&
                 md_store_fs_open(&store, dir, 0, p) == APR_SUCCESS &&
                 md_store_lock(&lock, store, which, 0, p) == APR_SUCCESS;

        close(ready[0]);
        close(tell[1]); /* else the read below never sees the parent's close */
        alarm(TEST_CHILD_MAX_SECS);
        c = ok ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1 || read(tell[0], &c, 1) < 0) {
            _exit(2);
        }
        _exit(ok ? 0 : 1);
    }
    close(ready[1]);
    close(tell[0]);
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    assert_int_equal(c, 'y');
    *ptell = tell[1];
    return pid;
}

/* Tells a lock holder to end and waits until it has. */
static void end_lock_holder(pid_t pid, int tell)
{
    int status;

    close(tell);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static const char *lock_file(const fixture_t *f, const char *name)
{
    return apr_pstrcat(f->pool, f->dir, "/", name, NULL);
}

static void test_lock_between_processes(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    md_store_lock_t *lock;
    apr_pool_t *sub;
    apr_time_t start, took;
    int tell;
    pid_t pid;

    pid = fork_lock_holder(f->dir, MD_STORE_LOCK_BOTH, &tell);
    for (md_store_locks_t which = MD_STORE_LOCK_ROOT; which <= MD_STORE_LOCK_BOTH; ++which) {
        start = apr_time_now();
        assert_int_equal(md_store_lock(&lock, store, which, TEST_LOCK_WAIT, f->pool), APR_TIMEUP);
        took = apr_time_now() - start;
        assert_null(lock);
        assert_true(took >= TEST_LOCK_WAIT);
        assert_true(took < TEST_LOCK_WAIT_MAX);
    }

    end_lock_holder(pid, tell); /* the child exits, and with it its locks */
    assert_int_equal(md_store_lock(&lock, store, MD_STORE_LOCK_BOTH, TEST_LOCK_WAIT, f->pool),
                     APR_SUCCESS);
    assert_int_equal(unit_mode_of(lock_file(f, "store.lock")), MODE_PRIVATE_FILE);
    assert_int_equal(unit_mode_of(lock_file(f, "user.lock")), MODE_PRIVATE_FILE);
    assert_string_equal(md_store_lock_path(store, MD_STORE_LOCK_ROOT, f->pool),
                        lock_file(f, "store.lock"));
    assert_string_equal(md_store_lock_path(store, MD_STORE_LOCK_USER, f->pool),
                        lock_file(f, "user.lock"));
    assert_int_equal(md_store_unlock(lock), APR_SUCCESS);

    /* released by clearing the pool, too: a child can take them at once afterwards */
    assert_int_equal(apr_pool_create(&sub, f->pool), APR_SUCCESS);
    assert_int_equal(md_store_lock(&lock, store, MD_STORE_LOCK_BOTH, 0, sub), APR_SUCCESS);
    apr_pool_destroy(sub);
    pid = fork_lock_holder(f->dir, MD_STORE_LOCK_BOTH, &tell);
    end_lock_holder(pid, tell);
}

static void test_writes_nest_inside_the_lock_and_leave_it_free(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    md_store_lock_t *lock;
    int tell;
    pid_t pid;

    /* a write takes its lock for itself; inside an explicit lock of the same thread it nests */
    assert_int_equal(md_store_lock(&lock, store, MD_STORE_LOCK_BOTH, 0, f->pool), APR_SUCCESS);
    assert_int_equal(md_store_save_json(store, MD_SG_DOMAINS, "a.org", MD_FN_MD,
                                        unit_json_with_name("a.org", f->pool), f->pool),
                     APR_SUCCESS);
    assert_int_equal(md_store_purge(store, MD_SG_STAGING, "a.org", f->pool), APR_SUCCESS);
    assert_int_equal(md_store_purge(store, MD_SG_ARCHIVE, "a.org", f->pool), APR_SUCCESS);
    assert_int_equal(md_store_unlock(lock), APR_SUCCESS);
    /* and none of them kept it: another process takes both at once */
    assert_int_equal(md_store_save_json(store, MD_SG_DOMAINS, "b.org", MD_FN_MD,
                                        unit_json_with_name("b.org", f->pool), f->pool),
                     APR_SUCCESS);
    pid = fork_lock_holder(f->dir, MD_STORE_LOCK_BOTH, &tell);
    end_lock_holder(pid, tell);
}

static void test_groups_belong_to_root_or_the_user(void **state)
{
    static const md_store_group_t user_groups[] = {MD_SG_STAGING, MD_SG_LIVE, MD_SG_CHALLENGES,
                                                   MD_SG_ACCOUNTS, MD_SG_OCSP};
    int users = 0;

    (void) state;
    for (int g = 0; g < MD_SG_COUNT; ++g) {
        md_store_locks_t lock = md_store_group_lock((md_store_group_t) g);
        assert_true(lock == MD_STORE_LOCK_ROOT || lock == MD_STORE_LOCK_USER);
        users += lock == MD_STORE_LOCK_USER;
    }
    assert_int_equal(users, sizeof(user_groups) / sizeof(user_groups[0]));
    for (apr_size_t i = 0; i < sizeof(user_groups) / sizeof(user_groups[0]); ++i) {
        assert_int_equal(md_store_group_lock(user_groups[i]), MD_STORE_LOCK_USER);
    }
    assert_int_equal(md_store_group_lock(MD_SG_COUNT), MD_STORE_LOCK_ROOT);
}

/* rv of a store write; the test fails when it took long enough to have waited for a lock. */
static apr_status_t at_once(apr_status_t rv, apr_time_t start)
{
    assert_true(apr_time_now() - start < TEST_LOCK_WAIT_MAX);
    return rv;
}

static void test_root_and_user_writes_do_not_wait_for_each_other(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    md_store_lock_t *lock;
    const char *archived;
    apr_time_t t;
    int tell;
    pid_t pid;

    /* another process holds the User's lock: root's groups are written all the same */
    pid = fork_lock_holder(f->dir, MD_STORE_LOCK_USER, &tell);
    assert_int_equal(md_store_lock(&lock, store, MD_STORE_LOCK_USER, 0, f->pool), APR_TIMEUP);
    assert_int_equal(md_store_save_json(store, MD_SG_DOMAINS, "a.org", MD_FN_MD,
                                        unit_json_with_name("a.org", f->pool), f->pool),
                     APR_SUCCESS);
    t = apr_time_now();
    assert_int_equal(at_once(md_store_rename(store, MD_SG_DOMAINS, "a.org", "b.org", f->pool), t),
                     APR_SUCCESS);
    t = apr_time_now();
    assert_int_equal(at_once(md_store_archive(&archived, store, "b.org", f->pool), t), APR_SUCCESS);
    t = apr_time_now();
    assert_int_equal(at_once(md_store_purge(store, MD_SG_ARCHIVE, archived, f->pool), t),
                     APR_SUCCESS);
    assert_false(md_store_exists(store, MD_SG_ARCHIVE, archived, NULL, f->pool));
    end_lock_holder(pid, tell);

    /* and the other way round: root's lock held, the User's groups are written */
    pid = fork_lock_holder(f->dir, MD_STORE_LOCK_ROOT, &tell);
    assert_int_equal(md_store_lock(&lock, store, MD_STORE_LOCK_BOTH, 0, f->pool), APR_TIMEUP);
    t = apr_time_now();
    assert_int_equal(at_once(md_store_create_entry(store, MD_SG_ACCOUNTS, "acct-1", f->pool), t),
                     APR_SUCCESS);
    assert_int_equal(md_store_save_text(store, MD_SG_STAGING, "a.org", "t", "x", f->pool),
                     APR_SUCCESS);
    t = apr_time_now();
    assert_int_equal(at_once(md_store_publish(store, "a.org", f->pool), t), APR_SUCCESS);
    assert_true(md_store_exists(store, MD_SG_LIVE, "a.org", "t", f->pool));
    t = apr_time_now();
    assert_int_equal(at_once(md_store_purge(store, MD_SG_LIVE, "a.org", f->pool), t), APR_SUCCESS);
    /* the failed BOTH above kept nothing: the User's lock is free */
    assert_int_equal(md_store_lock(&lock, store, MD_STORE_LOCK_USER, 0, f->pool), APR_SUCCESS);
    assert_int_equal(md_store_unlock(lock), APR_SUCCESS);
    end_lock_holder(pid, tell);
}

static void test_user_writes_never_open_roots_lock(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    md_store_lock_t *lock;
    struct stat st;

    /* what no process can open for writing: a write that tried would fail */
    assert_int_equal(mkdir(lock_file(f, "store.lock"), MODE_PRIVATE_DIR), 0);
    assert_int_equal(md_store_save_text(store, MD_SG_STAGING, "a.org", "t", "x", f->pool),
                     APR_SUCCESS);
    assert_int_equal(md_store_publish(store, "a.org", f->pool), APR_SUCCESS);
    assert_int_equal(md_store_purge(store, MD_SG_LIVE, "a.org", f->pool), APR_SUCCESS);
    assert_int_equal(md_store_create_entry(store, MD_SG_ACCOUNTS, "acct-1", f->pool), APR_SUCCESS);
    assert_int_equal(md_store_lock(&lock, store, MD_STORE_LOCK_USER, 0, f->pool), APR_SUCCESS);
    assert_int_equal(md_store_unlock(lock), APR_SUCCESS);
    assert_int_equal(unit_log_count(), 0);
    /* root's lock is another matter */
    assert_int_not_equal(md_store_lock(&lock, store, MD_STORE_LOCK_ROOT, 0, f->pool), APR_SUCCESS);
    assert_int_equal(lstat(lock_file(f, "store.lock"), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
}

static void test_locks_are_taken_root_first(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    md_store_lock_t *user, *root, *again;
    const char *archived;

    assert_int_equal(md_store_lock(&user, store, MD_STORE_LOCK_USER, 0, f->pool), APR_SUCCESS);
    assert_int_equal(md_store_lock(&root, store, MD_STORE_LOCK_ROOT, 0, f->pool), APR_EINVAL);
    assert_null(root);
    assert_int_equal(md_store_save_json(store, MD_SG_DOMAINS, "a.org", MD_FN_MD,
                                        unit_json_with_name("a.org", f->pool), f->pool),
                     APR_SUCCESS);
    assert_int_not_equal(md_store_archive(&archived, store, "a.org", f->pool), APR_SUCCESS);
    assert_true(md_store_exists(store, MD_SG_DOMAINS, "a.org", NULL, f->pool));
    assert_int_equal(md_store_unlock(user), APR_SUCCESS);

    /* root's first, then the User's; once both are held, either nests */
    assert_int_equal(md_store_lock(&root, store, MD_STORE_LOCK_ROOT, 0, f->pool), APR_SUCCESS);
    assert_int_equal(md_store_lock(&user, store, MD_STORE_LOCK_USER, 0, f->pool), APR_SUCCESS);
    assert_int_equal(md_store_lock(&again, store, MD_STORE_LOCK_BOTH, 0, f->pool), APR_SUCCESS);
    assert_int_equal(md_store_archive(&archived, store, "a.org", f->pool), APR_SUCCESS);
    assert_int_equal(md_store_unlock(again), APR_SUCCESS);
    assert_int_equal(md_store_unlock(user), APR_SUCCESS);
    assert_int_equal(md_store_unlock(root), APR_SUCCESS);
    /* no lock, or one that is none of the two */
    assert_int_equal(md_store_lock(&root, store, (md_store_locks_t) 0, 0, f->pool), APR_EINVAL);
    assert_int_equal(
        md_store_lock(&root, store, (md_store_locks_t) (MD_STORE_LOCK_BOTH + 1), 0, f->pool),
        APR_EINVAL);
}

/* The inode of what is at path (not following a link). */
static ino_t inode_of(const char *path)
{
    struct stat st;

    assert_int_equal(lstat(path, &st), 0);
    return st.st_ino;
}

/* Takes root's lock; asserts that store.lock is ours alone afterwards, and says whether it
 * was replaced (with a note in the log) or used as it was. */
static int root_lock_replaced(md_store_t *store, const fixture_t *f)
{
    const char *path = lock_file(f, "store.lock");
    md_store_lock_t *lock;
    struct stat before, after;
    int had = lstat(path, &before) == 0;

    unit_log_clear();
    assert_int_equal(md_store_lock(&lock, store, MD_STORE_LOCK_ROOT, 0, f->pool), APR_SUCCESS);
    assert_int_equal(lstat(path, &after), 0);
    assert_true(S_ISREG(after.st_mode));
    assert_int_equal(after.st_uid, geteuid());
    assert_int_equal(after.st_mode & 07777, MODE_PRIVATE_FILE);
    assert_int_equal(md_store_unlock(lock), APR_SUCCESS);
    if (had && before.st_ino != after.st_ino) {
        assert_non_null(strstr(unit_log_text(), "replaced"));
        return 1;
    }
    assert_int_equal(unit_log_count(), 0);
    return 0;
}

static void test_roots_lock_is_ours_alone_or_replaced(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    const char *path = lock_file(f, "store.lock");
    const char *decoy = apr_pstrcat(f->pool, f->base, "/decoy", NULL);
    struct stat decoy_st;
    int fd;

    if (geteuid() != 0) {
        skip(); /* giving a file away takes root */
    }
    unit_log_capture(MD_LOG_WARN);
    /* as an older version left it: given to the User, who holds it and does not let go */
    fd = open(path, O_RDWR | O_CREAT, MODE_PRIVATE_FILE);
    assert_true(fd >= 0);
    assert_int_equal(fchown(fd, TEST_OTHER_UID, TEST_OTHER_UID), 0);
    assert_int_equal(lockf(fd, F_TLOCK, 0), 0);
    assert_true(root_lock_replaced(store, f));
    close(fd);
    /* once ours, it stays as it is */
    assert_false(root_lock_replaced(store, f));

    /* ours, but others may open it (and take a read lock): replaced, also when this store
     * handle has it open already */
    assert_int_equal(chmod(path, MODE_PUBLIC_FILE), 0);
    assert_true(root_lock_replaced(store, f));

    /* a link in its place: the link is replaced, its target is left alone */
    unit_spit(decoy, "decoy");
    assert_int_equal(stat(decoy, &decoy_st), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink(decoy, path), 0);
    assert_true(root_lock_replaced(store, f));
    assert_int_equal(inode_of(decoy), decoy_st.st_ino);
    assert_string_equal(unit_slurp(decoy, f->pool), "decoy");
    unit_log_capture(MD_LOG_ERR);
}

static void test_users_part_is_given_to_the_user(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    md_store_lock_t *lock;
    struct stat st;

    if (geteuid() != 0) {
        skip(); /* giving a file away takes root */
    }
    assert_int_equal(md_store_lock(&lock, store, MD_STORE_LOCK_ROOT, 0, f->pool), APR_SUCCESS);
    assert_int_equal(md_store_unlock(lock), APR_SUCCESS);
    assert_int_equal(md_store_fs_give_user(store, TEST_OTHER_UID, TEST_OTHER_UID, f->pool),
                     APR_SUCCESS);
    for (int g = 0; g < MD_SG_COUNT; ++g) {
        const char *dir =
            apr_pstrcat(f->pool, f->dir, "/", md_store_group_name((md_store_group_t) g), NULL);
        assert_int_equal(lstat(dir, &st), 0);
        assert_int_equal(st.st_uid, md_store_group_lock((md_store_group_t) g) == MD_STORE_LOCK_USER
                                        ? TEST_OTHER_UID
                                        : 0);
    }
    assert_int_equal(lstat(lock_file(f, "user.lock"), &st), 0);
    assert_int_equal(st.st_uid, TEST_OTHER_UID);
    assert_int_equal(st.st_mode & 07777, MODE_PRIVATE_FILE);
    assert_int_equal(lstat(lock_file(f, "store.lock"), &st), 0);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(lstat(lock_file(f, MD_FN_STORE), &st), 0);
    assert_int_equal(st.st_uid, 0);
}

typedef struct {
    md_store_t *store;
    const char *name;
    apr_status_t rv;
    const apr_array_header_t *set; /* md_set_entry_t*: what the caller verified */
} promote_call_t;

static void *APR_THREAD_FUNC promote_thread(apr_thread_t *thread, void *data)
{
    promote_call_t *call = data;
    const char *archived;
    apr_pool_t *p;

    (void) thread;
    call->rv = apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    if (call->rv == APR_SUCCESS) {
        call->rv =
            md_store_promote(&archived, call->store, MD_SG_STAGING, call->name, call->set, p);
        apr_pool_destroy(p);
    }
    return NULL;
}

/* Whether a lock is held by somebody else than the store handle 'probe' (which takes it for a
 * moment when nobody does). */
static int lock_taken(md_store_t *probe, md_store_locks_t one, apr_pool_t *p)
{
    md_store_lock_t *lock;
    apr_status_t rv = md_store_lock(&lock, probe, one, 0, p);

    md_store_unlock(lock);
    return rv == APR_TIMEUP;
}

static void test_promotion_takes_both_locks_root_first(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    md_store_t *probe = unit_store_open(f->dir, f->pool); /* a lock file description of its own */
    promote_call_t call = {store, "a.org", APR_EGENERAL, NULL};
    apr_array_header_t *chain;
    apr_thread_t *thread;
    apr_status_t ignored;
    md_pkey_t *key;
    apr_time_t deadline;
    int tell;
    pid_t pid;

    unit_key_and_chain(&key, &chain, "a.org", TEST_CERT_VALID, f->pool);
    unit_save_key_chain(store, MD_SG_STAGING, "a.org", key, chain, f->pool);
    call.set = unit_set_of(key, chain, f->pool);
    pid = fork_lock_holder(f->dir, MD_STORE_LOCK_USER, &tell);
    assert_int_equal(apr_thread_create(&thread, NULL, promote_thread, &call, f->pool), APR_SUCCESS);
    /* the promotion takes root's lock, then waits for the User's */
    deadline = apr_time_now() + TEST_LOCK_WAIT_MAX;
    while (!lock_taken(probe, MD_STORE_LOCK_ROOT, f->pool) && apr_time_now() < deadline) {
        apr_sleep(apr_time_from_msec(5));
    }
    assert_true(lock_taken(probe, MD_STORE_LOCK_ROOT, f->pool));
    assert_false(md_store_exists(store, MD_SG_DOMAINS, "a.org", NULL, f->pool));
    assert_true(md_store_exists(store, MD_SG_STAGING, "a.org", NULL, f->pool));
    /* the User's lock free: it goes on and is done */
    end_lock_holder(pid, tell);
    assert_int_equal(apr_thread_join(&ignored, thread), APR_SUCCESS);
    assert_int_equal(call.rv, APR_SUCCESS);
    assert_true(md_store_exists(store, MD_SG_DOMAINS, "a.org", UNIT_CERT_FILE, f->pool));
    assert_false(md_store_exists(store, MD_SG_STAGING, "a.org", NULL, f->pool));
    assert_false(lock_taken(probe, MD_STORE_LOCK_ROOT, f->pool));
    assert_false(lock_taken(probe, MD_STORE_LOCK_USER, f->pool));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_reopen, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_open_missing, unit_store_setup, unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_store_json, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_path_validation, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test(test_group_names),
        cmocka_unit_test_setup_teardown(test_save_load_every_group, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_load_missing_and_corrupt, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_key_needs_the_store_secret, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_store_without_its_secret_works_without_keys,
                                        unit_store_setup, unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_group_dirs_made_when_first_written, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_names_and_aspects, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_purge_does_not_follow_links, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_lock_between_processes, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_writes_nest_inside_the_lock_and_leave_it_free,
                                        unit_store_setup, unit_store_teardown),
        cmocka_unit_test(test_groups_belong_to_root_or_the_user),
        cmocka_unit_test_setup_teardown(test_root_and_user_writes_do_not_wait_for_each_other,
                                        unit_store_setup, unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_user_writes_never_open_roots_lock, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_locks_are_taken_root_first, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_roots_lock_is_ours_alone_or_replaced, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_users_part_is_given_to_the_user, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_promotion_takes_both_locks_root_first,
                                        unit_store_setup, unit_store_teardown),
    };

    return cmocka_run_group_tests(tests, unit_store_group_setup, unit_store_group_teardown);
}

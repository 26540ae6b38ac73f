/* test_reg.c: unit tests of the registry: adding with overlap checks, and the sync from a
 * configuration -- adds, updates only what changed, hands an old entry over, sets aside junk. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "md_cert.h"
#include "md_reg.h"
#include "md_log.h"
#include "unit_fixture.h"
#include "unit_keys.h"
#include "unit_store.h"

typedef struct {
    unit_fixture_t *fx;
    md_store_t *store;
    md_reg_t *reg;
} ctx_t;

static apr_array_header_t *config(apr_pool_t *p, md_t *a, md_t *b)
{
    apr_array_header_t *mds = apr_array_make(p, 2, sizeof(md_t *));

    APR_ARRAY_PUSH(mds, md_t *) = a;
    if (b) {
        APR_ARRAY_PUSH(mds, md_t *) = b;
    }
    return mds;
}

static const char *md_json_path(ctx_t *c, const char *name)
{
    return md_store_path(c->store, MD_SG_DOMAINS, name, MD_FN_MD, c->fx->p);
}

static struct stat stat_of(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st;
}

/* A valid EC certificate + key for md in domains/. */
static void install_cert(ctx_t *c, const md_t *md)
{
    md_pkey_t *key;

    assert_int_equal(md_pkey_gen(&key, &unit_spec_p256, c->fx->p), APR_SUCCESS);
    unit_save_key_chain(
        c->store, MD_SG_DOMAINS, md->name, key,
        unit_chain(key, md->name, md->domains, apr_time_from_sec(86400 * 30), c->fx->p), c->fx->p);
}

static void use_ec(md_t *md, apr_pool_t *p)
{
    const char *err, *argv[] = {"secp256r1"};

    assert_int_equal(md_pkey_specs_parse(&md->pkey_specs, &err, 1, argv, p), APR_SUCCESS);
}

static int setup(void **state)
{
    ctx_t *c = calloc(1, sizeof(*c));
    void *fx;

    assert_int_equal(unit_fixture_setup(&fx), 0);
    c->fx = fx;
    unit_reg_open(&c->store, &c->reg, c->fx->dir, c->fx->p);
    unit_log_capture(MD_LOG_ERR);
    unit_log_clear();
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx_t *c = *state;
    void *fx = c->fx;

    unit_fixture_teardown(&fx);
    free(c);
    return 0;
}

static void test_add_refuses_overlap_naming_the_owner(void **state)
{
    ctx_t *c = *state;
    apr_pool_t *p = c->fx->p;

    assert_int_equal(md_reg_add(c->reg, unit_md_make(p, "example.org", "www.example.org", NULL), p),
                     APR_SUCCESS);
    assert_int_equal(
        md_reg_add(c->reg, unit_md_make(p, "shop.example.org", "WWW.example.org", NULL), p),
        APR_EEXIST);
    assert_non_null(strstr(unit_log_last_error(), "www.example.org"));
    assert_non_null(strstr(unit_log_last_error(), "'example.org'"));
    assert_int_equal(md_reg_add(c->reg, unit_md_make(p, "bad..example.org", NULL), p), APR_EINVAL);
}

static void test_sync_adds_and_writes_only_changes(void **state)
{
    ctx_t *c = *state;
    apr_pool_t *p = c->fx->p;
    md_t *a = unit_md_make(p, "a.example.org", NULL), *b = unit_md_make(p, "b.example.org", NULL);
    struct stat before;
    md_t *got;

    assert_int_equal(md_reg_sync(c->reg, config(p, a, b), p), APR_SUCCESS);
    assert_int_equal(a->state, MD_S_INCOMPLETE);
    before = stat_of(md_json_path(c, "a.example.org"));

    /* the same configuration again: nothing is rewritten */
    assert_int_equal(md_reg_sync(c->reg,
                                 config(p, unit_md_make(p, "a.example.org", NULL),
                                        unit_md_make(p, "b.example.org", NULL)),
                                 p),
                     APR_SUCCESS);
    assert_int_equal(stat_of(md_json_path(c, "a.example.org")).st_ino, before.st_ino);

    /* a changed setting is written, what the store learned (the account) is kept */
    assert_int_equal(md_reg_get(&got, c->reg, "a.example.org", p), APR_SUCCESS);
    got->ca_account = "ACME-ca-0000";
    assert_int_equal(md_reg_update(c->reg, "a.example.org", got, p), APR_SUCCESS);
    a = unit_md_make(p, "a.example.org", NULL);
    a->renew_mode = MD_RENEW_MANUAL;
    assert_int_equal(md_reg_sync(c->reg, config(p, a, NULL), p), APR_SUCCESS);
    assert_int_equal(md_reg_get(&got, c->reg, "a.example.org", p), APR_SUCCESS);
    assert_int_equal(got->renew_mode, MD_RENEW_MANUAL);
    assert_string_equal(got->ca_account, "ACME-ca-0000");
    /* b is no longer configured: it stays, untouched */
    assert_true(md_store_exists(c->store, MD_SG_DOMAINS, "b.example.org", MD_FN_MD, p));
}

static void test_sync_hands_an_old_entry_to_its_successor(void **state)
{
    ctx_t *c = *state;
    apr_pool_t *p = c->fx->p;
    md_t *old = unit_md_make(p, "example.org", "www.example.org", NULL), *renamed, *got;

    use_ec(old, p);
    assert_int_equal(md_reg_sync(c->reg, config(p, old, NULL), p), APR_SUCCESS);
    install_cert(c, old);
    /* the operator reorders the names: the MD is now called www.example.org */
    renamed = unit_md_make(p, "www.example.org", "example.org", NULL);
    use_ec(renamed, p);
    assert_int_equal(md_reg_sync(c->reg, config(p, renamed, NULL), p), APR_SUCCESS);
    assert_false(md_store_exists(c->store, MD_SG_DOMAINS, "example.org", NULL, p));
    assert_int_equal(md_reg_get(&got, c->reg, "www.example.org", p), APR_SUCCESS);
    assert_int_equal(got->state, MD_S_COMPLETE); /* the certificate came along */
    assert_int_equal(renamed->state, MD_S_COMPLETE);
}

static void test_sync_archives_an_old_entry_when_the_successor_has_one(void **state)
{
    ctx_t *c = *state;
    apr_pool_t *p = c->fx->p;
    apr_array_header_t *archived;

    assert_int_equal(md_reg_sync(c->reg,
                                 config(p, unit_md_make(p, "a.example.org", NULL),
                                        unit_md_make(p, "b.example.org", "shop.example.org", NULL)),
                                 p),
                     APR_SUCCESS);
    /* b is dropped and its shop name moves to a */
    assert_int_equal(
        md_reg_sync(c->reg,
                    config(p, unit_md_make(p, "a.example.org", "shop.example.org", NULL), NULL), p),
        APR_SUCCESS);
    assert_false(md_store_exists(c->store, MD_SG_DOMAINS, "b.example.org", NULL, p));
    assert_int_equal(md_store_names(&archived, c->store, MD_SG_ARCHIVE, p), APR_SUCCESS);
    assert_int_equal(archived->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(archived, 0, const char *), "b.example.org.1");
}

static void test_sync_writes_roots_groups_only_and_leaves_strays(void **state)
{
    ctx_t *c = *state;
    apr_pool_t *p = c->fx->p;
    md_store_t *other = unit_store_open(md_store_dir(c->store), p);
    apr_array_header_t *strays;
    md_store_lock_t *lock;
    const md_reg_stray_t *s;

    assert_int_equal(md_reg_sync(c->reg,
                                 config(p, unit_md_make(p, "a.example.org", NULL),
                                        unit_md_make(p, "b.example.org", "shop.example.org", NULL)),
                                 p),
                     APR_SUCCESS);
    assert_int_equal(md_store_save_text(c->store, MD_SG_STAGING, "a.example.org", "t", "x", p),
                     APR_SUCCESS);
    assert_int_equal(md_store_save_text(c->store, MD_SG_STAGING, "b.example.org", "t", "x", p),
                     APR_SUCCESS);
    assert_int_equal(md_store_save_text(c->store, MD_SG_LIVE, "gone.example.org", "t", "x", p),
                     APR_SUCCESS);
    /* the driver holds the lock of the User's groups (another handle: another process for an
     * OFD lock); b is dropped and its shop name moves to a, without waiting for it */
    assert_int_equal(md_store_lock(&lock, other, MD_STORE_LOCK_USER, 0, p), APR_SUCCESS);
    assert_int_equal(
        md_reg_sync(c->reg,
                    config(p, unit_md_make(p, "a.example.org", "shop.example.org", NULL), NULL), p),
        APR_SUCCESS);
    assert_int_equal(unit_log_count(), 0);
    assert_int_equal(md_store_unlock(lock), APR_SUCCESS);
    assert_false(md_store_exists(c->store, MD_SG_DOMAINS, "b.example.org", NULL, p));
    assert_true(md_store_exists(c->store, MD_SG_STAGING, "b.example.org", "t", p));

    /* answers of drives long over, and one that a drive may still use */
    assert_int_equal(md_store_save_text(c->store, MD_SG_CHALLENGES, "old.example.org",
                                        "acme-http-01.txt", "x", p),
                     APR_SUCCESS);
    assert_int_equal(
        md_store_save_text(c->store, MD_SG_CHALLENGES, "a.example.org", "acme-http-01.txt", "x", p),
        APR_SUCCESS);
    assert_int_equal(
        apr_file_mtime_set(md_store_path(c->store, MD_SG_CHALLENGES, "old.example.org", NULL, p),
                           apr_time_now() - MD_REG_CHALLENGE_STALE - 60, p),
        APR_SUCCESS);

    /* what belongs to no MD any more, the User's lock holder may remove */
    assert_int_equal(md_reg_strays(&strays, c->reg, p), APR_SUCCESS);
    assert_int_equal(strays->nelts, 3);
    s = &APR_ARRAY_IDX(strays, 0, md_reg_stray_t);
    assert_int_equal(s->group, MD_SG_STAGING);
    assert_string_equal(s->name, "b.example.org");
    s = &APR_ARRAY_IDX(strays, 1, md_reg_stray_t);
    assert_int_equal(s->group, MD_SG_LIVE);
    assert_string_equal(s->name, "gone.example.org");
    s = &APR_ARRAY_IDX(strays, 2, md_reg_stray_t);
    assert_int_equal(s->group, MD_SG_CHALLENGES);
    assert_string_equal(s->name, "old.example.org");
}

static void test_sync_sets_a_broken_md_json_aside(void **state)
{
    ctx_t *c = *state;
    apr_pool_t *p = c->fx->p;
    apr_array_header_t *aspects;
    FILE *f;
    int i, aside = 0;

    assert_int_equal(
        md_reg_sync(c->reg, config(p, unit_md_make(p, "a.example.org", NULL), NULL), p),
        APR_SUCCESS);
    f = fopen(md_json_path(c, "a.example.org"), "w");
    fputs("{\"domains\": [", f);
    fclose(f);
    assert_int_equal(
        md_reg_sync(c->reg, config(p, unit_md_make(p, "a.example.org", NULL), NULL), p),
        APR_SUCCESS);
    assert_int_equal(md_store_aspects(&aspects, c->store, MD_SG_DOMAINS, "a.example.org", p),
                     APR_SUCCESS);
    for (i = 0; i < aspects->nelts; ++i) {
        aside += !strncmp(APR_ARRAY_IDX(aspects, i, const char *), "md.json.broken-", 15);
    }
    assert_int_equal(aside, 1);
    assert_true(md_store_exists(c->store, MD_SG_DOMAINS, "a.example.org", MD_FN_MD, p));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_refuses_overlap_naming_the_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_adds_and_writes_only_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_hands_an_old_entry_to_its_successor, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sync_archives_an_old_entry_when_the_successor_has_one,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_writes_roots_groups_only_and_leaves_strays, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sync_sets_a_broken_md_json_aside, setup, teardown),
    };

    apr_initialize();
    return cmocka_run_group_tests(tests, NULL, NULL);
}

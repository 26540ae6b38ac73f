/* test_persist.c: unit tests of md_persist.c -- the dns-persist-01 record text of an MD, the
 * issuer names remembered per account, and the status an operator publishes from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <apr_strings.h>

#include "md_log.h"
#include "md_persist.h"
#include "md_store.h"
#include "unit_store.h"

#define ISSUER "authority.example"
#define ACCOUNT_ID "ACME-ca.example-0000"
#define ACCOUNT_URL "https://ca.example/acct/123"

static md_store_t *store_of(void **state)
{
    unit_store_fixture_t *f = *state;

    return unit_store_open(f->dir, f->pool);
}

static const md_persist_rec_t *rec_at(const apr_array_header_t *recs, int i)
{
    return APR_ARRAY_IDX(recs, i, const md_persist_rec_t *);
}

static void test_record_text(void **state)
{
    unit_store_fixture_t *f = *state;
    md_persist_rec_t *rec = md_persist_record("example.org", 0, ISSUER, ACCOUNT_URL, f->pool);

    /* draft-ietf-acme-dns-persist 4.1: issue-value syntax of RFC 8659 */
    assert_string_equal(rec->name, "_validation-persist.example.org");
    assert_string_equal(rec->value, ISSUER "; accounturi=" ACCOUNT_URL);
    rec = md_persist_record("example.org", 1, ISSUER, ACCOUNT_URL, f->pool);
    assert_string_equal(rec->value, ISSUER "; accounturi=" ACCOUNT_URL "; policy=wildcard");
    assert_string_equal(md_persist_record_line(rec, f->pool),
                        "_validation-persist.example.org. IN TXT \"" ISSUER
                        "; accounturi=" ACCOUNT_URL "; policy=wildcard\"");
}

static void test_records_of_names(void **state)
{
    unit_store_fixture_t *f = *state;
    md_t *md = unit_md_make(f->pool, "example.org", "*.example.org", "www.example.org",
                            "*.shop.example.org", NULL);
    apr_array_header_t *recs = md_persist_records(md->domains, ISSUER, ACCOUNT_URL, f->pool);

    /* one record per base name; the wildcard's also serves its base name */
    assert_int_equal(recs->nelts, 3);
    assert_string_equal(rec_at(recs, 0)->name, "_validation-persist.example.org");
    assert_non_null(strstr(rec_at(recs, 0)->value, "; policy=wildcard"));
    assert_string_equal(rec_at(recs, 1)->name, "_validation-persist.www.example.org");
    assert_null(strstr(rec_at(recs, 1)->value, "policy"));
    assert_string_equal(rec_at(recs, 2)->name, "_validation-persist.shop.example.org");
    assert_non_null(strstr(rec_at(recs, 2)->value, "; policy=wildcard"));
}

static void save_account(md_store_t *store, apr_pool_t *p)
{
    md_json_t *j = md_json_new_obj(p);

    md_json_set_str(j, "url", ACCOUNT_URL);
    assert_int_equal(md_store_save_json(store, MD_SG_ACCOUNTS, ACCOUNT_ID, MD_FN_ACCOUNT, j, p),
                     APR_SUCCESS);
}

static void test_status_says_what_is_missing(void **state)
{
    unit_store_fixture_t *f = *state;
    md_store_t *store = store_of(state);
    md_t *md = unit_md_make(f->pool, "example.org", "*.example.org", NULL);
    md_json_t *j;

    /* not enabled: no member */
    assert_null(md_persist_status_json(store, md, NULL, f->pool));
    md->ca_challenges = apr_array_make(f->pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(md->ca_challenges, const char *) = MD_CHALL_DNSPERSIST01;
    /* no account yet */
    j = md_persist_status_json(store, md, NULL, f->pool);
    assert_non_null(j);
    assert_null(md_json_get(j, "records", f->pool));
    assert_non_null(strstr(md_json_get_str(j, "missing"), "account"));
    /* an account, but the CA has not named its issuer yet */
    save_account(store, f->pool);
    j = md_persist_status_json(store, md, ACCOUNT_ID, f->pool);
    assert_string_equal(md_json_get_str(j, "account"), ACCOUNT_URL);
    assert_null(md_json_get(j, "records", f->pool));
    assert_non_null(strstr(md_json_get_str(j, "missing"), "issuer domain name"));
    /* an issuer given (a2md persist-record -i) */
    j = md_persist_json(store, md, ACCOUNT_ID, ISSUER, f->pool);
    assert_int_equal(md_json_len(md_json_get(j, "records", f->pool)), 1);
}

static void test_note_remembers_issuer(void **state)
{
    unit_store_fixture_t *f = *state;
    md_store_t *store = store_of(state);
    md_t *md = unit_md_make(f->pool, "example.org", "*.example.org", NULL);
    md_acme_authz_t authz = {.url = "https://ca.example/authz/1", .domain = "example.org"};
    apr_array_header_t *issuers = apr_array_make(f->pool, 2, sizeof(const char *));
    md_acme_chall_t chall = {.type = MD_CHALL_DNSPERSIST01, .url = "https://ca.example/chall/1"};
    md_json_t *j, *rec;
    const char *line;

    APR_ARRAY_PUSH(issuers, const char *) = ISSUER;
    APR_ARRAY_PUSH(issuers, const char *) = "ca.example.net";
    chall.issuers = issuers;
    /* the account URL goes into the record: without it there is none to tell */
    assert_int_not_equal(md_persist_note(&line, store, md, ACCOUNT_ID, &authz, &chall, f->pool),
                         APR_SUCCESS);
    save_account(store, f->pool);
    unit_log_capture(MD_LOG_NOTICE); /* the record is told at notice */
    unit_log_clear();
    assert_int_equal(md_persist_note(&line, store, md, ACCOUNT_ID, &authz, &chall, f->pool),
                     APR_SUCCESS);
    /* the first issuer, and policy=wildcard since the MD has *.example.org */
    assert_string_equal(line, "_validation-persist.example.org. IN TXT \"" ISSUER
                              "; accounturi=" ACCOUNT_URL "; policy=wildcard\"");
    assert_non_null(strstr(unit_log_text(), line));
    /* later, without a challenge at hand, the status knows the record */
    j = md_persist_json(store, md, ACCOUNT_ID, NULL, f->pool);
    assert_string_equal(md_json_get_str(j, "issuer"), ISSUER);
    rec = md_json_at(md_json_get(j, "records", f->pool), 0, f->pool);
    assert_string_equal(md_json_get_str(rec, "name"), "_validation-persist.example.org");
    assert_string_equal(md_json_get_str(rec, "value"),
                        ISSUER "; accounturi=" ACCOUNT_URL "; policy=wildcard");
}

static void test_note_writes_only_news(void **state)
{
    unit_store_fixture_t *f = *state;
    md_store_t *store = store_of(state);
    md_t *md = unit_md_make(f->pool, "example.org", NULL);
    md_acme_authz_t authz = {.url = "https://ca.example/authz/1", .domain = "example.org"};
    apr_array_header_t *issuers = apr_array_make(f->pool, 1, sizeof(const char *));
    md_acme_chall_t chall = {.type = MD_CHALL_DNSPERSIST01, .url = "https://ca.example/chall/1"};
    md_json_t *j;
    const char *line, *err;

    save_account(store, f->pool);
    APR_ARRAY_PUSH(issuers, const char *) = ISSUER;
    chall.issuers = issuers;
    assert_int_equal(md_persist_note(&line, store, md, ACCOUNT_ID, &authz, &chall, f->pool),
                     APR_SUCCESS);
    /* a mark in the file shows whether the next authorization rewrote it */
    assert_int_equal(
        md_store_load_json(&j, &err, store, MD_SG_ACCOUNTS, ACCOUNT_ID, MD_FN_PERSIST, f->pool),
        APR_SUCCESS);
    md_json_set_str(j, "mark", "kept");
    assert_int_equal(
        md_store_save_json(store, MD_SG_ACCOUNTS, ACCOUNT_ID, MD_FN_PERSIST, j, f->pool),
        APR_SUCCESS);
    assert_int_equal(md_persist_note(&line, store, md, ACCOUNT_ID, &authz, &chall, f->pool),
                     APR_SUCCESS);
    assert_int_equal(
        md_store_load_json(&j, &err, store, MD_SG_ACCOUNTS, ACCOUNT_ID, MD_FN_PERSIST, f->pool),
        APR_SUCCESS);
    assert_string_equal(md_json_get_str(j, "mark"), "kept");
    /* the CA names another issuer first: that is news */
    APR_ARRAY_IDX(issuers, 0, const char *) = "ca.example.net";
    assert_int_equal(md_persist_note(&line, store, md, ACCOUNT_ID, &authz, &chall, f->pool),
                     APR_SUCCESS);
    j = md_persist_json(store, md, ACCOUNT_ID, NULL, f->pool);
    assert_string_equal(md_json_get_str(j, "issuer"), "ca.example.net");
}

static void test_remembered_issuer_must_be_a_name(void **state)
{
    unit_store_fixture_t *f = *state;
    md_store_t *store = store_of(state);
    md_t *md = unit_md_make(f->pool, "example.org", NULL);
    md_json_t *j = md_json_new_obj(f->pool);
    apr_array_header_t *names = apr_array_make(f->pool, 1, sizeof(const char *));

    /* accounts/ is the User's: a file there that says something else than a name is not shown */
    save_account(store, f->pool);
    APR_ARRAY_PUSH(names, const char *) = "ca.example\"; policy=wildcard";
    md_json_set_strs(j, "issuer-domain-names", names);
    assert_int_equal(
        md_store_save_json(store, MD_SG_ACCOUNTS, ACCOUNT_ID, MD_FN_PERSIST, j, f->pool),
        APR_SUCCESS);
    j = md_persist_json(store, md, ACCOUNT_ID, NULL, f->pool);
    assert_null(md_json_get_str(j, "issuer"));
    assert_null(md_json_get(j, "records", f->pool));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_record_text, unit_store_setup, unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_records_of_names, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_status_says_what_is_missing, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_note_remembers_issuer, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_note_writes_only_news, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_remembered_issuer_must_be_a_name, unit_store_setup,
                                        unit_store_teardown),
    };

    return cmocka_run_group_tests(tests, unit_store_group_setup, unit_store_group_teardown);
}

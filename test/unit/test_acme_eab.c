/* test_acme_eab.c: unit tests of md_acme_eab.h: external account binding credentials from
 * "kid:hmac" text and JSON files, and the base64url check of the HMAC key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "md_acme_eab.h"
#include "md_util.h"
#include "unit_fixture.h"

/* pebble's example key for kid-1 (its config examples) */
#define HMAC_OK "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
#define FILE_PERMS (APR_FPROT_UREAD | APR_FPROT_UWRITE)

static apr_status_t parse(const char **kid, const char **hmac, const char **err, const char *s,
                          apr_pool_t *p)
{
    return md_acme_eab_parse(kid, hmac, err, s, strlen(s), p);
}

static void test_parse_colon_form(void **state)
{
    unit_fixture_t *f = *state;
    const char *kid, *hmac, *err;

    assert_int_equal(APR_SUCCESS, parse(&kid, &hmac, &err, "kid-1:" HMAC_OK "\n", f->p));
    assert_string_equal("kid-1", kid);
    assert_string_equal(HMAC_OK, hmac);
    /* a key id may hold ':' (a URN); the last one separates */
    assert_int_equal(APR_SUCCESS, parse(&kid, &hmac, &err, "  urn:x:1:" HMAC_OK " ", f->p));
    assert_string_equal("urn:x:1", kid);
    assert_string_equal(HMAC_OK, hmac);
}

static void test_parse_json_form(void **state)
{
    unit_fixture_t *f = *state;
    const char *kid, *hmac, *err;

    assert_int_equal(APR_SUCCESS, parse(&kid, &hmac, &err,
                                        "{\"kid\": \"kid-2\", \"hmac\": \"" HMAC_OK "\"}\n", f->p));
    assert_string_equal("kid-2", kid);
    assert_string_equal(HMAC_OK, hmac);
}

static void test_parse_refuses(void **state)
{
    unit_fixture_t *f = *state;
    const char *kid, *hmac, *err;
    static const char *const bad[] = {
        "",
        "no-separator",
        ":" HMAC_OK,
        "kid-1:",
        "{\"kid\": \"kid-1\"}",
        "{\"hmac\": \"" HMAC_OK "\"}",
        "{\"kid\": \"kid-1\", \"hmac\": 5}",
        "{\"kid\": \"kid-1\", ",
        "[\"kid-1\", \"" HMAC_OK "\"]",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        assert_int_equal(APR_EINVAL, parse(&kid, &hmac, &err, bad[i], f->p));
        assert_non_null(err);
        assert_null(kid);
        assert_null(hmac);
    }
}

static void test_hmac_must_be_base64url(void **state)
{
    unit_fixture_t *f = *state;
    const char *kid, *hmac, *err;

    assert_int_equal(APR_SUCCESS, md_acme_eab_check_hmac(&err, HMAC_OK, f->p));
    assert_int_equal(APR_SUCCESS, md_acme_eab_check_hmac(&err, "a-_b", f->p));
    /* standard base64's + and / are not base64url; a single character decodes to nothing */
    assert_int_equal(APR_EINVAL, md_acme_eab_check_hmac(&err, "ab+/", f->p));
    assert_non_null(strstr(err, "base64url"));
    assert_int_equal(APR_EINVAL, md_acme_eab_check_hmac(&err, "a", f->p));
    assert_int_equal(APR_EINVAL, md_acme_eab_check_hmac(&err, "", f->p));
    /* the message names the key id, never the key */
    assert_int_equal(APR_EINVAL, parse(&kid, &hmac, &err, "kid-9:secret+key/", f->p));
    assert_non_null(strstr(err, "kid-9"));
    assert_null(strstr(err, "secret"));
}

static void test_read_file(void **state)
{
    unit_fixture_t *f = *state;
    const char *kid, *hmac, *err;
    const char *path = apr_pstrcat(f->p, f->dir, "/eab.json", NULL);
    const char *text = "{\"kid\": \"kid-3\", \"hmac\": \"" HMAC_OK "\"}\n";

    assert_int_equal(APR_ENOENT, md_acme_eab_read_file(&kid, &hmac, &err, path, f->p));
    assert_non_null(strstr(err, path));
    assert_int_equal(APR_SUCCESS, md_file_write_atomic(path, text, strlen(text), FILE_PERMS, f->p));
    assert_int_equal(APR_SUCCESS, md_acme_eab_read_file(&kid, &hmac, &err, path, f->p));
    assert_string_equal("kid-3", kid);
    assert_string_equal(HMAC_OK, hmac);
    text = "{\"kid\": \"kid-3\", \"hmac\": \"not base64!\"}";
    assert_int_equal(APR_SUCCESS, md_file_write_atomic(path, text, strlen(text), FILE_PERMS, f->p));
    assert_int_equal(APR_EINVAL, md_acme_eab_read_file(&kid, &hmac, &err, path, f->p));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "base64url"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, unit_fixture_setup, unit_fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_parse_colon_form),       T(test_parse_json_form), T(test_parse_refuses),
        T(test_hmac_must_be_base64url), T(test_read_file),
    };

    apr_initialize();
    unit_log_capture(MD_LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

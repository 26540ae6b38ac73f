/* test_acme_manage.c: unit tests of md_acme_manage.h: the shape of a key change's inner JWS
 * (RFC 8555 7.3.5) and revocation reason codes (RFC 5280 5.3.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>

#include "md_acme_manage.h"
#include "md_jws.h"
#include "md_util.h"
#include "unit_fixture.h"
#include "unit_keys.h"

#define KEY_CHANGE_URL "https://ca.example/rollover-account-key"
#define ACCOUNT_URL "https://ca.example/my-account/17"

static md_json_t *b64_json(const char *b64, apr_pool_t *p)
{
    unsigned char *data;
    apr_size_t len;
    md_json_t *j;
    const char *err;

    assert_int_equal(APR_SUCCESS, md_base64url_decode(&data, &len, b64, p));
    assert_int_equal(APR_SUCCESS, md_json_parse(&j, &err, (const char *) data, len, p));
    return j;
}

static const char *jwk_text(const md_pkey_t *key, apr_pool_t *p)
{
    md_json_t *jwk;

    assert_int_equal(APR_SUCCESS, md_jwk_get(&jwk, key, p));
    return md_json_dump(jwk, 0, p);
}

static void test_keyroll_inner_shape(void **state)
{
    unit_fixture_t *f = *state;
    md_pkey_t *old_key, *new_key;
    md_json_t *jws, *prot, *payload;

    assert_int_equal(APR_SUCCESS, md_pkey_gen(&old_key, &unit_spec_p256, f->p));
    assert_int_equal(APR_SUCCESS, md_pkey_gen(&new_key, &unit_spec_p384, f->p));
    assert_int_equal(APR_SUCCESS, md_acme_keyroll_inner(&jws, KEY_CHANGE_URL, ACCOUNT_URL, old_key,
                                                        new_key, f->p));
    assert_non_null(md_json_get_str(jws, "signature"));
    prot = b64_json(md_json_get_str(jws, "protected"), f->p);
    /* signed by the new key, which it names; no nonce and no kid (RFC 8555 7.3.5) */
    assert_string_equal("ES384", md_json_get_str(prot, "alg"));
    assert_string_equal(KEY_CHANGE_URL, md_json_get_str(prot, "url"));
    assert_string_equal(jwk_text(new_key, f->p),
                        md_json_dump(md_json_get(prot, "jwk", f->p), 0, f->p));
    assert_null(md_json_get(prot, "nonce", f->p));
    assert_null(md_json_get(prot, "kid", f->p));
    payload = b64_json(md_json_get_str(jws, "payload"), f->p);
    assert_string_equal(ACCOUNT_URL, md_json_get_str(payload, "account"));
    assert_string_equal(jwk_text(old_key, f->p),
                        md_json_dump(md_json_get(payload, "oldKey", f->p), 0, f->p));
}

static void test_revoke_reasons(void **state)
{
    int reason;
    static const char *const refused[] = {"cACompromise",
                                          "certificateHold",
                                          "aACompromise",
                                          "2",
                                          "6",
                                          "7",
                                          "10",
                                          "11",
                                          "-1",
                                          "",
                                          "1x",
                                          "bogus"};

    (void) state;
    assert_int_equal(APR_SUCCESS, md_acme_revoke_reason_parse(&reason, "keyCompromise"));
    assert_int_equal(1, reason);
    assert_int_equal(APR_SUCCESS, md_acme_revoke_reason_parse(&reason, "superseded"));
    assert_int_equal(4, reason);
    assert_int_equal(APR_SUCCESS, md_acme_revoke_reason_parse(&reason, "cessationofoperation"));
    assert_int_equal(5, reason);
    assert_int_equal(APR_SUCCESS, md_acme_revoke_reason_parse(&reason, "0"));
    assert_int_equal(0, reason);
    assert_int_equal(APR_SUCCESS, md_acme_revoke_reason_parse(&reason, "9"));
    assert_int_equal(9, reason);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); ++i) {
        assert_int_equal(APR_EINVAL, md_acme_revoke_reason_parse(&reason, refused[i]));
        assert_int_equal(-1, reason);
    }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, unit_fixture_setup, unit_fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_keyroll_inner_shape),
        T(test_revoke_reasons),
    };

    apr_initialize();
    unit_log_capture(MD_LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

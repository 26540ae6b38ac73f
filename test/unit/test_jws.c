/* test_jws.c: unit tests of md_jws.c -- JWKs (RSA, EC with short coordinates), the RFC 7638
 * thumbprint vector, RS256/ES256/ES384 signatures checked with OpenSSL, HS256 (RFC 7515 A.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "md_crypt.h"
#include "md_json.h"
#include "md_jws.h"
#include "md_util.h"
#include "unit_keys.h"

/* Bytes of a P-256 coordinate and signature half (RFC 7518 3.4). */
#define P256_LEN 32
#define P384_LEN 48
/* Keys tried before giving up on finding a P-256 key with a coordinate below 2^248:
 * each key has one with probability ~1/128. */
#define LEADING_ZERO_TRIES 20000

/* RFC 7515 appendix A.1: HS256 key (JWK "k"), encoded header and payload, signature. */
static const char *rfc7515_k = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-"
                               "1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
static const char *rfc7515_hdr = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9";
static const char *rfc7515_payload = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9l"
                                     "eGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
static const char *rfc7515_sig = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

typedef struct {
    apr_pool_t *pool;
    md_pkey_t *rsa;
    md_pkey_t *ec256;
    md_pkey_t *ec384;
} fixture_t;

static md_pkey_t *gen_key(const char *type, const char *curve, apr_pool_t *p)
{
    EVP_PKEY *pkey = curve ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve)
                           : EVP_PKEY_Q_keygen(NULL, NULL, type, (size_t) 2048);
    return pkey ? md_pkey_wrap(pkey, p) : NULL;
}

static int group_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    if (!f || apr_initialize() != APR_SUCCESS || apr_pool_create(&f->pool, NULL) != APR_SUCCESS) {
        return -1;
    }
    f->rsa = gen_key("RSA", NULL, f->pool);
    f->ec256 = gen_key("EC", "P-256", f->pool);
    f->ec384 = gen_key("EC", "P-384", f->pool);
    if (!f->rsa || !f->ec256 || !f->ec384) {
        return -1;
    }
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    fixture_t *f = *state;

    apr_pool_destroy(f->pool);
    free(f);
    apr_terminate();
    return 0;
}

static unsigned char *b64_decode(apr_size_t *plen, const char *s, apr_pool_t *p)
{
    unsigned char *data = NULL;

    assert_int_equal(APR_SUCCESS, md_base64url_decode(&data, plen, s, p));
    return data;
}

static md_json_t *b64_json(const char *s, apr_pool_t *p)
{
    const char *err = NULL;
    md_json_t *j = NULL;
    apr_size_t len;
    unsigned char *data = b64_decode(&len, s, p);

    assert_int_equal(APR_SUCCESS, md_json_parse(&j, &err, (const char *) data, len, p));
    return j;
}

/* Verifies a JWS signature with OpenSSL the way a CA would: over "<protected>.<payload>";
 * ECDSA's raw R||S is turned back into DER first. Returns 1 when it verifies. */
static int jws_verifies(const md_json_t *jws, const md_pkey_t *key, const char *digest,
                        apr_size_t ec_half, apr_pool_t *p)
{
    const char *input = apr_pstrcat(p, md_json_get_str(jws, "protected"), ".",
                                    md_json_get_str(jws, "payload"), NULL);
    unsigned char *sig, *der = NULL;
    apr_size_t sig_len;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ECDSA_SIG *esig;
    int der_len, ok;

    sig = b64_decode(&sig_len, md_json_get_str(jws, "signature"), p);
    if (ec_half) {
        assert_int_equal(2 * ec_half, sig_len);
        esig = ECDSA_SIG_new();
        assert_non_null(esig);
        assert_int_equal(1, ECDSA_SIG_set0(esig, BN_bin2bn(sig, (int) ec_half, NULL),
                                           BN_bin2bn(sig + ec_half, (int) ec_half, NULL)));
        der_len = i2d_ECDSA_SIG(esig, &der);
        ECDSA_SIG_free(esig);
        assert_true(der_len > 0);
        sig = apr_pmemdup(p, der, (apr_size_t) der_len);
        sig_len = (apr_size_t) der_len;
        OPENSSL_free(der);
    }
    assert_non_null(ctx);
    assert_int_equal(
        1, EVP_DigestVerifyInit_ex(ctx, NULL, digest, NULL, NULL, md_pkey_evp(key), NULL));
    ok = EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *) input, strlen(input)) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* The same JWS with one character of its payload changed. */
static md_json_t *jws_tampered(const md_json_t *jws, apr_pool_t *p)
{
    md_json_t *copy = md_json_copy(jws, p);
    char *payload = apr_pstrdup(p, md_json_get_str(jws, "payload"));

    payload[0] = payload[0] == 'A' ? 'B' : 'A';
    md_json_set_str(copy, "payload", payload);
    return copy;
}

static void test_thumbprint_rfc7638(void **state)
{
    fixture_t *f = *state;
    md_pkey_t *key = unit_rfc7638_key(f->pool);
    md_json_t *jwk;
    const char *thumb;

    assert_int_equal(APR_SUCCESS, md_jwk_get(&jwk, key, f->pool));
    assert_string_equal("RSA", md_json_get_str(jwk, "kty"));
    assert_string_equal(unit_rfc7638_e, md_json_get_str(jwk, "e"));
    assert_string_equal(unit_rfc7638_n, md_json_get_str(jwk, "n"));
    assert_int_equal(APR_SUCCESS, md_jwk_thumbprint(&thumb, key, f->pool));
    assert_string_equal(unit_rfc7638_thumb, thumb);
}

static void test_rs256_verifies(void **state)
{
    fixture_t *f = *state;
    static const char payload[] = "{\"contact\":[\"mailto:admin@example.org\"]}";
    md_json_t *extra = md_json_new_obj(f->pool), *jws, *hdr, *jwk;
    apr_size_t len;
    const char *alg;

    md_json_set_str(extra, "url", "https://ca.example/acme/new-account");
    md_json_set_str(extra, "nonce", "nonce-1");
    assert_int_equal(APR_SUCCESS,
                     md_jws_sign(&jws, payload, strlen(payload), extra, f->rsa, f->pool));
    assert_int_equal(3, md_json_keys(jws, f->pool)->nelts);

    hdr = b64_json(md_json_get_str(jws, "protected"), f->pool);
    assert_string_equal("RS256", md_json_get_str(hdr, "alg"));
    assert_string_equal("https://ca.example/acme/new-account", md_json_get_str(hdr, "url"));
    assert_string_equal("nonce-1", md_json_get_str(hdr, "nonce"));
    assert_false(md_json_has(hdr, "kid"));
    jwk = md_json_get(hdr, "jwk", f->pool);
    assert_string_equal("RSA", md_json_get_str(jwk, "kty"));
    assert_string_equal("AQAB", md_json_get_str(jwk, "e"));
    /* a 2048-bit modulus without a leading zero byte: 256 bytes */
    b64_decode(&len, md_json_get_str(jwk, "n"), f->pool);
    assert_int_equal(256, len);
    assert_false(md_json_has(extra, "alg")); /* the caller's header is left alone */

    assert_string_equal(payload,
                        (const char *) b64_decode(&len, md_json_get_str(jws, "payload"), f->pool));
    assert_true(jws_verifies(jws, f->rsa, "SHA256", 0, f->pool));
    assert_false(jws_verifies(jws_tampered(jws, f->pool), f->rsa, "SHA256", 0, f->pool));
    assert_int_equal(APR_SUCCESS, md_jws_alg(&alg, f->rsa));
    assert_string_equal("RS256", alg);
}

static void test_es256_es384_verify(void **state)
{
    fixture_t *f = *state;
    static const char payload[] = "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example\"}]}";
    md_json_t *extra = md_json_new_obj(f->pool), *jws, *hdr;

    md_json_set_str(extra, "url", "https://ca.example/acme/new-order");
    md_json_set_str(extra, "nonce", "nonce-2");
    md_json_set_str(extra, "kid", "https://ca.example/acme/acct/7");

    assert_int_equal(APR_SUCCESS,
                     md_jws_sign(&jws, payload, strlen(payload), extra, f->ec256, f->pool));
    hdr = b64_json(md_json_get_str(jws, "protected"), f->pool);
    assert_string_equal("ES256", md_json_get_str(hdr, "alg"));
    assert_string_equal("https://ca.example/acme/acct/7", md_json_get_str(hdr, "kid"));
    assert_false(md_json_has(hdr, "jwk")); /* kid given: no jwk (RFC 8555 6.2) */
    assert_true(jws_verifies(jws, f->ec256, "SHA256", P256_LEN, f->pool));
    assert_false(jws_verifies(jws_tampered(jws, f->pool), f->ec256, "SHA256", P256_LEN, f->pool));

    assert_int_equal(APR_SUCCESS,
                     md_jws_sign(&jws, payload, strlen(payload), extra, f->ec384, f->pool));
    hdr = b64_json(md_json_get_str(jws, "protected"), f->pool);
    assert_string_equal("ES384", md_json_get_str(hdr, "alg"));
    assert_true(jws_verifies(jws, f->ec384, "SHA384", P384_LEN, f->pool));
}

static void test_post_as_get_empty_payload(void **state)
{
    fixture_t *f = *state;
    md_json_t *extra = md_json_new_obj(f->pool), *jws, *hdr;

    md_json_set_str(extra, "url", "https://ca.example/acme/order/1");
    md_json_set_str(extra, "nonce", "nonce-3");
    md_json_set_str(extra, "kid", "https://ca.example/acme/acct/7");
    assert_int_equal(APR_SUCCESS, md_jws_sign(&jws, NULL, 0, extra, f->ec256, f->pool));
    assert_string_equal("", md_json_get_str(jws, "payload"));
    assert_true(jws_verifies(jws, f->ec256, "SHA256", P256_LEN, f->pool));

    assert_int_equal(APR_SUCCESS, md_jws_sign(&jws, "", 0, NULL, f->rsa, f->pool));
    assert_string_equal("", md_json_get_str(jws, "payload"));
    hdr = b64_json(md_json_get_str(jws, "protected"), f->pool);
    assert_string_equal("RSA", md_json_get_str(md_json_get(hdr, "jwk", f->pool), "kty"));
    assert_true(jws_verifies(jws, f->rsa, "SHA256", 0, f->pool));
}

static void test_hs256_rfc7515(void **state)
{
    fixture_t *f = *state;
    const char *input = apr_pstrcat(f->pool, rfc7515_hdr, ".", rfc7515_payload, NULL);
    const char *sig;
    unsigned char *key;
    apr_size_t key_len;

    key = b64_decode(&key_len, rfc7515_k, f->pool);
    assert_int_equal(APR_SUCCESS,
                     md_jws_hs256_sign_input(&sig, input, strlen(input), key, key_len, f->pool));
    assert_string_equal(rfc7515_sig, sig);
    assert_int_equal(APR_EINVAL,
                     md_jws_hs256_sign_input(&sig, input, strlen(input), key, 0, f->pool));
}

/* External account binding (RFC 8555 7.3.4): the account JWK, MACed with the CA's key. */
static void test_hmac_eab(void **state)
{
    fixture_t *f = *state;
    static const unsigned char mac_key[] = "0123456789abcdef0123456789abcdef";
    md_json_t *hdr = md_json_new_obj(f->pool), *jwk, *jws, *prot;
    const char *jwk_text, *input, *sig;
    unsigned char *payload;
    apr_size_t len;

    md_json_set_str(hdr, "kid", "eab-key-1");
    md_json_set_str(hdr, "url", "https://ca.example/acme/new-account");
    assert_int_equal(APR_SUCCESS, md_jwk_get(&jwk, f->ec256, f->pool));
    jwk_text = md_json_dump(jwk, 0, f->pool);
    assert_int_equal(APR_SUCCESS, md_jws_hmac(&jws, jwk_text, strlen(jwk_text), hdr, mac_key,
                                              sizeof(mac_key) - 1, f->pool));
    prot = b64_json(md_json_get_str(jws, "protected"), f->pool);
    assert_string_equal("HS256", md_json_get_str(prot, "alg"));
    assert_string_equal("eab-key-1", md_json_get_str(prot, "kid"));
    assert_false(md_json_has(prot, "jwk"));
    assert_false(md_json_has(prot, "nonce"));
    payload = b64_decode(&len, md_json_get_str(jws, "payload"), f->pool);
    assert_memory_equal(jwk_text, payload, len);

    /* an independent HMAC over what the JWS claims to sign */
    input = apr_pstrcat(f->pool, md_json_get_str(jws, "protected"), ".",
                        md_json_get_str(jws, "payload"), NULL);
    {
        unsigned char mac[MD_JWS_HS256_LEN];
        size_t mac_len = 0;
        assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, mac_key, sizeof(mac_key) - 1,
                                  (const unsigned char *) input, strlen(input), mac, sizeof(mac),
                                  &mac_len));
        sig = md_base64url_encode(mac, mac_len, f->pool);
    }
    assert_string_equal(sig, md_json_get_str(jws, "signature"));
}

/* Finds a P-256 key whose x or y has a leading zero byte: its JWK must still carry 32 bytes. */
static void test_ec_jwk_pads_coordinates(void **state)
{
    fixture_t *f = *state;
    unsigned char want[P256_LEN];
    unsigned char *x, *y;
    apr_size_t x_len, y_len;
    BIGNUM *bx = NULL, *by = NULL;
    md_pkey_t *key = NULL;
    apr_pool_t *p;
    md_json_t *jwk;
    const char *thumb, *canon;
    unsigned char digest[32];
    int i, short_x = 0, short_y = 0;

    apr_pool_create(&p, f->pool);
    for (i = 0; i < LEADING_ZERO_TRIES && !short_x && !short_y; ++i) {
        apr_pool_clear(p);
        BN_free(bx);
        BN_free(by);
        bx = by = NULL;
        key = gen_key("EC", "P-256", p);
        assert_non_null(key);
        assert_int_equal(1, EVP_PKEY_get_bn_param(md_pkey_evp(key), OSSL_PKEY_PARAM_EC_PUB_X, &bx));
        assert_int_equal(1, EVP_PKEY_get_bn_param(md_pkey_evp(key), OSSL_PKEY_PARAM_EC_PUB_Y, &by));
        short_x = BN_num_bytes(bx) < P256_LEN;
        short_y = BN_num_bytes(by) < P256_LEN;
    }
    assert_true(short_x || short_y);

    assert_int_equal(APR_SUCCESS, md_jwk_get(&jwk, key, p));
    assert_string_equal("EC", md_json_get_str(jwk, "kty"));
    assert_string_equal("P-256", md_json_get_str(jwk, "crv"));
    x = b64_decode(&x_len, md_json_get_str(jwk, "x"), p);
    y = b64_decode(&y_len, md_json_get_str(jwk, "y"), p);
    assert_int_equal(P256_LEN, x_len);
    assert_int_equal(P256_LEN, y_len);
    BN_bn2binpad(bx, want, P256_LEN);
    assert_memory_equal(want, x, P256_LEN);
    BN_bn2binpad(by, want, P256_LEN);
    assert_memory_equal(want, y, P256_LEN);
    if (short_x) {
        assert_int_equal(0, x[0]);
    } else {
        assert_int_equal(0, y[0]);
    }

    /* the thumbprint hashes the members in the order crv, kty, x, y */
    canon = apr_psprintf(p, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                         md_json_get_str(jwk, "x"), md_json_get_str(jwk, "y"));
    assert_int_equal(APR_SUCCESS, md_crypt_sha256(digest, canon, strlen(canon)));
    assert_int_equal(APR_SUCCESS, md_jwk_thumbprint(&thumb, key, p));
    assert_string_equal(md_base64url_encode(digest, sizeof(digest), p), thumb);
    BN_free(bx);
    BN_free(by);
    apr_pool_destroy(p);
}

static void test_unsupported_key(void **state)
{
    fixture_t *f = *state;
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    md_pkey_t *key;
    md_json_t *jws = NULL, *jwk = NULL;

    assert_non_null(ed);
    key = md_pkey_wrap(ed, f->pool);
    assert_int_equal(APR_ENOTIMPL, md_jwk_get(&jwk, key, f->pool));
    assert_null(jwk);
    assert_int_equal(APR_ENOTIMPL, md_jws_sign(&jws, "x", 1, NULL, key, f->pool));
    assert_null(jws);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thumbprint_rfc7638),
        cmocka_unit_test(test_rs256_verifies),
        cmocka_unit_test(test_es256_es384_verify),
        cmocka_unit_test(test_post_as_get_empty_payload),
        cmocka_unit_test(test_hs256_rfc7515),
        cmocka_unit_test(test_hmac_eab),
        cmocka_unit_test(test_ec_jwk_pads_coordinates),
        cmocka_unit_test(test_unsupported_key),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* test_crypt_rsa.c: unit tests of md_crypt_rsa.c -- generated RSA keys pass OpenSSL's full key
 * check (SP 800-56B: primality of p and q, n = pq, d, CRT values) and the FIPS 186-4 bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "md_crypt.h"
#include "md_crypt_int.h"

typedef struct {
    BIGNUM *n, *e, *d, *p, *q;
} rsa_view_t;

static void view_get(rsa_view_t *v, const EVP_PKEY *evp)
{
    assert_int_equal(EVP_PKEY_get_bn_param(evp, OSSL_PKEY_PARAM_RSA_N, &v->n), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(evp, OSSL_PKEY_PARAM_RSA_E, &v->e), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(evp, OSSL_PKEY_PARAM_RSA_D, &v->d), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(evp, OSSL_PKEY_PARAM_RSA_FACTOR1, &v->p), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(evp, OSSL_PKEY_PARAM_RSA_FACTOR2, &v->q), 1);
}

static void view_free(rsa_view_t *v)
{
    BN_free(v->n);
    BN_free(v->e);
    BN_clear_free(v->d);
    BN_clear_free(v->p);
    BN_clear_free(v->q);
}

/* One key of bits bits, checked as a CA and a TLS peer rely on. */
static void check_key(unsigned int bits)
{
    EVP_PKEY *evp = NULL;
    EVP_PKEY_CTX *ctx;
    BIGNUM *diff = BN_new();
    rsa_view_t v = {0};

    assert_int_equal(md_crypt_rsa_gen(&evp, bits), 1);
    assert_non_null(evp);
    assert_true(EVP_PKEY_is_a(evp, "RSA"));
    assert_int_equal(EVP_PKEY_get_bits(evp), (int) bits);

    /* OpenSSL's own validation of a key pair: p and q prime, n = pq, ed = 1 mod lcm, CRT. */
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, evp, NULL);
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_check(ctx), 1);
    EVP_PKEY_CTX_free(ctx);

    view_get(&v, evp);
    assert_true(BN_is_word(v.e, 65537));
    assert_int_equal(BN_num_bits(v.p) + BN_num_bits(v.q), (int) bits);
    /* FIPS 186-4 B.3.3: |p - q| > 2^(nlen/2 - 100); B.3.1: d > 2^(nlen/2) */
    assert_int_equal(BN_sub(diff, v.p, v.q), 1);
    BN_set_negative(diff, 0);
    assert_true(BN_num_bits(diff) > (int) bits / 2 - 100);
    assert_true(BN_num_bits(v.d) > (int) bits / 2);
    view_free(&v);
    BN_free(diff);
    EVP_PKEY_free(evp);
}

static void test_rsa2048_is_a_valid_key_pair(void **state)
{
    check_key(2048);
}

static void test_rsa3072_and_an_odd_size_are_valid(void **state)
{
    check_key(3072);
    check_key(2049);
}

static void test_two_keys_differ(void **state)
{
    EVP_PKEY *a = NULL, *b = NULL;

    assert_int_equal(md_crypt_rsa_gen(&a, 2048), 1);
    assert_int_equal(md_crypt_rsa_gen(&b, 2048), 1);
    assert_int_not_equal(EVP_PKEY_eq(a, b), 1);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
}

static void test_sizes_out_of_range_are_refused(void **state)
{
    EVP_PKEY *evp = (EVP_PKEY *) 1;

    assert_int_equal(md_crypt_rsa_gen(&evp, MD_PKEY_RSA_MAX_BITS + 1), 0);
    assert_null(evp);
    evp = (EVP_PKEY *) 1;
    assert_int_equal(md_crypt_rsa_gen(&evp, MD_PKEY_RSA_MIN_BITS - 1), 0);
    assert_null(evp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsa2048_is_a_valid_key_pair),
        cmocka_unit_test(test_rsa3072_and_an_odd_size_are_valid),
        cmocka_unit_test(test_two_keys_differ),
        cmocka_unit_test(test_sizes_out_of_range_are_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

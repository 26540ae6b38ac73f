/* unit_keys.c: keys the unit tests share -- builds the RFC 7638 example RSA key from its
 * published modulus and exponent. Linked into every unit test binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "md_util.h"
#include "unit_keys.h"

const char unit_rfc7638_n[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
    "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
    "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
    "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
const char unit_rfc7638_e[] = "AQAB";
const char unit_rfc7638_thumb[] = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

const md_pkey_spec_t unit_spec_p256 = {MD_PKEY_EC, 0, "secp256r1"};
const md_pkey_spec_t unit_spec_p384 = {MD_PKEY_EC, 0, "secp384r1"};

md_pkey_t *unit_rfc7638_key(apr_pool_t *p)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    unsigned char *n_bin, *e_bin;
    apr_size_t n_len, e_len;
    BIGNUM *n, *e;
    OSSL_PARAM *params;
    EVP_PKEY *pkey = NULL;

    assert_int_equal(APR_SUCCESS, md_base64url_decode(&n_bin, &n_len, unit_rfc7638_n, p));
    assert_int_equal(APR_SUCCESS, md_base64url_decode(&e_bin, &e_len, unit_rfc7638_e, p));
    n = BN_bin2bn(n_bin, (int) n_len, NULL);
    e = BN_bin2bn(e_bin, (int) e_len, NULL);
    assert_non_null(bld);
    assert_non_null(ctx);
    assert_int_equal(1, OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n));
    assert_int_equal(1, OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e));
    params = OSSL_PARAM_BLD_to_param(bld);
    assert_non_null(params);
    assert_int_equal(1, EVP_PKEY_fromdata_init(ctx));
    assert_int_equal(1, EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params));
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(e);
    return md_pkey_wrap(pkey, p);
}

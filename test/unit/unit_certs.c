/* unit_certs.c: certificates the unit tests make themselves, signed with the keys a test
 * chooses (roots, intermediates, leaves). Linked into every unit test binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "unit_certs.h"

/* How long the certificates are valid, from now. */
#define UNIT_CERT_VALID_SECONDS 3600
#define UNIT_CERT_SERIAL 4711

X509 *unit_cert_make(const char *cn, md_pkey_t *key, X509 *issuer, md_pkey_t *ikey, int is_ca)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    X509_EXTENSION *ext;
    X509V3_CTX ctx;

    assert_non_null(x);
    assert_non_null(name);
    if (cn) {
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1,
                                   0);
    }
    assert_true(X509_set_version(x, X509_VERSION_3));
    ASN1_INTEGER_set(X509_get_serialNumber(x), UNIT_CERT_SERIAL);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), UNIT_CERT_VALID_SECONDS);
    X509_set_pubkey(x, md_pkey_evp(key));
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
                              is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, md_pkey_evp(issuer ? ikey : key), EVP_sha256()) > 0);
    X509_NAME_free(name);
    return x;
}

apr_array_header_t *unit_chain_of(apr_pool_t *p, md_cert_t *a, md_cert_t *b, md_cert_t *c)
{
    apr_array_header_t *chain = apr_array_make(p, 3, sizeof(md_cert_t *));
    md_cert_t *certs[] = {a, b, c};

    for (int i = 0; i < 3 && certs[i]; ++i) {
        APR_ARRAY_PUSH(chain, md_cert_t *) = certs[i];
    }
    return chain;
}

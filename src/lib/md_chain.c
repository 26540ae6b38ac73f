/* md_chain.c: completing and choosing certificate chains, without the network: who issued
 * whom, the names a chain leads to (as certbot's --preferred-chain sees them), root dropping. */
#include <limits.h>
#include <string.h>

#include <apr_strings.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "md_chain.h"
#include "md_crypt.h"

int md_cert_issued_by(const md_cert_t *cert, const md_cert_t *issuer)
{
    X509 *x = md_cert_x509(cert), *ix = md_cert_x509(issuer);
    EVP_PKEY *ikey = X509_get0_pubkey(ix);
    int ok = ikey && X509_check_issued(ix, x) == X509_V_OK && X509_verify(x, ikey) == 1;

    ERR_clear_error();
    return ok;
}

static const char *name_cn(const X509_NAME *name, apr_pool_t *p)
{
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    const X509_NAME_ENTRY *entry;
    unsigned char *utf8 = NULL;
    const char *cn = NULL;
    int len;

    if (idx < 0 || !(entry = X509_NAME_get_entry(name, idx))) {
        return NULL;
    }
    len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    if (len >= 0) {
        cn = apr_pstrmemdup(p, (const char *) utf8, (apr_size_t) len);
    }
    OPENSSL_free(utf8);
    ERR_clear_error();
    return cn;
}

const char *md_cert_subject_cn(const md_cert_t *cert, apr_pool_t *p)
{
    return name_cn(X509_get_subject_name(md_cert_x509(cert)), p);
}

const char *md_cert_issuer_cn(const md_cert_t *cert, apr_pool_t *p)
{
    return name_cn(X509_get_issuer_name(md_cert_x509(cert)), p);
}

apr_status_t md_chain_from_pem_or_der(apr_array_header_t **pchain, const char **perr,
                                      const char *data, apr_size_t len, apr_pool_t *p)
{
    const unsigned char *der = (const unsigned char *) data;
    apr_array_header_t *chain;
    X509 *x509;

    *pchain = NULL;
    *perr = NULL;
    /* DER certificates are a SEQUENCE: they start with 0x30, PEM text never does */
    if (len == 0 || data[0] != 0x30) {
        return md_chain_from_pem(pchain, perr, data, len, p);
    }
    if (len > LONG_MAX) {
        *perr = "DER certificate too large";
        return APR_EINVAL;
    }
    x509 = d2i_X509(NULL, &der, (long) len);
    if (!x509 || der != (const unsigned char *) data + len) {
        X509_free(x509);
        *perr = apr_psprintf(p, "not a DER certificate: %s",
                             x509 ? "trailing data" : md_crypt_last_error(p));
        ERR_clear_error();
        return APR_EINVAL;
    }
    chain = apr_array_make(p, 1, sizeof(md_cert_t *));
    APR_ARRAY_PUSH(chain, md_cert_t *) = md_cert_wrap(x509, p);
    *pchain = chain;
    return APR_SUCCESS;
}

md_cert_t *md_chain_top(const apr_array_header_t *chain)
{
    return APR_ARRAY_IDX(chain, chain->nelts - 1, md_cert_t *);
}

int md_chain_drop_root(apr_array_header_t *chain)
{
    if (chain->nelts > 1 && md_cert_is_self_signed(md_chain_top(chain))) {
        apr_array_pop(chain);
        return 1;
    }
    return 0;
}

int md_chain_has_name(const apr_array_header_t *chain, const char *name, apr_pool_t *p)
{
    const md_cert_t *top;
    const char *cn;

    if (!chain || chain->nelts == 0 || !name) {
        return 0;
    }
    top = md_chain_top(chain);
    return ((cn = md_cert_issuer_cn(top, p)) && !strcmp(cn, name)) ||
           ((cn = md_cert_subject_cn(top, p)) && !strcmp(cn, name));
}

const char *md_chain_name(const apr_array_header_t *chain, apr_pool_t *p)
{
    const md_cert_t *top = md_chain_top(chain);
    const char *cn = md_cert_issuer_cn(top, p);

    return cn ? cn : md_cert_issuer(top, p);
}

int md_chain_pick(const apr_array_header_t *chains, const char *name, apr_pool_t *p)
{
    for (int i = 0; i < chains->nelts; ++i) {
        if (md_chain_has_name(APR_ARRAY_IDX(chains, i, const apr_array_header_t *), name, p)) {
            return i;
        }
    }
    return -1;
}

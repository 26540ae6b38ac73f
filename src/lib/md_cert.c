/* md_cert.c: X.509 certificates and chains (PEM, leaf first): names, validity, issuer, key
 * match, chain links; CSRs and self-signed fallback certificates. OpenSSL 3 only. */
#include <limits.h>
#include <string.h>
#include <time.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_cstr.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "md_cert.h"
#include "md_chain.h"
#include "md_crypt.h"
#include "md_crypt_int.h"
#include "md_log.h"
#include "md_util.h"

/* Certificates are public. */
#define MD_CERT_FILE_PERMS (APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD | APR_FPROT_WREAD)
/* X.520 upper bound of a commonName (RFC 5280 appendix A: ub-common-name). */
#define MD_CN_MAX_LEN 64
/* Serial numbers of our self-signed certificates: 128 random bits (CA/B BR want >= 64). */
#define MD_SERIAL_BYTES 16
/* Self-signed certificates start a day back, so a client with a slow clock accepts them. */
#define MD_SELF_SIGNED_BACKDATE_SEC (24 * 60 * 60)
#define MD_SECS_PER_DAY (24L * 60 * 60)
#define MD_PEM_CERT_NAME "CERTIFICATE"

struct md_cert_t {
    X509 *x509;
};

static apr_status_t cert_cleanup(void *data)
{
    md_cert_t *cert = data;

    X509_free(cert->x509);
    cert->x509 = NULL;
    return APR_SUCCESS;
}

md_cert_t *md_cert_wrap(X509 *x509, apr_pool_t *p)
{
    md_cert_t *cert = apr_pcalloc(p, sizeof(*cert));

    cert->x509 = x509;
    apr_pool_cleanup_register(p, cert, cert_cleanup, apr_pool_cleanup_null);
    return cert;
}

X509 *md_cert_x509(const md_cert_t *cert)
{
    return cert->x509;
}

static const char *bio_pstrdup(BIO *bio, apr_pool_t *p)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);

    return apr_pstrmemdup(p, data ? data : "", len > 0 ? (apr_size_t) len : 0);
}

static const char *hex_encode(const unsigned char *data, apr_size_t len, apr_pool_t *p)
{
    static const char digits[] = "0123456789abcdef";
    char *s = apr_palloc(p, 2 * len + 1);
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        s[2 * i] = digits[data[i] >> 4];
        s[2 * i + 1] = digits[data[i] & 0x0f];
    }
    s[2 * len] = '\0';
    return s;
}

/* ---- chains in PEM ---- */

apr_status_t md_chain_from_pem(apr_array_header_t **pchain, const char **perr, const char *pem,
                               apr_size_t len, apr_pool_t *p)
{
    apr_array_header_t *chain = apr_array_make(p, 3, sizeof(md_cert_t *));
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    const unsigned char *der;
    long dlen = 0;
    int blocks = 0;
    apr_status_t rv = APR_SUCCESS;
    X509 *x509;
    BIO *bio;

    *perr = NULL;
    if (len > INT_MAX || (bio = BIO_new_mem_buf(pem, (int) len)) == NULL) {
        *perr = "PEM text too large";
        return APR_EINVAL;
    }
    ERR_clear_error();
    while (PEM_read_bio(bio, &name, &header, &data, &dlen)) {
        ++blocks;
        if (!strcmp(name, MD_PEM_CERT_NAME)) {
            der = data;
            x509 = d2i_X509(NULL, &der, dlen);
            if (!x509 || der != data + dlen) {
                X509_free(x509);
                *perr = apr_psprintf(p, "certificate %d is broken: %s", chain->nelts + 1,
                                     x509 ? "trailing data" : md_crypt_last_error(p));
                rv = APR_EINVAL;
            } else {
                APR_ARRAY_PUSH(chain, md_cert_t *) = md_cert_wrap(x509, p);
            }
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        name = header = NULL;
        data = NULL;
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    /* The loop ends at the end of the text (no start line) or at a block it cannot read. */
    if (rv == APR_SUCCESS && ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
        *perr = apr_psprintf(p, "PEM block %d (after %d certificates) is unreadable: %s",
                             blocks + 1, chain->nelts, md_crypt_last_error(p));
        rv = APR_EINVAL;
    }
    ERR_clear_error();
    BIO_free(bio);
    if (rv == APR_SUCCESS && chain->nelts == 0) {
        *perr = "no certificate found";
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS) {
        *pchain = chain;
    }
    return rv;
}

apr_status_t md_chain_load(apr_array_header_t **pchain, const char **perr, const char *path,
                           apr_pool_t *p)
{
    apr_size_t len;
    apr_status_t rv;
    char *data;

    if ((rv = md_file_read(&data, &len, path, 0, p)) != APR_SUCCESS) {
        char buf[256];

        *perr = apr_psprintf(p, "%s: %s", path, apr_strerror(rv, buf, sizeof(buf)));
        return rv;
    }
    if ((rv = md_chain_from_pem(pchain, perr, data, len, p)) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "%s: %s", path, *perr);
    }
    return rv;
}

apr_status_t md_chain_to_pem(const char **ppem, const apr_array_header_t *chain, apr_pool_t *p)
{
    BIO *bio;
    int i, ok = 1;

    if ((bio = BIO_new(BIO_s_mem())) == NULL) {
        return APR_ENOMEM;
    }
    for (i = 0; ok && i < chain->nelts; ++i) {
        ok = PEM_write_bio_X509(bio, APR_ARRAY_IDX(chain, i, const md_cert_t *)->x509);
    }
    if (ok) {
        *ppem = bio_pstrdup(bio, p);
    } else {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL, "writing certificate %d as PEM: %s", i,
                      md_crypt_last_error(p));
    }
    BIO_free(bio);
    return ok ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t md_chain_save(const apr_array_header_t *chain, const char *path, apr_pool_t *p)
{
    const char *pem;
    apr_status_t rv;

    if ((rv = md_chain_to_pem(&pem, chain, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = md_file_write_atomic(path, pem, strlen(pem), MD_CERT_FILE_PERMS, p);
    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "saving certificates to %s", path);
    }
    return rv;
}

/* ---- names ---- */

static char *str_lower(const char *s, apr_size_t len, apr_pool_t *p)
{
    char *l = apr_pstrmemdup(p, s, len);
    char *c;

    for (c = l; *c; ++c) {
        *c = (char) apr_tolower(*c);
    }
    return l;
}

/* The text of one subjectAltName entry that can name an MD: a dNSName lower-cased, an
 * iPAddress in canonical text; NULL for other types, and for a name with an embedded NUL
 * (it would compare as a different one). */
static const char *san_text(const GENERAL_NAME *gn, apr_pool_t *p)
{
    const unsigned char *s;
    const char *ip;
    int n;

    if (gn->type == GEN_DNS) {
        s = ASN1_STRING_get0_data(gn->d.dNSName);
        n = ASN1_STRING_length(gn->d.dNSName);
        return n > 0 && memchr(s, '\0', (size_t) n) == NULL
                   ? str_lower((const char *) s, (size_t) n, p)
                   : NULL;
    }
    if (gn->type == GEN_IPADD) {
        n = ASN1_STRING_length(gn->d.iPAddress);
        return n > 0 && md_ip_from_bin(&ip, ASN1_STRING_get0_data(gn->d.iPAddress), (apr_size_t) n,
                                       p) == APR_SUCCESS
                   ? ip
                   : NULL;
    }
    return NULL;
}

apr_array_header_t *md_cert_names(const md_cert_t *cert, apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 5, sizeof(const char *));
    GENERAL_NAMES *gens;
    const char *name;
    int i;

    gens = X509_get_ext_d2i(cert->x509, NID_subject_alt_name, NULL, NULL);
    if (!gens) {
        ERR_clear_error();
        return names;
    }
    for (i = 0; i < sk_GENERAL_NAME_num(gens); ++i) {
        if ((name = san_text(sk_GENERAL_NAME_value(gens, i), p)) != NULL) {
            APR_ARRAY_PUSH(names, const char *) = name;
        }
    }
    GENERAL_NAMES_free(gens);
    return names;
}

int md_cert_names_equal(const md_cert_t *cert, const apr_array_header_t *names, apr_pool_t *p)
{
    apr_array_header_t *sans = md_cert_names(cert, p);
    int i;

    for (i = 0; i < names->nelts; ++i) {
        if (md_array_str_index(sans, APR_ARRAY_IDX(names, i, const char *), 0) < 0) {
            return 0;
        }
    }
    for (i = 0; i < sans->nelts; ++i) {
        if (md_array_str_index(names, APR_ARRAY_IDX(sans, i, const char *), 0) < 0) {
            return 0;
        }
    }
    return 1;
}

int md_cert_covers(const md_cert_t *cert, const apr_array_header_t *names, apr_pool_t *p)
{
    apr_array_header_t *sans = md_cert_names(cert, p);
    const char *name;
    int i, j, covered;

    for (i = 0; i < names->nelts; ++i) {
        name = APR_ARRAY_IDX(names, i, const char *);
        name = str_lower(name, strlen(name), p);
        covered = 0;
        for (j = 0; !covered && j < sans->nelts; ++j) {
            covered = md_dns_matches(APR_ARRAY_IDX(sans, j, const char *), name);
        }
        if (!covered) {
            return 0;
        }
    }
    return 1;
}

/* ---- inspection ---- */

static apr_time_t asn1_time_to_apr(const ASN1_TIME *t)
{
    struct tm tm;
    time_t secs;

    memset(&tm, 0, sizeof(tm));
    if (!t || !ASN1_TIME_to_tm(t, &tm)) {
        ERR_clear_error();
        return 0;
    }
    secs = timegm(&tm);
    return apr_time_from_sec(secs);
}

apr_time_t md_cert_not_before(const md_cert_t *cert)
{
    return asn1_time_to_apr(X509_get0_notBefore(cert->x509));
}

apr_time_t md_cert_not_after(const md_cert_t *cert)
{
    return asn1_time_to_apr(X509_get0_notAfter(cert->x509));
}

static const char *name_oneline(const X509_NAME *name, apr_pool_t *p)
{
    const char *s = "";
    BIO *bio;

    if ((bio = BIO_new(BIO_s_mem())) == NULL) {
        return s;
    }
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        s = bio_pstrdup(bio, p);
    }
    BIO_free(bio);
    return s;
}

const char *md_cert_subject(const md_cert_t *cert, apr_pool_t *p)
{
    return name_oneline(X509_get_subject_name(cert->x509), p);
}

const char *md_cert_issuer(const md_cert_t *cert, apr_pool_t *p)
{
    return name_oneline(X509_get_issuer_name(cert->x509), p);
}

apr_status_t md_cert_ari_id(const char **pid, const md_cert_t *cert, apr_pool_t *p)
{
    const ASN1_OCTET_STRING *keyid = X509_get0_authority_key_id(cert->x509);
    unsigned char *der = NULL;
    int len, off;

    *pid = NULL;
    if (!keyid || ASN1_STRING_length(keyid) <= 0) {
        return APR_ENOENT;
    }
    /* the serial's DER without tag and length: its content octets, sign byte included */
    len = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert->x509), &der);
    off = len > 2 ? 2 + ((der[1] & 0x80) ? (der[1] & 0x7f) : 0) : len;
    if (len <= 2 || off >= len) {
        OPENSSL_free(der);
        return APR_EINVAL;
    }
    *pid = apr_pstrcat(p,
                       md_base64url_encode(ASN1_STRING_get0_data(keyid),
                                           (apr_size_t) ASN1_STRING_length(keyid), p),
                       ".", md_base64url_encode(der + off, (apr_size_t) (len - off), p), NULL);
    OPENSSL_free(der);
    return APR_SUCCESS;
}

const char *md_cert_serial_hex(const md_cert_t *cert, apr_pool_t *p)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert->x509), NULL);
    const char *s = "";
    char *hex;

    if (bn && (hex = BN_bn2hex(bn)) != NULL) {
        s = apr_pstrdup(p, hex);
        OPENSSL_free(hex);
    }
    BN_free(bn);
    return s;
}

const char *md_cert_fingerprint(const md_cert_t *cert, apr_pool_t *p)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (!X509_digest(cert->x509, EVP_sha256(), md, &n)) {
        ERR_clear_error();
        return "";
    }
    return hex_encode(md, n, p);
}

int md_cert_is_self_signed(const md_cert_t *cert)
{
    int rc = X509_self_signed(cert->x509, 1);

    ERR_clear_error();
    return rc == 1;
}

int md_cert_matches_key(const md_cert_t *cert, const md_pkey_t *key)
{
    EVP_PKEY *pub = X509_get0_pubkey(cert->x509);
    int rc = pub ? EVP_PKEY_eq(pub, md_pkey_evp(key)) : 0;

    ERR_clear_error();
    return rc == 1;
}

apr_status_t md_chain_check_links(const char **perr, const apr_array_header_t *chain, apr_pool_t *p)
{
    const md_cert_t *cert, *issuer;
    int i;

    *perr = NULL;
    if (chain->nelts == 0) {
        *perr = "the chain is empty";
        return APR_EINVAL;
    }
    for (i = 0; i + 1 < chain->nelts; ++i) {
        cert = APR_ARRAY_IDX(chain, i, const md_cert_t *);
        issuer = APR_ARRAY_IDX(chain, i + 1, const md_cert_t *);
        if (!md_cert_issued_by(cert, issuer)) {
            *perr =
                apr_psprintf(p, "certificate %d (%s) is not issued by certificate %d (%s)", i + 1,
                             md_cert_subject(cert, p), i + 2, md_cert_subject(issuer, p));
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

/* ---- CSR and self-signed ---- */

/* One subjectAltName entry: an iPAddress for an address (RFC 8738 7), else a dNSName. */
static GENERAL_NAME *san_entry(const char *name)
{
    unsigned char bin[MD_IP_BIN_MAX];
    apr_size_t len;
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_STRING *value = NULL;
    int is_ip = md_ip_to_bin(bin, &len, name) == APR_SUCCESS;

    value = is_ip ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
    if (!gn || !value ||
        !(is_ip ? ASN1_STRING_set(value, bin, (int) len)
                : ASN1_STRING_set(value, name, (int) strlen(name)))) {
        GENERAL_NAME_free(gn);
        ASN1_STRING_free(value);
        return NULL;
    }
    GENERAL_NAME_set0_value(gn, is_ip ? GEN_IPADD : GEN_DNS, value);
    return gn;
}

GENERAL_NAMES *md_cert_san_make(const apr_array_header_t *names)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gn;
    int i;

    for (i = 0; gens && i < names->nelts; ++i) {
        if (!(gn = san_entry(APR_ARRAY_IDX(names, i, const char *)))) {
            GENERAL_NAMES_free(gens);
            return NULL;
        }
        if (!sk_GENERAL_NAME_push(gens, gn)) {
            GENERAL_NAME_free(gn);
            GENERAL_NAMES_free(gens);
            return NULL;
        }
    }
    return gens;
}

/* A name with CN=cn, or an empty one when cn is missing or too long for a CN. */
static X509_NAME *name_with_cn(const char *cn)
{
    X509_NAME *name = X509_NAME_new();

    if (name && cn && strlen(cn) <= MD_CN_MAX_LEN &&
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1,
                                    0)) {
        X509_NAME_free(name);
        return NULL;
    }
    return name;
}

static const char *first_name(const apr_array_header_t *names)
{
    return names->nelts > 0 ? APR_ARRAY_IDX(names, 0, const char *) : NULL;
}

/* The CN of a CSR: its first domain name. Addresses stay in the SAN only: CAs take the CN
 * for a domain name, and an MD of addresses alone asks with an empty subject. */
static const char *csr_cn(const apr_array_header_t *names)
{
    for (int i = 0; i < names->nelts; ++i) {
        if (!md_ip_is_addr(APR_ARRAY_IDX(names, i, const char *))) {
            return APR_ARRAY_IDX(names, i, const char *);
        }
    }
    return NULL;
}

/* RFC 7633's TLS Feature extension asking for status_request: OCSP Must-Staple. */
static int must_staple_add(STACK_OF(X509_EXTENSION) * *pexts)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_tlsfeature, "status_request");
    int ok = ext && X509v3_add_ext(pexts, ext, -1) != NULL;

    X509_EXTENSION_free(ext);
    return ok;
}

apr_status_t md_csr_create(unsigned char **pder, apr_size_t *plen, const apr_array_header_t *names,
                           const md_pkey_t *key, int must_staple, apr_pool_t *p)
{
    STACK_OF(X509_EXTENSION) *exts = NULL;
    GENERAL_NAMES *gens = NULL;
    X509_NAME *subject = NULL;
    unsigned char *der, *out;
    X509_REQ *req;
    int ok, len = 0;

    if (names->nelts == 0) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "CSR without any name");
        return APR_EINVAL;
    }
    req = X509_REQ_new();
    subject = name_with_cn(csr_cn(names));
    gens = md_cert_san_make(names);
    ok = req && subject && gens && X509_REQ_set_version(req, X509_REQ_VERSION_1) &&
         X509_REQ_set_subject_name(req, subject) &&
         X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1 &&
         (!must_staple || must_staple_add(&exts)) && X509_REQ_add_extensions(req, exts) &&
         X509_REQ_set_pubkey(req, md_pkey_evp(key)) &&
         X509_REQ_sign(req, md_pkey_evp(key), EVP_sha256()) > 0 &&
         (len = i2d_X509_REQ(req, NULL)) > 0;
    if (ok) {
        der = out = apr_palloc(p, (apr_size_t) len);
        ok = i2d_X509_REQ(req, &out) == len;
    }
    if (ok) {
        *pder = der;
        *plen = (apr_size_t) len;
    } else {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL, "creating a CSR for %s failed: %s",
                      first_name(names), md_crypt_last_error(p));
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(gens);
    X509_NAME_free(subject);
    X509_REQ_free(req);
    return ok ? APR_SUCCESS : APR_EGENERAL;
}

/* A positive random serial of MD_SERIAL_BYTES. */
static int serial_set_random(X509 *x509)
{
    unsigned char buf[MD_SERIAL_BYTES];
    BIGNUM *bn;
    int ok;

    if (md_crypt_random(buf, sizeof(buf)) != APR_SUCCESS) {
        return 0;
    }
    buf[0] &= 0x7f; /* DER INTEGER: top bit clear keeps it positive in 16 bytes */
    buf[0] |= 0x01; /* and never zero */
    bn = BN_bin2bn(buf, sizeof(buf), NULL);
    ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x509)) != NULL;
    BN_free(bn);
    return ok;
}

static int ext_add_conf(X509 *x509, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok = ext && X509_add_ext(x509, ext, -1);

    X509_EXTENSION_free(ext);
    return ok;
}

apr_status_t md_cert_self_signed(md_cert_t **pcert, const char *cn, const apr_array_header_t *names,
                                 const md_pkey_t *key, apr_interval_time_t valid_for, apr_pool_t *p)
{
    EVP_PKEY *evp = md_pkey_evp(key);
    const char *usage = EVP_PKEY_is_a(evp, "RSA") ? "critical,digitalSignature,keyEncipherment"
                                                  : "critical,digitalSignature";
    apr_time_t secs = apr_time_sec(valid_for);
    X509_NAME *name;
    GENERAL_NAMES *gens;
    X509V3_CTX ctx;
    X509 *x509;
    int ok;

    if (names->nelts == 0) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "self-signed certificate without names");
        return APR_EINVAL;
    }
    if (!cn) {
        cn = first_name(names);
    }
    x509 = X509_new();
    name = name_with_cn(cn);
    gens = md_cert_san_make(names);
    ok = x509 && name && gens && X509_set_version(x509, X509_VERSION_3) &&
         serial_set_random(x509) && X509_set_subject_name(x509, name) &&
         X509_set_issuer_name(x509, name) &&
         X509_gmtime_adj(X509_getm_notBefore(x509), -MD_SELF_SIGNED_BACKDATE_SEC) &&
         X509_time_adj_ex(X509_getm_notAfter(x509), (int) (secs / MD_SECS_PER_DAY),
                          (long) (secs % MD_SECS_PER_DAY), NULL) &&
         X509_set_pubkey(x509, evp);
    if (ok) {
        X509V3_set_ctx(&ctx, x509, x509, NULL, NULL, 0);
        /* Without a subject the SAN must be critical (RFC 5280 4.2.1.6). */
        ok = ext_add_conf(x509, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
             ext_add_conf(x509, &ctx, NID_key_usage, usage) &&
             ext_add_conf(x509, &ctx, NID_ext_key_usage, "serverAuth") &&
             X509_add1_ext_i2d(x509, NID_subject_alt_name, gens, X509_NAME_entry_count(name) == 0,
                               X509V3_ADD_DEFAULT) == 1 &&
             X509_sign(x509, evp, EVP_sha256()) > 0;
    }
    GENERAL_NAMES_free(gens);
    X509_NAME_free(name);
    if (!ok) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL,
                      "creating a self-signed certificate for %s failed: %s", cn ? cn : "(no name)",
                      md_crypt_last_error(p));
        X509_free(x509);
        return APR_EGENERAL;
    }
    *pcert = md_cert_wrap(x509, p);
    return APR_SUCCESS;
}

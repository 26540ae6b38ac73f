/* md_jws.c: public JWKs, RFC 7638 thumbprints and flattened JWS signing (RS256, ES256/384/512,
 * HS256) for ACME requests. OpenSSL 3 EVP and OSSL_PARAM only; no deprecated key access. */
#include <string.h>

#include <apr_strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "md_jws.h"
#include "md_log.h"
#include "md_util.h"

/* Longest OpenSSL group name we expect ("secp521r1", "prime256v1") with room to spare. */
#define JWS_GROUP_NAME_MAX 64
/* Room for OpenSSL's error text in log messages. */
#define JWS_ERR_TEXT_MAX 256

/* The EC curves JWS knows (RFC 7518 sections 3.4 and 6.2.1.1). field_len is the size of a
 * coordinate and of each half of the raw R||S signature. */
typedef struct {
    const char *group;       /* OpenSSL's name */
    const char *group_alias; /* another name OpenSSL may report */
    const char *crv;         /* JWK "crv" */
    const char *alg;         /* JWS "alg" */
    const char *digest;
    apr_size_t field_len;
} jws_curve_t;

static const jws_curve_t jws_curves[] = {
    {"prime256v1", "secp256r1", "P-256", "ES256", "SHA256", 32},
    {"secp384r1", "P-384", "P-384", "ES384", "SHA384", 48},
    {"secp521r1", "P-521", "P-521", "ES512", "SHA512", 66},
};

#define JWS_RSA_ALG "RS256"
#define JWS_RSA_DIGEST "SHA256"
#define JWS_HMAC_ALG "HS256"
#define JWS_HMAC_DIGEST "SHA256"

/* Logs what failed with the text of OpenSSL's most recent error and clears its queue. */
static apr_status_t jws_ossl_fail(const char *what)
{
    char text[JWS_ERR_TEXT_MAX];
    unsigned long e = ERR_peek_last_error();

    if (e) {
        ERR_error_string_n(e, text, sizeof(text));
    } else {
        apr_cpystrn(text, "no details", sizeof(text));
    }
    ERR_clear_error();
    md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL, "jws: %s failed: %s", what, text);
    return APR_EGENERAL;
}

/* The curve of an EC key, or NULL (logged) when it is not one JWS defines. */
static const jws_curve_t *jws_curve_of(EVP_PKEY *pkey)
{
    char name[JWS_GROUP_NAME_MAX];
    size_t len = 0;
    size_t i;

    if (!EVP_PKEY_get_group_name(pkey, name, sizeof(name), &len)) {
        jws_ossl_fail("reading the curve of an EC key");
        return NULL;
    }
    for (i = 0; i < sizeof(jws_curves) / sizeof(jws_curves[0]); ++i) {
        if (!strcmp(name, jws_curves[i].group) || !strcmp(name, jws_curves[i].group_alias)) {
            return &jws_curves[i];
        }
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_ENOTIMPL,
                  "jws: EC curve %s has no JWS algorithm (P-256, P-384, P-521 do)", name);
    return NULL;
}

static apr_status_t jws_key_evp(EVP_PKEY **ppkey, const md_pkey_t *key)
{
    *ppkey = key ? md_pkey_evp(key) : NULL;
    if (!*ppkey) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "jws: no key given");
        return APR_EINVAL;
    }
    if (EVP_PKEY_is_a(*ppkey, "RSA") || EVP_PKEY_is_a(*ppkey, "EC")) {
        return APR_SUCCESS;
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_ENOTIMPL,
                  "jws: key type %s is not supported (RSA and EC are)",
                  EVP_PKEY_get0_type_name(*ppkey));
    return APR_ENOTIMPL;
}

/* base64url of a BIGNUM param, big-endian, left-padded with zeros to pad_len bytes
 * (pad_len 0: minimal length, no leading zeros). */
static apr_status_t jws_bn_param_b64(const char **pb64, EVP_PKEY *pkey, const char *param,
                                     apr_size_t pad_len, apr_pool_t *p)
{
    BIGNUM *bn = NULL;
    unsigned char *buf;
    int len;

    *pb64 = NULL;
    if (!EVP_PKEY_get_bn_param(pkey, param, &bn)) {
        return jws_ossl_fail(apr_psprintf(p, "reading key parameter %s", param));
    }
    len = pad_len ? (int) pad_len : BN_num_bytes(bn);
    buf = apr_palloc(p, len > 0 ? (apr_size_t) len : 1);
    if (BN_bn2binpad(bn, buf, len) < 0) {
        BN_free(bn);
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL,
                      "jws: key parameter %s does not fit into %d bytes", param, len);
        return APR_EGENERAL;
    }
    BN_free(bn);
    *pb64 = md_base64url_encode(buf, (apr_size_t) len, p);
    return *pb64 ? APR_SUCCESS : APR_ENOMEM;
}

apr_status_t md_jwk_get(md_json_t **pjwk, const md_pkey_t *key, apr_pool_t *p)
{
    const jws_curve_t *curve;
    const char *a, *b;
    EVP_PKEY *pkey;
    md_json_t *jwk;
    apr_status_t rv;

    *pjwk = NULL;
    if ((rv = jws_key_evp(&pkey, key)) != APR_SUCCESS) {
        return rv;
    }
    jwk = md_json_new_obj(p);
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        if ((rv = jws_bn_param_b64(&a, pkey, OSSL_PKEY_PARAM_RSA_E, 0, p)) != APR_SUCCESS ||
            (rv = jws_bn_param_b64(&b, pkey, OSSL_PKEY_PARAM_RSA_N, 0, p)) != APR_SUCCESS) {
            return rv;
        }
        md_json_set_str(jwk, "e", a);
        md_json_set_str(jwk, "kty", "RSA");
        md_json_set_str(jwk, "n", b);
    } else {
        if (!(curve = jws_curve_of(pkey))) {
            return APR_ENOTIMPL;
        }
        if ((rv = jws_bn_param_b64(&a, pkey, OSSL_PKEY_PARAM_EC_PUB_X, curve->field_len, p)) !=
                APR_SUCCESS ||
            (rv = jws_bn_param_b64(&b, pkey, OSSL_PKEY_PARAM_EC_PUB_Y, curve->field_len, p)) !=
                APR_SUCCESS) {
            return rv;
        }
        md_json_set_str(jwk, "crv", curve->crv);
        md_json_set_str(jwk, "kty", "EC");
        md_json_set_str(jwk, "x", a);
        md_json_set_str(jwk, "y", b);
    }
    *pjwk = jwk;
    return APR_SUCCESS;
}

apr_status_t md_jwk_thumbprint(const char **pthumb, const md_pkey_t *key, apr_pool_t *p)
{
    unsigned char digest[32];
    const char *canon;
    md_json_t *jwk;
    apr_status_t rv;

    *pthumb = NULL;
    if ((rv = md_jwk_get(&jwk, key, p)) != APR_SUCCESS) {
        return rv;
    }
    /* RFC 7638 section 3.2: only the required members, sorted, no whitespace. Every value
     * is base64url or a fixed name, so none needs JSON escaping and we can print directly
     * instead of relying on a serialiser's spacing and ordering. */
    if (EVP_PKEY_is_a(md_pkey_evp(key), "RSA")) {
        canon = apr_psprintf(p, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}",
                             md_json_get_str(jwk, "e"), md_json_get_str(jwk, "n"));
    } else {
        canon = apr_psprintf(p, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                             md_json_get_str(jwk, "crv"), md_json_get_str(jwk, "x"),
                             md_json_get_str(jwk, "y"));
    }
    if ((rv = md_crypt_sha256(digest, canon, strlen(canon))) != APR_SUCCESS) {
        return rv;
    }
    *pthumb = md_base64url_encode(digest, sizeof(digest), p);
    return *pthumb ? APR_SUCCESS : APR_ENOMEM;
}

apr_status_t md_jws_alg(const char **palg, const md_pkey_t *key)
{
    const jws_curve_t *curve;
    EVP_PKEY *pkey;
    apr_status_t rv;

    *palg = NULL;
    if ((rv = jws_key_evp(&pkey, key)) != APR_SUCCESS) {
        return rv;
    }
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        *palg = JWS_RSA_ALG;
        return APR_SUCCESS;
    }
    if (!(curve = jws_curve_of(pkey))) {
        return APR_ENOTIMPL;
    }
    *palg = curve->alg;
    return APR_SUCCESS;
}

/* A DER ECDSA-Sig-Value as the fixed-width R||S that JWS wants (RFC 7518 section 3.4). */
static apr_status_t jws_ecdsa_der_to_raw(unsigned char **praw, const unsigned char *der,
                                         apr_size_t der_len, apr_size_t field_len, apr_pool_t *p)
{
    const unsigned char *q = der;
    const BIGNUM *r, *s;
    unsigned char *raw;
    ECDSA_SIG *sig;
    int ok;

    if (!(sig = d2i_ECDSA_SIG(NULL, &q, (long) der_len))) {
        return jws_ossl_fail("decoding an ECDSA signature");
    }
    ECDSA_SIG_get0(sig, &r, &s);
    raw = apr_palloc(p, 2 * field_len);
    ok = BN_bn2binpad(r, raw, (int) field_len) >= 0 &&
         BN_bn2binpad(s, raw + field_len, (int) field_len) >= 0;
    ECDSA_SIG_free(sig);
    if (!ok) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL,
                      "jws: ECDSA signature wider than the curve's %d bytes", (int) field_len);
        return APR_EGENERAL;
    }
    *praw = raw;
    return APR_SUCCESS;
}

/* The signature of data with pkey: PKCS#1 v1.5 for RSA, raw R||S for EC. */
static apr_status_t jws_sign_data(unsigned char **psig, apr_size_t *plen, EVP_PKEY *pkey,
                                  const char *data, apr_size_t len, apr_pool_t *p)
{
    const jws_curve_t *curve = NULL;
    const char *digest = JWS_RSA_DIGEST;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    EVP_MD_CTX *ctx;
    apr_status_t rv = APR_SUCCESS;

    if (EVP_PKEY_is_a(pkey, "EC")) {
        if (!(curve = jws_curve_of(pkey))) {
            return APR_ENOTIMPL;
        }
        digest = curve->digest;
    }
    if (!(ctx = EVP_MD_CTX_new())) {
        return APR_ENOMEM;
    }
    if (EVP_DigestSignInit_ex(ctx, NULL, digest, NULL, NULL, pkey, NULL) != 1 ||
        EVP_DigestSign(ctx, NULL, &sig_len, (const unsigned char *) data, len) != 1) {
        rv = jws_ossl_fail("preparing a signature");
        goto leave;
    }
    sig = apr_palloc(p, sig_len);
    if (EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *) data, len) != 1) {
        rv = jws_ossl_fail("signing");
        goto leave;
    }
    if (curve) {
        rv = jws_ecdsa_der_to_raw(psig, sig, sig_len, curve->field_len, p);
        *plen = 2 * curve->field_len;
    } else {
        *psig = sig;
        *plen = sig_len;
    }
leave:
    EVP_MD_CTX_free(ctx);
    return rv;
}

/* What a JWS signs: the base64url parts and "<protected>.<payload>". */
typedef struct {
    const char *protected64;
    const char *payload64;
    const char *input;
} jws_parts_t;

static apr_status_t jws_parts_make(jws_parts_t *parts, const md_json_t *hdr, const char *payload,
                                   apr_size_t len, apr_pool_t *p)
{
    const char *hdr_text = md_json_dump(hdr, 0, p);

    if (!hdr_text) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL, "jws: protected header not printable");
        return APR_EGENERAL;
    }
    parts->protected64 = md_base64url_encode(hdr_text, strlen(hdr_text), p);
    /* an empty payload is the empty string, as POST-as-GET needs (RFC 8555 6.3) */
    parts->payload64 = (payload && len) ? md_base64url_encode(payload, len, p) : "";
    if (!parts->protected64 || !parts->payload64) {
        return APR_ENOMEM;
    }
    parts->input = apr_pstrcat(p, parts->protected64, ".", parts->payload64, NULL);
    return APR_SUCCESS;
}

static md_json_t *jws_assemble(const jws_parts_t *parts, const char *sig64, apr_pool_t *p)
{
    md_json_t *jws = md_json_new_obj(p);

    md_json_set_str(jws, "protected", parts->protected64);
    md_json_set_str(jws, "payload", parts->payload64);
    md_json_set_str(jws, "signature", sig64);
    return jws;
}

static md_json_t *jws_header_start(const md_json_t *extra, const char *alg, apr_pool_t *p)
{
    md_json_t *hdr = extra ? md_json_copy(extra, p) : md_json_new_obj(p);

    md_json_set_str(hdr, "alg", alg);
    return hdr;
}

apr_status_t md_jws_sign(md_json_t **pjws, const char *payload, apr_size_t len,
                         const md_json_t *protected_extra, const md_pkey_t *key, apr_pool_t *p)
{
    md_json_t *hdr, *jwk;
    unsigned char *sig = NULL;
    apr_size_t sig_len = 0;
    jws_parts_t parts;
    const char *alg, *sig64;
    EVP_PKEY *pkey;
    apr_status_t rv;

    *pjws = NULL;
    if ((rv = md_jws_alg(&alg, key)) != APR_SUCCESS) {
        return rv;
    }
    pkey = md_pkey_evp(key);
    hdr = jws_header_start(protected_extra, alg, p);
    /* RFC 8555 6.2: exactly one of "jwk" (new account, revocation by key) and "kid" */
    if (!md_json_has(hdr, "kid") && !md_json_has(hdr, "jwk")) {
        if ((rv = md_jwk_get(&jwk, key, p)) != APR_SUCCESS) {
            return rv;
        }
        md_json_set(hdr, "jwk", jwk);
    }
    if ((rv = jws_parts_make(&parts, hdr, payload, len, p)) != APR_SUCCESS ||
        (rv = jws_sign_data(&sig, &sig_len, pkey, parts.input, strlen(parts.input), p)) !=
            APR_SUCCESS) {
        return rv;
    }
    if (!(sig64 = md_base64url_encode(sig, sig_len, p))) {
        return APR_ENOMEM;
    }
    *pjws = jws_assemble(&parts, sig64, p);
    return APR_SUCCESS;
}

apr_status_t md_jws_hs256_sign_input(const char **psig, const char *input, apr_size_t len,
                                     const unsigned char *mac_key, apr_size_t mac_len,
                                     apr_pool_t *p)
{
    unsigned char mac[MD_JWS_HS256_LEN];
    size_t mac_out = 0;

    *psig = NULL;
    if (!mac_key || !mac_len) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "jws: HS256 needs a non-empty key");
        return APR_EINVAL;
    }
    if (!EVP_Q_mac(NULL, "HMAC", NULL, JWS_HMAC_DIGEST, NULL, mac_key, mac_len,
                   (const unsigned char *) input, len, mac, sizeof(mac), &mac_out)) {
        return jws_ossl_fail("computing HMAC-SHA256");
    }
    *psig = md_base64url_encode(mac, mac_out, p);
    return *psig ? APR_SUCCESS : APR_ENOMEM;
}

apr_status_t md_jws_hmac(md_json_t **pjws, const char *payload, apr_size_t len,
                         const md_json_t *protected_hdr, const unsigned char *mac_key,
                         apr_size_t mac_len, apr_pool_t *p)
{
    jws_parts_t parts;
    const char *sig64;
    apr_status_t rv;

    *pjws = NULL;
    if ((rv = jws_parts_make(&parts, jws_header_start(protected_hdr, JWS_HMAC_ALG, p), payload, len,
                             p)) != APR_SUCCESS ||
        (rv = md_jws_hs256_sign_input(&sig64, parts.input, strlen(parts.input), mac_key, mac_len,
                                      p)) != APR_SUCCESS) {
        return rv;
    }
    *pjws = jws_assemble(&parts, sig64, p);
    return APR_SUCCESS;
}

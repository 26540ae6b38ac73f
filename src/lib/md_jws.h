/* md_jws.h: JSON Web Keys and JSON Web Signatures as ACME uses them (RFC 7515, 7517, 7518,
 * 7638; RFC 8555 section 6.2): public JWK, its thumbprint, RS256/ES256/ES384 and HS256. */
#ifndef MD_JWS_H
#define MD_JWS_H

#include <apr_pools.h>

#include "md_json.h"
#include "md_crypt.h"

/* Output size of HMAC-SHA256 (RFC 7518 section 3.2). */
#define MD_JWS_HS256_LEN 32

/* The public JWK of a key (RFC 7517/7518 section 6), members in lexicographic order:
 * RSA {"e","kty":"RSA","n"}: big-endian without leading zero bytes, base64url;
 * EC {"crv":"P-256"|"P-384"|"P-521","kty":"EC","x","y"}: coordinates padded to the field
 * size. APR_ENOTIMPL for other key types or curves (logged). */
apr_status_t md_jwk_get(md_json_t **pjwk, const md_pkey_t *key, apr_pool_t *p);

/* RFC 7638 thumbprint: base64url of SHA-256 over the key's required JWK members in
 * lexicographic order without whitespace. This is what key authorizations of ACME
 * challenges use (RFC 8555 section 8.1). */
apr_status_t md_jwk_thumbprint(const char **pthumb, const md_pkey_t *key, apr_pool_t *p);

/* The JWS "alg" for signing with key: "RS256" (RSA), "ES256" (P-256), "ES384" (P-384),
 * "ES512" (P-521). APR_ENOTIMPL for anything else. */
apr_status_t md_jws_alg(const char **palg, const md_pkey_t *key);

/* Signs payload (len bytes; NULL or len 0 is the empty payload of a POST-as-GET) as a
 * flattened JWS {"protected","payload","signature"} (RFC 7515 section 7.2.2).
 * The protected header is a copy of protected_extra (ACME: "url", "nonce" and "kid" or
 * "jwk"; may be NULL) plus "alg" for the key; when it names neither "kid" nor "jwk", the
 * key's public JWK is added as "jwk" (RFC 8555 section 6.2). ECDSA signatures are the raw
 * fixed-width R||S of RFC 7518 section 3.4, not DER. */
apr_status_t md_jws_sign(md_json_t **pjws, const char *payload, apr_size_t len,
                         const md_json_t *protected_extra, const md_pkey_t *key, apr_pool_t *p);

/* Like md_jws_sign with HMAC-SHA256 ("alg":"HS256") under mac_key: the external account
 * binding of RFC 8555 section 7.3.4 (protected_hdr has "kid" = the EAB key id and "url";
 * payload is the account's JWK). No "jwk" is added. APR_EINVAL for an empty key. */
apr_status_t md_jws_hmac(md_json_t **pjws, const char *payload, apr_size_t len,
                         const md_json_t *protected_hdr, const unsigned char *mac_key,
                         apr_size_t mac_len, apr_pool_t *p);

/* The base64url HS256 signature of a ready JWS signing input ("<b64 header>.<b64 payload>",
 * len bytes). md_jws_hmac uses it; exposed so a test can check it against RFC 7515 A.1. */
apr_status_t md_jws_hs256_sign_input(const char **psig, const char *input, apr_size_t len,
                                     const unsigned char *mac_key, apr_size_t mac_len,
                                     apr_pool_t *p);

#endif

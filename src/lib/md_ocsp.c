/* md_ocsp.c: OCSP requests and responses with OpenSSL's OCSP API (RFC 6960), the renewal
 * time of a response, and its JSON file in the store's ocsp/ group. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* timegm */
#endif
#include <string.h>
#include <time.h>

#include <apr_strings.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "md_crypt.h"
#include "md_log.h"
#include "md_ocsp.h"

/* A fresh nonce per request (RFC 8954 asks for 1..32 octets). */
#define MD_OCSP_NONCE_LEN 16

#define MD_OCSP_KEY_RESPONSE "response"
#define MD_OCSP_KEY_STATUS "status"
#define MD_OCSP_KEY_VALID "valid"
#define MD_OCSP_KEY_FROM "from"
#define MD_OCSP_KEY_UNTIL "until"

const char *md_ocsp_status_name(md_ocsp_status_t status)
{
    switch (status) {
    case MD_OCSP_GOOD:
        return "good";
    case MD_OCSP_REVOKED:
        return "revoked";
    default:
        return "unknown";
    }
}

static apr_status_t status_parse(md_ocsp_status_t *pstatus, const char *s)
{
    for (int i = MD_OCSP_GOOD; i <= MD_OCSP_UNKNOWN; ++i) {
        if (s && !strcmp(s, md_ocsp_status_name((md_ocsp_status_t) i))) {
            *pstatus = (md_ocsp_status_t) i;
            return APR_SUCCESS;
        }
    }
    return APR_EINVAL;
}

static OCSP_CERTID *certid_of(const md_ocsp_cert_t *oc)
{
    /* SHA-1 CertIDs: what responders must understand (RFC 5019 2.1.1) */
    return OCSP_cert_to_id(NULL, md_cert_x509(oc->cert), md_cert_x509(oc->issuer));
}

static const char *hex_of(const unsigned char *buf, apr_size_t len, apr_pool_t *p)
{
    char *s = apr_palloc(p, len * 2 + 1);

    for (apr_size_t i = 0; i < len; ++i) {
        apr_snprintf(s + 2 * i, 3, "%02x", buf[i]);
    }
    s[len * 2] = '\0';
    return s;
}

static const char *responder_of(const md_cert_t *cert, apr_pool_t *p)
{
    STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(md_cert_x509(cert));
    const char *url = NULL;

    if (urls && sk_OPENSSL_STRING_num(urls) > 0) {
        url = apr_pstrdup(p, sk_OPENSSL_STRING_value(urls, 0));
    }
    X509_email_free(urls);
    return url;
}

apr_status_t md_ocsp_cert_make(md_ocsp_cert_t **poc, const char **perr, const md_cert_t *cert,
                               const md_cert_t *issuer, apr_pool_t *p)
{
    md_ocsp_cert_t *oc = apr_pcalloc(p, sizeof(*oc));
    unsigned char digest[SHA_DIGEST_LENGTH];
    unsigned int len = 0;
    OCSP_CERTID *cid;

    oc->cert = cert;
    oc->issuer = issuer;
    if (!(cid = certid_of(oc))) {
        *perr = apr_psprintf(p, "no OCSP CertID for certificate %s: %s",
                             md_cert_serial_hex(cert, p), md_crypt_last_error(p));
        return APR_EINVAL;
    }
    OCSP_CERTID_free(cid);
    /* the bundled module's name of the file, and mod_ssl's id: the certificate's SHA-1 */
    if (!X509_digest(md_cert_x509(cert), EVP_sha1(), digest, &len) || len != sizeof(digest)) {
        *perr = apr_psprintf(p, "cannot compute the SHA-1 of certificate %s",
                             md_cert_serial_hex(cert, p));
        return APR_EGENERAL;
    }
    oc->id = hex_of(digest, sizeof(digest), p);
    oc->responder = responder_of(cert, p);
    *poc = oc;
    return APR_SUCCESS;
}

apr_status_t md_ocsp_request_make(unsigned char **pder, apr_size_t *plen, const md_ocsp_cert_t *oc,
                                  const unsigned char *nonce, apr_size_t nonce_len, apr_pool_t *p)
{
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    OCSP_CERTID *cid = certid_of(oc);
    unsigned char *der = NULL;
    int len = 0, ok;

    ok = req && cid && OCSP_request_add0_id(req, cid) != NULL;
    if (ok) {
        cid = NULL; /* the request has it */
        ok = !nonce || OCSP_request_add1_nonce(req, (unsigned char *) nonce, (int) nonce_len);
    }
    if (ok && (len = i2d_OCSP_REQUEST(req, &der)) > 0) {
        *pder = apr_pmemdup(p, der, (apr_size_t) len);
        *plen = (apr_size_t) len;
    }
    OPENSSL_free(der);
    OCSP_CERTID_free(cid);
    OCSP_REQUEST_free(req);
    if (!ok || len <= 0) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL, "cannot make an OCSP request: %s",
                      md_crypt_last_error(p));
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

static apr_time_t time_of(const ASN1_GENERALIZEDTIME *t)
{
    struct tm tm;

    if (!t || !ASN1_TIME_to_tm(t, &tm)) {
        return 0;
    }
    return apr_time_from_sec(timegm(&tm));
}

/* The request's nonce, when the responder echoed one, must be ours (RFC 8954). */
static int nonce_ok(OCSP_BASICRESP *basic, const unsigned char *nonce, apr_size_t nonce_len)
{
    OCSP_REQUEST *req;
    int ok;

    if (!nonce) {
        return 1;
    }
    req = OCSP_REQUEST_new();
    ok = req && OCSP_request_add1_nonce(req, (unsigned char *) nonce, (int) nonce_len) &&
         OCSP_check_nonce(req, basic) != 0; /* 1 equal, -1 not echoed (allowed), 0 differs */
    OCSP_REQUEST_free(req);
    return ok;
}

/* Signed by the issuer itself or a responder certificate the issuer gave id-kp-OCSPSigning. */
static int signature_ok(OCSP_BASICRESP *basic, const md_ocsp_cert_t *oc)
{
    X509_STORE *trust = X509_STORE_new();
    STACK_OF(X509) *certs = sk_X509_new_null();
    X509 *issuer = md_cert_x509(oc->issuer);
    int ok;

    /* the issuer is the anchor, whether or not it is a root */
    ok = trust && certs && X509_STORE_add_cert(trust, issuer) &&
         X509_STORE_set_flags(trust, X509_V_FLAG_PARTIAL_CHAIN) && sk_X509_push(certs, issuer) &&
         OCSP_basic_verify(basic, certs, trust, 0) > 0;
    sk_X509_free(certs);
    X509_STORE_free(trust);
    return ok;
}

static apr_status_t refuse(const char **perr, apr_pool_t *p, const char *fmt, const char *arg)
{
    *perr = apr_psprintf(p, fmt, arg);
    return APR_EINVAL;
}

/* The single response for oc in basic: status and validity. */
static apr_status_t single_read(md_ocsp_resp_t *resp, const char **perr, OCSP_BASICRESP *basic,
                                const md_ocsp_cert_t *oc, apr_pool_t *p)
{
    ASN1_GENERALIZEDTIME *this_upd = NULL, *next_upd = NULL, *rev_time = NULL;
    OCSP_CERTID *cid = certid_of(oc);
    int status = -1, reason = 0, found;

    found = cid && OCSP_resp_find_status(basic, cid, &status, &reason, &rev_time, &this_upd,
                                         &next_upd) == 1;
    OCSP_CERTID_free(cid);
    if (!found) {
        return refuse(perr, p, "the response holds no status of certificate %s",
                      md_cert_serial_hex(oc->cert, p));
    }
    resp->status = status == V_OCSP_CERTSTATUS_GOOD      ? MD_OCSP_GOOD
                   : status == V_OCSP_CERTSTATUS_REVOKED ? MD_OCSP_REVOKED
                                                         : MD_OCSP_UNKNOWN;
    resp->valid_from = time_of(this_upd);
    if (!resp->valid_from) {
        return refuse(perr, p, "the response has no usable thisUpdate%s", "");
    }
    resp->valid_until = next_upd ? time_of(next_upd) : resp->valid_from + MD_OCSP_NO_NEXT_UPDATE;
    if (resp->valid_until <= resp->valid_from) {
        return refuse(perr, p, "the response's nextUpdate is not after its thisUpdate%s", "");
    }
    return APR_SUCCESS;
}

/* Everything but the times: the caller judges those against its clock. */
static apr_status_t response_check(md_ocsp_resp_t *resp, const char **perr,
                                   const md_ocsp_cert_t *oc, const unsigned char *der,
                                   apr_size_t len, const unsigned char *nonce, apr_size_t nonce_len,
                                   apr_pool_t *p)
{
    const unsigned char *in = der;
    OCSP_RESPONSE *ocsp = d2i_OCSP_RESPONSE(NULL, &in, (long) len);
    OCSP_BASICRESP *basic = NULL;
    apr_status_t rv;
    int rstatus;

    memset(resp, 0, sizeof(*resp));
    if (!ocsp || in != der + len) {
        rv = refuse(perr, p, "the answer is not a DER OCSP response%s", "");
    } else if ((rstatus = OCSP_response_status(ocsp)) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        rv = refuse(perr, p, "the responder answered '%s'", OCSP_response_status_str(rstatus));
    } else if (!(basic = OCSP_response_get1_basic(ocsp))) {
        rv = refuse(perr, p, "the response is not a basic OCSP response%s", "");
    } else if (!nonce_ok(basic, nonce, nonce_len)) {
        rv = refuse(perr, p, "the response does not echo our nonce%s", "");
    } else if (!signature_ok(basic, oc)) {
        rv = refuse(perr, p, "the response's signature does not verify against the issuer: %s",
                    md_crypt_last_error(p));
    } else if ((rv = single_read(resp, perr, basic, oc, p)) == APR_SUCCESS) {
        resp->der = apr_pmemdup(p, der, len);
        resp->der_len = len;
    }
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(ocsp);
    return rv;
}

apr_status_t md_ocsp_response_read(md_ocsp_resp_t *resp, const char **perr,
                                   const md_ocsp_cert_t *oc, const unsigned char *der,
                                   apr_size_t len, const unsigned char *nonce, apr_size_t nonce_len,
                                   apr_time_t now, apr_pool_t *p)
{
    apr_status_t rv = response_check(resp, perr, oc, der, len, nonce, nonce_len, p);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (resp->valid_from > now + MD_OCSP_SKEW) {
        return refuse(perr, p, "the response is not valid before %s",
                      md_time_format(resp->valid_from, p));
    }
    if (resp->valid_until + MD_OCSP_SKEW < now) {
        return refuse(perr, p, "the response expired at %s", md_time_format(resp->valid_until, p));
    }
    return APR_SUCCESS;
}

apr_status_t md_ocsp_fetch(md_ocsp_resp_t *resp, const char **perr, md_http_t *http,
                           const md_ocsp_cert_t *oc, apr_time_t now, apr_pool_t *p)
{
    unsigned char nonce[MD_OCSP_NONCE_LEN], *req;
    md_http_response_t *res;
    apr_size_t req_len;
    apr_status_t rv;

    if (!oc->responder) {
        *perr = "the certificate names no OCSP responder (Authority Information Access)";
        return APR_ENOENT;
    }
    if ((rv = md_crypt_random(nonce, sizeof(nonce))) != APR_SUCCESS ||
        (rv = md_ocsp_request_make(&req, &req_len, oc, nonce, sizeof(nonce), p)) != APR_SUCCESS) {
        *perr = "cannot make the request (see above)";
        return rv;
    }
    md_http_set_body_max(http, MD_OCSP_BODY_MAX);
    rv = md_http_request(&res, http, "POST", oc->responder, MD_OCSP_CONTENT_TYPE,
                         (const char *) req, req_len, p);
    if (rv != APR_SUCCESS) {
        *perr = md_http_last_error(http);
        return rv;
    }
    if (res->status != 200) {
        *perr = apr_psprintf(p, "responder %s answered HTTP %d", oc->responder, res->status);
        return APR_EGENERAL;
    }
    rv = md_ocsp_response_read(resp, perr, oc, (const unsigned char *) res->body, res->body_len,
                               nonce, sizeof(nonce), now, p);
    if (rv != APR_SUCCESS) {
        *perr = apr_psprintf(p, "responder %s: %s", oc->responder, *perr);
    }
    return rv;
}

apr_time_t md_ocsp_renew_at(const md_ocsp_resp_t *resp, const md_timeslice_t *window)
{
    return md_timeslice_start(window, resp->valid_from, resp->valid_until);
}

const char *md_ocsp_aspect(const md_ocsp_cert_t *oc, apr_pool_t *p)
{
    return apr_pstrcat(p, "ocsp-", oc->id, ".json", NULL);
}

apr_status_t md_ocsp_save(md_store_t *store, const char *entry, const md_ocsp_cert_t *oc,
                          const md_ocsp_resp_t *resp, apr_pool_t *p)
{
    md_json_t *j = md_json_new_obj(p), *valid = md_json_new_obj(p);

    md_json_set_str(j, MD_OCSP_KEY_RESPONSE, md_base64url_encode(resp->der, resp->der_len, p));
    md_json_set_str(j, MD_OCSP_KEY_STATUS, md_ocsp_status_name(resp->status));
    md_json_set_str(valid, MD_OCSP_KEY_FROM, md_time_http(resp->valid_from, p));
    md_json_set_str(valid, MD_OCSP_KEY_UNTIL, md_time_http(resp->valid_until, p));
    md_json_set(j, MD_OCSP_KEY_VALID, valid);
    return md_store_save_json(store, MD_SG_OCSP, entry, md_ocsp_aspect(oc, p), j, p);
}

apr_status_t md_ocsp_load(md_ocsp_resp_t *resp, const char **perr, md_store_t *store,
                          const char *entry, const md_ocsp_cert_t *oc, apr_pool_t *p)
{
    const char *aspect = md_ocsp_aspect(oc, p), *b64;
    md_ocsp_status_t status;
    unsigned char *der;
    apr_size_t len;
    md_json_t *j;
    apr_status_t rv;

    *perr = NULL;
    if ((rv = md_store_load_json(&j, perr, store, MD_SG_OCSP, entry, aspect, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!(b64 = md_json_get_str(j, MD_OCSP_KEY_RESPONSE)) ||
        md_base64url_decode(&der, &len, b64, p) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "ocsp/%s/%s: no response in it", entry, aspect);
        return APR_EINVAL;
    }
    /* what the file says besides is only a summary: the response itself decides */
    if ((rv = response_check(resp, perr, oc, der, len, NULL, 0, p)) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "ocsp/%s/%s: %s", entry, aspect, *perr);
        return rv;
    }
    if (status_parse(&status, md_json_get_str(j, MD_OCSP_KEY_STATUS)) == APR_SUCCESS &&
        status != resp->status) {
        md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, 0, "ocsp/%s/%s: says %s, its response %s", entry,
                      aspect, md_ocsp_status_name(status), md_ocsp_status_name(resp->status));
    }
    return APR_SUCCESS;
}

/* valid.until of a stored response as either module wrote it; 0 when it has none. */
static apr_time_t stored_until(const md_json_t *j, apr_pool_t *p)
{
    return md_time_of(md_json_get_str(md_json_get(j, MD_OCSP_KEY_VALID, p), MD_OCSP_KEY_UNTIL));
}

static int is_response_file(const char *aspect)
{
    apr_size_t len = strlen(aspect);

    return !strncmp(aspect, "ocsp-", 5) && len > 10 && !strcmp(aspect + len - 5, ".json");
}

apr_status_t md_ocsp_prune(int *premoved, md_store_t *store, apr_interval_time_t keep,
                           apr_time_t now, apr_pool_t *p)
{
    apr_array_header_t *entries, *aspects;
    const char *entry, *aspect, *err;
    apr_time_t until;
    md_json_t *j;
    apr_status_t rv;

    *premoved = 0;
    if ((rv = md_store_names(&entries, store, MD_SG_OCSP, p)) != APR_SUCCESS) {
        return rv;
    }
    for (int i = 0; i < entries->nelts; ++i) {
        entry = APR_ARRAY_IDX(entries, i, const char *);
        if (md_store_aspects(&aspects, store, MD_SG_OCSP, entry, p) != APR_SUCCESS) {
            continue;
        }
        for (int k = 0; k < aspects->nelts; ++k) {
            aspect = APR_ARRAY_IDX(aspects, k, const char *);
            /* a file we cannot read is left alone: the store never removes what it does not
             * understand */
            if (!is_response_file(aspect) ||
                md_store_load_json(&j, &err, store, MD_SG_OCSP, entry, aspect, p) != APR_SUCCESS ||
                !(until = stored_until(j, p)) || until + keep > now) {
                continue;
            }
            if (md_store_remove(store, MD_SG_OCSP, entry, aspect, p) == APR_SUCCESS) {
                ++*premoved;
                md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, 0,
                              "ocsp/%s/%s: ran out at %s, kept for %s: removed", entry, aspect,
                              md_time_format(until, p), md_duration_format(keep, p));
            }
        }
    }
    return APR_SUCCESS;
}

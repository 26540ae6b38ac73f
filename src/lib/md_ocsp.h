/* md_ocsp.h: OCSP (RFC 6960) for stapling -- the request for a certificate, the checked
 * response, when to renew it, and its file in the store's ocsp/ group (bundled layout). */
#ifndef MD_OCSP_H
#define MD_OCSP_H

#include <apr_pools.h>
#include <apr_time.h>

#include "md_cert.h"
#include "md_http.h"
#include "md_store.h"
#include "md_util.h"

/* The store's entry for certificates of no MD (MDStapleOthers), as the bundled module names it. */
#define MD_OCSP_OTHER "other"
/* A response without nextUpdate (allowed by RFC 6960 4.2.2.1) counts as valid this long, as
 * the bundled module does. */
#define MD_OCSP_NO_NEXT_UPDATE apr_time_from_sec(12 * 60 * 60)
/* Clock skew between us and the responder tolerated on thisUpdate/nextUpdate. */
#define MD_OCSP_SKEW apr_time_from_sec(5 * 60)
/* Responses are small (a signature, a certificate or two); more is not a response. */
#define MD_OCSP_BODY_MAX (64 * 1024)
#define MD_OCSP_CONTENT_TYPE "application/ocsp-request"

typedef enum {
    MD_OCSP_GOOD,
    MD_OCSP_REVOKED,
    MD_OCSP_UNKNOWN,
} md_ocsp_status_t;

const char *md_ocsp_status_name(md_ocsp_status_t status); /* "good", "revoked", "unknown" */

/* A certificate to staple, with what OCSP needs of it. */
typedef struct {
    const md_cert_t *cert;
    const md_cert_t *issuer;
    const char *id;        /* SHA-1 of the certificate's DER, lower-case hex (file name part) */
    const char *responder; /* the OCSP URL of its Authority Information Access; NULL: none */
} md_ocsp_cert_t;

/* An OCSP response checked for one certificate. */
typedef struct {
    md_ocsp_status_t status;
    apr_time_t valid_from;    /* thisUpdate */
    apr_time_t valid_until;   /* nextUpdate (or thisUpdate + MD_OCSP_NO_NEXT_UPDATE) */
    const unsigned char *der; /* the whole OCSPResponse, as stapled */
    apr_size_t der_len;
} md_ocsp_resp_t;

/* oc for cert issued by issuer. APR_EINVAL (reason in *perr) when no CertID can be made. */
apr_status_t md_ocsp_cert_make(md_ocsp_cert_t **poc, const char **perr, const md_cert_t *cert,
                               const md_cert_t *issuer, apr_pool_t *p);

/* The DER OCSPRequest for oc, with nonce (nonce_len bytes) when nonce is not NULL. */
apr_status_t md_ocsp_request_make(unsigned char **pder, apr_size_t *plen, const md_ocsp_cert_t *oc,
                                  const unsigned char *nonce, apr_size_t nonce_len, apr_pool_t *p);

/* Checks a DER OCSPResponse for oc: successful, a basic response signed by the issuer or a
 * responder the issuer delegated to, our nonce echoed when the responder echoes one, a
 * single response for oc, current at 'now'. APR_EINVAL with the reason in *perr otherwise.
 * The DER is copied into p. */
apr_status_t md_ocsp_response_read(md_ocsp_resp_t *resp, const char **perr,
                                   const md_ocsp_cert_t *oc, const unsigned char *der,
                                   apr_size_t len, const unsigned char *nonce, apr_size_t nonce_len,
                                   apr_time_t now, apr_pool_t *p);

/* Asks oc's responder (HTTP POST) and checks the answer. APR_ENOENT when oc names no
 * responder; the reason of any failure in *perr. */
apr_status_t md_ocsp_fetch(md_ocsp_resp_t *resp, const char **perr, md_http_t *http,
                           const md_ocsp_cert_t *oc, apr_time_t now, apr_pool_t *p);

/* When a response is renewed: at the start of 'window' before its valid_until, taken of
 * its validity as a certificate's renew window is of the certificate's lifetime. */
apr_time_t md_ocsp_renew_at(const md_ocsp_resp_t *resp, const md_timeslice_t *window);

/* The file of oc's response in the entry of the ocsp/ group: "ocsp-<id>.json". */
const char *md_ocsp_aspect(const md_ocsp_cert_t *oc, apr_pool_t *p);

/* ocsp/<entry>/ocsp-<id>.json as the bundled module writes it: {"response": base64url DER,
 * "status", "valid": {"from", "until"}}. Load checks the response again for oc (APR_ENOENT:
 * none stored; APR_EINVAL with *perr: unusable), accepting one past its validity (the
 * caller decides what to do with it). */
apr_status_t md_ocsp_save(md_store_t *store, const char *entry, const md_ocsp_cert_t *oc,
                          const md_ocsp_resp_t *resp, apr_pool_t *p);
apr_status_t md_ocsp_load(md_ocsp_resp_t *resp, const char **perr, md_store_t *store,
                          const char *entry, const md_ocsp_cert_t *oc, apr_pool_t *p);

/* Removes the response files of ocsp/ (any entry, any certificate: also of certificates no
 * longer served) whose valid.until lies more than 'keep' before 'now'; counts them. Files that
 * do not read as such are left alone. */
apr_status_t md_ocsp_prune(int *premoved, md_store_t *store, apr_interval_time_t keep,
                           apr_time_t now, apr_pool_t *p);

#endif

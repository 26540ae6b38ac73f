/* md_acme.h: the ACME (RFC 8555) client -- one context per CA conversation: directory,
 * nonces, JWS-signed requests, problem documents; accounts; orders and authorizations. */
#ifndef MD_ACME_H
#define MD_ACME_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "md.h"
#include "md_crypt.h"
#include "md_http.h"
#include "md_json.h"
#include "md_store.h"

/* badNonce answers are retried with the fresh nonce the error carries (RFC 8555 6.5); a CA
 * that rejects this many in a row is treated as failing. A retry costs the CA one cheap
 * request; a CA that rejects half of all nonces (pebble's fault tests) still fails a request
 * only once in 2^17, where 10 retries failed one drive in about 200. */
#define MD_ACME_BAD_NONCE_RETRIES 16

#define MD_ACME_PROBLEM_PREFIX "urn:ietf:params:acme:error:"

/* A problem document (RFC 7807) as the CA sent it; subproblems per identifier (RFC 8555 6.7.1). */
typedef struct md_acme_problem_t {
    const char *type;       /* full URN, e.g. urn:ietf:params:acme:error:rejectedIdentifier */
    const char *detail;     /* the CA's words */
    int status;             /* HTTP status */
    const char *identifier; /* for a subproblem: the domain it concerns */
    apr_array_header_t *subproblems; /* md_acme_problem_t* */
    apr_interval_time_t retry_after; /* of the answer that carried it (0: none) */
    const char *terms;               /* its Link rel="terms-of-service" (RFC 8555 7.3.3), or NULL */
} md_acme_problem_t;

/* Parses a problem document. APR_EINVAL when j is not one (no "type"). */
apr_status_t md_acme_problem_parse(md_acme_problem_t **pprob, const md_json_t *j, int status,
                                   apr_pool_t *p);
/* "rejectedIdentifier: <detail> (www.example.org: <detail>; ...)": one line for logs. */
const char *md_acme_problem_str(const md_acme_problem_t *prob, apr_pool_t *p);
/* The short type ("badNonce") when it is an ACME URN, else the full type. */
const char *md_acme_problem_short_type(const md_acme_problem_t *prob);
/* The status a problem maps to: APR_EAGAIN for transient ones (badNonce, rateLimited,
 * serverInternal), APR_EACCES (unauthorized, userActionRequired, accountDoesNotExist),
 * APR_EINVAL otherwise. */
apr_status_t md_acme_problem_status(const md_acme_problem_t *prob);

typedef struct md_acme_t md_acme_t;

/* A certificate profile the CA offers (draft-ietf-acme-profiles: the directory's
 * meta.profiles maps each name to a description for people). */
typedef struct {
    const char *name;
    const char *description;
} md_acme_profile_t;

/* The directory (RFC 8555 7.1.1). */
typedef struct {
    const char *url;
    const char *new_nonce, *new_account, *new_order, *revoke_cert, *key_change;
    const char *renewal_info;     /* RFC 9773 ARI, NULL when the CA has none */
    const char *terms_of_service; /* meta.termsOfService, may be NULL */
    int eab_required;             /* meta.externalAccountRequired */
    apr_array_header_t *profiles; /* md_acme_profile_t*, meta.profiles; empty: none listed */
} md_acme_directory_t;

/* A context for talking to the CA at directory url. ca_file: trust for the CA's TLS (NULL:
 * the system's); proxy NULL: none beyond curl's environment. Makes no request yet. */
apr_status_t md_acme_create(md_acme_t **pacme, const char *url, const char *ca_file,
                            const char *proxy, apr_pool_t *p);

md_http_t *md_acme_http(md_acme_t *acme);
const char *md_acme_url(const md_acme_t *acme);

/* Drops the account and the last problem, keeping the connection, the directory and a nonce:
 * the context can then serve the next job for the same CA (one thread at a time). */
void md_acme_forget(md_acme_t *acme);

/* Fetches the directory once per context (later calls return the cached one). The error
 * names the URL and what went wrong (unreachable, not JSON, not an ACME directory). */
apr_status_t md_acme_directory(const md_acme_directory_t **pdir, md_acme_t *acme);

/* The account the context signs with: key plus its URL (kid). Without a URL, requests
 * carry the JWK (only newAccount / onlyReturnExisting may do that). */
void md_acme_use_account(md_acme_t *acme, const md_pkey_t *key, const char *account_url);

/* The last problem document the CA answered on this context, or NULL. */
const md_acme_problem_t *md_acme_last_problem(const md_acme_t *acme);

/* A response to a signed request. */
typedef struct {
    int status;
    const char *location;            /* Location header */
    apr_interval_time_t retry_after; /* 0 when none */
    md_json_t *json;                 /* body, when it was JSON */
    const char *body;
    apr_size_t body_len;
    const md_http_response_t *http;
} md_acme_res_t;

/* POST a JWS over payload (JSON; NULL means POST-as-GET with an empty payload) to url.
 * A fresh nonce is fetched when none is kept; badNonce is retried; an error response with a
 * problem document returns md_acme_problem_status() and keeps the problem (logged at debug;
 * the caller says what it was trying to do). Any 4xx/5xx without a problem is APR_EGENERAL
 * (its last problem is then "about:blank" with the status). On an error answer *pres is set
 * too (status, headers such as Link); it is NULL when no answer came. */
apr_status_t md_acme_post(md_acme_res_t **pres, md_acme_t *acme, const char *url,
                          const md_json_t *payload, apr_pool_t *p);
/* md_acme_post asking for a media type (Accept header), e.g. a certificate's PEM chain. */
apr_status_t md_acme_post_accept(md_acme_res_t **pres, md_acme_t *acme, const char *url,
                                 const md_json_t *payload, const char *accept, apr_pool_t *p);

/* ---- accounts (md_acme_acct.c) ---- */

typedef struct md_acme_acct_t {
    const char *id;     /* name of its entry in accounts/ */
    const char *url;    /* the account's URL at the CA (kid) */
    const char *ca_url; /* directory URL of the CA */
    const char *status; /* valid | deactivated | revoked */
    apr_array_header_t *contacts;
    const char *agreement;   /* terms URL agreed to */
    const char *orders;      /* orders URL, when the CA gave one */
    const char *eab_kid;     /* the external account binding key id it was registered with */
    md_json_t *registration; /* the CA's account object */
} md_acme_acct_t;

/* The key spec of new account keys: EC P-256 (small and fast, ES256). */
const md_pkey_spec_t *md_acme_acct_key_spec_default(void);

/* Registers a new account with a new key (spec: EC P-256 when NULL) and stores it in
 * accounts/. agreement must be the CA's current termsOfService URL or "accepted" when the
 * CA has terms; otherwise APR_EACCES with a message naming the terms URL and how to agree
 * (MDCertificateAgreement / a2md -t). eab_kid/eab_hmac (base64url) for CAs that require
 * external account binding. */
apr_status_t md_acme_acct_register(md_acme_acct_t **pacct, md_acme_t *acme, md_store_t *store,
                                   const apr_array_header_t *contacts, const char *agreement,
                                   const char *eab_kid, const char *eab_hmac,
                                   const md_pkey_spec_t *spec, apr_pool_t *p);

/* Loads account id from the store (account.json + decrypted account.pem). */
apr_status_t md_acme_acct_load(md_acme_acct_t **pacct, md_pkey_t **pkey, md_store_t *store,
                               const char *id, apr_pool_t *p);

/* Asks the CA for the account of a stored key (onlyReturnExisting) and refreshes the stored
 * status. APR_ENOENT when the CA does not know it (accountDoesNotExist). On success the
 * context signs with that account. */
apr_status_t md_acme_acct_validate(md_acme_acct_t **pacct, md_acme_t *acme, md_store_t *store,
                                   const char *id, apr_pool_t *p);

/* A stored, valid account of this CA (acme's URL) to reuse, preferring 'preferred'. Each
 * candidate is validated with the CA; APR_ENOENT when none is usable. With eab_kid, only
 * accounts registered with that external account binding key id qualify
 * (md_acme_acct_fits_eab). */
apr_status_t md_acme_acct_find(md_acme_acct_t **pacct, md_acme_t *acme, md_store_t *store,
                               const char *preferred, const char *eab_kid, apr_pool_t *p);

/* Whether an MD whose external account binding has key id eab_kid (NULL: none) may use acct:
 * an account bound to one key id (a customer account at the CA) never serves an MD that names
 * another; an MD without a binding may use any. */
int md_acme_acct_fits_eab(const md_acme_acct_t *acct, const char *eab_kid);

/* Updates contacts / agrees to the terms / deactivates the account the context uses. */
apr_status_t md_acme_acct_update(md_acme_acct_t *acct, md_acme_t *acme, md_store_t *store,
                                 const apr_array_header_t *contacts, const char *agreement,
                                 apr_pool_t *p);
apr_status_t md_acme_acct_deactivate(md_acme_acct_t *acct, md_acme_t *acme, md_store_t *store,
                                     apr_pool_t *p);

/* ---- terms of service (md_acme_terms.c) ---- */

/* Whether the CA asks for agreement to its terms with this problem (userActionRequired with a
 * terms-of-service link, or the older agreementRequired). */
int md_acme_problem_wants_terms(const md_acme_problem_t *prob);

/* The terms the CA has now that acct has not agreed to: the directory's termsOfService when it
 * differs from the account's agreement, else NULL. */
const char *md_acme_terms_new(const md_acme_acct_t *acct, const md_acme_directory_t *dir);

/* Whether an MD's agreement (MDCertificateAgreement: "accepted" or a URL) covers terms. */
int md_acme_terms_covered(const char *agreement, const char *terms);

/* Agrees to the CA's current terms for acct, which the context signs as (logged at notice). */
apr_status_t md_acme_acct_agree_terms(md_acme_acct_t *acct, md_acme_t *acme, md_store_t *store,
                                      apr_pool_t *p);

/* ---- orders and authorizations (md_acme_order.c) ---- */

/* draft-ietf-acme-dns-persist: a standing TXT record instead of a token per challenge. */
#define MD_CHALL_DNSPERSIST01 "dns-persist-01"
/* Its challenge object names at most this many issuer domain names (draft section 3.1). */
#define MD_ACME_ISSUERS_MAX 10

typedef struct {
    const char *type; /* http-01, tls-alpn-01, dns-01, dns-persist-01 */
    const char *url;
    const char *token; /* checked: base64url alphabet only; NULL for dns-persist-01 */
    const char *status;
    /* dns-persist-01: the CA's issuer domain names (checked: 1..10 lower-case DNS names) */
    const apr_array_header_t *issuers;
} md_acme_chall_t;

typedef struct {
    const char *url;
    const char *domain; /* identifier value; "*.x" for a wildcard authorization */
    const char *status; /* pending | valid | invalid | deactivated | expired | revoked */
    apr_time_t expires;
    apr_array_header_t *challenges; /* md_acme_chall_t* */
    md_acme_problem_t *error;       /* the failed challenge's error, when invalid */
} md_acme_authz_t;

typedef struct {
    const char *url;
    const char *status;             /* pending | ready | processing | valid | invalid */
    apr_array_header_t *authz_urls; /* const char* */
    const char *finalize;
    const char *certificate;
    md_acme_problem_t *error;
    apr_time_t expires; /* 0 when the CA gave none */
    apr_interval_time_t retry_after;
    const char *profile; /* the profile the CA gave the order, NULL when it names none */
} md_acme_order_t;

/* What a newOrder asks for (RFC 8555 7.4). Members other than domains may be NULL. */
typedef struct {
    const apr_array_header_t *domains; /* const char*: the identifiers, "*.x" for a wildcard */
    const char *profile;  /* a profile the CA lists (draft-ietf-acme-profiles); NULL: its default */
    const char *replaces; /* RFC 9773 5: the ARI id of the certificate this order renews */
} md_acme_order_req_t;

apr_status_t md_acme_order_new(md_acme_order_t **porder, md_acme_t *acme,
                               const md_acme_order_req_t *req, apr_pool_t *p);
apr_status_t md_acme_order_get(md_acme_order_t **porder, md_acme_t *acme, const char *url,
                               apr_pool_t *p);
apr_status_t md_acme_authz_get(md_acme_authz_t **pauthz, md_acme_t *acme, const char *url,
                               apr_pool_t *p);
/* Tells the CA the challenge is ready to be validated (POST {}). */
apr_status_t md_acme_chall_respond(md_acme_t *acme, const md_acme_chall_t *chall, apr_pool_t *p);
/* Sends the CSR (DER) to the order's finalize URL; returns the updated order. */
apr_status_t md_acme_order_finalize(md_acme_order_t **porder, md_acme_t *acme,
                                    const md_acme_order_t *order, const unsigned char *csr_der,
                                    apr_size_t csr_len, apr_pool_t *p);
/* ---- the certificate (md_acme_chain.c) ---- */

/* Downloads an order's certificate as a chain (application/pem-certificate-chain), leaf
 * first, then its intermediates, without a self-signed root. A chain that ends below a root
 * is completed with the issuers the CA links as rel="up" (bounded hops, no loops, https only
 * from an https CA). preferred: NULL, or the name (MDPreferredChain) of the root -- the issuer
 * CN or subject CN of the top certificate -- wanted among the CA's rel="alternate" chains;
 * when no chain has it, the default chain comes back (logged at info with the names the CA
 * offers). Errors are logged, naming the URL and what the CA said. */
apr_status_t md_acme_cert_download(apr_array_header_t **pchain, md_acme_t *acme, const char *url,
                                   const char *preferred, apr_pool_t *p);

/* The key authorization of a token: token "." base64url(thumbprint of the account key). */
apr_status_t md_acme_key_authz(const char **pkeyauthz, md_acme_t *acme, const char *token,
                               apr_pool_t *p);

#endif

/* md_acme.c: the ACME transport (RFC 8555 section 6): directory, nonces, JWS-signed POSTs with
 * badNonce retries, problem documents (RFC 7807), and key authorizations for challenges. */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>

#include "md_acme.h"
#include "md_acme_profile.h"
#include "md_jws.h"
#include "md_log.h"
#include "md_util.h"

/* Nonces are opaque base64url strings (RFC 8555 6.5.1); CAs use a few dozen characters. A
 * longer one is not kept (the next request fetches a fresh one). */
#define ACME_NONCE_MAX 512

#define ACME_CT_JOSE "application/jose+json" /* RFC 8555 6.2 */
#define ACME_CT_JSON "application/json"
#define ACME_CT_PROBLEM "application/problem+json" /* RFC 7807 3 */
#define ACME_PROBLEM_BLANK "about:blank"           /* RFC 7807 4.2: no more than the status */

#define HTTP_OK 200
#define HTTP_ERROR_MIN 400

struct md_acme_t {
    apr_pool_t *p;
    const char *url;
    md_http_t *http;
    md_acme_directory_t *dir; /* NULL until fetched */
    const md_pkey_t *key;
    const char *account_url;
    char nonce[ACME_NONCE_MAX + 1]; /* "" when none is kept */
    apr_pool_t *prob_pool;          /* holds 'problem'; cleared at every request */
    md_acme_problem_t *problem;
};

/* ---- problem documents ---- */

static void problem_fill(md_acme_problem_t *prob, const md_json_t *j, int status, apr_pool_t *p)
{
    md_json_t *ident = md_json_get(j, "identifier", p);
    const char *detail = md_json_get_str(j, "detail");

    prob->type = apr_pstrdup(p, md_json_get_str(j, "type"));
    prob->detail = apr_pstrdup(p, detail ? detail : "");
    prob->status = (int) md_json_get_int(j, "status", status);
    prob->identifier =
        md_json_get_str(ident, "value") ? apr_pstrdup(p, md_json_get_str(ident, "value")) : NULL;
    prob->subproblems = apr_array_make(p, 0, sizeof(md_acme_problem_t *));
}

apr_status_t md_acme_problem_parse(md_acme_problem_t **pprob, const md_json_t *j, int status,
                                   apr_pool_t *p)
{
    md_acme_problem_t *prob;
    md_json_t *subs, *sj;
    apr_size_t i;

    *pprob = NULL;
    if (!md_json_get_str(j, "type")) {
        return APR_EINVAL;
    }
    prob = apr_pcalloc(p, sizeof(*prob));
    problem_fill(prob, j, status, p);
    subs = md_json_get(j, "subproblems", p);
    for (i = 0; i < md_json_len(subs); ++i) {
        sj = md_json_at(subs, i, p);
        if (md_json_get_str(sj, "type")) { /* RFC 8555 6.7.1: each has a type; skip others */
            md_acme_problem_t *sub = apr_pcalloc(p, sizeof(*sub));
            problem_fill(sub, sj, prob->status, p);
            APR_ARRAY_PUSH(prob->subproblems, md_acme_problem_t *) = sub;
        }
    }
    *pprob = prob;
    return APR_SUCCESS;
}

const char *md_acme_problem_short_type(const md_acme_problem_t *prob)
{
    apr_size_t n = strlen(MD_ACME_PROBLEM_PREFIX);

    if (!prob || !prob->type) {
        return "";
    }
    if (!strncasecmp(prob->type, MD_ACME_PROBLEM_PREFIX, n) && prob->type[n]) {
        return prob->type + n;
    }
    return prob->type;
}

/* "type: detail", or only the detail for about:blank (which says nothing beyond it). */
static const char *problem_head(const md_acme_problem_t *prob, apr_pool_t *p)
{
    const char *type = md_acme_problem_short_type(prob);

    if (!strcmp(type, ACME_PROBLEM_BLANK) || !*type) {
        return prob->detail;
    }
    return *prob->detail ? apr_pstrcat(p, type, ": ", prob->detail, NULL) : type;
}

const char *md_acme_problem_str(const md_acme_problem_t *prob, apr_pool_t *p)
{
    const char *s, *sub;
    int i;

    if (!prob) {
        return "no problem document";
    }
    s = problem_head(prob, p);
    for (i = 0; prob->subproblems && i < prob->subproblems->nelts; ++i) {
        const md_acme_problem_t *sp = APR_ARRAY_IDX(prob->subproblems, i, md_acme_problem_t *);
        sub = sp->identifier
                  ? apr_pstrcat(p, sp->identifier, ": ",
                                *sp->detail ? sp->detail : md_acme_problem_short_type(sp), NULL)
                  : problem_head(sp, p);
        s = apr_pstrcat(p, s, i ? "; " : " (", sub, NULL);
    }
    return (prob->subproblems && prob->subproblems->nelts) ? apr_pstrcat(p, s, ")", NULL) : s;
}

apr_status_t md_acme_problem_status(const md_acme_problem_t *prob)
{
    static const char *const transient[] = {"badNonce", "rateLimited", "serverInternal", NULL};
    /* agreementRequired is the pre-RFC name some CAs still answer with */
    static const char *const refused[] = {"unauthorized", "userActionRequired",
                                          "accountDoesNotExist", "agreementRequired", NULL};
    const char *type = md_acme_problem_short_type(prob);
    int i;

    for (i = 0; transient[i]; ++i) {
        if (!strcmp(type, transient[i])) {
            return APR_EAGAIN;
        }
    }
    for (i = 0; refused[i]; ++i) {
        if (!strcmp(type, refused[i])) {
            return APR_EACCES;
        }
    }
    return APR_EINVAL;
}

/* ---- the context ---- */

apr_status_t md_acme_create(md_acme_t **pacme, const char *url, const char *ca_file,
                            const char *proxy, apr_pool_t *p)
{
    md_acme_t *acme;
    apr_status_t rv;

    *pacme = NULL;
    if (!url || !*url) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "no ACME server URL given");
        return APR_EINVAL;
    }
    acme = apr_pcalloc(p, sizeof(*acme));
    acme->p = p;
    acme->url = apr_pstrdup(p, url);
    if ((rv = md_http_create(&acme->http, p, MD_USER_AGENT, ca_file, proxy)) != APR_SUCCESS) {
        return rv;
    }
    /* from an https directory only https: no URL the CA hands out leads out of TLS */
    md_http_set_https_only(acme->http, md_http_url_is_https(url));
    if ((rv = apr_pool_create(&acme->prob_pool, p)) != APR_SUCCESS) {
        return rv;
    }
    *pacme = acme;
    return APR_SUCCESS;
}

md_http_t *md_acme_http(md_acme_t *acme)
{
    return acme->http;
}

void md_acme_use_account(md_acme_t *acme, const md_pkey_t *key, const char *account_url)
{
    acme->key = key;
    acme->account_url = account_url ? apr_pstrdup(acme->p, account_url) : NULL;
}

const char *md_acme_url(const md_acme_t *acme)
{
    return acme->url;
}

void md_acme_forget(md_acme_t *acme)
{
    acme->key = NULL;
    acme->account_url = NULL;
    acme->problem = NULL;
    apr_pool_clear(acme->prob_pool);
}

const md_acme_problem_t *md_acme_last_problem(const md_acme_t *acme)
{
    return acme->problem;
}

/* Keeps the Replay-Nonce of any response (RFC 8555 6.5): the next request uses it. */
static void acme_keep_nonce(md_acme_t *acme, const md_http_response_t *res)
{
    const char *nonce = apr_table_get(res->headers, "Replay-Nonce");

    if (nonce && md_base64url_is_token(nonce) && strlen(nonce) <= ACME_NONCE_MAX) {
        apr_cpystrn(acme->nonce, nonce, sizeof(acme->nonce));
    }
}

static int is_json_type(const char *ct)
{
    apr_size_t n;

    if (!ct) {
        return 0;
    }
    n = strcspn(ct, "; \t");
    return (n == strlen(ACME_CT_JSON) && !strncasecmp(ct, ACME_CT_JSON, n)) ||
           (n == strlen(ACME_CT_PROBLEM) && !strncasecmp(ct, ACME_CT_PROBLEM, n));
}

static apr_status_t dir_not_acme(const char *url, const char *why)
{
    md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "%s is not an ACME directory: %s", url, why);
    return APR_EINVAL;
}

static const char *dir_url(md_json_t *j, const char *key, apr_pool_t *p)
{
    const char *s = md_json_get_str(j, key);
    return s ? apr_pstrdup(p, s) : NULL;
}

static apr_status_t dir_parse(md_acme_directory_t **pdir, md_acme_t *acme,
                              const md_http_response_t *res, apr_pool_t *ptmp)
{
    md_acme_directory_t *dir;
    md_json_t *j, *meta;
    const char *err = NULL;

    if (res->status != HTTP_OK) {
        return dir_not_acme(acme->url, apr_psprintf(ptmp, "it answers HTTP %d", res->status));
    }
    if (md_json_parse(&j, &err, res->body, res->body_len, ptmp) != APR_SUCCESS ||
        !md_json_is_obj(j)) {
        return dir_not_acme(acme->url, "the answer is not a JSON object");
    }
    dir = apr_pcalloc(acme->p, sizeof(*dir));
    dir->url = acme->url;
    dir->new_nonce = dir_url(j, "newNonce", acme->p);
    dir->new_account = dir_url(j, "newAccount", acme->p);
    dir->new_order = dir_url(j, "newOrder", acme->p);
    dir->revoke_cert = dir_url(j, "revokeCert", acme->p);
    dir->key_change = dir_url(j, "keyChange", acme->p);
    dir->renewal_info = dir_url(j, "renewalInfo", acme->p);
    if (!dir->new_nonce || !dir->new_account || !dir->new_order) {
        return dir_not_acme(acme->url, "it names no newNonce, newAccount and newOrder (RFC 8555 "
                                       "7.1.1)");
    }
    meta = md_json_get(j, "meta", ptmp);
    dir->terms_of_service = dir_url(meta, "termsOfService", acme->p);
    dir->eab_required = md_json_get_bool(meta, "externalAccountRequired", 0);
    dir->profiles = md_acme_profiles_parse(meta, acme->p);
    *pdir = dir;
    return APR_SUCCESS;
}

/* Why a request got no answer, in a few words (md_http_request's statuses). */
static const char *acme_unreachable_why(apr_status_t rv, char *buf, apr_size_t len)
{
    if (APR_STATUS_IS_ECONNREFUSED(rv)) {
        return "connection refused";
    }
    if (rv == APR_EHOSTUNREACH) {
        return "host not found or not reachable";
    }
    if (APR_STATUS_IS_TIMEUP(rv)) {
        return "no answer in time";
    }
    if (rv == APR_ENOSPC) {
        return "answer too large";
    }
    if (rv == APR_EGENERAL) {
        return "TLS or protocol failure";
    }
    return apr_strerror(rv, buf, len);
}

apr_status_t md_acme_directory(const md_acme_directory_t **pdir, md_acme_t *acme)
{
    md_http_response_t *res;
    md_acme_directory_t *dir = NULL;
    apr_pool_t *ptmp;
    apr_status_t rv;
    char buf[256];

    *pdir = NULL;
    if (acme->dir) {
        *pdir = acme->dir;
        return APR_SUCCESS;
    }
    if ((rv = apr_pool_create(&ptmp, acme->p)) != APR_SUCCESS) {
        return rv;
    }
    rv = md_http_request(&res, acme->http, "GET", acme->url, NULL, NULL, 0, ptmp);
    if (rv == APR_EINTR) {
        /* cancelled: the drive says so */
    } else if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv,
                      "cannot reach the ACME server at %s: %s (%s); check the URL and the "
                      "network (retrying later)",
                      acme->url, acme_unreachable_why(rv, buf, sizeof(buf)),
                      md_http_last_error(acme->http));
    } else {
        acme_keep_nonce(acme, res);
        if ((rv = dir_parse(&dir, acme, res, ptmp)) == APR_SUCCESS) {
            acme->dir = dir;
            *pdir = dir;
        }
    }
    apr_pool_destroy(ptmp);
    return rv;
}

/* A nonce for the next request: the kept one, else a fresh one from newNonce (RFC 8555
 * 7.2). The kept nonce is used up. */
static apr_status_t acme_take_nonce(const char **pnonce, md_acme_t *acme, apr_pool_t *p)
{
    md_http_response_t *res;
    apr_status_t rv;

    if (!acme->nonce[0]) {
        rv = md_http_request(&res, acme->http, "HEAD", acme->dir->new_nonce, NULL, NULL, 0, p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        acme_keep_nonce(acme, res);
        if (!acme->nonce[0]) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL,
                          "the ACME server at %s gave no Replay-Nonce at %s (HTTP %d)", acme->url,
                          acme->dir->new_nonce, res->status);
            return APR_EGENERAL;
        }
    }
    *pnonce = apr_pstrdup(p, acme->nonce);
    acme->nonce[0] = '\0';
    return APR_SUCCESS;
}

static apr_status_t acme_res_make(md_acme_res_t **pres, const md_http_response_t *http,
                                  const char *url, apr_pool_t *p)
{
    md_acme_res_t *res = apr_pcalloc(p, sizeof(*res));
    const char *err = NULL;

    res->status = http->status;
    res->location = apr_table_get(http->headers, "Location");
    if (md_http_retry_after(&res->retry_after, http, apr_time_now()) != APR_SUCCESS) {
        res->retry_after = 0;
    }
    res->body = http->body;
    res->body_len = http->body_len;
    res->http = http;
    *pres = res;
    if (is_json_type(apr_table_get(http->headers, "Content-Type")) &&
        md_json_parse(&res->json, &err, http->body, http->body_len, p) != APR_SUCCESS) {
        res->json = NULL;
        if (http->status < HTTP_ERROR_MIN) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL,
                          "the ACME server answered POST %s with broken JSON: %s", url, err);
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

/* The terms a CA asks agreement to with a problem (RFC 8555 7.3.3), or NULL. */
static const char *problem_terms(const md_acme_res_t *res, apr_pool_t *p)
{
    apr_array_header_t *links = NULL;

    if (res->http && md_http_links(&links, res->http, "terms-of-service", p) == APR_SUCCESS &&
        links && links->nelts) {
        return APR_ARRAY_IDX(links, 0, const char *);
    }
    return NULL;
}

/* Keeps the problem of an error response (or an about:blank one when it has none). */
static apr_status_t acme_res_problem(md_acme_t *acme, const md_acme_res_t *res, const char *url)
{
    md_acme_problem_t *prob = NULL;

    apr_pool_clear(acme->prob_pool);
    if (res->json &&
        md_acme_problem_parse(&prob, res->json, res->status, acme->prob_pool) == APR_SUCCESS) {
        prob->retry_after = res->retry_after;
        prob->terms = problem_terms(res, acme->prob_pool);
        acme->problem = prob;
        return md_acme_problem_status(prob);
    }
    prob = apr_pcalloc(acme->prob_pool, sizeof(*prob));
    prob->type = ACME_PROBLEM_BLANK;
    prob->status = res->status;
    prob->detail = apr_psprintf(acme->prob_pool, "HTTP %d from %s without a problem document",
                                res->status, url);
    prob->subproblems = apr_array_make(acme->prob_pool, 0, sizeof(md_acme_problem_t *));
    prob->retry_after = res->retry_after;
    acme->problem = prob;
    return APR_EGENERAL;
}

static apr_status_t acme_post_once(md_acme_res_t **pres, md_acme_t *acme, const char *url,
                                   const char *body, const char *accept, apr_pool_t *p)
{
    md_json_t *hdr, *jws;
    md_http_response_t *http;
    const char *nonce, *msg;
    apr_status_t rv;

    if ((rv = acme_take_nonce(&nonce, acme, p)) != APR_SUCCESS) {
        return rv;
    }
    hdr = md_json_new_obj(p);
    md_json_set_str(hdr, "nonce", nonce);
    md_json_set_str(hdr, "url", url);
    if (acme->account_url) {
        md_json_set_str(hdr, "kid", acme->account_url); /* else md_jws_sign adds the jwk */
    }
    if ((rv = md_jws_sign(&jws, body, strlen(body), hdr, acme->key, p)) != APR_SUCCESS) {
        return rv;
    }
    msg = md_json_dump(jws, 0, p);
    rv = md_http_request_accept(&http, acme->http, "POST", url, ACME_CT_JOSE, accept, msg,
                                strlen(msg), p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    acme_keep_nonce(acme, http);
    if ((rv = acme_res_make(pres, http, url, p)) != APR_SUCCESS) {
        return rv;
    }
    if (http->status >= HTTP_ERROR_MIN) {
        rv = acme_res_problem(acme, *pres, url);
        md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, rv, "ACME: POST %s -> %d %s", url, http->status,
                      md_acme_problem_str(acme->problem, p));
    }
    return rv;
}

apr_status_t md_acme_post(md_acme_res_t **pres, md_acme_t *acme, const char *url,
                          const md_json_t *payload, apr_pool_t *p)
{
    return md_acme_post_accept(pres, acme, url, payload, NULL, p);
}

apr_status_t md_acme_post_accept(md_acme_res_t **pres, md_acme_t *acme, const char *url,
                                 const md_json_t *payload, const char *accept, apr_pool_t *p)
{
    const md_acme_directory_t *dir;
    const char *body = payload ? md_json_dump(payload, 0, p) : "";
    apr_status_t rv;
    int retries = 0;

    *pres = NULL;
    acme->problem = NULL;
    if (!acme->key) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL,
                      "ACME request to %s without an account key (internal error)", url);
        return APR_EINVAL;
    }
    if ((rv = md_acme_directory(&dir, acme)) != APR_SUCCESS) {
        return rv;
    }
    for (;;) {
        *pres = NULL; /* no answer of an earlier try is taken for this one's */
        rv = acme_post_once(pres, acme, url, body, accept, p);
        if (rv != APR_EAGAIN || !acme->problem ||
            strcmp(md_acme_problem_short_type(acme->problem), "badNonce") ||
            retries >= MD_ACME_BAD_NONCE_RETRIES) {
            return rv;
        }
        ++retries;
        md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, rv, "ACME: badNonce from %s, retry %d", url,
                      retries);
    }
}

apr_status_t md_acme_key_authz(const char **pkeyauthz, md_acme_t *acme, const char *token,
                               apr_pool_t *p)
{
    const char *thumb;
    apr_status_t rv;

    *pkeyauthz = NULL;
    if (!md_base64url_is_token(token)) {
        /* RFC 8555 8.3/8.4: tokens are base64url; anything else must never reach a path */
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL,
                      "the ACME server at %s sent a challenge token that is not base64url; "
                      "refusing it",
                      acme->url);
        return APR_EINVAL;
    }
    if (!acme->key) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL,
                      "key authorization without an account key (internal error)");
        return APR_EINVAL;
    }
    if ((rv = md_jwk_thumbprint(&thumb, acme->key, p)) != APR_SUCCESS) {
        return rv;
    }
    *pkeyauthz = apr_pstrcat(p, token, ".", thumb, NULL);
    return APR_SUCCESS;
}

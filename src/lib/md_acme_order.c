/* md_acme_order.c: ACME orders and authorizations (RFC 8555 7.4, 7.5): newOrder, fetching
 * orders and authorizations, answering challenges, finalize and certificate download. */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "md_acme.h"
#include "md_acme_order_int.h"
#include "md_log.h"
#include "md_util.h"

/* Identifier types of domain names (RFC 8555 9.7.7) and IP addresses (RFC 8738 3). */
#define MD_ACME_IDENT_DNS "dns"
#define MD_ACME_IDENT_IP "ip"
/* Label that the identifier of a wildcard authorization lacks (RFC 8555 7.1.4). */
#define MD_WILDCARD_PREFIX "*."
#define MD_ACME_STATUS_INVALID "invalid"

/* A string member copied into p (the JSON may live shorter), NULL when missing. */
static const char *json_str(const md_json_t *j, const char *key, apr_pool_t *p)
{
    const char *s = md_json_get_str(j, key);

    return s ? apr_pstrdup(p, s) : NULL;
}

/* The time of member key, 0 when missing or not an RFC 3339 timestamp. */
static apr_time_t json_time(const md_json_t *j, const char *key, const char *url)
{
    const char *s = md_json_get_str(j, key);
    apr_time_t t = 0;

    if (s && md_time_parse(&t, s) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_EINVAL, "%s: ignoring unparsable %s '%s'", url,
                      key, s);
        t = 0;
    }
    return t;
}

/* The problem document in member key, NULL when there is none (or it is no problem). */
static md_acme_problem_t *json_problem(const md_json_t *j, const char *key, apr_pool_t *p)
{
    md_json_t *pj = md_json_get(j, key, p);
    md_acme_problem_t *prob = NULL;

    if (pj && md_acme_problem_parse(&prob, pj, (int) md_json_get_int(pj, "status", 0), p) !=
                  APR_SUCCESS) {
        prob = NULL;
    }
    return prob;
}

apr_status_t md_acme_order_from_json(md_acme_order_t **porder, const md_json_t *j, const char *url,
                                     apr_pool_t *p)
{
    md_acme_order_t *order;

    *porder = NULL;
    if (!md_json_is_obj(j) || !md_json_get_str(j, "status")) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL,
                      "order %s: the CA's answer is not an order object (no status)", url);
        return APR_EINVAL;
    }
    order = apr_pcalloc(p, sizeof(*order));
    order->url = apr_pstrdup(p, url);
    order->status = json_str(j, "status", p);
    order->authz_urls = md_json_get_strs(j, "authorizations", p);
    if (!order->authz_urls) {
        order->authz_urls = apr_array_make(p, 0, sizeof(const char *));
    }
    order->finalize = json_str(j, "finalize", p);
    order->certificate = json_str(j, "certificate", p);
    order->error = json_problem(j, "error", p);
    order->expires = json_time(j, "expires", url);
    order->profile = json_str(j, "profile", p);
    *porder = order;
    return APR_SUCCESS;
}

static const char *str_lower(const char *s, apr_pool_t *p)
{
    char *low = apr_pstrdup(p, s);

    for (char *c = low; *c; ++c) {
        *c = (char) apr_tolower(*c);
    }
    return low;
}

/* The issuer domain names of a dns-persist-01 challenge object: "issuer-domain-names" (draft
 * -00/-01, pebble 2.10) or "issuerDomainNames" (draft -02). They go into a DNS record that an
 * operator publishes: only 1..MD_ACME_ISSUERS_MAX valid domain names pass (draft 3.1), lower-cased.
 */
static apr_status_t persist_issuers(const apr_array_header_t **pissuers,
                                    const md_acme_authz_t *authz, const md_json_t *c, apr_pool_t *p)
{
    apr_array_header_t *names = md_json_get_strs(c, "issuer-domain-names", p), *norm = NULL;
    const char *perr = NULL;

    if (!names) {
        names = md_json_get_strs(c, "issuerDomainNames", p);
    }
    if (!names || names->nelts == 0) {
        perr = "none given";
    } else if (names->nelts > MD_ACME_ISSUERS_MAX) {
        perr = "more than the draft's limit";
    } else if (md_dns_names_check(&norm, &perr, names, p) == APR_SUCCESS) {
        for (int i = 0; i < norm->nelts && !perr; ++i) {
            if (md_dns_is_wildcard(APR_ARRAY_IDX(norm, i, const char *))) {
                perr = "a wildcard is no issuer domain name";
            }
        }
    }
    if (perr) {
        md_log_perror(MD_LOG_MARK, MD_LOG_WARN, APR_EINVAL,
                      "authorization %s for %s: dropping the %s challenge, its issuer domain "
                      "names are unusable: %s",
                      authz->url, authz->domain, MD_CHALL_DNSPERSIST01, perr);
        return APR_EINVAL;
    }
    *pissuers = norm;
    return APR_SUCCESS;
}

/* Adds the challenge object c to authz unless it cannot be answered safely. */
static void authz_add_chall(md_acme_authz_t *authz, const md_json_t *c, apr_pool_t *p)
{
    md_acme_chall_t *chall = apr_pcalloc(p, sizeof(*chall));

    chall->type = json_str(c, "type", p);
    chall->url = json_str(c, "url", p);
    chall->token = json_str(c, "token", p);
    chall->status = json_str(c, "status", p);
    if (!chall->type || !chall->url) {
        md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_EINVAL,
                      "authorization %s: skipping a challenge without type or url", authz->url);
        return;
    }
    if (chall->status && !strcmp(chall->status, MD_ACME_STATUS_INVALID) && !authz->error) {
        authz->error = json_problem(c, "error", p);
        if (authz->error && !authz->error->identifier) {
            authz->error->identifier = authz->domain;
        }
    }
    if (!strcmp(chall->type, MD_CHALL_DNSPERSIST01)) {
        /* no token: the CA looks for a standing record naming one of its issuer domains */
        if (persist_issuers(&chall->issuers, authz, c, p) == APR_SUCCESS) {
            APR_ARRAY_PUSH(authz->challenges, const md_acme_chall_t *) = chall;
        }
        return;
    }
    /* The token becomes part of file names and URLs: only the base64url alphabet passes
     * (RFC 8555 8.1 requires it anyway). */
    if (!md_base64url_is_token(chall->token)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_WARN, APR_EINVAL,
                      "authorization %s for %s: dropping %s challenge %s, its token is missing or "
                      "not base64url",
                      authz->url, authz->domain, chall->type, chall->url);
        return;
    }
    APR_ARRAY_PUSH(authz->challenges, const md_acme_chall_t *) = chall;
}

apr_status_t md_acme_authz_from_json(md_acme_authz_t **pauthz, const md_json_t *j, const char *url,
                                     apr_pool_t *p)
{
    md_json_t *ident = md_json_get(j, "identifier", p), *challs;
    const char *type = md_json_get_str(ident, "type"), *value = md_json_get_str(ident, "value");
    int is_ip = type && !strcmp(type, MD_ACME_IDENT_IP);
    const char *ip = NULL;
    md_acme_authz_t *authz;
    apr_size_t i, n;

    *pauthz = NULL;
    if (!md_json_is_obj(j) || !md_json_get_str(j, "status") || !type ||
        (strcmp(type, MD_ACME_IDENT_DNS) && !is_ip) || !value || !*value ||
        (is_ip && md_ip_normalise(&ip, value, p) != APR_SUCCESS)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL,
                      "authorization %s: the CA's answer is not an authorization of a domain "
                      "name or IP address (no status, or no dns or ip identifier)",
                      url);
        return APR_EINVAL;
    }
    authz = apr_pcalloc(p, sizeof(*authz));
    authz->url = apr_pstrdup(p, url);
    /* an address as the MD names it: canonical text, whatever form the CA wrote */
    authz->domain = is_ip ? ip : str_lower(value, p);
    if (!is_ip && md_json_get_bool(j, "wildcard", 0)) {
        authz->domain = apr_pstrcat(p, MD_WILDCARD_PREFIX, authz->domain, NULL);
    }
    authz->status = json_str(j, "status", p);
    authz->expires = json_time(j, "expires", url);
    challs = md_json_get(j, "challenges", p);
    n = md_json_len(challs);
    authz->challenges = apr_array_make(p, (int) n, sizeof(const md_acme_chall_t *));
    for (i = 0; i < n; ++i) {
        authz_add_chall(authz, md_json_at(challs, i, p), p);
    }
    *pauthz = authz;
    return APR_SUCCESS;
}

/* md_acme_post that logs a failure: what was being done and what the CA said (md_acme_post
 * forgets the problem of an earlier request, so one kept now belongs to this request). A
 * request that got no answer at all is logged at debug only: the caller decides whether that
 * is an error (a CA away for a moment while polling is asked again) and says so itself. */
static apr_status_t post(md_acme_res_t **pres, md_acme_t *acme, const char *url,
                         const md_json_t *payload, const char *what, apr_pool_t *p)
{
    apr_status_t rv = md_acme_post(pres, acme, url, payload, p);
    const md_acme_problem_t *prob;
    const char *http_err;

    if (rv != APR_SUCCESS) {
        prob = md_acme_last_problem(acme);
        http_err = md_http_last_error(md_acme_http(acme));
        if (*pres || prob) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s failed: %s", what,
                          prob ? md_acme_problem_str(prob, p)
                               : "the CA answered without a problem document");
        } else {
            md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, rv, "%s: no answer from the CA%s%s", what,
                          http_err[0] ? ": " : "", http_err);
        }
    }
    return rv;
}

/* The JSON object of a successful answer; APR_EINVAL (logged) when the body is none. */
static apr_status_t res_json(const md_json_t **pj, const md_acme_res_t *res, const char *what)
{
    if (!md_json_is_obj(res->json)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL,
                      "%s: the CA answered HTTP %d without a JSON object", what, res->status);
        return APR_EINVAL;
    }
    *pj = res->json;
    return APR_SUCCESS;
}

/* {"identifiers":[{"type":"dns","value":d}, ...]} (RFC 8555 7.4); a wildcard keeps its "*.";
 * an IP address is {"type":"ip"} (RFC 8738 3), its value canonical already (md_dns_name_check);
 * "profile" when one is asked for. */
static md_json_t *new_order_payload(const md_acme_order_req_t *req, apr_pool_t *p)
{
    const apr_array_header_t *domains = req->domains;
    md_json_t *payload = md_json_new_obj(p), *idents = md_json_new_arr(p), *ident;

    for (int i = 0; i < domains->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(domains, i, const char *);
        ident = md_json_new_obj(p);
        md_json_set_str(ident, "type", md_ip_is_addr(name) ? MD_ACME_IDENT_IP : MD_ACME_IDENT_DNS);
        md_json_set_str(ident, "value", name);
        md_json_push(idents, ident);
    }
    md_json_set(payload, "identifiers", idents);
    if (req->profile) {
        md_json_set_str(payload, "profile", req->profile); /* draft-ietf-acme-profiles */
    }
    if (req->replaces) {
        md_json_set_str(payload, "replaces", req->replaces);
    }
    return payload;
}

apr_status_t md_acme_order_new(md_acme_order_t **porder, md_acme_t *acme,
                               const md_acme_order_req_t *req, apr_pool_t *p)
{
    const apr_array_header_t *domains = req->domains;
    const char *what = apr_psprintf(p, "creating an order for %s",
                                    domains ? md_array_str_join(domains, ", ", p) : "(null)");
    const md_acme_directory_t *dir;
    md_acme_res_t *res;
    const md_json_t *j;
    apr_status_t rv;

    *porder = NULL;
    if (!domains || domains->nelts == 0) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "creating an order without names");
        return APR_EINVAL;
    }
    if ((rv = md_acme_directory(&dir, acme)) != APR_SUCCESS) {
        return rv;
    }
    if (!dir->new_order) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL,
                      "%s: the CA's directory %s has no newOrder", what, dir->url);
        return APR_EINVAL;
    }
    rv = post(&res, acme, dir->new_order, new_order_payload(req, p), what, p);
    if (rv == APR_SUCCESS && (rv = res_json(&j, res, what)) == APR_SUCCESS) {
        /* The order's URL is only in the Location header (RFC 8555 7.4). */
        if (!res->location) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL,
                          "%s: the CA's answer has no Location for the order", what);
            return APR_EINVAL;
        }
        rv = md_acme_order_from_json(porder, j, res->location, p);
    }
    if (rv == APR_SUCCESS) {
        (*porder)->retry_after = res->retry_after;
        md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_SUCCESS, "order %s for %s: %s", res->location,
                      md_array_str_join(domains, ", ", p), (*porder)->status);
    }
    return rv;
}

apr_status_t md_acme_order_get(md_acme_order_t **porder, md_acme_t *acme, const char *url,
                               apr_pool_t *p)
{
    const char *what = apr_psprintf(p, "fetching order %s", url);
    md_acme_res_t *res;
    const md_json_t *j;
    apr_status_t rv;

    *porder = NULL;
    rv = post(&res, acme, url, NULL, what, p);
    if (rv == APR_SUCCESS && (rv = res_json(&j, res, what)) == APR_SUCCESS &&
        (rv = md_acme_order_from_json(porder, j, url, p)) == APR_SUCCESS) {
        (*porder)->retry_after = res->retry_after;
    }
    return rv;
}

apr_status_t md_acme_authz_get(md_acme_authz_t **pauthz, md_acme_t *acme, const char *url,
                               apr_pool_t *p)
{
    const char *what = apr_psprintf(p, "fetching authorization %s", url);
    md_acme_res_t *res;
    const md_json_t *j;
    apr_status_t rv;

    *pauthz = NULL;
    rv = post(&res, acme, url, NULL, what, p);
    if (rv == APR_SUCCESS && (rv = res_json(&j, res, what)) == APR_SUCCESS) {
        rv = md_acme_authz_from_json(pauthz, j, url, p);
    }
    return rv;
}

apr_status_t md_acme_chall_respond(md_acme_t *acme, const md_acme_chall_t *chall, apr_pool_t *p)
{
    const char *what =
        apr_psprintf(p, "telling the CA that %s challenge %s is ready", chall->type, chall->url);
    md_acme_res_t *res;

    /* An empty object (not an empty payload) asks the CA to validate (RFC 8555 7.5.1). */
    return post(&res, acme, chall->url, md_json_new_obj(p), what, p);
}

apr_status_t md_acme_order_finalize(md_acme_order_t **porder, md_acme_t *acme,
                                    const md_acme_order_t *order, const unsigned char *csr_der,
                                    apr_size_t csr_len, apr_pool_t *p)
{
    const char *what = apr_psprintf(p, "finalizing order %s", order->url);
    md_json_t *payload = md_json_new_obj(p);
    md_acme_res_t *res;
    const md_json_t *j;
    apr_status_t rv;

    *porder = NULL;
    if (!order->finalize) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "%s: the order has no finalize URL",
                      what);
        return APR_EINVAL;
    }
    md_json_set_str(payload, "csr", md_base64url_encode(csr_der, csr_len, p));
    rv = post(&res, acme, order->finalize, payload, what, p);
    if (rv == APR_SUCCESS && (rv = res_json(&j, res, what)) == APR_SUCCESS &&
        (rv = md_acme_order_from_json(porder, j, order->url, p)) == APR_SUCCESS) {
        (*porder)->retry_after = res->retry_after;
    }
    return rv;
}

/* md_acme_chain.c: an order's certificate as a full chain (RFC 8555 7.4.2): the PEM chain the CA
 * serves, its issuers fetched by Link rel="up", and an alternate chain (rel="alternate") by name.
 */
#include <string.h>

#include <apr_strings.h>

#include "md_acme.h"
#include "md_chain.h"
#include "md_log.h"
#include "md_util.h"

/* RFC 8555 7.4.2: the media type of a certificate chain in PEM. */
#define MD_CT_PEM_CHAIN "application/pem-certificate-chain"
/* What an issuer URL may serve: a PEM chain or one DER certificate (RFC 5280 4.2.2.1). */
#define MD_CT_ISSUER MD_CT_PEM_CHAIN ", application/pkix-cert;q=0.9"
/* Issuers fetched for one chain. Web PKI chains have one to three intermediates; a CA that
 * links further is broken or hostile, and each hop is a request. */
#define MD_CHAIN_UP_HOPS_MAX 10
/* Certificates in a chain we complete: bounds a hostile answer full of cross-signed ones. */
#define MD_CHAIN_CERTS_MAX 16
/* Alternate chains looked at. Let's Encrypt offers one or two. */
#define MD_CHAIN_ALTERNATES_MAX 10
#define MD_HTTP_ERROR_MIN 400

/* One fetched resource: its certificates and where it links to. */
typedef struct {
    apr_array_header_t *certs; /* md_cert_t* */
    apr_array_header_t *up;    /* const char*: rel="up" */
    apr_array_header_t *alt;   /* const char*: rel="alternate" */
} chain_answer_t;

/* The certificates and links of an answer; what names the request in logs. */
static apr_status_t answer_parse(chain_answer_t *ans, const md_http_response_t *http,
                                 const char *what, apr_pool_t *p)
{
    const char *err = NULL;
    apr_status_t rv;

    rv = md_chain_from_pem_or_der(&ans->certs, &err, http->body, http->body_len, p);
    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv,
                      "%s: the CA's answer (HTTP %d, %s) holds no certificate: %s", what,
                      http->status, apr_table_get(http->headers, "Content-Type"), err);
        return rv;
    }
    md_http_links(&ans->up, http, "up", p);
    md_http_links(&ans->alt, http, "alternate", p);
    return APR_SUCCESS;
}

/* A certificate resource of the CA, by POST-as-GET (RFC 8555 7.4.2). */
static apr_status_t fetch_cert(chain_answer_t *ans, md_acme_t *acme, const char *url,
                               const char *what, apr_pool_t *p)
{
    const md_acme_problem_t *prob;
    md_acme_res_t *res;
    apr_status_t rv;

    rv = md_acme_post_accept(&res, acme, url, NULL, MD_CT_PEM_CHAIN, p);
    if (rv != APR_SUCCESS) {
        prob = md_acme_last_problem(acme);
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s failed: %s", what,
                      prob ? md_acme_problem_str(prob, p) : md_http_last_error(md_acme_http(acme)));
        return rv;
    }
    return answer_parse(ans, res->http, what, p);
}

/* An issuer the CA links to. It may be an ACME resource (POST-as-GET) or a plain one such as
 * an AIA caIssuers URL (GET): the one the CA refuses is tried the other way. An https
 * directory's context refuses plain http URLs either way (md_http_set_https_only). */
static apr_status_t fetch_issuer(chain_answer_t *ans, md_acme_t *acme, const char *url,
                                 const char *what, apr_pool_t *p)
{
    md_http_response_t *http = NULL;
    md_acme_res_t *res;
    apr_status_t rv;

    rv = md_acme_post_accept(&res, acme, url, NULL, MD_CT_ISSUER, p);
    if (rv == APR_SUCCESS) {
        return answer_parse(ans, res->http, what, p);
    }
    if (rv == APR_EINTR) {
        return rv;
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, rv, "%s: POST-as-GET refused, trying GET", what);
    rv = md_http_request_accept(&http, md_acme_http(acme), "GET", url, NULL, MD_CT_ISSUER, NULL, 0,
                                p);
    if (rv == APR_SUCCESS && http->status >= MD_HTTP_ERROR_MIN) {
        rv = APR_EGENERAL;
    }
    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s failed: %s", what,
                      http ? apr_psprintf(p, "HTTP %d", http->status)
                           : md_http_last_error(md_acme_http(acme)));
        return rv;
    }
    return answer_parse(ans, http, what, p);
}

/* Follows rel="up" from the top of chain until a root (not added: clients have their own),
 * a link-less issuer, or MD_CHAIN_UP_HOPS_MAX. Every fetched certificate must have issued the
 * top so far. A top that is no root with no up links is where the CA's chain ends. */
static apr_status_t chain_complete(apr_array_header_t *chain, apr_array_header_t *up,
                                   md_acme_t *acme, const char *cert_url, apr_pool_t *p)
{
    apr_array_header_t *seen = apr_array_make(p, 4, sizeof(const char *));
    const char *url, *what;
    chain_answer_t ans;
    md_cert_t *cert;
    apr_status_t rv;
    int i;

    while (!md_cert_is_self_signed(md_chain_top(chain)) && up->nelts > 0) {
        for (i = 0, url = NULL; i < up->nelts && !url; ++i) {
            url = APR_ARRAY_IDX(up, i, const char *);
            url = md_array_str_index(seen, url, 1) < 0 ? url : NULL;
        }
        if (!url) {
            break; /* a loop: the links lead back to where we were */
        }
        if (seen->nelts >= MD_CHAIN_UP_HOPS_MAX) {
            md_log_perror(MD_LOG_MARK, MD_LOG_WARN, APR_EINVAL,
                          "certificate %s: stopped after %d issuers linked as rel=\"up\", the "
                          "chain ends at %s",
                          cert_url, MD_CHAIN_UP_HOPS_MAX, md_cert_subject(md_chain_top(chain), p));
            break;
        }
        APR_ARRAY_PUSH(seen, const char *) = url;
        what = apr_psprintf(
            p, "certificate %s: fetching the issuer of %s from %s", cert_url,
            chain->nelts == 1 ? "the leaf" : md_cert_subject(md_chain_top(chain), p), url);
        if ((rv = fetch_issuer(&ans, acme, url, what, p)) != APR_SUCCESS) {
            return rv;
        }
        for (i = 0; i < ans.certs->nelts; ++i) {
            cert = APR_ARRAY_IDX(ans.certs, i, md_cert_t *);
            if (!md_cert_issued_by(md_chain_top(chain), cert)) {
                md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL,
                              "%s: the certificate there (%s) did not issue it", what,
                              md_cert_subject(cert, p));
                return APR_EINVAL;
            }
            if (md_cert_is_self_signed(cert)) {
                return APR_SUCCESS;
            }
            if (chain->nelts >= MD_CHAIN_CERTS_MAX) {
                md_log_perror(MD_LOG_MARK, MD_LOG_WARN, APR_EINVAL,
                              "%s: the chain has %d certificates, not adding more", what,
                              chain->nelts);
                return APR_SUCCESS;
            }
            APR_ARRAY_PUSH(chain, md_cert_t *) = cert;
        }
        up = ans.up;
    }
    return APR_SUCCESS;
}

/* One chain at url, completed, without a root; its alternates into *palt when palt is set. */
static apr_status_t chain_get(apr_array_header_t **pchain, apr_array_header_t **palt,
                              md_acme_t *acme, const char *url, apr_pool_t *p)
{
    const char *what = apr_psprintf(p, "downloading the certificate %s", url);
    chain_answer_t ans;
    apr_status_t rv;

    *pchain = NULL;
    if ((rv = fetch_cert(&ans, acme, url, what, p)) != APR_SUCCESS ||
        (rv = chain_complete(ans.certs, ans.up, acme, url, p)) != APR_SUCCESS) {
        return rv;
    }
    md_chain_drop_root(ans.certs);
    if (palt) {
        *palt = ans.alt;
    }
    *pchain = ans.certs;
    return APR_SUCCESS;
}

/* The first alternate chain that has name and starts with leaf; NULL when none. The names
 * of those looked at are added to offered. A broken alternate is skipped (logged). */
static apr_array_header_t *alternate_pick(md_acme_t *acme, const apr_array_header_t *alt,
                                          const md_cert_t *leaf, const char *name,
                                          apr_array_header_t *offered, apr_pool_t *p)
{
    const char *leaf_fp = md_cert_fingerprint(leaf, p), *url;
    apr_array_header_t *chain;

    for (int i = 0; i < alt->nelts && i < MD_CHAIN_ALTERNATES_MAX; ++i) {
        url = APR_ARRAY_IDX(alt, i, const char *);
        if (chain_get(&chain, NULL, acme, url, p) != APR_SUCCESS) {
            continue; /* told there */
        }
        if (strcmp(md_cert_fingerprint(APR_ARRAY_IDX(chain, 0, md_cert_t *), p), leaf_fp)) {
            md_log_perror(MD_LOG_MARK, MD_LOG_WARN, APR_EINVAL,
                          "alternate chain %s starts with another certificate than the "
                          "order's; ignoring it",
                          url);
            continue;
        }
        APR_ARRAY_PUSH(offered, const char *) = md_chain_name(chain, p);
        if (md_chain_has_name(chain, name, p)) {
            return chain;
        }
    }
    return NULL;
}

apr_status_t md_acme_cert_download(apr_array_header_t **pchain, md_acme_t *acme, const char *url,
                                   const char *preferred, apr_pool_t *p)
{
    apr_array_header_t *chain, *alt, *offered, *picked;
    apr_status_t rv;

    *pchain = NULL;
    if ((rv = chain_get(&chain, &alt, acme, url, p)) != APR_SUCCESS) {
        return rv;
    }
    *pchain = chain;
    if (!preferred || md_chain_has_name(chain, preferred, p)) {
        return APR_SUCCESS;
    }
    offered = apr_array_make(p, alt->nelts + 1, sizeof(const char *));
    APR_ARRAY_PUSH(offered, const char *) = md_chain_name(chain, p);
    if ((picked = alternate_pick(acme, alt, APR_ARRAY_IDX(chain, 0, md_cert_t *), preferred,
                                 offered, p))) {
        md_log_perror(MD_LOG_MARK, MD_LOG_INFO, APR_SUCCESS,
                      "certificate %s: using the alternate chain to '%s' (MDPreferredChain)", url,
                      preferred);
        *pchain = picked;
        return APR_SUCCESS;
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_INFO, APR_SUCCESS,
                  "certificate %s: no chain leads to '%s' (MDPreferredChain); the CA offers "
                  "'%s'; using the default chain",
                  url, preferred, md_array_str_join(offered, "', '", p));
    return APR_SUCCESS;
}

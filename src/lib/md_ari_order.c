/* md_ari_order.c: ARI (RFC 9773 5) in the renewal job -- the certificate an order replaces,
 * noted when the job starts, sent as "replaces" in newOrder, dropped when the CA refuses it. */
#include <string.h>

#include "md_ari_drive.h"
#include "md_log.h"

#define HTTP_CONFLICT 409

md_ari_state_t *md_ari_job_take(md_store_t *store, const md_t *md, apr_pool_t *p)
{
    apr_array_header_t *aspects;
    md_ari_state_t *ari;

    if (!md->ari_renewals || md_ari_load(&ari, store, md->name, p) != APR_SUCCESS) {
        return NULL;
    }
    if (md_store_aspects(&aspects, store, MD_SG_STAGING, md->name, p) == APR_SUCCESS &&
        aspects->nelts == 1 && !strcmp(APR_ARRAY_IDX(aspects, 0, const char *), MD_FN_ARI)) {
        md_store_purge(store, MD_SG_STAGING, md->name, p);
    }
    return ari;
}

void md_ari_job_replaces(md_job_t *job, const md_ari_state_t *ari, const char *ca_url)
{
    if (job->step != MD_STEP_NONE || !ari || !ari->ca_url || strcmp(ari->ca_url, ca_url)) {
        return;
    }
    for (int i = 0; i < ari->certs->nelts; ++i) {
        const md_ari_cert_t *c = APR_ARRAY_IDX(ari->certs, i, const md_ari_cert_t *);
        if (c->checked && !md_job_replaces(job, c->key)) {
            md_job_set_replaces(job, c->key, c->cert_id);
        }
    }
}

/* Whether the CA refused newOrder for its "replaces": RFC 9773 7.1's alreadyReplaced, a 409
 * (conflict), or a malformed request or a detail that names the replacement (a CA that
 * does not take the member, a certificate not of this CA). A refusal of the names, the profile
 * or our rate is not one: asking again without would only cost another order. */
static int refused_replaces(md_acme_t *acme, apr_status_t rv)
{
    const md_acme_problem_t *prob = md_acme_last_problem(acme);
    const char *type;

    if (!prob || APR_STATUS_IS_EAGAIN(rv)) {
        return 0;
    }
    type = md_acme_problem_short_type(prob);
    return !strcmp(type, "alreadyReplaced") || !strcmp(type, "malformed") ||
           prob->status == HTTP_CONFLICT || (prob->detail && strstr(prob->detail, "replace"));
}

apr_status_t md_ari_order_new(md_acme_order_t **porder, md_acme_t *acme, md_acme_order_req_t *req,
                              md_job_t *job, const char *key, apr_pool_t *p)
{
    apr_status_t rv;

    req->replaces = md_job_replaces(job, key);
    rv = md_acme_order_new(porder, acme, req, p);
    if (rv == APR_SUCCESS || !req->replaces || !refused_replaces(acme, rv)) {
        return rv;
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_WARN, rv,
                  "%s: the CA refused a new order that replaces the %s certificate %s (%s): "
                  "ordering again without 'replaces'",
                  job->name, key, req->replaces,
                  md_acme_problem_str(md_acme_last_problem(acme), p));
    md_job_set_replaces(job, key, NULL);
    req->replaces = NULL;
    return md_acme_order_new(porder, acme, req, p);
}

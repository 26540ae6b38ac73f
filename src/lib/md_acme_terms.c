/* md_acme_terms.c: a CA's terms of service over an account's life (RFC 8555 7.3.3): noticing new
 * terms, or the CA asking for agreement, and agreeing again when the operator accepts them. */
#include <string.h>

#include "md_acme.h"
#include "md_log.h"

/* MDCertificateAgreement's word for "whatever terms the CA has" */
#define TERMS_ACCEPTED "accepted"

int md_acme_problem_wants_terms(const md_acme_problem_t *prob)
{
    const char *type = md_acme_problem_short_type(prob);

    return (!strcmp(type, "userActionRequired") && prob->terms) ||
           !strcmp(type, "agreementRequired");
}

const char *md_acme_terms_new(const md_acme_acct_t *acct, const md_acme_directory_t *dir)
{
    if (!dir->terms_of_service || (acct->agreement && !strcmp(acct->agreement, TERMS_ACCEPTED)) ||
        (acct->agreement && !strcmp(acct->agreement, dir->terms_of_service))) {
        return NULL;
    }
    return dir->terms_of_service;
}

int md_acme_terms_covered(const char *agreement, const char *terms)
{
    return agreement &&
           (!strcmp(agreement, TERMS_ACCEPTED) || (terms && !strcmp(agreement, terms)));
}

apr_status_t md_acme_acct_agree_terms(md_acme_acct_t *acct, md_acme_t *acme, md_store_t *store,
                                      apr_pool_t *p)
{
    apr_status_t rv;

    if ((rv = md_acme_acct_update(acct, acme, store, NULL, TERMS_ACCEPTED, p)) == APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_NOTICE, APR_SUCCESS,
                      "account %s agreed to the terms of service %s of the CA at %s "
                      "(MDCertificateAgreement accepted)",
                      acct->id, acct->agreement, md_acme_url(acme));
    }
    return rv;
}

/* md_drive_acct.c: the account step of a drive (RFC 8555 7.3) -- the MD's account, a shared or
 * stored one of the CA, or a new one (with its EAB); new terms of service; a CA reset. */
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "md_drive_step.h"
#include "md_log.h"

/* An account id in accounts/ that was made at our CA, and may serve the MD's binding. */
static int account_of_ca(md_drive_t *d, const char *id)
{
    md_acme_acct_t *acct;
    md_pkey_t *key;

    return md_acme_acct_load(&acct, &key, d->store, id, d->p) == APR_SUCCESS && acct->ca_url &&
           !strcmp(acct->ca_url, d->ca_url) && md_acme_acct_fits_eab(acct, d->md->eab_kid);
}

/* The CA wants an external account binding that the MD lacks: the operator must configure
 * one (refused: trying again changes nothing). */
static apr_status_t eab_missing(md_drive_t *d, apr_status_t rv)
{
    const md_acme_directory_t *dir;
    const md_acme_problem_t *prob = md_acme_last_problem(d->acme);
    int required = !strcmp(md_acme_problem_short_type(prob), "externalAccountRequired") ||
                   (md_acme_directory(&dir, d->acme) == APR_SUCCESS && dir->eab_required);

    if (d->md->eab_kid || !required) {
        return APR_SUCCESS;
    }
    d->err.refused = 1;
    return md_drive_fail(
        d, rv == APR_SUCCESS ? APR_EACCES : rv, NULL, prob,
        "the CA %s requires external account binding (EAB) for a new account: get a key "
        "id and HMAC key from the CA and configure them with 'MDExternalAccountBinding "
        "<kid> <hmac>' or 'MDExternalAccountBinding <file.json>' (a2md: drive "
        "--eab-file FILE)",
        d->ca_url);
}

/* Registering failed: a missing binding or agreement to the CA's terms deserves its own
 * words. */
static apr_status_t register_fail(md_drive_t *d, apr_status_t rv)
{
    const md_acme_directory_t *dir;
    const char *agreed = d->md->ca_agreement;

    if (eab_missing(d, rv) != APR_SUCCESS) {
        return d->err.status;
    }
    if (APR_STATUS_IS_EACCES(rv) && md_acme_directory(&dir, d->acme) == APR_SUCCESS &&
        dir->terms_of_service && !md_acme_terms_covered(agreed, dir->terms_of_service)) {
        return md_drive_fail(
            d, rv, NULL, NULL,
            "the CA's terms of service %s are not agreed to (agreement: %s); agree with "
            "'MDCertificateAgreement accepted' or 'a2md -t accepted'",
            dir->terms_of_service, agreed ? agreed : "none");
    }
    return md_drive_ca_fail(d, rv, NULL, "registering an account");
}

/* RFC 8555 7.3: an account at the CA -- the MD's own while the CA still knows it, else one of
 * ours for this CA (bound to the MD's EAB key id, when it has one), else a new one (agreeing
 * to the terms when the MD does). Each of these leaves the context signing with the account. */
static apr_status_t choose_account(md_drive_t *d, md_acme_acct_t **pacct)
{
    md_acme_acct_t *acct = NULL;
    apr_status_t rv = APR_ENOENT;

    if (d->md->ca_account && account_of_ca(d, d->md->ca_account)) {
        rv = md_acme_acct_validate(&acct, d->acme, d->store, d->md->ca_account, d->p);
        if (rv == APR_SUCCESS && !md_drive_is(acct->status, ST_VALID)) {
            rv = APR_ENOENT;
        }
    }
    if (APR_STATUS_IS_ENOENT(rv)) {
        rv = md_acme_acct_find(&acct, d->acme, d->store, d->md->ca_account, d->md->eab_kid, d->p);
    }
    if (APR_STATUS_IS_ENOENT(rv)) {
        if (d->md->eab_file && !d->md->eab_kid) {
            d->err.refused = 1;
            return md_drive_fail(
                d, APR_ENOENT, NULL, NULL,
                "a new account needs the external account binding of "
                "MDExternalAccountBinding, but its file %s could not be read when the "
                "server started: create it ({\"kid\": ..., \"hmac\": ...}, readable by "
                "root only) and restart the server (graceful)",
                d->md->eab_file);
        }
        rv = md_acme_acct_register(&acct, d->acme, d->store, d->md->contacts, d->md->ca_agreement,
                                   d->md->eab_kid, d->md->eab_hmac, NULL, d->p);
        if (rv != APR_SUCCESS) {
            return register_fail(d, rv);
        }
    }
    if (rv != APR_SUCCESS) {
        return md_drive_ca_fail(d, rv, NULL, "looking up the account");
    }
    *pacct = acct;
    return APR_SUCCESS;
}

/* New terms at the CA since the account agreed (RFC 8555 7.3.3): agreed to when the MD accepts
 * them; else said, and driven on (the CA may not insist; when it does, terms_asked() says what
 * to do). */
static apr_status_t account_terms(md_drive_t *d, md_acme_acct_t *acct)
{
    const md_acme_directory_t *dir;
    const char *terms;
    apr_status_t rv;

    if (md_acme_directory(&dir, d->acme) != APR_SUCCESS ||
        !(terms = md_acme_terms_new(acct, dir))) {
        return APR_SUCCESS;
    }
    if (!md_acme_terms_covered(d->md->ca_agreement, terms)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_WARN, APR_SUCCESS,
                      "%s: the CA %s has new terms of service %s (account %s agreed to %s): read "
                      "them and, if you agree, set 'MDCertificateAgreement accepted'",
                      d->md->name, d->ca_url, terms, acct->id,
                      acct->agreement ? acct->agreement : "none");
        return APR_SUCCESS;
    }
    if ((rv = md_acme_acct_agree_terms(acct, d->acme, d->store, d->p)) != APR_SUCCESS) {
        return md_drive_ca_fail(d, rv, NULL, "agreeing to the CA's new terms of service");
    }
    return APR_SUCCESS;
}

/* The account another job of this run had confirmed by the CA, when this MD may use it (it
 * has no account of its own, or that same one): signing with it needs no request. */
static apr_status_t shared_account(md_drive_t *d, md_acme_acct_t **pacct)
{
    md_drive_accts_t *accts = d->accts;
    md_acme_acct_t *acct;
    md_pkey_t *key;
    apr_status_t rv;

    if (!accts || !accts->id || strcmp(accts->ca_url, d->ca_url) ||
        (d->md->ca_account && strcmp(d->md->ca_account, accts->id)) ||
        (d->md->eab_kid && (!accts->eab_kid || strcmp(d->md->eab_kid, accts->eab_kid)))) {
        return APR_ENOENT;
    }
    if (!accts->key) {
        /* loaded once per run: decoding the key for each MD costs more than its requests */
        if ((rv = md_acme_acct_load(&acct, &key, d->store, accts->id, accts->p)) != APR_SUCCESS) {
            return rv;
        }
        accts->acct = acct;
        accts->key = key;
    }
    md_acme_use_account(d->acme, accts->key, accts->acct->url);
    *pacct = accts->acct;
    return APR_SUCCESS;
}

apr_status_t md_drive_step_account(md_drive_t *d)
{
    md_acme_acct_t *acct = NULL;
    apr_status_t rv;

    d->err.step = MD_STEP_ACCOUNT;
    if (d->accts) {
        apr_thread_mutex_lock(d->accts->lock);
    }
    if ((rv = shared_account(d, &acct)) != APR_SUCCESS) {
        rv = choose_account(d, &acct);
        if (rv == APR_SUCCESS) {
            rv = account_terms(d, acct);
        }
        if (rv == APR_SUCCESS && d->accts) {
            d->accts->ca_url = apr_pstrdup(d->accts->p, d->ca_url);
            d->accts->id = apr_pstrdup(d->accts->p, acct->id);
            d->accts->eab_kid = acct->eab_kid ? apr_pstrdup(d->accts->p, acct->eab_kid) : NULL;
            d->accts->acct = NULL;
            d->accts->key = NULL;
        }
    }
    if (d->accts) {
        apr_thread_mutex_unlock(d->accts->lock);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* recorded in the job; md_drive_install writes it into md.json (domains/ is not ours) */
    d->md->ca_account = acct->id;
    md_job_set_account(d->job, acct->id);
    md_job_note(d->job, MD_STEP_ACCOUNT,
                apr_psprintf(d->p, "account %s (%s)", acct->id, acct->url));
    return APR_SUCCESS;
}

int md_drive_account_forgotten(const md_drive_t *d)
{
    return d->err.problem &&
           !strcmp(md_acme_problem_short_type(d->err.problem), "accountDoesNotExist");
}

void md_drive_forget_account(md_drive_t *d)
{
    const char *old = d->md->ca_account;

    if (d->accts) {
        apr_thread_mutex_lock(d->accts->lock);
        if (d->accts->id && old && !strcmp(d->accts->id, old)) {
            d->accts->id = NULL;
            d->accts->acct = NULL;
            d->accts->key = NULL;
        }
        apr_thread_mutex_unlock(d->accts->lock);
    }
    d->md->ca_account = NULL;
}

apr_status_t md_drive_terms_asked(md_drive_t *d, apr_status_t rv, int *pagain)
{
    const md_acme_problem_t *prob = d->err.problem;
    const md_acme_directory_t *dir;
    const char *terms = prob ? prob->terms : NULL;
    md_acme_acct_t *acct;
    md_pkey_t *key;

    *pagain = 0;
    if (!prob || !md_acme_problem_wants_terms(prob) || !d->md->ca_account) {
        return rv;
    }
    if (!terms && md_acme_directory(&dir, d->acme) == APR_SUCCESS) {
        terms = dir->terms_of_service;
    }
    if (!md_acme_terms_covered(d->md->ca_agreement, terms)) {
        d->err.refused = 1;
        return md_drive_fail(
            d, rv, NULL, prob,
            "the CA %s asks account %s to agree to its terms of service %s: read them "
            "and, if you agree, set 'MDCertificateAgreement accepted' and restart the "
            "server gracefully (or run 'a2md -t accepted acme agree %s')",
            d->ca_url, d->md->ca_account, terms ? terms : "(no URL given)", d->md->ca_account);
    }
    if ((rv = md_acme_acct_load(&acct, &key, d->store, d->md->ca_account, d->p)) != APR_SUCCESS) {
        return md_drive_fail(d, rv, NULL, NULL, "cannot load account %s", d->md->ca_account);
    }
    md_acme_use_account(d->acme, key, acct->url);
    if ((rv = md_acme_acct_agree_terms(acct, d->acme, d->store, d->p)) != APR_SUCCESS) {
        return md_drive_ca_fail(d, rv, NULL, "agreeing to the CA's terms of service");
    }
    memset(&d->err, 0, sizeof(d->err));
    *pagain = 1;
    return APR_SUCCESS;
}

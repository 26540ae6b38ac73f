/* md_drive_step.h: what the steps of one MD's drive share across files -- the drive's state and
 * how a step fails (md_drive.c), the account step (md_drive_acct.c). Library-internal. */
#ifndef MD_DRIVE_STEP_H
#define MD_DRIVE_STEP_H

#include <string.h>

#include "md_drive_int.h"
#include "md_drive_job.h"

/* RFC 8555 7.1.3 / 7.1.4: order and authorization states. */
#define ST_PENDING "pending"
#define ST_READY "ready"
#define ST_PROCESSING "processing"
#define ST_VALID "valid"

/* A challenge answer set up for an authorization of the order in progress. */
typedef struct {
    const md_acme_authz_t *authz;
    const md_acme_chall_t *chall;
} md_drive_answer_t;

typedef struct {
    md_reg_t *reg;
    md_store_t *store;
    md_t *md; /* our copy: the account chosen is written into it */
    const md_drive_opts_t *opts;
    md_chall_env_t chall;
    const char *ca_url;
    md_acme_t *acme;
    md_job_t *job;
    md_drive_accts_t *accts; /* shared by jobs running together, NULL when alone */
    md_drive_conn_t *conn;   /* the worker thread's CA client, NULL when alone */
    apr_pool_t *p;
    /* the certificate being worked on: one order per key spec */
    const md_pkey_spec_t *spec;
    const char *spec_name;
    md_acme_order_t *order;
    md_pkey_t *key;
    apr_array_header_t *chain;
    md_job_error_t err;           /* what went wrong, when something did */
    apr_array_header_t *answered; /* md_drive_answer_t*: challenges set up for this order */
} md_drive_t;

/* Whether an ACME object (order, authorization, challenge) has the status expected. */
static inline int md_drive_is(const char *status, const char *expected)
{
    return status && !strcmp(status, expected);
}

/* Records what went wrong in the current step (with the CA's problem when it sent one) and
 * returns the status to give up with. */
apr_status_t md_drive_fail(md_drive_t *d, apr_status_t rv, const char *domain,
                           const md_acme_problem_t *prob, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A request to the CA failed: with the CA's problem when it sent one, else the reason. */
apr_status_t md_drive_ca_fail(md_drive_t *d, apr_status_t rv, const char *domain, const char *what);

/* RFC 8555 7.3: the account the drive signs with (md_drive_acct.c). */
apr_status_t md_drive_step_account(md_drive_t *d);
/* The drive failed because the CA does not know the account it used (a CA reset). */
int md_drive_account_forgotten(const md_drive_t *d);
/* The account is not to be used again in this run: by this drive (it looks the account up
 * anew and registers one when the CA knows none) nor by the drives beside it -- unless one of
 * them has already replaced it. */
void md_drive_forget_account(md_drive_t *d);
/* The drive failed as the CA asks for agreement to its terms (RFC 8555 7.3.3): when the MD
 * accepts them, the account agrees and *pagain says to run the drive once more; else the error
 * says which terms and how to accept them. */
apr_status_t md_drive_terms_asked(md_drive_t *d, apr_status_t rv, int *pagain);

#endif

/* md_drive_job.h: staging/<name> as md_drive.c keeps it: the persisted job (job.json: steps,
 * orders, errors with backoff) and the staged set with its verification. Library-internal. */
#ifndef MD_DRIVE_JOB_H
#define MD_DRIVE_JOB_H

#include "md_acme.h"
#include "md_drive.h"

/* The job's "log" keeps this many of its latest entries. */
#define MD_JOB_LOG_MAX 20

typedef struct {
    md_store_t *store;
    const char *name;
    md_json_t *json; /* job.json as it is saved */
    md_step_t step;  /* the last completed step */
    /* transient failures' backoff (md_retry_wait); 0: MD_RETRY_TRANSIENT_BASE / _MAX */
    apr_interval_time_t retry_delay, retry_max;
    /* failures: at least errors_min before this one counts (what the process remembers when
     * job.json could not be saved); errors and next_try as md_job_failed set them */
    int errors_min, errors;
    apr_time_t next_try;
    apr_pool_t *p;
} md_job_t;

/* What went wrong in a step, to be recorded. */
typedef struct {
    md_step_t step;                   /* the step that failed */
    const char *domain;               /* the domain it concerned, NULL when none */
    apr_status_t status;              /* never APR_SUCCESS */
    const md_acme_problem_t *problem; /* what the CA said, NULL when it said nothing */
    const char *detail;               /* one line for people */
    int refused; /* the same would happen again (an unusable certificate): retried hours apart */
} md_job_error_t;

/* Loads the job of md or starts a new one. A job for other domains, key specs or another
 * CA than md now has -- or any job when reset is set -- is discarded with everything staged
 * beside it (staging/<name> is purged). Nothing is saved yet. */
apr_status_t md_job_open(md_job_t **pjob, md_store_t *store, const md_t *md, const char *ca_url,
                         int reset, apr_pool_t *p);

/* Whether job (job.json) was made for md's profile (MDProfile): a job for another one is
 * started afresh, and its failures' next try no longer holds (the operator changed it). */
int md_job_of_profile(const md_json_t *job, const md_t *md);

/* Records that step is complete (with a log line for people) and saves the job. */
apr_status_t md_job_done(md_job_t *job, md_step_t step, const char *detail);
/* The same without the save, for a step whose result a resumed job gets back for free (the
 * account is chosen again, an order's state is asked anyway): the next save carries it. */
void md_job_note(md_job_t *job, md_step_t step, const char *detail);

void md_job_set_account(md_job_t *job, const char *account_id);
/* The ARI id of the certificate that the order of key spec 'key' replaces (RFC 9773 5: sent
 * as "replaces" in newOrder), NULL when none; setting it (NULL: none). */
const char *md_job_replaces(const md_job_t *job, const char *key);
void md_job_set_replaces(md_job_t *job, const char *key, const char *cert_id);
/* The CA the next drive is to use ("ca-next"): failover after this one could not be reached. */
void md_job_set_ca_next(md_job_t *job, const char *ca_url);

/* The order of key spec 'key' ("rsa2048"): its URL (NULL when none), setting it. */
const char *md_job_order_url(const md_job_t *job, const char *key);
void md_job_set_order(md_job_t *job, const char *key, const char *url, const char *status);
/* The certificate profile the CA gave that order (NULL: it named none). */
void md_job_set_order_profile(md_job_t *job, const char *key, const char *profile);
/* Whether the certificate of key spec 'key' is verified and saved in staging. */
int md_job_is_staged(const md_job_t *job, const char *key);
void md_job_set_staged(md_job_t *job, const char *key);

/* The failures in a row so far (job.json's count, or what the process remembers if more). */
int md_job_errors(const md_job_t *job);

/* Records a failure: counts it, keeps the error, sets next-try (backoff; also in job->errors
 * and job->next_try, which hold when the save fails), logs one line at ERR ("<md>: <step>
 * failed for <domain>: <reason>; next try at <time>") and saves. */
apr_status_t md_job_failed(md_job_t *job, const md_job_error_t *err);

/* Records the end: step "staged", the error count and error cleared; saves. */
apr_status_t md_job_finished(md_job_t *job);

/* File name of a staged key or certificate ("privkey"/"pubcert" + the spec's suffix). */
const char *md_job_file(const char *base, const md_pkey_spec_t *spec, apr_pool_t *p);

/* Whether a chain and key are exactly what md asks for: leaf names equal its domains, the
 * key matches, the chain links up, not expired. APR_EINVAL with the reason in *pwhy. */
apr_status_t md_job_verify(const char **pwhy, const md_t *md, const apr_array_header_t *chain,
                           const md_pkey_t *key, apr_pool_t *p);

/* The key and chain of spec in group (staging, live), verified; the reason in *pwhy
 * otherwise. */
apr_status_t md_job_load_staged(const char **pwhy, md_pkey_t **pkey, apr_array_header_t **pchain,
                                md_store_t *store, md_store_group_t group, const md_t *md,
                                const md_pkey_spec_t *spec, apr_pool_t *p);

#endif

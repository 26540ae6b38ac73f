/* md_drive.h: the renewal job -- one linear state machine per MD that takes it from "needs a
 * certificate" to a verified set in staging/, persisted in staging/<name>/job.json. */
#ifndef MD_DRIVE_H
#define MD_DRIVE_H

#include "md.h"
#include "md_challenge.h"
#include "md_reg.h"

/* How a drive may talk to the CA and answer challenges (the same for all MDs of a run). */
typedef struct {
    const char *ca_file;       /* trust for the CA's TLS; NULL: system */
    const char *proxy;         /* NULL: none beyond curl's environment */
    const char *proxy_ca_file; /* trust for an https:// proxy's TLS; NULL: system */
    md_chall_env_t chall;      /* challenge types possible / allowed, dns-01 command */
    int reset;                 /* start afresh: discard a job in progress */
    /* When *cancel becomes non-zero (apr_atomic_set32; server shutdown), drives stop at their
     * next wait with APR_EINTR and keep their progress; MDs not started are left. NULL: never. */
    volatile apr_uint32_t *cancel;
    apr_interval_time_t authz_timeout; /* give up waiting for validations after (0: default) */
    apr_interval_time_t order_timeout; /* give up waiting for issuance after (0: default) */
    apr_interval_time_t retry_delay;   /* wait after a first failure, doubling (0: default) */
    apr_interval_time_t retry_max;     /* the longest wait between tries (0: default) */
    /* MDRetryFailover: after this many failed tries in a row at one CA of several, the next
     * one is tried (0: MD_DRIVE_RETRY_FAILOVER); a CA not reached at all is left at once */
    int retry_failover;
    /* Called in the drive's own thread as soon as md's set is staged and verified, while other
     * MDs of the run may still be driven (the module makes it live at once). p is the job's
     * pool, for this thread only, gone after the call. NULL: none. */
    void (*on_staged)(const md_t *md, void *baton, apr_pool_t *p);
    void *on_staged_baton;
    /* Called in the drive's thread at "renewing" (a drive starts work for md) and at
     * "challenge-setup:<type>:<domain>" (an answer is set up, before the CA is told): the
     * module's MDMessageCmd. A failure aborts the drive (retried later). NULL: none. */
    apr_status_t (*on_event)(const char *event, const md_t *md, void *baton, apr_pool_t *p);
    void *on_event_baton;
} md_drive_opts_t;

#define MD_DRIVE_RETRY_FAILOVER 13

/* Steps of the job, in order; job.json "step" holds the name of the last completed one. */
typedef enum {
    MD_STEP_NONE,     /* nothing done yet */
    MD_STEP_ACCOUNT,  /* an account of the CA is chosen (and agreed to its terms) */
    MD_STEP_ORDER,    /* an order exists for the MD's names (per key spec) */
    MD_STEP_AUTHZ,    /* every authorization is valid */
    MD_STEP_FINALIZE, /* key made, CSR sent */
    MD_STEP_DOWNLOAD, /* chain downloaded */
    MD_STEP_STAGED,   /* verified and staged: ready for installation */
} md_step_t;

const char *md_step_name(md_step_t step);

/* Drives md: resumes the job in staging/<name>/job.json (or starts one) and runs it until the
 * certificates for all key specs are staged and verified, or an error. On error the job
 * records it -- what, which step and domain, the CA's problem, the time of the next try
 * (exponential backoff) -- and domains/ stays untouched. Safe to run for several MDs
 * concurrently (each call has its own contexts). */
apr_status_t md_drive(md_reg_t *reg, const md_t *md, const md_drive_opts_t *opts, apr_pool_t *p);

/* Drives all mds with up to 'concurrency' at a time (threads); returns the first failure
 * after all are done. */
apr_status_t md_drive_all(md_reg_t *reg, const apr_array_header_t *mds, const md_drive_opts_t *opts,
                          int concurrency, apr_pool_t *p);

/* Carries out md_plan_next's "install" (md_plan.c): the verified set in staging/<name>
 * (once staged longer than activation_delay) or live/<name> is promoted to domains/<name>,
 * the old set to archive/. APR_ENOENT when there is nothing to install, APR_EAGAIN when a
 * staged set waits for its activation, APR_EINVAL (logged) when a staged set does not fit. */
apr_status_t md_drive_install(md_reg_t *reg, const char *name, apr_interval_time_t activation_delay,
                              apr_pool_t *p);

/* The job as stored (NULL-safe JSON; APR_ENOENT when there is none). */
apr_status_t md_drive_job_load(md_json_t **pjob, md_reg_t *reg, const char *name, apr_pool_t *p);

#endif

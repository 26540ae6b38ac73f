/* md_plan.h: what comes next for an MD -- install a verified set, drive now or at a time, or
 * wait for a staged set's activation -- decided in one place for the module and a2md alike. */
#ifndef MD_PLAN_H
#define MD_PLAN_H

#include "md.h"
#include "md_reg.h"

typedef enum {
    MD_PLAN_INSTALL,  /* the verified set in plan->from is to go live / be installed now */
    MD_PLAN_DRIVE,    /* a certificate is needed at plan->at (<= now: now) */
    MD_PLAN_ACTIVATE, /* a verified staged set waits for its activation at plan->at */
} md_plan_step_t;

typedef struct {
    apr_interval_time_t activation_delay; /* MDActivationDelay: from staging to serving */
    int live_presented; /* the workers present live/<name> already (only the module knows) */
    /* domains/ as root saw it (md_reg_cert_infos), for callers that cannot read it (the
     * module's children); NULL: read it */
    const apr_array_header_t *installed;
    /* MDCheckInterval: certificates due from the moment they are issued (a renew window at
     * least as long as their lifetime) renew at most this often; 0: no such limit (a2md) */
    apr_interval_time_t check_interval;
} md_plan_opts_t;

typedef struct {
    md_plan_step_t step;
    apr_time_t at;            /* DRIVE, ACTIVATE: when */
    md_store_group_t from;    /* INSTALL: MD_SG_STAGING or MD_SG_LIVE */
    md_store_group_t current; /* where the certificates in use are: MD_SG_DOMAINS or _LIVE */
    apr_time_t renew_at;      /* the current set's renew window opens (0: it has none) */
    const char *refused;      /* why a set in staging/ is not installable, NULL when none is */
    const char *why;          /* one line for logs */
    int always_due;           /* the certificates in use were due when issued (see above) */
    apr_time_t ari_at;        /* the CA's renewal information (ARI) has renewal due then (0: no) */
    apr_time_t ari_check_at;  /* when the CA is to be asked for it next (0: not) */
    /* INSTALL, ACTIVATE: the set in plan->from as loaded and verified (md_set_entry_t*), what
     * installation writes to domains/ without reading the User's files again */
    const apr_array_header_t *set;
} md_plan_t;

/* Decides what comes next for md at 'now'. In order: a staged set that is installable (every
 * key spec's key and chain pass md_job_verify for md as it is now) is installed once its
 * activation time (staged + delay) has come; a live set not yet presented is installed (also
 * while a newer staged one waits); a staged set waits for its activation; a staged set that
 * no longer fits md makes the next drive start over at once (plan->refused says why);
 * otherwise the set in use (live or domains) decides: drive when its renew window opens
 * (once per check_interval for certificates due when issued) or at the moment chosen in the
 * CA's ARI window, whichever comes first, or at once when a key spec lacks a usable
 * certificate -- never before the job's next try after a failure. */
apr_status_t md_plan_next(md_plan_t *plan, md_reg_t *reg, const md_t *md,
                          const md_plan_opts_t *opts, apr_time_t now, apr_pool_t *p);

/* The md_cert_info_t* per key spec of the certificates md uses now: live/ when the workers
 * present it (opts->live_presented), else domains/ (opts->installed when given). */
const apr_array_header_t *md_plan_current_infos(md_reg_t *reg, const md_t *md,
                                                const md_plan_opts_t *opts, apr_time_t now,
                                                apr_pool_t *p);

/* The set md has in group (staging, live), one md_set_entry_t* per key spec, each passing
 * md_job_verify (names equal md's, key matches, chain links, not expired): the one test of an
 * installable set. APR_EINVAL or APR_ENOENT with the reason in *pwhy. */
apr_status_t md_plan_load_set(apr_array_header_t **pset, const char **pwhy, md_reg_t *reg,
                              const md_t *md, md_store_group_t group, apr_pool_t *p);

const char *md_plan_step_name(md_plan_step_t step); /* "install", "drive", "activate" */

#endif

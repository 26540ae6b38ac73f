/* md_plan.c: the one decision of what comes next for an MD (md_plan_next) on the one test of
 * an installable set, and the install step that carries a set into domains/. */
#include <string.h>
#include <apr_strings.h>

#include "md_ari.h"
#include "md_cert.h"
#include "md_drive.h"
#include "md_drive_job.h"
#include "md_log.h"
#include "md_plan.h"
#include "md_util.h"

static const char *const step_names[] = {
    [MD_PLAN_INSTALL] = "install",
    [MD_PLAN_DRIVE] = "drive",
    [MD_PLAN_ACTIVATE] = "activate",
};

const char *md_plan_step_name(md_plan_step_t step)
{
    return (unsigned) step < sizeof(step_names) / sizeof(step_names[0]) ? step_names[step]
                                                                        : "unknown";
}

apr_status_t md_plan_load_set(apr_array_header_t **pset, const char **pwhy, md_reg_t *reg,
                              const md_t *md, md_store_group_t group, apr_pool_t *p)
{
    const apr_array_header_t *specs = md_pkey_specs(md, p);
    apr_array_header_t *set = apr_array_make(p, specs->nelts, sizeof(md_set_entry_t *));
    const char *why;
    apr_status_t rv;

    *pset = NULL;
    *pwhy = NULL;
    for (int i = 0; i < specs->nelts; ++i) {
        md_set_entry_t *e = apr_pcalloc(p, sizeof(*e));
        e->spec = APR_ARRAY_IDX(specs, i, const md_pkey_spec_t *);
        rv = md_job_load_staged(&why, &e->key, &e->chain, md_reg_store(reg), group, md, e->spec, p);
        if (rv != APR_SUCCESS) {
            *pwhy = apr_psprintf(p, "%s: %s", md_pkey_spec_name(e->spec, p), why);
            return rv;
        }
        APR_ARRAY_PUSH(set, md_set_entry_t *) = e;
    }
    if (set->nelts == 0) {
        *pwhy = "the MD has no key specs";
        return APR_ENOENT;
    }
    *pset = set;
    return APR_SUCCESS;
}

/* Whether group has a certificate file of md at all (a set worth a word when it is refused). */
static int has_certs(md_reg_t *reg, const md_t *md, md_store_group_t group, apr_pool_t *p)
{
    const apr_array_header_t *specs = md_pkey_specs(md, p);

    for (int i = 0; i < specs->nelts; ++i) {
        const md_pkey_spec_t *spec = APR_ARRAY_IDX(specs, i, const md_pkey_spec_t *);
        if (md_store_exists(md_reg_store(reg), group, md->name, md_job_file(MD_FN_PUBCERT, spec, p),
                            p)) {
            return 1;
        }
    }
    return 0;
}

static apr_time_t json_time(const md_json_t *j, const char *key)
{
    const char *s = md_json_get_str(j, key);
    apr_time_t t;

    return s && md_time_parse(&t, s) == APR_SUCCESS ? t : 0;
}

/* When the set in staging/ was staged: the job says (older jobs: their last update). */
static apr_time_t staged_at(md_reg_t *reg, const md_t *md, apr_pool_t *p)
{
    md_json_t *job;
    apr_time_t t = 0;

    if (md_drive_job_load(&job, reg, md->name, p) == APR_SUCCESS) {
        t = json_time(job, "staged-at");
        t = t ? t : json_time(job, "updated");
    }
    return t;
}

/* What the certificates of a set in staging/ or live/ say about renewing, from the chains
 * alone: those sets were verified with their keys when they got there, and decrypting a key
 * (PBKDF2, OpenSSL's decoders) costs far more than everything else here. */
static apr_array_header_t *chain_infos(md_reg_t *reg, const md_t *md, md_store_group_t group,
                                       apr_time_t now, apr_pool_t *p)
{
    const apr_array_header_t *specs = md_pkey_specs(md, p);
    apr_array_header_t *infos = apr_array_make(p, specs->nelts, sizeof(md_cert_info_t *));
    apr_array_header_t *chain;
    const char *err;

    for (int i = 0; i < specs->nelts; ++i) {
        md_cert_info_t *info = apr_pcalloc(p, sizeof(*info));
        const md_cert_t *leaf;
        info->spec = APR_ARRAY_IDX(specs, i, const md_pkey_spec_t *);
        info->spec_name = md_pkey_spec_name(info->spec, p);
        info->state = MD_S_INCOMPLETE;
        if (md_store_load_chain(&chain, &err, md_reg_store(reg), group, md->name,
                                md_job_file(MD_FN_PUBCERT, info->spec, p), p) == APR_SUCCESS &&
            chain->nelts > 0) {
            leaf = APR_ARRAY_IDX(chain, 0, const md_cert_t *);
            info->present = 1;
            info->not_before = md_cert_not_before(leaf);
            info->not_after = md_cert_not_after(leaf);
            info->renew_at = md_renew_at(md, info->not_before, info->not_after);
            info->fingerprint = md_cert_fingerprint(leaf, p);
            if (md_cert_ari_id(&info->ari_id, leaf, p) != APR_SUCCESS) {
                info->ari_id = NULL;
            }
            info->state = !md_cert_covers(leaf, md->domains, p) ? MD_S_INCOMPLETE
                          : info->not_after <= now              ? MD_S_EXPIRED
                                                                : MD_S_COMPLETE;
        }
        APR_ARRAY_PUSH(infos, md_cert_info_t *) = info;
    }
    return infos;
}

/* What md's certificates in group look like: domains/ as the caller saw it, when it did. */
static const apr_array_header_t *infos_of(md_reg_t *reg, const md_t *md, md_store_group_t group,
                                          const md_plan_opts_t *opts, apr_time_t now, apr_pool_t *p)
{
    apr_array_header_t *infos;

    if (group != MD_SG_DOMAINS) {
        return chain_infos(reg, md, group, now, p);
    }
    if (opts && opts->installed) {
        return opts->installed;
    }
    md_reg_cert_infos(&infos, reg, md, group, now, p);
    return infos;
}

const apr_array_header_t *md_plan_current_infos(md_reg_t *reg, const md_t *md,
                                                const md_plan_opts_t *opts, apr_time_t now,
                                                apr_pool_t *p)
{
    return infos_of(reg, md, opts && opts->live_presented ? MD_SG_LIVE : MD_SG_DOMAINS, opts, now,
                    p);
}

/* The leaf fingerprints of a set's certificates, joined: its identity. */
static const char *set_id(const apr_array_header_t *infos, apr_pool_t *p)
{
    apr_array_header_t *prints = apr_array_make(p, infos->nelts, sizeof(const char *));

    for (int i = 0; i < infos->nelts; ++i) {
        const md_cert_info_t *info = APR_ARRAY_IDX(infos, i, const md_cert_info_t *);
        APR_ARRAY_PUSH(prints, const char *) = info->fingerprint ? info->fingerprint : "-";
    }
    return md_array_str_join(prints, ",", p);
}

/* What the ARI state says of the certificate of info: when the CA would have it renewed (0:
 * nothing), and plan->ari_check_at moved to its next ask. */
static apr_time_t ari_renew_at(const md_ari_state_t *ari, const md_t *md,
                               const md_cert_info_t *info, md_plan_t *plan)
{
    const md_ari_cert_t *c = ari && info->spec_name ? md_ari_cert_get(ari, info->spec_name) : NULL;
    apr_time_t at = md_ari_renew_at(ari, md, info);

    if (at && (!plan->ari_at || at < plan->ari_at)) {
        plan->ari_at = at;
    }
    if (c && info->ari_id && !strcmp(c->cert_id, info->ari_id) && c->next_check &&
        (!plan->ari_check_at || c->next_check < plan->ari_check_at)) {
        plan->ari_check_at = c->next_check;
    }
    return at;
}

/* When a set needs renewing: the earliest renew window of its certificates -- or the moment
 * chosen in the CA's ARI window when that comes first -- or now when a key spec has no
 * usable one (missing, expired, not covering every name). A certificate whose window opened
 * the moment it was issued (the window at least as long as its lifetime) waits
 * check_interval (> 0) from its issuance: else every drive would order the next one at once;
 * the same holds for an ARI moment. */
static apr_time_t renew_at(const apr_array_header_t *infos, const md_ari_state_t *ari,
                           const md_t *md, apr_time_t now, apr_interval_time_t check_interval,
                           md_plan_t *plan)
{
    apr_time_t at = 0, cert_at, ari_at;

    plan->renew_at = 0;
    for (int i = 0; i < infos->nelts; ++i) {
        const md_cert_info_t *info = APR_ARRAY_IDX(infos, i, const md_cert_info_t *);
        if (info->state != MD_S_COMPLETE) {
            return now;
        }
        cert_at = info->renew_at;
        if (check_interval > 0 && cert_at <= info->not_before) {
            plan->always_due = 1;
            cert_at = info->not_before + check_interval;
        }
        ari_at = ari_renew_at(ari, md, info, plan);
        if (ari_at && check_interval > 0 && ari_at < info->not_before + check_interval) {
            /* a CA whose windows lie in the past for every new certificate too would have
             * us renew in a loop */
            ari_at = info->not_before + check_interval;
        }
        if (ari_at && ari_at < cert_at) {
            cert_at = ari_at;
        }
        if (!at || cert_at < at) {
            at = cert_at;
        }
    }
    plan->renew_at = at;
    return infos->nelts ? at : now;
}

/* Whether staging/ holds a set installable for md; *pat: when it is to go live (staged +
 * MDActivationDelay). A set there that does not fit is noted in plan->refused. */
static int staged_set(apr_time_t *pat, apr_array_header_t **pset, md_plan_t *plan, md_reg_t *reg,
                      const md_t *md, const md_plan_opts_t *opts, apr_pool_t *p)
{
    const char *why = NULL;

    if (!md_store_exists(md_reg_store(reg), MD_SG_STAGING, md->name, NULL, p)) {
        return 0;
    }
    if (md_plan_load_set(pset, &why, reg, md, MD_SG_STAGING, p) == APR_SUCCESS) {
        *pat = staged_at(reg, md, p) + (opts ? opts->activation_delay : 0);
        return 1;
    }
    if (has_certs(reg, md, MD_SG_STAGING, p)) {
        plan->refused = apr_psprintf(p, "staging/%s does not fit the MD (%s)", md->name, why);
    }
    return 0;
}

/* Whether live/ holds a verified set that domains/ does not have yet. What the workers present
 * was verified when it was published: only a live set not presented yet is checked again. */
static int live_to_install(apr_array_header_t **pset, md_reg_t *reg, const md_t *md,
                           const md_plan_opts_t *opts, apr_time_t now, apr_pool_t *p)
{
    const char *why;

    return !(opts && opts->live_presented) &&
           md_store_exists(md_reg_store(reg), MD_SG_LIVE, md->name, NULL, p) &&
           md_plan_load_set(pset, &why, reg, md, MD_SG_LIVE, p) == APR_SUCCESS &&
           strcmp(set_id(infos_of(reg, md, MD_SG_LIVE, opts, now, p), p),
                  set_id(infos_of(reg, md, MD_SG_DOMAINS, opts, now, p), p));
}

static void plan_set(md_plan_t *plan, md_plan_step_t step, apr_time_t at, md_store_group_t from,
                     const apr_array_header_t *set, const char *why)
{
    plan->step = step;
    plan->at = at;
    plan->from = from;
    plan->set = set;
    plan->why = why;
}

apr_status_t md_plan_next(md_plan_t *plan, md_reg_t *reg, const md_t *md,
                          const md_plan_opts_t *opts, apr_time_t now, apr_pool_t *p)
{
    apr_array_header_t *staged = NULL, *live = NULL;
    md_ari_state_t *ari;
    md_json_t *job;
    apr_time_t at = 0, next_try, remembered;

    memset(plan, 0, sizeof(*plan));
    plan->current = opts && opts->live_presented ? MD_SG_LIVE : MD_SG_DOMAINS;
    if (staged_set(&at, &staged, plan, reg, md, opts, p) && at <= now) {
        plan_set(plan, MD_PLAN_INSTALL, now, MD_SG_STAGING, staged, "a verified set is staged");
        return APR_SUCCESS;
    }
    /* a live set goes into domains/ even while a newer staged one waits for its activation:
     * after a restart the server presents what its workers presented before */
    if (live_to_install(&live, reg, md, opts, now, p)) {
        plan_set(plan, MD_PLAN_INSTALL, now, MD_SG_LIVE, live, "a verified set is live");
        return APR_SUCCESS;
    }
    if (staged) {
        plan_set(plan, MD_PLAN_ACTIVATE, at, MD_SG_STAGING, staged,
                 "a verified set is staged and waits for its activation");
        return APR_SUCCESS;
    }
    plan->step = MD_PLAN_DRIVE;
    if (!md->ari_renewals || md_ari_load(&ari, md_reg_store(reg), md->name, p) != APR_SUCCESS) {
        ari = NULL;
    }
    plan->at = renew_at(infos_of(reg, md, plan->current, opts, now, p), ari, md, now,
                        opts ? opts->check_interval : 0, plan);
    plan->why = plan->at <= now ? "a certificate is needed"
                : plan->ari_at && plan->at == plan->ari_at
                    ? "the CA's renewal information (ARI) has it renewed then"
                    : "the renew window opens then";
    if (plan->refused) {
        /* the staged set was made for what the MD was (a name since removed, another key
         * type): the next drive drops it and orders what the MD is now -- still not before
         * the job's next try, so that a drive that keeps failing never loops */
        plan->at = now;
        plan->why = "the staged set no longer fits the MD";
    }
    next_try =
        md_drive_job_load(&job, reg, md->name, p) == APR_SUCCESS && md_job_of_profile(job, md)
            ? json_time(job, "next-try")
            : 0;
    /* what this process remembers of a drive whose job.json could not be saved */
    if (md_reg_failure_get(reg, md->name, &remembered) > 0 && remembered > next_try) {
        next_try = remembered;
    }
    if (plan->at <= now && next_try > now) {
        plan->at = next_try;
        plan->why = "the next try after a failure";
    }
    return APR_SUCCESS;
}

/* ---- install ---- */

/* The account a job used goes into md.json here, at installation: the driver may run
 * unprivileged and writes only staging/ (and accounts/), never domains/. */
static void remember_account(md_reg_t *reg, md_t *md, const char *id, apr_pool_t *p)
{
    if (!id || (md->ca_account && !strcmp(md->ca_account, id))) {
        return;
    }
    md->ca_account = id;
    if (md_reg_update(reg, md->name, md, p) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_WARN, APR_SUCCESS,
                      "%s: could not remember account %s in md.json", md->name, id);
    }
}

apr_status_t md_drive_install(md_reg_t *reg, const char *name, apr_interval_time_t activation_delay,
                              apr_pool_t *p)
{
    md_plan_opts_t opts = {activation_delay, 0, NULL, 0};
    md_store_t *store = md_reg_store(reg);
    md_json_t *job = NULL;
    const char *archived, *err;
    md_plan_t plan;
    md_t *md;
    apr_status_t rv;

    if ((rv = md_reg_get(&md, reg, name, p)) != APR_SUCCESS ||
        (rv = md_plan_next(&plan, reg, md, &opts, apr_time_now(), p)) != APR_SUCCESS) {
        return rv;
    }
    if (plan.step == MD_PLAN_ACTIVATE) {
        md_log_perror(MD_LOG_MARK, MD_LOG_INFO, APR_SUCCESS,
                      "%s: the staged set is not installed before its activation at %s", name,
                      md_time_format(plan.at, p));
        return APR_EAGAIN;
    }
    if (plan.step != MD_PLAN_INSTALL) {
        if (plan.refused) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "%s: not installed: %s", name,
                          plan.refused);
            return APR_EINVAL;
        }
        return APR_ENOENT;
    }
    /* before promote removes it: the account the job used */
    md_store_load_json(&job, &err, store, plan.from, name, MD_FN_JOB, p);
    if ((rv = md_store_promote(&archived, store, plan.from, name, plan.set, p)) != APR_SUCCESS) {
        return rv;
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_INFO, APR_SUCCESS, "%s: %s set installed%s%s", name,
                  md_store_group_name(plan.from), archived ? ", previous set in archive/" : "",
                  archived ? archived : "");
    if (plan.from == MD_SG_STAGING && md_store_exists(store, MD_SG_LIVE, name, NULL, p)) {
        md_store_purge(store, MD_SG_LIVE, name, p); /* older than what was just installed */
    }
    remember_account(reg, md, md_json_get_str(job, "account"), p);
    return APR_SUCCESS;
}

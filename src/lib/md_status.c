/* md_status.c: what the certificates of an MD look like (per key spec), the MD's state
 * derived from them, and the status JSON that a2md and the md-status handler show. */
#include <apr_strings.h>

#include "md_ari.h"
#include "md_reg.h"
#include "md_cert.h"
#include "md_persist.h"

static const char *file_name(const char *base, const md_pkey_spec_t *spec, apr_pool_t *p)
{
    return apr_pstrcat(p, base, md_pkey_spec_file_suffix(spec, p), ".pem", NULL);
}

static void read_cert_info(md_cert_info_t *info, md_store_t *store, const md_t *md,
                           md_store_group_t group, apr_time_t now, apr_pool_t *p)
{
    apr_array_header_t *chain;
    md_cert_t *leaf;
    md_pkey_t *key;
    const char *err = NULL;
    apr_status_t rv;

    info->state = MD_S_INCOMPLETE;
    rv = md_store_load_chain(&chain, &err, store, group, md->name,
                             file_name(MD_FN_PUBCERT, info->spec, p), p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        info->problem = "certificate is missing";
        return;
    }
    info->present = 1;
    info->state = MD_S_ERROR;
    if (rv != APR_SUCCESS || chain->nelts == 0) {
        info->problem = apr_psprintf(p, "certificate unreadable: %s", err ? err : "empty");
        return;
    }
    leaf = APR_ARRAY_IDX(chain, 0, md_cert_t *);
    info->not_before = md_cert_not_before(leaf);
    info->not_after = md_cert_not_after(leaf);
    info->renew_at = md_renew_at(md, info->not_before, info->not_after);
    info->warn_at = md_warn_at(md, info->not_before, info->not_after);
    info->subject = md_cert_subject(leaf, p);
    info->issuer = md_cert_issuer(leaf, p);
    info->serial = md_cert_serial_hex(leaf, p);
    info->fingerprint = md_cert_fingerprint(leaf, p);
    info->names = md_cert_names(leaf, p);
    if (md_cert_ari_id(&info->ari_id, leaf, p) != APR_SUCCESS) {
        info->ari_id = NULL;
    }

    rv = md_store_load_pkey(&key, &err, store, group, md->name,
                            file_name(MD_FN_PRIVKEY, info->spec, p), p);
    if (rv != APR_SUCCESS) {
        info->problem = APR_STATUS_IS_ENOENT(rv)
                            ? "private key is missing"
                            : apr_psprintf(p, "private key unreadable: %s", err ? err : "");
    } else if (!md_cert_matches_key(leaf, key)) {
        info->problem = "private key does not match the certificate";
    } else if (!md_cert_covers(leaf, md->domains, p)) {
        /* the MD got more names since: a new certificate is needed, nothing is broken */
        info->state = MD_S_INCOMPLETE;
        info->problem = "certificate does not cover all domains of the MD";
    } else if (info->not_after <= now) {
        info->state = MD_S_EXPIRED;
        info->problem =
            apr_psprintf(p, "certificate expired on %s", md_time_format(info->not_after, p));
    } else {
        info->state = MD_S_COMPLETE;
    }
}

/* error > incomplete > expired > complete: the state an MD shows is its worst certificate's */
static int state_rank(md_state_t s)
{
    switch (s) {
    case MD_S_ERROR:
        return 3;
    case MD_S_INCOMPLETE:
        return 2;
    case MD_S_EXPIRED:
        return 1;
    default:
        return 0;
    }
}

/* The job beside a set in staging/ or live/ names the profile each key spec's order got;
 * domains/ keeps no job. NULL when not known. */
static md_json_t *set_orders(md_reg_t *reg, const md_t *md, md_store_group_t group, apr_pool_t *p)
{
    md_json_t *job = NULL;
    const char *err;

    if (group == MD_SG_DOMAINS || md_store_load_json(&job, &err, md_reg_store(reg), group, md->name,
                                                     MD_FN_JOB, p) != APR_SUCCESS) {
        return NULL;
    }
    return md_json_get(job, "orders", p);
}

apr_status_t md_reg_cert_infos(apr_array_header_t **pinfos, md_reg_t *reg, const md_t *md,
                               md_store_group_t group, apr_time_t now, apr_pool_t *p)
{
    const apr_array_header_t *specs = md_pkey_specs(md, p);
    apr_array_header_t *infos = apr_array_make(p, specs->nelts, sizeof(md_cert_info_t *));
    md_json_t *orders = set_orders(reg, md, group, p);
    int i;

    for (i = 0; i < specs->nelts; ++i) {
        md_cert_info_t *info = apr_pcalloc(p, sizeof(*info));
        info->spec = APR_ARRAY_IDX(specs, i, const md_pkey_spec_t *);
        info->spec_name = md_pkey_spec_name(info->spec, p);
        read_cert_info(info, md_reg_store(reg), md, group, now, p);
        info->profile =
            apr_pstrdup(p, md_json_get_str(md_json_get(orders, info->spec_name, p), "profile"));
        APR_ARRAY_PUSH(infos, md_cert_info_t *) = info;
    }
    *pinfos = infos;
    return APR_SUCCESS;
}

void md_reg_compute_state(md_reg_t *reg, md_t *md, apr_time_t now, apr_pool_t *p)
{
    apr_array_header_t *infos;
    md_state_t state = MD_S_COMPLETE;
    const char *descr = NULL;
    int i;

    md_reg_cert_infos(&infos, reg, md, MD_SG_DOMAINS, now, p);
    for (i = 0; i < infos->nelts; ++i) {
        md_cert_info_t *info = APR_ARRAY_IDX(infos, i, md_cert_info_t *);
        if (state_rank(info->state) > state_rank(state)) {
            state = info->state;
            descr = apr_psprintf(p, "certificate(%s): %s", info->spec_name, info->problem);
        }
    }
    md->state = state;
    md->state_descr = descr;
}

static md_json_t *cert_info_json(const md_cert_info_t *info, apr_pool_t *p)
{
    md_json_t *j = md_json_new_obj(p);

    md_json_set_str(j, "key", info->spec_name);
    md_json_set_bool(j, "present", info->present);
    md_json_set_str(j, "state", md_state_name(info->state));
    if (info->problem) {
        md_json_set_str(j, "problem", info->problem);
    }
    if (info->names) {
        md_json_set_str(j, "valid-from", md_time_format(info->not_before, p));
        md_json_set_str(j, "valid-until", md_time_format(info->not_after, p));
        md_json_set_str(j, "renew-at", md_time_format(info->renew_at, p));
        md_json_set_str(j, "warn-at", md_time_format(info->warn_at, p));
        md_json_set_str(j, "subject", info->subject);
        md_json_set_str(j, "issuer", info->issuer);
        md_json_set_str(j, "serial", info->serial);
        md_json_set_str(j, "sha256-fingerprint", info->fingerprint);
        md_json_set_strs(j, "names", info->names);
        md_json_set_str(j, "profile", info->profile);
    }
    return j;
}

static md_json_t *cert_infos_json(const apr_array_header_t *infos, apr_time_t *prenew_at,
                                  apr_pool_t *p)
{
    md_json_t *arr = md_json_new_arr(p);
    int i;

    for (i = 0; i < infos->nelts; ++i) {
        md_cert_info_t *info = APR_ARRAY_IDX(infos, i, md_cert_info_t *);
        md_json_push(arr, cert_info_json(info, p));
        if (prenew_at && info->names && (!*prenew_at || info->renew_at < *prenew_at)) {
            *prenew_at = info->renew_at;
        }
    }
    return arr;
}

md_json_t *md_reg_cert_infos_json(const apr_array_header_t *infos, apr_pool_t *p)
{
    return cert_infos_json(infos, NULL, p);
}

const char *md_cert_info_key(const md_cert_info_t *info)
{
    return info->spec->type == MD_PKEY_RSA ? "rsa" : info->spec_name;
}

static md_json_t *validity_json(apr_time_t from, apr_time_t until, apr_pool_t *p)
{
    md_json_t *v = md_json_new_obj(p);

    md_json_set_str(v, "from", md_time_http(from, p));
    md_json_set_str(v, "until", md_time_http(until, p));
    return v;
}

md_json_t *md_reg_cert_json(const apr_array_header_t *infos, apr_pool_t *p)
{
    md_json_t *j = md_json_new_obj(p), *c;
    apr_time_t from = 0, until = 0;
    int n = 0;

    for (int i = 0; infos && i < infos->nelts; ++i) {
        const md_cert_info_t *info = APR_ARRAY_IDX(infos, i, const md_cert_info_t *);
        if (!info->present || !info->serial) {
            continue;
        }
        c = md_json_new_obj(p);
        md_json_set_str(c, "issuer-name", info->issuer);
        md_json_set(c, "valid", validity_json(info->not_before, info->not_after, p));
        md_json_set_str(c, "serial", info->serial);
        md_json_set_str(c, "sha256-fingerprint", info->fingerprint);
        md_json_set(j, md_cert_info_key(info), c);
        /* the time all of them are valid */
        from = !n || info->not_before > from ? info->not_before : from;
        until = !n || info->not_after < until ? info->not_after : until;
        ++n;
    }
    if (n) {
        md_json_set(j, "valid", validity_json(from, until, p));
    }
    return j;
}

/* "renewal" as the bundled module shows a renewal in progress or done, from the job. */
static md_json_t *renewal_json(const md_t *md, const md_json_t *job,
                               const apr_array_header_t *staged, apr_pool_t *p)
{
    md_json_t *r = md_json_new_obj(p), *last = md_json_new_obj(p), *err, *prob;
    const char *step = md_json_get_str(job, "step"), *when;
    apr_time_t t;
    int finished = step && !strcmp(step, "staged");

    md_json_set_str(r, "name", md->name);
    md_json_set_bool(r, "finished", finished);
    /* the module runs MDMessageCmd/MDNotifyCmd as the set is staged: done when finished */
    md_json_set_bool(r, "notified", finished);
    md_json_set_bool(r, "notified-renewed", finished);
    md_json_set_int(r, "errors", md_json_get_int(job, "errors", 0));
    if ((when = md_json_get_str(job, "updated")) && md_time_parse(&t, when) == APR_SUCCESS) {
        md_json_set_str(r, "last-run", md_time_http(t, p));
    }
    if ((when = md_json_get_str(job, "next-try")) && md_time_parse(&t, when) == APR_SUCCESS) {
        md_json_set_str(r, "next-run", md_time_http(t, p));
    }
    if ((err = md_json_get(job, "error", p)) != NULL) {
        /* an error number beside the words: consumers test status != 0 */
        md_json_set_int(last, "status", APR_EGENERAL);
        if ((prob = md_json_get(err, "problem", p)) != NULL) {
            md_json_set_str(last, "problem", md_json_get_str(prob, "type"));
        }
        md_json_set_str(last, "detail", md_json_get_str(err, "detail"));
        md_json_set_str(last, "activity", md_json_get_str(err, "step"));
    } else {
        md_json_set_int(last, "status", 0);
    }
    md_json_set(r, "last", last);
    if (finished && staged) {
        md_json_t *cert = md_reg_cert_json(staged, p);
        md_json_set(r, "cert", cert);
        /* the new set's: from when it is valid */
        if (md_json_has(md_json_get(cert, "valid", p), "from")) {
            md_json_set_str(r, "valid-from",
                            md_json_get_str(md_json_get(cert, "valid", p), "from"));
        }
    }
    return r;
}

static int has_present(const apr_array_header_t *infos)
{
    for (int i = 0; i < infos->nelts; ++i) {
        if (APR_ARRAY_IDX(infos, i, const md_cert_info_t *)->present) {
            return 1;
        }
    }
    return 0;
}

/* Whether the CA's renewal information has a certificate of infos due by now. */
static int ari_renews_by(const md_ari_state_t *ari, const md_t *md, const apr_array_header_t *infos,
                         apr_time_t now)
{
    for (int i = 0; i < infos->nelts; ++i) {
        apr_time_t at = md_ari_renew_at(ari, md, APR_ARRAY_IDX(infos, i, const md_cert_info_t *));
        if (at && at <= now) {
            return 1;
        }
    }
    return 0;
}

apr_status_t md_reg_status_json(md_json_t **pj, md_reg_t *reg, const md_t *md,
                                const apr_array_header_t *installed, apr_time_t now, apr_pool_t *p)
{
    md_json_t *j = md_to_json(md, p), *job = NULL, *persist, *ari;
    apr_array_header_t *infos;
    apr_time_t renew_at = 0;
    int ari_due = 0;
    const char *err;

    /* the bundled module's members and types (state and renew-mode numbers, as md.json has
     * them), our words beside them */
    md_json_set_str(j, "state-name", md_state_name(md->state));
    md_json_set_str(j, "renew-mode-name", md_renew_mode_name(md->renew_mode));
    if (!installed) {
        md_reg_cert_infos(&infos, reg, md, MD_SG_DOMAINS, now, p);
        installed = infos;
    }
    md_json_set(j, "cert", md_reg_cert_json(installed, p));
    md_json_set(j, "certificates", cert_infos_json(installed, &renew_at, p));
    if (renew_at) {
        md_json_set_str(j, "renew-at", md_time_http(renew_at, p));
    }
    if (md->ari_renewals && md_store_load_json(&ari, &err, md_reg_store(reg), MD_SG_STAGING,
                                               md->name, MD_FN_ARI, p) == APR_SUCCESS) {
        md_json_set(j, "ari", ari); /* as the last check left it: no request here */
        ari_due = ari_renews_by(md_ari_from_json(ari, p), md, installed, now);
    }
    md_json_set_bool(j, "renew",
                     md->state != MD_S_COMPLETE || (renew_at && renew_at <= now) || ari_due);
    if (md_store_exists(md_reg_store(reg), MD_SG_STAGING, md->name, NULL, p)) {
        md_json_t *staging = md_json_new_obj(p);
        if (md_store_load_json(&job, &err, md_reg_store(reg), MD_SG_STAGING, md->name, MD_FN_JOB,
                               p) == APR_SUCCESS) {
            md_json_set(staging, "job", job);
        }
        md_reg_cert_infos(&infos, reg, md, MD_SG_STAGING, now, p);
        md_json_set(staging, "certificates", cert_infos_json(infos, NULL, p));
        if (job || has_present(infos)) { /* not for the ARI state alone */
            md_json_set(j, "staging", staging);
        }
        if (job) {
            md_json_set(j, "renewal", renewal_json(md, job, infos, p));
        }
    } else if (md_store_load_json(&job, &err, md_reg_store(reg), MD_SG_LIVE, md->name, MD_FN_JOB,
                                  p) == APR_SUCCESS) {
        /* the renewal that made the set the workers present now */
        md_reg_cert_infos(&infos, reg, md, MD_SG_LIVE, now, p);
        md_json_set(j, "renewal", renewal_json(md, job, infos, p));
        job = NULL; /* done: its account is in use, not in a drive */
    }
    /* the drive's account is its job's until the set is installed */
    if ((persist = md_persist_status_json(
             md_reg_store(reg), md, job ? md_json_get_str(job, "account") : NULL, p)) != NULL) {
        md_json_set(j, "dns-persist", persist);
    }
    *pj = j;
    return APR_SUCCESS;
}

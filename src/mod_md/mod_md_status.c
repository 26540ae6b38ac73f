/* mod_md_status.c: the md-status handler -- JSON about every managed domain (or one, as
 * /md-status/<name>): state, names, certificates, renewal job and last error, next check. */
#include <string.h>

#include <apr_atomic.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "md_drive.h"
#include "md_json.h"
#include "md_plan.h"
#include "md_status_fmt.h"
#include "md_util.h"
#include "mod_md.h"
#include "mod_md_drive.h"
#include "mod_md_ocsp.h"

APLOG_USE_MODULE(md);

#define MD_MOD_STATUS_TYPE "application/json"

/* When the driver looks at md next, by md_plan_next: a drive due now happens at the driver's
 * next run; otherwise the plan's time (renew window, next try, activation) or the next ask
 * for the CA's renewal information, whichever comes first. NULL when the module does not
 * drive it. */
static const char *next_check(const md_mod_snap_t *snap, const md_plan_t *plan, apr_time_t next_run,
                              apr_time_t now, apr_pool_t *p)
{
    if (!snap->driven) {
        return NULL;
    }
    if (plan->at > now) {
        return md_time_format(plan->ari_check_at > now && plan->ari_check_at < plan->at
                                  ? plan->ari_check_at
                                  : plan->at,
                              p);
    }
    return md_time_format(next_run > now ? next_run : now, p);
}

static md_json_t *presented_cert(const char *key, const char *serial, const char *until,
                                 apr_pool_t *p)
{
    md_json_t *c = md_json_new_obj(p);

    md_json_set_str(c, "key", key);
    md_json_set_str(c, "serial", serial);
    md_json_set_str(c, "valid-until", until);
    return c;
}

/* What the workers present: "live" (live_infos: the set the driver published in live/),
 * "installed" (domains/, as the parent saw it at startup) or "temporary". */
static md_json_t *presented(request_rec *r, const apr_array_header_t *live_infos, md_json_t *status)
{
    md_json_t *j = md_json_new_obj(r->pool), *certs = md_json_new_arr(r->pool), *c;
    md_json_t *installed = md_json_get(status, "certificates", r->pool);

    if (live_infos) {
        md_json_set_str(j, "source", "live");
        for (int k = 0; k < live_infos->nelts; ++k) {
            const md_cert_info_t *info = APR_ARRAY_IDX(live_infos, k, const md_cert_info_t *);
            if (info->serial) {
                md_json_push(certs,
                             presented_cert(info->spec_name, info->serial,
                                            md_time_format(info->not_after, r->pool), r->pool));
            }
        }
    } else {
        for (apr_size_t k = 0; k < md_json_len(installed); ++k) {
            c = md_json_at(installed, k, r->pool);
            if (md_json_get_bool(c, "present", 0) && md_json_get_str(c, "serial")) {
                md_json_push(certs,
                             presented_cert(md_json_get_str(c, "key"), md_json_get_str(c, "serial"),
                                            md_json_get_str(c, "valid-until"), r->pool));
            }
        }
        md_json_set_str(j, "source", md_json_len(certs) ? "installed" : "temporary");
    }
    md_json_set(j, "certificates", certs);
    return j;
}

/* The startup snapshot with what changes while the server runs: staging/, the job, what is
 * presented. */
static md_json_t *md_status(request_rec *r, md_mod_conf_t *mc, const md_mod_snap_t *snap, int i,
                            apr_time_t next_run, apr_time_t now)
{
    md_json_t *j, *live = NULL, *proto;
    const char *err = NULL, *next;
    apr_array_header_t *live_infos = NULL;
    md_plan_opts_t opts;
    md_plan_t plan;

    if (md_json_parse(&j, &err, snap->status, strlen(snap->status), r->pool) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "%s: status unreadable: %s", snap->md->name,
                      err);
        j = md_json_new_obj(r->pool);
        md_json_set_str(j, "name", snap->md->name);
    }
    /* only staging/ changes while the server runs; domains/ (root's) is the snapshot's */
    if (md_reg_status_json(&live, mc->reg, snap->md, snap->installed, now, r->pool) ==
        APR_SUCCESS) {
        for (int k = 0; k < 2; ++k) {
            const char *key = k ? "renewal" : "staging";
            if (md_json_has(live, key)) {
                md_json_set(j, key, md_json_get(live, key, r->pool));
            }
        }
        md_json_set(j, "ari", md_json_get(live, "ari", r->pool)); /* NULL: none (any more) */
    }
    if (live && md_json_has(live, "dns-persist")) {
        /* the driver learns the CA's issuer name and the account while the server runs */
        md_json_set(j, "dns-persist", md_json_get(live, "dns-persist", r->pool));
    }
    opts = md_mod_plan_opts(mc, md_mod_gen_get(r->server), i);
    live_infos = md_mod_live_infos(mc, md_mod_gen_get(r->server), i, now, r->pool);
    md_json_set(j, "presented", presented(r, live_infos, j));
    md_json_set_bool(j, "watched", snap->watched);
    /* as the bundled module: the names tls-alpn-01 can be answered for (acme-tls/1 offered) */
    proto = md_json_new_obj(r->pool);
    md_json_set_strs(proto, "acme-tls/1",
                     mc->tlsalpn01_possible ? snap->md->domains
                                            : apr_array_make(r->pool, 0, sizeof(char *)));
    md_json_set(j, "proto", proto);
    md_json_set_int(j, "renewals-live", md_mod_live_published(mc, i));
    if (i < 0) {
        return j; /* an MD only in the store: the server neither serves nor renews it */
    }
    if (md_plan_next(&plan, mc->reg, snap->md, &opts, now, r->pool) != APR_SUCCESS) {
        return j;
    }
    if (live_infos) {
        /* the startup snapshot knew only domains/: what the workers present counts */
        md_json_set_int(j, "state", MD_S_COMPLETE);
        md_json_del(j, "state-descr");
        md_json_set_str(j, "state-name", md_state_name(MD_S_COMPLETE));
        md_json_set(j, "cert", md_reg_cert_json(live_infos, r->pool));
        md_json_set(j, "certificates", md_reg_cert_infos_json(live_infos, r->pool));
        md_json_set_str(j, "renew-at", md_time_http(plan.renew_at, r->pool));
    }
    md_json_set_bool(j, "renew",
                     plan.step == MD_PLAN_DRIVE && (!plan.renew_at || plan.renew_at <= now));
    if ((next = next_check(snap, &plan, next_run, now, r->pool))) {
        md_json_set_str(j, "next-check", next);
    }
    return j;
}

/* The MD name after the handler's location ("/md-status/<name>"), NULL for the whole list. */
static const char *requested_name(request_rec *r)
{
    const char *slash;

    if (!r->path_info || !*r->path_info || !strcmp(r->path_info, "/")) {
        return NULL;
    }
    slash = strrchr(r->path_info, '/');
    return slash ? slash + 1 : r->path_info;
}

/* The status of every MD: the configured ones, then those only in the store. */
static md_json_t *status_list(request_rec *r, md_mod_conf_t *mc, const md_mod_gen_t *gen,
                              apr_time_t next_run, apr_time_t now)
{
    md_json_t *mds = md_json_new_arr(r->pool);
    const md_mod_snap_t *snap;
    md_json_t *one;

    for (int i = 0; mc && gen && i < gen->snaps->nelts; ++i) {
        snap = APR_ARRAY_IDX(gen->snaps, i, const md_mod_snap_t *);
        one = md_status(r, mc, snap, i, next_run, now);
        md_mod_ocsp_status_add(mc, i, one, r->pool);
        md_json_push(mds, one);
    }
    for (int i = 0; mc && gen && i < gen->others->nelts; ++i) {
        snap = APR_ARRAY_IDX(gen->others, i, const md_mod_snap_t *);
        md_json_push(mds, md_status(r, mc, snap, -1, next_run, now));
    }
    return mds;
}

/* Whether the client prefers HTML (a browser) to JSON. */
static int wants_html(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");

    return accept && ap_strcasestr(accept, "text/html") &&
           !ap_strcasestr(accept, "application/json");
}

static void send_body(request_rec *r, const char *type, const char *body)
{
    ap_set_content_type(r, type);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        ap_rputs(body, r);
    }
}

/* SetHandler md-status (JSON; HTML for browsers) and md-metrics (Prometheus). */
static int status_handler(request_rec *r)
{
    md_mod_srv_t *sc;
    md_mod_gen_t *gen;
    const md_mod_snap_t *snap;
    const char *name;
    md_json_t *j, *mds;
    apr_time_t now = apr_time_now(), next_run = 0;
    int metrics;

    if (!r->handler ||
        (strcmp(r->handler, MD_MOD_STATUS_HANDLER) && strcmp(r->handler, MD_MOD_METRICS_HANDLER))) {
        return DECLINED;
    }
    metrics = !strcmp(r->handler, MD_MOD_METRICS_HANDLER);
    r->allowed = AP_METHOD_BIT << M_GET;
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    sc = md_mod_srv_get(r->server);
    gen = md_mod_gen_get(r->server);
    if (gen && gen->times) {
        next_run = (apr_time_t) apr_atomic_read64(&gen->times->next_run);
    }
    name = metrics ? NULL : requested_name(r);
    if (name) {
        if (!sc || !sc->mc || !(snap = md_mod_snap_find(gen, name))) {
            return HTTP_NOT_FOUND;
        }
        j = md_status(r, sc->mc, snap, md_mod_snap_index(gen, snap), next_run, now);
        md_mod_ocsp_status_add(sc->mc, md_mod_snap_index(gen, snap), j, r->pool);
        send_body(r, MD_MOD_STATUS_TYPE,
                  apr_pstrcat(r->pool, md_json_dump(j, 1, r->pool), "\n", NULL));
        return OK;
    }
    mds = status_list(r, sc ? sc->mc : NULL, gen, next_run, now);
    if (metrics) {
        send_body(r, "text/plain; version=0.0.4; charset=utf-8", md_status_metrics(mds, r->pool));
    } else if (wants_html(r)) {
        send_body(r, "text/html; charset=utf-8", md_status_html(mds, r->pool));
    } else {
        j = md_json_new_obj(r->pool);
        md_json_set_str(j, "version", MD_VERSION);
        md_json_set(j, "managed-domains", mds);
        if (next_run) {
            md_json_set_str(j, "next-run", md_time_format(next_run, r->pool));
        }
        send_body(r, MD_MOD_STATUS_TYPE,
                  apr_pstrcat(r->pool, md_json_dump(j, 1, r->pool), "\n", NULL));
    }
    return OK;
}

void md_mod_status_hooks(apr_pool_t *p)
{
    ap_hook_handler(status_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

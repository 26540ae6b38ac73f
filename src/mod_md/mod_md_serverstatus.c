/* mod_md_serverstatus.c: MDServerStatus -- the MDs in mod_status's page, as an HTML table and as
 * "ManagedDomain[i]..." lines of ?auto, with the names the bundled module uses there. */
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_protocol.h>
#include <apr_optional_hooks.h>
#include <mod_status.h>

#include "md_drive.h"
#include "md_plan.h"
#include "mod_md.h"
#include "mod_md_drive.h"

/* MDCertificateCheck's default: where a certificate's fingerprint is looked up in CT logs */
#define MD_MOD_CHECK_NAME_DEFAULT "crt.sh"
#define MD_MOD_CHECK_URL_DEFAULT "https://crt.sh?q="

/* One MD as the status page shows it. */
typedef struct {
    const md_t *md;
    const apr_array_header_t *presented; /* md_cert_info_t*, NULL: the temporary certificate */
    const char *status;                  /* good, renew, ready, error: ..., incomplete: ... */
    apr_time_t valid_until, renew_at;    /* of what is presented; 0: nothing */
} md_mod_row_t;

typedef struct {
    int total, ok, renew, errored, ready;
} md_mod_counts_t;

static void row_make(md_mod_row_t *row, md_mod_counts_t *counts, md_mod_conf_t *mc,
                     const md_mod_gen_t *gen, int i, apr_time_t now, apr_pool_t *p)
{
    const md_mod_snap_t *snap = APR_ARRAY_IDX(gen->snaps, i, const md_mod_snap_t *);
    md_plan_opts_t opts = md_mod_plan_opts(mc, gen, i);
    md_json_t *job = NULL, *err;
    md_plan_t plan;

    memset(row, 0, sizeof(*row));
    row->md = snap->md;
    row->presented = md_mod_presented(mc, gen, i, now, p);
    for (int k = 0; row->presented && k < row->presented->nelts; ++k) {
        const md_cert_info_t *info = APR_ARRAY_IDX(row->presented, k, const md_cert_info_t *);
        if (info->present && (!row->valid_until || info->not_after < row->valid_until)) {
            row->valid_until = info->not_after;
        }
    }
    counts->total++;
    md_drive_job_load(&job, mc->reg, snap->md->name, p);
    err = md_json_get(job, "error", p);
    if (md_plan_next(&plan, mc->reg, snap->md, &opts, now, p) != APR_SUCCESS) {
        plan.step = MD_PLAN_DRIVE;
        plan.renew_at = 0;
    }
    row->renew_at = plan.renew_at;
    if (plan.step == MD_PLAN_ACTIVATE || plan.step == MD_PLAN_INSTALL) {
        row->status = "ready";
        counts->ready++;
    } else if (err) {
        row->status = apr_pstrcat(p, "error: ", md_json_get_str(err, "detail"), NULL);
        counts->errored++;
    } else if (!row->valid_until) {
        row->status = apr_pstrcat(
            p, "incomplete: ", snap->md->state_descr ? snap->md->state_descr : "no certificate",
            NULL);
        counts->renew++;
    } else if (plan.renew_at && plan.renew_at <= now) {
        row->status = "renew";
        counts->renew++;
    } else {
        row->status = "good";
        counts->ok++;
    }
}

/* The CA's host name, for a short column. */
static const char *ca_name(const md_t *md, apr_pool_t *p)
{
    const char *url =
        md->ca_urls && md->ca_urls->nelts ? APR_ARRAY_IDX(md->ca_urls, 0, const char *) : NULL;
    const char *host = url ? strstr(url, "://") : NULL, *end;

    if (!host) {
        return "-";
    }
    host += 3;
    end = host + strcspn(host, ":/");
    return apr_pstrndup(p, host, (apr_size_t) (end - host));
}

static void print_auto(request_rec *r, md_mod_conf_t *mc, const md_mod_row_t *row, int i)
{
    const char *check_name = mc->check_name ? mc->check_name : MD_MOD_CHECK_NAME_DEFAULT;
    const char *check_url = mc->check_url ? mc->check_url : MD_MOD_CHECK_URL_DEFAULT;
    char day[APR_CTIME_LEN];
    apr_time_exp_t t;
    apr_size_t len;

    ap_rprintf(r, "ManagedDomain[%d]Domain: %s\n", i, row->md->name);
    for (int k = 0; k < row->md->domains->nelts; ++k) {
        ap_rprintf(r, "ManagedDomain[%d]Names[%d]: %s\n", i, k,
                   APR_ARRAY_IDX(row->md->domains, k, const char *));
    }
    ap_rprintf(r, "ManagedDomain[%d]Status: %s\n", i, row->status);
    if (row->valid_until && apr_time_exp_gmt(&t, row->valid_until) == APR_SUCCESS &&
        apr_strftime(day, &len, sizeof(day), "%Y-%m-%d", &t) == APR_SUCCESS) {
        ap_rprintf(r, "ManagedDomain[%d]ValidUntil: %s\n", i, day);
    }
    ap_rprintf(r, "ManagedDomain[%d]CAName: %s\n", i, ca_name(row->md, r->pool));
    if (row->md->ca_urls && row->md->ca_urls->nelts) {
        ap_rprintf(r, "ManagedDomain[%d]CAURL: %s\n", i,
                   APR_ARRAY_IDX(row->md->ca_urls, 0, const char *));
    }
    for (int k = 0; row->presented && k < row->presented->nelts; ++k) {
        const md_cert_info_t *info = APR_ARRAY_IDX(row->presented, k, const md_cert_info_t *);
        if (!info->present || !info->fingerprint) {
            continue;
        }
        ap_rprintf(r, "ManagedDomain[%d]CheckAtType: %s\n", i, info->spec_name);
        ap_rprintf(r, "ManagedDomain[%d]CheckAtName: %s\n", i, check_name);
        ap_rprintf(r, "ManagedDomain[%d]CheckAtURL: %s%s\n", i, check_url, info->fingerprint);
        ap_rprintf(r, "ManagedDomain[%d]CheckAtFingerprint: %s\n", i, info->fingerprint);
    }
    if (row->renew_at) {
        ap_rprintf(r, "ManagedDomain[%d]ActivityRenew: %" APR_TIME_T_FMT "\n", i,
                   apr_time_sec(row->renew_at - apr_time_now()));
    }
}

static void print_html(request_rec *r, md_mod_conf_t *mc, const md_mod_row_t *row)
{
    const char *check_url = mc->check_url ? mc->check_url : MD_MOD_CHECK_URL_DEFAULT;
    const char *check_name = mc->check_name ? mc->check_name : MD_MOD_CHECK_NAME_DEFAULT;
    const char *until = row->valid_until ? md_time_http(row->valid_until, r->pool) : "-";
    const char *renew = row->renew_at ? md_time_http(row->renew_at, r->pool) : "-";
    ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>",
               ap_escape_html(r->pool, row->md->name),
               ap_escape_html(r->pool, md_array_str_join(row->md->domains, " ", r->pool)),
               ap_escape_html(r->pool, row->status), until, renew);
    for (int k = 0; row->presented && k < row->presented->nelts; ++k) {
        const md_cert_info_t *info = APR_ARRAY_IDX(row->presented, k, const md_cert_info_t *);
        if (info->present && info->fingerprint) {
            ap_rprintf(r, "<a href=\"%s%s\">%s %s</a> ", ap_escape_html(r->pool, check_url),
                       info->fingerprint, ap_escape_html(r->pool, check_name), info->spec_name);
        }
    }
    ap_rputs("</td></tr>\n", r);
}

static int server_status(request_rec *r, int flags)
{
    md_mod_srv_t *srv = md_mod_srv_get(r->server);
    md_mod_conf_t *mc = srv ? srv->mc : NULL;
    const md_mod_gen_t *gen;
    md_mod_counts_t counts = {0, 0, 0, 0, 0};
    md_mod_row_t *rows;
    apr_time_t now = apr_time_now();

    if (!mc || !mc->server_status || !mc->reg || !(gen = md_mod_gen_get(r->server))) {
        return DECLINED;
    }
    rows = apr_pcalloc(r->pool, sizeof(*rows) * (apr_size_t) (gen->snaps->nelts + 1));
    for (int i = 0; i < gen->snaps->nelts; ++i) {
        row_make(&rows[i], &counts, mc, gen, i, now, r->pool);
    }
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r,
                   "ManagedCertificatesTotal: %d\nManagedCertificatesOK: %d\n"
                   "ManagedCertificatesRenew: %d\nManagedCertificatesErrored: %d\n"
                   "ManagedCertificatesReady: %d\n",
                   counts.total, counts.ok, counts.renew, counts.errored, counts.ready);
        for (int i = 0; i < gen->snaps->nelts; ++i) {
            print_auto(r, mc, &rows[i], i);
        }
        return OK;
    }
    ap_rprintf(r,
               "<hr>\n<h2>Managed Certificates</h2>\n<p>%d total: %d good, %d to renew, %d "
               "errored, %d ready</p>\n<table border=\"1\"><tr><th>Domain</th><th>Names</th>"
               "<th>Status</th><th>Valid until</th><th>Renew at</th><th>Check</th></tr>\n",
               counts.total, counts.ok, counts.renew, counts.errored, counts.ready);
    for (int i = 0; i < gen->snaps->nelts; ++i) {
        print_html(r, mc, &rows[i]);
    }
    ap_rputs("</table>\n", r);
    return OK;
}

void md_mod_serverstatus_hooks(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, server_status, NULL, NULL, APR_HOOK_MIDDLE);
}

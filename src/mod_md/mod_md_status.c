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
#include "md_util.h"
#include "mod_md.h"
#include "mod_md_drive.h"

APLOG_USE_MODULE(md);

#define MD_MOD_STATUS_TYPE "application/json"

/* When the driver looks at md next: the job's next try after a failure; the driver's next
 * run when a certificate is needed; else the start of the renew window. NULL when the
 * module does not drive it. */
static const char *next_check(const md_mod_snap_t *snap, md_json_t *status, apr_time_t next_run,
                              apr_time_t now, apr_pool_t *p)
{
    const char *next_try =
        md_json_get_str(md_json_get(md_json_get(status, "staging", p), "job", p), "next-try");

    if (!snap->driven) {
        return NULL;
    }
    if (next_try) {
        return next_try;
    }
    if (snap->renew_at > now) {
        return md_time_format(snap->renew_at, p);
    }
    return md_time_format(next_run > now ? next_run : now, p);
}

/* The startup snapshot with what changes while the server runs: staging/ and the job. */
static md_json_t *md_status(request_rec *r, md_mod_conf_t *mc, const md_mod_snap_t *snap,
                            apr_time_t next_run, apr_time_t now)
{
    md_json_t *j, *live;
    const char *err = NULL, *next;

    if (md_json_parse(&j, &err, snap->status, strlen(snap->status), r->pool) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "%s: status unreadable: %s", snap->md->name,
                      err);
        j = md_json_new_obj(r->pool);
        md_json_set_str(j, "name", snap->md->name);
    }
    if (md_reg_status_json(&live, mc->reg, snap->md, now, r->pool) == APR_SUCCESS &&
        md_json_has(live, "staging")) {
        md_json_set(j, "staging", md_json_get(live, "staging", r->pool));
    }
    md_json_set_bool(j, "renew", snap->renew_at <= now);
    if ((next = next_check(snap, j, next_run, now, r->pool))) {
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

static int status_handler(request_rec *r)
{
    md_mod_srv_t *sc;
    md_mod_gen_t *gen;
    const md_mod_snap_t *snap;
    const char *name;
    md_json_t *j, *mds;
    apr_time_t now = apr_time_now(), next_run = 0;

    if (!r->handler || strcmp(r->handler, MD_MOD_STATUS_HANDLER)) {
        return DECLINED;
    }
    r->allowed = AP_METHOD_BIT << M_GET;
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    sc = md_mod_srv_get(r->server);
    gen = md_mod_gen_get(r->server);
    if (gen && gen->times) {
        next_run = (apr_time_t) apr_atomic_read64(&gen->times->next_run);
    }
    name = requested_name(r);
    if (name) {
        if (!sc || !sc->mc || !(snap = md_mod_snap_find(gen, name))) {
            return HTTP_NOT_FOUND;
        }
        j = md_status(r, sc->mc, snap, next_run, now);
    } else {
        j = md_json_new_obj(r->pool);
        mds = md_json_new_arr(r->pool);
        md_json_set_str(j, "version", MD_VERSION);
        for (int i = 0; gen && i < gen->snaps->nelts; ++i) {
            snap = APR_ARRAY_IDX(gen->snaps, i, const md_mod_snap_t *);
            md_json_push(mds, md_status(r, sc->mc, snap, next_run, now));
        }
        md_json_set(j, "managed-domains", mds);
        if (next_run) {
            md_json_set_str(j, "next-run", md_time_format(next_run, r->pool));
        }
    }
    ap_set_content_type(r, MD_MOD_STATUS_TYPE);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        ap_rputs(md_json_dump(j, 1, r->pool), r);
        ap_rputs("\n", r);
    }
    return OK;
}

void md_mod_status_hooks(apr_pool_t *p)
{
    ap_hook_handler(status_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

/* mod_md_certstatus.c: MDCertificateStatus -- GET /.httpd/certificate-status on an MD's TLS
 * vhost answers what certificates it presents (validity, serial, fingerprint) and a renewal. */
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>

#include "md_json.h"
#include "md_plan.h"
#include "mod_md.h"
#include "mod_md_drive.h"

#define MD_MOD_CERT_STATUS_PATH "/.httpd/certificate-status"

/* md_reg_cert_json of infos, NULL when no certificate is there (the temporary one). */
static md_json_t *certs_json(const apr_array_header_t *infos, apr_pool_t *p)
{
    md_json_t *j = md_reg_cert_json(infos, p);

    return md_json_has(j, "valid") ? j : NULL;
}

static int certificate_status(request_rec *r)
{
    md_mod_srv_t *srv = md_mod_srv_get(r->server);
    md_mod_conf_t *mc = srv ? srv->mc : NULL;
    const md_mod_gen_t *gen;
    const md_mod_snap_t *snap;
    apr_array_header_t *staged = NULL;
    md_json_t *j, *renewal;
    apr_time_t now = apr_time_now();

    if (!mc || !mc->certificate_status || !srv->md || srv->md_index < 0 || !r->parsed_uri.path ||
        strcmp(r->parsed_uri.path, MD_MOD_CERT_STATUS_PATH) || !ap_ssl_conn_is_ssl(r->connection)) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    gen = md_mod_gen_get(r->server);
    if (!gen || srv->md_index >= gen->snaps->nelts) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    snap = APR_ARRAY_IDX(gen->snaps, srv->md_index, const md_mod_snap_t *);
    if (!(j = certs_json(md_mod_presented(mc, gen, srv->md_index, now, r->pool), r->pool))) {
        return HTTP_NOT_FOUND; /* the temporary certificate: nothing to tell */
    }
    /* a renewed set waiting for its activation (MDActivationDelay) */
    if (md_reg_cert_infos(&staged, mc->reg, snap->md, MD_SG_STAGING, now, r->pool) == APR_SUCCESS &&
        (renewal = certs_json(staged, r->pool)) != NULL) {
        md_json_set(j, "renewal", renewal);
    }
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        ap_rputs(md_json_dump(j, 1, r->pool), r);
        ap_rputs("\n", r);
    }
    return DONE;
}

void md_mod_certstatus_hooks(void)
{
    ap_hook_post_read_request(certificate_status, NULL, NULL, APR_HOOK_MIDDLE);
}

/* mod_md_http.c: what the workers answer for mod_md -- ACME http-01 and tls-alpn-01
 * challenges, 503 while an MD's certificate is being obtained, and MDRequireHttps redirects. */

#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <ap_listen.h>

#include "md.h"
#include "md_challenge.h"
#include "md_store.h"
#include "md_util.h"
#include "mod_md.h"

APLOG_USE_MODULE(md);

/* RFC 8555 section 8.3: where the CA fetches http-01 answers. */
#define MOD_MD_HTTP01_PREFIX "/.well-known/acme-challenge/"
/* RFC 8737 section 6.2: the ALPN protocol id of tls-alpn-01 validation handshakes. */
#define MOD_MD_ACME_TLS_1 "acme-tls/1"
/* How long clients should wait before retrying while a certificate is being obtained:
 * pebble and Let's Encrypt usually issue within seconds, so a short wait. */
#define MOD_MD_RETRY_AFTER_SECONDS "30"
/* MDRequireHttps permanent: HSTS for half a year (182.5 days), a common minimum. */
#define MOD_MD_HSTS_VALUE "max-age=15768000"
#define MOD_MD_HTTPS_DEFAULT_PORT 443
#define MOD_MD_HTTPS_PROTOCOL "https" /* ap_listen_rec.protocol of TLS listeners */
/* Key of the per-generation redirect table in the config pool's userdata. */
#define MOD_MD_HTTPS_TABLE_KEY "mod_md_http:require_https"

/* Where plain-http requests for an MD's names are sent when it wants https. Computed once in
 * post_config and only read afterwards, so workers share it without locks. */
typedef struct {
    const md_t *md;
    int index;      /* in mc->mds: whether a live set is presented */
    int has_cert;   /* a vhost of the MD has a static certificate (domains/, a file) */
    int https_port; /* MOD_MD_HTTPS_DEFAULT_PORT: left out of the URL */
} mod_md_https_t;

static md_mod_conf_t *conf_of(server_rec *s)
{
    md_mod_srv_t *srv = md_mod_srv_get(s);
    return srv ? srv->mc : NULL;
}

/* The MD (of those the server manages) that has 'host' as a name or matches it with a
 * wildcard; host is lower-case. */
static const md_t *md_for_host(const md_mod_conf_t *mc, const char *host)
{
    int i, j;

    if (!mc->mds || !host) {
        return NULL;
    }
    for (i = 0; i < mc->mds->nelts; ++i) {
        const md_t *md = APR_ARRAY_IDX(mc->mds, i, const md_t *);
        for (j = 0; j < md->domains->nelts; ++j) {
            if (md_dns_matches(APR_ARRAY_IDX(md->domains, j, const char *), host)) {
                return md;
            }
        }
    }
    return NULL;
}

/* ---- answering with a short text ---- */

static int send_text(request_rec *r, int status, const char *text)
{
    r->status = status;
    ap_set_content_type(r, "text/plain");
    ap_set_content_length(r, (apr_off_t) strlen(text));
    ap_rputs(text, r);
    return DONE;
}

/* ---- http-01 ---- */

/* Answers GET/HEAD /.well-known/acme-challenge/<token> from challenges/<host>/. Unknown
 * tokens are 404 for hosts an MD names (or vhosts with an MD); for other hosts the site
 * keeps the path, so another ACME client can still use it. */
static int answer_http01(request_rec *r, md_mod_srv_t *srv)
{
    const char *token = r->uri + sizeof(MOD_MD_HTTP01_PREFIX) - 1;
    const char *keyauthz;
    apr_status_t rv;

    if (r->method_number != M_GET || !r->hostname || !srv->mc->reg) {
        return DECLINED;
    }
    rv = md_chall_http01_answer(&keyauthz, md_reg_store(srv->mc->reg), r->hostname, token, r->pool);
    if (rv == APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "md: answered http-01 challenge for %s",
                      r->hostname);
        return send_text(r, HTTP_OK, keyauthz);
    }
    if (!APR_STATUS_IS_ENOENT(rv) && !APR_STATUS_IS_EINVAL(rv)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                      "md: reading the http-01 answer for %s failed; check that the store's "
                      "challenges/ directory is readable for the server's User",
                      r->hostname);
    }
    if (srv->md || md_for_host(srv->mc, r->hostname)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, "md: no http-01 challenge for %s here",
                      r->hostname);
        return HTTP_NOT_FOUND;
    }
    return DECLINED;
}

/* ---- MDRequireHttps ---- */

static int is_https_listener_port(apr_port_t port)
{
    const ap_listen_rec *lr;

    for (lr = ap_listeners; lr; lr = lr->next) {
        if (lr->bind_addr && lr->bind_addr->port == port && lr->protocol &&
            !strcmp(lr->protocol, MOD_MD_HTTPS_PROTOCOL)) {
            return 1;
        }
    }
    return 0;
}

static const md_t *md_of_server(server_rec *s, const md_mod_conf_t *mc, apr_pool_t *p)
{
    md_mod_srv_t *srv = md_mod_srv_get(s);
    char *name;

    if (srv && srv->md) {
        return srv->md;
    }
    if (!s->server_hostname) {
        return NULL;
    }
    name = apr_pstrdup(p, s->server_hostname);
    ap_str_tolower(name);
    return md_for_host(mc, name);
}

/* The port the server takes https for md on: a TLS listener port one of md's vhosts is on
 * (MDPortMap's https port first), else MDPortMap's https port or any TLS listener. */
static int https_port_of(const md_t *md, server_rec *base, const md_mod_conf_t *mc, apr_pool_t *p)
{
    server_rec *s;
    const server_addr_rec *a;
    const ap_listen_rec *lr;
    int found = 0;

    for (s = base; s; s = s->next) {
        const md_t *smd = md_of_server(s, mc, p);
        if (!smd || strcmp(smd->name, md->name)) {
            continue;
        }
        for (a = s->addrs; a; a = a->next) {
            if (a->host_port && is_https_listener_port(a->host_port)) {
                if (a->host_port == mc->port_https) {
                    return mc->port_https;
                }
                found = found ? found : a->host_port;
            }
        }
    }
    if (found) {
        return found;
    }
    if (mc->port_https > 0) {
        return mc->port_https;
    }
    for (lr = ap_listeners; lr; lr = lr->next) {
        if (lr->bind_addr && lr->protocol && !strcmp(lr->protocol, MOD_MD_HTTPS_PROTOCOL)) {
            return lr->bind_addr->port;
        }
    }
    return MOD_MD_HTTPS_DEFAULT_PORT;
}

static int any_md_requires_https(const md_mod_conf_t *mc)
{
    int i;

    for (i = 0; mc->mds && i < mc->mds->nelts; ++i) {
        if (APR_ARRAY_IDX(mc->mds, i, const md_t *)->require_https > 0) {
            return 1;
        }
    }
    return 0;
}

/* The MDRequireHttps answers of this server generation. Only a host that is one of an MD's
 * names is redirected: another name the vhost answers to (an IP address, an alias not in the
 * MD) would send the client to a name the certificate does not cover. */
typedef struct {
    apr_hash_t *by_name; /* every name of every MD ("*.x" for wildcards) -> mod_md_https_t* */
} mod_md_https_table_t;

/* Runs after the module's main post_config (which sets mc->mds and srv->md): notes where
 * plain-http requests for MDs that require https are redirected to. */
static int build_https_table(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                             server_rec *base)
{
    md_mod_conf_t *mc = conf_of(base);
    mod_md_https_table_t *t;
    apr_hash_t *by_md;
    server_rec *s;
    int i, j;

    if (!mc || !any_md_requires_https(mc)) {
        return OK;
    }
    t = apr_palloc(pconf, sizeof(*t));
    t->by_name = apr_hash_make(pconf);
    by_md = apr_hash_make(ptemp);
    for (i = 0; i < mc->mds->nelts; ++i) {
        const md_t *md = APR_ARRAY_IDX(mc->mds, i, const md_t *);
        mod_md_https_t *h = apr_palloc(pconf, sizeof(*h));

        h->md = md;
        h->index = i;
        h->has_cert = 0;
        h->https_port = md->require_https > 0 ? https_port_of(md, base, mc, ptemp) : 0;
        apr_hash_set(by_md, md->name, APR_HASH_KEY_STRING, h);
        for (j = 0; j < md->domains->nelts; ++j) {
            apr_hash_set(t->by_name, APR_ARRAY_IDX(md->domains, j, const char *),
                         APR_HASH_KEY_STRING, h);
        }
    }
    for (s = base; s; s = s->next) {
        const md_mod_srv_t *srv = md_mod_srv_get(s);
        mod_md_https_t *h =
            srv && srv->md ? apr_hash_get(by_md, srv->md->name, APR_HASH_KEY_STRING) : NULL;
        if (h && srv->has_cert) {
            h->has_cert = 1;
        }
    }
    apr_pool_userdata_set(t, MOD_MD_HTTPS_TABLE_KEY, NULL, pconf);
    return OK;
}

/* What MDRequireHttps asks of this request, NULL: nothing. */
static const mod_md_https_t *https_of(request_rec *r)
{
    void *data = NULL;
    const mod_md_https_table_t *t;
    const mod_md_https_t *h = NULL;
    const char *dot;

    apr_pool_userdata_get(&data, MOD_MD_HTTPS_TABLE_KEY, r->server->process->pconf);
    if (!(t = data)) {
        return NULL;
    }
    if (r->hostname) {
        h = apr_hash_get(t->by_name, r->hostname, APR_HASH_KEY_STRING);
        if (!h && (dot = strchr(r->hostname, '.')) && dot != r->hostname) {
            h = apr_hash_get(t->by_name, apr_pstrcat(r->pool, "*", dot, NULL), APR_HASH_KEY_STRING);
        }
    }
    return h && h->md->require_https > 0 ? h : NULL;
}

static int redirect_to_https(request_rec *r, const mod_md_https_t *h)
{
    const char *path, *port = "";

    if (!r->parsed_uri.path || r->parsed_uri.path[0] != '/') {
        return DECLINED; /* "OPTIONS *" and the like have no https URL */
    }
    path = apr_uri_unparse(r->pool, &r->parsed_uri, APR_URI_UNP_OMITSITEPART);
    if (h->https_port != MOD_MD_HTTPS_DEFAULT_PORT) {
        port = apr_psprintf(r->pool, ":%d", h->https_port);
    }
    apr_table_setn(
        r->headers_out, "Location",
        apr_pstrcat(r->pool, "https://", ap_get_server_name_for_url(r), port, path, NULL));
    return h->md->require_https > 1 ? HTTP_MOVED_PERMANENTLY : HTTP_MOVED_TEMPORARILY;
}

/* ---- the request hook ---- */

/* Runs first after a request is read, before translation, rewrites, redirects and auth:
 * ACME challenges, then 503 for TLS vhosts still waiting for their certificate, then
 * MDRequireHttps. */
static int md_http_read_request(request_rec *r)
{
    md_mod_srv_t *srv = md_mod_srv_get(r->server);
    const mod_md_https_t *h;
    int tls;

    if (!srv || !srv->mc) {
        return DECLINED;
    }
    if (r->uri && !strncmp(r->uri, MOD_MD_HTTP01_PREFIX, sizeof(MOD_MD_HTTP01_PREFIX) - 1)) {
        int rc = answer_http01(r, srv);
        if (rc != DECLINED) {
            return rc;
        }
    }
    tls = ap_ssl_conn_is_ssl(r->connection);
    h = https_of(r);
    if (h && tls && h->md->require_https > 1) {
        apr_table_setn(r->err_headers_out, "Strict-Transport-Security", MOD_MD_HSTS_VALUE);
    }
    if (tls && srv->md && !md_mod_srv_has_cert(srv)) {
        apr_table_setn(r->headers_out, "Retry-After", MOD_MD_RETRY_AFTER_SECONDS);
        /* a request body is left unread: the connection must not carry another request */
        r->connection->keepalive = AP_CONN_CLOSE;
        return send_text(r, HTTP_SERVICE_UNAVAILABLE,
                         apr_psprintf(r->pool,
                                      "The certificate for %s is being obtained; please try "
                                      "again shortly.\n",
                                      srv->md->name));
    }
    /* only once the MD has a certificate to present: until then https would only fail */
    if (h && !tls && (h->has_cert || md_mod_live_presented(srv->mc, h->index))) {
        return redirect_to_https(r, h);
    }
    return DECLINED;
}

/* ---- tls-alpn-01 ---- */

/* Offers acme-tls/1 on TLS connections whose client asks for it (only ACME validators
 * do, RFC 8737 section 3); the Protocols directive decides whether it is allowed. */
static int md_http_protocol_propose(conn_rec *c, request_rec *r, server_rec *s,
                                    const apr_array_header_t *offers, apr_array_header_t *proposals)
{
    if (!r && offers && ap_array_str_contains(offers, MOD_MD_ACME_TLS_1) && ap_ssl_conn_is_ssl(c)) {
        APR_ARRAY_PUSH(proposals, const char *) = MOD_MD_ACME_TLS_1;
    }
    return DECLINED;
}

/* The connection only carries the validation handshake: nothing is spoken on it after. */
static int md_http_protocol_switch(conn_rec *c, request_rec *r, server_rec *s, const char *protocol)
{
    if (!r && protocol && !strcmp(protocol, MOD_MD_ACME_TLS_1)) {
        c->keepalive = AP_CONN_CLOSE;
        return OK;
    }
    return DECLINED;
}

/* mod_ssl asks this on an acme-tls/1 handshake: the validation certificate and key the
 * driver left in challenges/<server_name>/, when there are some. */
static int md_http_answer_tlsalpn01(conn_rec *c, const char *server_name, const char **pcert_pem,
                                    const char **pkey_pem)
{
    md_mod_conf_t *mc = conf_of(c->base_server);
    const char *name, *perr, *cert, *key;
    md_store_t *store;
    apr_status_t rv;

    if (!mc || !mc->reg || !server_name) {
        return DECLINED;
    }
    /* the name comes from the client: check it before it becomes part of a path; a validator
     * asks for an address by its reverse-DNS name (RFC 8738 6), never by the address */
    if (md_ip_from_reverse_name(&name, server_name, c->pool) != APR_SUCCESS &&
        (md_dns_name_check(&name, &perr, server_name, c->pool) != APR_SUCCESS ||
         md_dns_is_wildcard(name) || md_ip_is_addr(name))) {
        return DECLINED;
    }
    store = md_reg_store(mc->reg);
    rv = md_store_load_text(&cert, store, MD_SG_CHALLENGES, name, MD_FN_TLSALPN01_CERT, c->pool);
    if (rv == APR_SUCCESS) {
        rv = md_store_load_text(&key, store, MD_SG_CHALLENGES, name, MD_FN_TLSALPN01_KEY, c->pool);
    }
    if (rv == APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c, "md: answering tls-alpn-01 challenge for %s",
                      name);
        *pcert_pem = cert;
        *pkey_pem = key;
        return OK;
    }
    if (!APR_STATUS_IS_ENOENT(rv) && !APR_STATUS_IS_ENOTDIR(rv)) {
        ap_log_cerror(APLOG_MARK, APLOG_WARNING, rv, c,
                      "md: reading the tls-alpn-01 answer for %s failed; check that the "
                      "store's challenges/ directory is readable for the server's User",
                      name);
    }
    return DECLINED;
}

void md_mod_http_hooks(apr_pool_t *p)
{
    (void) p;
    ap_hook_post_config(build_https_table, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_post_read_request(md_http_read_request, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_protocol_propose(md_http_protocol_propose, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_switch(md_http_protocol_switch, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_answer_challenge(md_http_answer_tlsalpn01, NULL, NULL, APR_HOOK_MIDDLE);
}

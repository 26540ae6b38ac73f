/* mod_md_ocsp.c: OCSP stapling through httpd's core hooks -- mod_ssl primes each certificate it
 * loads (in the parent), and asks at every handshake for the response the renewal stored. */
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_ssl.h>
#include <apr_optional_hooks.h>

#include "md_cert.h"
#include "md_json.h"
#include "mod_md_ocsp.h"

APLOG_USE_MODULE(md);

/* mod_ssl's optional hook for each SSL_CTX it set up (declared as in mod_ssl, which apache2-dev
 * does not ship a header of; see mod_md_live.c). */
typedef int ssl_HOOK_init_server_t(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx);

/* A worker looks at the store for a newer response of a certificate at most this often:
 * renewals happen hours before the old response runs out, so a second costs nothing. */
#define MD_MOD_OCSP_RECHECK apr_time_from_sec(1)

/* ---- settings ---- */

static int mdef_index(const md_mod_conf_t *mc, const md_t *md)
{
    for (int i = 0; md && i < mc->mdefs->nelts; ++i) {
        if (!strcmp(APR_ARRAY_IDX(mc->mdefs, i, const md_mod_mdef_t *)->md->name, md->name)) {
            return i;
        }
    }
    return -1;
}

int md_mod_stapling_on(const md_mod_conf_t *mc, int i)
{
    const md_mod_mdef_t *mdef;

    if (i < 0) {
        return mc->defaults.stapling == 1 && mc->staple_others != 0;
    }
    /* mds were made from mdefs one to one, in order (mod_md_assemble.c) */
    mdef = i < mc->mdefs->nelts ? APR_ARRAY_IDX(mc->mdefs, i, const md_mod_mdef_t *) : NULL;
    if (mdef && mdef->settings.stapling >= 0) {
        return mdef->settings.stapling;
    }
    return mc->defaults.stapling == 1;
}

const md_timeslice_t *md_mod_stapling_window(const md_mod_conf_t *mc, apr_pool_t *p)
{
    md_timeslice_t *ts;
    const char *err;

    if (mc->stapling_window) {
        return mc->stapling_window;
    }
    ts = apr_pcalloc(p, sizeof(*ts));
    md_timeslice_parse(ts, MD_MOD_STAPLING_WINDOW_DEFAULT, &err, p);
    return ts;
}

apr_interval_time_t md_mod_stapling_keep(const md_mod_conf_t *mc)
{
    return mc->stapling_keep > 0 ? mc->stapling_keep : MD_MOD_STAPLING_KEEP_DEFAULT;
}

/* ---- priming, in the parent ---- */

void md_mod_ocsp_setup(md_mod_conf_t *mc, server_rec *s, apr_pool_t *pconf)
{
    md_mod_ocsp_t *ocsp = apr_pcalloc(pconf, sizeof(*ocsp));

    ocsp->mc = mc;
    ocsp->s = s;
    ocsp->pool = pconf;
    ocsp->by_sha1 = apr_hash_make(pconf);
    ocsp->all = apr_array_make(pconf, 5, sizeof(md_mod_staple_t *));
    mc->ocsp = ocsp;
}

static apr_status_t staple_make(md_mod_staple_t **pst, const char **perr, const md_cert_t *leaf,
                                const md_cert_t *issuer, const char *entry, apr_pool_t *p)
{
    md_mod_staple_t *st = apr_pcalloc(p, sizeof(*st));
    unsigned int len = 0;
    apr_status_t rv;

    if ((rv = md_ocsp_cert_make(&st->oc, perr, leaf, issuer, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!X509_digest(md_cert_x509(leaf), EVP_sha1(), st->sha1, &len) || len != sizeof(st->sha1)) {
        *perr = "cannot compute the certificate's SHA-1";
        return APR_EGENERAL;
    }
    st->entry = entry;
    *pst = st;
    return APR_SUCCESS;
}

/* mod_ssl, for each certificate of each vhost it set up: we staple it when stapling is on for
 * the vhost's MD (or for certificates of no MD) and it names an OCSP responder. What we keep
 * lives in the module's pool of this generation; p only serves this call's log lines. */
static int ocsp_prime(server_rec *s, apr_pool_t *p, const char *id, apr_size_t id_len,
                      const char *pem)
{
    md_mod_srv_t *srv = md_mod_srv_get(s);
    md_mod_conf_t *mc = srv ? srv->mc : NULL;
    int i = mc && srv->md ? mdef_index(mc, srv->md) : -1;
    apr_array_header_t *chain;
    md_mod_staple_t *st;
    md_mod_ocsp_t *ocsp;
    const char *err = NULL;

    if (!mc || !md_mod_stapling_on(mc, i)) {
        return DECLINED;
    }
    if (srv->md && !srv->has_cert) {
        /* the temporary certificate: no responder to ask; the real one goes live later */
        return DECLINED;
    }
    if (!mc->reg || !(ocsp = mc->ocsp)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "OCSP stapling for %s is not done: the module keeps responses in its "
                     "store, which it opens only when some MD is configured",
                     s->server_hostname);
        return DECLINED;
    }
    if (md_chain_from_pem(&chain, &err, pem, strlen(pem), ocsp->pool) != APR_SUCCESS ||
        chain->nelts < 2) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "vhost %s: no OCSP stapling for a certificate without its issuer (%s): "
                     "add the chain to the certificate file",
                     s->server_hostname, err ? err : "the chain holds only the certificate");
        return DECLINED;
    }
    if (id_len == SHA_DIGEST_LENGTH && apr_hash_get(ocsp->by_sha1, id, SHA_DIGEST_LENGTH)) {
        return OK; /* another vhost with the same certificate */
    }
    if (staple_make(&st, &err, APR_ARRAY_IDX(chain, 0, const md_cert_t *),
                    APR_ARRAY_IDX(chain, 1, const md_cert_t *),
                    i >= 0 ? srv->md->name : MD_OCSP_OTHER, ocsp->pool) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "vhost %s: no OCSP stapling: %s",
                     s->server_hostname, err);
        return DECLINED;
    }
    if (!st->oc->responder) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "vhost %s: certificate %s names no OCSP responder: it is not stapled",
                     s->server_hostname, md_cert_serial_hex(st->oc->cert, p));
        return DECLINED;
    }
    if (id_len != SHA_DIGEST_LENGTH || memcmp(id, st->sha1, SHA_DIGEST_LENGTH)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "vhost %s: mod_ssl names certificates differently than this module "
                     "expects (not by SHA-1): not stapled",
                     s->server_hostname);
        return DECLINED;
    }
    apr_hash_set(ocsp->by_sha1, st->sha1, SHA_DIGEST_LENGTH, st);
    APR_ARRAY_PUSH(ocsp->all, md_mod_staple_t *) = st;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 "vhost %s: certificate %s (%s) is stapled, responder %s, store ocsp/%s/%s",
                 s->server_hostname, md_cert_serial_hex(st->oc->cert, p), st->entry,
                 st->oc->responder, st->entry, md_ocsp_aspect(st->oc, p));
    return OK;
}

/* ---- live certificates, per process ---- */

apr_array_header_t *md_mod_ocsp_live_staples(md_mod_ocsp_t *ocsp, int i, apr_pool_t *p)
{
    apr_array_header_t *staples = apr_array_make(p, 2, sizeof(md_mod_staple_t *)), *pairs;
    const md_t *md;
    md_mod_staple_t *st;
    unsigned char sha1[SHA_DIGEST_LENGTH];
    const char *err = NULL;

    if (!ocsp->mutex || i < 0 || i >= ocsp->mc->mds->nelts || !md_mod_stapling_on(ocsp->mc, i) ||
        apr_thread_mutex_lock(ocsp->mutex) != APR_SUCCESS) {
        return staples;
    }
    md = APR_ARRAY_IDX(ocsp->mc->mds, i, const md_t *);
    /* the issuers wrapped in p; a staple made keeps one of its own */
    pairs = md_mod_live_pairs(ocsp->mc, i, p);
    for (int k = 0; k + 1 < pairs->nelts; k += 2) {
        const md_cert_t *leaf = APR_ARRAY_IDX(pairs, k, const md_cert_t *);
        X509 *issuer = md_cert_x509(APR_ARRAY_IDX(pairs, k + 1, const md_cert_t *));
        if (!X509_digest(md_cert_x509(leaf), EVP_sha1(), sha1, NULL)) {
            continue;
        }
        if (!(st = apr_hash_get(ocsp->live_by_sha1, sha1, sizeof(sha1)))) {
            /* the leaf is the live set's, which this process keeps to its end */
            if (!X509_up_ref(issuer) ||
                staple_make(&st, &err, leaf, md_cert_wrap(issuer, ocsp->child_pool), md->name,
                            ocsp->child_pool) != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ocsp->s,
                             "MD %s: its live certificate is not stapled: %s", md->name,
                             err ? err : "out of memory");
                /* remembered as such: no second try, no second warning */
                st = apr_pcalloc(ocsp->child_pool, sizeof(*st));
                memcpy(st->sha1, sha1, sizeof(sha1));
            }
            apr_hash_set(ocsp->live_by_sha1, st->sha1, sizeof(st->sha1), st);
        }
        if (st->oc && st->oc->responder) {
            APR_ARRAY_PUSH(staples, md_mod_staple_t *) = st;
        }
    }
    apr_thread_mutex_unlock(ocsp->mutex);
    return staples;
}

/* The staple of the certificate whose SHA-1 is id: primed, or of the live set the vhost's MD
 * presents (looked for in the set once per certificate and process). */
static md_mod_staple_t *staple_find(md_mod_ocsp_t *ocsp, server_rec *s, const char *id,
                                    apr_size_t id_len)
{
    md_mod_srv_t *srv = md_mod_srv_get(s);
    md_mod_staple_t *st, *found = NULL;
    apr_array_header_t *live;
    apr_pool_t *p;

    if (id_len != SHA_DIGEST_LENGTH) {
        return NULL;
    }
    if ((st = apr_hash_get(ocsp->by_sha1, id, SHA_DIGEST_LENGTH))) {
        return st;
    }
    if (!srv || srv->md_index < 0 || apr_thread_mutex_lock(ocsp->mutex) != APR_SUCCESS) {
        return NULL;
    }
    st = apr_hash_get(ocsp->live_by_sha1, id, SHA_DIGEST_LENGTH);
    apr_thread_mutex_unlock(ocsp->mutex);
    if (st) {
        return st->oc ? st : NULL;
    }
    if (apr_pool_create(&p, ocsp->child_pool) != APR_SUCCESS) {
        return NULL;
    }
    live = md_mod_ocsp_live_staples(ocsp, srv->md_index, p);
    for (int k = 0; k < live->nelts; ++k) {
        st = APR_ARRAY_IDX(live, k, md_mod_staple_t *);
        if (!memcmp(st->sha1, id, SHA_DIGEST_LENGTH)) {
            found = st;
        }
    }
    apr_pool_destroy(p);
    return found;
}

/* Under the mutex: the process's copy, refreshed from the store at most every RECHECK. */
static void staple_refresh(md_mod_ocsp_t *ocsp, md_mod_staple_t *st, apr_time_t now)
{
    md_ocsp_resp_t resp;
    const char *err;
    apr_pool_t *p;

    if (st->checked_at && now - st->checked_at < MD_MOD_OCSP_RECHECK) {
        return;
    }
    st->checked_at = now;
    if (apr_pool_create(&p, ocsp->child_pool) != APR_SUCCESS) {
        return;
    }
    if (md_ocsp_load(&resp, &err, md_reg_store(ocsp->mc->reg), st->entry, st->oc, p) !=
        APR_SUCCESS) {
        if (err) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ocsp->s, "OCSP response of %s: %s", st->entry,
                         err);
        }
        apr_pool_destroy(p);
        return; /* the one we had (if any) stays while it is valid */
    }
    if (st->cache_pool) {
        apr_pool_destroy(st->cache_pool);
    }
    st->cache_pool = p;
    st->der = resp.der;
    st->der_len = resp.der_len;
    st->valid_until = resp.valid_until;
}

/* The current response of the certificate sha1 (id_len bytes), handed to cb; OK when there
 * is one. */
static int staple_give(server_rec *s, const char *id, apr_size_t id_len, ap_ssl_ocsp_copy_resp *cb,
                       void *userdata)
{
    md_mod_srv_t *srv = md_mod_srv_get(s);
    md_mod_ocsp_t *ocsp = srv && srv->mc ? srv->mc->ocsp : NULL;
    apr_time_t now = apr_time_now();
    md_mod_staple_t *st;
    int rc = DECLINED;

    if (!ocsp || !ocsp->mutex || !(st = staple_find(ocsp, s, id, id_len)) ||
        apr_thread_mutex_lock(ocsp->mutex) != APR_SUCCESS) {
        return DECLINED;
    }
    staple_refresh(ocsp, st, now);
    /* an expired response is no use to a client: then none, the handshake goes on */
    if (st->der && st->valid_until > now) {
        cb(st->der, st->der_len, userdata);
        rc = OK;
    }
    apr_thread_mutex_unlock(ocsp->mutex);
    return rc;
}

static int ocsp_get_resp(server_rec *s, conn_rec *c, const char *id, apr_size_t id_len,
                         ap_ssl_ocsp_copy_resp *cb, void *userdata)
{
    (void) c;
    return staple_give(s, id, id_len, cb, userdata);
}

/* ---- vhosts of MDs: the staple of the certificate presented ---- */

/* mod_ssl asks the hook above only on an SSL_CTX whose certificate it primed at startup; a
 * vhost of an MD may start with a temporary certificate (no responder) and present a live
 * one later. So on the vhosts of MDs with stapling, OpenSSL asks us directly, for whatever
 * certificate the handshake presents. */
static void copy_to_ssl(const unsigned char *der, apr_size_t der_len, void *userdata)
{
    SSL *ssl = userdata;
    unsigned char *copy = OPENSSL_malloc(der_len);

    if (copy) {
        memcpy(copy, der, der_len);
        SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long) der_len); /* takes it */
    }
}

static int status_cb(SSL *ssl, void *arg)
{
    const md_mod_srv_t *srv = arg;
    unsigned char sha1[SHA_DIGEST_LENGTH];
    X509 *x = SSL_get_certificate(ssl);

    if (!x || !X509_digest(x, EVP_sha1(), sha1, NULL)) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    return staple_give(srv->s, (const char *) sha1, sizeof(sha1), copy_to_ssl, ssl) == OK
               ? SSL_TLSEXT_ERR_OK
               : SSL_TLSEXT_ERR_NOACK;
}

static int ocsp_init_server(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx)
{
    md_mod_srv_t *srv = md_mod_srv_get(s);

    (void) p;
    if (!is_proxy && srv && srv->md && srv->mc->ocsp && srv->md_index >= 0 &&
        md_mod_stapling_on(srv->mc, srv->md_index)) {
        SSL_CTX_set_tlsext_status_cb(ctx, status_cb);
        SSL_CTX_set_tlsext_status_arg(ctx, srv);
    }
    return DECLINED;
}

/* ---- md-status ---- */

static md_json_t *staple_status(md_mod_ocsp_t *ocsp, md_mod_staple_t *st, apr_pool_t *p)
{
    md_store_t *store = md_reg_store(ocsp->mc->reg);
    md_json_t *j = md_json_new_obj(p), *valid, *job;
    md_ocsp_resp_t resp;
    const char *err;

    md_json_set_str(j, "responder", st->oc->responder);
    if (md_ocsp_load(&resp, &err, store, st->entry, st->oc, p) == APR_SUCCESS) {
        valid = md_json_new_obj(p);
        md_json_set_str(j, "status", md_ocsp_status_name(resp.status));
        md_json_set_str(valid, "from", md_time_http(resp.valid_from, p));
        md_json_set_str(valid, "until", md_time_http(resp.valid_until, p));
        md_json_set(j, "valid", valid);
        md_json_set_str(
            j, "renew-at",
            md_time_http(md_ocsp_renew_at(&resp, md_mod_stapling_window(ocsp->mc, p)), p));
    }
    if (md_store_load_json(&job, &err, store, MD_SG_OCSP, st->entry, MD_MOD_OCSP_JOB, p) ==
        APR_SUCCESS) {
        md_json_set(j, "renewal", job);
    }
    return j;
}

/* Sets "ocsp" on each member of obj (an array, or an object keyed by key type) whose serial
 * is the certificate's. */
static void ocsp_attach(md_json_t *obj, const char *serial, const md_json_t *ocsp, apr_pool_t *p)
{
    int is_obj = md_json_is_obj(obj);
    apr_array_header_t *keys = md_json_keys(obj, p);
    apr_size_t n = is_obj ? (apr_size_t) keys->nelts : md_json_len(obj);
    md_json_t *c;

    for (apr_size_t k = 0; k < n; ++k) {
        c = is_obj ? md_json_get(obj, APR_ARRAY_IDX(keys, k, const char *), p)
                   : md_json_at(obj, k, p);
        if (c && md_json_get_str(c, "serial") && !strcmp(md_json_get_str(c, "serial"), serial)) {
            md_json_set(c, "ocsp", ocsp);
        }
    }
}

void md_mod_ocsp_status_add(md_mod_conf_t *mc, int i, md_json_t *j, apr_pool_t *p)
{
    apr_array_header_t *staples = apr_array_make(p, 4, sizeof(md_mod_staple_t *));
    md_json_t *certs = md_json_get(j, "certificates", p), *cert = md_json_get(j, "cert", p);
    md_json_t *all;
    const md_t *md;

    if (i < 0 || i >= mc->mds->nelts) {
        return; /* an MD only in the store: the server staples nothing of it */
    }
    md = APR_ARRAY_IDX(mc->mds, i, const md_t *);
    md_json_set_bool(j, "stapling", md_mod_stapling_on(mc, i));
    if (!mc->ocsp) {
        return;
    }
    for (int k = 0; k < mc->ocsp->all->nelts; ++k) {
        md_mod_staple_t *st = APR_ARRAY_IDX(mc->ocsp->all, k, md_mod_staple_t *);
        if (!strcmp(st->entry, md->name)) {
            APR_ARRAY_PUSH(staples, md_mod_staple_t *) = st;
        }
    }
    apr_array_cat(staples, md_mod_ocsp_live_staples(mc->ocsp, i, p));
    all = md_json_new_arr(p);
    for (int k = 0; k < staples->nelts; ++k) {
        md_mod_staple_t *st = APR_ARRAY_IDX(staples, k, md_mod_staple_t *);
        md_json_t *one = staple_status(mc->ocsp, st, p);
        const char *serial = md_cert_serial_hex(st->oc->cert, p);

        md_json_set_str(one, "serial", serial);
        md_json_push(all, one);
        /* where the bundled module has it (cert.<key>.ocsp), and in our list */
        if (cert) {
            ocsp_attach(cert, serial, one, p);
        }
        if (certs) {
            ocsp_attach(certs, serial, one, p);
        }
    }
    /* also for certificates md-status does not list (MDCertificateFile ones) */
    md_json_set(j, "ocsp", all);
}

/* ---- setup ---- */

/* Something to renew: certificates mod_ssl primed, or MDs whose live ones are stapled. */
static int ocsp_needed(const md_mod_conf_t *mc)
{
    for (int i = 0; i < mc->mds->nelts; ++i) {
        if (md_mod_stapling_on(mc, i)) {
            return 1;
        }
    }
    return mc->ocsp->all->nelts > 0;
}

static int ocsp_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    md_mod_srv_t *srv = md_mod_srv_get(s);

    (void) plog;
    (void) ptemp;
    if (srv && srv->mc && srv->mc->ocsp && ocsp_needed(srv->mc) &&
        ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        md_mod_ocsp_renew_setup(srv->mc->ocsp, s, pconf);
    }
    return OK;
}

static void ocsp_child_init(apr_pool_t *pchild, server_rec *s)
{
    md_mod_srv_t *srv = md_mod_srv_get(s);
    md_mod_ocsp_t *ocsp = srv && srv->mc ? srv->mc->ocsp : NULL;

    if (ocsp && apr_pool_create(&ocsp->child_pool, pchild) == APR_SUCCESS) {
        ocsp->live_by_sha1 = apr_hash_make(ocsp->child_pool);
        if (apr_thread_mutex_create(&ocsp->mutex, APR_THREAD_MUTEX_DEFAULT, pchild) !=
            APR_SUCCESS) {
            ocsp->mutex = NULL;
        }
        md_mod_ocsp_renew_child_init(ocsp, pchild);
    }
}

void md_mod_ocsp_hooks(void)
{
    static const char *const after_ssl[] = {"mod_ssl.c", NULL};

    ap_hook_ssl_ocsp_prime_hook(ocsp_prime, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ssl, init_server, ocsp_init_server, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_ocsp_get_resp_hook(ocsp_get_resp, NULL, NULL, APR_HOOK_MIDDLE);
    /* after mod_ssl's post_config, which primes; before mod_watchdog's (LAST) */
    ap_hook_post_config(ocsp_post_config, after_ssl, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(ocsp_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}

/* mod_md_init.c: startup in the parent (post_config, as root, no network) -- the store synced
 * with the configuration, staged certificates installed, the store made writable for the driver. */
#include <unistd.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <ap_listen.h>
#include <unixd.h>

#include "md_challenge.h"
#include "md_store.h"
#include "mod_md.h"
#include "mod_md_config.h"

APLOG_USE_MODULE(md);

/* How long startup waits for root's store lock: only root's processes (a2md, another httpd on
 * the store) take it, for single writes; one that keeps it longer is stuck. */
#define MD_MOD_STORE_LOCK_WAIT apr_time_from_sec(30)
/* How long startup waits for the lock of the User's part (MDStoreLocks <duration> sets it):
 * the driver holds it for single writes too, but any process of the User could hold it
 * forever, so startup goes on without. */
#define MD_MOD_USER_LOCK_WAIT apr_time_from_sec(5)
#define MD_MOD_PORT_HTTP_DEFAULT 80
#define MD_MOD_PORT_HTTPS_DEFAULT 443
#define MD_MOD_ALPN_ACME "acme-tls/1"

/* ---- ownership: what the driver (the configured User) writes ---- */

/* The driver runs as User: it writes staging/, live/, challenges/ and accounts/ (keys there
 * are encrypted with the store secret) and takes their lock, user.lock. domains/ and its keys,
 * and store.lock, stay root's. Ownership is given once, never walked again at later starts. */
static apr_status_t store_chown(server_rec *s, md_store_t *store, apr_pool_t *p)
{
    uid_t uid = ap_unixd_config.user_id;
    gid_t gid = ap_unixd_config.group_id;
    apr_status_t rv;

    if (geteuid() != 0 || uid == 0) {
        return APR_SUCCESS;
    }
    if ((rv = md_store_fs_give_user(store, uid, gid, p)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "cannot give the User's part of the MD store %s to User %s (see above): the "
                     "driver could not write there; check the store directory (MDStoreDir) is "
                     "on a local file system that root may chown in",
                     md_store_dir(store), ap_unixd_config.user_name);
    }
    return rv;
}

/* ---- store and registry ---- */

/* Removes staging/ and live/ entries that belong to no MD any more (sync renamed or archived
 * their MD and left them, as they are the User's) and stale challenges/ (md_reg_strays). */
static void purge_strays(server_rec *s, md_reg_t *reg, const apr_array_header_t *strays,
                         apr_pool_t *p)
{
    apr_status_t rv;

    for (int i = 0; i < strays->nelts; ++i) {
        const md_reg_stray_t *stray = &APR_ARRAY_IDX(strays, i, md_reg_stray_t);
        rv = md_store_purge(md_reg_store(reg), stray->group, stray->name, p);
        ap_log_error(APLOG_MARK, rv == APR_SUCCESS ? APLOG_INFO : APLOG_WARNING, rv, s,
                     "%s/%s %s: %s", md_store_group_name(stray->group), stray->name,
                     stray->group == MD_SG_CHALLENGES ? "holds the answers of a drive long over"
                                                      : "belongs to no MD any more",
                     rv == APR_SUCCESS ? "removed" : "could not be removed");
    }
}

/* The configured MDs that have something in staging/ or live/. */
static apr_array_header_t *mds_staged(md_mod_conf_t *mc, apr_pool_t *p)
{
    md_store_t *store = md_reg_store(mc->reg);
    apr_array_header_t *staged = apr_array_make(p, 5, sizeof(md_t *));

    for (int i = 0; i < mc->mds->nelts; ++i) {
        md_t *md = APR_ARRAY_IDX(mc->mds, i, md_t *);
        if (md_store_exists(store, MD_SG_STAGING, md->name, NULL, p) ||
            md_store_exists(store, MD_SG_LIVE, md->name, NULL, p)) {
            APR_ARRAY_PUSH(staged, md_t *) = md;
        }
    }
    return staged;
}

/* Promotes what the workers presented live and staged sets whose activation time has come
 * (md_plan_next decides) into domains/, before mod_ssl loads the files: after a restart the
 * server presents the same certificate as its workers did before. That writes the User's
 * groups, under the User's lock, which a process of the User may hold as long as it likes:
 * startup waits for it a little only, then starts with the certificates in domains/ (the
 * driver announces a live set to the workers again) and the sets wait for the next restart. */
static void install_staged(server_rec *s, md_mod_conf_t *mc, apr_pool_t *pconf, apr_pool_t *ptemp)
{
    apr_interval_time_t wait =
        mc->store_lock_wait > 0 ? mc->store_lock_wait : MD_MOD_USER_LOCK_WAIT;
    md_store_t *store = md_reg_store(mc->reg);
    apr_array_header_t *staged = mds_staged(mc, ptemp), *strays;
    md_store_lock_t *lock;
    apr_status_t rv;

    if (md_reg_strays(&strays, mc->reg, ptemp) != APR_SUCCESS) {
        strays = apr_array_make(ptemp, 0, sizeof(md_reg_stray_t));
    }
    if (staged->nelts == 0 && strays->nelts == 0) {
        return; /* nothing to wait for */
    }
    if ((rv = md_store_lock(&lock, store, MD_STORE_LOCK_USER, wait, ptemp)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "the MD store's lock %s %s: staged certificates are not installed now; the "
                     "server starts with the certificates already installed, and the staged "
                     "ones are installed at the next restart",
                     md_store_lock_path(store, MD_STORE_LOCK_USER, ptemp),
                     APR_STATUS_IS_TIMEUP(rv)
                         ? apr_pstrcat(ptemp, "is held by another process for more than ",
                                       md_duration_format(wait, ptemp), NULL)
                         : "cannot be taken (see above)");
        return;
    }
    purge_strays(s, mc->reg, strays, ptemp);
    for (int i = 0; i < staged->nelts; ++i) {
        md_t *md = APR_ARRAY_IDX(staged, i, md_t *);
        rv = md_drive_install(mc->reg, md->name, mc->activation_delay, ptemp);
        if (rv == APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                         "MD %s: the renewed certificate is installed", md->name);
            md_reg_compute_state(mc->reg, md, apr_time_now(), pconf);
        } else if (!APR_STATUS_IS_ENOENT(rv) && !APR_STATUS_IS_EAGAIN(rv)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                         "MD %s: the staged certificate was not installed (see above); the "
                         "current one stays in use and the renewal is tried again",
                         md->name);
        }
    }
    md_store_unlock(lock);
}

/* Opens the store, brings it in line with the configuration and, when serving, installs the
 * staged sets. On success *plock holds root's lock (the caller writes the fallbacks under it,
 * then releases it). */
static apr_status_t store_setup(md_store_lock_t **plock, server_rec *s, md_mod_conf_t *mc,
                                int serving, apr_pool_t *pconf, apr_pool_t *ptemp)
{
    const char *dir =
        mc->store_dir ? mc->store_dir : ap_server_root_relative(pconf, MD_MOD_STORE_DIR_DEFAULT);
    md_store_lock_t *lock = NULL;
    md_store_t *store;
    apr_status_t rv;

    *plock = NULL;
    if ((rv = md_store_fs_open(&store, dir, 1, pconf)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     "cannot open the MD store in %s (see above); fix it or point MDStoreDir "
                     "elsewhere",
                     dir);
        return rv;
    }
    if ((rv = md_reg_create(&mc->reg, store, pconf)) != APR_SUCCESS) {
        return rv;
    }
    /* only root's processes take root's lock, each for a write: a lock that stays taken is a
     * stuck process of the operator's, and startup does not write the store behind its back */
    if ((rv = md_store_lock(&lock, store, MD_STORE_LOCK_ROOT, MD_MOD_STORE_LOCK_WAIT, ptemp)) !=
        APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     "the MD store %s stays locked by another process for more than %s (see "
                     "above): not starting without the lock; find the process holding %s "
                     "(fuser -v) and end it",
                     dir, md_duration_format(MD_MOD_STORE_LOCK_WAIT, ptemp),
                     md_store_lock_path(store, MD_STORE_LOCK_ROOT, ptemp));
        return rv;
    }
    if ((rv = md_reg_sync(mc->reg, mc->mds, pconf)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     "cannot bring the MD store %s in line with the configuration (see above)",
                     dir);
    } else if ((rv = store_chown(s, store, ptemp)) == APR_SUCCESS && serving) {
        install_staged(s, mc, pconf, ptemp);
    }
    if (rv != APR_SUCCESS) {
        md_store_unlock(lock);
        return rv;
    }
    *plock = lock;
    return APR_SUCCESS;
}

/* ---- what challenges the server can answer ---- */

static int listens_on(int port)
{
    for (ap_listen_rec *l = ap_listeners; l; l = l->next) {
        if (l->bind_addr && l->bind_addr->port == port) {
            return 1;
        }
    }
    return 0;
}

static int serves_port(const server_rec *s, int port)
{
    for (const server_addr_rec *a = s->addrs; a; a = a->next) {
        if (a->host_port == port || a->host_port == 0) {
            return 1;
        }
    }
    return !s->is_virtual; /* the base server answers what no vhost claims */
}

static void challenges_possible(server_rec *base, md_mod_conf_t *mc, int warn)
{
    int http_port = mc->port_http >= 0 ? mc->port_http : MD_MOD_PORT_HTTP_DEFAULT;
    int https_port = mc->port_https >= 0 ? mc->port_https : MD_MOD_PORT_HTTPS_DEFAULT;
    int wanted = 0;

    mc->http01_possible = http_port > 0 && listens_on(http_port);
    mc->tlsalpn01_possible = 0;
    for (server_rec *s = base; https_port > 0 && s && !mc->tlsalpn01_possible; s = s->next) {
        mc->tlsalpn01_possible = serves_port(s, https_port) && listens_on(https_port) &&
                                 ap_is_allowed_protocol(NULL, NULL, s, MD_MOD_ALPN_ACME);
    }
    for (int i = 0; i < mc->mds->nelts; ++i) {
        const md_t *md = APR_ARRAY_IDX(mc->mds, i, const md_t *);
        wanted |= md_array_str_index(md->ca_challenges, MD_CHALL_TLSALPN01, 0) >= 0;
    }
    if (warn && wanted && !mc->tlsalpn01_possible) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, base,
                     "MDCAChallenges allows tls-alpn-01, but no vhost on port %d offers the "
                     "protocol %s: add 'Protocols h2 http/1.1 acme-tls/1' to the server config "
                     "(and MDPortMap https:PORT if the CA's 443 arrives elsewhere)",
                     https_port, MD_MOD_ALPN_ACME);
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, base,
                 "challenges possible: http-01 %s (port %d), tls-alpn-01 %s (port %d)",
                 mc->http01_possible ? "yes" : "no", http_port,
                 mc->tlsalpn01_possible ? "yes" : "no", https_port);
}

/* ---- post_config ---- */

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    md_mod_conf_t *mc = md_mod_srv_get(s)->mc;
    md_store_lock_t *lock;
    apr_time_t start, synced;
    apr_status_t rv;
    int serving;

    (void) plog;
    /* httpd reads its configuration twice at start. The first round cannot be skipped as
     * modules often do: mod_ssl refuses an SSL vhost without certificate files in it too. But
     * warnings are given, and staged sets installed, once: in the round that serves. */
    serving = ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG;
    if (serving) {
        md_mod_config_warnings(s, mc);
    }
    if (mc->mds->nelts == 0) {
        return OK;
    }
    start = apr_time_now();
    if (store_setup(&lock, s, mc, serving, pconf, ptemp) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    synced = apr_time_now();
    rv = md_mod_certs_setup(s, mc, pconf, ptemp); /* writes fallbacks into domains/ */
    md_store_unlock(lock);
    if (rv != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    md_mod_live_setup(mc, s, pconf);
    md_mod_ocsp_setup(mc, s, pconf);
    challenges_possible(s, mc, serving);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 "%d MD(s) managed, store %s (sync %" APR_TIME_T_FMT
                 " ms, certificates %" APR_TIME_T_FMT " ms)",
                 mc->mds->nelts, md_store_dir(md_reg_store(mc->reg)),
                 apr_time_as_msec(synced - start), apr_time_as_msec(apr_time_now() - synced));
    return OK;
}

void md_mod_init_hooks(void)
{
    /* before mod_ssl's post_config, which asks for the certificate files */
    static const char *const succ[] = {"mod_ssl.c", NULL};

    ap_hook_post_config(post_config, NULL, succ, APR_HOOK_MIDDLE);
    md_mod_certs_hooks();
}

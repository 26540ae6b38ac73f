/* mod_md.c: the module record -- per-server configuration (one module-wide md_mod_conf_t shared
 * by all servers), the library's log forwarded to the error log, and every part's hooks. */
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "md_log.h"
#include "mod_md.h"

/* Key of the module-wide configuration in the config pool's user data: every server's
 * config points to the one instance; a (graceful) restart clears the pool and with it this. */
#define MD_MOD_CONF_KEY "mod_md.conf"

static void settings_init(md_mod_settings_t *settings)
{
    settings->renew_mode = -1;
    settings->require_https = -1;
    settings->must_staple = -1;
    settings->transitive = -1;
    settings->profile_mandatory = -1;
    settings->stapling = -1;
    settings->ari_renewals = -1;
}

static md_mod_conf_t *conf_get_or_create(apr_pool_t *p)
{
    void *data = NULL;
    md_mod_conf_t *mc;

    apr_pool_userdata_get(&data, MD_MOD_CONF_KEY, p);
    if (data) {
        return data;
    }
    mc = apr_pcalloc(p, sizeof(*mc));
    settings_init(&mc->defaults);
    mc->mdefs = apr_array_make(p, 5, sizeof(md_mod_mdef_t *));
    mc->mdef_names = apr_hash_make(p);
    mc->mds = apr_array_make(p, 5, sizeof(md_t *));
    mc->port_http = -1;
    mc->port_https = -1;
    mc->base_server = -1;
    mc->certificate_status = 1;
    mc->staple_others = -1;
    apr_pool_userdata_setn(mc, MD_MOD_CONF_KEY, NULL, p);
    return mc;
}

static void *create_srv_config(apr_pool_t *p, server_rec *s)
{
    md_mod_srv_t *srv = apr_pcalloc(p, sizeof(*srv));

    srv->s = s;
    srv->mc = conf_get_or_create(p);
    srv->md_index = -1;
    return srv;
}

/* A vhost's config: its own server, the shared module config; what it serves is decided later,
 * in check_config/post_config, never inherited from the base server. */
static void *merge_srv_config(apr_pool_t *p, void *basev, void *addv)
{
    const md_mod_srv_t *add = addv;
    md_mod_srv_t *srv = apr_pcalloc(p, sizeof(*srv));

    srv->s = add->s;
    srv->mc = add->mc;
    srv->md_index = -1;
    (void) basev;
    return srv;
}

md_mod_srv_t *md_mod_srv_get(server_rec *s)
{
    return ap_get_module_config(s->module_config, &md_module);
}

/* ---- the core library's log -> httpd's error log ---- */

static int ap_level_of(md_log_level_t level)
{
    switch (level) {
    case MD_LOG_ERR:
        return APLOG_ERR;
    case MD_LOG_WARN:
        return APLOG_WARNING;
    case MD_LOG_NOTICE:
        return APLOG_NOTICE;
    case MD_LOG_INFO:
        return APLOG_INFO;
    case MD_LOG_DEBUG:
        return APLOG_DEBUG;
    default:
        return APLOG_TRACE1;
    }
}

static md_log_level_t md_level_of(int ap_level)
{
    if (ap_level >= APLOG_TRACE1) {
        return MD_LOG_TRACE;
    }
    if (ap_level >= APLOG_DEBUG) {
        return MD_LOG_DEBUG;
    }
    if (ap_level >= APLOG_INFO) {
        return MD_LOG_INFO;
    }
    if (ap_level >= APLOG_NOTICE) {
        return MD_LOG_NOTICE;
    }
    return ap_level >= APLOG_WARNING ? MD_LOG_WARN : MD_LOG_ERR;
}

static void log_to_server(void *baton, const char *file, int line, md_log_level_t level,
                          apr_status_t rv, const char *msg)
{
    server_rec *s = baton;

    ap_log_error(file, line, APLOG_MODULE_INDEX, ap_level_of(level), rv, s, "%s", msg);
}

/* httpd lets a vhost share the base server's config of a module that has no directive in
 * that vhost; ours holds what each vhost serves, so every server gets its own. */
static void srv_configs_separate(server_rec *base, apr_pool_t *p)
{
    for (server_rec *s = base; s; s = s->next) {
        md_mod_srv_t *srv = md_mod_srv_get(s);
        if (!srv || srv->s != s) {
            srv = create_srv_config(p, s);
            ap_set_module_config(s->module_config, &md_module, srv);
        }
    }
}

/* check_config, first of all: the configuration is read, no thread of this generation runs.
 * Installs the log sink with the base server's level for this module. */
static int config_check_first(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void) plog;
    (void) ptemp;
    srv_configs_separate(s, pconf);
    md_log_set(log_to_server, s, md_level_of(ap_get_server_module_loglevel(s, APLOG_MODULE_INDEX)));
    return OK;
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_check_config(config_check_first, NULL, NULL, APR_HOOK_REALLY_FIRST);
    md_mod_config_hooks();
    md_mod_init_hooks();
    md_mod_drive_hooks(p);
    md_mod_http_hooks(p);
    md_mod_live_hooks();
    md_mod_certstatus_hooks();
    md_mod_serverstatus_hooks();
    md_mod_ocsp_hooks();
}

AP_DECLARE_MODULE(md) = {
    STANDARD20_MODULE_STUFF,
    NULL,              /* create per-directory config */
    NULL,              /* merge per-directory config */
    create_srv_config, /* create per-server config */
    merge_srv_config,  /* merge per-server config */
    md_mod_cmds,       /* directives */
    register_hooks,    /* register hooks */
    0,                 /* flags */
};

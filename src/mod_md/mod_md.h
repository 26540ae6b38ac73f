/* mod_md.h: what the parts of the Apache module share -- the module record, its configuration
 * (module-wide settings, MD definitions with their source lines) and the runtime state. */
#ifndef MOD_MD_H
#define MOD_MD_H

#include <httpd.h>
#include <http_config.h>

#include "md.h"
#include "md_reg.h"
#include "md_drive.h"

extern module AP_MODULE_DECLARE_DATA md_module;

/* Settings an operator can give globally and override per MD (inside <MDomain>). "Unset"
 * values (-1 / NULL) inherit: MD section -> global -> built-in default. */
typedef struct md_mod_settings_t {
    int renew_mode;                     /* md_renew_mode_t, -1 unset */
    const md_timeslice_t *renew_window; /* NULL unset */
    const md_timeslice_t *warn_window;
    apr_array_header_t *ca_urls; /* const char*; NULL unset */
    const char *ca_agreement;
    apr_array_header_t *ca_challenges; /* const char*; NULL unset */
    apr_array_header_t *pkey_specs;    /* md_pkey_spec_t*; NULL unset */
    const char *contact;               /* MDContactEmail */
    int require_https;                 /* 0 off, 1 temporary, 2 permanent; -1 unset */
    int must_staple;                   /* -1 unset */
    int transitive;                    /* MDMembers auto (1) / manual (0); -1 unset */
} md_mod_settings_t;

/* An MD as the configuration defines it. */
typedef struct md_mod_mdef_t {
    md_t *md;                   /* name, domains, defn_file/defn_line */
    md_mod_settings_t settings; /* from inside its <MDomain> section */
    const char *cert_file;      /* MDCertificateFile: a static certificate, not renewed */
    const char *key_file;       /* MDCertificateKeyFile */
} md_mod_mdef_t;

/* Module-wide configuration and state; one instance, hung off every server's config. */
typedef struct md_mod_conf_t {
    md_mod_settings_t defaults;
    apr_array_header_t *mdefs; /* md_mod_mdef_t*, in config order */
    const char *store_dir;     /* MDStoreDir, NULL: <ServerRoot>/md */
    const char *ca_file;       /* MDCACertificateFile */
    const char *proxy;         /* MDHttpProxy */
    int port_http, port_https; /* MDPortMap: local ports that get the CA's 80/443; -1 unset */
    int base_server;           /* MDBaseServer */
    apr_interval_time_t check_interval; /* MDCheckInterval */
    apr_interval_time_t retry_delay;    /* MDRetryDelay */
    const char *dns01_cmd;              /* MDChallengeDns01 */
    const char *message_cmd;            /* MDMessageCmd */
    const char *notify_cmd;             /* MDNotifyCmd */
    int auto_restart; /* MDActivationRestart: graceful restart after renewal; -1 unset */

    /* runtime, set up in post_config */
    md_reg_t *reg;           /* NULL when no MD is configured (no store is opened then) */
    apr_array_header_t *mds; /* md_t* the server manages (settings merged, states known) */
    int tlsalpn01_possible;  /* some vhost on the https port allows acme-tls/1 */
    int http01_possible;
} md_mod_conf_t;

/* Per server (vhost) configuration. */
typedef struct md_mod_srv_t {
    server_rec *s;
    md_mod_conf_t *mc; /* shared */
    const md_t *md;    /* the MD this vhost serves (check_config), NULL if none */
    int has_cert;      /* md has a usable certificate (else the fallback is served: 503) */
    /* what ssl_add_cert_files (has_cert) or ssl_add_fallback_cert_files hands to mod_ssl:
     * const char* paths, set in post_config; NULL when the vhost has no MD */
    apr_array_header_t *cert_files, *key_files;
} md_mod_srv_t;

md_mod_srv_t *md_mod_srv_get(server_rec *s);

/* Hooks each part registers; mod_md.c's register_hooks calls all of them. */
void md_mod_config_hooks(void);         /* mod_md_assemble.c: the MD list, vhost assignment */
void md_mod_init_hooks(void);           /* mod_md_init.c: post_config, certificates to mod_ssl */
void md_mod_drive_hooks(apr_pool_t *p); /* mod_md_drive.c: background driving, activation */
void md_mod_http_hooks(apr_pool_t *p);  /* mod_md_http.c: challenges, 503, redirects */

/* The directive table (mod_md_config.c). */
extern const command_rec md_mod_cmds[];

/* Defaults. */
#define MD_MOD_CHECK_INTERVAL_DEFAULT apr_time_from_sec(12 * 60 * 60)
#define MD_MOD_RETRY_DELAY_DEFAULT apr_time_from_sec(5)
#define MD_MOD_STORE_DIR_DEFAULT "md"

#endif

/* mod_md.h: what the parts of the Apache module share -- the module record, its configuration
 * (module-wide settings, MD definitions with their source lines) and the runtime state. */
#ifndef MOD_MD_H
#define MOD_MD_H

#include <apr_hash.h>
#include <httpd.h>
#include <http_config.h>

#include "md.h"
#include "md_reg.h"
#include "md_drive.h"

extern module AP_MODULE_DECLARE_DATA md_module;

typedef struct md_mod_live_t md_mod_live_t; /* mod_md_live.c */
typedef struct md_mod_ocsp_t md_mod_ocsp_t; /* mod_md_ocsp.c */

/* MDExternalAccountBinding: all NULL for 'none'. file: where it came from (NULL when given on
 * the directive's line); kid/hmac NULL when that file could not be read. */
typedef struct md_mod_eab_t {
    const char *kid, *hmac, *file;
} md_mod_eab_t;

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
    const char *proxy;                 /* MDHttpProxy; NULL unset */
    const char *profile;               /* MDProfile; NULL unset */
    int profile_mandatory;             /* MDProfileMandatory; -1 unset */
    const md_mod_eab_t *eab;           /* MDExternalAccountBinding; NULL unset */
    const char *preferred_chain;       /* MDPreferredChain; NULL unset */
    int stapling;                      /* MDStapling; -1 unset */
    int ari_renewals;                  /* MDRenewViaARI on (1) / off (0); -1 unset */
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
    apr_hash_t *mdef_names;    /* every name of every mdef -> md_mod_mdef_t* */
    const char *store_dir;     /* MDStoreDir, NULL: <ServerRoot>/md */
    const char *ca_file;       /* MDCACertificateFile */
    const char *proxy;         /* MDHttpProxy */
    const char *proxy_ca_file; /* MDHttpProxyCACertificateFile */
    int port_http, port_https; /* MDPortMap: local ports that get the CA's 80/443; -1 unset */
    int base_server;           /* MDBaseServer */
    int match_servernames;     /* MDMatchNames servernames: vhosts match MDs by ServerName only */
    int certificate_status;    /* MDCertificateStatus: /.httpd/certificate-status, default on */
    int server_status;         /* MDServerStatus: the MDs in mod_status's page, default off */
    const char *check_name, *check_url;    /* MDCertificateCheck, NULL: crt.sh */
    apr_interval_time_t check_interval;    /* MDCheckInterval */
    apr_interval_time_t retry_delay;       /* MDRetryDelay */
    const char *dns01_cmd;                 /* MDChallengeDns01 */
    int dns01_version;                     /* MDChallengeDns01Version: 1 (default) or 2 */
    apr_array_header_t *message_cmd;       /* MDMessageCmd: program and its arguments, NULL */
    apr_array_header_t *notify_cmd;        /* MDNotifyCmd: the same */
    apr_interval_time_t activation_delay;  /* MDActivationDelay: staged -> served, default 0 */
    apr_interval_time_t initial_delay;     /* MDInitialDelay: start -> first drive, default 0 */
    int retry_failover;                    /* MDRetryFailover, 0: the library's default */
    apr_interval_time_t store_lock_wait;   /* MDStoreLocks <duration>; 0: the default */
    int staple_others;                     /* MDStapleOthers; -1 unset (on) */
    apr_interval_time_t stapling_keep;     /* MDStaplingKeepResponse; 0 unset */
    const md_timeslice_t *stapling_window; /* MDStaplingRenewWindow; NULL unset */

    /* runtime, set up in post_config */
    md_reg_t *reg;           /* NULL when no MD is configured (no store is opened then) */
    apr_array_header_t *mds; /* md_t* the server manages (settings merged, states known) */
    int tlsalpn01_possible;  /* some vhost on the https port allows acme-tls/1 */
    int http01_possible;
    md_mod_live_t *live; /* what the workers present (mod_md_live.c), NULL: none */
    md_mod_ocsp_t *ocsp; /* certificates stapled (mod_md_ocsp.c), NULL: none */
} md_mod_conf_t;

/* Per server (vhost) configuration. */
typedef struct md_mod_srv_t {
    server_rec *s;
    md_mod_conf_t *mc; /* shared */
    const md_t *md;    /* the MD this vhost serves (check_config), NULL if none */
    int md_index;      /* md's index in mc->mds (post_config), -1 if none */
    int has_cert;      /* md has a usable certificate (else the fallback is served: 503) */
    /* what ssl_add_cert_files hands to mod_ssl (the MD's files or the fallback):
     * const char* paths, set in post_config; NULL when the vhost has no MD */
    apr_array_header_t *cert_files, *key_files;
} md_mod_srv_t;

md_mod_srv_t *md_mod_srv_get(server_rec *s);

/* mod_md_ip.c: warns when an SSL vhost s of an MD that names an IP address is not the vhost
 * httpd picks for connections to that address (those come without SNI). */
void md_mod_ip_check_first_vhost(server_rec *s, apr_pool_t *pconf);

/* Hooks each part registers; mod_md.c's register_hooks calls all of them. */
void md_mod_config_hooks(void);         /* mod_md_assemble.c: the MD list, vhost assignment */
void md_mod_init_hooks(void);           /* mod_md_init.c: post_config, certificates to mod_ssl */
void md_mod_drive_hooks(apr_pool_t *p); /* mod_md_drive.c: background driving, activation */
void md_mod_http_hooks(apr_pool_t *p);  /* mod_md_http.c: challenges, 503, redirects */
void md_mod_live_hooks(void);           /* mod_md_live.c: sets the driver published */
void md_mod_certstatus_hooks(void);     /* mod_md_certstatus.c: MDCertificateStatus */
void md_mod_serverstatus_hooks(void);   /* mod_md_serverstatus.c: MDServerStatus */
void md_mod_ocsp_hooks(void);           /* mod_md_ocsp.c: OCSP stapling */

/* ---- live activation (mod_md_live.c) ---- */

/* Makes the generation's table of what the workers present: one counter per MD of mc->mds in
 * shared memory, bumped by the driver when it publishes a set in live/. post_config. */
apr_status_t md_mod_live_setup(md_mod_conf_t *mc, server_rec *s, apr_pool_t *pconf);
/* The driver published live/<name> for the MD of index i: every worker loads it at its next
 * handshake for that MD. */
void md_mod_live_bump(md_mod_conf_t *mc, int i);
/* How many sets the driver published in live/ for the MD of index i in this generation. */
int md_mod_live_published(const md_mod_conf_t *mc, int i);
/* Whether the workers present a set from live/ for the MD of index i. */
int md_mod_live_presented(const md_mod_conf_t *mc, int i);
/* Whether a vhost has a certificate to serve, static (domains/, MDCertificateFile) or live. */
int md_mod_srv_has_cert(const md_mod_srv_t *srv);

/* OCSP stapling (mod_md_ocsp.c): the registry of stapled certificates, which mod_ssl fills
 * right after (post_config, with the store open). */
void md_mod_ocsp_setup(md_mod_conf_t *mc, server_rec *s, apr_pool_t *pconf);

/* The directive table (mod_md_config.c). */
extern const command_rec md_mod_cmds[];

/* Defaults. */
#define MD_MOD_CHECK_INTERVAL_DEFAULT apr_time_from_sec(12 * 60 * 60)
#define MD_MOD_RETRY_DELAY_DEFAULT apr_time_from_sec(5)
#define MD_MOD_STORE_DIR_DEFAULT "md"

#endif

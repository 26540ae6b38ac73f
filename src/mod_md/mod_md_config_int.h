/* mod_md_config_int.h: what the two halves of the directive handlers share -- where a directive
 * may stand, the checks of files and URLs, and the module-wide handlers the table names. */
#ifndef MOD_MD_CONFIG_INT_H
#define MOD_MD_CONFIG_INT_H

#include <http_config.h>

#include "mod_md.h"

/* The module-wide configuration a directive belongs to. */
md_mod_conf_t *md_mod_conf_of(cmd_parms *cmd);
/* NULL when the directive may stand here (not in a vhost, not in a directory), else the error. */
const char *md_mod_not_in_vhost(cmd_parms *cmd);
/* For directives that apply to all MDs: not in a vhost, not in an MD section. */
const char *md_mod_global_only(cmd_parms *cmd, void *mconfig);
/* Settings of the MD section the directive stands in, else the global ones. */
md_mod_settings_t *md_mod_settings_of(cmd_parms *cmd, void *mconfig);
/* The path of arg (relative to the ServerRoot) that must be a file (executable when asked); the
 * error naming the directive otherwise. */
const char *md_mod_file_check(cmd_parms *cmd, const char **ppath, const char *arg, int executable);
int md_mod_is_http_url(const char *s);

/* Checks the context of a module-wide setting. */
#define MD_MOD_GLOBAL_CHECK(cmd, mconfig)                                                          \
    do {                                                                                           \
        const char *ctx_err_ = md_mod_global_only(cmd, mconfig);                                   \
        if (ctx_err_) {                                                                            \
            return ctx_err_;                                                                       \
        }                                                                                          \
    } while (0)

/* Checks the context of a per-MD setting. */
#define MD_MOD_SETTING_CHECK(cmd, mconfig)                                                         \
    do {                                                                                           \
        const char *ctx_err_ = (mconfig) ? NULL : md_mod_not_in_vhost(cmd);                        \
        if (ctx_err_) {                                                                            \
            return ctx_err_;                                                                       \
        }                                                                                          \
    } while (0)

/* The module-wide handlers (mod_md_config_global.c). */
const char *md_mod_set_global_file(cmd_parms *cmd, void *mconfig, const char *arg);
const char *md_mod_set_cmd(cmd_parms *cmd, void *mconfig, int argc, char *const argv[]);
const char *md_mod_set_duration(cmd_parms *cmd, void *mconfig, const char *arg);
const char *md_mod_set_port_map(cmd_parms *cmd, void *mconfig, const char *a1, const char *a2);
const char *md_mod_set_store_dir(cmd_parms *cmd, void *mconfig, const char *arg);
const char *md_mod_set_proxy(cmd_parms *cmd, void *mconfig, const char *arg);
const char *md_mod_set_dns01_version(cmd_parms *cmd, void *mconfig, const char *arg);
const char *md_mod_set_store_locks(cmd_parms *cmd, void *mconfig, const char *arg);
const char *md_mod_set_retry_failover(cmd_parms *cmd, void *mconfig, const char *arg);
const char *md_mod_set_match_names(cmd_parms *cmd, void *mconfig, const char *arg);
const char *md_mod_set_certificate_status(cmd_parms *cmd, void *mconfig, int flag);
const char *md_mod_set_server_status(cmd_parms *cmd, void *mconfig, int flag);
const char *md_mod_set_certificate_check(cmd_parms *cmd, void *mconfig, const char *name,
                                         const char *url);
const char *md_mod_set_global_flag(cmd_parms *cmd, void *mconfig, int flag);
const char *md_mod_set_staple_flag(cmd_parms *cmd, void *mconfig, int flag);
const char *md_mod_set_stapling_keep(cmd_parms *cmd, void *mconfig, const char *arg);

#endif

/* mod_md_config.h: what the startup parts of the module share among themselves (the assembled
 * configuration's warnings, the certificates handed to mod_ssl); not used by other parts. */
#ifndef MOD_MD_CONFIG_H
#define MOD_MD_CONFIG_H

#include "mod_md.h"

/* Logs what is allowed but likely a mistake (an MD no vhost uses). */
void md_mod_config_warnings(server_rec *base, const md_mod_conf_t *mc);

/* For every vhost with an MD: the certificate files for mod_ssl -- the MD's own ones (per key
 * spec with a usable certificate; MDCertificateFile) or a fallback (self-signed EC P-256 for
 * the MD's names, made once and reused while it covers the names). Sets has_cert, cert_files
 * and key_files of each md_mod_srv_t. */
apr_status_t md_mod_certs_setup(server_rec *base, md_mod_conf_t *mc, apr_pool_t *pconf,
                                apr_pool_t *ptemp);

/* MDExternalAccountBinding's arguments (mod_md_eab.c): '<kid> <hmac>', '<file.json>' or
 * 'none' (a2 NULL for the one-argument forms). An error message, or NULL. */
const char *md_mod_eab_parse(const md_mod_eab_t **peab, cmd_parms *cmd, const char *a1,
                             const char *a2);

/* Registers ssl_add_cert_files. */
void md_mod_certs_hooks(void);

#endif

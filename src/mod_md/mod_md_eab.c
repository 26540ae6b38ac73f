/* mod_md_eab.c: MDExternalAccountBinding's argument -- a key id and HMAC key, a JSON file
 * of the operator's (read by root while the config is read), or none -- checked at configtest. */
#include <string.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "md_acme_eab.h"
#include "mod_md_config.h"

APLOG_USE_MODULE(md);

#define MD_MOD_EAB_NONE "none"

/* The file holds a secret: others must not read it (it is the operator's, root reads it). */
static void eab_file_perms_check(cmd_parms *cmd, const char *path)
{
    apr_finfo_t fi;

    if (apr_stat(&fi, path, APR_FINFO_PROT, cmd->temp_pool) == APR_SUCCESS &&
        (fi.protection & (APR_FPROT_WREAD | APR_FPROT_WWRITE))) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server,
                     "%s: %s holds an HMAC key and is readable by everyone on this machine: "
                     "chmod 600 it (root reads it when the server starts)",
                     cmd->cmd->name, path);
    }
}

static const char *eab_from_file(md_mod_eab_t *eab, cmd_parms *cmd, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg), *err;
    apr_status_t rv;

    if (!path) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid path", cmd->cmd->name, arg);
    }
    eab->file = path;
    rv = md_acme_eab_read_file(&eab->kid, &eab->hmac, &err, path, cmd->pool);
    if (APR_STATUS_IS_ENOENT(rv)) {
        /* deployment tools may put it there later: only a new account needs it */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server,
                     "%s: %s does not exist (yet); registering a new ACME account fails until "
                     "it does and the server is restarted",
                     cmd->cmd->name, path);
        return NULL;
    }
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool,
                            "%s: %s; the file must hold {\"kid\": \"<key id>\", \"hmac\": "
                            "\"<base64url HMAC key>\"} as the CA issued them",
                            cmd->cmd->name, err);
    }
    eab_file_perms_check(cmd, path);
    return NULL;
}

const char *md_mod_eab_parse(const md_mod_eab_t **peab, cmd_parms *cmd, const char *a1,
                             const char *a2)
{
    md_mod_eab_t *eab = apr_pcalloc(cmd->pool, sizeof(*eab));
    const char *err;

    *peab = eab;
    if (a2) {
        if (md_acme_eab_check_hmac(&err, a2, cmd->pool) != APR_SUCCESS) {
            return apr_psprintf(cmd->pool,
                                "%s: for key id '%s': %s; write '%s <kid> <hmac>', or keep "
                                "both in a file and write '%s <file.json>'",
                                cmd->cmd->name, a1, err, cmd->cmd->name, cmd->cmd->name);
        }
        eab->kid = a1;
        eab->hmac = a2;
        return NULL;
    }
    if (!strcasecmp(a1, MD_MOD_EAB_NONE)) {
        return NULL; /* all NULL: no binding, also where a global one is set */
    }
    return eab_from_file(eab, cmd, a1);
}

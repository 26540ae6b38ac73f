/* a2md_revoke.c: 'a2md revoke <md> [--reason R]' -- revokes the MD's certificates in domains/
 * with the account that ordered them (RFC 8555 7.6). */
#include <string.h>
#include <apr_strings.h>

#include "a2md.h"
#include "md_acme_manage.h"

static apr_status_t cmd_revoke(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    const char *name = NULL;
    int reason = -1, revoked, already;
    md_t *md;
    apr_status_t rv;

    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--reason") || !strcmp(argv[i], "-r")) {
            if (i + 1 >= argc || md_acme_revoke_reason_parse(&reason, argv[i + 1]) != APR_SUCCESS) {
                return a2md_usage_error(ctx, "revoke: --reason takes a code 0-10 or a name: "
                                             "unspecified, keyCompromise, affiliationChanged, "
                                             "superseded, cessationOfOperation, removeFromCRL, "
                                             "privilegeWithdrawn");
            }
            ++i;
        } else if (!name && argv[i][0] != '-') {
            name = argv[i];
        } else {
            return a2md_usage_error(ctx, "revoke: unexpected '%s'; use revoke <md> [--reason R]",
                                    argv[i]);
        }
    }
    if (!name) {
        return a2md_usage_error(ctx, "revoke: which MD? (see 'a2md list')");
    }
    if ((rv = a2md_open_reg(ctx, 0)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = md_reg_get(&md, ctx->reg, name, ctx->p)) != APR_SUCCESS) {
        return a2md_fail(ctx, rv, "revoke: no MD named %s in the store", name);
    }
    rv = md_acme_revoke_md(&revoked, &already, ctx->reg, md, reason, ctx->ca_url, ctx->ca_file,
                           ctx->proxy, ctx->p);
    if (ctx->json) {
        md_json_t *j = md_json_new_obj(ctx->p);
        md_json_set_str(j, "name", md->name);
        md_json_set_int(j, "revoked", revoked);
        md_json_set_int(j, "already-revoked", already);
        a2md_output(ctx, j);
    } else if (revoked || already) {
        a2md_print(ctx, "%s: %d certificate(s) revoked%s\n", md->name, revoked,
                   already ? apr_psprintf(ctx->p, ", %d revoked already", already) : "");
    }
    return rv;
}

const a2md_cmd_t a2md_cmd_revoke = {"revoke", "revoke md [--reason R]",
                                    "revokes the MD's certificates at its CA", cmd_revoke};

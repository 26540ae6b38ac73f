/* a2md_acme.c: 'a2md acme ...' -- ACME accounts by hand: register (newreg), deactivate (delreg),
 * agree to the CA's terms, validate with the CA, update contacts, roll the key over. */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>

#include "a2md.h"
#include "md_acme.h"
#include "md_acme_eab.h"
#include "md_acme_manage.h"
#include "md_log.h"

/* Shows the stored account: its id (text) or account.json plus "id" (JSON). */
static apr_status_t acct_show(a2md_ctx_t *ctx, md_store_t *store, const md_acme_acct_t *acct,
                              const char *what)
{
    md_json_t *j;
    const char *err = NULL;
    apr_status_t rv;

    rv = md_store_load_json(&j, &err, store, MD_SG_ACCOUNTS, acct->id, MD_FN_ACCOUNT, ctx->p);
    if (rv != APR_SUCCESS) {
        return a2md_fail(ctx, rv, "%s", err ? err : "cannot read the account just stored");
    }
    md_json_set_str(j, "id", acct->id);
    if (ctx->json) {
        a2md_output(ctx, j);
    } else if (what) {
        a2md_print(ctx, "%s: %s\n", acct->id, what);
    } else {
        a2md_print(ctx, "%s\n", acct->id);
    }
    return APR_SUCCESS;
}

/* "admin@example.org" -> "mailto:admin@example.org"; other URIs are kept. */
static apr_status_t contacts_parse(apr_array_header_t **pcontacts, a2md_ctx_t *ctx, const char *cmd,
                                   int argc, const char *const *argv)
{
    apr_array_header_t *contacts = apr_array_make(ctx->p, argc + 1, sizeof(const char *));
    int i;

    for (i = 0; i < argc; ++i) {
        const char *c = argv[i];
        if (!strchr(c, ':')) {
            if (!strchr(c, '@')) {
                return a2md_usage_error(ctx,
                                        "acme %s: contact '%s' is neither an email address nor "
                                        "a URI like mailto:admin@example.org",
                                        cmd, c);
            }
            c = apr_pstrcat(ctx->p, "mailto:", c, NULL);
        }
        APR_ARRAY_PUSH(contacts, const char *) = c;
    }
    *pcontacts = contacts;
    return APR_SUCCESS;
}

/* An existing account, validated with its CA (account.json's ca-url, or -a): the context then
 * signs as that account. */
static apr_status_t acct_open(md_acme_acct_t **pacct, md_acme_t **pacme, md_store_t **pstore,
                              a2md_ctx_t *ctx, const char *cmd, int argc, const char *const *argv)
{
    md_acme_acct_t *acct;
    md_pkey_t *key;
    const char *url;
    apr_status_t rv;

    if (argc < 2) {
        return a2md_usage_error(ctx, "acme %s: which account? (see 'a2md store accounts')", cmd);
    }
    if ((rv = a2md_open_reg(ctx, 0)) != APR_SUCCESS) {
        return rv;
    }
    *pstore = md_reg_store(ctx->reg);
    if ((rv = md_acme_acct_load(&acct, &key, *pstore, argv[1], ctx->p)) != APR_SUCCESS) {
        return rv;
    }
    url = ctx->ca_url ? ctx->ca_url : acct->ca_url;
    if (!url) {
        return a2md_fail(ctx, APR_EINVAL, "account %s names no CA (ca-url): give one with -a",
                         acct->id);
    }
    if ((rv = md_acme_create(pacme, url, ctx->ca_file, ctx->proxy, ctx->p)) != APR_SUCCESS) {
        return rv;
    }
    rv = md_acme_acct_validate(pacct, *pacme, *pstore, acct->id, ctx->p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return a2md_fail(ctx, rv, "the CA at %s does not know account %s", url, acct->id);
    }
    return rv;
}

apr_status_t a2md_eab_read(const char **pkid, const char **phmac, a2md_ctx_t *ctx,
                           const char *source)
{
    char buf[MD_ACME_EAB_MAX_LEN + 1];
    const char *err;
    apr_size_t len;
    apr_status_t rv;

    if (strcmp(source, "-")) {
        rv = md_acme_eab_read_file(pkid, phmac, &err, source, ctx->p);
        return rv == APR_SUCCESS ? rv : a2md_fail(ctx, rv, "--eab-file: %s", err);
    }
    len = fread(buf, 1, sizeof(buf), stdin);
    if (ferror(stdin) || len > MD_ACME_EAB_MAX_LEN) {
        return a2md_fail(ctx, APR_EINVAL, "--eab-file -: cannot read the binding from stdin%s",
                         len > MD_ACME_EAB_MAX_LEN ? " (too long)" : "");
    }
    rv = md_acme_eab_parse(pkid, phmac, &err, buf, len, ctx->p);
    return rv == APR_SUCCESS ? rv : a2md_fail(ctx, rv, "--eab-file -: stdin: %s", err);
}

static apr_status_t acme_newreg(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    const char *eab_kid = NULL, *eab_hmac = NULL;
    apr_array_header_t *contacts;
    md_acme_acct_t *acct;
    md_acme_t *acme;
    md_store_t *store;
    apr_status_t rv;
    int i = 1;

    if (argc > 1 && (!strcmp(argv[1], "-e") || !strcmp(argv[1], "--eab"))) {
        return a2md_usage_error(ctx,
                                "acme newreg: %s is gone: a key on the command line is visible "
                                "to every user of the machine; put it in a file (JSON {\"kid\": "
                                "..., \"hmac\": ...} or kid:hmac) and give --eab-file FILE, or "
                                "pipe it in with --eab-file -",
                                argv[1]);
    }
    if (argc > 1 && !strcmp(argv[1], "--eab-file")) {
        if (argc < 3) {
            return a2md_usage_error(ctx, "acme newreg: --eab-file needs a file name (or -)");
        }
        if ((rv = a2md_eab_read(&eab_kid, &eab_hmac, ctx, argv[2])) != APR_SUCCESS) {
            return rv;
        }
        i = 3;
    }
    if (!ctx->ca_url) {
        return a2md_usage_error(ctx, "acme newreg: which CA? give its directory URL with -a");
    }
    if ((rv = contacts_parse(&contacts, ctx, "newreg", argc - i, argv + i)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = md_acme_create(&acme, ctx->ca_url, ctx->ca_file, ctx->proxy, ctx->p)) !=
            APR_SUCCESS ||
        (rv = a2md_open_reg(ctx, 1)) != APR_SUCCESS) {
        return rv;
    }
    store = md_reg_store(ctx->reg);
    rv = md_acme_acct_register(&acct, acme, store, contacts, ctx->agreement, eab_kid, eab_hmac,
                               NULL, ctx->p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!ctx->json) {
        /* the bundled a2md's line, which scripts read the new id from */
        a2md_print(ctx, "registered: %s\n", acct->id);
        return APR_SUCCESS;
    }
    return acct_show(ctx, store, acct, NULL);
}

static apr_status_t acme_delreg(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    md_acme_acct_t *acct;
    md_acme_t *acme;
    md_store_t *store;
    apr_status_t rv;

    if ((rv = acct_open(&acct, &acme, &store, ctx, "delreg", argc, argv)) != APR_SUCCESS ||
        (rv = md_acme_acct_deactivate(acct, acme, store, ctx->p)) != APR_SUCCESS) {
        return rv;
    }
    return acct_show(ctx, store, acct, acct->status);
}

static apr_status_t acme_agree(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    md_acme_acct_t *acct;
    md_acme_t *acme;
    md_store_t *store;
    apr_status_t rv;

    if (!ctx->agreement) {
        return a2md_usage_error(ctx, "acme agree: give the terms with -t <url> (or -t accepted)");
    }
    if ((rv = acct_open(&acct, &acme, &store, ctx, "agree", argc, argv)) != APR_SUCCESS ||
        (rv = md_acme_acct_update(acct, acme, store, NULL, ctx->agreement, ctx->p)) !=
            APR_SUCCESS) {
        return rv;
    }
    return acct_show(ctx, store, acct, apr_pstrcat(ctx->p, "agreed to ", acct->agreement, NULL));
}

static apr_status_t acme_validate(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    md_acme_acct_t *acct;
    md_acme_t *acme;
    md_store_t *store;
    apr_status_t rv;

    if ((rv = acct_open(&acct, &acme, &store, ctx, "validate", argc, argv)) != APR_SUCCESS) {
        return rv;
    }
    return acct_show(ctx, store, acct, acct->status);
}

static apr_status_t acme_keyroll(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    md_acme_acct_t *acct;
    md_acme_t *acme;
    md_store_t *store;
    apr_status_t rv;

    if ((rv = acct_open(&acct, &acme, &store, ctx, "keyroll", argc, argv)) != APR_SUCCESS ||
        (rv = md_acme_acct_keyroll(acct, acme, store, NULL, ctx->p)) != APR_SUCCESS) {
        return rv;
    }
    return acct_show(ctx, store, acct, "new key");
}

static apr_status_t acme_update(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    apr_array_header_t *contacts;
    md_acme_acct_t *acct;
    md_acme_t *acme;
    md_store_t *store;
    apr_status_t rv;

    if (argc < 3 || strcmp(argv[2], "contacts")) {
        return a2md_usage_error(ctx, "acme update: use 'acme update <account> contacts "
                                     "<contact>...'");
    }
    if ((rv = contacts_parse(&contacts, ctx, "update", argc - 3, argv + 3)) != APR_SUCCESS ||
        (rv = acct_open(&acct, &acme, &store, ctx, "update", argc, argv)) != APR_SUCCESS ||
        (rv = md_acme_acct_update(acct, acme, store, contacts, NULL, ctx->p)) != APR_SUCCESS) {
        return rv;
    }
    return acct_show(
        ctx, store, acct,
        apr_pstrcat(ctx->p, "contacts ",
                    acct->contacts->nelts ? md_array_str_join(acct->contacts, " ", ctx->p) : "none",
                    NULL));
}

static const a2md_cmd_t acme_cmds[] = {
    {"newreg", "newreg [--eab-file FILE|-] contact...", "registers a new account (-t to agree)",
     acme_newreg},
    {"delreg", "delreg account", "deactivates the account at the CA", acme_delreg},
    {"agree", "agree account", "agrees to the CA's terms given with -t", acme_agree},
    {"validate", "validate account", "asks the CA about the account", acme_validate},
    {"update", "update account contacts contact...", "changes the account's contacts", acme_update},
    {"keyroll", "keyroll account", "gives the account a new key (RFC 8555 7.3.5)", acme_keyroll},
    {NULL, NULL, NULL, NULL},
};

static apr_status_t cmd_acme(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    return a2md_dispatch(ctx, acme_cmds, "acme", argc - 1, argv + 1);
}

const a2md_cmd_t a2md_cmd_acme = {
    "acme", "acme cmd [opts] [args]",
    "ACME accounts (newreg, delreg, agree, validate, update, keyroll)", cmd_acme};

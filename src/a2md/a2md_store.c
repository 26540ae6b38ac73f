/* a2md_store.c: 'a2md store ...' -- looking into the store and changing it by hand: its
 * groups and entries, accounts, a consistency check, and removing entries. */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>

#include "a2md.h"
#include "md_cert.h"
#include "md_log.h"

/* 'store groups [group...]': what each group holds, by entry name. */
static apr_status_t store_groups(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    apr_array_header_t *names;
    md_store_group_t g;
    apr_status_t rv;
    int i, j;

    if ((rv = a2md_open_reg(ctx, 0)) != APR_SUCCESS) {
        return rv;
    }
    for (g = 0; g < MD_SG_COUNT; ++g) {
        const char *gname = md_store_group_name(g);
        int wanted = argc < 2;
        for (i = 1; i < argc; ++i) {
            wanted |= !strcmp(argv[i], gname);
        }
        if (!wanted || g == MD_SG_TMP) {
            continue;
        }
        if ((rv = md_store_names(&names, md_reg_store(ctx->reg), g, ctx->p)) != APR_SUCCESS) {
            return a2md_fail(ctx, rv, "store groups: cannot read %s/%s", ctx->store_dir, gname);
        }
        if (ctx->json) {
            md_json_t *item = md_json_new_obj(ctx->p);
            md_json_set_str(item, "group", gname);
            md_json_set_strs(item, "entries", names);
            a2md_output(ctx, item);
        }
        a2md_print(ctx, "%s:\n", gname);
        for (j = 0; j < names->nelts; ++j) {
            a2md_print(ctx, "  %s\n", APR_ARRAY_IDX(names, j, const char *));
        }
    }
    for (i = 1; i < argc; ++i) {
        md_store_group_t dummy;
        if (md_store_group_parse(&dummy, argv[i]) != APR_SUCCESS) {
            return a2md_usage_error(ctx, "store groups: unknown group '%s'", argv[i]);
        }
    }
    return APR_SUCCESS;
}

static const char *account_summary(md_json_t *acct, apr_pool_t *p)
{
    apr_array_header_t *contacts = md_json_get_strs(acct, "contact", p);
    const char *status = md_json_get_str(acct, "status");

    return apr_psprintf(p, "%s, %s, contacts: %s", status ? status : "unknown status",
                        md_json_get_str(acct, "url") ? md_json_get_str(acct, "url") : "no url",
                        contacts && contacts->nelts ? md_array_str_join(contacts, " ", p) : "-");
}

static apr_status_t store_accounts(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    md_store_t *store;
    apr_array_header_t *ids;
    apr_status_t rv;
    int i;

    if ((rv = a2md_open_reg(ctx, 0)) != APR_SUCCESS) {
        return rv;
    }
    store = md_reg_store(ctx->reg);
    if ((rv = md_store_names(&ids, store, MD_SG_ACCOUNTS, ctx->p)) != APR_SUCCESS) {
        return a2md_fail(ctx, rv, "store accounts: cannot read the accounts directory");
    }
    for (i = 0; i < ids->nelts; ++i) {
        const char *id = APR_ARRAY_IDX(ids, i, const char *), *err = NULL;
        md_json_t *acct;
        rv = md_store_load_json(&acct, &err, store, MD_SG_ACCOUNTS, id, MD_FN_ACCOUNT, ctx->p);
        if (rv != APR_SUCCESS) {
            return a2md_fail(ctx, rv, "%s", err ? err : "cannot read account.json");
        }
        if (ctx->json) {
            md_json_set_str(acct, "id", id);
            a2md_output(ctx, acct);
        }
        a2md_print(ctx, "%s: %s\n", id, account_summary(acct, ctx->p));
    }
    return APR_SUCCESS;
}

static int has_prefix(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

static int has_suffix(const char *s, const char *suffix)
{
    apr_size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Reads everything of one entry that can be read and says what is wrong. */
static int check_entry(a2md_ctx_t *ctx, md_store_group_t g, const char *name, md_json_t *report)
{
    md_store_t *store = md_reg_store(ctx->reg);
    apr_array_header_t *aspects, *chain;
    md_json_t *ignored;
    md_pkey_t *key;
    const char *err;
    int i, problems = 0;

    md_store_aspects(&aspects, store, g, name, ctx->p);
    for (i = 0; i < aspects->nelts; ++i) {
        const char *a = APR_ARRAY_IDX(aspects, i, const char *);
        const char *where = apr_psprintf(ctx->p, "%s/%s/%s", md_store_group_name(g), name, a);
        apr_status_t rv = APR_SUCCESS;
        err = NULL;
        if (has_suffix(a, ".json")) {
            rv = md_store_load_json(&ignored, &err, store, g, name, a, ctx->p);
        } else if (has_prefix(a, MD_FN_PUBCERT) || has_prefix(a, "fallback-" MD_FN_PUBCERT)) {
            rv = md_store_load_chain(&chain, &err, store, g, name, a, ctx->p);
        } else if (has_prefix(a, MD_FN_PRIVKEY) || has_prefix(a, "fallback-" MD_FN_PRIVKEY) ||
                   !strcmp(a, MD_FN_ACCT_KEY)) {
            rv = md_store_load_pkey(&key, &err, store, g, name, a, ctx->p);
        }
        if (rv != APR_SUCCESS) {
            char buf[128];
            const char *why = err ? err : apr_strerror(rv, buf, sizeof(buf));
            md_json_push_str(report, apr_psprintf(ctx->p, "%s: %s", where, why));
            fprintf(stderr, "a2md: %s: %s\n", where, why);
            problems++;
        }
    }
    return problems;
}

static apr_status_t store_check(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    md_store_group_t groups[] = {MD_SG_ACCOUNTS, MD_SG_DOMAINS, MD_SG_STAGING, MD_SG_ARCHIVE};
    md_json_t *report, *item;
    apr_array_header_t *names;
    apr_status_t rv;
    unsigned gi;
    int i, problems = 0, entries = 0;

    if ((rv = a2md_open_reg(ctx, 0)) != APR_SUCCESS) {
        return rv;
    }
    report = md_json_new_arr(ctx->p);
    for (gi = 0; gi < sizeof(groups) / sizeof(groups[0]); ++gi) {
        md_store_names(&names, md_reg_store(ctx->reg), groups[gi], ctx->p);
        for (i = 0; i < names->nelts; ++i) {
            problems += check_entry(ctx, groups[gi], APR_ARRAY_IDX(names, i, const char *), report);
            entries++;
        }
    }
    item = md_json_new_obj(ctx->p);
    md_json_set_int(item, "entries", entries);
    md_json_set(item, "problems", report);
    a2md_output(ctx, item);
    a2md_print(ctx, "%d entries checked, %d problems\n", entries, problems);
    if (problems) {
        return a2md_fail(ctx, APR_EINVAL, "store check: %d problem%s found", problems,
                         problems == 1 ? "" : "s");
    }
    return APR_SUCCESS;
}

static apr_status_t store_remove(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    int i = 1, force = 0;
    const char *archived;
    apr_status_t rv;

    if (argc > 1 && (!strcmp(argv[1], "-f") || !strcmp(argv[1], "--force"))) {
        force = 1;
        ++i;
    }
    if (i >= argc) {
        return a2md_usage_error(ctx, "store remove: which managed domain?");
    }
    if ((rv = a2md_open_reg(ctx, 0)) != APR_SUCCESS) {
        return rv;
    }
    for (; i < argc; ++i) {
        md_store_t *store = md_reg_store(ctx->reg);
        if (!force) {
            rv = md_reg_remove(&archived, ctx->reg, argv[i], ctx->p);
            if (rv == APR_SUCCESS) {
                a2md_print(ctx, "%s moved to archive/%s\n", argv[i], archived);
            }
        } else if (!md_store_exists(store, MD_SG_DOMAINS, argv[i], NULL, ctx->p)) {
            rv = a2md_fail(ctx, APR_ENOENT, "no managed domain named '%s' in %s", argv[i],
                           ctx->store_dir);
        } else if ((rv = md_store_purge(store, MD_SG_DOMAINS, argv[i], ctx->p)) == APR_SUCCESS &&
                   (rv = md_store_purge(store, MD_SG_STAGING, argv[i], ctx->p)) == APR_SUCCESS) {
            a2md_print(ctx, "%s destroyed\n", argv[i]);
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t store_add(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    return a2md_cmd_add.run(ctx, argc, argv);
}

/* 'store list' and 'store update' are the bundled a2md's words for 'list' and 'update'. */
static apr_status_t store_md_list(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    return a2md_cmd_list.run(ctx, argc, argv);
}

static apr_status_t store_update(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    return a2md_cmd_update.run(ctx, argc, argv);
}

static const a2md_cmd_t store_cmds[] = {
    {"list", "list [name...]", "same as 'a2md list'", store_md_list},
    {"update", "update name [aspect args]", "same as 'a2md update'", store_update},
    {"groups", "groups [group...]", "entries of the store's groups", store_groups},
    {"accounts", "accounts", "ACME accounts in the store", store_accounts},
    {"check", "check", "reads every file and reports what is broken", store_check},
    {"add", "add domain...", "same as 'a2md add'", store_add},
    {"remove", "remove [-f] name...", "archive (or with -f destroy) managed domains", store_remove},
    {NULL, NULL, NULL, NULL},
};

static apr_status_t cmd_store(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    return a2md_dispatch(ctx, store_cmds, "store", argc - 1, argv + 1);
}

const a2md_cmd_t a2md_cmd_store = {"store", "store cmd [opts] [args]",
                                   "inspect and manipulate the store (list, update, groups, "
                                   "accounts, check, add, remove)",
                                   cmd_store};

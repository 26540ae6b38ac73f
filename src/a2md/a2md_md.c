/* a2md_md.c: the a2md commands on managed domains -- add, update, list, remove -- and how
 * one MD is shown, as text for people or as the registry's status JSON for scripts. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>

#include "a2md.h"
#include "md_acme_profile.h"
#include "md_ari.h"
#include "md_drive.h"
#include "md_log.h"

static const char *time_str(apr_time_t t, apr_pool_t *p)
{
    return t ? md_time_format(t, p) : "-";
}

/* A renewal in progress: its step, and its last error with the next try. */
static void show_job(a2md_ctx_t *ctx, const md_t *md)
{
    md_json_t *job, *err;

    if (md_drive_job_load(&job, ctx->reg, md->name, ctx->p) != APR_SUCCESS) {
        return;
    }
    a2md_print(ctx, "  renewal: step %s", md_json_get_str(job, "step"));
    if ((err = md_json_get(job, "error", ctx->p)) != NULL) {
        a2md_print(ctx, ", %lld errors, last: %s; next try %s", md_json_get_int(job, "errors", 0),
                   md_json_get_str(err, "detail"),
                   md_json_get_str(job, "next-try") ? md_json_get_str(job, "next-try") : "-");
    }
    a2md_print(ctx, "\n");
}

/* What the CA's renewal information (ARI) said at the last check, per certificate. */
static void show_ari(a2md_ctx_t *ctx, const md_t *md)
{
    md_ari_state_t *ari;

    if (!md->ari_renewals ||
        md_ari_load(&ari, md_reg_store(ctx->reg), md->name, ctx->p) != APR_SUCCESS) {
        return;
    }
    for (int i = 0; i < ari->certs->nelts; ++i) {
        const md_ari_cert_t *c = APR_ARRAY_IDX(ari->certs, i, const md_ari_cert_t *);
        a2md_print(ctx, "  %s ARI: ", c->key);
        if (c->start) {
            a2md_print(ctx, "window %s .. %s, renew at %s", time_str(c->start, ctx->p),
                       time_str(c->end, ctx->p), time_str(c->renew_at, ctx->p));
        } else {
            a2md_print(ctx, "no window yet");
        }
        a2md_print(ctx, ", next check %s%s%s%s%s\n", time_str(c->next_check, ctx->p),
                   c->explanation ? ", explanation " : "", c->explanation ? c->explanation : "",
                   c->error ? "; last error: " : "", c->error ? c->error : "");
    }
}

apr_status_t a2md_show_md(a2md_ctx_t *ctx, const md_t *md)
{
    apr_array_header_t *infos;
    md_json_t *j;
    int i;

    if (ctx->json) {
        md_reg_status_json(&j, ctx->reg, md, NULL, apr_time_now(), ctx->p);
        a2md_output(ctx, j);
        return APR_SUCCESS;
    }
    a2md_print(ctx, "%s  %s  [%s]\n", md->name, md_state_name(md->state),
               md_array_str_join(md->domains, " ", ctx->p));
    if (ctx->verbose) {
        a2md_print(ctx, "  ca: %s %s, agreement: %s, contacts: %s\n", md->ca_proto,
                   md->ca_urls->nelts ? md_array_str_join(md->ca_urls, " ", ctx->p) : "-",
                   md->ca_agreement ? md->ca_agreement : "-",
                   md->contacts->nelts ? md_array_str_join(md->contacts, " ", ctx->p) : "-");
        a2md_print(ctx, "  renew: %s, window %s, warn %s, ARI %s\n",
                   md_renew_mode_name(md->renew_mode),
                   md_timeslice_format(&md->renew_window, ctx->p),
                   md_timeslice_format(&md->warn_window, ctx->p), md->ari_renewals ? "on" : "off");
    }
    md_reg_cert_infos(&infos, ctx->reg, md, MD_SG_DOMAINS, apr_time_now(), ctx->p);
    for (i = 0; i < infos->nelts; ++i) {
        md_cert_info_t *info = APR_ARRAY_IDX(infos, i, md_cert_info_t *);
        if (info->names) {
            a2md_print(ctx, "  %s: valid %s .. %s, renew from %s, issuer %s%s%s\n", info->spec_name,
                       time_str(info->not_before, ctx->p), time_str(info->not_after, ctx->p),
                       time_str(info->renew_at, ctx->p), info->issuer, info->problem ? "; " : "",
                       info->problem ? info->problem : "");
        } else {
            a2md_print(ctx, "  %s: %s\n", info->spec_name, info->problem);
        }
    }
    show_ari(ctx, md);
    show_job(ctx, md);
    return APR_SUCCESS;
}

static apr_array_header_t *args_array(int argc, const char *const *argv, apr_pool_t *p)
{
    apr_array_header_t *a = apr_array_make(p, argc > 0 ? argc : 1, sizeof(const char *));
    int i;

    for (i = 0; i < argc; ++i) {
        APR_ARRAY_PUSH(a, const char *) = argv[i];
    }
    return a;
}

static apr_status_t cmd_add(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    apr_array_header_t *domains;
    const char *err = NULL;
    md_t *md;
    apr_status_t rv;

    if (argc < 2) {
        return a2md_usage_error(ctx, "add: which domain names?");
    }
    /* check the names before anything touches the disk: a typo must not create a store */
    if (md_dns_names_check(&domains, &err, args_array(argc - 1, argv + 1, ctx->p), ctx->p)) {
        return a2md_fail(ctx, APR_EINVAL, "add: %s", err);
    }
    md = md_create(domains, ctx->p);
    if (ctx->ca_url) {
        APR_ARRAY_PUSH(md->ca_urls, const char *) = ctx->ca_url;
    }
    md->ca_agreement = ctx->agreement;
    if ((rv = a2md_open_reg(ctx, 1)) != APR_SUCCESS ||
        (rv = md_reg_add(ctx->reg, md, ctx->p)) != APR_SUCCESS) {
        return rv;
    }
    return a2md_show_md(ctx, md);
}

const a2md_cmd_t a2md_cmd_add = {"add", "add [opts] domain [domain...]",
                                 "adds a managed domain; must not overlap existing ones", cmd_add};

/* "admin@example.org" -> "mailto:admin@example.org"; other URIs are kept. */
static apr_status_t contacts_parse(apr_array_header_t **pcontacts, a2md_ctx_t *ctx, int argc,
                                   const char *const *argv)
{
    apr_array_header_t *contacts = apr_array_make(ctx->p, argc, sizeof(const char *));
    int i;

    for (i = 0; i < argc; ++i) {
        const char *c = argv[i];
        if (!strchr(c, ':')) {
            if (!strchr(c, '@')) {
                return a2md_usage_error(ctx,
                                        "contact '%s' is neither an email address nor a "
                                        "URI like mailto:admin@example.org",
                                        c);
            }
            c = apr_pstrcat(ctx->p, "mailto:", c, NULL);
        }
        APR_ARRAY_PUSH(contacts, const char *) = c;
    }
    *pcontacts = contacts;
    return APR_SUCCESS;
}

static apr_status_t window_parse(md_timeslice_t *ts, a2md_ctx_t *ctx, const char *aspect, int argc,
                                 const char *const *argv)
{
    const char *err = NULL;

    if (argc != 1) {
        return a2md_usage_error(ctx, "update %s: give one window, like 14d or 33%%", aspect);
    }
    if (md_timeslice_parse(ts, argv[0], &err, ctx->p) != APR_SUCCESS) {
        return a2md_usage_error(ctx, "update %s: %s", aspect, err ? err : argv[0]);
    }
    return APR_SUCCESS;
}

/* "profile NAME [mandatory]" (MDProfile, MDProfileMandatory) or "profile none". */
static apr_status_t profile_parse(md_t *md, a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    int mandatory = argc == 2 && !strcmp(argv[1], "mandatory");

    if (argc < 1 || argc > 2 || (argc == 2 && !mandatory) || !md_acme_profile_name_ok(argv[0])) {
        return a2md_usage_error(ctx, "update profile: give a profile name the CA lists and "
                                     "optionally 'mandatory', or 'none'");
    }
    md->profile = strcmp(argv[0], "none") ? argv[0] : NULL;
    md->profile_mandatory = md->profile && mandatory;
    return APR_SUCCESS;
}

/* Applies "aspect args..." to md. */
static apr_status_t update_aspect(a2md_ctx_t *ctx, md_t *md, const char *aspect, int argc,
                                  const char *const *argv)
{
    const char *err = NULL;

    if (!strcmp(aspect, "domains")) {
        if (argc < 1) {
            return a2md_usage_error(ctx, "update domains: which domain names?");
        }
        md->domains = args_array(argc, argv, ctx->p);
    } else if (!strcmp(aspect, "ca")) {
        /* url [url...] [protocol]: several URLs are tried in order (failover) */
        int nurls = argc;
        if (argc > 1 && !strstr(argv[argc - 1], "://")) {
            if (strcasecmp(argv[argc - 1], MD_PROTO_ACME)) {
                return a2md_usage_error(ctx, "update ca: protocol '%s' is not supported, only ACME",
                                        argv[argc - 1]);
            }
            --nurls;
        }
        if (nurls < 1) {
            return a2md_usage_error(ctx, "update ca: give the directory url(s) [and protocol]");
        }
        for (int i = 0; i < nurls; ++i) {
            if (strncmp(argv[i], "https://", 8) && strncmp(argv[i], "http://", 7)) {
                return a2md_usage_error(ctx, "update ca: '%s' is not an http(s) URL", argv[i]);
            }
        }
        md->ca_urls = args_array(nurls, argv, ctx->p);
    } else if (!strcmp(aspect, "account")) {
        if (argc != 1) {
            return a2md_usage_error(ctx, "update account: give one account id");
        }
        md->ca_account = argv[0];
    } else if (!strcmp(aspect, "contacts")) {
        return contacts_parse(&md->contacts, ctx, argc, argv);
    } else if (!strcmp(aspect, "agreement")) {
        if (argc != 1) {
            return a2md_usage_error(ctx, "update agreement: give the terms url or 'accepted'");
        }
        md->ca_agreement = argv[0];
    } else if (!strcmp(aspect, "pkey") || !strcmp(aspect, "keys")) {
        if (md_pkey_specs_parse(&md->pkey_specs, &err, argc, argv, ctx->p) != APR_SUCCESS) {
            return a2md_usage_error(ctx, "update %s: %s", aspect, err);
        }
    } else if (!strcmp(aspect, "renew-window")) {
        return window_parse(&md->renew_window, ctx, aspect, argc, argv);
    } else if (!strcmp(aspect, "warn-window")) {
        return window_parse(&md->warn_window, ctx, aspect, argc, argv);
    } else if (!strcmp(aspect, "renew-mode") || !strcmp(aspect, "drive-mode")) {
        if (argc != 1 || md_renew_mode_parse(&md->renew_mode, argv[0]) != APR_SUCCESS) {
            return a2md_usage_error(ctx, "update %s: give auto, manual or always", aspect);
        }
    } else if (!strcmp(aspect, "challenges")) {
        md->ca_challenges = args_array(argc, argv, ctx->p);
    } else if (!strcmp(aspect, "profile")) {
        return profile_parse(md, ctx, argc, argv);
    } else if (!strcmp(aspect, "preferred-chain")) {
        if (argc > 1 || (argc == 1 && !*argv[0])) {
            return a2md_usage_error(ctx, "update preferred-chain: give one root name (CN), or "
                                         "nothing for the CA's default chain");
        }
        md->preferred_chain = argc ? argv[0] : NULL;
    } else if (!strcmp(aspect, "ari")) {
        if (argc != 1 || (strcasecmp(argv[0], "on") && strcasecmp(argv[0], "off"))) {
            return a2md_usage_error(ctx, "update %s: give on or off", aspect);
        }
        md->ari_renewals = !strcasecmp(argv[0], "on");
    } else {
        return a2md_usage_error(ctx,
                                "update: unknown aspect '%s' (domains, ca, account, contacts, "
                                "agreement, pkey, renew-window, warn-window, renew-mode, "
                                "challenges, profile, preferred-chain, ari)",
                                aspect);
    }
    return APR_SUCCESS;
}

static apr_status_t cmd_update(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    md_t *md;
    apr_status_t rv;

    if (argc < 3) {
        return a2md_usage_error(ctx, "update: give the MD's name, an aspect and its values");
    }
    if ((rv = a2md_open_reg(ctx, 0)) != APR_SUCCESS ||
        (rv = md_reg_get(&md, ctx->reg, argv[1], ctx->p)) != APR_SUCCESS ||
        (rv = update_aspect(ctx, md, argv[2], argc - 3, argv + 3)) != APR_SUCCESS ||
        (rv = md_reg_update(ctx->reg, argv[1], md, ctx->p)) != APR_SUCCESS) {
        return rv;
    }
    return a2md_show_md(ctx, md);
}

const a2md_cmd_t a2md_cmd_update = {
    "update", "update name ['aspect' args]",
    "aspect: domains, ca, account, contacts, agreement, pkey, renew-window, renew-mode, ari",
    cmd_update};

static apr_status_t cmd_list(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    apr_array_header_t *mds;
    apr_status_t rv;
    int i;

    if ((rv = a2md_open_reg(ctx, 0)) != APR_SUCCESS) {
        return rv;
    }
    if (argc > 1) {
        mds = apr_array_make(ctx->p, argc - 1, sizeof(md_t *));
        for (i = 1; i < argc; ++i) {
            md_t *md;
            if ((rv = md_reg_get(&md, ctx->reg, argv[i], ctx->p)) != APR_SUCCESS) {
                return rv;
            }
            APR_ARRAY_PUSH(mds, md_t *) = md;
        }
    } else if ((rv = md_reg_list(&mds, ctx->reg, ctx->p)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < mds->nelts; ++i) {
        a2md_show_md(ctx, APR_ARRAY_IDX(mds, i, md_t *));
    }
    return APR_SUCCESS;
}

const a2md_cmd_t a2md_cmd_list = {
    "list", "list [name...]", "all managed domains, with state and certificate validity", cmd_list};

static apr_status_t cmd_remove(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    const char *archived;
    apr_status_t rv;
    int i;

    if (argc < 2) {
        return a2md_usage_error(ctx, "remove: which managed domain?");
    }
    if ((rv = a2md_open_reg(ctx, 0)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 1; i < argc; ++i) {
        if ((rv = md_reg_remove(&archived, ctx->reg, argv[i], ctx->p)) != APR_SUCCESS) {
            return rv;
        }
        if (ctx->json) {
            md_json_t *j = md_json_new_obj(ctx->p);
            md_json_set_str(j, "name", argv[i]);
            md_json_set_str(j, "archived", archived);
            a2md_output(ctx, j);
        }
        a2md_print(ctx, "%s removed, its files kept in archive/%s\n", argv[i], archived);
    }
    return APR_SUCCESS;
}

const a2md_cmd_t a2md_cmd_remove = {
    "remove", "remove name...", "removes a managed domain (archived, not destroyed)", cmd_remove};

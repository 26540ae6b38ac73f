/* a2md_drive.c: 'a2md drive' takes MDs to a staged, verified certificate from their CA (the
 * renewal job of md_drive.c); 'a2md install' puts a staged set in place of the served one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "a2md.h"
#include "md_ari.h"
#include "md_drive.h"
#include "md_log.h"
#include "md_plan.h"
#include "md_retry.h"

/* Jobs at once unless -n says otherwise (md_drive_all caps it further). */
#define A2MD_DRIVE_CONCURRENCY 4
/* How long drive and install wait for a store another process (httpd, a2md) has locked. */
#define A2MD_LOCK_WAIT apr_time_from_sec(5)

typedef struct {
    md_drive_opts_t opts;
    int concurrency;
    int names;                      /* index of the first MD name in argv */
    const char *eab_kid, *eab_hmac; /* --eab-file: for a new account at the CA */
} drive_args_t;

static apr_array_header_t *split_list(const char *s, apr_pool_t *p)
{
    apr_array_header_t *a = apr_array_make(p, 3, sizeof(const char *));
    char *copy = apr_pstrdup(p, s), *last, *word;

    for (word = apr_strtok(copy, ", ", &last); word; word = apr_strtok(NULL, ", ", &last)) {
        APR_ARRAY_PUSH(a, const char *) = word;
    }
    return a;
}

static apr_status_t parse_drive_args(drive_args_t *args, a2md_ctx_t *ctx, int argc,
                                     const char *const *argv)
{
    char *end;
    int i;

    memset(args, 0, sizeof(*args));
    args->concurrency = A2MD_DRIVE_CONCURRENCY;
    args->opts.ca_file = ctx->ca_file;
    args->opts.proxy = ctx->proxy;
    /* a2md serves nothing itself: http-01 answers are files for a web server to hand out */
    args->opts.chall.http01_possible = 1;
    args->opts.chall.tlsalpn01_possible = 0;
    for (i = 1; i < argc && argv[i][0] == '-'; ++i) {
        const char *opt = argv[i];
        if (!strcmp(opt, "--")) {
            ++i;
            break;
        } else if (!strcmp(opt, "--reset")) {
            args->opts.reset = 1;
        } else if (i + 1 >= argc) {
            return a2md_usage_error(ctx, "drive: unknown option or missing argument: %s", opt);
        } else if (!strcmp(opt, "-c") || !strcmp(opt, "--challenges")) {
            args->opts.chall.allowed = split_list(argv[++i], ctx->p);
        } else if (!strcmp(opt, "-D") || !strcmp(opt, "--dns01-cmd")) {
            args->opts.chall.dns01_cmd = argv[++i];
        } else if (!strcmp(opt, "--eab-file")) {
            apr_status_t rv = a2md_eab_read(&args->eab_kid, &args->eab_hmac, ctx, argv[++i]);
            if (rv != APR_SUCCESS) {
                return rv;
            }
        } else if (!strcmp(opt, "-n") || !strcmp(opt, "--concurrency")) {
            args->concurrency = (int) strtol(argv[++i], &end, 10);
            if (*end || args->concurrency < 1) {
                return a2md_usage_error(ctx, "drive: -n wants a positive number, not '%s'",
                                        argv[i]);
            }
        } else {
            return a2md_usage_error(ctx, "drive: unknown option %s", opt);
        }
    }
    args->names = i;
    return APR_SUCCESS;
}

/* Whether an MD needs a certificate now, as the module's driver decides it (md_plan_next),
 * after asking the CA for its renewal information (ARI) when the last answer says it is time;
 * a drive by hand does not wait out the backoff after a failure. */
static int needs_drive(a2md_ctx_t *ctx, const md_t *md, apr_time_t now)
{
    md_ari_opts_t ari = {ctx->ca_file, ctx->proxy, 0, NULL, NULL, NULL};
    md_plan_t plan;
    int changed;

    md_ari_check(&changed, ctx->reg, md, md_plan_current_infos(ctx->reg, md, NULL, now, ctx->p),
                 &ari, now, ctx->p);
    return md_plan_next(&plan, ctx->reg, md, NULL, now, ctx->p) == APR_SUCCESS &&
           plan.step == MD_PLAN_DRIVE && (!plan.renew_at || plan.renew_at <= now);
}

/* When the CA answered md's last drive with a rate limit whose time has not come, until then
 * (0: not so). A drive by hand skips other backoffs, never the CA's own Retry-After: the CA
 * counts every request, and a client that hammers through its limits gets blocked. */
static apr_time_t rate_limited_until(a2md_ctx_t *ctx, const md_t *md, apr_time_t now)
{
    md_json_t *job = NULL, *err;
    const char *next;
    apr_time_t until = 0;

    if (md_drive_job_load(&job, ctx->reg, md->name, ctx->p) != APR_SUCCESS ||
        !(err = md_json_get(job, "error", ctx->p)) || !md_json_get_str(err, "class") ||
        strcmp(md_json_get_str(err, "class"), md_retry_class_name(MD_RETRY_RATE_LIMITED)) ||
        !(next = md_json_get_str(job, "next-try")) || md_time_parse(&until, next) != APR_SUCCESS) {
        return 0;
    }
    return until > now ? until : 0;
}

/* The MDs to drive: those named (all of them), else those that need it. -a and -t apply to
 * this run only: the MDs in the store keep their CA and agreement. */
static apr_status_t select_mds(apr_array_header_t **pmds, int *plimited, a2md_ctx_t *ctx, int argc,
                               const char *const *argv)
{
    apr_array_header_t *all, *mds = apr_array_make(ctx->p, 5, sizeof(md_t *));
    apr_time_t now = apr_time_now(), until;
    apr_status_t rv;
    md_t *md;

    if (argc > 0) {
        all = apr_array_make(ctx->p, argc, sizeof(md_t *));
        for (int i = 0; i < argc; ++i) {
            if ((rv = md_reg_get(&md, ctx->reg, argv[i], ctx->p)) != APR_SUCCESS) {
                return rv;
            }
            APR_ARRAY_PUSH(all, md_t *) = md;
        }
    } else if ((rv = md_reg_list(&all, ctx->reg, ctx->p)) != APR_SUCCESS) {
        return rv;
    }
    for (int i = 0; i < all->nelts; ++i) {
        md = APR_ARRAY_IDX(all, i, md_t *);
        if (argc == 0 && !needs_drive(ctx, md, now)) {
            continue;
        }
        if ((until = rate_limited_until(ctx, md, now)) != 0) {
            a2md_print(ctx, "%s: not driven: the CA rate-limited it and asked to wait until %s\n",
                       md->name, md_time_format(until, ctx->p));
            *plimited += 1;
            continue;
        }
        if (ctx->ca_url) {
            md->ca_urls = apr_array_make(ctx->p, 1, sizeof(const char *));
            APR_ARRAY_PUSH(md->ca_urls, const char *) = ctx->ca_url;
        }
        if (ctx->agreement) {
            md->ca_agreement = ctx->agreement;
        }
        if (md->ca_urls->nelts == 0) {
            return a2md_fail(ctx, APR_EINVAL,
                             "%s: no CA configured: 'a2md update %s ca <url>' or give -a <url>",
                             md->name, md->name);
        }
        APR_ARRAY_PUSH(mds, md_t *) = md;
    }
    *pmds = mds;
    return APR_SUCCESS;
}

/* One line (or JSON item) per MD: staged, or what went wrong as the job recorded it. */
static int report_md(a2md_ctx_t *ctx, const md_t *md)
{
    md_json_t *job = NULL, *item;
    const char *step, *detail;
    int ok;

    md_drive_job_load(&job, ctx->reg, md->name, ctx->p);
    step = md_json_get_str(job, "step");
    ok = step && !strcmp(step, md_step_name(MD_STEP_STAGED));
    detail = md_json_get_str(md_json_get(job, "error", ctx->p), "detail");
    if (ctx->json) {
        item = md_json_new_obj(ctx->p);
        md_json_set_str(item, "name", md->name);
        md_json_set_str(item, "status", ok ? "staged" : "error");
        if (job) {
            md_json_set(item, "job", job);
        }
        a2md_output(ctx, item);
    }
    if (ok) {
        a2md_print(ctx, "%s: staged\n", md->name);
    } else {
        a2md_print(ctx, "%s: failed in step %s: %s\n", md->name,
                   md_json_get_str(md_json_get(job, "error", ctx->p), "step")
                       ? md_json_get_str(md_json_get(job, "error", ctx->p), "step")
                       : "-",
                   detail ? detail : "see the errors above");
    }
    return ok;
}

static apr_status_t cmd_drive(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    drive_args_t args;
    apr_array_header_t *mds = NULL;
    apr_status_t rv;
    int failed = 0, limited = 0;

    if ((rv = parse_drive_args(&args, ctx, argc, argv)) != APR_SUCCESS ||
        (rv = a2md_open_reg(ctx, 0)) != APR_SUCCESS ||
        (rv = select_mds(&mds, &limited, ctx, argc - args.names, argv + args.names)) !=
            APR_SUCCESS) {
        return rv;
    }
    if (mds->nelts == 0) {
        if (!limited) {
            a2md_print(ctx, "nothing to drive: every managed domain is complete\n");
        }
        return limited ? APR_EAGAIN : APR_SUCCESS;
    }
    for (int i = 0; args.eab_kid && i < mds->nelts; ++i) {
        APR_ARRAY_IDX(mds, i, md_t *)->eab_kid = args.eab_kid;
        APR_ARRAY_IDX(mds, i, md_t *)->eab_hmac = args.eab_hmac;
    }
    /* no lock around the drive: every write takes the lock of its group for itself */
    md_drive_all(ctx->reg, mds, &args.opts, args.concurrency, ctx->p);
    for (int i = 0; i < mds->nelts; ++i) {
        failed += !report_md(ctx, APR_ARRAY_IDX(mds, i, md_t *));
    }
    return failed || limited ? APR_EGENERAL : APR_SUCCESS;
}

const a2md_cmd_t a2md_cmd_drive = {
    "drive",
    "drive [-c types] [-D dns01-cmd] [--eab-file FILE|-] [--reset] [-n concurrency] [name...]",
    "gets certificates from the CA into staging (all MDs that need one, or those named)",
    cmd_drive};

static apr_status_t cmd_install(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    apr_array_header_t *names, *mds;
    md_store_lock_t *lock;
    apr_status_t rv, failed = APR_SUCCESS;
    md_t *md;

    if ((rv = a2md_open_reg(ctx, 0)) != APR_SUCCESS) {
        return rv;
    }
    names = apr_array_make(ctx->p, argc, sizeof(const char *));
    for (int i = 1; i < argc; ++i) {
        APR_ARRAY_PUSH(names, const char *) = argv[i];
    }
    if (argc < 2) { /* all MDs with something staged or live */
        if ((rv = md_reg_list(&mds, ctx->reg, ctx->p)) != APR_SUCCESS) {
            return rv;
        }
        for (int i = 0; i < mds->nelts; ++i) {
            md = APR_ARRAY_IDX(mds, i, md_t *);
            if (md_store_exists(md_reg_store(ctx->reg), MD_SG_STAGING, md->name, NULL, ctx->p) ||
                md_store_exists(md_reg_store(ctx->reg), MD_SG_LIVE, md->name, NULL, ctx->p)) {
                APR_ARRAY_PUSH(names, const char *) = md->name;
            }
        }
    }
    /* installing moves sets from the User's groups into root's */
    if ((rv = md_store_lock(&lock, md_reg_store(ctx->reg), MD_STORE_LOCK_BOTH, A2MD_LOCK_WAIT,
                            ctx->p)) != APR_SUCCESS) {
        return a2md_fail(ctx, rv, "install: the store %s is locked by another process",
                         ctx->store_dir);
    }
    for (int i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        rv = md_drive_install(ctx->reg, name, 0, ctx->p);
        if (APR_STATUS_IS_ENOENT(rv) && argc >= 2) {
            rv = a2md_fail(ctx, rv, "install: %s has no staged certificates", name);
        }
        if (rv == APR_SUCCESS) {
            a2md_print(ctx, "%s: installed\n", name);
            if (ctx->json) {
                md_json_t *item = md_json_new_obj(ctx->p);
                md_json_set_str(item, "name", name);
                md_json_set_str(item, "status", "installed");
                a2md_output(ctx, item);
            }
        } else if (!APR_STATUS_IS_ENOENT(rv) || argc >= 2) {
            failed = rv;
        }
    }
    md_store_unlock(lock);
    return failed;
}

const a2md_cmd_t a2md_cmd_install = {
    "install", "install [name...]",
    "installs staged certificates in domains/ (all staged MDs, or those named)", cmd_install};

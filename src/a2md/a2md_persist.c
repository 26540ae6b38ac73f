/* a2md_persist.c: 'a2md persist-record' -- the dns-persist-01 TXT records an operator publishes
 * for an MD, from its account and the issuer domain name its CA gave (or -i names). */
#include <string.h>

#include "a2md.h"
#include "md_drive.h"
#include "md_persist.h"

/* The account the MD's drive uses: its job's while one is in progress, else the MD's own. */
static const char *drive_account(a2md_ctx_t *ctx, const md_t *md)
{
    md_json_t *job;

    if (md_drive_job_load(&job, ctx->reg, md->name, ctx->p) == APR_SUCCESS &&
        md_json_get_str(job, "account")) {
        return md_json_get_str(job, "account");
    }
    return NULL;
}

static apr_status_t show_records(a2md_ctx_t *ctx, const md_t *md, const char *issuer)
{
    md_json_t *j =
        md_persist_json(md_reg_store(ctx->reg), md, drive_account(ctx, md), issuer, ctx->p);
    md_json_t *recs = md_json_get(j, "records", ctx->p), *rec;
    md_persist_rec_t r;

    md_json_set_str(j, "name", md->name);
    if (ctx->json) {
        a2md_output(ctx, j);
    }
    if (!recs) {
        return a2md_fail(ctx, APR_ENOENT, "%s: the dns-persist-01 record is not known yet: %s",
                         md->name, md_json_get_str(j, "missing"));
    }
    a2md_print(ctx, "; %s: publish once, it serves every renewal (issuer %s, account %s)\n",
               md->name, md_json_get_str(j, "issuer"), md_json_get_str(j, "account"));
    for (apr_size_t i = 0; i < md_json_len(recs); ++i) {
        rec = md_json_at(recs, i, ctx->p);
        r.name = md_json_get_str(rec, "name");
        r.value = md_json_get_str(rec, "value");
        a2md_print(ctx, "%s\n", md_persist_record_line(&r, ctx->p));
    }
    return APR_SUCCESS;
}

static apr_status_t cmd_persist_record(a2md_ctx_t *ctx, int argc, const char *const *argv)
{
    const char *issuer = NULL, *perr;
    apr_status_t rv, failed = APR_SUCCESS;
    md_t *md;
    int i = 1;

    if (argc > 2 && (!strcmp(argv[1], "-i") || !strcmp(argv[1], "--issuer"))) {
        if (md_dns_name_check(&issuer, &perr, argv[2], ctx->p) != APR_SUCCESS) {
            return a2md_usage_error(ctx, "persist-record: -i wants the CA's issuer domain name: %s",
                                    perr);
        }
        i = 3;
    }
    if (i >= argc) {
        return a2md_usage_error(ctx, "persist-record: which managed domain?");
    }
    if ((rv = a2md_open_reg(ctx, 0)) != APR_SUCCESS) {
        return rv;
    }
    for (; i < argc; ++i) {
        if ((rv = md_reg_get(&md, ctx->reg, argv[i], ctx->p)) != APR_SUCCESS) {
            return rv;
        }
        if ((rv = show_records(ctx, md, issuer)) != APR_SUCCESS) {
            failed = rv;
        }
    }
    return failed;
}

const a2md_cmd_t a2md_cmd_persist_record = {
    "persist-record", "persist-record [-i issuer-domain] name...",
    "the dns-persist-01 TXT records to publish for managed domains", cmd_persist_record};

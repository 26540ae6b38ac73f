/* a2md.c: the command line tool's entry -- global options, the command table, error and
 * output conventions (one-line reasons on stderr, exit codes, JSON on request). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "a2md.h"
#include "md_log.h"

typedef struct {
    _Atomic int errors; /* error lines printed so far (drive logs from several threads) */
    const char *prefix;
} log_state_t;

static void log_to_stderr(void *baton, const char *file, int line, md_log_level_t level,
                          apr_status_t rv, const char *msg)
{
    log_state_t *st = baton;

    if (level <= MD_LOG_ERR) {
        st->errors++;
    }
    if (level <= MD_LOG_WARN) {
        fprintf(stderr, "%s: %s%s\n", st->prefix, level == MD_LOG_WARN ? "warning: " : "", msg);
    } else {
        fprintf(stderr, "%s [%s] %s:%d: %s\n", st->prefix, md_log_level_name(level), file, line,
                msg);
    }
}

static log_state_t log_state = {0, "a2md"};

static const apr_getopt_option_t options[] = {
    {"acme", 'a', 1, "the url of the ACME server directory"},
    {"cacert", 'C', 1, "CA root file to trust for the ACME server's TLS"},
    {"dir", 'd', 1, "directory for file data (the store)"},
    {"help", 'h', 0, "print usage information"},
    {"json", 'j', 0, "produce json output"},
    {"proxy", 'p', 1, "use the HTTP proxy url (http://host:port) to reach the CA"},
    {"quiet", 'q', 0, "produce less output"},
    {"terms", 't', 1, "you agree to the terms of services (url)"},
    {"verbose", 'v', 0, "produce more output"},
    {"version", 'V', 0, "print version"},
    {NULL, 0, 0, NULL},
};

static const a2md_cmd_t *const commands[] = {
    &a2md_cmd_add,
    &a2md_cmd_update,
    &a2md_cmd_list,
    &a2md_cmd_remove,
    &a2md_cmd_acme,
    &a2md_cmd_drive,
    &a2md_cmd_install,
    &a2md_cmd_store,
    &a2md_cmd_persist_record,
    &a2md_cmd_revoke,
    NULL,
};

static void usage(FILE *out)
{
    int i;

    fprintf(out, "usage: a2md [options] cmd [cmd options] [args]\n");
    for (i = 0; options[i].name; ++i) {
        fprintf(out, "  -%c | --%-8s %s  %s\n", options[i].optch, options[i].name,
                options[i].has_arg ? "arg" : "   ", options[i].description);
    }
    fprintf(out, "commands:");
    for (i = 0; commands[i]; ++i) {
        fprintf(out, "%s %-32s %s\n", i ? "         " : "", commands[i]->synopsis,
                commands[i]->description);
    }
}

apr_status_t a2md_usage_error(a2md_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "a2md: %s (see 'a2md --help')\n", apr_pvsprintf(ctx->p, fmt, ap));
    va_end(ap);
    log_state.errors++;
    ctx->usage_error = 1;
    return APR_EINVAL;
}

apr_status_t a2md_fail(a2md_ctx_t *ctx, apr_status_t rv, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "a2md: %s\n", apr_pvsprintf(ctx->p, fmt, ap));
    va_end(ap);
    log_state.errors++;
    return rv == APR_SUCCESS ? APR_EGENERAL : rv;
}

void a2md_print(a2md_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;

    if (ctx->json || ctx->quiet) {
        return;
    }
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
}

void a2md_output(a2md_ctx_t *ctx, md_json_t *item)
{
    md_json_push(ctx->output, item);
}

apr_status_t a2md_open_reg(a2md_ctx_t *ctx, int create)
{
    md_store_t *store;
    apr_status_t rv;

    if (!ctx->store_dir) {
        return a2md_usage_error(ctx, "no store given: use -d <directory>");
    }
    if ((rv = md_store_fs_open(&store, ctx->store_dir, create, ctx->p)) != APR_SUCCESS) {
        return rv;
    }
    return md_reg_create(&ctx->reg, store, ctx->p);
}

apr_status_t a2md_dispatch(a2md_ctx_t *ctx, const a2md_cmd_t *cmds, const char *what, int argc,
                           const char *const *argv)
{
    int i;

    if (argc < 1) {
        return a2md_usage_error(ctx, "%s: which command?", what);
    }
    for (i = 0; cmds[i].name; ++i) {
        if (!strcmp(cmds[i].name, argv[0])) {
            return cmds[i].run(ctx, argc, argv);
        }
    }
    return a2md_usage_error(ctx, "%s: unknown command '%s'", what, argv[0]);
}

static const a2md_cmd_t *find_command(const char *name)
{
    int i;

    for (i = 0; commands[i]; ++i) {
        if (!strcmp(commands[i]->name, name)) {
            return commands[i];
        }
    }
    return NULL;
}

static int parse_options(a2md_ctx_t *ctx, int argc, const char *const *argv, int *pnext)
{
    apr_getopt_t *opt;
    const char *arg;
    int ch;
    apr_status_t rv;

    apr_getopt_init(&opt, ctx->p, argc, argv);
    opt->errfn = NULL;
    while ((rv = apr_getopt_long(opt, options, &ch, &arg)) == APR_SUCCESS) {
        switch (ch) {
        case 'a':
            if (strncasecmp(arg, "https://", 8) && strncasecmp(arg, "http://", 7)) {
                a2md_usage_error(ctx, "-a: '%s' is not the http(s) URL of an ACME directory", arg);
                return A2MD_EXIT_USAGE;
            }
            ctx->ca_url = arg;
            break;
        case 'C':
            ctx->ca_file = arg;
            break;
        case 'd':
            ctx->store_dir = arg;
            break;
        case 'h':
            usage(stdout);
            return -1;
        case 'j':
            ctx->json = 1;
            break;
        case 'p':
            ctx->proxy = arg;
            break;
        case 'q':
            ctx->quiet = 1;
            break;
        case 't':
            ctx->agreement = arg;
            break;
        case 'v':
            ctx->verbose++;
            break;
        case 'V':
            printf("version: %s\n", MD_VERSION); /* as the bundled a2md says it */
            return -1;
        }
    }
    if (rv != APR_EOF) {
        a2md_usage_error(ctx, "unknown option or missing argument: %s", argv[opt->ind - 1]);
        return A2MD_EXIT_USAGE;
    }
    *pnext = opt->ind;
    return 0;
}

int main(int argc, const char *const *argv)
{
    a2md_ctx_t ctx;
    const a2md_cmd_t *cmd;
    apr_status_t rv;
    int next = 0, ret;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    memset(&ctx, 0, sizeof(ctx));
    apr_pool_create(&ctx.p, NULL);
    ctx.output = md_json_new_arr(ctx.p);

    if ((ret = parse_options(&ctx, argc, argv, &next)) != 0) {
        return ret < 0 ? A2MD_EXIT_OK : ret;
    }
    md_log_set(log_to_stderr, &log_state,
               ctx.verbose >= 2
                   ? MD_LOG_TRACE
                   : (ctx.verbose ? MD_LOG_DEBUG : (ctx.quiet ? MD_LOG_ERR : MD_LOG_WARN)));
    if (next >= argc) {
        usage(stderr);
        return A2MD_EXIT_USAGE;
    }
    if ((cmd = find_command(argv[next])) == NULL) {
        a2md_usage_error(&ctx, "unknown command '%s'", argv[next]);
        return A2MD_EXIT_USAGE;
    }
    rv = cmd->run(&ctx, argc - next, argv + next);
    if (ctx.usage_error) {
        return A2MD_EXIT_USAGE;
    }
    if (rv != APR_SUCCESS) {
        if (log_state.errors == 0) {
            char buf[256];
            fprintf(stderr, "a2md: %s failed: %s\n", cmd->name, apr_strerror(rv, buf, sizeof(buf)));
        }
        return A2MD_EXIT_FAIL;
    }
    if (ctx.json) {
        md_json_t *top = md_json_new_obj(ctx.p);
        md_json_set_int(top, "status", 0);
        md_json_set(top, "output", ctx.output);
        printf("%s\n", md_json_dump(top, 1, ctx.p));
    }
    return A2MD_EXIT_OK;
}

/* a2md.h: what the parts of the a2md command line tool share -- the invocation context,
 * the command table entry, and output helpers (text for people, JSON for scripts). */
#ifndef A2MD_H
#define A2MD_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "md.h"
#include "md_json.h"
#include "md_reg.h"
#include "md_store.h"

/* Exit codes as the bundled a2md's, which scripts test: 0 success, 1 any failure -- the
 * command line being wrong included (the message says so and points to --help). */
#define A2MD_EXIT_OK 0
#define A2MD_EXIT_FAIL 1
#define A2MD_EXIT_USAGE A2MD_EXIT_FAIL

typedef struct {
    apr_pool_t *p;
    const char *store_dir;
    const char *ca_url;
    const char *agreement;
    const char *ca_file;
    const char *proxy; /* -p: HTTP proxy for talking to the CA */
    int json;
    int quiet;
    int verbose;
    int usage_error;   /* set by a command that was given wrong arguments */
    md_json_t *output; /* JSON mode: the "output" array printed at the end */
    md_reg_t *reg;     /* opened by a2md_open_reg */
} a2md_ctx_t;

typedef apr_status_t a2md_cmd_fn(a2md_ctx_t *ctx, int argc, const char *const *argv);

typedef struct a2md_cmd_t {
    const char *name;
    const char *synopsis;
    const char *description;
    a2md_cmd_fn *run;
} a2md_cmd_t;

/* Opens the store (-d) and its registry; create makes a new store when there is none. */
apr_status_t a2md_open_reg(a2md_ctx_t *ctx, int create);

/* Reports a wrong command line (one line on stderr) and marks the run as a usage error. */
apr_status_t a2md_usage_error(a2md_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reports a failure the library did not log itself (one line on stderr). */
apr_status_t a2md_fail(a2md_ctx_t *ctx, apr_status_t rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Text output, suppressed by -q and in JSON mode. */
void a2md_print(a2md_ctx_t *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds one item to the JSON output array. */
void a2md_output(a2md_ctx_t *ctx, md_json_t *item);

/* Prints one MD (status): text lines or a JSON item. */
apr_status_t a2md_show_md(a2md_ctx_t *ctx, const md_t *md);

/* The external account binding from a file (JSON {"kid","hmac"} or kid:hmac) or, for "-",
 * stdin: never from argv, where every user of the machine sees it (ps, /proc, history). */
apr_status_t a2md_eab_read(const char **pkid, const char **phmac, a2md_ctx_t *ctx,
                           const char *source);

/* Dispatches argv[0] among cmds; prints the sub-command list on unknown/missing names. */
apr_status_t a2md_dispatch(a2md_ctx_t *ctx, const a2md_cmd_t *cmds, const char *what, int argc,
                           const char *const *argv);

extern const a2md_cmd_t a2md_cmd_add, a2md_cmd_update, a2md_cmd_list, a2md_cmd_remove,
    a2md_cmd_acme, a2md_cmd_drive, a2md_cmd_install, a2md_cmd_store, a2md_cmd_persist_record,
    a2md_cmd_revoke;

#endif

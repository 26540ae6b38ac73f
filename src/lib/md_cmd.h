/* md_cmd.h: running an operator's program (MDChallengeDns01, MDMessageCmd, MDNotifyCmd) with
 * arguments and no shell: bounded in time, cancellable, and killed with all it started. */
#ifndef MD_CMD_H
#define MD_CMD_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

typedef struct {
    const char *what;              /* the directive or step, for log lines ("MDMessageCmd") */
    apr_interval_time_t timeout;   /* killed when it runs longer */
    volatile apr_uint32_t *cancel; /* killed when *cancel becomes non-zero (NULL: never) */
    int quiet;                     /* a clean exit is logged at debug level, not info */
    const apr_array_header_t *env; /* "NAME=value" (const char*) set for it; NULL: none */
} md_cmd_opts_t;

/* Runs program (a path as it is, a bare name looked up in PATH) with args (const char*; NULL
 * for none), stdin /dev/null, stdout and stderr captured (the last few hundred bytes go into
 * the log line), and waits for it. The program leads a process group of its own, with no
 * signal blocked or ignored (httpd blocks them in its threads). APR_SUCCESS for exit 0;
 * APR_EGENERAL for another exit or a signal; APR_TIMEUP and APR_EINTR (cancelled; then none
 * is started either) after it was killed with its group and reaped. Every outcome is logged
 * with the command line. The environment is the process's, with opts->env set on top. */
apr_status_t md_cmd_run(const char *program, const apr_array_header_t *args,
                        const md_cmd_opts_t *opts, apr_pool_t *p);

#endif

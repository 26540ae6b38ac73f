/* md_cmd.c: running an operator's program with arguments and no shell -- its own process
 * group, default signals, output captured for the log, bounded in time and cancellable. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_lib.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "md_cmd.h"
#include "md_log.h"
#include "md_util.h"

/* How much of a program's output (its last bytes) goes into the log line. */
#define MD_CMD_OUTPUT_MAX 512
#define MD_CMD_READ_CHUNK 256
_Static_assert(MD_CMD_READ_CHUNK <= MD_CMD_OUTPUT_MAX, "a read fits the output tail");
/* How soon a running program notices a cancellation (as md_drive.c's waits do): the server's
 * stop waits only seconds for a drive (mod_md_drive.c). */
#define MD_CMD_CANCEL_SLICE apr_time_from_msec(100)
/* After its output closed, how often the exit is looked for. */
#define MD_CMD_EXIT_POLL apr_time_from_msec(5)

/* Appends data (at most MD_CMD_OUTPUT_MAX) to the tail buffer out, keeping the latest bytes. */
static void tail_append(char *out, apr_size_t *plen, const char *data, apr_size_t len)
{
    if (*plen + len > MD_CMD_OUTPUT_MAX) {
        apr_size_t drop = *plen + len - MD_CMD_OUTPUT_MAX;
        memmove(out, out + drop, *plen - drop);
        *plen -= drop;
    }
    memcpy(out + *plen, data, len);
    *plen += len;
}

/* The output as one line for a message. */
static const char *output_line(const char *out, apr_size_t len, apr_pool_t *p)
{
    char *s = apr_pstrmemdup(p, out, len);

    while (len > 0 && apr_isspace(s[len - 1])) {
        s[--len] = '\0';
    }
    for (char *c = s; *c; ++c) {
        if (*c == '\n' || *c == '\r' || *c == '\t') {
            *c = ' ';
        }
    }
    return *s ? s : "(no output)";
}

static int cancelled(volatile apr_uint32_t *cancel)
{
    return cancel && apr_atomic_read32(cancel);
}

/* Follows the running command: reads its output until it closes it, then waits for its exit.
 * APR_CHILD_DONE when it exited and is reaped (*pcode, *pwhy); APR_TIMEUP at the deadline
 * and APR_EINTR when the drive is cancelled (looked at every MD_CMD_CANCEL_SLICE): it still
 * runs then; else the failure of waiting for it. Output that cannot be read is not waited for. */
static apr_status_t await_command(apr_proc_t *proc, int *pcode, apr_exit_why_e *pwhy, char *out,
                                  apr_size_t *plen, apr_file_t *rd, apr_time_t deadline,
                                  volatile apr_uint32_t *cancel)
{
    char chunk[MD_CMD_READ_CHUNK];
    apr_interval_time_t left;
    apr_size_t n;
    apr_status_t rv;
    int eof = 0;

    for (;;) {
        if (cancelled(cancel)) {
            return APR_EINTR;
        }
        if ((left = deadline - apr_time_now()) <= 0) {
            return APR_TIMEUP;
        }
        if (eof) {
            /* the output is closed; the exit follows at once for almost every command */
            if ((rv = apr_proc_wait(proc, pcode, pwhy, APR_NOWAIT)) != APR_CHILD_NOTDONE) {
                return rv;
            }
            apr_sleep(left < MD_CMD_EXIT_POLL ? left : MD_CMD_EXIT_POLL);
            continue;
        }
        apr_file_pipe_timeout_set(rd, left < MD_CMD_CANCEL_SLICE ? left : MD_CMD_CANCEL_SLICE);
        n = sizeof(chunk);
        rv = apr_file_read(rd, chunk, &n);
        if (n > 0) {
            tail_append(out, plen, chunk, n);
        }
        eof = rv != APR_SUCCESS && !APR_STATUS_IS_TIMEUP(rv); /* at its end, or broken */
    }
}

extern char **environ; /* POSIX: declared by the program that uses it */

/* Starts cmd (a path as it is, a bare name looked up in PATH) with argv, its stdout and stderr
 * into one pipe (no deadlock between two of them) whose read end comes back in *prd, stdin
 * /dev/null. It leads a process group of its own, so that a kill reaches what it started too
 * (a script's sleep or curl). The pipe is close-on-exec until it becomes the command's
 * stdout: commands of concurrent drives never hold each other's pipes open. No signal is
 * blocked or ignored in it: httpd blocks them in its threads and ignores SIGPIPE, and an exec
 * keeps both -- a hook's kill or timeout(1) would not end its curl, nor 'cmd | head' end. */
/* The process's environment with the "NAME=value" entries of env replacing or joining it. */
static char *const *environment(const apr_array_header_t *env, apr_pool_t *p)
{
    apr_size_t n = 0, k = 0, len;
    const char **envp;
    const char *add, *eq;
    int replaced;

    if (!env || env->nelts == 0) {
        return environ;
    }
    while (environ[n]) {
        ++n;
    }
    envp = apr_pcalloc(p, sizeof(*envp) * (n + (apr_size_t) env->nelts + 1));
    for (apr_size_t i = 0; i < n; ++i) {
        replaced = 0;
        for (int j = 0; j < env->nelts && !replaced; ++j) {
            add = APR_ARRAY_IDX(env, j, const char *);
            len = (eq = strchr(add, '=')) ? (apr_size_t) (eq - add) + 1 : strlen(add);
            replaced = !strncmp(environ[i], add, len);
        }
        if (!replaced) {
            envp[k++] = environ[i];
        }
    }
    for (int j = 0; j < env->nelts; ++j) {
        envp[k++] = APR_ARRAY_IDX(env, j, const char *);
    }
    return (char *const *) envp; /* posix_spawn's type; it does not change them */
}

static apr_status_t spawn(apr_proc_t *proc, apr_file_t **prd, const char *cmd,
                          const char *const *argv, const apr_array_header_t *env, apr_pool_t *p)
{
    char *const *envp = environment(env, p);
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t none, all;
    char *const *args = (char *const *) argv; /* posix_spawn's type; it does not change them */
    int fds[2], err;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    sigfillset(&all);
    err = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    err = err ? err : posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    err = err ? err : posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    err = err ? err
              : posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                    POSIX_SPAWN_SETSIGDEF);
    err = err ? err : posix_spawnattr_setpgroup(&attr, 0);
    err = err ? err : posix_spawnattr_setsigmask(&attr, &none);
    err = err ? err : posix_spawnattr_setsigdefault(&attr, &all);
    if (!err) {
        err = strchr(cmd, '/') ? posix_spawn(&pid, cmd, &actions, &attr, args, envp)
                               : posix_spawnp(&pid, cmd, &actions, &attr, args, envp);
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]); /* the child has its own copies: EOF comes when it is done */
    if (err) {
        close(fds[0]);
        return APR_FROM_OS_ERROR(err);
    }
    memset(proc, 0, sizeof(*proc));
    proc->pid = pid;
    return apr_os_pipe_put_ex(prd, &fds[0], 1, p); /* closed with p */
}

static const char *command_line(const char *program, const apr_array_header_t *args,
                                const char ***pargv, apr_pool_t *p)
{
    int n = args ? args->nelts : 0;
    const char **argv = apr_pcalloc(p, sizeof(*argv) * (apr_size_t) (n + 2));
    const char *line = program;

    argv[0] = program;
    for (int i = 0; i < n; ++i) {
        argv[i + 1] = APR_ARRAY_IDX(args, i, const char *);
        line = apr_pstrcat(p, line, " ", argv[i + 1], NULL);
    }
    *pargv = argv;
    return line;
}

apr_status_t md_cmd_run(const char *program, const apr_array_header_t *args,
                        const md_cmd_opts_t *opts, apr_pool_t *p)
{
    char out[MD_CMD_OUTPUT_MAX];
    apr_size_t out_len = 0;
    apr_file_t *rd = NULL;
    apr_exit_why_e why = APR_PROC_EXIT;
    apr_proc_t proc;
    apr_pool_t *ptemp;
    apr_status_t rv;
    const char **argv, *line = command_line(program, args, &argv, p);
    int code = 0;

    if (cancelled(opts->cancel)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_NOTICE, APR_EINTR,
                      "%s '%s' not run: the server is stopping", opts->what, line);
        return APR_EINTR;
    }
    apr_pool_create(&ptemp, p);
    if ((rv = spawn(&proc, &rd, program, argv, opts->env, ptemp)) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s: cannot run '%s'", opts->what, line);
        apr_pool_destroy(ptemp);
        return rv;
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_SUCCESS, "%s: running '%s' (pid %ld)", opts->what,
                  line, (long) proc.pid);
    rv = await_command(&proc, &code, &why, out, &out_len, rd, apr_time_now() + opts->timeout,
                       opts->cancel);
    if (rv == APR_EINTR || APR_STATUS_IS_TIMEUP(rv)) {
        /* with its whole group: not reaped yet, its pid (the group's id) is still ours */
        kill(-proc.pid, SIGKILL);
        apr_proc_wait(&proc, &code, &why, APR_WAIT); /* reaped: no zombie stays behind */
    }
    apr_pool_destroy(ptemp);

    if (rv == APR_EINTR) {
        md_log_perror(MD_LOG_MARK, MD_LOG_NOTICE, rv,
                      "%s '%s' killed: the server is stopping (output: %s)", opts->what, line,
                      output_line(out, out_len, p));
        return APR_EINTR;
    }
    if (APR_STATUS_IS_TIMEUP(rv)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_TIMEUP,
                      "%s '%s' did not finish within %s and was killed (output: %s)", opts->what,
                      line, md_duration_format(opts->timeout, p), output_line(out, out_len, p));
        return APR_TIMEUP;
    }
    if (rv != APR_CHILD_DONE) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s: waiting for '%s' failed", opts->what, line);
        return rv == APR_SUCCESS ? APR_EGENERAL : rv;
    }
    if (!APR_PROC_CHECK_EXIT(why) || code != 0) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL, "%s '%s' %s %d (output: %s)",
                      opts->what, line,
                      APR_PROC_CHECK_SIGNALED(why) ? "was killed by signal" : "exited with", code,
                      output_line(out, out_len, p));
        return APR_EGENERAL;
    }
    md_log_perror(MD_LOG_MARK, opts->quiet ? MD_LOG_DEBUG : MD_LOG_INFO, APR_SUCCESS,
                  "%s '%s' done (output: %s)", opts->what, line, output_line(out, out_len, p));
    return APR_SUCCESS;
}

/* test_cmd.c: unit tests of md_cmd.c -- an operator's program runs without a shell, with the
 * default signals, in a group of its own that a timeout or a cancellation kills whole. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <apr_atomic.h>
#include <apr_strings.h>

#include "md_cmd.h"
#include "md_util.h"
#include "unit_fixture.h"

#define SHORT apr_time_from_msec(300)
#define LONG apr_time_from_sec(30)
/* bits of signals 1..31 in /proc/<pid>/status masks */
#define CLASSIC_SIGNALS 0x7fffffffULL

static int setup(void **state)
{
    unit_log_clear();
    return unit_fixture_setup(state);
}

static apr_array_header_t *args_of(apr_pool_t *p, const char *a, const char *b)
{
    apr_array_header_t *args = apr_array_make(p, 2, sizeof(const char *));

    APR_ARRAY_PUSH(args, const char *) = a;
    if (b) {
        APR_ARRAY_PUSH(args, const char *) = b;
    }
    return args;
}

/* Whether the process whose number the file holds has ended: gone, or a zombie that only its
 * new parent (init, or whoever reaps orphans here) has yet to reap. */
static int ended(unit_fixture_t *f, const char *pidfile)
{
    char *data = NULL, line[256], *state;
    apr_size_t len;
    FILE *fp;

    assert_int_equal(md_file_read(&data, &len, pidfile, 0, f->p), APR_SUCCESS);
    if (!(fp = fopen(apr_psprintf(f->p, "/proc/%ld/stat", atol(data)), "r"))) {
        return 1;
    }
    state = fgets(line, sizeof(line), fp) ? strrchr(line, ')') : NULL;
    fclose(fp);
    /* "pid (comm) S ...": the state follows the command */
    return state && state[1] == ' ' && (state[2] == 'Z' || state[2] == 'X');
}

static void test_arguments_arrive_verbatim_without_a_shell(void **state)
{
    unit_fixture_t *f = *state;
    const char *out = apr_pstrcat(f->p, f->dir, "/args", NULL);
    const char *prog =
        unit_script(f->p, f->dir, "args.sh", apr_psprintf(f->p, "printf '%%s|' \"$@\" > %s", out));
    md_cmd_opts_t opts = {"MDMessageCmd", LONG, NULL, 0, NULL};
    char *data = NULL;
    apr_size_t len;

    assert_int_equal(md_cmd_run(prog, args_of(f->p, "a b", "$HOME;x"), &opts, f->p), APR_SUCCESS);
    assert_int_equal(md_file_read(&data, &len, out, 0, f->p), APR_SUCCESS);
    assert_string_equal(data, "a b|$HOME;x|");
    assert_non_null(strstr(unit_log_text(), "MDMessageCmd '"));
}

static void test_environment_is_the_processes_with_additions(void **state)
{
    unit_fixture_t *f = *state;
    const char *out = apr_pstrcat(f->p, f->dir, "/env", NULL);
    const char *prog = unit_script(
        f->p, f->dir, "env.sh",
        apr_psprintf(f->p, "printf '%%s|%%s|%%s' \"$MD_STORE\" \"$MD_VERSION\" \"$UNIT_KEPT\" > %s",
                     out));
    apr_array_header_t *env = apr_array_make(f->p, 2, sizeof(const char *));
    md_cmd_opts_t opts = {"MDMessageCmd", LONG, NULL, 0, env};
    char *data = NULL;
    apr_size_t len;

    APR_ARRAY_PUSH(env, const char *) = "MD_STORE=/srv/md";
    APR_ARRAY_PUSH(env, const char *) = "MD_VERSION=9.9.9";
    setenv("UNIT_KEPT", "kept", 1);
    setenv("MD_STORE", "replaced", 1);
    assert_int_equal(md_cmd_run(prog, NULL, &opts, f->p), APR_SUCCESS);
    unsetenv("UNIT_KEPT");
    unsetenv("MD_STORE");
    assert_int_equal(md_file_read(&data, &len, out, 0, f->p), APR_SUCCESS);
    assert_string_equal(data, "/srv/md|9.9.9|kept");
}

static void test_exit_and_output_are_reported(void **state)
{
    unit_fixture_t *f = *state;
    const char *prog = unit_script(f->p, f->dir, "fail.sh", "echo 'no such zone' >&2; exit 3");
    md_cmd_opts_t opts = {"MDNotifyCmd", LONG, NULL, 0, NULL};

    assert_int_equal(md_cmd_run(prog, NULL, &opts, f->p), APR_EGENERAL);
    assert_non_null(strstr(unit_log_last_error(), "exited with 3"));
    assert_non_null(strstr(unit_log_last_error(), "no such zone"));
}

static void test_a_timeout_kills_the_program_and_what_it_started(void **state)
{
    unit_fixture_t *f = *state;
    const char *pidfile = apr_pstrcat(f->p, f->dir, "/child.pid", NULL);
    const char *prog = unit_script(f->p, f->dir, "hang.sh",
                                   apr_psprintf(f->p, "sleep 60 & echo $! > %s; wait", pidfile));
    md_cmd_opts_t opts = {"MDMessageCmd", SHORT, NULL, 0, NULL};
    apr_time_t start = apr_time_now();

    assert_int_equal(md_cmd_run(prog, NULL, &opts, f->p), APR_TIMEUP);
    assert_true(apr_time_now() - start < LONG);
    assert_non_null(strstr(unit_log_last_error(), "did not finish"));
    /* the script's own child went with it: its group was killed */
    for (int i = 0; i < 100 && !ended(f, pidfile); ++i) {
        usleep(10000);
    }
    assert_true(ended(f, pidfile));
}

typedef struct {
    volatile apr_uint32_t flag;
    const char *started;
} canceller_t;

static void *cancel_when_started(void *arg)
{
    canceller_t *c = arg;

    for (int i = 0; i < 1000 && access(c->started, F_OK) != 0; ++i) {
        usleep(10000);
    }
    apr_atomic_set32(&c->flag, 1);
    return NULL;
}

static void test_a_cancellation_kills_it_and_none_starts_after(void **state)
{
    unit_fixture_t *f = *state;
    canceller_t c = {0, apr_pstrcat(f->p, f->dir, "/started", NULL)};
    const char *prog =
        unit_script(f->p, f->dir, "slow.sh", apr_psprintf(f->p, "touch %s; sleep 60", c.started));
    md_cmd_opts_t opts = {"MDChallengeDns01", LONG, &c.flag, 0, NULL};
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, cancel_when_started, &c), 0);
    assert_int_equal(md_cmd_run(prog, NULL, &opts, f->p), APR_EINTR);
    pthread_join(t, NULL);
    unlink(c.started);
    assert_int_equal(md_cmd_run(prog, NULL, &opts, f->p), APR_EINTR);
    assert_int_not_equal(access(c.started, F_OK), 0);
}

static void test_the_program_gets_default_signals_whatever_its_caller_blocks(void **state)
{
    unit_fixture_t *f = *state;
    const char *out = apr_pstrcat(f->p, f->dir, "/sig", NULL);
    const char *prog = unit_script(
        f->p, f->dir, "sig.sh",
        apr_psprintf(f->p, "exec grep -E '^Sig(Blk|Ign):' /proc/self/status > %s", out));
    md_cmd_opts_t opts = {"MDMessageCmd", LONG, NULL, 0, NULL};
    sigset_t block, old;
    char *data = NULL;
    apr_size_t len;

    /* as httpd's threads: most signals blocked, SIGPIPE ignored */
    sigfillset(&block);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(md_cmd_run(prog, NULL, &opts, f->p), APR_SUCCESS);
    signal(SIGPIPE, SIG_DFL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    assert_int_equal(md_file_read(&data, &len, out, 0, f->p), APR_SUCCESS);
    /* no signal blocked; none of the classic signals 1..31 ignored (glibc keeps the ones above
     * for itself) */
    assert_non_null(strstr(data, "SigBlk:\t0000000000000000\n"));
    assert_non_null(strstr(data, "SigIgn:\t"));
    assert_int_equal(
        strtoull(strstr(data, "SigIgn:\t") + strlen("SigIgn:\t"), NULL, 16) & CLASSIC_SIGNALS, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_arguments_arrive_verbatim_without_a_shell, setup,
                                        unit_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_environment_is_the_processes_with_additions, setup,
                                        unit_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_exit_and_output_are_reported, setup,
                                        unit_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_a_timeout_kills_the_program_and_what_it_started, setup,
                                        unit_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_a_cancellation_kills_it_and_none_starts_after, setup,
                                        unit_fixture_teardown),
        cmocka_unit_test_setup_teardown(
            test_the_program_gets_default_signals_whatever_its_caller_blocks, setup,
            unit_fixture_teardown),
    };

    apr_initialize();
    unit_log_capture(MD_LOG_INFO);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

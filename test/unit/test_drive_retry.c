/* test_drive_retry.c: unit tests of the retry schedule a driver can set (MDRetryDelay doubling
 * per failure, capped at MDCheckInterval, with jitter): next-try and the class in job.json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <signal.h>
#include <sys/resource.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "md_drive_job.h"
#include "md_plan.h"
#include "md_log.h"
#include "md_drive.h"
#include "md_reg.h"
#include "unit_fixture.h"
#include "unit_store.h"

#define CA_URL "https://ca.example.net/dir"
#define SEC(n) apr_time_from_sec(n)

typedef struct {
    apr_pool_t *pool;
    char base[UNIT_DIR_LEN];
    md_reg_t *reg;
    md_store_t *store;
    md_t *md;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(unit_tmp_open(&f->pool, f->base), 0);
    unit_reg_open(&f->store, &f->reg, f->base, f->pool);
    f->md = unit_md_make(f->pool, "example.org", NULL);
    APR_ARRAY_PUSH(f->md->ca_urls, const char *) = CA_URL;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(unit_tmp_close(f->pool, f->base), 0);
    free(f);
    return 0;
}

static void test_next_try_follows_the_jobs_schedule(void **state)
{
    fixture_t *f = *state;
    md_job_t *job;
    md_job_error_t err = {MD_STEP_ORDER, NULL, APR_ECONNREFUSED, NULL, "CA unreachable", 0};
    md_json_t *j;
    apr_time_t when, next;
    apr_interval_time_t w;

    assert_int_equal(md_job_open(&job, f->store, f->md, CA_URL, 0, f->pool), APR_SUCCESS);
    job->retry_delay = SEC(3);
    job->retry_max = SEC(10);
    for (int failures = 1; failures <= 3; ++failures) {
        assert_int_equal(md_job_failed(job, &err), APR_SUCCESS);
        assert_int_equal(md_drive_job_load(&j, f->reg, f->md->name, f->pool), APR_SUCCESS);
        assert_int_equal(
            md_time_parse(&when, md_json_get_str(md_json_get(j, "error", f->pool), "when")),
            APR_SUCCESS);
        assert_int_equal(md_time_parse(&next, md_json_get_str(j, "next-try")), APR_SUCCESS);
        /* a passing failure: 3s, 6s, then capped at 10s -- each with jitter down to half */
        w = failures == 1 ? SEC(3) : failures == 2 ? SEC(6) : SEC(10);
        /* (both times are kept to the second) */
        assert_true(next - when >= w / 2 - SEC(1) && next - when <= w + SEC(1));
        assert_string_equal(md_json_get_str(md_json_get(j, "error", f->pool), "class"),
                            "transient");
    }
}

/* A full disk: no file can grow (RLIMIT_FSIZE 0), so job.json is never written. */
static void disk_full(int full)
{
    static struct rlimit saved;
    struct rlimit none;

    if (full) {
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
        none = saved;
        none.rlim_cur = 0;
        signal(SIGXFSZ, SIG_IGN); /* write() fails with EFBIG instead */
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &none), 0);
    } else {
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    }
}

static void test_backoff_holds_when_the_job_cannot_be_saved(void **state)
{
    fixture_t *f = *state;
    md_drive_opts_t opts;
    md_plan_t plan;
    apr_time_t now, remembered;
    md_json_t *j;

    /* a CA that refuses connections: every drive fails in its first step */
    f->md->ca_urls = apr_array_make(f->pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(f->md->ca_urls, const char *) = "https://127.0.0.1:1/dir";
    assert_int_equal(md_reg_add(f->reg, f->md, f->pool), APR_SUCCESS);
    memset(&opts, 0, sizeof(opts));
    opts.retry_delay = SEC(10);
    opts.retry_max = SEC(3600);
    disk_full(1);
    assert_int_not_equal(md_drive(f->reg, f->md, &opts, f->pool), APR_SUCCESS);
    now = apr_time_now();
    assert_int_not_equal(md_drive_job_load(&j, f->reg, f->md->name, f->pool), APR_SUCCESS);
    /* nothing on disk says when to try again, yet the plan is not "now": the driver waits */
    assert_int_equal(md_plan_next(&plan, f->reg, f->md, NULL, now, f->pool), APR_SUCCESS);
    assert_int_equal(plan.step, MD_PLAN_DRIVE);
    assert_true(plan.at >= now + SEC(4));
    /* and the next failure backs off further: the count survives too */
    assert_int_not_equal(md_drive(f->reg, f->md, &opts, f->pool), APR_SUCCESS);
    disk_full(0);
    assert_int_equal(md_reg_failure_get(f->reg, f->md->name, &remembered), 2);
    assert_true(remembered >= apr_time_now() + SEC(9));
    assert_non_null(strstr(unit_log_text(), "cannot save staging/example.org/job.json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_next_try_follows_the_jobs_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_holds_when_the_job_cannot_be_saved, setup,
                                        teardown),
    };

    apr_initialize();
    unit_log_capture(MD_LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

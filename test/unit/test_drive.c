/* test_drive.c: unit tests of the renewal job's bookkeeping (md_drive_job.c): job.json kept
 * or started afresh, errors with backoff, the bounded log, staged sets verified and installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "md_cert.h"
#include "md_drive_job.h"
#include "md_log.h"
#include "md_reg.h"
#include "unit_fixture.h"
#include "unit_keys.h"
#include "unit_store.h"

#define CA_URL "https://ca.example.net/dir"
#define OTHER_CA_URL "https://other.example.net/dir"
#define DAY apr_time_from_sec(86400)

typedef struct {
    apr_pool_t *pool;
    char base[UNIT_DIR_LEN];
    md_store_t *store;
    md_reg_t *reg;
    md_t *md;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(unit_tmp_open(&f->pool, f->base), 0);
    unit_reg_open(&f->store, &f->reg, f->base, f->pool);
    f->md = unit_md_make(f->pool, "example.org", "www.example.org", NULL);
    APR_ARRAY_PUSH(f->md->ca_urls, const char *) = CA_URL;
    APR_ARRAY_PUSH(f->md->pkey_specs, const md_pkey_spec_t *) = &unit_spec_p256;
    assert_int_equal(md_reg_add(f->reg, f->md, f->pool), APR_SUCCESS);
    unit_log_clear();
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

static void test_step_names(void **state)
{
    (void) state;
    assert_string_equal(md_step_name(MD_STEP_NONE), "none");
    assert_string_equal(md_step_name(MD_STEP_AUTHZ), "authz");
    assert_string_equal(md_step_name(MD_STEP_STAGED), "staged");
}

static md_job_t *open_job(fixture_t *f, const md_t *md, const char *ca_url, int reset)
{
    md_job_t *job;

    assert_int_equal(md_job_open(&job, f->store, md, ca_url, reset, f->pool), APR_SUCCESS);
    return job;
}

static void test_job_resumes_with_its_order(void **state)
{
    fixture_t *f = *state;
    md_job_t *job = open_job(f, f->md, CA_URL, 0);

    assert_int_equal(job->step, MD_STEP_NONE);
    assert_null(md_job_order_url(job, "secp256r1"));
    md_job_set_order(job, "secp256r1", "https://ca.example.net/order/1", "pending");
    assert_int_equal(md_job_done(job, MD_STEP_ORDER, "order made"), APR_SUCCESS);

    job = open_job(f, f->md, CA_URL, 0);
    assert_int_equal(job->step, MD_STEP_ORDER);
    assert_string_equal(md_job_order_url(job, "secp256r1"), "https://ca.example.net/order/1");
    assert_false(md_job_is_staged(job, "secp256r1"));
}

static void test_job_for_other_names_ca_or_reset_starts_afresh(void **state)
{
    fixture_t *f = *state;
    md_t *other = md_copy(f->md, f->pool);
    md_job_t *job = open_job(f, f->md, CA_URL, 0);

    md_job_set_order(job, "secp256r1", "https://ca.example.net/order/1", "pending");
    assert_int_equal(md_job_done(job, MD_STEP_ORDER, "order made"), APR_SUCCESS);
    assert_int_equal(
        md_store_save_text(f->store, MD_SG_STAGING, f->md->name, UNIT_CERT_FILE, "x", f->pool),
        APR_SUCCESS);

    /* another CA: the job and whatever was staged beside it are gone */
    job = open_job(f, f->md, OTHER_CA_URL, 0);
    assert_int_equal(job->step, MD_STEP_NONE);
    assert_null(md_job_order_url(job, "secp256r1"));
    assert_false(md_store_exists(f->store, MD_SG_STAGING, f->md->name, UNIT_CERT_FILE, f->pool));

    md_job_set_order(job, "secp256r1", "https://ca.example.net/order/2", "pending");
    assert_int_equal(md_job_done(job, MD_STEP_ORDER, "order made"), APR_SUCCESS);
    APR_ARRAY_PUSH(other->domains, const char *) = "mail.example.org";
    job = open_job(f, other, OTHER_CA_URL, 0);
    assert_null(md_job_order_url(job, "secp256r1"));

    md_job_set_order(job, "secp256r1", "https://ca.example.net/order/3", "pending");
    assert_int_equal(md_job_done(job, MD_STEP_ORDER, "order made"), APR_SUCCESS);
    job = open_job(f, other, OTHER_CA_URL, 1);
    assert_null(md_job_order_url(job, "secp256r1"));
}

static void test_failure_is_recorded_with_backoff(void **state)
{
    fixture_t *f = *state;
    md_job_t *job = open_job(f, f->md, CA_URL, 0);
    md_acme_problem_t prob = {
        .type = "urn:ietf:params:acme:error:unauthorized", .detail = "no such file", .status = 403};
    md_job_error_t err = {MD_STEP_AUTHZ,
                          "www.example.org",
                          APR_EINVAL,
                          &prob,
                          "the CA found the http-01 answer invalid",
                          0};
    md_json_t *j, *e;
    apr_time_t when, next;

    assert_int_equal(md_job_failed(job, &err), APR_SUCCESS);
    assert_int_equal(md_job_failed(job, &err), APR_SUCCESS);
    assert_non_null(strstr(unit_log_last_error(),
                           "example.org: authz failed for www.example.org: the CA "
                           "found the http-01 answer invalid; the CA refuses this as asked"));
    assert_non_null(strstr(unit_log_last_error(), "; next try at "));

    assert_int_equal(md_drive_job_load(&j, f->reg, f->md->name, f->pool), APR_SUCCESS);
    assert_int_equal(md_json_get_int(j, "errors", 0), 2);
    e = md_json_get(j, "error", f->pool);
    assert_string_equal(md_json_get_str(e, "step"), "authz");
    assert_string_equal(md_json_get_str(e, "domain"), "www.example.org");
    assert_string_equal(md_json_get_str(md_json_get(e, "problem", f->pool), "type"), prob.type);
    assert_string_equal(md_json_get_str(md_json_get(e, "problem", f->pool), "detail"),
                        "no such file");
    assert_int_equal(md_time_parse(&when, md_json_get_str(e, "when")), APR_SUCCESS);
    assert_int_equal(md_time_parse(&next, md_json_get_str(j, "next-try")), APR_SUCCESS);
    /* a refusal: an hour after the first, 1.5 to 2 hours after the second */
    assert_string_equal(md_json_get_str(e, "class"), "refused");
    assert_true(next - when >= apr_time_from_sec(5400 - 1) &&
                next - when <= apr_time_from_sec(7200 + 1));

    assert_int_equal(md_job_finished(job), APR_SUCCESS);
    assert_int_equal(md_drive_job_load(&j, f->reg, f->md->name, f->pool), APR_SUCCESS);
    assert_int_equal(md_json_get_int(j, "errors", -1), 0);
    assert_false(md_json_has(j, "error"));
    assert_false(md_json_has(j, "next-try"));
    assert_string_equal(md_json_get_str(j, "step"), "staged");
}

static void test_log_keeps_the_latest_entries(void **state)
{
    fixture_t *f = *state;
    md_job_t *job = open_job(f, f->md, CA_URL, 0);
    md_json_t *log;

    for (int i = 0; i < MD_JOB_LOG_MAX + 5; ++i) {
        assert_int_equal(md_job_done(job, MD_STEP_ORDER, apr_psprintf(f->pool, "entry %d", i)),
                         APR_SUCCESS);
    }
    log = md_json_get(job->json, "log", f->pool);
    assert_int_equal(md_json_len(log), MD_JOB_LOG_MAX);
    assert_string_equal(md_json_get_str(md_json_at(log, 0, f->pool), "detail"), "entry 5");
    assert_string_equal(md_json_get_str(md_json_at(log, MD_JOB_LOG_MAX - 1, f->pool), "detail"),
                        apr_psprintf(f->pool, "entry %d", MD_JOB_LOG_MAX + 4));
}

/* A self-signed "chain" for names (CN the first), valid from a day ago until now + valid_for. */
static apr_array_header_t *make_chain(md_pkey_t *key, const apr_array_header_t *names,
                                      apr_interval_time_t valid_for, apr_pool_t *p)
{
    return unit_chain(key, APR_ARRAY_IDX(names, 0, const char *), names, valid_for, p);
}

static void test_verify_wants_exact_names_matching_key_not_expired(void **state)
{
    fixture_t *f = *state;
    md_pkey_t *key, *other_key;
    apr_array_header_t *fewer = apr_array_make(f->pool, 1, sizeof(const char *));
    const char *why = NULL;

    assert_int_equal(md_pkey_gen(&key, &unit_spec_p256, f->pool), APR_SUCCESS);
    assert_int_equal(md_pkey_gen(&other_key, &unit_spec_p256, f->pool), APR_SUCCESS);
    APR_ARRAY_PUSH(fewer, const char *) = "example.org";

    assert_int_equal(
        md_job_verify(&why, f->md, make_chain(key, f->md->domains, 2 * DAY, f->pool), key, f->pool),
        APR_SUCCESS);
    assert_int_equal(
        md_job_verify(&why, f->md, make_chain(key, fewer, 2 * DAY, f->pool), key, f->pool),
        APR_EINVAL);
    assert_non_null(strstr(why, "www.example.org"));
    assert_int_equal(md_job_verify(&why, f->md, make_chain(key, f->md->domains, 2 * DAY, f->pool),
                                   other_key, f->pool),
                     APR_EINVAL);
    assert_non_null(strstr(why, "key"));
    /* ended half a day ago */
    assert_int_equal(md_job_verify(&why, f->md, make_chain(key, f->md->domains, -DAY / 2, f->pool),
                                   key, f->pool),
                     APR_EINVAL);
    assert_non_null(strstr(why, "expired"));
}

static void test_install_promotes_verified_set_only(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *fewer = apr_array_make(f->pool, 1, sizeof(const char *)), *chain;
    md_pkey_t *key;
    const char *err;

    assert_int_equal(md_drive_install(f->reg, f->md->name, 0, f->pool), APR_ENOENT);
    assert_int_equal(md_pkey_gen(&key, &unit_spec_p256, f->pool), APR_SUCCESS);
    APR_ARRAY_PUSH(fewer, const char *) = "example.org";
    unit_save_key_chain(f->store, MD_SG_STAGING, f->md->name, key,
                        make_chain(key, fewer, 2 * DAY, f->pool), f->pool);
    assert_int_equal(md_drive_install(f->reg, f->md->name, 0, f->pool), APR_EINVAL);
    assert_non_null(strstr(unit_log_last_error(), "not installed"));
    assert_false(md_store_exists(f->store, MD_SG_DOMAINS, f->md->name, UNIT_CERT_FILE, f->pool));

    assert_int_equal(md_store_save_chain(f->store, MD_SG_STAGING, f->md->name, UNIT_CERT_FILE,
                                         make_chain(key, f->md->domains, 2 * DAY, f->pool),
                                         f->pool),
                     APR_SUCCESS);
    assert_int_equal(md_drive_install(f->reg, f->md->name, 0, f->pool), APR_SUCCESS);
    assert_false(md_store_exists(f->store, MD_SG_STAGING, f->md->name, NULL, f->pool));
    assert_int_equal(md_store_load_chain(&chain, &err, f->store, MD_SG_DOMAINS, f->md->name,
                                         UNIT_CERT_FILE, f->pool),
                     APR_SUCCESS);
    assert_true(md_cert_names_equal(APR_ARRAY_IDX(chain, 0, md_cert_t *), f->md->domains, f->pool));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_names),
        cmocka_unit_test_setup_teardown(test_job_resumes_with_its_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_for_other_names_ca_or_reset_starts_afresh, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failure_is_recorded_with_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_keeps_the_latest_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_wants_exact_names_matching_key_not_expired,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_install_promotes_verified_set_only, setup, teardown),
    };

    apr_initialize();
    unit_log_capture(MD_LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

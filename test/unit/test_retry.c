/* test_retry.c: unit tests of md_retry.c -- the classes of a CA's answers and the waits that
 * follow: doubling, capped, jittered, never shorter than a Retry-After, never overflowing. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "md_retry.h"

#define SEC(s) apr_time_from_sec(s)
#define ACME(t) "urn:ietf:params:acme:error:" t
/* random values for the jitter: its two ends and one between */
static const apr_uint32_t randoms[] = {0, 0x9e3779b9u, UINT32_MAX};

static void test_answers_are_classified(void **state)
{
    (void) state;
    assert_int_equal(md_retry_classify(ACME("rateLimited"), 429, APR_EAGAIN),
                     MD_RETRY_RATE_LIMITED);
    assert_int_equal(md_retry_classify(NULL, 429, APR_EGENERAL), MD_RETRY_RATE_LIMITED);
    /* what only the operator can fix */
    assert_int_equal(md_retry_classify(ACME("rejectedIdentifier"), 400, APR_EINVAL),
                     MD_RETRY_REFUSED);
    assert_int_equal(md_retry_classify(ACME("caa"), 403, APR_EACCES), MD_RETRY_REFUSED);
    assert_int_equal(md_retry_classify(ACME("dns"), 400, APR_EINVAL), MD_RETRY_REFUSED);
    assert_int_equal(md_retry_classify(ACME("unauthorized"), 403, APR_EACCES), MD_RETRY_REFUSED);
    assert_int_equal(md_retry_classify(ACME("connection"), 400, APR_EINVAL), MD_RETRY_REFUSED);
    assert_int_equal(md_retry_classify(ACME("incorrectResponse"), 400, APR_EINVAL),
                     MD_RETRY_REFUSED);
    /* passing trouble */
    assert_int_equal(md_retry_classify(ACME("badNonce"), 400, APR_EAGAIN), MD_RETRY_TRANSIENT);
    assert_int_equal(md_retry_classify(ACME("serverInternal"), 500, APR_EGENERAL),
                     MD_RETRY_TRANSIENT);
    assert_int_equal(md_retry_classify(NULL, 503, APR_EGENERAL), MD_RETRY_TRANSIENT);
    assert_int_equal(md_retry_classify(NULL, 0, APR_ECONNREFUSED), MD_RETRY_TRANSIENT);
    assert_int_equal(md_retry_classify("about:blank", 404, APR_EGENERAL), MD_RETRY_TRANSIENT);
    /* not the ACME namespace: nothing known about it */
    assert_int_equal(md_retry_classify("urn:example:caa", 400, APR_EINVAL), MD_RETRY_TRANSIENT);
    assert_string_equal(md_retry_class_name(MD_RETRY_REFUSED), "refused");
    assert_string_equal(md_retry_class_name(MD_RETRY_RATE_LIMITED), "rate-limited");
    assert_string_equal(md_retry_class_name(MD_RETRY_TRANSIENT), "transient");
}

static void test_transient_doubles_within_its_bounds_with_jitter(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof(randoms) / sizeof(randoms[0]); ++i) {
        apr_uint32_t r = randoms[i];
        apr_interval_time_t w1 = md_retry_wait(MD_RETRY_TRANSIENT, 1, 0, 0, 0, r);
        apr_interval_time_t w3 = md_retry_wait(MD_RETRY_TRANSIENT, 3, 0, 0, 0, r);
        apr_interval_time_t wn = md_retry_wait(MD_RETRY_TRANSIENT, INT_MAX, 0, 0, 0, r);
        assert_true(w1 > MD_RETRY_TRANSIENT_BASE / 2 - 1 && w1 <= MD_RETRY_TRANSIENT_BASE);
        assert_true(w3 >= 2 * MD_RETRY_TRANSIENT_BASE && w3 <= 4 * MD_RETRY_TRANSIENT_BASE);
        assert_true(wn >= MD_RETRY_TRANSIENT_MAX / 2 && wn <= MD_RETRY_TRANSIENT_MAX);
        /* MDRetryDelay 2s, MDCheckInterval 60s */
        assert_true(md_retry_wait(MD_RETRY_TRANSIENT, 6, 0, SEC(2), SEC(60), r) >= SEC(30));
        assert_true(md_retry_wait(MD_RETRY_TRANSIENT, 6, 0, SEC(2), SEC(60), r) <= SEC(60));
        /* a delay longer than the cap: the cap */
        assert_true(md_retry_wait(MD_RETRY_TRANSIENT, 1, 0, SEC(90), SEC(60), r) <= SEC(60));
        /* a 503 with Retry-After: not sooner */
        assert_true(md_retry_wait(MD_RETRY_TRANSIENT, 1, SEC(120), 0, 0, r) >= SEC(120));
    }
    /* the jitter spreads MDs that failed together */
    assert_int_not_equal(md_retry_wait(MD_RETRY_TRANSIENT, 4, 0, 0, 0, randoms[0]),
                         md_retry_wait(MD_RETRY_TRANSIENT, 4, 0, 0, 0, randoms[1]));
}

static void test_rate_limited_waits_at_least_the_retry_after_capped(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof(randoms) / sizeof(randoms[0]); ++i) {
        apr_uint32_t r = randoms[i];
        apr_interval_time_t w = md_retry_wait(MD_RETRY_RATE_LIMITED, 1, SEC(3600), 0, 0, r);
        assert_true(w >= SEC(3600) && w <= SEC(3960));
        /* without a Retry-After: the default */
        w = md_retry_wait(MD_RETRY_RATE_LIMITED, 1, 0, SEC(1), SEC(10), r);
        assert_true(w >= MD_RETRY_RATE_LIMITED_DEFAULT);
        /* a hostile Retry-After: a day at most (and a tenth of it for the spread) */
        w = md_retry_wait(MD_RETRY_RATE_LIMITED, 1, APR_INT64_MAX, 0, 0, r);
        assert_true(w >= MD_RETRY_AFTER_MAX && w <= MD_RETRY_AFTER_MAX + MD_RETRY_AFTER_MAX / 10);
        w = md_retry_wait(MD_RETRY_RATE_LIMITED, INT_MAX, -SEC(5), 0, 0, r);
        assert_true(w >= MD_RETRY_RATE_LIMITED_DEFAULT);
    }
    assert_int_equal(md_retry_after_capped(APR_INT64_MAX), MD_RETRY_AFTER_MAX);
    assert_int_equal(md_retry_after_capped(-1), 0);
    assert_int_equal(md_retry_after_capped(SEC(30)), SEC(30));
}

static void test_refused_starts_at_an_hour_and_doubles_to_a_day(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof(randoms) / sizeof(randoms[0]); ++i) {
        apr_uint32_t r = randoms[i];
        /* MDRetryDelay does not shorten it: trying again soon gets the same answer */
        assert_int_equal(md_retry_wait(MD_RETRY_REFUSED, 1, 0, SEC(1), SEC(10), r),
                         MD_RETRY_REFUSED_BASE);
        assert_true(md_retry_wait(MD_RETRY_REFUSED, 2, 0, 0, 0, r) >= SEC(5400));
        assert_true(md_retry_wait(MD_RETRY_REFUSED, 2, 0, 0, 0, r) <= SEC(7200));
        assert_true(md_retry_wait(MD_RETRY_REFUSED, INT_MAX, 0, 0, 0, r) <= MD_RETRY_REFUSED_MAX);
        assert_true(md_retry_wait(MD_RETRY_REFUSED, INT_MAX, 0, 0, 0, r) >=
                    MD_RETRY_REFUSED_BASE + (MD_RETRY_REFUSED_MAX - MD_RETRY_REFUSED_BASE) / 2);
        /* errors counted oddly (0, negative) are the first */
        assert_int_equal(md_retry_wait(MD_RETRY_REFUSED, 0, 0, 0, 0, r), MD_RETRY_REFUSED_BASE);
        assert_int_equal(md_retry_wait(MD_RETRY_REFUSED, -3, 0, 0, 0, r), MD_RETRY_REFUSED_BASE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_are_classified),
        cmocka_unit_test(test_transient_doubles_within_its_bounds_with_jitter),
        cmocka_unit_test(test_rate_limited_waits_at_least_the_retry_after_capped),
        cmocka_unit_test(test_refused_starts_at_an_hour_and_doubles_to_a_day),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

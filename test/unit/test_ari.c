/* test_ari.c: unit tests of md_ari.c -- reading the CA's suggested window, our moment in it
 * (random, kept per window, now for a window in the past), when to ask again, the saved state. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "md_ari.h"
#include "md_util.h"
#include "unit_fixture.h"
#include "unit_store.h"

#define SEC(s) apr_time_from_sec(s)
#define HOUR SEC(3600)
#define DAY SEC(86400)
/* random values: both ends and one between */
static const apr_uint32_t randoms[] = {0, 0x9e3779b9u, UINT32_MAX};

static md_json_t *answer(apr_pool_t *p, const char *start, const char *end, const char *expl)
{
    md_json_t *j = md_json_new_obj(p), *w = md_json_new_obj(p);

    if (start) {
        md_json_set_str(w, "start", start);
    }
    if (end) {
        md_json_set_str(w, "end", end);
    }
    md_json_set(j, "suggestedWindow", w);
    md_json_set_str(j, "explanationURL", expl);
    return j;
}

static void test_window_is_read_from_the_answer(void **state)
{
    unit_fixture_t *f = *state;
    apr_time_t start, end, t;
    const char *expl, *err = NULL;

    /* RFC 9773 4.2's example */
    assert_int_equal(
        md_ari_window_parse(&start, &end, &expl, &err,
                            answer(f->p, "2025-01-02T04:00:00Z", "2025-01-03T04:00:00Z",
                                   "https://acme.example.com/docs/ari"),
                            f->p),
        APR_SUCCESS);
    assert_int_equal(md_time_parse(&t, "2025-01-02T04:00:00Z"), APR_SUCCESS);
    assert_true(start == t);
    assert_true(end == t + DAY);
    assert_string_equal(expl, "https://acme.example.com/docs/ari");
    /* no explanation is fine */
    assert_int_equal(md_ari_window_parse(
                         &start, &end, &expl, &err,
                         answer(f->p, "2025-01-02T04:00:00Z", "2025-01-03T04:00:00Z", NULL), f->p),
                     APR_SUCCESS);
    assert_null(expl);
}

static void test_broken_windows_are_refused(void **state)
{
    unit_fixture_t *f = *state;
    apr_time_t start, end;
    const char *expl, *err;

    err = NULL;
    assert_int_equal(md_ari_window_parse(&start, &end, &expl, &err, md_json_new_obj(f->p), f->p),
                     APR_EINVAL);
    assert_non_null(strstr(err, "suggestedWindow"));
    assert_int_equal(md_ari_window_parse(&start, &end, &expl, &err,
                                         answer(f->p, "2025-01-02T04:00:00Z", NULL, NULL), f->p),
                     APR_EINVAL);
    assert_int_equal(md_ari_window_parse(&start, &end, &expl, &err,
                                         answer(f->p, "yesterday", "2025-01-03T04:00:00Z", NULL),
                                         f->p),
                     APR_EINVAL);
    assert_non_null(strstr(err, "yesterday"));
    /* RFC 9773 4.2: an end not after the start makes the window invalid */
    assert_int_equal(md_ari_window_parse(
                         &start, &end, &expl, &err,
                         answer(f->p, "2025-01-03T04:00:00Z", "2025-01-02T04:00:00Z", NULL), f->p),
                     APR_EINVAL);
    assert_non_null(strstr(err, "before it starts"));
    assert_int_equal(md_ari_window_parse(
                         &start, &end, &expl, &err,
                         answer(f->p, "2025-01-03T04:00:00Z", "2025-01-03T04:00:00Z", NULL), f->p),
                     APR_EINVAL);
}

static void test_moment_is_inside_a_future_window(void **state)
{
    apr_time_t now = apr_time_now(), start = now + DAY, end = now + 2 * DAY, at;

    (void) state;
    assert_true(md_ari_choose(start, end, now, 0) == start);
    for (size_t i = 0; i < sizeof(randoms) / sizeof(randoms[0]); ++i) {
        at = md_ari_choose(start, end, now, randoms[i]);
        assert_true(at >= start && at < end);
    }
    at = md_ari_choose(start, end, now, 0x80000000u);
    assert_true(at > start + DAY / 2 - SEC(1) && at < start + DAY / 2 + SEC(1));
    /* a window of years does not overflow */
    at = md_ari_choose(start, start + 5000 * DAY, now, UINT32_MAX);
    assert_true(at > start && at < start + 5000 * DAY);
}

static void test_window_opened_or_past_means_now(void **state)
{
    apr_time_t now = apr_time_now();

    (void) state;
    for (size_t i = 0; i < sizeof(randoms) / sizeof(randoms[0]); ++i) {
        /* moved wholly into the past */
        assert_true(md_ari_choose(now - 2 * DAY, now - DAY, now, randoms[i]) == now);
        /* opened already */
        assert_true(md_ari_choose(now - HOUR, now + DAY, now, randoms[i]) == now);
        assert_true(md_ari_choose(now, now + DAY, now, randoms[i]) == now);
    }
}

static void test_retry_after_is_followed_within_a_minute_and_a_day(void **state)
{
    (void) state;
    assert_true(md_ari_poll_wait(0, 0) == MD_ARI_POLL_DEFAULT);
    assert_true(md_ari_poll_wait(SEC(21600), 0) == SEC(21600));
    /* never a loop: under the floor counts as the floor */
    assert_true(md_ari_poll_wait(SEC(1), 0) == MD_ARI_POLL_MIN);
    assert_true(md_ari_poll_wait(-SEC(5), 0) == MD_ARI_POLL_DEFAULT);
    assert_true(md_ari_poll_wait(SEC(1), SEC(2)) == SEC(2));
    /* a hostile Retry-After: a day */
    assert_true(md_ari_poll_wait(APR_INT64_MAX, 0) == MD_ARI_POLL_MAX);
    assert_true(md_ari_poll_wait(SEC(30 * 86400), 0) == MD_ARI_POLL_MAX);
}

static void test_moment_is_kept_while_the_window_stays(void **state)
{
    unit_fixture_t *f = *state;
    apr_time_t now = apr_time_now(), start = now + DAY, end = now + 3 * DAY, first;
    md_ari_cert_t c = {"p256", "a.b", 0, 0, NULL, 0, 0, 0, 0, NULL};

    md_ari_answered(&c, start, end, NULL, SEC(21600), 0, now, 0x9e3779b9u, f->p);
    first = c.renew_at;
    assert_true(first >= start && first < end);
    assert_true(c.next_check == now + SEC(21600));
    assert_true(c.checked == now);
    /* asked again later, with another random: the same moment (stable across checks) */
    md_ari_answered(&c, start, end, NULL, 0, 0, now + HOUR, UINT32_MAX, f->p);
    assert_true(c.renew_at == first);
    assert_true(c.next_check == now + HOUR + MD_ARI_POLL_DEFAULT);
    /* the CA moves the window: a new moment in the new one */
    md_ari_answered(&c, start + 10 * DAY, end + 10 * DAY, NULL, 0, 0, now + 2 * HOUR, 0, f->p);
    assert_true(c.renew_at == start + 10 * DAY);
    /* ... and into the past: now */
    md_ari_answered(&c, now - 2 * DAY, now - DAY, "https://ca.example/why", 0, 0, now + 3 * HOUR,
                    0x9e3779b9u, f->p);
    assert_true(c.renew_at == now + 3 * HOUR);
    assert_string_equal(c.explanation, "https://ca.example/why");
}

static void test_failed_asks_back_off_and_keep_the_window(void **state)
{
    unit_fixture_t *f = *state;
    apr_time_t now = apr_time_now(), at;
    md_ari_cert_t c = {"p256", "a.b", 0, 0, NULL, 0, 0, 0, 0, NULL};

    md_ari_answered(&c, now + DAY, now + 2 * DAY, NULL, 0, 0, now, 0, f->p);
    at = c.renew_at;
    for (size_t i = 0; i < sizeof(randoms) / sizeof(randoms[0]); ++i) {
        c.errors = 0;
        md_ari_failed(&c, MD_RETRY_TRANSIENT, "HTTP 503", 0, 0, now, randoms[i], f->p);
        assert_int_equal(c.errors, 1);
        assert_true(c.next_check >= now + MD_ARI_POLL_MIN);
        md_ari_failed(&c, MD_RETRY_TRANSIENT, "HTTP 503", 0, 0, now, randoms[i], f->p);
        md_ari_failed(&c, MD_RETRY_TRANSIENT, "HTTP 503", 0, 0, now, randoms[i], f->p);
        assert_true(c.next_check >= now + 2 * MD_ARI_POLL_MIN);
        /* never more than a day, however many */
        c.errors = INT_MAX - 1;
        md_ari_failed(&c, MD_RETRY_TRANSIENT, "HTTP 503", 0, 0, now, randoms[i], f->p);
        assert_true(c.next_check <= now + MD_ARI_POLL_MAX);
        /* a CA that says when: not before */
        md_ari_failed(&c, MD_RETRY_RATE_LIMITED, "HTTP 429", 3 * HOUR, 0, now, randoms[i], f->p);
        assert_true(c.next_check >= now + 3 * HOUR);
        /* a short poll_min (MDCheckInterval 2s) is still a floor */
        c.errors = 0;
        md_ari_failed(&c, MD_RETRY_TRANSIENT, "HTTP 503", 0, SEC(2), now, randoms[i], f->p);
        assert_true(c.next_check >= now + SEC(2));
    }
    assert_string_equal(c.error, "HTTP 503");
    assert_true(c.renew_at == at);
    /* a good answer clears the failure */
    md_ari_answered(&c, now + DAY, now + 2 * DAY, NULL, 0, 0, now, 0, f->p);
    assert_int_equal(c.errors, 0);
    assert_null(c.error);
}

static void test_state_survives_the_store(void **state)
{
    unit_fixture_t *f = *state;
    apr_time_t now = apr_time_now(), t;
    md_store_t *store;
    md_reg_t *reg;
    md_ari_state_t st = {"https://ca.example/dir", NULL}, *back;
    md_ari_cert_t c = {"secp256r1", "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", 0, 0, NULL, 0, 0, 0, 0,
                       NULL};
    md_json_t *j;

    unit_reg_open(&store, &reg, f->dir, f->p);
    st.certs = apr_array_make(f->p, 1, sizeof(md_ari_cert_t *));
    APR_ARRAY_PUSH(st.certs, md_ari_cert_t *) = &c;
    md_ari_answered(&c, now + DAY, now + 2 * DAY, "https://ca.example/why", 0, 0, now, 7, f->p);
    assert_int_equal(md_ari_load(&back, store, "example.org", f->p), APR_ENOENT);
    assert_int_equal(md_ari_save(&st, store, "example.org", f->p), APR_SUCCESS);
    assert_int_equal(md_ari_load(&back, store, "example.org", f->p), APR_SUCCESS);
    assert_string_equal(back->ca_url, "https://ca.example/dir");
    assert_int_equal(back->certs->nelts, 1);
    assert_null(md_ari_cert_get(back, "rsa2048"));
    assert_non_null(md_ari_cert_get(back, "secp256r1"));
    assert_string_equal(md_ari_cert_get(back, "secp256r1")->cert_id, c.cert_id);
    /* times go through RFC 3339 with whole seconds */
    assert_true(md_ari_cert_get(back, "secp256r1")->renew_at / APR_USEC_PER_SEC ==
                c.renew_at / APR_USEC_PER_SEC);
    assert_true(md_ari_cert_get(back, "secp256r1")->next_check / APR_USEC_PER_SEC ==
                c.next_check / APR_USEC_PER_SEC);
    /* what md-status shows: the window, our moment, the explanation, the next check */
    j = md_ari_to_json(back, f->p);
    j = md_json_get(md_json_get(j, "certificates", f->p), "secp256r1", f->p);
    assert_int_equal(md_time_parse(&t, md_json_get_str(md_json_get(j, "window", f->p), "start")),
                     APR_SUCCESS);
    assert_true(t / APR_USEC_PER_SEC == (now + DAY) / APR_USEC_PER_SEC);
    assert_non_null(md_json_get_str(j, "renew-at"));
    assert_non_null(md_json_get_str(j, "next-check"));
    assert_string_equal(md_json_get_str(j, "explanation"), "https://ca.example/why");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_is_read_from_the_answer),
        cmocka_unit_test(test_broken_windows_are_refused),
        cmocka_unit_test(test_moment_is_inside_a_future_window),
        cmocka_unit_test(test_window_opened_or_past_means_now),
        cmocka_unit_test(test_retry_after_is_followed_within_a_minute_and_a_day),
        cmocka_unit_test(test_moment_is_kept_while_the_window_stays),
        cmocka_unit_test(test_failed_asks_back_off_and_keep_the_window),
        cmocka_unit_test(test_state_survives_the_store),
    };

    apr_initialize();
    unit_log_capture(MD_LOG_ERR);
    return cmocka_run_group_tests(tests, unit_fixture_setup, unit_fixture_teardown);
}

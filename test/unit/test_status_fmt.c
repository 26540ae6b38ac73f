/* test_status_fmt.c: unit tests of md_status_fmt.c -- the MDs' status as an HTML table and as
 * Prometheus samples, with what names and messages may contain escaped for each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "md_json.h"
#include "md_status_fmt.h"
#include "unit_fixture.h"

/* One MD as md-status shows it: complete, a failed renewal whose message has HTML in it. */
static md_json_t *mds_of(apr_pool_t *p, const char *name)
{
    const char *text = apr_psprintf(
        p,
        "[{\"name\": \"%s\", \"domains\": [\"a.example.org\"], \"state-name\": \"complete\","
        " \"watched\": true, \"renew-at\": \"Fri, 05 Feb 2027 22:26:07 GMT\","
        " \"cert\": {\"valid\": {\"from\": \"Mon, 07 Dec 2026 15:14:07 GMT\","
        "                        \"until\": \"Sun, 07 Mar 2027 15:14:06 GMT\"}},"
        " \"certificates\": [{\"key\": \"rsa2048\", \"valid-until\": \"2027-03-07T15:14:06Z\"}],"
        " \"renewals-live\": 2,"
        " \"renewal\": {\"finished\": false, \"errors\": 3,"
        "               \"last\": {\"status\": 20014, \"detail\": \"<b>refused</b> & gone\"}},"
        " \"staging\": {\"job\": {\"error\": {\"class\": \"refused\"}}}}]",
        name);
    md_json_t *j = NULL;
    const char *err = NULL;

    assert_int_equal(md_json_parse(&j, &err, text, strlen(text), p), APR_SUCCESS);
    return j;
}

static void test_metrics_samples_and_label_escapes(void **state)
{
    unit_fixture_t *f = *state;
    const char *out = md_status_metrics(mds_of(f->p, "a.example.org"), f->p);

    assert_non_null(strstr(out, "# TYPE md_renewals_total counter\n"));
    assert_non_null(strstr(out, "md_certificate_expiry_timestamp_seconds{md=\"a.example.org\","
                                "key=\"rsa2048\"} 1804432446\n"));
    assert_non_null(strstr(out, "md_certificate_renew_timestamp_seconds{md=\"a.example.org\"} "
                                "1801866367\n"));
    assert_non_null(strstr(out, "md_state{md=\"a.example.org\",state=\"complete\"} 1\n"));
    assert_non_null(strstr(out, "md_renewals_total{md=\"a.example.org\"} 2\n"));
    assert_non_null(strstr(out, "md_renewal_errors{md=\"a.example.org\",class=\"refused\"} 3\n"));
    /* a name that is no domain name (only a store can hold one) cannot break the format */
    out = md_status_metrics(mds_of(f->p, "x\\\\\\\"y"), f->p);
    assert_non_null(strstr(out, "md_state{md=\"x\\\\\\\"y\",state=\"complete\"} 1\n"));
}

static void test_html_rows_escaped(void **state)
{
    unit_fixture_t *f = *state;
    const char *out = md_status_html(mds_of(f->p, "a.example.org"), f->p);

    assert_non_null(strstr(out, "<td>a.example.org</td><td>complete</td>"));
    assert_non_null(strstr(out, "<td>Sun, 07 Mar 2027 15:14:06 GMT</td>"));
    assert_non_null(strstr(out, "<td>&lt;b&gt;refused&lt;/b&gt; &amp; gone</td>"));
    assert_null(strstr(out, "<b>"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_samples_and_label_escapes, unit_fixture_setup,
                                        unit_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_html_rows_escaped, unit_fixture_setup,
                                        unit_fixture_teardown),
    };

    apr_initialize();
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_md.c: unit tests of the domain model: defaults, md.json as Apache's bundled mod_md
 * writes it (read and written back), key-spec forms, and bad md.json reported, not guessed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "md.h"

/* md.json of an MD as Debian's bundled mod_md 2.6 wrote it (observed by running it). */
static const char *bundled_md_json =
    "{\"name\":\"two.example.org\",\"domains\":[\"two.example.org\"],"
    "\"contacts\":[\"mailto:admin@example.org\"],\"transitive\":1,"
    "\"ca\":{\"account\":\"ACME-127.0.0.1-0000\",\"proto\":\"ACME\","
    "\"url\":\"https://127.0.0.1:14000/dir\",\"urls\":[\"https://127.0.0.1:14000/dir\"],"
    "\"agreement\":\"accepted\",\"challenges\":[\"http-01\"]},"
    "\"privkey\":{\"type\":\"EC\",\"curve\":\"secp256r1\"},\"state\":2,\"renew-mode\":1,"
    "\"renew-window\":\"33%\",\"warn-window\":\"10%\",\"must-staple\":false,"
    "\"proto\":{\"acme-tls/1\":[]},\"stapling\":false}";

static md_t *parse(apr_pool_t *p, const char *text)
{
    md_json_t *j;
    md_t *md = NULL;
    const char *err = NULL;

    assert_int_equal(md_json_parse(&j, &err, text, strlen(text), p), APR_SUCCESS);
    assert_int_equal(md_from_json(&md, &err, j, p), APR_SUCCESS);
    return md;
}

static const char *str_at(const apr_array_header_t *a, int i)
{
    return APR_ARRAY_IDX(a, i, const char *);
}

static void test_defaults(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *domains = apr_array_make(p, 2, sizeof(const char *));
    const apr_array_header_t *specs;
    md_t *md;

    APR_ARRAY_PUSH(domains, const char *) = "example.org";
    APR_ARRAY_PUSH(domains, const char *) = "www.example.org";
    md = md_create(domains, p);
    assert_string_equal(md->name, "example.org");
    assert_int_equal(md->renew_mode, MD_RENEW_AUTO);
    assert_string_equal(md_timeslice_format(&md->renew_window, p), "33%");
    assert_string_equal(md_timeslice_format(&md->warn_window, p), "10%");
    specs = md_pkey_specs(md, p);
    assert_int_equal(specs->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(specs, 0, md_pkey_spec_t *)->type, MD_PKEY_RSA);
    assert_int_equal(APR_ARRAY_IDX(specs, 0, md_pkey_spec_t *)->bits, 2048);
    assert_true(md_contains_domain(md, "www.example.org"));
    assert_false(md_contains_domain(md, "shop.example.org"));
}

static void test_reads_bundled_md_json(void **state)
{
    apr_pool_t *p = *state;
    md_t *md = parse(p, bundled_md_json);
    md_pkey_spec_t *spec;

    assert_string_equal(md->name, "two.example.org");
    assert_string_equal(str_at(md->contacts, 0), "mailto:admin@example.org");
    assert_string_equal(md->ca_proto, "ACME");
    assert_int_equal(md->ca_urls->nelts, 1);
    assert_string_equal(md->ca_account, "ACME-127.0.0.1-0000");
    assert_string_equal(md->ca_agreement, "accepted");
    assert_string_equal(str_at(md->ca_challenges, 0), "http-01");
    assert_int_equal(md->pkey_specs->nelts, 1);
    spec = APR_ARRAY_IDX(md->pkey_specs, 0, md_pkey_spec_t *);
    assert_int_equal(spec->type, MD_PKEY_EC);
    assert_string_equal(spec->curve, "secp256r1");
    assert_int_equal(md->renew_mode, MD_RENEW_AUTO);
}

static void test_round_trip_keeps_what_the_bundled_module_reads(void **state)
{
    apr_pool_t *p = *state;
    md_t *md = parse(p, bundled_md_json), *again;
    md_json_t *j;
    const char *err = NULL;

    md->renew_mode = MD_RENEW_MANUAL;
    md_timeslice_parse(&md->renew_window, "14d", &err, p);
    j = md_to_json(md, p);
    /* one key spec stays an object, the CA list stays under "urls" */
    assert_true(md_json_is_obj(md_json_get(j, "privkey", p)));
    assert_int_equal(md_json_len(md_json_get(md_json_get(j, "ca", p), "urls", p)), 1);
    assert_int_equal(md_json_get_int(j, "renew-mode", -1), 0);
    assert_string_equal(md_json_get_str(j, "renew-window"), "14d");
    assert_int_equal(md_from_json(&again, &err, j, p), APR_SUCCESS);
    assert_string_equal(again->name, md->name);
    assert_true(md_array_str_eq(again->domains, md->domains, 1));
    assert_string_equal(again->ca_account, md->ca_account);
    assert_int_equal(again->renew_mode, MD_RENEW_MANUAL);
    assert_int_equal(again->renew_window.len, md->renew_window.len);
    assert_true(md_pkey_spec_eq(APR_ARRAY_IDX(again->pkey_specs, 0, md_pkey_spec_t *),
                                APR_ARRAY_IDX(md->pkey_specs, 0, md_pkey_spec_t *)));
}

/* "profile" / "profile-mandatory" as the bundled module writes them for MDProfile shortlived
 * with MDProfileMandatory on (observed by running it); neither without a profile */
static void test_profile_in_md_json(void **state)
{
    apr_pool_t *p = *state;
    md_t *md = parse(p, "{\"domains\":[\"a.example.org\"],\"profile\":\"shortlived\","
                        "\"profile-mandatory\":true}"),
         *again;
    md_json_t *j;
    const char *err = NULL;

    assert_string_equal(md->profile, "shortlived");
    assert_true(md->profile_mandatory);
    j = md_to_json(md_copy(md, p), p);
    assert_string_equal(md_json_get_str(j, "profile"), "shortlived");
    assert_true(md_json_get_bool(j, "profile-mandatory", 0));
    assert_int_equal(md_from_json(&again, &err, j, p), APR_SUCCESS);
    assert_string_equal(again->profile, "shortlived");
    assert_true(again->profile_mandatory);

    md = parse(p, bundled_md_json);
    assert_null(md->profile);
    assert_false(md->profile_mandatory);
    j = md_to_json(md, p);
    assert_false(md_json_has(j, "profile"));
    /* as the bundled module 2.6.10 writes it: always there, false without a profile */
    assert_true(md_json_has(j, "profile-mandatory"));
    assert_false(md_json_get_bool(j, "profile-mandatory", 1));
}

static void test_several_key_specs_are_an_array(void **state)
{
    apr_pool_t *p = *state;
    md_t *md = parse(p, "{\"domains\":[\"a.example.org\"],\"privkey\":[{\"type\":\"EC\","
                        "\"curve\":\"secp384r1\"},{\"type\":\"RSA\",\"bits\":3072}]}");
    md_json_t *j;

    assert_string_equal(md->name, "a.example.org");
    assert_int_equal(md->pkey_specs->nelts, 2);
    assert_int_equal(APR_ARRAY_IDX(md->pkey_specs, 1, md_pkey_spec_t *)->bits, 3072);
    j = md_to_json(md, p);
    assert_int_equal(md_json_len(md_json_get(j, "privkey", p)), 2);
}

static void test_old_single_ca_url(void **state)
{
    apr_pool_t *p = *state;
    md_t *md = parse(p, "{\"domains\":[\"a.example.org\"],\"ca\":{\"url\":\"https://ca/dir\"}}");

    assert_int_equal(md->ca_urls->nelts, 1);
    assert_string_equal(str_at(md->ca_urls, 0), "https://ca/dir");
}

static void test_bad_md_json_is_refused_with_a_reason(void **state)
{
    apr_pool_t *p = *state;
    const char *cases[] = {
        "{\"name\":\"x.example.org\"}",
        "{\"domains\":[]}",
        "{\"domains\":[\"a.example.org\"],\"renew-window\":\"soon\"}",
        "{\"domains\":[\"a.example.org\"],\"privkey\":{\"type\":\"DSA\"}}",
        "[1,2]",
    };
    unsigned i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        md_json_t *j;
        md_t *md = NULL;
        const char *err = NULL;
        assert_int_equal(md_json_parse(&j, &err, cases[i], strlen(cases[i]), p), APR_SUCCESS);
        assert_int_equal(md_from_json(&md, &err, j, p), APR_EINVAL);
        assert_null(md);
        assert_non_null(err);
    }
}

static void test_renew_mode_words(void **state)
{
    md_renew_mode_t mode;

    assert_int_equal(md_renew_mode_parse(&mode, "manual"), APR_SUCCESS);
    assert_int_equal(mode, MD_RENEW_MANUAL);
    assert_int_equal(md_renew_mode_parse(&mode, "Always"), APR_SUCCESS);
    assert_int_equal(mode, MD_RENEW_ALWAYS);
    assert_int_equal(md_renew_mode_parse(&mode, "sometimes"), APR_EINVAL);
    assert_string_equal(md_renew_mode_name(MD_RENEW_AUTO), "auto");
    assert_string_equal(md_state_name(MD_S_EXPIRED), "expired");
}

static int setup(void **state)
{
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    apr_pool_destroy(*state);
    return 0;
}

#define DAY apr_time_from_sec(86400)

static md_t *md_with_windows(apr_pool_t *p, const char *renew, const char *warn)
{
    apr_array_header_t *domains = apr_array_make(p, 1, sizeof(const char *));
    const char *err;
    md_t *md;

    APR_ARRAY_PUSH(domains, const char *) = "example.org";
    md = md_create(domains, p);
    assert_int_equal(md_timeslice_parse(&md->renew_window, renew, &err, p), APR_SUCCESS);
    assert_int_equal(md_timeslice_parse(&md->warn_window, warn, &err, p), APR_SUCCESS);
    return md;
}

static void test_short_lived_certificates_renew_at_half_their_life(void **state)
{
    apr_pool_t *p = *state;
    md_t *md = md_with_windows(p, MD_RENEW_WINDOW_DEFAULT, MD_WARN_WINDOW_DEFAULT);
    apr_time_t nb = apr_time_from_sec(1700000000);

    /* a 90-day certificate: the windows as configured (33%, 10% before the end) */
    assert_int_equal(md_renew_at(md, nb, nb + 90 * DAY), nb + 60 * DAY + 30 * DAY / 100);
    assert_int_equal(md_warn_at(md, nb, nb + 90 * DAY), nb + 81 * DAY);
    /* a 6-day one: half its life, a quarter left */
    assert_int_equal(md_renew_at(md, nb, nb + 6 * DAY), nb + 3 * DAY);
    assert_int_equal(md_warn_at(md, nb, nb + 6 * DAY), nb + 6 * DAY - 6 * DAY / 4);
    /* ten days is not short */
    assert_int_equal(md_renew_at(md, nb, nb + 10 * DAY), nb + 10 * DAY - 10 * DAY * 33 / 100);
    /* an MDRenewWindow that starts earlier still does; one that starts later does not */
    assert_int_equal(md_renew_at(md_with_windows(p, "4d", "1d"), nb, nb + 6 * DAY), nb + 2 * DAY);
    assert_int_equal(md_renew_at(md_with_windows(p, "1d", "1d"), nb, nb + 6 * DAY), nb + 3 * DAY);
    assert_int_equal(md_warn_at(md_with_windows(p, "4d", "3d"), nb, nb + 6 * DAY), nb + 3 * DAY);
    /* a window longer than the lifetime: due from the start */
    assert_true(md_renew_at(md_with_windows(p, "2000d", "1d"), nb, nb + 6 * DAY) <= nb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_bundled_md_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_keeps_what_the_bundled_module_reads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_several_key_specs_are_an_array, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_in_md_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_single_ca_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_md_json_is_refused_with_a_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renew_mode_words, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_lived_certificates_renew_at_half_their_life,
                                        setup, teardown),
    };

    apr_initialize();
    return cmocka_run_group_tests(tests, NULL, NULL);
}

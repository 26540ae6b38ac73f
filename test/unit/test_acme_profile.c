/* test_acme_profile.c: unit tests of md_acme_profile.c -- the profiles a CA's directory lists
 * and which one a new order asks for: listed, not listed (mandatory or not), none listed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <apr_general.h>

#include "md_acme_profile.h"
#include "unit_fixture.h"

static md_json_t *parse(const char *s, apr_pool_t *p)
{
    const char *perr;
    md_json_t *j = NULL;

    assert_int_equal(md_json_parse(&j, &perr, s, strlen(s), p), APR_SUCCESS);
    return j;
}

/* The profiles of a directory like pebble 2.10's, plus an entry that is not a description. */
static apr_array_header_t *listed_of(apr_pool_t *p)
{
    return md_acme_profiles_parse(parse("{\"termsOfService\": \"https://ca/terms\", "
                                        "\"profiles\": {\"classic\": \"the usual\", "
                                        "\"shortlived\": \"six days\", \"odd\": 7}}",
                                        p),
                                  p);
}

static void test_profiles_parsed_in_the_cas_order(void **state)
{
    unit_fixture_t *f = *state;
    apr_array_header_t *listed = listed_of(f->p);
    const md_acme_profile_t *profile;

    assert_int_equal(listed->nelts, 2);
    profile = APR_ARRAY_IDX(listed, 0, const md_acme_profile_t *);
    assert_string_equal(profile->name, "classic");
    assert_string_equal(profile->description, "the usual");
    assert_string_equal(md_acme_profile_names(listed, f->p), "classic, shortlived");
    assert_non_null(md_acme_profile_find(listed, "shortlived"));
    /* names are compared as they are */
    assert_null(md_acme_profile_find(listed, "Shortlived"));
    assert_null(md_acme_profile_find(listed, "odd"));
    assert_null(md_acme_profile_find(NULL, "classic"));
    /* a directory without meta or without profiles lists none */
    assert_int_equal(md_acme_profiles_parse(NULL, f->p)->nelts, 0);
    assert_int_equal(
        md_acme_profiles_parse(parse("{\"profiles\": [\"classic\"]}", f->p), f->p)->nelts, 0);
    assert_string_equal(md_acme_profile_names(NULL, f->p), "none");
    assert_true(md_acme_profile_name_ok("shortlived"));
    assert_false(md_acme_profile_name_ok(""));
    assert_false(md_acme_profile_name_ok("short lived"));
    assert_false(md_acme_profile_name_ok("short\tlived"));
    assert_false(md_acme_profile_name_ok(NULL));
}

static void test_listed_profile_is_asked_for(void **state)
{
    unit_fixture_t *f = *state;
    const char *profile = NULL, *why = "x";

    for (int mandatory = 0; mandatory <= 1; ++mandatory) {
        assert_int_equal(
            md_acme_profile_choose(&profile, &why, "shortlived", mandatory, listed_of(f->p), f->p),
            APR_SUCCESS);
        assert_string_equal(profile, "shortlived");
        assert_null(why);
    }
    /* no profile configured: none asked for, whatever the CA lists */
    assert_int_equal(md_acme_profile_choose(&profile, &why, NULL, 1, listed_of(f->p), f->p),
                     APR_SUCCESS);
    assert_null(profile);
    assert_null(why);
    assert_int_equal(md_acme_profile_choose(&profile, &why, NULL, 0, NULL, f->p), APR_SUCCESS);
    assert_null(profile);
}

static void test_unlisted_profile_not_mandatory_goes_without(void **state)
{
    unit_fixture_t *f = *state;
    const char *profile = "x", *why = NULL;

    assert_int_equal(md_acme_profile_choose(&profile, &why, "tlsserver", 0, listed_of(f->p), f->p),
                     APR_SUCCESS);
    assert_null(profile);
    assert_non_null(why);
    assert_non_null(strstr(why, "'tlsserver'"));
    assert_non_null(strstr(why, "classic, shortlived"));
    assert_non_null(strstr(why, "default"));
}

static void test_unlisted_profile_mandatory_is_refused(void **state)
{
    unit_fixture_t *f = *state;
    const char *profile = "x", *why = NULL;

    assert_int_equal(md_acme_profile_choose(&profile, &why, "tlsserver", 1, listed_of(f->p), f->p),
                     APR_EINVAL);
    assert_null(profile);
    assert_non_null(strstr(why, "'tlsserver'"));
    assert_non_null(strstr(why, "classic, shortlived"));
    assert_non_null(strstr(why, "MDProfileMandatory"));
}

/* a CA without meta.profiles: nothing is listed, so the same rules */
static void test_ca_without_profiles(void **state)
{
    unit_fixture_t *f = *state;
    apr_array_header_t *none = md_acme_profiles_parse(parse("{}", f->p), f->p);
    const char *profile = "x", *why = NULL;

    assert_int_equal(md_acme_profile_choose(&profile, &why, "shortlived", 1, none, f->p),
                     APR_EINVAL);
    assert_non_null(strstr(why, "(it offers: none)"));
    assert_int_equal(md_acme_profile_choose(&profile, &why, "shortlived", 0, NULL, f->p),
                     APR_SUCCESS);
    assert_null(profile);
    assert_non_null(strstr(why, "(it offers: none)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_profiles_parsed_in_the_cas_order, unit_fixture_setup,
                                        unit_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_listed_profile_is_asked_for, unit_fixture_setup,
                                        unit_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_unlisted_profile_not_mandatory_goes_without,
                                        unit_fixture_setup, unit_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_unlisted_profile_mandatory_is_refused,
                                        unit_fixture_setup, unit_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ca_without_profiles, unit_fixture_setup,
                                        unit_fixture_teardown),
    };

    apr_initialize();
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_acme_terms.c: unit tests of the terms-of-service helpers of md_acme.h: when an account
 * has new terms to agree to, what an MD's agreement covers, which problems ask for agreement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "md_acme.h"

#define OLD_TERMS "https://ca.example/terms-1"
#define NEW_TERMS "https://ca.example/terms-2"
#define UAR MD_ACME_PROBLEM_PREFIX "userActionRequired"

static void test_new_terms(void **state)
{
    md_acme_directory_t dir = {.terms_of_service = NEW_TERMS};
    md_acme_acct_t acct = {.agreement = OLD_TERMS};

    (void) state;
    assert_string_equal(NEW_TERMS, md_acme_terms_new(&acct, &dir));
    acct.agreement = NULL;
    assert_string_equal(NEW_TERMS, md_acme_terms_new(&acct, &dir));
    acct.agreement = NEW_TERMS;
    assert_null(md_acme_terms_new(&acct, &dir));
    dir.terms_of_service = NULL; /* a CA without terms has none to agree to */
    acct.agreement = OLD_TERMS;
    assert_null(md_acme_terms_new(&acct, &dir));
}

static void test_agreement_covers(void **state)
{
    (void) state;
    assert_true(md_acme_terms_covered("accepted", NEW_TERMS));
    assert_true(md_acme_terms_covered("accepted", NULL));
    assert_true(md_acme_terms_covered(NEW_TERMS, NEW_TERMS));
    assert_false(md_acme_terms_covered(OLD_TERMS, NEW_TERMS));
    assert_false(md_acme_terms_covered(NULL, NEW_TERMS));
}

static void test_problems_asking_for_agreement(void **state)
{
    md_acme_problem_t uar = {.type = UAR, .detail = "", .terms = NEW_TERMS};
    md_acme_problem_t uar_other = {.type = UAR, .detail = "verify your email"};
    md_acme_problem_t old = {.type = MD_ACME_PROBLEM_PREFIX "agreementRequired", .detail = ""};
    md_acme_problem_t unauth = {.type = MD_ACME_PROBLEM_PREFIX "unauthorized", .detail = ""};

    (void) state;
    assert_true(md_acme_problem_wants_terms(&uar));
    /* a user action that is not about terms: agreeing again would not help */
    assert_false(md_acme_problem_wants_terms(&uar_other));
    assert_true(md_acme_problem_wants_terms(&old));
    assert_false(md_acme_problem_wants_terms(&unauth));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_terms),
        cmocka_unit_test(test_agreement_covers),
        cmocka_unit_test(test_problems_asking_for_agreement),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

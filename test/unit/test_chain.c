/* test_chain.c: unit tests of md_chain.c -- who issued whom, common names, PEM or DER answers,
 * dropping a root, and picking a chain by its root's name (MDPreferredChain). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include <openssl/x509.h>

#include "md_cert.h"
#include "md_chain.h"
#include "md_crypt.h"
#include "unit_certs.h"
#include "unit_keys.h"

/* Two hierarchies, as a CA with an alternate root has them: one leaf, issued by intermediate
 * A under "Root A", and an intermediate B (same key as A) under "Root B". */
typedef struct {
    apr_pool_t *pool;
    md_pkey_t *root_key, *inter_key, *leaf_key;
    md_cert_t *root_a, *root_b, *inter_a, *inter_b, *leaf;
} fixture_t;

static md_cert_t *wrap(fixture_t *f, X509 *x)
{
    return md_cert_wrap(x, f->pool);
}

static int group_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    X509 *root_a, *root_b, *inter_a;

    if (!f || apr_initialize() != APR_SUCCESS || apr_pool_create(&f->pool, NULL) != APR_SUCCESS ||
        md_pkey_gen(&f->root_key, &unit_spec_p256, f->pool) != APR_SUCCESS ||
        md_pkey_gen(&f->inter_key, &unit_spec_p256, f->pool) != APR_SUCCESS ||
        md_pkey_gen(&f->leaf_key, &unit_spec_p256, f->pool) != APR_SUCCESS) {
        return -1;
    }
    root_a = unit_cert_make("Root A", f->root_key, NULL, NULL, 1);
    root_b = unit_cert_make("Root B", f->root_key, NULL, NULL, 1);
    inter_a = unit_cert_make("Intermediate", f->inter_key, root_a, f->root_key, 1);
    f->root_a = wrap(f, root_a);
    f->root_b = wrap(f, root_b);
    f->inter_a = wrap(f, inter_a);
    f->inter_b = wrap(f, unit_cert_make("Intermediate", f->inter_key, root_b, f->root_key, 1));
    f->leaf = wrap(f, unit_cert_make(NULL, f->leaf_key, inter_a, f->inter_key, 0));
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    fixture_t *f = *state;

    apr_pool_destroy(f->pool);
    free(f);
    apr_terminate();
    return 0;
}

static void test_issued_by_and_names(void **state)
{
    fixture_t *f = *state;

    assert_true(md_cert_issued_by(f->leaf, f->inter_a));
    /* same key, same name: an intermediate cross-signed under another root issues it too */
    assert_true(md_cert_issued_by(f->leaf, f->inter_b));
    assert_true(md_cert_issued_by(f->inter_a, f->root_a));
    assert_false(md_cert_issued_by(f->inter_a, f->root_b)); /* the name differs */
    assert_false(md_cert_issued_by(f->root_a, f->leaf));
    assert_false(md_cert_issued_by(f->leaf, f->leaf));

    assert_null(md_cert_subject_cn(f->leaf, f->pool)); /* pebble's leaves have no subject */
    assert_string_equal(md_cert_issuer_cn(f->leaf, f->pool), "Intermediate");
    assert_string_equal(md_cert_subject_cn(f->inter_b, f->pool), "Intermediate");
    assert_string_equal(md_cert_issuer_cn(f->inter_b, f->pool), "Root B");
}

static void test_pem_or_der(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *chain;
    unsigned char *der = NULL;
    const char *pem, *err;
    int len;

    assert_int_equal(
        md_chain_to_pem(&pem, unit_chain_of(f->pool, f->leaf, f->inter_a, NULL), f->pool),
        APR_SUCCESS);
    assert_int_equal(md_chain_from_pem_or_der(&chain, &err, pem, strlen(pem), f->pool),
                     APR_SUCCESS);
    assert_int_equal(chain->nelts, 2);

    len = i2d_X509(md_cert_x509(f->inter_a), &der);
    assert_true(len > 0);
    assert_int_equal(
        md_chain_from_pem_or_der(&chain, &err, (const char *) der, (apr_size_t) len, f->pool),
        APR_SUCCESS);
    assert_int_equal(chain->nelts, 1);
    assert_string_equal(md_cert_fingerprint(md_chain_top(chain), f->pool),
                        md_cert_fingerprint(f->inter_a, f->pool));
    /* a DER certificate cut short, with a trailing byte (the NUL apr_pstrmemdup adds), or no
     * certificate at all */
    assert_int_equal(
        md_chain_from_pem_or_der(&chain, &err, (const char *) der, (apr_size_t) len - 1, f->pool),
        APR_EINVAL);
    assert_null(chain);
    assert_non_null(strstr(err, "not a DER certificate"));
    assert_int_equal(md_chain_from_pem_or_der(
                         &chain, &err, apr_pstrmemdup(f->pool, (char *) der, (apr_size_t) len),
                         (apr_size_t) len + 1, f->pool),
                     APR_EINVAL);
    assert_non_null(strstr(err, "trailing data"));
    OPENSSL_free(der);
    assert_int_equal(md_chain_from_pem_or_der(&chain, &err, "<html>", 6, f->pool), APR_EINVAL);
    assert_non_null(err);
}

static void test_drop_root(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *chain = unit_chain_of(f->pool, f->leaf, f->inter_a, f->root_a);

    assert_true(md_chain_drop_root(chain));
    assert_int_equal(chain->nelts, 2);
    assert_false(md_chain_drop_root(chain)); /* the intermediate stays */
    assert_int_equal(chain->nelts, 2);
    chain = unit_chain_of(f->pool, f->root_a, NULL, NULL);
    assert_false(md_chain_drop_root(chain)); /* a lone certificate is the leaf, even self-signed */
    assert_int_equal(chain->nelts, 1);
}

static void test_pick_by_name(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *chains = apr_array_make(f->pool, 3, sizeof(apr_array_header_t *));
    apr_array_header_t *to_a = unit_chain_of(f->pool, f->leaf, f->inter_a, NULL);
    apr_array_header_t *to_b = unit_chain_of(f->pool, f->leaf, f->inter_b, NULL);

    APR_ARRAY_PUSH(chains, apr_array_header_t *) = to_a;
    APR_ARRAY_PUSH(chains, apr_array_header_t *) = to_b;
    /* the issuer of the top certificate: the root's name */
    assert_int_equal(md_chain_pick(chains, "Root A", f->pool), 0);
    assert_int_equal(md_chain_pick(chains, "Root B", f->pool), 1);
    assert_string_equal(md_chain_name(to_b, f->pool), "Root B");
    /* or the top certificate itself: the first chain whose top is named so */
    assert_int_equal(md_chain_pick(chains, "Intermediate", f->pool), 0);
    /* exact names only; nothing for none */
    assert_int_equal(md_chain_pick(chains, "root b", f->pool), -1);
    assert_int_equal(md_chain_pick(chains, "Root", f->pool), -1);
    assert_false(md_chain_has_name(to_a, NULL, f->pool));
    /* a chain that still ends in its root: the root's own name */
    assert_true(md_chain_has_name(unit_chain_of(f->pool, f->leaf, f->inter_b, f->root_b), "Root B",
                                  f->pool));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issued_by_and_names),
        cmocka_unit_test(test_pem_or_der),
        cmocka_unit_test(test_drop_root),
        cmocka_unit_test(test_pick_by_name),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* test_cert.c: unit tests of md_cert.c -- self-signed certificates (names, validity, key
 * match), CSRs, chains in PEM and files, and the issuer links of a chain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "md_cert.h"
#include "md_crypt.h"
#include "md_util.h"
#include "unit_certs.h"

#define TEST_DAY apr_time_from_sec(24 * 60 * 60)
#define TEST_VALID_FOR (30 * TEST_DAY)
/* Slack for the seconds a test run takes between 'now' here and in the library. */
#define TEST_SLACK apr_time_from_sec(60)

typedef struct {
    apr_pool_t *pool;
    char dir[64];
    md_pkey_t *rsa;
    md_pkey_t *ec1;
    md_pkey_t *ec2;
} fixture_t;

static const md_pkey_spec_t spec_p256 = {MD_PKEY_EC, 0, "secp256r1"};

static int group_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    if (!f || apr_initialize() != APR_SUCCESS || apr_pool_create(&f->pool, NULL) != APR_SUCCESS) {
        return -1;
    }
    strcpy(f->dir, "/tmp/test_cert.XXXXXX");
    if (!mkdtemp(f->dir)) {
        return -1;
    }
    /* One RSA key for the file; EC keys are cheap. */
    if (md_pkey_gen(&f->rsa, md_pkey_spec_default(), f->pool) != APR_SUCCESS ||
        md_pkey_gen(&f->ec1, &spec_p256, f->pool) != APR_SUCCESS ||
        md_pkey_gen(&f->ec2, &spec_p256, f->pool) != APR_SUCCESS) {
        return -1;
    }
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    fixture_t *f = *state;

    apr_file_remove(apr_pstrcat(f->pool, f->dir, "/pubcert.pem", NULL), f->pool);
    apr_dir_remove(f->dir, f->pool);
    apr_pool_destroy(f->pool);
    apr_terminate();
    free(f);
    return 0;
}

static apr_array_header_t *strs(apr_pool_t *p, int n, const char *const *v)
{
    apr_array_header_t *a = apr_array_make(p, n, sizeof(const char *));
    int i;

    for (i = 0; i < n; ++i) {
        APR_ARRAY_PUSH(a, const char *) = v[i];
    }
    return a;
}

#define NAMES(...)                                                                                 \
    strs(f->pool, (int) (sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)),            \
         (const char *[]){__VA_ARGS__})

static md_cert_t *self_signed(fixture_t *f, const apr_array_header_t *names, md_pkey_t *key)
{
    md_cert_t *cert = NULL;

    assert_int_equal(md_cert_self_signed(&cert, NULL, names, key, TEST_VALID_FOR, f->pool),
                     APR_SUCCESS);
    return cert;
}

static void test_self_signed_names(void **state)
{
    fixture_t *f = *state;
    md_cert_t *cert = self_signed(f, NAMES("a.example.org", "www.example.org"), f->ec1);
    apr_array_header_t *sans = md_cert_names(cert, f->pool);

    assert_int_equal(sans->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(sans, 0, const char *), "a.example.org");
    assert_string_equal(APR_ARRAY_IDX(sans, 1, const char *), "www.example.org");
    assert_true(md_cert_names_equal(cert, NAMES("WWW.example.org", "a.example.org"), f->pool));
    assert_false(md_cert_names_equal(cert, NAMES("a.example.org"), f->pool));
    assert_false(md_cert_names_equal(
        cert, NAMES("a.example.org", "www.example.org", "b.example.org"), f->pool));
    assert_true(md_cert_covers(cert, NAMES("a.example.org"), f->pool));
    assert_false(md_cert_covers(cert, NAMES("a.example.org", "b.example.org"), f->pool));
    assert_string_equal(md_cert_subject(cert, f->pool), "CN=a.example.org");
    assert_string_equal(md_cert_issuer(cert, f->pool), "CN=a.example.org");
}

static void test_self_signed_validity_and_key(void **state)
{
    fixture_t *f = *state;
    apr_time_t now = apr_time_now();
    md_cert_t *cert = self_signed(f, NAMES("a.example.org", "www.example.org"), f->ec1);
    const char *serial = md_cert_serial_hex(cert, f->pool);
    const char *fp = md_cert_fingerprint(cert, f->pool);

    assert_true(md_cert_not_before(cert) > now - TEST_DAY - TEST_SLACK);
    assert_true(md_cert_not_before(cert) < now - TEST_DAY + TEST_SLACK);
    assert_true(md_cert_not_after(cert) > now + TEST_VALID_FOR - TEST_SLACK);
    assert_true(md_cert_not_after(cert) < now + TEST_VALID_FOR + TEST_SLACK);
    assert_true(md_cert_matches_key(cert, f->ec1));
    assert_false(md_cert_matches_key(cert, f->ec2));
    assert_false(md_cert_matches_key(cert, f->rsa));
    assert_true(md_cert_is_self_signed(cert));
    /* positive, 128 bits, upper-case hex */
    assert_true(strlen(serial) > 16 && strlen(serial) <= 32);
    assert_int_equal(strspn(serial, "0123456789ABCDEF"), strlen(serial));
    assert_int_equal(strlen(fp), 64);
    assert_int_equal(strspn(fp, "0123456789abcdef"), 64);
    assert_string_not_equal(
        fp, md_cert_fingerprint(self_signed(f, NAMES("a.example.org"), f->ec1), f->pool));
}

static void test_self_signed_key_usage(void **state)
{
    fixture_t *f = *state;
    X509 *rsa = md_cert_x509(self_signed(f, NAMES("rsa.example.org"), f->rsa));
    X509 *ec = md_cert_x509(self_signed(f, NAMES("ec.example.org"), f->ec1));

    assert_true(X509_get_key_usage(rsa) & KU_KEY_ENCIPHERMENT);
    assert_true(X509_get_key_usage(rsa) & KU_DIGITAL_SIGNATURE);
    assert_false(X509_get_key_usage(ec) & KU_KEY_ENCIPHERMENT);
    assert_true(X509_get_key_usage(ec) & KU_DIGITAL_SIGNATURE);
    assert_true(X509_get_extended_key_usage(ec) & XKU_SSL_SERVER);
    assert_int_equal(X509_check_ca(ec), 0);
}

static void test_wildcard_covers_one_label(void **state)
{
    fixture_t *f = *state;
    md_cert_t *cert = self_signed(f, NAMES("*.example.org"), f->ec1);

    assert_true(md_cert_covers(cert, NAMES("www.example.org", "Mail.Example.org"), f->pool));
    assert_true(md_cert_covers(cert, NAMES("*.example.org"), f->pool));
    assert_false(md_cert_covers(cert, NAMES("example.org"), f->pool));
    assert_false(md_cert_covers(cert, NAMES("a.b.example.org"), f->pool));
}

/* Parses a CSR back and checks its signature, subject CN and SAN. */
static void check_csr(fixture_t *f, const apr_array_header_t *names, md_pkey_t *key,
                      const char *expect_cn, int must_staple)
{
    const unsigned char *der, *q;
    STACK_OF(X509_EXTENSION) * exts;
    GENERAL_NAMES *gens;
    STACK_OF(ASN1_INTEGER) * features;
    char cn[256] = "";
    apr_size_t len;
    X509_REQ *req;
    int i;

    assert_int_equal(md_csr_create((unsigned char **) &der, &len, names, key, must_staple, f->pool),
                     APR_SUCCESS);
    q = der;
    req = d2i_X509_REQ(NULL, &q, (long) len);
    assert_non_null(req);
    assert_ptr_equal(q, der + len);
    assert_int_equal(X509_REQ_verify(req, md_pkey_evp(key)), 1);
    assert_int_equal(X509_REQ_verify(req, md_pkey_evp(key == f->ec1 ? f->ec2 : f->ec1)) == 1, 0);
    X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn, sizeof(cn));
    assert_string_equal(cn, expect_cn);
    exts = X509_REQ_get_extensions(req);
    gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    assert_non_null(gens);
    assert_int_equal(sk_GENERAL_NAME_num(gens), names->nelts);
    for (i = 0; i < names->nelts; ++i) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);

        assert_int_equal(gn->type, GEN_DNS);
        assert_string_equal((const char *) ASN1_STRING_get0_data(gn->d.dNSName),
                            APR_ARRAY_IDX(names, i, const char *));
    }
    GENERAL_NAMES_free(gens);
    /* Must-Staple: the TLS feature status_request (5), RFC 7633 */
    features = X509V3_get_d2i(exts, NID_tlsfeature, NULL, NULL);
    assert_int_equal(features != NULL, must_staple);
    if (features) {
        assert_int_equal(sk_ASN1_INTEGER_num(features), 1);
        assert_int_equal(ASN1_INTEGER_get(sk_ASN1_INTEGER_value(features, 0)), 5);
        sk_ASN1_INTEGER_pop_free(features, ASN1_INTEGER_free);
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
}

static void test_csr(void **state)
{
    fixture_t *f = *state;
    const char *long_name = "a-label-that-is-quite-long-for-a-name.and-another-one-of-them."
                            "example.org";

    check_csr(f, NAMES("a.example.org", "www.example.org"), f->ec1, "a.example.org", 0);
    check_csr(f, NAMES("rsa.example.org"), f->rsa, "rsa.example.org", 1);
    assert_true(strlen(long_name) > 64);
    check_csr(f, NAMES(long_name, "b.example.org"), f->ec2, "", 0);
}

static apr_array_header_t *chain_of(apr_pool_t *p, md_cert_t *a, md_cert_t *b)
{
    apr_array_header_t *chain = apr_array_make(p, 2, sizeof(md_cert_t *));

    APR_ARRAY_PUSH(chain, md_cert_t *) = a;
    if (b) {
        APR_ARRAY_PUSH(chain, md_cert_t *) = b;
    }
    return chain;
}

static void test_chain_links(void **state)
{
    fixture_t *f = *state;
    X509 *ca_x = unit_cert_make("Test CA", f->ec2, NULL, NULL, 1);
    md_cert_t *ca = md_cert_wrap(ca_x, f->pool);
    md_cert_t *leaf =
        md_cert_wrap(unit_cert_make("leaf.example.org", f->ec1, ca_x, f->ec2, 0), f->pool);
    md_cert_t *other = self_signed(f, NAMES("other.example.org"), f->ec2);
    const char *err = NULL;

    assert_int_equal(md_chain_check_links(&err, chain_of(f->pool, leaf, ca), f->pool), APR_SUCCESS);
    assert_int_equal(md_chain_check_links(&err, chain_of(f->pool, leaf, NULL), f->pool),
                     APR_SUCCESS);
    assert_false(md_cert_is_self_signed(leaf));
    assert_true(md_cert_is_self_signed(ca));
    assert_string_equal(md_cert_issuer(leaf, f->pool), "CN=Test CA");

    assert_int_equal(md_chain_check_links(&err, chain_of(f->pool, ca, leaf), f->pool), APR_EINVAL);
    assert_non_null(strstr(err, "certificate 1"));
    assert_non_null(strstr(err, "Test CA"));
    /* the issuer's name, but another key */
    assert_int_equal(
        md_chain_check_links(
            &err,
            chain_of(f->pool, leaf,
                     md_cert_wrap(unit_cert_make("Test CA", f->ec1, NULL, NULL, 1), f->pool)),
            f->pool),
        APR_EINVAL);
    /* the issuer's key, but not its name */
    assert_int_equal(md_chain_check_links(&err, chain_of(f->pool, leaf, other), f->pool),
                     APR_EINVAL);
    assert_int_equal(
        md_chain_check_links(&err, apr_array_make(f->pool, 1, sizeof(md_cert_t *)), f->pool),
        APR_EINVAL);
}

static void test_chain_pem_and_file(void **state)
{
    fixture_t *f = *state;
    const char *path = apr_pstrcat(f->pool, f->dir, "/pubcert.pem", NULL);
    X509 *ca_x = unit_cert_make("Test CA", f->ec2, NULL, NULL, 1);
    md_cert_t *ca = md_cert_wrap(ca_x, f->pool);
    md_cert_t *leaf =
        md_cert_wrap(unit_cert_make("leaf.example.org", f->ec1, ca_x, f->ec2, 0), f->pool);
    apr_array_header_t *chain = chain_of(f->pool, leaf, ca), *back;
    const char *pem, *err = NULL;
    struct stat st;

    assert_int_equal(md_chain_to_pem(&pem, chain, f->pool), APR_SUCCESS);
    assert_int_equal(md_chain_from_pem(&back, &err, pem, strlen(pem), f->pool), APR_SUCCESS);
    assert_int_equal(back->nelts, 2);
    assert_string_equal(md_cert_fingerprint(APR_ARRAY_IDX(back, 0, md_cert_t *), f->pool),
                        md_cert_fingerprint(leaf, f->pool));
    assert_string_equal(md_cert_fingerprint(APR_ARRAY_IDX(back, 1, md_cert_t *), f->pool),
                        md_cert_fingerprint(ca, f->pool));
    assert_int_equal(md_chain_check_links(&err, back, f->pool), APR_SUCCESS);

    assert_int_equal(md_chain_save(chain, path, f->pool), APR_SUCCESS);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(md_chain_load(&back, &err, path, f->pool), APR_SUCCESS);
    assert_int_equal(back->nelts, 2);
    assert_string_equal(md_cert_subject(APR_ARRAY_IDX(back, 0, md_cert_t *), f->pool),
                        "CN=leaf.example.org");
    assert_true(APR_STATUS_IS_ENOENT(
        md_chain_load(&back, &err, apr_pstrcat(f->pool, f->dir, "/missing.pem", NULL), f->pool)));
    assert_non_null(strstr(err, "missing.pem"));
}

static void test_chain_parse_errors(void **state)
{
    fixture_t *f = *state;
    md_cert_t *cert = self_signed(f, NAMES("a.example.org"), f->ec1);
    const char *pem, *text, *err = NULL;
    apr_array_header_t *chain;

    assert_int_equal(md_chain_from_pem(&chain, &err, "", 0, f->pool), APR_EINVAL);
    assert_non_null(strstr(err, "no certificate"));
    text = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert_int_equal(md_chain_from_pem(&chain, &err, text, strlen(text), f->pool), APR_EINVAL);
    assert_non_null(strstr(err, "no certificate"));

    assert_int_equal(md_chain_to_pem(&pem, chain_of(f->pool, cert, NULL), f->pool), APR_SUCCESS);
    text = apr_pstrcat(f->pool, pem, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n",
                       "-----END CERTIFICATE-----\n", NULL);
    assert_int_equal(md_chain_from_pem(&chain, &err, text, strlen(text), f->pool), APR_EINVAL);
    assert_non_null(strstr(err, "certificate 2 is broken"));
    text = apr_pstrcat(f->pool, pem, "-----BEGIN CERTIFICATE-----\n@@@@\n", NULL);
    assert_int_equal(md_chain_from_pem(&chain, &err, text, strlen(text), f->pool), APR_EINVAL);
    assert_non_null(strstr(err, "block 2"));
}

/* A certificate with the serial and Authority Key Identifier of RFC 9773's example. */
static md_cert_t *ari_example_cert(fixture_t *f, int with_akid)
{
    static const unsigned char keyid[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40,
                                          0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0,
                                          0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
    X509 *x = X509_new();
    BIGNUM *bn = NULL;
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();

    assert_non_null(x);
    assert_true(BN_hex2bn(&bn, "87654321") > 0);
    assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    assert_int_equal(X509_set_pubkey(x, md_pkey_evp(f->ec1)), 1);
    if (with_akid) {
        akid->keyid = ASN1_OCTET_STRING_new();
        assert_int_equal(ASN1_OCTET_STRING_set(akid->keyid, keyid, sizeof(keyid)), 1);
        assert_int_equal(X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, 0), 1);
    }
    AUTHORITY_KEYID_free(akid);
    assert_true(X509_sign(x, md_pkey_evp(f->ec1), EVP_sha256()) > 0);
    return md_cert_wrap(x, f->pool);
}

static void test_ari_id_is_rfc_9773s(void **state)
{
    fixture_t *f = *state;
    const char *id;

    /* RFC 9773 4.1: keyIdentifier 69:88:5B:..:D4 and serial 0x87654321 (DER 00 87 65 43 21) */
    assert_int_equal(md_cert_ari_id(&id, ari_example_cert(f, 1), f->pool), APR_SUCCESS);
    assert_string_equal(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    assert_int_equal(md_cert_ari_id(&id, ari_example_cert(f, 0), f->pool), APR_ENOENT);
    assert_null(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self_signed_names),
        cmocka_unit_test(test_self_signed_validity_and_key),
        cmocka_unit_test(test_self_signed_key_usage),
        cmocka_unit_test(test_wildcard_covers_one_label),
        cmocka_unit_test(test_csr),
        cmocka_unit_test(test_chain_links),
        cmocka_unit_test(test_chain_pem_and_file),
        cmocka_unit_test(test_chain_parse_errors),
        cmocka_unit_test(test_ari_id_is_rfc_9773s),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

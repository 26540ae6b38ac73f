/* test_ipcert.c: unit tests of IP addresses in certificates and challenges (RFC 8738): iPAddress
 * SANs in CSRs and in the tls-alpn-01 certificate, name checks, and the choice of challenge. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "md_cert.h"
#include "md_challenge.h"
#include "md_crypt.h"
#include "md_util.h"
#include "unit_fixture.h"
#include "unit_keys.h"

#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define KEYAUTHZ TOKEN ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
#define CERT_VALID apr_time_from_sec(24 * 60 * 60)

static apr_pool_t *pool_of(void **state)
{
    return ((unit_fixture_t *) *state)->p;
}

/* A NULL-terminated list as an array of const char*. */
static apr_array_header_t *names_of(apr_pool_t *p, const char *first, ...)
{
    apr_array_header_t *a = apr_array_make(p, 3, sizeof(const char *));
    const char *s;
    va_list ap;

    va_start(ap, first);
    for (s = first; s; s = va_arg(ap, const char *)) {
        APR_ARRAY_PUSH(a, const char *) = s;
    }
    va_end(ap);
    return a;
}

static md_pkey_t *ec_key(apr_pool_t *p)
{
    md_pkey_t *key;

    assert_int_equal(md_pkey_gen(&key, &unit_spec_p256, p), APR_SUCCESS);
    return key;
}

/* "DNS:x" / "IP:x" for each subjectAltName entry, joined by ", ". */
static const char *san_of(GENERAL_NAMES *gens, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 3, sizeof(const char *));

    for (int i = 0; i < sk_GENERAL_NAME_num(gens); ++i) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
        const char *ip;
        if (gn->type == GEN_DNS) {
            APR_ARRAY_PUSH(out, const char *) =
                apr_pstrcat(p, "DNS:", (const char *) ASN1_STRING_get0_data(gn->d.dNSName), NULL);
        } else {
            assert_int_equal(gn->type, GEN_IPADD);
            assert_int_equal(md_ip_from_bin(&ip, ASN1_STRING_get0_data(gn->d.iPAddress),
                                            (apr_size_t) ASN1_STRING_length(gn->d.iPAddress), p),
                             APR_SUCCESS);
            APR_ARRAY_PUSH(out, const char *) = apr_pstrcat(p, "IP:", ip, NULL);
        }
    }
    return md_array_str_join(out, ", ", p);
}

/* The CSR for names, parsed back: its CN ("" without) in *pcn, its SAN as san_of. */
static const char *csr_san(const char **pcn, const apr_array_header_t *names, apr_pool_t *p)
{
    const unsigned char *der, *q;
    STACK_OF(X509_EXTENSION) * exts;
    GENERAL_NAMES *gens;
    char cn[256] = "";
    const char *san;
    apr_size_t len;
    X509_REQ *req;

    assert_int_equal(md_csr_create((unsigned char **) &der, &len, names, ec_key(p), 0, p),
                     APR_SUCCESS);
    q = der;
    assert_non_null(req = d2i_X509_REQ(NULL, &q, (long) len));
    X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn, sizeof(cn));
    *pcn = apr_pstrdup(p, cn);
    exts = X509_REQ_get_extensions(req);
    assert_non_null(gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL));
    san = san_of(gens, p);
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    return san;
}

/* RFC 8738 7: the CSR names an address as iPAddress; the CN is a domain name or absent. */
static void test_csr_has_ip_sans(void **state)
{
    apr_pool_t *p = pool_of(state);
    const char *cn;

    assert_string_equal(csr_san(&cn, names_of(p, "127.0.0.1", "2001:db8::1", NULL), p),
                        "IP:127.0.0.1, IP:2001:db8::1");
    assert_string_equal(cn, "");
    assert_string_equal(csr_san(&cn, names_of(p, "192.0.2.10", "www.example.org", NULL), p),
                        "IP:192.0.2.10, DNS:www.example.org");
    assert_string_equal(cn, "www.example.org");
}

/* What the CA issued is compared with the MD's names, addresses included. */
static void test_cert_names_with_addresses(void **state)
{
    apr_pool_t *p = pool_of(state);
    md_cert_t *cert;
    apr_array_header_t *sans;

    assert_int_equal(md_cert_self_signed(&cert, NULL,
                                         names_of(p, "127.0.0.1", "::1", "a.example.org", NULL),
                                         ec_key(p), CERT_VALID, p),
                     APR_SUCCESS);
    sans = md_cert_names(cert, p);
    assert_string_equal(md_array_str_join(sans, ", ", p), "127.0.0.1, ::1, a.example.org");
    assert_true(
        md_cert_names_equal(cert, names_of(p, "::1", "a.example.org", "127.0.0.1", NULL), p));
    assert_false(md_cert_names_equal(cert, names_of(p, "127.0.0.1", "a.example.org", NULL), p));
    assert_true(md_cert_covers(cert, names_of(p, "127.0.0.1", NULL), p));
    assert_false(md_cert_covers(cert, names_of(p, "127.0.0.2", NULL), p));
}

/* RFC 8738 6: the validation certificate for an address has it as its single iPAddress. */
static void test_tlsalpn01_cert_for_address(void **state)
{
    apr_pool_t *p = pool_of(state);
    md_cert_t *cert;
    GENERAL_NAMES *gens;

    assert_int_equal(md_chall_tlsalpn01_cert(&cert, "127.0.0.1", KEYAUTHZ, ec_key(p), p),
                     APR_SUCCESS);
    gens = X509_get_ext_d2i(md_cert_x509(cert), NID_subject_alt_name, NULL, NULL);
    assert_non_null(gens);
    assert_string_equal(san_of(gens, p), "IP:127.0.0.1");
    GENERAL_NAMES_free(gens);
    assert_int_equal(md_chall_tlsalpn01_cert(&cert, "::1", KEYAUTHZ, ec_key(p), p), APR_SUCCESS);
    assert_string_equal(md_array_str_join(md_cert_names(cert, p), ",", p), "::1");
}

static md_acme_authz_t *authz_offering_all(const char *domain, apr_pool_t *p)
{
    static const char *const types[] = {MD_CHALL_DNS01, MD_CHALL_TLSALPN01, MD_CHALL_HTTP01};
    md_acme_authz_t *a = apr_pcalloc(p, sizeof(*a));

    a->url = "https://ca.test/authz/1";
    a->domain = domain;
    a->status = "pending";
    a->challenges = apr_array_make(p, 3, sizeof(md_acme_chall_t *));
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); ++i) {
        md_acme_chall_t *c = apr_pcalloc(p, sizeof(*c));
        c->type = types[i];
        c->url = apr_pstrcat(p, "https://ca.test/chall/", types[i], NULL);
        c->token = TOKEN;
        c->status = "pending";
        APR_ARRAY_PUSH(a->challenges, md_acme_chall_t *) = c;
    }
    return a;
}

/* dns-01 never answers for an address, even when it is all that is allowed and possible. */
static void test_choose_never_dns01_for_address(void **state)
{
    apr_pool_t *p = pool_of(state);
    md_chall_env_t env = {.allowed = names_of(p, MD_CHALL_DNS01, MD_CHALL_HTTP01, NULL),
                          .http01_possible = 1,
                          .tlsalpn01_possible = 1,
                          .dns01_cmd = "/bin/true"};
    const md_acme_chall_t *c = NULL;

    assert_int_equal(md_chall_choose(&c, authz_offering_all("192.0.2.10", p), &env, p),
                     APR_SUCCESS);
    assert_string_equal(c->type, MD_CHALL_HTTP01);
    /* a domain name in the same environment still gets dns-01 */
    assert_int_equal(md_chall_choose(&c, authz_offering_all("example.org", p), &env, p),
                     APR_SUCCESS);
    assert_string_equal(c->type, MD_CHALL_DNS01);
    unit_log_capture(MD_LOG_ERR);
    unit_log_clear();
    env.allowed = names_of(p, MD_CHALL_DNS01, NULL);
    assert_int_equal(md_chall_choose(&c, authz_offering_all("192.0.2.10", p), &env, p),
                     APR_ENOTIMPL);
    assert_null(c);
    assert_non_null(strstr(unit_log_last_error(), "192.0.2.10"));
    assert_non_null(strstr(unit_log_last_error(), "http-01 or tls-alpn-01 only"));
}

/* The configuration check: an MD with an address needs http-01 or tls-alpn-01 allowed. */
static void test_types_check(void **state)
{
    apr_pool_t *p = pool_of(state);
    apr_array_header_t *names = names_of(p, "www.example.org", "192.0.2.10", NULL);
    const char *err;

    assert_int_equal(md_chall_types_check(&err, names, NULL, p), APR_SUCCESS);
    assert_int_equal(md_chall_types_check(&err, names, names_of(p, MD_CHALL_TLSALPN01, NULL), p),
                     APR_SUCCESS);
    assert_int_equal(
        md_chall_types_check(&err, names, names_of(p, MD_CHALL_DNS01, MD_CHALL_HTTP01, NULL), p),
        APR_SUCCESS);
    assert_int_equal(md_chall_types_check(&err, names_of(p, "www.example.org", NULL),
                                          names_of(p, MD_CHALL_DNS01, NULL), p),
                     APR_SUCCESS);
    assert_null(err);
    assert_int_equal(md_chall_types_check(&err, names, names_of(p, MD_CHALL_DNS01, NULL), p),
                     APR_EINVAL);
    assert_non_null(strstr(err, "192.0.2.10"));
    assert_non_null(strstr(err, "allows only dns-01"));
    assert_non_null(strstr(err, "add http-01 or tls-alpn-01"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, unit_fixture_setup, unit_fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_csr_has_ip_sans),
        T(test_cert_names_with_addresses),
        T(test_tlsalpn01_cert_for_address),
        T(test_choose_never_dns01_for_address),
        T(test_types_check),
    };

    apr_initialize();
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_ocsp.c: unit tests of md_ocsp.c -- the request for a certificate, the checks of a
 * response (signer, nonce, status, times), renewal timing and the store file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <apr_strings.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "md_ocsp.h"
#include "unit_store.h"

typedef unit_store_fixture_t fixture_t;

#define TEST_HOUR apr_time_from_sec(60 * 60)
#define TEST_URL "http://127.0.0.1:9/ocsp"

static const md_pkey_spec_t spec_p256 = {MD_PKEY_EC, 0, "secp256r1"};

/* A CA and a leaf it issued (with an AIA OCSP URL unless url is NULL). */
typedef struct {
    md_pkey_t *ca_key, *leaf_key;
    md_cert_t *ca, *leaf;
} pki_t;

static X509 *cert_new(const char *cn, EVP_PKEY *pub, long serial)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();

    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_NAME_free(name);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 30 * 24 * 3600);
    X509_set_pubkey(x, pub);
    return x;
}

static void ext_add(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
}

static void pki_make(pki_t *pki, const char *url, apr_pool_t *p)
{
    X509 *ca, *leaf;

    assert_int_equal(md_pkey_gen(&pki->ca_key, &spec_p256, p), APR_SUCCESS);
    assert_int_equal(md_pkey_gen(&pki->leaf_key, &spec_p256, p), APR_SUCCESS);
    ca = cert_new("test CA", md_pkey_evp(pki->ca_key), 1);
    X509_set_issuer_name(ca, X509_get_subject_name(ca));
    ext_add(ca, ca, NID_basic_constraints, "critical,CA:TRUE");
    assert_true(X509_sign(ca, md_pkey_evp(pki->ca_key), EVP_sha256()) > 0);
    leaf = cert_new("a.example.org", md_pkey_evp(pki->leaf_key), 4711);
    X509_set_issuer_name(leaf, X509_get_subject_name(ca));
    if (url) {
        ext_add(leaf, ca, NID_info_access, apr_pstrcat(p, "OCSP;URI:", url, NULL));
    }
    assert_true(X509_sign(leaf, md_pkey_evp(pki->ca_key), EVP_sha256()) > 0);
    pki->ca = md_cert_wrap(ca, p);
    pki->leaf = md_cert_wrap(leaf, p);
}

/* What a responder would answer: signed by 'signer', with the nonce given, for [this, next]
 * (next 0: no nextUpdate), or just 'rstatus' when that is not successful. */
static void response_make(unsigned char **pder, apr_size_t *plen, const pki_t *pki, int status,
                          const unsigned char *nonce, apr_size_t nonce_len, apr_time_t this_upd,
                          apr_time_t next_upd, md_pkey_t *signer, X509 *signer_cert, int rstatus,
                          apr_pool_t *p)
{
    OCSP_BASICRESP *basic = OCSP_BASICRESP_new();
    OCSP_CERTID *cid = OCSP_cert_to_id(NULL, md_cert_x509(pki->leaf), md_cert_x509(pki->ca));
    ASN1_TIME *tu = ASN1_TIME_set(NULL, (time_t) apr_time_sec(this_upd));
    ASN1_TIME *nu = next_upd ? ASN1_TIME_set(NULL, (time_t) apr_time_sec(next_upd)) : NULL;
    ASN1_TIME *rev = ASN1_TIME_set(NULL, (time_t) apr_time_sec(this_upd));
    OCSP_RESPONSE *resp;
    unsigned char *der = NULL;
    int len;

    assert_non_null(OCSP_basic_add1_status(basic, cid, status, OCSP_REVOKED_STATUS_KEYCOMPROMISE,
                                           status == V_OCSP_CERTSTATUS_REVOKED ? rev : NULL, tu,
                                           nu));
    if (nonce) {
        assert_true(OCSP_basic_add1_nonce(basic, (unsigned char *) nonce, (int) nonce_len));
    }
    assert_true(OCSP_basic_sign(basic, signer_cert ? signer_cert : md_cert_x509(pki->ca),
                                md_pkey_evp(signer), EVP_sha256(), NULL, OCSP_NOCERTS));
    resp = OCSP_response_create(rstatus, rstatus == OCSP_RESPONSE_STATUS_SUCCESSFUL ? basic : NULL);
    assert_true((len = i2d_OCSP_RESPONSE(resp, &der)) > 0);
    *pder = apr_pmemdup(p, der, (apr_size_t) len);
    *plen = (apr_size_t) len;
    OPENSSL_free(der);
    OCSP_RESPONSE_free(resp);
    OCSP_BASICRESP_free(basic);
    OCSP_CERTID_free(cid);
    ASN1_TIME_free(tu);
    ASN1_TIME_free(nu);
    ASN1_TIME_free(rev);
}

static void test_cert_id_is_sha1_and_responder_from_aia(void **state)
{
    fixture_t *f = *state;
    unsigned char digest[SHA_DIGEST_LENGTH];
    md_ocsp_cert_t *oc;
    const char *err;
    pki_t pki;
    char hex[3];

    pki_make(&pki, TEST_URL, f->pool);
    assert_int_equal(md_ocsp_cert_make(&oc, &err, pki.leaf, pki.ca, f->pool), APR_SUCCESS);
    assert_string_equal(oc->responder, TEST_URL);
    /* the bundled module's file name: the SHA-1 of the certificate's DER */
    X509_digest(md_cert_x509(pki.leaf), EVP_sha1(), digest, NULL);
    assert_int_equal(strlen(oc->id), 2 * SHA_DIGEST_LENGTH);
    for (int i = 0; i < SHA_DIGEST_LENGTH; ++i) {
        apr_snprintf(hex, sizeof(hex), "%02x", digest[i]);
        assert_memory_equal(oc->id + 2 * i, hex, 2);
    }
    assert_string_equal(md_ocsp_aspect(oc, f->pool),
                        apr_pstrcat(f->pool, "ocsp-", oc->id, ".json", NULL));

    pki_make(&pki, NULL, f->pool);
    assert_int_equal(md_ocsp_cert_make(&oc, &err, pki.leaf, pki.ca, f->pool), APR_SUCCESS);
    assert_null(oc->responder);
}

static void test_request_asks_for_the_certificate_with_nonce(void **state)
{
    fixture_t *f = *state;
    static const unsigned char nonce[] = "0123456789abcdef";
    const unsigned char *in;
    unsigned char *der;
    apr_size_t len;
    md_ocsp_cert_t *oc;
    OCSP_REQUEST *req;
    OCSP_CERTID *want;
    OCSP_BASICRESP *echo;
    const char *err;
    pki_t pki;

    pki_make(&pki, TEST_URL, f->pool);
    assert_int_equal(md_ocsp_cert_make(&oc, &err, pki.leaf, pki.ca, f->pool), APR_SUCCESS);
    assert_int_equal(md_ocsp_request_make(&der, &len, oc, nonce, 16, f->pool), APR_SUCCESS);
    in = der;
    req = d2i_OCSP_REQUEST(NULL, &in, (long) len);
    assert_non_null(req);
    assert_int_equal(OCSP_request_onereq_count(req), 1);
    want = OCSP_cert_to_id(NULL, md_cert_x509(pki.leaf), md_cert_x509(pki.ca));
    assert_int_equal(OCSP_id_cmp(OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, 0)), want), 0);
    /* the nonce is there: a response echoing it matches */
    echo = OCSP_BASICRESP_new();
    OCSP_basic_add1_nonce(echo, (unsigned char *) nonce, 16);
    assert_int_equal(OCSP_check_nonce(req, echo), 1);
    OCSP_BASICRESP_free(echo);
    OCSP_CERTID_free(want);
    OCSP_REQUEST_free(req);
}

static void test_response_good_and_revoked(void **state)
{
    fixture_t *f = *state;
    static const unsigned char nonce[] = "fedcba9876543210";
    apr_time_t now = apr_time_now();
    md_ocsp_resp_t resp;
    md_ocsp_cert_t *oc;
    unsigned char *der;
    apr_size_t len;
    const char *err;
    pki_t pki;

    pki_make(&pki, TEST_URL, f->pool);
    assert_int_equal(md_ocsp_cert_make(&oc, &err, pki.leaf, pki.ca, f->pool), APR_SUCCESS);
    response_make(&der, &len, &pki, V_OCSP_CERTSTATUS_GOOD, nonce, 16, now - TEST_HOUR,
                  now + 2 * TEST_HOUR, pki.ca_key, NULL, OCSP_RESPONSE_STATUS_SUCCESSFUL, f->pool);
    assert_int_equal(md_ocsp_response_read(&resp, &err, oc, der, len, nonce, 16, now, f->pool),
                     APR_SUCCESS);
    assert_int_equal(resp.status, MD_OCSP_GOOD);
    assert_true(resp.valid_from == apr_time_from_sec(apr_time_sec(now - TEST_HOUR)));
    assert_true(resp.valid_until == apr_time_from_sec(apr_time_sec(now + 2 * TEST_HOUR)));
    assert_int_equal(resp.der_len, len);
    assert_memory_equal(resp.der, der, len);

    response_make(&der, &len, &pki, V_OCSP_CERTSTATUS_REVOKED, NULL, 0, now - TEST_HOUR,
                  now + TEST_HOUR, pki.ca_key, NULL, OCSP_RESPONSE_STATUS_SUCCESSFUL, f->pool);
    /* a responder that does not echo the nonce is allowed (RFC 8954) */
    assert_int_equal(md_ocsp_response_read(&resp, &err, oc, der, len, nonce, 16, now, f->pool),
                     APR_SUCCESS);
    assert_int_equal(resp.status, MD_OCSP_REVOKED);
    assert_string_equal(md_ocsp_status_name(resp.status), "revoked");

    /* without nextUpdate: valid for 12 hours, as the bundled module has it */
    response_make(&der, &len, &pki, V_OCSP_CERTSTATUS_GOOD, NULL, 0, now - TEST_HOUR, 0, pki.ca_key,
                  NULL, OCSP_RESPONSE_STATUS_SUCCESSFUL, f->pool);
    assert_int_equal(md_ocsp_response_read(&resp, &err, oc, der, len, NULL, 0, now, f->pool),
                     APR_SUCCESS);
    assert_true(resp.valid_until == resp.valid_from + MD_OCSP_NO_NEXT_UPDATE);
}

static void test_response_refused(void **state)
{
    fixture_t *f = *state;
    static const unsigned char nonce[] = "fedcba9876543210", other[] = "0000000000000000";
    apr_time_t now = apr_time_now();
    md_ocsp_resp_t resp;
    md_ocsp_cert_t *oc;
    unsigned char *der;
    apr_size_t len;
    const char *err;
    md_pkey_t *stranger;
    X509 *forged;
    pki_t pki;

    pki_make(&pki, TEST_URL, f->pool);
    assert_int_equal(md_pkey_gen(&stranger, &spec_p256, f->pool), APR_SUCCESS);
    assert_int_equal(md_ocsp_cert_make(&oc, &err, pki.leaf, pki.ca, f->pool), APR_SUCCESS);

    /* another nonce than ours */
    response_make(&der, &len, &pki, V_OCSP_CERTSTATUS_GOOD, other, 16, now - TEST_HOUR,
                  now + TEST_HOUR, pki.ca_key, NULL, OCSP_RESPONSE_STATUS_SUCCESSFUL, f->pool);
    assert_int_equal(md_ocsp_response_read(&resp, &err, oc, der, len, nonce, 16, now, f->pool),
                     APR_EINVAL);
    assert_non_null(strstr(err, "nonce"));
    /* signed by a key that is not the issuer's, under the issuer's name */
    forged = cert_new("test CA", md_pkey_evp(stranger), 1);
    X509_set_issuer_name(forged, X509_get_subject_name(forged));
    assert_true(X509_sign(forged, md_pkey_evp(stranger), EVP_sha256()) > 0);
    response_make(&der, &len, &pki, V_OCSP_CERTSTATUS_GOOD, NULL, 0, now - TEST_HOUR,
                  now + TEST_HOUR, stranger, forged, OCSP_RESPONSE_STATUS_SUCCESSFUL, f->pool);
    assert_int_equal(md_ocsp_response_read(&resp, &err, oc, der, len, NULL, 0, now, f->pool),
                     APR_EINVAL);
    assert_non_null(strstr(err, "signature"));
    X509_free(forged);
    /* expired */
    response_make(&der, &len, &pki, V_OCSP_CERTSTATUS_GOOD, NULL, 0, now - 3 * TEST_HOUR,
                  now - 2 * TEST_HOUR, pki.ca_key, NULL, OCSP_RESPONSE_STATUS_SUCCESSFUL, f->pool);
    assert_int_equal(md_ocsp_response_read(&resp, &err, oc, der, len, NULL, 0, now, f->pool),
                     APR_EINVAL);
    assert_non_null(strstr(err, "expired"));
    /* the responder could not answer */
    response_make(&der, &len, &pki, V_OCSP_CERTSTATUS_GOOD, NULL, 0, now, now + TEST_HOUR,
                  pki.ca_key, NULL, OCSP_RESPONSE_STATUS_TRYLATER, f->pool);
    assert_int_equal(md_ocsp_response_read(&resp, &err, oc, der, len, NULL, 0, now, f->pool),
                     APR_EINVAL);
    assert_non_null(strstr(err, "trylater"));
    /* not OCSP at all */
    assert_int_equal(md_ocsp_response_read(&resp, &err, oc, (const unsigned char *) "<html>", 6,
                                           NULL, 0, now, f->pool),
                     APR_EINVAL);
}

static void test_renew_window(void **state)
{
    fixture_t *f = *state;
    md_ocsp_resp_t resp = {MD_OCSP_GOOD, 0, 0, NULL, 0};
    md_timeslice_t ts;
    const char *err;

    resp.valid_from = apr_time_from_sec(1000000);
    resp.valid_until = resp.valid_from + 3 * TEST_HOUR;
    assert_int_equal(md_timeslice_parse(&ts, "33%", &err, f->pool), APR_SUCCESS);
    /* a third of three hours before the end */
    assert_true(md_ocsp_renew_at(&resp, &ts) >= resp.valid_until - TEST_HOUR - TEST_HOUR / 20);
    assert_true(md_ocsp_renew_at(&resp, &ts) <= resp.valid_until - TEST_HOUR + TEST_HOUR / 20);
    assert_int_equal(md_timeslice_parse(&ts, "2h", &err, f->pool), APR_SUCCESS);
    assert_true(md_ocsp_renew_at(&resp, &ts) == resp.valid_until - 2 * TEST_HOUR);
}

static void test_store_round_trip_in_bundled_layout(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    apr_time_t now = apr_time_now();
    md_ocsp_resp_t resp, loaded;
    md_ocsp_cert_t *oc;
    unsigned char *der;
    apr_size_t len;
    const char *err, *path;
    md_json_t *j;
    pki_t pki;

    pki_make(&pki, TEST_URL, f->pool);
    assert_int_equal(md_ocsp_cert_make(&oc, &err, pki.leaf, pki.ca, f->pool), APR_SUCCESS);
    assert_int_equal(md_ocsp_load(&loaded, &err, store, "a.example.org", oc, f->pool), APR_ENOENT);
    response_make(&der, &len, &pki, V_OCSP_CERTSTATUS_GOOD, NULL, 0, now - TEST_HOUR,
                  now + TEST_HOUR, pki.ca_key, NULL, OCSP_RESPONSE_STATUS_SUCCESSFUL, f->pool);
    assert_int_equal(md_ocsp_response_read(&resp, &err, oc, der, len, NULL, 0, now, f->pool),
                     APR_SUCCESS);
    assert_int_equal(md_ocsp_save(store, "a.example.org", oc, &resp, f->pool), APR_SUCCESS);
    path = apr_pstrcat(f->pool, f->dir, "/ocsp/a.example.org/ocsp-", oc->id, ".json", NULL);
    assert_int_equal(md_json_read_file(&j, &err, path, f->pool), APR_SUCCESS);
    assert_string_equal(md_json_get_str(j, "status"), "good");
    assert_string_equal(md_json_get_str(md_json_get(j, "valid", f->pool), "until"),
                        md_time_http(resp.valid_until, f->pool));
    assert_int_equal(md_ocsp_load(&loaded, &err, store, "a.example.org", oc, f->pool), APR_SUCCESS);
    assert_int_equal(loaded.status, MD_OCSP_GOOD);
    assert_true(loaded.valid_until == resp.valid_until);
    assert_int_equal(loaded.der_len, len);
}

/* MDStaplingKeepResponse: a response file goes keep after it ran out, whoever wrote it and
 * whatever certificate it was for; what does not read as one stays. */
static void test_prune_after_keep(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = unit_store_open(f->dir, f->pool);
    apr_time_t now = apr_time_now();
    md_json_t *j = md_json_new_obj(f->pool), *valid = md_json_new_obj(f->pool);
    const char *dir = apr_pstrcat(f->pool, f->dir, "/ocsp/a.example.org", NULL);
    int removed;

    md_json_set(j, "valid", valid);
    md_json_set_str(valid, "until", md_time_http(now - 3 * TEST_HOUR, f->pool));
    assert_int_equal(
        md_store_save_json(store, MD_SG_OCSP, "a.example.org", "ocsp-01.json", j, f->pool),
        APR_SUCCESS);
    md_json_set_str(valid, "until", md_time_format(now - TEST_HOUR / 2, f->pool));
    assert_int_equal(
        md_store_save_json(store, MD_SG_OCSP, "a.example.org", "ocsp-02.json", j, f->pool),
        APR_SUCCESS);
    assert_int_equal(
        md_store_save_text(store, MD_SG_OCSP, "a.example.org", "ocsp-03.json", "not json", f->pool),
        APR_SUCCESS);
    assert_int_equal(md_store_save_json(store, MD_SG_OCSP, "a.example.org", "job.json", j, f->pool),
                     APR_SUCCESS);
    assert_int_equal(md_ocsp_prune(&removed, store, TEST_HOUR, now, f->pool), APR_SUCCESS);
    assert_int_equal(removed, 1);
    assert_int_equal(unit_dir_count(dir, f->pool), 3);
    assert_false(md_store_exists(store, MD_SG_OCSP, "a.example.org", "ocsp-01.json", f->pool));
    assert_true(md_store_exists(store, MD_SG_OCSP, "a.example.org", "ocsp-02.json", f->pool));
    assert_true(md_store_exists(store, MD_SG_OCSP, "a.example.org", "ocsp-03.json", f->pool));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cert_id_is_sha1_and_responder_from_aia,
                                        unit_store_setup, unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_request_asks_for_the_certificate_with_nonce,
                                        unit_store_setup, unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_response_good_and_revoked, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_response_refused, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_renew_window, unit_store_setup, unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_prune_after_keep, unit_store_setup,
                                        unit_store_teardown),
        cmocka_unit_test_setup_teardown(test_store_round_trip_in_bundled_layout, unit_store_setup,
                                        unit_store_teardown),
    };
    return cmocka_run_group_tests(tests, unit_store_group_setup, unit_store_group_teardown);
}

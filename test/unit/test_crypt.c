/* test_crypt.c: unit tests of md_crypt.c -- key specs (parse, names, JSON), key generation,
 * PEM in/out plain and encrypted with a binary passphrase, key files, SHA-256. */
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

#include <openssl/evp.h>

#include "md_crypt.h"
#include "md_json.h"
#include "md_util.h"

/* Store secrets are binary; this length matches a 48-byte secret. */
#define TEST_PASS_LEN 48
/* Where the test puts a NUL byte into the passphrase. */
#define TEST_PASS_NUL_AT 10

typedef struct {
    apr_pool_t *pool;
    char dir[64];
    md_pkey_t *rsa;
    md_pkey_t *ec256;
    md_pkey_t *ec384;
    char pass[TEST_PASS_LEN];
} fixture_t;

static const md_pkey_spec_t spec_p256 = {MD_PKEY_EC, 0, "secp256r1"};
static const md_pkey_spec_t spec_p384 = {MD_PKEY_EC, 0, "secp384r1"};

static int group_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    int i;

    if (!f || apr_initialize() != APR_SUCCESS || apr_pool_create(&f->pool, NULL) != APR_SUCCESS) {
        return -1;
    }
    strcpy(f->dir, "/tmp/test_crypt.XXXXXX");
    if (!mkdtemp(f->dir)) {
        return -1;
    }
    /* One RSA key for the whole file: generation takes a noticeable fraction of a second. */
    if (md_pkey_gen(&f->rsa, md_pkey_spec_default(), f->pool) != APR_SUCCESS ||
        md_pkey_gen(&f->ec256, &spec_p256, f->pool) != APR_SUCCESS ||
        md_pkey_gen(&f->ec384, &spec_p384, f->pool) != APR_SUCCESS) {
        return -1;
    }
    for (i = 0; i < TEST_PASS_LEN; ++i) {
        f->pass[i] = (char) (0x80 + i * 7);
    }
    f->pass[TEST_PASS_NUL_AT] = '\0';
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    fixture_t *f = *state;

    apr_file_remove(apr_pstrcat(f->pool, f->dir, "/privkey.pem", NULL), f->pool);
    apr_dir_remove(f->dir, f->pool);
    apr_pool_destroy(f->pool);
    apr_terminate();
    free(f);
    return 0;
}

static int keys_equal(const md_pkey_t *a, const md_pkey_t *b)
{
    return EVP_PKEY_eq(md_pkey_evp(a), md_pkey_evp(b)) == 1;
}

static void test_generated_keys_have_their_spec(void **state)
{
    fixture_t *f = *state;
    md_pkey_spec_t *spec;

    assert_int_equal(md_pkey_get_spec(&spec, f->rsa, f->pool), APR_SUCCESS);
    assert_string_equal(md_pkey_spec_name(spec, f->pool), "rsa2048");
    assert_int_equal(md_pkey_get_spec(&spec, f->ec256, f->pool), APR_SUCCESS);
    assert_string_equal(md_pkey_spec_name(spec, f->pool), "secp256r1");
    assert_int_equal(md_pkey_get_spec(&spec, f->ec384, f->pool), APR_SUCCESS);
    assert_string_equal(md_pkey_spec_name(spec, f->pool), "secp384r1");
    assert_true(md_pkey_spec_eq(spec, &spec_p384));
}

static void test_pem_plain_round_trip(void **state)
{
    fixture_t *f = *state;
    md_pkey_t *keys[] = {f->rsa, f->ec256, f->ec384};
    const char *pem;
    md_pkey_t *back;
    size_t i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); ++i) {
        assert_int_equal(md_pkey_to_pem(&pem, keys[i], NULL, 0, f->pool), APR_SUCCESS);
        assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
        assert_int_equal(md_pkey_from_pem(&back, pem, strlen(pem), NULL, 0, f->pool), APR_SUCCESS);
        assert_true(keys_equal(keys[i], back));
        assert_false(keys_equal(keys[(i + 1) % 3], back));
    }
}

static void test_pem_encrypted_binary_pass(void **state)
{
    fixture_t *f = *state;
    md_pkey_t *keys[] = {f->rsa, f->ec256};
    char wrong[TEST_PASS_LEN];
    const char *pem;
    md_pkey_t *back;
    size_t i;

    memcpy(wrong, f->pass, sizeof(wrong));
    wrong[TEST_PASS_LEN - 1] ^= 0x01;
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); ++i) {
        assert_int_equal(md_pkey_to_pem(&pem, keys[i], f->pass, TEST_PASS_LEN, f->pool),
                         APR_SUCCESS);
        assert_non_null(strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        assert_int_equal(md_pkey_from_pem(&back, pem, strlen(pem), f->pass, TEST_PASS_LEN, f->pool),
                         APR_SUCCESS);
        assert_true(keys_equal(keys[i], back));
        /* missing, wrong in the last byte, cut at the NUL byte: all refused */
        assert_int_equal(md_pkey_from_pem(&back, pem, strlen(pem), NULL, 0, f->pool), APR_EACCES);
        assert_int_equal(md_pkey_from_pem(&back, pem, strlen(pem), wrong, TEST_PASS_LEN, f->pool),
                         APR_EACCES);
        assert_int_equal(
            md_pkey_from_pem(&back, pem, strlen(pem), f->pass, TEST_PASS_NUL_AT, f->pool),
            APR_EACCES);
        /* a passphrase too short to be a secret is stretched the default way; it works alike */
        assert_int_equal(md_pkey_to_pem(&pem, keys[i], "short", 5, f->pool), APR_SUCCESS);
        assert_int_equal(md_pkey_from_pem(&back, pem, strlen(pem), "short", 5, f->pool),
                         APR_SUCCESS);
        assert_true(keys_equal(keys[i], back));
        assert_int_equal(md_pkey_from_pem(&back, pem, strlen(pem), "shorT", 5, f->pool),
                         APR_EACCES);
    }
}

static void test_pem_without_key_is_einval(void **state)
{
    fixture_t *f = *state;
    const char *texts[] = {
        "",
        "hello world\n",
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    };
    md_pkey_t *key;
    size_t i;

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); ++i) {
        assert_int_equal(
            md_pkey_from_pem(&key, texts[i], strlen(texts[i]), f->pass, TEST_PASS_LEN, f->pool),
            APR_EINVAL);
    }
}

static void test_key_file_is_private(void **state)
{
    fixture_t *f = *state;
    const char *path = apr_pstrcat(f->pool, f->dir, "/privkey.pem", NULL);
    struct stat st;
    md_pkey_t *back;

    assert_int_equal(md_pkey_save(f->ec256, path, f->pass, TEST_PASS_LEN, f->pool), APR_SUCCESS);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(md_pkey_load(&back, path, f->pass, TEST_PASS_LEN, f->pool), APR_SUCCESS);
    assert_true(keys_equal(f->ec256, back));
    assert_int_equal(md_pkey_load(&back, path, NULL, 0, f->pool), APR_EACCES);
    /* overwriting keeps the mode */
    assert_int_equal(md_pkey_save(f->ec384, path, NULL, 0, f->pool), APR_SUCCESS);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(md_pkey_load(&back, path, NULL, 0, f->pool), APR_SUCCESS);
    assert_true(keys_equal(f->ec384, back));
    assert_true(APR_STATUS_IS_ENOENT(
        md_pkey_load(&back, apr_pstrcat(f->pool, f->dir, "/missing.pem", NULL), NULL, 0, f->pool)));
}

static void test_public_pem_identifies_key(void **state)
{
    fixture_t *f = *state;
    const char *pem, *pub1, *pub2, *pub3;
    md_pkey_t *back;

    assert_int_equal(md_pkey_to_pem(&pem, f->rsa, NULL, 0, f->pool), APR_SUCCESS);
    assert_int_equal(md_pkey_from_pem(&back, pem, strlen(pem), NULL, 0, f->pool), APR_SUCCESS);
    assert_int_equal(md_pkey_pub_pem(&pub1, f->rsa, f->pool), APR_SUCCESS);
    assert_int_equal(md_pkey_pub_pem(&pub2, back, f->pool), APR_SUCCESS);
    assert_int_equal(md_pkey_pub_pem(&pub3, f->ec256, f->pool), APR_SUCCESS);
    assert_non_null(strstr(pub1, "-----BEGIN PUBLIC KEY-----"));
    assert_string_equal(pub1, pub2);
    assert_string_not_equal(pub1, pub3);
}

/* Parses words into specs and returns their names joined by ' ', or "ERR: reason". */
static const char *parse_names(apr_pool_t *p, int argc, const char *const *argv)
{
    apr_array_header_t *specs, *names;
    const char *err = NULL;
    int i;

    if (md_pkey_specs_parse(&specs, &err, argc, argv, p) != APR_SUCCESS) {
        assert_non_null(err);
        return apr_pstrcat(p, "ERR: ", err, NULL);
    }
    names = apr_array_make(p, specs->nelts, sizeof(const char *));
    for (i = 0; i < specs->nelts; ++i) {
        APR_ARRAY_PUSH(names, const char *) =
            md_pkey_spec_name(APR_ARRAY_IDX(specs, i, md_pkey_spec_t *), p);
    }
    return md_array_str_join(names, " ", p);
}

#define PARSE(...)                                                                                 \
    parse_names(f->pool, (int) (sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)),     \
                (const char *[]){__VA_ARGS__})

static void test_specs_parse_accepted(void **state)
{
    fixture_t *f = *state;

    assert_string_equal(PARSE("RSA"), "rsa2048");
    assert_string_equal(PARSE("rsa", "3072"), "rsa3072");
    assert_string_equal(PARSE("Rsa4096"), "rsa4096");
    assert_string_equal(PARSE("RSA", "8192", "P-256"), "rsa8192 secp256r1");
    assert_string_equal(PARSE("prime256v1", "p-384", "SECP521R1"), "secp256r1 secp384r1 secp521r1");
    assert_string_equal(PARSE("secp384r1", "rsa"), "secp384r1 rsa2048");
    assert_string_equal(PARSE("P-521"), "secp521r1");
}

static void test_specs_parse_refused(void **state)
{
    fixture_t *f = *state;
    const char *err;

    err = PARSE("dsa");
    assert_non_null(strstr(err, "'dsa'"));
    assert_non_null(strstr(err, "secp256r1"));
    assert_non_null(strstr(err, "RSA"));
    assert_non_null(strstr(PARSE("RSA", "1024"), "2048..8192"));
    assert_non_null(strstr(PARSE("rsa9000"), "2048..8192"));
    assert_non_null(strstr(PARSE("rsa4096x"), "'rsa4096x'"));
    assert_non_null(strstr(PARSE("RSA", "3072x"), "'3072x'"));
    assert_non_null(strstr(PARSE("RSA", "rsa2048"), "twice"));
    assert_non_null(strstr(PARSE("secp256r1", "P-256"), "twice"));
    assert_non_null(strstr(PARSE("rsa2048", "rsa3072"), "one RSA size"));
    assert_non_null(strstr(PARSE("P-256", "P-257"), "'P-257'"));
}

static void test_spec_names_and_suffixes(void **state)
{
    fixture_t *f = *state;
    md_pkey_spec_t rsa3072 = {MD_PKEY_RSA, 3072, NULL};

    assert_string_equal(md_pkey_spec_name(md_pkey_spec_default(), f->pool), "rsa2048");
    assert_string_equal(md_pkey_spec_name(&rsa3072, f->pool), "rsa3072");
    assert_string_equal(md_pkey_spec_file_suffix(&rsa3072, f->pool), "");
    assert_string_equal(md_pkey_spec_file_suffix(&spec_p256, f->pool), ".secp256r1");
    assert_string_equal(md_pkey_spec_file_suffix(&spec_p384, f->pool), ".secp384r1");
    assert_false(md_pkey_spec_eq(&rsa3072, md_pkey_spec_default()));
    assert_false(md_pkey_spec_eq(&spec_p256, &spec_p384));
}

/* md_pkey_spec_from_json of a JSON text; its name or "ERR". */
static const char *spec_from_text(apr_pool_t *p, const char *text)
{
    md_pkey_spec_t *spec;
    const char *err;
    md_json_t *j;

    assert_int_equal(md_json_parse(&j, &err, text, strlen(text), p), APR_SUCCESS);
    if (md_pkey_spec_from_json(&spec, j, p) != APR_SUCCESS) {
        return "ERR";
    }
    return md_pkey_spec_name(spec, p);
}

static void test_spec_json(void **state)
{
    fixture_t *f = *state;
    md_pkey_spec_t rsa3072 = {MD_PKEY_RSA, 3072, NULL};
    md_pkey_spec_t *back;
    md_json_t *j;

    j = md_pkey_spec_to_json(&rsa3072, f->pool);
    assert_string_equal(md_json_get_str(j, "type"), "RSA");
    assert_int_equal(md_json_get_int(j, "bits", 0), 3072);
    assert_int_equal(md_pkey_spec_from_json(&back, j, f->pool), APR_SUCCESS);
    assert_true(md_pkey_spec_eq(back, &rsa3072));

    j = md_pkey_spec_to_json(&spec_p384, f->pool);
    assert_string_equal(md_json_get_str(j, "type"), "EC");
    assert_string_equal(md_json_get_str(j, "curve"), "secp384r1");
    assert_int_equal(md_pkey_spec_from_json(&back, j, f->pool), APR_SUCCESS);
    assert_true(md_pkey_spec_eq(back, &spec_p384));

    assert_string_equal(spec_from_text(f->pool, "{\"type\":\"Default\"}"), "rsa2048");
    assert_string_equal(spec_from_text(f->pool, "{\"type\":\"RSA\"}"), "rsa2048");
    assert_string_equal(spec_from_text(f->pool, "{\"type\":\"EC\",\"curve\":\"P-256\"}"),
                        "secp256r1");
    assert_string_equal(spec_from_text(f->pool, "{\"type\":\"DSA\"}"), "ERR");
    assert_string_equal(spec_from_text(f->pool, "{}"), "ERR");
    assert_string_equal(spec_from_text(f->pool, "{\"type\":\"EC\",\"curve\":\"x25519\"}"), "ERR");
    assert_string_equal(spec_from_text(f->pool, "{\"type\":\"EC\"}"), "ERR");
    assert_string_equal(spec_from_text(f->pool, "{\"type\":\"RSA\",\"bits\":1024}"), "ERR");
}

static void test_sha256_and_random(void **state)
{
    /* FIPS 180-2 test vector for "abc" */
    static const unsigned char abc[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
    };
    unsigned char out[32], r1[32], r2[32];

    assert_int_equal(md_crypt_sha256(out, "abc", 3), APR_SUCCESS);
    assert_memory_equal(out, abc, sizeof(abc));
    assert_int_equal(md_crypt_random(r1, sizeof(r1)), APR_SUCCESS);
    assert_int_equal(md_crypt_random(r2, sizeof(r2)), APR_SUCCESS);
    assert_memory_not_equal(r1, r2, sizeof(r1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_keys_have_their_spec),
        cmocka_unit_test(test_pem_plain_round_trip),
        cmocka_unit_test(test_pem_encrypted_binary_pass),
        cmocka_unit_test(test_pem_without_key_is_einval),
        cmocka_unit_test(test_key_file_is_private),
        cmocka_unit_test(test_public_pem_identifies_key),
        cmocka_unit_test(test_specs_parse_accepted),
        cmocka_unit_test(test_specs_parse_refused),
        cmocka_unit_test(test_spec_names_and_suffixes),
        cmocka_unit_test(test_spec_json),
        cmocka_unit_test(test_sha256_and_random),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* test_challenge.c: unit tests of md_challenge.c -- choosing a challenge type, http-01 and
 * tls-alpn-01 answers in the store, the acmeIdentifier certificate, dns-01 via a command. */
#include <errno.h>
#include <setjmp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <apr_atomic.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "md_acme.h"
#include "md_cert.h"
#include "md_challenge.h"
#include "md_crypt.h"
#include "md_http.h"
#include "md_log.h"
#include "md_store.h"
#include "md_util.h"
#include "unit_fixture.h"
#include "unit_keys.h"
#include "unit_server.h"

#define SHA256_LEN 32
#define DER_OCTET_STRING_TAG 0x04
#define MODE_PUBLIC_FILE 0644
#define MODE_PERMS_MASK 0777
/* A token as RFC 8555 8.3 shows them: base64url of 32 random bytes. */
#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define OID_ACME_IDENTIFIER "1.3.6.1.5.5.7.1.31"
/* A directory URL that is never contacted: key authorizations need no request. */
#define CA_URL "https://127.0.0.1:1/dir"
#define ACCOUNT_URL "https://127.0.0.1:1/acct/1"
/* A dns-01 command that hangs sleeps this long; a cancelled one must be gone long before. */
#define HANG_SECONDS 30
#define CANCELLED_WITHIN apr_time_from_sec(10)
/* How long the test waits for a command to start (it writes its pid) or to end. */
#define EVENT_TIMEOUT apr_time_from_sec(10)
#define POLL_STEP apr_time_from_msec(10)
/* Signals 1 to 31 in the masks of /proc/<pid>/status (bit n-1 for signal n). */
#define STANDARD_SIGNALS_MASK 0x7fffffffULL

typedef struct {
    apr_pool_t *pool;
    char base[UNIT_DIR_LEN]; /* the mkdtemp directory */
    md_store_t *store;
    md_acme_t *acme;
} fixture_t;

static int group_setup(void **state)
{
    (void) state;
    /* every error the library logs is kept: unit_log_text() for the current test */
    if (unit_net_open(NULL, NULL) != 0) {
        return -1;
    }
    umask(077); /* the store must make challenge answers readable regardless */
    return 0;
}

static int group_teardown(void **state)
{
    (void) state;
    unit_net_close(NULL, NULL, NULL);
    return 0;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    md_pkey_t *key;

    if (!f || unit_tmp_open(&f->pool, f->base) != 0 ||
        md_store_fs_open(&f->store, apr_pstrcat(f->pool, f->base, "/store", NULL), 1, f->pool) !=
            APR_SUCCESS ||
        md_acme_create(&f->acme, CA_URL, NULL, NULL, f->pool) != APR_SUCCESS ||
        md_pkey_gen(&key, &unit_spec_p256, f->pool) != APR_SUCCESS) {
        return -1;
    }
    md_acme_use_account(f->acme, key, ACCOUNT_URL);
    unit_log_clear();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    if (unit_tmp_close(f->pool, f->base) != 0) {
        return -1;
    }
    free(f);
    return 0;
}

/* ---- helpers ---- */

static md_acme_chall_t *chall_make(const char *type, apr_pool_t *p)
{
    md_acme_chall_t *c = apr_pcalloc(p, sizeof(*c));

    c->type = type;
    c->url = apr_pstrcat(p, "https://ca.test/chall/", type, NULL);
    c->token = TOKEN;
    c->status = "pending";
    return c;
}

/* An authorization for domain offering the types given (NULL-terminated). */
static md_acme_authz_t *authz_make(apr_pool_t *p, const char *domain, ...)
{
    md_acme_authz_t *a = apr_pcalloc(p, sizeof(*a));
    const char *type;
    va_list ap;

    a->url = "https://ca.test/authz/1";
    a->domain = domain;
    a->status = "pending";
    a->challenges = apr_array_make(p, 3, sizeof(md_acme_chall_t *));
    va_start(ap, domain);
    while ((type = va_arg(ap, const char *)) != NULL) {
        APR_ARRAY_PUSH(a->challenges, md_acme_chall_t *) = chall_make(type, p);
    }
    va_end(ap);
    return a;
}

static apr_array_header_t *strs(apr_pool_t *p, const char *s1, const char *s2)
{
    apr_array_header_t *a = apr_array_make(p, 2, sizeof(const char *));

    APR_ARRAY_PUSH(a, const char *) = s1;
    if (s2) {
        APR_ARRAY_PUSH(a, const char *) = s2;
    }
    return a;
}

static const char *chosen(const md_acme_authz_t *authz, const md_chall_env_t *env, apr_pool_t *p)
{
    const md_acme_chall_t *c = NULL;
    apr_status_t rv = md_chall_choose(&c, authz, env, p);

    if (rv != APR_SUCCESS) {
        assert_null(c);
        return NULL;
    }
    assert_non_null(c);
    return c->type;
}

static const char *expected_txt(const char *keyauthz, apr_pool_t *p)
{
    unsigned char digest[SHA256_LEN];

    assert_int_equal(md_crypt_sha256(digest, keyauthz, strlen(keyauthz)), APR_SUCCESS);
    return md_base64url_encode(digest, sizeof(digest), p);
}

/* The acmeIdentifier extension of cert must be critical and hold OCTET STRING(SHA-256). */
static void assert_acme_identifier(const md_cert_t *cert, const char *keyauthz)
{
    X509 *x509 = md_cert_x509(cert);
    ASN1_OBJECT *oid = OBJ_txt2obj(OID_ACME_IDENTIFIER, 1);
    unsigned char digest[SHA256_LEN];
    const ASN1_OCTET_STRING *value;
    X509_EXTENSION *ext;
    int idx;

    assert_non_null(oid);
    idx = X509_get_ext_by_OBJ(x509, oid, -1);
    ASN1_OBJECT_free(oid);
    assert_true(idx >= 0);
    ext = X509_get_ext(x509, idx);
    assert_int_equal(X509_EXTENSION_get_critical(ext), 1);
    value = X509_EXTENSION_get_data(ext);
    assert_int_equal(ASN1_STRING_length(value), 2 + SHA256_LEN);
    assert_int_equal(ASN1_STRING_get0_data(value)[0], DER_OCTET_STRING_TAG);
    assert_int_equal(ASN1_STRING_get0_data(value)[1], SHA256_LEN);
    assert_int_equal(md_crypt_sha256(digest, keyauthz, strlen(keyauthz)), APR_SUCCESS);
    assert_memory_equal(ASN1_STRING_get0_data(value) + 2, digest, SHA256_LEN);
}

static const char *slurp(const char *path, apr_pool_t *p)
{
    char *data = NULL;
    apr_size_t len;

    return md_file_read(&data, &len, path, 0, p) == APR_SUCCESS ? data : NULL;
}

/* An executable script at base/name. */
static const char *script(fixture_t *f, const char *name, const char *body)
{
    return unit_script(f->pool, f->base, name, body);
}

/* ---- choosing ---- */

static void test_choose_default_preference(void **state)
{
    fixture_t *f = *state;
    md_acme_authz_t *a = authz_make(f->pool, "example.org", MD_CHALL_HTTP01, MD_CHALL_DNS01,
                                    MD_CHALL_TLSALPN01, NULL);
    md_chall_env_t env = {NULL, 1, 1, "/bin/true", NULL, 0};

    assert_string_equal(chosen(a, &env, f->pool), MD_CHALL_TLSALPN01);
    env.tlsalpn01_possible = 0;
    assert_string_equal(chosen(a, &env, f->pool), MD_CHALL_HTTP01);
    env.http01_possible = 0;
    assert_string_equal(chosen(a, &env, f->pool), MD_CHALL_DNS01);
    /* an empty allowed list is the default preference too */
    env.allowed = apr_array_make(f->pool, 0, sizeof(const char *));
    env.http01_possible = 1;
    assert_string_equal(chosen(a, &env, f->pool), MD_CHALL_HTTP01);
}

static void test_choose_allowed_order(void **state)
{
    fixture_t *f = *state;
    md_acme_authz_t *a = authz_make(f->pool, "example.org", MD_CHALL_TLSALPN01, MD_CHALL_HTTP01,
                                    MD_CHALL_DNS01, NULL);
    md_chall_env_t env = {NULL, 1, 1, NULL, NULL, 0};

    env.allowed = strs(f->pool, MD_CHALL_HTTP01, MD_CHALL_TLSALPN01);
    assert_string_equal(chosen(a, &env, f->pool), MD_CHALL_HTTP01);
    /* as an operator may write them, and a type we do not know */
    env.allowed = strs(f->pool, "TLS-ALPN-01", "http-01");
    assert_string_equal(chosen(a, &env, f->pool), MD_CHALL_TLSALPN01);
    env.allowed = strs(f->pool, "tls-sni-01", "http-01");
    assert_string_equal(chosen(a, &env, f->pool), MD_CHALL_HTTP01);
    /* dns-01 first, but without a command it is skipped */
    env.allowed = strs(f->pool, MD_CHALL_DNS01, MD_CHALL_TLSALPN01);
    assert_string_equal(chosen(a, &env, f->pool), MD_CHALL_TLSALPN01);
    /* only what is allowed: tls-alpn-01 impossible leaves nothing */
    env.allowed = strs(f->pool, MD_CHALL_TLSALPN01, NULL);
    env.tlsalpn01_possible = 0;
    assert_null(chosen(a, &env, f->pool));
    assert_non_null(strstr(unit_log_text(), "possible here [http-01], allowed [tls-alpn-01]"));
    assert_non_null(strstr(unit_log_text(), "MDCAChallenges"));
}

static void test_choose_only_offered(void **state)
{
    fixture_t *f = *state;
    md_acme_authz_t *a = authz_make(f->pool, "example.org", MD_CHALL_HTTP01, NULL);
    md_chall_env_t env = {NULL, 1, 1, "/bin/true", NULL, 0};

    assert_string_equal(chosen(a, &env, f->pool), MD_CHALL_HTTP01);
    env.http01_possible = 0;
    assert_null(chosen(a, &env, f->pool));
    assert_non_null(strstr(unit_log_text(), "example.org"));
    assert_non_null(strstr(unit_log_text(), "the CA offers [http-01]"));
    assert_non_null(strstr(unit_log_text(), "possible here [tls-alpn-01, dns-01]"));
}

static void test_choose_wildcard(void **state)
{
    fixture_t *f = *state;
    md_acme_authz_t *a = authz_make(f->pool, "*.example.org", MD_CHALL_HTTP01, MD_CHALL_DNS01,
                                    MD_CHALL_TLSALPN01, NULL);
    md_chall_env_t env = {NULL, 1, 1, "/bin/true", NULL, 0};

    assert_string_equal(chosen(a, &env, f->pool), MD_CHALL_DNS01);
    env.allowed = strs(f->pool, MD_CHALL_HTTP01, MD_CHALL_DNS01);
    assert_string_equal(chosen(a, &env, f->pool), MD_CHALL_DNS01);

    env.dns01_cmd = NULL;
    assert_null(chosen(a, &env, f->pool));
    assert_non_null(strstr(unit_log_text(), "*.example.org"));
    assert_non_null(strstr(unit_log_text(), "MDChallengeDns01"));
}

static void test_choose_nothing_possible(void **state)
{
    fixture_t *f = *state;
    md_acme_authz_t *a = authz_make(f->pool, "www.example.org", MD_CHALL_HTTP01, MD_CHALL_TLSALPN01,
                                    MD_CHALL_DNS01, NULL);
    md_chall_env_t env = {NULL, 0, 0, NULL, NULL, 0};
    const md_acme_chall_t *c;

    assert_int_equal(md_chall_choose(&c, a, &env, f->pool), APR_ENOTIMPL);
    assert_non_null(strstr(unit_log_text(), "www.example.org"));
    assert_non_null(strstr(unit_log_text(), "possible here []"));
    assert_non_null(strstr(unit_log_text(), "port 80"));
    /* nothing offered at all */
    env.http01_possible = 1;
    a = authz_make(f->pool, "www.example.org", NULL);
    assert_int_equal(md_chall_choose(&c, a, &env, f->pool), APR_ENOTIMPL);
}

static void test_choose_dns_persist(void **state)
{
    fixture_t *f = *state;
    md_acme_authz_t *a =
        authz_make(f->pool, "www.example.org", MD_CHALL_HTTP01, MD_CHALL_DNSPERSIST01, NULL);
    md_acme_authz_t *w =
        authz_make(f->pool, "*.example.org", MD_CHALL_DNS01, MD_CHALL_DNSPERSIST01, NULL);
    md_acme_authz_t *ip =
        authz_make(f->pool, "192.0.2.10", MD_CHALL_HTTP01, MD_CHALL_DNSPERSIST01, NULL);
    md_chall_env_t env = {NULL, 0, 0, NULL, NULL, 0};

    /* never by default: the operator must have published the record */
    assert_null(chosen(a, &env, f->pool));
    assert_null(chosen(w, &env, f->pool));
    env.allowed = strs(f->pool, MD_CHALL_DNSPERSIST01, NULL);
    assert_string_equal(chosen(a, &env, f->pool), MD_CHALL_DNSPERSIST01);
    /* it proves a whole zone: wildcards take it, with no dns-01 command anywhere */
    assert_string_equal(chosen(w, &env, f->pool), MD_CHALL_DNSPERSIST01);
    /* in the order MDCAChallenges gives */
    env.http01_possible = 1;
    env.dns01_cmd = "/bin/true";
    env.allowed = strs(f->pool, MD_CHALL_HTTP01, MD_CHALL_DNSPERSIST01);
    assert_string_equal(chosen(a, &env, f->pool), MD_CHALL_HTTP01);
    assert_string_equal(chosen(w, &env, f->pool), MD_CHALL_DNSPERSIST01);
    env.allowed = strs(f->pool, MD_CHALL_DNS01, MD_CHALL_DNSPERSIST01);
    assert_string_equal(chosen(w, &env, f->pool), MD_CHALL_DNS01);
    /* an IP address never, even when the CA would offer it */
    env.allowed = strs(f->pool, MD_CHALL_DNSPERSIST01, NULL);
    assert_null(chosen(ip, &env, f->pool));
    env.allowed = strs(f->pool, MD_CHALL_DNSPERSIST01, MD_CHALL_HTTP01);
    assert_string_equal(chosen(ip, &env, f->pool), MD_CHALL_HTTP01);
    /* a wildcard without either DNS type says what would do */
    env.allowed = NULL;
    env.dns01_cmd = NULL;
    unit_log_clear();
    assert_null(chosen(w, &env, f->pool));
    assert_non_null(strstr(unit_log_text(), "dns-persist-01"));
}

static void test_dns_persist_sets_up_nothing(void **state)
{
    fixture_t *f = *state;
    md_acme_authz_t *a = authz_make(f->pool, "*.example.org", MD_CHALL_DNSPERSIST01, NULL);
    md_acme_chall_t *c = APR_ARRAY_IDX(a->challenges, 0, md_acme_chall_t *);
    md_chall_env_t env = {NULL, 1, 1, "/bin/false", NULL, 0};

    c->token = NULL; /* the CA sends none */
    assert_int_equal(md_chall_setup(f->store, f->acme, a, c, &env, f->pool), APR_SUCCESS);
    assert_false(md_store_exists(f->store, MD_SG_CHALLENGES, "example.org", NULL, f->pool));
    assert_int_equal(md_chall_teardown(f->store, f->acme, a, c, &env, f->pool), APR_SUCCESS);
}

/* ---- tls-alpn-01 ---- */

static void test_tlsalpn01_cert(void **state)
{
    fixture_t *f = *state;
    const char *keyauthz = TOKEN ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
    apr_time_t now = apr_time_now();
    md_cert_t *cert;
    md_pkey_t *key;

    assert_int_equal(md_pkey_gen(&key, &unit_spec_p256, f->pool), APR_SUCCESS);
    assert_int_equal(md_chall_tlsalpn01_cert(&cert, "www.example.org", keyauthz, key, f->pool),
                     APR_SUCCESS);
    assert_true(md_cert_names_equal(cert, strs(f->pool, "www.example.org", NULL), f->pool));
    assert_int_equal(md_cert_names(cert, f->pool)->nelts, 1);
    assert_acme_identifier(cert, keyauthz);
    assert_true(md_cert_matches_key(cert, key));
    assert_true(md_cert_is_self_signed(cert));
    assert_true(md_cert_not_before(cert) <= now && now < md_cert_not_after(cert));
}

static void test_tlsalpn01_setup_teardown(void **state)
{
    fixture_t *f = *state;
    md_acme_authz_t *a = authz_make(f->pool, "example.org", MD_CHALL_TLSALPN01, NULL);
    const md_acme_chall_t *c = APR_ARRAY_IDX(a->challenges, 0, md_acme_chall_t *);
    md_chall_env_t env = {NULL, 0, 1, NULL, NULL, 0};
    const char *keyauthz, *perr;
    apr_array_header_t *chain;
    md_pkey_t *key;
    md_cert_t *cert;

    assert_int_equal(md_acme_key_authz(&keyauthz, f->acme, TOKEN, f->pool), APR_SUCCESS);
    assert_int_equal(md_chall_setup(f->store, f->acme, a, c, &env, f->pool), APR_SUCCESS);
    assert_int_equal(md_store_load_chain(&chain, &perr, f->store, MD_SG_CHALLENGES, "example.org",
                                         MD_FN_TLSALPN01_CERT, f->pool),
                     APR_SUCCESS);
    /* the key is stored in plain text: the workers have no store secret */
    assert_int_equal(md_store_load_pkey(&key, &perr, f->store, MD_SG_CHALLENGES, "example.org",
                                        MD_FN_TLSALPN01_KEY, f->pool),
                     APR_SUCCESS);
    assert_non_null(strstr(slurp(md_store_path(f->store, MD_SG_CHALLENGES, "example.org",
                                               MD_FN_TLSALPN01_KEY, f->pool),
                                 f->pool),
                           "BEGIN PRIVATE KEY"));
    assert_int_equal(chain->nelts, 1);
    cert = APR_ARRAY_IDX(chain, 0, md_cert_t *);
    assert_true(md_cert_matches_key(cert, key));
    assert_true(md_cert_names_equal(cert, strs(f->pool, "example.org", NULL), f->pool));
    assert_acme_identifier(cert, keyauthz);

    assert_int_equal(md_chall_teardown(f->store, f->acme, a, c, &env, f->pool), APR_SUCCESS);
    assert_false(
        md_store_exists(f->store, MD_SG_CHALLENGES, "example.org", MD_FN_TLSALPN01_CERT, f->pool));
    assert_false(
        md_store_exists(f->store, MD_SG_CHALLENGES, "example.org", MD_FN_TLSALPN01_KEY, f->pool));
}

/* ---- http-01 ---- */

static void test_http01_setup_answer_teardown(void **state)
{
    fixture_t *f = *state;
    md_acme_authz_t *a = authz_make(f->pool, "example.org", MD_CHALL_HTTP01, NULL);
    const md_acme_chall_t *c = APR_ARRAY_IDX(a->challenges, 0, md_acme_chall_t *);
    md_chall_env_t env = {NULL, 1, 0, NULL, NULL, 0};
    const char *keyauthz, *answer, *path;
    struct stat st;

    assert_int_equal(md_acme_key_authz(&keyauthz, f->acme, TOKEN, f->pool), APR_SUCCESS);
    assert_int_equal(md_chall_setup(f->store, f->acme, a, c, &env, f->pool), APR_SUCCESS);
    path = md_store_path(f->store, MD_SG_CHALLENGES, "example.org", MD_FN_HTTP01, f->pool);
    assert_string_equal(slurp(path, f->pool), keyauthz);
    /* the web server's workers read it */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & MODE_PERMS_MASK, MODE_PUBLIC_FILE);

    assert_int_equal(md_chall_http01_answer(&answer, f->store, "example.org", TOKEN, f->pool),
                     APR_SUCCESS);
    assert_string_equal(answer, keyauthz);
    /* a Host header in upper case is the same domain */
    assert_int_equal(md_chall_http01_answer(&answer, f->store, "Example.ORG", TOKEN, f->pool),
                     APR_SUCCESS);
    assert_int_equal(
        md_chall_http01_answer(&answer, f->store, "example.org", "other-token", f->pool),
        APR_ENOENT);
    assert_null(answer);
    /* a prefix of the token is not the token */
    assert_int_equal(md_chall_http01_answer(&answer, f->store, "example.org", "evaGxf", f->pool),
                     APR_ENOENT);
    assert_int_equal(md_chall_http01_answer(&answer, f->store, "www.example.org", TOKEN, f->pool),
                     APR_ENOENT);
    assert_int_equal(md_chall_http01_answer(&answer, f->store, "example.org", "../etc", f->pool),
                     APR_EINVAL);
    assert_int_equal(md_chall_http01_answer(&answer, f->store, "example.org", "", f->pool),
                     APR_EINVAL);
    assert_int_equal(md_chall_http01_answer(&answer, f->store, "../store", TOKEN, f->pool),
                     APR_EINVAL);
    assert_int_equal(md_chall_http01_answer(&answer, f->store, "*.example.org", TOKEN, f->pool),
                     APR_EINVAL);

    assert_int_equal(md_chall_teardown(f->store, f->acme, a, c, &env, f->pool), APR_SUCCESS);
    assert_int_equal(md_chall_http01_answer(&answer, f->store, "example.org", TOKEN, f->pool),
                     APR_ENOENT);
    /* nothing there yet: also just "no answer" */
    assert_int_equal(md_chall_http01_answer(&answer, f->store, "new.example.org", TOKEN, f->pool),
                     APR_ENOENT);
}

static void test_setup_refuses_bad_token(void **state)
{
    fixture_t *f = *state;
    md_acme_authz_t *a = authz_make(f->pool, "example.org", MD_CHALL_HTTP01, NULL);
    md_acme_chall_t *c = APR_ARRAY_IDX(a->challenges, 0, md_acme_chall_t *);
    md_chall_env_t env = {NULL, 1, 0, NULL, NULL, 0};

    c->token = "../../md_store.json";
    assert_int_equal(md_chall_setup(f->store, f->acme, a, c, &env, f->pool), APR_EINVAL);
    assert_false(md_store_exists(f->store, MD_SG_CHALLENGES, "example.org", NULL, f->pool));
}

/* ---- dns-01 ---- */

/* A dns-01 challenge of an authorization for domain, answered by the script base/name. */
typedef struct {
    fixture_t *f;
    md_acme_authz_t *authz;
    md_chall_env_t env;
} dns01_case_t;

static dns01_case_t dns01_case(fixture_t *f, const char *domain, const char *name, const char *body)
{
    dns01_case_t dc = {
        f, authz_make(f->pool, domain, MD_CHALL_DNS01, NULL), {NULL, 0, 0, NULL, NULL, 0}};

    dc.env.dns01_cmd = script(f, name, body);
    return dc;
}

static apr_status_t dns01_setup(dns01_case_t *dc)
{
    return md_chall_setup(dc->f->store, dc->f->acme, dc->authz,
                          APR_ARRAY_IDX(dc->authz->challenges, 0, const md_acme_chall_t *),
                          &dc->env, dc->f->pool);
}

static apr_status_t dns01_teardown(dns01_case_t *dc)
{
    return md_chall_teardown(dc->f->store, dc->f->acme, dc->authz,
                             APR_ARRAY_IDX(dc->authz->challenges, 0, const md_acme_chall_t *),
                             &dc->env, dc->f->pool);
}

static void test_dns01_setup_teardown(void **state)
{
    fixture_t *f = *state;
    const char *record = apr_pstrcat(f->pool, f->base, "/args.txt", NULL);
    dns01_case_t dc = dns01_case(f, "*.example.org", "dns.sh",
                                 apr_pstrcat(f->pool, "echo \"$#:$*\" >> '", record,
                                             "'\necho some chatter; echo more >&2", NULL));
    const char *keyauthz, *expected;

    assert_int_equal(md_acme_key_authz(&keyauthz, f->acme, TOKEN, f->pool), APR_SUCCESS);
    assert_int_equal(dns01_setup(&dc), APR_SUCCESS);
    /* the base name of the wildcard, and base64url(SHA-256(key authorization)) */
    expected =
        apr_pstrcat(f->pool, "3:setup example.org ", expected_txt(keyauthz, f->pool), "\n", NULL);
    assert_string_equal(slurp(record, f->pool), expected);

    assert_int_equal(dns01_teardown(&dc), APR_SUCCESS);
    expected = apr_pstrcat(f->pool, expected, "2:teardown example.org\n", NULL);
    assert_string_equal(slurp(record, f->pool), expected);
    /* MDChallengeDns01Version 2: teardown is told the value too (to remove just that record) */
    dc.env.dns01_version = 2;
    assert_int_equal(dns01_teardown(&dc), APR_SUCCESS);
    expected = apr_pstrcat(f->pool, expected, "3:teardown example.org ",
                           expected_txt(keyauthz, f->pool), "\n", NULL);
    assert_string_equal(slurp(record, f->pool), expected);
    assert_string_equal(unit_log_text(), "");
}

static void test_dns01_failing_command(void **state)
{
    fixture_t *f = *state;
    dns01_case_t dc =
        dns01_case(f, "example.org", "fail.sh", "echo 'no API key for example.org' >&2; exit 3");

    assert_int_not_equal(dns01_setup(&dc), APR_SUCCESS);
    assert_non_null(strstr(unit_log_text(), dc.env.dns01_cmd));
    assert_non_null(strstr(unit_log_text(), "exited with 3"));
    assert_non_null(strstr(unit_log_text(), "no API key for example.org"));
    assert_non_null(strstr(unit_log_text(), "setup example.org"));

    unit_log_clear();
    assert_int_not_equal(dns01_teardown(&dc), APR_SUCCESS);
    assert_non_null(strstr(unit_log_text(), "teardown example.org"));

    unit_log_clear();
    dc.env.dns01_cmd = apr_pstrcat(f->pool, f->base, "/no-such-command", NULL);
    assert_int_not_equal(dns01_setup(&dc), APR_SUCCESS);
    assert_non_null(strstr(unit_log_text(), dc.env.dns01_cmd));
}

/* The pid a script wrote into path, waiting up to EVENT_TIMEOUT for it; 0 when none came. */
static pid_t pid_from(const char *path, apr_pool_t *p)
{
    apr_time_t until = apr_time_now() + EVENT_TIMEOUT;
    const char *text;
    long pid = 0;

    while (pid <= 0 && apr_time_now() < until) {
        if ((text = slurp(path, p)) != NULL) {
            pid = strtol(text, NULL, 10);
        }
        if (pid <= 0) {
            apr_sleep(POLL_STEP);
        }
    }
    return (pid_t) pid;
}

/* pid has ended: there is no such process, or a zombie that its new parent (not us) has not
 * reaped yet. */
static int ended(pid_t pid)
{
    char path[64], buf[512];
    const char *state;
    size_t n;
    FILE *fp;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long) pid);
    if (!(fp = fopen(path, "r"))) {
        return 1;
    }
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    state = strrchr(buf, ')'); /* "pid (comm) state ...", comm may hold anything */
    return !state || state[1] == '\0' || state[2] == 'Z' || state[2] == 'X';
}

/* Waits up to EVENT_TIMEOUT for pid to end (a SIGKILL takes effect when it is next scheduled). */
static int ends_soon(pid_t pid)
{
    apr_time_t until = apr_time_now() + EVENT_TIMEOUT;

    while (!ended(pid) && apr_time_now() < until) {
        apr_sleep(POLL_STEP);
    }
    return ended(pid);
}

/* Cancels the drive as the server's stop does (mod_md_drive.c cancel_drives), from another
 * thread, once the command is running: it has written its pid. */
typedef struct {
    const char *pid_file;
    volatile apr_uint32_t cancel;
    apr_time_t cancelled_at;
    apr_pool_t *p;
} canceller_t;

static void *APR_THREAD_FUNC cancel_when_started(apr_thread_t *thread, void *baton)
{
    canceller_t *c = baton;

    pid_from(c->pid_file, c->p);
    c->cancelled_at = apr_time_now();
    apr_atomic_set32(&c->cancel, 1);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void test_dns01_cancel_kills_command(void **state)
{
    fixture_t *f = *state;
    const char *child_file = apr_pstrcat(f->pool, f->base, "/child.pid", NULL);
    canceller_t canceller = {apr_pstrcat(f->pool, f->base, "/cmd.pid", NULL), 0, 0, f->pool};
    /* as hooks often are: a script that waits for what it started */
    dns01_case_t dc = dns01_case(f, "example.org", "hang.sh",
                                 apr_psprintf(f->pool,
                                              "sleep %d &\necho $! > '%s'\necho $$ > '%s'\n"
                                              "echo waiting\nwait",
                                              HANG_SECONDS, child_file, canceller.pid_file));
    apr_thread_t *thread;
    apr_status_t rv, trv;
    apr_time_t started;
    pid_t pid, child;

    dc.env.cancel = &canceller.cancel;
    assert_int_equal(apr_thread_create(&thread, NULL, cancel_when_started, &canceller, f->pool),
                     APR_SUCCESS);
    started = apr_time_now();
    rv = dns01_setup(&dc);
    apr_thread_join(&trv, thread);

    assert_int_equal(rv, APR_EINTR);
    assert_true(canceller.cancelled_at > 0);
    assert_true(apr_time_now() - started < CANCELLED_WITHIN);
    /* killed and reaped: not even a zombie is left */
    pid = pid_from(canceller.pid_file, f->pool);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
    /* and what it started is killed with it */
    child = pid_from(child_file, f->pool);
    assert_true(child > 0);
    assert_true(ends_soon(child));
    assert_string_equal(unit_log_text(), ""); /* a stop is no error */
}

static void test_dns01_not_run_once_cancelled(void **state)
{
    fixture_t *f = *state;
    const char *record = apr_pstrcat(f->pool, f->base, "/args.txt", NULL);
    dns01_case_t dc = dns01_case(f, "example.org", "dns.sh",
                                 apr_pstrcat(f->pool, "echo \"$*\" >> '", record, "'", NULL));
    volatile apr_uint32_t cancel = 1;

    dc.env.cancel = &cancel;
    /* a stopping server waits for no command: neither setup nor the teardown after it */
    assert_int_equal(dns01_setup(&dc), APR_EINTR);
    assert_int_equal(dns01_teardown(&dc), APR_EINTR);
    assert_null(slurp(record, f->pool));
    assert_string_equal(unit_log_text(), "");
}

static void test_dns01_command_has_no_signal_blocked_or_ignored(void **state)
{
    fixture_t *f = *state;
    const char *record = apr_pstrcat(f->pool, f->base, "/signals.txt", NULL);
    /* what the command itself has (exec: a shell blocks signals while it waits for a child) */
    dns01_case_t dc =
        dns01_case(f, "example.org", "signals.sh",
                   apr_pstrcat(f->pool, "exec grep -E '^Sig(Blk|Ign)' /proc/self/status > '",
                               record, "'", NULL));
    unsigned long long blocked = 0, ignored = 0;
    struct sigaction ignore, old_pipe;
    sigset_t term, old_mask;
    const char *text;
    apr_status_t rv;

    /* as in httpd's children: SIGTERM blocked in the driver's thread, SIGPIPE ignored */
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &term, &old_mask), 0);
    assert_int_equal(sigaction(SIGPIPE, &ignore, &old_pipe), 0);
    rv = dns01_setup(&dc);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);

    assert_int_equal(rv, APR_SUCCESS);
    /* a hook's kill and timeout(1) work, and so do pipes into head: nothing blocked, none of
     * the standard signals ignored (glibc's posix_spawn leaves its own two, 32 and 33, so) */
    text = slurp(record, f->pool);
    assert_non_null(text);
    assert_int_equal(sscanf(text, "SigBlk: %llx SigIgn: %llx", &blocked, &ignored), 2);
    assert_int_equal(blocked, 0);
    assert_int_equal(ignored & STANDARD_SIGNALS_MASK, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_choose_default_preference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_choose_allowed_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_choose_only_offered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_choose_wildcard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_choose_nothing_possible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_choose_dns_persist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns_persist_sets_up_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tlsalpn01_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tlsalpn01_setup_teardown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http01_setup_answer_teardown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setup_refuses_bad_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns01_setup_teardown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns01_failing_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns01_cancel_kills_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns01_not_run_once_cancelled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns01_command_has_no_signal_blocked_or_ignored, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

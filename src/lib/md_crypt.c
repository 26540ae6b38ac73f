/* md_crypt.c: private keys (RSA, EC) and their specs, PEM (PKCS#8, optionally encrypted),
 * random bytes and SHA-256 -- OpenSSL 3 EVP/OSSL_PARAM only, no deprecated key APIs. */
#include <limits.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_cstr.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/rand.h>

#include "md_crypt.h"
#include "md_crypt_int.h"
#include "md_json.h"
#include "md_log.h"
#include "md_util.h"

/* Key files hold secrets: owner read/write only. */
#define MD_PKEY_FILE_PERMS (APR_FPROT_UREAD | APR_FPROT_UWRITE)
/* Most reasons we collect from OpenSSL's error queue for one message. */
#define MD_CRYPT_MAX_ERRORS 4
/* Longest EC group name OpenSSL reports ("brainpoolP512t1" and the like fit easily). */
#define MD_CURVE_NAME_MAX 64
/* Longest number we read as an RSA size; more digits is out of range anyway. */
#define MD_BITS_MAX_DIGITS 5

struct md_pkey_t {
    EVP_PKEY *evp;
};

/* Names an operator may use for a curve, the canonical one we store, OpenSSL's NID. */
typedef struct {
    const char *alias;
    const char *canonical;
    int nid;
} md_curve_alias_t;

static const md_curve_alias_t md_curve_aliases[] = {
    {"secp256r1", "secp256r1", NID_X9_62_prime256v1},
    {"P-256", "secp256r1", NID_X9_62_prime256v1},
    {"prime256v1", "secp256r1", NID_X9_62_prime256v1},
    {"secp384r1", "secp384r1", NID_secp384r1},
    {"P-384", "secp384r1", NID_secp384r1},
    {"secp521r1", "secp521r1", NID_secp521r1},
    {"P-521", "secp521r1", NID_secp521r1},
};

#define MD_ACCEPTED_SPECS                                                                          \
    "RSA, RSA <bits>, rsa<bits> (bits 2048..8192), secp256r1 (P-256, prime256v1), "                \
    "secp384r1 (P-384), secp521r1 (P-521)"

static const md_pkey_spec_t md_spec_default = {MD_PKEY_RSA, MD_PKEY_RSA_DEFAULT_BITS, NULL};

const char *md_crypt_last_error(apr_pool_t *p)
{
    const char *text = NULL;
    char buf[256];
    unsigned long e;
    int n = 0;

    while ((e = ERR_get_error()) != 0) {
        if (n++ < MD_CRYPT_MAX_ERRORS) {
            ERR_error_string_n(e, buf, sizeof(buf));
            text = text ? apr_pstrcat(p, text, "; ", buf, NULL) : apr_pstrdup(p, buf);
        }
    }
    return text ? text : "none";
}

/* ---- specs ---- */

const md_pkey_spec_t *md_pkey_spec_default(void)
{
    return &md_spec_default;
}

static const md_curve_alias_t *curve_lookup(const char *name)
{
    apr_size_t i;

    for (i = 0; i < sizeof(md_curve_aliases) / sizeof(md_curve_aliases[0]); ++i) {
        if (!apr_cstr_casecmp(name, md_curve_aliases[i].alias)) {
            return &md_curve_aliases[i];
        }
    }
    return NULL;
}

/* A word of digits only (at most a few), as an RSA size. */
static int bits_parse(unsigned int *pbits, const char *s)
{
    apr_size_t i, n = strlen(s);
    unsigned int bits = 0;

    if (n == 0 || n > MD_BITS_MAX_DIGITS) {
        return 0;
    }
    for (i = 0; i < n; ++i) {
        if (!apr_isdigit(s[i])) {
            return 0;
        }
        bits = bits * 10 + (unsigned int) (s[i] - '0');
    }
    *pbits = bits;
    return 1;
}

static md_pkey_spec_t *spec_rsa(unsigned int bits, apr_pool_t *p)
{
    md_pkey_spec_t *spec = apr_pcalloc(p, sizeof(*spec));

    spec->type = MD_PKEY_RSA;
    spec->bits = bits;
    return spec;
}

static md_pkey_spec_t *spec_ec(const char *curve, apr_pool_t *p)
{
    md_pkey_spec_t *spec = apr_pcalloc(p, sizeof(*spec));

    spec->type = MD_PKEY_EC;
    spec->curve = curve;
    return spec;
}

static int rsa_bits_ok(unsigned int bits)
{
    return bits >= MD_PKEY_RSA_MIN_BITS && bits <= MD_PKEY_RSA_MAX_BITS;
}

/* One spec from argv[*pi] (and the size word after "RSA"); advances *pi past what it used. */
static apr_status_t spec_parse_one(md_pkey_spec_t **pspec, const char **perr, int *pi, int argc,
                                   const char *const *argv, apr_pool_t *p)
{
    const char *word = argv[*pi];
    const md_curve_alias_t *curve;
    unsigned int bits = MD_PKEY_RSA_DEFAULT_BITS;

    *pi += 1;
    if (!apr_cstr_casecmp(word, "rsa")) {
        if (*pi < argc && bits_parse(&bits, argv[*pi])) {
            *pi += 1;
        }
    } else if (!apr_cstr_casecmpn(word, "rsa", 3) && bits_parse(&bits, word + 3)) {
        /* "rsa3072" */
    } else if ((curve = curve_lookup(word)) != NULL) {
        *pspec = spec_ec(curve->canonical, p);
        return APR_SUCCESS;
    } else {
        *perr = apr_psprintf(p, "unknown key spec '%s'; accepted are: %s", word, MD_ACCEPTED_SPECS);
        return APR_EINVAL;
    }
    if (!rsa_bits_ok(bits)) {
        *perr = apr_psprintf(p, "RSA key size %u in '%s' is out of range: must be %d..%d", bits,
                             word, MD_PKEY_RSA_MIN_BITS, MD_PKEY_RSA_MAX_BITS);
        return APR_EINVAL;
    }
    *pspec = spec_rsa(bits, p);
    return APR_SUCCESS;
}

apr_status_t md_pkey_specs_parse(apr_array_header_t **pspecs, const char **perr, int argc,
                                 const char *const *argv, apr_pool_t *p)
{
    apr_array_header_t *specs = apr_array_make(p, argc > 0 ? argc : 1, sizeof(md_pkey_spec_t *));
    md_pkey_spec_t *spec;
    apr_status_t rv;
    int i = 0, j;

    *perr = NULL;
    while (i < argc) {
        if ((rv = spec_parse_one(&spec, perr, &i, argc, argv, p)) != APR_SUCCESS) {
            return rv;
        }
        for (j = 0; j < specs->nelts; ++j) {
            const md_pkey_spec_t *other = APR_ARRAY_IDX(specs, j, const md_pkey_spec_t *);

            if (md_pkey_spec_eq(spec, other)) {
                *perr = apr_psprintf(p, "key spec '%s' is given twice", md_pkey_spec_name(spec, p));
                return APR_EINVAL;
            }
            /* Certificates are kept per key type (and curve), so one RSA size only. */
            if (spec->type == MD_PKEY_RSA && other->type == MD_PKEY_RSA) {
                *perr = apr_psprintf(p,
                                     "key specs '%s' and '%s' are both RSA: one certificate per "
                                     "key type, so give only one RSA size",
                                     md_pkey_spec_name(other, p), md_pkey_spec_name(spec, p));
                return APR_EINVAL;
            }
        }
        APR_ARRAY_PUSH(specs, md_pkey_spec_t *) = spec;
    }
    *pspecs = specs;
    return APR_SUCCESS;
}

const char *md_pkey_spec_name(const md_pkey_spec_t *spec, apr_pool_t *p)
{
    if (spec->type == MD_PKEY_RSA) {
        return apr_psprintf(p, "rsa%u", spec->bits);
    }
    return spec->curve;
}

const char *md_pkey_spec_file_suffix(const md_pkey_spec_t *spec, apr_pool_t *p)
{
    if (spec->type == MD_PKEY_RSA) {
        return "";
    }
    return apr_pstrcat(p, ".", spec->curve, NULL);
}

int md_pkey_spec_eq(const md_pkey_spec_t *a, const md_pkey_spec_t *b)
{
    if (a->type != b->type) {
        return 0;
    }
    if (a->type == MD_PKEY_RSA) {
        return a->bits == b->bits;
    }
    return a->curve && b->curve && !apr_cstr_casecmp(a->curve, b->curve);
}

md_json_t *md_pkey_spec_to_json(const md_pkey_spec_t *spec, apr_pool_t *p)
{
    md_json_t *j = md_json_new_obj(p);

    if (spec->type == MD_PKEY_RSA) {
        md_json_set_str(j, "type", "RSA");
        md_json_set_int(j, "bits", (long long) spec->bits);
    } else {
        md_json_set_str(j, "type", "EC");
        md_json_set_str(j, "curve", spec->curve);
    }
    return j;
}

apr_status_t md_pkey_spec_from_json(md_pkey_spec_t **pspec, const md_json_t *j, apr_pool_t *p)
{
    const char *type = md_json_get_str(j, "type");
    const md_curve_alias_t *curve;
    const char *name;
    long long bits;

    if (type && !apr_cstr_casecmp(type, "Default")) {
        *pspec = spec_rsa(MD_PKEY_RSA_DEFAULT_BITS, p);
        return APR_SUCCESS;
    }
    if (type && !apr_cstr_casecmp(type, "RSA")) {
        bits = md_json_get_int(j, "bits", MD_PKEY_RSA_DEFAULT_BITS);
        if (bits < MD_PKEY_RSA_MIN_BITS || bits > MD_PKEY_RSA_MAX_BITS) {
            md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_EINVAL,
                          "key spec: RSA size %" APR_INT64_T_FMT " out of range %d..%d",
                          (apr_int64_t) bits, MD_PKEY_RSA_MIN_BITS, MD_PKEY_RSA_MAX_BITS);
            return APR_EINVAL;
        }
        *pspec = spec_rsa((unsigned int) bits, p);
        return APR_SUCCESS;
    }
    if (type && !apr_cstr_casecmp(type, "EC")) {
        name = md_json_get_str(j, "curve");
        if (!name || (curve = curve_lookup(name)) == NULL) {
            md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_EINVAL,
                          "key spec: EC curve '%s' is not supported", name ? name : "(missing)");
            return APR_EINVAL;
        }
        *pspec = spec_ec(curve->canonical, p);
        return APR_SUCCESS;
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_EINVAL, "key spec: unknown type '%s'",
                  type ? type : "(missing)");
    return APR_EINVAL;
}

/* ---- keys ---- */

static apr_status_t pkey_cleanup(void *data)
{
    md_pkey_t *key = data;

    EVP_PKEY_free(key->evp);
    key->evp = NULL;
    return APR_SUCCESS;
}

md_pkey_t *md_pkey_wrap(EVP_PKEY *evp, apr_pool_t *p)
{
    md_pkey_t *key = apr_pcalloc(p, sizeof(*key));

    key->evp = evp;
    apr_pool_cleanup_register(p, key, pkey_cleanup, apr_pool_cleanup_null);
    return key;
}

EVP_PKEY *md_pkey_evp(const md_pkey_t *key)
{
    return key->evp;
}

/* An EC key on curve (OpenSSL's default generator). */
static int ec_gen(EVP_PKEY **pevp, const md_curve_alias_t *curve)
{
    OSSL_PARAM params[2];
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    int ok;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *) OBJ_nid2sn(curve->nid), 0);
    params[1] = OSSL_PARAM_construct_end();
    ok = ctx && EVP_PKEY_keygen_init(ctx) > 0 && EVP_PKEY_CTX_set_params(ctx, params) > 0 &&
         EVP_PKEY_generate(ctx, pevp) > 0;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

apr_status_t md_pkey_gen(md_pkey_t **pkey, const md_pkey_spec_t *spec, apr_pool_t *p)
{
    const md_curve_alias_t *curve = NULL;
    EVP_PKEY *evp = NULL;
    int ok;

    if (spec->type == MD_PKEY_RSA) {
        if (!rsa_bits_ok(spec->bits)) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "RSA key size %u out of range",
                          spec->bits);
            return APR_EINVAL;
        }
        ok = md_crypt_rsa_gen(&evp, spec->bits);
    } else {
        if (!spec->curve || (curve = curve_lookup(spec->curve)) == NULL) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "EC curve '%s' not supported",
                          spec->curve ? spec->curve : "(none)");
            return APR_EINVAL;
        }
        ok = ec_gen(&evp, curve);
    }
    if (!ok) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL, "generating a %s key failed: %s",
                      md_pkey_spec_name(spec, p), md_crypt_last_error(p));
        return APR_EGENERAL;
    }
    *pkey = md_pkey_wrap(evp, p);
    return APR_SUCCESS;
}

apr_status_t md_pkey_get_spec(md_pkey_spec_t **pspec, const md_pkey_t *key, apr_pool_t *p)
{
    const md_curve_alias_t *curve;
    char group[MD_CURVE_NAME_MAX];
    size_t glen = 0;

    if (EVP_PKEY_is_a(key->evp, "RSA")) {
        *pspec = spec_rsa((unsigned int) EVP_PKEY_get_bits(key->evp), p);
        return APR_SUCCESS;
    }
    if (EVP_PKEY_is_a(key->evp, "EC")) {
        if (!EVP_PKEY_get_utf8_string_param(key->evp, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                            sizeof(group), &glen)) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "EC key without a named curve: %s",
                          md_crypt_last_error(p));
            return APR_EINVAL;
        }
        curve = curve_lookup(group);
        *pspec = spec_ec(curve ? curve->canonical : apr_pstrdup(p, group), p);
        return APR_SUCCESS;
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_ENOTIMPL, "key type %s is not supported",
                  EVP_PKEY_get0_type_name(key->evp));
    return APR_ENOTIMPL;
}

/* ---- PEM ---- */

/* Copies a memory BIO's content into the pool, NUL-terminated. */
static const char *bio_pstrdup(BIO *bio, apr_pool_t *p)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);

    return apr_pstrmemdup(p, data ? data : "", len > 0 ? (apr_size_t) len : 0);
}

/* PKCS#8 encrypted under a random secret rather than a password: PBKDF2 stretching exists to
 * slow down guessing a password, and a secret of 256 bits or more cannot be guessed, so one
 * iteration derives the key (HMAC-SHA256, random salt). Each store read and write saves the
 * 2048 iterations OpenSSL would run by default. Readers take the count from the file. */
static int pkcs8_write_with_secret(BIO *bio, EVP_PKEY *evp, const EVP_CIPHER *cipher,
                                   const char *secret, int secret_len)
{
    PKCS8_PRIV_KEY_INFO *info = EVP_PKEY2PKCS8(evp);
    X509_ALGOR *pbe = NULL;
    X509_SIG *p8 = NULL;
    int ok = 0;

    if (info && (pbe = PKCS5_pbe2_set_iv(cipher, 1, NULL, 0, NULL, NID_hmacWithSHA256)) != NULL) {
        if ((p8 = PKCS8_set0_pbe(secret, secret_len, info, pbe)) == NULL) {
            X509_ALGOR_free(pbe); /* not taken over on failure */
        } else {
            ok = PEM_write_bio_PKCS8(bio, p8);
        }
    }
    X509_SIG_free(p8);
    PKCS8_PRIV_KEY_INFO_free(info);
    return ok;
}

apr_status_t md_pkey_to_pem(const char **ppem, const md_pkey_t *key, const char *pass,
                            apr_size_t passlen, apr_pool_t *p)
{
    const EVP_CIPHER *cipher = NULL;
    BIO *bio;
    int ok;

    if (passlen > INT_MAX) {
        return APR_EINVAL;
    }
    if (pass && passlen > 0) {
        cipher = EVP_aes_256_cbc();
    } else {
        pass = NULL;
        passlen = 0;
    }
    if ((bio = BIO_new(BIO_s_mem())) == NULL) {
        return APR_ENOMEM;
    }
    /* The passphrase goes with its length: it is binary and may hold NUL bytes. */
    if (cipher && passlen >= MD_PKEY_SECRET_MIN) {
        ok = pkcs8_write_with_secret(bio, key->evp, cipher, pass, (int) passlen);
    } else {
        ok = PEM_write_bio_PKCS8PrivateKey(bio, key->evp, cipher, pass, (int) passlen, NULL, NULL);
    }
    if (ok) {
        *ppem = bio_pstrdup(bio, p);
    } else {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL, "writing key as PEM failed: %s",
                      md_crypt_last_error(p));
    }
    BIO_free(bio);
    return ok ? APR_SUCCESS : APR_EGENERAL;
}

typedef struct {
    const char *pass;
    apr_size_t passlen;
    int asked; /* OpenSSL wanted a passphrase: the key is encrypted */
} pass_baton_t;

static int pass_cb(char *buf, int size, int rwflag, void *u)
{
    pass_baton_t *baton = u;

    baton->asked = 1;
    if (!baton->pass || baton->passlen == 0 || size < 0 || baton->passlen > (apr_size_t) size) {
        return -1;
    }
    memcpy(buf, baton->pass, baton->passlen);
    return (int) baton->passlen;
}

apr_status_t md_pkey_from_pem(md_pkey_t **pkey, const char *pem, apr_size_t len, const char *pass,
                              apr_size_t passlen, apr_pool_t *p)
{
    pass_baton_t baton = {pass, passlen, 0};
    EVP_PKEY *evp;
    apr_status_t rv;
    BIO *bio;

    if (len > INT_MAX) {
        return APR_EINVAL;
    }
    if ((bio = BIO_new_mem_buf(pem, (int) len)) == NULL) {
        return APR_ENOMEM;
    }
    evp = PEM_read_bio_PrivateKey(bio, NULL, pass_cb, &baton);
    BIO_free(bio);
    if (evp) {
        ERR_clear_error();
        *pkey = md_pkey_wrap(evp, p);
        return APR_SUCCESS;
    }
    rv = baton.asked ? APR_EACCES : APR_EINVAL;
    md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, rv, "reading key from PEM: %s: %s",
                  baton.asked ? "encrypted, passphrase missing or wrong" : "no key found",
                  md_crypt_last_error(p));
    return rv;
}

apr_status_t md_pkey_save(const md_pkey_t *key, const char *path, const char *pass,
                          apr_size_t passlen, apr_pool_t *p)
{
    const char *pem;
    apr_status_t rv;

    if ((rv = md_pkey_to_pem(&pem, key, pass, passlen, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = md_file_write_atomic(path, pem, strlen(pem), MD_PKEY_FILE_PERMS, p);
    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "saving key to %s", path);
    }
    return rv;
}

apr_status_t md_pkey_load(md_pkey_t **pkey, const char *path, const char *pass, apr_size_t passlen,
                          apr_pool_t *p)
{
    apr_size_t len;
    apr_status_t rv;
    char *data;

    if ((rv = md_file_read(&data, &len, path, 0, p)) != APR_SUCCESS) {
        if (!APR_STATUS_IS_ENOENT(rv)) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "reading key file %s", path);
        }
        return rv;
    }
    rv = md_pkey_from_pem(pkey, data, len, pass, passlen, p);
    if (rv == APR_EACCES) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv,
                      "key file %s is encrypted and the passphrase is missing or wrong", path);
    } else if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "key file %s holds no private key", path);
    }
    return rv;
}

apr_status_t md_pkey_pub_pem(const char **ppem, const md_pkey_t *key, apr_pool_t *p)
{
    BIO *bio;
    int ok;

    if ((bio = BIO_new(BIO_s_mem())) == NULL) {
        return APR_ENOMEM;
    }
    ok = PEM_write_bio_PUBKEY(bio, key->evp);
    if (ok) {
        *ppem = bio_pstrdup(bio, p);
    } else {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL, "writing public key failed: %s",
                      md_crypt_last_error(p));
    }
    BIO_free(bio);
    return ok ? APR_SUCCESS : APR_EGENERAL;
}

/* ---- random, digest ---- */

apr_status_t md_crypt_random(unsigned char *buf, apr_size_t len)
{
    while (len > 0) {
        int chunk = len > INT_MAX ? INT_MAX : (int) len;

        if (RAND_bytes(buf, chunk) != 1) {
            ERR_clear_error();
            return APR_EGENERAL;
        }
        buf += chunk;
        len -= (apr_size_t) chunk;
    }
    return APR_SUCCESS;
}

apr_status_t md_crypt_sha256(unsigned char out[32], const void *data, apr_size_t len)
{
    unsigned int outlen = 0;

    if (!EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL)) {
        ERR_clear_error();
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

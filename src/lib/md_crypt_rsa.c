/* md_crypt_rsa.c: RSA key generation from two random probable primes (FIPS 186-4 B.3.3), as
 * BoringSSL and Go do; about a third of the CPU of OpenSSL 3's default (B.3.6, auxiliary primes).
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "md_crypt.h"
#include "md_crypt_int.h"

/* The public exponent every CA accepts (Let's Encrypt's Boulder takes no other). */
#define MD_RSA_E 65537
/* FIPS 186-4 B.3.3 step 5.4: |p - q| must exceed 2^(nlen/2 - 100). */
#define MD_RSA_PQ_DISTANCE_BITS 100
/* Attempts at a prime pair before we give up: any failure past a few means a broken RNG. */
#define MD_RSA_MAX_TRIES 32

typedef struct {
    BN_CTX *ctx;
    BIGNUM *e, *p, *q, *n, *d, *dmp1, *dmq1, *iqmp, *p1, *q1, *lambda, *t;
} rsa_parts_t;

static void parts_free(rsa_parts_t *r)
{
    BIGNUM **secrets[] = {&r->p,    &r->q,  &r->d,  &r->dmp1,   &r->dmq1,
                          &r->iqmp, &r->p1, &r->q1, &r->lambda, &r->t};

    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); ++i) {
        BN_clear_free(*secrets[i]);
    }
    BN_free(r->e);
    BN_free(r->n);
    BN_CTX_free(r->ctx);
}

static int parts_new(rsa_parts_t *r)
{
    BIGNUM **secrets[] = {&r->p,    &r->q,  &r->d,  &r->dmp1,   &r->dmq1,
                          &r->iqmp, &r->p1, &r->q1, &r->lambda, &r->t};
    int ok = (r->ctx = BN_CTX_secure_new()) != NULL && (r->e = BN_new()) != NULL &&
             (r->n = BN_new()) != NULL && BN_set_word(r->e, MD_RSA_E);

    for (size_t i = 0; ok && i < sizeof(secrets) / sizeof(secrets[0]); ++i) {
        ok = (*secrets[i] = BN_secure_new()) != NULL;
        if (ok) {
            BN_set_flags(*secrets[i], BN_FLG_CONSTTIME);
        }
    }
    return ok;
}

/* A random prime of bits bits with its top two bits set (so that p*q has all nlen bits) and
 * p - 1 prime to e; pm1 receives p - 1. OpenSSL's generator sieves and runs Miller-Rabin with
 * at least the rounds FIPS 186-4 table C.3 asks for. */
static int gen_prime(BIGNUM *prime, BIGNUM *pm1, int bits, rsa_parts_t *r)
{
    for (int i = 0; i < MD_RSA_MAX_TRIES; ++i) {
        if (!BN_generate_prime_ex2(prime, bits, 0, NULL, NULL, NULL, r->ctx) ||
            !BN_sub(pm1, prime, BN_value_one()) || !BN_gcd(r->t, pm1, r->e, r->ctx)) {
            return 0;
        }
        if (BN_is_one(r->t)) {
            return 1;
        }
    }
    return 0;
}

/* p and q far enough apart (B.3.3 5.4), d large enough (B.3.1 3(a)), and the CRT values. */
static int derive(rsa_parts_t *r, int nbits, int *retry)
{
    int half = nbits / 2;

    *retry = 1;
    if (!BN_sub(r->t, r->p, r->q)) {
        return 0;
    }
    BN_set_negative(r->t, 0);
    if (BN_num_bits(r->t) <= half - MD_RSA_PQ_DISTANCE_BITS) {
        return 0;
    }
    /* d = e^-1 mod lcm(p-1, q-1) */
    if (!BN_mul(r->n, r->p, r->q, r->ctx) || BN_num_bits(r->n) != nbits ||
        !BN_gcd(r->t, r->p1, r->q1, r->ctx) || !BN_mul(r->lambda, r->p1, r->q1, r->ctx) ||
        !BN_div(r->lambda, NULL, r->lambda, r->t, r->ctx) ||
        !BN_mod_inverse(r->d, r->e, r->lambda, r->ctx) || BN_num_bits(r->d) <= half) {
        return 0;
    }
    *retry = 0;
    return BN_mod(r->dmp1, r->d, r->p1, r->ctx) && BN_mod(r->dmq1, r->d, r->q1, r->ctx) &&
           BN_mod_inverse(r->iqmp, r->q, r->p, r->ctx) != NULL;
}

static EVP_PKEY *to_evp(const rsa_parts_t *r)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *evp = NULL;

    if (bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, r->n) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, r->e) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, r->d) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, r->p) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, r->q) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, r->dmp1) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, r->dmq1) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, r->iqmp) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) != NULL &&
        EVP_PKEY_fromdata_init(ctx) > 0) {
        if (EVP_PKEY_fromdata(ctx, &evp, EVP_PKEY_KEYPAIR, params) <= 0) {
            evp = NULL;
        }
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params); /* OSSL_PARAM_BLD_to_param allocated it in secure memory */
    OSSL_PARAM_BLD_free(bld);
    return evp;
}

/* The pairwise consistency test FIPS 140 asks of a new key: a signature that verifies. */
static int pairwise_ok(EVP_PKEY *evp)
{
    static const unsigned char digest[32] = "mod_md rsa pairwise consistency";
    unsigned char sig[8192 / 8];
    size_t siglen = sizeof(sig);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, evp, NULL);
    int ok = ctx && EVP_PKEY_sign_init(ctx) > 0 &&
             EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0 &&
             EVP_PKEY_sign(ctx, sig, &siglen, digest, sizeof(digest)) > 0 &&
             EVP_PKEY_verify_init(ctx) > 0 &&
             EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0 &&
             EVP_PKEY_verify(ctx, sig, siglen, digest, sizeof(digest)) == 1;

    EVP_PKEY_CTX_free(ctx);
    return ok;
}

int md_crypt_rsa_gen(EVP_PKEY **pevp, unsigned int bits)
{
    rsa_parts_t r = {0};
    int nbits = (int) bits, pbits = (nbits + 1) / 2, retry = 1, ok = 0;
    EVP_PKEY *evp = NULL;

    *pevp = NULL;
    if (bits < MD_PKEY_RSA_MIN_BITS || bits > MD_PKEY_RSA_MAX_BITS || !parts_new(&r)) {
        parts_free(&r);
        return 0;
    }
    for (int i = 0; retry && i < MD_RSA_MAX_TRIES; ++i) {
        if (!gen_prime(r.p, r.p1, pbits, &r) || !gen_prime(r.q, r.q1, nbits - pbits, &r)) {
            break;
        }
        ok = derive(&r, nbits, &retry);
    }
    if (ok && (evp = to_evp(&r)) != NULL && !pairwise_ok(evp)) {
        EVP_PKEY_free(evp);
        evp = NULL;
    }
    parts_free(&r);
    *pevp = evp;
    return evp != NULL;
}

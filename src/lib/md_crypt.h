/* md_crypt.h: private keys (RSA, EC) and key specifications, PEM in and out (PKCS#8,
 * optionally encrypted with a passphrase such as the store secret). OpenSSL 3 EVP only. */
#ifndef MD_CRYPT_H
#define MD_CRYPT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_file_info.h>

struct evp_pkey_st;
struct md_json_t;

typedef enum {
    MD_PKEY_RSA,
    MD_PKEY_EC,
} md_pkey_type_t;

#define MD_PKEY_RSA_DEFAULT_BITS 2048
#define MD_PKEY_RSA_MIN_BITS 2048 /* CAs refuse less (Let's Encrypt: 2048..4096) */
#define MD_PKEY_RSA_MAX_BITS 8192

/* What key to make: RSA with 'bits', or EC on 'curve' ("secp256r1", "secp384r1"). */
typedef struct {
    md_pkey_type_t type;
    unsigned int bits;
    const char *curve; /* canonical name: secp256r1 | secp384r1 (| secp521r1) */
} md_pkey_spec_t;

/* The default spec: RSA 2048. */
const md_pkey_spec_t *md_pkey_spec_default(void);

/* Parses a list as an operator writes it: "RSA", "RSA 3072", "rsa4096", "secp256r1",
 * "P-256", "prime256v1", "secp384r1", "P-384". A number right after RSA is its size.
 * Result: apr array of md_pkey_spec_t*, duplicates refused. APR_EINVAL and a reason in
 * *perr naming the bad word and what is accepted. */
apr_status_t md_pkey_specs_parse(apr_array_header_t **pspecs, const char **perr, int argc,
                                 const char *const *argv, apr_pool_t *p);

/* Short name used in file names and output: "rsa2048", "rsa3072", "secp256r1". */
const char *md_pkey_spec_name(const md_pkey_spec_t *spec, apr_pool_t *p);

/* Suffix for store file names, as the bundled mod_md's stores have them: "" for RSA
 * (privkey.pem), ".<curve>" for EC (privkey.secp256r1.pem). */
const char *md_pkey_spec_file_suffix(const md_pkey_spec_t *spec, apr_pool_t *p);

int md_pkey_spec_eq(const md_pkey_spec_t *a, const md_pkey_spec_t *b);

/* JSON form in md.json: {"type":"RSA","bits":2048} / {"type":"EC","curve":"secp256r1"}. */
struct md_json_t *md_pkey_spec_to_json(const md_pkey_spec_t *spec, apr_pool_t *p);
apr_status_t md_pkey_spec_from_json(md_pkey_spec_t **pspec, const struct md_json_t *j,
                                    apr_pool_t *p);

/* ---- keys ---- */

typedef struct md_pkey_t md_pkey_t; /* freed with its pool */

apr_status_t md_pkey_gen(md_pkey_t **pkey, const md_pkey_spec_t *spec, apr_pool_t *p);

/* Wraps an EVP_PKEY, taking ownership. */
md_pkey_t *md_pkey_wrap(struct evp_pkey_st *evp, apr_pool_t *p);
struct evp_pkey_st *md_pkey_evp(const md_pkey_t *key);

/* The spec that describes an existing key (type, bits or curve). */
apr_status_t md_pkey_get_spec(md_pkey_spec_t **pspec, const md_pkey_t *key, apr_pool_t *p);

/* A passphrase this long is taken to be a random secret (the store's is 48 bytes): its key is
 * derived with one PBKDF2 iteration. Shorter ones get OpenSSL's default count. */
#define MD_PKEY_SECRET_MIN 32

/* PEM, PKCS#8. With a passphrase (pass, passlen > 0) "ENCRYPTED PRIVATE KEY" (AES-256-CBC,
 * PBKDF2), else "PRIVATE KEY". Reading accepts PKCS#8 and traditional RSA/EC PEM. */
apr_status_t md_pkey_to_pem(const char **ppem, const md_pkey_t *key, const char *pass,
                            apr_size_t passlen, apr_pool_t *p);
/* APR_EINVAL when the text holds no key; APR_EACCES when it is encrypted and the passphrase
 * is missing or wrong. */
apr_status_t md_pkey_from_pem(md_pkey_t **pkey, const char *pem, apr_size_t len, const char *pass,
                              apr_size_t passlen, apr_pool_t *p);

/* File variants: save is atomic with the given perms (0600 for keys, always). */
apr_status_t md_pkey_save(const md_pkey_t *key, const char *path, const char *pass,
                          apr_size_t passlen, apr_pool_t *p);
apr_status_t md_pkey_load(md_pkey_t **pkey, const char *path, const char *pass, apr_size_t passlen,
                          apr_pool_t *p);

/* Public key as PEM (SubjectPublicKeyInfo), e.g. to compare keys. */
apr_status_t md_pkey_pub_pem(const char **ppem, const md_pkey_t *key, apr_pool_t *p);

/* Random bytes from OpenSSL's CSPRNG. */
apr_status_t md_crypt_random(unsigned char *buf, apr_size_t len);

/* SHA-256 of data into out[32]. */
apr_status_t md_crypt_sha256(unsigned char out[32], const void *data, apr_size_t len);

/* The reasons in this thread's OpenSSL error queue as one line ("none" when empty); clears
 * the queue, so that a later failure does not report an old reason. */
const char *md_crypt_last_error(apr_pool_t *p);

#endif

/* md_cert.h: X.509 certificates and chains (PEM, leaf first), what an operator asks of
 * them (names, validity, issuer, serial, key match), CSRs and self-signed certificates. */
#ifndef MD_CERT_H
#define MD_CERT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "md_crypt.h"

struct x509_st;

typedef struct md_cert_t md_cert_t; /* freed with its pool */

md_cert_t *md_cert_wrap(struct x509_st *x509, apr_pool_t *p); /* takes ownership */
struct x509_st *md_cert_x509(const md_cert_t *cert);

/* A chain is an apr array of md_cert_t*, leaf first. Parsing: APR_EINVAL when the text
 * holds no certificate or a broken one (the reason says which, counted from 1). */
apr_status_t md_chain_from_pem(apr_array_header_t **pchain, const char **perr, const char *pem,
                               apr_size_t len, apr_pool_t *p);
apr_status_t md_chain_load(apr_array_header_t **pchain, const char **perr, const char *path,
                           apr_pool_t *p);
apr_status_t md_chain_to_pem(const char **ppem, const apr_array_header_t *chain, apr_pool_t *p);
/* Atomic, perms 0644 (certificates are public). */
apr_status_t md_chain_save(const apr_array_header_t *chain, const char *path, apr_pool_t *p);

/* The names of the subjectAltName extension, in certificate order: DNS names lower-cased,
 * IP addresses in canonical text (md_ip_normalise) -- comparable with an MD's names. */
apr_array_header_t *md_cert_names(const md_cert_t *cert, apr_pool_t *p);
/* True when the certificate's SAN names equal 'names' as sets (case-insensitive). */
int md_cert_names_equal(const md_cert_t *cert, const apr_array_header_t *names, apr_pool_t *p);
/* True when every name in 'names' is covered (exactly or by a wildcard) by the SAN. */
int md_cert_covers(const md_cert_t *cert, const apr_array_header_t *names, apr_pool_t *p);

apr_time_t md_cert_not_before(const md_cert_t *cert);
apr_time_t md_cert_not_after(const md_cert_t *cert);
const char *md_cert_subject(const md_cert_t *cert, apr_pool_t *p); /* one-line RFC 2253 */
const char *md_cert_issuer(const md_cert_t *cert, apr_pool_t *p);
const char *md_cert_serial_hex(const md_cert_t *cert, apr_pool_t *p); /* upper-case hex */
/* The certificate's ARI identifier (RFC 9773 4.1): base64url of its Authority Key Identifier's
 * keyIdentifier, ".", base64url of its serial number's DER content octets. APR_ENOENT when it
 * has no keyIdentifier (such a certificate has no ARI). */
apr_status_t md_cert_ari_id(const char **pid, const md_cert_t *cert, apr_pool_t *p);
/* SHA-256 over the DER, lower-case hex. */
const char *md_cert_fingerprint(const md_cert_t *cert, apr_pool_t *p);
int md_cert_is_self_signed(const md_cert_t *cert);

/* True when the certificate's public key is the public half of 'key'. */
int md_cert_matches_key(const md_cert_t *cert, const md_pkey_t *key);

/* Checks that chain[i] is signed by chain[i+1] for every link. APR_EINVAL otherwise,
 * with the broken link in *perr. */
apr_status_t md_chain_check_links(const char **perr, const apr_array_header_t *chain,
                                  apr_pool_t *p);

/* CSR (PKCS#10) for names (the first domain name is the subject CN when it fits in 64 chars),
 * SAN with all names (IP addresses as iPAddress), with must_staple the OCSP Must-Staple TLS
 * feature (RFC 7633), signed SHA-256 by key. Output DER. */
apr_status_t md_csr_create(unsigned char **pder, apr_size_t *plen, const apr_array_header_t *names,
                           const md_pkey_t *key, int must_staple, apr_pool_t *p);

/* A self-signed certificate for names, valid from now-1 day for 'valid_for'. Used for the
 * fallback certificate served until a real one is there. */
apr_status_t md_cert_self_signed(md_cert_t **pcert, const char *cn, const apr_array_header_t *names,
                                 const md_pkey_t *key, apr_interval_time_t valid_for,
                                 apr_pool_t *p);

#endif

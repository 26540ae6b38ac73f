/* md_crypt_int.h: what the crypto files of the library share among themselves and with their
 * unit tests; not for the faces. */
#ifndef MD_CRYPT_INT_H
#define MD_CRYPT_INT_H

#include <apr_tables.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

/* A new RSA key of bits bits (2048..8192) with e = 65537, from two random probable primes, that
 * passed a pairwise consistency test. 1 on success, 0 with OpenSSL's error queue set. */
int md_crypt_rsa_gen(EVP_PKEY **pevp, unsigned int bits);

/* A subjectAltName value naming each of names (const char*): IP addresses as iPAddress (RFC
 * 8738), the others as dNSName. NULL when OpenSSL fails. The caller frees it. */
GENERAL_NAMES *md_cert_san_make(const apr_array_header_t *names);

#endif

/* unit_keys.h: keys the unit tests share -- the example RSA key of RFC 7638 with its
 * thumbprint, and the EC P-256 key spec most store tests use. */
#ifndef UNIT_KEYS_H
#define UNIT_KEYS_H

#include <apr_pools.h>

#include "md_crypt.h"

/* RFC 7638 section 3.1: modulus and exponent (base64url) of the example key, and its
 * JWK thumbprint. */
extern const char unit_rfc7638_n[];
extern const char unit_rfc7638_e[];
extern const char unit_rfc7638_thumb[];

extern const md_pkey_spec_t unit_spec_p256;
extern const md_pkey_spec_t unit_spec_p384;

/* The public RSA key of RFC 7638 section 3.1 (the test fails when it cannot be made). */
md_pkey_t *unit_rfc7638_key(apr_pool_t *p);

#endif

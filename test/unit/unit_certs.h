/* unit_certs.h: certificates the unit tests make themselves -- roots, intermediates and leaves
 * signed with the keys a test chooses, for chains that link (or do not). */
#ifndef UNIT_CERTS_H
#define UNIT_CERTS_H

#include <apr_tables.h>
#include <openssl/x509.h>

#include "md_cert.h"
#include "md_crypt.h"

/* A certificate for commonName cn (an empty subject when NULL) with key's public half, issued
 * by (issuer, ikey), or self-signed with key when issuer is NULL; a CA when is_ca. Valid for
 * an hour from now. Fails the test when it cannot be made. */
X509 *unit_cert_make(const char *cn, md_pkey_t *key, X509 *issuer, md_pkey_t *ikey, int is_ca);

/* A chain (array of md_cert_t*) of a, then b and c unless they are NULL. */
apr_array_header_t *unit_chain_of(apr_pool_t *p, md_cert_t *a, md_cert_t *b, md_cert_t *c);

#endif

/* md_chain.h: completing and choosing certificate chains, without the network: who issued
 * whom, the names a chain leads to, dropping a root, picking one of several chains by name. */
#ifndef MD_CHAIN_H
#define MD_CHAIN_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "md_cert.h"

/* True when issuer's subject is cert's issuer and issuer's key signed cert. */
int md_cert_issued_by(const md_cert_t *cert, const md_cert_t *issuer);

/* The (first) commonName of the certificate's subject / issuer, NULL when it has none. */
const char *md_cert_subject_cn(const md_cert_t *cert, apr_pool_t *p);
const char *md_cert_issuer_cn(const md_cert_t *cert, apr_pool_t *p);

/* The certificates in an answer that is PEM (one or more) or a single DER certificate
 * (application/pkix-cert, as an issuer URL may serve it). APR_EINVAL with the reason in *perr
 * when it is neither. */
apr_status_t md_chain_from_pem_or_der(apr_array_header_t **pchain, const char **perr,
                                      const char *data, apr_size_t len, apr_pool_t *p);

/* The top (last) certificate of a non-empty chain. */
md_cert_t *md_chain_top(const apr_array_header_t *chain);

/* Removes a self-signed top certificate (a root: clients have their own, serving it only
 * costs bytes), never the leaf. True when one was removed. */
int md_chain_drop_root(apr_array_header_t *chain);

/* True when the chain names 'name' where certbot's --preferred-chain looks: the issuer CN
 * of its top certificate (the root's name) or the subject CN of its top certificate. Exact
 * comparison. */
int md_chain_has_name(const apr_array_header_t *chain, const char *name, apr_pool_t *p);

/* What an operator would write to pick this chain: the issuer CN of its top certificate (the
 * whole issuer name when that has no CN). For logs. */
const char *md_chain_name(const apr_array_header_t *chain, apr_pool_t *p);

/* The index of the first chain (of an array of chains) that has 'name', -1 when none has. */
int md_chain_pick(const apr_array_header_t *chains, const char *name, apr_pool_t *p);

#endif

/* md_acme_manage.h: what an operator does by hand with an account and its certificates:
 * account key rollover (RFC 8555 7.3.5) and certificate revocation (RFC 8555 7.6). */
#ifndef MD_ACME_MANAGE_H
#define MD_ACME_MANAGE_H

#include "md_acme.h"
#include "md_cert.h"
#include "md_reg.h"

/* The new key waits here, beside account.pem, until the CA has accepted it: a crash between
 * the CA's yes and the store's write leaves it recoverable by renaming. */
#define MD_FN_ACCT_KEY_NEXT "account.next.pem"

/* The inner JWS of a key change (RFC 8555 7.3.5): protected {alg, jwk of new_key, url:
 * key_change_url} (no nonce, no kid), payload {account: account_url, oldKey: JWK of old_key},
 * signed by new_key. */
apr_status_t md_acme_keyroll_inner(md_json_t **pjws, const char *key_change_url,
                                   const char *account_url, const md_pkey_t *old_key,
                                   const md_pkey_t *new_key, apr_pool_t *p);

/* Rolls the key of acct, which the context signs as (md_acme_acct_validate), over to a new one
 * (spec: EC P-256 when NULL). The new key replaces account.pem only after the CA accepted it;
 * until then the old key stays in place. On success the context signs with the new key. */
apr_status_t md_acme_acct_keyroll(md_acme_acct_t *acct, md_acme_t *acme, md_store_t *store,
                                  const md_pkey_spec_t *spec, apr_pool_t *p);

/* Revocation reasons (RFC 5280 5.3.1) by name ("keyCompromise") or number. APR_EINVAL for
 * anything else, and for those a subscriber may not give (cACompromise, certificateHold,
 * aACompromise). */
apr_status_t md_acme_revoke_reason_parse(int *preason, const char *s);

/* Revokes cert at the CA with the account the context signs as. reason < 0: none given.
 * APR_EEXIST when the CA says it is already revoked. */
apr_status_t md_acme_cert_revoke(md_acme_t *acme, const md_cert_t *cert, int reason, apr_pool_t *p);

/* Revokes the certificates of md in domains/ (one per key spec that has one) with the MD's
 * account (md.json ca.account) at the CA of that account (ca_url when set). *prevoked: how many
 * the CA revoked now, *palready: how many it had revoked before. APR_ENOENT (logged) when md
 * has no certificate or no account; the first failure otherwise (the rest are still tried). */
apr_status_t md_acme_revoke_md(int *prevoked, int *palready, md_reg_t *reg, const md_t *md,
                               int reason, const char *ca_url, const char *ca_file,
                               const char *proxy, apr_pool_t *p);

#endif

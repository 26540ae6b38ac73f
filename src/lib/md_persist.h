/* md_persist.h: dns-persist-01 (draft-ietf-acme-dns-persist) -- the standing TXT record an
 * operator publishes once per name, and the CA's issuer names the client remembers for it. */
#ifndef MD_PERSIST_H
#define MD_PERSIST_H

#include "md.h"
#include "md_acme.h"
#include "md_json.h"
#include "md_store.h"

/* The label in front of the validated name (draft section 2). */
#define MD_PERSIST_LABEL "_validation-persist"
/* In accounts/<id>/: the issuer domain names the CA gave in its last dns-persist-01 challenge
 * to that account ({"issuer-domain-names": [...]}). */
#define MD_FN_PERSIST "dns-persist.json"

typedef struct {
    const char *name;  /* _validation-persist.<base name>, without the trailing dot */
    const char *value; /* "<issuer>; accounturi=<account url>[; policy=wildcard]" */
} md_persist_rec_t;

/* The record that lets the account at account_url get certificates for base (a name without
 * "*.") from the CA that calls itself issuer; with policy=wildcard for "*.base" as well. */
md_persist_rec_t *md_persist_record(const char *base, int wildcard, const char *issuer,
                                    const char *account_url, apr_pool_t *p);

/* The records for a list of names: one per base name, in the order of names, with
 * policy=wildcard where names hold "*.base" (the same record serves base itself). */
apr_array_header_t *md_persist_records(const apr_array_header_t *names, const char *issuer,
                                       const char *account_url, apr_pool_t *p);

/* The record as a zone file line: _validation-persist.example.org. IN TXT "...". */
const char *md_persist_record_line(const md_persist_rec_t *rec, apr_pool_t *p);

/* Remembers the CA's issuer names for account_id (the record stays the same for every
 * renewal: status shows it without a new order) and logs, at notice, the record the CA looks
 * up for authz's name: a line an operator can publish. *pline: that line, for errors. */
apr_status_t md_persist_note(const char **pline, md_store_t *store, const md_t *md,
                             const char *account_id, const md_acme_authz_t *authz,
                             const md_acme_chall_t *chall, apr_pool_t *p);

/* What an operator publishes for md: {"account", "issuer", "records": [{"name", "value"}]},
 * with "missing" saying how to learn what is not known yet instead of "records". account_id:
 * the drive's (its job's), NULL: md's own; issuer NULL: the one remembered for the account. */
md_json_t *md_persist_json(md_store_t *store, const md_t *md, const char *account_id,
                           const char *issuer, apr_pool_t *p);

/* md_persist_json for md-status and a2md list ("dns-persist"): NULL unless md allows
 * dns-persist-01 (MDCAChallenges). */
md_json_t *md_persist_status_json(md_store_t *store, const md_t *md, const char *account_id,
                                  apr_pool_t *p);

#endif

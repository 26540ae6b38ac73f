/* md_acme_eab.h: external account binding credentials (RFC 8555 7.3.4) as operators hand them
 * to us -- "kid:hmac" text or a JSON file {"kid": ..., "hmac": ...} -- parsed and checked. */
#ifndef MD_ACME_EAB_H
#define MD_ACME_EAB_H

#include <apr_pools.h>

/* The most an EAB file or text may hold: a key id and a MAC key are a few hundred bytes. */
#define MD_ACME_EAB_MAX_LEN 16384

/* Whether hmac is a usable MAC key: non-empty base64url (padding tolerated). APR_EINVAL and
 * a reason in *perr otherwise. */
apr_status_t md_acme_eab_check_hmac(const char **perr, const char *hmac, apr_pool_t *p);

/* Parses credentials from text: a JSON object {"kid": "...", "hmac": "..."}, or "kid:hmac"
 * (the last ':' separates; surrounding white space is ignored). The hmac is checked with
 * md_acme_eab_check_hmac. APR_EINVAL and a reason (never containing the key) in *perr. */
apr_status_t md_acme_eab_parse(const char **pkid, const char **phmac, const char **perr,
                               const char *text, apr_size_t len, apr_pool_t *p);

/* Reads and parses the file at path (md_acme_eab_parse). APR_ENOENT when it does not exist;
 * other failures with a reason naming the file in *perr. */
apr_status_t md_acme_eab_read_file(const char **pkid, const char **phmac, const char **perr,
                                   const char *path, apr_pool_t *p);

#endif

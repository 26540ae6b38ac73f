/* md_challenge.h: answering ACME challenges -- choosing a type for an authorization and
 * setting up / tearing down its answer: http-01 and tls-alpn-01 files, dns-01 via a command. */
#ifndef MD_CHALLENGE_H
#define MD_CHALLENGE_H

#include "md_acme.h"
#include "md_cert.h"
#include "md_store.h"

#define MD_CHALL_HTTP01 "http-01"
#define MD_CHALL_TLSALPN01 "tls-alpn-01"
#define MD_CHALL_DNS01 "dns-01"
/* MD_CHALL_DNSPERSIST01 (md_acme.h): the operator's standing record, md_persist.h */

/* Files in challenges/<domain>/ (the names Apache's bundled mod_md uses). */
#define MD_FN_HTTP01 "acme-http-01.txt" /* the key authorization, "token.thumbprint" */
#define MD_FN_TLSALPN01_CERT "acme-tls-alpn-01.cert.pem"
#define MD_FN_TLSALPN01_KEY "acme-tls-alpn-01.key.pem"

/* What the environment makes possible, and what the MD allows. */
typedef struct {
    const apr_array_header_t *allowed; /* const char*; NULL/empty: the default preference */
    int http01_possible;               /* something answers the CA's port 80 from challenges/ */
    int tlsalpn01_possible;            /* something answers acme-tls/1 on the CA's port 443 */
    const char *dns01_cmd; /* program run as 'cmd setup <domain> <txt>' / 'cmd teardown <domain>' */
    /* The drive's cancel flag (md_drive_opts_t.cancel): once non-zero, a running dns-01
     * command is killed and none is started; setup and teardown answer APR_EINTR. NULL: never. */
    volatile apr_uint32_t *cancel;
    int dns01_version; /* MDChallengeDns01Version: 2 gives teardown the <txt> as well */
} md_chall_env_t;

/* Checks that the challenge types allowed for an MD (NULL/empty: any) can validate all its
 * names: an IP address needs http-01 or tls-alpn-01 (RFC 8738 7). APR_EINVAL with a reason
 * naming the address, what is allowed and what to change. */
apr_status_t md_chall_types_check(const char **perr, const apr_array_header_t *names,
                                  const apr_array_header_t *allowed, apr_pool_t *p);

/* Picks the challenge to answer for authz: in the order of env->allowed when given, else
 * tls-alpn-01, http-01, then dns-01; only types the CA offers, the environment makes possible
 * (dns-01 needs a command) and, for wildcard names, only dns-01 and dns-persist-01; an IP
 * address only by http-01 or tls-alpn-01. dns-persist-01 only when env->allowed names it.
 * APR_ENOTIMPL with a message naming the domain, what the CA offered and what is possible when none
 * fits. */
apr_status_t md_chall_choose(const md_acme_chall_t **pchall, const md_acme_authz_t *authz,
                             const md_chall_env_t *env, apr_pool_t *p);

/* Sets up the answer for chall (its token checked here): writes the key authorization /
 * the tls-alpn-01 certificate (EC P-256 key, critical acmeIdentifier extension with the
 * SHA-256 of the key authorization, RFC 8737) under challenges/<domain>/, or runs the dns-01
 * command with the TXT value base64url(SHA-256(key authorization)) (RFC 8555 8.4). The
 * domain of a wildcard authorization is the base name (without "*."). dns-persist-01 needs
 * nothing here: its record is the operator's (md_persist_note says which). */
apr_status_t md_chall_setup(md_store_t *store, md_acme_t *acme, const md_acme_authz_t *authz,
                            const md_acme_chall_t *chall, const md_chall_env_t *env, apr_pool_t *p);

/* Removes what setup made (files; runs 'cmd teardown <domain>' for dns-01 -- with '<txt>' after
 * it when env->dns01_version is 2 -- unless the drive is cancelled: a stopping server does not
 * wait for it, the record stays behind then). */
apr_status_t md_chall_teardown(md_store_t *store, md_acme_t *acme, const md_acme_authz_t *authz,
                               const md_acme_chall_t *chall, const md_chall_env_t *env,
                               apr_pool_t *p);

/* For the server side: the key authorization stored for domain when its token is 'token',
 * else APR_ENOENT. Tokens outside the base64url alphabet are APR_EINVAL and never touch a
 * path. */
apr_status_t md_chall_http01_answer(const char **pkeyauthz, md_store_t *store, const char *domain,
                                    const char *token, apr_pool_t *p);

/* The tls-alpn-01 validation certificate (RFC 8737 section 3) for domain and key
 * authorization, signed by key. */
apr_status_t md_chall_tlsalpn01_cert(md_cert_t **pcert, const char *domain, const char *keyauthz,
                                     const md_pkey_t *key, apr_pool_t *p);

#endif

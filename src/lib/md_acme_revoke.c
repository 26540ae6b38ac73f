/* md_acme_revoke.c: certificate revocation (RFC 8555 7.6) signed by the account that ordered
 * it, with an RFC 5280 reason code; "already revoked" told apart from a refusal. */
#include <string.h>
#include <stdlib.h>
#include <strings.h>
#include <apr_strings.h>
#include <openssl/x509.h>

#include "md_acme_manage.h"
#include "md_drive_job.h"
#include "md_log.h"
#include "md_util.h"

/* RFC 5280 5.3.1 CRLReason; NULL names are not for subscribers to give (CA/B Forum baseline
 * requirements 7.2.2: cACompromise, certificateHold, aACompromise) or unused (7). */
static const char *const reasons[] = {
    "unspecified",          /* 0 */
    "keyCompromise",        /* 1 */
    NULL,                   /* 2 cACompromise */
    "affiliationChanged",   /* 3 */
    "superseded",           /* 4 */
    "cessationOfOperation", /* 5 */
    NULL,                   /* 6 certificateHold */
    NULL,                   /* 7 unused */
    "removeFromCRL",        /* 8 */
    "privilegeWithdrawn",   /* 9 */
    NULL,                   /* 10 aACompromise */
};
#define REASONS_N ((int) (sizeof(reasons) / sizeof(reasons[0])))

apr_status_t md_acme_revoke_reason_parse(int *preason, const char *s)
{
    char *end;
    long n;

    *preason = -1;
    for (int i = 0; i < REASONS_N; ++i) {
        if (reasons[i] && !strcasecmp(s, reasons[i])) {
            *preason = i;
            return APR_SUCCESS;
        }
    }
    n = strtol(s, &end, 10);
    if (*s && !*end && n >= 0 && n < REASONS_N && reasons[n]) {
        *preason = (int) n;
        return APR_SUCCESS;
    }
    return APR_EINVAL;
}

apr_status_t md_acme_cert_revoke(md_acme_t *acme, const md_cert_t *cert, int reason, apr_pool_t *p)
{
    const md_acme_directory_t *dir;
    const md_acme_problem_t *prob;
    md_acme_res_t *res = NULL;
    md_json_t *payload;
    unsigned char *der = NULL;
    int len;
    apr_status_t rv;

    if ((rv = md_acme_directory(&dir, acme)) != APR_SUCCESS) {
        return rv;
    }
    if (!dir->revoke_cert) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_ENOTIMPL,
                      "the CA at %s offers no revocation (no revokeCert in its directory)",
                      dir->url);
        return APR_ENOTIMPL;
    }
    if ((len = i2d_X509(md_cert_x509(cert), &der)) <= 0) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "cannot encode certificate %s",
                      md_cert_serial_hex(cert, p));
        return APR_EINVAL;
    }
    payload = md_json_new_obj(p);
    md_json_set_str(payload, "certificate", md_base64url_encode(der, (apr_size_t) len, p));
    OPENSSL_free(der);
    if (reason >= 0) {
        md_json_set_int(payload, "reason", reason);
    }
    rv = md_acme_post(&res, acme, dir->revoke_cert, payload, p);
    prob = md_acme_last_problem(acme);
    if (rv != APR_SUCCESS && prob && !strcmp(md_acme_problem_short_type(prob), "alreadyRevoked")) {
        return APR_EEXIST;
    }
    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv,
                      "the CA at %s did not revoke certificate %s (%s): %s", dir->url,
                      md_cert_serial_hex(cert, p), md_cert_subject(cert, p),
                      md_acme_problem_str(prob, p));
    }
    return rv;
}

/* The CA client, signing as md's account. */
static apr_status_t revoke_client(md_acme_t **pacme, md_store_t *store, const md_t *md,
                                  const char *ca_url, const char *ca_file, const char *proxy,
                                  apr_pool_t *p)
{
    md_acme_acct_t *acct;
    md_pkey_t *key;
    apr_status_t rv;

    if (!md->ca_account) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_ENOENT,
                      "%s: no account is recorded for it (md.json ca.account): revocation needs "
                      "the account that ordered its certificates",
                      md->name);
        return APR_ENOENT;
    }
    if ((rv = md_acme_acct_load(&acct, &key, store, md->ca_account, p)) != APR_SUCCESS) {
        return rv;
    }
    ca_url = ca_url ? ca_url : acct->ca_url;
    if ((rv = md_acme_create(pacme, ca_url, ca_file, proxy, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = md_acme_acct_validate(&acct, *pacme, store, md->ca_account, p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv,
                      "%s: the CA at %s no longer knows account %s, which ordered its "
                      "certificates: they cannot be revoked with it",
                      md->name, ca_url, md->ca_account);
    }
    return rv;
}

apr_status_t md_acme_revoke_md(int *prevoked, int *palready, md_reg_t *reg, const md_t *md,
                               int reason, const char *ca_url, const char *ca_file,
                               const char *proxy, apr_pool_t *p)
{
    const apr_array_header_t *specs = md_pkey_specs(md, p);
    md_store_t *store = md_reg_store(reg);
    apr_array_header_t *chain;
    md_acme_t *acme = NULL;
    const md_cert_t *cert;
    const char *err;
    apr_status_t rv, first = APR_SUCCESS;

    *prevoked = *palready = 0;
    for (int i = 0; i < specs->nelts; ++i) {
        const md_pkey_spec_t *spec = APR_ARRAY_IDX(specs, i, const md_pkey_spec_t *);
        if (md_store_load_chain(&chain, &err, store, MD_SG_DOMAINS, md->name,
                                md_job_file(MD_FN_PUBCERT, spec, p), p) != APR_SUCCESS) {
            continue;
        }
        if (!acme &&
            (rv = revoke_client(&acme, store, md, ca_url, ca_file, proxy, p)) != APR_SUCCESS) {
            return rv;
        }
        cert = APR_ARRAY_IDX(chain, 0, const md_cert_t *);
        rv = md_acme_cert_revoke(acme, cert, reason, p);
        if (rv == APR_SUCCESS || rv == APR_EEXIST) {
            md_log_perror(MD_LOG_MARK, MD_LOG_INFO, APR_SUCCESS, "%s: certificate %s %s", md->name,
                          md_cert_serial_hex(cert, p),
                          rv == APR_SUCCESS ? "revoked" : "was revoked already");
            ++*(rv == APR_SUCCESS ? prevoked : palready);
        } else if (first == APR_SUCCESS) {
            first = rv;
        }
    }
    if (!acme) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_ENOENT,
                      "%s: no certificate in %s/domains/%s to revoke", md->name,
                      md_store_dir(store), md->name);
        return APR_ENOENT;
    }
    return first;
}

/* md_persist.c: dns-persist-01 (draft-ietf-acme-dns-persist) -- the TXT record that names the
 * CA's issuer domain and our account, made once by the operator; nothing runs at renewal. */
#include <string.h>

#include <apr_strings.h>

#include "md_log.h"
#include "md_persist.h"
#include "md_util.h"

#define MD_WILDCARD_PREFIX "*."
/* Parameters of the record's issue-value (draft section 4.1, RFC 8659 syntax). */
#define MD_PERSIST_ACCOUNTURI "accounturi"
#define MD_PERSIST_POLICY_WILDCARD "policy=wildcard"
#define MD_PERSIST_KEY_ISSUERS "issuer-domain-names"

md_persist_rec_t *md_persist_record(const char *base, int wildcard, const char *issuer,
                                    const char *account_url, apr_pool_t *p)
{
    md_persist_rec_t *rec = apr_pcalloc(p, sizeof(*rec));

    rec->name = apr_pstrcat(p, MD_PERSIST_LABEL, ".", base, NULL);
    rec->value = apr_pstrcat(p, issuer, "; ", MD_PERSIST_ACCOUNTURI, "=", account_url,
                             wildcard ? "; " MD_PERSIST_POLICY_WILDCARD : "", NULL);
    return rec;
}

static const char *base_name(const char *name)
{
    return md_dns_is_wildcard(name) ? name + strlen(MD_WILDCARD_PREFIX) : name;
}

apr_array_header_t *md_persist_records(const apr_array_header_t *names, const char *issuer,
                                       const char *account_url, apr_pool_t *p)
{
    apr_array_header_t *bases = apr_array_make(p, names->nelts, sizeof(const char *));
    apr_array_header_t *wild = apr_array_make(p, names->nelts, sizeof(const char *));
    apr_array_header_t *recs = apr_array_make(p, names->nelts, sizeof(md_persist_rec_t *));
    const char *name, *base;

    for (int i = 0; i < names->nelts; ++i) {
        name = APR_ARRAY_IDX(names, i, const char *);
        base = base_name(name);
        if (md_array_str_index(bases, base, 0) < 0) {
            APR_ARRAY_PUSH(bases, const char *) = base;
        }
        if (md_dns_is_wildcard(name)) {
            APR_ARRAY_PUSH(wild, const char *) = base;
        }
    }
    for (int i = 0; i < bases->nelts; ++i) {
        base = APR_ARRAY_IDX(bases, i, const char *);
        APR_ARRAY_PUSH(recs, md_persist_rec_t *) =
            md_persist_record(base, md_array_str_index(wild, base, 0) >= 0, issuer, account_url, p);
    }
    return recs;
}

const char *md_persist_record_line(const md_persist_rec_t *rec, apr_pool_t *p)
{
    return apr_psprintf(p, "%s. IN TXT \"%s\"", rec->name, rec->value);
}

/* The URL of account id at its CA (the accounturi of the record), NULL when unknown. */
static const char *account_url(md_store_t *store, const char *id, apr_pool_t *p)
{
    md_json_t *j;
    const char *err, *url;

    if (!id ||
        md_store_load_json(&j, &err, store, MD_SG_ACCOUNTS, id, MD_FN_ACCOUNT, p) != APR_SUCCESS) {
        return NULL;
    }
    url = md_json_get_str(j, "url");
    return url ? apr_pstrdup(p, url) : NULL;
}

/* The first issuer domain name the CA gave account id, NULL when none is remembered. The
 * server's User writes accounts/: what is read back must still be a domain name. */
static const char *remembered_issuer(md_store_t *store, const char *id, apr_pool_t *p)
{
    apr_array_header_t *names;
    md_json_t *j;
    const char *err, *name;

    if (!id ||
        md_store_load_json(&j, &err, store, MD_SG_ACCOUNTS, id, MD_FN_PERSIST, p) != APR_SUCCESS) {
        return NULL;
    }
    names = md_json_get_strs(j, MD_PERSIST_KEY_ISSUERS, p);
    if (!names || names->nelts == 0 ||
        md_dns_name_check(&name, &err, APR_ARRAY_IDX(names, 0, const char *), p) != APR_SUCCESS ||
        md_dns_is_wildcard(name)) {
        return NULL;
    }
    return name;
}

/* The record for the base name of domain among the MD's names. */
static md_persist_rec_t *record_for(const md_t *md, const char *domain, const char *issuer,
                                    const char *url, apr_pool_t *p)
{
    const char *base = base_name(domain);

    return md_persist_record(
        base,
        md_array_str_index(md->domains, apr_pstrcat(p, MD_WILDCARD_PREFIX, base, NULL), 0) >= 0,
        issuer, url, p);
}

apr_status_t md_persist_note(const char **pline, md_store_t *store, const md_t *md,
                             const char *account_id, const md_acme_authz_t *authz,
                             const md_acme_chall_t *chall, apr_pool_t *p)
{
    const char *url = account_url(store, account_id, p), *issuer, *remembered;
    md_json_t *j = md_json_new_obj(p);
    apr_status_t rv;

    *pline = NULL;
    if (!url || !chall->issuers || chall->issuers->nelts == 0) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "%s: %s for %s: %s", md->name,
                      MD_CHALL_DNSPERSIST01, authz->domain,
                      url ? "the CA names no issuer domain" : "the account's URL is unknown");
        return APR_EINVAL;
    }
    /* the draft lets the client pick any: the first is the one the CA lists first */
    issuer = APR_ARRAY_IDX(chall->issuers, 0, const char *);
    md_json_set_strs(j, MD_PERSIST_KEY_ISSUERS, chall->issuers);
    /* every authorization names them: written when they are news, not once per name */
    remembered = remembered_issuer(store, account_id, p);
    if ((!remembered || strcmp(remembered, issuer)) &&
        (rv = md_store_save_json(store, MD_SG_ACCOUNTS, account_id, MD_FN_PERSIST, j, p)) !=
            APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_WARN, rv,
                      "%s: could not remember the CA's issuer domain names for account %s; "
                      "md-status learns them again at the next attempt",
                      md->name, account_id);
    }
    *pline = md_persist_record_line(record_for(md, authz->domain, issuer, url, p), p);
    md_log_perror(MD_LOG_MARK, MD_LOG_NOTICE, APR_SUCCESS,
                  "%s: %s for %s: the CA looks up the record %s (published once, it serves "
                  "every renewal; 'a2md persist-record %s' and md-status show all records of "
                  "this MD)",
                  md->name, MD_CHALL_DNSPERSIST01, authz->domain, *pline, md->name);
    return APR_SUCCESS;
}

md_json_t *md_persist_json(md_store_t *store, const md_t *md, const char *account_id,
                           const char *issuer, apr_pool_t *p)
{
    md_json_t *j = md_json_new_obj(p), *recs, *rj;
    apr_array_header_t *records;
    const char *url, *id = account_id ? account_id : md->ca_account;

    url = account_url(store, id, p);
    issuer = issuer ? issuer : remembered_issuer(store, id, p);
    md_json_set_str(j, "account", url);
    md_json_set_str(j, "issuer", issuer);
    if (!url) {
        md_json_set_str(j, "missing",
                        "the account at the CA: it is made at the first attempt to get a "
                        "certificate (or name one with 'a2md update <md> account <id>')");
        return j;
    }
    if (!issuer) {
        md_json_set_str(j, "missing",
                        "the CA's issuer domain name: the CA gives it in its dns-persist-01 "
                        "challenge; the first attempt logs the record and md-status shows it "
                        "from then on");
        return j;
    }
    records = md_persist_records(md->domains, issuer, url, p);
    recs = md_json_new_arr(p);
    for (int i = 0; i < records->nelts; ++i) {
        const md_persist_rec_t *rec = APR_ARRAY_IDX(records, i, const md_persist_rec_t *);
        rj = md_json_new_obj(p);
        md_json_set_str(rj, "name", rec->name);
        md_json_set_str(rj, "value", rec->value);
        md_json_push(recs, rj);
    }
    md_json_set(j, "records", recs);
    return j;
}

md_json_t *md_persist_status_json(md_store_t *store, const md_t *md, const char *account_id,
                                  apr_pool_t *p)
{
    if (!md->ca_challenges || md_array_str_index(md->ca_challenges, MD_CHALL_DNSPERSIST01, 0) < 0) {
        return NULL;
    }
    return md_persist_json(store, md, account_id, NULL, p);
}

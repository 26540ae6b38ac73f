/* md_acme_keyroll.c: account key rollover (RFC 8555 7.3.5) -- the new key signs a statement
 * naming the account and the old key; the old key signs the request that carries it. */
#include <string.h>
#include <apr_strings.h>

#include "md_acme_manage.h"
#include "md_jws.h"
#include "md_log.h"

apr_status_t md_acme_keyroll_inner(md_json_t **pjws, const char *key_change_url,
                                   const char *account_url, const md_pkey_t *old_key,
                                   const md_pkey_t *new_key, apr_pool_t *p)
{
    md_json_t *hdr, *payload, *old_jwk;
    const char *text;
    apr_status_t rv;

    *pjws = NULL;
    if ((rv = md_jwk_get(&old_jwk, old_key, p)) != APR_SUCCESS) {
        return rv;
    }
    payload = md_json_new_obj(p);
    md_json_set_str(payload, "account", account_url);
    md_json_set(payload, "oldKey", old_jwk);
    /* only url: md_jws_sign adds alg and, as no kid is named, the new key's jwk */
    hdr = md_json_new_obj(p);
    md_json_set_str(hdr, "url", key_change_url);
    text = md_json_dump(payload, 0, p);
    return md_jws_sign(pjws, text, strlen(text), hdr, new_key, p);
}

apr_status_t md_acme_acct_keyroll(md_acme_acct_t *acct, md_acme_t *acme, md_store_t *store,
                                  const md_pkey_spec_t *spec, apr_pool_t *p)
{
    const md_acme_directory_t *dir;
    md_acme_acct_t *loaded;
    md_acme_res_t *res = NULL;
    md_pkey_t *old_key, *new_key;
    md_json_t *inner;
    apr_status_t rv;

    if ((rv = md_acme_directory(&dir, acme)) != APR_SUCCESS ||
        (rv = md_acme_acct_load(&loaded, &old_key, store, acct->id, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!dir->key_change) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_ENOTIMPL,
                      "the CA at %s offers no key change (no keyChange in its directory): "
                      "account %s keeps its key",
                      dir->url, acct->id);
        return APR_ENOTIMPL;
    }
    if ((rv = md_pkey_gen(&new_key, spec ? spec : md_acme_acct_key_spec_default(), p)) !=
            APR_SUCCESS ||
        (rv = md_acme_keyroll_inner(&inner, dir->key_change, acct->url, old_key, new_key, p)) !=
            APR_SUCCESS) {
        return rv;
    }
    if ((rv = md_store_save_pkey(store, MD_SG_ACCOUNTS, acct->id, MD_FN_ACCT_KEY_NEXT, new_key,
                                 p)) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv,
                      "cannot store the new key of account %s: its key is not changed", acct->id);
        return rv;
    }
    md_acme_use_account(acme, old_key, acct->url);
    if ((rv = md_acme_post(&res, acme, dir->key_change, inner, p)) != APR_SUCCESS) {
        if (!md_acme_last_problem(acme)) {
            /* no answer: the CA may have made the change all the same */
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv,
                          "no answer from the CA at %s to the key change of account %s: the new "
                          "key stays in %s; when 'a2md acme validate %s' fails from now on, the "
                          "CA took it: move it to %s",
                          dir->url, acct->id, MD_FN_ACCT_KEY_NEXT, acct->id, MD_FN_ACCT_KEY);
            return rv;
        }
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv,
                      "the CA at %s refused the key change of account %s: %s; the account keeps "
                      "its old key",
                      dir->url, acct->id, md_acme_problem_str(md_acme_last_problem(acme), p));
        md_store_remove(store, MD_SG_ACCOUNTS, acct->id, MD_FN_ACCT_KEY_NEXT, p);
        return rv;
    }
    md_acme_use_account(acme, new_key, acct->url);
    if ((rv = md_store_save_pkey(store, MD_SG_ACCOUNTS, acct->id, MD_FN_ACCT_KEY, new_key, p)) !=
        APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv,
                      "the CA at %s accepted the new key of account %s, but replacing %s failed: "
                      "the new key is in %s; move it to %s by hand",
                      dir->url, acct->id, MD_FN_ACCT_KEY, MD_FN_ACCT_KEY_NEXT, MD_FN_ACCT_KEY);
        return rv;
    }
    md_store_remove(store, MD_SG_ACCOUNTS, acct->id, MD_FN_ACCT_KEY_NEXT, p);
    md_log_perror(MD_LOG_MARK, MD_LOG_INFO, APR_SUCCESS, "account %s (%s) at %s has a new key",
                  acct->id, acct->url, dir->url);
    return APR_SUCCESS;
}

/* md_acme_acct.c: ACME accounts (RFC 8555 7.3): register (terms agreement, external account
 * binding), find and validate by key, update, deactivate; kept in the store's accounts/. */
#include <string.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include "md_acme.h"
#include "md_jws.h"
#include "md_log.h"
#include "md_util.h"

/* Account ids are ACME-<host>-NNNN, as in stores of Apache's bundled mod_md. */
#define ACCT_ID_FMT "ACME-%s-%04d"
#define ACCT_ID_MAX 10000

#define ACCT_VALID "valid"
#define ACCT_DEACTIVATED "deactivated"

/* Account keys are EC P-256 unless the caller asks otherwise: small and fast (ES256). */
static const md_pkey_spec_t acct_key_default = {MD_PKEY_EC, 0, "secp256r1"};

const md_pkey_spec_t *md_acme_acct_key_spec_default(void)
{
    return &acct_key_default;
}

static int acct_agreed(const md_acme_directory_t *dir, const char *agreement)
{
    return agreement && *agreement && md_acme_terms_covered(agreement, dir->terms_of_service);
}

static apr_status_t acct_terms_error(const char *terms, const char *ca_url)
{
    if (terms) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EACCES,
                      "the CA requires agreement to its terms of service at %s: set "
                      "'MDCertificateAgreement accepted' (or give a2md -t %s)",
                      terms, terms);
    } else {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EACCES,
                      "the CA at %s requires agreement to its terms of service: set "
                      "'MDCertificateAgreement accepted' (or give a2md -t accepted)",
                      ca_url);
    }
    return APR_EACCES;
}

/* Says why a request about an account failed, when the CA said so (transport failures were
 * reported by the layer below). */
static apr_status_t acct_post_failed(md_acme_t *acme, const md_acme_res_t *res, const char *what,
                                     apr_status_t rv, apr_pool_t *p)
{
    const md_acme_problem_t *prob = md_acme_last_problem(acme);
    const md_acme_directory_t *dir;

    if (!prob || md_acme_directory(&dir, acme) != APR_SUCCESS) {
        return rv;
    }
    if (md_acme_problem_wants_terms(prob)) {
        return acct_terms_error(prob->terms ? prob->terms : dir->terms_of_service, dir->url);
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s at %s failed: %s", what, dir->url,
                  md_acme_problem_str(prob, p));
    return rv;
}

/* ---- the stored form: accounts/<id>/account.json ---- */

static md_json_t *acct_to_json(const md_acme_acct_t *acct, apr_pool_t *p)
{
    md_json_t *j = md_json_new_obj(p);

    md_json_set_str(j, "status", acct->status);
    md_json_set_str(j, "url", acct->url);
    md_json_set_str(j, "ca-url", acct->ca_url);
    md_json_set_strs(j, "contact",
                     acct->contacts ? acct->contacts : apr_array_make(p, 0, sizeof(const char *)));
    md_json_set_str(j, "orders", acct->orders);
    md_json_set_str(j, "agreement", acct->agreement);
    md_json_set_str(j, "eab-kid", acct->eab_kid);
    if (acct->registration) {
        md_json_set(j, "registration", acct->registration);
    }
    return j;
}

static const char *json_str(const md_json_t *j, const char *key, apr_pool_t *p)
{
    const char *s = md_json_get_str(j, key);
    return s ? apr_pstrdup(p, s) : NULL;
}

static md_acme_acct_t *acct_from_json(const md_json_t *j, const char *id, apr_pool_t *p)
{
    md_acme_acct_t *acct = apr_pcalloc(p, sizeof(*acct));

    acct->id = apr_pstrdup(p, id);
    acct->url = json_str(j, "url", p);
    acct->ca_url = json_str(j, "ca-url", p);
    acct->status = json_str(j, "status", p);
    acct->contacts = md_json_get_strs(j, "contact", p);
    if (!acct->contacts) {
        acct->contacts = apr_array_make(p, 0, sizeof(const char *));
    }
    acct->agreement = json_str(j, "agreement", p);
    acct->orders = json_str(j, "orders", p);
    acct->eab_kid = json_str(j, "eab-kid", p);
    acct->registration = md_json_get(j, "registration", p);
    return acct;
}

static apr_status_t acct_save(md_store_t *store, const md_acme_acct_t *acct, apr_pool_t *p)
{
    return md_store_save_json(store, MD_SG_ACCOUNTS, acct->id, MD_FN_ACCOUNT, acct_to_json(acct, p),
                              p);
}

/* Takes what the CA says about the account (RFC 8555 7.1.2) into acct. */
static void acct_take_registration(md_acme_acct_t *acct, const md_acme_res_t *res, apr_pool_t *p)
{
    apr_array_header_t *contacts;
    const char *s;

    if (!res->json) {
        return;
    }
    acct->registration = res->json;
    if ((s = md_json_get_str(res->json, "status")) != NULL) {
        acct->status = apr_pstrdup(p, s);
    }
    if ((contacts = md_json_get_strs(res->json, "contact", p)) != NULL) {
        acct->contacts = contacts;
    }
    if ((s = md_json_get_str(res->json, "orders")) != NULL) {
        acct->orders = apr_pstrdup(p, s);
    }
}

/* The first free ACME-<host>-NNNN. */
static apr_status_t acct_new_id(const char **pid, md_store_t *store, const char *ca_url,
                                apr_pool_t *p)
{
    apr_uri_t uri;
    const char *host = "unknown", *id;
    apr_status_t rv;
    int n;

    if (apr_uri_parse(p, ca_url, &uri) == APR_SUCCESS && uri.hostname && *uri.hostname) {
        host = uri.hostname;
    }
    for (n = 0; n < ACCT_ID_MAX; ++n) {
        /* claimed by creating its directory: two registrations never get the same id */
        id = apr_psprintf(p, ACCT_ID_FMT, host, n);
        rv = md_store_create_entry(store, MD_SG_ACCOUNTS, id, p);
        if (rv == APR_SUCCESS) {
            *pid = id;
            return APR_SUCCESS;
        }
        if (!APR_STATUS_IS_EEXIST(rv)) {
            return rv;
        }
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_ENOSPC, "%s/accounts holds %d accounts for %s",
                  md_store_dir(store), ACCT_ID_MAX, host);
    return APR_ENOSPC;
}

/* ---- register ---- */

/* RFC 8555 7.3.4: the account JWK, MACed with the key the CA gave out of band. */
static apr_status_t acct_eab(md_json_t **peab, const md_acme_directory_t *dir, const md_pkey_t *key,
                             const char *kid, const char *hmac, apr_pool_t *p)
{
    md_json_t *jwk, *hdr;
    unsigned char *mac_key;
    apr_size_t mac_len;
    const char *payload;
    apr_status_t rv;

    if (md_base64url_decode(&mac_key, &mac_len, hmac, p) != APR_SUCCESS || mac_len == 0) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL,
                      "the external account binding HMAC key for kid '%s' is not base64url", kid);
        return APR_EINVAL;
    }
    if ((rv = md_jwk_get(&jwk, key, p)) != APR_SUCCESS) {
        return rv;
    }
    hdr = md_json_new_obj(p);
    md_json_set_str(hdr, "kid", kid);
    md_json_set_str(hdr, "url", dir->new_account);
    payload = md_json_dump(jwk, 0, p);
    return md_jws_hmac(peab, payload, strlen(payload), hdr, mac_key, mac_len, p);
}

apr_status_t md_acme_acct_register(md_acme_acct_t **pacct, md_acme_t *acme, md_store_t *store,
                                   const apr_array_header_t *contacts, const char *agreement,
                                   const char *eab_kid, const char *eab_hmac,
                                   const md_pkey_spec_t *spec, apr_pool_t *p)
{
    const md_acme_directory_t *dir;
    md_acme_acct_t *acct;
    md_acme_res_t *res = NULL;
    md_json_t *payload, *eab;
    md_pkey_t *key;
    int agreed, has_eab = eab_kid && *eab_kid && eab_hmac && *eab_hmac;
    apr_status_t rv;

    *pacct = NULL;
    if ((rv = md_acme_directory(&dir, acme)) != APR_SUCCESS) {
        return rv;
    }
    agreed = acct_agreed(dir, agreement);
    if (dir->terms_of_service && !agreed) {
        return acct_terms_error(dir->terms_of_service, dir->url);
    }
    if (dir->eab_required && !has_eab) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EACCES,
                      "the CA at %s requires external account binding (EAB): get a key id and "
                      "HMAC key from the CA and configure them with MDExternalAccountBinding "
                      "(a2md: acme newreg --eab-file FILE)",
                      dir->url);
        return APR_EACCES;
    }
    if ((rv = md_pkey_gen(&key, spec ? spec : &acct_key_default, p)) != APR_SUCCESS) {
        return rv;
    }
    payload = md_json_new_obj(p);
    if (contacts && contacts->nelts) {
        md_json_set_strs(payload, "contact", contacts);
    }
    if (agreed) {
        md_json_set_bool(payload, "termsOfServiceAgreed", 1);
    }
    if (has_eab) {
        if ((rv = acct_eab(&eab, dir, key, eab_kid, eab_hmac, p)) != APR_SUCCESS) {
            return rv;
        }
        md_json_set(payload, "externalAccountBinding", eab);
    }
    md_acme_use_account(acme, key, NULL);
    if ((rv = md_acme_post(&res, acme, dir->new_account, payload, p)) != APR_SUCCESS) {
        return acct_post_failed(acme, res, "registering a new account", rv, p);
    }
    if (!res->location) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL,
                      "the CA at %s created an account but sent no Location for it", dir->url);
        return APR_EGENERAL;
    }
    acct = apr_pcalloc(p, sizeof(*acct));
    acct->url = apr_pstrdup(p, res->location);
    acct->ca_url = dir->url;
    acct->status = ACCT_VALID;
    acct->contacts =
        contacts ? md_array_str_copy(p, contacts) : apr_array_make(p, 0, sizeof(const char *));
    if (agreed) {
        acct->agreement = dir->terms_of_service ? dir->terms_of_service : agreement;
    }
    acct->eab_kid = has_eab ? apr_pstrdup(p, eab_kid) : NULL;
    acct_take_registration(acct, res, p);
    if ((rv = acct_new_id(&acct->id, store, dir->url, p)) != APR_SUCCESS ||
        (rv = md_store_save_pkey(store, MD_SG_ACCOUNTS, acct->id, MD_FN_ACCT_KEY, key, p)) !=
            APR_SUCCESS ||
        (rv = acct_save(store, acct, p)) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv,
                      "the CA at %s registered account %s, but storing it in %s failed", dir->url,
                      acct->url, md_store_dir(store));
        return rv;
    }
    md_acme_use_account(acme, key, acct->url);
    md_log_perror(MD_LOG_MARK, MD_LOG_INFO, APR_SUCCESS, "registered account %s (%s) at %s",
                  acct->id, acct->url, dir->url);
    *pacct = acct;
    return APR_SUCCESS;
}

/* ---- load, validate, find ---- */

apr_status_t md_acme_acct_load(md_acme_acct_t **pacct, md_pkey_t **pkey, md_store_t *store,
                               const char *id, apr_pool_t *p)
{
    md_json_t *j;
    const char *err = NULL;
    apr_status_t rv;

    *pacct = NULL;
    *pkey = NULL;
    rv = md_store_load_json(&j, &err, store, MD_SG_ACCOUNTS, id, MD_FN_ACCOUNT, p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "no account '%s' in %s/accounts", id,
                      md_store_dir(store));
        return rv;
    }
    if (rv == APR_SUCCESS) {
        rv = md_store_load_pkey(pkey, &err, store, MD_SG_ACCOUNTS, id, MD_FN_ACCT_KEY, p);
    }
    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "cannot load account '%s': %s", id,
                      err ? err : "unreadable");
        return rv;
    }
    *pacct = acct_from_json(j, id, p);
    return APR_SUCCESS;
}

apr_status_t md_acme_acct_validate(md_acme_acct_t **pacct, md_acme_t *acme, md_store_t *store,
                                   const char *id, apr_pool_t *p)
{
    const md_acme_directory_t *dir;
    const md_acme_problem_t *prob;
    md_acme_acct_t *acct;
    md_acme_res_t *res = NULL;
    md_json_t *payload;
    md_pkey_t *key;
    apr_status_t rv;

    *pacct = NULL;
    if ((rv = md_acme_acct_load(&acct, &key, store, id, p)) != APR_SUCCESS ||
        (rv = md_acme_directory(&dir, acme)) != APR_SUCCESS) {
        return rv;
    }
    payload = md_json_new_obj(p);
    md_json_set_bool(payload, "onlyReturnExisting", 1); /* RFC 8555 7.3.1 */
    md_acme_use_account(acme, key, NULL);
    rv = md_acme_post(&res, acme, dir->new_account, payload, p);
    prob = md_acme_last_problem(acme);
    if (rv != APR_SUCCESS && prob &&
        !strcmp(md_acme_problem_short_type(prob), "accountDoesNotExist")) {
        md_log_perror(MD_LOG_MARK, MD_LOG_INFO, APR_ENOENT, "the CA at %s does not know account %s",
                      dir->url, id);
        return APR_ENOENT;
    }
    if (rv != APR_SUCCESS && prob && !strcmp(md_acme_problem_short_type(prob), "unauthorized")) {
        /* how CAs answer for a deactivated or revoked account (RFC 8555 7.3.6) */
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EACCES, "account %s at %s is not usable: %s", id,
                      dir->url, md_acme_problem_str(prob, p));
        return APR_EACCES;
    }
    if (rv != APR_SUCCESS) {
        return acct_post_failed(acme, res, apr_psprintf(p, "validating account %s", id), rv, p);
    }
    if (res->location) {
        acct->url = apr_pstrdup(p, res->location);
    }
    acct_take_registration(acct, res, p);
    acct->ca_url = dir->url;
    if (!acct->status) {
        acct->status = ACCT_VALID;
    }
    if ((rv = acct_save(store, acct, p)) != APR_SUCCESS) {
        return rv;
    }
    if (strcmp(acct->status, ACCT_VALID)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EACCES, "account %s at %s is %s", id, dir->url,
                      acct->status);
        return APR_EACCES;
    }
    md_acme_use_account(acme, key, acct->url);
    *pacct = acct;
    return APR_SUCCESS;
}

int md_acme_acct_fits_eab(const md_acme_acct_t *acct, const char *eab_kid)
{
    return !eab_kid || (acct->eab_kid && !strcmp(acct->eab_kid, eab_kid));
}

/* A stored account worth asking the CA about: of this CA, not known to be unusable, bound to
 * the key id the MD asks for. */
static int acct_is_candidate(md_store_t *store, const char *id, const char *ca_url,
                             const char *eab_kid, apr_pool_t *p)
{
    md_json_t *j;
    const char *err = NULL, *status;

    if (md_store_load_json(&j, &err, store, MD_SG_ACCOUNTS, id, MD_FN_ACCOUNT, p) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_WARN, APR_EINVAL, "skipping account %s: %s", id,
                      err ? err : "no account.json");
        return 0;
    }
    status = md_json_get_str(j, "status");
    return md_json_get_str(j, "ca-url") && !strcmp(md_json_get_str(j, "ca-url"), ca_url) &&
           (!status || !strcmp(status, ACCT_VALID)) &&
           md_acme_acct_fits_eab(acct_from_json(j, id, p), eab_kid);
}

apr_status_t md_acme_acct_find(md_acme_acct_t **pacct, md_acme_t *acme, md_store_t *store,
                               const char *preferred, const char *eab_kid, apr_pool_t *p)
{
    const md_acme_directory_t *dir;
    apr_array_header_t *names, *order;
    apr_status_t rv;
    int i;

    *pacct = NULL;
    if ((rv = md_store_names(&names, store, MD_SG_ACCOUNTS, p)) != APR_SUCCESS) {
        return rv;
    }
    if (names->nelts == 0) {
        return APR_ENOENT;
    }
    if ((rv = md_acme_directory(&dir, acme)) != APR_SUCCESS) {
        return rv;
    }
    order = apr_array_make(p, names->nelts, sizeof(const char *));
    if (preferred && md_array_str_index(names, preferred, 1) >= 0) {
        APR_ARRAY_PUSH(order, const char *) = preferred;
    }
    for (i = 0; i < names->nelts; ++i) {
        const char *id = APR_ARRAY_IDX(names, i, const char *);
        if (!preferred || strcmp(id, preferred)) {
            APR_ARRAY_PUSH(order, const char *) = id;
        }
    }
    for (i = 0; i < order->nelts; ++i) {
        const char *id = APR_ARRAY_IDX(order, i, const char *);
        if (!acct_is_candidate(store, id, dir->url, eab_kid, p)) {
            continue;
        }
        rv = md_acme_acct_validate(pacct, acme, store, id, p);
        if (rv == APR_SUCCESS) {
            return rv;
        }
        if (!APR_STATUS_IS_ENOENT(rv) && !APR_STATUS_IS_EACCES(rv)) {
            return rv; /* the CA is not answering properly: asking about others is pointless */
        }
    }
    md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_ENOENT, "no usable account for %s in %s", dir->url,
                  md_store_dir(store));
    return APR_ENOENT;
}

/* ---- update, deactivate ---- */

apr_status_t md_acme_acct_update(md_acme_acct_t *acct, md_acme_t *acme, md_store_t *store,
                                 const apr_array_header_t *contacts, const char *agreement,
                                 apr_pool_t *p)
{
    const md_acme_directory_t *dir;
    md_acme_res_t *res = NULL;
    md_json_t *payload;
    apr_status_t rv;

    if ((rv = md_acme_directory(&dir, acme)) != APR_SUCCESS) {
        return rv;
    }
    payload = md_json_new_obj(p);
    /* the current contacts go along with an agreement: some CAs (pebble) refuse an update
     * that changes neither contacts nor status */
    md_json_set_strs(payload, "contact", contacts ? contacts : acct->contacts);
    if (agreement) {
        if (!acct_agreed(dir, agreement)) {
            return acct_terms_error(dir->terms_of_service, dir->url);
        }
        md_json_set_bool(payload, "termsOfServiceAgreed", 1);
    }
    if ((rv = md_acme_post(&res, acme, acct->url, payload, p)) != APR_SUCCESS) {
        return acct_post_failed(acme, res, apr_psprintf(p, "updating account %s", acct->id), rv, p);
    }
    if (contacts) {
        acct->contacts = md_array_str_copy(p, contacts);
    }
    if (agreement) {
        acct->agreement = dir->terms_of_service ? dir->terms_of_service : agreement;
    }
    acct_take_registration(acct, res, p);
    return acct_save(store, acct, p);
}

apr_status_t md_acme_acct_deactivate(md_acme_acct_t *acct, md_acme_t *acme, md_store_t *store,
                                     apr_pool_t *p)
{
    md_acme_res_t *res = NULL;
    md_json_t *payload = md_json_new_obj(p);
    apr_status_t rv;

    md_json_set_str(payload, "status", ACCT_DEACTIVATED); /* RFC 8555 7.3.6 */
    if ((rv = md_acme_post(&res, acme, acct->url, payload, p)) != APR_SUCCESS) {
        return acct_post_failed(acme, res, apr_psprintf(p, "deactivating account %s", acct->id), rv,
                                p);
    }
    acct_take_registration(acct, res, p);
    acct->status = ACCT_DEACTIVATED;
    return acct_save(store, acct, p);
}

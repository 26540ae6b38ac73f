/* md_acme_eab.c: external account binding credentials from an operator -- "kid:hmac" text or a
 * JSON file -- parsed and checked before they reach a CA, with errors that never show the key. */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "md_acme_eab.h"
#include "md_json.h"
#include "md_util.h"

apr_status_t md_acme_eab_check_hmac(const char **perr, const char *hmac, apr_pool_t *p)
{
    unsigned char *key;
    apr_size_t len;

    *perr = NULL;
    if (!hmac || !*hmac) {
        *perr = "the HMAC key is empty";
        return APR_EINVAL;
    }
    if (md_base64url_decode(&key, &len, hmac, p) != APR_SUCCESS || len == 0) {
        *perr = "the HMAC key is not base64url (RFC 4648 section 5: A-Z a-z 0-9 - _), as the CA "
                "hands it out";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* text without leading and trailing white space, as a new string */
static char *trimmed(const char *text, apr_size_t len, apr_pool_t *p)
{
    while (len > 0 && apr_isspace(*text)) {
        ++text;
        --len;
    }
    while (len > 0 && apr_isspace(text[len - 1])) {
        --len;
    }
    return apr_pstrmemdup(p, text, len);
}

static apr_status_t eab_from_json(const char **pkid, const char **phmac, const char **perr,
                                  const char *text, apr_pool_t *p)
{
    md_json_t *j;
    const char *err = NULL;

    if (md_json_parse(&j, &err, text, strlen(text), p) != APR_SUCCESS || !md_json_is_obj(j)) {
        *perr = apr_psprintf(p, "not a JSON object {\"kid\": ..., \"hmac\": ...}%s%s",
                             err ? ": " : "", err ? err : "");
        return APR_EINVAL;
    }
    *pkid = md_json_get_str(j, "kid");
    *phmac = md_json_get_str(j, "hmac");
    if (!*pkid || !**pkid || !*phmac) {
        *perr = "the JSON object needs the strings \"kid\" and \"hmac\"";
        return APR_EINVAL;
    }
    *pkid = apr_pstrdup(p, *pkid);
    *phmac = apr_pstrdup(p, *phmac);
    return APR_SUCCESS;
}

apr_status_t md_acme_eab_parse(const char **pkid, const char **phmac, const char **perr,
                               const char *text, apr_size_t len, apr_pool_t *p)
{
    char *s = trimmed(text, len, p), *sep;
    const char *hmac_err;
    apr_status_t rv;

    *pkid = *phmac = *perr = NULL;
    if (*s == '{') {
        rv = eab_from_json(pkid, phmac, perr, s, p);
    } else if ((sep = strrchr(s, ':')) != NULL && sep != s && sep[1]) {
        *sep = '\0';
        *pkid = s;
        *phmac = sep + 1;
        rv = APR_SUCCESS;
    } else {
        *perr = "expected a JSON object {\"kid\": ..., \"hmac\": ...} or 'kid:hmac'";
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS && md_acme_eab_check_hmac(&hmac_err, *phmac, p) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "for key id '%s': %s", *pkid, hmac_err);
        rv = APR_EINVAL;
    }
    if (rv != APR_SUCCESS) {
        *pkid = *phmac = NULL;
    }
    return rv;
}

apr_status_t md_acme_eab_read_file(const char **pkid, const char **phmac, const char **perr,
                                   const char *path, apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    const char *why;
    apr_status_t rv;
    char buf[256];

    *pkid = *phmac = *perr = NULL;
    rv = md_file_read(&data, &len, path, MD_ACME_EAB_MAX_LEN, p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        *perr = apr_psprintf(p, "%s does not exist", path);
        return rv;
    }
    if (rv != APR_SUCCESS) {
        *perr = apr_psprintf(p, "cannot read %s: %s", path, apr_strerror(rv, buf, sizeof(buf)));
        return rv;
    }
    if ((rv = md_acme_eab_parse(pkid, phmac, &why, data, len, p)) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "%s: %s", path, why);
    }
    return rv;
}

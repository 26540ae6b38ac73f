/* md_acme_profile.c: certificate profiles (draft-ietf-acme-profiles) -- reading the CA's
 * list from its directory and choosing what a new order asks for. */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "md_acme_profile.h"
#include "md_util.h"

/* The member of a directory's meta object that lists the profiles (draft section 3). */
#define MD_ACME_META_PROFILES "profiles"

apr_array_header_t *md_acme_profiles_parse(const md_json_t *meta, apr_pool_t *p)
{
    md_json_t *j = md_json_get(meta, MD_ACME_META_PROFILES, p);
    apr_array_header_t *names = md_json_keys(j, p);
    apr_array_header_t *listed = apr_array_make(p, names->nelts, sizeof(md_acme_profile_t *));

    for (int i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        const char *descr = md_json_get_str(j, name);
        md_acme_profile_t *profile;

        if (!descr || !*name) {
            continue;
        }
        profile = apr_pcalloc(p, sizeof(*profile));
        profile->name = name;
        profile->description = apr_pstrdup(p, descr);
        APR_ARRAY_PUSH(listed, const md_acme_profile_t *) = profile;
    }
    return listed;
}

int md_acme_profile_name_ok(const char *name)
{
    if (!name || !*name) {
        return 0;
    }
    for (const char *c = name; *c; ++c) {
        if (apr_iscntrl(*c) || apr_isspace(*c)) {
            return 0;
        }
    }
    return 1;
}

const md_acme_profile_t *md_acme_profile_find(const apr_array_header_t *listed, const char *name)
{
    for (int i = 0; listed && name && i < listed->nelts; ++i) {
        const md_acme_profile_t *profile = APR_ARRAY_IDX(listed, i, const md_acme_profile_t *);
        if (!strcmp(profile->name, name)) {
            return profile;
        }
    }
    return NULL;
}

const char *md_acme_profile_names(const apr_array_header_t *listed, apr_pool_t *p)
{
    apr_array_header_t *names;

    if (!listed || listed->nelts == 0) {
        return "none";
    }
    names = apr_array_make(p, listed->nelts, sizeof(const char *));
    for (int i = 0; i < listed->nelts; ++i) {
        APR_ARRAY_PUSH(names, const char *) =
            APR_ARRAY_IDX(listed, i, const md_acme_profile_t *)->name;
    }
    return md_array_str_join(names, ", ", p);
}

apr_status_t md_acme_profile_choose(const char **pprofile, const char **pwhy, const char *wanted,
                                    int mandatory, const apr_array_header_t *listed, apr_pool_t *p)
{
    *pprofile = NULL;
    *pwhy = NULL;
    if (!wanted || md_acme_profile_find(listed, wanted)) {
        *pprofile = wanted;
        return APR_SUCCESS;
    }
    if (mandatory) {
        *pwhy = apr_psprintf(p,
                             "the CA does not offer the certificate profile '%s' (it offers: %s) "
                             "and MDProfileMandatory is on: no certificate is ordered; set "
                             "MDProfile to one the CA offers, or MDProfileMandatory off",
                             wanted, md_acme_profile_names(listed, p));
        return APR_EINVAL;
    }
    *pwhy = apr_psprintf(p,
                         "the CA does not offer the certificate profile '%s' (it offers: %s): "
                         "ordering without a profile, the CA's default applies",
                         wanted, md_acme_profile_names(listed, p));
    return APR_SUCCESS;
}

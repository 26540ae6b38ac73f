/* md_acme_profile.h: certificate profiles (draft-ietf-acme-profiles) -- what a CA's directory
 * lists, and which profile a new order asks for given MDProfile / MDProfileMandatory. */
#ifndef MD_ACME_PROFILE_H
#define MD_ACME_PROFILE_H

#include "md_acme.h"

/* The profiles of a directory's meta object (its "profiles": name -> description), in the
 * CA's order; entries that are not strings are skipped. Empty when meta lists none. */
apr_array_header_t *md_acme_profiles_parse(const md_json_t *meta, apr_pool_t *p);

/* Whether name can be a profile's name: not empty, printable, without spaces (the draft says
 * no more; CAs use short words like "classic"). */
int md_acme_profile_name_ok(const char *name);

/* The listed profile called name, NULL when the CA does not list it (names are compared
 * exactly: the draft gives them no case rules). listed may be NULL. */
const md_acme_profile_t *md_acme_profile_find(const apr_array_header_t *listed, const char *name);

/* "classic, shortlived" -- the names listed, or "none" -- for messages. */
const char *md_acme_profile_names(const apr_array_header_t *listed, apr_pool_t *p);

/* The profile a new order asks for when the MD wants 'wanted' (NULL: none) and the CA lists
 * 'listed' (NULL or empty: none). *pprofile is what to send ("profile" of newOrder), NULL for
 * none: the CA's default. When the CA does not list the wanted profile, *pwhy names both the
 * profile asked for and those the CA lists: if 'mandatory', the result is APR_EINVAL and no
 * order is to be made; otherwise APR_SUCCESS with *pprofile NULL and *pwhy to be logged as a
 * warning. Else *pwhy is NULL. */
apr_status_t md_acme_profile_choose(const char **pprofile, const char **pwhy, const char *wanted,
                                    int mandatory, const apr_array_header_t *listed, apr_pool_t *p);

#endif

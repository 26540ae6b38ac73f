/* md_core.c: the managed-domain model -- creation with defaults, copies, lookups, and the
 * md.json encoding shared with Apache's bundled mod_md. */
#include <string.h>
#include <apr_strings.h>

#include "md.h"

/* md.json keys, as the bundled mod_md writes them (an interface, so stores can be shared). */
#define MD_KEY_NAME "name"
#define MD_KEY_DOMAINS "domains"
#define MD_KEY_CONTACTS "contacts"
#define MD_KEY_CA "ca"
#define MD_KEY_PROTO "proto"
#define MD_KEY_URL "url"
#define MD_KEY_URLS "urls"
#define MD_KEY_ACCOUNT "account"
#define MD_KEY_AGREEMENT "agreement"
#define MD_KEY_CHALLENGES "challenges"
#define MD_KEY_PRIVKEY "privkey"
#define MD_KEY_STATE "state"
#define MD_KEY_STATE_DESCR "state-descr"
#define MD_KEY_RENEW_MODE "renew-mode"
#define MD_KEY_RENEW_WINDOW "renew-window"
#define MD_KEY_WARN_WINDOW "warn-window"
#define MD_KEY_TRANSITIVE "transitive"
#define MD_KEY_REQUIRE_HTTPS "require-https"
#define MD_KEY_MUST_STAPLE "must-staple"
#define MD_KEY_PROFILE "profile"
#define MD_KEY_PROFILE_MANDATORY "profile-mandatory"
/* ours, not the bundled module's: MDPreferredChain */
#define MD_KEY_PREFERRED_CHAIN "preferred-chain"
#define MD_KEY_ARI_RENEWALS "ari-renewals"

static const char *const require_https_names[] = {"off", "temporary", "permanent"};

md_t *md_create(apr_array_header_t *domains, apr_pool_t *p)
{
    md_t *md = apr_pcalloc(p, sizeof(*md));
    const char *ignored;

    md->domains = domains ? domains : apr_array_make(p, 1, sizeof(const char *));
    md->name = md->domains->nelts ? APR_ARRAY_IDX(md->domains, 0, const char *) : NULL;
    md->contacts = apr_array_make(p, 1, sizeof(const char *));
    md->ca_proto = MD_PROTO_ACME;
    md->ca_urls = apr_array_make(p, 1, sizeof(const char *));
    md->ca_challenges = apr_array_make(p, 1, sizeof(const char *));
    md->renew_mode = MD_RENEW_AUTO;
    md_timeslice_parse(&md->renew_window, MD_RENEW_WINDOW_DEFAULT, &ignored, p);
    md_timeslice_parse(&md->warn_window, MD_WARN_WINDOW_DEFAULT, &ignored, p);
    md->pkey_specs = apr_array_make(p, 1, sizeof(md_pkey_spec_t *));
    md->transitive = 1;
    md->ari_renewals = 1;
    md->state = MD_S_UNKNOWN;
    return md;
}

static apr_array_header_t *specs_copy(const apr_array_header_t *specs, apr_pool_t *p)
{
    apr_array_header_t *copy =
        apr_array_make(p, specs->nelts ? specs->nelts : 1, sizeof(md_pkey_spec_t *));
    int i;

    for (i = 0; i < specs->nelts; ++i) {
        md_pkey_spec_t *spec =
            apr_pmemdup(p, APR_ARRAY_IDX(specs, i, md_pkey_spec_t *), sizeof(md_pkey_spec_t));
        if (spec->curve) {
            spec->curve = apr_pstrdup(p, spec->curve);
        }
        APR_ARRAY_PUSH(copy, md_pkey_spec_t *) = spec;
    }
    return copy;
}

md_t *md_copy(const md_t *src, apr_pool_t *p)
{
    md_t *md = apr_pmemdup(p, src, sizeof(*md));

    md->name = apr_pstrdup(p, src->name);
    md->domains = md_array_str_copy(p, src->domains);
    md->contacts = md_array_str_copy(p, src->contacts);
    md->ca_proto = apr_pstrdup(p, src->ca_proto);
    md->ca_urls = md_array_str_copy(p, src->ca_urls);
    md->ca_account = apr_pstrdup(p, src->ca_account);
    md->ca_agreement = apr_pstrdup(p, src->ca_agreement);
    md->ca_challenges = md_array_str_copy(p, src->ca_challenges);
    md->pkey_specs = specs_copy(src->pkey_specs, p);
    md->eab_kid = apr_pstrdup(p, src->eab_kid);
    md->eab_hmac = apr_pstrdup(p, src->eab_hmac);
    md->eab_file = apr_pstrdup(p, src->eab_file);
    md->state_descr = apr_pstrdup(p, src->state_descr);
    md->profile = apr_pstrdup(p, src->profile);
    md->preferred_chain = apr_pstrdup(p, src->preferred_chain);
    md->defn_file = apr_pstrdup(p, src->defn_file);
    md->proxy = apr_pstrdup(p, src->proxy);
    return md;
}

const apr_array_header_t *md_pkey_specs(const md_t *md, apr_pool_t *p)
{
    apr_array_header_t *specs;

    if (md->pkey_specs && md->pkey_specs->nelts > 0) {
        return md->pkey_specs;
    }
    specs = apr_array_make(p, 1, sizeof(md_pkey_spec_t *));
    APR_ARRAY_PUSH(specs, const md_pkey_spec_t *) = md_pkey_spec_default();
    return specs;
}

int md_contains_domain(const md_t *md, const char *domain)
{
    return md_array_str_index(md->domains, domain, 0) >= 0;
}

const char *md_common_domain(const md_t *a, const md_t *b)
{
    int i;

    for (i = 0; i < a->domains->nelts; ++i) {
        const char *d = APR_ARRAY_IDX(a->domains, i, const char *);
        if (md_contains_domain(b, d)) {
            return d;
        }
    }
    return NULL;
}

/* The window's start, or for a short-lived certificate the moment 1/norm of its lifetime
 * is left when that comes earlier. */
static apr_time_t window_start(const md_timeslice_t *window, int short_norm, apr_time_t not_before,
                               apr_time_t not_after)
{
    apr_time_t at = md_timeslice_start(window, not_before, not_after);
    apr_interval_time_t life = not_after - not_before;
    apr_time_t short_at = not_after - life / short_norm;

    return life > 0 && life < MD_SHORT_LIFETIME && short_at < at ? short_at : at;
}

apr_time_t md_renew_at(const md_t *md, apr_time_t not_before, apr_time_t not_after)
{
    return window_start(&md->renew_window, MD_SHORT_RENEW_NORM, not_before, not_after);
}

apr_time_t md_warn_at(const md_t *md, apr_time_t not_before, apr_time_t not_after)
{
    return window_start(&md->warn_window, MD_SHORT_WARN_NORM, not_before, not_after);
}

const char *md_state_name(md_state_t state)
{
    switch (state) {
    case MD_S_INCOMPLETE:
        return "incomplete";
    case MD_S_COMPLETE:
        return "complete";
    case MD_S_EXPIRED:
        return "expired";
    case MD_S_ERROR:
        return "error";
    default:
        return "unknown";
    }
}

const char *md_renew_mode_name(md_renew_mode_t mode)
{
    switch (mode) {
    case MD_RENEW_MANUAL:
        return "manual";
    case MD_RENEW_ALWAYS:
        return "always";
    default:
        return "auto";
    }
}

apr_status_t md_renew_mode_parse(md_renew_mode_t *pmode, const char *s)
{
    if (!strcasecmp(s, "auto") || !strcasecmp(s, "automatic")) {
        *pmode = MD_RENEW_AUTO;
    } else if (!strcasecmp(s, "manual")) {
        *pmode = MD_RENEW_MANUAL;
    } else if (!strcasecmp(s, "always")) {
        *pmode = MD_RENEW_ALWAYS;
    } else {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

md_json_t *md_to_json(const md_t *md, apr_pool_t *p)
{
    md_json_t *j = md_json_new_obj(p), *ca = md_json_new_obj(p);
    int i;

    md_json_set_str(j, MD_KEY_NAME, md->name);
    md_json_set_strs(j, MD_KEY_DOMAINS, md->domains);
    md_json_set_strs(j, MD_KEY_CONTACTS, md->contacts);
    md_json_set_int(j, MD_KEY_TRANSITIVE, md->transitive);

    md_json_set_str(ca, MD_KEY_PROTO, md->ca_proto);
    if (md->ca_urls && md->ca_urls->nelts > 0) {
        /* the CA in use, as the bundled module writes it beside the list (older ones read it) */
        md_json_set_str(ca, MD_KEY_URL, APR_ARRAY_IDX(md->ca_urls, 0, const char *));
    }
    md_json_set_strs(ca, MD_KEY_URLS, md->ca_urls);
    md_json_set_str(ca, MD_KEY_ACCOUNT, md->ca_account);
    md_json_set_str(ca, MD_KEY_AGREEMENT, md->ca_agreement);
    if (md->ca_challenges && md->ca_challenges->nelts) {
        md_json_set_strs(ca, MD_KEY_CHALLENGES, md->ca_challenges);
    }
    md_json_set(j, MD_KEY_CA, ca);

    if (md->pkey_specs && md->pkey_specs->nelts == 1) {
        /* one spec is an object, several an array: what the bundled module writes and reads */
        md_json_set(j, MD_KEY_PRIVKEY,
                    md_pkey_spec_to_json(APR_ARRAY_IDX(md->pkey_specs, 0, md_pkey_spec_t *), p));
    } else if (md->pkey_specs && md->pkey_specs->nelts > 1) {
        md_json_t *keys = md_json_new_arr(p);
        for (i = 0; i < md->pkey_specs->nelts; ++i) {
            md_json_push(
                keys, md_pkey_spec_to_json(APR_ARRAY_IDX(md->pkey_specs, i, md_pkey_spec_t *), p));
        }
        md_json_set(j, MD_KEY_PRIVKEY, keys);
    }
    /* an MD whose state nobody computed yet has no certificate: the bundled module reads 0
     * as "unknown" and would not drive it */
    md_json_set_int(j, MD_KEY_STATE, md->state == MD_S_UNKNOWN ? MD_S_INCOMPLETE : md->state);
    md_json_set_str(j, MD_KEY_STATE_DESCR, md->state_descr);
    md_json_set_int(j, MD_KEY_RENEW_MODE, md->renew_mode);
    md_json_set_str(j, MD_KEY_RENEW_WINDOW, md_timeslice_format(&md->renew_window, p));
    md_json_set_str(j, MD_KEY_WARN_WINDOW, md_timeslice_format(&md->warn_window, p));
    if (md->require_https > 0 && md->require_https <= 2) {
        md_json_set_str(j, MD_KEY_REQUIRE_HTTPS, require_https_names[md->require_https]);
    }
    md_json_set_bool(j, MD_KEY_MUST_STAPLE, md->must_staple);
    if (md->profile) {
        md_json_set_str(j, MD_KEY_PROFILE, md->profile);
    }
    /* written always, as the bundled module 2.6.10 does (seen in its md.json and md-status) */
    md_json_set_bool(j, MD_KEY_PROFILE_MANDATORY, md->profile_mandatory);
    if (md->preferred_chain) {
        md_json_set_str(j, MD_KEY_PREFERRED_CHAIN, md->preferred_chain);
    }
    md_json_set_bool(j, MD_KEY_ARI_RENEWALS, md->ari_renewals);
    return j;
}

static apr_status_t window_from_json(md_timeslice_t *ts, const md_json_t *j, const char *key,
                                     const char **perr, apr_pool_t *p)
{
    const char *s = md_json_get_str(j, key), *ignored;

    if (!s) {
        return APR_SUCCESS; /* keep the default */
    }
    if (md_timeslice_parse(ts, s, &ignored, p) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "\"%s\": '%s' is not a window like 14d or 33%%", key, s);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static apr_status_t spec_from_json(apr_array_header_t *specs, const md_json_t *j, const char **perr,
                                   apr_pool_t *p)
{
    md_pkey_spec_t *spec;

    if (md_pkey_spec_from_json(&spec, j, p) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "\"%s\" holds something that is not a key specification: %s",
                             MD_KEY_PRIVKEY, md_json_dump(j, 0, p));
        return APR_EINVAL;
    }
    APR_ARRAY_PUSH(specs, md_pkey_spec_t *) = spec;
    return APR_SUCCESS;
}

/* "privkey" is one spec object or an array of them. */
static apr_status_t specs_from_json(apr_array_header_t *specs, const md_json_t *j,
                                    const char **perr, apr_pool_t *p)
{
    apr_size_t i, n = md_json_len(j);
    apr_status_t rv = APR_SUCCESS;

    if (md_json_is_obj(j)) {
        return spec_from_json(specs, j, perr, p);
    }
    for (i = 0; i < n && rv == APR_SUCCESS; ++i) {
        rv = spec_from_json(specs, md_json_at(j, i, p), perr, p);
    }
    return rv;
}

static int require_https_from_json(const md_json_t *j)
{
    const char *s = md_json_get_str(j, MD_KEY_REQUIRE_HTTPS);
    int i;

    for (i = 1; s && i <= 2; ++i) {
        if (!strcasecmp(s, require_https_names[i])) {
            return i;
        }
    }
    return 0;
}

apr_status_t md_from_json(md_t **pmd, const char **perr, const md_json_t *j, apr_pool_t *p)
{
    md_json_t *ca = md_json_get(j, MD_KEY_CA, p);
    apr_array_header_t *domains = md_json_get_strs(j, MD_KEY_DOMAINS, p);
    const char *err = NULL, *url;
    md_t *md;
    apr_status_t rv;

    *pmd = NULL;
    if (!md_json_is_obj(j)) {
        *perr = "not a JSON object";
        return APR_EINVAL;
    }
    if (!domains || domains->nelts == 0) {
        *perr = "\"domains\" is missing or empty";
        return APR_EINVAL;
    }
    md = md_create(domains, p);
    if (md_json_get_str(j, MD_KEY_NAME)) {
        md->name = apr_pstrdup(p, md_json_get_str(j, MD_KEY_NAME));
    }
    if (md_json_has(j, MD_KEY_CONTACTS)) {
        md->contacts = md_json_get_strs(j, MD_KEY_CONTACTS, p);
    }
    md->transitive = (int) md_json_get_int(j, MD_KEY_TRANSITIVE, 1);
    if (md_json_get_str(ca, MD_KEY_PROTO)) {
        md->ca_proto = apr_pstrdup(p, md_json_get_str(ca, MD_KEY_PROTO));
    }
    if (md_json_has(ca, MD_KEY_URLS)) {
        md->ca_urls = md_json_get_strs(ca, MD_KEY_URLS, p);
    } else if ((url = md_json_get_str(ca, MD_KEY_URL)) != NULL) {
        APR_ARRAY_PUSH(md->ca_urls, const char *) = apr_pstrdup(p, url);
    }
    md->ca_account = apr_pstrdup(p, md_json_get_str(ca, MD_KEY_ACCOUNT));
    md->ca_agreement = apr_pstrdup(p, md_json_get_str(ca, MD_KEY_AGREEMENT));
    if (md_json_has(ca, MD_KEY_CHALLENGES)) {
        md->ca_challenges = md_json_get_strs(ca, MD_KEY_CHALLENGES, p);
    }
    if ((rv = specs_from_json(md->pkey_specs, md_json_get(j, MD_KEY_PRIVKEY, p), &err, p)) ||
        (rv = window_from_json(&md->renew_window, j, MD_KEY_RENEW_WINDOW, &err, p)) ||
        (rv = window_from_json(&md->warn_window, j, MD_KEY_WARN_WINDOW, &err, p))) {
        *perr = err;
        return rv;
    }
    md->state = (md_state_t) md_json_get_int(j, MD_KEY_STATE, MD_S_UNKNOWN);
    md->state_descr = apr_pstrdup(p, md_json_get_str(j, MD_KEY_STATE_DESCR));
    md->renew_mode = (md_renew_mode_t) md_json_get_int(j, MD_KEY_RENEW_MODE, MD_RENEW_AUTO);
    if (md->renew_mode > MD_RENEW_ALWAYS) {
        md->renew_mode = MD_RENEW_AUTO;
    }
    md->require_https = require_https_from_json(j);
    md->must_staple = md_json_get_bool(j, MD_KEY_MUST_STAPLE, 0);
    md->profile = apr_pstrdup(p, md_json_get_str(j, MD_KEY_PROFILE));
    md->profile_mandatory = md_json_get_bool(j, MD_KEY_PROFILE_MANDATORY, 0);
    md->preferred_chain = apr_pstrdup(p, md_json_get_str(j, MD_KEY_PREFERRED_CHAIN));
    md->ari_renewals = md_json_get_bool(j, MD_KEY_ARI_RENEWALS, 1);
    *pmd = md;
    return APR_SUCCESS;
}

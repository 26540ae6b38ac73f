/* md.h: the domain model -- a managed domain (MD): its names, contacts, CA, renewal policy
 * and key specs, and the state computed from the store. md.json is its persisted form. */
#ifndef MD_H
#define MD_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "md_util.h"
#include "md_json.h"
#include "md_crypt.h"

#define MD_VERSION "0.1.0"
#define MD_USER_AGENT "mod_md/" MD_VERSION

#define MD_PROTO_ACME "ACME"

/* Numeric values as in md.json of Apache's bundled mod_md, so stores can be shared. */
typedef enum {
    MD_S_UNKNOWN = 0,    /* not yet computed */
    MD_S_INCOMPLETE = 1, /* no (complete) certificate for one of its key specs */
    MD_S_COMPLETE = 2,   /* certificates for all key specs, covering all names, valid */
    MD_S_EXPIRED = 3,    /* certificates there, at least one past notAfter */
    MD_S_ERROR = 4,      /* store content unusable (corrupt file, key mismatch) */
} md_state_t;

typedef enum {
    MD_RENEW_MANUAL = 0, /* never driven by the module; a2md drive does it */
    MD_RENEW_AUTO = 1,   /* driven when the certificate is missing or in its renew window */
    MD_RENEW_ALWAYS = 2, /* driven even when the certificate comes from elsewhere */
} md_renew_mode_t;

/* The most names one certificate carries: what public CAs allow (Let's Encrypt: 100); an MD
 * with more is refused where it is defined, not at the CA after a failed order. */
#define MD_NAMES_MAX 100
#define MD_NAMES_MAX_WHY "a certificate holds at most 100 names at public CAs: split it into MDs"

#define MD_RENEW_WINDOW_DEFAULT "33%"
#define MD_WARN_WINDOW_DEFAULT "10%"
/* A certificate that lives less than this is short-lived (Let's Encrypt's 6-day profile, IP
 * certificates): without ARI it renews at half its life at the latest, and warns when a
 * quarter is left -- the margin for a CA outage that its short windows need. */
#define MD_SHORT_LIFETIME apr_time_from_sec(10 * 86400)
#define MD_SHORT_RENEW_NORM 2 /* renew when 1/2 of the lifetime is left */
#define MD_SHORT_WARN_NORM 4  /* warn when 1/4 is left */

typedef struct md_t {
    const char *name;                  /* the first of its domains, unless set explicitly */
    apr_array_header_t *domains;       /* const char*, checked and lower-cased, no duplicates */
    apr_array_header_t *contacts;      /* const char*, "mailto:..." */
    const char *ca_proto;              /* MD_PROTO_ACME */
    apr_array_header_t *ca_urls;       /* const char*, ACME directory URLs (failover in order) */
    const char *ca_account;            /* account id in accounts/, once one is chosen */
    const char *ca_agreement;          /* terms-of-service URL agreed to, or "accepted" */
    apr_array_header_t *ca_challenges; /* const char*, allowed challenge types; empty: any */
    md_renew_mode_t renew_mode;
    md_timeslice_t renew_window;
    md_timeslice_t warn_window;
    apr_array_header_t *pkey_specs; /* md_pkey_spec_t*; empty means RSA 2048 */
    int transitive;                 /* 1: names of vhosts using the MD are added (MDMembers auto) */
    int require_https;              /* 0 off, 1 temporary, 2 permanent */
    int must_staple;
    const char *profile;   /* certificate profile to order (MDProfile), NULL: the CA's default */
    int profile_mandatory; /* 1: no certificate when the CA does not offer it */
    /* external account binding for registering a new account at the CA (RFC 8555 7.3.4):
     * configuration only, never written to md.json. eab_file: where the operator keeps them
     * (for messages), set also when that file could not be read */
    const char *eab_kid, *eab_hmac, *eab_file;
    const char *preferred_chain; /* MDPreferredChain: root name of the CA's chain to use, NULL */
    int ari_renewals; /* MDRenewViaARI: the CA's renewal information (RFC 9773) may advance renewal
                       */

    /* computed, not configuration */
    md_state_t state;
    const char *state_descr; /* why, in words: "certificate(rsa2048) is missing" */

    /* how to reach its CA, when it has a proxy of its own (MDHttpProxy in its section; not
     * persisted: the configuration says it at each start) */
    const char *proxy;

    /* where it was defined (not persisted), for error messages */
    const char *defn_file;
    int defn_line;
} md_t;

/* A new MD with defaults (ACME, auto, 33% / 10%, RSA 2048 implied) for already checked
 * names; name = domains[0]. */
md_t *md_create(apr_array_header_t *domains, apr_pool_t *p);
md_t *md_copy(const md_t *md, apr_pool_t *p); /* deep */

/* The key specs to use (the default one when none configured). */
const apr_array_header_t *md_pkey_specs(const md_t *md, apr_pool_t *p);

int md_contains_domain(const md_t *md, const char *domain);
/* The first domain both have, or NULL. */
const char *md_common_domain(const md_t *a, const md_t *b);

/* When a certificate valid from not_before to not_after comes into md's renew window
 * (MDRenewWindow), and into its warn window (MDWarnWindow): for a short-lived certificate
 * (MD_SHORT_LIFETIME) never later than half, and a quarter, of its lifetime before its end. */
apr_time_t md_renew_at(const md_t *md, apr_time_t not_before, apr_time_t not_after);
apr_time_t md_warn_at(const md_t *md, apr_time_t not_before, apr_time_t not_after);

const char *md_state_name(md_state_t state);          /* "incomplete", "complete", ... */
const char *md_renew_mode_name(md_renew_mode_t mode); /* "manual", "auto", "always" */
apr_status_t md_renew_mode_parse(md_renew_mode_t *pmode, const char *s);

/* md.json: field names and encodings as in Apache's bundled mod_md ("name", "domains",
 * "contacts", "ca":{"proto","urls","account","agreement"}, "renew-mode", "renew-window",
 * "warn-window", "privkey":[...], "transitive", "require-https", "must-staple", "profile",
 * "profile-mandatory", "state", "ari-renewals"),
 * and of our own: "preferred-chain".
 * Reading also accepts "ca":{"url": "..."} of older stores. Unknown fields are ignored. */
md_json_t *md_to_json(const md_t *md, apr_pool_t *p);
apr_status_t md_from_json(md_t **pmd, const char **perr, const md_json_t *j, apr_pool_t *p);

#endif

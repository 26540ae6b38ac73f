/* mod_md_assemble.c: from the configuration to the MDs the server manages -- settings merged
 * (defaults, global, MD section), vhosts assigned by their names, contacts; at check_config. */
#include <string.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>

#include "md_challenge.h"
#include "mod_md.h"
#include "mod_md_config.h"

APLOG_USE_MODULE(md);

/* The CA when none is configured: Let's Encrypt's production directory. */
#define MD_MOD_CA_DEFAULT "https://acme-v02.api.letsencrypt.org/directory"

static void apply_settings(md_t *md, const md_mod_settings_t *set, apr_pool_t *p)
{
    if (set->renew_mode >= 0) {
        md->renew_mode = (md_renew_mode_t) set->renew_mode;
    }
    if (set->renew_window) {
        md->renew_window = *set->renew_window;
    }
    if (set->warn_window) {
        md->warn_window = *set->warn_window;
    }
    if (set->ca_urls) {
        md->ca_urls = md_array_str_copy(p, set->ca_urls);
    }
    if (set->ca_agreement) {
        md->ca_agreement = set->ca_agreement;
    }
    if (set->ca_challenges) {
        md->ca_challenges = md_array_str_copy(p, set->ca_challenges);
    }
    if (set->proxy) {
        md->proxy = set->proxy;
    }
    if (set->pkey_specs) {
        md->pkey_specs = set->pkey_specs;
    }
    if (set->contact) {
        md->contacts = apr_array_make(p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(md->contacts, const char *) = set->contact;
    }
    if (set->require_https >= 0) {
        md->require_https = set->require_https;
    }
    if (set->must_staple >= 0) {
        md->must_staple = set->must_staple;
    }
    if (set->transitive >= 0) {
        md->transitive = set->transitive;
    }
    if (set->profile) {
        md->profile = set->profile;
    }
    if (set->profile_mandatory >= 0) {
        md->profile_mandatory = set->profile_mandatory;
    }
    if (set->eab) {
        md->eab_kid = set->eab->kid;
        md->eab_hmac = set->eab->hmac;
        md->eab_file = set->eab->file;
    }
    if (set->preferred_chain) {
        md->preferred_chain = set->preferred_chain;
    }
    if (set->ari_renewals >= 0) {
        md->ari_renewals = set->ari_renewals;
    }
}

static apr_status_t md_assemble(md_t **pmd, const md_mod_conf_t *mc, const md_mod_mdef_t *mdef,
                                server_rec *s, apr_pool_t *p)
{
    md_t *md = md_copy(mdef->md, p);
    const char *why;

    if (!mdef->cert_file != !mdef->key_file) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "MD %s (%s:%d) has %s but no %s: give both, or neither", md->name,
                     md->defn_file, md->defn_line,
                     mdef->cert_file ? "MDCertificateFile" : "MDCertificateKeyFile",
                     mdef->cert_file ? "MDCertificateKeyFile" : "MDCertificateFile");
        return APR_EINVAL;
    }
    apply_settings(md, &mc->defaults, p);
    apply_settings(md, &mdef->settings, p);
    if (md_chall_types_check(&why, md->domains, md->ca_challenges, p) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "MD %s (%s:%d): %s", md->name, md->defn_file,
                     md->defn_line, why);
        return APR_EINVAL;
    }
    if (md->ca_urls->nelts == 0) {
        APR_ARRAY_PUSH(md->ca_urls, const char *) = MD_MOD_CA_DEFAULT;
    }
    /* a static certificate is not renewed, unless the operator insists (mode always) */
    if (mdef->cert_file && md->renew_mode == MD_RENEW_AUTO) {
        md->renew_mode = MD_RENEW_MANUAL;
    }
    *pmd = md;
    return APR_SUCCESS;
}

/* ---- vhosts ---- */

/* ServerName, ServerAlias (also wildcard ones), lower-cased; ServerName alone with
 * servername_only. */
static apr_array_header_t *vhost_names_of(const server_rec *s, int servername_only, apr_pool_t *p)
{
    const apr_array_header_t *lists[] = {s->names, s->wild_names};
    apr_array_header_t *names = apr_array_make(p, 5, sizeof(const char *));
    char *name;

    if (s->server_hostname) {
        name = apr_pstrdup(p, s->server_hostname);
        ap_str_tolower(name);
        APR_ARRAY_PUSH(names, const char *) = name;
    }
    for (apr_size_t l = 0; !servername_only && l < sizeof(lists) / sizeof(lists[0]); ++l) {
        for (int i = 0; lists[l] && i < lists[l]->nelts; ++i) {
            name = apr_pstrdup(p, APR_ARRAY_IDX(lists[l], i, const char *));
            ap_str_tolower(name);
            if (md_array_str_index(names, name, 1) < 0) {
                APR_ARRAY_PUSH(names, const char *) = name;
            }
        }
    }
    return names;
}

static apr_array_header_t *vhost_names(const server_rec *s, apr_pool_t *p)
{
    return vhost_names_of(s, 0, p);
}

/* The MDs that have a wildcard name (few, usually none): a name no MD has exactly is only
 * looked for among these. */
static apr_array_header_t *wildcard_mds(const apr_array_header_t *mds, apr_pool_t *p)
{
    apr_array_header_t *wild = apr_array_make(p, 1, sizeof(md_t *));

    for (int i = 0; i < mds->nelts; ++i) {
        md_t *md = APR_ARRAY_IDX(mds, i, md_t *);
        for (int k = 0; k < md->domains->nelts; ++k) {
            if (md_dns_is_wildcard(APR_ARRAY_IDX(md->domains, k, const char *))) {
                APR_ARRAY_PUSH(wild, md_t *) = md;
                break;
            }
        }
    }
    return wild;
}

/* The MD that has name: exactly (via owners), else through one of its wildcard names (mds:
 * the wildcard_mds). */
static md_t *md_of_name(apr_hash_t *owners, const apr_array_header_t *mds, const char *name)
{
    md_t *md = apr_hash_get(owners, name, APR_HASH_KEY_STRING);

    for (int i = 0; !md && i < mds->nelts; ++i) {
        md_t *cand = APR_ARRAY_IDX(mds, i, md_t *);
        for (int k = 0; k < cand->domains->nelts; ++k) {
            const char *d = APR_ARRAY_IDX(cand->domains, k, const char *);
            if (md_dns_is_wildcard(d) && md_dns_matches(d, name)) {
                return cand;
            }
        }
    }
    return md;
}

static int srv_considered(const md_mod_conf_t *mc, const server_rec *s)
{
    return s->is_virtual || mc->base_server == 1;
}

static const char *vhost_where(const server_rec *s, apr_pool_t *p)
{
    return apr_psprintf(p, "%s (%s:%u)", s->server_hostname ? s->server_hostname : "-",
                        s->defn_name ? s->defn_name : "?", s->defn_line_number);
}

/* Each vhost's MD from its names as configured (MDMatchNames servernames: its ServerName only);
 * a vhost with names in two MDs is an error. */
static apr_status_t assign_vhosts(md_mod_conf_t *mc, apr_hash_t *owners, server_rec *base,
                                  apr_pool_t *p)
{
    const apr_array_header_t *wild = wildcard_mds(mc->mds, p);

    for (server_rec *s = base; s; s = s->next) {
        md_mod_srv_t *srv = md_mod_srv_get(s);
        const apr_array_header_t *names;
        const char *first_name = NULL;

        srv->md = NULL;
        if (!srv_considered(mc, s)) {
            continue;
        }
        names = vhost_names_of(s, mc->match_servernames, p);
        for (int i = 0; i < names->nelts; ++i) {
            const char *name = APR_ARRAY_IDX(names, i, const char *);
            md_t *md = md_of_name(owners, wild, name);
            if (!md || md == srv->md) {
                continue;
            }
            if (srv->md) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, base,
                             "vhost %s has names in two MDs: %s is in MD %s (%s:%d), %s in MD %s "
                             "(%s:%d); a vhost can use one MD only: move the names of one MD to "
                             "a vhost of its own, or into one MD",
                             vhost_where(s, p), first_name, srv->md->name, srv->md->defn_file,
                             srv->md->defn_line, name, md->name, md->defn_file, md->defn_line);
                return APR_EINVAL;
            }
            srv->md = md;
            first_name = name;
        }
    }
    return APR_SUCCESS;
}

/* MDMembers auto: the other names of a vhost join its MD. */
static apr_status_t add_transitive_names(md_mod_conf_t *mc, apr_hash_t *owners, server_rec *base,
                                         apr_pool_t *p)
{
    apr_array_header_t *wild = wildcard_mds(mc->mds, p);

    for (server_rec *s = base; s; s = s->next) {
        md_t *md = (md_t *) md_mod_srv_get(s)->md; /* ours: mds are built here */
        const apr_array_header_t *names;
        const char *norm, *why;

        if (!md || !md->transitive) {
            continue;
        }
        names = vhost_names(s, p);
        for (int i = 0; i < names->nelts; ++i) {
            const char *name = APR_ARRAY_IDX(names, i, const char *);
            md_t *owner = md_of_name(owners, wild, name);
            if (owner == md) {
                continue;
            }
            if (owner) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, base,
                             "vhost %s uses MD %s, so its name %s would join that MD, but "
                             "another vhost already put it into MD %s; remove the name from one "
                             "of the vhosts, or write 'MDMembers manual' in MD %s",
                             vhost_where(s, p), md->name, name, owner->name, md->name);
                return APR_EINVAL;
            }
            /* an address (an internal one, often) is no name a CA validates for everyone */
            if (md_dns_name_check(&norm, &why, name, p) != APR_SUCCESS || md_ip_is_addr(norm)) {
                ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, base,
                             "MD %s: name %s of vhost %s is not added: %s", md->name, name,
                             vhost_where(s, p),
                             why ? why : "an IP address joins an MD only when MDomain names it");
                continue;
            }
            if (md->domains->nelts >= MD_NAMES_MAX) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, base,
                             "MD %s (%s:%d) would get more than %d names from its vhosts "
                             "(MDMembers auto; %s of vhost %s is one too many); " MD_NAMES_MAX_WHY
                             ", or write 'MDMembers manual'",
                             md->name, md->defn_file, md->defn_line, MD_NAMES_MAX, norm,
                             vhost_where(s, p));
                return APR_EINVAL;
            }
            APR_ARRAY_PUSH(md->domains, const char *) = norm;
            apr_hash_set(owners, norm, APR_HASH_KEY_STRING, md);
            if (md_dns_is_wildcard(norm)) {
                APR_ARRAY_PUSH(wild, md_t *) = md; /* the names still to come may match it */
            }
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, base, "MD %s: added %s from vhost %s",
                         md->name, norm, vhost_where(s, p));
        }
    }
    return APR_SUCCESS;
}

/* ---- contacts ---- */

/* ServerAdmin is only used when it looks like an address a CA accepts: x@y.z, given with or
 * without "mailto:" (httpd allows a URL there) */
static const char *admin_contact(const server_rec *s, apr_pool_t *p)
{
    const char *admin = s->server_admin, *at;

    if (!admin) {
        return NULL;
    }
    if (!strncasecmp(admin, "mailto:", 7)) {
        admin += 7;
    }
    at = strchr(admin, '@');
    if (!at || at == admin || !strchr(at + 1, '.') || strpbrk(admin, " \t,;<>")) {
        return NULL;
    }
    return apr_pstrcat(p, "mailto:", admin, NULL);
}

/* An MD without MDContactEmail takes the ServerAdmin of its first vhost that has a usable one,
 * else the base server's: one pass over the servers. */
static void set_contacts(md_mod_conf_t *mc, server_rec *base, apr_pool_t *p)
{
    const char *fallback = admin_contact(base, p), *contact;
    apr_hash_t *had = apr_hash_make(p); /* MDs with contacts of their own */

    for (int i = 0; i < mc->mds->nelts; ++i) {
        md_t *md = APR_ARRAY_IDX(mc->mds, i, md_t *);
        if (md->contacts->nelts > 0) {
            apr_hash_set(had, apr_pmemdup(p, &md, sizeof(md)), sizeof(md), md);
        }
    }
    for (server_rec *s = base; s; s = s->next) {
        md_t *md = (md_t *) md_mod_srv_get(s)->md;
        if (md && md->contacts->nelts == 0 && (contact = admin_contact(s, p))) {
            APR_ARRAY_PUSH(md->contacts, const char *) = contact;
        }
    }
    for (int i = 0; fallback && i < mc->mds->nelts; ++i) {
        md_t *md = APR_ARRAY_IDX(mc->mds, i, md_t *);
        if (md->contacts->nelts == 0 && !apr_hash_get(had, &md, sizeof(md))) {
            APR_ARRAY_PUSH(md->contacts, const char *) = fallback;
        }
    }
}

void md_mod_config_warnings(server_rec *base, const md_mod_conf_t *mc)
{
    apr_pool_t *p;
    apr_hash_t *used;

    if (apr_pool_create(&p, base->process->pool) != APR_SUCCESS) {
        return;
    }
    used = apr_hash_make(p);
    for (server_rec *s = base; s; s = s->next) {
        const md_t *md = md_mod_srv_get(s)->md;
        if (md) {
            apr_hash_set(used, apr_pmemdup(p, &md, sizeof(md)), sizeof(md), md);
        }
    }
    for (int i = 0; i < mc->mds->nelts; ++i) {
        const md_t *md = APR_ARRAY_IDX(mc->mds, i, const md_t *);
        if (!apr_hash_get(used, &md, sizeof(md))) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, base,
                         "MD %s (%s:%d) is not used by any vhost: no ServerName/ServerAlias "
                         "matches its names; it is kept in the store but not renewed, and no "
                         "certificate of it is served",
                         md->name, md->defn_file, md->defn_line);
        }
    }
    apr_pool_destroy(p);
}

/* check_config: runs at configtest too, so every mistake here stops 'apachectl configtest'. */
static int config_finish(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *base)
{
    md_mod_conf_t *mc = md_mod_srv_get(base)->mc;
    apr_hash_t *owners = apr_hash_make(ptemp);
    md_t *md;

    (void) plog;
    apr_array_clear(mc->mds);
    for (int i = 0; i < mc->mdefs->nelts; ++i) {
        const md_mod_mdef_t *mdef = APR_ARRAY_IDX(mc->mdefs, i, const md_mod_mdef_t *);
        if (md_assemble(&md, mc, mdef, base, pconf) != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        for (int k = 0; k < md->domains->nelts; ++k) {
            apr_hash_set(owners, APR_ARRAY_IDX(md->domains, k, const char *), APR_HASH_KEY_STRING,
                         md);
        }
        APR_ARRAY_PUSH(mc->mds, md_t *) = md;
    }
    if (assign_vhosts(mc, owners, base, ptemp) != APR_SUCCESS ||
        add_transitive_names(mc, owners, base, pconf) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    set_contacts(mc, base, pconf);
    if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_TEST) {
        md_mod_config_warnings(base, mc); /* else post_config logs them, into the error log */
    }
    return OK;
}

void md_mod_config_hooks(void)
{
    ap_hook_check_config(config_finish, NULL, NULL, APR_HOOK_MIDDLE);
}

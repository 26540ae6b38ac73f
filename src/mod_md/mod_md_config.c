/* mod_md_config.c: the directive table and the handlers of MD definitions (lines and sections)
 * and their settings, checked while httpd reads the config so that configtest names file:line. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "md_acme_profile.h"
#include "md_challenge.h"
#include "mod_md.h"
#include "mod_md_config_int.h"
#include "mod_md_config.h"

/* The CAs MDCertificateAuthority knows by name (as the bundled module does). */
typedef struct {
    const char *name, *url;
} md_mod_ca_name_t;

static const md_mod_ca_name_t ca_names[] = {
    {"letsencrypt", "https://acme-v02.api.letsencrypt.org/directory"},
    {"letsencrypt-test", "https://acme-staging-v02.api.letsencrypt.org/directory"},
    {"buypass", "https://api.buypass.com/acme/directory"},
    {"buypass-test", "https://api.test4.buypass.no/acme/directory"},
};
#define MD_MOD_CA_NAMES "letsencrypt, letsencrypt-test, buypass, buypass-test"
/* what MDCertificateAgreement accepts instead of the terms' URL */
#define MD_MOD_AGREEMENT_ACCEPTED "accepted"

APLOG_USE_MODULE(md);

/* ---- where a directive stands (mod_md_config_int.h) ---- */

/* Inside an MD section, httpd hands every handler our section's md_mod_mdef_t as 'mconfig'
 * (see section_mdomain); elsewhere mconfig is NULL, as the module has no directory config. */
md_mod_conf_t *md_mod_conf_of(cmd_parms *cmd)
{
    return md_mod_srv_get(cmd->server)->mc;
}

const char *md_mod_not_in_vhost(cmd_parms *cmd)
{
    if (cmd->server->is_virtual) {
        return apr_psprintf(cmd->pool,
                            "%s is not allowed inside <VirtualHost>: MDs and their settings belong "
                            "to the global server config (a vhost uses an MD through its "
                            "ServerName/ServerAlias); move it outside",
                            cmd->cmd->name);
    }
    return ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
}

/* For directives that apply to all MDs: not in a vhost, not in an MD section. */
const char *md_mod_global_only(cmd_parms *cmd, void *mconfig)
{
    const md_mod_mdef_t *mdef = mconfig;

    if (mdef) {
        return apr_psprintf(cmd->pool,
                            "%s applies to all MDs and is not allowed inside the section of MD %s: "
                            "move it outside the section",
                            cmd->cmd->name, mdef->md->name);
    }
    return md_mod_not_in_vhost(cmd);
}

/* Settings of the MD section the directive stands in, else the global ones. */
md_mod_settings_t *md_mod_settings_of(cmd_parms *cmd, void *mconfig)
{
    md_mod_mdef_t *mdef = mconfig;

    return mdef ? &mdef->settings : &md_mod_conf_of(cmd)->defaults;
}

const char *md_mod_file_check(cmd_parms *cmd, const char **ppath, const char *arg, int executable)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t fi;

    if (!path) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid path", cmd->cmd->name, arg);
    }
    if (apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_PROT, cmd->temp_pool) != APR_SUCCESS ||
        fi.filetype != APR_REG) {
        return apr_psprintf(cmd->pool,
                            "%s: file %s does not exist: give the path of an existing "
                            "file (relative paths are taken from the ServerRoot)",
                            cmd->cmd->name, path);
    }
    if (executable && !(fi.protection & (APR_UEXECUTE | APR_GEXECUTE | APR_WEXECUTE))) {
        return apr_psprintf(cmd->pool, "%s: %s is not executable: chmod +x it", cmd->cmd->name,
                            path);
    }
    *ppath = path;
    return NULL;
}

int md_mod_is_http_url(const char *s)
{
    return !strncasecmp(s, "https://", 8) || !strncasecmp(s, "http://", 7);
}

/* ---- MD definitions ---- */

/* name is normalised (md_dns_name_check): the table holds every MD's names as given. */
static md_mod_mdef_t *mdef_of_name(const md_mod_conf_t *mc, const char *name)
{
    return apr_hash_get(mc->mdef_names, name, APR_HASH_KEY_STRING);
}

/* The words auto/manual of MDMembers: 1 when word is one of them (and sets it). */
static int transitive_word(md_mod_settings_t *settings, const char *word)
{
    if (!strcasecmp(word, "auto") || !strcasecmp(word, "manual")) {
        settings->transitive = !strcasecmp(word, "auto");
        return 1;
    }
    return 0;
}

/* Adds names (and the words auto/manual) to mdef: each name checked, none in another MD. */
static const char *mdef_add_names(cmd_parms *cmd, md_mod_mdef_t *mdef, int argc, char *const argv[])
{
    const char *norm, *err;
    md_mod_mdef_t *other;

    for (int i = 0; i < argc; ++i) {
        if (transitive_word(&mdef->settings, argv[i])) {
            continue;
        }
        if (md_dns_name_check(&norm, &err, argv[i], cmd->pool) != APR_SUCCESS) {
            return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
        }
        other = mdef_of_name(md_mod_conf_of(cmd), norm);
        if (other == mdef) {
            continue; /* given twice for the same MD: harmless */
        }
        if (other) {
            return apr_psprintf(cmd->pool,
                                "%s: %s is already part of MD %s (defined at %s:%d); a name "
                                "belongs to one MD only: remove it from one of them",
                                cmd->cmd->name, norm, other->md->name, other->md->defn_file,
                                other->md->defn_line);
        }
        if (mdef->md->domains->nelts >= MD_NAMES_MAX) {
            return apr_psprintf(cmd->pool, "%s: MD %s gets more than %d names; " MD_NAMES_MAX_WHY,
                                cmd->cmd->name, mdef->md->name ? mdef->md->name : norm,
                                MD_NAMES_MAX);
        }
        APR_ARRAY_PUSH(mdef->md->domains, const char *) = norm;
        apr_hash_set(md_mod_conf_of(cmd)->mdef_names, norm, APR_HASH_KEY_STRING, mdef);
        if (!mdef->md->name) {
            mdef->md->name = norm;
        }
    }
    if (!mdef->md->name) {
        int section = cmd->cmd->name[0] == '<';
        return apr_psprintf(cmd->pool,
                            "%s%s needs at least one domain name, e.g. %s example.org "
                            "www.example.org%s",
                            cmd->cmd->name, section ? ">" : "", cmd->cmd->name, section ? ">" : "");
    }
    return NULL;
}

static const char *mdef_create(md_mod_mdef_t **pmdef, cmd_parms *cmd, int argc, char *const argv[])
{
    md_mod_conf_t *mc = md_mod_conf_of(cmd);
    md_mod_mdef_t *mdef = apr_pcalloc(cmd->pool, sizeof(*mdef));
    const char *err;

    mdef->md = md_create(NULL, cmd->pool);
    mdef->md->defn_file = cmd->directive->filename;
    mdef->md->defn_line = cmd->directive->line_num;
    mdef->settings.renew_mode = -1;
    mdef->settings.require_https = -1;
    mdef->settings.must_staple = -1;
    mdef->settings.transitive = -1;
    mdef->settings.profile_mandatory = -1;
    mdef->settings.stapling = -1;
    mdef->settings.ari_renewals = -1;
    if ((err = mdef_add_names(cmd, mdef, argc, argv)) != NULL) {
        return err;
    }
    APR_ARRAY_PUSH(mc->mdefs, md_mod_mdef_t *) = mdef;
    *pmdef = mdef;
    return NULL;
}

static const char *set_mdomain(cmd_parms *cmd, void *mconfig, int argc, char *const argv[])
{
    md_mod_mdef_t *mdef;
    const char *err;

    if (mconfig) {
        return apr_psprintf(cmd->pool,
                            "%s cannot stand inside an MD section: use MDMember to "
                            "add names to this MD, or move it outside",
                            cmd->cmd->name);
    }
    /* inside a <VirtualHost> too, as the bundled module allows: the MD is defined for the whole
     * server all the same, and vhosts find it by their names */
    if ((err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) != NULL) {
        return err;
    }
    return mdef_create(&mdef, cmd, argc, argv);
}

static int is_md_directive(const char *name)
{
    for (const command_rec *c = md_mod_cmds; c->name; ++c) {
        if (!strcasecmp(c->name, name)) {
            return 1;
        }
    }
    return 0;
}

/* <ManagedDomain name...> / <MDomainSet name...> / <MDomain name...>: the settings inside apply
 * to that MD. httpd hands the enclosed directives to their handlers with our mdef as their
 * 'mconfig'. */
static const char *section_mdomain(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *endp = ap_strrchr_c(arg, '>'), *err, *word;
    apr_array_header_t *names = apr_array_make(cmd->temp_pool, 5, sizeof(char *));
    ap_directive_t *section = cmd->directive, *child;
    ap_conf_vector_t *vec;
    md_mod_mdef_t *mdef;
    char *args;

    if (mconfig) {
        return apr_psprintf(cmd->pool,
                            "%s> sections cannot nest: close the section of MD %s "
                            "first",
                            cmd->cmd->name, ((md_mod_mdef_t *) mconfig)->md->name);
    }
    if ((err = md_mod_not_in_vhost(cmd)) != NULL) {
        return err;
    }
    if (!endp) {
        return apr_psprintf(cmd->pool, "%s> section is missing its closing '>'", cmd->cmd->name);
    }
    args = apr_pstrndup(cmd->temp_pool, arg, (apr_size_t) (endp - arg));
    while (*(word = ap_getword_conf(cmd->temp_pool, (const char **) &args)) != '\0') {
        APR_ARRAY_PUSH(names, char *) = (char *) word;
    }
    if ((err = mdef_create(&mdef, cmd, names->nelts, (char *const *) names->elts)) != NULL) {
        return err;
    }
    for (child = section->first_child; child; child = child->next) {
        if (!is_md_directive(child->directive)) {
            cmd->err_directive = child;
            return apr_psprintf(cmd->pool,
                                "%s is not allowed inside the section of MD %s: only "
                                "MD directives (MDMember, MDPrivateKeys, ...) belong there",
                                child->directive, mdef->md->name);
        }
    }
    vec = ap_create_per_dir_config(cmd->pool);
    ap_set_module_config(vec, &md_module, mdef);
    return ap_walk_config(section->first_child, cmd, vec);
}

static const char *set_members(cmd_parms *cmd, void *mconfig, int argc, char *const argv[])
{
    md_mod_mdef_t *mdef = mconfig;
    const char *err;

    if (mdef) {
        return mdef_add_names(cmd, mdef, argc, argv);
    }
    if ((err = md_mod_not_in_vhost(cmd)) != NULL) {
        return err;
    }
    if (argc != 1 || !transitive_word(&md_mod_conf_of(cmd)->defaults, argv[0])) {
        return apr_psprintf(cmd->pool,
                            "%s: outside an MD section only 'auto' or 'manual' is "
                            "allowed; names go inside <MDomainSet name...> sections",
                            cmd->cmd->name);
    }
    return NULL;
}

/* httpd hands a TAKE_ARGV directive its first 64 words only and drops the rest without a word:
 * the lists of names take their line raw and split it here. */
static void words_of(int *pargc, char ***pargv, cmd_parms *cmd, const char *line)
{
    apr_array_header_t *words = apr_array_make(cmd->temp_pool, 8, sizeof(char *));
    const char *w;

    while (*(w = ap_getword_conf(cmd->pool, &line)) != '\0') {
        APR_ARRAY_PUSH(words, char *) = (char *) w;
    }
    *pargc = words->nelts;
    *pargv = (char **) words->elts;
}

static const char *set_mdomain_raw(cmd_parms *cmd, void *mconfig, const char *line)
{
    int argc;
    char **argv;

    words_of(&argc, &argv, cmd, line);
    return set_mdomain(cmd, mconfig, argc, argv);
}

static const char *set_members_raw(cmd_parms *cmd, void *mconfig, const char *line)
{
    int argc;
    char **argv;

    words_of(&argc, &argv, cmd, line);
    return set_members(cmd, mconfig, argc, argv);
}

/* ---- settings an MD section can override ---- */

static const char *set_agreement(cmd_parms *cmd, void *mconfig, const char *arg)
{
    MD_MOD_SETTING_CHECK(cmd, mconfig);
    if (strcasecmp(arg, MD_MOD_AGREEMENT_ACCEPTED) && !md_mod_is_http_url(arg)) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is neither 'accepted' nor the URL of the CA's "
                            "terms of service; write 'MDCertificateAgreement accepted'",
                            cmd->cmd->name, arg);
    }
    md_mod_settings_of(cmd, mconfig)->ca_agreement =
        strcasecmp(arg, MD_MOD_AGREEMENT_ACCEPTED) ? arg : MD_MOD_AGREEMENT_ACCEPTED;
    return NULL;
}

static const char *set_eab(cmd_parms *cmd, void *mconfig, const char *a1, const char *a2)
{
    MD_MOD_SETTING_CHECK(cmd, mconfig);
    return md_mod_eab_parse(&md_mod_settings_of(cmd, mconfig)->eab, cmd, a1, a2);
}

static const char *set_contact(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *addr = strncasecmp(arg, "mailto:", 7) ? arg : arg + 7;
    const char *at = strchr(addr, '@');

    MD_MOD_SETTING_CHECK(cmd, mconfig);
    if (!at || at == addr || !at[1] || strchr(at + 1, '@') || strpbrk(addr, " \t,;<>")) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not an email address; write e.g. "
                            "'%s admin@example.org'",
                            cmd->cmd->name, arg, cmd->cmd->name);
    }
    md_mod_settings_of(cmd, mconfig)->contact = apr_pstrcat(cmd->pool, "mailto:", addr, NULL);
    return NULL;
}

static const char *set_ca(cmd_parms *cmd, void *mconfig, int argc, char *const argv[])
{
    md_mod_settings_t *settings = md_mod_settings_of(cmd, mconfig);
    const char *url;

    MD_MOD_SETTING_CHECK(cmd, mconfig);
    if (argc < 1) {
        return apr_psprintf(
            cmd->pool,
            "%s needs the URL of an ACME directory, or one of the names " MD_MOD_CA_NAMES,
            cmd->cmd->name);
    }
    /* several lines in one scope add to the failover list */
    if (!settings->ca_urls) {
        settings->ca_urls = apr_array_make(cmd->pool, argc, sizeof(const char *));
    }
    for (int i = 0; i < argc; ++i) {
        url = md_mod_is_http_url(argv[i]) ? argv[i] : NULL;
        for (apr_size_t k = 0; !url && k < sizeof(ca_names) / sizeof(ca_names[0]); ++k) {
            url = strcasecmp(argv[i], ca_names[k].name) ? NULL : ca_names[k].url;
        }
        if (!url) {
            return apr_psprintf(cmd->pool,
                                "%s: '%s' is not a URL; give the https:// URL of the "
                                "CA's ACME directory, or one of the names " MD_MOD_CA_NAMES,
                                cmd->cmd->name, argv[i]);
        }
        if (md_array_str_index(settings->ca_urls, url, 1) < 0) {
            APR_ARRAY_PUSH(settings->ca_urls, const char *) = url;
        }
    }
    return NULL;
}

static const char *set_ca_proto(cmd_parms *cmd, void *mconfig, const char *arg)
{
    MD_MOD_SETTING_CHECK(cmd, mconfig);
    if (strcasecmp(arg, MD_PROTO_ACME)) {
        return apr_psprintf(cmd->pool,
                            "%s: protocol '%s' is not supported; the only one is "
                            "ACME (write '%s ACME' or drop the line)",
                            cmd->cmd->name, arg, cmd->cmd->name);
    }
    return NULL;
}

static const char *set_renew_mode(cmd_parms *cmd, void *mconfig, const char *arg)
{
    md_renew_mode_t mode;

    MD_MOD_SETTING_CHECK(cmd, mconfig);
    if (md_renew_mode_parse(&mode, arg) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: unknown mode '%s'; write auto, manual or always",
                            cmd->cmd->name, arg);
    }
    md_mod_settings_of(cmd, mconfig)->renew_mode = (int) mode;
    return NULL;
}

/* MDRenewWindow, MDWarnWindow (per MD) and MDStaplingRenewWindow (global); cmd->info says
 * which. */
static const char *set_window(cmd_parms *cmd, void *mconfig, const char *arg)
{
    md_mod_settings_t *settings = md_mod_settings_of(cmd, mconfig);
    md_timeslice_t *ts = apr_pcalloc(cmd->pool, sizeof(*ts));
    const char *err;

    if (!strcmp(cmd->info, "stapling")) {
        MD_MOD_GLOBAL_CHECK(cmd, mconfig);
    } else {
        MD_MOD_SETTING_CHECK(cmd, mconfig);
    }
    if (md_timeslice_parse(ts, arg, &err, cmd->pool) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool,
                            "%s: %s; write a duration like 21d or a share of the "
                            "%s like 33%%",
                            cmd->cmd->name, err,
                            strcmp(cmd->info, "stapling") ? "certificate's lifetime"
                                                          : "OCSP response's validity");
    }
    if (!strcmp(cmd->info, "renew")) {
        settings->renew_window = ts;
    } else if (!strcmp(cmd->info, "stapling")) {
        md_mod_conf_of(cmd)->stapling_window = ts;
    } else {
        settings->warn_window = ts;
    }
    return NULL;
}

static const char *set_pkeys(cmd_parms *cmd, void *mconfig, int argc, char *const argv[])
{
    apr_array_header_t *specs;
    const char *err;

    MD_MOD_SETTING_CHECK(cmd, mconfig);
    if (argc < 1) {
        return apr_psprintf(cmd->pool, "%s needs a key type, e.g. 'RSA 2048' or secp256r1",
                            cmd->cmd->name);
    }
    if (!strcasecmp(argv[0], "Default")) {
        /* the built-in default (RSA 2048), e.g. inside an MD when the global one differs */
        if (argc > 1) {
            return apr_psprintf(cmd->pool, "%s: 'Default' stands alone, without other key types",
                                cmd->cmd->name);
        }
        md_mod_settings_of(cmd, mconfig)->pkey_specs = apr_array_make(cmd->pool, 0, sizeof(void *));
        return NULL;
    }
    if (md_pkey_specs_parse(&specs, &err, argc, (const char *const *) argv, cmd->pool) !=
        APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    md_mod_settings_of(cmd, mconfig)->pkey_specs = specs;
    return NULL;
}

static const char *set_challenges(cmd_parms *cmd, void *mconfig, int argc, char *const argv[])
{
    static const char *const known[] = {MD_CHALL_HTTP01, MD_CHALL_TLSALPN01, MD_CHALL_DNS01,
                                        MD_CHALL_DNSPERSIST01};
    apr_array_header_t *types = apr_array_make(cmd->pool, argc, sizeof(const char *));

    MD_MOD_SETTING_CHECK(cmd, mconfig);
    for (int i = 0; i < argc; ++i) {
        const char *type = NULL;
        for (apr_size_t k = 0; k < sizeof(known) / sizeof(known[0]); ++k) {
            if (!strcasecmp(argv[i], known[k])) {
                type = known[k];
            }
        }
        if (!type) {
            return apr_psprintf(cmd->pool,
                                "%s: unknown challenge type '%s'; write one or more "
                                "of http-01, tls-alpn-01, dns-01, dns-persist-01",
                                cmd->cmd->name, argv[i]);
        }
        if (md_array_str_index(types, type, 1) < 0) {
            APR_ARRAY_PUSH(types, const char *) = type;
        }
    }
    if (types->nelts == 0) {
        return apr_psprintf(cmd->pool,
                            "%s needs at least one of http-01, tls-alpn-01, dns-01, dns-persist-01",
                            cmd->cmd->name);
    }
    md_mod_settings_of(cmd, mconfig)->ca_challenges = types;
    return NULL;
}

static const char *set_preferred_chain(cmd_parms *cmd, void *mconfig, const char *arg)
{
    MD_MOD_SETTING_CHECK(cmd, mconfig);
    if (!*arg) {
        return apr_psprintf(cmd->pool,
                            "%s needs the name of a root, as its certificate's CN shows it, "
                            "e.g. \"ISRG Root X1\"",
                            cmd->cmd->name);
    }
    md_mod_settings_of(cmd, mconfig)->preferred_chain = arg;
    return NULL;
}

static const char *set_require_https(cmd_parms *cmd, void *mconfig, const char *arg)
{
    static const char *const words[] = {"off", "temporary", "permanent"};

    MD_MOD_SETTING_CHECK(cmd, mconfig);
    for (int i = 0; i < (int) (sizeof(words) / sizeof(words[0])); ++i) {
        if (!strcasecmp(arg, words[i])) {
            md_mod_settings_of(cmd, mconfig)->require_https = i;
            return NULL;
        }
    }
    return apr_psprintf(cmd->pool, "%s: unknown value '%s'; write off, temporary or permanent",
                        cmd->cmd->name, arg);
}

/* draft-ietf-acme-profiles: a name the CA lists in its directory; whether it does is known
 * only when ordering (the driver says so then). */
static const char *set_profile(cmd_parms *cmd, void *mconfig, const char *arg)
{
    MD_MOD_SETTING_CHECK(cmd, mconfig);
    if (!md_acme_profile_name_ok(arg)) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a profile name; write one name the CA lists in "
                            "its directory, e.g. '%s shortlived'",
                            cmd->cmd->name, arg, cmd->cmd->name);
    }
    md_mod_settings_of(cmd, mconfig)->profile = arg;
    return NULL;
}

static const char *set_profile_mandatory(cmd_parms *cmd, void *mconfig, int flag)
{
    MD_MOD_SETTING_CHECK(cmd, mconfig);
    md_mod_settings_of(cmd, mconfig)->profile_mandatory = flag;
    return NULL;
}

static const char *set_renew_via_ari(cmd_parms *cmd, void *mconfig, const char *arg)
{
    MD_MOD_SETTING_CHECK(cmd, mconfig);
    if (strcasecmp(arg, "on") && strcasecmp(arg, "off")) {
        return apr_psprintf(cmd->pool,
                            "%s: unknown value '%s'; write on (renew when the CA's renewal "
                            "information says so) or off (MDRenewWindow alone decides)",
                            cmd->cmd->name, arg);
    }
    md_mod_settings_of(cmd, mconfig)->ari_renewals = !strcasecmp(arg, "on");
    return NULL;
}

/* ---- only inside an MD section ---- */

/* MDCertificateFile and MDCertificateKeyFile; cmd->info says which. */
static const char *set_static_file(cmd_parms *cmd, void *mconfig, const char *arg)
{
    md_mod_mdef_t *mdef = mconfig;
    const char *path, *err;

    if (!mdef) {
        return apr_psprintf(cmd->pool,
                            "%s is only allowed inside an MD section "
                            "(<MDomainSet name...>): it gives that MD a certificate that is not "
                            "renewed",
                            cmd->cmd->name);
    }
    if ((err = md_mod_file_check(cmd, &path, arg, 0)) != NULL) {
        return err;
    }
    if (!strcmp(cmd->info, "cert")) {
        mdef->cert_file = path;
    } else {
        mdef->key_file = path;
    }
    return NULL;
}

/* ---- the table ---- */

#define MD_CMD_ARGV(name, fn, info, help) AP_INIT_TAKE_ARGV(name, fn, info, RSRC_CONF, help)
#define MD_CMD_TAKE1(name, fn, info, help) AP_INIT_TAKE1(name, fn, info, RSRC_CONF, help)

const command_rec md_mod_cmds[] = {
    AP_INIT_RAW_ARGS("ManagedDomain", set_mdomain_raw, NULL, RSRC_CONF,
                     "names of a managed domain (MD); the first one is its name"),
    AP_INIT_RAW_ARGS("MDomain", set_mdomain_raw, NULL, RSRC_CONF, "synonym of ManagedDomain"),
    AP_INIT_RAW_ARGS("<ManagedDomain", section_mdomain, NULL, RSRC_CONF,
                     "section with the names of an MD and settings for it alone"),
    AP_INIT_RAW_ARGS("<MDomainSet", section_mdomain, NULL, RSRC_CONF, "synonym of <ManagedDomain"),
    AP_INIT_RAW_ARGS("<MDomain", section_mdomain, NULL, RSRC_CONF, "synonym of <ManagedDomain"),
    AP_INIT_RAW_ARGS("MDMember", set_members_raw, NULL, RSRC_CONF,
                     "names added to the MD of the section"),
    AP_INIT_RAW_ARGS("MDMembers", set_members_raw, NULL, RSRC_CONF,
                     "names added to the MD of the section, or auto|manual: whether the names of "
                     "vhosts using the MD are added"),
    MD_CMD_TAKE1("MDCertificateAgreement", set_agreement, NULL,
                 "'accepted' or the URL of the CA's terms of service"),
    AP_INIT_TAKE12("MDExternalAccountBinding", set_eab, NULL, RSRC_CONF,
                   "external account binding for a new account at the CA: <kid> <hmac-key> | "
                   "<file.json> | none"),
    MD_CMD_TAKE1("MDContactEmail", set_contact, NULL,
                 "email address for the CA account (default: ServerAdmin)"),
    MD_CMD_ARGV("MDCertificateAuthority", set_ca, NULL,
                "ACME directory URL(s), tried in order; or " MD_MOD_CA_NAMES),
    MD_CMD_TAKE1("MDCertificateProtocol", set_ca_proto, NULL, "the protocol: ACME"),
    MD_CMD_TAKE1("MDCACertificateFile", md_mod_set_global_file, "ca_file",
                 "PEM file with the roots to trust for the CA's TLS"),
    MD_CMD_TAKE1("MDDriveMode", set_renew_mode, NULL, "auto | manual | always"),
    MD_CMD_TAKE1("MDRenewMode", set_renew_mode, NULL, "auto | manual | always"),
    MD_CMD_TAKE1("MDRenewWindow", set_window, "renew",
                 "when to renew: time (21d) or share of the lifetime (33%) before expiry"),
    MD_CMD_TAKE1("MDWarnWindow", set_window, "warn",
                 "when to warn of expiry: time (7d) or share of the lifetime (10%)"),
    MD_CMD_TAKE1("MDCheckInterval", md_mod_set_duration, "check",
                 "how often certificates are checked (default 12h)"),
    MD_CMD_TAKE1("MDRetryDelay", md_mod_set_duration, "retry",
                 "delay of the first retry after an error, doubling (default 5s)"),
    MD_CMD_ARGV("MDPrivateKeys", set_pkeys, NULL,
                "key types, one certificate each: RSA [bits] | secp256r1 | secp384r1"),
    MD_CMD_ARGV("MDCAChallenges", set_challenges, NULL,
                "allowed challenge types: http-01 tls-alpn-01 dns-01 dns-persist-01"),
    MD_CMD_TAKE1("MDChallengeDns01", md_mod_set_global_file, "dns01",
                 "program that sets up/tears down dns-01 TXT records"),
    MD_CMD_TAKE1("MDChallengeDns01Version", md_mod_set_dns01_version, NULL,
                 "1: teardown <domain> (default); 2: teardown <domain> <txt-value>"),
    AP_INIT_TAKE12("MDPortMap", md_mod_set_port_map, NULL, RSRC_CONF,
                   "local ports the CA's 80 and 443 arrive at: http:N https:N (http:- none)"),
    MD_CMD_TAKE1("MDStoreDir", md_mod_set_store_dir, NULL, "the store's directory (default md)"),
    MD_CMD_TAKE1("MDStoreLocks", md_mod_set_store_locks, NULL,
                 "on | off | how long startup waits for the store's lock (default 5s)"),
    MD_CMD_TAKE1("MDHttpProxy", md_mod_set_proxy, NULL, "proxy URL for talking to the CA"),
    MD_CMD_TAKE1("MDHttpProxyCACertificateFile", md_mod_set_global_file, "proxy_ca_file",
                 "PEM file with the roots to trust for an https:// MDHttpProxy's own TLS"),
    MD_CMD_TAKE1("MDPreferredChain", set_preferred_chain, NULL,
                 "name (CN) of the root whose chain to use, of those the CA offers; quote a "
                 "name with spaces"),
    MD_CMD_TAKE1("MDRequireHttps", set_require_https, NULL,
                 "off | temporary | permanent: redirect http: to https: for MD vhosts"),
    MD_CMD_TAKE1("MDRenewViaARI", set_renew_via_ari, NULL,
                 "on | off: renew when the CA's renewal information (ARI, RFC 9773) says so "
                 "(default on)"),
    MD_CMD_TAKE1("MDCertificateFile", set_static_file, "cert",
                 "inside an MD section: a static certificate chain file, not renewed"),
    MD_CMD_TAKE1("MDCertificateKeyFile", set_static_file, "key",
                 "inside an MD section: the key of MDCertificateFile"),
    MD_CMD_TAKE1("MDMatchNames", md_mod_set_match_names, NULL,
                 "all | servernames: which vhost names find the vhost's MD (default all)"),
    AP_INIT_FLAG("MDCertificateStatus", md_mod_set_certificate_status, NULL, RSRC_CONF,
                 "on: MD vhosts answer /.httpd/certificate-status over TLS (default on)"),
    AP_INIT_FLAG("MDServerStatus", md_mod_set_server_status, NULL, RSRC_CONF,
                 "on: the MDs in mod_status's server-status page (default off)"),
    AP_INIT_TAKE2("MDCertificateCheck", md_mod_set_certificate_check, NULL, RSRC_CONF,
                  "name url: status pages link each certificate to url<sha256-fingerprint>"),
    AP_INIT_FLAG("MDBaseServer", md_mod_set_global_flag, "base", RSRC_CONF,
                 "on: the server outside any vhost may use an MD too (default off)"),
    MD_CMD_ARGV("MDMessageCmd", md_mod_set_cmd, "message",
                "program [args] run on events: <program> [args] <event> <md-name>"),
    MD_CMD_ARGV("MDNotifyCmd", md_mod_set_cmd, "notify",
                "program [args] run after renewals: <program> [args] <md-name>..."),
    MD_CMD_TAKE1("MDActivationDelay", md_mod_set_duration, "activation",
                 "how long a renewed certificate waits before it is served (default 0)"),
    MD_CMD_TAKE1("MDRetryFailover", md_mod_set_retry_failover, NULL,
                 "failed tries in a row after which the next CA is used (default 13)"),
    MD_CMD_TAKE1("MDInitialDelay", md_mod_set_duration, "initial",
                 "how long after a (re)start the first check waits (default 0)"),
    MD_CMD_TAKE1("MDProfile", set_profile, NULL,
                 "certificate profile to order, one the CA lists (default: the CA's default)"),
    AP_INIT_FLAG("MDProfileMandatory", set_profile_mandatory, NULL, RSRC_CONF,
                 "on: no certificate when the CA does not offer MDProfile (default off: a "
                 "warning, and the CA's default profile)"),
    AP_INIT_FLAG("MDStapling", md_mod_set_staple_flag, "stapling", RSRC_CONF,
                 "on: staple OCSP responses for the MD(s) (default off)"),
    AP_INIT_FLAG("MDMustStaple", md_mod_set_staple_flag, "must-staple", RSRC_CONF,
                 "on: new certificates carry the OCSP Must-Staple flag (default off)"),
    AP_INIT_FLAG("MDStapleOthers", md_mod_set_global_flag, "others", RSRC_CONF,
                 "with MDStapling on: also staple certificates of no MD (default on)"),
    MD_CMD_TAKE1("MDStaplingKeepResponse", md_mod_set_stapling_keep, NULL,
                 "how long an OCSP response is kept in the store after it expired (default 7d)"),
    MD_CMD_TAKE1("MDStaplingRenewWindow", set_window, "stapling",
                 "when to renew OCSP responses before they expire: 2d or 33% (default 33%)"),
    {NULL},
};

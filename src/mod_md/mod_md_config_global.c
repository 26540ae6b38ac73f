/* mod_md_config_global.c: the handlers of the directives that apply to all MDs -- files and
 * programs, durations, ports, store, proxy, status pages, failover, OCSP stapling. */
#include <stdlib.h>
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "mod_md.h"
#include "mod_md_config_int.h"

APLOG_USE_MODULE(md);

#define MD_MOD_PORT_MAX 65535
/* MDPortMap's way of saying "the CA cannot reach this port" */
#define MD_MOD_PORT_NONE "-"

/* ---- module-wide settings ---- */

/* MDCACertificateFile, MDChallengeDns01, MDMessageCmd, MDNotifyCmd; cmd->info: the field. */
/* A file or program used later, not while the config is read: one that is not there (yet:
 * deployment tools often install it after the config) is a warning naming file and line, as
 * with the bundled module; where it is needed, its absence is an error in the log then. */
static const char *later_file(cmd_parms *cmd, const char **ppath, const char *arg, int executable)
{
    const char *err;

    if ((err = md_mod_file_check(cmd, ppath, arg, executable)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server,
                     "%s:%d: %s (it is used later, when needed: provide it by then)",
                     cmd->directive->filename, cmd->directive->line_num, err);
        if (!(*ppath = ap_server_root_relative(cmd->pool, arg))) {
            return err;
        }
    }
    return NULL;
}

const char *md_mod_set_global_file(cmd_parms *cmd, void *mconfig, const char *arg)
{
    md_mod_conf_t *mc = md_mod_conf_of(cmd);
    const char *which = cmd->info, *path, *err;
    int executable = strcmp(which, "ca_file") && strcmp(which, "proxy_ca_file");

    MD_MOD_GLOBAL_CHECK(cmd, mconfig);
    if ((err = later_file(cmd, &path, arg, executable)) != NULL) {
        return err;
    }
    if (!strcmp(which, "ca_file")) {
        mc->ca_file = path;
    } else if (!strcmp(which, "proxy_ca_file")) {
        mc->proxy_ca_file = path;
    } else if (!strcmp(which, "dns01")) {
        mc->dns01_cmd = path;
    }
    return NULL;
}

/* MDMessageCmd / MDNotifyCmd program [args...] (a missing program: see later_file). */
const char *md_mod_set_cmd(cmd_parms *cmd, void *mconfig, int argc, char *const argv[])
{
    md_mod_conf_t *mc = md_mod_conf_of(cmd);
    apr_array_header_t *cmdline;
    const char *path, *err;

    MD_MOD_GLOBAL_CHECK(cmd, mconfig);
    if (argc < 1) {
        return apr_psprintf(cmd->pool, "%s needs the program to run (and its arguments, if any)",
                            cmd->cmd->name);
    }
    if ((err = later_file(cmd, &path, argv[0], 1)) != NULL) {
        return err;
    }
    cmdline = apr_array_make(cmd->pool, argc, sizeof(const char *));
    APR_ARRAY_PUSH(cmdline, const char *) = path;
    for (int i = 1; i < argc; ++i) {
        APR_ARRAY_PUSH(cmdline, const char *) = argv[i];
    }
    if (!strcmp(cmd->info, "message")) {
        mc->message_cmd = cmdline;
    } else {
        mc->notify_cmd = cmdline;
    }
    return NULL;
}

/* MDCheckInterval, MDRetryDelay and MDActivationDelay (which may be 0); cmd->info says which. */
const char *md_mod_set_duration(cmd_parms *cmd, void *mconfig, const char *arg)
{
    md_mod_conf_t *mc = md_mod_conf_of(cmd);
    int activation = !strcmp(cmd->info, "activation") || !strcmp(cmd->info, "initial");
    apr_interval_time_t dur;

    MD_MOD_GLOBAL_CHECK(cmd, mconfig);
    if (md_duration_parse(&dur, arg, "s") != APR_SUCCESS || dur < 0 || (dur == 0 && !activation)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a duration; write e.g. 30s, 5m, 12h or 1d",
                            cmd->cmd->name, arg);
    }
    if (!strcmp(cmd->info, "check")) {
        mc->check_interval = dur;
    } else if (!strcmp(cmd->info, "initial")) {
        mc->initial_delay = dur;
    } else if (activation) {
        mc->activation_delay = dur;
    } else {
        mc->retry_delay = dur;
    }
    return NULL;
}

static const char *port_map_one(cmd_parms *cmd, const char *arg)
{
    md_mod_conf_t *mc = md_mod_conf_of(cmd);
    const char *colon = strchr(arg, ':'), *val;
    char *end;
    long port = 0;
    int *target;

    if (!colon) {
        goto bad;
    }
    if (!strncasecmp(arg, "http:", 5) || !strncmp(arg, "80:", 3)) {
        target = &mc->port_http;
    } else if (!strncasecmp(arg, "https:", 6) || !strncmp(arg, "443:", 4)) {
        target = &mc->port_https;
    } else {
        goto bad;
    }
    val = colon + 1;
    if (strcmp(val, MD_MOD_PORT_NONE)) {
        port = strtol(val, &end, 10);
        if (!apr_isdigit(*val) || *end || port < 1 || port > MD_MOD_PORT_MAX) {
            goto bad;
        }
    }
    *target = (int) port; /* 0: the CA cannot reach us there */
    return NULL;
bad:
    return apr_psprintf(cmd->pool,
                        "%s: cannot read '%s'; write http:PORT and/or https:PORT "
                        "(the local ports the CA's 80 and 443 arrive at), or http:- when the CA "
                        "cannot reach port 80",
                        cmd->cmd->name, arg);
}

const char *md_mod_set_port_map(cmd_parms *cmd, void *mconfig, const char *a1, const char *a2)
{
    const char *err;

    MD_MOD_GLOBAL_CHECK(cmd, mconfig);
    if ((err = port_map_one(cmd, a1)) == NULL && a2) {
        err = port_map_one(cmd, a2);
    }
    return err;
}

const char *md_mod_set_store_dir(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);

    MD_MOD_GLOBAL_CHECK(cmd, mconfig);
    if (!path) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid path", cmd->cmd->name, arg);
    }
    md_mod_conf_of(cmd)->store_dir = path;
    return NULL;
}

/* MDHttpProxy: globally (also the default of every MD) or for one MD in its section. */
const char *md_mod_set_proxy(cmd_parms *cmd, void *mconfig, const char *arg)
{
    MD_MOD_SETTING_CHECK(cmd, mconfig);
    if (!md_mod_is_http_url(arg)) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a proxy URL; write e.g. "
                            "http://proxy.example.org:3128",
                            cmd->cmd->name, arg);
    }
    if (mconfig) {
        md_mod_settings_of(cmd, mconfig)->proxy = arg;
    } else {
        md_mod_conf_of(cmd)->proxy = arg;
    }
    return NULL;
}

const char *md_mod_set_dns01_version(cmd_parms *cmd, void *mconfig, const char *arg)
{
    MD_MOD_GLOBAL_CHECK(cmd, mconfig);
    if (strcmp(arg, "1") && strcmp(arg, "2")) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a version: 1 runs 'teardown <domain>', 2 runs "
                            "'teardown <domain> <txt-value>'",
                            cmd->cmd->name, arg);
    }
    md_mod_conf_of(cmd)->dns01_version = arg[0] - '0';
    return NULL;
}

/* MDStoreLocks on|off|<duration>. The store is always locked around activation (a store
 * shared by several servers included): on/off are accepted for the bundled module's configs;
 * a duration is how long startup waits for the lock. */
const char *md_mod_set_store_locks(cmd_parms *cmd, void *mconfig, const char *arg)
{
    apr_interval_time_t dur;

    MD_MOD_GLOBAL_CHECK(cmd, mconfig);
    if (!strcasecmp(arg, "on") || !strcasecmp(arg, "off")) {
        return NULL;
    }
    if (md_duration_parse(&dur, arg, "s") != APR_SUCCESS || dur <= 0) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is neither on, off nor a duration (how long startup waits "
                            "for the store's lock, e.g. 10s)",
                            cmd->cmd->name, arg);
    }
    md_mod_conf_of(cmd)->store_lock_wait = dur;
    return NULL;
}

const char *md_mod_set_retry_failover(cmd_parms *cmd, void *mconfig, const char *arg)
{
    char *end;
    long n = strtol(arg, &end, 10);

    MD_MOD_GLOBAL_CHECK(cmd, mconfig);
    if (end == arg || *end || n < 1 || n > 1000) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a number of tries from 1 to 1000 (after how many "
                            "failed tries in a row the next CA of MDCertificateAuthority is used)",
                            cmd->cmd->name, arg);
    }
    md_mod_conf_of(cmd)->retry_failover = (int) n;
    return NULL;
}

const char *md_mod_set_match_names(cmd_parms *cmd, void *mconfig, const char *arg)
{
    MD_MOD_GLOBAL_CHECK(cmd, mconfig);
    if (strcasecmp(arg, "all") && strcasecmp(arg, "servernames")) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is neither 'all' (a vhost uses the MD of its ServerName or "
                            "of a ServerAlias) nor 'servernames' (of its ServerName only)",
                            cmd->cmd->name, arg);
    }
    md_mod_conf_of(cmd)->match_servernames = !strcasecmp(arg, "servernames");
    return NULL;
}

const char *md_mod_set_certificate_status(cmd_parms *cmd, void *mconfig, int flag)
{
    MD_MOD_GLOBAL_CHECK(cmd, mconfig);
    md_mod_conf_of(cmd)->certificate_status = flag;
    return NULL;
}

const char *md_mod_set_server_status(cmd_parms *cmd, void *mconfig, int flag)
{
    MD_MOD_GLOBAL_CHECK(cmd, mconfig);
    md_mod_conf_of(cmd)->server_status = flag;
    return NULL;
}

/* MDCertificateCheck name url: the link status pages give per certificate (url + its SHA-256
 * fingerprint), e.g. to a CT log search. */
const char *md_mod_set_certificate_check(cmd_parms *cmd, void *mconfig, const char *name,
                                         const char *url)
{
    MD_MOD_GLOBAL_CHECK(cmd, mconfig);
    if (!md_mod_is_http_url(url)) {
        return apr_psprintf(
            cmd->pool, "%s: '%s' is not an http(s) URL; write e.g. %s crt.sh https://crt.sh?q=",
            cmd->cmd->name, url, cmd->cmd->name);
    }
    md_mod_conf_of(cmd)->check_name = name;
    md_mod_conf_of(cmd)->check_url = url;
    return NULL;
}

/* MDBaseServer and MDStapleOthers; cmd->info says which. */
const char *md_mod_set_global_flag(cmd_parms *cmd, void *mconfig, int flag)
{
    MD_MOD_GLOBAL_CHECK(cmd, mconfig);
    if (!strcmp(cmd->info, "base")) {
        md_mod_conf_of(cmd)->base_server = flag;
    } else {
        md_mod_conf_of(cmd)->staple_others = flag;
    }
    return NULL;
}

/* ---- OCSP stapling ---- */

/* MDStapling and MDMustStaple: global or per MD; cmd->info says which. */
const char *md_mod_set_staple_flag(cmd_parms *cmd, void *mconfig, int flag)
{
    md_mod_settings_t *settings = md_mod_settings_of(cmd, mconfig);

    MD_MOD_SETTING_CHECK(cmd, mconfig);
    if (!strcmp(cmd->info, "stapling")) {
        settings->stapling = flag;
    } else {
        settings->must_staple = flag;
    }
    return NULL;
}

const char *md_mod_set_stapling_keep(cmd_parms *cmd, void *mconfig, const char *arg)
{
    apr_interval_time_t dur;

    MD_MOD_GLOBAL_CHECK(cmd, mconfig);
    if (md_duration_parse(&dur, arg, "d") != APR_SUCCESS || dur <= 0) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a duration; write e.g. 7d or 12h (a plain number "
                            "is days)",
                            cmd->cmd->name, arg);
    }
    md_mod_conf_of(cmd)->stapling_keep = dur;
    return NULL;
}

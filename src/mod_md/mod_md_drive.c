/* mod_md_drive.c: background driving -- a mod_watchdog singleton in the children (as the
 * configured User) renews what needs it, runs MDMessageCmd/MDNotifyCmd and keeps a schedule. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_optional.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <mod_watchdog.h>

#include "md_ari.h"
#include "md_cmd.h"
#include "md_drive.h"
#include "md_plan.h"
#include "md_store.h"
#include "md_util.h"
#include "mod_md.h"
#include "mod_md_drive.h"

APLOG_USE_MODULE(md);

/* The child watchdog instance that drives (a singleton: one child at a time runs it). */
#define MD_MOD_WD_DRIVE "_md_renew_"
/* The first run is made when the watchdog starts (see drive_callback); this is when
 * mod_watchdog would call next, one tick after, should that first run not happen. */
#define MD_MOD_DRIVE_FIRST AP_WD_TM_SLICE
/* Never run more often than this, whatever the due times say. */
#define MD_MOD_DRIVE_MIN apr_time_from_sec(1)
/* Jobs at once: md_drive_all allows up to 8; pebble and real CAs are happy with that. */
#define MD_MOD_DRIVE_CONCURRENCY 8
/* How long MDMessageCmd / MDNotifyCmd may run before they are killed. */
#define MD_MOD_CMD_TIMEOUT apr_time_from_sec(30)
/* How long an exiting child waits for a drive to end after cancelling it: requests abort
 * within about a second (curl's progress callback), waits within MD_DRIVE_CANCEL_SLICE. */
#define MD_MOD_STOP_WAIT apr_time_from_sec(10)
#define MD_MOD_STOP_POLL apr_time_from_msec(10)
/* pconf user data: the generation (md_mod_gen_t). */
#define MD_MOD_GEN_KEY "mod_md_gen"

typedef APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) md_mod_wd_instance_fn;
typedef APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) md_mod_wd_register_fn;
typedef APR_OPTIONAL_FN_TYPE(ap_watchdog_set_callback_interval) md_mod_wd_interval_fn;

typedef struct {
    server_rec *s;
    md_mod_conf_t *mc;
    md_mod_gen_t *gen;
    ap_watchdog_t *wd;
    md_mod_wd_interval_fn *set_interval;
    apr_pool_t *p;      /* the driver's own, made when it starts in a child */
    apr_hash_t *index;  /* MD name -> int* its index in mc->mds */
    apr_hash_t *warned; /* MD name -> "" once "expiring" was reported */
    apr_hash_t *no_ari; /* CA URL -> until when it is known to have no ARI (md_ari_opts_t) */
} md_mod_driver_t;

md_mod_gen_t *md_mod_gen_get(server_rec *s)
{
    void *gen = NULL;

    apr_pool_userdata_get(&gen, MD_MOD_GEN_KEY, s->process->pconf);
    return gen;
}

const md_mod_snap_t *md_mod_snap_find(const md_mod_gen_t *gen, const char *name)
{
    for (int k = 0; gen && k < 2; ++k) {
        const apr_array_header_t *snaps = k ? gen->others : gen->snaps;
        for (int i = 0; snaps && i < snaps->nelts; ++i) {
            const md_mod_snap_t *snap = APR_ARRAY_IDX(snaps, i, const md_mod_snap_t *);
            if (!strcmp(snap->md->name, name)) {
                return snap;
            }
        }
    }
    return NULL;
}

int md_mod_snap_index(const md_mod_gen_t *gen, const md_mod_snap_t *snap)
{
    for (int i = 0; gen && i < gen->snaps->nelts; ++i) {
        if (APR_ARRAY_IDX(gen->snaps, i, const md_mod_snap_t *) == snap) {
            return i;
        }
    }
    return -1;
}

apr_interval_time_t md_mod_retry_delay(const md_mod_conf_t *mc)
{
    return mc->retry_delay > 0 ? mc->retry_delay : MD_MOD_RETRY_DELAY_DEFAULT;
}

apr_interval_time_t md_mod_check_interval(const md_mod_conf_t *mc)
{
    return mc->check_interval > 0 ? mc->check_interval : MD_MOD_CHECK_INTERVAL_DEFAULT;
}

/* ---- the snapshot, taken by the parent ---- */

/* manual: never; auto: unless the certificate comes from MDCertificateFile; always: always */
static int is_driven(const md_t *md, const md_mod_mdef_t *mdef)
{
    switch (md->renew_mode) {
    case MD_RENEW_MANUAL:
        return 0;
    case MD_RENEW_AUTO:
        return !(mdef && mdef->cert_file);
    default:
        return 1;
    }
}

static apr_time_t json_time(const md_json_t *j, const char *key)
{
    const char *s = md_json_get_str(j, key);
    apr_time_t t;

    return s && md_time_parse(&t, s) == APR_SUCCESS ? t : 0;
}

static md_mod_snap_t *snap_take(const md_mod_conf_t *mc, const md_t *md, const md_mod_mdef_t *mdef,
                                int watched, apr_time_t now, apr_pool_t *p)
{
    md_mod_snap_t *snap = apr_pcalloc(p, sizeof(*snap));
    apr_array_header_t *installed;
    md_json_t *j, *certs;
    apr_time_t warn_at;

    snap->md = md;
    snap->watched = watched;
    /* an MD no vhost uses gets no certificate from us, as with the bundled module: nothing
     * would serve it (a2md can still drive it) */
    snap->driven = watched && is_driven(md, mdef);
    md_reg_cert_infos(&installed, mc->reg, md, MD_SG_DOMAINS, now, p);
    snap->installed = installed;
    md_reg_status_json(&j, mc->reg, md, installed, now, p); /* domains/ read once */
    md_json_del(j, "staging"); /* change while the server runs: always read afresh */
    md_json_del(j, "renewal");
    snap->status = md_json_dump(j, 0, p);
    certs = md_json_get(j, "certificates", p);
    for (apr_size_t i = 0; i < md_json_len(certs); ++i) {
        warn_at = json_time(md_json_at(certs, i, p), "warn-at");
        if (warn_at && (!snap->warn_at || warn_at < snap->warn_at)) {
            snap->warn_at = warn_at;
        }
    }
    return snap;
}

/* Per MD of mc->mds: 1 when some vhost uses it. One pass over the servers. */
static char *mds_watched(const md_mod_conf_t *mc, server_rec *base, apr_pool_t *p)
{
    int n = mc->mds ? mc->mds->nelts : 0;
    char *watched = apr_pcalloc(p, (apr_size_t) n + 1);
    apr_hash_t *index = apr_hash_make(p);

    for (int i = 0; i < n; ++i) {
        const md_t **key = apr_pmemdup(p, &APR_ARRAY_IDX(mc->mds, i, const md_t *), sizeof(md_t *));
        apr_hash_set(index, key, sizeof(*key), (void *) (apr_uintptr_t) (i + 1));
    }
    for (server_rec *s = base; s; s = s->next) {
        const md_t *md = md_mod_srv_get(s)->md;
        apr_uintptr_t i = md ? (apr_uintptr_t) apr_hash_get(index, &md, sizeof(md)) : 0;
        if (i > 0) {
            watched[i - 1] = 1;
        }
    }
    return watched;
}

/* The store's MDs that no configuration names (a2md added them): md-status shows them too,
 * and only root can read domains/, so their snapshots are taken now. */
static apr_array_header_t *others_take(const md_mod_conf_t *mc, apr_time_t now, apr_pool_t *p)
{
    apr_array_header_t *others = apr_array_make(p, 0, sizeof(md_mod_snap_t *)), *names;
    apr_hash_t *configured = apr_hash_make(p);
    md_t *md;

    if (md_store_names(&names, md_reg_store(mc->reg), MD_SG_DOMAINS, p) != APR_SUCCESS) {
        return others;
    }
    for (int i = 0; i < mc->mds->nelts; ++i) {
        const md_t *c = APR_ARRAY_IDX(mc->mds, i, const md_t *);
        apr_hash_set(configured, c->name, APR_HASH_KEY_STRING, c);
    }
    for (int i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        if (!apr_hash_get(configured, name, APR_HASH_KEY_STRING) &&
            md_store_exists(md_reg_store(mc->reg), MD_SG_DOMAINS, name, MD_FN_MD, p) &&
            md_reg_get(&md, mc->reg, name, p) == APR_SUCCESS) {
            APR_ARRAY_PUSH(others, md_mod_snap_t *) = snap_take(mc, md, NULL, 0, now, p);
        }
    }
    return others;
}

static md_mod_gen_t *gen_make(md_mod_conf_t *mc, server_rec *base, apr_pool_t *pconf)
{
    md_mod_gen_t *gen = apr_pcalloc(pconf, sizeof(*gen));
    apr_time_t now = apr_time_now();
    int n = mc->mds ? mc->mds->nelts : 0;
    char *watched = mds_watched(mc, base, pconf);

    gen->snaps = apr_array_make(pconf, n, sizeof(md_mod_snap_t *));
    for (int i = 0; i < n; ++i) {
        APR_ARRAY_PUSH(gen->snaps, md_mod_snap_t *) =
            snap_take(mc, APR_ARRAY_IDX(mc->mds, i, const md_t *),
                      /* mds were made from mdefs one to one, in order (mod_md_assemble.c) */
                      APR_ARRAY_IDX(mc->mdefs, i, const md_mod_mdef_t *), watched[i], now, pconf);
    }
    gen->others = others_take(mc, now, pconf);
    apr_pool_userdata_set(gen, MD_MOD_GEN_KEY, apr_pool_cleanup_null, pconf);
    return gen;
}

/* ---- MDMessageCmd / MDNotifyCmd: a program run with arguments, no shell ---- */

/* Runs cmdline (the program and the arguments configured) with more arguments after those,
 * and MD_STORE / MD_VERSION in its environment, as the bundled module's programs get them. */
static apr_status_t run_cmd(const md_mod_conf_t *mc, volatile apr_uint32_t *cancel,
                            const char *directive, const apr_array_header_t *cmdline,
                            const apr_array_header_t *more, apr_pool_t *p)
{
    apr_array_header_t *args = apr_array_make(p, cmdline->nelts + 2, sizeof(const char *));
    apr_array_header_t *env = apr_array_make(p, 2, sizeof(const char *));
    /* the child exiting (stop, restart) cancels: the program is killed then */
    md_cmd_opts_t opts = {directive, MD_MOD_CMD_TIMEOUT, cancel, 0, env};

    for (int i = 1; i < cmdline->nelts; ++i) {
        APR_ARRAY_PUSH(args, const char *) = APR_ARRAY_IDX(cmdline, i, const char *);
    }
    for (int i = 0; more && i < more->nelts; ++i) {
        APR_ARRAY_PUSH(args, const char *) = APR_ARRAY_IDX(more, i, const char *);
    }
    APR_ARRAY_PUSH(env, const char *) =
        apr_pstrcat(p, "MD_STORE=", md_store_dir(md_reg_store(mc->reg)), NULL);
    APR_ARRAY_PUSH(env, const char *) = "MD_VERSION=" MD_VERSION;
    return md_cmd_run(APR_ARRAY_IDX(cmdline, 0, const char *), args, &opts, p);
}

apr_status_t md_mod_message(const md_mod_conf_t *mc, volatile apr_uint32_t *cancel,
                            const char *event, const char *name, apr_pool_t *p)
{
    apr_array_header_t *args;

    if (!mc->message_cmd) {
        return APR_SUCCESS;
    }
    args = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(args, const char *) = event;
    APR_ARRAY_PUSH(args, const char *) = name;
    return run_cmd(mc, cancel, "MDMessageCmd", mc->message_cmd, args, p);
}

/* MDMessageCmd [args] <event> <md>: how the program ended (APR_SUCCESS when there is none) */
static apr_status_t message(md_mod_driver_t *drv, const char *event, const char *name,
                            apr_pool_t *p)
{
    return md_mod_message(drv->mc, &drv->gen->cancel, event, name, p);
}

/* The drive's events "renewing" and "challenge-setup:..." (md_drive_opts_t.on_event): a
 * program that exits with an error holds the drive back, as with the bundled module. One
 * that cannot be started (logged as an error) or hangs does not: a missing notification
 * program must not stop renewals. */
static apr_status_t on_event(const char *event, const md_t *md, void *baton, apr_pool_t *p)
{
    apr_status_t rv = message(baton, event, md->name, p);

    return rv == APR_EGENERAL || rv == APR_EINTR ? rv : APR_SUCCESS;
}

/* ---- one run of the driver ---- */

/* What a drive of the run reached, per MD (md_mod_run_t.staged). */
#define MD_MOD_RUN_STAGED 1
#define MD_MOD_RUN_LIVE 2

typedef struct {
    md_mod_driver_t *drv;
    volatile apr_uint32_t *staged; /* per MD of mc->mds: 0, _STAGED or _LIVE (drive threads) */
    apr_array_header_t *todo;      /* const md_t*: to drive now */
    apr_array_header_t *index;     /* int: their indexes in mc->mds */
    apr_array_header_t *renewed;   /* const char*: names staged by this run */
    apr_array_header_t *failed;    /* const char*: names whose drive failed */
    apr_time_t next;               /* when the next run is due */
} md_mod_run_t;

static void run_due(md_mod_run_t *run, apr_time_t t)
{
    if (t > 0 && t < run->next) {
        run->next = t;
    }
}

/* "expiring", once per driver process and MD, when a certificate entered its warn window */
static void warn_expiring(md_mod_driver_t *drv, const md_mod_snap_t *snap, apr_time_t now,
                          apr_pool_t *p)
{
    if (!snap->warn_at || snap->warn_at > now ||
        apr_hash_get(drv->warned, snap->md->name, APR_HASH_KEY_STRING)) {
        return;
    }
    apr_hash_set(drv->warned, apr_pstrdup(drv->p, snap->md->name), APR_HASH_KEY_STRING, "");
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, drv->s,
                 "%s: the certificate is in its warn window (since %s) and not renewed yet",
                 snap->md->name, md_time_format(snap->warn_at, p));
    message(drv, "expiring", snap->md->name, p);
}

md_plan_opts_t md_mod_plan_opts(const md_mod_conf_t *mc, const md_mod_gen_t *gen, int i)
{
    md_plan_opts_t opts = {mc->activation_delay, md_mod_live_presented(mc, i), NULL,
                           md_mod_check_interval(mc)};

    if (gen && i >= 0 && i < gen->snaps->nelts) {
        opts.installed = APR_ARRAY_IDX(gen->snaps, i, const md_mod_snap_t *)->installed;
    }
    return opts;
}

apr_array_header_t *md_mod_live_infos(md_mod_conf_t *mc, const md_mod_gen_t *gen, int i,
                                      apr_time_t now, apr_pool_t *p)
{
    apr_array_header_t *live;

    if (!gen || i < 0 || i >= gen->snaps->nelts || !md_mod_live_presented(mc, i) ||
        md_reg_cert_infos(&live, mc->reg, APR_ARRAY_IDX(gen->snaps, i, const md_mod_snap_t *)->md,
                          MD_SG_LIVE, now, p) != APR_SUCCESS) {
        return NULL;
    }
    return live;
}

const apr_array_header_t *md_mod_presented(md_mod_conf_t *mc, const md_mod_gen_t *gen, int i,
                                           apr_time_t now, apr_pool_t *p)
{
    const apr_array_header_t *live = md_mod_live_infos(mc, gen, i, now, p);

    if (live || !gen || i < 0 || i >= gen->snaps->nelts) {
        return live;
    }
    return APR_ARRAY_IDX(gen->snaps, i, const md_mod_snap_t *)->installed;
}

static md_plan_opts_t plan_opts(const md_mod_driver_t *drv, int i)
{
    return md_mod_plan_opts(drv->mc, drv->gen, i);
}

/* The plan said "install": a staged set is published to live/, a live one that the workers do
 * not present yet (published by the previous generation's driver) only announced; then every
 * worker presents it at its next handshake. */
static int go_live(md_mod_driver_t *drv, int i, const md_plan_t *plan, apr_pool_t *p)
{
    const md_t *md = APR_ARRAY_IDX(drv->mc->mds, i, const md_t *);
    apr_status_t rv;

    if (plan->from == MD_SG_STAGING &&
        (rv = md_store_publish(md_reg_store(drv->mc->reg), md->name, p)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, drv->s,
                     "%s: the new certificate could not be published in live/ (see above); it "
                     "goes live at the next graceful restart",
                     md->name);
        return 0;
    }
    md_mod_live_bump(drv->mc, i);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, drv->s,
                 "%s: the new certificate is live: every worker presents it from its next TLS "
                 "handshake, no restart needed",
                 md->name);
    return 1;
}

/* The index of md in mc->mds (and in the snapshots). */
static int index_of(const md_mod_driver_t *drv, const md_t *md)
{
    const int *i = apr_hash_get(drv->index, md->name, APR_HASH_KEY_STRING);

    return i ? *i : -1;
}

/* md_drive's on_staged, in the thread that drove md: it goes live at once (unless
 * MDActivationDelay holds it back), while the other MDs of the run are still being driven. */
static void on_staged(const md_t *md, void *baton, apr_pool_t *job_pool)
{
    md_mod_run_t *run = baton;
    md_mod_driver_t *drv = run->drv;
    int i = index_of(drv, md);
    md_plan_opts_t opts;
    md_plan_t plan;
    apr_pool_t *p;

    /* a sub-pool of the job's: this thread's allocator, no fresh mappings */
    if (i < 0 || apr_pool_create(&p, job_pool) != APR_SUCCESS) {
        return;
    }
    apr_atomic_set32(&run->staged[i], MD_MOD_RUN_STAGED);
    opts = plan_opts(drv, i);
    if (md_plan_next(&plan, drv->mc->reg, md, &opts, apr_time_now(), p) == APR_SUCCESS &&
        plan.step == MD_PLAN_INSTALL && plan.from == MD_SG_STAGING && go_live(drv, i, &plan, p)) {
        apr_atomic_set32(&run->staged[i], MD_MOD_RUN_LIVE);
    }
    apr_pool_destroy(p);
}

/* The CA's renewal information (ARI) for the certificates md uses, asked when the last answer
 * says so -- at most once a minute, or once per MDCheckInterval when that is shorter -- while
 * nothing else is due; the plan made again when it changed. */
static void ari_check(md_mod_driver_t *drv, int i, const md_t *md, md_plan_t *plan, apr_time_t now,
                      apr_pool_t *p)
{
    apr_interval_time_t check = md_mod_check_interval(drv->mc);
    md_ari_opts_t ari = {
        drv->mc->ca_file, drv->mc->proxy,    check < MD_ARI_POLL_MIN ? check : MD_ARI_POLL_MIN,
        drv->no_ari,      &drv->gen->cancel, drv->mc->proxy_ca_file};
    md_plan_opts_t opts = plan_opts(drv, i);
    int changed = 0;

    if (!md->ari_renewals || plan->step != MD_PLAN_DRIVE || plan->at <= now) {
        return;
    }
    if (md_ari_check(&changed, drv->mc->reg, md,
                     md_plan_current_infos(drv->mc->reg, md, &opts, now, p), &ari, now,
                     p) == APR_SUCCESS &&
        changed && md_plan_next(plan, drv->mc->reg, md, &opts, now, p) == APR_SUCCESS &&
        plan->step == MD_PLAN_DRIVE && plan->at <= now) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, drv->s,
                     "%s: renewing now: the CA's renewal information (ARI) says so", md->name);
    }
}

/* Picks the MDs to drive now, by md_plan_next: driven ones that need a certificate and whose
 * last failure's next try has come; staged sets whose time has come go live on the way. */
static void run_select(md_mod_driver_t *drv, md_mod_run_t *run, apr_time_t now, apr_pool_t *p)
{
    md_plan_opts_t opts;
    md_plan_t plan;

    for (int i = 0; i < drv->gen->snaps->nelts; ++i) {
        const md_mod_snap_t *snap = APR_ARRAY_IDX(drv->gen->snaps, i, const md_mod_snap_t *);
        if (!snap->driven) {
            continue;
        }
        opts = plan_opts(drv, i);
        if (!opts.live_presented) {
            warn_expiring(drv, snap, now, p);
        }
        if (md_plan_next(&plan, drv->mc->reg, snap->md, &opts, now, p) != APR_SUCCESS) {
            continue;
        }
        if (plan.refused) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, drv->s,
                         "%s: %s: it is dropped and the MD driven again", snap->md->name,
                         plan.refused);
        }
        if (plan.step == MD_PLAN_INSTALL) {
            if (go_live(drv, i, &plan, p)) {
                message(drv, "installed", snap->md->name, p);
            }
            /* what is live now may need renewing already (a short lifetime): ask again */
            opts = plan_opts(drv, i);
            if (md_plan_next(&plan, drv->mc->reg, snap->md, &opts, now, p) != APR_SUCCESS ||
                plan.step == MD_PLAN_INSTALL) {
                continue;
            }
        }
        ari_check(drv, i, snap->md, &plan, now, p);
        if (plan.step == MD_PLAN_DRIVE && plan.at <= now) {
            APR_ARRAY_PUSH(run->todo, const md_t *) = snap->md;
            APR_ARRAY_PUSH(run->index, int) = i;
        } else {
            run_due(run, plan.at);
            if (plan.ari_check_at > now) {
                run_due(run, plan.ari_check_at); /* the CA is to be asked for ARI again then */
            }
        }
    }
}

static void opts_make(md_drive_opts_t *opts, const md_mod_conf_t *mc, md_mod_gen_t *gen)
{
    memset(opts, 0, sizeof(*opts));
    opts->cancel = &gen->cancel;
    opts->ca_file = mc->ca_file;
    opts->proxy = mc->proxy;
    opts->proxy_ca_file = mc->proxy_ca_file;
    opts->chall.allowed = NULL; /* each MD's own MDCAChallenges */
    opts->chall.http01_possible = mc->http01_possible;
    opts->chall.tlsalpn01_possible = mc->tlsalpn01_possible;
    opts->chall.dns01_cmd = mc->dns01_cmd;
    opts->chall.dns01_version = mc->dns01_version;
    opts->retry_delay = md_mod_retry_delay(mc);
    opts->retry_max = md_mod_check_interval(mc);
    opts->retry_failover = mc->retry_failover;
}

/* After md_drive_all: what each drive reached (on_staged), the messages, the next run. */
static void run_collect(md_mod_driver_t *drv, md_mod_run_t *run, apr_time_t now, apr_pool_t *p)
{
    md_plan_opts_t opts;
    md_plan_t plan;

    for (int i = 0; i < run->todo->nelts; ++i) {
        const md_t *md = APR_ARRAY_IDX(run->todo, i, const md_t *);
        int index = APR_ARRAY_IDX(run->index, i, int);
        apr_uint32_t reached = apr_atomic_read32(&run->staged[index]);

        opts = plan_opts(drv, index);
        if (md_plan_next(&plan, drv->mc->reg, md, &opts, now, p) != APR_SUCCESS) {
            plan.at = now + md_mod_retry_delay(drv->mc);
        }
        /* a live set that needs renewing already (short lifetimes) comes due at once */
        run_due(run, plan.at);
        if (!reached && apr_atomic_read32(&drv->gen->cancel)) {
            continue; /* cut short by a restart or stop: it resumes, nothing failed */
        }
        if (!reached) {
            APR_ARRAY_PUSH(run->failed, const char *) = md->name;
            message(drv, "errored", md->name, p);
            continue;
        }
        APR_ARRAY_PUSH(run->renewed, const char *) = md->name;
        message(drv, "renewed", md->name, p);
        if (plan.always_due) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, drv->s,
                         "%s: its new certificate is due for renewal from the moment it was "
                         "issued: MDRenewWindow %s is not shorter than its lifetime; it is "
                         "renewed once per MDCheckInterval (%s), next at %s -- shorten "
                         "MDRenewWindow",
                         md->name, md_timeslice_format(&md->renew_window, p),
                         md_duration_format(md_mod_check_interval(drv->mc), p),
                         md_time_format(plan.at, p));
        }
        if (reached == MD_MOD_RUN_LIVE) {
            message(drv, "installed", md->name, p);
        } else if (plan.step == MD_PLAN_ACTIVATE) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, drv->s,
                         "%s: new certificate obtained and staged; it goes live at %s "
                         "(MDActivationDelay)",
                         md->name, md_time_format(plan.at, p));
        }
    }
}

/* One run; returns the wait until the next. */
static apr_interval_time_t drive_run(md_mod_driver_t *drv, apr_pool_t *p)
{
    md_mod_conf_t *mc = drv->mc;
    apr_time_t now = apr_time_now();
    md_mod_run_t run;
    md_drive_opts_t opts;

    run.drv = drv;
    run.staged = apr_pcalloc(p, sizeof(apr_uint32_t) * (apr_size_t) (mc->mds->nelts + 1));
    run.todo = apr_array_make(p, 8, sizeof(const md_t *));
    run.index = apr_array_make(p, 8, sizeof(int));
    run.renewed = apr_array_make(p, 8, sizeof(const char *));
    run.failed = apr_array_make(p, 8, sizeof(const char *));
    run.next = now + md_mod_check_interval(mc);
    /* no store lock here: each write takes its group's for itself, never across a request */
    run_select(drv, &run, now, p);
    if (run.todo->nelts > 0) {
        opts_make(&opts, mc, drv->gen);
        opts.on_staged = on_staged;
        opts.on_staged_baton = &run;
        opts.on_event = on_event;
        opts.on_event_baton = drv;
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, drv->s, "md driver: driving %d MD(s)",
                     run.todo->nelts);
        md_drive_all(mc->reg, run.todo, &opts, MD_MOD_DRIVE_CONCURRENCY, p);
        now = apr_time_now();
        run_collect(drv, &run, now, p);
    }
    if (run.renewed->nelts > 0 && mc->notify_cmd) {
        run_cmd(mc, &drv->gen->cancel, "MDNotifyCmd", mc->notify_cmd, run.renewed, p);
    }
    if (run.next < now + MD_MOD_DRIVE_MIN) {
        run.next = now + MD_MOD_DRIVE_MIN;
    }
    if (run.todo->nelts > 0) {
        ap_log_error(APLOG_MARK, run.failed->nelts ? APLOG_WARNING : APLOG_INFO, 0, drv->s,
                     "md driver: %d MD(s) driven, staged: [%s], failed: [%s]; next run at %s",
                     run.todo->nelts, md_array_str_join(run.renewed, ", ", p),
                     md_array_str_join(run.failed, ", ", p), md_time_format(run.next, p));
    }
    return run.next - now;
}

static apr_status_t drive_callback(int state, void *baton, apr_pool_t *ptemp);

/* One run, and the next one scheduled. */
static void drive_now(md_mod_driver_t *drv, apr_pool_t *ptemp)
{
    md_mod_drive_times_t *times = drv->gen->times;
    apr_interval_time_t wait;

    if (!drv->p) {
        return;
    }
    apr_atomic_inc32(&drv->gen->running);
    if (!apr_atomic_read32(&drv->gen->cancel)) { /* after inc: cancel_drives waits for us */
        apr_atomic_set64(&times->last_run, (apr_uint64_t) apr_time_now());
        wait = drive_run(drv, ptemp);
        apr_atomic_set64(&times->next_run, (apr_uint64_t) (apr_time_now() + wait));
        drv->set_interval(drv->wd, wait, drv, drive_callback);
    }
    apr_atomic_dec32(&drv->gen->running);
}

static apr_status_t drive_callback(int state, void *baton, apr_pool_t *ptemp)
{
    md_mod_driver_t *drv = baton;

    switch (state) {
    case AP_WATCHDOG_STATE_STARTING:
        if (!drv->p && apr_pool_create(&drv->p, NULL) == APR_SUCCESS) {
            drv->warned = apr_hash_make(drv->p);
            drv->no_ari = apr_hash_make(drv->p);
            drv->index = apr_hash_make(drv->p);
            for (int i = 0; i < drv->mc->mds->nelts; ++i) {
                int *pi = apr_palloc(drv->p, sizeof(*pi));
                *pi = i;
                apr_hash_set(drv->index, APR_ARRAY_IDX(drv->mc->mds, i, const md_t *)->name,
                             APR_HASH_KEY_STRING, pi);
            }
        }
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, drv->s, "md driver: started in process %ld",
                     (long) getpid());
        if (drv->mc->initial_delay > 0) {
            /* MDInitialDelay: the first run waits (each generation's driver, as it starts) */
            apr_atomic_set64(&drv->gen->times->next_run,
                             (apr_uint64_t) (apr_time_now() + drv->mc->initial_delay));
            drv->set_interval(drv->wd, drv->mc->initial_delay, drv, drive_callback);
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, drv->s,
                         "md driver: first run in %s (MDInitialDelay)",
                         md_duration_format(drv->mc->initial_delay, ptemp));
            break;
        }
        /* at once: mod_watchdog calls RUNNING only after a tick (100 ms) of sleep */
        drive_now(drv, ptemp);
        break;
    case AP_WATCHDOG_STATE_RUNNING:
        drive_now(drv, ptemp);
        break;
    default:
        /* a run in progress finishes first: every CA request has a timeout and the job is
         * saved after each step, so what a stop cuts short resumes in the next driver */
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, drv->s, "md driver: stopping");
        break;
    }
    return APR_SUCCESS; /* mod_watchdog stops calling a callback that fails */
}

/* The driver for this generation: a child singleton watchdog. */
static void driver_setup(md_mod_conf_t *mc, md_mod_gen_t *gen, server_rec *s, apr_pool_t *pconf)
{
    md_mod_wd_instance_fn *get_instance;
    md_mod_wd_register_fn *register_callback;
    md_mod_driver_t *drv;
    apr_shm_t *shm;
    apr_status_t rv;
    int driven = 0;

    for (int i = 0; i < gen->snaps->nelts; ++i) {
        driven += APR_ARRAY_IDX(gen->snaps, i, const md_mod_snap_t *)->driven;
    }
    if (!driven) {
        return;
    }
    get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    drv = apr_pcalloc(pconf, sizeof(*drv));
    drv->set_interval = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_set_callback_interval);
    if (!get_instance || !register_callback || !drv->set_interval) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "mod_watchdog is not available: certificates are not obtained or renewed "
                     "in the background (use 'MDDriveMode manual' and a2md drive)");
        return;
    }
    drv->s = s;
    drv->mc = mc;
    drv->gen = gen;
    if ((rv = apr_shm_create(&shm, sizeof(md_mod_drive_times_t), NULL, pconf)) != APR_SUCCESS ||
        (rv = get_instance(&drv->wd, MD_MOD_WD_DRIVE, 0, 1, pconf)) != APR_SUCCESS ||
        (rv = register_callback(drv->wd, MD_MOD_DRIVE_FIRST, drv, drive_callback)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "cannot set up the background driver: certificates are not obtained or "
                     "renewed in the background");
        return;
    }
    gen->times = apr_shm_baseaddr_get(shm);
    memset(gen->times, 0, sizeof(*gen->times));
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "md driver: set up for %d MD(s)", driven);
}

/* A child that exits (graceful restart, stop) tells a drive in progress to stop -- requests
 * in flight are aborted, waits end, commands are killed -- and waits until the run has
 * returned, its threads joined: nothing of it may run while the process tears its pools down
 * (mod_watchdog does not join a busy thread when the event MPM's child exits). The job keeps
 * its progress and the next generation's driver resumes it. */
static apr_status_t cancel_drives(void *data)
{
    md_mod_gen_t *gen = data;
    apr_time_t deadline = apr_time_now() + MD_MOD_STOP_WAIT;

    apr_atomic_set32(&gen->cancel, 1);
    while (apr_atomic_read32(&gen->running) > 0 && apr_time_now() < deadline) {
        apr_sleep(MD_MOD_STOP_POLL);
    }
    return APR_SUCCESS;
}

static void drive_child_init(apr_pool_t *pchild, server_rec *s)
{
    md_mod_gen_t *gen = md_mod_gen_get(s);

    if (gen) {
        /* a pre-cleanup runs before the cleanups that join the watchdog threads */
        apr_pool_pre_cleanup_register(pchild, gen, cancel_drives);
    }
}

static int drive_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    md_mod_srv_t *sc;
    md_mod_gen_t *gen;
    apr_time_t started;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK; /* the first, trial pass: nothing is started then */
    }
    sc = md_mod_srv_get(s);
    if (!sc || !sc->mc || !sc->mc->reg || !sc->mc->mds) {
        return OK; /* nothing managed (or the store could not be opened: logged there) */
    }
    started = apr_time_now();
    gen = gen_make(sc->mc, s, pconf);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "md status of %d MD(s) taken in %d ms",
                 gen->snaps->nelts, (int) apr_time_as_msec(apr_time_now() - started));
    driver_setup(sc->mc, gen, s, pconf);
    return OK;
}

void md_mod_drive_hooks(apr_pool_t *p)
{
    /* after the module's own post_config (MIDDLE: store synced, staged sets installed) and
     * before mod_watchdog's (LAST), which starts the watchdogs registered by then */
    ap_hook_post_config(drive_post_config, NULL, NULL, APR_HOOK_MIDDLE + 1);
    ap_hook_child_init(drive_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    md_mod_status_hooks(p);
}

/* mod_md_activate.c: activation -- a thread in the parent notices newly staged certificate sets
 * and makes the server restart gracefully, which installs them (post_config promotes). */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <ap_mpm.h>
#include <mpm_common.h>

#include "md_store.h"
#include "mod_md.h"
#include "mod_md_drive.h"

APLOG_USE_MODULE(md);

/* How often the parent looks into staging/: a stat per MD, cheap even for thousands. */
#define MD_MOD_ACTIVATE_INTERVAL apr_time_from_sec(2)
/* The thread sleeps in slices this long, so a restart or stop never waits for it. */
#define MD_MOD_ACTIVATE_SLICE apr_time_from_msec(100)
/* process pool user data: the staged sets already acted on, across restarts */
#define MD_MOD_SEEN_KEY "mod_md_activate_seen"

/* Survives restarts (lives in the process pool): without it, a staged set that the restart
 * fails to install would make the server restart again and again. Only the activation
 * thread touches it after post_config made it. */
typedef struct {
    apr_pool_t *p;
    apr_hash_t *sets; /* MD name -> identity of the staged set last acted on */
} md_mod_seen_t;

/* mod_watchdog has no parent watchdogs for forked MPMs (prefork, worker, event), so the
 * parent runs a thread of its own: started in post_config (after httpd detached), stopped and
 * joined when pconf is cleared (restart, stop). */
typedef struct {
    server_rec *s;
    md_mod_conf_t *mc;
    md_mod_seen_t *seen;
    int restart; /* restart gracefully ourselves, else only tell the operator */
    apr_thread_t *thread;
    volatile apr_uint32_t stop;
} md_mod_activator_t;

static md_mod_seen_t *seen_get(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    void *v = NULL;
    md_mod_seen_t *seen;

    apr_pool_userdata_get(&v, MD_MOD_SEEN_KEY, pp);
    if (v) {
        return v;
    }
    seen = apr_pcalloc(pp, sizeof(*seen));
    apr_pool_create(&seen->p, pp);
    seen->sets = apr_hash_make(seen->p);
    apr_pool_userdata_set(seen, MD_MOD_SEEN_KEY, apr_pool_cleanup_null, pp);
    return seen;
}

/* Whether the other processes leave the store alone: no drive (of other MDs) is in the
 * middle of writing, which the restart would cut short. */
static int store_idle(md_mod_activator_t *act, apr_pool_t *p)
{
    md_store_lock_t *lock;

    if (md_store_lock(&lock, md_reg_store(act->mc->reg), 0, p) != APR_SUCCESS) {
        return 0;
    }
    md_store_unlock(lock);
    return 1;
}

/* One look into staging/: acts on staged sets not acted on before. */
static void activate_check(md_mod_activator_t *act, apr_pool_t *p)
{
    apr_array_header_t *fresh = apr_array_make(p, 4, sizeof(const md_t *));
    apr_array_header_t *ids = apr_array_make(p, 4, sizeof(const char *));
    apr_time_t now = apr_time_now();
    const char *id, *seen;
    int mpm_state, restart = 0;

    if (ap_mpm_query(AP_MPMQ_MPM_STATE, &mpm_state) != APR_SUCCESS ||
        mpm_state != AP_MPMQ_RUNNING) {
        return; /* not while starting or stopping */
    }
    for (int i = 0; i < act->mc->mds->nelts; ++i) {
        const md_t *md = APR_ARRAY_IDX(act->mc->mds, i, const md_t *);
        if (!(id = md_mod_staged_set(act->mc->reg, md, now, p))) {
            continue;
        }
        seen = apr_hash_get(act->seen->sets, md->name, APR_HASH_KEY_STRING);
        if (seen && !strcmp(seen, id)) {
            continue;
        }
        APR_ARRAY_PUSH(fresh, const md_t *) = md;
        APR_ARRAY_PUSH(ids, const char *) = id;
        restart |= act->restart && md->renew_mode != MD_RENEW_MANUAL;
    }
    if (fresh->nelts == 0 || (restart && !store_idle(act, p))) {
        return; /* nothing new, or wait for the drive in progress to finish */
    }
    for (int i = 0; i < fresh->nelts; ++i) {
        const md_t *md = APR_ARRAY_IDX(fresh, i, const md_t *);
        apr_hash_set(act->seen->sets, apr_pstrdup(act->seen->p, md->name), APR_HASH_KEY_STRING,
                     apr_pstrdup(act->seen->p, APR_ARRAY_IDX(ids, i, const char *)));
        if (restart) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, act->s,
                         "%s: new certificate staged, graceful restart to activate it", md->name);
        } else {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, act->s,
                         "%s: new certificate staged; it goes live at the next graceful restart "
                         "(apachectl graceful)",
                         md->name);
        }
    }
    if (restart) {
        kill(getpid(), AP_SIG_GRACEFUL);
    }
}

static void *APR_THREAD_FUNC activate_thread(apr_thread_t *thread, void *baton)
{
    md_mod_activator_t *act = baton;
    apr_pool_t *p;
    apr_time_t next = 0;
    sigset_t all;

    /* signals for the parent are handled by its main thread */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        apr_thread_exit(thread, APR_ENOMEM);
        return NULL;
    }
    while (!apr_atomic_read32(&act->stop)) {
        if (apr_time_now() >= next) {
            activate_check(act, p);
            apr_pool_clear(p);
            next = apr_time_now() + MD_MOD_ACTIVATE_INTERVAL;
        }
        apr_sleep(MD_MOD_ACTIVATE_SLICE);
    }
    apr_pool_destroy(p);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static apr_status_t activate_stop(void *baton)
{
    md_mod_activator_t *act = baton;
    apr_status_t trv;

    apr_atomic_set32(&act->stop, 1);
    apr_thread_join(&trv, act->thread);
    return APR_SUCCESS;
}

void md_mod_activation_setup(md_mod_conf_t *mc, server_rec *s, apr_pool_t *pconf)
{
    md_mod_activator_t *act;
    apr_status_t rv;

    if (!mc->mds || mc->mds->nelts == 0) {
        return;
    }
    act = apr_pcalloc(pconf, sizeof(*act));
    act->s = s;
    act->mc = mc;
    act->seen = seen_get(s);
    /* -X (ONE_PROCESS) has no parent to restart */
    act->restart = mc->auto_restart != 0 && !ap_exists_config_define("ONE_PROCESS");
    if ((rv = apr_thread_create(&act->thread, NULL, activate_thread, act, pconf)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "cannot start the thread that activates new certificates: they go live "
                     "at the next graceful restart only");
        return;
    }
    /* before pconf's subpools (the thread's among them) go */
    apr_pool_pre_cleanup_register(pconf, act, activate_stop);
}

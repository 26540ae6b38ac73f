/* mod_md_ocsp_renew.c: OCSP responses renewed in the background -- a child singleton watchdog
 * (as the server's User) asks the responders, stores the answers in ocsp/, tells MDMessageCmd. */
#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_optional.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <mod_watchdog.h>

#include "mod_md_drive.h"
#include "mod_md_ocsp.h"

APLOG_USE_MODULE(md);

#define MD_MOD_WD_OCSP "_md_ocsp_"
/* Runs no more often than this, however soon something is due. */
#define MD_MOD_OCSP_RUN_MIN apr_time_from_sec(1)
/* ... and at least this often: a certificate that went live meanwhile gets its staple. */
#define MD_MOD_OCSP_RUN_MAX apr_time_from_sec(60 * 60)
/* How soon a certificate that went live is noticed (one atomic read per MD each time). */
#define MD_MOD_OCSP_LIVE_POLL apr_time_from_sec(2)
/* A responder that failed is asked again after MDRetryDelay, doubling, at most this late. */
#define MD_MOD_OCSP_RETRY_MAX apr_time_from_sec(60 * 60)
/* Requests to a responder: OCSP answers are small and quick, or not coming. */
#define MD_MOD_OCSP_TIMEOUT apr_time_from_sec(15)
#define MD_MOD_OCSP_STOP_WAIT apr_time_from_sec(20)
#define MD_MOD_OCSP_STOP_POLL apr_time_from_msec(50)

typedef APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) md_mod_wd_instance_fn;
typedef APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) md_mod_wd_register_fn;
typedef APR_OPTIONAL_FN_TYPE(ap_watchdog_set_callback_interval) md_mod_wd_interval_fn;

/* Failures of one certificate's renewal, in the renewing process. */
typedef struct {
    int errors;
    apr_time_t next_try;
} md_mod_ocsp_try_t;

/* What one run did for a store entry (an MD, or "other"). */
typedef struct {
    int renewed, errored;
    apr_status_t rv;
    const char *detail;
} md_mod_ocsp_outcome_t;

typedef struct {
    md_mod_ocsp_t *ocsp;
    ap_watchdog_t *wd;
    md_mod_wd_interval_fn *set_interval;
    apr_pool_t *p;          /* the renewing process's, made at its start */
    apr_hash_t *tries;      /* certid hex -> md_mod_ocsp_try_t* */
    apr_time_t next_due;    /* when the last run said something is due next; 0: at once */
    apr_uint32_t live_seen; /* md_mod_live_gens at the last run */
    volatile apr_uint32_t running;
} md_mod_ocsp_renewer_t;

static md_mod_ocsp_try_t *try_of(md_mod_ocsp_renewer_t *rn, const md_mod_staple_t *st)
{
    md_mod_ocsp_try_t *t = apr_hash_get(rn->tries, st->oc->id, APR_HASH_KEY_STRING);

    if (!t) {
        t = apr_pcalloc(rn->p, sizeof(*t));
        apr_hash_set(rn->tries, apr_pstrdup(rn->p, st->oc->id), APR_HASH_KEY_STRING, t);
    }
    return t;
}

static apr_interval_time_t backoff(const md_mod_conf_t *mc, int errors)
{
    apr_interval_time_t wait = md_mod_retry_delay(mc);

    for (int k = 1; k < errors && wait < MD_MOD_OCSP_RETRY_MAX; ++k) {
        wait *= 2;
    }
    return wait < MD_MOD_OCSP_RETRY_MAX ? wait : MD_MOD_OCSP_RETRY_MAX;
}

static md_mod_ocsp_outcome_t *outcome_of(apr_hash_t *outcomes, const char *entry, apr_pool_t *p)
{
    md_mod_ocsp_outcome_t *o = apr_hash_get(outcomes, entry, APR_HASH_KEY_STRING);

    if (!o) {
        o = apr_pcalloc(p, sizeof(*o));
        apr_hash_set(outcomes, entry, APR_HASH_KEY_STRING, o);
    }
    return o;
}

/* One certificate: renewed when it has no usable response or its renew window began;
 * returns when it needs looking at next. */
static apr_time_t staple_renew(md_mod_ocsp_renewer_t *rn, md_http_t *http, md_mod_staple_t *st,
                               apr_hash_t *outcomes, apr_time_t now, apr_pool_t *p)
{
    md_mod_conf_t *mc = rn->ocsp->mc;
    md_store_t *store = md_reg_store(mc->reg);
    const md_timeslice_t *window = md_mod_stapling_window(mc, p);
    const char *serial = md_cert_serial_hex(st->oc->cert, p), *err = NULL;
    md_mod_ocsp_try_t *t = try_of(rn, st);
    md_mod_ocsp_outcome_t *o;
    md_ocsp_resp_t resp;
    apr_status_t rv;
    apr_time_t renew_at = 0;

    if (md_ocsp_load(&resp, &err, store, st->entry, st->oc, p) == APR_SUCCESS) {
        renew_at = md_ocsp_renew_at(&resp, window);
    }
    if (renew_at > now) {
        return renew_at;
    }
    if (t->next_try > now) {
        return t->next_try;
    }
    o = outcome_of(outcomes, st->entry, p);
    rv = md_ocsp_fetch(&resp, &err, http, st->oc, now, p);
    if (rv == APR_SUCCESS && resp.status == MD_OCSP_UNKNOWN) {
        /* a CA may not know a certificate it issued a moment ago: no use to staple that */
        rv = APR_EAGAIN;
        err = apr_psprintf(p, "responder %s does not know the certificate (status unknown)",
                           st->oc->responder);
    }
    if (rv == APR_SUCCESS &&
        (rv = md_ocsp_save(store, st->entry, st->oc, &resp, p)) != APR_SUCCESS) {
        err = "cannot store the response (see above)";
    }
    if (rv != APR_SUCCESS) {
        t->next_try = now + backoff(mc, ++t->errors);
        o->errored++;
        o->rv = rv;
        o->detail = apr_psprintf(p, "certificate %s: %s", serial, err);
        /* a fresh certificate the CA does not know yet is expected once: no warning for that */
        ap_log_error(APLOG_MARK, rv == APR_EAGAIN && t->errors == 1 ? APLOG_INFO : APLOG_WARNING,
                     rv, rn->ocsp->s,
                     "OCSP stapling of %s: renewing the response of certificate %s failed "
                     "(%d. time): %s; asking again at %s%s",
                     st->entry, serial, t->errors, err, md_time_format(t->next_try, p),
                     renew_at ? ", the stored response is stapled meanwhile" : "");
        return t->next_try;
    }
    t->errors = 0;
    t->next_try = 0;
    o->renewed++;
    o->detail = apr_psprintf(p, "certificate %s: status %s, valid until %s", serial,
                             md_ocsp_status_name(resp.status), md_time_format(resp.valid_until, p));
    ap_log_error(APLOG_MARK, resp.status == MD_OCSP_GOOD ? APLOG_INFO : APLOG_WARNING, 0,
                 rn->ocsp->s, "OCSP stapling of %s: certificate %s is %s, response valid until %s",
                 st->entry, serial, md_ocsp_status_name(resp.status),
                 md_time_format(resp.valid_until, p));
    return md_ocsp_renew_at(&resp, window);
}

/* ocsp/<entry>/job.json with the bundled module's member names and dates, for md-status. */
static void job_save(md_mod_ocsp_renewer_t *rn, const char *entry, const md_mod_ocsp_outcome_t *o,
                     apr_time_t now, apr_time_t next, apr_pool_t *p)
{
    md_json_t *j = md_json_new_obj(p), *last = md_json_new_obj(p);
    md_store_t *store = md_reg_store(rn->ocsp->mc->reg);
    const char *err;
    md_json_t *old;
    long long errors = 0;

    if (md_store_load_json(&old, &err, store, MD_SG_OCSP, entry, MD_MOD_OCSP_JOB, p) ==
        APR_SUCCESS) {
        errors = md_json_get_int(old, "errors", 0);
    }
    md_json_set_str(j, "name", entry);
    md_json_set_bool(j, "finished", 1);
    md_json_set_int(j, "errors", o->errored ? errors + 1 : 0);
    md_json_set_str(j, "last-run", md_time_http(now, p));
    md_json_set_str(j, "next-run", md_time_http(next, p));
    md_json_set_int(last, "status", o->errored ? o->rv : 0);
    md_json_set_str(last, "detail", o->detail);
    md_json_set(j, "last", last);
    md_store_save_json(store, MD_SG_OCSP, entry, MD_MOD_OCSP_JOB, j, p);
}

/* Every staple: the primed ones and those of the live sets this process presents. */
static apr_array_header_t *staples_all(md_mod_ocsp_t *ocsp, apr_pool_t *p)
{
    apr_array_header_t *all = apr_array_copy(p, ocsp->all);

    for (int i = 0; i < ocsp->mc->mds->nelts; ++i) {
        apr_array_cat(all, md_mod_ocsp_live_staples(ocsp, i, p));
    }
    return all;
}

static apr_interval_time_t renew_run(md_mod_ocsp_renewer_t *rn, apr_pool_t *p)
{
    md_mod_conf_t *mc = rn->ocsp->mc;
    apr_time_t now = apr_time_now(), next = now + MD_MOD_OCSP_RUN_MAX, at;
    apr_hash_t *outcomes = apr_hash_make(p);
    apr_array_header_t *staples = staples_all(rn->ocsp, p);
    apr_hash_index_t *hi;
    md_http_t *http;
    int removed;

    if (md_http_create(&http, p, NULL, mc->ca_file, mc->proxy) != APR_SUCCESS) {
        return MD_MOD_OCSP_RUN_MAX;
    }
    md_http_set_cancel(http, &rn->ocsp->cancel);
    md_http_set_timeouts(http, MD_MOD_OCSP_TIMEOUT, MD_MOD_OCSP_TIMEOUT);
    md_ocsp_prune(&removed, md_reg_store(mc->reg), md_mod_stapling_keep(mc), now, p);
    for (int k = 0; k < staples->nelts && !apr_atomic_read32(&rn->ocsp->cancel); ++k) {
        at = staple_renew(rn, http, APR_ARRAY_IDX(staples, k, md_mod_staple_t *), outcomes, now, p);
        next = at < next ? at : next;
    }
    now = apr_time_now();
    next = next < now + MD_MOD_OCSP_RUN_MIN ? now + MD_MOD_OCSP_RUN_MIN : next;
    for (hi = apr_hash_first(p, outcomes); hi; hi = apr_hash_next(hi)) {
        const char *entry = apr_hash_this_key(hi);
        const md_mod_ocsp_outcome_t *o = apr_hash_this_val(hi);
        job_save(rn, entry, o, now, next, p);
        md_mod_message(mc, &rn->ocsp->cancel, o->errored ? "ocsp-errored" : "ocsp-renewed", entry,
                       p);
    }
    return next - now;
}

static apr_status_t renew_callback(int state, void *baton, apr_pool_t *ptemp)
{
    md_mod_ocsp_renewer_t *rn = baton;
    apr_interval_time_t wait;

    if (state == AP_WATCHDOG_STATE_STARTING && !rn->p &&
        apr_pool_create(&rn->p, NULL) == APR_SUCCESS) {
        rn->tries = apr_hash_make(rn->p);
    }
    if ((state == AP_WATCHDOG_STATE_STARTING || state == AP_WATCHDOG_STATE_RUNNING) && rn->p) {
        apr_atomic_inc32(&rn->running);
        if (!apr_atomic_read32(&rn->ocsp->cancel)) {
            apr_time_t now = apr_time_now();
            apr_uint32_t live = md_mod_live_gens(rn->ocsp->mc);
            /* nothing due and no certificate went live: only look again */
            if (!rn->next_due || now >= rn->next_due || live != rn->live_seen) {
                rn->live_seen = live;
                rn->next_due = now + renew_run(rn, ptemp);
            }
            wait = rn->next_due - now;
            wait = wait < MD_MOD_OCSP_LIVE_POLL ? wait : MD_MOD_OCSP_LIVE_POLL;
            rn->set_interval(rn->wd, wait > 0 ? wait : MD_MOD_OCSP_RUN_MIN, rn, renew_callback);
        }
        apr_atomic_dec32(&rn->running);
    }
    return APR_SUCCESS; /* mod_watchdog stops calling a callback that fails */
}

/* The child exits: a renewal in progress stops (requests abort, commands are killed) and is
 * waited for, as the driver's (mod_md_drive.c). */
static apr_status_t renew_cancel(void *data)
{
    md_mod_ocsp_renewer_t *rn = data;
    apr_time_t deadline = apr_time_now() + MD_MOD_OCSP_STOP_WAIT;

    apr_atomic_set32(&rn->ocsp->cancel, 1);
    while (apr_atomic_read32(&rn->running) > 0 && apr_time_now() < deadline) {
        apr_sleep(MD_MOD_OCSP_STOP_POLL);
    }
    return APR_SUCCESS;
}

void md_mod_ocsp_renew_child_init(md_mod_ocsp_t *ocsp, apr_pool_t *pchild)
{
    if (ocsp->renewer) {
        /* a pre-cleanup runs before the cleanups that join the watchdog threads */
        apr_pool_pre_cleanup_register(pchild, ocsp->renewer, renew_cancel);
    }
}

void md_mod_ocsp_renew_setup(md_mod_ocsp_t *ocsp, server_rec *s, apr_pool_t *pconf)
{
    md_mod_wd_instance_fn *get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    md_mod_wd_register_fn *register_callback =
        APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    md_mod_ocsp_renewer_t *rn = apr_pcalloc(pconf, sizeof(*rn));
    apr_status_t rv;

    rn->ocsp = ocsp;
    rn->set_interval = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_set_callback_interval);
    if (!get_instance || !register_callback || !rn->set_interval ||
        (rv = get_instance(&rn->wd, MD_MOD_WD_OCSP, 0, 1, pconf)) != APR_SUCCESS ||
        (rv = register_callback(rn->wd, MD_MOD_OCSP_RUN_MIN, rn, renew_callback)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "cannot set up the renewal of OCSP responses (mod_watchdog): "
                     "certificates are not stapled");
        return;
    }
    ocsp->renewer = rn;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "OCSP stapling: %d certificate(s) primed",
                 ocsp->all->nelts);
}

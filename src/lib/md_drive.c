/* md_drive.c: the renewal job of one MD as one linear state machine that follows RFC 8555
 * section 7.1 step by step; persisted after each step (md_drive_job.c) so a rerun resumes. */
#include <stdarg.h>
#include <string.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "md_acme_profile.h"
#include "md_ari_drive.h"
#include "md_drive.h"
#include "md_drive_int.h"
#include "md_drive_step.h"
#include "md_drive_job.h"
#include "md_persist.h"
#include "md_retry.h"
#include "md_cert.h"
#include "md_chain.h"
#include "md_log.h"

/* How long the CA may take to decide on one authorization, and to issue after finalize. */
#define MD_DRIVE_AUTHZ_TIMEOUT apr_time_from_sec(60)
#define MD_DRIVE_ORDER_TIMEOUT apr_time_from_sec(120)
/* Polling: the first look soon (a CA nearby validates and issues within milliseconds), then
 * doubling: a CA that takes seconds costs only a few more looks. */
#define MD_DRIVE_POLL_FIRST apr_time_from_msec(10)
#define MD_DRIVE_POLL_MAX apr_time_from_sec(1)
/* While polling, a CA that does not answer at all for up to this long is asked again: a
 * restart of it, a network blip; longer, the drive fails (and is tried again later). */
#define MD_DRIVE_CA_AWAY_MAX apr_time_from_sec(5)
/* How soon a cancelled drive (server shutdown) notices while it waits. */
#define MD_DRIVE_CANCEL_SLICE apr_time_from_msec(100)

/* ---- failures: say what and why once, with the domain and the CA's words ---- */

apr_status_t md_drive_fail(md_drive_t *d, apr_status_t rv, const char *domain,
                           const md_acme_problem_t *prob, const char *fmt, ...)
{
    va_list ap;
    const char *what;

    va_start(ap, fmt);
    what = apr_pvsprintf(d->p, fmt, ap);
    va_end(ap);
    d->err.status = rv == APR_SUCCESS ? APR_EGENERAL : rv;
    d->err.domain = domain;
    d->err.problem = prob;
    d->err.detail =
        prob ? apr_psprintf(d->p, "%s: %s", what, md_acme_problem_str(prob, d->p)) : what;
    return d->err.status;
}

/* Tells the operator's program (md_drive_opts_t.on_event); its refusal fails the step. */
static apr_status_t event(md_drive_t *d, const char *name)
{
    apr_status_t rv;

    if (!d->opts->on_event ||
        (rv = d->opts->on_event(name, d->md, d->opts->on_event_baton, d->p)) == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    return md_drive_fail(
        d, rv == APR_EINTR ? rv : APR_EGENERAL, NULL, NULL,
        "the program run for event '%s' (MDMessageCmd) failed: the drive stops here "
        "and is tried again later",
        name);
}

/* The CA did not answer at all (rather than answering no). */
static int ca_unreachable(apr_status_t rv)
{
    return APR_STATUS_IS_ECONNREFUSED(rv) || APR_STATUS_IS_EHOSTUNREACH(rv) ||
           APR_STATUS_IS_TIMEUP(rv);
}

/* The statuses md_acme_problem_status() gives: the CA answered with a problem document. */
static int ca_said_no(apr_status_t rv)
{
    return APR_STATUS_IS_EAGAIN(rv) || APR_STATUS_IS_EACCES(rv) || APR_STATUS_IS_EINVAL(rv);
}

/* A request to the CA failed: with the CA's problem when it sent one, else the reason. */
apr_status_t md_drive_ca_fail(md_drive_t *d, apr_status_t rv, const char *domain, const char *what)
{
    const md_acme_problem_t *prob = ca_said_no(rv) ? md_acme_last_problem(d->acme) : NULL;
    const char *http_err = md_http_last_error(md_acme_http(d->acme));
    char buf[256];

    if (prob) {
        return md_drive_fail(d, rv, domain, prob, "%s", what);
    }
    return md_drive_fail(d, rv, domain, NULL, "%s: %s (CA %s)", what,
                         http_err[0] ? http_err : apr_strerror(rv, buf, sizeof(buf)), d->ca_url);
}

/* ---- polling: backoff from MD_DRIVE_POLL_FIRST to _MAX, Retry-After honoured ---- */

typedef struct {
    apr_time_t deadline;
    apr_interval_time_t delay;
    volatile apr_uint32_t *cancel;
} md_poll_t;

static void poll_start(md_poll_t *poll, md_drive_t *d, apr_interval_time_t timeout)
{
    poll->deadline = apr_time_now() + timeout;
    poll->delay = MD_DRIVE_POLL_FIRST;
    poll->cancel = d->opts->cancel;
}

int md_drive_cancelled(volatile apr_uint32_t *cancel)
{
    return cancel && apr_atomic_read32(cancel);
}

/* Waits before the next look: APR_SUCCESS, APR_TIMEUP when the time is up, APR_EINTR when the
 * drive is cancelled meanwhile (looked at every MD_DRIVE_CANCEL_SLICE). */
static apr_status_t poll_wait(md_poll_t *poll, apr_interval_time_t retry_after)
{
    apr_time_t now = apr_time_now();
    apr_interval_time_t after = md_retry_after_capped(retry_after);
    apr_interval_time_t wait = after > poll->delay ? after : poll->delay;
    apr_time_t until;

    if (now >= poll->deadline) {
        return APR_TIMEUP;
    }
    until = now + wait > poll->deadline ? poll->deadline : now + wait;
    while ((now = apr_time_now()) < until) {
        if (md_drive_cancelled(poll->cancel)) {
            return APR_EINTR;
        }
        apr_sleep(until - now > MD_DRIVE_CANCEL_SLICE ? MD_DRIVE_CANCEL_SLICE : until - now);
    }
    poll->delay = poll->delay * 2 > MD_DRIVE_POLL_MAX ? MD_DRIVE_POLL_MAX : poll->delay * 2;
    return md_drive_cancelled(poll->cancel) ? APR_EINTR : APR_SUCCESS;
}

static apr_interval_time_t timeout_or(apr_interval_time_t t, apr_interval_time_t dflt)
{
    return t > 0 ? t : dflt;
}

/* ---- the steps ---- */

static void begin(md_drive_t *d, md_step_t step)
{
    d->err.step = step;
}

/* A stored order the job can go on with: the CA still has it, it can still end in a
 * certificate, and once it is past finalize, the key for it is in staging. */
static int order_resumable(md_drive_t *d, const md_acme_order_t *order)
{
    const char *err;

    if (md_drive_is(order->status, ST_PENDING) || md_drive_is(order->status, ST_READY)) {
        return 1;
    }
    if (md_drive_is(order->status, ST_PROCESSING) || md_drive_is(order->status, ST_VALID)) {
        return md_store_load_pkey(&d->key, &err, d->store, MD_SG_STAGING, d->md->name,
                                  md_job_file(MD_FN_PRIVKEY, d->spec, d->p), d->p) == APR_SUCCESS;
    }
    return 0;
}

/* draft-ietf-acme-profiles: the profile a new order asks for (MDProfile), when the CA lists
 * it. One it does not list is refused when mandatory (the CA's list changes rarely: retried
 * hours apart), else a warning and the order goes without one, to the CA's default. */
static apr_status_t order_profile(md_drive_t *d, const char **pprofile)
{
    const md_acme_directory_t *dir;
    const char *why;
    apr_status_t rv;

    *pprofile = NULL;
    if (!d->md->profile) {
        return APR_SUCCESS;
    }
    if ((rv = md_acme_directory(&dir, d->acme)) != APR_SUCCESS) {
        return md_drive_ca_fail(d, rv, NULL, "reading the CA's directory for its profiles");
    }
    rv = md_acme_profile_choose(pprofile, &why, d->md->profile, d->md->profile_mandatory,
                                dir->profiles, d->p);
    if (rv != APR_SUCCESS) {
        d->err.refused = 1;
        return md_drive_fail(d, rv, NULL, NULL, "%s (CA %s)", why, d->ca_url);
    }
    if (why) {
        md_log_perror(MD_LOG_MARK, MD_LOG_WARN, APR_SUCCESS, "%s: %s (CA %s)", d->md->name, why,
                      d->ca_url);
    }
    return APR_SUCCESS;
}

/* RFC 8555 7.4: an order for all names of the MD (one per key spec). The job's order is
 * resumed while it is usable; one the CA forgot or failed is replaced by a new one. */
static apr_status_t step_order(md_drive_t *d)
{
    const char *url = md_job_order_url(d->job, d->spec_name);
    apr_status_t rv;

    begin(d, MD_STEP_ORDER);
    d->order = NULL;
    d->key = NULL;
    if (url) {
        rv = md_acme_order_get(&d->order, d->acme, url, d->p);
        if (rv != APR_SUCCESS && ca_unreachable(rv)) {
            return md_drive_ca_fail(d, rv, NULL, apr_psprintf(d->p, "looking up order %s", url));
        }
        if (rv != APR_SUCCESS || !order_resumable(d, d->order)) {
            md_log_perror(MD_LOG_MARK, MD_LOG_INFO, rv, "%s: order %s is %s, making a new one",
                          d->md->name, url, rv == APR_SUCCESS ? d->order->status : "gone");
            d->order = NULL;
            d->key = NULL;
        }
    }
    if (!d->order) {
        md_acme_order_req_t req = {.domains = d->md->domains};

        if ((rv = order_profile(d, &req.profile)) != APR_SUCCESS) {
            return rv;
        }
        if ((rv = md_ari_order_new(&d->order, d->acme, &req, d->job, d->spec_name, d->p)) !=
            APR_SUCCESS) {
            return md_drive_ca_fail(d, rv, NULL, "creating an order");
        }
    }
    md_job_set_order(d->job, d->spec_name, d->order->url, d->order->status);
    md_job_set_order_profile(d->job, d->spec_name, d->order->profile);
    return md_job_done(d->job, MD_STEP_ORDER,
                       apr_psprintf(d->p, "%s: order %s is %s (profile: %s)", d->spec_name,
                                    d->order->url, d->order->status,
                                    d->order->profile ? d->order->profile : "none named"));
}

/* RFC 8555 7.5.1: poll the authorization until the CA has decided. */
static apr_status_t await_authz(md_drive_t *d, md_acme_authz_t **pauthz, const char *type)
{
    md_acme_authz_t *authz = *pauthz;
    const char *domain = authz->domain, *url = authz->url;
    apr_time_t away_since = 0;
    md_poll_t poll;
    apr_status_t rv;

    poll_start(&poll, d, timeout_or(d->opts->authz_timeout, MD_DRIVE_AUTHZ_TIMEOUT));
    while (md_drive_is(authz->status, ST_PENDING)) {
        if ((rv = poll_wait(&poll, 0)) == APR_EINTR) {
            return rv;
        }
        if (rv != APR_SUCCESS) {
            return md_drive_fail(
                d, APR_TIMEUP, domain, NULL, "the CA did not validate %s within %s", type,
                md_duration_format(timeout_or(d->opts->authz_timeout, MD_DRIVE_AUTHZ_TIMEOUT),
                                   d->p));
        }
        if ((rv = md_acme_authz_get(&authz, d->acme, url, d->p)) != APR_SUCCESS) {
            away_since = away_since ? away_since : apr_time_now();
            if (ca_unreachable(rv) && apr_time_now() - away_since < MD_DRIVE_CA_AWAY_MAX) {
                authz = *pauthz; /* a CA away for a moment (a restart): ask again */
                continue;
            }
            return md_drive_ca_fail(d, rv, domain, "polling the authorization");
        }
        away_since = 0;
        *pauthz = authz;
    }
    if (!md_drive_is(authz->status, ST_VALID)) {
        return md_drive_fail(d, APR_EINVAL, domain, authz->error, "the CA found the %s answer %s",
                             type, authz->status);
    }
    return APR_SUCCESS;
}

static const char *offered_types(const md_acme_authz_t *authz, apr_pool_t *p)
{
    apr_array_header_t *types = apr_array_make(p, 3, sizeof(const char *));

    for (int i = 0; authz->challenges && i < authz->challenges->nelts; ++i) {
        APR_ARRAY_PUSH(types, const char *) =
            APR_ARRAY_IDX(authz->challenges, i, const md_acme_chall_t *)->type;
    }
    return md_array_str_join(types, ", ", p);
}

/* RFC 8555 7.5 and 7.5.1: one authorization -- choose a challenge, set up its answer, tell
 * the CA, wait for its decision. The answer is noted in d->answered: it stays until the order
 * is done (answers_teardown). */
static apr_status_t authorize(md_drive_t *d, const char *url)
{
    md_drive_answer_t *answered;
    md_acme_authz_t *authz;
    const md_acme_chall_t *chall;
    const char *persist = NULL; /* the dns-persist-01 record the CA looks for */
    apr_status_t rv;

    if ((rv = md_acme_authz_get(&authz, d->acme, url, d->p)) != APR_SUCCESS) {
        return md_drive_ca_fail(d, rv, NULL, apr_psprintf(d->p, "fetching authorization %s", url));
    }
    if (!authz->domain || md_array_str_index(d->md->domains, authz->domain, 0) < 0) {
        /* nothing goes to challenges/ (the workers answer for any Host) nor to a DNS hook for
         * a name the operator did not ask for */
        d->err.refused = 1;
        return md_drive_fail(d, APR_EINVAL, authz->domain, NULL,
                             "the CA asks to authorize '%s' (%s), which is not a name of the MD: "
                             "refused, nothing is answered for it",
                             authz->domain ? authz->domain : "(none)", url);
    }
    if (md_drive_is(authz->status, ST_VALID)) {
        return APR_SUCCESS;
    }
    if (!md_drive_is(authz->status, ST_PENDING)) {
        return md_drive_fail(d, APR_EINVAL, authz->domain, authz->error, "the authorization is %s",
                             authz->status);
    }
    if ((rv = md_chall_choose(&chall, authz, &d->chall, d->p)) != APR_SUCCESS) {
        return md_drive_fail(
            d, rv, authz->domain, NULL,
            "none of the challenge types the CA offers (%s) can be answered here%s",
            offered_types(authz, d->p),
            md_dns_is_wildcard(authz->domain)
                ? "; wildcard names need dns-01 and a command for it (MDChallengeDns01, "
                  "a2md drive -D), or dns-persist-01 (MDCAChallenges, a2md drive -c)"
                : "");
    }
    if (!strcmp(chall->type, MD_CHALL_DNSPERSIST01) &&
        (rv = md_persist_note(&persist, d->store, d->md, d->md->ca_account, authz, chall, d->p)) !=
            APR_SUCCESS) {
        return md_drive_fail(d, rv, authz->domain, NULL,
                             "cannot tell which %s record the CA looks for", chall->type);
    }
    if ((rv = md_chall_setup(d->store, d->acme, authz, chall, &d->chall, d->p)) != APR_SUCCESS) {
        rv = md_drive_fail(d, rv, authz->domain, NULL, "cannot set up the %s answer", chall->type);
    } else if ((rv = event(d, apr_psprintf(d->p, "challenge-setup:%s:%s", chall->type,
                                           authz->domain))) != APR_SUCCESS) {
        /* the operator's program did not agree (a cluster could not copy the answer) */
    } else if (md_drive_is(chall->status, ST_PENDING) &&
               (rv = md_acme_chall_respond(d->acme, chall, d->p)) != APR_SUCCESS) {
        rv =
            md_drive_ca_fail(d, rv, authz->domain, apr_psprintf(d->p, "answering %s", chall->type));
    } else {
        /* a challenge already "processing" was answered by a run that got killed */
        rv = await_authz(d, &authz, chall->type);
    }
    if (rv != APR_SUCCESS && rv != APR_EINTR && persist) {
        /* the record is missing or wrong: the operator must publish it, retrying won't help */
        d->err.refused = 1;
        d->err.detail = apr_psprintf(d->p, "%s; publish the record %s", d->err.detail, persist);
    }
    /* the answer stays until the order is done (answers_teardown): a CA may fetch it more
     * than once, from several places, also after the authorization turned valid */
    answered = apr_pcalloc(d->p, sizeof(*answered));
    answered->authz = authz;
    answered->chall = chall;
    APR_ARRAY_PUSH(d->answered, md_drive_answer_t *) = answered;
    return rv;
}

/* RFC 8555 7.4: poll the order while it is in state 'waiting_in'. */
static apr_status_t await_order(md_drive_t *d, const char *waiting_in, apr_interval_time_t timeout)
{
    md_poll_t poll;
    apr_status_t rv;

    poll_start(&poll, d, timeout);
    while (md_drive_is(d->order->status, waiting_in)) {
        if ((rv = poll_wait(&poll, d->order->retry_after)) == APR_EINTR) {
            return rv;
        }
        if (rv != APR_SUCCESS) {
            return md_drive_fail(d, APR_TIMEUP, NULL, NULL, "order %s still %s after %s",
                                 d->order->url, waiting_in, md_duration_format(timeout, d->p));
        }
        if ((rv = md_acme_order_get(&d->order, d->acme, d->order->url, d->p)) != APR_SUCCESS) {
            return md_drive_ca_fail(d, rv, NULL, "polling the order");
        }
    }
    md_job_set_order(d->job, d->spec_name, d->order->url, d->order->status);
    return APR_SUCCESS;
}

/* RFC 8555 7.5: every authorization of the order made valid, one after the other (a
 * wildcard and its base name share one dns-01 record name), until the order is ready. */
static apr_status_t step_authorize(md_drive_t *d)
{
    apr_status_t rv;

    if (!md_drive_is(d->order->status, ST_PENDING)) {
        return APR_SUCCESS;
    }
    begin(d, MD_STEP_AUTHZ);
    for (int i = 0; i < d->order->authz_urls->nelts; ++i) {
        if ((rv = authorize(d, APR_ARRAY_IDX(d->order->authz_urls, i, const char *))) !=
            APR_SUCCESS) {
            return rv;
        }
    }
    /* With every authorization valid the order is ready (RFC 8555 7.1.6). Finalize says so
     * if the CA disagrees (orderNotReady): no request to look first. */
    d->order->status = ST_READY;
    md_job_note(d->job, MD_STEP_AUTHZ,
                apr_psprintf(d->p, "%s: %d authorizations valid", d->spec_name,
                             d->order->authz_urls->nelts));
    return APR_SUCCESS;
}

/* The CA answered finalize with orderNotReady: its order was not ready after all (it still
 * checks an authorization, or the order is already past). Look it up and wait while it is
 * pending; APR_SUCCESS when it is ready now, so that finalize may go once more. */
static apr_status_t order_ready_after_all(md_drive_t *d)
{
    apr_status_t rv;

    if ((rv = md_acme_order_get(&d->order, d->acme, d->order->url, d->p)) != APR_SUCCESS) {
        return md_drive_ca_fail(d, rv, NULL, "looking up the order after orderNotReady");
    }
    if ((rv = await_order(d, ST_PENDING,
                          timeout_or(d->opts->authz_timeout, MD_DRIVE_AUTHZ_TIMEOUT))) !=
        APR_SUCCESS) {
        return rv;
    }
    if (!md_drive_is(d->order->status, ST_READY)) {
        return md_drive_fail(d, APR_EINVAL, NULL, d->order->error,
                             "order %s is %s after all names were authorized", d->order->url,
                             d->order->status);
    }
    return APR_SUCCESS;
}

/* RFC 8555 7.4: the key and CSR, finalize. The key is saved (encrypted) in staging before
 * the CA sees the CSR, so a job killed after finalize resumes with it. */
static apr_status_t step_finalize(md_drive_t *d)
{
    md_acme_order_t *order;
    unsigned char *csr;
    apr_size_t csr_len;
    apr_status_t rv;

    if (!md_drive_is(d->order->status, ST_READY)) {
        return APR_SUCCESS;
    }
    begin(d, MD_STEP_FINALIZE);
    if ((rv = md_pkey_gen(&d->key, d->spec, d->p)) != APR_SUCCESS) {
        return md_drive_fail(d, rv, NULL, NULL, "cannot make a %s key", d->spec_name);
    }
    if ((rv = md_store_save_pkey(d->store, MD_SG_STAGING, d->md->name,
                                 md_job_file(MD_FN_PRIVKEY, d->spec, d->p), d->key, d->p)) !=
        APR_SUCCESS) {
        return md_drive_fail(d, rv, NULL, NULL, "cannot save the %s key in staging", d->spec_name);
    }
    if ((rv = md_csr_create(&csr, &csr_len, d->md->domains, d->key, d->md->must_staple, d->p)) !=
        APR_SUCCESS) {
        return md_drive_fail(d, rv, NULL, NULL, "cannot make the CSR");
    }
    rv = md_acme_order_finalize(&order, d->acme, d->order, csr, csr_len, d->p);
    if (rv != APR_SUCCESS && ca_said_no(rv) &&
        !strcmp(md_acme_problem_short_type(md_acme_last_problem(d->acme)), "orderNotReady")) {
        if ((rv = order_ready_after_all(d)) != APR_SUCCESS) {
            return rv; /* told there */
        }
        rv = md_acme_order_finalize(&order, d->acme, d->order, csr, csr_len, d->p);
    }
    if (rv != APR_SUCCESS) {
        return md_drive_ca_fail(d, rv, NULL, "finalizing the order");
    }
    d->order = order;
    md_job_set_order(d->job, d->spec_name, d->order->url, d->order->status);
    return md_job_done(
        d->job, MD_STEP_FINALIZE,
        apr_psprintf(d->p, "%s: CSR sent, order is %s", d->spec_name, d->order->status));
}

/* RFC 8555 7.4: the CA issues in its own time; then the chain is downloaded (7.4.2). */
static apr_status_t step_download(md_drive_t *d)
{
    apr_interval_time_t timeout = timeout_or(d->opts->order_timeout, MD_DRIVE_ORDER_TIMEOUT);
    apr_status_t rv;

    begin(d, MD_STEP_DOWNLOAD);
    if ((rv = await_order(d, ST_PROCESSING, timeout)) != APR_SUCCESS) {
        return rv;
    }
    if (!md_drive_is(d->order->status, ST_VALID) || !d->order->certificate) {
        return md_drive_fail(d, APR_EINVAL, NULL, d->order->error, "order %s is %s, no certificate",
                             d->order->url, d->order->status);
    }
    if ((rv = md_acme_cert_download(&d->chain, d->acme, d->order->certificate,
                                    d->md->preferred_chain, d->p)) != APR_SUCCESS) {
        return md_drive_ca_fail(d, rv, NULL, "downloading the certificate");
    }
    /* staged next, with no request between: that save carries this step */
    md_job_note(d->job, MD_STEP_DOWNLOAD,
                apr_psprintf(d->p, "%s: chain of %d certificates to '%s' from %s", d->spec_name,
                             d->chain->nelts, md_chain_name(d->chain, d->p),
                             d->order->certificate));
    return APR_SUCCESS;
}

/* Verify (names, key, links, validity) and stage the certificate with md.json. A chain that
 * does not verify costs its order: the next run starts this key spec over. */
static apr_status_t step_stage(md_drive_t *d)
{
    const char *why = NULL;
    apr_status_t rv;

    begin(d, MD_STEP_STAGED);
    if (md_job_verify(&why, d->md, d->chain, d->key, d->p) != APR_SUCCESS) {
        /* the order is kept: another one would most likely end the same way and count against
         * the CA's limits (duplicate certificates); the next try fetches this one again */
        d->err.refused = 1;
        return md_drive_fail(
            d, APR_EINVAL, NULL, NULL,
            "the %s certificate from %s is not usable: %s; no new order is made for it "
            "('a2md drive --reset %s' starts afresh)",
            d->spec_name, d->order->certificate, why, d->md->name);
    }
    if ((rv = md_store_save_chain(d->store, MD_SG_STAGING, d->md->name,
                                  md_job_file(MD_FN_PUBCERT, d->spec, d->p), d->chain, d->p)) !=
            APR_SUCCESS ||
        (rv = md_store_save_json(d->store, MD_SG_STAGING, d->md->name, MD_FN_MD,
                                 md_to_json(d->md, d->p), d->p)) != APR_SUCCESS) {
        return md_drive_fail(d, rv, NULL, NULL, "cannot save the %s certificate in staging",
                             d->spec_name);
    }
    md_job_set_staged(d->job, d->spec_name);
    return APR_SUCCESS;
}

/* Removes the answers of the order: it is done (or failed). A cancelled drive (restart, stop)
 * leaves them: the CA may be fetching one right now, and the next drive resumes the order. */
static void answers_teardown(md_drive_t *d, apr_status_t rv)
{
    if (rv == APR_EINTR) {
        return;
    }
    for (int i = 0; i < d->answered->nelts; ++i) {
        const md_drive_answer_t *a = APR_ARRAY_IDX(d->answered, i, const md_drive_answer_t *);
        md_chall_teardown(d->store, d->acme, a->authz, a->chall, &d->chall, d->p);
    }
    apr_array_clear(d->answered);
}

/* One certificate: a key spec already staged (and still verifying) is skipped. */
static apr_status_t drive_spec(md_drive_t *d, const md_pkey_spec_t *spec)
{
    const char *why;
    apr_status_t rv;

    d->spec = spec;
    d->spec_name = md_pkey_spec_name(spec, d->p);
    if (md_job_is_staged(d->job, d->spec_name) &&
        md_job_load_staged(&why, &d->key, &d->chain, d->store, MD_SG_STAGING, d->md, spec, d->p) ==
            APR_SUCCESS) {
        return APR_SUCCESS;
    }
    apr_array_clear(d->answered);
    if ((rv = step_order(d)) == APR_SUCCESS && (rv = step_authorize(d)) == APR_SUCCESS &&
        (rv = step_finalize(d)) == APR_SUCCESS) {
        rv = step_download(d);
    }
    answers_teardown(d, rv);
    return rv == APR_SUCCESS ? step_stage(d) : rv;
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* The CA client: the worker's from the previous MD when it talks to the same CA, the same way
 * (an MD may have a proxy of its own). */
static apr_status_t acme_client(md_drive_t *d)
{
    md_drive_conn_t *conn = d->conn;
    const char *proxy = d->md->proxy ? d->md->proxy : d->opts->proxy;
    apr_status_t rv;

    if (conn && conn->acme && !strcmp(md_acme_url(conn->acme), d->ca_url) &&
        same_str(conn->proxy, proxy)) {
        d->acme = conn->acme;
        md_acme_forget(d->acme);
        return APR_SUCCESS;
    }
    rv = md_acme_create(&d->acme, d->ca_url, d->opts->ca_file, proxy, conn ? conn->p : d->p);
    if (rv == APR_SUCCESS) {
        md_http_set_cancel(md_acme_http(d->acme), d->opts->cancel);
        md_http_set_proxy_ca_file(md_acme_http(d->acme), d->opts->proxy_ca_file);
    }
    if (rv == APR_SUCCESS && conn) {
        conn->acme = d->acme;
        conn->proxy = proxy ? apr_pstrdup(conn->p, proxy) : NULL;
    }
    return rv;
}

static apr_status_t drive_steps(md_drive_t *d)
{
    const apr_array_header_t *specs = md_pkey_specs(d->md, d->p);
    apr_status_t rv;

    if ((rv = acme_client(d)) != APR_SUCCESS) {
        return md_drive_fail(d, rv, NULL, NULL, "cannot set up a client for %s", d->ca_url);
    }
    if ((rv = md_drive_step_account(d)) != APR_SUCCESS) {
        return rv;
    }
    for (int i = 0; i < specs->nelts; ++i) {
        if ((rv = drive_spec(d, APR_ARRAY_IDX(specs, i, const md_pkey_spec_t *))) != APR_SUCCESS) {
            return rv;
        }
    }
    return md_job_finished(d->job);
}

static int all_staged(md_drive_t *d)
{
    const apr_array_header_t *specs = md_pkey_specs(d->md, d->p);
    const char *why;
    md_pkey_t *key;
    apr_array_header_t *chain;

    for (int i = 0; i < specs->nelts; ++i) {
        const md_pkey_spec_t *spec = APR_ARRAY_IDX(specs, i, const md_pkey_spec_t *);
        if (md_job_load_staged(&why, &key, &chain, d->store, MD_SG_STAGING, d->md, spec, d->p) !=
            APR_SUCCESS) {
            return 0;
        }
    }
    return 1;
}

/* CA failover (several MDCertificateAuthority URLs): a job stays with its CA while that CA
 * answers. When a drive fails because the CA could not be reached, its job names the next CA
 * of the list ("ca-next", wrapping around) and the next drive starts afresh there. */
static const char *ca_choose(md_reg_t *reg, const md_t *md, apr_pool_t *p)
{
    const char *url = APR_ARRAY_IDX(md->ca_urls, 0, const char *), *u;
    md_json_t *job;

    if (md->ca_urls->nelts > 1 && md_drive_job_load(&job, reg, md->name, p) == APR_SUCCESS) {
        u = md_json_get_str(job, "ca-next") ? md_json_get_str(job, "ca-next")
                                            : md_json_get_str(job, "ca-url");
        if (u && md_array_str_index(md->ca_urls, u, 1) >= 0) {
            url = apr_pstrdup(p, u);
        }
    }
    return url;
}

static void ca_failover(md_drive_t *d)
{
    const apr_array_header_t *urls = d->md->ca_urls;
    int i = md_array_str_index(urls, d->ca_url, 1);
    int after = d->opts->retry_failover > 0 ? d->opts->retry_failover : MD_DRIVE_RETRY_FAILOVER;
    int errors = md_job_errors(d->job) + 1; /* with the one about to be recorded */
    const char *next;

    if (urls->nelts < 2 || (!ca_unreachable(d->err.status) && errors % after != 0)) {
        return;
    }
    next = APR_ARRAY_IDX(urls, (i + 1) % urls->nelts, const char *);
    md_job_set_ca_next(d->job, next);
    if (ca_unreachable(d->err.status)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_WARN, d->err.status,
                      "%s: CA %s could not be reached; the next try goes to %s", d->md->name,
                      d->ca_url, next);
    } else {
        md_log_perror(MD_LOG_MARK, MD_LOG_WARN, APR_SUCCESS,
                      "%s: %d tries in a row failed at CA %s; the next try goes to %s "
                      "(MDRetryFailover %d)",
                      d->md->name, errors, d->ca_url, next, after);
    }
}

apr_status_t md_drive_one(md_reg_t *reg, const md_t *md, const md_drive_opts_t *opts,
                          md_drive_accts_t *accts, md_drive_conn_t *conn, apr_pool_t *p)
{
    md_drive_t *d = apr_pcalloc(p, sizeof(*d));
    apr_time_t remembered;
    md_ari_state_t *ari;
    int again;
    apr_status_t rv;

    d->accts = accts;
    d->conn = conn;
    d->reg = reg;
    d->store = md_reg_store(reg);
    d->md = md_copy(md, p);
    d->opts = opts;
    d->p = p;
    d->answered = apr_array_make(p, 4, sizeof(md_drive_answer_t *));
    d->chall = opts->chall;
    d->chall.cancel = opts->cancel; /* a dns-01 command is stopped with the drive */
    if (!d->chall.allowed || d->chall.allowed->nelts == 0) {
        d->chall.allowed = md->ca_challenges;
    }
    if (!md->ca_urls || md->ca_urls->nelts == 0) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EINVAL, "%s: no CA url configured", md->name);
        return APR_EINVAL;
    }
    d->ca_url = ca_choose(reg, md, p);
    ari = md_ari_job_take(d->store, md, p); /* before md_job_open looks at staging/ */
    if ((rv = md_job_open(&d->job, d->store, d->md, d->ca_url, opts->reset, p)) != APR_SUCCESS) {
        return rv;
    }
    md_ari_job_replaces(d->job, ari, d->ca_url);
    d->job->retry_delay = opts->retry_delay;
    d->job->retry_max = opts->retry_max;
    d->job->errors_min = md_reg_failure_get(reg, md->name, &remembered);
    if (d->job->step == MD_STEP_STAGED && all_staged(d)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_INFO, APR_SUCCESS, "%s: already staged", md->name);
        return APR_SUCCESS;
    }
    /* the operator's program may hold a renewal back (a cluster's node that is not to renew) */
    if ((rv = event(d, "renewing")) == APR_SUCCESS) {
        rv = drive_steps(d);
    }
    if (rv != APR_SUCCESS && rv != APR_EINTR && md_drive_account_forgotten(d)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_NOTICE, APR_SUCCESS,
                      "%s: the CA %s no longer knows account %s (was it reset?): registering "
                      "anew and starting over",
                      md->name, d->ca_url, d->md->ca_account ? d->md->ca_account : "(none)");
        md_drive_forget_account(d);
        memset(&d->err, 0, sizeof(d->err));
        rv = drive_steps(d);
    }
    if (rv != APR_SUCCESS && rv != APR_EINTR &&
        (rv = md_drive_terms_asked(d, rv, &again)) == APR_SUCCESS && again) {
        rv = drive_steps(d); /* agreed to the terms the CA asked for: once more */
    }
    if (rv == APR_SUCCESS) {
        md_reg_failure_note(reg, md->name, 0, 0);
    }
    if (rv == APR_SUCCESS && opts->on_staged) {
        opts->on_staged(md, opts->on_staged_baton, p);
    } else if (rv == APR_EINTR) {
        /* cancelled (shutdown): not a failure; the job keeps what it reached */
        md_log_perror(MD_LOG_MARK, MD_LOG_INFO, rv, "%s: drive cancelled, resumes next time",
                      md->name);
    } else if (rv != APR_SUCCESS) {
        ca_failover(d);
        md_job_failed(d->job, &d->err);
        /* also when job.json could not be saved: the backoff holds, the driver never spins */
        md_reg_failure_note(reg, md->name, d->job->next_try, d->job->errors);
    }
    return rv;
}

apr_status_t md_drive(md_reg_t *reg, const md_t *md, const md_drive_opts_t *opts, apr_pool_t *p)
{
    return md_drive_one(reg, md, opts, NULL, NULL, p);
}

/* md_drive_job.c: keeps staging/<name>: the job in job.json (step done, account and orders to
 * resume, last error with backoff, a short log) and the staged set, verified and installed. */
#include <string.h>
#include <apr_strings.h>

#include "md_drive_job.h"
#include "md_retry.h"
#include "md_cert.h"
#include "md_log.h"

static const char *const step_names[] = {
    [MD_STEP_NONE] = "none",     [MD_STEP_ACCOUNT] = "account",   [MD_STEP_ORDER] = "order",
    [MD_STEP_AUTHZ] = "authz",   [MD_STEP_FINALIZE] = "finalize", [MD_STEP_DOWNLOAD] = "download",
    [MD_STEP_STAGED] = "staged",
};

#define STEP_COUNT (sizeof(step_names) / sizeof(step_names[0]))

const char *md_step_name(md_step_t step)
{
    return (unsigned) step < STEP_COUNT ? step_names[step] : "unknown";
}

static md_step_t step_parse(const char *name)
{
    for (unsigned i = 0; name && i < STEP_COUNT; ++i) {
        if (!strcmp(step_names[i], name)) {
            return (md_step_t) i;
        }
    }
    return MD_STEP_NONE;
}

static apr_array_header_t *spec_names(const md_t *md, apr_pool_t *p)
{
    const apr_array_header_t *specs = md_pkey_specs(md, p);
    apr_array_header_t *names = apr_array_make(p, specs->nelts, sizeof(const char *));

    for (int i = 0; i < specs->nelts; ++i) {
        APR_ARRAY_PUSH(names, const char *) =
            md_pkey_spec_name(APR_ARRAY_IDX(specs, i, const md_pkey_spec_t *), p);
    }
    return names;
}

int md_job_of_profile(const md_json_t *job, const md_t *md)
{
    const char *profile = md_json_get_str(job, "profile");

    return !profile == !md->profile && (!profile || !strcmp(profile, md->profile));
}

/* Whether a stored job was made for what md asks now: same names, keys, profile and CA. */
static int job_fits(const md_json_t *j, const md_t *md, const char *ca_url, apr_pool_t *p)
{
    apr_array_header_t *domains = md_json_get_strs(j, "domains", p);
    apr_array_header_t *keys = md_json_get_strs(j, "keys", p);
    const char *name = md_json_get_str(j, "name"), *url = md_json_get_str(j, "ca-url");

    return name && !strcmp(name, md->name) && url && !strcmp(url, ca_url) && domains &&
           md_array_str_eq(domains, md->domains, 0) && keys &&
           md_array_str_eq(keys, spec_names(md, p), 1) && md_job_of_profile(j, md);
}

static md_json_t *job_new(const md_t *md, const char *ca_url, apr_pool_t *p)
{
    md_json_t *j = md_json_new_obj(p);
    const char *now = md_time_format(apr_time_now(), p);

    md_json_set_str(j, "name", md->name);
    md_json_set_strs(j, "domains", md->domains);
    md_json_set_strs(j, "keys", spec_names(md, p));
    md_json_set_str(j, "ca-url", ca_url);
    md_json_set_str(j, "profile", md->profile);
    md_json_set_str(j, "step", md_step_name(MD_STEP_NONE));
    md_json_set(j, "orders", md_json_new_obj(p));
    md_json_set_str(j, "started", now);
    md_json_set_str(j, "updated", now);
    md_json_set_int(j, "errors", 0);
    md_json_set(j, "log", md_json_new_arr(p));
    return j;
}

apr_status_t md_job_open(md_job_t **pjob, md_store_t *store, const md_t *md, const char *ca_url,
                         int reset, apr_pool_t *p)
{
    md_job_t *job = apr_pcalloc(p, sizeof(*job));
    const char *err = NULL, *why = NULL;
    md_json_t *j = NULL;
    apr_status_t rv;

    job->store = store;
    job->name = md->name;
    job->p = p;
    rv = md_store_load_json(&j, &err, store, MD_SG_STAGING, md->name, MD_FN_JOB, p);
    if (rv == APR_SUCCESS) {
        why = reset ? "a reset was asked for"
                    : (job_fits(j, md, ca_url, p)
                           ? NULL
                           : "it was made for other names, keys, profile or CA");
    } else if (APR_STATUS_IS_ENOENT(rv)) {
        why = md_store_exists(store, MD_SG_STAGING, md->name, NULL, p) ? "it has no job" : NULL;
        j = NULL;
    } else {
        why = err ? err : "its job.json is unreadable";
        j = NULL;
    }
    if (why) {
        md_log_perror(MD_LOG_MARK, MD_LOG_INFO, APR_SUCCESS,
                      "%s: starting afresh, staging/%s "
                      "discarded: %s",
                      md->name, md->name, why);
        if ((rv = md_store_purge(store, MD_SG_STAGING, md->name, p)) != APR_SUCCESS) {
            md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s: cannot discard staging/%s", md->name,
                          md->name);
            return rv;
        }
        j = NULL;
    }
    if (!j) {
        j = job_new(md, ca_url, p);
    } else if (!md_json_is_arr(md_json_get(j, "log", p))) {
        md_json_set(j, "log", md_json_new_arr(p));
    }
    if (!md_json_is_obj(md_json_get(j, "orders", p))) {
        md_json_set(j, "orders", md_json_new_obj(p));
    }
    job->json = j;
    job->step = step_parse(md_json_get_str(j, "step"));
    *pjob = job;
    return APR_SUCCESS;
}

static apr_status_t job_save(md_job_t *job)
{
    apr_status_t rv;

    md_json_set_str(job->json, "updated", md_time_format(apr_time_now(), job->p));
    /* Progress is saved without fsync: after a crash, a job that lost its last steps (or its
     * job.json, then it starts afresh) redoes them, and each step can be redone. Only the
     * record that the set is staged, which activation relies on, is made durable. */
    rv = md_store_save_json_ex(job->store, MD_SG_STAGING, job->name, MD_FN_JOB, job->json,
                               job->step == MD_STEP_STAGED, job->p);
    if (rv != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s: cannot save staging/%s/%s", job->name,
                      job->name, MD_FN_JOB);
    }
    return rv;
}

/* Appends to the log, dropping the oldest entries beyond MD_JOB_LOG_MAX. */
static void job_log(md_job_t *job, md_step_t step, const char *detail)
{
    md_json_t *log = md_json_get(job->json, "log", job->p), *kept, *entry;
    apr_size_t n = md_json_len(log), i;

    entry = md_json_new_obj(job->p);
    md_json_set_str(entry, "when", md_time_format(apr_time_now(), job->p));
    md_json_set_str(entry, "step", md_step_name(step));
    md_json_set_str(entry, "detail", detail);
    if (n >= MD_JOB_LOG_MAX) {
        kept = md_json_new_arr(job->p);
        for (i = n - (MD_JOB_LOG_MAX - 1); i < n; ++i) {
            md_json_push(kept, md_json_at(log, i, job->p));
        }
        md_json_set(job->json, "log", kept);
        log = kept;
    }
    md_json_push(log, entry);
}

void md_job_note(md_job_t *job, md_step_t step, const char *detail)
{
    job->step = step;
    md_json_set_str(job->json, "step", md_step_name(step));
    job_log(job, step, detail);
    md_log_perror(MD_LOG_MARK, MD_LOG_INFO, APR_SUCCESS, "%s: %s: %s", job->name,
                  md_step_name(step), detail);
}

apr_status_t md_job_done(md_job_t *job, md_step_t step, const char *detail)
{
    md_job_note(job, step, detail);
    return job_save(job);
}

void md_job_set_ca_next(md_job_t *job, const char *ca_url)
{
    md_json_set_str(job->json, "ca-next", ca_url);
}

void md_job_set_account(md_job_t *job, const char *account_id)
{
    md_json_set_str(job->json, "account", account_id);
}

const char *md_job_replaces(const md_job_t *job, const char *key)
{
    return md_json_get_str(md_json_get(job->json, "replaces", job->p), key);
}

void md_job_set_replaces(md_job_t *job, const char *key, const char *cert_id)
{
    md_json_t *replaces = md_json_get(job->json, "replaces", job->p);

    if (!md_json_is_obj(replaces)) {
        replaces = md_json_new_obj(job->p);
        md_json_set(job->json, "replaces", replaces);
    }
    md_json_set_str(replaces, key, cert_id);
}

static md_json_t *job_order(const md_job_t *job, const char *key, int create)
{
    md_json_t *orders = md_json_get(job->json, "orders", job->p);
    md_json_t *order = md_json_get(orders, key, job->p);

    if (!md_json_is_obj(order) && create) {
        order = md_json_new_obj(job->p);
        md_json_set(orders, key, order);
    }
    return md_json_is_obj(order) ? order : NULL;
}

const char *md_job_order_url(const md_job_t *job, const char *key)
{
    return md_json_get_str(job_order(job, key, 0), "url");
}

void md_job_set_order(md_job_t *job, const char *key, const char *url, const char *status)
{
    md_json_t *order = job_order(job, key, 1);

    md_json_set_str(order, "url", url);
    md_json_set_str(order, "status", status);
}

void md_job_set_order_profile(md_job_t *job, const char *key, const char *profile)
{
    md_json_set_str(job_order(job, key, 1), "profile", profile);
}

int md_job_is_staged(const md_job_t *job, const char *key)
{
    return md_json_get_bool(job_order(job, key, 0), "staged", 0);
}

void md_job_set_staged(md_job_t *job, const char *key)
{
    md_json_set_bool(job_order(job, key, 1), "staged", 1);
}

static md_json_t *problem_json(const md_acme_problem_t *prob, apr_pool_t *p)
{
    md_json_t *j = md_json_new_obj(p), *subs;

    md_json_set_str(j, "type", prob->type);
    md_json_set_str(j, "detail", prob->detail);
    if (prob->status) {
        md_json_set_int(j, "status", prob->status);
    }
    if (prob->identifier) {
        md_json_set_str(j, "identifier", prob->identifier);
    }
    if (prob->subproblems && prob->subproblems->nelts) {
        subs = md_json_new_arr(p);
        for (int i = 0; i < prob->subproblems->nelts; ++i) {
            md_json_push(subs,
                         problem_json(APR_ARRAY_IDX(prob->subproblems, i, md_acme_problem_t *), p));
        }
        md_json_set(j, "subproblems", subs);
    }
    return j;
}

/* What the class means for the operator, in the log line. */
static const char *retry_words(md_retry_class_t cls)
{
    switch (cls) {
    case MD_RETRY_RATE_LIMITED:
        return "the CA limits our rate: waiting as long as it asked";
    case MD_RETRY_REFUSED:
        return "the CA refuses this as asked: fix what it says (names, DNS, CAA, firewall, "
               "account), the next tries come hours apart";
    default:
        return "a passing failure";
    }
}

int md_job_errors(const md_job_t *job)
{
    int errors = (int) md_json_get_int(job->json, "errors", 0);

    return errors > job->errors_min ? errors : job->errors_min;
}

apr_status_t md_job_failed(md_job_t *job, const md_job_error_t *err)
{
    md_json_t *e = md_json_new_obj(job->p);
    const md_acme_problem_t *prob = err->problem;
    md_retry_class_t cls = err->refused ? MD_RETRY_REFUSED
                                        : md_retry_classify(prob ? prob->type : NULL,
                                                            prob ? prob->status : 0, err->status);
    apr_time_t now = apr_time_now(), next;
    apr_uint32_t random = 0;
    char buf[256];
    int errors = md_job_errors(job) + 1;
    md_crypt_random((unsigned char *) &random, sizeof(random)); /* jitter only: 0 will do */
    next = now + md_retry_wait(cls, errors, prob ? prob->retry_after : 0, job->retry_delay,
                               job->retry_max, random);
    md_json_set_str(e, "class", md_retry_class_name(cls));
    md_json_set_str(e, "step", md_step_name(err->step));
    if (err->domain) {
        md_json_set_str(e, "domain", err->domain);
    }
    md_json_set_str(e, "status", apr_strerror(err->status, buf, sizeof(buf)));
    if (err->problem) {
        md_json_set(e, "problem", problem_json(err->problem, job->p));
    }
    md_json_set_str(e, "detail", err->detail);
    md_json_set_str(e, "when", md_time_format(now, job->p));
    md_json_set(job->json, "error", e);
    md_json_set_int(job->json, "errors", errors);
    md_json_set_str(job->json, "next-try", md_time_format(next, job->p));
    job->errors = errors;
    job->next_try = next;
    job_log(job, err->step, apr_pstrcat(job->p, "failed: ", err->detail, NULL));
    md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_SUCCESS, "%s: %s failed%s%s: %s; %s; next try at %s",
                  job->name, md_step_name(err->step), err->domain ? " for " : "",
                  err->domain ? err->domain : "", err->detail, retry_words(cls),
                  md_time_format(next, job->p));
    return job_save(job);
}

apr_status_t md_job_finished(md_job_t *job)
{
    md_json_set_str(job->json, "staged-at", md_time_format(apr_time_now(), job->p));
    md_json_del(job->json, "error");
    md_json_del(job->json, "next-try");
    md_json_set_int(job->json, "errors", 0);
    return md_job_done(job, MD_STEP_STAGED, "all certificates verified and staged");
}

/* ---- the staged set: it must be exactly what the MD asks for ---- */

apr_status_t md_job_verify(const char **pwhy, const md_t *md, const apr_array_header_t *chain,
                           const md_pkey_t *key, apr_pool_t *p)
{
    const char *why = NULL;
    md_cert_t *leaf;

    if (!chain || chain->nelts == 0) {
        why = "the chain holds no certificate";
    } else if (!md_cert_names_equal(leaf = APR_ARRAY_IDX(chain, 0, md_cert_t *), md->domains, p)) {
        why = apr_psprintf(p, "the certificate names %s, the MD %s",
                           md_array_str_join(md_cert_names(leaf, p), ", ", p),
                           md_array_str_join(md->domains, ", ", p));
    } else if (!md_cert_matches_key(leaf, key)) {
        why = "the certificate does not match the private key";
    } else if (md_chain_check_links(&why, chain, p) != APR_SUCCESS) {
        why = why ? why : "the chain does not link up";
    } else if (md_cert_not_after(leaf) <= apr_time_now()) {
        why = apr_psprintf(p, "the certificate expired on %s",
                           md_time_format(md_cert_not_after(leaf), p));
    }
    *pwhy = why;
    return why ? APR_EINVAL : APR_SUCCESS;
}

const char *md_job_file(const char *base, const md_pkey_spec_t *spec, apr_pool_t *p)
{
    return apr_pstrcat(p, base, md_pkey_spec_file_suffix(spec, p), ".pem", NULL);
}

apr_status_t md_job_load_staged(const char **pwhy, md_pkey_t **pkey, apr_array_header_t **pchain,
                                md_store_t *store, md_store_group_t group, const md_t *md,
                                const md_pkey_spec_t *spec, apr_pool_t *p)
{
    const char *err = NULL;
    apr_status_t rv;

    *pwhy = NULL;
    rv = md_store_load_pkey(pkey, &err, store, group, md->name, md_job_file(MD_FN_PRIVKEY, spec, p),
                            p);
    if (rv == APR_SUCCESS) {
        rv = md_store_load_chain(pchain, &err, store, group, md->name,
                                 md_job_file(MD_FN_PUBCERT, spec, p), p);
    }
    if (rv != APR_SUCCESS) {
        *pwhy = err ? err : (APR_STATUS_IS_ENOENT(rv) ? "not staged" : "unreadable");
        return rv;
    }
    return md_job_verify(pwhy, md, *pchain, *pkey, p);
}

apr_status_t md_drive_job_load(md_json_t **pjob, md_reg_t *reg, const char *name, apr_pool_t *p)
{
    const char *err = NULL;
    apr_status_t rv;

    rv = md_store_load_json(pjob, &err, md_reg_store(reg), MD_SG_STAGING, name, MD_FN_JOB, p);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s: %s", name,
                      err ? err : "cannot read job.json");
    }
    return rv;
}

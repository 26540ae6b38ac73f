/* md_ari_check.c: asking the CA for the renewal information of the certificates an MD uses
 * (RFC 9773 4.3: GET <renewalInfo>/<certID>) when the last answer says it is time again. */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "md_acme.h"
#include "md_ari.h"
#include "md_crypt.h"
#include "md_log.h"
#include "md_util.h"

#define HTTP_OK 200

typedef struct {
    const md_t *md;
    const md_ari_opts_t *opts;
    const char *ca_url;
    md_acme_t *acme; /* made at the first ask */
    const char *renewal_info;
    int setup_done;
    apr_status_t setup_rv;
    apr_pool_t *p;
} md_ari_ask_t;

static apr_uint32_t random32(void)
{
    unsigned char buf[4] = {0, 0, 0, 0};

    md_crypt_random(buf, sizeof(buf));
    return ((apr_uint32_t) buf[0] << 24) | ((apr_uint32_t) buf[1] << 16) |
           ((apr_uint32_t) buf[2] << 8) | buf[3];
}

/* Whether the caller's cache says this CA has no renewalInfo (for now). */
static int known_without_ari(const md_ari_opts_t *opts, const char *ca_url, apr_time_t now)
{
    const apr_time_t *until =
        opts->no_ari ? apr_hash_get(opts->no_ari, ca_url, APR_HASH_KEY_STRING) : NULL;

    return until && *until > now;
}

static void remember_without_ari(const md_ari_opts_t *opts, const char *ca_url, apr_time_t now)
{
    apr_pool_t *hp;
    apr_time_t *until;

    if (!opts->no_ari) {
        return;
    }
    hp = apr_hash_pool_get(opts->no_ari);
    until = apr_palloc(hp, sizeof(*until));
    *until = now + MD_ARI_POLL_MAX; /* a CA may start to offer it: look again a day later */
    apr_hash_set(opts->no_ari, apr_pstrdup(hp, ca_url), APR_HASH_KEY_STRING, until);
}

/* The CA client and its renewalInfo URL, made at the first ask (the outcome is kept);
 * APR_ENOTIMPL when the CA has none. */
static apr_status_t ask_setup(md_ari_ask_t *ask, apr_time_t now)
{
    const md_acme_directory_t *dir;
    apr_status_t rv;

    if (ask->setup_done) {
        return ask->setup_rv;
    }
    ask->setup_done = 1;
    if ((rv = md_acme_create(&ask->acme, ask->ca_url, ask->opts->ca_file,
                             ask->md->proxy ? ask->md->proxy : ask->opts->proxy, ask->p)) !=
        APR_SUCCESS) {
        return ask->setup_rv = rv;
    }
    md_http_set_cancel(md_acme_http(ask->acme), ask->opts->cancel);
    md_http_set_proxy_ca_file(md_acme_http(ask->acme), ask->opts->proxy_ca_file);
    if ((rv = md_acme_directory(&dir, ask->acme)) != APR_SUCCESS) {
        return ask->setup_rv = rv; /* logged there */
    }
    if (!dir->renewal_info) {
        remember_without_ari(ask->opts, ask->ca_url, now);
        md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_SUCCESS,
                      "%s: the CA %s offers no renewal information (ARI): MDRenewWindow decides",
                      ask->md->name, ask->ca_url);
        return ask->setup_rv = APR_ENOTIMPL;
    }
    ask->renewal_info = dir->renewal_info;
    return ask->setup_rv = APR_SUCCESS;
}

/* The problem or status of a failed answer, for the record and its class. */
static md_retry_class_t answer_failed(const char **perr, const md_http_response_t *res,
                                      const char *url, apr_pool_t *p)
{
    md_acme_problem_t *prob = NULL;
    md_json_t *j = NULL;
    const char *err;

    if (md_json_parse(&j, &err, res->body, res->body_len, p) == APR_SUCCESS &&
        md_acme_problem_parse(&prob, j, res->status, p) == APR_SUCCESS) {
        *perr =
            apr_psprintf(p, "GET %s: HTTP %d, %s", url, res->status, md_acme_problem_str(prob, p));
    } else {
        *perr = apr_psprintf(p, "GET %s: HTTP %d", url, res->status);
    }
    return md_retry_classify(prob ? prob->type : NULL, res->status, APR_EGENERAL);
}

/* One ask for c; the answer (or failure) goes into c. */
static void ask_one(md_ari_ask_t *ask, md_ari_cert_t *c, apr_time_t now)
{
    const char *base = ask->renewal_info, *url, *err = NULL, *expl;
    apr_size_t blen = strlen(base);
    apr_interval_time_t retry_after = 0;
    md_http_response_t *res;
    apr_time_t start, end;
    md_json_t *j;
    apr_status_t rv;
    md_retry_class_t cls = MD_RETRY_TRANSIENT;

    url = apr_pstrcat(ask->p, base, (blen && base[blen - 1] == '/') ? "" : "/", c->cert_id, NULL);
    rv = md_http_request(&res, md_acme_http(ask->acme), "GET", url, NULL, NULL, 0, ask->p);
    if (rv == APR_EINTR) {
        return; /* the server stops: asked again by the next driver */
    }
    if (rv != APR_SUCCESS) {
        err = md_http_last_error(md_acme_http(ask->acme));
    } else {
        if (md_http_retry_after(&retry_after, res, now) != APR_SUCCESS) {
            retry_after = 0;
        }
        if (res->status != HTTP_OK) {
            cls = answer_failed(&err, res, url, ask->p);
        } else if (md_json_parse(&j, &err, res->body, res->body_len, ask->p) != APR_SUCCESS ||
                   md_ari_window_parse(&start, &end, &expl, &err, j, ask->p) != APR_SUCCESS) {
            err = apr_psprintf(ask->p, "GET %s: %s", url, err);
        } else {
            md_ari_answered(c, start, end, expl, retry_after, ask->opts->poll_min, now, random32(),
                            ask->p);
            md_log_perror(MD_LOG_MARK, MD_LOG_INFO, APR_SUCCESS,
                          "%s: the CA suggests renewing the %s certificate between %s and %s%s%s; "
                          "we renew at %s (MDRenewWindow may come first); next look at %s",
                          ask->md->name, c->key, md_time_format(start, ask->p),
                          md_time_format(end, ask->p), expl ? ", see " : "", expl ? expl : "",
                          md_time_format(c->renew_at, ask->p),
                          md_time_format(c->next_check, ask->p));
            return;
        }
    }
    md_ari_failed(c, cls, err && *err ? err : "no answer", retry_after, ask->opts->poll_min, now,
                  random32(), ask->p);
    md_log_perror(MD_LOG_MARK, MD_LOG_WARN, rv,
                  "%s: asking the CA for renewal information on the %s certificate failed (%s, "
                  "%d in a row): %s; MDRenewWindow still applies; next look at %s",
                  ask->md->name, c->key, md_retry_class_name(cls), c->errors, c->error,
                  md_time_format(c->next_check, ask->p));
}

/* The entry of info's certificate in state, made afresh when it was about another one. */
static md_ari_cert_t *cert_entry(md_ari_state_t *state, const md_cert_info_t *info, apr_pool_t *p)
{
    md_ari_cert_t *c = md_ari_cert_get(state, info->spec_name);

    if (c && !strcmp(c->cert_id, info->ari_id)) {
        return c;
    }
    if (!c) {
        c = apr_pcalloc(p, sizeof(*c));
        APR_ARRAY_PUSH(state->certs, md_ari_cert_t *) = c;
    } else {
        memset(c, 0, sizeof(*c));
    }
    c->key = apr_pstrdup(p, info->spec_name);
    c->cert_id = apr_pstrdup(p, info->ari_id);
    return c;
}

apr_status_t md_ari_check(int *pchanged, md_reg_t *reg, const md_t *md,
                          const apr_array_header_t *infos, const md_ari_opts_t *opts,
                          apr_time_t now, apr_pool_t *p)
{
    md_store_t *store = md_reg_store(reg);
    md_ari_ask_t ask = {md, opts, NULL, NULL, NULL, 0, APR_SUCCESS, p};
    md_ari_state_t *state = NULL;
    apr_status_t rv;

    *pchanged = 0;
    if (!md->ari_renewals || !md->ca_urls || md->ca_urls->nelts == 0) {
        return APR_ENOTIMPL;
    }
    ask.ca_url = APR_ARRAY_IDX(md->ca_urls, 0, const char *);
    if (known_without_ari(opts, ask.ca_url, now)) {
        return APR_ENOTIMPL;
    }
    if (md_ari_load(&state, store, md->name, p) != APR_SUCCESS || !state->ca_url ||
        strcmp(state->ca_url, ask.ca_url)) {
        state = apr_pcalloc(p, sizeof(*state));
        state->ca_url = ask.ca_url;
        state->certs = apr_array_make(p, 2, sizeof(md_ari_cert_t *));
    }
    for (int i = 0; infos && i < infos->nelts; ++i) {
        const md_cert_info_t *info = APR_ARRAY_IDX(infos, i, const md_cert_info_t *);
        md_ari_cert_t *c;
        if (info->state != MD_S_COMPLETE || !info->ari_id || !info->spec_name) {
            continue;
        }
        c = cert_entry(state, info, p);
        if (c->next_check > now) {
            continue;
        }
        if ((rv = ask_setup(&ask, now)) == APR_ENOTIMPL || rv == APR_EINTR) {
            return rv;
        }
        if (rv != APR_SUCCESS) {
            /* the CA's directory could not be had (logged): asked again after a backoff */
            md_ari_failed(c, MD_RETRY_TRANSIENT, "the CA's directory could not be fetched", 0,
                          opts->poll_min, now, random32(), p);
        } else {
            ask_one(&ask, c, now);
        }
        *pchanged = 1;
    }
    if (*pchanged && (rv = md_ari_save(state, store, md->name, p)) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv,
                      "%s: cannot save the renewal information in staging/%s/%s", md->name,
                      md->name, MD_FN_ARI);
        *pchanged = 0;
        return rv;
    }
    return APR_SUCCESS;
}

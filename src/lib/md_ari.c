/* md_ari.c: the decisions of ARI (RFC 9773) without any request -- reading a suggested window,
 * choosing our moment in it, when to ask again -- and the state kept in staging/<name>/ari.json. */
#include <limits.h>
#include <string.h>
#include <apr_strings.h>

#include "md_ari.h"
#include "md_store.h"
#include "md_util.h"

/* ---- the CA's answer ---- */

apr_status_t md_ari_window_parse(apr_time_t *pstart, apr_time_t *pend, const char **pexplanation,
                                 const char **perr, const md_json_t *j, apr_pool_t *p)
{
    md_json_t *w = md_json_get(j, "suggestedWindow", p);
    const char *start = md_json_get_str(w, "start"), *end = md_json_get_str(w, "end");
    const char *expl = md_json_get_str(j, "explanationURL");

    *pstart = *pend = 0;
    *pexplanation = NULL;
    if (!start || !end) {
        *perr = "the answer has no suggestedWindow with start and end";
        return APR_EINVAL;
    }
    if (md_time_parse(pstart, start) != APR_SUCCESS || md_time_parse(pend, end) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "the suggested window '%s' .. '%s' is not in RFC 3339 time", start,
                             end);
        return APR_EINVAL;
    }
    if (*pend <= *pstart) {
        /* RFC 9773 4.2: such a window is invalid and to be treated as if there were none */
        *perr = apr_psprintf(p, "the suggested window ends (%s) before it starts (%s)", end, start);
        return APR_EINVAL;
    }
    *pexplanation = expl ? apr_pstrdup(p, expl) : NULL;
    return APR_SUCCESS;
}

apr_time_t md_ari_choose(apr_time_t start, apr_time_t end, apr_time_t now, apr_uint32_t random)
{
    double share = (double) random / 4294967296.0; /* in [0, 1) */

    if (start <= now || end <= start) {
        return now;
    }
    return start + (apr_interval_time_t) ((double) (end - start) * share);
}

apr_interval_time_t md_ari_poll_wait(apr_interval_time_t retry_after, apr_interval_time_t poll_min)
{
    apr_interval_time_t wait = retry_after > 0 ? retry_after : MD_ARI_POLL_DEFAULT;

    poll_min = poll_min > 0 ? poll_min : MD_ARI_POLL_MIN;
    return wait < poll_min ? poll_min : wait > MD_ARI_POLL_MAX ? MD_ARI_POLL_MAX : wait;
}

void md_ari_answered(md_ari_cert_t *c, apr_time_t start, apr_time_t end, const char *explanation,
                     apr_interval_time_t retry_after, apr_interval_time_t poll_min, apr_time_t now,
                     apr_uint32_t random, apr_pool_t *p)
{
    int same = c->start == start && c->end == end && c->renew_at && c->renew_at < end;

    if (!same) {
        c->renew_at = md_ari_choose(start, end, now, random);
    }
    c->start = start;
    c->end = end;
    c->explanation = explanation ? apr_pstrdup(p, explanation) : NULL;
    c->checked = now;
    c->next_check = now + md_ari_poll_wait(retry_after, poll_min);
    c->errors = 0;
    c->error = NULL;
}

void md_ari_failed(md_ari_cert_t *c, md_retry_class_t cls, const char *error,
                   apr_interval_time_t retry_after, apr_interval_time_t poll_min, apr_time_t now,
                   apr_uint32_t random, apr_pool_t *p)
{
    apr_interval_time_t wait;

    poll_min = poll_min > 0 ? poll_min : MD_ARI_POLL_MIN;
    c->errors = c->errors < 0 ? 1 : c->errors < INT_MAX ? c->errors + 1 : INT_MAX;
    wait = md_retry_wait(cls, c->errors, retry_after, poll_min, MD_ARI_POLL_MAX, random);
    c->next_check = now + (wait < poll_min ? poll_min : wait);
    c->error = apr_pstrdup(p, error);
}

/* ---- the state ---- */

md_ari_cert_t *md_ari_cert_get(const md_ari_state_t *state, const char *key)
{
    for (int i = 0; state && key && i < state->certs->nelts; ++i) {
        md_ari_cert_t *c = APR_ARRAY_IDX(state->certs, i, md_ari_cert_t *);
        if (!strcmp(c->key, key)) {
            return c;
        }
    }
    return NULL;
}

static void set_time(md_json_t *j, const char *key, apr_time_t t, apr_pool_t *p)
{
    if (t) {
        md_json_set_str(j, key, md_time_format(t, p));
    }
}

static apr_time_t get_time(const md_json_t *j, const char *key)
{
    const char *s = md_json_get_str(j, key);
    apr_time_t t;

    return s && md_time_parse(&t, s) == APR_SUCCESS ? t : 0;
}

/* {"cert-id", "window": {"start", "end"}, "explanation", "renew-at", "checked", "next-check",
 * "errors", "error"}: also what md-status shows. */
static md_json_t *cert_to_json(const md_ari_cert_t *c, apr_pool_t *p)
{
    md_json_t *j = md_json_new_obj(p), *w;

    md_json_set_str(j, "cert-id", c->cert_id);
    if (c->start) {
        w = md_json_new_obj(p);
        set_time(w, "start", c->start, p);
        set_time(w, "end", c->end, p);
        md_json_set(j, "window", w);
    }
    md_json_set_str(j, "explanation", c->explanation);
    set_time(j, "renew-at", c->renew_at, p);
    set_time(j, "checked", c->checked, p);
    set_time(j, "next-check", c->next_check, p);
    md_json_set_int(j, "errors", c->errors);
    md_json_set_str(j, "error", c->error);
    return j;
}

static md_ari_cert_t *cert_from_json(const md_json_t *j, const char *key, apr_pool_t *p)
{
    md_ari_cert_t *c = apr_pcalloc(p, sizeof(*c));
    md_json_t *w = md_json_get(j, "window", p);
    const char *s;

    c->key = apr_pstrdup(p, key);
    c->cert_id = apr_pstrdup(p, md_json_get_str(j, "cert-id"));
    c->start = get_time(w, "start");
    c->end = get_time(w, "end");
    if (c->end <= c->start) {
        c->start = c->end = 0;
    }
    s = md_json_get_str(j, "explanation");
    c->explanation = s ? apr_pstrdup(p, s) : NULL;
    c->renew_at = get_time(j, "renew-at");
    c->checked = get_time(j, "checked");
    c->next_check = get_time(j, "next-check");
    c->errors = (int) md_json_get_int(j, "errors", 0);
    s = md_json_get_str(j, "error");
    c->error = s ? apr_pstrdup(p, s) : NULL;
    return c;
}

md_json_t *md_ari_to_json(const md_ari_state_t *state, apr_pool_t *p)
{
    md_json_t *j = md_json_new_obj(p), *certs = md_json_new_obj(p);

    md_json_set_str(j, "ca-url", state->ca_url);
    for (int i = 0; i < state->certs->nelts; ++i) {
        const md_ari_cert_t *c = APR_ARRAY_IDX(state->certs, i, const md_ari_cert_t *);
        md_json_set(certs, c->key, cert_to_json(c, p));
    }
    md_json_set(j, "certificates", certs);
    return j;
}

md_ari_state_t *md_ari_from_json(const md_json_t *j, apr_pool_t *p)
{
    md_ari_state_t *state = apr_pcalloc(p, sizeof(*state));
    md_json_t *certs = md_json_get(j, "certificates", p);
    apr_array_header_t *keys = md_json_keys(certs, p);
    md_ari_cert_t *c;

    state->ca_url = apr_pstrdup(p, md_json_get_str(j, "ca-url"));
    state->certs = apr_array_make(p, keys ? keys->nelts : 1, sizeof(md_ari_cert_t *));
    for (int i = 0; keys && i < keys->nelts; ++i) {
        const char *key = APR_ARRAY_IDX(keys, i, const char *);
        c = cert_from_json(md_json_get(certs, key, p), key, p);
        if (c->cert_id) {
            APR_ARRAY_PUSH(state->certs, md_ari_cert_t *) = c;
        }
    }
    return state;
}

apr_status_t md_ari_load(md_ari_state_t **pstate, md_store_t *store, const char *name,
                         apr_pool_t *p)
{
    md_json_t *j;
    const char *err;
    apr_status_t rv;

    *pstate = NULL;
    if ((rv = md_store_load_json(&j, &err, store, MD_SG_STAGING, name, MD_FN_ARI, p)) ==
        APR_SUCCESS) {
        *pstate = md_ari_from_json(j, p);
    }
    return rv;
}

apr_status_t md_ari_save(const md_ari_state_t *state, md_store_t *store, const char *name,
                         apr_pool_t *p)
{
    return md_store_save_json(store, MD_SG_STAGING, name, MD_FN_ARI, md_ari_to_json(state, p), p);
}

apr_time_t md_ari_renew_at(const md_ari_state_t *state, const md_t *md, const md_cert_info_t *info)
{
    const md_ari_cert_t *c;

    if (!md->ari_renewals || !info->ari_id || !info->spec_name) {
        return 0;
    }
    c = md_ari_cert_get(state, info->spec_name);
    return c && c->cert_id && !strcmp(c->cert_id, info->ari_id) && c->start ? c->renew_at : 0;
}

/* md_ari.h: ACME Renewal Information (RFC 9773) -- the CA's suggested renewal window for each
 * certificate in use, the moment we chose in it, and when to ask again, kept in staging/. */
#ifndef MD_ARI_H
#define MD_ARI_H

#include <apr_hash.h>

#include "md.h"
#include "md_reg.h"
#include "md_retry.h"

/* staging/<name>/ari.json: written by whoever checks (the module's driver as the User, a2md),
 * read by md_plan_next, md-status and a2md without any request. Nothing in it is trusted for
 * more than a renewal time: a forged window can only make us renew early. */
#define MD_FN_ARI "ari.json"

/* RFC 9773 4.3.3: Retry-After values under a minute count as a minute, over a day as a day. */
#define MD_ARI_POLL_MIN apr_time_from_sec(60)
#define MD_ARI_POLL_MAX apr_time_from_sec(86400)
/* Without Retry-After: RFC 9773 4.3.3 suggests six hours. */
#define MD_ARI_POLL_DEFAULT apr_time_from_sec(6 * 3600)

/* What we know of one certificate's renewal information. */
typedef struct {
    const char *key;         /* key spec name ("rsa2048"): the certificate's slot in the MD */
    const char *cert_id;     /* its ARI identifier */
    apr_time_t start, end;   /* the CA's suggested window, 0 when none is known (yet) */
    const char *explanation; /* explanationURL, NULL when the CA gave none */
    apr_time_t renew_at;     /* our moment in [start, end), chosen once per window */
    apr_time_t checked;      /* when the CA last answered with a window, 0: never */
    apr_time_t next_check;   /* when to ask the CA again */
    int errors;              /* failed asks in a row */
    const char *error;       /* the last failure, NULL after a good answer */
} md_ari_cert_t;

/* The ARI state of one MD: ca_url is the CA asked, certs its md_ari_cert_t* per key spec. */
typedef struct {
    const char *ca_url;
    apr_array_header_t *certs;
} md_ari_state_t;

/* The suggested window of a renewalInfo answer (RFC 9773 4.2): suggestedWindow.start/.end
 * (RFC 3339) and explanationURL. APR_EINVAL with *perr when it is missing, unparsable or end
 * is not after start. */
apr_status_t md_ari_window_parse(apr_time_t *pstart, apr_time_t *pend, const char **pexplanation,
                                 const char **perr, const md_json_t *j, apr_pool_t *p);

/* A moment in [start, end) drawn from 'random' (any 32 bits); now when the window has opened
 * already (start <= now, which includes a window wholly in the past). */
apr_time_t md_ari_choose(apr_time_t start, apr_time_t end, apr_time_t now, apr_uint32_t random);

/* The wait before the next ask after an answer with that Retry-After (0: none given): the
 * default when none, clamped to [poll_min, MD_ARI_POLL_MAX]. */
apr_interval_time_t md_ari_poll_wait(apr_interval_time_t retry_after, apr_interval_time_t poll_min);

/* A good answer for c: the window is taken; the moment chosen before is kept while the
 * window stays the same and it has not passed the window's end, else a new one is chosen.
 * The next ask comes after md_ari_poll_wait. */
void md_ari_answered(md_ari_cert_t *c, apr_time_t start, apr_time_t end, const char *explanation,
                     apr_interval_time_t retry_after, apr_interval_time_t poll_min, apr_time_t now,
                     apr_uint32_t random, apr_pool_t *p);

/* A failed ask for c: counted, the next one backs off by class (md_retry_wait: transient from
 * poll_min doubling to a day, refused from an hour, rate-limited after Retry-After), never
 * sooner than poll_min. A window known from before stays in force. */
void md_ari_failed(md_ari_cert_t *c, md_retry_class_t cls, const char *error,
                   apr_interval_time_t retry_after, apr_interval_time_t poll_min, apr_time_t now,
                   apr_uint32_t random, apr_pool_t *p);

/* The entry for key in state, NULL when there is none. */
md_ari_cert_t *md_ari_cert_get(const md_ari_state_t *state, const char *key);

/* staging/<name>/ari.json; APR_ENOENT when there is none, APR_EINVAL when it is unreadable. */
apr_status_t md_ari_load(md_ari_state_t **pstate, md_store_t *store, const char *name,
                         apr_pool_t *p);
apr_status_t md_ari_save(const md_ari_state_t *state, md_store_t *store, const char *name,
                         apr_pool_t *p);
md_json_t *md_ari_to_json(const md_ari_state_t *state, apr_pool_t *p);
md_ari_state_t *md_ari_from_json(const md_json_t *j, apr_pool_t *p);

/* When the ARI state of md moves the renewal of the certificate of info forward: the moment
 * chosen in the CA's window for exactly that certificate, 0 when there is none (ARI off for
 * the MD, no answer yet, another certificate). */
apr_time_t md_ari_renew_at(const md_ari_state_t *state, const md_t *md, const md_cert_info_t *info);

/* How the ARI check may talk to the CA and how often. */
typedef struct {
    const char *ca_file;          /* trust for the CA's TLS; NULL: system */
    const char *proxy;            /* NULL: none beyond curl's environment; an MD's own proxy wins */
    apr_interval_time_t poll_min; /* the least wait between asks (0: MD_ARI_POLL_MIN) */
    /* CA URL -> apr_time_t* until when it is known to offer no renewalInfo: a cache the
     * caller keeps across checks (the module's driver), so such a CA's directory is not
     * fetched for every MD at every run. NULL: none. Its entries live in hash's pool. */
    apr_hash_t *no_ari;
    volatile apr_uint32_t *cancel; /* as md_drive_opts_t's */
    const char *proxy_ca_file;     /* trust for an https proxy; NULL: system */
} md_ari_opts_t;

/* At most one ask per certificate: for each certificate of md in use (infos, as md_plan
 * finds them) whose next check has come, GET <renewalInfo>/<certID> from md's CA, and
 * staging/<name>/ari.json updated. *pchanged: whether anything was saved. APR_ENOTIMPL
 * when the MD does not use ARI or the CA offers none; failures of asks are recorded, not
 * returned. */
apr_status_t md_ari_check(int *pchanged, md_reg_t *reg, const md_t *md,
                          const apr_array_header_t *infos, const md_ari_opts_t *opts,
                          apr_time_t now, apr_pool_t *p);

#endif

/* md_retry.h: the one retry policy -- every failure of a renewal is classified (transient,
 * rate-limited, refused by the CA), and polling and the job's backoff take their waits from it. */
#ifndef MD_RETRY_H
#define MD_RETRY_H

#include <apr_errno.h>
#include <apr_time.h>

typedef enum {
    MD_RETRY_TRANSIENT,    /* network, timeouts, 5xx, badNonce, our own trouble: try again soon */
    MD_RETRY_RATE_LIMITED, /* 429 / rateLimited: not before the CA's Retry-After */
    MD_RETRY_REFUSED,      /* the CA refuses what we asked: the operator must fix something */
} md_retry_class_t;

/* The shortest wait after a transient failure, doubling with each one in a row. */
#define MD_RETRY_TRANSIENT_BASE apr_time_from_sec(5)
#define MD_RETRY_TRANSIENT_MAX apr_time_from_sec(3600)
/* A refusal is not fixed by trying again soon: an hour, doubling to a day. Let's Encrypt allows
 * 5 failed validations per identifier and hour. */
#define MD_RETRY_REFUSED_BASE apr_time_from_sec(3600)
#define MD_RETRY_REFUSED_MAX apr_time_from_sec(86400)
/* Rate limited without a Retry-After, and the most a Retry-After is followed: a day (Let's
 * Encrypt's longest windows are a week, but its answers name the moment the limit clears). */
#define MD_RETRY_RATE_LIMITED_DEFAULT apr_time_from_sec(3600)
#define MD_RETRY_AFTER_MAX apr_time_from_sec(86400)

/* The class of a failure: the CA's problem type (full URN or NULL), the HTTP status of its
 * answer (0: none came) and our status. */
md_retry_class_t md_retry_classify(const char *problem_type, int http_status, apr_status_t rv);

const char *md_retry_class_name(md_retry_class_t cls); /* "transient", "rate-limited", "refused" */

/* A Retry-After as followed: negative is 0, more than MD_RETRY_AFTER_MAX is that. */
apr_interval_time_t md_retry_after_capped(apr_interval_time_t retry_after);

/* The wait before the next try after 'errors' failures in a row (1: the first) of class cls:
 * doubling from the class's base to its max -- transient from base/max when given (> 0:
 * MDRetryDelay, MDCheckInterval) -- never less than the capped retry_after, with jitter from
 * 'random' (any 32 bits): a wait w becomes one in [w/2, w] (the capped Retry-After and the
 * refused base excepted, which are minimums), so that many MDs do not retry in lockstep. */
apr_interval_time_t md_retry_wait(md_retry_class_t cls, int errors, apr_interval_time_t retry_after,
                                  apr_interval_time_t base, apr_interval_time_t max,
                                  apr_uint32_t random);

#endif

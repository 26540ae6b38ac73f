/* md_retry.c: classifying a renewal's failures and the waits that follow from the class --
 * bounded, jittered, overflow-free whatever a CA answers. */
#include <string.h>

#include "md_acme.h"
#include "md_retry.h"

/* Problem types (RFC 8555 6.7) for which the CA will answer the same until the operator
 * changes something: the names, the DNS, CAA, the account, the CSR. */
static const char *const refused_types[] = {
    "rejectedIdentifier",
    "caa",
    "dns",
    "unauthorized",
    "incorrectResponse",
    "connection",
    "tls",
    "unsupportedIdentifier",
    "externalAccountRequired",
    "invalidContact",
    "unsupportedContact",
    "badCSR",
    "badSignatureAlgorithm",
    "badPublicKey",
    "userActionRequired",
    "invalidProfile",
};

#define HTTP_TOO_MANY_REQUESTS 429
#define HTTP_SERVER_ERROR_MIN 500

/* The short name after the ACME prefix, or NULL for another namespace. */
static const char *acme_type(const char *type)
{
    size_t plen = strlen(MD_ACME_PROBLEM_PREFIX);

    return type && !strncmp(type, MD_ACME_PROBLEM_PREFIX, plen) ? type + plen : NULL;
}

md_retry_class_t md_retry_classify(const char *problem_type, int http_status, apr_status_t rv)
{
    const char *name = acme_type(problem_type);

    if (http_status == HTTP_TOO_MANY_REQUESTS || (name && !strcmp(name, "rateLimited"))) {
        return MD_RETRY_RATE_LIMITED;
    }
    if (name) {
        for (size_t i = 0; i < sizeof(refused_types) / sizeof(refused_types[0]); ++i) {
            if (!strcmp(name, refused_types[i])) {
                return MD_RETRY_REFUSED;
            }
        }
    }
    (void) rv; /* no answer, a 5xx, badNonce, serverInternal, our own trouble: try again */
    return MD_RETRY_TRANSIENT;
}

const char *md_retry_class_name(md_retry_class_t cls)
{
    switch (cls) {
    case MD_RETRY_RATE_LIMITED:
        return "rate-limited";
    case MD_RETRY_REFUSED:
        return "refused";
    default:
        return "transient";
    }
}

apr_interval_time_t md_retry_after_capped(apr_interval_time_t retry_after)
{
    return retry_after < 0                    ? 0
           : retry_after > MD_RETRY_AFTER_MAX ? MD_RETRY_AFTER_MAX
                                              : retry_after;
}

/* base doubled (errors - 1) times, at most max; no overflow for any count. */
static apr_interval_time_t doubled(int errors, apr_interval_time_t base, apr_interval_time_t max)
{
    apr_interval_time_t wait = base;

    for (int i = 1; i < errors && wait < max; ++i) {
        wait = wait > max / 2 ? max : wait * 2;
    }
    return wait < max ? wait : max;
}

/* w in [w/2, w], from random. */
static apr_interval_time_t jittered(apr_interval_time_t w, apr_uint32_t random)
{
    apr_interval_time_t half = w / 2;

    return half > 0 ? w - (apr_interval_time_t) ((apr_uint64_t) random % (apr_uint64_t) half) : w;
}

apr_interval_time_t md_retry_wait(md_retry_class_t cls, int errors, apr_interval_time_t retry_after,
                                  apr_interval_time_t base, apr_interval_time_t max,
                                  apr_uint32_t random)
{
    apr_interval_time_t after = md_retry_after_capped(retry_after), wait;

    errors = errors < 1 ? 1 : errors;
    switch (cls) {
    case MD_RETRY_RATE_LIMITED:
        /* the CA said when; without a word, an hour; a little more spreads the MDs out */
        wait = after > 0 ? after : MD_RETRY_RATE_LIMITED_DEFAULT;
        return wait + (apr_interval_time_t) ((apr_uint64_t) random %
                                             (apr_uint64_t) (wait / 10 > 0 ? wait / 10 : 1));
    case MD_RETRY_REFUSED:
        wait = doubled(errors, MD_RETRY_REFUSED_BASE, MD_RETRY_REFUSED_MAX);
        wait = MD_RETRY_REFUSED_BASE + jittered(wait - MD_RETRY_REFUSED_BASE, random);
        break;
    default:
        base = base > 0 ? base : MD_RETRY_TRANSIENT_BASE;
        max = max > 0 ? max : MD_RETRY_TRANSIENT_MAX;
        wait = jittered(doubled(errors, base < max ? base : max, max), random);
        break;
    }
    return wait > after ? wait : after;
}

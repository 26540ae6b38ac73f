/* md_http.h: the HTTP(S) client for talking to ACME CAs over libcurl: only http/https, TLS
 * verification always on, bounded time and response size; Link and Retry-After helpers. */
#ifndef MD_HTTP_H
#define MD_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <apr_atomic.h>

/* Defaults of a new context. A CA that does not answer within these is treated as down
 * (pebble can hang for good under load, see TESTING-NOTES.md). */
#define MD_HTTP_CONNECT_TIMEOUT_DEFAULT apr_time_from_sec(10)
#define MD_HTTP_TIMEOUT_DEFAULT apr_time_from_sec(60) /* whole request, redirects included */
/* ACME responses are small JSON documents or certificate chains; 1 MiB is generous. */
#define MD_HTTP_BODY_MAX_DEFAULT (1024 * 1024)
/* Redirects followed for GET (other methods never follow). */
#define MD_HTTP_MAX_REDIRECTS 5

/* A client context: settings plus one reusable connection handle, so requests to the same
 * CA share a connection. Not thread-safe: make one per job or thread. Released with its
 * pool. */
typedef struct md_http_t md_http_t;

typedef struct {
    int status;                /* HTTP status of the final response */
    apr_table_t *headers;      /* of the final response; keys case-insensitive, repeated
                                  headers (Link) appear once per occurrence */
    const char *body;          /* NUL-terminated for convenience; "" when none */
    apr_size_t body_len;       /* without the terminating NUL */
    const char *url;           /* as requested */
    const char *effective_url; /* after redirects */
} md_http_response_t;

/* Once per process, before any thread runs (the face calls it): curl_global_init.
 * APR_EGENERAL when curl cannot initialise. */
apr_status_t md_http_global_init(void);
/* At process end, after all contexts are gone. */
void md_http_global_cleanup(void);

/* A context living in p. user_agent NULL means MD_USER_AGENT ("mod_md/<version>").
 * ca_file: PEM file of trusted CA certificates, NULL for the system's trust store.
 * proxy_url: e.g. "http://proxy:3128"; NULL leaves it to curl's environment variables
 * (http_proxy, https_proxy, no_proxy). */
apr_status_t md_http_create(md_http_t **ph, apr_pool_t *p, const char *user_agent,
                            const char *ca_file, const char *proxy_url);

/* When *cancel becomes non-zero (apr_atomic_set32), a request in flight stops within about a
 * second with APR_EINTR, and so does every later one. NULL: never. */
void md_http_set_cancel(md_http_t *h, volatile apr_uint32_t *cancel);

/* With on set, requests to plain http:// URLs are refused without a connection: a client of
 * an https ACME directory follows no URL the CA (or anyone between) hands out that would
 * leave TLS. */
void md_http_set_https_only(md_http_t *h, int on);
/* The trust (PEM file) for the TLS of an https:// proxy; NULL: the system's trust store. */
void md_http_set_proxy_ca_file(md_http_t *h, const char *ca_file);
/* Whether url is an https:// one (the scheme in any case). */
int md_http_url_is_https(const char *url);

/* Connect and whole-request timeouts (> 0; 0 keeps the current value). Rounded up to
 * milliseconds. */
void md_http_set_timeouts(md_http_t *h, apr_interval_time_t connect_timeout,
                          apr_interval_time_t timeout);

/* Largest response body accepted (> 0; 0 keeps the current value). */
void md_http_set_body_max(md_http_t *h, apr_size_t body_max);

/* Performs one request and waits for the answer. method: "GET", "HEAD" or "POST" (body of
 * body_len bytes with content_type, which may be NULL). Only http:// and https:// URLs, also
 * when redirected; GET follows up to MD_HTTP_MAX_REDIRECTS redirects, HEAD and POST return a
 * redirect as it is. Any HTTP status is success: the caller judges the status.
 * Errors (the reason with the URL in md_http_last_error):
 *   APR_EINVAL        bad method or a URL that is not http(s) (no request is made)
 *   APR_ECONNREFUSED  nobody listening
 *   APR_EHOSTUNREACH  the host (or proxy) name does not resolve
 *   APR_TIMEUP        a timeout passed
 *   APR_ENOSPC        the response body is larger than the body cap
 *   APR_EGENERAL      TLS verification or handshake failure, too many redirects, anything else
 * The response lives in p. */
apr_status_t md_http_request(md_http_response_t **pres, md_http_t *h, const char *method,
                             const char *url, const char *content_type, const char *body,
                             apr_size_t body_len, apr_pool_t *p);

/* md_http_request with an Accept header (accept NULL: none, curl sends its default),
 * e.g. "application/pem-certificate-chain" for a certificate (RFC 8555 7.4.2). */
apr_status_t md_http_request_accept(md_http_response_t **pres, md_http_t *h, const char *method,
                                    const char *url, const char *content_type, const char *accept,
                                    const char *body, apr_size_t body_len, apr_pool_t *p);

/* Why the last md_http_request on h failed ("GET <url> failed: <curl's words>"), "" when
 * it did not. md_http_request does not log failures above debug level: its caller says what
 * it was doing and includes this. */
#define MD_HTTP_ERROR_MAX 512
const char *md_http_last_error(const md_http_t *h);

/* The URLs of all links with relation rel (case-insensitive; a link may name several
 * relations) in the response's Link headers (RFC 8288), e.g. Link: <url>;rel="up". Relative
 * references are resolved against the response's effective URL. The array (of const char*)
 * is empty when there are none. */
apr_status_t md_http_links(apr_array_header_t **plinks, const md_http_response_t *res,
                           const char *rel, apr_pool_t *p);

/* The delay a Retry-After header asks for, in delta-seconds or as an HTTP-date relative to
 * now (a date in the past gives 0). APR_ENOENT without the header, APR_EINVAL when it does not
 * parse (or the delay does not fit apr_interval_time_t). */
apr_status_t md_http_retry_after(apr_interval_time_t *pdelay, const md_http_response_t *res,
                                 apr_time_t now);

#endif

/* md_http.c: HTTP(S) requests over a per-context libcurl easy handle; collects status,
 * headers and a size-capped body, maps curl's failures to APR status codes. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include <apr_date.h>
#include <apr_lib.h>
#include <apr_atomic.h>
#include <apr_strings.h>

#include <curl/curl.h>

#include "md.h"
#include "md_http.h"
#include "md_log.h"

/* We only speak HTTP: no file://, ftp://, ... even via a redirect. */
#define HTTP_PROTOCOLS "http,https"
/* After an https URL, redirects may not downgrade to plain http. */
#define HTTP_PROTOCOLS_SECURE "https"
/* Total size of the response headers accepted; curl itself limits a single line only. */
#define HTTP_HEADERS_MAX (100 * 1024)
/* First allocation for a response body; it doubles from there up to the cap. */
#define HTTP_BODY_CHUNK (16 * 1024)

struct md_http_t {
    apr_pool_t *pool;
    CURL *curl; /* reused for each request; curl_easy_reset keeps its connections */
    const char *user_agent;
    const char *ca_file;
    const char *proxy_url;
    const char *proxy_ca_file; /* trust for an https:// proxy's own TLS, NULL: the system's */
    apr_interval_time_t connect_timeout;
    apr_interval_time_t timeout;
    apr_size_t body_max;
    volatile apr_uint32_t *cancel;      /* non-zero: the request in flight is given up */
    int https_only;                     /* http:// URLs are refused */
    char last_error[MD_HTTP_ERROR_MAX]; /* why the last request failed, "" when it did not */
};

/* Keeps why a request failed for the caller, who reports it with its own context (one line
 * for the operator); logged here only at debug level. */
static void http_failed(md_http_t *h, apr_status_t rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void http_failed(md_http_t *h, apr_status_t rv, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    apr_vsnprintf(h->last_error, sizeof(h->last_error), fmt, ap);
    va_end(ap);
    md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, rv, "http: %s", h->last_error);
}

const char *md_http_last_error(const md_http_t *h)
{
    return h->last_error;
}

/* The state of one request while curl runs it. */
typedef struct {
    md_http_t *h;
    md_http_response_t *res;
    apr_pool_t *p;
    char *buf; /* body so far, len bytes, room for cap (+ NUL) */
    apr_size_t len;
    apr_size_t cap;
    apr_size_t headers_len;
    int too_large; /* body or headers over their limit: why curl stopped */
} http_req_t;

apr_status_t md_http_global_init(void)
{
    CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);

    if (cc != CURLE_OK) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_EGENERAL, "http: initialising curl failed: %s",
                      curl_easy_strerror(cc));
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

void md_http_global_cleanup(void)
{
    curl_global_cleanup();
}

static apr_status_t http_cleanup(void *baton)
{
    md_http_t *h = baton;

    if (h->curl) {
        curl_easy_cleanup(h->curl);
        h->curl = NULL;
    }
    return APR_SUCCESS;
}

apr_status_t md_http_create(md_http_t **ph, apr_pool_t *p, const char *user_agent,
                            const char *ca_file, const char *proxy_url)
{
    md_http_t *h = apr_pcalloc(p, sizeof(*h));

    *ph = NULL;
    h->pool = p;
    h->user_agent = apr_pstrdup(p, user_agent ? user_agent : MD_USER_AGENT);
    h->ca_file = ca_file ? apr_pstrdup(p, ca_file) : NULL;
    h->proxy_url = proxy_url ? apr_pstrdup(p, proxy_url) : NULL;
    h->connect_timeout = MD_HTTP_CONNECT_TIMEOUT_DEFAULT;
    h->timeout = MD_HTTP_TIMEOUT_DEFAULT;
    h->body_max = MD_HTTP_BODY_MAX_DEFAULT;
    if (!(h->curl = curl_easy_init())) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, APR_ENOMEM, "http: creating a curl handle failed");
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, h, http_cleanup, apr_pool_cleanup_null);
    *ph = h;
    return APR_SUCCESS;
}

void md_http_set_cancel(md_http_t *h, volatile apr_uint32_t *cancel)
{
    h->cancel = cancel;
}

void md_http_set_https_only(md_http_t *h, int on)
{
    h->https_only = on;
}

void md_http_set_proxy_ca_file(md_http_t *h, const char *ca_file)
{
    h->proxy_ca_file = ca_file ? apr_pstrdup(h->pool, ca_file) : NULL;
}

/* curl asks this about once a second and whenever data moves: non-zero aborts the request. */
static int http_on_progress(void *baton, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                            curl_off_t ulnow)
{
    const md_http_t *h = baton;

    (void) dltotal;
    (void) dlnow;
    (void) ultotal;
    (void) ulnow;
    return h->cancel && apr_atomic_read32(h->cancel) ? 1 : 0;
}

void md_http_set_timeouts(md_http_t *h, apr_interval_time_t connect_timeout,
                          apr_interval_time_t timeout)
{
    if (connect_timeout > 0) {
        h->connect_timeout = connect_timeout;
    }
    if (timeout > 0) {
        h->timeout = timeout;
    }
}

void md_http_set_body_max(md_http_t *h, apr_size_t body_max)
{
    if (body_max > 0) {
        h->body_max = body_max;
    }
}

static size_t http_on_body(char *data, size_t size, size_t nmemb, void *baton)
{
    http_req_t *req = baton;
    apr_size_t n = size * nmemb;
    apr_size_t want;
    char *nbuf;

    if (n > req->h->body_max - req->len) {
        req->too_large = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    if (req->len + n + 1 > req->cap) {
        want = req->cap ? 2 * req->cap : HTTP_BODY_CHUNK;
        if (want < req->len + n + 1) {
            want = req->len + n + 1;
        }
        if (want > req->h->body_max + 1) {
            want = req->h->body_max + 1;
        }
        nbuf = apr_palloc(req->p, want);
        if (req->len) {
            memcpy(nbuf, req->buf, req->len);
        }
        req->buf = nbuf;
        req->cap = want;
    }
    memcpy(req->buf + req->len, data, n);
    req->len += n;
    return n;
}

static char *http_trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t') {
        ++s;
    }
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n')) {
        *--end = '\0';
    }
    return s;
}

/* curl hands us each header line of every response it sees (1xx, redirects, the final one);
 * we keep the headers of the last response only. */
static size_t http_on_header(char *data, size_t size, size_t nmemb, void *baton)
{
    http_req_t *req = baton;
    apr_size_t n = size * nmemb;
    const apr_array_header_t *elts;
    apr_table_entry_t *last;
    char *line, *colon;

    req->headers_len += n;
    if (req->headers_len > HTTP_HEADERS_MAX) {
        req->too_large = 1;
        return 0;
    }
    line = apr_pstrmemdup(req->p, data, n);
    if (!strncmp(line, "HTTP/", 5)) {
        apr_table_clear(req->res->headers); /* status line: a new response begins */
        return n;
    }
    if (line[0] == ' ' || line[0] == '\t') {
        /* obsolete line folding (RFC 7230 3.2.4): continues the previous header's value */
        elts = apr_table_elts(req->res->headers);
        if (elts->nelts > 0) {
            last = &((apr_table_entry_t *) elts->elts)[elts->nelts - 1];
            last->val = apr_pstrcat(req->p, last->val, " ", http_trim(line), NULL);
        }
        return n;
    }
    if (!(colon = strchr(line, ':'))) {
        return n; /* the empty line ending the headers, or junk */
    }
    *colon = '\0';
    apr_table_addn(req->res->headers, http_trim(line), http_trim(colon + 1));
    return n;
}

int md_http_url_is_https(const char *url)
{
    return !strncasecmp(url, "https://", strlen("https://"));
}

static int http_scheme_ok(const char *url)
{
    return md_http_url_is_https(url) || !strncasecmp(url, "http://", strlen("http://"));
}

static long http_ms(apr_interval_time_t t)
{
    return (long) ((t + 999) / 1000);
}

/* Sets an option unless an earlier one failed: the first failure is kept in rc. */
#define HTTP_SETOPT(rc, curl, opt, val)                                                            \
    do {                                                                                           \
        if ((rc) == CURLE_OK) {                                                                    \
            (rc) = curl_easy_setopt((curl), (opt), (val));                                         \
        }                                                                                          \
    } while (0)

/* Everything but the method: where, how long, whom to trust, where answers go. */
static CURLcode http_setup(md_http_t *h, http_req_t *req, const char *url, char *errbuf)
{
    CURLcode rc = CURLE_OK;
    CURL *c = h->curl;

    HTTP_SETOPT(rc, c, CURLOPT_URL, url);
    HTTP_SETOPT(rc, c, CURLOPT_PROTOCOLS_STR, HTTP_PROTOCOLS);
    HTTP_SETOPT(rc, c, CURLOPT_REDIR_PROTOCOLS_STR,
                md_http_url_is_https(url) ? HTTP_PROTOCOLS_SECURE : HTTP_PROTOCOLS);
    HTTP_SETOPT(rc, c, CURLOPT_ERRORBUFFER, errbuf);
    HTTP_SETOPT(rc, c, CURLOPT_NOSIGNAL, 1L); /* we run in threads: no SIGALRM timeouts */
    HTTP_SETOPT(rc, c, CURLOPT_USERAGENT, h->user_agent);
    HTTP_SETOPT(rc, c, CURLOPT_CONNECTTIMEOUT_MS, http_ms(h->connect_timeout));
    HTTP_SETOPT(rc, c, CURLOPT_TIMEOUT_MS, http_ms(h->timeout));
    HTTP_SETOPT(rc, c, CURLOPT_SSL_VERIFYPEER, 1L);
    HTTP_SETOPT(rc, c, CURLOPT_SSL_VERIFYHOST, 2L);
    HTTP_SETOPT(rc, c, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
    if (h->ca_file) {
        HTTP_SETOPT(rc, c, CURLOPT_CAINFO, h->ca_file);
    }
    if (h->proxy_url) {
        HTTP_SETOPT(rc, c, CURLOPT_PROXY, h->proxy_url);
    }
    if (h->proxy_ca_file) {
        HTTP_SETOPT(rc, c, CURLOPT_PROXY_CAINFO, h->proxy_ca_file);
    }
    HTTP_SETOPT(rc, c, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    HTTP_SETOPT(rc, c, CURLOPT_WRITEFUNCTION, http_on_body);
    HTTP_SETOPT(rc, c, CURLOPT_WRITEDATA, req);
    HTTP_SETOPT(rc, c, CURLOPT_HEADERFUNCTION, http_on_header);
    HTTP_SETOPT(rc, c, CURLOPT_HEADERDATA, req);
    if (h->cancel) {
        HTTP_SETOPT(rc, c, CURLOPT_NOPROGRESS, 0L);
        HTTP_SETOPT(rc, c, CURLOPT_XFERINFOFUNCTION, http_on_progress);
        HTTP_SETOPT(rc, c, CURLOPT_XFERINFODATA, h);
    }
    return rc;
}

static CURLcode http_setup_method(CURL *c, const char *method, const char *body,
                                  apr_size_t body_len, apr_size_t body_max)
{
    CURLcode rc = CURLE_OK;

    if (strcmp(method, "HEAD")) {
        /* refuses bodies announced too large before reading them; http_on_body catches the
         * rest. Not for HEAD: its Content-Length announces a body that never comes. */
        HTTP_SETOPT(rc, c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) body_max);
    }
    if (!strcmp(method, "GET")) {
        HTTP_SETOPT(rc, c, CURLOPT_HTTPGET, 1L);
        HTTP_SETOPT(rc, c, CURLOPT_FOLLOWLOCATION, 1L);
        HTTP_SETOPT(rc, c, CURLOPT_MAXREDIRS, (long) MD_HTTP_MAX_REDIRECTS);
    } else if (!strcmp(method, "HEAD")) {
        HTTP_SETOPT(rc, c, CURLOPT_NOBODY, 1L);
    } else {
        HTTP_SETOPT(rc, c, CURLOPT_POST, 1L);
        HTTP_SETOPT(rc, c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
        HTTP_SETOPT(rc, c, CURLOPT_POSTFIELDS, body ? body : "");
    }
    return rc;
}

/* Our request headers. "Expect:" stops curl from waiting for a 100-continue that servers
 * without support would never send; "Content-Type:" alone stops it from claiming a form. */
static apr_status_t http_headers_make(struct curl_slist **plist, const char *content_type,
                                      const char *accept, apr_pool_t *p)
{
    struct curl_slist *list, *next;

    *plist = NULL;
    if (!(list = curl_slist_append(NULL, "Expect:"))) {
        return APR_ENOMEM;
    }
    next =
        curl_slist_append(list, content_type ? apr_pstrcat(p, "Content-Type: ", content_type, NULL)
                                             : "Content-Type:");
    if (next && accept) {
        list = next;
        next = curl_slist_append(list, apr_pstrcat(p, "Accept: ", accept, NULL));
    }
    if (!next) {
        curl_slist_free_all(list);
        return APR_ENOMEM;
    }
    *plist = next;
    return APR_SUCCESS;
}

static apr_status_t http_status_of(CURLcode cc, const http_req_t *req, long os_errno)
{
    switch (cc) {
    case CURLE_OK:
        return APR_SUCCESS;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return APR_EINVAL;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return APR_EHOSTUNREACH;
    case CURLE_COULDNT_CONNECT:
        /* refused, or the system's reason, such as EHOSTUNREACH / ENETUNREACH */
        return (os_errno && os_errno != ECONNREFUSED) ? APR_FROM_OS_ERROR((int) os_errno)
                                                      : APR_ECONNREFUSED;
    case CURLE_ABORTED_BY_CALLBACK:
        return APR_EINTR; /* cancelled (md_http_set_cancel) */
    case CURLE_OPERATION_TIMEDOUT:
        return APR_TIMEUP;
    case CURLE_FILESIZE_EXCEEDED:
        return APR_ENOSPC;
    case CURLE_WRITE_ERROR:
        return req->too_large ? APR_ENOSPC : APR_EGENERAL;
    case CURLE_OUT_OF_MEMORY:
        return APR_ENOMEM;
    default:
        return APR_EGENERAL; /* TLS verification and handshake failures among them */
    }
}

static void http_response_finish(http_req_t *req, CURL *c)
{
    md_http_response_t *res = req->res;
    const char *eff = NULL;
    long status = 0;

    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
    res->status = (int) status;
    res->effective_url = apr_pstrdup(req->p, eff ? eff : res->url);
    if (req->buf) {
        req->buf[req->len] = '\0';
        res->body = req->buf;
        res->body_len = req->len;
    }
}

apr_status_t md_http_request(md_http_response_t **pres, md_http_t *h, const char *method,
                             const char *url, const char *content_type, const char *body,
                             apr_size_t body_len, apr_pool_t *p)
{
    return md_http_request_accept(pres, h, method, url, content_type, NULL, body, body_len, p);
}

apr_status_t md_http_request_accept(md_http_response_t **pres, md_http_t *h, const char *method,
                                    const char *url, const char *content_type, const char *accept,
                                    const char *body, apr_size_t body_len, apr_pool_t *p)
{
    char errbuf[CURL_ERROR_SIZE];
    struct curl_slist *hdrs = NULL;
    long os_errno = 0;
    http_req_t req;
    const char *why;
    CURLcode cc;
    apr_status_t rv;

    *pres = NULL;
    h->last_error[0] = '\0';
    if (!method || (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "POST"))) {
        http_failed(h, APR_EINVAL, "method %s for %s is not supported (GET, HEAD, POST are)",
                    method ? method : "(none)", url ? url : "(none)");
        return APR_EINVAL;
    }
    if (!url || !http_scheme_ok(url)) {
        http_failed(h, APR_EINVAL, "%s %s refused: only http:// and https:// URLs are allowed",
                    method, url ? url : "(none)");
        return APR_EINVAL;
    }
    if (h->https_only && !md_http_url_is_https(url)) {
        http_failed(h, APR_EINVAL, "%s %s refused: the CA's directory is https, this URL is not",
                    method, url);
        return APR_EINVAL;
    }
    memset(&req, 0, sizeof(req));
    req.h = h;
    req.p = p;
    req.res = apr_pcalloc(p, sizeof(*req.res));
    req.res->headers = apr_table_make(p, 16);
    req.res->body = "";
    req.res->url = apr_pstrdup(p, url);
    errbuf[0] = '\0';

    curl_easy_reset(h->curl);
    if ((rv = http_headers_make(&hdrs, content_type, accept, p)) != APR_SUCCESS) {
        return rv;
    }
    cc = http_setup(h, &req, url, errbuf);
    if (cc == CURLE_OK) {
        cc = http_setup_method(h->curl, method, body, body_len, h->body_max);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdrs);
    }
    if (cc != CURLE_OK) {
        rv = cc == CURLE_OUT_OF_MEMORY ? APR_ENOMEM : APR_EGENERAL;
        http_failed(h, rv, "setting up %s %s failed: %s", method, url, curl_easy_strerror(cc));
        goto leave;
    }

    cc = curl_easy_perform(h->curl);
    curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &os_errno);
    rv = http_status_of(cc, &req, os_errno);
    if (rv != APR_SUCCESS) {
        if (req.headers_len > HTTP_HEADERS_MAX) {
            why = apr_psprintf(p, "response headers larger than %d bytes", HTTP_HEADERS_MAX);
        } else if (req.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
            why = apr_psprintf(p, "response larger than %" APR_SIZE_T_FMT " bytes", h->body_max);
        } else {
            why = errbuf[0] ? http_trim(errbuf) : curl_easy_strerror(cc);
        }
        /* the operator must know which leg failed: a proxy's own TLS needs its own trust */
        http_failed(h, rv, "%s %s%s%s failed: %s", method, url, h->proxy_url ? " via proxy " : "",
                    h->proxy_url ? h->proxy_url : "", why);
        goto leave;
    }
    http_response_finish(&req, h->curl);
    md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_SUCCESS,
                  "http: %s %s -> %d, %" APR_SIZE_T_FMT " bytes", method, url, req.res->status,
                  req.res->body_len);
    *pres = req.res;

leave:
    /* the handle must not point at our stack or the freed list after we return; a reset
     * keeps its open connections for the next request */
    curl_easy_reset(h->curl);
    curl_slist_free_all(hdrs);
    return rv;
}

/* ---- Link (RFC 8288) ---- */

static const char *http_skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        ++s;
    }
    return s;
}

/* A token or quoted-string (backslash escapes undone) starting at *ps; advances *ps. */
static const char *http_param_value(const char **ps, apr_pool_t *p)
{
    const char *s = *ps, *start;
    char *out, *o;

    if (*s != '"') {
        start = s;
        while (*s && *s != ';' && *s != ',' && *s != ' ' && *s != '\t') {
            ++s;
        }
        *ps = s;
        return apr_pstrmemdup(p, start, (apr_size_t) (s - start));
    }
    o = out = apr_palloc(p, strlen(s) + 1);
    for (++s; *s && *s != '"'; ++s) {
        if (*s == '\\' && s[1]) {
            ++s;
        }
        *o++ = *s;
    }
    *o = '\0';
    *ps = *s ? s + 1 : s;
    return out;
}

/* rel="a b c" names several relation types (RFC 8288 3.3); compares case-insensitively. */
static int http_rel_matches(const char *value, const char *rel, apr_pool_t *p)
{
    char *copy = apr_pstrdup(p, value), *last = NULL, *tok;

    for (tok = apr_strtok(copy, " \t", &last); tok; tok = apr_strtok(NULL, " \t", &last)) {
        if (!strcasecmp(tok, rel)) {
            return 1;
        }
    }
    return 0;
}

static const char *http_resolve(const char *base, const char *ref, apr_pool_t *p)
{
    const char *result = NULL;
    char *joined = NULL;
    CURLU *u;

    if (!(u = curl_url())) {
        return NULL;
    }
    /* setting a second URL on the handle resolves it against the first (RFC 3986 5.2) */
    if ((!base || curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK) &&
        curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &joined, 0) == CURLUE_OK) {
        result = apr_pstrdup(p, joined);
    }
    curl_free(joined);
    curl_url_cleanup(u);
    return result;
}

/* One Link header value: link-value *( "," link-value ), each "<" URI-Reference ">" followed
 * by parameters "; name=value". Only the first rel parameter of a link counts. */
static void http_links_parse(apr_array_header_t *out, const char *s, const char *rel,
                             const char *base, apr_pool_t *p)
{
    const char *end, *target, *name_start, *value, *url;
    apr_size_t name_len;
    int matched, seen_rel;

    while (*s) {
        s = http_skip_ws(s);
        if (*s == ',') {
            ++s;
            continue;
        }
        if (*s != '<' || !(end = strchr(s, '>'))) {
            return; /* malformed: give up on the rest of this header */
        }
        target = apr_pstrmemdup(p, s + 1, (apr_size_t) (end - s - 1));
        s = end + 1;
        matched = seen_rel = 0;
        while (*(s = http_skip_ws(s)) == ';') {
            name_start = s = http_skip_ws(s + 1);
            while (*s && *s != '=' && *s != ';' && *s != ',' && *s != ' ' && *s != '\t') {
                ++s;
            }
            name_len = (apr_size_t) (s - name_start);
            s = http_skip_ws(s);
            value = NULL;
            if (*s == '=') {
                s = http_skip_ws(s + 1);
                value = http_param_value(&s, p);
            }
            if (value && name_len == strlen("rel") && !strncasecmp(name_start, "rel", name_len) &&
                !seen_rel) {
                seen_rel = 1;
                matched = http_rel_matches(value, rel, p);
            }
        }
        while (*s && *s != ',') {
            ++s; /* junk after the parameters */
        }
        if (matched) {
            if ((url = http_resolve(base, target, p))) {
                APR_ARRAY_PUSH(out, const char *) = url;
            } else {
                md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, APR_EINVAL,
                              "http: ignoring Link <%s> (rel %s): not a URL", target, rel);
            }
        }
    }
}

typedef struct {
    apr_array_header_t *out;
    const char *rel;
    const char *base;
    apr_pool_t *p;
} http_links_ctx_t;

static int http_links_each(void *baton, const char *key, const char *value)
{
    http_links_ctx_t *ctx = baton;

    http_links_parse(ctx->out, value, ctx->rel, ctx->base, ctx->p);
    return 1;
}

apr_status_t md_http_links(apr_array_header_t **plinks, const md_http_response_t *res,
                           const char *rel, apr_pool_t *p)
{
    http_links_ctx_t ctx;

    ctx.out = apr_array_make(p, 4, sizeof(const char *));
    ctx.rel = rel;
    ctx.base = res->effective_url ? res->effective_url : res->url;
    ctx.p = p;
    *plinks = ctx.out;
    if (!rel || !res->headers) {
        return rel ? APR_SUCCESS : APR_EINVAL;
    }
    apr_table_do(http_links_each, &ctx, res->headers, "Link", NULL);
    return APR_SUCCESS;
}

/* ---- Retry-After (RFC 9110 10.2.3) ---- */

apr_status_t md_http_retry_after(apr_interval_time_t *pdelay, const md_http_response_t *res,
                                 apr_time_t now)
{
    const char *value, *s;
    apr_int64_t secs;
    apr_time_t when;
    char *end = NULL;

    *pdelay = 0;
    if (!res->headers || !(value = apr_table_get(res->headers, "Retry-After"))) {
        return APR_ENOENT;
    }
    value = http_skip_ws(value);
    for (s = value; apr_isdigit(*s); ++s) {
    }
    if (s > value && !*http_skip_ws(s)) {
        errno = 0;
        secs = apr_strtoi64(value, &end, 10);
        if (errno == ERANGE || secs > APR_INT64_MAX / APR_USEC_PER_SEC) {
            return APR_EINVAL;
        }
        *pdelay = apr_time_from_sec(secs);
        return APR_SUCCESS;
    }
    if ((when = apr_date_parse_http(value)) == APR_DATE_BAD) {
        return APR_EINVAL;
    }
    *pdelay = when > now ? when - now : 0;
    return APR_SUCCESS;
}

/* md_status_fmt.c: the status JSON of MDs (md_reg_status_json, as md-status completes it) in
 * two more forms: an HTML table for people and the Prometheus text exposition for scrapers. */
#include <string.h>
#include <apr_strings.h>

#include "md_status_fmt.h"
#include "md_util.h"

/* ---- HTML ---- */

/* s with each of the characters in specials replaced by what repl gives for it. */
static const char *escape(const char *s, const char *specials, const char *(*repl)(char),
                          apr_pool_t *p)
{
    apr_array_header_t *parts = apr_array_make(p, 4, sizeof(char *));
    apr_size_t n;

    while (s && *s) {
        n = strcspn(s, specials);
        APR_ARRAY_PUSH(parts, const char *) = apr_pstrndup(p, s, n);
        s += n;
        if (*s) {
            APR_ARRAY_PUSH(parts, const char *) = repl(*s++);
        }
    }
    return apr_array_pstrcat(p, parts, 0);
}

static const char *html_repl(char c)
{
    return c == '<'   ? "&lt;"
           : c == '>' ? "&gt;"
           : c == '&' ? "&amp;"
           : c == '"' ? "&quot;"
                      : "&#39;";
}

static const char *html_esc(const char *s, apr_pool_t *p)
{
    return escape(s, "<>&\"'", html_repl, p);
}

static const char *str_or(const md_json_t *j, const char *key, const char *dflt)
{
    const char *s = md_json_get_str(j, key);

    return s ? s : dflt;
}

/* The last error of the MD's renewal, "" when none. */
static const char *last_error(const md_json_t *md, apr_pool_t *p)
{
    md_json_t *last = md_json_get(md_json_get(md, "renewal", p), "last", p);

    return md_json_get_int(last, "status", 0) ? str_or(last, "detail", "an error") : "";
}

const char *md_status_html(const md_json_t *mds, apr_pool_t *p)
{
    /* pieces joined once at the end: a server may have thousands of MDs */
    apr_array_header_t *out = apr_array_make(p, (int) md_json_len(mds) + 2, sizeof(char *));
    apr_array_header_t *names;
    md_json_t *md;

    APR_ARRAY_PUSH(out, const char *) =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Managed "
        "Domains</title></head><body>\n<h1>Managed Domains</h1>\n<table border=\"1\">"
        "<tr><th>Name</th><th>State</th><th>Names</th><th>Valid until</th>"
        "<th>Renew at</th><th>Next check</th><th>Last error</th></tr>\n";
    for (apr_size_t i = 0; i < md_json_len(mds); ++i) {
        md = md_json_at(mds, i, p);
        names = md_json_get_strs(md, "domains", p);
        APR_ARRAY_PUSH(out, const char *) = apr_pstrcat(
            p, "<tr><td>", html_esc(md_json_get_str(md, "name"), p), "</td><td>",
            html_esc(str_or(md, "state-name", "-"), p),
            md_json_get_bool(md, "watched", 1) ? "" : " (not used by any vhost)", "</td><td>",
            html_esc(names ? md_array_str_join(names, " ", p) : "", p), "</td><td>",
            html_esc(str_or(md_json_get(md_json_get(md, "cert", p), "valid", p), "until", "-"), p),
            "</td><td>", html_esc(str_or(md, "renew-at", "-"), p), "</td><td>",
            html_esc(str_or(md, "next-check", "-"), p), "</td><td>", html_esc(last_error(md, p), p),
            "</td></tr>\n", NULL);
    }
    APR_ARRAY_PUSH(out, const char *) = "</table>\n</body></html>\n";
    return apr_array_pstrcat(p, out, 0);
}

/* ---- Prometheus text exposition (version 0.0.4) ---- */

/* A label value: backslash, double quote and newline escaped. */
static const char *label_repl(char c)
{
    return c == '\n' ? "\\n" : c == '"' ? "\\\"" : "\\\\";
}

static const char *label_esc(const char *s, apr_pool_t *p)
{
    return escape(s, "\\\"\n", label_repl, p);
}

/* The time of an HTTP date or RFC 3339 member; 0 when missing. */
static apr_time_t member_time(const md_json_t *j, const char *key)
{
    return md_time_of(md_json_get_str(j, key));
}

typedef struct {
    const char *name, *type, *help;
} md_metric_t;

static const md_metric_t metrics[] = {
    {"md_certificate_expiry_timestamp_seconds", "gauge",
     "When the certificate in use expires (notAfter), per key type"},
    {"md_certificate_renew_timestamp_seconds", "gauge",
     "When the renewal of the certificates in use is due"},
    {"md_state", "gauge", "1 for the MD's state (incomplete, complete, expired, error)"},
    {"md_renewals_total", "counter",
     "Renewed certificates that went live since the server (re)started"},
    {"md_renewal_errors", "gauge",
     "Failed tries in a row of the MD's current renewal, by the class of the last error"},
    {"md_last_success_timestamp_seconds", "gauge",
     "When the MD last got its certificates (the renewal finished, else the certificate's "
     "notBefore)"},
};

static void sample(apr_array_header_t *out, const char *metric, const char *labels, double v,
                   apr_pool_t *p)
{
    APR_ARRAY_PUSH(out, const char *) = apr_psprintf(p, "%s{%s} %.17g\n", metric, labels, v);
}

/* The samples of metric m for one MD. */
static void md_samples(apr_array_header_t *out, int m, const md_json_t *md, apr_pool_t *p)
{
    const char *name = label_esc(md_json_get_str(md, "name"), p), *label = "md=\"";
    md_json_t *cert = md_json_get(md, "cert", p), *renewal = md_json_get(md, "renewal", p);
    md_json_t *certs = md_json_get(md, "certificates", p), *c, *err;
    apr_time_t t;

    label = apr_pstrcat(p, label, name, "\"", NULL);
    switch (m) {
    case 0:
        for (apr_size_t k = 0; k < md_json_len(certs); ++k) {
            c = md_json_at(certs, k, p);
            if ((t = member_time(c, "valid-until")) != 0) {
                sample(out, metrics[m].name,
                       apr_pstrcat(p, label, ",key=\"", label_esc(md_json_get_str(c, "key"), p),
                                   "\"", NULL),
                       (double) apr_time_sec(t), p);
            }
        }
        return;
    case 1:
        if ((t = member_time(md, "renew-at")) != 0) {
            sample(out, metrics[m].name, label, (double) apr_time_sec(t), p);
        }
        return;
    case 2:
        sample(out, metrics[m].name,
               apr_pstrcat(p, label, ",state=\"", label_esc(str_or(md, "state-name", "unknown"), p),
                           "\"", NULL),
               1, p);
        return;
    case 3:
        sample(out, metrics[m].name, label, (double) md_json_get_int(md, "renewals-live", 0), p);
        return;
    case 4:
        err = md_json_get(md_json_get(md_json_get(md, "staging", p), "job", p), "error", p);
        sample(out, metrics[m].name,
               apr_pstrcat(p, label, ",class=\"",
                           label_esc(err ? str_or(err, "class", "transient") : "none", p), "\"",
                           NULL),
               (double) md_json_get_int(renewal, "errors", 0), p);
        return;
    default:
        t = md_json_get_bool(renewal, "finished", 0) ? member_time(renewal, "last-run") : 0;
        t = t ? t : member_time(md_json_get(cert, "valid", p), "from");
        if (t) {
            sample(out, metrics[m].name, label, (double) apr_time_sec(t), p);
        }
        return;
    }
}

const char *md_status_metrics(const md_json_t *mds, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 8 * ((int) md_json_len(mds) + 1), sizeof(char *));

    for (apr_size_t m = 0; m < sizeof(metrics) / sizeof(metrics[0]); ++m) {
        APR_ARRAY_PUSH(out, const char *) =
            apr_pstrcat(p, "# HELP ", metrics[m].name, " ", metrics[m].help, "\n# TYPE ",
                        metrics[m].name, " ", metrics[m].type, "\n", NULL);
        for (apr_size_t i = 0; i < md_json_len(mds); ++i) {
            md_samples(out, (int) m, md_json_at(mds, i, p), p);
        }
    }
    return apr_array_pstrcat(p, out, 0);
}

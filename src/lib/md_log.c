/* md_log.c: hands library log messages to the sink the face installed with md_log_set,
 * or to stderr when none was installed (unit tests, early start-up). */
#include <stdarg.h>
#include <stdio.h>

#include <apr_strings.h>

#include "md_log.h"

/* Size of the buffer for apr_strerror's text. */
#define MD_LOG_ERRBUF_LEN 256

/* Invariant: these three are written only by md_log_set, which the face calls once at
 * process start before any thread exists; afterwards every thread only reads them. They
 * are the library's sole file-level state. */
static md_log_sink_fn *log_sink;
static void *log_baton;
static md_log_level_t log_max_level = MD_LOG_WARN;

static const char *const level_names[] = {
    [MD_LOG_ERR] = "error", [MD_LOG_WARN] = "warn",   [MD_LOG_NOTICE] = "notice",
    [MD_LOG_INFO] = "info", [MD_LOG_DEBUG] = "debug", [MD_LOG_TRACE] = "trace",
};

void md_log_set(md_log_sink_fn *sink, void *baton, md_log_level_t max_level)
{
    log_sink = sink;
    log_baton = baton;
    log_max_level = max_level;
}

int md_log_is_level(md_log_level_t level)
{
    return level <= log_max_level;
}

const char *md_log_level_name(md_log_level_t level)
{
    if ((unsigned) level < sizeof(level_names) / sizeof(level_names[0])) {
        return level_names[level];
    }
    return "unknown";
}

static void log_to_stderr(const char *file, int line, md_log_level_t level, apr_status_t rv,
                          const char *msg)
{
    char errbuf[MD_LOG_ERRBUF_LEN];

    if (rv != APR_SUCCESS) {
        apr_strerror(rv, errbuf, sizeof(errbuf));
        fprintf(stderr, "[md:%s] %s:%d: %s (%d: %s)\n", md_log_level_name(level), file, line, msg,
                rv, errbuf);
    } else {
        fprintf(stderr, "[md:%s] %s:%d: %s\n", md_log_level_name(level), file, line, msg);
    }
}

void md_log_perror(const char *file, int line, md_log_level_t level, apr_status_t rv,
                   const char *fmt, ...)
{
    apr_pool_t *tmp;
    const char *msg;
    va_list ap;

    if (!md_log_is_level(level)) {
        return;
    }
    /* An unmanaged pool of its own: no parent to lock, so logging from any thread is safe.
     * The face must have called apr_pool_initialize (it needs APR for anything else too). */
    if (apr_pool_create_unmanaged_ex(&tmp, NULL, NULL) != APR_SUCCESS) {
        fprintf(stderr, "[md] %s:%d: out of memory while logging\n", file, line);
        return;
    }
    va_start(ap, fmt);
    msg = apr_pvsprintf(tmp, fmt, ap);
    va_end(ap);

    if (log_sink) {
        log_sink(log_baton, file, line, level, rv, msg);
    } else {
        log_to_stderr(file, line, level, rv, msg);
    }
    apr_pool_destroy(tmp);
}

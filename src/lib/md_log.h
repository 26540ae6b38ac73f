/* md_log.h: logging for the core library through a sink the face installs
 * (ap_log_error in httpd, stderr in a2md); the library never prints itself. */
#ifndef MD_LOG_H
#define MD_LOG_H

#include <apr_pools.h>
#include <apr_errno.h>

typedef enum {
    MD_LOG_ERR,
    MD_LOG_WARN,
    MD_LOG_NOTICE,
    MD_LOG_INFO,
    MD_LOG_DEBUG,
    MD_LOG_TRACE,
} md_log_level_t;

/* rv is the status that goes with the message (APR_SUCCESS when none). */
typedef void md_log_sink_fn(void *baton, const char *file, int line, md_log_level_t level,
                            apr_status_t rv, const char *msg);

/* Installs the sink. Call once at process start, before any thread runs: after that the
 * sink is only read, so the library stays free of mutable global state. */
void md_log_set(md_log_sink_fn *sink, void *baton, md_log_level_t max_level);

int md_log_is_level(md_log_level_t level);

/* Formats with apr_pvsprintf in a pool of its own; cheap when the level is off. */
void md_log_perror(const char *file, int line, md_log_level_t level, apr_status_t rv,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define MD_LOG_MARK __FILE__, __LINE__

const char *md_log_level_name(md_log_level_t level);

#endif

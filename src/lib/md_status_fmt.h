/* md_status_fmt.h: the MDs' status JSON (an array of md_reg_status_json objects, as md-status
 * completes them) for people (HTML) and for Prometheus (text exposition format 0.0.4). */
#ifndef MD_STATUS_FMT_H
#define MD_STATUS_FMT_H

#include "md_json.h"

/* A page with one table row per MD: name, state, names, valid until, renew at, next check, the
 * last error; every value HTML-escaped. */
const char *md_status_html(const md_json_t *mds, apr_pool_t *p);

/* Per MD: md_certificate_expiry_timestamp_seconds{md,key}, md_certificate_renew_timestamp_seconds,
 * md_state{md,state}, md_renewals_total ("renewals-live"), md_renewal_errors{md,class},
 * md_last_success_timestamp_seconds. */
const char *md_status_metrics(const md_json_t *mds, apr_pool_t *p);

#endif

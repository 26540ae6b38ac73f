/* mod_md_drive.h: what the background driver (mod_md_drive.c) shares with the md-status
 * handler (mod_md_status.c): the MDs as the parent saw them at startup, the driver's schedule. */
#ifndef MOD_MD_DRIVE_H
#define MOD_MD_DRIVE_H

#include <apr_time.h>

#include "md_plan.h"
#include "mod_md.h"

/* The handler a <Location> names with SetHandler. */
#define MD_MOD_STATUS_HANDLER "md-status"
/* The handler of the same in Prometheus' text format. */
#define MD_MOD_METRICS_HANDLER "md-metrics"

/* One MD as the parent (root) saw it in post_config. The children cannot read domains/
 * (root only), and domains/ only changes at a restart, so this stays true for the whole
 * server generation. */
typedef struct {
    const md_t *md;
    const char *status; /* md_reg_status_json without "staging", as JSON text */
    int watched;        /* a vhost uses it */
    int driven;         /* the driver renews it (watched, not manual, no static certificate) */
    const apr_array_header_t *installed; /* md_cert_info_t* of domains/ (md_plan_opts_t) */
    apr_time_t warn_at; /* when the earliest certificate enters its warn window; 0 = none */
} md_mod_snap_t;

/* When the driver ran last and runs next (apr_time_t; 0: not yet known). Written by the
 * driver child only, read by every child: shared memory made anew per generation. */
typedef struct {
    volatile apr_uint64_t last_run;
    volatile apr_uint64_t next_run;
} md_mod_drive_times_t;

/* What one server generation knows, made in post_config (pconf). */
typedef struct {
    apr_array_header_t *snaps;     /* md_mod_snap_t*, in the order of mc->mds */
    apr_array_header_t *others;    /* md_mod_snap_t*: MDs only in the store (a2md's), shown only */
    md_mod_drive_times_t *times;   /* NULL when no driver runs (no watchdog, all manual) */
    volatile apr_uint32_t cancel;  /* set when the child exits: drives in progress stop soon */
    volatile apr_uint32_t running; /* runs of the driver in progress in this process */
} md_mod_gen_t;

/* The current generation's, NULL before post_config or when the module manages nothing. */
md_mod_gen_t *md_mod_gen_get(server_rec *s);

/* The snapshot of MD name (the store's MDs the server does not manage too: in gen->others),
 * NULL when the store has no such MD. */
const md_mod_snap_t *md_mod_snap_find(const md_mod_gen_t *gen, const char *name);
/* The index of snap in gen->snaps, which is that of its MD in mc->mds. */
int md_mod_snap_index(const md_mod_gen_t *gen, const md_mod_snap_t *snap);

/* What md_plan_next needs to know beyond the store for the MD of snapshot i. */
md_plan_opts_t md_mod_plan_opts(const md_mod_conf_t *mc, const md_mod_gen_t *gen, int i);

/* The md_cert_info_t* of the set the driver published in live/ for the MD of snapshot i, when
 * the workers present it; NULL when they do not (they present the installed one). */
apr_array_header_t *md_mod_live_infos(md_mod_conf_t *mc, const md_mod_gen_t *gen, int i,
                                      apr_time_t now, apr_pool_t *p);
/* The md_cert_info_t* of what the workers present for the MD of snapshot i: the live set the
 * driver published, else what was installed at the start (NULL: nothing, the temporary). */
const apr_array_header_t *md_mod_presented(md_mod_conf_t *mc, const md_mod_gen_t *gen, int i,
                                           apr_time_t now, apr_pool_t *p);

/* MDRetryDelay / MDCheckInterval, the defaults when unset. */
apr_interval_time_t md_mod_retry_delay(const md_mod_conf_t *mc);
apr_interval_time_t md_mod_check_interval(const md_mod_conf_t *mc);

/* MDMessageCmd [args] <event> <name> (with MD_STORE and MD_VERSION), killed when *cancel
 * becomes non-zero; how the program ended (APR_SUCCESS when none is configured). */
apr_status_t md_mod_message(const md_mod_conf_t *mc, volatile apr_uint32_t *cancel,
                            const char *event, const char *name, apr_pool_t *p);

/* Registers the md-status handler (mod_md_status.c). */
void md_mod_status_hooks(apr_pool_t *p);

#endif

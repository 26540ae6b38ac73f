/* mod_md_drive.h: what the background driver (mod_md_drive.c) shares with the md-status
 * handler (mod_md_status.c): the MDs as the parent saw them at startup, the driver's schedule. */
#ifndef MOD_MD_DRIVE_H
#define MOD_MD_DRIVE_H

#include <apr_time.h>

#include "mod_md.h"

/* The handler a <Location> names with SetHandler. */
#define MD_MOD_STATUS_HANDLER "md-status"

/* One MD as the parent (root) saw it in post_config. The children cannot read domains/
 * (root only), and domains/ only changes at a restart, so this stays true for the whole
 * server generation. */
typedef struct {
    const md_t *md;
    const char *status;  /* md_reg_status_json without "staging", as JSON text */
    int driven;          /* the driver renews it (not manual, no static certificate) */
    apr_time_t renew_at; /* when a certificate is needed: 0 = now */
    apr_time_t warn_at;  /* when the earliest certificate enters its warn window; 0 = none */
} md_mod_snap_t;

/* When the driver ran last and runs next (apr_time_t; 0: not yet known). Written by the
 * driver child only, read by every child: shared memory made anew per generation. */
typedef struct {
    volatile apr_uint64_t last_run;
    volatile apr_uint64_t next_run;
} md_mod_drive_times_t;

/* What one server generation knows, made in post_config (pconf). */
typedef struct {
    apr_array_header_t *snaps;    /* md_mod_snap_t*, in the order of mc->mds */
    md_mod_drive_times_t *times;  /* NULL when no driver runs (no watchdog, all manual) */
    volatile apr_uint32_t cancel; /* set when the child exits: drives in progress stop soon */
} md_mod_gen_t;

/* The current generation's, NULL before post_config or when the module manages nothing. */
md_mod_gen_t *md_mod_gen_get(server_rec *s);

/* The snapshot of MD name, NULL when the server does not manage it. */
const md_mod_snap_t *md_mod_snap_find(const md_mod_gen_t *gen, const char *name);

/* MDRetryDelay / MDCheckInterval, the defaults when unset. */
apr_interval_time_t md_mod_retry_delay(const md_mod_conf_t *mc);
apr_interval_time_t md_mod_check_interval(const md_mod_conf_t *mc);

/* The identity of md's staged set (the fingerprints of its certificates) when staging/
 * holds a complete one -- job step "staged", every certificate verified -- else NULL. */
const char *md_mod_staged_set(md_reg_t *reg, const md_t *md, apr_time_t now, apr_pool_t *p);

/* The parent's watchdog that activates staged sets by a graceful restart
 * (mod_md_activate.c); called from post_config. */
void md_mod_activation_setup(md_mod_conf_t *mc, server_rec *s, apr_pool_t *pconf);

/* Registers the md-status handler (mod_md_status.c). */
void md_mod_status_hooks(apr_pool_t *p);

#endif

/* mod_md_ocsp.h: what the stapling parts of the module share -- the certificates primed for
 * stapling (mod_md_ocsp.c) and their renewal in the background (mod_md_ocsp_renew.c). */
#ifndef MOD_MD_OCSP_H
#define MOD_MD_OCSP_H

#include <apr_thread_mutex.h>
#include <openssl/sha.h>

#include "md_ocsp.h"
#include "mod_md.h"

/* Defaults of the bundled module. */
#define MD_MOD_STAPLING_KEEP_DEFAULT apr_time_from_sec(7 * 24 * 60 * 60)
#define MD_MOD_STAPLING_WINDOW_DEFAULT "33%"

/* A certificate stapled: mod_ssl names it by the SHA-1 of its DER (its id in the hooks). */
typedef struct {
    unsigned char sha1[SHA_DIGEST_LENGTH];
    md_ocsp_cert_t *oc;
    const char *entry; /* the store entry in ocsp/: its MD's name or MD_OCSP_OTHER */
    /* this process's copy of the stored response (under the registry's mutex) */
    const unsigned char *der;
    apr_size_t der_len;
    apr_time_t valid_until;
    apr_time_t checked_at; /* when the store was last looked at */
    apr_pool_t *cache_pool;
} md_mod_staple_t;

struct md_mod_ocsp_t {
    md_mod_conf_t *mc;
    server_rec *s;
    apr_pool_t *pool;             /* pconf: the primed ones */
    apr_hash_t *by_sha1;          /* sha1 -> md_mod_staple_t*, primed in the parent */
    apr_array_header_t *all;      /* md_mod_staple_t*, primed, in order */
    apr_pool_t *child_pool;       /* this process's additions (live certificates) */
    apr_hash_t *live_by_sha1;     /* sha1 -> md_mod_staple_t*, live ones this process met */
    apr_thread_mutex_t *mutex;    /* the caches and live_by_sha1, per process */
    volatile apr_uint32_t cancel; /* the process exits: the renewal stops */
    void *renewer;                /* mod_md_ocsp_renew.c's, NULL: none set up */
};

/* Whether stapling is on for the MD of mc->mds index i (MDStapling in its section, else
 * the global one); index -1: certificates of no MD (MDStapling and MDStapleOthers). */
int md_mod_stapling_on(const md_mod_conf_t *mc, int i);
/* MDStaplingRenewWindow / MDStaplingKeepResponse, the defaults when unset. */
const md_timeslice_t *md_mod_stapling_window(const md_mod_conf_t *mc, apr_pool_t *p);
apr_interval_time_t md_mod_stapling_keep(const md_mod_conf_t *mc);

/* The staples of the live set of the MD of index i in this process (md_mod_staple_t*, made
 * once per certificate), empty when it presents none or stapling is off for it. */
apr_array_header_t *md_mod_ocsp_live_staples(md_mod_ocsp_t *ocsp, int i, apr_pool_t *p);

/* The leaf and issuer of each certificate of the live set of MD i that this process
 * presents (loading it when the driver published a newer one): pairs of md_cert_t* in p. */
apr_array_header_t *md_mod_live_pairs(md_mod_conf_t *mc, int i, apr_pool_t *p);

/* The sum of the live generations of all MDs: it changes whenever a set goes live. */
apr_uint32_t md_mod_live_gens(const md_mod_conf_t *mc);

/* Sets up the background renewal of the staples (a child singleton watchdog). post_config. */
void md_mod_ocsp_renew_setup(md_mod_ocsp_t *ocsp, server_rec *s, apr_pool_t *pconf);

/* In each child: the renewal stops when the child exits. */
void md_mod_ocsp_renew_child_init(md_mod_ocsp_t *ocsp, apr_pool_t *pchild);

/* The file of a store entry's last renewal (the bundled module's name). */
#define MD_MOD_OCSP_JOB "job.json"

/* md-status of the MD of index i (j): "stapling", "ocsp" for each of its "certificates" that is
 * stapled (status, valid from/until, renew-at, the entry's last renewal), and the same of every
 * stapled certificate of the MD, with its serial, in an "ocsp" array of the MD. */
void md_mod_ocsp_status_add(md_mod_conf_t *mc, int i, md_json_t *j, apr_pool_t *p);

#endif

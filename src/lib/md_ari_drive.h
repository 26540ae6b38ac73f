/* md_ari_drive.h: what the renewal job (md_drive.c) takes from ARI -- which certificate each
 * order replaces, and a newOrder that falls back to one without "replaces". Library-internal. */
#ifndef MD_ARI_DRIVE_H
#define MD_ARI_DRIVE_H

#include "md_ari.h"
#include "md_drive_job.h"

/* The ARI state of md for the job about to open (NULL: none, or ARI off for md). A staging/
 * that holds nothing but it -- no job started yet -- is cleared, quietly: the job starts on
 * an empty staging/ (a new certificate gets asked about anew). */
md_ari_state_t *md_ari_job_take(md_store_t *store, const md_t *md, apr_pool_t *p);

/* A job that has done nothing yet notes from the ARI state (NULL: none) which certificates its
 * orders replace: those the CA at ca_url answered renewal information for, so they are its. */
void md_ari_job_replaces(md_job_t *job, const md_ari_state_t *ari, const char *ca_url);

/* md_acme_order_new with req->replaces set from the job's note for key spec 'key'. When the CA
 * refuses the order for that (the certificate was replaced already, is not the CA's, ...),
 * the note is dropped and the order made once more without -- a renewal that only misses the
 * CA's favour (Let's Encrypt exempts ARI renewals from its limits) beats none. A busy,
 * rate-limiting or unreachable CA, or a refusal of the names or the profile, is no such
 * refusal. */
apr_status_t md_ari_order_new(md_acme_order_t **porder, md_acme_t *acme, md_acme_order_req_t *req,
                              md_job_t *job, const char *key, apr_pool_t *p);

#endif

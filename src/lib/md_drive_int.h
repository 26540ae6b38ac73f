/* md_drive_int.h: what the one-MD drive (md_drive.c) and the run of many at once
 * (md_drive_all.c) share; not for the faces. */
#ifndef MD_DRIVE_INT_H
#define MD_DRIVE_INT_H

#include <apr_thread_mutex.h>

#include "md_acme.h"
#include "md_drive.h"

/* What jobs running together share about accounts. They choose one at a time, so that MDs new
 * to a CA share the account the first one registers; and an account the CA confirmed during
 * this run is used as it is by the others, without asking the CA about it again for each MD
 * (one request less per MD, and none made while holding the lock). */
typedef struct {
    apr_thread_mutex_t *lock;
    apr_pool_t *p;        /* for the strings below; used under lock only */
    const char *ca_url;   /* the CA that confirmed the account below, NULL: none yet */
    const char *id;       /* that account's id in accounts/ */
    const char *eab_kid;  /* the EAB key id it is bound to, NULL: none */
    md_acme_acct_t *acct; /* and, once a job has used it, the account and its key as loaded */
    md_pkey_t *key;       /* (read-only from then on: signing with one key is thread-safe) */
} md_drive_accts_t;

/* What one worker thread keeps from one MD to the next: its client of the CA (connection, TLS
 * session, directory, a nonce), so that an MD does not pay a handshake and two requests
 * before its first real one. */
typedef struct {
    apr_pool_t *p;     /* the thread's own; outlives the jobs */
    md_acme_t *acme;   /* NULL until the first job */
    const char *proxy; /* the proxy acme goes through, NULL: none of ours */
} md_drive_conn_t;

/* One MD's drive (md_drive's work): accts shared with the drives running beside it, conn the
 * worker thread's CA client; both NULL for a drive on its own. */
apr_status_t md_drive_one(md_reg_t *reg, const md_t *md, const md_drive_opts_t *opts,
                          md_drive_accts_t *accts, md_drive_conn_t *conn, apr_pool_t *p);

/* Whether *cancel was set (NULL: never). */
int md_drive_cancelled(volatile apr_uint32_t *cancel);

#endif

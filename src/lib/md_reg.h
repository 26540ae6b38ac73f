/* md_reg.h: the registry of managed domains kept in a store -- add, update, remove, list,
 * and the state of each MD computed from its certificates and keys. */
#ifndef MD_REG_H
#define MD_REG_H

#include "md.h"
#include "md_store.h"

typedef struct md_reg_t md_reg_t;

apr_status_t md_reg_create(md_reg_t **preg, md_store_t *store, apr_pool_t *p);
md_store_t *md_reg_store(md_reg_t *reg);

/* The drives' failures as this process remembers them beside job.json, so that the backoff
 * holds when job.json cannot be written (a full disk): the failure count and next try of the
 * MD's last drive; errors 0 forgets them (the drive succeeded). Thread-safe. */
void md_reg_failure_note(md_reg_t *reg, const char *name, apr_time_t next_try, int errors);
/* The failure count remembered for name (0: none), its next try in *pnext_try. */
int md_reg_failure_get(md_reg_t *reg, const char *name, apr_time_t *pnext_try);

/* Adds md (its domains are checked and normalised, name = first domain unless set). Refused
 * with APR_EINVAL for an invalid name, APR_EEXIST when the name or one of its domains is
 * already managed (the log names the MD that has it). */
apr_status_t md_reg_add(md_reg_t *reg, md_t *md, apr_pool_t *p);

/* APR_ENOENT (logged) when there is no such MD; APR_EINVAL when its md.json is corrupt
 * (logged with the path; the file is left alone). The state is computed. */
apr_status_t md_reg_get(md_t **pmd, md_reg_t *reg, const char *name, apr_pool_t *p);

/* All MDs sorted by name, states computed. Fails on the first corrupt md.json. */
apr_status_t md_reg_list(apr_array_header_t **pmds, md_reg_t *reg, apr_pool_t *p);

/* The MD that manages domain, or APR_ENOENT (not logged). */
apr_status_t md_reg_find(md_t **pmd, md_reg_t *reg, const char *domain, apr_pool_t *p);

/* Replaces the stored MD of that name with md (same checks as add, excluding itself). The
 * name cannot change; when md's domains no longer contain the name, the MD keeps its name. */
apr_status_t md_reg_update(md_reg_t *reg, const char *name, md_t *md, apr_pool_t *p);

/* Moves domains/<name> to the archive and drops its staged job. *parchived names the archive
 * entry. APR_ENOENT when there is no such MD. */
apr_status_t md_reg_remove(const char **parchived, md_reg_t *reg, const char *name, apr_pool_t *p);

/* Makes the store match the configuration, without any network traffic: MDs of 'mds' (md_t*,
 * settings merged) that the store lacks are added; stored ones are updated with the
 * configured settings, keeping what only the store knows (the CA account). A stored MD that
 * is no longer configured stays where it is, unused -- unless a configured MD now claims one
 * of its names: then, when the configured MD has no entry of its own yet, the old entry is
 * renamed to it (keeping its certificates), else the old entry is archived. Only root's groups
 * are written (domains/, archive/), under root's lock. On return each md in mds has its state
 * computed. */
apr_status_t md_reg_sync(md_reg_t *reg, apr_array_header_t *mds, apr_pool_t *p);

/* An entry of staging/ or live/ that belongs to no MD of the registry (there is no
 * domains/<name>): what sync leaves behind when it renames or archives an MD, since it writes
 * root's groups only -- those are the User's; or an entry of challenges/ unchanged for
 * MD_REG_CHALLENGE_STALE (the answers of a drive that failed or was killed). Whoever holds the
 * User's lock may purge it. */
#define MD_REG_CHALLENGE_STALE apr_time_from_sec(3600)
typedef struct {
    md_store_group_t group;
    const char *name;
} md_reg_stray_t;

/* The strays of the store, md_reg_stray_t each. */
apr_status_t md_reg_strays(apr_array_header_t **pstrays, md_reg_t *reg, apr_pool_t *p);

/* What a certificate of an MD, for one key spec, looks like in a group (domains, staging). */
typedef struct {
    const md_pkey_spec_t *spec;
    const char *spec_name; /* "rsa2048" */
    int present;           /* a certificate file is there */
    md_state_t state;      /* of this certificate alone */
    const char *problem;   /* why it is not complete, NULL when it is */
    apr_time_t not_before, not_after;
    apr_time_t renew_at, warn_at; /* start of the renew / warn window */
    const char *subject, *issuer, *serial, *fingerprint;
    apr_array_header_t *names;
    const char *profile; /* the profile the CA gave its order, NULL when not known */
    const char *ari_id;  /* its ARI identifier (RFC 9773 4.1), NULL when it has none */
} md_cert_info_t;

/* One md_cert_info_t* per key spec of md, read from group (MD_SG_DOMAINS or MD_SG_STAGING). */
apr_status_t md_reg_cert_infos(apr_array_header_t **pinfos, md_reg_t *reg, const md_t *md,
                               md_store_group_t group, apr_time_t now, apr_pool_t *p);

/* Sets md->state and md->state_descr from the certificates in domains/. */
void md_reg_compute_state(md_reg_t *reg, md_t *md, apr_time_t now, apr_pool_t *p);

/* The "certificates" member of the status JSON, from md_reg_cert_infos. */
md_json_t *md_reg_cert_infos_json(const apr_array_header_t *infos, apr_pool_t *p);
/* The bundled module's name of a certificate's key in "cert" members: "rsa" for RSA, else the
 * curve ("secp256r1"). */
const char *md_cert_info_key(const md_cert_info_t *info);
/* The bundled module's "cert" member: {"<key>": {"issuer-name", "valid": {"from", "until"},
 * "serial", "sha256-fingerprint"}, "valid": {...} (when all are valid)} of the certificates
 * that are there, times as md_time_http writes them. */
md_json_t *md_reg_cert_json(const apr_array_header_t *infos, apr_pool_t *p);

/* Status of one MD as JSON (what a2md -j list and the md-status handler show), with the
 * members and types of the bundled module's: md.json's fields ("state" and "renew-mode"
 * numbers, "state-descr"), "cert", "renew-at" (md_time_http), "renew", "renewal" (the job);
 * our own beside them: "state-name", "renew-mode-name", "certificates" per key spec,
 * "staging". installed: md_reg_cert_infos of domains/ when the caller has them already,
 * NULL: read here. */
apr_status_t md_reg_status_json(md_json_t **pj, md_reg_t *reg, const md_t *md,
                                const apr_array_header_t *installed, apr_time_t now, apr_pool_t *p);

#endif

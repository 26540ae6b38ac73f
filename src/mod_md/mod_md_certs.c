/* mod_md_certs.c: certificates for mod_ssl -- per vhost the MD's files (one per key spec with a
 * usable certificate), or a cached self-signed EC fallback while it has none; the ssl hooks. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_thread_proc.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_ssl.h>

#include "md_cert.h"
#include "mod_md.h"
#include "mod_md_config.h"

APLOG_USE_MODULE(md);

/* Fallback files in domains/<name>/; promoting a real set replaces the directory, and them. */
#define MD_MOD_FN_FALLBACK_KEY "fallback-privkey.pem"
#define MD_MOD_FN_FALLBACK_CERT "fallback-pubcert.pem"
#define MD_MOD_FALLBACK_CN "mod_md temporary certificate"
/* A fallback is only a crutch until the CA answers: short-lived, and made anew when less
 * than a day is left, so a server running for weeks without a CA never serves an expired one. */
#define MD_MOD_FALLBACK_VALID apr_time_from_sec(14 * 24 * 60 * 60)
#define MD_MOD_FALLBACK_MIN_LEFT apr_time_from_sec(24 * 60 * 60)
#define MD_MOD_FALLBACK_CURVE "secp256r1"

typedef struct {
    int has_cert;
    apr_array_header_t *cert_files, *key_files; /* const char*, in pconf */
} md_files_t;

static md_files_t *files_make(apr_pool_t *p)
{
    md_files_t *f = apr_pcalloc(p, sizeof(*f));

    f->cert_files = apr_array_make(p, 2, sizeof(const char *));
    f->key_files = apr_array_make(p, 2, sizeof(const char *));
    return f;
}

/* The MD's certificates in domains/, per key spec, that can be served: present and sound
 * (an expired one too: it is served until a new one is there). */
static void add_real_files(md_files_t *f, md_reg_t *reg, const md_t *md, apr_pool_t *pconf,
                           apr_pool_t *p)
{
    md_store_t *store = md_reg_store(reg);
    apr_array_header_t *infos;

    md_reg_cert_infos(&infos, reg, md, MD_SG_DOMAINS, apr_time_now(), p);
    for (int i = 0; i < infos->nelts; ++i) {
        const md_cert_info_t *info = APR_ARRAY_IDX(infos, i, const md_cert_info_t *);
        const char *suffix = md_pkey_spec_file_suffix(info->spec, p);
        if (!info->present || info->state == MD_S_ERROR) {
            continue;
        }
        APR_ARRAY_PUSH(f->cert_files, const char *) =
            md_store_path(store, MD_SG_DOMAINS, md->name,
                          apr_pstrcat(p, MD_FN_PUBCERT, suffix, ".pem", NULL), pconf);
        APR_ARRAY_PUSH(f->key_files, const char *) =
            md_store_path(store, MD_SG_DOMAINS, md->name,
                          apr_pstrcat(p, MD_FN_PRIVKEY, suffix, ".pem", NULL), pconf);
        f->has_cert = 1;
    }
}

/* ---- the fallback of one MD ---- */

static const char *fallback_path(md_store_t *store, const md_t *md, const char *fname,
                                 apr_pool_t *p)
{
    return md_store_path(store, MD_SG_DOMAINS, md->name, fname, p);
}

/* An existing fallback is reused when it covers the names and has time left. Its key is not
 * parsed (OpenSSL 3's decoders cost more than all the rest per MD): the key is always written
 * before its certificate, so a key newer than the certificate, or an empty one, is the trace
 * of an interrupted write, and a reason to make both anew. */
static int fallback_reusable(md_store_t *store, const md_t *md, apr_pool_t *p)
{
    apr_finfo_t key_fi, cert_fi;
    apr_array_header_t *chain;
    const char *err;
    md_cert_t *cert;

    if (apr_stat(&key_fi, fallback_path(store, md, MD_MOD_FN_FALLBACK_KEY, p),
                 APR_FINFO_MTIME | APR_FINFO_SIZE, p) != APR_SUCCESS ||
        apr_stat(&cert_fi, fallback_path(store, md, MD_MOD_FN_FALLBACK_CERT, p), APR_FINFO_MTIME,
                 p) != APR_SUCCESS ||
        key_fi.size == 0 || key_fi.mtime > cert_fi.mtime ||
        md_store_load_chain(&chain, &err, store, MD_SG_DOMAINS, md->name, MD_MOD_FN_FALLBACK_CERT,
                            p) != APR_SUCCESS ||
        chain->nelts < 1) {
        return 0;
    }
    cert = APR_ARRAY_IDX(chain, 0, md_cert_t *);
    return md_cert_names_equal(cert, md->domains, p) &&
           md_cert_not_after(cert) - apr_time_now() >= MD_MOD_FALLBACK_MIN_LEFT;
}

/* EC P-256: making one costs well under a millisecond, so 1000 MDs start in no time. */
static apr_status_t fallback_make(md_store_t *store, const md_t *md, apr_pool_t *p)
{
    md_pkey_spec_t spec = {MD_PKEY_EC, 0, MD_MOD_FALLBACK_CURVE};
    apr_array_header_t *chain = apr_array_make(p, 1, sizeof(md_cert_t *));
    const char *key_pem, *cert_pem;
    md_pkey_t *key;
    md_cert_t *cert;
    apr_status_t rv;

    if ((rv = md_pkey_gen(&key, &spec, p)) != APR_SUCCESS ||
        (rv = md_cert_self_signed(&cert, MD_MOD_FALLBACK_CN, md->domains, key,
                                  MD_MOD_FALLBACK_VALID, p)) != APR_SUCCESS) {
        return rv;
    }
    APR_ARRAY_PUSH(chain, md_cert_t *) = cert;
    if ((rv = md_pkey_to_pem(&key_pem, key, NULL, 0, p)) != APR_SUCCESS ||
        (rv = md_chain_to_pem(&cert_pem, chain, p)) != APR_SUCCESS) {
        return rv;
    }
    /* the key first (see fallback_reusable); keys are for root's eyes only */
    /* not synced: one lost or torn in a crash is not reusable and is made again */
    if ((rv = md_file_write_atomic_ex(fallback_path(store, md, MD_MOD_FN_FALLBACK_KEY, p), key_pem,
                                      strlen(key_pem), APR_FPROT_UREAD | APR_FPROT_UWRITE, 0, p)) !=
        APR_SUCCESS) {
        return rv;
    }
    return md_file_write_atomic_ex(
        fallback_path(store, md, MD_MOD_FN_FALLBACK_CERT, p), cert_pem, strlen(cert_pem),
        APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD | APR_FPROT_WREAD, 0, p);
}

/* ---- fallbacks for many MDs at once ---- */

/* Making a fallback is bound by fsync (two atomic file writes), not by the CPU: several threads
 * let the file system commit them together, which matters for a first start with 1000 MDs. */
#define MD_MOD_FALLBACK_THREADS 8

typedef struct {
    server_rec *base;
    md_store_t *store;
    const md_t *const *mds; /* the MDs that need a fallback */
    apr_status_t *results;  /* one per MD */
    apr_uint32_t n, next;   /* next: the index the next free thread takes */
} fallback_batch_t;

static apr_status_t fallback_ensure(fallback_batch_t *batch, const md_t *md, apr_pool_t *p)
{
    apr_status_t rv;

    if (fallback_reusable(batch->store, md, p)) {
        return APR_SUCCESS;
    }
    if ((rv = fallback_make(batch->store, md, p)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, batch->base,
                     "MD %s: cannot make its temporary certificate in %s (%s)", md->name,
                     md_store_path(batch->store, MD_SG_DOMAINS, md->name, NULL, p),
                     md_crypt_last_error(p));
        return rv;
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, batch->base, "MD %s: made a temporary certificate",
                 md->name);
    return APR_SUCCESS;
}

/* Each thread takes the next MD until none is left; it has a pool of its own, as APR pools
 * are not shared between threads. */
static void *APR_THREAD_FUNC fallback_worker(apr_thread_t *thread, void *data)
{
    fallback_batch_t *batch = data;
    apr_pool_t *p;
    apr_uint32_t i;

    (void) thread;
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        return NULL; /* the MDs it would have taken stay APR_ENOMEM */
    }
    while ((i = apr_atomic_inc32(&batch->next)) < batch->n) {
        batch->results[i] = fallback_ensure(batch, batch->mds[i], p);
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    return NULL;
}

static void fallbacks_ensure(fallback_batch_t *batch, apr_pool_t *p)
{
    apr_thread_t *threads[MD_MOD_FALLBACK_THREADS];
    apr_status_t ignored;
    int started = 0;

    for (apr_uint32_t i = 0; i < batch->n; ++i) {
        batch->results[i] = APR_ENOMEM;
    }
    while (batch->n > 1 && started < MD_MOD_FALLBACK_THREADS && (apr_uint32_t) started < batch->n &&
           apr_thread_create(&threads[started], NULL, fallback_worker, batch, p) == APR_SUCCESS) {
        ++started;
    }
    if (started == 0) {
        fallback_worker(NULL, batch); /* one MD, or no threads to be had: do it here */
    }
    for (int t = 0; t < started; ++t) {
        apr_thread_join(&ignored, threads[t]);
    }
}

/* ---- per vhost ---- */

static md_files_t *md_files(const md_mod_mdef_t *mdef, md_reg_t *reg, const md_t *md,
                            apr_pool_t *pconf, apr_pool_t *p)
{
    md_files_t *f = files_make(pconf);

    if (mdef->cert_file) {
        APR_ARRAY_PUSH(f->cert_files, const char *) = mdef->cert_file;
        APR_ARRAY_PUSH(f->key_files, const char *) = mdef->key_file;
        f->has_cert = 1;
    } else {
        add_real_files(f, reg, md, pconf, p);
    }
    return f;
}

apr_status_t md_mod_certs_setup(server_rec *base, md_mod_conf_t *mc, apr_pool_t *pconf,
                                apr_pool_t *ptemp)
{
    md_store_t *store = md_reg_store(mc->reg);
    apr_hash_t *by_md = apr_hash_make(ptemp), *used = apr_hash_make(ptemp);
    apr_array_header_t *todo = apr_array_make(ptemp, 10, sizeof(const md_t *));
    fallback_batch_t batch;
    apr_pool_t *p;

    for (server_rec *s = base; s; s = s->next) {
        const md_t *md = md_mod_srv_get(s)->md;
        if (md) {
            apr_hash_set(used, md->name, APR_HASH_KEY_STRING, md);
        }
    }
    apr_pool_create(&p, ptemp);
    /* mds were made from mdefs one to one, in the same order (mod_md_assemble.c) */
    for (int i = 0; i < mc->mds->nelts; ++i) {
        const md_t *md = APR_ARRAY_IDX(mc->mds, i, const md_t *);
        const md_mod_mdef_t *mdef = APR_ARRAY_IDX(mc->mdefs, i, const md_mod_mdef_t *);
        md_files_t *f;

        apr_pool_clear(p);
        if (!apr_hash_get(used, md->name, APR_HASH_KEY_STRING)) {
            continue;
        }
        f = md_files(mdef, mc->reg, md, pconf, p);
        if (!f->has_cert) {
            APR_ARRAY_PUSH(todo, const md_t *) = md;
        }
        apr_hash_set(by_md, md->name, APR_HASH_KEY_STRING, f);
    }
    apr_pool_destroy(p);

    batch = (fallback_batch_t){
        base, store, (const md_t *const *) todo->elts, NULL, (apr_uint32_t) todo->nelts, 0};
    batch.results = apr_pcalloc(ptemp, sizeof(apr_status_t) * (todo->nelts + 1));
    fallbacks_ensure(&batch, ptemp);
    for (int i = 0; i < todo->nelts; ++i) {
        const md_t *md = APR_ARRAY_IDX(todo, i, const md_t *);
        md_files_t *f = apr_hash_get(by_md, md->name, APR_HASH_KEY_STRING);
        if (batch.results[i] != APR_SUCCESS) {
            return batch.results[i];
        }
        APR_ARRAY_PUSH(f->cert_files, const char *) =
            md_store_path(store, MD_SG_DOMAINS, md->name, MD_MOD_FN_FALLBACK_CERT, pconf);
        APR_ARRAY_PUSH(f->key_files, const char *) =
            md_store_path(store, MD_SG_DOMAINS, md->name, MD_MOD_FN_FALLBACK_KEY, pconf);
    }

    for (server_rec *s = base; s; s = s->next) {
        md_mod_srv_t *srv = md_mod_srv_get(s);
        const md_files_t *f =
            srv->md ? apr_hash_get(by_md, srv->md->name, APR_HASH_KEY_STRING) : NULL;
        srv->has_cert = f ? f->has_cert : 0;
        srv->cert_files = f ? f->cert_files : NULL;
        srv->key_files = f ? f->key_files : NULL;
    }
    return APR_SUCCESS;
}

/* ---- the hooks mod_ssl calls for each vhost it configures ---- */

static int push_files(const md_mod_srv_t *srv, apr_array_header_t *cert_files,
                      apr_array_header_t *key_files)
{
    apr_array_cat(cert_files, srv->cert_files);
    apr_array_cat(key_files, srv->key_files);
    return OK;
}

/* The fallback goes to mod_ssl as an ordinary certificate, not through
 * ssl_add_fallback_cert_files: mod_ssl would mark the vhost as unavailable for the whole server
 * generation and answer 503 itself even after a live set is presented. The module answers 503
 * while the vhost has nothing better (mod_md_http.c). */
static int add_cert_files(server_rec *s, apr_pool_t *p, apr_array_header_t *cert_files,
                          apr_array_header_t *key_files)
{
    const md_mod_srv_t *srv = md_mod_srv_get(s);

    (void) p;
    if (!srv || !srv->md || !srv->cert_files) {
        return DECLINED;
    }
    if (srv->has_cert) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "MD %s: certificate(s) %s for vhost %s",
                     srv->md->name, md_array_str_join(srv->cert_files, ", ", p),
                     s->server_hostname);
    } else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     "MD %s has no certificate yet: vhost %s serves a temporary one (and "
                     "answers 503) until the CA issues it",
                     srv->md->name, s->server_hostname);
    }
    return push_files(srv, cert_files, key_files);
}

void md_mod_certs_hooks(void)
{
    ap_hook_ssl_add_cert_files(add_cert_files, NULL, NULL, APR_HOOK_MIDDLE);
}

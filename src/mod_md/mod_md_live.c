/* mod_md_live.c: live activation -- a set the driver published in live/ is presented at every
 * worker's next TLS handshake, without a restart: a counter per MD in shared memory tells. */
#include <unistd.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_optional_hooks.h>

#include "md_cert.h"
#include "md_plan.h"
#include "md_util.h"
#include "mod_md.h"
#include "mod_md_ocsp.h"

APLOG_USE_MODULE(md);

/* mod_ssl calls this optional hook for each SSL_CTX it made (one per vhost), after setting it
 * up; apache2-dev ships no mod_ssl_openssl.h, so its type is declared here, as mod_ssl has it. */
typedef int ssl_HOOK_init_server_t(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx);

/* After a failed load (a publish racing the read, say), a process tries again after this. */
#define MD_MOD_LIVE_RETRY apr_time_from_sec(1)

/* A set as one process loaded it: per key spec the leaf, its intermediates and the key. */
typedef struct {
    int n;
    const md_cert_t **certs; /* the leafs, for logs and status */
    X509 **leafs;
    STACK_OF(X509) * *chains;
    EVP_PKEY **keys;
} md_mod_live_set_t;

/* One MD in one process. 'loaded' and 'set' are read by every handshake thread without a
 * lock (atomics) and written under the process's mutex only; a set once published is never
 * freed before the process ends, so a thread may go on using one that was replaced. */
typedef struct {
    volatile apr_uint32_t loaded; /* the generation this process presents, 0: none */
    volatile void *set;           /* md_mod_live_set_t*, NULL: the static certificates */
    apr_time_t retry_at;          /* no new load attempt before (under the mutex) */
} md_mod_live_md_t;

struct md_mod_live_t {
    md_mod_conf_t *mc;
    server_rec *s;
    int n;                       /* MDs, as in mc->mds */
    volatile apr_uint32_t *gens; /* shared memory: per MD, bumped by the driver */
    md_mod_live_md_t *mds;       /* this process's: a copy per child after fork */
    apr_pool_t *pool;            /* this process's sets (a child pool), NULL in the parent */
    apr_thread_mutex_t *mutex;   /* loads, one at a time per process */
};

/* ---- setup in the parent ---- */

apr_status_t md_mod_live_setup(md_mod_conf_t *mc, server_rec *base, apr_pool_t *pconf)
{
    md_mod_live_t *live = apr_pcalloc(pconf, sizeof(*live));
    apr_hash_t *index = apr_hash_make(pconf);
    apr_shm_t *shm;
    apr_status_t rv;

    live->mc = mc;
    live->s = base;
    live->n = mc->mds->nelts;
    live->mds = apr_pcalloc(pconf, sizeof(*live->mds) * (apr_size_t) (live->n + 1));
    for (int i = 0; i < live->n; ++i) {
        apr_hash_set(index, APR_ARRAY_IDX(mc->mds, i, const md_t *)->name, APR_HASH_KEY_STRING,
                     &live->mds[i]);
    }
    for (server_rec *s = base; s; s = s->next) {
        md_mod_srv_t *srv = md_mod_srv_get(s);
        const md_mod_live_md_t *m =
            srv->md ? apr_hash_get(index, srv->md->name, APR_HASH_KEY_STRING) : NULL;
        srv->md_index = m ? (int) (m - live->mds) : -1;
    }
    /* anonymous: the children of this generation inherit it, the next generation makes its own */
    rv = apr_shm_create(&shm, sizeof(apr_uint32_t) * (apr_size_t) (live->n + 1), NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, base,
                     "cannot make the shared memory for live activation: renewed certificates "
                     "go live at the next graceful restart only");
        return rv;
    }
    live->gens = apr_shm_baseaddr_get(shm);
    for (int i = 0; i < live->n; ++i) {
        live->gens[i] = 0;
    }
    mc->live = live;
    return APR_SUCCESS;
}

void md_mod_live_bump(md_mod_conf_t *mc, int i)
{
    if (mc->live && i >= 0 && i < mc->live->n) {
        apr_atomic_inc32(&mc->live->gens[i]);
    }
}

int md_mod_live_published(const md_mod_conf_t *mc, int i)
{
    return mc->live && i >= 0 && i < mc->live->n ? (int) apr_atomic_read32(&mc->live->gens[i]) : 0;
}

int md_mod_live_presented(const md_mod_conf_t *mc, int i)
{
    return mc->live && i >= 0 && i < mc->live->n && apr_atomic_read32(&mc->live->gens[i]) > 0;
}

apr_uint32_t md_mod_live_gens(const md_mod_conf_t *mc)
{
    apr_uint32_t sum = 0;

    for (int i = 0; mc->live && i < mc->live->n; ++i) {
        sum += apr_atomic_read32(&mc->live->gens[i]);
    }
    return sum;
}

int md_mod_srv_has_cert(const md_mod_srv_t *srv)
{
    return srv->has_cert || md_mod_live_presented(srv->mc, srv->md_index);
}

/* ---- loading a set, once per process and generation ---- */

static apr_status_t set_cleanup(void *data)
{
    md_mod_live_set_t *set = data;

    for (int i = 0; i < set->n; ++i) {
        sk_X509_free(set->chains[i]); /* the certificates belong to their md_cert_t */
    }
    return APR_SUCCESS;
}

/* live/<name> of md into p, each key checked against its certificate (md_plan_load_set). */
static apr_status_t set_load(md_mod_live_set_t **pset, const char **pwhy, md_mod_live_t *live,
                             const md_t *md, apr_pool_t *p)
{
    md_mod_live_set_t *set = apr_pcalloc(p, sizeof(*set));
    apr_array_header_t *entries;
    apr_status_t rv;

    rv = md_plan_load_set(&entries, pwhy, live->mc->reg, md, MD_SG_LIVE, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    set->certs = apr_pcalloc(p, sizeof(md_cert_t *) * (apr_size_t) entries->nelts);
    set->leafs = apr_pcalloc(p, sizeof(X509 *) * (apr_size_t) entries->nelts);
    set->chains = apr_pcalloc(p, sizeof(STACK_OF(X509) *) * (apr_size_t) entries->nelts);
    set->keys = apr_pcalloc(p, sizeof(EVP_PKEY *) * (apr_size_t) entries->nelts);
    apr_pool_cleanup_register(p, set, set_cleanup, apr_pool_cleanup_null);
    for (int i = 0; i < entries->nelts; ++i) {
        const md_set_entry_t *e = APR_ARRAY_IDX(entries, i, const md_set_entry_t *);
        STACK_OF(X509) *chain = sk_X509_new_null();
        if (!chain) {
            return APR_ENOMEM;
        }
        set->chains[set->n] = chain;
        set->certs[set->n] = APR_ARRAY_IDX(e->chain, 0, const md_cert_t *);
        set->leafs[set->n] = md_cert_x509(set->certs[set->n]);
        set->keys[set->n] = md_pkey_evp(e->key);
        ++set->n;
        for (int j = 1; j < e->chain->nelts; ++j) {
            if (!sk_X509_push(chain, md_cert_x509(APR_ARRAY_IDX(e->chain, j, const md_cert_t *)))) {
                return APR_ENOMEM;
            }
        }
    }
    *pset = set;
    return APR_SUCCESS;
}

static const char *set_serials(const md_mod_live_set_t *set, apr_pool_t *p)
{
    apr_array_header_t *serials = apr_array_make(p, set->n, sizeof(const char *));

    for (int i = 0; i < set->n; ++i) {
        APR_ARRAY_PUSH(serials, const char *) = md_cert_serial_hex(set->certs[i], p);
    }
    return md_array_str_join(serials, ", ", p);
}

static void live_load(md_mod_live_t *live, int i)
{
    md_mod_live_md_t *m = &live->mds[i];
    const md_t *md = APR_ARRAY_IDX(live->mc->mds, i, const md_t *);
    md_mod_live_set_t *set = NULL;
    const char *why = NULL;
    apr_uint32_t gen;
    apr_pool_t *p;
    apr_status_t rv;

    if (!live->mutex || apr_thread_mutex_lock(live->mutex) != APR_SUCCESS) {
        return; /* the parent, or a process without its mutex: the static certificates */
    }
    gen = apr_atomic_read32(&live->gens[i]);
    if (gen == apr_atomic_read32(&m->loaded) || apr_time_now() < m->retry_at) {
        goto done; /* another thread was first, or a failure is too recent */
    }
    if ((rv = apr_pool_create(&p, live->pool)) != APR_SUCCESS) {
        goto done;
    }
    if ((rv = set_load(&set, &why, live, md, p)) != APR_SUCCESS) {
        m->retry_at = apr_time_now() + MD_MOD_LIVE_RETRY;
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, live->s,
                     "MD %s: cannot load its live certificate set (%s); this process keeps "
                     "presenting the previous one and tries again in %s",
                     md->name, why ? why : "see above", md_duration_format(MD_MOD_LIVE_RETRY, p));
        apr_pool_destroy(p);
        goto done;
    }
    apr_atomic_xchgptr(&m->set, set);
    apr_atomic_set32(&m->loaded, gen);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, live->s,
                 "MD %s: process %ld presents its new certificate (serial %s) from now on",
                 md->name, (long) getpid(), set_serials(set, p));
done:
    apr_thread_mutex_unlock(live->mutex);
}

/* ---- what the stapling asks ---- */

apr_array_header_t *md_mod_live_pairs(md_mod_conf_t *mc, int i, apr_pool_t *p)
{
    apr_array_header_t *pairs = apr_array_make(p, 4, sizeof(const md_cert_t *));
    md_mod_live_t *live = mc->live;
    const md_mod_live_set_t *set;
    X509 *issuer;

    if (!live || i < 0 || i >= live->n || !apr_atomic_read32(&live->gens[i])) {
        return pairs;
    }
    if (apr_atomic_read32(&live->gens[i]) != apr_atomic_read32(&live->mds[i].loaded)) {
        live_load(live, i);
    }
    set = (const md_mod_live_set_t *) __atomic_load_n(&live->mds[i].set, __ATOMIC_ACQUIRE);
    for (int k = 0; set && k < set->n; ++k) {
        if (sk_X509_num(set->chains[k]) > 0 && (issuer = sk_X509_value(set->chains[k], 0)) &&
            X509_up_ref(issuer)) {
            APR_ARRAY_PUSH(pairs, const md_cert_t *) = set->certs[k];
            APR_ARRAY_PUSH(pairs, const md_cert_t *) = md_cert_wrap(issuer, p);
        }
    }
    return pairs;
}

/* ---- the handshake ---- */

/* OpenSSL calls this after mod_ssl picked the vhost's SSL_CTX by SNI, before it chooses the
 * certificate: the process's live set of the vhost's MD replaces the static ones, one
 * certificate per key type, so that each client gets the type it supports. Without news: one
 * atomic read. */
static int live_cert_cb(SSL *ssl, void *arg)
{
    const md_mod_srv_t *srv = arg;
    md_mod_live_t *live = srv->mc->live;
    const md_mod_live_set_t *set;
    md_mod_live_md_t *m;
    int i = srv->md_index;

    if (!live || i < 0 || i >= live->n) {
        return 1;
    }
    m = &live->mds[i];
    if (apr_atomic_read32(&live->gens[i]) != apr_atomic_read32(&m->loaded)) {
        live_load(live, i);
    }
    /* a plain acquire load: the set was published by apr_atomic_xchgptr (a full barrier) */
    if ((set = (const md_mod_live_set_t *) __atomic_load_n(&m->set, __ATOMIC_ACQUIRE)) != NULL) {
        /* the static ones go first: a key type the live set lacks (an EC temporary certificate
         * beside a live RSA one) would otherwise still be chosen by clients that prefer it */
        SSL_certs_clear(ssl);
        for (int k = 0; k < set->n; ++k) {
            if (!SSL_use_cert_and_key(ssl, set->leafs[k], set->keys[k], set->chains[k], 1)) {
                return 0; /* the handshake fails rather than present a broken pair */
            }
        }
    }
    return 1;
}

static int live_init_server(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx)
{
    md_mod_srv_t *srv = md_mod_srv_get(s);

    if (!is_proxy && srv && srv->md) {
        md_mod_ip_check_first_vhost(s, p);
    }
    if (!is_proxy && srv && srv->md && srv->mc->live && srv->md_index >= 0) {
        SSL_CTX_set_cert_cb(ctx, live_cert_cb, srv);
        ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, s, "MD %s: live activation on vhost %s",
                     srv->md->name, s->server_hostname);
    }
    return DECLINED;
}

static void live_child_init(apr_pool_t *pchild, server_rec *s)
{
    md_mod_srv_t *srv = md_mod_srv_get(s);
    md_mod_live_t *live = srv && srv->mc ? srv->mc->live : NULL;

    if (live && apr_pool_create(&live->pool, pchild) == APR_SUCCESS &&
        apr_thread_mutex_create(&live->mutex, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS) {
        live->mutex = NULL;
    }
}

void md_mod_live_hooks(void)
{
    APR_OPTIONAL_HOOK(ssl, init_server, live_init_server, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(live_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}

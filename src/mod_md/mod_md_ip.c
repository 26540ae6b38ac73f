/* mod_md_ip.c: vhosts of MDs that name IP addresses. A client connecting to an address sends no
 * SNI (RFC 6066 3), so mod_ssl answers with the first vhost of that address:port: say so. */
#include <string.h>

#include <apr_network_io.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_log.h>
#include <http_main.h>
#include <http_core.h>

#include "md_util.h"
#include "mod_md.h"

APLOG_USE_MODULE(md);

/* The address of one <VirtualHost addr:port> in canonical text, "" for a wildcard (*). */
static const char *addr_text(const server_addr_rec *a, apr_pool_t *p)
{
    const char *norm;
    char *ip = NULL;

    if (!a->host_addr || apr_sockaddr_is_wildcard(a->host_addr) ||
        apr_sockaddr_ip_get(&ip, a->host_addr) != APR_SUCCESS ||
        md_ip_normalise(&norm, ip, p) != APR_SUCCESS) {
        return "";
    }
    return norm;
}

/* Whether vhost s is for ip:port (port 0: any port), by that address (exact) or by '*'. */
static int vhost_at(const server_rec *s, const char *ip, apr_port_t port, int exact, apr_pool_t *p)
{
    for (const server_addr_rec *a = s->addrs; a; a = a->next) {
        const char *text = addr_text(a, p);
        if ((!a->host_port || !port || a->host_port == port) &&
            (exact ? !strcmp(text, ip) : !*text)) {
            return 1;
        }
    }
    return 0;
}

/* The vhost httpd picks for a connection to ip:port before any name is known: the first one
 * in the config for that address, else the first one for '*'. httpd's list of servers runs
 * in reverse config order (each <VirtualHost> is put in front), so that is the last one. */
static const server_rec *first_vhost_at(int *pexact, const char *ip, apr_port_t port, apr_pool_t *p)
{
    const server_rec *first = NULL;

    for (*pexact = 1; *pexact >= 0; --*pexact) {
        for (const server_rec *s = ap_server_conf; s; s = s->next) {
            if (s->is_virtual && vhost_at(s, ip, port, *pexact, p)) {
                first = s;
            }
        }
        if (first) {
            return first;
        }
    }
    return NULL;
}

/* exact: first is a vhost of the address itself (else of '*'). */
static void warn_shadowed(server_rec *s, const char *ip, const server_addr_rec *a,
                          const server_rec *first, int exact, apr_pool_t *p)
{
    const char *host = strchr(ip, ':') ? apr_pstrcat(p, "[", ip, "]", NULL) : ip;

    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 "MD %s names the IP address %s, but vhost %s (%s:%u) that uses it is not the "
                 "first vhost for %s:%u: clients connecting to that address send no SNI and get "
                 "the certificate of vhost %s (%s:%u), where a tls-alpn-01 validation of the "
                 "address lands too; move the vhost of the MD before it%s",
                 md_mod_srv_get(s)->md->name, ip, s->server_hostname ? s->server_hostname : "-",
                 s->defn_name ? s->defn_name : "?", s->defn_line_number, ip, a->host_port,
                 first->server_hostname ? first->server_hostname : "-",
                 first->defn_name ? first->defn_name : "?", first->defn_line_number,
                 exact ? ""
                       : apr_psprintf(p, ", or give it a <VirtualHost %s:%u> of its own", host,
                                      a->host_port));
}

void md_mod_ip_check_first_vhost(server_rec *s, apr_pool_t *pconf)
{
    const md_t *md = md_mod_srv_get(s)->md;
    const server_rec *first;
    apr_pool_t *p;
    int exact;

    /* once, in the round of the start that serves (httpd reads its config twice) */
    if (!md || !md_names_have_ip(md->domains) ||
        ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG ||
        apr_pool_create(&p, pconf) != APR_SUCCESS) {
        return;
    }
    for (int i = 0; i < md->domains->nelts; ++i) {
        const char *ip = APR_ARRAY_IDX(md->domains, i, const char *);
        if (!md_ip_is_addr(ip)) {
            continue;
        }
        for (const server_addr_rec *a = s->addrs; a; a = a->next) {
            const char *text = addr_text(a, p);
            if (*text && strcmp(text, ip)) {
                continue; /* this vhost is for another address: never reached at ip */
            }
            if ((first = first_vhost_at(&exact, ip, a->host_port, p)) != NULL && first != s) {
                warn_shadowed(s, ip, a, first, exact, p);
            }
        }
    }
    apr_pool_destroy(p);
}

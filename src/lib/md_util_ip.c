/* md_util_ip.c: IP addresses as names of an MD (RFC 8738): their canonical text, their bytes in
 * certificates, and the reverse-DNS names under which tls-alpn-01 validators ask for them. */
#include <arpa/inet.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "md_util.h"

/* The reverse-mapping zones (RFC 1035 3.5 for IPv4, RFC 3596 2.5 for IPv6), which RFC 8738
 * section 6 has validators send in SNI. */
#define MD_IP4_REVERSE_ZONE "in-addr.arpa"
#define MD_IP6_REVERSE_ZONE "ip6.arpa"
#define MD_IP4_LEN 4
#define MD_IP6_LEN 16
/* Bytes, decimal labels "255." and nibble labels "f." of a reverse name, with the zone. */
#define MD_IP_REVERSE_MAX (MD_IP6_LEN * 4 + sizeof(MD_IP6_REVERSE_ZONE))

/* The address in s, which may be an IPv6 literal in brackets as in URLs and Host headers
 * (RFC 3986 3.2.2); *plen 4 or 16. Zone ids ("fe80::1%eth0") are no address of a certificate. */
static int ip_parse(unsigned char *bin, apr_size_t *plen, const char *s, apr_pool_t *p)
{
    apr_size_t len = s ? strlen(s) : 0;

    if (len > 2 && s[0] == '[' && s[len - 1] == ']') {
        s = apr_pstrndup(p, s + 1, len - 2);
        if (inet_pton(AF_INET6, s, bin) == 1) {
            *plen = MD_IP6_LEN;
            return 1;
        }
        return 0;
    }
    if (len > 0 && inet_pton(AF_INET, s, bin) == 1) {
        *plen = MD_IP4_LEN;
        return 1;
    }
    if (len > 0 && inet_pton(AF_INET6, s, bin) == 1) {
        *plen = MD_IP6_LEN;
        return 1;
    }
    return 0;
}

apr_status_t md_ip_from_bin(const char **pip, const unsigned char *bin, apr_size_t len,
                            apr_pool_t *p)
{
    char buf[INET6_ADDRSTRLEN];

    *pip = NULL;
    if ((len != MD_IP4_LEN && len != MD_IP6_LEN) ||
        !inet_ntop(len == MD_IP4_LEN ? AF_INET : AF_INET6, bin, buf, sizeof(buf))) {
        return APR_EINVAL;
    }
    *pip = apr_pstrdup(p, buf);
    return APR_SUCCESS;
}

apr_status_t md_ip_normalise(const char **pip, const char *s, apr_pool_t *p)
{
    unsigned char bin[MD_IP_BIN_MAX];
    apr_size_t len;

    *pip = NULL;
    if (!ip_parse(bin, &len, s, p)) {
        return APR_EINVAL;
    }
    /* inet_ntop writes RFC 5952's form: lower case, the longest run of zero groups as "::" */
    return md_ip_from_bin(pip, bin, len, p);
}

int md_ip_is_addr(const char *s)
{
    unsigned char bin[MD_IP_BIN_MAX];

    return s && (inet_pton(AF_INET, s, bin) == 1 || inet_pton(AF_INET6, s, bin) == 1);
}

apr_status_t md_ip_to_bin(unsigned char *bin, apr_size_t *plen, const char *ip)
{
    if (ip && inet_pton(AF_INET, ip, bin) == 1) {
        *plen = MD_IP4_LEN;
        return APR_SUCCESS;
    }
    if (ip && inet_pton(AF_INET6, ip, bin) == 1) {
        *plen = MD_IP6_LEN;
        return APR_SUCCESS;
    }
    return APR_EINVAL;
}

apr_status_t md_ip_reverse_name(const char **pname, const char *ip, apr_pool_t *p)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char bin[MD_IP_BIN_MAX];
    char buf[MD_IP_REVERSE_MAX], *o = buf;
    apr_size_t len;

    *pname = NULL;
    if (md_ip_to_bin(bin, &len, ip) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    for (apr_size_t i = len; i-- > 0;) {
        if (len == MD_IP4_LEN) {
            o += apr_snprintf(o, sizeof(buf) - (apr_size_t) (o - buf), "%u.", bin[i]);
        } else {
            *o++ = hex[bin[i] & 0x0f];
            *o++ = '.';
            *o++ = hex[bin[i] >> 4];
            *o++ = '.';
        }
    }
    *o = '\0';
    *pname =
        apr_pstrcat(p, buf, len == MD_IP4_LEN ? MD_IP4_REVERSE_ZONE : MD_IP6_REVERSE_ZONE, NULL);
    return APR_SUCCESS;
}

/* The labels of name before ".zone" (case-insensitive, a final dot allowed), NULL when name is
 * not in zone. */
static char *labels_in_zone(const char *name, const char *zone, apr_pool_t *p)
{
    apr_size_t len = strlen(name), zlen = strlen(zone);

    if (len > 0 && name[len - 1] == '.') {
        --len;
    }
    if (len <= zlen + 1 || name[len - zlen - 1] != '.' ||
        strncasecmp(name + len - zlen, zone, zlen)) {
        return NULL;
    }
    return apr_pstrndup(p, name, len - zlen - 1);
}

/* "d.c.b.a" (decimal, no leading zeros) into bin, reversed. */
static int ip4_from_labels(unsigned char *bin, const char *labels)
{
    const char *s = labels;

    for (int i = MD_IP4_LEN - 1; i >= 0; --i) {
        unsigned v = 0;
        const char *start = s;
        for (; apr_isdigit(*s) && s - start < 3; ++s) {
            v = v * 10 + (unsigned) (*s - '0');
        }
        if (s == start || v > 255 || (s - start > 1 && *start == '0') ||
            *s != (i > 0 ? '.' : '\0')) {
            return 0;
        }
        bin[i] = (unsigned char) v;
        s += i > 0;
    }
    return 1;
}

/* 32 single hex digit labels, least significant nibble first, into bin. */
static int ip6_from_labels(unsigned char *bin, const char *labels)
{
    const char *s = labels;

    memset(bin, 0, MD_IP6_LEN);
    for (int n = 2 * MD_IP6_LEN - 1; n >= 0; --n) {
        int v;
        if (!apr_isxdigit(*s) || s[1] != (n > 0 ? '.' : '\0')) {
            return 0;
        }
        v = apr_isdigit(*s) ? *s - '0' : apr_tolower(*s) - 'a' + 10;
        bin[n / 2] |= (unsigned char) (n % 2 ? v : v << 4);
        s += n > 0 ? 2 : 1;
    }
    return 1;
}

apr_status_t md_ip_from_reverse_name(const char **pip, const char *name, apr_pool_t *p)
{
    unsigned char bin[MD_IP_BIN_MAX];
    const char *labels;

    *pip = NULL;
    if (!name) {
        return APR_EINVAL;
    }
    if ((labels = labels_in_zone(name, MD_IP4_REVERSE_ZONE, p)) != NULL &&
        ip4_from_labels(bin, labels)) {
        return md_ip_from_bin(pip, bin, MD_IP4_LEN, p);
    }
    if ((labels = labels_in_zone(name, MD_IP6_REVERSE_ZONE, p)) != NULL &&
        ip6_from_labels(bin, labels)) {
        return md_ip_from_bin(pip, bin, MD_IP6_LEN, p);
    }
    return APR_EINVAL;
}

int md_names_have_ip(const apr_array_header_t *names)
{
    for (int i = 0; names && i < names->nelts; ++i) {
        if (md_ip_is_addr(APR_ARRAY_IDX(names, i, const char *))) {
            return 1;
        }
    }
    return 0;
}

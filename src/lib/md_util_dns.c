/* md_util_dns.c: checks and normalises the domain names an operator gives (md_util.h), with a
 * hint in xn-- (punycode, RFC 3492) form when a name is not ASCII. */
#include <stdint.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "md_util.h"

/* ---- domain names ---- */

/* Punycode parameters, RFC 3492 section 5. */
#define PUNY_BASE 36
#define PUNY_TMIN 1
#define PUNY_TMAX 26
#define PUNY_SKEW 38
#define PUNY_DAMP 700
#define PUNY_INITIAL_BIAS 72
#define PUNY_INITIAL_N 0x80
/* The ACE prefix of IDNA labels, RFC 5890 section 2.3.2.5. */
#define IDNA_ACE_PREFIX "xn--"

/* Latin-1 capitals (U+00C0..U+00DE but U+00D7) are their small letter minus 0x20. */
#define LATIN1_UPPER_FIRST 0xC0
#define LATIN1_UPPER_LAST 0xDE
#define LATIN1_TIMES_SIGN 0xD7
#define LATIN1_CASE_DELTA 0x20

static apr_uint32_t puny_adapt(apr_uint32_t delta, apr_uint32_t numpoints, int first)
{
    apr_uint32_t k = 0;

    delta = first ? delta / PUNY_DAMP : delta / 2;
    delta += delta / numpoints;
    while (delta > ((PUNY_BASE - PUNY_TMIN) * PUNY_TMAX) / 2) {
        delta /= PUNY_BASE - PUNY_TMIN;
        k += PUNY_BASE;
    }
    return k + (((PUNY_BASE - PUNY_TMIN + 1) * delta) / (delta + PUNY_SKEW));
}

static char puny_digit(apr_uint32_t d)
{
    return (char) (d < 26 ? 'a' + d : '0' + (d - 26));
}

/* Decodes one UTF-8 label into code points (lower-casing ASCII and Latin-1 capitals, which
 * covers the common case of the hint). Returns the count, or -1 on malformed UTF-8. */
static int utf8_decode(apr_uint32_t *cps, const char *s, apr_size_t len)
{
    const unsigned char *u = (const unsigned char *) s;
    apr_size_t i = 0;
    int n = 0;

    while (i < len) {
        apr_uint32_t cp;
        int more;
        if (u[i] < 0x80) {
            cp = u[i];
            more = 0;
        } else if ((u[i] & 0xE0) == 0xC0) {
            cp = u[i] & 0x1F;
            more = 1;
        } else if ((u[i] & 0xF0) == 0xE0) {
            cp = u[i] & 0x0F;
            more = 2;
        } else if ((u[i] & 0xF8) == 0xF0) {
            cp = u[i] & 0x07;
            more = 3;
        } else {
            return -1;
        }
        for (++i; more > 0; --more, ++i) {
            if (i >= len || (u[i] & 0xC0) != 0x80) {
                return -1;
            }
            cp = (cp << 6) | (u[i] & 0x3F);
        }
        if (cp < 0x80) {
            cp = (apr_uint32_t) apr_tolower((int) cp);
        } else if (cp >= LATIN1_UPPER_FIRST && cp <= LATIN1_UPPER_LAST && cp != LATIN1_TIMES_SIGN) {
            cp += LATIN1_CASE_DELTA;
        }
        cps[n++] = cp;
    }
    return n;
}

/* RFC 3492 section 6.3 encoding of one label; NULL on malformed input. */
static const char *puny_encode_label(const char *label, apr_size_t len, apr_pool_t *p)
{
    apr_uint32_t *cps = apr_palloc(p, (len + 1) * sizeof(*cps));
    char *out = apr_palloc(p, len * 8 + 8), *o = out;
    apr_uint32_t n = PUNY_INITIAL_N, delta = 0, bias = PUNY_INITIAL_BIAS, h, b = 0;
    int i, count = utf8_decode(cps, label, len);

    if (count < 0) {
        return NULL;
    }
    for (i = 0; i < count; ++i) {
        if (cps[i] < PUNY_INITIAL_N) {
            *o++ = (char) cps[i];
            ++b;
        }
    }
    if (b == (apr_uint32_t) count) {
        *o = '\0';
        return out; /* pure ASCII: no ACE form */
    }
    if (b > 0) {
        *o++ = '-';
    }
    for (h = b; h < (apr_uint32_t) count;) {
        apr_uint32_t m = UINT32_MAX, k, q, t;
        for (i = 0; i < count; ++i) {
            if (cps[i] >= n && cps[i] < m) {
                m = cps[i];
            }
        }
        delta += (m - n) * (h + 1);
        n = m;
        for (i = 0; i < count; ++i) {
            if (cps[i] < n) {
                ++delta;
            } else if (cps[i] == n) {
                for (q = delta, k = PUNY_BASE;; k += PUNY_BASE) {
                    t = k <= bias ? PUNY_TMIN : (k >= bias + PUNY_TMAX ? PUNY_TMAX : k - bias);
                    if (q < t) {
                        break;
                    }
                    *o++ = puny_digit(t + (q - t) % (PUNY_BASE - t));
                    q = (q - t) / (PUNY_BASE - t);
                }
                *o++ = puny_digit(q);
                bias = puny_adapt(delta, h + 1, h == b);
                delta = 0;
                ++h;
            }
        }
        ++delta;
        ++n;
    }
    *o = '\0';
    return apr_pstrcat(p, IDNA_ACE_PREFIX, out, NULL);
}

/* The xn-- form of a UTF-8 name, as a hint for the operator; NULL when it is not UTF-8. */
static const char *idna_hint(const char *name, apr_pool_t *p)
{
    const char *hint = NULL, *start = name, *end;

    for (;;) {
        const char *label;
        end = strchr(start, '.');
        label = puny_encode_label(start, end ? (apr_size_t) (end - start) : strlen(start), p);
        if (!label) {
            return NULL;
        }
        hint = hint ? apr_pstrcat(p, hint, ".", label, NULL) : label;
        if (!end) {
            return hint;
        }
        start = end + 1;
    }
}

static int is_name_char(char c)
{
    return apr_isalnum(c) || c == '-' || c == '.' || c == '*';
}

/* Checks the labels of a lower-cased name with only allowed characters. */
static const char *check_labels(const char *name, apr_pool_t *p)
{
    const char *start = name, *end, *last = name;
    int nlabels = 0, all_digits;

    for (;; start = end + 1) {
        apr_size_t len;
        end = strchr(start, '.');
        len = end ? (apr_size_t) (end - start) : strlen(start);
        ++nlabels;
        last = start;
        if (len == 0) {
            return apr_psprintf(p, "'%s' contains an empty label", name);
        }
        if (memchr(start, '*', len) && (len != 1 || nlabels != 1)) {
            return apr_psprintf(p, "'%s': '*' is only allowed as the whole first label", name);
        }
        if (len > MD_DNS_LABEL_MAX) {
            return apr_psprintf(p, "'%s': label '%.*s' is longer than %d characters", name,
                                (int) len, start, MD_DNS_LABEL_MAX);
        }
        if (start[0] == '-' || start[len - 1] == '-') {
            return apr_psprintf(p, "'%s': label '%.*s' starts or ends with '-'", name, (int) len,
                                start);
        }
        if (!end) {
            break;
        }
    }
    if (nlabels < 2) {
        return apr_psprintf(p,
                            "'%s' is a single label: a domain name needs at least two "
                            "(like example.org)",
                            name);
    }
    for (all_digits = 1; *last; ++last) {
        all_digits = all_digits && apr_isdigit(*last);
    }
    if (all_digits) {
        return apr_psprintf(p, "'%s' ends in a numeric label, which no top-level domain has", name);
    }
    return NULL;
}

apr_status_t md_dns_name_check(const char **pnorm, const char **perr, const char *name,
                               apr_pool_t *p)
{
    const char *s;
    char *norm;
    apr_size_t len;

    *pnorm = NULL;
    *perr = NULL;
    if (!name || !*name) {
        *perr = "the domain name is empty";
        return APR_EINVAL;
    }
    for (s = name; *s; ++s) {
        if ((unsigned char) *s >= 0x80) {
            const char *hint = idna_hint(name, p);
            *perr = hint ? apr_psprintf(p,
                                        "'%s' is not ASCII: give the internationalised name "
                                        "in its xn-- form (e.g. %s)",
                                        name, hint)
                         : apr_psprintf(p, "'%s' is neither ASCII nor UTF-8", name);
            return APR_EINVAL;
        }
    }
    if (md_ip_normalise(pnorm, name, p) == APR_SUCCESS) {
        return APR_SUCCESS; /* an IP address (RFC 8738) */
    }
    if (md_dns_is_wildcard(name) && md_ip_normalise(&s, name + 2, p) == APR_SUCCESS) {
        *perr = apr_psprintf(p,
                             "'%s': wildcards are for domain names only; name IP addresses "
                             "one by one, like %s",
                             name, s);
        return APR_EINVAL;
    }
    for (s = name; *s; ++s) {
        if (!is_name_char(*s)) {
            *perr = apr_isprint(*s) ? apr_psprintf(p,
                                                   "'%s' contains '%c' which is not allowed "
                                                   "in a domain name",
                                                   name, *s)
                                    : apr_psprintf(p,
                                                   "'%s' contains the control character "
                                                   "0x%02x",
                                                   name, (unsigned) *s);
            return APR_EINVAL;
        }
    }
    len = strlen(name);
    if (len > MD_DNS_NAME_MAX) {
        *perr = apr_psprintf(p, "'%s' is longer than %d characters", name, MD_DNS_NAME_MAX);
        return APR_EINVAL;
    }
    if (name[0] == '.' || name[len - 1] == '.') {
        *perr = apr_psprintf(p, "'%s' starts or ends with a dot", name);
        return APR_EINVAL;
    }
    norm = apr_pstrdup(p, name);
    for (char *c = norm; *c; ++c) {
        *c = (char) apr_tolower(*c);
    }
    if ((*perr = check_labels(norm, p)) != NULL) {
        return APR_EINVAL;
    }
    *pnorm = norm;
    return APR_SUCCESS;
}

apr_status_t md_dns_names_check(apr_array_header_t **pnorm, const char **perr,
                                const apr_array_header_t *names, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, names->nelts, sizeof(const char *));
    apr_status_t rv;
    int i;

    *pnorm = NULL;
    *perr = NULL;
    for (i = 0; i < names->nelts; ++i) {
        const char *norm;
        rv = md_dns_name_check(&norm, perr, APR_ARRAY_IDX(names, i, const char *), p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (md_array_str_index(out, norm, 1) < 0) {
            APR_ARRAY_PUSH(out, const char *) = norm;
        }
    }
    *pnorm = out;
    return APR_SUCCESS;
}

int md_dns_is_wildcard(const char *name)
{
    return name && name[0] == '*' && name[1] == '.';
}

int md_dns_matches(const char *pattern, const char *name)
{
    const char *dot;

    if (!pattern || !name) {
        return 0;
    }
    if (!strcmp(pattern, name)) {
        return 1;
    }
    if (!md_dns_is_wildcard(pattern)) {
        return 0;
    }
    dot = strchr(name, '.');
    return dot && dot != name && !strcmp(dot, pattern + 1);
}

/* md_util.h: small helpers every part of the library uses: domain-name checks, durations
 * and renewal windows, base64url, string arrays, atomic file writes. */
#ifndef MD_UTIL_H
#define MD_UTIL_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <apr_file_info.h>

/* ---- domain names ---- */

/* DNS limits (RFC 1035 2.3.4): 63 octets per label, 253 for the name without its final dot. */
#define MD_DNS_LABEL_MAX 63
#define MD_DNS_NAME_MAX 253

/* Checks a domain name an operator gave and returns it lower-cased in *pnorm.
 * Rules: ASCII letters, digits and '-' only, labels 1..63 chars not starting or ending with
 * '-', at least two labels, no leading/trailing dot, total <= 253; '*' only as the whole
 * first label. Internationalised names must be given in their 'xn--' form; non-ASCII input
 * is refused with that hint. An IPv4 or IPv6 address (also "[v6]") passes as its canonical
 * text (md_ip_normalise); wildcards never cover addresses. On failure returns APR_EINVAL and
 * a reason in *perr (which names the input). */
apr_status_t md_dns_name_check(const char **pnorm, const char **perr, const char *name,
                               apr_pool_t *p);

/* Checks and normalises every name of argv/argc-like array of const char*; removes
 * duplicates (keeping first occurrence). */
apr_status_t md_dns_names_check(apr_array_header_t **pnorm, const char **perr,
                                const apr_array_header_t *names, apr_pool_t *p);

int md_dns_is_wildcard(const char *name);

/* True when 'name' is matched by 'pattern' (equal, or pattern '*.x' and name one label
 * more than x). Both normalised. */
int md_dns_matches(const char *pattern, const char *name);

/* ---- IP addresses as names (RFC 8738; md_util_ip.c) ---- */

/* The bytes of the longer kind of address, IPv6. */
#define MD_IP_BIN_MAX 16

/* True when s is an IPv4 or IPv6 address literal (no brackets, no zone id). */
int md_ip_is_addr(const char *s);
/* True when one of names (const char*) is an IP address. */
int md_names_have_ip(const apr_array_header_t *names);
/* The canonical text of the address in s (which may be "[v6]"): dotted quad for IPv4, RFC
 * 5952 for IPv6 -- the form of ACME identifiers (RFC 8738 3). APR_EINVAL when s is none. */
apr_status_t md_ip_normalise(const char **pip, const char *s, apr_pool_t *p);
/* An address literal as the 4 or 16 bytes of a certificate's iPAddress, and back. */
apr_status_t md_ip_to_bin(unsigned char *bin, apr_size_t *plen, const char *ip);
apr_status_t md_ip_from_bin(const char **pip, const unsigned char *bin, apr_size_t len,
                            apr_pool_t *p);
/* The reverse-DNS name of an address ("1.0.0.127.in-addr.arpa", "...ip6.arpa"), which a
 * tls-alpn-01 validator sends in SNI (RFC 8738 6), and the address of such a name (any case,
 * final dot allowed; APR_EINVAL for other names). */
apr_status_t md_ip_reverse_name(const char **pname, const char *ip, apr_pool_t *p);
apr_status_t md_ip_from_reverse_name(const char **pip, const char *name, apr_pool_t *p);

/* ---- durations and windows ---- */

/* Parses "30s", "5m"/"5mi", "2h", "14d", "250ms", or a plain number in 'default_unit'
 * ("s", "d", ...). APR_EINVAL on anything else (negative, garbage, overflow). */
apr_status_t md_duration_parse(apr_interval_time_t *pdur, const char *s, const char *default_unit);

/* Shortest exact form: "14d", "2h", "90s", "250ms". */
const char *md_duration_format(apr_interval_time_t dur, apr_pool_t *p);

/* A window before a certificate's end: either an absolute length or a percentage of the
 * certificate's lifetime (norm == 100, len == percent) -- "14d" or "33%". */
typedef struct {
    apr_interval_time_t len;
    apr_interval_time_t norm; /* 0: len is absolute; else len/norm of the lifetime */
} md_timeslice_t;

apr_status_t md_timeslice_parse(md_timeslice_t *ts, const char *s, const char **perr,
                                apr_pool_t *p);
const char *md_timeslice_format(const md_timeslice_t *ts, apr_pool_t *p);

/* Start of the window for a certificate valid [not_before, not_after]. */
apr_time_t md_timeslice_start(const md_timeslice_t *ts, apr_time_t not_before,
                              apr_time_t not_after);

/* RFC 3339 UTC timestamp, "2026-11-28T21:43:10Z"; parse accepts the same form. */
const char *md_time_format(apr_time_t t, apr_pool_t *p);
/* "Mon, 07 Dec 2026 15:14:07 GMT" (RFC 9110 5.6.7): how the bundled module's status JSON
 * writes times, which its consumers parse. */
const char *md_time_http(apr_time_t t, apr_pool_t *p);
/* A time written either way (RFC 3339 or HTTP date: stores and status JSON of either module
 * hold both); 0 for NULL or something else. */
apr_time_t md_time_of(const char *s);
apr_status_t md_time_parse(apr_time_t *pt, const char *s);

/* ---- base64url (RFC 4648 section 5, no padding) ---- */

const char *md_base64url_encode(const void *data, apr_size_t len, apr_pool_t *p);
/* Accepts input with or without '=' padding; APR_EINVAL on characters outside the alphabet. */
apr_status_t md_base64url_decode(unsigned char **pdata, apr_size_t *plen, const char *s,
                                 apr_pool_t *p);
/* True when s is non-empty and only of the base64url alphabet (safe as a file name). */
int md_base64url_is_token(const char *s);

/* ---- string arrays (apr arrays of const char*) ---- */

int md_array_str_index(const apr_array_header_t *a, const char *s, int case_sensitive);
apr_array_header_t *md_array_str_copy(apr_pool_t *p, const apr_array_header_t *a);
int md_array_str_eq(const apr_array_header_t *a, const apr_array_header_t *b, int case_sensitive);
/* "a, b, c" */
const char *md_array_str_join(const apr_array_header_t *a, const char *sep, apr_pool_t *p);

/* ---- files ---- */

/* Writes data to path atomically: a temporary file beside it (created with perms), fsync,
 * rename over path, fsync of the directory. A crash leaves either the old or the new file. */
apr_status_t md_file_write_atomic(const char *path, const void *data, apr_size_t len,
                                  apr_fileperms_t perms, apr_pool_t *p);

/* APR's permission bits (APR_FPROT_*) as a mode for chmod and friends. */
mode_t md_perms_mode(apr_fileperms_t perms);

/* The same without fsync of file and directory (durable 0), for files that are made again or
 * verified before use when a crash loses or tears them: readers still see old or new
 * content while the system runs. */
apr_status_t md_file_write_atomic_ex(const char *path, const void *data, apr_size_t len,
                                     apr_fileperms_t perms, int durable, apr_pool_t *p);

/* Reads a whole file (refusing more than max_len bytes; 0 = 16 MiB). NUL-terminated. */
apr_status_t md_file_read(char **pdata, apr_size_t *plen, const char *path, apr_size_t max_len,
                          apr_pool_t *p);

/* fsync of a directory, so that a rename or create in it is durable. */
apr_status_t md_dir_sync(const char *dir, apr_pool_t *p);

#endif

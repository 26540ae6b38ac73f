/* md_util.c: durations and renewal windows, RFC 3339 times, base64url, string arrays and
 * atomic file writes shared by the whole library (see md_util.h). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_cstr.h>
#include <apr_date.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_portable.h>

#include "md_log.h"
#include "md_util.h"

/* ---- durations and windows ---- */

typedef struct {
    const char *name;
    apr_interval_time_t usec;
} duration_unit_t;

#define USEC_PER_MSEC 1000
#define SEC_PER_MIN 60
#define SEC_PER_HOUR (60 * SEC_PER_MIN)
#define SEC_PER_DAY (24 * SEC_PER_HOUR)
#define PERCENT 100

/* Largest first, so that formatting picks the shortest exact form. */
static const duration_unit_t duration_units[] = {
    {"d", (apr_interval_time_t) SEC_PER_DAY *APR_USEC_PER_SEC},
    {"h", (apr_interval_time_t) SEC_PER_HOUR *APR_USEC_PER_SEC},
    {"m", (apr_interval_time_t) SEC_PER_MIN *APR_USEC_PER_SEC},
    {"mi", (apr_interval_time_t) SEC_PER_MIN *APR_USEC_PER_SEC},
    {"s", APR_USEC_PER_SEC},
    {"ms", USEC_PER_MSEC},
};
#define N_DURATION_UNITS (sizeof(duration_units) / sizeof(duration_units[0]))

/* Parses a non-empty run of decimal digits; the rest of s is left in *prest. */
static apr_status_t parse_uint(apr_int64_t *pval, const char **prest, const char *s)
{
    apr_int64_t val = 0;

    if (!apr_isdigit(*s)) {
        return APR_EINVAL;
    }
    for (; apr_isdigit(*s); ++s) {
        int digit = *s - '0';
        if (val > (INT64_MAX - digit) / 10) {
            return APR_EINVAL;
        }
        val = val * 10 + digit;
    }
    *pval = val;
    *prest = s;
    return APR_SUCCESS;
}

apr_status_t md_duration_parse(apr_interval_time_t *pdur, const char *s, const char *default_unit)
{
    const char *unit;
    apr_int64_t val;
    apr_size_t i;

    if (!s || parse_uint(&val, &unit, s) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (!*unit) {
        unit = default_unit ? default_unit : "s";
    }
    for (i = 0; i < N_DURATION_UNITS; ++i) {
        if (!apr_cstr_casecmp(unit, duration_units[i].name)) {
            if (val > INT64_MAX / duration_units[i].usec) {
                return APR_EINVAL;
            }
            *pdur = val * duration_units[i].usec;
            return APR_SUCCESS;
        }
    }
    return APR_EINVAL;
}

const char *md_duration_format(apr_interval_time_t dur, apr_pool_t *p)
{
    const char *sign = dur < 0 ? "-" : "";
    apr_size_t i;

    if (dur < 0) {
        dur = -dur;
    }
    if (dur == 0) {
        return "0s";
    }
    for (i = 0; i < N_DURATION_UNITS; ++i) {
        if (dur % duration_units[i].usec == 0) {
            return apr_psprintf(p, "%s%" APR_INT64_T_FMT "%s", sign, dur / duration_units[i].usec,
                                duration_units[i].name);
        }
    }
    /* Finer than a millisecond: nothing parses that, so round down to one. */
    return apr_psprintf(p, "%s%" APR_INT64_T_FMT "ms", sign, dur / USEC_PER_MSEC);
}

apr_status_t md_timeslice_parse(md_timeslice_t *ts, const char *s, const char **perr, apr_pool_t *p)
{
    apr_size_t len = s ? strlen(s) : 0;
    apr_int64_t val;
    const char *rest;

    *perr = NULL;
    if (len > 0 && s[len - 1] == '%') {
        if (parse_uint(&val, &rest, s) != APR_SUCCESS || *rest != '%' || rest[1]) {
            goto invalid;
        }
        if (val > PERCENT) {
            *perr = apr_psprintf(p, "'%s': a percentage must be between 0%% and 100%%", s);
            return APR_EINVAL;
        }
        ts->len = val;
        ts->norm = PERCENT;
        return APR_SUCCESS;
    }
    /* A plain number is days: renewal windows are counted in days. */
    if (md_duration_parse(&ts->len, s, "d") == APR_SUCCESS) {
        ts->norm = 0;
        return APR_SUCCESS;
    }
invalid:
    *perr = apr_psprintf(p, "'%s' is neither a duration (like 14d) nor a percentage (like 33%%)",
                         s ? s : "");
    return APR_EINVAL;
}

const char *md_timeslice_format(const md_timeslice_t *ts, apr_pool_t *p)
{
    if (ts->norm > 0) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "%%", ts->len * PERCENT / ts->norm);
    }
    return md_duration_format(ts->len, p);
}

apr_time_t md_timeslice_start(const md_timeslice_t *ts, apr_time_t not_before, apr_time_t not_after)
{
    if (ts->norm > 0) {
        /* 5 years in microseconds times 100 is far below 2^63. */
        return not_after - (not_after - not_before) * ts->len / ts->norm;
    }
    return not_after - ts->len;
}

/* ---- RFC 3339 times ---- */

#define MONTHS 12

const char *md_time_format(apr_time_t t, apr_pool_t *p)
{
    apr_time_exp_t tm;

    apr_time_exp_gmt(&tm, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

const char *md_time_http(apr_time_t t, apr_pool_t *p)
{
    char buf[APR_RFC822_DATE_LEN];

    return apr_rfc822_date(buf, t) == APR_SUCCESS ? apr_pstrdup(p, buf) : NULL;
}

apr_time_t md_time_of(const char *s)
{
    apr_time_t t = 0;

    if (s && md_time_parse(&t, s) != APR_SUCCESS) {
        t = apr_date_parse_http(s);
    }
    return t > 0 ? t : 0;
}

/* Exactly n digits at *ps, advancing it. */
static int take_digits(int *pval, const char **ps, int n)
{
    int val = 0;

    for (; n > 0; --n, ++*ps) {
        if (!apr_isdigit(**ps)) {
            return 0;
        }
        val = val * 10 + (**ps - '0');
    }
    *pval = val;
    return 1;
}

static int take_char(const char **ps, const char *choices)
{
    if (**ps && strchr(choices, **ps)) {
        ++*ps;
        return 1;
    }
    return 0;
}

static int days_in_month(int year, int month)
{
    static const int days[MONTHS] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return days[month - 1] + (month == 2 && leap);
}

/* "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)", the RFC 3339 date-time, as ACME CAs send it. */
apr_status_t md_time_parse(apr_time_t *pt, const char *s)
{
    int year, mon, day, hour, min, sec, off_h = 0, off_m = 0, off_sign = 0;
    apr_time_exp_t tm;
    apr_time_t t;

    if (!s || !take_digits(&year, &s, 4) || !take_char(&s, "-") || !take_digits(&mon, &s, 2) ||
        !take_char(&s, "-") || !take_digits(&day, &s, 2) || !take_char(&s, "Tt") ||
        !take_digits(&hour, &s, 2) || !take_char(&s, ":") || !take_digits(&min, &s, 2) ||
        !take_char(&s, ":") || !take_digits(&sec, &s, 2)) {
        return APR_EINVAL;
    }
    memset(&tm, 0, sizeof(tm));
    if (take_char(&s, ".")) {
        apr_int32_t scale = APR_USEC_PER_SEC / 10;
        if (!apr_isdigit(*s)) {
            return APR_EINVAL;
        }
        for (; apr_isdigit(*s); ++s, scale /= 10) {
            tm.tm_usec += (*s - '0') * scale;
        }
    }
    if (!take_char(&s, "Zz")) {
        off_sign = *s == '-' ? -1 : 1;
        if (!take_char(&s, "+-") || !take_digits(&off_h, &s, 2) || !take_char(&s, ":") ||
            !take_digits(&off_m, &s, 2) || off_h > 23 || off_m > 59) {
            return APR_EINVAL;
        }
    }
    if (*s || mon < 1 || mon > MONTHS || day < 1 || day > days_in_month(year, mon) || hour > 23 ||
        min > 59 || sec > 60) {
        return APR_EINVAL;
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    if (apr_time_exp_gmt_get(&t, &tm) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    /* local = UTC + offset, so UTC = local - offset */
    t -= apr_time_from_sec((apr_time_t) off_sign * (off_h * SEC_PER_HOUR + off_m * SEC_PER_MIN));
    *pt = t;
    return APR_SUCCESS;
}

/* ---- base64url ---- */

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const char *md_base64url_encode(const void *data, apr_size_t len, apr_pool_t *p)
{
    const unsigned char *d = data;
    char *out = apr_palloc(p, (len + 2) / 3 * 4 + 1), *o = out;
    apr_size_t i;

    for (i = 0; i + 2 < len; i += 3) {
        *o++ = b64url_alphabet[d[i] >> 2];
        *o++ = b64url_alphabet[((d[i] & 0x03) << 4) | (d[i + 1] >> 4)];
        *o++ = b64url_alphabet[((d[i + 1] & 0x0F) << 2) | (d[i + 2] >> 6)];
        *o++ = b64url_alphabet[d[i + 2] & 0x3F];
    }
    if (len - i == 1) {
        *o++ = b64url_alphabet[d[i] >> 2];
        *o++ = b64url_alphabet[(d[i] & 0x03) << 4];
    } else if (len - i == 2) {
        *o++ = b64url_alphabet[d[i] >> 2];
        *o++ = b64url_alphabet[((d[i] & 0x03) << 4) | (d[i + 1] >> 4)];
        *o++ = b64url_alphabet[(d[i + 1] & 0x0F) << 2];
    }
    *o = '\0';
    return out;
}

static int b64url_value(char c)
{
    const char *pos = c ? strchr(b64url_alphabet, c) : NULL;
    return pos ? (int) (pos - b64url_alphabet) : -1;
}

apr_status_t md_base64url_decode(unsigned char **pdata, apr_size_t *plen, const char *s,
                                 apr_pool_t *p)
{
    apr_size_t n = strlen(s), i, pad = 0;
    unsigned char *out, *o;
    apr_uint32_t acc = 0;

    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        --n;
        ++pad;
    }
    if (n % 4 == 1 || (pad > 0 && (n + pad) % 4 != 0)) {
        return APR_EINVAL;
    }
    o = out = apr_palloc(p, n / 4 * 3 + 3);
    for (i = 0; i < n; ++i) {
        int v = b64url_value(s[i]);
        if (v < 0) {
            return APR_EINVAL;
        }
        acc = (acc << 6) | (apr_uint32_t) v;
        if (i % 4 == 3) {
            *o++ = (unsigned char) (acc >> 16);
            *o++ = (unsigned char) (acc >> 8);
            *o++ = (unsigned char) acc;
            acc = 0;
        }
    }
    if (n % 4 == 2) {
        *o++ = (unsigned char) (acc >> 4);
    } else if (n % 4 == 3) {
        *o++ = (unsigned char) (acc >> 10);
        *o++ = (unsigned char) (acc >> 2);
    }
    *o = '\0';
    *pdata = out;
    *plen = (apr_size_t) (o - out);
    return APR_SUCCESS;
}

int md_base64url_is_token(const char *s)
{
    if (!s || !*s) {
        return 0;
    }
    for (; *s; ++s) {
        if (b64url_value(*s) < 0) {
            return 0;
        }
    }
    return 1;
}

/* ---- string arrays ---- */

int md_array_str_index(const apr_array_header_t *a, const char *s, int case_sensitive)
{
    int i;

    for (i = 0; a && s && i < a->nelts; ++i) {
        const char *e = APR_ARRAY_IDX(a, i, const char *);
        if (e && (case_sensitive ? !strcmp(e, s) : !apr_cstr_casecmp(e, s))) {
            return i;
        }
    }
    return -1;
}

apr_array_header_t *md_array_str_copy(apr_pool_t *p, const apr_array_header_t *a)
{
    apr_array_header_t *c = apr_array_make(p, a ? a->nelts : 0, sizeof(const char *));
    int i;

    for (i = 0; a && i < a->nelts; ++i) {
        const char *e = APR_ARRAY_IDX(a, i, const char *);
        APR_ARRAY_PUSH(c, const char *) = e ? apr_pstrdup(p, e) : NULL;
    }
    return c;
}

/* Same strings in the same order; a NULL array equals an empty one. */
int md_array_str_eq(const apr_array_header_t *a, const apr_array_header_t *b, int case_sensitive)
{
    int na = a ? a->nelts : 0, nb = b ? b->nelts : 0, i;

    if (na != nb) {
        return 0;
    }
    for (i = 0; i < na; ++i) {
        const char *x = APR_ARRAY_IDX(a, i, const char *);
        const char *y = APR_ARRAY_IDX(b, i, const char *);
        if (x == y) {
            continue;
        }
        if (!x || !y || (case_sensitive ? strcmp(x, y) : apr_cstr_casecmp(x, y))) {
            return 0;
        }
    }
    return 1;
}

const char *md_array_str_join(const apr_array_header_t *a, const char *sep, apr_pool_t *p)
{
    const char *s = "";
    int i;

    for (i = 0; a && i < a->nelts; ++i) {
        s = apr_pstrcat(p, s, i ? sep : "", APR_ARRAY_IDX(a, i, const char *), NULL);
    }
    return s;
}

/* ---- files ---- */

/* What md_file_read refuses beyond when the caller gives no limit. */
#define MD_FILE_READ_DEFAULT_MAX (16 * 1024 * 1024)

static const char *dir_of(const char *path, apr_pool_t *p)
{
    const char *slash = strrchr(path, '/');

    if (!slash) {
        return ".";
    }
    if (slash == path) {
        return "/";
    }
    return apr_pstrmemdup(p, path, (apr_size_t) (slash - path));
}

apr_status_t md_dir_sync(const char *dir, apr_pool_t *p)
{
    apr_file_t *f;
    apr_status_t rv;

    rv = apr_file_open(&f, dir, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_sync(f);
    apr_file_close(f);
    /* Some file systems cannot sync a directory; what they do is as durable as it gets. */
    if (APR_STATUS_IS_EINVAL(rv) || rv == APR_ENOTIMPL) {
        rv = APR_SUCCESS;
    }
    return rv;
}

/* Invariant: path is only ever replaced by rename(2) of a complete, synced file, so readers
 * and a crash see the old or the new content, never a part; a failed write removes its
 * temporary file and leaves path as it was. */
apr_status_t md_file_write_atomic(const char *path, const void *data, apr_size_t len,
                                  apr_fileperms_t perms, apr_pool_t *p)
{
    return md_file_write_atomic_ex(path, data, len, perms, 1, p);
}

mode_t md_perms_mode(apr_fileperms_t perms)
{
    static const struct {
        apr_fileperms_t apr;
        mode_t mode;
    } bits[] = {
        {APR_FPROT_UREAD, S_IRUSR}, {APR_FPROT_UWRITE, S_IWUSR}, {APR_FPROT_UEXECUTE, S_IXUSR},
        {APR_FPROT_GREAD, S_IRGRP}, {APR_FPROT_GWRITE, S_IWGRP}, {APR_FPROT_GEXECUTE, S_IXGRP},
        {APR_FPROT_WREAD, S_IROTH}, {APR_FPROT_WWRITE, S_IWOTH}, {APR_FPROT_WEXECUTE, S_IXOTH},
    };
    mode_t mode = 0;

    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); ++i) {
        mode |= (perms & bits[i].apr) ? bits[i].mode : 0;
    }
    return mode;
}

apr_status_t md_file_write_atomic_ex(const char *path, const void *data, apr_size_t len,
                                     apr_fileperms_t perms, int durable, apr_pool_t *p)
{
    char *tmp_path = apr_pstrcat(p, path, ".tmp.XXXXXX", NULL);
    const char *step = "creating a temporary file for";
    apr_file_t *f = NULL;
    apr_os_file_t fd;
    int created = 0;
    apr_status_t rv;

    /* mkstemp: a unique name in the same directory, so the rename stays on one file system */
    rv = apr_file_mktemp(&f, tmp_path,
                         APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL | APR_FOPEN_BINARY, p);
    if (rv != APR_SUCCESS) {
        f = NULL;
        goto fail;
    }
    created = 1;
    /* exactly the requested permissions, not narrowed by the umask; set before any data, on
     * the descriptor: the name could have been replaced meanwhile */
    step = "setting permissions of the temporary file for";
    if ((rv = apr_os_file_get(&fd, f)) != APR_SUCCESS ||
        (rv = fchmod(fd, md_perms_mode(perms)) == 0 ? APR_SUCCESS : APR_FROM_OS_ERROR(errno)) !=
            APR_SUCCESS) {
        goto fail;
    }
    step = "writing";
    if ((rv = apr_file_write_full(f, data, len, NULL)) != APR_SUCCESS) {
        goto fail;
    }
    step = "syncing";
    if (durable && (rv = apr_file_sync(f)) != APR_SUCCESS) {
        goto fail;
    }
    step = "closing";
    rv = apr_file_close(f);
    f = NULL;
    if (rv != APR_SUCCESS) {
        goto fail;
    }
    step = "renaming the temporary file to";
    if ((rv = apr_file_rename(tmp_path, path, p)) != APR_SUCCESS) {
        goto fail;
    }
    step = "syncing the directory of";
    if (durable && (rv = md_dir_sync(dir_of(path, p), p)) != APR_SUCCESS) {
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s %s", step, path);
    }
    return rv;

fail:
    md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s %s", step, path);
    if (f) {
        apr_file_close(f);
    }
    if (created) {
        apr_file_remove(tmp_path, p);
    }
    return rv;
}

apr_status_t md_file_read(char **pdata, apr_size_t *plen, const char *path, apr_size_t max_len,
                          apr_pool_t *p)
{
    apr_file_t *f;
    apr_finfo_t info;
    apr_status_t rv;
    apr_size_t got = 0;
    char *buf;

    if (max_len == 0) {
        max_len = MD_FILE_READ_DEFAULT_MAX;
    }
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_info_get(&info, APR_FINFO_SIZE | APR_FINFO_TYPE, f);
    if (rv == APR_SUCCESS && info.filetype != APR_REG) {
        rv = APR_EINVAL;
        md_log_perror(MD_LOG_MARK, MD_LOG_DEBUG, rv, "%s is not a regular file", path);
    } else if (rv == APR_SUCCESS && (apr_size_t) info.size > max_len) {
        rv = APR_EINVAL;
        md_log_perror(MD_LOG_MARK, MD_LOG_ERR, rv, "%s is larger than %lu bytes", path,
                      (unsigned long) max_len);
    }
    if (rv == APR_SUCCESS) {
        buf = apr_palloc(p, (apr_size_t) info.size + 1);
        rv = apr_file_read_full(f, buf, (apr_size_t) info.size, &got);
        if (rv == APR_EOF) {
            rv = APR_SUCCESS; /* it shrank meanwhile: what is there is the content */
        }
        if (rv == APR_SUCCESS) {
            buf[got] = '\0';
            *pdata = buf;
            *plen = got;
        }
    }
    apr_file_close(f);
    return rv;
}

/* test_util.c: unit tests of md_util.h: domain-name checks, durations and renewal windows,
 * RFC 3339 times, base64url, string arrays and atomic file writes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include "md_log.h"
#include "md_util.h"

#define DAY_SEC (24 * 3600)
/* apr_fileperms_t is APR's own encoding (0x0600 is rw for the owner), not octal mode bits. */
#define PERMS_OWNER (APR_FPROT_UREAD | APR_FPROT_UWRITE)
#define PERMS_PUBLIC (PERMS_OWNER | APR_FPROT_GREAD | APR_FPROT_WREAD)

/* The last message the library logged, so tests can check that a failure names its file. */
static char last_log[1024];

static void capture_log(void *baton, const char *file, int line, md_log_level_t level,
                        apr_status_t rv, const char *msg)
{
    snprintf(last_log, sizeof(last_log), "%s", msg);
}

/* ---- fixture: a pool and, for file tests, a temporary directory ---- */

typedef struct {
    apr_pool_t *p;
    char dir[64];
} fixture_t;

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));

    assert_int_equal(apr_pool_create(&fx->p, NULL), APR_SUCCESS);
    strcpy(fx->dir, "/tmp/md-test-util-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    *state = fx;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int teardown(void **state)
{
    fixture_t *fx = *state;

    chmod(fx->dir, 0700);
    nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(fx->p);
    free(fx);
    return 0;
}

/* ---- domain names ---- */

static void assert_name_ok(const char *name, const char *expected, apr_pool_t *p)
{
    const char *norm = NULL, *err = NULL;

    if (md_dns_name_check(&norm, &err, name, p) != APR_SUCCESS) {
        fail_msg("'%s' refused: %s", name, err);
    }
    assert_string_equal(norm, expected);
}

/* Checks that name is refused and that the reason contains 'part'. */
static void assert_name_bad(const char *name, const char *part, apr_pool_t *p)
{
    const char *norm = NULL, *err = NULL;

    if (md_dns_name_check(&norm, &err, name, p) != APR_EINVAL) {
        fail_msg("'%s' was accepted", name);
    }
    assert_null(norm);
    assert_non_null(err);
    if (!strstr(err, part)) {
        fail_msg("reason for '%s' is \"%s\", expected it to contain \"%s\"", name, err, part);
    }
}

static void test_names_valid(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;

    assert_name_ok("example.org", "example.org", p);
    assert_name_ok("WWW.Example.ORG", "www.example.org", p);
    assert_name_ok("*.example.org", "*.example.org", p);
    assert_name_ok("a-b.x1.example.org", "a-b.x1.example.org", p);
    assert_name_ok("xn--mnchen-3ya.de", "xn--mnchen-3ya.de", p);
    assert_name_ok("1.2.3.example", "1.2.3.example", p);
}

static void test_names_invalid(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;

    assert_name_bad("", "empty", p);
    assert_name_bad(NULL, "empty", p);
    assert_name_bad("ex ample.org",
                    "'ex ample.org' contains ' ' which is not allowed in a domain name", p);
    assert_name_bad("a_b.example.org", "contains '_'", p);
    assert_name_bad("localhost", "at least two", p);
    assert_name_bad("1.2.3", "numeric", p);
    assert_name_bad("-a.example.org", "label '-a' starts or ends with '-'", p);
    assert_name_bad("a-.example.org", "label 'a-'", p);
    assert_name_bad(".example.org", "dot", p);
    assert_name_bad("example.org.", "dot", p);
    assert_name_bad("a..example.org", "empty label", p);
    assert_name_bad("tab\t.example.org", "control character 0x09", p);
    assert_name_bad("m\xc3\xbcnchen.de",
                    "'m\xc3\xbcnchen.de' is not ASCII: give the internationalised name in its "
                    "xn-- form (e.g. xn--mnchen-3ya.de)",
                    p);
    assert_name_bad("M\xc3\x9cNCHEN.de", "(e.g. xn--mnchen-3ya.de)", p);
    assert_name_bad("\xff\xfe.de", "neither ASCII nor UTF-8", p);
}

static void test_names_wildcards(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;
    const char *msg = "'*' is only allowed as the whole first label";

    assert_name_bad("*example.org", msg, p);
    assert_name_bad("w*.example.org", msg, p);
    assert_name_bad("www.*.example.org", msg, p);
    assert_name_bad("*.*.example.org", msg, p);
    assert_name_bad("example.*", msg, p);
    assert_name_bad("*", "at least two", p);
    assert_true(md_dns_is_wildcard("*.example.org"));
    assert_false(md_dns_is_wildcard("www.example.org"));
    assert_false(md_dns_is_wildcard(NULL));
}

static char *repeat(char c, int n, apr_pool_t *p)
{
    char *s = apr_palloc(p, (apr_size_t) n + 1);

    memset(s, c, (size_t) n);
    s[n] = '\0';
    return s;
}

static void test_names_lengths(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;
    char *l63 = repeat('a', MD_DNS_LABEL_MAX, p), *l64 = repeat('a', MD_DNS_LABEL_MAX + 1, p);
    /* 3 * (63 + 1) + 61 = 253 */
    char *n253 = apr_pstrcat(p, l63, ".", l63, ".", l63, ".", repeat('b', 61, p), NULL);
    char *n254 = apr_pstrcat(p, l63, ".", l63, ".", l63, ".", repeat('b', 62, p), NULL);
    char *upper = apr_pstrcat(p, repeat('A', MD_DNS_LABEL_MAX, p), ".org", NULL);

    assert_int_equal(strlen(n253), MD_DNS_NAME_MAX);
    assert_name_ok(apr_pstrcat(p, l63, ".org", NULL), apr_pstrcat(p, l63, ".org", NULL), p);
    assert_name_ok(upper, apr_pstrcat(p, l63, ".org", NULL), p);
    assert_name_bad(apr_pstrcat(p, l64, ".org", NULL),
                    apr_psprintf(p, "label '%s' is longer than 63 characters", l64), p);
    assert_name_ok(n253, n253, p);
    assert_name_bad(n254, "longer than 253 characters", p);
}

static apr_array_header_t *strs(apr_pool_t *p, int n, ...)
{
    apr_array_header_t *a = apr_array_make(p, n, sizeof(const char *));
    va_list ap;

    va_start(ap, n);
    while (n-- > 0) {
        APR_ARRAY_PUSH(a, const char *) = va_arg(ap, const char *);
    }
    va_end(ap);
    return a;
}

static void test_names_check_list(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;
    apr_array_header_t *norm = NULL;
    const char *err = NULL;

    assert_int_equal(md_dns_names_check(&norm, &err,
                                        strs(p, 5, "Example.org", "www.example.org", "EXAMPLE.ORG",
                                             "*.example.org", "www.example.org"),
                                        p),
                     APR_SUCCESS);
    assert_true(
        md_array_str_eq(norm, strs(p, 3, "example.org", "www.example.org", "*.example.org"), 1));

    assert_int_equal(md_dns_names_check(&norm, &err, strs(p, 2, "example.org", "bad name.org"), p),
                     APR_EINVAL);
    assert_null(norm);
    assert_non_null(strstr(err, "'bad name.org'"));
}

static void test_dns_matches(void **state)
{
    assert_true(md_dns_matches("example.org", "example.org"));
    assert_true(md_dns_matches("*.example.org", "www.example.org"));
    assert_true(md_dns_matches("*.example.org", "*.example.org"));
    assert_false(md_dns_matches("*.example.org", "example.org"));
    assert_false(md_dns_matches("*.example.org", "a.b.example.org"));
    assert_false(md_dns_matches("*.example.org", "wwwexample.org"));
    assert_false(md_dns_matches("*.example.org", ".example.org"));
    assert_false(md_dns_matches("example.org", "www.example.org"));
    assert_false(md_dns_matches("www.example.org", "example.org"));
    assert_false(md_dns_matches(NULL, "example.org"));
}

/* ---- durations and windows ---- */

static void assert_duration(const char *s, const char *unit, apr_interval_time_t expected)
{
    apr_interval_time_t d = -1;

    if (md_duration_parse(&d, s, unit) != APR_SUCCESS) {
        fail_msg("'%s' refused", s);
    }
    assert_int_equal(d, expected);
}

static void test_durations(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;
    const char *bad[] = {
        "",           "-5s", "abc", "5x", "5 s", " 5s", "5s ", "s", "99999999999999999999d",
        "106751992d", NULL};
    const char *forms[] = {"14d", "2h", "90s", "250ms", "5m", "0s", "1500ms", "25h", NULL};
    apr_interval_time_t d;
    int i;

    assert_duration("30s", NULL, apr_time_from_sec(30));
    assert_duration("5m", NULL, apr_time_from_sec(300));
    assert_duration("5mi", NULL, apr_time_from_sec(300));
    assert_duration("2h", NULL, apr_time_from_sec(7200));
    assert_duration("14d", NULL, apr_time_from_sec(14 * DAY_SEC));
    assert_duration("250ms", NULL, 250000);
    assert_duration("7", "d", apr_time_from_sec(7 * DAY_SEC));
    assert_duration("7", "s", apr_time_from_sec(7));
    assert_duration("0", "s", 0);
    for (i = 0; bad[i]; ++i) {
        if (md_duration_parse(&d, bad[i], "s") != APR_EINVAL) {
            fail_msg("'%s' accepted", bad[i]);
        }
    }
    assert_int_equal(md_duration_parse(&d, "5", "fortnights"), APR_EINVAL);

    assert_string_equal(md_duration_format(apr_time_from_sec(14 * DAY_SEC), p), "14d");
    assert_string_equal(md_duration_format(apr_time_from_sec(90), p), "90s");
    assert_string_equal(md_duration_format(apr_time_from_sec(120), p), "2m");
    assert_string_equal(md_duration_format(250000, p), "250ms");
    for (i = 0; forms[i]; ++i) {
        assert_int_equal(md_duration_parse(&d, forms[i], NULL), APR_SUCCESS);
        assert_string_equal(md_duration_format(d, p), forms[i]);
    }
}

static void test_timeslices(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;
    const char *forms[] = {"33%", "0%", "100%", "14d", "12h", NULL};
    md_timeslice_t ts;
    const char *err;
    int i;

    assert_int_equal(md_timeslice_parse(&ts, "33%", &err, p), APR_SUCCESS);
    assert_int_equal(ts.len, 33);
    assert_int_equal(ts.norm, 100);
    assert_int_equal(md_timeslice_parse(&ts, "14d", &err, p), APR_SUCCESS);
    assert_int_equal(ts.len, apr_time_from_sec(14 * DAY_SEC));
    assert_int_equal(ts.norm, 0);
    assert_int_equal(md_timeslice_parse(&ts, "30", &err, p), APR_SUCCESS);
    assert_int_equal(ts.len, apr_time_from_sec(30 * DAY_SEC)); /* plain number: days */

    assert_int_equal(md_timeslice_parse(&ts, "101%", &err, p), APR_EINVAL);
    assert_non_null(strstr(err, "'101%'"));
    assert_non_null(strstr(err, "between 0% and 100%"));
    assert_int_equal(md_timeslice_parse(&ts, "-1%", &err, p), APR_EINVAL);
    assert_int_equal(md_timeslice_parse(&ts, "%", &err, p), APR_EINVAL);
    assert_int_equal(md_timeslice_parse(&ts, "3x%", &err, p), APR_EINVAL);
    assert_int_equal(md_timeslice_parse(&ts, "soon", &err, p), APR_EINVAL);
    assert_non_null(strstr(err, "'soon'"));

    for (i = 0; forms[i]; ++i) {
        assert_int_equal(md_timeslice_parse(&ts, forms[i], &err, p), APR_SUCCESS);
        assert_string_equal(md_timeslice_format(&ts, p), forms[i]);
    }
}

static void test_timeslice_start(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;
    apr_time_t nb = apr_time_from_sec(1700000000), na = nb + apr_time_from_sec(90 * DAY_SEC);
    md_timeslice_t ts;
    const char *err;

    /* 33% of 90 days is 29.7 days before the end */
    assert_int_equal(md_timeslice_parse(&ts, "33%", &err, p), APR_SUCCESS);
    assert_int_equal(md_timeslice_start(&ts, nb, na), na - apr_time_from_sec(29 * DAY_SEC + 60480));
    assert_int_equal(md_timeslice_parse(&ts, "14d", &err, p), APR_SUCCESS);
    assert_int_equal(md_timeslice_start(&ts, nb, na), na - apr_time_from_sec(14 * DAY_SEC));
    assert_int_equal(md_timeslice_parse(&ts, "100%", &err, p), APR_SUCCESS);
    assert_int_equal(md_timeslice_start(&ts, nb, na), nb);
    assert_int_equal(md_timeslice_parse(&ts, "0%", &err, p), APR_SUCCESS);
    assert_int_equal(md_timeslice_start(&ts, nb, na), na);
}

/* ---- times ---- */

static void test_times(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;
    const char *bad[] = {"",
                         "garbage",
                         "2026-02-30T00:00:00Z",
                         "2026-13-01T00:00:00Z",
                         "2026-01-01T24:00:00Z",
                         "2026-01-01T00:00:00",
                         "2026-01-01T00:00:00Zjunk",
                         "2026-01-01 00:00:00Z",
                         "2026-1-01T00:00:00Z",
                         "2026-01-01T00:00:00.Z",
                         NULL};
    apr_time_t t = 0;
    int i;

    assert_string_equal(md_time_format(0, p), "1970-01-01T00:00:00Z");
    assert_string_equal(md_time_format(apr_time_from_sec(1000000000), p), "2001-09-09T01:46:40Z");
    assert_int_equal(md_time_parse(&t, "2001-09-09T01:46:40Z"), APR_SUCCESS);
    assert_int_equal(t, apr_time_from_sec(1000000000));
    assert_int_equal(md_time_parse(&t, "2001-09-09T03:46:40+02:00"), APR_SUCCESS);
    assert_int_equal(t, apr_time_from_sec(1000000000));
    assert_int_equal(md_time_parse(&t, "2001-09-08T20:16:40.5-05:30"), APR_SUCCESS);
    assert_int_equal(t, apr_time_from_sec(1000000000) + 500000);
    assert_int_equal(md_time_parse(&t, "2024-02-29T12:00:00Z"), APR_SUCCESS);
    assert_string_equal(md_time_format(t, p), "2024-02-29T12:00:00Z");
    /* round trip of a time with whole seconds */
    t = apr_time_from_sec(1795297390);
    {
        apr_time_t back = 0;
        assert_int_equal(md_time_parse(&back, md_time_format(t, p)), APR_SUCCESS);
        assert_int_equal(back, t);
    }
    for (i = 0; bad[i]; ++i) {
        if (md_time_parse(&t, bad[i]) != APR_EINVAL) {
            fail_msg("'%s' accepted", bad[i]);
        }
    }
}

/* ---- base64url ---- */

static void test_base64url(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;
    /* RFC 4648 section 10, without the padding base64url leaves off */
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *coded[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    const char *padded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    const unsigned char bin[] = {0xfb, 0xff, 0xbf, 0x00, 0xfb, 0xff};
    const char *bad[] = {"Zm9v+", "Zm9v/", "Z", "Zg=a", "Zg===", "Zm9v YQ", "Zm8==", NULL};
    unsigned char *d;
    apr_size_t len;
    size_t i;

    for (i = 0; i < sizeof(plain) / sizeof(plain[0]); ++i) {
        assert_string_equal(md_base64url_encode(plain[i], strlen(plain[i]), p), coded[i]);
        assert_int_equal(md_base64url_decode(&d, &len, coded[i], p), APR_SUCCESS);
        assert_int_equal(len, strlen(plain[i]));
        assert_memory_equal(d, plain[i], len);
        assert_int_equal(md_base64url_decode(&d, &len, padded[i], p), APR_SUCCESS);
        assert_int_equal(len, strlen(plain[i]));
        assert_memory_equal(d, plain[i], len);
    }
    /* 0xfb 0xff are the bytes that need '-' and '_' where base64 has '+' and '/' */
    assert_string_equal(md_base64url_encode(bin, 2, p), "-_8");
    assert_string_equal(md_base64url_encode(bin, sizeof(bin), p), "-_-_APv_");
    assert_int_equal(md_base64url_decode(&d, &len, "-_-_APv_", p), APR_SUCCESS);
    assert_int_equal(len, sizeof(bin));
    assert_memory_equal(d, bin, sizeof(bin));
    for (i = 0; bad[i]; ++i) {
        if (md_base64url_decode(&d, &len, bad[i], p) != APR_EINVAL) {
            fail_msg("'%s' accepted", bad[i]);
        }
    }
    assert_true(md_base64url_is_token("abc-_XYZ09"));
    assert_false(md_base64url_is_token(""));
    assert_false(md_base64url_is_token(NULL));
    assert_false(md_base64url_is_token("../etc"));
    assert_false(md_base64url_is_token("a=b"));
}

/* ---- string arrays ---- */

static void test_arrays(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;
    apr_array_header_t *a = strs(p, 3, "a.org", "B.org", "c.org"), *c;

    assert_int_equal(md_array_str_index(a, "B.org", 1), 1);
    assert_int_equal(md_array_str_index(a, "b.org", 1), -1);
    assert_int_equal(md_array_str_index(a, "b.org", 0), 1);
    assert_int_equal(md_array_str_index(a, "d.org", 0), -1);
    c = md_array_str_copy(p, a);
    assert_true(md_array_str_eq(a, c, 1));
    assert_ptr_not_equal(APR_ARRAY_IDX(a, 0, const char *), APR_ARRAY_IDX(c, 0, const char *));
    assert_false(md_array_str_eq(a, strs(p, 3, "a.org", "b.org", "c.org"), 1));
    assert_true(md_array_str_eq(a, strs(p, 3, "a.org", "b.org", "c.org"), 0));
    assert_false(md_array_str_eq(a, strs(p, 2, "a.org", "B.org"), 1));
    assert_false(md_array_str_eq(a, strs(p, 3, "c.org", "B.org", "a.org"), 1));
    assert_true(md_array_str_eq(NULL, strs(p, 0), 1));
    assert_string_equal(md_array_str_join(a, ", ", p), "a.org, B.org, c.org");
    assert_string_equal(md_array_str_join(strs(p, 0), ", ", p), "");
}

/* ---- files ---- */

static int count_entries(const char *dir)
{
    char cmd[256];
    FILE *f;
    int n = -1;

    snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
    f = popen(cmd, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &n), 1);
    pclose(f);
    return n;
}

static void assert_content(const char *path, const char *expected, apr_pool_t *p)
{
    char *data;
    apr_size_t len;

    assert_int_equal(md_file_read(&data, &len, path, 0, p), APR_SUCCESS);
    assert_int_equal(len, strlen(expected));
    assert_string_equal(data, expected);
}

static void test_write_atomic(void **state)
{
    fixture_t *fx = *state;
    const char *path = apr_pstrcat(fx->p, fx->dir, "/md.json", NULL);
    struct stat st;

    assert_int_equal(md_file_write_atomic(path, "old", 3, PERMS_OWNER, fx->p), APR_SUCCESS);
    assert_content(path, "old", fx->p);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    /* replaced, with the permissions asked for even where the umask is stricter */
    umask(077);
    assert_int_equal(md_file_write_atomic(path, "new content", 11, PERMS_PUBLIC, fx->p),
                     APR_SUCCESS);
    umask(022);
    assert_content(path, "new content", fx->p);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(count_entries(fx->dir), 1); /* no temporary file left */

    assert_int_equal(md_file_write_atomic(path, "", 0, PERMS_OWNER, fx->p), APR_SUCCESS);
    assert_content(path, "", fx->p);
}

static void test_write_atomic_fails_cleanly(void **state)
{
    fixture_t *fx = *state;
    const char *sub = apr_pstrcat(fx->p, fx->dir, "/taken", NULL);
    const char *inner = apr_pstrcat(fx->p, sub, "/x", NULL);

    /* the target is a non-empty directory: the rename fails after the temp file was written */
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(md_file_write_atomic(inner, "x", 1, PERMS_OWNER, fx->p), APR_SUCCESS);
    last_log[0] = '\0';
    assert_int_not_equal(md_file_write_atomic(sub, "data", 4, PERMS_OWNER, fx->p), APR_SUCCESS);
    assert_non_null(strstr(last_log, sub)); /* the error names the file */
    assert_content(inner, "x", fx->p);
    assert_int_equal(count_entries(fx->dir), 1);
    assert_int_equal(count_entries(sub), 1);

    /* a directory that does not exist */
    assert_int_not_equal(md_file_write_atomic(apr_pstrcat(fx->p, fx->dir, "/no/such", NULL), "x", 1,
                                              PERMS_OWNER, fx->p),
                         APR_SUCCESS);
}

static void test_write_atomic_readonly_dir(void **state)
{
    fixture_t *fx = *state;
    const char *path = apr_pstrcat(fx->p, fx->dir, "/md.json", NULL);

    if (geteuid() == 0) {
        skip(); /* root writes into any directory */
    }
    assert_int_equal(md_file_write_atomic(path, "old", 3, PERMS_OWNER, fx->p), APR_SUCCESS);
    assert_int_equal(chmod(fx->dir, 0500), 0);
    assert_int_not_equal(md_file_write_atomic(path, "new", 3, PERMS_OWNER, fx->p), APR_SUCCESS);
    assert_int_equal(chmod(fx->dir, 0700), 0);
    assert_content(path, "old", fx->p);
    assert_int_equal(count_entries(fx->dir), 1);
}

static void test_file_read(void **state)
{
    fixture_t *fx = *state;
    const char *path = apr_pstrcat(fx->p, fx->dir, "/f", NULL);
    char *data;
    apr_size_t len;

    assert_int_equal(md_file_read(&data, &len, path, 0, fx->p), APR_ENOENT);
    assert_int_equal(md_file_write_atomic(path, "0123456789", 10, PERMS_OWNER, fx->p), APR_SUCCESS);
    assert_int_equal(md_file_read(&data, &len, path, 10, fx->p), APR_SUCCESS);
    assert_string_equal(data, "0123456789");
    assert_int_equal(md_file_read(&data, &len, path, 9, fx->p), APR_EINVAL);
    assert_int_equal(md_file_read(&data, &len, fx->dir, 0, fx->p), APR_EINVAL);
    assert_int_equal(md_dir_sync(fx->dir, fx->p), APR_SUCCESS);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_names_valid),
        T(test_names_invalid),
        T(test_names_wildcards),
        T(test_names_lengths),
        T(test_names_check_list),
        T(test_dns_matches),
        T(test_durations),
        T(test_timeslices),
        T(test_timeslice_start),
        T(test_times),
        T(test_base64url),
        T(test_arrays),
        T(test_write_atomic),
        T(test_write_atomic_fails_cleanly),
        T(test_write_atomic_readonly_dir),
        T(test_file_read),
    };

    apr_initialize();
    md_log_set(capture_log, NULL, MD_LOG_DEBUG);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

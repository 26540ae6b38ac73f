/* test_json.c: unit tests of md_json.h: parse/dump keeping key order, NULL-tolerant getters,
 * shared children, string arrays, and reading/writing JSON files. */
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
#include <dirent.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include "md_json.h"
#include "md_log.h"
#include "md_util.h"

/* apr_fileperms_t is APR's own encoding (0x0600 is rw for the owner), not octal mode bits. */
#define PERMS_OWNER (APR_FPROT_UREAD | APR_FPROT_UWRITE)

typedef struct {
    apr_pool_t *p;
    char dir[64];
} fixture_t;

static void quiet_log(void *baton, const char *file, int line, md_log_level_t level,
                      apr_status_t rv, const char *msg)
{
}

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));

    assert_int_equal(apr_pool_create(&fx->p, NULL), APR_SUCCESS);
    strcpy(fx->dir, "/tmp/md-test-json-XXXXXX");
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

    nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(fx->p);
    free(fx);
    return 0;
}

static md_json_t *parse(const char *s, apr_pool_t *p)
{
    md_json_t *j = NULL;
    const char *err = NULL;

    if (md_json_parse(&j, &err, s, strlen(s), p) != APR_SUCCESS) {
        fail_msg("parse of %s failed: %s", s, err);
    }
    return j;
}

static void test_roundtrip_keeps_order(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;
    const char *in = "{\"z\":1,\"a\":\"x\",\"m\":[1,2,\"s\"],\"b\":{\"y\":true,\"c\":null},"
                     "\"big\":9007199254740993,\"r\":2.5}";
    md_json_t *j = parse(in, p), *o = md_json_new_obj(p);
    apr_array_header_t *keys;

    assert_true(md_json_is_obj(j));
    assert_string_equal(md_json_dump(j, 0, p), in);
    keys = md_json_keys(j, p);
    assert_int_equal(keys->nelts, 6);
    assert_string_equal(APR_ARRAY_IDX(keys, 0, const char *), "z");
    assert_string_equal(APR_ARRAY_IDX(keys, 5, const char *), "r");

    /* insertion order of keys set one by one, and pretty output indented by 2 */
    md_json_set_str(o, "name", "example.org");
    md_json_set_int(o, "version", 3);
    md_json_set_bool(o, "active", 1);
    md_json_set_strs(o, "domains", NULL);
    assert_string_equal(md_json_dump(o, 1, p), "{\n"
                                               "  \"name\": \"example.org\",\n"
                                               "  \"version\": 3,\n"
                                               "  \"active\": true,\n"
                                               "  \"domains\": []\n"
                                               "}");
}

static void test_getters(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;
    md_json_t *j = parse("{\"s\":\"str\",\"i\":42,\"big\":9007199254740993,\"r\":3.0,"
                         "\"f\":2.5,\"t\":true,\"no\":false,\"one\":1,\"two\":2,\"n\":null}",
                         p);

    assert_true(md_json_has(j, "n"));
    assert_false(md_json_has(j, "missing"));
    assert_string_equal(md_json_get_str(j, "s"), "str");
    assert_null(md_json_get_str(j, "i"));
    assert_null(md_json_get_str(j, "missing"));
    assert_int_equal(md_json_get_int(j, "i", -1), 42);
    assert_true(md_json_get_int(j, "big", -1) == 9007199254740993LL);
    assert_int_equal(md_json_get_int(j, "r", -1), 3); /* "version": 3.0 */
    assert_int_equal(md_json_get_int(j, "s", -1), -1);
    assert_int_equal(md_json_get_int(j, "missing", -1), -1);
    assert_true(md_json_get_num(j, "f", 0) == 2.5);
    assert_true(md_json_get_num(j, "i", 0) == 42.0);
    assert_true(md_json_get_num(j, "s", -1.5) == -1.5);
    assert_int_equal(md_json_get_bool(j, "t", 0), 1);
    assert_int_equal(md_json_get_bool(j, "no", 1), 0);
    assert_int_equal(md_json_get_bool(j, "one", 0), 1);
    assert_int_equal(md_json_get_bool(j, "two", 7), 7);
    assert_int_equal(md_json_get_bool(j, "missing", 7), 7);
    assert_null(md_json_get(j, "missing", p));
    assert_null(md_json_get_strs(j, "s", p));
    assert_int_equal(md_json_keys(parse("[1]", p), p)->nelts, 0);
}

static void test_null_handles(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;

    assert_false(md_json_is_obj(NULL));
    assert_false(md_json_has(NULL, "a"));
    assert_null(md_json_get(NULL, "a", p));
    assert_null(md_json_get_str(NULL, "a"));
    assert_int_equal(md_json_get_int(NULL, "a", 5), 5);
    assert_true(md_json_get_num(NULL, "a", 1.5) == 1.5);
    assert_int_equal(md_json_get_bool(NULL, "a", 1), 1);
    assert_null(md_json_get_strs(NULL, "a", p));
    assert_int_equal(md_json_keys(NULL, p)->nelts, 0);
    assert_int_equal(md_json_len(NULL), 0);
    assert_null(md_json_at(NULL, 0, p));
    assert_null(md_json_str_value(NULL));
    assert_null(md_json_copy(NULL, p));
    assert_null(md_json_dump(NULL, 1, p));
    /* walking optional structure needs no checks in between */
    assert_null(md_json_get_str(md_json_get(md_json_get(NULL, "a", p), "b", p), "c"));
    md_json_set_str(NULL, "a", "b");
    md_json_set_int(NULL, "a", 1);
    md_json_push_str(NULL, "a");
    md_json_del(NULL, "a");
}

static void test_strs(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;
    md_json_t *j = md_json_new_obj(p);
    apr_array_header_t *in = apr_array_make(p, 2, sizeof(const char *)), *out;

    APR_ARRAY_PUSH(in, const char *) = "example.org";
    APR_ARRAY_PUSH(in, const char *) = "www.example.org";
    md_json_set_strs(j, "domains", in);
    assert_string_equal(md_json_dump(j, 0, p),
                        "{\"domains\":[\"example.org\",\"www.example.org\"]}");
    out = md_json_get_strs(j, "domains", p);
    assert_true(md_array_str_eq(in, out, 1));

    j = parse("{\"mixed\":[\"a\",1,null,\"b\",{}],\"empty\":[]}", p);
    out = md_json_get_strs(j, "mixed", p);
    assert_int_equal(out->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(out, 1, const char *), "b");
    assert_int_equal(md_json_get_strs(j, "empty", p)->nelts, 0);
}

static void test_children_and_copies(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p, *parent_pool;
    md_json_t *j, *child, *copy;

    /* a child shares its value with the parent and outlives the parent's pool */
    apr_pool_create(&parent_pool, p);
    j = parse("{\"ca\":{\"url\":\"https://ca\"}}", parent_pool);
    child = md_json_get(j, "ca", p);
    md_json_set_str(child, "proto", "ACME");
    assert_string_equal(md_json_get_str(md_json_get(j, "ca", p), "proto"), "ACME");
    copy = md_json_copy(j, p);
    apr_pool_destroy(parent_pool);
    assert_string_equal(md_json_get_str(child, "url"), "https://ca");

    /* a deep copy does not */
    md_json_set_str(md_json_get(copy, "ca", p), "url", "https://other");
    assert_string_equal(md_json_get_str(child, "url"), "https://ca");

    /* set shares, set_str NULL and del delete */
    j = md_json_new_obj(p);
    md_json_set(j, "ca", child);
    md_json_set_str(child, "url", NULL);
    assert_false(md_json_has(md_json_get(j, "ca", p), "url"));
    md_json_del(j, "ca");
    assert_string_equal(md_json_dump(j, 0, p), "{}");

    /* a string that is not UTF-8 is refused, not stored half */
    md_json_set_str(j, "bad", "\xff\xfe");
    assert_false(md_json_has(j, "bad"));
}

static void test_arrays(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;
    md_json_t *a = md_json_new_arr(p), *o = parse("{\"k\":\"v\"}", p);

    md_json_push_str(a, "one");
    md_json_push(a, o);
    assert_true(md_json_is_arr(a));
    assert_int_equal(md_json_len(a), 2);
    assert_true(md_json_is_str(md_json_at(a, 0, p)));
    assert_string_equal(md_json_str_value(md_json_at(a, 0, p)), "one");
    assert_string_equal(md_json_get_str(md_json_at(a, 1, p), "k"), "v");
    assert_null(md_json_at(a, 2, p));
    assert_null(md_json_str_value(md_json_at(a, 1, p)));
    assert_int_equal(md_json_len(o), 0);
    assert_string_equal(md_json_dump(a, 0, p), "[\"one\",{\"k\":\"v\"}]");
}

static void test_parse_errors(void **state)
{
    apr_pool_t *p = ((fixture_t *) *state)->p;
    const char *bad = "{\"a\": 1,\n \"b\": }";
    md_json_t *j = NULL;
    const char *err = NULL;

    assert_int_equal(md_json_parse(&j, &err, bad, strlen(bad), p), APR_EINVAL);
    assert_null(j);
    assert_non_null(err);
    assert_int_equal(strncmp(err, "line 2, column ", 15), 0);
    assert_int_equal(md_json_parse(&j, &err, "", 0, p), APR_EINVAL);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    }
    closedir(d);
    return n;
}

static void test_read_file_errors(void **state)
{
    fixture_t *fx = *state;
    const char *path = apr_pstrcat(fx->p, fx->dir, "/md.json", NULL);
    const char *corrupt = "{\n  \"name\": \"example.org\",\n  \"domains\" [\"example.org\"]\n}\n";
    md_json_t *j = NULL;
    const char *err = NULL;
    char *data;
    apr_size_t len;

    assert_int_equal(md_json_read_file(&j, &err, path, fx->p), APR_ENOENT);
    assert_null(j);
    assert_non_null(strstr(err, path));

    assert_int_equal(md_file_write_atomic(path, corrupt, strlen(corrupt), PERMS_OWNER, fx->p),
                     APR_SUCCESS);
    assert_int_equal(md_json_read_file(&j, &err, path, fx->p), APR_EINVAL);
    assert_null(j);
    if (strncmp(err, apr_pstrcat(fx->p, path, ": line 3, column ", NULL), strlen(path) + 17)) {
        fail_msg("unexpected reason: %s", err);
    }
    assert_int_equal(md_file_read(&data, &len, path, 0, fx->p), APR_SUCCESS);
    assert_string_equal(data, corrupt);
    assert_int_equal(count_entries(fx->dir), 1);
}

static void test_write_file(void **state)
{
    fixture_t *fx = *state;
    const char *path = apr_pstrcat(fx->p, fx->dir, "/md.json", NULL);
    md_json_t *j = parse("{\"b\":1,\"a\":[\"x\"]}", fx->p), *back = NULL;
    const char *err = NULL;
    struct stat st;
    char *data;
    apr_size_t len;

    assert_int_equal(md_json_write_file(j, path, PERMS_OWNER, fx->p), APR_SUCCESS);
    assert_int_equal(md_file_read(&data, &len, path, 0, fx->p), APR_SUCCESS);
    assert_string_equal(data, "{\n  \"b\": 1,\n  \"a\": [\n    \"x\"\n  ]\n}\n");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    md_json_set_int(j, "b", 2);
    assert_int_equal(md_json_write_file(j, path, PERMS_OWNER | APR_FPROT_GREAD, fx->p),
                     APR_SUCCESS);
    assert_int_equal(md_json_read_file(&back, &err, path, fx->p), APR_SUCCESS);
    assert_int_equal(md_json_get_int(back, "b", 0), 2);
    assert_string_equal(md_json_dump(back, 0, fx->p), md_json_dump(j, 0, fx->p));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(count_entries(fx->dir), 1); /* no temporary file left */
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_roundtrip_keeps_order),
        T(test_getters),
        T(test_null_handles),
        T(test_strs),
        T(test_children_and_copies),
        T(test_arrays),
        T(test_parse_errors),
        T(test_read_file_errors),
        T(test_write_file),
    };

    apr_initialize();
    md_log_set(quiet_log, NULL, MD_LOG_DEBUG);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

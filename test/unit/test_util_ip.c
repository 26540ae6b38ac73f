/* test_util_ip.c: unit tests of IP addresses as names of an MD (RFC 8738): the name check,
 * canonical text, bytes, and the reverse-DNS names of tls-alpn-01 (md_util_ip.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <apr_general.h>

#include "md_util.h"
#include "unit_fixture.h"

static apr_pool_t *pool_of(void **state)
{
    return ((unit_fixture_t *) *state)->p;
}

static void assert_name_norm(const char *name, const char *expected, apr_pool_t *p)
{
    const char *norm = NULL, *err = NULL;

    if (md_dns_name_check(&norm, &err, name, p) != APR_SUCCESS) {
        fail_msg("'%s' refused: %s", name, err);
    }
    assert_string_equal(norm, expected);
}

static void assert_name_refused(const char *name, const char *part, apr_pool_t *p)
{
    const char *norm = NULL, *err = NULL;

    if (md_dns_name_check(&norm, &err, name, p) != APR_EINVAL) {
        fail_msg("'%s' was accepted as '%s'", name, norm);
    }
    assert_null(norm);
    if (!err || !strstr(err, part)) {
        fail_msg("reason for '%s' is \"%s\", expected it to contain \"%s\"", name, err, part);
    }
}

static void test_addresses_are_names_in_canonical_form(void **state)
{
    apr_pool_t *p = pool_of(state);

    assert_name_norm("127.0.0.1", "127.0.0.1", p);
    assert_name_norm("192.0.2.10", "192.0.2.10", p);
    assert_name_norm("::1", "::1", p);
    assert_name_norm("[::1]", "::1", p);
    /* RFC 5952: lower case, leading zeros dropped, the longest zero run as "::" */
    assert_name_norm("2001:DB8:0:0:0:0:0:1", "2001:db8::1", p);
    assert_name_norm("2001:0db8:0000:0001:0000:0000:0000:0001", "2001:db8:0:1::1", p);
    assert_name_norm("0:0:0:0:0:0:0:1", "::1", p);
}

static void test_address_like_names_refused(void **state)
{
    apr_pool_t *p = pool_of(state);

    /* a wildcard never covers an address: say so rather than 'numeric label' */
    assert_name_refused("*.127.0.0.1", "wildcards are for domain names only", p);
    assert_name_refused("*.::1", "wildcards are for domain names only", p);
    assert_name_refused("*.0.0.1", "numeric label", p);
    assert_name_refused("127.0.0.01", "numeric label", p);
    assert_name_refused("256.1.1.1", "numeric label", p);
    assert_name_refused("fe80::1%eth0", "not allowed", p);
    assert_name_refused("[127.0.0.1]", "not allowed", p);
    assert_name_refused("[::1", "not allowed", p);
    assert_name_refused("1::2::3", "not allowed", p);
    assert_false(md_ip_is_addr("[::1]"));
    assert_false(md_ip_is_addr("example.org"));
    assert_false(md_ip_is_addr(NULL));
    assert_true(md_ip_is_addr("::ffff:192.0.2.1"));
}

static void test_address_bytes_round_trip(void **state)
{
    apr_pool_t *p = pool_of(state);
    static const unsigned char v4[] = {192, 0, 2, 10};
    unsigned char bin[16];
    apr_size_t len = 0;
    const char *ip;

    assert_int_equal(md_ip_to_bin(bin, &len, "192.0.2.10"), APR_SUCCESS);
    assert_int_equal(len, 4);
    assert_memory_equal(bin, v4, 4);
    assert_int_equal(md_ip_to_bin(bin, &len, "2001:db8::1"), APR_SUCCESS);
    assert_int_equal(len, 16);
    assert_int_equal(md_ip_from_bin(&ip, bin, len, p), APR_SUCCESS);
    assert_string_equal(ip, "2001:db8::1");
    assert_int_equal(md_ip_to_bin(bin, &len, "www.example.org"), APR_EINVAL);
    assert_int_equal(md_ip_from_bin(&ip, bin, 5, p), APR_EINVAL);
    assert_null(ip);
}

static void test_names_have_ip(void **state)
{
    apr_pool_t *p = pool_of(state);
    apr_array_header_t *names = apr_array_make(p, 2, sizeof(const char *));

    assert_false(md_names_have_ip(NULL));
    APR_ARRAY_PUSH(names, const char *) = "www.example.org";
    assert_false(md_names_have_ip(names));
    APR_ARRAY_PUSH(names, const char *) = "192.0.2.10";
    assert_true(md_names_have_ip(names));
}

static void assert_reverse(const char *ip, const char *rname, apr_pool_t *p)
{
    const char *name, *back;

    assert_int_equal(md_ip_reverse_name(&name, ip, p), APR_SUCCESS);
    assert_string_equal(name, rname);
    assert_int_equal(md_ip_from_reverse_name(&back, rname, p), APR_SUCCESS);
    assert_string_equal(back, ip);
}

/* RFC 8738 section 6: the validator's SNI is the reverse mapping name of the address. */
static void test_reverse_names(void **state)
{
    apr_pool_t *p = pool_of(state);
    const char *ip;

    assert_reverse("127.0.0.1", "1.0.0.127.in-addr.arpa", p);
    assert_reverse("192.0.2.10", "10.2.0.192.in-addr.arpa", p);
    assert_reverse("::1",
                   "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa", p);
    /* RFC 3596 2.5's example address */
    assert_reverse("4321:0:1:2:3:4:567:89ab",
                   "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa", p);
    /* SNI arrives in any case, possibly with the root's dot */
    assert_int_equal(md_ip_from_reverse_name(&ip, "1.0.0.127.IN-ADDR.ARPA.", p), APR_SUCCESS);
    assert_string_equal(ip, "127.0.0.1");
    assert_int_equal(md_ip_from_reverse_name(&ip, "1.0.0.127.in-addr.arpa.example.org", p),
                     APR_EINVAL);
    assert_null(ip);
    assert_int_equal(md_ip_from_reverse_name(&ip, "0.0.127.in-addr.arpa", p), APR_EINVAL);
    assert_int_equal(md_ip_from_reverse_name(&ip, "1.0.0.0.127.in-addr.arpa", p), APR_EINVAL);
    assert_int_equal(md_ip_from_reverse_name(&ip, "1.0.00.127.in-addr.arpa", p), APR_EINVAL);
    assert_int_equal(md_ip_from_reverse_name(&ip, "1.0.0.256.in-addr.arpa", p), APR_EINVAL);
    assert_int_equal(md_ip_from_reverse_name(&ip, "in-addr.arpa", p), APR_EINVAL);
    assert_int_equal(md_ip_from_reverse_name(&ip, "1.0.ip6.arpa", p), APR_EINVAL);
    assert_int_equal(md_ip_from_reverse_name(&ip, "www.example.org", p), APR_EINVAL);
    assert_int_equal(md_ip_from_reverse_name(&ip, NULL, p), APR_EINVAL);
    assert_int_equal(md_ip_reverse_name(&ip, "www.example.org", p), APR_EINVAL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, unit_fixture_setup, unit_fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_addresses_are_names_in_canonical_form),
        T(test_address_like_names_refused),
        T(test_address_bytes_round_trip),
        T(test_names_have_ip),
        T(test_reverse_names),
    };

    apr_initialize();
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_acme_chain.c: unit tests of md_acme_chain.c against a fake CA -- the Accept header,
 * issuers followed by rel="up" (POST-as-GET or GET, PEM or DER, bounded, no loops), roots
 * dropped, and an alternate chain picked by its root's name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include <openssl/x509.h>

#include "md_acme.h"
#include "md_cert.h"
#include "md_chain.h"
#include "md_json.h"
#include "md_util.h"
#include "unit_certs.h"
#include "unit_fixture.h"
#include "unit_keys.h"
#include "unit_server.h"

/* More intermediates than md_acme_chain.c follows (MD_CHAIN_UP_HOPS_MAX is 10). */
#define TEST_LONG_CHAIN 12

/* A fake CA answering from <dir>/routes.json: {path: {"file": name in dir, "ctype": ...,
 * "get": true when it answers GET only, "up": [paths], "alternate": [paths]}}. Paths it
 * does not know get 404. Each request goes to <dir>/requests.log as "<method> <path>
 * <Accept>". The directory and nonces are the least md_acme needs. */
static const char server_py[] =
    "import http.server, json, sys, os, itertools\n"
    "d = sys.argv[1]\n"
    "nonces = itertools.count(1)\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "    def answer(self):\n"
    "        n = int(self.headers.get('Content-Length') or 0)\n"
    "        self.rfile.read(n)\n"
    "        with open(os.path.join(d, 'requests.log'), 'a') as f:\n"
    "            f.write('%s %s %s\\n' % (self.command, self.path, self.headers['Accept']))\n"
    "        ca = 'http://%s' % self.headers['Host']\n"
    "        with open(os.path.join(d, 'routes.json')) as f:\n"
    "            r = json.load(f).get(self.path)\n"
    "        links, status, ctype, body = [], 404, 'text/plain', b'no such thing'\n"
    "        if self.path == '/dir':\n"
    "            status, ctype = 200, 'application/json'\n"
    "            body = json.dumps({k: ca + '/' + k for k in\n"
    "                               ('newNonce', 'newAccount', 'newOrder')}).encode()\n"
    "        elif r and (self.command == 'GET') != (not r.get('get')):\n"
    "            with open(os.path.join(d, r['file']), 'rb') as f:\n"
    "                status, ctype, body = 200, r['ctype'], f.read()\n"
    "            for rel in ('up', 'alternate'):\n"
    "                links += ['<%s%s>;rel=\"%s\"' % (ca, u, rel) for u in r.get(rel, [])]\n"
    "        elif r:\n"
    "            status = 405\n"
    "        self.send_response(status)\n"
    "        self.send_header('Replay-Nonce', 'n%d' % next(nonces))\n"
    "        self.send_header('Content-Type', ctype)\n"
    "        for l in links:\n"
    "            self.send_header('Link', l)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        if self.command != 'HEAD':\n"
    "            self.wfile.write(body)\n"
    "    do_GET = do_POST = do_HEAD = answer\n" UNIT_SERVER_PY_SERVE;

/* One leaf under an intermediate that is cross-signed by two roots, "Root A" (the CA's
 * default) and "Root B". */
typedef struct {
    apr_pool_t *pool;
    char dir[UNIT_DIR_LEN];
    unit_server_t server;
    md_acme_t *acme;
    md_json_t *routes;
    md_pkey_t *root_key, *inter_key, *leaf_key;
    X509 *root_a, *inter_a;
    md_cert_t *leaf, *inter_b, *root_b;
} fixture_t;

static int group_setup(void **state)
{
    (void) state;
    if (unit_net_open(NULL, NULL) != 0) {
        return -1;
    }
    unit_log_capture(MD_LOG_INFO);
    return 0;
}

static int group_teardown(void **state)
{
    (void) state;
    unit_net_close(NULL, NULL, NULL);
    return 0;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    X509 *root_b;
    md_pkey_t *key;

    if (!f || unit_tmp_open(&f->pool, f->dir) != 0 ||
        md_pkey_gen(&f->root_key, &unit_spec_p256, f->pool) != APR_SUCCESS ||
        md_pkey_gen(&f->inter_key, &unit_spec_p256, f->pool) != APR_SUCCESS ||
        md_pkey_gen(&f->leaf_key, &unit_spec_p256, f->pool) != APR_SUCCESS ||
        md_pkey_gen(&key, &unit_spec_p256, f->pool) != APR_SUCCESS) {
        return -1;
    }
    f->root_a = unit_cert_make("Root A", f->root_key, NULL, NULL, 1);
    root_b = unit_cert_make("Root B", f->root_key, NULL, NULL, 1);
    f->inter_a = unit_cert_make("Intermediate", f->inter_key, f->root_a, f->root_key, 1);
    f->leaf = md_cert_wrap(unit_cert_make(NULL, f->leaf_key, f->inter_a, f->inter_key, 0), f->pool);
    f->inter_b =
        md_cert_wrap(unit_cert_make("Intermediate", f->inter_key, root_b, f->root_key, 1), f->pool);
    f->root_b = md_cert_wrap(root_b, f->pool);
    md_cert_wrap(f->root_a, f->pool);
    md_cert_wrap(f->inter_a, f->pool);
    f->routes = md_json_new_obj(f->pool);
    if (unit_server_start(&f->server, f->dir, server_py, f->pool) != 0 ||
        md_acme_create(&f->acme, unit_server_url(&f->server, "/dir", f->pool), NULL, NULL,
                       f->pool) != APR_SUCCESS) {
        return -1;
    }
    md_acme_use_account(f->acme, key, unit_server_url(&f->server, "/acct/1", f->pool));
    unit_log_clear();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    unit_server_stop(&f->server);
    if (unit_tmp_close(f->pool, f->dir) != 0) {
        return -1;
    }
    free(f);
    return 0;
}

static const char *path_in(fixture_t *f, const char *name)
{
    return apr_pstrcat(f->pool, f->dir, "/", name, NULL);
}

static void write_file(fixture_t *f, const char *name, const char *data, apr_size_t len)
{
    assert_int_equal(md_file_write_atomic(path_in(f, name), data, len,
                                          APR_FPROT_UREAD | APR_FPROT_UWRITE, f->pool),
                     APR_SUCCESS);
}

/* A link target list for a route: NULL, or paths separated by spaces. */
static void route_links(md_json_t *route, const char *rel, const char *paths, apr_pool_t *p)
{
    char *copy, *last = NULL, *tok;
    md_json_t *arr = md_json_new_arr(p);

    if (!paths) {
        return;
    }
    copy = apr_pstrdup(p, paths);
    for (tok = apr_strtok(copy, " ", &last); tok; tok = apr_strtok(NULL, " ", &last)) {
        md_json_push_str(arr, tok);
    }
    md_json_set(route, rel, arr);
}

/* The fake CA serves certs (PEM, or DER when der) at path, linking up and alternate. */
static void route(fixture_t *f, const char *path, apr_array_header_t *certs, int der,
                  const char *up, const char *alternate)
{
    md_json_t *r = md_json_new_obj(f->pool);
    const char *file = apr_psprintf(f->pool, "body%d", md_json_keys(f->routes, f->pool)->nelts + 1),
               *pem;
    unsigned char *data = NULL;
    int len;

    if (der) {
        len = i2d_X509(md_cert_x509(APR_ARRAY_IDX(certs, 0, md_cert_t *)), &data);
        assert_true(len > 0);
        write_file(f, file, (const char *) data, (apr_size_t) len);
        OPENSSL_free(data);
    } else {
        assert_int_equal(md_chain_to_pem(&pem, certs, f->pool), APR_SUCCESS);
        write_file(f, file, pem, strlen(pem));
    }
    md_json_set_str(r, "file", file);
    md_json_set_str(r, "ctype",
                    der ? "application/pkix-cert" : "application/pem-certificate-chain");
    md_json_set_bool(r, "get", der);
    route_links(r, "up", up, f->pool);
    route_links(r, "alternate", alternate, f->pool);
    md_json_set(f->routes, path, r);
    pem = md_json_dump(f->routes, 1, f->pool);
    write_file(f, "routes.json", pem, strlen(pem));
}

static md_cert_t *wrap(fixture_t *f, X509 *x)
{
    return md_cert_wrap(X509_dup(x), f->pool);
}

/* How often the fake CA saw "<method> <path> <accept>" (accept may be a prefix). */
static int requests(fixture_t *f, const char *line)
{
    char *text = NULL;
    apr_size_t len;
    int n = 0;

    if (md_file_read(&text, &len, path_in(f, "requests.log"), 0, f->pool) != APR_SUCCESS) {
        return 0;
    }
    for (const char *s = text; (s = strstr(s, line)) != NULL; ++s) {
        n += (s == text || s[-1] == '\n');
    }
    return n;
}

static const char *fp(const apr_array_header_t *chain, int i, apr_pool_t *p)
{
    return md_cert_fingerprint(APR_ARRAY_IDX(chain, i, md_cert_t *), p);
}

static apr_status_t download(fixture_t *f, apr_array_header_t **pchain, const char *preferred)
{
    return md_acme_cert_download(pchain, f->acme, unit_server_url(&f->server, "/cert/1", f->pool),
                                 preferred, f->pool);
}

static void test_leaf_only_is_completed_and_root_dropped(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *chain;

    /* the leaf only; its issuer at an ACME resource, whose issuer is a static DER file */
    route(f, "/cert/1", unit_chain_of(f->pool, f->leaf, NULL, NULL), 0, "/issuer/1", NULL);
    route(f, "/issuer/1", unit_chain_of(f->pool, wrap(f, f->inter_a), NULL, NULL), 0,
          "/static/root", NULL);
    route(f, "/static/root", unit_chain_of(f->pool, wrap(f, f->root_a), NULL, NULL), 1, NULL, NULL);
    assert_int_equal(download(f, &chain, NULL), APR_SUCCESS);
    assert_int_equal(chain->nelts, 2);
    assert_string_equal(fp(chain, 0, f->pool), md_cert_fingerprint(f->leaf, f->pool));
    assert_string_equal(fp(chain, 1, f->pool), md_cert_fingerprint(wrap(f, f->inter_a), f->pool));
    /* RFC 8555 7.4.2's media type is asked for; the static file comes by GET after the POST */
    assert_int_equal(requests(f, "POST /cert/1 application/pem-certificate-chain\n"), 1);
    assert_int_equal(requests(f, "POST /issuer/1 application/pem-certificate-chain,"), 1);
    assert_int_equal(requests(f, "POST /static/root "), 1);
    assert_int_equal(requests(f, "GET /static/root "), 1);
    assert_string_equal(unit_log_text(), "");
}

static void test_a_chain_up_to_its_root_needs_no_request(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *chain;

    route(f, "/cert/1", unit_chain_of(f->pool, f->leaf, wrap(f, f->inter_a), wrap(f, f->root_a)), 0,
          "/issuer/1", NULL);
    assert_int_equal(download(f, &chain, NULL), APR_SUCCESS);
    assert_int_equal(chain->nelts, 2); /* the root is not served */
    assert_int_equal(requests(f, "POST /issuer/1"), 0);
}

static void test_wrong_issuer_and_loops(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *chain;

    /* an up link to a certificate that did not issue the leaf: the download fails */
    route(f, "/cert/1", unit_chain_of(f->pool, f->leaf, NULL, NULL), 0, "/issuer/1", NULL);
    route(f, "/issuer/1", unit_chain_of(f->pool, f->root_b, NULL, NULL), 0, NULL, NULL);
    assert_int_equal(download(f, &chain, NULL), APR_EINVAL);
    assert_null(chain);
    assert_non_null(strstr(unit_log_text(), "did not issue it"));

    /* an issuer that links to itself: fetched once, the chain ends there */
    route(f, "/issuer/1", unit_chain_of(f->pool, wrap(f, f->inter_a), NULL, NULL), 0, "/issuer/1",
          NULL);
    assert_int_equal(download(f, &chain, NULL), APR_SUCCESS);
    assert_int_equal(chain->nelts, 2);
    assert_int_equal(requests(f, "POST /issuer/1"), 2); /* once in each of the two downloads */
}

static void test_hops_are_bounded(void **state)
{
    fixture_t *f = *state;
    X509 *issuer = unit_cert_make("Ladder Root", f->root_key, NULL, NULL, 1), *cert;
    md_pkey_t *ikey = f->root_key, *key;
    apr_array_header_t *chain;
    md_cert_t *leaf;

    /* a ladder of intermediates 12 (under the root) down to 1 (over the leaf), each at
     * /up/<n> linking /up/<n+1> */
    md_cert_wrap(issuer, f->pool);
    for (int n = TEST_LONG_CHAIN; n >= 1; --n) {
        assert_int_equal(md_pkey_gen(&key, &unit_spec_p256, f->pool), APR_SUCCESS);
        cert = unit_cert_make(apr_psprintf(f->pool, "Rung %d", n), key, issuer, ikey, 1);
        route(f, apr_psprintf(f->pool, "/up/%d", n),
              unit_chain_of(f->pool, md_cert_wrap(cert, f->pool), NULL, NULL), 0,
              apr_psprintf(f->pool, "/up/%d", n + 1), NULL);
        issuer = cert;
        ikey = key;
    }
    leaf = md_cert_wrap(unit_cert_make(NULL, f->leaf_key, issuer, ikey, 0), f->pool);
    route(f, "/cert/1", unit_chain_of(f->pool, leaf, NULL, NULL), 0, "/up/1", NULL);
    assert_int_equal(download(f, &chain, NULL), APR_SUCCESS);
    assert_int_equal(chain->nelts, 1 + 10);
    assert_string_equal(md_cert_subject_cn(md_chain_top(chain), f->pool), "Rung 10");
    assert_int_equal(requests(f, "POST /up/11"), 0);
    assert_non_null(strstr(unit_log_text(), "stopped after 10 issuers"));
}

static void test_alternate_by_name(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *chain;
    md_pkey_t *other_key;
    md_cert_t *other_leaf;

    route(f, "/cert/1", unit_chain_of(f->pool, f->leaf, wrap(f, f->inter_a), NULL), 0, NULL,
          "/cert/1/other /cert/1/b");
    route(f, "/cert/1/b", unit_chain_of(f->pool, f->leaf, f->inter_b, NULL), 0, NULL, NULL);
    /* an alternate that starts with another leaf is no alternate of this certificate */
    assert_int_equal(md_pkey_gen(&other_key, &unit_spec_p256, f->pool), APR_SUCCESS);
    other_leaf =
        md_cert_wrap(unit_cert_make(NULL, other_key, f->inter_a, f->inter_key, 0), f->pool);
    route(f, "/cert/1/other", unit_chain_of(f->pool, other_leaf, f->inter_b, NULL), 0, NULL, NULL);

    /* no preference, or the default's root: no alternate is fetched */
    assert_int_equal(download(f, &chain, NULL), APR_SUCCESS);
    assert_string_equal(md_chain_name(chain, f->pool), "Root A");
    assert_int_equal(download(f, &chain, "Root A"), APR_SUCCESS);
    assert_string_equal(md_chain_name(chain, f->pool), "Root A");
    assert_int_equal(requests(f, "POST /cert/1/b"), 0);

    assert_int_equal(download(f, &chain, "Root B"), APR_SUCCESS);
    assert_int_equal(chain->nelts, 2);
    assert_string_equal(fp(chain, 0, f->pool), md_cert_fingerprint(f->leaf, f->pool));
    assert_string_equal(fp(chain, 1, f->pool), md_cert_fingerprint(f->inter_b, f->pool));
    assert_non_null(strstr(unit_log_text(), "another certificate than the order's"));
    assert_non_null(strstr(unit_log_text(), "using the alternate chain to 'Root B'"));

    /* a name no chain has: the default, and the log names what the CA offers */
    unit_log_clear();
    assert_int_equal(download(f, &chain, "Root C"), APR_SUCCESS);
    assert_string_equal(md_chain_name(chain, f->pool), "Root A");
    assert_non_null(strstr(unit_log_text(), "no chain leads to 'Root C'"));
    assert_non_null(strstr(unit_log_text(), "'Root A', 'Root B'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_leaf_only_is_completed_and_root_dropped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_chain_up_to_its_root_needs_no_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_wrong_issuer_and_loops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hops_are_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alternate_by_name, setup, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

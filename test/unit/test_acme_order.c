/* test_acme_order.c: unit tests of md_acme_order.c -- order and authorization objects
 * (RFC 8555 7.1.3, 7.1.4) into structs, and the requests against a small fake CA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "md_acme.h"
#include "md_acme_order_int.h"
#include "md_ari_drive.h"
#include "md_cert.h"
#include "md_http.h"
#include "md_log.h"
#include "md_util.h"
#include "unit_fixture.h"
#include "unit_keys.h"
#include "unit_server.h"

#define CERT_VALID apr_time_from_sec(86400)
/* What the fake CA sends in Retry-After for a new order. */
#define FAKE_RETRY_AFTER apr_time_from_sec(7)

/* A fake CA on an ephemeral 127.0.0.1 port (plain http): a directory, nonces, one order with
 * one authorization, a rejected name and a certificate chain read from <dir>/chain.pem. Each
 * POST is logged to <dir>/requests.log as "<path> <payload>" (JSON payloads normalised with
 * sorted keys). */
static const char server_py[] =
    "import http.server, json, base64, sys, os, threading, itertools\n"
    "d = sys.argv[1]\n"
    "nonces = itertools.count(1)\n"
    "P = 'urn:ietf:params:acme:error:'\n"
    "def b64d(s):\n"
    "    return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4)).decode()\n"
    "def norm(s):\n"
    "    return json.dumps(json.loads(s), sort_keys=True, separators=(',', ':')) if s else ''\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "    def reply(self, status, body, ctype='application/json', headers=()):\n"
    "        if not isinstance(body, bytes):\n"
    "            body = json.dumps(body).encode()\n"
    "        self.send_response(status)\n"
    "        self.send_header('Replay-Nonce', 'nonce-%d' % next(nonces))\n"
    "        self.send_header('Content-Type', ctype)\n"
    "        for k, v in headers:\n"
    "            self.send_header(k, v)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        if self.command != 'HEAD':\n"
    "            self.wfile.write(body)\n"
    "    def problem(self, status, t, detail, subs=()):\n"
    "        self.reply(status, {'type': P + t, 'detail': detail, 'subproblems': list(subs)},\n"
    "                   'application/problem+json')\n"
    "    def do_HEAD(self):\n"
    "        self.reply(200, b'')\n"
    "    def do_GET(self):\n"
    "        b = 'http://%s' % self.headers['Host']\n"
    "        self.reply(200, {'newNonce': b + '/nonce', 'newAccount': b + '/acct',\n"
    "                         'newOrder': b + '/new-order'})\n"
    "    def do_POST(self):\n"
    "        jws = json.loads(self.rfile.read(int(self.headers['Content-Length'])))\n"
    "        payload = b64d(jws['payload'])\n"
    "        with open(os.path.join(d, 'requests.log'), 'a') as f:\n"
    "            f.write('%s %s\\n' % (self.path, norm(payload)))\n"
    "        b = 'http://%s' % self.headers['Host']\n"
    "        p = self.path\n"
    "        order = {'status': 'pending', 'expires': '2031-01-02T03:04:05Z',\n"
    "                 'identifiers': [{'type': 'dns', 'value': 'example.org'}],\n"
    "                 'authorizations': [b + '/authz/1'], 'finalize': b + '/order/1/finalize'}\n"
    "        if p == '/new-order':\n"
    "            ids = [i['value'] for i in json.loads(payload)['identifiers']]\n"
    "            if json.loads(payload).get('replaces') == 'replaced.1':\n"
    "                self.problem(409, 'alreadyReplaced', 'certificate was replaced already')\n"
    "            elif 'rejected.example.org' in ids:\n"
    "                self.problem(400, 'rejectedIdentifier', 'policy forbids',\n"
    "                    [{'type': P + 'rejectedIdentifier', 'detail': 'not allowed',\n"
    "                      'identifier': {'type': 'dns', 'value': 'rejected.example.org'}}])\n"
    "            else:\n"
    "                self.reply(201, order,\n"
    "                           headers=[('Location', b + '/order/1'), ('Retry-After', '7')])\n"
    "        elif p == '/order/1':\n"
    "            self.reply(200, order)\n"
    "        elif p == '/authz/1':\n"
    "            self.reply(200, {'status': 'pending',\n"
    "                             'identifier': {'type': 'dns', 'value': 'example.org'},\n"
    "                             'challenges': [{'type': 'http-01', 'url': b + '/chall/1',\n"
    "                                             'token': 'tok_1', 'status': 'pending'}]})\n"
    "        elif p == '/chall/1':\n"
    "            self.reply(200, {'type': 'http-01', 'url': b + '/chall/1', 'token': 'tok_1',\n"
    "                             'status': 'processing'})\n"
    "        elif p == '/order/1/finalize':\n"
    "            order.update(status='valid', certificate=b + '/cert/1')\n"
    "            self.reply(200, order)\n"
    "        elif p == '/cert/1':\n"
    "            with open(os.path.join(d, 'chain.pem'), 'rb') as f:\n"
    "                self.reply(200, f.read(), 'application/pem-certificate-chain')\n"
    "        elif p == '/cert/empty':\n"
    "            self.reply(200, b'', 'application/pem-certificate-chain')\n"
    "        else:\n"
    "            self.problem(404, 'malformed', 'no such resource')\n" UNIT_SERVER_PY_SERVE;

typedef struct {
    apr_pool_t *pool;
    char dir[UNIT_DIR_LEN];
    unit_server_t server;
    const char *base; /* http://127.0.0.1:<port> */
    md_acme_t *acme;
} fixture_t;

/* Every error and warning the library logs is kept: unit_log_text() for the current test. */
static int group_setup(void **state)
{
    (void) state;
    if (unit_net_open(NULL, NULL) != 0) {
        return -1;
    }
    unit_log_capture(MD_LOG_WARN);
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

    if (!f || unit_tmp_open(&f->pool, f->dir) != 0) {
        return -1;
    }
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

/* Starts the fake CA and a context signing with a fresh account key. */
static void ca_start(fixture_t *f)
{
    md_pkey_t *key;

    assert_int_equal(unit_server_start(&f->server, f->dir, server_py, f->pool), 0);
    f->base = apr_psprintf(f->pool, "http://127.0.0.1:%d", f->server.port);
    assert_int_equal(
        md_acme_create(&f->acme, apr_pstrcat(f->pool, f->base, "/dir", NULL), NULL, NULL, f->pool),
        APR_SUCCESS);
    assert_int_equal(md_pkey_gen(&key, &unit_spec_p256, f->pool), APR_SUCCESS);
    md_acme_use_account(f->acme, key, apr_pstrcat(f->pool, f->base, "/acct/1", NULL));
}

static const char *url(fixture_t *f, const char *path)
{
    return apr_pstrcat(f->pool, f->base, path, NULL);
}

/* The last request the fake CA logged. */
static const char *last_request(fixture_t *f)
{
    char *text = NULL, *line;
    apr_size_t len;

    assert_int_equal(
        md_file_read(&text, &len, apr_pstrcat(f->pool, f->dir, "/requests.log", NULL), 0, f->pool),
        APR_SUCCESS);
    assert_true(len > 0 && text[len - 1] == '\n');
    text[len - 1] = '\0';
    line = strrchr(text, '\n');
    return line ? line + 1 : text;
}

static md_json_t *parse(const char *s, apr_pool_t *p)
{
    const char *perr;
    md_json_t *j = NULL;

    assert_int_equal(md_json_parse(&j, &perr, s, strlen(s), p), APR_SUCCESS);
    return j;
}

static apr_time_t time_of(const char *s)
{
    apr_time_t t;

    assert_int_equal(md_time_parse(&t, s), APR_SUCCESS);
    return t;
}

static const md_acme_chall_t *chall_at(const md_acme_authz_t *authz, int i)
{
    return APR_ARRAY_IDX(authz->challenges, i, const md_acme_chall_t *);
}

/* ---- JSON into structs ---- */

/* The order object of RFC 8555 7.1.3. */
static const char order_json[] =
    "{\"status\": \"valid\", \"expires\": \"2016-01-20T14:09:07.99Z\","
    " \"identifiers\": [{\"type\": \"dns\", \"value\": \"www.example.org\"},"
    "                   {\"type\": \"dns\", \"value\": \"example.org\"}],"
    " \"notBefore\": \"2016-01-01T00:00:00Z\", \"notAfter\": \"2016-01-08T00:00:00Z\","
    " \"authorizations\": [\"https://example.com/acme/authz/PAniVnsZcis\","
    "                      \"https://example.com/acme/authz/r4HqLzrSrpI\"],"
    " \"finalize\": \"https://example.com/acme/order/TOlocE8rfgo/finalize\","
    " \"certificate\": \"https://example.com/acme/cert/mAt3xBGaobw\"}";

/* The authorization object of RFC 8555 7.1.4. */
static const char authz_json[] =
    "{\"status\": \"valid\", \"expires\": \"2015-03-01T14:09:07.99Z\","
    " \"identifier\": {\"type\": \"dns\", \"value\": \"www.example.org\"},"
    " \"challenges\": [{\"url\": \"https://example.com/acme/chall/prV_B7yEyA4\","
    "                   \"type\": \"http-01\", \"status\": \"valid\","
    "                   \"token\": \"DGyRejmCefe7v4NfDGDKfA\","
    "                   \"validated\": \"2014-12-01T12:05:58.16Z\"}],"
    " \"wildcard\": false}";

static void test_order_from_json(void **state)
{
    fixture_t *f = *state;
    md_acme_order_t *o;

    assert_int_equal(md_acme_order_from_json(&o, parse(order_json, f->pool),
                                             "https://example.com/acme/order/TOlocE8rfgo", f->pool),
                     APR_SUCCESS);
    assert_string_equal(o->url, "https://example.com/acme/order/TOlocE8rfgo");
    assert_string_equal(o->status, "valid");
    assert_int_equal(o->authz_urls->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(o->authz_urls, 0, const char *),
                        "https://example.com/acme/authz/PAniVnsZcis");
    assert_string_equal(APR_ARRAY_IDX(o->authz_urls, 1, const char *),
                        "https://example.com/acme/authz/r4HqLzrSrpI");
    assert_string_equal(o->finalize, "https://example.com/acme/order/TOlocE8rfgo/finalize");
    assert_string_equal(o->certificate, "https://example.com/acme/cert/mAt3xBGaobw");
    assert_true(o->expires == time_of("2016-01-20T14:09:07.99Z"));
    assert_null(o->error);
    assert_true(o->retry_after == 0);
}

static void test_order_invalid_and_broken(void **state)
{
    fixture_t *f = *state;
    md_acme_order_t *o;

    assert_int_equal(
        md_acme_order_from_json(
            &o,
            parse("{\"status\": \"invalid\", \"authorizations\": [], \"finalize\": \"https://f\","
                  " \"error\": {\"type\": \"urn:ietf:params:acme:error:unauthorized\","
                  " \"detail\": \"no authorization for a.example\", \"status\": 403}}",
                  f->pool),
            "https://o/1", f->pool),
        APR_SUCCESS);
    assert_string_equal(o->status, "invalid");
    assert_int_equal(o->authz_urls->nelts, 0);
    assert_null(o->certificate);
    assert_true(o->expires == 0);
    assert_non_null(o->error);
    assert_string_equal(o->error->type, "urn:ietf:params:acme:error:unauthorized");
    assert_string_equal(o->error->detail, "no authorization for a.example");
    assert_int_equal(o->error->status, 403);

    assert_int_equal(md_acme_order_from_json(&o, parse("{\"finalize\": \"https://f\"}", f->pool),
                                             "https://o/2", f->pool),
                     APR_EINVAL);
    assert_null(o);
    assert_non_null(strstr(unit_log_text(), "https://o/2"));
    assert_int_equal(md_acme_order_from_json(&o, parse("[1, 2]", f->pool), "https://o/3", f->pool),
                     APR_EINVAL);
}

static void test_authz_from_json(void **state)
{
    fixture_t *f = *state;
    md_acme_authz_t *a;

    assert_int_equal(md_acme_authz_from_json(&a, parse(authz_json, f->pool),
                                             "https://example.com/acme/authz/PAniVnsZcis", f->pool),
                     APR_SUCCESS);
    assert_string_equal(a->url, "https://example.com/acme/authz/PAniVnsZcis");
    assert_string_equal(a->domain, "www.example.org");
    assert_string_equal(a->status, "valid");
    assert_true(a->expires == time_of("2015-03-01T14:09:07.99Z"));
    assert_int_equal(a->challenges->nelts, 1);
    assert_string_equal(chall_at(a, 0)->type, "http-01");
    assert_string_equal(chall_at(a, 0)->url, "https://example.com/acme/chall/prV_B7yEyA4");
    assert_string_equal(chall_at(a, 0)->token, "DGyRejmCefe7v4NfDGDKfA");
    assert_string_equal(chall_at(a, 0)->status, "valid");
    assert_null(a->error);
}

static void test_authz_wildcard_and_bad_tokens(void **state)
{
    fixture_t *f = *state;
    md_acme_authz_t *a;

    assert_int_equal(
        md_acme_authz_from_json(
            &a,
            parse("{\"status\": \"pending\", \"wildcard\": true,"
                  " \"identifier\": {\"type\": \"dns\", \"value\": \"Example.ORG\"},"
                  " \"challenges\": ["
                  "  {\"type\": \"http-01\", \"url\": \"https://c/1\", \"token\": \"../../etc\"},"
                  "  {\"type\": \"tls-alpn-01\", \"url\": \"https://c/2\", \"token\": \"a b\"},"
                  "  {\"type\": \"dns-01\", \"url\": \"https://c/3\", \"token\": \"tok-3_x\","
                  "   \"status\": \"pending\"},"
                  "  {\"type\": \"http-01\", \"url\": \"https://c/4\"}]}",
                  f->pool),
            "https://a/1", f->pool),
        APR_SUCCESS);
    assert_string_equal(a->domain, "*.example.org");
    assert_string_equal(a->status, "pending");
    assert_true(a->expires == 0);
    /* only the challenge with a base64url token is kept */
    assert_int_equal(a->challenges->nelts, 1);
    assert_string_equal(chall_at(a, 0)->type, "dns-01");
    assert_string_equal(chall_at(a, 0)->token, "tok-3_x");
    assert_non_null(strstr(unit_log_text(), "https://c/1"));
    assert_non_null(strstr(unit_log_text(), "https://c/2"));
}

/* A pending authorization of example.org whose challenges are the JSON given. */
static md_acme_authz_t *authz_with(const char *challenges, apr_pool_t *p)
{
    md_acme_authz_t *a;

    assert_int_equal(
        md_acme_authz_from_json(
            &a,
            parse(apr_pstrcat(p,
                              "{\"status\": \"pending\", \"identifier\": {\"type\": \"dns\","
                              " \"value\": \"example.org\"}, \"challenges\": [",
                              challenges, "]}", NULL),
                  p),
            "https://a/p", p),
        APR_SUCCESS);
    return a;
}

static void test_authz_dns_persist(void **state)
{
    fixture_t *f = *state;
    md_acme_authz_t *a;
    const md_acme_chall_t *c;

    /* pebble 2.10's member name; no token */
    a = authz_with(
        "{\"type\": \"dns-persist-01\", \"url\": \"https://c/1\", \"status\": \"pending\","
        " \"issuer-domain-names\": [\"Authority.Example\", \"ca.example.net\"]}",
        f->pool);
    assert_int_equal(a->challenges->nelts, 1);
    c = chall_at(a, 0);
    assert_string_equal(c->type, MD_CHALL_DNSPERSIST01);
    assert_null(c->token);
    assert_int_equal(c->issuers->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(c->issuers, 0, const char *), "authority.example");
    assert_string_equal(APR_ARRAY_IDX(c->issuers, 1, const char *), "ca.example.net");

    /* draft -02's member name */
    a = authz_with("{\"type\": \"dns-persist-01\", \"url\": \"https://c/2\","
                   " \"issuerDomainNames\": [\"authority.example\"]}",
                   f->pool);
    assert_int_equal(a->challenges->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(chall_at(a, 0)->issuers, 0, const char *),
                        "authority.example");

    /* what would make a record nobody can publish is dropped: none, not a name, a wildcard,
     * more than ten */
    unit_log_clear();
    a = authz_with("{\"type\": \"dns-persist-01\", \"url\": \"https://c/3\"},"
                   "{\"type\": \"dns-persist-01\", \"url\": \"https://c/4\","
                   " \"issuer-domain-names\": []},"
                   "{\"type\": \"dns-persist-01\", \"url\": \"https://c/5\","
                   " \"issuer-domain-names\": [\"ca.example; accounturi=x\"]},"
                   "{\"type\": \"dns-persist-01\", \"url\": \"https://c/6\","
                   " \"issuer-domain-names\": [\"*.ca.example\"]},"
                   "{\"type\": \"dns-persist-01\", \"url\": \"https://c/7\","
                   " \"issuer-domain-names\": [\"a.example\", \"b.example\", \"c.example\","
                   "  \"d.example\", \"e.example\", \"f.example\", \"g.example\","
                   "  \"h.example\", \"i.example\", \"j.example\", \"k.example\"]},"
                   "{\"type\": \"http-01\", \"url\": \"https://c/8\", \"token\": \"t8\"}",
                   f->pool);
    assert_int_equal(a->challenges->nelts, 1);
    assert_string_equal(chall_at(a, 0)->type, "http-01");
    assert_non_null(strstr(unit_log_text(), "dropping the dns-persist-01 challenge"));
}

static void test_authz_invalid_keeps_error(void **state)
{
    fixture_t *f = *state;
    md_acme_authz_t *a;

    assert_int_equal(
        md_acme_authz_from_json(
            &a,
            parse("{\"status\": \"invalid\","
                  " \"identifier\": {\"type\": \"dns\", \"value\": \"www.example.org\"},"
                  " \"challenges\": ["
                  "  {\"type\": \"dns-01\", \"url\": \"https://c/1\", \"token\": \"t1\","
                  "   \"status\": \"pending\"},"
                  "  {\"type\": \"http-01\", \"url\": \"https://c/2\", \"token\": \"t2\","
                  "   \"status\": \"invalid\", \"error\": {"
                  "     \"type\": \"urn:ietf:params:acme:error:connection\","
                  "     \"detail\": \"Connection refused\", \"status\": 400}}]}",
                  f->pool),
            "https://a/2", f->pool),
        APR_SUCCESS);
    assert_string_equal(a->status, "invalid");
    assert_int_equal(a->challenges->nelts, 2);
    assert_non_null(a->error);
    assert_string_equal(md_acme_problem_short_type(a->error), "connection");
    assert_string_equal(a->error->detail, "Connection refused");
    assert_string_equal(a->error->identifier, "www.example.org");
}

/* RFC 8738 3: an ip identifier; its address comes out in the MD's (canonical) form. */
static void test_authz_of_ip_address(void **state)
{
    fixture_t *f = *state;
    md_acme_authz_t *a;

    assert_int_equal(
        md_acme_authz_from_json(&a,
                                parse("{\"status\": \"pending\", \"identifier\": {\"type\": \"ip\","
                                      " \"value\": \"192.0.2.1\"}, \"challenges\": ["
                                      "  {\"type\": \"tls-alpn-01\", \"url\": \"https://c/1\","
                                      "   \"token\": \"t1\"}]}",
                                      f->pool),
                                "https://a/1", f->pool),
        APR_SUCCESS);
    assert_string_equal(a->domain, "192.0.2.1");
    assert_int_equal(a->challenges->nelts, 1);
    assert_int_equal(
        md_acme_authz_from_json(&a,
                                parse("{\"status\": \"valid\", \"wildcard\": true, \"identifier\": "
                                      "{\"type\": \"ip\", \"value\": \"2001:DB8:0:0::1\"}}",
                                      f->pool),
                                "https://a/2", f->pool),
        APR_SUCCESS);
    assert_string_equal(a->domain, "2001:db8::1");
    assert_string_equal(unit_log_text(), "");
}

static void test_authz_not_a_domain(void **state)
{
    fixture_t *f = *state;
    md_acme_authz_t *a;

    assert_int_equal(
        md_acme_authz_from_json(&a,
                                parse("{\"status\": \"pending\", \"identifier\": {\"type\": \"ip\","
                                      " \"value\": \"www.example.org\"}, \"challenges\": []}",
                                      f->pool),
                                "https://a/3", f->pool),
        APR_EINVAL);
    assert_null(a);
    assert_non_null(strstr(unit_log_text(), "https://a/3"));
    assert_int_equal(
        md_acme_authz_from_json(&a,
                                parse("{\"status\": \"pending\", \"identifier\": {\"type\": "
                                      "\"email\", \"value\": \"a@example.org\"}}",
                                      f->pool),
                                "https://a/5", f->pool),
        APR_EINVAL);
    assert_int_equal(md_acme_authz_from_json(&a, parse("{\"status\": \"pending\"}", f->pool),
                                             "https://a/4", f->pool),
                     APR_EINVAL);
}

/* ---- requests against the fake CA ---- */

static void test_order_flow(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *domains = apr_array_make(f->pool, 2, sizeof(const char *)), *chain, *names;
    static const unsigned char csr[] = {0x30, 0x01, 0xfb, 0xff};
    md_acme_order_t *o, *fin;
    md_acme_authz_t *a;
    md_cert_t *leaf, *issuer;
    const char *pem;
    md_pkey_t *key;

    ca_start(f);
    APR_ARRAY_PUSH(domains, const char *) = "example.org";
    APR_ARRAY_PUSH(domains, const char *) = "*.example.org";
    assert_int_equal(
        md_acme_order_new(&o, f->acme, &(md_acme_order_req_t){.domains = domains}, f->pool),
        APR_SUCCESS);
    assert_string_equal(last_request(f), "/new-order {\"identifiers\":["
                                         "{\"type\":\"dns\",\"value\":\"example.org\"},"
                                         "{\"type\":\"dns\",\"value\":\"*.example.org\"}]}");
    assert_string_equal(o->url, url(f, "/order/1"));
    assert_string_equal(o->status, "pending");
    assert_int_equal(o->authz_urls->nelts, 1);
    assert_string_equal(o->finalize, url(f, "/order/1/finalize"));
    assert_true(o->expires == time_of("2031-01-02T03:04:05Z"));
    assert_true(o->retry_after == FAKE_RETRY_AFTER);

    assert_int_equal(md_acme_order_get(&o, f->acme, o->url, f->pool), APR_SUCCESS);
    assert_string_equal(last_request(f), "/order/1 "); /* POST-as-GET: empty payload */
    assert_string_equal(o->url, url(f, "/order/1"));

    assert_int_equal(
        md_acme_authz_get(&a, f->acme, APR_ARRAY_IDX(o->authz_urls, 0, const char *), f->pool),
        APR_SUCCESS);
    assert_string_equal(last_request(f), "/authz/1 ");
    assert_string_equal(a->domain, "example.org");
    assert_int_equal(a->challenges->nelts, 1);

    assert_int_equal(md_acme_chall_respond(f->acme, chall_at(a, 0), f->pool), APR_SUCCESS);
    assert_string_equal(last_request(f), "/chall/1 {}");

    assert_int_equal(md_acme_order_finalize(&fin, f->acme, o, csr, sizeof(csr), f->pool),
                     APR_SUCCESS);
    assert_string_equal(last_request(f), "/order/1/finalize {\"csr\":\"MAH7_w\"}");
    assert_string_equal(fin->url, o->url);
    assert_string_equal(fin->status, "valid");
    assert_string_equal(fin->certificate, url(f, "/cert/1"));

    /* the chain comes back leaf first, as the CA sent it, less a self-signed top (a root) */
    names = apr_array_make(f->pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(names, const char *) = "example.org";
    assert_int_equal(md_pkey_gen(&key, &unit_spec_p256, f->pool), APR_SUCCESS);
    assert_int_equal(md_cert_self_signed(&leaf, NULL, names, key, CERT_VALID, f->pool),
                     APR_SUCCESS);
    APR_ARRAY_IDX(names, 0, const char *) = "issuer.example.net";
    assert_int_equal(md_cert_self_signed(&issuer, NULL, names, key, CERT_VALID, f->pool),
                     APR_SUCCESS);
    chain = apr_array_make(f->pool, 2, sizeof(md_cert_t *));
    APR_ARRAY_PUSH(chain, md_cert_t *) = leaf;
    APR_ARRAY_PUSH(chain, md_cert_t *) = issuer;
    assert_int_equal(md_chain_to_pem(&pem, chain, f->pool), APR_SUCCESS);
    assert_int_equal(md_file_write_atomic(apr_pstrcat(f->pool, f->dir, "/chain.pem", NULL), pem,
                                          strlen(pem), APR_FPROT_UREAD | APR_FPROT_UWRITE, f->pool),
                     APR_SUCCESS);
    assert_int_equal(md_acme_cert_download(&chain, f->acme, fin->certificate, NULL, f->pool),
                     APR_SUCCESS);
    assert_string_equal(last_request(f), "/cert/1 ");
    assert_int_equal(chain->nelts, 1);
    assert_string_equal(md_cert_fingerprint(APR_ARRAY_IDX(chain, 0, md_cert_t *), f->pool),
                        md_cert_fingerprint(leaf, f->pool));
    assert_string_equal(unit_log_text(), "");
}

/* RFC 8738 3: addresses are ordered as ip identifiers, names as dns ones, in the MD's order. */
static void test_order_new_ip_identifiers(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *domains = apr_array_make(f->pool, 3, sizeof(const char *));
    md_acme_order_t *o;

    ca_start(f);
    APR_ARRAY_PUSH(domains, const char *) = "192.0.2.10";
    APR_ARRAY_PUSH(domains, const char *) = "example.org";
    APR_ARRAY_PUSH(domains, const char *) = "2001:db8::1";
    assert_int_equal(
        md_acme_order_new(&o, f->acme, &(md_acme_order_req_t){.domains = domains}, f->pool),
        APR_SUCCESS);
    assert_string_equal(last_request(f), "/new-order {\"identifiers\":["
                                         "{\"type\":\"ip\",\"value\":\"192.0.2.10\"},"
                                         "{\"type\":\"dns\",\"value\":\"example.org\"},"
                                         "{\"type\":\"ip\",\"value\":\"2001:db8::1\"}]}");
}

/* RFC 9773 5: the order names the certificate it replaces; when the CA refuses that, the job
 * forgets it and the order is made without. */
static void test_order_replaces_and_falls_back_without(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *domains = apr_array_make(f->pool, 1, sizeof(const char *));
    md_acme_order_req_t req = {.domains = domains};
    md_job_t job = {.name = "example.org",
                    .json = md_json_new_obj(f->pool),
                    .step = MD_STEP_NONE,
                    .p = f->pool};
    md_ari_state_t ari = {"https://ca.example/dir", NULL};
    md_ari_cert_t c = {"rsa2048", "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", 0, 0, NULL, 0, 0, 0, 0,
                       NULL};
    md_acme_order_t *o;

    ca_start(f);
    APR_ARRAY_PUSH(domains, const char *) = "example.org";
    /* only a certificate the CA answered renewal information for is replaced */
    ari.certs = apr_array_make(f->pool, 1, sizeof(md_ari_cert_t *));
    APR_ARRAY_PUSH(ari.certs, md_ari_cert_t *) = &c;
    md_ari_job_replaces(&job, &ari, "https://ca.example/dir");
    assert_null(md_job_replaces(&job, "rsa2048"));
    c.checked = apr_time_now();
    md_ari_job_replaces(&job, &ari, "https://other.example/dir");
    assert_null(md_job_replaces(&job, "rsa2048"));
    md_ari_job_replaces(&job, &ari, "https://ca.example/dir");
    assert_string_equal(md_job_replaces(&job, "rsa2048"), c.cert_id);

    assert_int_equal(md_ari_order_new(&o, f->acme, &req, &job, "rsa2048", f->pool), APR_SUCCESS);
    assert_string_equal(
        last_request(f),
        "/new-order {\"identifiers\":[{\"type\":\"dns\",\"value\":\"example.org\"}],"
        "\"replaces\":\"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE\"}");
    assert_string_equal(o->status, "pending");
    assert_string_equal(unit_log_text(), "");

    md_job_set_replaces(&job, "rsa2048", "replaced.1");
    assert_int_equal(md_ari_order_new(&o, f->acme, &req, &job, "rsa2048", f->pool), APR_SUCCESS);
    assert_string_equal(last_request(f), "/new-order {\"identifiers\":[{\"type\":\"dns\","
                                         "\"value\":\"example.org\"}]}");
    assert_non_null(strstr(unit_log_text(), "alreadyReplaced"));
    assert_non_null(strstr(unit_log_text(), "ordering again without 'replaces'"));
    assert_null(md_job_replaces(&job, "rsa2048"));

    /* a refusal of the names is not about "replaces": no second order */
    unit_log_clear();
    APR_ARRAY_PUSH(domains, const char *) = "rejected.example.org";
    md_job_set_replaces(&job, "rsa2048", c.cert_id);
    assert_int_not_equal(md_ari_order_new(&o, f->acme, &req, &job, "rsa2048", f->pool),
                         APR_SUCCESS);
    assert_null(strstr(unit_log_text(), "ordering again"));
    assert_non_null(strstr(last_request(f), "\"replaces\""));
    assert_string_equal(md_job_replaces(&job, "rsa2048"), c.cert_id);
}

static void test_ca_problems_are_reported(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *domains = apr_array_make(f->pool, 2, sizeof(const char *)), *chain;
    md_acme_order_t *o;

    ca_start(f);
    APR_ARRAY_PUSH(domains, const char *) = "example.org";
    APR_ARRAY_PUSH(domains, const char *) = "rejected.example.org";
    assert_int_not_equal(
        md_acme_order_new(&o, f->acme, &(md_acme_order_req_t){.domains = domains}, f->pool),
        APR_SUCCESS);
    assert_null(o);
    assert_non_null(
        strstr(unit_log_text(), "creating an order for example.org, rejected.example.org"));
    assert_non_null(strstr(unit_log_text(), "rejectedIdentifier: policy forbids"));
    assert_non_null(strstr(unit_log_text(), "rejected.example.org: not allowed"));

    unit_log_clear();
    assert_int_not_equal(md_acme_order_get(&o, f->acme, url(f, "/order/404"), f->pool),
                         APR_SUCCESS);
    assert_non_null(strstr(unit_log_text(),
                           apr_pstrcat(f->pool, "fetching order ", url(f, "/order/404"), NULL)));
    assert_non_null(strstr(unit_log_text(), "malformed: no such resource"));

    unit_log_clear();
    assert_int_equal(md_acme_cert_download(&chain, f->acme, url(f, "/cert/empty"), NULL, f->pool),
                     APR_EINVAL);
    assert_null(chain);
    assert_non_null(strstr(unit_log_text(), url(f, "/cert/empty")));

    /* no finalize URL: nothing is sent */
    unit_log_clear();
    o = apr_pcalloc(f->pool, sizeof(*o));
    o->url = url(f, "/order/1");
    assert_int_equal(
        md_acme_order_finalize(&o, f->acme, o, (const unsigned char *) "x", 1, f->pool),
        APR_EINVAL);
    assert_non_null(strstr(unit_log_text(), "finalize"));
}

/* draft-ietf-acme-profiles: a profile asked for goes into newOrder; the one the CA gave the
 * order is read back (fake CA answers echo none: NULL) */
static void test_order_asks_for_profile(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *domains = apr_array_make(f->pool, 1, sizeof(const char *));
    md_acme_order_req_t req = {.domains = domains, .profile = "shortlived"};
    md_acme_order_t *o;

    ca_start(f);
    APR_ARRAY_PUSH(domains, const char *) = "example.org";
    assert_int_equal(md_acme_order_new(&o, f->acme, &req, f->pool), APR_SUCCESS);
    assert_string_equal(last_request(f), "/new-order {\"identifiers\":["
                                         "{\"type\":\"dns\",\"value\":\"example.org\"}],"
                                         "\"profile\":\"shortlived\"}");
    assert_null(o->profile);
    assert_int_equal(md_acme_order_from_json(&o,
                                             parse("{\"status\": \"pending\", \"profile\": "
                                                   "\"shortlived\"}",
                                                   f->pool),
                                             "https://a/1", f->pool),
                     APR_SUCCESS);
    assert_string_equal(o->profile, "shortlived");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_from_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_invalid_and_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authz_from_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authz_wildcard_and_bad_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authz_dns_persist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authz_invalid_keeps_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authz_of_ip_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authz_not_a_domain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_new_ip_identifiers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_replaces_and_falls_back_without, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ca_problems_are_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_asks_for_profile, setup, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

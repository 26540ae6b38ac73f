/* test_acme.c: unit tests of md_acme.c -- problem documents, key authorizations, and the
 * transport (directory, nonces, badNonce retries, signed POSTs) against a local fake CA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "md.h"
#include "md_acme.h"
#include "md_jws.h"
#include "md_log.h"
#include "md_util.h"
#include "unit_fixture.h"
#include "unit_keys.h"
#include "unit_server.h"

#define RETRY_AFTER_SECS 7 /* what the fake CA's success answers ask for */

/* A fake CA on one 127.0.0.1 port. Only HEAD /nonce and POSTs hand out Replay-Nonces
 * ("nonce-<n>"); every nonce given and used is logged for GET /stats.
 *   GET  /dir, /dir-eab   directories (the second with terms and externalAccountRequired)
 *   GET  /notjson, /notacme, /down   not an ACME directory / 503
 *   POST /bad/<n>/<name>  badNonce for the first n POSTs to <name>, then 201 + Location,
 *                         Retry-After; the body echoes the JWS protected header, payload and
 *                         Content-Type
 *   POST /limited         429 rateLimited problem with subproblems
 *   POST /oops            503 text/plain */
static const char server_py[] =
    "import base64, http.server, json, os, sys, threading\n"
    "d = sys.argv[1]\n"
    "lock = threading.Lock()\n"
    "st = {'n': 0, 'log': [], 'counts': {}, 'gets': {}}\n"
    "def b64d(s):\n"
    "    return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "    def base(self):\n"
    "        return 'http://127.0.0.1:%d' % self.server.server_address[1]\n"
    "    def reply(self, status, obj=None, ctype='application/json', headers=(), used=None,\n"
    "              nonce=True, raw=None):\n"
    "        body = raw if raw is not None else (json.dumps(obj).encode() if obj is not None\n"
    "                                            else b'')\n"
    "        self.send_response(status)\n"
    "        for k, v in headers:\n"
    "            self.send_header(k, v)\n"
    "        with lock:\n"
    "            gave = None\n"
    "            if nonce:\n"
    "                st['n'] += 1\n"
    "                gave = 'nonce-%d' % st['n']\n"
    "                self.send_header('Replay-Nonce', gave)\n"
    "            if nonce or used:\n"
    "                st['log'].append({'method': self.command, 'path': self.path,\n"
    "                                  'used': used, 'gave': gave})\n"
    "        if body:\n"
    "            self.send_header('Content-Type', ctype)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        if self.command != 'HEAD':\n"
    "            self.wfile.write(body)\n"
    "    def do_HEAD(self):\n"
    "        self.reply(200 if self.path == '/nonce' else 404, nonce=self.path == '/nonce')\n"
    "    def do_GET(self):\n"
    "        p = self.path\n"
    "        with lock:\n"
    "            st['gets'][p] = st['gets'].get(p, 0) + 1\n"
    "        b = self.base()\n"
    "        dr = {'newNonce': b + '/nonce', 'newAccount': b + '/acct', 'newOrder': b + '/order'}\n"
    "        if p == '/dir':\n"
    "            self.reply(200, dr, nonce=False)\n"
    "        elif p == '/dir-eab':\n"
    "            dr['meta'] = {'termsOfService': b + '/terms', 'externalAccountRequired': True}\n"
    "            self.reply(200, dr, nonce=False)\n"
    "        elif p == '/notjson':\n"
    "            self.reply(200, raw=b'<html>hi</html>', ctype='text/html', nonce=False)\n"
    "        elif p == '/notacme':\n"
    "            self.reply(200, {'newNonce': b + '/nonce'}, nonce=False)\n"
    "        elif p == '/down':\n"
    "            self.reply(503, raw=b'down', ctype='text/plain', nonce=False)\n"
    "        elif p == '/stats':\n"
    "            with lock:\n"
    "                s = json.dumps(st)\n"
    "            self.reply(200, raw=s.encode(), nonce=False)\n"
    "        else:\n"
    "            self.reply(404, nonce=False)\n"
    "    def do_POST(self):\n"
    "        data = self.rfile.read(int(self.headers.get('Content-Length', '0')))\n"
    "        jws = json.loads(data)\n"
    "        prot = json.loads(b64d(jws['protected']))\n"
    "        echo = {'protected': prot, 'payload': b64d(jws['payload']).decode(),\n"
    "                'content-type': self.headers.get('Content-Type')}\n"
    "        used = prot.get('nonce')\n"
    "        parts = self.path.split('/')\n"
    "        pj = 'application/problem+json'\n"
    "        if parts[1] == 'bad':\n"
    "            with lock:\n"
    "                c = st['counts'].get(parts[3], 0)\n"
    "                st['counts'][parts[3]] = c + 1\n"
    "            if c < int(parts[2]):\n"
    "                self.reply(400, {'type': 'urn:ietf:params:acme:error:badNonce',\n"
    "                                 'detail': 'stale nonce'}, ctype=pj, used=used)\n"
    "            else:\n"
    "                self.reply(201, echo, used=used, headers=[\n"
    "                    ('Location', self.base() + '/acct/1'), ('Retry-After', '7')])\n"
    "        elif self.path == '/limited':\n"
    "            self.reply(429, {'type': 'urn:ietf:params:acme:error:rateLimited',\n"
    "                'detail': 'slow down', 'subproblems': [\n"
    "                    {'type': 'urn:ietf:params:acme:error:rejectedIdentifier',\n"
    "                     'detail': 'no', 'identifier': {'type': 'dns',\n"
    "                                                    'value': 'x.example.org'}}]},\n"
    "                ctype=pj, used=used)\n"
    "        elif self.path == '/oops':\n"
    "            self.reply(503, raw=b'oops', ctype='text/plain', used=used)\n"
    "        else:\n"
    "            self.reply(404, used=used)\n" UNIT_SERVER_PY_SERVE;

typedef struct {
    apr_pool_t *pool;
    char dir[UNIT_DIR_LEN];
    unit_server_t server;
    md_pkey_t *key; /* an account key, EC P-256 */
} fixture_t;

static int group_setup(void **state)
{
    static const md_pkey_spec_t p256 = {MD_PKEY_EC, 0, "secp256r1"};
    fixture_t *f = calloc(1, sizeof(*f));

    if (!f) {
        return -1;
    }
    *state = f;
    if (unit_net_open(&f->pool, f->dir) != 0 ||
        md_pkey_gen(&f->key, &p256, f->pool) != APR_SUCCESS) {
        return -1;
    }
    return unit_server_start(&f->server, f->dir, server_py, f->pool);
}

static int group_teardown(void **state)
{
    fixture_t *f = *state;

    unit_net_close(f->pool, f->dir, &f->server);
    free(f);
    return 0;
}

static const char *url_of(fixture_t *f, const char *path)
{
    return unit_server_url(&f->server, path, f->pool);
}

static md_acme_t *acme_of(fixture_t *f, const char *dir_path)
{
    md_acme_t *acme = NULL;

    assert_int_equal(APR_SUCCESS, md_acme_create(&acme, url_of(f, dir_path), NULL, NULL, f->pool));
    return acme;
}

static md_json_t *parse(fixture_t *f, const char *text)
{
    md_json_t *j = NULL;
    const char *err = NULL;

    assert_int_equal(APR_SUCCESS, md_json_parse(&j, &err, text, strlen(text), f->pool));
    return j;
}

/* The fake CA's log: what it was asked and which nonces it gave and got. */
static md_json_t *server_stats(fixture_t *f)
{
    md_http_t *h;
    md_http_response_t *res;

    assert_int_equal(APR_SUCCESS, md_http_create(&h, f->pool, NULL, NULL, NULL));
    assert_int_equal(APR_SUCCESS,
                     md_http_request(&res, h, "GET", url_of(f, "/stats"), NULL, NULL, 0, f->pool));
    assert_int_equal(200, res->status);
    return parse(f, res->body);
}

/* The log entries of the fake CA for requests to path, in order. */
static apr_array_header_t *log_for(fixture_t *f, const char *path)
{
    md_json_t *log = md_json_get(server_stats(f), "log", f->pool);
    apr_array_header_t *out = apr_array_make(f->pool, 4, sizeof(md_json_t *));
    apr_size_t i;

    for (i = 0; i < md_json_len(log); ++i) {
        md_json_t *e = md_json_at(log, i, f->pool);
        if (!strcmp(md_json_get_str(e, "path"), path)) {
            APR_ARRAY_PUSH(out, md_json_t *) = e;
        }
    }
    return out;
}

/* ---- problem documents ---- */

static void test_problem_parse_with_subproblems(void **state)
{
    fixture_t *f = *state;
    md_acme_problem_t *prob, *sub;
    md_json_t *j = parse(
        f, "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
           "\"detail\":\"some names are refused\",\"status\":400,\"subproblems\":["
           "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\",\"detail\":\"blocked\","
           "\"identifier\":{\"type\":\"dns\",\"value\":\"www.example.org\"}},"
           "{\"type\":\"urn:ietf:params:acme:error:caa\",\"detail\":\"CAA forbids\","
           "\"identifier\":{\"type\":\"dns\",\"value\":\"mail.example.org\"}},"
           "{\"detail\":\"no type: not a problem\"}]}");

    assert_int_equal(APR_SUCCESS, md_acme_problem_parse(&prob, j, 0, f->pool));
    assert_string_equal("urn:ietf:params:acme:error:rejectedIdentifier", prob->type);
    assert_string_equal("rejectedIdentifier", md_acme_problem_short_type(prob));
    assert_string_equal("some names are refused", prob->detail);
    assert_int_equal(400, prob->status);
    assert_null(prob->identifier);
    assert_int_equal(2, prob->subproblems->nelts);
    sub = APR_ARRAY_IDX(prob->subproblems, 1, md_acme_problem_t *);
    assert_string_equal("caa", md_acme_problem_short_type(sub));
    assert_string_equal("mail.example.org", sub->identifier);
    assert_int_equal(400, sub->status); /* inherited */
    assert_string_equal("rejectedIdentifier: some names are refused (www.example.org: blocked; "
                        "mail.example.org: CAA forbids)",
                        md_acme_problem_str(prob, f->pool));
    assert_int_equal(APR_EINVAL, md_acme_problem_status(prob));
}

static void test_problem_not_acme(void **state)
{
    fixture_t *f = *state;
    md_acme_problem_t *prob = NULL;

    assert_int_equal(APR_EINVAL,
                     md_acme_problem_parse(&prob, parse(f, "{\"detail\":\"x\"}"), 500, f->pool));
    assert_null(prob);
    /* a non-ACME type keeps its full name, the HTTP status fills a missing one */
    assert_int_equal(
        APR_SUCCESS,
        md_acme_problem_parse(&prob, parse(f, "{\"type\":\"https://ca/e/x\"}"), 500, f->pool));
    assert_string_equal("https://ca/e/x", md_acme_problem_short_type(prob));
    assert_int_equal(500, prob->status);
    assert_string_equal("https://ca/e/x", md_acme_problem_str(prob, f->pool));
}

static void test_problem_status_mapping(void **state)
{
    static const struct {
        const char *type;
        apr_status_t rv;
    } cases[] = {
        {"badNonce", APR_EAGAIN},           {"rateLimited", APR_EAGAIN},
        {"serverInternal", APR_EAGAIN},     {"unauthorized", APR_EACCES},
        {"userActionRequired", APR_EACCES}, {"accountDoesNotExist", APR_EACCES},
        {"malformed", APR_EINVAL},          {"rejectedIdentifier", APR_EINVAL},
    };
    fixture_t *f = *state;
    md_acme_problem_t *prob;
    unsigned i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        md_json_t *j = md_json_new_obj(f->pool);
        md_json_set_str(j, "type",
                        apr_pstrcat(f->pool, MD_ACME_PROBLEM_PREFIX, cases[i].type, NULL));
        assert_int_equal(APR_SUCCESS, md_acme_problem_parse(&prob, j, 400, f->pool));
        assert_string_equal(cases[i].type, md_acme_problem_short_type(prob));
        assert_int_equal(cases[i].rv, md_acme_problem_status(prob));
    }
}

/* ---- key authorizations ---- */

static void test_key_authz_rfc7638(void **state)
{
    fixture_t *f = *state;
    md_acme_t *acme = acme_of(f, "/dir");
    const char *authz = NULL;

    md_acme_use_account(acme, unit_rfc7638_key(f->pool), NULL);
    assert_int_equal(APR_SUCCESS, md_acme_key_authz(&authz, acme,
                                                    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-"
                                                    "PCt92wr-oA",
                                                    f->pool));
    assert_string_equal(apr_pstrcat(f->pool, "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.",
                                    unit_rfc7638_thumb, NULL),
                        authz);
}

static void test_key_authz_refuses_bad_tokens(void **state)
{
    static const char *const bad[] = {"", "../../etc/passwd", "a.b", "tok en", "abc=", "a/b"};
    fixture_t *f = *state;
    md_acme_t *acme = acme_of(f, "/dir");
    const char *authz = "unchanged";
    unsigned i;

    md_acme_use_account(acme, f->key, NULL);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        unit_log_clear();
        assert_int_equal(APR_EINVAL, md_acme_key_authz(&authz, acme, bad[i], f->pool));
        assert_null(authz);
        assert_int_equal(1, unit_log_count());
    }
    assert_int_equal(APR_EINVAL, md_acme_key_authz(&authz, acme, NULL, f->pool));
}

/* ---- directory ---- */

static void test_directory_fetched_once(void **state)
{
    fixture_t *f = *state;
    md_acme_t *acme = acme_of(f, "/dir-eab");
    const md_acme_directory_t *dir = NULL, *again = NULL;
    long long before =
        md_json_get_int(md_json_get(server_stats(f), "gets", f->pool), "/dir-eab", 0);

    assert_int_equal(APR_SUCCESS, md_acme_directory(&dir, acme));
    assert_string_equal(url_of(f, "/dir-eab"), dir->url);
    assert_string_equal(url_of(f, "/nonce"), dir->new_nonce);
    assert_string_equal(url_of(f, "/acct"), dir->new_account);
    assert_string_equal(url_of(f, "/order"), dir->new_order);
    assert_string_equal(url_of(f, "/terms"), dir->terms_of_service);
    assert_true(dir->eab_required);
    assert_null(dir->revoke_cert);
    assert_int_equal(APR_SUCCESS, md_acme_directory(&again, acme));
    assert_ptr_equal(dir, again);
    assert_int_equal(before + 1,
                     md_json_get_int(md_json_get(server_stats(f), "gets", f->pool), "/dir-eab", 0));
}

static void test_directory_errors_name_the_url(void **state)
{
    static const char *const paths[] = {"/notjson", "/notacme", "/down"};
    fixture_t *f = *state;
    const md_acme_directory_t *dir = NULL;
    md_acme_t *acme;
    const char *url;
    unsigned i;

    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); ++i) {
        url = url_of(f, paths[i]);
        unit_log_clear();
        assert_int_equal(APR_EINVAL, md_acme_directory(&dir, acme_of(f, paths[i])));
        assert_null(dir);
        assert_int_equal(1, unit_log_count());
        assert_non_null(strstr(unit_log_last_error(), apr_pstrcat(f->pool, url,
                                                                  " is not an ACME "
                                                                  "directory",
                                                                  NULL)));
    }
    url = apr_psprintf(f->pool, "http://127.0.0.1:%d/dir", unit_closed_port());
    assert_int_equal(APR_SUCCESS, md_acme_create(&acme, url, NULL, NULL, f->pool));
    assert_true(APR_STATUS_IS_ECONNREFUSED(md_acme_directory(&dir, acme)));
    assert_null(dir);
    assert_non_null(strstr(unit_log_last_error(),
                           apr_pstrcat(f->pool, "cannot reach the ACME server at ", url, NULL)));
}

/* ---- signed POSTs and nonces ---- */

static void test_post_signs_and_keeps_nonces(void **state)
{
    fixture_t *f = *state;
    md_acme_t *acme = acme_of(f, "/dir");
    const char *url = url_of(f, "/bad/0/echo");
    md_json_t *payload = md_json_new_obj(f->pool), *prot;
    md_acme_res_t *res = NULL;
    apr_array_header_t *heads_before = log_for(f, "/nonce"), *heads_after, *posts;

    md_json_set_bool(payload, "onlyReturnExisting", 1);
    md_acme_use_account(acme, f->key, NULL);
    assert_int_equal(APR_SUCCESS, md_acme_post(&res, acme, url, payload, f->pool));
    assert_int_equal(201, res->status);
    assert_string_equal(url_of(f, "/acct/1"), res->location);
    assert_true(res->retry_after == apr_time_from_sec(RETRY_AFTER_SECS));
    assert_non_null(res->json);
    assert_string_equal("application/jose+json", md_json_get_str(res->json, "content-type"));
    assert_string_equal("{\"onlyReturnExisting\":true}", md_json_get_str(res->json, "payload"));
    prot = md_json_get(res->json, "protected", f->pool);
    assert_string_equal("ES256", md_json_get_str(prot, "alg"));
    assert_string_equal(url, md_json_get_str(prot, "url"));
    assert_true(md_json_has(prot, "jwk"));
    assert_false(md_json_has(prot, "kid"));
    assert_null(md_acme_last_problem(acme));

    /* as an account: kid instead of jwk, the nonce of the last answer, no new HEAD */
    md_acme_use_account(acme, f->key, url_of(f, "/acct/1"));
    assert_int_equal(APR_SUCCESS, md_acme_post(&res, acme, url, NULL, f->pool));
    prot = md_json_get(res->json, "protected", f->pool);
    assert_string_equal(url_of(f, "/acct/1"), md_json_get_str(prot, "kid"));
    assert_false(md_json_has(prot, "jwk"));
    assert_string_equal("", md_json_get_str(res->json, "payload")); /* POST-as-GET */

    heads_after = log_for(f, "/nonce");
    posts = log_for(f, "/bad/0/echo");
    assert_int_equal(heads_before->nelts + 1, heads_after->nelts);
    assert_int_equal(2, posts->nelts);
    assert_string_equal(
        md_json_get_str(APR_ARRAY_IDX(heads_after, heads_after->nelts - 1, md_json_t *), "gave"),
        md_json_get_str(APR_ARRAY_IDX(posts, 0, md_json_t *), "used"));
    assert_string_equal(md_json_get_str(APR_ARRAY_IDX(posts, 0, md_json_t *), "gave"),
                        md_json_get_str(APR_ARRAY_IDX(posts, 1, md_json_t *), "used"));
}

static void test_bad_nonce_retried_with_fresh_nonce(void **state)
{
    fixture_t *f = *state;
    md_acme_t *acme = acme_of(f, "/dir");
    md_acme_res_t *res = NULL;
    apr_array_header_t *posts;
    int i;

    md_acme_use_account(acme, f->key, NULL);
    assert_int_equal(APR_SUCCESS, md_acme_post(&res, acme, url_of(f, "/bad/3/retry"),
                                               md_json_new_obj(f->pool), f->pool));
    assert_int_equal(201, res->status);
    assert_int_equal(0, unit_log_count());
    posts = log_for(f, "/bad/3/retry");
    assert_int_equal(4, posts->nelts);
    for (i = 1; i < posts->nelts; ++i) {
        /* each retry signs with the nonce the badNonce answer carried */
        assert_string_equal(md_json_get_str(APR_ARRAY_IDX(posts, i - 1, md_json_t *), "gave"),
                            md_json_get_str(APR_ARRAY_IDX(posts, i, md_json_t *), "used"));
    }
}

static void test_bad_nonce_gives_up(void **state)
{
    fixture_t *f = *state;
    md_acme_t *acme = acme_of(f, "/dir");
    md_acme_res_t *res = NULL;
    const md_acme_problem_t *prob;

    md_acme_use_account(acme, f->key, NULL);
    assert_int_equal(APR_EAGAIN,
                     md_acme_post(&res, acme, url_of(f, "/bad/1000/never"), NULL, f->pool));
    assert_int_equal(MD_ACME_BAD_NONCE_RETRIES + 1, log_for(f, "/bad/1000/never")->nelts);
    prob = md_acme_last_problem(acme);
    assert_non_null(prob);
    assert_string_equal("badNonce", md_acme_problem_short_type(prob));
    assert_int_equal(0, unit_log_count()); /* the caller says what it was doing */
}

static void test_problem_answer_kept(void **state)
{
    fixture_t *f = *state;
    md_acme_t *acme = acme_of(f, "/dir");
    md_acme_res_t *res = NULL;
    const md_acme_problem_t *prob;

    md_acme_use_account(acme, f->key, NULL);
    assert_int_equal(APR_EAGAIN, md_acme_post(&res, acme, url_of(f, "/limited"), NULL, f->pool));
    prob = md_acme_last_problem(acme);
    assert_non_null(prob);
    assert_int_equal(429, prob->status);
    assert_string_equal("rateLimited: slow down (x.example.org: no)",
                        md_acme_problem_str(prob, f->pool));
    assert_int_equal(1, log_for(f, "/limited")->nelts); /* not retried */

    /* a later success forgets it */
    assert_int_equal(APR_SUCCESS, md_acme_post(&res, acme, url_of(f, "/bad/0/ok"), NULL, f->pool));
    assert_null(md_acme_last_problem(acme));
}

static void test_error_without_problem(void **state)
{
    fixture_t *f = *state;
    md_acme_t *acme = acme_of(f, "/dir");
    md_acme_res_t *res = NULL;
    const md_acme_problem_t *prob;

    md_acme_use_account(acme, f->key, NULL);
    assert_int_equal(APR_EGENERAL, md_acme_post(&res, acme, url_of(f, "/oops"), NULL, f->pool));
    prob = md_acme_last_problem(acme);
    assert_non_null(prob);
    assert_int_equal(503, prob->status);
    assert_non_null(strstr(md_acme_problem_str(prob, f->pool), "HTTP 503"));
}

static void test_post_needs_a_key(void **state)
{
    fixture_t *f = *state;
    md_acme_res_t *res = NULL;

    assert_int_equal(APR_EINVAL,
                     md_acme_post(&res, acme_of(f, "/dir"), url_of(f, "/bad/0/x"), NULL, f->pool));
    assert_int_equal(1, unit_log_count());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_problem_parse_with_subproblems, unit_log_clear_setup),
        cmocka_unit_test_setup(test_problem_not_acme, unit_log_clear_setup),
        cmocka_unit_test_setup(test_problem_status_mapping, unit_log_clear_setup),
        cmocka_unit_test_setup(test_key_authz_rfc7638, unit_log_clear_setup),
        cmocka_unit_test_setup(test_key_authz_refuses_bad_tokens, unit_log_clear_setup),
        cmocka_unit_test_setup(test_directory_fetched_once, unit_log_clear_setup),
        cmocka_unit_test_setup(test_directory_errors_name_the_url, unit_log_clear_setup),
        cmocka_unit_test_setup(test_post_signs_and_keeps_nonces, unit_log_clear_setup),
        cmocka_unit_test_setup(test_bad_nonce_retried_with_fresh_nonce, unit_log_clear_setup),
        cmocka_unit_test_setup(test_bad_nonce_gives_up, unit_log_clear_setup),
        cmocka_unit_test_setup(test_problem_answer_kept, unit_log_clear_setup),
        cmocka_unit_test_setup(test_error_without_problem, unit_log_clear_setup),
        cmocka_unit_test_setup(test_post_needs_a_key, unit_log_clear_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

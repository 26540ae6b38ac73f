/* test_acme_acct.c: unit tests of md_acme_acct.c against a local fake CA -- register (store
 * format, ids, terms, external account binding), validate, find, update, deactivate. */
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
#include "md_log.h"
#include "md_store.h"
#include "md_util.h"
#include "unit_fixture.h"
#include "unit_server.h"

#define EAB_KID "kid-1"
/* base64url of the fake CA's EAB MAC key (any bytes do) */
#define EAB_HMAC "c2VjcmV0LW1hYy1rZXktZm9yLXRoZS11bml0LXRlc3Rz"

/* A fake CA that keeps accounts by their key's JWK ("x" of EC, "n" of RSA keys).
 *   GET  /dir            no terms;  /dir-tos: terms <base>/terms;  /dir-eab: terms + EAB
 *   POST /acct           newAccount: onlyReturnExisting -> 200 / 400 accountDoesNotExist /
 *                        403 unauthorized (deactivated); else creates (checks an EAB with
 *                        the MAC key, kid and url; 401 unauthorized when wrong) -> 201
 *   POST /acct/<n>       contact update or {"status":"deactivated"}; kid must be its URL
 * Every request is logged for GET /stats. */
static const char server_py[] =
    "import base64, hashlib, hmac, http.server, json, os, sys, threading\n"
    "d = sys.argv[1]\n"
    "MAC = base64.urlsafe_b64decode('" EAB_HMAC "' + '==')\n"
    "lock = threading.Lock()\n"
    "st = {'n': 0, 'accts': {}, 'log': []}\n"
    "P = 'urn:ietf:params:acme:error:'\n"
    "def b64d(s):\n"
    "    return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "    def base(self):\n"
    "        return 'http://127.0.0.1:%d' % self.server.server_address[1]\n"
    "    def reply(self, status, obj=None, ctype='application/json', headers=()):\n"
    "        body = json.dumps(obj).encode() if obj is not None else b''\n"
    "        self.send_response(status)\n"
    "        for k, v in headers:\n"
    "            self.send_header(k, v)\n"
    "        with lock:\n"
    "            st['n'] += 1\n"
    "            self.send_header('Replay-Nonce', 'n%d' % st['n'])\n"
    "        if body:\n"
    "            self.send_header('Content-Type', ctype)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        if self.command != 'HEAD':\n"
    "            self.wfile.write(body)\n"
    "    def problem(self, status, t, detail):\n"
    "        self.reply(status, {'type': P + t, 'detail': detail}, 'application/problem+json')\n"
    "    def do_HEAD(self):\n"
    "        self.reply(200)\n"
    "    def do_GET(self):\n"
    "        b = self.base()\n"
    "        dr = {'newNonce': b + '/nonce', 'newAccount': b + '/acct', 'newOrder': b + '/o'}\n"
    "        if self.path == '/stats':\n"
    "            with lock:\n"
    "                snapshot = json.loads(json.dumps(st))\n"
    "            return self.reply(200, snapshot)\n"
    "        if self.path in ('/dir-tos', '/dir-eab'):\n"
    "            dr['meta'] = {'termsOfService': b + '/terms',\n"
    "                          'externalAccountRequired': self.path == '/dir-eab'}\n"
    "        self.reply(200, dr)\n"
    "    def eab_ok(self, eab, jwk):\n"
    "        prot = json.loads(b64d(eab['protected']))\n"
    "        mac = hmac.new(MAC, (eab['protected'] + '.' + eab['payload']).encode(),\n"
    "                       hashlib.sha256).digest()\n"
    "        return (prot == {'alg': 'HS256', 'kid': '" EAB_KID "', 'url': self.base() + '/acct'}\n"
    "                and json.loads(b64d(eab['payload'])) == jwk\n"
    "                and hmac.compare_digest(mac, b64d(eab['signature'])))\n"
    "    def do_POST(self):\n"
    "        jws = json.loads(self.rfile.read(int(self.headers.get('Content-Length', '0'))))\n"
    "        prot = json.loads(b64d(jws['protected']))\n"
    "        pl = json.loads(b64d(jws['payload'])) if jws['payload'] else None\n"
    "        with lock:\n"
    "            st['log'].append({'path': self.path, 'protected': prot, 'payload': pl})\n"
    "        if self.path == '/acct':\n"
    "            x = prot['jwk'].get('x') or prot['jwk'].get('n')\n"
    "            a = st['accts'].get(x)\n"
    "            if pl.get('onlyReturnExisting'):\n"
    "                if not a:\n"
    "                    return self.problem(400, 'accountDoesNotExist', 'no such account')\n"
    "                if a['status'] != 'valid':\n"
    "                    return self.problem(403, 'unauthorized', 'account is deactivated')\n"
    "                return self.reply(200, a, headers=[('Location', a['url'])])\n"
    "            if 'externalAccountBinding' in pl and not self.eab_ok(\n"
    "                    pl['externalAccountBinding'], prot['jwk']):\n"
    "                return self.problem(401, 'unauthorized', 'bad external account binding')\n"
    "            with lock:\n"
    "                n = len(st['accts'])\n"
    "                a = {'status': 'valid', 'contact': pl.get('contact', []),\n"
    "                     'orders': self.base() + '/orders/%d' % n,\n"
    "                     'url': self.base() + '/acct/%d' % n}\n"
    "                st['accts'][x] = a\n"
    "            return self.reply(201, a, headers=[('Location', a['url'])])\n"
    "        for a in st['accts'].values():\n"
    "            if a['url'] == self.base() + self.path and prot.get('kid') == a['url']:\n"
    "                if pl and pl.get('status') == 'deactivated':\n"
    "                    a['status'] = 'deactivated'\n"
    "                elif pl and 'contact' in pl:\n"
    "                    a['contact'] = pl['contact']\n"
    "                return self.reply(200, a)\n"
    "        self.problem(401, 'unauthorized', 'no account at this URL for this "
    "kid')\n" UNIT_SERVER_PY_SERVE;

typedef struct {
    apr_pool_t *pool;
    char dir[UNIT_DIR_LEN];
    unit_server_t server;
    int stores; /* stores made so far: each test gets a fresh one */
} fixture_t;

static int group_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    if (!f) {
        return -1;
    }
    *state = f;
    if (unit_net_open(&f->pool, f->dir) != 0) {
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

static md_store_t *new_store(fixture_t *f)
{
    md_store_t *store = NULL;
    const char *dir = apr_psprintf(f->pool, "%s/store%d", f->dir, ++f->stores);

    assert_int_equal(APR_SUCCESS, md_store_fs_open(&store, dir, 1, f->pool));
    return store;
}

static apr_array_header_t *contacts_of(fixture_t *f, const char *c1, const char *c2)
{
    apr_array_header_t *a = apr_array_make(f->pool, 2, sizeof(const char *));

    APR_ARRAY_PUSH(a, const char *) = c1;
    if (c2) {
        APR_ARRAY_PUSH(a, const char *) = c2;
    }
    return a;
}

/* The fake CA's log of POSTs to path. */
static apr_array_header_t *posts_to(fixture_t *f, const char *path)
{
    md_http_t *h;
    md_http_response_t *res;
    md_json_t *stats, *log;
    apr_array_header_t *out = apr_array_make(f->pool, 4, sizeof(md_json_t *));
    const char *err = NULL;
    apr_size_t i;

    assert_int_equal(APR_SUCCESS, md_http_create(&h, f->pool, NULL, NULL, NULL));
    assert_int_equal(APR_SUCCESS,
                     md_http_request(&res, h, "GET", url_of(f, "/stats"), NULL, NULL, 0, f->pool));
    assert_int_equal(APR_SUCCESS, md_json_parse(&stats, &err, res->body, res->body_len, f->pool));
    log = md_json_get(stats, "log", f->pool);
    for (i = 0; i < md_json_len(log); ++i) {
        md_json_t *e = md_json_at(log, i, f->pool);
        if (!strcmp(md_json_get_str(e, "path"), path)) {
            APR_ARRAY_PUSH(out, md_json_t *) = e;
        }
    }
    return out;
}

static md_json_t *last_payload(fixture_t *f, const char *path)
{
    apr_array_header_t *posts = posts_to(f, path);

    assert_true(posts->nelts > 0);
    return md_json_get(APR_ARRAY_IDX(posts, posts->nelts - 1, md_json_t *), "payload", f->pool);
}

static md_json_t *stored_json(fixture_t *f, md_store_t *store, const char *id)
{
    md_json_t *j = NULL;
    const char *err = NULL;

    assert_int_equal(APR_SUCCESS, md_store_load_json(&j, &err, store, MD_SG_ACCOUNTS, id,
                                                     MD_FN_ACCOUNT, f->pool));
    return j;
}

static void test_register_stores_account(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = new_store(f);
    md_acme_t *acme = acme_of(f, "/dir");
    md_acme_acct_t *acct = NULL, *second = NULL;
    md_pkey_spec_t *spec;
    md_pkey_t *key;
    md_json_t *j, *reg;
    const char *err = NULL;

    assert_int_equal(APR_SUCCESS,
                     md_acme_acct_register(&acct, acme, store,
                                           contacts_of(f, "mailto:a@example.org", NULL), NULL, NULL,
                                           NULL, NULL, f->pool));
    assert_string_equal("ACME-127.0.0.1-0000", acct->id);
    j = stored_json(f, store, acct->id);
    assert_string_equal("valid", md_json_get_str(j, "status"));
    assert_string_equal(acct->url, md_json_get_str(j, "url"));
    assert_true(strncmp(acct->url, url_of(f, "/acct/"), strlen(url_of(f, "/acct/"))) == 0);
    assert_string_equal(url_of(f, "/dir"), md_json_get_str(j, "ca-url"));
    assert_string_equal("mailto:a@example.org",
                        APR_ARRAY_IDX(md_json_get_strs(j, "contact", f->pool), 0, const char *));
    assert_non_null(md_json_get_str(j, "orders"));
    assert_false(md_json_has(j, "agreement")); /* this CA has no terms, none was agreed */
    reg = md_json_get(j, "registration", f->pool);
    assert_string_equal(acct->url, md_json_get_str(reg, "url"));
    /* the CA was not told about terms it does not have */
    assert_false(md_json_has(last_payload(f, "/acct"), "termsOfServiceAgreed"));

    assert_int_equal(APR_SUCCESS, md_store_load_pkey(&key, &err, store, MD_SG_ACCOUNTS, acct->id,
                                                     MD_FN_ACCT_KEY, f->pool));
    assert_int_equal(APR_SUCCESS, md_pkey_get_spec(&spec, key, f->pool));
    assert_int_equal(MD_PKEY_EC, spec->type);
    assert_string_equal("secp256r1", spec->curve);

    assert_int_equal(APR_SUCCESS, md_acme_acct_register(&second, acme, store, NULL, NULL, NULL,
                                                        NULL, NULL, f->pool));
    assert_string_equal("ACME-127.0.0.1-0001", second->id);
    assert_string_not_equal(acct->url, second->url);
}

static void test_register_needs_agreement_to_terms(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = new_store(f);
    md_acme_t *acme = acme_of(f, "/dir-tos");
    md_acme_acct_t *acct = NULL;
    const char *terms = url_of(f, "/terms");
    int posts = posts_to(f, "/acct")->nelts;

    assert_int_equal(APR_EACCES, md_acme_acct_register(&acct, acme, store, NULL, NULL, NULL, NULL,
                                                       NULL, f->pool));
    assert_int_equal(APR_EACCES,
                     md_acme_acct_register(&acct, acme, store, NULL, "https://other/terms", NULL,
                                           NULL, NULL, f->pool));
    assert_null(acct);
    assert_int_equal(2, unit_log_count());
    assert_non_null(strstr(unit_log_last_error(), terms));
    assert_non_null(strstr(unit_log_last_error(), "MDCertificateAgreement"));
    assert_int_equal(posts, posts_to(f, "/acct")->nelts); /* the CA was not asked */

    assert_int_equal(APR_SUCCESS, md_acme_acct_register(&acct, acme, store, NULL, terms, NULL, NULL,
                                                        NULL, f->pool));
    assert_true(md_json_get_bool(last_payload(f, "/acct"), "termsOfServiceAgreed", 0));
    assert_string_equal(terms, md_json_get_str(stored_json(f, store, acct->id), "agreement"));
    assert_int_equal(APR_SUCCESS, md_acme_acct_register(&acct, acme, store, NULL, "accepted", NULL,
                                                        NULL, NULL, f->pool));
    assert_string_equal(terms, md_json_get_str(stored_json(f, store, acct->id), "agreement"));
}

static void test_register_rsa_spec(void **state)
{
    static const md_pkey_spec_t rsa = {MD_PKEY_RSA, 3072, NULL};
    fixture_t *f = *state;
    md_store_t *store = new_store(f);
    md_acme_acct_t *acct = NULL;
    apr_array_header_t *posts;
    md_pkey_spec_t *spec;
    md_pkey_t *key;
    const char *err = NULL;

    assert_int_equal(APR_SUCCESS, md_acme_acct_register(&acct, acme_of(f, "/dir"), store, NULL,
                                                        NULL, NULL, NULL, &rsa, f->pool));
    posts = posts_to(f, "/acct");
    assert_string_equal(
        "RS256", md_json_get_str(md_json_get(APR_ARRAY_IDX(posts, posts->nelts - 1, md_json_t *),
                                             "protected", f->pool),
                                 "alg"));
    assert_int_equal(APR_SUCCESS, md_store_load_pkey(&key, &err, store, MD_SG_ACCOUNTS, acct->id,
                                                     MD_FN_ACCT_KEY, f->pool));
    assert_int_equal(APR_SUCCESS, md_pkey_get_spec(&spec, key, f->pool));
    assert_int_equal(MD_PKEY_RSA, spec->type);
    assert_int_equal(3072, spec->bits);
}

static void test_register_external_account_binding(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = new_store(f);
    md_acme_t *acme = acme_of(f, "/dir-eab");
    md_acme_acct_t *acct = NULL, *found = NULL;

    assert_int_equal(APR_EACCES, md_acme_acct_register(&acct, acme, store, NULL, "accepted", NULL,
                                                       NULL, NULL, f->pool));
    assert_non_null(strstr(unit_log_last_error(), "external account binding"));
    /* a wrong MAC key: the CA refuses, the error says what we were doing */
    unit_log_clear();
    assert_int_equal(APR_EACCES, md_acme_acct_register(&acct, acme, store, NULL, "accepted",
                                                       EAB_KID, "d3Jvbmcta2V5", NULL, f->pool));
    assert_int_equal(1, unit_log_count());
    assert_non_null(strstr(unit_log_last_error(), "registering a new account"));
    assert_non_null(strstr(unit_log_last_error(), "bad external account binding"));
    assert_int_equal(APR_SUCCESS, md_acme_acct_register(&acct, acme, store, NULL, "accepted",
                                                        EAB_KID, EAB_HMAC, NULL, f->pool));
    assert_string_equal("valid", acct->status);
    /* the key id is kept (never the MAC key): the account serves MDs with that key id or none */
    assert_string_equal(EAB_KID, md_json_get_str(stored_json(f, store, acct->id), "eab-kid"));
    assert_null(strstr(md_json_dump(stored_json(f, store, acct->id), 0, f->pool), EAB_HMAC));
    assert_true(md_acme_acct_fits_eab(acct, EAB_KID));
    assert_true(md_acme_acct_fits_eab(acct, NULL));
    assert_false(md_acme_acct_fits_eab(acct, "another-kid"));
    assert_int_equal(APR_SUCCESS, md_acme_acct_find(&found, acme, store, NULL, EAB_KID, f->pool));
    assert_string_equal(acct->id, found->id);
    assert_int_equal(APR_SUCCESS, md_acme_acct_find(&found, acme, store, NULL, NULL, f->pool));
    assert_int_equal(APR_ENOENT,
                     md_acme_acct_find(&found, acme, store, acct->id, "another-kid", f->pool));
}

static void test_validate_find_update_deactivate(void **state)
{
    fixture_t *f = *state;
    md_store_t *store = new_store(f);
    md_acme_t *acme = acme_of(f, "/dir");
    md_acme_acct_t *a0 = NULL, *a1 = NULL, *other = NULL, *found = NULL, *v = NULL;
    apr_array_header_t *posts;
    md_pkey_t *stray;
    static const md_pkey_spec_t p256 = {MD_PKEY_EC, 0, "secp256r1"};
    md_json_t *j;

    assert_int_equal(APR_SUCCESS, md_acme_acct_register(&a0, acme, store, NULL, NULL, NULL, NULL,
                                                        NULL, f->pool));
    assert_int_equal(APR_SUCCESS, md_acme_acct_register(&a1, acme, store, NULL, NULL, NULL, NULL,
                                                        NULL, f->pool));
    /* an account of another CA (other directory URL) is never a candidate */
    assert_int_equal(APR_SUCCESS, md_acme_acct_register(&other, acme_of(f, "/dir-tos"), store, NULL,
                                                        "accepted", NULL, NULL, NULL, f->pool));
    /* an account the CA does not know */
    assert_int_equal(APR_SUCCESS, md_pkey_gen(&stray, &p256, f->pool));
    j = md_json_copy(stored_json(f, store, a0->id), f->pool);
    assert_int_equal(APR_SUCCESS, md_store_save_json(store, MD_SG_ACCOUNTS, "ACME-127.0.0.1-0009",
                                                     MD_FN_ACCOUNT, j, f->pool));
    assert_int_equal(APR_SUCCESS, md_store_save_pkey(store, MD_SG_ACCOUNTS, "ACME-127.0.0.1-0009",
                                                     MD_FN_ACCT_KEY, stray, f->pool));
    assert_int_equal(APR_ENOENT,
                     md_acme_acct_validate(&v, acme, store, "ACME-127.0.0.1-0009", f->pool));
    assert_null(v);

    assert_int_equal(APR_SUCCESS, md_acme_acct_find(&found, acme, store, a1->id, NULL, f->pool));
    assert_string_equal(a1->id, found->id);
    assert_int_equal(APR_SUCCESS, md_acme_acct_find(&found, acme, store, NULL, NULL, f->pool));
    assert_string_equal(a0->id, found->id);
    assert_int_equal(APR_SUCCESS,
                     md_acme_acct_find(&found, acme_of(f, "/dir-tos"), store, NULL, NULL, f->pool));
    assert_string_equal(other->id, found->id);

    /* update contacts as the account (the context signs with what validate found) */
    assert_int_equal(APR_SUCCESS, md_acme_acct_validate(&v, acme, store, a0->id, f->pool));
    assert_int_equal(APR_SUCCESS,
                     md_acme_acct_update(v, acme, store,
                                         contacts_of(f, "mailto:x@example.org", "mailto:y@ex.org"),
                                         NULL, f->pool));
    posts = posts_to(f, a0->url + strlen(url_of(f, "")));
    assert_int_equal(1, posts->nelts);
    assert_string_equal(a0->url, md_json_get_str(md_json_get(APR_ARRAY_IDX(posts, 0, md_json_t *),
                                                             "protected", f->pool),
                                                 "kid"));
    assert_string_equal(
        "mailto:y@ex.org",
        APR_ARRAY_IDX(md_json_get_strs(stored_json(f, store, a0->id), "contact", f->pool), 1,
                      const char *));

    /* deactivated: stored so, refused by the CA, and find moves on to the next */
    assert_int_equal(APR_SUCCESS, md_acme_acct_deactivate(v, acme, store, f->pool));
    assert_string_equal("deactivated", md_json_get_str(stored_json(f, store, a0->id), "status"));
    unit_log_clear();
    assert_int_equal(APR_EACCES, md_acme_acct_validate(&v, acme, store, a0->id, f->pool));
    assert_non_null(strstr(unit_log_last_error(), "deactivated"));
    assert_int_equal(APR_SUCCESS, md_acme_acct_find(&found, acme, store, a0->id, NULL, f->pool));
    assert_string_equal(a1->id, found->id);
}

static void test_find_in_empty_store(void **state)
{
    fixture_t *f = *state;
    md_acme_acct_t *found = NULL;

    assert_int_equal(APR_ENOENT, md_acme_acct_find(&found, acme_of(f, "/dir"), new_store(f), NULL,
                                                   NULL, f->pool));
    assert_null(found);
    assert_int_equal(0, unit_log_count());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_register_stores_account, unit_log_clear_setup),
        cmocka_unit_test_setup(test_register_needs_agreement_to_terms, unit_log_clear_setup),
        cmocka_unit_test_setup(test_register_rsa_spec, unit_log_clear_setup),
        cmocka_unit_test_setup(test_register_external_account_binding, unit_log_clear_setup),
        cmocka_unit_test_setup(test_validate_find_update_deactivate, unit_log_clear_setup),
        cmocka_unit_test_setup(test_find_in_empty_store, unit_log_clear_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

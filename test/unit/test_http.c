/* test_http.c: unit tests of md_http.c against a real local Python server (plain HTTP and
 * HTTPS with a throw-away certificate): bodies, headers, redirects, refusals, TLS trust, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_date.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "md.h"
#include "md_http.h"
#include "md_log.h"
#include "unit_fixture.h"
#include "unit_server.h"

#define OPENSSL "openssl"
/* What the server's /sleep waits before answering, and the timeout the test sets. */
#define SLEEP_TIMEOUT apr_time_from_sec(1)
#define SLEEP_ELAPSED_MAX apr_time_from_msec(2500)

/* Serves fixed answers on two ephemeral 127.0.0.1 ports (plain, TLS); writes
 * "<plain> <tls>" to <dir>/ports once both listen. */
static const char server_py[] =
    "import http.server, ssl, sys, os, threading, time\n"
    "d = sys.argv[1]\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "    def reply(self, status, body=b'', headers=()):\n"
    "        self.send_response(status)\n"
    "        for k, v in headers:\n"
    "            self.send_header(k, v)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        if self.command != 'HEAD':\n"
    "            self.wfile.write(body)\n"
    "    def do_HEAD(self):\n"
    "        self.route()\n"
    "    def do_GET(self):\n"
    "        self.route()\n"
    "    def do_POST(self):\n"
    "        data = self.rfile.read(int(self.headers.get('Content-Length', '0')))\n"
    "        if self.path == '/echo':\n"
    "            self.reply(200, data, [('X-Content-Type', self.headers.get('Content-Type', "
    "'-'))])\n"
    "        else:\n"
    "            self.route()\n"
    "    def route(self):\n"
    "        p = self.path\n"
    "        if p == '/hello':\n"
    "            self.reply(200, b'hello world', [('Content-Type', 'text/plain'),\n"
    "                ('Retry-After', '3'), ('Link', '<http://127.0.0.1/dir>;rel=\"index\"'),\n"
    "                ('Link', '</up/1>;rel=\"up\"'), ('Link', '<https://example.org/up/2>; "
    "rel=up'),\n"
    "                ('X-User-Agent', self.headers.get('User-Agent', '-'))])\n"
    "        elif p.startswith('/redirect/'):\n"
    "            n = int(p.split('/')[2])\n"
    "            if n > 0:\n"
    "                self.reply(302, b'', [('Location', '/redirect/%d' % (n - 1))])\n"
    "            else:\n"
    "                self.reply(200, b'arrived')\n"
    "        elif p == '/huge-headers':\n"
    "            self.reply(200, b'', [('X-Filler-%d' % i, 'z' * 100) for i in range(2000)])\n"
    "        elif p.startswith('http://'):\n"
    "            self.reply(200, b'proxied ' + p.encode(),\n"
    "                       [('X-User-Agent', self.headers.get('User-Agent', '-'))])\n"
    "        elif p.startswith('/goto?'):\n"
    "            self.reply(302, b'', [('Location', p[len('/goto?'):])])\n"
    "        elif p == '/sleep':\n"
    "            time.sleep(4)\n"
    "            self.reply(200, b'late')\n"
    "        elif p == '/big':\n"
    "            self.reply(200, b'x' * (2 * 1024 * 1024))\n"
    "        elif p == '/big-unsized':\n"
    "            self.send_response(200)\n"
    "            self.send_header('Connection', 'close')\n"
    "            self.end_headers()\n"
    "            self.close_connection = True\n"
    "            for i in range(64):\n"
    "                self.wfile.write(b'y' * 32768)\n"
    "        else:\n"
    "            self.reply(404, b'not found')\n"
    "class S(http.server.ThreadingHTTPServer):\n"
    "    daemon_threads = True\n"
    "plain = S(('127.0.0.1', 0), H)\n"
    "tls = S(('127.0.0.1', 0), H)\n"
    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
    "ctx.load_cert_chain(os.path.join(d, 'cert.pem'), os.path.join(d, 'cert.key'))\n"
    "tls.socket = ctx.wrap_socket(tls.socket, server_side=True)\n"
    "for s in (plain, tls):\n"
    "    threading.Thread(target=s.serve_forever, daemon=True).start()\n"
    "with open(os.path.join(d, 'ports.tmp'), 'w') as f:\n"
    "    f.write('%d %d' % (plain.server_address[1], tls.server_address[1]))\n"
    "os.rename(os.path.join(d, 'ports.tmp'), os.path.join(d, 'ports'))\n"
    "threading.Event().wait()\n";

typedef struct {
    apr_pool_t *pool;
    char dir[UNIT_DIR_LEN];
    unit_server_t server;   /* port: plain HTTP, port2: TLS */
    const char *ca_file;    /* the server's self-signed certificate */
    const char *other_file; /* a certificate that has nothing to do with it */
} fixture_t;

/* Runs argv to completion with output into dir/cmd.log; returns its exit status. */
static int run(const char *dir, char *const argv[])
{
    char log[128];
    int status, fd;
    pid_t pid;

    snprintf(log, sizeof(log), "%s/cmd.log", dir);
    if ((pid = fork()) == 0) {
        if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600)) >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A self-signed certificate <name>.pem (key <name>.key) for CN localhost with the given SAN. */
static int make_cert(const char *dir, const char *name, const char *san, apr_pool_t *p)
{
    char *const argv[] = {OPENSSL,
                          "req",
                          "-x509",
                          "-newkey",
                          "ec",
                          "-pkeyopt",
                          "ec_paramgen_curve:P-256",
                          "-nodes",
                          "-days",
                          "2",
                          "-subj",
                          "/CN=localhost",
                          "-addext",
                          apr_pstrcat(p, "subjectAltName=", san, NULL),
                          "-keyout",
                          apr_psprintf(p, "%s/%s.key", dir, name),
                          "-out",
                          apr_psprintf(p, "%s/%s.pem", dir, name),
                          NULL};
    return run(dir, argv);
}

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
    f->ca_file = apr_psprintf(f->pool, "%s/cert.pem", f->dir);
    f->other_file = apr_psprintf(f->pool, "%s/other.pem", f->dir);
    /* only the name localhost, so that https://127.0.0.1 fails host verification */
    if (make_cert(f->dir, "cert", "DNS:localhost", f->pool) != 0 ||
        make_cert(f->dir, "other", "DNS:localhost", f->pool) != 0) {
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

static const char *plain_url(fixture_t *f, const char *path)
{
    return unit_server_url(&f->server, path, f->pool);
}

static const char *tls_url(fixture_t *f, const char *host, const char *path)
{
    return apr_psprintf(f->pool, "https://%s:%d%s", host, f->server.port2, path);
}

static md_http_t *client(fixture_t *f, const char *ca_file)
{
    md_http_t *h = NULL;

    assert_int_equal(APR_SUCCESS, md_http_create(&h, f->pool, NULL, ca_file, NULL));
    return h;
}

/* The request fails with rv, logs no error of its own (the caller does, with context) and
 * keeps a reason that names the URL. */
static void expect_error(fixture_t *f, md_http_t *h, const char *method, const char *url,
                         apr_status_t rv)
{
    md_http_response_t *res = NULL;

    unit_log_clear();
    assert_int_equal(rv, md_http_request(&res, h, method, url, NULL, NULL, 0, f->pool));
    assert_null(res);
    assert_int_equal(0, unit_log_count());
    assert_non_null(strstr(md_http_last_error(h), url));
}

static void test_get_body_status_headers(void **state)
{
    fixture_t *f = *state;
    md_http_t *h = client(f, NULL);
    md_http_response_t *res;
    apr_array_header_t *links;
    apr_interval_time_t delay;
    const char *url = plain_url(f, "/hello");

    assert_int_equal(APR_SUCCESS, md_http_request(&res, h, "GET", url, NULL, NULL, 0, f->pool));
    assert_int_equal(200, res->status);
    assert_int_equal(11, res->body_len);
    assert_string_equal("hello world", res->body);
    assert_string_equal(url, res->effective_url);
    assert_string_equal("text/plain", apr_table_get(res->headers, "content-type"));
    assert_string_equal(MD_USER_AGENT, apr_table_get(res->headers, "X-User-Agent"));

    assert_int_equal(APR_SUCCESS, md_http_links(&links, res, "up", f->pool));
    assert_int_equal(2, links->nelts);
    assert_string_equal(plain_url(f, "/up/1"), APR_ARRAY_IDX(links, 0, const char *));
    assert_string_equal("https://example.org/up/2", APR_ARRAY_IDX(links, 1, const char *));
    assert_int_equal(APR_SUCCESS, md_http_links(&links, res, "index", f->pool));
    assert_int_equal(1, links->nelts);
    assert_int_equal(APR_SUCCESS, md_http_links(&links, res, "next", f->pool));
    assert_int_equal(0, links->nelts);
    assert_int_equal(APR_SUCCESS, md_http_retry_after(&delay, res, apr_time_now()));
    assert_int_equal(apr_time_from_sec(3), delay);

    /* HEAD: same headers, no body; a second request on the same context */
    assert_int_equal(APR_SUCCESS, md_http_request(&res, h, "HEAD", url, NULL, NULL, 0, f->pool));
    assert_int_equal(200, res->status);
    assert_int_equal(0, res->body_len);
    assert_string_equal("", res->body);
    assert_string_equal("3", apr_table_get(res->headers, "Retry-After"));

    assert_int_equal(APR_SUCCESS, md_http_request(&res, h, "GET", plain_url(f, "/nothing"), NULL,
                                                  NULL, 0, f->pool));
    assert_int_equal(404, res->status);
    assert_int_equal(0, unit_log_count());
}

static void test_post_echo(void **state)
{
    fixture_t *f = *state;
    md_http_t *h = client(f, NULL);
    static const char body[] = "{\"protected\":\"x\"}\0binary";
    md_http_response_t *res;

    assert_int_equal(APR_SUCCESS,
                     md_http_request(&res, h, "POST", plain_url(f, "/echo"),
                                     "application/jose+json", body, sizeof(body) - 1, f->pool));
    assert_int_equal(200, res->status);
    assert_int_equal(sizeof(body) - 1, res->body_len);
    assert_memory_equal(body, res->body, sizeof(body) - 1);
    assert_string_equal("application/jose+json", apr_table_get(res->headers, "X-Content-Type"));

    /* no content type given: none sent (not curl's form default) */
    assert_int_equal(APR_SUCCESS, md_http_request(&res, h, "POST", plain_url(f, "/echo"), NULL,
                                                  NULL, 0, f->pool));
    assert_int_equal(0, res->body_len);
    assert_string_equal("-", apr_table_get(res->headers, "X-Content-Type"));
}

static void test_redirects(void **state)
{
    fixture_t *f = *state;
    md_http_t *h = client(f, NULL);
    md_http_response_t *res;

    assert_int_equal(APR_SUCCESS, md_http_request(&res, h, "GET", plain_url(f, "/redirect/5"), NULL,
                                                  NULL, 0, f->pool));
    assert_int_equal(200, res->status);
    assert_string_equal("arrived", res->body);
    assert_string_equal(plain_url(f, "/redirect/0"), res->effective_url);
    assert_string_equal(plain_url(f, "/redirect/5"), res->url);

    /* one more than MD_HTTP_MAX_REDIRECTS */
    expect_error(f, h, "GET", plain_url(f, "/redirect/6"), APR_EGENERAL);

    /* POST does not follow */
    assert_int_equal(APR_SUCCESS, md_http_request(&res, h, "POST", plain_url(f, "/redirect/1"),
                                                  NULL, "x", 1, f->pool));
    assert_int_equal(302, res->status);
    assert_string_equal("/redirect/0", apr_table_get(res->headers, "Location"));

    /* a redirect cannot leave http(s), nor drop from https to http */
    expect_error(f, h, "GET", plain_url(f, "/goto?file:///etc/passwd"), APR_EINVAL);
    h = client(f, f->ca_file);
    assert_int_equal(APR_SUCCESS,
                     md_http_request(&res, h, "GET", tls_url(f, "localhost", "/redirect/1"), NULL,
                                     NULL, 0, f->pool));
    assert_string_equal("arrived", res->body);
    expect_error(
        f, h, "GET",
        tls_url(f, "localhost", apr_pstrcat(f->pool, "/goto?", plain_url(f, "/hello"), NULL)),
        APR_EINVAL);
}

/* A listening socket nobody accepts on: shows whether a client tried to connect. */
static int listener(int *pport)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(0, bind(fd, (struct sockaddr *) &sa, sizeof(sa)));
    assert_int_equal(0, listen(fd, 4));
    assert_int_equal(0, getsockname(fd, (struct sockaddr *) &sa, &len));
    *pport = ntohs(sa.sin_port);
    return fd;
}

static void test_refused_schemes(void **state)
{
    fixture_t *f = *state;
    md_http_t *h = client(f, NULL);
    md_http_response_t *res = NULL;
    int port, fd = listener(&port);

    md_http_set_timeouts(h, SLEEP_TIMEOUT, SLEEP_TIMEOUT);
    expect_error(f, h, "GET", "file:///etc/passwd", APR_EINVAL);
    expect_error(f, h, "GET", apr_psprintf(f->pool, "ftp://127.0.0.1:%d/x", port), APR_EINVAL);
    expect_error(f, h, "POST", apr_psprintf(f->pool, "gopher://127.0.0.1:%d/x", port), APR_EINVAL);
    assert_int_equal(
        APR_EINVAL, md_http_request(&res, h, "PUT", plain_url(f, "/echo"), NULL, NULL, 0, f->pool));
    /* nobody knocked */
    assert_int_equal(0, fcntl(fd, F_SETFL, O_NONBLOCK));
    assert_int_equal(-1, accept(fd, NULL, NULL));
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    close(fd);

    /* the scheme is case-insensitive */
    assert_int_equal(APR_SUCCESS, md_http_request(&res, h, "GET",
                                                  apr_psprintf(f->pool, "HTTP://127.0.0.1:%d/hello",
                                                               f->server.port),
                                                  NULL, NULL, 0, f->pool));
    assert_int_equal(200, res->status);
}

static void test_https_only_refuses_plain_urls_without_connecting(void **state)
{
    fixture_t *f = *state;
    md_http_t *h = client(f, NULL);
    md_http_response_t *res = NULL;
    int port, fd = listener(&port);

    md_http_set_https_only(h, 1);
    expect_error(f, h, "POST", apr_psprintf(f->pool, "http://127.0.0.1:%d/acme/order", port),
                 APR_EINVAL);
    assert_non_null(strstr(md_http_last_error(h), "directory is https"));
    assert_int_equal(0, fcntl(fd, F_SETFL, O_NONBLOCK));
    assert_int_equal(-1, accept(fd, NULL, NULL));
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    close(fd);
    /* off again: plain http goes */
    md_http_set_https_only(h, 0);
    assert_int_equal(APR_SUCCESS, md_http_request(&res, h, "GET", plain_url(f, "/hello"), NULL,
                                                  NULL, 0, f->pool));
    assert_int_equal(200, res->status);
}

static void test_tls_trust(void **state)
{
    fixture_t *f = *state;
    md_http_response_t *res;
    md_http_t *h;

    /* the system's trust store does not know our certificate, nor does another one */
    expect_error(f, client(f, NULL), "GET", tls_url(f, "localhost", "/hello"), APR_EGENERAL);
    expect_error(f, client(f, f->other_file), "GET", tls_url(f, "localhost", "/hello"),
                 APR_EGENERAL);

    h = client(f, f->ca_file);
    assert_int_equal(APR_SUCCESS, md_http_request(&res, h, "GET", tls_url(f, "localhost", "/hello"),
                                                  NULL, NULL, 0, f->pool));
    assert_int_equal(200, res->status);
    assert_string_equal("hello world", res->body);
    /* trusted certificate, wrong name: the host check is on */
    expect_error(f, h, "GET", tls_url(f, "127.0.0.1", "/hello"), APR_EGENERAL);
}

static void test_connection_errors(void **state)
{
    fixture_t *f = *state;
    md_http_t *h = client(f, NULL);
    int port, fd = listener(&port);
    apr_time_t start;

    close(fd); /* a port nobody listens on */
    expect_error(f, h, "GET", apr_psprintf(f->pool, "http://127.0.0.1:%d/", port),
                 APR_ECONNREFUSED);
    /* .invalid never resolves (RFC 6761 6.4) */
    expect_error(f, h, "GET", "http://no-such-host.invalid/", APR_EHOSTUNREACH);

    md_http_set_timeouts(h, 0, SLEEP_TIMEOUT);
    start = apr_time_now();
    expect_error(f, h, "GET", plain_url(f, "/sleep"), APR_TIMEUP);
    assert_true(apr_time_now() - start < SLEEP_ELAPSED_MAX);
}

static void test_body_cap(void **state)
{
    fixture_t *f = *state;
    md_http_t *h = client(f, NULL);
    md_http_response_t *res;

    /* the default cap (1 MiB) against 2 MiB, announced and not */
    expect_error(f, h, "GET", plain_url(f, "/big"), APR_ENOSPC);
    expect_error(f, h, "GET", plain_url(f, "/big-unsized"), APR_ENOSPC);

    /* headers are bounded too (200 KB of them here) */
    expect_error(f, h, "GET", plain_url(f, "/huge-headers"), APR_ENOSPC);
    /* HEAD has no body to cap */
    assert_int_equal(APR_SUCCESS, md_http_request(&res, h, "HEAD", plain_url(f, "/big"), NULL, NULL,
                                                  0, f->pool));
    assert_int_equal(200, res->status);

    md_http_set_body_max(h, strlen("hello world"));
    assert_int_equal(APR_SUCCESS, md_http_request(&res, h, "GET", plain_url(f, "/hello"), NULL,
                                                  NULL, 0, f->pool));
    assert_string_equal("hello world", res->body);
    md_http_set_body_max(h, strlen("hello world") - 1);
    expect_error(f, h, "GET", plain_url(f, "/hello"), APR_ENOSPC);
}

/* The proxy gets the request (the server answers absolute request targets as a proxy would),
 * with the user agent given instead of the default. */
static void test_proxy_and_user_agent(void **state)
{
    fixture_t *f = *state;
    md_http_response_t *res;
    md_http_t *h = NULL;

    assert_int_equal(APR_SUCCESS,
                     md_http_create(&h, f->pool, "test-agent/1", NULL, plain_url(f, "")));
    assert_int_equal(APR_SUCCESS, md_http_request(&res, h, "GET", "http://ca.invalid/dir", NULL,
                                                  NULL, 0, f->pool));
    assert_int_equal(200, res->status);
    assert_string_equal("proxied http://ca.invalid/dir", res->body);
    assert_string_equal("test-agent/1", apr_table_get(res->headers, "X-User-Agent"));
}

static md_http_response_t *fake_response(apr_pool_t *p, const char *eff_url)
{
    md_http_response_t *res = apr_pcalloc(p, sizeof(*res));

    res->status = 200;
    res->headers = apr_table_make(p, 4);
    res->body = "";
    res->url = res->effective_url = eff_url;
    return res;
}

static void test_links_parsing(void **state)
{
    fixture_t *f = *state;
    md_http_response_t *res = fake_response(f->pool, "https://ca.example/acme/cert/1");
    apr_array_header_t *links;

    apr_table_add(res->headers, "Link",
                  "<https://ca.example/a>; rel=\"alternate up\", <../chain/2>;REL=UP;"
                  "title=\"a, b; <c>\"");
    apr_table_add(res->headers, "link",
                  "<https://ca.example/dir>;rel=\"index\", <https://ca.example/x>;rel=next;rel=up");
    apr_table_add(res->headers, "Link", "garbage, <https://ca.example/never>;rel=up");

    assert_int_equal(APR_SUCCESS, md_http_links(&links, res, "up", f->pool));
    assert_int_equal(2, links->nelts);
    assert_string_equal("https://ca.example/a", APR_ARRAY_IDX(links, 0, const char *));
    assert_string_equal("https://ca.example/acme/chain/2", APR_ARRAY_IDX(links, 1, const char *));
    assert_int_equal(APR_SUCCESS, md_http_links(&links, res, "Alternate", f->pool));
    assert_int_equal(1, links->nelts);
    assert_int_equal(APR_SUCCESS, md_http_links(&links, res, "next", f->pool));
    assert_int_equal(1, links->nelts);
    assert_string_equal("https://ca.example/x", APR_ARRAY_IDX(links, 0, const char *));
}

static void test_retry_after(void **state)
{
    fixture_t *f = *state;
    md_http_response_t *res = fake_response(f->pool, "https://ca.example/");
    apr_time_t now = apr_time_from_sec(apr_time_sec(apr_time_now()));
    char date[APR_RFC822_DATE_LEN];
    apr_interval_time_t delay;

    assert_int_equal(APR_ENOENT, md_http_retry_after(&delay, res, now));
    apr_table_set(res->headers, "Retry-After", "120");
    assert_int_equal(APR_SUCCESS, md_http_retry_after(&delay, res, now));
    assert_int_equal(apr_time_from_sec(120), delay);

    apr_rfc822_date(date, now + apr_time_from_sec(90));
    apr_table_set(res->headers, "retry-after", date);
    assert_int_equal(APR_SUCCESS, md_http_retry_after(&delay, res, now));
    assert_int_equal(apr_time_from_sec(90), delay);
    /* obsolete RFC 850 form, also an HTTP-date */
    apr_table_set(res->headers, "Retry-After", "Sunday, 06-Nov-94 08:49:37 GMT");
    assert_int_equal(APR_SUCCESS, md_http_retry_after(&delay, res, now));
    assert_int_equal(0, delay); /* in the past */

    apr_table_set(res->headers, "Retry-After", "soon");
    assert_int_equal(APR_EINVAL, md_http_retry_after(&delay, res, now));
    apr_table_set(res->headers, "Retry-After", "-5");
    assert_int_equal(APR_EINVAL, md_http_retry_after(&delay, res, now));
    apr_table_set(res->headers, "Retry-After", "99999999999999999999");
    assert_int_equal(APR_EINVAL, md_http_retry_after(&delay, res, now));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_get_body_status_headers, unit_log_clear_setup),
        cmocka_unit_test_setup(test_post_echo, unit_log_clear_setup),
        cmocka_unit_test_setup(test_redirects, unit_log_clear_setup),
        cmocka_unit_test_setup(test_refused_schemes, unit_log_clear_setup),
        cmocka_unit_test_setup(test_https_only_refuses_plain_urls_without_connecting,
                               unit_log_clear_setup),
        cmocka_unit_test_setup(test_tls_trust, unit_log_clear_setup),
        cmocka_unit_test_setup(test_connection_errors, unit_log_clear_setup),
        cmocka_unit_test_setup(test_body_cap, unit_log_clear_setup),
        cmocka_unit_test_setup(test_proxy_and_user_agent, unit_log_clear_setup),
        cmocka_unit_test_setup(test_links_parsing, unit_log_clear_setup),
        cmocka_unit_test_setup(test_retry_after, unit_log_clear_setup),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

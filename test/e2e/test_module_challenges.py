# test_module_challenges.py: what httpd workers with our module answer -- http-01 and tls-alpn-01
# challenges (also to a real pebble), dns-01 wildcards, 503 before a certificate, MDRequireHttps.

import http.client
import json
import socket
import ssl
import stat
import subprocess
from pathlib import Path

import pytest

from mdtest import ports
from mdtest.mdhttpd import MOD_MD_PATH, MdHttpd
from mdtest.procs import wait_until

A2MD = Path(__file__).resolve().parents[2] / "build" / "a2md"
EXTRA_MODULES = ("alias", "rewrite")
CHALLENGE_PREFIX = "/.well-known/acme-challenge/"
HTTP01_FILE = "acme-http-01.txt"
ACME_TLS_PROTOCOLS = "Protocols http/1.1 acme-tls/1"
CERT_TIMEOUT_SECONDS = 60.0
HSTS_VALUE = "max-age=15768000"
PUBLIC_FILE_MODE = 0o644
PUBLIC_DIR_MODE = 0o755
SHARED_DIR_MODE = 0o1777  # the driver (User daemon) writes the dns-01 script's log here
REQUEST_TIMEOUT_SECONDS = 5.0
# settings of every test: fast EC keys, quick retries, a contact
COMMON_MD_CONF = ["MDPrivateKeys secp256r1", "MDRetryDelay 1s", "ServerAdmin admin@example.test"]


@pytest.fixture(scope="module", autouse=True)
def module_built():
    assert MOD_MD_PATH.exists(), f"{MOD_MD_PATH} is missing: run `make` first"


@pytest.fixture
def md_httpd(workdir):
    """make(md_lines, pebble=None, **MdHttpd kwargs) -> MdHttpd (not started). Without a pebble
    the CA is unreachable and MDDriveMode manual: nothing is ever obtained. All stopped after."""
    made = []

    def make(md_lines, pebble=None, **kwargs):
        lines = list(COMMON_MD_CONF)
        if pebble is None:
            kwargs.setdefault("ca_url", f"https://127.0.0.1:{ports.free_port()}/dir")
            lines.append("MDDriveMode manual")
        h = MdHttpd(workdir, name=f"httpd{len(made)}", pebble=pebble, modules=EXTRA_MODULES,
                    md_conf="\n".join(lines + list(md_lines)), **kwargs)
        made.append(h)
        return h

    yield make
    for h in made:
        h.stop()


def start(h, vhosts):
    h.write_config(vhosts=vhosts)
    h.start()
    return h


# --- requests ------------------------------------------------------------------------------

def http_request(port, host, path, method="GET", body=None):
    """Plain HTTP to 127.0.0.1:port with the given Host; returns (status, headers dict, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        conn.request(method, path, body=body, headers={"Host": host})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def tls_context(cafile=None):
    if cafile is None:  # the fallback certificate: nothing to verify against
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=str(cafile))


def https_request(port, host, path, cafile=None, method="GET"):
    """HTTPS to 127.0.0.1:port with SNI and Host `host`; verified against cafile when given.
    Returns (status, headers dict, body, peer certificate dict or None)."""
    ctx = tls_context(cafile)
    raw = socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT_SECONDS)
    with ctx.wrap_socket(raw, server_hostname=host) as tls:
        peer = tls.getpeercert() if cafile else None
        tls.sendall(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                    .encode())
        r = http.client.HTTPResponse(tls, method=method)
        r.begin()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read(), peer


def san_names(peer):
    return sorted(v for k, v in peer.get("subjectAltName", ()) if k == "DNS")


def wait_for_cert(h, host, cafile, timeout=CERT_TIMEOUT_SECONDS):
    """Poll https://host/ until the server presents a certificate that verifies against cafile."""
    last = []

    def served():
        try:
            status, _, _, peer = https_request(h.https_port, host, "/index.html", cafile=cafile)
            return (status, peer)
        except (OSError, ssl.SSLError) as e:
            last[:] = [repr(e)]
            return None

    got = wait_until(served, timeout, interval=0.3)
    assert got, (f"no verifiable certificate for {host} after {timeout}s (last: {last})\n"
                 f"{h.error_log_tail(60)}")
    return got


# --- store helpers -------------------------------------------------------------------------

def place_http01(store, domain, token, keyauthz):
    d = Path(store) / "challenges" / domain
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(PUBLIC_DIR_MODE)
    f = d / HTTP01_FILE
    f.write_text(keyauthz)
    f.chmod(PUBLIC_FILE_MODE)


# --- http-01 answered from the store -------------------------------------------------------

def test_http01_answer_from_store_before_auth_and_redirects(md_httpd):
    # given an MD whose http vhost denies everything and redirects, a base server on a port of
    # its own, and an unrelated site that keeps its own .well-known files
    base_port = ports.free_port()
    h = md_httpd([f"Listen 127.0.0.1:{base_port}", "MDomain site.example.test"])
    start(h, h.vhost("site.example.test", https=False, extra="\n".join([
              "Redirect / http://elsewhere.example.test/",
              "<Location />", "  Require all denied", "</Location>"]))
          + h.vhost("other.example.test", https=False)
          + h.vhost("site.example.test"))
    token, keyauthz = "tok_EN-123abc", "tok_EN-123abc.thumbprint_XYZ"
    place_http01(h.store_dir, "site.example.test", token, keyauthz)
    own = h.docroot / ".well-known" / "acme-challenge"
    own.mkdir(parents=True)
    (own / "other-token").write_text("the site's own file\n")

    # the CA's GET is answered with the key authorization, in spite of the vhost's rules
    status, headers, body = http_request(h.http_port, "site.example.test", CHALLENGE_PREFIX + token)
    assert (status, body.decode()) == (200, keyauthz)
    assert headers["content-type"].startswith("text/plain")
    status, _, body = http_request(h.http_port, "site.example.test", CHALLENGE_PREFIX + token,
                                   method="HEAD")
    assert (status, body) == (200, b"")
    # ... on the base server as well, and over TLS (where the site answers 503 for now)
    status, _, body = http_request(base_port, "site.example.test", CHALLENGE_PREFIX + token)
    assert (status, body.decode()) == (200, keyauthz)
    status, _, body, _ = https_request(h.https_port, "site.example.test", CHALLENGE_PREFIX + token)
    assert (status, body.decode()) == (200, keyauthz)

    # unknown and malicious tokens are 404 and never read a file outside challenges/
    for bad in ("wrong-token", "..%2f..%2fmd_store.json", "..%2fsite.example.test%2f" + HTTP01_FILE,
                "%2e%2e", token + "/x"):
        status, _, body = http_request(h.http_port, "site.example.test", CHALLENGE_PREFIX + bad)
        assert status == 404, bad
        assert keyauthz.encode() not in body and b'"key"' not in body, bad

    # other methods and other paths stay the site's (here: its redirect)
    status, headers, _ = http_request(h.http_port, "site.example.test", CHALLENGE_PREFIX + token,
                                      method="POST", body=b"x")
    assert status == 302 and headers["location"].startswith("http://elsewhere.example.test/")
    status, headers, _ = http_request(h.http_port, "site.example.test", "/index.html")
    assert status == 302

    # a host no MD names keeps its own /.well-known/acme-challenge/ (another ACME client's)
    status, _, body = http_request(h.http_port, "other.example.test",
                                   CHALLENGE_PREFIX + "other-token")
    assert (status, body) == (200, b"the site's own file\n")
    status, _, _ = http_request(h.http_port, "other.example.test", CHALLENGE_PREFIX + token)
    assert status == 404  # the site's 404: the token belongs to another host


# --- 503 before the certificate ------------------------------------------------------------

def test_503_on_https_while_certificate_is_missing(md_httpd):
    # given an MD that never gets a certificate (manual mode, no a2md run)
    names = ["wait.example.test", "www.wait.example.test"]
    h = md_httpd([f"MDomain {' '.join(names)}"])
    start(h, h.vhost(names) + h.vhost(names, https=False))
    for host in names:
        for path in ("/", "/index.html", "/no/such/thing?x=1"):
            status, headers, body, _ = https_request(h.https_port, host, path)
            assert status == 503, (host, path)
            assert int(headers["retry-after"]) > 0
            assert headers["content-type"].startswith("text/plain")
            assert "certificate for wait.example.test is being obtained" in body.decode()
    status, headers, body, _ = https_request(h.https_port, names[0], "/", method="HEAD")
    assert status == 503 and body == b"" and "retry-after" in headers

    # plain http is served as usual, and challenges are answered over both
    status, _, body = http_request(h.http_port, names[0], "/index.html")
    assert status == 200 and b"<html>" in body
    place_http01(h.store_dir, names[0], "t0ken", "t0ken.abc")
    status, _, body, _ = https_request(h.https_port, names[0], CHALLENGE_PREFIX + "t0ken")
    assert (status, body) == (200, b"t0ken.abc")


# --- MDRequireHttps --------------------------------------------------------------------------

def with_pebble(md_httpd, pebble_factory, md_lines, **kwargs):
    """An httpd whose MDs (md_lines) get certificates from a pebble validating http-01."""
    http_port, https_port, unused = ports.free_ports(3)
    pebble = pebble_factory(http_port=http_port, tls_port=unused)
    h = md_httpd(["MDCAChallenges http-01", *md_lines], pebble=pebble, http_port=http_port,
                 https_port=https_port, **kwargs)
    return h, pebble


def test_require_https_waits_for_a_certificate(md_httpd):
    """Until the MD has a certificate to present, http is served as it is: a redirect would
    only lead to a failing handshake."""
    names = ["sec.example.test"]
    h = md_httpd([f"MDomain {' '.join(names)}", "MDRequireHttps temporary"])
    start(h, h.vhost(names, https=False) + h.vhost(names))
    status, headers, _ = http_request(h.http_port, names[0], "/index.html")
    assert status == 200 and "location" not in headers


def test_require_https_temporary_redirects_but_not_challenges(md_httpd, pebble_factory, workdir):
    names = ["sec.example.test", "www.sec.example.test"]
    h, pebble = with_pebble(md_httpd, pebble_factory, ["MDMembers manual",
                            f"MDomain {' '.join(names)}", "MDRequireHttps temporary"])
    # the http vhost also answers to a name that is not the MD's (MDMembers manual)
    start(h, h.vhost(names + ["alias.example.test"], https=False)
          + h.vhost("plain.example.test", https=False) + h.vhost(names))
    wait_for_cert(h, names[0], pebble.write_root(workdir / "pebble-root.pem"))
    status, headers, _ = http_request(h.http_port, "www.sec.example.test", "/a/b?c=d&e=f")
    assert status == 302
    assert headers["location"] == f"https://www.sec.example.test:{h.https_port}/a/b?c=d&e=f"
    # the Host decides, in any case and with any port
    status, headers, _ = http_request(h.http_port, f"WWW.Sec.Example.Test:{h.http_port}", "/")
    assert status == 302
    assert headers["location"] == f"https://www.sec.example.test:{h.https_port}/"
    # a name of the same vhost that the certificate does not cover is left alone
    status, headers, _ = http_request(h.http_port, "alias.example.test", "/index.html")
    assert status == 200 and "location" not in headers
    # a vhost without an MD is left alone
    status, _, _ = http_request(h.http_port, "plain.example.test", "/index.html")
    assert status == 200
    # challenges still answer over http
    place_http01(h.store_dir, names[0], "redirect-tok", "redirect-tok.x")
    status, _, body = http_request(h.http_port, names[0], CHALLENGE_PREFIX + "redirect-tok")
    assert (status, body) == (200, b"redirect-tok.x")
    status, headers, _ = http_request(h.http_port, names[0], CHALLENGE_PREFIX + "nope")
    assert status == 404 and "location" not in headers


def test_require_https_redirect_port_follows_the_tls_vhost(md_httpd, pebble_factory, workdir):
    # the MD's TLS vhost listens on a second https port: redirects go there, not to the first
    second = ports.free_port()
    h, pebble = with_pebble(md_httpd, pebble_factory,
                            [f"Listen 127.0.0.1:{second} https", "MDomain port.example.test",
                             "MDomain other.example.test", "MDRequireHttps temporary",
                             "<MDomainSet free.example.test>", "MDRequireHttps off",
                             "</MDomainSet>"])
    h.port_map = f"http:{h.http_port} https:-"  # the CA's 443 arrives nowhere: only http-01
    start(h, h.vhost("port.example.test", https=False)
          + h.vhost("port.example.test").replace(f":{h.https_port}>", f":{second}>")
          + h.vhost("other.example.test") + h.vhost("free.example.test"))
    root = pebble.write_root(workdir / "pebble-root.pem")
    wait_for_cert(h, "other.example.test", root)
    wait_until(lambda: http_request(h.http_port, "port.example.test", "/")[0] == 302, 20)
    status, headers, _ = http_request(h.http_port, "port.example.test", "/")
    assert (status, headers["location"]) == (302, f"https://port.example.test:{second}/")
    status, headers, _ = http_request(h.http_port, "other.example.test", "/")
    assert (status, headers["location"]) == (302, f"https://other.example.test:{h.https_port}/")
    # requests land in port.example.test's http vhost, but each host's own MD decides
    status, headers, _ = http_request(h.http_port, "free.example.test", "/index.html")
    assert status == 200 and "location" not in headers


# --- against pebble --------------------------------------------------------------------------

def start_with_pebble(md_httpd, pebble_factory, workdir, names, challenges, tls_alpn=False,
                      md_lines=()):
    """httpd + pebble whose validator reaches httpd's http port (http-01) or https port
    (tls-alpn-01); one MD driven in the background. Returns (httpd, pebble root file)."""
    http_port, https_port, unused = ports.free_ports(3)
    pebble = pebble_factory(http_port=unused if tls_alpn else http_port,
                            tls_port=https_port if tls_alpn else unused)
    h = md_httpd([f"MDCAChallenges {challenges}", *md_lines, f"MDomain {' '.join(names)}"],
                 pebble=pebble, http_port=http_port, https_port=https_port)
    start(h, h.vhost(names, extra=ACME_TLS_PROTOCOLS) + h.vhost(names, https=False))
    return h, pebble.write_root(workdir / "pebble-root.pem")


def challenge_requests(h, status=None):
    """Access log lines of http-01 requests (with that status when given)."""
    try:
        lines = h.access_log.read_text().splitlines()
    except OSError:
        return []
    return [line for line in lines if CHALLENGE_PREFIX in line
            and (status is None or f'" {status} ' in line)]


def test_http01_alone_obtains_and_serves_certificate(md_httpd, pebble_factory, workdir):
    names = ["h1.example.test", "www.h1.example.test"]
    h, root = start_with_pebble(md_httpd, pebble_factory, workdir, names, "http-01")
    status, peer = wait_for_cert(h, names[0], root)
    assert status == 200 and san_names(peer) == sorted(names)
    _, peer = wait_for_cert(h, names[1], root)
    assert san_names(peer) == sorted(names)
    # pebble validated each name through our http-01 answers (the log's last field is Host)
    answered = {line.split()[-1].split(":")[0] for line in challenge_requests(h, 200)}
    assert answered == set(names), challenge_requests(h)


def test_tlsalpn01_alone_obtains_and_serves_certificate(md_httpd, pebble_factory, workdir):
    names = ["t1.example.test", "www.t1.example.test"]
    h, root = start_with_pebble(md_httpd, pebble_factory, workdir, names, "tls-alpn-01",
                                tls_alpn=True)
    status, peer = wait_for_cert(h, names[1], root)
    assert status == 200 and san_names(peer) == sorted(names)
    assert challenge_requests(h) == []  # nothing went through http-01
    log = h.error_log_text()
    for name in names:
        assert f"answering tls-alpn-01 challenge for {name}" in log
    # md-status says so, as the bundled module does: the names acme-tls/1 answers for
    h.write_config(extra_conf="<Location /md-status>\n  SetHandler md-status\n</Location>\n")
    h.graceful()
    st, body = h.get(f"/md-status/{names[0]}")
    assert st == 200 and json.loads(body)["proto"] == {"acme-tls/1": names}, body


DNS01_SCRIPT = """#!/usr/bin/python3
# dns-01 for the tests: 'setup <domain> <txt>' / 'teardown <domain>' via challtestsrv's API.
import json, sys, urllib.request
MGMT = {mgmt!r}
LOG = {log!r}
action, domain = sys.argv[1], sys.argv[2]
host = "_acme-challenge." + domain + "."
if action == "setup":
    path, body = "/set-txt", {{"host": host, "value": sys.argv[3]}}
else:
    path, body = "/clear-txt", {{"host": host}}
req = urllib.request.Request(MGMT + path, data=json.dumps(body).encode(), method="POST")
with urllib.request.urlopen(req, timeout=5) as r:
    r.read()
with open(LOG, "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
"""


@pytest.mark.parametrize("version", [1, 2])
def test_wildcard_via_dns01_is_served(md_httpd, pebble_factory, workdir, version):
    # the base name goes by http-01, the wildcard (which only dns-01 can prove) by the script
    shared = workdir / "dns01"
    shared.mkdir()
    shared.chmod(SHARED_DIR_MODE)
    log = shared / "calls.log"
    http_port, https_port = ports.free_ports(2)
    pebble = pebble_factory(http_port=http_port, tls_port=ports.free_port())
    script = workdir / "dns01.py"
    script.write_text(DNS01_SCRIPT.format(mgmt=pebble.chall_mgmt_url, log=str(log)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    names = ["wild.example.test", "*.wild.example.test"]
    h = md_httpd(["MDCAChallenges http-01 dns-01", f"MDChallengeDns01 {script}",
                  f"MDChallengeDns01Version {version}", f"MDomain {' '.join(names)}"],
                 pebble=pebble, http_port=http_port, https_port=https_port)
    start(h, h.vhost(names) + h.vhost(names, https=False))
    root = pebble.write_root(workdir / "pebble-root.pem")
    status, peer = wait_for_cert(h, "any.wild.example.test", root)
    assert status == 200 and san_names(peer) == sorted(names)
    calls = [line.split() for line in log.read_text().splitlines()]
    setup = [c for c in calls if c[:2] == ["setup", "wild.example.test"]]
    teardown = [c for c in calls if c[:2] == ["teardown", "wild.example.test"]]
    assert len(setup) == 1 and len(setup[0]) == 3 and len(teardown) == 1, calls
    # version 2 tells teardown which value to remove: the one setup published
    assert teardown[0][2:] == (setup[0][2:] if version == 2 else []), calls


def test_require_https_permanent_redirects_and_sets_hsts(md_httpd, pebble_factory, workdir):
    names = ["perm.example.test"]
    h, root = start_with_pebble(md_httpd, pebble_factory, workdir, names, "http-01",
                                md_lines=["MDRequireHttps permanent"])
    # once the certificate is presented, http redirects -- except the CA's challenges
    status, _ = wait_for_cert(h, names[0], root)
    assert status == 200
    status, headers, _ = http_request(h.http_port, names[0], "/x?y=1")
    assert status == 301
    assert headers["location"] == f"https://{names[0]}:{h.https_port}/x?y=1"
    status, headers, _, _ = https_request(h.https_port, names[0], "/index.html", cafile=root)
    assert status == 200 and headers["strict-transport-security"] == HSTS_VALUE
    # the CA's validation went over http in spite of the redirect
    assert challenge_requests(h, 200), challenge_requests(h)
    status, headers, _ = http_request(h.http_port, names[0], "/index.html")
    assert status == 301 and "strict-transport-security" not in headers


def test_http01_answers_of_a_store_only_md_driven_by_a2md(md_httpd, pebble_factory, workdir):
    # the server manages one MD; a second one is only in the store, driven by hand with a2md
    # (a cluster node that gets certificates for others, a move from another server)
    names = ["conf.example.test"]
    h, root = start_with_pebble(md_httpd, pebble_factory, workdir, names, "http-01")
    wait_for_cert(h, names[0], root)
    other = "storeonly.example.test"
    a2md = [str(A2MD), "-d", str(h.store_dir), "-C", str(h.pebble.ca_file)]
    r = subprocess.run(a2md + ["-a", h.pebble.directory_url, "-t", "accepted", "add", other],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(a2md + ["drive", "-c", "http-01", other], capture_output=True, text=True,
                       timeout=120)
    # pebble fetched the answer a2md wrote, from the running server
    assert r.returncode == 0, (r.stdout, r.stderr, challenge_requests(h))
    assert any(line.split()[-1].split(":")[0] == other for line in challenge_requests(h, 200))

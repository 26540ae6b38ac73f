# test_module_live.py: live activation -- a renewed certificate is presented at the next handshake of
# every worker, with no restart: kept-alive connections survive, RSA + EC, HTTP/2, children forked
# later, half-done renewals invisible, staged sets that no longer fit dropped and redone.
import json
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec as asym_ec, rsa as asym_rsa

from mdtest import ports
from mdtest.mdhttpd import MdHttpd, cert_dns_names
from mdtest.procs import wait_until

DOMAIN = "live.example.test"
ALT = "www.live.example.test"
SERVED_TIMEOUT_SECONDS = 40.0
RESTARTED = "resuming normal operations"
# longer than pebble's 5-year certificates: every certificate is due for renewal at once
RENEW_ALWAYS = "2000d"
# renewals due from issuance come once per MDCheckInterval: here every second
CHECK_OFTEN = "MDCheckInterval 1s"
TLS_TIMEOUT_SECONDS = 5.0


class Live:
    """pebble (http-01) + one apache2 with our module and one MD on a TLS vhost."""

    def __init__(self, workdir, pebble_factory, modules=()):
        self.http_port, self.https_port = ports.free_ports(2)
        self.pebble = pebble_factory(http_port=self.http_port, tls_port=ports.free_port())
        self.root = self.pebble.write_root(Path(workdir) / "pebble-root.pem")
        self.httpd = MdHttpd(workdir, pebble=self.pebble, http_port=self.http_port,
                             https_port=self.https_port, modules=modules)
        self.store = self.httpd.store_dir

    def write(self, names=(DOMAIN, ALT), md_lines=(), global_lines=(), vhost_extra="",
              extra_conf=""):
        conf = ["MDPrivateKeys secp256r1", "MDCAChallenges http-01", "MDRetryDelay 1s",
                *global_lines,
                f"<MDomainSet {' '.join(names)}>", *md_lines, "</MDomainSet>"]
        self.httpd.write_config(
            md_conf="\n".join(conf), vhosts=self.httpd.vhost(list(names), extra=vhost_extra),
            extra_conf="<Location /md-status>\n  SetHandler md-status\n</Location>\n" + extra_conf)

    def served(self, name=DOMAIN, ciphers=None):
        """The verified leaf for SNI name (TLS 1.2 with `ciphers` when given); None if none."""
        ctx = ssl.create_default_context(cafile=str(self.root))
        if ciphers:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(ciphers)
        try:
            with socket.create_connection(("127.0.0.1", self.https_port),
                                          timeout=TLS_TIMEOUT_SECONDS) as sock:
                with ctx.wrap_socket(sock, server_hostname=name) as tls:
                    return tls.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError):
            return None

    def wait_served(self, other_than=None, **kwargs):
        der = wait_until(lambda: (lambda d: d if d and d != other_than else None)(
            self.served(**kwargs)), SERVED_TIMEOUT_SECONDS, interval=0.2)
        assert der, f"no (new) verified certificate served\n{self.httpd.error_log_tail(60)}"
        return der

    def status(self):
        st, body = self.httpd.get(f"/md-status/{DOMAIN}")
        assert st == 200, body
        return json.loads(body)

    def log_count(self, text):
        return self.httpd.error_log_text().count(text)


@pytest.fixture
def live(workdir, pebble_factory):
    s = Live(workdir, pebble_factory)
    yield s
    s.httpd.stop()


def x509_of(der):
    return x509.load_der_x509_certificate(der)


class KeptAlive:
    """One TLS connection with keep-alive to the MD's vhost: requests one after the other."""

    def __init__(self, live):
        ctx = ssl.create_default_context(cafile=str(live.root))
        sock = socket.create_connection(("127.0.0.1", live.https_port), timeout=TLS_TIMEOUT_SECONDS)
        self.tls = ctx.wrap_socket(sock, server_hostname=DOMAIN)
        self.cert = self.tls.getpeercert(binary_form=True)

    def get(self):
        self.tls.sendall(f"GET /index.html HTTP/1.1\r\nHost: {DOMAIN}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.tls.recv(65536)
            assert chunk, "the server closed the kept-alive connection"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = int([h.split(b":")[1] for h in head.split(b"\r\n")
                      if h.lower().startswith(b"content-length")][0])
        while len(body) < length:
            body += self.tls.recv(65536)
        return int(head.split(b" ")[1])

    def close(self):
        self.tls.close()


def test_renewal_goes_live_while_kept_alive_connections_stay_open(live):
    live.write(global_lines=["KeepAliveTimeout 60", "MaxKeepAliveRequests 0"])
    live.httpd.start()
    first = live.wait_served()
    st = live.status()
    assert st["presented"]["source"] == "live"
    # a client on a kept-alive connection, then a renewal that goes live
    live.write(md_lines=[f"MDRenewWindow {RENEW_ALWAYS}"],
               global_lines=["KeepAliveTimeout 60", "MaxKeepAliveRequests 0", CHECK_OFTEN])
    live.httpd.graceful()
    restarts = live.log_count(RESTARTED)
    conn = KeptAlive(live)
    try:
        assert conn.get() == 200
        second = live.wait_served(other_than=conn.cert)
        assert second != first
        # the old connection still answers, on its old handshake
        assert conn.get() == 200
        assert conn.get() == 200
    finally:
        conn.close()
    assert live.log_count(RESTARTED) == restarts
    assert "Doing graceful restart" not in live.httpd.error_log_text().split(RESTARTED)[-1]


def test_rsa_and_ec_each_client_gets_the_key_type_it_supports(live):
    live.write(global_lines=["MDPrivateKeys secp256r1 rsa2048"])
    live.httpd.start()
    live.wait_served()
    ec = x509_of(live.wait_served(ciphers="ECDHE-ECDSA-AES128-GCM-SHA256"))
    rsa = x509_of(live.wait_served(ciphers="ECDHE-RSA-AES128-GCM-SHA256"))
    assert isinstance(ec.public_key(), asym_ec.EllipticCurvePublicKey)
    assert isinstance(rsa.public_key(), asym_rsa.RSAPublicKey)
    assert sorted(cert_dns_names(ec)) == sorted(cert_dns_names(rsa)) == sorted([DOMAIN, ALT])
    keys = {c["key"] for c in live.status()["presented"]["certificates"]}
    assert keys == {"secp256r1", "rsa2048"}
    assert live.log_count(RESTARTED) == 1


def test_live_certificate_over_http2(workdir, pebble_factory):
    live = Live(workdir, pebble_factory, modules=("http2",))
    try:
        live.write(vhost_extra="Protocols h2 http/1.1")
        live.httpd.start()
        der = live.wait_served()
        r = subprocess.run(
            ["curl", "-sS", "--http2", "--cacert", str(live.root), "-o", "/dev/null",
             "-w", "%{http_version} %{http_code}", "--resolve",
             f"{DOMAIN}:{live.https_port}:127.0.0.1",
             f"https://{DOMAIN}:{live.https_port}/index.html"],
            capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["2", "200"], r.stdout
        assert live.served() == der
    finally:
        live.httpd.stop()


def test_children_forked_later_present_the_live_set_not_a_half_done_renewal(live):
    # every child serves few connections: new children keep coming after the set went live
    live.write(global_lines=["MaxConnectionsPerChild 3", "KeepAlive off"])
    live.httpd.start()
    der = live.wait_served()
    published = live.httpd.error_log_text()
    # a renewal half-way in staging/: another certificate there, its job not finished
    staging = live.store / "staging" / DOMAIN
    staging.mkdir(mode=0o700)
    (staging / "job.json").write_text(json.dumps({"name": DOMAIN, "step": "order"}))
    other = (live.store / "domains" / DOMAIN / "fallback-pubcert.pem").read_text()
    (staging / "pubcert.secp256r1.pem").write_text(other)
    for _ in range(30):
        assert live.served() == der
    later = live.httpd.error_log_text()[len(published):]
    assert "presents its new certificate" in later, "no child forked after the set went live"
    assert live.log_count(RESTARTED) == 1


def test_a_staged_set_that_no_longer_fits_is_dropped_and_driven_again(live):
    # staged for both names, held back by the activation delay
    live.write(global_lines=["MDActivationDelay 1h"])
    live.httpd.start()
    assert wait_until(lambda: live.log_count("(MDActivationDelay)"), SERVED_TIMEOUT_SECONDS), \
        live.httpd.error_log_tail()
    # a name leaves the MD before the set went live
    live.write(names=(DOMAIN,))
    live.httpd.graceful()
    der = live.wait_served()
    assert cert_dns_names(x509_of(der)) == [DOMAIN]
    log = live.httpd.error_log_text()
    assert f"staging/{DOMAIN} does not fit the MD" in log
    assert live.status()["presented"]["source"] == "live"


def test_a_live_rsa_certificate_replaces_the_ec_temporary_one(live):
    """The temporary certificate is EC; clients that prefer EC must still get the live RSA one."""
    live.write(global_lines=["MDPrivateKeys rsa2048"])
    live.httpd.start()
    cert = x509_of(live.wait_served())
    assert isinstance(cert.public_key(), asym_rsa.RSAPublicKey)
    assert sorted(cert_dns_names(cert)) == sorted([DOMAIN, ALT])

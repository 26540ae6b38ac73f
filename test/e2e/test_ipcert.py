# test_ipcert.py: certificates for IP addresses (RFC 8738) from pebble 2.10 -- validated by http-01
# and by tls-alpn-01 (reverse-DNS name in SNI), served to clients that send no SNI; config errors.
import json
import subprocess

import pytest
from cryptography import x509

from mdtest import ports
from mdtest.caproxy import CaProxy, authz_identifier_as
from mdtest.mdhttpd import MOD_MD_PATH, MdHttpd
from mdtest.procs import wait_until

pytestmark = pytest.mark.skipif(not MOD_MD_PATH.exists(), reason=f"{MOD_MD_PATH} not built")

IP = "127.0.0.1"
CERT_TIMEOUT_SECONDS = 60.0
S_CLIENT_TIMEOUT_SECONDS = 10.0
ACME_TLS_PROTOCOLS = "Protocols http/1.1 acme-tls/1"
COMMON_MD_CONF = "MDPrivateKeys secp256r1\nMDRetryDelay 1s\nServerAdmin admin@example.test\n"


def served_without_sni(h, root, ip=IP):
    """The certificate the https port presents at ip to a client that sends no SNI, verified by
    openssl s_client against pebble's root and for ip (with root); None while it presents
    another (or, without root, while nothing answers)."""
    host = f"[{ip}]" if ":" in ip else ip
    verify = ["-CAfile", str(root), "-verify_ip", ip, "-verify_return_error"] if root else []
    try:
        r = subprocess.run(["openssl", "s_client", "-connect", f"{host}:{h.https_port}",
                            "-noservername", *verify],
                           input=b"", capture_output=True, timeout=S_CLIENT_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return None
    out = r.stdout.decode(errors="replace")
    if r.returncode != 0 or (root and "Verify return code: 0 (ok)" not in out):
        return None
    start = out.index("-----BEGIN CERTIFICATE-----")
    end = out.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    return x509.load_pem_x509_certificate(out[start:end].encode())


def san_of(cert):
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return ([str(ip) for ip in san.get_values_for_type(x509.IPAddress)],
            san.get_values_for_type(x509.DNSName))


def ip_vhosts(h, ip):
    """An https vhost (offering acme-tls/1) and an http one for ip, at ip's own address."""
    if ":" not in ip:
        return h.vhost(ip, extra=ACME_TLS_PROTOCOLS) + h.vhost(ip, https=False)
    # httpd takes no IPv6 literal for ServerName ('[' is a wildcard character to it), only as
    # ServerAlias
    return "".join(f"Listen [{ip}]:{port}{' https' if tls else ''}\n"
                   f"<VirtualHost [{ip}]:{port}>\n  ServerName ip6.example.test\n"
                   f"  ServerAlias {ip}\n"
                   f"  DocumentRoot {h.docroot}\n"
                   + (f"  SSLEngine on\n  {ACME_TLS_PROTOCOLS}\n" if tls else "")
                   + "</VirtualHost>\n"
                   for port, tls in ((h.https_port, True), (h.http_port, False)))


@pytest.fixture
def ip_httpd(workdir, pebble_factory):
    """start(challenge, ip) -> (httpd, pebble root): `MDomain <ip>` at pebble 2.10, whose
    validator reaches httpd's http port (http-01) or https port (tls-alpn-01) only."""
    made = []

    def start(challenge, ip=IP):
        http_port, https_port, unused = ports.free_ports(3)
        tls_alpn = challenge == "tls-alpn-01"
        pebble = pebble_factory(sid=True, http_port=unused if tls_alpn else http_port,
                                tls_port=https_port if tls_alpn else unused)
        h = MdHttpd(workdir, pebble=pebble, http_port=http_port, https_port=https_port)
        made.append(h)
        h.write_config(md_conf=f"{COMMON_MD_CONF}MDCAChallenges {challenge}\n"
                               f"MDomain {ip} manual\n",
                       vhosts=ip_vhosts(h, ip))
        h.start()
        return h, pebble.write_root(workdir / "pebble-root.pem")

    yield start
    for h in made:
        h.stop()


@pytest.mark.parametrize("ip", [IP, "::1"])
@pytest.mark.parametrize("challenge", ["http-01", "tls-alpn-01"])
def test_ip_certificate_served_without_sni(ip_httpd, challenge, ip):
    h, root = ip_httpd(challenge, ip)
    cert = wait_until(lambda: served_without_sni(h, root, ip), CERT_TIMEOUT_SECONDS, interval=0.5)
    assert cert, h.error_log_tail(60)
    assert san_of(cert) == ([ip], [])
    if challenge == "tls-alpn-01":
        # pebble asked by the reverse-DNS name; we answered for the address
        assert f"answering tls-alpn-01 challenge for {ip}" in h.error_log_text()
    # the store keeps the MD under the address; after a restart the installed set is served
    assert h.md_json(ip)["domains"] == [ip]
    h.graceful()
    assert list(h.domain_dir(ip).glob("pubcert*.pem")), h.error_log_tail(40)
    again = wait_until(lambda: served_without_sni(h, root, ip), CERT_TIMEOUT_SECONDS, interval=0.5)
    assert again and again.serial_number == cert.serial_number, h.error_log_tail(40)


def test_an_authorization_for_another_address_is_refused(workdir, pebble_factory):
    # a CA (here: our proxy rewriting pebble's answer) that asks to authorize an address the MD
    # does not name gets nothing answered for it
    other = "127.0.0.2"
    http_port, https_port = ports.free_ports(2)
    pebble = pebble_factory(sid=True, http_port=http_port, tls_port=https_port)
    proxy = CaProxy(pebble)
    proxy.rewrite = authz_identifier_as(other)
    proxy.start()
    h = MdHttpd(workdir, ca_url=proxy.directory_url, ca_file=pebble.ca_file,
                http_port=http_port, https_port=https_port)
    try:
        h.write_config(md_conf=f"{COMMON_MD_CONF}MDCAChallenges http-01\nMDomain {IP}\n",
                       vhosts=ip_vhosts(h, IP))
        h.start()
        refused = f"the CA asks to authorize '{other}'"
        assert wait_until(lambda: refused in h.error_log_text(), CERT_TIMEOUT_SECONDS,
                          interval=0.25), h.error_log_tail(60)
        assert "not a name of the MD" in h.error_log_text()
        assert not (h.store_dir / "challenges" / other).exists()
        assert not [r for r in proxy.requests if r[1].startswith("/chalZ/")], proxy.requests
    finally:
        h.stop()
        proxy.stop()


@pytest.fixture
def md_httpd(workdir):
    made = []

    def make(md_conf):
        h = MdHttpd(workdir, name=f"httpd{len(made)}",
                    ca_url=f"https://127.0.0.1:{ports.free_port()}/dir",
                    md_conf="MDRenewMode manual\n" + md_conf)
        made.append(h)
        h.write_config()
        return h

    yield make
    for h in made:
        h.stop()


@pytest.mark.parametrize("md_conf,words", [
    ("MDomain *.127.0.0.1\n", ["*.127.0.0.1", "wildcards are for domain names only", "like 127.0.0.1"]),
    ("MDCAChallenges dns-01\nMDomain www.example.test 127.0.0.1\n",
     ["MD www.example.test", "127.0.0.1", "http-01 or tls-alpn-01", "allows only dns-01"]),
    ("MDomain www.example.test\n<MDomain 192.0.2.10>\n  MDCAChallenges dns-01\n</MDomain>\n",
     ["MD 192.0.2.10", "http-01 or tls-alpn-01", "allows only dns-01"]),
], ids=["wildcard", "dns-01-global", "dns-01-section"])
def test_configtest_refuses_what_cannot_validate_an_address(md_httpd, md_conf, words):
    h = md_httpd(md_conf)
    rc, out = h.configtest()
    assert rc != 0, out
    for word in words:
        assert word in out, out


def test_configtest_accepts_addresses(md_httpd):
    h = md_httpd("MDomain 127.0.0.1 [::1] www.example.test\n"
                 "MDCAChallenges dns-01 http-01\n")
    rc, out = h.configtest()
    assert rc == 0, out


@pytest.mark.parametrize("ip_first", [True, False])
def test_vhost_of_an_address_not_first_for_it_is_warned(md_httpd, ip_first):
    # a client that connects to 127.0.0.1 sends no SNI: httpd picks the first vhost of the
    # address, whose certificate it gets
    h = md_httpd("MDPrivateKeys secp256r1\nMDomain www.example.test\nMDomain 127.0.0.1\n")
    vhosts = [h.vhost("www.example.test"), h.vhost(IP)]
    h.write_config(vhosts="".join(vhosts[::-1] if ip_first else vhosts))
    h.start()
    warning = "not the first vhost for 127.0.0.1"
    cert = wait_until(lambda: served_without_sni(h, None), CERT_TIMEOUT_SECONDS, interval=0.25)
    if ip_first:
        assert san_of(cert) == ([IP], [])
        assert warning not in h.error_log_text()
    else:
        assert san_of(cert) == ([], ["www.example.test"])
        log = h.error_log_text()
        assert warning in log and "MD 127.0.0.1" in log, log
        assert "get the certificate of vhost www.example.test" in log, log


def test_vhost_address_alias_does_not_join_an_md(md_httpd):
    # MDMembers auto (the default) adds a vhost's other names, but no address: a CA would
    # refuse an internal one, and the certificate of the domain names with it
    h = md_httpd("MDPrivateKeys secp256r1\nMDomain www.example.test\n")
    h.write_config(vhosts=h.vhost(["www.example.test", "192.0.2.10", "alias.example.test"]))
    h.start()
    assert h.md_json("www.example.test")["domains"] == ["www.example.test", "alias.example.test"]


A2MD = str(MOD_MD_PATH.parent / "a2md")


def test_a2md_adds_addresses_in_canonical_form(tmp_path):
    store = tmp_path / "md"
    r = subprocess.run([A2MD, "-d", str(store), "add", "127.0.0.1", "[2001:DB8:0::1]",
                        "www.example.test"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([A2MD, "-d", str(store), "-j", "list"], capture_output=True, text=True)
    assert json.loads(r.stdout)["output"][0]["domains"] == ["127.0.0.1", "2001:db8::1",
                                                             "www.example.test"]
    r = subprocess.run([A2MD, "-d", str(store), "add", "*.192.0.2.10"], capture_output=True,
                       text=True)
    assert r.returncode != 0 and "wildcards are for domain names only" in r.stderr, r.stderr

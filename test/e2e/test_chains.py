# test_chains.py: full certificate chains against pebble 2.10: a CA that hands out the leaf only and
# links its issuer (rel="up"), longer chains (PEBBLE_CHAIN_LENGTH), and alternate chains
# (PEBBLE_ALTERNATE_ROOTS) chosen by the root's name with MDPreferredChain.
import re
import ssl
import subprocess

import pytest
from cryptography import x509

from mdtest import ports
from mdtest.caproxy import CaProxy
from mdtest.mdhttpd import MdHttpd

DOMAIN = "chain.example.test"
TLS_TIMEOUT_SECONDS = 10
PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", re.S)
MD_CONF = "MDPrivateKeys secp256r1\nMDCAChallenges http-01\nMDRetryDelay 1s\n"


def served_chain(h, cafile):
    """The certificates (PEM, leaf first) the https port serves for DOMAIN, once a client that
    trusts only cafile accepts them; None when that does not come to pass."""
    if not h.wait_served(DOMAIN, cafile):
        return None
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{h.https_port}",
                        "-servername", DOMAIN, "-showcerts"], input=b"", capture_output=True,
                       timeout=TLS_TIMEOUT_SECONDS)
    return PEM_CERT.findall(r.stdout)


def _cn(name):
    cns = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return cns[0].value if cns else None


def subject_cn(pem):
    return _cn(x509.load_pem_x509_certificate(pem).subject)


def issuer_cn(pem):
    return _cn(x509.load_pem_x509_certificate(pem).issuer)


def openssl_verifies(chain, root, workdir):
    """openssl verify of the leaf with the served intermediates as untrusted and root alone as
    trust."""
    leaf, inter = workdir / "leaf.pem", workdir / "inter.pem"
    leaf.write_bytes(chain[0])
    inter.write_bytes(b"".join(chain[1:]))
    r = subprocess.run(["openssl", "verify", "-CAfile", str(root), "-untrusted", str(inter),
                        str(leaf)], capture_output=True, text=True)
    return r.returncode == 0


@pytest.fixture
def chain_httpd(workdir, pebble_factory):
    """start(env, md_conf=None, via_proxy=None) -> (httpd, pebble, proxy): our module with one MD
    at pebble 2.10 started with env; md_conf(pebble) gives settings for it; via_proxy(proxy) sets
    up a CaProxy in front of pebble."""
    made = []

    def start(env, md_conf=None, via_proxy=None):
        http_port, https_port = ports.free_ports(2)
        pebble = pebble_factory(sid=True, http_port=http_port, tls_port=https_port, env=env)
        proxy = None
        if via_proxy:
            proxy = CaProxy(pebble)
            via_proxy(proxy)
            proxy.start()
        h = MdHttpd(workdir, pebble=pebble, ca_url=proxy.directory_url if proxy else None,
                    http_port=http_port, https_port=https_port)
        made.append((h, proxy))
        settings = md_conf(pebble) if md_conf else ""
        h.write_config(md_conf=f"{MD_CONF}{settings}MDomain {DOMAIN}\n", vhosts=h.vhost(DOMAIN))
        h.start()
        return h, pebble, proxy

    yield start
    for h, proxy in made:
        h.stop()
        if proxy:
            proxy.stop()


def cut_chain(keep, der_by_get=False):
    """For a CaProxy: the certificate answer cut to its first `keep` certificates; the rest, then
    pebble's root, served one by one at /up/<n>, each linking the next with rel="up".
    der_by_get: like a static AIA server, /up/<n> refuses POST and serves DER to GET."""
    rest = []

    def setup(proxy):
        def link(n):
            return "Link", f'<https://127.0.0.1:{proxy.port}/up/{n}>;rel="up"'

        def inject(method, path):
            m = re.fullmatch(r"/up/(\d+)", path)
            if not m:
                return None
            if der_by_get and method != "GET":
                return 405, [("Allow", "GET")], b""
            upper = rest + [proxy.pebble.root_pem(0).encode()]
            n = int(m.group(1))
            headers = [link(n + 1)] if n + 1 < len(upper) else []
            if der_by_get:
                return 200, [("Content-Type", "application/pkix-cert"), *headers], \
                    ssl.PEM_cert_to_DER_cert(upper[n].decode())
            return 200, [("Content-Type", "application/pem-certificate-chain"), *headers], upper[n]

        def rewrite(method, path, answer):
            status, headers, body = answer
            if method == "POST" and path.startswith("/certZ/") and status == 200:
                certs = PEM_CERT.findall(body)
                rest[:] = certs[keep:]
                body = b"".join(certs[:keep])
                headers = [(k, v) for k, v in headers if k.lower() != "link"] + [link(0)]
            return status, headers, body
        proxy.inject = inject
        proxy.rewrite = rewrite
    return setup


def test_leaf_only_answer_is_completed_by_following_rel_up(workdir, chain_httpd):
    h, pebble, proxy = chain_httpd({}, via_proxy=cut_chain(1, der_by_get=True))
    root = pebble.write_root(workdir / "root.pem")
    chain = served_chain(h, root)
    assert chain, h.error_log_tail(60)
    # leaf and intermediate, no root; a client trusting only the root accepts it
    assert len(chain) == 2, chain
    assert chain[1] == pebble.intermediate_pem(0).encode().strip() + b"\n"
    assert openssl_verifies(chain, root, workdir)
    # each issuer came by GET after a refused POST-as-GET; the root was fetched, not served
    assert proxy.count("GET", "/up/0") == 1, proxy.requests
    assert proxy.count("GET", "/up/1") == 1, proxy.requests


def test_longer_chain_is_completed_hop_by_hop(workdir, chain_httpd):
    # PEBBLE_CHAIN_LENGTH 3: three intermediates between leaf and root; the CA's answer has the
    # first one only, the others and the root come one rel="up" hop at a time
    h, pebble, proxy = chain_httpd({"PEBBLE_CHAIN_LENGTH": "3"}, via_proxy=cut_chain(2))
    root = pebble.write_root(workdir / "root.pem")
    chain = served_chain(h, root)
    assert chain, h.error_log_tail(60)
    assert len(chain) == 4, [subject_cn(c) for c in chain]
    assert openssl_verifies(chain, root, workdir)
    assert issuer_cn(chain[-1]) == subject_cn(pebble.root_pem(0).encode())
    for n in range(3):
        assert proxy.count("POST", f"/up/{n}") == 1, proxy.requests
    assert proxy.count("GET", "/up/0") == 0, proxy.requests


def root_name(pebble, index):
    return subject_cn(pebble.root_pem(index).encode())


def test_preferred_chain_picks_the_alternate_root(workdir, chain_httpd):
    # and a longer chain, as pebble serves it: leaf and two intermediates
    h, pebble, _ = chain_httpd({"PEBBLE_ALTERNATE_ROOTS": "1", "PEBBLE_CHAIN_LENGTH": "2"},
                               md_conf=lambda pebble: f'MDPreferredChain "{root_name(pebble, 1)}"\n')
    alt_root = pebble.write_root(workdir / "root1.pem", index=1)
    chain = served_chain(h, alt_root)
    assert chain, h.error_log_tail(60)
    assert len(chain) == 3, [subject_cn(c) for c in chain]
    assert issuer_cn(chain[-1]) == root_name(pebble, 1)
    assert openssl_verifies(chain, alt_root, workdir)
    assert not openssl_verifies(chain, pebble.write_root(workdir / "root0.pem"), workdir)
    assert h.md_json(DOMAIN)["preferred-chain"] == root_name(pebble, 1)


def test_without_a_match_the_default_root_and_the_names_offered_are_logged(workdir, chain_httpd):
    h, pebble, _ = chain_httpd({"PEBBLE_ALTERNATE_ROOTS": "1"},
                               md_conf=lambda pebble: 'MDPreferredChain "No Such Root"\n')
    root = pebble.write_root(workdir / "root0.pem")
    chain = served_chain(h, root)
    assert chain, h.error_log_tail(60)
    assert issuer_cn(chain[-1]) == root_name(pebble, 0)
    assert not openssl_verifies(chain, pebble.write_root(workdir / "root1.pem", index=1), workdir)
    log = h.error_log_text()
    assert "no chain leads to 'No Such Root'" in log
    for index in (0, 1):
        assert root_name(pebble, index) in log

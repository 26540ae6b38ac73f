# test_module_keys.py: one MD with an RSA and an EC key (MDPrivateKeys) -- both certificates are
# obtained from pebble (real http-01), and each client gets the one its cipher suites can use.
import json
import socket
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mdtest import ports
from mdtest.mdhttpd import MOD_MD_PATH, TLS_TIMEOUT_SECONDS, MdHttpd, cert_dns_names
from mdtest.procs import wait_until

DOMAINS = ["keys.example.test", "www.keys.example.test"]
# the bundled module's spelling of 'secp256r1 RSA 2048'
KEY_SPECS = "secp256r1 rsa2048"
RSA_BITS = 2048
# TLS 1.2 suites that only one key type can serve (TLS 1.3 suites work with any key type)
EC_ONLY_SUITE = "ECDHE-ECDSA-AES128-GCM-SHA256"
RSA_ONLY_SUITE = "ECDHE-RSA-AES128-GCM-SHA256"
# from start until both certificates are served after the module's own graceful restart
SERVED_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.25


@pytest.fixture(scope="module", autouse=True)
def module_built():
    assert MOD_MD_PATH.exists(), f"{MOD_MD_PATH} is missing: run `make` first"


@pytest.fixture
def site(workdir, pebble_factory):
    """pebble validating http-01 on the httpd's http port; an httpd with one MD on two keys."""
    http_port, https_port = ports.free_ports(2)
    pebble = pebble_factory(http_port=http_port, tls_port=https_port)
    h = MdHttpd(workdir, pebble=pebble, http_port=http_port, https_port=https_port)
    h.root_file = pebble.write_root(Path(workdir) / "pebble-root.pem")
    h.write_config(
        md_conf="\n".join(["ServerAdmin admin@example.test", "MDCAChallenges http-01",
                           "MDRetryDelay 1s", f"<MDomainSet {' '.join(DOMAINS)}>",
                           f"  MDPrivateKeys {KEY_SPECS}", "</MDomainSet>"]),
        vhosts=h.vhost(DOMAINS),
        extra_conf="<Location /md-status>\n  SetHandler md-status\n</Location>\n")
    h.start()
    yield h
    h.stop()


def tls12_cert(h, name, suite):
    """The leaf served to a TLS 1.2 client offering only `suite`, verified against pebble's root
    and `name`; None when the handshake or the verification fails."""
    ctx = ssl.create_default_context(cafile=str(h.root_file))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(suite)
    try:
        with socket.create_connection(("127.0.0.1", h.https_port),
                                      timeout=TLS_TIMEOUT_SECONDS) as sock:
            with ctx.wrap_socket(sock, server_hostname=name) as tls:
                assert tls.cipher()[0] == suite
                return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    except (OSError, ValueError):
        return None


def test_rsa_and_ec_certificates_each_served_to_its_clients(site):
    def both():
        certs = (tls12_cert(site, DOMAINS[0], EC_ONLY_SUITE),
                 tls12_cert(site, DOMAINS[0], RSA_ONLY_SUITE))
        return certs if all(certs) else None
    got = wait_until(both, SERVED_TIMEOUT_SECONDS, interval=POLL_SECONDS)
    assert got, f"not both certificates served\n{site.error_log_tail(60)}"
    ec_cert, rsa_cert = got

    ec_key, rsa_key = ec_cert.public_key(), rsa_cert.public_key()
    assert isinstance(ec_key, ec.EllipticCurvePublicKey) and ec_key.curve.name == "secp256r1"
    assert isinstance(rsa_key, rsa.RSAPublicKey) and rsa_key.key_size == RSA_BITS
    assert ec_cert.serial_number != rsa_cert.serial_number
    for cert in (ec_cert, rsa_cert):
        assert cert_dns_names(cert) == sorted(DOMAINS)
        assert "Pebble" in cert.issuer.rfc4514_string()
    # every name of the MD gets the same pair
    assert tls12_cert(site, DOMAINS[1], EC_ONLY_SUITE).serial_number == ec_cert.serial_number
    assert tls12_cert(site, DOMAINS[1], RSA_ONLY_SUITE).serial_number == rsa_cert.serial_number

    # md-status lists both, with the serials that are served
    st, body = site.get(f"/md-status/{DOMAINS[0]}")
    assert st == 200, body
    j = json.loads(body)
    assert j["state-name"] == "complete", j
    serials = {c["key"]: int(c["serial"], 16) for c in j["certificates"]}
    assert len(j["certificates"]) == 2
    assert serials == {"secp256r1": ec_cert.serial_number, "rsa2048": rsa_cert.serial_number}

# test_module_ocsp.py: OCSP stapling (MDStapling & co.) against OpenSSL's real OCSP responder -- an
# MD with MDCertificateFile and a plain SSLCertificateFile vhost (MDStapleOthers) get good staples,
# a revoked entry is stapled as revoked, a responder that is down costs no handshake and its
# staple comes back when it does, md-status shows it, MDMessageCmd hears ocsp-renewed/-errored.
import hashlib
import json
import re
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mdtest import ports

from mdtest.bundled import BUNDLED_MODULE
from mdtest.httpd import Httpd
from mdtest.mdhttpd import MdHttpd
from mdtest.ocsp import OcspCA, pebble_responder, staple_of
from mdtest.procs import wait_until

MD = "a.example.org"
OTHER = "b.example.org"
STAPLE_TIMEOUT_SECONDS = 30.0
EVENT_TIMEOUT_SECONDS = 30.0


def sha1_of(cert):
    """How the bundled module names a certificate's response file: SHA-1 of the DER, hex."""
    return hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


class Stapling:
    """A CA of our own with its responder, and apache2 with our module serving MD (from
    MDCertificateFile) and OTHER (SSLCertificateFile), both issued with an AIA OCSP URL."""

    def __init__(self, workdir):
        self.ca = OcspCA(workdir)
        self.md_cert, self.md_key, self.md_x509 = self.ca.issue([MD])
        self.other_cert, self.other_key, self.other_x509 = self.ca.issue([OTHER])
        self.events = workdir / "events.log"
        self.events.touch()
        self.events.chmod(0o666)
        self.cmd = workdir / "message.sh"
        self.cmd.write_text(f'#!/bin/sh\necho "$@" >> {self.events}\n')
        self.cmd.chmod(self.cmd.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        self.httpd = MdHttpd(workdir, port_map=False)

    def write(self, global_lines=("MDStapling on",), md_lines=()):
        h = self.httpd
        conf = ["MDRetryDelay 1s", f"MDMessageCmd {self.cmd}", *global_lines,
                f"<MDomain {MD}>", f"  MDCertificateFile {self.md_cert}",
                f"  MDCertificateKeyFile {self.md_key}", *md_lines, "</MDomain>"]
        vhosts = h.vhost(MD) + h.vhost(OTHER, extra=f"SSLCertificateFile {self.other_cert}\n"
                                                   f"SSLCertificateKeyFile {self.other_key}")
        h.write_config(md_conf="\n".join(conf), vhosts=vhosts,
                       extra_conf="<Location /md-status>\n  SetHandler md-status\n</Location>\n")
        rc, out = h.configtest()
        assert rc == 0, out

    def staple(self, name):
        return staple_of(self.httpd.https_port, name, self.ca.ca_file)[0]

    def wait_staple(self, name, want):
        got = wait_until(lambda: self.staple(name) == want, STAPLE_TIMEOUT_SECONDS, 0.3)
        assert got, (f"no {want} staple for {name}: {self.staple(name)}\n"
                     f"{self.httpd.error_log_tail(40)}\n--- responder ---\n{self.ca.responder_log()}")

    def event_lines(self):
        return self.events.read_text().splitlines()

    def wait_event(self, line, count=1):
        ok = wait_until(lambda: self.event_lines().count(line) >= count, EVENT_TIMEOUT_SECONDS)
        assert ok, f"no '{line}' event: {self.event_lines()}\n{self.httpd.error_log_tail(30)}"

    def status(self):
        st, body = self.httpd.get(f"/md-status/{MD}")
        assert st == 200, body
        return json.loads(body)

    def stop(self):
        self.httpd.stop()
        self.ca.stop_responder()


@pytest.fixture
def stapling(workdir):
    s = Stapling(workdir)
    yield s
    s.stop()


def test_md_and_other_certificates_get_good_staples(stapling):
    stapling.ca.start_responder()
    stapling.write()
    stapling.httpd.start()
    stapling.wait_staple(MD, "good")
    stapling.wait_staple(OTHER, "good")
    stapling.wait_event(f"ocsp-renewed {MD}")
    stapling.wait_event("ocsp-renewed other")
    # the store layout of the bundled module: ocsp/<md>/ocsp-<certid>.json, ocsp/other/...
    store = stapling.httpd.store_dir / "ocsp"
    md_files = list((store / MD).glob("ocsp-*.json"))
    assert [f.name for f in md_files] == [f"ocsp-{sha1_of(stapling.md_x509)}.json"]
    assert len(list((store / "other").glob("ocsp-*.json"))) == 1
    saved = json.loads(md_files[0].read_text())
    assert saved["status"] == "good" and saved["response"] and saved["valid"]["until"]
    st = stapling.status()
    assert st["stapling"] is True
    ocsp = st["ocsp"]
    assert len(ocsp) == 1 and ocsp[0]["status"] == "good", st
    assert int(ocsp[0]["serial"], 16) == stapling.md_x509.serial_number
    assert ocsp[0]["valid"]["from"] and ocsp[0]["valid"]["until"] and ocsp[0]["renew-at"]
    assert ocsp[0]["renewal"]["errors"] == 0


def test_revoked_certificate_is_stapled_revoked(stapling):
    stapling.ca.revoke(stapling.md_x509)
    stapling.ca.start_responder()
    stapling.write()
    stapling.httpd.start()
    stapling.wait_staple(MD, "revoked")
    stapling.wait_staple(OTHER, "good")


def test_responder_down_handshake_works_and_staple_comes_back(stapling):
    stapling.write()
    stapling.httpd.start()
    stapling.wait_event(f"ocsp-errored {MD}")
    # the handshake works, without a staple
    assert stapling.httpd.peer_cert(MD, cafile=stapling.ca.ca_file)
    assert stapling.staple(MD) is None
    st = stapling.status()
    ocsp = st["ocsp"]
    assert ocsp and ocsp[0]["renewal"]["errors"] >= 1 and "status" not in ocsp[0], st
    stapling.ca.start_responder()
    stapling.wait_event(f"ocsp-renewed {MD}")
    stapling.wait_staple(MD, "good")


def test_stapling_is_off_by_default(stapling):
    stapling.ca.start_responder()
    stapling.write(global_lines=())
    stapling.httpd.start()
    assert stapling.httpd.peer_cert(MD, cafile=stapling.ca.ca_file)
    assert stapling.staple(MD) is None and stapling.staple(OTHER) is None
    assert stapling.status()["stapling"] is False


def test_stapling_per_md_and_staple_others_off(stapling):
    """MDStapling on inside the MD's section staples it; MDStapleOthers off leaves OTHER alone
    even with MDStapling on globally."""
    stapling.ca.start_responder()
    stapling.write(global_lines=("MDStapleOthers off",), md_lines=("  MDStapling on",))
    stapling.httpd.start()
    stapling.wait_staple(MD, "good")
    assert stapling.staple(OTHER) is None


@pytest.mark.parametrize("line, in_md, allowed", [
    ("MDStapling on", False, True),
    ("MDStapling maybe", False, False),
    ("MDStapleOthers off", False, True),
    ("MDStaplingKeepResponse 2d", False, True),
    ("MDStaplingKeepResponse soon", False, False),
    ("MDStaplingRenewWindow 50%", False, True),
    ("MDStaplingRenewWindow 6h", False, True),
    ("MDStaplingRenewWindow never", False, False),
    ("MDMustStaple on", False, True),
    # inside an MD section: the per-MD ones only
    ("MDStapling on", True, True),
    ("MDMustStaple on", True, True),
    ("MDStapleOthers on", True, False),
    ("MDStaplingKeepResponse 2d", True, False),
    ("MDStaplingRenewWindow 33%", True, False),
])
def test_directives(stapling, line, in_md, allowed):
    md_conf = f"<MDomain {MD}>\n  {line}\n</MDomain>\n" if in_md else f"{line}\nMDomain {MD}\n"
    stapling.httpd.write_config(md_conf=md_conf, vhosts=stapling.httpd.vhost(MD))
    rc, out = stapling.httpd.configtest()
    assert (rc == 0) == allowed, out
    if not allowed:
        assert line.split()[0] in out


@pytest.mark.parametrize("must_staple", [True, False])
def test_must_staple_flag_in_issued_certificate(workdir, pebble_factory, must_staple):
    """MDMustStaple on: the certificate the CA issues carries the TLS feature status_request
    (RFC 7633), because our CSR asks for it; off (the default): it does not."""
    domain = "staple.example.test"
    http_port, https_port = ports.free_ports(2)
    # pebble 2.10: Debian 12's 2.4 drops the extension
    pebble = pebble_factory(http_port=http_port, tls_port=https_port, sid=True)
    root = pebble.write_root(workdir / "pebble-root.pem")
    h = MdHttpd(workdir, pebble=pebble, http_port=http_port, https_port=https_port)
    h.write_config(md_conf=f"MDPrivateKeys secp256r1\nMDCAChallenges http-01\nMDRetryDelay 1s\n"
                           f"MDMustStaple {'on' if must_staple else 'off'}\nMDomain {domain}\n",
                   vhosts=h.vhost(domain))
    h.start()
    try:
        cert = h.wait_served(domain, root, STAPLE_TIMEOUT_SECONDS)
        assert cert, h.error_log_tail(60)
        try:
            features = list(cert.extensions.get_extension_for_class(x509.TLSFeature).value)
        except x509.ExtensionNotFound:
            features = []
        assert features == ([x509.TLSFeatureType.status_request] if must_staple else [])
    finally:
        h.stop()


def served_cert(h, domain, root):
    try:
        return h.peer_cert(domain, cafile=root)
    except (OSError, ValueError):
        return None


def test_staple_follows_the_certificate_that_went_live(workdir, pebble_factory):
    """Certificates from the CA go live without a restart (the first one; after a graceful
    restart installed it, renewals every few seconds): a handshake with a live certificate gets
    that certificate's staple, not the one mod_ssl was given at startup."""
    domain = "live.example.test"
    http_port, https_port, ocsp_port = ports.free_ports(3)
    pebble = pebble_factory(http_port=http_port, tls_port=https_port,
                            config={"ocspResponderURL": f"http://127.0.0.1:{ocsp_port}/"})
    root = pebble.write_root(workdir / "pebble-root.pem")
    responder = pebble_responder(workdir, pebble, ocsp_port).start()
    h = MdHttpd(workdir, pebble=pebble, http_port=http_port, https_port=https_port)
    conf = ("MDPrivateKeys secp256r1\nMDCAChallenges http-01\nMDRetryDelay 1s\n"
            f"MDStapling on\nMDomain {domain}\n")
    status_location = "<Location /md-status>\n  SetHandler md-status\n</Location>\n"
    h.write_config(md_conf=conf, vhosts=h.vhost(domain), extra_conf=status_location)

    def stapled_served(other_than=None):
        """The certificate one handshake presented when it came with a good staple of its own
        (the responder learns every certificate served); else None."""
        status, text = staple_of(h.https_port, domain, root)
        pem = re.search(r"Server certificate\s*(-----BEGIN CERTIFICATE-----.*?"
                        r"-----END CERTIFICATE-----)", text, re.S)
        if not pem:
            return None
        served = x509.load_pem_x509_certificate(pem.group(1).encode())
        if other_than is not None and served.serial_number == other_than.serial_number:
            return None
        responder.add(served)
        # the response's CertID comes first; the signer's certificate may follow
        serial = re.search(r"Serial Number: ([0-9A-Fa-f]+)\s", text)
        ok = status == "good" and serial and int(serial.group(1), 16) == served.serial_number
        return served if ok else None

    h.start()
    try:
        first = wait_until(stapled_served, STAPLE_TIMEOUT_SECONDS, 0.3)
        assert first, f"{h.error_log_tail(40)}\n--- responder ---\n{responder.log()}"
        # the temporary certificate served at the start is no reason for a stapling warning
        warnings = [line for line in h.error_log_text().splitlines() if "[md:warn]" in line]
        assert not [w for w in warnings if "stapl" in w.lower()], warnings
        # renewals that go live: a window longer than pebble's certificates, one every 5s
        h.write_config(md_conf=conf + "MDRenewWindow 2000d\nMDCheckInterval 5s\n")
        h.graceful()
        assert wait_until(lambda: stapled_served(other_than=first), STAPLE_TIMEOUT_SECONDS, 0.3), \
            f"{h.error_log_tail(40)}\n--- responder ---\n{responder.log()}"
        assert "presents its new certificate" in h.error_log_text()
        # md-status: the certificate presented (live) has its "ocsp" where the bundled module
        # has it; the list has the one installed at the graceful restart, stapled good
        code, body = h.get(f"/md-status/{domain}")
        st = json.loads(body)
        assert code == 200 and st["stapling"] is True, body
        presented = st["cert"]["secp256r1"]
        assert presented["ocsp"]["serial"] == presented["serial"], body
        assert [o["status"] for o in st["ocsp"]
                if int(o["serial"], 16) == first.serial_number] == ["good"], body
    finally:
        h.stop()
        responder.stop()


def bundled_httpd(stapling):
    """Debian's bundled mod_md with the same store, ports and MDs as stapling.httpd."""
    ours = stapling.httpd
    h = Httpd(ours.root.parent, name="httpd-bundled", modules=[BUNDLED_MODULE], https=True,
              http_port=ours.http_port, https_port=ours.https_port, log_level="info md:debug")
    other = ours.vhost(OTHER, extra=f"SSLCertificateFile {stapling.other_cert}\n"
                                    f"SSLCertificateKeyFile {stapling.other_key}")
    h.write_config(f"""
MDStoreDir {ours.store_dir}
MDCertificateAgreement accepted
MDStapling on
<MDomain {MD}>
  MDCertificateFile {stapling.md_cert}
  MDCertificateKeyFile {stapling.md_key}
</MDomain>
{ours.vhost(MD)}
{other}
""")
    return h


@pytest.mark.parametrize("first", ["ours", "bundled"])
def test_responses_in_the_store_serve_either_module(stapling, first):
    """A response one module stored is stapled by the other while the responder is down: the
    store's ocsp/ is the same both ways."""
    bundled = bundled_httpd(stapling)
    stapling.write()
    writer, reader = (stapling.httpd, bundled) if first == "ours" else (bundled, stapling.httpd)
    stapling.ca.start_responder()
    writer.start()
    try:
        stapling.wait_staple(MD, "good")
        stapling.wait_staple(OTHER, "good")
    finally:
        writer.stop()
    stapling.ca.stop_responder()
    reader.start()
    try:
        assert stapling.staple(MD) == "good", reader.error_log_tail(40)
        assert stapling.staple(OTHER) == "good", reader.error_log_tail(40)
    finally:
        reader.stop()

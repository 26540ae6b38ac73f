# test_ari.py: ACME Renewal Information (RFC 9773) against pebble 2.10: the module asks for the
# window of the certificate it serves, renews hands-off when the CA moves it into the past, and
# sends "replaces"; MDRenewViaARI off keeps it from asking at all.
import base64
import datetime
import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mdtest import ports
from mdtest.caproxy import CaProxy
from mdtest.mdhttpd import MdHttpd
from mdtest.procs import http_post_json, wait_until

A2MD = str(Path(__file__).resolve().parents[2] / "build" / "a2md")
DOMAIN = "ari.example.test"
OTHER = "no-ari.example.test"
SERVED_TIMEOUT_SECONDS = 60.0
# pebble answers renewalInfo with Retry-After: 21600; our proxy says 1 s instead, which the
# module takes as its floor: MDCheckInterval below (it never asks more often)
CHECK_INTERVAL = "2s"
RENEWED_TIMEOUT_SECONDS = 60.0
# how long a test watches that something does NOT happen: several check intervals
QUIET_SECONDS = 8.0


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ari_id(cert):
    """RFC 9773 4.1: keyIdentifier of the Authority Key Identifier "." the serial's DER octets."""
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    serial = cert.serial_number
    return f"{b64url(aki.key_identifier)}.{b64url(serial.to_bytes((serial.bit_length() + 8) // 8, 'big'))}"


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def move_window_into_past(pebble, cert, explanation=None):
    """pebble's management endpoint: the certificate's suggested window ends a day ago."""
    now = time.time()
    answer = {"suggestedWindow": {"start": rfc3339(now - 2 * 86400), "end": rfc3339(now - 86400)}}
    if explanation:
        answer["explanationURL"] = explanation
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    status, body = http_post_json(f"{pebble.mgmt_url}/set-renewal-info/",
                                  {"Certificate": pem, "ARIResponse": json.dumps(answer)},
                                  cafile=pebble.ca_file)
    assert status == 200, body


@pytest.fixture
def ari_server(workdir, pebble_factory):
    """start(md_conf) -> (httpd, proxy, pebble): our module at a proxy in front of pebble 2.10
    that shortens renewalInfo's Retry-After, so that a test waits seconds, not six hours."""
    made = []

    def start(md_conf, vhost_names=(DOMAIN,), ari_answer=None):
        http_port, https_port = ports.free_ports(2)
        pebble = pebble_factory(sid=True, http_port=http_port, tls_port=https_port)
        proxy = CaProxy(pebble)
        ari_path = proxy.path_of("renewalInfo")

        def rewrite(method, path, answer):
            status, headers, body = answer
            if method == "GET" and path.startswith(ari_path):
                headers = [(k, v) for k, v in headers if k.lower() != "retry-after"]
                headers.append(("Retry-After", "1"))
            return status, headers, body
        proxy.rewrite = rewrite
        if ari_answer:
            proxy.inject = lambda method, path: (ari_answer if method == "GET" and
                                                 path.startswith(ari_path) else None)
        proxy.start()
        h = MdHttpd(workdir, ca_url=proxy.directory_url, ca_file=pebble.ca_file,
                    http_port=http_port, https_port=https_port)
        made.append((h, proxy))
        h.write_config(md_conf="MDPrivateKeys secp256r1\nMDCAChallenges http-01\n"
                               f"MDRetryDelay 1s\nMDCheckInterval {CHECK_INTERVAL}\n{md_conf}",
                       vhosts="".join(h.vhost(n) for n in vhost_names),
                       extra_conf="<Location /md-status>\n  SetHandler md-status\n</Location>\n")
        h.start()
        return h, proxy, pebble

    yield start
    for h, proxy in made:
        h.stop()
        proxy.stop()


def md_status(h, name):
    status, body = h.get(f"/md-status/{name}")
    return json.loads(body) if status == 200 else {}


def ari_of(h, name):
    """md-status' ARI state of the MD's (one, P-256) certificate, once it has a window."""
    ari = md_status(h, name).get("ari", {})
    cert = ari.get("certificates", {}).get("secp256r1", {})
    return cert if "window" in cert else None


def ari_requests(proxy, cert):
    return proxy.count("GET", f"{proxy.path_of('renewalInfo')}/{ari_id(cert)}")


def test_window_moved_into_the_past_renews_with_replaces(workdir, ari_server):
    h, proxy, pebble = ari_server(f"MDomain {DOMAIN}\n")
    root = pebble.write_root(workdir / "pebble-root.pem")
    first = h.wait_served(DOMAIN, root, SERVED_TIMEOUT_SECONDS)
    assert first, h.error_log_tail(60)

    # the module asks about the certificate it serves; md-status shows the CA's window (pebble's
    # default: around two thirds of the lifetime), our moment in it and the next check
    ari = wait_until(lambda: ari_of(h, DOMAIN), SERVED_TIMEOUT_SECONDS, interval=0.25)
    assert ari, h.error_log_tail(60)
    assert ari["cert-id"] == ari_id(first)
    start = datetime.datetime.fromisoformat(ari["window"]["start"].replace("Z", "+00:00"))
    end = datetime.datetime.fromisoformat(ari["window"]["end"].replace("Z", "+00:00"))
    renew_at = datetime.datetime.fromisoformat(ari["renew-at"].replace("Z", "+00:00"))
    utc = datetime.timezone.utc
    assert first.not_valid_before.replace(tzinfo=utc) < start < end < \
        first.not_valid_after.replace(tzinfo=utc)
    assert start <= renew_at < end
    assert "next-check" in ari
    # a2md shows the same from the store, without asking the CA
    out = subprocess.run([A2MD, "-d", str(h.store_dir), "list", DOMAIN], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out
    assert f"secp256r1 ARI: window {ari['window']['start']} .. {ari['window']['end']}, " \
           f"renew at {ari['renew-at']}" in out.stdout, out.stdout

    move_window_into_past(pebble, first, "https://ca.example.test/incident")
    # hands off: at a next check the module sees it and renews
    renewed = wait_until(lambda: (c := h.verified_cert(DOMAIN, root)) and
                         c.serial_number != first.serial_number and c,
                         RENEWED_TIMEOUT_SECONDS, interval=0.25)
    assert renewed, h.error_log_tail(80)
    assert "the CA's renewal information (ARI) says so" in h.error_log_text()
    # the new order said which certificate it replaces: pebble logs the order that issued it
    log = pebble.log_file.read_text()
    old_order = re.search(rf'Issued certificate serial 0*{first.serial_number:x} for order (\S+)',
                          log)
    assert old_order, log[-3000:]
    assert re.search(rf'ARI: order "\S+" is a replacement of "{old_order.group(1)}"', log), \
        log[-3000:]


def test_renew_via_ari_off_never_asks_and_does_not_renew(workdir, ari_server):
    # two MDs at the same CA: one with ARI (the control), one without
    h, proxy, pebble = ari_server(f"MDomain {DOMAIN}\n<MDomain {OTHER}>\n  MDRenewViaARI off\n"
                                  f"</MDomain>\n", vhost_names=(DOMAIN, OTHER))
    root = pebble.write_root(workdir / "pebble-root.pem")
    with_ari = h.wait_served(DOMAIN, root, SERVED_TIMEOUT_SECONDS)
    without = h.wait_served(OTHER, root, SERVED_TIMEOUT_SECONDS)
    assert with_ari and without, h.error_log_tail(60)
    assert h.md_json(OTHER)["ari-renewals"] is False
    assert h.md_json(DOMAIN)["ari-renewals"] is True
    assert wait_until(lambda: ari_requests(proxy, with_ari) > 0, SERVED_TIMEOUT_SECONDS), \
        proxy.requests

    move_window_into_past(pebble, without)
    time.sleep(QUIET_SECONDS)
    assert ari_requests(proxy, without) == 0, proxy.requests
    assert "ari" not in md_status(h, OTHER)
    assert h.verified_cert(OTHER, root).serial_number == without.serial_number


def test_failing_renewal_info_backs_off_and_leaves_the_certificate(workdir, ari_server):
    problem = {"type": "urn:ietf:params:acme:error:serverInternal", "detail": "ARI is down",
               "status": 503}
    h, proxy, pebble = ari_server(f"MDomain {DOMAIN}\n", ari_answer=(
        503, [("Content-Type", "application/problem+json")], json.dumps(problem).encode()))
    root = pebble.write_root(workdir / "pebble-root.pem")
    cert = h.wait_served(DOMAIN, root, SERVED_TIMEOUT_SECONDS)
    assert cert, h.error_log_tail(60)

    def failed():
        c = md_status(h, DOMAIN).get("ari", {}).get("certificates", {}).get("secp256r1", {})
        return c if c.get("errors", 0) >= 2 else None
    ari = wait_until(failed, SERVED_TIMEOUT_SECONDS, interval=0.25)
    assert ari, h.error_log_tail(60)
    assert "HTTP 503" in ari["error"] and "ARI is down" in ari["error"]
    assert "window" not in ari and "next-check" in ari
    assert "asking the CA for renewal information on the secp256r1 certificate failed" in \
        h.error_log_text()
    # backing off from MDCheckInterval (2 s), doubling: no ask at every check
    before = ari_requests(proxy, cert)
    time.sleep(2 * QUIET_SECONDS)
    assert ari_requests(proxy, cert) - before <= 5, proxy.requests
    # and the certificate stays: MDRenewWindow is still in charge
    assert h.verified_cert(DOMAIN, root).serial_number == cert.serial_number

# test_module_load.py: certificates go live under load -- wrk with 32 kept-alive connections sees no
# socket error and no non-2xx while 20 MDs get theirs, and new verifying HTTPS handshakes to an MD's
# vhost never fail while its certificate is renewed again and again.
import re
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509

from mdtest import ports
from mdtest.mdhttpd import MdHttpd
from mdtest.pebble import Pebble
from mdtest.procs import wait_until

N_MDS = 20
WRK = shutil.which("wrk")
WRK_ARGS = ("-t", "2", "-c", "32", "-d", "8s")
WRK_TIMEOUT_SECONDS = 60
SERVED_TIMEOUT_SECONDS = 40.0
PROBE_INTERVAL_SECONDS = 0.1  # ~10 new handshakes a second
PROBE_SECONDS = 6.0
TLS_TIMEOUT_SECONDS = 5.0
# longer than pebble's 5-year certificates: every certificate is due again at once
RENEW_ALWAYS = "2000d"
# well inside wrk's 8 s, well after the start
ACTIVATION_DELAY = "3s"
# a fixed set of worker processes: the event MPM starting or retiring one while wrk runs closes
# kept-alive connections (wrk counts "read" errors) whatever the module does; this test is about
# the module, so the MPM is kept still
STILL_MPM = ("StartServers 4", "ServerLimit 4", "ThreadsPerChild 25", "MaxRequestWorkers 100",
             "MinSpareThreads 1", "MaxSpareThreads 100", "MaxConnectionsPerChild 0")


def md_names():
    return [f"load{i}.example.test" for i in range(N_MDS)]


def make_httpd(workdir, pebble, names, md_lines=()):
    h = MdHttpd(workdir, pebble=pebble, http_port=pebble.http_port, https_port=ports.free_port())
    conf = ["MDPrivateKeys secp256r1", "MDCAChallenges http-01", "MDRetryDelay 1s",
            "KeepAliveTimeout 30", "MaxKeepAliveRequests 0", *md_lines,
            *[f"MDomain {n}" for n in names]]
    h.write_config(md_conf="\n".join(conf), vhosts="".join(h.vhost(n) for n in names))
    h.root_file = pebble.dir / "pebble-root.pem"
    return h


def leaf_serial(h, name):
    """The serial of the verified certificate served for SNI name; None if none verifies."""
    ctx = ssl.create_default_context(cafile=str(h.root_file))
    try:
        with socket.create_connection(("127.0.0.1", h.https_port), timeout=TLS_TIMEOUT_SECONDS) as s:
            with ctx.wrap_socket(s, server_hostname=name) as tls:
                tls.sendall(f"GET /index.html HTTP/1.1\r\nHost: {name}\r\nConnection: close"
                            f"\r\n\r\n".encode())
                head = tls.recv(65536)
                cert = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
                return cert.serial_number if head.startswith(b"HTTP/1.1 200") else None
    except (OSError, ssl.SSLError):
        return None


@pytest.mark.skipif(not WRK, reason="wrk is installed by scripts/bootstrap.sh")
def test_keepalive_load_sees_no_error_while_20_mds_go_live(workdir):
    pebble = Pebble(workdir, http_port=ports.free_port(), tls_port=ports.free_port())
    names = md_names()
    # the certificates come in the first second; they go live a few seconds later, while wrk runs
    h = make_httpd(workdir, pebble, names,
                   md_lines=[*STILL_MPM, f"MDActivationDelay {ACTIVATION_DELAY}"])
    try:
        pebble.start()
        pebble.write_root(h.root_file)
        h.start()
        wrk = subprocess.Popen([WRK, *WRK_ARGS, f"http://127.0.0.1:{h.http_port}/index.html"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        live = wait_until(lambda: wrk.poll() is None and all(
            leaf_serial(h, n) for n in names), SERVED_TIMEOUT_SECONDS, interval=0.2)
        out, _ = wrk.communicate(timeout=WRK_TIMEOUT_SECONDS)
        assert live, f"not all {N_MDS} MDs went live while wrk ran\n{out}\n{h.error_log_tail(40)}"
        assert wrk.returncode == 0, out
        assert int(re.search(r"(\d+) requests in", out).group(1)) > 0, out
        assert "Socket errors" not in out, out
        assert "Non-2xx" not in out, out
        assert h.error_log_text().count("resuming normal operations") == 1
        # the workers that answered are the ones that started: none came or went meanwhile
        assert len(set(re.findall(r"\[pid (\d+):tid \d+\] \[client", h.error_log_text()))) <= 4
    finally:
        h.stop()
        pebble.stop()


def test_new_handshakes_never_fail_while_the_certificate_is_renewed(workdir):
    pebble = Pebble(workdir, http_port=ports.free_port(), tls_port=ports.free_port())
    name = md_names()[0]
    h = make_httpd(workdir, pebble, [name], md_lines=[f"MDRenewWindow {RENEW_ALWAYS}",
                                                              "MDCheckInterval 1s"])
    try:
        pebble.start()
        pebble.write_root(h.root_file)
        h.start()
        assert wait_until(lambda: leaf_serial(h, name), SERVED_TIMEOUT_SECONDS), h.error_log_tail()
        serials, failures = set(), 0
        end = time.monotonic() + PROBE_SECONDS
        while time.monotonic() < end:
            serial = leaf_serial(h, name)
            if serial is None:
                failures += 1
            else:
                serials.add(serial)
            time.sleep(PROBE_INTERVAL_SECONDS)
        assert failures == 0
        # every certificate is due at once: it was renewed and went live while we looked
        assert len(serials) >= 2, h.error_log_tail(40)
    finally:
        h.stop()
        pebble.stop()

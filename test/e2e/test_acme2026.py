# test_acme2026.py: ACME as CAs speak it in 2026, against pebble 2.10 from Debian unstable
# (scripts/bootstrap.sh puts it in .tools/): ARI, certificate profiles, rate limits, and our
# client at it. Answers pebble does not give come from a proxy of ours in front of it.
import datetime
import json
import subprocess
import time
from pathlib import Path

import pytest

from mdtest import ports
from mdtest.caproxy import CaProxy, authz_identifier_as, rate_limited
from mdtest.mdhttpd import MdHttpd, cert_dns_names
from mdtest.proxied import start_proxied
from mdtest.procs import wait_until

A2MD = Path(__file__).resolve().parents[2] / "build" / "a2md"
DOMAIN = "www.example.test"
SERVED_TIMEOUT_SECONDS = 40.0
# how long a test watches that something does NOT happen: with MDRetryDelay 1s a transient
# failure would have been tried again several times by then
QUIET_SECONDS = 5.0
RATE_LIMIT_RETRY_AFTER = 3600
# pebble 2.10's profiles: validity in seconds (its config's "profiles")
PROFILES = {
    "default": {"description": "what an order without a profile gets", "validityPeriod": 7776000},
    "shortlived": {"description": "six days", "validityPeriod": 518400},
}


@pytest.fixture
def pebble_sid(pebble_factory):
    def make(**kwargs):
        kwargs.setdefault("config", {})
        kwargs["config"].setdefault("profiles", PROFILES)
        return pebble_factory(sid=True, **kwargs)
    return make


def test_pebble_2_10_offers_renewal_info_and_profiles(pebble_sid):
    pebble = pebble_sid()
    directory = pebble.directory()
    assert directory["renewalInfo"].startswith(f"https://127.0.0.1:{pebble.acme_port}/")
    assert set(directory["meta"]["profiles"]) == set(PROFILES)


def test_certificate_from_pebble_2_10_served(workdir, pebble_sid):
    http_port, https_port = ports.free_ports(2)
    pebble = pebble_sid(http_port=http_port, tls_port=https_port)
    root = pebble.write_root(workdir / "pebble-root.pem")
    h = MdHttpd(workdir, pebble=pebble, http_port=http_port, https_port=https_port)
    h.write_config(md_conf=f"MDPrivateKeys secp256r1\nMDCAChallenges http-01\nMDRetryDelay 1s\n"
                           f"MDomain {DOMAIN}\n",
                   vhosts=h.vhost(DOMAIN))
    h.start()
    try:
        cert = h.wait_served(DOMAIN, root)
        assert cert, h.error_log_tail(60)
        assert set(cert_dns_names(cert)) == {DOMAIN}
    finally:
        h.stop()


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def proxied(workdir, pebble_sid):
    """start(make_inject) -> (httpd, proxy): our module with one MD at a proxy of ours in front
    of pebble 2.10 that answers make_inject(proxy)(method, path) where that is not None."""
    made = []

    def start(make_inject, rewrite=None):
        http_port, https_port = ports.free_ports(2)
        # these tests count requests through the proxy: a newOrder pebble rejects for its nonce
        # (5% by default) comes again and would count twice
        pebble = pebble_sid(http_port=http_port, tls_port=https_port,
                            env={"PEBBLE_WFE_NONCEREJECT": "0"})
        h, proxy = start_proxied(workdir, pebble, DOMAIN, inject=make_inject, rewrite=rewrite)
        made.append((h, proxy))
        return h, proxy

    yield start
    for h, proxy in made:
        h.stop()
        proxy.stop()


def job_error(h):
    """The job's md-status once it has an error, else None."""
    st, body = h.get(f"/md-status/{DOMAIN}")
    job = json.loads(body).get("staging", {}).get("job", {}) if st == 200 else {}
    return job if job.get("error") else None


def test_rate_limited_new_order_waits_for_retry_after(proxied):
    def make_inject(proxy):
        new_order = proxy.path_of("newOrder")
        return lambda method, path: (rate_limited(RATE_LIMIT_RETRY_AFTER)
                                     if method == "POST" and path == new_order else None)
    h, proxy = proxied(make_inject)
    job = wait_until(lambda: job_error(h), SERVED_TIMEOUT_SECONDS, interval=0.25)
    assert job, h.error_log_tail(60)
    asked = time.time()
    assert job["error"]["class"] == "rate-limited"
    assert "rateLimited" in job["error"]["problem"]["type"]
    # the next try is no sooner than the CA asked, and md-status says when
    next_try = parse_time(job["next-try"]).timestamp()
    assert next_try >= asked + RATE_LIMIT_RETRY_AFTER - 60, job
    assert "the CA limits our rate" in h.error_log_text()
    # and no new order meanwhile (a passing error would have been retried by now)
    time.sleep(QUIET_SECONDS)
    assert proxy.count("POST", proxy.path_of("newOrder")) == 1, proxy.requests


def test_a2md_drive_by_hand_waits_for_the_cas_retry_after(workdir, pebble_sid):
    pebble = pebble_sid()
    proxy = CaProxy(pebble)
    new_order = proxy.path_of("newOrder")
    proxy.inject = lambda method, path: (rate_limited(RATE_LIMIT_RETRY_AFTER)
                                         if method == "POST" and path == new_order else None)
    proxy.start()
    try:
        def a2md(*args):
            return subprocess.run([str(A2MD), "-d", str(workdir / "md"), "-C", str(pebble.ca_file),
                                   *args], capture_output=True, text=True, timeout=60)
        r = a2md("-a", proxy.directory_url, "-t", "accepted", "add", DOMAIN)
        assert r.returncode == 0, r.stderr
        r = a2md("drive", DOMAIN)
        assert r.returncode == 1 and "rateLimited" in r.stdout + r.stderr, r
        # a drive by hand skips our own backoff, never the CA's: named or not, no request
        for args in (["drive", DOMAIN], ["drive"], ["drive", "--reset", DOMAIN]):
            r = a2md(*args)
            assert r.returncode == 1, r
            assert f"{DOMAIN}: not driven: the CA rate-limited it and asked to wait until" \
                in r.stdout, r
        assert proxy.count("POST", new_order) == 1, proxy.requests
    finally:
        proxy.stop()


def test_retry_failover_after_that_many_failures_at_a_ca_that_answers(workdir, pebble_sid):
    # the first CA answers, but every newOrder with a server error; the second is pebble itself
    http_port, https_port = ports.free_ports(2)
    pebble = pebble_sid(http_port=http_port, tls_port=https_port)
    proxy = CaProxy(pebble)
    new_order = proxy.path_of("newOrder")
    problem = {"type": "urn:ietf:params:acme:error:serverInternal", "detail": "down for repairs",
               "status": 500}
    proxy.inject = lambda method, path: (
        (500, [("Content-Type", "application/problem+json")], json.dumps(problem).encode())
        if method == "POST" and path == new_order else None)
    proxy.start()
    h = MdHttpd(workdir, ca_url=f"{proxy.directory_url} {pebble.directory_url}",
                ca_file=pebble.ca_file, http_port=http_port, https_port=https_port)
    try:
        h.write_config(md_conf="MDPrivateKeys secp256r1\nMDCAChallenges http-01\n"
                               f"MDRetryDelay 1s\nMDRetryFailover 2\nMDomain {DOMAIN}\n",
                       vhosts=h.vhost(DOMAIN))
        h.start()
        root = pebble.write_root(workdir / "pebble-root.pem")

        assert h.wait_served(DOMAIN, root), h.error_log_tail(60)
        # two tries at the first CA, then the second
        assert proxy.count("POST", new_order) == 2, proxy.requests
        assert (f"2 tries in a row failed at CA {proxy.directory_url}; the next try goes to "
                f"{pebble.directory_url} (MDRetryFailover 2)") in h.error_log_text()
    finally:
        h.stop()
        proxy.stop()


def self_signed_pem(workdir, name):
    """A certificate for another name than the MD's, signed by nobody the MD knows."""
    key, cert = workdir / f"{name}.key", workdir / f"{name}.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name}", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    return cert.read_bytes()


def test_an_unusable_certificate_is_reported_and_never_ordered_again(workdir, proxied):
    wrong = self_signed_pem(workdir, "other.example.test")
    # the CA issues, but the certificate it hands out is not for the MD's names
    h, proxy = proxied(lambda proxy: lambda method, path: (
        (200, [("Content-Type", "application/pem-certificate-chain")], wrong)
        if method == "POST" and path.startswith("/certZ/") else None))
    job = wait_until(lambda: job_error(h), SERVED_TIMEOUT_SECONDS, interval=0.25)
    assert job, h.error_log_tail(60)
    assert job["error"]["class"] == "refused"
    assert "is not usable" in job["error"]["detail"]
    assert "a2md drive --reset" in job["error"]["detail"]
    assert parse_time(job["next-try"]).timestamp() >= time.time() + 3000
    # one order only: no loop of new orders (each would be a duplicate certificate)
    time.sleep(QUIET_SECONDS)
    assert proxy.count("POST", proxy.path_of("newOrder")) == 1, proxy.requests


def test_an_authorization_for_a_name_not_of_the_md_is_refused(proxied):
    evil = "evil.example.test"
    h, proxy = proxied(lambda proxy: lambda method, path: None, authz_identifier_as(evil))
    job = wait_until(lambda: job_error(h), SERVED_TIMEOUT_SECONDS, interval=0.25)
    assert job, h.error_log_tail(60)
    assert job["error"]["class"] == "refused"
    assert f"'{evil}'" in job["error"]["detail"] and "not a name of the MD" in job["error"]["detail"]
    # nothing answered for it: no file for that name, no challenge taken up at the CA
    assert not (h.store_dir / "challenges" / evil).exists()
    assert not [r for r in proxy.requests if r[1].startswith("/chalZ/")], proxy.requests


def test_from_an_https_directory_no_plain_http_url_is_followed(proxied):
    def rewrite(method, path, answer):
        status, headers, body = answer
        if method == "POST" and path.startswith("/order-plz") and status == 201:
            order = json.loads(body)
            order["authorizations"] = [u.replace("https://", "http://", 1)
                                       for u in order["authorizations"]]
            body = json.dumps(order).encode()
        return status, headers, body
    h, proxy = proxied(lambda proxy: lambda method, path: None, rewrite)
    job = wait_until(lambda: job_error(h), SERVED_TIMEOUT_SECONDS, interval=0.25)
    assert job, h.error_log_tail(60)
    assert "the CA's directory is https, this URL is not" in job["error"]["detail"]
    assert "http://127.0.0.1" in job["error"]["detail"]

# test_profiles.py: certificate profiles (MDProfile, MDProfileMandatory) against pebble 2.10's
# profiles, and a 90-second profile renewed again and again by the running server, hands off.
import datetime
import json
import time

import pytest

from mdtest import ports
from mdtest.mdhttpd import cert_dns_names
from mdtest.proxied import BASE_MD_CONF, start_proxied
from mdtest.procs import wait_until

DOMAIN = "www.example.test"
SERVED_TIMEOUT_SECONDS = 40.0
# how long a test watches that something does NOT happen: with MDRetryDelay 1s a passing error
# would have been tried again several times by then
QUIET_SECONDS = 5.0
DAY = 86400
# pebble 2.10's profiles (its config's "profiles"): validity in seconds. An order without a
# profile gets a random one of them, so tests that rely on the CA's default give pebble one.
PROFILES = {
    "default": {"description": "what an order without a profile may get", "validityPeriod": 90 * DAY},
    "shortlived": {"description": "six days", "validityPeriod": 6 * DAY},
}
ONLY_CLASSIC = {"classic": {"description": "the one and only", "validityPeriod": 7 * DAY}}
# pebble's notAfter is notBefore + validityPeriod - 1s (RFC 5280 counts both ends)
LIFETIME_SLACK_SECONDS = 2
# the hands-off renewal test: certificates that live 90 s renew at half their life
NINETY = {"ninety": {"description": "ninety seconds", "validityPeriod": 90}}
NINETY_SERIALS = 3
NINETY_WATCH_SECONDS = 200.0
HANDSHAKE_INTERVAL_SECONDS = 0.5


@pytest.fixture
def profile_server(workdir, pebble_factory):
    """start(profiles, md_conf, rewrite=None) -> (httpd, pebble, proxy): our module with one MD
    (md_conf: its lines or section) at pebble 2.10 configured with those profiles, through a
    proxy of ours that records requests (and rewrites pebble's answers when asked)."""
    made = []

    def start(profiles, md_conf, rewrite=None):
        http_port, https_port = ports.free_ports(2)
        # no badNonce answers: each newOrder the proxy sees is one the module meant
        pebble = pebble_factory(sid=True, http_port=http_port, tls_port=https_port,
                                config={"profiles": profiles}, env={"PEBBLE_WFE_NONCEREJECT": "0"})
        h, proxy = start_proxied(workdir, pebble, DOMAIN, md_conf=md_conf, rewrite=rewrite)
        made.append((h, proxy))
        return h, pebble, proxy

    yield start
    for h, proxy in made:
        h.stop()
        proxy.stop()


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def not_after(cert):
    return cert.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp()


def lifetime(cert):
    return (cert.not_valid_after - cert.not_valid_before).total_seconds()


def md_status(h):
    st, body = h.get(f"/md-status/{DOMAIN}")
    assert st == 200, body
    return json.loads(body)


def job_error(h):
    """The job's md-status once it has an error, else None."""
    job = md_status(h).get("staging", {}).get("job", {})
    return job if job.get("error") else None


def test_shortlived_profile_gives_a_six_day_certificate(workdir, profile_server):
    # the global profile is one pebble does not have; the MD's own line wins
    h, pebble, proxy = profile_server(PROFILES, f"MDProfile nosuchprofile\n"
                                                f"<MDomain {DOMAIN}>\n  MDProfile shortlived\n"
                                                f"  MDProfileMandatory on\n</MDomain>\n")
    root = pebble.write_root(workdir / "pebble-root.pem")
    cert = h.wait_served(DOMAIN, root, SERVED_TIMEOUT_SECONDS)
    assert cert, h.error_log_tail(60)
    assert cert_dns_names(cert) == [DOMAIN]
    assert abs(lifetime(cert) - 6 * DAY) <= LIFETIME_SLACK_SECONDS, cert
    # asked for, not by chance (pebble gives an order without a profile a random one)
    orders = proxy.jws_payloads("POST", proxy.path_of("newOrder"))
    assert [o.get("profile") for o in orders] == ["shortlived"], orders
    # md.json keeps the setting as the bundled module does; md-status shows it and what the
    # order got
    md = h.md_json(DOMAIN)
    assert md["profile"] == "shortlived" and md["profile-mandatory"] is True
    status = md_status(h)
    assert status["profile"] == "shortlived"
    assert [c.get("profile") for c in status["certificates"]] == ["shortlived"], status
    assert "nosuchprofile" not in h.error_log_text()


def test_missing_profile_mandatory_is_refused_naming_the_cas_profiles(workdir, profile_server):
    h, pebble, proxy = profile_server(PROFILES, "MDProfile tlsserver\nMDProfileMandatory on\n"
                                                f"MDomain {DOMAIN}\n")
    job = wait_until(lambda: job_error(h), SERVED_TIMEOUT_SECONDS, interval=0.25)
    assert job, h.error_log_tail(60)
    asked = time.time()
    assert job["error"]["class"] == "refused"
    detail = job["error"]["detail"]
    assert "'tlsserver'" in detail and "(it offers: default, shortlived)" in detail, detail
    assert "MDProfileMandatory" in detail
    assert "'tlsserver'" in h.error_log_text()
    # no order made, none tried again soon, no certificate
    assert parse_time(job["next-try"]) >= asked + 3000, job
    time.sleep(QUIET_SECONDS)
    assert proxy.count("POST", proxy.path_of("newOrder")) == 0, proxy.requests
    assert md_status(h)["staging"]["job"]["errors"] == 1
    assert not list(h.domain_dir(DOMAIN).glob("pubcert*.pem"))
    # the operator does as told: the certificate comes at once, not after the hour's wait
    h.write_config(md_conf=BASE_MD_CONF + "MDProfile shortlived\nMDProfileMandatory on\n"
                                          f"MDomain {DOMAIN}\n")
    h.graceful()
    root = pebble.write_root(workdir / "pebble-root.pem")
    cert = h.wait_served(DOMAIN, root, SERVED_TIMEOUT_SECONDS)
    assert cert, h.error_log_tail(60)
    assert abs(lifetime(cert) - 6 * DAY) <= LIFETIME_SLACK_SECONDS, cert


def without_profiles(method, path, answer):
    """A CA whose directory lists no profiles at all: pebble's, with meta.profiles taken out."""
    status, headers, body = answer
    if method == "GET" and path == "/dir" and status == 200:
        directory = json.loads(body)
        directory.get("meta", {}).pop("profiles", None)
        body = json.dumps(directory).encode()
    return status, headers, body


def test_profile_at_a_ca_without_profiles_mandatory_is_refused(profile_server):
    h, pebble, proxy = profile_server(ONLY_CLASSIC, "MDProfile classic\nMDProfileMandatory on\n"
                                                    f"MDomain {DOMAIN}\n",
                                      rewrite=without_profiles)
    job = wait_until(lambda: job_error(h), SERVED_TIMEOUT_SECONDS, interval=0.25)
    assert job, h.error_log_tail(60)
    assert job["error"]["class"] == "refused"
    assert "'classic' (it offers: none)" in job["error"]["detail"], job
    assert proxy.count("POST", proxy.path_of("newOrder")) == 0, proxy.requests


def test_missing_profile_not_mandatory_warns_and_takes_the_cas_default(workdir, profile_server):
    # pebble with one profile: what an order without a profile gets is known
    h, pebble, proxy = profile_server(ONLY_CLASSIC, f"MDProfile tlsserver\nMDomain {DOMAIN}\n")
    root = pebble.write_root(workdir / "pebble-root.pem")
    cert = h.wait_served(DOMAIN, root, SERVED_TIMEOUT_SECONDS)
    assert cert, h.error_log_tail(60)
    assert abs(lifetime(cert) - 7 * DAY) <= LIFETIME_SLACK_SECONDS, cert
    orders = proxy.jws_payloads("POST", proxy.path_of("newOrder"))
    assert len(orders) == 1 and "profile" not in orders[0], orders
    warnings = [line for line in h.error_log_text().splitlines()
                if ":warn]" in line and "'tlsserver'" in line]
    assert warnings and "(it offers: classic)" in warnings[0], h.error_log_tail(60)
    assert "the CA's default applies" in warnings[0]


def test_ninety_second_certificates_are_renewed_hands_off(workdir, profile_server):
    h, pebble, proxy = profile_server(NINETY, f"MDProfile ninety\nMDomain {DOMAIN}\n")
    root = pebble.write_root(workdir / "pebble-root.pem")
    seen = {}  # serial -> notAfter
    failed = []  # handshakes that got no valid certificate: (time, what)

    def watch():
        cert = h.verified_cert(DOMAIN, root)  # verified: an expired certificate fails the handshake
        now = time.time()
        if cert is None:
            failed.append((now, "no certificate that verifies"))
        elif not_after(cert) <= now:
            failed.append((now, f"serial {cert.serial_number:x} expired"))
        else:
            seen.setdefault(cert.serial_number, not_after(cert))
        return len(seen) >= NINETY_SERIALS

    first = h.wait_served(DOMAIN, root, SERVED_TIMEOUT_SECONDS)
    assert first, h.error_log_tail(60)
    assert abs(lifetime(first) - NINETY["ninety"]["validityPeriod"]) <= LIFETIME_SLACK_SECONDS
    pid = h.pid()
    # from the first certificate on, every handshake gets one that is valid, and new ones come
    done = wait_until(watch, NINETY_WATCH_SECONDS, interval=HANDSHAKE_INTERVAL_SECONDS)
    assert not failed, (failed, h.error_log_tail(80))
    assert done, (seen, h.error_log_tail(80))
    # hands off: the same server, never restarted
    assert h.pid() == pid
    assert h.error_log_text().count("resuming normal operations") == 1

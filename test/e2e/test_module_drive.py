# test_module_drive.py: the module on its own -- certificates obtained and renewed in the background,
# live without a restart, MDDriveMode manual with a2md, MDActivationDelay, CA outages, md-status.
import datetime
import email.utils
import json
import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes

from mdtest import ports
from mdtest.mdhttpd import MdHttpd, cert_dns_names
from mdtest.procs import wait_until

ROOT = Path(__file__).resolve().parents[2]
A2MD = os.environ.get("MDTEST_A2MD", str(ROOT / "build" / "a2md"))
DOMAIN = "www.example.test"
ALT = "example.test"
# from start to a certificate served (pebble answers in well under a second; the workers present a
# published set at their next handshake)
SERVED_TIMEOUT_SECONDS = 40.0
RESTARTED = "resuming normal operations"
A2MD_TIMEOUT_SECONDS = 60
# how long a test watches that something does NOT happen
QUIET_SECONDS = 4.0
# longer than pebble's 5-year certificates: every certificate is due for renewal at once -- and,
# due from issuance, renewed once per MDCheckInterval, which these tests make short
RENEW_ALWAYS = "2000d"
CHECK_OFTEN = "MDCheckInterval 1s"


class Site:
    """pebble + one apache2 with our module, one MD (DOMAIN, ALT) on a TLS vhost, md-status."""

    def __init__(self, workdir, pebble_factory, pebble_env=None, modules=()):
        self.http_port, self.https_port = ports.free_ports(2)
        self.pebble = pebble_factory(http_port=self.http_port, tls_port=self.https_port,
                                     env=pebble_env or {})
        self.root_file = self.pebble.write_root(Path(workdir) / "pebble-root.pem")
        self.httpd = MdHttpd(workdir, pebble=self.pebble, http_port=self.http_port,
                             https_port=self.https_port, modules=modules)
        self.store = self.httpd.store_dir

    def md_conf(self, md_lines=(), global_lines=()):
        return "\n".join([
            "MDPrivateKeys secp256r1",
            "MDCAChallenges http-01",
            "MDRetryDelay 1s",
            "ServerAdmin admin@example.test",
            *global_lines,
            f"<MDomainSet {DOMAIN} {ALT}>",
            *md_lines,
            "</MDomainSet>",
        ])

    def write(self, **kwargs):
        self.httpd.write_config(
            md_conf=self.md_conf(**kwargs), vhosts=self.httpd.vhost([DOMAIN, ALT]),
            extra_conf="<Location /md-status>\n  SetHandler md-status\n</Location>\n"
                       "<Location /md-metrics>\n  SetHandler md-metrics\n</Location>\n")

    def start(self, **kwargs):
        self.write(**kwargs)
        self.httpd.start()
        return self

    def reconfigure(self, **kwargs):
        self.write(**kwargs)
        self.httpd.graceful()

    # --- what a client sees ---------------------------------------------------------------------
    def served_cert(self, name=DOMAIN):
        """The leaf served for SNI `name`, verified against pebble's root and `name`; None if that fails."""
        return self.httpd.verified_cert(name, self.root_file)

    def wait_served(self, other_than=None, timeout=SERVED_TIMEOUT_SECONDS):
        """Wait until a verified certificate (another serial than `other_than`) is served."""
        def served():
            cert = self.served_cert()
            return cert if cert and cert.serial_number != other_than else None
        cert = wait_until(served, timeout, interval=0.25)
        assert cert, f"no (new) verified certificate served\n{self.httpd.error_log_tail(60)}"
        return cert

    def status(self, path="/md-status"):
        st, body = self.httpd.get(path)
        return st, (json.loads(body) if st == 200 else body)

    def md_status(self):
        st, j = self.status(f"/md-status/{DOMAIN}")
        assert st == 200, j
        return j

    def a2md(self, *args):
        argv = [A2MD, "-d", str(self.store), "-C", str(self.pebble.ca_file), *map(str, args)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=A2MD_TIMEOUT_SECONDS)

    def log_count(self, text):
        return self.httpd.error_log_text().count(text)


@pytest.fixture
def site(workdir, pebble_factory):
    s = Site(workdir, pebble_factory)
    yield s
    s.httpd.stop()


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def http_time(text):
    """A time as the bundled module's status JSON writes it ("Mon, 07 Dec 2026 15:14:07 GMT")."""
    return email.utils.parsedate_to_datetime(text).timestamp()


def until(status_cert):
    """A certificate's valid-until in md-status, as a datetime."""
    return datetime.datetime.fromisoformat(status_cert["valid-until"].replace("Z", "+00:00"))


def san_names(cert):
    return set(cert_dns_names(cert))


def test_md_obtained_in_background_and_served_without_restart(site):
    site.start()
    cert = site.wait_served()
    assert san_names(cert) == {DOMAIN, ALT}
    assert site.served_cert(ALT).serial_number == cert.serial_number
    assert "Pebble" in cert.issuer.rfc4514_string()
    assert wait_until(lambda: "md driver: 1 MD(s) driven, staged: [www.example.test], failed: []"
                      in site.httpd.error_log_text(), 10), site.httpd.error_log_tail()
    log = site.httpd.error_log_text()
    assert f"{DOMAIN}: the new certificate is live" in log
    # no restart of any kind: the server started once
    assert log.count(RESTARTED) == 1
    assert "Doing graceful restart" not in log
    # md-status: what the workers present, the MD complete, nothing driven again
    j = site.md_status()
    assert j["state-name"] == "complete"
    assert j["presented"]["source"] == "live"
    assert int(j["presented"]["certificates"][0]["serial"], 16) == cert.serial_number
    assert until(j["presented"]["certificates"][0]) == cert.not_valid_after.replace(
        tzinfo=datetime.timezone.utc)
    assert "staging" not in j
    assert j["renew"] is False
    assert parse_time(j["next-check"]) == http_time(j["renew-at"])
    # the next start promotes the live set: the same certificate, now installed
    site.httpd.graceful()
    assert site.served_cert().serial_number == cert.serial_number
    j = site.md_status()
    assert j["presented"]["source"] == "installed"
    assert int(j["presented"]["certificates"][0]["serial"], 16) == cert.serial_number
    assert until(j["presented"]["certificates"][0]) == cert.not_valid_after.replace(
        tzinfo=datetime.timezone.utc)
    assert int(j["certificates"][0]["serial"], 16) == cert.serial_number
    assert not (site.store / "live" / DOMAIN).exists()


def test_certificate_status_tells_clients_what_is_presented(site):
    site.start()
    cert = site.wait_served()
    st, body = site.httpd.https_get(DOMAIN, "/.httpd/certificate-status", cafile=site.root_file)
    assert st == 200, body
    j = json.loads(body)
    # the bundled module's shape: per key type, and the overall validity
    assert int(j["secp256r1"]["serial"], 16) == cert.serial_number
    assert j["secp256r1"]["sha256-fingerprint"] == cert.fingerprint(hashes.SHA256()).hex()
    until = datetime.datetime.strptime(j["valid"]["until"], "%a, %d %b %Y %H:%M:%S GMT")
    assert until == cert.not_valid_after.replace(microsecond=0)
    # not on plain http, and not when switched off
    st, _ = site.httpd.get("/.httpd/certificate-status")
    assert st == 404
    site.reconfigure(global_lines=["MDCertificateStatus off"])
    st, _ = site.httpd.https_get(DOMAIN, "/.httpd/certificate-status", cafile=site.root_file)
    assert st == 404


def test_server_status_shows_the_mds_in_html_and_auto(workdir, pebble_factory):
    site = Site(workdir, pebble_factory, modules=("status",))
    try:
        site.httpd.write_config(
            md_conf=site.md_conf(global_lines=["MDServerStatus on",
                                               "MDCertificateCheck ctlog https://ct.example.net/?fp=",
                                               "MDomain unused.example.test"]),
            vhosts=site.httpd.vhost([DOMAIN, ALT]),
            extra_conf="<Location /server-status>\n  SetHandler server-status\n</Location>\n")
        site.httpd.start()
        cert = site.wait_served()
        fp = cert.fingerprint(hashes.SHA256()).hex()
        st, body = site.httpd.get("/server-status?auto")
        assert st == 200, body
        lines = dict(line.split(": ", 1) for line in body.decode().splitlines() if ": " in line)
        # the bundled module's names, which monitoring reads
        assert lines["ManagedCertificatesTotal"] == "2", body
        assert lines["ManagedCertificatesOK"] == "1", body
        i = next(k[len("ManagedDomain["):-len("]Domain")] for k, v in lines.items()
                 if k.endswith("]Domain") and v == DOMAIN)
        assert lines[f"ManagedDomain[{i}]Status"] == "good", body
        assert lines[f"ManagedDomain[{i}]ValidUntil"] == cert.not_valid_after.strftime("%Y-%m-%d")
        assert lines[f"ManagedDomain[{i}]CheckAtURL"] == f"https://ct.example.net/?fp={fp}"
        assert lines[f"ManagedDomain[{i}]CheckAtName"] == "ctlog"
        st, body = site.httpd.get("/server-status")
        assert st == 200 and b"Managed Certificates" in body and DOMAIN.encode() in body, body
    finally:
        site.httpd.stop()


def test_status_for_browsers_and_prometheus(site):
    site.start()
    cert = site.wait_served()
    st, body = site.httpd.get("/md-metrics")
    assert st == 200, body
    text = body.decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
    md = f'md="{DOMAIN}"'
    # Prometheus conventions: base units in the name, a counter ends in _total, HELP and TYPE
    assert samples[f'md_certificate_expiry_timestamp_seconds{{{md},key="secp256r1"}}'] == \
        cert.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp()
    assert samples[f'md_state{{{md},state="complete"}}'] == 1
    assert samples[f"md_renewals_total{{{md}}}"] == 1  # the certificate that went live
    assert samples[f'md_renewal_errors{{{md},class="none"}}'] == 0
    assert samples[f"md_last_success_timestamp_seconds{{{md}}}"] <= time.time()
    assert "# TYPE md_renewals_total counter" in text
    assert "# HELP md_certificate_expiry_timestamp_seconds " in text
    # a browser gets a page with the same data
    req = urllib.request.Request(f"http://127.0.0.1:{site.http_port}/md-status",
                                 headers={"Accept": "text/html,application/xhtml+xml"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.headers["Content-Type"].startswith("text/html")
        page = resp.read().decode()
    assert "<table" in page and f"<td>{DOMAIN}</td>" in page and "<td>complete</td>" in page


def test_an_md_no_vhost_uses_is_shown_unwatched_and_not_driven(site):
    site.start(global_lines=["MDomain unused.example.test"])
    site.wait_served()
    assert wait_until(lambda: "md driver: 1 MD(s) driven, staged: [www.example.test]"
                      in site.httpd.error_log_text(), 10), site.httpd.error_log_tail()
    st, j = site.status("/md-status/unused.example.test")
    assert st == 200, j
    assert j["watched"] is False and "next-check" not in j and "staging" not in j, j
    assert site.md_status()["watched"] is True
    assert not (site.store / "staging" / "unused.example.test").exists()
    # an MD only in the store (a2md added it): shown as well, after the next start
    r = site.a2md("-a", site.pebble.directory_url, "add", "stored.example.test")
    assert r.returncode == 0, r.stderr
    site.httpd.graceful()
    st, j = site.status("/md-status/stored.example.test")
    assert st == 200, j
    assert j["watched"] is False and j["state"] == 1 and "next-check" not in j, j
    st, j = site.status()
    assert "stored.example.test" in [m["name"] for m in j["managed-domains"]]


def test_initial_delay_holds_the_first_run_back(site):
    site.start(global_lines=["MDInitialDelay 1h"])
    assert wait_until(lambda: "md driver: first run in 1h (MDInitialDelay)"
                      in site.httpd.error_log_text(), 10), site.httpd.error_log_tail()
    st, j = site.status()
    assert st == 200, j
    # the driver says when it runs first; nothing was asked of the CA meanwhile
    assert parse_time(j["next-run"]) >= time.time() + 3500, j
    assert "driving" not in site.httpd.error_log_text()
    assert not (site.store / "staging" / DOMAIN).exists()


def test_ca_failover_to_the_second_ca_when_the_first_is_unreachable(site):
    """MDCertificateAuthority with two URLs, the first a closed port: the certificate comes
    from the second, without anyone stepping in."""
    dead = f"https://127.0.0.1:{ports.free_port()}/dir"
    site.httpd.ca_url = f"{dead} {site.pebble.directory_url}"
    site.httpd.ca_file = site.pebble.ca_file
    site.start()
    cert = site.wait_served()
    assert san_names(cert) == {DOMAIN, ALT}
    log = site.httpd.error_log_text()
    assert f"CA {dead} could not be reached; the next try goes to {site.pebble.directory_url}" in log


def test_renew_window_forces_renewals_that_go_live_without_restart(site):
    site.start()
    first = site.wait_served()
    site.reconfigure(md_lines=[f"MDRenewWindow {RENEW_ALWAYS}"], global_lines=[CHECK_OFTEN])
    restarts = site.log_count(RESTARTED)
    second = site.wait_served(other_than=first.serial_number)
    assert san_names(second) == {DOMAIN, ALT}
    # the renewal of a live set is live too: every certificate is due, so it renews again,
    # and each new one is presented while the next renewal works in staging/
    third = site.wait_served(other_than=second.serial_number)
    assert third.serial_number != first.serial_number
    assert site.log_count(RESTARTED) == restarts


def test_a_window_longer_than_the_lifetime_renews_once_per_check_interval_and_says_so(site):
    # every certificate is due from the moment it is issued: without a limit, each drive
    # would order the next one at once
    site.start(md_lines=[f"MDRenewWindow {RENEW_ALWAYS}"], global_lines=["MDCheckInterval 1h"])
    first = site.wait_served()
    warning = "is due for renewal from the moment it was issued: MDRenewWindow"
    assert wait_until(lambda: warning in site.httpd.error_log_text(), 10), \
        site.httpd.error_log_tail()
    assert "once per MDCheckInterval (1h)" in site.httpd.error_log_text()
    j = site.md_status()
    renew_at = datetime.datetime.fromtimestamp(http_time(j["renew-at"]), datetime.timezone.utc)
    assert renew_at > datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=50)
    time.sleep(QUIET_SECONDS)
    assert site.served_cert().serial_number == first.serial_number
    assert site.log_count("the new certificate is live") == 1


def test_manual_mode_is_never_driven_and_a2md_drive_plus_graceful_serves(site):
    site.start(md_lines=["MDDriveMode manual"])
    time.sleep(QUIET_SECONDS)
    j = site.md_status()
    assert j["state-name"] == "incomplete"
    assert j["renew-mode-name"] == "manual"
    assert "staging" not in j and "next-check" not in j
    assert site.served_cert() is None
    assert "md driver" not in site.httpd.error_log_text()

    r = site.a2md("drive", DOMAIN)
    assert r.returncode == 0, r.stdout + r.stderr
    # a set staged by hand for a manual MD waits for the operator's restart
    job = json.loads((site.store / "staging" / DOMAIN / "job.json").read_text())
    assert job["step"] == "staged"
    assert site.served_cert() is None
    site.httpd.graceful()
    cert = site.wait_served()
    assert san_names(cert) == {DOMAIN, ALT}


def test_activation_delay_holds_a_staged_set_back_then_serves_it(site):
    site.start(global_lines=["MDActivationDelay 4s"])
    assert wait_until(lambda: site.log_count("(MDActivationDelay)"), 20), site.httpd.error_log_tail()
    # staged and visible in md-status, but not yet presented: clients still get the temporary one
    j = site.md_status()
    assert j["staging"]["job"]["step"] == "staged"
    assert j["presented"]["source"] == "temporary"
    assert site.served_cert() is None
    cert = site.wait_served()
    assert san_names(cert) == {DOMAIN, ALT}
    staged = site.httpd.error_log_text().split("(MDActivationDelay)")[0]
    assert "the new certificate is live" not in staged
    assert site.log_count("md driver: 1 MD(s) driven") == 1
    assert site.log_count(RESTARTED) == 1


def test_restart_while_a_renewal_waits_for_activation_presents_what_the_workers_did(site):
    # every certificate is due at once and waits ACTIVATION before it goes live: the first one
    # goes live, then its renewal is staged and waits
    activation = 10
    site.start(global_lines=[f"MDActivationDelay {activation}s", CHECK_OFTEN],
               md_lines=[f"MDRenewWindow {RENEW_ALWAYS}"])
    first = site.wait_served()
    staged = "(MDActivationDelay)"
    assert wait_until(lambda: site.log_count(staged) >= 2, SERVED_TIMEOUT_SECONDS), \
        site.httpd.error_log_tail()
    assert site.served_cert().serial_number == first.serial_number
    # a restart now installs the live set, not only the waiting one: the server goes on
    # presenting what its workers presented, and never falls back to the temporary one
    site.httpd.graceful()
    cert = site.served_cert()
    assert cert is not None and cert.serial_number == first.serial_number, \
        site.httpd.error_log_tail(40)
    assert list((site.store / "domains" / DOMAIN).glob("pubcert*.pem"))
    # the waiting renewal still goes live when its time comes
    second = site.wait_served(other_than=first.serial_number)
    assert san_names(second) == {DOMAIN, ALT}


def test_ca_unreachable_error_in_status_and_log_old_cert_still_served(workdir, site):
    msg, msg_log = command_recorder(workdir, "message")
    site.start()
    first = site.wait_served()
    site.pebble.stop()
    # the renewal comes MDCheckInterval after the first certificate's issuance; retries a few
    # seconds apart (MDCheckInterval caps them), so that the next try lies ahead for a while
    site.reconfigure(md_lines=[f"MDRenewWindow {RENEW_ALWAYS}"],
                     global_lines=[f"MDMessageCmd {msg}", "MDCheckInterval 10s",
                                   "MDRetryDelay 4s"])

    def errored():
        job = site.md_status().get("staging", {}).get("job", {})
        return job if job.get("error") else None
    job = wait_until(errored, 30, interval=0.5)
    assert job, site.md_status()
    # the job records the error first; the driver's summary (and next check) follows once
    # MDMessageCmd has run
    assert wait_until(lambda: "failed: [www.example.test]; next run at" in
                      site.httpd.error_log_text(), 10), site.httpd.error_log_tail()
    err = job["error"]
    assert err["step"] == "account"
    assert site.pebble.directory_url.split("/dir")[0] in err["detail"]
    assert job["errors"] >= 1 and "next-try" in job
    # the same as the bundled module's "renewal" shows it
    r = site.md_status()["renewal"]
    assert r["finished"] is False and r["errors"] >= 1 and r["last"]["status"] != 0, r
    assert r["last"]["activity"] == "account" and "next-run" in r, r
    # md-status's next check is the job's next try while that lies ahead (one snapshot: a
    # retry may have moved both since `job` was read; times are kept to the second)
    def ahead():
        st = site.md_status()
        nxt = st.get("staging", {}).get("job", {}).get("next-try")
        return st if nxt and parse_time(nxt) > time.time() else None
    now = wait_until(ahead, 20, interval=0.2)
    assert now, site.md_status()
    assert now["next-check"] == now["staging"]["job"]["next-try"]
    log = site.httpd.error_log_text()
    assert f"{DOMAIN}: account failed" in log
    assert "failed: [www.example.test]; next run at" in log
    # retried with backoff, and the old certificate is still the one served
    assert wait_until(lambda: (errored() or {}).get("errors", 0) >= 2, 20), site.md_status()
    assert site.served_cert().serial_number == first.serial_number
    assert f"errored {DOMAIN}" in read_lines(msg_log)


def command_recorder(workdir, name):
    """A program that appends its arguments as one line to <workdir>/cmds/<name>.log (the driver
    runs it as the server's User)."""
    out = Path(workdir) / "cmds"
    out.mkdir(exist_ok=True)
    out.chmod(0o777)
    script = out / f"{name}.sh"
    log = out / f"{name}.log"
    script.write_text(f'#!/bin/sh\necho "$@" >> {log}\necho "$MD_STORE $MD_VERSION" >> {log}.env\n')
    script.chmod(0o755)
    return script, log


def read_lines(path):
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def test_message_and_notify_commands_run_after_renewal(workdir, site):
    msg, msg_log = command_recorder(workdir, "message")
    notify, notify_log = command_recorder(workdir, "notify")
    # a program with arguments of its own (they come first), as the bundled module runs it
    site.start(global_lines=[f"MDMessageCmd {msg} --quiet", f"MDNotifyCmd {notify}"])
    site.wait_served()
    assert wait_until(lambda: read_lines(notify_log), 10), site.httpd.error_log_tail()
    lines = read_lines(msg_log)
    assert lines[0] == f"--quiet renewing {DOMAIN}", lines
    # each answer set up before the CA was told, named by type and domain
    assert sorted(lines[1:3]) == sorted(f"--quiet challenge-setup:http-01:{name} {DOMAIN}"
                                        for name in (DOMAIN, ALT)), lines
    assert lines[3:] == [f"--quiet renewed {DOMAIN}", f"--quiet installed {DOMAIN}"], lines
    assert read_lines(notify_log) == [DOMAIN]
    # the store and our version in the environment
    env = read_lines(Path(f"{notify_log}.env"))[0].split()
    assert env[0] == str(site.store) and re.fullmatch(r"\d+\.\d+\.\d+", env[1]), env
    # the module logs the command's end after it exited (the file is written before that)
    assert wait_until(lambda: f"MDNotifyCmd '{notify} {DOMAIN}' done" in site.httpd.error_log_text(), 10), \
        site.httpd.error_log_tail()


def test_a_message_program_that_refuses_renewing_holds_the_renewal_back(workdir, site):
    out = Path(workdir) / "cmds"
    out.mkdir(exist_ok=True)
    out.chmod(0o777)
    refuse = out / "refuse.sh"
    refuse.write_text('#!/bin/sh\n[ "$1" = renewing ] && exit 1\nexit 0\n')
    refuse.chmod(0o755)
    site.start(global_lines=[f"MDMessageCmd {refuse}"])

    def job_error():
        job = site.md_status().get("staging", {}).get("job", {})
        return job.get("error")
    err = wait_until(job_error, SERVED_TIMEOUT_SECONDS, interval=0.25)
    assert err and "event 'renewing'" in err["detail"], (err, site.httpd.error_log_tail())
    # nothing was asked of the CA for it: no order
    assert not site.md_status()["staging"]["job"].get("orders"), site.md_status()
    assert site.served_cert() is None


def test_a_message_program_not_there_yet_is_a_warning_then_an_error_when_run(workdir, site):
    missing = Path(workdir) / "not-yet" / "notify.sh"
    site.write(global_lines=[f"MDMessageCmd {missing} --quiet"])
    rc, out = site.httpd.configtest()
    assert rc == 0, out
    line = site.httpd.conf_line_of("MDMessageCmd")
    assert f"{site.httpd.conf_path}:{line}: MDMessageCmd: file {missing} does not exist" in out, out
    site.httpd.start()
    site.wait_served()
    assert wait_until(lambda: f"MDMessageCmd: cannot run '{missing} --quiet renewed {DOMAIN}'"
                      in site.httpd.error_log_text(), 10), site.httpd.error_log_tail()


def test_nonce_rejections_still_succeed(workdir, pebble_factory):
    s = Site(workdir, pebble_factory, pebble_env={"PEBBLE_WFE_NONCEREJECT": "50"})
    try:
        s.start()
        assert san_names(s.wait_served()) == {DOMAIN, ALT}
    finally:
        s.httpd.stop()


def test_md_status_json_shape(site):
    site.start()
    st, j = site.status()
    assert st == 200
    assert set(j) >= {"version", "managed-domains"}
    assert isinstance(j["version"], str) and j["version"]
    mds = j["managed-domains"]
    assert [m["name"] for m in mds] == [DOMAIN]
    m = mds[0]
    for key in ("name", "domains", "state", "renew-mode", "certificates", "renew"):
        assert key in m, m
    assert m["domains"] == [DOMAIN, ALT]
    assert m["renew-mode-name"] == "auto"
    assert m["certificates"][0]["key"] == "secp256r1"
    # the bundled module's types: monitoring written for it reads numbers here
    assert m["renew-mode"] == 1 and m["state"] in (1, 2), m
    cert = site.wait_served()
    # the driver of the new generation publishes when it runs next
    j = wait_until(lambda: (lambda s: s if "next-run" in s else None)(site.status()[1]), 10)
    assert j, site.status()
    m = j["managed-domains"][0]
    assert m["state-name"] == "complete"
    c = m["certificates"][0]
    for key in ("valid-from", "valid-until", "renew-at", "issuer", "serial", "names"):
        assert key in c, c
    assert sorted(c["names"]) == sorted([DOMAIN, ALT])
    # and its members as the bundled module writes them
    assert m["state"] == 2 and m["watched"] is True and m["renew"] is False, m
    assert m["proto"] == {"acme-tls/1": []}, m  # the site offers no acme-tls/1
    b = m["cert"]["secp256r1"]
    assert int(b["serial"], 16) == cert.serial_number
    assert b["sha256-fingerprint"] == cert.fingerprint(hashes.SHA256()).hex()
    assert http_time(b["valid"]["until"]) == cert.not_valid_after.replace(
        tzinfo=datetime.timezone.utc).timestamp()
    assert http_time(m["cert"]["valid"]["from"]) == http_time(b["valid"]["from"])
    assert http_time(m["renew-at"]) < http_time(b["valid"]["until"])
    # the renewal that got it, from the job
    r = m["renewal"]
    assert r["finished"] is True and r["errors"] == 0 and r["last"]["status"] == 0, r
    assert r["notified"] is True and http_time(r["valid-from"]) == http_time(b["valid"]["from"])
    # one MD by name; an unknown name is 404
    st, one = site.status(f"/md-status/{DOMAIN}")
    assert st == 200 and one["name"] == DOMAIN
    st, _ = site.status("/md-status/unknown.example.test")
    assert st == 404
    st, body = site.httpd.get("/md-status")
    assert st == 200


def test_restart_during_a_validation_neither_waits_for_it_nor_loses_the_order(workdir,
                                                                             pebble_factory):
    """A graceful restart while the CA validates: the old driver does not hold the restart up,
    no failure is recorded, and the next generation's driver goes on with the same order."""
    from mdtest.http01 import Http01Responder

    http_port, https_port, validator_port = ports.free_ports(3)
    # pebble validates http-01 against a responder that holds every answer back for long
    pebble = pebble_factory(http_port=validator_port, tls_port=https_port)
    httpd = MdHttpd(workdir, pebble=pebble, http_port=http_port, https_port=https_port)
    slow = Http01Responder(httpd.store_dir, validator_port)
    slow.delay = 60.0
    asked = []
    slow.on_request = lambda host, token: asked.append(host)
    slow.start()
    try:
        httpd.write_config(md_conf="MDPrivateKeys secp256r1\nMDCAChallenges http-01\n"
                                   f"MDomain {DOMAIN}\n", vhosts=httpd.vhost([DOMAIN]))
        httpd.start()
        wait_until(lambda: asked, SERVED_TIMEOUT_SECONDS, interval=0.1)  # the CA is validating
        job_path = httpd.store_dir / "staging" / DOMAIN / "job.json"
        before = json.loads(job_path.read_text())
        httpd.graceful()
        order = before["orders"]["secp256r1"]["url"]
        wait_until(lambda: f"POST {order} -> 200" in httpd.error_log_text().split(
            "Doing graceful restart")[-1], QUIET_SECONDS * 2, interval=0.1)
        job = json.loads(job_path.read_text())
        assert job["orders"]["secp256r1"]["url"] == order
        assert "error" not in job and job["errors"] == 0, job
    finally:
        slow.stop()

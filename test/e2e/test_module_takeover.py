# test_module_takeover.py: a store made by Debian's bundled mod_md is taken over by our module --
# its certificates are served as they are, nothing is ordered, and a renewal reuses its account.
import json
import shutil
from pathlib import Path

import pytest
from cryptography import x509

from mdtest import ports
from mdtest.bundled import (ADMIN_EMAIL, BUNDLED_MODULE, CERT_GLOB, EC_KEY_SPEC, EC_MD, RSA_MD,
                            bundled_config)
from mdtest.httpd import Httpd
from mdtest.mdhttpd import MOD_MD_PATH, MdHttpd, cert_dns_names
from mdtest.procs import wait_until

# from a forced renewal to the new certificate served after the module's own graceful restart
RENEWED_TIMEOUT_SECONDS = 30.0
# how long the test watches that no order is made for the taken-over certificates
QUIET_SECONDS = 3.0
# longer than pebble's 5-year certificates: every certificate is due for renewal at once
RENEW_ALWAYS = "2000d"
MD_NAMES = (RSA_MD[0], EC_MD[0])
POLL_SECONDS = 0.1
# what the driver logs when it starts, and when it works on MDs (absent while nothing is due)
DRIVER_STARTED = "md driver: started"
DRIVE_MARK = "md driver: driving"
# what pebble logs for a new order and for a new account
PEBBLE_NEW_ORDER = "POST /order-plz"
PEBBLE_NEW_ACCOUNT = "accounts in memory"


@pytest.fixture(scope="module", autouse=True)
def module_built():
    assert MOD_MD_PATH.exists(), f"{MOD_MD_PATH} is missing: run `make` first"


class TakenOver:
    """Our module on a private copy of the bundled store, with the bundled module's MDs, vhosts
    and CA (the session's pebble, which knows the bundled account)."""

    def __init__(self, workdir, bundled):
        self.bundled = bundled
        self.store = Path(workdir) / "md"
        shutil.copytree(bundled.store_dir, self.store, symlinks=True)
        self.root_file = Path(workdir) / "pebble-root.pem"
        self.root_file.write_text(bundled.root_pem)
        # the bundled pebble validates http-01 on its fixed http port: our httpd must listen there
        # for a renewal; the fixture's own httpd is stopped, so the port is free again
        http_port = bundled.pebble.http_port
        https_port = ports.free_port()
        self.httpd = MdHttpd(workdir, store_dir=self.store, pebble=bundled.pebble,
                             http_port=http_port, https_port=https_port)
        self.accounts = sorted(p.name for p in (self.store / "accounts").iterdir())
        # the session's pebble log so far: what it logs from now on is this test's doing
        self.pebble_log_start = bundled.pebble.log_file.stat().st_size

    def md_conf(self, renew_window=None):
        # renewals due from issuance come once per MDCheckInterval: here every second
        window = [f"MDRenewWindow {renew_window}", "MDCheckInterval 1s"] if renew_window else []
        return "\n".join([
            f"ServerAdmin mailto:{ADMIN_EMAIL}",
            "MDCAChallenges http-01",
            "MDRetryDelay 1s",
            *window,
            f"MDomain {' '.join(RSA_MD)}",
            f"<MDomain {' '.join(EC_MD)}>",
            f"  MDPrivateKeys {EC_KEY_SPEC}",
            "</MDomain>",
        ])

    def write(self, renew_window=None):
        h = self.httpd
        h.write_config(md_conf=self.md_conf(renew_window),
                       vhosts=h.vhost(list(RSA_MD)) + h.vhost(list(EC_MD)),
                       extra_conf="<Location /md-status>\n  SetHandler md-status\n</Location>\n")

    # --- the store ------------------------------------------------------------------------
    def stored_serial(self, name):
        pem = next((self.store / "domains" / name).glob(CERT_GLOB)).read_bytes()
        return x509.load_pem_x509_certificate(pem).serial_number

    def job(self, name):
        path = self.store / "staging" / name / "job.json"
        return json.loads(path.read_text()) if path.exists() else None

    def account_url(self, account_id):
        path = self.store / "accounts" / account_id / "account.json"
        return json.loads(path.read_text())["url"]

    def pebble_log(self):
        """What the session's pebble logged since this test began."""
        with open(self.bundled.pebble.log_file, "rb") as f:
            f.seek(self.pebble_log_start)
            return f.read().decode(errors="replace")

    # --- what a client and md-status see --------------------------------------------------
    def served(self, name):
        """The leaf served for SNI name, verified against the bundled pebble's root; None if not."""
        try:
            return self.httpd.peer_cert(name, cafile=self.root_file)
        except (OSError, ValueError):
            return None

    def md_status(self, name):
        st, body = self.httpd.get(f"/md-status/{name}")
        assert st == 200, body
        return json.loads(body)


@pytest.fixture
def taken(workdir, bundled_store):
    t = TakenOver(workdir, bundled_store)
    yield t
    t.httpd.stop()


def test_bundled_certificates_served_as_they_are_without_new_orders(taken, bundled_store):
    taken.write()
    taken.httpd.start()
    for name in MD_NAMES:
        names = bundled_store.mds[name]
        for sni in names:
            cert = taken.served(sni)
            assert cert, f"{sni}: no verified certificate\n{taken.httpd.error_log_tail(40)}"
            assert cert.serial_number == taken.stored_serial(name)
            assert cert_dns_names(cert) == sorted(names)
        j = taken.md_status(name)
        assert j["state-name"] == "complete", j
        assert j["renew"] is False
        assert [int(c["serial"], 16) for c in j["certificates"]] == [taken.stored_serial(name)]
        assert j["certificates"][0]["key"] == ("rsa2048" if bundled_store.key_specs[name] == "rsa"
                                               else bundled_store.key_specs[name])
    # nothing is due: no staging job and no drive for the taken-over MDs
    assert not wait_until(lambda: any(taken.job(n) for n in MD_NAMES), QUIET_SECONDS,
                          interval=0.25)
    log = taken.httpd.error_log_text()
    assert DRIVER_STARTED in log  # it runs, and finds nothing to do
    assert DRIVE_MARK not in log, log
    assert PEBBLE_NEW_ORDER not in taken.pebble_log()
    for name in MD_NAMES:
        assert f"{name}: new certificate staged" not in log
    assert sorted(p.name for p in (taken.store / "accounts").iterdir()) == taken.accounts


def test_forced_renewal_uses_the_bundled_account_and_goes_live(taken, bundled_store):
    taken.write()
    taken.httpd.start()
    first = {n: taken.stored_serial(n) for n in MD_NAMES}
    assert all(taken.served(n).serial_number == first[n] for n in MD_NAMES)
    (bundled_account,) = taken.accounts

    taken.write(renew_window=RENEW_ALWAYS)
    taken.httpd.graceful()

    job_accounts = set()

    def renewed():
        for n in MD_NAMES:  # the staged job, while it is there (promotion removes it)
            try:
                job_accounts.add((taken.job(n) or {}).get("account"))
            except ValueError:  # caught in the middle of a write
                pass
        certs = {n: taken.served(n) for n in MD_NAMES}
        ok = all(c and c.serial_number != first[n] for n, c in certs.items())
        return certs if ok else None
    certs = wait_until(renewed, RENEWED_TIMEOUT_SECONDS, interval=POLL_SECONDS)
    assert certs, (f"no renewed certificates served\n{taken.httpd.error_log_tail(60)}\n"
                   f"--- pebble ---\n{bundled_store.pebble.log_tail()}")
    for name, cert in certs.items():
        assert cert_dns_names(cert) == sorted(bundled_store.mds[name])
    # live without a restart; the next restart (with the usual renew window again) promotes what
    # the workers present: the store's certificate is then the served one
    taken.write()
    taken.httpd.graceful()
    for name in MD_NAMES:
        assert taken.stored_serial(name) == taken.served(name).serial_number != first[name]
        md = json.loads((taken.store / "domains" / name / "md.json").read_text())
        assert md["ca"]["account"] == bundled_account
    # the job (from its account step until promotion, well over a poll interval) used it
    assert job_accounts - {None} == {bundled_account}
    log = taken.httpd.error_log_text()
    url = taken.account_url(bundled_account)
    for name in MD_NAMES:
        assert f"{name}: account: account {bundled_account} ({url})" in log
        assert f"{name}: the new certificate is live" in log
    # no new registration, at the CA or in the store: the bundled account did it all
    assert PEBBLE_NEW_ACCOUNT not in taken.pebble_log()
    assert PEBBLE_NEW_ORDER in taken.pebble_log()
    assert sorted(p.name for p in (taken.store / "accounts").iterdir()) == [bundled_account]


def bundled_httpd(workdir, taken):
    """Debian's bundled module on the same store, vhosts and CA as `taken`, not started."""
    h = Httpd(workdir, name="httpd-bundled-again", modules=[BUNDLED_MODULE], https=True,
              http_port=taken.httpd.http_port, https_port=taken.httpd.https_port,
              log_level="info md:debug")
    h.write_config(bundled_config(taken.bundled.pebble, taken.store, taken.httpd.http_port,
                                  taken.httpd.https_port))
    return h


def test_switching_back_and_forth_serves_what_the_other_left(workdir, taken, bundled_store):
    """bundled -> ours (renews, with the bundled account) -> bundled -> ours: each serves the
    certificate it finds; no account is registered and nothing is ordered after our renewal."""
    taken.write(renew_window=RENEW_ALWAYS)
    taken.httpd.start()
    first = {n: taken.stored_serial(n) for n in MD_NAMES}

    def renewed():
        certs = {n: taken.served(n) for n in MD_NAMES}
        return certs if all(c and c.serial_number != first[n] for n, c in certs.items()) else None
    assert wait_until(renewed, RENEWED_TIMEOUT_SECONDS, interval=POLL_SECONDS), \
        taken.httpd.error_log_tail(60)
    taken.write()
    taken.httpd.graceful()  # installs our renewal into domains/, writes md.json our way
    ours = {n: taken.stored_serial(n) for n in MD_NAMES}
    assert all(taken.served(n).serial_number == ours[n] for n in MD_NAMES)
    taken.httpd.stop()
    accounts = sorted(p.name for p in (taken.store / "accounts").iterdir())
    orders = taken.pebble_log().count(PEBBLE_NEW_ORDER)

    # back to the bundled module: it reads our md.json and serves our certificates as they are
    bundled = bundled_httpd(workdir, taken)
    rc, out = bundled.configtest()
    assert rc == 0, out
    bundled.start()
    try:
        for name in MD_NAMES:
            cert = wait_until(lambda: taken.httpd.verified_cert(name, taken.root_file),
                              RENEWED_TIMEOUT_SECONDS, interval=POLL_SECONDS)
            assert cert and cert.serial_number == ours[name], bundled.error_log_tail(40)
        st, body = bundled.get("/md-status")
        assert st == 200, body
        states = {m["name"]: m["state"] for m in json.loads(body)["managed-domains"]}
        assert states == {n: 2 for n in MD_NAMES}, body  # complete
        # it would order at once if it found anything it could not use
        assert not wait_until(lambda: taken.pebble_log().count(PEBBLE_NEW_ORDER) > orders,
                              QUIET_SECONDS, interval=0.25)
    finally:
        bundled.stop()
    assert PEBBLE_NEW_ACCOUNT not in taken.pebble_log()

    # and ours again, after the bundled module had the store
    taken.write()
    taken.httpd.start()
    for name in MD_NAMES:
        assert taken.served(name).serial_number == ours[name]
        assert taken.md_status(name)["state"] == 2
    assert not wait_until(lambda: any(taken.job(n) for n in MD_NAMES), QUIET_SECONDS,
                          interval=0.25)
    assert taken.pebble_log().count(PEBBLE_NEW_ORDER) == orders
    assert sorted(p.name for p in (taken.store / "accounts").iterdir()) == accounts

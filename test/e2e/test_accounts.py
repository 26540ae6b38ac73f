# test_accounts.py: ACME accounts as the module and a2md keep them, against pebble 2.10: external
# account binding (MDExternalAccountBinding), new terms of service, key rollover, revocation.
import base64
import datetime
import json
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from mdtest import ports
from mdtest.caproxy import CaProxy
from mdtest.mdhttpd import MdHttpd, cert_dns_names
from mdtest.procs import wait_until

A2MD = str(Path(__file__).resolve().parents[2] / "build" / "a2md")
SERVED_TIMEOUT_SECONDS = 60.0
QUIET_SECONDS = 5.0
REFUSED_BACKOFF_MIN_SECONDS = 3000  # a refused error waits an hour (md_retry.h), with jitter
EAB_KIDS = ("kid-1", "kid-2")
MD_A = "a.example.test"
MD_B = "b.example.test"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def eab_ca(pebble_factory):
    """make(http_port, https_port) -> pebble 2.10 that requires EAB; .macs: kid -> HMAC key."""
    def make(http_port, https_port):
        macs = {kid: b64(secrets.token_bytes(48)) for kid in EAB_KIDS}
        pebble = pebble_factory(sid=True, http_port=http_port, tls_port=https_port,
                                config={"externalAccountBindingRequired": True,
                                        "externalAccountMACKeys": macs})
        pebble.macs = macs
        return pebble
    return make


@pytest.fixture
def md_server(workdir, eab_ca):
    """start(md_conf) -> (httpd, pebble, root): our module for MD_A and MD_B at a pebble that
    requires EAB, with md-status at /md-status."""
    made = []

    def start(md_conf_of, names=(MD_A,), start=True):
        http_port, https_port = ports.free_ports(2)
        pebble = eab_ca(http_port, https_port)
        root = pebble.write_root(workdir / "pebble-root.pem")
        h = MdHttpd(workdir, pebble=pebble, http_port=http_port, https_port=https_port)
        made.append(h)
        h.write_config(md_conf="MDPrivateKeys secp256r1\nMDCAChallenges http-01\n"
                               "MDRetryDelay 1s\n" + md_conf_of(pebble),
                       vhosts="".join(h.vhost(n) for n in names),
                       extra_conf="<Location /md-status>\n  SetHandler md-status\n</Location>\n")
        if start:
            h.start()
        return h, pebble, root

    yield start
    for h in made:
        h.stop()


def accounts(h):
    """account.json of every account in the store, by id."""
    d = h.store_dir / "accounts"
    return {a.name: json.loads((a / "account.json").read_text()) for a in d.iterdir()
            if (a / "account.json").exists()} if d.exists() else {}


def job_error(h, name):
    st, body = h.get(f"/md-status/{name}")
    job = json.loads(body).get("staging", {}).get("job", {}) if st == 200 else {}
    return job if job.get("error") else None


def test_eab_per_md_certificates(md_server):
    # a global binding, and one MD with its own: each MD's account is bound to its key id
    h, pebble, root = md_server(lambda pebble: (
        f"MDExternalAccountBinding kid-1 {pebble.macs['kid-1']}\n"
        f"MDomain {MD_A}\n"
        f"<MDomain {MD_B}>\n  MDExternalAccountBinding kid-2 {pebble.macs['kid-2']}\n"
        f"</MDomain>\n"), names=(MD_A, MD_B))
    for name in (MD_A, MD_B):
        cert = h.wait_served(name, root)
        assert cert, h.error_log_tail(60)
        assert cert_dns_names(cert) == [name]
    kids = sorted(a.get("eab-kid") for a in accounts(h).values())
    assert kids == ["kid-1", "kid-2"], accounts(h)
    # the HMAC keys are nowhere in the store's JSON
    for f in h.store_dir.rglob("*.json"):
        text = f.read_text()
        assert not any(mac in text for mac in pebble.macs.values()), f


def test_eab_none_in_a_section_switches_the_global_one_off(md_server):
    h, pebble, root = md_server(lambda pebble: (
        f"MDExternalAccountBinding kid-1 {pebble.macs['kid-1']}\n"
        f"<MDomain {MD_A}>\n  MDExternalAccountBinding none\n</MDomain>\n"))
    job = wait_until(lambda: job_error(h, MD_A), SERVED_TIMEOUT_SECONDS, interval=0.25)
    assert job and "MDExternalAccountBinding" in job["error"]["detail"], job
    assert not accounts(h)


def test_eab_from_a_json_file(workdir, md_server):
    eab = workdir / "eab.json"

    def conf(pebble):
        eab.write_text(json.dumps({"kid": "kid-2", "hmac": pebble.macs["kid-2"]}))
        eab.chmod(0o600)
        return f"MDExternalAccountBinding {eab}\nMDomain {MD_A}\n"
    h, pebble, root = md_server(conf)
    assert h.wait_served(MD_A, root), h.error_log_tail(60)
    assert [a.get("eab-kid") for a in accounts(h).values()] == ["kid-2"]


def test_eab_required_but_not_configured(md_server):
    h, pebble, root = md_server(lambda pebble: f"MDomain {MD_A}\n")
    job = wait_until(lambda: job_error(h, MD_A), SERVED_TIMEOUT_SECONDS, interval=0.25)
    assert job, h.error_log_tail(60)
    assert "MDExternalAccountBinding" in job["error"]["detail"], job
    assert job["error"]["class"] == "refused", job
    next_try = datetime.datetime.fromisoformat(job["next-try"].replace("Z", "+00:00"))
    assert next_try.timestamp() >= time.time() + REFUSED_BACKOFF_MIN_SECONDS, job
    assert "MDExternalAccountBinding" in h.error_log_text()
    # no retry loop: the error stays one error
    time.sleep(QUIET_SECONDS)
    assert job_error(h, MD_A)["errors"] == 1
    assert not accounts(h)


def test_eab_config_checked_at_configtest(workdir, md_server):
    h, pebble, root = md_server(lambda pebble: f"MDExternalAccountBinding kid-1 not+base64/\n"
                                               f"MDomain {MD_A}\n", start=False)
    rc, out = h.configtest()
    assert rc != 0
    assert "MDExternalAccountBinding" in out and "base64url" in out and "kid-1" in out, out
    missing = workdir / "later" / "eab.json"
    h.write_config(md_conf=f"MDExternalAccountBinding {missing}\nMDomain {MD_A}\n")
    rc, out = h.configtest()
    assert rc == 0, out
    assert "MDExternalAccountBinding" in out and str(missing) in out, out
    broken = workdir / "broken.json"
    broken.write_text('{"kid": "kid-1"}')
    h.write_config(md_conf=f"MDExternalAccountBinding {broken}\nMDomain {MD_A}\n")
    rc, out = h.configtest()
    assert rc != 0 and str(broken) in out and "hmac" in out, out


# ---- new terms of service --------------------------------------------------------------------

OLD_TERMS = "https://ca.example.test/terms-2025.html"
NEW_TERMS = "https://ca.example.test/terms-2026.html"
DOMAIN = "www.example.test"


def terms_problem():
    """403 userActionRequired with the new terms in a Link, as RFC 8555 7.3.3 has it."""
    problem = {"type": "urn:ietf:params:acme:error:userActionRequired",
               "detail": "new terms of service", "instance": NEW_TERMS, "status": 403}
    return (403, [("Content-Type", "application/problem+json"),
                  ("Link", f'<{NEW_TERMS}>;rel="terms-of-service"')], json.dumps(problem).encode())


@pytest.fixture
def terms_server(workdir, pebble_factory):
    """start(new_in_directory, md_agreement) -> (httpd, proxy, account, its path): an account
    registered (by a2md) under OLD_TERMS; then the CA, through our proxy, asks for agreement to
    NEW_TERMS at newOrder until the account is updated; with new_in_directory its directory
    names NEW_TERMS too. md_agreement: the MD's MDCertificateAgreement (None: accepted)."""
    made = []

    def start(new_in_directory, md_agreement=None):
        http_port, https_port = ports.free_ports(2)
        pebble = pebble_factory(sid=True, http_port=http_port, tls_port=https_port)
        proxy = CaProxy(pebble)
        terms = {"now": OLD_TERMS}

        def rewrite(method, path, answer):
            status, headers, body = answer
            if method == "GET" and path == "/dir" and status == 200:
                directory = json.loads(body)
                directory["meta"]["termsOfService"] = terms["now"]
                body = json.dumps(directory).encode()
            return status, headers, body
        proxy.rewrite = rewrite
        proxy.start()
        h = MdHttpd(workdir, ca_url=proxy.directory_url, ca_file=pebble.ca_file,
                    http_port=http_port, https_port=https_port)
        made.append((h, proxy))
        r = subprocess.run([A2MD, "-d", str(h.store_dir), "-C", str(pebble.ca_file), "-a",
                            proxy.directory_url, "-t", "accepted", "acme", "newreg",
                            "admin@example.test"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        account = r.stdout.split(": ", 1)[1].strip()
        account_path = "/" + accounts(h)[account]["url"].split("/", 3)[3]
        new_order = proxy.path_of("newOrder")
        if new_in_directory:
            terms["now"] = NEW_TERMS
        proxy.inject = lambda method, path: (
            terms_problem() if method == "POST" and path == new_order and
            not proxy.count("POST", account_path) else None)
        section = (f"<MDomain {DOMAIN}>\n  MDCertificateAgreement {md_agreement}\n</MDomain>\n"
                   if md_agreement else f"MDomain {DOMAIN}\n")
        h.write_config(md_conf="MDPrivateKeys secp256r1\nMDCAChallenges http-01\n"
                               "MDRetryDelay 1s\n" + section,
                       vhosts=h.vhost(DOMAIN),
                       extra_conf="<Location /md-status>\n  SetHandler md-status\n</Location>\n")
        h.start()
        h.root_pem = pebble.write_root(workdir / "pebble-root.pem")
        return h, proxy, account, account_path

    yield start
    for h, proxy in made:
        h.stop()
        proxy.stop()


@pytest.mark.parametrize("new_in_directory", [True, False])
def test_new_terms_agreed_when_accepted(terms_server, new_in_directory):
    h, proxy, account, account_path = terms_server(new_in_directory)
    assert h.wait_served(DOMAIN, h.root_pem), h.error_log_tail(60)
    assert proxy.count("POST", account_path) >= 1, proxy.requests
    if new_in_directory:
        assert accounts(h)[account]["agreement"] == NEW_TERMS
    assert "agreed to the terms of service" in h.error_log_text()


def test_new_terms_not_accepted_say_which(terms_server):
    h, proxy, account, account_path = terms_server(True, md_agreement=OLD_TERMS)
    job = wait_until(lambda: job_error(h, DOMAIN), SERVED_TIMEOUT_SECONDS, interval=0.25)
    assert job, h.error_log_tail(60)
    detail = job["error"]["detail"]
    assert NEW_TERMS in detail and "MDCertificateAgreement accepted" in detail, job
    assert job["error"]["class"] == "refused", job
    # nothing was agreed to on the operator's behalf
    assert proxy.count("POST", account_path) == 0, proxy.requests
    assert accounts(h)[account]["agreement"] == OLD_TERMS

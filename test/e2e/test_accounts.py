# test_accounts.py: ACME accounts as the module and a2md keep them, against pebble 2.10: external
# account binding (MDExternalAccountBinding), new terms of service, key rollover, revocation.
import base64
import datetime
import json
import secrets
import time

import pytest

from mdtest import ports
from mdtest.mdhttpd import MdHttpd, cert_dns_names
from mdtest.procs import wait_until

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


def served(h, name, root):
    def cert():
        try:
            return h.peer_cert(name, cafile=root)
        except (OSError, ValueError):
            return None
    return wait_until(cert, SERVED_TIMEOUT_SECONDS, interval=0.25)


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
        cert = served(h, name, root)
        assert cert, h.error_log_tail(60)
        assert cert_dns_names(cert) == [name]
    kids = sorted(a.get("eab-kid") for a in accounts(h).values())
    assert kids == ["kid-1", "kid-2"], accounts(h)
    # the HMAC keys are nowhere in the store's JSON
    for f in h.store_dir.rglob("*.json"):
        text = f.read_text()
        assert not any(mac in text for mac in pebble.macs.values()), f


def test_eab_from_a_json_file(workdir, md_server):
    eab = workdir / "eab.json"

    def conf(pebble):
        eab.write_text(json.dumps({"kid": "kid-2", "hmac": pebble.macs["kid-2"]}))
        eab.chmod(0o600)
        return f"MDExternalAccountBinding {eab}\nMDomain {MD_A}\n"
    h, pebble, root = md_server(conf)
    assert served(h, MD_A, root), h.error_log_tail(60)
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

# test_dns_persist.py: dns-persist-01 (draft-ietf-acme-dns-persist) against pebble 2.10 and its
# challtestsrv: one standing TXT record instead of a DNS hook, and what an operator sees when it is wrong.
import datetime
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from mdtest import ports
from mdtest.mdhttpd import MdHttpd, cert_dns_names
from mdtest.procs import wait_until

ROOT = Path(__file__).resolve().parents[2]
A2MD = os.environ.get("MDTEST_A2MD", str(ROOT / "build" / "a2md"))
BASE = "example.test"
WILD = "*.example.test"
RECORD_NAME = f"_validation-persist.{BASE}"
SERVED_TIMEOUT_SECONDS = 40.0
# a failed validation is retried an hour later at the earliest (md_retry.h: refused)
REFUSED_MIN_SECONDS = 3000
# how long the test watches that no new order follows a refusal
QUIET_SECONDS = 5.0
A2MD_TIMEOUT_SECONDS = 60
STATUS = "<Location /md-status>\n  SetHandler md-status\n</Location>\n"


@pytest.fixture
def persist_site(workdir, pebble_factory):
    """start(store_dir=None) -> (httpd, pebble): our module with MDomain example.test
    *.example.test allowed only dns-persist-01 at pebble 2.10; no MDChallengeDns01."""
    made = []
    http_port, https_port = ports.free_ports(2)
    pebble = pebble_factory(sid=True, http_port=http_port, tls_port=https_port)

    def start(store_dir=None):
        h = MdHttpd(workdir, pebble=pebble, http_port=http_port, https_port=https_port,
                    store_dir=store_dir)
        made.append(h)
        h.write_config(md_conf=f"MDPrivateKeys secp256r1\nMDCAChallenges dns-persist-01\n"
                               f"MDRetryDelay 1s\nMDomain {BASE} {WILD}\n",
                       vhosts=h.vhost([BASE, f"www.{BASE}"]), extra_conf=STATUS)
        h.start()
        return h

    yield start, pebble
    for h in made:
        h.stop()


def a2md(pebble, store, *args):
    argv = [A2MD, "-d", str(store), "-a", pebble.directory_url, "-C", str(pebble.ca_file),
            "-t", "accepted", *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=A2MD_TIMEOUT_SECONDS)


def issuer_of(pebble):
    """The issuer domain name pebble 2.10 lists in its dns-persist-01 challenges: its CAA
    identity (the operator of a real CA reads it in the CA's documentation)."""
    return pebble.directory()["meta"]["caaIdentities"][0]


def md_status(h):
    st, body = h.get(f"/md-status/{BASE}")
    assert st == 200, body
    return json.loads(body)


def account_url(h):
    """The URL of the one account in the store (what the record's accounturi must name)."""
    accounts = list((h.store_dir / "accounts").glob("*/account.json"))
    assert len(accounts) == 1, accounts
    return json.loads(accounts[0].read_text())["url"]


def test_published_record_gets_a_wildcard_certificate_without_a_dns_hook(workdir, persist_site):
    start, pebble = persist_site
    store = workdir / "md"
    # the operator prepares once: an account, the record for it, published in DNS
    assert a2md(pebble, store, "add", BASE, WILD).returncode == 0
    r = a2md(pebble, store, "acme", "newreg", "admin@example.test")
    assert r.returncode == 0, r.stderr
    account_id = r.stdout.split(": ", 1)[1].strip()
    assert a2md(pebble, store, "update", BASE, "account", account_id).returncode == 0
    r = a2md(pebble, store, "-j", "persist-record", "-i", issuer_of(pebble), BASE)
    assert r.returncode == 0, r.stderr
    records = json.loads(r.stdout)["output"][0]["records"]
    # one record serves the name and its wildcard
    assert [rec["name"] for rec in records] == [RECORD_NAME]
    value = records[0]["value"]
    assert value.endswith("; policy=wildcard") and "; accounturi=https://" in value
    pebble.set_txt(RECORD_NAME, value)

    h = start(store_dir=store)
    root = pebble.write_root(workdir / "pebble-root.pem")

    cert = h.wait_served(f"www.{BASE}", root, SERVED_TIMEOUT_SECONDS)
    assert cert, h.error_log_tail(60)
    assert set(cert_dns_names(cert)) == {BASE, WILD}
    # no hook, no answer files: the record did it, and the log names it
    assert not list((store / "challenges").glob("*")), list((store / "challenges").iterdir())
    assert f'{RECORD_NAME}. IN TXT "{value}"' in h.error_log_text()
    assert [r["value"] for r in md_status(h)["dns-persist"]["records"]] == [value]


def test_wrong_record_is_refused_and_the_error_shows_the_expected_record(persist_site):
    start, pebble = persist_site
    # a record for somebody else's account
    issuer = issuer_of(pebble)
    pebble.set_txt(RECORD_NAME, f"{issuer}; accounturi=https://127.0.0.1:1/acct/other; "
                                "policy=wildcard")
    h = start()

    def job_error():
        job = md_status(h).get("staging", {}).get("job", {})
        return job if job.get("error") else None
    job = wait_until(job_error, SERVED_TIMEOUT_SECONDS, interval=0.25)
    assert job, h.error_log_tail(60)
    asked = time.time()
    expected = f"{issuer}; accounturi={account_url(h)}; policy=wildcard"
    line = f'{RECORD_NAME}. IN TXT "{expected}"'
    # what the CA found (pebble's words), then what to publish
    assert "accounturi mismatch" in job["error"]["detail"], job
    assert f"publish the record {line}" in job["error"]["detail"], job
    assert job["error"]["class"] == "refused"
    assert parse_time(job["next-try"]) >= asked + REFUSED_MIN_SECONDS, job
    # md-status has the record to publish, the log has said it, a2md prints it
    assert md_status(h)["dns-persist"]["records"] == [{"name": RECORD_NAME, "value": expected}]
    assert line in h.error_log_text()
    r = subprocess.run([A2MD, "-d", str(h.store_dir), "persist-record", BASE], capture_output=True,
                       text=True, timeout=A2MD_TIMEOUT_SECONDS)
    assert r.returncode == 0 and line in r.stdout, r.stdout + r.stderr
    # no fast retries: the CA sees no new order (each would be a failed validation)
    orders = pebble_orders(pebble)
    time.sleep(QUIET_SECONDS)
    assert pebble_orders(pebble) == orders == 1


def pebble_orders(pebble):
    return pebble.log_file.read_text().count("Added order")


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_mdcachallenges_takes_dns_persist_globally_and_per_md(workdir):
    # manual mode and a closed port for a CA: nothing here talks to one
    h = MdHttpd(workdir, ca_url=f"https://127.0.0.1:{ports.free_port()}/dir",
                md_conf="MDRenewMode manual\nMDCAChallenges dns-persist-01\n"
                        f"MDomain {BASE} {WILD}\n<MDomainSet other.test>\n"
                        "  MDCAChallenges http-01 dns-persist-01\n</MDomainSet>\n",
                vhosts="", extra_conf=STATUS)
    h.write_config()
    rc, out = h.configtest()
    assert rc == 0, out
    h.start()
    try:
        assert h.md_json(BASE)["ca"]["challenges"] == ["dns-persist-01"]
        assert h.md_json("other.test")["ca"]["challenges"] == ["http-01", "dns-persist-01"]
        # before any attempt md-status says what it does not know yet
        persist = md_status(h)["dns-persist"]
        assert "records" not in persist and "first attempt" in persist["missing"], persist
    finally:
        h.stop()
    # a type it does not know: the message names the ones it does
    h.write_config(md_conf=f"MDCAChallenges dns-persist-02\nMDomain {BASE}\n")
    rc, out = h.configtest()
    assert rc != 0 and "dns-persist-01" in out, out

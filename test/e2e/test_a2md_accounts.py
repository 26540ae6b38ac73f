# test_a2md_accounts.py: 'a2md acme keyroll' and 'a2md revoke' against pebble 2.10: the account's
# key changes at the CA (the old one stops working), certificates get revoked with a reason.
import base64
import json
import secrets
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from mdtest import ports
from mdtest.http01 import Http01Responder
from mdtest.procs import http_get

ROOT = Path(__file__).resolve().parents[2]
A2MD = str(ROOT / "build" / "a2md")
A2MD_TIMEOUT_SECONDS = 60
NAME = "one.example.test"
REASON_KEY_COMPROMISE = 1  # RFC 5280 5.3.1


class Run:
    def __init__(self, proc):
        self.rc, self.out, self.err = proc.returncode, proc.stdout, proc.stderr

    def __repr__(self):
        return f"rc={self.rc}\nstdout:\n{self.out}\nstderr:\n{self.err}"


@pytest.fixture
def env(workdir, pebble_factory):
    """A store with one MD whose certificate came from pebble 2.10 and is installed."""
    pebble = pebble_factory(sid=True, http_port=ports.free_port())
    store = workdir / "md"
    responder = Http01Responder(store, pebble.http_port)
    responder.start()

    def a2md(*args):
        argv = [A2MD, "-d", str(store), "-C", str(pebble.ca_file), *[str(a) for a in args]]
        return Run(subprocess.run(argv, capture_output=True, text=True,
                                  timeout=A2MD_TIMEOUT_SECONDS))
    env = type("Env", (), {})()
    env.pebble, env.store, env.a2md = pebble, store, a2md
    for args in (("-a", pebble.directory_url, "-t", "accepted", "add", NAME),
                 ("update", NAME, "pkey", "secp256r1"), ("drive", NAME), ("install", NAME)):
        r = a2md(*args)
        assert r.rc == 0, r
    env.account = json.loads((store / "domains" / NAME / "md.json").read_text())["ca"]["account"]
    yield env
    responder.stop()


def cert_of(env):
    pem = (env.store / "domains" / NAME / "pubcert.secp256r1.pem").read_bytes()
    return x509.load_pem_x509_certificate(pem)


def cert_status(env, cert):
    """pebble's management view of a certificate: {"Status": "Valid"|"Revoked", "Reason"...}."""
    status, body = http_get(f"{env.pebble.mgmt_url}/cert-status-by-serial/{cert.serial_number:x}",
                            cafile=env.pebble.ca_file)
    assert status == 200, body
    return json.loads(body)


def test_keyroll_new_key_works_old_key_does_not(env):
    key_file = env.store / "accounts" / env.account / "account.pem"
    old_pem = key_file.read_bytes()
    r = env.a2md("acme", "keyroll", env.account)
    assert r.rc == 0, r
    assert key_file.read_bytes() != old_pem
    assert not (key_file.parent / "account.next.pem").exists()
    assert key_file.stat().st_mode & 0o077 == 0
    # a new order with the new key
    r = env.a2md("drive", "--reset", NAME)
    assert r.rc == 0 and f"{NAME}: staged" in r.out, r
    assert env.a2md("acme", "validate", env.account).rc == 0
    # the CA no longer knows the old key
    key_file.write_bytes(old_pem)
    r = env.a2md("acme", "validate", env.account)
    assert r.rc == 1, r
    assert "does not know account" in r.err, r


def test_keyroll_of_an_unknown_account(env):
    r = env.a2md("acme", "keyroll", "ACME-nowhere-0000")
    assert r.rc == 1 and "ACME-nowhere-0000" in r.err, r


def test_revoke_with_reason(env):
    cert = cert_of(env)
    assert cert_status(env, cert)["Status"] == "Valid"
    r = env.a2md("revoke", NAME, "--reason", "keyCompromise")
    assert r.rc == 0, r
    assert "1 certificate(s) revoked" in r.out, r
    status = cert_status(env, cert)
    assert status["Status"] == "Revoked" and status["Reason"] == REASON_KEY_COMPROMISE, status
    # once more: the CA says it is revoked already, which is what was asked for
    r = env.a2md("revoke", NAME)
    assert r.rc == 0 and "revoked already" in r.out, r


def test_revoke_refuses_a_reason_subscribers_may_not_give(env):
    r = env.a2md("revoke", NAME, "--reason", "cACompromise")
    assert r.rc == 1 and "keyCompromise" in r.err, r
    assert cert_status(env, cert_of(env))["Status"] == "Valid"


def test_revoke_of_an_md_without_certificate(env):
    r = env.a2md("-a", env.pebble.directory_url, "add", "two.example.test")
    assert r.rc == 0, r
    r = env.a2md("revoke", "two.example.test")
    assert r.rc == 1 and "two.example.test" in r.err, r


def test_drive_with_eab_file(workdir, pebble_factory):
    mac = base64.urlsafe_b64encode(secrets.token_bytes(48)).rstrip(b"=").decode()
    pebble = pebble_factory(sid=True, http_port=ports.free_port(),
                            config={"externalAccountBindingRequired": True,
                                    "externalAccountMACKeys": {"kid-7": mac}})
    store = workdir / "md"
    responder = Http01Responder(store, pebble.http_port)
    responder.start()
    try:
        def a2md(*args):
            argv = [A2MD, "-d", str(store), "-C", str(pebble.ca_file), *[str(a) for a in args]]
            return Run(subprocess.run(argv, capture_output=True, text=True,
                                      timeout=A2MD_TIMEOUT_SECONDS))
        assert a2md("-a", pebble.directory_url, "-t", "accepted", "add", NAME).rc == 0
        assert a2md("update", NAME, "pkey", "secp256r1").rc == 0
        r = a2md("drive", NAME)
        assert r.rc == 1 and "--eab-file" in r.err and "MDExternalAccountBinding" in r.err, r
        eab = workdir / "eab.json"
        eab.write_text(json.dumps({"kid": "kid-7", "hmac": mac}))
        eab.chmod(0o600)
        r = a2md("drive", "--reset", "--eab-file", eab, NAME)
        assert r.rc == 0 and f"{NAME}: staged" in r.out, r
        accounts = list((store / "accounts").iterdir())
        assert len(accounts) == 1
        assert json.loads((accounts[0] / "account.json").read_text())["eab-kid"] == "kid-7"
    finally:
        responder.stop()

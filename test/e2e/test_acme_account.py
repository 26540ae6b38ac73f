# test_acme_account.py: ACME accounts with a real pebble through 'a2md acme ...': register (terms,
# nonce trouble, external account binding), validate, update, agree, deactivate, unreachable CA.
import base64
import json
import secrets
import ssl
import stat
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from mdtest import ports

ROOT = Path(__file__).resolve().parents[2]
A2MD = str(ROOT / "build" / "a2md")
PEBBLE_TERMS = "data:text/plain,Do%20what%20thou%20wilt"
EAB_KID = "kid-1"
P256_COORD_BYTES = 32
BAD_NONCE_TRIES = 10


class Run:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    @property
    def json(self):
        return json.loads(self.out)

    @property
    def err_lines(self):
        return [ln for ln in self.err.splitlines() if ln.strip()]


def a2md(store, pebble, *args, ca_url=None):
    """Runs a2md with the store, pebble's trust file and (when given) a directory URL."""
    cmd = [A2MD, "-d", str(store), "-C", str(pebble.ca_file)]
    if ca_url:
        cmd += ["-a", ca_url]
    return Run(subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                              timeout=120))


def newreg(store, pebble, *args):
    r = a2md(store, pebble, "-t", "accepted", "acme", "newreg", *args, ca_url=pebble.directory_url)
    assert r.rc == 0, r.err
    # the bundled a2md's form, which scripts parse
    assert r.out.startswith("registered: ") and r.out.count("\n") == 1, r.out
    return r.out.split(": ", 1)[1].strip()


def account_dir(store, acct_id):
    return Path(store) / "accounts" / acct_id


def account_json(store, acct_id):
    return json.loads((account_dir(store, acct_id) / "account.json").read_text())


def account_key(store, acct_id):
    """The account key, decrypted with the store secret as any reader of the store would."""
    key = json.loads((Path(store) / "md_store.json").read_text())["key"]
    secret = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    pem = (account_dir(store, acct_id) / "account.pem").read_bytes()
    return serialization.load_pem_private_key(pem, password=secret)


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pebble_lookup(pebble, key):
    """Asks pebble itself (not through a2md) for the account of key: (HTTP status, Location, body).
    Retries pebble's random badNonce rejections."""
    for _ in range(BAD_NONCE_TRIES):
        status, location, body = _pebble_lookup_once(pebble, key)
        if body.get("type") != "urn:ietf:params:acme:error:badNonce":
            break
    return status, location, body


def _pebble_lookup_once(pebble, key):
    ctx = ssl.create_default_context(cafile=str(pebble.ca_file))
    d = pebble.directory()
    with urllib.request.urlopen(urllib.request.Request(d["newNonce"], method="HEAD"),
                                context=ctx) as r:
        nonce = r.headers["Replay-Nonce"]
    nums = key.public_key().public_numbers()
    jwk = {"crv": "P-256", "kty": "EC", "x": b64(nums.x.to_bytes(P256_COORD_BYTES, "big")),
           "y": b64(nums.y.to_bytes(P256_COORD_BYTES, "big"))}
    protected = b64(json.dumps({"alg": "ES256", "jwk": jwk, "nonce": nonce,
                                "url": d["newAccount"]}).encode())
    payload = b64(json.dumps({"onlyReturnExisting": True}).encode())
    r_s = utils.decode_dss_signature(key.sign(f"{protected}.{payload}".encode(),
                                              ec.ECDSA(hashes.SHA256())))
    sig = b64(b"".join(v.to_bytes(P256_COORD_BYTES, "big") for v in r_s))
    body = json.dumps({"protected": protected, "payload": payload, "signature": sig}).encode()
    req = urllib.request.Request(d["newAccount"], data=body, method="POST",
                                 headers={"Content-Type": "application/jose+json"})
    try:
        with urllib.request.urlopen(req, context=ctx) as r:
            return r.status, r.headers.get("Location"), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None, json.loads(e.read())


@pytest.fixture
def store(workdir):
    return workdir / "md"


def test_newreg_stores_account_pebble_knows(store, pebble):
    acct_id = newreg(store, pebble, "admin@example.org", "mailto:ops@example.org")
    assert acct_id == "ACME-127.0.0.1-0000"
    acct = account_json(store, acct_id)
    assert acct["status"] == "valid"
    assert acct["ca-url"] == pebble.directory_url
    assert acct["contact"] == ["mailto:admin@example.org", "mailto:ops@example.org"]
    assert acct["agreement"] == PEBBLE_TERMS
    assert acct["orders"].startswith("https://127.0.0.1:")
    assert acct["registration"]["status"] == "valid"
    # the key: encrypted with the store secret, readable only by the owner
    pem = account_dir(store, acct_id) / "account.pem"
    assert pem.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert stat.S_IMODE((account_dir(store, acct_id) / "account.json").stat().st_mode) & 0o077 == 0
    status, location, body = pebble_lookup(pebble, account_key(store, acct_id))
    assert status == 200, body
    assert location == acct["url"]
    assert body["contact"] == acct["contact"]
    # the next one takes the next number
    assert newreg(store, pebble, "admin@example.org") == "ACME-127.0.0.1-0001"


def test_newreg_json_output(store, pebble):
    r = a2md(store, pebble, "-j", "-t", PEBBLE_TERMS, "acme", "newreg", "admin@example.org",
             ca_url=pebble.directory_url)
    assert r.rc == 0, r.err
    out = r.json["output"]
    assert len(out) == 1
    assert out[0]["id"] == "ACME-127.0.0.1-0000"
    assert out[0]["url"] == account_json(store, out[0]["id"])["url"]


def test_newreg_without_terms_names_them(store, pebble):
    r = a2md(store, pebble, "acme", "newreg", "admin@example.org", ca_url=pebble.directory_url)
    assert r.rc == 1
    assert len(r.err_lines) == 1, r.err
    assert PEBBLE_TERMS in r.err and "MDCertificateAgreement" in r.err
    accounts = store / "accounts"
    assert not accounts.exists() or not any(accounts.iterdir())


def test_newreg_with_other_terms_refused(store, pebble):
    r = a2md(store, pebble, "-t", "https://example.org/old-terms", "acme", "newreg",
             "admin@example.org", ca_url=pebble.directory_url)
    assert r.rc == 1
    assert PEBBLE_TERMS in r.err


def test_validate_update_agree_delreg(store, pebble):
    acct_id = newreg(store, pebble, "admin@example.org")
    r = a2md(store, pebble, "acme", "validate", acct_id)
    assert r.rc == 0, r.err
    assert r.out.strip() == f"{acct_id}: valid"

    r = a2md(store, pebble, "acme", "update", acct_id, "contacts", "new@example.org",
             "mailto:other@example.org")
    assert r.rc == 0, r.err
    expected = ["mailto:new@example.org", "mailto:other@example.org"]
    assert account_json(store, acct_id)["contact"] == expected
    assert pebble_lookup(pebble, account_key(store, acct_id))[2]["contact"] == expected

    r = a2md(store, pebble, "-t", PEBBLE_TERMS, "-j", "acme", "agree", acct_id)
    assert r.rc == 0, r.err
    assert r.json["output"][0]["agreement"] == PEBBLE_TERMS

    r = a2md(store, pebble, "acme", "delreg", acct_id)
    assert r.rc == 0, r.err
    assert r.out.strip() == f"{acct_id}: deactivated"
    assert account_json(store, acct_id)["status"] == "deactivated"
    status, _, body = pebble_lookup(pebble, account_key(store, acct_id))
    assert status == 403 and "deactivated" in body["detail"]

    r = a2md(store, pebble, "acme", "validate", acct_id)
    assert r.rc == 1
    assert len(r.err_lines) == 1, r.err
    assert acct_id in r.err and "deactivated" in r.err


def test_validate_unknown_to_ca(store, pebble):
    acct_id = newreg(store, pebble, "admin@example.org")
    pebble.restart()  # pebble forgets its accounts
    r = a2md(store, pebble, "acme", "validate", acct_id)
    assert r.rc == 1
    assert len(r.err_lines) == 1, r.err
    assert "does not know account" in r.err and acct_id in r.err
    assert account_json(store, acct_id)["status"] == "valid"  # the store is left as it was


def test_validate_unknown_account_id(store, pebble):
    newreg(store, pebble, "admin@example.org")
    r = a2md(store, pebble, "acme", "validate", "ACME-nowhere-0000")
    assert r.rc == 1
    assert len(r.err_lines) == 1, r.err
    assert "ACME-nowhere-0000" in r.err


def test_unreachable_ca(store, pebble):
    url = f"https://127.0.0.1:{ports.free_port()}/dir"
    r = a2md(store, pebble, "-t", "accepted", "acme", "newreg", "admin@example.org", ca_url=url)
    assert r.rc == 1
    assert len(r.err_lines) == 1, r.err
    line = r.err_lines[0]
    assert line.startswith(f"a2md: cannot reach the ACME server at {url}: connection refused")
    assert "check the URL" in line
    assert r.out == ""


def test_newreg_survives_nonce_rejections(store, pebble_factory):
    pebble = pebble_factory(env={"PEBBLE_WFE_NONCEREJECT": "50"})
    for n in range(3):
        assert newreg(store, pebble, f"admin{n}@example.org") == f"ACME-127.0.0.1-000{n}"
        r = a2md(store, pebble, "acme", "validate", f"ACME-127.0.0.1-000{n}")
        assert r.rc == 0, r.err


@pytest.fixture
def eab_pebble(pebble_factory):
    hmac = b64(secrets.token_bytes(48))
    pebble = pebble_factory(config={"externalAccountBindingRequired": True,
                                    "externalAccountMACKeys": {EAB_KID: hmac}})
    pebble.eab_hmac = hmac
    return pebble


def test_eab_required_without_binding(store, eab_pebble):
    r = a2md(store, eab_pebble, "-t", "accepted", "acme", "newreg", "admin@example.org",
             ca_url=eab_pebble.directory_url)
    assert r.rc == 1
    assert len(r.err_lines) == 1, r.err
    assert "external account binding" in r.err and "--eab-file" in r.err
    assert "MDExternalAccountBinding" in r.err


def eab_file(store, kid, hmac, form="json"):
    """The binding in a file of the operator's (0600), as JSON or as kid:hmac."""
    path = Path(store).parent / f"eab-{form}.txt"
    text = json.dumps({"kid": kid, "hmac": hmac}) if form == "json" else f"{kid}:{hmac}\n"
    path.write_text(text)
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("form", ["json", "colon"])
def test_eab_registers_with_binding_from_file(store, eab_pebble, form):
    acct_id = newreg(store, eab_pebble, "--eab-file",
                     eab_file(store, EAB_KID, eab_pebble.eab_hmac, form), "admin@example.org")
    assert account_json(store, acct_id)["status"] == "valid"
    assert account_json(store, acct_id)["eab-kid"] == EAB_KID
    assert eab_pebble.eab_hmac not in json.dumps(account_json(store, acct_id))
    status, _, body = pebble_lookup(eab_pebble, account_key(store, acct_id))
    assert status == 200, body


def test_eab_registers_with_binding_from_stdin(store, eab_pebble):
    cmd = [A2MD, "-d", str(store), "-C", str(eab_pebble.ca_file), "-a",
           eab_pebble.directory_url, "-t", "accepted", "acme", "newreg", "--eab-file", "-",
           "admin@example.org"]
    r = subprocess.run(cmd, input=f"{EAB_KID}:{eab_pebble.eab_hmac}", capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    acct_id = r.stdout.split(": ", 1)[1].strip()
    status, _, body = pebble_lookup(eab_pebble, account_key(store, acct_id))
    assert status == 200, body


def test_eab_on_the_command_line_is_refused(store, eab_pebble):
    r = a2md(store, eab_pebble, "-t", "accepted", "acme", "newreg", "-e",
             f"{EAB_KID}:{eab_pebble.eab_hmac}", "admin@example.org",
             ca_url=eab_pebble.directory_url)
    assert r.rc == 1
    assert "--eab-file" in r.err and eab_pebble.eab_hmac not in r.err
    accounts = Path(store) / "accounts"
    assert not accounts.exists() or not list(accounts.iterdir())


def test_eab_wrong_hmac_refused(store, eab_pebble):
    wrong = b64(secrets.token_bytes(48))
    r = a2md(store, eab_pebble, "-t", "accepted", "acme", "newreg", "--eab-file",
             eab_file(store, EAB_KID, wrong), "admin@example.org",
             ca_url=eab_pebble.directory_url)
    assert r.rc == 1
    assert len(r.err_lines) == 1, r.err
    assert "registering a new account" in r.err and eab_pebble.directory_url in r.err


def test_eab_file_not_base64url_refused(store, eab_pebble):
    r = a2md(store, eab_pebble, "-t", "accepted", "acme", "newreg", "--eab-file",
             eab_file(store, EAB_KID, "not+base64/"), "admin@example.org",
             ca_url=eab_pebble.directory_url)
    assert r.rc == 1
    assert "base64url" in r.err and EAB_KID in r.err

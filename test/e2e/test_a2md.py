# test_a2md.py: a2md's offline commands as an operator and a script use them -- add, update,
# list, remove, store -- with their text/JSON output, exit codes and one-line errors.
import datetime
import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
A2MD = str(ROOT / "build" / "a2md")


class Run:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    @property
    def json(self):
        return json.loads(self.out)


def a2md(*args, store=None):
    cmd = [A2MD] + (["-d", str(store)] if store else []) + [str(a) for a in args]
    return Run(subprocess.run(cmd, capture_output=True, text=True, timeout=60))


@pytest.fixture
def store(tmp_path):
    return tmp_path / "md"


def md_list(store, *names):
    r = a2md("-j", "list", *names, store=store)
    assert r.rc == 0, r.err
    return {m["name"]: m for m in r.json["output"]}


def one_error_line(r):
    lines = [ln for ln in r.err.splitlines() if ln.strip()]
    assert len(lines) == 1, r.err
    return lines[0]


def make_cert(names, days_valid=90, days_ago=1, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=days_ago))
            .not_valid_after(now - datetime.timedelta(days=days_ago) + datetime.timedelta(days=days_valid))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .sign(key, hashes.SHA256()))
    return key, cert


def install_cert(store, name, key, cert, suffix=".secp256r1"):
    """Puts a certificate and its key where the MD's key spec (EC P-256 by default) wants them."""
    d = store / "domains" / name
    (d / f"pubcert{suffix}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    (d / f"privkey{suffix}.pem").write_bytes(pem)
    os.chmod(d / f"privkey{suffix}.pem", 0o600)


def add_ec(store, *names):
    assert a2md("add", *names, store=store).rc == 0
    assert a2md("update", names[0], "pkey", "secp256r1", store=store).rc == 0


# ---- add / list ----

def test_add_then_list_shows_the_md(store):
    r = a2md("add", "example.org", "www.example.org", store=store)
    assert r.rc == 0, r.err
    assert "example.org" in r.out
    mds = md_list(store)
    assert list(mds) == ["example.org"]
    md = mds["example.org"]
    assert md["domains"] == ["example.org", "www.example.org"]
    assert md["state-name"] == "incomplete"
    assert md["renew-mode-name"] == "auto"
    assert md["renew-window"] == "33%"
    assert md["certificates"][0]["key"] == "rsa2048"
    assert md["certificates"][0]["present"] is False


def test_add_creates_a_store_with_safe_permissions(store):
    assert a2md("add", "example.org", store=store).rc == 0
    st = os.stat(store / "md_store.json")
    assert stat.S_IMODE(st.st_mode) == 0o600
    secret = json.loads((store / "md_store.json").read_text())
    assert secret["key"] and secret["store"]["version"] == 3.0
    for group in ("accounts", "domains", "staging", "archive"):
        mode = stat.S_IMODE(os.stat(store / group).st_mode)
        assert mode & 0o077 == 0, f"{group} is open to others: {oct(mode)}"
    md = json.loads((store / "domains" / "example.org" / "md.json").read_text())
    assert md["name"] == "example.org" and md["domains"] == ["example.org"]


def test_add_refuses_more_names_than_a_certificate_holds(store):
    names = [f"n{i}.example.org" for i in range(101)]
    r = a2md("add", *names, store=store)
    assert r.rc == 1 and "101 names" in one_error_line(r) and "split it" in r.err, r.err
    assert not (store / "domains" / "n0.example.org").exists()
    assert a2md("add", *names[:100], store=store).rc == 0


def test_add_normalises_names_and_takes_ca_and_terms(store):
    r = a2md("-a", "https://acme.example.net/dir", "-t", "accepted", "add", "Example.ORG",
             "WWW.example.org", "example.org", store=store)
    assert r.rc == 0, r.err
    md = md_list(store)["example.org"]
    assert md["domains"] == ["example.org", "www.example.org"]
    assert md["ca"]["urls"] == ["https://acme.example.net/dir"]
    assert md["ca"]["agreement"] == "accepted"
    # md.json as the bundled module reads it: incomplete (1, not "unknown" 0), the CA in "url"
    stored = json.loads((store / "domains" / "example.org" / "md.json").read_text())
    assert stored["state"] == 1 and stored["renew-mode"] == 1
    assert stored["ca"]["url"] == "https://acme.example.net/dir"


def test_add_wildcard_and_idn(store):
    assert a2md("add", "*.example.org", "xn--mnchen-3ya.de", store=store).rc == 0
    assert md_list(store)["*.example.org"]["domains"] == ["*.example.org", "xn--mnchen-3ya.de"]


@pytest.mark.parametrize("bad, why", [
    ("exa mple.org", "not allowed"),
    ("-example.org", "-"),
    ("www.*.example.org", "*"),
    ("example..org", ""),
    ("localhost", ""),
    ("a" * 64 + ".org", "63"),
    ("münchen.de", "xn--"),
])
def test_add_invalid_name_fails_clearly_and_creates_nothing(store, bad, why):
    r = a2md("add", bad, store=store)
    assert r.rc != 0
    line = one_error_line(r)
    assert why in line
    assert not store.exists()


def test_add_overlap_names_the_md_that_has_it(store):
    assert a2md("add", "example.org", "www.example.org", store=store).rc == 0
    r = a2md("add", "www.example.org", "shop.example.org", store=store)
    assert r.rc == 1
    line = one_error_line(r)
    assert "www.example.org" in line and "'example.org'" in line
    assert list(md_list(store)) == ["example.org"]


def test_add_same_name_twice_refused(store):
    assert a2md("add", "example.org", store=store).rc == 0
    r = a2md("add", "example.org", store=store)
    assert r.rc == 1 and "example.org" in one_error_line(r)


def test_list_text_output_for_people(store):
    a2md("add", "example.org", "www.example.org", store=store)
    r = a2md("list", store=store)
    assert r.rc == 0
    assert "example.org  incomplete  [example.org www.example.org]" in r.out
    assert "rsa2048: certificate is missing" in r.out


def test_list_named_and_unknown(store):
    a2md("add", "a.example.org", store=store)
    a2md("add", "b.example.org", store=store)
    assert list(md_list(store, "b.example.org")) == ["b.example.org"]
    r = a2md("list", "c.example.org", store=store)
    assert r.rc == 1 and "c.example.org" in one_error_line(r)


def test_list_sorted_by_name(store):
    for n in ("zz.example.org", "aa.example.org", "mm.example.org"):
        assert a2md("add", n, store=store).rc == 0
    assert list(md_list(store)) == ["aa.example.org", "mm.example.org", "zz.example.org"]


# ---- states from certificates ----

def test_state_complete_with_valid_cert(store):
    add_ec(store, "example.org", "www.example.org")
    key, cert = make_cert(["example.org", "www.example.org"])
    install_cert(store, "example.org", key, cert)
    md = md_list(store)["example.org"]
    assert md["state-name"] == "complete", md
    c = md["certificates"][0]
    assert c["key"] == "secp256r1" and c["present"]
    assert sorted(c["names"]) == ["example.org", "www.example.org"]
    until = datetime.datetime.fromisoformat(c["valid-until"].replace("Z", "+00:00"))
    assert abs((until - cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)).total_seconds()) < 2
    assert int(c["serial"], 16) == cert.serial_number
    # 33% of 90 days before the end
    renew = datetime.datetime.fromisoformat(c["renew-at"].replace("Z", "+00:00"))
    assert abs((until - renew).total_seconds() - 0.33 * 90 * 86400) < 2


def test_state_expired(store):
    add_ec(store, "example.org")
    key, cert = make_cert(["example.org"], days_valid=10, days_ago=20)
    install_cert(store, "example.org", key, cert)
    md = md_list(store)["example.org"]
    assert md["state-name"] == "expired"
    assert "expired" in md["state-descr"]


def test_state_error_when_key_does_not_match(store):
    add_ec(store, "example.org")
    _, cert = make_cert(["example.org"])
    install_cert(store, "example.org", ec.generate_private_key(ec.SECP256R1()), cert)
    md = md_list(store)["example.org"]
    assert md["state-name"] == "error"
    assert "does not match" in md["state-descr"]


def test_state_incomplete_when_a_name_was_added(store):
    add_ec(store, "example.org")
    key, cert = make_cert(["example.org"])
    install_cert(store, "example.org", key, cert)
    assert md_list(store)["example.org"]["state-name"] == "complete"
    assert a2md("update", "example.org", "domains", "example.org", "new.example.org",
                store=store).rc == 0
    md = md_list(store)["example.org"]
    assert md["state-name"] == "incomplete"
    assert "does not cover" in md["state-descr"]


# ---- update ----

def test_update_aspects(store):
    a2md("add", "example.org", store=store)
    for args in (["domains", "example.org", "www.example.org"],
                 ["ca", "https://ca.example.net/directory", "ACME"],
                 ["contacts", "admin@example.org", "mailto:ops@example.org"],
                 ["agreement", "https://ca.example.net/tos.pdf"],
                 ["account", "ACME-ca.example.net-0000"],
                 ["pkey", "secp384r1", "RSA", "3072"],
                 ["renew-window", "14d"],
                 ["renew-mode", "manual"]):
        r = a2md("update", "example.org", *args, store=store)
        assert r.rc == 0, (args, r.err)
    md = md_list(store)["example.org"]
    assert md["domains"] == ["example.org", "www.example.org"]
    assert md["ca"]["urls"] == ["https://ca.example.net/directory"]
    assert md["contacts"] == ["mailto:admin@example.org", "mailto:ops@example.org"]
    assert md["ca"]["agreement"] == "https://ca.example.net/tos.pdf"
    assert md["ca"]["account"] == "ACME-ca.example.net-0000"
    assert md["privkey"] == [{"type": "EC", "curve": "secp384r1"}, {"type": "RSA", "bits": 3072}]
    assert a2md("update", "example.org", "pkey", "P-256", store=store).rc == 0
    assert md_list(store)["example.org"]["privkey"] == {"type": "EC", "curve": "secp256r1"}
    assert [c["key"] for c in md["certificates"]] == ["secp384r1", "rsa3072"]
    assert md["renew-window"] == "14d"
    assert md["renew-mode-name"] == "manual"


def test_update_preferred_chain(store):
    a2md("add", "example.org", store=store)
    r = a2md("update", "example.org", "preferred-chain", "ISRG Root X1", store=store)
    assert r.rc == 0, r.err
    assert md_list(store)["example.org"]["preferred-chain"] == "ISRG Root X1"
    r = a2md("update", "example.org", "preferred-chain", "A", "B", store=store)
    assert r.rc == 1 and "one root name" in one_error_line(r)
    assert a2md("update", "example.org", "preferred-chain", store=store).rc == 0
    assert "preferred-chain" not in md_list(store)["example.org"]


@pytest.mark.parametrize("args, why", [
    (["colour", "blue"], "unknown aspect"),
    (["pkey", "DSA"], "DSA"),
    (["pkey", "RSA", "1024"], "2048"),
    (["renew-window", "eleventy"], "eleventy"),
    (["renew-window", "120%"], "120%"),
    (["renew-mode", "sometimes"], "auto, manual or always"),
    (["contacts", "nobody"], "nobody"),
    (["ca", "https://x.example/dir", "SCEP"], "SCEP"),
])
def test_update_bad_values_change_nothing(store, args, why):
    a2md("add", "example.org", store=store)
    before = (store / "domains" / "example.org" / "md.json").read_bytes()
    r = a2md("update", "example.org", *args, store=store)
    assert r.rc == 1
    assert why in one_error_line(r)
    assert (store / "domains" / "example.org" / "md.json").read_bytes() == before


def test_update_profile(store):
    a2md("add", "example.org", store=store)
    assert a2md("update", "example.org", "profile", "shortlived", "mandatory", store=store).rc == 0
    md = md_list(store)["example.org"]
    assert (md["profile"], md["profile-mandatory"]) == ("shortlived", True)
    assert a2md("update", "example.org", "profile", "tlsserver", store=store).rc == 0
    md = md_list(store)["example.org"]
    assert (md["profile"], md["profile-mandatory"]) == ("tlsserver", False)
    assert a2md("update", "example.org", "profile", "none", store=store).rc == 0
    assert "profile" not in md_list(store)["example.org"]
    r = a2md("update", "example.org", "profile", "short lived", store=store)
    assert r.rc == 1 and "profile name" in one_error_line(r)


def test_update_domains_overlap_refused(store):
    a2md("add", "example.org", store=store)
    a2md("add", "shop.example.org", store=store)
    r = a2md("update", "example.org", "domains", "example.org", "shop.example.org", store=store)
    assert r.rc == 1 and "'shop.example.org'" in one_error_line(r)


def test_update_unknown_md(store):
    a2md("add", "example.org", store=store)
    r = a2md("update", "nope.example.org", "renew-window", "10d", store=store)
    assert r.rc == 1 and "nope.example.org" in one_error_line(r)


# ---- remove ----

def test_remove_archives_the_md(store):
    add_ec(store, "example.org")
    key, cert = make_cert(["example.org"])
    install_cert(store, "example.org", key, cert)
    r = a2md("-j", "remove", "example.org", store=store)
    assert r.rc == 0, r.err
    assert r.json["output"][0]["archived"] == "example.org.1"
    assert md_list(store) == {}
    archived = store / "archive" / "example.org.1"
    assert (archived / "pubcert.secp256r1.pem").read_bytes() == cert.public_bytes(
        serialization.Encoding.PEM)
    assert stat.S_IMODE(os.stat(archived / "privkey.secp256r1.pem").st_mode) == 0o600
    # the name is free again, and a second removal archives under the next number
    assert a2md("add", "example.org", store=store).rc == 0
    assert a2md("-j", "remove", "example.org", store=store).json["output"][0]["archived"] == "example.org.2"


def test_remove_unknown(store):
    a2md("add", "example.org", store=store)
    r = a2md("remove", "other.example.org", store=store)
    assert r.rc == 1 and "other.example.org" in one_error_line(r)


# ---- store ----

def test_store_groups(store):
    a2md("add", "example.org", store=store)
    a2md("add", "b.example.org", store=store)
    a2md("remove", "b.example.org", store=store)
    r = a2md("-j", "store", "groups", store=store)
    assert r.rc == 0, r.err
    groups = {g["group"]: g["entries"] for g in r.json["output"]}
    assert groups["domains"] == ["example.org"]
    assert groups["archive"] == ["b.example.org.1"]
    assert groups["accounts"] == []
    r = a2md("store", "groups", "domains", store=store)
    assert r.out.splitlines() == ["domains:", "  example.org"]
    r = a2md("store", "groups", "nonsense", store=store)
    assert r.rc == 1 and "nonsense" in one_error_line(r)


def test_store_list_and_update_as_the_bundled_a2md_names_them(store):
    a2md("add", "example.org", store=store)
    a2md("add", "b.example.org", store=store)
    r = a2md("-j", "store", "list", store=store)
    assert r.rc == 0, r.err
    assert [m["name"] for m in r.json["output"]] == ["b.example.org", "example.org"]
    r = a2md("store", "update", "example.org", "renew-window", "20d", store=store)
    assert r.rc == 0, r.err
    assert md_list(store)["example.org"]["renew-window"] == "20d"


def test_store_add_and_remove_force(store):
    assert a2md("store", "add", "example.org", store=store).rc == 0
    assert list(md_list(store)) == ["example.org"]
    r = a2md("store", "remove", "-f", "example.org", store=store)
    assert r.rc == 0, r.err
    assert not (store / "domains" / "example.org").exists()
    assert not (store / "archive" / "example.org.1").exists()


def test_store_check_reports_a_corrupt_file(store):
    a2md("add", "example.org", store=store)
    assert a2md("store", "check", store=store).rc == 0
    (store / "domains" / "example.org" / "pubcert.pem").write_text("-----BEGIN CERTIFICATE-----\nnope\n")
    r = a2md("store", "check", store=store)
    assert r.rc == 1
    assert "domains/example.org/pubcert.pem" in r.err


# ---- failures every command shares ----

def test_corrupt_md_json_named_and_left_alone(store):
    a2md("add", "example.org", store=store)
    path = store / "domains" / "example.org" / "md.json"
    path.write_text('{"name": "example.org", "domains": [')
    before = path.read_bytes()
    for args in (["list"], ["update", "example.org", "renew-window", "10d"],
                 ["add", "other.example.org"], ["remove", "example.org"]):
        r = a2md(*args, store=store)
        assert r.rc == 1, args
        line = one_error_line(r)
        assert str(path) in line, line
    assert path.read_bytes() == before


def test_corrupt_store_json(store):
    a2md("add", "example.org", store=store)
    path = store / "md_store.json"
    path.write_text("{broken")
    r = a2md("list", store=store)
    assert r.rc == 1 and "md_store.json" in one_error_line(r)
    assert path.read_text() == "{broken"


def test_missing_store(tmp_path):
    r = a2md("list", store=tmp_path / "nothing")
    assert r.rc == 1
    assert "no store at" in one_error_line(r)
    assert not (tmp_path / "nothing").exists()


def test_no_store_option():
    r = a2md("list")
    assert r.rc == 1 and "-d" in one_error_line(r)


def test_unknown_command_and_option(store):
    r = a2md("frobnicate", store=store)
    assert r.rc == 1 and "frobnicate" in one_error_line(r)
    r = a2md("--frob", "list", store=store)
    assert r.rc == 1 and "--frob" in one_error_line(r)
    r = a2md("store", "frob", store=store)
    assert r.rc == 1 and "frob" in one_error_line(r)


def test_help_and_version():
    r = a2md("--help")
    assert r.rc == 0
    for word in ("--acme", "--dir", "--json", "--terms", "add", "update", "list", "remove", "store"):
        assert word in r.out
    r = a2md("-V")
    # the bundled a2md's form, which scripts parse
    assert r.rc == 0 and re.fullmatch(r"version: \d+\.\d+\.\d+\n", r.out), r.out


def test_invalid_ca_url_fails_and_adds_nothing(store):
    for url in ("notaurl", "ftp://ca.example.net/dir"):
        r = a2md("-a", url, "add", "x.example.org", store=store)
        assert r.rc == 1 and url in one_error_line(r), r.err
    assert not (store / "domains" / "x.example.org").exists()

# test_a2md_bundled.py: a store made by Debian's bundled mod_md (real pebble, real apache2) is
# read by a2md: its MDs, certificates, keys and encrypted account, without changing it.
import hashlib
import shutil

import pytest
from cryptography import x509

from test_a2md import a2md, one_error_line


@pytest.fixture
def store(bundled_store, workdir):
    """A private copy of the bundled store (the original is shared by the session)."""
    copy = workdir / "md"
    shutil.copytree(bundled_store.store_dir, copy, symlinks=True)
    return copy


def snapshot(d):
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


def test_list_shows_the_bundled_mds_complete(bundled_store, store):
    r = a2md("-j", "list", store=store)
    assert r.rc == 0, r.err
    mds = {m["name"]: m for m in r.json["output"]}
    assert set(mds) == set(bundled_store.mds)
    for name, names in bundled_store.mds.items():
        md = mds[name]
        assert md["domains"] == names
        assert md["state-name"] == "complete", md.get("state-descr")
        certs = md["certificates"]
        assert len(certs) == 1 and certs[0]["present"]
        assert sorted(certs[0]["names"]) == sorted(names)
        assert "Pebble" in certs[0]["issuer"]
        pem = next((store / "domains" / name).glob("pubcert*.pem")).read_bytes()
        leaf = x509.load_pem_x509_certificate(pem)
        assert int(certs[0]["serial"], 16) == leaf.serial_number
    # the EC MD's key spec is read from the bundled module's single-object "privkey" form
    ec_md = next(n for n, spec in bundled_store.key_specs.items() if spec != "rsa")
    assert mds[ec_md]["certificates"][0]["key"] == bundled_store.key_specs[ec_md]
    rsa_md = next(n for n, spec in bundled_store.key_specs.items() if spec == "rsa")
    assert mds[rsa_md]["certificates"][0]["key"] == "rsa2048"
    assert mds[rsa_md]["ca"]["urls"] == [bundled_store.pebble.directory_url]


def test_store_check_decrypts_the_account_key_and_reads_everything(store):
    before = snapshot(store)
    r = a2md("store", "check", store=store)
    assert r.rc == 0, r.err
    assert "0 problems" in r.out
    assert snapshot(store) == before


def test_store_check_notices_a_wrong_secret(store):
    import json
    meta = json.loads((store / "md_store.json").read_text())
    meta["key"] = "A" * 64  # another 48-byte secret: the account key no longer decrypts
    (store / "md_store.json").write_text(json.dumps(meta))
    r = a2md("store", "check", store=store)
    assert r.rc == 1
    assert "account.pem" in r.err


def test_store_accounts_lists_the_account(bundled_store, store):
    r = a2md("-j", "store", "accounts", store=store)
    assert r.rc == 0, r.err
    accounts = r.json["output"]
    assert len(accounts) == 1
    acct = accounts[0]
    assert acct["status"] == "valid"
    assert acct["ca-url"] == bundled_store.pebble.directory_url
    assert acct["contact"] == ["mailto:admin@example.org"]
    assert acct["id"].startswith("ACME-")
    r = a2md("store", "accounts", store=store)
    assert acct["id"] in r.out and "valid" in r.out


def test_reading_does_not_change_the_store(store):
    before = snapshot(store)
    for args in (["list"], ["-j", "list"], ["store", "list"], ["store", "accounts"]):
        assert a2md(*args, store=store).rc == 0
    assert snapshot(store) == before


def test_bundled_store_takes_our_commands(bundled_store, store):
    """An operator can keep managing a taken-over store with a2md."""
    rsa_md = next(n for n, spec in bundled_store.key_specs.items() if spec == "rsa")
    r = a2md("add", f"www.{rsa_md}", store=store)
    assert r.rc == 1 and f"'{rsa_md}'" in one_error_line(r)
    assert a2md("update", rsa_md, "renew-window", "20d", store=store).rc == 0
    r = a2md("-j", "list", rsa_md, store=store)
    md = r.json["output"][0]
    assert md["renew-window"] == "20d" and md["state-name"] == "complete"
    assert md["ca"]["account"].startswith("ACME-")

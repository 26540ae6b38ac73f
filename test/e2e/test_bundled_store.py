# test_bundled_store.py: checks that the bundled_store fixture (Debian's mod_md) made what it promises.
# Later take-over tests rely on these files: account, domains/<md>/ keys and chains for both key types.

import json

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key


PEM_END = b"-----END CERTIFICATE-----"


def _chain(pem_bytes):
    """All certificates of a PEM file in order (cryptography 38 has no multi-cert loader)."""
    parts = [p + PEM_END for p in pem_bytes.split(PEM_END) if b"-----BEGIN" in p]
    return [x509.load_pem_x509_certificate(p.strip()) for p in parts]


def _names(cert):
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(san.get_values_for_type(x509.DNSName))


def test_store_has_account_and_store_json(bundled_store):
    store = bundled_store.store_dir
    store_json = json.loads((store / "md_store.json").read_text())
    assert "key" in store_json
    accounts = list((store / "accounts").glob("*/account.json"))
    assert len(accounts) == 1
    account = json.loads(accounts[0].read_text())
    assert account["url"].startswith(bundled_store.pebble.directory_url.rsplit("/", 1)[0])
    assert (accounts[0].parent / "account.pem").read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY")


def test_domains_have_certs_for_their_names(bundled_store):
    store = bundled_store.store_dir
    root = x509.load_pem_x509_certificate(bundled_store.root_pem.encode())
    for first, names in bundled_store.mds.items():
        spec = bundled_store.key_specs[first]
        suffix = "" if spec == "rsa" else f".{spec}"
        d = store / "domains" / first
        md = json.loads((d / "md.json").read_text())
        assert sorted(md["domains"]) == sorted(names)
        chain = _chain((d / f"pubcert{suffix}.pem").read_bytes())
        assert len(chain) >= 2
        assert _names(chain[0]) == sorted(names)
        assert chain[-1].issuer == root.subject
        key = load_pem_private_key((d / f"privkey{suffix}.pem").read_bytes(), password=None)
        assert key.public_key().public_numbers() == chain[0].public_key().public_numbers()
        if spec == "rsa":
            assert isinstance(key, rsa.RSAPrivateKey)
        else:
            assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == spec


def test_nothing_left_in_staging(bundled_store):
    staging = bundled_store.store_dir / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []

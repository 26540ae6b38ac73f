# test_module_config.py: the module's directives and startup -- configtest errors with file:line,
# MDs synced into the store with merged settings, fallback and existing certificates served over TLS.

import datetime
import json
import os
import pwd

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from mdtest import ports
from mdtest.mdhttpd import MOD_MD_PATH, MdHttpd, cert_dns_names

pytestmark = pytest.mark.skipif(not MOD_MD_PATH.exists(), reason=f"{MOD_MD_PATH} not built")

# No test here is about talking to a CA: MDs stay in manual mode unless a test says otherwise,
# and the CA is a closed port, so nothing reaches the network.
QUIET = "MDRenewMode manual\n"


@pytest.fixture
def md_httpd(workdir):
    """make(**MdHttpd kwargs) -> MdHttpd with an unreachable CA; all stopped after the test."""
    made = []

    def make(**kwargs):
        kwargs.setdefault("ca_url", f"https://127.0.0.1:{ports.free_port()}/dir")
        h = MdHttpd(workdir, name=f"httpd{len(made)}", **kwargs)
        made.append(h)
        return h

    yield make
    for h in made:
        h.stop()


# --- configtest: errors name file and line, and what to write instead --------------------------

BAD_CONFIGS = [
    # (id, md_conf, text of the bad line, expected words in the message)
    ("invalid-name", "MDomain example.org exa_mple.org\n", "exa_mple.org", ["exa_mple.org"]),
    ("name-in-two-mds", "MDomain a.example.org b.example.org\nMDomain c.example.org b.example.org\n",
     "MDomain c.example.org", ["b.example.org", "already part of MD a.example.org", "httpd.conf:"]),
    ("name-in-two-mds-section", "MDomain a.example.org\n<MDomainSet c.example.org>\n"
     "  MDMember a.example.org\n</MDomainSet>\n", "MDMember a.example.org",
     ["a.example.org", "already part of MD a.example.org"]),
    ("pkey-word", "MDPrivateKeys RSA ed448\n", "MDPrivateKeys", ["ed448"]),
    ("renew-window", "MDRenewWindow soon\n", "MDRenewWindow", ["MDRenewWindow", "21d", "33%"]),
    ("protocol", "MDCertificateProtocol EST\n", "MDCertificateProtocol", ["EST", "ACME"]),
    ("require-https", "MDRequireHttps always\n", "MDRequireHttps",
     ["always", "off, temporary or permanent"]),
    ("renew-mode", "MDRenewMode sometimes\n", "MDRenewMode sometimes", ["auto, manual or always"]),
    ("ca-word", "MDCertificateAuthority letsencrypt-staging\n",
     "MDCertificateAuthority letsencrypt-staging",
     ["letsencrypt-staging", "letsencrypt-test"]),
    ("port-map", "MDPortMap http:eighty\n", "MDPortMap http:eighty", ["http:eighty", "http:PORT"]),
    ("challenge", "MDCAChallenges http-01 tls-sni-01\n", "MDCAChallenges", ["tls-sni-01"]),
    ("preferred-chain-unquoted", "MDPreferredChain ISRG Root X1\n", "MDPreferredChain",
     ["MDPreferredChain", "quote a name with spaces"]),
    ("global-in-section", "<MDomainSet a.example.org>\n  MDStoreDir /tmp/x\n</MDomainSet>\n",
     "MDStoreDir /tmp/x", ["applies to all MDs", "move it outside"]),
    ("cert-file-outside-section", "MDCertificateFile /etc/hostname\n", "MDCertificateFile",
     ["only allowed inside an MD section"]),
    ("foreign-directive-in-section", "<MDomainSet a.example.org>\n  ServerAdmin x@example.org\n"
     "</MDomainSet>\n", "ServerAdmin x@", ["ServerAdmin", "not allowed inside the section"]),
    ("contact", "MDContactEmail webmaster\n", "MDContactEmail", ["not an email address"]),
    ("members-outside", "MDMembers www.example.org\n", "MDMembers", ["auto", "manual"]),
    ("too-many-names", "MDomain " + " ".join(f"n{i}.example.org" for i in range(101)) + "\n",
     "MDomain n0.example.org", ["more than 100 names", "split it into MDs"]),
    ("pkey-default-with-others", "MDPrivateKeys Default secp256r1\n", "MDPrivateKeys",
     ["'Default' stands alone"]),
]


@pytest.mark.parametrize("md_conf,bad_line,words", [c[1:] for c in BAD_CONFIGS],
                         ids=[c[0] for c in BAD_CONFIGS])
def test_configtest_names_file_line_and_fix(md_httpd, md_conf, bad_line, words):
    h = md_httpd(md_conf=md_conf)
    h.write_config()
    rc, out = h.configtest()
    assert rc != 0, out
    assert f"line {h.conf_line_of(bad_line)} of {h.conf_path}" in out, out
    for word in words:
        assert word in out, out


def test_vhost_with_names_in_two_mds_stops_configtest_and_start(md_httpd):
    h = md_httpd(md_conf=QUIET + "MDomain a.example.org\nMDomain b.example.org\n")
    h.write_config(vhosts=h.vhost(["a.example.org", "b.example.org"]))
    rc, out = h.configtest()
    assert rc != 0, out
    line = h.conf_line_of("<VirtualHost")
    assert f"vhost a.example.org ({h.conf_path}:{line}) has names in two MDs" in out, out
    assert "MD a.example.org" in out and "MD b.example.org" in out, out
    with pytest.raises(RuntimeError, match="has names in two MDs"):
        h.start()
    assert not h.running()


def test_an_md_of_100_names_keeps_every_one(md_httpd):
    # httpd hands a directive of many arguments only its first 64: none may be lost
    names = [f"n{i}.example.org" for i in range(100)]
    h = md_httpd(md_conf=QUIET + "MDomain " + " ".join(names[:70]) + "\n"
                 "<MDomain x.example.org>\n  MDMember " + " ".join(names[70:]) + "\n</MDomain>\n")
    h.write_config(vhosts=h.vhost("n0.example.org") + h.vhost("x.example.org"))
    h.start()
    assert h.md_json("n0.example.org")["domains"] == names[:70]
    assert h.md_json("x.example.org")["domains"] == ["x.example.org"] + names[70:]


def test_match_names_servernames_matches_a_vhost_by_its_servername_only(md_httpd):
    # an alias that is another MD's name: a conflict while aliases find MDs, not with servernames
    h = md_httpd(md_conf=QUIET + "MDMembers manual\nMDMatchNames servernames\n"
                 "MDomain a.example.org\nMDomain b.example.org\n")
    h.write_config(vhosts=h.vhost(["a.example.org", "b.example.org"]) + h.vhost("b.example.org"))
    rc, out = h.configtest()
    assert rc == 0, out
    h.start()
    assert h.md_json("a.example.org")["domains"] == ["a.example.org"]
    assert h.md_json("b.example.org")["domains"] == ["b.example.org"]
    # the vhost a.example.org presents a's certificate (its fallback for now)
    assert set(cert_dns_names(h.peer_cert("a.example.org"))) == {"a.example.org"}


def test_files_that_come_later_are_warned_about_not_refused(md_httpd, workdir):
    # deployment tools often write the config first and install what it names afterwards
    later = workdir / "not-yet"
    h = md_httpd(md_conf=QUIET + f"MDCACertificateFile {later}/ca.pem\n"
                 f"MDChallengeDns01 {later}/dns01.sh\nMDHttpProxyCACertificateFile {later}/p.pem\n"
                 "MDomain a.example.org\n")
    h.write_config(vhosts=h.vhost("a.example.org"))
    rc, out = h.configtest()
    assert rc == 0, out
    for name in ("ca.pem", "dns01.sh", "p.pem"):
        line = h.conf_line_of(f"{later}/{name}")
        assert f"{h.conf_path}:{line}: " in out and f"{later}/{name} does not exist" in out, out


def test_bundled_module_syntax_is_understood(md_httpd):
    """What configs written for the bundled module say: MDomain inside a vhost, CA names,
    MDPrivateKeys Default (inside an MD, against a global key type), MDHttpProxy per MD."""
    h = md_httpd(md_conf=QUIET + "MDPrivateKeys secp256r1\n"
                 "<MDomain b.example.org>\n  MDPrivateKeys Default\n"
                 "  MDCertificateAuthority buypass-test\n"
                 "  MDHttpProxy http://proxy.example.org:3128\n</MDomain>\n")
    h.write_config(vhosts=h.vhost("a.example.org", extra="MDomain a.example.org") +
                   h.vhost("b.example.org"))
    rc, out = h.configtest()
    assert rc == 0, out
    h.start()
    a, b = h.md_json("a.example.org"), h.md_json("b.example.org")
    assert a["domains"] == ["a.example.org"]
    assert a["privkey"] == {"type": "EC", "curve": "secp256r1"}
    assert "privkey" not in b  # the default: RSA 2048
    assert b["ca"]["urls"] == ["https://api.test4.buypass.no/acme/directory"]
    # the vhost uses the MD defined inside it
    assert set(cert_dns_names(h.peer_cert("a.example.org"))) == {"a.example.org"}


def test_transitive_alias_claimed_by_two_mds_is_an_error(md_httpd):
    h = md_httpd(md_conf=QUIET + "MDomain a.example.org\nMDomain b.example.org\n")
    h.write_config(vhosts=h.vhost(["a.example.org", "shared.example.org"]) +
                   h.vhost(["b.example.org", "shared.example.org"]))
    rc, out = h.configtest()
    assert rc != 0, out
    assert "shared.example.org" in out and "MDMembers manual" in out, out


# --- startup: the store follows the configuration -----------------------------------------------

MERGED_CONF = QUIET + """MDPrivateKeys secp256r1 RSA 3072
MDRenewWindow 30d
MDContactEmail admin@example.net
MDomain a.example.org www.a.example.org
<MDomainSet b.example.org>
  MDMember c.example.org
  MDRenewWindow 50%
  MDRenewMode auto
  MDRequireHttps permanent
  MDCertificateAuthority letsencrypt-test https://ca2.example.net/dir
  MDMembers manual
  MDContactEmail mailto:b@example.net
</MDomainSet>
MDomain unused.example.org
"""


def test_store_gets_md_json_with_merged_settings(md_httpd):
    h = md_httpd(md_conf=MERGED_CONF)
    h.write_config(vhosts=h.vhost(["a.example.org", "www.a.example.org", "alias.example.org"]) +
                   h.vhost(["b.example.org", "other.example.org"]))
    rc, out = h.configtest()
    assert rc == 0, out
    assert "MD unused.example.org" in out and "not used by any vhost" in out, out
    h.start()

    a = h.md_json("a.example.org")
    # MDMembers auto (the default): the vhost's alias joined the MD
    assert a["domains"] == ["a.example.org", "www.a.example.org", "alias.example.org"]
    assert a["contacts"] == ["mailto:admin@example.net"]
    assert a["ca"]["urls"] == [h.ca_url]
    assert a["ca"]["agreement"] == "accepted"
    assert a["renew-window"] == "30d"
    assert a["renew-mode"] == 0  # manual, from the global line
    assert a["privkey"] == [{"type": "EC", "curve": "secp256r1"}, {"type": "RSA", "bits": 3072}]

    b = h.md_json("b.example.org")
    # section settings win over global ones; MDMembers manual keeps the vhost's alias out
    assert b["domains"] == ["b.example.org", "c.example.org"]
    assert b["contacts"] == ["mailto:b@example.net"]
    assert b["ca"]["urls"] == ["https://acme-staging-v02.api.letsencrypt.org/directory",
                               "https://ca2.example.net/dir"]
    assert b["renew-window"] == "50%"
    assert b["renew-mode"] == 1
    assert b["require-https"] == "permanent"
    assert b["transitive"] in (0, False)

    assert (h.domain_dir("unused.example.org") / "md.json").exists()
    assert "MD unused.example.org" in h.error_log_text()


def test_contact_from_server_admin(md_httpd):
    h = md_httpd(md_conf=QUIET + "MDomain a.example.org\nMDomain b.example.org\n"
                 "MDomain c.example.org\n")
    h.write_config(vhosts=h.vhost("a.example.org", extra="ServerAdmin hostmaster@a.example.org") +
                   h.vhost("b.example.org") +
                   h.vhost("c.example.org", extra="ServerAdmin MAILTO:tls@c.example.org"),
                   extra_conf="ServerAdmin webmaster@example.net\n")
    h.start()
    assert h.md_json("a.example.org")["contacts"] == ["mailto:hostmaster@a.example.org"]
    assert h.md_json("b.example.org")["contacts"] == ["mailto:webmaster@example.net"]
    # ServerAdmin may be written as a mailto: URL; the contact is that address, once
    assert h.md_json("c.example.org")["contacts"] == ["mailto:tls@c.example.org"]


def test_stale_challenge_answers_are_removed_at_a_restart(md_httpd):
    h = md_httpd(md_conf=QUIET + "MDomain a.example.org\n")
    h.write_config(vhosts=h.vhost("a.example.org"))
    h.start()
    challenges = h.store_dir / "challenges"
    old, fresh = challenges / "old.example.org", challenges / "fresh.example.org"
    for d in (old, fresh):
        d.mkdir()
        (d / "acme-http-01.txt").write_text("token.thumbprint")
    two_hours_ago = datetime.datetime.now().timestamp() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    h.graceful()
    # the answers of a drive long over go; those a drive may still wait on stay
    assert not old.exists()
    assert (fresh / "acme-http-01.txt").exists()
    assert "challenges/old.example.org holds the answers of a drive long over: removed" in \
        h.error_log_text()


def test_md_removed_from_config_keeps_its_files(md_httpd):
    h = md_httpd(md_conf=QUIET + "MDomain a.example.org\nMDomain b.example.org\n")
    h.write_config(vhosts=h.vhost("a.example.org") + h.vhost("b.example.org"))
    h.start()
    before = sorted(p.name for p in h.domain_dir("b.example.org").iterdir())
    assert "md.json" in before and "fallback-pubcert.pem" in before

    h.write_config(md_conf=QUIET + "MDomain a.example.org\n", vhosts=h.vhost("a.example.org"))
    h.graceful()
    assert sorted(p.name for p in h.domain_dir("b.example.org").iterdir()) == before
    assert h.md_json("b.example.org")["domains"] == ["b.example.org"]


def test_md_taken_over_by_another_leaves_no_renewal_behind(md_httpd):
    h = md_httpd(md_conf=QUIET + "MDomain a.example.org\nMDomain b.example.org shop.example.org\n")
    h.write_config(vhosts=h.vhost("a.example.org") + h.vhost(["b.example.org", "shop.example.org"]))
    h.start()
    staged = h.store_dir / "staging" / "b.example.org"
    staged.mkdir()
    (staged / "job.json").write_text(json.dumps({"name": "b.example.org", "step": "order"}))

    # b is dropped and a claims its shop name: b's entry is archived, its renewal removed
    h.write_config(md_conf=QUIET + "MDomain a.example.org shop.example.org\n",
                   vhosts=h.vhost(["a.example.org", "shop.example.org"]))
    h.graceful()
    assert not h.domain_dir("b.example.org").exists()
    assert not staged.exists()
    assert "staging/b.example.org belongs to no MD any more: removed" in h.error_log_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="ownership only changes when started as root")
def test_driver_dirs_belong_to_user_keys_to_root(md_httpd):
    h = md_httpd(md_conf=QUIET + "MDomain a.example.org\n")
    h.write_config(vhosts=h.vhost("a.example.org"))
    h.start()
    daemon = pwd.getpwnam("daemon").pw_uid
    for name in ("staging", "live", "challenges", "accounts", "user.lock"):
        assert (h.store_dir / name).stat().st_uid == daemon, name
    # the lock of root's part stays root's alone
    lock = (h.store_dir / "store.lock").stat()
    assert lock.st_uid == 0 and lock.st_mode & 0o077 == 0
    key = h.domain_dir("a.example.org") / "fallback-privkey.pem"
    assert key.stat().st_uid == 0
    assert key.stat().st_mode & 0o077 == 0


# --- certificates served --------------------------------------------------------------------------

def test_fallback_certificate_served_until_one_is_there(md_httpd):
    names = ["a.example.org", "www.a.example.org"]
    h = md_httpd(md_conf=QUIET + f"MDomain {' '.join(names)}\n")
    h.write_config(vhosts=h.vhost(names))
    h.start()
    cert = h.peer_cert("www.a.example.org")
    assert cert.issuer == cert.subject  # self-signed
    assert cert_dns_names(cert) == sorted(names)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    status, body = h.https_get("a.example.org", "/index.html")
    assert status == 503, body

    # made once: a restart serves the same fallback
    h.graceful()
    assert h.peer_cert("a.example.org").serial_number == cert.serial_number
    # an interrupted write (empty key) is noticed and repaired, not handed to mod_ssl
    h.stop()
    (h.domain_dir("a.example.org") / "fallback-privkey.pem").write_bytes(b"")
    h.start()
    repaired = h.peer_cert("a.example.org")
    assert repaired.serial_number != cert.serial_number
    assert cert_dns_names(repaired) == sorted(names)
    # a name more: a new fallback covering it
    names.append("new.a.example.org")
    h.write_config(md_conf=QUIET + f"MDomain {' '.join(names)}\n", vhosts=h.vhost(names))
    h.graceful()
    assert cert_dns_names(h.peer_cert("a.example.org")) == sorted(names)


def _make_ca_and_leaf(names, days=30, expired=False):
    """A CA and a leaf certificate (RSA 2048, as the default key spec) for names; with expired,
    one whose validity ended yesterday."""
    now = datetime.datetime.now(datetime.timezone.utc)
    if expired:
        now -= datetime.timedelta(days=days + 1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mdtest CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .sign(ca_key, hashes.SHA256()))
    return ca, leaf, key


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def test_certificate_in_domains_is_served(md_httpd, workdir):
    names = ["a.example.org", "www.a.example.org"]
    ca, leaf, key = _make_ca_and_leaf(names)
    h = md_httpd(md_conf=QUIET + f"MDomain {' '.join(names)}\n")
    d = h.domain_dir("a.example.org")
    d.mkdir(parents=True)
    (d / "pubcert.pem").write_bytes(_pem(leaf) + _pem(ca))
    (d / "privkey.pem").write_bytes(_key_pem(key))
    (d / "privkey.pem").chmod(0o600)
    ca_file = workdir / "mdtest-ca.pem"
    ca_file.write_bytes(_pem(ca))
    h.write_config(vhosts=h.vhost(names))
    h.start()
    # verified by the client against our CA, with the name checked
    served = h.peer_cert("www.a.example.org", cafile=ca_file)
    assert served.serial_number == leaf.serial_number
    status, body = h.https_get("a.example.org", "/index.html", cafile=ca_file)
    assert status == 200, body  # a usable certificate: no 503
    assert not (d / "fallback-pubcert.pem").exists()


def test_expired_certificate_still_served_until_a_new_one_is_there(md_httpd, workdir):
    """The CA is unreachable and the certificate has expired: the server keeps serving it (not
    the temporary one, no 503); md-status says it is expired."""
    names = ["old.example.org"]
    ca, leaf, key = _make_ca_and_leaf(names, expired=True)
    h = md_httpd(md_conf=f"MDomain {names[0]}\n")
    d = h.domain_dir(names[0])
    d.mkdir(parents=True)
    (d / "pubcert.pem").write_bytes(_pem(leaf) + _pem(ca))
    (d / "privkey.pem").write_bytes(_key_pem(key))
    (d / "privkey.pem").chmod(0o600)
    h.write_config(vhosts=h.vhost(names),
                   extra_conf="<Location /md-status>\n  SetHandler md-status\n</Location>\n")
    h.start()
    assert h.peer_cert(names[0]).serial_number == leaf.serial_number
    status, body = h.https_get(names[0], "/md-status")
    assert status == 200, body
    md = json.loads(body)["managed-domains"][0]
    assert md["name"] == names[0] and md["state-name"] == "expired"
    assert not (d / "fallback-pubcert.pem").exists()


def test_static_certificate_file_in_md_section(md_httpd, workdir):
    names = ["s.example.org"]
    ca, leaf, key = _make_ca_and_leaf(names)
    cert_file, key_file = workdir / "static-cert.pem", workdir / "static-key.pem"
    cert_file.write_bytes(_pem(leaf) + _pem(ca))
    key_file.write_bytes(_key_pem(key))
    h = md_httpd(md_conf=f"<MDomainSet s.example.org>\n  MDCertificateFile {cert_file}\n"
                         f"  MDCertificateKeyFile {key_file}\n</MDomainSet>\n")
    h.write_config(vhosts=h.vhost(names))
    h.start()
    assert h.peer_cert("s.example.org").serial_number == leaf.serial_number
    # a static certificate is not renewed: the MD is not driven
    assert h.md_json("s.example.org")["renew-mode"] == 0


def test_tls_alpn_01_wanted_but_not_possible_is_warned(md_httpd):
    h = md_httpd(md_conf=QUIET + "MDCAChallenges tls-alpn-01\nMDomain a.example.org\n")
    h.write_config(vhosts=h.vhost("a.example.org"))
    h.start()
    assert "Protocols h2 http/1.1 acme-tls/1" in h.error_log_text()

    h2 = md_httpd(md_conf=QUIET + "MDCAChallenges tls-alpn-01\nMDomain b.example.org\n")
    h2.write_config(vhosts=h2.vhost("b.example.org"), extra_conf="Protocols http/1.1 acme-tls/1\n")
    h2.start()
    assert "Protocols h2 http/1.1 acme-tls/1" not in h2.error_log_text()


@pytest.mark.parametrize("flag, used", [("off", False), ("on", True)])
def test_base_server_uses_an_md_only_with_md_base_server_on(md_httpd, flag, used):
    """The server outside any <VirtualHost> counts for an MD only with MDBaseServer on."""
    h = md_httpd(md_conf=QUIET + f"MDBaseServer {flag}\nServerName base.example.org\n"
                                 "MDomain base.example.org\n")
    h.write_config()
    h.start()
    unused = "MD base.example.org (" in h.error_log_text() and "is not used by any vhost" in \
        h.error_log_text()
    assert unused is not used, h.error_log_tail()

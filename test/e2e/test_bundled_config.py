# test_bundled_config.py: a configuration as a long-time user of Debian's bundled mod_md writes
# it, every one of its directives in the places the bundled module allows them, works with ours:
# configtest passes, the MD gets its certificate, the static one is served, status pages answer.
import json
import subprocess

from mdtest import ports
from mdtest.mdhttpd import MdHttpd, cert_dns_names

BUNDLED_SO = "/usr/lib/apache2/modules/mod_md.so"
MAIN = "shop.example.test"
MANUAL = "manual.example.test"
STATIC = "static.example.test"
IN_VHOST = "vhost.example.test"
# pebble 2.10's profiles: the bundled user's config names one
PROFILES = {"default": {"description": "ninety days", "validityPeriod": 7776000},
            "shortlived": {"description": "six days", "validityPeriod": 518400}}


def bundled_directives():
    """The directive names Debian's bundled module knows (from its strings)."""
    out = subprocess.run(["strings", BUNDLED_SO], capture_output=True, text=True,
                         check=True).stdout
    return {w.lstrip("<") for w in out.split() if w.lstrip("<").startswith("MD") and
            w.lstrip("<")[2:3].isupper() and w.lstrip("<").isalnum()}


def static_cert(workdir):
    key, cert = workdir / "static.key", workdir / "static.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj", f"/CN={STATIC}",
                    "-addext", f"subjectAltName=DNS:{STATIC}", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    key.chmod(0o600)
    return cert, key


def test_a_bundled_users_config_with_every_directive_works(workdir, pebble_factory):
    http_port, https_port = ports.free_ports(2)
    pebble = pebble_factory(sid=True, http_port=http_port, tls_port=https_port,
                            config={"profiles": PROFILES})
    cert, key = static_cert(workdir)
    h = MdHttpd(workdir, pebble=pebble, http_port=http_port, https_port=https_port,
                modules=("status",))
    conf = f"""
ServerAdmin mailto:webmaster@example.test
MDCertificateProtocol ACME
MDContactEmail hostmaster@example.test
MDStoreLocks on
MDDriveMode auto
MDRenewMode auto
MDRenewWindow 33%
MDWarnWindow 10%
MDCheckInterval 12h
MDRetryDelay 2s
MDRetryFailover 13
MDInitialDelay 0s
MDActivationDelay 0s
MDPrivateKeys secp256r1 rsa2048
MDCAChallenges http-01 tls-alpn-01
MDChallengeDns01 /bin/true
MDChallengeDns01Version 2
MDHttpProxyCACertificateFile {pebble.ca_file}
MDBaseServer off
MDMatchNames all
MDMembers auto
MDRequireHttps temporary
MDMustStaple off
MDStapling on
MDStapleOthers off
MDStaplingKeepResponse 7d
MDStaplingRenewWindow 33%
MDServerStatus on
MDCertificateStatus on
MDCertificateCheck crt.sh https://crt.sh?q=
MDMessageCmd /bin/true --quiet
MDNotifyCmd /bin/true
MDExternalAccountBinding none
MDProfile default
MDProfileMandatory off
MDRenewViaARI on

MDomain {MAIN} www.{MAIN}
<MDomainSet {MANUAL}>
    MDMember www.{MANUAL}
    MDRenewMode manual
    MDHttpProxy http://127.0.0.1:{ports.free_port()}
    MDProfile shortlived
    MDProfileMandatory on
    MDStapling off
    MDMustStaple on
    MDRenewViaARI off
    MDExternalAccountBinding none
    MDPrivateKeys Default
    MDCertificateAgreement accepted
    MDContactEmail manual@example.test
    MDRenewWindow 10d
    MDWarnWindow 2d
    MDRequireHttps off
    MDCAChallenges http-01
    MDCertificateAuthority {pebble.directory_url}
</MDomainSet>
<MDomain {STATIC}>
    MDCertificateFile {cert}
    MDCertificateKeyFile {key}
</MDomain>
ManagedDomain {IN_VHOST}
"""
    h.write_config(md_conf=conf,
                   vhosts=h.vhost([MAIN, f"www.{MAIN}"]) + h.vhost([MAIN], https=False) +
                   h.vhost([MANUAL, f"www.{MANUAL}"]) + h.vhost(STATIC) +
                   h.vhost(IN_VHOST, extra=f"MDomain other.{IN_VHOST}"),
                   extra_conf="<Location /md-status>\n  SetHandler md-status\n</Location>\n"
                              "<Location /server-status>\n  SetHandler server-status\n"
                              "</Location>\n")
    # every directive of the bundled module is in this config
    text = h.conf_path.read_text()
    missing = [d for d in bundled_directives() if d not in text]
    assert not missing, missing
    rc, out = h.configtest()
    assert rc == 0, out
    h.start()
    root = pebble.write_root(workdir / "pebble-root.pem")
    served = h.wait_served(MAIN, root)
    assert served, h.error_log_tail(60)
    assert sorted(cert_dns_names(served)) == sorted([MAIN, f"www.{MAIN}"])
    assert cert_dns_names(h.peer_cert(STATIC)) == [STATIC]
    st, body = h.get("/md-status")
    assert st == 200, body
    mds = {m["name"]: m for m in json.loads(body)["managed-domains"]}
    assert {MAIN, MANUAL, STATIC, IN_VHOST, f"other.{IN_VHOST}"} <= set(mds)
    assert mds[MANUAL]["profile"] == "shortlived" and mds[MANUAL]["renew-mode"] == 0
    st, body = h.get("/server-status?auto")
    assert st == 200 and f"Domain: {MAIN}" in body.decode(), body

# test_acme2026.py: ACME as CAs speak it in 2026, against pebble 2.10 from Debian unstable
# (scripts/bootstrap.sh puts it in .tools/): ARI, certificate profiles, and our client at it.
import pytest

from mdtest import ports
from mdtest.mdhttpd import MdHttpd, cert_dns_names
from mdtest.procs import wait_until

DOMAIN = "www.example.test"
SERVED_TIMEOUT_SECONDS = 40.0
# pebble 2.10's profiles: validity in seconds (its config's "profiles")
PROFILES = {
    "default": {"description": "what an order without a profile gets", "validityPeriod": 7776000},
    "shortlived": {"description": "six days", "validityPeriod": 518400},
}


@pytest.fixture
def pebble_sid(pebble_factory):
    def make(**kwargs):
        kwargs.setdefault("config", {})
        kwargs["config"].setdefault("profiles", PROFILES)
        return pebble_factory(sid=True, **kwargs)
    return make


def test_pebble_2_10_offers_renewal_info_and_profiles(pebble_sid):
    pebble = pebble_sid()
    directory = pebble.directory()
    assert directory["renewalInfo"].startswith(f"https://127.0.0.1:{pebble.acme_port}/")
    assert set(directory["meta"]["profiles"]) == set(PROFILES)


def test_certificate_from_pebble_2_10_served(workdir, pebble_sid):
    http_port, https_port = ports.free_ports(2)
    pebble = pebble_sid(http_port=http_port, tls_port=https_port)
    root = pebble.write_root(workdir / "pebble-root.pem")
    h = MdHttpd(workdir, pebble=pebble, http_port=http_port, https_port=https_port)
    h.write_config(md_conf=f"MDPrivateKeys secp256r1\nMDCAChallenges http-01\nMDRetryDelay 1s\n"
                           f"MDomain {DOMAIN}\n",
                   vhosts=h.vhost(DOMAIN))
    h.start()
    try:
        def served():
            try:
                return h.peer_cert(DOMAIN, cafile=root)
            except (OSError, ValueError):
                return None
        cert = wait_until(served, SERVED_TIMEOUT_SECONDS, interval=0.25)
        assert cert, h.error_log_tail(60)
        assert set(cert_dns_names(cert)) == {DOMAIN}
    finally:
        h.stop()

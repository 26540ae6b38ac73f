# test_module_restarts.py: graceful restarts and stops while the driver is mid-order end the driver
# cleanly -- no "exit signal" line, no sanitizer report with the module built under ASan+UBSan --
# and every certificate is still obtained in the end.
import time
from pathlib import Path

import pytest

from mdtest import ports
from mdtest.mdhttpd import SAN_MOD_MD_PATH, MdHttpd, san_env
from mdtest.procs import wait_until

N_MDS = 10
GRACEFULS = 8
GRACEFUL_GAP_SECONDS = 0.5
STOPS = 3
ALL_SERVED_TIMEOUT_SECONDS = 90.0
CRASH = "exit signal"


def names():
    return [f"r{i}.example.test" for i in range(N_MDS)]


@pytest.fixture(params=["plain", "san"])
def site(request, workdir, pebble_factory):
    san = request.param == "san"
    if san and not SAN_MOD_MD_PATH.exists():
        pytest.fail(f"{SAN_MOD_MD_PATH} is missing: make BUILD=build-san SAN=1 all")
    http_port, https_port = ports.free_ports(2)
    # pebble with its random validation delay: orders stay in flight for a while
    pebble = pebble_factory(http_port=http_port, tls_port=ports.free_port(),
                            env={"PEBBLE_VA_NOSLEEP": "0", "PEBBLE_VA_SLEEPTIME": "2"})
    san_logs = Path(workdir) / "san-logs"
    san_logs.mkdir()
    san_logs.chmod(0o777)  # the children run as the User
    h = MdHttpd(workdir, pebble=pebble, http_port=http_port, https_port=https_port,
                mod_md=SAN_MOD_MD_PATH if san else None, env=san_env(san_logs) if san else None)
    h.san_logs = san_logs
    md = "\n".join(f"MDomain {n}" for n in names())
    h.write_config(md_conf=f"MDPrivateKeys secp256r1\nMDCAChallenges http-01\nMDRetryDelay 1s\n{md}\n",
                   vhosts="".join(h.vhost(n) for n in names()))
    h.root_file = pebble.write_root(Path(workdir) / "pebble-root.pem")
    yield h
    h.stop()


def sanitizer_reports(h):
    return {p.name: p.read_text()[:2000] for p in h.san_logs.iterdir()}


def all_served(h):
    def ok():
        for n in names():
            try:
                h.peer_cert(n, cafile=h.root_file)
            except (OSError, ValueError):
                return False
        return True
    return wait_until(ok, ALL_SERVED_TIMEOUT_SECONDS, interval=0.5)


def in_flight(h):
    """Orders are in flight: the driver has started and the CA knows an order."""
    return wait_until(lambda: ": order: " in h.error_log_text(), 20, interval=0.05)


def test_graceful_restarts_during_issuance_never_crash(site):
    site.start()
    assert in_flight(site), site.error_log_tail()
    for _ in range(GRACEFULS):
        site.graceful()
        time.sleep(GRACEFUL_GAP_SECONDS)  # the scenario: restarts half a second apart
    assert all_served(site), site.error_log_tail(80)
    assert CRASH not in site.error_log_text(), site.error_log_tail(80)
    site.stop()
    assert CRASH not in site.error_log_text(), site.error_log_tail(80)
    assert sanitizer_reports(site) == {}


def test_stops_with_orders_in_flight_never_crash(site):
    for _ in range(STOPS):
        mark = len(site.error_log_text())
        site.start()
        assert wait_until(lambda: ": order: " in site.error_log_text()[mark:], 20, interval=0.05)
        site.stop()
    site.start()
    assert all_served(site), site.error_log_tail(80)
    assert CRASH not in site.error_log_text(), site.error_log_tail(80)
    site.stop()
    assert CRASH not in site.error_log_text(), site.error_log_tail(80)
    assert sanitizer_reports(site) == {}

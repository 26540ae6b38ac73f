# test_module_restarts.py: graceful restarts and stops while the driver is mid-order or waits for a
# dns-01 command end the driver cleanly and promptly -- no "exit signal" line, no sanitizer report
# with the module built under ASan+UBSan, no command left running -- and the work resumes.
import fcntl
import os
import stat
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
# a drive waits for at most one cancel slice (100 ms) and a request for about a second: a stop
# that takes longer waited for something that ignored the stop (the child's limit is 10 s)
PROMPT_STOP_SECONDS = 5.0
COMMAND_START_TIMEOUT_SECONDS = 30.0
SHARED_DIR_MODE = 0o1777  # the driver (User daemon) writes the dns-01 command's pid files here
HANG_NAME = "hang.example.test"
# an MDChallengeDns01 command that never finishes (a DNS provider's API that does not answer):
# a shell script, as such commands often are, that waits for a program it started
HANG_SCRIPT = """#!/bin/sh
sleep 3600 &
echo $! > {shared}/child-of.$$
echo $$ > {shared}/cmd.pid.tmp && mv {shared}/cmd.pid.tmp {shared}/cmd.pid
wait
"""


def names():
    return [f"r{i}.example.test" for i in range(N_MDS)]


def make_site(request, workdir, pebble):
    """An MdHttpd (config not written) for the fixture's param: our plain module or the one
    built with sanitizers, whose reports go to h.san_logs."""
    san = request.param == "san"
    if san and not SAN_MOD_MD_PATH.exists():
        pytest.fail(f"{SAN_MOD_MD_PATH} is missing: make BUILD=build-san SAN=1 all")
    san_logs = Path(workdir) / "san-logs"
    san_logs.mkdir()
    san_logs.chmod(0o777)  # the children run as the User
    h = MdHttpd(workdir, pebble=pebble, http_port=pebble.http_port, https_port=ports.free_port(),
                mod_md=SAN_MOD_MD_PATH if san else None, env=san_env(san_logs) if san else None)
    h.san_logs = san_logs
    return h


@pytest.fixture(params=["plain", "san"])
def site(request, workdir, pebble_factory):
    # pebble with its random validation delay: orders stay in flight for a while
    pebble = pebble_factory(http_port=ports.free_port(), tls_port=ports.free_port(),
                            env={"PEBBLE_VA_NOSLEEP": "0", "PEBBLE_VA_SLEEPTIME": "2"})
    h = make_site(request, workdir, pebble)
    md = "\n".join(f"MDomain {n}" for n in names())
    h.write_config(md_conf=f"MDPrivateKeys secp256r1\nMDCAChallenges http-01\nMDRetryDelay 1s\n{md}\n",
                   vhosts="".join(h.vhost(n) for n in names()))
    h.root_file = pebble.write_root(Path(workdir) / "pebble-root.pem")
    yield h
    h.stop()


@pytest.fixture(params=["plain", "san"])
def dns_site(request, workdir, pebble_factory):
    """An MD that only dns-01 may prove, whose MDChallengeDns01 command hangs."""
    pebble = pebble_factory(http_port=ports.free_port(), tls_port=ports.free_port())
    h = make_site(request, workdir, pebble)
    h.shared = Path(workdir) / "dns01"
    h.shared.mkdir()
    h.shared.chmod(SHARED_DIR_MODE)
    script = Path(workdir) / "hang.sh"
    script.write_text(HANG_SCRIPT.format(shared=h.shared))
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    h.write_config(md_conf=f"MDPrivateKeys secp256r1\nMDCAChallenges dns-01\nMDRetryDelay 1s\n"
                           f"MDChallengeDns01 {script}\nMDomain {HANG_NAME}\n",
                   vhosts=h.vhost(HANG_NAME))
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


def alive(pid):
    """pid runs (a zombie is as good as gone: it only waits for its parent to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def child_pid(h, pid):
    """The pid of the program the hanging command started (it waits for it)."""
    return int((h.shared / f"child-of.{pid}").read_text())


def command_pid(h, other_than=None):
    """The pid the hanging dns-01 command wrote, once it runs (a new one when other_than)."""
    def started():
        try:
            pid = int((h.shared / "cmd.pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if pid != other_than and alive(pid) else None
    return wait_until(started, COMMAND_START_TIMEOUT_SECONDS, interval=0.05)


def lock_free(path):
    """Whether nobody holds a lock on path (taken and given back at once when free)."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def test_restart_and_stop_kill_a_hanging_dns01_command(dns_site):
    site = dns_site
    site.start()
    first = command_pid(site)
    assert first, site.error_log_tail()
    # the driver holds no store lock while an operator's command runs (nor across requests)
    for name in ("store.lock", "user.lock"):
        assert lock_free(site.store_dir / name), name
    # a graceful restart ends the old driver: its command is killed, the next driver resumes
    site.graceful()
    second = command_pid(site, other_than=first)
    assert second, site.error_log_tail()
    # (the new driver may start before the old child has finished exiting)
    assert wait_until(lambda: not alive(first), PROMPT_STOP_SECONDS), site.error_log_tail()
    # with what it started
    assert wait_until(lambda: not alive(child_pid(site, first)), PROMPT_STOP_SECONDS)
    assert f"{HANG_NAME}: drive cancelled, resumes next time" in site.error_log_text()
    # cut short, not failed: no "errored" event, not counted among the failures
    assert wait_until(lambda: "MD(s) driven, staged: [], failed: []" in site.error_log_text(),
                      PROMPT_STOP_SECONDS), site.error_log_tail()
    assert f"failed: [{HANG_NAME}]" not in site.error_log_text()
    # and a stop does not wait for the command either
    started = time.monotonic()
    site.stop()
    took = time.monotonic() - started
    assert took < PROMPT_STOP_SECONDS, site.error_log_tail(80)
    assert not alive(second)
    assert wait_until(lambda: not alive(child_pid(site, second)), PROMPT_STOP_SECONDS)
    assert CRASH not in site.error_log_text(), site.error_log_tail(80)
    assert sanitizer_reports(site) == {}

# test_module_privilege.py: the parent (root) never trusts what the server's User wrote -- links to
# root's files, linked directories and FIFOs planted in staging/, live/ and challenges/ by the User
# are refused by name at a graceful restart and a stop + start; the decoys stay untouched.
import json
import os
import pwd
import stat
import subprocess
from pathlib import Path

import pytest

from mdtest import ports
from mdtest.mdhttpd import MdHttpd
from mdtest.procs import wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the server's User differs")

ONE = "one.example.test"
TWO = "two.example.test"
USER = "daemon"  # the test httpd's User (mdtest/httpd.py)
SERVED_TIMEOUT_SECONDS = 40.0
DECOY_TEXT = "root's own file: must stay as it is\n"


def as_user(script):
    """Runs a shell script as the server's User, as code that runs in the server would."""
    r = subprocess.run(["sh", "-ec", script], user=USER, group=USER, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def snapshot(path):
    """Owner, mode and content of a decoy file or directory (and what is in it)."""
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        return (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode),
                {p.name: snapshot(p) for p in Path(path).iterdir()})
    return (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), Path(path).read_text())


@pytest.fixture
def site(workdir, pebble_factory):
    http_port, https_port = ports.free_ports(2)
    pebble = pebble_factory(http_port=http_port, tls_port=ports.free_port())
    h = MdHttpd(workdir, pebble=pebble, http_port=http_port, https_port=https_port)
    h.write_config(md_conf=f"MDPrivateKeys secp256r1\nMDCAChallenges http-01\nMDRetryDelay 1s\n"
                           f"MDomain {ONE}\nMDomain {TWO}\n",
                   vhosts=h.vhost(ONE) + h.vhost(TWO))
    h.root_file = pebble.write_root(Path(workdir) / "pebble-root.pem")
    yield h
    h.stop()


def test_planted_links_and_fifos_are_refused_and_decoys_stay_untouched(site, workdir):
    site.start()
    for name in (ONE, TWO):
        assert wait_until(lambda: (site.store_dir / "live" / name).exists(),
                          SERVED_TIMEOUT_SECONDS), site.error_log_tail()
    assert site.peer_cert(ONE, cafile=site.root_file) is not None
    # root's decoys outside the store: a key-like file and a directory with a file in it
    decoy_file = Path(workdir) / "decoy-key.pem"
    decoy_file.write_text(DECOY_TEXT)
    decoy_file.chmod(0o600)
    decoy_dir = Path(workdir) / "decoy-dir"
    decoy_dir.mkdir(mode=0o700)
    (decoy_dir / "secret").write_text(DECOY_TEXT)
    (decoy_dir / "secret").chmod(0o600)
    before = {p: snapshot(p) for p in (decoy_file, decoy_dir)}

    store = site.store_dir
    job = json.dumps({"name": ONE, "domains": [ONE], "step": "staged"})
    as_user(f"""
        cd {store}
        mkdir staging/{ONE}
        printf '%s' '{job}' > staging/{ONE}/job.json
        ln -s {decoy_file} staging/{ONE}/pubcert.secp256r1.pem
        mkfifo staging/{ONE}/privkey.secp256r1.pem
        ln -s {decoy_dir} staging/{TWO}
        rm -rf live/{TWO}
        ln -s {decoy_dir} live/{TWO}
        mkdir -p challenges
        ln -s {decoy_dir} challenges/{TWO}
    """)
    site.graceful()
    # the server serves what it has (the planted set is refused, then dropped by a new drive)
    assert site.peer_cert(ONE, cafile=site.root_file) is not None
    site.stop()
    site.start()
    st, _ = site.get("/")
    assert st in (200, 404)

    assert {p: snapshot(p) for p in (decoy_file, decoy_dir)} == before
    log = site.error_log_text()
    refusals = [line for line in log.splitlines() if "refused" in line and ":error]" in line]
    assert any(f"staging/{ONE}/privkey.secp256r1.pem: not a regular file" in line
               for line in refusals), refusals
    assert any(f"live/{TWO}: not a directory" in line for line in refusals), refusals
    # the store's group directories stay the User's, nothing outside changed hands
    uid = pwd.getpwnam(USER).pw_uid
    for group in ("staging", "live", "challenges"):
        assert (store / group).stat().st_uid == uid
    assert decoy_dir.stat().st_uid == 0 and (decoy_dir / "secret").stat().st_uid == 0

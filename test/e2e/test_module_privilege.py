# test_module_privilege.py: the parent (root) never trusts what the server's User wrote -- links to
# root's files, linked directories and FIFOs planted in staging/, live/ and challenges/ by the User
# are refused by name at a graceful restart and a stop + start (and by the workers that answer
# challenges); nothing blocks, and the decoys stay untouched, not even read. Nor does it depend
# on the User: a User's process holding the User's store lock, or a store.lock an older version
# gave to the User, never keeps the server from starting.
import http.client
import json
import os
import pwd
import select
import socket
import ssl
import stat
import subprocess
import time
from pathlib import Path

import pytest

from mdtest import ports
from mdtest.mdhttpd import MdHttpd
from mdtest.procs import wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the server's User differs")

ONE = "one.example.test"
TWO = "two.example.test"
# a name no MD has: no drive rewrites what is planted in its challenges/ entry (ONE and TWO are
# driven again after the restart -- their planted sets are refused -- and replace their answers)
THREE = "three.example.test"
USER = "daemon"  # the test httpd's User (mdtest/httpd.py)
SERVED_TIMEOUT_SECONDS = 40.0
# a restart takes well under a second here: a FIFO that blocked root would hold it for ever
RESTART_BOUND_SECONDS = 20.0
REQUEST_TIMEOUT_SECONDS = 5.0
DECOY_TEXT = "root's own file: must stay as it is\n"
# the decoy directory holds files under the names the store uses: what follows a linked entry
# directory by path finds, changes or removes them
DECOY_DIR_FILES = ("secret", "job.json", "md.json", "privkey.secp256r1.pem", "acme-http-01.txt")
# atime before mtime: the kernel (relatime) sets atime at the next read, whoever reads
DECOY_ATIME_BACK_SECONDS = 3600
TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
HTTP01 = "acme-http-01.txt"
TLSALPN01_CERT = "acme-tls-alpn-01.cert.pem"


USER_LOCK_WAIT_SECONDS = 5.0  # MD_MOD_USER_LOCK_WAIT in mod_md_init.c
# a restart that waits for the User's lock that long and then goes on (before, it waited 30 s for
# the one store lock and then refused to start)
RESTART_MAX_SECONDS = USER_LOCK_WAIT_SECONDS + 10.0
HOLDER_READY_SECONDS = 10.0
# a process of the User that takes a lock on a file and keeps it until it is killed
HOLD_LOCK = """
import fcntl, os, signal, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("locked", flush=True)
while True:
    signal.pause()
"""


def as_user(script):
    """Runs a shell script as the server's User, as code that runs in the server would."""
    r = subprocess.run(["sh", "-ec", script], user=USER, group=USER, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def mark_unread(path):
    st = os.lstat(path)
    os.utime(path, ns=(st.st_mtime_ns - DECOY_ATIME_BACK_SECONDS * 10**9, st.st_mtime_ns),
             follow_symlinks=False)


def snapshot(path):
    """Owner, mode, content and atime of a decoy file or directory (and of what is in it). Its
    own reading is undone (mark_unread), so that any other read shows in a later snapshot."""
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        inside = {p.name: snapshot(p) for p in Path(path).iterdir()}
    else:
        inside = Path(path).read_text()
    mark_unread(path)
    return (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), st.st_atime_ns, inside)


def make_decoys(workdir):
    """root's decoys outside the store: a key-like file and a directory with store-like files."""
    decoy_file = Path(workdir) / "decoy-key.pem"
    decoy_file.write_text(DECOY_TEXT)
    decoy_file.chmod(0o600)
    decoy_dir = Path(workdir) / "decoy-dir"
    decoy_dir.mkdir(mode=0o700)
    for name in DECOY_DIR_FILES:
        (decoy_dir / name).write_text(DECOY_TEXT)
        (decoy_dir / name).chmod(0o600)
        mark_unread(decoy_dir / name)
    mark_unread(decoy_file)
    mark_unread(decoy_dir)
    return decoy_file, decoy_dir


def user_may_open(path, flags):
    """Whether the server's User can open path with os.open flags."""
    r = subprocess.run(["/usr/bin/python3", "-c", "import os, sys; os.open(sys.argv[1], int(sys.argv[2]))",
                        str(path), str(flags)], user=USER, group=USER, capture_output=True, text=True,
                       timeout=30)
    return r.returncode == 0


@pytest.fixture
def user_lock_holder():
    """hold(path) -> a process of the User that holds a lock on path until it is killed."""
    holders = []

    def hold(path):
        p = subprocess.Popen(["/usr/bin/python3", "-c", HOLD_LOCK, str(path)], user=USER,
                             group=USER, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        holders.append(p)
        ready, _, _ = select.select([p.stdout], [], [], HOLDER_READY_SECONDS)
        assert ready and p.stdout.readline().strip() == "locked", \
            p.stderr.read() if p.poll() is not None else "the holder did not say it holds the lock"
        return p

    yield hold
    for p in holders:
        p.kill()
        p.wait()


def timed(action):
    started = time.monotonic()
    action()
    return time.monotonic() - started


def acme_tls_handshake(h, name):
    """A validator's acme-tls/1 handshake for name: the workers look for a tls-alpn-01 answer."""
    ctx = ssl._create_unverified_context()  # noqa: SLF001 - nothing to verify, only to ask
    ctx.set_alpn_protocols(["acme-tls/1"])
    with socket.create_connection(("127.0.0.1", h.https_port),
                                  timeout=REQUEST_TIMEOUT_SECONDS) as sock:
        try:
            with ctx.wrap_socket(sock, server_hostname=name) as tls:
                return tls.getpeercert(binary_form=True)
        except (ssl.SSLError, ConnectionError):
            return None


def http01_get(h, name):
    """A validator's http-01 request for name: the workers look for the answer."""
    conn = http.client.HTTPConnection("127.0.0.1", h.http_port, timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        conn.request("GET", f"/.well-known/acme-challenge/{TOKEN}", headers={"Host": name})
        return conn.getresponse().status
    finally:
        conn.close()


def store_holds(store, text):
    """The store files that contain text (what was copied in from outside)."""
    found = []
    for p in Path(store).rglob("*"):
        if p.is_file() and not p.is_symlink() and stat.S_ISREG(p.lstat().st_mode):
            if text in p.read_text(errors="replace"):
                found.append(str(p))
    return found


@pytest.fixture
def site(workdir, pebble_factory):
    http_port, https_port = ports.free_ports(2)
    pebble = pebble_factory(http_port=http_port, tls_port=ports.free_port())
    h = MdHttpd(workdir, pebble=pebble, http_port=http_port, https_port=https_port)
    # acme-tls/1 allowed: a validator's handshake makes the workers read a tls-alpn-01 answer
    h.write_config(md_conf=f"Protocols http/1.1 acme-tls/1\n"
                           f"MDPrivateKeys secp256r1\nMDCAChallenges http-01\nMDRetryDelay 1s\n"
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
    decoy_file, decoy_dir = make_decoys(workdir)
    before = {p: snapshot(p) for p in (decoy_file, decoy_dir)}

    store = site.store_dir
    job = json.dumps({"name": ONE, "domains": [ONE], "step": "staged"})
    # in staging/ and challenges/ alike: (a) a link to root's file in place of a file, (b) a
    # linked directory in place of an entry, (c) a FIFO in place of a key or answer
    planted = {
        f"staging/{ONE}/pubcert.secp256r1.pem": "a symbolic link",
        f"staging/{ONE}/privkey.secp256r1.pem": "not a regular file",
        f"staging/{TWO}": "not a directory",
        f"live/{TWO}": "not a directory",
        f"challenges/{THREE}/{HTTP01}": "a symbolic link",
        f"challenges/{THREE}/{TLSALPN01_CERT}": "not a regular file",
        f"challenges/{TWO}": "not a directory",
    }
    # (what the drives left is removed first: 'ln -s' into an existing directory plants nothing)
    as_user(f"""
        cd {store}
        rm -rf staging/{ONE} staging/{TWO} live/{TWO} challenges/{THREE} challenges/{TWO}
        mkdir staging/{ONE}
        printf '%s' '{job}' > staging/{ONE}/job.json
        ln -s {decoy_file} staging/{ONE}/pubcert.secp256r1.pem
        mkfifo staging/{ONE}/privkey.secp256r1.pem
        ln -s {decoy_dir} staging/{TWO}
        ln -s {decoy_dir} live/{TWO}
        mkdir challenges/{THREE}
        ln -s {decoy_file} challenges/{THREE}/{HTTP01}
        mkfifo challenges/{THREE}/{TLSALPN01_CERT}
        ln -s {decoy_dir} challenges/{TWO}
    """)
    assert timed(site.graceful) < RESTART_BOUND_SECONDS
    # the server serves what it has (the planted set is refused, then dropped by a new drive)
    assert site.peer_cert(ONE, cafile=site.root_file) is not None
    assert site.get("/index.html")[0] == 200
    assert timed(lambda: (site.stop(), site.start())) < RESTART_BOUND_SECONDS
    assert site.get("/index.html")[0] == 200
    # the workers, asked as a CA's validator would, refuse what is planted in challenges/
    for name in (THREE, TWO):
        assert http01_get(site, name) == 404
    acme_tls_handshake(site, THREE)  # answered (without a validation certificate), not stuck

    assert {p: snapshot(p) for p in (decoy_file, decoy_dir)} == before
    assert store_holds(store, DECOY_TEXT) == []
    refusals = [line for line in site.error_log_text().splitlines()
                if line.endswith(": refused") and ":error]" in line]
    for path, why in planted.items():
        assert any(f"{store}/{path}: {why}" in line for line in refusals), (path, refusals)
    # the store's group directories stay the User's, nothing outside changed hands
    uid = pwd.getpwnam(USER).pw_uid
    for group in ("staging", "live", "challenges"):
        assert (store / group).stat().st_uid == uid


def verified_serial(site, name):
    """The serial of the certificate served for name when it verifies against pebble, else None."""
    try:
        return site.peer_cert(name, cafile=site.root_file).serial_number
    except (OSError, ValueError):
        return None


def test_user_holding_its_lock_never_stops_the_server_and_sets_wait_for_the_next_restart(
        site, user_lock_holder):
    site.write_config(extra_conf="MDStoreLocks 2s\n")  # how long startup waits for the lock
    site.start()
    store = site.store_dir
    for name in (ONE, TWO):
        assert wait_until(lambda: (store / "live" / name).exists(), SERVED_TIMEOUT_SECONDS), \
            site.error_log_tail()
    served = {name: wait_until(lambda: verified_serial(site, name), SERVED_TIMEOUT_SECONDS)
              for name in (ONE, TWO)}
    assert all(served.values()), site.error_log_tail()
    # root's lock is root's alone: the User cannot even open it; the User's lock is the User's
    assert not user_may_open(store / "store.lock", os.O_RDWR)
    assert not user_may_open(store / "store.lock", os.O_RDONLY)
    assert user_may_open(store / "user.lock", os.O_RDWR)

    holder = user_lock_holder(store / "user.lock")
    assert timed(site.graceful) < RESTART_MAX_SECONDS
    site.stop()
    assert timed(site.start) < RESTART_MAX_SECONDS
    st, _ = site.get("/")
    assert st in (200, 404)
    # the workers present the live sets again (the driver announces them), not yet installed
    for name in (ONE, TWO):
        assert wait_until(lambda: verified_serial(site, name) == served[name],
                          SERVED_TIMEOUT_SECONDS), site.error_log_tail()
        assert (store / "live" / name).exists()
    log = site.error_log_text()
    held = [line for line in log.splitlines() if ":error]" in line and
            f"{store}/user.lock is held by another process" in line]
    assert len(held) == 2, site.error_log_tail()  # the graceful restart, the start
    assert all("starts with the certificates already installed" in line and
               "installed at the next restart" in line and "for more than 2s" in line
               for line in held), held
    assert "the renewed certificate is installed" not in log

    holder.kill()
    holder.wait()
    site.graceful()
    log = site.error_log_text()
    for name in (ONE, TWO):
        assert f"MD {name}: the renewed certificate is installed" in log
        assert not (store / "live" / name).exists()
        assert verified_serial(site, name) == served[name]


def test_store_lock_an_older_version_gave_the_user_is_replaced(site, user_lock_holder):
    site.start()
    store = site.store_dir
    lock = store / "store.lock"
    # as an older version left it: store.lock given to the User, who now holds it
    os.chown(lock, pwd.getpwnam(USER).pw_uid, pwd.getpwnam(USER).pw_gid)
    user_lock_holder(lock)
    assert timed(site.graceful) < RESTART_MAX_SECONDS
    st = lock.lstat()
    assert stat.S_ISREG(st.st_mode) and st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o600
    assert not user_may_open(lock, os.O_RDWR)
    assert any(f"store lock {lock} was not ours alone" in line and "replaced" in line
               for line in site.error_log_text().splitlines()), site.error_log_tail()

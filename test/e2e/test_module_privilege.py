# test_module_privilege.py: the parent (root) never trusts what the server's User wrote -- links to
# root's files, linked directories and FIFOs planted in staging/, live/ and challenges/ by the User
# are refused by name at a graceful restart and a stop + start (and by the workers that answer
# challenges); nothing blocks, and the decoys stay untouched, not even read.
import http.client
import json
import os
import pwd
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

# benchlib.py: what the bench/ scripts share -- the e2e helpers on sys.path, a work directory,
# timing an `apache2 -k start` until the server answers, cached self-signed certificates, tables.

import datetime
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test" / "e2e"))

from mdtest import ports  # noqa: E402
from mdtest.httpd import APACHE2, READY_MARK, Httpd  # noqa: E402
from mdtest.mdhttpd import MOD_MD_PATH, MdHttpd  # noqa: E402
from mdtest.pebble import Pebble  # noqa: E402
from mdtest.procs import track  # noqa: E402

# MDBENCH_DIR keeps the work (and the certificate cache) somewhere else
WORK_DIR = Path(os.environ.get("MDBENCH_DIR", "/tmp/mod_md-bench"))
BUNDLED_MODULE = "/usr/lib/apache2/modules/mod_md.so"
# how often the clock-watching loops look (short, so that measuring adds little)
POLL_SECONDS = 0.01
START_TIMEOUT_SECONDS = 300.0
# a CA nobody answers at (port 9 is "discard", nothing listens on loopback): no network ever
UNREACHABLE_CA = "https://127.0.0.1:9/directory"
CERT_DAYS = 3650


def work_dir(name):
    """WORK_DIR/name, emptied; readable for the httpd children (User daemon)."""
    d = WORK_DIR / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    for p in (WORK_DIR, d):
        p.chmod(0o755)
    return d


def require_module():
    if not MOD_MD_PATH.exists():
        sys.exit(f"{MOD_MD_PATH} is missing: run `make` first")


def site(i):
    return f"site{i}.bench.test"


class QuietMdHttpd(MdHttpd):
    """MdHttpd logging like the baseline: the given LogLevel for everything (no ssl:info)."""

    def base_md_conf(self):
        lines = super().base_md_conf().splitlines()
        lines[0] = f"LogLevel {self.log_level} md:{self.md_log_level}"
        return "\n".join(lines)


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def timed_start(httpd, timeout=START_TIMEOUT_SECONDS):
    """Seconds from `apache2 -k start` until the error log says "resuming normal operations" and
    the http port accepts connections. The time of the start is returned too (monotonic)."""
    log = httpd.error_log
    before = log.read_text(errors="replace").count(READY_MARK) if log.exists() else 0
    t0 = time.monotonic()
    r = subprocess.run([APACHE2, "-d", str(httpd.root), "-f", str(httpd.conf_path), "-k", "start"],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{httpd.name}: apache2 -k start exited {r.returncode}\n{r.stdout}{r.stderr}"
                           f"\n{httpd.error_log_tail()}")
    track(httpd)
    while True:
        try:
            ready = log.read_text(errors="replace").count(READY_MARK) > before
        except OSError:
            ready = False
        if ready and _port_open(httpd.http_port):
            return time.monotonic() - t0, t0
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"{httpd.name}: not up after {timeout}s\n{httpd.error_log_tail()}")
        time.sleep(POLL_SECONDS)


def timed_configtest(httpd):
    t0 = time.monotonic()
    rc, out = httpd.configtest()
    elapsed = time.monotonic() - t0
    if rc != 0:
        raise RuntimeError(f"{httpd.name}: configtest failed\n{out}")
    return elapsed


def make_certs(n, cache_dir):
    """n self-signed EC P-256 certificates for site(0..n-1), made once, cached in cache_dir.
    Returns [(cert path, key path)]."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cache_dir.mkdir(parents=True, exist_ok=True)
    cache_dir.chmod(0o755)
    out = []
    now = datetime.datetime.now(datetime.timezone.utc)
    for i in range(n):
        cert_path, key_path = cache_dir / f"{site(i)}.crt", cache_dir / f"{site(i)}.key"
        if not (cert_path.exists() and key_path.exists()):
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, site(i))])
            cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                    .public_key(key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(now - datetime.timedelta(days=1))
                    .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
                    .add_extension(x509.SubjectAlternativeName([x509.DNSName(site(i))]), False)
                    .sign(key, hashes.SHA256()))
            key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                   serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        out.append((cert_path, key_path))
    return out


def cpu_times():
    """(busy, total) jiffies of all CPUs from /proc/stat: the share of busy time between two
    readings says whether a run was limited by the CPU or waited."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def cpu_busy(before, after):
    busy, total = after[0] - before[0], after[1] - before[1]
    return busy / total if total else 0.0


def tree_cpu_seconds(pid):
    """CPU seconds (user + system, with waited-for children) of process pid and its children."""
    total = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()
        if int(d.name) == pid or int(rest[1]) == pid:
            total += sum(int(x) for x in rest[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def pebble_pid(pebble):
    """The pid of a running mdtest Pebble's pebble process (for its CPU time)."""
    return pebble._pebble.proc.pid  # noqa: SLF001 - mdtest has no accessor for it


def median(values):
    return statistics.median(values) if values else float("nan")


def print_table(title, header, rows):
    """A plain text table: header and rows are lists of strings."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    fmt = "  ".join("{:>%d}" % w for w in widths)
    print(fmt.format(*header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(fmt.format(*[str(c) for c in r]))
    sys.stdout.flush()


def progress(msg):
    print(f"  .. {msg}", file=sys.stderr, flush=True)

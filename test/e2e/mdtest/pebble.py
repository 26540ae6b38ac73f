# pebble.py: runs a private pebble ACME CA plus pebble-challtestsrv (its DNS) on free loopback ports.
# Generates pebble's TLS listener cert per instance; exposes directory URL, trust file, roots, TXT records.

import json
import subprocess
from pathlib import Path

from . import ports
from .procs import Process, http_get, http_post_json, log_tail, wait_until

START_TIMEOUT_SECONDS = 20.0
# pebble 2.10 from Debian unstable (scripts/bootstrap.sh unpacks it there): ARI, profiles, IP
# identifiers, EAB, dns-persist-01; Debian 12's pebble 2.4 (on PATH) has none of them
PEBBLE_SID_BIN = Path(__file__).resolve().parents[3] / ".tools" / "pebble-sid" / "usr" / "bin"
LISTENER_CERT_DAYS = 30


def make_listener_cert(cert_path, key_path):
    """Self-signed EC P-256 cert for localhost and 127.0.0.1 (pebble's own HTTPS listener)."""
    cmd = [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-days", str(LISTENER_CERT_DAYS), "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-keyout", str(key_path), "-out", str(cert_path),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"openssl req for pebble listener cert failed: {r.stderr}")


class Pebble:
    """A pebble CA and its challtestsrv. Use start()/stop(); restart() keeps ports and config.

    http_port/tls_port: where pebble's validator connects for http-01 / tls-alpn-01.
    env: extra environment for pebble, e.g. {"PEBBLE_WFE_NONCEREJECT": "0"}.
    config: extra keys for the "pebble" section of its config, e.g.
        {"externalAccountBindingRequired": True, "externalAccountMACKeys": {"kid-1": "<b64url>"}}.
    sid: run pebble 2.10 from Debian unstable (and its challtestsrv) instead of Debian 12's 2.4.
    """

    def __init__(self, workdir, http_port=None, tls_port=None, env=None, name="pebble",
                 config=None, sid=False):
        self.dir = Path(workdir) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.http_port = http_port if http_port is not None else ports.free_port()
        self.tls_port = tls_port if tls_port is not None else ports.free_port()
        self.acme_port, self.mgmt_port, self.dns_port, self.chall_mgmt_port = ports.free_ports(4)
        self.env = {"PEBBLE_VA_NOSLEEP": "1"}
        if env:
            self.env.update(env)
        self.extra_config = dict(config or {})
        self.bin_dir = PEBBLE_SID_BIN if sid else None
        if sid and not (PEBBLE_SID_BIN / "pebble").exists():
            raise RuntimeError(f"{PEBBLE_SID_BIN}/pebble is missing: run scripts/bootstrap.sh")
        self.ca_file = self.dir / "listener-cert.pem"
        self.key_file = self.dir / "listener-key.pem"
        self.config_file = self.dir / "pebble-config.json"
        self.log_file = self.dir / "pebble.log"
        self.chall_log_file = self.dir / "challtestsrv.log"
        self._pebble = None
        self._chall = None
        make_listener_cert(self.ca_file, self.key_file)
        self._write_config()

    # --- addresses -------------------------------------------------------------------------
    @property
    def directory_url(self):
        return f"https://127.0.0.1:{self.acme_port}/dir"

    @property
    def mgmt_url(self):
        return f"https://127.0.0.1:{self.mgmt_port}"

    @property
    def chall_mgmt_url(self):
        return f"http://127.0.0.1:{self.chall_mgmt_port}"

    @property
    def dns_server(self):
        return f"127.0.0.1:{self.dns_port}"

    def _write_config(self):
        config = {
            "pebble": {
                "listenAddress": f"127.0.0.1:{self.acme_port}",
                "managementListenAddress": f"127.0.0.1:{self.mgmt_port}",
                "certificate": str(self.ca_file),
                "privateKey": str(self.key_file),
                "httpPort": self.http_port,
                "tlsPort": self.tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
            }
        }
        config["pebble"].update(self.extra_config)
        self.config_file.write_text(json.dumps(config, indent=2) + "\n")

    # --- life cycle ------------------------------------------------------------------------
    def _bin(self, name):
        return str(self.bin_dir / name) if self.bin_dir else name

    def _dns_args(self):
        # 2.10's challtestsrv names its DNS listener -dnsserver and adds DNS over HTTPS (on
        # :8443 unless switched off)
        if self.bin_dir:
            return ["-dnsserver", self.dns_server, "-doh", ""]
        return ["-dns01", self.dns_server]

    def start(self):
        """Start challtestsrv and pebble; return when both answer. Raises with log tails on failure."""
        self._chall = Process(
            "challtestsrv",
            [self._bin("pebble-challtestsrv"), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
             *self._dns_args(), "-http01", "", "-https01", "", "-tlsalpn01", "",
             "-management", f"127.0.0.1:{self.chall_mgmt_port}"],
            self.chall_log_file,
        ).start()
        self._pebble = Process(
            "pebble",
            [self._bin("pebble"), "-config", str(self.config_file), "-dnsserver", self.dns_server],
            self.log_file,
            env=self.env,
            cwd=str(self.dir),
        ).start()
        if not ports.wait_for_port(self.chall_mgmt_port, START_TIMEOUT_SECONDS):
            self._fail("challtestsrv management port never opened")
        if not wait_until(self._directory_answers, START_TIMEOUT_SECONDS, interval=0.1):
            self._fail("pebble directory never answered")
        return self

    def _directory_answers(self):
        if self._pebble is None or not self._pebble.running():
            self._fail("pebble exited during startup")
        try:
            status, _ = http_get(self.directory_url, cafile=self.ca_file, timeout=1.0)
            return status == 200
        except OSError:
            return False

    def _fail(self, why):
        msg = (f"{self.name}: {why}\n--- {self.log_file} ---\n{log_tail(self.log_file)}"
               f"\n--- {self.chall_log_file} ---\n{log_tail(self.chall_log_file)}")
        self.stop()
        raise RuntimeError(msg)

    def stop(self):
        """Stop both processes (terminate, then kill). Safe to call more than once."""
        for p in (self._pebble, self._chall):
            if p is not None:
                p.stop()
        self._pebble = None
        self._chall = None

    def restart(self):
        """Stop and start with the same ports and config. Pebble forgets accounts, orders, and its
        issuing root/intermediate (new keys), and TXT records are gone."""
        self.stop()
        return self.start()

    def running(self):
        return self._pebble is not None and self._pebble.running()

    # --- CA data ---------------------------------------------------------------------------
    def directory(self):
        """The ACME directory as a dict."""
        status, body = http_get(self.directory_url, cafile=self.ca_file)
        if status != 200:
            raise RuntimeError(f"pebble directory {self.directory_url}: HTTP {status}")
        return json.loads(body)

    def _mgmt_pem(self, path):
        status, body = http_get(f"{self.mgmt_url}{path}", cafile=self.ca_file)
        if status != 200:
            raise RuntimeError(f"pebble {path}: HTTP {status}: {body[:200]!r}")
        return body.decode()

    def root_pem(self, index=0):
        """PEM of pebble's issuing root number `index` (changes on every restart)."""
        return self._mgmt_pem(f"/roots/{index}")

    def intermediate_pem(self, index=0):
        """PEM of the intermediate that signs issued certificates."""
        return self._mgmt_pem(f"/intermediates/{index}")

    def write_root(self, path, index=0):
        """Write the issuing root PEM to `path` (e.g. as a trust file for verifying chains)."""
        Path(path).write_text(self.root_pem(index))
        return Path(path)

    # --- DNS (challtestsrv) ----------------------------------------------------------------
    @staticmethod
    def _fqdn(host):
        return host if host.endswith(".") else host + "."

    def set_txt(self, host, value):
        """Serve TXT `value` for `host` (e.g. "_acme-challenge.example.org")."""
        status, body = http_post_json(f"{self.chall_mgmt_url}/set-txt",
                                      {"host": self._fqdn(host), "value": value})
        if status != 200:
            raise RuntimeError(f"challtestsrv set-txt {host}: HTTP {status}: {body!r}")

    def clear_txt(self, host):
        status, body = http_post_json(f"{self.chall_mgmt_url}/clear-txt", {"host": self._fqdn(host)})
        if status != 200:
            raise RuntimeError(f"challtestsrv clear-txt {host}: HTTP {status}: {body!r}")

    def log_tail(self, lines=40):
        return log_tail(self.log_file, lines)


# bundled.py: makes an MD store with Debian's bundled mod_md (a reference for take-over tests).
# Runs it in a private apache2 against pebble, waits until both MDs are staged, graceful-restarts to promote.

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .httpd import Httpd
from .procs import wait_until

BUNDLED_MODULE = "/usr/lib/apache2/modules/mod_md.so"
RSA_MD = ("one.example.org", "www.one.example.org")
EC_MD = ("two.example.org",)
EC_KEY_SPEC = "secp256r1"
ADMIN_EMAIL = "admin@example.org"
STAGE_TIMEOUT_SECONDS = 120.0
PROMOTE_TIMEOUT_SECONDS = 30.0
# the bundled module names key files by key spec: pubcert.pem (RSA), pubcert.secp256r1.pem (EC)
CERT_GLOB = "pubcert*.pem"


@dataclass
class BundledStore:
    """What the bundled module left behind, with the CA that issued it (still running)."""
    store_dir: Path
    root_pem: str
    pebble: object
    mds: dict = field(default_factory=dict)      # first name -> list of names
    key_specs: dict = field(default_factory=dict)  # first name -> "rsa" or EC curve
    timings: dict = field(default_factory=dict)    # seconds: start->staged, graceful->promoted
    httpd_dir: Path = None


def bundled_config(pebble, store_dir, http_port, https_port):
    one, two = RSA_MD[0], EC_MD[0]
    return f"""
ServerAdmin mailto:{ADMIN_EMAIL}
MDCertificateAuthority {pebble.directory_url}
MDCACertificateFile {pebble.ca_file}
MDCertificateAgreement accepted
MDPortMap http:{http_port} https:{https_port}
MDCAChallenges http-01
MDStoreDir {store_dir}

MDomain {' '.join(RSA_MD)}
<MDomain {' '.join(EC_MD)}>
  MDPrivateKeys {EC_KEY_SPEC}
</MDomain>

<VirtualHost 127.0.0.1:{http_port}>
  ServerName {one}
  ServerAlias {' '.join(RSA_MD[1:] + EC_MD)}
</VirtualHost>

<VirtualHost 127.0.0.1:{https_port}>
  ServerName {one}
  ServerAlias {' '.join(RSA_MD[1:])}
  SSLEngine on
</VirtualHost>

<VirtualHost 127.0.0.1:{https_port}>
  ServerName {two}
  SSLEngine on
</VirtualHost>

<Location /md-status>
  SetHandler md-status
</Location>
"""


def _staged(httpd, store_dir, name):
    """Staged: the module said so (notice AH10059, logged at any LogLevel) and the cert is there."""
    said = f"The Managed Domain {name} has been setup" in httpd.error_log_text()
    return said and any((Path(store_dir) / "staging" / name).glob(CERT_GLOB))


def _promoted(store_dir, name):
    return any((Path(store_dir) / "domains" / name).glob(CERT_GLOB))


def make_bundled_store(workdir, pebble, http_port, https_port, promote=True):
    """Run the bundled mod_md until both MDs have certificates in domains/; return a BundledStore.

    `pebble` must already run with httpPort == http_port. httpd is stopped before returning.
    promote=False stops right after staging (certificates, keys, account only under staging/).
    """
    workdir = Path(workdir)
    store_dir = workdir / "md"
    httpd = Httpd(workdir, name="httpd-bundled", modules=[BUNDLED_MODULE], https=True,
                  http_port=http_port, https_port=https_port, log_level="info md:debug")
    httpd.write_config(bundled_config(pebble, store_dir, http_port, https_port))
    names = [RSA_MD[0], EC_MD[0]]
    timings = {}
    try:
        rc, out = httpd.configtest()
        if rc != 0:
            raise RuntimeError(f"bundled mod_md config does not pass -t:\n{out}")
        t0 = time.monotonic()
        httpd.start()
        timings["start"] = time.monotonic() - t0
        if not wait_until(lambda: all(_staged(httpd, store_dir, n) for n in names), STAGE_TIMEOUT_SECONDS, 0.1):
            raise RuntimeError(f"bundled mod_md did not stage {names} in {STAGE_TIMEOUT_SECONDS}s\n"
                               f"{httpd.error_log_tail(80)}\n--- pebble ---\n{pebble.log_tail()}")
        timings["staged"] = time.monotonic() - t0
        if not promote:
            return _result(store_dir, pebble, timings, httpd)
        t1 = time.monotonic()
        httpd.graceful()
        if not wait_until(lambda: all(_promoted(store_dir, n) for n in names), PROMOTE_TIMEOUT_SECONDS):
            raise RuntimeError(f"graceful did not promote {names}\n{httpd.error_log_tail(80)}")
        timings["promoted_after_graceful"] = time.monotonic() - t1
    finally:
        httpd.stop()
    return _result(store_dir, pebble, timings, httpd)


def _result(store_dir, pebble, timings, httpd):
    return BundledStore(
        store_dir=store_dir,
        root_pem=pebble.root_pem(),
        pebble=pebble,
        mds={RSA_MD[0]: list(RSA_MD), EC_MD[0]: list(EC_MD)},
        key_specs={RSA_MD[0]: "rsa", EC_MD[0]: EC_KEY_SPEC},
        timings=timings,
        httpd_dir=httpd.root,
    )


def md_status(httpd):
    """The md-status JSON of a running httpd (for polling and debugging)."""
    status, body = httpd.get("/md-status")
    return json.loads(body) if status == 200 else None

#!/usr/bin/python3
# demo.py: the README's demo -- a local ACME CA (Debian's pebble) and an httpd with our module on
# loopback ports; one ManagedDomain gets its certificate, curl fetches the site over verified HTTPS.
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test" / "e2e"))

from mdtest import ports  # noqa: E402
from mdtest.mdhttpd import MdHttpd, cert_dns_names  # noqa: E402
from mdtest.pebble import Pebble  # noqa: E402

DOMAIN = "www.example.test"
WAIT_SECONDS = 45  # pebble issues in well under a second; this is a generous ceiling


def say(msg):
    print(f"demo: {msg}", flush=True)


def served_issuer(httpd):
    cert = httpd.peer_cert(DOMAIN)
    return cert.issuer.rfc4514_string(), cert


def main():
    work = Path(tempfile.mkdtemp(prefix="mod_md-demo-", dir="/tmp"))
    work.chmod(0o755)  # the httpd children (User daemon) must reach the store below it
    http_port, https_port = ports.free_ports(2)
    pebble = Pebble(work, http_port=http_port, tls_port=https_port)
    httpd = MdHttpd(work, pebble=pebble,
                    md_conf=f"MDomain {DOMAIN}\nMDPrivateKeys secp256r1\n",
                    http_port=http_port, https_port=https_port, md_log_level="info")
    httpd.write_config(vhosts=httpd.vhost([DOMAIN]))
    (httpd.docroot / "index.html").write_text(f"Hello from {DOMAIN}, served by httpd + mod_md\n")
    ok = False
    try:
        say(f"starting pebble (ACME CA) on 127.0.0.1:{pebble.acme_port}")
        pebble.start()
        say(f"starting apache2 with mod_md: http 127.0.0.1:{http_port}, https 127.0.0.1:{https_port}")
        start = time.monotonic()
        httpd.start()
        say(f"ManagedDomain {DOMAIN}: waiting for the certificate ...")
        while time.monotonic() - start < WAIT_SECONDS:
            issuer, cert = served_issuer(httpd)
            if "Pebble" in issuer:
                break
            time.sleep(0.2)
        else:
            say("no certificate in time; the server's error log says:")
            print(httpd.error_log_tail(), flush=True)
            return 1
        say(f"certificate obtained and served after {time.monotonic() - start:.1f} s")
        root = pebble.write_root(work / "pebble-root.pem")
        url = f"https://{DOMAIN}:{https_port}/index.html"
        say(f"curl --cacert pebble-root.pem --resolve {DOMAIN}:{https_port}:127.0.0.1 {url}")
        r = subprocess.run(["curl", "-sS", "--cacert", str(root), "--resolve",
                            f"{DOMAIN}:{https_port}:127.0.0.1", url],
                           capture_output=True, text=True, timeout=30)
        print(r.stdout or r.stderr, end="", flush=True)
        if r.returncode != 0:
            return 1
        say("the certificate the server presents:")
        print(f"  subject:  {cert.subject.rfc4514_string()}")
        print(f"  names:    {', '.join(cert_dns_names(cert))}")
        print(f"  issuer:   {issuer}")
        print(f"  valid:    {cert.not_valid_before} .. {cert.not_valid_after} (UTC)")
        ok = True
        return 0
    finally:
        httpd.stop()
        pebble.stop()
        say("stopped apache2 and pebble")
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            say(f"kept {work} for a look")


if __name__ == "__main__":
    sys.exit(main())

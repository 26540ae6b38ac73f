# ocsp.py: a CA of the test's own whose certificates name an OCSP responder on 127.0.0.1, and
# that responder (`openssl ocsp -index`), to test stapling against a real OCSP server.

import datetime
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from . import ports
from .procs import Process, wait_until

CERT_DAYS = 30
# nextUpdate of the responder's answers: the module renews within MDStaplingRenewWindow of it
RESPONSE_MINUTES = 60
START_TIMEOUT_SECONDS = 10.0
INDEX_TIME_FORMAT = "%y%m%d%H%M%SZ"
READY_MARK = "waiting for OCSP client connections"
# how long the responder waits for a request on a connection
REQUEST_TIMEOUT_SECONDS = 5


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class OcspResponder:
    """`openssl ocsp` answering for the certificates add()ed to its index.txt, signing as the
    issuer (signer_cert / signer_key files) on 127.0.0.1:port, under directory d."""

    def __init__(self, d, signer_cert, signer_key, port=None):
        self.dir = Path(d)
        self.signer_cert, self.signer_key = signer_cert, signer_key
        self.port = port or ports.free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.index = self.dir / "index.txt"
        self.index.write_text("")
        # renewed certificates share their subject: OpenSSL's index refuses that unless told
        self.index.with_name("index.txt.attr").write_text("unique_subject = no\n")
        self._entries = {}  # serial -> (cert, revoked)
        self.proc = None

    def add(self, cert, revoked=False):
        """Puts cert into index.txt, valid or revoked (the responder reads it again when it
        changes)."""
        self._entries[cert.serial_number] = (cert, revoked)
        lines = []
        now = datetime.datetime.now(datetime.timezone.utc).strftime(INDEX_TIME_FORMAT)
        for serial, (c, rev) in sorted(self._entries.items()):
            expiry = c.not_valid_after.strftime(INDEX_TIME_FORMAT)
            cns = c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            subject = "/CN=" + (cns[0].value if cns else "none")
            lines.append("\t".join(["R" if rev else "V", expiry, now if rev else "",
                                    f"{serial:X}", "unknown", subject]))
        tmp = self.index.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in lines))
        tmp.replace(self.index)

    def start(self):
        """Runs the responder on self.port; waits until it accepts."""
        self.stop()
        argv = ["openssl", "ocsp", "-index", str(self.index), "-port", str(self.port),
                "-rsigner", str(self.signer_cert), "-rkey", str(self.signer_key),
                "-CA", str(self.signer_cert), "-nmin", str(RESPONSE_MINUTES), "-ignore_err",
                "-timeout", str(REQUEST_TIMEOUT_SECONDS)]
        log = self.dir / "responder.log"
        log.write_text("")
        self.proc = Process("ocsp-responder", argv, log).start()
        # not a probing connect: OpenSSL 3.0's responder hangs on a connection closed unasked
        if not wait_until(lambda: READY_MARK in log.read_text(), START_TIMEOUT_SECONDS):
            raise RuntimeError(f"openssl ocsp did not listen on {self.port}:\n{self.proc.tail()}")
        return self

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    def log(self):
        return self.proc.tail() if self.proc else ""


def pebble_responder(workdir, pebble, port):
    """A responder signing as pebble's intermediate (its key from pebble's management API), for
    a pebble whose config has "ocspResponderURL": f"http://127.0.0.1:{port}/"."""
    d = Path(workdir) / "pebble-ocsp"
    d.mkdir(parents=True, exist_ok=True)
    (d / "intermediate.pem").write_text(pebble.intermediate_pem())
    (d / "intermediate.key").write_text(pebble._mgmt_pem("/intermediate-keys/0"))  # noqa: SLF001
    return OcspResponder(d, d / "intermediate.pem", d / "intermediate.key", port)


class OcspCA:
    """A root CA (also signs the OCSP answers) under workdir/name; issue() makes server
    certificates with an AIA OCSP URL pointing at this CA's responder port."""

    def __init__(self, workdir, name="ocsp-ca", port=None):
        self.dir = Path(workdir) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder()
                     .subject_name(_name("mdtest OCSP CA")).issuer_name(_name("mdtest OCSP CA"))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=CERT_DAYS * 2))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(True, False, False, False, False, True, True,
                                                  False, False), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.ca_file = self.dir / "ca.pem"
        self.ca_file.write_bytes(_pem(self.cert))
        self.key_file = self.dir / "ca.key"
        self.key_file.write_bytes(_key_pem(self.key))
        self.responder = OcspResponder(self.dir, self.ca_file, self.key_file, port)
        self.url = self.responder.url

    def issue(self, names, ocsp_url=None, with_aia=True):
        """A server certificate (EC P-256) for names, chain = leaf + CA; files under the CA's dir.
        Returns (cert_file, key_file, cryptography cert)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        b = (x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(self.cert.subject)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(hours=1))
             .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
             .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False))
        if with_aia:
            b = b.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier(ocsp_url or self.url))]), False)
        cert = b.sign(self.key, hashes.SHA256())
        base = self.dir / f"{names[0]}.{cert.serial_number:x}"
        cert_file, key_file = Path(f"{base}.pem"), Path(f"{base}.key")
        cert_file.write_bytes(_pem(cert) + _pem(self.cert))
        key_file.write_bytes(_key_pem(key))
        self.responder.add(cert)
        return cert_file, key_file, cert

    def revoke(self, cert):
        self.responder.add(cert, revoked=True)

    def start_responder(self):
        self.responder.start()
        return self

    def stop_responder(self):
        self.responder.stop()

    def responder_log(self):
        return self.responder.log()


def staple_of(port, server_name, ca_file, timeout=20):
    """What `openssl s_client -status` says of the staple for server_name on 127.0.0.1:port:
    (cert_status, text), cert_status 'good' / 'revoked' / 'unknown' / None (no staple).
    The text has the staple's "Serial Number: <HEX>" line."""
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", server_name,
            "-status", "-CAfile", str(ca_file)]
    r = subprocess.run(argv, input=b"", capture_output=True, timeout=timeout)
    text = r.stdout.decode(errors="replace")
    if "OCSP response: no response sent" in text or "OCSP Response Status" not in text:
        return None, text
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Cert Status:"):
            return line.split(":", 1)[1].strip(), text
    return None, text

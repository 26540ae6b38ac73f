# mdhttpd.py: an apache2 with our build/mod_md.so (as md_module), mod_ssl, an https listener and a
# base config for managed domains (store, CA, trust, port map); vhost text and TLS inspection helpers.

import json
import os
import socket
import ssl
from pathlib import Path

from cryptography import x509

from .httpd import Httpd
from .procs import wait_until

REPO_DIR = Path(__file__).resolve().parents[3]
# MDTEST_MOD_MD points the tests at another build (e.g. build-san/mod_md.so)
MOD_MD_PATH = Path(os.environ.get("MDTEST_MOD_MD", REPO_DIR / "build" / "mod_md.so"))
# the module built with AddressSanitizer + UBSan (make BUILD=build-san SAN=1): apache2 itself is
# not, so the sanitizer runtimes are preloaded; an error aborts the child ("exit signal Abort")
# and leaves its report in the log directory given
SAN_MOD_MD_PATH = REPO_DIR / "build-san" / "mod_md.so"
# from start to a certificate served: pebble answers in well under a second, but a loaded CI
# machine and a retry or two take their time
SERVED_TIMEOUT_SECONDS = 40.0
SAN_RUNTIMES = ("/usr/lib/gcc/x86_64-linux-gnu/12/libasan.so",
                "/usr/lib/gcc/x86_64-linux-gnu/12/libubsan.so")


def san_env(log_dir):
    """The environment apache2 needs to load SAN_MOD_MD_PATH; reports go to log_dir/*san.*."""
    return {"LD_PRELOAD": " ".join(SAN_RUNTIMES),
            "ASAN_OPTIONS": f"detect_leaks=0:abort_on_error=1:log_path={log_dir}/asan",
            "UBSAN_OPTIONS": f"print_stacktrace=1:halt_on_error=1:abort_on_error=1:"
                             f"log_path={log_dir}/ubsan"}
TLS_TIMEOUT_SECONDS = 5.0


class MdHttpd(Httpd):
    """An Httpd that loads our module and listens on http_port and https_port (127.0.0.1).

    store_dir: MDStoreDir (default <ServerRoot>/md, what the module uses without the directive).
    pebble:    a Pebble; its directory, listener trust file and agreement are configured.
    ca_url / ca_file: instead of pebble (e.g. an unreachable CA).
    port_map:  True: 'MDPortMap http:<http_port> https:<https_port>'; a string: used as is;
               None/False: no MDPortMap line.
    md_conf:   module directives after the base ones (MDs, sections, settings).
    vhosts:    config text for the vhosts (see vhost()); extra_conf: anything after it.
    md_log_level: LogLevel for md (module messages and the core library's).
    mod_md:    the mod_md.so to load (default MOD_MD_PATH).
    """

    def __init__(self, workdir, name="httpd", store_dir=None, pebble=None, ca_url=None,
                 ca_file=None, port_map=True, md_conf="", vhosts="", extra_conf="", modules=(),
                 md_log_level="debug", mod_md=None, **kwargs):
        super().__init__(workdir, name=name,
                         modules=[("md_module", str(mod_md or MOD_MD_PATH)), *modules],
                         https=True, **kwargs)
        self.store_dir = Path(store_dir) if store_dir else self.root / "md"
        self.pebble = pebble
        self.ca_url = ca_url
        self.ca_file = ca_file
        self.port_map = port_map
        self.md_conf = md_conf
        self.vhosts = vhosts
        self.extra = extra_conf
        self.md_log_level = md_log_level
        self.extra_conf = self._compose()

    # --- configuration -----------------------------------------------------------------------
    def base_md_conf(self):
        """The module directives every test wants: store, CA and its trust, agreement, ports."""
        lines = [f"LogLevel {self.log_level} md:{self.md_log_level} ssl:info",
                 f"MDStoreDir {self.store_dir}"]
        ca_url = self.ca_url or (self.pebble.directory_url if self.pebble else None)
        ca_file = self.ca_file or (self.pebble.ca_file if self.pebble else None)
        if ca_url:
            lines.append(f"MDCertificateAuthority {ca_url}")
        if ca_file:
            lines.append(f"MDCACertificateFile {ca_file}")
        lines.append("MDCertificateAgreement accepted")
        if self.port_map is True:
            lines.append(f"MDPortMap http:{self.http_port} https:{self.https_port}")
        elif self.port_map:
            lines.append(f"MDPortMap {self.port_map}")
        return "\n".join(lines)

    def vhost(self, names, https=True, extra=""):
        """A <VirtualHost> on the https (SSLEngine on, no certificate directives) or http port for
        names[0] with the other names as ServerAlias."""
        names = [names] if isinstance(names, str) else list(names)
        port = self.https_port if https else self.http_port
        lines = [f"<VirtualHost 127.0.0.1:{port}>", f"    ServerName {names[0]}"]
        if len(names) > 1:
            lines.append(f"    ServerAlias {' '.join(names[1:])}")
        lines.append(f"    DocumentRoot {self.docroot}")
        if https:
            lines.append("    SSLEngine on")
        if extra:
            lines.extend(f"    {line}" for line in extra.strip().splitlines())
        lines.append("</VirtualHost>")
        return "\n".join(lines) + "\n"

    def _compose(self):
        return "\n".join([self.base_md_conf(), self.md_conf, self.vhosts, self.extra, ""])

    def write_config(self, extra_conf=None, md_conf=None, vhosts=None):
        """(Re)write httpd.conf; md_conf / vhosts / extra_conf replace the earlier text when given."""
        if md_conf is not None:
            self.md_conf = md_conf
        if vhosts is not None:
            self.vhosts = vhosts
        if extra_conf is not None:
            self.extra = extra_conf
        self.extra_conf = self._compose()
        self.conf_path.write_text(self.config_text())
        return self.conf_path

    def conf_line_of(self, text):
        """1-based line number of the first httpd.conf line containing text (for file:line checks)."""
        for i, line in enumerate(self.conf_path.read_text().splitlines(), start=1):
            if text in line:
                return i
        raise ValueError(f"{text!r} not in {self.conf_path}")

    # --- the store -----------------------------------------------------------------------------
    def domain_dir(self, name):
        return self.store_dir / "domains" / name

    def md_json(self, name):
        """domains/<name>/md.json as a dict."""
        return json.loads((self.domain_dir(name) / "md.json").read_text())

    # --- TLS ---------------------------------------------------------------------------------
    def peer_cert(self, server_name, cafile=None, port=None):
        """The certificate the https port serves for SNI server_name (cryptography x509).
        With cafile the chain and the name are verified, else nothing is."""
        ctx = ssl.create_default_context(cafile=str(cafile)) if cafile else \
            ssl._create_unverified_context()  # noqa: SLF001 - we inspect what is served
        with socket.create_connection(("127.0.0.1", port or self.https_port),
                                      timeout=TLS_TIMEOUT_SECONDS) as sock:
            with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
                der = tls.getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der)

    def verified_cert(self, server_name, cafile):
        """The certificate served for server_name if it verifies against cafile, else None."""
        try:
            return self.peer_cert(server_name, cafile=cafile)
        except (OSError, ValueError):
            return None

    def wait_served(self, server_name, cafile, timeout=SERVED_TIMEOUT_SECONDS):
        """Waits until a certificate that verifies against cafile is served; it, or None."""
        return wait_until(lambda: self.verified_cert(server_name, cafile), timeout, interval=0.25)

    def https_get(self, server_name, path="/", cafile=None):
        """GET over TLS with SNI and Host server_name on the https port; returns (status, body)."""
        ctx = ssl.create_default_context(cafile=str(cafile)) if cafile else \
            ssl._create_unverified_context()  # noqa: SLF001
        with socket.create_connection(("127.0.0.1", self.https_port),
                                      timeout=TLS_TIMEOUT_SECONDS) as sock:
            with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
                tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {server_name}\r\n"
                            f"Connection: close\r\n\r\n".encode())
                data = b""
                while chunk := tls.recv(65536):
                    data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, body


def cert_dns_names(cert):
    """The subjectAltName DNS names of a cryptography certificate, sorted."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return sorted(san.get_values_for_type(x509.DNSName))

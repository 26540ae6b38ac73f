# test_drive_proxy.py: 'a2md -p <proxy> drive' reaches the CA through an HTTP proxy (CONNECT),
# as operators behind an outgoing proxy need, and a dead proxy is a clear error.
import json
import socket
import ssl
import threading

from mdtest import ports
from mdtest.mdhttpd import MdHttpd
from mdtest.procs import wait_until
from test_drive import check_chain, env  # noqa: F401  (env is a fixture)

DOMAIN = "www.example.test"
SERVED_TIMEOUT_SECONDS = 40.0

RELAY_CHUNK = 65536


class ConnectProxy:
    """A minimal HTTP CONNECT proxy on loopback that records where clients tunnel to; with
    tls=(cert file, key file) an https:// proxy (clients talk TLS to the proxy itself)."""

    def __init__(self, tls=None):
        self.tls = None
        if tls:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(*map(str, tls))
        self.port = ports.free_port()
        self.targets = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        if self.tls:
            try:
                client = self.tls.wrap_socket(client, server_side=True)
            except (OSError, ssl.SSLError):
                client.close()  # the client did not trust us: nothing tunnelled
                return
        head = b""
        while b"\r\n\r\n" not in head:
            data = client.recv(RELAY_CHUNK)
            if not data:
                client.close()
                return
            head += data
        method, target = head.split(b" ")[:2]
        host, port = target.decode().rsplit(":", 1)
        if method != b"CONNECT" or host != "127.0.0.1":
            client.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            client.close()
            return
        self.targets.append(target.decode())
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._relay, args=(a, b), daemon=True).start()

    @staticmethod
    def _relay(src, dst):
        try:
            while (data := src.recv(RELAY_CHUNK)):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


def test_drive_through_a_proxy(env):  # noqa: F811
    proxy = ConnectProxy()
    try:
        name = env.add("proxied.example.org")
        r = env.a2md("-p", f"http://127.0.0.1:{proxy.port}", "drive", name)
        assert r.rc == 0, r
        check_chain(env, env.staged(name), ["proxied.example.org"])
        ca = env.pebble.directory_url.split("/")[2]
        assert ca in proxy.targets, proxy.targets
    finally:
        proxy.close()


def test_drive_with_a_dead_proxy_fails_clearly(env):  # noqa: F811
    name = env.add("noproxy.example.org")
    dead = ports.free_port()
    r = env.a2md("-p", f"http://127.0.0.1:{dead}", "drive", name)
    assert r.rc == 1
    assert name in r.err and "127.0.0.1" in r.err
    assert not env.staged(name).exists()


def test_module_through_an_https_proxy_it_trusts_by_its_own_file(workdir, pebble_factory):
    """MDHttpProxy https://... with MDHttpProxyCACertificateFile: the proxy's own certificate is
    checked against that file (here: not one the system trusts)."""
    http_port, https_port = ports.free_ports(2)
    pebble = pebble_factory(http_port=http_port, tls_port=https_port)
    proxy = ConnectProxy(tls=(pebble.ca_file, pebble.key_file))
    root = pebble.write_root(workdir / "pebble-root.pem")
    made = []

    def start(lines):
        h = MdHttpd(workdir, name=f"httpd{len(made)}", pebble=pebble, http_port=http_port,
                    https_port=https_port)
        made.append(h)
        h.write_config(md_conf="\n".join(["MDPrivateKeys secp256r1", "MDCAChallenges http-01",
                                          "MDRetryDelay 1s", "ServerAdmin admin@example.test",
                                          f"MDHttpProxy https://127.0.0.1:{proxy.port}",
                                          *lines, f"MDomain {DOMAIN}"]),
                       vhosts=h.vhost(DOMAIN),
                       extra_conf="<Location /md-status>\n  SetHandler md-status\n</Location>\n")
        h.start()
        return h

    def job_error(h):
        st, body = h.get(f"/md-status/{DOMAIN}")
        job = json.loads(body).get("staging", {}).get("job", {}) if st == 200 else {}
        return job.get("error")

    try:
        # without the file, the proxy is not trusted: nothing reaches the CA, the error says so
        h = start([])
        err = wait_until(lambda: job_error(h), SERVED_TIMEOUT_SECONDS, interval=0.25)
        assert err and "proxy" in err["detail"].lower(), (err, h.error_log_tail(40))
        assert not proxy.targets
        h.stop()
        # with it, the certificate comes through the proxy
        h = start([f"MDHttpProxyCACertificateFile {pebble.ca_file}"])

        assert h.wait_served(DOMAIN, root), h.error_log_tail(60)
        assert pebble.directory_url.split("/")[2] in proxy.targets, proxy.targets
    finally:
        for h in made:
            h.stop()
        proxy.close()


def test_module_md_with_a_proxy_of_its_own(workdir, pebble_factory):
    """MDHttpProxy inside an MD's section: that MD's requests go through it, no one else's."""
    http_port, https_port = ports.free_ports(2)
    pebble = pebble_factory(http_port=http_port, tls_port=https_port)
    proxy = ConnectProxy()
    root = pebble.write_root(workdir / "pebble-root.pem")
    h = MdHttpd(workdir, pebble=pebble, http_port=http_port, https_port=https_port)
    try:
        h.write_config(md_conf="\n".join(["MDPrivateKeys secp256r1", "MDCAChallenges http-01",
                                          "MDRetryDelay 1s", "ServerAdmin admin@example.test",
                                          f"<MDomain {DOMAIN}>",
                                          f"  MDHttpProxy http://127.0.0.1:{proxy.port}",
                                          "</MDomain>"]),
                       vhosts=h.vhost(DOMAIN))
        h.start()
        assert h.wait_served(DOMAIN, root), h.error_log_tail(60)
        assert pebble.directory_url.split("/")[2] in proxy.targets, proxy.targets
    finally:
        h.stop()
        proxy.close()

# test_drive_proxy.py: 'a2md -p <proxy> drive' reaches the CA through an HTTP proxy (CONNECT),
# as operators behind an outgoing proxy need, and a dead proxy is a clear error.
import socket
import threading

from mdtest import ports
from test_drive import check_chain, env  # noqa: F401  (env is a fixture)

RELAY_CHUNK = 65536


class ConnectProxy:
    """A minimal HTTP CONNECT proxy on loopback that records where clients tunnel to."""

    def __init__(self):
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

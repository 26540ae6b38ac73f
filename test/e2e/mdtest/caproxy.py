# caproxy.py: an HTTPS reverse proxy of our own in front of pebble 2.10, for answers pebble does not
# give (429 with Retry-After, say). pebble 2.10 takes its URLs from the Host header, so every URL
# it hands out leads back through the proxy. Everything not injected is pebble's own answer.
import base64
import http.client
import http.server
import json
import ssl
import threading

from . import ports
from .procs import ssl_context

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "content-length"}
UPSTREAM_TIMEOUT_SECONDS = 30.0


class CaProxy:
    """Listens on 127.0.0.1 (pebble's listener certificate, so pebble's ca_file is its trust too)
    and forwards to pebble. inject(method, path) -> None (forward) or (status, headers, body);
    rewrite(method, path, (status, headers, body)) -> what goes back instead of pebble's answer;
    requests records (method, path) of everything that came, injected or not; bodies the same
    with the request body: (method, path, bytes)."""

    def __init__(self, pebble, inject=None):
        self.pebble = pebble
        self.inject = inject or (lambda method, path: None)
        self.rewrite = lambda method, path, answer: answer
        self.port = ports.free_port()
        self.requests = []
        self.bodies = []
        self.lock = threading.Lock()
        self._server = None
        self._thread = None

    @property
    def directory_url(self):
        return f"https://127.0.0.1:{self.port}/dir"

    def path_of(self, directory_key):
        """The path of one of pebble's directory URLs (newOrder, ...), as requests show it."""
        url = self.pebble.directory()[directory_key]
        return "/" + url.split("/", 3)[3]

    def jws_payloads(self, method, path):
        """The JSON payloads of the JWS requests (RFC 8555 6.2) that came for method and path."""
        with self.lock:
            bodies = [b for m, p, b in self.bodies if m == method and p == path]
        payloads = []
        for body in bodies:
            b64 = json.loads(body)["payload"]
            payloads.append(json.loads(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))))
        return payloads

    def count(self, method, path):
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and p == path)

    def start(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _relay(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy.lock:
                    proxy.requests.append((self.command, self.path))
                    proxy.bodies.append((self.command, self.path, body))
                answer = proxy.inject(self.command, self.path)
                if answer is None:
                    answer = proxy.rewrite(self.command, self.path,
                                           proxy._forward(self.command, self.path, self.headers,
                                                          body))
                status, headers, data = answer
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_HEAD = _relay

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.pebble.ca_file, self.pebble.key_file)
        self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def _forward(self, method, path, headers, body):
        conn = http.client.HTTPSConnection("127.0.0.1", self.pebble.acme_port,
                                           context=ssl_context(self.pebble.ca_file),
                                           timeout=UPSTREAM_TIMEOUT_SECONDS)
        try:
            out = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
            out["Host"] = f"127.0.0.1:{self.port}"  # pebble's URLs lead back here
            conn.request(method, path, body=body or None, headers=out)
            r = conn.getresponse()
            return r.status, r.getheaders(), r.read()
        finally:
            conn.close()

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def authz_identifier_as(value):
    """A rewrite that makes every authorization pebble hands out name `value` (a CA asking to
    authorize something the MD does not name)."""
    def rewrite(method, path, answer):
        status, headers, body = answer
        if method == "POST" and path.startswith("/authZ/") and status == 200:
            authz = json.loads(body)
            authz["identifier"]["value"] = value
            body = json.dumps(authz).encode()
        return status, headers, body
    return rewrite


def rate_limited(retry_after_seconds, detail="too many new orders recently"):
    """A 429 answer with a rateLimited problem and Retry-After, as Let's Encrypt sends it."""
    problem = {"type": "urn:ietf:params:acme:error:rateLimited", "detail": detail, "status": 429}
    return (429, [("Content-Type", "application/problem+json"),
                  ("Retry-After", str(retry_after_seconds))], json.dumps(problem).encode())

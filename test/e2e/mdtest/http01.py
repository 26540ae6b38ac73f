# http01.py: a tiny http-01 responder for tests without a web server: answers the CA's
# /.well-known/acme-challenge/<token> from <store>/challenges/<host>/acme-http-01.txt.

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import ports

CHALLENGE_PREFIX = "/.well-known/acme-challenge/"
HTTP01_FILE = "acme-http-01.txt"


class Http01Responder:
    """Serves key authorizations from a store's challenges/ on 127.0.0.1:port in a thread.

    wrong=True answers every request with a bad key authorization; delay (seconds) holds
    each answer back; on_request(host, token) is called before answering. Use start()/stop().
    """

    def __init__(self, store_dir, port):
        self.store_dir = Path(store_dir)
        self.port = port
        self.wrong = False
        self.delay = 0.0
        self.on_request = None
        self.requests = []  # (host, token) in the order the CA asked
        self._server = None
        self._thread = None

    def answer(self, host, token):
        """The key authorization for host/token, or None (-> 404)."""
        path = self.store_dir / "challenges" / host / HTTP01_FILE
        try:
            content = path.read_text().strip()
        except OSError:
            return None
        if not content.startswith(token + "."):
            return None
        return content

    def _handler(self):
        responder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                host = (self.headers.get("Host") or "").split(":")[0].lower()
                if not self.path.startswith(CHALLENGE_PREFIX):
                    self._reply(404, b"not a challenge\n")
                    return
                token = self.path[len(CHALLENGE_PREFIX):]
                responder.requests.append((host, token))
                if responder.on_request:
                    responder.on_request(host, token)
                if responder.delay:
                    time.sleep(responder.delay)
                body = responder.answer(host, token)
                if responder.wrong:
                    body = f"{token}.not-the-thumbprint"
                if body is None:
                    self._reply(404, b"no such challenge\n")
                else:
                    self._reply(200, body.encode())

            def _reply(self, status, body):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the CA went away while we were answering

            def log_message(self, *args):
                pass

        return Handler

    def start(self):
        self._server = ThreadingHTTPServer((ports.LOOPBACK, self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

# ports.py: hands out free high TCP/UDP ports on 127.0.0.1 for test servers.
# The kernel picks each port (bind to port 0); ports already handed out in this process are never reused.

import socket
import threading
import time

LOOPBACK = "127.0.0.1"
# below this the kernel's ephemeral range starts on Linux; we want high ports only
MIN_PORT = 10000
MAX_TRIES = 200

_lock = threading.Lock()
_handed_out = set()


def _port_is_free(port):
    """True when both TCP and UDP can bind 127.0.0.1:port right now."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_port():
    """Return a high port on 127.0.0.1 that is free for TCP and UDP and not given out before."""
    with _lock:
        for _ in range(MAX_TRIES):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((LOOPBACK, 0))
                port = s.getsockname()[1]
            finally:
                s.close()
            if port < MIN_PORT or port in _handed_out or not _port_is_free(port):
                continue
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port on {LOOPBACK} after {MAX_TRIES} tries")


def free_ports(count):
    """Return a list of `count` distinct free ports."""
    return [free_port() for _ in range(count)]


def wait_for_port(port, timeout, host=LOOPBACK):
    """Wait until a TCP connect to host:port succeeds; return True, or False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False

# procs.py: starts a long-running helper process with its output in a log file, and stops it for sure.
# Also small shared helpers: reading a log tail, HTTP(S) requests with a given CA file, polling.

import atexit
import json
import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request

STOP_GRACE_SECONDS = 5.0
KILL_WAIT_SECONDS = 5.0
LOG_TAIL_LINES = 40
HTTP_TIMEOUT_SECONDS = 5.0


def log_tail(path, lines=LOG_TAIL_LINES):
    """The last `lines` lines of a text file, or a note when it does not exist."""
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"<no log {path}: {e}>"


# last line of defence: whatever a fixture failed to stop dies when the interpreter exits
_live = set()


def _stop_all_at_exit():
    for thing in list(_live):
        try:
            thing.stop()
        except Exception:  # noqa: BLE001 - exiting anyway, try the others
            pass


atexit.register(_stop_all_at_exit)


def track(thing):
    """Make sure thing.stop() runs at interpreter exit (if nobody stopped it before)."""
    _live.add(thing)


def untrack(thing):
    _live.discard(thing)


class Process:
    """One child process whose stdout and stderr go to `log_path`."""

    def __init__(self, name, argv, log_path, env=None, cwd=None):
        self.name = name
        self.argv = list(argv)
        self.log_path = str(log_path)
        self.env = env
        self.cwd = cwd
        self.proc = None

    def start(self):
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        log = open(self.log_path, "ab")
        try:
            # own process group so that stop() also reaches anything it forks
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.cwd,
                start_new_session=True,
            )
        finally:
            log.close()
        track(self)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, wait a little, then SIGKILL the whole process group. Safe to call twice."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        untrack(self)
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=KILL_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            pass

    def tail(self, lines=LOG_TAIL_LINES):
        return log_tail(self.log_path, lines)


def ssl_context(cafile):
    """A client TLS context that trusts exactly `cafile` and checks host names."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    return ctx


def http_get(url, cafile=None, timeout=HTTP_TIMEOUT_SECONDS):
    """GET url; returns (status, body bytes). HTTPS trusts only `cafile`. HTTP errors are returned, not raised."""
    ctx = ssl_context(cafile) if url.startswith("https:") else None
    req = urllib.request.Request(url, method="GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def http_post_json(url, obj, cafile=None, timeout=HTTP_TIMEOUT_SECONDS):
    """POST obj as JSON; returns (status, body bytes)."""
    ctx = ssl_context(cafile) if url.startswith("https:") else None
    data = json.dumps(obj).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_until(predicate, timeout, interval=0.1):
    """Call predicate until it returns something true; return that value, or None on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)

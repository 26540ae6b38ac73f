# conftest.py: pytest fixtures for the e2e tests: work dirs, pebble (+challtestsrv), apache2, bundled store.
# Every fixture stops what it started at teardown, also when the test fails.

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from mdtest import ports
from mdtest.bundled import make_bundled_store
from mdtest.httpd import Httpd
from mdtest.pebble import Pebble

# apache2 children run as `daemon`: their files must lie under directories they can traverse,
# which pytest's tmp_path (mode 0700 under /tmp/pytest-of-root) is not.
WORK_DIR_MODE = 0o755
KEEP_ENV = "MDTEST_KEEP"  # set to 1 to keep the work dirs even when all tests passed


@pytest.fixture(scope="session")
def mdtest_root(request):
    """A world-traversable directory for this test session, removed at the end unless a test failed."""
    root = Path(tempfile.mkdtemp(prefix="mdtest-", dir="/tmp"))
    root.chmod(WORK_DIR_MODE)
    yield root
    if request.session.testsfailed or os.environ.get(KEEP_ENV):
        print(f"\nmdtest: kept work dirs in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def workdir(mdtest_root, request):
    """Per-test directory (0755) under mdtest_root, named after the test."""
    module = Path(request.node.fspath).stem
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{module}.{request.node.name}")[:120]
    d = mdtest_root / name
    d.mkdir(mode=WORK_DIR_MODE)
    d.chmod(WORK_DIR_MODE)
    return d


@pytest.fixture
def pebble_factory(workdir):
    """make(http_port=None, tls_port=None, env=None, name="pebble") -> started Pebble; all stopped after."""
    made = []

    def make(**kwargs):
        p = Pebble(workdir, **kwargs)
        made.append(p)
        return p.start()

    yield make
    for p in made:
        p.stop()


@pytest.fixture
def pebble(pebble_factory):
    """A running pebble with default settings (validator ports are unused free ports)."""
    return pebble_factory()


@pytest.fixture
def httpd_factory(workdir):
    """make(**Httpd kwargs) -> Httpd (not started; call start()); all stopped after the test."""
    made = []

    def make(**kwargs):
        h = Httpd(workdir, **kwargs)
        made.append(h)
        return h

    yield make
    for h in made:
        h.stop()


@pytest.fixture(scope="session")
def bundled_store(mdtest_root):
    """A store made by Debian's bundled mod_md: MDs one.example.org (+www, RSA) and two.example.org
    (secp256r1), an account, certificates promoted to domains/. Its pebble keeps running for the
    session (it knows the account); copy store_dir before changing anything in it."""
    d = mdtest_root / "bundled"
    d.mkdir(mode=WORK_DIR_MODE)
    d.chmod(WORK_DIR_MODE)
    http_port, https_port = ports.free_ports(2)
    # nonce rejection only slows this fixture down; it is not what it is about
    p = Pebble(d, http_port=http_port, env={"PEBBLE_WFE_NONCEREJECT": "0"})
    p.start()
    try:
        yield make_bundled_store(d, p, http_port, https_port)
    finally:
        p.stop()

# test_drive.py: 'a2md drive' and 'a2md install' against a real pebble: MDs get staged, verified
# certificates (http-01 from a test responder, dns-01 via challtestsrv), failures leave domains/ alone.
import datetime
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from mdtest import ports
from mdtest.http01 import Http01Responder
from mdtest.procs import wait_until

ROOT = Path(__file__).resolve().parents[2]
A2MD = os.environ.get("MDTEST_A2MD", str(ROOT / "build" / "a2md"))  # e.g. an ASan build
A2MD_TIMEOUT_SECONDS = 60
PEM_END = "-----END CERTIFICATE-----"
# pebble's "mid-order" moments last milliseconds; the responder holds its answer this long
SLOW_ANSWER_SECONDS = 3.0


class Run:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self):
        return f"rc={self.rc}\nstdout:\n{self.out}\nstderr:\n{self.err}"


class Env:
    """A store, a pebble and an http-01 responder on pebble's httpPort."""

    def __init__(self, workdir, pebble):
        self.workdir = workdir
        self.pebble = pebble
        self.store = workdir / "md"
        self.responder = Http01Responder(self.store, pebble.http_port)

    def argv(self, *args):
        return [A2MD, "-d", str(self.store), "-C", str(self.pebble.ca_file)] + [str(a) for a in args]

    def a2md(self, *args):
        return Run(subprocess.run(self.argv(*args), capture_output=True, text=True,
                                  timeout=A2MD_TIMEOUT_SECONDS))

    def add(self, *names, pkeys=("secp256r1",), agree=True):
        r = self.a2md("-a", self.pebble.directory_url, *(["-t", "accepted"] if agree else []),
                      "add", *names)
        assert r.rc == 0, r
        if pkeys:
            r = self.a2md("update", names[0], "pkey", *pkeys)
            assert r.rc == 0, r
        return names[0]

    def job(self, name):
        path = self.store / "staging" / name / "job.json"
        return json.loads(path.read_text()) if path.exists() else None

    def staged(self, name, suffix=".secp256r1"):
        return self.store / "staging" / name / f"pubcert{suffix}.pem"


@pytest.fixture
def env(workdir, pebble_factory):
    pebble = pebble_factory(http_port=ports.free_port())
    e = Env(workdir, pebble)
    e.responder.start()
    yield e
    e.responder.stop()


def split_pem(text):
    return [c.strip() + "\n" + PEM_END + "\n" for c in text.split(PEM_END) if c.strip()]


def check_chain(env, path, names):
    """The chain verifies against pebble's issuing root and names exactly `names`."""
    certs = split_pem(path.read_text())
    assert len(certs) >= 2, "leaf plus intermediate expected"
    root = env.pebble.write_root(env.workdir / "root.pem")
    leaf, untrusted = env.workdir / "leaf.pem", env.workdir / "untrusted.pem"
    leaf.write_text(certs[0])
    untrusted.write_text("".join(certs[1:]))
    r = subprocess.run(["openssl", "verify", "-CAfile", str(root), "-untrusted", str(untrusted),
                        str(leaf)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    cert = x509.load_pem_x509_certificate(certs[0].encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == sorted(names)
    return cert


def write_dns01_hook(env):
    """The -D command: 'setup <domain> <txt>' / 'teardown <domain>' through challtestsrv."""
    script = env.workdir / "dns01.sh"
    url = env.pebble.chall_mgmt_url
    script.write_text(
        "#!/bin/sh\n"
        "# dns-01 hook for the tests: TXT records in pebble-challtestsrv\n"
        "case \"$1\" in\n"
        f"setup) curl -sf -d '{{\"host\":\"_acme-challenge.'\"$2\"'.\",\"value\":\"'\"$3\"'\"}}' "
        f"{url}/set-txt ;;\n"
        f"teardown) curl -sf -d '{{\"host\":\"_acme-challenge.'\"$2\"'.\"}}' {url}/clear-txt ;;\n"
        "*) exit 2 ;;\n"
        "esac\n")
    script.chmod(0o755)
    return script


def install_dummy(env, name, names):
    """A self-signed certificate in domains/<name> standing for the one being served."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .sign(key, hashes.SHA256()))
    d = env.store / "domains" / name
    (d / "pubcert.secp256r1.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "privkey.secp256r1.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    os.chmod(d / "privkey.secp256r1.pem", 0o600)
    return domains_files(env, name)


def domains_files(env, name):
    """The served keys and certificates (md.json may change: the drive records its account)."""
    return {p.name: p.read_bytes() for p in (env.store / "domains" / name).glob("*.pem")}


def md_status(env, name):
    r = env.a2md("-j", "list", name)
    assert r.rc == 0, r
    return json.loads(r.out)["output"][0]


# --- success ------------------------------------------------------------------------------

def test_drive_one_name_ec_then_install(env):
    name = env.add("one.example.org")
    r = env.a2md("drive", name)
    assert r.rc == 0, r
    assert f"{name}: staged" in r.out
    cert = check_chain(env, env.staged(name), ["one.example.org"])
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    # the staged key is encrypted with the store secret; the job says it is done
    assert "ENCRYPTED PRIVATE KEY" in (env.store / "staging" / name / "privkey.secp256r1.pem").read_text()
    job = env.job(name)
    assert job["step"] == "staged" and job["errors"] == 0 and "error" not in job
    assert [e["step"] for e in job["log"]] == ["account", "order", "authz", "finalize", "download",
                                               "staged"]
    # list shows the job; the account it chose goes into the MD when the set is installed
    status = md_status(env, name)
    assert "account" not in status["ca"]
    assert status["staging"]["job"]["step"] == "staged"
    assert status["state-name"] == "incomplete"

    r = env.a2md("install", name)
    assert r.rc == 0, r
    assert md_status(env, name)["ca"]["account"] == job["account"]
    assert not (env.store / "staging" / name).exists()
    check_chain(env, env.store / "domains" / name / "pubcert.secp256r1.pem", ["one.example.org"])
    key_pem = (env.store / "domains" / name / "privkey.secp256r1.pem").read_text()
    assert "BEGIN PRIVATE KEY" in key_pem
    assert md_status(env, name)["state-name"] == "complete"
    # complete now: a drive of all MDs has nothing to do, an install nothing to install
    r = env.a2md("drive")
    assert r.rc == 0 and "nothing to drive" in r.out, r
    assert env.a2md("install", name).rc == 1


def test_drive_three_names_rsa(env):
    names = ["a.example.org", "b.example.org", "c.example.org"]
    name = env.add(*names, pkeys=("rsa2048",))
    r = env.a2md("drive", name)
    assert r.rc == 0, r
    cert = check_chain(env, env.staged(name, suffix=""), names)
    assert isinstance(cert.public_key(), rsa.RSAPublicKey)
    assert cert.public_key().key_size == 2048
    # every name was asked for over http-01 at our responder
    assert sorted({host for host, _ in env.responder.requests}) == names


def test_drive_two_key_specs_two_certs(env):
    name = env.add("two.example.org", "www.two.example.org", pkeys=("secp256r1", "rsa2048"))
    r = env.a2md("drive", name)
    assert r.rc == 0, r
    ec_cert = check_chain(env, env.staged(name), ["two.example.org", "www.two.example.org"])
    rsa_cert = check_chain(env, env.staged(name, suffix=""), ["two.example.org", "www.two.example.org"])
    assert isinstance(ec_cert.public_key(), ec.EllipticCurvePublicKey)
    assert isinstance(rsa_cert.public_key(), rsa.RSAPublicKey)
    assert set(env.job(name)["orders"]) == {"secp256r1", "rsa2048"}
    assert env.a2md("install", name).rc == 0
    assert md_status(env, name)["state-name"] == "complete"


def test_drive_several_mds_at_once(env):
    names = [env.add(f"m{i}.example.org") for i in range(3)]
    r = env.a2md("drive", "-n", "3")
    assert r.rc == 0, r
    for n in names:
        assert f"{n}: staged" in r.out
        check_chain(env, env.staged(n), [n])


def test_drive_wildcard_dns01(env):
    name = env.add("wild.example.org", "*.wild.example.org")
    # without a dns-01 command the wildcard cannot be authorized: the error names it
    r = env.a2md("drive", name)
    assert r.rc == 1, r
    job = env.job(name)
    assert job["error"]["step"] == "authz"
    assert job["error"]["domain"] == "*.wild.example.org"
    assert "*.wild.example.org" in r.err
    hook = write_dns01_hook(env)
    r = env.a2md("drive", "-D", hook, name)
    assert r.rc == 0, r
    check_chain(env, env.staged(name), ["wild.example.org", "*.wild.example.org"])
    assert env.job(name)["errors"] == 0
    # -c restricts the types: dns-01 only, so the http-01 responder is never asked
    other = env.add("dnsonly.example.org")
    env.responder.requests.clear()
    r = env.a2md("drive", "-c", "dns-01", "-D", hook, other)
    assert r.rc == 0, r
    assert env.responder.requests == []
    check_chain(env, env.staged(other), ["dnsonly.example.org"])


def test_drive_badnonce_half_the_time(workdir, pebble_factory):
    pebble = pebble_factory(http_port=ports.free_port(), env={"PEBBLE_WFE_NONCEREJECT": "50"})
    env = Env(workdir, pebble)
    env.responder.start()
    try:
        name = env.add("nonce.example.org", "www.nonce.example.org")
        r = env.a2md("drive", name)
        assert r.rc == 0, r
        check_chain(env, env.staged(name), ["nonce.example.org", "www.nonce.example.org"])
    finally:
        env.responder.stop()


# --- failure and recovery -----------------------------------------------------------------

def test_drive_failed_challenge_keeps_served_cert(env):
    names = ["fail.example.org", "www.fail.example.org"]
    name = env.add(*names)
    before = install_dummy(env, name, names)
    env.responder.wrong = True
    r = env.a2md("drive", name)
    assert r.rc == 1, r
    assert f"{name}: failed in step authz" in r.out
    job = env.job(name)
    err = job["error"]
    assert err["step"] == "authz" and err["domain"] in names
    assert err["problem"]["type"].startswith("urn:ietf:params:acme:error:")
    assert err["problem"]["detail"]
    assert err["domain"] in err["detail"] or err["domain"] in r.err
    assert job["errors"] == 1 and job["next-try"] > err["when"]
    assert f"{name}: authz failed for {err['domain']}" in r.err
    assert domains_files(env, name) == before
    assert md_status(env, name)["staging"]["job"]["error"]["step"] == "authz"
    # nothing staged: install refuses and changes nothing
    assert env.a2md("install", name).rc == 1
    assert domains_files(env, name) == before
    # a second failure counts on, backing off further
    r = env.a2md("drive", name)
    assert r.rc == 1 and env.job(name)["errors"] == 2
    # with a correct answer the next run succeeds, the old set only goes at install
    env.responder.wrong = False
    r = env.a2md("drive", name)
    assert r.rc == 0, r
    assert domains_files(env, name) == before
    assert env.a2md("install", name).rc == 0
    assert domains_files(env, name) != before
    check_chain(env, env.store / "domains" / name / "pubcert.secp256r1.pem", names)


def test_drive_pebble_stopped_mid_order_then_rerun(env):
    name = env.add("restart.example.org")
    stopped = []

    def stop_pebble_once(host, token):
        if not stopped:
            stopped.append(token)
            env.pebble.stop()

    env.responder.on_request = stop_pebble_once
    r = env.a2md("drive", name)
    assert r.rc == 1, r
    assert stopped
    assert env.job(name)["step"] == "order"
    # while the CA was away polling asked again; that is said once, in the job's error line
    errors = [ln for ln in r.err.splitlines() if ln.startswith("a2md: ")]
    assert len(errors) == 1 and "next try at" in errors[0], r.err
    assert env.pebble.directory_url.rsplit("/", 1)[0] in env.job(name)["error"]["detail"]
    # the restarted pebble knows neither account nor order: both are made anew
    env.responder.on_request = None
    env.pebble.start()
    r = env.a2md("drive", name)
    assert r.rc == 0, r
    check_chain(env, env.staged(name), ["restart.example.org"])


def test_drive_pebble_reset_mid_order_registers_anew_in_the_same_run(env):
    name = env.add("reset.example.org")
    reset = []

    def reset_pebble_once(host, token):
        if not reset:
            reset.append(token)
            env.pebble.restart()  # a CA that forgot every account and order

    env.responder.on_request = reset_pebble_once
    r = env.a2md("-v", "drive", name)
    assert reset
    assert r.rc == 0, r
    check_chain(env, env.staged(name), ["reset.example.org"])
    # one run: the account it had was forgotten, a new one registered
    assert "no longer knows account" in r.err, r


def test_drive_kill9_then_rerun(env):
    name = env.add("kill.example.org", "www.kill.example.org")
    env.responder.delay = SLOW_ANSWER_SECONDS
    proc = subprocess.Popen(env.argv("drive", name), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        in_authz = wait_until(lambda: env.responder.requests and (env.job(name) or {}).get("step")
                              in ("order", "authz"), timeout=20)
        assert in_authz, env.job(name)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    order_url = env.job(name)["orders"]["secp256r1"]["url"]
    env.responder.delay = 0
    r = env.a2md("drive", name)
    assert r.rc == 0, r
    # the rerun went on with the order of the killed run
    assert env.job(name)["orders"]["secp256r1"]["url"] == order_url
    check_chain(env, env.staged(name), ["kill.example.org", "www.kill.example.org"])


def test_drive_unreachable_ca(env):
    name = env.add("down.example.org")
    url = f"https://127.0.0.1:{ports.free_port()}/dir"
    r = env.a2md("-a", url, "drive", name)
    assert r.rc == 1, r
    assert url in r.err
    job = env.job(name)
    assert job["error"]["step"] == "account" and url in job["error"]["detail"]
    assert not (env.store / "domains" / name / "pubcert.secp256r1.pem").exists()


def test_drive_terms_not_agreed(env):
    name = env.add("terms.example.org", agree=False)
    r = env.a2md("drive", name)
    assert r.rc == 1, r
    tos = env.pebble.directory()["meta"]["termsOfService"]
    detail = env.job(name)["error"]["detail"]
    assert tos in detail and "a2md -t" in detail
    assert tos in r.err
    # agreeing on the command line is enough for this run; the MD keeps its own setting
    r = env.a2md("-t", "accepted", "drive", name)
    assert r.rc == 0, r
    assert "agreement" not in md_status(env, name)["ca"]


def test_drive_reset_starts_afresh(env):
    name = env.add("reset.example.org")
    assert env.a2md("drive", name).rc == 0
    first = env.job(name)["orders"]["secp256r1"]["url"]
    # an unchanged rerun has nothing to do; --reset makes a new order
    assert env.a2md("drive", name).rc == 0
    assert env.job(name)["orders"]["secp256r1"]["url"] == first
    assert env.a2md("drive", "--reset", name).rc == 0
    assert env.job(name)["orders"]["secp256r1"]["url"] != first
    check_chain(env, env.staged(name), ["reset.example.org"])


# --- CA failover ----------------------------------------------------------------------------

def test_drive_fails_over_to_the_next_ca(env):
    """Two CAs, the first unreachable: the failed drive names the next CA, the next drive gets
    the certificate from it."""
    name = env.add("failover.example.org")
    dead = f"https://127.0.0.1:{ports.free_port()}/dir"
    r = env.a2md("update", name, "ca", dead, env.pebble.directory_url, "ACME")
    assert r.rc == 0, r
    r = env.a2md("drive", name)
    assert r.rc == 1
    assert f"the next try goes to {env.pebble.directory_url}" in r.err
    assert env.job(name)["ca-next"] == env.pebble.directory_url
    r = env.a2md("drive", name)
    assert r.rc == 0, r
    assert env.job(name)["ca-url"] == env.pebble.directory_url
    check_chain(env, env.staged(name), ["failover.example.org"])

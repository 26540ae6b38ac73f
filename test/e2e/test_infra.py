# test_infra.py: smoke tests of the e2e infrastructure itself (pebble, challtestsrv DNS, plain apache2).
# If these fail, every other e2e test would fail for reasons that have nothing to do with mod_md.

import socket

import pytest
from cryptography import x509

from mdtest import dns, ports
from mdtest.pebble import Pebble
from mdtest.procs import http_get

ACME_DIRECTORY_KEYS = ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange")


def test_pebble_serves_directory_and_roots(pebble):
    directory = pebble.directory()
    for key in ACME_DIRECTORY_KEYS:
        assert directory[key].startswith(f"https://127.0.0.1:{pebble.acme_port}/"), key
    assert directory["meta"]["termsOfService"]
    root = x509.load_pem_x509_certificate(pebble.root_pem().encode())
    inter = x509.load_pem_x509_certificate(pebble.intermediate_pem().encode())
    assert inter.issuer == root.subject
    # the listener cert is not the issuing root: clients get two different trust files
    listener = x509.load_pem_x509_certificate(pebble.ca_file.read_bytes())
    assert listener.subject != root.subject


def test_pebble_restart_keeps_ports_forgets_root(pebble):
    url, root_before = pebble.directory_url, pebble.root_pem()
    pebble.restart()
    assert pebble.directory_url == url
    assert pebble.directory()["newOrder"].startswith(url.rsplit("/", 1)[0])
    assert pebble.root_pem() != root_before


def test_pebble_extra_env_reaches_pebble(pebble_factory):
    p = pebble_factory(env={"PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_VA_ALWAYS_VALID": "1"})
    log = p.log_file.read_text()
    assert "reject 0% of good nonces" in log
    assert "Disabling random VA sleeps" in log


def test_challtestsrv_serves_txt_records(pebble):
    host = "_acme-challenge.dns.example.org"
    assert dns.query_txt("127.0.0.1", pebble.dns_port, host) == []
    pebble.set_txt(host, "token-value-1")
    assert dns.query_txt("127.0.0.1", pebble.dns_port, host) == ["token-value-1"]
    pebble.clear_txt(host)
    assert dns.query_txt("127.0.0.1", pebble.dns_port, host) == []


def test_plain_httpd_answers(httpd_factory):
    httpd = httpd_factory(name="plain")
    rc, out = httpd.configtest()
    assert rc == 0, out
    httpd.start()
    status, body = httpd.get("/index.html")
    assert status == 200
    assert b"plain" in body
    httpd.graceful()
    assert httpd.get("/index.html")[0] == 200
    pid = httpd.pid()
    assert pid is not None
    httpd.stop()
    assert not httpd._alive(pid)
    assert not ports.wait_for_port(httpd.http_port, 0.3)


def test_httpd_configtest_reports_errors(httpd_factory):
    httpd = httpd_factory(name="broken", extra_conf="NoSuchDirective on\n")
    rc, out = httpd.configtest()
    assert rc != 0
    assert "NoSuchDirective" in out


def test_httpd_with_https_port_and_module(httpd_factory):
    httpd = httpd_factory(name="withmods", modules=["status"], https=True,
                          extra_conf="<Location /server-status>\n  SetHandler server-status\n</Location>\n")
    httpd.start()
    status, body = http_get(httpd.url("/server-status?auto"))
    assert status == 200
    assert b"ServerMPM: event" in body
    assert httpd.https_port and ports.wait_for_port(httpd.https_port, 5.0)


def test_pebble_startup_failure_reports_log(workdir):
    p = Pebble(workdir, name="blocked")
    with socket.socket() as s:
        s.bind(("127.0.0.1", p.acme_port))
        s.listen()
        with pytest.raises(RuntimeError) as e:
            p.start()
    assert "address already in use" in str(e.value)
    assert not p.running()


def test_httpd_startup_failure_reports_error_log(httpd_factory):
    httpd = httpd_factory(name="blocked")
    with socket.socket() as s:
        s.bind(("127.0.0.1", httpd.http_port))
        s.listen()
        with pytest.raises(RuntimeError) as e:
            httpd.start()
    assert "Address already in use" in str(e.value)
    assert not httpd.running()

# proxied.py: our module with one MD whose CA is pebble behind our CaProxy -- the setup of the
# tests that need answers pebble does not give, or that count and read the requests it gets.
from .caproxy import CaProxy
from .mdhttpd import MdHttpd

# what these tests have in common: a quick EC key, http-01, retries a second apart, md-status
BASE_MD_CONF = "MDPrivateKeys secp256r1\nMDCAChallenges http-01\nMDRetryDelay 1s\n"
STATUS_LOCATION = "<Location /md-status>\n  SetHandler md-status\n</Location>\n"


def start_proxied(workdir, pebble, domain, md_conf=None, inject=None, rewrite=None):
    """(httpd, proxy), both started: the proxy answers inject(proxy)(method, path) where that is
    not None and rewrite(method, path, answer) gives what goes back of pebble's answers; httpd
    has BASE_MD_CONF, then md_conf (default: 'MDomain <domain>'), a vhost for domain and
    md-status. pebble's validator ports must be httpd's: give both the same http/tls ports."""
    proxy = CaProxy(pebble)
    if inject:
        proxy.inject = inject(proxy)
    if rewrite:
        proxy.rewrite = rewrite
    proxy.start()
    h = MdHttpd(workdir, ca_url=proxy.directory_url, ca_file=pebble.ca_file,
                http_port=pebble.http_port, https_port=pebble.tls_port)
    h.write_config(md_conf=BASE_MD_CONF + (md_conf if md_conf is not None else
                                           f"MDomain {domain}\n"),
                   vhosts=h.vhost(domain), extra_conf=STATUS_LOCATION)
    try:
        h.start()
    except Exception:
        h.stop()
        proxy.stop()
        raise
    return h, proxy

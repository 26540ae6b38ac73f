# dns.py: a minimal DNS TXT lookup over UDP, enough to check what pebble-challtestsrv serves.
# Builds one query by hand (RFC 1035 wire format) and reads the TXT strings from the answer section.

import random
import socket
import struct

TYPE_TXT = 16
CLASS_IN = 1
FLAG_RECURSION_DESIRED = 0x0100
HEADER_LEN = 12
MAX_UDP_ANSWER = 4096
COMPRESSION_MASK = 0xC0


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _skip_name(msg, pos):
    while True:
        length = msg[pos]
        if length & COMPRESSION_MASK == COMPRESSION_MASK:
            return pos + 2
        if length == 0:
            return pos + 1
        pos += 1 + length


def query_txt(server_host, server_port, name, timeout=2.0):
    """Return the list of TXT strings for `name` from the DNS server (decoded as text)."""
    qid = random.randrange(0, 0x10000)
    header = struct.pack("!HHHHHH", qid, FLAG_RECURSION_DESIRED, 1, 0, 0, 0)
    query = header + _encode_name(name) + struct.pack("!HH", TYPE_TXT, CLASS_IN)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(query, (server_host, server_port))
        msg, _ = s.recvfrom(MAX_UDP_ANSWER)
    rid, _flags, qdcount, ancount, _ns, _ar = struct.unpack("!HHHHHH", msg[:HEADER_LEN])
    if rid != qid:
        raise RuntimeError(f"DNS answer id {rid} does not match query id {qid}")
    pos = HEADER_LEN
    for _ in range(qdcount):
        pos = _skip_name(msg, pos) + 4
    values = []
    for _ in range(ancount):
        pos = _skip_name(msg, pos)
        rtype, _rclass, _ttl, rdlen = struct.unpack("!HHIH", msg[pos:pos + 10])
        pos += 10
        rdata = msg[pos:pos + rdlen]
        pos += rdlen
        if rtype != TYPE_TXT:
            continue
        i, text = 0, b""
        while i < len(rdata):
            n = rdata[i]
            text += rdata[i + 1:i + 1 + n]
            i += 1 + n
        values.append(text.decode())
    return values

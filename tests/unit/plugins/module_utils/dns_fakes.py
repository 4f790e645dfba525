"""A small authoritative-looking name server on 127.0.0.1 for the DNS tests (UDP, and TCP on the same port).

The test fills ``zone`` with ``{(name, TYPE): [rdata, ...]}`` (MX rdata is ``(preference, host)``, TXT rdata is
a list of character-strings, PTR a name, A/AAAA an address text). A name of the zone without records of the
asked type is answered NOERROR without answers (NODATA), any other name NXDOMAIN. ``rcode`` forces an rcode
for every answer, ``silent`` names are never answered (the client times out), and answers to the ``truncate``
names carry the TC bit over UDP (with no records), so that the client repeats the query over TCP.
"""

import socket
import struct
import threading

import pytest

TYPES = {"A": 1, "CNAME": 5, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}
NAMES = {number: name for name, number in TYPES.items()}


def wire_name(text):
    return b"".join(bytes([len(p)]) + p.encode() for p in text.rstrip(".").split(".") if p) + b"\0"


def rdata(rtype, value):
    if rtype == "MX":
        return struct.pack(">H", value[0]) + wire_name(value[1])
    if rtype == "TXT":
        return b"".join(bytes([len(s.encode())]) + s.encode() for s in value)
    if rtype in ("PTR", "CNAME"):
        return wire_name(value)
    if rtype == "A":
        return socket.inet_pton(socket.AF_INET, value)
    return socket.inet_pton(socket.AF_INET6, value)


def parse_question(query):
    labels, offset = [], 12
    while query[offset]:
        length = query[offset]
        labels.append(query[offset + 1:offset + 1 + length].decode())
        offset += 1 + length
    qtype = struct.unpack(">H", query[offset + 1:offset + 3])[0]
    return ".".join(labels).lower(), NAMES.get(qtype, str(qtype)), query[12:offset + 5]


def answer(query, zone, rcode=None, truncate=False, flags=0x8180):
    """The reply to QUERY from ZONE; owner names are compression pointers to the question."""
    qid = struct.unpack(">H", query[:2])[0]
    name, rtype, question = parse_question(query)
    records = zone.get((name, rtype), [])
    if rcode is None:
        rcode = 0 if any(key[0] == name for key in zone) else 3
    if truncate:
        flags |= 0x0200
        records = []
    body = b""
    for value in records:
        data = rdata(rtype, value)
        body += b"\xc0\x0c" + struct.pack(">HHIH", TYPES[rtype], 1, 300, len(data)) + data
    return struct.pack(">HHHHHH", qid, flags | rcode, 1, len(records), 0, 0) + question + body


class FakeDNS:
    """Serve ZONE on 127.0.0.1 (UDP and TCP, same port) from threads until stop()."""

    def __init__(self):
        self.zone = {}
        self.rcode = None
        self.silent = set()
        self.truncate = set()
        self.queries = []
        self.udp, self.tcp = self._bind()
        self.port = self.udp.getsockname()[1]
        self._stop = False
        self._threads = [threading.Thread(target=self._serve_udp, daemon=True),
                         threading.Thread(target=self._serve_tcp, daemon=True)]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _bind():
        for _attempt in range(20):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind(("127.0.0.1", udp.getsockname()[1]))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(5)
            return udp, tcp
        raise RuntimeError("no port free for both UDP and TCP")

    def _reply(self, query, transport):
        name, rtype, _question = parse_question(query)
        self.queries.append((name, rtype, transport))
        if name in self.silent:
            return None
        return answer(query, self.zone, self.rcode, truncate=transport == "udp" and name in self.truncate)

    def _serve_udp(self):
        self.udp.settimeout(0.02)
        while not self._stop:
            try:
                query, peer = self.udp.recvfrom(512)
            except TimeoutError:
                continue
            reply = self._reply(query, "udp")
            if reply is not None:
                self.udp.sendto(reply, peer)

    def _serve_tcp(self):
        self.tcp.settimeout(0.02)
        while not self._stop:
            try:
                conn, _peer = self.tcp.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                size = struct.unpack(">H", conn.recv(2))[0]
                query = b""
                while len(query) < size:
                    query += conn.recv(size - len(query))
                reply = self._reply(query, "tcp")
                if reply is not None:
                    conn.sendall(struct.pack(">H", len(reply)) + reply)

    def stop(self):
        self._stop = True
        for thread in self._threads:
            thread.join()
        self.udp.close()
        self.tcp.close()


@pytest.fixture
def fake_dns():
    """A FakeDNS for one test."""
    server = FakeDNS()
    yield server
    server.stop()

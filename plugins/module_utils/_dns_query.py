# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS queries with the standard library only (the targets have no dnspython).

One question (MX, TXT, PTR, A or AAAA) to the name servers of /etc/resolv.conf, one after
the other as the C library's resolver does: a UDP query, repeated over TCP when the
answer is truncated. The outcome says why there is no record: the name does not exist
(NXDOMAIN), it exists without records of that type (NODATA), no name server answered in
time (TIMEOUT), the name server could not resolve it (SERVFAIL) or something else went
wrong (ERROR: another rcode, a malformed answer, a network error).
"""

import random
import socket
import struct

TYPES = {"A": 1, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}
TYPE_CNAME = 5

OK = "ok"
NXDOMAIN = "nxdomain"
NODATA = "nodata"
TIMEOUT = "timeout"
SERVFAIL = "servfail"
ERROR = "error"
# The name server gave a verdict: the records (or their absence) are what DNS says.
ANSWERED = (OK, NXDOMAIN, NODATA)

FLAG_TC = 0x0200
RCODE_NAMES = {1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


class DNSFormatError(ValueError):
    """A reply that cannot be parsed."""


class Answer:
    """Outcome of one query: status (OK, NXDOMAIN, ...), records and an error text.

    Records are (preference, exchanger) for MX, the joined character-strings of each
    record for TXT, names for PTR and address texts for A and AAAA; names are lower case
    without the trailing dot. ``timed_out`` lists the servers that did not answer in time.
    """

    def __init__(self, status, records=None, error="", server=None, timed_out=None):
        self.status = status
        self.records = records or []
        self.error = error
        self.server = server
        self.timed_out = timed_out or []

    @property
    def answered(self):
        return self.status in ANSWERED

    def describe(self):
        """What DNS said, for a person: the records, or why there are none."""
        if self.status == OK:
            return ", ".join(_show(r) for r in self.records)
        if self.status == NXDOMAIN:
            return "NXDOMAIN (the name does not exist)"
        if self.status == NODATA:
            return "no record of this type"
        return self.error or self.status

    def __repr__(self):
        return "Answer(%r, %r, %r)" % (self.status, self.records, self.error)


def _show(record):
    if isinstance(record, tuple):
        return "%d %s" % record
    return record


def nameservers(path="/etc/resolv.conf"):
    """The name servers of resolv.conf, in order; 127.0.0.1 when it names none (as the C library does)."""
    servers = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) >= 2 and fields[0] == "nameserver":
                    servers.append(fields[1])
    except OSError:
        pass
    return servers or ["127.0.0.1"]


def encode_name(name):
    """Wire form of a domain name (labels, then the root)."""
    out = b""
    for label in name.rstrip(".").split("."):
        if not label:
            if name.strip("."):
                raise ValueError("empty label in %r" % name)
            continue
        data = label.encode("ascii")
        if len(data) > 63:
            raise ValueError("label longer than 63 octets in %r" % name)
        out += bytes([len(data)]) + data
    return out + b"\0"


def build_query(name, rtype, qid):
    """A standard query with recursion desired."""
    return (struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + encode_name(name)
            + struct.pack(">HH", TYPES[rtype], 1))


def read_name(packet, offset):
    """Return (name, offset after it) for a possibly compressed DNS name."""
    labels = []
    end = None
    jumps = 0
    while True:
        if offset >= len(packet):
            raise DNSFormatError("name runs past the end of the packet")
        length = packet[offset]
        if length & 0xC0 == 0xC0:
            if end is None:
                end = offset + 2
            offset = struct.unpack(">H", packet[offset:offset + 2])[0] & 0x3FFF
            jumps += 1
            if jumps > 32:
                raise DNSFormatError("compression loop")
            continue
        if length & 0xC0:
            raise DNSFormatError("unknown label type")
        offset += 1
        if length == 0:
            break
        labels.append(packet[offset:offset + length].decode("ascii", "replace"))
        offset += length
    return ".".join(labels).lower(), (end if end is not None else offset)


def _rdata(packet, rtype, start, length):
    data = packet[start:start + length]
    if len(data) != length:
        raise DNSFormatError("record data runs past the end of the packet")
    if rtype == TYPES["MX"]:
        return (struct.unpack(">H", data[:2])[0], read_name(packet, start + 2)[0])
    if rtype == TYPES["PTR"]:
        return read_name(packet, start)[0]
    if rtype == TYPES["TXT"]:
        parts, pos = [], 0
        while pos < length:
            size = data[pos]
            if pos + 1 + size > length:
                raise DNSFormatError("TXT string runs past its record")
            parts.append(data[pos + 1:pos + 1 + size])
            pos += 1 + size
        return b"".join(parts).decode("utf-8", "replace")
    if rtype == TYPES["A"]:
        return socket.inet_ntop(socket.AF_INET, data)
    if rtype == TYPES["AAAA"]:
        return socket.inet_ntop(socket.AF_INET6, data)
    return data


def parse_reply(reply, qid, name, rtype):
    """(rcode, truncated, records of RTYPE) of a reply to query QID for NAME."""
    if len(reply) < 12:
        raise DNSFormatError("answer shorter than a DNS header")
    rid, flags, qdcount, ancount = struct.unpack(">HHHH", reply[:8])
    if rid != qid:
        raise DNSFormatError("answer to another query (id %d, not %d)" % (rid, qid))
    if not flags & 0x8000:
        raise DNSFormatError("not an answer (QR bit clear)")
    offset = 12
    for _unused in range(qdcount):
        qname, offset = read_name(reply, offset)
        if qname != name.rstrip(".").lower():
            raise DNSFormatError("answer for another name (%s)" % qname)
        offset += 4
    wanted = TYPES[rtype]
    records = []
    truncated = bool(flags & FLAG_TC)
    try:
        for _unused in range(ancount):
            offset = read_name(reply, offset)[1]
            if offset + 10 > len(reply):
                raise DNSFormatError("record header runs past the end of the packet")
            this_type, _cls, _ttl, rdlength = struct.unpack(">HHIH", reply[offset:offset + 10])
            offset += 10
            if this_type == wanted:
                records.append(_rdata(reply, this_type, offset, rdlength))
            offset += rdlength
    except DNSFormatError:
        if not truncated:
            raise
    return flags & 0x000F, truncated, records


def _exchange_udp(packet, server, port, timeout):
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (server, port))
        return sock.recv(65535)


def _recv_exactly(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise DNSFormatError("the name server closed the TCP connection")
        data += chunk
    return data


def _exchange_tcp(packet, server, port, timeout):
    with socket.create_connection((server, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">H", len(packet)) + packet)
        size = struct.unpack(">H", _recv_exactly(sock, 2))[0]
        return _recv_exactly(sock, size)


def query(name, rtype, servers, timeout=2.0, port=53):
    """Ask each server in turn for the RTYPE records of NAME; return an Answer.

    A server's NXDOMAIN or answer (with or without records) is final; a timeout,
    SERVFAIL or error moves on to the next server, and the last failure is returned
    when none gives a verdict.
    """
    rtype = rtype.upper()
    if rtype not in TYPES:
        return Answer(ERROR, error="record type %s is not supported" % rtype)
    qid = random.SystemRandom().randint(0, 0xFFFF)
    try:
        packet = build_query(name, rtype, qid)
    except (ValueError, UnicodeError) as exc:
        return Answer(ERROR, error="cannot ask for %s: %s" % (name, exc))
    failure = Answer(TIMEOUT, error="no name server to ask")
    timed_out = []
    for server in servers:
        try:
            reply = _exchange_udp(packet, server, port, timeout)
            rcode, truncated, records = parse_reply(reply, qid, name, rtype)
            if truncated:
                rcode, truncated, records = parse_reply(_exchange_tcp(packet, server, port, timeout), qid, name, rtype)
        # socket.timeout is TimeoutError only from Python 3.10 on; targets may have 3.9.
        except socket.timeout:  # noqa: UP041
            timed_out.append(server)
            failure = Answer(TIMEOUT, error="name server %s: timed out" % server, server=server)
            continue
        except OSError as exc:
            failure = Answer(ERROR, error="name server %s: %s" % (server, exc), server=server)
            continue
        except (DNSFormatError, struct.error, IndexError) as exc:
            failure = Answer(ERROR, error="name server %s: malformed answer: %s" % (server, exc), server=server)
            continue
        if rcode == 3:
            return Answer(NXDOMAIN, server=server, error="the domain does not exist (NXDOMAIN)", timed_out=timed_out)
        if rcode == 0:
            return Answer(OK if records else NODATA, records, server=server, timed_out=timed_out)
        status = SERVFAIL if rcode == 2 else ERROR
        failure = Answer(status, server=server, error="name server %s answered rcode %d (%s)" % (
            server, rcode, RCODE_NAMES.get(rcode, "unknown")))
    failure.timed_out = timed_out
    return failure

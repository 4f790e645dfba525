"""dns_preflight: MX queries against a tiny DNS responder on 127.0.0.1."""

import socket
import struct
import threading

import pytest
from ansible_collections.homelab.mailserver.plugins.modules import dns_preflight


def _name(text):
    return b"".join(bytes([len(p)]) + p.encode() for p in text.split(".")) + b"\0"


def _answer(query, records, rcode=0):
    """Build a reply: the question echoed, then MX records (pref, host) using a
    compression pointer to the question name for the owner."""
    qid = struct.unpack(">H", query[:2])[0]
    question = query[12:]
    header = struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, len(records), 0, 0)
    body = b""
    for pref, host in records:
        rdata = struct.pack(">H", pref) + _name(host)
        body += b"\xc0\x0c" + struct.pack(">HHIH", 15, 1, 300, len(rdata)) + rdata
    return header + question + body


@pytest.fixture
def dns_server():
    """A one-shot-per-query responder; the test sets what it answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    state = {"records": [], "rcode": 0, "stop": False}

    def serve():
        sock.settimeout(0.2)
        while not state["stop"]:
            try:
                query, peer = sock.recvfrom(512)
            except TimeoutError:
                continue
            sock.sendto(_answer(query, state["records"], state["rcode"]), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield state, sock.getsockname()[1]
    state["stop"] = True
    thread.join()
    sock.close()


def test_mx_records_sorted_by_preference(dns_server):
    state, port = dns_server
    state["records"] = [(20, "backup.my-site.com"), (10, "bigboy.my-site.com")]
    found, error = dns_preflight.query_mx("my-site.com", ["127.0.0.1"], 1.0, port=port)
    assert error == ""
    assert found == ["bigboy.my-site.com", "backup.my-site.com"]


def test_nxdomain_reported(dns_server):
    state, port = dns_server
    state["rcode"] = 3
    found, error = dns_preflight.query_mx("nowhere.my-site.com", ["127.0.0.1"], 1.0, port=port)
    assert found == []
    assert "NXDOMAIN" in error


def test_no_server_answers():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    try:
        found, error = dns_preflight.query_mx("my-site.com", ["127.0.0.1"], 0.2, port=port)
    finally:
        sock.close()
    assert found == []
    assert "127.0.0.1" in error


def test_run_checks_names_each_problem(monkeypatch):
    answers = {
        "my-site.com": (["bigboy.my-site.com"], ""),
        "another-site.com": (["mx.example.org"], ""),
        "empty.my-site.com": ([], ""),
    }
    monkeypatch.setattr(dns_preflight, "query_mx", lambda d, s, t: answers[d])
    addresses = {"bigboy.my-site.com": ["192.168.1.100"], "mx.example.org": ["198.51.100.7"]}
    monkeypatch.setattr(dns_preflight, "resolve", lambda name: addresses.get(name, []))
    fqdn_addresses, mx, problems = dns_preflight.run_checks(
        "bigboy.my-site.com", list(answers), ["192.168.1.100"], 1.0, ["127.0.0.1"]
    )
    assert fqdn_addresses == ["192.168.1.100"]
    assert mx["my-site.com"] == ["bigboy.my-site.com"]
    assert problems == [
        "the MX record of another-site.com names mx.example.org, not this host (bigboy.my-site.com)",
        "empty.my-site.com has no MX record",
    ]


def test_unresolvable_fqdn_is_a_problem(monkeypatch):
    monkeypatch.setattr(dns_preflight, "resolve", lambda name: [])
    _addrs, _mx, problems = dns_preflight.run_checks("bigboy.my-site.com", [], [], 1.0, [])
    assert problems == ["the host name bigboy.my-site.com does not resolve to an address"]


def test_nameservers_parsed(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("domain my-site.com\nnameserver 127.0.0.2\n# nameserver 9.9.9.9\nnameserver ::1\n")
    assert dns_preflight._nameservers(str(conf)) == ["127.0.0.2", "::1"]
    assert dns_preflight._nameservers(str(tmp_path / "missing")) == ["127.0.0.1"]

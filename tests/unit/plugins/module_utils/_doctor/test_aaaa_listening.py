"""aaaa_listening: /proc/net/tcp6 and /proc/net/if_inet6 samples under tmp_path."""

import ipaddress

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import aaaa_listening as unit

from .helpers import write

FQDN = "bigboy.my-site.com"
HEADER = "  sl  local_address                         remote_address                        st tx_queue rx_queue\n"


def tcp6_line(addr, port, state="0A"):
    """A /proc/net/tcp6 line: the address as four 32-bit words in host (little-endian) order."""
    raw = ipaddress.IPv6Address(addr).packed
    words = "".join(raw[i:i + 4][::-1].hex().upper() for i in range(0, 16, 4))
    return "   0: %s:%04X %s:0000 %s 00000000:00000000\n" % (words, port, "0" * 32, state)


def if_inet6(*addrs):
    return "".join("%s 01 80 10 80       lo\n" % ipaddress.IPv6Address(a).exploded.replace(":", "") for a in addrs)


def records(*addrs, name=FQDN + "."):
    out = [{"name": "my-site.com.", "type": "MX", "value": "10 %s." % FQDN},
           {"name": name, "type": "A", "value": "192.0.2.25"}]
    return out + [{"name": name, "type": "AAAA", "value": a} for a in addrs]


def run(tmp_path, recs, tcp6, local, port=25):
    files = (write(tmp_path / "tcp6", HEADER + tcp6), write(tmp_path / "if_inet6", local))
    return unit.check(recs, FQDN, port, *files)


def test_parse_if_inet6():
    want = {ipaddress.IPv6Address("::1"), ipaddress.IPv6Address("2001:db8::25")}
    assert unit.local_ipv6(if_inet6("::1", "2001:db8::25")) == want


@pytest.mark.parametrize(
    ("published", "listen", "local", "ok", "detail"),
    [
        (["::1"], [("::1", 25)], ["::1"], True, "[::1]:25"),
        (["2001:db8::25"], [("::", 25)], ["::1", "2001:db8::25"], True, "[2001:db8::25]:25"),
        (["2001:db8::25"], [("::1", 25)], ["::1", "2001:db8::25"], False, "nothing listens on [2001:db8::25]:25"),
        (["2001:db8::25"], [("2001:db8::25", 587)], ["2001:db8::25"], False, "nothing listens on [2001:db8::25]:25"),
        (["2001:db8::99"], [("::", 25)], ["2001:db8::25"], False, "2001:db8::99 is not an address of this host"),
        (["::1", "2001:db8::25"], [("::1", 25)], ["::1", "2001:db8::25"], False, "nothing listens on [2001:db8::25]"),
    ],
)
def test_aaaa_listening(tmp_path, published, listen, local, ok, detail):
    check = run(tmp_path, records(*published), "".join(tcp6_line(a, p) for a, p in listen), if_inet6(*local))
    assert check["name"] == "aaaa_listening"
    assert check["ok"] is ok, check
    assert detail in check["detail"], check


def test_a_socket_not_listening_does_not_count(tmp_path):
    check = run(tmp_path, records("::1"), tcp6_line("::1", 25, state="01"), if_inet6("::1"))
    assert check["ok"] is False and "nothing listens on [::1]:25" in check["detail"], check


def test_undecided_without_an_aaaa_of_the_servers_name(tmp_path):
    check = run(tmp_path, records(), tcp6_line("::1", 25), if_inet6("::1"))
    assert check["ok"] is None and "publishes no AAAA" in check["detail"], check
    # another server's AAAA (a peer's, in a merged zone) is not this host's to answer for
    check = run(tmp_path, records("2001:db8::99", name="backup.my-site.com."), tcp6_line("::1", 25), if_inet6("::1"))
    assert check["ok"] is None, check


def test_an_aaaa_that_is_no_address_fails(tmp_path):
    check = run(tmp_path, records("not-an-address"), tcp6_line("::1", 25), if_inet6("::1"))
    assert check["ok"] is False and "not an IPv6 address" in check["detail"], check


def test_the_smtp_port_is_the_one_checked(tmp_path):
    check = run(tmp_path, records("::1"), tcp6_line("::1", 2525), if_inet6("::1"), port=2525)
    assert check["ok"] is True, check

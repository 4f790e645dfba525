"""_validate: one table of good and bad values per kind, properties, and the callers agreeing on every row."""

from __future__ import annotations

import os
import re
import shutil
import string
import subprocess

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.homelab.mailserver.plugins.filter import (
    dovecot,
    mail_dns,
    milter_checks,
    milter_greylist,
    resolver,
    sendmail_checks,
)
from ansible_collections.homelab.mailserver.plugins.filter.mail_domains import mail_domains
from ansible_collections.homelab.mailserver.plugins.module_utils import _sendmail_validate as smv
from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_map import KINDS as MAP_KINDS
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_map import update_text
from ansible_collections.homelab.mailserver.plugins.modules import listening_ports, opendkim_keys
from ansible_collections.homelab.mailserver.plugins.test import resolver as resolver_tests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

L63 = "a" * 63
L64 = "a" * 64
N253 = ".".join(["a" * 62] * 4) + ".a"  # 4 * 63 - 1 + 2 = 253 characters
N254 = N253 + "a"
assert len(N253) == 253 and len(N254) == 254

# Values no kind accepts (besides the kinds' own bad rows): empty, blank, control characters, non-strings.
COMMON_BAD = ["", " ", "\n", "\x00", "\t", None, True, 1.5, [], {}]

# ---------------------------------------------------------------- THE table: kind -> [(value, valid)]
TABLE = {
    "label": [
        ("a", True), ("my-site", True), ("_dmarc", True), ("x1", True), ("1x", True), (L63, True),
        (L64, False), ("-a", False), ("a-", False), ("a.b", False), ("a b", False), ("é", False), ("a\n", False),
        ("a\x00", False), ("`a'", False), ("a)", False),
    ],
    "domain": [
        ("example.com", True), ("example.com.", True), ("_dmarc.example.com", True), ("mail._domainkey.my-site.com", True),
        ("localhost", True), ("xn--bcher-kva.example", True), ("1.2.3.4", True), (N253, True), (N253 + ".", True),
        (f"{L63}.com", True),
        ("example.com\n", False), (".example.com", False), ("example..com", False), ("example.com..", False),
        (f"{L64}.com", False), (N254, False), ("bücher.example", False), ("exa mple.com", False), (" example.com", False),
        ("example.com ", False), ('"example.com"', False), ("`example.com'", False), ("example.com)", False),
        ("dnl", True), ("dnl example.com", False), ("exa\x00mple.com", False), ("-bad.com", False), ("bad-.com", False),
        ("a@b.com", False), ("/etc", False), (".", False),
    ],
    "hostname": [
        ("bigboy", True), ("bigboy.my-site.com", True), ("bigboy.my-site.com.", True), ("localhost.localdomain", True),
        ("1host.example.com", True), (N253, True),
        ("big_boy", False), ("bigboy.my-site.com\n", False), (".my-site.com", False), (f"{L64}.com", False), (N254, False),
        ("bigböy", False), ("big boy", False), ("'bigboy'", False), ("bigboy)", False), ("big\x00boy", False),
        ("bigboy..my-site.com", False), ("-bigboy", False),
    ],
    "short_hostname": [
        ("bigboy", True), ("mail-1", True), (L63, True),
        ("bigboy.my-site.com", False), ("big_boy", False), (L64, False), ("bigboy\n", False), ("bigboy.", False), ("é", False),
    ],
    "fqdn": [
        ("bigboy.my-site.com", True), ("a.b", True), (N253, True),
        ("bigboy", False), ("bigboy.my-site.com.", False), ("bigboy.my-site.com\n", False), ("big_boy.my-site.com", False),
        (".my-site.com", False), (N254, False),
    ],
    "mail_domain": [
        ("my-site.com", True), ("another-site.com", True), ("localhost", True), (N253, True),
        ("my-site.com.", False), ("my_site.com", False), ("my-site.com\n", False), (".my-site.com", False), (N254, False),
        ("mÿ-site.com", False), ("my-site.com)", False), ("dnl`x'", False),
    ],
    "dnsbl_zone": [
        ("bl.spamcop.net", True), ("zen.spamhaus.org", True),
        ("spamcop", False), ("bl spamcop", False), ("bl.spamcop.net.", False), ("bl.spamcop.net\n", False),
    ],
    "dkim_selector": [
        ("mail", True), ("s2025", True), ("2025.mail", True), (L63, True),
        ("../x", False), ("a..b", False), ("a/b", False), (L64, False), ("mail\n", False), ("mail.", False), ("bad selector", False),
    ],
    "local_part": [
        ("john", True), ("john.doe", True), ("user+tag", True), ("o'brien", True), ("`x`", True), ("a" * 64, True),
        ("MAILER-DAEMON", True), ("%1", True),
        ("a" * 65, False), ("a b", False), ("a@b", False), ("john\n", False), ("jöhn", False), ('"john"', False), ("a)", False),
        ("a,b", False), ("a:b", False), ("a\x00", False),
    ],
    "mail_address": [
        ("postmaster@my-site.com", True), ("a+b@c_d.example", True), ("x@y.z.", True),
        ("postmaster", False), ("@my-site.com", False), ("postmaster@", False), ("a b@c.com", False), ("a@b@c.com", False),
        ("postmaster@my-site.com\n", False), ("pöstmaster@my-site.com", False), ("a@b..com", False),
    ],
    "user_name": [
        ("root", True), ("smmsp", True), ("john1", True), ("_apt", True), ("www-data", True), ("a" * 32, True), ("first.last", True),
        ("Root", False), ("1john", False), ("-x", False), ("a" * 33, False), ("john\n", False), ("jöhn", False), ("a b", False),
        ("john:doe", False),
    ],
    "user_group": [
        ("greylist", True), ("greylist:greylist", True), ("smmsp:mail", True),
        ("greylist:", False), (":mail", False), ("Grey List", False), ("a:b:c", False), ("greylist\n", False),
    ],
    "alias_name": [
        ("root", True), ("MAILER-DAEMON", True), ("owner-list", True), ("list+request", True), ("admin-list", True),
        ("#root", False), ("bad name", False), ("bad:name", False), ("a,b", False), ("root\n", False), ("röot", False),
    ],
    "access_key": [
        ("127.0.0.1", True), ("192.168.2", True), ("10", True), ("localhost", True), ("my-site.com", True), ("user@my-site.com", True),
        ("user@", True), ("IPv6:2001:db8::1", True), ("Connect:192.168.2", True), ("From:<>", True), ("Spam:abuse@", True),
        ("GreetPause:", True), ("GreetPause:192.168.1", True), ("ClientRate:", True), ("TLS_Srv:secure.example.com", True),
        ("CERTISSUER:/C=US/O=Example", True),
        ("192.168.2.0/24", False), ("192.168.256", False), ("1.2.3.4.5", False), ("@my-site.com", False), ("Bogus:foo", False),
        ("Connect:", False), ("Connect:user@example.com", False), ("two words", False), ("my-site.com\n", False),
        ("bad..com", False), ("mÿ-site.com", False), ("user@bad..com", False), ("`x'@y.com", True), ("a)@b.com", False),
        ("dnl`x'", False), ("a\x00b.com", False),
    ],
    "map_value": [
        ("anything", True), ("any value at all", True), ("dnl", True), ("`x'", True),
        ("two\nlines", False), ("cr\r", False), ("nul\x00", False), ("line sep\u2028", False),
    ],
    "message": [
        ("Rejected: see http://spamcop.net", True), ("\"quoted\" text", True), ("tab\tinside", True), ("é ünïcode", True),
        ("a\nb", False), ("a\r", False), ("a\x00", False), ("a\x1b[31m", False), ("a\x85", False),
    ],
    "abs_path": [
        ("/run/milter-greylist.pid", True), ("/etc/dovecot/private/dovecot-server.pem", True), ("/", True),
        ("/etc/ssl/certs/ca-certificates.crt", True), ("/var/lib/spamassassin/bayes+x_1", True),
        ("relative.sock", False), ("/run/a b.pid", False), ('/run/"x"', False), ("/run/`x`", False), ("/run/x\n", False),
        ("/run/\x00", False), ("~/x", False), ("/etc/o'brien.crt", False), ("/k/a:b", False), ("/run/x#y", False),
        ("/run/x,y", False), ("/run/x)", False), ("/run/$x", False), ("/run/%u", False), ("/run/x\x0b", False),
        ("/run/x\u2028", False), ("/run/é", False), ("/run/{x}", False), ("/run/x;y", False), ("/run/<x", False),
    ],
    "duration": [
        ("300", True), ("30s", True), ("5m", True), ("1h30m", True), ("1d12h", True), ("2w", True), ("25h", True), ("5m30", True),
        ("five minutes", False), ("-1", False), ("5 m", False), ("m5", False), ("5m\n", False), ("5x", False), ("١٢", False),
        ("1.5h", False),
    ],
    "queue_interval": [
        ("10m", True), ("p5s", True), ("1h30m", True), ("300", True),
        ("q5s", False), ("5 min", False), ("pp5s", False), ("10m\n", False), ("p", False),
    ],
    "sasl_mechanism": [
        ("plain", True), ("login", True), ("cram-md5", True), ("SCRAM-SHA-256-PLUS", True), ("XOAUTH2", True),
        ("digest md5", False), ("plain\n", False), ("a" * 21, False), ("plaïn", False),
    ],
    "milter_socket": [
        ("local:/run/milter-greylist/milter-greylist.sock", True), ("unix:/var/run/x.sock", True), ("inet:8891@127.0.0.1", True),
        ("inet:8891@localhost", True), ("inet6:8893@::1", True), ("inet6:8893@[::1]", True), ("inet:1@mail.example.com", True),
        ("/tmp/sock", False), ("local:relative", False), ("inet:8891", False), ("inet:0@127.0.0.1", False),
        ("inet:70000@127.0.0.1", False), ("inet:8891@bad host", False), ("local:/run/x\n", False), ("tcp:8891@127.0.0.1", False),
        ("inet:8891@127.0.0.1\n", False), ("inet:8891@[bad]", False),
    ],
    "milter_name": [
        ("greylist", True), ("opendkim", True), ("milter-greylist", True), ("m_1", True),
        ("g g", False), ("-g", False), ("g\n", False), ("g`", False),
    ],
    "macro_name": [
        ("j", True), ("_", True), ("{if_addr}", True), ("{auth_type}", True),
        ("if_addr", False), ("{if addr}", False), ("{}", False), ("j\n", False), ("{j}\n", False),
    ],
    "ip_address": [
        ("127.0.0.1", True), ("192.168.1.100", True), ("::1", True), ("2001:db8::53", True),
        ("192.168.1.300", False), ("192.168.2", False), ("192.168.2.0/24", False), ("ns1.my-site.com", False),
        ("127.0.0.1\n", False), (" 127.0.0.1", False), ("١٢٧.0.0.1", False), ("fe80::1%eth0", False), ("::1\n", False),
    ],
    "ip_network": [
        ("192.168.0.0/16", True), ("10.1.2.3/8", True), ("127.0.0.1", True), ("2001:db8::/32", True),
        ("192.168.1.0/33", False), ("192.168.1.0/24\n", False), ("eth0", False), ("10.0.0.0/ 8", False),
    ],
    "ipv4_prefix": [
        ("192.168.2", True), ("10", True), ("127.0.0.1", True), ("0", True),
        ("300.1", False), ("1.2.3.4.5", False), ("1..2", False), ("192.168.2.", False), ("192.168.2\n", False), ("١٢", False),
    ],
    "port": [
        (0, True), (25, True), (65535, True),
        (65536, False), (-1, False), ("25", False), (True, False), (25.0, False),
    ],
    "file_mode": [
        ("660", True), ("0640", True), ("600", True), ("2770", True),
        ("rw", False), ("0800", False), ("66", False), ("00660", False), ("660\n", False),
    ],
    "dovecot_setting": [
        ("mail_max_userip_connections", True), ("login_greeting", True),
        ("Bad-Name", False), ("_x", False), ("mail_plugins\n", False), ("1x", False),
    ],
    "sa_option": [
        ("required_score", True), ("use_bayes", True), ("_private", True), ("X1", True),
        ("bad name", False), ("1x", False), ("score\n", False), ("a-b", False),
    ],
    "sa_language": [
        ("en", True), ("pt_br", True), ("all", True), ("zho", True),
        ("english", False), ("EN", False), ("en\n", False), ("en-US", False),
    ],
    "sa_locale": [
        ("en", True), ("ja", True), ("all", True),
        ("en-US", False), ("eng", False), ("en\n", False),
    ],
    "m4_text": [
        ("mail.example.com", True), ("Rejected - see http://spamhaus.org/", True), ("PLAIN", True), ("{if_addr}", True),
        ("_", True), ("conference.example.com", True), ("local:/run/x.sock", True), ("$&{client_addr}", True), ('"x"', True),
        ("a`b", False), ("a'b", False), ("a(b", False), ("a)b", False), ("a,b", False), ("a#b", False), ("dnl", False),
        ("x.dnl.com", False), ("m4exit", False), ("x.divert.com", False), ("RELAY_DOMAIN", False), ("confCACERT", False),
        ("_DNSBL_SRV_", False), ("FEATURE", False), ("LOCAL_CONFIG", False), ("a\tb", False), ("é", False),
        ("a\x85", False), ("a\u2028b", False), ("a\x0bb", False), ("sm_version", False), ("m4_define", False),
    ],
    "smtp_text": [
        ("Rejected - see http://spamhaus.org/", True), ('"550 Mail from " $&{client_addr} " refused"', True),
        ("$j is busy (try later), sorry", True), ("${client_name} listed", True), ("x" * 400, True),
        ('a"b', False), ("a\\b", False), ("$#error", False), ("$: x", False), ("$1", False), ("x" * 401, False),
        ("é", False), ("a\nb", False), ("a\x0cb", False), ("$", False),
    ],
    "smart_host": [
        ("mail.my-site.com", True), ("bigboy", True), ("[mail.my-site.com]", True), ("[192.0.2.1]", True),
        ("[IPv6:2001:db8::1]", True), ("relay:[mail.my-site.com]", True), ("esmtp:mail.my-site.com", True),
        ("mail.my-site.com.", False), ("[192.0.2]", False), ("192.0.2.1", False), ("mail host", False), ("[mail", False),
        ("relay:", False), ("Relay:x.com", False), ("[IPv6:192.0.2.1]", False), ("[::1]", False), ("x.com\n", False),
        ("x.com')dnl", False), ("x.com:25", False),
    ],
    "count": [
        (0, True), (5000, True), ("10", True), ("0", True),
        (-1, False), ("1.5", False), ("٥", False), (" 5", False), ("5\n", False), ("-1", False), ("1e3", False), ("2_0", False),
    ],
    "cipher_list": [
        ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256", True), ("HIGH:!aNULL:!MD5", True), ("@SECLEVEL=2", True),
        ("HIGH:+3DES", True),
        ("HIGH !aNULL", False), ("HIGH;x", False), ("HIGH#x", False), ("HIGH{", False), ("HIGH\n", False), ('"HIGH"', False),
    ],
    "setting_name": [
        ("Canonicalization", True), ("On-BadSignature", True), ("x1", True), ("a_b", True),
        ("1x", False), ("-a", False), ("a b", False), ("x\n", False), ("_x", False), ("a:b", False), ("a=b", False),
    ],
    "milter_peer": [
        ("127.0.0.1", True), ("::1", True), ("192.168.0.0/16", True), ("mail.example.com", True), (".example.com", True),
        ("localhost", True),
        ("!127.0.0.1", False), ("a b", False), ("x,y", False), ("x.example.com\n", False), ("..x", False), ("x#y", False),
    ],
    "relay_domain": [
        ("example.com", True), ("my-site.com", True), ("a.b.c", True),
        ("com", False), ("localhost", False), ("example.com.", False), ("example..com", False), ("example.com\n", False),
    ],
    "relay_key": [
        ("my-site.com", True), ("192.168.2", True), ("127.0.0.1", True), ("localhost", True), ("Connect:192.168.2", True),
        ("IPv6:2001:db8", True), ("user@my-site.com", True), ("From:<>", True), ("Spam:com", True), ("To:example.com", True),
        ("com", False), ("com.", False), ("10", False), ("Connect:10", False), ("To:com", False), ("From:org", False),
        ("IPv6:2001:", False), ("192.168.2.0/24", False), ("my-site.com\n", False),
    ],
    "relay_host": [
        ("smtp.provider.example", True), ("relay", True), ("192.0.2.25", True), ("2001:db8::25", True),
        ("[smtp.provider.example]", False), ("smtp.provider.example:587", False), ("relay:smtp.x.example", False),
        ("smtp.provider.example.", False), ("192.0.2", False), ("a b", False), ("x.example\n", False), ("[::1]", False),
    ],
    "sasl_login": [
        ("me", True), ("me@provider.example", True), ("apikey", True), ("AKIA0123", True), ("x" * 255, True),
        ("me you", False), ('me"', False), ("me\\x", False), ("x" * 256, False), ("me\n", False), ("é", False),
        ("me\t", False),
    ],
    "sieve_script": [
        ('require "fileinto";\nif header :contains "subject" "x" { fileinto "Junk"; }\n', True), ("keep;", True),
        ("keep;\r\n", True), ("\tkeep;", True), ("# comment\nkeep;", True), ('fileinto "Caf\u00e9";', True),
        ("x" * 65536, True), ("x" * 65537, False), ("keep;\x00", False), ("keep;\x1b[0m", False), ("\n\n", False),
        ("keep;\u2028", False),
    ],
    "quota_size": [
        ("0", True), ("100M", True), ("2G", True), ("1T", True), ("500K", True), ("1048576", True),
        ("0M", False), ("01G", False), ("1.5G", False), ("1g", False), ("1GB", False), ("-1", False), ("unlimited", False),
        ("1 G", False), (100, False),
    ],
    "systemd_unit": [
        ("sendmail", True), ("opendkim.service", True), ("stunnel@homelab-relay", True), ("milter-greylist", True),
        ("pyspf-milter", True), ("x" * 100, True), ("x" * 101, False), ("-sendmail", False), ("send mail", False),
        ("sendmail;reboot", False), ("$(reboot)", False), ("a/b", False), (".hidden", False), (25, False),
    ],
    "header_name": [
        ("X-Spam-Checker-Version", True), ("X-Spam-Flag", True), ("Subject", True), ("x" * 76, True),
        ("x" * 77, False), ("X-Spam:", False), ('X"} { discard; } #', False), ("X Spam", False), ("-X", False),
        ("X-Spam\n", False), ("", False), ("X-Späm", False), (1, False),
    ],
}
# Kinds of text that span lines: a newline is part of a good value.
MULTILINE = {"sieve_script"}

# access values depend on the key's tag: (key, value, valid)
ACCESS_VALUES = [
    ("a.example", "OK", True), ("a.example", "ok", True), ("a.example", "RELAY", True), ("a.example", "REJECT", True),
    ("a.example", "DISCARD", True), ("a.example", "SKIP", True), ("a.example", "ERROR:550 Go away", True),
    ("a.example", 'ERROR:"550 Go away"', True), ("a.example", "ERROR:5.7.1:550 Go away", True),
    ("a.example", 'ERROR:"5.7.1:550 Go away"', True), ("a.example", "ERROR:4.7.1:450 Try later", True),
    ("a.example", "QUARANTINE:check this", True), ("Spam:abuse@", "FRIEND", True), ("Spam:example.com", "HATER", True),
    ("GreetPause:", "5000", True), ("GreetPause:192.168.1", "0", True), ("ClientRate:", "10", True), ("ClientConn:127.0.0.1", "0", True),
    ("TLS_Srv:secure.example.com", "ENCR:112", True), ("TLS_Clt:laptop.example.com", "PERM+VERIFY:112", True),
    ("Try_TLS:broken.example.com", "NO", True), ("Srv_Features:", "V l", True), ("From:spammer@example.net", "DISCARD", True),
    # the deprecated bare reply code form, and malformed ERROR: values, are refused everywhere
    ("a.example", "550 Go away", False), ("a.example", '"550 Go away"', False), ("a.example", "ERROR:bogus", False),
    ("a.example", "ERROR:5.7.1:450 Try later", False), ("a.example", "ERROR:250 fine", False), ("a.example", "ACCEPT", False),
    ("a.example", "PERMIT", False), ("a.example", "QUARANTINE:", False), ("a.example", "", False), ("a.example", "OK\n", False),
    ("a.example", "ERROR:550 two\nlines", False), ("a.example", "REJECT\x00", False), ("a.example", "FRIEND", False),
    ("Spam:abuse@", "OK", False), ("GreetPause:", "five", False), ("GreetPause:", "٥", False), ("GreetPause:", "-1", False),
    ("ClientRate:", "ten", False), ("TLS_Srv:secure.example.com", "YES", False), ("Try_TLS:broken.example.com", "MAYBE", False),
    ("Srv_Features:10.1", "Verb!", False),
]

ROWS = [(kind, value, valid) for kind, rows in TABLE.items() for value, valid in rows]
ROWS += [(kind, value, False) for kind in TABLE for value in COMMON_BAD if not (kind == "port" and value is True)]


def _id(row):
    return f"{row[0]}:{row[1]!r}"[:60]


def test_every_kind_has_a_table_and_both_kinds_of_row():
    assert set(TABLE) | {"access_value"} == set(V.KINDS)
    for kind, rows in TABLE.items():
        assert {valid for _value, valid in rows} == {True, False}, kind


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_table(row):
    kind, value, valid = row
    is_kind, check = V.KINDS[kind]
    assert is_kind(value) is valid
    message = check(value, "some_variable[3]")
    if valid:
        assert message is None
    else:
        assert message.startswith(f"some_variable[3]: {value!r} is not valid: "), message
        assert len(message) > len(f"some_variable[3]: {value!r} is not valid: ") + 5  # says what is valid


class _TaggedStr(str):
    """What Ansible hands a filter: a str subclass (ansible-core's tagged strings)."""


@pytest.mark.parametrize("row", [r for r in ROWS if isinstance(r[1], str)], ids=_id)
def test_str_subclasses_get_the_same_answer(row):
    """A filter gets tagged strings from Ansible, never plain str: the answer must not change."""
    kind, value, valid = row
    is_kind, _check = V.KINDS[kind]
    assert is_kind(_TaggedStr(value)) is valid


@pytest.mark.parametrize("key, value, valid", ACCESS_VALUES)
def test_access_values_of_str_subclasses(key, value, valid):
    assert V.is_access_value(_TaggedStr(value), _TaggedStr(key)) is valid


@pytest.mark.parametrize("row", [r for r in ROWS if r[2] and isinstance(r[1], str) and r[0] not in MULTILINE], ids=_id)
def test_no_good_value_survives_a_newline_or_nul(row):
    """Patterns match the whole string: '$' would let a trailing newline through."""
    kind, value, _valid = row
    is_kind = V.KINDS[kind][0]
    for bad in (value + "\n", value + "\r\n", value + "\x00", "\n" + value, value.replace(value[:1], "\x00", 1)):
        assert not is_kind(bad), (kind, bad)


@pytest.mark.parametrize("row", [r for r in ROWS if r[2] and r[0] in MULTILINE], ids=_id)
def test_no_good_script_survives_a_nul(row):
    kind, value, _valid = row
    is_kind = V.KINDS[kind][0]
    for bad in (value + "\x00", "\x00" + value, value[:1] + "\x00" + value[1:]):
        assert not is_kind(bad), (kind, bad)


@pytest.mark.parametrize("key, value, valid", ACCESS_VALUES)
def test_access_values(key, value, valid):
    assert V.is_access_value(value, key) is valid
    message = V.check_access_value(value, "value", key)
    assert (message is None) if valid else message.startswith(f"value: {value!r} is not valid: ")


def test_problem_shape_and_collector():
    assert V.problem("resolver_hostname", "big_boy", "a short host name") == (
        "resolver_hostname: 'big_boy' is not valid: a short host name")
    problems = V.Problems()
    assert problems.check(V.check_domain, "example.com", "x") is True
    assert problems.check(V.check_domain, "bad..com", "x[0]") is False
    assert problems.check(V.check_access_value, "OK", "y", "Spam:abuse@") is False
    problems.add("z", 5, "a string")
    assert problems == [V.check_domain("bad..com", "x[0]"), V.check_access_value("OK", "y", "Spam:abuse@"),
                        "z: 5 is not valid: a string"]
    assert "label 'a_b' is not 1-63 letters, digits or inner hyphens" in V.check_hostname("a_b.com", "h")
    items = V.Problems()
    assert items.items("ports", [25, 25, "x", 465], V.is_port, "a port") == [25, 465]
    assert items.items("units", "sendmail", V.is_systemd_unit, "a list") == []
    assert items == ["ports[2]: 'x' is not valid: a port", "units: 'sendmail' is not valid: a list"]


def test_dkim_txt_value():
    txt = 'mail._domainkey\tIN\tTXT\t( "v=DKIM1; h=sha256; k=rsa; "\n\t  "p=MIIB" "IjAN" )  ; ----- DKIM key mail\n'
    assert V.dkim_txt_value(txt) == "v=DKIM1; h=sha256; k=rsa; p=MIIBIjAN"
    assert V.dkim_txt_value('( "no key here" )') is None and V.dkim_txt_value(None) is None


# ---------------------------------------------------------------- properties
LABEL_CHARS = string.ascii_letters + string.digits + "-_"
labels = st.from_regex(re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"), fullmatch=True)
host_labels = st.from_regex(re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"), fullmatch=True)
NAME_ALPHABET = st.sampled_from(list(LABEL_CHARS + ".\n\x00 é`')@:/"))
PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.one_of(st.text(), st.text(NAME_ALPHABET, max_size=300)))
def test_accepted_domains_are_plain_ascii_names(text):
    if V.is_domain(text):
        assert set(text) <= set(LABEL_CHARS + ".")
        assert not text.endswith("\n") and len(text.removesuffix(".")) <= 253
        assert all(1 <= len(label) <= 63 for label in text.removesuffix(".").split("."))
    if V.is_hostname(text):
        assert V.is_domain(text) and "_" not in text
    if V.is_fqdn(text) or V.is_mail_domain(text) or V.is_short_hostname(text) or V.is_dnsbl_zone(text):
        assert V.is_hostname(text)


@PROPERTY
@given(st.lists(labels, min_size=1, max_size=8))
def test_labels_joined_by_dots_round_trip(parts):
    name = ".".join(parts)
    assert V.is_domain(name) is (len(name) <= 253)
    if len(name) <= 253:
        assert name.split(".") == parts and V.is_domain(name + ".") and not V.is_domain(name + "..")
        assert all(V.is_label(p) for p in parts)


@PROPERTY
@given(st.lists(host_labels, min_size=1, max_size=6))
def test_host_labels_make_host_names(parts):
    name = ".".join(parts)
    if len(name) <= 253:
        assert V.is_hostname(name) and V.is_mail_domain(name)
        assert V.is_fqdn(name) is (len(parts) > 1) and V.is_short_hostname(name) is (len(parts) == 1)
        assert not V.is_hostname(name + "\n") and not V.is_hostname("." + name)


@PROPERTY
@given(st.sampled_from(sorted(V.KINDS)), st.one_of(st.text(max_size=40), st.text(NAME_ALPHABET, max_size=40), st.integers()))
def test_check_agrees_with_is_and_has_one_shape(kind, value):
    is_kind, check = V.KINDS[kind]
    message = check(value, "where")
    assert (message is None) is is_kind(value)
    if message is not None:
        assert message.startswith(f"where: {value!r} is not valid: ")


@PROPERTY
@given(st.text(st.sampled_from(list("0123456789abz.-_@:/ \n")), max_size=30))
def test_access_key_fast_paths_give_the_full_answer(key):
    assert V.is_access_key(key) is (V.access_key_reason(key) is None)


@PROPERTY
@given(st.text(st.sampled_from(list("ERO:5.7 14\"abcQUAN")), max_size=20), st.sampled_from(["a.example", "Spam:x@", "GreetPause:"]))
def test_access_value_never_crashes_and_is_one_line(value, key):
    if V.is_access_value(value, key):
        assert "\n" not in value and value.strip()


# ---------------------------------------------------------------- the callers agree on every row
def _raises(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except (AnsibleFilterError, ValueError):
        return True
    return False


def _domain_var(**data):
    return {"mailserver_domain_t": {"domain": "a.example", **data}}


# a right-hand side each tag takes, for the key rows
TAG_VALUES = {"spam": "FRIEND", "greetpause": "0", "clientrate": "0", "clientconn": "0", "tls_srv": "VERIFY", "tls_clt": "VERIFY",
              "tls_rcpt": "VERIFY", "try_tls": "YES", "srv_features": "V", "clt_features": "V"}
ACCESS_ROWS = [(key, TAG_VALUES.get(V.access_tag(key), "RELAY"), valid) for key, valid in TABLE["access_key"]]
ACCESS_ROWS += ACCESS_VALUES


@pytest.mark.parametrize("key, value, valid", ACCESS_ROWS)
def test_inventory_check_and_access_module_agree(key, value, valid):
    """mail_domains (the inventory) refuses what the sendmail_access module refuses, and a RELAY entry too broad to be meant."""
    module_ok = smv.access_key(key) is None and smv.access_value(key, value) is None
    map_ok = update_text("", [{"key": key, "value": value}], False, MAP_KINDS["access"])[4] == []
    inventory_ok = not _raises(mail_domains, _domain_var(access={key: value}))
    server_ok = not _raises(mail_domains, {}, server={"access": {key: value}})
    narrow = not isinstance(value, str) or value.upper() != "RELAY" or not V.is_access_key(key) or V.is_relay_key(key)
    assert module_ok is map_ok is valid
    assert inventory_ok is server_ok is (valid and narrow)
    if value == "RELAY" and key:
        assert (not _raises(mail_domains, _domain_var(relay_from=[key]))) is (valid and narrow)


@pytest.mark.parametrize("value, valid", TABLE["local_part"])
def test_virtual_local_parts_agree_with_the_virtusertable_module(value, valid):
    inventory_ok = not _raises(mail_domains, _domain_var(virtual={value: "marc"}))
    user_ok = not _raises(mail_domains, _domain_var(users=[{"name": "marc", "addresses": [value]}]))
    module_ok = smv.virtuser_key(f"{value}@a.example") is None
    assert inventory_ok is user_ok is module_ok is valid


@pytest.mark.parametrize("value, valid", TABLE["alias_name"])
def test_alias_names_agree_with_the_aliases_module(value, valid):
    inventory_ok = not _raises(mail_domains, _domain_var(aliases={value: ["marc"]}))
    module_ok = update_text("", [{"name": value, "members": ["marc"]}], False, MAP_KINDS["aliases"])[4] == []
    assert inventory_ok is module_ok is valid


@pytest.mark.parametrize("value, valid", TABLE["mail_address"])
def test_genericstable_addresses_agree_with_the_map_module(value, valid):
    inventory_ok = not _raises(mail_domains, _domain_var(genericstable={"alert": value}))
    module_ok = update_text("", [{"key": "alert", "value": value}], False, MAP_KINDS["genericstable"])[4] == []
    assert inventory_ok is module_ok is valid


@pytest.mark.parametrize("value, valid", TABLE["mail_domain"])
def test_mail_domains_agree(value, valid):
    """The domain of a mailserver_domain_* variable, the resolver's mail domains and milter-greylist's domains."""
    inventory_ok = not _raises(mail_domains, {"mailserver_domain_t": {"domain": value}})
    problems = resolver.resolver_problems({"resolver_hostname": "bigboy", "resolver_fqdn": "bigboy.x.example",
                                           "resolver_mail_domains": [value]})
    resolver_ok = not [p for p in problems if "resolver_mail_domains" in p]
    greylist_ok = not [p for p in milter_greylist.milter_greylist_conf({"whitelist_domains": [value]})["errors"]
                       if "whitelist_domains" in p]
    assert resolver_ok is valid
    assert greylist_ok is (valid or (value[:1] == "." and V.is_mail_domain(value[1:])))  # .example.com: every subdomain
    assert inventory_ok is (valid and value == value.lower())  # the inventory lower-cases the domain first


@pytest.mark.parametrize("value, valid", TABLE["hostname"])
def test_host_names_agree(value, valid):
    assert resolver_tests.hostname(value) is valid
    assert (resolver.hostname_problem(value) == "") is valid
    assert resolver_tests.any_bad_hostname(["bigboy", value]) is not valid
    problems = resolver.resolver_problems({"resolver_hostname": "bigboy", "resolver_fqdn": "bigboy.x.example",
                                           "resolver_search": [value]})
    search_ok = not [p for p in problems if "resolver_search" in p]
    assert search_ok is valid


@pytest.mark.parametrize("value, valid", TABLE["ip_address"])
def test_ip_addresses_agree(value, valid):
    assert resolver_tests.ip_address(value) is valid
    assert (not sendmail_checks.sendmail_config_errors({"sendmail_listen_addresses": [value]})) is valid
    problems = resolver.resolver_problems({"resolver_hostname": "bigboy", "resolver_fqdn": "bigboy.x.example",
                                           "resolver_nameservers": [value]})
    ns_ok = not [p for p in problems if "resolver_nameservers" in p]
    assert ns_ok is valid
    assert (not _raises(mail_dns.mail_dns_records, ["x.example"], "mx.x.example", addresses=[value])) is valid


@pytest.mark.parametrize("value, valid", TABLE["milter_socket"])
def test_milter_sockets_agree(value, valid):
    errors = sendmail_checks.sendmail_config_errors({"sendmail_milters": [{"name": "m", "socket": value}]})
    assert (errors == []) is valid
    if valid and "localhost" not in value and "example.com" not in value:  # listening_ports resolves host names
        assert listening_ports.parse_spec(value)["kind"] in ("tcp", "unix")


@pytest.mark.parametrize("value, valid", TABLE["duration"])
def test_durations_agree(value, valid):
    greylist_ok = not [e for e in milter_greylist.milter_greylist_conf({"delay": value})["errors"] if e.startswith("milter_greylist_delay")]
    timeouts = sendmail_checks.sendmail_config_errors({"sendmail_milters": [{"name": "m", "socket": "local:/s", "timeouts": {"S": value}}]})
    assert greylist_ok is (timeouts == []) is valid


@pytest.mark.parametrize("value, valid", TABLE["dkim_selector"])
def test_dkim_selectors_agree(value, valid):
    filter_ok = not _raises(mail_dns.mail_dkim_keys, ["my-site.com"], value)
    module_ok = opendkim_keys.check_keys([{"domain": "my-site.com", "selector": value, "dir": "/k/my-site.com",
                                           "private": None, "txt": None}]) == []
    assert filter_ok is module_ok is valid


@pytest.mark.parametrize("value, valid", TABLE["abs_path"])
def test_absolute_paths_agree(value, valid):
    greylist_ok = not [e for e in milter_greylist.milter_greylist_conf({"pidfile": value})["errors"] if "pidfile" in e]
    dovecot_ok = not [e for e in dovecot.check({**{n: None for n in dovecot.REQUIRED}, "ssl_cert": value}) if "ssl_cert" in e]
    dkim_ok = not _raises(mail_dns.mail_dkim_keys, ["my-site.com"], "mail", {}, value)
    assert greylist_ok is dovecot_ok is dkim_ok is valid


@pytest.mark.parametrize("value, valid", TABLE["sasl_mechanism"])
def test_sasl_mechanisms(value, valid):
    errors = dovecot.check({**{n: None for n in dovecot.REQUIRED}, "dovecot_auth_mechanisms": [value]})
    assert (not [e for e in errors if e.startswith("dovecot_auth_mechanisms")]) is valid


@pytest.mark.parametrize("value, valid", TABLE["milter_socket"])
def test_milter_sockets_agree_with_the_milter_roles(value, valid):
    for name in ("opendkim_socket", "opendmarc_socket", "spf_socket"):
        assert (milter_checks.milter_config_errors({name: value}) == []) is valid


@pytest.mark.parametrize("value, valid", TABLE["milter_peer"])
def test_milter_peers_agree(value, valid):
    for name in ("opendkim_internal_hosts", "opendmarc_ignore_hosts", "spf_ignore_hosts"):
        assert (milter_checks.milter_config_errors({name: [value]}) == []) is valid


@pytest.mark.parametrize("value, valid", TABLE["relay_domain"])
def test_relay_domains_agree(value, valid):
    """sendmail_relay_domains and a domain's relay_domain: true refuse what a relay-domains line must not be."""
    assert (not _raises(mail_domains, {}, server={"relay_domains": [value]})) is valid
    inventory_ok = not _raises(mail_domains, {"mailserver_domain_t": {"domain": value, "relay_domain": True}})
    assert inventory_ok is (valid and value == value.lower())


# ---------------------------------------------------------------- m4: what sendmail.mc may hold inside quotes
# Every character that ends a line for str.splitlines (and so for a Python-written config file), and NUL.
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00"
DANGER = LINE_BREAKS + "`'(),#\"\\$%:;{}<> \t\x7f\x9bé"
MACRO_WORDS = ["dnl", "divert", "m4exit", "undivert", "RELAY_DOMAIN", "LOCAL_CONFIG", "confCACERT", "_DNSBL_SRV_",
               "FEATURE", "DOMAIN", "sm_version", "m4_dnl", "include", "esyscmd"]
DANGEROUS_TEXT = st.one_of(
    st.text(max_size=30),
    st.text(st.sampled_from(list(string.ascii_letters + string.digits + ".-_@/[]" + DANGER)), max_size=30),
    st.lists(st.one_of(st.sampled_from(MACRO_WORDS), st.from_regex(r"[a-z][a-z0-9-]{0,6}", fullmatch=True)), min_size=1,
             max_size=4).map(".".join),
)


def _m4_names_defined_by_m4_and_sendmail_cf():
    """The macro names GNU m4 and the installed sendmail-cf tree define (cf.m4 with every feature and mailer)."""
    builtins = subprocess.run(["m4"], input="dumpdef\n", capture_output=True, text=True, check=True).stderr
    names = set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*):", builtins, re.M))
    for root, _dirs, files in os.walk(CF_DIR):
        for name in files:
            if name.endswith(".m4"):
                with open(os.path.join(root, name), encoding="latin-1") as handle:
                    names.update(re.findall(r"(?:define|pushdef)\(`?([A-Za-z_][A-Za-z0-9_]*)", handle.read()))
    return names


CF_DIR = "/usr/share/sendmail/cf"


def test_every_macro_m4_and_sendmail_cf_define_is_refused_inside_quotes():
    """The m4 rule knows every name m4 would run: the builtins of the installed m4 and every macro of sendmail-cf."""
    assert shutil.which("m4") and os.path.isdir(CF_DIR), "install m4 and sendmail-cf (scripts/bootstrap.sh does)"
    names = _m4_names_defined_by_m4_and_sendmail_cf()
    assert {"dnl", "divert", "m4exit", "RELAY_DOMAIN", "MASQUERADE_AS", "FEATURE", "lower", "_DNSBL_SRV_"} <= names
    missed = sorted(n for n in names if V.is_m4_text(f"x.{n}.y") or not V.m4_macro_name(n))
    assert missed == []
    # and the words the collection's own defaults put into sendmail.mc are none of them
    for word in ("PLAIN", "LOGIN", "CRAM", "MD5", "local", "inet", "unix", "run", "etc", "mail", "tls", "j", "_", "if_addr",
                 "daemon_name", "auth_type", "msg_id", "rcpt_addr", "opendkim", "greylist", "sock", "crt", "key", "s", "m"):
        assert word not in names and not V.m4_macro_name(word), word


@pytest.mark.parametrize("value", ["my-site.com')RELAY_DOMAIN(`com')dnl", "x.dnl.com", "x.m4exit.com", "a,b", "a#b",
                                   "a(b", "b)", "`a'", "x\nRELAY_DOMAIN", "x\u2028y", "x\x85y", "x\x0by", "LOCAL_CONFIG"])
def test_m4_rule_refuses_what_ends_a_quote_or_runs_a_macro(value):
    assert not V.is_m4_text(value)
    message = V.in_m4(V.check_message)(value, "sendmail_x")
    assert message is not None and message.startswith(f"sendmail_x: {value!r} is not valid: ")


@PROPERTY
@given(st.sampled_from(sorted(V.KINDS)), DANGEROUS_TEXT)
def test_no_kind_accepts_a_line_break_or_nul(kind, value):
    """Whatever a kind accepts stays on one line of any configuration file (str.splitlines splits at all of these)."""
    if V.KINDS[kind][0](value):
        assert not set(value) & set(LINE_BREAKS), (kind, value)
        assert len(f"a{value}b".splitlines()) == 1


@PROPERTY
@given(st.sampled_from(sorted(V.KINDS)), DANGEROUS_TEXT)
def test_in_m4_accepts_only_inert_text(kind, value):
    """in_m4(check_K) accepts a value only when check_K does and m4 can neither end its quote nor run a macro in it."""
    message = V.in_m4(V.KINDS[kind][1])(value, "var")
    if message is None:
        assert V.KINDS[kind][0](value)
        assert all(" " <= c <= "~" for c in value) and not set(value) & set(V.M4_SPECIALS)
        assert not any(V.m4_macro_name(word) for word in V.M4_WORD_RE.findall(value))
    else:
        assert message.startswith(f"var: {value!r} is not valid: ")


@PROPERTY
@given(DANGEROUS_TEXT)
def test_accepted_paths_use_plain_file_name_characters(value):
    if V.is_abs_path(value):
        assert value.startswith("/") and set(value) <= set(string.ascii_letters + string.digits + "._+-/")


@PROPERTY
@given(st.one_of(DANGEROUS_TEXT, st.text(st.sampled_from(list("0123456789.:abcmoIPv6ConectTF@<>")), max_size=16)))
def test_a_relay_key_is_never_a_whole_top_level_domain_or_a_slash_8(key):
    if V.is_relay_key(key):
        assert V.is_access_key(key)
        rest = key.split(":", 1)[1] if V.access_tag(key) else key
        if V.is_domain(rest) and not rest.replace(".", "").isdigit():
            assert "." in rest.removesuffix(".") or rest.lower() == "localhost"
        if rest.replace(".", "").isdigit():
            assert "." in rest
    if V.is_relay_domain(key):
        assert V.is_mail_domain(key) and "." in key


@PROPERTY
@given(DANGEROUS_TEXT)
def test_smtp_text_leaves_sendmail_operators_and_quotes_alone(value):
    if V.is_smtp_text(value):
        assert value.count('"') % 2 == 0 and "\\" not in value
        assert re.sub(r"\$&?(?:[A-Za-z]|\{[A-Za-z0-9_]+\})", "", value).count("$") == 0

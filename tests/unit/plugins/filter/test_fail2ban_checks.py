"""homelab.mailserver.fail2ban_jail_conf: the role's jail file from its variables, bad values named.

Every value reaches a line of an INI file that fail2ban reads with its own interpolation: arbitrary
text in any variable is refused naming that variable, or the file keeps exactly the reference's
sections and options, one per line, with only the value changed.
"""

from __future__ import annotations

import configparser
import string

import pytest
from ansible_collections.homelab.mailserver.plugins.filter.fail2ban_checks import FilterModule, fail2ban_jail_conf, seconds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00"
DANGER = LINE_BREAKS + "[]%()=:;#, \t/."
ANY = st.one_of(st.text(max_size=30), st.text(st.sampled_from(list(string.ascii_lowercase + string.digits + DANGER)), max_size=30))
VALUES = st.one_of(ANY, st.integers(min_value=-70000, max_value=70000), st.booleans(), st.none(), st.lists(ANY, max_size=2))


def jails(**changes):
    base = [
        {"name": "sendmail-auth", "filter": "sendmail-auth", "enabled": True, "ports": [25, 587]},
        {"name": "sendmail-reject", "filter": "homelab-sendmail-reject", "enabled": True, "ports": [25, 587]},
        {"name": "dovecot", "filter": "dovecot", "enabled": True, "ports": [110, 143, 993, 995]},
    ]
    return [dict(jail, **changes.get(jail["name"], {})) for jail in base]


BASE = {"bantime": "1h", "findtime": "10m", "maxretry": 5, "ignoreip": ["127.0.0.1/8", "::1"],
        "banaction": "nftables-multiport", "backend": "systemd", "jails": jails()}


def parsed(lines):
    """The file as fail2ban's reader sees it (ConfigParser, no interpolation): {section: {option: value}}."""
    parser = configparser.RawConfigParser(strict=True, interpolation=None)
    parser.read_string("\n".join(lines) + "\n")
    return {section: dict(parser[section]) for section in parser.sections()}


def test_registered():
    assert set(FilterModule().filters()) == {"fail2ban_jail_conf"}


def test_the_default_jails():
    result = fail2ban_jail_conf(BASE)
    assert result["errors"] == []
    assert result["lines"][:10] == [
        "[sendmail-auth]",
        "enabled = true",
        "filter = sendmail-auth",
        "backend = systemd",
        "banaction = nftables-multiport",
        "port = 25,587",
        "bantime = 1h",
        "findtime = 10m",
        "maxretry = 5",
        "ignoreip = 127.0.0.0/8 ::1/128",
    ]
    sections = parsed(result["lines"])
    assert list(sections) == ["sendmail-auth", "sendmail-reject", "dovecot"]
    assert sections["sendmail-reject"]["filter"] == "homelab-sendmail-reject"
    assert sections["dovecot"]["port"] == "110,143,993,995"


def test_a_disabled_jail_is_switched_off_and_nothing_else():
    result = fail2ban_jail_conf(dict(BASE, jails=jails(dovecot={"enabled": False, "ports": []})))
    assert result["errors"] == []
    assert parsed(result["lines"])["dovecot"] == {"enabled": "false"}


def test_numbers_addresses_and_ports_as_the_file_gets_them():
    result = fail2ban_jail_conf(dict(BASE, bantime=600, findtime="1h30m", maxretry="3", ignoreip=[],
                                     jails=jails(**{"sendmail-auth": {"ports": [587, 465, 587]}})))
    assert result["errors"] == []
    jail = parsed(result["lines"])["sendmail-auth"]
    assert (jail["bantime"], jail["findtime"], jail["maxretry"], jail["ignoreip"]) == ("600", "1h30m", "3", "")
    assert jail["port"] == "587,465"


@pytest.mark.parametrize("text, expected", [("300", 300), ("30s", 30), ("10m", 600), ("1h30m", 5400), ("1d12h", 129600),
                                            ("1w", 604800), ("0", 0), ("5 m", None), ("-1", None), ("1y", None), (30, None)])
def test_seconds(text, expected):
    assert seconds(text) == expected


@pytest.mark.parametrize("change, expected", [
    ({"bantime": "0s"}, "fail2ban_bantime: '0s' is not valid: a duration"),
    ({"bantime": -1}, "fail2ban_bantime: '-1' is not valid: a duration"),
    ({"bantime": "1h\n[sshd]"}, "fail2ban_bantime: '1h\\n[sshd]' is not valid: a duration"),
    ({"findtime": True}, "fail2ban_findtime: True is not valid: a duration"),
    ({"findtime": "10 minutes"}, "fail2ban_findtime: '10 minutes' is not valid: a duration"),
    ({"maxretry": 0}, "fail2ban_maxretry: 0 is not valid: a whole number, 1 or more"),
    ({"maxretry": "5\nignoreip = 0.0.0.0/0"}, "fail2ban_maxretry: '5\\nignoreip = 0.0.0.0/0' is not valid: a whole number"),
    ({"maxretry": False}, "fail2ban_maxretry: False is not valid: a whole number"),
    ({"ignoreip": "127.0.0.1"}, "fail2ban_ignoreip: '127.0.0.1' is not valid: a list of IP addresses or networks"),
    ({"ignoreip": ["10.0.0.0/33"]}, "fail2ban_ignoreip[0]: '10.0.0.0/33' is not valid: an IP address or network"),
    ({"ignoreip": ["my-site.com"]}, "fail2ban_ignoreip[0]: 'my-site.com' is not valid: an IP address or network"),
    ({"ignoreip": ["fe80::1%eth0"]}, "fail2ban_ignoreip[0]: 'fe80::1%eth0' is not valid: an IP address or network"),
    ({"banaction": "iptables-multiport"}, "fail2ban_banaction: 'iptables-multiport' is not valid: nftables-multiport or nftables-allports"),
    ({"backend": "journal"}, "fail2ban_jail_conf input backend: 'journal' is not valid: systemd, auto, polling, pyinotify"),
    ({"jails": jails(dovecot={"enabled": "yes"})}, "fail2ban_dovecot_enabled: 'yes' is not valid: a boolean"),
    ({"jails": jails(dovecot={"ports": "993"})}, "fail2ban_dovecot_ports: '993' is not valid: a list of TCP port numbers"),
    ({"jails": jails(dovecot={"ports": ["imaps"]})}, "fail2ban_dovecot_ports[0]: 'imaps' is not valid: a TCP port number 1-65535"),
    ({"jails": jails(dovecot={"ports": [0]})}, "fail2ban_dovecot_ports[0]: 0 is not valid: a TCP port number 1-65535"),
    ({"jails": jails(dovecot={"ports": [65536]})}, "fail2ban_dovecot_ports[0]: 65536 is not valid: a TCP port number 1-65535"),
    ({"jails": jails(**{"sendmail-auth": {"ports": []}})}, "fail2ban_sendmail_auth_ports: [] is not valid: a list of TCP port numbers"),
    ({"jails": jails(dovecot={"filter": "dovecot[mode=aggressive]"})},
     "fail2ban_jail_conf input jails[2].filter: 'dovecot[mode=aggressive]' is not valid: a name of 1-64"),
    ({"jails": jails(dovecot={"name": "dovecot]\n[sshd"})},
     "fail2ban_jail_conf input jails[2].name: 'dovecot]\\n[sshd' is not valid: a name of 1-64"),
    ({"jails": jails(dovecot={"name": "sendmail-auth"})}, "fail2ban_jail_conf input jails[2].name: 'sendmail-auth' is not valid: a name no other"),
    ({"jails": [{"name": "dovecot", "logpath": "/var/log/x"}]}, "fail2ban_jail_conf input jails[0]: {"),
    ({"jails": None}, "fail2ban_jail_conf input jails: None is not valid: a list of jails"),
])
def test_errors_name_the_variable(change, expected):
    result = fail2ban_jail_conf(dict(BASE, **change))
    assert result["lines"] == []
    assert any(error.startswith(expected) for error in result["errors"]), result["errors"]


def test_an_empty_port_list_is_fine_for_a_disabled_jail():
    assert fail2ban_jail_conf(dict(BASE, jails=jails(dovecot={"enabled": False, "ports": []})))["errors"] == []


def test_not_a_dict():
    assert fail2ban_jail_conf(None)["errors"] == ["fail2ban_jail_conf input: None is not valid: a dictionary of the settings"]


# ---------------------------------------------------------------- any value: refused naming its variable, or one value
REFERENCE = parsed(fail2ban_jail_conf(BASE)["lines"])
# variable as errors name it, settings with the value
SPECS = [
    ("fail2ban_bantime", lambda v: dict(BASE, bantime=v)),
    ("fail2ban_findtime", lambda v: dict(BASE, findtime=v)),
    ("fail2ban_maxretry", lambda v: dict(BASE, maxretry=v)),
    ("fail2ban_ignoreip", lambda v: dict(BASE, ignoreip=v)),
    ("fail2ban_ignoreip", lambda v: dict(BASE, ignoreip=["127.0.0.1", v])),
    ("fail2ban_banaction", lambda v: dict(BASE, banaction=v)),
    ("fail2ban_sendmail_auth_enabled", lambda v: dict(BASE, jails=jails(**{"sendmail-auth": {"enabled": v}}))),
    ("fail2ban_sendmail_reject_ports", lambda v: dict(BASE, jails=jails(**{"sendmail-reject": {"ports": v}}))),
    ("fail2ban_dovecot_ports", lambda v: dict(BASE, jails=jails(dovecot={"ports": [993, v]}))),
]


@pytest.mark.parametrize("name, build", SPECS, ids=[f"{s[0]}-{i}" for i, s in enumerate(SPECS)])
def test_any_value_is_refused_naming_the_variable_or_changes_one_value(name, build):
    @PROPERTY
    @given(VALUES)
    def check(value):
        result = fail2ban_jail_conf(build(value))
        if result["errors"]:
            assert all(error.startswith(name) for error in result["errors"]), result["errors"]
            assert result["lines"] == []
            return
        assert all(len(f"{line}\n".splitlines()) == 1 and "%" not in line for line in result["lines"])
        sections = parsed(result["lines"])
        assert list(sections) == list(REFERENCE)
        for section, options in sections.items():
            if options != {"enabled": "false"}:
                assert list(options) == list(REFERENCE[section]), (section, options)
            # no value opens an interpolation, a section or a second line
            assert all("[" not in text and "\n" not in text for text in options.values())

    check()


@PROPERTY
@given(st.lists(st.one_of(st.ip_addresses(), st.ip_addresses().map(lambda a: f"{a}/{8 if a.version == 4 else 64}")).map(str),
                max_size=4))
def test_addresses_and_networks_are_written_as_networks(addresses):
    result = fail2ban_jail_conf(dict(BASE, ignoreip=addresses))
    assert result["errors"] == []
    written = parsed(result["lines"])["dovecot"]["ignoreip"].split()
    assert len(written) == len(set(written)) <= len(addresses)
    assert all("/" in network for network in written)

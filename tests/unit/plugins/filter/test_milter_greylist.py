"""homelab.mailserver.milter_greylist_conf: greylist.conf from variables, bad values named."""

from __future__ import annotations

import pytest
from ansible_collections.homelab.mailserver.plugins.filter.milter_greylist import (
    FilterModule,
    milter_greylist_conf,
    milter_greylist_flags,
)

BASE = {
    "pidfile": "/run/milter-greylist.pid",
    "socket": "/run/milter-greylist/milter-greylist.sock",
    "socket_mode": "660",
    "dumpfile": "/var/lib/milter-greylist/greylist.db",
    "dumpfile_mode": "600",
    "dumpfreq": "10m",
    "user": "greylist",
    "delay": "5m",
    "autowhite": "25h",
}


def test_registered():
    assert set(FilterModule().filters()) == {"milter_greylist_conf", "milter_greylist_flags"}


def test_the_chapters_example():
    """greylist 5m and acl whitelist addr 192.168.0.0/16, plus the daemon settings and the final default."""
    result = milter_greylist_conf(dict(BASE, whitelist_addresses=["192.168.0.0/16"]))
    assert result["errors"] == []
    assert result["lines"] == [
        'pidfile "/run/milter-greylist.pid"',
        'socket "/run/milter-greylist/milter-greylist.sock" 660',
        'dumpfile "/var/lib/milter-greylist/greylist.db" 600',
        "dumpfreq 10m",
        'user "greylist"',
        "greylist 5m",
        "autowhite 25h",
        "acl whitelist addr 192.168.0.0/16",
        "acl greylist default",
    ]


def test_every_whitelist_kind_in_order():
    result = milter_greylist_conf(dict(
        BASE, socket_mode="", whitelist_addresses=["127.0.0.1", "10.1.2.3/8"], whitelist_domains=["example.com"],
        whitelist_senders=["@trusted.example"], whitelist_recipients=["postmaster@my-site.com"],
        extra_lines=["acl blacklist from spammer@bad.example"], greylist_by_default=False, quiet=True, spf_bypass=False,
    ))
    assert result["errors"] == []
    assert result["lines"][1] == 'socket "/run/milter-greylist/milter-greylist.sock"'
    assert result["lines"][5:] == [
        "quiet",
        "nospf",
        "greylist 5m",
        "autowhite 25h",
        "acl whitelist addr 127.0.0.1/32",
        "acl whitelist addr 10.0.0.0/8",
        "acl whitelist domain example.com",
        "acl whitelist from @trusted.example",
        "acl whitelist rcpt postmaster@my-site.com",
        "acl blacklist from spammer@bad.example",
        "acl whitelist default",
    ]


@pytest.mark.parametrize("change, expected", [
    ({"delay": "five minutes"}, "milter_greylist_delay: 'five minutes' is not valid: a duration"),
    ({"autowhite": True}, "milter_greylist_autowhite: True is not valid: a duration"),
    ({"dumpfreq": "-1"}, "milter_greylist_dumpfreq: '-1' is not valid: a duration"),
    ({"socket": "relative.sock"}, "milter_greylist_socket: 'relative.sock' is not valid: an absolute path"),
    ({"pidfile": "/run/a b.pid"}, "milter_greylist_pidfile: '/run/a b.pid' is not valid: an absolute path"),
    ({"socket_mode": "rw"}, "milter_greylist_socket_mode: 'rw' is not valid: an octal file mode"),
    ({"user": "Grey List"}, "milter_greylist_user: 'Grey List' is not valid: a Linux user name"),
    ({"whitelist_addresses": ["192.168.0.0/33"]}, "milter_greylist_whitelist_addresses[0]: '192.168.0.0/33' is not valid: an IP address or network"),
    ({"whitelist_addresses": "192.168.0.0/16"}, "milter_greylist_whitelist_addresses: '192.168.0.0/16' is not valid: a list"),
    ({"whitelist_domains": ["bad domain"]}, "milter_greylist_whitelist_domains[0]: 'bad domain' is not valid: a mail domain"),
    ({"whitelist_recipients": ["a b@c"]}, "milter_greylist_whitelist_recipients[0]: 'a b@c' is not valid: an address such as user@example.com"),
    ({"extra_lines": ["a\nb"]}, "milter_greylist_extra_lines[0]: 'a\\nb' is not valid: one line of text"),
    ({"greylist_by_default": "yes"}, "milter_greylist_greylist_by_default: 'yes' is not valid: a boolean"),
    ({"spf_bypass": "no"}, "milter_greylist_spf_bypass: 'no' is not valid: a boolean"),
])
def test_errors_name_the_variable(change, expected):
    result = milter_greylist_conf(dict(BASE, **change))
    assert any(expected in error for error in result["errors"]), result["errors"]


def test_not_a_dict():
    assert milter_greylist_conf(None)["errors"] == ["milter_greylist_conf input: None is not valid: a dictionary of the settings"]


@pytest.mark.parametrize("policy, flag", [("pass", ""), ("tempfail", "T"), ("reject", "R")])
def test_flags(policy, flag):
    assert milter_greylist_flags(policy) == flag


def test_flags_bad():
    with pytest.raises(ValueError, match="is not valid: pass, tempfail or reject"):
        milter_greylist_flags("drop")

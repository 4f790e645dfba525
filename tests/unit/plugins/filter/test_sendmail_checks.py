"""homelab.mailserver.sendmail_config_errors and helpers: bad input gives messages naming variable and item."""

from __future__ import annotations

import pytest
from ansible_collections.homelab.mailserver.plugins.filter.sendmail_checks import (
    FilterModule,
    m4_problems,
    sendmail_config_errors,
    sendmail_m4_origin,
    sendmail_milter_macros,
)


def test_registered():
    assert set(FilterModule().filters()) == {"sendmail_config_errors", "sendmail_milter_macros", "sendmail_m4_origin"}


def test_valid_is_empty():
    assert sendmail_config_errors({
        "sendmail_mode": "server", "sendmail_smart_host": "", "sendmail_dnsbl": [{"zone": "bl.spamcop.net"}],
        "sendmail_milters": [], "sendmail_mc_raw_features": ["FEATURE(`nouucp', `reject')dnl"],
        "sendmail_mc_raw_end": [], "sendmail_listen_addresses": ["127.0.0.1", "::1"],
        "sendmail_procmail_recipes": [":0fw\n* < 512000\n| /usr/bin/spamc\n"],
    }) == []


@pytest.mark.parametrize("config, expected", [
    ({"sendmail_mode": "relay"}, "sendmail_mode must be 'server' or 'client'"),
    ({"sendmail_mode": "client", "sendmail_smart_host": ""}, "sendmail_smart_host is required"),
    ({"sendmail_dnsbl": [{"zone": "bl spamcop"}]}, "sendmail_dnsbl[0]: 'zone' must be a DNS zone"),
    ({"sendmail_dnsbl": [{"message": "x"}]}, "sendmail_dnsbl[0]: 'zone' must be a DNS zone"),
    ({"sendmail_dnsbl": ["bl.spamcop.net"]}, "sendmail_dnsbl[0] must be a dictionary"),
    ({"sendmail_dnsbl": [{"zone": "a.org", "msg": "x"}]}, "sendmail_dnsbl[0]: unknown key 'msg'"),
    ({"sendmail_dnsbl": [{"zone": "a.org", "message": "`unclosed"}]}, "sendmail_dnsbl[0]: 'message' has 1 m4 quote"),
    ({"sendmail_dnsbl": [{"zone": "a.org", "tempfail": "yes"}]}, "'tempfail' must be a boolean"),
    ({"sendmail_milters": [{"name": "g", "socket": "/tmp/sock"}]}, "sendmail_milters[0]: 'socket' must look like"),
    ({"sendmail_milters": [{"name": "g g", "socket": "local:/s"}]}, "sendmail_milters[0]: 'name' must be"),
    ({"sendmail_milters": [{"name": "g", "socket": "local:/s", "flags": "X"}]}, "'flags' must be"),
    ({"sendmail_milters": [{"name": "g", "socket": "local:/s", "timeouts": {"Q": "1s"}}]}, "timeouts key 'Q'"),
    ({"sendmail_milters": [{"name": "g", "socket": "local:/s", "macros": {"connect": ["if_addr"]}}]},
     "'if_addr' is not a macro name"),
    ({"sendmail_milters": [{"name": "g", "socket": "local:/s"}, {"name": "g", "socket": "local:/t"}]},
     "sendmail_milters[1]: milter 'g' is already defined by sendmail_milters[0]"),
    ({"sendmail_mc_raw_end": ["define(`confFOO', `1'dnl"]}, "sendmail_mc_raw_end[0]"),
    ({"sendmail_mc_raw_features": ["FEATURE(`x)dnl"]}, "m4 quote(s) opened"),
    ({"sendmail_listen_addresses": ["eth0"]}, "sendmail_listen_addresses[0]: 'eth0' is not an IP address"),
    ({"sendmail_procmail_recipes": ["| /usr/bin/spamc"]}, "sendmail_procmail_recipes[0] has no recipe start line"),
    ({"sendmail_procmail_recipes": [{":0fw": "spamc"}]}, "sendmail_procmail_recipes[0] must be a string"),
    ({"sendmail_procmail_recipes": ":0fw"}, "sendmail_procmail_recipes must be a list"),
])
def test_errors(config, expected):
    errors = sendmail_config_errors(config)
    assert any(expected in error for error in errors), errors


def test_m4_problems():
    assert m4_problems("define(`a', `b')dnl") is None
    assert m4_problems("$`'&{client_addr}") is None
    assert "closing parenthesis" in m4_problems("x)")
    assert "not closed" in m4_problems("define(`a', `b'dnl")


def test_milter_macros_union():
    assert sendmail_milter_macros([
        {"macros": {"connect": ["j", "{if_addr}"]}}, {"macros": {"connect": ["j", "_"], "eom": ["{msg_id}"]}}, {},
    ]) == {"connect": "j, {if_addr}, _", "eom": "{msg_id}"}


def test_m4_origin():
    text = "a\ndnl # from: sendmail_mc_raw_end[2]\nBROKEN(\nz"
    assert sendmail_m4_origin(text, 3) == "sendmail.mc line 3 'BROKEN(' comes from sendmail_mc_raw_end[2]"
    assert sendmail_m4_origin(text, "") == "" and sendmail_m4_origin(text, 99) == ""
    assert "the role's template" in sendmail_m4_origin(text, 1)


@pytest.mark.parametrize("config, expected", [
    ({"sendmail_delivery_mode": "batch"}, "sendmail_delivery_mode must be one of background, interactive, queue"),
    ({"sendmail_max_queue_children": -1}, "sendmail_max_queue_children must be an integer of at least 0"),
    ({"sendmail_max_queue_children": True}, "sendmail_max_queue_children must be an integer"),
    ({"sendmail_max_runners_per_queue": 0}, "sendmail_max_runners_per_queue must be an integer of at least 1"),
    ({"sendmail_queue_interval": "5 min"}, "sendmail_queue_interval must be digits with an optional unit"),
    ({"sendmail_queue_interval": "q5s"}, "e.g. '10m', 'p5s'"),
    ({"sendmail_queue_interval": "10m", "os_family": "RedHat"}, "on RedHat set the daemon's queue interval"),
])
def test_queue_knobs_are_checked(config, expected):
    errors = sendmail_config_errors(config)
    assert len(errors) == 1 and expected in errors[0]


def test_queue_knobs_valid():
    assert sendmail_config_errors({
        "sendmail_delivery_mode": "queue", "sendmail_max_queue_children": 5, "sendmail_max_runners_per_queue": "2",
        "sendmail_queue_interval": "p5s", "os_family": "Debian",
    }) == []
    assert sendmail_config_errors({"sendmail_delivery_mode": None, "sendmail_max_queue_children": None,
                                   "sendmail_max_runners_per_queue": None, "sendmail_queue_interval": None,
                                   "os_family": "RedHat"}) == []

"""homelab.mailserver.spamassassin_milter_options: spamass-milter's OPTIONS words from the spamassassin_milter_*
variables, and every bad value refused naming its variable (Debian's init script sources the words as shell)."""

from __future__ import annotations

import ipaddress
import re
import shlex

import pytest
from ansible_collections.homelab.mailserver.plugins.filter.spamassassin import FilterModule, spamassassin_milter_options
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROPERTY = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

BASE = {
    "user": "spamass-milter", "reject_score": 15, "required_score": 5.0, "scan_authenticated": False,
    "ignore_networks": ["127.0.0.1/32", "::1/128"], "socket": "/run/spamass/spamass.sock", "on_failure": "tempfail",
    "timeouts": {"C": "10s", "S": "4m", "R": "4m", "E": "10m"}, "spamc_max_size": 512000,
}
# what the init script may see in OPTIONS="..." without quoting, expansion or a second line
SAFE_WORD = re.compile(r"[A-Za-z0-9_./:,-]+")


def test_registered():
    assert FilterModule().filters()["spamassassin_milter_options"] is spamassassin_milter_options


def test_the_defaults():
    assert spamassassin_milter_options(BASE) == {
        "options": ["-u", "spamass-milter", "-i", "127.0.0.1/32,::1/128", "-I", "-r", "15", "--", "-s", "512000"],
        "flags": "T", "errors": []}


@pytest.mark.parametrize("on_failure, flags", [("tempfail", "T"), ("pass", ""), ("reject", "R")])
def test_on_failure_is_the_f_flag(on_failure, flags):
    assert spamassassin_milter_options(dict(BASE, on_failure=on_failure))["flags"] == flags


def test_authenticated_senders_scanned_on_request_and_no_ignore_list():
    options = spamassassin_milter_options(dict(BASE, scan_authenticated=True, ignore_networks=[]))["options"]
    assert options == ["-u", "spamass-milter", "-r", "15", "--", "-s", "512000"]


def test_networks_normalised_and_once():
    options = spamassassin_milter_options(dict(BASE, ignore_networks=["192.168.1.7/24", "192.168.1.0/24", "2001:db8::1"]))
    assert options["options"][3] == "192.168.1.0/24,2001:db8::1/128"


@pytest.mark.parametrize("reject_score", [5, 6, 15, 1000])
def test_reject_scores_from_the_required_score_up(reject_score):
    assert spamassassin_milter_options(dict(BASE, reject_score=reject_score))["errors"] == []


@pytest.mark.parametrize("settings_, where, words", [
    ({"reject_score": 4}, "spamassassin_milter_reject_score", "from spamassassin_required_score (5.0)"),
    ({"reject_score": 15.5}, "spamassassin_milter_reject_score", "a whole number"),
    ({"reject_score": "15"}, "spamassassin_milter_reject_score", "a whole number"),
    ({"reject_score": True}, "spamassassin_milter_reject_score", "a whole number"),
    ({"reject_score": 1001}, "spamassassin_milter_reject_score", "up to 1000"),
    ({"reject_score": 0, "required_score": -1}, "spamassassin_milter_reject_score", "a whole number"),
    ({"ignore_networks": "127.0.0.1"}, "spamassassin_milter_ignore_networks", "a list of IP addresses"),
    ({"ignore_networks": ["127.0.0.1", "10.0.0.0/33"]}, "spamassassin_milter_ignore_networks[1]", "CIDR"),
    ({"ignore_networks": ["127.0.0.1 -x"]}, "spamassassin_milter_ignore_networks[0]", "CIDR"),
    ({"scan_authenticated": "no"}, "spamassassin_milter_scan_authenticated", "a boolean"),
    ({"socket": "spamass.sock"}, "spamassassin_milter_socket", "an absolute path"),
    ({"socket": '/run/x"; rm -rf /'}, "spamassassin_milter_socket", "an absolute path"),
    ({"on_failure": "accept"}, "spamassassin_milter_on_failure", "pass, tempfail or reject"),
    ({"timeouts": {"C": "10s", "X": "1s"}}, "spamassassin_milter_timeouts", "C, S, R and E"),
    ({"timeouts": {"E": "ten minutes"}}, "spamassassin_milter_timeouts.E", "a duration"),
    ({"spamc_max_size": 0}, "spamassassin_spamc_max_size", "1 or more"),
])
def test_a_bad_value_is_refused_naming_its_variable(settings_, where, words):
    result = spamassassin_milter_options(dict(BASE, **settings_))
    assert result["options"] == [] and len(result["errors"]) == 1, result
    assert result["errors"][0].startswith(where + ": "), result["errors"]
    assert words in result["errors"][0]


def test_not_a_dictionary():
    assert spamassassin_milter_options(None)["errors"] == [
        "spamassassin_milter_options input: None is not valid: a dictionary of the settings"]


VALUES = st.one_of(st.text(max_size=20), st.integers(min_value=-5, max_value=2000), st.floats(allow_nan=False),
                   st.booleans(), st.none(), st.lists(st.text(max_size=12), max_size=3))
SPECS = [
    ("spamassassin_milter_reject_score", lambda v: dict(BASE, reject_score=v)),
    ("spamassassin_milter_ignore_networks", lambda v: dict(BASE, ignore_networks=v)),
    ("spamassassin_milter_ignore_networks", lambda v: dict(BASE, ignore_networks=["10.0.0.0/8", v])),
    ("spamassassin_milter_socket", lambda v: dict(BASE, socket=v)),
    ("spamassassin_milter_on_failure", lambda v: dict(BASE, on_failure=v)),
    ("spamassassin_milter_timeouts", lambda v: dict(BASE, timeouts={"E": v})),
]


@pytest.mark.parametrize("name, build", SPECS, ids=[f"{s[0]}-{i}" for i, s in enumerate(SPECS)])
def test_any_value_is_refused_naming_the_variable_or_gives_safe_words(name, build):
    @PROPERTY
    @given(VALUES)
    def check(value):
        result = spamassassin_milter_options(build(value))
        if result["errors"]:
            assert all(error.startswith(name) for error in result["errors"]), result["errors"]
            assert result["options"] == []
            return
        line = 'OPTIONS="%s"' % " ".join(result["options"])
        assert all(SAFE_WORD.fullmatch(word) for word in result["options"]), result["options"]
        assert shlex.split(line) == ["OPTIONS=" + " ".join(result["options"])]

    check()


@PROPERTY
@given(st.lists(st.one_of(st.ip_addresses(), st.ip_addresses().map(lambda a: f"{a}/{8 if a.version == 4 else 64}")).map(str),
                min_size=1, max_size=4))
def test_addresses_and_networks_are_given_as_networks(addresses):
    result = spamassassin_milter_options(dict(BASE, ignore_networks=addresses))
    assert result["errors"] == []
    given_networks = result["options"][3].split(",")
    assert len(given_networks) == len(set(given_networks)) <= len(addresses)
    for address in addresses:
        assert any(ipaddress.ip_network(address, strict=False) == ipaddress.ip_network(net) for net in given_networks)


@PROPERTY
@given(st.integers(min_value=-10, max_value=1100), st.floats(min_value=-5, max_value=30, allow_nan=False))
def test_reject_score_refused_below_the_required_score(reject_score, required_score):
    result = spamassassin_milter_options(dict(BASE, reject_score=reject_score, required_score=required_score))
    valid = 1 <= reject_score <= 1000 and reject_score >= required_score
    assert (result["errors"] == []) is valid, result
    if valid:
        assert result["options"][result["options"].index("-r") + 1] == str(reject_score)

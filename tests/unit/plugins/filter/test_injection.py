"""Greylist.conf and local.cf lines stay lines, and relaying is never opened for a whole TLD or /8.

greylist.conf and local.cf are built line by line by milter_greylist_conf and spamassassin_local_cf
(their templates print the lines): arbitrary strings in a variable are refused naming it, or every
line the filter returns is still one line (and the rendered file has no line more). The domain model
(mail_domains, run in the first play before anything changes) refuses a single-label relay domain,
an access entry that relays for one, a one-octet relay_from, and a CIDR relay_from.
"""

from __future__ import annotations

import string

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.homelab.mailserver.plugins.filter import milter_greylist, spamassassin
from ansible_collections.homelab.mailserver.plugins.filter.mail_domains import mail_domains, mail_domains_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00"
ANY = st.one_of(st.text(max_size=30),
                st.text(st.sampled_from(list(string.ascii_lowercase + string.digits + "./-_@:\" \t#" + LINE_BREAKS)), max_size=30))

GREYLIST = {"pidfile": "/run/milter-greylist.pid", "socket": "/run/milter-greylist/milter-greylist.sock", "socket_mode": "660",
            "dumpfile": "/var/lib/milter-greylist/greylist.db", "user": "greylist:greylist", "delay": "5m", "autowhite": "25h"}


def _one_line_each(lines):
    return all(len(f"{line}\n".splitlines()) == 1 for line in lines)


@pytest.mark.parametrize("key, wrap", [
    ("pidfile", None), ("socket", None), ("dumpfile", None), ("delay", None), ("autowhite", None), ("dumpfreq", None),
    ("user", None), ("socket_mode", None), ("whitelist_addresses", list), ("whitelist_domains", list),
    ("whitelist_senders", list), ("whitelist_recipients", list), ("extra_lines", list),
])
def test_greylist_values_are_refused_naming_the_variable_or_stay_one_line(key, wrap):
    @PROPERTY
    @given(ANY)
    def check(value):
        result = milter_greylist.milter_greylist_conf({**GREYLIST, key: [value] if wrap else value})
        if result["errors"]:
            assert all(error.startswith("milter_greylist_" + key) for error in result["errors"]), result["errors"]
            return
        assert _one_line_each(result["lines"])
        reference = milter_greylist.milter_greylist_conf(GREYLIST)["lines"]
        assert len(result["lines"]) in (len(reference), len(reference) + 1)

    check()


SA_SETTINGS = {"required_score": 5.0, "rewrite_subject": True, "subject_tag": "*****SPAM*****", "report_safe": 0, "use_bayes": 1}


@pytest.mark.parametrize("build, names", [
    (lambda v: ({**SA_SETTINGS, "subject_tag": v}, None, None), ("subject_tag",)),
    (lambda v: (SA_SETTINGS, {"use_terse_report": v}, None), ("spamassassin_options.use_terse_report",)),
    (lambda v: (SA_SETTINGS, {"whitelist_from": v}, None), ("option whitelist_from",)),
    (lambda v: (SA_SETTINGS, {v: "1"}, None), ("spamassassin_options",)),
    (lambda v: (SA_SETTINGS, None, [v]), ("spamassassin_extra_lines[0]",)),
    (lambda v: ({**SA_SETTINGS, "bayes_path": v}, None, None), ("bayes_path",)),
    (lambda v: ({**SA_SETTINGS, "trusted_networks": v}, None, None), ("trusted_networks",)),
])
def test_local_cf_values_are_refused_naming_the_variable_or_stay_one_line(build, names):
    @PROPERTY
    @given(ANY)
    def check(value):
        settings_, options, extra = build(value)
        result = spamassassin.spamassassin_local_cf(settings_, options=options, extra_lines=extra)
        if result["errors"]:
            assert all(error.startswith(names) for error in result["errors"]), result["errors"]
            return
        # the template prints each line, and each warning as one '# note:' comment line
        assert _one_line_each(result["lines"]) and _one_line_each(result["warnings"])

    check()


def test_a_dropped_option_cannot_smuggle_a_line_through_its_warning():
    """The 2.x option's value was printed in a '# note:' comment: a newline in it made a real local.cf line."""
    result = spamassassin.spamassassin_local_cf(SA_SETTINGS, options={"use_terse_report": "1\nrequired_score -100"})
    assert result["errors"] and result["errors"][0].startswith("spamassassin_options.use_terse_report: ")
    assert not any("required_score -100" in w for w in result["warnings"])


# ---------------------------------------------------------------- relaying (finding 4)
def _fails(call, *args, **kwargs):
    with pytest.raises(AnsibleFilterError) as info:
        call(*args, **kwargs)
    return str(info.value)


@pytest.mark.parametrize("server, where", [
    ({"relay_domains": ["com"]}, "sendmail_relay_domains[0]: 'com' is not valid: a domain of two or more labels"),
    ({"access": {"com": "RELAY"}}, "access: 'com' is not valid: a relay client or domain narrower than a top-level domain"),
    ({"access": {"To:org": "RELAY"}}, "access: 'To:org' is not valid"),
    ({"access": {"10": "relay"}}, "access: '10' is not valid: a relay client or domain narrower"),
    ({"masquerade_domains": ["x.dnl.com"]}, "sendmail_masquerade_domains[0]: 'x.dnl.com' is not valid: text that sendmail.mc can hold"),
])
def test_server_wide_relay_footguns_fail_naming_the_variable(server, where):
    message = _fails(mail_domains, {}, server=server)
    assert where in message and "sendmail_" in message
    model = mail_domains({})
    assert where in _fails(mail_domains_server, model, server)


@pytest.mark.parametrize("data, where", [
    ({"relay_from": ["10"]}, "relay_from[0]: '10' is not valid: a relay client or domain narrower than a top-level domain or a /8"),
    ({"relay_from": ["Connect:10"]}, "relay_from[0]: 'Connect:10' is not valid"),
    ({"relay_from": ["com"]}, "relay_from[0]: 'com' is not valid"),
    ({"relay_from": ["192.168.1.0/24"]}, "relay_from[0]: '192.168.1.0/24' is not valid: CIDR notation is not supported by sendmail"),
    ({"relay_from": ["10.0.0.0/33"]}, "relay_from[0]: '10.0.0.0/33' is not valid: CIDR notation is not supported"),
    ({"access": {"com": "RELAY"}}, "access: 'com' is not valid"),
])
def test_domain_relay_footguns_fail_in_the_model_before_anything_changes(data, where):
    """mail_domains runs in site.yml's first play (and the roles' validate step): a bad relay_from never reaches the map task."""
    message = _fails(mail_domains, {"mailserver_domain_x": {"domain": "x.example", **data}})
    assert "mailserver_domain_x (group_vars/x.yml)" in message and where in message


def test_a_single_label_domain_cannot_be_a_relay_domain():
    message = _fails(mail_domains, {"mailserver_domain_com": {"domain": "com", "relay_domain": True}})
    assert "domain (relay_domain: true): 'com' is not valid: a domain of two or more labels" in message
    # the chapter's own relaying stays valid
    model = mail_domains({"mailserver_domain_x": {"domain": "my-site.com", "relay_domain": True, "relay_from": ["192.168.1"]}},
                         server={"access": {"localhost": "RELAY", "127.0.0.1": "RELAY", "localhost.localdomain": "RELAY"}})
    assert model["relay_domains"] == ["my-site.com"]
    assert {e["key"] for e in model["access"] if e["value"] == "RELAY"} == {"localhost", "127.0.0.1", "localhost.localdomain", "192.168.1"}

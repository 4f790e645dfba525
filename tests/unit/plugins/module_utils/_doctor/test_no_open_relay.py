"""no_open_relay: the relay probe against a fake SMTP server on 127.0.0.1."""

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import no_open_relay as unit

from .helpers import closed_port


def probe(port, source="127.0.0.1"):
    return unit.check("127.0.0.1", port, source, "relay-test@relay-probe.invalid", timeout=5)


def test_relay_denied_is_ok_and_session_never_sends_data(smtp_server):
    state, port = smtp_server
    check = probe(port)
    assert check["name"] == "no_open_relay" and check["ok"] is True
    assert "550 5.7.1" in check["detail"] and "Relaying denied" in check["detail"]
    verbs = [c.split()[0].split(":")[0].upper() for c in state["commands"]]
    assert verbs == ["EHLO", "MAIL", "RCPT", "RSET", "QUIT"]
    assert state["commands"][1].upper() == "MAIL FROM:<>"
    assert state["commands"][2].upper() == "RCPT TO:<RELAY-TEST@RELAY-PROBE.INVALID>"


def test_relay_accepted_is_open_relay(smtp_server):
    state, port = smtp_server
    state["rcpt"] = "250 2.1.5 <relay-test@relay-probe.invalid>... Recipient ok"
    check = probe(port)
    assert check["ok"] is False and "open relay" in check["detail"]
    assert not any(c.upper().startswith("DATA") for c in state["commands"])
    assert [c.upper() for c in state["commands"][-2:]] == ["RSET", "QUIT"]


@pytest.mark.parametrize(
    ("key", "reply"),
    [("rcpt", "451 4.7.1 Greylisting in action, please come back later"),
     ("mail", "553 5.1.8 <>... Domain of sender address does not exist")],
)
def test_relay_inconclusive(smtp_server, key, reply):
    state, port = smtp_server
    state[key] = reply
    assert probe(port)["ok"] is None
    assert state["commands"][-1].upper() == "QUIT"


def test_relay_no_session_is_undecided():
    check = probe(closed_port())
    assert check["ok"] is None and "no SMTP session" in check["detail"]


def test_relay_probe_binds_the_untrusted_source(smtp_server):
    state, port = smtp_server
    probe(port, source="127.0.0.66")
    assert state["peers"] == ["127.0.0.66"]

"""Relaying through a provider's relay (sendmail_relay_*): sendmail.mc, the access and authinfo entries, the checks."""

from __future__ import annotations

import base64
import os
import sys

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))  # pytest.ini: --import-mode=importlib
from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.template import Templar, trust_as_template  # noqa: E402
from ansible_collections.homelab.mailserver.plugins.module_utils import _sendmail_validate as M  # noqa: E402
from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V  # noqa: E402
from sendmail_render import CHECKS, ROLE, render, role_vars  # noqa: E402

RELAY = {"sendmail_relay_host": "smtp.provider.example", "sendmail_relay_user": "me@provider.example",
         "sendmail_relay_password": "s3cret \"pass\""}


def mc(**overrides):
    return render(role_vars("Debian", overrides)).splitlines()


def test_server_relays_through_the_provider_on_587_with_starttls_and_authinfo():
    lines = mc(sendmail_mode="server", **RELAY)
    assert "define(`SMART_HOST', `relay:[smtp.provider.example]')dnl" in lines
    assert "define(`RELAY_MAILER_ARGS', `TCP $h 587')dnl" in lines
    assert "FEATURE(`authinfo', `hash /etc/mail/authinfo.db')dnl" in lines
    # the relay block comes before the mailers, FEATURE(authinfo) before MAILER(smtp)
    assert lines.index("FEATURE(`authinfo', `hash /etc/mail/authinfo.db')dnl") < lines.index("MAILER(`smtp')dnl")


def test_client_relay_replaces_sendmail_smart_host():
    lines = mc(sendmail_mode="client", sendmail_smart_host="", **RELAY)
    assert [line for line in lines if line.startswith("define(`SMART_HOST'")] == [
        "define(`SMART_HOST', `relay:[smtp.provider.example]')dnl"]


def test_no_relay_no_authinfo_and_no_relay_mailer_port():
    lines = mc(sendmail_mode="server")
    assert not any("SMART_HOST" in line or "authinfo" in line or "RELAY_MAILER_ARGS" in line for line in lines)


def test_relay_without_login_has_no_authinfo():
    lines = mc(sendmail_mode="server", sendmail_relay_host="smtp.provider.example")
    assert "define(`SMART_HOST', `relay:[smtp.provider.example]')dnl" in lines
    assert not any("authinfo" in line for line in lines if not line.startswith("dnl"))


def test_implicit_tls_goes_through_the_local_tunnel():
    lines = mc(sendmail_mode="server", sendmail_relay_tls="implicit", sendmail_relay_port=465, **RELAY)
    assert "define(`SMART_HOST', `relay:[127.0.0.1]')dnl" in lines
    assert "define(`RELAY_MAILER_ARGS', `TCP $h 10465')dnl" in lines


def test_ipv6_relay_in_brackets():
    lines = mc(sendmail_mode="server", sendmail_relay_host="2001:db8::25")
    assert "define(`SMART_HOST', `relay:[IPv6:2001:db8::25]')dnl" in lines


def _stunnel(**overrides):
    values = role_vars("Debian", {"sendmail_mode": "server", "sendmail_relay_tls": "implicit", "sendmail_relay_port": 465,
                                  **RELAY, **overrides})
    return render(values, "stunnel-relay.conf.j2").splitlines()


def test_stunnel_client_verifies_the_relay():
    lines = _stunnel()
    assert "client = yes" in lines and "accept = 127.0.0.1:10465" in lines
    assert "connect = smtp.provider.example:465" in lines
    assert "verifyChain = yes" in lines and "checkHost = smtp.provider.example" in lines
    assert "CAfile = /etc/ssl/certs/ca-certificates.crt" in lines and "sslVersionMin = TLSv1.2" in lines
    assert "foreground = yes" in lines  # stunnel@.service is Type=simple
    ip = _stunnel(sendmail_relay_host="192.0.2.25")
    assert "checkIP = 192.0.2.25" in ip and "connect = 192.0.2.25:465" in ip


# ---------------------------------------------------------------- vars/main.yml: the access and authinfo entries
def _ansible_expr(name, **overrides):
    """A vars/main.yml value rendered with Ansible's own templar (b64encode, combine, format)."""
    values = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    values.update(overrides)
    values.update(yaml.safe_load((ROLE / "vars" / "main.yml").read_text()))
    values = {key: trust_as_template(value) if isinstance(value, str) else value for key, value in values.items()}
    return Templar(loader=DataLoader(), variables=values).template(values[name])


def test_tls_srv_entry_requires_encryption_towards_the_relay():
    assert _ansible_expr("__sendmail_relay_access", sendmail_mode="server", **RELAY) == {
        "TLS_Srv:smtp.provider.example": "ENCR:128"}
    assert _ansible_expr("__sendmail_relay_access", sendmail_mode="server") == {}
    # implicit: TLS is the tunnel's, sendmail talks to loopback
    assert _ansible_expr("__sendmail_relay_access", sendmail_mode="server", sendmail_relay_tls="implicit", **RELAY) == {}


def test_authinfo_entry_has_the_password_in_base64_and_passes_the_map_module_rules():
    entries = _ansible_expr("__sendmail_relay_authinfo", sendmail_mode="server", **RELAY)
    assert len(entries) == 1
    key, value = entries[0]["key"], entries[0]["value"]
    assert key == "AuthInfo:smtp.provider.example"
    encoded = base64.b64encode(RELAY["sendmail_relay_password"].encode()).decode()
    assert value == f'"U:me@provider.example" "I:me@provider.example" "P={encoded}" "M:PLAIN LOGIN"'
    assert RELAY["sendmail_relay_password"] not in value
    assert M.authinfo_key(key) is None and M.authinfo_value(key, value) is None
    assert _ansible_expr("__sendmail_relay_authinfo", sendmail_mode="server") == []


# ---------------------------------------------------------------- the checks
def errors(**config):
    return CHECKS.sendmail_config_errors(config)


def test_valid_relay_settings_pass():
    assert errors(sendmail_mode="server", sendmail_relay_port=587, sendmail_relay_tls="starttls",
                  sendmail_relay_auth_mechanisms=["PLAIN"], **RELAY) == []
    assert errors(sendmail_mode="client", sendmail_smart_host="", **RELAY) == []


@pytest.mark.parametrize("config, names", [
    ({"sendmail_relay_host": "smtp.provider.example')dnl"}, "sendmail_relay_host"),
    ({"sendmail_relay_host": "[smtp.provider.example]"}, "sendmail_relay_host"),
    ({"sendmail_relay_host": "smtp.provider.example:587"}, "sendmail_relay_host"),
    ({"sendmail_relay_host": "x.example", "sendmail_relay_port": 0}, "sendmail_relay_port"),
    ({"sendmail_relay_host": "x.example", "sendmail_relay_port": "587x"}, "sendmail_relay_port"),
    ({"sendmail_relay_host": "x.example", "sendmail_relay_tls": "ssl"}, "sendmail_relay_tls"),
    ({"sendmail_relay_host": "x.example", "sendmail_relay_user": 'me" "P:x'}, "sendmail_relay_user"),
    ({"sendmail_relay_host": "x.example", "sendmail_relay_user": "me\n"}, "sendmail_relay_user"),
    ({"sendmail_relay_host": "x.example", "sendmail_relay_auth_mechanisms": []}, "sendmail_relay_auth_mechanisms"),
    ({"sendmail_relay_host": "x.example", "sendmail_relay_auth_mechanisms": ["PLAIN')"]}, "sendmail_relay_auth_mechanisms"),
    ({"sendmail_relay_host": "x.example", "sendmail_smart_host": "bigboy.my-site.com"}, "sendmail_smart_host"),
    ({"sendmail_relay_host": "x.example", "sendmail_relay_ca_file": "relative.pem"}, "sendmail_relay_ca_file"),
    ({"sendmail_relay_host": "x.example", "sendmail_relay_tunnel_port": 70000}, "sendmail_relay_tunnel_port"),
    ({"sendmail_mode": "client", "sendmail_smart_host": "", "sendmail_relay_host": ""}, "sendmail_smart_host"),
])
def test_bad_relay_settings_name_the_variable(config, names):
    found = errors(**config)
    assert found and found[0].startswith(names), found


@pytest.mark.parametrize("password", ["", "line\n", "tab\tbed", "nul\x00", "x" * 1025, 1234, None])
def test_bad_password_is_refused_and_never_shown(password):
    found = errors(sendmail_relay_host="x.example", sendmail_relay_user="me", sendmail_relay_password=password)
    assert len(found) == 1 and found[0].startswith("sendmail_relay_password: (value not shown) is not valid")
    if isinstance(password, str) and password:
        assert password not in found[0] and repr(password) not in found[0]


def test_password_without_user_is_refused_without_showing_it():
    found = errors(sendmail_relay_host="x.example", sendmail_relay_password="hunter2")
    assert len(found) == 1 and "hunter2" not in found[0] and found[0].startswith("sendmail_relay_password:")


# ---------------------------------------------------------------- properties
SECRETS = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(SECRETS)
def test_any_accepted_password_makes_one_valid_authinfo_entry(password):
    """Whatever password the check lets through, the authinfo value holds it as one base64 item, never in clear."""
    if not V.is_secret(password):
        assert V.check_secret(password, "p") == "p: (value not shown) is not valid: " + V.VALID_SECRET
        return
    encoded = base64.b64encode(password.encode()).decode()
    value = f'"U:me" "I:me" "P={encoded}" "M:PLAIN"'
    assert M.authinfo_value("AuthInfo:x.example", value) is None
    assert len(value.splitlines()) == 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_accepted_login_names_cannot_end_the_quoted_item(user):
    if V.is_sasl_login(user):
        assert '"' not in user and "\\" not in user and not any(c.isspace() for c in user)
        assert M.authinfo_value("AuthInfo:x.example", f'"U:{user}" "P=eA==" "M:PLAIN"') is None
    else:
        assert V.check_sasl_login(user, "sendmail_relay_user").startswith(f"sendmail_relay_user: {user!r} is not valid")


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(list("abz09.-:[]') \n")), max_size=30))
def test_accepted_relay_hosts_are_inert_in_sendmail_mc(host):
    if not errors(sendmail_relay_host=host):
        assert host == "" or V.is_relay_host(host)
        assert not set(host) & set("[]') \n")

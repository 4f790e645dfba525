"""The chapter's Dovecot server, proved with real clients over 127.0.0.0/8 inside the container.

bigboy.my-site.com runs sendmail on 127.0.0.1:25 and Dovecot with all four listeners on
127.0.0.1. A client bound to 127.0.0.5 is remote for Dovecot (it treats a connection whose
remote and local addresses are equal as secured). Debian 13 (Dovecot 2.4) delivers to Maildir,
Debian 12 (Dovecot 2.3) to the chapter's mbox. The probe (files/dovecot_probe.py, installed by
prepare.yml) runs the clients inside the container and prints JSON; side_effect.yml recorded its
cases in /var/tmp/dovecot-side-effect/.
"""

import json
import pathlib
import re

import pytest
import yaml
from harness import lab_secrets

SCENARIO = pathlib.Path(__file__).resolve().parents[1]
CERT = "/etc/dovecot/private/dovecot-server.pem"
KEY = "/etc/dovecot/private/dovecot-server.key"
CHAPTER_SOCKETS = ["127.0.0.100:995", "127.0.0.1:143"]
ALL_SOCKETS = ["127.0.0.1:110", "127.0.0.1:143", "127.0.0.1:993", "127.0.0.1:995"]
MANAGESIEVE = "127.0.0.1:4190"  # inventories/example's dovecot_managesieve, on dovecot_listen


def mail_sockets(found):
    """The IMAP and POP3 sockets of a probe's list (ManageSieve's 4190 follows dovecot_listen)."""
    return [s for s in found if not s.endswith(":4190")]


def chapter_subject():
    data = yaml.safe_load((SCENARIO / "vars" / "dovecot.yml").read_text(encoding="utf-8"))
    return data["lab_ssl_subject"]


def probe(host, command, args):
    result = host.run(f"python3 /usr/local/sbin/dovecot_probe.py {command} {lab_secrets.shell_quote(json.dumps(args))}")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def new_syntax(host):
    return host.backend.get_hostname().endswith("trixie")


def subject_fields(served):
    """{'CN': ..., 'OU': ...} from `openssl x509 -subject -nameopt RFC2253` output."""
    line = next(x for x in served["text"].splitlines() if x.startswith("subject="))
    return dict(part.split("=", 1) for part in line[len("subject="):].split(","))


def fingerprint(text):
    return next(x.split("=", 1)[1] for x in text.splitlines() if "Fingerprint=" in x)


@pytest.fixture(scope="module")
def exchange(host):
    """Mail sent over SMTP, fetched over IMAPS and POP3S, and every login case: one run in the container."""
    return probe(host, "exchange", {"passwords": lab_secrets.mail_passwords()})


@pytest.fixture(scope="module")
def side_effect(host):
    def load(case):
        return json.loads(host.file(f"/var/tmp/dovecot-side-effect/{case}.json").content_string)
    return load


# --- the service and its configuration ---------------------------------------------------

def test_dovecot_running_and_enabled(host):
    service = host.service("dovecot")
    assert service.is_running
    assert service.is_enabled


def test_syntax_follows_the_installed_version(host, exchange):
    conf = host.file("/etc/dovecot/dovecot.conf").content_string
    settings = [line for line in conf.splitlines() if line and not line.startswith("#")]
    if new_syntax(host):
        assert exchange["version"].startswith("2.4"), exchange["version"]
        assert settings[0] == "dovecot_config_version = 2.4.0"
        assert "ssl_server_cert_file = " + CERT in settings
        assert "auth_allow_cleartext = no" in settings
    else:
        assert exchange["version"].startswith("2.3"), exchange["version"]
        assert "ssl_cert = <" + CERT in settings
        assert "disable_plaintext_auth = yes" in settings


def test_all_four_listeners_on_loopback(host):
    assert probe(host, "state", {})["sockets"] == sorted(ALL_SOCKETS + [MANAGESIEVE])


def test_private_key_is_root_only(host):
    key = host.file(KEY)
    assert key.mode == 0o600
    assert key.user == "root"


def test_mail_location_is_where_sendmail_delivers(host, exchange):
    """The chapter's troubleshooting case (wrong mail_location) cannot happen: Dovecot reads where mail lands."""
    if new_syntax(host):
        assert exchange["doveconf"] == {"mail_driver": "maildir", "mail_path": "~/Maildir", "mail_inbox_path": ""}
        assert exchange["paul_files"] and all(f.startswith("/home/paul/Maildir/") for f in exchange["paul_files"])
    else:
        assert exchange["doveconf"] == {"mail_location": "mbox:~/mail:INBOX=/var/mail/%u"}
        assert exchange["paul_files"] == ["/var/mail/paul"]
    # the example inventory delivers through Dovecot's LDA, dovecot-bookworm over Dovecot's LMTP socket
    # (molecule/host_vars): sendmail's local mailer either way, no procmailrc
    cf = host.file("/etc/mail/sendmail.cf").content_string
    mlocal = " ".join(re.search(r"^Mlocal,.*(?:\n[ \t]+.*)*", cf, re.MULTILINE).group(0).split())
    host_vars = yaml.safe_load((SCENARIO.parent / "host_vars" / f"dovecot-{host.system_info.codename}.yml").read_text())
    if host_vars.get("dovecot_lmtp"):
        assert "P=[IPC]" in mlocal and "A=FILE /run/dovecot/lmtp" in mlocal, mlocal
    else:
        assert "P=/usr/lib/dovecot/dovecot-lda" in mlocal, mlocal
    assert not host.file("/etc/procmailrc").exists


def test_doctor_finds_dovecot_reading_where_sendmail_delivers(ansible_module):
    result = ansible_module("homelab.mailserver.mail_doctor", {"fqdn": "bigboy.my-site.com", "checks": ["dovecot_mail_location"]})
    check = result["checks"][0]
    assert check["name"] == "dovecot_mail_location" and check["ok"] is True, result


# --- mail in over SMTP, out over IMAPS and POP3S -----------------------------------------

def test_smtp_to_paul_is_fetched_over_imaps_and_pop3s(exchange):
    assert exchange["smtp"]["paul@my-site.com"] == "accepted", exchange["smtp"]
    assert exchange["imaps_paul"] == {"login": "ok", "found": True, "body_has_token": True}, exchange
    assert exchange["pop3s_paul"] == {"login": "ok", "found": True}, exchange


def test_john_of_another_site_reaches_john2_not_john1(exchange):
    assert exchange["smtp"]["john@another-site.com"] == "accepted", exchange["smtp"]
    assert exchange["imaps_john2"] == {"login": "ok", "found": True}, exchange
    # john1 logs in fine (so "not found" is a real answer) and does not have it.
    assert exchange["imaps_john1"] == {"login": "ok", "found": False}, exchange


def test_wrong_password_is_refused(exchange):
    assert "AUTHENTICATIONFAILED" in exchange["wrong_password"]["imaps"], exchange["wrong_password"]
    assert exchange["wrong_password"]["pop3s"].startswith("refused: -ERR [AUTH]"), exchange["wrong_password"]


def test_plaintext_login_refused_without_tls(exchange):
    imap = exchange["imap_143"]
    assert "LOGINDISABLED" in imap["capabilities"], imap
    assert imap["ok"] is False and "PRIVACYREQUIRED" in imap["login"], imap
    # the same client and password work once the connection is encrypted
    assert imap["after_starttls"] == "ok", imap
    pop3 = exchange["pop3_110"]
    assert pop3["plain"].startswith("refused: -ERR [AUTH]") and "authentication disallowed" in pop3["plain"], pop3
    assert pop3["after_stls"] == "ok", pop3


@pytest.mark.parametrize("port, login", [("993", "imap-login"), ("995", "pop3-login")])
def test_tls_10_and_11_refused_12_accepted(exchange, port, login):
    """The client allows old versions (SECLEVEL=0), and Dovecot logs that it refused them."""
    result = exchange["tls"][port]
    assert result["tls1"]["handshake"] is False, result
    assert result["tls1_1"]["handshake"] is False, result
    # the same client gets TLS 1.2
    assert result["tls1_2"] == {"handshake": True, "protocol": "TLSv1.2", "error": ""}, result
    refused = [line for line in exchange["tls_refused_by_server"] if line.startswith(login + ":")]
    assert len(refused) == 2, exchange["tls_refused_by_server"]


def test_certificate_carries_the_chapters_subject_fields(exchange):
    assert subject_fields(exchange["served_cert"]) == chapter_subject()
    assert "DNS:mail.my-site.com" in exchange["served_cert"]["text"]


def test_no_debug_logging_by_default(exchange):
    assert exchange["debug_lines"] == []


# --- side effects: the chapter's listeners, bad input, the certificate's life ---------------

def test_address_the_host_lacks_is_refused_before_any_change(side_effect):
    result = side_effect("foreign_address")
    assert result["failed"] is True
    for word in ("dovecot_listeners.pop3s.address", "192.168.1.100", "an address of this host"):
        assert word in result["msg"], result["msg"]
    before, after = result["before"], result["after"]
    for key in ("conf_sha256", "pid", "sockets", "active"):
        assert after[key] == before[key], key
    assert fingerprint(after["cert"]["text"]) == fingerprint(before["cert"]["text"])


def test_chapter_listener_example_yields_exactly_those_sockets(side_effect):
    result = side_effect("chapter_listeners")
    assert result["failed"] is False, result["msg"]
    assert mail_sockets(result["before"]["sockets"]) == ALL_SOCKETS
    # pop3 off, pop3s on one address, imap on 127.0.0.1, imaps off: taken by a reload
    assert mail_sockets(result["after"]["sockets"]) == CHAPTER_SOCKETS
    assert result["after"]["pid"] == result["before"]["pid"]


def test_plaintext_login_only_when_chosen(side_effect):
    # dovecot_allow_plaintext_auth: true (the chapter's disable_plaintext_auth = no) ...
    chosen = side_effect("chapter_listeners")["after"]["login"]
    assert chosen["ok"] is True and "LOGINDISABLED" not in chosen["capabilities"], chosen
    # ... and refused again with the default, from the same client
    default = side_effect("restored")["after"]["login"]
    assert default["ok"] is False and "PRIVACYREQUIRED" in default["login"], default


def test_debug_switches_log_auth_and_mail_to_the_mail_facility(side_effect):
    lines = side_effect("chapter_listeners")["after"]["debug_lines"]
    assert any(line.startswith("auth") and "passdb lookup" in line for line in lines), lines[:20]
    assert any("root=/home/paul/" in line for line in lines), lines[:20]  # where mail_debug says it looks


def test_changed_subject_field_makes_a_new_certificate(side_effect):
    result = side_effect("chapter_listeners")
    assert fingerprint(result["after"]["cert"]["text"]) != fingerprint(result["before"]["cert"]["text"])
    served = result["after"]["served_cert"]
    assert subject_fields(served)["OU"] == "My-Site Mail Department"
    assert fingerprint(served["text"]) == fingerprint(result["after"]["cert"]["text"])


def test_invalid_setting_fails_and_dovecot_keeps_serving(side_effect):
    result = side_effect("invalid_setting")
    assert result["failed"] is True
    for word in ("doveconf rejected", "Invalid number", "dovecot_settings.mail_max_userip_connections", "unchanged"):
        assert word in result["msg"], result["msg"]
    before, after = result["before"], result["after"]
    for key in ("conf_sha256", "pid", "sockets"):
        assert after[key] == before[key], key
    assert after["active"] == "active"
    assert fingerprint(after["cert"]["text"]) == fingerprint(before["cert"]["text"])
    # still serving the previous (chapter_listeners) configuration
    assert mail_sockets(after["sockets"]) == CHAPTER_SOCKETS and after["login"]["ok"] is True


def test_certificate_near_expiry_is_renewed_alone(side_effect):
    result = side_effect("renewal")
    assert result["failed"] is False, result["msg"]
    before, after = result["before"], result["after"]
    assert after["conf_sha256"] == before["conf_sha256"]
    assert fingerprint(after["cert"]["text"]) != fingerprint(before["cert"]["text"])
    assert subject_fields(after["served_cert"]) == subject_fields(before["served_cert"])
    assert fingerprint(after["served_cert"]["text"]) == fingerprint(after["cert"]["text"])


def test_restored_configuration_is_the_scenarios(side_effect):
    result = side_effect("restored")
    assert result["failed"] is False, result["msg"]
    assert result["after"]["sockets"] == sorted(ALL_SOCKETS + [MANAGESIEVE])
    assert subject_fields(result["after"]["served_cert"]) == chapter_subject()

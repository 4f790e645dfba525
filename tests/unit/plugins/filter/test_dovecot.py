"""dovecot.conf from the dovecot role's variables, in Dovecot 2.3 and 2.4 syntax.

The golden renders are the chapter's "Version 2.x and Newer" listener example
(docs/examples/dovecot_vars.yml) on Debian's paths; doveconf itself checks the
same renders in molecule/dovecot.
"""

import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.homelab.mailserver.plugins.filter import dovecot as filt

ROOT = pathlib.Path(__file__).resolve().parents[4]
ROLE = ROOT / "roles" / "dovecot"
EXAMPLE = ROOT / "docs" / "examples" / "dovecot_vars.yml"

PLATFORM = {
    "ssl_cert": "/etc/dovecot/private/dovecot-server.pem",
    "ssl_key": "/etc/dovecot/private/dovecot-server.key",
    "ssl_dh": "/usr/share/dovecot/dh.pem",
    "mail_privileged_group": "mail",
    "sieve_dir": "/etc/dovecot/sieve",
    "sieve_bin_dir": "/etc/dovecot/sieve/bin",
    "quota_users_path": "/etc/dovecot/quota-users",
    "quota_warning_script": "/etc/dovecot/quota-warning.sh",
    "lmtp_socket": "/run/dovecot/lmtp",
}


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# The cipher list lives in one place, the role's defaults; the filter has none of its own.
CIPHERS = load(ROLE / "defaults" / "main.yml")["dovecot_ssl_cipher_list"]


# Variables of the role that the certificate tasks use, not the filter.
CERT_ONLY = ("dovecot_ssl_cert", "dovecot_ssl_key", "dovecot_ssl_selfsigned", "dovecot_ssl_subject", "dovecot_ssl_alt_names",
             "dovecot_ssl_days", "dovecot_ssl_renew_days", "dovecot_dependent_ssl_cert", "dovecot_dependent_ssl_key",
             # the export for the wiring, not a setting of dovecot.conf
             "dovecot_sendmail_local_mailer")


def role_input(**overrides):
    """What vars/main.yml hands the filter: the role defaults, the platform's values, the overrides."""
    data = {k: v for k, v in load(ROLE / "defaults" / "main.yml").items() if k not in CERT_ONLY}
    data.update(PLATFORM)
    data.update(overrides)
    return data


def chapter(**overrides):
    example = load(EXAMPLE)
    keep = {k: v for k, v in example.items() if k in role_input()}
    return role_input(**{**keep, **overrides})


def settings(text):
    """The setting lines (no comments, no blanks)."""
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


# The part both versions render alike: the INBOX namespace and the logging switches.
TAIL = r"""namespace inbox {
  inbox = yes
  mailbox Drafts {
    special_use = \Drafts
  }
  mailbox Junk {
    special_use = \Junk
  }
  mailbox Trash {
    special_use = \Trash
  }
  mailbox Sent {
    special_use = \Sent
  }
}
log_path = syslog
auth_verbose = no
auth_debug = no
mail_debug = no"""

GOLDEN_23 = f"""\
protocols = imap pop3
ssl = yes
ssl_cert = </etc/dovecot/private/dovecot-server.pem
ssl_key = </etc/dovecot/private/dovecot-server.key
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2
ssl_cipher_list = {CIPHERS}
ssl_prefer_server_ciphers = no
disable_plaintext_auth = yes
auth_mechanisms = plain login
passdb {{
  driver = pam
}}
userdb {{
  driver = passwd
}}
mail_location = mbox:~/mail:INBOX=/var/mail/%u
mail_privileged_group = mail
{TAIL}
verbose_ssl = no
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = 143
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    address = 192.168.1.100
    port = 995
  }}
}}"""

GOLDEN_24 = f"""\
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
protocols = imap pop3
ssl = yes
ssl_server_cert_file = /etc/dovecot/private/dovecot-server.pem
ssl_server_key_file = /etc/dovecot/private/dovecot-server.key
ssl_server_dh_file = /usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2
ssl_cipher_list = {CIPHERS}
ssl_server_prefer_ciphers = client
auth_allow_cleartext = no
auth_mechanisms = plain login
passdb pam {{
}}
userdb passwd {{
}}
mail_driver = mbox
mail_path = ~/mail
mail_inbox_path = /var/mail/%{{user}}
mail_privileged_group = mail
{TAIL}
service imap-login {{
  inet_listener imap {{
    listen = 127.0.0.1
    port = 143
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    listen = 192.168.1.100
    port = 995
  }}
}}"""


# --- golden renders --------------------------------------------------------------------

def test_chapter_example_in_dovecot_23_syntax():
    assert settings(filt.dovecot_config(chapter(), "2.3.19.1 (9b53102964)")) == GOLDEN_23.splitlines()


def test_chapter_example_in_dovecot_24_syntax():
    assert settings(filt.dovecot_config(chapter(), "2.4.1-4 (7d8c0e5759)")) == GOLDEN_24.splitlines()


def test_24_starts_with_the_version_header():
    text = filt.dovecot_config(role_input(), "2.4.1")
    assert settings(text)[0] == "dovecot_config_version = 2.4.0"
    names = {line.split(" = ")[0] for line in settings(text)}
    assert not names & {"ssl_cert", "ssl_key", "ssl_dh", "disable_plaintext_auth", "mail_location", "verbose_ssl"}


def test_every_setting_names_its_variable():
    text = filt.dovecot_config(chapter(dovecot_settings={"mail_max_userip_connections": 20}), "2.3")
    lines = text.splitlines()
    assert filt.dovecot_config_origin(text, lines.index("mail_max_userip_connections = 20") + 1) == \
        "dovecot_settings.mail_max_userip_connections"
    assert filt.dovecot_config_origin(text, lines.index("    address = 192.168.1.100") + 1) == "dovecot_listeners.pop3s"
    assert filt.dovecot_config_origin(text, lines.index("disable_plaintext_auth = yes") + 1) == "dovecot_allow_plaintext_auth"
    assert filt.dovecot_config_origin(text, "x") == ""
    assert filt.dovecot_config_origin(text, 100000) == ""


# --- versions --------------------------------------------------------------------------

@pytest.mark.parametrize("version, syntax", [
    ("2.3.19.1 (9b53102964)", "2.3"), ("2.3", "2.3"), ("2.4.1-4 (7d8c0e5759)", "2.4"), ("2.4", "2.4"), ("2.5.0", "2.4"),
])
def test_syntax_of_version(version, syntax):
    assert filt.syntax_of(version) == syntax


@pytest.mark.parametrize("version", ["2.2.36 (1f10bfa63)", "", "dovecot", None])
def test_unsupported_or_unreadable_version(version):
    with pytest.raises(AnsibleFilterError, match="dovecot_config"):
        filt.dovecot_config(role_input(), version)


# --- mailboxes ---------------------------------------------------------------------------

def test_maildir_in_both_syntaxes():
    old = settings(filt.dovecot_config(role_input(dovecot_mailbox_format="maildir"), "2.3"))
    assert "mail_location = maildir:~/Maildir" in old
    new = settings(filt.dovecot_config(role_input(dovecot_mailbox_format="maildir"), "2.4"))
    assert "mail_driver = maildir" in new and "mail_path = ~/Maildir" in new
    assert not any(line.startswith("mail_inbox_path") for line in new)


@pytest.mark.parametrize("value, location", [
    ("mbox", "mbox:~/mail:INBOX=/var/mail/%u"),
    ("maildir", "maildir:~/Maildir"),
    ({"mail_location": "mbox:~/mail:INBOX=/var/mail/%u"}, "mbox:~/mail:INBOX=/var/mail/%u"),
    # what `doveconf -h mail_driver mail_path mail_inbox_path` gives on 2.4, as the role renders it ...
    ({"mail_driver": "maildir", "mail_path": "~/Maildir", "mail_inbox_path": ""}, "maildir:~/Maildir"),
    ({"mail_driver": "mbox", "mail_path": "~/mail", "mail_inbox_path": "/var/mail/%{user}"}, "mbox:~/mail:INBOX=/var/mail/%u"),
    # ... and as Debian 13's own 10-mail.conf has it
    ({"mail_driver": "mbox", "mail_path": "%{home}/mail", "mail_inbox_path": "/var/mail/%{user}"}, "mbox:~/mail:INBOX=/var/mail/%u"),
    ({"mail_driver": "", "mail_path": ""}, ""),
])
def test_mail_location_in_the_chapters_form(value, location):
    assert filt.dovecot_mail_location(value) == location


def test_mail_location_of_a_render_matches_its_format():
    for mailbox in ("mbox", "maildir"):
        text = filt.dovecot_config(role_input(dovecot_mailbox_format=mailbox), "2.4")
        rendered = dict(line.split(" = ", 1) for line in settings(text) if line.startswith("mail_") and " = " in line)
        assert filt.dovecot_mail_location(rendered) == filt.MAIL_LOCATIONS[mailbox]


# --- TLS, plaintext, logging --------------------------------------------------------------

def test_ssl_required():
    assert "ssl = required" in settings(filt.dovecot_config(role_input(dovecot_ssl_required=True), "2.3"))
    assert "ssl = required" in settings(filt.dovecot_config(role_input(dovecot_ssl_required=True), "2.4"))


def test_plaintext_auth_when_chosen_warns(monkeypatch):
    warnings = []
    monkeypatch.setattr(filt.Display, "warning", lambda self, msg, *a, **k: warnings.append(msg))
    assert "disable_plaintext_auth = no" in settings(filt.dovecot_config(role_input(dovecot_allow_plaintext_auth=True), "2.3"))
    assert "auth_allow_cleartext = yes" in settings(filt.dovecot_config(role_input(dovecot_allow_plaintext_auth=True), "2.4"))
    assert len(warnings) == 2 and "readable" in warnings[0]
    warnings.clear()
    filt.dovecot_config(role_input(), "2.4")
    filt.dovecot_config(role_input(dovecot_allow_plaintext_auth=True, dovecot_ssl_required=True), "2.4")
    assert warnings == []


def test_logging_switches():
    on = {"dovecot_auth_debug": True, "dovecot_mail_debug": True, "dovecot_verbose_ssl": True, "dovecot_auth_verbose": True}
    old = settings(filt.dovecot_config(role_input(**on), "2.3"))
    assert {"auth_debug = yes", "mail_debug = yes", "verbose_ssl = yes", "auth_verbose = yes"} <= set(old)
    new = settings(filt.dovecot_config(role_input(**on), "2.4"))
    assert {"auth_debug = yes", "mail_debug = yes", "log_debug = category=ssl", "auth_verbose = yes"} <= set(new)
    assert "log_path = /var/log/dovecot.log" in settings(filt.dovecot_config(role_input(dovecot_log_path="/var/log/dovecot.log"), "2.4"))


def test_listen_trusted_networks_and_extra_settings():
    data = role_input(dovecot_listen=["127.0.0.1", "::1"], dovecot_login_trusted_networks=["192.168.1.0/24"],
                      dovecot_settings={"mail_max_userip_connections": 20, "lda_mailbox_autocreate": True, "mail_plugins": ["quota", "acl"]},
                      dovecot_extra_config="plugin {\n  quota = maildir\n}")
    old = settings(filt.dovecot_config(data, "2.3"))
    assert "listen = 127.0.0.1, ::1" in old and "login_trusted_networks = 192.168.1.0/24" in old
    assert {"mail_max_userip_connections = 20", "lda_mailbox_autocreate = yes", "mail_plugins = quota acl"} <= set(old)
    assert old[-3:] == ["plugin {", "  quota = maildir", "}"]
    assert "listen = 127.0.0.1 ::1" in settings(filt.dovecot_config(data, "2.4"))


def test_pop3_only_renders_no_imap_listeners():
    data = role_input(dovecot_protocols=["pop3"], dovecot_listeners={"pop3s": {"port": 995}, "imaps": {"port": 0}})
    text = settings(filt.dovecot_config(data, "2.3"))
    assert "protocols = pop3" in text and "service imap-login {" not in text


# --- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, words", [
    ({"dovecot_protocols": ["imap", "smtp"]}, ["dovecot_protocols", "'smtp'"]),
    ({"dovecot_protocols": []}, ["dovecot_protocols", "non-empty"]),
    ({"dovecot_listeners": {"imap4": {"port": 143}}}, ["dovecot_listeners.imap4: 'imap4' is not valid: a known listener"]),
    ({"dovecot_listeners": {"imap": {"port": 70000}}}, ["dovecot_listeners.imap.port", "0-65535"]),
    ({"dovecot_listeners": {"imap": {"port": True}}}, ["dovecot_listeners.imap.port"]),
    ({"dovecot_listeners": {"imap": {"port": "143"}}}, ["dovecot_listeners.imap.port"]),
    ({"dovecot_listeners": {"imap": {"addr": "127.0.0.1"}}}, ["dovecot_listeners.imap", "addr", "allowed: port, address"]),
    ({"dovecot_listeners": {"imap": 143}}, ["dovecot_listeners.imap", "{port, address}"]),
    ({"dovecot_listeners": {"pop3s": {"address": "bad address!"}}}, ["dovecot_listeners.pop3s.address", "'address!'"]),
    ({"dovecot_listeners": [{"imap": {"port": 143}}]}, ["dovecot_listeners", "dictionary"]),
    ({"dovecot_protocols": ["imap"], "dovecot_listeners": {"pop3s": {"port": 995}}}, ["dovecot_listeners.pop3s", "pop3 is not in dovecot_protocols"]),
    ({"dovecot_listen": ["127.0.0.1", "no such host!"]}, ["dovecot_listen", "no"]),
    ({"dovecot_mailbox_format": "mdbox"}, ["dovecot_mailbox_format", "mdbox"]),
    ({"dovecot_ssl_min_protocol": "SSLv3"}, ["dovecot_ssl_min_protocol", "SSLv3"]),
    ({"dovecot_ssl_cipher_list": "HIGH MEDIUM"}, ["dovecot_ssl_cipher_list"]),
    ({"ssl_cert": "certs/dovecot.pem"}, ["dovecot_ssl_cert", "absolute"]),
    ({"dovecot_auth_mechanisms": []}, ["dovecot_auth_mechanisms", "at least one"]),
    ({"dovecot_auth_mechanisms": ["plain", "digest md5"]}, ["dovecot_auth_mechanisms", "digest md5"]),
    ({"dovecot_login_trusted_networks": ["192.168.1.0/33"]}, ["dovecot_login_trusted_networks", "192.168.1.0/33"]),
    ({"dovecot_log_path": "mail.log"}, ["dovecot_log_path", "mail.log"]),
    ({"dovecot_settings": {"disable_plaintext_auth": "no"}},
     ["dovecot_settings: 'disable_plaintext_auth' is not valid", "set dovecot_allow_plaintext_auth instead"]),
    ({"dovecot_settings": {"mail_location": "maildir:~/Maildir"}}, ["dovecot_settings: 'mail_location' is not valid", "set dovecot_mailbox_format instead"]),
    ({"dovecot_settings": {"Bad-Name": 1}}, ["dovecot_settings: 'Bad-Name' is not valid: a Dovecot setting name"]),
    ({"dovecot_settings": {"mail_plugins": {"quota": True}}}, ["dovecot_settings.mail_plugins", "dict"]),
    ({"dovecot_settings": {"login_greeting": "a\nb"}}, ["dovecot_settings.login_greeting", "one line"]),
    ({"dovecot_extra_config": ["plugin {"]}, ["dovecot_extra_config", "one string"]),
])
def test_bad_input_names_the_variable(overrides, words):
    errors = filt.dovecot_config_errors(role_input(**overrides))
    assert errors, overrides
    joined = "; ".join(errors)
    for word in words:
        assert word in joined, joined
    with pytest.raises(AnsibleFilterError, match="Invalid dovecot variables"):
        filt.dovecot_config(role_input(**overrides), "2.4")


def test_not_a_dictionary():
    with pytest.raises(AnsibleFilterError, match="dictionary"):
        filt.dovecot_config(["dovecot_protocols"], "2.3")
    with pytest.raises(AnsibleFilterError, match="mailbox format"):
        filt.dovecot_mail_location(["maildir"])


# --- the role's files ---------------------------------------------------------------------

def test_role_hands_the_filter_every_variable():
    assert set(load(ROLE / "vars" / "main.yml")["__dovecot_settings"]) == set(role_input()) | {"host_addresses"}


def test_listener_on_an_address_the_host_lacks_is_refused():
    """The chapter's 192.168.1.100 on a host without it: Dovecot would stop at the reload."""
    errors = filt.dovecot_config_errors(chapter(host_addresses=["10.88.0.5", "127.0.0.1", "fe80::1%eth0"]))
    assert errors == ["dovecot_listeners.pop3s.address: '192.168.1.100' is not valid: an address of this host: Dovecot could "
                      "not listen there (a reload would stop it); the host has 10.88.0.5, 127.0.0.1, fe80::1"]
    # on bigboy itself it is fine; loopback (all of 127.0.0.0/8, ::1), wildcards and host names always are
    assert filt.dovecot_config_errors(chapter(host_addresses=["192.168.1.100"])) == []
    data = role_input(dovecot_listen=["127.0.0.100", "::1", "*", "::", "mail.my-site.com"], host_addresses=[])
    assert filt.dovecot_config_errors(data) == []
    errors = filt.dovecot_config_errors(role_input(dovecot_listen=["fe80::2"], host_addresses=["fe80::1"]))
    assert "dovecot_listen: 'fe80::2' is not valid: an address of this host" in errors[0]


def test_defaults_pass_and_render_in_both_syntaxes():
    assert filt.dovecot_config_errors(role_input()) == []
    for version in ("2.3", "2.4"):
        assert "protocols = imap pop3" in filt.dovecot_config(role_input(), version)


def test_example_vars_pass_the_checks():
    assert filt.dovecot_config_errors(chapter()) == []
    example = load(EXAMPLE)
    assert set(example) <= set(load(ROLE / "defaults" / "main.yml")), set(example) - set(load(ROLE / "defaults" / "main.yml"))
    assert set(example["dovecot_ssl_subject"]) == {"C", "ST", "L", "O", "OU", "CN", "emailAddress"}


def test_default_cipher_list_is_mozilla_intermediate():
    """Mozilla's "intermediate" TLS 1.2 ciphers: ECDHE (ECDSA, RSA) and DHE-RSA with AES-GCM or ChaCha20-Poly1305."""
    ciphers = CIPHERS.split(":")
    assert len(ciphers) == 9 and all(c.endswith(("GCM-SHA256", "GCM-SHA384", "CHACHA20-POLY1305")) for c in ciphers)
    assert ciphers[0] == "ECDHE-ECDSA-AES128-GCM-SHA256" and ciphers[-1] == "DHE-RSA-CHACHA20-POLY1305"


@pytest.mark.parametrize("name", filt.REQUIRED)
def test_filter_has_no_fallbacks_of_its_own(name):
    """Every role variable the filter reads must be passed: a missing one is an error, not a default of the filter's."""
    data = role_input()
    del data[name]
    assert filt.dovecot_config_errors(data) == [f"{name}: None is not valid: required: the dovecot role passes it "
                                                "(its default is in roles/dovecot/defaults/main.yml)"]
    with pytest.raises(AnsibleFilterError, match=f"{name}: None is not valid: required"):
        filt.dovecot_config(data, "2.4")
    assert not hasattr(filt, "MOZILLA_INTERMEDIATE")


def test_every_default_is_documented_in_readme():
    readme = (ROLE / "README.md").read_text(encoding="utf-8")
    assert [name for name in load(ROLE / "defaults" / "main.yml") if f"`{name}`" not in readme] == []


@pytest.mark.parametrize("family", ["Debian", "RedHat"])
def test_platform_vars_have_every_value(family):
    values = load(ROLE / "vars" / f"{family}.yml")
    for name in ("__dovecot_packages", "__dovecot_protocol_packages", "__dovecot_selfsigned_packages", "__dovecot_ssl_cert_default",
                 "__dovecot_ssl_key_default", "__dovecot_ssl_dh", "__dovecot_mail_privileged_group", "__dovecot_binary",
                 "__dovecot_doveconf", "__dovecot_default_version"):
        assert name in values, name
    data = role_input(ssl_cert=values["__dovecot_ssl_cert_default"], ssl_key=values["__dovecot_ssl_key_default"], ssl_dh=values["__dovecot_ssl_dh"])
    assert filt.dovecot_config_errors(data) == []
    assert filt.syntax_of(values["__dovecot_default_version"]) in ("2.3", "2.4")


# --- delivery through dovecot-lda: Sieve, ManageSieve, Junk, learning, quotas ------------

GOLDEN_DIR = pathlib.Path(__file__).resolve().parent / "golden"
SPAMC = ["/usr/bin/spamc", "-s", "512000"]


def delivery(**overrides):
    """inventories/example's mailbox side, with SpamAssassin wired in and one per-user quota."""
    return role_input(**{"dovecot_lda": True, "dovecot_sieve": True, "dovecot_managesieve": True, "dovecot_quota": "1G",
                         "dovecot_quota_users": {"john2": "1M"}, "dovecot_dependent_spamc": SPAMC,
                         "dovecot_sieve_before": 'require "fileinto";\nif header :contains "subject" "[ad]" { fileinto "Ads"; }\n',
                         "dovecot_sieve_default": "keep;\n", **overrides})


@pytest.mark.parametrize("version, name", [("2.3.19.1 (9b53102964)", "dovecot-delivery-2.3.conf"),
                                           ("2.4.1-4 (7d8c0e5759)", "dovecot-delivery-2.4.conf")])
def test_delivery_features_golden(version, name):
    """doveconf -n accepted both renders on Debian 12 and 13 (molecule/dovecot converges the same variables)."""
    assert filt.dovecot_config(delivery(), version) == (GOLDEN_DIR / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("version, block", [
    ("2.3.19.1", ["protocol lmtp {", "  mail_plugins = $mail_plugins sieve", "  ssl = no", "}"]),
    ("2.4.1", ["protocol lmtp {", "  mail_plugins {", "    sieve = yes", "  }", "  ssl = no", "}"]),
])
def test_lmtp_adds_the_protocol_its_sieve_a_root_only_socket_and_smtp_for_vacation(version, block):
    """With dovecot_lmtp the rest of the mailbox side is the LDA's render, plus LMTP: the protocol, Sieve at LMTP
    delivery as at the LDA's, no STARTTLS on the local socket (sendmail would otherwise start TLS for every
    delivery), Dovecot's default lmtp listener for root alone (its default mode is 0666), and vacation replies over
    SMTP to the MTA on loopback (the setgid sendmail program cannot queue under Dovecot's NoNewPrivileges)."""
    lda = filt.dovecot_config(delivery(), version).splitlines()
    lmtp = filt.dovecot_config(delivery(dovecot_lmtp=True), version).splitlines()
    assert "protocols = imap pop3 lmtp sieve" in lmtp and "protocols = imap pop3 sieve" in lda
    start = lmtp.index(block[0])
    assert lmtp[start:start + len(block)] == block
    # after the global mail_plugins: Dovecot 2.3 expands $mail_plugins where it reads it
    assert not [line for line in lmtp[start:] if line.startswith("mail_plugins")]
    del lmtp[start:start + len(block)]
    start = lmtp.index("service lmtp {")
    assert lmtp[start:start + 6] == ["service lmtp {", "  unix_listener lmtp {", "    mode = 0600", "    user = root", "  }", "}"]
    del lmtp[start:start + 6]
    lmtp.remove("submission_host = 127.0.0.1:25")
    # the rest is the LDA's render, line for line
    assert settings("\n".join(lmtp)) == [("protocols = imap pop3 lmtp sieve" if line == "protocols = imap pop3 sieve" else line)
                                         for line in settings("\n".join(lda))]


@pytest.mark.parametrize("version", ["2.3.19.1", "2.4.1"])
def test_lmtp_without_sieve_still_turns_starttls_off(version):
    text = filt.dovecot_config(role_input(dovecot_lda=True, dovecot_lmtp=True, dovecot_sieve_junk=False), version)
    start = text.index("protocol lmtp {\n")
    assert text[start:].startswith("protocol lmtp {\n  ssl = no\n}\n") and "sieve" not in text


def test_submission_host_is_the_roles_with_lmtp():
    errors = filt.dovecot_config_errors(delivery(dovecot_lmtp=True, dovecot_settings={"submission_host": "10.0.0.1:25"}))
    assert any(e.startswith("dovecot_settings: ") and "dovecot_lmtp" in e for e in errors), errors
    assert filt.dovecot_config_errors(delivery(dovecot_settings={"submission_host": "10.0.0.1:25"})) == []


def test_without_the_lda_nothing_of_the_mailbox_side_is_rendered():
    text = filt.dovecot_config(role_input(dovecot_sieve_junk=True, dovecot_spam_learning=True), "2.4.1")
    for word in ("sieve", "quota", "lda_mailbox", "mail_plugins"):
        assert word not in text


@pytest.mark.parametrize("version", ["2.3.19", "2.4.1"])
def test_defer_over_quota_and_no_warning(version):
    text = filt.dovecot_config(delivery(dovecot_quota_exceeded="defer", dovecot_quota_warning=0), version)
    assert "quota_full_tempfail = yes" in text
    assert "quota-warning" not in text


@pytest.mark.parametrize("version", ["2.3.19", "2.4.1"])
def test_no_learning_without_spamassassin(version):
    text = filt.dovecot_config(delivery(dovecot_dependent_spamc=[]), version)
    assert "imapsieve" not in text and "extprograms" not in text and "homelab-spam.sieve" in text  # Junk filing stays


@pytest.mark.parametrize("overrides, variable", [
    ({"dovecot_lda": False}, "dovecot_sieve"),
    ({"dovecot_sieve": False, "dovecot_sieve_before": "", "dovecot_sieve_default": "", "dovecot_managesieve": False},
     "dovecot_sieve"),
    ({"dovecot_sieve": False}, "dovecot_managesieve"),
    ({"dovecot_sieve_before": "keep;\x00"}, "dovecot_sieve_before"),
    ({"dovecot_sieve_default": "   "}, "dovecot_sieve_default"),
    ({"dovecot_quota": "1.5G"}, "dovecot_quota"),
    ({"dovecot_quota_users": {"John": "1M"}}, "dovecot_quota_users"),
    ({"dovecot_quota_users": {"john2": "lots"}}, "dovecot_quota_users.john2"),
    ({"dovecot_quota_warning": 100}, "dovecot_quota_warning"),
    ({"dovecot_quota_exceeded": "bounce"}, "dovecot_quota_exceeded"),
    ({"dovecot_managesieve_port": 0}, "dovecot_managesieve_port"),
    ({"dovecot_dependent_spamc": ["spamc"]}, "dovecot_dependent_spamc[0]"),
    ({"dovecot_dependent_spamc": SPAMC + ["-u x; rm"]}, "dovecot_dependent_spamc[3]"),
    ({"dovecot_dependent_spam_scanned_header": 'X" { discard; } #'}, "dovecot_dependent_spam_scanned_header"),
    ({"dovecot_settings": {"mail_plugins": "quota"}}, "dovecot_settings"),
    ({"dovecot_lda": False, "dovecot_sieve": False, "dovecot_managesieve": False, "dovecot_quota": "",
      "dovecot_quota_users": {}, "dovecot_dependent_spamc": [], "dovecot_sieve_before": "", "dovecot_sieve_default": "",
      "dovecot_lmtp": True}, "dovecot_lmtp"),
    ({"dovecot_lmtp": "yes"}, "dovecot_lmtp"),
    ({"lmtp_socket": "run/dovecot/lmtp"}, "lmtp_socket"),
])
def test_mailbox_side_input_is_checked_naming_the_variable(overrides, variable):
    errors = filt.dovecot_config_errors(delivery(**overrides))
    assert any(e.startswith(variable + ":") for e in errors), errors
    with pytest.raises(AnsibleFilterError):
        filt.dovecot_config(delivery(**overrides), "2.4.1")


def test_quota_needs_the_lda():
    errors = filt.dovecot_config_errors(role_input(dovecot_quota="1G"))
    assert errors == ["dovecot_quota: '1G' is not valid: unset while dovecot_lda is false: procmail writes mailboxes "
                      "past any quota (set dovecot_lda: true)"]

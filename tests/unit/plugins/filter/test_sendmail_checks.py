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
    ({"sendmail_mode": "relay"}, "sendmail_mode: 'relay' is not valid: 'server', 'client' or 'backup_mx'"),
    ({"sendmail_mode": "client", "sendmail_smart_host": ""}, "sendmail_smart_host: '' is not valid: required when sendmail_mode is 'client'"),
    ({"sendmail_dnsbl": [{"zone": "bl spamcop"}]}, "sendmail_dnsbl[0].zone: 'bl spamcop' is not valid: a DNS zone"),
    ({"sendmail_dnsbl": [{"message": "x"}]}, "sendmail_dnsbl[0].zone: None is not valid: a DNS zone"),
    ({"sendmail_dnsbl": ["bl.spamcop.net"]}, "sendmail_dnsbl[0]: 'bl.spamcop.net' is not valid: a dictionary"),
    ({"sendmail_dnsbl": [{"zone": "a.org", "msg": "x"}]}, "sendmail_dnsbl[0] key: 'msg' is not valid: one of the keys zone, message, tempfail"),
    ({"sendmail_dnsbl": [{"zone": "a.org", "message": "`unclosed"}]}, "sendmail_dnsbl[0].message: '`unclosed' is not valid: text that "
        "sendmail.mc can hold inside m4 quotes"),
    ({"sendmail_dnsbl": [{"zone": "a.org", "tempfail": "yes"}]}, "sendmail_dnsbl[0].tempfail: 'yes' is not valid: a boolean"),
    ({"sendmail_milters": [{"name": "g", "socket": "/tmp/sock"}]}, "sendmail_milters[0].socket: '/tmp/sock' is not valid: a milter socket: local:/path"),
    ({"sendmail_milters": [{"name": "g g", "socket": "local:/s"}]}, "sendmail_milters[0].name: 'g g' is not valid: a milter name"),
    ({"sendmail_milters": [{"name": "g", "socket": "local:/s", "flags": "X"}]}, "sendmail_milters[0].flags: 'X' is not valid: '', 'R' (reject)"),
    ({"sendmail_milters": [{"name": "g", "socket": "local:/s", "timeouts": {"Q": "1s"}}]}, "sendmail_milters[0].timeouts key: 'Q' is not "
        "valid: one of C, S, R, E"),
    ({"sendmail_milters": [{"name": "g", "socket": "local:/s", "macros": {"connect": ["if_addr"]}}]},
     "sendmail_milters[0].macros.connect[0]: 'if_addr' is not valid: a sendmail macro name"),
    ({"sendmail_milters": [{"name": "g", "socket": "local:/s"}, {"name": "g", "socket": "local:/t"}]},
     "sendmail_milters[1].name: 'g' is not valid: a name of its own: milter 'g' is already defined by sendmail_milters[0]"),
    ({"sendmail_mc_raw_end": ["define(`confFOO', `1'dnl"]}, "sendmail_mc_raw_end[0]: \"define(`confFOO', `1'dnl\" is not valid"),
    ({"sendmail_mc_raw_features": ["FEATURE(`x)dnl"]}, "sendmail_mc_raw_features[0]: 'FEATURE(`x)dnl' is not valid: text with balanced m4 "
        "quotes and parentheses (it has 1 m4 quote(s) opened"),
    ({"sendmail_listen_addresses": ["eth0"]}, "sendmail_listen_addresses[0]: 'eth0' is not valid: an IP address"),
    ({"sendmail_procmail_recipes": ["| /usr/bin/spamc"]}, "sendmail_procmail_recipes[0]: '| /usr/bin/spamc' is not valid: a procmail recipe: "
        "it has no recipe start line"),
    ({"sendmail_procmail_recipes": [{":0fw": "spamc"}]}, "sendmail_procmail_recipes[0]: {':0fw': 'spamc'} is not valid: a string"),
    ({"sendmail_procmail_recipes": ":0fw"}, "sendmail_procmail_recipes: ':0fw' is not valid: a list"),
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
    ({"sendmail_delivery_mode": "batch"}, "sendmail_delivery_mode: 'batch' is not valid: one of background, interactive, queue"),
    ({"sendmail_max_queue_children": -1}, "sendmail_max_queue_children: -1 is not valid: an integer of at least 0"),
    ({"sendmail_max_queue_children": True}, "sendmail_max_queue_children: True is not valid: an integer"),
    ({"sendmail_max_runners_per_queue": 0}, "sendmail_max_runners_per_queue: 0 is not valid: an integer of at least 1"),
    ({"sendmail_queue_interval": "5 min"}, "sendmail_queue_interval: '5 min' is not valid: a duration such as 10m"),
    ({"sendmail_queue_interval": "q5s"}, "sendmail_queue_interval: 'q5s' is not valid: a duration such as 10m or 1h30m, with 'p' in front "
        "for persistent queue runners (p5s)"),
    ({"sendmail_queue_interval": "10m", "os_family": "RedHat"}, "sendmail_queue_interval: '10m' is not valid: null on RedHat: the role "
        "applies it through Debian's /etc/mail/sendmail.conf; on RedHat set the daemon's queue interval"),
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


# ---------------------------------------------------------------- what reaches sendmail.mc inside m4 quotes
INJECT = "')RELAY_DOMAIN(`com')dnl"


@pytest.mark.parametrize("config, where", [
    ({"sendmail_masquerade_as": "my-site.com" + INJECT}, "sendmail_masquerade_as"),
    ({"sendmail_smart_host": "mail.my-site.com" + INJECT}, "sendmail_smart_host"),
    ({"sendmail_connection_rate_window_size": "10m" + INJECT}, "sendmail_connection_rate_window_size"),
    ({"sendmail_auth_mechanisms": ["PLAIN" + INJECT]}, "sendmail_auth_mechanisms[0]"),
    ({"sendmail_tls_cert": "/etc/mail/tls/smtpd.crt" + INJECT}, "sendmail_tls_cert"),
    ({"sendmail_tls_key": "/etc/mail/tls/smtpd.key" + INJECT}, "sendmail_tls_key"),
    ({"sendmail_tls_ca_file": "/etc/ssl/ca.crt" + INJECT}, "sendmail_tls_ca_file"),
    ({"sendmail_tls_cert": "/etc/mail/tls/o'brien.crt"}, "sendmail_tls_cert"),
    ({"sendmail_dnsbl": [{"zone": "bl.spamcop.net", "message": "Rejected" + INJECT}]}, "sendmail_dnsbl[0].message"),
    ({"sendmail_dnsbl": [{"zone": "bl.spamcop.net", "message": "Rejected, see http://x/"}]}, "sendmail_dnsbl[0].message"),
    ({"sendmail_dnsbl": [{"zone": "bl.dnl.net"}]}, "sendmail_dnsbl[0].zone"),
    ({"sendmail_milters": [{"name": "m", "socket": "local:/run/m.sock" + INJECT}]}, "sendmail_milters[0].socket"),
    ({"sendmail_milters": [{"name": "m", "socket": "local:/run/m.sock,F=R"}]}, "sendmail_milters[0].socket"),
    ({"sendmail_milters": [{"name": "dnl", "socket": "local:/run/m.sock"}]}, "sendmail_milters[0].name"),
    ({"sendmail_milters": [{"name": "m", "socket": "local:/run/m.sock", "macros": {"connect": ["{dnl}"]}}]},
     "sendmail_milters[0].macros.connect[0]"),
    ({"sendmail_exposed_users": ["root", "m4exit"]}, "sendmail_exposed_users[1]"),
    ({"sendmail_listen_addresses": ["127.0.0.1\n"]}, "sendmail_listen_addresses[0]"),
    ({"sendmail_smtp_port": "25\n"}, "sendmail_smtp_port"),
    ({"sendmail_submission_port": "５８７"}, "sendmail_submission_port"),
    ({"sendmail_queue_la": " 8"}, "sendmail_queue_la"),
    ({"sendmail_refuse_la": True}, "sendmail_refuse_la"),
    ({"sendmail_max_daemon_children": "0\nO X=y"}, "sendmail_max_daemon_children"),
    ({"sendmail_connection_rate_throttle": -1}, "sendmail_connection_rate_throttle"),
    ({"sendmail_procmail_locksleep": "1\nDEFAULT=/tmp/x"}, "sendmail_procmail_locksleep"),
    ({"sendmail_max_queue_children": "5\n"}, "sendmail_max_queue_children"),
    ({"sendmail_local_mailbox": "mbox\nFEATURE(`x')"}, "sendmail_local_mailbox"),
    ({"sendmail_mc_raw_end": ["define(`confX', `1')dnl\nRELAY_DOMAIN(`com')dnl"]}, "sendmail_mc_raw_end[0]"),
    ({"sendmail_mc_raw_features": ["FEATURE(`x' # )"]}, "sendmail_mc_raw_features[0]"),
])
def test_values_inside_m4_quotes_are_refused_naming_the_variable(config, where):
    errors = sendmail_config_errors(config)
    assert errors and all(error.startswith(where + ": ") for error in errors), errors


def test_the_chapter_values_stay_valid():
    assert sendmail_config_errors({
        "sendmail_mode": "client", "sendmail_smart_host": "bigboy.my-site.com", "sendmail_masquerade_as": "my-site.com",
        "sendmail_connection_rate_window_size": "10m", "sendmail_auth_mechanisms": ["PLAIN", "LOGIN", "CRAM-MD5"],
        "sendmail_tls_cert": "/etc/mail/tls/smtpd.crt", "sendmail_tls_key": "/etc/mail/tls/smtpd.key", "sendmail_tls_ca_file": "",
        "sendmail_exposed_users": ["root"], "sendmail_masquerade_domains": ["localhost", "localhost.localdomain"],
        "sendmail_smtp_port": 25, "sendmail_submission_port": "587", "sendmail_queue_la": None, "sendmail_procmail_locksleep": 1,
        "sendmail_dnsbl": [
            {"zone": "ipwhois.rfc-ignorant.org", "message": '"550 Mail from " $&{client_addr} " refused. Rejected for bad WHOIS '
                                                            'info on IP of your SMTP server - see http://www.rfc-ignorant.org/"'},
            {"zone": "bl.spamcop.net", "message": '"450 Mail from " $&{client_addr} " refused - see http://spamcop.net/bl.shtml"'},
            {"zone": "sbl.spamhaus.org", "message": "Rejected - see http://spamhaus.org/"},
            {"zone": "temp.example.org", "tempfail": True},
        ],
        "sendmail_local_mailbox": "maildir",
    }) == []
    assert sendmail_config_errors({"sendmail_smart_host": "[192.0.2.25]", "sendmail_masquerade_as": ""}) == []


def test_m4_problems_reads_a_hash_outside_quotes_as_a_comment():
    assert m4_problems("FEATURE(`x') # a comment (with a parenthesis") is None
    assert "not closed" in m4_problems("FEATURE(`x' # )")
    assert m4_problems("define(`x', `a # b')dnl") is None


# ---------------------------------------------------------------- sendmail_include_files
ADMIN_LIST = "/home/mailings/admin-list"
HOST_ALIASES = ({"name": "directors", "members": ["peter", "paul", "mary"]},
                {"name": "admin-list", "members": [":include:" + ADMIN_LIST]})


def _include_errors(files, aliases=HOST_ALIASES):
    aliases = list(aliases) if isinstance(aliases, tuple) else aliases
    return sendmail_config_errors({"sendmail_include_files": files, "aliases": aliases})


@pytest.mark.parametrize("files, aliases", [
    ({}, HOST_ALIASES),
    ({ADMIN_LIST: ["paul", "mary"]}, HOST_ALIASES),
    ({ADMIN_LIST: ["paul", "mary@my-site.com", '"owner-list"']}, HOST_ALIASES),
    # sendmail_aliases' form: a dictionary of comma strings or lists, the member quoted as in /etc/aliases
    ({ADMIN_LIST: ["paul"]}, {"admin-list": 'root, ":include:/home/mailings/admin-list"'}),
])
def test_include_files_valid(files, aliases):
    assert _include_errors(files, aliases) == []


def test_include_files_without_aliases_checks_only_paths_and_members():
    assert sendmail_config_errors({"sendmail_include_files": {"/srv/lists/staff": ["paul"]}}) == []


@pytest.mark.parametrize("files, expected", [
    ([ADMIN_LIST], "sendmail_include_files: ['/home/mailings/admin-list'] is not valid: a dictionary of list file path"),
    ({"home/mailings/admin-list": ["paul"]},
     "sendmail_include_files key: 'home/mailings/admin-list' is not valid: an absolute path"),
    ({"/home/mailings/admin list": ["paul"]},
     "sendmail_include_files key: '/home/mailings/admin list' is not valid: an absolute path"),
    ({"/home/mailings/../admin-list": ["paul"]},
     "sendmail_include_files key: '/home/mailings/../admin-list' is not valid: a file's path"),
    ({"/home/mailings/staff": ["paul"]},
     "sendmail_include_files key: '/home/mailings/staff' is not valid: the path of an :include: alias member of this "
     "host (\":include:/home/mailings/staff\" in sendmail_aliases or a domain's aliases); the host's list files: "
     "/home/mailings/admin-list"),
    ({ADMIN_LIST: []}, "sendmail_include_files['/home/mailings/admin-list']: [] is not valid: a non-empty list"),
    ({ADMIN_LIST: "paul, mary"}, "sendmail_include_files['/home/mailings/admin-list']: 'paul, mary' is not valid: a YAML list"),
    ({ADMIN_LIST: ["paul", "peter paul"]},
     "sendmail_include_files['/home/mailings/admin-list'] item: 'peter paul' is not valid: it contains a comma or space"),
    ({ADMIN_LIST: ["paul\nroot"]},
     "sendmail_include_files['/home/mailings/admin-list'] item: 'paul\\nroot' is not valid: one line"),
    ({ADMIN_LIST: ["paul", 7]}, "sendmail_include_files['/home/mailings/admin-list'] item: 7 is not valid: a non-empty string"),
    ({ADMIN_LIST: ["paul", "|/usr/bin/vacation paul"]},
     "sendmail_include_files['/home/mailings/admin-list'][1]: '|/usr/bin/vacation paul' is not valid: a member a list file"),
    ({ADMIN_LIST: ["/var/mail/archive"]},
     "sendmail_include_files['/home/mailings/admin-list'][0]: '/var/mail/archive' is not valid: a member a list file"),
    ({ADMIN_LIST: [":include:/home/mailings/other"]},
     "sendmail_include_files['/home/mailings/admin-list'][0]: ':include:/home/mailings/other' is not valid: a member"),
    ({ADMIN_LIST: ["#paul"]}, "sendmail_include_files['/home/mailings/admin-list'][0]: '#paul' is not valid: a member"),
])
def test_include_files_errors(files, expected):
    errors = _include_errors(files)
    assert len(errors) == 1 and errors[0].startswith(expected), errors


def test_include_files_path_unused_when_the_host_has_no_include_alias():
    errors = _include_errors({ADMIN_LIST: ["paul"]}, [{"name": "directors", "members": ["peter"]}])
    assert errors == ["sendmail_include_files key: '/home/mailings/admin-list' is not valid: the path of an :include: "
                      "alias member of this host (\":include:/home/mailings/admin-list\" in sendmail_aliases or a domain's "
                      "aliases); the host's list files: none"]


# ------------------------------------------------------------ hardening: TLS policy and special alias members
PUBLIC = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]


@pytest.mark.parametrize("config, expected", [
    ({"sendmail_tls_min_version": "TLSv1.1"}, "sendmail_tls_min_version: 'TLSv1.1' is not valid: TLSv1.2 or TLSv1.3"),
    ({"sendmail_tls_ca_file": "/etc/ssl/certs/ca-certificates.crt", "tls_public_bundles": PUBLIC},
     "sendmail_tls_ca_file: '/etc/ssl/certs/ca-certificates.crt' is not valid: a file of the CA certificates that sign "
     "the client certificates allowed to relay, or empty; not the public CA bundle"),
    ({"sendmail_tls_cipher_list": "HIGH:!aNULL')RELAY_DOMAIN(`com"}, "sendmail_tls_cipher_list: "),
    ({"sendmail_tls_cipher_list": ""}, "sendmail_tls_cipher_list: '' is not valid: an OpenSSL cipher string"),
])
def test_tls_policy_errors(config, expected):
    errors = sendmail_config_errors(config)
    assert len(errors) == 1 and errors[0].startswith(expected), errors


def test_tls_policy_valid():
    assert sendmail_config_errors({"sendmail_tls_min_version": "TLSv1.3", "sendmail_tls_ca_file": "/etc/mail/tls/clients-ca.pem",
                                   "tls_public_bundles": PUBLIC, "sendmail_tls_cipher_list": "ECDHE-RSA-AES128-GCM-SHA256"}) == []


ALIASES = [
    {"name": "admin-list", "members": [":include:/home/mailings/admin-list"]},
    {"name": "archive", "members": ["/var/spool/archive.mbox"]},
    {"name": "ticket", "members": ['"|/usr/local/bin/ticket"']},
    {"name": "staff", "members": ["marc", "paul@my-site.com"]},
]


@pytest.mark.parametrize("allowed, refused", [
    ([], ["admin-list", "archive", "ticket"]),
    (["include"], ["archive", "ticket"]),
    (["include", "file"], ["ticket"]),
    (["program", "file", "include"], []),
])
def test_special_alias_members_need_the_opt_in(allowed, refused):
    errors = sendmail_config_errors({"sendmail_aliases_allow": allowed, "aliases": ALIASES,
                                     "alias_sources": {"admin-list": "mailserver_domain_my_site_com"}})
    assert len(errors) == len(refused), errors
    for name, error in zip(refused, errors, strict=True):
        assert f"alias {name}:" in error and "sendmail_aliases_allow" in error
    if "admin-list" in refused:
        # the error names the variable the alias came from
        assert errors[0].startswith("mailserver_domain_my_site_com: alias admin-list: ")


def test_special_alias_members_in_a_comma_string_and_unknown_kinds():
    errors = sendmail_config_errors({"sendmail_aliases_allow": [], "aliases": [{"name": "x", "members": "marc, |/bin/sh"}]})
    assert len(errors) == 1 and "a |command member" in errors[0] and "'program'" in errors[0]
    errors = sendmail_config_errors({"sendmail_aliases_allow": ["pipe"], "aliases": []})
    assert errors == ["sendmail_aliases_allow: ['pipe'] is not valid: a list of: program, file, include"]


@pytest.mark.parametrize("config, expected", [
    ({"sendmail_smtps_enabled": True, "sendmail_tls_enabled": False}, "sendmail_smtps_enabled: True is not valid: false while"),
    ({"sendmail_smtps_port": "465\n"}, "sendmail_smtps_port: '465\\n' is not valid: an integer 1-65535"),
    ({"sendmail_max_message_size": -1}, "sendmail_max_message_size: -1 is not valid: an integer of at least 0"),
    ({"sendmail_max_message_size": "25M"}, "sendmail_max_message_size: '25M' is not valid: an integer of at least 0"),
])
def test_smtps_and_size_errors(config, expected):
    errors = sendmail_config_errors(config)
    assert len(errors) == 1 and errors[0].startswith(expected), errors


@pytest.mark.parametrize("config, expected", [
    ({"sendmail_mode": "backup_mx"}, "sendmail_backup_mx_primary: '' is not valid: the inventory name of the primary"),
    ({"sendmail_mode": "backup_mx", "sendmail_backup_mx_primary": "bigbo", "backup_mx_primary_in_inventory": False},
     "sendmail_backup_mx_primary: 'bigbo' is not valid: a host of this inventory"),
    ({"sendmail_mode": "backup_mx", "sendmail_backup_mx_primary": "bigboy", "sendmail_backup_mx_primary_host": "a b"},
     "sendmail_backup_mx_primary_host: 'a b' is not valid"),
    ({"sendmail_mode": "backup_mx", "sendmail_backup_mx_primary": "bigboy", "sendmail_smart_host": "mail.example"},
     "sendmail_smart_host: 'mail.example' is not valid: empty when sendmail_mode is 'backup_mx'"),
    ({"sendmail_queue_return": "five days"}, "sendmail_queue_return: 'five days' is not valid: a duration"),
    ({"sendmail_queue_warn": "4h')dnl"}, "sendmail_queue_warn"),
])
def test_backup_mx_and_queue_errors(config, expected):
    errors = sendmail_config_errors(config)
    assert any(expected in error for error in errors), errors


def test_backup_mx_valid():
    assert sendmail_config_errors({"sendmail_mode": "backup_mx", "sendmail_backup_mx_primary": "bigboy.my-site.com",
                                   "backup_mx_primary_in_inventory": True, "sendmail_backup_mx_primary_host": "",
                                   "sendmail_smart_host": "",
                                   "sendmail_queue_return": "5d", "sendmail_queue_warn": "4h"}) == []

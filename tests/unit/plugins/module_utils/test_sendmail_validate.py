"""Every validation rule with its message: (kind, key, value, expected message fragment or None for valid)."""

import itertools
import re

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils import _sendmail_validate as v
from ansible_collections.homelab.mailserver.plugins.module_utils import _validate
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_map import (
    KINDS,
    update_text,
)

CASES = [
    # ---- access: left-hand sides
    ("access", "127.0.0.1", "RELAY", None),
    ("access", "192.168.2", "RELAY", None),
    ("access", "10", "RELAY", None),
    ("access", "localhost", "RELAY", None),
    ("access", "my-site.com", "RELAY", None),
    ("access", "user@my-site.com", "REJECT", None),
    ("access", "user@", "REJECT", None),
    ("access", "IPv6:2001:db8::1", "RELAY", None),
    ("access", "Connect:IPv6:2001:db8", "RELAY", None),
    ("access", "Connect:192.168.2", "REJECT", None),
    ("access", "From:spammer@example.net", "DISCARD", None),
    ("access", "From:<>", "REJECT", None),
    ("access", "To:example.net", "SKIP", None),
    ("access", "CERTISSUER:/C=US/O=Example", "RELAY", None),
    ("access", "192.168.2.0/24", "RELAY", "means the octet prefix '192.168.2'"),
    ("access", "10.0.0.0/8", "RELAY", "means the octet prefix '10'"),
    ("access", "172.16.0.0/16", "RELAY", "means the octet prefix '172.16'"),
    ("access", "192.168.0.0/23", "RELAY", "split 192.168.0.0/23 into whole-octet prefixes: 192.168.0, 192.168.1"),
    ("access", "10.0.0.0/12", "RELAY", ("whole-octet prefixes: 10.0, 10.1, 10.2, 10.3, 10.4, 10.5, 10.6, 10.7, "
                                        "10.8, 10.9, 10.10, 10.11, 10.12, 10.13, 10.14, 10.15")),
    ("access", "10.0.0.0/11", "RELAY", "must be split into 32 whole-octet /16 prefixes"),
    ("access", "192.168.1.0/26", "RELAY", "must be split into 64 whole-octet /32 prefixes"),
    ("access", "192.168.1.0/29", "RELAY", ("prefixes: 192.168.1.0, 192.168.1.1, 192.168.1.2, 192.168.1.3, "
                                           "192.168.1.4, 192.168.1.5, 192.168.1.6, 192.168.1.7")),
    ("access", "0.0.0.0/0", "RELAY", "would match every address"),
    ("access", "IPv6:2001:db8::/32", "RELAY", "CIDR notation (2001:db8::/32) is not supported"),
    ("access", "192.168.256", "RELAY", "each 0-255"),
    ("access", "1.2.3.4.5", "RELAY", "1-4 whole octets"),
    ("access", "1..2", "RELAY", "1-4 whole octets"),
    ("access", "IPv6:zz", "RELAY", "not a valid IPv6: form"),
    ("access", "@my-site.com", "RELAY", "use the bare domain 'my-site.com'"),
    ("access", "bad_domain..com", "RELAY", "is not valid: it is not a domain name"),
    ("access", "Bogus:foo", "RELAY", "unknown tag 'Bogus:'; valid tags: Connect:"),
    ("access", "Connect:", "RELAY", "needs something after the colon"),
    ("access", "Connect:user@example.com", "RELAY", "not an e-mail address"),
    ("access", "two words", "RELAY", "contains whitespace or control characters; it must be one token"),
    # ---- access: right-hand sides
    ("access", "a.example", "ok", None),
    ("access", "a.example", "Relay", None),
    ("access", "a.example", "ACCEPT", "use OK (not ACCEPT)"),
    ("access", "a.example", "accept", "use OK (not ACCEPT)"),
    ("access", "a.example", "ERROR:550 Go away", None),
    ("access", "a.example", 'ERROR:"550 Go away"', None),
    ("access", "a.example", "ERROR:5.7.1:550 Go away", None),
    ("access", "a.example", "ERROR:4.7.1:450 Try later", None),
    ("access", "a.example", "ERROR:5.7.1:450 Try later", "enhanced status 5.x.x does not match reply code 4xx"),
    ("access", "a.example", "ERROR:250 fine", "4xx/5xx reply code"),
    ("access", "a.example", "ERROR:Go away", "ERROR:[D.S.N:]NNN text"),
    ("access", "a.example", "QUARANTINE:check this", None),
    ("access", "a.example", "QUARANTINE:", "QUARANTINE: needs a reason"),
    ("access", "a.example", "MAYBE", "value: 'MAYBE' is not valid: OK, RELAY, REJECT, DISCARD, SKIP"),
    ("access", "a.example", "", "value: '' is not valid: it is empty or not one line"),
    ("access", "Spam:abuse@", "FRIEND", None),
    ("access", "Spam:example.com", "HATER", None),
    ("access", "Spam:abuse@", "OK", "Spam: entries take FRIEND or HATER"),
    ("access", "GreetPause:", "5000", None),
    ("access", "GreetPause:192.168.1", "0", None),
    ("access", "ClientRate:", "10", None),
    ("access", "ClientConn:127.0.0.1", "0", None),
    ("access", "ClientRate:", "ten", "ClientRate: entries take a number"),
    ("access", "TLS_Srv:secure.example.com", "ENCR:112", None),
    ("access", "TLS_Clt:laptop.example.com", "PERM+VERIFY:112", None),
    ("access", "TLS_Rcpt:user@example.com", "VERIFY+CN:mx.example.com", None),
    ("access", "TLS_Srv:secure.example.com", "YES", "TLS_Srv: entries take a TLS requirement"),
    ("access", "Try_TLS:broken.example.com", "NO", None),
    ("access", "Try_TLS:broken.example.com", "MAYBE", "Try_TLS: entries take YES or NO"),
    ("access", "Srv_Features:", "V l", None),
    ("access", "Srv_Features:10.1", "Verb!", "feature letters"),
    # ---- virtusertable
    ("virtusertable", "webmaster@another-site.com", "webmasters", None),
    ("virtusertable", "@another-site.com", "marc", None),
    ("virtusertable", "sales@my-site.com", "sales@another-site.com", None),
    ("virtusertable", "@my-site.com", "error:nouser User unknown", None),
    ("virtusertable", "jax@bar.com", "error:5.7.0:550 Address invalid", None),
    ("virtusertable", "joe@bar.com", "error:550 No such user", None),
    ("virtusertable", "@foo.org", "%1@example.com", None),
    ("virtusertable", "old+*@foo.org", "new+%2@example.com", None),
    ("virtusertable", "@bar.org", "%1%3", None),
    ("virtusertable", "user+detail@foo.org", "someone", None),
    ("virtusertable", "info@foo.org", "%1@example.com", "supplies no substitutions"),
    ("virtusertable", "user+detail@foo.org", "%2@example.com", "supplies no substitutions"),
    ("virtusertable", "@foo.org", "%4@example.com", "only %1 (user), %2 (detail) and %3 (+detail) exist"),
    ("virtusertable", "@foo.org", "a@x.com,b@x.com", "maps to exactly one address"),
    ("virtusertable", "webmaster", "marc", "is not valid: a virtusertable key: user@domain, @domain"),
    ("virtusertable", "webmaster@", "marc", "needs a domain after @"),
    ("virtusertable", "a@foo.org", "error:nobody here", "error:nouser text"),
    ("virtusertable", "a@foo.org", "error:5.1.1:450 x", "enhanced status 5.x.x does not match reply code 4xx"),
    ("virtusertable", "a@foo.org", "user@", "needs a domain after @"),
    # ---- genericstable / mailertable / domaintable / authinfo / generic
    ("genericstable", "alert", "security-alert@my-site.com", None),
    ("genericstable", "apache@bigboy.my-site.com", "mailer@my-site.com", None),
    ("genericstable", "alert", "security-alert", "value: 'security-alert' is not valid: a mail address user@domain"),
    ("genericstable", "al ert", "x@y.com", "key: 'al ert' is not valid: one token: not empty, without whitespace"),
    ("mailertable", ".example.org", "esmtp:[mx.example.org]", None),
    ("mailertable", "example.org", "relay:smarthost.example.net", None),
    ("mailertable", "local.example", "local:user", None),
    ("mailertable", "bad.example", "error:5.1.2:550 No such domain", None),
    ("mailertable", "example.org", "mx.example.org", "is not valid: mailer:host, e.g. esmtp:[mail.example.com]"),
    ("mailertable", "exa mple", "smtp:x", "key: 'exa mple' is not valid: one token: not empty, without whitespace"),
    ("mailertable", "-bad-.org", "smtp:x", "is not valid: a mailertable key: domain or .domain"),
    ("domaintable", "old.example", "new.example", None),
    ("domaintable", "old.example", "new example", "value: 'new example' is not valid: one token: not empty, without whitespace"),
    ("authinfo", "AuthInfo:smtp.example.net", '"U:user" "P:secret" "M:PLAIN"', None),
    ("authinfo", "AuthInfo:", '"U:user" "P=c2VjcmV0"', None),
    ("authinfo", "smtp.example.net", '"U:user"', "is not valid: AuthInfo:host, AuthInfo:IP or AuthInfo: (default)"),
    ("authinfo", "AuthInfo:smtp.example.net", "user secret", 'quoted items like "U:user"'),
    ("generic", "anything", "any value at all", None),
    ("generic", "anything", "two\nlines", "is not valid: a non-empty value on one line"),
]


@pytest.mark.parametrize("kind,key,value,message", CASES, ids=["{}:{}={}".format(*c[:3]) for c in CASES])
def test_rule(kind, key, value, message):
    new, dummy_added, dummy_removed, dummy_updated, errors = update_text("", [{"key": key, "value": value}], False, KINDS[kind])
    if message is None:
        assert errors == [] and new == f"{key}\t{value}\n"
    else:
        assert len(errors) == 1 and new == ""
        assert errors[0].startswith(f"entry {key!r}: "), errors[0]
        assert message in errors[0], errors[0]


def test_large_split_lists_count_not_members():
    errors = update_text("", [{"key": "10.0.0.0/9", "value": "OK"}], False, KINDS["access"])[4]
    assert "128 whole-octet /16 prefixes" in errors[0] and "10.0," not in errors[0]


CLASS_CASES = [
    ("class_hosts", "my-site.com", None),
    ("class_hosts", "[192.168.1.1]", None),
    ("class_hosts", "192.168.1", None),
    ("class_hosts", "not valid", "entry: 'not valid' is not valid: one token: not empty, without whitespace"),
    ("class_hosts", "bad..example", "entry: 'bad..example' is not valid: it is not a domain name"),
    ("class_users", "root", None),
    ("class_users", "smmsp", None),
    ("class_users", "-x", "entry: '-x' is not valid: a Linux user name"),
    ("class_any", "whatever:token", None),
]


@pytest.mark.parametrize("kind,token,message", CLASS_CASES)
def test_class_rule(kind, token, message):
    errors = update_text("", [token], False, KINDS[kind])[4]
    assert (errors == []) if message is None else (message in errors[0])


ALIAS_CASES = [
    ("root", ["marc", "webmaster@my-site.com"], None),
    ("prog", ["|/usr/bin/procmail -m /etc/x.rc"], None),
    ("list", [":include:/home/mailings/admin-list"], None),
    ("file", ["/var/log/mail archive"], None),
    ("root", "marc,webmaster@my-site.com", "members: 'marc,webmaster@my-site.com' is not valid: a YAML list"),
    ("root", ["marc, webmaster@my-site.com"], "give each member as its own YAML list item"),
    ("root", ["marc webmaster"], "give each member as its own YAML list item"),
    ("root", [], "members: [] is not valid: a non-empty list"),
    ("root", [""], "members item: '' is not valid: a non-empty string"),
    ("root", None, "members is required when state is present"),
    ("bad name", ["x"], "alias name: 'bad name' is not valid: one token: not empty, without whitespace"),
    ("bad:name", ["x"], "alias name: 'bad:name' is not valid: an alias name: a local part"),
]


@pytest.mark.parametrize("name,members,message", ALIAS_CASES)
def test_alias_rule(name, members, message):
    errors = update_text("", [{"name": name, "members": members}], False, KINDS["aliases"])[4]
    assert (errors == []) if message is None else (len(errors) == 1 and message in errors[0]), errors


def test_alias_names_case_insensitive_duplicates():
    errors = update_text("", [{"name": "Root", "members": ["a"]}, {"name": "root", "members": ["b"]}],
                         False, KINDS["aliases"])[4]
    assert "given twice" in errors[0]


# ---- fast paths: same answer as the full checks (the fast path disabled with a never-matching pattern / empty set)
def _grid(alphabet, max_len):
    for n in range(1, max_len + 1):
        for chars in itertools.product(alphabet, repeat=n):
            yield "".join(chars)


FAST_KEYS = [*_grid("02.a-", 5), "0", "00", "000", "0000", "255", "256", "260", "300", "1.2.3.4", "1.2.3.4.5", "1.2.3.",
             "192.168.001.010", "192.168.1.255", "192.168.1.256", "999", "a", "_a", "a_", "-a", "a-", "a.-b", "a..b",
             "example.com.", "example.com..", "host1.example.com", "1host.example.com", "a.1", "a.b-", "é.example",
             "١٢٣", "a\n", "a b", "From:a.example", "IPv6:1::2", "a@b.example", "a@", "@a", "a@b@c.example", "a.@b",
             "é@b.example", "a@b..c", "a@-b", "a@b.", "a@1.2.3.4", "a+b@c_d.example", "a@b.example\n", "x" * 65 + "@a.b",
             "a@" + "b." * 126 + "c", "`a'@b.example", "a)@b.example"]


def test_access_key_fast_path_matches_full_check(monkeypatch):
    fast = {k: v.access_key(k) for k in FAST_KEYS}
    assert sum(bool(_validate.PLAIN_HOST_RE.fullmatch(k)) for k in FAST_KEYS) > 500  # the fast path is really exercised
    assert sum(bool(_validate.ADDRESS_KEY_RE.fullmatch(k)) for k in FAST_KEYS) > 0
    monkeypatch.setattr(_validate, "PLAIN_HOST_RE", re.compile(r"(?!)"))
    monkeypatch.setattr(_validate, "ADDRESS_KEY_RE", re.compile(r"(?!)"))
    assert {k: v.access_key(k) for k in FAST_KEYS} == fast


def test_access_value_fast_path_matches_full_check(monkeypatch):
    keys = ["a.example", "1.2.3", "From:a@b.example", "Connect:a.example", "To:x", "IPv6:1::2", "Spam:a@b", "spam:a@b",
            "GreetPause:a", "ClientRate:", "TLS_Clt:a", "tls_srv:a", "Try_TLS:a", "Srv_Features:a", "Clt_Features:",
            "CERTISSUER:x", "Unknown:x"]
    values = ["OK", "RELAY", "REJECT", "DISCARD", "SKIP", "relay", "Ok", "FRIEND", "5", "VERIFY", "YES", "V l", "ACCEPT"]
    fast = {(k, val): v.access_value(k, val) for k in keys for val in values}
    monkeypatch.setattr(_validate, "ACCESS_ACTION_SET", frozenset())
    assert {(k, val): v.access_value(k, val) for k in keys for val in values} == fast

"""fail2ban in front of sendmail and Dovecot, proved with real clients over 127.0.0.0/8 inside the container.

vars/fail2ban.yml: bantime 60s, maxretry 3, ignoreip 127.0.0.1, ::1 and 127.0.0.5. The jails read the
journal (backend = systemd, no log file) and ban through nftables (table inet f2b-table). Three
wrong passwords over 587 (AUTH PLAIN after STARTTLS) and over 993 from 127.0.0.88 get it refused
at connect on 25, 587 and 993, while 127.0.0.3 and 127.0.0.1 still deliver; relay attempts
(127.0.0.89) and unknown recipients (127.0.0.90) get those addresses banned by sendmail-reject;
127.0.0.5's failures are seen and ignored; once the bans end 127.0.0.88 connects again. The clients are
files/fail2ban_probe.py (installed by prepare.yml). Waits poll with a deadline.
"""

import json
import pathlib
import re
import time

import pytest
import yaml

SCENARIO = pathlib.Path(__file__).resolve().parents[1]
LAB = yaml.safe_load((SCENARIO / "vars" / "fail2ban.yml").read_text(encoding="utf-8"))
BANTIME = 60
MAXRETRY = 3
JAILS = ["dovecot", "sendmail-auth", "sendmail-reject"]
ATTACKER = "127.0.0.88"
RELAYER = "127.0.0.89"
HARVESTER = "127.0.0.90"
IGNORED = "127.0.0.5"
MAIL_PORTS = [25, 587, 993]
CLOSED = ("refused", "timeout")


def quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def probe(host, command, args):
    result = host.run(f"python3 /usr/local/sbin/fail2ban_probe.py {command} {quote(json.dumps(args))}")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def banned(host, jail):
    """The addresses `fail2ban-client status JAIL` lists as banned."""
    result = host.run(f"fail2ban-client status {jail}")
    assert result.rc == 0, result.stderr
    match = re.search(r"Banned IP list:\s*(.*)", result.stdout)
    return match.group(1).split() if match else []


def poll(check, seconds, step=1.0):
    """CHECK() until it returns something true or SECONDS pass; its last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def test_the_lab_settings_are_the_ones_tested():
    assert (LAB["fail2ban_bantime"], LAB["fail2ban_maxretry"]) == (f"{BANTIME}s", MAXRETRY)
    assert IGNORED in LAB["fail2ban_ignoreip"] and ATTACKER not in LAB["fail2ban_ignoreip"]
    assert "127.0.0.3" not in LAB["fail2ban_ignoreip"]


def test_fail2ban_runs_the_mail_jails_from_the_journal(host):
    service = host.service("fail2ban")
    assert service.is_running and service.is_enabled
    listed = host.check_output("fail2ban-client status")
    assert set(JAILS) <= set(re.search(r"Jail list:\s*(.*)", listed).group(1).split(", ")), listed
    units = {"dovecot": "_SYSTEMD_UNIT=dovecot.service", "sendmail-auth": "_SYSTEMD_UNIT=sendmail.service",
             "sendmail-reject": "_SYSTEMD_UNIT=sendmail.service"}
    for jail in JAILS:
        # a jail of the systemd backend has a journal match and no log file
        assert units[jail] in host.check_output(f"fail2ban-client get {jail} journalmatch"), jail
        assert host.check_output(f"fail2ban-client get {jail} bantime") == str(BANTIME)
        assert host.check_output(f"fail2ban-client get {jail} maxretry") == str(MAXRETRY)
        assert "nftables-multiport" in host.check_output(f"fail2ban-client get {jail} actions")
        ignored = host.check_output(f"fail2ban-client get {jail} ignoreip")
        assert IGNORED in ignored and ATTACKER not in ignored


# Debian's own log lines (sendmail 8.17/8.18 on 12/13, Dovecot 2.3 on 12 and 2.4 on 13) through each jail's
# filter as the jail has it (fail2ban-regex given the jail's name): (failure lines, the address they name),
# and lines that are no failure. Dovecot 2.4's "Login aborted: ... (auth failed, ...)" line is not matched by
# Debian 13's fail2ban 1.1.0: its failures count by the PAM line (README).
LINES = {
    "sendmail-auth": (
        [("sm-mta[5377]: 6B3FwlcY005377: AUTH failure (PLAIN): authentication failure (-13) SASL(-13): authentication "
          "failure: Password verification failed, user=paul, relay=[127.0.0.88]", "127.0.0.88"),
         ("sm-mta[5382]: 6B3FwpC7005382: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication "
          "failure: checkpass failed, user=nosuchuser, relay=untrusted.example [127.0.0.5]", "127.0.0.5")],
        ["sm-mta[5377]: STARTTLS=server, relay=[127.0.0.88], version=TLSv1.3, verify=NO, cipher=TLS_AES_256_GCM_SHA384, "
         "bits=256/256",
         "sm-mta[5378]: 6B3FwlcY005378: AUTH=server, relay=localhost [127.0.0.1], authid=paul, mech=PLAIN, bits=0",
         "sm-mta[5377]: 6B3FwlcY005377: [127.0.0.88] did not issue MAIL/EXPN/VRFY/ETRN during connection to MSA"],
    ),
    "sendmail-reject": (
        [("sm-mta[5386]: 6B3Fwuoj005386: ruleset=check_rcpt, arg1=<victim@elsewhere.example>, relay=[127.0.0.88], "
          "reject=550 5.7.1 <victim@elsewhere.example>... Relaying denied. IP name lookup failed [127.0.0.88]", "127.0.0.88"),
         ("sm-mta[5433]: 6B3G0GHk005433: ruleset=check_rcpt, arg1=<victim@elsewhere.example>, relay=untrusted.example "
          "[127.0.0.5], reject=550 5.7.1 <victim@elsewhere.example>... Relaying denied. Proper authentication required.",
          "127.0.0.5"),
         ("sm-mta[5435]: 6B3G0GTT005435: ruleset=check_rcpt, arg1=<victim@elsewhere.example>, relay=forged.my-site.com "
          "[127.0.0.7] (may be forged), reject=550 5.7.1 <victim@elsewhere.example>... Relaying denied. IP name possibly "
          "forged [127.0.0.7]", "127.0.0.7"),
         # an unknown recipient's line names no address: the session's closing line does (one failure per session)
         ("sm-mta[5447]: 6B3G0TLj005447: <nobody0@my-site.com>... User unknown\n"
          "sm-mta[5447]: 6B3G0TLj005447: from=<spammer@client.example>, size=0, class=0, nrcpts=0, proto=ESMTP, "
          "daemon=MTA, relay=[127.0.0.89]", "127.0.0.89")],
        ["sm-mta[5450]: 6B3G0UAb005450: from=<marc@my-site.com>, size=310, class=0, nrcpts=1, msgid=<x@my-site.com>, "
         "bodytype=8BITMIME, proto=ESMTP, daemon=MTA, relay=remote.example [127.0.0.3]",
         "sm-mta[5450]: 6B3G0UAb005450: to=<paul@my-site.com>, delay=00:00:00, mailer=local, pri=30310, dsn=2.0.0, "
         "stat=Sent"],
    ),
    "dovecot": (
        [("auth[5392]: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=paul "
          "rhost=127.0.0.88  user=paul", "127.0.0.88"),
         ("dovecot[5641]: imap-login: Disconnected: Aborted login by logging out (auth failed, 1 attempts in 3 secs): "
          "user=<paul>, method=PLAIN, rip=127.0.0.9, lip=127.0.0.1, TLS, session=<qnmL17xhDdB/AABY>", "127.0.0.9")],
        ["dovecot[5641]: imap-login: Login: user=<paul>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid=5700, TLS, "
         "session=<qnmL17xhDdB/AABZ>",
         "auth[5392]: pam_unix(dovecot:auth): check pass; user unknown"],
    ),
}


def jail_filters(host):
    """{jail: filter} of the role's jail file, as fail2ban reads it."""
    text = host.file("/etc/fail2ban/jail.d/homelab-mailserver.local").content_string
    return dict(re.findall(r"^\[([^\]]+)\]\n(?:[^\[]*?\n)?filter = (\S+)$", text, re.M))


def regex_run(host, filter_name, lines):
    """fail2ban-regex -v over LINES (syslog lines of one minute) with the filter: (failures counted, its output)."""
    text = "".join(f"Dec 03 15:58:{10 + i:02d} bigboy {line}\n" for i, line in enumerate(lines))
    host.run(f"printf '%s' {quote(text)} > /tmp/fail2ban-lines.log")
    out = host.check_output(f"fail2ban-regex -v /tmp/fail2ban-lines.log /etc/fail2ban/filter.d/{filter_name}.conf")
    return int(re.search(r"Failregex: (\d+) total", out).group(1)), out


@pytest.mark.parametrize("jail", JAILS)
def test_each_filter_matches_debians_failure_lines_and_nothing_else(host, jail):
    filter_name = jail_filters(host)[jail]
    failures, others = LINES[jail]
    total, out = regex_run(host, filter_name, [line for text, _addr in failures for line in text.split("\n")])
    assert total >= len(failures), out
    # -v lists each failure's address under the regex that matched it
    found = re.findall(r"^\|\s+(\d+\.\d+\.\d+\.\d+)\s", out, re.M)
    assert sorted(set(found)) == sorted({addr for _text, addr in failures}), out
    total, out = regex_run(host, filter_name, others)
    assert total == 0, out


def ban_end(host, jail, address):
    """When fail2ban lifts ADDRESS's ban in JAIL (epoch seconds of the container's clock), and the ban's length."""
    out = host.check_output(f"fail2ban-client get {jail} banip --with-time")
    match = re.search(rf"^{re.escape(address)}\s+(\S+ \S+) \+ (\d+) = (\S+ \S+)$", out, re.M)
    assert match, out
    return int(host.check_output(f"date -d {quote(match.group(3))} +%s")), int(match.group(2))


@pytest.fixture(scope="module")
def attack(host):
    """Wrong passwords from ATTACKER over 587 and 993 until both jails ban it; what the clients saw."""
    host.run(f"fail2ban-client unban {ATTACKER} {RELAYER} {HARVESTER}")
    out = {"before": probe(host, "connect", {"src": ATTACKER, "ports": MAIL_PORTS})}
    password = "not-pauls-password"
    # IMAPS first: Dovecot answers each further failure of an address later (its auth penalty), and the
    # login whose failure brings the ban waits for an answer the ban cuts off; SMTP AUTH takes seconds
    out["imaps"] = probe(host, "imaps_login", {"src": ATTACKER, "user": "paul", "password": password, "count": MAXRETRY})
    out["smtp"] = probe(host, "smtp_auth", {"src": ATTACKER, "user": "paul", "password": password, "count": MAXRETRY})
    out["banned"] = poll(lambda: all(ATTACKER in banned(host, jail) for jail in ("sendmail-auth", "dovecot")), 30)
    out["while_banned"] = probe(host, "connect", {"src": ATTACKER, "ports": MAIL_PORTS})
    out["ends"] = [ban_end(host, jail, ATTACKER) for jail in ("sendmail-auth", "dovecot")] if out["banned"] else []
    return out


def test_the_attacker_reached_every_port_before(attack):
    assert attack["before"] == {str(port): "open" for port in MAIL_PORTS}


def test_wrong_passwords_over_587_and_993_ban_the_address(host, attack):
    assert attack["smtp"] == ["failed: 535"] * MAXRETRY, attack["smtp"]
    # Dovecot 2.3 logs two lines per failed login (PAM and the login process): the ban may come before the third
    assert attack["imaps"][0].startswith("failed:"), attack["imaps"]
    assert all(result.startswith("failed:") or result in CLOSED for result in attack["imaps"]), attack["imaps"]
    assert attack["banned"], {jail: banned(host, jail) for jail in JAILS}
    assert [length for _end, length in attack["ends"]] == [BANTIME, BANTIME]


def test_the_banned_address_is_refused_at_connect(attack):
    assert all(state in CLOSED for state in attack["while_banned"].values()), attack["while_banned"]


def test_nftables_holds_the_ban(host, attack):
    ruleset = host.check_output("nft list table inet f2b-table")
    assert ATTACKER in ruleset and "127.0.0.3" not in ruleset


def test_other_clients_still_deliver_during_the_ban(host, attack):
    for source in ("127.0.0.3", "127.0.0.1"):
        assert probe(host, "deliver", {"src": source, "rcpt": "paul@my-site.com"}) == "accepted", source
    assert ATTACKER in banned(host, "sendmail-auth")


def test_failures_of_an_ignored_address_are_seen_and_ignored(host, attack):
    before = host.run("wc -l < /var/log/fail2ban.log").stdout.strip()
    result = probe(host, "smtp_auth", {"src": IGNORED, "user": "paul", "password": "wrong", "count": MAXRETRY + 1})
    assert result == ["failed: 535"] * (MAXRETRY + 1)
    seen = poll(lambda: host.run(f"tail -n +{int(before) + 1} /var/log/fail2ban.log").stdout.count(
        f"[sendmail-auth] Ignore {IGNORED} by ip") >= MAXRETRY + 1, 30)
    assert seen, host.run("tail -n 20 /var/log/fail2ban.log").stdout
    assert IGNORED not in banned(host, "sendmail-auth")
    assert probe(host, "connect", {"src": IGNORED, "ports": MAIL_PORTS}) == {str(port): "open" for port in MAIL_PORTS}


def test_relay_attempts_ban_the_address(host, attack):
    assert probe(host, "relay", {"src": RELAYER, "count": MAXRETRY}) == [550] * MAXRETRY
    assert poll(lambda: RELAYER in banned(host, "sendmail-reject"), 30), banned(host, "sendmail-reject")
    assert probe(host, "connect", {"src": RELAYER, "ports": [25]})["25"] in CLOSED


def test_unknown_recipients_ban_the_address(host, attack):
    assert probe(host, "unknown_rcpt", {"src": HARVESTER, "count": MAXRETRY}) == [553] * MAXRETRY
    assert poll(lambda: HARVESTER in banned(host, "sendmail-reject"), 30), banned(host, "sendmail-reject")
    assert probe(host, "connect", {"src": HARVESTER, "ports": [25]})["25"] in CLOSED


def test_the_ban_expires_after_the_ban_time(host, attack):
    end = max(end for end, _length in attack["ends"])
    seen = {}

    def free():
        state = probe(host, "connect", {"src": ATTACKER, "ports": MAIL_PORTS})
        seen.setdefault("first", (int(host.check_output("date +%s")), state))
        return state if all(value == "open" for value in state.values()) else None

    state = poll(free, BANTIME + 30, step=1)
    now = int(host.check_output("date +%s"))
    assert state, probe(host, "connect", {"src": ATTACKER, "ports": MAIL_PORTS})
    # not free before both bans ended (fail2ban lifts them within a second or so)
    assert now >= end - 1, (now, attack["ends"], seen)
    first_time, first_state = seen["first"]
    if first_time < end - 2:
        assert any(value in CLOSED for value in first_state.values()), seen
    assert all(ATTACKER not in banned(host, jail) for jail in JAILS)

"""Reaching the world on Debian 12: the provider's authenticating relay and IPv6, over loopback.

"relay.provider.example" is files/auth_relay.py on 127.0.0.12:587 (prepare.yml): STARTTLS, then
AUTH PLAIN or LOGIN, with the one login of vars/loopback.yml (sendmail_relay_*). The mailertable
sends remote.example and relayed.example to the sink on 127.0.0.3; every other non-local domain
(outside.example here) must leave through the relay, logged in, over TLS. side_effect.yml tries a
wrong password with a real run of the role (case wrong_relay_password). bigboy also listens on
::1 (sendmail_listen_addresses), an IPv6 daemon that takes mail for its local users.
"""

import base64
import json
import os
import pathlib
import re
import sys
import time

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from test_sendmail import message, quote, smtp, token, wait_for  # noqa: E402
from test_system_mail import header  # noqa: E402

SCENARIO = pathlib.Path(__file__).resolve().parents[1]
LOOPBACK = yaml.safe_load((SCENARIO / "vars" / "loopback.yml").read_text(encoding="utf-8"))
RELAY_OUT = "/var/tmp/auth-relay"
RCPT = "friend@outside.example"


def now(host):
    return host.check_output("date '+%Y-%m-%d %H:%M:%S'")


def sm_mta_log(host, since):
    return host.run(f"journalctl -q -o cat -t sm-mta --since {quote(since)}").stdout


def relay_copies(host, tok):
    """The relay's stored messages that carry tok."""
    names = host.run(f"grep -l -- {quote(tok)} {RELAY_OUT}/*.eml 2>/dev/null").stdout.split()
    return [host.file(name).content_string for name in names]


def send_outside(host, tok):
    result = smtp(host, "127.0.0.1", "marc@my-site.com", [RCPT], message(tok, to=RCPT))
    assert result["rcpt"][0][0] == 250 and result["data"][0] == 250, result
    return wait_for(host, f"{RELAY_OUT}/*.eml", tok)


def assert_arrived_once(host, tok):
    """Exactly one copy at the relay, also after a queue run (nothing left queued to go again)."""
    host.run("/usr/sbin/sendmail -q >/dev/null 2>&1 || true")
    time.sleep(3)
    copies = relay_copies(host, tok)
    assert len(copies) == 1, copies
    assert host.run(f"grep -l -- {quote(tok)} /var/tmp/smtp-sink/*.eml 2>/dev/null").stdout == "", "went to the sink"
    return copies[0]


# --- the relay plays a real provider: TLS before AUTH, no mail without a login -------------

RELAY_CLIENT = r'''
import json, smtplib, ssl, sys
args = json.loads(sys.argv[1])
out = {}
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.12", 587, timeout=30, source_address=("127.0.0.1", 0), local_hostname="bigboy.my-site.com")
s.ehlo()
out["clear"] = sorted(s.esmtp_features)
out["auth_in_clear"] = s.docmd("AUTH PLAIN", "AGEAYg==")[0]
out["mail_in_clear"] = s.docmd("MAIL FROM:<marc@my-site.com>")[0]
s.starttls(context=ctx)
s.ehlo()
out["tls"] = s.sock.version()
out["auth_mechanisms"] = s.esmtp_features.get("auth", "").split()
out["mail_before_login"] = list(s.docmd("MAIL FROM:<marc@my-site.com>"))
out["mail_before_login"][1] = out["mail_before_login"][1].decode()
s.user, s.password = args["user"], args["password"]
out["logins"] = {}
for mechanism in ("PLAIN", "LOGIN"):
    try:
        code, msg = s.auth(mechanism, getattr(s, "auth_" + mechanism.lower()))
    except smtplib.SMTPAuthenticationError as exc:
        code, msg = exc.smtp_code, exc.smtp_error
    out["logins"][mechanism] = [code, msg.decode()]
out["mail_after_refusal"] = s.docmd("MAIL FROM:<marc@my-site.com>")[0]
s.quit()
print(json.dumps(out))
'''


def test_the_relay_wants_tls_before_auth_and_refuses_mail_and_a_wrong_login(host):
    """The stand-in for the provider is strict, so the tests below prove sendmail logged in over TLS."""
    # another user's name: the relay's log of refused logins of sendmail_relay_user stays the role's alone
    args = json.dumps({"user": "control-user", "password": LOOPBACK["sendmail_relay_password"]})
    result = host.run(f"python3 - {quote(args)} <<'PYEOF'\n{RELAY_CLIENT}\nPYEOF")
    assert result.rc == 0, result.stderr
    out = json.loads(result.stdout)
    assert "starttls" in out["clear"] and "auth" not in out["clear"], out
    assert out["auth_in_clear"] == 538 and out["mail_in_clear"] == 530, out
    assert out["tls"] in ("TLSv1.2", "TLSv1.3"), out
    assert out["auth_mechanisms"] == ["PLAIN", "LOGIN"], out
    assert out["mail_before_login"][0] == 530 and out["mail_before_login"][1].startswith("5.7.0"), out
    for mechanism in ("PLAIN", "LOGIN"):
        code, text = out["logins"][mechanism]
        assert code == 535 and text.startswith("5.7.8"), out
    assert out["mail_after_refusal"] == 530, out


# --- outside mail leaves through the relay, logged in, over TLS --------------------------------

def test_outside_mail_leaves_through_the_relay_once_logged_in_over_tls(host):
    since = now(host)
    tok = token()
    text = send_outside(host, tok)
    assert assert_arrived_once(host, tok) == text
    assert header(text, "X-Envelope-From") == "<marc@my-site.com>", text
    assert header(text, "X-Envelope-To") == f"<{RCPT}>", text
    assert header(text, "X-Auth-User") == LOOPBACK["sendmail_relay_user"], text
    assert header(text, "X-Auth-Mechanism") in ("PLAIN", "LOGIN"), text
    assert header(text, "X-TLS-Version") in ("TLSv1.2", "TLSv1.3"), text
    # sendmail's log: STARTTLS as a client towards the relay, and this message sent through it
    queue_id = re.search(r"with ESMTP id (\w+)", text).group(1)
    log = sm_mta_log(host, since)
    assert "STARTTLS=client, relay=relay.provider.example" in log, log[-3000:]
    sent = [line for line in log.splitlines() if line.startswith(f"{queue_id}: to=<{RCPT}>")]
    assert len(sent) == 1, log[-3000:]
    assert "mailer=relay" in sent[0] and "relay=relay.provider.example. [127.0.0.12]" in sent[0], sent
    assert "stat=Sent" in sent[0], sent


def test_local_and_mailertable_domains_do_not_use_the_relay(host):
    """my-site.com stays on bigboy, remote.example goes to the sink (the mailertable beats the relay)."""
    tok = token()
    result = smtp(host, "127.0.0.1", "marc@my-site.com", ["paul@my-site.com", "user@remote.example"],
                  message(tok, to="paul@my-site.com, user@remote.example"))
    assert [r[0] for r in result["rcpt"]] == [250, 250] and result["data"][0] == 250, result
    wait_for(host, "/var/mail/paul", tok)
    wait_for(host, "/var/tmp/smtp-sink/*.eml", tok)
    assert relay_copies(host, tok) == []


def test_the_relay_login_is_root_only_and_carries_the_password(host):
    """authinfo: root:root 0600; "P=" the password in base64, so its space and quotes survive."""
    for path in ("/etc/mail/authinfo", "/etc/mail/authinfo.db"):
        assert host.check_output(f"stat -c '%U:%G %a' {path}") == "root:root 600", path
    lines = [line.split(None, 1) for line in host.file("/etc/mail/authinfo").content_string.splitlines()
             if line.strip() and not line.startswith("#")]
    user = LOOPBACK["sendmail_relay_user"]
    encoded = base64.b64encode(LOOPBACK["sendmail_relay_password"].encode()).decode()
    assert lines == [["AuthInfo:relay.provider.example", f'"U:{user}" "I:{user}" "P={encoded}" "M:PLAIN LOGIN"']], lines
    assert "TLS_Srv:relay.provider.example" in host.file("/etc/mail/access").content_string


# --- a wrong password is refused before it goes live (side_effect.yml) ---------------------------

def _wrong_password():
    plays = yaml.safe_load((SCENARIO / "side_effect.yml").read_text(encoding="utf-8"))
    for task in plays[0]["tasks"]:
        if (task.get("vars") or {}).get("__case_name") == "wrong_relay_password":
            return task["vars"]["sendmail_relay_password"]
    raise AssertionError("side_effect.yml has no case wrong_relay_password")


def test_a_wrong_relay_password_fails_the_run_and_changes_nothing(host):
    wrong = _wrong_password()
    assert wrong != LOOPBACK["sendmail_relay_password"]
    result = json.loads(host.file("/var/tmp/sendmail-bad-input/wrong_relay_password.json").content_string)
    assert result["failed"], result
    msg = result["msg"]
    assert "sendmail_relay_user / sendmail_relay_password" in msg, msg
    assert f"refused the login of {LOOPBACK['sendmail_relay_user']}" in msg and "535" in msg, msg
    for shown in (msg, result["result"]):
        assert wrong not in shown and base64.b64encode(wrong.encode()).decode() not in shown, shown
    # sendmail.cf, the daemon, the authinfo text and database: as they were, and still there
    assert len(result["before"]) == 4 and not [line for line in result["before"] if "absent" in line], result
    assert result["before"] == result["after"], result
    assert result["after"][1] == host.file("/run/sendmail/mta/sendmail.pid").content_string.split()[0]
    assert base64.b64encode(wrong.encode()).decode() not in host.file("/etc/mail/authinfo").content_string
    # the refusal was the relay's: it saw the wrong login and answered 535
    attempts = host.file(f"{RELAY_OUT}/auth.log").content_string.splitlines()
    refused = [line for line in attempts if line.startswith(f"user={LOOPBACK['sendmail_relay_user']} ")
               and line.endswith("answer=535")]
    # (the role's check logs in as smtplib does: PLAIN, then LOGIN once PLAIN is refused)
    assert refused and all("tls=TLSv1." in line for line in refused), attempts


def test_mail_keeps_flowing_through_the_relay_after_the_refused_password(host):
    since = now(host)
    tok = token()
    text = send_outside(host, tok)
    assert assert_arrived_once(host, tok) == text
    assert header(text, "X-Auth-User") == LOOPBACK["sendmail_relay_user"], text
    assert "dsn=5" not in sm_mta_log(host, since)


# --- IPv6: a daemon on ::1 ----------------------------------------------------------------------

IPV6_CLIENT = r'''
import json, smtplib, sys
args = json.loads(sys.argv[1])
s = smtplib.SMTP(timeout=60, source_address=("::1", 0), local_hostname="client.my-site.com")
s.connect("::1", 25)
s.ehlo()
out = {"peer": s.sock.getpeername()[0], "mail": s.mail(args["from"])[0], "rcpt": s.rcpt(args["to"])[0]}
out["data"] = s.data(args["body"])[0]
s.quit()
print(json.dumps(out))
'''


def test_sendmail_listens_on_ipv6_loopback(host):
    listening = host.check_output("ss -Hltn 'sport = :25'").split()
    assert "[::1]:25" in listening and "127.0.0.1:25" in listening, listening
    cf = host.file("/etc/mail/sendmail.cf").content_string.splitlines()
    assert "O DaemonPortOptions=Family=inet6, Name=MTA-2, Port=25, M=A, Addr=::1" in cf


def test_mail_over_ipv6_is_delivered_locally_and_received_from_the_ipv6_client(host):
    since = now(host)
    tok = token()
    args = json.dumps({"from": "marc@my-site.com", "to": "paul@my-site.com", "body": message(tok, to="paul@my-site.com")})
    result = host.run(f"python3 - {quote(args)} <<'PYEOF'\n{IPV6_CLIENT}\nPYEOF")
    assert result.rc == 0, result.stderr
    out = json.loads(result.stdout)
    assert out == {"peer": "::1", "mail": 250, "rcpt": 250, "data": 250}, out
    mbox = wait_for(host, "/var/mail/paul", tok)
    delivered = next(part for part in mbox.split("\nFrom ") if tok in part)
    received = re.search(r"^Received: from (.*\n(?:\s.*\n)*)", delivered, re.M).group(1)
    # sendmail writes an IPv6 client's address in full: [IPv6:0:0:0:0:0:0:0:1]
    assert re.match(r"\S+ \(\[IPv6:(0:0:0:0:0:0:0:1|::1)\]\)", received), received
    assert "by bigboy.my-site.com" in received, received
    log = sm_mta_log(host, since)
    taken = [line for line in log.splitlines() if "from=<marc@my-site.com>" in line and "daemon=MTA-2" in line]
    assert taken and "relay=[IPv6:0:0:0:0:0:0:0:1]" in taken[-1], log[-3000:]
    assert relay_copies(host, tok) == []

"""The chapter's mail server, proved with real SMTP over 127.0.0.0/8 inside the container.

bigboy.my-site.com listens on 127.0.0.1:25 (and on ::1, tests/test_relay_ipv6.py); 127.0.0.2 is
a trusted client (access RELAY), 127.0.0.5 an untrusted one; "remote.example" is the SMTP sink on
127.0.0.3:25 (prepare.yml), reached through the mailertable. 127.0.0.6, 127.0.0.7 and 127.0.0.8
are clients that relaying by name is tried from (the lab name server answers their PTR records).
Mail for other outside domains leaves through the provider's relay (tests/test_relay_ipv6.py).
"""

import json
import re
import textwrap
import time
import uuid

import pytest
from harness import tls_policy

SMTP_CLIENT = r'''
import json, smtplib, sys
args = json.loads(sys.argv[1])
out = {"rcpt": [], "data": None}
s = smtplib.SMTP(timeout=120, source_address=(args["src"], 0), local_hostname=args.get("helo", "client.my-site.com"))
s.connect("127.0.0.1", 25)
s.ehlo(args.get("helo", "client.my-site.com"))
out["mail"] = list(s.mail(args["from"]))
out["mail"][1] = out["mail"][1].decode()
ok = False
for rcpt in args["to"]:
    code, msg = s.docmd("RCPT TO:", rcpt if rcpt.startswith("<") else "<%s>" % rcpt)
    out["rcpt"].append([code, msg.decode()])
    ok = ok or code in (250, 251)
if ok and args.get("body"):
    code, msg = s.data(args["body"])  # str: smtplib sends CRLF line ends (sendmail refuses bare LF)
    out["data"] = [code, msg.decode()]
s.quit()
print(json.dumps(out))
'''


def smtp(host, src, sender, rcpts, body=None, helo="client.my-site.com"):
    args = json.dumps({"src": src, "from": sender, "to": rcpts, "body": body, "helo": helo})
    cmd = f"python3 - {quote(args)} <<'PYEOF'\n{SMTP_CLIENT}\nPYEOF"
    result = host.run(cmd)
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def message(token, sender="marc@my-site.com", to="someone", extra=""):
    return textwrap.dedent("""\
        From: %s
        To: %s
        Subject: test %s
        %s
        body %s
        """) % (sender, to, token, extra, token)


def wait_for(host, path_glob, token, timeout=90):
    """Wait until a file matching path_glob contains token; return that file's text."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = host.run(f"grep -l -- {quote(token)} {path_glob} 2>/dev/null | head -n1")
        name = result.stdout.strip()
        if name:
            return host.file(name).content_string
        host.run("/usr/sbin/sendmail -q >/dev/null 2>&1 || true")
        time.sleep(2)
    pytest.fail("{} never arrived in {}; mail log:\n{}".format(token, path_glob, host.run(
        "tail -n 30 /var/log/mail.log 2>/dev/null || journalctl -u sendmail -n 30 --no-pager").stdout))


def mailbox(user):
    return f"/var/mail/{user}"


def token():
    return "tok-" + uuid.uuid4().hex[:12]


# --- the daemon and its configuration -------------------------------------------------

def test_sendmail_running_and_enabled(host):
    service = host.service("sendmail")
    assert service.is_running
    assert service.is_enabled


def test_listens_on_the_configured_addresses(host):
    assert host.socket("tcp://127.0.0.1:25").is_listening
    assert host.socket("tcp://127.0.0.1:587").is_listening
    assert not host.socket("tcp://0.0.0.0:25").is_listening


def test_running_daemon_uses_the_new_configuration(host):
    """The greeting and EHLO come from the rendered sendmail.cf (catches a restart that did not take)."""
    cf = host.file("/etc/mail/sendmail.cf").content_string
    assert "Kvirtuser hash -o /etc/mail/virtusertable.db" in cf
    assert "O DaemonPortOptions=Family=inet, Name=MTA-1, Port=25, M=A, Addr=127.0.0.1" in cf
    pid = host.file("/run/sendmail/mta/sendmail.pid").content_string.split()[0]
    started = int(host.run(f"stat -c %Y /proc/{pid}").stdout.strip())
    assert started >= host.file("/etc/mail/sendmail.cf").mtime.timestamp() - 1
    ehlo = host.run("python3 -c \"import smtplib; s=smtplib.SMTP('127.0.0.1', 25, timeout=60); print(s.ehlo()[1].decode())\"")
    assert "STARTTLS" in ehlo.stdout


def test_queue_runner_settings_reach_the_daemon(host):
    """sendmail_max_runners_per_queue goes to sendmail.cf, sendmail_queue_interval to the daemon's -q."""
    assert "O MaxRunnersPerQueue=2" in host.file("/etc/mail/sendmail.cf").content_string.splitlines()
    assert 'QUEUE_INTERVAL="15m";' in host.file("/etc/mail/sendmail.conf").content_string.splitlines()
    # sendmail writes its PID and its command line to the pid file
    command_line = host.file("/run/sendmail/mta/sendmail.pid").content_string.splitlines()[1]
    assert "-q15m" in command_line.split(), command_line


def test_mc_and_cf_are_not_group_writable(host):
    assert host.file("/etc/mail/sendmail.cf").mode == 0o644
    assert host.file("/etc/mail/tls/smtpd.key").mode == 0o600


def test_class_files(host):
    lhn = host.file("/etc/mail/local-host-names").content_string.split()
    assert "my-site.com" in lhn and "another-site.com" in lhn
    gd = host.file("/etc/mail/generics-domains").content_string.split()
    assert {"my-site.com", "another-site.com", "bigboy.my-site.com"} <= set(gd)
    # the scenario's relay-only domain (vars/loopback.yml); the example's own domains relay by access only
    assert host.file("/etc/mail/relay-domains").content_string.split() == ["relayed.example"]
    assert "relayed.example" not in lhn


def test_access_map_is_the_chapters(host):
    access = host.file("/etc/mail/access").content_string
    for key in ("localhost.localdomain", "localhost", "127.0.0.1", "192.168.1.16", "192.168.1.17", "192.168.2",
                "my-site.com"):
        assert any(line.split() == [key, "RELAY"] for line in access.splitlines()), key


def test_mail_users_exist(host):
    for user in ("marc", "peter", "paul", "mary", "john1", "john2", "webmaster"):
        assert host.user(user).exists


# --- the six virtusertable routes -------------------------------------------------------

@pytest.mark.parametrize("rcpt, user", [
    ("webmaster@another-site.com", "webmaster"),      # webmaster@another-site.com  webmasters
    ("anybody@another-site.com", "marc"),             # @another-site.com           marc
    ("sales@my-site.com", "marc"),                    # sales@... -> sales@another-site.com -> marc
    ("paul@my-site.com", "paul"),                     # paul@my-site.com            paul
    ("finance@my-site.com", "paul"),                  # finance@my-site.com         paul
    ("john@my-site.com", "john1"),
    ("john@another-site.com", "john2"),
])
def test_virtusertable_routes_deliver(host, rcpt, user):
    tok = token()
    result = smtp(host, "127.0.0.5", "marc@my-site.com", [rcpt], message(tok, to=rcpt))
    assert result["rcpt"][0][0] == 250, result
    assert result["data"][0] == 250, result
    wait_for(host, mailbox(user), tok)


def test_catchall_bounces_user_unknown(host):
    result = smtp(host, "127.0.0.5", "marc@my-site.com", ["nobody-here@my-site.com"])
    code, text = result["rcpt"][0]
    # error:nouser gives 5.3.0 at RCPT time (553 with sendmail 8.17/8.18)
    assert code in (550, 553) and "User unknown" in text, result


def test_catchall_refuses_an_unknown_sender_too(host):
    """The example's comments: sendmail refuses a sender of the domain that the catch-all refuses (so every
    address local programs send as must be routed, or exposed), even from a client that may relay."""
    result = smtp(host, "127.0.0.2", "nobody-here@my-site.com", ["user@remote.example"], helo="trusted.example")
    assert result["mail"][0] in (550, 553) and "User unknown" in result["mail"][1], result


# --- aliases ----------------------------------------------------------------------------

def test_root_reaches_marc_and_webmaster(host):
    tok = token()
    result = smtp(host, "127.0.0.1", "marc@my-site.com", ["root@bigboy.my-site.com"], message(tok, to="root"))
    assert result["rcpt"][0][0] == 250, result
    wait_for(host, mailbox("marc"), tok)
    wait_for(host, mailbox("webmaster"), tok)  # via webmaster@my-site.com -> webmasters


def test_directors_reach_peter_paul_mary(host):
    tok = token()
    result = smtp(host, "127.0.0.5", "marc@my-site.com", ["directors@my-site.com"], message(tok, to="directors"))
    assert result["rcpt"][0][0] == 250, result
    for user in ("peter", "paul", "mary"):
        wait_for(host, mailbox(user), tok)


def test_alias_change_takes_effect_without_restart(host, ansible_module):
    """The aliases module writes the file and database sendmail.cf names."""
    assert "O AliasFile=/etc/aliases" in host.file("/etc/mail/sendmail.cf").content_string
    pid = host.check_output("systemctl show -p MainPID --value sendmail")
    added = ansible_module("homelab.mailserver.sendmail_aliases",
                           {"path": "/etc/aliases", "aliases": [{"name": "lab-test-list", "members": ["paul"]}]})
    assert added.get("changed") and added.get("db_rebuilt"), added
    try:
        assert "mailer local, user paul" in host.check_output("sendmail -bv lab-test-list")
    finally:
        removed = ansible_module("homelab.mailserver.sendmail_aliases",
                                 {"path": "/etc/aliases", "aliases": [{"name": "lab-test-list", "state": "absent"}]})
    assert removed.get("changed"), removed
    assert "User unknown" in host.run("sendmail -bv lab-test-list").stdout
    assert host.check_output("systemctl show -p MainPID --value sendmail") == pid


# --- relaying ---------------------------------------------------------------------------

def test_relay_allowed_from_trusted_loopback_client(host):
    tok = token()
    result = smtp(host, "127.0.0.2", "marc@my-site.com", ["user@remote.example"], message(tok, to="user@remote.example"))
    assert result["rcpt"][0][0] == 250, result
    wait_for(host, "/var/tmp/smtp-sink/*.eml", tok)


@pytest.mark.parametrize("rcpt", [
    "user@remote.example",
    "user%other.example@my-site.com",
    "other.example!user@my-site.com",
    '"user@other.example"@my-site.com',
    "<@my-site.com:user@other.example>",
])
def test_relay_refused_from_untrusted_client(host, rcpt):
    result = smtp(host, "127.0.0.5", "marc@my-site.com", [rcpt])
    code, text = result["rcpt"][0]
    assert code == 550 and text.startswith("5.7.1"), result


# --- relay-domains: relaying for a domain, by recipient and by the client's name -------------
# /etc/mail/relay-domains has relayed.example (the scenario's domain file with relay_domain: true,
# vars/loopback.yml); the mailertable sends it to the sink. 127.0.0.5 (untrusted.example) may relay
# to it and to nothing else; pc.relayed.example (127.0.0.8) may relay anywhere.

def test_relay_domains_file_is_what_the_daemon_reads(host):
    assert "FR-o /etc/mail/relay-domains %[^\\#]" in host.file("/etc/mail/sendmail.cf").content_string.splitlines()


def test_relay_domains_relays_mail_to_its_domain_from_anyone(host):
    tok = token()
    result = smtp(host, "127.0.0.5", "marc@my-site.com", ["user@relayed.example"],
                  message(tok, to="user@relayed.example"), helo="untrusted.example")
    assert result["rcpt"][0][0] == 250, result
    assert result["data"][0] == 250, result
    text = wait_for(host, "/var/tmp/smtp-sink/*.eml", tok)
    assert "X-Envelope-To: <user@relayed.example>" in text, text


def test_relay_domains_refuses_a_domain_not_listed(host):
    result = smtp(host, "127.0.0.5", "marc@my-site.com", ["user@other.example"], helo="untrusted.example")
    code, text = result["rcpt"][0]
    assert code == 550 and "Relaying denied" in text, result


def test_relay_domains_relays_for_a_client_named_in_it(host):
    """The chapter: mail sent from my-super-duper-site.com (a host of the listed domain) is forwarded."""
    assert host.run("getent hosts 127.0.0.8").stdout.split()[:2] == ["127.0.0.8", "pc.relayed.example"]
    tok = token()
    result = smtp(host, "127.0.0.8", "marc@my-site.com", ["user@remote.example"],
                  message(tok, to="user@remote.example"), helo="pc.relayed.example")
    assert result["rcpt"][0][0] == 250, result
    assert result["data"][0] == 250, result
    assert "pc.relayed.example [127.0.0.8]" in wait_for(host, "/var/tmp/smtp-sink/*.eml", tok)


# --- relaying by the client's resolved name: the access entry "my-site.com RELAY" ------------
# The chapter's "servers of my-site.com (found by reverse DNS)": sendmail looks up the client's
# address (PTR), confirms the name with a forward lookup, and relays when the access map has that
# name or a parent domain. The lab name server on 127.0.0.2 (prepare.yml) answers: 127.0.0.6 is
# web.my-site.com (PTR and A agree), 127.0.0.7's PTR says forged.my-site.com, which has no address.
# No access entry names either address; 127.0.0.5 (untrusted.example) is the control above.
RESOLVED_CLIENT = ("127.0.0.6", "web.my-site.com")
FORGED_CLIENT = ("127.0.0.7", "forged.my-site.com")


def _access_keys(host):
    return {line.split()[0]: line.split()[1] for line in host.file("/etc/mail/access").content_string.splitlines()
            if len(line.split()) == 2 and not line.startswith("#")}


def _relay_from(host, client, data=True):
    tok = token()
    result = smtp(host, client[0], "marc@my-site.com", ["user@remote.example"],
                  message(tok, to="user@remote.example") if data else None, helo=client[1])
    return tok, result


def test_lab_name_server_answers_the_clients_ptr(host):
    address, name = RESOLVED_CLIENT
    assert host.run(f"getent hosts {address}").stdout.split()[:2] == [address, name]
    assert host.run(f"getent hosts {name}").stdout.split()[:1] == [address]
    address, name = FORGED_CLIENT
    assert host.run(f"getent hosts {address}").stdout.split()[:2] == [address, name]
    assert host.run(f"getent hosts {name}").rc != 0, "the forged name must have no address"
    keys = _access_keys(host)
    assert keys.get("my-site.com") == "RELAY", keys
    for address in (RESOLVED_CLIENT[0], FORGED_CLIENT[0]):
        prefixes = [".".join(address.split(".")[:n]) for n in range(1, 5)]
        assert not [k for k in keys if k.removeprefix("Connect:") in prefixes], keys


def test_access_relays_for_a_client_whose_resolved_name_is_in_my_site_com(host):
    tok, result = _relay_from(host, RESOLVED_CLIENT)
    assert result["rcpt"][0][0] == 250, result
    assert result["data"][0] == 250, result
    text = wait_for(host, "/var/tmp/smtp-sink/*.eml", tok)
    assert "web.my-site.com [127.0.0.6]" in text, text  # sendmail's Received: line names the resolved client


def test_relaying_by_name_is_the_access_entrys_doing(host, ansible_module):
    """Without "my-site.com RELAY" the same client is refused; with it back, relayed again (no restart)."""
    removed = ansible_module("homelab.mailserver.sendmail_access",
                             {"entries": [{"key": "my-site.com", "state": "absent"}]})
    try:
        assert removed.get("changed"), removed
        _tok, refused = _relay_from(host, RESOLVED_CLIENT, data=False)
    finally:
        restored = ansible_module("homelab.mailserver.sendmail_access",
                                  {"entries": [{"key": "my-site.com", "value": "RELAY"}]})
    assert restored.get("changed"), restored
    code, text = refused["rcpt"][0]
    assert code == 550 and "Relaying denied" in text, refused
    _tok, again = _relay_from(host, RESOLVED_CLIENT, data=False)
    assert again["rcpt"][0][0] == 250, again


def test_a_forged_client_name_is_not_relayed(host):
    """127.0.0.7's PTR claims forged.my-site.com, but that name has no address: no relaying by name."""
    _tok, result = _relay_from(host, FORGED_CLIENT, data=False)
    code, text = result["rcpt"][0]
    assert code == 550 and "possibly forged" in text, result


# --- masquerading and genericstable ---------------------------------------------------

def _send_local(host, sender, tok):
    """Submit like a local program does (sendmail -t via the MSP), to remote.example."""
    cmd = f"printf 'To: user@remote.example\\nSubject: {tok}\\n\\nbody {tok}\\n' | /usr/sbin/sendmail -oi -f {sender} -t"
    result = host.run(cmd)
    assert result.rc == 0, result.stderr
    return wait_for(host, "/var/tmp/smtp-sink/*.eml", tok)


def _header(text, name):
    for line in text.splitlines():
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def test_local_user_leaves_as_my_site_com(host):
    text = _send_local(host, "marc", token())
    assert _header(text, "X-Envelope-From") == "<marc@my-site.com>"
    assert "marc@my-site.com" in _header(text, "From")
    assert "bigboy" not in _header(text, "From")


def test_apache_leaves_as_mailer(host):
    text = _send_local(host, "apache", token())
    assert _header(text, "X-Envelope-From") == "<mailer@my-site.com>"
    assert "mailer@my-site.com" in _header(text, "From")


# --- the MSP (submit.cf) rewrites senders before the MTA sees them ----------------------
# The MTA's milters (DKIM signing) see a message as it arrives; the MTA masquerades only
# when it delivers. So the MSP, which local programs run, must hand over final addresses.

def _msp_rewrites(host, flags, address):
    """What the live submit.cf makes of address (sendmail -Ac -bt, the relay mailer to the MTA)."""
    result = host.run(f"printf '/tryflags {flags}\\n/try relay {address}\\n' | /usr/sbin/sendmail -Ac -bt")
    assert result.rc == 0 and result.stderr == "", result.stdout + result.stderr
    found = re.findall(r"Rcode = 0, addr = (\S+)", result.stdout)
    assert found, result.stdout
    return found[-1]


@pytest.mark.parametrize("flags, address, expected", [
    ("HS", "marc", "marc@my-site.com"),
    ("HS", "marc@bigboy.my-site.com", "marc@my-site.com"),
    ("ES", "marc", "marc@my-site.com"),
    ("HS", "peter", "urgent-message@my-site.com"),
    ("ES", "apache", "mailer@my-site.com"),
    ("HS", "someone@remote.example", "someone@remote.example"),
])
def test_msp_masquerades_and_applies_the_genericstable(host, flags, address, expected):
    assert _msp_rewrites(host, flags, address) == expected


def test_msp_hands_the_mta_a_masqueraded_sender(host):
    """marc's mail without a From (as mail and cron send it) reaches the MTA from the MSP already masqueraded."""
    tok = token()
    cmd = (f"printf 'To: user@remote.example\\nSubject: {tok}\\nMessage-ID: <{tok}@bigboy.my-site.com>\\n\\n"
           f"body {tok}\\n' | runuser -u marc -- /usr/sbin/sendmail -oi -t")
    result = host.run(cmd)
    assert result.rc == 0, result.stderr
    text = wait_for(host, "/var/tmp/smtp-sink/*.eml", tok)
    assert "marc@my-site.com" in _header(text, "From") and "bigboy" not in _header(text, "From")
    # the MTA logs the envelope sender as the MSP's SMTP connection (from 127.0.0.1) gave it
    received = []
    deadline = time.time() + 60
    while not received and time.time() < deadline:
        log = host.run("journalctl --no-pager -q -o cat 2>/dev/null; cat /var/log/mail.log 2>/dev/null").stdout
        received = [line for line in log.splitlines() if f"msgid=<{tok}@" in line and "[127.0.0.1]" in line]
        time.sleep(0 if received else 2)
    assert received, "no MTA log line for " + tok
    assert all("from=<marc@my-site.com>" in line for line in received), received


def test_msp_configuration_is_the_roles(host):
    mc = host.file("/etc/mail/submit.mc")
    assert "MASQUERADE_AS(`my-site.com')dnl" in mc.content_string
    assert "FEATURE(`msp', `[127.0.0.1]')dnl" in mc.content_string
    cf = host.file("/etc/mail/submit.cf")
    assert cf.mode == 0o644 and cf.group == "smmsp"
    assert "DMmy-site.com" in cf.content_string.splitlines()
    assert cf.mtime >= mc.mtime


# --- bad input leaves the running server alone (side_effect.yml) ------------------------

@pytest.mark.parametrize("case, words", [
    ("invalid_access_action", ["ACCEPT", "use OK", "not ACCEPT", "sendmail_access"]),
    ("malformed_dnsbl", ["sendmail_dnsbl[0]", "zone"]),
    ("broken_raw_m4_line", ["sendmail_mc_raw_end[0]", "no_such_feature_here", "unchanged"]),
    ("bad_queue_settings", ["sendmail_delivery_mode", "one of background, interactive, queue, deferred",
                            "sendmail_queue_interval", "'every 5 minutes'", "'batch'"]),
    ("bad_include_files", ["sendmail_include_files key: '/srv/lists/nobody-reads'", "an :include: alias member",
                           "sendmail_include_files['/home/mailings/admin-list'][1]: '|/bin/sh -c id'"]),
])
def test_bad_input_fails_clearly_and_keeps_the_running_config(host, case, words):
    result = json.loads(host.file(f"/var/tmp/sendmail-bad-input/{case}.json").content_string)
    assert result["failed"], result
    for word in words:
        assert word in result["msg"], result["msg"]
    assert result["before"] == result["after"], "sendmail.cf checksum or daemon pid changed"
    pid = host.file("/run/sendmail/mta/sendmail.pid").content_string.split()[0]
    assert result["after"][1] == pid


def test_bad_include_files_write_nothing(host):
    """The bad_include_files case failed before any change: no directory for the list no alias reads, and
    admin-list's file keeps the inventory's members."""
    assert not host.file("/srv/lists").exists
    assert "|/bin/sh" not in host.file("/home/mailings/admin-list").content_string


# --- submission port: SMTP AUTH over TLS before relaying ----------------------------------

AUTH_CLIENT = r'''
import json, smtplib, ssl, sys
args = json.loads(sys.argv[1])
out = {}
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if args.get("implicit"):  # port 465: TLS from the first byte
    s = smtplib.SMTP_SSL("127.0.0.1", 465, timeout=60, context=ctx, source_address=("127.0.0.5", 0),
                         local_hostname="client.my-site.com")
    s.ehlo()
else:
    s = smtplib.SMTP("127.0.0.1", 587, timeout=60, source_address=("127.0.0.5", 0), local_hostname="client.my-site.com")
    s.ehlo()
    out["auth_before_tls"] = s.has_extn("auth")
    s.starttls(context=ctx)
    s.ehlo()
out["tls"] = s.sock.version()
out["auth_after_tls"] = s.has_extn("auth")
if args.get("password") is not None:
    try:
        code, _msg = s.login(args["user"], args["password"])
    except smtplib.SMTPAuthenticationError as exc:
        code = exc.smtp_code
    out["auth"] = code
if out.get("auth", 0) == 235 or args.get("password") is None:
    code, msg = s.mail(args["from"])
    out["mail"] = [code, msg.decode()]
    if code == 250:
        code, msg = s.rcpt(args["to"])
        out["rcpt"] = [code, msg.decode()]
    s.rset()
s.quit()
print(json.dumps(out))
'''


def submission(host, user, password, sender="paul@my-site.com", rcpt="friend@remote.example", implicit=False):
    args = json.dumps({"user": user, "password": password, "from": sender, "to": rcpt, "implicit": implicit})
    result = host.run(f"python3 - {quote(args)} <<'PYEOF'\n{AUTH_CLIENT}\nPYEOF")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def paul_password(host):
    """A password for the mail user paul (the example inventory sets none)."""
    password = "Chapter21-" + uuid.uuid4().hex[:10]
    host.run(f"echo {quote('paul:' + password)} | chpasswd")
    return password


def test_submission_relays_only_after_auth_over_tls(host, paul_password):
    # From an untrusted address: no AUTH offered in clear, and the submission
    # port takes no mail at all without it (M=a: 530 authentication required) ...
    anonymous = submission(host, "paul", None)
    assert anonymous["auth_before_tls"] is False, anonymous
    assert anonymous["auth_after_tls"] is True, anonymous
    assert anonymous["mail"][0] == 530, anonymous
    assert "rcpt" not in anonymous
    # ... a wrong password is refused ...
    wrong = submission(host, "paul", paul_password + "x")
    assert wrong["auth"] == 535, wrong
    assert "rcpt" not in wrong
    # ... and with paul's password the same relay is allowed.
    good = submission(host, "paul", paul_password)
    assert good["auth"] == 235, good
    assert good["mail"][0] == 250, good
    assert good["rcpt"][0] == 250, good


# --- TLS policy and where AUTH is offered ---------------------------------------------------

TLS_PORTS = [25, 587, 465]


def test_tls_1_2_or_newer_on_every_port_and_auth_on_submission_only(host):
    """The probe (tests/harness/tls_probe.py) first proves its client can speak TLS 1.0 and 1.1."""
    tls_policy.assert_auth_on_submission_only(tls_policy.assert_tls_1_2_or_newer(host, TLS_PORTS))


def test_certificates_verify_against_the_servers_own_certificate_only(host):
    cf = host.file("/etc/mail/sendmail.cf").content_string
    assert "O CACertFile=/etc/mail/tls/smtpd.crt" in cf.splitlines()
    assert "O CACertPath=/etc/mail/tls/cacerts" in cf.splitlines()
    assert host.file("/etc/mail/tls/cacerts").is_directory
    assert host.file("/etc/mail/tls/cacerts").listdir() == []
    assert re.search(r"^O ServerSSLOptions=.*\+SSL_OP_NO_TLSv1_1", cf, re.M)


def test_smrsh_is_the_program_mailer(host):
    cf = host.file("/etc/mail/sendmail.cf").content_string
    prog = [line for line in cf.splitlines() if line.startswith("Mprog")]
    assert prog and "P=/usr/lib/sm.bin/smrsh" in prog[0], prog
    assert host.file("/etc/mail/smrsh").is_directory


# --- port 465 (implicit TLS) and the message size limit ------------------------------------

def test_port_465_speaks_tls_at_once_and_relays_only_after_auth(host, paul_password):
    anonymous = submission(host, "paul", None, implicit=True)
    assert anonymous["tls"] in ("TLSv1.2", "TLSv1.3") and anonymous["auth_after_tls"] is True, anonymous
    assert anonymous["mail"][0] == 530, anonymous  # M=a: authentication required
    assert submission(host, "paul", paul_password + "x", implicit=True)["auth"] == 535
    good = submission(host, "paul", paul_password, implicit=True)
    assert good["auth"] == 235 and good["mail"][0] == 250 and good["rcpt"][0] == 250, good


SIZE_CLIENT = r'''
import json, smtplib, sys
args = json.loads(sys.argv[1])
out = {}
s = smtplib.SMTP("127.0.0.1", 25, timeout=120, source_address=("127.0.0.2", 0), local_hostname="client.my-site.com")
s.ehlo()
out["size"] = s.esmtp_features.get("size")
# declared: refused at MAIL FROM
code, msg = s.docmd("MAIL FROM:<marc@my-site.com> SIZE=%d" % (int(out["size"]) + 1))
out["declared"] = [code, msg.decode()]
s.rset()
# undeclared: refused after the data, nothing kept
s.mail("marc@my-site.com")
s.rcpt("paul@my-site.com")
body = "Subject: big %s\r\nMessage-ID: <%s@test>\r\n\r\n" % (args["token"], args["token"])
# sendmail counts the stored message, with LF line ends: 999 bytes a line
body += ("x" * 998 + "\r\n") * (int(out["size"]) // 998 + 100)
try:
    code, msg = s.data(body)
except smtplib.SMTPDataError as exc:
    code, msg = exc.smtp_code, exc.smtp_error
out["data"] = [code, msg.decode() if isinstance(msg, bytes) else msg]
s.quit()
print(json.dumps(out))
'''


def test_an_over_size_message_is_refused_with_552_and_nothing_queued(host):
    token = "size-" + uuid.uuid4().hex[:10]
    args = json.dumps({"token": token})
    result = host.run(f"python3 - {quote(args)} <<'PYEOF'\n{SIZE_CLIENT}\nPYEOF")
    assert result.rc == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["size"] == "26214400", out  # the example inventory's sendmail_max_message_size, in EHLO
    assert out["declared"][0] == 552, out
    assert out["data"][0] == 552, out
    queued = host.run("grep -rl %s /var/spool/mqueue /var/mail /home/*/Maildir 2>/dev/null", token)
    assert queued.stdout.strip() == "", queued.stdout

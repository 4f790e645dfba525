"""The chapter's three spam defences, proved with real SMTP over 127.0.0.0/8 inside the container.

bigboy.my-site.com listens on 127.0.0.1:25. Clients bind to loopback addresses:
127.0.0.2 is listed in the lab blocklist bl.lab.example (RFC 5782 test entry, served by
dnsmasq on 127.0.0.2), 127.0.0.5 is not whitelisted for greylisting, 127.0.0.6 is.
Each exchange is one Python script run inside the container that prints JSON.
"""

import json
import re
import time
import uuid

import pytest

SMTP_CLIENT = r'''
import json, smtplib, sys, time
args = json.loads(sys.argv[1])
results = []
for step in args["steps"]:
    if step.get("sleep"):
        time.sleep(step["sleep"])
        continue
    out = {"rcpt": [], "data": None}
    s = smtplib.SMTP(timeout=120, source_address=(step["src"], 0), local_hostname=step.get("helo", "client.lab.example"))
    s.connect("127.0.0.1", 25)
    s.ehlo(step.get("helo", "client.lab.example"))
    code, msg = s.mail(step["from"])
    out["mail"] = [code, msg.decode()]
    ok = False
    for rcpt in step["to"]:
        code, msg = s.docmd("RCPT TO:", "<%s>" % rcpt)
        out["rcpt"].append([code, msg.decode()])
        ok = ok or code in (250, 251)
    if ok and step.get("body"):
        code, msg = s.data(step["body"])
        out["data"] = [code, msg.decode()]
    s.quit()
    results.append(out)
print(json.dumps(results))
'''

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def smtp(host, steps):
    """Run SMTP exchanges (and sleeps) inside the container; one result per exchange."""
    cmd = f"python3 - {quote(json.dumps({'steps': steps}))} <<'PYEOF'\n{SMTP_CLIENT}\nPYEOF"
    result = host.run(cmd)
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def message(tok, subject=None, body=None):
    return "From: sender@lab.example\r\nTo: marc@my-site.com\r\nSubject: %s\r\n\r\n%s\r\n" % (
        subject or "test " + tok, body or "an ordinary message, token " + tok)


def token():
    return "tok-" + uuid.uuid4().hex[:12]


def mail_of(host, tok, timeout=90):
    """The message in marc's mbox that carries tok (headers and body), waiting for delivery."""
    script = (
        "import mailbox, sys\n"
        "for m in mailbox.mbox('/var/mail/marc'):\n"
        "    if sys.argv[1] in m.as_string():\n"
        "        print(m.as_string()); break\n"
    )
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = host.run(f"python3 -c {quote(script)} {quote(tok)}")
        if found.stdout.strip():
            return found.stdout
        host.run("/usr/sbin/sendmail -q >/dev/null 2>&1 || true")
        time.sleep(2)
    pytest.fail("{} never arrived in /var/mail/marc; mail log:\n{}".format(tok, host.run(
        "tail -n 40 /var/log/mail.log 2>/dev/null || journalctl -n 40 --no-pager").stdout))
    return None


def header_block(text):
    return text.split("\n\n", 1)[0]


# --- services and wiring -----------------------------------------------------------------

def test_services_running_and_enabled(host):
    for name in ("spamd", "milter-greylist", "sendmail", "spamass-milter"):
        service = host.service(name)
        assert service.is_running, name
        assert service.is_enabled, name


def test_socket_directory_owned_by_the_milter_user(host):
    directory = host.file("/run/milter-greylist")
    assert directory.user == "greylist"
    assert host.file("/run/milter-greylist/milter-greylist.sock").is_socket


def test_sendmail_cf_has_the_milter_and_the_chapters_macros(host):
    """The chapter's macros come first (greylisting is the first milter); spamass-milter's follow."""
    cf = host.file("/etc/mail/sendmail.cf").content_string
    assert "Xgreylist, S=local:/run/milter-greylist/milter-greylist.sock, F=T, T=C:10s;S:10s;R:10s;E:5m" in cf
    options = dict(line[2:].split("=", 1) for line in cf.splitlines() if line.startswith("O Milter.macros."))
    assert options["Milter.macros.connect"].startswith("j, {if_addr}")
    assert options["Milter.macros.helo"].startswith("{verify}, {cert_subject}")
    assert options["Milter.macros.envfrom"].startswith("i, {auth_authen}")
    assert options["Milter.macros.envrcpt"].startswith("{greylist}")


def test_sendmail_cf_has_the_spam_milter_last(host):
    cf = host.file("/etc/mail/sendmail.cf").content_string
    assert "Xspamassassin, S=local:/run/spamass/spamass.sock, F=T, T=C:10s;S:4m;R:4m;E:10m" in cf
    assert re.search(r"^O InputMailFilters=greylist, ?spamassassin$", cf, re.M), "spamassassin is not the last milter"
    options = dict(line[2:].split("=", 1) for line in cf.splitlines() if line.startswith("O Milter.macros."))
    # spamass-milter's -I reads {auth_authen} (and -a {auth_type}) at MAIL FROM; its Received line b, r, v, Z
    assert {"{auth_authen}", "{auth_type}"} <= set(options["Milter.macros.envfrom"].split(", "))
    assert {"b", "r", "v", "Z", "i"} <= set(options["Milter.macros.envrcpt"].split(", "))


def test_spamass_milter_options_and_socket(host):
    default = host.file("/etc/default/spamass-milter").content_string
    assert 'OPTIONS="-u spamass-milter -i 127.0.0.1/32,::1/128 -I -r 15 -- -s 512000"' in default
    assert 'SOCKET="/run/spamass/spamass.sock"' in default
    sock = host.file("/run/spamass/spamass.sock")
    assert sock.is_socket and sock.user == "root" and sock.mode == 0o600
    # the running milter got them (its command line, from its pid file)
    args = host.run("tr '\\0' ' ' < /proc/$(cat /run/spamass/spamass.pid)/cmdline").stdout
    assert args.startswith("/usr/sbin/spamass-milter "), args
    assert "-i 127.0.0.1/32,::1/128 -I -r 15 -- -s 512000" in args, args


def test_procmail_pipes_through_spamc_without_x(host):
    rc = host.file("/etc/procmailrc").content_string
    assert "| /usr/bin/spamc -s 512000" in rc
    assert "spamc -x" not in rc
    # the milter is on: what it scanned (X-Spam-Checker-Version set by it) is not scanned again
    assert "* < 512000\n* !^X-Spam-Checker-Version:\n| /usr/bin/spamc -s 512000" in rc


def test_milter_greylist_from_the_release_or_bullseye_pinned(host):
    """Debian 12: milter-greylist from bullseye at priority 500, every other bullseye package at -1."""
    source = host.file("/etc/apt/sources.list.d/homelab-milter-greylist-bullseye.list")
    if host.system_info.codename != "bookworm":
        assert not source.exists
        assert host.package("milter-greylist").version.startswith("4.6.4")
        return
    assert source.exists and " bullseye main" in source.content_string
    assert host.package("milter-greylist").version.startswith("4.6.2")
    policy = host.run("apt-cache policy milter-greylist bash").stdout
    grey, bash = policy.split("\nbash:", 1)
    # apt-cache policy: a version line "[***] VERSION PIN-PRIORITY", then its sources
    assert re.search(r"^ \*\*\* 4\.6\.2\S* 500\n\s+-?\d+ \S+ bullseye/main", grey, re.M), grey
    assert re.search(r"^\s+\S+ -1\n\s+-?\d+ \S+ bullseye/main", bash, re.M), bash
    assert re.search(r"^ \*\*\* \S+ \d+\n\s+\d+ \S+ bookworm/main", bash, re.M), bash


def test_greylist_conf_is_rendered_and_stock_whitelist_gone(host):
    conf = host.file("/etc/milter-greylist/greylist.conf").content_string.splitlines()
    assert "greylist 5s" in conf
    assert "autowhite 25h" in conf
    assert "acl whitelist addr 127.0.0.6/32" in conf
    assert conf[-1] == "acl greylist default"
    assert not any("127.0.0.1/8" in line for line in conf)


def test_local_cf_lints_and_plugins_follow_the_variables(host):
    local_cf = host.file("/etc/spamassassin/local.cf").content_string.splitlines()
    assert "required_score 5.0" in local_cf
    assert "rewrite_header Subject *****SPAM*****" in local_cf
    assert "bayes_path /var/lib/spamassassin/bayes/bayes" in local_cf
    assert "skip_rbl_checks 1" in local_cf
    # with the blocklist tests off, no list is asked through another plugin either (fresh.fmb.la by AskDNS)
    assert "skip_uribl_checks 1" in local_cf
    assert "dns_query_restriction deny fmb.la dkimwl.org surbl.org" in local_cf
    loaded = host.run("grep -h '^loadplugin' /etc/spamassassin/*.pre").stdout
    for plugin in ("Razor2", "Pyzor", "DCC", "TextCat"):
        assert "Plugin::%s\n" % plugin not in loaded + "\n", plugin
    lint = host.run("runuser -u debian-spamd -- env HOME=/var/lib/spamassassin spamassassin --lint -x")
    assert lint.rc == 0, lint.stderr
    assert host.file("/var/lib/spamassassin/bayes").user == "debian-spamd"


def test_rule_updates_scheduled_and_rules_present(host):
    assert host.service("spamassassin-maintenance.timer").is_enabled
    rules = host.run("spamassassin -D --lint 2>&1 | grep -c 'no rules were found'")
    assert rules.stdout.strip() == "0"


def test_smrsh_program_linked_and_used(host):
    link = host.file("/etc/mail/smrsh/formail")
    assert link.is_symlink and link.linked_to == "/usr/bin/formail"
    cf = host.file("/etc/mail/sendmail.cf").content_string
    assert any(line.startswith("Mprog") and "P=/usr/lib/sm.bin/smrsh" in line for line in cf.splitlines())


# --- DNSBL ----------------------------------------------------------------------------------

def test_dnsbl_refuses_the_listed_client_and_accepts_an_unlisted_one(host):
    listed, unlisted = smtp(host, [
        {"src": "127.0.0.2", "from": "sender@lab.example", "to": ["marc@my-site.com"]},
        {"src": "127.0.0.6", "from": "sender@lab.example", "to": ["marc@my-site.com"]},
    ])
    code, text = listed["rcpt"][0]
    assert code == 550, listed
    assert "Mail from 127.0.0.2 refused by the lab blocklist bl.lab.example" in text
    assert unlisted["rcpt"][0][0] == 250, unlisted


# --- greylisting ----------------------------------------------------------------------------

def test_greylisting_then_accepted_and_autowhitelisted(host):
    tok, tok2, tok3 = token(), token(), token()
    sender = "grey-%s@lab.example" % tok
    # a sleep step gives no result: four exchanges
    first, retry, again, white = smtp(host, [
        {"src": "127.0.0.5", "from": sender, "to": ["marc@my-site.com"], "body": message(tok)},
        {"sleep": 7},
        {"src": "127.0.0.5", "from": sender, "to": ["marc@my-site.com"], "body": message(tok)},
        {"src": "127.0.0.5", "from": sender, "to": ["marc@my-site.com"], "body": message(tok2)},
        {"src": "127.0.0.6", "from": "white-%s@lab.example" % tok, "to": ["marc@my-site.com"], "body": message(tok3)},
    ])
    code, text = first["rcpt"][0]
    assert code == 451 and "4.7.1" in text and "Greylisting" in text, first
    assert first["data"] is None
    assert retry["rcpt"][0][0] == 250 and retry["data"][0] == 250, retry
    assert again["rcpt"][0][0] == 250 and again["data"][0] == 250, again
    assert white["rcpt"][0][0] == 250 and white["data"][0] == 250, white
    for each in (tok, tok2, tok3):
        assert "X-Spam-Status: No" in header_block(mail_of(host, each))


# --- SpamAssassin ---------------------------------------------------------------------------

def test_gtube_tagged_and_normal_mail_untagged(host):
    """Tagging at delivery (procmail's spamc): GTUBE from the server's own address, which spamass-milter
    does not scan (spamassassin_milter_ignore_networks); from outside it is refused (below)."""
    spam_tok, ham_tok = token(), token()
    spam, ham = smtp(host, [
        {"src": "127.0.0.1", "from": "sender@lab.example", "to": ["marc@my-site.com"],
         "body": message(spam_tok, subject="gtube " + spam_tok, body=GTUBE + "\r\n" + spam_tok)},
        {"src": "127.0.0.6", "from": "sender@lab.example", "to": ["marc@my-site.com"], "body": message(ham_tok)},
    ])
    assert spam["data"][0] == 250 and ham["data"][0] == 250
    spam_headers = header_block(mail_of(host, spam_tok))
    assert "X-Spam-Flag: YES" in spam_headers
    assert "Subject: *****SPAM***** gtube " + spam_tok in spam_headers
    ham_headers = header_block(mail_of(host, ham_tok))
    assert "X-Spam-Status: No" in ham_headers
    assert "X-Spam-Flag" not in ham_headers


def test_mail_delivered_while_spamd_is_down(host):
    tok = token()
    assert host.run("systemctl stop spamd").rc == 0
    try:
        assert not host.service("spamd").is_running
        result = smtp(host, [
            {"src": "127.0.0.6", "from": "sender@lab.example", "to": ["marc@my-site.com"], "body": message(tok)},
        ])[0]
        assert result["data"][0] == 250, result
        delivered = header_block(mail_of(host, tok))
        assert "X-Spam-Status" not in delivered
    finally:
        assert host.run("systemctl start spamd").rc == 0


# --- SpamAssassin at SMTP time (spamass-milter) ----------------------------------------------

def message_with_id(tok, subject, body):
    """A message with a Message-ID of its own, which spamd's log names for each scan."""
    return "Message-ID: <%s@lab.example>\r\n%s" % (tok, message(tok, subject=subject, body=body))


def scans_of(host, tok):
    """How many times spamd scanned the message with Message-ID <tok@lab.example> (its "processing message" lines)."""
    needle = "processing message <%s@lab.example>" % tok
    counts = [host.run(cmd + " 2>/dev/null").stdout.count(needle)
              for cmd in ("journalctl --no-pager -o cat -t spamd", "cat /var/log/mail.log")]
    return max(counts)


def queued(host, tok):
    """Queue files of sendmail (MTA and MSP) that carry tok, and whether mailq lists anything of it."""
    files = host.run("grep -rl -- %s /var/spool/mqueue /var/spool/mqueue-client 2>/dev/null" % quote(tok)).stdout.split()
    return files, tok in host.run("mailq 2>/dev/null").stdout


def test_gtube_from_outside_refused_at_end_of_data_and_never_held(host):
    spam_tok, after_tok = token(), token()
    spam, after = smtp(host, [
        {"src": "127.0.0.6", "from": "sender@lab.example", "to": ["marc@my-site.com"],
         "body": message_with_id(spam_tok, "gtube " + spam_tok, GTUBE + "\r\n" + spam_tok)},
        {"src": "127.0.0.6", "from": "sender@lab.example", "to": ["marc@my-site.com"],
         "body": message_with_id(after_tok, "after " + after_tok, "an ordinary message, token " + after_tok)},
    ])
    assert spam["rcpt"][0][0] == 250, spam
    code, text = spam["data"]
    assert code == 550 and "5.7.1" in text and "Blocked by SpamAssassin" in text, spam
    assert after["data"][0] == 250, after
    # the message sent after it is delivered: the refused one is neither queued nor delivered
    mail_of(host, after_tok)
    assert queued(host, spam_tok) == ([], False)
    assert spam_tok not in host.file("/var/mail/marc").content_string
    assert scans_of(host, spam_tok) == 1


def test_spam_under_the_reject_score_accepted_and_tagged_once(host):
    tok = token()
    result = smtp(host, [
        {"src": "127.0.0.6", "from": "sender@lab.example", "to": ["marc@my-site.com"],
         "body": message_with_id(tok, "mild " + tok, "homelab-lab-mildly-spammy, token " + tok)},
    ])[0]
    assert result["data"][0] == 250, result
    delivered = mail_of(host, tok)
    headers = header_block(delivered)
    assert "X-Spam-Flag: YES" in headers, headers
    status = re.search(r"^X-Spam-Status: Yes, score=([0-9.]+) required=5\.0", headers, re.M)
    assert status and 5.0 <= float(status.group(1)) < 15.0, headers
    assert "HOMELAB_LAB_MILD" in delivered
    assert headers.count("\nSubject: *****SPAM***** mild " + tok) == 1, headers
    # tagged by the milter, not scanned again at delivery: one scan, one set of headers
    assert len(re.findall(r"^X-Spam-Checker-Version:", headers, re.M)) == 1, headers
    assert scans_of(host, tok) == 1


@pytest.fixture
def marc_password(host):
    """A password for marc (the example inventory sets none), for SMTP AUTH on 587."""
    password = "Spam21-" + uuid.uuid4().hex[:10]
    host.run(f"echo {quote('marc:' + password)} | chpasswd")
    return password


AUTH_SUBMIT = r'''
import json, smtplib, ssl, sys
args = json.loads(sys.argv[1])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", 587, timeout=120, source_address=("127.0.0.6", 0), local_hostname="client.my-site.com")
s.ehlo()
s.starttls(context=ctx)
s.ehlo()
out = {"auth": s.login(args["user"], args["password"])[0]}
out["mail"] = s.mail(args["from"])[0]
out["rcpt"] = s.rcpt(args["to"])[0]
code, msg = s.data(args["body"])
out["data"] = [code, msg.decode()]
s.quit()
print(json.dumps(out))
'''


def test_authenticated_submission_not_scanned_by_the_milter(host, marc_password):
    """GTUBE after SMTP AUTH on 587 from the same outside address: accepted (-I: not scanned at SMTP time),
    then scanned once at delivery by procmail's spamc, which tags it."""
    tok = token()
    args = json.dumps({"user": "marc", "password": marc_password, "from": "marc@my-site.com", "to": "marc@my-site.com",
                       "body": message_with_id(tok, "submitted " + tok, GTUBE + "\r\n" + tok)})
    result = host.run(f"python3 - {quote(args)} <<'PYEOF'\n{AUTH_SUBMIT}\nPYEOF")
    assert result.rc == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["auth"] == 235 and out["data"][0] == 250, out
    headers = header_block(mail_of(host, tok))
    assert "X-Spam-Flag: YES" in headers
    assert len(re.findall(r"^X-Spam-Checker-Version:", headers, re.M)) == 1, headers
    assert scans_of(host, tok) == 1


# --- bad input and the chapter's local.cf (side_effect.yml) ---------------------------------

def case(host, name):
    data = host.file(f"/var/tmp/spam-cases/{name}.json")
    assert data.exists, f"side_effect.yml did not record {name}"
    return json.loads(data.content_string)


def test_chapters_local_cf_lints_clean(host):
    result = case(host, "chapter_local_cf")
    assert result["failed"] is False, result["msg"]
    assert result["lint"]["rc"] == 0, result["lint"]
    assert result["before"] == result["after"]


@pytest.mark.parametrize("name, words", [
    ("invalid_sa_option", ["spamassassin rejected", "--lint", "local.cf line", "'no_such_option 1'", "unchanged"]),
    ("invalid_greylist_line", ["milter-greylist rejected", "-c -f", "greylist.conf line", "'acl whitelist nosuchclause 1'", "unchanged"]),
    ("invalid_greylist_delay", ["milter_greylist_delay", "a duration", "'five minutes'"]),
])
def test_bad_input_fails_and_leaves_the_service_as_it_was(host, name, words):
    result = case(host, name)
    assert result["failed"] is True
    for word in words:
        assert word in result["msg"], result["msg"]
    assert result["before"] == result["after"]
    assert result["after"][1] not in ("", "0")

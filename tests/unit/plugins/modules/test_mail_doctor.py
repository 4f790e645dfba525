"""mail_doctor: each check against tmp_path files, a fake SMTP server on 127.0.0.1 and fake commands."""

import datetime
import json
import os
import shutil
import socketserver
import subprocess
import threading

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.homelab.mailserver.plugins.filter.mail_dns import mail_dns_records
from ansible_collections.homelab.mailserver.plugins.modules import mail_doctor as doctor

FQDN = "bigboy.my-site.com"
CHAPTER_LINE = "127.0.0.1 bigboy.my-site.com localhost.localdomain localhost bigboy"
FEDORA_LINE = "127.0.0.1     bigboy    localhost.localdomain    localhost"
BARE_DOMAIN_LINE = "127.0.0.1   my-site.com  localhost.localdomain   localhost  # (Wrong!!!)"
PROCMAIL_CF = "Mlocal,\t\tP=/usr/bin/procmail, F=SAw5:|/@qSPfhn9, S=EnvFromL/HdrFromL, R=EnvToL/HdrToL,\n"


def write(path, text="", age=0):
    """Write TEXT to PATH with an mtime AGE seconds in the past."""
    path.write_text(text)
    when = 1_700_000_000 - age
    os.utime(path, (when, when))
    return str(path)


def fake_run(replies):
    """A `run` that answers from REPLIES (argv tuple or its last word -> (rc, out, err)) and records calls."""
    calls = []

    def run(argv, data=None):
        calls.append((list(argv), data))
        for key in (tuple(argv), argv[-1]):
            if key in replies:
                return replies[key]
        return 1, "", "unknown command %s" % argv

    run.calls = calls
    return run


def real_run(argv, data=None):
    done = subprocess.run(argv, input=data, capture_output=True, text=True, check=False, timeout=60)
    return done.returncode, done.stdout, done.stderr


# ---------------------------------------------------------------- /etc/hosts
@pytest.mark.parametrize(
    ("lines", "ok", "words"),
    [
        ([CHAPTER_LINE], True, CHAPTER_LINE),
        (["# 127.0.0.1 old.example.com", "::1 localhost", CHAPTER_LINE, "127.0.0.1 other"], True, CHAPTER_LINE),
        (["127.0.0.1\tBigBoy.My-Site.com. localhost"], True, "BigBoy"),
        ([FEDORA_LINE], False, "local host name (bigboy) is not qualified"),
        ([BARE_DOMAIN_LINE], False, "relays for all of .com"),
        (["127.0.0.1 localhost", "127.0.1.1 bigboy.my-site.com bigboy"], False, "must come first, before localhost"),
        (["127.0.0.1 bigboy.my-site.com bigboy"], False, "localhost is missing"),
        (["127.0.0.1 mail.other.org localhost"], False, "'mail.other.org' comes first"),
        (["::1 localhost"], False, "no 127.0.0.1 line"),
    ],
)
def test_hosts_fqdn_first(tmp_path, lines, ok, words):
    hosts = write(tmp_path / "hosts", "\n".join(lines) + "\n")
    check = doctor.check_hosts_fqdn_first(FQDN, hosts)
    assert check["name"] == "hosts_fqdn_first"
    assert check["ok"] is ok
    assert words in check["detail"]


def test_hosts_unqualified_fqdn_and_missing_file(tmp_path):
    hosts = write(tmp_path / "hosts", FEDORA_LINE + "\n")
    assert doctor.check_hosts_fqdn_first("bigboy", hosts)["ok"] is False
    assert "cannot be read" in doctor.check_hosts_fqdn_first(FQDN, str(tmp_path / "none"))["detail"]


# ---------------------------------------------------------------- sendmail -bt
BT_GOOD = """Version 8.18.1
============ SYSTEM IDENTITY (after readcf) ============
      (short domain name) $w = bigboy
  (canonical domain name) $j = bigboy.my-site.com
         (subdomain name) $m = my-site.com
              (node name) $k = bigboy
========================================================
ADDRESS TEST MODE (ruleset 3 NOT automatically invoked)
> """


@pytest.mark.parametrize(
    ("out", "err", "ok", "words"),
    [
        (BT_GOOD, "", True, "$j = bigboy.my-site.com"),
        (BT_GOOD.replace("$j = bigboy.my-site.com", "$j = bigboy"), "", False, "$j = bigboy, expected"),
        ("", "WARNING: local host name (bigboy) is not qualified; fix $j in config file\n", False,
         "local host name (bigboy) is not qualified"),
        ("", "sendmail: cannot open /etc/mail/sendmail.cf\n", False, "shows no $j"),
    ],
)
def test_fqdn_qualified(out, err, ok, words):
    run = fake_run({"-bt": (0, out, err)})
    check = doctor.check_fqdn_qualified(FQDN, run, "/usr/sbin/sendmail")
    assert (check["ok"], words in check["detail"]) == (ok, True)
    assert run.calls[0][0] == ["/usr/sbin/sendmail", "-d0.1", "-bt"]


def test_fqdn_qualified_without_sendmail():
    assert doctor.check_fqdn_qualified(FQDN, fake_run({}), None)["ok"] is None


# ---------------------------------------------------------------- SMTP
class SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP: the server's `state` says the banner and the RCPT answer; commands are recorded."""

    def handle(self):
        state = self.server.state
        state["peers"].append(self.client_address[0])
        self.wfile.write(state["banner"].encode() + b"\r\n")
        while True:
            line = self.rfile.readline().decode().strip()
            if not line:
                return
            state["commands"].append(line)
            verb = line.split(" ", 1)[0].split(":", 1)[0].upper()
            reply = {
                "EHLO": "250-mail.my-site.com Hello\r\n250 HELP",
                "MAIL": state["mail"],
                "RCPT": state["rcpt"],
                "RSET": "250 2.0.0 Reset state",
                "DATA": "354 Enter mail",
                "QUIT": "221 2.0.0 closing connection",
            }.get(verb, "500 5.5.1 Command unrecognized")
            self.wfile.write(reply.encode() + b"\r\n")
            if verb == "QUIT":
                return


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SmtpHandler)
    server.daemon_threads = True
    server.state = {
        "banner": "220 mail.my-site.com ESMTP Sendmail ready",
        "mail": "250 2.1.0 <>... Sender ok",
        "rcpt": "550 5.7.1 <relay-test@relay-probe.invalid>... Relaying denied",
        "commands": [],
        "peers": [],
    }
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.state, server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


def probe(port, source="127.0.0.1"):
    return doctor.check_no_open_relay("127.0.0.1", port, source, "relay-test@relay-probe.invalid", timeout=5)


def test_banner_220(smtp_server):
    _state, port = smtp_server
    check = doctor.check_smtp_banner("127.0.0.1", port, timeout=5)
    assert check == {"name": "smtp_banner", "ok": True, "detail": "220 mail.my-site.com ESMTP Sendmail ready"}


def test_banner_not_220(smtp_server):
    state, port = smtp_server
    state["banner"] = "554 5.3.2 mail.my-site.com closing connection"
    assert doctor.check_smtp_banner("127.0.0.1", port, timeout=5)["ok"] is False


def test_banner_nothing_listening():
    with socketserver.TCPServer(("127.0.0.1", 0), SmtpHandler) as closed:
        port = closed.server_address[1]
    check = doctor.check_smtp_banner("127.0.0.1", port, timeout=5)
    assert check["ok"] is False and "refused" in check["detail"].lower()


def test_relay_denied_is_ok_and_session_never_sends_data(smtp_server):
    state, port = smtp_server
    check = probe(port)
    assert check["ok"] is True
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


def test_relay_probe_binds_the_untrusted_source(smtp_server):
    state, port = smtp_server
    probe(port, source="127.0.0.66")
    assert state["peers"] == ["127.0.0.66"]


# ---------------------------------------------------------------- freshness
def test_sendmail_cf_fresh(tmp_path):
    mc = write(tmp_path / "sendmail.mc", "dnl", age=100)
    cf = write(tmp_path / "sendmail.cf", "V10", age=50)
    assert doctor.check_sendmail_cf_fresh(mc, cf)["ok"] is True
    write(tmp_path / "sendmail.mc", "dnl changed", age=10)
    check = doctor.check_sendmail_cf_fresh(mc, cf)
    assert check["ok"] is False and "older than" in check["detail"]
    assert doctor.check_sendmail_cf_fresh(mc, str(tmp_path / "none.cf"))["ok"] is False
    assert doctor.check_sendmail_cf_fresh(str(tmp_path / "none.mc"), cf)["ok"] is None


def test_maps_fresh_stale_and_missing(tmp_path):
    cf = str(tmp_path / "sendmail.cf")
    access = write(tmp_path / "access", "localhost RELAY\n", age=100)
    write(tmp_path / "access.db", age=50)
    virt = write(tmp_path / "virtusertable", "@my-site.com marc\n", age=100)
    maps = [access, virt, str(tmp_path / "mailertable")]
    check = doctor.check_maps_fresh(maps, cf)
    assert check["ok"] is False
    assert "virtusertable.db missing" in check["detail"] and "access:" not in check["detail"]
    write(tmp_path / "virtusertable.db", age=100)
    assert doctor.check_maps_fresh(maps, cf)["ok"] is True
    write(tmp_path / "access", "localhost RELAY\n127.0.0.1 RELAY\n", age=10)
    check = doctor.check_maps_fresh(maps, cf)
    assert check["ok"] is False and "access.db older than the text" in check["detail"]
    assert doctor.check_maps_fresh([str(tmp_path / "none")], cf)["ok"] is None


def test_maps_fresh_follows_the_cf_map_type(tmp_path):
    access = write(tmp_path / "access", "localhost RELAY\n", age=100)
    write(tmp_path / "access.db", age=50)
    cf = write(tmp_path / "sendmail.cf", "Kaccess cdb -T<TMPF> %s\n" % access)
    check = doctor.check_maps_fresh([access], cf)
    assert check["ok"] is False and "access.cdb missing" in check["detail"]


def test_aliases_fresh(tmp_path):
    cf = str(tmp_path / "sendmail.cf")
    aliases = write(tmp_path / "aliases", "root: marc\n", age=10)
    write(tmp_path / "aliases.db", age=100)
    check = doctor.check_aliases_fresh(aliases, cf)
    assert check["ok"] is False and "newaliases" in check["detail"]
    write(tmp_path / "aliases.db", age=0)
    assert doctor.check_aliases_fresh(aliases, cf)["ok"] is True
    assert doctor.check_aliases_fresh(str(tmp_path / "none"), cf)["ok"] is None


# ---------------------------------------------------------------- Dovecot
DOVECOT_23_MBOX = {("doveconf", "-h", "mail_location"): (0, "mbox:~/mail:INBOX=/var/mail/%u\n", "")}
DOVECOT_23_MAILDIR = {("doveconf", "-h", "mail_location"): (0, "maildir:~/Maildir\n", "")}
DOVECOT_24_MBOX = {
    ("doveconf", "-h", "mail_driver"): (0, "mbox\n", ""),
    ("doveconf", "-h", "mail_path"): (0, "~/mail\n", ""),
    ("doveconf", "-h", "mail_inbox_path"): (0, "/var/mail/%{user}\n", ""),
}
DOVECOT_24_MAILDIR = {
    ("doveconf", "-h", "mail_driver"): (0, "maildir\n", ""),
    ("doveconf", "-h", "mail_path"): (0, "%{home}/Maildir\n", ""),
    ("doveconf", "-h", "mail_inbox_path"): (0, "\n", ""),
}


@pytest.mark.parametrize(
    ("procmailrc", "dovecot", "ok"),
    [
        ("DEFAULT=$HOME/Maildir/\n", DOVECOT_23_MBOX, False),
        ("DEFAULT=$HOME/Maildir/\n", DOVECOT_23_MAILDIR, True),
        ("MAILDIR=$HOME\nDEFAULT=Maildir/\n", DOVECOT_24_MAILDIR, True),
        ("DEFAULT=$HOME/Maildir/\n", DOVECOT_24_MBOX, False),
        (None, DOVECOT_23_MBOX, True),
        (None, DOVECOT_24_MBOX, True),
        (None, DOVECOT_23_MAILDIR, False),
        ("DEFAULT=$HOME/Mail/\n", DOVECOT_23_MAILDIR, False),
        ('DEFAULT="/var/mail/$LOGNAME"\n', DOVECOT_23_MBOX, True),
        (None, {("doveconf", "-h", "mail_location"): (0, "mbox:~/mail\n", "")}, False),
    ],
)
def test_dovecot_mail_location(tmp_path, procmailrc, dovecot, ok):
    cf = write(tmp_path / "sendmail.cf", PROCMAIL_CF)
    rc = write(tmp_path / "procmailrc", procmailrc) if procmailrc else str(tmp_path / "none")
    check = doctor.check_dovecot_mail_location(
        doctor.dovecot_storage(fake_run(dovecot), "doveconf"), doctor.delivery_storage(rc, cf))
    assert check["ok"] is ok, check["detail"]
    assert ("wrong place" in check["detail"]) is (not ok)


def test_dovecot_wrong_mail_location_names_both(tmp_path):
    cf = write(tmp_path / "sendmail.cf", PROCMAIL_CF)
    rc = write(tmp_path / "procmailrc", "DEFAULT=$HOME/Maildir/\n")
    check = doctor.check_dovecot_mail_location(
        doctor.dovecot_storage(fake_run(DOVECOT_23_MBOX), "doveconf"), doctor.delivery_storage(rc, cf))
    assert "mail_location = mbox:~/mail:INBOX=/var/mail/%u" in check["detail"]
    assert "DEFAULT=$HOME/Maildir/" in check["detail"] and "maildir:$HOME/Maildir/" in check["detail"]


def test_dovecot_autodetect_and_lda(tmp_path):
    unset = doctor.dovecot_storage(fake_run({("doveconf", "-h", "mail_location"): (0, "\n", "")}), "doveconf")
    check = doctor.check_dovecot_mail_location(unset, doctor.delivery_storage(str(tmp_path / "none"), "/none"))
    assert check["ok"] is None and "autodetection failed" in check["detail"]
    cf = write(tmp_path / "sendmail.cf", "Mlocal,\t\tP=/usr/lib/dovecot/dovecot-lda, F=DFMPhnu9,\n")
    assert doctor.delivery_storage(str(tmp_path / "none"), cf) is None
    assert doctor.check_dovecot_mail_location(unset, None)["ok"] is True


@pytest.mark.parametrize(
    ("mailer", "driver"),
    [("/usr/lib/sm.bin/sensible-mda", "maildir"), ("/usr/bin/procmail", "maildir"),
     ("/usr/lib/sm.bin/mail.local", "mbox")],
)
def test_local_mailer_decides_whether_procmailrc_counts(tmp_path, mailer, driver):
    """Debian's sensible-mda runs procmail; mail.local writes /var/mail whatever procmailrc says."""
    cf = write(tmp_path / "sendmail.cf", "Mlocal,\t\tP=%s, F=lsDFMAw5:/|@qPn9S,\n" % mailer)
    rc = write(tmp_path / "procmailrc", "DEFAULT=$HOME/Maildir/\n")
    assert doctor.delivery_storage(rc, cf)["driver"] == driver


# ---------------------------------------------------------------- certificates
def test_certificates_discovered_from_dovecot_and_sendmail(tmp_path):
    d24 = fake_run({("doveconf", "-h", "ssl_server_cert_file"): (0, "/etc/dovecot/private/dovecot.pem\n", "")})
    d23 = fake_run({("doveconf", "-h", "ssl_cert"): (0, "</etc/pki/dovecot/certs/dovecot.pem\n", "")})
    assert doctor.dovecot_certificates(d24, "doveconf") == ["/etc/dovecot/private/dovecot.pem"]
    assert doctor.dovecot_certificates(d23, "doveconf") == ["/etc/pki/dovecot/certs/dovecot.pem"]
    cf = write(tmp_path / "sendmail.cf", "O ServerCertFile=/etc/mail/tls/sendmail-server.crt\n")
    assert doctor.sendmail_certificates(cf) == ["/etc/mail/tls/sendmail-server.crt"]


def test_certificate_expiry_mocked_openssl():
    now = datetime.datetime(2029, 12, 1, tzinfo=datetime.UTC)
    run = fake_run({"/c/soon.pem": (0, "notAfter=Jan  1 00:00:00 2030 GMT\n", ""),
                    "/c/late.pem": (0, "notAfter=Dec 31 23:59:59 2031 GMT\n", "")})
    check = doctor.check_certificate_expiry(["/c/late.pem"], run, "openssl", 30, now=now)
    assert check["ok"] is True and "in 760 days" in check["detail"]
    check = doctor.check_certificate_expiry(["/c/late.pem", "/c/soon.pem"], run, "openssl", 30, now=now)
    assert check["ok"] is True and "in 31 days" in check["detail"]
    check = doctor.check_certificate_expiry(["/c/soon.pem"], run, "openssl", 32, now=now)
    assert check["ok"] is False and "fewer than 32 days" in check["detail"]
    assert run.calls[0][0] == ["openssl", "x509", "-enddate", "-noout", "-in", "/c/late.pem"]
    assert doctor.check_certificate_expiry(["/c/x.pem"], run, None)["ok"] is None
    assert doctor.check_certificate_expiry([], run, "openssl")["ok"] is None


@pytest.mark.skipif(not shutil.which("openssl"), reason="no openssl binary here")
def test_certificate_expiry_real_openssl(tmp_path):
    def cert(days):
        path = str(tmp_path / ("cert%d.pem" % days))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=mail.my-site.com",
                        "-keyout", str(tmp_path / "key.pem"), "-out", path, "-days", str(days)],
                       check=True, capture_output=True)
        return path

    openssl = shutil.which("openssl")
    assert doctor.check_certificate_expiry([cert(365)], real_run, openssl, 30)["ok"] is True
    soon = doctor.check_certificate_expiry([cert(10)], real_run, openssl, 30)
    assert soon["ok"] is False and "fewer than 30 days" in soon["detail"]
    missing = doctor.check_certificate_expiry([str(tmp_path / "none.pem")], real_run, openssl, 30)
    assert missing["ok"] is False and "does not exist" in missing["detail"]


# ---------------------------------------------------------------- listening
TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1579 1 0
   1: 00000000:024B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1580 1 0
   2: 0100007F:0019 4200007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 1581 1 0
"""
TCP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue
   0: 00000000000000000000000001000000:03E1 00000000000000000000000000000000:0000 0A 00000000:00000000
   1: 00000000000000000000000000000000:03E3 00000000000000000000000000000000:0000 0A 00000000:00000000
   2: 0000000000000000FFFF00000300007F:006E 00000000000000000000000000000000:0000 0A 00000000:00000000
"""


def test_parse_proc_net_tcp():
    shown = [doctor._show(a, p) for a, p in doctor.parse_proc_net_tcp(TCP) + doctor.parse_proc_net_tcp(TCP6)]
    assert shown == ["127.0.0.1:25", "0.0.0.0:587", "[::1]:993", "[::]:995", "[::ffff:127.0.0.3]:110"]


@pytest.mark.parametrize(
    ("expected", "ok", "missing"),
    [
        (["127.0.0.1:25", "192.168.1.100:587", "[::1]:993", "127.0.0.1:995", "127.0.0.3:110", "*:25"], True, ""),
        (["192.168.1.100:25"], False, "192.168.1.100:25"),
        (["[::1]:25"], False, "[::1]:25"),
        (["[::1]:587"], False, "[::1]:587"),
        (["*:143", "127.0.0.1:25"], False, "*:143"),
        (["smtp"], False, "smtp (not address:port)"),
        ([], None, ""),
    ],
)
def test_listening(tmp_path, expected, ok, missing):
    files = (write(tmp_path / "tcp", TCP), write(tmp_path / "tcp6", TCP6), str(tmp_path / "none"))
    check = doctor.check_listening(expected, files)
    assert check["ok"] is ok
    assert check["detail"].endswith("listening: 127.0.0.1:25 [::ffff:127.0.0.3]:110 0.0.0.0:587 [::1]:993 [::]:995")
    assert ("not listening: %s\n" % missing in check["detail"]) is bool(missing)


# ---------------------------------------------------------------- log
CHAPTER_LOG = [
    "Oct 16 10:20:04 bigboy sendmail[2500]: g9GHK3iQ002500: SYSERR(root): savemail: cannot save rejected email"
    " anywhere",
    "Oct 16 10:20:04 bigboy sendmail[2500]: g9GHK3iQ002500: Losing ./qfg9GHK3iQ002500: savemail panic",
    "Oct 16 10:23:58 bigboy sendmail[2582]: My unqualified host name (bigboy) unknown; sleeping for retry",
]


def test_tail_reads_only_the_end(tmp_path):
    log = tmp_path / "maillog"
    log.write_text("".join("line %d\n" % i for i in range(5000)))
    assert doctor.tail(str(log), 3, block=64) == ["line 4997", "line 4998", "line 4999"]
    assert doctor.tail(str(log), 10000) == ["line %d" % i for i in range(5000)]


def test_mail_log_errors(tmp_path):
    quiet = ["Dec  5 20:49:47 bigboy sendmail[1]: from=<a@b>, size=1, nrcpts=1"] * 3
    assert doctor.check_mail_log(quiet, "maillog")["ok"] is True
    warn = quiet + ["Dec  5 20:49:48 bigboy dovecot: pop3(user1): Error: mail_location not set"]
    check = doctor.check_mail_log(warn, "maillog")
    assert check["ok"] is None and "mail_location not set" in check["detail"]
    for line in CHAPTER_LOG:
        assert doctor.check_mail_log([*quiet, line, quiet[0]], "maillog")["ok"] is False
    many = ["warning %d" % i for i in range(9)] + CHAPTER_LOG
    check = doctor.check_mail_log(many, "maillog")
    assert check["detail"].splitlines()[1:] == ["warning 7", "warning 8"] + CHAPTER_LOG
    assert doctor.check_mail_log([], "the journal")["ok"] is None
    assert doctor.check_mail_log(None, "no log")["ok"] is None


def test_read_mail_log_file_then_journal(tmp_path):
    log = write(tmp_path / "maillog", "a\nb\nc\n")
    run = fake_run({"--no-pager": (0, "x\ny\n", "")})
    assert doctor.read_mail_log(log, 2, run, "journalctl") == (["b", "c"], log)
    lines, source = doctor.read_mail_log(None, 5, run, "journalctl")
    if not any(os.path.exists(p) for p in doctor.MAIL_LOGS):
        assert (lines, source) == (["x", "y"], "the journal (sendmail, dovecot)")
        assert run.calls[0][0] == ["journalctl", "-q", "-n", "5", "-u", "sendmail", "-u", "dovecot", "--no-pager"]


# ---------------------------------------------------------------- module
def test_summary_table():
    table = doctor.summary_table([
        doctor.result("smtp_banner", True, "220 ready"),
        doctor.result("listening", False, "not listening: *:993\nlistening: 0.0.0.0:25"),
        doctor.result("dovecot_mail_location", None, "Dovecot is not installed"),
    ])
    assert table.splitlines() == [
        "CHECK                  RESULT  DETAIL",
        "smtp_banner            ok      220 ready",
        "listening              FAIL    not listening: *:993",
        "                               listening: 0.0.0.0:25",
        "dovecot_mail_location  -       Dovecot is not installed",
    ]


def run_main(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        doctor.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def test_module_reports_without_failing_the_task(tmp_path, capsys, smtp_server):
    _state, port = smtp_server
    mc = write(tmp_path / "sendmail.mc", "dnl", age=10)
    cf = write(tmp_path / "sendmail.cf", "V10", age=100)
    args = {"fqdn": FQDN, "checks": ["smtp_banner", "sendmail_cf_fresh"], "smtp_port": port,
            "sendmail_mc": mc, "sendmail_cf": cf, "_ansible_check_mode": True}
    code, out = run_main(capsys, args)
    assert code == 0 and "failed" not in out and out["changed"] is False
    assert [c["name"] for c in out["checks"]] == ["smtp_banner", "sendmail_cf_fresh"]
    assert out["failed_checks"] == ["sendmail_cf_fresh"]
    assert "sendmail_cf_fresh  FAIL" in out["summary"]
    code, out = run_main(capsys, dict(args, fail_on_problem=True))
    assert code == 1 and out["failed"] is True and out["msg"] == "mail doctor: not OK: sendmail_cf_fresh"


def test_alias_file_taken_from_sendmail_cf(tmp_path):
    cf = tmp_path / "sendmail.cf"
    cf.write_text("O QueueDirectory=/var/spool/mqueue\nO AliasFile=hash:/etc/aliases,/etc/mail/more-aliases\n")
    assert doctor.cf_alias_file(str(cf)) == "/etc/aliases"
    cf.write_text("O AliasFile=/etc/mail/aliases\n")
    assert doctor.cf_alias_file(str(cf)) == "/etc/mail/aliases"
    cf.write_text("O QueueDirectory=/var/spool/mqueue\n")
    assert doctor.cf_alias_file(str(cf)) is None
    assert doctor.cf_alias_file(str(tmp_path / "missing.cf")) is None


# ---------------------------------------------------------------- published DNS records
KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAz" + "k" * 300 + "IDAQAB"
OTHER_KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAz" + "q" * 300 + "IDAQAB"


def expected_records(**args):
    """What mail_dns_records builds for my-site.com on bigboy (192.0.2.25), as playbooks/verify.yml passes it."""
    dkim = {"my-site.com": {"selector": "mail", "value": "v=DKIM1; h=sha256; k=rsa; s=email; p=" + KEY}}
    return mail_dns_records(["my-site.com"], server="bigboy.my-site.com", addresses=["192.0.2.25"], dkim=dkim,
                            **args)


def serve(fake, records):
    """Put RECORDS in the fake name server's zone, as a DNS admin would publish them."""
    fake.zone.clear()
    for record in records:
        name, rtype, value = record["name"].rstrip(".").lower(), record["type"], record["value"]
        if rtype == "MX":
            value = (int(value.split()[0]), value.split()[1])
        elif rtype == "TXT":
            value = record["strings"]
        fake.zone.setdefault((name, rtype), []).append(value)


def published(fake, records, timeout=1.0):
    return doctor.check_dns_published(records, ["127.0.0.1"], timeout, port=fake.port)


def test_dns_published_all_found(fake_dns):
    records = expected_records()
    serve(fake_dns, records)
    check = published(fake_dns, records)
    assert check["name"] == "dns_published"
    assert check["ok"] is True, check["detail"]
    assert check["detail"] == "all 6 records published (1 MX, 1 SPF, 1 DKIM, 1 DMARC, 1 A, 1 PTR), asked 127.0.0.1"


# (zone change, True when it must still be OK, else the words the FAIL line names)
DNS_CASES = {
    "mx other preference": ({("my-site.com", "MX"): [(20, "bigboy.my-site.com")]},
                            "WRONG my-site.com. MX 10 bigboy.my-site.com. -- DNS answered: 20 bigboy.my-site.com"
                            " (preference 20, expected 10)"),
    "mx other exchanger": ({("my-site.com", "MX"): [(10, "mx.example.net")]},
                           "(bigboy.my-site.com is not an exchanger)"),
    "mx and a backup": ({("my-site.com", "MX"): [(10, "bigboy.my-site.com"), (20, "backup.example.net")]}, True),
    "mx missing": ({("my-site.com", "MX"): None},
                   "MISSING my-site.com. MX 10 bigboy.my-site.com. -- DNS answered: no record of this type"),
    "spf softfail": ({("my-site.com", "TXT"): [["v=spf1 mx ip4:192.0.2.25 ~all"]]},
                     '"v=spf1 mx ip4:192.0.2.25 ~all" (ends with ~all, expected -all)'),
    "spf without the address": ({("my-site.com", "TXT"): [["v=spf1 mx -all"]]}, "(lacks ip4:192.0.2.25)"),
    "spf with more": ({("my-site.com", "TXT"): [
        ["v=spf1 +mx ip4:192.0.2.25 ", "include:_spf.example.net -all"], ["site-verification=1234"]]}, True),
    "spf twice": ({("my-site.com", "TXT"): [["v=spf1 mx ip4:192.0.2.25 -all"], ["v=spf1 -all"]]},
                  "(2 SPF records (receivers treat more than one as an error))"),
    "spf absent": ({("my-site.com", "TXT"): [["site-verification=1234"]]},
                   'MISSING my-site.com. TXT "v=spf1 mx ip4:192.0.2.25 -all" -- DNS answered: "site-verification=1234"'
                   " (no SPF record among the TXT records)"),
    "dmarc other policy": ({("_dmarc.my-site.com", "TXT"): [["v=DMARC1; p=reject; rua=mailto:postmaster@my-site.com"]]},
                           'WRONG _dmarc.my-site.com. TXT "v=DMARC1; p=none; rua=mailto:postmaster@my-site.com"'
                           ' -- DNS answered: "v=DMARC1; p=reject; rua=mailto:postmaster@my-site.com"'
                           " (p=reject, expected p=none)"),
    "dmarc spelled otherwise, more reports": (
        {("_dmarc.my-site.com", "TXT"): [["v=DMARC1;p=None;  pct=100; rua=mailto:dmarc@reports.example,",
                                          "mailto:Postmaster@my-site.com"]]}, True),
    "dmarc reports elsewhere": ({("_dmarc.my-site.com", "TXT"): [["v=DMARC1; p=none; rua=mailto:d@reports.example"]]},
                                "(rua lacks mailto:postmaster@my-site.com)"),
    "dmarc absent": ({("_dmarc.my-site.com", "TXT"): None}, "MISSING _dmarc.my-site.com. TXT"),
    "dkim other key": ({("mail._domainkey.my-site.com", "TXT"): [["v=DKIM1; k=rsa; p=" + OTHER_KEY[:200],
                                                                 OTHER_KEY[200:]]]},
                       'WRONG mail._domainkey.my-site.com. TXT "v=DKIM1; h=sha256; k=rsa; s=email;'
                       ' p=MIIBIjANBgkq...kkIDAQAB" -- DNS answered: "v=DKIM1; k=rsa; p=MIIBIjANBgkq...qqIDAQAB"'
                       " (another key)"),
    "dkim same key, other tags and spaces": (
        {("mail._domainkey.my-site.com", "TXT"): [["k=rsa; p=" + KEY[:100] + " ", KEY[100:]]]}, True),
    "dkim revoked": ({("mail._domainkey.my-site.com", "TXT"): [["v=DKIM1; p="]]}, "(the key is revoked (empty p=))"),
    "dkim not served": ({("mail._domainkey.my-site.com", "TXT"): None},
                        "MISSING mail._domainkey.my-site.com. TXT \"v=DKIM1; h=sha256; k=rsa; s=email;"
                        " p=MIIBIjANBgkq...kkIDAQAB\" -- DNS answered: NXDOMAIN (the name does not exist)"),
    "ptr other name": ({("25.2.0.192.in-addr.arpa", "PTR"): ["host-192-0-2-25.isp.example"]},
                       "WRONG 25.2.0.192.in-addr.arpa. PTR bigboy.my-site.com. -- DNS answered:"
                       " host-192-0-2-25.isp.example"),
    "ptr absent": ({("25.2.0.192.in-addr.arpa", "PTR"): None}, "MISSING 25.2.0.192.in-addr.arpa. PTR"),
    "a other address": ({("bigboy.my-site.com", "A"): ["198.51.100.7"]},
                        "WRONG bigboy.my-site.com. A 192.0.2.25 -- DNS answered: 198.51.100.7"),
}


@pytest.mark.parametrize("case", sorted(DNS_CASES))
def test_dns_published_each_record_kind(fake_dns, case):
    change, outcome = DNS_CASES[case]
    records = expected_records()
    serve(fake_dns, records)
    for key, values in change.items():
        if values is None:
            del fake_dns.zone[key]
        else:
            fake_dns.zone[key] = values
    check = published(fake_dns, records)
    if outcome is True:
        assert check["ok"] is True, check["detail"]
        return
    assert check["ok"] is False
    head, *lines = check["detail"].splitlines()
    assert head == "1 of 6 records missing or different (asked 127.0.0.1):"
    assert len(lines) == 1 and outcome in lines[0], lines


def test_dns_published_names_every_problem(fake_dns):
    records = expected_records(dmarc_policy="reject")
    serve(fake_dns, expected_records())
    del fake_dns.zone[("mail._domainkey.my-site.com", "TXT")]
    check = published(fake_dns, records)
    assert check["ok"] is False
    lines = check["detail"].splitlines()
    assert lines[0] == "2 of 6 records missing or different (asked 127.0.0.1):"
    assert lines[1].startswith("MISSING mail._domainkey.my-site.com. TXT")
    assert lines[2].startswith("WRONG _dmarc.my-site.com. TXT") and "(p=none, expected p=reject)" in lines[2]


def test_dns_published_undecided_without_records_or_answers(fake_dns):
    assert published(fake_dns, []) == doctor.result("dns_published", None, "no records to check (dns_records is empty)")
    records = expected_records()
    fake_dns.silent.update({"my-site.com", "_dmarc.my-site.com"})
    check = published(fake_dns, records, timeout=0.2)
    assert check["ok"] is None
    assert check["detail"] == "cannot resolve any of the 6 records: name server 127.0.0.1: timed out"
    # after the first query went unanswered, the others were not asked
    assert fake_dns.queries == [("my-site.com", "MX", "udp")]


def test_dns_published_partly_unresolved(fake_dns):
    records = expected_records()
    serve(fake_dns, records)
    fake_dns.silent.add("_dmarc.my-site.com")
    check = published(fake_dns, records, timeout=0.2)
    assert check["ok"] is None
    assert check["detail"].splitlines() == [
        "1 of 6 records could not be resolved (asked 127.0.0.1); the others are published:",
        'NOT RESOLVED _dmarc.my-site.com. TXT "v=DMARC1; p=none; rua=mailto:postmaster@my-site.com"'
        " -- DNS answered: name server 127.0.0.1: timed out",
    ]
    # a problem elsewhere is still a FAIL
    del fake_dns.zone[("bigboy.my-site.com", "A")]
    check = published(fake_dns, records, timeout=0.2)
    assert check["ok"] is False
    assert [line.split()[0] for line in check["detail"].splitlines()[1:]] == ["MISSING", "NOT"]


def test_dns_published_servfail_is_undecided(fake_dns):
    fake_dns.rcode = 2
    check = published(fake_dns, expected_records())
    assert check["ok"] is None
    assert check["detail"] == "cannot resolve any of the 6 records: name server 127.0.0.1 answered rcode 2 (SERVFAIL)"


def test_dns_published_asks_a_silent_name_server_last(fake_dns):
    records = expected_records()
    serve(fake_dns, records)
    check = doctor.check_dns_published(records, ["127.0.0.254", "127.0.0.1"], 0.2, port=fake_dns.port)
    assert check["ok"] is True
    # 127.0.0.254 (nothing listens) cost one timeout, not one a record
    assert len(fake_dns.queries) == 6


@pytest.mark.parametrize(("records", "words"), [
    (["my-site.com MX"], "entry 1 is not a dictionary"),
    ([{"name": "my-site.com", "type": "MX"}], "entry 1 has no value"),
    ([{"name": "", "type": "", "value": "x"}], "entry 1 has no name and no type"),
    ([{"name": "my-site.com", "type": "SRV", "value": "x"}], "type SRV is not one of MX, TXT, PTR, A, AAAA"),
    ([{"name": "my-site.com", "type": "MX", "value": "bigboy.my-site.com."}], "an MX value is 'PREFERENCE EXCHANGER'"),
    ([{"name": "bigboy.my-site.com", "type": "A", "value": "192.0.2.256"}], "'192.0.2.256' is not an address"),
])
def test_dns_records_option_checked(records, words):
    assert words in doctor.check_dns_records_option(records)


def test_module_passes_dns_records(capsys, monkeypatch, fake_dns):
    records = expected_records()
    serve(fake_dns, records)
    monkeypatch.setattr(doctor._dns, "nameservers", lambda: ["127.0.0.1"])
    real_query = doctor._dns.query
    monkeypatch.setattr(doctor._dns, "query", lambda *args, port: real_query(*args, port=fake_dns.port))
    args = {"fqdn": FQDN, "checks": ["dns_published"], "dns_records": records, "timeout": 2,
            "_ansible_check_mode": True}
    code, out = run_main(capsys, args)
    assert code == 0 and out["changed"] is False and out["failed_checks"] == []
    assert out["checks"][0]["ok"] is True
    records[4]["value"] = "198.51.100.7"
    code, out = run_main(capsys, dict(args, dns_records=records, fail_on_problem=True))
    assert code == 1 and out["msg"] == "mail doctor: not OK: dns_published"
    code, out = run_main(capsys, dict(args, dns_records=[{"name": "my-site.com", "type": "CAA", "value": "0 issue x"}]))
    assert code == 1 and "type CAA is not one of" in out["msg"]


# ---------------------------------------------------------------- system mail (issue 19)
GOLDEN_SUBMIT = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "sendmail", "golden", "bigboy-Debian.submit.mc")
# FEATURE(msp)'s last rule as msp.m4 writes it: $M after masquerade_envelope, else $j
MSP_RULE = "SLocal_localaddr\nR$+\t\t\t$: $>ParseRecipient $1\nR$* < @ $+ > $*\t\t$#relay $@ ${MTAHost} $: $1 < @ $2 > $3\n"
MASQUERADING_MSP = "DMmy-site.com\n" + MSP_RULE + "R$*\t\t\t$#relay $@ ${MTAHost} $: $1 < @ $M >\n"
LOCAL_MSP = "DMmy-site.com\n" + MSP_RULE + "R$*\t\t\t$#relay $@ ${MTAHost} $: $1 < @ $j >\n"
VIRTUSERTABLE = """# the chapter's, and the example inventory's routes
marc@my-site.com\tmarc
webmaster@my-site.com\twebmasters
postmaster@my-site.com\tpostmaster
@another-site.com\tmarc
@my-site.com\terror:nouser User unknown
"""
ALIASES = """# Basic system aliases -- these MUST be present.
mailer-daemon:\tpostmaster
postmaster:\troot
# Person who should get root's mail
root:\t\tmarc,webmaster@my-site.com
admin-list:\t":include:/home/mailings/admin-list"
webmasters:\twebmaster
"""


def test_system_mail_finds_recipient_masquerading_into_a_catchall():
    """The trap of issue 19: the MSP sends `sendmail root` to root@my-site.com, which the catch-all refuses."""
    check = doctor.check_system_mail(FQDN, MASQUERADING_MSP, VIRTUSERTABLE, ALIASES)
    assert check["name"] == "system_mail" and check["ok"] is False
    first = check["detail"].splitlines()[0]
    assert "sends to root@my-site.com" in first and "error:nouser User unknown" in first
    assert "masquerade domain ($M)" in first
    # every local name that would bounce is named; the routed ones are not
    for address in ("root@my-site.com", "mailer-daemon@my-site.com", "admin-list@my-site.com",
                    "webmasters@my-site.com"):
        assert address in first
    for routed in ("marc@my-site.com", "postmaster@my-site.com", "webmaster@my-site.com"):
        assert routed not in first.split("Would bounce:")[1]


def test_system_mail_ok_when_the_msp_keeps_recipients_on_this_host():
    check = doctor.check_system_mail(FQDN, LOCAL_MSP, VIRTUSERTABLE, ALIASES)
    assert check["ok"] is True, check
    assert "bigboy.my-site.com" in check["detail"]


def test_system_mail_names_an_alias_member_the_catchall_refuses():
    """root: marc,webmaster@my-site.com without webmaster@ in the virtusertable bounces whatever the MSP does."""
    table = VIRTUSERTABLE.replace("webmaster@my-site.com\twebmasters\n", "")
    check = doctor.check_system_mail(FQDN, LOCAL_MSP, table, ALIASES)
    assert check["ok"] is False
    assert "alias root: member webmaster@my-site.com (error:nouser User unknown)" in check["detail"]


@pytest.mark.parametrize(("submit", "table", "ok", "words"), [
    (None, VIRTUSERTABLE, None, "no MSP configuration"),
    (MASQUERADING_MSP, VIRTUSERTABLE.replace("@my-site.com\terror:nouser User unknown\n", ""), True, "no virtusertable"),
    ("DMmy-site.com\n", VIRTUSERTABLE, None, "no FEATURE(msp) relay rule"),
    # a masquerading MSP whose domain routes root: the other names still bounce
    (MASQUERADING_MSP, VIRTUSERTABLE + "root@my-site.com\tmarc\n", False, "sends to mailer-daemon@my-site.com"),
])
def test_system_mail_undecided_or_clean(submit, table, ok, words):
    check = doctor.check_system_mail(FQDN, submit, table, ALIASES)
    assert check["ok"] is ok, check
    assert words in check["detail"]


def test_system_mail_with_the_roles_real_submit_cf(tmp_path):
    """The golden submit.mc built with the real m4: OK; the same with masquerade_envelope before FEATURE(msp): FAIL."""
    if not (shutil.which("m4") and os.path.exists("/usr/share/sendmail/cf/m4/cf.m4")):
        pytest.skip("m4 and sendmail-cf are not installed")
    with open(GOLDEN_SUBMIT, encoding="utf-8") as handle:
        golden = handle.read()

    def build(text):
        source = tmp_path / "submit.mc"
        source.write_text(text)
        return subprocess.run(["m4", str(source)], capture_output=True, text=True, check=True).stdout

    assert doctor.check_system_mail(FQDN, build(golden), VIRTUSERTABLE, ALIASES)["ok"] is True
    trap = golden.replace("define(`_MASQUERADE_ENVELOPE_', `1')dnl\n", "").replace(
        "FEATURE(`msp'", "FEATURE(`masquerade_envelope')dnl\nFEATURE(`msp'")
    check = doctor.check_system_mail(FQDN, build(trap), VIRTUSERTABLE, ALIASES)
    assert check["ok"] is False and "sends to root@my-site.com" in check["detail"]


def test_module_runs_system_mail_from_the_files(tmp_path, capsys):
    submit = write(tmp_path / "submit.cf", MASQUERADING_MSP)
    virtusertable = write(tmp_path / "virtusertable", VIRTUSERTABLE)
    aliases = write(tmp_path / "aliases", ALIASES)
    code, out = run_main(capsys, {"fqdn": FQDN, "checks": ["system_mail"], "submit_cf": submit,
                                  "maps": [virtusertable], "aliases_path": aliases})
    assert code == 0 and out["failed_checks"] == ["system_mail"]
    assert "root@my-site.com" in out["checks"][0]["detail"]

"""System mail on the chapter's server: what cron, daemons and `sendmail USER` send.

Every message here is submitted inside the container with /usr/sbin/sendmail, the MSP
(submit.cf) that local programs run, which hands it to the MTA on 127.0.0.1:25. The
example inventory masquerades as my-site.com (masquerade_envelope, allmasquerade) and
my-site.com's catch-all refuses every unlisted address ("error:nouser User unknown"):
local mail to root or to a Linux account without an address must still arrive.
Outgoing mail is caught by the SMTP sink on 127.0.0.3 (remote.example, prepare.yml).
"""

import pathlib
import time
import uuid

import pytest
import yaml

# the example inventory's servers: their sendmail_include_files holds admin-list's list file
EXAMPLE_SERVERS = pathlib.Path(__file__).resolve().parents[3] / "inventories" / "example" / "group_vars" / "mail_servers.yml"
ADMIN_LIST = "/home/mailings/admin-list"
# a Linux account with no address in the virtusertable (the kind a package or an admin creates)
PLAIN_USER = "sysmail-plain"


def quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def token():
    return "sys-" + uuid.uuid4().hex[:12]


def mail_log(host):
    return host.run("cat /var/log/mail.log 2>/dev/null || journalctl --no-pager -q -o cat -u sendmail").stdout


def wait_for(host, path_glob, tok, timeout=90):
    """Wait until a file matching path_glob contains tok; return that file's text (the message's part of it)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        name = host.run(f"grep -l -- {quote(tok)} {path_glob} 2>/dev/null | head -n1").stdout.strip()
        if name:
            return message_in(host.file(name).content_string, tok)
        host.run("/usr/sbin/sendmail -q >/dev/null 2>&1; /usr/sbin/sendmail -Ac -q >/dev/null 2>&1; true")
        time.sleep(2)
    lines = [line for line in mail_log(host).splitlines() if tok in line or "User unknown" in line][-10:]
    pytest.fail("{} never arrived in {}; mail log:\n{}\n{}".format(
        tok, path_glob, "\n".join(lines), "\n".join(mail_log(host).splitlines()[-20:])))


def message_in(text, tok):
    """The one message of an mbox (or a sink file) that carries tok, with its "From " line."""
    if not text.startswith("From "):
        return text
    messages = ["From " + part for part in ("\n" + text).split("\nFrom ")[1:]]
    return next((m for m in messages if tok in m), text)


def header(text, name):
    for line in text.splitlines():
        if not line.strip():
            break
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def envelope_sender(mbox_message):
    """The envelope sender of a locally delivered message: its Return-Path, else the mbox "From " line."""
    return_path = header(mbox_message, "Return-Path")
    if return_path:
        return return_path.strip("<>")
    first = mbox_message.splitlines()[0]
    assert first.startswith("From "), first
    return first.split()[1]


def submit(host, args, tok, subject="cron", user=None, headers=""):
    """printf "Subject: ...\\n\\nhello\\n" | /usr/sbin/sendmail ARGS, as root or as USER."""
    body = f"{headers}Subject: {subject} {tok}\\n\\nhello {tok}\\n"
    run_as = f"runuser -u {user} -- " if user else ""
    result = host.run(f"printf {quote(body)} | {run_as}/usr/sbin/sendmail -oi {args}")
    assert result.rc == 0, result.stdout + result.stderr
    return tok


@pytest.fixture(scope="module")
def plain_user(host):
    """A Linux user that the virtusertable does not know (not one of the domain files' users)."""
    host.run(f"id {PLAIN_USER} >/dev/null 2>&1 || useradd --create-home --shell /usr/sbin/nologin {PLAIN_USER}")
    assert host.user(PLAIN_USER).exists
    assert PLAIN_USER not in host.file("/etc/mail/virtusertable").content_string
    return PLAIN_USER


# --- the issue's own case and its relatives ---------------------------------------------------

@pytest.mark.parametrize("rcpt", ["root", "root@bigboy.my-site.com"])
def test_root_reaches_marc_and_webmaster(host, rcpt):
    """`printf "Subject: cron\\n\\nhello\\n" | sendmail root`: root: marc,webmaster@my-site.com."""
    seen = len(mail_log(host).splitlines())  # only this message's log lines (test_doctor.py asks for root@my-site.com)
    tok = submit(host, rcpt, token())
    for user in ("marc", "webmaster"):
        text = wait_for(host, f"/var/mail/{user}", tok)
        assert header(text, "Subject") == f"cron {tok}"
    new_lines = mail_log(host).splitlines()[seen:]
    assert not [line for line in new_lines if "root@my-site.com" in line and "User unknown" in line], new_lines


@pytest.mark.parametrize("form", ["bare", "fqdn"])
def test_linux_user_without_an_address_gets_local_mail(host, plain_user, form):
    rcpt = plain_user if form == "bare" else f"{plain_user}@bigboy.my-site.com"
    tok = submit(host, rcpt, token())
    wait_for(host, f"/var/mail/{plain_user}", tok)


def test_apache_to_root_leaves_as_mailer(host):
    """`sendmail -f apache root`: delivered to root's people, from mailer@my-site.com in header and envelope."""
    tok = submit(host, "-f apache root", token(), subject="cgi")
    text = wait_for(host, "/var/mail/marc", tok)
    assert envelope_sender(text) == "mailer@my-site.com", text
    assert "mailer@my-site.com" in header(text, "From"), text
    assert "apache" not in header(text, "From"), text
    wait_for(host, "/var/mail/webmaster", tok)


def test_root_keeps_its_own_address(host):
    """EXPOSED_USER(root): root's mail leaves as root@bigboy.my-site.com, an address bigboy accepts."""
    tok = submit(host, "-t", token(), headers="To: user@remote.example\\n")
    text = wait_for(host, "/var/tmp/smtp-sink/*.eml", tok)
    assert header(text, "X-Envelope-From") == "<root@bigboy.my-site.com>", text
    assert "root@bigboy.my-site.com" in header(text, "From"), text


def test_a_user_mails_root_like_cron_does(host):
    """marc's cron job mails root: marc's sender is masqueraded, root still reaches its aliases."""
    tok = submit(host, "root", token(), user="marc")
    text = wait_for(host, "/var/mail/webmaster", tok)
    assert envelope_sender(text) == "marc@my-site.com", text
    assert "marc@my-site.com" in header(text, "From"), text


def test_to_root_header_names_this_hosts_root(host):
    """allmasquerade rewrites recipient headers, but root is exposed: To: root@bigboy.my-site.com, not the
    catch-all's root@my-site.com (a reply to it would bounce)."""
    tok = submit(host, "-t", token(), headers="To: root\\n")
    text = wait_for(host, "/var/mail/marc", tok)
    assert header(text, "To") in ("root@bigboy.my-site.com", "<root@bigboy.my-site.com>"), text


# --- masquerading that does what the domain files say -------------------------------------

def test_masquerade_false_domain_keeps_its_addresses(host):
    """another-site.com says masquerade: false: john@another-site.com leaves as it is (limited_masquerade)."""
    tok = token()
    headers = "From: John <john@another-site.com>\\nTo: user@remote.example\\n"
    submit(host, "-f john@another-site.com -t", tok, subject="another-site", headers=headers)
    text = wait_for(host, "/var/tmp/smtp-sink/*.eml", tok)
    assert header(text, "X-Envelope-From") == "<john@another-site.com>", text
    assert "john@another-site.com" in header(text, "From"), text


@pytest.mark.parametrize("subdomain", ["bigboy.my-site.com", "sales.my-site.com"])
def test_masquerade_entire_domain_covers_the_hosts_below_my_site_com(host, subdomain):
    """marc@bigboy.my-site.com, and marc@sales.my-site.com (the example's comment), leave as marc@my-site.com
    in header and envelope: they are below my-site.com (FEATURE(masquerade_entire_domain); with
    limited_masquerade nothing else masquerades them)."""
    tok = token()
    headers = f"From: marc@{subdomain}\\nTo: user@remote.example\\n"
    submit(host, f"-f marc@{subdomain} -t", tok, subject="entire-domain", headers=headers)
    text = wait_for(host, "/var/tmp/smtp-sink/*.eml", tok)
    assert header(text, "X-Envelope-From") == "<marc@my-site.com>", text
    assert "marc@my-site.com" in header(text, "From") and subdomain not in header(text, "From"), text


def test_allmasquerade_rewrites_recipient_headers_not_envelope_recipients(host):
    """FEATURE(allmasquerade): To: marc and Cc: marc@bigboy.my-site.com leave as marc@my-site.com; the envelope
    recipient is the one given on the command line, untouched (envelope recipients are never masqueraded)."""
    tok = token()
    headers = "To: marc\\nCc: marc@bigboy.my-site.com\\n"
    submit(host, "user@remote.example", tok, subject="allmasquerade", headers=headers)
    text = wait_for(host, "/var/tmp/smtp-sink/*.eml", tok)
    assert header(text, "To") == "marc@my-site.com", text
    assert header(text, "Cc") == "marc@my-site.com", text
    assert header(text, "X-Envelope-To") == "<user@remote.example>", text
    assert header(text, "X-Envelope-From") == "<root@bigboy.my-site.com>", text  # root is exposed


@pytest.mark.parametrize("word, masqueraded", [("foo.example", True), ("foo.example.", False)])
def test_masquerade_domain_with_a_trailing_dot_never_matches(host, word, masqueraded):
    """The example's comment: MASQUERADE_DOMAIN(`my-site.com.') (the chapter's form) would never match.
    Class M gets the word as written (sendmail -bt .CM, on the live sendmail.cf: nothing is changed)."""
    script = f".CM{word}\\n/tryflags HS\\n/try esmtp user@foo.example\\n"
    out = host.run(f"printf {quote(script)} | /usr/sbin/sendmail -bt").stdout
    found = [line.split("addr = ", 1)[1].strip() for line in out.splitlines() if line.startswith("Rcode = 0, addr = ")]
    assert found == ["user@my-site.com" if masqueraded else "user@foo.example"], out


# --- what else the chapter configures -------------------------------------------------------

def test_alert_leaves_as_security_alert(host):
    """genericstable: alert  security-alert@my-site.com."""
    tok = submit(host, "-f alert -t", token(), subject="alert", headers="To: user@remote.example\\n")
    text = wait_for(host, "/var/tmp/smtp-sink/*.eml", tok)
    assert header(text, "X-Envelope-From") == "<security-alert@my-site.com>", text
    assert "security-alert@my-site.com" in header(text, "From"), text


def test_family_alias_reaches_grandma_brother_sister(host):
    """family: grandma,brother,sister (local submission to family@my-site.com, routed by the virtusertable)."""
    tok = submit(host, "family@my-site.com", token(), subject="family")
    for user in ("grandma", "brother", "sister"):
        wait_for(host, f"/var/mail/{user}", tok)


def test_include_list_file(host):
    """admin-list: ":include:/home/mailings/admin-list": the role writes the list file from
    sendmail_include_files (root:root 0644, a '#' header sendmail skips, one member a line) and
    the members listed in it get the mail."""
    lists = yaml.safe_load(EXAMPLE_SERVERS.read_text(encoding="utf-8"))["sendmail_include_files"]
    members = lists[ADMIN_LIST]
    assert members, lists
    listfile = host.file(ADMIN_LIST)
    assert listfile.is_file
    assert (listfile.user, listfile.group, listfile.mode) == ("root", "root", 0o644)
    assert host.file("/home/mailings").mode == 0o755
    lines = listfile.content_string.splitlines()
    assert lines[0].startswith("# homelab.mailserver: "), lines
    assert lines[1:] == members, lines
    tok = submit(host, "admin-list", token(), subject="admin-list")
    for user in members:
        wait_for(host, f"/var/mail/{user}", tok)

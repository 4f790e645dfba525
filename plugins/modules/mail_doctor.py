#!/usr/bin/python
# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only doctor for a sendmail/Dovecot host: the chapter's troubleshooting steps, run as checks."""

DOCUMENTATION = r"""
---
module: mail_doctor
short_description: Run the chapter's sendmail and Dovecot troubleshooting steps as read-only checks
version_added: "0.1.0"
description:
  - Runs the checks of the chapter's sections "Troubleshooting Sendmail", "Incorrectly Configured
    /etc/hosts Files" and "Troubleshooting Dovecot Mail" against the host it runs on, and reports
    each as a verdict with the evidence.
  - The 127.0.0.1 line of C(/etc/hosts) names the FQDN first; C(sendmail -d0.1 -bt) shows a qualified
    C($j); the SMTP port answers with a 220 banner; C(sendmail.cf), the maps' databases and the aliases
    database are not older than their sources; the server refuses to relay for an untrusted loopback
    address; Dovecot reads mail where it is delivered; certificates are not about to expire; the
    expected ports listen; the mail log has no C(SYSERR), C(panic) or C(not qualified) lines; the DNS
    records the mail domains need (O(dns_records)) are published; system mail (C(sendmail root), cron)
    is not sent to an address that a domain catch-all refuses (C(system_mail)).
  - Reads only. The relay probe is an SMTP session that ends with C(RSET) and C(QUIT) after C(RCPT);
    it never sends C(DATA), so no mail is queued even by an open relay.
  - A check that does not apply, or that cannot run here (a command missing, no name server answering), has
    C(ok=null).
options:
  fqdn:
    description: The host's fully qualified name, as the 127.0.0.1 line and sendmail's C($j) should show it.
    type: str
    required: true
  checks:
    description: Names of the checks to run, in the order given; default all of them.
    type: list
    elements: str
    choices: [hosts_fqdn_first, fqdn_qualified, smtp_banner, sendmail_cf_fresh, maps_fresh, aliases_fresh,
              no_open_relay, dovecot_mail_location, certificate_expiry, listening, mail_log_errors, dns_published,
              system_mail]
  smtp_address:
    description: Address of the SMTP daemon to test.
    type: str
    default: 127.0.0.1
  smtp_port:
    description: Port of the SMTP daemon to test.
    type: int
    default: 25
  untrusted_source:
    description:
      - Local address the relay probe connects from. It must be an address the server must B(not) relay
        for; sendmail always relays for C(127.0.0.1), so the default is another loopback address.
    type: str
    default: 127.0.0.66
  relay_probe_sender:
    description:
      - Envelope sender of the relay probe. Empty sends the null sender C(MAIL FROM:<>), which sendmail
        accepts without resolving a domain, so that a refusal at C(RCPT) is about relaying and not about
        an unresolvable sender domain (C(553 5.1.8)).
    type: str
    default: ""
  relay_probe_recipient:
    description: Recipient in a domain the server does not serve; under C(.invalid) it can never be delivered.
    type: str
    default: relay-test@relay-probe.invalid
  timeout:
    description: Seconds to wait for each network answer and each command.
    type: int
    default: 15
  sendmail_mc:
    description: The m4 source of sendmail's configuration.
    type: path
    default: /etc/mail/sendmail.mc
  sendmail_cf:
    description: sendmail's compiled configuration; also read for the map types and the local mailer.
    type: path
    default: /etc/mail/sendmail.cf
  maps:
    description: Text files of maps whose database must be rebuilt when they change; missing files are ignored.
    type: list
    elements: path
    default: [/etc/mail/access, /etc/mail/virtusertable, /etc/mail/genericstable, /etc/mail/mailertable,
              /etc/mail/domaintable]
  submit_cf:
    description:
      - The MSP's compiled configuration, which local programs (cron, C(mail), C(sendmail USER)) run; read by
        C(system_mail) for the domain it qualifies bare recipients with (C($M), the masquerade domain, or C($j)).
    type: path
    default: /etc/mail/submit.cf
  aliases_path:
    description:
      - The aliases file; default the first file of C(O AliasFile=) in sendmail.cf, else
        C(/etc/mail/aliases) if it exists, else C(/etc/aliases).
    type: path
  procmailrc:
    description: procmail's system-wide configuration, read for where mail is delivered (C(DEFAULT)).
    type: path
    default: /etc/procmailrc
  mail_log:
    description:
      - Mail log file. Default the first that exists of C(/var/log/mail.log) and C(/var/log/maillog),
        else the journal of the sendmail and dovecot units.
    type: path
  log_lines:
    description: How many of the last log lines to read.
    type: int
    default: 200
  dovecot:
    description: Whether Dovecot is installed here; default whether C(doveconf) is on the path.
    type: bool
  certificates:
    description:
      - PEM certificates to check. Default those that Dovecot (C(ssl_server_cert_file) in 2.4,
        C(ssl_cert) in 2.3) and sendmail (C(ServerCertFile) in sendmail.cf) are configured with.
    type: list
    elements: path
    default: []
  cert_warn_days:
    description: A certificate that expires in fewer days than this is a problem.
    type: int
    default: 30
  listening:
    description:
      - Sockets that must be listening, as C(address:port) (C([::1]:993) for IPv6, C(*:25) for any address).
        A wildcard listener (C(0.0.0.0), C(::)) counts for every address of its family.
    type: list
    elements: str
    default: []
  dns_records:
    description:
      - The DNS records the mail domains need, as the filter P(homelab.mailserver.mail_dns_records#filter) builds them
        (C(playbooks/dns_records.yml) prints the same list). Each is a dictionary with C(name) (the owner name),
        C(type) (C(MX), C(TXT), C(PTR), C(A) or C(AAAA)) and C(value) (C(10 bigboy.my-site.com.) for MX, the whole
        text for TXT, the name for PTR, the address for A and AAAA); other keys are ignored.
      - The check C(dns_published) asks the name servers of C(/etc/resolv.conf) for each of them (UDP, TCP when
        the answer is truncated). An MX record needs the same exchanger and preference. An SPF record (C(v=spf1))
        needs every mechanism of the expected one and the same C(all) qualifier; more mechanisms are fine. A DMARC
        record (C(v=DMARC1)) needs the same C(p=) (and any other expected tag), and its C(rua)/C(ruf) must include
        the expected addresses; more are fine. A DKIM record needs the same public key (C(p=)). Other TXT
        records must be equal but for whitespace; PTR, A and AAAA records must be among the answers.
      - Empty (the default) leaves C(dns_published) undecided.
    type: list
    elements: dict
    default: []
  fail_on_problem:
    description: Fail the task when a check is not OK (after computing every check).
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module never changes anything; it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
    details: Linux for the O(listening) check (it reads C(/proc/net/tcp) and C(/proc/net/tcp6)).
notes:
  - Run it with privileges (C(become)); C(sendmail -bt), C(doveconf) and the mail log need root.
  - The relay probe binds its socket to O(untrusted_source); on Linux every address of 127.0.0.0/8 is local.
  - C(dns_published) queries the name servers itself with the Python standard library (no dnspython on the host).
    It fails for a record that is missing or different, naming what was expected and what DNS answered; it is
    undecided when a record cannot be resolved (every name server timed out or answered SERVFAIL). When the
    first query gets no answer at all, the remaining records are not asked.
author:
  - Homelab Mailserver Developers (@homelab-mailserver)
"""

EXAMPLES = r"""
- name: Examine the mail server
  homelab.mailserver.mail_doctor:
    fqdn: bigboy.my-site.com
    listening: ["*:25", "*:587", "*:993", "*:995"]
  register: doctor

- name: Show the table
  ansible.builtin.debug:
    msg: "{{ doctor.summary.splitlines() }}"

- name: Stop here when something is wrong
  ansible.builtin.fail:
    msg: "Not OK: {{ doctor.failed_checks | join(', ') }}"
  when: doctor.failed_checks | length > 0

- name: Check that the DNS records the domains need are published
  homelab.mailserver.mail_doctor:
    fqdn: bigboy.my-site.com
    checks: [dns_published]
    dns_records: "{{ ['my-site.com'] | homelab.mailserver.mail_dns_records(server='bigboy.my-site.com',
                     addresses=['192.0.2.25']) }}"

- name: A SMART_HOST client, a few checks only
  homelab.mailserver.mail_doctor:
    fqdn: smallfry.my-site.com
    checks: [hosts_fqdn_first, fqdn_qualified, smtp_banner, sendmail_cf_fresh, mail_log_errors]
    fail_on_problem: true
"""

RETURN = r"""
checks:
  description: One entry a check, in the order run. C(ok) is null when the check did not apply or could not run.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The check's name.
      type: str
    ok:
      description: true, false, or null (not applicable, could not tell).
      type: bool
    detail:
      description: What was seen; several lines for some checks.
      type: str
  sample:
    - {name: hosts_fqdn_first, ok: true, detail: "127.0.0.1 bigboy.my-site.com localhost.localdomain localhost bigboy"}
    - {name: no_open_relay, ok: true, detail: "from 127.0.0.66: RCPT answered 550 5.7.1 ... Relaying denied"}
    - {name: dns_published, ok: false, detail: "1 of 5 records missing or different (asked 192.0.2.53):\nWRONG
       _dmarc.my-site.com. TXT \"v=DMARC1; p=none\" -- DNS answered: \"v=DMARC1; p=reject\" (p=reject, expected p=none)"}
failed_checks:
  description:
    - Names of the checks that are not OK. (Not C(failed), which Ansible reads as the task's own status.)
  returned: always
  type: list
  elements: str
  sample: [sendmail_cf_fresh]
summary:
  description: The checks as a text table, one line a check (details may add indented lines).
  returned: always
  type: str
  sample: |-
    CHECK              RESULT  DETAIL
    hosts_fqdn_first   ok      127.0.0.1 bigboy.my-site.com localhost.localdomain localhost bigboy
"""

import datetime
import ipaddress
import os
import re
import smtplib

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.mailserver.plugins.module_utils import _dns_query as _dns
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_map import (
    cf_alias_files,
    cf_alias_type,
    cf_map_type,
    db_files,
    db_stale,
)

CHECKS = (
    "hosts_fqdn_first", "fqdn_qualified", "smtp_banner", "sendmail_cf_fresh", "maps_fresh", "aliases_fresh",
    "no_open_relay", "dovecot_mail_location", "certificate_expiry", "listening", "mail_log_errors", "dns_published",
    "system_mail",
)
DEFAULT_MAPS = ["/etc/mail/" + m for m in ("access", "virtusertable", "genericstable", "mailertable", "domaintable")]
MAIL_LOGS = ("/var/log/mail.log", "/var/log/maillog")
LOG_MATCH = re.compile(r"error|SYSERR|fatal|panic|cannot|not qualified|unqualified|warning", re.IGNORECASE)
LOG_SEVERE = re.compile(r"SYSERR|panic|not qualified|unqualified host name", re.IGNORECASE)
TCP_LISTEN = "0A"
# datetime.UTC is Python 3.11+; the module also runs on RHEL 9 (Python 3.9).
UTC = datetime.timezone.utc  # noqa: UP017


def result(name, ok, detail):
    return {"name": name, "ok": ok, "detail": detail}


def _read(path):
    """Text of PATH, or None when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


# ---------------------------------------------------------------- names
def check_hosts_fqdn_first(fqdn, hosts_path="/etc/hosts"):
    """The first 127.0.0.1 line must begin with the FQDN ("The /etc/hosts File")."""
    name = "hosts_fqdn_first"
    fqdn = fqdn.rstrip(".").lower()
    text = _read(hosts_path)
    if text is None:
        return result(name, False, "%s cannot be read" % hosts_path)
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if fields and fields[0] == "127.0.0.1":
            break
    else:
        return result(name, False, "%s has no 127.0.0.1 line" % hosts_path)
    shown = line.strip()
    names = [n.lower() for n in fields[1:]]
    first = names[0].rstrip(".") if names else ""
    if "." not in fqdn:
        return result(name, False, "%s (the FQDN %s itself has no domain)" % (shown, fqdn))
    if first != fqdn:
        if first.startswith("localhost") or not first:
            why = "%s must come first, before localhost" % fqdn
        elif "." not in first:
            why = ("'%s' comes first: sendmail warns 'local host name (%s) is not qualified' and sends mail as"
                   " localhost.localdomain" % (first, first))
        elif fqdn.endswith("." + first):
            host, domain = first.split(".", 1)
            why = ("the domain comes first: sendmail takes the host for '%s' in domain '%s' and relays for all of"
                   " .%s (the chapter's 'Wrong!!!' line)" % (host, domain, domain))
        else:
            why = "'%s' comes first, expected %s" % (first, fqdn)
        return result(name, False, "%s -- %s" % (shown, why))
    if "localhost" not in names:
        return result(name, False, "%s -- localhost is missing from the line" % shown)
    return result(name, True, shown)


def check_fqdn_qualified(fqdn, run, sendmail):
    """`sendmail -d0.1 -bt < /dev/null` shows a qualified $j equal to the FQDN."""
    name = "fqdn_qualified"
    if not sendmail:
        return result(name, None, "sendmail is not installed")
    rc, out, err = run([sendmail, "-d0.1", "-bt"], data="\n")
    text = (out or "") + (err or "")
    warning = next((ln.strip() for ln in text.splitlines() if "not qualified" in ln), "")
    if warning:
        return result(name, False, warning)
    found = re.search(r"\(canonical domain name\)\s*\$j\s*=\s*(\S+)", text)
    if not found:
        return result(name, False, "sendmail -d0.1 -bt (rc %s) shows no $j: %s" % (rc, text.strip()[-300:]))
    j = found.group(1)
    if j.rstrip(".").lower() != fqdn.rstrip(".").lower():
        return result(name, False, "$j = %s, expected %s" % (j, fqdn))
    return result(name, True, "$j = %s" % j)


# ---------------------------------------------------------------- SMTP
def _smtp(address, port, timeout, source=None):
    client = smtplib.SMTP(timeout=timeout, source_address=(source, 0) if source else None)
    code, banner = client.connect(address, port)
    return client, code, banner.decode("utf-8", "replace")


def _close(client):
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def check_smtp_banner(address, port, timeout=15):
    """Step 1 of "Further Testing of TCP connectivity": the port answers 220."""
    name = "smtp_banner"
    try:
        client, code, banner = _smtp(address, port, timeout)
    except (OSError, smtplib.SMTPException) as exc:
        return result(name, False, "%s port %s: %s" % (address, port, exc))
    _close(client)
    return result(name, code == 220, "%s %s" % (code, banner))


def check_no_open_relay(address, port, source, recipient, *, sender="", helo="relay-probe.invalid", timeout=15):
    """EHLO, MAIL, RCPT from an untrusted address: the RCPT must be refused. Never DATA."""
    name = "no_open_relay"
    where = "from %s to %s port %s" % (source, address, port)
    try:
        client, code, banner = _smtp(address, port, timeout, source)
    except (OSError, smtplib.SMTPException) as exc:
        return result(name, None, "%s: no SMTP session (%s)" % (where, exc))
    try:
        if code != 220:
            return result(name, None, "%s: banner %s %s" % (where, code, banner))
        if client.ehlo(helo)[0] != 250:
            client.helo(helo)
        code, text = client.mail(sender)
        if code != 250:
            return result(name, None, "%s: MAIL FROM:<%s> answered %s %s; cannot tell"
                          % (where, sender, code, text.decode("utf-8", "replace")))
        code, text = client.rcpt(recipient)
        reply = "%s %s" % (code, text.decode("utf-8", "replace"))
        client.rset()
    except (OSError, smtplib.SMTPException) as exc:
        return result(name, None, "%s: session broken (%s)" % (where, exc))
    finally:
        _close(client)
    detail = "%s: RCPT TO:<%s> answered %s" % (where, recipient, reply)
    if 200 <= code < 300:
        return result(name, False, detail + " -- an open relay")
    if 500 <= code < 600:
        return result(name, True, detail)
    return result(name, None, detail + " -- temporary answer, cannot tell")


# ---------------------------------------------------------------- file freshness
def check_sendmail_cf_fresh(mc, cf):
    """sendmail.cf must have been rebuilt (m4/make) after sendmail.mc last changed."""
    name = "sendmail_cf_fresh"
    mc_time, cf_time = _mtime(mc), _mtime(cf)
    if mc_time is None:
        return result(name, None, "%s does not exist" % mc)
    if cf_time is None:
        return result(name, False, "%s does not exist: run make in /etc/mail" % cf)
    if cf_time < mc_time:
        return result(name, False, "%s is older than %s: run make in /etc/mail and restart sendmail" % (cf, mc))
    return result(name, True, "%s is not older than %s" % (cf, mc))


def _db_problem(text_path, dbs):
    """Why the databases DBS of TEXT_PATH are out of date, or ''."""
    missing = [d for d in dbs if not os.path.exists(d)]
    if missing:
        return "%s: %s missing" % (text_path, ", ".join(missing))
    if db_stale(text_path, dbs):
        return "%s: %s older than the text" % (text_path, ", ".join(dbs))
    return ""


def check_maps_fresh(maps, cf):
    """Each existing map text has a database not older than it (makemap after every edit)."""
    name = "maps_fresh"
    present = [m for m in maps if os.path.isfile(m)]
    if not present:
        return result(name, None, "none of the maps exists")
    problems = [p for p in (_db_problem(m, db_files(m, cf_map_type(m, cf) or "hash")) for m in present) if p]
    if problems:
        return result(name, False, "; ".join(problems))
    return result(name, True, "up to date: %s" % ", ".join(present))


def cf_alias_file(cf):
    """First file of ``O AliasFile=[type:]path[,...]`` in sendmail.cf, or None."""
    return next(iter(cf_alias_files(cf)), None) or None


def check_aliases_fresh(aliases, cf):
    """The aliases database is not older than the aliases file (newaliases after every edit)."""
    name = "aliases_fresh"
    if not os.path.isfile(aliases):
        return result(name, None, "%s does not exist" % aliases)
    problem = _db_problem(aliases, db_files(aliases, cf_alias_type(aliases, cf) or "hash"))
    if problem:
        return result(name, False, problem + ": run newaliases")
    return result(name, True, "%s is up to date" % aliases)


# ---------------------------------------------------------------- Dovecot
def _norm_mail_path(path):
    """Dovecot and procmail spellings of the same place made comparable."""
    path = re.sub(r"\$\{?HOME\}?|%\{home\}|%h", "~", path.strip())
    path = re.sub(r"\$\{?(LOGNAME|USER)\}?|%\{user(\|username)?\}|%[un]", "%u", path)
    path = path.rstrip("/")
    if path.startswith("~") or "%u" not in path:
        return path
    head, _sep, tail = path.rpartition("/")
    return os.path.join(os.path.realpath(head), tail)


def dovecot_storage(run, doveconf):
    """{driver, path, inbox, setting} of Dovecot 2.4 (mail_driver ...) or 2.3 (mail_location)."""

    def get(setting):
        rc, out, _err = run([doveconf, "-h", setting])
        return out.strip() if rc == 0 else None

    driver = get("mail_driver")
    if driver:
        path, inbox = get("mail_path") or "", get("mail_inbox_path") or ""
        shown = "mail_driver = %s, mail_path = %s, mail_inbox_path = %s" % (driver, path, inbox)
        return {"driver": driver, "path": path, "inbox": inbox, "setting": shown}
    location = get("mail_location") or ""
    driver, _sep, rest = location.partition(":")
    parts = rest.split(":")
    inbox = next((p[6:] for p in parts if p.upper().startswith("INBOX=")), "")
    return {"driver": driver, "path": parts[0], "inbox": inbox, "setting": "mail_location = %s" % location}


def delivery_storage(procmailrc, sendmail_cf):
    """{driver, path, source} of where the local mailer puts new mail, or None when Dovecot delivers."""
    found = re.search(r"^Mlocal,.*?\bP=([^,\s]+)", _read(sendmail_cf) or "", re.MULTILINE)
    mailer = found.group(1) if found else ""
    if "dovecot" in mailer or mailer.endswith("/deliver"):
        return None
    spool = {"driver": "mbox", "path": "/var/mail/%u", "source": "%s (local mailer)" % (mailer or "sendmail")}
    text = _read(procmailrc)
    # Debian's sensible-mda hands the mail to procmail when procmail is installed.
    if os.path.basename(mailer) not in ("", "procmail", "sensible-mda") or text is None:
        return spool
    values = {"MAILDIR": "$HOME", "ORGMAIL": "/var/mail/$LOGNAME"}
    for line in text.splitlines():
        found = re.match(r"\s*(DEFAULT|MAILDIR|ORGMAIL)\s*=\s*(\S+)", line)
        if found:
            values[found.group(1)] = found.group(2).strip("\"'")
    default = values.get("DEFAULT", values["ORGMAIL"])
    if not default.startswith(("/", "$", "~")):
        default = values["MAILDIR"].rstrip("/") + "/" + default
    driver = "maildir" if default.endswith("/") else "mh" if default.endswith("/.") else "mbox"
    return {"driver": driver, "path": default, "source": "procmail (%s: DEFAULT=%s)" % (procmailrc, default)}


def check_dovecot_mail_location(dovecot, delivery):
    """Dovecot must read mail where it is delivered ("Dovecot Mailboxes", "Always Start with Logging")."""
    name = "dovecot_mail_location"
    if delivery is None:
        return result(name, True, "Dovecot's LDA delivers, so it reads where it writes (%s)" % dovecot["setting"])
    if not dovecot["driver"]:
        return result(name, None, "%s: Dovecot autodetects the mailbox format, and fails when it cannot"
                      " ('mail_location not set and autodetection failed'); mail is delivered by %s as %s:%s"
                      % (dovecot["setting"], delivery["source"], delivery["driver"], delivery["path"]))
    wanted = delivery["path"]
    seen = dovecot["path"] if dovecot["driver"] == "maildir" else dovecot["inbox"] or dovecot["path"] + "/inbox"
    same = dovecot["driver"] == delivery["driver"] and _norm_mail_path(seen) == _norm_mail_path(wanted)
    detail = "Dovecot reads %s (%s:%s); %s delivers %s:%s" % (
        dovecot["setting"], dovecot["driver"], seen, delivery["source"], delivery["driver"], wanted)
    if not same:
        detail += " -- Dovecot looks for the mail in the wrong place"
    return result(name, same, detail)


def dovecot_certificates(run, doveconf):
    for setting in ("ssl_server_cert_file", "ssl_cert"):
        rc, out, _err = run([doveconf, "-h", setting])
        if rc == 0:
            path = out.strip().lstrip("<").strip()
            return [path] if path else []
    return []


def sendmail_certificates(sendmail_cf):
    found = re.search(r"^O ServerCertFile=(\S+)", _read(sendmail_cf) or "", re.MULTILINE)
    return [found.group(1)] if found else []


def check_certificate_expiry(certificates, run, openssl, warn_days=30, now=None):
    """Days until each certificate's notAfter (openssl x509 -enddate)."""
    name = "certificate_expiry"
    if not certificates:
        return result(name, None, "no certificate configured")
    if not openssl:
        return result(name, None, "openssl is not installed")
    now = now or datetime.datetime.now(UTC)
    lines, ok = [], True
    for path in certificates:
        rc, out, err = run([openssl, "x509", "-enddate", "-noout", "-in", path])
        end = out.strip().partition("notAfter=")[2]
        try:
            when = datetime.datetime.strptime(" ".join(end.split()[:4]), "%b %d %H:%M:%S %Y")
        except ValueError:
            ok = False
            why = "does not exist" if not os.path.exists(path) else "openssl cannot read it (rc %s): %s" % (
                rc, ((err or out).strip().splitlines() or [""])[0])
            lines.append("%s: %s" % (path, why))
            continue
        days = (when.replace(tzinfo=UTC) - now).days
        ok = ok and days >= warn_days
        note = "expired" if days < 0 else "fewer than %d days left" % warn_days if days < warn_days else "ok"
        lines.append("%s: expires %s, in %d days (%s)" % (path, end, days, note))
    return result(name, ok, "\n".join(lines))


# ---------------------------------------------------------------- sockets
def _proc_address(hex_addr):
    raw = bytes.fromhex(hex_addr)
    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(raw)


def parse_proc_net_tcp(text):
    """(address, port) of the LISTEN sockets in a /proc/net/tcp or tcp6 text."""
    found = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == TCP_LISTEN:
            addr, _sep, port = fields[1].partition(":")
            found.append((_proc_address(addr), int(port, 16)))
    return found


def _covers(listener, wanted):
    (addr, port), (want_addr, want_port) = listener, wanted
    if port != want_port:
        return False
    if want_addr is None or addr == want_addr:
        return True
    if addr.is_unspecified:
        return addr.version == 6 or want_addr.version == 4
    return addr.version == 6 and addr.ipv4_mapped == want_addr


def _show(addr, port):
    if addr.version == 4:
        return "%s:%d" % (addr, port)
    return "[%s]:%d" % ("::ffff:%s" % addr.ipv4_mapped if addr.ipv4_mapped else addr, port)


def check_listening(expected, proc_files=("/proc/net/tcp", "/proc/net/tcp6")):
    """The chapter's `netstat -ta | egrep 'pop|imap'`, read from /proc/net/tcp*."""
    name = "listening"
    listeners = []
    for path in proc_files:
        listeners.extend(parse_proc_net_tcp(_read(path) or ""))
    listeners = sorted(set(listeners), key=lambda la: (la[1], la[0].version, la[0]))
    shown = "listening: " + (" ".join(_show(a, p) for a, p in listeners) or "nothing")
    missing = []
    for item in expected:
        addr, _sep, port = item.rpartition(":")
        addr = addr.strip("[]")
        try:
            wanted = (None if addr in ("*", "") else ipaddress.ip_address(addr), int(port))
        except ValueError:
            missing.append("%s (not address:port)" % item)
            continue
        if not any(_covers(listener, wanted) for listener in listeners):
            missing.append(item)
    if missing:
        return result(name, False, "not listening: %s\n%s" % (", ".join(missing), shown))
    return result(name, True if expected else None, shown)


# ---------------------------------------------------------------- log
def tail(path, count, block=65536):
    """The last COUNT lines of PATH, reading from the end."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        end = handle.tell()
        data = b""
        while end > 0 and data.count(b"\n") <= count:
            start = max(0, end - block)
            handle.seek(start)
            data = handle.read(end - start) + data
            end = start
    return data.decode("utf-8", "replace").splitlines()[-count:]


def check_mail_log(lines, source):
    """The chapter's `tail -f /var/log/maillog`: SYSERR, panic and "not qualified" lines are problems."""
    name = "mail_log_errors"
    if lines is None:
        return result(name, None, "no mail log: %s" % source)
    if not lines:
        return result(name, None, "%s has no lines" % source)
    matching = [ln for ln in lines if LOG_MATCH.search(ln)]
    if not matching:
        return result(name, True, "nothing alarming in the last %d lines of %s" % (len(lines), source))
    severe = any(LOG_SEVERE.search(ln) for ln in matching)
    head = "%d of the last %d lines of %s mention errors or warnings; the last ones:" % (
        len(matching), len(lines), source)
    return result(name, False if severe else None, "\n".join([head] + matching[-5:]))


def read_mail_log(path, count, run, journalctl):
    """(lines, source) from PATH, else from the journal; lines is None when neither can be read."""
    paths = [path] if path else [p for p in MAIL_LOGS if os.path.exists(p)][:1]
    if paths:
        try:
            return tail(paths[0], count), paths[0]
        except OSError as exc:
            return None, "%s: %s" % (paths[0], exc)
    if not journalctl:
        return None, "neither %s nor journalctl" % " nor ".join(MAIL_LOGS)
    argv = [journalctl, "-q", "-n", str(count), "-u", "sendmail", "-u", "dovecot", "--no-pager"]
    rc, out, err = run(argv)
    if rc != 0:
        return None, "journalctl: %s" % err.strip()
    return out.splitlines(), "the journal (sendmail, dovecot)"


# ---------------------------------------------------------------- published DNS records
DNS_TYPES = ("MX", "TXT", "PTR", "A", "AAAA")


def check_dns_records_option(records):
    """Why the dns_records option is unusable, or ''."""
    for number, record in enumerate(records, 1):
        if not isinstance(record, dict):
            return "dns_records entry %d is not a dictionary" % number
        missing = [key for key in ("name", "type", "value") if not str(record.get(key) or "").strip()]
        if missing:
            return "dns_records entry %d has no %s" % (number, " and no ".join(missing))
        rtype, value = str(record["type"]).upper(), str(record["value"]).strip()
        if rtype not in DNS_TYPES:
            return "dns_records entry %d: type %s is not one of %s" % (number, record["type"], ", ".join(DNS_TYPES))
        if rtype == "MX" and not re.match(r"^\d{1,5} +\S+$", value):
            return "dns_records entry %d: an MX value is 'PREFERENCE EXCHANGER', not %r" % (number, value)
        if rtype in ("A", "AAAA"):
            try:
                ipaddress.ip_address(value)
            except ValueError:
                return "dns_records entry %d: %r is not an address" % (number, value)
    return ""


def _dns_name(name):
    return str(name).strip().rstrip(".").lower()


def _txt_kind(value):
    """SPF, DMARC, DKIM or TXT: what a TXT value is, by its version tag."""
    low = " ".join(value.split()).lower()
    if re.match(r"v=spf1( |$)", low):
        return "SPF"
    if re.match(r"v *= *dmarc1 *(;|$)", low):
        return "DMARC"
    if re.match(r"v *= *dkim1 *(;|$)", low):
        return "DKIM"
    return "TXT"


def _tags(value):
    """The tag=value list of a DKIM key or DMARC record as a dictionary (tag names in lower case)."""
    tags = {}
    for part in value.split(";"):
        tag, sep, text = part.partition("=")
        if sep and tag.strip():
            tags.setdefault(tag.strip().lower(), " ".join(text.split()))
    return tags


def _short(text, keep=60):
    """TEXT for a table line: long base64 keys cut in the middle."""
    text = re.sub(r"(p=\s*)([A-Za-z0-9+/=]{24,})", lambda m: m.group(1) + m.group(2)[:12] + "..." + m.group(2)[-8:], text)
    return text if len(text) <= keep * 3 else text[:keep] + "..." + text[-keep // 2:]


def _spf_terms(value):
    return [term[1:] if term.startswith("+") else term for term in value.lower().split()[1:]]


def _spf_differs(expected, published):
    want, have = _spf_terms(expected), _spf_terms(published)
    endings = [[t for t in terms if t.lstrip("-~?") == "all"] for terms in (want, have)]
    why = []
    lacking = [t for t in want if t not in have and t not in endings[0]]
    if lacking:
        why.append("lacks %s" % " ".join(lacking))
    if endings[0] != endings[1]:
        why.append("ends with %s, expected %s" % (" ".join(endings[1]) or "no all", " ".join(endings[0])))
    return "; ".join(why)


def _uris(text):
    return {uri.strip().lower() for uri in text.split(",") if uri.strip()}


def _dmarc_differs(expected, published):
    want, have = _tags(expected), _tags(published)
    why = []
    for tag, value in want.items():
        if tag == "v":
            continue
        if tag in ("rua", "ruf"):
            lacking = sorted(_uris(value) - _uris(have.get(tag, "")))
            if lacking:
                why.append("%s lacks %s" % (tag, ", ".join(lacking)))
        elif have.get(tag, "").lower() != value.lower():
            why.append("%s=%s, expected %s=%s" % (tag, have.get(tag) or "(none)", tag, value))
    return "; ".join(why)


def _dkim_key(value):
    return re.sub(r"\s+", "", _tags(value).get("p", ""))


def _dkim_differs(expected, published):
    key = _dkim_key(published)
    if not key:
        return "the key is revoked (empty p=)" if "p" in _tags(published) else "no p= key"
    return "" if key == _dkim_key(expected) else "another key"


TXT_RULES = {
    # kind: (the published records that count, how one differs, more than one is an error)
    "SPF": (lambda v: _txt_kind(v) == "SPF", _spf_differs, True),
    "DMARC": (lambda v: _txt_kind(v) == "DMARC", _dmarc_differs, True),
    "DKIM": (lambda v: "p" in _tags(v) and _txt_kind(v) in ("DKIM", "TXT"), _dkim_differs, False),
    "TXT": (lambda v: True, lambda e, p: "" if " ".join(e.split()) == " ".join(p.split()) else "another text", False),
}


def _compare_txt(expected, found):
    """(state, why) of an expected TXT value against the TXT records found at its name."""
    kind = _txt_kind(expected)
    counts, differs, single = TXT_RULES[kind]
    candidates = [v for v in found if counts(v)]
    label = "TXT record" if kind == "TXT" else "%s record" % kind
    if not candidates:
        return "missing", "no %s among the TXT records" % label
    if single and len(candidates) > 1:
        return "different", "%d %ss (receivers treat more than one as an error)" % (len(candidates), label)
    reasons = [differs(expected, v) for v in candidates]
    if "" in reasons:
        return "ok", ""
    return "different", reasons[0]


def compare_record(record, answer):
    """(state, why) of one expected record against the DNS answer: ok, missing, different or unresolved."""
    if not answer.answered:
        return "unresolved", ""
    if answer.status != _dns.OK:
        return "missing", ""
    rtype, value = str(record["type"]).upper(), str(record["value"]).strip()
    if rtype == "TXT":
        return _compare_txt(value, answer.records)
    if rtype == "MX":
        pref, host = value.split()
        wanted = (int(pref), _dns_name(host))
        if wanted in answer.records:
            return "ok", ""
        prefs = [str(p) for p, h in answer.records if h == wanted[1]]
        if prefs:
            return "different", "preference %s, expected %d" % (", ".join(prefs), wanted[0])
        return "different", "%s is not an exchanger" % wanted[1]
    if rtype in ("A", "AAAA"):
        wanted = ipaddress.ip_address(value)
        return ("ok", "") if any(ipaddress.ip_address(a) == wanted for a in answer.records) else ("different", "")
    return ("ok", "") if _dns_name(value) in answer.records else ("different", "")


def _shown_record(record):
    value = str(record["value"]).strip()
    if str(record["type"]).upper() == "TXT":
        value = '"%s"' % value
    return "%s %s %s" % (_dns_name(record["name"]) + ".", str(record["type"]).upper(), _short(value))


def _shown_answer(rtype, answer):
    if answer.status == _dns.OK and rtype == "TXT":
        return ", ".join('"%s"' % _short(r) for r in answer.records)
    return _short(answer.describe())


def check_dns_published(records, servers, timeout=15, port=53):
    """Each record the domains need (mail_dns_records) is in live DNS, as the resolv.conf name servers answer."""
    name = "dns_published"
    if not records:
        return result(name, None, "no records to check (dns_records is empty)")
    servers = list(servers)
    answers = {}
    verdicts = []
    for record in records:
        key = (_dns_name(record["name"]), str(record["type"]).upper())
        if key not in answers:
            if answers and all(a.status == _dns.TIMEOUT for a in answers.values()):
                answers[key] = _dns.Answer(_dns.TIMEOUT, error="not asked: no name server answered")
            else:
                answers[key] = _dns.query(key[0], key[1], servers, timeout, port=port)
                # a name server that did not answer is asked last from now on
                slow = answers[key].timed_out
                servers = [s for s in servers if s not in slow] + [s for s in servers if s in slow]
        state, why = compare_record(record, answers[key])
        verdicts.append((record, answers[key], state, why))
    asked = ", ".join(sorted({a.server for a in answers.values() if a.server})) or ", ".join(servers)
    problems = [v for v in verdicts if v[2] in ("missing", "different")]
    unresolved = [v for v in verdicts if v[2] == "unresolved"]
    lines = []
    for record, answer, state, why in problems + unresolved:
        word = {"missing": "MISSING", "different": "WRONG", "unresolved": "NOT RESOLVED"}[state]
        lines.append("%s %s -- DNS answered: %s%s" % (
            word, _shown_record(record), _shown_answer(str(record["type"]).upper(), answer), " (%s)" % why if why else ""))
    if problems:
        head = "%d of %d records missing or different (asked %s):" % (len(problems), len(records), asked)
        return result(name, False, "\n".join([head] + lines))
    if unresolved:
        if len(unresolved) == len(records):
            head = "cannot resolve any of the %d records: %s" % (len(records), unresolved[0][1].describe())
            return result(name, None, head)
        head = "%d of %d records could not be resolved (asked %s); the others are published:" % (
            len(unresolved), len(records), asked)
        return result(name, None, "\n".join([head] + lines))
    kinds = {}
    for record in records:
        kind = str(record["type"]).upper()
        kind = _txt_kind(str(record["value"])) if kind == "TXT" else kind
        kinds[kind] = kinds.get(kind, 0) + 1
    return result(name, True, "all %d records published (%s), asked %s" % (
        len(records), ", ".join("%d %s" % (n, k) for k, n in kinds.items()), asked))


# ---------------------------------------------------------------- system mail
def msp_recipient_domain(submit_cf_text, fqdn):
    """(domain, how) the MSP qualifies a bare recipient (sendmail root) with, from FEATURE(msp)'s last rule.

    msp.m4 qualifies with $M, the masquerade domain, when masquerade_envelope came before it; else with $j.
    """
    macros = dict(re.findall(r"^D([A-Za-z])(.*)$", submit_cf_text, re.MULTILINE))
    rule = re.findall(r"^R\$\*\s+\$#relay\s+\$@\s+\S+\s+\$:\s+\$1\s+<\s*@\s*(\S+)\s*>\s*$",
                      submit_cf_text, re.MULTILINE)
    if not rule:
        return None, "no FEATURE(msp) relay rule"
    qualifier = rule[-1]
    if qualifier == "$M" and macros.get("M", "").strip():
        return macros["M"].strip().lower(), "the masquerade domain ($M): recipients are masqueraded"
    if qualifier in ("$M", "$j"):
        return fqdn.rstrip(".").lower(), "this host's name ($j)"
    return qualifier.lower(), "the MSP's rule"


def read_virtusertable(text):
    """{key (lower case): target} of a virtusertable text."""
    table = {}
    for line in (text or "").splitlines():
        fields = line.split("#", 1)[0].split(None, 1) if not line.lstrip().startswith("#") else []
        if len(fields) == 2:
            table.setdefault(fields[0].lower(), fields[1].strip())
    return table


def read_aliases(text):
    """[(name, [members])] of an aliases text (continuation lines joined)."""
    entries, current = [], None
    for line in (text or "").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0] in " \t" and current:
            current[1].extend(m.strip() for m in line.split(",") if m.strip())
            continue
        name, sep, members = line.partition(":")
        if not sep:
            continue
        current = (name.strip().lower(), [m.strip() for m in members.split(",") if m.strip()])
        entries.append(current)
    return entries


def catchall_refuses(virtusertable, address):
    """The virtusertable error that ADDRESS meets ("error:nouser User unknown"), or ''."""
    local, _sep, domain = address.lower().rpartition("@")
    target = virtusertable.get(address.lower())
    if target is None:
        target = virtusertable.get("@" + domain, "")
    return target if target.lower().startswith("error:") else ""


def check_system_mail(fqdn, submit_cf_text, virtusertable_text, aliases_text):
    """Local mail (sendmail root, cron, mail -s) must not go to an address that a domain catch-all refuses.

    The trap: the MSP qualifies bare recipients with the masquerade domain (recipient masquerading), that
    domain's virtusertable catch-all refuses unknown users, and a name local mail goes to (an alias such as
    root, or a bare alias member) has no entry of its own there. Alias members written as addresses that a
    catch-all refuses bounce whatever the MSP does.
    """
    name = "system_mail"
    if submit_cf_text is None:
        return result(name, None, "no MSP configuration (submit.cf) to read")
    virtusertable = read_virtusertable(virtusertable_text)
    if not any(key.startswith("@") and target.lower().startswith("error:") for key, target in virtusertable.items()):
        return result(name, True, "no virtusertable catch-all refuses unknown users")
    domain, how = msp_recipient_domain(submit_cf_text, fqdn)
    if domain is None:
        return result(name, None, "submit.cf has %s" % how)
    aliases = read_aliases(aliases_text)
    names = ["root", "postmaster"] + [alias for alias, _members in aliases]
    names += [m.lower() for _alias, members in aliases for m in members
              if re.match(r"^[A-Za-z0-9_.+-]+$", m)]
    bounced = []
    for local in dict.fromkeys(names):
        refused = catchall_refuses(virtusertable, "%s@%s" % (local, domain))
        if refused:
            bounced.append("%s@%s" % (local, domain))
    members = []
    for alias, values in aliases:
        for member in values:
            if "@" in member and not member.startswith(("|", "/", ":", '"')):
                refused = catchall_refuses(virtusertable, member.strip("<>"))
                if refused:
                    members.append("alias %s: member %s (%s)" % (alias, member, refused))
    lines = []
    if bounced:
        lines.append("sendmail root on this host sends to %s, which the catch-all refuses ('%s'): the MSP qualifies "
                     "bare recipients with %s. Would bounce: %s" % (
                         bounced[0], catchall_refuses(virtusertable, bounced[0]), how, ", ".join(bounced[:8])
                         + (" and %d more" % (len(bounced) - 8) if len(bounced) > 8 else "")))
        lines.append("fix: masquerade_envelope after FEATURE(msp) (the sendmail role's submit.mc), or a "
                     "virtusertable entry for each of these names")
    if members:
        lines.append("alias members the catch-all refuses: " + "; ".join(members))
    if lines:
        return result(name, False, "\n".join(lines))
    return result(name, True, "bare recipients go to %s (%s); no alias or member meets a refusing catch-all"
                  % (domain, how.split(":", maxsplit=1)[0]))


# ---------------------------------------------------------------- report
def summary_table(checks):
    words = {True: "ok", False: "FAIL", None: "-"}
    width = max([len("CHECK")] + [len(c["name"]) for c in checks])
    rows = ["%-*s  %-6s  %s" % (width, "CHECK", "RESULT", "DETAIL")]
    for check in checks:
        first, *more = (check["detail"] or "").splitlines() or [""]
        rows.append("%-*s  %-6s  %s" % (width, check["name"], words[check["ok"]], first))
        rows.extend("%s  %s" % (" " * (width + 8), line) for line in more)
    return "\n".join(rows)


def main():
    module = AnsibleModule(
        argument_spec={
            "fqdn": {"type": "str", "required": True},
            "checks": {"type": "list", "elements": "str", "choices": list(CHECKS)},
            "smtp_address": {"type": "str", "default": "127.0.0.1"},
            "smtp_port": {"type": "int", "default": 25},
            "untrusted_source": {"type": "str", "default": "127.0.0.66"},
            "relay_probe_sender": {"type": "str", "default": ""},
            "relay_probe_recipient": {"type": "str", "default": "relay-test@relay-probe.invalid"},
            "timeout": {"type": "int", "default": 15},
            "sendmail_mc": {"type": "path", "default": "/etc/mail/sendmail.mc"},
            "sendmail_cf": {"type": "path", "default": "/etc/mail/sendmail.cf"},
            "maps": {"type": "list", "elements": "path", "default": DEFAULT_MAPS},
            "aliases_path": {"type": "path"},
            "submit_cf": {"type": "path", "default": "/etc/mail/submit.cf"},
            "procmailrc": {"type": "path", "default": "/etc/procmailrc"},
            "mail_log": {"type": "path"},
            "log_lines": {"type": "int", "default": 200},
            "dovecot": {"type": "bool"},
            "certificates": {"type": "list", "elements": "path", "default": []},
            "cert_warn_days": {"type": "int", "default": 30},
            "listening": {"type": "list", "elements": "str", "default": []},
            "dns_records": {"type": "list", "elements": "dict", "default": []},
            "fail_on_problem": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    problem = check_dns_records_option(p["dns_records"])
    if problem:
        module.fail_json(msg=problem)
    timeout_bin = module.get_bin_path("timeout")

    def run(argv, data=None):
        limit = [timeout_bin, "-k", "5", str(p["timeout"])] if timeout_bin else []
        return module.run_command(limit + argv, data=data)

    def tool(name):
        return module.get_bin_path(name, opt_dirs=["/usr/lib", "/usr/lib/sendmail"])

    cf = p["sendmail_cf"]
    doveconf = tool("doveconf") if p["dovecot"] is not False else None
    aliases = p["aliases_path"] or cf_alias_file(cf) or (
        "/etc/mail/aliases" if os.path.exists("/etc/mail/aliases") else "/etc/aliases")
    runners = {
        "hosts_fqdn_first": lambda: check_hosts_fqdn_first(p["fqdn"]),
        "fqdn_qualified": lambda: check_fqdn_qualified(p["fqdn"], run, tool("sendmail")),
        "smtp_banner": lambda: check_smtp_banner(p["smtp_address"], p["smtp_port"], p["timeout"]),
        "sendmail_cf_fresh": lambda: check_sendmail_cf_fresh(p["sendmail_mc"], cf),
        "maps_fresh": lambda: check_maps_fresh(p["maps"], cf),
        "aliases_fresh": lambda: check_aliases_fresh(aliases, cf),
        "no_open_relay": lambda: check_no_open_relay(
            p["smtp_address"], p["smtp_port"], p["untrusted_source"], p["relay_probe_recipient"],
            sender=p["relay_probe_sender"], timeout=p["timeout"]),
        "dovecot_mail_location": lambda: (
            check_dovecot_mail_location(dovecot_storage(run, doveconf), delivery_storage(p["procmailrc"], cf))
            if doveconf else result("dovecot_mail_location", None, "Dovecot is not installed")),
        "certificate_expiry": lambda: check_certificate_expiry(
            p["certificates"] or (dovecot_certificates(run, doveconf) if doveconf else []) + sendmail_certificates(cf),
            run, tool("openssl"), p["cert_warn_days"]),
        "listening": lambda: check_listening(p["listening"]),
        "mail_log_errors": lambda: check_mail_log(
            *read_mail_log(p["mail_log"], p["log_lines"], run, tool("journalctl"))),
        "dns_published": lambda: check_dns_published(p["dns_records"], _dns.nameservers(), p["timeout"]),
        "system_mail": lambda: check_system_mail(
            p["fqdn"], _read(p["submit_cf"]),
            _read(next((m for m in p["maps"] if os.path.basename(m) == "virtusertable"), "/etc/mail/virtusertable")),
            _read(aliases)),
    }
    checks = [runners[name]() for name in (p["checks"] or CHECKS)]
    failed = [c["name"] for c in checks if c["ok"] is False]
    out = {"changed": False, "checks": checks, "failed_checks": failed, "summary": summary_table(checks)}
    if failed and p["fail_on_problem"]:
        module.fail_json(msg="mail doctor: not OK: %s" % ", ".join(failed), **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()

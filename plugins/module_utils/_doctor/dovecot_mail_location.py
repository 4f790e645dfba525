# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dovecot_mail_location: Dovecot reads mail where the local mailer (or procmail) delivers it."""

import os
import re

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import Check, read_text, result

NAME = "dovecot_mail_location"


def norm_mail_path(path):
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
    block = re.search(r"^Mlocal,.*(?:\n[ \t]+.*)*", read_text(sendmail_cf) or "", re.MULTILINE)
    found = re.search(r"\bP=([^,\s]+)", block.group(0)) if block else None
    mailer = found.group(1) if found else ""
    if "dovecot" in mailer or mailer.endswith("/deliver"):
        return None
    # LMTP over a Unix socket (P=[IPC], A=FILE path): Dovecot's LMTP server delivers when the socket is Dovecot's
    socket = re.search(r"\bA=FILE\s+(\S+)", block.group(0)) if block and mailer == "[IPC]" else None
    if socket and "dovecot" in socket.group(1):
        return None
    spool = {"driver": "mbox", "path": "/var/mail/%u", "source": "%s (local mailer)" % (mailer or "sendmail")}
    text = read_text(procmailrc)
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


def check(dovecot, delivery):
    """Dovecot must read mail where it is delivered ("Dovecot Mailboxes", "Always Start with Logging")."""
    if delivery is None:
        return result(NAME, True, "Dovecot delivers (its LDA or LMTP), so it reads where it writes (%s)" % dovecot["setting"])
    if not dovecot["driver"]:
        return result(NAME, None, "%s: Dovecot autodetects the mailbox format, and fails when it cannot"
                      " ('mail_location not set and autodetection failed'); mail is delivered by %s as %s:%s"
                      % (dovecot["setting"], delivery["source"], delivery["driver"], delivery["path"]))
    wanted = delivery["path"]
    seen = dovecot["path"] if dovecot["driver"] == "maildir" else dovecot["inbox"] or dovecot["path"] + "/inbox"
    same = dovecot["driver"] == delivery["driver"] and norm_mail_path(seen) == norm_mail_path(wanted)
    detail = "Dovecot reads %s (%s:%s); %s delivers %s:%s" % (
        dovecot["setting"], dovecot["driver"], seen, delivery["source"], delivery["driver"], wanted)
    if not same:
        detail += " -- Dovecot looks for the mail in the wrong place"
    return result(NAME, same, detail)


def _run(i):
    if not i.doveconf:
        return result(NAME, None, "Dovecot is not installed")
    return check(dovecot_storage(i.run, i.doveconf), delivery_storage(i.procmailrc, i.sendmail_cf))


CHECK = Check(
    name=NAME,
    sections=("Dovecot Mailboxes", "Always Start with Logging"),
    doc="Where Dovecot reads mail (doveconf -h mail_location on 2.3; mail_driver, mail_path, mail_inbox_path on"
        " 2.4) against where mail is delivered: sendmail's local mailer (Mlocal in sendmail.cf); procmail (also"
        " through Debian's sensible-mda) delivers to DEFAULT of procmailrc (a trailing / is a Maildir), else to"
        " /var/mail/USER. OK when the format and the place are the same, and always when Dovecot's own LDA is"
        " the local mailer. Not set at all is undecided (Dovecot's autodetection may fail), as is a host"
        " without Dovecot.",
    inputs=("doveconf", "run", "procmailrc", "sendmail_cf"),
    run=_run,
)

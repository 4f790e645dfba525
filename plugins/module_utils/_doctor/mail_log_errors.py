# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mail_log_errors: the last lines of the mail log have no SYSERR, panic or "not qualified" line."""

import os
import re

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import Check, result

NAME = "mail_log_errors"
MAIL_LOGS = ("/var/log/mail.log", "/var/log/maillog")
LOG_MATCH = re.compile(r"error|SYSERR|fatal|panic|cannot|not qualified|unqualified|warning", re.IGNORECASE)
LOG_SEVERE = re.compile(r"SYSERR|panic|not qualified|unqualified host name", re.IGNORECASE)


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


def check(lines, source):
    """The chapter's `tail -f /var/log/maillog`: SYSERR, panic and "not qualified" lines are problems."""
    if lines is None:
        return result(NAME, None, "no mail log: %s" % source)
    if not lines:
        return result(NAME, None, "%s has no lines" % source)
    matching = [ln for ln in lines if LOG_MATCH.search(ln)]
    if not matching:
        return result(NAME, True, "nothing alarming in the last %d lines of %s" % (len(lines), source))
    severe = any(LOG_SEVERE.search(ln) for ln in matching)
    head = "%d of the last %d lines of %s mention errors or warnings; the last ones:" % (
        len(matching), len(lines), source)
    return result(NAME, False if severe else None, "\n".join([head] + matching[-5:]))


CHECK = Check(
    name=NAME,
    sections=("The /var/log/maillog File", "Incorrectly Configured /etc/hosts Files", "Always Start with Logging"),
    doc="Reads the last log_lines (200) lines of mail_log, else of /var/log/mail.log or /var/log/maillog, else of"
        " the journal of the sendmail and dovecot units; keeps the lines that mention error, SYSERR, fatal, panic,"
        " cannot, (un)qualified or warning and shows the last five. OK when there is no such line. SYSERR, panic"
        " and 'not qualified'/'unqualified host name' (the chapter's examples) are a FAIL; other matches, and a"
        " log that cannot be read or is empty, are undecided.",
    inputs=("mail_log", "log_lines", "run", "tool"),
    run=lambda i: check(*read_mail_log(i.mail_log, i.log_lines, i.run, i.tool("journalctl"))),
)

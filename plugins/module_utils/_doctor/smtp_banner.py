# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""smtp_banner: the SMTP port answers with a 220 greeting."""

import smtplib

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import (
    Check,
    refuse_la_hint,
    result,
    smtp_close,
    smtp_connect,
)

NAME = "smtp_banner"


def check(address, port, timeout=15, sendmail_cf=None):
    """Step 1 of "Further Testing of TCP connectivity": the port answers 220."""
    try:
        client, code, banner = smtp_connect(address, port, timeout)
    except (OSError, smtplib.SMTPException) as exc:
        hint = refuse_la_hint(sendmail_cf) if isinstance(exc, ConnectionRefusedError) else ""
        return result(NAME, False, "%s port %s: %s%s" % (address, port, exc, "\n" + hint if hint else ""))
    smtp_close(client)
    return result(NAME, code == 220, "%s %s" % (code, banner))


CHECK = Check(
    name=NAME,
    sections=("Testing TCP connectivity", "Further Testing of TCP connectivity"),
    doc="Connects to smtp_address:smtp_port (the address sendmail listens on; 127.0.0.1 when it listens on every"
        " interface), as step 1 of the chapter's telnet session. OK when the greeting is a 220; a refused or"
        " timed-out connection is a FAIL; a refused one says so when the load average is at or above sendmail's"
        " RefuseLA (sendmail closes its sockets above it).",
    inputs=("smtp_address", "smtp_port", "timeout", "sendmail_cf"),
    run=lambda i: check(i.smtp_address, i.smtp_port, i.timeout, i.sendmail_cf),
)

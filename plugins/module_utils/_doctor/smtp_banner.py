# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""smtp_banner: the SMTP port answers with a 220 greeting."""

import smtplib

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import (
    Check,
    result,
    smtp_close,
    smtp_connect,
)

NAME = "smtp_banner"


def check(address, port, timeout=15):
    """Step 1 of "Further Testing of TCP connectivity": the port answers 220."""
    try:
        client, code, banner = smtp_connect(address, port, timeout)
    except (OSError, smtplib.SMTPException) as exc:
        return result(NAME, False, "%s port %s: %s" % (address, port, exc))
    smtp_close(client)
    return result(NAME, code == 220, "%s %s" % (code, banner))


CHECK = Check(
    name=NAME,
    sections=("Testing TCP connectivity", "Further Testing of TCP connectivity"),
    doc="Connects to smtp_address:smtp_port (the address sendmail listens on; 127.0.0.1 when it listens on every"
        " interface), as step 1 of the chapter's telnet session. OK when the greeting is a 220; a refused or"
        " timed-out connection is a FAIL.",
    inputs=("smtp_address", "smtp_port", "timeout"),
    run=lambda i: check(i.smtp_address, i.smtp_port, i.timeout),
)

# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""no_open_relay: the server refuses to relay for an untrusted address (an SMTP session that never sends DATA)."""

import smtplib

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import (
    Check,
    result,
    smtp_close,
    smtp_connect,
)

NAME = "no_open_relay"


def check(address, port, source, recipient, *, sender="", helo="relay-probe.invalid", timeout=15):
    """EHLO, MAIL, RCPT from an untrusted address: the RCPT must be refused. Never DATA."""
    where = "from %s to %s port %s" % (source, address, port)
    try:
        client, code, banner = smtp_connect(address, port, timeout, source)
    except (OSError, smtplib.SMTPException) as exc:
        return result(NAME, None, "%s: no SMTP session (%s)" % (where, exc))
    try:
        if code != 220:
            return result(NAME, None, "%s: banner %s %s" % (where, code, banner))
        if client.ehlo(helo)[0] != 250:
            client.helo(helo)
        code, text = client.mail(sender)
        if code != 250:
            return result(NAME, None, "%s: MAIL FROM:<%s> answered %s %s; cannot tell"
                          % (where, sender, code, text.decode("utf-8", "replace")))
        code, text = client.rcpt(recipient)
        reply = "%s %s" % (code, text.decode("utf-8", "replace"))
        client.rset()
    except (OSError, smtplib.SMTPException) as exc:
        return result(NAME, None, "%s: session broken (%s)" % (where, exc))
    finally:
        smtp_close(client)
    detail = "%s: RCPT TO:<%s> answered %s" % (where, recipient, reply)
    if 200 <= code < 300:
        return result(NAME, False, detail + " -- an open relay")
    if 500 <= code < 600:
        return result(NAME, True, detail)
    return result(NAME, None, detail + " -- temporary answer, cannot tell")


CHECK = Check(
    name=NAME,
    sections=("Further Testing of TCP connectivity", "Incorrectly Configured /etc/hosts Files"),
    doc="An SMTP session from untrusted_source (127.0.0.66 by default): EHLO, MAIL FROM:<relay_probe_sender>,"
        " RCPT TO:<relay_probe_recipient>, RSET, QUIT; never DATA, so even an open relay queues nothing. OK when"
        " RCPT is refused with a 5xx (550 5.7.1 ... Relaying denied); a 2xx is an open relay (FAIL); a 4xx"
        " (greylisting), a refused MAIL or no session leaves the check undecided.",
    inputs=("smtp_address", "smtp_port", "untrusted_source", "relay_probe_recipient", "relay_probe_sender", "timeout"),
    run=lambda i: check(i.smtp_address, i.smtp_port, i.untrusted_source, i.relay_probe_recipient,
                        sender=i.relay_probe_sender, timeout=i.timeout),
)

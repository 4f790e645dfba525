# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fqdn_qualified: sendmail's $j is the qualified FQDN."""

import re

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import Check, result

NAME = "fqdn_qualified"


def check(fqdn, run, sendmail):
    """`sendmail -d0.1 -bt < /dev/null` shows a qualified $j equal to the FQDN."""
    if not sendmail:
        return result(NAME, None, "sendmail is not installed")
    rc, out, err = run([sendmail, "-d0.1", "-bt"], data="\n")
    text = (out or "") + (err or "")
    warning = next((ln.strip() for ln in text.splitlines() if "not qualified" in ln), "")
    if warning:
        return result(NAME, False, warning)
    found = re.search(r"\(canonical domain name\)\s*\$j\s*=\s*(\S+)", text)
    if not found:
        return result(NAME, False, "sendmail -d0.1 -bt (rc %s) shows no $j: %s" % (rc, text.strip()[-300:]))
    j = found.group(1)
    if j.rstrip(".").lower() != fqdn.rstrip(".").lower():
        return result(NAME, False, "$j = %s, expected %s" % (j, fqdn))
    return result(NAME, True, "$j = %s" % j)


CHECK = Check(
    name=NAME,
    sections=("Incorrectly Configured /etc/hosts Files", "Configure The /etc/resolv.conf File"),
    doc="Runs sendmail -d0.1 -bt < /dev/null. OK when it shows '(canonical domain name) $j = FQDN' and no"
        " 'local host name (...) is not qualified' warning; undecided when sendmail is not installed.",
    inputs=("fqdn", "run", "tool"),
    run=lambda i: check(i.fqdn, i.run, i.tool("sendmail")),
)

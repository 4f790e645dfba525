# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hosts_fqdn_first: the first 127.0.0.1 line of /etc/hosts names the FQDN first."""

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import Check, read_text, result

NAME = "hosts_fqdn_first"


def check(fqdn, hosts_path="/etc/hosts"):
    """The first 127.0.0.1 line must begin with the FQDN ("The /etc/hosts File")."""
    fqdn = fqdn.rstrip(".").lower()
    text = read_text(hosts_path)
    if text is None:
        return result(NAME, False, "%s cannot be read" % hosts_path)
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if fields and fields[0] == "127.0.0.1":
            break
    else:
        return result(NAME, False, "%s has no 127.0.0.1 line" % hosts_path)
    shown = line.strip()
    names = [n.lower() for n in fields[1:]]
    first = names[0].rstrip(".") if names else ""
    if "." not in fqdn:
        return result(NAME, False, "%s (the FQDN %s itself has no domain)" % (shown, fqdn))
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
        return result(NAME, False, "%s -- %s" % (shown, why))
    if "localhost" not in names:
        return result(NAME, False, "%s -- localhost is missing from the line" % shown)
    return result(NAME, True, shown)


CHECK = Check(
    name=NAME,
    sections=("The /etc/hosts File", "Incorrectly Configured /etc/hosts Files"),
    doc="Reads the first 127.0.0.1 line of /etc/hosts. OK when the FQDN is the first name (and has a dot) and"
        " localhost is on the line. The detail names the chapter's two wrong lines: the host name alone first"
        " (sendmail warns 'not qualified' and sends as localhost.localdomain) and the bare domain first (sendmail"
        " takes the host for my-site in domain com and relays for all of .com).",
    inputs=("fqdn",),
    run=lambda i: check(i.fqdn),
)

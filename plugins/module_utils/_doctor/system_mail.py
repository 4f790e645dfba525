# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""system_mail: local mail (sendmail root, cron) is not sent to an address that a domain catch-all refuses."""

import os
import re

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import Check, read_text, result

NAME = "system_mail"
VIRTUSERTABLE = "/etc/mail/virtusertable"


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
    _local, _sep, domain = address.lower().rpartition("@")
    target = virtusertable.get(address.lower())
    if target is None:
        target = virtusertable.get("@" + domain, "")
    return target if target.lower().startswith("error:") else ""


def check(fqdn, submit_cf_text, virtusertable_text, aliases_text):
    """Local mail (sendmail root, cron, mail -s) must not go to an address that a domain catch-all refuses.

    The trap: the MSP qualifies bare recipients with the masquerade domain (recipient masquerading), that
    domain's virtusertable catch-all refuses unknown users, and a name local mail goes to (an alias such as
    root, or a bare alias member) has no entry of its own there. Alias members written as addresses that a
    catch-all refuses bounce whatever the MSP does.
    """
    if submit_cf_text is None:
        return result(NAME, None, "no MSP configuration (submit.cf) to read")
    virtusertable = read_virtusertable(virtusertable_text)
    if not any(key.startswith("@") and target.lower().startswith("error:") for key, target in virtusertable.items()):
        return result(NAME, True, "no virtusertable catch-all refuses unknown users")
    domain, how = msp_recipient_domain(submit_cf_text, fqdn)
    if domain is None:
        return result(NAME, None, "submit.cf has %s" % how)
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
        return result(NAME, False, "\n".join(lines))
    return result(NAME, True, "bare recipients go to %s (%s); no alias or member meets a refusing catch-all"
                  % (domain, how.split(":", maxsplit=1)[0]))


def _run(i):
    virtusertable = next((m for m in i.maps if os.path.basename(m) == "virtusertable"), VIRTUSERTABLE)
    return check(i.fqdn, read_text(i.submit_cf), read_text(virtusertable), read_text(i.aliases))


CHECK = Check(
    name=NAME,
    sections=("The /etc/aliases File", "Sendmail Masquerading Explained", "The /etc/mail/virtusertable file"),
    doc="Reads the MSP's submit_cf for the domain it qualifies a bare recipient with (the last rule of"
        " FEATURE(msp): $M, the masquerade domain, when masquerade_envelope came before FEATURE(msp); else $j,"
        " this host), the virtusertable of maps and the aliases file. OK when no name that local mail goes to"
        " (root, postmaster, every alias name and every bare alias member) becomes an address that a refusing"
        " catch-all (@my-site.com error:nouser User unknown) meets, and no alias member written as an address"
        " meets one; also OK without a refusing catch-all. A FAIL names the addresses that would bounce."
        " Undecided without submit.cf.",
    inputs=("fqdn", "maps", "submit_cf", "aliases"),
    run=_run,
)

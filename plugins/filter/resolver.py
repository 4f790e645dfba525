# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the resolver role: the /etc/hosts loopback line and name checks."""

from ansible.errors import AnsibleFilterError
from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V

# Documentation: one NAME.yml per filter beside this file (ansible-doc -t filter
# homelab.mailserver.NAME); a file holding several filters has no DOCUMENTATION.


def _require(message):
    if message:
        raise AnsibleFilterError(message)


def _require_names(where, names):
    """Each of NAMES is a host name: nothing else may reach an /etc/hosts line (a space or newline would add names or lines)."""
    if not isinstance(names, list):
        raise AnsibleFilterError(V.problem(where, names, "a list of host names"))
    for index, name in enumerate(names):
        _require(V.check_hostname(name, f"{where}[{index}]"))


def hostname_problem(name):
    """Return why NAME is not a valid DNS host name, or an empty string."""
    if not isinstance(name, str) or not name:
        return "it is empty"
    return "" if V.is_hostname(name) else V.name_reason(name)


def _names(problems, name, value, check):
    """Each item of the list VALUE checked by CHECK(item, 'NAME[i]'); a non-list is one problem."""
    if not isinstance(value, list):
        problems.add(name, value, "a list")
        return []
    for index, item in enumerate(value):
        problems.check(check, item, f"{name}[{index}]")
    return value


def resolver_problems(data):
    """Every problem with the resolver role's variables (DATA: variable name -> value), one message each."""
    if not isinstance(data, dict):
        return [V.problem("resolver_problems input", data, "a dictionary of the resolver variables")]
    problems = V.Problems()
    hostname = data.get("resolver_hostname")
    fqdn = data.get("resolver_fqdn")
    domain = data.get("resolver_domain") or ""
    fixed = data.get("__resolver_loopback_fixed") or ["localhost.localdomain", "localhost"]

    if domain != "":
        # resolv.conf's domain line (and the FQDN's default): one domain name on the line
        problems.check(V.check_mail_domain, domain, "resolver_domain")
    short_ok = V.is_short_hostname(hostname)
    if not short_ok:
        why = (V.name_reason(hostname) or "it contains a dot") if isinstance(hostname, str) else "it is not a string"
        problems.add("resolver_hostname", hostname, (
            f"{V.VALID_SHORT_HOSTNAME} ({why}): give one label such as 'bigboy' and the domain in resolver_domain"))

    if not V.is_fqdn(fqdn):
        why = V.name_reason(fqdn) if isinstance(fqdn, str) else "it is not a string"
        problems.add("resolver_fqdn", fqdn, (
            f"{V.VALID_FQDN} ({why or 'it is not qualified'}): sendmail would warn \"local host name ({fqdn}) is "
            "not qualified\" and send mail as localhost.localdomain. Set resolver_domain (for example 'my-site.com') "
            f"or give resolver_fqdn as host.domain (for example '{hostname}.my-site.com')"))
    else:
        first, rest = fqdn.split(".", 1)
        if short_ok and first != hostname:
            problems.add("resolver_fqdn", fqdn, (
                f"a name that starts with resolver_hostname '{hostname}', such as '{hostname}.{rest}': otherwise "
                "the 127.0.0.1 line would name two different hosts"))
        mail_domains = [d.lower() for d in (data.get("resolver_mail_domains") or []) + (
            data.get("resolver_dependent_mail_domains") or []) if isinstance(d, str)]
        if fqdn.lower() in mail_domains or (V.is_str(domain) and fqdn.lower() == domain.lower()):
            problems.add("resolver_fqdn", fqdn, (
                f"a host name, not a mail domain: with \"127.0.0.1 {fqdn} localhost.localdomain localhost\" sendmail "
                f"takes '{first}' as the host and '{rest}' as its domain and relays for all of it (the chapter's "
                f"open-relay case). Name the host, for example '{hostname}.{fqdn}'"))

    written = [fqdn, hostname, *fixed]
    for index, alias in enumerate(_names(problems, "resolver_loopback_aliases", data.get("resolver_loopback_aliases", []),
                                         V.check_hostname)):
        if alias in written:
            problems.add(f"resolver_loopback_aliases[{index}]", alias, (
                "an extra name: the role already writes " + " ".join(str(n) for n in written[:1] + fixed + written[1:2])
                + " in this order (FQDN first, the short name last); list only extra names"))

    nameservers = _names(problems, "resolver_nameservers", data.get("resolver_nameservers", []), V.check_ip_address)
    if not nameservers and data.get("resolver_manage_resolv_conf"):
        problems.add("resolver_nameservers", nameservers,
                     "one to three IPv4 or IPv6 addresses when resolver_manage_resolv_conf is true")

    search = _names(problems, "resolver_search", data.get("resolver_search", []), V.check_hostname)
    if len(search) > 6:
        problems.add("resolver_search", search, "at most six domain names")
    for name in ("resolver_mail_domains", "resolver_dependent_mail_domains"):
        _names(problems, name, data.get(name) or [], V.check_mail_domain)

    entries = data.get("resolver_hosts_entries", [])
    if not isinstance(entries, list):
        problems.add("resolver_hosts_entries", entries, "a list of {address, names}")
        entries = []
    for index, entry in enumerate(entries):
        where = f"resolver_hosts_entries[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"address", "names"}:
            problems.add(where, entry, "a dictionary {address, names}")
            continue
        address = entry["address"]
        if not V.is_ip_address(address) or address == "127.0.0.1":
            problems.add(where + ".address", address, (
                "an IPv4 or IPv6 address other than 127.0.0.1 (use resolver_loopback_aliases for that line)"))
        names = entry["names"]
        if not isinstance(names, list) or not names:
            problems.add(where + ".names", names, "a non-empty list of host names")
            continue
        for position, name in enumerate(names):
            problems.check(V.check_hostname, name, f"{where}.names[{position}]")
    return list(problems)


def hosts_entries(content, entries):
    """Return CONTENT with one line per entry ``{address, names}``.

    An existing line for the address is replaced in place; otherwise the line
    is appended. Other lines are kept as they were.
    """
    out = (content or "").splitlines()
    for entry in entries or []:
        address, names = entry.get("address"), entry.get("names") or []
        if not address or not names:
            raise AnsibleFilterError("hosts_entries: each entry needs an address and a list of names: %r" % (entry,))
        _require(V.check_ip_address(address, "hosts_entries: address"))
        _require_names("hosts_entries: names", names)
        line = "%s\t%s" % (address, " ".join(names))
        for index, existing in enumerate(out):
            if existing.split("#", 1)[0].split()[:1] == [address]:
                out[index] = line
                break
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def hosts_loopback(content, names):
    """Return CONTENT (an /etc/hosts text) with NAMES as the 127.0.0.1 line.

    The first 127.0.0.1 line becomes ``127.0.0.1<TAB>names...``; the names are
    taken off any later 127.0.0.1 line (a line left with no name is dropped);
    every other line is kept as it was.
    """
    if not names:
        raise AnsibleFilterError("hosts_loopback: no names given for the 127.0.0.1 line")
    _require_names("hosts_loopback: names", names)
    wanted = set(names)
    new_line = "127.0.0.1\t" + " ".join(names)
    out = []
    placed = False
    for line in (content or "").splitlines():
        fields = line.split("#", 1)[0].split()
        if not fields or fields[0] != "127.0.0.1":
            out.append(line)
            continue
        if not placed:
            out.append(new_line)
            placed = True
            continue
        rest = [n for n in fields[1:] if n not in wanted]
        if rest:
            out.append("127.0.0.1\t" + " ".join(rest))
    if not placed:
        out.insert(0, new_line)
    return "\n".join(out) + "\n"


class FilterModule:
    """Resolver filters."""

    def filters(self):
        return {
            "hosts_loopback": hosts_loopback,
            "hosts_entries": hosts_entries,
            "hostname_problem": hostname_problem,
            "resolver_problems": resolver_problems,
        }

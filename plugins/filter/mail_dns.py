# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS records a mail server's domains need (MX, SPF, DKIM, DMARC, A/AAAA, PTR) and their zone-file text."""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError
from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V

# Documentation: one NAME.yml per filter beside this file (ansible-doc -t filter
# homelab.mailserver.NAME); a file holding several filters has no DOCUMENTATION.

DMARC_POLICIES = ("none", "quarantine", "reject")


def _fail(text):
    raise AnsibleFilterError(text)


def _fqdn(name, what):
    """NAME as an absolute, lower-case domain name; a problem names WHAT."""
    _require(V.check_domain(name, what))
    return name.rstrip(".").lower() + "."


def _require(message):
    if message:
        _fail(message)


def txt_strings(value):
    """Split a TXT value into character-strings of at most 255 octets."""
    data = value.encode("utf-8")
    return [data[i:i + 255].decode("utf-8", "strict") for i in range(0, len(data), 255)] or [""]


def _quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _record(zone, name, rtype, ttl, value):
    record = {"zone": zone, "name": name, "type": rtype, "ttl": ttl, "value": value}
    if rtype == "TXT":
        record["strings"] = txt_strings(value)
    return record


def reverse_zone(address):
    """The reverse zone a PTR record of ADDRESS normally lives in (IPv4 /24, IPv6 /64)."""
    ip = ipaddress.ip_address(address)
    labels = ip.reverse_pointer.split(".")
    keep = 3 if ip.version == 4 else 16
    return ".".join(labels[len(labels) - keep - 2:]) + "."


def mail_dns_records(domains, server, addresses=None, dkim=None, mx_priority=10, spf_all="-all",
                     dmarc_policy="none", dmarc_rua="postmaster", ttl=3600):
    """Return the records to publish (see mail_dns_records.yml)."""
    if not isinstance(domains, (list, tuple)):
        _fail(V.problem("mail_dns_records: input", domains, "a list of domain names"))
    server = _fqdn(server, "mail_dns_records: server")
    dkim = dkim or {}
    if not isinstance(dkim, dict):
        _fail(V.problem("mail_dns_records: dkim", dkim, "a dictionary of domain to {selector, value}"))
    if spf_all not in ("-all", "~all", "?all"):
        _fail(V.problem("mail_dns_records: spf_all", spf_all, "-all, ~all or ?all"))
    if dmarc_policy not in DMARC_POLICIES:
        _fail(V.problem("mail_dns_records: dmarc_policy", dmarc_policy, "one of " + ", ".join(DMARC_POLICIES)))
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
        _fail(V.problem("mail_dns_records: ttl", ttl, "a non-negative integer"))
    if not isinstance(mx_priority, int) or isinstance(mx_priority, bool) or not 0 <= mx_priority <= 65535:
        _fail(V.problem("mail_dns_records: mx_priority", mx_priority, "an integer 0-65535"))
    ips = []
    for index, address in enumerate(addresses or []):
        _require(V.check_ip_address(address, f"mail_dns_records: addresses[{index}]"))
        ips.append(ipaddress.ip_address(address))
    unknown = sorted(set(dkim) - {str(d).rstrip(".").lower() for d in domains})
    if unknown:
        _fail(V.problem("mail_dns_records: dkim", unknown, "keys among the domains (these are not among the domains)"))

    spf = ["v=spf1", "mx"]
    spf += [("ip4:" if ip.version == 4 else "ip6:") + str(ip) for ip in ips]
    spf.append(spf_all)
    records = []
    seen = set()
    for domain in domains:
        zone = _fqdn(domain, "mail_dns_records: domain")
        if zone in seen:
            _fail(V.problem("mail_dns_records: domains", domain, "a domain listed once (it is listed twice)"))
        seen.add(zone)
        records.append(_record(zone, zone, "MX", ttl, f"{mx_priority} {server}"))
        records.append(_record(zone, zone, "TXT", ttl, " ".join(spf)))
        key = dkim.get(zone.rstrip("."))
        if key is not None:
            where = f"mail_dns_records: dkim[{domain!r}]"
            if not isinstance(key, dict) or not key.get("selector") or not key.get("value"):
                _fail(V.problem(where, key, "a dictionary with a selector and a value"))
            selector = str(key["selector"])
            _require(V.check_dkim_selector(selector, where + ".selector"))
            value = str(key["value"])
            if not V.is_dkim_record(value):
                _fail(V.problem(where + ".value", value, "a DKIM key record (v=DKIM1; ... p=...)"))
            records.append(_record(zone, f"{selector}._domainkey.{zone}", "TXT", ttl, value))
        dmarc = f"v=DMARC1; p={dmarc_policy}"
        if dmarc_rua:
            dmarc += f"; rua=mailto:{dmarc_rua}@{zone.rstrip('.')}"
        records.append(_record(zone, f"_dmarc.{zone}", "TXT", ttl, dmarc))
    server_zone = server.split(".", 1)[1] if server.count(".") > 1 else server
    for ip in ips:
        records.append(_record(server_zone, server, "A" if ip.version == 4 else "AAAA", ttl, str(ip)))
    for ip in ips:
        records.append(_record(reverse_zone(str(ip)), ip.reverse_pointer + ".", "PTR", ttl, server))
    return records


def _spf_terms(value):
    terms = value.split()
    return terms[1:-1], terms[-1]


def mail_dns_merge(per_host):
    """One consistent record set from several servers' mail_dns_records results (see mail_dns_merge.yml)."""
    if not isinstance(per_host, dict):
        _fail(V.problem("mail_dns_merge: input", per_host, "a dictionary of host name to the list mail_dns_records returns"))
    merged = []
    index = {}
    owner = {}
    for host, records in per_host.items():
        if not isinstance(records, (list, tuple)):
            _fail(V.problem(f"mail_dns_merge: input[{host!r}]", records, "the list mail_dns_records returns"))
        for record in records:
            if not isinstance(record, dict) or not {"zone", "name", "type", "ttl", "value"} <= set(record):
                _fail(V.problem(f"mail_dns_merge: input[{host!r}]", record, "records as mail_dns_records returns them"))
            name, rtype, value = record["name"], record["type"], record["value"]
            is_spf = rtype == "TXT" and value.startswith("v=spf1 ")
            is_dmarc = rtype == "TXT" and name.startswith("_dmarc.")
            # one value per name: SPF and DMARC (RFC 7208 3.2, RFC 7489 6.6.3), DKIM keys and PTR names
            single = is_spf or is_dmarc or rtype in ("PTR", "TXT")
            key = (name, rtype, "spf" if is_spf else "") if single else (name, rtype, value)
            if key not in index:
                index[key] = len(merged)
                owner[key] = host
                merged.append(dict(record))
                continue
            kept = merged[index[key]]
            if not single or kept["value"] == value:
                continue
            if is_spf:
                old_terms, old_all = _spf_terms(kept["value"])
                new_terms, new_all = _spf_terms(value)
                if old_all != new_all:
                    _fail(f"mail_dns_merge: the SPF record of {name} ends in {old_all} on {owner[key]} but {new_all} on "
                          f"{host}: set dns_records_spf_all to the same value for every server of the domain")
                terms = old_terms + [t for t in new_terms if t not in old_terms]
                kept.update(_record(kept["zone"], name, "TXT", kept["ttl"], " ".join(["v=spf1", *terms, old_all])))
                continue
            what = {"PTR": "reverse name", "TXT": "DMARC policy" if is_dmarc else "DKIM key"}[rtype]
            hint = {"PTR": "an address belongs to one server",
                    "TXT": "set dns_records_dmarc_policy and dns_records_dmarc_rua to the same values for every server of "
                           "the domain" if is_dmarc else
                           "give each server its own selector (opendkim_selector in host_vars) or share one key "
                           "(opendkim_key_source: controller)"}[rtype]
            _fail(f"mail_dns_merge: {owner[key]} and {host} publish a different {what} at {name} "
                  f"({kept['value']!r} and {value!r}): {hint}")
    zones = list(dict.fromkeys(r["zone"] for r in merged))
    return sorted(merged, key=lambda r: (zones.index(r["zone"]), _order(r)))


def _order(record):
    """Where a record goes in its zone: MX by priority, SPF, DKIM, DMARC, then the servers' own records."""
    rtype, name = record["type"], record["name"]
    if rtype == "MX":
        return (0, int(record["value"].split()[0]), "")
    if rtype == "TXT":
        return (1 if record["value"].startswith("v=spf1 ") else 3 if name.startswith("_dmarc.") else 2, 0, name)
    return (4, 0, "")


def _rdata(record):
    if record["type"] == "TXT":
        return " ".join(_quote(s) for s in record["strings"])
    return record["value"]


def mail_dns_zone(records, header="Records to publish for the mail domains (homelab.mailserver)"):
    """Render records as zone-file text, grouped by zone, with absolute names."""
    if not isinstance(records, (list, tuple)):
        _fail(V.problem("mail_dns_zone: input", records, "the list mail_dns_records returns"))
    lines = [f"; {header}"] if header else []
    zones = []
    for record in records:
        if record["zone"] not in zones:
            zones.append(record["zone"])
    for zone in zones:
        lines += ["", f"; zone {zone}"]
        for record in records:
            if record["zone"] == zone:
                lines.append("{}\t{}\tIN\t{}\t{}".format(record["name"], record["ttl"], record["type"], _rdata(record)))
    return "\n".join(lines) + "\n"


def mail_dkim_txt(text):
    """The TXT value of an opendkim-genkey .txt file: its quoted strings joined."""
    value = V.dkim_txt_value(text)
    if value is None:
        _fail(V.problem("mail_dkim_txt: input", text[:200] if isinstance(text, str) else text,
                        "the text of an opendkim-genkey .txt file: it holds no DKIM key record (v=DKIM1; ... p=...)"))
    return value


VALID_PEER = "an address, a network or a host name (sendmail access key forms)"


def mail_peer_list(keys):
    """OpenDKIM/OpenDMARC host-list entries for sendmail access keys (RELAY clients).

    '192.168.2' (sendmail's network prefix) becomes '192.168.2.0/24', an address stays,
    'my-site.com' (a host name suffix) becomes 'my-site.com' and '.my-site.com'.
    """
    out = []
    for key in keys or []:
        key = str(key).strip()
        if key.lower().startswith(("connect:", "from:", "to:")):
            key = key.split(":", 1)[1]
        entries = []
        if key[:1].isdigit() and key.replace(".", "").isdigit():
            _require(V.check_ipv4_prefix(key, "mail_peer_list"))
            parts = key.split(".")
            entries = [key] if len(parts) == 4 else [".".join(parts + ["0"] * (4 - len(parts))) + "/%d" % (8 * len(parts))]
        elif key.lower().startswith("ipv6:"):
            entries = [key[5:]]
        elif ":" in key or "/" in key:
            try:
                entries = [str(ipaddress.ip_network(key, strict=False))]
            except ValueError:
                _fail(V.problem("mail_peer_list", key, VALID_PEER))
        elif V.is_domain(key) and not key.endswith("."):
            entries = [key.lower(), "." + key.lower()] if "." in key else [key.lower()]
        else:
            _fail(V.problem("mail_peer_list", key, VALID_PEER))
        for entry in entries:
            if entry not in out:
                out.append(entry)
    return out


def mail_dkim_keys(domains, selector="mail", selectors=None, key_dir="/etc/dkimkeys"):
    """One C({domain, selector, dir, private, txt}) per domain: where opendkim-genkey puts its key."""
    selectors = selectors or {}
    if not isinstance(selectors, dict):
        _fail(V.problem("mail_dkim_keys: selectors", selectors, "a dictionary of domain to selector"))
    unknown = sorted(set(selectors) - set(domains or []))
    if unknown:
        _fail(V.problem("mail_dkim_keys: selectors", unknown, "keys that are signing domains (these are not signing domains)"))
    _require(V.check_abs_path(key_dir, "mail_dkim_keys: key directory"))
    out = []
    for domain in domains or []:
        name = _fqdn(domain, "mail_dkim_keys: domain").rstrip(".")
        chosen = str(selectors.get(domain, selector))
        _require(V.check_dkim_selector(chosen, f"mail_dkim_keys: selector of {domain}"))
        folder = f"{key_dir.rstrip('/')}/{name}"
        out.append({"domain": name, "selector": chosen, "dir": folder,
                    "private": f"{folder}/{chosen}.private", "txt": f"{folder}/{chosen}.txt"})
    return out


class FilterModule:
    """homelab.mailserver DNS record filters."""

    def filters(self):
        return {
            "mail_dns_records": mail_dns_records,
            "mail_dns_zone": mail_dns_zone,
            "mail_dns_merge": mail_dns_merge,
            "mail_dkim_txt": mail_dkim_txt,
            "mail_dkim_keys": mail_dkim_keys,
            "mail_peer_list": mail_peer_list,
        }

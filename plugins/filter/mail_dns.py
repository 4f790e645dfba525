# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS records a mail server's domains need (MX, SPF, DKIM, DMARC, A/AAAA, PTR) and their zone-file text."""

from __future__ import annotations

import ipaddress
import re

from ansible.errors import AnsibleFilterError

# Documentation: one NAME.yml per filter beside this file (ansible-doc -t filter
# homelab.mailserver.NAME); a file holding several filters has no DOCUMENTATION.

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
_SELECTOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
DMARC_POLICIES = ("none", "quarantine", "reject")


def _fail(text):
    raise AnsibleFilterError(text)


def _fqdn(name, what):
    if not isinstance(name, str) or not name.strip(".") or len(name) > 253:
        _fail(f"{what} must be a domain name, got {name!r}")
    labels = name.rstrip(".").lower().split(".")
    for label in labels:
        if not _LABEL.match(label):
            _fail(f"{what} {name!r}: label {label!r} is not 1-63 letters, digits, '-' or '_'")
    return ".".join(labels) + "."


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
        _fail(f"mail_dns_records: input must be a list of domain names, got {type(domains).__name__}")
    server = _fqdn(server, "mail_dns_records: server")
    dkim = dkim or {}
    if not isinstance(dkim, dict):
        _fail("mail_dns_records: dkim must be a dictionary of domain to {selector, value}")
    if spf_all not in ("-all", "~all", "?all"):
        _fail(f"mail_dns_records: spf_all must be -all, ~all or ?all, got {spf_all!r}")
    if dmarc_policy not in DMARC_POLICIES:
        _fail("mail_dns_records: dmarc_policy must be one of {}, got {!r}".format(", ".join(DMARC_POLICIES), dmarc_policy))
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
        _fail(f"mail_dns_records: ttl must be a non-negative integer, got {ttl!r}")
    if not isinstance(mx_priority, int) or isinstance(mx_priority, bool) or not 0 <= mx_priority <= 65535:
        _fail(f"mail_dns_records: mx_priority must be 0-65535, got {mx_priority!r}")
    ips = []
    for address in addresses or []:
        try:
            ips.append(ipaddress.ip_address(str(address)))
        except ValueError:
            _fail(f"mail_dns_records: {address!r} in addresses is not an IPv4 or IPv6 address")
    unknown = sorted(set(dkim) - {str(d).rstrip(".").lower() for d in domains})
    if unknown:
        _fail("mail_dns_records: dkim has keys for {} which are not among the domains".format(", ".join(unknown)))

    spf = ["v=spf1", "mx"]
    spf += [("ip4:" if ip.version == 4 else "ip6:") + str(ip) for ip in ips]
    spf.append(spf_all)
    records = []
    seen = set()
    for domain in domains:
        zone = _fqdn(domain, "mail_dns_records: domain")
        if zone in seen:
            _fail(f"mail_dns_records: domain {domain!r} is listed twice")
        seen.add(zone)
        records.append(_record(zone, zone, "MX", ttl, f"{mx_priority} {server}"))
        records.append(_record(zone, zone, "TXT", ttl, " ".join(spf)))
        key = dkim.get(zone.rstrip("."))
        if key is not None:
            if not isinstance(key, dict) or not key.get("selector") or not key.get("value"):
                _fail(f"mail_dns_records: dkim[{domain!r}] needs a selector and a value")
            selector = str(key["selector"])
            if not _SELECTOR.match(selector):
                _fail(f"mail_dns_records: dkim[{domain!r}] selector {selector!r} is not a DNS label sequence")
            value = str(key["value"])
            if not value.startswith("v=DKIM1") or "p=" not in value:
                _fail(f"mail_dns_records: dkim[{domain!r}] value must be a DKIM key record (v=DKIM1; ... p=...)")
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


def _rdata(record):
    if record["type"] == "TXT":
        return " ".join(_quote(s) for s in record["strings"])
    return record["value"]


def mail_dns_zone(records, header="Records to publish for the mail domains (homelab.mailserver)"):
    """Render records as zone-file text, grouped by zone, with absolute names."""
    if not isinstance(records, (list, tuple)):
        _fail("mail_dns_zone: input must be the list mail_dns_records returns")
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
    if not isinstance(text, str):
        _fail("mail_dkim_txt: input must be the text of an opendkim-genkey .txt file")
    inside = text.split("(", 1)[1].rsplit(")", 1)[0] if "(" in text else text
    value = "".join(part.replace('\\"', '"').replace("\\\\", "\\") for part in _QUOTED.findall(inside))
    value = re.sub(r"\s+", " ", value).strip()
    if not value.startswith("v=DKIM1") or "p=" not in value:
        _fail(f"mail_dkim_txt: no DKIM key record (v=DKIM1; ... p=...) in {text[:200]!r}")
    return value


def mail_local_domains(domain_vars):
    """Local domain names of the mailserver_domain_* variables, in variable-name order."""
    if not isinstance(domain_vars, dict):
        _fail("mail_local_domains: input must be a dictionary of variable name to domain dictionary")
    out = []
    for varname in sorted(domain_vars):
        data = domain_vars[varname]
        if not isinstance(data, dict) or not isinstance(data.get("domain"), str):
            _fail(f"mail_local_domains: {varname} needs a 'domain' string")
        if data.get("local", True) and data["domain"] not in out:
            out.append(data["domain"])
    return out


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
        if re.match(r"^\d{1,3}(\.\d{1,3}){0,3}$", key):
            parts = key.split(".")
            if any(int(p) > 255 for p in parts):
                _fail(f"mail_peer_list: {key!r} is not an IPv4 address or prefix")
            entries = [key] if len(parts) == 4 else [".".join(parts + ["0"] * (4 - len(parts))) + "/%d" % (8 * len(parts))]
        elif key.lower().startswith("ipv6:"):
            entries = [key[5:]]
        elif ":" in key or "/" in key:
            try:
                entries = [str(ipaddress.ip_network(key, strict=False))]
            except ValueError:
                _fail(f"mail_peer_list: {key!r} is not an address, network or host name")
        elif key and "@" not in key:
            entries = [key.lower(), "." + key.lower()] if "." in key else [key.lower()]
        else:
            _fail(f"mail_peer_list: {key!r} is not an address, network or host name")
        for entry in entries:
            if entry not in out:
                out.append(entry)
    return out


def mail_dkim_keys(domains, selector="mail", selectors=None, key_dir="/etc/dkimkeys"):
    """One C({domain, selector, dir, private, txt}) per domain: where opendkim-genkey puts its key."""
    selectors = selectors or {}
    if not isinstance(selectors, dict):
        _fail("mail_dkim_keys: the per-domain selectors must be a dictionary of domain to selector")
    unknown = sorted(set(selectors) - set(domains or []))
    if unknown:
        _fail("mail_dkim_keys: selectors are given for {} which are not signing domains".format(", ".join(unknown)))
    if not isinstance(key_dir, str) or not key_dir.startswith("/"):
        _fail(f"mail_dkim_keys: the key directory must be an absolute path, got {key_dir!r}")
    out = []
    for domain in domains or []:
        name = _fqdn(domain, "mail_dkim_keys: domain").rstrip(".")
        chosen = str(selectors.get(domain, selector))
        if not _SELECTOR.match(chosen) or ".." in chosen:
            _fail(f"mail_dkim_keys: selector {chosen!r} of {domain} is not a DNS label sequence")
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
            "mail_dkim_txt": mail_dkim_txt,
            "mail_dkim_keys": mail_dkim_keys,
            "mail_local_domains": mail_local_domains,
            "mail_peer_list": mail_peer_list,
        }

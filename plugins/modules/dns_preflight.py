#!/usr/bin/python
# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS preflight for a mail host: does the FQDN resolve, do the MX records point here."""

DOCUMENTATION = r"""
---
module: dns_preflight
short_description: Check that a mail host's name and its domains' MX records resolve to it
version_added: "0.1.0"
description:
  - Runs the checks the chapter does by hand with C(host) before sendmail is configured;
    the host's fully qualified name resolves to an address, and each mail domain has an MX
    record whose exchanger is this host (by name, or by an address the host has).
  - Name lookups use the system resolver (C(getaddrinfo)); MX lookups send one UDP query to
    each name server of C(/etc/resolv.conf) in turn, as the C(host) command would (over TCP
    when the answer is truncated).
  - Reads only; never changes the host.
options:
  fqdn:
    description: The host's fully qualified name.
    type: str
    required: true
  domains:
    description: Mail domains whose MX records should point at this host.
    type: list
    elements: str
    default: []
  addresses:
    description: Addresses that belong to this host (for example C(ansible_facts.all_ipv4_addresses)).
    type: list
    elements: str
    default: []
  mode:
    description:
      - C(warn) reports problems as warnings; C(fail) fails the task when there is one.
    type: str
    choices: [warn, fail]
    default: warn
  timeout:
    description: Seconds to wait for each name server's answer.
    type: float
    default: 2.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
author:
  - Homelab Mailserver Developers (@homelab-mailserver)
"""

EXAMPLES = r"""
- name: Check the chapter's names before sendmail is configured
  homelab.mailserver.dns_preflight:
    fqdn: bigboy.my-site.com
    domains: [my-site.com, another-site.com]
    addresses: "{{ ansible_facts['all_ipv4_addresses'] }}"
    mode: fail
"""

RETURN = r"""
fqdn_addresses:
  description: Addresses the FQDN resolves to.
  returned: always
  type: list
  elements: str
  sample: [192.168.1.100]
mx:
  description: Exchangers found for each domain, lowest preference first.
  returned: always
  type: dict
  sample: {my-site.com: [bigboy.my-site.com]}
problems:
  description: What is wrong, one sentence each.
  returned: always
  type: list
  elements: str
  sample: ["my-site.com has no MX record"]
"""

import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.mailserver.plugins.module_utils._dns_query import NODATA, OK, query
from ansible_collections.homelab.mailserver.plugins.module_utils._dns_query import nameservers as _nameservers


def query_mx(domain, servers, timeout, port=53):
    """Return (exchangers sorted by preference, error text or '')."""
    answer = query(domain, "MX", servers, timeout, port=port)
    if answer.status in (OK, NODATA):
        return [name for _pref, name in sorted(answer.records)], ""
    return [], answer.error


def resolve(name):
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return []
    return sorted({info[4][0] for info in infos})


def run_checks(fqdn, domains, addresses, timeout, servers):
    problems = []
    fqdn = fqdn.rstrip(".").lower()
    own = set(addresses)
    fqdn_addresses = resolve(fqdn)
    if not fqdn_addresses:
        problems.append("the host name %s does not resolve to an address" % fqdn)
    own.update(fqdn_addresses)
    mx = {}
    for domain in domains:
        exchangers, error = query_mx(domain, servers, timeout)
        mx[domain] = exchangers
        if error:
            problems.append("MX lookup for %s failed: %s" % (domain, error))
        elif not exchangers:
            problems.append("%s has no MX record" % domain)
        elif not any(x == fqdn or own.intersection(resolve(x)) for x in exchangers):
            problems.append(
                "the MX record of %s names %s, not this host (%s)" % (domain, ", ".join(exchangers), fqdn)
            )
    return fqdn_addresses, mx, problems


def main():
    module = AnsibleModule(
        argument_spec={
            "fqdn": {"type": "str", "required": True},
            "domains": {"type": "list", "elements": "str", "default": []},
            "addresses": {"type": "list", "elements": "str", "default": []},
            "mode": {"type": "str", "choices": ["warn", "fail"], "default": "warn"},
            "timeout": {"type": "float", "default": 2.0},
        },
        supports_check_mode=True,
    )
    p = module.params
    fqdn_addresses, mx, problems = run_checks(
        p["fqdn"], p["domains"], p["addresses"], p["timeout"], _nameservers()
    )
    result = {"changed": False, "fqdn_addresses": fqdn_addresses, "mx": mx, "problems": problems}
    if problems and p["mode"] == "fail":
        module.fail_json(msg="DNS preflight: " + "; ".join(problems), **result)
    for problem in problems:
        module.warn("DNS preflight: " + problem)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

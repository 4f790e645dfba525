# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Merge every ``mailserver_domain_*`` variable into one mail domain model."""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_validate import (
    access_key as _access_key_problem,
)
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_validate import (
    alias_members as _alias_members_problem,
)

DOCUMENTATION = r"""
name: mail_domains
short_description: Merge the per-domain mail variables into one model
version_added: 0.1.0
author: Homelab Mailserver Developers (@homelab-mailserver)
description:
  - Takes a dictionary of variable name to domain dictionary, normally built from every
    C(mailserver_domain_*) variable a host can see, validates each domain dictionary and
    merges them, in variable-name order, into one model that the sendmail role writes into its
    maps and lists (the opendkim and opendmarc roles read the RELAY clients from it).
  - "A domain dictionary has the keys C(domain) (required), C(local) (default true: the domain and
    its C(hostnames) go into local-host-names), C(hostnames), C(users) (each with C(name) and the
    optional C(comment), C(addresses) (local parts), C(shell) and C(password) (a hash)), C(virtual)
    (local part to target), C(catchall), C(aliases) (name to members), C(relay_from) (access keys
    that may relay), C(access) (access key to action), C(relay_domain), C(masquerade), C(generics)
    (booleans, default false) and C(genericstable) (local user to address). Any other key is an error."
  - By convention the variable suffix is the group name and the group_vars file name, so
    C(mailserver_domain_my_site_com) lives in C(group_vars/my_site_com.yml); error messages
    name both.
  - A conflict (the same address mapped twice to different targets, the same alias defined
    twice, the same access key with two actions, ...) fails with a message naming both sources.
    So does a catch-all that refuses C(postmaster) or a genericstable address the domain's own
    catch-all refuses.
options:
  _input:
    description: Dictionary of variable name to domain dictionary; null for none.
    type: dict
    required: true
  server:
    description:
      - Server-wide data merged with the domains, as a dictionary with the optional keys
        C(access), C(virtusertable), C(genericstable), C(aliases) (dictionaries) and
        C(local_host_names), C(relay_domains), C(generics_domains), C(masquerade_domains)
        (lists). Each is reported in messages as C(sendmail_<key>).
      - The server's map entries come before the domains' own; its list entries after them.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Build the domain model
  ansible.builtin.debug:
    msg: >-
      {{ dict(names | zip(query('ansible.builtin.vars', *names)))
         | homelab.mailserver.mail_domains }}
  vars:
    names: "{{ query('ansible.builtin.varnames', '^mailserver_domain_') }}"
"""

RETURN = r"""
_value:
  description: The merged model.
  type: dict
  contains:
    domains: {description: Domain names (lower-case) in variable-name order., type: list, elements: str}
    local_host_names: {description: local-host-names lines., type: list, elements: str}
    relay_domains: {description: relay-domains lines., type: list, elements: str}
    generics_domains: {description: generics-domains lines., type: list, elements: str}
    masquerade_domains: {description: MASQUERADE_DOMAIN arguments., type: list, elements: str}
    unmasqueraded_domains:
      description: >-
        Names of the local domains with masquerade false (not in masquerade_domains); the sendmail role
        renders FEATURE(limited_masquerade) when this is not empty.
      type: list
      elements: str
    access: {description: "access entries C({key, value})", type: list, elements: dict}
    virtusertable: {description: "virtusertable entries C({key, value})", type: list, elements: dict}
    genericstable: {description: "genericstable entries C({key, value})", type: list, elements: dict}
    aliases: {description: "aliases C({name, members})", type: list, elements: dict}
    users: {description: "mail users C({name, comment, shell, password, domains, addresses})", type: list, elements: dict}
"""

PREFIX = "mailserver_domain_"

# key -> (expected python types, human name)
_DOMAIN_KEYS = {
    "domain": ((str,), "a string"),
    "local": ((bool,), "a boolean"),
    "hostnames": ((list,), "a list of host names"),
    "users": ((list,), "a list of user dictionaries"),
    "virtual": ((dict,), "a dictionary of local part to target"),
    "catchall": ((str,), "a string"),
    "aliases": ((dict,), "a dictionary of alias name to members"),
    "relay_from": ((list,), "a list of access keys"),
    "access": ((dict,), "a dictionary of access key to action"),
    "relay_domain": ((bool,), "a boolean"),
    "masquerade": ((bool,), "a boolean"),
    "generics": ((bool,), "a boolean"),
    "genericstable": ((dict,), "a dictionary of local user to address"),
}
_USER_KEYS = {
    "name": ((str,), "a string"),
    "comment": ((str,), "a string"),
    "addresses": ((list,), "a list of local parts"),
    "shell": ((str,), "a string"),
    "password": ((str,), "a string (password hash)"),
}
_SERVER_DICTS = ("access", "virtusertable", "genericstable", "aliases")
_SERVER_LISTS = ("local_host_names", "relay_domains", "generics_domains", "masquerade_domains")

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_LOCAL_PART_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_USER_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
_ALIAS_RE = re.compile(r"^[A-Za-z0-9_.+-]+$")
_ACCESS_ACTION_RE = re.compile(
    r"^(OK|RELAY|REJECT|DISCARD|SKIP|ERROR:.+|QUARANTINE:.+|[45]\d\d(\s.*)?)$"
)


def describe(varname):
    """'mailserver_domain_x (group_vars/x.yml)' or the plain name for other sources."""
    if varname.startswith(PREFIX):
        group = varname[len(PREFIX):]
        return f"{varname} (group_vars/{group}.yml)"
    return varname


def _fail(varname, text):
    raise AnsibleFilterError(f"mail_domains: {describe(varname)}: {text}")


def _type_name(value):
    if value is None:
        return "null"
    return type(value).__name__


def _check_keys(varname, where, data, spec):
    for key in data:
        if key not in spec:
            _fail(
                varname,
                "{}unknown key '{}'; allowed keys: {}".format(where, key, ", ".join(sorted(spec))),
            )
    for key, (types, human) in spec.items():
        if key in data and not isinstance(data[key], types):
            _fail(
                varname,
                f"{where}key '{key}' must be {human}, got {_type_name(data[key])}",
            )


def _str_list(varname, key, values, pattern=None, what="entry"):
    out = []
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            _fail(varname, "key '%s' item %d must be a string, got %s" % (key, index, _type_name(value)))
        value = str(value).strip()
        if not value or (pattern is not None and not pattern.match(value)):
            _fail(varname, "key '%s' item %d: '%s' is not a valid %s" % (key, index, value, what))
        out.append(value)
    return out


def _members(varname, key, name, members):
    if isinstance(members, str):
        members = [m.strip() for m in members.split(",")]
    if not isinstance(members, list) or not members:
        _fail(varname, f"key '{key}': alias '{name}' needs a non-empty list of members")
    out = []
    for member in members:
        if not isinstance(member, str) or not member.strip():
            _fail(varname, f"key '{key}': alias '{name}' has an empty or non-string member")
        out.append(member.strip())
    problem = _alias_members_problem(name, out)
    if problem:
        hint = " (the chapter's lists separate members with commas: peter, paul, mary)" if len(out) == 1 else ""
        _fail(varname, f"key '{key}': alias '{name}': {problem}{hint}")
    return out


class _Table:
    """Ordered key -> value table that remembers where each entry came from."""

    def __init__(self, what, strict=False):
        self.what = what
        self.strict = strict
        self.values = {}
        self.sources = {}

    def add(self, key, value, source):
        if key in self.values:
            if self.strict or self.values[key] != value:
                first = self.sources[key]
                raise AnsibleFilterError(
                    f"mail_domains: conflict in {self.what}: '{key}' is defined as '{_show(self.values[key])}' "
                    f"by {describe(first)} and as '{_show(value)}' by {describe(source)}"
                )
            return
        self.values[key] = value
        self.sources[key] = source

    def entries(self):
        return [{"key": k, "value": v} for k, v in self.values.items()]


def _show(value):
    if isinstance(value, list):
        return ",".join(value)
    return value


class _Model:
    def __init__(self):
        self.domains = _Table("domains", strict=True)
        self.access = _Table("access")
        self.virtusertable = _Table("virtusertable")
        self.genericstable = _Table("genericstable")
        self.aliases = _Table("aliases", strict=True)
        self.lists = {name: [] for name in _SERVER_LISTS}
        self.users = {}
        self.user_sources = {}
        self.unmasqueraded = []

    def add_list(self, name, values):
        for value in values:
            if value not in self.lists[name]:
                self.lists[name].append(value)

    def add_user(self, varname, domain, user, index):
        if not isinstance(user, dict):
            _fail(varname, "users item %d must be a dictionary, got %s" % (index, _type_name(user)))
        _check_keys(varname, "users item %d: " % index, user, _USER_KEYS)
        name = user.get("name")
        if not name or not _USER_RE.match(name):
            _fail(varname, "users item %d: 'name' must be a Linux user name, got '%s'" % (index, name))
        addresses = _str_list(varname, f"users[{name}].addresses", user.get("addresses", []), _LOCAL_PART_RE, "local part")
        for local_part in addresses:
            self.virtusertable.add(f"{local_part}@{domain}", name, varname)
        attrs = {k: user.get(k) for k in ("comment", "shell", "password")}
        if name in self.users:
            known = self.users[name]
            for attr, value in attrs.items():
                if value is not None and known[attr] is not None and value != known[attr]:
                    raise AnsibleFilterError(
                        "mail_domains: conflict in users: '{}' has {} '{}' in {} and '{}' in {}".format(
                            name, attr, "(hidden)" if attr == "password" else known[attr],
                            describe(self.user_sources[name]), "(hidden)" if attr == "password" else value,
                            describe(varname))
                    )
                if known[attr] is None:
                    known[attr] = value
            if domain not in known["domains"]:
                known["domains"].append(domain)
            known["addresses"].extend(f"{a}@{domain}" for a in addresses)
            return
        self.user_sources[name] = varname
        entry = {"name": name, "domains": [domain], "addresses": [f"{a}@{domain}" for a in addresses]}
        entry.update(attrs)
        self.users[name] = entry

    def result(self):
        out = {
            "domains": list(self.domains.values),
            "access": self.access.entries(),
            "virtusertable": self.virtusertable.entries(),
            "genericstable": self.genericstable.entries(),
            "aliases": [{"name": k, "members": v} for k, v in self.aliases.values.items()],
            "users": list(self.users.values()),
            "unmasqueraded_domains": [n for n in self.unmasqueraded if n not in self.lists["masquerade_domains"]],
        }
        out.update({name: list(values) for name, values in self.lists.items()})
        return out


def _add_domain(model, varname, data):
    if not isinstance(data, dict):
        _fail(varname, f"must be a dictionary describing one mail domain, got {_type_name(data)}")
    _check_keys(varname, "", data, _DOMAIN_KEYS)
    domain = data.get("domain")
    if not domain:
        _fail(varname, "key 'domain' is required (the mail domain name, e.g. my-site.com)")
    domain = domain.strip().lower()
    if not _DOMAIN_RE.match(domain) or domain.endswith("."):
        _fail(varname, f"key 'domain': '{domain}' is not a valid domain name")
    model.domains.add(domain, domain, varname)

    hostnames = [h.lower() for h in _str_list(varname, "hostnames", data.get("hostnames", []), _DOMAIN_RE, "host name")]
    names = [domain] + [h for h in hostnames if h != domain]
    if data.get("local", True):
        model.add_list("local_host_names", names)
    if data.get("relay_domain", False):
        model.add_list("relay_domains", [domain])
    if data.get("generics", False):
        model.add_list("generics_domains", names)
    if data.get("masquerade", False):
        model.add_list("masquerade_domains", [domain])
    elif data.get("local", True):
        # a local domain that keeps its own addresses: MASQUERADE_AS alone would masquerade
        # every local domain, so the role renders FEATURE(limited_masquerade) when this is not empty
        model.unmasqueraded.extend(n for n in names if n not in model.unmasqueraded)

    for index, user in enumerate(data.get("users", [])):
        model.add_user(varname, domain, user, index)

    for local_part, target in data.get("virtual", {}).items():
        local_part = str(local_part)
        if not _LOCAL_PART_RE.match(local_part) or "@" in local_part:
            _fail(varname, f"key 'virtual': '{local_part}' is not a local part (write the part before @{domain})")
        if not isinstance(target, str) or not target.strip():
            _fail(varname, f"key 'virtual': '{local_part}' needs a non-empty string target, got {_type_name(target)}")
        model.virtusertable.add(f"{local_part}@{domain}", target.strip(), varname)
    if "catchall" in data:
        if not data["catchall"].strip():
            _fail(varname, "key 'catchall' must not be empty")
        model.virtusertable.add(f"@{domain}", data["catchall"].strip(), varname)

    for name, members in data.get("aliases", {}).items():
        name = str(name)
        if not _ALIAS_RE.match(name):
            _fail(varname, f"key 'aliases': '{name}' is not a valid alias name")
        model.aliases.add(name, _members(varname, "aliases", name, members), varname)

    for key in _str_list(varname, "relay_from", data.get("relay_from", []), what="access key"):
        model.access.add(key, "RELAY", varname)
    _add_access(model, varname, "access", data.get("access", {}))

    for user, address in data.get("genericstable", {}).items():
        if not isinstance(address, str) or not address.strip():
            _fail(varname, f"key 'genericstable': '{user}' needs a non-empty string address")
        model.genericstable.add(str(user), address.strip(), varname)


def _add_access(model, varname, key, table):
    for access_key, action in table.items():
        access_key = str(access_key).strip()
        if not access_key or any(c.isspace() for c in access_key):
            _fail(varname, f"key '{key}': '{access_key}' is not a valid access key")
        problem = _access_key_problem(access_key)
        if problem:
            _fail(varname, f"key '{key}': '{access_key}': {problem}")
        action = action.strip() if isinstance(action, str) else action
        if not isinstance(action, str) or not _ACCESS_ACTION_RE.match(action):
            hint = " (use OK, not ACCEPT)" if isinstance(action, str) and action.upper() == "ACCEPT" else ""
            _fail(
                varname,
                f"key '{key}': '{access_key}' has invalid action '{action}'{hint}; valid: OK, RELAY, REJECT, DISCARD, SKIP, "
                "ERROR:text, QUARANTINE:text or an SMTP reply such as '550 text'",
            )
        model.access.add(access_key, action, varname)


def _check_server(server):
    if not isinstance(server, dict):
        raise AnsibleFilterError(f"mail_domains: 'server' must be a dictionary, got {_type_name(server)}")
    for key in server:
        if key not in _SERVER_DICTS + _SERVER_LISTS:
            raise AnsibleFilterError(f"mail_domains: unknown server key '{key}'")


def _add_server_tables(model, server):
    for key in _SERVER_DICTS:
        value = server.get(key) or {}
        name = f"sendmail_{key}"
        if not isinstance(value, dict):
            _fail(name, f"must be a dictionary, got {_type_name(value)}")
        if key == "access":
            _add_access(model, name, key, value)
        elif key == "aliases":
            for alias, members in value.items():
                model.aliases.add(str(alias), _members(name, key, alias, members), name)
        else:
            table = getattr(model, key)
            for map_key, map_value in value.items():
                if not isinstance(map_value, str) or not map_value.strip():
                    _fail(name, f"'{map_key}' needs a non-empty string value")
                table.add(str(map_key), map_value.strip(), name)


def _add_server_lists(model, server):
    for key in _SERVER_LISTS:
        value = server.get(key) or []
        name = f"sendmail_{key}"
        if not isinstance(value, list):
            _fail(name, f"must be a list, got {_type_name(value)}")
        model.add_list(key, _str_list(name, key, value, _DOMAIN_RE, "host or domain name"))


def mail_domains(domain_vars, server=None):
    """Validate and merge the mailserver_domain_* variables (see DOCUMENTATION)."""
    if domain_vars is None:
        domain_vars = {}
    if not isinstance(domain_vars, dict):
        raise AnsibleFilterError(
            f"mail_domains: input must be a dictionary of variable name to domain dictionary, got {_type_name(domain_vars)}"
        )
    server = server or {}
    _check_server(server)
    model = _Model()
    # Server-wide map entries first (a domain that redefines one is named second),
    # server-wide list entries after the domains' own.
    _add_server_tables(model, server)
    for varname in sorted(domain_vars):
        _add_domain(model, str(varname), domain_vars[varname])
    _add_server_lists(model, server)
    _check_local_senders(model)
    return model.result()


def _refused_by_catchall(model, address):
    """The catch-all's error when ADDRESS is in a domain whose catch-all bounces and is not routed itself."""
    local_part, _sep, domain = address.rpartition("@")
    if not local_part or address in model.virtusertable.values:
        return None
    catchall = model.virtusertable.values.get(f"@{domain}", "")
    return catchall if catchall.startswith("error:") else None


def _check_local_senders(model):
    """Addresses the server sends from or must answer at must get past the domains' own catch-alls.

    sendmail refuses MAIL FROM a local address that RCPT TO would refuse ("553 5.3.0 User
    unknown"), so a genericstable target that the catch-all bounces makes the rewritten mail
    undeliverable; and every mail domain must accept postmaster (RFC 5321, section 4.5.1).
    """
    for user, address in model.genericstable.values.items():
        refused = _refused_by_catchall(model, address)
        if refused:
            local_part, _sep, domain = address.rpartition("@")
            raise AnsibleFilterError(
                f"mail_domains: {describe(model.genericstable.sources[user])}: genericstable '{user}' sends as "
                f"'{address}', which the catch-all of {domain} ('{refused}') refuses; sendmail refuses such a "
                f"sender too: route '{local_part}' in the domain's virtual entries or a user's addresses"
            )
    for key, value in model.virtusertable.values.items():
        if key.startswith("@") and value.startswith("error:"):
            domain = key[1:]
            if f"postmaster@{domain}" not in model.virtusertable.values:
                raise AnsibleFilterError(
                    f"mail_domains: {describe(model.virtusertable.sources[key])}: the catch-all of {domain} "
                    f"('{value}') also refuses postmaster@{domain}, which every mail domain must accept "
                    "(RFC 5321): add postmaster to the domain's virtual entries (for example postmaster: postmaster)"
                )


class FilterModule:
    """homelab.mailserver mail domain filters."""

    def filters(self):
        return {"mail_domains": mail_domains}

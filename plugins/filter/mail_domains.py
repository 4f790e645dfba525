# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Merge every ``mailserver_domain_*`` variable into one mail domain model."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.homelab.mailserver.plugins.module_utils import _sendmail_validate as _map
from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V

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
  - Relaying is never opened wider than meant. A C(relay_domain) domain and the C(relay_domains) of the
    server are domains of two or more labels (a single label such as C(com) is a whole top-level domain);
    a C(relay_from) key, and any access key whose action is C(RELAY), is neither a single label (C(localhost)
    excepted), nor a one-octet IPv4 prefix such as C(10) (a /8), nor a one-group IPv6 prefix, nor CIDR
    notation (which sendmail does not read).
  - The domains with C(masquerade) true and the server's C(masquerade_domains) go into sendmail.mc as
    C(MASQUERADE_DOMAIN) lines, so they must be text that m4 reads as it is (no word that names an m4 or sendmail.cf
    macro, such as C(dnl)).
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
    local_domains: {description: "Names (lower-case) of the domains with C(local) true: mail for them is delivered here.", type: list, elements: str}
    sources:
      description: >-
        Where each entry came from, by table (C(access), C(virtusertable), C(genericstable), C(aliases), C(users)):
        key to variable name. P(homelab.mailserver.mail_domains_server#filter) names them in conflict messages.
      type: dict
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
# MASQUERADE_DOMAIN(`domain') in sendmail.mc and submit.mc: a mail domain that m4 reads as it is.
_MASQUERADE_DOMAIN = V.in_m4(V.check_mail_domain)
# Server-wide lists with a stricter rule than a mail domain.
_LIST_CHECKS = {"relay_domains": V.check_relay_domain, "masquerade_domains": _MASQUERADE_DOMAIN}


def describe(varname):
    """'mailserver_domain_x (group_vars/x.yml)' or the plain name for other sources."""
    if varname.startswith(PREFIX):
        group = varname[len(PREFIX):]
        return f"{varname} (group_vars/{group}.yml)"
    return varname


def _fail(varname, text):
    raise AnsibleFilterError(f"mail_domains: {describe(varname)}: {text}")


def _require(varname, message):
    """Fail with MESSAGE (a _validate.problem() message or None for a valid value)."""
    if message:
        _fail(varname, message)


def _type_name(value):
    if value is None:
        return "null"
    return type(value).__name__


def _check_keys(varname, where, data, spec):
    for key in data:
        if key not in spec:
            _fail(varname, V.problem(f"{where}key", key, "one of the keys " + ", ".join(sorted(spec))))
    for key, (types, human) in spec.items():
        if key in data and not isinstance(data[key], types):
            _fail(varname, V.problem(where + key, data[key], f"{human}, not {_type_name(data[key])}"))


def _str_list(varname, key, values, check):
    """The stripped strings of VALUES (numbers allowed), each checked by CHECK(value, where): a _validate checker."""
    out = []
    for index, value in enumerate(values):
        where = "%s[%d]" % (key, index)
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            _fail(varname, V.problem(where, value, f"a string, not {_type_name(value)}"))
        value = str(value)
        _require(varname, check(value, where))
        out.append(value)
    return out


def _members(varname, key, name, members):
    where = f"{key}[{name!r}]"
    if isinstance(members, str):
        members = [m.strip() for m in members.split(",")]
    if not isinstance(members, list) or not members:
        _fail(varname, V.problem(where, members, "a non-empty list of members"))
    out = []
    for member in members:
        if not isinstance(member, str) or not member.strip():
            _fail(varname, V.problem(where, members, "a list of non-empty strings (one member each)"))
        out.append(member.strip())
    problem = _map.alias_members(name, out, where)
    if problem:
        hint = " (the chapter's lists separate members with commas: peter, paul, mary)" if len(out) == 1 else ""
        _fail(varname, f"{problem}{hint}")
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
        self.local_domains = []

    def add_list(self, name, values):
        for value in values:
            if value not in self.lists[name]:
                self.lists[name].append(value)

    def add_user(self, varname, domain, user, index):
        if not isinstance(user, dict):
            _fail(varname, V.problem("users[%d]" % index, user, f"a dictionary, not {_type_name(user)}"))
        _check_keys(varname, "users[%d]." % index, user, _USER_KEYS)
        name = user.get("name")
        _require(varname, V.check_user_name(name, "users[%d].name" % index))
        addresses = _str_list(varname, "users[%d].addresses" % index, user.get("addresses", []),
                              lambda value, where: V.check_local_part(value, where) or _map.virtuser_key(f"{value}@{domain}", where))
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
            "local_domains": list(self.local_domains),
            "sources": {
                "access": dict(self.access.sources),
                "virtusertable": dict(self.virtusertable.sources),
                "genericstable": dict(self.genericstable.sources),
                "aliases": dict(self.aliases.sources),
                "users": dict(self.user_sources),
            },
        }
        out.update({name: list(values) for name, values in self.lists.items()})
        return out


def _add_domain(model, varname, data):
    if not isinstance(data, dict):
        raise AnsibleFilterError("mail_domains: " + V.problem(describe(varname), data,
                                                              f"a dictionary describing one mail domain, not {_type_name(data)}"))
    _check_keys(varname, "", data, _DOMAIN_KEYS)
    domain = data.get("domain")
    if not domain:
        _fail(varname, V.problem("domain", domain, "required: the mail domain name, e.g. my-site.com"))
    domain = domain.lower() if isinstance(domain, str) else domain
    _require(varname, V.check_mail_domain(domain, "domain"))
    if data.get("relay_domain", False):
        # relay-domains relays for the domain and every host under it: never a whole top-level domain
        _require(varname, V.check_relay_domain(domain, "domain (relay_domain: true)"))
    if data.get("masquerade", False):
        _require(varname, _MASQUERADE_DOMAIN(domain, "domain (masquerade: true)"))
    model.domains.add(domain, domain, varname)

    hostnames = [h.lower() for h in _str_list(varname, "hostnames", data.get("hostnames", []), V.check_mail_domain)]
    names = [domain] + [h for h in hostnames if h != domain]
    if data.get("local", True):
        model.add_list("local_host_names", names)
        if domain not in model.local_domains:
            model.local_domains.append(domain)
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
        if not V.is_local_part(local_part):
            _fail(varname, V.problem("virtual", local_part, V.VALID_LOCAL_PART.replace("before @", f"before @{domain}")))
        _virtual(model, varname, f"virtual[{local_part!r}]", f"{local_part}@{domain}", target)
    if "catchall" in data:
        _virtual(model, varname, "catchall", f"@{domain}", data["catchall"])

    for name, members in data.get("aliases", {}).items():
        name = str(name)
        _require(varname, V.check_alias_name(name, "aliases"))
        model.aliases.add(name, _members(varname, "aliases", name, members), varname)

    for key in _str_list(varname, "relay_from", data.get("relay_from", []), V.check_relay_key):
        model.access.add(key, "RELAY", varname)
    _add_access(model, varname, "access", data.get("access", {}))
    _add_generics(model, varname, "genericstable", data.get("genericstable", {}))


def _virtual(model, varname, where, key, target):
    """One virtusertable entry KEY -> TARGET, checked as the sendmail_virtusertable module checks it."""
    if not isinstance(target, str) or not target.strip():
        _fail(varname, V.problem(where, target, "a non-empty string: a local user, an alias, an address or error:..."))
    _require(varname, _map.virtuser_key(key, where) or _map.virtuser_value(key, target, where))
    model.virtusertable.add(key, target, varname)


def _add_generics(model, varname, name, table):
    """genericstable entries local user -> address, checked as the sendmail_map module checks them."""
    for user, address in table.items():
        user, where = str(user), f"{name}[{user!r}]"
        _require(varname, _map.generics_key(user, name))
        if not isinstance(address, str):
            _fail(varname, V.problem(where, address, V.VALID_MAIL_ADDRESS))
        _require(varname, _map.address_value(user, address, where))
        model.genericstable.add(user, address, varname)


def _add_access(model, varname, key, table):
    """Access entries, checked as the sendmail_access module checks them (the one definition in _validate)."""
    for access_key, action in table.items():
        access_key = str(access_key)
        _require(varname, V.check_access_key(access_key, key))
        if isinstance(action, int) and not isinstance(action, bool):
            action = str(action)  # GreetPause: 5000 written unquoted in YAML
        _require(varname, V.check_access_value(action, f"{key}[{access_key!r}]", access_key))
        if action.upper() == "RELAY":
            _require(varname, V.check_relay_key(access_key, key))
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
            raise AnsibleFilterError("mail_domains: " + V.problem(name, value, f"a dictionary, not {_type_name(value)}"))
        if key == "access":
            _add_access(model, name, key, value)
        elif key == "aliases":
            for alias, members in value.items():
                alias = str(alias)
                _require(name, V.check_alias_name(alias, "aliases"))
                model.aliases.add(alias, _members(name, key, alias, members), name)
        elif key == "genericstable":
            _add_generics(model, name, name, value)
        else:
            for map_key, map_value in value.items():
                _virtual(model, name, f"{name}[{str(map_key)!r}]", str(map_key), map_value)


def _add_server_lists(model, server):
    for key in _SERVER_LISTS:
        value = server.get(key) or []
        name = f"sendmail_{key}"
        if not isinstance(value, list):
            raise AnsibleFilterError("mail_domains: " + V.problem(name, value, f"a list, not {_type_name(value)}"))
        model.add_list(key, _str_list(name, name, value, _LIST_CHECKS.get(key, V.check_mail_domain)))


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


def mail_domains_server(model, server):
    """The exported model (mail_domains' result) with the server-wide SERVER data merged in.

    The same merge as mail_domains(domain_vars, server=SERVER), from the model the
    homelab.mailserver.mail_domains role exports instead of the variables again: the
    server's map entries first, its list entries after the domains', conflicts named
    with both sources.
    """
    if not isinstance(model, dict) or "sources" not in model:
        raise AnsibleFilterError("mail_domains_server: input must be the domain model (mail_domains_model), "
                                 f"got {_type_name(model)}")
    server = server or {}
    _check_server(server)
    merged = _Model()
    _add_server_tables(merged, server)
    sources = model["sources"]
    for name in model["domains"]:
        merged.domains.add(name, name, "mail_domains_model")
    for table in ("access", "virtusertable", "genericstable"):
        for entry in model[table]:
            getattr(merged, table).add(entry["key"], entry["value"], sources[table].get(entry["key"], "mail_domains_model"))
    for entry in model["aliases"]:
        merged.aliases.add(entry["name"], entry["members"], sources["aliases"].get(entry["name"], "mail_domains_model"))
    for user in model["users"]:
        merged.users[user["name"]] = dict(user)
        merged.user_sources[user["name"]] = sources["users"].get(user["name"], "mail_domains_model")
    for name in _SERVER_LISTS:
        merged.add_list(name, model[name])
    merged.unmasqueraded = list(model["unmasqueraded_domains"])
    merged.local_domains = list(model["local_domains"])
    _add_server_lists(merged, server)
    _check_local_senders(merged)
    return merged.result()


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


# The recipient-check reply of a backup MX for an address its primary would refuse.
BACKUP_MX_UNKNOWN = "ERROR:5.1.1:550 User unknown"


def mail_backup_mx(model, host, check_recipients=True, own_names=None):
    """What a backup MX needs from its primary's domain model (MODEL, mail_domains' result).

    Returns a dictionary with C(relay_domains) (the primary's local domains: the backup relays
    for them, never delivers them itself), C(mailertable) (each domain to C(esmtp:[HOST]), no MX
    lookup) and C(access). With CHECK_RECIPIENTS, a domain whose catch-all refuses every address
    it does not list (C(error:...)) gets C(To:address RELAY) for each address the primary
    accepts and C(To:domain ERROR:5.1.1:550 User unknown) for the rest, so that the backup refuses
    an unknown recipient at RCPT instead of bouncing it later; a domain that accepts every address
    (no catch-all, or one that delivers) gets no access entries: relay-domains accepts it whole.
    OWN_NAMES, the backup's own host names, get C(To:name OK) where they lie under a checked domain:
    sendmail looks a recipient's domain up with its parent domains, and the backup's own mail
    (root@backup.my-site.com) is not the primary's to refuse.
    """
    where = "sendmail_backup_mx_primary"
    if not isinstance(model, dict) or "local_domains" not in model:
        raise AnsibleFilterError("mail_backup_mx: input must be the primary's domain model (mail_domains), "
                                 f"got {_type_name(model)}")
    _require("sendmail_backup_mx_primary_host", V.check_hostname(host, "sendmail_backup_mx_primary_host"))
    if not isinstance(check_recipients, bool):
        raise AnsibleFilterError("mail_backup_mx: " + V.problem("sendmail_backup_mx_check_recipients", check_recipients,
                                                                "a boolean"))
    domains = list(model["local_domains"])
    if not domains:
        raise AnsibleFilterError(
            f"mail_backup_mx: {where}: the primary has no local mail domain (a mailserver_domain_* variable with "
            "local true among its groups' variables): name the mail server whose domains this backup MX queues for"
        )
    virtual = {entry["key"]: entry["value"] for entry in model["virtusertable"]}
    access = {}
    for domain in domains:
        if not (check_recipients and str(virtual.get(f"@{domain}", "")).startswith("error:")):
            continue
        for address in sorted(key for key in virtual if key.endswith(f"@{domain}") and not key.startswith("@")):
            access[f"To:{address}"] = "RELAY"
        access[f"To:{domain}"] = BACKUP_MX_UNKNOWN
        for name in own_names or []:
            name = str(name).lower().rstrip(".")
            if name != domain and name.endswith(f".{domain}") and V.check_hostname(name, "own_names") is None:
                access[f"To:{name}"] = "OK"
    return {
        "relay_domains": domains,
        "mailertable": {domain: f"esmtp:[{host}]" for domain in domains},
        "access": access,
    }


class FilterModule:
    """homelab.mailserver mail domain filters."""

    def filters(self):
        return {"mail_domains": mail_domains, "mail_domains_server": mail_domains_server, "mail_backup_mx": mail_backup_mx}

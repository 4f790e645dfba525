# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks for the variables the opendkim, opendmarc and spf roles write into their daemons' files."""

from __future__ import annotations

from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V

# Documentation: milter_config_errors.yml beside this file (ansible-doc -t filter homelab.mailserver.milter_config_errors).

VALID_EXTRA_VALUE = "a string, number or boolean on one line, without control characters"


def _empty_or(check):
    """CHECK, where '' (or null) means the role's default."""

    def check_or_empty(value, where):
        return None if value in ("", None) else check(value, where)

    return check_or_empty


def _list_of(check, what):
    def check_list(value, where, errors):
        if not isinstance(value, list):
            errors.add(where, value, f"a list of {what}")
            return
        for index, item in enumerate(value):
            errors.check(check, item, f"{where}[{index}]")

    return check_list


def _one(check):
    def check_one(value, where, errors):
        errors.check(check, value, where)

    return check_one


def _extra_config(value, where, errors):
    """name: value lines appended to the daemon's configuration file: one setting per entry."""
    if value is None:
        return
    if not isinstance(value, dict):
        errors.add(where, value, "a dictionary of setting name to value")
        return
    for name, setting in value.items():
        if errors.check(V.check_setting_name, name, where):
            text = str(int(setting)) if isinstance(setting, bool) else setting
            if isinstance(text, (int, float)):
                text = str(text)
            if not V.is_message(text):
                errors.add(f"{where}.{name}", setting, VALID_EXTRA_VALUE)


def _selectors(value, where, errors):
    if not isinstance(value, dict):
        errors.add(where, value, "a dictionary of domain to DKIM selector")
        return
    for domain, selector in value.items():
        if errors.check(V.check_mail_domain, domain, where):
            errors.check(V.check_dkim_selector, selector, f"{where}[{domain!r}]")


_AUTHSERV_ID = _one(_empty_or(V.check_hostname))
_SOCKET = _one(V.check_milter_socket)
_PEERS = _list_of(V.check_milter_peer, "addresses, networks and host names")

# variable -> checker(value, where, errors)
RULES = {
    "opendkim_authserv_id": _AUTHSERV_ID,
    "opendkim_socket": _SOCKET,
    "opendkim_internal_hosts": _PEERS,
    "opendkim_nameservers": _list_of(V.check_ip_address, "IP addresses"),
    "opendkim_extra_config": _extra_config,
    "opendkim_key_dir": _one(_empty_or(V.check_abs_path)),
    "opendkim_key_controller_dir": _one(_empty_or(V.check_abs_path)),
    "opendkim_domains": _list_of(V.check_mail_domain, "mail domains"),
    "opendkim_selector": _one(V.check_dkim_selector),
    "opendkim_domain_selectors": _selectors,
    "opendmarc_authserv_id": _AUTHSERV_ID,
    "opendmarc_socket": _SOCKET,
    "opendmarc_ignore_hosts": _PEERS,
    "opendmarc_extra_config": _extra_config,
    "spf_authserv_id": _AUTHSERV_ID,
    "spf_socket": _SOCKET,
    "spf_ignore_hosts": _PEERS,
    "opendmarc_spf_socket": _SOCKET,
}


def milter_config_errors(config):
    """One message per problem with the milter roles' variables (CONFIG: variable name -> value)."""
    if not isinstance(config, dict):
        return [V.problem("milter_config_errors input", config, "a dictionary of the opendkim, opendmarc or spf variables")]
    errors = V.Problems()
    for name, value in config.items():
        rule = RULES.get(name)
        if rule is None:
            errors.add("milter_config_errors input", name, "one of the variables it checks: " + ", ".join(RULES))
            continue
        rule(value, name, errors)
    return list(errors)


class FilterModule:
    """homelab.mailserver milter checks."""

    def filters(self):
        return {"milter_config_errors": milter_config_errors}

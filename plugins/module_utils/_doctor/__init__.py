# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mail doctor's checks: one unit module a check, and the registry, the only list of them.

A unit module ``_doctor/<name>.py`` declares ``CHECK = Check(name, sections, doc, inputs, run)``
(see ``_common.Check``). To add a check, write the unit (and its test, tests/unit/plugins/module_utils/_doctor/
test_<name>.py), import it below and put it in UNITS where it should run by default. The module mail_doctor
takes its ``checks`` choices, its dispatch and its report from here.

The units are imported one by one, by name: Ansible's module packager (AnsiballZ) ships only the module_utils
it sees imported, so they cannot be discovered at run time.
"""

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import (
    aaaa_listening,
    aliases_fresh,
    certificate_expiry,
    dns_published,
    dovecot_mail_location,
    fqdn_qualified,
    hosts_fqdn_first,
    listening,
    mail_log_errors,
    maps_fresh,
    no_open_relay,
    sendmail_cf_fresh,
    smtp_banner,
    system_mail,
)
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import Inputs, result

# In the order the checks run when the module's checks option is not given.
UNITS = (
    hosts_fqdn_first, fqdn_qualified, smtp_banner, sendmail_cf_fresh, maps_fresh, aliases_fresh, no_open_relay,
    dovecot_mail_location, certificate_expiry, listening, mail_log_errors, dns_published, aaaa_listening,
    system_mail,
)
REGISTRY = {unit.CHECK.name: unit.CHECK for unit in UNITS}

__all__ = ["REGISTRY", "UNITS", "Inputs", "options_problem", "result", "run_checks", "summary_table"]


def options_problem(params):
    """Why the module's options are unusable, or '': every check's validate, whether it runs or not."""
    for check in REGISTRY.values():
        problem = check.validate(params) if check.validate else ""
        if problem:
            return problem
    return ""


def run_checks(names, inputs):
    """The results of the checks NAMES (all of them, in registry order, when empty), in that order."""
    return [REGISTRY[name].run(inputs.view(REGISTRY[name])) for name in (names or REGISTRY)]


def summary_table(checks):
    """The results as a text table, one line a check; the further lines of a detail are indented."""
    words = {True: "ok", False: "FAIL", None: "-"}
    width = max([len("CHECK")] + [len(c["name"]) for c in checks])
    rows = ["%-*s  %-6s  %s" % (width, "CHECK", "RESULT", "DETAIL")]
    for check in checks:
        first, *more = (check["detail"] or "").splitlines() or [""]
        rows.append("%-*s  %-6s  %s" % (width, check["name"], words[check["ok"]], first))
        rows.extend("%s  %s" % (" " * (width + 8), line) for line in more)
    return "\n".join(rows)

#!/usr/bin/python
# Copyright: (c) 2025, homelab.mailserver developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: EXE001  (ansible-test: modules carry a shebang but must not be executable)

from __future__ import annotations

DOCUMENTATION = r"""
module: sendmail_map
short_description: Manage entries of a sendmail key/value map (genericstable, mailertable, domaintable, authinfo)
version_added: 0.1.0
description:
  - Adds, updates and removes many entries of a sendmail map text file in one call, validates them according to
    O(kind) and rebuilds the database with C(makemap) only when needed.
  - 'O(kind=genericstable): key a local user or V(user@domain), value an address V(user@domain).'
  - 'O(kind=mailertable): key V(domain) or V(.domain), value V(mailer:host) (V(esmtp:[host]), V(smtp:host),
    V(relay:host), V(local:user)) or V(error:...).'
  - 'O(kind=domaintable): key and value are domains.'
  - 'O(kind=authinfo): key V(AuthInfo:host), value quoted items such as V("U:user" "P:secret" "M:PLAIN");
    passwords are hidden from the output.'
  - 'O(kind=generic): any one-token key and any one-line value.'
options:
  path:
    description: The map's text file; the database is this path plus the suffix of O(map_type).
    type: path
    required: true
    aliases: [dest]
  kind:
    description: Which validation rules apply.
    type: str
    choices: [genericstable, mailertable, domaintable, authinfo, generic]
    default: generic
notes:
  - O(mode), O(owner) and O(group) apply to the database as well as to the text file. Each file gets them before
    anything is written to it (the temporary text right after it is made, the database as the builder creates it,
    under umask 077); a database with another mode is corrected on the next run, also when nothing else changes.
  - 'O(kind=authinfo): the passwords (C("P:...") and C("P=...") items) are never shown: the diff, messages and
    the returned and logged arguments show C("P:********"); an invalid value is not shown at all. Give
    O(mode=0600) (and O(owner)/O(group)) so that neither the text nor C(authinfo.db) is ever readable by others.'
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.files
  - homelab.mailserver.sendmail_map
  - homelab.mailserver.sendmail_map.map
seealso:
  - module: homelab.mailserver.sendmail_classfile
author:
  - Homelab Mailserver Developers (@homelab-mailserver)
"""

EXAMPLES = r"""
- name: The chapter's genericstable
  homelab.mailserver.sendmail_map:
    path: /etc/mail/genericstable
    kind: genericstable
    entries:
      - {key: alert, value: security-alert@my-site.com}
      - {key: peter, value: urgent-message@my-site.com}
      - {key: apache, value: mailer@my-site.com}

- name: Send mail for a domain to a fixed relay
  homelab.mailserver.sendmail_map:
    path: /etc/mail/mailertable
    kind: mailertable
    entries:
      - {key: .example.org, value: "esmtp:[mx.example.org]"}
"""

RETURN = r"""
added:
  description: Keys appended to the file.
  returned: always
  type: list
  elements: str
  sample: [apache]
removed:
  description: Keys removed (C(state=absent) or not named with O(exclusive=true)).
  returned: always
  type: list
  elements: str
  sample: [alert]
updated:
  description: Keys whose value was rewritten in place.
  returned: always
  type: list
  elements: str
  sample: [peter]
db_rebuilt:
  description: Whether the database was (in check mode would be) rebuilt.
  returned: always
  type: bool
  sample: true
map_type:
  description: The database type used with C(makemap).
  returned: always
  type: str
  sample: hash
backup_file:
  description: Name of the backup file, empty when none was made.
  returned: always
  type: str
  sample: /etc/mail/genericstable.12345.2025-01-01@10:00:00~
kept_file:
  description:
    - Only when the file could not be renamed over (EBUSY, for example a bind-mounted file) and writing it in place
      failed as well (for example a full disk); the module then fails. The complete new file, kept beside the
      target; copy it over once the cause is fixed, or run the task again.
  returned: failure of the in-place write
  type: str
  sample: /etc/mail/.access.k2j3h4.tmp
msg:
  description: Summary of what changed.
  returned: always
  type: str
  sample: "/etc/mail/genericstable: 1 added, 0 removed, 0 updated; database rebuilt"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_map import (
    KINDS,
    hide_secrets,
    map_argument_spec,
    run,
)


class MapModule(AnsibleModule):
    """AnsibleModule that knows an authinfo call's passwords before it logs its arguments to the host's syslog."""

    def _log_invocation(self):
        kind = KINDS.get(self.params.get("kind"))
        if kind is not None:
            hide_secrets(self, kind)
        super()._log_invocation()


def main():
    kinds = ["genericstable", "mailertable", "domaintable", "authinfo", "generic"]
    spec = map_argument_spec(kind={"type": "str", "default": "generic", "choices": kinds})
    module = MapModule(argument_spec=spec,
                       supports_check_mode=True, add_file_common_args=True)
    run(module, KINDS[module.params["kind"]], module.params["entries"])


if __name__ == "__main__":
    main()

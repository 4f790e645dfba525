#!/usr/bin/python
# Copyright: (c) 2025, homelab.mailserver developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: EXE001  (ansible-test: modules carry a shebang but must not be executable)

from __future__ import annotations

DOCUMENTATION = r"""
module: sendmail_virtusertable
short_description: Manage sendmail virtusertable entries and rebuild virtusertable.db
version_added: 0.1.0
description:
  - Adds, updates and removes many virtusertable entries in one call, validates them and rebuilds the database
    with C(makemap) only when needed.
  - 'Keys: V(user@domain), V(@domain) (catch-all), V(user+*@domain), V(user+detail@domain).'
  - 'Values: a local user or alias name, one address V(user@domain), V(error:nouser text), V(error:NNN text) or
    V(error:D.S.N:NNN text). V(%1) (user), V(%2) (detail) and V(%3) (+detail) are allowed only with keys that supply
    them: catch-all V(@domain) keys and V(user+*@domain) keys.'
  - The virtusertable only applies to domains in class C(w) (for example C(/etc/mail/local-host-names),
    see M(homelab.mailserver.sendmail_classfile)) and needs C(FEATURE(`virtusertable')) in sendmail.mc.
options:
  path:
    description: The virtusertable text file.
    type: path
    default: /etc/mail/virtusertable
    aliases: [dest]
notes:
  - O(mode), O(owner) and O(group) apply to the database as well as to the text file. Each file gets them before
    anything is written to it (the temporary text right after it is made, the database as the builder creates it,
    under umask 077); a database with another mode is corrected on the next run, also when nothing else changes.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.files
  - homelab.mailserver.sendmail_map
  - homelab.mailserver.sendmail_map.map
seealso:
  - module: homelab.mailserver.sendmail_aliases
  - module: homelab.mailserver.sendmail_classfile
author:
  - Homelab Mailserver Developers (@homelab-mailserver)
"""

EXAMPLES = r"""
- name: The chapter's virtusertable
  homelab.mailserver.sendmail_virtusertable:
    entries:
      - {key: webmaster@another-site.com, value: webmasters}
      - {key: "@another-site.com", value: marc}
      - {key: sales@my-site.com, value: sales@another-site.com}
      - {key: paul@my-site.com, value: paul}
      - {key: finance@my-site.com, value: paul}
      - {key: "@my-site.com", value: "error:nouser User unknown"}

- name: Forward a whole domain keeping the user part
  homelab.mailserver.sendmail_virtusertable:
    entries:
      - {key: "@old-site.com", value: "%1@my-site.com"}
"""

RETURN = r"""
added:
  description: Keys appended to the file.
  returned: always
  type: list
  elements: str
  sample: ["@my-site.com"]
removed:
  description: Keys removed (C(state=absent) or not named with O(exclusive=true)).
  returned: always
  type: list
  elements: str
  sample: [finance@my-site.com]
updated:
  description: Keys whose value was rewritten in place.
  returned: always
  type: list
  elements: str
  sample: [sales@my-site.com]
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
  sample: /etc/mail/virtusertable.12345.2025-01-01@10:00:00~
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
  sample: "/etc/mail/virtusertable: 1 added, 0 removed, 0 updated; database rebuilt"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_map import (
    KINDS,
    map_argument_spec,
    run,
)


def main():
    module = AnsibleModule(argument_spec=map_argument_spec("/etc/mail/virtusertable"),
                           supports_check_mode=True, add_file_common_args=True)
    run(module, KINDS["virtusertable"], module.params["entries"])


if __name__ == "__main__":
    main()

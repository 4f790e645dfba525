#!/usr/bin/python
# Copyright: (c) 2025, homelab.mailserver developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: EXE001  (ansible-test: modules carry a shebang but must not be executable)

from __future__ import annotations

DOCUMENTATION = r"""
module: sendmail_classfile
short_description: Manage one-column sendmail class files (local-host-names, relay-domains, generics-domains)
version_added: 0.1.0
description:
  - Adds and removes many tokens of a sendmail class file (one host, domain or user a line) in one call.
  - Class files are read when sendmail starts; restart or reload sendmail after a change (no database is built).
options:
  path:
    description: The class file, for example C(/etc/mail/local-host-names) or C(/etc/mail/relay-domains).
    type: path
    required: true
    aliases: [dest]
  entries:
    description:
      - "The tokens to manage. An item is either a string (present) or a dict with C(key) and C(state)."
      - Hosts and domains are compared case-insensitively.
    type: list
    elements: raw
    default: []
  kind:
    description:
      - V(hosts) accepts host names, domains, IPv4 octet prefixes, V([IP]) and V(IPv6:) forms
        (local-host-names, relay-domains, generics-domains).
      - V(users) accepts user names (trusted-users). V(any) accepts any single token.
    type: str
    choices: [hosts, users, any]
    default: hosts
notes:
  - O(mode), O(owner) and O(group) are given to the temporary file before anything is written to it.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.files
  - homelab.mailserver.sendmail_map
author:
  - Homelab Mailserver Developers (@homelab-mailserver)
"""

EXAMPLES = r"""
- name: Accept mail for two domains (the chapter's local-host-names)
  homelab.mailserver.sendmail_classfile:
    path: /etc/mail/local-host-names
    entries:
      - my-site.com
      - another-site.com

- name: Exactly these generics domains, remove an old one
  homelab.mailserver.sendmail_classfile:
    path: /etc/mail/generics-domains
    exclusive: true
    entries:
      - my-site.com
      - another-site.com
      - bigboy.my-site.com
"""

RETURN = r"""
added:
  description: Keys appended to the file.
  returned: always
  type: list
  elements: str
  sample: [another-site.com]
removed:
  description: Keys removed (C(state=absent) or not named with O(exclusive=true)).
  returned: always
  type: list
  elements: str
  sample: [old-site.com]
updated:
  description: Always empty, a class file line has no value.
  returned: always
  type: list
  elements: str
  sample: []
backup_file:
  description: Name of the backup file, empty when none was made.
  returned: always
  type: str
  sample: /etc/mail/local-host-names.12345.2025-01-01@10:00:00~
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
  sample: "/etc/mail/local-host-names: 1 added, 0 removed, 0 updated"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_map import (
    KINDS,
    class_argument_spec,
    run,
)


def main():
    module = AnsibleModule(argument_spec=class_argument_spec(),
                           supports_check_mode=True, add_file_common_args=True)
    run(module, KINDS["class_" + module.params["kind"]], module.params["entries"])


if __name__ == "__main__":
    main()

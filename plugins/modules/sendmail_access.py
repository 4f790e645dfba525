#!/usr/bin/python
# Copyright: (c) 2025, homelab.mailserver developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: EXE001  (ansible-test: modules carry a shebang but must not be executable)

from __future__ import annotations

DOCUMENTATION = r"""
module: sendmail_access
short_description: Manage entries of the sendmail access map (/etc/mail/access) and rebuild access.db
version_added: 0.1.0
description:
  - Adds, updates and removes many entries of the sendmail access database text file in one call,
    validates every entry against the access map rules of sendmail's C(cf/README) before writing,
    and rebuilds C(access.db) with C(makemap) only when needed.
  - 'Left-hand sides: IPv4 addresses or prefixes of whole octets (V(192.168.2)), V(IPv6:) forms, domains,
    V(user@domain), V(user@), optionally after a tag: V(Connect:), V(From:), V(To:), V(Spam:),
    V(GreetPause:), V(ClientRate:), V(ClientConn:), V(TLS_Clt:), V(TLS_Srv:), V(TLS_Rcpt:), V(Try_TLS:),
    V(Srv_Features:), V(Clt_Features:), V(CERTISSUER:), V(CERTSUBJECT:).
    CIDR notation is rejected with the octet prefixes it means.'
  - 'Right-hand sides: V(OK), V(RELAY), V(REJECT), V(DISCARD), V(SKIP), V(ERROR:[D.S.N:]NNN text), V(QUARANTINE:reason);
    V(FRIEND)/V(HATER) for V(Spam:); numbers for V(GreetPause:), V(ClientRate:), V(ClientConn:);
    V(VERIFY), V(VERIFY:bits), V(ENCR:bits) for V(TLS_*:). V(ACCEPT) is rejected: use V(OK).'
options:
  path:
    description: The access text file; the database is this path plus C(.db).
    type: path
    default: /etc/mail/access
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
  - module: homelab.mailserver.sendmail_classfile
  - module: homelab.mailserver.sendmail_virtusertable
author:
  - Homelab Mailserver Developers (@homelab-mailserver)
"""

EXAMPLES = r"""
- name: Relay for the server itself, two PCs and one network (the chapter's example)
  homelab.mailserver.sendmail_access:
    entries:
      - {key: localhost.localdomain, value: RELAY}
      - {key: localhost, value: RELAY}
      - {key: 127.0.0.1, value: RELAY}
      - {key: 192.168.1.16, value: RELAY}
      - {key: 192.168.1.17, value: RELAY}
      - {key: 192.168.2, value: RELAY}
      - {key: my-site.com, value: RELAY}

- name: Reject a spammer with an enhanced status code and drop an old entry
  homelab.mailserver.sendmail_access:
    entries:
      - key: From:spammer@example.net
        value: ERROR:5.7.1:550 Go away
      - key: 192.168.1.17
        state: absent
    backup: true

- name: Make the file contain exactly these entries
  homelab.mailserver.sendmail_access:
    exclusive: true
    entries:
      - {key: 127.0.0.1, value: RELAY}
      - {key: "GreetPause:", value: "5000"}
"""

RETURN = r"""
added:
  description: Keys appended to the file.
  returned: always
  type: list
  elements: str
  sample: [192.168.2]
removed:
  description: Keys removed (C(state=absent) or not named with O(exclusive=true)).
  returned: always
  type: list
  elements: str
  sample: [192.168.1.17]
updated:
  description: Keys whose value was rewritten in place.
  returned: always
  type: list
  elements: str
  sample: [my-site.com]
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
  sample: /etc/mail/access.12345.2025-01-01@10:00:00~
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
  sample: "/etc/mail/access: 1 added, 0 removed, 0 updated; database rebuilt"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_map import (
    KINDS,
    map_argument_spec,
    run,
)


def main():
    module = AnsibleModule(argument_spec=map_argument_spec("/etc/mail/access"),
                           supports_check_mode=True, add_file_common_args=True)
    run(module, KINDS["access"], module.params["entries"])


if __name__ == "__main__":
    main()

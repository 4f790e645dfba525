#!/usr/bin/python
# Copyright: (c) 2025, homelab.mailserver developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: EXE001  (ansible-test: modules carry a shebang but must not be executable)

from __future__ import annotations

DOCUMENTATION = r"""
module: sendmail_aliases
short_description: Manage /etc/aliases entries and rebuild the aliases database safely
version_added: 0.1.0
description:
  - Adds, updates and removes many aliases in one call. Each alias is written as C(name:<TAB>member,member)
    with no spaces between members.
  - Members are given as a YAML list; V(|program), V(/file) and V(:include:/path) members are double-quoted when
    they start with V(|) or contain spaces or commas. A member string with commas or spaces is an error.
  - Names are compared case-insensitively. Continuation lines of existing aliases are kept.
  - The database is rebuilt with C(sendmail -bi -oA<temporary copy>) (what C(newaliases) does) so that a failure
    leaves the old aliases file and database untouched.
  - Warns when C(mailer-daemon) or C(postmaster) is missing from the resulting file.
options:
  path:
    description:
      - The aliases file. On Debian C(/etc/aliases) is the file and C(/etc/mail/aliases) a link to it;
        give the real path.
    type: path
    default: /etc/aliases
    aliases: [dest]
  aliases:
    description:
      - "The aliases to manage, each a dict with C(name) (str, required), C(members) (list of str, required when
        present, one member per item) and C(state) (V(present) or V(absent), default V(present))."
      - Giving the same name twice with different settings is an error.
    type: list
    elements: dict
    default: []
  rebuild:
    description:
      - Rebuild the aliases database with C(sendmail -bi -oA[type:]<temporary copy>) when the file changed or the
        database is missing or older than the file. The type is taken from C(O AliasFile=) in O(sendmail_cf).
    type: bool
    default: true
  sendmail:
    description: Path of the sendmail binary. Default is C(sendmail) found on E(PATH) or in C(/usr/sbin).
    type: path
  sendmail_cf:
    description: The sendmail.cf read to find the aliases database type.
    type: path
    default: /etc/mail/sendmail.cf
notes:
  - O(mode), O(owner) and O(group) apply to the database as well as to the text file. Each file gets them before
    anything is written to it (the temporary text right after it is made, the database as the builder creates it,
    under umask 077); a database with another mode is corrected on the next run, also when nothing else changes.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.files
  - homelab.mailserver.sendmail_map
seealso:
  - module: homelab.mailserver.sendmail_virtusertable
author:
  - Homelab Mailserver Developers (@homelab-mailserver)
"""

EXAMPLES = r"""
- name: System aliases and root's mail (the chapter's example)
  homelab.mailserver.sendmail_aliases:
    aliases:
      - {name: mailer-daemon, members: [postmaster]}
      - {name: postmaster, members: [root]}
      - {name: root, members: [marc, webmaster@my-site.com]}
      - {name: directors, members: [peter, paul, mary]}
      - {name: admin-list, members: [":include:/home/mailings/admin-list"]}

- name: Remove a list
  homelab.mailserver.sendmail_aliases:
    aliases:
      - {name: family, state: absent}
"""

RETURN = r"""
added:
  description: Alias names appended to the file.
  returned: always
  type: list
  elements: str
  sample: [directors]
removed:
  description: Keys removed (C(state=absent) or not named with O(exclusive=true)).
  returned: always
  type: list
  elements: str
  sample: [family]
updated:
  description: Keys whose value was rewritten in place.
  returned: always
  type: list
  elements: str
  sample: [root]
db_rebuilt:
  description: Whether the database was (in check mode would be) rebuilt.
  returned: always
  type: bool
  sample: true
map_type:
  description: The aliases database type from sendmail.cf, null when it names none (hash is built).
  returned: always
  type: str
  sample: hash
backup_file:
  description: Name of the backup file, empty when none was made.
  returned: always
  type: str
  sample: /etc/aliases.12345.2025-01-01@10:00:00~
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
  sample: "/etc/aliases: 1 added, 0 removed, 0 updated; database rebuilt"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_map import (
    KINDS,
    aliases_argument_spec,
    run,
)


def main():
    module = AnsibleModule(argument_spec=aliases_argument_spec(),
                           supports_check_mode=True, add_file_common_args=True)
    run(module, KINDS["aliases"], module.params["aliases"])


if __name__ == "__main__":
    main()

# Copyright: (c) 2025, homelab.mailserver developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by the homelab.mailserver sendmail map modules."""

from __future__ import annotations


class ModuleDocFragment:

    # exclusive, backup, create: every map module
    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
    details: Everything is computed and reported (added, removed, updated, db_rebuilt, diff); nothing is written.
  diff_mode:
    support: full
    details: The text file before and after; no diff is returned when the text is unchanged.
  platform:
    platforms: posix
options:
  exclusive:
    description:
      - Remove every entry of the file that this call does not name.
      - Comments and blank lines are always kept.
    type: bool
    default: false
  backup:
    description:
      - Create a backup file including the timestamp information before the text file is changed.
    type: bool
    default: false
  create:
    description:
      - Create the file when it does not exist. With V(false) a missing file is an error.
    type: bool
    default: true
notes:
  - Comments, blank lines and entries the call does not name stay exactly where they are.
    A changed entry is rewritten in its place as C(key<TAB>value); new entries are appended in the order given.
  - All entries are validated before anything is written; the error names every bad entry and says what is valid.
  - The text file is written to a temporary file in the same directory and renamed into place.
    When the rename fails with EBUSY (a bind-mounted file, for example in a container) the file is rewritten in place.
  - Runs that change the same file wait for each other (up to 10 minutes), so that neither loses the other's
    entries; they take an advisory lock (C(flock)) on C(.NAME.lock) beside the file, made on the first run and left
    in place.
    Check mode takes no lock and writes nothing.
"""

    # the key/value map options (access, virtusertable, map)
    MAP = r"""
options:
  entries:
    description:
      - "The entries to manage, each a dict with C(key) (str, required: the left-hand side), C(value) (str, required
        when present: the right-hand side) and C(state) (V(present) or V(absent), default V(present))."
      - Keys are compared case-insensitively, as C(makemap) folds keys to lower case; a key is written as given.
      - Giving the same key twice with different values or states is an error.
      - The items are checked by the module rather than by Ansible's suboption validation, which would cost about
        a second per 10,000 entries; unknown fields and bad states are reported like any other invalid entry.
    type: list
    elements: dict
    default: []
  pairs:
    description:
      - More entries, as one mapping of key to value, each of them present. Together with O(entries); a key in
        both with different values is an error, like any key given twice.
      - For very large maps this form is much cheaper than O(entries), because Ansible copies one mapping of
        strings several times faster than a list of small dicts (100,000 entries, see the collection's
        docs/maps.md).
    type: dict
    default: {}
  rebuild:
    description:
      - Rebuild the database with C(makemap) when the text changed or the database is missing or older than the text.
      - The database is built from a temporary copy into a temporary name in the same directory; text and database are
        moved into place only when C(makemap) succeeded. On failure both old files are left byte-identical.
    type: bool
    default: true
  map_type:
    description:
      - Database type passed to C(makemap).
      - Default is the type of the C(K) line in O(sendmail_cf) that names this file, else V(hash).
    type: str
    choices: [hash, btree, dbm, cdb]
  makemap:
    description: Path of the C(makemap) program. Default is C(makemap) found on E(PATH) or in C(/usr/sbin).
    type: path
  sendmail_cf:
    description: The sendmail.cf read to find the default O(map_type).
    type: path
    default: /etc/mail/sendmail.cf
"""

# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""maps_fresh: each map's database is not older than its text (makemap after every edit)."""

import os

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import Check, db_problem, result
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_map import cf_map_type, db_files

NAME = "maps_fresh"


def check(maps, cf):
    """Each existing map text has a database not older than it (makemap after every edit)."""
    present = [m for m in maps if os.path.isfile(m)]
    if not present:
        return result(NAME, None, "none of the maps exists")
    problems = [p for p in (db_problem(m, db_files(m, cf_map_type(m, cf) or "hash")) for m in present) if p]
    if problems:
        return result(NAME, False, "; ".join(problems))
    return result(NAME, True, "up to date: %s" % ", ".join(present))


CHECK = Check(
    name=NAME,
    sections=("How To Restart Sendmail After Editing Your Configuration Files",),
    doc="For each map text of maps that exists (access, virtusertable, genericstable, mailertable, domaintable),"
        " finds its database (the map type comes from the K line of sendmail.cf, hash when there is none). OK when"
        " every database exists and is not older than its text; undecided when none of the maps exists.",
    inputs=("maps", "sendmail_cf"),
    run=lambda i: check(i.maps, i.sendmail_cf),
)

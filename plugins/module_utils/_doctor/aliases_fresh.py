# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""aliases_fresh: the aliases database is not older than the aliases file (newaliases after every edit)."""

import os

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import Check, db_problem, result
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_map import cf_alias_type, db_files

NAME = "aliases_fresh"


def check(aliases, cf):
    """The aliases database is not older than the aliases file (newaliases after every edit)."""
    if not os.path.isfile(aliases):
        return result(NAME, None, "%s does not exist" % aliases)
    problem = db_problem(aliases, db_files(aliases, cf_alias_type(aliases, cf) or "hash"))
    if problem:
        return result(NAME, False, problem + ": run newaliases")
    return result(NAME, True, "%s is up to date" % aliases)


CHECK = Check(
    name=NAME,
    sections=("The /etc/aliases File",),
    doc="The same for the aliases file (aliases_path, else the first AliasFile of sendmail.cf, else"
        " /etc/mail/aliases or /etc/aliases) and its database. OK when the database is not older: newaliases ran;"
        " undecided when there is no aliases file.",
    inputs=("aliases", "sendmail_cf"),
    run=lambda i: check(i.aliases, i.sendmail_cf),
)

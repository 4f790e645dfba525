# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sendmail_cf_fresh: sendmail.cf was rebuilt after sendmail.mc last changed."""

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import Check, mtime, result

NAME = "sendmail_cf_fresh"


def check(mc, cf):
    """sendmail.cf must have been rebuilt (m4/make) after sendmail.mc last changed."""
    mc_time, cf_time = mtime(mc), mtime(cf)
    if mc_time is None:
        return result(NAME, None, "%s does not exist" % mc)
    if cf_time is None:
        return result(NAME, False, "%s does not exist: run make in /etc/mail" % cf)
    if cf_time < mc_time:
        return result(NAME, False, "%s is older than %s: run make in /etc/mail and restart sendmail" % (cf, mc))
    return result(NAME, True, "%s is not older than %s" % (cf, mc))


CHECK = Check(
    name=NAME,
    sections=("How To Restart Sendmail After Editing Your Configuration Files",),
    doc="Compares the modification times of sendmail_mc and sendmail_cf. OK when sendmail.cf is not older:"
        " m4/make ran after the last edit. A missing sendmail.cf is a FAIL, a missing sendmail.mc undecided.",
    inputs=("sendmail_mc", "sendmail_cf"),
    run=lambda i: check(i.sendmail_mc, i.sendmail_cf),
)

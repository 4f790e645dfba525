"""pyspf-milter with the "tempfail" policy: every SPF result it would reject is deferred.

Installed by the homelab.mailserver spf role when spf_policy is
tempfail; the unit's drop-in runs it with the same configuration file. A 450/451
lets the sender retry, and lets an admin watch what a reject policy would refuse.
"""

import sys

import Milter
from spf_engine import milter_spf


class DeferringSpfMilter(milter_spf.spfMilter):
    """spfMilter whose 5xx replies become 451 4.x.x and whose REJECT becomes TEMPFAIL."""

    def setreply(self, rcode, xcode=None, *args):
        if str(rcode).startswith("5"):
            rcode = "451"
            if xcode:
                xcode = "4" + str(xcode)[1:]
        return super().setreply(rcode, xcode, *args)

    def check_spf(self):
        result = super().check_spf()
        return Milter.TEMPFAIL if result == Milter.REJECT else result


if __name__ == "__main__":
    milter_spf.spfMilter = DeferringSpfMilter
    sys.exit(milter_spf.main())

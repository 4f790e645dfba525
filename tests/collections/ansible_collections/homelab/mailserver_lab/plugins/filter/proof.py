# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Format one result row of the lab's mail-flow proof."""


def proof_row(row):
    """'PASS  check  detail' (FAIL when the check failed)."""
    return "%-4s  %-80s  %s" % ("PASS" if row.get("ok") else "FAIL", row.get("check", ""), row.get("detail", ""))


class FilterModule:
    """Proof filters."""

    def filters(self):
        return {"proof_row": proof_row}

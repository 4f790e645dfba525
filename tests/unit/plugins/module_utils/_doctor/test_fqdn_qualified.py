"""fqdn_qualified: fake sendmail -d0.1 -bt answers."""

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import fqdn_qualified as unit

from .helpers import FQDN, fake_run

BT_GOOD = """Version 8.18.1
============ SYSTEM IDENTITY (after readcf) ============
      (short domain name) $w = bigboy
  (canonical domain name) $j = bigboy.my-site.com
         (subdomain name) $m = my-site.com
              (node name) $k = bigboy
========================================================
ADDRESS TEST MODE (ruleset 3 NOT automatically invoked)
> """


@pytest.mark.parametrize(
    ("out", "err", "ok", "words"),
    [
        (BT_GOOD, "", True, "$j = bigboy.my-site.com"),
        (BT_GOOD.replace("$j = bigboy.my-site.com", "$j = bigboy"), "", False, "$j = bigboy, expected"),
        ("", "WARNING: local host name (bigboy) is not qualified; fix $j in config file\n", False,
         "local host name (bigboy) is not qualified"),
        ("", "sendmail: cannot open /etc/mail/sendmail.cf\n", False, "shows no $j"),
    ],
)
def test_fqdn_qualified(out, err, ok, words):
    run = fake_run({"-bt": (0, out, err)})
    check = unit.check(FQDN, run, "/usr/sbin/sendmail")
    assert check["name"] == "fqdn_qualified"
    assert (check["ok"], words in check["detail"]) == (ok, True)
    assert run.calls[0][0] == ["/usr/sbin/sendmail", "-d0.1", "-bt"]


def test_fqdn_qualified_without_sendmail():
    assert unit.check(FQDN, fake_run({}), None)["ok"] is None

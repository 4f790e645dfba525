"""sendmail_cf_fresh: sendmail.mc and sendmail.cf under tmp_path with given ages."""

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import sendmail_cf_fresh as unit

from .helpers import write


def test_sendmail_cf_fresh(tmp_path):
    mc = write(tmp_path / "sendmail.mc", "dnl", age=100)
    cf = write(tmp_path / "sendmail.cf", "V10", age=50)
    check = unit.check(mc, cf)
    assert check == {"name": "sendmail_cf_fresh", "ok": True, "detail": "%s is not older than %s" % (cf, mc)}


def test_sendmail_cf_older_or_missing(tmp_path):
    mc = write(tmp_path / "sendmail.mc", "dnl changed", age=10)
    cf = write(tmp_path / "sendmail.cf", "V10", age=50)
    check = unit.check(mc, cf)
    assert check["ok"] is False and "older than" in check["detail"] and "run make in /etc/mail" in check["detail"]
    assert unit.check(mc, str(tmp_path / "none.cf"))["ok"] is False
    assert unit.check(str(tmp_path / "none.mc"), cf)["ok"] is None

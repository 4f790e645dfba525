"""system_mail: submit.cf, virtusertable and aliases texts; the real m4 builds the role's golden submit.mc."""

import os
import shutil
import subprocess

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import system_mail as unit

from .helpers import ALIASES, FQDN, LOCAL_MSP, MASQUERADING_MSP, MSP_RULE, VIRTUSERTABLE

GOLDEN_SUBMIT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "sendmail", "golden", "bigboy-Debian.submit.mc")


def test_system_mail_finds_recipient_masquerading_into_a_catchall():
    """The system-mail trap: the MSP sends `sendmail root` to root@my-site.com, which the catch-all refuses."""
    check = unit.check(FQDN, MASQUERADING_MSP, VIRTUSERTABLE, ALIASES)
    assert check["name"] == "system_mail" and check["ok"] is False
    first = check["detail"].splitlines()[0]
    assert "sends to root@my-site.com" in first and "error:nouser User unknown" in first
    assert "masquerade domain ($M)" in first
    # every local name that would bounce is named; the routed ones are not
    for address in ("root@my-site.com", "mailer-daemon@my-site.com", "admin-list@my-site.com",
                    "webmasters@my-site.com"):
        assert address in first
    for routed in ("marc@my-site.com", "postmaster@my-site.com", "webmaster@my-site.com"):
        assert routed not in first.split("Would bounce:")[1]


def test_system_mail_ok_when_the_msp_keeps_recipients_on_this_host():
    check = unit.check(FQDN, LOCAL_MSP, VIRTUSERTABLE, ALIASES)
    assert check["ok"] is True, check
    assert "bigboy.my-site.com" in check["detail"]


def test_system_mail_names_an_alias_member_the_catchall_refuses():
    """root: marc,webmaster@my-site.com without webmaster@ in the virtusertable bounces whatever the MSP does."""
    table = VIRTUSERTABLE.replace("webmaster@my-site.com\twebmasters\n", "")
    check = unit.check(FQDN, LOCAL_MSP, table, ALIASES)
    assert check["ok"] is False
    assert "alias root: member webmaster@my-site.com (error:nouser User unknown)" in check["detail"]


@pytest.mark.parametrize(("submit", "table", "ok", "words"), [
    (None, VIRTUSERTABLE, None, "no MSP configuration"),
    (MASQUERADING_MSP, VIRTUSERTABLE.replace("@my-site.com\terror:nouser User unknown\n", ""), True, "no virtusertable"),
    ("DMmy-site.com\n", VIRTUSERTABLE, None, "no FEATURE(msp) relay rule"),
    # a masquerading MSP whose domain routes root: the other names still bounce
    (MASQUERADING_MSP, VIRTUSERTABLE + "root@my-site.com\tmarc\n", False, "sends to mailer-daemon@my-site.com"),
])
def test_system_mail_undecided_or_clean(submit, table, ok, words):
    check = unit.check(FQDN, submit, table, ALIASES)
    assert check["ok"] is ok, check
    assert words in check["detail"]


def test_system_mail_with_the_roles_real_submit_cf(tmp_path):
    """The golden submit.mc built with the real m4: OK; the same with masquerade_envelope before FEATURE(msp): FAIL."""
    if not (shutil.which("m4") and os.path.exists("/usr/share/sendmail/cf/m4/cf.m4")):
        pytest.skip("m4 and sendmail-cf are not installed")
    with open(GOLDEN_SUBMIT, encoding="utf-8") as handle:
        golden = handle.read()

    def build(text):
        source = tmp_path / "submit.mc"
        source.write_text(text)
        return subprocess.run(["m4", str(source)], capture_output=True, text=True, check=True).stdout

    assert unit.check(FQDN, build(golden), VIRTUSERTABLE, ALIASES)["ok"] is True
    trap = golden.replace("define(`_MASQUERADE_ENVELOPE_', `1')dnl\n", "").replace(
        "FEATURE(`msp'", "FEATURE(`masquerade_envelope')dnl\nFEATURE(`msp'")
    check = unit.check(FQDN, build(trap), VIRTUSERTABLE, ALIASES)
    assert check["ok"] is False and "sends to root@my-site.com" in check["detail"]


@pytest.mark.parametrize(("submit", "domain"), [
    (MASQUERADING_MSP, "my-site.com"),
    (LOCAL_MSP, "bigboy.my-site.com"),
    (MSP_RULE + "R$*\t\t\t$#relay $@ ${MTAHost} $: $1 < @ $M >\n", "bigboy.my-site.com"),
])
def test_msp_recipient_domain(submit, domain):
    assert unit.msp_recipient_domain(submit, FQDN + ".")[0] == domain


def test_read_aliases_joins_continuation_lines():
    assert unit.read_aliases("# c\nroot: marc,\n  webmaster@my-site.com\nnot an alias\n") == [
        ("root", ["marc", "webmaster@my-site.com"])]

"""submit.mc (the MSP) as the role renders it: golden files, built with the real m4 and sendmail-cf."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # pytest.ini: --import-mode=importlib
from sendmail_render import assert_golden, golden, render, render_example, role_vars  # noqa: E402

BIGBOY = ["mail_servers", "my_site_com", "another_site_com"]
SMALLFRY = ["mail_clients"]
# scripts/bootstrap.sh installs m4 and sendmail-cf (macro files only, no daemon).
CF_DEBIAN = "/usr/share/sendmail/cf/"
STOCK_DEBIAN_SUBMIT_MC = CF_DEBIAN + "debian/submit.mc"
MASQUERADING = {
    "sendmail_masquerade_as": "my-site.com",
    "sendmail_masquerade_domains": ["localhost"],
    "sendmail_masquerade_entire_domain": True,
    "sendmail_masquerade_envelope": True,
    "sendmail_exposed_users": ["root"],
}
MY_SITE = {"mailserver_domain_my_site_com": {"domain": "my-site.com", "masquerade": True}}


def submit(platform="Debian", domain_vars=None, **overrides):
    return render(role_vars(platform, overrides, domain_vars), "submit.mc.j2").splitlines()


def m4_build(tmp_path, text, platform="Debian"):
    """submit.cf from the rendered text with the real m4 and Debian's sendmail-cf (the RPMs' is the same upstream tree)."""
    assert shutil.which("m4") and os.path.exists(CF_DEBIAN + "m4/cf.m4"), "install m4 and sendmail-cf"
    if platform == "RedHat":
        text = text.replace("/usr/share/sendmail-cf/", CF_DEBIAN)
    src = tmp_path / "submit.mc"
    src.write_text(text)
    proc = subprocess.run(["m4", str(src)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return proc.stdout


def without_comments(cf_text):
    return [line for line in cf_text.splitlines() if not line.startswith("#")]


@pytest.mark.parametrize("host, groups, platform", [
    ("bigboy", BIGBOY, "Debian"),
    ("bigboy", BIGBOY, "RedHat"),
    ("smallfry", SMALLFRY, "Debian"),
])
def test_golden_submit_mc(host, groups, platform):
    """The example inventory's submit.mc renders byte for byte as reviewed (regenerate with UPDATE_GOLDEN=1)."""
    assert_golden(f"{host}-{platform}.submit.mc", render_example(groups, platform, "submit.mc.j2"))


def test_golden_bigboy_debian_builds_a_masquerading_msp(tmp_path):
    cf = without_comments(m4_build(tmp_path, golden("bigboy-Debian.submit.mc")))
    # an MSP (Debian's queue, pid file and user) that relays to the MTA on loopback
    for expected in ("O UseMSP=True", "D{MTAHost}[127.0.0.1]", "O QueueDirectory=/var/spool/mqueue-client",
                     "O PidFile=/var/run/sendmail/msp/sendmail.pid", "O RunAsUser=smmsp"):
        assert expected in cf
    # the example's masquerading and genericstable, as in the MTA's sendmail.cf
    for expected in ("DMmy-site.com", "C{M}my-site.com", "C{M}localhost", "C{M}localhost.localdomain",
                     "Kgenerics hash -o /etc/mail/genericstable.db", "F{G}/etc/mail/generics-domains"):
        assert expected in cf
    # masquerade_envelope: the envelope sender is masqueraded (ruleset MasqEnv calls MasqHdr) ...
    masq_env = cf.index("SMasqEnv=94")
    assert cf[masq_env + 1] == "R$+			$@ $>MasqHdr $1"
    assert "R$* < @ *LOCAL* > $*	$: $1 < @ $j . @ $M > $2" in cf
    # ... and the recipient headers (allmasquerade, as the MTA would after signing), but no envelope
    # recipient: bare names are qualified with $j, not $M
    assert any(line.startswith("Mrelay,") and "R=MasqSMTP/MasqRelay," in line for line in cf)
    local_localaddr = [index for index, line in enumerate(cf) if line == "SLocal_localaddr"][-1]
    assert cf[local_localaddr + 3] == "R$*			$#relay $@ ${MTAHost} $: $1 < @ $j >"
    assert not any("< @ $M >" in line for line in cf[local_localaddr:local_localaddr + 4])
    # root keeps its own address; another-site.com (masquerade: false) is not masqueraded
    assert "C{E}root" in cf
    assert not any(line.startswith("R$* < @ $=w . > $*") for line in cf)


def test_stock_msp_qualifies_bare_recipients_with_the_masquerade_domain(tmp_path):
    """Why masquerade_envelope comes after FEATURE(msp): before it, msp.m4 qualifies `sendmail root` as root@$M."""
    text = golden("bigboy-Debian.submit.mc").replace("define(`_MASQUERADE_ENVELOPE_', `1')dnl\n", "")
    text = text.replace("FEATURE(`msp'", "FEATURE(`masquerade_envelope')dnl\nFEATURE(`msp'")
    cf = without_comments(m4_build(tmp_path, text))
    assert "R$*			$#relay $@ ${MTAHost} $: $1 < @ $M >" in cf


def test_golden_bigboy_redhat_builds(tmp_path):
    cf = without_comments(m4_build(tmp_path, golden("bigboy-RedHat.submit.mc"), "RedHat"))
    for expected in ("O UseMSP=True", "D{MTAHost}[127.0.0.1]", "O QueueDirectory=/var/spool/clientmqueue",
                     "O PidFile=/run/sm-client.pid", "DMmy-site.com", "Kgenerics hash -o /etc/mail/genericstable.db"):
        assert expected in cf


def test_without_masquerading_the_msp_is_debians_stock_one(tmp_path):
    """smallfry masquerades nothing: its submit.cf is the one Debian builds from its own submit.mc (comments aside)."""
    assert os.path.exists(STOCK_DEBIAN_SUBMIT_MC), "install sendmail-cf"
    ours = m4_build(tmp_path, golden("smallfry-Debian.submit.mc"))
    proc = subprocess.run(["m4", STOCK_DEBIAN_SUBMIT_MC], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stderr == ""
    assert without_comments(ours) == without_comments(proc.stdout)


def test_debian_init_script_recognises_the_msp():
    # /etc/init.d/sendmail (check_msp) runs the MSP queue runner only when submit.mc has this line
    check_msp = re.compile(r"^[ \t]*`?FEATURE\([ \t]*`?msp")
    for platform, groups in (("Debian", BIGBOY), ("Debian", SMALLFRY)):
        assert any(check_msp.match(line) for line in render_example(groups, platform, "submit.mc.j2").splitlines())


def test_the_msp_rewrites_senders_as_the_mta_does_and_before_the_msp_feature():
    """The MTA's sender masquerading and genericstable lines, in its order, all before FEATURE(msp), which defines
    the mailers (m4 refuses a FEATURE after MAILER); masquerade_envelope right after it."""
    values = role_vars("Debian", dict(MASQUERADING, sendmail_allmasquerade=True,
                                      sendmail_genericstable={"peter": "urgent-message@my-site.com"}), MY_SITE)
    lines = render(values, "submit.mc.j2").splitlines()
    rewriting = ("FEATURE(`genericstable'", "GENERICS_DOMAIN_FILE(", "FEATURE(`masquerade", "FEATURE(`allmasquerade'",
                 "MASQUERADE_AS(", "MASQUERADE_DOMAIN(", "EXPOSED_USER(", "FEATURE(`limited_masquerade'")
    mta = [line for line in render(values).splitlines() if line.startswith(rewriting)]
    assert len(mta) == 9
    expected = [line for line in mta if line != "FEATURE(`masquerade_envelope')dnl"]
    assert [line for line in lines if line.startswith(rewriting)] == expected
    msp = lines.index("FEATURE(`msp', `[127.0.0.1]')dnl")
    assert lines[-1] == "define(`_MASQUERADE_ENVELOPE_', `1')dnl" and msp < len(lines) - 1
    assert all(lines.index(line) < msp for line in expected)


def test_no_envelope_masquerading_without_the_variable():
    lines = submit(domain_vars=MY_SITE, **{**MASQUERADING, "sendmail_masquerade_envelope": False})
    assert not any("_MASQUERADE_ENVELOPE_" in line or "masquerade_envelope" in line
                   for line in lines if not line.startswith("dnl"))
    assert lines[-1] == "FEATURE(`msp', `[127.0.0.1]')dnl"


def test_limited_masquerade_only_when_a_local_domain_keeps_its_addresses():
    both = dict(MY_SITE, mailserver_domain_another_site_com={"domain": "another-site.com", "masquerade": False})
    for template in ("submit.mc.j2", "sendmail.mc.j2"):
        assert "FEATURE(`limited_masquerade')dnl" in render(role_vars("Debian", MASQUERADING, both), template)
        assert "limited_masquerade" not in render(role_vars("Debian", MASQUERADING, MY_SITE), template)
        relay_only = dict(MY_SITE, mailserver_domain_x={"domain": "relayed.example", "local": False})
        assert "limited_masquerade" not in render(role_vars("Debian", MASQUERADING, relay_only), template)
        # no masquerading at all: nothing to limit
        assert "limited_masquerade" not in render(role_vars("Debian", {}, both), template)


def test_exposed_user_root_by_default():
    values = role_vars("Debian", {"sendmail_masquerade_as": "my-site.com"}, MY_SITE)
    assert values["sendmail_exposed_users"] == ["root"]
    assert "EXPOSED_USER(`root')dnl" in render(values, "submit.mc.j2").splitlines()
    assert "EXPOSED_USER(`root')dnl" in render(values).splitlines()


def test_no_rewriting_without_masquerading_or_genericstable():
    lines = submit(sendmail_exposed_users=["root"], sendmail_masquerade_envelope=True)
    assert not any("MASQUERADE" in line or "masquerade" in line or "generics" in line or "EXPOSED" in line
                   for line in lines if not line.startswith("dnl"))


def test_genericstable_alone_is_applied_by_the_msp():
    lines = submit(sendmail_genericstable={"apache": "mailer@my-site.com"})
    assert "FEATURE(`genericstable', `hash -o /etc/mail/genericstable.db')dnl" in lines
    assert "GENERICS_DOMAIN_FILE(`/etc/mail/generics-domains')dnl" in lines
    assert not any(line.startswith("MASQUERADE_AS") for line in lines)


def test_masquerading_alone_reads_no_genericstable():
    lines = submit(domain_vars=MY_SITE, **MASQUERADING)
    assert "MASQUERADE_AS(`my-site.com')dnl" in lines
    assert not any("generics" in line for line in lines if not line.startswith("dnl"))


@pytest.mark.parametrize("overrides, mta", [
    ({"sendmail_mode": "client"}, "[127.0.0.1]"),
    ({"sendmail_mode": "server"}, "[127.0.0.1]"),
    ({"sendmail_mode": "server", "sendmail_listen_addresses": ["192.168.1.100", "127.0.0.1"]}, "[127.0.0.1]"),
    ({"sendmail_mode": "server", "sendmail_listen_addresses": ["192.168.1.100", "::1"]}, "[IPv6:::1]"),
    ({"sendmail_mode": "server", "sendmail_listen_addresses": ["192.168.1.100"]}, "[192.168.1.100]"),
    ({"sendmail_mode": "server", "sendmail_listen_addresses": ["2001:db8::25"]}, "[IPv6:2001:db8::25]"),
])
def test_the_msp_relays_to_an_address_the_mta_listens_on(overrides, mta):
    assert f"FEATURE(`msp', `{mta}')dnl" in submit(**overrides)


def test_the_msp_relays_to_the_mtas_port(tmp_path):
    assert not any("RELAY_MAILER_ARGS" in line for line in submit())
    lines = submit(sendmail_smtp_port=2525)
    assert "define(`RELAY_MAILER_ARGS', `TCP $h 2525')dnl" in lines
    cf = without_comments(m4_build(tmp_path, "\n".join(lines) + "\n"))
    relay = next(index for index, line in enumerate(cf) if line.startswith("Mrelay,"))
    assert next(line for line in cf[relay:] if "A=" in line).strip() == "A=TCP $h 2525"

"""sendmail.mc as the role renders it: the chapter's examples as exact m4 lines, and a golden file."""

from __future__ import annotations

import os
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(__file__))  # pytest.ini: --import-mode=importlib
from sendmail_render import (  # noqa: E402
    CHECKS,
    ROLE,
    assert_golden,
    example_host_vars,
    golden,
    m4_build,
    render,
    render_example,
    role_vars,
)

BIGBOY = ["mail_servers", "my_site_com", "another_site_com"]
SMALLFRY = ["mail_clients"]


def mc(platform="Debian", domain_vars=None, **overrides):
    return render(role_vars(platform, overrides, domain_vars)).splitlines()


@pytest.mark.parametrize("host, groups, platform", [
    ("bigboy", BIGBOY, "Debian"),
    ("bigboy", BIGBOY, "RedHat"),
    ("smallfry", SMALLFRY, "Debian"),
])
def test_golden_chapter_world(host, groups, platform):
    """The example inventory renders byte for byte as reviewed (regenerate with UPDATE_GOLDEN=1)."""
    assert_golden(f"{host}-{platform}.sendmail.mc", render_example(groups, platform))


def test_debian_and_redhat_heads():
    deb = mc("Debian")
    assert deb[deb.index("define(`_USE_ETC_MAIL_')dnl") + 1] == "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl"
    assert "OSTYPE(`debian')dnl" in deb and "DOMAIN(`debian-mta')dnl" in deb
    rh = mc("RedHat")
    assert "include(`/usr/share/sendmail-cf/m4/cf.m4')dnl" in rh
    assert "OSTYPE(`linux')dnl" in rh and not any(line.startswith("DOMAIN(") for line in rh)
    # RHEL delivers through procmail by default, Debian through sensible-mda
    assert "MAILER(`procmail')dnl" in rh and "MAILER(`procmail')dnl" not in deb


def test_client_is_loopback_only_with_smart_host():
    lines = mc(sendmail_mode="client", sendmail_smart_host="mail.my-site.com")
    assert "DAEMON_OPTIONS(`Family=inet, Name=MTA, Port=25, Addr=127.0.0.1')dnl" in lines
    assert "define(`SMART_HOST', `mail.my-site.com')dnl" in lines
    assert not any("Name=MSA" in line for line in lines)


def test_server_listens_everywhere_and_has_no_smart_host():
    lines = mc(sendmail_mode="server", sendmail_smart_host="mail.my-site.com")
    # AUTH is offered on the submission port only
    assert "DAEMON_OPTIONS(`Family=inet, Name=MTA, Port=25, M=A')dnl" in lines
    assert "DAEMON_OPTIONS(`Family=inet, Name=MSA, Port=587, M=Ea')dnl" in lines
    assert not any("SMART_HOST" in line for line in lines)
    assert "define(`confAUTH_OPTIONS', `A,p,y')dnl" in lines
    assert "TRUST_AUTH_MECH(`PLAIN LOGIN')dnl" in lines


def test_server_on_chosen_nics():
    lines = mc(sendmail_mode="server", sendmail_listen_addresses=["127.0.0.1", "192.168.1.100", "::1"],
               sendmail_submission_enabled=False, sendmail_smtp_port=2525)
    assert "DAEMON_OPTIONS(`Family=inet, Name=MTA-1, Port=2525, Addr=127.0.0.1')dnl" in lines
    assert "DAEMON_OPTIONS(`Family=inet, Name=MTA-2, Port=2525, Addr=192.168.1.100')dnl" in lines
    assert "DAEMON_OPTIONS(`Family=inet6, Name=MTA-3, Port=2525, Addr=::1')dnl" in lines
    assert not any("MSA" in line or "AUTH" in line for line in lines)


# A host with IPv6: loopback ::1, a global address and a link-local one (network facts).
IPV6_FACTS = {"lo": {"ipv6": [{"address": "::1", "prefix": "128", "scope": "host"}]},
              "all_ipv6_addresses": ["2001:db8::25", "fe80::1c2:3ff:fe45:6789"]}


def test_server_on_every_interface_also_listens_on_each_ipv6_address_but_link_local():
    lines = [line for line in mc(sendmail_mode="server", ansible_facts=IPV6_FACTS) if "Name=MTA" in line]
    assert lines == ["DAEMON_OPTIONS(`Family=inet, Name=MTA-1, Port=25, M=A')dnl",
                     "DAEMON_OPTIONS(`Family=inet6, Name=MTA-2, Port=25, M=A, Addr=::1')dnl",
                     "DAEMON_OPTIONS(`Family=inet6, Name=MTA-3, Port=25, M=A, Addr=2001:db8::25')dnl"]


def test_no_ipv6_daemon_when_switched_off_on_a_client_or_without_ipv6():
    for overrides in ({"sendmail_mode": "server", "sendmail_listen_ipv6": False, "ansible_facts": IPV6_FACTS},
                      {"sendmail_mode": "client", "sendmail_smart_host": "mail.my-site.com", "ansible_facts": IPV6_FACTS},
                      {"sendmail_mode": "server", "ansible_facts": {"lo": {}, "all_ipv6_addresses": []}}):
        assert not any("inet6" in line for line in mc(**overrides)), overrides


def test_chapter_dnsbl_examples_one_entry_each():
    dnsbl = [
        {"zone": "ipwhois.rfc-ignorant.org",
         "message": '"550 Mail from " $&{client_addr} " refused. Rejected for bad WHOIS info on IP of your SMTP server'
                    ' - see http://www.rfc-ignorant.org/"'},
        {"zone": "proxies.blackholes.easynet.nl",
         "message": '"550 5.7.1 ACCESS DENIED to OPEN PROXY SERVER "$&{client_name}" by easynet.nl DNSBL - '
                    'see http://proxies.blackholes.easynet.nl/errors.html"'},
        {"zone": "bl.spamcop.net", "message": '"450 Mail from " $&{client_addr} " refused - see http://spamcop.net/bl.shtml"'},
        {"zone": "sbl.spamhaus.org", "message": "Rejected - see http://spamhaus.org/"},
        {"zone": "zen.example.org"},
        {"zone": "temp.example.org", "tempfail": True},
    ]
    assert CHECKS.sendmail_config_errors({"sendmail_dnsbl": dnsbl}) == []
    lines = mc(sendmail_dnsbl=dnsbl)
    for expected in (
        ("FEATURE(`dnsbl', `ipwhois.rfc-ignorant.org', `\"550 Mail from \" $&{client_addr} \" refused. Rejected for bad"
         " WHOIS info on IP of your SMTP server - see http://www.rfc-ignorant.org/\"')dnl"),
        ("FEATURE(`dnsbl', `proxies.blackholes.easynet.nl', `\"550 5.7.1 ACCESS DENIED to OPEN PROXY SERVER"
         " \"$&{client_name}\" by easynet.nl DNSBL - see http://proxies.blackholes.easynet.nl/errors.html\"')dnl"),
        ("FEATURE(`dnsbl', `bl.spamcop.net', `\"450 Mail from \" $&{client_addr} \" refused - see"
         " http://spamcop.net/bl.shtml\"')dnl"),
        "FEATURE(`dnsbl', `sbl.spamhaus.org', `Rejected - see http://spamhaus.org/')dnl",
        "FEATURE(`dnsbl', `zen.example.org')dnl",
        "FEATURE(`dnsbl', `temp.example.org', `', `t')dnl",
    ):
        assert expected in lines


def test_chapter_masquerading_block():
    lines = mc(sendmail_masquerade_as="my-site.com", sendmail_masquerade_domains=["localhost", "localhost.localdomain"],
               sendmail_masquerade_entire_domain=True, sendmail_masquerade_envelope=True, sendmail_allmasquerade=True,
               sendmail_exposed_users=["root"],
               domain_vars={"mailserver_domain_my_site_com": {"domain": "my-site.com", "masquerade": True}})
    block = [line for line in lines if "masquerade" in line or "MASQUERADE" in line or "always_add" in line
             or "EXPOSED" in line]
    assert [line for line in block if not line.startswith("dnl")] == [
        "FEATURE(`always_add_domain')dnl",
        "FEATURE(`masquerade_entire_domain')dnl",
        "FEATURE(`masquerade_envelope')dnl",
        "FEATURE(`allmasquerade')dnl",
        "MASQUERADE_AS(`my-site.com')dnl",
        "MASQUERADE_DOMAIN(`my-site.com')dnl",
        "MASQUERADE_DOMAIN(`localhost')dnl",
        "MASQUERADE_DOMAIN(`localhost.localdomain')dnl",
        "EXPOSED_USER(`root')dnl",
    ]


def test_masquerading_off_by_default():
    lines = mc()
    assert not any(line.startswith(("MASQUERADE_AS", "FEATURE(`masquerade", "FEATURE(`allmasq")) for line in lines)


def test_chapter_genericstable_and_virtusertable_features():
    lines = mc()
    assert "FEATURE(`virtusertable', `hash -o /etc/mail/virtusertable.db')dnl" in lines
    assert "FEATURE(`genericstable', `hash -o /etc/mail/genericstable.db')dnl" in lines
    assert "GENERICS_DOMAIN_FILE(`/etc/mail/generics-domains')dnl" in lines
    assert "FEATURE(`access_db', `hash -T<TMPF> -o /etc/mail/access.db')dnl" in lines
    assert "FEATURE(`use_cw_file')dnl" in lines and "FEATURE(`use_ct_file')dnl" in lines
    assert not any("mailertable" in line and line.startswith("FEATURE") for line in lines)
    assert "FEATURE(`mailertable', `hash -o /etc/mail/mailertable.db')dnl" in mc(
        sendmail_mailertable={"remote.example": "esmtp:[127.0.0.3]"})


def test_secure_defaults():
    lines = mc()
    assert "FEATURE(`accept_unresolvable_domains')dnl" not in lines
    assert "FEATURE(`relay_based_on_MX')dnl" not in lines
    assert "FEATURE(`promiscuous_relay')dnl" not in lines and not any("promiscuous" in line for line in lines)
    assert "FEATURE(`delay_checks')dnl" in lines
    on = mc(sendmail_accept_unresolvable_domains=True, sendmail_relay_based_on_mx=True)
    assert "FEATURE(`accept_unresolvable_domains')dnl" in on and "FEATURE(`relay_based_on_MX')dnl" in on


def test_chapter_greylist_milter():
    milters = [{"name": "greylist", "socket": "local:/var/milter-greylist/milter-greylist.sock",
                "macros": {"connect": ["j", "{if_addr}"], "helo": ["{verify}", "{cert_subject}"],
                           "envfrom": ["i", "{auth_authen}"], "envrcpt": ["{greylist}"]}},
               {"name": "clamav", "socket": "inet:3310@127.0.0.1", "flags": "T",
                "timeouts": {"S": "4m", "R": "4m", "E": "10m"}, "macros": {"connect": ["j", "_"]}}]
    assert CHECKS.sendmail_config_errors({"sendmail_milters": milters}) == []
    lines = mc(sendmail_milters=milters)
    for expected in (
        "INPUT_MAIL_FILTER(`greylist', `S=local:/var/milter-greylist/milter-greylist.sock')dnl",
        "INPUT_MAIL_FILTER(`clamav', `S=inet:3310@127.0.0.1, F=T, T=S:4m;R:4m;E:10m')dnl",
        "define(`confMILTER_MACROS_CONNECT', `j, {if_addr}, _')dnl",
        "define(`confMILTER_MACROS_HELO', `{verify}, {cert_subject}')dnl",
        "define(`confMILTER_MACROS_ENVFROM', `i, {auth_authen}')dnl",
        "define(`confMILTER_MACROS_ENVRCPT', `{greylist}')dnl",
    ):
        assert expected in lines
    assert not any("MILTER" in line for line in mc())


def test_procmail_when_spam_filtering():
    lines = mc(sendmail_spam_filtering=True)
    assert "define(`PROCMAIL_MAILER_PATH', `/usr/bin/procmail')dnl" in lines
    assert "FEATURE(`local_procmail', `/usr/bin/procmail', `procmail -t -Y -a $h -d $u')dnl" in lines
    assert lines.index("FEATURE(`local_procmail', `/usr/bin/procmail', `procmail -t -Y -a $h -d $u')dnl") < lines.index(
        "MAILER(`local')dnl")
    assert not any("local_procmail" in line for line in mc())


def test_procmail_for_recipes_and_maildir():
    feature = "FEATURE(`local_procmail', `/usr/bin/procmail', `procmail -t -Y -a $h -d $u')dnl"
    assert feature in mc(sendmail_procmail_recipes=[":0fw\n| /usr/bin/spamc\n"])
    assert feature in mc(sendmail_local_mailbox="maildir")
    assert feature not in mc(sendmail_local_mailbox="mbox")


def procmailrc(**overrides):
    return render(role_vars("Debian", overrides), "procmailrc.j2")


def test_procmailrc_maildir_recipes_in_order():
    text = procmailrc(sendmail_local_mailbox="maildir",
                      sendmail_procmail_recipes=[":0fw\n| /usr/bin/spamc\n", ":0\n* ^Subject: test\n/dev/null\n"])
    lines = text.splitlines()
    assert lines[0] == "# Managed by homelab.mailserver.sendmail: edits here are overwritten."
    assert "LOCKSLEEP=1" in lines
    # DEFAULT is set before the recipes run, so a recipe that does not deliver leaves Maildir delivery
    assert lines.index("DEFAULT=$HOME/Maildir/") < lines.index(":0fw") < lines.index("* ^Subject: test")
    assert "# from: sendmail_procmail_recipes[1]" in lines


def test_procmailrc_mbox_keeps_procmails_default():
    text = procmailrc(sendmail_local_mailbox="mbox", sendmail_procmail_locksleep=3)
    assert "DEFAULT=" not in text
    assert "LOCKSLEEP=3" in text.splitlines()


def test_tls_and_limits():
    lines = mc(sendmail_max_daemon_children=40, sendmail_queue_la=8, sendmail_refuse_la=12,
               sendmail_connection_rate_throttle=5, sendmail_connection_rate_window_size="1m")
    for expected in ("define(`confMAX_DAEMON_CHILDREN', `40')dnl", "define(`confQUEUE_LA', `8')dnl",
                     "define(`confREFUSE_LA', `12')dnl", "define(`confCONNECTION_RATE_THROTTLE', `5')dnl",
                     "define(`confCONNECTION_RATE_WINDOW_SIZE', `1m')dnl",
                     "define(`confSERVER_CERT', `/etc/mail/tls/smtpd.crt')dnl",
                     "define(`confSERVER_KEY', `/etc/mail/tls/smtpd.key')dnl"):
        assert expected in lines
    # null: the distribution's values (Debian states 0 and 15/10m; RHEL leaves them to sendmail)
    deb = mc()
    assert "define(`confMAX_DAEMON_CHILDREN', `0')dnl" in deb and "define(`confCONNECTION_RATE_THROTTLE', `15')dnl" in deb
    assert not any("QUEUE_LA" in line or "REFUSE_LA" in line for line in deb)
    assert not any("MAX_DAEMON_CHILDREN" in line or "RATE_THROTTLE" in line for line in mc("RedHat"))
    assert not any("CERT" in line for line in mc(sendmail_tls_enabled=False))


def test_delivery_mode_and_queue_runners():
    lines = mc(sendmail_delivery_mode="queue", sendmail_max_queue_children=5, sendmail_max_runners_per_queue=2)
    block = lines[lines.index("dnl # Delivery mode and queue runners"):]
    assert block[1] == "dnl # from: sendmail_delivery_mode, sendmail_max_queue_children, sendmail_max_runners_per_queue"
    assert block[2:5] == ["define(`confDELIVERY_MODE', `q')dnl", "define(`confMAX_QUEUE_CHILDREN', `5')dnl",
                          "define(`confMAX_RUNNERS_PER_QUEUE', `2')dnl"]
    assert "define(`confDELIVERY_MODE', `d')dnl" in mc(sendmail_delivery_mode="deferred")
    only_runners = mc(sendmail_max_runners_per_queue=3)
    assert "define(`confMAX_RUNNERS_PER_QUEUE', `3')dnl" in only_runners
    assert not any("DELIVERY_MODE" in line or "MAX_QUEUE_CHILDREN" in line for line in only_runners)
    # null everywhere: no section at all, sendmail's defaults
    assert not any("Delivery mode and queue runners" in line or "DELIVERY_MODE" in line for line in mc())


def test_customised_sections_placement_and_origin():
    lines = mc(sendmail_mc_raw_features=["FEATURE(`blocklist_recipients')dnl"],
               sendmail_mc_raw_end=["LOCAL_RULESETS", "dnl # end"])
    first = lines.index("FEATURE(`blocklist_recipients')dnl")
    assert lines.index("dnl # ***** Customised section 1 start *****") < first < lines.index("MAILER(`local')dnl")
    assert lines[first - 1] == "dnl # from: sendmail_mc_raw_features[0]"
    assert lines.index("LOCAL_RULESETS") > lines.index("MAILER(`smtp')dnl")
    text = "\n".join(lines)
    origin = CHECKS.sendmail_m4_origin(text, first + 1)
    assert origin.endswith("comes from sendmail_mc_raw_features[0]")
    assert "comes from sendmail_mc_raw_end[1]" in CHECKS.sendmail_m4_origin(text, lines.index("dnl # end") + 1)


def test_every_default_is_documented_in_readme():
    with open(ROLE / "README.md", encoding="utf-8") as handle:
        readme = handle.read()
    with open(ROLE / "defaults" / "main.yml", encoding="utf-8") as handle:
        defaults = yaml.safe_load(handle)
    missing = [name for name in defaults if f"`{name}`" not in readme]
    assert missing == []


def test_example_inventory_passes_the_checks():
    for groups in (BIGBOY, SMALLFRY):
        overrides, dummy = example_host_vars(groups)
        values = role_vars("Debian", overrides)
        checked = {k: values[k] for k in ("sendmail_mode", "sendmail_smart_host", "sendmail_dnsbl", "sendmail_milters",
                                          "sendmail_mc_raw_features", "sendmail_mc_raw_end", "sendmail_listen_addresses")}
        assert CHECKS.sendmail_config_errors(checked) == []


def test_golden_builds_with_m4_without_errors(tmp_path):
    proc = m4_build(tmp_path, golden("bigboy-Debian.sendmail.mc"))
    assert proc.returncode == 0 and proc.stderr == ""
    assert "O DaemonPortOptions=Family=inet, Name=MTA, Port=25" in proc.stdout


def test_tls_policy_on_every_port():
    lines = mc(sendmail_mode="server")
    options = [line for line in lines if "confSERVER_SSL_OPTIONS" in line]
    assert options == ["define(`confSERVER_SSL_OPTIONS', `+SSL_OP_NO_SSLv2 +SSL_OP_NO_SSLv3 +SSL_OP_NO_TLSv1 "
                       "+SSL_OP_NO_TLSv1_1 +SSL_OP_CIPHER_SERVER_PREFERENCE')dnl"]
    assert any(line.startswith("define(`confCIPHER_LIST', `ECDHE-ECDSA-AES128-GCM-SHA256:") for line in lines)
    tls13 = mc(sendmail_mode="server", sendmail_tls_min_version="TLSv1.3")
    assert any("+SSL_OP_NO_TLSv1_2 " in line for line in tls13 if "confSERVER_SSL_OPTIONS" in line)


def test_certificates_verify_against_a_dedicated_file_never_the_public_bundle():
    for platform in ("Debian", "RedHat"):
        lines = mc(platform, sendmail_mode="server")
        assert "define(`confCACERT', `/etc/mail/tls/smtpd.crt')dnl" in lines
        assert "define(`confCACERT_PATH', `/etc/mail/tls/cacerts')dnl" in lines
        assert not any("/etc/ssl/certs" in line or "ca-certificates" in line or "ca-bundle" in line for line in lines)
    lines = mc(sendmail_mode="server", sendmail_tls_ca_file="/etc/mail/tls/clients-ca.pem")
    assert "define(`confCACERT', `/etc/mail/tls/clients-ca.pem')dnl" in lines


def test_smrsh_on_debian_without_programs():
    assert "FEATURE(`smrsh', `/usr/lib/sm.bin/smrsh')dnl" in mc(sendmail_mode="server")
    assert "FEATURE(`smrsh', `/usr/lib/sm.bin/smrsh')dnl" in mc(sendmail_mode="client", sendmail_smart_host="mail.my-site.com")


def test_procmailrc_drops_privileges_before_any_recipe():
    for mailbox in ("mbox", "maildir"):
        lines = procmailrc(sendmail_local_mailbox=mailbox, sendmail_procmail_recipes=[":0fw\n| /usr/bin/spamc\n"]).splitlines()
        assert "DROPPRIVS=yes" in lines
        assert lines.index("DROPPRIVS=yes") < lines.index(":0fw")


def test_port_465_with_implicit_tls_and_auth_beside_587():
    lines = mc(sendmail_mode="server", sendmail_smtps_enabled=True)
    assert "DAEMON_OPTIONS(`Family=inet, Name=SMTPS, Port=465, M=Eas')dnl" in lines
    assert "DAEMON_OPTIONS(`Family=inet, Name=MSA, Port=587, M=Ea')dnl" in lines
    assert "DAEMON_OPTIONS(`Family=inet, Name=MTA, Port=25, M=A')dnl" in lines
    # 465 alone still configures AUTH (and takes it off 25)
    alone = mc(sendmail_mode="server", sendmail_smtps_enabled=True, sendmail_submission_enabled=False)
    assert "DAEMON_OPTIONS(`Family=inet, Name=SMTPS, Port=465, M=Eas')dnl" in alone
    assert "define(`confAUTH_OPTIONS', `A,p,y')dnl" in alone
    assert not any("Name=MSA" in line for line in alone)
    # off by default, never without TLS, never on a client
    for off in (mc(sendmail_mode="server"), mc(sendmail_mode="server", sendmail_smtps_enabled=True, sendmail_tls_enabled=False),
                mc(sendmail_mode="client", sendmail_smart_host="mail.my-site.com", sendmail_smtps_enabled=True)):
        assert not any("Port=465" in line for line in off)


def test_message_size_limit():
    assert "define(`confMAX_MESSAGE_SIZE', `26214400')dnl" in mc(sendmail_mode="server")
    assert "define(`confMAX_MESSAGE_SIZE', `1000000')dnl" in mc(sendmail_mode="server", sendmail_max_message_size=1000000)
    assert not any("confMAX_MESSAGE_SIZE" in line for line in mc(sendmail_mode="server", sendmail_max_message_size=0))


BACKUP_MX = {"sendmail_mode": "backup_mx", "sendmail_backup_mx_primary": "bigboy.my-site.com",
             "sendmail_listen_addresses": ["192.168.1.11"], "sendmail_submission_enabled": False,
             "sendmail_queue_return": "5d", "sendmail_queue_warn": "4h"}


def backup_mx_vars(platform="Debian", **overrides):
    """A backup MX of bigboy: the primary's mailserver_domain_* variables come from inventories/example."""
    dummy, primary = example_host_vars(BIGBOY)
    return role_vars(platform, {**BACKUP_MX, **overrides}, primary_domain_vars=primary,
                     own_names=["backupmx.my-site.com"])


@pytest.mark.parametrize("platform", ["Debian", "RedHat"])
def test_golden_backup_mx(platform):
    """A backup MX of bigboy renders byte for byte as reviewed (regenerate with UPDATE_GOLDEN=1)."""
    assert_golden(f"backupmx-{platform}.sendmail.mc", render(backup_mx_vars(platform)))


def test_backup_mx_relays_only_the_primary_domains_and_hands_them_on():
    values = backup_mx_vars()
    lines = render(values).splitlines()
    assert "FEATURE(`mailertable', `hash -o /etc/mail/mailertable.db')dnl" in lines
    assert "FEATURE(`blocklist_recipients')dnl" in lines
    assert "define(`confTO_QUEUERETURN', `5d')dnl" in lines and "define(`confTO_QUEUEWARN', `4h')dnl" in lines
    # port 25 only: no submission, no AUTH, no smart host, no relay-widening feature
    assert [line for line in lines if line.startswith("DAEMON_OPTIONS")] == [
        "DAEMON_OPTIONS(`Family=inet, Name=MTA, Port=25, Addr=192.168.1.11')dnl"]
    assert not any("SMART_HOST" in line or "confAUTH" in line or line.startswith("FEATURE(`relay_based_on_MX'")
                   for line in lines)
    assert values["__sendmail_mailertable"] == {"another-site.com": "esmtp:[bigboy.my-site.com]",
                                                "my-site.com": "esmtp:[bigboy.my-site.com]"}
    model = values["__sendmail_model"]
    assert model["relay_domains"] == ["another-site.com", "my-site.com"]
    # the primary's domains are relayed, never delivered here; its users are no accounts here
    assert model["local_host_names"] == [] and model["users"] == []
    access = {entry["key"]: entry["value"] for entry in model["access"]}
    assert access["To:marc@my-site.com"] == "RELAY" and access["To:postmaster@my-site.com"] == "RELAY"
    assert access["To:my-site.com"] == "ERROR:5.1.1:550 User unknown"
    assert access["To:backupmx.my-site.com"] == "OK"
    # another-site.com's catch-all delivers every address: accepted whole, no To: entries
    assert not any(key.endswith("another-site.com") for key in access)
    # john1 is a user of my-site.com but only john@ is routed: the primary refuses john1@, so does the backup
    assert "To:john1@my-site.com" not in access and access["To:john@my-site.com"] == "RELAY"


def test_backup_mx_without_recipient_check_accepts_whole_domains():
    values = backup_mx_vars(sendmail_backup_mx_check_recipients=False)
    lines = render(values).splitlines()
    assert not any("blocklist_recipients" in line for line in lines)
    assert not any(entry["key"].startswith("To:") for entry in values["__sendmail_model"]["access"])
    assert values["__sendmail_model"]["relay_domains"] == ["another-site.com", "my-site.com"]


def test_backup_mx_golden_builds_with_m4_without_errors(tmp_path):
    proc = m4_build(tmp_path, golden("backupmx-Debian.sendmail.mc"))
    assert proc.returncode == 0 and proc.stderr == ""
    assert "O Timeout.queuereturn=5d" in proc.stdout.splitlines()
    # the mailertable is read (its FEATURE writes the map), and To: entries are looked up at RCPT
    assert "Kmailertable hash -o /etc/mail/mailertable.db" in proc.stdout
    assert "To:" in proc.stdout

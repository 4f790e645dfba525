"""The mailbox side, proved with real mail over 127.0.0.0/8 inside the container.

sendmail hands each local message to dovecot-lda (inventories/example's dovecot_lda), or on
dovecot-bookworm to Dovecot's LMTP server (molecule/host_vars/dovecot-bookworm.yml's dovecot_lmtp); the
global Sieve script runs spamc and files spam into Junk; paul uploads his own script over
ManageSieve (4190, STARTTLS, AUTH); moves into and out of Junk teach spamd's Bayes; john2 has
a 1M quota (vars/dovecot.yml). files/mailbox_probe.py runs the whole exchange once.
"""

import json
import pathlib
import re

import pytest
import yaml
from harness import lab_secrets

SCENARIO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def box(host):
    args = json.dumps({"passwords": lab_secrets.mail_passwords()})
    result = host.run(f"python3 /usr/local/sbin/mailbox_probe.py run {lab_secrets.shell_quote(args)}")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def test_delivered_through_dovecot_lda_or_lmtp(host, box):
    assert box["sent"]["plain"] == "accepted", box["sent"]
    assert box["plain_in_inbox"], box
    # the host's inventory decides: dovecot-bookworm hands mail to Dovecot's LMTP server, dovecot-trixie to dovecot-lda
    host_vars = yaml.safe_load((SCENARIO.parent / "host_vars" / f"dovecot-{host.system_info.codename}.yml").read_text())
    wanted = "lmtp" if host_vars.get("dovecot_lmtp") else "lda"
    assert box["local_mailer"] == wanted, box["local_mailer"]
    # Dovecot's log: lda(john1) or lmtp(john1) saved the message; scanned on the way (the global Sieve script's spamc)
    assert any(re.search(r"(stored mail into mailbox|saved mail to) '?INBOX", line) for line in box["lda_log"]), box["lda_log"]
    assert box["sendmail_local"], box
    assert "X-Spam-Checker-Version" in box["plain_headers"], box["plain_headers"]


def test_one_return_path_with_the_envelope_sender(box):
    """sendmail adds Return-Path for dovecot-lda (F=P); Dovecot's LMTP server adds its own (no F=P): one either way."""
    paths = re.findall(r"^Return-Path:[ \t]*(\S*)", box["plain_headers"], re.MULTILINE | re.IGNORECASE)
    assert paths == ["<john@my-site.com>"], box["plain_headers"]


def test_managesieve_upload_over_starttls(box):
    log = box["managesieve"]["log"]
    assert log[1].startswith("OK"), log  # STARTTLS
    assert log[2].startswith("tls TLSv1."), log
    assert [line.split()[0] for line in log[3:]] == ["OK", "OK", "OK"], log  # AUTHENTICATE, PUTSCRIPT, SETACTIVE
    assert "paul-rules ACTIVE" in box["paul_active"], box["paul_active"]


def test_users_sieve_rule_files_by_subject(box):
    assert box["project_in_projects"] and not box["project_in_inbox"], box


def test_gtube_is_filed_into_junk(box):
    assert box["sent"]["gtube"] == "accepted"
    assert box["gtube_in_junk"] and box["gtube_flag"], box
    assert not box["gtube_in_inbox"] or box["move_from_junk"] == "OK", box


def test_moving_into_junk_teaches_spam_and_out_of_junk_ham(box):
    before, after_junk, after_inbox = box["bayes_before"], box["bayes_after_junk"], box["bayes_after_inbox"]
    assert box["move_to_junk"] == "OK" and box["move_from_junk"] == "OK", box
    assert after_junk["nspam"] == before["nspam"] + 1, (before, after_junk)
    assert after_inbox["nham"] == after_junk["nham"] + 1, (after_junk, after_inbox)


def test_vacation_replies_once_and_never_to_lists_or_bounces(box):
    assert all(box["paul_inbox"].values()), box["paul_inbox"]
    assert box["replies_to_john1"] == 1, box
    assert box["replies_to_john2"] == 0, box


def test_getquotaroot_shows_the_limits(box):
    assert box["quota_paul"]["limit"] == 1024 * 1024, box["quota_paul"]  # dovecot_quota: 1G, in KiB
    assert box["quota_john2_before"]["limit"] == 1024, box["quota_john2_before"]  # dovecot_quota_users.john2: 1M


def test_warning_at_the_threshold(box):
    assert box["fill_delivered"], box
    assert box["warning"], box


def test_over_quota_is_refused_with_a_bounce(box):
    assert box["sent"]["over2"] == "accepted", box["sent"]
    assert not box["over_delivered"], box
    assert "Quota exceeded" in box["over_bounce"] or "quota" in box["over_bounce"].lower(), box["over_bounce"]
    assert "Status: 5." in box["over_bounce"], box["over_bounce"]

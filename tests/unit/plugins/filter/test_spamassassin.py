"""homelab.mailserver.spamassassin_local_cf: the chapter's SpamAssassin 2.x local.cf becomes a 4.x one."""

from __future__ import annotations

import os

import pytest
from ansible_collections.homelab.mailserver.plugins.filter.spamassassin import (
    FilterModule,
    spamassassin_local_cf,
    spamassassin_parse_cf,
)

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
PLUGIN = "Mail::SpamAssassin::Plugin::"


def chapter_options():
    with open(os.path.join(GOLDEN, "chapter-local.cf"), encoding="utf-8") as handle:
        return spamassassin_parse_cf(handle.read())


def test_registered():
    assert set(FilterModule().filters()) == {"spamassassin_local_cf", "spamassassin_parse_cf", "spamassassin_milter_options"}


def test_parse_the_chapters_file():
    assert chapter_options() == {
        "required_hits": "5.0", "rewrite_subject": "1", "subject_tag": "*****SPAM*****", "report_safe": "1",
        "use_terse_report": "0", "use_bayes": "1", "auto_learn": "1", "skip_rbl_checks": "0", "use_razor2": "1",
        "use_dcc": "1", "use_pyzor": "1", "ok_languages": "en", "ok_locales": "en",
    }


def test_parse_repeated_options_give_a_list():
    assert spamassassin_parse_cf("score A 1\n# c\n\nscore B 2\nreport_safe\t0\n") == {
        "score": ["A 1", "B 2"], "report_safe": "0"}


def test_chapter_golden_translated_to_4x():
    """The chapter's file as raw options, nothing else: the 4.x lines, plugins and warnings."""
    result = spamassassin_local_cf({}, options=chapter_options())
    assert result["errors"] == []
    assert result["lines"] == [
        "required_score 5.0",
        "rewrite_header Subject *****SPAM*****",
        "report_safe 1",
        "use_bayes 1",
        "bayes_auto_learn 1",
        "skip_rbl_checks 0",
        "use_razor2 1",
        "use_dcc 1",
        "use_pyzor 1",
        "ok_languages en",
        "ok_locales en",
    ]
    assert result["plugins"] == [PLUGIN + "Razor2", PLUGIN + "Pyzor", PLUGIN + "DCC", PLUGIN + "TextCat"]
    text = " | ".join(result["warnings"])
    assert "'required_hits' is the SpamAssassin 2.x name of 'required_score'" in text
    assert "'auto_learn' is the SpamAssassin 2.x name of 'bayes_auto_learn'" in text
    assert "'use_terse_report 0' is a SpamAssassin 2.x option that SpamAssassin 4 no longer has; dropped" in text
    assert "'rewrite_subject' is a SpamAssassin 2.x option" in text
    assert not any(line.startswith(("required_hits", "auto_learn", "use_terse_report", "subject_tag", "rewrite_subject"))
                   for line in result["lines"])


def test_role_defaults_shape():
    """The role's structured settings alone (what defaults/main.yml passes)."""
    result = spamassassin_local_cf({
        "required_score": 5, "rewrite_subject": True, "subject_tag": "*****SPAM*****", "report_safe": 1,
        "use_bayes": True, "bayes_auto_learn": True, "bayes_path": "/var/lib/spamassassin/bayes/bayes",
        "bayes_file_mode": "0770", "rbl_checks": False, "razor": False, "pyzor": False, "dcc": False,
        "ok_languages": ["all"], "ok_locales": ["all"], "trusted_networks": ["127.0.0.0/8", "192.168.1.0/24"],
        "internal_networks": [],
    })
    assert result["errors"] == [] and result["warnings"] == []
    assert result["lines"] == [
        "required_score 5.0",
        "rewrite_header Subject *****SPAM*****",
        "report_safe 1",
        "use_bayes 1",
        "bayes_auto_learn 1",
        "bayes_path /var/lib/spamassassin/bayes/bayes",
        "bayes_file_mode 0770",
        "skip_rbl_checks 1",
        "skip_uribl_checks 1",
        "dns_query_restriction deny fmb.la dkimwl.org surbl.org",
        "ok_locales all",
        "trusted_networks 127.0.0.0/8 192.168.1.0/24",
    ]
    # switched-off plugins: neither loaded nor their options written (SpamAssassin would not parse them)
    assert result["plugins"] == []
    assert result["managed_plugins"] == [PLUGIN + p for p in ("Razor2", "Pyzor", "DCC", "TextCat")]


def test_options_override_settings_and_extra_lines_come_last():
    result = spamassassin_local_cf(
        {"required_score": 5.0, "rewrite_subject": True, "subject_tag": "[SPAM]"},
        options={"required_hits": "2.1", "rewrite_subject": 0, "score": ["GTUBE 1000", "DEAR_FRIEND 2"]},
        extra_lines=["add_header all Lab yes"],
    )
    assert result["errors"] == []
    assert result["lines"] == ["required_score 2.1", "score GTUBE 1000", "score DEAR_FRIEND 2", "add_header all Lab yes"]


def test_rewrite_header_raw_option_is_kept():
    result = spamassassin_local_cf({"rewrite_subject": False}, options={"rewrite_header": "Subject [SPAM]"})
    assert result["lines"] == ["rewrite_header Subject [SPAM]"]
    assert result["warnings"] == []


def test_subject_tag_without_rewrite_warns():
    result = spamassassin_local_cf({}, options={"subject_tag": "x"})
    assert result["lines"] == []
    assert "subject_tag is set but subject rewriting is off; the tag is not used" in result["warnings"]
    # the role's own default tag with rewriting switched off is not worth a warning
    assert spamassassin_local_cf({"rewrite_subject": False, "subject_tag": "x"})["warnings"] == []


@pytest.mark.parametrize("settings, options, expected", [
    ({"required_score": "lots"}, None, "spamassassin_required_score: 'lots' is not valid: a number"),
    ({}, {"required_hits": "five"}, "required_score: 'five' is not valid: a number such as 5.0"),
    ({"rewrite_subject": True, "subject_tag": ""}, None, "subject_tag: '' is not valid: one line of text such as *****SPAM***** when subject rewriting is on"),
    ({"report_safe": 3}, None, "report_safe: 3 is not valid: 0, 1 or 2"),
    ({"use_bayes": "maybe"}, None, "use_bayes: 'maybe' is not valid: a boolean (1/0)"),
    ({"rbl_checks": "maybe"}, None, "spamassassin_rbl_checks: 'maybe' is not valid: a boolean"),
    ({"bayes_path": "bayes"}, None, "bayes_path: 'bayes' is not valid: an absolute path prefix"),
    ({"bayes_file_mode": "rw"}, None, "bayes_file_mode: 'rw' is not valid: an octal file mode"),
    ({"ok_languages": ["english"]}, None, "ok_languages: ['english'] is not valid: language codes"),
    ({"ok_locales": "en-US"}, None, "ok_locales: 'en-US' is not valid: locale codes"),
    ({"trusted_networks": ["192.168.1.0/33"]}, None, "trusted_networks: '192.168.1.0/33' is not valid: an IP address or network"),
    ({}, {"bad name": 1}, "spamassassin_options: 'bad name' is not valid: a local.cf option name"),
    ({}, {"score": "A\nB"}, "option score: 'A\\nB' is not valid: a value on one line"),
    ({}, ["required_hits 5"], "spamassassin_options: ['required_hits 5'] is not valid: a dictionary"),
])
def test_errors_name_the_variable(settings, options, expected):
    result = spamassassin_local_cf(settings, options=options)
    assert any(expected in error for error in result["errors"]), result["errors"]


def test_extra_lines_must_be_lines():
    result = spamassassin_local_cf({}, extra_lines=["ok 1", "two\nlines"])
    assert result["errors"] == ["spamassassin_extra_lines[1]: 'two\\nlines' is not valid: one line of text, without newlines or other control characters"]
    assert spamassassin_local_cf({}, extra_lines="x")["errors"] == ["spamassassin_extra_lines: 'x' is not valid: a list of local.cf lines"]


def test_not_a_dict():
    assert spamassassin_local_cf("x")["errors"] == ["spamassassin_local_cf input: 'x' is not valid: a dictionary of the settings"]


def test_unknown_options_pass_through_for_lint_to_judge():
    """Options the filter does not know are written as given: spamassassin --lint is the judge."""
    result = spamassassin_local_cf({}, options={"no_such_option": 1, "bool_opt": True})
    assert result["errors"] == []
    assert result["lines"] == ["no_such_option 1", "bool_opt 1"]


def test_blocklist_tests_off_means_no_blocklist_query():
    """skip_rbl_checks stops DNSEval's lists only; the URI lists and the lists SpamAssassin 4's rules ask
    through AskDNS and HashBL go with it, and come back with the switch."""
    off = spamassassin_local_cf({"rbl_checks": False})
    assert off["errors"] == []
    assert off["lines"] == ["skip_rbl_checks 1", "skip_uribl_checks 1", "dns_query_restriction deny fmb.la dkimwl.org surbl.org"]
    on = spamassassin_local_cf({"rbl_checks": True})
    assert on["lines"] == ["skip_rbl_checks 0"]
    # an operator's own option still wins
    own = spamassassin_local_cf({"rbl_checks": False}, options={"skip_uribl_checks": 0})
    assert "skip_uribl_checks 0" in own["lines"] and "skip_uribl_checks 1" not in own["lines"]
    bad = spamassassin_local_cf({"rbl_checks": False}, options={"skip_uribl_checks": "maybe"})
    assert any("skip_uribl_checks" in e for e in bad["errors"])
    for wrong in ("deny", "maybe fmb.la", "deny fmb.la;rm", "deny fmb.la\nuse_bayes 0"):
        result = spamassassin_local_cf({"rbl_checks": True}, options={"dns_query_restriction": wrong})
        assert any("dns_query_restriction" in e for e in result["errors"]), wrong
    several = spamassassin_local_cf({}, options={"dns_query_restriction": ["deny spamhaus.org", "allow zen.spamhaus.org"]})
    assert several["lines"] == ["dns_query_restriction deny spamhaus.org", "dns_query_restriction allow zen.spamhaus.org"]

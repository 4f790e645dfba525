"""Engine: parse/render round trips on the chapter's files, apply semantics, sendmail.cf parsing."""

import os
from pathlib import Path

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils import _sendmail_map as engine
from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_map import (
    KINDS,
    cf_alias_type,
    cf_map_type,
    collect,
    db_stale,
    quote_member,
    split_members,
    update_text,
)

from .chapter import CASES

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
GOLDEN = HERE / "golden"


def upd(text, entries, kind="access", exclusive=False):
    new, added, removed, updated, errors = update_text(text, entries, exclusive, KINDS[kind])
    assert errors == []
    return new, added, removed, updated


@pytest.mark.parametrize("fixture,kind,entries", CASES, ids=[c[0] for c in CASES])
def test_chapter_file_round_trips_byte_for_byte(fixture, kind, entries):
    text = (FIXTURES / fixture).read_text()
    assert upd(text, [], kind) == (text, [], [], [])
    # applying the chapter's own entries to the chapter's file changes nothing (its alignment is kept)
    assert upd(text, entries, kind) == (text, [], [], [])


@pytest.mark.parametrize("fixture,kind,entries", CASES, ids=[c[0] for c in CASES])
def test_chapter_entries_render_golden(fixture, kind, entries):
    golden = (GOLDEN / fixture.replace("chapter_", "")).read_text()
    new, added, removed, updated = upd("", entries, kind)
    assert new == golden
    assert len(added) == len(entries) and removed == updated == []
    assert upd(golden, entries, kind)[0] == golden


@pytest.mark.parametrize("fixture,kind,entries", CASES, ids=[c[0] for c in CASES])
def test_chapter_file_exclusive_keeps_only_named(fixture, kind, entries):
    text = (FIXTURES / fixture).read_text()
    new, added, removed, updated = upd(text, entries[:1], kind, exclusive=True)
    assert added == [] and updated == []
    assert len(removed) == len(entries) - 1
    # every comment and unparsed line survives
    keep = [line for line in text.splitlines() if not line or line[0] in "# ." or line.startswith(" ")]
    assert [line for line in new.splitlines() if line in keep] == keep


ACCESS = """\
# relay control
localhost                       RELAY

192.168.1.16                    RELAY
# spammers
spam.example                    REJECT
"""


def test_update_in_place_keeps_neighbours_and_comments():
    new, added, removed, updated = upd(ACCESS, [{"key": "192.168.1.16", "value": "REJECT"}])
    assert new == ACCESS.replace("192.168.1.16                    RELAY", "192.168.1.16\tREJECT")
    assert (added, removed, updated) == ([], [], ["192.168.1.16"])


def test_absent_removes_only_that_line():
    new, dummy_added, removed, dummy_updated = upd(ACCESS, [{"key": "SPAM.example", "state": "absent"}])
    assert new == ACCESS.replace("spam.example                    REJECT\n", "")
    assert removed == ["spam.example"]


def test_absent_of_missing_key_is_noop():
    assert upd(ACCESS, [{"key": "nothere.example", "state": "absent"}]) == (ACCESS, [], [], [])


def test_exclusive_removes_unnamed_keeps_comments_and_blank_lines():
    new, added, removed, dummy_updated = upd(ACCESS, [{"key": "localhost", "value": "RELAY"}, {"key": "10.1", "value": "RELAY"}],
                                             exclusive=True)
    assert new == "# relay control\nlocalhost                       RELAY\n\n# spammers\n10.1\tRELAY\n"
    assert added == ["10.1"] and removed == ["192.168.1.16", "spam.example"]


def test_new_entries_appended_in_given_order_and_output_deterministic():
    entries = [{"key": k, "value": "OK"} for k in ("b.example", "a.example", "c.example")]
    first = upd(ACCESS, entries)[0]
    assert first.endswith("b.example\tOK\na.example\tOK\nc.example\tOK\n")
    assert all(upd(ACCESS, entries)[0] == first for dummy in range(3))
    assert upd(first, entries) == (first, [], [], [])


def test_keys_case_insensitive_written_as_given():
    new, added, dummy_removed, updated = upd(ACCESS, [{"key": "LOCALHOST", "value": "REJECT"}])
    assert "LOCALHOST\tREJECT\n" in new and "localhost " not in new and updated == ["LOCALHOST"] and added == []


def test_missing_final_newline_gets_one_before_append():
    new = upd("a.example\tOK", [{"key": "b.example", "value": "OK"}])[0]
    assert new == "a.example\tOK\nb.example\tOK\n"
    assert upd("a.example\tOK", [])[0] == "a.example\tOK"


def test_duplicate_lines_in_file_collapse_to_first():
    text = "x.example\tOK\n# c\nx.example\tREJECT\n"
    new, dummy_added, dummy_removed, updated = upd(text, [{"key": "x.example", "value": "OK"}])
    assert new == "x.example\tOK\n# c\n" and updated == ["x.example"]


def test_same_key_twice_with_different_values_is_error_naming_both():
    errors = update_text("", [{"key": "a.example", "value": "OK"}, {"key": "A.example", "value": "REJECT"}],
                         False, KINDS["access"])[4]
    assert len(errors) == 1 and "'a.example'" in errors[0] and "'A.example'" in errors[0] and "given twice" in errors[0]


def test_same_key_twice_with_same_value_is_fine():
    assert upd("", [{"key": "a.example", "value": "OK"}] * 2)[0] == "a.example\tOK\n"


def test_errors_reported_for_all_bad_entries_and_text_unchanged():
    result = update_text(ACCESS, [{"key": "192.168.0.0/16", "value": "RELAY"},
                                  {"key": "ok.example", "value": "ACCEPT"},
                                  {"key": "fine.example", "value": "OK"}], False, KINDS["access"])
    text, errors = result[0], result[4]
    assert text == ACCESS and len(errors) == 2
    assert "192.168" in errors[0] and "use OK (not ACCEPT)" in errors[1]


def test_value_required_when_present():
    errors = update_text("", [{"key": "a.example"}], False, KINDS["access"])[4]
    assert errors == ["entry 'a.example': value is required when state is present"]


# ------------------------------------------------------------------ aliases
ALIASES = """\
# system
mailer-daemon: postmaster
postmaster:\troot
staff: alice,
\tbob, "|/usr/bin/logger -t mail"
root: marc
"""


def test_aliases_continuation_lines_compare_by_members():
    entries = [{"name": "staff", "members": ["alice", "bob", "|/usr/bin/logger -t mail"]}]
    assert upd(ALIASES, entries, "aliases") == (ALIASES, [], [], [])


def test_aliases_update_replaces_whole_continued_entry():
    new, dummy_added, dummy_removed, updated = upd(ALIASES, [{"name": "Staff", "members": ["carol"]}], "aliases")
    assert new == "# system\nmailer-daemon: postmaster\npostmaster:\troot\nStaff:\tcarol\nroot: marc\n"
    assert updated == ["Staff"]


def test_aliases_render_no_spaces_and_quotes():
    new = upd("", [{"name": "x", "members": ["a", "b@example.com", "|/usr/bin/prog arg", "/var/mail/file",
                                             ":include:/etc/mail/x list"]}], "aliases")[0]
    assert new == 'x:\ta,b@example.com,"|/usr/bin/prog arg",/var/mail/file,":include:/etc/mail/x list"\n'


@pytest.mark.parametrize("text,members", [
    ("a,b", ["a", "b"]),
    (' "|prog a,b" , c,\n\t d', ["|prog a,b", "c", "d"]),
    ("", []),
])
def test_split_members(text, members):
    assert split_members(text) == members


def test_quote_member_idempotent():
    assert quote_member('"|x"') == '"|x"' and quote_member("|x") == '"|x"' and quote_member("x") == "x"


def test_class_file_users_case_sensitive():
    new = upd("Root\n", ["root"], "class_users")[0]
    assert new == "Root\nroot\n"
    assert upd("Example.COM\n", ["example.com"], "class_hosts")[0] == "Example.COM\n"


def test_class_file_multi_token_lines_kept_as_is():
    text = "a.example b.example\n"
    assert upd(text, ["c.example"], "class_hosts", exclusive=True)[0] == text + "c.example\n"


# ------------------------------------------------------------------ sendmail.cf
CF = """\
Kaccess hash -T<TMPF> -o /etc/mail/access.db
Kvirtuser btree -o /etc/mail/virtusertable
Kmailertable cdb -o /etc/mail/mailertable.cdb
Kdequote dequote
O AliasFile=/etc/mail/aliases,hash:/etc/mail/other
"""


@pytest.mark.parametrize("path,expected", [
    ("/etc/mail/access", "hash"),
    ("/etc/mail/virtusertable", "btree"),
    ("/etc/mail/mailertable", "cdb"),
    ("/etc/mail/genericstable", None),
])
def test_cf_map_type(tmp_path, path, expected):
    cf = tmp_path / "sendmail.cf"
    cf.write_text(CF)
    assert cf_map_type(path, str(cf)) == expected


def test_cf_map_type_missing_cf(tmp_path):
    assert cf_map_type("/etc/mail/access", str(tmp_path / "nope.cf")) is None


def test_cf_alias_type(tmp_path):
    cf = tmp_path / "sendmail.cf"
    cf.write_text(CF)
    assert cf_alias_type("/etc/mail/aliases", str(cf)) is None
    assert cf_alias_type("/etc/mail/other", str(cf)) == "hash"


def test_db_stale(tmp_path):
    text, db = tmp_path / "access", tmp_path / "access.db"
    text.write_text("x")
    assert db_stale(str(text), [str(db)])
    db.write_text("y")
    st = text.stat()
    os.utime(db, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert not db_stale(str(text), [str(db)])
    os.utime(db, ns=(st.st_atime_ns, st.st_mtime_ns - 10**9))
    assert db_stale(str(text), [str(db)])


# ------------------------------------------------------------------ fast paths
def test_collect_fast_path_matches_full_path():
    """Well-formed items take collect()'s fast path; with state '' (also present) they take the full path."""
    cases = {
        "access": [{"key": "A.example", "value": "OK"}, {"key": "a.example", "value": "OK"}, {"key": "10", "value": "RELAY"},
                   {"key": "b.example", "value": "OK"}, {"key": "B.example", "value": "REJECT"},
                   {"key": "From:x@y.example", "value": "ERROR:5.7.1:550 no"}, {"key": "c d", "value": "OK"}],
        "aliases": [{"name": "Staff", "members": ["alice", "bob"]}, {"name": "staff", "members": ["alice", "bob"]},
                    {"name": "root", "members": ["marc"]}, {"name": "x", "members": "marc"}],
        "class_hosts": ["Mail.example", "mail.example", "[10.1.2.3]", "bad host"],
        "class_users": ["marc", "Marc", "not a user"],
    }
    for kind, items in cases.items():
        full = [{"key": i, "state": ""} if isinstance(i, str) else dict(i, state="") for i in items]
        assert collect(items, KINDS[kind]) == collect(full, KINDS[kind]), kind


def test_same_key_twice_same_value_last_spelling_wins():
    assert upd("", [{"key": "A.example", "value": "OK"}, {"key": "a.example", "value": "OK"}])[0] == "a.example\tOK\n"
    assert upd("", ["Mail.example", "mail.example"], "class_hosts")[0] == "mail.example\n"


def test_non_string_value_is_an_error_not_a_crash():
    errors = update_text("", [{"key": "a.example", "value": True}, {"key": "b.example", "value": ["OK"]},
                              {"key": "c.example", "value": 5000}], False, KINDS["access"])[4]
    assert errors == ["entry 'a.example': value must be a string, not bool True",
                      "entry 'b.example': value must be a string, not list ['OK']",
                      "entry 'c.example': value: '5000' is not valid: " + V.VALID_ACCESS_VALUE]


def test_whitespace_only_lines_split_does_not_know_are_kept():
    text = "a.example\tOK\n\x0c\n\u00a0\nb.example\tOK\n"
    new, added, dummy_removed, updated = upd(text, [{"key": "b.example", "value": "REJECT"}])
    assert new == "a.example\tOK\n\x0c\n\u00a0\nb.example\tREJECT\n" and updated == ["b.example"] and added == []
    assert upd(text, [])[0] == text


def test_alias_file_problem_names_debians_link(tmp_path):
    real = tmp_path / "aliases"
    real.write_text("postmaster: root\n")
    link = tmp_path / "mail-aliases"
    link.symlink_to(real)
    cf = tmp_path / "sendmail.cf"
    cf.write_text(f"O AliasFile={link}\n")
    assert f"reads aliases from {link} (a link to {real})" in engine.alias_file_problem(str(real), str(cf))
    assert engine.alias_file_problem(str(link), str(cf)) == ""
    cf.write_text(f"O AliasFile=hash:{real},/etc/more\n")
    assert engine.alias_file_problem(str(real), str(cf)) == ""
    cf.write_text("O AliasFile=/etc/elsewhere\n")
    assert "does not read" in engine.alias_file_problem(str(real), str(cf))
    assert engine.alias_file_problem(str(real), str(tmp_path / "no.cf")) == ""

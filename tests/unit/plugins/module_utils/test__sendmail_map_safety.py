"""Engine safety: map files are read as makemap reads them, no entry can add a line,
authinfo passwords are never shown, the EBUSY fallback never loses the complete copy."""

import errno
import os

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils import _sendmail_map as engine
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_map import (
    KINDS,
    Kind,
    collect,
    update_text,
)

# Every character str.splitlines() ends a line at, except \n and \r\n: makemap and sendmail do not.
SEPARATORS = ["\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


# ------------------------------------------------------------------ finding 2: lines end at \n only
@pytest.mark.parametrize("sep", SEPARATORS, ids=[f"U+{ord(c):04X}" for c in SEPARATORS])
def test_access_value_with_a_separator_is_one_entry(sep):
    """What an older run could have written: the \\v is inside a's value for makemap, not a line break."""
    text = f"a.example\tERROR:550 go away{sep}evil.example RELAY\nb.example\tOK\n"
    managed = [r for r in KINDS["access"].parse(text) if r[0]]
    assert [r[0] for r in managed] == ["a.example", "b.example"]
    assert managed[0][2] == f"ERROR:550 go away{sep}evil.example RELAY"
    assert "".join(r[3] for r in KINDS["access"].parse(text)) == text
    # evil.example is not in the file: asking for it appends it, it is not "already present"
    new, added, removed, updated, errors = update_text(text, [{"key": "evil.example", "value": "REJECT"}], False,
                                                       KINDS["access"])
    assert errors == [] and added == ["evil.example"] and updated == [] and new == text + "evil.example\tREJECT\n"
    # exclusive: the one line is one entry, removed as a whole
    new, added, removed, updated, errors = update_text(text, [{"key": "b.example", "value": "OK"}], True,
                                                       KINDS["access"])
    assert removed == ["a.example"] and new == "b.example\tOK\n"


@pytest.mark.parametrize("sep", SEPARATORS, ids=[f"U+{ord(c):04X}" for c in SEPARATORS])
def test_alias_member_with_a_separator_does_not_make_an_alias(sep):
    text = f"postmaster:\troot\nroot:\tmarc,x{sep}evil: /tmp/f\n"
    assert [r[0] for r in KINDS["aliases"].parse(text) if r[0]] == ["postmaster", "root"]
    new, added, removed, updated, errors = update_text(text, [{"name": "evil", "state": "absent"}], False,
                                                       KINDS["aliases"])
    assert (new, removed, errors) == (text, [], [])


def test_class_line_with_a_separator_is_not_two_entries():
    text = "a.example\vevil.example\nb.example\n"
    assert [r[0] for r in KINDS["class_hosts"].parse(text) if r[0]] == ["b.example"]
    assert update_text(text, ["evil.example"], False, KINDS["class_hosts"])[1] == ["evil.example"]


def test_keys_end_at_c_whitespace_only():
    """NBSP and 0x1c-0x1f are whitespace to str.split() but not to makemap: part of the key."""
    for odd in ("\xa0", "\x1f", "\u3000"):
        text = f"a{odd}b.example\tOK\nc.example OK\n"
        records = [r for r in KINDS["access"].parse(text) if r[0]]
        assert [(r[1], r[2]) for r in records] == [(f"a{odd}b.example", "OK"), ("c.example", "OK")], repr(odd)
    # the fast path (ASCII text) and the careful one give the same records
    plain = "a.example\tOK  \nb.example \t REJECT\n#c\n \n\tx\nno-value\n"
    careful = plain + "# \xa0\n"
    assert KINDS["access"].parse(plain) == KINDS["access"].parse(careful)[:-1]


CONTROL = [chr(c) for c in (*range(0x00, 0x09), *range(0x0a, 0x20), 0x7f, 0x85, 0x2028, 0x2029)]
SAMPLES = {
    "access": ("a.example", "OK"), "virtusertable": ("u@a.example", "marc"),
    "genericstable": ("marc", "m@a.example"), "mailertable": ("a.example", "esmtp:[b.example]"),
    "domaintable": ("a.example", "b.example"), "authinfo": ("AuthInfo:a.example", '"U:me" "P:pw"'),
    "generic": ("k", "some value"),
}


@pytest.mark.parametrize("kind", [*SAMPLES, "aliases", "class_hosts", "class_users", "class_any"])
def test_every_kind_refuses_control_and_separator_characters(kind):
    accepted = []
    for c in CONTROL:
        if kind == "aliases":
            items = [{"name": f"a{c}b", "members": ["marc"]}, {"name": "a", "members": [f"m{c}x"]}]
        elif kind.startswith("class_"):
            items = [f"ab{c}x"]
        else:
            key, value = SAMPLES[kind]
            items = [{"key": f"{key}{c}x", "value": value}, {"key": key, "value": f"{value[:-1]}{c}{value[-1]}"}]
        for item in items:
            if not collect([item], KINDS[kind])[1]:
                accepted.append((hex(ord(c)), item))
    assert accepted == []


def test_no_entry_can_add_a_line_even_past_a_lax_validator():
    """apply() itself refuses a rendered entry that is not exactly one line."""
    lax = Kind("lax", lambda key: None, lambda key, value: None)
    new, added, removed, updated, errors = update_text("x\tOK\n", [{"key": "a", "value": "x\nevil.example RELAY"}],
                                                       False, lax)
    assert new == "x\tOK\n" and added == [] and errors == ["entry 'a': it would not be one line of the file"]


# ------------------------------------------------------------------ finding 5: passwords never shown
def test_authinfo_errors_never_show_the_password():
    bad = [{"key": "AuthInfo:a.example", "value": '"U:me" P:my hunter2 pw'},
           {"key": "AuthInfo:b.example", "value": ["P:list hunter2"]},
           {"key": "AuthInfo:c.example", "value": '"P:twice hunter2"'},
           {"key": "AuthInfo:c.example", "value": '"P:other hunter2"'},
           {"key": "AuthInfo:d.example", "value": '"P:unknown field"', "pasword": "field hunter2"}]
    errors = update_text("", bad, False, KINDS["authinfo"])[4]
    assert len(errors) == 4, errors
    text = "\n".join(errors)
    assert "hunter2" not in text and "unknown field" not in text
    assert "'AuthInfo:a.example'" in text and engine.HIDDEN_VALUE in text and '"P:********"' in text


def test_secrets_cover_spaces_both_forms_invalid_values_and_the_file():
    items = [{"key": "AuthInfo:a", "value": '"U:me" "P:my secret pw" "M:PLAIN"', "state": "present"},
             ("AuthInfo:b", '"U:you" "P=c2VjcmV0"'), {"key": "AuthInfo:c", "value": "U:me P:unquoted secret"},
             {"key": "AuthInfo:d", "value": '"U:me" "P:"'}]
    found = engine.secrets(items, ['# AuthInfo:old "P:old one"\nAuthInfo:x\t"U:x" "P:it\'s"\n'])
    assert {"P:my secret pw", "P=c2VjcmV0", "U:me P:unquoted secret", "P:old one", "P:it's", "P:it\\'s"} <= found
    assert not found & {"present", "P:", "U:me", "AuthInfo:a"}
    assert engine.mask_secrets('AuthInfo:a\t"U:me" "P:my secret pw" "M:PLAIN"\n"P=c2VjcmV0"') == (
        'AuthInfo:a\t"U:me" "P:********" "M:PLAIN"\n"P=********"')


# ------------------------------------------------------------------ finding 6: the in-place fallback
def test_write_in_place_keeps_inode_and_takes_the_temp_mode(tmp_path):
    dest, tmp = tmp_path / "access", tmp_path / ".access.x.tmp"
    dest.write_bytes(b"old contents, longer than the new ones\n")
    dest.chmod(0o644)
    tmp.write_bytes(b"new\n")
    tmp.chmod(0o600)
    inode = dest.stat().st_ino
    engine.write_in_place(str(tmp), str(dest))
    assert dest.read_bytes() == b"new\n" and dest.stat().st_ino == inode and dest.stat().st_mode & 0o777 == 0o600
    assert tmp.read_bytes() == b"new\n"  # write_in_place never removes the complete copy


def test_write_in_place_reserves_room_first(tmp_path, monkeypatch):
    """A full file system fails at posix_fallocate: not one byte of the old file is overwritten."""
    dest, tmp = tmp_path / "access", tmp_path / ".access.x.tmp"
    dest.write_bytes(b"old\n")
    tmp.write_bytes(b"new and longer\n" * 100)

    def full(fd, offset, length):
        os.ftruncate(fd, 10)  # what an emulated fallocate may leave behind
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(engine.os, "posix_fallocate", full)
    with pytest.raises(OSError) as exc:
        engine.write_in_place(str(tmp), str(dest))
    assert exc.value.errno == errno.ENOSPC and dest.read_bytes() == b"old\n"

"""_common: the result, file helpers, the alias file of sendmail.cf and the inputs of the checks."""

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils import _dns_query
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import _common as common

from .helpers import write


def test_result_and_files(tmp_path):
    assert common.result("listening", None, "x") == {"name": "listening", "ok": None, "detail": "x"}
    path = write(tmp_path / "f", "text\n", age=100)
    assert common.read_text(path) == "text\n"
    assert common.read_text(str(tmp_path / "none")) is None
    assert common.mtime(path) == (1_700_000_000 - 100) * 10**9
    assert common.mtime(str(tmp_path / "none")) is None


def test_db_problem(tmp_path):
    text = write(tmp_path / "access", "x", age=10)
    db = str(tmp_path / "access.db")
    assert common.db_problem(text, [db]) == "%s: %s missing" % (text, db)
    write(tmp_path / "access.db", age=100)
    assert common.db_problem(text, [db]) == "%s: %s older than the text" % (text, db)
    write(tmp_path / "access.db", age=0)
    assert common.db_problem(text, [db]) == ""


def test_alias_file_taken_from_sendmail_cf(tmp_path):
    cf = tmp_path / "sendmail.cf"
    cf.write_text("O QueueDirectory=/var/spool/mqueue\nO AliasFile=hash:/etc/aliases,/etc/mail/more-aliases\n")
    assert common.cf_alias_file(str(cf)) == "/etc/aliases"
    cf.write_text("O AliasFile=/etc/mail/aliases\n")
    assert common.cf_alias_file(str(cf)) == "/etc/mail/aliases"
    cf.write_text("O QueueDirectory=/var/spool/mqueue\n")
    assert common.cf_alias_file(str(cf)) is None
    assert common.cf_alias_file(str(tmp_path / "missing.cf")) is None


def test_derived_inputs(tmp_path, monkeypatch):
    cf = write(tmp_path / "sendmail.cf", "O AliasFile=/etc/mail/aliases.local\n")
    looked_up = []

    def tool(name):
        looked_up.append(name)
        return "/usr/bin/" + name

    params = {"aliases_path": None, "sendmail_cf": cf, "dovecot": None, "timeout": 3}
    inputs = common.Inputs(params, "RUN", tool)
    assert inputs.get("aliases") == "/etc/mail/aliases.local"
    assert inputs.get("doveconf") == "/usr/bin/doveconf"
    assert inputs.get("doveconf") == "/usr/bin/doveconf" and looked_up == ["doveconf"]
    assert inputs.get("run") == "RUN" and inputs.get("timeout") == 3
    assert common.Inputs(dict(params, aliases_path="/a"), None, tool).get("aliases") == "/a"
    assert common.Inputs(dict(params, dovecot=False), None, tool).get("doveconf") is None
    monkeypatch.setattr(_dns_query, "nameservers", lambda: ["192.0.2.53"])
    assert inputs.get("nameservers") == ["192.0.2.53"]
    with pytest.raises(KeyError):
        inputs.get("nothing")


def test_view_gives_only_declared_inputs():
    check = common.Check("c", ("Conclusion",), "Doc.", ("timeout",), lambda i: i.timeout)
    view = common.Inputs({"timeout": 3, "fqdn": "x"}, None, None).view(check)
    assert check.run(view) == 3
    with pytest.raises(AttributeError, match="not among its declared inputs"):
        view.fqdn  # noqa: B018  (reading the attribute is what must fail)


@pytest.mark.parametrize(
    ("cf", "loadavg", "hinted"),
    [
        ("O QueueLA=8\nO RefuseLA=12\n", "15.75 5.96 2.55 22/211 23600\n", "load average 15.75 is at or above sendmail's RefuseLA=12"),
        ("O RefuseLA=12\n", "12.00 5.96 2.55 22/211 23600\n", "load average 12.00 is at or above sendmail's RefuseLA=12"),
        ("O RefuseLA=12\n", "11.99 5.96 2.55 22/211 23600\n", ""),
        ("O RefuseLA=0\n", "99.00 5.96 2.55 22/211 23600\n", ""),
        ("O QueueLA=8\n", "99.00 5.96 2.55 22/211 23600\n", ""),
        ("O RefuseLA=12\n", "", ""),
        ("O RefuseLA=12\n", "busy\n", ""),
    ],
)
def test_refuse_la_hint(tmp_path, cf, loadavg, hinted):
    cf_path = write(tmp_path / "sendmail.cf", cf)
    load_path = write(tmp_path / "loadavg", loadavg)
    hint = common.refuse_la_hint(cf_path, loadavg=load_path)
    assert (hinted in hint and "sendmail_refuse_la" in hint) if hinted else hint == ""
    assert common.refuse_la_hint(str(tmp_path / "missing.cf"), loadavg=load_path) == ""
    assert common.refuse_la_hint(None, loadavg=load_path) == ""

"""smtp_banner: a fake SMTP server on 127.0.0.1."""

import functools

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import smtp_banner as unit

from .helpers import closed_port, write


def test_banner_220(smtp_server):
    _state, port = smtp_server
    check = unit.check("127.0.0.1", port, timeout=5)
    assert check == {"name": "smtp_banner", "ok": True, "detail": "220 mail.my-site.com ESMTP Sendmail ready"}


def test_banner_not_220(smtp_server):
    state, port = smtp_server
    state["banner"] = "554 5.3.2 mail.my-site.com closing connection"
    check = unit.check("127.0.0.1", port, timeout=5)
    assert check["ok"] is False and check["detail"] == "554 5.3.2 mail.my-site.com closing connection"


def test_banner_nothing_listening():
    port = closed_port()
    check = unit.check("127.0.0.1", port, timeout=5)
    assert check["ok"] is False and "refused" in check["detail"].lower()
    assert check["detail"].startswith("127.0.0.1 port %d: " % port)


def test_refused_under_load_names_refuse_la(tmp_path, monkeypatch):
    cf = write(tmp_path / "sendmail.cf", "O RefuseLA=12\n")
    load = write(tmp_path / "loadavg", "15.75 5.96 2.55 22/211 23600\n")
    monkeypatch.setattr(unit, "refuse_la_hint", functools.partial(unit.refuse_la_hint, loadavg=load))
    port = closed_port()
    check = unit.check("127.0.0.1", port, timeout=5, sendmail_cf=cf)
    assert check["ok"] is False and check["detail"].startswith("127.0.0.1 port %d: " % port)
    assert "load average 15.75 is at or above sendmail's RefuseLA=12" in check["detail"]
    write(tmp_path / "loadavg", "0.50 0.40 0.30 1/100 1\n")
    assert "RefuseLA" not in unit.check("127.0.0.1", port, timeout=5, sendmail_cf=cf)["detail"]

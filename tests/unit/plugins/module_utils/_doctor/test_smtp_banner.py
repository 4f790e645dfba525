"""smtp_banner: a fake SMTP server on 127.0.0.1."""

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import smtp_banner as unit

from .helpers import closed_port


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

"""listening: /proc/net/tcp and tcp6 samples under tmp_path."""

import functools

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import listening as unit

from .helpers import write

TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1579 1 0
   1: 00000000:024B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1580 1 0
   2: 0100007F:0019 4200007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 1581 1 0
"""
TCP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue
   0: 00000000000000000000000001000000:03E1 00000000000000000000000000000000:0000 0A 00000000:00000000
   1: 00000000000000000000000000000000:03E3 00000000000000000000000000000000:0000 0A 00000000:00000000
   2: 0000000000000000FFFF00000300007F:006E 00000000000000000000000000000000:0000 0A 00000000:00000000
"""


def test_parse_proc_net_tcp():
    shown = [unit.show(a, p) for a, p in unit.parse_proc_net_tcp(TCP) + unit.parse_proc_net_tcp(TCP6)]
    assert shown == ["127.0.0.1:25", "0.0.0.0:587", "[::1]:993", "[::]:995", "[::ffff:127.0.0.3]:110"]


@pytest.mark.parametrize(
    ("expected", "ok", "missing"),
    [
        (["127.0.0.1:25", "192.168.1.100:587", "[::1]:993", "127.0.0.1:995", "127.0.0.3:110", "*:25"], True, ""),
        (["192.168.1.100:25"], False, "192.168.1.100:25"),
        (["[::1]:25"], False, "[::1]:25"),
        (["[::1]:587"], False, "[::1]:587"),
        (["*:143", "127.0.0.1:25"], False, "*:143"),
        (["smtp"], False, "smtp (not address:port)"),
        ([], None, ""),
    ],
)
def test_listening(tmp_path, expected, ok, missing):
    files = (write(tmp_path / "tcp", TCP), write(tmp_path / "tcp6", TCP6), str(tmp_path / "none"))
    check = unit.check(expected, files)
    assert check["name"] == "listening"
    assert check["ok"] is ok
    assert check["detail"].endswith("listening: 127.0.0.1:25 [::ffff:127.0.0.3]:110 0.0.0.0:587 [::1]:993 [::]:995")
    assert ("not listening: %s\n" % missing in check["detail"]) is bool(missing)


def test_listening_nothing(tmp_path):
    check = unit.check(["*:25"], (str(tmp_path / "none"),))
    assert check["ok"] is False and check["detail"] == "not listening: *:25\nlistening: nothing"


def test_missing_under_load_names_refuse_la(tmp_path, monkeypatch):
    cf = write(tmp_path / "sendmail.cf", "O RefuseLA=12\n")
    load = write(tmp_path / "loadavg", "15.75 5.96 2.55 22/211 23600\n")
    monkeypatch.setattr(unit, "refuse_la_hint", functools.partial(unit.refuse_la_hint, loadavg=load))
    files = (str(tmp_path / "none"),)
    check = unit.check(["*:25"], files, sendmail_cf=cf)
    assert check["ok"] is False and check["detail"].startswith("not listening: *:25\nlistening: nothing\n")
    assert check["detail"].endswith("(sendmail_refuse_la)") and "RefuseLA=12" in check["detail"]
    write(tmp_path / "loadavg", "0.50 0.40 0.30 1/100 1\n")
    assert unit.check(["*:25"], files, sendmail_cf=cf)["detail"] == "not listening: *:25\nlistening: nothing"

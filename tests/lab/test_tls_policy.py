"""The TLS policy on every TLS port of the configured lab server, from inside bigboy over loopback.

25 and 587 (STARTTLS), 465 (implicit TLS, sendmail_smtps_enabled in the example), 993 and 995
(Dovecot): TLS 1.0 and 1.1 are refused, TLS 1.2 or newer is spoken. The probe
(tests/harness/tls_probe.py) first proves with a server of its own that its client can speak
the old versions, so a refusal is the server's. AUTH is never offered on 25.
"""

import json
import pathlib
import shlex

PROBE = (pathlib.Path(__file__).resolve().parents[1] / "harness" / "tls_probe.py").read_text(encoding="utf-8")
PORTS = [25, 587, 465, 993, 995]


def test_tls_1_2_or_newer_on_every_tls_port(bigboy):
    result = bigboy.run(f"python3 - {shlex.quote(json.dumps(PORTS))} <<'PYEOF'\n{PROBE}\nPYEOF")
    assert result.rc == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["control TLSv1"] == "TLSv1" and out["control TLSv1_1"] == "TLSv1.1", out
    for port in PORTS:
        for version in ("TLSv1", "TLSv1_1"):
            assert out[f"{port} {version}"][0].startswith("refused"), (port, version, out)
        assert out[f"{port} default"][0] in ("TLSv1.2", "TLSv1.3"), (port, out)
    # AUTH: never on the MTA port; on 587 only after STARTTLS
    assert out["25 default"][1:] == [False, False], out
    assert out["587 default"][1:] == [False, True], out

"""Run tests/harness/tls_probe.py inside a host and check the TLS policy it reports.

Every port of PORTS refuses TLS 1.0 and 1.1 and speaks TLS 1.2 or newer by default; the
probe's control proves first that its client can speak the old versions, so a refusal is the
server's. Used by the molecule scenarios (sendmail, certificates) and the lab (tests/lab).
"""

import json
import pathlib
import shlex

PROBE = (pathlib.Path(__file__).resolve().parent / "tls_probe.py").read_text(encoding="utf-8")


def probe(host, ports):
    """The probe's JSON report for PORTS, run by HOST (a testinfra host)."""
    result = host.run(f"python3 - {shlex.quote(json.dumps(list(ports)))} <<'PYEOF'\n{PROBE}\nPYEOF")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def assert_tls_1_2_or_newer(host, ports):
    """Assert the policy on every port of PORTS; return the report for further checks."""
    out = probe(host, ports)
    assert out["control TLSv1"] == "TLSv1" and out["control TLSv1_1"] == "TLSv1.1", out
    for port in ports:
        for version in ("TLSv1", "TLSv1_1"):
            assert out[f"{port} {version}"][0].startswith("refused"), (port, version, out)
        assert out[f"{port} default"][0] in ("TLSv1.2", "TLSv1.3"), (port, out)
    return out


def assert_auth_on_submission_only(out):
    """AUTH never on the MTA port (25); on submission (587) only after STARTTLS."""
    assert out["25 default"][1:] == [False, False], out
    assert out["587 default"][1:] == [False, True], out

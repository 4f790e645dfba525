"""testssl.sh (Debian's package) against every TLS port of the mail server, with pebble's root trusted.

Run inside the container over loopback: 25 and 587 with STARTTLS, 465, 993 and 995 with TLS from
the first byte, each under the server's name (bigboy.my-site.com, SNI) on 127.0.0.1, with pebble's
root (side_effect.yml fetched it) as the one added CA, as a client of a real CA would trust that
CA. Protocols (SSLv2, SSLv3, TLS 1.0 and 1.1 not offered; TLS 1.2 or 1.3 offered), the cipher
categories (no NULL, anonymous, export, low or 3DES/IDEA cipher offered), the server's
certificate (chain of trust passed, the name matches) and no finding of severity HIGH or
CRITICAL, apart from those accepted below on purpose.
"""

import json

import pytest

PORTS = {25: "smtp", 587: "smtp", 465: None, 993: None, 995: None}
ROOT_PEM = "/var/tmp/certificates/pebble-root.pem"
OLD_PROTOCOLS = ("SSLv2", "SSLv3", "TLS1", "TLS1_1")
WEAK_CIPHERS = ("cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA")
# Accepted on purpose (roles/certificates/README.md, "Findings of testssl.sh accepted"):
#   cert_revocation      pebble, a test CA, publishes neither an OCSP responder nor a CRL; a public CA's
#                        certificates have them
#   cert_validityPeriod  pebble issues certificates valid for years; public ACME CAs issue 90 days or fewer
#                        and the role's own self-signed ones live 397 days
ACCEPTED = {"cert_revocation", "cert_validityPeriod"}


@pytest.fixture(scope="module")
def reports(host):
    """One testssl.sh JSON report a port; the scans run at once (each waits mostly on handshakes)."""
    scans = []
    for port, starttls in PORTS.items():
        options = f"-t {starttls} " if starttls else ""
        scans.append(
            f"testssl --quiet --color 0 --warnings off --nodns none --add-ca {ROOT_PEM} --ip 127.0.0.1 "
            f"--protocols --std --server-defaults {options}"
            f"--jsonfile /tmp/testssl-{port}.json bigboy.my-site.com:{port} >/tmp/testssl-{port}.log 2>&1 &")
    host.run("rm -f /tmp/testssl-*.json; " + " ".join(scans) + " wait")
    out = {}
    for port in PORTS:
        text = host.file(f"/tmp/testssl-{port}.json")
        assert text.exists, host.file(f"/tmp/testssl-{port}.log").content_string[-3000:]
        out[port] = {f["id"]: f for f in json.loads(text.content_string)}
    return out


@pytest.mark.parametrize("port", list(PORTS))
def test_no_high_or_critical_finding_but_the_accepted_ones(reports, port):
    findings = reports[port]
    assert len(findings) > 20, findings  # a scan that ran, not a connection error
    bad = [f"{f['id']}: {f['finding']}" for f in findings.values()
           if f.get("severity") in ("HIGH", "CRITICAL") and f["id"] not in ACCEPTED]
    assert bad == [], f"port {port}: {bad}"


@pytest.mark.parametrize("port", list(PORTS))
def test_old_protocols_not_offered(reports, port):
    findings = reports[port]
    for name in OLD_PROTOCOLS:
        assert findings[name]["finding"].startswith("not offered"), (port, findings[name])
    assert any(findings.get(name, {}).get("finding", "").startswith("offered") for name in ("TLS1_2", "TLS1_3")), port


@pytest.mark.parametrize("port", list(PORTS))
def test_no_weak_cipher_category_offered(reports, port):
    findings = reports[port]
    for name in WEAK_CIPHERS:
        assert name in findings, (port, name, sorted(findings)[:60])
        assert findings[name]["finding"].startswith("not offered"), (port, findings[name])


@pytest.mark.parametrize("port", list(PORTS))
def test_the_chain_verifies_and_the_name_matches(reports, port):
    findings = reports[port]
    assert findings["cert_chain_of_trust"]["finding"].startswith("passed"), (port, findings["cert_chain_of_trust"])
    assert findings["cert_trust"]["finding"].startswith("Ok"), (port, findings["cert_trust"])
    assert findings["cert_trust"]["severity"] in ("OK", "INFO"), (port, findings["cert_trust"])

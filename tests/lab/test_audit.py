"""Third-party audits of the configured lab, run inside bigboy over loopback.

- nmap's smtp-open-relay script (Debian's nmap) from an untrusted address finds
  no relay, and from a trusted one finds the relay that access allows (so the
  audit can see one);
- testssl.sh (Debian's package) against SMTP STARTTLS on 25, IMAPS 993 and
  POP3S 995: no SSLv2/SSLv3/TLS 1.0/TLS 1.1, no finding rated HIGH or CRITICAL;
  the JSON results are kept under build/audit/ as artifacts;
- private keys mode 0600 or stricter, and no vaulted secret in a verbose
  Ansible run's output.
"""

import base64
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(__file__))
from conftest import ROOT  # noqa: E402

AUDIT_DIR = ROOT / "build" / "audit"
TOOLS = ["nmap", "testssl.sh"]


@pytest.fixture(scope="module")
def audit_tools(bigboy):
    """Install the audit tools in bigboy (test tools, not part of the configured server)."""
    missing = [tool for tool in TOOLS if bigboy.run(f"dpkg-query -W -f='${{Status}}' {tool}").stdout.strip()
               != "install ok installed"]
    if missing:
        out = bigboy.run("DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
                         + " ".join(missing) + " bsdextrautils dnsutils")
        assert out.rc == 0, out.stderr[-2000:]
    return bigboy


def nmap_relay(host, source):
    # -e lo -S: the NSE connections come from SOURCE (sendmail logs relay=[SOURCE]).
    cmd = (f"nmap -n -Pn -sT -p 25 -e lo -S {source} --script smtp-open-relay "
           "--script-args smtp-open-relay.domain=relay-probe.invalid,smtp-open-relay.ip=127.0.0.1 127.0.0.1")
    out = host.run(cmd)
    assert out.rc == 0, out.stderr
    return out.stdout


def test_nmap_finds_no_open_relay_from_an_untrusted_address(audit_tools):
    report = nmap_relay(audit_tools, "127.0.0.5")
    assert "smtp-open-relay" in report, report
    assert "doesn't seem to be an open relay" in report, report


def test_nmap_sees_the_relay_access_allows(audit_tools):
    """The same audit from 127.0.0.3 (RELAY in access): the script can see a relay when there is one."""
    report = nmap_relay(audit_tools, "127.0.0.3")
    assert re.search(r"Server is an open relay \(\d+/\d+ tests\)", report), report


# name, testssl target, the CA the lab's clients trust: the root of the lab's ACME CA (pebble on
# the provider, playbooks/lab.yml), which issued the certificate sendmail and Dovecot both serve.
LAB_ROOT = "/root/lab-acme-root.pem"
FETCH_ROOT = ("python3 -c 'import ssl, urllib.request; ctx = ssl.create_default_context(cafile=\"/etc/pebble-lab/ca.pem\"); "
              "open(\"%s\", \"wb\").write(urllib.request.urlopen(\"https://127.0.0.10:15000/roots/0\", context=ctx).read())'"
              % LAB_ROOT)
TLS_TARGETS = [
    ("smtp-25", "--starttls smtp --ip 127.0.0.1 bigboy.my-site.com:25", LAB_ROOT),
    ("imaps-993", "--ip 127.0.0.1 mail.my-site.com:993", LAB_ROOT),
    ("pop3s-995", "--ip 127.0.0.1 mail.my-site.com:995", LAB_ROOT),
]
# pebble's certificates name no CRL or OCSP address (a public CA's do); testssl rates that HIGH.
NO_REVOCATION_INFO = {"cert_revocation"}


@pytest.fixture(scope="module")
def testssl_findings(audit_tools):
    """Run testssl.sh against the three TLS services at once; {name: findings}."""
    fetched = audit_tools.run(FETCH_ROOT)
    assert fetched.rc == 0, fetched.stderr
    script = " ".join(
        f"rm -f /root/testssl-{name}.json; testssl --quiet --color 0 --warnings off --add-ca {ca} "
        f"--protocols --server-defaults --vulnerable --jsonfile /root/testssl-{name}.json {target} "
        f">/root/testssl-{name}.log 2>&1 &"
        for name, target, ca in TLS_TARGETS) + " wait"
    audit_tools.run(script)
    findings = {}
    AUDIT_DIR.mkdir(parents=True, exist_ok=True)
    for name, _target, _ca in TLS_TARGETS:
        path = f"/root/testssl-{name}.json"
        if audit_tools.file(path).exists:
            findings[name] = json.loads(audit_tools.file(path).content_string)
            (AUDIT_DIR / f"testssl-{name}.json").write_text(json.dumps(findings[name], indent=1), encoding="utf-8")
        else:
            findings[name] = audit_tools.run(f"tail -20 /root/testssl-{name}.log").stdout
    return findings


@pytest.mark.parametrize("name", [t[0] for t in TLS_TARGETS])
def test_testssl(testssl_findings, name):
    findings = testssl_findings[name]
    assert isinstance(findings, list), f"testssl produced no JSON: {findings}"
    by_id = {f["id"]: f for f in findings}
    for proto in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        assert proto in by_id, f"testssl did not test {proto}: {sorted(by_id)[:40]}"
        assert "not offered" in by_id[proto]["finding"], by_id[proto]
    assert "offered" in by_id["TLS1_2"]["finding"] or "offered" in by_id.get("TLS1_3", {}).get("finding", "")
    assert "cert_chain_of_trust" in by_id, "testssl did not check the certificate"
    assert by_id["cert_chain_of_trust"]["finding"].startswith("passed"), by_id["cert_chain_of_trust"]
    bad = [f for f in findings if f.get("severity") in ("HIGH", "CRITICAL") and f["id"] not in NO_REVOCATION_INFO]
    assert bad == [], bad


# Keys the distribution makes and shares with a service's group, not the collection's.
DISTRIBUTION_KEYS = {"/etc/ssl/private/ssl-cert-snakeoil.key", "/etc/mail/tls/sendmail-common.key"}


def test_private_keys_are_0600(bigboy):
    """Every private key under /etc is closed to others; the collection's are 0600 or stricter."""
    out = bigboy.run(r"find /etc -type f \( -name '*.key' -o -name '*.pem' -o -name '*.private' \) -print0"
                     r" | xargs -0 -r grep -lZ -- '-----BEGIN .*PRIVATE KEY-----' | xargs -0 -r stat -c '%a %U:%G %n'")
    assert out.rc == 0, out.stderr
    rows = [line.split(" ", 2) for line in out.stdout.splitlines()]
    paths = [path for _mode, _owner, path in rows]
    for expected in ("/etc/ssl/homelab-mailserver/private/privkey.pem",):
        assert expected in paths, f"{expected} missing; keys found: {paths}"
    assert any(path.startswith("/etc/dkimkeys/") for path in paths), f"no DKIM key found: {paths}"
    for mode, owner, path in rows:
        assert int(mode, 8) & 0o007 == 0, f"{path} ({mode} {owner}) is readable by others"
        if path not in DISTRIBUTION_KEYS:
            assert int(mode, 8) & 0o177 == 0, f"{path} ({mode} {owner}) must be 0600 or stricter"


def vault_values():
    """Every leaf string of the lab vault."""
    vault = ROOT / "inventories" / "lab" / "host_vars" / "bigboy.my-site.com" / "vault.yml"
    text = subprocess.run(["ansible-vault", "view", str(vault)], capture_output=True, text=True, check=True,
                          cwd=ROOT).stdout
    values = []

    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            values.append(node)

    walk(yaml.safe_load(text))
    return values


def test_no_secret_in_verbose_output():
    """A -vvv converge of the lab prints none of the vaulted passwords or hashes."""
    log = os.environ.get("HOMELAB_LAB_VERBOSE_LOG")
    if log and pathlib.Path(log).exists():
        output = pathlib.Path(log).read_text(encoding="utf-8", errors="replace")
    else:
        run = subprocess.run(["ansible-playbook", "-i", "inventories/lab", "site.yml", "-vvv"],
                             capture_output=True, text=True, cwd=ROOT, check=False)
        assert run.returncode == 0, run.stdout[-3000:]
        output = run.stdout + run.stderr
    assert "TASK [homelab.mailserver.sendmail : Create the mail users" in output, "not a site.yml run"
    secrets = vault_values()
    assert len(secrets) >= 4
    # the relay password also travels base64-encoded (the authinfo map's "P=" item)
    secrets += [base64.b64encode(secret.encode()).decode() for secret in secrets]
    leaked = [secret[:6] + "..." for secret in secrets if secret in output]
    assert leaked == [], f"vaulted values in the output: {leaked}"

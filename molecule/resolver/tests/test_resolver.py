"""Verify the resolver role on a converged container, then prove what it is for:
sendmail installs without the unqualified-host-name stall and knows its FQDN."""

import json
import os
import subprocess

import pytest

CHAPTER_LINE = "127.0.0.1\tbigboy.my-site.com localhost.localdomain localhost bigboy"


def _loopback_lines(host):
    return [
        line for line in host.file("/etc/hosts").content_string.splitlines()
        if line.split("#", 1)[0].split()[:1] == ["127.0.0.1"]
    ]


def test_first_loopback_line_is_the_chapters(host):
    assert _loopback_lines(host)[0] == CHAPTER_LINE


def test_static_entry_kept_and_resolves(host):
    assert "127.0.0.2\tns.my-site.com ns" in host.file("/etc/hosts").content_string.splitlines()
    assert host.check_output("getent hosts ns").split() == ["127.0.0.2", "ns.my-site.com", "ns"]


def test_names_resolve_as_sendmail_needs(host):
    assert host.check_output("hostname") == "bigboy"
    assert host.check_output("hostname -f") == "bigboy.my-site.com"
    assert host.check_output("getent hosts bigboy").split()[:2] == ["127.0.0.1", "bigboy.my-site.com"]


def test_resolv_conf(host):
    lines = host.file("/etc/resolv.conf").content_string.splitlines()
    assert "domain my-site.com" in lines
    assert "search my-site.com" in lines
    assert [line for line in lines if line.startswith("nameserver")] == ["nameserver 127.0.0.2"]


def test_hostname_file(host):
    assert host.file("/etc/hostname").content == b"bigboy\n"


def _preflight(ansible_module, domains, mode="warn"):
    args = {"fqdn": "bigboy.my-site.com", "mode": mode, "domains": domains}
    return ansible_module("homelab.mailserver.dns_preflight", args)


def test_preflight_passes_for_the_chapters_domains(ansible_module):
    result = _preflight(ansible_module, ["my-site.com", "another-site.com"], mode="fail")
    assert result["problems"] == []
    assert result["mx"] == {"my-site.com": ["bigboy.my-site.com"], "another-site.com": ["bigboy.my-site.com"]}
    assert "127.0.0.1" in result["fqdn_addresses"]


def test_preflight_reports_mx_elsewhere_and_missing_domain(ansible_module):
    result = _preflight(ansible_module, ["elsewhere.my-site.com", "nomx.my-site.com"])
    problems = " | ".join(result["problems"])
    assert "elsewhere.my-site.com names mx.example.org, not this host" in problems
    assert "nomx.my-site.com" in problems
    assert len(result["problems"]) == 2


PITFALLS = {
    # name in pitfalls.yml: text the failure must contain (the collection's one shape:
    # "<variable or entry>: <the bad value> is not valid: <what is valid>")
    "not_qualified": "resolver_fqdn: 'bigboy' is not valid: a fully qualified host name",
    "bare_domain": "resolver_fqdn: 'my-site.com' is not valid: a host name, not a mail domain",
    "repeated_alias": "resolver_loopback_aliases[0]: 'bigboy' is not valid: an extra name: the role already writes",
    "bad_short_name": "resolver_hostname: 'big_boy' is not valid: a short host name",
    "bad_nameserver": "resolver_nameservers[0]: '192.168.1.300' is not valid: an IP address",
}


@pytest.fixture(scope="module")
def pitfall_record():
    """Run pitfalls.yml once against every instance; return {host: record}."""
    scenario = os.environ["MOLECULE_SCENARIO_DIRECTORY"]
    proc = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], os.path.join(scenario, "pitfalls.yml")],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return True


@pytest.mark.parametrize("name", sorted(PITFALLS))
def test_pitfall_refused_before_any_change(host, pitfall_record, name):
    assert pitfall_record
    record = json.loads(host.run("cat /root/pitfalls.json").stdout)[name]
    assert record["failed"], record
    assert PITFALLS[name] in " ".join(record["msg"].split()), record["msg"]
    assert record["unchanged"], record


def test_sendmail_installs_without_the_unqualified_name_stall(host):
    """The chapter's reason for the /etc/hosts line: sendmail's postinst and
    daemon look up the host's own name; a short name first makes them sleep
    and retry ("My unqualified host name ... unknown; sleeping for retry")."""
    out = host.run("DEBIAN_FRONTEND=noninteractive apt-get install -y -q sendmail-bin 2>&1")
    assert out.rc == 0, out.stdout[-3000:]
    assert "unqualified host name" not in out.stdout
    assert "sleeping for retry" not in out.stdout
    ident = host.run("sendmail -d0.1 -bt < /dev/null")
    text = ident.stdout + ident.stderr
    assert "(canonical domain name) $j = bigboy.my-site.com" in text, text
    assert "not qualified" not in text
    log = host.run("journalctl --no-pager -q 2>/dev/null; cat /var/log/mail.log 2>/dev/null")
    assert "unqualified host name" not in log.stdout

"""module_utils/_certificates: name coverage (RFC 6125 wildcards) and `openssl x509` output parsing."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils._certificates import (
    OPENSSL_FIELDS,
    covers,
    parse_x509,
    uncovered,
)
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize("name, host, ok", [
    ("bigboy.my-site.com", "bigboy.my-site.com", True),
    ("BIGBOY.my-site.com.", "bigboy.MY-SITE.com", True),
    ("*.my-site.com", "bigboy.my-site.com", True),
    ("*.my-site.com", "my-site.com", False),
    ("*.my-site.com", "a.bigboy.my-site.com", False),
    ("mail.my-site.com", "bigboy.my-site.com", False),
    ("", "bigboy.my-site.com", False),
    (None, "x.y", False),
])
def test_covers(name, host, ok):
    assert covers(name, host) is ok


@settings(max_examples=100, deadline=None, derandomize=True)
@given(label=st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True), domain=st.from_regex(r"[a-z]{1,8}\.[a-z]{2,4}", fullmatch=True))
def test_a_wildcard_covers_exactly_one_label(label, domain):
    assert covers("*." + domain, label + "." + domain)
    assert not covers("*." + domain, domain)
    assert not covers("*." + domain, "x." + label + "." + domain)
    assert covers(label + "." + domain, label + "." + domain)


def test_uncovered():
    assert uncovered(["DNS:a.example.com", "IP:127.0.0.1"], ["a.example.com", "b.example.com"]) == ["b.example.com"]
    assert uncovered([], []) == []


def test_parse_x509_output():
    text = ("notAfter=Dec 31 23:59:59 2031 GMT\nserial=0A1B\nsha256 Fingerprint=AA:BB\n"
            "subject=CN=bigboy.my-site.com,O=My-Site Inc\nX509v3 Subject Alternative Name: \n"
            "    DNS:bigboy.my-site.com, DNS:mail.my-site.com, IP Address:127.0.0.1\n")
    assert parse_x509(text) == {"not_after": "Dec 31 23:59:59 2031 GMT", "serial": "0A1B", "fingerprint": "AA:BB",
                                "subject_cn": "bigboy.my-site.com",
                                "dns_names": ["bigboy.my-site.com", "mail.my-site.com"]}
    assert parse_x509("")["not_after"] == ""


@pytest.mark.skipif(not shutil.which("openssl"), reason="no openssl binary here")
def test_parse_real_openssl_output(tmp_path):
    crt = tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=bigboy.my-site.com",
                    "-addext", "subjectAltName=DNS:bigboy.my-site.com,DNS:mail.my-site.com",
                    "-keyout", str(tmp_path / "k.pem"), "-out", str(crt), "-days", "30"], check=True, capture_output=True)
    out = subprocess.run(["openssl", "x509", "-noout", *OPENSSL_FIELDS, "-in", str(crt)], check=True,
                         capture_output=True, text=True).stdout
    fields = parse_x509(out)
    assert fields["subject_cn"] == "bigboy.my-site.com"
    assert fields["dns_names"] == ["bigboy.my-site.com", "mail.my-site.com"]
    assert fields["not_after"].endswith("GMT") and len(fields["fingerprint"]) == 95 and fields["serial"]

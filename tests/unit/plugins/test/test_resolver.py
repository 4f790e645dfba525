"""Jinja tests used by the resolver role's validation."""

import pytest
from ansible_collections.homelab.mailserver.plugins.test.resolver import TestModule as ResolverTests
from ansible_collections.homelab.mailserver.plugins.test.resolver import any_bad_hostname, hostname, ip_address


@pytest.mark.parametrize("value", ["192.168.1.100", "127.0.0.2", "::1", "2001:db8::53"])
def test_ip_address_accepts(value):
    assert ip_address(value)


@pytest.mark.parametrize("value", ["192.168.1.300", "192.168.2", "192.168.2.0/24", "ns1.my-site.com", ""])
def test_ip_address_refuses(value):
    assert not ip_address(value)


def test_hostname_and_registry():
    assert hostname("my-site.com")
    assert not hostname("my_site.com")
    assert set(ResolverTests().tests()) == {"ip_address", "hostname", "any_bad_hostname"}


def test_any_bad_hostname():
    assert not any_bad_hostname(["bigboy.my-site.com", "bigboy"])
    assert any_bad_hostname(["bigboy", "big boy"])

# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the resolver role: is a value an IP address, a DNS name (the definitions of _validate)."""

from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V


def ip_address(value):
    """True when VALUE is an IPv4 or IPv6 address."""
    return V.is_ip_address(value)


def hostname(value):
    """True when VALUE is a valid DNS host or domain name."""
    return V.is_hostname(value)


def any_bad_hostname(values):
    """True when a list of names holds one that is not a valid DNS name."""
    return any(not V.is_hostname(v) for v in values or [])


class TestModule:
    """Resolver tests."""

    def tests(self):
        return {"ip_address": ip_address, "hostname": hostname, "any_bad_hostname": any_bad_hostname}

"""The /etc/hosts loopback line and host name checks of the resolver role."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.homelab.mailserver.plugins.filter.resolver import hostname_problem, hosts_entries, hosts_loopback

CHAPTER = ["bigboy.my-site.com", "localhost.localdomain", "localhost", "bigboy"]
LINE = "127.0.0.1\tbigboy.my-site.com localhost.localdomain localhost bigboy"


def test_fedora_default_is_rewritten_to_the_chapters_line():
    # The chapter's "Incorrectly Configured /etc/hosts Files" case.
    before = "127.0.0.1     bigboy    localhost.localdomain    localhost\n::1 localhost6\n"
    assert hosts_loopback(before, CHAPTER) == LINE + "\n::1 localhost6\n"


def test_bare_domain_line_is_replaced():
    before = "127.0.0.1   my-site.com  localhost.localdomain   localhost  # (Wrong!!!)\n"
    assert hosts_loopback(before, CHAPTER) == LINE + "\n"


def test_other_lines_kept_and_names_taken_off_later_loopback_lines():
    before = (
        "# static table\n127.0.0.1 localhost\n127.0.0.1 runsc\n127.0.0.1 bigboy\n"
        "10.88.0.5 bigboy bigboy-ctr\n192.168.1.100 bigboy.my-site.com bigboy\n"
    )
    after = hosts_loopback(before, CHAPTER)
    assert after.splitlines() == [
        "# static table",
        LINE,
        "127.0.0.1\trunsc",
        "10.88.0.5 bigboy bigboy-ctr",
        "192.168.1.100 bigboy.my-site.com bigboy",
    ]


def test_missing_loopback_line_is_added_first_and_result_is_stable():
    once = hosts_loopback("::1 localhost ip6-localhost", CHAPTER)
    assert once.splitlines()[0] == LINE
    assert hosts_loopback(once, CHAPTER) == once


def test_no_names_is_an_error():
    with pytest.raises(AnsibleFilterError):
        hosts_loopback("", [])


@pytest.mark.parametrize(
    "name, problem",
    [
        ("bigboy", ""),
        ("bigboy.my-site.com", ""),
        ("", "it is empty"),
        ("big_boy", "label 'big_boy'"),
        ("-bigboy", "label '-bigboy'"),
        ("a" * 64 + ".com", "label '" + "a" * 64 + "'"),
        ("x." * 130 + "com", "longer than 253"),
    ],
)
def test_hostname_problem(name, problem):
    if problem:
        assert problem in hostname_problem(name)
    else:
        assert hostname_problem(name) == ""


def test_hosts_entries_replace_in_place_or_append():
    before = "127.0.0.1 localhost\n127.0.0.2 old-name\n::1 localhost\n"
    entries = [
        {"address": "127.0.0.2", "names": ["bigboy.my-site.com", "bigboy"]},
        {"address": "192.168.1.100", "names": ["bigboy.my-site.com"]},
    ]
    after = hosts_entries(before, entries)
    assert after.splitlines() == [
        "127.0.0.1 localhost",
        "127.0.0.2\tbigboy.my-site.com bigboy",
        "::1 localhost",
        "192.168.1.100\tbigboy.my-site.com",
    ]
    assert hosts_entries(after, entries) == after


def test_hosts_entries_need_address_and_names():
    with pytest.raises(AnsibleFilterError, match="needs an address"):
        hosts_entries("", [{"address": "127.0.0.2", "names": []}])

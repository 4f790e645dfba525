"""The spamassassin and milter_greylist roles: defaults, argument specs and README agree; platform vars feed the filters."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from ansible_collections.homelab.mailserver.plugins.filter.milter_greylist import milter_greylist_conf
from ansible_collections.homelab.mailserver.plugins.filter.spamassassin import spamassassin_local_cf

ROOT = pathlib.Path(__file__).resolve().parents[4]
ROLES = ("spamassassin", "milter_greylist")
TYPES = {"str": str, "int": int, "float": (float, int), "bool": bool, "list": list, "dict": dict, "path": str}


def load(*parts):
    with open(ROOT.joinpath(*parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_documented_in_readme(role):
    readme = ROOT.joinpath("roles", role, "README.md").read_text(encoding="utf-8")
    defaults = load("roles", role, "defaults", "main.yml")
    assert [name for name in defaults if f"`{name}`" not in readme] == []


@pytest.mark.parametrize("family", ["Debian", "RedHat"])
def test_platform_vars_have_the_same_keys(family):
    spam = load("roles", "spamassassin", "vars", "Debian.yml")
    assert sorted(load("roles", "spamassassin", "vars", f"{family}.yml")) == sorted(spam)
    grey = load("roles", "milter_greylist", "vars", "Debian.yml")
    assert sorted(load("roles", "milter_greylist", "vars", f"{family}.yml")) == sorted(grey)


def test_redhat_greylist_conf():
    """The RPM layout (user grmilter, its pidfile and dump file) renders and passes the checks."""
    rh = load("roles", "milter_greylist", "vars", "RedHat.yml")
    defaults = load("roles", "milter_greylist", "defaults", "main.yml")
    result = milter_greylist_conf({
        "pidfile": rh["__milter_greylist_pidfile"], "socket": defaults["milter_greylist_socket"],
        "socket_mode": defaults["milter_greylist_socket_mode"], "dumpfile": rh["__milter_greylist_default_dumpfile"],
        "dumpfile_mode": "600", "dumpfreq": defaults["milter_greylist_dumpfreq"], "user": rh["__milter_greylist_user"],
        "delay": defaults["milter_greylist_delay"], "autowhite": defaults["milter_greylist_autowhite"],
        "whitelist_addresses": ["192.168.0.0/16"],
    })
    assert result["errors"] == []
    assert result["lines"][:5] == [
        'pidfile "/run/milter-greylist/milter-greylist.pid"',
        'socket "/run/milter-greylist/milter-greylist.sock" 660',
        'dumpfile "/var/lib/milter-greylist/db/greylist.db" 600',
        "dumpfreq 10m",
        'user "grmilter"',
    ]


def test_spamassassin_defaults_lint_ready():
    """The role's defaults give a local.cf with no errors, no warnings and no plugin loaded."""
    defaults = load("roles", "spamassassin", "defaults", "main.yml")
    settings = {key: defaults["spamassassin_" + key] for key in (
        "required_score", "rewrite_subject", "subject_tag", "report_safe", "use_bayes", "bayes_auto_learn",
        "bayes_path", "ok_languages", "ok_locales", "trusted_networks", "internal_networks")}
    settings.update(rbl_checks=defaults["spamassassin_rbl_checks"], razor=defaults["spamassassin_razor"],
                    pyzor=defaults["spamassassin_pyzor"], dcc=defaults["spamassassin_dcc"])
    result = spamassassin_local_cf(settings, options=defaults["spamassassin_options"],
                                   extra_lines=defaults["spamassassin_extra_lines"])
    assert result["errors"] == [] and result["warnings"] == [] and result["plugins"] == []
    assert "rewrite_header Subject *****SPAM*****" in result["lines"]


def test_example_vars_are_the_chapters():
    example = load("inventories", "example", "group_vars", "mail_servers.yml")
    assert example["milter_greylist_delay"] == "5m"
    assert example["milter_greylist_whitelist_addresses"] == ["192.168.0.0/16"]
    result = spamassassin_local_cf({}, options=example["spamassassin_options"])
    assert result["errors"] == []
    assert "required_score 5.0" in result["lines"] and "bayes_auto_learn 1" in result["lines"]


def test_procmail_recipe_has_no_x_and_a_size_limit():
    """(Unrendered: the Jinja lines add the condition that skips what spamass-milter scanned, see
    tests/unit/roles/spamassassin for the rendered recipe.)"""
    recipe = load("roles", "spamassassin", "defaults", "main.yml")["spamassassin_procmail_recipe"]
    lines = [line for line in recipe.splitlines() if not line.startswith(("#", "{%"))]
    assert lines[0] == ":0fw"
    assert lines[1] == "* < {{ spamassassin_spamc_max_size }}"
    assert lines[2] == "* !^X-Spam-Checker-Version:"
    assert lines[3].startswith("| /usr/bin/spamc ") and " -x" not in lines[3]


def test_greylist_milter_entry_has_the_chapters_macros():
    entry = load("roles", "milter_greylist", "defaults", "main.yml")["milter_greylist_sendmail_milter"]
    assert entry["name"] == "greylist"
    assert entry["macros"] == {"connect": ["j", "{if_addr}"], "helo": ["{verify}", "{cert_subject}"],
                               "envfrom": ["i", "{auth_authen}"], "envrcpt": ["{greylist}"]}

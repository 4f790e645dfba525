"""docs/dev/architecture.md's rules, checked against the tree."""

from __future__ import annotations

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHIPPED = ["roles", "plugins", "playbooks"]


def _files(*suffixes):
    for top in SHIPPED:
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and path.suffix in suffixes and "__pycache__" not in path.parts:
                yield path


def test_only_the_mail_domains_role_reads_the_domain_variables():
    # (the filters' EXAMPLES show the query to readers of the documentation; they run nothing)
    readers = [
        str(p.relative_to(ROOT)) for p in _files(".yml", ".j2")
        if "'^mailserver_domain_'" in p.read_text(encoding="utf-8")
        or "^' ~ mail_domains_prefix" in p.read_text(encoding="utf-8")
    ]
    assert readers == ["roles/mail_domains/tasks/main.yml"]


def test_the_wiring_files_set_only_dependent_inputs():
    for path in (ROOT / "playbooks" / "vars").glob("*wiring.yml"):
        names = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert names, path
        assert all(re.fullmatch(r"[a-z_]+_dependent_[a-z_]+", name) for name in names), (path, sorted(names))


def test_every_dependent_input_is_a_documented_role_variable():
    for path in (ROOT / "playbooks" / "vars").glob("*wiring.yml"):
        for name in yaml.safe_load(path.read_text(encoding="utf-8")):
            role = name.split("_dependent_")[0]
            defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text(encoding="utf-8"))
            assert name in defaults, f"{name}: not a default of roles/{role}"


def test_domain_name_patterns_live_only_in_the_validation_library():
    # a label pattern with the 63-character limit is how a domain or host name rule starts
    label = re.compile(r"\{0,61\}|\{1,63\}")
    owners = sorted(str(p.relative_to(ROOT)) for p in _files(".py") if label.search(p.read_text(encoding="utf-8")))
    assert owners == ["plugins/module_utils/_validate.py"]


def test_no_filter_or_module_defines_its_own_is_str():
    copies = [str(p.relative_to(ROOT)) for p in _files(".py") if re.search(r"^def _?is_str\(", p.read_text(encoding="utf-8"), re.M)]
    assert copies == ["plugins/module_utils/_validate.py"]


def test_no_role_task_writes_another_daemons_configuration():
    """A role's tasks name no file under another role's configuration directories."""
    owned = {
        "sendmail": ["/etc/mail/", "/etc/procmailrc", "smrsh_dir"],
        "dovecot": ["/etc/dovecot"],
        "spamassassin": ["/etc/spamassassin", "/etc/default/spamd", "spamass-milter.default"],
        "opendkim": ["/etc/opendkim"],
        "opendmarc": ["/etc/opendmarc"],
        "spf": ["/etc/pyspf-milter", "pyspf-milter.service"],
    }
    for role_dir in (ROOT / "roles").iterdir():
        tasks = "\n".join(p.read_text(encoding="utf-8") for p in (role_dir / "tasks").glob("*.yml")) if (role_dir / "tasks").is_dir() else ""
        for owner, paths in owned.items():
            if owner == role_dir.name:
                continue
            for fragment in paths:
                assert fragment not in tasks, f"roles/{role_dir.name}/tasks names {fragment!r}, which roles/{owner} owns"


def test_the_architecture_page_names_every_role():
    page = (ROOT / "docs" / "dev" / "architecture.md").read_text(encoding="utf-8")
    for role_dir in (ROOT / "roles").iterdir():
        if role_dir.is_dir():
            assert role_dir.name in page, f"docs/dev/architecture.md does not mention roles/{role_dir.name}"

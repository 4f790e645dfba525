"""docs/examples: every variable of the setup examples is one a role or playbook documents,
and every value that is not a template passes that role's argument spec."""

import pathlib
import re

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROOT = pathlib.Path(__file__).resolve().parents[3]
SETUPS = ["home-office.yml", "vps.yml"]


def role_options():
    """{variable: (role, option spec)} of every role's main entry point."""
    options = {}
    for spec_file in sorted((ROOT / "roles").glob("*/meta/argument_specs.yml")):
        role = spec_file.parents[1].name
        spec = yaml.safe_load(spec_file.read_text(encoding="utf-8"))["argument_specs"]["main"]["options"]
        options.update({name: (role, option) for name, option in spec.items()})
    return options


def playbook_variables():
    """The switches and variables site.yml, its wiring and dns_records.yml document by name."""
    text = "".join((ROOT / path).read_text(encoding="utf-8") for path in (
        "playbooks/site.yml", "playbooks/vars/mail_server_wiring.yml", "playbooks/dns_records.yml"))
    return set(re.findall(r"\b((?:mailserver|dns_records)_[a-z0-9_]+)\b", text))


@pytest.mark.parametrize("name", SETUPS)
def test_every_variable_is_documented(name):
    data = yaml.safe_load((ROOT / "docs" / "examples" / name).read_text(encoding="utf-8"))
    known = set(role_options()) | playbook_variables()
    unknown = sorted(set(data) - known)
    assert not unknown, f"{name}: {unknown} are no role's option and no playbook's variable"


@pytest.mark.parametrize("name", SETUPS)
def test_every_literal_value_passes_its_roles_argument_spec(name):
    data = yaml.safe_load((ROOT / "docs" / "examples" / name).read_text(encoding="utf-8"))
    options = role_options()
    checked = 0
    for variable, value in data.items():
        if variable not in options or (isinstance(value, str) and "{{" in value):
            continue
        role, option = options[variable]
        result = ArgumentSpecValidator({variable: option}).validate({variable: value})
        assert not result.error_messages, (name, role, variable, result.error_messages)
        checked += 1
    assert checked >= 10, f"{name}: only {checked} values checked"

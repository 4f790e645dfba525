"""Every role: meta/argument_specs.yml states exactly defaults/main.yml, and the README documents it.

One source for every default: defaults/main.yml. The main entry point's options name every
default with the same value; an option without a default is only a deprecated old name.
"""

from __future__ import annotations

import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file())
TYPES = {"str": str, "int": int, "bool": bool, "list": list, "dict": dict, "path": str, "raw": object,
         "float": (int, float)}


def _description(spec):
    text = spec.get("description", "")
    return " ".join(text) if isinstance(text, list) else text


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_main_options_are_the_defaults(role):
    defaults = _load(role / "defaults" / "main.yml") if (role / "defaults" / "main.yml").is_file() else {}
    options = _load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"].get("options", {})
    current = sorted(n for n in options if not _description(options[n]).startswith("Deprecated"))
    assert sorted(defaults) == current
    for name, value in defaults.items():
        spec = options[name]
        computed = isinstance(value, str) and value.lstrip().startswith("{{")
        if computed and spec.get("type") in ("list", "dict"):
            # a template string is no list or dictionary: the spec names no default
            # (antsibull-docs checks default types) and its description quotes the expression
            assert "default" not in spec, name
            assert " ".join(value.split()) in " ".join(_description(spec).split()), name
        else:
            assert spec.get("default") == value, name
        assert spec.get("description"), name
        assert name.startswith(role.name + "_"), f"{name}: public variables carry the role's prefix"
        if value is not None and not (isinstance(value, str) and "{{" in value):
            assert isinstance(value, TYPES[spec.get("type", "str")]), name
        if "choices" in spec and value is not None and spec.get("type") != "list":
            assert value in spec["choices"], name
        if "choices" in spec and spec.get("type") == "list":
            assert set(value) <= set(spec["choices"]), name


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_every_entry_point_has_a_task_file(role):
    specs = _load(role / "meta" / "argument_specs.yml")["argument_specs"]
    for entry in specs:
        assert (role / "tasks" / f"{entry}.yml").is_file(), f"{role.name}: entry point {entry} has no tasks/{entry}.yml"

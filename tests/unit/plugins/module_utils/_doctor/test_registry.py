"""The registry of the doctor's checks: one unit module a check, each declaring its name, the chapter's sections,
its documentation and its inputs, each with its own test file; every check runs through its declared inputs."""

import os
import re
import socket

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils import _doctor
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import DERIVED, Check, Inputs
from ansible_collections.homelab.mailserver.plugins.modules.mail_doctor import ARGUMENT_SPEC

HERE = os.path.dirname(os.path.abspath(__file__))
UNITS_DIR = os.path.dirname(os.path.abspath(_doctor.__file__))
NAMES = list(_doctor.REGISTRY)


def chapter_sections():
    """The chapter's section headings (chapter_sections.txt, copied from the chapter in ASCII: the chapter
    itself is not part of the project, so no test here reads it)."""
    with open(os.path.join(HERE, "chapter_sections.txt"), encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


def test_registry_is_the_units_in_order():
    assert NAMES == [unit.CHECK.name for unit in _doctor.UNITS]
    assert len(NAMES) == len(set(NAMES)) == 14
    assert NAMES[0] == "hosts_fqdn_first" and NAMES[-1] == "system_mail"
    for unit in _doctor.UNITS:
        assert isinstance(unit.CHECK, Check)
        # the unit module is named after its check
        assert unit.__name__.rsplit(".", 1)[1] == unit.CHECK.name == unit.NAME


def test_every_unit_module_is_registered():
    """A unit file that __init__.py does not import would never run (and AnsiballZ would not ship it)."""
    files = {name[:-3] for name in os.listdir(UNITS_DIR) if name.endswith(".py") and not name.startswith("_")}
    assert files == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_check_has_chapter_sections(name):
    sections = _doctor.REGISTRY[name].sections
    assert isinstance(sections, tuple) and sections, name
    unknown = [s for s in sections if s not in chapter_sections()]
    assert not unknown, "%s names sections that are not the chapter's: %s" % (name, unknown)


@pytest.mark.parametrize("name", NAMES)
def test_check_has_documentation(name):
    doc = _doctor.REGISTRY[name].doc
    assert isinstance(doc, str) and len(doc) > 80, name
    assert "\n" not in doc and doc.endswith("."), "%s: one paragraph, whole sentences" % name
    assert re.search(r"\bOK\b", doc), "%s: the documentation says when the check is OK" % name


@pytest.mark.parametrize("name", NAMES)
def test_check_has_a_test_file(name):
    path = os.path.join(HERE, "test_%s.py" % name)
    assert os.path.isfile(path), "no unit test for the check %s: %s" % (name, path)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert "import %s as unit" % name in text


def test_every_test_file_belongs_to_a_check_or_a_helper():
    tests = {n[len("test_"):-3] for n in os.listdir(HERE) if n.startswith("test_") and n.endswith(".py")}
    assert tests - set(NAMES) == {"_dns_compare", "common", "registry"}


@pytest.mark.parametrize("name", NAMES)
def test_check_inputs_are_options_or_derived(name):
    check = _doctor.REGISTRY[name]
    assert check.inputs and len(set(check.inputs)) == len(check.inputs)
    unknown = [i for i in check.inputs if i not in ARGUMENT_SPEC and i not in DERIVED]
    assert not unknown, "%s declares inputs that are neither options nor derived: %s" % (name, unknown)


def test_every_option_is_read_by_a_check():
    read = set()
    for check in _doctor.REGISTRY.values():
        for name in check.inputs:
            read.update(DERIVED[name][1] if name in DERIVED else (name,))
    assert set(ARGUMENT_SPEC) - read == {"checks", "fail_on_problem"}


class RecordingInputs(Inputs):
    """Inputs that note what a check asks for (not what deriving an input asks for)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.read = []
        self._depth = 0

    def get(self, name):
        if not self._depth:
            self.read.append(name)
        self._depth += 1
        try:
            return super().get(name)
        finally:
            self._depth -= 1


@pytest.fixture
def params(tmp_path):
    """The module's defaults, with every file the checks read under tmp_path (none of them exists)."""
    values = {name: spec.get("default") for name, spec in ARGUMENT_SPEC.items()}
    for name, spec in ARGUMENT_SPEC.items():
        if spec["type"] == "path":
            values[name] = str(tmp_path / name)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    values.update(fqdn="bigboy.my-site.com", maps=[str(tmp_path / "virtusertable")], smtp_port=free, timeout=2)
    return values


@pytest.mark.parametrize("name", NAMES)
def test_check_runs_through_exactly_its_declared_inputs(params, name):
    """Run from the registry as the module runs it: every declared input is read, and nothing else can be."""
    calls = []

    def run(argv, data=None):
        calls.append(argv)
        return 1, "", "fake"

    inputs = RecordingInputs(params, run, lambda tool: "/fake/bin/" + tool)
    [found] = _doctor.run_checks([name], inputs)
    assert found["name"] == name and found["ok"] in (True, False, None) and isinstance(found["detail"], str)
    assert sorted(set(inputs.read)) == sorted(_doctor.REGISTRY[name].inputs)


def test_an_undeclared_input_is_an_error(params):
    check = Check("sneaky", ("Conclusion",), "Reads what it does not declare. Never OK.", ("fqdn",),
                  lambda i: i.sendmail_cf)
    with pytest.raises(AttributeError, match="sneaky reads sendmail_cf, which is not among its declared inputs fqdn"):
        check.run(Inputs(params, None, None).view(check))

"""The bad-input matrix: each class of mistake fails before the host changes.

tests/playbooks/bad_input.yml applies, case by case, one role of site.yml
to the configured lab server with one mistake (the same wiring as site.yml)
and records the failure message and a snapshot of the mail stack before and
after: a sha256 of every configuration file and the MainPID of every daemon.
Each case here checks that
  - the role failed,
  - the message names the variable (or entry) and the valid form,
  - nothing in the snapshot changed.
docs/bad-input.md lists the same cases: the mistakes the collection catches.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(__file__))
from conftest import ROOT  # noqa: E402

PLAYBOOK = ROOT / "tests" / "playbooks" / "bad_input.yml"
RESULTS = ROOT / "build" / "bad-input-results.json"


def case_names():
    with open(PLAYBOOK, encoding="utf-8") as handle:
        tasks = yaml.safe_load(handle)[0]["tasks"]
    return [task["vars"]["__case"]["name"] for task in tasks if "__case" in task.get("vars", {})]


CASES = case_names()


@pytest.fixture(scope="module")
def results(bigboy):
    """Run the matrix once against the lab server; {case name: result}."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.unlink(missing_ok=True)
    run = subprocess.run(
        ["ansible-playbook", "-i", "inventories/lab", str(PLAYBOOK), "--limit", "bigboy.my-site.com",
         "-e", f"bad_input_results={RESULTS}"],
        capture_output=True, text=True, cwd=ROOT, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    with open(RESULTS, encoding="utf-8") as handle:
        return {result["name"]: result for result in json.load(handle)}


@pytest.mark.parametrize("name", CASES)
def test_bad_input_fails_before_anything_changes(results, name):
    result = results[name]
    assert result["msg"], f"{name}: the role accepted the bad value"
    missing = [text for text in result["expect"] if text not in result["msg"]]
    assert missing == [], f"{name}: the message does not name {missing}: {result['msg']}"
    assert result["changed"] == [], f"{name}: the host changed: {result['changed']}"


def test_docs_list_every_case():
    with open(ROOT / "docs" / "bad-input.md", encoding="utf-8") as handle:
        doc = handle.read()
    assert len(CASES) >= 9
    assert [name for name in CASES if name not in doc] == []

"""Tests over the running lab (playbooks/lab.yml + site.yml): bigboy, smallfry and provider.

Run by `scripts/test.sh lab` after the demo has configured the lab, or alone:
    bash scripts/demo.sh && .venv/bin/pytest tests/lab
Commands run inside the containers (nsenter into their namespaces, see
tests/harness/nsenter_backend.py); every connection they make stays on
127.0.0.0/8.
"""

import json
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile
import time

import pytest
import testinfra

FILES = pathlib.Path(__file__).parent / "files"
ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from harness import nsenter_backend  # noqa: E402  (the path above makes it importable)

nsenter_backend.register()


def _container_running(name):
    out = subprocess.run(["podman", "inspect", "-f", "{{.State.Running}}", name],
                         capture_output=True, text=True, check=False)
    return out.returncode == 0 and out.stdout.strip() == "true"


def _lab_host(name):
    if not _container_running(name):
        pytest.fail(f"the lab container {name} is not running: start the lab with `bash scripts/demo.sh` first")
    return testinfra.get_host(f"nsenter://{name}")


@pytest.fixture(scope="session")
def bigboy():
    return _lab_host("bigboy")


@pytest.fixture(scope="session")
def smallfry():
    return _lab_host("smallfry")


@pytest.fixture(scope="session")
def provider():
    """The provider's relay (relay.outside.example, group lab_provider) that bigboy sends outside mail through."""
    return _lab_host("provider")


def put_file(name, container, dest):
    """Copy tests/lab/files/NAME into CONTAINER at DEST."""
    subprocess.run(["podman", "cp", str(FILES / name), f"{container}:{dest}"], check=True)


def copy_between(source, path, dest):
    """Copy PATH from container SOURCE to the same path in container DEST (through a host temp file)."""
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, os.path.basename(path))
        subprocess.run(["podman", "cp", f"{source}:{path}", local], check=True)
        subprocess.run(["podman", "cp", local, f"{dest}:{path}"], check=True)


def run_json(host, command):
    """Run COMMAND (argv list) on HOST and parse its last stdout line as JSON."""
    out = host.run(" ".join(shlex.quote(part) for part in command))
    assert out.rc == 0, f"{command} failed ({out.rc}): {out.stderr[-2000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def wait(predicate, timeout=90, step=2):
    """Call PREDICATE every STEP seconds until it is true or TIMEOUT seconds have passed; its last answer."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()

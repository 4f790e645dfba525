"""Shared pytest setup for every molecule scenario's testinfra tests.

molecule hands testinfra its Ansible inventory, and testinfra's ansible
backend then runs every command as a separate ad-hoc Ansible run (about a
second each). The instances are local podman containers, so commands go
straight into them with nsenter instead (tests/harness/nsenter_backend.py,
the same mechanism as the scenarios' connection plugin
homelab.mailserver_lab.podman_nsenter). Tests that need an Ansible module on an
instance use the `ansible_module` fixture.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from harness import nsenter_backend  # noqa: E402  (the path above makes it importable)

nsenter_backend.register()
PODMAN_CONNECTIONS = ("podman", "containers.podman.podman", "homelab.mailserver_lab.podman_nsenter")


def _podman_instances(inventory_file):
    with open(inventory_file, encoding="utf-8") as handle:
        inventory = yaml.safe_load(handle) or {}
    names = []
    for name, hostvars in (inventory.get("all", {}).get("hosts") or {}).items():
        if (hostvars or {}).get("ansible_connection") not in PODMAN_CONNECTIONS:
            return []
        names.append(name)
    return names


def pytest_configure(config):
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    if not inventory or getattr(config.option, "connection", None) != "ansible" or not os.path.exists(inventory):
        return
    names = _podman_instances(inventory)
    if names:
        config.option.hosts = ",".join("nsenter://" + name for name in names)
        config.option.connection = None


@pytest.fixture
def ansible_module(host):
    """Run an Ansible module on the instance under test; return its result."""

    def run(module, args, check=False):
        name = host.backend.get_hostname()
        cmd = [
            "ansible", name, "-i", os.environ["MOLECULE_INVENTORY_FILE"], "-m", module,
            "-a", json.dumps(args), "-o",
        ]
        if check:
            cmd.append("--check")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        # one-line output: "name | STATUS => {json}"
        _head, _sep, body = proc.stdout.partition("=> ")
        try:
            return json.loads(body)
        except ValueError:
            pytest.fail("ansible %s gave no result: %s %s" % (module, proc.stdout[-2000:], proc.stderr[-2000:]))
        return None

    return run

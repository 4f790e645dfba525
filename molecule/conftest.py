"""Shared pytest setup for every molecule scenario's testinfra tests.

molecule hands testinfra its Ansible inventory, and testinfra's ansible
backend then runs every command as a separate ad-hoc Ansible run (about a
second each). The instances are podman containers, so commands go straight
through `podman exec` instead (testinfra's podman backend). Tests that need
an Ansible module on an instance use the `ansible_module` fixture.
"""

import json
import os
import subprocess

import pytest
import yaml


def _podman_instances(inventory_file):
    with open(inventory_file, encoding="utf-8") as handle:
        inventory = yaml.safe_load(handle) or {}
    names = []
    for name, hostvars in (inventory.get("all", {}).get("hosts") or {}).items():
        if (hostvars or {}).get("ansible_connection") not in ("podman", "containers.podman.podman"):
            return []
        names.append(name)
    return names


def pytest_configure(config):
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    if not inventory or getattr(config.option, "connection", None) != "ansible" or not os.path.exists(inventory):
        return
    names = _podman_instances(inventory)
    if names:
        config.option.hosts = ",".join("podman://" + name for name in names)
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

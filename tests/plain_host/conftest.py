"""Checks of the plain-host stage (scripts/plain-host.sh) on its converged containers.

Commands run inside the containers (nsenter into their namespaces, see
tests/harness/nsenter_backend.py); every connection they make stays on 127.0.0.1.
The containers are named by PLAIN_HOST_CONTAINERS (comma-separated), default
plain-host-trixie and plain-host-bookworm.
"""

import os
import pathlib
import subprocess
import sys

import pytest
import testinfra

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from harness import nsenter_backend  # noqa: E402  (the path above makes it importable)

nsenter_backend.register()
CONTAINERS = os.environ.get("PLAIN_HOST_CONTAINERS", "plain-host-trixie,plain-host-bookworm").split(",")


@pytest.fixture(scope="module", params=CONTAINERS)
def host(request):
    name = request.param
    out = subprocess.run(["podman", "inspect", "-f", "{{.State.Running}}", name],
                         capture_output=True, text=True, check=False)
    if out.stdout.strip() != "true":
        pytest.fail(f"the container {name} is not running: run scripts/plain-host.sh")
    return testinfra.get_host(f"nsenter://{name}")

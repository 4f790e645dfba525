"""testinfra backend that runs commands in a local podman container through nsenter.

The mechanism is the collection's connection plugin
homelab.mailserver_lab.podman_nsenter, imported from it (container lookup, cgroup
check, namespaces, clean environment): podman is asked once for the
container's PID, then every command is `nsenter --target PID` into its
namespaces. A `podman exec` per command costs the podman client's start-up
(0.3-0.6 s on two busy cores); nsenter costs a few milliseconds.

Host spec: nsenter://CONTAINER (registered by register()).
"""

import pathlib
import subprocess
import sys

import testinfra.backend
from testinfra.backend import base

# the connection plugin lives in the lab's test-only collection (tests/collections)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "collections"))
from ansible_collections.homelab.mailserver_lab.plugins.connection.podman_nsenter import (  # noqa: E402
    inspect_container,
    nsenter_argv,
    pid_belongs_to,
)


class NsenterBackend(base.BaseBackend):
    NAME = "nsenter"

    def __init__(self, name, *args, **kwargs):
        self.name = name
        self._container = None
        super().__init__(name, *args, **kwargs)

    def pid(self):
        if self._container is None or not pid_belongs_to(self._container[1], self._container[0]):
            try:
                self._container = inspect_container("podman", self.name)
            except LookupError as err:
                raise RuntimeError(str(err)) from err
        return self._container[1]

    def run(self, command, *args, **kwargs):
        cmd = self.get_command(command, *args)
        proc = subprocess.run(nsenter_argv("nsenter", self.pid(), cmd), capture_output=True, check=False, cwd="/")
        return self.result(proc.returncode, self.encode(cmd), proc.stdout, proc.stderr)

    def get_hostname(self):
        return self.name


def register():
    testinfra.backend.BACKENDS[NsenterBackend.NAME] = f"{__name__}.NsenterBackend"

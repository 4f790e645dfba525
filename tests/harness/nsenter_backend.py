"""testinfra backend that runs commands in a local podman container through nsenter.

The same mechanism as the collection's connection plugin
homelab.mailserver.podman_nsenter: podman is asked once for the container's
PID, then every command is `nsenter --target PID` into its namespaces with a
clean environment. A `podman exec` per command costs the podman client's
start-up (0.3-0.6 s on two busy cores); nsenter costs a few milliseconds.

Host spec: nsenter://CONTAINER (registered by register()).
"""

import subprocess

import testinfra.backend
from testinfra.backend import base

CLEAN_ENV = (
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "container=podman",
)
NAMESPACES = ("--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup")


def container_pid(name):
    """(ID, PID) of the running container NAME; raises RuntimeError when it is not running."""
    out = subprocess.run(
        ["podman", "container", "inspect", "--format", "{{.Id}} {{.State.Pid}}", name],
        capture_output=True, text=True, check=False,
    )
    fields = out.stdout.split()
    if out.returncode != 0 or len(fields) != 2 or fields[1] == "0":
        raise RuntimeError(f"container {name} is not running: {out.stderr.strip()}")
    return fields[0], int(fields[1])


def still_ours(pid, container_id):
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as cgroup:
            return container_id in cgroup.read()
    except OSError:
        return False


def nsenter_argv(pid, shell_command):
    return ["nsenter", f"--target={pid}", *NAMESPACES, "--", "/usr/bin/env", "-i", *CLEAN_ENV,
            "/bin/sh", "-c", shell_command]


class NsenterBackend(base.BaseBackend):
    NAME = "nsenter"

    def __init__(self, name, *args, **kwargs):
        self.name = name
        self._container = None
        super().__init__(name, *args, **kwargs)

    def pid(self):
        if self._container is None or not still_ours(self._container[1], self._container[0]):
            self._container = container_pid(self.name)
        return self._container[1]

    def run(self, command, *args, **kwargs):
        cmd = self.get_command(command, *args)
        proc = subprocess.run(nsenter_argv(self.pid(), cmd), capture_output=True, check=False, cwd="/")
        return self.result(proc.returncode, self.encode(cmd), proc.stdout, proc.stderr)

    def get_hostname(self):
        return self.name


def register():
    testinfra.backend.BACKENDS[NsenterBackend.NAME] = f"{__name__}.NsenterBackend"

# Copyright: Homelab Mailserver Developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection to a local rootful podman container through nsenter (the lab's and the tests' connection)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: podman_nsenter
short_description: Run tasks in a local rootful podman container by entering its namespaces
description:
  - Runs every command inside a running container of the controller's own rootful podman by
    entering the container's mount, UTS, IPC, network, PID and cgroup namespaces with C(nsenter)
    (util-linux), with a clean environment like C(podman exec) gives. Files go in and out through
    the same entered shell.
  - Made for the collection's lab (C(inventories/lab)) and its molecule scenarios, where the
    C(containers.podman.podman) connection starts the podman client three to four times per task
    (mount, temporary directory, module, clean-up) and that dominated the run time. This plugin asks
    podman once per container for its PID (cached in a file, checked against the container's
    cgroup before each use) and supports pipelining, so a task costs one C(nsenter) and one Python.
  - The controller must be the container host and run as root.
author: Homelab Mailserver Developers (@homelab-mailserver)
version_added: 1.0.0
options:
  remote_addr:
    description: Name or ID of the container.
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: ansible_podman_host
  podman_executable:
    description: The podman client used to look up the container's PID (once per container).
    type: str
    default: podman
    vars:
      - name: ansible_podman_executable
    env:
      - name: ANSIBLE_PODMAN_EXECUTABLE
  nsenter_executable:
    description: The C(nsenter) program of the controller.
    type: str
    default: nsenter
    vars:
      - name: ansible_nsenter_executable
  pid_cache_dir:
    description:
      - Directory of the cached container PIDs (one small file per container, written by the controller).
      - A cached PID is used only while C(/proc/PID/cgroup) names the container's ID and the process
        still has its namespaces, so a container that was removed and created again under the same
        name is looked up again, even while the old one's init hangs in its shutdown.
    type: path
    default: /run/homelab-podman-nsenter
    env:
      - name: HOMELAB_PODMAN_NSENTER_CACHE
extends_documentation_fragment:
  - connection_pipelining
notes:
  - Commands run as root with the controller's capabilities in the container's namespaces, not with
    the reduced capability set and seccomp profile of C(podman exec). A task can therefore do what
    root on a real host can (set the host name, for one), which is closer to a production host than
    C(podman exec) is, but it is not the container's confinement.
  - Processes started directly by a task (not through the container's systemd) are not counted in
    the container's cgroup limits.
  - The remote user is ignored; become is not supported.
"""

import os
import shlex
import subprocess

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

display = Display()

# What podman exec gives a command in these images: no controller variables leak in.
CLEAN_ENV = (
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "container=podman",
)
NAMESPACES = ("--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup")


# the namespace files nsenter opens (NAMESPACES)
NAMESPACE_FILES = ("mnt", "uts", "ipc", "net", "pid", "cgroup")


def pid_belongs_to(pid, container_id):
    """True when process PID is still the given container's live init: its cgroup path names the ID,
    and it still has the namespaces nsenter enters (a container's init that hangs in shutdown after
    its container was removed keeps the cgroup but has lost them)."""
    try:
        with open("/proc/%d/cgroup" % pid, encoding="utf-8") as cgroup:
            if container_id not in cgroup.read():
                return False
    except (OSError, ValueError):
        return False
    return all(os.path.exists("/proc/%d/ns/%s" % (pid, ns)) for ns in NAMESPACE_FILES)


def inspect_container(podman, name):
    """(ID, PID) of the running container NAME; raises LookupError when it is not running here.

    Shared with the collection's testinfra backend (tests/harness/nsenter_backend.py).
    """
    result = subprocess.run([podman, "container", "inspect", "--format", "{{.Id}} {{.State.Pid}}", name],
                            capture_output=True, check=False)
    fields = to_text(result.stdout).split()
    if result.returncode != 0 or len(fields) != 2 or fields[1] == "0":
        raise LookupError(
            "container %s is not running here (podman container inspect: rc=%d %s)"
            % (name, result.returncode, to_text(result.stderr).strip())
        )
    return fields[0], int(fields[1])


def nsenter_argv(nsenter, pid, cmd):
    """The command line that runs shell command CMD in the namespaces of process PID with a clean environment."""
    return [nsenter, "--target=%d" % pid, *NAMESPACES, "--", "/usr/bin/env", "-i", *CLEAN_ENV,
            "/bin/sh", "-c", to_text(cmd)]


class Connection(ConnectionBase):
    """Commands in a local podman container's namespaces through nsenter."""

    transport = "homelab.mailserver_lab.podman_nsenter"
    has_pipelining = True
    has_tty = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pid = None

    def _container(self):
        return self.get_option("remote_addr") or self._play_context.remote_addr

    def _cache_file(self, name):
        return os.path.join(self.get_option("pid_cache_dir"), name.replace("/", "_"))

    def _read_cache(self, name):
        try:
            with open(self._cache_file(name), encoding="utf-8") as cached:
                container_id, pid = cached.read().split()
            pid = int(pid)
        except (OSError, ValueError):
            return None
        return pid if pid_belongs_to(pid, container_id) else None

    def _inspect(self, name):
        podman = self.get_option("podman_executable")
        try:
            container_id, pid = inspect_container(podman, name)
        except OSError as err:
            raise AnsibleConnectionFailure("cannot run %s: %s" % (podman, to_native(err))) from err
        except LookupError as err:
            raise AnsibleConnectionFailure(to_native(err)) from err
        cache_dir = self.get_option("pid_cache_dir")
        try:
            os.makedirs(cache_dir, mode=0o700, exist_ok=True)
            tmp = self._cache_file(name) + ".%d" % os.getpid()
            with open(tmp, "w", encoding="utf-8") as cached:
                cached.write("%s %d\n" % (container_id, pid))
            os.replace(tmp, self._cache_file(name))
        except OSError as err:
            display.vvv("podman_nsenter: cannot cache the PID of %s: %s" % (name, to_native(err)))
        return pid

    def _connect(self):
        if not self._connected:
            if os.geteuid() != 0:
                raise AnsibleConnectionFailure("the podman_nsenter connection needs root on the container host")
            name = self._container()
            self._pid = self._read_cache(name) or self._inspect(name)
            display.vvv("ENTER %s (PID %d)" % (name, self._pid), host=name)
            self._connected = True
        return self

    def _argv(self, cmd):
        return nsenter_argv(self.get_option("nsenter_executable"), self._pid, cmd)

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        self._connect()
        display.vvv("EXEC %s" % to_text(cmd), host=self._container())
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            self._argv(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/"
        )
        stdout, stderr = proc.communicate(in_data)
        return proc.returncode, stdout, stderr

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        display.vvv("PUT %s TO %s" % (in_path, out_path), host=self._container())
        try:
            with open(to_bytes(in_path, errors="surrogate_or_strict"), "rb") as source:
                data = source.read()
        except OSError as err:
            raise AnsibleError("cannot read %s: %s" % (in_path, to_native(err))) from err
        rc, _out, err = self.exec_command("cat > %s" % shlex.quote(out_path), in_data=data)
        if rc != 0:
            raise AnsibleError("failed to transfer %s to %s: %s" % (in_path, out_path, to_text(err)))

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        display.vvv("FETCH %s TO %s" % (in_path, out_path), host=self._container())
        rc, out, err = self.exec_command("cat %s" % shlex.quote(in_path))
        if rc != 0:
            raise AnsibleError("failed to fetch %s: %s" % (in_path, to_text(err)))
        try:
            with open(to_bytes(out_path, errors="surrogate_or_strict"), "wb") as target:
                target.write(out)
        except OSError as err:
            raise AnsibleError("cannot write %s: %s" % (out_path, to_native(err))) from err

    def close(self):
        self._connected = False

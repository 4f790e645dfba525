"""What the role tests share: the project's root, YAML files, role values resolved by Ansible's own
templating, and ansible-playbook run on this machine (connection local) against the collection.

Imported by tests/unit/roles/<role>/test_*.py (tests/unit/roles is on sys.path through conftest).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import yaml
from ansible.template import trust_as_template

ROOT = pathlib.Path(__file__).resolve().parents[3]


def load_yaml(path):
    """A YAML file's content ({} for an empty file)."""
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def trusted(value):
    """Mark the strings of a vars file as templates, as Ansible's loader does for role files."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [trusted(v) for v in value]
    return value


def never_roles(*left_out):
    """Every role of the collection but LEFT_OUT, tagged "never": their defaults are visible, as in
    site.yml (the wiring reads them), and none of their tasks runs."""
    names = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "defaults" / "main.yml").is_file())
    return json.dumps([{"role": f"homelab.mailserver.{name}", "tags": ["never"]}
                       for name in names if name not in left_out])


def local_host(**host_vars):
    """A host that ansible-playbook reaches on this machine, with this Python, and HOST_VARS."""
    return {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **host_vars}


def run_playbook(tmp_path, hosts, playbook, group="mail_servers", timeout=600):
    """Write HOSTS ({name: host vars}) as the inventory of GROUP and PLAYBOOK (text) under TMP_PATH,
    run ansible-playbook with the project's ansible.cfg and collection; return (rc, stdout + stderr)."""
    inventory = {"all": {"children": {group: {"hosts": hosts}}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory), encoding="utf-8")
    (tmp_path / "play.yml").write_text(playbook, encoding="utf-8")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_FORKS="8")
    ansible = shutil.which("ansible-playbook", path=str(pathlib.Path(sys.executable).parent)) or "ansible-playbook"
    proc = subprocess.run([ansible, "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml")],
                          capture_output=True, text=True, env=env, check=False, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


# The tasks that end a case playbook's block: the failure's message into <out>/<host>.failed (format()-escaped).
RESCUE_FAILURE = """
      rescue:
        - name: Write the failure
          ansible.builtin.copy:
            dest: "{{{{ out }}}}/{{{{ inventory_hostname }}}}.failed"
            mode: "0644"
            content: "{{{{ ansible_failed_result.msg }}}}"
"""


def play_cases(tmp_path, cases, playbook, suffixes):
    """Run PLAYBOOK once, one local host per case of CASES ({host: (inventory, expected)}), each host with
    `out` set to TMP_PATH; return (rc, output, {suffix: {host: text of <host>.<suffix>}}) for SUFFIXES."""
    hosts = {name: local_host(out=str(tmp_path), **inventory) for name, (inventory, _expected) in cases.items()}
    rc, out = run_playbook(tmp_path, hosts, playbook)
    read = {suffix: {name: (tmp_path / f"{name}.{suffix}").read_text(encoding="utf-8")
                     for name in cases if (tmp_path / f"{name}.{suffix}").exists()} for suffix in suffixes}
    return rc, out, read

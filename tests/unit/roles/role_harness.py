"""What the role tests share: the project's root, YAML files, role values resolved by Ansible's own
templating, and ansible-playbook run on this machine (connection local) against the collection.

Imported by tests/unit/roles/<role>/test_*.py (tests/unit/roles is on sys.path through conftest).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
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


def load_script(path, name):
    """A role's script (roles/<role>/files/, Python without a .py name) imported as module NAME."""
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def strings(node):
    """Every string in NODE, a filter's output of nested dictionaries and lists."""
    if isinstance(node, dict):
        for item in node.values():
            yield from strings(item)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, str):
        yield node


def checked_render_playbook(role, what, render_tasks, wiring=False):
    """A playbook for the mail_servers group, a template for str.format (so '{{{{ x }}}}' in RENDER_TASKS):
    ROLE's validate entry point as site.yml's first play runs it, then RENDER_TASKS (YAML text, tasks indented
    for a block); a failure's message goes to OUT/<host>.failed instead. WIRING: the play loads site.yml's
    playbooks/vars/mail_server_wiring.yml."""
    vars_files = "\n  vars_files:\n    - {root}/playbooks/vars/mail_server_wiring.yml" if wiring else ""
    return ("""
- name: The ROLE role's checks and WHAT, on this machine
  hosts: mail_servers
  gather_facts: false""" + vars_files + """
  tasks:
    - name: Check the variables, render WHAT; note the failure
      block:
        - name: Check the ROLE variables as site.yml's first play does
          ansible.builtin.include_role:
            name: homelab.mailserver.ROLE
            tasks_from: validate
            public: true
""" + render_tasks.rstrip("\n") + """
      rescue:
        - name: Write the failure
          ansible.builtin.copy:
            dest: "{{{{ out }}}}/{{{{ inventory_hostname }}}}.failed"
            mode: "0644"
            content: "{{{{ ansible_failed_result.msg }}}}"
""").replace("ROLE", role).replace("WHAT", what)


def play_cases(tmp_path, cases, playbook, suffixes):
    """Run PLAYBOOK (a checked_render_playbook, formatted here) with one local host per case of CASES
    ({name: (inventory, expected)}); (output, {suffix: {host: text of OUT/<host>.<suffix>}}) for SUFFIXES."""
    hosts = {name: local_host(out=str(tmp_path), **inventory) for name, (inventory, _expected) in cases.items()}
    rc, out = run_playbook(tmp_path, hosts, playbook.format(root=ROOT))
    assert rc == 0, out[-3000:]
    return out, {suffix: {name: (tmp_path / f"{name}.{suffix}").read_text(encoding="utf-8")
                          for name in cases if (tmp_path / f"{name}.{suffix}").exists()} for suffix in suffixes}

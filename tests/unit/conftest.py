"""Make the collection importable as ansible_collections.homelab.mailserver,
and the lab's test-only collection as ansible_collections.homelab.mailserver_lab;
the role tests import their harness as role_harness."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINK_BASE = os.path.join(ROOT, "build", "collections")
LINK = os.path.join(LINK_BASE, "ansible_collections", "homelab", "mailserver")

if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(os.path.relpath(ROOT, os.path.dirname(LINK)), LINK)
LAB_BASE = os.path.join(ROOT, "tests", "collections")
for base in (LAB_BASE, LINK_BASE):
    if base not in sys.path:
        sys.path.insert(0, base)
# the role tests' shared harness (tests/unit/roles/role_harness.py)
ROLES_TESTS = os.path.join(ROOT, "tests", "unit", "roles")
if ROLES_TESTS not in sys.path:
    sys.path.append(ROLES_TESTS)

# Copyright: (c) 2025, homelab.mailserver developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The floor of benchmarks/maps/bench_maps.py: a module that takes sendmail_access's arguments and does nothing.

It builds the same AnsibleModule (same argument spec, so the same parsing and copies of the 100,000
entries) and returns the same kind of result (invocation without the entries), so an ansible-playbook
run of it costs what ansible-core and AnsibleModule charge for carrying the entries to a module and
back, whatever the module then does. Not part of the collection: bench_maps.py puts this directory
on ANSIBLE_LIBRARY.
"""

DOCUMENTATION = r"""
module: benchmaps_floor
short_description: Benchmark floor, takes sendmail_access's options and changes nothing
description: Benchmark helper of benchmarks/maps/bench_maps.py; not part of the collection.
author: homelab.mailserver developers
options: {}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_map import map_argument_spec


def main():
    module = AnsibleModule(argument_spec=map_argument_spec("/etc/mail/access"), supports_check_mode=True,
                           add_file_common_args=True)
    args = dict(module.params, entries=f"<{len(module.params['entries'])} items>",
                pairs=f"<{len(module.params['pairs'])} items>")
    module.exit_json(changed=False, added=[], removed=[], updated=[], db_rebuilt=False,
                     msg="benchmark floor: nothing done", invocation={"module_args": args})


if __name__ == "__main__":
    main()

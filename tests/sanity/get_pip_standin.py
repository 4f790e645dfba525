"""Offline stand-in for pip's get-pip.py bootstrap used by ansible-test.

ansible-test downloads get-pip.py from a host this machine cannot reach and
runs it with pip's install arguments. scripts/test.sh saves this file under
the cache name ansible-test looks for; it bootstraps pip with ensurepip and
installs the requested packages from the configured package index.
"""

import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
subprocess.check_call([sys.executable, "-m", "pip", "install", *args])

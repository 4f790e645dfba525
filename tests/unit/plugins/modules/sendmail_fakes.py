"""Fake makemap / sendmail executables and a module runner for the sendmail map module tests."""

import json
import sys
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

FAKE_MAKEMAP = """\
#!{python}
# fake makemap: makemap <type> <base> < text  ->  <base>.db holding the sorted entries
# (lines end at \\n only, as makemap reads them)
import sys
typ, base = sys.argv[1], sys.argv[2]
if {fail}:
    sys.stdout.write("fake makemap output\\n")
    sys.stderr.write("makemap: %s: line 1: bad entry\\n" % base)
    open(base + ".db", "wb").write(b"partial")
    sys.exit(3)
lines = [l for l in sys.stdin.read().split("\\n") if l and l[0] not in "# \\t"]
open(base + ".db", "w").write(typ + "\\n" + "\\n".join(sorted(lines)) + "\\n")
"""

FAKE_SENDMAIL = """\
#!{python}
# fake sendmail -bi -oA[type:]path  ->  path.db
import sys
assert sys.argv[1] == "-bi", sys.argv
spec = sys.argv[2][3:]
path = spec.rpartition(":")[2]
if {fail}:
    sys.stderr.write("%s: line 3: missing colon\\n" % path)
    sys.exit(65)
open(path + ".db", "w").write(open(path).read())
print("%s: 3 aliases, longest 10 bytes, 30 bytes total" % path)
"""


def write_tool(directory, name, template, fail=False):
    tool = Path(directory) / name
    tool.write_text(template.format(python=sys.executable, fail=fail))
    tool.chmod(0o755)
    return str(tool)


@pytest.fixture
def tools(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    return {
        "makemap": write_tool(bindir, "makemap", FAKE_MAKEMAP),
        "makemap_fail": write_tool(bindir, "makemap-fail", FAKE_MAKEMAP, fail=True),
        "sendmail": write_tool(bindir, "sendmail", FAKE_SENDMAIL),
        "sendmail_fail": write_tool(bindir, "sendmail-fail", FAKE_SENDMAIL, fail=True),
        "cf": str(tmp_path / "sendmail.cf"),  # missing by default: map type falls back to hash
    }


@pytest.fixture
def run_module(capsys):
    """Run a module's main() with the given args; return the result dict."""
    def run(module, args, check=False, diff=False):
        args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
        with patch_module_args(args), pytest.raises(SystemExit) as exc:
            module.main()
        out = capsys.readouterr().out
        result = json.loads(out)
        assert bool(exc.value.code) == bool(result.get("failed")), out
        return result

    return run

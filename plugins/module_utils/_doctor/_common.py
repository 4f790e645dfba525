# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every check of the mail doctor shares: the declaration, the result, the inputs, file and SMTP helpers."""

import collections
import os
import re
import smtplib

from ansible_collections.homelab.mailserver.plugins.module_utils import _dns_query as _dns
from ansible_collections.homelab.mailserver.plugins.module_utils._sendmail_map import cf_alias_files, db_stale

Check = collections.namedtuple("Check", "name sections doc inputs run validate", defaults=(None,))
Check.__doc__ = """One check of the doctor, declared in one place (its unit module's CHECK).

name      the value of the module's ``checks`` option, and the unit module's name
sections  the headings of the chapter's sections the check comes from, the main one first
doc       one paragraph: what the check reads and when it is OK
inputs    names of the module options and of the DERIVED inputs that ``run`` reads
run       run(inputs) -> result(); ``inputs`` answers only the names declared in ``inputs``
validate  optional validate(params) -> '' or why an option is unusable; the module fails before any check runs
"""

# Inputs the doctor derives from the options: name -> (what it is, the options it reads).
DERIVED = {
    "run": ("run(argv, data=None) -> (rc, out, err): a command under coreutils timeout", ("timeout",)),
    "tool": ("tool(name) -> the path of a command (also in /usr/lib and /usr/lib/sendmail), or None", ()),
    "doveconf": ("the path of doveconf, or None when Dovecot is not installed (or dovecot is false)", ("dovecot",)),
    "aliases": ("the aliases file: aliases_path, else the first AliasFile of sendmail.cf, else /etc/mail/aliases"
                " when it exists, else /etc/aliases", ("aliases_path", "sendmail_cf")),
    "nameservers": ("the name servers of /etc/resolv.conf", ()),
}


def result(name, ok, detail):
    """The verdict of one check: ok is True, False or None (did not apply, could not tell)."""
    return {"name": name, "ok": ok, "detail": detail}


def read_text(path):
    """Text of PATH, or None when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def mtime(path):
    """Modification time of PATH in nanoseconds, or None when it does not exist."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def db_problem(text_path, dbs):
    """Why the databases DBS of TEXT_PATH are out of date, or ''."""
    missing = [d for d in dbs if not os.path.exists(d)]
    if missing:
        return "%s: %s missing" % (text_path, ", ".join(missing))
    if db_stale(text_path, dbs):
        return "%s: %s older than the text" % (text_path, ", ".join(dbs))
    return ""


def refuse_la_hint(sendmail_cf, loadavg="/proc/loadavg"):
    """Why sendmail may not be answering: its RefuseLA, when the load average is at or above it, else ''.

    Above RefuseLA sendmail closes its listening sockets until the load drops ("rejecting connections on
    daemon MTA: load average: N" in its log): connections are refused, not queued. A container reads the
    whole machine's load average. No sendmail.cf given (None): ''.
    """
    if not sendmail_cf:
        return ""
    found = re.search(r"^O RefuseLA=(\d+)", read_text(sendmail_cf) or "", re.MULTILINE)
    fields = (read_text(loadavg) or "").split()
    if not found or not fields:
        return ""
    try:
        load = float(fields[0])
    except ValueError:
        return ""
    limit = int(found.group(1))
    if limit <= 0 or load < limit:
        return ""
    return ("the load average %.2f is at or above sendmail's RefuseLA=%d, above which it closes its listening"
            " sockets until the load drops (sendmail_refuse_la)" % (load, limit))


def cf_alias_file(cf):
    """First file of ``O AliasFile=[type:]path[,...]`` in sendmail.cf, or None."""
    return next(iter(cf_alias_files(cf)), None) or None


# ---------------------------------------------------------------- SMTP
def smtp_connect(address, port, timeout, source=None):
    """(client, code, banner) of a new SMTP connection, bound to SOURCE when given."""
    client = smtplib.SMTP(timeout=timeout, source_address=(source, 0) if source else None)
    code, banner = client.connect(address, port)
    return client, code, banner.decode("utf-8", "replace")


def smtp_close(client):
    """QUIT, or just close when the session is already broken."""
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


# ---------------------------------------------------------------- inputs
class Inputs:
    """The module's options and the DERIVED inputs, each derived input computed when a check first asks for it."""

    def __init__(self, params, run, tool):
        self._params = params
        self._values = {"run": run, "tool": tool}

    def get(self, name):
        if name in self._params:
            return self._params[name]
        if name not in self._values:
            if name not in DERIVED:
                raise KeyError("no input %s" % name)
            self._values[name] = getattr(self, "_derive_" + name)()
        return self._values[name]

    def _derive_doveconf(self):
        if self._params.get("dovecot") is False:
            return None
        return self.get("tool")("doveconf")

    def _derive_aliases(self):
        if self._params.get("aliases_path"):
            return self._params["aliases_path"]
        return cf_alias_file(self._params["sendmail_cf"]) or (
            "/etc/mail/aliases" if os.path.exists("/etc/mail/aliases") else "/etc/aliases")

    @staticmethod
    def _derive_nameservers():
        return _dns.nameservers()

    def view(self, check):
        """What CHECK's run function gets: its declared inputs as attributes, and nothing else."""
        return InputView(self, check)


class InputView:
    """The inputs one check declared, as attributes; reading an undeclared one is an error of the check."""

    __slots__ = ("_check", "_inputs")

    def __init__(self, inputs, check):
        self._inputs = inputs
        self._check = check

    def __getattr__(self, name):
        if name not in self._check.inputs:
            raise AttributeError("the check %s reads %s, which is not among its declared inputs %s"
                                 % (self._check.name, name, ", ".join(self._check.inputs)))
        return self._inputs.get(name)

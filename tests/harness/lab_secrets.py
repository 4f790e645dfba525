"""The mail users' plain passwords of the molecule scenarios' lab-only vault.

molecule/dovecot/vars/secrets.yml holds them as !vault values, opened with
molecule/dovecot/vault-password (lab-only secrets, committed on purpose). Other
scenarios (backup) use the same users and read the same file.
"""

import pathlib

import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

DOVECOT = pathlib.Path(__file__).resolve().parents[2] / "molecule" / "dovecot"


class _VaultLoader(yaml.SafeLoader):
    """YAML loader that keeps !vault values as their ciphertext."""


_VaultLoader.add_constructor("!vault", lambda loader, node: loader.construct_scalar(node))


def mail_passwords(users=None, scenario=DOVECOT):
    """{user: plain password} of the scenario's lab_mail_passwords, all or only USERS."""
    vault = VaultLib([("default", VaultSecret((scenario / "vault-password").read_bytes().strip()))])
    data = yaml.load((scenario / "vars" / "secrets.yml").read_text(encoding="utf-8"), Loader=_VaultLoader)
    wanted = data["lab_mail_passwords"] if users is None else {user: data["lab_mail_passwords"][user] for user in users}
    return {user: vault.decrypt(value).decode() for user, value in wanted.items()}


def shell_quote(text):
    """TEXT as one single-quoted shell word."""
    return "'" + text.replace("'", "'\"'\"'") + "'"

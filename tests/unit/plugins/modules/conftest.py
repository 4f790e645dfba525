"""Fixtures of the sendmail map module tests (fake makemap/sendmail, module runner)."""

from ..module_utils.dns_fakes import fake_dns
from .sendmail_fakes import run_module, tools

# re-exported so pytest finds the fixtures for every test module in this directory
__all__ = ["fake_dns", "run_module", "tools"]

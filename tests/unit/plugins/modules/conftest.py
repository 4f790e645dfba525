"""Fixtures of the sendmail map module tests (fake makemap/sendmail, module runner)."""

from .sendmail_fakes import run_module, tools

# re-exported so pytest finds the fixtures for every test module in this directory
__all__ = ["run_module", "tools"]

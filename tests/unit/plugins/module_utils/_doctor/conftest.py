"""Fixtures of the doctor's check tests: a fake name server and a fake SMTP server, both on 127.0.0.1."""

from ..dns_fakes import fake_dns
from .helpers import smtp_server

# re-exported so pytest finds the fixtures for every test module in this directory
__all__ = ["fake_dns", "smtp_server"]

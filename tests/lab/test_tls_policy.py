"""The TLS policy on every TLS port of the configured lab server, from inside bigboy over loopback.

25 and 587 (STARTTLS), 465 (implicit TLS, sendmail_smtps_enabled in the example), 993 and 995
(Dovecot): TLS 1.0 and 1.1 are refused, TLS 1.2 or newer is spoken. The probe
(tests/harness/tls_probe.py) first proves with a server of its own that its client can speak
the old versions, so a refusal is the server's. AUTH is never offered on 25.
"""

from harness import tls_policy

PORTS = [25, 587, 465, 993, 995]


def test_tls_1_2_or_newer_on_every_tls_port(bigboy):
    tls_policy.assert_auth_on_submission_only(tls_policy.assert_tls_1_2_or_newer(bigboy, PORTS))

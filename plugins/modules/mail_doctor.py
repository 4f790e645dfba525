#!/usr/bin/python
# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only doctor for a sendmail/Dovecot host: the chapter's troubleshooting steps, run as checks."""

DOCUMENTATION = r"""
---
module: mail_doctor
short_description: Run the chapter's sendmail and Dovecot troubleshooting steps as read-only checks
version_added: "0.1.0"
description:
  - Runs the checks of the chapter's sections "Troubleshooting Sendmail", "Incorrectly Configured
    /etc/hosts Files" and "Troubleshooting Dovecot Mail" against the host it runs on, and reports
    each as a verdict with the evidence.
  - The 127.0.0.1 line of C(/etc/hosts) names the FQDN first; C(sendmail -d0.1 -bt) shows a qualified
    C($j); the SMTP port answers with a 220 banner; C(sendmail.cf), the maps' databases and the aliases
    database are not older than their sources; the server refuses to relay for an untrusted loopback
    address; Dovecot reads mail where it is delivered; the certificates, those configured and those
    that the TLS ports of O(smtp_address) serve (25 and 587 after STARTTLS, 465, 993, 995), name the
    FQDN, are not about to expire, and are one and the same current certificate on every port; the
    expected ports listen; the mail log has no C(SYSERR), C(panic) or C(not qualified) lines; the DNS
    records the mail domains need (O(dns_records)) are published, and every AAAA of the host's name is an
    address here that the MTA listens on; system mail (C(sendmail root), cron)
    is not sent to an address that a domain catch-all refuses (C(system_mail)).
  - Reads only. The relay probe is an SMTP session that ends with C(RSET) and C(QUIT) after C(RCPT);
    it never sends C(DATA), so no mail is queued even by an open relay.
  - A check that does not apply, or that cannot run here (a command missing, no name server answering), has
    C(ok=null).
options:
  fqdn:
    description: The host's fully qualified name, as the 127.0.0.1 line and sendmail's C($j) should show it.
    type: str
    required: true
  checks:
    description:
      - Names of the checks to run, in the order given; default all of them, in the order of the choices.
      - Each check is one unit of C(plugins/module_utils/_doctor/); docs/doctor.md describes them.
    type: list
    elements: str
    choices: [hosts_fqdn_first, fqdn_qualified, smtp_banner, sendmail_cf_fresh, maps_fresh, aliases_fresh,
              no_open_relay, dovecot_mail_location, certificate_expiry, listening, mail_log_errors, dns_published,
              aaaa_listening, system_mail]
  smtp_address:
    description: Address of the SMTP daemon to test.
    type: str
    default: 127.0.0.1
  smtp_port:
    description: Port of the SMTP daemon to test.
    type: int
    default: 25
  untrusted_source:
    description:
      - Local address the relay probe connects from. It must be an address the server must B(not) relay
        for; sendmail always relays for C(127.0.0.1), so the default is another loopback address.
    type: str
    default: 127.0.0.66
  relay_probe_sender:
    description:
      - Envelope sender of the relay probe. Empty sends the null sender C(MAIL FROM:<>), which sendmail
        accepts without resolving a domain, so that a refusal at C(RCPT) is about relaying and not about
        an unresolvable sender domain (C(553 5.1.8)).
    type: str
    default: ""
  relay_probe_recipient:
    description: Recipient in a domain the server does not serve; under C(.invalid) it can never be delivered.
    type: str
    default: relay-test@relay-probe.invalid
  timeout:
    description: Seconds to wait for each network answer and each command.
    type: int
    default: 15
  sendmail_mc:
    description: The m4 source of sendmail's configuration.
    type: path
    default: /etc/mail/sendmail.mc
  sendmail_cf:
    description: sendmail's compiled configuration; also read for the map types and the local mailer.
    type: path
    default: /etc/mail/sendmail.cf
  maps:
    description: Text files of maps whose database must be rebuilt when they change; missing files are ignored.
    type: list
    elements: path
    default: [/etc/mail/access, /etc/mail/virtusertable, /etc/mail/genericstable, /etc/mail/mailertable,
              /etc/mail/domaintable]
  submit_cf:
    description:
      - The MSP's compiled configuration, which local programs (cron, C(mail), C(sendmail USER)) run; read by
        C(system_mail) for the domain it qualifies bare recipients with (C($M), the masquerade domain, or C($j)).
    type: path
    default: /etc/mail/submit.cf
  aliases_path:
    description:
      - The aliases file; default the first file of C(O AliasFile=) in sendmail.cf, else
        C(/etc/mail/aliases) if it exists, else C(/etc/aliases).
    type: path
  procmailrc:
    description: procmail's system-wide configuration, read for where mail is delivered (C(DEFAULT)).
    type: path
    default: /etc/procmailrc
  mail_log:
    description:
      - Mail log file. Default the first that exists of C(/var/log/mail.log) and C(/var/log/maillog),
        else the journal of the sendmail and dovecot units.
    type: path
  log_lines:
    description: How many of the last log lines to read.
    type: int
    default: 200
  dovecot:
    description: Whether Dovecot is installed here; default whether C(doveconf) is on the path.
    type: bool
  certificates:
    description:
      - PEM certificates to check. Default those that Dovecot (C(ssl_server_cert_file) in 2.4,
        C(ssl_cert) in 2.3) and sendmail (C(ServerCertFile) in sendmail.cf) are configured with.
      - Whatever this option says, C(certificate_expiry) also reads the certificate each TLS port of
        O(smtp_address) serves (25 and 587 after STARTTLS, 465, 993, 995; a port that does not listen is left
        out) and requires it to be among these.
    type: list
    elements: path
    default: []
  cert_warn_days:
    description: A certificate that expires in fewer days than this is a problem.
    type: int
    default: 30
  listening:
    description:
      - Sockets that must be listening, as C(address:port) (C([::1]:993) for IPv6, C(*:25) for any address).
        A wildcard listener (C(0.0.0.0), C(::)) counts for every address of its family.
    type: list
    elements: str
    default: []
  dns_records:
    description:
      - The DNS records the mail domains need, as the filter P(homelab.mailserver.mail_dns_records#filter) builds them
        (C(playbooks/dns_records.yml) prints the same list). Each is a dictionary with C(name) (the owner name),
        C(type) (C(MX), C(TXT), C(PTR), C(A) or C(AAAA)) and C(value) (C(10 bigboy.my-site.com.) for MX, the whole
        text for TXT, the name for PTR, the address for A and AAAA); other keys are ignored.
      - The check C(dns_published) asks the name servers of C(/etc/resolv.conf) for each of them (UDP, TCP when
        the answer is truncated). An MX record needs the same exchanger and preference. An SPF record (C(v=spf1))
        needs every mechanism of the expected one and the same C(all) qualifier; more mechanisms are fine. A DMARC
        record (C(v=DMARC1)) needs the same C(p=) (and any other expected tag), and its C(rua)/C(ruf) must include
        the expected addresses; more are fine. A DKIM record needs the same public key (C(p=)). Other TXT
        records must be equal but for whitespace; PTR, A and AAAA records must be among the answers.
      - Empty (the default) leaves C(dns_published) undecided.
    type: list
    elements: dict
    default: []
  fail_on_problem:
    description: Fail the task when a check is not OK (after computing every check).
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module never changes anything; it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
    details: Linux for the O(listening) check (it reads C(/proc/net/tcp) and C(/proc/net/tcp6)).
notes:
  - Run it with privileges (C(become)); C(sendmail -bt), C(doveconf) and the mail log need root.
  - The relay probe binds its socket to O(untrusted_source); on Linux every address of 127.0.0.0/8 is local.
  - C(dns_published) queries the name servers itself with the Python standard library (no dnspython on the host).
    It fails for a record that is missing or different, naming what was expected and what DNS answered; it is
    undecided when a record cannot be resolved (every name server timed out or answered SERVFAIL). When the
    first query gets no answer at all, the remaining records are not asked.
author:
  - Homelab Mailserver Developers (@homelab-mailserver)
"""

EXAMPLES = r"""
- name: Examine the mail server
  homelab.mailserver.mail_doctor:
    fqdn: bigboy.my-site.com
    listening: ["*:25", "*:587", "*:993", "*:995"]
  register: doctor

- name: Show the table
  ansible.builtin.debug:
    msg: "{{ doctor.summary.splitlines() }}"

- name: Stop here when something is wrong
  ansible.builtin.fail:
    msg: "Not OK: {{ doctor.failed_checks | join(', ') }}"
  when: doctor.failed_checks | length > 0

- name: Check that the DNS records the domains need are published
  homelab.mailserver.mail_doctor:
    fqdn: bigboy.my-site.com
    checks: [dns_published]
    dns_records: "{{ ['my-site.com'] | homelab.mailserver.mail_dns_records(server='bigboy.my-site.com',
                     addresses=['192.0.2.25']) }}"

- name: A SMART_HOST client, a few checks only
  homelab.mailserver.mail_doctor:
    fqdn: smallfry.my-site.com
    checks: [hosts_fqdn_first, fqdn_qualified, smtp_banner, sendmail_cf_fresh, mail_log_errors]
    fail_on_problem: true
"""

RETURN = r"""
checks:
  description: One entry a check, in the order run. C(ok) is null when the check did not apply or could not run.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The check's name.
      type: str
    ok:
      description: true, false, or null (not applicable, could not tell).
      type: bool
    detail:
      description: What was seen; several lines for some checks.
      type: str
  sample:
    - {name: hosts_fqdn_first, ok: true, detail: "127.0.0.1 bigboy.my-site.com localhost.localdomain localhost bigboy"}
    - {name: no_open_relay, ok: true, detail: "from 127.0.0.66: RCPT answered 550 5.7.1 ... Relaying denied"}
    - {name: dns_published, ok: false, detail: "1 of 5 records missing or different (asked 192.0.2.53):\nWRONG
       _dmarc.my-site.com. TXT \"v=DMARC1; p=none\" -- DNS answered: \"v=DMARC1; p=reject\" (p=reject, expected p=none)"}
failed_checks:
  description:
    - Names of the checks that are not OK. (Not C(failed), which Ansible reads as the task's own status.)
  returned: always
  type: list
  elements: str
  sample: [sendmail_cf_fresh]
summary:
  description: The checks as a text table, one line a check (details may add indented lines).
  returned: always
  type: str
  sample: |-
    CHECK              RESULT  DETAIL
    hosts_fqdn_first   ok      127.0.0.1 bigboy.my-site.com localhost.localdomain localhost bigboy
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import (
    REGISTRY,
    Inputs,
    options_problem,
    run_checks,
    summary_table,
)

DEFAULT_MAPS = ["/etc/mail/" + m for m in ("access", "virtusertable", "genericstable", "mailertable", "domaintable")]
ARGUMENT_SPEC = {
    "fqdn": {"type": "str", "required": True},
    "checks": {"type": "list", "elements": "str", "choices": list(REGISTRY)},
    "smtp_address": {"type": "str", "default": "127.0.0.1"},
    "smtp_port": {"type": "int", "default": 25},
    "untrusted_source": {"type": "str", "default": "127.0.0.66"},
    "relay_probe_sender": {"type": "str", "default": ""},
    "relay_probe_recipient": {"type": "str", "default": "relay-test@relay-probe.invalid"},
    "timeout": {"type": "int", "default": 15},
    "sendmail_mc": {"type": "path", "default": "/etc/mail/sendmail.mc"},
    "sendmail_cf": {"type": "path", "default": "/etc/mail/sendmail.cf"},
    "maps": {"type": "list", "elements": "path", "default": DEFAULT_MAPS},
    "aliases_path": {"type": "path"},
    "submit_cf": {"type": "path", "default": "/etc/mail/submit.cf"},
    "procmailrc": {"type": "path", "default": "/etc/procmailrc"},
    "mail_log": {"type": "path"},
    "log_lines": {"type": "int", "default": 200},
    "dovecot": {"type": "bool"},
    "certificates": {"type": "list", "elements": "path", "default": []},
    "cert_warn_days": {"type": "int", "default": 30},
    "listening": {"type": "list", "elements": "str", "default": []},
    "dns_records": {"type": "list", "elements": "dict", "default": []},
    "fail_on_problem": {"type": "bool", "default": False},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    problem = options_problem(p)
    if problem:
        module.fail_json(msg=problem)
    timeout_bin = module.get_bin_path("timeout")

    def run(argv, data=None):
        limit = [timeout_bin, "-k", "5", str(p["timeout"])] if timeout_bin else []
        return module.run_command(limit + argv, data=data)

    def tool(name):
        return module.get_bin_path(name, opt_dirs=["/usr/lib", "/usr/lib/sendmail"])

    checks = run_checks(p["checks"], Inputs(p, run, tool))
    failed = [c["name"] for c in checks if c["ok"] is False]
    out = {"changed": False, "checks": checks, "failed_checks": failed, "summary": summary_table(checks)}
    if failed and p["fail_on_problem"]:
        module.fail_json(msg="mail doctor: not OK: %s" % ", ".join(failed), **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()

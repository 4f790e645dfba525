# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dns_published: the DNS records the mail domains need are published, as the resolv.conf name servers answer."""

from ansible_collections.homelab.mailserver.plugins.module_utils import _dns_query as _dns
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import Check, result
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._dns_compare import (
    compare_record,
    dns_name,
    records_option_problem,
    shown_answer,
    shown_record,
    txt_kind,
)

NAME = "dns_published"


def check(records, servers, timeout=15, port=53):
    """Each record the domains need (mail_dns_records) is in live DNS, as the resolv.conf name servers answer."""
    if not records:
        return result(NAME, None, "no records to check (dns_records is empty)")
    servers = list(servers)
    answers = {}
    verdicts = []
    for record in records:
        key = (dns_name(record["name"]), str(record["type"]).upper())
        if key not in answers:
            if answers and all(a.status == _dns.TIMEOUT for a in answers.values()):
                answers[key] = _dns.Answer(_dns.TIMEOUT, error="not asked: no name server answered")
            else:
                answers[key] = _dns.query(key[0], key[1], servers, timeout, port=port)
                # a name server that did not answer is asked last from now on
                slow = answers[key].timed_out
                servers = [s for s in servers if s not in slow] + [s for s in servers if s in slow]
        state, why = compare_record(record, answers[key])
        verdicts.append((record, answers[key], state, why))
    asked = ", ".join(sorted({a.server for a in answers.values() if a.server})) or ", ".join(servers)
    problems = [v for v in verdicts if v[2] in ("missing", "different")]
    unresolved = [v for v in verdicts if v[2] == "unresolved"]
    lines = []
    for record, answer, state, why in problems + unresolved:
        word = {"missing": "MISSING", "different": "WRONG", "unresolved": "NOT RESOLVED"}[state]
        lines.append("%s %s -- DNS answered: %s%s" % (
            word, shown_record(record), shown_answer(str(record["type"]).upper(), answer), " (%s)" % why if why else ""))
    if problems:
        head = "%d of %d records missing or different (asked %s):" % (len(problems), len(records), asked)
        return result(NAME, False, "\n".join([head] + lines))
    if unresolved:
        if len(unresolved) == len(records):
            head = "cannot resolve any of the %d records: %s" % (len(records), unresolved[0][1].describe())
            return result(NAME, None, head)
        head = "%d of %d records could not be resolved (asked %s); the others are published:" % (
            len(unresolved), len(records), asked)
        return result(NAME, None, "\n".join([head] + lines))
    kinds = {}
    for record in records:
        kind = str(record["type"]).upper()
        kind = txt_kind(str(record["value"])) if kind == "TXT" else kind
        kinds[kind] = kinds.get(kind, 0) + 1
    return result(NAME, True, "all %d records published (%s), asked %s" % (
        len(records), ", ".join("%d %s" % (n, k) for k, n in kinds.items()), asked))


CHECK = Check(
    name=NAME,
    sections=("Configuring DNS for sendmail", "Configure Your Mail Server's Name In DNS"),
    doc="For each record of dns_records (each domain's MX, SPF, DKIM and DMARC, the server's A/AAAA and PTR, as"
        " playbooks/dns_records.yml prints them), asks the name servers of /etc/resolv.conf in turn (UDP, TCP when"
        " the answer is truncated). OK when every record is published: MX with the same exchanger and preference;"
        " SPF with every expected mechanism and the same all; DMARC with the same p= and the expected rua among"
        " its addresses; DKIM with the same public key; PTR, A and AAAA among the answers. A missing or different"
        " record is a FAIL, one line each; a record no name server resolves, or an empty dns_records, leaves the"
        " check undecided. The chapter has the MX and A records; SPF, DKIM and DMARC came after it.",
    inputs=("dns_records", "nameservers", "timeout"),
    run=lambda i: check(i.dns_records, i.nameservers, i.timeout),
    validate=lambda params: records_option_problem(params["dns_records"]),
)

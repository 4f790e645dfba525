# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor's comparison of an expected DNS record (as mail_dns_records builds it) with what DNS answered.

MX: the same exchanger and preference. SPF: every expected mechanism and the same ``all``; more mechanisms are
fine, two SPF records are not. DMARC: the same tags (``p=``...), and ``rua``/``ruf`` include the expected
addresses. DKIM: the same public key (``p=``). Other TXT: equal but for whitespace. PTR, A, AAAA: among the answers.
"""

import ipaddress
import re

from ansible_collections.homelab.mailserver.plugins.module_utils import _dns_query as _dns
from ansible_collections.homelab.mailserver.plugins.module_utils._validate import is_hostname, is_ip_address

DNS_TYPES = ("MX", "TXT", "PTR", "A", "AAAA")


def is_mx_value(value):
    """Whether VALUE is 'PREFERENCE EXCHANGER': a preference of 0-65535 and a host name (10 bigboy.my-site.com.)."""
    preference, _sep, exchanger = value.partition(" ")
    return (preference.isascii() and preference.isdigit() and int(preference) <= 0xFFFF
            and is_hostname(exchanger.lstrip(" ")))


def records_option_problem(records):
    """Why the dns_records option is unusable, or ''."""
    for number, record in enumerate(records, 1):
        if not isinstance(record, dict):
            return "dns_records entry %d is not a dictionary" % number
        missing = [key for key in ("name", "type", "value") if not str(record.get(key) or "").strip()]
        if missing:
            return "dns_records entry %d has no %s" % (number, " and no ".join(missing))
        rtype, value = str(record["type"]).upper(), str(record["value"]).strip()
        if rtype not in DNS_TYPES:
            return "dns_records entry %d: type %s is not one of %s" % (number, record["type"], ", ".join(DNS_TYPES))
        if rtype == "MX" and not is_mx_value(value):
            return "dns_records entry %d: an MX value is 'PREFERENCE EXCHANGER', not %r" % (number, value)
        if rtype in ("A", "AAAA") and not is_ip_address(value):
            return "dns_records entry %d: %r is not an address" % (number, value)
    return ""


def dns_name(name):
    return str(name).strip().rstrip(".").lower()


def txt_kind(value):
    """SPF, DMARC, DKIM or TXT: what a TXT value is, by its version tag."""
    low = " ".join(value.split()).lower()
    if re.match(r"v=spf1( |$)", low):
        return "SPF"
    if re.match(r"v *= *dmarc1 *(;|$)", low):
        return "DMARC"
    if re.match(r"v *= *dkim1 *(;|$)", low):
        return "DKIM"
    return "TXT"


def _tags(value):
    """The tag=value list of a DKIM key or DMARC record as a dictionary (tag names in lower case)."""
    tags = {}
    for part in value.split(";"):
        tag, sep, text = part.partition("=")
        if sep and tag.strip():
            tags.setdefault(tag.strip().lower(), " ".join(text.split()))
    return tags


def _short(text, keep=60):
    """TEXT for a table line: long base64 keys cut in the middle."""
    text = re.sub(r"(p=\s*)([A-Za-z0-9+/=]{24,})", lambda m: m.group(1) + m.group(2)[:12] + "..." + m.group(2)[-8:], text)
    return text if len(text) <= keep * 3 else text[:keep] + "..." + text[-keep // 2:]


def _spf_terms(value):
    return [term[1:] if term.startswith("+") else term for term in value.lower().split()[1:]]


def _spf_differs(expected, published):
    want, have = _spf_terms(expected), _spf_terms(published)
    endings = [[t for t in terms if t.lstrip("-~?") == "all"] for terms in (want, have)]
    why = []
    lacking = [t for t in want if t not in have and t not in endings[0]]
    if lacking:
        why.append("lacks %s" % " ".join(lacking))
    if endings[0] != endings[1]:
        why.append("ends with %s, expected %s" % (" ".join(endings[1]) or "no all", " ".join(endings[0])))
    return "; ".join(why)


def _uris(text):
    return {uri.strip().lower() for uri in text.split(",") if uri.strip()}


def _dmarc_differs(expected, published):
    want, have = _tags(expected), _tags(published)
    why = []
    for tag, value in want.items():
        if tag == "v":
            continue
        if tag in ("rua", "ruf"):
            lacking = sorted(_uris(value) - _uris(have.get(tag, "")))
            if lacking:
                why.append("%s lacks %s" % (tag, ", ".join(lacking)))
        elif have.get(tag, "").lower() != value.lower():
            why.append("%s=%s, expected %s=%s" % (tag, have.get(tag) or "(none)", tag, value))
    return "; ".join(why)


def _dkim_key(value):
    return re.sub(r"\s+", "", _tags(value).get("p", ""))


def _dkim_differs(expected, published):
    key = _dkim_key(published)
    if not key:
        return "the key is revoked (empty p=)" if "p" in _tags(published) else "no p= key"
    return "" if key == _dkim_key(expected) else "another key"


TXT_RULES = {
    # kind: (the published records that count, how one differs, more than one is an error)
    "SPF": (lambda v: txt_kind(v) == "SPF", _spf_differs, True),
    "DMARC": (lambda v: txt_kind(v) == "DMARC", _dmarc_differs, True),
    "DKIM": (lambda v: "p" in _tags(v) and txt_kind(v) in ("DKIM", "TXT"), _dkim_differs, False),
    "TXT": (lambda v: True, lambda e, p: "" if " ".join(e.split()) == " ".join(p.split()) else "another text", False),
}


def _compare_txt(expected, found):
    """(state, why) of an expected TXT value against the TXT records found at its name."""
    kind = txt_kind(expected)
    counts, differs, single = TXT_RULES[kind]
    candidates = [v for v in found if counts(v)]
    label = "TXT record" if kind == "TXT" else "%s record" % kind
    if not candidates:
        return "missing", "no %s among the TXT records" % label
    if single and len(candidates) > 1:
        return "different", "%d %ss (receivers treat more than one as an error)" % (len(candidates), label)
    reasons = [differs(expected, v) for v in candidates]
    if "" in reasons:
        return "ok", ""
    return "different", reasons[0]


def compare_record(record, answer):
    """(state, why) of one expected record against the DNS answer: ok, missing, different or unresolved."""
    if not answer.answered:
        return "unresolved", ""
    if answer.status != _dns.OK:
        return "missing", ""
    rtype, value = str(record["type"]).upper(), str(record["value"]).strip()
    if rtype == "TXT":
        return _compare_txt(value, answer.records)
    if rtype == "MX":
        pref, host = value.split()
        wanted = (int(pref), dns_name(host))
        if wanted in answer.records:
            return "ok", ""
        prefs = [str(p) for p, h in answer.records if h == wanted[1]]
        if prefs:
            return "different", "preference %s, expected %d" % (", ".join(prefs), wanted[0])
        return "different", "%s is not an exchanger" % wanted[1]
    if rtype in ("A", "AAAA"):
        wanted = ipaddress.ip_address(value)
        return ("ok", "") if any(ipaddress.ip_address(a) == wanted for a in answer.records) else ("different", "")
    return ("ok", "") if dns_name(value) in answer.records else ("different", "")


def shown_record(record):
    value = str(record["value"]).strip()
    if str(record["type"]).upper() == "TXT":
        value = '"%s"' % value
    return "%s %s %s" % (dns_name(record["name"]) + ".", str(record["type"]).upper(), _short(value))


def shown_answer(rtype, answer):
    if answer.status == _dns.OK and rtype == "TXT":
        return ", ".join('"%s"' % _short(r) for r in answer.records)
    return _short(answer.describe())

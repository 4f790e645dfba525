# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SpamAssassin local.cf from the spamassassin role's variables, SpamAssassin 2.x names translated to 4.x;
spamass-milter's options from its variables."""

from __future__ import annotations

import ipaddress

from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V

# Documentation: one NAME.yml per filter beside this file (ansible-doc -t filter
# homelab.mailserver.NAME); a file holding several filters has no DOCUMENTATION.

PLUGIN_PREFIX = "Mail::SpamAssassin::Plugin::"
# Plugins whose loading follows the variables: network tests and TextCat (ok_languages).
MANAGED_PLUGINS = ("Razor2", "Pyzor", "DCC", "TextCat")
_PLUGIN_OF_OPTION = {"use_razor2": "Razor2", "use_pyzor": "Pyzor", "use_dcc": "DCC"}

# SpamAssassin 2.x/3.0 names with a 4.x equivalent.
RENAMED = {
    "required_hits": "required_score",
    "auto_learn": "bayes_auto_learn",
    "use_auto_whitelist": "use_auto_welcomelist",
    "auto_whitelist_path": "auto_welcomelist_path",
    "auto_whitelist_file_mode": "auto_welcomelist_file_mode",
}
# SpamAssassin 2.x options removed in 3.0 with no replacement (the report and header layout
# is configured with report/add_header/clear_headers instead).
DROPPED = (
    "use_terse_report",
    "report_header",
    "defang_mime",
    "always_add_headers",
    "always_add_report",
    "spam_level_stars",
    "spam_level_char",
    "detailed_phrase_score",
    "check_mx_attempts",
    "check_mx_delay",
)
_BOOL_OPTIONS = ("use_bayes", "bayes_auto_learn", "skip_rbl_checks", "skip_uribl_checks", "use_razor2", "use_pyzor",
                 "use_dcc", "use_auto_welcomelist")

# skip_rbl_checks turns off the DNSEval plugin's lists only. With the DNS blocklist tests off,
# the URI lists (URIDNSBL: skip_uribl_checks) and the lists SpamAssassin 4's rules ask through
# other plugins are off too: AskDNS (fresh.fmb.la, lookup.dkimwl.org) and HashBL (multi.surbl.org).
BLOCKLIST_ZONES = ("fmb.la", "dkimwl.org", "surbl.org")

# Order of the settings in the rendered file, as the chapter's local.cf has them.
_ORDER = (
    "required_score", "rewrite_header", "report_safe", "use_bayes", "bayes_auto_learn", "bayes_path",
    "bayes_file_mode", "skip_rbl_checks", "skip_uribl_checks", "dns_query_restriction", "use_razor2", "use_dcc", "use_pyzor", "ok_languages", "ok_locales",
    "trusted_networks", "internal_networks",
)


def _truth(value):
    """SpamAssassin's 0/1 for booleans written as 1/0, true/false, yes/no; None when not a boolean."""
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, int) and value in (0, 1):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return 1
    if text in ("0", "false", "no", "off"):
        return 0
    return None


def _number(value):
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _words(value):
    """A list or a space separated string as a list of words."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return str(value).split()


def _is_query_restriction(item):
    """One dns_query_restriction value: allow or deny, then domain names or *, on one line."""
    if isinstance(item, str) and not V.is_message(item):
        return False
    words = _words(item)
    return len(words) >= 2 and words[0] in ("allow", "deny") and all(zone == "*" or V.is_domain(zone) for zone in words[1:])


def _fmt_number(value):
    text = ("%.2f" % value).rstrip("0")
    return text + "0" if text.endswith(".") else text


def spamassassin_parse_cf(text):
    """Parse local.cf text into {option: value}; repeated options give a list, comments and blanks are skipped."""
    out = {}
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        name = parts[0]
        value = parts[1].strip() if len(parts) > 1 else ""
        if name in out:
            if not isinstance(out[name], list):
                out[name] = [out[name]]
            out[name].append(value)
        else:
            out[name] = value
    return out


def _from_settings(settings, errors):
    """The structured settings as SpamAssassin 4 options."""
    opts = {}
    if "required_score" in settings:
        score = _number(settings["required_score"])
        if score is None:
            errors.add("spamassassin_required_score", settings["required_score"], "a number such as 5.0")
        else:
            opts["required_score"] = score
    if "rewrite_subject" in settings or "subject_tag" in settings:
        opts["rewrite_subject"] = settings.get("rewrite_subject", False)
        opts["subject_tag"] = settings.get("subject_tag", "")
    if "report_safe" in settings:
        opts["report_safe"] = settings["report_safe"]
    for key, option in (("use_bayes", "use_bayes"), ("bayes_auto_learn", "bayes_auto_learn")):
        if key in settings:
            opts[option] = settings[key]
    if settings.get("bayes_path"):
        opts["bayes_path"] = settings["bayes_path"]
    if settings.get("bayes_file_mode"):
        opts["bayes_file_mode"] = settings["bayes_file_mode"]
    if "rbl_checks" in settings:
        rbl = _truth(settings["rbl_checks"])
        if rbl is None:
            errors.add("spamassassin_rbl_checks", settings["rbl_checks"], "a boolean")
        else:
            opts["skip_rbl_checks"] = 1 - rbl
            if not rbl:
                opts["skip_uribl_checks"] = 1
                opts["dns_query_restriction"] = "deny " + " ".join(BLOCKLIST_ZONES)
    for key, option in (("razor", "use_razor2"), ("pyzor", "use_pyzor"), ("dcc", "use_dcc")):
        if key in settings:
            opts[option] = settings[key]
    for key in ("ok_languages", "ok_locales", "trusted_networks", "internal_networks"):
        if key in settings and settings[key] not in (None, "", []):
            opts[key] = settings[key]
    return opts


def _translate(options, warnings, errors):
    """Raw options (2.x names allowed) as 4.x options; rewrite_subject/subject_tag stay for _finish."""
    opts = {}
    for name, value in (options or {}).items():
        if not errors.check(V.check_sa_option, name, "spamassassin_options"):
            continue
        if name in DROPPED:
            # the warning goes into a comment line of local.cf: only a value on one line may appear in it
            text = str(int(value) if isinstance(value, bool) else value)
            if text == "" or errors.check(V.check_message, text, "spamassassin_options." + name):
                warnings.append(
                    "spamassassin_options: '%s %s' is a SpamAssassin 2.x option that SpamAssassin 4 no longer has; "
                    "dropped" % (name, text))
            continue
        if name in RENAMED:
            new = RENAMED[name]
            warnings.append("spamassassin_options: '%s' is the SpamAssassin 2.x name of '%s'; translated" % (name, new))
            name = new
        if name in ("rewrite_subject", "subject_tag"):
            warnings.append(
                "spamassassin_options: '%s' is a SpamAssassin 2.x option; with rewrite_subject and subject_tag "
                "it becomes 'rewrite_header Subject TAG'" % name)
        if name == "rewrite_header":
            # rewrite_header Subject TAG
            field, _sep, tag = str(value).strip().partition(" ")
            if field.lower() == "subject":
                opts["rewrite_subject"] = 1
                opts["subject_tag"] = tag.strip()
                continue
        opts[name] = value
    return opts


def _finish(opts, warnings, errors):
    """Check and normalise the merged options; returns {option: value or list of values}."""
    out = {}
    if "required_score" in opts:
        score = _number(opts["required_score"])
        if score is None:
            errors.add("required_score", opts["required_score"], "a number such as 5.0")
        else:
            out["required_score"] = _fmt_number(score)
    if "rewrite_subject" in opts:
        rewrite = _truth(opts["rewrite_subject"])
        tag = opts.get("subject_tag", "")
        if rewrite is None:
            errors.add("rewrite_subject", opts["rewrite_subject"], "a boolean (1/0)")
        elif rewrite:
            if not V.is_message(tag):
                errors.add("subject_tag", tag, "one line of text such as *****SPAM***** when subject rewriting is on")
            else:
                out["rewrite_header"] = "Subject " + tag.strip()
    elif opts.get("subject_tag"):
        warnings.append("subject_tag is set but subject rewriting is off; the tag is not used")
    if "report_safe" in opts:
        value = opts["report_safe"]
        safe = None if isinstance(value, bool) else _number(value)
        if isinstance(value, bool):
            safe = int(value)
        if safe not in (0, 1, 2):
            errors.add("report_safe", value, "0, 1 or 2")
        else:
            out["report_safe"] = str(int(safe))
    for option in _BOOL_OPTIONS:
        if option in opts:
            flag = _truth(opts[option])
            if flag is None:
                errors.add(option, opts[option], "a boolean (1/0)")
            else:
                out[option] = str(flag)
    if "bayes_path" in opts:
        path = str(opts["bayes_path"])
        if not V.is_abs_path(path) or path.endswith("/"):
            errors.add("bayes_path", path, "an absolute path prefix such as /var/lib/spamassassin/bayes/bayes, without "
                       "spaces, quotes or a trailing /")
        else:
            out["bayes_path"] = path
    if "bayes_file_mode" in opts:
        mode = str(opts["bayes_file_mode"])
        if errors.check(V.check_file_mode, mode, "bayes_file_mode"):
            out["bayes_file_mode"] = mode
    if "ok_languages" in opts:
        langs = _words(opts["ok_languages"])
        bad = [lang for lang in langs if not V.is_sa_language(lang)]
        if bad or not langs:
            errors.add("ok_languages", opts["ok_languages"], "language codes: " + V.VALID_SA_LANGUAGE)
        else:
            out["ok_languages"] = " ".join(langs)
    if "ok_locales" in opts:
        locales = _words(opts["ok_locales"])
        bad = [loc for loc in locales if not V.is_sa_locale(loc)]
        if bad or not locales:
            errors.add("ok_locales", opts["ok_locales"], "locale codes: " + V.VALID_SA_LOCALE)
        else:
            out["ok_locales"] = " ".join(locales)
    if "dns_query_restriction" in opts:
        value = opts["dns_query_restriction"]
        rendered = []
        for item in value if isinstance(value, list) else [value]:
            if not _is_query_restriction(item):
                errors.add("dns_query_restriction", item, "allow or deny, then domain names (or *): " + V.VALID_DOMAIN)
                continue
            rendered.append(" ".join(_words(item)))
        if rendered:
            out["dns_query_restriction"] = rendered if isinstance(value, list) else rendered[0]
    for option in ("trusted_networks", "internal_networks"):
        if option in opts:
            nets = []
            for entry in _words(opts[option]):
                if not V.is_ip_network(entry.removeprefix("!")):
                    errors.add(option, entry, V.VALID_IP_NETWORK + ", optionally with ! in front")
                    continue
                nets.append(entry)
            if nets:
                out[option] = " ".join(nets)
    handled = set(out) | {"rewrite_subject", "subject_tag"} | set(_ORDER)
    for name, value in opts.items():
        if name in handled:
            continue
        values = value if isinstance(value, list) else [value]
        rendered = []
        for item in values:
            if isinstance(item, bool):
                item = int(item)
            text = str(item)
            if text and not V.is_message(text):
                errors.add("option " + name, text, "a value on one line")
                continue
            rendered.append(text)
        out[name] = rendered if isinstance(value, list) else (rendered[0] if rendered else "")
    return out


def spamassassin_local_cf(settings, options=None, extra_lines=None):
    """Return {lines, plugins, managed_plugins, warnings, errors, options} for the role's local.cf."""
    errors = V.Problems()
    warnings = []
    if not isinstance(settings, dict):
        return {"lines": [], "plugins": [], "managed_plugins": [PLUGIN_PREFIX + p for p in MANAGED_PLUGINS], "warnings": [],
                "errors": [V.problem("spamassassin_local_cf input", settings, "a dictionary of the settings")], "options": {}}
    if options is not None and not isinstance(options, dict):
        errors.add("spamassassin_options", options, "a dictionary of local.cf option to value")
        options = {}
    merged = _from_settings(settings, errors)
    merged.update(_translate(options, warnings, errors))
    final = _finish(merged, warnings, errors)

    # A plugin's options exist only while the plugin is loaded: a switched-off network
    # test and ok_languages all (TextCat's default) leave their line out, as the plugin is.
    plugins = []
    for option, plugin in _PLUGIN_OF_OPTION.items():
        if final.get(option) == "1":
            plugins.append(PLUGIN_PREFIX + plugin)
        else:
            final.pop(option, None)
    if final.get("ok_languages", "all") != "all":
        plugins.append(PLUGIN_PREFIX + "TextCat")
    else:
        final.pop("ok_languages", None)

    lines = []
    order = [name for name in _ORDER if name in final] + [name for name in final if name not in _ORDER]
    for name in order:
        value = final[name]
        for item in value if isinstance(value, list) else [value]:
            lines.append(("%s %s" % (name, item)).rstrip())
    extra = extra_lines or []
    if not isinstance(extra, list):
        errors.add("spamassassin_extra_lines", extra, "a list of local.cf lines")
        extra = []
    for index, line in enumerate(extra):
        if errors.check(V.check_message, line, "spamassassin_extra_lines[%d]" % index):
            lines.append(line)
    return {
        "lines": lines,
        "plugins": plugins,
        "managed_plugins": [PLUGIN_PREFIX + p for p in MANAGED_PLUGINS],
        "warnings": warnings,
        "errors": list(errors),
        "options": final,
    }


# ---------------------------------------------------------------- spamass-milter
# sendmail's F= flag for what mail gets while the milter does not answer.
MILTER_FLAGS = {"pass": "", "tempfail": "T", "reject": "R"}
MILTER_TIMEOUT_KEYS = ("C", "S", "R", "E")
# spamass-milter reads -r with atoi() and compares the whole part of the score; GTUBE scores 1000.
MAX_REJECT_SCORE = 1000
VALID_REJECT_SCORE = "a whole number (an integer) from spamassassin_required_score ({}) up to %d" % MAX_REJECT_SCORE
VALID_IGNORE_NETWORKS = "a list of IP addresses or networks in CIDR notation (e.g. [127.0.0.1/32, '::1/128'])"
VALID_TIMEOUTS = "a dictionary of sendmail's milter timeouts C, S, R and E, each a duration such as 10s or 4m"


def _milter_reject_score(value, required, errors):
    required_score = _number(required)
    floor = required_score if required_score is not None else 0
    if not isinstance(value, int) or isinstance(value, bool) or not floor <= value <= MAX_REJECT_SCORE or value < 1:
        errors.add("spamassassin_milter_reject_score", value, VALID_REJECT_SCORE.format(required))
        return None
    return str(value)


def _milter_networks(value, errors):
    if not isinstance(value, list):
        errors.add("spamassassin_milter_ignore_networks", value, VALID_IGNORE_NETWORKS)
        return []
    out = []
    for index, item in enumerate(value):
        if errors.check(V.check_ip_network, item, "spamassassin_milter_ignore_networks[%d]" % index):
            network = ipaddress.ip_network(item, strict=False).with_prefixlen
            if network not in out:
                out.append(network)
    return out


def _milter_timeouts(value, errors):
    if not isinstance(value, dict) or not set(value) <= set(MILTER_TIMEOUT_KEYS):
        errors.add("spamassassin_milter_timeouts", value, VALID_TIMEOUTS)
        return
    for key, duration in value.items():
        errors.check(V.check_duration, duration, "spamassassin_milter_timeouts.%s" % key)


def spamassassin_milter_options(settings):
    """Return {options, flags, errors}: spamass-milter's command-line words (OPTIONS of its init script), sendmail's
    F= flag for the milter, and what is wrong with the spamassassin_milter_* variables."""
    errors = V.Problems()
    if not isinstance(settings, dict):
        problem = V.problem("spamassassin_milter_options input", settings, "a dictionary of the settings")
        return {"options": [], "flags": "", "errors": [problem]}
    user = settings.get("user")
    if not V.is_user_name(user):
        errors.add("spamassassin_milter_options input user", user, V.VALID_USER_NAME)
    score = _milter_reject_score(settings.get("reject_score"), settings.get("required_score"), errors)
    networks = _milter_networks(settings.get("ignore_networks"), errors)
    scan_authenticated = settings.get("scan_authenticated")
    if not isinstance(scan_authenticated, bool):
        errors.add("spamassassin_milter_scan_authenticated", scan_authenticated, "a boolean")
    errors.check(V.check_abs_path, settings.get("socket"), "spamassassin_milter_socket")
    on_failure = settings.get("on_failure")
    if not V.is_str(on_failure) or on_failure not in MILTER_FLAGS:
        errors.add("spamassassin_milter_on_failure", on_failure, "pass, tempfail or reject")
    _milter_timeouts(settings.get("timeouts"), errors)
    max_size = settings.get("spamc_max_size")
    if not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 1:
        errors.add("spamassassin_spamc_max_size", max_size, "a whole number of bytes, 1 or more")
    if errors:
        return {"options": [], "flags": "", "errors": list(errors)}
    options = ["-u", user]
    if networks:
        options += ["-i", ",".join(networks)]
    if not scan_authenticated:
        options.append("-I")
    options += ["-r", score, "--", "-s", str(max_size)]
    return {"options": options, "flags": MILTER_FLAGS[on_failure], "errors": []}


class FilterModule:
    """homelab.mailserver SpamAssassin filters."""

    def filters(self):
        return {
            "spamassassin_local_cf": spamassassin_local_cf,
            "spamassassin_parse_cf": spamassassin_parse_cf,
            "spamassassin_milter_options": spamassassin_milter_options,
        }

#!/usr/bin/python
# Copyright: (c) 2025, homelab.mailserver developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: EXE001  (ansible-test: modules carry a shebang but must not be executable)

from __future__ import annotations

DOCUMENTATION = r"""
module: config_build
short_description: Build, check and install a daemon's configuration file; only a candidate that passes goes live
version_added: 0.1.0
description:
  - In one call the module writes a candidate configuration (O(content), the rendered template) into a private
    directory, optionally builds a second file from it (O(build), for example C(m4 sendmail.mc) into C(sendmail.cf)),
    runs the daemon's own configuration test on the candidate (O(check), for example C(sendmail -bt -C),
    C(spamassassin --lint), C(milter-greylist -c), C(doveconf -n), C(opendkim -n)), and only when every step passed
    replaces the live files whose bytes differ with their candidates.
  - When every candidate (and the built file) is byte for byte the live file, the check and the audit do not run
    (RV(checked) is false); those files passed them when they were installed, and nothing is installed now.
  - Each live file is replaced with C(rename) (the module's C(atomic_move)) from a file in the same file system, so a
    reader sees either the old or the new file, never a partial one. Owner, group and mode are set as asked.
  - With O(audit), the checked candidate is then compared with what the variables ask for (the second line of
    defence, after the validation of the variables) - a relay class entry, a trusted user, a mailer or a relay-widening
    FEATURE in C(sendmail.cf), or a setting, section or include in C(dovecot.conf), that the expected lists do not hold
    fails the run naming it.
  - A step that fails leaves every live file as it was (the daemon keeps running the configuration it has, and nothing
    has to be restarted); the module fails with a message that names the file, the command, its return code and
    output, the failing line of the candidate when the output names one, and where that line comes from
    (O(origin_regex)).
  - The result says whether anything changed (C(changed), only when bytes, owner, group or mode differ) and whether
    the change needs the daemon restarted (RV(restart_needed), see O(restart_when_changed)), so the role notifies its
    handlers on real changes only.
  - "The private directory is C(.NAME.config_build-XXXX) in the directory of O(dest); with O(check_dir=true) it is
    C(.DIR.config_build-XXXX) next to that directory and holds a copy of it. It is removed at the end of every run,
    whatever the outcome."
options:
  content:
    description:
      - The candidate content of O(dest), usually C("{{ lookup('ansible.builtin.template', 'NAME.j2') }}").
    type: str
    required: true
  dest:
    description:
      - The live file the candidate replaces (for example C(/etc/mail/sendmail.mc)). Its directory must exist.
      - O(owner), O(group) and O(mode) apply to it; not given, the live file's are kept (a new file gets root's and the
        umask's).
    type: path
    required: true
  extra_files:
    description:
      - Further rendered files checked and installed together with O(dest), for example a plugin C(.pre) file next to
        C(local.cf). Each must be in the directory of O(dest).
      - The check sees all of them in place; none is installed unless the check passes.
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: The live file, in the directory of the main O(dest).
        type: path
        required: true
      content:
        description: Its candidate content.
        type: str
        required: true
      owner:
        description: Owner of the installed file; default the live file's.
        type: str
      group:
        description: Group of the installed file; default the live file's.
        type: str
      mode:
        description: Mode of the installed file (octal string or symbolic); default the live file's.
        type: raw
  build:
    description:
      - A command that builds a second file from the candidate, for example C(m4) making C(sendmail.cf) of
        C(sendmail.mc). Its standard output is the built candidate; it runs in the directory of O(dest) as the module's
        user, C(%s) in O(build.argv) standing for the candidate of O(dest) and C(%d) for the private directory.
      - The built file is what O(check) tests, and it is installed with the candidate of O(dest) (C(changed) when its
        bytes differ from the live O(build.output)).
    type: dict
    suboptions:
      argv:
        description: The command and its arguments (no shell).
        type: list
        elements: str
        required: true
      output:
        description: The live file the build's output replaces, in the directory of O(dest).
        type: path
        required: true
      owner:
        description: Owner of the installed output; default the live file's.
        type: str
      group:
        description: Group of the installed output; default the live file's.
        type: str
      mode:
        description: Mode of the installed output (octal string or symbolic); default the live file's.
        type: raw
      stderr_fails:
        description:
          - Whether anything written to standard error fails the build even with return code 0. C(m4) reports an
            undefined macro or a missing include on standard error and still exits 0.
        type: bool
        default: true
  check:
    description:
      - The daemon's configuration test as a command and its arguments (no shell), run with standard input from
        C(/dev/null), C(LC_ALL=C), in the directory of O(dest).
      - C(%s) in an argument stands for the candidate to test (the built file when there is a O(build), else the
        candidate of O(dest)), C(%d) for the private directory (with O(check_dir=true) the copy of the live directory),
        C(%%) for a C(%).
      - A return code other than 0 fails the module (and so does output on standard error with
        O(check_stderr_fails=true)).
      - The check runs on every call, also when nothing differs and in check mode; it must not change live files.
    type: list
    elements: str
    required: true
  check_as:
    description:
      - Run the check as this user (with the user's groups, and C(HOME), C(USER), C(LOGNAME) set to the user's), for
        example the spamd user for C(spamassassin --lint). The private directory then gets the live directory's
        owner and mode, so the user reads the candidate as it reads the live files.
    type: str
  check_env:
    description: Environment variables set for the check, after those of O(check_as) (for example C(HOME)).
    type: dict
    default: {}
  check_dir:
    description:
      - Copy the whole live directory of O(dest) (files, links and subdirectories; owners and modes kept) into the
        private directory next to it and put the candidates in the copy, for checks that read a directory
        (C(spamassassin --lint --siteconfigpath=%d)).
    type: bool
    default: false
  check_stderr_fails:
    description: Whether output on standard error fails the check even with return code 0 (C(sendmail -bt)).
    type: bool
    default: false
  dir_edits:
    description:
      - With O(check_dir=true), line-by-line regular-expression replacements in the copies of the directory's other
        files (not O(dest), O(extra_files) or O(build.output)), like C(sed -E s/REGEXP/REPLACE/). A copy that an edit
        changed is checked with the candidate and installed with it, keeping its live owner and mode.
      - The spamassassin role comments out the C(loadplugin) lines of the stock C(*.pre) files for the plugins its own
        C(.pre) file decides about.
    type: list
    elements: dict
    default: []
    suboptions:
      glob:
        description: Shell pattern of the file names in the directory the edit applies to, for example C(*.pre).
        type: str
        required: true
      regexp:
        description: Python regular expression searched in each line (without its line end).
        type: str
        required: true
      replace:
        description: Replacement of each match; C(\1) and C(\g<name>) refer to the groups.
        type: str
        required: true
  restart_when_changed:
    description:
      - Regular expressions of the lines of O(dest) that the daemon reads only when it starts (for milter-greylist
        C(^(pidfile|socket|dumpfile|user)\s)). RV(restart_needed) is true when the lines of the live file and of the
        candidate that match differ.
      - Not given, RV(restart_needed) is true when the bytes of any installed file differ.
    type: list
    elements: str
  line_regex:
    description:
      - Regular expression whose first group is the line number in the output of a failing step.
      - Not given, the module looks in standard error, then standard output, for C(NAME:N), C(NAME line N) or
        C(NAME (line N)) (NAME the base name of the file the step read), then for any C(line N).
    type: str
  report_regex:
    description:
      - Regular expression of the lines of a failing check's standard error and output that the failure message
        quotes (C(sendmail -bt) prints its version and compile options before the errors); when no line matches, or
        not given, the message quotes the last 30 lines of each.
      - RV(check_stdout) and RV(check_stderr) always return the whole output.
    type: str
  origin_regex:
    description:
      - Regular expression of the marker lines a template writes before what each variable produces, its first group
        the variable's name (the sendmail and dovecot roles match their own C(# from) comments, which name the variable).
      - When a step fails naming a line, the message quotes the line and the nearest marker at or above it
        ("sendmail.mc line 212 'FEATURE(...)' comes from sendmail_mc_raw_end[0]"), and RV(origin) returns it.
    type: str
  fail_hint:
    description: Text added to the failure message, for example which variables to look at.
    type: str
    default: ""
  audit:
    description:
      - After the check passed, compare what the checked candidate holds (the built file when there is a O(build), else
        the candidate of O(dest)) with what the variables ask for; anything else fails the module naming the entry and
        its line, and nothing is installed. Runs in check mode too (it reads only the candidate).
      - "C(sendmail_cf) (a built C(sendmail.cf) or C(submit.cf)): the words of the relay class R (C(C{R}) and C(CR)
        lines), the files of class R (C(F{R}), C(FR)), the trusted users (C(T) lines, C(C{t}) and C(Ct) words, the
        C(TrustedUser) option), the files of class t (C(F{t}), C(Ft)), the mailers (C(M) lines) and the FEATUREs that
        widen relaying (C(promiscuous_relay), C(relay_entire_domain), C(relay_local_from), C(relay_mail_from),
        C(relay_based_on_MX), C(loose_relay_check), C(accept_unqualified_senders), C(accept_unresolvable_domains), found
        by the banner their m4 file writes). Lines are read as sendmail reads them (continuation lines, comments)."
      - "C(dovecot_conf): every setting, section and C(!include) by its path (C(service imap-login/inet_listener
        imaps/port)); the candidate must hold exactly O(audit.expect) C(entries) plus the entries of C(extra_config),
        each as often as listed. One more (C(login_trusted_networks = 0.0.0.0/0) after a value with a newline) or
        one fewer (swallowed by a value that ends in a backslash) fails."
      - When the audited file was built, the message also names the first line of the candidate of O(dest) that can
        make what appeared, and where it comes from (O(origin_regex)).
    type: dict
    suboptions:
      kind:
        description: Which auditor reads the candidate.
        type: str
        required: true
        choices: [sendmail_cf, dovecot_conf]
      expect:
        description:
          - "What the variables ask for. C(sendmail_cf) keys, each a list of strings, an absent key an empty list:
            C(relay_domains) (class R words), C(relay_files) (class R files), C(trusted_users) (class t words and the
            C(TrustedUser) option), C(trusted_files) (class t files), C(mailers) (C(MAILER) names, C(smtp) standing for
            smtp, esmtp, smtp8, dsmtp and relay, C(local) for local and prog; any other name for the C(M) definition of
            that name), C(relay_features) (FEATURE names) and C(mc_lines) (raw .mc lines: what their C(RELAY_DOMAIN),
            C(RELAY_DOMAIN_FILE), C(VIRTUSER_DOMAIN), C(MAILER), C(FEATURE), C(define(confTRUSTED_USERS)),
            C(define(confTRUSTED_USER)), C(define(confCR_FILE)), C(define(confCT_FILE)) and literal sendmail.cf lines
            make is expected too)."
          - "C(dovecot_conf) keys: C(entries) (a list of paths, one per occurrence, for example C(protocols),
            C(passdb), C(passdb/driver), C(namespace inbox/mailbox Drafts/special_use)) and C(extra_config) (raw
            dovecot.conf text whose entries are expected too)."
        type: dict
        default: {}
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.files
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
    details:
      - The candidate is built and checked in its private directory (which is removed again) and the result, diff and
        RV(restart_needed) are computed; no live file is written and no owner, group or mode is changed.
  diff_mode:
    support: full
    details:
      - Before and after of O(dest), and of each extra or edited file whose content differs; the built file is not
        shown (it follows from O(dest)).
  safe_file_operations:
    description: Uses Ansible's strict file operation functions to ensure proper permissions and avoid data corruption.
    support: full
  vault:
    description: Can automatically decrypt Ansible vaulted files.
    support: none
  platform:
    platforms: posix
notes:
  - Owner, group and mode of the candidates are those the files will have live, so the check sees them as the daemon
    will (C(sendmail.cf) of group C(smmsp)).
  - Several files are renamed into place one after the other (edited files, extra files, O(dest), the built file);
    each replacement is atomic, the set is not.
  - O(check_as) and the O(owner)/O(group) of the candidates need the module to run as root (C(become)), as the daemons'
    configuration does anyway.
seealso:
  - module: ansible.builtin.template
    description: Its O(ansible.builtin.template#module:validate) checks a single file; this module adds a build step,
      a check on a copy of the whole directory, a check as another user, several files and the origin of a failing line.
author:
  - Homelab Mailserver Developers (@homelab-mailserver)
"""

EXAMPLES = r"""
- name: Build sendmail.cf with m4, test it with sendmail -bt, then install sendmail.mc and sendmail.cf
  homelab.mailserver.config_build:
    content: "{{ lookup('ansible.builtin.template', 'sendmail.mc.j2') }}"
    dest: /etc/mail/sendmail.mc
    owner: root
    group: root
    mode: "0644"
    build:
      argv: [/usr/bin/m4, "%s"]
      output: /etc/mail/sendmail.cf
      owner: root
      group: smmsp
      mode: "0644"
    check: [/usr/sbin/sendmail, -C, "%s", -d0.1, -bt]
    check_stderr_fails: true
    origin_regex: "^dnl # from: (.+)$"
    fail_hint: check the sendmail_mc_raw_* lines and the variables named above
    audit:
      kind: sendmail_cf
      expect:
        relay_files: [/etc/mail/relay-domains]
        trusted_users: [root, daemon, uucp, smmta]
        trusted_files: [/etc/mail/trusted-users]
        mailers: [local, smtp]
        mc_lines: "{{ sendmail_mc_raw_features + sendmail_mc_raw_end }}"
  notify: Restart sendmail

- name: Lint local.cf and the plugin file with a copy of /etc/spamassassin, as the spamd user
  homelab.mailserver.config_build:
    content: "{{ lookup('ansible.builtin.template', 'local.cf.j2') }}"
    dest: /etc/spamassassin/local.cf
    mode: "0644"
    extra_files:
      - dest: /etc/spamassassin/homelab-plugins.pre
        content: "{{ lookup('ansible.builtin.template', 'homelab-plugins.pre.j2') }}"
        mode: "0644"
    check_dir: true
    dir_edits:
      - glob: "*.pre"
        regexp: '^([ \t]*loadplugin[ \t]+Mail::SpamAssassin::Plugin::TextCat\b.*)$'
        replace: '# loaded from homelab-plugins.pre when enabled: \1'
    check: [/usr/bin/spamassassin, --lint, -x, "--siteconfigpath=%d"]
    check_as: debian-spamd
    check_env: {HOME: /var/lib/spamassassin}
  notify: Reload spamd

- name: Check greylist.conf; restart only when the daemon's own settings change (it rereads the rest)
  homelab.mailserver.config_build:
    content: "{{ lookup('ansible.builtin.template', 'greylist.conf.j2') }}"
    dest: /etc/milter-greylist/greylist.conf
    mode: "0644"
    check: [/usr/sbin/milter-greylist, -c, -f, "%s"]
    restart_when_changed: ['^(pidfile|socket|dumpfile|user)\s']
  register: greylist_conf
  notify: Restart milter-greylist

- name: Show why a candidate failed without stopping the play
  homelab.mailserver.config_build:
    content: "{{ lookup('ansible.builtin.template', 'dovecot.conf.j2') }}"
    dest: /etc/dovecot/dovecot.conf
    check: [/usr/bin/doveconf, -n, -c, "%s"]
    origin_regex: '^\s*# from: (.+)$'
  register: dovecot_conf
  failed_when: false

- name: Print the origin of the failing line
  ansible.builtin.debug:
    msg: "line {{ dovecot_conf.line }} comes from {{ dovecot_conf.origin }}"
  when: dovecot_conf.failed_step is defined
"""

RETURN = r"""
changed_files:
  description: The live files replaced, or whose owner, group or mode was set (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [/etc/mail/sendmail.mc, /etc/mail/sendmail.cf]
restart_needed:
  description:
    - Whether the daemon must be restarted to use the change; see O(restart_when_changed). False when nothing differs.
  returned: success
  type: bool
  sample: true
checked:
  description: Whether the check (and the audit) ran; false when no candidate differs from its live file.
  returned: always
  type: bool
  sample: true
check_rc:
  description: Return code of the check; null when a failing build kept it from running or nothing differed.
  returned: always
  type: int
  sample: 0
check_stdout:
  description: Standard output of the check (paths in the private directory as they were).
  returned: always
  type: str
  sample: "ADDRESS TEST MODE (ruleset 3 NOT automatically invoked)"
check_stderr:
  description: Standard error of the check.
  returned: always
  type: str
  sample: ""
build_rc:
  description: Return code of the build.
  returned: when O(build) is given and it ran
  type: int
  sample: 0
build_stderr:
  description: Standard error of the build.
  returned: when O(build) is given and it ran
  type: str
  sample: "m4:/etc/mail/.sendmail.mc.config_build-k2j3/sendmail.mc:212: cannot open `feature/nope.m4'"
failed_step:
  description: V(build), V(check) or V(audit), the step that rejected the candidate.
  returned: failure of a step
  type: str
  sample: build
line:
  description:
    - The line of the file the failing step read (the candidate of O(dest) for the build or a check without build, the
      built file for a check or an audit after a build) that its output names, or of the first entry a failing audit
      names; 0 when none.
  returned: always
  type: int
  sample: 212
origin:
  description:
    - The O(origin_regex) group of the nearest marker at or above RV(line); empty when none.
    - For a failing audit of a built file, the marker above the line of the candidate of O(dest) that made what
      appeared.
  returned: always
  type: str
  sample: sendmail_mc_raw_end[0]
audit:
  description: What the audit found that the variables do not ask for, one sentence each; empty when it passed.
  returned: when O(audit) is given and the check passed
  type: list
  elements: str
  sample: ["relay class R entry 'com' (sendmail.cf line 157 'C{R}com')"]
diff:
  description: Before and after of O(dest) and of the extra and edited files whose content differs.
  returned: in diff mode, success
  type: list
  elements: dict
msg:
  description: What was installed, or why the candidate was rejected.
  returned: always
  type: str
  sample: "installed /etc/mail/sendmail.mc, /etc/mail/sendmail.cf"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.mailserver.plugins.module_utils._config_build import ConfigBuild, argument_spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, add_file_common_args=True)
    ConfigBuild(module).main()


if __name__ == "__main__":
    main()

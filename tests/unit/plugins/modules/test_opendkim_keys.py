"""opendkim_keys end to end against tmp_path, with a fake opendkim-genkey, as the current user."""

import grp
import json
import os
import pwd
import sys
from pathlib import Path

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.mailserver.plugins.filter.mail_dns import mail_dkim_txt
from ansible_collections.homelab.mailserver.plugins.modules import opendkim_keys

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name
SECRET = "FAKE-PRIVATE-KEY-MATERIAL"

# Writes SELECTOR.private and SELECTOR.txt into -D as opendkim-genkey 2.11 (a Perl script) does:
# umask 077, the record's strings split after the tags and every 250 characters of the key data,
# then the "----- DKIM key" comment; a failing openssl leaves SELECTOR.private behind.
FAKE_GENKEY = """\
#!{python}
import base64, os, sys
os.umask(0o077)
args = sys.argv[1:]
opts = {{}}
while args:
    a = args.pop(0)
    if a == "-r":
        opts["-r"] = True
    else:
        opts[a] = args.pop(0)
with open({log!r}, "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
domain, selector, outdir = opts["-d"], opts["-s"], opts["-D"]
private = os.path.join(outdir, selector + ".private")
txt = os.path.join(outdir, selector + ".txt")
with open(private, "w") as f:
    f.write("-----BEGIN PRIVATE KEY-----\\n{secret} " + os.urandom(8).hex() + "\\n-----END PRIVATE KEY-----\\n")
if domain in {fail_domains!r}:
    sys.stderr.write("opendkim-genkey: openssl exited with status 1\\n")
    sys.exit(1)
if {race!r}:  # another writer puts a key in place while this one is generated
    with open(os.path.join(os.path.dirname(outdir), selector + ".private"), "w") as f:
        f.write("THE OTHER KEY\\n")
p = base64.b64encode(domain.encode() * 2 + os.urandom(270)).decode()
tags = "v=DKIM1; h=sha256; k=rsa; " + ("s=email; " if "-r" in opts else "")
parts = [p[i:i + 250] for i in range(0, len(p), 250)]
body = '"' + tags + '"\\n' + "\\n".join('\\t  "' + ("p=" if i == 0 else "") + s + '"' for i, s in enumerate(parts))
with open(txt, "w") as f:
    f.write(selector + "._domainkey\\tIN\\tTXT\\t( " + body + " )  ; ----- DKIM key " + selector + " for " + domain + "\\n")
"""


def write_genkey(directory, name, fail_domains=(), race=False):
    tool = Path(directory) / name
    log = Path(directory) / (name + ".log")
    tool.write_text(FAKE_GENKEY.format(python=sys.executable, log=str(log), secret=SECRET,
                                       fail_domains=list(fail_domains), race=race))
    tool.chmod(0o755)
    return str(tool), log


def mode(path):
    return Path(path).stat().st_mode & 0o7777


def snapshot(root):
    """Every path under ROOT with its mode, inode, mtime and content (files)."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        st = path.lstat()
        out[str(path)] = (st.st_mode, st.st_ino, st.st_mtime_ns, path.read_bytes() if path.is_file() else None)
    return out


@pytest.fixture
def keys(tmp_path, run_module):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    genkey, log = write_genkey(bindir, "opendkim-genkey")
    root = tmp_path / "dkimkeys"
    root.mkdir(mode=0o700)

    def key(domain, selector="mail"):
        folder = root / domain
        return {"domain": domain, "selector": selector, "dir": str(folder),
                "private": str(folder / f"{selector}.private"), "txt": str(folder / f"{selector}.txt")}

    def run(domains=("my-site.com", "another-site.com"), check=False, diff=False, **kw):
        args = {"keys": [key(d) if isinstance(d, str) else d for d in domains], "user": USER, "group": GROUP,
                "genkey": genkey, "bits": 2048, **kw}
        result = run_module(opendkim_keys, args, check=check, diff=diff)
        assert SECRET not in json.dumps(result)  # no private key material in any output, ever
        return result

    run.root, run.key, run.bindir = root, key, bindir
    run.calls = lambda: log.read_text().splitlines() if log.exists() else []
    return run


def test_first_run_generates_every_key_with_its_modes_and_returns_the_records(keys):
    r = keys()
    assert r["changed"] and r["generated"] == ["my-site.com", "another-site.com"] and r["missing"] == []
    calls = keys.calls()
    assert len(calls) == 2 and calls[0].startswith("-b 2048 -h sha256 -r -d my-site.com -s mail -D ")
    for domain in ("my-site.com", "another-site.com"):
        folder = keys.root / domain
        assert sorted(os.listdir(folder)) == ["mail.private", "mail.txt"]  # no temporary directory left
        assert mode(folder) == 0o700 and mode(folder / "mail.private") == 0o600 and mode(folder / "mail.txt") == 0o644
        st = (folder / "mail.private").stat()
        assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
        assert r["dns_keys"][domain] == {"selector": "mail", "value": mail_dkim_txt((folder / "mail.txt").read_text())}
    entry = r["key_results"][0]
    assert entry["name"] == "mail._domainkey.my-site.com" and entry["state"] == "generated"
    assert entry["changes"] == [f"created directory {keys.root}/my-site.com", "key generated"]
    assert entry["value"] == r["dns_keys"]["my-site.com"]["value"]


def test_second_run_changes_nothing_and_runs_no_command(keys):
    first = keys()
    before = snapshot(keys.root)
    r = keys(diff=True)
    assert not r["changed"] and r["generated"] == [] and "diff" not in r
    assert [k["state"] for k in r["key_results"]] == ["present", "present"] and all(k["changes"] == [] for k in r["key_results"])
    assert r["dns_keys"] == first["dns_keys"]
    assert len(keys.calls()) == 2  # the first run's two
    assert snapshot(keys.root) == before


def test_an_existing_key_is_never_replaced(keys):
    keys(["my-site.com"])
    private = keys.root / "my-site.com" / "mail.private"
    private.write_text("THE KEY IN USE\n")
    r = keys(["my-site.com"], bits=4096)  # another key size does not regenerate it either
    assert not r["changed"] and r["key_results"][0]["state"] == "present"
    assert private.read_text() == "THE KEY IN USE\n" and len(keys.calls()) == 1


def test_a_key_that_appears_during_generation_is_kept(keys, tmp_path):
    racer, _log = write_genkey(keys.bindir, "genkey-race", race=True)
    r = keys(["my-site.com"], genkey=racer)
    assert r["failed"] and "my-site.com:" in r["msg"] and "was kept" in r["msg"]
    folder = keys.root / "my-site.com"
    assert (folder / "mail.private").read_text() == "THE OTHER KEY\n"
    assert sorted(os.listdir(folder)) == ["mail.private"]  # the generated pair was thrown away


def test_a_stale_record_without_its_key_is_replaced_by_the_new_keys(keys):
    folder = keys.root / "my-site.com"
    folder.mkdir(mode=0o700)
    (folder / "mail.txt").write_text('mail._domainkey IN TXT ( "v=DKIM1; k=rsa; p=OLD" )\n')
    r = keys(["my-site.com"])
    assert r["key_results"][0]["state"] == "generated"
    assert "p=OLD" not in (folder / "mail.txt").read_text() and r["dns_keys"]["my-site.com"]["value"] != "v=DKIM1; k=rsa; p=OLD"


def test_wrong_modes_are_fixed_and_shown_in_the_diff(keys):
    keys()
    folder = keys.root / "my-site.com"
    folder.chmod(0o755)
    (folder / "mail.private").chmod(0o644)
    (folder / "mail.txt").chmod(0o600)
    r = keys(diff=True)
    assert r["changed"] and r["generated"] == [] and len(keys.calls()) == 2
    assert r["key_results"][0]["changes"] == [f"mode of {folder} 0755 -> 0700",
                                              f"mode of {folder}/mail.private 0644 -> 0600",
                                              f"mode of {folder}/mail.txt 0600 -> 0644"]
    assert r["key_results"][1]["changes"] == []
    assert mode(folder) == 0o700 and mode(folder / "mail.private") == 0o600 and mode(folder / "mail.txt") == 0o644
    assert f"{folder}/mail.private: 0644 {USER}:{GROUP}" in r["diff"]["before"]
    assert f"{folder}/mail.private: 0600 {USER}:{GROUP}" in r["diff"]["after"]
    assert not keys()["changed"]


def test_check_mode_writes_nothing_and_reports_the_keys_it_would_generate(keys):
    before = snapshot(keys.root)
    r = keys(check=True, diff=True)
    assert r["changed"] and r["generated"] == ["my-site.com", "another-site.com"]
    assert r["dns_keys"] == {} and [k["value"] for k in r["key_results"]] == [None, None]
    assert "my-site.com mail: no key" in r["diff"]["before"]
    assert "my-site.com mail: key generated" in r["diff"]["after"]
    assert snapshot(keys.root) == before and keys.calls() == []


def test_check_mode_reports_a_wrong_mode_without_fixing_it(keys):
    keys()
    private = keys.root / "my-site.com" / "mail.private"
    private.chmod(0o640)
    before = snapshot(keys.root)
    r = keys(check=True)
    assert r["changed"] and r["key_results"][0]["changes"] == [f"mode of {private} 0640 -> 0600"]
    assert r["dns_keys"]["my-site.com"]["value"].startswith("v=DKIM1")
    assert snapshot(keys.root) == before


def test_check_mode_tolerates_a_user_and_genkey_an_earlier_task_would_install(keys, tmp_path, monkeypatch):
    # record warnings directly: where they end up depends on whether controller code was imported in this process
    warned = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, msg, **kw: warned.append(msg))
    r = keys(["my-site.com"], check=True, user="no-such-opendkim-user", group=None,
             genkey=str(tmp_path / "missing-genkey"))
    assert r["changed"] and r["generated"] == ["my-site.com"]
    assert any("user no-such-opendkim-user" in w for w in warned) and any("missing-genkey not found" in w for w in warned)
    assert not (keys.root / "my-site.com").exists()


def test_unknown_user_fails_before_any_change(keys):
    r = keys(user="no-such-opendkim-user")
    assert r["failed"] and "user no-such-opendkim-user not found" in r["msg"]
    assert os.listdir(keys.root) == [] and keys.calls() == []


def test_generate_false_reads_what_exists_and_reports_the_missing(keys):
    keys(["my-site.com"])
    (keys.root / "my-site.com" / "mail.private").chmod(0o644)
    before = snapshot(keys.root)
    r = keys(generate=False, missing_ok=True, user=None, group=None)
    assert not r["changed"] and r["missing"] == ["another-site.com"] and r["generated"] == []
    assert list(r["dns_keys"]) == ["my-site.com"] and r["key_results"][1]["state"] == "missing"
    assert snapshot(keys.root) == before and len(keys.calls()) == 1  # nothing created, fixed or generated
    r = keys(generate=False, user=None)
    assert r["failed"] and r["msg"] == "no DKIM key record for another-site.com (missing_ok is false)"
    assert r["missing"] == ["another-site.com"] and list(r["dns_keys"]) == ["my-site.com"]


def test_a_record_missing_next_to_its_key_is_not_regenerated(keys):
    keys(["my-site.com"])
    (keys.root / "my-site.com" / "mail.txt").unlink()
    r = keys(["my-site.com"])
    assert r["failed"] and r["missing"] == ["my-site.com"] and len(keys.calls()) == 1
    assert keys(["my-site.com"], missing_ok=True)["dns_keys"] == {}


def test_txt_strings_are_joined_into_the_record_value(keys):
    folder = keys.root / "my-site.com"
    folder.mkdir(mode=0o700)
    (folder / "mail.private").write_text("x")
    (folder / "mail.private").chmod(0o600)
    p = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "x" * 250 + "IDAQAB"
    text = ('mail._domainkey\tIN\tTXT\t( "v=DKIM1; h=sha256; k=rsa; s=email; "\n'
            f'\t  "p={p[:250]}"\n\t  "{p[250:]}" )  ; ----- DKIM key mail for my-site.com\n')
    (folder / "mail.txt").write_text(text)
    r = keys(["my-site.com"])
    assert r["dns_keys"]["my-site.com"]["value"] == "v=DKIM1; h=sha256; k=rsa; s=email; p=" + p == mail_dkim_txt(text)
    assert r["key_results"][0]["name"] == "mail._domainkey.my-site.com"


def test_a_txt_without_a_dkim_record_fails_naming_the_domain(keys):
    folder = keys.root / "my-site.com"
    folder.mkdir(mode=0o700)
    (folder / "mail.private").write_text("x")
    (folder / "mail.txt").write_text('mail._domainkey IN TXT ( "v=spf1 -all" )\n')
    r = keys(["my-site.com"], generate=False)
    assert r["failed"] and r["msg"].startswith("my-site.com: ") and "holds no DKIM record" in r["msg"]


def test_a_failing_genkey_leaves_no_partial_files_and_names_the_domain(keys):
    failing, _log = write_genkey(keys.bindir, "genkey-fail", fail_domains=["another-site.com"])
    r = keys(genkey=failing)
    assert r["failed"] and r["changed"]
    assert r["msg"].startswith("another-site.com: opendkim-genkey failed (rc=1)") and "openssl exited" in r["msg"]
    assert [k["state"] for k in r["key_results"]] == ["generated", "failed"] and list(r["dns_keys"]) == ["my-site.com"]
    assert os.listdir(keys.root / "another-site.com") == []  # neither the key nor the temporary directory
    assert sorted(os.listdir(keys.root / "my-site.com")) == ["mail.private", "mail.txt"]
    assert keys()["generated"] == ["another-site.com"]  # the next run with a working genkey makes it


def test_missing_genkey_fails_before_any_change(keys, tmp_path):
    r = keys(genkey=str(tmp_path / "nowhere" / "opendkim-genkey"))
    assert r["failed"] and "not found or not executable" in r["msg"] and os.listdir(keys.root) == []


def test_missing_parent_directories_are_created_private(keys, tmp_path):
    folder = tmp_path / "new" / "keys" / "my-site.com"
    key = {"domain": "my-site.com", "selector": "s2025", "dir": str(folder)}
    r = keys([key])
    assert r["dns_keys"]["my-site.com"]["selector"] == "s2025" and (folder / "s2025.private").exists()
    assert mode(tmp_path / "new") == mode(tmp_path / "new" / "keys") == mode(folder) == 0o700


@pytest.mark.parametrize(("key", "message"), [
    ({"domain": "my-site.com", "selector": "../x", "dir": "/k/my-site.com"}, "keys[0].selector: '../x' is not valid: a DKIM selector"),
    ({"domain": "my-site.com", "selector": "mail", "dir": "k/my-site.com"}, "keys[0].dir: 'k/my-site.com' is not valid: an absolute path"),
    ({"domain": "my site.com", "selector": "mail", "dir": "/k/x"}, "keys[0].domain: 'my site.com' is not valid: a domain name"),
    ({"domain": "my-site.com", "selector": "mail", "dir": "/k/my-site.com", "private": "/k/other.private"},
     "keys[0].private: '/k/other.private' is not valid: /k/my-site.com/mail.private"),
])
def test_invalid_keys_fail_before_any_change(keys, key, message):
    r = keys([key])
    assert r["failed"] and message in r["msg"] and keys.calls() == []


def test_a_domain_given_twice_is_refused(keys):
    r = keys(["my-site.com", keys.key("my-site.com", "other")])
    assert r["failed"] and "keys[1].domain: 'my-site.com' is not valid: a domain given once" in r["msg"] and os.listdir(keys.root) == []


def test_restricted_false_and_bits_reach_genkey(keys):
    r = keys(["my-site.com"], restricted=False, bits=1024)
    assert keys.calls()[0].startswith("-b 1024 -h sha256 -d my-site.com -s mail -D ")
    assert "s=email" not in r["dns_keys"]["my-site.com"]["value"]


def test_a_missing_parent_is_planned_once_in_check_mode(keys):
    keys.root.rmdir()
    r = keys(check=True, diff=True)
    assert r["key_results"][0]["changes"][0] == f"created directory {keys.root}"
    assert r["key_results"][1]["changes"] == [f"created directory {keys.root}/another-site.com", "key generated"]
    assert r["diff"]["before"].count(f"{keys.root}: absent") == 1 and not keys.root.exists()

"""A plain Debian host converged from inventories/example: mail arrives,
sendmail alone holds the SMTP ports, and no other MTA got in."""

import json
import pathlib
import subprocess
import uuid

PASSWORD = "paul-plain-host"  # tests/plain_host/inventory/host_vars/bigboy.trixie.yml
EXCHANGE = pathlib.Path(__file__).parent / "files" / "mail_exchange.py"
OTHER_MTAS = ("postfix", "exim4-base", "exim4-daemon-light", "exim4-daemon-heavy", "opensmtpd", "nullmailer")


def test_mail_sent_on_port_25_is_fetched_over_imaps_with_the_users_password(host):
    subprocess.run(["podman", "cp", str(EXCHANGE), f"{host.backend.name}:/root/mail_exchange.py"], check=True)
    token = "ph-" + uuid.uuid4().hex[:12]
    out = host.run(f"python3 /root/mail_exchange.py {token} {PASSWORD}")
    assert out.rc == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["mail"][0] == 250 and result["rcpt"][0] == 250 and result["data"][0] == 250, result
    assert result["found"] and result["body_has_token"], result
    # delivered through procmail and spamc, as the example's SpamAssassin wiring says
    assert result["spam_checked"], result
    assert "AUTHENTICATIONFAILED" in result["wrong_password"] or "failed" in result["wrong_password"].lower(), result


def test_no_other_mail_server_is_installed_or_running(host):
    out = host.run("dpkg-query --show --showformat='${Package} ${db:Status-Abbrev}\\n' " + " ".join(OTHER_MTAS))
    installed = [line.split()[0] for line in out.stdout.splitlines() if len(line.split()) > 1
                 and line.split()[1][1:2] not in ("n", "c")]
    assert installed == [], out.stdout
    procs = host.run("ps -eo comm=").stdout.split()
    assert not {"master", "exim4", "smtpd", "nullmailer-send"} & set(procs), procs


def test_sendmail_alone_holds_ports_25_and_587(host):
    out = host.run("ss -ltnpH")
    lines = [line for line in out.stdout.splitlines() if line.split()[3].rsplit(":", 1)[-1] in ("25", "587")]
    ports = {line.split()[3].rsplit(":", 1)[-1] for line in lines}
    assert ports == {"25", "587"}, out.stdout
    assert all('"sendmail-mta"' in line for line in lines), out.stdout


def test_sendmail_never_failed_to_bind(host):
    out = host.run("journalctl --no-pager -q -o cat -u sendmail.service")
    assert "cannot bind" not in out.stdout, out.stdout[-3000:]

"""What the doctor's check tests share: files with a given age, fake and real command runners, a fake SMTP
server on 127.0.0.1, and the DNS records of my-site.com as mail_dns_records builds them."""

import os
import socketserver
import subprocess
import threading

import pytest
from ansible_collections.homelab.mailserver.plugins.filter.mail_dns import mail_dns_records

FQDN = "bigboy.my-site.com"
KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAz" + "k" * 300 + "IDAQAB"
OTHER_KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAz" + "q" * 300 + "IDAQAB"


def write(path, text="", age=0):
    """Write TEXT to PATH with an mtime AGE seconds in the past."""
    path.write_text(text)
    when = 1_700_000_000 - age
    os.utime(path, (when, when))
    return str(path)


def fake_run(replies):
    """A `run` that answers from REPLIES (argv tuple or its last word -> (rc, out, err)) and records calls."""
    calls = []

    def run(argv, data=None):
        calls.append((list(argv), data))
        for key in (tuple(argv), argv[-1]):
            if key in replies:
                return replies[key]
        return 1, "", "unknown command %s" % argv

    run.calls = calls
    return run


def real_run(argv, data=None):
    done = subprocess.run(argv, input=data, capture_output=True, text=True, check=False, timeout=60)
    return done.returncode, done.stdout, done.stderr


# ---------------------------------------------------------------- SMTP
class SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP: the server's `state` says the banner and the RCPT answer; commands are recorded."""

    def handle(self):
        state = self.server.state
        state["peers"].append(self.client_address[0])
        self.wfile.write(state["banner"].encode() + b"\r\n")
        while True:
            line = self.rfile.readline().decode().strip()
            if not line:
                return
            state["commands"].append(line)
            verb = line.split(" ", 1)[0].split(":", 1)[0].upper()
            reply = {
                "EHLO": "250-mail.my-site.com Hello\r\n250 HELP",
                "MAIL": state["mail"],
                "RCPT": state["rcpt"],
                "RSET": "250 2.0.0 Reset state",
                "DATA": "354 Enter mail",
                "QUIT": "221 2.0.0 closing connection",
            }.get(verb, "500 5.5.1 Command unrecognized")
            self.wfile.write(reply.encode() + b"\r\n")
            if verb == "QUIT":
                return


@pytest.fixture
def smtp_server():
    """(state, port) of a fake SMTP server on 127.0.0.1 for one test."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SmtpHandler)
    server.daemon_threads = True
    server.state = {
        "banner": "220 mail.my-site.com ESMTP Sendmail ready",
        "mail": "250 2.1.0 <>... Sender ok",
        "rcpt": "550 5.7.1 <relay-test@relay-probe.invalid>... Relaying denied",
        "commands": [],
        "peers": [],
    }
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.state, server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


def closed_port():
    """A port of 127.0.0.1 on which nothing listens (any more)."""
    with socketserver.TCPServer(("127.0.0.1", 0), SmtpHandler) as closed:
        return closed.server_address[1]


# ---------------------------------------------------------------- system mail
# FEATURE(msp)'s last rule as msp.m4 writes it: $M after masquerade_envelope, else $j
MSP_RULE = "SLocal_localaddr\nR$+\t\t\t$: $>ParseRecipient $1\nR$* < @ $+ > $*\t\t$#relay $@ ${MTAHost} $: $1 < @ $2 > $3\n"
MASQUERADING_MSP = "DMmy-site.com\n" + MSP_RULE + "R$*\t\t\t$#relay $@ ${MTAHost} $: $1 < @ $M >\n"
LOCAL_MSP = "DMmy-site.com\n" + MSP_RULE + "R$*\t\t\t$#relay $@ ${MTAHost} $: $1 < @ $j >\n"
VIRTUSERTABLE = """# the chapter's, and the example inventory's routes
marc@my-site.com\tmarc
webmaster@my-site.com\twebmasters
postmaster@my-site.com\tpostmaster
@another-site.com\tmarc
@my-site.com\terror:nouser User unknown
"""
ALIASES = """# Basic system aliases -- these MUST be present.
mailer-daemon:\tpostmaster
postmaster:\troot
# Person who should get root's mail
root:\t\tmarc,webmaster@my-site.com
admin-list:\t":include:/home/mailings/admin-list"
webmasters:\twebmaster
"""


# ---------------------------------------------------------------- DNS
def expected_records(**args):
    """What mail_dns_records builds for my-site.com on bigboy (192.0.2.25), as playbooks/verify.yml passes it."""
    dkim = {"my-site.com": {"selector": "mail", "value": "v=DKIM1; h=sha256; k=rsa; s=email; p=" + KEY}}
    return mail_dns_records(["my-site.com"], server="bigboy.my-site.com", addresses=["192.0.2.25"], dkim=dkim,
                            **args)


def serve(fake, records):
    """Put RECORDS in the fake name server's zone, as a DNS admin would publish them."""
    fake.zone.clear()
    for record in records:
        name, rtype, value = record["name"].rstrip(".").lower(), record["type"], record["value"]
        if rtype == "MX":
            value = (int(value.split()[0]), value.split()[1])
        elif rtype == "TXT":
            value = record["strings"]
        fake.zone.setdefault((name, rtype), []).append(value)

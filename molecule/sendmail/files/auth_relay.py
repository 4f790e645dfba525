"""A minimal authenticating relay for tests: plays the provider's relay.provider.example on
127.0.0.12:587. It offers STARTTLS, and AUTH PLAIN and LOGIN only once TLS is on; it refuses
MAIL before a login (530 5.7.0) and a wrong login (535 5.7.8). The one login it takes is the
line "user:password" of /etc/auth-relay/users (prepare.yml, from vars/loopback.yml).

Each accepted message is stored under /var/tmp/auth-relay/ (X-Envelope-From, X-Envelope-To,
X-Auth-User, X-Auth-Mechanism and X-TLS-Version lines first); every login attempt is a line of
/var/tmp/auth-relay/auth.log (the user, the mechanism and the answer, never the password).
"""

import base64
import binascii
import os
import socketserver
import ssl
import time

OUT = "/var/tmp/auth-relay"
USERS = "/etc/auth-relay/users"
CERT = "/etc/auth-relay/relay.crt"
KEY = "/etc/auth-relay/relay.key"
NAME = "relay.provider.example"


def b64(text):
    return base64.b64encode(text.encode()).decode()


def unb64(text):
    try:
        return base64.b64decode(text.strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        self.sock = self.request
        self.rfile = self.sock.makefile("rb")
        self.tls = None
        self.user = None
        self.mechanism = None

    def finish(self):
        self.rfile.close()

    def reply(self, text):
        self.sock.sendall((text + "\r\n").encode())

    def readline(self):
        line = self.rfile.readline()
        return None if not line else line.decode("utf-8", "replace").rstrip("\r\n")

    def log_auth(self, user, mechanism, answer):
        with open(os.path.join(OUT, "auth.log"), "a", encoding="utf-8") as handle:
            handle.write(f"user={user} mechanism={mechanism} tls={self.tls} answer={answer}\n")

    def starttls(self):
        self.reply("220 2.0.0 Ready to start TLS")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(CERT, KEY)
        self.rfile.close()
        self.sock = context.wrap_socket(self.request, server_side=True)
        self.rfile = self.sock.makefile("rb")
        self.tls = self.sock.version()

    def auth(self, args):
        """AUTH PLAIN [initial] or AUTH LOGIN [initial]: (user, password), or None when cancelled."""
        mechanism = args[0].upper() if args else ""
        initial = args[1] if len(args) > 1 else None
        if mechanism == "PLAIN":
            if initial is None:
                self.reply("334 ")
                initial = self.readline()
            decoded = unb64("" if initial in (None, "=") else initial)
            if initial == "*" or decoded is None or decoded.count("\0") != 2:
                return mechanism, None
            _authzid, user, password = decoded.split("\0")
            return mechanism, (user, password)
        if mechanism == "LOGIN":
            if initial is None:
                self.reply("334 " + b64("Username:"))
                initial = self.readline()
            user = unb64(initial or "")
            if initial == "*" or user is None:
                return mechanism, None
            self.reply("334 " + b64("Password:"))
            answer = self.readline()
            password = unb64(answer or "")
            if answer == "*" or password is None:
                return mechanism, None
            return mechanism, (user, password)
        return mechanism, False

    def handle(self):
        self.reply(f"220 {NAME} ESMTP test relay")
        sender, rcpts = None, []
        while True:
            cmd = self.readline()
            if cmd is None:
                return
            upper = cmd.upper()
            words = cmd.split()
            if upper.startswith(("EHLO", "HELO")):
                lines = [NAME]
                if self.tls:
                    lines.append("AUTH PLAIN LOGIN")
                else:
                    lines.append("STARTTLS")
                lines.append("8BITMIME")
                for line in lines[:-1]:
                    self.reply("250-" + line)
                self.reply("250 " + lines[-1])
            elif upper == "STARTTLS":
                if self.tls:
                    self.reply("503 5.5.1 TLS already active")
                    continue
                try:
                    self.starttls()
                except (OSError, ssl.SSLError):
                    return
                sender, rcpts, self.user = None, [], None
            elif upper.startswith("AUTH"):
                if not self.tls:
                    self.reply("538 5.7.11 Encryption required for requested authentication mechanism")
                elif self.user:
                    self.reply("503 5.5.1 Already authenticated")
                else:
                    mechanism, login = self.auth(words[1:])
                    if login is False:
                        self.reply("504 5.5.4 Unrecognized authentication type")
                    elif login is None:
                        self.log_auth("-", mechanism, "501")
                        self.reply("501 5.5.2 Authentication cancelled")
                    elif login == self.expected():
                        self.user, self.mechanism = login[0], mechanism
                        self.log_auth(login[0], mechanism, "235")
                        self.reply("235 2.7.0 Authentication successful")
                    else:
                        self.log_auth(login[0], mechanism, "535")
                        self.reply("535 5.7.8 Authentication credentials invalid")
            elif upper.startswith("MAIL FROM:"):
                if not self.user:
                    self.reply("530 5.7.0 Authentication required")
                    continue
                sender, rcpts = cmd[10:].strip().split(" ")[0], []
                self.reply("250 2.1.0 ok")
            elif upper.startswith("RCPT TO:"):
                if sender is None:
                    self.reply("503 5.5.1 MAIL first")
                    continue
                rcpts.append(cmd[8:].strip().split(" ")[0])
                self.reply("250 2.1.5 ok")
            elif upper == "DATA":
                if sender is None or not rcpts:
                    self.reply("503 5.5.1 RCPT first")
                    continue
                self.reply("354 go ahead")
                data = []
                while True:
                    chunk = self.rfile.readline()
                    if not chunk or chunk in (b".\r\n", b".\n"):
                        break
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                self.store(sender, rcpts, data)
                sender, rcpts = None, []
                self.reply("250 2.0.0 queued")
            elif upper == "RSET":
                sender, rcpts = None, []
                self.reply("250 2.0.0 ok")
            elif upper == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            elif upper == "NOOP":
                self.reply("250 2.0.0 ok")
            else:
                self.reply("502 5.5.2 command not implemented")

    @staticmethod
    def expected():
        with open(USERS, encoding="utf-8") as handle:
            user, _sep, password = handle.readline().rstrip("\n").partition(":")
        return (user, password)

    def store(self, sender, rcpts, data):
        name = os.path.join(OUT, "%d.eml" % time.time_ns())
        head = "X-Envelope-From: {}\r\nX-Envelope-To: {}\r\nX-Auth-User: {}\r\nX-Auth-Mechanism: {}\r\nX-TLS-Version: {}\r\n"
        with open(name + ".tmp", "wb") as handle:
            handle.write(head.format(sender, " ".join(rcpts), self.user, self.mechanism, self.tls).encode())
            handle.writelines(data)
        os.rename(name + ".tmp", name)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    Server(("127.0.0.12", 587), Handler).serve_forever()

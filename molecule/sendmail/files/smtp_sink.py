"""A minimal SMTP server for tests: accepts everything on 127.0.0.3:25 as
"remote.example" and stores each message, with its envelope, under
/var/tmp/smtp-sink/ (X-Envelope-From / X-Envelope-To lines first)."""

import os
import socketserver
import time

OUT = "/var/tmp/smtp-sink"


class Handler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write((text + "\r\n").encode())

    def handle(self):
        self.reply("220 remote.example ESMTP test sink")
        sender, rcpts = "", []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            upper = cmd.upper()
            if upper.startswith(("EHLO", "HELO")):
                self.reply("250 remote.example")
            elif upper.startswith("MAIL FROM:"):
                sender, rcpts = cmd[10:].split(" ")[0].strip(), []
                self.reply("250 2.1.0 ok")
            elif upper.startswith("RCPT TO:"):
                rcpts.append(cmd[8:].split(" ")[0].strip())
                self.reply("250 2.1.5 ok")
            elif upper == "DATA":
                self.reply("354 go ahead")
                data = []
                while True:
                    chunk = self.rfile.readline()
                    if not chunk or chunk in (b".\r\n", b".\n"):
                        break
                    # undo the client's dot-stuffing (RFC 5321 4.5.2): signatures cover the real body
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                name = os.path.join(OUT, "%d.eml" % time.time_ns())
                with open(name + ".tmp", "wb") as handle:
                    handle.write(("X-Envelope-From: {}\r\nX-Envelope-To: {}\r\n".format(sender, " ".join(rcpts))).encode())
                    handle.writelines(data)
                os.rename(name + ".tmp", name)
                self.reply("250 2.0.0 queued")
            elif upper == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            else:
                self.reply("250 ok")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    Server(("127.0.0.3", 25), Handler).serve_forever()

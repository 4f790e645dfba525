"""Per-client connection limits (sendmail_client_rate_limit 20, sendmail_client_connection_limit 3, the test
clients of 127.0.0.0/24 exempt: vars/loopback.yml): sendmail answers 421 at connect beyond a limit and closes.

  - 127.0.1.21 holds three connections open; a fourth is refused, and once they close it is served again;
  - 127.0.1.20 opens connections one after the other: the first 20 in the window are served, then refused;
  - 127.0.0.1 (exempt) holds five connections at once.
"""

import json
import os
import sys
import textwrap
import time

sys.path.insert(0, os.path.dirname(__file__))
from test_sendmail import quote  # noqa: E402

# Opens COUNT connections to 127.0.0.1:25 from SRC, holding each open (hold) or closing each after its
# greeting; prints every greeting's code and text, or the refusal.
CLIENT = textwrap.dedent("""\
    import json, socket, sys
    args = json.loads(sys.argv[1])
    held, out = [], []
    for _ in range(args["count"]):
        s = socket.create_connection(("127.0.0.1", 25), timeout=30, source_address=(args["src"], 0))
        line = s.makefile("rb").readline().decode(errors="replace").strip()
        out.append(line)
        if args["hold"] and line.startswith("220"):
            held.append(s)
        else:
            s.sendall(b"QUIT\\r\\n")
            s.close()
    for s in held:
        s.sendall(b"QUIT\\r\\n")
        s.close()
    print(json.dumps(out))
""")


def greetings(host, src, count, hold):
    args = json.dumps({"src": src, "count": count, "hold": hold})
    result = host.run(f"python3 - {quote(args)} <<'PYEOF'\n{CLIENT}\nPYEOF")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def test_the_access_map_holds_the_limits_and_the_exemption(host):
    lines = {tuple(line.split()) for line in host.file("/etc/mail/access").content_string.splitlines()
             if line.startswith(("ClientRate:", "ClientConn:"))}
    assert lines == {("ClientRate:", "20"), ("ClientRate:127.0.0", "0"), ("ClientConn:", "3"), ("ClientConn:127.0.0", "0")}


def test_a_fourth_open_connection_is_refused_with_421_and_served_after(host):
    lines = greetings(host, "127.0.1.21", 4, hold=True)
    assert all(line.startswith("220 ") for line in lines[:3]), lines
    assert lines[3].startswith("421 ") and "connections" in lines[3].lower(), lines
    # the three closed (sendmail counts a connection until its child has exited): served again
    deadline, again = time.time() + 10, ""
    while time.time() < deadline and not again.startswith("220 "):
        time.sleep(1)
        again = greetings(host, "127.0.1.21", 1, hold=False)[0]
    assert again.startswith("220 "), again


def test_connections_beyond_the_rate_are_refused_with_421(host):
    lines = greetings(host, "127.0.1.20", 24, hold=False)
    served = [line for line in lines if line.startswith("220 ")]
    refused = [line for line in lines if line.startswith("421 ")]
    assert len(served) == 20 and lines[:20] == served, lines
    assert len(refused) == 4 and "rate" in refused[0].lower(), lines


def test_an_exempt_client_is_not_limited(host):
    lines = greetings(host, "127.0.0.1", 5, hold=True)
    assert all(line.startswith("220 ") for line in lines), lines

#!/usr/bin/python3
"""tools/wisp-stream/progress-test.py BIN WORKDIR: the progress meter of wisp-stream.

A plain-HTTP server on a loopback port picked by the system answers /slow with 1,200
bytes in 8 pieces 200 ms apart (at least 1.4 s from the request to the last byte)
and /fast at once. Five runs of BIN go at the same time, so the test takes about 2 s:

  slow, stderr a pseudo-terminal          the meter is drawn ("\\r", a rate, "done")
                                          and its line ended with a newline
  slow, stderr a pipe                     no meter
  slow, stderr a pseudo-terminal, --no-progress   no meter
  slow, stdout and stderr the same pseudo-terminal    no meter (curl's rule: the
                                          body would mix with it)
  fast, stderr a pseudo-terminal          no meter (the run is under a second)

Each run must exit 0 with the whole body on stdout. The slow server's delays are
lower bounds, so the first check does not depend on the machine's speed; the fast
one assumes a loopback GET finishes within a second of the tool's start.
Prints one ok/FAIL line per check; exit status 1 if any failed.
"""
import os
import pty
import socket
import subprocess
import sys
import threading
import time

SLOW_PIECES, SLOW_PIECE, SLOW_GAP = 8, 150, 0.2
FAST_BODY = b"fast\n"


def serve(conn):
    with conn:
        req = b""
        while b"\r\n\r\n" not in req:
            data = conn.recv(4096)
            if not data:
                return
            req += data
        path = req.split(b" ", 2)[1]
        if path == b"/slow":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                         % (SLOW_PIECES * SLOW_PIECE))
            for _ in range(SLOW_PIECES):
                time.sleep(SLOW_GAP)
                conn.sendall(b"s" * SLOW_PIECE)
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (len(FAST_BODY), FAST_BODY))


def accept_loop(lsock):
    while True:
        try:
            conn, _ = lsock.accept()
        except OSError:
            return
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def read_all(fd):
    """Everything from a pty master until the other side is closed (EIO on Linux)."""
    out = b""
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    os.close(fd)
    return out


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    port = lsock.getsockname()[1]
    threading.Thread(target=accept_loop, args=(lsock,), daemon=True).start()

    policy = os.path.join(work, "progress-policy.json")
    with open(policy, "w") as f:
        f.write('{ "schema": 1, "streams": {\n'
                '  "slow": { "endpoint": "127.0.0.1", "port": %d, "tls": false, "url": "/slow" },\n'
                '  "fast": { "endpoint": "127.0.0.1", "port": %d, "tls": false, "url": "/fast" } } }\n'
                % (port, port))

    runs = {}  # name -> (process, stderr reader)

    def start(name, stream, tty, *extra, both=False):
        args = [binary, policy, stream] + list(extra)
        if tty:
            master, slave = pty.openpty()
            p = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                 stdout=slave if both else subprocess.PIPE, stderr=slave)
            os.close(slave)
            result = {}
            t = threading.Thread(target=lambda: result.update(err=read_all(master)))
        else:
            p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            result = {}
            t = threading.Thread(target=lambda: result.update(err=p.stderr.read()))
        t.start()
        runs[name] = (p, t, result)

    start("tty", "slow", True)
    start("pipe", "slow", False)
    start("no-progress", "slow", True, "--no-progress")
    start("both", "slow", True, both=True)
    start("fast", "fast", True)

    failed = 0

    def check(cond, what, detail=b""):
        nonlocal failed
        if cond:
            print("ok   - " + what)
        else:
            failed += 1
            print("FAIL - %s: %r" % (what, detail))

    outputs = {}
    for name, (p, t, result) in runs.items():
        try:
            out, _ = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        t.join(5)
        outputs[name] = (p.returncode, out, result.get("err", b""))
    lsock.close()

    slow_len = SLOW_PIECES * SLOW_PIECE
    for name, (rc, out, err) in outputs.items():
        if name == "both":  # all came through the terminal: the body and nothing else
            out, err = err, b""
            outputs[name] = (rc, out, err)
        want = FAST_BODY if name == "fast" else b"s" * slow_len
        check(rc == 0 and out == want, "%s: exit 0, the whole body on stdout" % name,
              (rc, len(out), err))

    rc, out, err = outputs["tty"]
    check(b"\r" in err and b"/s" in err and b"1/1 done" in err,
          "stderr a terminal, a run over 1 s: the meter is drawn", err)
    check(b"1.17 KiB" in err, "the meter shows the bytes received (1,200 B = 1.17 KiB)", err)
    check(err.endswith(b"\n"), "the meter's line is ended at the end of the run", err)
    for name in ("pipe", "no-progress", "both", "fast"):
        err = outputs[name][2]
        check(b"\r" not in err and b"/s" not in err and err == b"",
              "%s: no meter, nothing on stderr" % name, err)
    if failed:
        print("%d check(s) failed" % failed)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

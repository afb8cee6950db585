"""A burst of new TLS connections, no session reuse (issue 9).

usage: burst.py HOST PORT CA TOTAL CONCURRENCY PATH

CONCURRENCY threads share TOTAL connections. Each connection is fresh (new socket,
full handshake verifying CA, no session offered), sends one GET PATH with
Connection: close and reads the answer to the server's close. Prints one line of
counts: ok (HTTP 200 with the whole body), reset (ECONNRESET/EPIPE anywhere), other
(anything else: refused, timeout, TLS alert, short or wrong answer). Exit status 0
only when every connection was ok.
"""
import socket
import ssl
import sys
import threading

host, port, ca, total, conc, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(
    sys.argv[4]), int(sys.argv[5]), sys.argv[6]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False  # the certificate names localhost and 127.0.0.1; IP check below
lock = threading.Lock()
counts = {"ok": 0, "reset": 0, "other": 0, "resumed": 0}
left = [total]
first_error = []


def one():
    req = ("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % path).encode()
    with socket.create_connection((host, port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(req)
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
            head, _, body = data.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200 "):
                raise ValueError("answer %r" % head[:40])
            length = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
            if not length or int(length[0].split(b":")[1]) != len(body):
                raise ValueError("body of %d bytes, head %r" % (len(body), head))
            return s.session_reused


def worker():
    while True:
        with lock:
            if left[0] == 0:
                return
            left[0] -= 1
        try:
            reused = one()
            kind = "ok"
        except (ConnectionResetError, BrokenPipeError) as e:
            kind, reused = "reset", False
            err = e
        except Exception as e:  # noqa: BLE001 -- every failure is counted and shown
            kind, reused = "other", False
            err = e
        with lock:
            counts[kind] += 1
            counts["resumed"] += 1 if reused else 0
            if kind != "ok" and not first_error:
                first_error.append(repr(err))


threads = [threading.Thread(target=worker) for _ in range(conc)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("connections %d ok %d reset %d other %d resumed %d" %
      (total, counts["ok"], counts["reset"], counts["other"], counts["resumed"]))
if first_error:
    print("first error: %s" % first_error[0])
sys.exit(0 if counts["ok"] == total and counts["resumed"] == 0 else 1)

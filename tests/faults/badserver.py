#!/usr/bin/python3
"""A scriptable, misbehaving HTTP/1.1 server (TLS or plain) for wisp's fault tests.

    badserver.py [--plain] [--cert server|wronghost|expired|other|future|selfsigned|
                                   clientauth|chain-long] [--port N]
                 [--scenario NAME[:ARG]] [--max-conns N] [--max-seconds S]
                 [--log FILE] [--certs DIR] [--raw-tls]

It listens on 127.0.0.1 only (port 0 unless --port: the kernel picks one) and prints
the port it got as the first line of stdout, so a test can read it. It is bounded:
it exits after --max-conns connections have been accepted and served, after
--max-seconds, or when its stdin reaches end of file (so it never outlives the test
that started it with a pipe on stdin, even one that crashed; only a pipe is
watched).

What a connection gets is chosen per request by the first segment of the request
path ("/rst-after:200", "/slow-headers:5"; "/rst-after/200" works too), or for
every connection by --scenario, which wins over the path. Scenarios:

  ok (also "/", "/hello")  200, Content-Length, keep-alive
  echo                     200 with the request body (Content-Length), keep-alive
  status:N                 status N with a one-line body, keep-alive
  chunked                  200, a valid chunked body, keep-alive
  big:N                    200 with N bytes (Content-Length; byte i is i*7 mod 251)
  extra-response           a 200 and, in the same write, a second, unsolicited 200
                           with the body "unsolicited\n"
  close-delimited          HTTP/1.0-style body ended by closing the connection
  close-delimited-bare     the same, closed without close_notify (a relay cutting
                           the TLS stream: the body may be truncated)
  connection-close         200 with Connection: close, then close
  keepalive-then-close     first request 200 keep-alive; the next request on the
                           same connection is read and answered by a close
  close-before-response    read the request, close without answering
  close-mid-chunk          a first chunk, then half of a second one, then close
  bad-chunk-size           200 chunked whose first chunk-size line is not hex
  garbage                  bytes that are not HTTP at all, then close
  huge-headers             a status line and more than 64 KiB of header fields
  no-answer                read the request and never answer (until the peer goes)
  slow-headers[:MS]        the response head one byte every MS ms (default 50)
  rst-after:N              N bytes of a valid 200 response, a pause, then a TCP RST
                           (SO_LINGER 0)
  cut:HOW:FRAMING:N        the first N bytes of a fixed 200 response (all of it when N
                           is past its end), then HOW: "close" (close_notify under TLS,
                           then FIN), "bare" (FIN without close_notify) or "rst" (TCP
                           RST at once, no pause). FRAMING: "cl" (Content-Length), "chunked"
                           or "close" (HTTP/1.0, delimited by the close). The responses
                           are CUT_RESPONSES below (tests/faults/test_stream_cuts.c
                           keeps a copy: change both). With --raw-tls, N counts the
                           bytes of the TLS stream instead: the head and the body are
                           a record each (then close_notify for "close"), so a cut can
                           fall inside a record; the log gets "cutrec CONN E1,E2[,E3]",
                           where each record ends
These happen before any request is read, so only --scenario can pick them:
  close-on-accept          close the TCP connection at once (no TLS handshake)
  rst-on-accept            reset the TCP connection at once
  no-handshake             accept and stay silent (TLS or not)
  garbage-on-accept        send what a plain HTTP server says to a TLS ClientHello (a
                           400) and some bytes that are no TLS record, then close (no
                           TLS handshake: this is what a TLS client gets instead of a
                           ServerHello)

"Close" means a TLS close_notify first (a clean close at the TLS layer: a body cut
short that way is still truncated) and then the TCP FIN.

--log FILE appends one line per event, flushed at once:
  accept CONN / request CONN METHOD PATH BODYLEN / close CONN
so a test can count connections and requests (e.g. that a POST was not resent).

Only the Python standard library; loopback only. Certificates come from tests/certs
(--certs overrides): server.pem, wronghost.pem, expired.pem, other-server.pem,
server-future.pem, server-selfsigned.pem, server-clientauth.pem or chain-long.pem
(leaf and 9 intermediates, all sent).
"""

import argparse
import os
import socket
import ssl
import stat
import struct
import sys
import threading
import time
import urllib.parse

HEAD_MAX = 65536  # largest request head read
BODY_MAX = 16 << 20  # largest request body read
IO_TIMEOUT = 10.0  # seconds any single read or write may block
RST_PAUSE = 0.15  # seconds between the bytes of rst-after and the reset

CERTS = {
    "server": ("server.pem", "server.key"),
    "wronghost": ("wronghost.pem", "wronghost.key"),
    "expired": ("expired.pem", "expired.key"),
    "other": ("other-server.pem", "other-server.key"),
    "future": ("server-future.pem", "server-future.key"),
    "selfsigned": ("server-selfsigned.pem", "server-selfsigned.key"),
    "clientauth": ("server-clientauth.pem", "server-clientauth.key"),
    "chain-long": ("chain-long.pem", "chain-long.key"),
}

CUT_RESPONSES = {
    "cl": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n\r\n"
          b"hello from badserver\n",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"6\r\nchunk \r\n4;ext=1\r\none\n\r\n0\r\n\r\n",
    "close": b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from badserver\n",
}

PRE_REQUEST = ("close-on-accept", "rst-on-accept", "no-handshake", "garbage-on-accept")
PER_REQUEST = ("ok", "hello", "echo", "status", "chunked", "big", "extra-response",
               "close-delimited", "close-delimited-bare", "connection-close", "keepalive-then-close",
               "close-before-response", "close-mid-chunk", "bad-chunk-size", "garbage",
               "huge-headers", "no-answer", "slow-headers", "rst-after", "cut")


class Peer(Exception):
    """The peer went away (or misbehaved) while we were reading its request."""


class BioConn:
    """TLS through memory BIOs (--raw-tls): the same recv/sendall as an SSLSocket,
    plus the ciphertext of an answer, so that a cut can fall inside a record."""

    def __init__(self, raw, ctx):
        self.raw = raw
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=True)

    def _flush(self):
        data = self.out.read()
        if data:
            self.raw.sendall(data)

    def _feed(self):
        data = self.raw.recv(16384)
        if data:
            self.inc.write(data)
        return bool(data)

    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                if not self._feed():
                    raise Peer("EOF inside the handshake")

    def recv(self, n):
        while True:
            try:
                return self.obj.read(n)
            except ssl.SSLWantReadError:
                self._flush()
                if not self._feed():
                    return b""
            except ssl.SSLZeroReturnError:
                return b""

    def sendall(self, data):
        self.obj.write(data)
        self._flush()

    def setsockopt(self, *args):
        self.raw.setsockopt(*args)

    def close(self):
        self.raw.close()

    def ciphertext(self, pieces, notify):
        """One record per piece (then close_notify if notify): the bytes, and where
        each record ends in them."""
        self._flush()  # anything pending (a session ticket) goes out whole first
        buf, ends = b"", []
        for piece in pieces:
            self.obj.write(piece)
            buf += self.out.read()
            ends.append(len(buf))
        if notify:
            try:
                self.obj.unwrap()
            except (ssl.SSLWantReadError, ssl.SSLError):
                pass
            buf += self.out.read()
            ends.append(len(buf))
        return buf, ends


class Server:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.log_file = open(args.log, "a", encoding="ascii") if args.log else None
        self.conn_ids = 0
        self.threads = []
        self.stop = threading.Event()
        self.ctx = None
        if not args.plain:
            cert, key = CERTS[args.cert]
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(os.path.join(args.certs, cert), os.path.join(args.certs, key))
            self.ctx = ctx

    def log(self, line):
        if self.log_file is None:
            return
        with self.lock:
            self.log_file.write(line + "\n")
            self.log_file.flush()

    # ---- request reading ----------------------------------------------------------

    @staticmethod
    def read_head(conn, buf):
        """Read up to the empty line; returns (head bytes, leftover) or None at EOF."""
        while b"\r\n\r\n" not in buf:
            if len(buf) > HEAD_MAX:
                raise Peer("request head too large")
            data = conn.recv(16384)
            if not data:
                if buf:
                    raise Peer("EOF inside a request head")
                return None
            buf += data
        head, rest = buf.split(b"\r\n\r\n", 1)
        return head, rest

    @staticmethod
    def read_exact(conn, buf, n):
        while len(buf) < n:
            data = conn.recv(65536)
            if not data:
                raise Peer("EOF inside a request body")
            buf += data
        return buf[:n], buf[n:]

    @staticmethod
    def read_line(conn, buf):
        while b"\r\n" not in buf:
            if len(buf) > 4096:
                raise Peer("chunk line too long")
            data = conn.recv(65536)
            if not data:
                raise Peer("EOF inside a chunked body")
            buf += data
        line, rest = buf.split(b"\r\n", 1)
        return line, rest

    def read_request(self, conn, buf):
        """One request: (method, path, headers dict, body, leftover) or None at EOF."""
        got = self.read_head(conn, buf)
        if got is None:
            return None
        head, buf = got
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise Peer("bad request line %r" % lines[0])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise Peer("bad header line %r" % line)
            headers[name.strip().lower()] = value.strip()
        body = b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                line, buf = self.read_line(conn, buf)
                size = int(line.split(b";")[0].strip() or b"x", 16)
                if size == 0:
                    while True:  # trailer fields up to the empty line
                        line, buf = self.read_line(conn, buf)
                        if not line:
                            break
                    break
                if len(body) + size > BODY_MAX:
                    raise Peer("request body too large")
                data, buf = self.read_exact(conn, buf, size + 2)
                body += data[:size]
        elif "content-length" in headers:
            n = int(headers["content-length"])
            if n > BODY_MAX:
                raise Peer("request body too large")
            body, buf = self.read_exact(conn, buf, n)
        return parts[0], parts[1], headers, body, buf

    # ---- answers ------------------------------------------------------------------

    @staticmethod
    def response(status, body, extra=(), reason="X"):
        head = "HTTP/1.1 %d %s\r\n" % (status, reason)
        head += "Content-Type: text/plain\r\nContent-Length: %d\r\n" % len(body)
        for h in extra:
            head += h + "\r\n"
        return head.encode("ascii") + b"\r\n" + body

    def close(self, conn, cid, graceful=True):
        """Close once: close_notify (TLS, best effort) then FIN."""
        try:
            if graceful and isinstance(conn, ssl.SSLSocket):
                conn.settimeout(0.3)
                try:
                    conn.unwrap()
                except (OSError, ValueError):
                    pass
        finally:
            try:
                conn.close()
            except OSError:
                pass
            self.log("close %d" % cid)

    @staticmethod
    def reset(conn):
        """Abort with a TCP RST: SO_LINGER on with a zero timeout, then close."""
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    def silent(self, conn, cid):
        """Say nothing; read and drop whatever comes until the peer goes, then close."""
        deadline = time.monotonic() + self.args.max_seconds
        conn.settimeout(0.1)
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                if not conn.recv(4096):
                    break
            except socket.timeout:
                continue
            except (OSError, ssl.SSLError):
                break
        self.close(conn, cid, graceful=False)

    def scenario_of(self, path):
        if self.args.scenario:
            spec = self.args.scenario
        else:
            seg = urllib.parse.unquote(path.split("?", 1)[0]).lstrip("/")
            name, _, rest = seg.partition("/")
            spec = name + (":" + rest if rest and ":" not in name else "")
        name, _, arg = spec.partition(":")
        return (name or "ok"), arg

    def serve_request(self, conn, cid, nreq, method, path, body):
        """Answer one request. Returns True to read the next request on conn."""
        name, arg = self.scenario_of(path)
        hello = b"hello from badserver\n"
        if name in ("ok", "hello"):
            conn.sendall(self.response(200, b"" if method == "HEAD" else hello))
            return True
        if name == "echo":
            conn.sendall(self.response(200, body))
            return True
        if name == "status":
            code = int(arg or "500")
            conn.sendall(self.response(code, b"status %d\n" % code))
            return True
        if name == "chunked":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"6\r\nchunk \r\n4;ext=1\r\none\n\r\n0\r\n\r\n")
            return True
        if name == "big":
            n = int(arg or "1048576")
            if n > BODY_MAX:
                raise Peer("big:N over %d" % BODY_MAX)
            period = bytes((i * 7) % 251 for i in range(251))
            conn.sendall(self.response(200, (period * (n // 251 + 1))[:n]))
            return True
        if name == "extra-response":
            # Both in one write, so the extra one has arrived by the time the client
            # could reuse the connection. (One sent later, after the client's next
            # request, cannot be told from a real answer in HTTP/1.1.)
            conn.sendall(self.response(200, hello) + self.response(200, b"unsolicited\n"))
            return True
        if name == "close-delimited":
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + hello)
            self.close(conn, cid)
            return False
        if name == "close-delimited-bare":
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + hello)
            self.close(conn, cid, graceful=False)
            return False
        if name == "connection-close":
            conn.sendall(self.response(200, hello, ["Connection: close"]))
            self.close(conn, cid)
            return False
        if name == "keepalive-then-close":
            if nreq == 1:
                conn.sendall(self.response(200, hello, ["Connection: keep-alive"]))
                return True
            self.close(conn, cid)
            return False
        if name == "close-before-response":
            self.close(conn, cid)
            return False
        if name == "close-mid-chunk":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"a\r\nfirst one\n\r\n100\r\nonly part of it")
            time.sleep(0.05)
            self.close(conn, cid)
            return False
        if name == "bad-chunk-size":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"zz\r\nthis is not a chunk\r\n0\r\n\r\n")
            time.sleep(0.05)
            self.close(conn, cid)
            return False
        if name == "garbage":
            conn.sendall(b"SSH-2.0-OpenSSH_9.2 this is not HTTP\r\n\r\n\x00\x01\x02\xff")
            time.sleep(0.05)
            self.close(conn, cid)
            return False
        if name == "huge-headers":
            fields = b"".join(b"x-pad-%03d: %s\r\n" % (i, b"p" * 900) for i in range(80))
            try:  # the client is expected to give up part way
                conn.sendall(b"HTTP/1.1 200 OK\r\n" + fields + b"Content-Length: 0\r\n\r\n")
            except OSError:
                pass
            self.close(conn, cid)
            return False
        if name == "no-answer":
            self.silent(conn, cid)
            return False
        if name == "slow-headers":
            delay = int(arg or "50") / 1000.0
            whole = self.response(200, hello, ["x-slow: yes"])
            head_len = whole.index(b"\r\n\r\n") + 4
            for i in range(head_len):
                conn.sendall(whole[i:i + 1])
                time.sleep(delay)
            conn.sendall(whole[head_len:])
            return True
        if name == "rst-after":
            n = int(arg or "0")
            whole = self.response(200, bytes(range(256)) * 16)
            if n:
                conn.sendall(whole[:n])
            time.sleep(RST_PAUSE)  # let the bytes arrive and be read before the RST
            self.reset(conn)
            self.log("close %d" % cid)
            return False
        if name == "cut":
            how, _, rest = arg.partition(":")
            framing, _, n = rest.partition(":")
            whole = CUT_RESPONSES.get(framing)
            if how not in ("close", "bare", "rst") or whole is None or not n.isdigit():
                raise Peer("bad cut spec %r" % arg)
            if isinstance(conn, BioConn):
                # --raw-tls: N counts ciphertext bytes; the head and the body are one
                # record each, then close_notify for "close".
                head = whole.index(b"\r\n\r\n") + 4
                data, ends = conn.ciphertext([whole[:head], whole[head:]], how == "close")
                self.log("cutrec %d %s" % (cid, ",".join(str(e) for e in ends)))
                if int(n):
                    conn.raw.sendall(data[:int(n)])
            elif int(n):
                conn.sendall(whole[:int(n)])
            if how == "rst":
                self.reset(conn)
                self.log("close %d" % cid)
            else:
                self.close(conn, cid, graceful=how == "close")
            return False
        conn.sendall(self.response(404, b"no such scenario\n"))
        return True

    def handle(self, raw, cid):
        conn = raw
        name = self.args.scenario.partition(":")[0] if self.args.scenario else ""
        try:
            raw.settimeout(IO_TIMEOUT)
            if name == "close-on-accept":
                self.close(raw, cid, graceful=False)
                return
            if name == "rst-on-accept":
                self.reset(raw)
                self.log("close %d" % cid)
                return
            if name == "garbage-on-accept":
                try:
                    raw.recv(4096)  # the ClientHello, or whatever comes first
                    raw.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                b"Connection: close\r\n\r\n\x00\xff\x16\x03")
                finally:
                    self.close(raw, cid, graceful=False)
                return
            if name == "no-handshake":
                self.silent(raw, cid)
                return
            if self.ctx is not None and self.args.raw_tls:
                conn = BioConn(raw, self.ctx)
                conn.handshake()
            elif self.ctx is not None:
                conn = self.ctx.wrap_socket(raw, server_side=True)
            buf, nreq = b"", 0
            while True:
                req = self.read_request(conn, buf)
                if req is None:
                    break
                method, path, _headers, body, buf = req
                nreq += 1
                self.log("request %d %s %s %d" % (cid, method, path, len(body)))
                if not self.serve_request(conn, cid, nreq, method, path, body):
                    return
            self.close(conn, cid)
        except (OSError, ssl.SSLError, Peer, ValueError) as e:
            self.log("error %d %s" % (cid, str(e).replace("\n", " ")[:200]))
            try:
                conn.close()
            except OSError:
                pass
            self.log("close %d" % cid)

    # ---- main loop ----------------------------------------------------------------

    def run(self):
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", self.args.port))
        lsock.listen(64)
        lsock.settimeout(0.1)
        sys.stdout.write("%d\n" % lsock.getsockname()[1])
        sys.stdout.flush()
        deadline = time.monotonic() + self.args.max_seconds
        while self.conn_ids < self.args.max_conns and time.monotonic() < deadline:
            try:
                raw, _addr = lsock.accept()
            except socket.timeout:
                continue
            self.conn_ids += 1
            # No Nagle: a cut's last bytes must be on the wire before a reset, which
            # discards whatever is still queued (under TLS 1.3 the tickets go first,
            # and a small answer behind them would wait for their ACK, then be lost).
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.log("accept %d" % self.conn_ids)
            t = threading.Thread(target=self.handle, args=(raw, self.conn_ids), daemon=True)
            t.start()
            self.threads.append(t)
        lsock.close()  # further connections are refused
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.stop.set()


def watch_stdin():
    """Exit when the parent closes our stdin (or dies)."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except OSError:
        pass
    os._exit(0)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--plain", action="store_true", help="plain HTTP instead of TLS")
    p.add_argument("--cert", choices=sorted(CERTS), default="server")
    p.add_argument("--certs", default=os.path.join(here, "..", "certs"))
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--scenario", default="", help="NAME[:ARG] for every connection")
    p.add_argument("--max-conns", type=int, default=100)
    p.add_argument("--max-seconds", type=float, default=30.0)
    p.add_argument("--log", default="")
    p.add_argument("--raw-tls", action="store_true",
                   help="TLS through memory BIOs: cut:HOW:FRAMING:N counts ciphertext bytes")
    args = p.parse_args()
    if not 0 <= args.port <= 65535:
        p.error("--port out of range")
    if args.scenario and args.scenario.partition(":")[0] not in PRE_REQUEST + PER_REQUEST:
        p.error("unknown scenario %r" % args.scenario)
    if stat.S_ISFIFO(os.fstat(0).st_mode):
        threading.Thread(target=watch_stdin, daemon=True).start()
    # Never wait past the bound, whatever a handler thread is doing.
    killer = threading.Timer(args.max_seconds + 2.0, lambda: os._exit(0))
    killer.daemon = True
    killer.start()
    Server(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

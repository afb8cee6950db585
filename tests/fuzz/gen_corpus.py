#!/usr/bin/python3
"""Write the seed corpora of the client, server, template and IP SAN fuzz targets.

    tests/fuzz/gen_corpus.py        (from the repository root)

The seeds are committed; this script documents how they were made and remakes
them (it overwrites only the files it names). The client seeds play every hostile
route of tests/faults/badserver.py through the fake network's script (see
tests/fuzz/client_world.h for the input layout); the server seeds play clients
that a server meets (tests/fuzz/fuzz_server_conn.c for the layout). Python 3
standard library only.
"""

import base64
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")

# ---- client_world.h script ops ----


def send(b):
    out = b""
    while True:  # 0x00 L1 L0 <L bytes>, split past 64 KiB
        part, b = b[:65535], b[65535:]
        out += b"\x00" + len(part).to_bytes(2, "big") + part
        if not b:
            return out


CLOSE, RESET, NEXT, REFUSE, HANG, CANNED = b"\x01", b"\x02", b"\x04", b"\x05", b"\x06", b"\x07"


def later(ms):
    return b"\x03" + bytes([min(255, ms // 32)])


def cfg(streams=1, tls=False, method="GET", pipeline=False, noreuse=False, refuse_first=False):
    m = {"GET": 0, "POST": 1, "HEAD": 2, "GETR": 3}[method]
    return bytes([(streams - 1) | (tls << 2) | (m << 3) | (pipeline << 5) | (noreuse << 6)
                  | (refuse_first << 7)])


HELLO = b"hello from badserver\n"


def resp(status, body, extra=b""):
    return (b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n" % (status, len(body)) + extra + b"\r\n"
            + body)


CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"6\r\nchunk \r\n4;ext=1\r\none\n\r\n0\r\n\r\n")
BIG = bytes((i * 7) % 251 for i in range(251)) * 80
HUGE = b"HTTP/1.1 200 OK\r\n" + b"".join(b"x-pad-%03d: %s\r\n" % (i, b"p" * 900)
                                         for i in range(80)) + b"Content-Length: 0\r\n\r\n"
RST_BODY = resp(200, bytes(range(256)) * 16)


def slow(b, ms):
    out = b""
    for i in range(len(b)):
        out += send(b[i:i + 1]) + later(ms)
    return out


# badserver.py routes, as scripts (one answer per request unless noted).
ROUTES = {
    "ok": (send(resp(200, HELLO)) + NEXT) * 4,
    "status-404": (send(resp(404, b"status 404\n")) + NEXT) * 4,
    "status-500": send(resp(500, b"status 500\n")) + NEXT,
    "chunked": (send(CHUNKED) + NEXT) * 4,
    "big": send(resp(200, BIG)) + NEXT,
    "extra-response": send(resp(200, HELLO) + resp(200, b"unsolicited\n")) + NEXT,
    "close-delimited": send(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + HELLO)
    + CLOSE,
    "connection-close": (send(resp(200, HELLO, b"Connection: close\r\n")) + CLOSE + NEXT) * 3,
    "keepalive-then-close": send(resp(200, HELLO, b"Connection: keep-alive\r\n")) + NEXT + CLOSE,
    "close-before-response": CLOSE,
    "close-mid-chunk": send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"a\r\nfirst one\n\r\n100\r\nonly part of it") + later(50) + CLOSE,
    "bad-chunk-size": send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"zz\r\nthis is not a chunk\r\n0\r\n\r\n") + later(50) + CLOSE,
    "garbage": send(b"SSH-2.0-OpenSSH_9.2 this is not HTTP\r\n\r\n\x00\x01\x02\xff") + later(50)
    + CLOSE,
    "huge-headers": send(HUGE) + CLOSE,
    "no-answer": b"",
    "slow-headers": slow(resp(200, HELLO, b"x-slow: yes\r\n"), 50),
    "rst-after-0": later(150) + RESET,
    "rst-after-40": send(RST_BODY[:40]) + later(150) + RESET,
    "rst-after-200": send(RST_BODY[:200]) + later(150) + RESET,
    "rst-after-3000": send(RST_BODY[:3000]) + later(150) + RESET,
    "close-on-accept": CLOSE,
    "rst-on-accept": RESET,
    "late-answer": later(1500) + send(resp(200, b"late")) + NEXT,
    "raw-text": resp(200, b"raw") + b"\x04" + resp(204, b""),  # raw bytes pass through
    "canned": (CANNED + NEXT) * 4,
    "smuggle-cl-te": send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: "
                          b"chunked\r\n\r\n0\r\n\r\n") + NEXT,
    "bad-status": send(b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n") + NEXT,
    "100-continue": send(b"HTTP/1.1 100 Continue\r\n\r\n" + resp(200, HELLO)) + NEXT,
}


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def client_seeds():
    n = 0
    for name, script in ROUTES.items():
        write("client_stream", name, cfg() + script)
        n += 1
    # Queued streams on one connection, pipelining, POST, HEAD, retries, no reuse.
    ok4 = (send(resp(200, HELLO)) + NEXT) * 6
    extra = {
        "queued-4-ok": cfg(streams=4) + ok4,
        "queued-4-pipelined": cfg(streams=4, pipeline=True) + ok4,
        "queued-2-close-first": cfg(streams=2) + send(resp(200, HELLO)) + CLOSE + NEXT + ok4,
        "queued-3-reset-second": cfg(streams=3) + send(resp(200, HELLO)) + NEXT + RESET + NEXT
        + ok4,
        "post-echo": cfg(streams=2, method="POST") + ok4,
        "post-close-before-response": cfg(method="POST") + CLOSE + NEXT + ok4,
        "head": cfg(streams=2, method="HEAD") + (send(b"HTTP/1.1 200 OK\r\nContent-Length: "
                                                      b"99\r\n\r\n") + NEXT) * 3,
        "retry-refused-then-ok": cfg(method="GETR", refuse_first=True) + ok4,
        "retry-resets": cfg(method="GETR") + (RESET + NEXT) * 2 + ok4,
        "retry-hang": cfg(method="GETR") + HANG + CLOSE + NEXT + ok4,
        "noreuse": cfg(streams=2, noreuse=True) + ok4,
        "refused": cfg(refuse_first=True),
        "tls-garbage": cfg(tls=True) + ROUTES["garbage"],
        "tls-close": cfg(tls=True) + CLOSE,
        "tls-reset": cfg(tls=True) + RESET,
        "tls-no-handshake": cfg(tls=True),
        # A TLS alert record (fatal handshake_failure), a truncated handshake record
        # and a ServerHello-shaped record with a bad length.
        "tls-alert": cfg(tls=True) + send(b"\x15\x03\x03\x00\x02\x02\x28"),
        "tls-truncated-record": cfg(tls=True) + send(b"\x16\x03\x03\x40\x00\x02\x00") + CLOSE,
        "tls-bad-serverhello": cfg(tls=True) + send(b"\x16\x03\x03\x00\x08\x02\x00\x00\x46"
                                                    b"\x03\x03\x00\x00") + CLOSE,
    }
    for name, data in extra.items():
        write("client_stream", name, data)
        n += 1
    schedules = {
        "destroy-self-first": b"\x01",
        "destroy-self-api": b"\x00\x03",
        "disconnect": b"\x00\x00\x02",
        "rerequest": b"\x05\x05\x05\x00\x05",
        "rerequest-other": b"\x0e\x16\x1e\x06",
        "destroy-other": b"\x0c\x14\x1c",
        "destroy-then-create": b"\x0c\x00\x0f\x00\x0f",
        "context-destroy": b"\x00\x00\x00\xff",
        "mixed": bytes(range(0, 256, 7)),
    }
    scripts = {
        "ok": cfg(streams=4) + ok4,
        "pipelined": cfg(streams=4, pipeline=True) + ok4,
        "close-mid-chunk": cfg(streams=2) + ROUTES["close-mid-chunk"] + NEXT + ok4,
        "post": cfg(streams=3, method="POST") + ok4,
        "retry": cfg(streams=2, method="GETR") + RESET + NEXT + ok4,
    }
    for sname, sched in schedules.items():
        for cname, c in scripts.items():
            write("client_schedule", sname + "." + cname, c[:1] + bytes([len(sched)]) + sched
                  + c[1:])
            n += 1
    return n


# ---- fuzz_server_conn.c: client script ops ----

S_FIN, S_RST, S_NEXT, S_ANSWER, S_RESUME, S_UNLISTEN, S_STALL = (b"\x01", b"\x02", b"\x04",
                                                                 b"\x05", b"\x06", b"\x07",
                                                                 b"\x08")


def s_send(b):
    out = b""
    while True:  # 0x00 L <L bytes>, split past 255
        part, b = b[:255], b[255:]
        out += b"\x00" + bytes([len(part)]) + part
        if not b:
            return out


def s_wait(ms):
    return b"\x03" + bytes([min(255, ms // 16)])


def s_split(b, step, ms):
    """b in pieces of step bytes, ms apart."""
    return b"".join(s_send(b[i:i + step]) + s_wait(ms) for i in range(0, len(b), step))


def s_seed(script, actions=b"", kill=False, slow=False):
    return bytes([(1 if kill else 0) | (2 if slow else 0), len(actions)]) + actions + script


def get(path, extra=b"", version=b"1.1"):
    return b"GET " + path + b" HTTP/" + version + b"\r\nHost: a\r\n" + extra + b"\r\n"


def post(path, body, extra=b""):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: a\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n" + extra + b"\r\n" + body)


def post_chunked(path, chunks):
    body = b"".join(b"%x\r\n" % len(c) + c + b"\r\n" for c in chunks) + b"0\r\n\r\n"
    return b"POST " + path + b" HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body


# ---- fuzz_server_conn.c with TLS on (byte 0 bit 2): a TLS client's records ----


def tls_record(ctype, body, version=b"\x03\x03"):
    return bytes([ctype]) + version + len(body).to_bytes(2, "big") + body


def tls_ext(kind, body):
    return kind.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body


def client_hello(version=b"\x03\x03", suites=(0xc02b, 0xc02c), groups=(0x001d, 0x0017),
                 session=b"", extra=b"", compression=b"\x01\x00"):
    """A TLS 1.2 ClientHello record (SNI localhost, ECDHE-ECDSA), with its parts to bend."""
    sni = b"\x00\x00\x09localhost"
    exts = (tls_ext(0, len(sni).to_bytes(2, "big") + sni)
            + tls_ext(10, (2 * len(groups)).to_bytes(2, "big")
                      + b"".join(g.to_bytes(2, "big") for g in groups))
            + tls_ext(11, b"\x01\x00")
            + tls_ext(13, b"\x00\x04\x04\x03\x05\x03")
            + tls_ext(0xff01, b"\x00") + extra)
    body = (version + bytes(range(32)) + bytes([len(session)]) + session
            + (2 * len(suites)).to_bytes(2, "big") + b"".join(c.to_bytes(2, "big") for c in suites)
            + compression + len(exts).to_bytes(2, "big") + exts)
    return tls_record(22, b"\x01" + len(body).to_bytes(3, "big") + body, b"\x03\x01")


def tls_server_seeds():
    hello = client_hello()
    # The client's second flight: an X25519 share (any 32 bytes are one), then
    # ChangeCipherSpec and a Finished the server cannot decrypt (bad_record_mac).
    cke = tls_record(22, b"\x10\x00\x00\x21\x20" + bytes(range(9, 41)))
    ccs = tls_record(20, b"\x01")
    fin = tls_record(22, bytes(range(40)))
    seeds = {
        "hello": s_send(hello) + s_wait(100) + S_FIN,
        "hello-idle": s_send(hello) + s_wait(3000),
        "hello-split": s_split(hello, 7, 16) + s_wait(100) + S_FIN,
        "hello-bytewise": s_split(hello, 1, 0) + s_wait(100),
        "hello-second-flight": s_send(hello) + s_wait(100) + s_send(cke + ccs + fin)
        + s_wait(100) + S_FIN,
        "hello-cke-then-rst": s_send(hello) + s_wait(100) + s_send(cke) + S_RST,
        "hello-cke-split": s_send(hello) + s_wait(50) + s_split(cke + ccs + fin, 5, 16),
        "hello-twice": s_send(hello + hello) + s_wait(100) + S_FIN,
        "hello-then-rst": s_send(hello) + s_wait(20) + S_RST,
        "hello-stalled": S_STALL + s_send(hello) + s_wait(500) + S_STALL + S_FIN,
        "hello-stalled-past-timeout": S_STALL + s_send(hello) + s_wait(3000),
        "hello-unlisten": s_send(hello) + S_NEXT + s_send(hello[:40]) + S_UNLISTEN
        + s_wait(100),
        "hello-four-clients": (s_send(hello) + S_NEXT) * 4 + s_wait(200),
        "tls10-only": s_send(client_hello(version=b"\x03\x01")) + s_wait(100),
        "tls11-only": s_send(client_hello(version=b"\x03\x02")) + s_wait(100),
        "no-common-suite": s_send(client_hello(suites=(0x002f, 0x0035))) + s_wait(100),
        "no-suites": s_send(client_hello(suites=())) + s_wait(100),
        "no-common-group": s_send(client_hello(groups=(0x0019,))) + s_wait(100),
        "p256-share-bad-point": s_send(client_hello(groups=(0x0017,))) + s_wait(100)
        + s_send(cke + ccs + fin) + s_wait(100),
        "deflate-only": s_send(client_hello(compression=b"\x01\x01")) + s_wait(100),
        "unknown-session-id": s_send(client_hello(session=bytes(32))) + s_wait(100) + S_FIN,
        "ticket-garbage": s_send(client_hello(extra=tls_ext(35, bytes(range(100)))))
        + s_wait(100) + S_FIN,
        "ext-length-overflow": s_send(client_hello(extra=b"\x00\x23\xff\xff")) + s_wait(100),
        "sni-garbage": s_send(client_hello(extra=tls_ext(0, b"\x00\x05\x00\x00\x09ab")))
        + s_wait(100),
        "sslv2-hello": s_send(b"\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10"
                              + b"\x00\xc0\x2b" * 7 + bytes(16)) + s_wait(100),
        "http-on-tls-port": s_send(get(b"/hello")) + s_wait(100),
        "alert-first": s_send(tls_record(21, b"\x02\x28")) + s_wait(100),
        "appdata-first": s_send(tls_record(23, bytes(64))) + s_wait(100),
        "ccs-first": s_send(ccs) + s_wait(100),
        "zero-length-record": s_send(tls_record(22, b"")) + s_wait(100),
        "huge-record": s_send(b"\x16\x03\x03\xff\xff" + bytes(600)) + s_wait(100) + S_FIN,
        "record-cut": s_send(hello[:3]) + s_wait(100) + S_FIN,
        "hello-cut": s_send(hello[:60]) + S_FIN,
        "hello-cut-rst": s_send(hello[:9]) + S_RST,
        "silent-client": s_send(b"") + s_wait(2500),
    }
    for name, script in seeds.items():
        write("server_conn", "tls-" + name, bytes([4, 0]) + script)
    write("server_conn", "tls-hello.kill", bytes([5, 0]) + seeds["hello-four-clients"])
    return len(seeds) + 1


def server_seeds():
    hello, echo = get(b"/hello"), post(b"/echo", b"hello world")
    seeds = {
        "get": s_send(hello) + S_FIN,
        "get-keepalive-idle": s_send(hello),
        "head": s_send(b"HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n" + hello) + S_FIN,
        "post": s_send(echo) + S_FIN,
        "post-split": s_split(echo, 3, 16) + S_FIN,
        "post-expect-100": s_send(post(b"/echo", b"abc", b"Expect: 100-continue\r\n")) + S_FIN,
        "chunked": s_send(post_chunked(b"/echo", [b"hello", b" world"])) + S_FIN,
        "chunked-split": s_split(post_chunked(b"/echo", [b"a" * 40, b"b" * 300]), 7, 16),
        "chunked-answer": s_send(get(b"/chunked")) + S_FIN,
        "pipelined": s_send(get(b"/p1") + get(b"/chunked") + echo + get(b"/p3")) + S_FIN,
        "keepalive-3": (s_send(get(b"/a")) + s_wait(100)) * 3 + S_FIN,
        "http10": s_send(get(b"/chunked", version=b"1.0")),
        "connection-close": s_send(get(b"/hello", b"Connection: close\r\n") + hello),
        "huge-header": s_send(get(b"/hello", b"X-Big: " + b"x" * 700 + b"\r\n")) + S_FIN,
        "huge-body": s_send(post(b"/echo", b"z" * 4500)) + S_FIN,
        "huge-chunk": s_send(post_chunked(b"/echo", [b"y" * 4500])) + S_FIN,
        "bad-request-line": s_send(b"GET /hello\r\n\r\n"),
        "bad-version": s_send(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
        "no-host": s_send(b"GET / HTTP/1.1\r\n\r\n"),
        "two-hosts": s_send(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        "empty-path-query": s_send(b"GET ?q HTTP/1.1\r\nHost: a\r\n\r\n"),
        "asterisk": s_send(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n" + b"GET * HTTP/1.1\r\n"
                           b"Host: a\r\n\r\n"),
        "absolute-form": s_send(b"GET http://a/hello?x=1 HTTP/1.1\r\nHost: a\r\n\r\n") + S_FIN,
        "unknown-method": s_send(b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n"),
        "cl-and-te": s_send(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1"
                            b"\r\nHost: a\r\n\r\n"),
        "two-cl": s_send(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                         b"Content-Length: 4\r\n\r\nabcd"),
        "te-not-chunked": s_send(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip"
                                 b"\r\n\r\nabc"),
        "cr-without-lf": s_send(b"GET /hello HTTP/1.1\rHost: a\r\n\r\n"),
        "bare-lf": s_send(b"GET /hello HTTP/1.1\nHost: a\n\n") + S_FIN,
        "nul-in-header": s_send(b"GET /hello HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n"),
        "nul-in-target": s_send(b"GET /he\x00llo HTTP/1.1\r\nHost: a\r\n\r\n"),
        "obs-fold": s_send(b"GET /hello HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"),
        "space-before-colon": s_send(b"GET /hello HTTP/1.1\r\nHost : a\r\n\r\n"),
        "leading-crlf": s_send(b"\r\n\r\n" + hello) + S_FIN,
        "slowloris": s_split(hello, 1, 300),
        # Close and reset at every phase.
        "fin-mid-line": s_send(hello[:7]) + S_FIN,
        "fin-mid-head": s_send(hello[:25]) + S_FIN,
        "fin-mid-body": s_send(echo[:-4]) + S_FIN,
        "fin-before-slow-answer": s_send(get(b"/slow")) + S_FIN + s_wait(200) + S_ANSWER,
        "rst-mid-head": s_send(hello[:25]) + S_RST,
        "rst-mid-body": s_send(echo[:-4]) + S_RST,
        "rst-before-answer": s_send(get(b"/slow")) + s_wait(50) + S_RST + S_ANSWER,
        "rst-mid-answer": s_send(get(b"/chunked")) + S_RST,
        "rst-pipelined": s_send(get(b"/slow") + hello) + s_wait(50) + S_RST,
        # The app's side: every WISP_CB_DESTROY / DISCONNECT point, a paused tx, 204.
        "app-gives-up": b"".join(s_send(get(p)) + S_NEXT for p in (
            b"/destroy-req", b"/disc-req", b"/destroy-rx", b"/disc-rx")) +
        s_send(get(b"/destroy-tx")) + S_NEXT + s_send(get(b"/disc-tx")),
        "pause-resume": s_send(get(b"/pause") + get(b"/204")) + s_wait(200) + S_RESUME + S_FIN,
        "max-connections": (s_send(get(b"/slow")) + S_NEXT) * 4 + s_wait(100) + S_ANSWER,
        "unlisten-in-flight": s_send(get(b"/slow")) + S_NEXT + s_send(hello) + S_UNLISTEN
        + s_wait(100) + S_ANSWER,
        "idle-timeout": s_send(hello) + s_wait(2000) + s_send(hello),
        "stalled-reader": S_STALL + s_send(get(b"/chunked") + hello) + s_wait(500) + S_STALL
        + S_FIN,
        "stalled-unlisten": S_STALL + s_send(hello) + s_wait(50) + S_UNLISTEN + s_wait(100)
        + S_STALL,
        "stalled-past-linger": S_STALL + s_send(get(b"/chunked")) + S_FIN + s_wait(3000),
        "context-destroyed-live": s_send(get(b"/slow")) + S_NEXT + s_send(hello[:20]) + S_NEXT
        + s_send(echo[:-3]),
    }
    n = 0
    for name, script in seeds.items():
        write("server_conn", name, s_seed(script))
        n += 1
    write("server_conn", "context-destroyed-live.kill",
          s_seed(seeds["context-destroyed-live"], kill=True))
    write("server_conn", "pipelined.kill", s_seed(seeds["pipelined"], kill=True))
    write("server_conn", "pipelined.slow", s_seed(seeds["pipelined"] + s_wait(500) + S_ANSWER,
                                                 slow=True))
    # Every action (srvapp.h) for a pipelined GET, POST, chunked POST.
    mix = s_send(hello + echo + post_chunked(b"/x", [b"abc"]) + get(b"/y")) + s_wait(300)
    for a in range(14):
        write("server_conn", "action-%02d" % a, s_seed(mix + S_ANSWER + S_RESUME + S_FIN,
                                                       actions=bytes([a])))
    write("server_conn", "actions-mixed", s_seed(mix + S_ANSWER + S_FIN,
                                                 actions=bytes(range(14))))
    return n + 18 + tls_server_seeds()


def template_seeds():
    def t(mode, cap, tmpl, *vals):
        out = bytes([(cap << 2) | mode]) + tmpl + b"\x00"
        for v in vals:
            out += b"\xff" if v is None else bytes([len(v)]) + v
        return out

    seeds = {
        "url-plain": t(0, 0, b"/v1/time?tz=${tz}", b"Europe/Paris"),
        "url-reserved": t(0, 0, b"/f/${q}", b"a b/%?#&=+\r\n\x00\x7f\xff"),
        "url-unset": t(0, 0, b"/f/${q}/${r}", None),
        "url-no-values": t(0, 0, b"/f/${q}"),
        "url-toobig": t(0, 12, b"/f/${q}", b"0123456789"),
        "url-exact-fit": t(0, 8, b"/f/${q}", b"abcd"),
        "url-unclosed": t(0, 0, b"/f/${q", b"x"),
        "url-dollar": t(0, 0, b"/$/${}/$${a}", b"v"),
        "header-crlf": t(1, 0, b"${x}", b"a\r\nInjected: 1"),
        "header-nul": t(1, 0, b"id-${x}", b"a\x00b"),
        "header-ok": t(1, 0, b"Bearer ${tok}", b"abc def"),
        "host-short-ipv4": t(2, 0, b"127.${x}", b"1"),
        "host-hex": t(2, 0, b"${h}", b"0x7f.1"),
        "host-octal": t(2, 0, b"${h}", b"0177.0.0.1"),
        "host-decimal": t(2, 0, b"${h}", b"2130706433"),
        "host-over": t(2, 0, b"${h}", b"1.2.3.256"),
        "host-quad": t(2, 0, b"${h}.example.com", b"10.0.0.1"),
        "host-ok": t(2, 0, b"${h}", b"127.0.0.1"),
        "host-name": t(2, 0, b"api-${r}.example.com", b"eu"),
        "host-ipv6": t(2, 0, b"${h}", b"::1"),
        "host-crlf": t(2, 0, b"${h}", b"a\r\nb"),
        "host-trailing-dot": t(2, 0, b"${h}", b"127.0.0.1."),
        "host-08": t(2, 0, b"${h}", b"08"),
    }
    for name, data in seeds.items():
        write("template", name, data)
    return len(seeds)


# ---- DER for the IP SAN seeds ----


def der(tag, body):
    n = len(body)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = b"\x81" + bytes([n])
    else:
        ln = b"\x82" + n.to_bytes(2, "big")
    return bytes([tag]) + ln + body


SAN_OID = der(0x06, b"\x55\x1d\x11")
BC_OID = der(0x06, b"\x55\x1d\x13")


def san(names, critical=False):
    body = SAN_OID + (der(0x01, b"\xff") if critical else b"") + der(0x04, der(0x30, names))
    return der(0x30, body)


def exts(*e):
    return der(0x30, b"".join(e))


def tlv_walk(b):
    """(tag, start of contents, end) of each TLV at top level of b."""
    i, out = 0, []
    while i < len(b):
        tag = b[i]
        n = b[i + 1]
        i += 2
        if n & 0x80:
            k = n & 0x7f
            n = int.from_bytes(b[i:i + k], "big")
            i += k
        out.append((tag, i, i + n))
        i += n
    return out


def cert_exts(path):
    pem = open(path).read()
    m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", pem, re.S)
    d = base64.b64decode("".join(m.group(1).split()))
    (_, s, e), = tlv_walk(d)
    tbs = tlv_walk(d[s:e])[0]
    for tag, fs, fe in tlv_walk(d[s:e][tbs[1]:tbs[2]]):
        if tag == 0xa3:
            return d[s:e][tbs[1]:tbs[2]][fs:fe]
    return None


def ip_san_seeds():
    v4 = bytes([127, 0, 0, 1]) + bytes(12)
    v6 = bytes(15) + b"\x01"
    other = bytes([10, 0, 0, 1]) + bytes(12)
    seeds = {}
    certs = os.path.join(ROOT, "tests", "certs")
    for f in sorted(os.listdir(certs)):
        if f.endswith(".pem") and "key" not in f:
            e = cert_exts(os.path.join(certs, f))
            if e:
                base = f[:-4]
                seeds[base + ".v4"] = b"\x00" + v4 + e
                seeds[base + ".v6"] = b"\x01" + v6 + e
                seeds[base + ".other"] = b"\x00" + other + e
    ip4 = der(0x87, bytes([127, 0, 0, 1]))
    dns = der(0x82, b"localhost")
    bc = der(0x30, BC_OID + der(0x01, b"\xff") + der(0x04, der(0x30, b"")))
    seeds.update({
        "ip4-only": b"\x00" + v4 + exts(san(ip4)),
        "ip4-critical": b"\x00" + v4 + exts(san(dns + ip4, critical=True)),
        "ip4-after-bc": b"\x00" + v4 + exts(bc, san(dns + ip4)),
        "ip4-wrapped-a3": b"\x00" + v4 + der(0xa3, exts(san(ip4))),
        "ip4-as-16-bytes": b"\x01" + v4 + exts(san(ip4)),
        "ip5": b"\x00" + v4 + exts(san(der(0x87, bytes([127, 0, 0, 1, 0])))),
        "ip6-mapped": b"\x01" + bytes(10) + b"\xff\xff\x7f\x00\x00\x01"
        + exts(san(der(0x87, bytes(10) + b"\xff\xff\x7f\x00\x00\x01"))),
        "two-sans": b"\x00" + v4 + exts(san(dns), san(ip4)),
        "truncated": b"\x00" + v4 + exts(san(dns + ip4))[:-2],
        "long-length": b"\x00" + v4 + b"\x30\x84\xff\xff\xff\xff" + san(ip4),
        "empty": b"\x00" + v4,
        "ip-in-dns-tag": b"\x00" + v4 + exts(san(der(0x82, bytes([127, 0, 0, 1])))),
        "constructed-ip-tag": b"\x00" + v4 + exts(san(der(0xa7, ip4))),
    })
    for name, data in seeds.items():
        write("ip_san", name, data)
    return len(seeds)


def main():
    n = client_seeds() + server_seeds() + template_seeds() + ip_san_seeds()
    print("%d seeds written under %s" % (n, CORPUS))
    return 0


if __name__ == "__main__":
    sys.exit(main())

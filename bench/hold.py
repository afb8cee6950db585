"""Holds K TLS connections to a server open, for heap-per-connection figures.

usage: hold.py PORT CA K idle|inflight

Opens K connections one after the other (one full handshake at a time), makes one
GET / on each (read whole: the connection is then an idle keep-alive one), and for
"inflight" then starts a POST /count on each whose body is announced (100 bytes)
but not sent whole, so every connection has a request in flight on the server.
Holds them 0.5 s, closes them and prints "held K MODE".
"""
import socket
import ssl
import sys
import time

port, ca, k, mode = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
conns = []
for _ in range(k):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                        server_hostname="localhost")
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
            .split(b":")[1])
    while len(body) < n:
        body += s.recv(65536)
    conns.append(s)
if mode == "inflight":
    for s in conns:
        s.sendall(b"POST /count HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n" +
                  b"x" * 10)
time.sleep(0.5)
for s in conns:
    s.close()
print("held %d %s" % (k, mode))

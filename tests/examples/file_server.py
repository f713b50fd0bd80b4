#!/usr/bin/env python3
"""file_server.py SERVER - checks examples/file_server.c from outside, as a
client would: exact bodies and headers of GET and HEAD, keep-alive with
pipelined requests, every way out of the root refused (.., encoded ..,
symlinks, a FIFO that would block an open), malformed requests answered
and the connection closed. The server is told how many connections to
expect and must then exit 0."""
import os
import socket
import subprocess
import sys
import tempfile

server_bin = sys.argv[1]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def read_response(f, head_only=False):
    """(status, headers dict lowercased, body) or None at end of stream."""
    line = f.readline()
    if not line:
        return None
    parts = line.decode().rstrip("\r\n").split(" ", 2)
    status = int(parts[1])
    headers = {}
    while True:
        h = f.readline().decode()
        if h in ("\r\n", ""):
            break
        k, v = h.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    body = b"" if head_only else f.read(n)
    return status, headers, body


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    return s, s.makefile("rb")


with tempfile.TemporaryDirectory() as top:
    root = os.path.join(top, "root")
    os.mkdir(root)
    files = {
        "index.html": b"<h1>weft</h1>\n",
        "a.txt": b"alpha\n",
        "empty": b"",
        "sp ace.txt": b"space\n",
        "big.bin": os.urandom(300_000),
        "docs/index.html": b"docs\n",
    }
    os.mkdir(os.path.join(root, "docs"))
    os.mkdir(os.path.join(root, "sub"))
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as out:
            out.write(data)
    with open(os.path.join(top, "secret"), "wb") as out:
        out.write(b"secret\n")
    os.symlink(os.path.join(top, "secret"), os.path.join(root, "out"))
    os.symlink("../secret", os.path.join(root, "up"))
    os.symlink("a.txt", os.path.join(root, "in"))
    os.mkfifo(os.path.join(root, "fifo"))

    # Each entry: one connection, the raw bytes sent, then a checker that
    # reads the responses.
    def pipelined(s, f):
        s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /in HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /sp%20ace.txt?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = read_response(f)
        check(r[0] == 200 and r[2] == files["a.txt"], "pipelined a.txt: %r" % (r,))
        check(r[1].get("content-type") == "text/plain", "a.txt's type: %r" % r[1])
        check("last-modified" in r[1], "a.txt's Last-Modified")
        r = read_response(f, head_only=True)
        check(r[0] == 200 and r[1].get("content-length") == "300000", "HEAD big.bin: %r" % (r[:2],))
        r = read_response(f)
        check(r[0] == 200 and r[2] == files["big.bin"], "GET big.bin after HEAD")
        r = read_response(f)
        check(r[0] == 200 and r[2] == b"" and r[1].get("content-length") == "0", "empty file: %r" % (r,))
        r = read_response(f)
        check(r[0] == 404, "404 keeps the connection: %r" % (r,))
        r = read_response(f)
        check(r[0] == 200 and r[2] == files["a.txt"], "a link inside the root: %r" % (r,))
        r = read_response(f)
        check(r[0] == 200 and r[2] == files["sp ace.txt"], "escaped name, query dropped: %r" % (r,))
        check(r[1].get("connection") == "close", "Connection: close answered")
        check(f.read() == b"", "closed after Connection: close")

    def one(target, want_status, want_body=None, method="GET"):
        def run(s, f):
            s.sendall(b"%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                      % (method.encode(), target.encode()))
            r = read_response(f, head_only=method == "HEAD")
            check(r is not None and r[0] == want_status,
                  "%s %s: want %d, got %r" % (method, target, want_status, r and r[:2]))
            if want_body is not None and r:
                check(r[2] == want_body, "%s body" % target)
            check(f.read() == b"", "%s: closed after the response" % target)
        return run

    def raw(data, want_status, closes=True):
        def run(s, f):
            s.sendall(data)
            r = read_response(f)
            check(r is not None and r[0] == want_status,
                  "%r: want %d, got %r" % (data[:40], want_status, r and r[:2]))
            if closes:
                check(f.read() == b"", "%r: closed after an error" % data[:40])
        return run

    def method_not_allowed(s, f):
        s.sendall(b"DELETE /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = read_response(f)
        check(r[0] == 405 and r[1].get("allow") == "GET, HEAD", "405 with Allow: %r" % (r[:2],))
        r = read_response(f)
        check(r[0] == 200 and r[2] == files["a.txt"], "the connection goes on after 405")

    def http10(s, f):
        s.sendall(b"GET /a.txt HTTP/1.0\r\n\r\n")
        r = read_response(f)
        check(r[0] == 200 and r[2] == files["a.txt"], "HTTP/1.0 GET")
        check(f.read() == b"", "HTTP/1.0 closes without keep-alive")

    def http10_keep(s, f):
        s.sendall(b"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                  b"GET /a.txt HTTP/1.0\r\n\r\n")
        for i in range(2):
            r = read_response(f)
            check(r is not None and r[0] == 200 and r[2] == files["a.txt"], "HTTP/1.0 keep-alive %d" % i)
        check(f.read() == b"", "HTTP/1.0 closes after the last")

    cases = [
        pipelined,
        one("/", 200, files["index.html"]),
        one("/docs", 200, files["docs/index.html"]),
        one("/docs/", 200, files["docs/index.html"]),
        one("/sub/", 404),
        one("/../secret", 403),
        one("/%2e%2e/secret", 403),
        one("/sub/../../secret", 403),
        one("/out", 403),
        one("/up", 403),
        one("//etc/passwd", 404),  # relative to the root: root/etc/passwd
        one("/fifo", 403),
        one("/big.bin", 200, files["big.bin"]),
        one("/a.txt", 200, b"", method="HEAD"),
        method_not_allowed,
        http10,
        http10_keep,
        raw(b"GET /%zz HTTP/1.1\r\n\r\n", 400),
        raw(b"GET /a%00b HTTP/1.1\r\n\r\n", 400),
        raw(b"GET a.txt HTTP/1.1\r\n\r\n", 400),
        raw(b"GET / HTTP/2.0\r\n\r\n", 505),
        raw(b"GET / FOO/1.1\r\n\r\n", 400),
        raw(b"GET /a.txt HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 413),
        raw(b"GET / HTTP/1.1\r\nX: " + b"y" * 9000 + b"\r\n\r\n", 431),
    ]

    proc = subprocess.Popen([server_bin, root, "0", "2", str(len(cases))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline().decode()
    if not first.startswith("Serving on http://127.0.0.1:"):
        print("server did not start:", first, proc.stderr.read().decode())
        sys.exit(1)
    port = int(first.split(":")[2].split("/")[0])
    for case in cases:
        s, f = connect(port)
        s.settimeout(30)
        try:
            case(s, f)
        finally:
            f.close()
            s.close()
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = "hung"
    check(rc == 0, "server exit: %r (%s)" % (rc, proc.stderr.read().decode()))

if failures:
    print("%d failures" % len(failures))
    sys.exit(1)
print("file_server ok (%d connections)" % len(cases))

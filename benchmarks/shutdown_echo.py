#!/usr/bin/env python3
# shutdown_echo.py SERVER - time the SIGTERM recipe of examples/echo_server.c with
# 200 idle connections and a 2 s grace period: from the signal to the exit,
# and how many connections the server closed. Prints one line of figures.
import socket, subprocess, sys, time, signal, re
srv = subprocess.Popen([sys.argv[1], "0", "0", "2000"], stdout=subprocess.PIPE, text=True)
first = srv.stdout.readline()
port = int(re.search(r"(\d+)\)$", first.strip()).group(1))
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
busy = conns[:100]
time.sleep(0.2)  # let the accepts land (measurement script, not a test)
t0 = time.monotonic()
srv.send_signal(signal.SIGTERM)
rc = srv.wait()
dt = time.monotonic() - t0
closed = 0
for c in conns:
    c.settimeout(1)
    try:
        if c.recv(1) == b"": closed += 1
    except Exception:
        closed += 1
print(f"exit={rc} shutdown_s={dt:.3f} grace_s=2.000 over_grace_ms={(dt-2)*1000:.1f} connections_closed={closed}/200")

#!/bin/sh
# echo.sh SERVER CLIENT - runs the asyncio-docs echo pair and checks both
# sides print what asyncio's versions print.
set -eu
server=$1 client=$2
out=$(mktemp -d)
trap 'kill $spid 2>/dev/null || true; rm -rf "$out"' EXIT
# Port 0: the server picks a free port and prints it first; it exits after
# two connections. Its output goes through a FIFO so the port is read as
# soon as it is printed, without polling.
mkfifo "$out/fifo"
"$server" 0 2 >"$out/fifo" &
spid=$!
exec 3<"$out/fifo"
IFS= read -r first <&3
port=$(printf '%s\n' "$first" | sed -n "s/^Serving on ('127.0.0.1', \([0-9]*\))$/\1/p")
[ -n "$port" ] || { echo "server did not start: $first"; exit 1; }
"$client" "$port" >"$out/c1"
"$client" "$port" "second" >"$out/c2"
cat <&3 >"$out/server"
wait $spid
printf "Send: 'Hello World!'\nReceived: 'Hello World!'\nClose the connection\n" | cmp - "$out/c1"
printf "Send: 'second'\nReceived: 'second'\nClose the connection\n" | cmp - "$out/c2"
grep -q "^Received 'Hello World!' from ('127.0.0.1', [0-9]*)$" "$out/server"
grep -q "^Send: 'second'$" "$out/server"
[ "$(grep -c '^Close the connection$' "$out/server")" = 2 ]
echo "echo pair ok"

#!/usr/bin/env bash
# run-local.sh N PORT: starts N wasm-sandbox replicas on loopback ports and HAProxy on
# 127.0.0.1:PORT in front of them (deploy/haproxy/haproxy.cfg), prints `replica NAME PID PORT`
# for each and `haproxy PID ADMIN-SOCKET`, then one line `ready` once HAProxy sees every
# replica healthy; stops everything it started on SIGTERM, SIGINT (Ctrl-C) or when HAProxy ends.
#
# The server is $WASM_SANDBOX (default: the checkout's release build, else its debug build);
# extra arguments for every replica come from $WASM_SANDBOX_ARGS.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
[ $# -eq 2 ] || { echo "usage: $0 REPLICAS PORT" >&2; exit 64; }
replicas=$1
port=$2
[[ "$replicas" =~ ^[1-9][0-9]?$ ]] || { echo "REPLICAS must be 1 to 99, got '$replicas'" >&2; exit 64; }
[[ "$port" =~ ^[0-9]{1,5}$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
  { echo "PORT must be 1 to 65535, got '$port'" >&2; exit 64; }
server=${WASM_SANDBOX:-}
if [ -z "$server" ]; then
  server=$root/.build/release/wasm-sandbox
  [ -x "$server" ] || server=$root/.build/debug/wasm-sandbox
fi
[ -x "$server" ] || { echo "no wasm-sandbox at $server: build it, or set WASM_SANDBOX" >&2; exit 1; }
command -v haproxy >/dev/null || { echo "haproxy not found: apt-get install haproxy" >&2; exit 1; }

work=$(mktemp -d)
pids=()
stop() {
  trap - TERM INT EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap 'stop; exit 0' TERM INT
trap stop EXIT

servers=""
use_servers=""
for i in $(seq 1 "$replicas"); do
  # shellcheck disable=SC2086
  "$server" serve --http 127.0.0.1:0 --log-level notice ${WASM_SANDBOX_ARGS:-} 2>"$work/r$i.log" &
  pids+=($!)
  for _ in $(seq 1 600); do
    replica_port=$(grep -oE 'http://127\.0\.0\.1:[0-9]+/mcp' "$work/r$i.log" | head -1 | sed -E 's/.*:([0-9]+)\/mcp/\1/' || true)
    [ -n "$replica_port" ] && break
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/r$i.log" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$replica_port" ] || { echo "replica r$i did not start" >&2; exit 1; }
  echo "replica r$i ${pids[-1]} $replica_port"
  servers+="    server r$i 127.0.0.1:$replica_port check"$'\n'
  use_servers+="    use-server r$i if { var(txn.replica) -m str r$i }"$'\n'
done

awk -v bind="127.0.0.1:$port" -v dir="$work" -v servers="$servers" -v use="$use_servers" '
  { gsub(/@BIND@/, bind); gsub(/@DIR@/, dir) }
  /^@SERVERS@$/ { printf "%s", servers; next }
  /^@USE_SERVERS@$/ { printf "%s", use; next }
  { print }' "$here/haproxy.cfg" >"$work/haproxy.cfg"
haproxy -f "$work/haproxy.cfg" -db 2>"$work/haproxy.log" &
haproxy_pid=$!
pids+=("$haproxy_pid")

# Ready when HAProxy reports every replica UP (its stats socket, read with Python's stdlib).
for _ in $(seq 1 600); do
  up=$(python3 - "$work/admin.sock" <<'PY' 2>/dev/null || echo 0
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
print(sum(1 for line in data.decode().splitlines() if line.startswith("replicas,r") and ",UP," in line))
PY
)
  [ "$up" = "$replicas" ] && break
  kill -0 "$haproxy_pid" 2>/dev/null || { cat "$work/haproxy.log" >&2; exit 1; }
  sleep 0.2
done
[ "$up" = "$replicas" ] || { echo "HAProxy did not see all $replicas replicas up" >&2; exit 1; }
echo "haproxy $haproxy_pid $work/admin.sock"
echo ready
wait "$haproxy_pid"

#!/usr/bin/env bash
# ringpost's SMTP client alone against smtp-source, same sink, same run (issue 11's third
# target). The spool is filled first while the sink is down (every message deferred), the
# server is stopped, the sink started, and the server started again over the same spool: from
# that start until the sink has counted all N is recovery + reading bodies back from disk +
# SMTP, with no HTTP and no fsync in the way. Then smtp-source -s 20 -d (20 sessions, like
# ringpost's max_connections) sends the same N messages of the same size to a fresh sink.
# Usage (root): bench/compare/client_only.sh [N=50000] [SIZE=1024]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-50000}
size=${2:-1024}
[ -x build/engine/ringpost ] || { echo "build first" >&2; exit 1; }
work=$(mktemp -d /var/tmp/ringpost-client-only-XXXXXX)
cp build/engine/ringpost "$work/ringpost"
bin=$work/ringpost
cleanup() { for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"; }
trap cleanup EXIT
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=$(port); sinkp=$(port)
cat > "$work/ringpost.toml" <<TOML
[server]
http_listen = "127.0.0.1:$http"
spool_dir = "$work/spool"
[defaults]
retry = ["1h"]
max_connections = 20
[domains."sink.test"]
route = "127.0.0.1:$sinkp"
TOML
wait_http() { for _ in $(seq 200); do curl -sf "127.0.0.1:$http/healthz" >/dev/null && return 0; sleep 0.05; done; return 1; }
stat_field() { curl -s "127.0.0.1:$http/v1/stats" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['recipients']['$1'])"; }

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); cores: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg); N=$n size=$size"
"$bin" serve --config "$work/ringpost.toml" > "$work/fill.log" 2>&1 &
server=$!
wait_http || { echo "server did not start" >&2; exit 1; }
/usr/bin/python3 - "$http" "$n" "$size" <<'PY'
import http.client, json, sys
port, n, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port)
body_text = "x" * max(0, size - 200)
for b in range(0, n, 1000):
    msgs = [{"from": "a@bench.test", "to": [f"u{b + i}@sink.test"], "subject": "s", "text": body_text}
            for i in range(min(1000, n - b))]
    c.request("POST", "/v1/messages/batch", json.dumps({"messages": msgs}), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 202, r.status
PY
for _ in $(seq 600); do [ "$(stat_field deferred)" -ge "$n" ] && break; sleep 0.1; done
kill -TERM $server; wait $server || true

"$bin" sink --listen "127.0.0.1:$sinkp" --messages "$n" --json > "$work/sink1.json" 2>/dev/null &
sink=$!
sleep 0.3
t0=$(date +%s.%N)
"$bin" serve --config "$work/ringpost.toml" > "$work/deliver.log" 2>&1 &
server=$!
wait $sink
t1=$(date +%s.%N)
kill -TERM $server; wait $server || true

"$bin" sink --listen "127.0.0.1:$sinkp" --messages "$n" --json > "$work/sink2.json" 2>/dev/null &
sink=$!
sleep 0.3
t2=$(date +%s.%N)
smtp-source -s 20 -d -l "$size" -m "$n" -f a@bench.test -t u@sink.test "127.0.0.1:$sinkp"
wait $sink
t3=$(date +%s.%N)
# The sink's own clock for the end (its last accepted message): the sink process itself may
# take a moment to exit after counting the last one, which is not the MTA's time.
/usr/bin/python3 - "$n" "$t0" "$t2" "$work/sink1.json" "$work/sink2.json" <<'PY'
import json, sys
n, t0, t2 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
end1 = json.load(open(sys.argv[4]))["last_message_unix_ms"] / 1000
end2 = json.load(open(sys.argv[5]))["last_message_unix_ms"] / 1000
r, s = n / (end1 - t0), n / (end2 - t2)
print(f"ringpost client alone (start over a filled spool → sink's last message): {r:,.0f} msgs/s ({end1 - t0:.2f} s, incl. start-up and recovery)")
print(f"smtp-source -s 20 -d → same sink:                                        {s:,.0f} msgs/s ({end2 - t2:.2f} s)")
print(f"ratio ringpost / smtp-source: {r / s:.2f}")
PY

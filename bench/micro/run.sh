#!/usr/bin/env bash
# Runs micro_bench once and prints the machine, Google Benchmark's own table, then a short table
# per area with the same-run ratios (mailbox vs mutex+deque, group commit vs write+fdatasync per
# record, framing vs a plain copy, pipelining on vs off). The machine is shared and noisy: only
# ratios from one run mean much; the absolute rates move between runs.
# Usage: bench/micro/run.sh [build-dir] [min seconds per benchmark] [extra micro_bench flags...]
#   e.g. bench/micro/run.sh build 0.2 --benchmark_filter=Spool
# The disk benchmarks write under $RINGPOST_BENCH_DIR (default /var/tmp); keep it off tmpfs.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
secs=${2:-0.5}
shift $(( $# < 2 ? $# : 2 ))
bin=$build/bench/micro/micro_bench
[ -x "$bin" ] || { echo "no $bin; build it: cmake --build $build --target micro_bench" >&2; exit 1; }
out=$(mktemp -d /tmp/ringpost-micro-bench-XXXXXX)
trap 'rm -rf "$out"' EXIT

spool_dir=${RINGPOST_BENCH_DIR:-/var/tmp}
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "no git")
git diff --quiet HEAD 2>/dev/null || commit="$commit + uncommitted changes"
echo "date: $(date '+%Y-%m-%d %H:%M:%S %Z'); commit: $commit"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); cores: $(nproc); kernel: $(uname -r)"
echo "governor: $(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null || echo n/a); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "spool dir: $spool_dir ($(df -T "$spool_dir" | awk 'NR==2 {print $1 ", " $2}')); min_time: ${secs}s per benchmark"
echo

# A bounded min_time keeps the whole run near a minute: about 50 benchmarks, each run for
# min_time after Google Benchmark's short sizing runs.
"$bin" --benchmark_min_time="$secs" --benchmark_out="$out/bench.json" --benchmark_out_format=json "$@" \
  > "$out/bench.console" 2>&1 || { cat "$out/bench.console"; exit 1; }
sed -n '/^Benchmark/,$p' "$out/bench.console" | grep -v '^-' || true
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

/usr/bin/python3 - "$out/bench.json" <<'PY'
import json, re, sys

runs = json.load(open(sys.argv[1]))["benchmarks"]
NS = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
reps = {}  # name -> one dict per repetition (the two-thread benchmarks run 5 times)
for b in runs:
    if b.get("run_type") == "aggregate" or b.get("error_occurred"):
        continue
    name = b["name"]
    real = name.endswith("/real_time")  # UseRealTime(): the thread sleeps or waits on another
    name = re.sub(r"/repeats:\d+", "", name.removesuffix("/real_time"))
    t = (b["real_time"] if real else b["cpu_time"]) * NS[b["time_unit"]]
    reps.setdefault(name, []).append({"ns": t, "items": b.get("items_per_second"),
                                      "bytes": b.get("bytes_per_second"), "fsync": b.get("fdatasync_per_commit")})

def median(xs):
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if xs else None

B = {n: {k: median([r[k] for r in rs]) for k in rs[0]} for n, rs in reps.items()}

def spread(name):
    """min-max of items/s over the repetitions, as a share of the median ("" for single runs)."""
    xs = [r["items"] for r in reps.get(name, []) if r["items"]]
    return f" ±{(max(xs) - min(xs)) / 2 / median(xs):.0%}" if len(xs) > 1 else ""

def get(name, key="ns"):
    v = B.get(name, {}).get(key)
    return float("nan") if v is None else v

def ratio(a, b):
    return a / b if b == b and b else float("nan")

def fmt_ns(ns):
    return f"{ns / 1e3:,.1f} us" if ns >= 1e4 else f"{ns:,.0f} ns"

def rate(v, unit):
    if v != v:
        return "-"
    for div, pre in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{v / div:,.2f} {pre}{unit}"
    return f"{v:,.0f} {unit}"

def section(title, header, rows):
    print(f"## {title}")
    print(" | ".join(header))
    for r in rows:
        print(" | ".join(r))
    print()

names = list(B)
section("reply parser (CPU time)", ["benchmark", "ns/op", "replies/s", "bytes/s", "ns/reply"],
        [[n, fmt_ns(get(n)), rate(get(n, "items"), "/s"), rate(get(n, "bytes"), "B/s"),
          f"{1e9 / get(n, 'items'):,.0f}"] for n in names if n.startswith("BM_ReplyParse/")])

rows = []
for n in names:
    if n.startswith("BM_SessionTransaction/pipelining:1") or n.startswith("BM_SessionConnection/pipelining:1"):
        off = n.replace("pipelining:1", "pipelining:0")
        rows.append([n.replace("pipelining:1", "pipelining:1|0"), f"{fmt_ns(get(n))} | {fmt_ns(get(off))}",
                     f"{rate(get(n, 'items'), '/s')} | {rate(get(off, 'items'), '/s')}",
                     f"{ratio(get(n, 'items'), get(off, 'items')):.2f}"])
section("SMTP session, scripted server, 1 KiB message (CPU time; no network, so pipelining's gain "
        "on the wire is not here)", ["benchmark", "ns/op on|off", "ops/s on|off", "on/off"], rows)

rows = []
for n in names:
    if n.split("/")[0] in ("BM_DotStuff", "BM_BdatFrame", "BM_BodyScan"):
        base = "BM_CopyBaseline/" + n.split("/", 1)[1]
        rows.append([n, fmt_ns(get(n)), rate(get(n, "bytes"), "B/s"), rate(get(base, "bytes"), "B/s"),
                     f"{ratio(get(n), get(base)):.1f}x"])
section("framing (CPU time; baseline = appending the same bytes to a warm buffer, in cache)",
        ["benchmark", "ns/op", "bytes/s", "copy bytes/s", "time vs copy"], rows)

section("HTTP API work per request (CPU time)", ["benchmark", "time/op", "messages/s", "bytes/s"],
        [[n, fmt_ns(get(n)), rate(get(n, "items"), "/s"), rate(get(n, "bytes"), "B/s")]
         for n in names if n.split("/")[0] in ("BM_ParseSubmit", "BM_ParseBatch", "BM_RenderMessage", "BM_DkimSign")])

rows = []
for n in names:
    if n.startswith("BM_QueueHandoff/mailbox") or n.startswith("BM_QueuePushDrain/mailbox"):
        base = n.replace("/mailbox/", "/mutex_deque/")
        rows.append([n.replace("/mailbox/", "/mailbox|mutex_deque/"),
                     f"{1e9 / get(n, 'items'):,.1f} | {1e9 / get(base, 'items'):,.1f}",
                     f"{rate(get(n, 'items'), '/s')}{spread(n)} | {rate(get(base, 'items'), '/s')}{spread(base)}",
                     f"{ratio(get(n, 'items'), get(base, 'items')):.2f}"])
    elif n.startswith("BM_MailboxRingWake"):
        rows.append([n, f"{1e9 / get(n, 'items'):,.1f} (one wakeup round trip: {fmt_ns(get(n))})",
                     rate(get(n, "items"), "/s") + spread(n), "-"])
section("thread handoff (QueueHandoff, RingWake: real time, median of 5 runs, ± half their min-max "
        "spread; PushDrain: CPU time, one thread)",
        ["benchmark", "ns/item mailbox|mutex", "items/s mailbox|mutex", "mailbox/mutex"], rows)

rows = []
for n in names:
    if n.startswith("BM_SpoolEncode/"):
        rows.append([n, fmt_ns(get(n)), rate(get(n, "items"), "records/s"), "-", "-"])
per_record = get("BM_SpoolWriteFdatasync/records:1", "items")
for n in names:
    if n.startswith("BM_SpoolGroupCommit/"):
        blocking = n.replace("BM_SpoolGroupCommit", "BM_SpoolWriteFdatasync")
        rows.append([n, f"{fmt_ns(get(n))} per commit ({get(n, 'fsync'):.2f} fdatasync)",
                     rate(get(n, "items"), "records/s"), f"{ratio(get(n, 'items'), per_record):,.1f}",
                     f"{ratio(get(n, 'items'), get(blocking, 'items')):.2f}"])
    elif n.startswith("BM_SpoolWriteFdatasync/"):
        rows.append([n, f"{fmt_ns(get(n))} per write+fdatasync", rate(get(n, "items"), "records/s"),
                     f"{ratio(get(n, 'items'), per_record):,.1f}", "-"])
section("spool (encode: CPU time; disk: real time; 1 KiB body per record)",
        ["benchmark", "time/op", "records/s", "vs fdatasync per record", "ring vs blocking, same batch"], rows)

rows = []
for n in names:
    if n.startswith("BM_RulesMatch/"):
        each = n.replace("BM_RulesMatch/", "BM_RulesMatchEach/")
        std = n.replace("BM_RulesMatch/", "BM_RulesMatchStdRegex/")
        rows.append([n, fmt_ns(get(n)), fmt_ns(get(each)), fmt_ns(get(std)), f"{ratio(get(std), get(n)):,.0f}x"])
section("back-off rules, all defaults per failing reply (CPU time; must stay under 2 us, docs/shaping.md)",
        ["benchmark", "RE2 set, first 512 B", "RE2 rule by rule", "std::regex, whole reply", "std::regex / set"], rows)
PY

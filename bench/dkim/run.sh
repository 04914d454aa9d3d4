#!/usr/bin/env bash
# DKIM signing cost next to the physical limit of the crypto, measured in the same run: the
# machine is shared and noisy, so only same-run ratios mean anything. Runs `openssl speed` (one
# core) before and after dkim_bench and prints, per algorithm and body size, our signatures/s
# per core against openssl's (issue 19's targets: >= 0.8x RSA, >= 0.5x Ed25519 at 1 KiB; exit 1
# below them), two threads sharing one key, dual signing, the body hash alone, and libopendkim
# (the signer used before, ADR 0003) for comparison.
# Usage: bench/dkim/run.sh [build-dir] [seconds per benchmark]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}  # the folder scripts/build.sh makes
secs=${2:-2}
bin=$build/bench/dkim/dkim_bench
[ -x "$bin" ] || { echo "no $bin; build it: ninja -C $build dkim_bench" >&2; exit 1; }
out=$(mktemp -d /tmp/ringpost-dkim-bench-XXXXXX)
trap 'rm -rf "$out"' EXIT

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); cores: $(nproc); kernel: $(uname -r)"
echo "governor: $(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null || echo n/a); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(openssl version); benchmark seconds: $secs"
openssl speed -seconds "$secs" rsa2048 rsa1024 ed25519 > "$out/speed1.txt" 2>/dev/null
"$bin" --benchmark_min_time="$secs" --benchmark_out="$out/bench.json" --benchmark_out_format=json \
  > "$out/bench.console" 2>&1
openssl speed -seconds "$secs" rsa2048 rsa1024 ed25519 > "$out/speed2.txt" 2>/dev/null
sed -n '/^Benchmark/,$p' "$out/bench.console" | grep -v '^-' || true
echo

/usr/bin/python3 - "$out" <<'PY'
import json, re, sys
out = sys.argv[1]

def speed(path):
    """sign/s per algorithm from `openssl speed` (OpenSSL 3.0 table layout)."""
    text = open(path).read()
    rates = {}
    for bits, sign in re.findall(r"^rsa\s+(\d+) bits\s+\S+s\s+\S+s\s+([\d.]+)", text, re.M):
        rates["rsa" + bits] = float(sign)
    m = re.search(r"EdDSA \(Ed25519\)\s+\S+s\s+\S+s\s+([\d.]+)", text)
    if m:
        rates["ed25519"] = float(m.group(1))
    return rates

s1, s2 = speed(f"{out}/speed1.txt"), speed(f"{out}/speed2.txt")
bench = {b["name"]: b for b in json.load(open(f"{out}/bench.json"))["benchmarks"]}
def cpu(name):
    b = bench.get(name)
    return b["cpu_time"] if b else float("nan")  # unit: us (set in the benchmark)

def total_rate(name):
    b = bench.get(name)
    return b.get("items_per_second", float("nan")) if b else float("nan")

ref = {}
for alg in ("rsa2048", "rsa1024", "ed25519"):
    a, b = s1.get(alg, float("nan")), s2.get(alg, float("nan"))
    ref[alg] = (a + b) / 2
    print(f"openssl speed {alg}: {a:.0f} / {b:.0f} sign/s before/after (drift {abs(a - b) / ref[alg]:.1%})")
print()
targets = {"rsa2048": 0.8, "rsa1024": 0.8, "ed25519": 0.5}
print(f"{'algorithm':9} {'body':>7} {'ours':>9} {'sig/s/core':>11} {'vs openssl':>10} {'target':>7} "
      f"{'libopendkim':>12} {'ours faster':>11}")
failed = []
for alg in ("rsa2048", "rsa1024", "ed25519"):
    for body in (1024, 10240, 102400):
        t = cpu(f"BM_DkimSign/{alg}/body:{body}")
        ratio = (1e6 / t) / ref[alg]
        old = cpu(f"BM_Opendkim/{alg}/body:{body}")
        mark = ""
        if body == 1024:
            mark = f">={targets[alg]}"
            if not ratio >= targets[alg]:
                failed.append(f"{alg} at 1 KiB: {ratio:.2f}x openssl speed, target {targets[alg]}")
        print(f"{alg:9} {body:>7} {t:>6.0f} us {1e6 / t:>11.0f} {ratio:>9.2f}x {mark:>7} "
              + (f"{old:>9.0f} us {old / t:>10.1f}x" if old == old else f"{'':>12} {'':>11}"))
    two = total_rate(f"BM_DkimSign/{alg}/body:1024/real_time/threads:2")
    print(f"{alg:9} {'2 thr':>7} {'':>9} {two:>11.0f} {two / (2 * ref[alg]):>9.2f}x  (two threads sharing one key, "
          f"total over 2x openssl speed)")
for body in (1024, 10240, 102400):
    t = cpu(f"BM_DkimSignDual/rsa2048+ed25519/body:{body}")
    bare = 1e6 / ref["rsa2048"] + 1e6 / ref["ed25519"]
    print(f"dual rsa2048+ed25519, body {body:>6}: {t:.0f} us per message = {t / bare:.2f}x the two bare signatures "
          f"({bare:.0f} us)")
for body in (1024, 10240, 102400):
    print(f"body hash {body:>6}: simple {cpu(f'BM_BodyHash/simple/body:{body}'):.1f} us, "
          f"relaxed {cpu(f'BM_BodyHash/relaxed/body:{body}'):.1f} us")
for alg in ("rsa2048", "ed25519"):
    print(f"signature step alone ({alg}, context ready): {cpu(f'BM_CryptoOnly/{alg}'):.0f} us; "
          f"PEM parse libopendkim repeats per signature: {cpu(f'BM_KeyParse/{alg}'):.0f} us")
print("ours = dkim::Signer per message (split, body hash, header hash, signature) on one core;")
print("vs openssl = its signatures/s over `openssl speed` sign/s in this run; targets (issue 19):")
print(">= 0.8x for RSA, >= 0.5x for Ed25519 at 1 KiB; libopendkim = the signer used before (ADR 0003).")
if failed:
    print("BELOW TARGET: " + "; ".join(failed))
    sys.exit(1)
PY

#!/usr/bin/env bash
# DKIM signing cost next to the physical limit of the crypto, measured in the same run: the
# machine is shared and noisy, so only same-run ratios mean anything. Runs `openssl speed` (one
# core) before and after dkim_bench and prints, per algorithm, libopendkim's signatures/s per
# core against openssl's, and the share of libopendkim's time that is not the signature itself.
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
def us(name):
    b = bench.get(name)
    return b["cpu_time"] if b else float("nan")  # unit: us (set in the benchmark)

print(f"{'algorithm':9} {'body':>7} {'libopendkim':>12} {'sig/s/core':>11} {'openssl speed':>14} "
      f"{'ratio':>7} {'sign':>8} {'key parse':>10} {'1st use':>8} {'dkim':>8}")
for alg in ("rsa2048", "rsa1024", "ed25519"):
    ref = (s1.get(alg, float("nan")) + s2.get(alg, float("nan"))) / 2
    drift = abs(s1.get(alg, 0) - s2.get(alg, 0)) / ref if ref == ref and ref else float("nan")
    parse, crypto = us(f"BM_KeyParse/{alg}"), us(f"BM_CryptoOnly/{alg}")
    fresh = us(f"BM_ParseAndSign/{alg}")  # parse + a signature with the fresh key
    for body in (1024, 102400):
        t = us(f"BM_DkimSign/{alg}/body:{body}")
        rate = 1e6 / t
        print(f"{alg:9} {body:>7} {t:>9.0f} us {rate:>11.0f} {ref:>10.0f} sig/s {rate / ref:>7.3f} "
              f"{crypto:>5.0f} us {parse:>7.0f} us {fresh - parse - crypto:>5.0f} us {t - fresh:>5.0f} us")
    print(f"{'':9} openssl speed before/after: {s1.get(alg, 0):.0f} / {s2.get(alg, 0):.0f} sign/s (drift {drift:.1%})")
for body in (1024, 102400):
    t = us(f"BM_DkimSignDual/rsa2048+ed25519/body:{body}")
    print(f"dual rsa2048+ed25519, body {body}: {t:.0f} us per message ({1e6 / t:.0f} messages/s per core)")
print("ratio = libopendkim signatures/s over openssl speed sign/s (1.0 would be the bare crypto).")
print("libopendkim time = sign + key parse + 1st use + dkim, where sign = the signature with a warm")
print("key (dkim_bench's own EVP call), key parse = PEM_read_bio_PrivateKey, which libopendkim")
print("repeats for every signature, 1st use = the extra cost of signing with a freshly parsed key")
print("(RSA Montgomery/blinding setup), dkim = canonicalization, hashing, header handling.")
PY

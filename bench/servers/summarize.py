#!/usr/bin/python3
"""bench/servers/run.sh's arithmetic.

summarize.py DELIVERY_LOG
    one TSV fragment from ringpost's delivery log (docs/delivery-log.md):
    delivered, ms_per_tx, msgs_per_s, attempt_ms, where ms_per_tx is
    (last delivered - first delivered) / (delivered - 1) on ringpost's clock: the time one
    transaction holds the connection, with submission and connection set-up left out.
summarize.py --table RESULTS_TSV
    the results as a Markdown table, the median of the runs per server and binary; with a
    baseline binary, before/after columns and the ratio of the medians.
"""
import csv
import datetime
import json
import statistics
import sys


def parse_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def summarize(path):
    times, attempts = [], []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                e = json.loads(line)
                if e.get("type") != "delivered":
                    continue
                times.append(parse_time(e["time"]))
                if "attempt_ms" in e:
                    attempts.append(e["attempt_ms"])
    except FileNotFoundError:
        pass
    n = len(times)
    if n < 2:
        return "%d\t-\t-\t-" % n
    span_ms = (max(times) - min(times)) * 1000
    per_tx = span_ms / (n - 1)
    rate = 1000 / per_tx if per_tx > 0 else float("inf")
    att = sum(attempts) / len(attempts) if attempts else float("nan")
    return "%d\t%.2f\t%.0f\t%.2f" % (n, per_tx, rate, att)


def table(path):
    """Per server and binary, the median of each column over the runs (a single run: itself)."""
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    order, runs = [], {}
    for r in rows:
        if r["server"] not in order:
            order.append(r["server"])
        runs.setdefault((r["server"], r["binary"]), []).append(r)

    def med(server, binary, key, fmt):
        vals = []
        for r in runs.get((server, binary), []):
            try:
                vals.append(float(r[key]))
            except (KeyError, ValueError):
                pass
        return (fmt % statistics.median(vals)) if vals else "-"

    def far(server, binary):
        rs = runs.get((server, binary), [])
        if not rs:
            return "-"
        return "%d/%d" % (sum(int(r["far"] or 0) for r in rs), sum(int(r["n"]) for r in rs))

    two = any(b == "baseline" for _, b in runs)
    if two:
        print("| server | msgs/s before | msgs/s after | after/before | ms/tx before | ms/tx after "
              "| attempt ms before | attempt ms after | conns | far side (before, after) |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    else:
        print("| server | msgs/s | ms/tx | attempt ms | conns | far side |")
        print("|---|---:|---:|---:|---:|---|")
    for s in order:
        if two:
            rb, rc = med(s, "baseline", "msgs_per_s", "%.1f"), med(s, "current", "msgs_per_s", "%.1f")
            ratio = "%.2fx" % (float(rc) / float(rb)) if "-" not in (rb, rc) and float(rb) > 0 else "-"
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s, %s | %s, %s |" % (
                s, med(s, "baseline", "msgs_per_s", "%.0f"), med(s, "current", "msgs_per_s", "%.0f"), ratio,
                med(s, "baseline", "ms_per_tx", "%.2f"), med(s, "current", "ms_per_tx", "%.2f"),
                med(s, "baseline", "attempt_ms", "%.2f"), med(s, "current", "attempt_ms", "%.2f"),
                med(s, "baseline", "conns", "%.0f"), med(s, "current", "conns", "%.0f"),
                far(s, "baseline"), far(s, "current")))
        else:
            print("| %s | %s | %s | %s | %s | %s |" % (
                s, med(s, "current", "msgs_per_s", "%.0f"), med(s, "current", "ms_per_tx", "%.2f"),
                med(s, "current", "attempt_ms", "%.2f"), med(s, "current", "conns", "%.0f"), far(s, "current")))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--table":
        table(sys.argv[2])
    elif len(sys.argv) == 2:
        print(summarize(sys.argv[1]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The table of bench/compare/run.sh: one row per case from results.tsv, with msgs/s, the ratios
that matter (ringpost / Postfix at the same concurrency, each case / the wire limit) and CPU
microseconds per message for the MTA, the injector and the sink."""
import csv
import sys


def num(v):
    try:
        return float(v)
    except ValueError:
        return None


def us_per_msg(cpu, msgs):
    c = num(cpu)
    return f"{c * 1e6 / msgs:,.0f}" if c is not None and msgs else "-"


rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
for r in rows:
    r["msgs"] = int(r["messages"])
    secs = num(r["seconds"]) or 0
    r["rate"] = r["msgs"] / secs if secs > 0 else 0.0

print()
head = f"{'size':>6} {'case':<14} {'messages':>13} {'s':>7} {'msgs/s':>8} {'/wire':>6} {'rp/pf':>6} " \
       f"{'MTA µs/msg':>10} {'inj µs/msg':>10} {'sink µs/msg':>11} {'conns':>6} {'msgs/conn':>9} {'B/msg':>6}"
print(head)
print("-" * len(head))
for r in rows:
    wire = next((w for w in rows if w["size"] == r["size"] and w["case"] == "wire"), None)
    vs_wire = f"{r['rate'] / wire['rate']:.2f}" if wire and wire["rate"] else "-"
    rp_pf = "-"
    if r["case"].startswith("ringpost"):
        pf = next((p for p in rows if p["size"] == r["size"] and p["case"] == r["case"].replace("ringpost", "postfix")), None)
        if pf and pf["rate"]:
            rp_pf = f"{r['rate'] / pf['rate']:.2f}"
    done = f"{r['msgs']}/{r['n']}"
    conns = int(r["connections"])
    print(f"{int(r['size']):>6} {r['case']:<14} {done:>13} {num(r['seconds']) or 0:>7.2f} {r['rate']:>8.0f} {vs_wire:>6} "
          f"{rp_pf:>6} {us_per_msg(r['mta_cpu_s'], r['msgs']):>10} {us_per_msg(r['injector_cpu_s'], r['msgs']):>10} "
          f"{us_per_msg(r['sink_cpu_s'], r['msgs']):>11} {conns:>6} {r['msgs'] / conns if conns else 0:>9.1f} "
          f"{r['bytes_per_msg']:>6}")
print()
print("msgs/s: N / (sink's last message − first injection). /wire: against smtp-source → sink at that size.")
print("rp/pf: ringpost / Postfix at the same per-destination concurrency. µs/msg: CPU (user + system) per")
print("message: MTA = Postfix's process group or ringpost serve; inj = smtp-source or ringpost bench; sink =")
print("ringpost sink. conns and B/msg (bytes of content per message) are the sink's counts.")
incomplete = [r for r in rows if r["msgs"] < int(r["n"])]
if incomplete:
    print("INCOMPLETE: " + ", ".join(f"{r['case']} at {r['size']} B ({r['msgs']}/{r['n']})" for r in incomplete))
    sys.exit(1)

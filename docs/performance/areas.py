#!/usr/bin/env python3
"""Groups the samples of a `perf record --call-graph dwarf` of `ringpost serve` (docs/performance/run_one.sh
... dwarf) by thread and by area. Inclusive: a sample goes to the innermost frame (leaf first) that
names an area. Self: by the leaf frame's kind.
Usage: perf script -i perf-SIZE-dwarf.data -F tid,ip,sym,dso > script.txt
       areas.py script.txt threads-SIZE-dwarf.txt SHARDS
(threads-*.txt lists the tasks in start order: main, the shards, the front; the busiest shard is
the one with the most CPU.)"""
import re, sys
from collections import Counter, defaultdict

path, threads_file, n_shards = sys.argv[1], sys.argv[2], int(sys.argv[3])
tasks = [l.split() for l in open(threads_file) if not l.startswith("process")]
front = tasks[1 + n_shards][0]
shard = max(tasks[1:1 + n_shards], key=lambda t: int(t[1]))[0]

AREAS = [  # (substring of a frame, area), checked leaf → root, first hit wins
    ("api::parse_batch", "JSON parse + validation (parse_batch, simdjson)"),
    ("api::parse_submit", "JSON parse + validation (parse_batch, simdjson)"),
    ("api::render_message", "MIME rendering (render_message)"),
    ("queue::append_accept", "spool record encode + crc32 (append_accept)"),
    ("queue::append_outcome", "outcome events (apply_events, OUTCOME records)"),
    ("StatusStore::", "status store (StatusStore add/apply/erase)"),
    ("Front::dispatch", "dispatch to shards (jobs, mailbox)"),
    ("Front::apply_events", "outcome events (apply_events, OUTCOME records)"),
    ("Front::feed", "outcome events (apply_events, OUTCOME records)"),
    ("Front::spool_and_answer", "after the commit: 202 answer, bookkeeping"),
    ("SpoolWriter::", "spool write + group commit (SpoolWriter)"),
    ("HttpRequestParser::", "HTTP framing (http-parser, body buffering)"),
    ("http_parser_execute", "HTTP framing (http-parser, body buffering)"),
    # shard side
    ("smtp::scan_body", "SMTP: body scan, dot-stuffing/BDAT framing"),
    ("smtp::ClientSession", "SMTP: session (commands, replies, envelope)"),
    ("smtp::ReplyParser", "SMTP: session (commands, replies, envelope)"),
    ("SmtpConnection::", "SMTP connection I/O glue (SmtpConnection)"),
    ("Site::", "site queue + connection pool (Site)"),
    ("Shard::accept_jobs", "shard: taking jobs from the mailbox"),
    ("Mailbox<", "mailboxes (lock-free queue + eventfd)"),
    ("Ring::run_once", "ring loop: io_uring_enter (kernel: TCP send/recv, submit, wait)"),
]
LEAF = [  # (regex on the leaf symbol, kind)
    (r"^__mem(move|cpy|set)|^__memcpy|^memcpy|_S_copy", "memcpy/memmove/memset"),
    (r"malloc|^_int_|free|^operator new|^operator delete|unlink_chunk|sysmalloc|consolidate|tcache", "malloc/free"),
    (r"is_7bit", "api::is_7bit"),
    (r"to_crlf|line_break_at|is_crlf_at", "api::to_crlf"),
    (r"crc32", "crc32 (zlib)"),
    (r"_Hashtable|unordered_map", "std::unordered_map"),
    (r"simdjson", "simdjson"),
    (r"fmt::", "fmt (formatting)"),
    (r"scan_body|memchr", "scan_body/memchr"),
]

def samples():
    tid, frames = None, []
    for line in open(path, errors="replace"):
        if not line.strip():
            if tid is not None:
                yield tid, frames
            tid, frames = None, []
        elif not line.startswith("\t"):  # "  TID" (padded), then one tab-indented line per frame
            tid = line.split()[0]
        else:
            m = re.match(r"\s*[0-9a-f]+ (.*) \(([^()]*)\)\s*$", line)
            if m:
                frames.append((m.group(1), m.group(2)))
    if tid is not None:
        yield tid, frames

incl = defaultdict(Counter); leaf = defaultdict(Counter); total = Counter(); kern = Counter()
for tid, frames in samples():
    if tid == front:
        who = "front"
    elif tid == shard:
        who = "busiest shard"
    elif any("io_wq" in f[0] or "io_worker" in f[0] for f in frames):
        who = "io_uring worker"
    else:
        who = "other thread"
    total[who] += 1
    area = "other / unresolved stack"
    for sym, dso in frames:
        for key, name in AREAS:
            if key in sym:
                area = name
                break
        else:
            continue
        break
    if frames and frames[0][1] == "[kernel.kallsyms]" and not any(d != "[kernel.kallsyms]" for _, d in frames):
        area = "kernel, no user frame (interrupts, io-wq)" if area.startswith("other") else area
    incl[who][area] += 1
    s, d = frames[0] if frames else ("?", "?")
    if d == "[kernel.kallsyms]":
        kind = "kernel"
        kern[who] += 1
    else:
        kind = "other user code"
        for rx, name in LEAF:
            if re.search(rx, s):
                kind = name
                break
    leaf[who][kind] += 1

all_n = sum(total.values())
for who in ("front", "busiest shard", "io_uring worker", "other thread"):
    n = total[who]
    if not n:
        continue
    print(f"\n## {who}: {n} samples ({100 * n / all_n:.0f} % of the process), kernel leaf {100 * kern[who] / n:.0f} %")
    print("inclusive by area:")
    for a, c in incl[who].most_common():
        print(f"  {100 * c / n:5.1f} %  {a}")
    print("self by leaf kind:")
    for a, c in leaf[who].most_common():
        print(f"  {100 * c / n:5.1f} %  {a}")

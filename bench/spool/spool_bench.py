#!/usr/bin/python3
"""Durable spool benchmarks for ringpost, each next to a limit measured in the same run.

1. Acceptance: HTTP batches of 1,000 x 1 KiB messages on 8 keep-alive connections into
   `ringpost serve`, once routed to a closed port (retry = ["1h"]: one refused connect per
   site, then everything is deferred for an hour, so deliveries barely compete) and once to
   Postfix's smtp-sink (the real path: deliveries share the 2 cores). Reported: msgs/s, MB/s of
   message text and of spool bytes, batch latency, the server's fdatasync count (perf, the
   io_uring fsync submissions and ext4 datasync calls of the server's threads) and from it
   messages per fdatasync (the group commit factor). Next to it: spool_fsync_rate, write +
   fdatasync rounds per second in the same directory, before and after the acceptance runs.
2. Memory: RSS per queued message after filling 1M (and 10M with --big) to a closed port.
3. Recovery: SIGTERM after the 1M fill, restart, time until /v1/stats counts all of them.

Usage: bench/spool/spool_bench.py --build DIR [--big] [...]   (bench/spool/run.sh wraps it)
"""
import argparse, datetime, http.client, json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time

p = argparse.ArgumentParser()
p.add_argument("--build", default="build")
p.add_argument("--big", action="store_true", help="also fill 10M (bounded by --big-seconds and free memory/disk)")
p.add_argument("--accept-messages", type=int, default=200_000)
p.add_argument("--fill", type=int, default=1_000_000)
p.add_argument("--big-fill", type=int, default=10_000_000)
p.add_argument("--big-seconds", type=float, default=900, help="bound for the --big fill and its recovery, each")
p.add_argument("--concurrency", type=int, default=8)
p.add_argument("--rounds", type=int, default=2, help="acceptance rounds (closed port, smtp-sink alternating)")
p.add_argument("--fsync-seconds", type=float, default=2)
p.add_argument("--dir", default=os.environ.get("RINGPOST_BENCH_DIR", "/var/tmp"),
               help="parent of the work dir (spools live here; same disk = same fsync limit)")
p.add_argument("--keep", action="store_true", default=os.environ.get("RINGPOST_BENCH_KEEP") == "1")
args = p.parse_args()

BATCH = 1000
TEXT = 1024
ringpost = os.path.abspath(os.path.join(args.build, "engine", "ringpost"))
fsync_tool = os.path.abspath(os.path.join(args.build, "bench", "spool", "spool_fsync_rate"))
for f in (ringpost, fsync_tool):
    if not os.access(f, os.X_OK):
        sys.exit(f"missing {f}")
work = tempfile.mkdtemp(prefix="ringpost-spool-bench-", dir=args.dir)
# A private copy: others rebuild the engine while this runs, and a restart must run the same binary.
ringpost_mtime = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.stat(ringpost).st_mtime))
ringpost_src, ringpost = ringpost, shutil.copy2(ringpost, os.path.join(work, "ringpost"))
CLK = os.sysconf("SC_CLK_TCK")
children = []  # every process started here, so that cleanup ends exactly these
perf = shutil.which("perf")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def proc_status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def proc_cpu(pid):
    """utime + stime of every thread of pid, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK
    except OSError:
        return 0.0


def thread_cpu(pid):
    """{tid: utime + stime in seconds} for every live thread of pid."""
    res = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return res
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            res[tid] = (int(fields[11]) + int(fields[12])) / CLK
        except OSError:
            pass
    return res


def write_bytes(pid):
    """Bytes the process (all its threads, io-wq workers included) sent towards storage."""
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def self_cpu():
    t = os.times()
    return t.user + t.system


def disk_flushes(path):
    """Flushes completed by the block device under path (all processes: a cross-check only)."""
    st = os.stat(path)
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    try:
        dev = os.path.realpath(f"/sys/dev/block/{major}:{minor}")
        if os.path.exists(os.path.join(dev, "partition")):
            dev = os.path.dirname(dev)
        major, minor = map(int, open(os.path.join(dev, "dev")).read().split(":"))
    except OSError:
        pass
    with open("/proc/diskstats") as f:
        for line in f:
            x = line.split()
            if int(x[0]) == major and int(x[1]) == minor and len(x) >= 20:
                return int(x[18])
    return None


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


def fsync_rate(block, mode, spool_parent):
    out = subprocess.run([fsync_tool, spool_parent, str(block), str(args.fsync_seconds), mode],
                         check=True, capture_output=True, text=True).stdout
    return {k: float(v) if k not in ("mode",) else v for k, v in (kv.split("=") for kv in out.split())}


FSYNC_CASES = [(4096, "append"), (1 << 20, "append"), (4096, "overwrite")]


def fsync_round(label):
    d = os.path.join(work, "fsync")
    os.makedirs(d, exist_ok=True)
    res = {(b, m): fsync_rate(b, m, d) for b, m in FSYNC_CASES}
    log(f"fsync_rate {label}: " + ", ".join(f"{m} {b // 1024} KiB {r['syncs_per_s']:.0f}/s" for (b, m), r in res.items()))
    return res


class Server:
    def __init__(self, name, route_port, spool):
        self.name, self.spool = name, spool
        self.port = free_port()
        self.cfg = os.path.join(work, f"{name}.toml")
        with open(self.cfg, "w") as f:
            f.write(f'[server]\nhttp_listen = "127.0.0.1:{self.port}"\nspool_dir = "{spool}"\n\n'
                    f'[defaults]\nretry = ["1h"]\nconnect_timeout = "2s"\n\n'
                    f'[domains."x.test"]\nroute = "127.0.0.1:{route_port}"\n')
        self.proc = None
        self.starts = 0

    def start(self, wait=True):
        self.starts += 1
        self.log = open(os.path.join(work, f"{self.name}.{self.starts}.log"), "w")
        self.t_start = time.perf_counter()
        self.proc = subprocess.Popen([ringpost, "serve", "--config", self.cfg], stdout=self.log, stderr=subprocess.STDOUT)
        children.append(self.proc)
        if wait:
            deadline = time.time() + 30
            while time.time() < deadline:
                if self.stats(timeout=0.5) is not None:
                    return self
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
            self.log.flush()
            tail = open(self.log.name, errors="replace").read()[-2000:]
            raise RuntimeError(f"{self.name}: server did not come up (exit {self.proc.poll()}); log:\n{tail}")
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stats(self, timeout=2.0):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            c.request("GET", "/v1/stats")
            r = c.getresponse()
            body = r.read()
            c.close()
            return json.loads(body) if r.status == 200 else None
        except (OSError, http.client.HTTPException, ValueError):
            return None

    def stop(self, timeout=120):
        """SIGTERM; returns seconds until exit (SIGKILL after timeout)."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        t = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            log(f"{self.name}: no exit {timeout} s after SIGTERM; killed")
        self.log.close()
        return time.perf_counter() - t


def batch_body():
    msgs = [{"from": "agent@bench.test", "to": [f"u{i}@x.test"], "subject": f"m{i}",
             "text": ("0123456789abcdef" * (TEXT // 16))} for i in range(BATCH)]
    return json.dumps({"messages": msgs}).encode()


BODY = batch_body()


def load(server, batches, deadline=None, guard=None):
    """Posts `batches` batches on args.concurrency keep-alive connections. guard() -> reason to stop."""
    lock = threading.Lock()
    state = {"next": 0, "accepted": 0, "stop": None}
    lat = []

    def worker():
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        while True:
            with lock:
                if state["stop"] or state["next"] >= batches:
                    return
                state["next"] += 1
            t = time.perf_counter()
            try:
                c.request("POST", "/v1/messages/batch", BODY, {"Content-Type": "application/json"})
                r = c.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    state["stop"] = state["stop"] or f"request failed: {e!r}"
                return
            dt = time.perf_counter() - t
            with lock:
                if r.status != 202:
                    state["stop"] = state["stop"] or f"HTTP {r.status}: {data[:200]!r}"
                    return
                state["accepted"] += data.count(b",") + 1  # {"ids":[...]}: ids contain no commas
                lat.append(dt)

    def watch():
        while not done.wait(0.5):
            reason = None
            if deadline and time.time() > deadline:
                reason = "time bound reached"
            elif guard:
                reason = guard()
            if reason:
                with lock:
                    state["stop"] = state["stop"] or reason
                return

    done = threading.Event()
    c0, s0, f0 = self_cpu(), proc_cpu(server.pid), disk_flushes(server.spool)
    th0, w0 = thread_cpu(server.pid), write_bytes(server.pid)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    watcher = threading.Thread(target=watch)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    done.set()
    watcher.join()
    c1, s1, f1 = self_cpu(), proc_cpu(server.pid), disk_flushes(server.spool)
    th1, w1 = thread_cpu(server.pid), write_bytes(server.pid)
    busiest = max((th1[t] - th0.get(t, 0.0) for t in th1), default=0.0)
    lat.sort()
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e3 if lat else float("nan")
    return {"accepted": state["accepted"], "elapsed": elapsed, "stop": state["stop"],
            "client_cpu": (c1 - c0) / elapsed, "server_cpu": (s1 - s0) / elapsed,
            "busiest_thread": busiest / elapsed, "spool_bytes": w1 - w0,
            "disk_flushes": (f1 - f0) if f0 is not None and f1 is not None else None,
            "p50_ms": pct(0.5), "p99_ms": pct(0.99)}


class PerfCount:
    """fdatasync calls made by one process's threads (perf tracepoints), while active."""

    def __init__(self, pid):
        self.out = os.path.join(work, f"perf-{pid}-{time.time_ns()}.csv")
        self.proc = None
        if not perf:
            return
        self.proc = subprocess.Popen(
            [perf, "stat", "-x,", "-o", self.out, "-p", str(pid),
             "-e", "io_uring:io_uring_submit_req", "--filter", "opcode == 3",  # IORING_OP_FSYNC
             "-e", "ext4:ext4_sync_file_enter", "--filter", "datasync == 1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children.append(self.proc)
        time.sleep(0.5)  # perf needs a moment to attach

    def stop(self):
        if not self.proc:
            return {}
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        res = {}
        try:
            for line in open(self.out):
                x = line.strip().split(",")
                if len(x) > 2 and x[0].isdigit():
                    res[x[2]] = int(x[0])
        except OSError:
            pass
        return res


def accept_case(name, route_port):
    srv = Server(name, route_port, os.path.join(work, f"spool-{name}")).start()
    # Warm-up: one batch per connection (page cache, allocator, the refused connect to the site).
    load(srv, args.concurrency)
    pc = PerfCount(srv.pid)
    r = load(srv, args.accept_messages // BATCH)
    counts = pc.stop()
    st = srv.stats() or {}
    r["uring_fsync"] = counts.get("io_uring:io_uring_submit_req")
    r["ext4_datasync"] = counts.get("ext4:ext4_sync_file_enter")
    r["delivered"] = st.get("recipients", {}).get("delivered", 0)
    r["name"] = name
    srv.stop()
    shutil.rmtree(srv.spool, ignore_errors=True)
    log(f"accept {name}: {r['accepted'] / r['elapsed']:.0f} msgs/s, fdatasync {r['uring_fsync']}/{r['ext4_datasync']}, "
        f"client cpu {r['client_cpu']:.0%}, server cpu {r['server_cpu']:.0%}" + (f"; stopped: {r['stop']}" if r["stop"] else ""))
    return r


def wait_settled(srv, n, bound):
    """Until queued + deferred == n and queued is 0 or unchanged for 2 s; returns (seconds, stats)."""
    t0 = time.perf_counter()
    last, since = None, time.perf_counter()
    st = None
    while time.perf_counter() - t0 < bound:
        st = srv.stats() or st
        if st:
            rc = st["recipients"]
            key = (rc["queued"], rc["deferred"])
            if key != last:
                last, since = key, time.perf_counter()
            if rc["queued"] + rc["deferred"] == n and (rc["queued"] == 0 or time.perf_counter() - since > 2):
                break
        time.sleep(0.2)
    return time.perf_counter() - t0, st


def mem_guard():
    # Other people's builds share this machine: leave them max(4 GiB, 20 %) of the memory.
    if meminfo("MemAvailable") < max(4 << 30, meminfo("MemTotal") // 5):
        return "MemAvailable below max(4 GiB, 20 % of RAM)"
    st = os.statvfs(work)
    if st.f_bavail * st.f_frsize < 5 << 30:
        return "free disk below 5 GiB"
    return None


def fill_case(name, target, bound):
    closed = free_port()
    srv = Server(name, closed, os.path.join(work, f"spool-{name}")).start()
    time.sleep(0.5)
    rss_empty = proc_status(srv.pid, "VmRSS")
    deadline = time.time() + bound if bound else None
    r = load(srv, target // BATCH, deadline=deadline, guard=mem_guard)
    n = r["accepted"]
    settle, st = wait_settled(srv, n, 120)
    res = {"name": name, "target": target, "n": n, "stop": r["stop"], "fill_rate": n / r["elapsed"],
           "settle_s": settle, "rss_empty": rss_empty, "rss": proc_status(srv.pid, "VmRSS"),
           "hwm": proc_status(srv.pid, "VmHWM"), "du": du(srv.spool),
           "files": len(os.listdir(srv.spool)), "stats_ok": bool(st) and st["recipients"]["queued"] + st["recipients"]["deferred"] == n,
           "client_cpu": r["client_cpu"], "server_cpu": r["server_cpu"]}
    log(f"fill {name}: {n} queued at {res['fill_rate']:.0f} msgs/s, RSS {res['rss_empty'] >> 20} -> {res['rss'] >> 20} MiB, "
        f"spool {res['du'] >> 20} MiB" + (f"; stopped: {r['stop']}" if r["stop"] else ""))
    # 3. Recovery: SIGTERM, restart, time until /v1/stats counts all n.
    res["shutdown_s"] = srv.stop()
    t0 = time.perf_counter()
    srv.start(wait=False)
    t_listen = t_first = t_all = None
    rec_bound = max(120.0, 120.0 * n / 1e6)
    if bound:
        rec_bound = min(rec_bound, bound)
    while time.perf_counter() - t0 < rec_bound:
        if srv.proc.poll() is not None:
            break
        if t_listen is None:
            try:
                socket.create_connection(("127.0.0.1", srv.port), 0.2).close()
                t_listen = time.perf_counter() - t0
            except OSError:
                pass
        st = srv.stats(timeout=1.0)  # unanswered while recovering; the next poll asks again
        if st is not None:
            if t_first is None:
                t_first = time.perf_counter() - t0
            if st["recipients"]["queued"] + st["recipients"]["deferred"] == n:
                t_all = time.perf_counter() - t0
                break
        if meminfo("MemAvailable") < (1 << 30):
            log("recovery: MemAvailable below 1 GiB; stopping it")
            break
        time.sleep(0.02)
    res.update(listen_s=t_listen, first_stats_s=t_first, recovered_s=t_all,
               rss_recovered=proc_status(srv.pid, "VmRSS"), recovered_stats=st)
    srv.stop()
    log(f"recovery {name}: listening {t_listen}, first stats {t_first}, all {n} at {t_all} s")
    if not args.keep:
        shutil.rmtree(srv.spool, ignore_errors=True)
    return res


def fmt_s(x):
    return f"{x:.2f}" if x is not None else "-"


def main():
    env = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
        "cores": os.cpu_count(), "kernel": os.uname().release,
        "mem": meminfo("MemTotal"), "load0": open("/proc/loadavg").read().split()[:3],
    }
    fs = subprocess.run(["df", "--output=source,fstype", work], capture_output=True, text=True).stdout.split("\n")[1].strip()
    src = os.path.dirname(os.path.abspath(__file__))  # the build's own source tree, if it says
    try:
        src = next(l.split("=", 1)[1].strip() for l in open(os.path.join(args.build, "CMakeCache.txt"))
                   if l.startswith("CMAKE_HOME_DIRECTORY:"))
    except (OSError, StopIteration):
        pass
    commit = subprocess.run(["git", "-C", src, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip() or f"{src} (no git)"
    log(f"work dir {work} on {fs}; {ringpost_src} built {ringpost_mtime}, tree {commit}")

    fs1 = fsync_round("before")
    sink_port = free_port()
    sink = subprocess.Popen(["/usr/sbin/smtp-sink", "-u", "nobody", "-c", f"127.0.0.1:{sink_port}", "1000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children.append(sink)
    time.sleep(0.3)
    acc = []
    for _ in range(args.rounds):
        acc += [accept_case("closed-port", free_port()), accept_case("smtp-sink", sink_port)]
    sink.terminate()
    sink.wait()
    fs2 = fsync_round("after")

    fills = [fill_case("fill-1M", args.fill, None)]
    if args.big:
        fills.append(fill_case("fill-10M", args.big_fill, args.big_seconds))
    env["load1"] = open("/proc/loadavg").read().split()[:3]

    # ---- report ----
    print()
    print(f"ringpost spool benchmarks, {env['date']}; ringpost built {ringpost_mtime}, tree at {commit}")
    print(f"cpu: {env['cpu']}; cores: {env['cores']}; kernel: {env['kernel']}; RAM {env['mem'] / 2**30:.1f} GiB; "
          f"spool disk: {fs}; load avg {' '.join(env['load0'])} at start, {' '.join(env['load1'])} at end")
    print(f"messages: 1 KiB text each, {BATCH} per POST /v1/messages/batch, {args.concurrency} keep-alive connections; "
          f"server: 2 shards (threads = 0), retry = [\"1h\"]")
    print()
    print("Physical limit: spool_fsync_rate, one thread, write + fdatasync in a loop, "
          f"{args.fsync_seconds:g} s per case, in the work dir (before / after the acceptance runs)")
    print(f"{'case':24} {'fdatasync/s':>17} {'MB/s':>15} {'p50 us':>13} {'p99 us':>13}")
    for b, m in FSYNC_CASES:
        a, z = fs1[(b, m)], fs2[(b, m)]
        print(f"{m + ' ' + (str(b // 1024) + ' KiB' if b < 1 << 20 else str(b >> 20) + ' MiB'):24} "
              f"{a['syncs_per_s']:>8.0f} /{z['syncs_per_s']:>7.0f} {a['mb_per_s']:>7.1f} /{z['mb_per_s']:>6.1f} "
              f"{a['p50_us']:>6.0f} /{z['p50_us']:>5.0f} {a['p99_us']:>6.0f} /{z['p99_us']:>5.0f}")
    lim_sync = (fs1[(4096, "append")]["syncs_per_s"] + fs2[(4096, "append")]["syncs_per_s"]) / 2
    lim_mb = (fs1[(1 << 20, "append")]["mb_per_s"] + fs2[(1 << 20, "append")]["mb_per_s"]) / 2
    print()
    print(f"1. Acceptance into the spool: {args.accept_messages} messages per case and round (after a warm-up of "
          f"{args.concurrency} batches), {args.rounds} rounds, a fresh server and spool each")
    print(f"{'route':12} {'msgs/s':>8} {'MB/s text':>10} {'MB/s disk':>10} {'disk B/msg':>11} {'batch p50/p99 ms':>17} "
          f"{'fdatasync/s':>12} {'msgs/fdatasync':>15} {'cpu srv/thread/load':>20} {'delivered':>10}")
    for r in acc:
        rate = r["accepted"] / r["elapsed"]
        syncs = r["uring_fsync"] if r["uring_fsync"] else r["ext4_datasync"]
        cpu = f"{r['server_cpu']:.0%}/{r['busiest_thread']:.0%}/{r['client_cpu']:.0%}"
        print(f"{r['name']:12} {rate:>8.0f} {rate * TEXT / 1e6:>10.1f} {r['spool_bytes'] / r['elapsed'] / 1e6:>10.1f} "
              f"{r['spool_bytes'] / max(1, r['accepted']):>11.0f} {r['p50_ms']:>8.0f} /{r['p99_ms']:>6.0f} "
              f"{(syncs / r['elapsed']) if syncs else float('nan'):>12.0f} "
              f"{(r['accepted'] / syncs) if syncs else float('nan'):>15.0f} {cpu:>20} "
              f"{r['delivered']:>10}" + (f"  STOPPED: {r['stop']}" if r["stop"] else ""))
    print(f"  against the disk (same run, mean of before/after): 4 KiB append {lim_sync:.0f} fdatasync/s, "
          f"1 MiB append {lim_mb:.0f} MB/s")
    for r in acc:
        syncs = r["uring_fsync"] if r["uring_fsync"] else r["ext4_datasync"]
        sync_rate = syncs / r["elapsed"] if syncs else None
        print(f"  {r['name']}: fdatasync/s = {sync_rate / lim_sync if sync_rate else float('nan'):.4f} x the disk's; "
              f"disk MB/s = {r['spool_bytes'] / r['elapsed'] / 1e6 / lim_mb:.3f} x the disk's; fdatasync counted by "
              f"io_uring {r['uring_fsync']}, ext4 {r['ext4_datasync']}; device flushes (all processes) {r['disk_flushes']}")
    print("  msgs/fdatasync: accepted messages / the server's fdatasync calls in the run (perf: io_uring_submit_req with "
          "opcode FSYNC, ext4_sync_file_enter with datasync). MB/s disk: the server's write_bytes (/proc/PID/io: "
          "spool records, ACCEPT and OUTCOME). cpu: server (200 % = both cores) / its busiest thread "
          "(100 % = one core) / the Python load generator (one core = 100 %). delivered: by the end of the run.")
    print()
    print("2. Memory and disk per queued message (route to a closed port, retry = [\"1h\"]: all stay queued/deferred)")
    print(f"{'case':9} {'queued':>9} {'fill msgs/s':>11} {'RSS empty MiB':>14} {'RSS full MiB':>13} {'RSS B/msg':>10} "
          f"{'HWM MiB':>8} {'spool du MiB':>13} {'disk B/msg':>11} {'files':>6}")
    for f in fills:
        n = max(1, f["n"])
        print(f"{f['name']:9} {f['n']:>9} {f['fill_rate']:>11.0f} {f['rss_empty'] / 2**20:>14.1f} {f['rss'] / 2**20:>13.1f} "
              f"{(f['rss'] - f['rss_empty']) / n:>10.0f} {f['hwm'] / 2**20:>8.0f} {f['du'] / 2**20:>13.0f} "
              f"{f['du'] / n:>11.0f} {f['files']:>6}" + (f"  STOPPED at {f['n']} of {f['target']}: {f['stop']}" if f["stop"] else ""))
    print()
    print("3. Recovery: SIGTERM the filled server, start it again on the same spool, poll GET /v1/stats "
          "until recipients.queued + deferred == N")
    print(f"{'case':9} {'queued':>9} {'SIGTERM->exit s':>15} {'start->listen s':>15} {'->1st stats s':>13} "
          f"{'->all N s':>10} {'s per 1M':>9} {'RSS after MiB':>14} {'RSS B/msg':>10}")
    for f in fills:
        n = max(1, f["n"])
        per_m = f["recovered_s"] * 1e6 / n if f["recovered_s"] is not None else None
        print(f"{f['name']:9} {f['n']:>9} {f['shutdown_s']:>15.2f} {fmt_s(f['listen_s']):>15} {fmt_s(f['first_stats_s']):>13} "
              f"{fmt_s(f['recovered_s']):>10} {fmt_s(per_m):>9} {f['rss_recovered'] / 2**20:>14.1f} "
              f"{(f['rss_recovered'] - f['rss_empty']) / n:>10.0f}" + ("" if f["recovered_s"] is not None else
                                                                       f"  NOT RECOVERED; last stats {f['recovered_stats'] and f['recovered_stats']['recipients']}"))


try:
    main()
finally:
    for c in children:
        if c.poll() is None:
            c.kill()
            c.wait()
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)

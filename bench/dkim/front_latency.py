#!/usr/bin/python3
"""How long other HTTP clients wait while DKIM-signed batches are accepted.

Starts `ringpost serve` (one shard, smtp-sink as the route) twice, without DKIM and with dual
RSA-2048 + Ed25519 signing, and in each run submits N batches of 1,000 messages on one
connection while a second connection polls /healthz; prints the /healthz latency percentiles
and the accepted msgs/s for both. The run without DKIM is the same-run baseline.
Usage: bench/dkim/front_latency.py [build-dir] [batches]
"""
import http.client, json, os, shutil, socket, subprocess, sys, tempfile, threading, time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
batches = int(sys.argv[2]) if len(sys.argv) > 2 else 5
ringpost = os.path.abspath(os.path.join(build, "engine", "ringpost"))
work = tempfile.mkdtemp(prefix="ringpost-dkim-latency-")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(sel, alg):
    subprocess.run([ringpost, "dkim", "keygen", "--domain", "bench.test", "--selector", sel, "--algorithm", alg,
                    "--out", work], check=True, capture_output=True)
    return os.path.join(work, f"{sel}.bench.test.pem")


def run(label, dkim_toml):
    http_port, sink_port = free_port(), free_port()
    sink = subprocess.Popen(["/usr/sbin/smtp-sink", "-u", "nobody", "-c", f"127.0.0.1:{sink_port}", "1000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    spool = os.path.join(work, f"spool-{label}")
    cfg = os.path.join(work, f"{label}.toml")
    with open(cfg, "w") as f:
        f.write(f'[server]\nhttp_listen = "127.0.0.1:{http_port}"\nthreads = 1\nspool_dir = "{spool}"\n\n'
                f'[domains."sink.test"]\nroute = "127.0.0.1:{sink_port}"\n\n{dkim_toml}')
    server = subprocess.Popen([ringpost, "serve", "--config", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", http_port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        body = json.dumps({"messages": [{"from": "agent@bench.test", "to": [f"u{i}@sink.test"], "subject": f"m{i}",
                                          "text": "x" * 900} for i in range(1000)]})
        done = threading.Event()
        latencies = []

        def poll():
            c = http.client.HTTPConnection("127.0.0.1", http_port)
            while not done.is_set():
                t = time.perf_counter()
                c.request("GET", "/healthz")
                c.getresponse().read()
                latencies.append(time.perf_counter() - t)
                time.sleep(0.001)

        poller = threading.Thread(target=poll)
        poller.start()
        c = http.client.HTTPConnection("127.0.0.1", http_port)
        start = time.perf_counter()
        for _ in range(batches):
            c.request("POST", "/v1/messages/batch", body, {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            assert r.status == 202, r.status
        elapsed = time.perf_counter() - start
        done.set()
        poller.join()
        latencies.sort()
        pct = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1e3
        return {"accepted_per_s": batches * 1000 / elapsed, "p50": pct(0.5), "p99": pct(0.99),
                "max": latencies[-1] * 1e3, "polls": len(latencies)}
    finally:
        server.terminate()
        server.wait()
        sink.terminate()
        sink.wait()


try:
    rsa, ed = keygen("rsa1", "rsa"), keygen("ed1", "ed25519")
    dual = "".join(f'[[dkim."bench.test"]]\nselector = "{s}"\nkey_file = "{k}"\n\n' for s, k in (("rsa1", rsa), ("ed1", ed)))
    base = run("nodkim", "")
    signed = run("dual", dual)
    print(f"cores: {os.cpu_count()}; {batches} batches x 1000 x ~1 KiB on one connection; /healthz polled on another")
    print(f"{'run':10} {'accepted/s':>11} {'healthz p50':>12} {'p99':>8} {'max':>8} {'polls':>6}")
    for name, r in (("no DKIM", base), ("dual DKIM", signed)):
        print(f"{name:10} {r['accepted_per_s']:>11.0f} {r['p50']:>9.2f} ms {r['p99']:>5.2f} ms {r['max']:>5.2f} ms {r['polls']:>6}")
    print(f"dual / no DKIM: accepted {signed['accepted_per_s'] / base['accepted_per_s']:.3f}x, "
          f"healthz p99 {signed['p99'] / base['p99']:.2f}x")
finally:
    shutil.rmtree(work, ignore_errors=True)

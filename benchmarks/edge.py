"""Edge benchmark: a cheap signed API call through the whole edge (identify, SigV4, codec, service),
beside a bare ASGI hello-world served by the same uvicorn configuration in the same run; start-up
time to a healthy /_nimbus/health and idle resident memory.

Run: .venv/bin/python benchmarks/edge.py   (needs wrk: apt-get install wrk; NIMBUS_BENCH_EDGE_ROUNDS=n
alternating rounds, default 3)
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from _common import have_wrk, row, rss_mb, signed_headers, start_bare, start_nimbus, stop, wrk


def main() -> int:
    if not have_wrk():
        print("wrk is not installed (apt-get install wrk); skipping the throughput part")
    # start-up time and idle memory (3 runs, median)
    readies, rsss = [], []
    for _ in range(3):
        proc, port, d, ready = start_nimbus()
        time.sleep(0.5)
        readies.append(ready * 1000)
        rsss.append(rss_mb(proc.pid))
        stop(proc, d)
    readies.sort()
    rsss.sort()
    print(f"nimbus serve -> healthy: {readies[1]:.0f} ms (median of 3; target <= 300 ms)")
    print(f"idle resident memory: {rsss[1]:.1f} MB (target <= 60 MB)")
    if not have_wrk():
        return 0
    bare, bport, bdir = start_bare()
    nim, nport, ndir, _ = start_nimbus()
    try:
        url = f"http://127.0.0.1:{nport}/"
        body = b"{}"
        headers = signed_headers("logs", "us-east-1", url, body, target="Logs_20140328.DescribeLogGroups")
        # warm up (lazy service import)
        wrk(url, connections=1, seconds=1, method="POST", headers=headers, body=body)
        rounds = int(os.environ.get("NIMBUS_BENCH_EDGE_ROUNDS", "3"))
        print(f"\n{rounds} alternating rounds of 4 s per server and concurrency; req/s is the rounds' mean, "
              "p50/p99 the rounds' median\n")
        print("| measurement | nimbus | bare ASGI hello | ratio | target |\n|---|---|---|---|---|")
        for c in (1, 32):
            runs: dict[str, list[dict[str, float]]] = {"bare": [], "nimbus": []}
            for r in range(rounds):
                order = ("bare", "nimbus") if r % 2 == 0 else ("nimbus", "bare")
                for who in order:
                    if who == "bare":
                        runs[who].append(wrk(f"http://127.0.0.1:{bport}/", connections=c, seconds=4))
                    else:
                        runs[who].append(wrk(url, connections=c, seconds=4, method="POST", headers=headers, body=body))
            if any(x["errors"] for x in runs["nimbus"]):
                print("warning: non-2xx responses from nimbus", file=sys.stderr)
            n = statistics.mean(x["rps"] for x in runs["nimbus"])
            b = statistics.mean(x["rps"] for x in runs["bare"])
            ratios = [x["rps"] / y["rps"] for x, y in zip(runs["nimbus"], runs["bare"])]
            print(row(f"req/s c={c} (logs DescribeLogGroups; rounds {min(ratios):.2f}-{max(ratios):.2f})", f"{n:.0f}",
                      f"{b:.0f}", n / b, ">= 0.50"))
            for q in ("p50_ms", "p99_ms"):
                nq = statistics.median(x[q] for x in runs["nimbus"])
                bq = statistics.median(x[q] for x in runs["bare"])
                print(row(f"{q.replace('_ms', '')} ms c={c}", f"{nq:.3f}", f"{bq:.3f}", nq / bq))
        print(f"\nnimbus resident memory after load: {rss_mb(nim.pid):.1f} MB")
    finally:
        stop(bare, bdir)
        stop(nim, ndir)
    return 0


if __name__ == "__main__":
    sys.exit(main())

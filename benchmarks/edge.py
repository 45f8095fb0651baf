"""Edge benchmark: a cheap signed API call through the whole edge (identify, SigV4, codec, service),
beside a bare ASGI hello-world served by the same uvicorn configuration in the same run; start-up
time to a healthy /_nimbus/health and idle resident memory.

Run: .venv/bin/python benchmarks/edge.py   (needs wrk: apt-get install wrk)
"""

from __future__ import annotations

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
        print("\n| measurement | nimbus | bare ASGI hello | ratio | target |\n|---|---|---|---|---|")
        for c in (1, 32):
            b = wrk(f"http://127.0.0.1:{bport}/", connections=c, seconds=5)
            n = wrk(url, connections=c, seconds=5, method="POST", headers=headers, body=body)
            if n["errors"]:
                print(f"warning: {n['errors']:.0f} non-2xx responses from nimbus", file=sys.stderr)
            print(row(f"req/s c={c} (logs DescribeLogGroups)", f"{n['rps']:.0f}", f"{b['rps']:.0f}", n["rps"] / b["rps"], ">= 0.50"))
            print(row(f"p50 ms c={c}", f"{n['p50_ms']:.3f}", f"{b['p50_ms']:.3f}", n["p50_ms"] / b["p50_ms"]))
            print(row(f"p99 ms c={c}", f"{n['p99_ms']:.3f}", f"{b['p99_ms']:.3f}", n["p99_ms"] / b["p99_ms"]))
        print(f"\nnimbus resident memory after load: {rss_mb(nim.pid):.1f} MB")
    finally:
        stop(bare, bdir)
        stop(nim, ndir)
    return 0


if __name__ == "__main__":
    sys.exit(main())

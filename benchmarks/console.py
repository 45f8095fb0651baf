"""Web console benchmark: what a console action costs beside the same AWS call made by an SDK.

- calls/s and p50 of the console's ``api/call`` for S3 ListBuckets and Lambda ListFunctions from one client
  thread over a kept-alive connection (the page's fetch), beside the same operations from a boto3 client in the
  same rounds (the baseline: what any AWS client pays). The console serializes, signs and parses with botocore
  in the server, so the figure is bound by that, plus the edge work every call does;
- the console's page load: index.html and its scripts (bytes and ms), from a cold connection;
- the server's RSS before and after the console's first use (botocore's models loaded lazily).

Run: .venv/bin/python benchmarks/console.py   (NIMBUS_BENCH_ROUNDS=n, default 3)
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import time
from typing import Any, Callable

from _common import ACCESS_KEY, SECRET_KEY, row, rss_mb, start_nimbus, stop


def timed(call: Callable[[], Any], seconds: float = 3.0) -> tuple[float, float]:
    times: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return len(times) / sum(times), statistics.median(times) * 1000


def main() -> int:
    rounds = int(os.environ.get("NIMBUS_BENCH_ROUNDS", "3"))
    proc, port, d, _ = start_nimbus()
    try:
        import boto3
        from botocore.config import Config

        kw = dict(endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
                  aws_secret_access_key=SECRET_KEY, config=Config(retries={"max_attempts": 1}))
        s3, lam = boto3.client("s3", **kw), boto3.client("lambda", **kw)
        for i in range(5):
            s3.create_bucket(Bucket=f"console-bench-{i}")
        rss_before = rss_mb(proc.pid)

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        t0 = time.perf_counter()
        pages = ["/_nimbus/console/", "/_nimbus/console/static/console.js", "/_nimbus/console/static/console.css"]
        for name in ("lambda", "apigateway", "firehose", "kinesis", "s3", "logs", "iam"):
            pages.append(f"/_nimbus/console/static/pages/{name}.js")
        pages.append("/_nimbus/console/static/start.js")
        total = 0
        for p in pages:
            conn.request("GET", p)
            r = conn.getresponse()
            total += len(r.read())
        load_ms = (time.perf_counter() - t0) * 1000
        conn.request("POST", "/_nimbus/console/api/login", body=json.dumps({"accessKeyId": ACCESS_KEY, "secretAccessKey": SECRET_KEY}),
                     headers={"x-nimbus-console": "1", "content-type": "application/json"})
        r = conn.getresponse()
        r.read()
        cookie = r.getheader("set-cookie").split(";", 1)[0]
        headers = {"x-nimbus-console": "1", "content-type": "application/json", "cookie": cookie}

        def console(service: str, op: str) -> Callable[[], Any]:
            body = json.dumps({"service": service, "operation": op, "params": {}, "region": "us-east-1"})

            def call() -> Any:
                conn.request("POST", "/_nimbus/console/api/call", body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                assert resp.status == 200, data
                return data
            return call

        console("s3", "ListBuckets")()
        rss_after = rss_mb(proc.pid)
        cases = [("S3 ListBuckets", console("s3", "ListBuckets"), lambda: s3.list_buckets()),
                 ("Lambda ListFunctions", console("lambda", "ListFunctions"), lambda: lam.list_functions())]
        print("| Benchmark | Figure | Nimbus | Baseline (same run) | Ratio | Target |")
        print("|---|---|---|---|---|---|")
        for name, via_console, via_sdk in cases:
            c_rates, c_p50, s_rates, s_p50 = [], [], [], []
            for _ in range(rounds):
                rate, p50 = timed(via_console)
                c_rates.append(rate)
                c_p50.append(p50)
                rate, p50 = timed(via_sdk)
                s_rates.append(rate)
                s_p50.append(p50)
            c, s = statistics.median(c_rates), statistics.median(s_rates)
            print(row(f"console api/call, {name}, 1 client", f"{c:,.0f} calls/s, p50 {statistics.median(c_p50):.2f} ms",
                      f"{s:,.0f} calls/s, p50 {statistics.median(s_p50):.2f} ms boto3", c / s, "(a page's action: interactive)"))
        print(row("console page load (11 files, one connection)", f"{total / 1024:.0f} KiB in {load_ms:.1f} ms", "", None))
        print(row("server RSS before / after the console's first call", f"{rss_before:.1f} / {rss_after:.1f} MB", "", None))
    finally:
        stop(proc, d)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

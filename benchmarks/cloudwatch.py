"""CloudWatch benchmark: what the AWS/* feed costs the hot paths, and PutMetricData through boto3.

Run: .venv/bin/python benchmarks/cloudwatch.py [--calls N] [--batches B]

1. feed hooks, in process: ``FEED.kinesis`` (once per PutRecords call) and ``FEED.lambda_started`` +
   ``lambda_finished`` (once per invoke), beside an empty function call of the same arity (the baseline).
2. PutMetricData through boto3 against a real server: B calls of 20 data and B/10 calls of 1,000 data
   (gzipped by botocore), beside ListMetrics calls (a read answering a small document: the request
   round-trip floor of the same server).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import timeit
from typing import Any

from _common import ACCESS_KEY, SECRET_KEY, row, start_nimbus, stop


def _noop(*args: Any, **kw: Any) -> None:
    return None


def feed(calls: int) -> list[str]:
    from nimbus.services.cloudwatch.feed import Feed

    f = Feed()
    arn = "arn:aws:lambda:us-east-1:000000000000:function:fn"
    base = timeit.timeit(lambda: _noop("1", "r", "s", "PutRecords", records=500, size=50_000), number=calls) / calls
    hook = timeit.timeit(lambda: f.kinesis("1", "r", "s", "PutRecords", records=500, size=50_000), number=calls) / calls

    def invoke() -> None:
        f.lambda_started(arn)
        f.lambda_finished(arn, 12.345, error=False)

    def invoke_base() -> None:
        _noop(arn)
        _noop(arn, 12.345, error=False)

    lbase = timeit.timeit(invoke_base, number=calls) / calls
    lhook = timeit.timeit(invoke, number=calls) / calls
    return [
        row("FEED.kinesis per PutRecords call", f"{hook * 1e9:.0f} ns", f"{base * 1e9:.0f} ns (empty call)", hook / base),
        row("FEED per Lambda invoke (start + finish)", f"{lhook * 1e9:.0f} ns", f"{lbase * 1e9:.0f} ns (empty calls)", lhook / lbase),
    ]


def put_metric_data(batches: int) -> list[str]:
    import boto3

    proc, port, d, _ = start_nimbus()
    try:
        cw = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                          aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
        now = dt.datetime.now(dt.timezone.utc)
        cw.list_metrics(Namespace="Bench")
        started = time.perf_counter()
        for _ in range(batches):
            cw.list_metrics(Namespace="Nothing")
        floor = (time.perf_counter() - started) / batches
        small = [{"MetricName": f"m{i}", "Dimensions": [{"Name": "Host", "Value": "a"}], "Value": float(i), "Timestamp": now}
                 for i in range(20)]
        started = time.perf_counter()
        for _ in range(batches):
            cw.put_metric_data(Namespace="Bench", MetricData=small)
        per_small = (time.perf_counter() - started) / batches
        big = [{"MetricName": f"m{i % 100}", "Dimensions": [{"Name": "Host", "Value": str(i % 10)}], "Value": float(i), "Timestamp": now}
               for i in range(1000)]
        rounds = max(1, batches // 10)
        started = time.perf_counter()
        for _ in range(rounds):
            cw.put_metric_data(Namespace="Bench", MetricData=big)
        per_big = (time.perf_counter() - started) / rounds
    finally:
        stop(proc, d)
    return [
        row("PutMetricData, 20 data", f"{per_small * 1000:.2f} ms/call", f"{floor * 1000:.2f} ms (ListMetrics, empty)", per_small / floor),
        row("PutMetricData, 1,000 data (gzip)", f"{per_big * 1000:.1f} ms/call, {1000 / per_big:,.0f} data/s",
            f"{floor * 1000:.2f} ms (ListMetrics, empty)", per_big / floor),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--batches", type=int, default=200)
    args = parser.parse_args()
    print("| measure | figure | baseline | ratio | target |")
    print("|---|---|---|---|---|")
    for line in feed(args.calls) + put_metric_data(args.batches):
        print(line)


if __name__ == "__main__":
    main()

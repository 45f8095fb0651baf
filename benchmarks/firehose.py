"""Firehose benchmarks, each beside a baseline measured in the same run.

1. Ingest: PutRecordBatch of 500 x 100 B and 500 x 1 KB records, from one boto3 thread and from 4 client
   processes: records/s, MB/s, p50/p99 per call, against Nimbus (durable: every 200 means fsync'd) and
   against a do-nothing uvicorn server answering PutRecordBatch with a canned 500-entry response
   (boto3's own ceiling on this machine).
2. Delivery: records/s from the durable buffer into S3 objects for a stream without transform (a backlog
   of N records flushed through /_nimbus/firehose/flush), beside the ingest rate of the same records.

Run: .venv/bin/python benchmarks/firehose.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ACCESS_KEY, SECRET_KEY, row, start_bare, start_nimbus, stop  # noqa: E402

RECORDS = 500
RECORD_BYTES = 100

CANNED_APP = (
    """
import json
BODY = json.dumps({"FailedPutCount": 0, "Encrypted": False,
                   "RequestResponses": [{"RecordId": "%s"} for _ in range(%d)]}).encode()
HEADERS = [(b"content-type", b"application/x-amz-json-1.1"), (b"content-length", str(len(BODY)).encode()),
           (b"x-amzn-requestid", b"00000000-0000-0000-0000-000000000000")]

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        msg = await receive()
        more = msg.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
"""
    % ("4" * 56, RECORDS)
)


def client(port: int, service: str = "firehose") -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service, region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}, max_pool_connections=4),
    )


def ingest(port: int, name: str, seconds: float, size: int = RECORD_BYTES) -> dict[str, float]:
    fh = client(port)
    records = [{"Data": b"r" * (size - 1) + b"\n"} for _ in range(RECORDS)]
    for _ in range(20):  # warm up
        fh.put_record_batch(DeliveryStreamName=name, Records=records)
    lat: list[float] = []
    end = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < end:
        t = time.perf_counter()
        r = fh.put_record_batch(DeliveryStreamName=name, Records=records)
        lat.append(time.perf_counter() - t)
        assert r["FailedPutCount"] == 0
    elapsed = time.perf_counter() - start
    lat.sort()
    n = len(lat) * RECORDS
    return {
        "rps": n / elapsed, "mbps": n * size / elapsed / 1e6,
        "p50_ms": statistics.median(lat) * 1000, "p99_ms": lat[max(int(len(lat) * 0.99) - 1, 0)] * 1000, "calls": len(lat),
    }


def _proc(port: int, name: str, seconds: float, size: int, out: Any) -> None:
    out.put(ingest(port, name, seconds, size))


def ingest_parallel(port: int, name: str, seconds: float, size: int, procs: int) -> dict[str, float]:
    """Aggregate of ``procs`` client processes running side by side for the same time."""
    q: Any = mp.Queue()
    ps = [mp.Process(target=_proc, args=(port, name, seconds, size, q)) for _ in range(procs)]
    for p in ps:
        p.start()
    results = [q.get() for _ in ps]
    for p in ps:
        p.join()
    return {"rps": sum(r["rps"] for r in results), "mbps": sum(r["mbps"] for r in results),
            "p50_ms": statistics.median(r["p50_ms"] for r in results), "p99_ms": max(r["p99_ms"] for r in results)}


CASES = [(RECORD_BYTES, 1), (1000, 1), (RECORD_BYTES, 4), (1000, 4)]


def run_cases(port: int, name: str, seconds: float) -> list[dict[str, float]]:
    return [ingest(port, name, seconds, size) if procs == 1 else ingest_parallel(port, name, seconds, size, procs) for size, procs in CASES]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--backlog", type=int, default=200_000)
    args = ap.parse_args()

    proc, port, d = start_bare(CANNED_APP)
    try:
        bases = run_cases(port, "canned", args.seconds)
    finally:
        stop(proc, d)

    proc, port, d, _ = start_nimbus({"NIMBUS_FIREHOSE_CREATE_DELAY_S": "0"})
    try:
        s3 = client(port, "s3")
        s3.create_bucket(Bucket="bench")
        fh = client(port)
        dest = {"RoleARN": "arn:aws:iam::000000000000:role/r", "BucketARN": "arn:aws:s3:::bench",
                "BufferingHints": {"SizeInMBs": 128, "IntervalInSeconds": 900}}
        fh.create_delivery_stream(DeliveryStreamName="ingest", ExtendedS3DestinationConfiguration=dest)
        fh.create_delivery_stream(DeliveryStreamName="deliver", ExtendedS3DestinationConfiguration={**dest, "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 900}})
        time.sleep(0.2)
        ours_all = run_cases(port, "ingest", args.seconds)

        # delivery: build a backlog, then time the flush into S3 objects
        records = [{"Data": b"d" * (RECORD_BYTES - 1) + b"\n"} for _ in range(RECORDS)]
        t = time.perf_counter()
        for _ in range(args.backlog // RECORDS):
            fh.put_record_batch(DeliveryStreamName="deliver", Records=records)
        put_s = time.perf_counter() - t
        t = time.perf_counter()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/_nimbus/firehose/flush/us-east-1/deliver", method="POST")
        with urllib.request.urlopen(req, timeout=600) as r:
            assert json.loads(r.read())["flushed"]
        flush_s = time.perf_counter() - t
        keys = s3.list_objects_v2(Bucket="bench").get("KeyCount", 0)
    finally:
        stop(proc, d)

    n = (args.backlog // RECORDS) * RECORDS
    print(f"Firehose benchmarks ({args.seconds:.0f} s per ingest run, {RECORDS} records per PutRecordBatch)")
    print("| measure | Nimbus | baseline | ratio | target |")
    print("|---|---|---|---|---|")
    for (size, procs), ours, base in zip(CASES, ours_all, bases):
        who = "one boto3 thread" if procs == 1 else f"{procs} client processes"
        print(row(f"PutRecordBatch {size} B records/s (durable), {who}, vs canned server", f"{ours['rps']:,.0f}", f"{base['rps']:,.0f}", ours["rps"] / base["rps"], ">= 0.8x"))
        print(row("  MB/s; p50 / p99 ms per call", f"{ours['mbps']:.1f}; {ours['p50_ms']:.2f} / {ours['p99_ms']:.2f}", f"{base['mbps']:.1f}; {base['p50_ms']:.2f} / {base['p99_ms']:.2f}", None))
    print(row(f"delivery records/s into S3 ({n:,} records, {keys} objects) vs ingest of the same", f"{n / flush_s:,.0f}", f"{n / put_s:,.0f}", (n / flush_s) / (n / put_s), "keeps up (>= 1x)"))


if __name__ == "__main__":
    mp.set_start_method("spawn")
    main()

"""Firehose benchmarks, each beside a baseline measured in the same run.

1. Ingest: PutRecordBatch of 500 x 100 B and 500 x 1 KB records, from one boto3 thread and from 4 client
   processes: records/s, MB/s, p50/p99 per call, against Nimbus (durable: every 200 means fsync'd) and
   against a do-nothing uvicorn server answering PutRecordBatch with a canned 500-entry response
   (boto3's own ceiling on this machine). Both servers run side by side and each case alternates between
   them in short rounds, so that load from anything else on a shared machine falls on both alike.
2. Delivery: records/s from the durable buffer into S3 objects for a stream without transform (a backlog
   of N records flushed through /_nimbus/firehose/flush), beside the ingest rate of the same records.

Run: .venv/bin/python benchmarks/firehose.py [--seconds 5] [--rounds 6] [--backlog 200000]
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


def ingest(port: int, name: str, seconds: float, size: int = RECORD_BYTES, fh: Any = None) -> dict[str, Any]:
    fh = fh or client(port)
    records = [{"Data": b"r" * (size - 1) + b"\n"} for _ in range(RECORDS)]
    for _ in range(3):  # warm up (connection, first-call costs)
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
    return {"records": len(lat) * RECORDS, "elapsed": elapsed, "lat": lat}


def _worker(tasks: Any, results: Any) -> None:
    """A client process kept for the whole run (boto3 imported once): runs ingest rounds on request."""
    clients: dict[int, Any] = {}
    while True:
        task = tasks.get()
        if task is None:
            return
        port, name, seconds, size = task
        if port not in clients:
            clients[port] = client(port)
        results.put(ingest(port, name, seconds, size, clients[port]))


CASES = [(RECORD_BYTES, 1), (1000, 1), (RECORD_BYTES, 4), (1000, 4)]


def compare(targets: dict[str, tuple[int, str]], rounds: int, seconds: float, procs_max: int = 4) -> list[dict[str, dict[str, float]]]:
    """Each case in ``rounds`` short rounds, alternating the servers round by round, so that load from
    anything else on the machine falls on both alike; a round runs 1 or ``procs`` clients side by side."""
    tasks: Any = mp.Queue()
    results: Any = mp.Queue()
    workers = [mp.Process(target=_worker, args=(tasks, results), daemon=True) for _ in range(procs_max)]
    for w in workers:
        w.start()
    out: list[dict[str, dict[str, float]]] = []
    try:
        for size, procs in CASES:
            acc = {t: {"rps": 0.0, "lat": []} for t in targets}  # type: dict[str, dict[str, Any]]
            order = list(targets)
            for r in range(rounds):
                for t in order if r % 2 == 0 else reversed(order):
                    port, name = targets[t]
                    for _ in range(procs):
                        tasks.put((port, name, seconds, size))
                    got = [results.get() for _ in range(procs)]
                    acc[t]["rps"] += sum(g["records"] / g["elapsed"] for g in got) / rounds
                    for g in got:
                        acc[t]["lat"] += g["lat"]
            case: dict[str, dict[str, float]] = {}
            for t, a in acc.items():
                lat = sorted(a["lat"])
                case[t] = {"rps": a["rps"], "mbps": a["rps"] * size / 1e6, "p50_ms": statistics.median(lat) * 1000,
                           "p99_ms": lat[max(int(len(lat) * 0.99) - 1, 0)] * 1000}
            out.append(case)
    finally:
        for _ in workers:
            tasks.put(None)
        for w in workers:
            w.join(10)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0, help="per server and case, split into rounds")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--backlog", type=int, default=200_000)
    args = ap.parse_args()

    cproc, cport, cd = start_bare(CANNED_APP)
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
        try:
            cases = compare({"canned": (cport, "canned"), "nimbus": (port, "ingest")}, args.rounds, args.seconds / args.rounds)
        finally:
            stop(cproc, cd)

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
    print(f"Firehose benchmarks ({args.seconds:.0f} s per server and case in {args.rounds} alternating rounds, {RECORDS} records per PutRecordBatch)")
    print("| measure | Nimbus | baseline | ratio | target |")
    print("|---|---|---|---|---|")
    for (size, procs), case in zip(CASES, cases):
        ours, base = case["nimbus"], case["canned"]
        who = "one boto3 thread" if procs == 1 else f"{procs} client processes"
        print(row(f"PutRecordBatch {size} B records/s (durable), {who}, vs canned server", f"{ours['rps']:,.0f}", f"{base['rps']:,.0f}", ours["rps"] / base["rps"], ">= 0.8x"))
        print(row("  MB/s; p50 / p99 ms per call", f"{ours['mbps']:.1f}; {ours['p50_ms']:.2f} / {ours['p99_ms']:.2f}", f"{base['mbps']:.1f}; {base['p50_ms']:.2f} / {base['p99_ms']:.2f}", None))
    print(row(f"delivery records/s into S3 ({n:,} records, {keys} objects) vs ingest of the same", f"{n / flush_s:,.0f}", f"{n / put_s:,.0f}", (n / flush_s) / (n / put_s), "keeps up (>= 1x)"))


if __name__ == "__main__":
    mp.set_start_method("spawn")
    main()

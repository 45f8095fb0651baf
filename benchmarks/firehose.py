"""Firehose benchmarks, each beside a baseline measured in the same run.

1. Ingest: PutRecordBatch of 500 x 100 B and 500 x 1 KB records, from one boto3 thread and from 4 client
   processes: records/s, MB/s, p50/p99 per call, against Nimbus (durable: every 200 means fsync'd) and
   against a do-nothing uvicorn server answering PutRecordBatch with a canned 500-entry response
   (boto3's own ceiling on this machine), and moto in server mode as the peer (the `bench` extra;
   NIMBUS_BENCH_MOTO=0 skips it). The servers run side by side and each case alternates between them in
   short rounds, so that load from anything else on a shared machine falls on all alike.
2. Delivery: records/s from the durable buffer into S3 objects for a stream without transform (a backlog
   of N records flushed through /_nimbus/firehose/flush), beside the ingest rate of the same records.
3. Transform: PutRecordBatch (500 x 100 B, one boto3 thread) into a stream with a pass-through Lambda
   transform, beside the same into a stream without, alternating in rounds (target >= 0.5x); then the
   whole pipeline with the transform (ingest N records, flush: every record through the function and in
   S3) against ingest alone without transform, "delivery keeping up".
4. Punctuality: a stream with IntervalInSeconds N (1 and 2 s; and 1 s with the pass-through transform,
   its processor on its default 60 s interval): from just before the PutRecord of a buffer's first record
   to its object listed in S3 (polled every 10 ms), several samples; target <= N + 1 s.

Run: .venv/bin/python benchmarks/firehose.py [--seconds 5] [--rounds 6] [--backlog 200000]
     [--parts ingest,delivery,transform,punctuality] [--transform-records 50000] [--samples 5]
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

from _common import ACCESS_KEY, SECRET_KEY, code_zip, row, start_bare, start_moto, start_nimbus, stop, stop_moto  # noqa: E402

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
ROLE = "arn:aws:iam::000000000000:role/r"
PASS_THROUGH = """
def handler(event, context):
    return {"records": [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in event["records"]]}
"""



def _flush(port: int, name: str) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_nimbus/firehose/flush/us-east-1/{name}", method="POST")
    with urllib.request.urlopen(req, timeout=600) as r:
        assert json.loads(r.read())["flushed"]


def _put_n(fh: Any, name: str, n: int, size: int = RECORD_BYTES) -> float:
    records = [{"Data": b"t" * (size - 1) + b"\n"} for _ in range(RECORDS)]
    t = time.perf_counter()
    for _ in range(n // RECORDS):
        assert fh.put_record_batch(DeliveryStreamName=name, Records=records)["FailedPutCount"] == 0
    return time.perf_counter() - t


def transform_figures(port: int, fn_arn: str, n: int, rounds: int) -> list[str]:
    """Ingest with a pass-through transform vs without (alternating rounds), then the whole pipeline."""
    fh, s3 = client(port), client(port, "s3")
    s3.create_bucket(Bucket="bench-xform")
    lam = {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [{"ParameterName": "LambdaArn", "ParameterValue": fn_arn}]}]}
    base = {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::bench-xform"}
    for name, extra in (("plain", {"Prefix": "plain/", "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 900}}),
                        ("xform", {"Prefix": "xform/", "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 900}, "ProcessingConfiguration": lam}),
                        ("pipe", {"Prefix": "pipe/", "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 900}, "ProcessingConfiguration": lam})):
        fh.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration={**base, **extra})
    time.sleep(0.3)
    per_round = max(n // rounds // RECORDS, 1) * RECORDS
    spent = {"plain": 0.0, "xform": 0.0}
    for r in range(rounds):
        for name in ("plain", "xform") if r % 2 == 0 else ("xform", "plain"):
            spent[name] += _put_n(fh, name, per_round)
    total = per_round * rounds
    plain_rps, xform_rps = total / spent["plain"], total / spent["xform"]
    _flush(port, "xform")
    _flush(port, "plain")
    # the whole pipeline: N records in, then flushed: every record through the function and written to S3
    t = time.perf_counter()
    put_s = _put_n(fh, "pipe", total)
    _flush(port, "pipe")
    pipe_s = time.perf_counter() - t
    stats = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/_nimbus/firehose/streams", timeout=30).read())
    pipe = stats["000000000000/us-east-1/pipe"]
    assert pipe["delivered_records"] == total and pipe["transform_ok"] == total, pipe
    return [
        row(f"PutRecordBatch 100 B records/s, pass-through transform vs none ({total:,} records each, {rounds} alternating rounds)",
            f"{xform_rps:,.0f}", f"{plain_rps:,.0f}", xform_rps / plain_rps, ">= 0.5x"),
        row(f"pipeline with transform: {total:,} records ingested, through the function ({pipe['transform_invocations']} invocations) and in S3, vs ingest alone without transform",
            f"{total / pipe_s:,.0f} (ingest part {total / put_s:,.0f})", f"{plain_rps:,.0f}", (total / pipe_s) / plain_rps, ">= 0.5x, keeps up"),
    ]


def punctuality_figures(port: int, fn_arn: str, samples: int) -> list[str]:
    """From just before the PutRecord of a buffer's first record to its object listed in S3."""
    fh, s3 = client(port), client(port, "s3")
    s3.create_bucket(Bucket="bench-punct")
    rows = []
    lam = {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [{"ParameterName": "LambdaArn", "ParameterValue": fn_arn}]}]}
    for interval, transform in ((1, False), (2, False), (1, True)):
        name = f"punct-{interval}{'-x' if transform else ''}"
        dest = {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::bench-punct", "Prefix": f"{name}/",
                "BufferingHints": {"SizeInMBs": 128, "IntervalInSeconds": interval}}
        if transform:
            dest["ProcessingConfiguration"] = lam
        fh.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration=dest)
        time.sleep(0.3)
        waits = []
        for i in range(samples):
            t0 = time.perf_counter()
            fh.put_record(DeliveryStreamName=name, Record={"Data": f"first {i}\n".encode()})
            while s3.list_objects_v2(Bucket="bench-punct", Prefix=f"{name}/").get("KeyCount", 0) <= i:
                if time.perf_counter() - t0 > interval + 30:
                    raise RuntimeError(f"{name}: no object after {interval + 30} s")
                time.sleep(0.01)
            waits.append(time.perf_counter() - t0)
        waits.sort()
        what = f"IntervalInSeconds {interval}" + (" with pass-through transform" if transform else "")
        rows.append(row(f"punctuality, {what}: first record to object visible, median / max of {samples} (s)",
                        f"{statistics.median(waits):.2f} / {waits[-1]:.2f}", f"{interval} (the interval)", waits[-1] / (interval + 1), f"max <= {interval + 1} s (ratio: max / (N + 1))"))
    return rows


def compare(targets: dict[str, tuple[int, str]], rounds: int, seconds: float, procs_max: int = 4,
            cases: list[tuple[int, int]] = CASES) -> list[dict[str, dict[str, float]]]:
    """Each case in ``rounds`` short rounds, alternating the servers round by round, so that load from
    anything else on the machine falls on both alike; a round runs 1 or ``procs`` clients side by side."""
    tasks: Any = mp.Queue()
    results: Any = mp.Queue()
    workers = [mp.Process(target=_worker, args=(tasks, results), daemon=True) for _ in range(procs_max)]
    for w in workers:
        w.start()
    out: list[dict[str, dict[str, float]]] = []
    try:
        for size, procs in cases:
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
    ap.add_argument("--parts", default="ingest,delivery,transform,punctuality", help="also: memory (a large undelivered backlog)")
    ap.add_argument("--transform-records", type=int, default=50_000)
    ap.add_argument("--transform-rounds", type=int, default=4)
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--memory-gb", type=float, default=10.0, help="part 'memory': undelivered data to pile up")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    extra_rows: list[str] = []
    if parts & {"transform", "punctuality"}:
        extra_rows += transform_and_punctuality(parts, args)
    if "memory" in parts:
        extra_rows += backlog_memory(args.memory_gb)
    if not parts & {"ingest", "delivery"}:
        print("Firehose benchmarks (transform, punctuality)")
        print("| measure | Nimbus | baseline | ratio | target |")
        print("|---|---|---|---|---|")
        for r in extra_rows:
            print(r)
        return

    cproc, cport, cd = start_bare(CANNED_APP)
    proc, port, d, _ = start_nimbus({"NIMBUS_FIREHOSE_CREATE_DELAY_S": "0"})
    moto = start_moto() if "ingest" in parts else None
    try:
        s3 = client(port, "s3")
        s3.create_bucket(Bucket="bench")
        fh = client(port)
        dest = {"RoleARN": "arn:aws:iam::000000000000:role/r", "BucketARN": "arn:aws:s3:::bench",
                "BufferingHints": {"SizeInMBs": 128, "IntervalInSeconds": 900}}
        fh.create_delivery_stream(DeliveryStreamName="ingest", ExtendedS3DestinationConfiguration=dest)
        fh.create_delivery_stream(DeliveryStreamName="deliver", ExtendedS3DestinationConfiguration={**dest, "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 900}})
        time.sleep(0.2)
        targets = {"canned": (cport, "canned"), "nimbus": (port, "ingest")}
        if moto is not None:  # the peer: the same rounds against moto in server mode (no buffering, no durability)
            client(moto[1], "s3").create_bucket(Bucket="bench")
            client(moto[1]).create_delivery_stream(DeliveryStreamName="ingest", ExtendedS3DestinationConfiguration=dest)
            targets["moto"] = (moto[1], "ingest")
        try:
            cases = compare(targets, args.rounds, args.seconds / args.rounds)
        finally:
            stop(cproc, cd)
            stop_moto(moto)

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
        if "moto" in case:
            peer = case["moto"]
            print(row("  moto in server mode, same case, vs canned server", f"{peer['rps']:,.0f}", f"{base['rps']:,.0f}", peer["rps"] / base["rps"], "(peer)"))
    print(row(f"delivery records/s into S3 ({n:,} records, {keys} objects) vs ingest of the same", f"{n / flush_s:,.0f}", f"{n / put_s:,.0f}", (n / flush_s) / (n / put_s), "keeps up (>= 1x)"))
    for r in extra_rows:
        print(r)


def _fill(args: tuple[int, str, int]) -> int:
    """One client process putting ``mb`` MB of 1 KB records (500 per call); returns the records it put."""
    port, name, mb = args
    fh = client(port)
    records = [{"Data": b"m" * 999 + b"\n"} for _ in range(RECORDS)]
    calls = mb * 1_000_000 // (RECORDS * 1000)
    for _ in range(calls):
        assert fh.put_record_batch(DeliveryStreamName=name, Records=records)["FailedPutCount"] == 0
    return calls * RECORDS


def backlog_memory(gb: float, procs: int = 4) -> list[str]:
    """Part 'memory' (not in the default parts): a delivery stream whose bucket does not exist piles up
    ``gb`` GB of undelivered records (every delivery attempt fails and is retried); the server's resident
    memory is sampled throughout. The data waits on disk, so memory stays flat."""
    from _common import rss_mb

    proc, port, d, _ = start_nimbus({"NIMBUS_FIREHOSE_CREATE_DELAY_S": "0"})
    try:
        client(port).create_delivery_stream(
            DeliveryStreamName="backlog",
            ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::no-such-bucket",
                                                "BufferingHints": {"SizeInMBs": 128, "IntervalInSeconds": 60}})
        _fill((port, "backlog", 10))  # warm-up: the stream's buffer, the log's first segment
        base = rss_mb(proc.pid)
        peak = [base]
        done = [False]

        def sample() -> None:
            while not done[0]:
                peak[0] = max(peak[0], rss_mb(proc.pid))
                time.sleep(0.5)

        import threading

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t = time.perf_counter()
        with mp.get_context("spawn").Pool(procs) as pool:
            put = sum(pool.map(_fill, [(port, "backlog", int(gb * 1000 / procs))] * procs))
        elapsed = time.perf_counter() - t
        time.sleep(2)
        done[0] = True
        sampler.join()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_nimbus/firehose/streams", timeout=30) as r:
            stats = next(iter(json.loads(r.read()).values()))
        end = rss_mb(proc.pid)
    finally:
        stop(proc, d)
    return [
        row(f"undelivered backlog ({put * 1000 / 1e9:.1f} GB of 1 KB records, bucket missing, {stats['delivery_failures']} failed "
            f"delivery attempts, {stats['backlog_records']:,} records waiting) in {elapsed:.0f} s: server RSS start / peak / end MB",
            f"{base:.0f} / {peak[0]:.0f} / {end:.0f}", "", None, "flat (growth < 100 MB)"),
    ]


def transform_and_punctuality(parts: set[str], args: argparse.Namespace) -> list[str]:
    """Parts 3 and 4 on their own server (so the ingest parts' backlog does not weigh on them)."""
    proc, port, d, _ = start_nimbus({"NIMBUS_FIREHOSE_CREATE_DELAY_S": "0"})
    rows: list[str] = []
    try:
        lam = client(port, "lambda")
        fn = lam.create_function(FunctionName="pass-through", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                                 Code={"ZipFile": code_zip(PASS_THROUGH)}, MemorySize=256, Timeout=60)
        for _ in range(100):
            if lam.get_function(FunctionName="pass-through")["Configuration"].get("State") == "Active":
                break
            time.sleep(0.05)
        if "transform" in parts:
            rows += transform_figures(port, fn["FunctionArn"], args.transform_records, args.transform_rounds)
        if "punctuality" in parts:
            rows += punctuality_figures(port, fn["FunctionArn"], args.samples)
    finally:
        stop(proc, d)
    return rows


if __name__ == "__main__":
    mp.set_start_method("spawn")
    main()

"""Kinesis benchmark: PutRecords (500 x 100 B) and GetRecords records/s through boto3, beside a do-nothing
uvicorn server answering the same operations with canned responses (boto3's own ceiling), same run.

Run: .venv/bin/python benchmarks/kinesis.py [--records N] [--procs P] [--rounds R] [--moto-seconds S]

N (default 1,000,000) records per single-client run and per P-process run. moto in server mode (the
`bench` extra; NIMBUS_BENCH_MOTO=0 skips it) gets the same single-client run, cut off after S seconds
(default 30: its rate falls as its stream grows, and a million records would take minutes).

1. put, one boto3 client: records/s over the whole run, over its first and last tenth (the rate must stay
   flat as the stream grows), p50/p99 per PutRecords call.
2. put, P client processes: aggregate records/s, N records per server in R rounds (default 4) that
   alternate the two servers, as the Firehose benchmark does.
3. get: drain one shard with GetRecords (Limit 10,000): records/s and p50/p99 per call, through boto3 (whose
   own response parsing caps it: see the canned server's figure) and through a raw client (SigV4-signed
   http.client requests, orjson parsing), which shows the server's own rate.
4. event source mapping: PutRecord -> handler latency (only when the Lambda runtime is available).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import textwrap
import time
from typing import Any

from _common import ACCESS_KEY, SECRET_KEY, code_zip, row, start_bare, start_moto, start_nimbus, stop, stop_moto

RECORD = b"x" * 100
BATCH = 500

CANNED_APP = textwrap.dedent(
    """
    import base64, json
    SEQ = "49590338271490256608559692538361571095921575989136588898"
    PUT = json.dumps({"FailedRecordCount": 0, "Records": [{"SequenceNumber": SEQ, "ShardId": "shardId-000000000000"}] * 500}).encode()
    DATA = base64.b64encode(b"x" * 100).decode()
    def get_body(n):
        recs = [{"SequenceNumber": SEQ, "ApproximateArrivalTimestamp": 1700000000.123, "Data": DATA, "PartitionKey": "pk-1"}] * n
        return json.dumps({"Records": recs, "NextShardIterator": "it", "MillisBehindLatest": 0}).encode()
    GET = get_body(10000)
    OTHER = {
        "GetShardIterator": b'{"ShardIterator": "it"}',
        "DescribeStreamSummary": b'{"StreamDescriptionSummary": {"StreamName": "b", "StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/b", "StreamStatus": "ACTIVE", "RetentionPeriodHours": 24, "StreamCreationTimestamp": 1700000000, "EnhancedMonitoring": [], "OpenShardCount": 1}}',
    }
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        more = True
        while more:
            m = await receive()
            more = m.get("more_body", False)
        target = dict(scope["headers"]).get(b"x-amz-target", b"").decode().rpartition(".")[2]
        body = PUT if target == "PutRecords" else GET if target == "GetRecords" else OTHER.get(target, b"{}")
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/x-amz-json-1.1"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
    """
)


def client(port: int) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "kinesis",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}, read_timeout=120),
    )


def put_run(port: int, records: int, seconds: float | None = None) -> tuple[float, float, float, list[float]]:
    """(records/s, first-tenth records/s, last-tenth records/s, per-call seconds); with ``seconds``, stops
    early once that long has passed (moto, whose rate falls as its stream grows)."""
    k = client(port)
    entries = [{"Data": RECORD, "PartitionKey": f"pk-{i}"} for i in range(BATCH)]
    calls = max(records // BATCH, 10)
    lat: list[float] = []
    start = time.perf_counter()
    deadline = start + seconds if seconds is not None else None
    for _ in range(calls):
        if deadline is not None and len(lat) >= 20 and time.perf_counter() > deadline:
            calls = len(lat)
            break
        t = time.perf_counter()
        r = k.put_records(StreamName="bench", Records=entries)
        lat.append(time.perf_counter() - t)
        if r["FailedRecordCount"]:
            raise RuntimeError("failed records")
    total = time.perf_counter() - start
    tenth = max(calls // 10, 1)
    return calls * BATCH / total, tenth * BATCH / sum(lat[:tenth]), tenth * BATCH / sum(lat[-tenth:]), lat


def _put_worker(tasks: Any, results: Any) -> None:
    """A client process kept for the whole comparison (one boto3 client per server, made once): each task
    is (port, records); it answers with the records it wrote."""
    clients: dict[int, Any] = {}
    entries = [{"Data": RECORD, "PartitionKey": f"pk-{i}"} for i in range(BATCH)]
    while (task := tasks.get()) is not None:
        port, records = task
        k = clients.get(port) or clients.setdefault(port, client(port))
        for _ in range(records // BATCH):
            if k.put_records(StreamName="bench", Records=entries)["FailedRecordCount"]:
                raise RuntimeError("failed records")
        results.put(records // BATCH * BATCH)


def put_parallel(ports: dict[str, int], records: int, procs: int, rounds: int) -> tuple[dict[str, float], dict[str, int]]:
    """Aggregate records/s of ``procs`` client processes writing ``records`` records to each server, in
    ``rounds`` rounds that alternate the servers (and their order), so that load from anything else on
    the machine falls on both alike; each server's figure is its records over its summed round times.
    Also returns the records each server received (warm-up included)."""
    queues: list[Any] = [mp.Queue() for _ in range(procs)]  # one per worker: each round has every worker busy
    results: Any = mp.Queue()
    workers = [mp.Process(target=_put_worker, args=(q, results), daemon=True) for q in queues]
    for w in workers:
        w.start()
    written = dict.fromkeys(ports, 0)  # measured rounds only
    took = dict.fromkeys(ports, 0.0)
    warm = procs * BATCH

    def run(port: int, n: int) -> int:
        for q in queues:
            q.put((port, n))
        return sum(results.get() for _ in queues)

    try:
        for port in ports.values():  # warm-up: every worker's client made and connected
            run(port, BATCH)
        order = list(ports)
        for r in range(rounds):
            for name in order if r % 2 == 0 else reversed(order):
                start = time.perf_counter()
                written[name] += run(ports[name], records // rounds // procs)
                took[name] += time.perf_counter() - start
    finally:
        for q in queues:
            q.put(None)
        for w in workers:
            w.join(10)
    return {name: written[name] / took[name] for name in ports}, {name: written[name] + warm for name in ports}


def get_run(port: int, records: int, canned: bool) -> tuple[float, list[float]]:
    k = client(port)
    if canned:
        it = "it"
    else:
        shard = k.list_shards(StreamName="bench")["Shards"][0]["ShardId"]
        it = k.get_shard_iterator(StreamName="bench", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = 0
    lat: list[float] = []
    start = time.perf_counter()
    while got < records:
        t = time.perf_counter()
        r = k.get_records(ShardIterator=it, Limit=10000)
        lat.append(time.perf_counter() - t)
        if not r["Records"]:
            break
        got += len(r["Records"])
        it = r["NextShardIterator"]
    return got / (time.perf_counter() - start), lat


def get_run_raw(port: int, records: int, canned: bool) -> tuple[float, list[float]]:
    """Like get_run, with signed http.client requests and orjson instead of boto3."""
    import http.client

    import orjson
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials(ACCESS_KEY, SECRET_KEY)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    url = f"http://127.0.0.1:{port}/"

    def call(target: str, doc: dict[str, Any]) -> dict[str, Any]:
        body = orjson.dumps(doc)
        req = AWSRequest("POST", url, data=body, headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"Kinesis_20131202.{target}"})
        SigV4Auth(creds, "kinesis", "us-east-1").add_auth(req)
        conn.request("POST", "/", body=body, headers=dict(req.headers.items()))
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{target}: {resp.status} {data[:200]!r}")
        return orjson.loads(data)  # type: ignore[no-any-return]

    if canned:
        it = "it"
    else:
        shard = call("ListShards", {"StreamName": "bench"})["Shards"][0]["ShardId"]
        it = call("GetShardIterator", {"StreamName": "bench", "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
    got = 0
    lat: list[float] = []
    start = time.perf_counter()
    while got < records:
        t = time.perf_counter()
        r = call("GetRecords", {"ShardIterator": it, "Limit": 10000})
        lat.append(time.perf_counter() - t)
        if not r["Records"]:
            break
        got += len(r["Records"])
        it = r["NextShardIterator"]
    conn.close()
    return got / (time.perf_counter() - start), lat


def pct(lat: list[float], q: float) -> float:
    s = sorted(lat)
    return s[min(int(len(s) * q), len(s) - 1)] * 1000


def esm_latency(port: int) -> str:
    """p50 ms from PutRecord to the handler seeing the record (the handler records its receive time)."""
    try:
        import json

        import boto3

        lam = boto3.client("lambda", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                           aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
        k = client(port)
        package = code_zip("import time\ndef handler(event, context):\n    print('SEEN', time.time(), event['Records'][0]['kinesis']['partitionKey'])\n    return None\n")
        lam.create_function(FunctionName="esm-bench", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/r",
                            Handler="app.handler", Code={"ZipFile": package})
        k.create_stream(StreamName="esm", ShardCount=1)
        time.sleep(1)
        arn = k.describe_stream_summary(StreamName="esm")["StreamDescriptionSummary"]["StreamARN"]
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="esm-bench", StartingPosition="LATEST",
                                        MaximumBatchingWindowInSeconds=0, BatchSize=1)
        logs = boto3.client("logs", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
        time.sleep(1)
        sent: dict[str, float] = {}
        for i in range(30):
            key = f"p{i}"
            sent[key] = time.time()
            k.put_record(StreamName="esm", Data=b"{}", PartitionKey=key)
            time.sleep(0.1)
        time.sleep(2)
        seen: dict[str, float] = {}
        events = logs.filter_log_events(logGroupName="/aws/lambda/esm-bench").get("events", [])
        for e in events:
            parts = e["message"].split()
            if parts and parts[0] == "SEEN":
                seen[parts[2]] = float(parts[1])
        lats = [(seen[k_] - sent[k_]) * 1000 for k_ in sent if k_ in seen]
        if not lats:
            return "no deliveries observed"
        return f"p50 {statistics.median(lats):.1f} ms over {len(lats)} records (target <= 50 ms)"
    except Exception as exc:  # noqa: BLE001 - optional part
        return f"skipped ({type(exc).__name__}: {str(exc)[:120]})"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=4, help="alternating rounds of the P-process comparison")
    ap.add_argument("--moto-seconds", type=float, default=30.0)
    args = ap.parse_args()
    bare, bport, bdir = start_bare(CANNED_APP)
    nim, nport, ndir, _ = start_nimbus({"NIMBUS_KINESIS_STATE_DELAY_SECONDS": "0"})
    moto = start_moto()
    try:
        client(nport).create_stream(StreamName="bench", ShardCount=1)
        # warm-up both (imports, connection)
        put_run(bport, BATCH * 10)
        put_run(nport, BATCH * 10)
        print(f"PutRecords {BATCH} x {len(RECORD)} B, {args.records} records per single-client run\n")
        print("| measurement | nimbus | canned server | ratio | target |\n|---|---|---|---|---|")
        n_rate, n_first, n_last, n_lat = put_run(nport, args.records)
        b_rate, _, _, b_lat = put_run(bport, args.records)
        print(row("put records/s, 1 client", f"{n_rate:,.0f}", f"{b_rate:,.0f}", n_rate / b_rate, ">= 0.80"))
        print(row("put records/s first/last tenth", f"{n_first:,.0f} / {n_last:,.0f}", "-", n_last / n_first, "flat (~1.0)"))
        print(row("put p50 ms per call", f"{pct(n_lat, 0.5):.2f}", f"{pct(b_lat, 0.5):.2f}", pct(n_lat, 0.5) / pct(b_lat, 0.5)))
        print(row("put p99 ms per call", f"{pct(n_lat, 0.99):.2f}", f"{pct(b_lat, 0.99):.2f}", pct(n_lat, 0.99) / pct(b_lat, 0.99)))
        par, received = put_parallel({"nimbus": nport, "canned": bport}, args.records, args.procs, args.rounds)
        n_par, b_par = par["nimbus"], par["canned"]
        print(row(f"put records/s, {args.procs} processes ({args.rounds} alternating rounds)", f"{n_par:,.0f}", f"{b_par:,.0f}",
                  n_par / b_par, ">= 0.80"))
        if moto is not None:
            client(moto[1]).create_stream(StreamName="bench", ShardCount=1)
            time.sleep(1)
            m_rate, m_first, m_last, m_lat = put_run(moto[1], args.records, seconds=args.moto_seconds)
            m_records = len(m_lat) * BATCH
            print(row(f"moto put records/s, 1 client ({m_records:,} records in {sum(m_lat):.0f} s)", f"{m_rate:,.0f}",
                      f"{b_rate:,.0f}", m_rate / b_rate, "(peer)"))
            print(row("moto put records/s first/last tenth", f"{m_first:,.0f} / {m_last:,.0f}", "-", m_last / m_first, "(peer)"))
        total = BATCH * 10 + (args.records // BATCH) * BATCH + received["nimbus"]  # warm-up, 1-client run, P-process runs
        g_rate, g_lat = get_run(nport, total, canned=False)
        c_rate, c_lat = get_run(bport, total, canned=True)
        print(row("get records/s (Limit 10,000)", f"{g_rate:,.0f}", f"{c_rate:,.0f}", g_rate / c_rate, ">= 100,000"))
        print(row("get p50 ms per call", f"{pct(g_lat, 0.5):.1f}", f"{pct(c_lat, 0.5):.1f}", pct(g_lat, 0.5) / pct(c_lat, 0.5)))
        print(row("get p99 ms per call", f"{pct(g_lat, 0.99):.1f}", f"{pct(c_lat, 0.99):.1f}", pct(g_lat, 0.99) / pct(c_lat, 0.99)))
        rg_rate, rg_lat = get_run_raw(nport, total, canned=False)
        rc_rate, rc_lat = get_run_raw(bport, total, canned=True)
        print(row("get records/s, raw client (SigV4 + http.client + orjson)", f"{rg_rate:,.0f}", f"{rc_rate:,.0f}", rg_rate / rc_rate, ">= 100,000"))
        print(row("get p50 ms per call, raw client", f"{pct(rg_lat, 0.5):.1f}", f"{pct(rc_lat, 0.5):.1f}", pct(rg_lat, 0.5) / pct(rc_lat, 0.5)))
        print(f"\nevent source mapping PutRecord -> handler: {esm_latency(nport)}")
    finally:
        stop(nim, ndir)
        stop(bare, bdir)
        stop_moto(moto)
    return 0


if __name__ == "__main__":
    sys.exit(main())

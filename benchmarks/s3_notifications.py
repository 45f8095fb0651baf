"""Cost of durable S3 notifications: small (1 KiB) PutObject into a bucket whose notification configuration
matches (each PUT appends its event to Lambda's durable async queue before the 200) beside PutObject into a
bucket without one, on the same server in the same run, alternating blocks of 100 PUTs between the two so
that a drifting machine load falls on both; 1 boto3 thread and 4 processes.

Two destination set-ups: the function throttled (reserved concurrency 0: the hand-off alone, nothing runs)
and a no-op function that runs (the deliveries compete for the CPU, as they would in use).

Run: .venv/bin/python benchmarks/s3_notifications.py      (NIMBUS_BENCH_S3_OPS=1500 by default)
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import statistics
import time
from pathlib import Path
from typing import Any

from _common import ROOT, code_zip, row, start_nimbus, stop
from s3 import SMALL, client

OPS = int(os.environ.get("NIMBUS_BENCH_S3_OPS", "1500"))
BLOCK = 100  # PUTs per alternation
NOOP = "def handler(event, context):\n    return None\n"


def puts(port: int, bucket: str, n: int, tag: str = "w0", start: int = 0, s3: Any = None) -> list[float]:
    s3 = s3 or client(port)
    lat = []
    for i in range(start, start + n):
        t = time.perf_counter()
        s3.put_object(Bucket=bucket, Key=f"{tag}/{i}", Body=SMALL)
        lat.append(time.perf_counter() - t)
    return lat


def _worker(args: tuple[int, str, int, str, int]) -> float:
    port, bucket, n, tag, start = args
    t = time.perf_counter()
    puts(port, bucket, n, tag, start)
    return time.perf_counter() - t


def interleaved(port: int, procs: int) -> dict[str, dict[str, float]]:
    """Alternate blocks of PUTs into the two buckets (the machine's load drifts; both sides see it)."""
    block = BLOCK // procs if procs > 1 else BLOCK
    lat: dict[str, list[float]] = {"plain": [], "notified": []}
    spent = {"plain": 0.0, "notified": 0.0}
    done = {"plain": 0, "notified": 0}
    if procs == 1:
        s3 = client(port)
        for b in lat:
            puts(port, b, 50, "warm", s3=s3)
        for r in range(OPS // block):
            for b in (("plain", "notified") if r % 2 == 0 else ("notified", "plain")):
                t = time.perf_counter()
                lat[b] += puts(port, b, block, "seq", r * block, s3=s3)
                spent[b] += time.perf_counter() - t
                done[b] += block
    else:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(procs) as pool:
            for b in lat:
                pool.map(_worker, [(port, b, 20, f"warm{i}", 0) for i in range(procs)])
            for r in range(OPS // BLOCK):
                for b in (("plain", "notified") if r % 2 == 0 else ("notified", "plain")):
                    t = time.perf_counter()
                    pool.map(_worker, [(port, b, block, f"p{i}", r * block) for i in range(procs)])
                    spent[b] += time.perf_counter() - t
                    done[b] += block * procs
    out = {}
    for b, xs in lat.items():
        xs.sort()
        out[b] = {"ops": done[b] / spent[b]}
        if xs:
            out[b] |= {"p50": statistics.median(xs) * 1000, "p99": xs[int(len(xs) * 0.99)] * 1000}
    return out


def append_alone(directory: Path) -> tuple[float, float, float]:
    """The hand-off by itself: appending an S3-event-sized record to a SegmentLog (as Lambda's async queue
    does) on the same disk: p50 ms sequential, p50 ms with 4 concurrent appenders (group commit), and a
    bare write+fdatasync p50 ms as the disk's baseline."""
    import asyncio

    from nimbus.storage.segments import SegmentLogStore

    record = b"x" * 1500

    async def run() -> tuple[float, float]:
        log = SegmentLogStore(directory / "logs").open("lambda/async")
        seq = []
        for _ in range(300):
            t = time.perf_counter()
            await log.append([record])
            seq.append(time.perf_counter() - t)
        conc: list[float] = []

        async def one() -> None:
            for _ in range(100):
                t = time.perf_counter()
                await log.append([record])
                conc.append(time.perf_counter() - t)

        await asyncio.gather(*(one() for _ in range(4)))
        return statistics.median(seq) * 1000, statistics.median(conc) * 1000

    s, c = asyncio.run(run())
    fd = os.open(directory / "raw", os.O_WRONLY | os.O_CREAT)
    raw = []
    for _ in range(300):
        os.write(fd, record)
        t = time.perf_counter()
        os.fdatasync(fd)
        raw.append(time.perf_counter() - t)
    os.close(fd)
    return s, c, statistics.median(raw) * 1000


def lambda_client(port: int) -> Any:
    import boto3

    from _common import ACCESS_KEY, SECRET_KEY

    return boto3.client("lambda", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)


def main() -> int:
    package = code_zip(NOOP)
    print(f"small objects: {len(SMALL)} B, {OPS} sequential boto3 PutObject calls per figure; baseline: the same "
          f"server, a bucket without notifications, in alternating blocks of {BLOCK}\n")
    print("| measurement | with notification | without | ratio | |\n|---|---|---|---|---|")
    for setup in ("throttled", "running"):
        proc, port, d, _ = start_nimbus()
        try:
            s3, lam = client(port), lambda_client(port)
            arn = lam.create_function(FunctionName="sink", Runtime="python3.12", Handler="app.handler",
                                      Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": package})["FunctionArn"]
            if setup == "throttled":
                lam.put_function_concurrency(FunctionName="sink", ReservedConcurrentExecutions=0)
            for b in ("plain", "notified"):
                s3.create_bucket(Bucket=b)
            s3.put_bucket_notification_configuration(Bucket="notified", NotificationConfiguration={
                "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
            label = "function throttled (hand-off only)" if setup == "throttled" else "no-op function running"
            seq = interleaved(port, 1)
            n, b = seq["notified"], seq["plain"]
            print(row(f"PutObject ops/s, 1 thread, {label}", f"{n['ops']:.0f}", f"{b['ops']:.0f}", n["ops"] / b["ops"]))
            print(row(f"PutObject p50 ms, {label}", f"{n['p50']:.2f}", f"{b['p50']:.2f}", n["p50"] / b["p50"]))
            print(row(f"PutObject p99 ms, {label}", f"{n['p99']:.2f}", f"{b['p99']:.2f}", n["p99"] / b["p99"]))
            par = interleaved(port, 4)
            n, b = par["notified"], par["plain"]
            print(row(f"PutObject ops/s, 4 processes, {label}", f"{n['ops']:.0f}", f"{b['ops']:.0f}", n["ops"] / b["ops"]))
        finally:
            stop(proc, d)
    work = Path(tempfile.mkdtemp(prefix="nimbus-bench-s3n-", dir=str(ROOT)))
    try:
        seq, conc, raw = append_alone(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(row("hand-off alone: durable append p50 ms, sequential", f"{seq:.3f}", f"{raw:.3f} (write+fdatasync)", seq / raw))
    print(row("hand-off alone: durable append p50 ms, 4 concurrent", f"{conc:.3f}", f"{raw:.3f} (write+fdatasync)", conc / raw))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""S3 benchmark: small-object PutObject/GetObject through boto3 (1 thread, and 4 processes) beside a
do-nothing server answering the same calls with canned responses (same uvicorn configuration), and moto
in server mode when installed; large-object upload/download MB/s (boto3 transfer manager, multipart,
4 threads) beside a raw write+fsync and read of the same bytes on the same disk; server RSS growth during
the large upload.

Run: .venv/bin/python benchmarks/s3.py     (NIMBUS_BENCH_S3_LARGE_MB=2048 for the 2 GB memory check;
NIMBUS_BENCH_S3_LARGE_MB=0 skips the large object, NIMBUS_BENCH_S3_MOTO=0 skips moto, NIMBUS_BENCH_S3_OPS=n
sets the calls per small-object figure)
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import ACCESS_KEY, SECRET_KEY, row, rss_mb, start_bare, start_moto, start_nimbus, stop, stop_moto

SMALL = os.urandom(1024)
SMALL_OPS = int(os.environ.get("NIMBUS_BENCH_S3_OPS", "1500"))
LARGE_MB = int(os.environ.get("NIMBUS_BENCH_S3_LARGE_MB", "256"))
MiB = 1024 * 1024

# A server that answers PutObject and GetObject the way S3 does, doing nothing else.
CANNED_APP = """
BODY = b"x" * 1024
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    more = True
    while more:
        m = await receive()
        more = m.get("more_body", False)
    if scope["method"] == "PUT":
        headers = [(b"etag", b'"0f343b0931126a20f133d67c2b018a3b"'), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
    else:
        headers = [(b"etag", b'"0f343b0931126a20f133d67c2b018a3b"'), (b"content-length", b"1024"),
                   (b"content-type", b"binary/octet-stream"), (b"last-modified", b"Wed, 01 May 2024 13:42:07 GMT"),
                   (b"accept-ranges", b"bytes")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": BODY})
"""


def client(port: int) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                        config=Config(retries={"max_attempts": 1}, max_pool_connections=16))


def small_ops(port: int, op: str, n: int, tag: str = "w0") -> list[float]:
    s3 = client(port)
    lat = []
    for i in range(n):
        t = time.perf_counter()
        if op == "put":
            s3.put_object(Bucket="bench-bucket", Key=f"small/{tag}/{i}", Body=SMALL)
        else:
            s3.get_object(Bucket="bench-bucket", Key=f"small/w0/{i % 200}")["Body"].read()
        lat.append(time.perf_counter() - t)
    return lat


def _worker(args: tuple[int, str, int, str]) -> int:
    small_ops(*args)
    return args[2]


def parallel_rate(port: int, op: str, procs: int, n: int) -> float:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(procs) as pool:
        pool.map(_worker, [(port, op, 20, f"warm{i}") for i in range(procs)])
        t = time.perf_counter()
        pool.map(_worker, [(port, op, n, f"p{i}") for i in range(procs)])
        return procs * n / (time.perf_counter() - t)


def measure(port: int, op: str) -> dict[str, float]:
    small_ops(port, op, 50)  # warm-up (and GetObject's keys)
    t = time.perf_counter()
    lat = small_ops(port, op, SMALL_OPS)
    elapsed = time.perf_counter() - t
    lat.sort()
    return {"ops": SMALL_OPS / elapsed, "p50": statistics.median(lat) * 1000, "p99": lat[int(len(lat) * 0.99)] * 1000}


def raw_copy(path: Path, target: Path) -> tuple[float, float]:
    """MB/s of writing the file's bytes to a new file with fsync, and of reading them back."""
    t = time.perf_counter()
    with open(path, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(8 * MiB):
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    write = LARGE_MB / (time.perf_counter() - t)
    t = time.perf_counter()
    with open(target, "rb") as f:
        while f.read(8 * MiB):
            pass
    read = LARGE_MB / (time.perf_counter() - t)
    target.unlink()
    return write, read


def main() -> int:
    from boto3.s3.transfer import TransferConfig

    nim, nport, ndir, _ = start_nimbus()
    bare, bport, bdir = start_bare(CANNED_APP)
    moto = start_moto("NIMBUS_BENCH_S3_MOTO")
    try:
        s3 = client(nport)
        s3.create_bucket(Bucket="bench-bucket")
        print(f"small objects: {len(SMALL)} B, {SMALL_OPS} sequential boto3 calls per figure\n")
        print("| measurement | nimbus | do-nothing server | ratio | target |\n|---|---|---|---|---|")
        moto_rows = []
        if moto is not None:
            client(moto[1]).create_bucket(Bucket="bench-bucket")
        for op, name in (("put", "PutObject"), ("get", "GetObject")):
            n = measure(nport, op)
            b = measure(bport, op)
            print(row(f"{name} ops/s, 1 thread", f"{n['ops']:.0f}", f"{b['ops']:.0f}", n["ops"] / b["ops"], ">= 0.8"))
            print(row(f"{name} p50 ms", f"{n['p50']:.2f}", f"{b['p50']:.2f}", n["p50"] / b["p50"]))
            print(row(f"{name} p99 ms", f"{n['p99']:.2f}", f"{b['p99']:.2f}", n["p99"] / b["p99"]))
            np4 = parallel_rate(nport, op, 4, SMALL_OPS // 4)
            bp4 = parallel_rate(bport, op, 4, SMALL_OPS // 4)
            print(row(f"{name} ops/s, 4 processes", f"{np4:.0f}", f"{bp4:.0f}", np4 / bp4, ">= 0.8"))
            if moto is not None:
                m = measure(moto[1], op)
                moto_rows.append(row(f"moto {name} ops/s, 1 thread", f"{m['ops']:.0f}", f"{b['ops']:.0f}", m["ops"] / b["ops"], "(about 0.3)"))
        for r in moto_rows:
            print(r)
        if moto is None:
            print("| moto server | not run (not installed: `make bench` installs it; or NIMBUS_BENCH_S3_MOTO=0) | | | |")

        if LARGE_MB <= 0:
            return 0
        # large objects
        work = Path(tempfile.mkdtemp(prefix="nimbus-bench-s3-", dir=str(ndir)))
        big = work / "big.bin"
        block = os.urandom(MiB)
        with open(big, "wb") as f:
            for _ in range(LARGE_MB):
                f.write(block)
        raw_w, raw_r = raw_copy(big, work / "raw.bin")
        cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=16 * MiB, max_concurrency=4)
        base_rss = rss_mb(nim.pid)
        peak = [base_rss]
        stop_flag = threading.Event()

        def sample() -> None:
            while not stop_flag.is_set():
                peak[0] = max(peak[0], rss_mb(nim.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t = time.perf_counter()
        s3.upload_file(str(big), "bench-bucket", "large/object.bin", Config=cfg)
        up = LARGE_MB / (time.perf_counter() - t)
        stop_flag.set()
        sampler.join()
        t = time.perf_counter()
        s3.download_file("bench-bucket", "large/object.bin", str(work / "back.bin"), Config=cfg)
        down = LARGE_MB / (time.perf_counter() - t)
        print(f"\nlarge object: {LARGE_MB} MB, boto3 transfer manager (16 MiB parts, 4 threads)\n")
        print("| measurement | nimbus | raw file on the same disk | ratio | target |\n|---|---|---|---|---|")
        print(row("upload MB/s", f"{up:.0f}", f"{raw_w:.0f} (copy: read + write + fsync)", up / raw_w, ">= 0.5"))
        print(row("download MB/s", f"{down:.0f}", f"{raw_w:.0f} (copy: read + write + fsync)", down / raw_w, ">= 0.5"))
        print(row("(raw read from page cache MB/s)", "", f"{raw_r:.0f}", None))
        print(f"\nserver RSS during the {LARGE_MB} MB upload: {base_rss:.0f} MB before, {peak[0]:.0f} MB peak "
              f"(growth {peak[0] - base_rss:.0f} MB; target < 100 MB)")
        shutil.rmtree(work, ignore_errors=True)
    finally:
        stop(nim, ndir)
        stop(bare, bdir)
        stop_moto(moto)
    return 0


if __name__ == "__main__":
    sys.exit(main())

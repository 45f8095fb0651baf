"""S3 benchmark: small-object PutObject/GetObject through boto3 (1 thread, and 4 processes) beside a
do-nothing server answering the same calls with canned responses (same uvicorn configuration), and moto
in server mode when installed; large-object upload/download MB/s (boto3 transfer manager, multipart,
4 threads) beside a raw write+fsync and read of the same bytes on the same disk; server RSS growth during
the large upload.

Run: .venv/bin/python benchmarks/s3.py     (NIMBUS_BENCH_S3_LARGE_MB=2048 for the 2 GB memory check;
NIMBUS_BENCH_S3_LARGE_MB=0 skips the large object, NIMBUS_BENCH_S3_MOTO=0 skips moto, NIMBUS_BENCH_S3_OPS=n
sets the calls per small-object figure, NIMBUS_BENCH_S3_ROUNDS=n its alternating rounds)
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
ROUNDS = int(os.environ.get("NIMBUS_BENCH_S3_ROUNDS", "4"))
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


_CLIENTS: dict[int, Any] = {}


def small_ops(port: int, op: str, n: int, tag: str = "w0") -> list[float]:
    s3 = _CLIENTS.get(port)
    if s3 is None:
        s3 = _CLIENTS[port] = client(port)  # once per process and server: client creation is not the figure
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


def parallel_rate(pool: Any, port: int, op: str, procs: int, n: int, tag: str) -> float:
    t = time.perf_counter()
    pool.map(_worker, [(port, op, n, f"{tag}p{i}") for i in range(procs)])
    return procs * n / (time.perf_counter() - t)


def small_rounds(ports: dict[str, int], rounds: int, ops: tuple[str, ...] = ("put", "get")) -> dict[tuple[str, str], dict[str, Any]]:
    """Each op from one boto3 thread and from four processes, the servers of ``ports`` taking turns in
    ``rounds`` rounds (so that load from anything else on a shared machine falls on all alike). Per (op,
    server): ``one`` (calls/s, total calls over total time), ``lat`` (sorted latencies), ``four`` (mean of
    the rounds' calls/s), and each round's figures (``one_rounds``, ``four_rounds``)."""
    per_round = max(SMALL_OPS // rounds, 4)
    got: dict[tuple[str, str], dict[str, Any]] = {}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        for op in ops:
            for who, port in ports.items():  # warm-up (and GetObject's keys)
                small_ops(port, op, 200)
                pool.map(_worker, [(port, op, 20, f"warm{i}") for i in range(4)])
                got[op, who] = {"lat": [], "one_rounds": [], "four_rounds": []}
            for r in range(rounds):
                for who, port in ports.items():
                    t = time.perf_counter()
                    got[op, who]["lat"].extend(small_ops(port, op, per_round, f"r{r}"))
                    got[op, who]["one_rounds"].append(per_round / (time.perf_counter() - t))
                for who, port in ports.items():
                    got[op, who]["four_rounds"].append(parallel_rate(pool, port, op, 4, per_round // 4, f"r{r}"))
            for who in ports:
                g = got[op, who]
                g["lat"].sort()
                g["one"] = per_round * rounds / sum(per_round / x for x in g["one_rounds"])
                g["four"] = statistics.mean(g["four_rounds"])
    return got


def spread(figure: list[float], baseline: list[float]) -> str:
    ratios = [a / b for a, b in zip(figure, baseline)]
    return f"rounds {min(ratios):.2f}-{max(ratios):.2f}"


def small_figures(nport: int, bport: int, rounds: int) -> list[str]:
    got = small_rounds({"nimbus": nport, "canned": bport}, rounds)
    out = []
    for op, name in (("put", "PutObject"), ("get", "GetObject")):
        n, b = got[op, "nimbus"], got[op, "canned"]
        out.append(row(f"{name} ops/s, 1 thread ({spread(n['one_rounds'], b['one_rounds'])})", f"{n['one']:.0f}",
                       f"{b['one']:.0f}", n["one"] / b["one"], ">= 0.8"))
        for q, label in ((0.5, "p50"), (0.99, "p99")):
            nq, bq = n["lat"][int(len(n["lat"]) * q)] * 1000, b["lat"][int(len(b["lat"]) * q)] * 1000
            out.append(row(f"{name} {label} ms", f"{nq:.2f}", f"{bq:.2f}", nq / bq))
        out.append(row(f"{name} ops/s, 4 processes ({spread(n['four_rounds'], b['four_rounds'])})", f"{n['four']:.0f}",
                       f"{b['four']:.0f}", n["four"] / b["four"], ">= 0.8"))
    return out


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
        print(f"small objects: {len(SMALL)} B, {SMALL_OPS} boto3 calls per figure in {ROUNDS} alternating rounds\n")
        print("| measurement | nimbus | do-nothing server | ratio | target |\n|---|---|---|---|---|")
        moto_rows = []
        if moto is not None:
            client(moto[1]).create_bucket(Bucket="bench-bucket")
        for line in small_figures(nport, bport, ROUNDS):
            print(line)
        b_ops = {op: measure(bport, op)["ops"] for op in ("put", "get")} if moto is not None else {}
        for op, name in (("put", "PutObject"), ("get", "GetObject")):
            if moto is not None:
                m = measure(moto[1], op)
                moto_rows.append(row(f"moto {name} ops/s, 1 thread", f"{m['ops']:.0f}", f"{b_ops[op]:.0f}", m["ops"] / b_ops[op], "(about 0.3)"))
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

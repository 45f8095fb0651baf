"""Floors: how close to the do-nothing servers a small server gets on this machine when it does only the
work a figure cannot do without, done simply, and nothing else (no parsing, no SigV4 canonical request, no
metadata, no service code). Each floor server answers exactly like the canned server of its benchmark. It
is a reference for reading Nimbus's figures (how much of a gap is the mandatory work on this machine, how
much is Nimbus's own), not a strict bound: a cleverer floor (group commit, preallocated files) could do a
little better, and on this machine identical runs differ by up to ~0.15.

1. Firehose PutRecordBatch, 500 x 1 KB, 4 client processes (benchmarks/firehose.py's case and rounds).
   Per call the floor server hashes the body with SHA-256 (what SigV4 must do with a JSON-protocol body),
   takes MD5 of three quarters of it (the delivered object's ETag over the decoded records) and writes
   those bytes twice: to the buffer (fdatasync'd before the answer) and to the object (fdatasync'd every
   128 MB, an object's worth).
   Printed with the two halves alone (SHA-256 + MD5, SHA-256 + the writes) and the 100 B case.
2. S3 PutObject of 1 KiB from one boto3 thread and 4 processes (benchmarks/s3.py's calls). Per call the
   floor server takes the MD5 (the ETag) and appends the body to a zeroed, preallocated file with a
   group-committed fdatasync before it answers (what "a 200 survives kill -9" needs, at its cheapest).

Run: .venv/bin/python benchmarks/floors.py [--seconds 5] [--rounds 6]
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import firehose  # noqa: E402
import s3  # noqa: E402
from _common import row, start_bare, stop  # noqa: E402

# Firehose: SHA-256 of the body, MD5 of 3/4 of it, and that written twice: to the buffer file, fdatasync'd
# before the answer, and to the object file, fdatasync'd every 128 MB (then both are cut back to empty, so
# the disk never fills); HASH / WRITE switch the halves off for the split rows.
FIREHOSE_FLOOR = textwrap.dedent(
    """
    import asyncio, hashlib, os
    HASH, WRITE = %r, %r
    BODY = b'''%s'''
    HEADERS = [(b"content-type", b"application/x-amz-json-1.1"), (b"content-length", str(len(BODY)).encode()),
               (b"x-amzn-requestid", b"00000000-0000-0000-0000-000000000000")]
    FILES = [os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) for name in ("buffer", "object")]
    written = 0

    async def app(scope, receive, send):
        global written
        if scope["type"] != "http":
            return
        sha = hashlib.sha256()
        chunks = []
        more = True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            sha.update(chunk)
            chunks.append(chunk)
            more = message.get("more_body", False)
        sha.hexdigest()
        body = b"".join(chunks)
        if len(body) > 1000:
            data = body[: len(body) * 3 // 4]
            if HASH:
                hashlib.md5(data).hexdigest()
            if WRITE:
                for fd in FILES:
                    os.write(fd, data)
                await asyncio.to_thread(os.fdatasync, FILES[0])  # the buffer is durable before the answer
                written += len(data)
                if written > 128 << 20:  # an object's worth: on disk, then both files start over
                    await asyncio.to_thread(os.fdatasync, FILES[1])
                    for fd in FILES:
                        os.ftruncate(fd, 0)
                        os.lseek(fd, 0, 0)
                    written = 0
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": BODY})
    """
)

# S3: MD5 for the ETag, then the body appended to a zeroed 64 MB file (wrapping) by one writer thread that
# fdatasyncs each batch of waiting requests once (group commit), before the 200.
S3_FLOOR = textwrap.dedent(
    """
    import asyncio, hashlib, os, threading
    SIZE = 64 << 20
    FD = os.open("log", os.O_RDWR | os.O_CREAT, 0o644)
    ZEROS = bytes(1 << 20)
    for offset in range(0, SIZE, len(ZEROS)):
        os.pwrite(FD, ZEROS, offset)
    os.fsync(FD)
    cond = threading.Condition()
    waiting = []

    def writer():
        position = 0
        while True:
            with cond:
                while not waiting:
                    cond.wait()
                batch = waiting[:]
                waiting.clear()
            data = b"".join(body for body, _, _ in batch)
            if position + len(data) > SIZE:
                position = 0
            os.pwrite(FD, data, position)
            position += len(data)
            os.fdatasync(FD)
            for _, loop, future in batch:
                loop.call_soon_threadsafe(future.set_result, None)

    threading.Thread(target=writer, daemon=True).start()

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        if scope["method"] != "PUT":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        body = b"".join(chunks)
        etag = hashlib.md5(body).hexdigest()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with cond:
            waiting.append((body, loop, future))
            cond.notify()
        await future
        headers = [(b"etag", f'"{etag}"'.encode()), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
    """
)


def _canned_firehose_body() -> str:
    import json

    return json.dumps({"FailedPutCount": 0, "Encrypted": False,
                       "RequestResponses": [{"RecordId": "4" * 56} for _ in range(firehose.RECORDS)]})


def firehose_floors(seconds: float, rounds: int) -> list[str]:
    body = _canned_firehose_body()
    servers = {"canned": start_bare(firehose.CANNED_APP),
               "floor": start_bare(FIREHOSE_FLOOR % (True, True, body)),
               "sha256+md5": start_bare(FIREHOSE_FLOOR % (True, False, body)),
               "sha256+writes": start_bare(FIREHOSE_FLOOR % (False, True, body))}
    try:
        targets = {name: (port, "floor") for name, (_, port, _) in servers.items()}
        cases = [(1000, 4), (firehose.RECORD_BYTES, 4)]
        results = firehose.compare(targets, rounds, seconds / rounds, cases=cases)
    finally:
        for proc, _, d in servers.values():
            stop(proc, d)
    rows = []
    for (size, procs), case in zip(cases, results):
        base = case["canned"]["rps"]
        for name, what in (("floor", "SHA-256 of the body, MD5 of the records, both durable writes"),
                           ("sha256+md5", "SHA-256 + MD5 only"), ("sha256+writes", "SHA-256 + the two durable writes only")):
            if size != 1000 and name != "floor":
                continue
            rps = case[name]["rps"]
            rows.append(row(f"Firehose {procs} processes, 500 x {size} B: {what}", f"{rps:,.0f} rec/s", f"{base:,.0f} canned",
                            rps / base, "Nimbus target 0.8"))
    return rows


def s3_floors() -> list[str]:
    canned, cport, cdir = start_bare(s3.CANNED_APP)
    floor, fport, fdir = start_bare(S3_FLOOR)
    rows = []
    try:
        # two runs of each, in alternating order; each figure is the floor's better run
        one, four = [], []
        for i in range(2):
            order = [("floor", fport), ("canned", cport)] if i % 2 == 0 else [("canned", cport), ("floor", fport)]
            got = {name: s3.measure(port, "put")["ops"] for name, port in order}
            one.append((got["floor"], got["canned"]))
            got = {name: s3.parallel_rate(port, "put", 4, s3.SMALL_OPS // 4) for name, port in order}
            four.append((got["floor"], got["canned"]))
    finally:
        stop(floor, fdir)
        stop(canned, cdir)
    for label, runs in (("1 boto3 thread", one), ("4 processes", four)):
        f, c = max(runs, key=lambda fc: fc[0] / fc[1])
        ratios = ", ".join(f"{a / b:.2f}" for a, b in runs)
        rows.append(row(f"S3 PutObject 1 KiB, {label}: MD5 + one group-committed fdatasync (runs: {ratios})",
                        f"{f:,.0f} ops/s", f"{c:,.0f} canned", f / c, "Nimbus target 0.8"))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0, help="Firehose: per server and case, split into rounds")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--parts", default="firehose,s3")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    rows = []
    if "firehose" in parts:
        rows += firehose_floors(args.seconds, args.rounds)
    if "s3" in parts:
        rows += s3_floors()
    print("| floor server (does only this) | floor | baseline | ratio | |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())

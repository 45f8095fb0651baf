"""Floors: how close to the do-nothing servers a small server gets on this machine when it does only the
work a figure cannot do without, done simply, and nothing else (no routing, no model, no metadata, no
service code). Each floor server answers exactly like the canned server of its benchmark. It
is a reference for reading Nimbus's figures (how much of a gap is the mandatory work on this machine, how
much is Nimbus's own), not a strict bound: a cleverer floor (group commit, preallocated files) could do a
little better, and on this machine identical runs differ by up to ~0.15.

1. Firehose PutRecordBatch, 500 x 1 KB, 4 client processes (benchmarks/firehose.py's case and rounds).
   Per call the floor server hashes the body with SHA-256 (what SigV4 must do with a JSON-protocol body),
   takes MD5 of three quarters of it (the delivered object's ETag over the decoded records) and writes
   those bytes twice: to the buffer (fdatasync'd before the answer) and to the object (fdatasync'd every
   128 MB, an object's worth); the MD5 and the object's copy on a thread of their own, after the answer,
   as delivery does.
   Printed with the two halves alone (SHA-256 + MD5, SHA-256 + the writes), the 100 B case and the
   1 KB case from one client process.
2. S3 PutObject of 1 KiB from one boto3 thread and 4 processes (benchmarks/s3.py's calls). Per call the
   floor server takes the MD5 (the ETag) and appends the body to a zeroed, preallocated file with a
   group-committed fdatasync before it answers (what "a 200 survives kill -9" needs, at its cheapest).
   The floor, Nimbus and the canned server take turns in rounds (s3.small_rounds).
3. The edge's signed call (benchmarks/edge.py's logs DescribeLogGroups under wrk, c=1 and c=32), beside
   the bare hello-world and Nimbus itself. Per call the floor server verifies the SigV4 signature simply
   (the date's skew, the canonical request from the signed headers, the string to sign, one HMAC with a
   cached signing key, a constant-time compare), reads the X-Amz-Target, parses the JSON body and answers
   an empty list with a request id: no routing by host, no model validation, no storage, no metrics.

Run: .venv/bin/python benchmarks/floors.py [--seconds 5] [--rounds 6] [--parts firehose,s3,edge]
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import firehose  # noqa: E402
import s3  # noqa: E402
from _common import ACCESS_KEY, SECRET_KEY, have_wrk, row, signed_headers, start_bare, start_nimbus, stop, wrk  # noqa: E402

# Firehose: SHA-256 of the body, MD5 of 3/4 of it, and that written twice: to the buffer file, fdatasync'd
# before the answer, and to the object file, fdatasync'd every 128 MB (then it is cut back to empty, so the
# disk never fills; the buffer file too). The MD5 and the object's copy are delivery's work: a thread does
# them off the answer's path, as a delivery stream does (at most 256 calls behind, then answers wait).
# HASH / WRITE switch the halves off for the split rows.
FIREHOSE_FLOOR = textwrap.dedent(
    """
    import asyncio, hashlib, os, queue, threading
    HASH, WRITE = %r, %r
    BODY = b'''%s'''
    HEADERS = [(b"content-type", b"application/x-amz-json-1.1"), (b"content-length", str(len(BODY)).encode()),
               (b"x-amzn-requestid", b"00000000-0000-0000-0000-000000000000")]
    FILES = [os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) for name in ("buffer", "object")]
    pending = queue.Queue(256)
    buffered = 0

    def deliver():
        written = 0
        while True:
            data = pending.get()
            if HASH:
                hashlib.md5(data).hexdigest()
            if WRITE:
                os.write(FILES[1], data)
                written += len(data)
                if written > 128 << 20:  # an object's worth: on disk, then the file starts over
                    os.fdatasync(FILES[1])
                    os.ftruncate(FILES[1], 0)
                    os.lseek(FILES[1], 0, 0)
                    written = 0

    threading.Thread(target=deliver, daemon=True).start()

    async def app(scope, receive, send):
        global buffered
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
            if WRITE:
                os.write(FILES[0], data)
                await asyncio.to_thread(os.fdatasync, FILES[0])  # the buffer is durable before the answer
                buffered += len(data)
                if buffered > 128 << 20:
                    os.ftruncate(FILES[0], 0)
                    os.lseek(FILES[0], 0, 0)
                    buffered = 0
            try:
                pending.put_nowait(data)
            except queue.Full:
                await asyncio.to_thread(pending.put, data)
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

# The edge: what any server must do with a signed JSON-protocol call before it can answer it.
EDGE_FLOOR = textwrap.dedent(
    """
    import calendar, hashlib, hmac, orjson, time
    from random import getrandbits
    SECRETS = {%r: %r}
    KEYS = {}
    OUT = orjson.dumps({"logGroups": []})

    def signing_key(secret, date, region, service):
        key = KEYS.get((secret, date, region, service))
        if key is None:
            key = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
            for part in (region, service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            KEYS[(secret, date, region, service)] = key
        return key

    async def answer(send, status, headers, body):
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        auth = headers.get("authorization")
        if auth is None:
            return await answer(send, 200, [(b"content-length", b"2")], b"ok")  # wait_http's probe
        fields = dict(part.strip().split("=", 1) for part in auth.split(" ", 1)[1].split(","))
        access_key, date, region, service, _ = fields["Credential"].split("/")
        amz_date = headers["x-amz-date"]
        d = amz_date
        when = calendar.timegm((int(d[0:4]), int(d[4:6]), int(d[6:8]), int(d[9:11]), int(d[11:13]), int(d[13:15])))
        if abs(time.time() - when) > 900:
            return await answer(send, 400, [(b"content-length", b"0")], b"")
        signed = fields["SignedHeaders"]
        canonical = "\\n".join([
            scope["method"], scope["raw_path"].decode() or "/", scope["query_string"].decode(),
            "".join(f"{h}:{' '.join(headers[h].split())}\\n" for h in signed.split(";")), signed,
            hashlib.sha256(body).hexdigest(),
        ])
        to_sign = (f"AWS4-HMAC-SHA256\\n{amz_date}\\n{date}/{region}/{service}/aws4_request\\n"
                   + hashlib.sha256(canonical.encode()).hexdigest())
        key = signing_key(SECRETS[access_key], date, region, service)
        if not hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), fields["Signature"]):
            return await answer(send, 403, [(b"content-length", b"0")], b"")
        operation = headers["x-amz-target"].rpartition(".")[2]
        orjson.loads(body)
        request_id = ("%%032x" %% getrandbits(128)).encode()
        await answer(send, 200, [(b"content-type", b"application/x-amz-json-1.1"), (b"x-amzn-requestid", request_id),
                                 (b"content-length", str(len(OUT)).encode())], OUT)
    """
)


def edge_floors(seconds: int) -> list[str]:
    if not have_wrk():
        return ["| edge floor | not run (wrk is not installed) | | | |"]
    bare, bport, bdir = start_bare()
    floor, fport, fdir = start_bare(EDGE_FLOOR % (ACCESS_KEY, SECRET_KEY))
    nim, nport, ndir, _ = start_nimbus()
    body = b"{}"
    runs: dict[tuple[int, str], list[float]] = {}
    try:
        calls = {}
        for name, port in (("floor", fport), ("nimbus", nport)):
            url = f"http://127.0.0.1:{port}/"
            calls[name] = (url, signed_headers("logs", "us-east-1", url, body, target="Logs_20140328.DescribeLogGroups"))
            got = wrk(url, connections=1, seconds=1, method="POST", headers=calls[name][1], body=body)  # warm-up
            if got["errors"]:
                raise RuntimeError(f"the {name} server refused the signed call")
        for _ in range(2):  # two rounds; each ratio is to the bare run just before it
            for c in (1, 32):
                b = wrk(f"http://127.0.0.1:{bport}/", connections=c, seconds=seconds)["rps"]
                for name, (url, headers) in calls.items():
                    runs.setdefault((c, name), []).append(wrk(url, connections=c, seconds=seconds, method="POST",
                                                              headers=headers, body=body)["rps"] / b)
                runs.setdefault((c, "bare"), []).append(b)
    finally:
        stop(bare, bdir)
        stop(floor, fdir)
        stop(nim, ndir)
    rows = []
    for c in (1, 32):
        bare_rps = sum(runs[(c, "bare")]) / len(runs[(c, "bare")])
        for name, what in (("floor", "SigV4 verified simply, JSON parsed, a canned list"),
                           ("nimbus", "Nimbus itself (benchmarks/edge.py's figure)")):
            ratios = runs[(c, name)]
            mean = sum(ratios) / len(ratios)
            rows.append(row(f"edge c={c}: {what} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})",
                            f"{mean * bare_rps:,.0f} req/s", f"{bare_rps:,.0f} bare", mean, "Nimbus target 0.5"))
    return rows


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
    nim, nport, ndir, _ = start_nimbus({"NIMBUS_FIREHOSE_CREATE_DELAY_S": "0"})
    try:
        firehose.client(nport, "s3").create_bucket(Bucket="bench")
        firehose.client(nport).create_delivery_stream(
            DeliveryStreamName="ingest",
            ExtendedS3DestinationConfiguration={"RoleARN": "arn:aws:iam::000000000000:role/r", "BucketARN": "arn:aws:s3:::bench",
                                                "BufferingHints": {"SizeInMBs": 128, "IntervalInSeconds": 900}})
        targets = {name: (port, "floor") for name, (_, port, _) in servers.items()}
        targets["nimbus"] = (nport, "ingest")
        cases = [(1000, 4), (firehose.RECORD_BYTES, 4), (1000, 1)]
        results = firehose.compare(targets, rounds, seconds / rounds, cases=cases)
    finally:
        for proc, _, d in servers.values():
            stop(proc, d)
        stop(nim, ndir)
    rows = []
    for (size, procs), case in zip(cases, results):
        base = case["canned"]["rps"]
        for name, what in (("floor", "SHA-256 of the body, MD5 of the records, both durable writes"),
                           ("sha256+md5", "SHA-256 + MD5 only"), ("sha256+writes", "SHA-256 + the two durable writes only"),
                           ("nimbus", "Nimbus itself, in the same rounds")):
            if (size != 1000 or procs != 4) and name not in ("floor", "nimbus"):
                continue
            rps = case[name]["rps"]
            clients = f"{procs} processes" if procs > 1 else "1 process"
            rows.append(row(f"Firehose {clients}, 500 x {size} B: {what}", f"{rps:,.0f} rec/s", f"{base:,.0f} canned",
                            rps / base, "Nimbus target 0.8"))
    return rows


def s3_floors(rounds: int) -> list[str]:
    canned, cport, cdir = start_bare(s3.CANNED_APP)
    floor, fport, fdir = start_bare(S3_FLOOR)
    nim, nport, ndir, _ = start_nimbus()
    rows = []
    try:
        s3.client(nport).create_bucket(Bucket="bench-bucket")
        got = s3.small_rounds({"floor": fport, "nimbus": nport, "canned": cport}, rounds, ops=("put",))
    finally:
        stop(floor, fdir)
        stop(canned, cdir)
        stop(nim, ndir)
    c = got["put", "canned"]
    for who, what in (("floor", "MD5 + one group-committed fdatasync"), ("nimbus", "Nimbus itself, in the same rounds")):
        g = got["put", who]
        rows.append(row(f"S3 PutObject 1 KiB, 1 boto3 thread: {what} ({s3.spread(g['one_rounds'], c['one_rounds'])})",
                        f"{g['one']:,.0f} ops/s", f"{c['one']:,.0f} canned", g["one"] / c["one"], "Nimbus target 0.8"))
        rows.append(row(f"S3 PutObject 1 KiB, 4 processes: {what} ({s3.spread(g['four_rounds'], c['four_rounds'])})",
                        f"{g['four']:,.0f} ops/s", f"{c['four']:,.0f} canned", g["four"] / c["four"], "Nimbus target 0.8"))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0, help="Firehose: per server and case, split into rounds")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--parts", default="firehose,s3,edge")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    rows = []
    if "firehose" in parts:
        rows += firehose_floors(args.seconds, args.rounds)
    if "s3" in parts:
        rows += s3_floors(min(args.rounds, 4))
    if "edge" in parts:
        rows += edge_floors(max(int(args.seconds), 2))
    print("| floor server (does only this) | floor | baseline | ratio | |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())

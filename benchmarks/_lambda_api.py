"""Invoke through the Lambda API (the service's part of benchmarks/lambda_invoke.py; not run on its own).

``api_figures()`` measures a warm echo function invoked through Nimbus's edge and Lambda service:

* boto3 ``Invoke`` latency at concurrency 1 (p50/p99), beside a do-nothing uvicorn server that answers
  every request with a canned Invoke response (boto3's own floor), in the same run;
* raw HTTP (one request signed once with botocore's SigV4Auth, replayed by wrk) latency at concurrency 1
  and throughput at 8 and 32 connections, beside wrk against a bare ASGI app.

Targets (issue 3): boto3 p50 <= 1.3x the do-nothing server; raw HTTP p50 <= 0.5 ms; >= 3,000 invokes/s at 32.
"""

from __future__ import annotations

import statistics
import textwrap
import time
from typing import Any

from _common import ACCESS_KEY, SECRET_KEY, code_zip, have_wrk, row, signed_headers, start_bare, start_nimbus, stop, wrk

CANNED_INVOKE_APP = textwrap.dedent(
    """
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        while True:
            m = await receive()
            if not m.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-length", b"2"),
            (b"x-amzn-requestid", b"00000000-0000-0000-0000-000000000000"), (b"x-amz-executed-version", b"$LATEST")]})
        await send({"type": "http.response.body", "body": b"{}"})
    """
)

ECHO = "def handler(event, context):\n    return event\n"


def _client(service: str, port: int) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}, read_timeout=60, tcp_keepalive=True),
    )



def _latencies(call: Any, n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def api_figures(n: int = 2000, seconds: int = 5) -> list[str]:
    """Run the API-level invoke benchmark; return markdown table rows (benchmarks/lambda_invoke.py prints them)."""
    rows = ["| measure | Nimbus | baseline (same run) | ratio | target |", "|---|---|---|---|---|"]
    canned, cport, cdir = start_bare(CANNED_INVOKE_APP)
    bare, bport, bdir = start_bare()
    nim, nport, ndir, _ = start_nimbus({"NIMBUS_LAMBDA_CONCURRENCY": "64"})
    try:
        lam = _client("lambda", nport)
        lam.create_function(
            FunctionName="bench-echo", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/r",
            Handler="app.handler", Code={"ZipFile": code_zip(ECHO)}, MemorySize=128,
        )
        payload = b'{"hello": "world"}'
        for _ in range(50):  # cold start + warm-up
            lam.invoke(FunctionName="bench-echo", Payload=payload)

        def nimbus_call() -> None:
            out = lam.invoke(FunctionName="bench-echo", Payload=payload)
            out["Payload"].read()

        floor = _client("lambda", cport)

        def floor_call() -> None:
            out = floor.invoke(FunctionName="bench-echo", Payload=payload)
            out["Payload"].read()

        _latencies(floor_call, 100)
        f50, f99 = _latencies(floor_call, n)
        b50, b99 = _latencies(nimbus_call, n)
        rows.append(row("boto3 Invoke p50, c=1", f"{b50:.2f} ms", f"{f50:.2f} ms (do-nothing server)", b50 / f50, "<= 1.3x"))
        rows.append(row("boto3 Invoke p99, c=1", f"{b99:.2f} ms", f"{f99:.2f} ms (do-nothing server)", b99 / f99))
        if have_wrk():
            url = f"http://127.0.0.1:{nport}/2015-03-31/functions/bench-echo/invocations"
            headers = signed_headers("lambda", "us-east-1", url, payload, content_type="application/json")
            burl = f"http://127.0.0.1:{bport}/"
            wrk(url, connections=32, seconds=2, method="POST", headers=headers, body=payload)  # scale out the pool
            base1 = wrk(burl, connections=1, seconds=seconds)
            raw1 = wrk(url, connections=1, seconds=seconds, method="POST", headers=headers, body=payload)
            rows.append(row("raw HTTP Invoke p50, c=1", f"{raw1['p50_ms']:.3f} ms", f"{base1['p50_ms']:.3f} ms (bare ASGI)", raw1["p50_ms"] / base1["p50_ms"], "<= 0.5 ms"))
            rows.append(row("raw HTTP Invoke p99, c=1", f"{raw1['p99_ms']:.3f} ms", f"{base1['p99_ms']:.3f} ms (bare ASGI)", raw1["p99_ms"] / base1["p99_ms"]))
            for c in (8, 32):
                base = wrk(burl, connections=c, seconds=seconds)
                raw = wrk(url, connections=c, seconds=seconds, method="POST", headers=headers, body=payload)
                errs = f" ({int(raw['errors'])} non-2xx)" if raw["errors"] else ""
                rows.append(row(f"raw HTTP Invoke throughput, c={c}", f"{raw['rps']:.0f}/s{errs}", f"{base['rps']:.0f}/s (bare ASGI)", raw["rps"] / base["rps"], ">= 3,000/s" if c == 32 else ""))
        else:
            rows.append("| raw HTTP | wrk not installed | | | |")
    finally:
        stop(nim, ndir)
        stop(canned, cdir)
        stop(bare, bdir)
    return rows

"""STS and IAM benchmark: the query protocol's cost through the whole edge (form body, SigV4, the query codec,
the XML answer).

- signed STS GetCallerIdentity at c=1 / c=32 (wrk) beside a bare ASGI hello-world served by the same uvicorn
  configuration in the same rounds (the edge benchmark's baseline and target, >= 0.5);
- IAM GetRole and CreateRole + DeleteRole from one boto3 thread (a metadata read; two durable commits),
  beside STS GetCallerIdentity from the same client (what boto3 and the query codec cost alone), and the same
  calls against moto in server mode (the peer; in memory, nothing durable) when it is installed.

Run: .venv/bin/python benchmarks/sts_iam.py   (needs wrk: apt-get install wrk; NIMBUS_BENCH_ROUNDS=n, default 3)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from typing import Any

from _common import have_wrk, row, rss_mb, signed_headers, start_bare, start_moto, start_nimbus, stop, stop_moto, wrk

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def ops_per_s(call, seconds: float = 3.0) -> tuple[float, float]:
    """(calls/s, p50 ms) of ``call()`` repeated for ``seconds``."""
    times: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return len(times) / sum(times), statistics.median(times) * 1000


def main() -> int:
    rounds = int(os.environ.get("NIMBUS_BENCH_ROUNDS", "3"))
    nim, nport, ndir, _ = start_nimbus()
    try:
        import boto3
        from _common import ACCESS_KEY, SECRET_KEY
        from botocore.config import Config

        kw = dict(endpoint_url=f"http://127.0.0.1:{nport}", region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
                  aws_secret_access_key=SECRET_KEY, config=Config(retries={"max_attempts": 1}))
        sts, iam = boto3.client("sts", **kw), boto3.client("iam", **kw)
        iam.create_role(RoleName="bench-role", AssumeRolePolicyDocument=TRUST)
        sts.get_caller_identity()
        counter = iter(range(10**9))
        moto = start_moto()
        peer: dict[str, Any] = {}
        if moto is not None:
            mkw = {**kw, "endpoint_url": f"http://127.0.0.1:{moto[1]}"}
            peer = {"sts": boto3.client("sts", **mkw), "iam": boto3.client("iam", **mkw)}
            peer["iam"].create_role(RoleName="bench-role", AssumeRolePolicyDocument=TRUST)

        def cases(s: Any, i: Any) -> list[tuple[str, Any]]:
            def create_delete() -> None:
                name = f"bench-{next(counter)}"
                i.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
                i.delete_role(RoleName=name)

            return [("STS GetCallerIdentity", s.get_caller_identity),
                    ("IAM GetRole", lambda: i.get_role(RoleName="bench-role")),
                    ("IAM CreateRole + DeleteRole (pairs)", create_delete)]

        print("| measurement (boto3, 1 thread) | nimbus calls/s | p50 ms | moto calls/s (peer) | ratio |\n|---|---|---|---|---|")
        try:
            mine = cases(sts, iam)
            theirs = cases(peer["sts"], peer["iam"]) if peer else [(label, None) for label, _ in mine]
            for (label, call), (_, peer_call) in zip(mine, theirs):
                rate, p50 = ops_per_s(call)
                other = ops_per_s(peer_call)[0] if peer_call is not None else None
                print(f"| {label} | {rate:,.0f} | {p50:.3f} | {'-' if other is None else f'{other:,.0f}'} | "
                      f"{'-' if other is None else f'{rate / other:.2f}'} |")
        finally:
            stop_moto(moto)

        if not have_wrk():
            print("wrk is not installed (apt-get install wrk); skipping the throughput part")
            return 0
        bare, bport, bdir = start_bare()
        try:
            url = f"http://127.0.0.1:{nport}/"
            body = b"Action=GetCallerIdentity&Version=2011-06-15"
            headers = signed_headers("sts", "us-east-1", url, body, content_type="application/x-www-form-urlencoded; charset=utf-8")
            wrk(url, connections=1, seconds=1, method="POST", headers=headers, body=body)
            print(f"\n{rounds} alternating rounds of 4 s per server and concurrency\n")
            print("| measurement | nimbus | bare ASGI hello | ratio | target |\n|---|---|---|---|---|")
            for c in (1, 32):
                runs: dict[str, list[float]] = {"bare": [], "nimbus": []}
                for r in range(rounds):
                    for who in (("bare", "nimbus") if r % 2 == 0 else ("nimbus", "bare")):
                        if who == "bare":
                            runs[who].append(wrk(f"http://127.0.0.1:{bport}/", connections=c, seconds=4)["rps"])
                        else:
                            out = wrk(url, connections=c, seconds=4, method="POST", headers=headers, body=body)
                            if out["errors"]:
                                print("warning: non-2xx responses from nimbus", file=sys.stderr)
                            runs[who].append(out["rps"])
                n, b = statistics.mean(runs["nimbus"]), statistics.mean(runs["bare"])
                print(row(f"signed STS GetCallerIdentity/s, c={c}", f"{n:,.0f}", f"{b:,.0f}", n / b, ">= 0.50"))
        finally:
            stop(bare, bdir)
        print(f"\nnimbus resident memory after load: {rss_mb(nim.pid):.1f} MB")
    finally:
        stop(nim, ndir)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared helpers for the Kinesis integration tests."""

from __future__ import annotations

import time
from typing import Any

# Short, configured delays so tests never sleep for AWS's minutes.
FAST_ENV = {
    "NIMBUS_KINESIS_STATE_DELAY_SECONDS": "0.1",
    "NIMBUS_KINESIS_ESM_POLL_SECONDS": "0.05",
}


def wait_active(k: Any, name: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        d = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if d["StreamStatus"] == "ACTIVE":
            return d
        if time.monotonic() > deadline:
            raise AssertionError(f"stream {name} stuck in {d['StreamStatus']}")
        time.sleep(0.05)


def create_active(k: Any, name: str, shards: int = 1) -> None:
    k.create_stream(StreamName=name, ShardCount=shards)
    wait_active(k, name)


def read_shard(k: Any, shard_id: str, name: str, kind: str = "TRIM_HORIZON", **kw: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All records of one shard from ``kind`` until caught up (or the shard's end); returns (records, last response)."""
    it = k.get_shard_iterator(StreamName=name, ShardId=shard_id, ShardIteratorType=kind, **kw)["ShardIterator"]
    out: list[dict[str, Any]] = []
    while True:
        r = k.get_records(ShardIterator=it)
        out += r["Records"]
        if "NextShardIterator" not in r or (not r["Records"] and r["MillisBehindLatest"] == 0):
            return out, r
        it = r["NextShardIterator"]


def code(exc: Any) -> str:
    return str(exc.value.response["Error"]["Code"])

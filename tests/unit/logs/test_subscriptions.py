"""Subscription delivery on in-memory storage with a recording destination: batching per put, retries,
dropping after a non-retryable error, resuming from the durable positions after a "restart" (a new
``Subscriptions`` over the same stores) and catching up when the queue overflows."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

import pytest

from nimbus.services.logs import subscriptions as subs_mod
from nimbus.services.logs.destinations import DeliveryFailed
from nimbus.services.logs.groups import LogGroups
from nimbus.services.logs.subscriptions import Subscriptions
from nimbus.storage.memory import MemoryLogStore, MemoryMetadataStore

DEST = "arn:aws:kinesis:us-east-1:000000000000:stream/s"


class Recorder:
    """A destination that records messages; ``fail`` holds the errors the next sends raise, in order."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.fail: list[DeliveryFailed] = []
        self.blocked: asyncio.Event | None = None

    async def check(self, destination_arn: str, control: bytes) -> None:
        return None

    async def send(self, destination_arn: str, data: bytes, *, partition_key: str) -> None:
        if self.blocked is not None:
            await self.blocked.wait()
        if self.fail:
            raise self.fail.pop(0)
        self.messages.append(json.loads(gzip.decompress(data)))


def build(db: MemoryMetadataStore, store: MemoryLogStore, dest: Recorder) -> tuple[LogGroups, Subscriptions]:
    engine = LogGroups(db, store)
    subs = Subscriptions(engine, db, dest, extra={"NIMBUS_LOGS_SUBSCRIPTION_RETRY_DELAYS": "0.01"})
    engine.listeners.append(subs)
    subs.start()
    return engine, subs


async def put(engine: LogGroups, *messages: str) -> None:
    now = int(engine.now() * 1000)
    await engine.put_events("000000000000", "us-east-1", "g", "s", [{"timestamp": now, "message": m} for m in messages])


def texts(dest: Recorder) -> list[list[str]]:
    return [[e["message"] for e in m["logEvents"]] for m in dest.messages]


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_one_message_per_put_and_retry_then_drop() -> None:
    async def main() -> None:
        db, store, dest = MemoryMetadataStore(), MemoryLogStore(), Recorder()
        engine, subs = build(db, store, dest)
        engine.create_group("000000000000", "us-east-1", "g")
        engine.create_stream("000000000000", "us-east-1", "g", "s")
        await put(engine, "before the filter ERROR")
        await subs.put("000000000000", "us-east-1", "g", "f", pattern="ERROR", destination_arn=DEST, role_arn="r", distribution=None)
        dest.fail = [DeliveryFailed("throttled", retryable=True)] * 2
        await put(engine, "ERROR a", "ok", "ERROR b")
        await subs.drain()
        assert texts(dest) == [["ERROR a", "ERROR b"]]
        dest.fail = [DeliveryFailed("gone", retryable=False)]
        await put(engine, "ERROR lost")
        await put(engine, "ERROR next")
        await subs.drain()
        assert texts(dest) == [["ERROR a", "ERROR b"], ["ERROR next"]]
        await subs.aclose()

    run(main())


def test_pending_delivery_resumes_after_restart_without_duplicates() -> None:
    async def main() -> None:
        db, store, dest = MemoryMetadataStore(), MemoryLogStore(), Recorder()
        engine, subs = build(db, store, dest)
        engine.create_group("000000000000", "us-east-1", "g")
        engine.create_stream("000000000000", "us-east-1", "g", "s")
        await subs.put("000000000000", "us-east-1", "g", "f", pattern="", destination_arn=DEST, role_arn="r", distribution=None)
        await put(engine, "delivered")
        await subs.drain()
        dest.blocked = asyncio.Event()  # the destination hangs: the next put stays pending...
        await put(engine, "pending 1", "pending 2")
        await asyncio.sleep(0.05)
        await subs.aclose()  # ...when the server goes away
        assert texts(dest) == [["delivered"]]

        dest2 = Recorder()
        engine2, subs2 = build(db, store, dest2)
        await subs2.drain()
        assert texts(dest2) == [["pending 1", "pending 2"]]
        await put(engine2, "after")
        await subs2.drain()
        assert texts(dest2) == [["pending 1", "pending 2"], ["after"]]
        await subs2.aclose()

    run(main())


def test_queue_overflow_catches_up_from_the_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subs_mod, "MAX_QUEUE", 2)

    async def main() -> None:
        db, store, dest = MemoryMetadataStore(), MemoryLogStore(), Recorder()
        engine, subs = build(db, store, dest)
        engine.create_group("000000000000", "us-east-1", "g")
        engine.create_stream("000000000000", "us-east-1", "g", "s")
        await subs.put("000000000000", "us-east-1", "g", "f", pattern="", destination_arn=DEST, role_arn="r", distribution=None)
        dest.blocked = asyncio.Event()
        for i in range(6):
            await put(engine, f"m{i}")
        dest.blocked.set()
        dest.blocked = None
        await subs.drain()
        delivered = [m for batch in texts(dest) for m in batch]
        assert delivered == [f"m{i}" for i in range(6)]  # all, in order, once
        await subs.aclose()

    run(main())


def test_large_batches_are_split_to_fit_a_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subs_mod, "MAX_MESSAGE_BYTES", 2000)

    async def main() -> None:
        import os

        db, store, dest = MemoryMetadataStore(), MemoryLogStore(), Recorder()
        engine, subs = build(db, store, dest)
        engine.create_group("000000000000", "us-east-1", "g")
        engine.create_stream("000000000000", "us-east-1", "g", "s")
        await subs.put("000000000000", "us-east-1", "g", "f", pattern="", destination_arn=DEST, role_arn="r", distribution=None)
        big = [os.urandom(300).hex() for _ in range(10)]  # incompressible: ~600 bytes each
        await put(engine, *big)
        await subs.drain()
        assert len(dest.messages) > 1
        assert [m for batch in texts(dest) for m in batch] == big
        await subs.aclose()

    run(main())

"""The async invocation queue on in-memory storage: retries, destinations, max age, throttles, resume."""

from __future__ import annotations

import asyncio
import json

from nimbus.services.lambda_.async_queue import AsyncQueue, Event, Outcome
from nimbus.storage import open_memory_storage

FN = "arn:aws:lambda:us-east-1:000000000000:function:f"


def make_queue(storage, outcomes, policy=(3, 21600, "arn:ok", "arn:fail"), delivered=None, attempts=None):
    delivered = delivered if delivered is not None else []
    attempts = attempts if attempts is not None else []

    async def run(event: Event) -> Outcome:
        attempts.append(event.attempt)
        return outcomes.pop(0) if outcomes else Outcome("ok", b'"done"')

    async def deliver(dest: str, record: bytes) -> None:
        delivered.append((dest, json.loads(record)))

    q = AsyncQueue(
        storage.logs.open("lambda/async"), storage.metadata, run=run, policy=lambda e: policy, deliver=deliver, retry_delays_s=(0.01, 0.02)
    )
    return q, delivered, attempts


async def until(cond, timeout=5.0):
    for _ in range(int(timeout / 0.01)):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def test_retries_then_failure_destination() -> None:
    async def main() -> None:
        storage = open_memory_storage()
        err = Outcome("function_error", b'{"errorMessage": "boom"}', "$LATEST", "Unhandled")
        q, delivered, attempts = make_queue(storage, [err, err, err])
        q.start()
        await q.enqueue(Event("r1", FN, None, b'{"a": 1}', 0 + int(__import__("time").time() * 1000)))
        await until(lambda: delivered)
        await q.aclose()
        assert attempts == [1, 2, 3]
        dest, record = delivered[0]
        assert dest == "arn:fail"
        assert record["requestContext"] == {"requestId": "r1", "functionArn": FN + ":$LATEST", "condition": "RetriesExhausted", "approximateInvokeCount": 3}
        assert record["requestPayload"] == {"a": 1}
        assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
        assert record["responsePayload"] == {"errorMessage": "boom"}
        assert record["version"] == "1.0" and record["timestamp"].endswith("Z")

    asyncio.run(main())


def test_success_after_a_retry_and_throttles_do_not_count() -> None:
    async def main() -> None:
        storage = open_memory_storage()
        outcomes = [Outcome("throttled", status_code=429), Outcome("function_error", b"{}", "$LATEST", "Unhandled"), Outcome("ok", b'{"r": 2}')]
        q, delivered, attempts = make_queue(storage, outcomes)
        q.throttle_backoff_s = 0.01
        q.start()
        await q.enqueue(Event("r2", FN, "prod", b"{}", int(__import__("time").time() * 1000)))
        await until(lambda: delivered, timeout=10)
        await q.aclose()
        assert attempts == [1, 1, 2]
        dest, record = delivered[0]
        assert dest == "arn:ok" and record["requestContext"]["condition"] == "Success"
        assert record["requestContext"]["functionArn"] == FN + ":prod"
        assert record["responsePayload"] == {"r": 2}

    asyncio.run(main())


def test_event_age_exceeded() -> None:
    async def main() -> None:
        storage = open_memory_storage()
        q, delivered, attempts = make_queue(storage, [], policy=(3, 60, None, "arn:fail"))
        q.start()
        await q.enqueue(Event("r3", FN, None, b"{}", 0))  # enqueued in 1970
        await until(lambda: delivered)
        await q.aclose()
        assert attempts == [] and delivered[0][1]["requestContext"]["condition"] == "EventAgeExceeded"

    asyncio.run(main())


def test_resumes_from_checkpoint_after_restart() -> None:
    async def main() -> None:
        storage = open_memory_storage()
        # first "process": queue two events, never start the consumer
        q1, _, _ = make_queue(storage, [])
        await q1.enqueue(Event("a", FN, None, b"{}", int(__import__("time").time() * 1000)))
        await q1.enqueue(Event("b", FN, None, b"{}", int(__import__("time").time() * 1000)))
        # second "process" picks them up
        q2, delivered, _ = make_queue(storage, [])
        q2.start()
        await until(lambda: len(delivered) == 2)
        await q2.aclose()
        assert sorted(r["requestContext"]["requestId"] for _, r in delivered) == ["a", "b"]
        # a third one has nothing left to do
        q3, delivered3, attempts3 = make_queue(storage, [])
        q3.start()
        await asyncio.sleep(0.1)
        await q3.aclose()
        assert attempts3 == []

    asyncio.run(main())

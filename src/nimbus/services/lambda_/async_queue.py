"""The durable queue behind ``InvocationType: Event`` (aws-contracts.md C.2 "Async invocation semantics").

An accepted event is one record appended (fsync'd) to the storage log ``lambda/async`` before the 202.
One consumer reads the log from its checkpoint and runs each record in its own task:

* a function error (exception, timeout, crash) is retried ``MaximumRetryAttempts`` times (default 2),
  waiting ``retry_delays_s`` (AWS: about 60 s, then 120 s; configurable so tests run in seconds). A retry
  is a new record appended to the log with its attempt number and not-before time, so a restart resumes
  it; the original record counts as done once the retry is durable;
* throttling and system errors are retried with exponential backoff (1 s doubling to 5 min) without
  counting as attempts, until the event is older than ``MaximumEventAgeInSeconds`` (default 6 h);
* the outcome goes to the OnSuccess / OnFailure destination of the qualifier's event-invoke config
  (Lambda functions; other ARN types are logged and dropped, as Nimbus serves no SQS/SNS/EventBridge) in
  AWS's invocation-record format.

The checkpoint (lowest sequence not yet finished) is saved in the metadata store a little after it moves,
and the log is trimmed behind it. Delivery is at least once: records after the saved checkpoint run again
after a crash, as AWS warns duplicates can happen.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from nimbus.storage import Log, MetadataStore

log = logging.getLogger(__name__)

QUEUE_LOG = "lambda/async"
CHECKPOINT_KIND = "lambda.queue"
CHECKPOINT_KEY = "checkpoint"
DEFAULT_RETRY_DELAYS_S = (60.0, 120.0)
DEFAULT_MAX_ATTEMPTS = 3  # 1 + MaximumRetryAttempts (default 2)
DEFAULT_MAX_AGE_S = 21_600
THROTTLE_BACKOFF_MAX_S = 300.0
READ_BATCH = 256
MAX_IN_FLIGHT = 4096


@dataclass(slots=True)
class Event:
    """One queued invocation attempt (the payload of a queue record)."""

    request_id: str
    function: str  # unqualified function ARN
    qualifier: str | None
    payload: bytes
    enqueued_ms: int
    attempt: int = 1  # the attempt this record will make
    not_before_ms: int = 0

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.request_id,
                "fn": self.function,
                "q": self.qualifier,
                "p": base64.b64encode(self.payload).decode("ascii"),
                "t0": self.enqueued_ms,
                "n": self.attempt,
                "at": self.not_before_ms,
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> Event:
        d = orjson.loads(raw)
        return cls(d["id"], d["fn"], d.get("q"), base64.b64decode(d["p"]), d["t0"], d.get("n", 1), d.get("at", 0))


@dataclass(slots=True, frozen=True)
class Outcome:
    """What one attempt produced, as the queue needs it."""

    kind: str  # "ok" | "function_error" | "throttled" | "gone" (function deleted) | "system_error"
    payload: bytes = b""
    executed_version: str = "$LATEST"
    function_error: str | None = None
    status_code: int = 200


# run(event) -> Outcome;  settings(event) -> (max_attempts, max_age_s, on_success_arn, on_failure_arn)
Runner = Callable[[Event], Awaitable[Outcome]]
Policy = Callable[[Event], tuple[int, int, str | None, str | None]]
Deliver = Callable[[str, bytes], Awaitable[None]]


class AsyncQueue:
    def __init__(
        self,
        log_: Log,
        metadata: MetadataStore,
        *,
        run: Runner,
        policy: Policy,
        deliver: Deliver,
        retry_delays_s: tuple[float, ...] = DEFAULT_RETRY_DELAYS_S,
        concurrency: int = 64,
        clock_time: Callable[[], float] = time.time,
    ) -> None:
        self.log = log_
        self.db = metadata
        self._run = run
        self._policy = policy
        self._deliver = deliver
        self.retry_delays_s = retry_delays_s
        self.now = clock_time
        self._sem = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._in_flight: set[int] = set()
        self._cursor = 0
        self._saved = -1
        self._tasks: set[asyncio.Task[None]] = set()
        self._main: asyncio.Task[None] | None = None
        self._closing = False
        self.throttle_backoff_s = 1.0  # first backoff after a throttle or system error (doubles)

    # --- producer -------------------------------------------------------------------------------

    async def enqueue(self, event: Event) -> None:
        """Durably queue an event (returns after fsync)."""
        await self.log.append([event.encode()])
        self._wake.set()

    # --- consumer -------------------------------------------------------------------------------

    def start(self) -> None:
        if self._main is None:
            doc = self.db.get(CHECKPOINT_KIND, CHECKPOINT_KEY) or {}
            self._cursor = max(int(doc.get("seq", 0)), self.log.first_seq)
            self._saved = self._cursor
            self._main = asyncio.get_running_loop().create_task(self._consume(), name="lambda-async-queue")

    async def aclose(self) -> None:
        self._closing = True
        tasks = [t for t in [self._main, *self._tasks] if t is not None]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._save_checkpoint()

    def pending(self) -> int:
        return len(self._in_flight)

    async def _consume(self) -> None:
        last_save = 0.0
        while True:
            if len(self._in_flight) >= MAX_IN_FLIGHT:
                await asyncio.sleep(0.05)
                continue
            records = self.log.read(self._cursor, READ_BATCH)
            if not records:
                self._wake.clear()
                if self.now() - last_save > 0.2:
                    self._save_checkpoint()
                    last_save = self.now()
                try:
                    await asyncio.wait_for(self._wake.wait(), 0.25)
                except asyncio.TimeoutError:
                    pass
                continue
            for rec in records:
                try:
                    event = Event.decode(rec.payload)
                except (ValueError, KeyError, TypeError):
                    log.warning("dropping undecodable async event seq=%d", rec.seq)
                    continue
                self._in_flight.add(rec.seq)
                task = asyncio.get_running_loop().create_task(self._handle(rec.seq, event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            self._cursor = records[-1].seq + 1

    def _done(self, seq: int) -> None:
        self._in_flight.discard(seq)

    def _save_checkpoint(self) -> None:
        checkpoint = min(self._in_flight) if self._in_flight else self._cursor
        if checkpoint == self._saved:
            return
        try:
            self.db.put(CHECKPOINT_KIND, CHECKPOINT_KEY, {"seq": checkpoint})
            self._saved = checkpoint
        except Exception:  # noqa: BLE001 - the store may be closing; the checkpoint only saves work
            log.debug("could not save async queue checkpoint", exc_info=True)
            return
        if not self._closing and checkpoint - self.log.first_seq >= 1024:
            asyncio.get_running_loop().create_task(self._trim(checkpoint))

    async def _trim(self, seq: int) -> None:
        try:
            await self.log.trim(seq)
        except Exception:  # noqa: BLE001
            log.debug("async queue trim failed", exc_info=True)

    async def _handle(self, seq: int, event: Event) -> None:
        try:
            await self._attempt(event)
        except asyncio.CancelledError:
            raise  # still in flight: the saved checkpoint stays before it, so it runs again after restart
        except Exception:  # noqa: BLE001 - one bad event must not stop the queue
            log.exception("async invocation failed request_id=%s", event.request_id)
        self._done(seq)

    async def _sleep_until(self, t_ms: float) -> None:
        delay = t_ms / 1000 - self.now()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _attempt(self, event: Event) -> None:
        await self._sleep_until(event.not_before_ms)
        backoff = self.throttle_backoff_s
        while True:
            max_attempts, max_age_s, on_success, on_failure = self._policy(event)
            age_s = self.now() - event.enqueued_ms / 1000
            if age_s > max_age_s:
                await self._record(event, on_failure, "EventAgeExceeded", None)
                return
            async with self._sem:
                outcome = await self._run(event)
            if outcome.kind == "gone":
                log.info("async event dropped: function deleted request_id=%s", event.request_id)
                return
            if outcome.kind in ("throttled", "system_error"):
                # not an attempt: back off (1 s doubling to 5 min) until the event is too old
                await asyncio.sleep(min(backoff, THROTTLE_BACKOFF_MAX_S))
                backoff *= 2
                continue
            if outcome.kind == "ok":
                await self._record(event, on_success, "Success", outcome)
                return
            # a function error
            if event.attempt < max_attempts:
                delay = self.retry_delays_s[min(event.attempt - 1, len(self.retry_delays_s) - 1)] if self.retry_delays_s else 0.0
                retry = Event(
                    event.request_id,
                    event.function,
                    event.qualifier,
                    event.payload,
                    event.enqueued_ms,
                    event.attempt + 1,
                    int((self.now() + delay) * 1000),
                )
                await self.enqueue(retry)
                return
            await self._record(event, on_failure, "RetriesExhausted", outcome)
            return

    async def _record(self, event: Event, destination: str | None, condition: str, outcome: Outcome | None) -> None:
        if not destination:
            if condition != "Success":
                log.info("async event discarded condition=%s request_id=%s", condition, event.request_id)
            return
        try:
            request_payload: Any = orjson.loads(event.payload) if event.payload else None
        except orjson.JSONDecodeError:
            request_payload = event.payload.decode("utf-8", "replace")
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.now())) + f".{int(self.now() * 1000) % 1000:03d}Z",
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": f"{event.function}:{event.qualifier or '$LATEST'}",
                "condition": condition,
                "approximateInvokeCount": event.attempt,
            },
            "requestPayload": request_payload,
        }
        if outcome is not None:
            response: dict[str, Any] = {"statusCode": outcome.status_code, "executedVersion": outcome.executed_version}
            if outcome.function_error:
                response["functionError"] = outcome.function_error
            record["responseContext"] = response
            try:
                record["responsePayload"] = orjson.loads(outcome.payload) if outcome.payload else None
            except orjson.JSONDecodeError:
                record["responsePayload"] = outcome.payload.decode("utf-8", "replace")
        else:
            record["responseContext"] = {"statusCode": 0, "executedVersion": "", "functionError": ""}
        try:
            await self._deliver(destination, orjson.dumps(record))
        except Exception:  # noqa: BLE001
            log.warning("destination delivery failed destination=%s request_id=%s", destination, event.request_id, exc_info=True)

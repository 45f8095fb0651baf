"""Subscription filters: PutSubscriptionFilter / DescribeSubscriptionFilters / DeleteSubscriptionFilter and
the delivery of matching events to a Lambda function, a Kinesis stream or a Firehose delivery stream.

Filters are metadata documents (``logs.subscription`` acct:region:group:filter), at most two per group as
AWS, loaded into memory when the engine is built. The engine tells ``Subscriptions.appended`` of every
batch it made durable (PutLogEvents, function output through the sink); that call only runs the filter
patterns and queues the matches, so PutLogEvents answers as fast as before. One worker task per filter
delivers its queue in order: the matches of one PutLogEvents call for one stream become one message
(``DATA_MESSAGE``, gzip'd JSON; split in parts when it would not fit a destination's 1 MB record).

Durability: a filter keeps, per stream, the log position up to which it has delivered
(``logs.subscription.position`` acct:region:group:filter:stream, written after each delivered message).
When the server starts, each filter first catches up from its positions (a stream it has no position for:
from the filter's creation time), so a delivery pending at ``kill -9`` is delivered after restart: at least
once (a message delivered just before the kill, whose position was not yet written, comes again). The same
catch-up runs when a filter's queue is full (a destination slower than the producers): the queue is
bounded, the log is not.

Errors: a retryable one (throttling, 5xx, a stream being updated) is retried after 1, 2, 5, 10, 30, 60,
60... seconds (``NIMBUS_LOGS_SUBSCRIPTION_RETRY_DELAYS``) for up to 24 hours
(``NIMBUS_LOGS_SUBSCRIPTION_MAX_AGE_S``), as AWS; meanwhile that filter's later messages wait (order is
kept). A non-retryable one (the destination does not exist, the message is refused) is logged, counted and
the message dropped, as AWS does not re-deliver those either.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from nimbus.metrics import REGISTRY
from nimbus.services.logs.destinations import DeliveryFailed, control_message, kind_of
from nimbus.services.logs.filters import PatternError, compile_pattern
from nimbus.services.logs.groups import (
    Appended,
    Event,
    InvalidParameterException,
    LimitExceededException,
    LogGroups,
    ResourceNotFoundException,
    decode_event,
)
from nimbus.storage import MetadataStore

log = logging.getLogger(__name__)

KIND = "logs.subscription"
POSITION = "logs.subscription.position"
MAX_FILTERS_PER_GROUP = 2  # "Each log group can have up to two subscription filters"
DEFAULT_DESCRIBE_LIMIT = 50
# a message's gzip'd JSON: base64 of it plus the {"awslogs": ...} envelope stays under Lambda's 1 MB
# asynchronous payload, and the raw bytes under Kinesis' 1 MiB and Firehose's 1,000 KiB records
MAX_MESSAGE_BYTES = 700_000
MAX_QUEUE = 1000  # queued batches per filter; past it the worker catches up from the durable log
READ_CHUNK = 1000
DEFAULT_RETRY_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
DEFAULT_MAX_AGE_S = 24 * 3600.0  # "CloudWatch Logs continues to retry delivery for up to 24 hours"

DELIVERIES = REGISTRY.counter(
    "nimbus_logs_subscription_deliveries_total",
    "Subscription filter messages by destination type and outcome (delivered, retried, dropped).",
    ("destination", "outcome"),
)
EVENTS = REGISTRY.counter(
    "nimbus_logs_subscription_events_total", "Log events delivered by subscription filters.", ("destination",)
)


class Destinations(Protocol):
    async def check(self, destination_arn: str, control: bytes) -> None: ...

    async def send(self, destination_arn: str, data: bytes, *, partition_key: str) -> None: ...


@dataclass(slots=True)
class _Live:
    """One filter in memory: its document, compiled pattern, queue and worker."""

    key: str
    account: str
    region: str
    group: str
    doc: dict[str, Any]
    match: Callable[[str], bool]
    queue: deque[tuple[str, list[tuple[int, int, str]]]] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    delivered: dict[str, int] = field(default_factory=dict)  # stream -> next log seq to deliver
    rescan: bool = False
    task: asyncio.Task[None] | None = None
    idle: asyncio.Event = field(default_factory=asyncio.Event)


def data_message(owner: str, group: str, stream: str, filter_name: str, events: list[tuple[int, int, str]]) -> bytes:
    """The JSON AWS delivers (before gzip): one stream's matching events, each with its 56-digit id."""
    return orjson.dumps({
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": [filter_name],
        "logEvents": [{"id": Event(stream, seq, ts, 0, msg).event_id, "timestamp": ts, "message": msg} for seq, ts, msg in events],
    })


class Subscriptions:
    """The subscription filters of every group, and their delivery. A listener of the logs engine."""

    def __init__(
        self,
        engine: LogGroups,
        metadata: MetadataStore,
        destinations: Destinations,
        *,
        clock_time: Callable[[], float] = time.time,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        self.engine = engine
        self.db = metadata
        self.destinations = destinations
        self.now = clock_time
        extra = extra or {}
        raw = extra.get("NIMBUS_LOGS_SUBSCRIPTION_RETRY_DELAYS")
        self.retry_delays = tuple(float(x) for x in raw.split(",") if x.strip()) if raw else DEFAULT_RETRY_DELAYS_S
        self.max_age_s = float(extra.get("NIMBUS_LOGS_SUBSCRIPTION_MAX_AGE_S", DEFAULT_MAX_AGE_S))
        self._by_group: dict[str, list[_Live]] = {}
        self._started = False
        self._closed = False
        for key, doc in self.db.list(KIND):
            try:
                live = self._live(key, doc)
            except PatternError:
                log.exception("stored subscription filter has a bad pattern key=%s", key)
                continue
            live.rescan = True  # resume: deliver what the positions say is still pending
            self._by_group.setdefault(self._gkey(live.account, live.region, live.group), []).append(live)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start a worker per filter (on the running loop); loaded filters first catch up from the log."""
        if self._started:
            return
        self._started = True
        for lives in self._by_group.values():
            for live in lives:
                self._run(live)

    async def aclose(self) -> None:
        self._closed = True
        tasks = [live.task for lives in self._by_group.values() for live in lives if live.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every queue is delivered (tests and the flush endpoint); False on timeout."""
        deadline = time.monotonic() + timeout
        for lives in list(self._by_group.values()):
            for live in lives:
                while live.queue or live.rescan or not live.idle.is_set():
                    if live.task is None or time.monotonic() > deadline:
                        return live.task is None
                    await asyncio.sleep(0.01)
        return True

    # --- names ----------------------------------------------------------------------------------

    @staticmethod
    def _gkey(account: str, region: str, group: str) -> str:
        return f"{account}:{region}:{group}"

    def _live(self, key: str, doc: dict[str, Any]) -> _Live:
        account, region, _ = key.split(":", 2)
        return _Live(key, account, region, doc["logGroupName"], doc, compile_pattern(doc.get("filterPattern")))

    # --- control plane --------------------------------------------------------------------------

    async def put(
        self,
        account: str,
        region: str,
        group: str,
        name: str,
        *,
        pattern: str,
        destination_arn: str,
        role_arn: str | None,
        distribution: str | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if not self.engine.group_exists(account, region, group):
            raise ResourceNotFoundException("The specified log group does not exist.")
        try:
            match = compile_pattern(pattern)
        except PatternError as e:
            raise InvalidParameterException(str(e)) from e
        kind = kind_of(destination_arn)
        if kind not in ("lambda", "destination") and not role_arn:  # a destination brings its own role
            # AWS's wording; "vendor" is the destination's service
            raise InvalidParameterException(f"destinationArn for vendor {kind} cannot be used without roleArn")
        gkey = self._gkey(account, region, group)
        lives = self._by_group.setdefault(gkey, [])
        existing = next((lv for lv in lives if lv.doc["filterName"] == name), None)
        if existing is None and len(lives) >= MAX_FILTERS_PER_GROUP:
            raise LimitExceededException("Resource limit exceeded.")
        control = gzip.compress(control_message(kind, int(self.now() * 1000)))
        await self.destinations.check(destination_arn, control)
        # again after the check's await: a concurrent put may have added a filter, or the group gone
        if not self.engine.group_exists(account, region, group):
            raise ResourceNotFoundException("The specified log group does not exist.")
        lives = self._by_group.setdefault(gkey, [])
        existing = next((lv for lv in lives if lv.doc["filterName"] == name), None)
        if existing is None and len(lives) >= MAX_FILTERS_PER_GROUP:
            raise LimitExceededException("Resource limit exceeded.")
        doc: dict[str, Any] = {
            "filterName": name,
            "logGroupName": group,
            "filterPattern": pattern,
            "destinationArn": destination_arn,
            "distribution": distribution or "ByLogStream",
            "applyOnTransformedLogs": False,
            "creationTime": int(self.now() * 1000),
        }
        if role_arn:
            doc["roleArn"] = role_arn
        for k, v in (extra or {}).items():
            if v is not None:
                doc[k] = v
        key = f"{gkey}:{name}"
        if existing is not None:
            # an update: the filter goes on from where it is (its positions stay), with the new settings
            doc["creationTime"] = existing.doc["creationTime"]
            existing.doc = doc
            existing.match = match
            self.db.put(KIND, key, doc)
            return
        live = _Live(key, account, region, group, doc, match)
        # events already in the group are not delivered: the filter starts at each stream's end
        for stream in self.engine.stream_names(account, region, group):
            live.delivered[stream] = self.engine.stream_log(account, region, group, stream).next_seq
        lives.append(live)
        with self.db.transaction():
            self.db.put(KIND, key, doc)
            for stream, seq in live.delivered.items():
                self.db.put(POSITION, f"{key}:{stream}", {"seq": seq})
        if self._started:
            self._run(live)

    def describe(
        self, account: str, region: str, group: str, *, prefix: str | None, token: str | None, limit: int | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        if not self.engine.group_exists(account, region, group):
            raise ResourceNotFoundException("The specified log group does not exist.")
        lives = sorted(self._by_group.get(self._gkey(account, region, group), []), key=lambda lv: lv.doc["filterName"])
        docs = [dict(lv.doc) for lv in lives if lv.doc["filterName"].startswith(prefix or "")]
        if token:
            docs = [d for d in docs if d["filterName"] > token]
        limit = limit or DEFAULT_DESCRIBE_LIMIT
        page = docs[:limit]
        return page, (page[-1]["filterName"] if len(docs) > limit else None)

    async def delete(self, account: str, region: str, group: str, name: str) -> None:
        if not self.engine.group_exists(account, region, group):
            raise ResourceNotFoundException("The specified log group does not exist.")
        gkey = self._gkey(account, region, group)
        lives = self._by_group.get(gkey, [])
        live = next((lv for lv in lives if lv.doc["filterName"] == name), None)
        if live is None:
            raise ResourceNotFoundException("The specified subscription filter does not exist.")
        self._forget(live)
        lives.remove(live)

    def _forget(self, live: _Live) -> None:
        if live.task is not None:
            live.task.cancel()
        with self.db.transaction():
            self.db.delete(KIND, live.key)
            for pkey, _ in self.db.list(POSITION, live.key + ":"):
                self.db.delete(POSITION, pkey)

    # --- engine listener ------------------------------------------------------------------------

    def appended(self, batch: Appended) -> None:
        # the engine calls this right after each append, in log order per stream (a log's appends complete
        # in sequence order), which the positions rely on
        lives = self._by_group.get(self._gkey(batch.account, batch.region, batch.group))
        if not lives:
            return
        for live in lives:
            matched = [e for e in batch.events if live.match(e[2])]
            if not matched:
                continue
            if len(live.queue) >= MAX_QUEUE:
                live.rescan = True  # the log has them: the worker reads them back from its positions
            else:
                live.queue.append((batch.stream, matched))
            live.idle.clear()
            live.wake.set()

    def stream_deleted(self, account: str, region: str, group: str, stream: str) -> None:
        # a stream created again under the name starts a new log from 0: forget the old positions
        for live in self._by_group.get(self._gkey(account, region, group), []):
            live.delivered.pop(stream, None)
            live.queue = deque(item for item in live.queue if item[0] != stream)
            self.db.delete(POSITION, f"{live.key}:{stream}")

    def group_deleted(self, account: str, region: str, group: str) -> None:
        for live in self._by_group.pop(self._gkey(account, region, group), []):
            self._forget(live)

    # --- delivery -------------------------------------------------------------------------------

    def _run(self, live: _Live) -> None:
        live.task = asyncio.get_running_loop().create_task(self._work(live), name=f"logs-subscription-{live.key}")

    async def _work(self, live: _Live) -> None:
        while not self._closed:
            if live.rescan:
                live.rescan = False
                try:
                    await self._catch_up(live)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - keep the worker; the next put or restart retries
                    log.exception("subscription catch-up failed filter=%s", live.key)
                continue
            if not live.queue:
                live.idle.set()
                live.wake.clear()
                await live.wake.wait()
                continue
            stream, events = live.queue.popleft()
            try:
                await self._deliver(live, stream, events)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad batch must not stop the filter
                log.exception("subscription delivery failed filter=%s stream=%s", live.key, stream)

    def _position(self, live: _Live, stream: str) -> int | None:
        seq = live.delivered.get(stream)
        if seq is None:
            doc = self.db.get(POSITION, f"{live.key}:{stream}")
            if doc is not None:
                seq = live.delivered[stream] = int(doc["seq"])
        return seq

    async def _catch_up(self, live: _Live) -> None:
        """Deliver every matching event of the group's streams from the filter's positions to their ends."""
        for stream in self.engine.stream_names(live.account, live.region, live.group):
            lg = self.engine.stream_log(live.account, live.region, live.group, stream)
            start = self._position(live, stream)
            if start is None:
                start = lg.seq_at_or_after_time(int(live.doc["creationTime"]))
            pos, end = max(start, lg.first_seq), lg.next_seq
            if pos < end:
                log.info("subscription catching up filter=%s stream=%s from=%d to=%d", live.key, stream, pos, end)
            while pos < end:
                chunk = [r for r in lg.read(pos, min(READ_CHUNK, end - pos)) if r.seq < end]
                if not chunk:
                    break
                matched = []
                for rec in chunk:
                    ts, msg = decode_event(rec.payload)
                    if live.match(msg):
                        matched.append((rec.seq, ts, msg))
                if matched:
                    await self._deliver(live, stream, matched)
                pos = chunk[-1].seq + 1
            if (live.delivered.get(stream) or 0) < end:
                live.delivered[stream] = end
                self.db.put(POSITION, f"{live.key}:{stream}", {"seq": end})

    async def _deliver(self, live: _Live, stream: str, events: list[tuple[int, int, str]]) -> None:
        start = self._position(live, stream)
        if start is not None:
            events = [e for e in events if e[0] >= start]  # already delivered (a catch-up went past them)
        if not events:
            return
        doc = live.doc
        destination = doc["destinationArn"]
        kind = kind_of(destination)
        if doc.get("distribution") == "Random":
            key = secrets.token_hex(16)
        else:
            key = hashlib.md5(f"{live.group}/{stream}".encode(), usedforsecurity=False).hexdigest()
        for part in self._parts(live, stream, events):
            await self._send(live, kind, destination, part, key)
        end = events[-1][0] + 1
        live.delivered[stream] = end
        if live.key in {lv.key for lv in self._by_group.get(self._gkey(live.account, live.region, live.group), [])}:
            self.db.put(POSITION, f"{live.key}:{stream}", {"seq": end})

    def _parts(self, live: _Live, stream: str, events: list[tuple[int, int, str]]) -> list[tuple[bytes, int]]:
        """The gzip'd messages of ``events`` (with their event counts), halved until each fits a record."""
        data = gzip.compress(data_message(live.account, live.group, stream, live.doc["filterName"], events), compresslevel=6)
        if len(data) <= MAX_MESSAGE_BYTES:
            return [(data, len(events))]
        if len(events) == 1:
            log.warning("subscription message too large; event dropped filter=%s stream=%s bytes=%d", live.key, stream, len(data))
            DELIVERIES.inc(kind_of(live.doc["destinationArn"]), "dropped")
            return []
        half = len(events) // 2
        return self._parts(live, stream, events[:half]) + self._parts(live, stream, events[half:])

    async def _send(self, live: _Live, kind: str, destination: str, part: tuple[bytes, int], key: str) -> None:
        data, count = part
        first = self.now()
        attempt = 0
        while True:
            try:
                await self.destinations.send(destination, data, partition_key=key)
            except DeliveryFailed as e:
                retryable = e.retryable
                reason = str(e)
            except Exception as e:  # noqa: BLE001 - an unexpected failure is retried like a 5xx
                retryable = True
                reason = f"{type(e).__name__}: {e}"
                log.exception("subscription delivery error filter=%s", live.key)
            else:
                DELIVERIES.inc(kind, "delivered")
                EVENTS.inc(kind, amount=count)
                return
            if not retryable or self.now() - first >= self.max_age_s:
                DELIVERIES.inc(kind, "dropped")
                log.warning("subscription message dropped filter=%s destination=%s reason=%s", live.key, destination, reason)
                return
            DELIVERIES.inc(kind, "retried")
            delay = self.retry_delays[min(attempt, len(self.retry_delays) - 1)] if self.retry_delays else 1.0
            attempt += 1
            log.info("subscription delivery retry filter=%s attempt=%d in=%.1fs reason=%s", live.key, attempt, delay, reason)
            await asyncio.sleep(delay)

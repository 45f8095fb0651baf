"""The runtime's LogSink over the logs engine: function output lands in ``/aws/lambda/<name>``, the group
and stream created on first write as Lambda does.

    sink = logs_sink(core)            # component "logs.sink"
    sink.put_events(log_group, log_stream, [(timestamp_ms, message), ...])   # sync, any thread
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

from nimbus.services.logs.groups import EVENT_OVERHEAD_BYTES, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES, LogGroups

if TYPE_CHECKING:
    from nimbus.server import Nimbus
    from nimbus.services.logs.metric_filters import MetricFilters
    from nimbus.services.logs.subscriptions import Subscriptions

log = logging.getLogger(__name__)


def logs_engine(core: Nimbus) -> LogGroups:
    """The shared logs engine (component "logs.engine"), with its listeners: the subscription filters
    (component "logs.subscriptions") and the metric filters (component "logs.metric-filters")."""

    def build() -> LogGroups:
        from nimbus.services.logs.destinations import CoreDestinations
        from nimbus.services.logs.metric_filters import MetricFilters
        from nimbus.services.logs.subscriptions import Subscriptions

        engine = LogGroups(core.storage.metadata, core.storage.logs, clock_time=core.clock.time)
        subscriptions = core.component(
            "logs.subscriptions",
            lambda: Subscriptions(engine, core.storage.metadata, CoreDestinations(core), clock_time=core.clock.time, extra=core.settings.extra),
        )
        metric_filters = core.component("logs.metric-filters", lambda: MetricFilters(engine, core.storage.metadata, clock_time=core.clock.time))
        engine.listeners += [subscriptions, metric_filters]
        subscriptions.start()
        return engine

    return core.component("logs.engine", build)


def subscriptions_of(core: Nimbus) -> Subscriptions:
    logs_engine(core)
    return core.component("logs.subscriptions", _unbuilt)


def metric_filters_of(core: Nimbus) -> MetricFilters:
    logs_engine(core)
    return core.component("logs.metric-filters", _unbuilt)


def _unbuilt() -> Any:
    raise RuntimeError("built with logs.engine")


def logs_sink(core: Nimbus) -> LogsSink:
    return core.component(
        "logs.sink", lambda: LogsSink(logs_engine(core), core.settings.account_id, core.settings.default_region)
    )


class LogsSink:
    """The runtime's ``LogSink``: ``put_events(log_group, log_stream, events)`` is synchronous and may be
    called from any thread. Events are buffered per stream and appended by one flusher task on the
    server's loop: in call order per stream, and batched (one log append per stream per round) when
    many invocations log at once. Region and account default to the server's."""

    def __init__(self, engine: LogGroups, account_id: str, region: str) -> None:
        self.engine = engine
        self.account_id = account_id
        self.region = region
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._buffer: dict[tuple[str, str, str | None, str | None], list[tuple[int, str]]] = {}
        self._flusher: asyncio.Task[None] | None = None

    def put_events(
        self,
        log_group: str,
        log_stream: str,
        events: list[tuple[int, str]],
        *,
        region: str | None = None,
        account_id: str | None = None,
    ) -> None:
        if not events:
            return
        key = (log_group, log_stream, region, account_id)
        if threading.get_ident() == self._thread:
            self._add(key, events)
        else:
            self._loop.call_soon_threadsafe(self._add, key, list(events))

    def _add(self, key: tuple[str, str, str | None, str | None], events: list[tuple[int, str]]) -> None:
        buf = self._buffer.get(key)
        if buf is None:
            self._buffer[key] = list(events)
        else:
            buf.extend(events)
        if self._flusher is None:
            self._flusher = self._loop.create_task(self._flush_rounds())

    async def _flush_rounds(self) -> None:
        try:
            while self._buffer:
                batch, self._buffer = self._buffer, {}
                await asyncio.gather(
                    *(self.write(g, s, ev, region=r, account_id=a) for (g, s, r, a), ev in batch.items())
                )
        finally:
            self._flusher = None

    async def flush(self) -> None:
        """Wait until everything buffered so far is written (tests, shutdown)."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def aclose(self) -> None:
        await self.flush()

    async def write(
        self,
        log_group: str,
        log_stream: str,
        events: list[tuple[int, str]],
        *,
        region: str | None = None,
        account_id: str | None = None,
    ) -> None:
        batch: list[dict[str, Any]] = []
        size = 0
        # PutLogEvents wants a batch in chronological order
        for ts, message in sorted(events, key=lambda e: e[0]):
            if isinstance(message, bytes):
                message = message.decode("utf-8", "replace")
            if len(message) > MAX_EVENT_BYTES // 4:
                message = message.encode("utf-8")[:MAX_EVENT_BYTES].decode("utf-8", "ignore")
            n = len(message.encode("utf-8")) + EVENT_OVERHEAD_BYTES
            if batch and (len(batch) >= MAX_BATCH_EVENTS or size + n > MAX_BATCH_BYTES):
                await self._put(log_group, log_stream, batch, region, account_id)
                batch, size = [], 0
            batch.append({"timestamp": int(ts), "message": message})
            size += n
        if batch:
            await self._put(log_group, log_stream, batch, region, account_id)

    async def _put(self, group: str, stream: str, batch: list[dict[str, Any]], region: str | None, account_id: str | None) -> None:
        try:
            await self.engine.put_events(account_id or self.account_id, region or self.region, group, stream, batch, auto_create=True)
        except Exception:  # noqa: BLE001 - losing a log line must never fail an invocation
            log.warning("function log write failed group=%s stream=%s", group, stream, exc_info=True)

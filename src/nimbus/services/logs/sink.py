"""The runtime's LogSink over the logs engine: function output lands in ``/aws/lambda/<name>``, the group
and stream created on first write as Lambda does.

    sink = logs_sink(core)            # component "logs.sink"
    sink.put_events(log_group, log_stream, [(timestamp_ms, message), ...])   # sync, any thread
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from nimbus.services.logs.groups import EVENT_OVERHEAD_BYTES, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES, LogGroups

if TYPE_CHECKING:
    from nimbus.server import Nimbus

log = logging.getLogger(__name__)


def logs_engine(core: Nimbus) -> LogGroups:
    """The shared logs engine (component "logs.engine")."""
    return core.component("logs.engine", lambda: LogGroups(core.storage.metadata, core.storage.logs, clock_time=core.clock.time))


def logs_sink(core: Nimbus) -> LogsSink:
    return core.component(
        "logs.sink", lambda: LogsSink(logs_engine(core), core.settings.account_id, core.settings.default_region)
    )


class LogsSink:
    """The runtime's ``LogSink``: ``put_events(log_group, log_stream, events)`` is synchronous and may be
    called from any thread; the events are appended (in call order) by a task on the server's loop.
    Region and account default to the server's."""

    def __init__(self, engine: LogGroups, account_id: str, region: str) -> None:
        self.engine = engine
        self.account_id = account_id
        self.region = region
        self._loop = asyncio.get_running_loop()
        self._pending: set[asyncio.Future[None]] = set()

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
        coro = self.write(log_group, log_stream, events, region=region, account_id=account_id)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            task: asyncio.Future[None] = self._loop.create_task(coro)
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        else:
            asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def flush(self) -> None:
        """Wait for the writes scheduled so far (tests, shutdown)."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

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

"""Live Tail (StartLiveTail): a response stream of the log events ingested while the session is open.

As CloudWatch Logs sends it: one ``sessionStart`` event, then every second a ``sessionUpdate`` with the
events ingested since the last one (an empty list when none), at most 500 per update: beyond that they
are sampled down to 500 (evenly) and ``sessionMetadata.sampled`` is true. A client that reads slower
than events arrive has at most 10 updates / 5,000 events buffered: the oldest are dropped. After three
hours the stream ends with a ``SessionTimeoutException`` event (configurable for tests:
``NIMBUS_LOGS_LIVE_TAIL_SECONDS``). Sessions hear of events from the engine's listener hook (right after
the events are durable, PutLogEvents and function output alike) and cost nothing when none is open.

Events carry ``logGroupIdentifier`` as the request named the group (an ARN, or a name), ``logStreamName``,
``message``, ``timestamp`` and ``ingestionTime``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from nimbus.errors import ServiceError
from nimbus.services.logs.filters import PatternError, compile_pattern
from nimbus.services.logs.groups import Appended, InvalidParameterException, group_name

MAX_PER_UPDATE = 500
MAX_BUFFERED_EVENTS = 5000
SESSION_SECONDS = 3 * 3600.0


@dataclass(slots=True, eq=False)  # sessions are kept in a set: by identity
class Session:
    groups: dict[tuple[str, str, str], str]  # (account, region, group name) -> the identifier as asked
    streams: frozenset[str] | None
    prefixes: tuple[str, ...] | None
    match: Callable[[str], bool]
    pending: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_BUFFERED_EVENTS))


class LiveTails:
    """The open sessions; a listener of the logs engine."""

    def __init__(self, clock_time: Callable[[], float]) -> None:
        self.sessions: set[Session] = set()
        self.now = clock_time

    # --- the engine's listener ------------------------------------------------------------------

    def appended(self, batch: Appended) -> None:
        if not self.sessions:
            return
        key = (batch.account, batch.region, batch.group)
        ingested = int(self.now() * 1000)
        for session in self.sessions:
            identifier = session.groups.get(key)
            if identifier is None:
                continue
            if session.streams is not None and batch.stream not in session.streams:
                continue
            if session.prefixes is not None and not batch.stream.startswith(session.prefixes):
                continue
            for _, timestamp, message in batch.events:
                if session.match(message):
                    session.pending.append({"logStreamName": batch.stream, "logGroupIdentifier": identifier, "message": message,
                                            "timestamp": timestamp, "ingestionTime": ingested})

    def stream_deleted(self, account: str, region: str, group: str, stream: str) -> None:
        return None

    def group_deleted(self, account: str, region: str, group: str) -> None:
        return None

    # --- sessions -------------------------------------------------------------------------------

    def open(self, account: str, region: str, identifiers: list[str], streams: list[str] | None, prefixes: list[str] | None,
             pattern: str | None) -> Session:
        try:
            match = compile_pattern(pattern)
        except PatternError as e:
            raise InvalidParameterException(str(e)) from e
        groups = {(account, region, group_name(i)): i for i in identifiers}
        session = Session(groups, frozenset(streams) if streams else None, tuple(prefixes) if prefixes else None, match)
        self.sessions.add(session)
        return session

    async def stream(self, session: Session, request_id: str, start: dict[str, Any], seconds: float) -> AsyncIterator[dict[str, Any]]:
        """The response stream: sessionStart, then an update every second until the session times out or the
        client goes (the generator is closed: the session with it)."""
        try:
            yield {"sessionStart": {"requestId": request_id, "sessionId": str(uuid.uuid4()), **start}}
            loop = asyncio.get_running_loop()
            ends = loop.time() + seconds
            while True:
                left = ends - loop.time()
                if left <= 0:  # the stream's modeled exception event ends it
                    raise ServiceError("Session timed out after three hours.", code="SessionTimeoutException")
                await asyncio.sleep(min(1.0, left))
                events = list(session.pending)
                session.pending.clear()
                sampled = len(events) > MAX_PER_UPDATE
                if sampled:
                    step = len(events) / MAX_PER_UPDATE
                    events = [events[int(i * step)] for i in range(MAX_PER_UPDATE)]
                yield {"sessionUpdate": {"sessionMetadata": {"sampled": sampled}, "sessionResults": events}}
        finally:
            self.sessions.discard(session)

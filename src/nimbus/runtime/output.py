"""Function output → log events: line splitting, START/END/REPORT framing, the 4 KB Tail buffer.

An environment's stdout and stderr share one pipe (so their order is kept). Bytes are split into
events at newlines; a line longer than ``MAX_EVENT_BYTES`` is cut into several events, so however
much a handler prints, at most one partial line is held in memory. Events go to a ``LogSink`` in
batches, one call per read.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

MAX_EVENT_BYTES = 256 * 1024  # CloudWatch Logs event size limit (aws-contracts C.3 log framing)
TAIL_BYTES = 4096  # LogType Tail returns the last 4 KB (aws-contracts C.2)


class LogSink(Protocol):
    """Where function output goes. ``region``/``account_id`` name the function's own region and account
    (log groups are regional, as on AWS); sinks that keep one namespace may ignore them."""

    def put_events(
        self, log_group: str, log_stream: str, events: list[tuple[int, str]], *, region: str | None = None,
        account_id: str | None = None,
    ) -> None: ...


class InMemoryLogSink:
    """A LogSink for tests and benchmarks: keeps the last ``max_events`` events per stream."""

    def __init__(self, max_events: int = 100_000) -> None:
        self.max_events = max_events
        self._lock = threading.Lock()
        self.streams: dict[tuple[str, str], deque[tuple[int, str]]] = {}

    def put_events(
        self, log_group: str, log_stream: str, events: list[tuple[int, str]], *, region: str | None = None,
        account_id: str | None = None,
    ) -> None:
        with self._lock:
            q = self.streams.get((log_group, log_stream))
            if q is None:
                q = self.streams[(log_group, log_stream)] = deque(maxlen=self.max_events)
            q.extend(events)

    def events(self, log_group: str, log_stream: str | None = None) -> list[tuple[int, str]]:
        with self._lock:
            out: list[tuple[int, str]] = []
            for (g, s), q in self.streams.items():
                if g == log_group and (log_stream is None or s == log_stream):
                    out.extend(q)
            return out

    def messages(self, log_group: str, log_stream: str | None = None) -> list[str]:
        return [m for _, m in self.events(log_group, log_stream)]


class NullLogSink:
    def put_events(
        self, log_group: str, log_stream: str, events: list[tuple[int, str]], *, region: str | None = None,
        account_id: str | None = None,
    ) -> None:
        return None


class OutputStream:
    """One environment's log stream: raw output bytes and platform lines in, events out."""

    __slots__ = ("sink", "log_group", "log_stream", "region", "account_id", "now_ms", "_partial", "_tail", "_tail_len", "total_bytes", "tap")

    def __init__(
        self, sink: LogSink, log_group: str, log_stream: str, now_ms: Callable[[], int], *, region: str | None = None,
        account_id: str | None = None,
    ) -> None:
        self.sink = sink
        self.log_group = log_group
        self.log_stream = log_stream
        self.region = region
        self.account_id = account_id
        self.now_ms = now_ms
        self._partial = b""
        self._tail: deque[bytes] = deque()
        self._tail_len = 0
        self.total_bytes = 0
        self.tap: Callable[[list[bytes]], None] | None = None  # also given the function's own lines (Telemetry API)

    def feed(self, data: bytes) -> None:
        """Raw bytes from the environment's stdout/stderr."""
        self.total_bytes += len(data)
        buf = self._partial + data if self._partial else data
        lines = buf.split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_EVENT_BYTES:
            cut = len(self._partial) - len(self._partial) % MAX_EVENT_BYTES
            lines.extend(self._partial[i : i + MAX_EVENT_BYTES] for i in range(0, cut, MAX_EVENT_BYTES))
            self._partial = self._partial[cut:]
        if lines:
            chunks = [ln[i : i + MAX_EVENT_BYTES] for ln in lines for i in range(0, max(len(ln), 1), MAX_EVENT_BYTES)]
            self._emit(chunks)
            if self.tap is not None:
                self.tap(chunks)

    def flush_partial(self) -> None:
        """End of an invocation or of the process: a line without its newline is still an event."""
        if self._partial:
            part, self._partial = self._partial, b""
            self._emit([part])
            if self.tap is not None:
                self.tap([part])

    def platform(self, *lines: str) -> None:
        """Lines Nimbus writes itself (START, END, REPORT, timeouts), one event each."""
        self.flush_partial()
        self._emit([ln.encode() for ln in lines])

    def _emit(self, lines: list[bytes]) -> None:
        ts = self.now_ms()
        events: list[tuple[int, str]] = []
        for ln in lines:
            # awslambdaric joins the lines of one error with "\r" so it stays one event (bootstrap.py)
            text = ln.decode("utf-8", "replace").replace("\r", "\n") + "\n"
            events.append((ts, text))
            self._add_tail(text.encode())
        self.sink.put_events(self.log_group, self.log_stream, events, region=self.region, account_id=self.account_id)

    def _add_tail(self, b: bytes) -> None:
        if len(b) >= TAIL_BYTES:
            self._tail.clear()
            self._tail.append(b[-TAIL_BYTES:])
            self._tail_len = TAIL_BYTES
            return
        self._tail.append(b)
        self._tail_len += len(b)
        while self._tail_len - len(self._tail[0]) >= TAIL_BYTES:
            self._tail_len -= len(self._tail.popleft())

    def reset_tail(self) -> None:
        self._tail.clear()
        self._tail_len = 0

    def tail(self) -> str:
        """The last 4 KB written since ``reset_tail`` (platform lines included, as AWS's Tail)."""
        data = b"".join(self._tail)[-TAIL_BYTES:]
        return data.decode("utf-8", "ignore")

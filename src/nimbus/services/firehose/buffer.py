"""A delivery stream's durable buffer: records on a log, a checkpoint in metadata, size/interval triggers.

aws-contracts.md A.3/A.7. ``append`` returns once the records are fsync'd in the stream's log (the
PutRecord 200 promise). Nothing but counters is kept in memory: a flush reads its batch back from the log,
so a stream holding gigabytes of undelivered data (destination down) costs disk, not memory.

The checkpoint (``firehose.checkpoint`` document: the first sequence number not yet delivered) moves only
after a batch's objects are written; records below it are trimmed from the log. A crash between an
object write and its checkpoint re-delivers that batch after restart: at-least-once, as AWS documents.

Triggers, whichever comes first (A.3): the undelivered bytes reach the size hint, or the interval has
passed since the arrival of the oldest undelivered record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

from nimbus.clock import Clock
from nimbus.storage import JoinedRecords, Log, LogRecord, MetadataStore

CHECKPOINT_KIND = "firehose.checkpoint"
MAX_RECORDS_PER_FLUSH = 500_000
BATCH_CHUNK_BYTES = 8 << 20  # batch_chunks reads a batch from the log this much at a time


class StreamBuffer:
    def __init__(
        self, log: Log, metadata: MetadataStore, key: str, clock: Clock, *, size_bytes: int, interval_s: float
    ) -> None:
        self.log = log
        self.metadata = metadata
        self.key = key
        self.clock = clock
        self.size_bytes = size_bytes
        self.interval_s = interval_s
        doc = metadata.get(CHECKPOINT_KIND, key)
        self.checkpoint = max(int(doc["next_seq"]) if doc else 0, log.first_seq)
        self.pending_bytes = 0
        self.appended_bytes = 0  # monotonic total, to account appends that race a flush's read
        self.oldest_arrival_ms: int | None = None
        self.changed = asyncio.Event()
        # the Lambda processor's own buffer (records at or after ``transform_from`` not yet transformed);
        # only tracked when ``transform_bytes`` is set (a stream with a Lambda processor)
        self.transform_bytes: int | None = None
        self.transform_interval_s = 0.0
        self.transform_from = self.checkpoint
        self.untransformed_bytes = 0
        self.untransformed_oldest_ms: int | None = None
        self._probe()

    def _probe(self) -> None:
        """Initialise the triggers from the log (at open and after a flush): bounded by the size hint."""
        if self.checkpoint >= self.log.next_seq:
            self.pending_bytes = 0
            self.oldest_arrival_ms = None
            return
        self.oldest_arrival_ms, self.pending_bytes, more = self._measure(self.checkpoint, self.size_bytes)
        if more:
            self.pending_bytes = max(self.pending_bytes, self.size_bytes)  # more than a batch is waiting

    def _measure(self, from_seq: int, max_bytes: int) -> tuple[int | None, int, bool]:
        """What a batch read from ``from_seq`` up to ``max_bytes`` would hold: (the first record's arrival,
        its payload bytes, whether more records wait past it), read in chunks (``batch_chunks``), so that
        opening a stream with a large backlog does not hold a whole batch in memory."""
        oldest, total, seq = None, 0, from_seq
        for chunk in self.batch_chunks(from_seq, max_bytes=max_bytes):
            if oldest is None:
                oldest = chunk.first_timestamp_ms
            total += len(chunk.data)
            seq = chunk.next_seq
        return oldest, total, seq < self.log.next_seq

    def batch_chunks(
        self, from_seq: int, *, max_bytes: int = 0, end_seq: int | None = None, separator: bytes = b""
    ) -> Iterator[JoinedRecords]:
        """A batch from ``from_seq``, ``BATCH_CHUNK_BYTES`` at a time (each payload followed by ``separator``):
        the records up to ``end_seq`` when given, else those ``read_batch`` would take with ``max_bytes``
        (payload bytes up to it, the first record whatever its size, at most MAX_RECORDS_PER_FLUSH)."""
        log = self.log
        seq, taken, count = from_seq, 0, 0
        while True:
            if end_seq is not None:
                if seq >= end_seq:
                    return
                chunk = log.read_joined(seq, end_seq - seq, BATCH_CHUNK_BYTES, separator)
                if not chunk.count:
                    raise RuntimeError(f"records {seq}..{end_seq} of {self.key} are no longer in the log")
                n = len(chunk.data) - chunk.count * len(separator)
            else:
                room = max_bytes - taken
                if count and (room <= 0 or count >= MAX_RECORDS_PER_FLUSH):
                    return
                chunk = log.read_joined(seq, MAX_RECORDS_PER_FLUSH - count, min(BATCH_CHUNK_BYTES, max(room, 1)), separator)
                if not chunk.count:
                    return
                n = len(chunk.data) - chunk.count * len(separator)
                if count and n > room:
                    return  # one record larger than what is left: the next batch's first
            taken += n
            count += chunk.count
            seq = chunk.next_seq
            yield chunk

    def reconfigure(self, *, size_bytes: int, interval_s: float) -> None:
        self.size_bytes = size_bytes
        self.interval_s = interval_s
        self.changed.set()

    def set_processor_hints(self, size_bytes: int | None, interval_s: float) -> None:
        """Track the Lambda processor's own buffer (BufferSizeInMBs / BufferIntervalInSeconds); None: no processor."""
        self.transform_bytes = size_bytes
        self.transform_interval_s = interval_s
        self.transformed_up_to(max(self.transform_from, self.checkpoint))
        self.changed.set()

    def transformed_up_to(self, seq: int) -> None:
        """Records below ``seq`` have left the processor buffer: re-measure what is still waiting in it."""
        self.transform_from = max(seq, self.checkpoint)
        if self.transform_bytes is None or self.transform_from >= self.log.next_seq:
            self.untransformed_bytes = 0
            self.untransformed_oldest_ms = None
            return
        batch = self.log.read(self.transform_from, limit=MAX_RECORDS_PER_FLUSH, max_bytes=self.transform_bytes)
        self.untransformed_oldest_ms = batch[0].timestamp_ms if batch else None
        self.untransformed_bytes = sum(len(r.payload) for r in batch)
        if batch and batch[-1].seq + 1 < self.log.next_seq:
            self.untransformed_bytes = max(self.untransformed_bytes, self.transform_bytes)

    def seconds_until_transform_due(self) -> float | None:
        """Like ``seconds_until_due`` for the processor buffer; None when it is empty or there is no processor."""
        if self.transform_bytes is None or self.untransformed_oldest_ms is None:
            return None
        if self.untransformed_bytes >= self.transform_bytes:
            return 0.0
        return max(0.0, self.untransformed_oldest_ms / 1000 + self.transform_interval_s - self.clock.time())

    def read_untransformed(self, max_bytes: int) -> list[LogRecord]:
        return self.log.read(self.transform_from, limit=MAX_RECORDS_PER_FLUSH, max_bytes=max_bytes)

    @property
    def backlog_records(self) -> int:
        return max(self.log.next_seq - self.checkpoint, 0)

    async def append(self, payloads: Sequence[bytes], *, arrival_ms: int, nbytes: int | None = None) -> list[int]:
        """Durably append; returns sequence numbers once fsync'd (group commit in the log store)."""
        seqs = await self.log.append(payloads, timestamp_ms=arrival_ms)
        n = sum(map(len, payloads)) if nbytes is None else nbytes
        self.appended_bytes += n
        self.pending_bytes += n
        if self.oldest_arrival_ms is None:
            self.oldest_arrival_ms = arrival_ms
        if self.pending_bytes >= self.size_bytes or self.interval_s <= 0:
            self.changed.set()
        elif self.pending_bytes == n:
            self.changed.set()  # the first record starts the interval timer
        tb = self.transform_bytes
        if tb is not None:
            self.untransformed_bytes += n
            if self.untransformed_oldest_ms is None:
                self.untransformed_oldest_ms = arrival_ms
                self.changed.set()
            elif self.untransformed_bytes >= tb and self.untransformed_bytes - n < tb:
                self.changed.set()
        return seqs

    def seconds_until_due(self) -> float | None:
        """0 when a flush is due now, a positive delay for the interval trigger, None when empty."""
        oldest = self.oldest_arrival_ms
        if oldest is None:
            # nothing accounted yet (a record can be visible in the log before its append returns)
            return None
        if self.pending_bytes >= self.size_bytes:
            return 0.0
        return max(0.0, oldest / 1000 + self.interval_s - self.clock.time())

    def read_batch(self) -> list[LogRecord]:
        """The next batch to deliver: from the checkpoint, up to the size hint (at least one record)."""
        return self.log.read(self.checkpoint, limit=MAX_RECORDS_PER_FLUSH, max_bytes=self.size_bytes)

    def read_batch_joined(self, separator: bytes = b"") -> JoinedRecords:
        """``read_batch`` as one bytes object of its payloads, each followed by ``separator``."""
        return self.log.read_joined(self.checkpoint, limit=MAX_RECORDS_PER_FLUSH, max_bytes=self.size_bytes, separator=separator)

    async def commit(self, next_seq: int, *, delivered_bytes: int) -> None:
        """Everything below ``next_seq`` is delivered: persist the checkpoint, then trim the log."""
        if next_seq <= self.checkpoint:
            return
        self.metadata.put(CHECKPOINT_KIND, self.key, {"next_seq": next_seq})
        self.checkpoint = next_seq
        if self.transform_from < next_seq:
            self.transformed_up_to(next_seq)
        await self.log.trim(next_seq)
        self.pending_bytes = max(0, self.pending_bytes - delivered_bytes)
        if self.checkpoint >= self.log.next_seq:
            self.oldest_arrival_ms = None
            self.pending_bytes = 0
        else:
            first = self.log.read(self.checkpoint, limit=1)
            self.oldest_arrival_ms = first[0].timestamp_ms if first else None
            if self.pending_bytes <= 0:
                self._probe()

    def forget(self) -> None:
        self.metadata.delete(CHECKPOINT_KIND, self.key)

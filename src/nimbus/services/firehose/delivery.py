"""The deliverer: one task per stream taking batches from its buffer through transform, compression and
the S3 sink, then checkpointing.

aws-contracts.md A.3-A.6. A flush is planned once (Lambda invoked once per batch) and its objects are
then written with retries and backoff while the destination fails (bucket missing, endpoint down):
objects already written are not written again, and the checkpoint moves only when every object of the
batch is written. Records older than the retention (24 h, as AWS keeps DirectPut data) when their batch
still cannot be written are dropped with an error log line and the ``expired`` counter, never silently.

Objects of one flush: one per partition (dynamic partitioning) or one for the whole batch; processing
failures in one error object under the error prefix (JSON lines, A.6; written uncompressed, [choice]);
with S3BackupMode Enabled the untransformed source records in one more object under the backup prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson

from nimbus.clock import Clock
from nimbus.services.firehose import compression
from nimbus.services.firehose import metrics as m
from nimbus.services.firehose import kinesis_source
from nimbus.services.firehose.buffer import BATCH_CHUNK_BYTES, StreamBuffer
from nimbus.storage import JoinedRecords, LogRecord
from nimbus.services.firehose.prefixes import Layout, PrefixError
from nimbus.services.firehose.transform import (
    Failed,
    LambdaProcessor,
    SourceRecord,
    Transformed,
    Transformer,
    error_record,
)

log = logging.getLogger(__name__)

DEFAULT_RETENTION_S = 24 * 3600  # A.7: DirectPut data is kept 24 h while the destination is down
RETRY_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
MAX_ACTIVE_PARTITIONS = 500  # A.4 rule 7
STREAMED_FORMATS = ("UNCOMPRESSED", "GZIP")  # compressed a chunk at a time; the other formats are built whole


class DestinationError(Exception):
    """The destination refused or could not take an object (retried by the deliverer)."""


class ObjectSink(Protocol):
    """Where objects go: Nimbus's own S3 engine (so notifications fire) or an external S3 endpoint. A sink
    may also have ``async check(bucket, *, account_id, region) -> str | None``: None when the bucket takes
    objects, else why not; the deliverer asks it before a retry, so a batch waiting for its destination
    stays on disk instead of being read back for every failed attempt."""

    async def put_object(
        self, bucket: str, key: str, body: bytes, *, content_encoding: str | None, account_id: str, region: str
    ) -> None: ...

    # A sink whose put_object also takes an async iterable of chunks (of unknown total length) says so with
    # a true class attribute ``streams``: a plain batch is then streamed to it from the log (StreamedBatch).


@dataclass(slots=True, frozen=True)
class BackupTarget:
    bucket: str
    layout: Layout
    compression: str
    file_extension: str | None = None


@dataclass(slots=True, frozen=True)
class DeliveryConfig:
    """What one flush needs to know of the stream, rebuilt from the stream document on each change."""

    stream_name: str
    stream_arn: str
    account_id: str
    region: str
    version: str
    bucket: str
    layout: Layout
    compression: str = "UNCOMPRESSED"
    file_extension: str | None = None
    processor: LambdaProcessor | None = None
    append_delimiter: bool = False
    metadata_queries: dict[str, list[str]] | None = None
    dynamic_partitioning: bool = False
    backup: BackupTarget | None = None
    kinesis_source: bool = False  # log payloads carry kinesisRecordMetadata (kinesis_source.unpack)
    # an HttpEndpoint destination (http_endpoint.HttpTarget): bucket/layout/compression are then its S3 backup's
    http: Any = None
    # CloudWatchLoggingOptions: (log group, log stream) that delivery and transform errors are logged to
    error_log: tuple[str, str] | None = None
    destination: str = ""  # how error messages name the destination (the bucket's ARN, the endpoint's URL)

    @property
    def labels(self) -> tuple[str, str, str]:
        return (self.account_id, self.region, self.stream_name)


@dataclass(slots=True)
class Staged:
    """One processor batch already through the Lambda transform, waiting for the destination's flush."""

    sources: list[SourceRecord]
    ok: list[Transformed]
    failed: list[Failed]


@dataclass(slots=True)
class Batch:
    """One flush's records through the transform (``Deliverer.collect``); ``end_seq`` is where the
    checkpoint moves once the batch is delivered."""

    sources: list[SourceRecord]
    ok: list[Transformed]
    failed: list[Failed]
    source_bytes: int
    end_seq: int


@dataclass(slots=True)
class PlannedObject:
    bucket: str
    key: str
    body: bytes
    content_encoding: str | None
    records: int
    kind: str  # "data" | "error" | "backup"
    source: StreamedBatch | None = None  # the body is streamed from the log (``body`` stays empty)


class StreamedBatch:
    """A plain batch (no processor, Kinesis source or partitioning; UNCOMPRESSED or GZIP) streamed from the
    stream's log into its object a chunk at a time (``StreamBuffer.batch_chunks``), so delivering a 128 MB
    buffer holds a few chunks in memory instead of the batch. Each write of the object is a pass over the log from
    ``start_seq``: the first one that reads to the end fixes the batch (up to the size hint, as a whole
    read would), and a retry reads the same records again; they stay in the log until the checkpoint moves
    past them, so a batch waiting for its destination needs neither memory nor a spill file."""

    def __init__(self, buffer: StreamBuffer, start_seq: int, separator: bytes, fmt: str) -> None:
        self.buffer = buffer
        self.start_seq = start_seq
        self.separator = separator
        self.fmt = fmt
        self.end_seq: int | None = None  # fixed by the first pass that read the whole batch
        self.count = 0  # records, source bytes (payloads) and object bytes of that pass
        self.source_bytes = 0
        self.size = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        sep = self.separator
        reads = self.buffer.batch_chunks(self.start_seq, max_bytes=self.buffer.size_bytes, end_seq=self.end_seq, separator=sep)
        seq, count, payload, out = self.start_seq, 0, 0, 0
        gz = zlib.compressobj(6, zlib.DEFLATED, 31) if self.fmt == "GZIP" else None
        while (chunk := await _off_loop(next, reads, None)) is not None:
            count += chunk.count
            payload += len(chunk.data) - chunk.count * len(sep)
            seq = chunk.next_seq
            data = chunk.data
            del chunk
            if gz is not None:
                data = await _off_loop(gz.compress, data)
            out += len(data)
            if data:
                yield data
            del data
        if gz is not None:
            tail = gz.flush()
            out += len(tail)
            yield tail
        self.end_seq, self.count, self.source_bytes, self.size = seq, count, payload, out

    async def settle(self) -> None:
        """Fix the batch without writing it (a batch that expired before any pass read it whole)."""
        if self.end_seq is not None:
            return
        sep = self.separator

        def measure() -> tuple[int, int, int]:
            seq, count, payload = self.start_seq, 0, 0
            for chunk in self.buffer.batch_chunks(self.start_seq, max_bytes=self.buffer.size_bytes, separator=sep):
                count += chunk.count
                payload += len(chunk.data) - chunk.count * len(sep)
                seq = chunk.next_seq
            return seq, count, payload

        self.end_seq, self.count, self.source_bytes = await _off_loop(measure)

@dataclass(slots=True)
class Counters:
    incoming_records: int = 0
    incoming_bytes: int = 0
    delivered_records: int = 0
    delivered_bytes: int = 0
    objects: int = 0
    delivery_failures: int = 0
    transform_invocations: int = 0
    transform_ok: int = 0
    transform_dropped: int = 0
    transform_failed: int = 0
    transform_ms: float = 0.0
    backup_records: int = 0
    expired_records: int = 0
    throttled_records: int = 0  # refused by the stream's quota (quotas.py)
    last_delivery_ms: int | None = None
    last_error: str | None = None
    data_freshness_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


T = TypeVar("T")


async def _off_loop(fn: Callable[..., T], *args: Any) -> T:
    """``asyncio.to_thread`` for results of up to a batch's size: the executor's futures, which outlive
    the call (until that worker's next job), carry None, and the result comes back in a box only the
    caller holds, so a batch is freed as soon as the caller lets go of it."""
    box: list[T] = []
    await asyncio.to_thread(lambda: box.append(fn(*args)))
    return box.pop()


class Deliverer:
    def __init__(
        self,
        buffer: StreamBuffer,
        config: Callable[[], DeliveryConfig],
        sink: ObjectSink,
        clock: Clock,
        *,
        transformer: Transformer | None = None,
        retention_s: float = DEFAULT_RETENTION_S,
        spill_dir: Path | None = None,
    ) -> None:
        self.buffer = buffer
        # A batch whose destination fails waits in files here, not in memory (None: in memory). They are a
        # copy of what the log still holds past the checkpoint, so nothing needs them after a restart.
        self.spill_dir = spill_dir
        self.config = config
        self.sink = sink
        self.clock = clock
        self.transformer = transformer
        self.retention_s = retention_s
        self.counters = Counters()
        # where CloudWatchLoggingOptions' error messages go: (account, region, group, stream, message) -> None
        self.error_log: Callable[[str, str, str, str, dict[str, Any]], None] | None = None
        self._force_until: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._delivered = asyncio.Condition()
        self._staged: list[Staged] = []
        self._staged_bytes = 0
        self._processor_hints: tuple[int, float] | None = None

    @property
    def staged_records(self) -> int:
        """Records through the transform, waiting for the S3 buffer's flush."""
        return sum(len(st.sources) for st in self._staged)

    # ----------------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"firehose-deliver-{self.buffer.key}")

    async def aclose(self) -> None:
        self._closing = True
        self.buffer.changed.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def flush(self, timeout: float | None = None) -> bool:
        """Deliver everything appended so far now (the interval is not waited out); True when done."""
        target = self.buffer.log.next_seq
        self._force_until = max(self._force_until or 0, target)
        self.buffer.changed.set()

        async def wait() -> None:
            async with self._delivered:
                await self._delivered.wait_for(lambda: self.buffer.checkpoint >= target)

        try:
            await asyncio.wait_for(wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    # ----------------------------------------------------------------------------------------- loop

    async def _run(self) -> None:
        while not self._closing:
            cfg = self.config()
            processor = cfg.processor if self.transformer is not None else None
            self._track_processor(processor)
            forced = self._force_until is not None and self.buffer.checkpoint < self._force_until
            tdelay: float | None = None
            if processor is not None and self._staged_bytes < self.buffer.size_bytes:
                # the processor's own buffer (BufferSizeInMBs / BufferIntervalInSeconds), independent of S3's
                tdelay = self.buffer.seconds_until_transform_due()
                if tdelay == 0.0 and not forced:
                    try:
                        await self.transform_once(cfg, processor)
                    except asyncio.CancelledError:
                        raise
                    except Exception as e:  # noqa: BLE001 - the loop must survive; the records stay in the log
                        self.counters.last_error = repr(e)
                        log.exception("firehose transform failed stream=%s", self.buffer.key)
                        await self.clock.sleep(1.0)
                    continue
            delay = 0.0 if forced else self.buffer.seconds_until_due()
            if delay is None or delay > 0:
                waits = [d for d in (delay, tdelay) if d is not None]
                self.buffer.changed.clear()
                await self._wait(min(waits) if waits else None)
                continue
            try:
                await self.flush_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - the loop must survive; the batch stays in the log
                self.counters.last_error = repr(e)
                log.exception("firehose delivery failed stream=%s", self.buffer.key)
                self.buffer.transformed_up_to(self.buffer.checkpoint)  # staged results were dropped: redo
                await self.clock.sleep(1.0)
            if self._force_until is not None and self.buffer.checkpoint >= self._force_until:
                self._force_until = None

    def log_error(self, cfg: DeliveryConfig, code: str, message: str, **extra: Any) -> None:
        """One error message in the stream's CloudWatch log stream (CloudWatchLoggingOptions), in AWS's form."""
        if cfg.error_log is None or self.error_log is None:
            return
        doc: dict[str, Any] = {
            "deliveryStreamARN": cfg.stream_arn, "destination": cfg.destination,
            "deliveryStreamVersionId": int(cfg.version) if cfg.version.isdigit() else cfg.version,
            "message": message, "errorCode": code, **{k: v for k, v in extra.items() if v is not None},
        }
        try:
            self.error_log(cfg.account_id, cfg.region, cfg.error_log[0], cfg.error_log[1], doc)
        except Exception:  # noqa: BLE001 - logging an error never stops delivery
            log.exception("firehose error log failed stream=%s", cfg.stream_name)

    def _track_processor(self, processor: LambdaProcessor | None) -> None:
        hints = None if processor is None else (processor.buffer_bytes, processor.interval_s)
        if hints != self._processor_hints:
            self._processor_hints = hints
            if hints is None:
                self.buffer.set_processor_hints(None, 0.0)
            else:
                self.buffer.set_processor_hints(hints[0], hints[1])

    def _sources(self, cfg: DeliveryConfig, records: list[LogRecord]) -> list[SourceRecord]:
        if not cfg.kinesis_source:
            return [SourceRecord(r.seq, r.timestamp_ms, r.payload) for r in records]
        out = []
        for r in records:
            meta, data = kinesis_source.unpack(r.payload)
            # the record's arrival is its arrival in the Kinesis stream (the event, prefixes, error records)
            out.append(SourceRecord(r.seq, int(meta.get("approximateArrivalTimestamp") or r.timestamp_ms), data, meta))
        return out

    async def transform_once(self, cfg: DeliveryConfig, processor: LambdaProcessor) -> int:
        """Send the processor's buffer to the function (batches bounded by its hints and 6 MB); the results
        wait, in memory, for the destination's flush. Returns the number of records transformed."""
        records = await asyncio.to_thread(self.buffer.read_untransformed, processor.buffer_bytes)
        if not records:
            self.buffer.transformed_up_to(self.buffer.transform_from)
            return 0
        sources = self._sources(cfg, records)
        ok, failed = await self._transform(cfg, sources)
        self._staged.append(Staged(sources, ok, failed))
        self._staged_bytes += sum(len(r.payload) for r in records)
        self.buffer.transformed_up_to(records[-1].seq + 1)
        return len(records)

    async def _wait(self, delay: float | None) -> None:
        waiter = asyncio.ensure_future(self.buffer.changed.wait())
        tasks: set[asyncio.Future[Any]] = {waiter}
        if delay is not None:
            tasks.add(asyncio.ensure_future(self.clock.sleep(delay)))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()

    # ---------------------------------------------------------------------------------------- flush

    async def flush_once(self) -> int:
        """Deliver one batch (up to the size hint); returns the number of source records consumed."""
        cfg = self.config()
        if not self._staged and cfg.processor is None and not cfg.kinesis_source and not cfg.dynamic_partitioning:
            # no transform, no partitioning (most streams): the batch's payloads make one object as they
            # are, read joined, with no per-record objects (the object the general path below would make)
            separator = b"\n" if cfg.append_delimiter else b""
            if (
                self.buffer.pending_bytes > BATCH_CHUNK_BYTES  # (a smaller batch is read whole: it may go inline)
                and getattr(self.sink, "streams", False)
                and (cfg.compression or "UNCOMPRESSED") in STREAMED_FORMATS
            ):
                return await self._flush_streamed(cfg, separator)
            joined = await _off_loop(self.buffer.read_batch_joined, separator)
            if not joined.count:
                return 0
            end_seq = joined.next_seq
            count, first_arrival_ms, source_bytes, plan = await _off_loop(self._plain_objects, cfg, joined, separator)
            del joined  # only the plan keeps the batch now (a batch that waits is spilled: nothing else holds it)
            return await self._deliver(cfg, plan, count, first_arrival_ms, source_bytes, end_seq)
        batch = await self.collect(cfg)
        if batch is None:
            return 0
        plan = await _off_loop(self._objects, cfg, batch.sources, batch.ok, batch.failed)
        count, first_arrival_ms = len(batch.sources), batch.sources[0].arrival_ms
        source_bytes, end_seq = batch.source_bytes, batch.end_seq
        del batch  # as above: only the plan keeps the batch
        return await self._deliver(cfg, plan, count, first_arrival_ms, source_bytes, end_seq)

    async def collect(self, cfg: DeliveryConfig) -> Batch | None:
        """The next batch (up to the size hint) through the transform: the staged results of the processor
        buffer plus what it has not sent yet. None when nothing is buffered. The part of a flush every
        destination shares (S3 objects here, HTTP requests in http_endpoint.py)."""
        records = await _off_loop(self.buffer.read_batch)
        if not records and not self._staged:
            return None
        staged, staged_bytes = self._staged, self._staged_bytes
        self._staged, self._staged_bytes = [], 0
        end_seq = max(records[-1].seq + 1 if records else 0, staged[-1].sources[-1].seq + 1 if staged else 0)
        done_seq = staged[-1].sources[-1].seq + 1 if staged else self.buffer.checkpoint
        sources = [s for st in staged for s in st.sources]
        ok = [t for st in staged for t in st.ok]
        failed = [f for st in staged for f in st.failed]
        # Building records, bodies and compression for up to 128 MB is CPU work: it runs in a worker
        # thread so the event loop keeps answering PutRecordBatch meanwhile (it stalled for ~1 s before).
        def fresh() -> tuple[list[SourceRecord], int]:
            todo = [r for r in records if r.seq >= done_seq]
            return self._sources(cfg, todo), sum(len(r.payload) for r in todo)

        rest, rest_bytes = await _off_loop(fresh) if records else ([], 0)
        if rest:  # what the destination's flush needs and the processor buffer has not sent yet
            rest_ok, rest_failed = await self._transform(cfg, rest)
            sources += rest
            ok += rest_ok
            failed += rest_failed
            del rest_ok, rest_failed
        source_bytes = staged_bytes + rest_bytes
        return Batch(sources, ok, failed, source_bytes, end_seq)

    async def _flush_streamed(self, cfg: DeliveryConfig, separator: bytes) -> int:
        """``flush_once`` for a plain batch streamed from the log into its object (see StreamedBatch)."""
        start = self.buffer.checkpoint
        first = await _off_loop(self.buffer.log.read, start, 1)
        if not first:
            return 0
        oldest = first[0].timestamp_ms  # the log's timestamps never decrease: the first record is the oldest
        ext = compression.extension(cfg.compression, cfg.file_extension)
        key = cfg.layout.prefix(oldest) + cfg.layout.object_name(cfg.stream_name, cfg.version, oldest, str(uuid.uuid4()), ext)
        batch = StreamedBatch(self.buffer, first[0].seq, separator, cfg.compression or "UNCOMPRESSED")
        del first
        plan = [PlannedObject(cfg.bucket, key, b"", compression.content_encoding(cfg.compression), 0, "data", batch)]
        return await self._deliver(cfg, plan, 0, oldest, 0, None)

    async def _deliver(
        self, cfg: DeliveryConfig, plan: list[PlannedObject], count: int, first_arrival_ms: int, source_bytes: int,
        end_seq: int | None,
    ) -> int:
        """Write a batch's objects (retried until they are written or the batch expires), then checkpoint
        past it (``end_seq``). Returns ``count``. A streamed batch (``end_seq`` None: one object whose
        ``source`` is a StreamedBatch) takes its extent, count and sizes from the pass that wrote it."""
        streamed = plan[0].source if end_seq is None else None
        written: set[int] = set()
        sizes = [len(obj.body) for obj in plan]
        spilled: dict[int, Path] = {}  # objects waiting in files (their body in memory is emptied)
        attempt = 0
        try:
            while True:
                try:
                    if attempt:
                        await self._check_destination(cfg, plan, written)
                    for i, obj in enumerate(plan):
                        if i in written:
                            continue
                        body: Any
                        if obj.source is not None:
                            body = obj.source.chunks()
                        else:
                            body = obj.body if i not in spilled else await _off_loop(spilled[i].read_bytes)
                        await self.sink.put_object(
                            obj.bucket, obj.key, body, content_encoding=obj.content_encoding,
                            account_id=cfg.account_id, region=cfg.region,
                        )
                        written.add(i)
                        done = spilled.pop(i, None)
                        if done is not None:
                            done.unlink(missing_ok=True)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 - any destination failure is retried
                    body = b""  # (this frame must not keep a body that is about to be spilled)
                    self.counters.delivery_failures += 1
                    m.DELIVERY_FAILURES.inc(*cfg.labels)
                    self.counters.last_error = f"{type(e).__name__}: {e}"
                    self.log_error(cfg, *_s3_error(e))
                    age_s = self.clock.time() - first_arrival_ms / 1000
                    if age_s > self.retention_s:
                        if streamed is not None:
                            await streamed.settle()
                            count, source_bytes = streamed.count, streamed.source_bytes
                        self.counters.expired_records += count
                        m.EXPIRED.inc(*cfg.labels, amount=count)
                        log.error(
                            "firehose records expired undelivered stream=%s records=%d bytes=%d error=%s",
                            cfg.stream_name, count, source_bytes, self.counters.last_error,
                        )
                        break
                    delay = RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S) - 1)]
                    attempt += 1
                    log.warning(
                        "firehose delivery failed stream=%s attempt=%d retry_in=%.1fs error=%s",
                        cfg.stream_name, attempt, delay, self.counters.last_error,
                    )
                    if self.spill_dir is not None:
                        await asyncio.to_thread(self._spill, plan, written, spilled)
                    await self._sleep_unless_closing(delay)
        finally:
            for path in spilled.values():
                path.unlink(missing_ok=True)
        if streamed is not None:
            assert streamed.end_seq is not None  # written, or settled when it expired
            end_seq, count, source_bytes = streamed.end_seq, streamed.count, streamed.source_bytes
            plan[0].records, sizes[0] = count, streamed.size
        labels = cfg.labels
        for i in written:
            obj = plan[i]
            m.OBJECTS.inc(*labels, obj.kind)
            if obj.kind == "data":
                self.counters.delivered_records += obj.records
                self.counters.delivered_bytes += sizes[i]
                self.counters.objects += 1
                m.DELIVERED_RECORDS.inc(*labels, amount=obj.records)
                m.DELIVERED_BYTES.inc(*labels, amount=sizes[i])
            elif obj.kind == "backup":
                self.counters.backup_records += obj.records
        now = self.clock.time()
        self.counters.last_delivery_ms = int(now * 1000)
        self.counters.data_freshness_s = max(0.0, now - first_arrival_ms / 1000)
        m.DELIVERY_LATENCY.observe(self.counters.data_freshness_s, *labels)
        await self.buffer.commit(end_seq, delivered_bytes=source_bytes)
        async with self._delivered:
            self._delivered.notify_all()
        log.info("firehose flushed stream=%s records=%d objects=%d", cfg.stream_name, count, len(written))
        return count

    async def _check_destination(self, cfg: DeliveryConfig, plan: list[PlannedObject], written: set[int]) -> None:
        """Before a retry: do the buckets still to write take objects? (Raises DestinationError if not.)"""
        check = getattr(self.sink, "check", None)
        if check is None:
            return
        for bucket in dict.fromkeys(obj.bucket for i, obj in enumerate(plan) if i not in written):
            why = await check(bucket, account_id=cfg.account_id, region=cfg.region)
            if why is not None:
                raise DestinationError(why)

    def _spill(self, plan: list[PlannedObject], written: set[int], spilled: dict[int, Path]) -> None:
        """Move the bodies still to write into files (worker thread), so that a batch waiting for its
        destination, up to 24 hours, holds no memory."""
        assert self.spill_dir is not None
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        for i, obj in enumerate(plan):
            if i in written or i in spilled or not obj.body:
                continue
            path = self.spill_dir / uuid.uuid4().hex
            path.write_bytes(obj.body)
            spilled[i] = path
            obj.body = b""

    async def _sleep_unless_closing(self, delay: float) -> None:
        if self._closing:
            raise asyncio.CancelledError
        await self.clock.sleep(delay)

    async def plan(self, cfg: DeliveryConfig, sources: list[SourceRecord]) -> list[PlannedObject]:
        """Transform, partition and compress a batch into the objects to write."""
        ok, failed = await self._transform(cfg, sources)
        return self._objects(cfg, sources, ok, failed)

    async def _transform(self, cfg: DeliveryConfig, sources: list[SourceRecord]) -> tuple[list[Transformed], list[Failed]]:
        if cfg.processor is None or self.transformer is None:
            if len(sources) < 1000:
                return [Transformed(s, s.data) for s in sources], []
            return await asyncio.to_thread(lambda: [Transformed(s, s.data) for s in sources]), []
        outcome = await self.transformer.run(cfg.processor, sources)
        if outcome.failed and cfg.error_log is not None:
            # the invocation's own failures, once per kind (ProcessingFailed records are the function's to log)
            seen: set[tuple[str, str]] = set()
            for f in outcome.failed:
                if f.error_code != "Lambda.ProcessingFailedStatus" and (f.error_code, f.error_message) not in seen:
                    seen.add((f.error_code, f.error_message))
                    self.log_error(cfg, f.error_code, f.error_message, processor=f.lambda_arn)
        c = self.counters
        c.transform_invocations += outcome.invocations
        c.transform_ok += len(outcome.ok)
        c.transform_dropped += outcome.dropped
        c.transform_failed += len(outcome.failed)
        c.transform_ms += outcome.duration_ms
        labels = cfg.labels
        m.TRANSFORM_INVOCATIONS.inc(*labels, amount=outcome.invocations)
        m.TRANSFORM_RECORDS.inc(*labels, "Ok", amount=len(outcome.ok))
        m.TRANSFORM_RECORDS.inc(*labels, "Dropped", amount=outcome.dropped)
        m.TRANSFORM_RECORDS.inc(*labels, "ProcessingFailed", amount=len(outcome.failed))
        m.TRANSFORM_DURATION.observe(outcome.duration_ms / 1000, *labels)
        return outcome.ok, list(outcome.failed)

    def _plain_objects(
        self, cfg: DeliveryConfig, joined: JoinedRecords, separator: bytes
    ) -> tuple[int, int, int, list[PlannedObject]]:
        """``_objects`` for a batch of fresh records of a stream without processor, Kinesis source or
        dynamic partitioning, read joined (each payload followed by a newline with
        AppendDelimiterToRecord): one data object, keyed by the oldest arrival. Returns (records, first
        arrival, source bytes, plan)."""
        oldest = joined.oldest_timestamp_ms
        ext = compression.extension(cfg.compression, cfg.file_extension)
        body = compression.compress(cfg.compression, joined.data)
        key = cfg.layout.prefix(oldest) + cfg.layout.object_name(cfg.stream_name, cfg.version, oldest, str(uuid.uuid4()), ext)
        plan = [PlannedObject(cfg.bucket, key, body, compression.content_encoding(cfg.compression), joined.count, "data")]
        source_bytes = len(joined.data) - joined.count * len(separator)
        return joined.count, joined.first_timestamp_ms, source_bytes, plan

    def _objects(
        self, cfg: DeliveryConfig, sources: list[SourceRecord], ok: list[Transformed], failed: list[Failed]
    ) -> list[PlannedObject]:
        if cfg.append_delimiter:
            for t in ok:
                t.data += b"\n"
        objects: list[PlannedObject] = []
        groups: dict[str, list[Transformed]] = {}
        group_order: list[str] = []
        for t in ok:
            try:
                keys = self._partition_keys(cfg, t)
                prefix = cfg.layout.prefix(t.source.arrival_ms, keys) if keys is not None else None
            except PrefixError as e:
                failed.append(_partition_failure(t, str(e), self.clock))
                continue
            gkey = prefix if prefix is not None else ""
            if gkey not in groups:
                if cfg.dynamic_partitioning and len(groups) >= MAX_ACTIVE_PARTITIONS:
                    failed.append(_partition_failure(t, "too many active partitions", self.clock))
                    continue
                groups[gkey] = []
                group_order.append(gkey)
            groups[gkey].append(t)
        ext = compression.extension(cfg.compression, cfg.file_extension)
        for gkey in group_order:
            items = groups[gkey]
            oldest = min(t.source.arrival_ms for t in items)
            prefix = gkey if cfg.dynamic_partitioning else cfg.layout.prefix(oldest)
            body = compression.compress(cfg.compression, b"".join(t.data for t in items))
            key = prefix + cfg.layout.object_name(cfg.stream_name, cfg.version, oldest, str(uuid.uuid4()), ext)
            objects.append(PlannedObject(cfg.bucket, key, body, compression.content_encoding(cfg.compression), len(items), "data"))
        if failed:
            by_type: dict[str, list[Failed]] = {}
            for f in failed:
                by_type.setdefault(_error_output_type(f), []).append(f)
            for etype, items_f in by_type.items():
                oldest = min(f.source.arrival_ms for f in items_f)
                prefix = cfg.layout.error_prefix(oldest, etype)
                key = prefix + cfg.layout.object_name(cfg.stream_name, cfg.version, oldest, str(uuid.uuid4()), "")
                body = b"".join(error_record(f) for f in items_f)
                objects.append(PlannedObject(cfg.bucket, key, body, None, len(items_f), "error"))
        if cfg.backup is not None and cfg.processor is not None:
            b = cfg.backup
            oldest = sources[0].arrival_ms
            ext_b = compression.extension(b.compression, b.file_extension)
            key = b.layout.prefix(oldest) + b.layout.object_name(cfg.stream_name, cfg.version, oldest, str(uuid.uuid4()), ext_b)
            body = compression.compress(b.compression, b"".join(s.data for s in sources))
            objects.append(PlannedObject(b.bucket, key, body, compression.content_encoding(b.compression), len(sources), "backup"))
        return objects

    def _partition_keys(self, cfg: DeliveryConfig, t: Transformed) -> dict[str, str] | None:
        if not cfg.dynamic_partitioning:
            return None
        keys: dict[str, str] = dict(t.partition_keys or {})
        if cfg.metadata_queries:
            try:
                doc = orjson.loads(t.data)
            except orjson.JSONDecodeError as e:
                raise PrefixError("record is not JSON, partition keys cannot be extracted") from e
            for name, path in cfg.metadata_queries.items():
                value: Any = doc
                for part in path:
                    value = value.get(part) if isinstance(value, dict) else None
                if value is None or isinstance(value, (dict, list)):
                    raise PrefixError(f"partition key '{name}' not found in record")
                keys[name] = _scalar(value)
        return keys


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _error_output_type(f: Failed) -> str:
    """``!{firehose:error-output-type}`` of a failed record: AWS writes records whose partition keys could not
    be found under ``partitioning-failed`` (seen on real AWS by aws-cdk's dynamic partitioning integration
    test), transform failures under ``processing-failed``."""
    return "partitioning-failed" if f.error_code.startswith("DynamicPartitioning.") else "processing-failed"


def _partition_failure(t: Transformed, message: str, clock: Clock) -> Failed:
    return Failed(
        t.source,
        "DynamicPartitioning.MetadataExtractionFailed",
        message,
        1,
        int(clock.time() * 1000),
        None,
    )


def parse_metadata_query(query: str) -> dict[str, list[str]]:
    """The jq subset Nimbus evaluates for MetadataExtraction: ``{name:.a.b, other:.c}`` (A.5)."""
    text = query.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError("MetadataExtractionQuery must be a jq object expression like {key:.field}")
    out: dict[str, list[str]] = {}
    for item in filter(None, (s.strip() for s in text[1:-1].split(","))):
        name, sep, path = item.partition(":")
        name, path = name.strip().strip('"'), path.strip()
        if not sep or not name or not path.startswith(".") or len(path) < 2:
            raise ValueError(f"unsupported MetadataExtractionQuery item {item!r}; Nimbus evaluates name:.field.path")
        parts = path[1:].split(".")
        if any(not p or not all(ch.isalnum() or ch in "_-" for ch in p) for p in parts):
            raise ValueError(f"unsupported jq path {path!r}")
        out[name] = parts
    if not out:
        raise ValueError("MetadataExtractionQuery has no keys")
    return out



_S3_CODE = re.compile(r"^([A-Za-z]+): (.*)$", re.S)


def _s3_error(e: Exception) -> tuple[str, str]:
    """An S3 write's failure as Firehose's error log names it: ``S3.<S3's code>`` and its message."""
    text = str(e)
    found = _S3_CODE.match(text)
    if found is not None:
        return f"S3.{found.group(1)}", found.group(2)
    return "S3.InternalError", text or type(e).__name__

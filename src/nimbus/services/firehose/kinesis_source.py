"""DeliveryStreamType ``KinesisStreamAsSource``: a delivery stream that reads a Kinesis data stream.

aws-contracts.md A.1/A.6/A.7. By default (issue 7, Nimbus's spec) every shard is read from
**TRIM_HORIZON**, its oldest record still retained; with ``NIMBUS_FIREHOSE_KINESIS_START=LATEST`` the
delivery stream starts, as AWS documents, at the LATEST position of every shard that exists when it is
created (``DeliveryStartTimestamp``; ``start_at_latest``). Shards created later by resharding are read
from their start, a child only once its parents are read to their end, so
records keep their order across resharding. Reads go through the Kinesis engine's own read path
(``Streams.read``, the GetRecords path: shard ends, retention, read quotas), waking on new records
instead of polling once per second.

Each read batch is appended to the delivery stream's own durable log (the same buffer as DirectPut
records, so triggers, transform, delivery and restart work unchanged), then the shard's position is
checkpointed in the metadata store (kind ``firehose.kinesis``). A crash between the two re-reads that
batch after restart: at-least-once, as AWS.

Log payloads of such a stream carry the record's ``kinesisRecordMetadata`` in front of the data
(``[u16 LE header length][JSON header][data]``); ``unpack`` splits them again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from nimbus.clock import Clock
from nimbus.storage import MetadataStore

log = logging.getLogger(__name__)

CHECKPOINT_KIND = "firehose.kinesis"
READ_LIMIT = 10_000  # GetRecords' own maximum
READ_MAX_BYTES = 4 * 1024 * 1024
IDLE_WAIT_S = 1.0  # AWS calls GetRecords once per second per shard; we also wake on new records
RETRY_S = 1.0


def pack(meta: dict[str, Any], data: bytes) -> bytes:
    header = orjson.dumps(meta)
    return len(header).to_bytes(2, "little") + header + data


def unpack(payload: bytes) -> tuple[dict[str, Any], bytes]:
    n = payload[0] | (payload[1] << 8)
    return orjson.loads(payload[2 : 2 + n]), payload[2 + n :]


Append = Callable[[list[bytes]], Awaitable[None]]


class KinesisSource:
    """Reads every shard of one Kinesis stream into one delivery stream's buffer."""

    def __init__(
        self, engine: Callable[[], Any], metadata: MetadataStore, clock: Clock, *, key: str, stream_arn: str,
        incarnation: str | None, append: Append, on_error: Callable[[str], None],
    ) -> None:
        self._engine = engine
        self.metadata = metadata
        self.clock = clock
        self.key = key  # "<account>/<region>/<name>/<delivery stream incarnation>"
        self.stream_arn = stream_arn
        self.incarnation = incarnation
        self.append = append
        self.on_error = on_error
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------------------ creation

    @staticmethod
    def resolve(engine: Any, stream_arn: str) -> Any:
        """The Kinesis stream of ``stream_arn`` (its account and region come from the ARN)."""
        from nimbus import arn as arns

        parsed = arns.parse(stream_arn)
        return engine.get(parsed.account, parsed.region, arn=stream_arn)

    def start_at_latest(self, stream: Any) -> None:
        """Checkpoint every current shard at LATEST (where AWS starts reading)."""
        with self.metadata.transaction():
            for shard in stream.visible_shards():
                if shard.log is None:
                    continue
                pos = shard.end_seq if shard.end_seq is not None else shard.log.next_seq
                self._save(shard.shard_id, pos, done=shard.end_seq is not None and pos >= shard.end_seq)

    def forget(self) -> None:
        for k, _ in list(self.metadata.list(CHECKPOINT_KIND, self.key + "/")):
            self.metadata.delete(CHECKPOINT_KIND, k)

    # ------------------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"firehose-kinesis-{self.key}")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # ------------------------------------------------------------------------------ checkpoints

    def _cp(self, shard_id: str) -> dict[str, Any] | None:
        return self.metadata.get(CHECKPOINT_KIND, f"{self.key}/{shard_id}")

    def _save(self, shard_id: str, seq: int, *, done: bool = False) -> None:
        self.metadata.put(CHECKPOINT_KIND, f"{self.key}/{shard_id}", {"seq": seq, "done": done})

    def _done(self, shard_id: str) -> bool:
        cp = self._cp(shard_id)
        return bool(cp and cp.get("done"))

    def positions(self) -> dict[str, dict[str, Any]]:
        prefix = self.key + "/"
        return {k[len(prefix):]: v for k, v in self.metadata.list(CHECKPOINT_KIND, prefix)}

    async def catch_up(self, timeout: float | None) -> bool:
        """Wait until every shard has been read up to where it ended when called (for the flush endpoint)."""
        try:
            stream = self.resolve(self._engine(), self.stream_arn)
        except Exception:  # noqa: BLE001 - nothing to read
            return True
        targets = {
            s.shard_id: (s.end_seq if s.end_seq is not None else s.log.next_seq)
            for s in stream.visible_shards() if s.log is not None
        }
        deadline = None if timeout is None else self.clock.monotonic() + timeout
        while True:
            pending = False
            for sid, target in targets.items():
                cp = self._cp(sid)
                if not (cp and (cp.get("done") or int(cp["seq"]) >= target)):
                    shard = stream.by_id.get(sid)
                    if shard is not None and shard.log is not None and target <= shard.log.first_seq and cp is None:
                        continue  # empty (or trimmed) shard not started yet
                    pending = True
                    break
            if not pending:
                return True
            if deadline is not None and self.clock.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)

    # ------------------------------------------------------------------------------ readers

    async def _run(self) -> None:
        """One reader per readable shard; a child starts once its parents are read to their end."""
        workers: dict[str, asyncio.Task[None]] = {}
        try:
            while True:
                try:
                    stream = self.resolve(self._engine(), self.stream_arn)
                    if self.incarnation is not None and stream.incarnation != self.incarnation:
                        raise LookupError("the source stream was deleted and created again")
                except Exception as e:  # noqa: BLE001 - keep trying: the stream may come back
                    self.on_error(f"Kinesis source {self.stream_arn} not readable: {getattr(e, 'message', e)}")
                    await self.clock.sleep(RETRY_S)
                    continue
                for shard in stream.visible_shards():
                    if shard.shard_id in workers or shard.log is None or self._done(shard.shard_id):
                        continue
                    if not self._parents_done(stream, shard):
                        continue
                    workers[shard.shard_id] = asyncio.get_running_loop().create_task(
                        self._shard_loop(stream, shard), name=f"firehose-kinesis-{self.key}-{shard.shard_id}"
                    )
                for sid, task in list(workers.items()):
                    if task.done():
                        del workers[sid]
                        if not task.cancelled() and task.exception() is not None:
                            log.error("firehose kinesis reader failed key=%s shard=%s", self.key, sid, exc_info=task.exception())
                            await self.clock.sleep(RETRY_S)
                if workers:
                    await asyncio.wait(list(workers.values()), timeout=IDLE_WAIT_S, return_when=asyncio.FIRST_COMPLETED)
                else:
                    await self.clock.sleep(IDLE_WAIT_S)
        finally:
            for task in workers.values():
                task.cancel()
            await asyncio.gather(*workers.values(), return_exceptions=True)

    def _parents_done(self, stream: Any, shard: Any) -> bool:
        for parent_id in (shard.parent, shard.adjacent_parent):
            if not parent_id:
                continue
            parent = stream.by_id.get(parent_id)
            if parent is None or parent.expired:
                continue
            if not self._done(parent_id):
                return False
        return True

    async def _shard_loop(self, stream: Any, shard: Any) -> None:
        engine = self._engine()
        cp = self._cp(shard.shard_id)
        assert shard.log is not None
        pos = int(cp["seq"]) if cp else shard.log.first_seq  # TRIM_HORIZON, or a shard born after creation
        sid = shard.shard_id
        while True:
            if shard.log is None:  # expired, or the stream was deleted
                return
            try:
                result = engine.read(stream, shard, pos, READ_LIMIT, max_bytes=READ_MAX_BYTES)
            except Exception as e:  # noqa: BLE001 - throttled (read quotas) or gone: retry later
                self.on_error(f"Kinesis read failed shard={sid}: {getattr(e, 'message', e)}")
                await self.clock.sleep(RETRY_S)
                continue
            if result.records:
                payloads = [
                    pack(
                        {
                            "shardId": sid,
                            "partitionKey": r["PartitionKey"],
                            "approximateArrivalTimestamp": int(round(r["ApproximateArrivalTimestamp"] * 1000)),
                            "sequenceNumber": r["SequenceNumber"],
                            "subsequenceNumber": 0,
                        },
                        r["Data"],
                    )
                    for r in result.records
                ]
                await self.append(payloads)
            pos = max(pos, result.next_seq)
            if result.next_iterator is None:  # the end of a closed shard: its children may start
                self._save(sid, pos, done=True)
                return
            if result.records:
                self._save(sid, pos)
            else:
                await engine.wait_for_records(shard, pos, IDLE_WAIT_S)

"""The Kinesis engine: streams, shards and records; no HTTP, no wire shapes.

Writes route each record by its hash key to the open shard owning it and append to that shard's
durable log; ``put_records`` returns only once every appended record is fsync'd (the log's group
commit), so an acknowledged record survives ``kill -9``. Reads decode an iterator token into a log
position and read forward from it, which costs O(records read) whatever the shard's length.
Resharding closes parents and opens children atomically for writers; a parent's end is fixed once
the appends already routed to it are durable, so no record is lost or duplicated across the lineage.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import os
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from nimbus import arn as arns
from nimbus.clock import Clock
from nimbus.errors import InternalFailure
from nimbus.services.kinesis import sequence
from nimbus.services.kinesis.config import KinesisSettings
from nimbus.services.kinesis.errors import (
    ExpiredIteratorException,
    ExpiredNextTokenException,
    InvalidArgumentException,
    LimitExceededException,
    ProvisionedThroughputExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)
from nimbus.services.kinesis.hashing import MAX_HASH_KEY, even_ranges, parse_hash_key
from nimbus.services.kinesis.iterators import BadIterator, IteratorCodec, IteratorPosition
from nimbus.services.kinesis.quotas import ShardQuotas
from nimbus.services.kinesis.streams import (
    KIND,
    MAX_CONSUMERS,
    MAX_RETENTION_HOURS,
    MAX_TAGS,
    DEFAULT_RETENTION_HOURS,
    ON_DEMAND_SHARDS,
    Consumer,
    Shard,
    Stream,
    shard_id_for,
    uniform_plan,
)
from nimbus.storage.base import LogClosed, LogRecord, LogStore, MetadataStore

log = logging.getLogger(__name__)

MAX_PUT_RECORDS = 500  # B.1
MAX_PUT_RECORDS_BYTES = 5 << 20  # B.6: 5 MiB per PutRecords request
MAX_GET_LIMIT = 10_000  # B.5
MAX_GET_BYTES = 10 << 20  # B.5: 10 MiB per GetRecords response
MAX_CREATING_STREAMS = 5  # B.2
MAX_SCALINGS_PER_DAY = 10  # B.3
# GetShardIterator's wording when the iterator type and StartingSequenceNumber do not go together
_ITERATOR_TYPE_RULE = (
    "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or "
    "(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
)

Spawn = Callable[[Coroutine[Any, Any, Any], str], Any]


@dataclass(slots=True)
class PutResult:
    shard_id: str | None = None
    sequence_number: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(slots=True)
class ReadResult:
    records: list[dict[str, Any]]
    next_iterator: str | None
    millis_behind: int
    child_shards: list[dict[str, Any]] | None
    shard: Shard
    next_seq: int


# records.pack's length prefix for the usual key lengths (a partition key is at most 256 characters)
_KEY_HEADS = [n.to_bytes(2, "little") for n in range(1025)]


def _plain_payloads(datas: Sequence[bytes], keys: Sequence[bytes], limit: int) -> list[bytes] | None:
    """Log payloads (key header, key, data) of records without ExplicitHashKey; None when one needs the
    general path (a record over ``limit`` bytes, an unusually long key)."""
    try:
        payloads = list(map(b"".join, zip(map(_KEY_HEADS.__getitem__, map(len, keys)), keys, datas)))
    except IndexError:
        return None
    if max(map(len, payloads)) - 2 > limit:
        return None
    return payloads


def _record_too_large(index: int | None, limit: int) -> ValidationException:
    """AWS's answer to a record over the size limit: PutRecords names the entry (``index`` from 0),
    PutRecord (``index`` None) the bare ``data`` member."""
    member = "data" if index is None else f"records.{index + 1}.member.data"
    return ValidationException(
        f"1 validation error detected: Value at '{member}' failed to satisfy constraint: "
        f"Member must have length less than or equal to {limit}"
    )


def _explicit_hash_key(text: str) -> int:
    try:
        return parse_hash_key(text)
    except ValueError as exc:
        raise InvalidArgumentException(
            f"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, {MAX_HASH_KEY}]. Specified value was {text}"
        ) from exc


def _aws_time(ms: int) -> str:
    """A time as Kinesis writes it in messages (Java's Date.toString in UTC): ``Thu Dec 10 01:59:39 UTC 2015``."""
    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(ms / 1000))


def _now_ms(clock: Clock) -> int:
    return int(clock.time() * 1000)


class Streams:
    """All streams of all accounts and regions on this server."""

    def __init__(
        self,
        metadata: MetadataStore,
        logs: LogStore,
        *,
        clock: Clock,
        settings: KinesisSettings | None = None,
        spawn: Spawn | None = None,
    ) -> None:
        self.metadata = metadata
        self.logs = logs
        self.clock = clock
        self.settings = settings or KinesisSettings()
        self._spawn = spawn or (lambda coro, name: asyncio.get_running_loop().create_task(coro, name=name))
        self._streams: dict[str, Stream] = {}
        self.quotas = ShardQuotas() if self.settings.quotas else None
        secret_doc = metadata.get("kinesis.secret", "iterators")
        if secret_doc is None:
            secret_doc = {"hex": os.urandom(32).hex()}
            if not metadata.insert("kinesis.secret", "iterators", secret_doc):
                secret_doc = metadata.get("kinesis.secret", "iterators") or secret_doc
        self.iterators = IteratorCodec(bytes.fromhex(secret_doc["hex"]))
        self._trimmer: asyncio.Task[Any] | None = None
        self._closed = False

    # ------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Finish what a restart interrupted (deletions, shard ends) and start the retention trimmer."""
        for key, _ in self.metadata.list(KIND):
            account, region, name = key.split("/", 2)
            stream = self._load(account, region, name)
            if stream is not None:
                self._settle(stream)
        if self._trimmer is None:
            self._trimmer = asyncio.get_running_loop().create_task(self._trim_loop(), name="kinesis-trim")

    async def aclose(self) -> None:
        self._closed = True
        if self._trimmer is not None:
            self._trimmer.cancel()
            try:
                await self._trimmer
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            self._trimmer = None

    # ------------------------------------------------------------------------------ lookup

    def _load(self, account: str, region: str, name: str) -> Stream | None:
        key = f"{account}/{region}/{name}"
        stream = self._streams.get(key)
        if stream is not None:
            return stream
        doc = self.metadata.get(KIND, key)
        if doc is None:
            return None
        stream = Stream.from_doc(doc)
        stream.lock = asyncio.Lock()
        for shard in stream.shards:
            self._attach(stream, shard)
            if shard.closed_ms is not None and shard.end_seq is None and shard.log is not None:
                # closed but its end was not recorded before a restart: nothing is in flight now
                shard.end_seq = shard.log.next_seq
        stream.reindex()
        self._streams[key] = stream
        return stream

    def _attach(self, stream: Stream, shard: Shard) -> None:
        shard.encode = sequence.Encoder(stream.epoch, shard.index)
        if not shard.expired:
            shard.log = self.logs.open(stream.log_name(shard.shard_id))

    def _save(self, stream: Stream) -> None:
        self.metadata.put(KIND, stream.key, stream.to_doc())

    def _settle(self, stream: Stream) -> bool:
        """Advance timed transitions; False if the stream is gone."""
        now = self.clock.time()
        changed = False
        if stream.status in ("CREATING", "UPDATING") and now >= stream.status_until:
            stream.status = "ACTIVE"
            changed = True
        for consumer in stream.consumers.values():
            if consumer.status == "CREATING" and now >= consumer.active_at:
                consumer.status = "ACTIVE"
                changed = True
        if stream.status == "DELETING" and now >= stream.status_until:
            self._finish_delete(stream)
            return False
        if changed:
            self._save(stream)
        return True

    def _finish_delete(self, stream: Stream) -> None:
        if self._streams.get(stream.key) is stream:
            del self._streams[stream.key]
        current = self.metadata.get(KIND, stream.key)
        if current is not None and current.get("incarnation") == stream.incarnation:
            self.metadata.delete(KIND, stream.key)
        for shard in stream.shards:
            shard.wake()
        names = [stream.log_name(s.shard_id) for s in stream.shards]

        async def drop() -> None:
            for name in names:
                try:
                    await self.logs.drop(name)
                except Exception:  # noqa: BLE001
                    log.exception("could not drop log name=%s", name)

        self._spawn(drop(), f"kinesis-drop-{stream.name}")

    def stream_arn(self, account: str, region: str, name: str) -> str:
        return arns.build("kinesis", region, account, f"stream/{name}")

    def resolve_name(self, account: str, region: str, name: str | None, arn: str | None) -> tuple[str, str, str]:
        """(account, region, name) from StreamName and/or StreamARN."""
        if arn:
            try:
                parsed = arns.parse(arn)
            except ValueError as exc:
                raise InvalidArgumentException(f"Invalid StreamARN {arn}.") from exc
            kind, _, arn_name = parsed.resource.partition("/")
            if parsed.service != "kinesis" or kind != "stream" or not arn_name or "/" in arn_name:
                raise InvalidArgumentException(f"Invalid StreamARN {arn}.")
            if name and name != arn_name:
                raise InvalidArgumentException("StreamARN and StreamName refer to different streams.")
            return parsed.account, parsed.region, arn_name
        if not name:
            raise InvalidArgumentException("Either StreamName or StreamARN must be provided.")
        return account, region, name

    def get(self, account: str, region: str, name: str | None = None, arn: str | None = None) -> Stream:
        account, region, name = self.resolve_name(account, region, name, arn)
        stream = self._load(account, region, name)
        if stream is None or not self._settle(stream):
            raise ResourceNotFoundException(f"Stream {name} under account {account} not found.")
        return stream

    def writable(self, account: str, region: str, name: str | None = None, arn: str | None = None) -> Stream:
        stream = self.get(account, region, name, arn)
        if stream.status == "CREATING":
            raise ResourceNotFoundException(f"Stream {stream.name} under account {stream.account} not found.")
        return stream

    def shard(self, stream: Stream, shard_id: str) -> Shard:
        shard = stream.by_id.get(shard_id)
        if shard is None or shard.expired:
            raise ResourceNotFoundException(
                f"Shard {shard_id} in stream {stream.name} under account {stream.account} does not exist"
            )
        return shard

    # ------------------------------------------------------------------------------ streams

    def create_stream(
        self,
        account: str,
        region: str,
        name: str,
        *,
        shard_count: int | None,
        mode: str = "PROVISIONED",
        tags: dict[str, str] | None = None,
        max_record_kib: int | None = None,
    ) -> Stream:
        if mode == "ON_DEMAND":
            if shard_count is not None:
                raise ValidationException("ShardCount must not be specified for an ON_DEMAND stream.")
            shard_count = ON_DEMAND_SHARDS
        elif shard_count is None:
            raise ValidationException("ShardCount is required for a PROVISIONED stream.")
        if shard_count < 1:
            raise InvalidArgumentException("ShardCount must be at least 1.")
        if tags and len(tags) > MAX_TAGS:
            raise InvalidArgumentException(f"A stream cannot have more than {MAX_TAGS} tags.")
        existing = self._load(account, region, name)
        if existing is not None and self._settle(existing):
            raise ResourceInUseException(f"Stream {name} under account {account} already exists.")
        creating = 0
        open_total = 0
        for key, doc in self.metadata.list(KIND, f"{account}/{region}/"):
            s = self._load(account, region, doc["name"])
            if s is None or not self._settle(s):
                continue
            creating += s.status == "CREATING"
            open_total += len(s.open_shards())
        if creating >= MAX_CREATING_STREAMS:
            raise LimitExceededException(
                f"This request would exceed the limit of {MAX_CREATING_STREAMS} streams in CREATING state."
            )
        if open_total + shard_count > self.settings.shard_limit:
            raise LimitExceededException(
                f"This request would exceed the shard limit for the account {account} in {region}. "
                f"Current shard count for the account: {open_total}. Limit: {self.settings.shard_limit}. "
                f"Number of additional shards that would have resulted from this request: {shard_count}."
            )
        now = self.clock.time()
        stream = Stream(
            account=account,
            region=region,
            name=name,
            arn=self.stream_arn(account, region, name),
            incarnation=os.urandom(8).hex(),
            created=round(now, 3),
            status="CREATING" if self.settings.state_delay_s > 0 else "ACTIVE",
            status_until=now + self.settings.state_delay_s,
            mode=mode,
            tags=dict(tags or {}),
            max_record_kib=max_record_kib or 1024,
        )
        now_ms = int(now * 1000)
        for start, end in even_ranges(shard_count):
            stream.new_shard(start, end, now_ms)
        stream.lock = asyncio.Lock()
        for shard in stream.shards:
            self._attach(stream, shard)
        stream.reindex()
        self._save(stream)
        self._streams[stream.key] = stream
        return stream

    def delete_stream(self, stream: Stream, *, enforce_consumer_deletion: bool = False) -> None:
        if stream.consumers and not enforce_consumer_deletion:
            raise ResourceInUseException(
                f"DeleteStream can't delete {stream.arn} because there are consumers associated with this data "
                f"stream. To delete {stream.name} anyway, set the EnforceConsumerDeletion parameter to true to "
                "force the deletion of all the consumers that are associated with it."
            )
        stream.consumers.clear()
        stream.status = "DELETING"
        stream.status_until = self.clock.time() + self.settings.state_delay_s
        if self.settings.state_delay_s <= 0:
            self._finish_delete(stream)
        else:
            self._save(stream)
            self._spawn(self._delete_later(stream), f"kinesis-delete-{stream.name}")

    async def _delete_later(self, stream: Stream) -> None:
        await self.clock.sleep(self.settings.state_delay_s)
        if self._streams.get(stream.key) is stream:
            self._settle(stream)

    def list_streams(self, account: str, region: str) -> list[Stream]:
        out = []
        for _, doc in self.metadata.list(KIND, f"{account}/{region}/"):
            stream = self._load(account, region, doc["name"])
            if stream is not None and self._settle(stream):
                out.append(stream)
        return out

    def set_retention(self, stream: Stream, hours: int, *, increase: bool) -> None:
        current = stream.retention_hours
        if increase:
            if hours > MAX_RETENTION_HOURS:
                raise InvalidArgumentException(
                    f"Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. Requested retention period "
                    f"({hours} hours) is too long."
                )
            if hours <= current:
                raise InvalidArgumentException(
                    f"Requested retention period ({hours} hours) for stream {stream.name} can not be shorter than "
                    f"existing retention period ({current} hours). Use DecreaseRetentionPeriod API."
                )
        else:
            if hours < DEFAULT_RETENTION_HOURS:
                raise InvalidArgumentException(
                    f"Minimum allowed retention period is {DEFAULT_RETENTION_HOURS} hours. Requested retention period "
                    f"({hours} hours) is too short."
                )
            if hours >= current:
                raise InvalidArgumentException(
                    f"Requested retention period ({hours} hours) for stream {stream.name} can not be longer than "
                    f"existing retention period ({current} hours). Use IncreaseRetentionPeriod API."
                )
        stream.retention_hours = hours
        self._save(stream)

    def add_tags(self, stream: Stream, tags: dict[str, str], *, consumer: Consumer | None = None) -> None:
        """Tag the stream, or one of its consumers (TagResource takes either ARN)."""
        target = stream if consumer is None else consumer
        merged = {**target.tags, **tags}
        if len(merged) > MAX_TAGS:
            what = f"stream {stream.name}" if consumer is None else f"consumer {consumer.name}"
            raise InvalidArgumentException(f"Failed to add tags to {what}: a resource can have at most {MAX_TAGS} tags.")
        target.tags = merged
        self._save(stream)

    def remove_tags(self, stream: Stream, keys: Sequence[str], *, consumer: Consumer | None = None) -> None:
        target = stream if consumer is None else consumer
        for key in keys:
            target.tags.pop(key, None)
        self._save(stream)

    def resource(self, account: str, region: str, arn: str) -> tuple[Stream, Consumer | None]:
        """The stream, or the stream and consumer, a ResourceARN names."""
        if "/consumer/" in arn:
            return self.find_consumer(account, region, stream_arn=None, name=None, consumer_arn=arn)
        return self.get(account, region, arn=arn), None

    def set_policy(self, stream: Stream, consumer: Consumer | None, policy: str | None) -> None:
        """PutResourcePolicy / DeleteResourcePolicy on a stream or a consumer (kept in the stream's document)."""
        if policy is not None:
            check_resource_policy(policy, consumer.arn if consumer is not None else stream.arn)
        target = stream if consumer is None else consumer
        target.policy = policy
        self._save(stream)

    def set_encryption(self, stream: Stream, encryption: str, key_id: str | None) -> None:
        self._require_active(stream)
        stream.encryption = encryption
        stream.key_id = key_id if encryption != "NONE" else None
        self._mark_updating(stream)
        self._save(stream)

    def set_monitoring(self, stream: Stream, metrics: Sequence[str], *, enable: bool) -> tuple[list[str], list[str]]:
        before = list(stream.monitoring)
        all_metrics = [
            "IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords", "WriteProvisionedThroughputExceeded",
            "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds",
        ]
        wanted = all_metrics if "ALL" in metrics else list(metrics)
        if enable:
            after = before + [m for m in wanted if m not in before]
        else:
            after = [m for m in before if m not in wanted]
        stream.monitoring = after
        self._save(stream)
        return before, after

    def set_max_record_size(self, stream: Stream, kib: int) -> None:
        """UpdateMaxRecordSize (1,024..10,240 KiB, checked against the model): later writes obey it."""
        self._require_active(stream)
        stream.max_record_kib = kib
        self._mark_updating(stream)
        self._save(stream)

    def set_mode(self, stream: Stream, mode: str) -> None:
        self._require_active(stream)
        stream.mode = mode
        self._mark_updating(stream)
        self._save(stream)

    def _mark_updating(self, stream: Stream) -> None:
        if self.settings.state_delay_s > 0:
            stream.status = "UPDATING"
            stream.status_until = self.clock.time() + self.settings.state_delay_s

    def _require_active(self, stream: Stream) -> None:
        if stream.status != "ACTIVE":
            raise ResourceInUseException(
                f"Stream {stream.name} under account {stream.account} not ACTIVE, instead in state {stream.status}"
            )

    # ------------------------------------------------------------------------------ resharding

    def _require_reshardable(self, stream: Stream) -> None:
        if stream.mode == "ON_DEMAND":
            raise ValidationException(f"Stream {stream.name} is in ON_DEMAND mode; resharding is managed by Kinesis.")
        self._require_active(stream)

    def _open_shard(self, stream: Stream, shard_id: str) -> Shard:
        shard = self.shard(stream, shard_id)
        if not shard.is_open:
            raise ResourceInUseException(
                f"Shard {shard_id} in stream {stream.name} under account {stream.account} has already been merged "
                "or split, and thus is not eligible for merging or splitting."
            )
        return shard

    def _check_shard_limit(self, stream: Stream, extra: int) -> None:
        total = sum(len(s.open_shards()) for s in self.list_streams(stream.account, stream.region))
        if total + extra > self.settings.shard_limit:
            raise LimitExceededException(
                f"This request would exceed the shard limit for the account {stream.account} in {stream.region}. "
                f"Limit: {self.settings.shard_limit}."
            )

    async def split_shard(self, stream: Stream, shard_id: str, new_starting_hash_key: str) -> None:
        assert stream.lock is not None
        async with stream.lock:
            self._require_reshardable(stream)
            parent = self._open_shard(stream, shard_id)
            try:
                key = parse_hash_key(new_starting_hash_key)
            except ValueError as exc:
                raise InvalidArgumentException(f"NewStartingHashKey {new_starting_hash_key} is not a valid hash key.") from exc
            if not (parent.start < key <= parent.end):
                raise InvalidArgumentException(
                    f"NewStartingHashKey {new_starting_hash_key} used in SplitShard() on shard {shard_id} in stream "
                    f"{stream.name} under account {stream.account} is not both greater than one plus the shard's "
                    f"StartingHashKey {parent.start} and less than the shard's EndingHashKey {parent.end}."
                )
            self._check_shard_limit(stream, 1)
            await self._split(stream, parent, key)
            self._mark_updating(stream)
            self._save(stream)

    async def merge_shards(self, stream: Stream, shard_id: str, adjacent_id: str) -> None:
        assert stream.lock is not None
        async with stream.lock:
            self._require_reshardable(stream)
            a = self._open_shard(stream, shard_id)
            b = self._open_shard(stream, adjacent_id)
            if not (a.end + 1 == b.start or b.end + 1 == a.start):
                raise InvalidArgumentException(
                    f"Shards {shard_id} and {adjacent_id} in stream {stream.name} under account {stream.account} "
                    "are not an adjacent pair of shards eligible for merging"
                )
            await self._merge(stream, a, b)
            self._mark_updating(stream)
            self._save(stream)

    async def update_shard_count(self, stream: Stream, target: int) -> int:
        assert stream.lock is not None
        async with stream.lock:
            self._require_reshardable(stream)
            current = len(stream.open_shards())
            if target < 1 or target > 2 * current or target * 2 < current:
                raise InvalidArgumentException(
                    f"TargetShardCount {target} is invalid: UpdateShardCount can scale a stream of {current} shards "
                    f"to between {max((current + 1) // 2, 1)} and {2 * current} shards."
                )
            now = self.clock.time()
            day = 86400 * self.settings.hour_s / 3600
            stream.scalings = [t for t in stream.scalings if t > now - day]
            if len(stream.scalings) >= MAX_SCALINGS_PER_DAY:
                raise LimitExceededException(
                    f"Stream {stream.name} under account {stream.account} has already been scaled "
                    f"{MAX_SCALINGS_PER_DAY} times in the last 24 hours."
                )
            if target > current:
                self._check_shard_limit(stream, target - current)
            for op, args in uniform_plan([(s.start, s.end) for s in stream.open_shards()], target):
                by_start = {s.start: s for s in stream.open_shards()}
                if op == "split":
                    await self._split(stream, by_start[args[0]], args[1])
                else:
                    await self._merge(stream, by_start[args[0]], by_start[args[1]])
            stream.scalings.append(now)
            self._mark_updating(stream)
            self._save(stream)
            return current

    async def _split(self, stream: Stream, parent: Shard, key: int) -> None:
        now_ms = _now_ms(self.clock)
        left = stream.new_shard(parent.start, key - 1, now_ms, parent=parent.shard_id)
        right = stream.new_shard(key, parent.end, now_ms, parent=parent.shard_id)
        for child in (left, right):
            self._attach(stream, child)
        await self._close(stream, [parent])

    async def _merge(self, stream: Stream, a: Shard, b: Shard) -> None:
        now_ms = _now_ms(self.clock)
        child = stream.new_shard(min(a.start, b.start), max(a.end, b.end), now_ms, parent=a.shard_id, adjacent=b.shard_id)
        self._attach(stream, child)
        await self._close(stream, [a, b])

    async def _close(self, stream: Stream, parents: list[Shard]) -> None:
        """Stop routing to ``parents`` now; fix their ends once appends already routed there are durable."""
        now_ms = _now_ms(self.clock)
        for shard in parents:
            shard.closed_ms = now_ms
        stream.reindex()
        self._save(stream)
        for shard in parents:
            while shard.inflight:
                shard.drained = asyncio.Event()
                await shard.drained.wait()
            assert shard.log is not None
            shard.end_seq = shard.log.next_seq
            shard.wake()

    # ------------------------------------------------------------------------------ writes

    async def put_records(
        self, stream: Stream, entries: Sequence[tuple[bytes, str, str | None]]
    ) -> list[PutResult]:
        """Append ``(data, partition_key, explicit_hash_key)`` entries; per-entry results, in order."""
        limit = stream.max_record_kib * 1024
        quotas = self.quotas
        single = stream.single_open_shard()  # one open shard: no hashing needed to route
        if single is not None and quotas is None and entries:
            fast = await self._put_single_shard(single, entries, limit)
            if fast is not None:
                return fast
        groups: dict[int, tuple[Shard, list[int], list[bytes]]] = {}
        throttled: dict[int, PutResult] = {}
        now = self.clock.monotonic()
        md5 = hashlib.md5
        route = stream.route
        heads = _KEY_HEADS
        for i, (data, key, explicit) in enumerate(entries):
            key_bytes = key.encode("utf-8")
            n = len(key_bytes)
            if len(data) + n > limit:
                raise _record_too_large(i, limit)
            if explicit is not None:
                shard = route(_explicit_hash_key(explicit))
            elif single is not None:
                shard = single
            else:
                shard = route(int.from_bytes(md5(key_bytes).digest(), "big"))
            if quotas is not None and not quotas.try_write((stream.key, shard.index), len(data) + n, now):
                throttled[i] = PutResult(
                    error_code="ProvisionedThroughputExceededException",
                    error_message=f"Rate exceeded for shard {shard.shard_id} in stream {stream.name} under account {stream.account}.",
                )
                continue
            group = groups.get(shard.index)
            if group is None:
                group = groups[shard.index] = (shard, [], [])
            group[1].append(i)
            # records.pack, inlined: [u16 LE key length][key][data]
            group[2].append(b"".join((heads[n] if n <= 1024 else n.to_bytes(2, "little"), key_bytes, data)))
        results: list[PutResult] = [None] * len(entries)  # type: ignore[list-item] # every slot is set below
        for i, result in throttled.items():
            results[i] = result
        if not groups:
            return results
        # No await before this point: routing and in-flight counting are atomic w.r.t. resharding.
        for shard, _, _ in groups.values():
            shard.inflight += 1
        ts = _now_ms(self.clock)
        if len(groups) == 1:
            (only,) = groups.values()
            outcomes: list[Any] = [await self._append(only[0], only[2], ts)]
        else:
            outcomes = await asyncio.gather(*(self._append(s, p, ts) for s, _, p in groups.values()), return_exceptions=True)
        for (shard, indices, _), outcome in zip(groups.values(), outcomes):
            if isinstance(outcome, BaseException):
                log.error("append failed stream=%s shard=%s error=%r", stream.name, shard.shard_id, outcome)
                for i in indices:
                    results[i] = PutResult(error_code="InternalFailure", error_message="Internal service failure.")
                continue
            encode = shard.encode
            assert encode is not None
            sid = shard.shard_id
            if outcome and outcome[-1] - outcome[0] == len(outcome) - 1:  # one append: consecutive numbers
                numbers = encode.range(outcome[0], len(outcome))
            else:
                numbers = [encode(seq) for seq in outcome]
            for i, number in zip(indices, numbers):
                results[i] = PutResult(sid, number)
        return results

    def check_records(self, stream: Stream, entries: Sequence[tuple[bytes, str, str | None]], *, single: bool = False) -> None:
        """Raise what ``put_records`` (``put_record`` if ``single``) would raise for ``entries``, writing
        nothing (a DryRun)."""
        limit = stream.max_record_kib * 1024
        for i, (data, key, explicit) in enumerate(entries):
            if len(data) + len(key.encode("utf-8")) > limit:
                raise _record_too_large(None if single else i, limit)
            if explicit is not None:
                _explicit_hash_key(explicit)

    async def _put_single_shard(
        self, shard: Shard, entries: Sequence[tuple[bytes, str, str | None]], limit: int
    ) -> list[PutResult] | None:
        """``put_records`` when every record goes to the one open shard and quotas are off: the same
        result, built a list at a time. None (nothing appended) when an entry needs the general path
        (an ExplicitHashKey to check, a record over the size limit, an unusually long key)."""
        keys = [key.encode("utf-8") for _, key, explicit in entries if explicit is None]
        if len(keys) != len(entries):
            return None
        payloads = _plain_payloads([entry[0] for entry in entries], keys, limit)
        if payloads is None:
            return None
        numbers = await self._append_numbered(shard, payloads)
        if numbers is None:
            return [PutResult(error_code="InternalFailure", error_message="Internal service failure.") for _ in entries]
        sid = shard.shard_id
        return [PutResult(sid, number) for number in numbers]

    async def put_payloads(self, stream: Stream, payloads: list[bytes]) -> tuple[str, list[str]] | list[PutResult] | None:
        """``put_records`` of entries given as their log payloads (records.pack of each key and data, within
        the stream's record size limit), when the stream has one open shard and quotas are off: (shard id,
        sequence numbers in entry order), or per-entry results when the append failed. None when the
        general path is needed (several open shards, quotas): nothing was appended then."""
        single = stream.single_open_shard()
        if single is None or self.quotas is not None or not payloads:
            return None
        numbers = await self._append_numbered(single, payloads)
        if numbers is None:
            return [PutResult(error_code="InternalFailure", error_message="Internal service failure.") for _ in payloads]
        return single.shard_id, numbers

    async def _append_numbered(self, shard: Shard, payloads: list[bytes]) -> list[str] | None:
        """Append ``payloads`` to ``shard`` and return their sequence numbers, or None when the append
        failed (logged; the callers report it per record, as the general path does). No await before the
        append is queued: routing and in-flight counting stay atomic with respect to resharding."""
        shard.inflight += 1
        try:
            seqs = await self._append(shard, payloads, _now_ms(self.clock))
        except Exception as exc:  # noqa: BLE001 - reported per record by the callers
            log.error("append failed shard=%s error=%r", shard.shard_id, exc)
            return None
        encode = shard.encode
        assert encode is not None
        if seqs[-1] - seqs[0] == len(seqs) - 1:
            return encode.range(seqs[0], len(seqs))
        return [encode(q) for q in seqs]

    async def _append(self, shard: Shard, payloads: list[bytes], ts: int) -> list[int]:
        try:
            assert shard.log is not None
            return await shard.log.append(payloads, timestamp_ms=ts)
        finally:
            shard.inflight -= 1
            if shard.inflight == 0 and shard.drained is not None:
                shard.drained.set()
            shard.wake()

    async def put_record(self, stream: Stream, data: bytes, key: str, explicit: str | None, ordering: str | None) -> PutResult:
        if ordering is not None and (not ordering.isdigit() or len(ordering) > 129):
            raise InvalidArgumentException(f"SequenceNumberForOrdering {ordering} is not a valid sequence number.")
        limit = stream.max_record_kib * 1024
        if len(data) + len(key.encode("utf-8")) > limit:
            raise _record_too_large(None, limit)
        # Sequence numbers of a shard strictly increase (and a child's exceed its parents'), so a
        # serial producer passing its previous number always gets a greater one: nothing more to do.
        (result,) = await self.put_records(stream, [(data, key, explicit)])
        if result.error_code == "ProvisionedThroughputExceededException":
            raise ProvisionedThroughputExceededException(result.error_message or "Rate exceeded.")
        if result.error_code is not None:
            raise InternalFailure(result.error_message or "Internal service failure.")
        return result

    # ------------------------------------------------------------------------------ reads

    def shard_iterator(
        self,
        stream: Stream,
        shard_id: str,
        kind: str,
        *,
        starting_sequence_number: str | None = None,
        timestamp: float | None = None,
    ) -> str:
        shard = self.shard(stream, shard_id)
        assert shard.log is not None
        lg = shard.log
        if starting_sequence_number and kind in ("TRIM_HORIZON", "LATEST"):
            raise InvalidArgumentException(_ITERATOR_TYPE_RULE + f"Request specified {kind} and also a StartingSequenceNumber.")
        if kind == "TRIM_HORIZON":
            pos = lg.first_seq
        elif kind == "LATEST":
            pos = lg.next_seq if shard.end_seq is None else shard.end_seq
        elif kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if not starting_sequence_number:
                raise InvalidArgumentException(_ITERATOR_TYPE_RULE + f"Request specified {kind} and no StartingSequenceNumber.")
            pos = self._log_seq_of(stream, shard, starting_sequence_number, "GetShardIterator")
            pos = pos + 1 if kind == "AFTER_SEQUENCE_NUMBER" else max(pos, 0)
        elif kind == "AT_TIMESTAMP":
            if timestamp is None:
                raise InvalidArgumentException(
                    "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                    "Current request has no timestamp parameter."
                )
            at_ms, now_ms = int(timestamp * 1000), _now_ms(self.clock)
            if at_ms > now_ms:
                raise InvalidArgumentException(
                    "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
                    f"timestampInMillis: {at_ms}, currentTimestampInMillis: {now_ms}"
                )
            pos = lg.seq_at_or_after_time(at_ms)
        else:
            raise InvalidArgumentException(f"Invalid ShardIteratorType {kind}.")
        return self._iterator(stream, shard, pos)

    def _log_seq_of(self, stream: Stream, shard: Shard, text: str, operation: str) -> int:
        where = f"used in {operation} on shard {shard.shard_id} in stream {stream.name} under account {stream.account}"
        try:
            position = sequence.decode(text)
        except sequence.BadSequenceNumber as exc:
            raise InvalidArgumentException(f"StartingSequenceNumber {text} {where} is invalid.") from exc
        if position.epoch != stream.epoch % 10**10:
            raise InvalidArgumentException(
                f"StartingSequenceNumber {text} {where} is invalid because it did not come from this stream."
            )
        if position.shard_index != shard.index:
            raise InvalidArgumentException(
                f"Invalid StartingSequenceNumber. It encodes {shard_id_for(position.shard_index)}, "
                f"while it was used in a call to a shard with {shard.shard_id}"
            )
        return position.log_seq

    def _iterator(self, stream: Stream, shard: Shard, pos: int) -> str:
        return self.iterators.encode(
            IteratorPosition(
                stream.account, stream.region, stream.name, bytes.fromhex(stream.incarnation), shard.index, pos,
                _now_ms(self.clock),
            )
        )

    def open_iterator(self, token: str, *, account: str | None = None) -> tuple[Stream, Shard, int]:
        try:
            pos = self.iterators.decode(token)
        except BadIterator as exc:
            raise InvalidArgumentException("Invalid ShardIterator.") from exc
        now_ms = _now_ms(self.clock)
        ttl_ms = int(self.settings.iterator_ttl_s * 1000)
        if now_ms - pos.issued_ms > ttl_ms:
            raise ExpiredIteratorException(
                f"Iterator expired. The iterator was created at time {_aws_time(pos.issued_ms)} while right now it is "
                f"{_aws_time(now_ms)} which is further in the future than the tolerated delay of {ttl_ms} milliseconds."
            )
        stream = self._load(pos.account, pos.region, pos.stream)
        if stream is None or not self._settle(stream) or stream.incarnation != pos.incarnation.hex():
            raise ResourceNotFoundException(f"Stream {pos.stream} under account {pos.account} not found.")
        shard = stream.by_index.get(pos.shard_index)
        if shard is None or shard.expired:
            raise ExpiredIteratorException("The shard of this iterator has expired.")
        return stream, shard, pos.log_seq

    def read(self, stream: Stream, shard: Shard, pos: int, limit: int, *, max_bytes: int = MAX_GET_BYTES) -> ReadResult:
        """Records from ``pos``; the result says where to go next (a new iterator, or the children)."""
        lg = shard.log
        assert lg is not None and shard.encode is not None
        if self.quotas is not None and not self.quotas.try_read((stream.key, shard.index), self.clock.monotonic()):
            raise ProvisionedThroughputExceededException(
                f"Rate exceeded for shard {shard.shard_id} in stream {stream.name} under account {stream.account}."
            )
        end = shard.end_seq
        if end is not None:
            limit = min(limit, max(end - pos, 0))
        rows: list[LogRecord] = lg.read(pos, limit, max_bytes) if limit > 0 else []
        encode = shard.encode
        if rows and rows[-1].seq - rows[0].seq == len(rows) - 1:  # the usual case: no gap
            numbers = encode.range(rows[0].seq, len(rows))
        else:
            numbers = [encode(row.seq) for row in rows]
        out: list[dict[str, Any]] = []
        append = out.append
        nbytes = 0
        last_ms = -1
        arrival = 0.0
        for row, number in zip(rows, numbers):
            p = row.payload
            n = p[0] | (p[1] << 8)
            nbytes += len(p)
            if row.timestamp_ms != last_ms:  # records of one append share their arrival time
                last_ms = row.timestamp_ms
                arrival = last_ms / 1000
            append(
                {
                    "SequenceNumber": number,
                    "ApproximateArrivalTimestamp": arrival,
                    "Data": p[2 + n :],
                    "PartitionKey": p[2 : 2 + n].decode("utf-8"),
                }
            )
        if stream.encryption == "KMS":
            for rec in out:
                rec["EncryptionType"] = "KMS"
        if self.quotas is not None and nbytes:
            self.quotas.record_read((stream.key, shard.index), nbytes, self.clock.monotonic())
        next_pos = rows[-1].seq + 1 if rows else max(pos, lg.first_seq)
        tip = lg.next_seq
        if next_pos >= tip:
            behind = 0
        else:
            ahead = lg.read(next_pos, 1)
            behind = max(0, _now_ms(self.clock) - ahead[0].timestamp_ms) if ahead else 0
        children = None
        next_iterator: str | None
        if end is not None and next_pos >= end:
            next_iterator = None
            children = [self.child_shard_doc(c) for c in stream.children_of(shard.shard_id)]
        else:
            next_iterator = self._iterator(stream, shard, next_pos)
        return ReadResult(out, next_iterator, behind, children, shard, next_pos)

    def get_records(self, token: str, limit: int | None) -> ReadResult:
        stream, shard, pos = self.check_get_records(token, limit)
        return self.read(stream, shard, pos, limit or MAX_GET_LIMIT)

    def check_get_records(self, token: str, limit: int | None) -> tuple[Stream, Shard, int]:
        """Raise what ``get_records`` would raise before reading (a DryRun); else where it would read."""
        if limit is not None and not (1 <= limit <= MAX_GET_LIMIT):
            raise InvalidArgumentException(
                f"Limit {limit} is invalid: it must be between 1 and {MAX_GET_LIMIT}."
            )
        return self.open_iterator(token)

    @staticmethod
    def child_shard_doc(child: Shard) -> dict[str, Any]:
        return {
            "ShardId": child.shard_id,
            "ParentShards": [p for p in (child.parent, child.adjacent_parent) if p],
            "HashKeyRange": {"StartingHashKey": str(child.start), "EndingHashKey": str(child.end)},
        }

    async def wait_for_records(self, shard: Shard, pos: int, timeout: float) -> None:
        """Return when the shard may have records at ``pos`` (or its end), or after ``timeout``."""
        assert shard.log is not None
        if shard.log.next_seq > pos or shard.end_seq is not None:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        shard.waiters.append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            if fut in shard.waiters:
                shard.waiters.remove(fut)

    def shard_doc(self, stream: Stream, shard: Shard) -> dict[str, Any]:
        assert shard.encode is not None
        seq_range: dict[str, str] = {"StartingSequenceNumber": shard.encode(-1)}
        if shard.end_seq is not None:
            seq_range["EndingSequenceNumber"] = shard.encode(shard.end_seq - 1)
        doc: dict[str, Any] = {
            "ShardId": shard.shard_id,
            "HashKeyRange": {"StartingHashKey": str(shard.start), "EndingHashKey": str(shard.end)},
            "SequenceNumberRange": seq_range,
        }
        if shard.parent:
            doc["ParentShardId"] = shard.parent
        if shard.adjacent_parent:
            doc["AdjacentParentShardId"] = shard.adjacent_parent
        return doc

    # ------------------------------------------------------------------------------ shard listing

    def list_shards(
        self, stream: Stream, *, after: str | None, filter_type: str | None, filter_shard: str | None, filter_ts: float | None
    ) -> list[Shard]:
        shards = sorted(stream.visible_shards(), key=lambda s: s.index)
        if after:
            shards = [s for s in shards if s.shard_id > after]
        kind = filter_type or "FROM_TRIM_HORIZON"
        if kind == "AFTER_SHARD_ID":
            if not filter_shard:
                raise InvalidArgumentException("ShardFilter type AFTER_SHARD_ID requires ShardId.")
            shards = [s for s in shards if s.shard_id > filter_shard]
        elif kind == "AT_LATEST":
            shards = [s for s in shards if s.is_open]
        elif kind == "AT_TRIM_HORIZON":
            visible = {s.shard_id for s in stream.visible_shards()}
            shards = [s for s in shards if not ({s.parent, s.adjacent_parent} & visible)]
        elif kind in ("AT_TIMESTAMP", "FROM_TIMESTAMP"):
            if filter_ts is None:
                raise InvalidArgumentException(f"ShardFilter type {kind} requires Timestamp.")
            t = int(filter_ts * 1000)
            if kind == "FROM_TIMESTAMP":
                shards = [s for s in shards if s.closed_ms is None or s.closed_ms > t]
            else:
                at = [s for s in shards if s.created_ms <= t and (s.closed_ms is None or s.closed_ms > t)]
                if not at:  # before the oldest retained shard: the lineage's roots
                    visible = {s.shard_id for s in stream.visible_shards()}
                    at = [s for s in shards if not ({s.parent, s.adjacent_parent} & visible)]
                shards = at
        elif kind != "FROM_TRIM_HORIZON":
            raise InvalidArgumentException(f"Invalid ShardFilter type {kind}.")
        return shards

    def make_token(self, doc: dict[str, Any]) -> str:
        doc = {**doc, "t": _now_ms(self.clock)}
        return base64.urlsafe_b64encode(orjson.dumps(doc)).decode("ascii")

    def read_token(self, token: str) -> dict[str, Any]:
        try:
            doc = orjson.loads(base64.urlsafe_b64decode(token.encode("ascii")))
            issued = int(doc["t"])
        except (binascii.Error, ValueError, KeyError, TypeError, UnicodeEncodeError, orjson.JSONDecodeError) as exc:
            raise InvalidArgumentException("Invalid NextToken.") from exc
        if _now_ms(self.clock) - issued > self.settings.next_token_ttl_s * 1000:
            raise ExpiredNextTokenException("The NextToken has expired.")
        return doc  # type: ignore[no-any-return]

    # ------------------------------------------------------------------------------ consumers

    def register_consumer(self, stream: Stream, name: str, *, tags: dict[str, str] | None = None) -> Consumer:
        if name in stream.consumers:
            raise ResourceInUseException(f"Consumer {name} under stream {stream.name} already exists for account {stream.account}.")
        if len(stream.consumers) >= MAX_CONSUMERS:
            raise LimitExceededException(f"Stream {stream.name} already has {MAX_CONSUMERS} registered consumers.")
        now = self.clock.time()
        consumer = Consumer(
            name,
            f"{stream.arn}/consumer/{name}:{int(now)}",
            round(now, 3),
            "CREATING" if self.settings.state_delay_s > 0 else "ACTIVE",
            now + self.settings.state_delay_s,
            dict(tags or {}),
        )
        stream.consumers[name] = consumer
        self._save(stream)
        return consumer

    def find_consumer(
        self, account: str, region: str, *, stream_arn: str | None, name: str | None, consumer_arn: str | None
    ) -> tuple[Stream, Consumer]:
        if consumer_arn:
            head, sep, tail = consumer_arn.partition("/consumer/")
            cname = tail.rsplit(":", 1)[0]
            if not sep or not cname:
                raise InvalidArgumentException(f"Invalid ConsumerARN {consumer_arn}.")
            try:
                stream = self.get(account, region, arn=head)
            except ResourceNotFoundException as exc:
                raise ResourceNotFoundException(f"Consumer {consumer_arn} not found.") from exc
            consumer = stream.consumers.get(cname)
            if consumer is None or consumer.arn != consumer_arn:
                raise ResourceNotFoundException(f"Consumer {consumer_arn} not found.")
            return stream, consumer
        if not stream_arn or not name:
            raise InvalidArgumentException("Either ConsumerARN, or StreamARN and ConsumerName, must be provided.")
        stream = self.get(account, region, arn=stream_arn)
        consumer = stream.consumers.get(name)
        if consumer is None:
            raise ResourceNotFoundException(f"Consumer {name} under stream {stream.name} not found for account {stream.account}.")
        return stream, consumer

    def deregister_consumer(self, stream: Stream, consumer: Consumer) -> None:
        stream.consumers.pop(consumer.name, None)
        self._save(stream)

    # ------------------------------------------------------------------------------ retention

    def retention_ms(self, stream: Stream) -> int:
        return int(stream.retention_hours * self.settings.hour_s * 1000)

    async def trim_once(self) -> None:
        """Trim records past retention; expire closed shards wholly past it; finish due deletions."""
        now_ms = _now_ms(self.clock)
        for key, doc in self.metadata.list(KIND):
            account, region, name = key.split("/", 2)
            stream = self._load(account, region, name)
            if stream is None or not self._settle(stream):
                continue
            cutoff = now_ms - self.retention_ms(stream)
            changed = False
            for shard in stream.shards:
                if shard.expired or shard.log is None:
                    continue
                if shard.end_seq is not None and shard.closed_ms is not None and shard.closed_ms < cutoff:
                    shard.expired = True
                    changed = True
                    name_ = stream.log_name(shard.shard_id)
                    shard.log = None
                    await self.logs.drop(name_)
                    continue
                lg = shard.log
                first = lg.seq_at_or_after_time(cutoff)
                if first > lg.first_seq:
                    try:
                        await lg.trim(first)
                    except LogClosed:
                        pass
            if changed:
                stream.reindex()
                self._save(stream)

    async def _trim_loop(self) -> None:
        while not self._closed:
            await self.clock.sleep(self.settings.trim_interval_s)
            try:
                await self.trim_once()
            except Exception:  # noqa: BLE001 - keep trimming on the next round
                log.exception("retention trim failed")


MAX_POLICY_BYTES = 20 * 1024  # as IAM's resource-based policies


def check_resource_policy(text: str, resource_arn: str) -> None:
    """What Kinesis checks of a resource policy before keeping it: a JSON policy document whose statements
    each have an Effect, a Principal (a resource policy names who it grants) and kinesis: actions."""
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise InvalidArgumentException(f"Policy size exceeds the limit of {MAX_POLICY_BYTES} bytes.")
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidArgumentException("Policy is not a valid JSON document.") from None
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise InvalidArgumentException("Policy must contain a non-empty Statement.")
    for st in statements:
        if not isinstance(st, dict) or st.get("Effect") not in ("Allow", "Deny"):
            raise InvalidArgumentException("Each policy statement must have an Effect of Allow or Deny.")
        if "Principal" not in st and "NotPrincipal" not in st:
            raise InvalidArgumentException("A resource-based policy statement must specify a Principal.")
        actions = st.get("Action", st.get("NotAction"))
        actions = [actions] if isinstance(actions, str) else actions
        if not isinstance(actions, list) or not actions or not all(isinstance(a, str) for a in actions):
            raise InvalidArgumentException("Each policy statement must have an Action.")
        for action in actions:
            if action != "*" and not action.lower().startswith("kinesis:"):
                raise InvalidArgumentException(f"Policy contains an action that is not a Kinesis action: {action}")

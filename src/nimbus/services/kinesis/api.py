"""KinesisApi: each Kinesis_20131202 operation, shape in -> engine call -> shape out.

Inputs arrive parsed and validated against the botocore model (blobs as bytes, timestamps as
datetimes); outputs are plain dicts the json 1.1 codec serialises. No domain logic lives here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from nimbus.protocol.json import PackedRecords, b64encode_text
from nimbus.services.base import RequestContext
from nimbus.services.cloudwatch.feed import FEED
from nimbus.services.kinesis import config as kconfig
from nimbus.services.kinesis.engine import MAX_PUT_RECORDS, MAX_PUT_RECORDS_BYTES, Streams
from nimbus.services.kinesis.errors import (
    DryRunOperationException,
    InvalidArgumentException,
    ResourceInUseException,
    ValidationException,
)
from nimbus.services.kinesis.records import pack
from nimbus.services.kinesis.streams import Consumer, Stream

if TYPE_CHECKING:
    from nimbus.server import Nimbus

DEFAULT_DESCRIBE_LIMIT = 100  # B.1
DEFAULT_LIST_STREAMS_LIMIT = 100
DEFAULT_LIST_SHARDS_LIMIT = 1000
MAX_LIST_SHARDS_LIMIT = 10000
# A DryRun call that would have succeeded answers DryRunOperationException (HTTP 400), having read and
# written nothing (KDS guide, kds-dryrun-validation); AWS does not document the message.
DRY_RUN_MESSAGE = "Request would have succeeded, but DryRun flag is set."


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value)


def engine_of(core: Nimbus) -> Streams:
    """The shared Kinesis engine (core component "kinesis.engine"), used by the api and by mappings."""

    def build() -> Streams:
        settings = kconfig.from_env(core.settings.extra)
        return Streams(
            core.storage.metadata, core.storage.logs, clock=core.clock, settings=settings, spawn=core.spawn
        )

    return core.component("kinesis.engine", build)


class KinesisApi:
    def __init__(self, core: Nimbus) -> None:
        self.core = core
        self.streams = engine_of(core)
        self._started = False

    async def start(self) -> None:
        if not self._started:
            self._started = True
            await self.streams.start()
            from nimbus.services.kinesis.mappings import mappings_of

            await mappings_of(self.core).start()

    async def aclose(self) -> None:
        await self.streams.aclose()

    # -------------------------------------------------------------------- helpers

    def _stream(self, ctx: RequestContext, params: dict[str, Any]) -> Stream:
        return self.streams.get(ctx.account_id, ctx.region, params.get("StreamName"), params.get("StreamARN"))

    def _writable(self, ctx: RequestContext, params: dict[str, Any]) -> Stream:
        return self.streams.writable(ctx.account_id, ctx.region, params.get("StreamName"), params.get("StreamARN"))

    @staticmethod
    def _mode(stream: Stream) -> dict[str, str]:
        return {"StreamMode": stream.mode}

    def _enc(self, stream: Stream) -> dict[str, Any]:
        out: dict[str, Any] = {"EncryptionType": stream.encryption}
        if stream.key_id:
            out["KeyId"] = stream.key_id
        return out

    @staticmethod
    def _monitoring(stream: Stream) -> list[dict[str, Any]]:
        return [{"ShardLevelMetrics": list(stream.monitoring)}]

    # -------------------------------------------------------------------- streams

    async def create_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        mode = (params.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
        self.streams.create_stream(
            ctx.account_id,
            ctx.region,
            params["StreamName"],
            shard_count=params.get("ShardCount"),
            mode=mode,
            tags=params.get("Tags"),
            max_record_kib=params.get("MaxRecordSizeInKiB"),
        )
        return {}

    async def delete_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream = self._stream(ctx, params)
        self.streams.delete_stream(stream, enforce_consumer_deletion=bool(params.get("EnforceConsumerDeletion")))
        return {}

    async def describe_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream = self._stream(ctx, params)
        limit = min(params.get("Limit") or DEFAULT_DESCRIBE_LIMIT, DEFAULT_DESCRIBE_LIMIT)
        shards = sorted(stream.visible_shards(), key=lambda s: s.index)
        after = params.get("ExclusiveStartShardId")
        if after:
            shards = [s for s in shards if s.shard_id > after]
        return {
            "StreamDescription": {
                "StreamName": stream.name,
                "StreamARN": stream.arn,
                "StreamStatus": stream.status,
                "StreamModeDetails": self._mode(stream),
                "Shards": [self.streams.shard_doc(stream, s) for s in shards[:limit]],
                "HasMoreShards": len(shards) > limit,
                "RetentionPeriodHours": stream.retention_hours,
                "StreamCreationTimestamp": stream.created,
                "EnhancedMonitoring": self._monitoring(stream),
                **self._enc(stream),
            }
        }

    async def describe_stream_summary(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream = self._stream(ctx, params)
        return {
            "StreamDescriptionSummary": {
                "StreamName": stream.name,
                "StreamARN": stream.arn,
                "StreamStatus": stream.status,
                "StreamModeDetails": self._mode(stream),
                "RetentionPeriodHours": stream.retention_hours,
                "StreamCreationTimestamp": stream.created,
                "EnhancedMonitoring": self._monitoring(stream),
                **self._enc(stream),
                "OpenShardCount": len(stream.open_shards()),
                "ConsumerCount": len(stream.consumers),
                "MaxRecordSizeInKiB": stream.max_record_kib,
            }
        }

    async def list_streams(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        limit = min(params.get("Limit") or DEFAULT_LIST_STREAMS_LIMIT, DEFAULT_LIST_STREAMS_LIMIT)
        after = params.get("ExclusiveStartStreamName")
        token = params.get("NextToken")
        if token:
            doc = self.streams.read_token(token)
            after = doc.get("after")
        streams = sorted(self.streams.list_streams(ctx.account_id, ctx.region), key=lambda s: s.name)
        if after:
            streams = [s for s in streams if s.name > after]
        page, more = streams[:limit], len(streams) > limit
        out: dict[str, Any] = {
            "StreamNames": [s.name for s in page],
            "HasMoreStreams": more,
            "StreamSummaries": [
                {
                    "StreamName": s.name,
                    "StreamARN": s.arn,
                    "StreamStatus": s.status,
                    "StreamModeDetails": self._mode(s),
                    "StreamCreationTimestamp": s.created,
                }
                for s in page
            ],
        }
        if more:
            out["NextToken"] = self.streams.make_token({"after": page[-1].name})
        return out

    async def list_shards(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("NextToken")
        shard_filter = params.get("ShardFilter") or {}
        if token:
            # the token names the stream and the listing: AWS refuses each member that would do it again
            for member in ("StreamName", "StreamARN", "ExclusiveStartShardId", "ShardFilter", "StreamCreationTimestamp"):
                if params.get(member) is not None:
                    raise InvalidArgumentException(f"NextToken and {member} cannot be provided together.")
            doc = self.streams.read_token(token)
            stream = self.streams.get(ctx.account_id, ctx.region, doc["s"][2], None) if doc.get("s") else None
            if stream is None or doc["s"][:2] != [stream.account, stream.region]:
                raise InvalidArgumentException("Invalid NextToken.")
            after, ftype, fshard, fts = doc.get("a"), doc.get("ft"), doc.get("fs"), doc.get("fts")
        else:
            stream = self._stream(ctx, params)
            after = params.get("ExclusiveStartShardId")
            ftype, fshard, fts = shard_filter.get("Type"), shard_filter.get("ShardId"), _epoch(shard_filter.get("Timestamp"))
        limit = params.get("MaxResults") or DEFAULT_LIST_SHARDS_LIMIT
        if limit > MAX_LIST_SHARDS_LIMIT:
            raise InvalidArgumentException(f"MaxResults {limit} is invalid: it must be at most {MAX_LIST_SHARDS_LIMIT}.")
        shards = self.streams.list_shards(stream, after=after, filter_type=ftype, filter_shard=fshard, filter_ts=fts)
        page = shards[:limit]
        out: dict[str, Any] = {"Shards": [self.streams.shard_doc(stream, s) for s in page]}
        if len(shards) > limit:
            out["NextToken"] = self.streams.make_token(
                {"s": [stream.account, stream.region, stream.name], "a": page[-1].shard_id, "ft": ftype, "fs": fshard, "fts": fts}
            )
        return out

    async def increase_stream_retention_period(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.streams.set_retention(self._stream(ctx, params), params["RetentionPeriodHours"], increase=True)
        return {}

    async def decrease_stream_retention_period(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.streams.set_retention(self._stream(ctx, params), params["RetentionPeriodHours"], increase=False)
        return {}

    async def update_stream_mode(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream = self._stream(ctx, params)
        self.streams.set_mode(stream, params["StreamModeDetails"]["StreamMode"])
        return {}

    async def update_max_record_size(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.streams.set_max_record_size(self._stream(ctx, params), params["MaxRecordSizeInKiB"])
        return {}

    async def start_stream_encryption(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream = self._stream(ctx, params)
        self.streams.set_encryption(stream, params["EncryptionType"], params["KeyId"])
        return {}

    async def stop_stream_encryption(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream = self._stream(ctx, params)
        self.streams.set_encryption(stream, "NONE", None)
        return {}

    async def enable_enhanced_monitoring(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._monitor(ctx, params, enable=True)

    async def disable_enhanced_monitoring(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._monitor(ctx, params, enable=False)

    def _monitor(self, ctx: RequestContext, params: dict[str, Any], *, enable: bool) -> dict[str, Any]:
        stream = self._stream(ctx, params)
        before, after = self.streams.set_monitoring(stream, params["ShardLevelMetrics"], enable=enable)
        return {
            "StreamName": stream.name,
            "StreamARN": stream.arn,
            "CurrentShardLevelMetrics": before,
            "DesiredShardLevelMetrics": after,
        }

    async def describe_limits(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        streams = self.streams.list_streams(ctx.account_id, ctx.region)
        return {
            "ShardLimit": self.streams.settings.shard_limit,
            "OpenShardCount": sum(len(s.open_shards()) for s in streams),
            "OnDemandStreamCount": sum(1 for s in streams if s.mode == "ON_DEMAND"),
            "OnDemandStreamCountLimit": 50,
        }

    # -------------------------------------------------------------------- tags

    async def add_tags_to_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.streams.add_tags(self._stream(ctx, params), params["Tags"])
        return {}

    async def remove_tags_from_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.streams.remove_tags(self._stream(ctx, params), params["TagKeys"])
        return {}

    async def list_tags_for_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream = self._stream(ctx, params)
        keys = sorted(stream.tags)
        after = params.get("ExclusiveStartTagKey")
        if after:
            keys = [k for k in keys if k > after]
        limit = params.get("Limit") or 50
        return {
            "Tags": [{"Key": k, "Value": stream.tags[k]} for k in keys[:limit]],
            "HasMoreTags": len(keys) > limit,
        }

    async def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream, consumer = self.streams.resource(ctx.account_id, ctx.region, params["ResourceARN"])
        self.streams.add_tags(stream, params["Tags"], consumer=consumer)
        return {}

    async def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream, consumer = self.streams.resource(ctx.account_id, ctx.region, params["ResourceARN"])
        self.streams.remove_tags(stream, params["TagKeys"], consumer=consumer)
        return {}

    async def list_tags_for_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream, consumer = self.streams.resource(ctx.account_id, ctx.region, params["ResourceARN"])
        tags = stream.tags if consumer is None else consumer.tags
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}

    # -------------------------------------------------------------------- resource policies

    async def put_resource_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream, consumer = self.streams.resource(ctx.account_id, ctx.region, params["ResourceARN"])
        self.streams.set_policy(stream, consumer, params["Policy"])
        return {}

    async def get_resource_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream, consumer = self.streams.resource(ctx.account_id, ctx.region, params["ResourceARN"])
        policy = stream.policy if consumer is None else consumer.policy
        return {"Policy": policy if policy is not None else "{}"}  # no policy: an empty document, as Kinesis answers

    async def delete_resource_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream, consumer = self.streams.resource(ctx.account_id, ctx.region, params["ResourceARN"])
        self.streams.set_policy(stream, consumer, None)
        return {}

    def resource_policy(self, account: str, region: str, params: dict[str, Any]) -> str | None:
        """The resource policy IAM enforcement weighs for a request: the consumer's for a consumer's ARN,
        else the stream's (named by StreamName, StreamARN or ResourceARN). None: no such resource or no policy."""
        from nimbus.errors import ServiceError

        try:
            arn = params.get("ConsumerARN") or params.get("ResourceARN")
            if arn:
                stream, consumer = self.streams.resource(account, region, str(arn))
                return stream.policy if consumer is None else consumer.policy
            if params.get("StreamName") or params.get("StreamARN"):
                return self.streams.get(account, region, params.get("StreamName"), params.get("StreamARN")).policy
        except ServiceError:
            return None
        return None

    # -------------------------------------------------------------------- resharding

    async def split_shard(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream = self._stream(ctx, params)
        await self.streams.split_shard(stream, params["ShardToSplit"], params["NewStartingHashKey"])
        return {}

    async def merge_shards(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream = self._stream(ctx, params)
        await self.streams.merge_shards(stream, params["ShardToMerge"], params["AdjacentShardToMerge"])
        return {}

    async def update_shard_count(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream = self._stream(ctx, params)
        if params.get("ScalingType") != "UNIFORM_SCALING":
            raise InvalidArgumentException("ScalingType must be UNIFORM_SCALING.")
        target = params["TargetShardCount"]
        current = await self.streams.update_shard_count(stream, target)
        return {"StreamName": stream.name, "StreamARN": stream.arn, "CurrentShardCount": current, "TargetShardCount": target}

    # -------------------------------------------------------------------- records

    async def put_record(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("PartitionKey") is None:  # optional in the model, required by Kinesis
            raise ValidationException(
                "1 validation error detected: Value null at 'partitionKey' failed to satisfy constraint: Member must not be null"
            )
        stream = self._writable(ctx, params)
        if params.get("DryRun"):
            entry = (params["Data"], params["PartitionKey"], params.get("ExplicitHashKey"))
            self.streams.check_records(stream, [entry], single=True)
            raise DryRunOperationException(DRY_RUN_MESSAGE)
        result = await self.streams.put_record(
            stream,
            params["Data"],
            params["PartitionKey"],
            params.get("ExplicitHashKey"),
            params.get("SequenceNumberForOrdering"),
        )
        FEED.kinesis(stream.account, stream.region, stream.name, "PutRecord", records=1, size=len(params["Data"]))
        return {"ShardId": result.shard_id, "SequenceNumber": result.sequence_number, "EncryptionType": stream.encryption}

    async def put_records(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        entries = params["Records"]
        if 0 < len(entries) <= MAX_PUT_RECORDS and not _is_cbor(ctx) and not params.get("DryRun"):
            fast = await self._put_plain(ctx, params, entries)
            if fast is not None:
                return fast
        if type(entries) is PackedRecords:
            entries = entries.entries()
        missing = [i for i, entry in enumerate(entries, 1) if entry.get("PartitionKey") is None]
        if missing:
            # the model leaves PartitionKey optional; Kinesis requires it
            raise ValidationException(
                f"{len(missing)} validation error{'s' if len(missing) > 1 else ''} detected: "
                + "; ".join(
                    f"Value null at 'records.{i}.member.partitionKey' failed to satisfy constraint: Member must not be null"
                    for i in missing
                )
            )
        stream = self._writable(ctx, params)
        if len(entries) > MAX_PUT_RECORDS:
            raise InvalidArgumentException(f"PutRecords accepts at most {MAX_PUT_RECORDS} records per request.")
        batch = [(entry["Data"], entry["PartitionKey"], entry.get("ExplicitHashKey")) for entry in entries]
        total = sum([len(data) + len(key) for data, key, _ in batch])
        if total > MAX_PUT_RECORDS_BYTES:
            raise InvalidArgumentException(
                f"Records size exceeds {MAX_PUT_RECORDS_BYTES // (1 << 20)} MB limit: the request has {total} bytes."
            )
        if params.get("DryRun"):
            self.streams.check_records(stream, batch)
            raise DryRunOperationException(DRY_RUN_MESSAGE)
        results = await self.streams.put_records(stream, batch)
        out = _put_records_output(results, stream)
        FEED.kinesis(stream.account, stream.region, stream.name, "PutRecords", records=len(batch), size=total,
                     failed=out.get("FailedRecordCount", 0))
        return out

    async def _put_plain(self, ctx: RequestContext, params: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any] | None:
        """PutRecords in a few list-wide operations when every entry has a partition key and no
        ExplicitHashKey, the request is within the limits and the stream has one open shard (the
        engine's ``put_payloads``); the answer's Records already serialised. None (nothing written) sends
        the request down the general path, which then answers exactly as it always does."""
        if type(entries) is PackedRecords:  # the codec scanned the body straight into payloads (C)
            made = (entries.payloads, entries.total, entries.largest)
        else:
            made = _plain_payloads(entries, "Data", "PartitionKey", "ExplicitHashKey")
            if made is None:
                return None
        payloads, total, largest = made
        stream = self._writable(ctx, params)
        if total > MAX_PUT_RECORDS_BYTES or largest > stream.max_record_kib * 1024:
            return None
        result = await self.streams.put_payloads(stream, payloads)
        if result is None:
            return None
        if isinstance(result, list):
            out = _put_records_output(result, stream)
            FEED.kinesis(stream.account, stream.region, stream.name, "PutRecords", records=len(payloads), size=total,
                         failed=out.get("FailedRecordCount", 0))
            return out
        FEED.kinesis(stream.account, stream.region, stream.name, "PutRecords", records=len(payloads), size=total)
        return {"FailedRecordCount": 0, "Records": put_records_fragment(*result), "EncryptionType": stream.encryption}

    async def get_shard_iterator(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream = self._writable(ctx, params)
        token = self.streams.shard_iterator(
            stream,
            params["ShardId"],
            params["ShardIteratorType"],
            starting_sequence_number=params.get("StartingSequenceNumber"),
            timestamp=_epoch(params.get("Timestamp")),
        )
        if params.get("DryRun"):
            raise DryRunOperationException(DRY_RUN_MESSAGE)
        return {"ShardIterator": token}

    async def get_records(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("DryRun"):
            self.streams.check_get_records(params["ShardIterator"], params.get("Limit"))
            raise DryRunOperationException(DRY_RUN_MESSAGE)
        result = self.streams.get_records(params["ShardIterator"], params.get("Limit"))
        records: Any = result.records
        if result.shard.log is not None:  # its name says the stream: kinesis/<account>/<region>/<stream>/...
            FEED.kinesis_read(result.shard.log.name, len(records))
        if records and not ctx.headers.get("content-type", "").startswith("application/x-amz-cbor"):
            records = _records_fragment(records)
        out: dict[str, Any] = {"Records": records, "MillisBehindLatest": result.millis_behind}
        if result.next_iterator is not None:
            out["NextShardIterator"] = result.next_iterator
        if result.child_shards is not None:
            out["ChildShards"] = result.child_shards
        return out

    # -------------------------------------------------------------------- consumers

    @staticmethod
    def _consumer_doc(consumer: Consumer, stream: Stream | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "ConsumerName": consumer.name,
            "ConsumerARN": consumer.arn,
            "ConsumerStatus": consumer.status,
            "ConsumerCreationTimestamp": consumer.created,
        }
        if stream is not None:
            doc["StreamARN"] = stream.arn
        return doc

    async def register_stream_consumer(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream = self.streams.get(ctx.account_id, ctx.region, arn=params["StreamARN"])
        consumer = self.streams.register_consumer(stream, params["ConsumerName"], tags=params.get("Tags"))
        return {"Consumer": self._consumer_doc(consumer)}

    async def describe_stream_consumer(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream, consumer = self.streams.find_consumer(
            ctx.account_id,
            ctx.region,
            stream_arn=params.get("StreamARN"),
            name=params.get("ConsumerName"),
            consumer_arn=params.get("ConsumerARN"),
        )
        return {"ConsumerDescription": self._consumer_doc(consumer, stream)}

    async def list_stream_consumers(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream = self.streams.get(ctx.account_id, ctx.region, arn=params["StreamARN"])
        consumers = sorted(stream.consumers.values(), key=lambda c: c.name)
        token = params.get("NextToken")
        if token:
            after = self.streams.read_token(token).get("after", "")
            consumers = [c for c in consumers if c.name > after]
        limit = params.get("MaxResults") or 100
        page = consumers[:limit]
        out: dict[str, Any] = {"Consumers": [self._consumer_doc(c) for c in page]}
        if len(consumers) > limit:
            out["NextToken"] = self.streams.make_token({"after": page[-1].name})
        return out

    async def deregister_stream_consumer(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stream, consumer = self.streams.find_consumer(
            ctx.account_id,
            ctx.region,
            stream_arn=params.get("StreamARN"),
            name=params.get("ConsumerName"),
            consumer_arn=params.get("ConsumerARN"),
        )
        self.streams.deregister_consumer(stream, consumer)
        return {}

    async def subscribe_to_shard(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        from nimbus.services.kinesis.subscribe import subscription

        stream, consumer = self.streams.find_consumer(
            ctx.account_id, ctx.region, stream_arn=None, name=None, consumer_arn=params["ConsumerARN"]
        )
        if consumer.status != "ACTIVE":
            raise ResourceInUseException(f"Consumer {consumer.arn} is not ACTIVE.")
        start = params["StartingPosition"]
        shard = self.streams.shard(stream, params["ShardId"])
        # an invalid starting position is an error answer, not a broken event stream
        self.streams.shard_iterator(
            stream, shard.shard_id, start["Type"],
            starting_sequence_number=start.get("SequenceNumber"), timestamp=_epoch(start.get("Timestamp")),
        )
        if params.get("DryRun"):
            raise DryRunOperationException(DRY_RUN_MESSAGE)
        stream_events: AsyncIterator[bytes] = subscription(
            self.streams, stream, shard, start["Type"], start.get("SequenceNumber"), _epoch(start.get("Timestamp"))
        )
        return {"EventStream": stream_events}


def factory(core: Nimbus) -> KinesisApi:
    return KinesisApi(core)


def plain_payloads_py(
    entries: list[Any], data_name: str, key_name: str, ehk_name: str
) -> tuple[list[bytes], int, int] | None:
    """The log payloads (records.pack of key and data) of PutRecords entries on the plain path: each a
    dict with exact-bytes data, an exact-str key of at most 1,024 UTF-8 bytes and no ExplicitHashKey.
    Returns (payloads, data bytes + key characters, largest key bytes + data), or None for the general
    path. (nimbus._speedups.plain_payloads does the same in C.)"""
    payloads: list[bytes] = []
    total = largest = 0
    for entry in entries:
        if type(entry) is not dict or entry.get(ehk_name) is not None:
            return None
        key, data = entry.get(key_name), entry.get(data_name)
        if type(key) is not str or type(data) is not bytes:
            return None
        try:
            encoded = key.encode()
        except UnicodeEncodeError:  # a lone surrogate
            return None
        if len(encoded) > 1024:
            return None
        payloads.append(pack(encoded, data))
        total += len(data) + len(key)
        largest = max(largest, len(encoded) + len(data))
    return payloads, total, largest


try:
    from nimbus._speedups import plain_payloads as _plain_payloads
except ImportError:  # not compiled
    _plain_payloads = plain_payloads_py


def _is_cbor(ctx: RequestContext) -> bool:
    return str(ctx.headers.get("content-type", "")).startswith("application/x-amz-cbor")


def _put_records_output(results: list[Any], stream: Stream) -> dict[str, Any]:
    out = [
        {"SequenceNumber": r.sequence_number, "ShardId": r.shard_id}
        if r.error_code is None
        else {"ErrorCode": r.error_code, "ErrorMessage": r.error_message}
        for r in results
    ]
    failed = sum([r.error_code is not None for r in results])
    return {"FailedRecordCount": failed, "Records": out, "EncryptionType": stream.encryption}


def put_records_fragment(shard_id: str, numbers: list[str]) -> orjson.Fragment:
    """PutRecords' ``Records`` for one shard as the JSON writer would serialise
    ``[{"SequenceNumber": n, "ShardId": shard_id}, ...]`` (ids and numbers need no escaping)."""
    tail = f'","ShardId":"{shard_id}"}}'
    return orjson.Fragment(('[{"SequenceNumber":"' + (tail + ',{"SequenceNumber":"').join(numbers) + tail + "]").encode())


def _records_fragment(records: list[dict[str, Any]]) -> orjson.Fragment:
    """GetRecords' Records as one pre-serialised JSON array, which the JSON codec embeds untouched: the
    same bytes its writer would produce (members already in the model's order, Data base64, arrival time
    an epoch float) without a writer call per record. The dicts are this call's own (fresh from read())."""
    for rec in records:
        rec["Data"] = b64encode_text(rec["Data"])
    return orjson.Fragment(orjson.dumps(records))

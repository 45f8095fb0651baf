"""Lambda event source mappings for Kinesis streams (aws-contracts.md C.5): pollers, batching, bisect,
partial batch failures, tumbling windows, durable checkpoints.

The Lambda API's *EventSourceMapping operations delegate here (``mappings_of(core)``). Each enabled
mapping runs one poller task per shard it is allowed to read: a child shard starts only when its
parents are fully processed, so records are delivered in order across resharding. A poller reads a
batch, invokes the function synchronously through the "lambda.engine" component, and checkpoints in
the metadata store (kind ``kinesis.checkpoint``) after the batch is settled, so a restart resumes
where it stopped (at-least-once, like AWS). A failing batch blocks its shard until it succeeds, its
retries run out, or its records pass the maximum age; then it goes to the OnFailure destination.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from nimbus import arn as arns
from nimbus.errors import ServiceError
from nimbus.protocol.json import b64encode_text
from nimbus.services.kinesis import records as recordfmt
from nimbus.services.kinesis.engine import Streams
from nimbus.services.kinesis.hashing import hash_key
from nimbus.services.kinesis.streams import Shard, Stream
from nimbus.storage.base import LogRecord

if TYPE_CHECKING:
    from nimbus.server import Nimbus

log = logging.getLogger(__name__)

KIND = "lambda.esm"
CHECKPOINT = "kinesis.checkpoint"

# aws-contracts.md C.5
DEFAULT_BATCH_SIZE = 100
MAX_BATCH_SIZE = 10_000
MAX_BATCH_BYTES = 6 * 1024 * 1024
MAX_WINDOW_S = 300
MAX_TUMBLING_S = 900
RETRY_BASE_S = 0.05
RETRY_MAX_S = 2.0

# (function ref, payload, account, region, invocation type) -> (response payload, function error or None)
Invoke = Callable[[str, bytes, str, str, str], Awaitable[tuple[bytes, str | None]]]
# (function name/ARN, account, region) -> (function ARN as given-qualified, role ARN); raises if missing
Describe = Callable[[str, str, str], tuple[str, str]]


class InvalidParameterValueException(ServiceError):
    code = "InvalidParameterValueException"


class ResourceNotFoundException(ServiceError):
    code = "ResourceNotFoundException"
    status = 404


class ResourceConflictException(ServiceError):
    code = "ResourceConflictException"
    status = 409


class ResourceInUseException(ServiceError):
    code = "ResourceInUseException"


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@dataclass(slots=True)
class Item:
    """One record of a batch, decoded once."""

    seq: int
    ts_ms: int
    key: str
    data: bytes
    sequence_number: str


class Mappings:
    """All event source mappings that read Kinesis streams."""

    def __init__(
        self,
        metadata: Any,
        streams: Streams,
        *,
        invoke: Invoke,
        describe: Describe,
        spawn: Callable[..., Any] | None = None,
    ) -> None:
        self.metadata = metadata
        self.streams = streams
        self.clock = streams.clock
        self._invoke = invoke
        self._describe = describe
        self._pollers: dict[str, asyncio.Task[Any]] = {}
        self._started = False

    # -------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        for key, doc in self.metadata.list(KIND):
            if doc.get("enabled", True) and doc.get("source") == "kinesis":
                self._run(doc)

    async def aclose(self) -> None:
        tasks = list(self._pollers.values())
        self._pollers.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _run(self, doc: dict[str, Any]) -> None:
        uid = doc["UUID"]
        old = self._pollers.pop(uid, None)
        if old is not None:
            old.cancel()
        self._pollers[uid] = asyncio.get_running_loop().create_task(self._mapping_loop(uid), name=f"esm-{uid}")

    def _stop(self, uid: str) -> None:
        task = self._pollers.pop(uid, None)
        if task is not None:
            task.cancel()

    # -------------------------------------------------------------------- control plane

    def _stream_of(self, source_arn: str) -> Stream:
        try:
            parsed = arns.parse(source_arn)
        except ValueError as exc:
            raise InvalidParameterValueException(f"Invalid EventSourceArn {source_arn}.") from exc
        if parsed.service != "kinesis" or not parsed.resource.startswith("stream/"):
            raise InvalidParameterValueException(
                f"Nimbus supports event source mappings for Kinesis streams only; got {source_arn}."
            )
        stream_arn = source_arn.split("/consumer/", 1)[0]
        try:
            return self.streams.get(parsed.account, parsed.region, arn=stream_arn)
        except ServiceError as exc:
            raise InvalidParameterValueException(f"Stream not found: {source_arn}") from exc

    def _validate(self, doc: dict[str, Any]) -> None:
        def rng(name: str, lo: int, hi: int) -> None:
            v = doc[name]
            if v < lo or v > hi:
                raise InvalidParameterValueException(f"{name} must be between {lo} and {hi}; got {v}.")

        rng("BatchSize", 1, MAX_BATCH_SIZE)
        rng("MaximumBatchingWindowInSeconds", 0, MAX_WINDOW_S)
        rng("ParallelizationFactor", 1, 10)
        rng("MaximumRetryAttempts", -1, 10_000)
        rng("TumblingWindowInSeconds", 0, MAX_TUMBLING_S)
        age = doc["MaximumRecordAgeInSeconds"]
        if age != -1 and not (60 <= age <= 604_800):
            raise InvalidParameterValueException("MaximumRecordAgeInSeconds must be -1 or between 60 and 604800.")
        for t in doc["FunctionResponseTypes"]:
            if t != "ReportBatchItemFailures":
                raise InvalidParameterValueException(f"Unsupported FunctionResponseTypes value {t}.")
        for f in (doc.get("FilterCriteria") or {}).get("Filters", []):
            try:
                pattern = orjson.loads(f.get("Pattern", "{}"))
            except orjson.JSONDecodeError as exc:
                raise InvalidParameterValueException(f"Invalid filter pattern definition: {exc}") from exc
            if not isinstance(pattern, dict):
                raise InvalidParameterValueException("Invalid filter pattern definition.")

    def create(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        source = params.get("EventSourceArn")
        if not source:
            raise InvalidParameterValueException("EventSourceArn is required for Kinesis event source mappings.")
        stream = self._stream_of(source)
        start = params.get("StartingPosition")
        if start not in ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"):
            raise InvalidParameterValueException("StartingPosition must be TRIM_HORIZON, LATEST or AT_TIMESTAMP for Kinesis.")
        ts = params.get("StartingPositionTimestamp")
        if start == "AT_TIMESTAMP" and ts is None:
            raise InvalidParameterValueException("StartingPositionTimestamp is required with AT_TIMESTAMP.")
        function_arn, role = self._describe(params["FunctionName"], account, region)
        uid = str(uuid.uuid4())
        now = self.clock.time()
        doc: dict[str, Any] = {
            "UUID": uid,
            "source": "kinesis",
            "account": account,
            "region": region,
            "EventSourceArn": source,
            "stream_arn": stream.arn,
            "FunctionArn": function_arn,
            "role": role,
            "StartingPosition": start,
            "StartingPositionTimestamp": ts.timestamp() if isinstance(ts, dt.datetime) else ts,
            "BatchSize": params.get("BatchSize") or DEFAULT_BATCH_SIZE,
            "MaximumBatchingWindowInSeconds": params.get("MaximumBatchingWindowInSeconds") or 0,
            "ParallelizationFactor": params.get("ParallelizationFactor") or 1,
            "BisectBatchOnFunctionError": bool(params.get("BisectBatchOnFunctionError", False)),
            "MaximumRetryAttempts": params.get("MaximumRetryAttempts", -1),
            "MaximumRecordAgeInSeconds": params.get("MaximumRecordAgeInSeconds", -1),
            "TumblingWindowInSeconds": params.get("TumblingWindowInSeconds") or 0,
            "FunctionResponseTypes": list(params.get("FunctionResponseTypes") or []),
            "DestinationConfig": params.get("DestinationConfig") or {"OnFailure": {}},
            "FilterCriteria": params.get("FilterCriteria"),
            "enabled": params.get("Enabled", True),
            "LastModified": now,
            "LastProcessingResult": "No records processed",
            "StateTransitionReason": "User action",
            "incarnation": stream.incarnation,
        }
        if doc["MaximumRetryAttempts"] is None:
            doc["MaximumRetryAttempts"] = -1
        if doc["MaximumRecordAgeInSeconds"] is None:
            doc["MaximumRecordAgeInSeconds"] = -1
        self._validate(doc)
        with self.metadata.transaction():
            self.metadata.put(KIND, uid, doc)
            self._initial_checkpoints(doc, stream)
        if doc["enabled"]:
            self._run(doc)
        return self.describe(doc, state="Creating")

    def _initial_checkpoints(self, doc: dict[str, Any], stream: Stream) -> None:
        """LATEST and AT_TIMESTAMP are fixed per shard at creation, as AWS does; TRIM_HORIZON needs nothing."""
        start = doc["StartingPosition"]
        if start == "TRIM_HORIZON":
            return
        for shard in stream.visible_shards():
            assert shard.log is not None
            if start == "LATEST":
                pos = shard.end_seq if shard.end_seq is not None else shard.log.next_seq
            else:
                pos = shard.log.seq_at_or_after_time(int(doc["StartingPositionTimestamp"] * 1000))
            self.metadata.put(CHECKPOINT, f"{doc['UUID']}/{shard.shard_id}", {"seq": pos, "done": False})

    def _doc(self, uid: str) -> dict[str, Any]:
        doc = self.metadata.get(KIND, uid)
        if doc is None or doc.get("source") != "kinesis":
            raise ResourceNotFoundException(f"The resource you requested does not exist. (Service: Lambda, Status Code: 404)")
        return doc

    def owns(self, uid: str) -> bool:
        doc = self.metadata.get(KIND, uid)
        return doc is not None and doc.get("source") == "kinesis"

    def get(self, uid: str) -> dict[str, Any]:
        return self.describe(self._doc(uid))

    def update(self, uid: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self._doc(uid)
        if "FunctionName" in params and params["FunctionName"]:
            doc["FunctionArn"], doc["role"] = self._describe(params["FunctionName"], doc["account"], doc["region"])
        for name in (
            "BatchSize", "MaximumBatchingWindowInSeconds", "ParallelizationFactor", "BisectBatchOnFunctionError",
            "MaximumRetryAttempts", "MaximumRecordAgeInSeconds", "TumblingWindowInSeconds", "FunctionResponseTypes",
            "DestinationConfig", "FilterCriteria",
        ):
            if name in params and params[name] is not None:
                doc[name] = params[name]
        if "Enabled" in params and params["Enabled"] is not None:
            doc["enabled"] = bool(params["Enabled"])
        self._validate(doc)
        doc["LastModified"] = self.clock.time()
        self.metadata.put(KIND, uid, doc)
        if doc["enabled"]:
            self._run(doc)
        else:
            self._stop(uid)
        return self.describe(doc, state="Updating")

    def delete(self, uid: str) -> dict[str, Any]:
        doc = self._doc(uid)
        self._stop(uid)
        with self.metadata.transaction():
            self.metadata.delete(KIND, uid)
            for key, _ in self.metadata.list(CHECKPOINT, f"{uid}/"):
                self.metadata.delete(CHECKPOINT, key)
        return self.describe(doc, state="Deleting")

    def list(self, account: str, region: str, *, function_arn: str | None, source_arn: str | None) -> list[dict[str, Any]]:
        out = []
        for _, doc in self.metadata.list(KIND):
            if doc.get("source") != "kinesis" or doc["account"] != account or doc["region"] != region:
                continue
            if source_arn and doc["EventSourceArn"] != source_arn:
                continue
            if function_arn and not _same_function(doc["FunctionArn"], function_arn):
                continue
            out.append(self.describe(doc))
        return out

    def describe(self, doc: dict[str, Any], state: str | None = None) -> dict[str, Any]:
        out = {
            "UUID": doc["UUID"],
            "EventSourceMappingArn": arns.build("lambda", doc["region"], doc["account"], f"event-source-mapping:{doc['UUID']}"),
            "StartingPosition": doc["StartingPosition"],
            "BatchSize": doc["BatchSize"],
            "MaximumBatchingWindowInSeconds": doc["MaximumBatchingWindowInSeconds"],
            "ParallelizationFactor": doc["ParallelizationFactor"],
            "EventSourceArn": doc["EventSourceArn"],
            "FunctionArn": doc["FunctionArn"],
            "LastModified": doc["LastModified"],
            "LastProcessingResult": doc.get("LastProcessingResult", "No records processed"),
            "State": state or ("Enabled" if doc.get("enabled", True) else "Disabled"),
            "StateTransitionReason": doc.get("StateTransitionReason", "User action"),
            "DestinationConfig": doc.get("DestinationConfig") or {"OnFailure": {}},
            "MaximumRecordAgeInSeconds": doc["MaximumRecordAgeInSeconds"],
            "BisectBatchOnFunctionError": doc["BisectBatchOnFunctionError"],
            "MaximumRetryAttempts": doc["MaximumRetryAttempts"],
            "TumblingWindowInSeconds": doc["TumblingWindowInSeconds"],
            "FunctionResponseTypes": doc["FunctionResponseTypes"],
        }
        if doc.get("StartingPositionTimestamp") is not None:
            out["StartingPositionTimestamp"] = doc["StartingPositionTimestamp"]
        if doc.get("FilterCriteria"):
            out["FilterCriteria"] = doc["FilterCriteria"]
        return out

    def _set_result(self, uid: str, text: str) -> None:
        doc = self.metadata.get(KIND, uid)
        if doc is not None and doc.get("LastProcessingResult") != text:
            doc["LastProcessingResult"] = text
            self.metadata.put(KIND, uid, doc)

    # -------------------------------------------------------------------- pollers

    async def _mapping_loop(self, uid: str) -> None:
        """Keep one worker per readable shard; a child starts once its parents are finished."""
        workers: dict[str, asyncio.Task[Any]] = {}
        try:
            while True:
                doc = self.metadata.get(KIND, uid)
                if doc is None or not doc.get("enabled", True):
                    return
                try:
                    stream = self._stream_of(doc["EventSourceArn"])
                except ServiceError:
                    self._set_result(uid, "PROBLEM: Stream not found.")
                    await self.clock.sleep(self.streams.settings.esm_poll_s)
                    continue
                if stream.incarnation != doc.get("incarnation"):
                    self._set_result(uid, "PROBLEM: Stream not found.")
                    await self.clock.sleep(self.streams.settings.esm_poll_s)
                    continue
                for shard in stream.visible_shards():
                    if shard.shard_id in workers:
                        continue
                    if self._done(uid, shard.shard_id):
                        continue
                    if not self._parents_done(uid, stream, shard):
                        continue
                    workers[shard.shard_id] = asyncio.get_running_loop().create_task(
                        self._shard_loop(uid, stream, shard), name=f"esm-{uid}-{shard.shard_id}"
                    )
                for sid, task in list(workers.items()):
                    if task.done():
                        del workers[sid]
                        if not task.cancelled() and task.exception() is not None:
                            log.error("esm shard worker failed uuid=%s shard=%s", uid, sid, exc_info=task.exception())
                # wake when any worker finishes (a child may become readable) or periodically
                pending = list(workers.values())
                if pending:
                    await asyncio.wait(pending, timeout=self.streams.settings.esm_poll_s, return_when=asyncio.FIRST_COMPLETED)
                else:
                    await self.clock.sleep(self.streams.settings.esm_poll_s)
        finally:
            for task in workers.values():
                task.cancel()
            await asyncio.gather(*workers.values(), return_exceptions=True)

    def _checkpoint(self, uid: str, shard_id: str) -> dict[str, Any] | None:
        return self.metadata.get(CHECKPOINT, f"{uid}/{shard_id}")

    def _done(self, uid: str, shard_id: str) -> bool:
        cp = self._checkpoint(uid, shard_id)
        return bool(cp and cp.get("done"))

    def _parents_done(self, uid: str, stream: Stream, shard: Shard) -> bool:
        for parent_id in (shard.parent, shard.adjacent_parent):
            if not parent_id:
                continue
            parent = stream.by_id.get(parent_id)
            if parent is None or parent.expired:
                continue
            if not self._done(uid, parent_id):
                return False
        return True

    async def _shard_loop(self, uid: str, stream: Stream, shard: Shard) -> None:
        cp = self._checkpoint(uid, shard.shard_id) or {}
        assert shard.log is not None
        pos = max(cp.get("seq", shard.log.first_seq), shard.log.first_seq)
        window_state: dict[str, Any] | None = cp.get("window")
        poll_s = self.streams.settings.esm_poll_s
        while True:
            doc = self.metadata.get(KIND, uid)
            if doc is None or not doc.get("enabled", True):
                return
            if shard.log is None:  # expired or stream deleted
                return
            pos = max(pos, shard.log.first_seq)
            tumbling = doc["TumblingWindowInSeconds"]
            end = shard.end_seq
            if end is not None and pos >= end:
                if tumbling and window_state is not None:
                    window_state = await self._final_window_invoke(doc, stream, shard, window_state, early=True)
                self._save_checkpoint(uid, shard, pos, None, done=True)
                return
            items = await self._collect(doc, shard, pos)
            if not items:
                # A window closes on the clock only once every record that arrived in it has been read: a
                # slow invoke must not split one window's records over two final calls.
                if tumbling and window_state is not None and self._window_over(window_state):
                    window_state = await self._final_window_invoke(doc, stream, shard, window_state, early=False)
                    self._save_checkpoint(uid, shard, pos, window_state)
                    continue
                await self.streams.wait_for_records(shard, pos, poll_s if not window_state else min(poll_s, 0.2))
                continue
            next_pos = items[-1].seq + 1
            items = self._filter(doc, items)
            if tumbling:
                window_state = await self._deliver_windowed(doc, stream, shard, items, window_state)
            elif items:
                await self._deliver(doc, stream, shard, items)
            pos = next_pos
            self._save_checkpoint(uid, shard, pos, window_state)

    def _save_checkpoint(self, uid: str, shard: Shard, pos: int, window: dict[str, Any] | None, *, done: bool = False) -> None:
        if self.metadata.get(KIND, uid) is None:
            return  # deleted meanwhile
        self.metadata.put(CHECKPOINT, f"{uid}/{shard.shard_id}", {"seq": pos, "done": done, "window": window})

    async def _collect(self, doc: dict[str, Any], shard: Shard, pos: int) -> list[Item]:
        """A batch: up to BatchSize records / 6 MB, waiting up to the batching window to fill it."""
        assert shard.log is not None and shard.encode is not None
        size = doc["BatchSize"]
        window = doc["MaximumBatchingWindowInSeconds"]
        limit = size if shard.end_seq is None else min(size, shard.end_seq - pos)
        rows = shard.log.read(pos, limit, MAX_BATCH_BYTES)
        if rows and window > 0 and len(rows) < limit:
            deadline = self.clock.monotonic() + window
            while len(rows) < limit:
                remaining = deadline - self.clock.monotonic()
                if remaining <= 0 or shard.end_seq is not None:
                    break
                await self.streams.wait_for_records(shard, rows[-1].seq + 1, remaining)
                more = shard.log.read(rows[-1].seq + 1, limit - len(rows), MAX_BATCH_BYTES - sum(len(r.payload) for r in rows))
                if not more:
                    continue
                rows.extend(more)
        return [self._item(shard, r) for r in rows]

    @staticmethod
    def _item(shard: Shard, row: LogRecord) -> Item:
        assert shard.encode is not None
        key, data = recordfmt.unpack(row.payload)
        return Item(row.seq, row.timestamp_ms, key, data, shard.encode(row.seq))

    def _filter(self, doc: dict[str, Any], items: list[Item]) -> list[Item]:
        filters = (doc.get("FilterCriteria") or {}).get("Filters") or []
        if not filters:
            return items
        patterns = [orjson.loads(f["Pattern"]) for f in filters if f.get("Pattern")]
        kept = []
        for item in items:
            try:
                data: Any = orjson.loads(item.data)
            except orjson.JSONDecodeError:
                data = None
            event = {"partitionKey": item.key, "sequenceNumber": item.sequence_number, "data": data, "kinesisSchemaVersion": "1.0"}
            if any(_matches(p, event) for p in patterns):
                kept.append(item)
        return kept

    # -------------------------------------------------------------------- delivery

    def _event(self, doc: dict[str, Any], stream: Stream, shard: Shard, items: list[Item]) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": it.key,
                        "sequenceNumber": it.sequence_number,
                        "data": b64encode_text(it.data),
                        "approximateArrivalTimestamp": it.ts_ms / 1000,
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"{shard.shard_id}:{it.sequence_number}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": doc["role"],
                    "awsRegion": stream.region,
                    "eventSourceARN": doc["EventSourceArn"],
                }
                for it in items
            ]
        }

    async def _call(self, doc: dict[str, Any], event: dict[str, Any]) -> tuple[bytes, str | None]:
        """Invoke; throttles and service errors are retried here forever (they never count as attempts)."""
        delay = RETRY_BASE_S
        while True:
            try:
                return await self._invoke(doc["FunctionArn"], orjson.dumps(event), doc["account"], doc["region"], "RequestResponse")
            except ServiceError as exc:
                log.warning("esm invoke failed uuid=%s code=%s", doc["UUID"], exc.code)
                self._set_result(doc["UUID"], f"PROBLEM: {exc.code}")
            await self.clock.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
            if self.metadata.get(KIND, doc["UUID"]) is None:
                raise asyncio.CancelledError

    async def _deliver(self, doc: dict[str, Any], stream: Stream, shard: Shard, items: list[Item]) -> None:
        factor = doc["ParallelizationFactor"]
        if factor <= 1:
            await self._deliver_ordered(doc, stream, shard, items)
            return
        # order is kept per partition key: each key's records go to one lane, lanes run concurrently
        lanes: dict[int, list[Item]] = {}
        for it in items:
            lanes.setdefault(hash_key(it.key) % factor, []).append(it)
        await asyncio.gather(*(self._deliver_ordered(doc, stream, shard, lane) for lane in lanes.values()))

    async def _deliver_ordered(self, doc: dict[str, Any], stream: Stream, shard: Shard, items: list[Item]) -> None:
        """Deliver ``items`` until each is processed or given up on (bisecting and retrying as configured)."""
        queue: list[tuple[list[Item], int]] = [(items, 0)]
        max_retry = doc["MaximumRetryAttempts"]
        max_age_ms = doc["MaximumRecordAgeInSeconds"] * 1000
        report = "ReportBatchItemFailures" in doc["FunctionResponseTypes"]
        delay = RETRY_BASE_S
        while queue:
            batch, attempts = queue.pop(0)
            if max_age_ms > 0:
                now_ms = int(self.clock.time() * 1000)
                expired = [it for it in batch if now_ms - it.ts_ms > max_age_ms]
                if expired:
                    await self._on_failure(doc, stream, shard, expired, "RecordAgeExceeded", attempts)
                    batch = [it for it in batch if now_ms - it.ts_ms <= max_age_ms]
                    if not batch:
                        continue
            payload, error = await self._call(doc, self._event(doc, stream, shard, batch))
            failed_from: int | None = None  # index in batch of the first failed record
            if error is None and report:
                failed_from = _first_failure(payload, batch)
            elif error is not None:
                failed_from = 0
            if failed_from is None:
                self._set_result(doc["UUID"], "OK")
                delay = RETRY_BASE_S
                continue
            self._set_result(doc["UUID"], "PROBLEM: Function call failed")
            log.info("esm batch failed uuid=%s shard=%s records=%d error=%s", doc["UUID"], shard.shard_id, len(batch), payload[:300])
            remaining = batch[failed_from:]
            if doc["BisectBatchOnFunctionError"] and len(remaining) > 1:
                mid = len(remaining) // 2
                queue[:0] = [(remaining[:mid], attempts), (remaining[mid:], attempts)]
                continue
            attempts += 1
            if max_retry != -1 and attempts > max_retry:
                await self._on_failure(doc, stream, shard, remaining, "RetryAttemptsExhausted", attempts)
                continue
            await self.clock.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
            queue.insert(0, (remaining, attempts))

    async def _on_failure(
        self, doc: dict[str, Any], stream: Stream, shard: Shard, items: list[Item], condition: str, attempts: int
    ) -> None:
        destination = ((doc.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        log.warning(
            "esm discarding records uuid=%s shard=%s count=%d condition=%s", doc["UUID"], shard.shard_id, len(items), condition
        )
        if not destination:
            return
        record = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": doc["FunctionArn"],
                "condition": condition,
                "approximateInvokeCount": max(attempts, 1),
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": _iso(int(self.clock.time() * 1000)),
            "KinesisBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": items[0].sequence_number,
                "endSequenceNumber": items[-1].sequence_number,
                "approximateArrivalOfFirstRecord": _iso(items[0].ts_ms),
                "approximateArrivalOfLastRecord": _iso(items[-1].ts_ms),
                "batchSize": len(items),
                "streamArn": stream.arn,
            },
        }
        body = orjson.dumps(record)
        try:
            parsed = arns.parse(destination)
            if parsed.service == "lambda":
                await self._invoke(destination, body, parsed.account, parsed.region, "Event")
            elif parsed.service == "kinesis":
                target = self.streams.get(parsed.account, parsed.region, arn=destination)
                await self.streams.put_records(target, [(body, shard.shard_id, None)])
            else:
                log.warning("esm OnFailure destination not served destination=%s", destination)
        except Exception:  # noqa: BLE001 - a failing destination must not block the shard
            log.exception("esm OnFailure delivery failed destination=%s", destination)

    # -------------------------------------------------------------------- tumbling windows

    def _window_over(self, state: dict[str, Any]) -> bool:
        return self.clock.time() * 1000 >= state["end_ms"]

    async def _deliver_windowed(
        self, doc: dict[str, Any], stream: Stream, shard: Shard, items: list[Item], state: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        size_ms = doc["TumblingWindowInSeconds"] * 1000
        i = 0
        while i < len(items):
            start_ms = items[i].ts_ms // size_ms * size_ms
            j = i
            while j < len(items) and items[j].ts_ms // size_ms * size_ms == start_ms:
                j += 1
            if state is not None and state["start_ms"] != start_ms:
                state = await self._final_window_invoke(doc, stream, shard, state, early=False)
            if state is None:
                state = {"start_ms": start_ms, "end_ms": start_ms + size_ms, "state": {}}
            state = await self._window_invoke(doc, stream, shard, items[i:j], state, final=False)
            i = j
        return state

    async def _final_window_invoke(
        self, doc: dict[str, Any], stream: Stream, shard: Shard, state: dict[str, Any], *, early: bool
    ) -> dict[str, Any] | None:
        await self._window_invoke(doc, stream, shard, [], state, final=True, early=early)
        return None

    async def _window_invoke(
        self,
        doc: dict[str, Any],
        stream: Stream,
        shard: Shard,
        items: list[Item],
        state: dict[str, Any],
        *,
        final: bool,
        early: bool = False,
    ) -> dict[str, Any]:
        attempts = 0
        delay = RETRY_BASE_S
        while True:
            event = self._event(doc, stream, shard, items)
            event.update(
                {
                    "window": {"start": _iso(state["start_ms"]), "end": _iso(state["end_ms"])},
                    "state": state["state"],
                    "shardId": shard.shard_id,
                    "eventSourceARN": doc["EventSourceArn"],
                    "isFinalInvokeForWindow": final,
                    "isWindowTerminatedEarly": early,
                }
            )
            payload, error = await self._call(doc, event)
            new_state = None
            if error is None:
                try:
                    response = orjson.loads(payload) if payload else None
                except orjson.JSONDecodeError:
                    response = None
                if isinstance(response, dict) and isinstance(response.get("state"), dict):
                    new_state = response["state"]
                elif final:
                    new_state = {}
            if new_state is not None:
                self._set_result(doc["UUID"], "OK")
                return {**state, "state": new_state}
            attempts += 1
            max_retry = doc["MaximumRetryAttempts"]
            if max_retry != -1 and attempts > max_retry:
                if items:
                    await self._on_failure(doc, stream, shard, items, "RetryAttemptsExhausted", attempts)
                return state
            await self.clock.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)


def _first_failure(payload: bytes, batch: list[Item]) -> int | None:
    """ReportBatchItemFailures: index of the lowest reported record, None when all succeeded."""
    if not payload or payload.strip() in (b"null", b""):
        return None
    try:
        response = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None  # not a response object: AWS treats an unparsable response as success
    if not isinstance(response, dict):
        return None
    if "batchItemFailures" not in response:
        return None
    failures = response["batchItemFailures"]
    if not failures:
        return None
    if not isinstance(failures, list):
        return 0
    index = {it.sequence_number: i for i, it in enumerate(batch)}
    lowest: int | None = None
    for f in failures:
        ident = f.get("itemIdentifier") if isinstance(f, dict) else None
        if not ident or ident not in index:
            return 0  # empty, null or unknown identifier: the whole batch failed
        i = index[ident]
        lowest = i if lowest is None else min(lowest, i)
    return lowest


def _same_function(stored: str, wanted: str) -> bool:
    if stored == wanted:
        return True
    name = stored.split(":function:", 1)[-1].split(":", 1)[0]
    wanted_name = wanted.split(":function:", 1)[-1] if ":function:" in wanted else wanted
    return wanted_name.split(":", 1)[0] == name and (":" not in wanted_name or stored.endswith(wanted_name))


def _matches(pattern: Any, value: Any) -> bool:
    """A subset of EventBridge-style filter patterns (what Lambda's FilterCriteria use)."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(_matches(p, value.get(k, _MISSING)) for k, p in pattern.items())
    if isinstance(pattern, list):
        return any(_match_one(p, value) for p in pattern)
    return False


_MISSING = object()


def _match_one(rule: Any, value: Any) -> bool:
    if isinstance(rule, dict):
        if "exists" in rule:
            return (value is not _MISSING) == bool(rule["exists"])
        if value is _MISSING:
            return False
        if "prefix" in rule:
            return isinstance(value, str) and value.startswith(rule["prefix"])
        if "suffix" in rule:
            return isinstance(value, str) and value.endswith(rule["suffix"])
        if "anything-but" in rule:
            banned = rule["anything-but"]
            banned = banned if isinstance(banned, list) else [banned]
            return value not in banned
        if "numeric" in rule:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return False
            ops = rule["numeric"]
            for op, bound in zip(ops[::2], ops[1::2]):
                if not {"=": value == bound, "<": value < bound, "<=": value <= bound, ">": value > bound, ">=": value >= bound}.get(op, False):
                    return False
            return True
        return False
    if isinstance(value, list):
        return rule in value
    return value is not _MISSING and value == rule


def mappings_of(core: Nimbus) -> Mappings:
    """The shared mappings engine (component "kinesis.mappings"), wired to "lambda.engine"."""
    from nimbus.services.kinesis.api import engine_of

    def build() -> Mappings:
        def engine() -> Any:
            from nimbus.services.lambda_.invoke import lambda_engine

            return lambda_engine(core)

        async def invoke(function: str, payload: bytes, account: str, region: str, kind: str) -> tuple[bytes, str | None]:
            result = await engine().invoke(function, payload, invocation_type=kind, region=region, account_id=account)
            return result.payload, result.function_error

        def describe(function: str, account: str, region: str) -> tuple[str, str]:
            eng = engine()
            ref = eng.parse_ref(function, None, region, account)
            config = eng.functions.configuration(ref)
            function_arn = config["FunctionArn"]
            if ref.qualifier and not function_arn.endswith(f":{ref.qualifier}"):
                function_arn = f"{function_arn.rsplit(':', 1)[0] if function_arn.count(':') > 6 else function_arn}:{ref.qualifier}"
            return function_arn, config.get("Role", "")

        return Mappings(core.storage.metadata, engine_of(core), invoke=invoke, describe=describe)

    return core.component("kinesis.mappings", build)

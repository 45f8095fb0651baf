"""The Lambda data-transformation step: events out, Ok / Dropped / ProcessingFailed results in.

aws-contracts.md A.5/A.6. A flush hands ``Transformer.run`` the source records it read from the stream's
log; they are split into invocations by the processor's BufferSizeInMBs and the 6 MB synchronous
payload limit, each invoked RequestResponse with ``1 + NumberOfRetries`` attempts. A call that keeps
failing (function error, timeout, throttling, unknown function) fails every record of its batch; a
response that breaks the contract (unparseable, missing/duplicate/unknown recordId, bad result) fails
its whole batch at once without retrying (a deterministic function would answer the same again).
Failed records carry what the A.6 error record needs.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from nimbus.clock import Clock
from nimbus.protocol.json import b64encode_text

log = logging.getLogger(__name__)

MAX_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024  # A.6: request and response each 6 MB
MAX_INVOKE_SECONDS = 300  # A.6: Firehose waits at most 5 minutes per call
DEFAULT_NUMBER_OF_RETRIES = 3  # A.5
DEFAULT_PROCESSOR_BUFFER_MB = 1.0  # A.5
DEFAULT_PROCESSOR_INTERVAL_S = 60  # A.5
_RECORD_JSON_OVERHEAD = 96  # {"recordId": "...", "approximateArrivalTimestamp": ..., "data": ""}
_EVENT_OVERHEAD = 512
_RESULTS = ("Ok", "Dropped", "ProcessingFailed")


@dataclass(slots=True, frozen=True)
class InvokeResult:
    """What a synchronous invoke returned: the response payload and Lambda's X-Amz-Function-Error."""

    payload: bytes
    function_error: str | None = None


class InvokeError(Exception):
    """The invoke itself failed (unknown function, throttled, service error); ``code`` is A.6's Lambda.* code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FunctionInvoker(Protocol):
    """The one invoke path of the Lambda service, as the transform needs it (RequestResponse)."""

    async def invoke(self, function_arn: str, payload: bytes, *, timeout_s: float) -> InvokeResult: ...


@dataclass(slots=True, frozen=True)
class SourceRecord:
    seq: int
    arrival_ms: int
    data: bytes
    kinesis: dict[str, Any] | None = None  # kinesisRecordMetadata (KinesisStreamAsSource only)

    @property
    def record_id(self) -> str:
        return f"{self.seq:020d}"


@dataclass(slots=True)
class Transformed:
    source: SourceRecord
    data: bytes
    partition_keys: dict[str, str] | None = None


@dataclass(slots=True)
class Failed:
    source: SourceRecord
    error_code: str
    error_message: str
    attempts: int
    ending_ms: int
    lambda_arn: str | None = None


@dataclass(slots=True)
class Outcome:
    ok: list[Transformed] = field(default_factory=list)
    dropped: int = 0
    failed: list[Failed] = field(default_factory=list)
    invocations: int = 0
    duration_ms: float = 0.0


@dataclass(slots=True, frozen=True)
class LambdaProcessor:
    lambda_arn: str
    retries: int = DEFAULT_NUMBER_OF_RETRIES
    buffer_bytes: int = int(DEFAULT_PROCESSOR_BUFFER_MB * 1024 * 1024)
    interval_s: float = DEFAULT_PROCESSOR_INTERVAL_S

    @classmethod
    def from_parameters(cls, params: dict[str, str]) -> LambdaProcessor:
        return cls(
            lambda_arn=params["LambdaArn"],
            retries=int(params.get("NumberOfRetries", DEFAULT_NUMBER_OF_RETRIES)),
            buffer_bytes=int(float(params.get("BufferSizeInMBs", DEFAULT_PROCESSOR_BUFFER_MB)) * 1024 * 1024),
            interval_s=float(params.get("BufferIntervalInSeconds", DEFAULT_PROCESSOR_INTERVAL_S)),
        )


def split_batches(records: Sequence[SourceRecord], max_data_bytes: int) -> list[list[SourceRecord]]:
    """Invocation batches: at most ``max_data_bytes`` of source data and a JSON event under 6 MB each."""
    batches: list[list[SourceRecord]] = []
    current: list[SourceRecord] = []
    data_bytes = 0
    payload = _EVENT_OVERHEAD
    for r in records:
        encoded = (len(r.data) + 2) // 3 * 4 + _RECORD_JSON_OVERHEAD
        if current and (data_bytes + len(r.data) > max_data_bytes or payload + encoded > MAX_INVOKE_PAYLOAD_BYTES):
            batches.append(current)
            current, data_bytes, payload = [], 0, _EVENT_OVERHEAD
        current.append(r)
        data_bytes += len(r.data)
        payload += encoded
    if current:
        batches.append(current)
    return batches


def build_event(records: Sequence[SourceRecord], *, stream_arn: str, region: str) -> bytes:
    """The transformation event (A.6): approximateArrivalTimestamp in epoch ms, data base64, and
    ``kinesisRecordMetadata`` for records read from a Kinesis stream."""
    items: list[dict[str, Any]] = []
    for r in records:
        item: dict[str, Any] = {
            "recordId": r.record_id,
            "approximateArrivalTimestamp": r.arrival_ms,
            "data": b64encode_text(r.data),
        }
        if r.kinesis is not None:
            item["kinesisRecordMetadata"] = r.kinesis
        items.append(item)
    return orjson.dumps({"invocationId": str(uuid.uuid4()), "deliveryStreamArn": stream_arn, "region": region, "records": items})


class ContractError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_response(batch: Sequence[SourceRecord], payload: bytes) -> tuple[list[Transformed], int, list[tuple[SourceRecord, str, str]]]:
    """Check the response against the contract; return (ok, dropped count, [(record, code, message)])."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as e:
        raise ContractError("Lambda.JsonProcessingException", f"The response from the Lambda function was not valid JSON: {e}") from e
    items = doc.get("records") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ContractError("Lambda.JsonProcessingException", "The response from the Lambda function has no 'records' list.")
    by_id = {r.record_id: r for r in batch}
    seen: set[str] = set()
    ok: list[Transformed] = []
    dropped = 0
    failed: list[tuple[SourceRecord, str, str]] = []
    for item in items:
        if not isinstance(item, dict):
            raise ContractError("Lambda.JsonProcessingException", "A response record is not a JSON object.")
        rid = item.get("recordId")
        if not isinstance(rid, str) or rid not in by_id:
            raise ContractError("Lambda.MissingRecordId", f"The record ID {rid!r} returned by the Lambda function is not in the request.")
        if rid in seen:
            raise ContractError("Lambda.DuplicatedRecordId", f"The record ID {rid} was returned more than once by the Lambda function.")
        seen.add(rid)
        result = item.get("result")
        if result not in _RESULTS:
            raise ContractError(
                "Lambda.JsonProcessingException", f"The record {rid} has an invalid result {result!r}; expected Ok, Dropped or ProcessingFailed."
            )
        source = by_id[rid]
        if result == "Dropped":
            dropped += 1
            continue
        if result == "ProcessingFailed":
            failed.append((source, "Lambda.ProcessingFailedStatus", "ProcessingFailed status set for record"))
            continue
        data = item.get("data")
        if not isinstance(data, str):
            raise ContractError("Lambda.JsonProcessingException", f"The record {rid} has result Ok but no base64 'data'.")
        try:
            raw = base64.b64decode(data, validate=True)
        except (ValueError, TypeError) as e:
            raise ContractError("Lambda.JsonProcessingException", f"The data of record {rid} is not valid base64.") from e
        keys = None
        metadata = item.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("partitionKeys"), dict):
            keys = {str(k): str(v) for k, v in metadata["partitionKeys"].items()}
        ok.append(Transformed(source, raw, keys))
    missing = [rid for rid in by_id if rid not in seen]
    if missing:
        raise ContractError("Lambda.MissingRecordId", f"{len(missing)} record ID(s) sent to the Lambda function were missing from its response, e.g. {missing[0]}.")
    return ok, dropped, failed


class Transformer:
    """Runs the Lambda processor over a flush's records."""

    def __init__(self, invoker: FunctionInvoker, clock: Clock, *, stream_arn: str, region: str, concurrency: int = 5) -> None:
        self.invoker = invoker
        self.clock = clock
        self.stream_arn = stream_arn
        self.region = region
        self.concurrency = concurrency  # A.6: up to 5 outstanding calls per shard

    async def run(self, processor: LambdaProcessor, records: Sequence[SourceRecord]) -> Outcome:
        outcome = Outcome()
        batches = split_batches(records, processor.buffer_bytes)
        sem = asyncio.Semaphore(self.concurrency)
        start = self.clock.monotonic()

        async def one(batch: list[SourceRecord]) -> Outcome:
            async with sem:
                return await self._invoke_batch(processor, batch)

        results = await asyncio.gather(*(one(b) for b in batches))
        for r in results:  # in batch order, so delivered data keeps arrival order
            outcome.ok += r.ok
            outcome.dropped += r.dropped
            outcome.failed += r.failed
            outcome.invocations += r.invocations
        outcome.duration_ms = (self.clock.monotonic() - start) * 1000
        return outcome

    async def _invoke_batch(self, processor: LambdaProcessor, batch: list[SourceRecord]) -> Outcome:
        out = Outcome()
        event = build_event(batch, stream_arn=self.stream_arn, region=self.region)
        attempts = 0
        code, message = "Lambda.FunctionError", ""
        while attempts <= processor.retries:
            attempts += 1
            out.invocations += 1
            try:
                result = await self.invoker.invoke(processor.lambda_arn, event, timeout_s=MAX_INVOKE_SECONDS)
            except InvokeError as e:
                code, message = e.code, e.message
            except Exception as e:  # noqa: BLE001 - any failure of the call is a failed attempt (A.6)
                log.warning("transform invoke failed stream=%s error=%r", self.stream_arn, e)
                code, message = "Lambda.InvokeFailed", f"The Lambda function invocation failed: {e}"
            else:
                if result.function_error:
                    code, message = _function_error(result)
                else:
                    try:
                        ok, dropped, failed = parse_response(batch, result.payload)
                    except ContractError as e:
                        return self._fail_all(out, batch, e.code, e.message, attempts, processor)
                    out.ok, out.dropped = ok, dropped
                    now = int(self.clock.time() * 1000)
                    out.failed = [Failed(s, c, m, attempts, now, processor.lambda_arn) for s, c, m in failed]
                    return out
            if attempts <= processor.retries:
                await self.clock.sleep(min(0.2 * attempts, 2.0))
        return self._fail_all(out, batch, code, message, attempts, processor)

    def _fail_all(self, out: Outcome, batch: list[SourceRecord], code: str, message: str, attempts: int, processor: LambdaProcessor) -> Outcome:
        now = int(self.clock.time() * 1000)
        out.ok, out.dropped = [], 0
        out.failed = [Failed(s, code, message, attempts, now, processor.lambda_arn) for s in batch]
        return out


def _function_error(result: InvokeResult) -> tuple[str, str]:
    """(A.6 error code, message) of a call that came back with X-Amz-Function-Error: a function that ran
    out of its own timeout is ``Lambda.FunctionTimedOut``, any other failure ``Lambda.FunctionError``."""
    try:
        doc: Any = orjson.loads(result.payload)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and ("errorMessage" in doc or "errorType" in doc):
        kind = doc.get("errorType", result.function_error)
        text = str(doc.get("errorMessage", ""))
        if kind == "Sandbox.Timedout" or "task timed out" in text.lower():
            return "Lambda.FunctionTimedOut", f"The Lambda function timed out: {text}".strip()
        return "Lambda.FunctionError", f"The Lambda function returned an error ({kind}): {text}".strip()
    return "Lambda.FunctionError", f"The Lambda function returned an error ({result.function_error})."


def error_record(f: Failed) -> bytes:
    """One A.6 processing-failed error record (a JSON line), as captured from real AWS."""
    doc: dict[str, Any] = {
        "rawData": base64.b64encode(f.source.data).decode("ascii"),
        "errorCode": f.error_code,
        "errorMessage": f.error_message,
        "attemptsMade": f.attempts,
        "arrivalTimestamp": f.source.arrival_ms,
        "attemptEndingTimestamp": f.ending_ms,
    }
    if f.lambda_arn:
        doc["lambdaARN"] = f.lambda_arn
    return orjson.dumps(doc) + b"\n"

"""Buffer → transform → sink with a manual clock and memory storage (in-process sink and invoker)."""

from __future__ import annotations

import asyncio
import dataclasses
import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from nimbus.clock import ManualClock
from nimbus.services.firehose import compression
from nimbus.services.firehose.buffer import StreamBuffer
from nimbus.services.firehose.delivery import BackupTarget, DeliveryConfig, Deliverer
from nimbus.services.firehose.prefixes import Layout
from nimbus.services.firehose.transform import InvokeResult, LambdaProcessor, Transformer
from nimbus.storage import open_memory_storage

MB = 1024 * 1024


class DictSink:
    """An ObjectSink keeping objects in dicts; a bucket must exist, like S3's NoSuchBucket."""

    def __init__(self, *buckets: str) -> None:
        self.buckets: dict[str, dict[str, tuple[bytes, str | None]]] = {b: {} for b in buckets}

    async def put_object(self, bucket: str, key: str, body: bytes, *, content_encoding: str | None, account_id: str, region: str) -> None:
        if bucket not in self.buckets:
            raise LookupError(f"NoSuchBucket {bucket}")
        self.buckets[bucket][key] = (body, content_encoding)


class PyInvoker:
    """A FunctionInvoker running a Python handler in-process (Lambda's JSON in, JSON out)."""

    def __init__(self, handler: Callable[[dict[str, Any]], Any]) -> None:
        self.handler = handler
        self.calls: list[dict[str, Any]] = []

    async def invoke(self, function_arn: str, payload: bytes, *, timeout_s: float) -> InvokeResult:
        event = json.loads(payload)
        self.calls.append(event)
        try:
            return InvokeResult(json.dumps(self.handler(event)).encode())
        except Exception as e:  # noqa: BLE001
            return InvokeResult(json.dumps({"errorMessage": str(e), "errorType": type(e).__name__}).encode(), "Unhandled")


def upper(event: dict[str, Any]) -> dict[str, Any]:
    out = []
    for r in event["records"]:
        data = base64.b64decode(r["data"])
        if data.startswith(b"DROP"):
            out.append({"recordId": r["recordId"], "result": "Dropped", "data": r["data"]})
        elif data.startswith(b"FAIL"):
            out.append({"recordId": r["recordId"], "result": "ProcessingFailed", "data": r["data"]})
        else:
            out.append({"recordId": r["recordId"], "result": "Ok", "data": base64.b64encode(data.upper()).decode()})
    return {"records": out}


class Rig:
    def __init__(self, *, size_mb: int = 1, interval: float = 60, sink: DictSink | None = None, handler: Any = None, **cfg: Any) -> None:
        self.clock = ManualClock(start=1_700_000_000.0)
        self.storage = open_memory_storage()
        self.log = self.storage.logs.open("firehose/test")
        self.buffer = StreamBuffer(self.log, self.storage.metadata, "acct/r/s", self.clock, size_bytes=size_mb * MB, interval_s=interval)
        self.sink = sink or DictSink("bkt")
        self.invoker = PyInvoker(handler) if handler else None
        processor = LambdaProcessor("arn:aws:lambda:us-east-1:000000000000:function:f", retries=cfg.pop("retries", 3)) if handler else None
        self.cfg = DeliveryConfig(
            stream_name="s", stream_arn="arn:aws:firehose:us-east-1:000000000000:deliverystream/s", account_id="000000000000",
            region="us-east-1", version="1", bucket="bkt", layout=cfg.pop("layout", Layout(None, None)), processor=processor, **cfg,
        )
        transformer = Transformer(self.invoker, self.clock, stream_arn=self.cfg.stream_arn, region="us-east-1") if self.invoker else None
        self.deliverer = Deliverer(self.buffer, lambda: self.cfg, self.sink, self.clock, transformer=transformer)

    async def put(self, *records: bytes) -> None:
        await self.buffer.append(list(records), arrival_ms=int(self.clock.time() * 1000))

    def objects(self, bucket: str = "bkt") -> dict[str, bytes]:
        return {k: v[0] for k, v in sorted(self.sink.buckets[bucket].items())}


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    for _ in range(20):
        await asyncio.sleep(0)


async def test_interval_trigger_measured_from_first_record() -> None:
    rig = Rig(interval=60)
    rig.deliverer.start()
    await rig.put(b"a\n")
    rig.clock.advance(30)
    await rig.put(b"b\n")
    await settle()
    rig.clock.advance(29)
    await settle()
    assert rig.objects() == {}
    rig.clock.advance(1.5)
    await settle()
    objs = rig.objects()
    assert list(objs.values()) == [b"a\nb\n"]
    (key,) = objs
    assert key.startswith("2023/11/14/22/s-1-2023-11-14-22-13-20-")
    assert rig.buffer.checkpoint == 2 and rig.log.first_seq == 2
    await rig.deliverer.aclose()


async def test_size_trigger_splits_batches_at_the_hint() -> None:
    rig = Rig(size_mb=1, interval=900)
    rig.deliverer.start()
    rec = b"x" * 1000
    for _ in range(3):
        await rig.put(*([rec] * 500))  # 1.5 MB in total
    await settle()
    objs = rig.objects()
    assert len(objs) == 1 and len(next(iter(objs.values()))) >= MB - 1000
    rig.clock.advance(900)
    await settle()
    assert sum(len(v) for v in rig.objects().values()) == 1_500_000
    await rig.deliverer.aclose()


async def test_flush_now_and_compression() -> None:
    rig = Rig(compression="GZIP")
    rig.deliverer.start()
    await rig.put(b"hello ", b"world")
    assert await rig.deliverer.flush(timeout=5)
    ((key, (body, enc)),) = rig.sink.buckets["bkt"].items()
    assert key.endswith(".gz") and enc == "gzip" and compression.decompress("GZIP", body) == b"hello world"
    await rig.deliverer.aclose()


async def test_transform_ok_dropped_failed() -> None:
    rig = Rig(handler=upper, layout=Layout("out/", None))
    rig.deliverer.start()
    await rig.put(b"one\n", b"DROP me\n", b"FAIL me\n", b"two\n")
    assert await rig.deliverer.flush(timeout=5)
    objs = rig.objects()
    data = [v for k, v in objs.items() if not k.startswith("out/processing-failed/")]
    errors = [v for k, v in objs.items() if k.startswith("out/processing-failed/")]
    assert data == [b"ONE\nTWO\n"]
    (err,) = errors
    rec = json.loads(err)
    assert err.endswith(b"\n") and base64.b64decode(rec["rawData"]) == b"FAIL me\n"
    assert rec["errorCode"] == "Lambda.ProcessingFailedStatus" and rec["attemptsMade"] == 1
    assert rec["lambdaARN"].endswith(":function:f") and rec["arrivalTimestamp"] == 1_700_000_000_000
    c = rig.deliverer.counters
    assert (c.transform_ok, c.transform_dropped, c.transform_failed) == (2, 1, 1)
    await rig.deliverer.aclose()


@pytest.mark.parametrize(
    "handler,code",
    [
        (lambda e: {"records": [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in e["records"][1:]]}, "Lambda.MissingRecordId"),
        (lambda e: {"records": [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in e["records"] * 2]}, "Lambda.DuplicatedRecordId"),
        (lambda e: {"records": [{"recordId": "nope", "result": "Ok", "data": ""}]}, "Lambda.MissingRecordId"),
        (lambda e: {"nothing": 1}, "Lambda.JsonProcessingException"),
        (lambda e: 1 / 0, "Lambda.FunctionError"),
    ],
)
async def test_contract_violations_fail_the_batch(handler: Any, code: str) -> None:
    rig = Rig(handler=handler, retries=2)
    rig.deliverer.start()
    await rig.put(b"a", b"b")
    task = asyncio.ensure_future(rig.deliverer.flush(timeout=5))
    for _ in range(10):  # retries back off on the manual clock
        await settle()
        rig.clock.advance(5)
    assert await task
    (body,) = rig.objects().values()
    lines = [json.loads(x) for x in body.splitlines()]
    assert [base64.b64decode(x["rawData"]) for x in lines] == [b"a", b"b"]
    assert {x["errorCode"] for x in lines} == {code}
    expected_attempts = 3 if code == "Lambda.FunctionError" else 1
    assert {x["attemptsMade"] for x in lines} == {expected_attempts}
    assert len(rig.invoker.calls) == expected_attempts
    await rig.deliverer.aclose()


async def test_invocations_split_by_processor_buffer() -> None:
    rig = Rig(handler=upper, size_mb=8)
    rig.cfg = DeliveryConfig(**{**{f: getattr(rig.cfg, f) for f in rig.cfg.__dataclass_fields__}, "processor": LambdaProcessor("arn:aws:lambda:us-east-1:000000000000:function:f", buffer_bytes=MB)})
    rig.deliverer.start()
    for _ in range(5):
        await rig.put(*([b"y" * 1000] * 1000))  # 5 MB
    assert await rig.deliverer.flush(timeout=5)
    assert len(rig.invoker.calls) == 5
    assert all(sum(len(base64.b64decode(r["data"])) for r in c["records"]) <= MB for c in rig.invoker.calls)
    assert sum(len(v) for v in rig.objects().values()) == 5_000_000
    await rig.deliverer.aclose()


async def test_destination_down_keeps_data_and_resumes() -> None:
    sink = DictSink()
    rig = Rig(sink=sink)
    rig.deliverer.start()
    await rig.put(b"keep me")
    task = asyncio.ensure_future(rig.deliverer.flush(timeout=None))
    for _ in range(5):
        await settle()
        rig.clock.advance(10)
    assert not task.done() and rig.deliverer.counters.delivery_failures >= 2
    assert rig.buffer.checkpoint == 0
    sink.buckets["bkt"] = {}
    for _ in range(5):
        await settle()
        rig.clock.advance(30)
    await task
    assert list(rig.objects().values()) == [b"keep me"]
    await rig.deliverer.aclose()


async def test_expired_records_are_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig(sink=DictSink())
    rig.deliverer.retention_s = 60
    rig.deliverer.start()
    await rig.put(b"lost")
    task = asyncio.ensure_future(rig.deliverer.flush(timeout=None))
    for _ in range(10):
        await settle()
        rig.clock.advance(30)
    await task
    assert rig.deliverer.counters.expired_records == 1
    assert "expired undelivered" in caplog.text


async def test_checkpoint_survives_reopen() -> None:
    rig = Rig()
    rig.deliverer.start()
    await rig.put(b"1")
    assert await rig.deliverer.flush(timeout=5)
    await rig.put(b"2")
    await rig.deliverer.aclose()
    again = StreamBuffer(rig.log, rig.storage.metadata, "acct/r/s", rig.clock, size_bytes=MB, interval_s=60)
    assert again.checkpoint == 1 and again.oldest_arrival_ms == 1_700_000_000_000
    assert again.seconds_until_due() == 60


async def test_backup_and_dynamic_partitioning_from_lambda() -> None:
    def keyed(event: dict[str, Any]) -> dict[str, Any]:
        out = []
        for r in event["records"]:
            doc = json.loads(base64.b64decode(r["data"]))
            out.append({"recordId": r["recordId"], "result": "Ok", "data": r["data"], "metadata": {"partitionKeys": {"c": doc["c"]}}})
        return {"records": out}

    rig = Rig(
        handler=keyed,
        layout=Layout("c=!{partitionKeyFromLambda:c}/", "err/!{firehose:error-output-type}/", dynamic_partitioning=True),
        dynamic_partitioning=True,
        backup=BackupTarget("bak", Layout("raw/", None), "UNCOMPRESSED"),
        sink=DictSink("bkt", "bak"),
    )
    rig.deliverer.start()
    await rig.put(b'{"c":"a"}', b'{"c":"b"}', b'{"c":"a"}')
    assert await rig.deliverer.flush(timeout=5)
    objs = rig.objects()
    assert {k.split("/")[0]: v for k, v in objs.items()} == {"c=a": b'{"c":"a"}{"c":"a"}', "c=b": b'{"c":"b"}'}
    (bak,) = rig.objects("bak").items()
    assert bak[0].startswith("raw/2023/") and bak[1] == b'{"c":"a"}{"c":"b"}{"c":"a"}'
    await rig.deliverer.aclose()


async def test_processor_interval_sends_records_before_the_s3_interval() -> None:
    rig = Rig(interval=300, handler=upper)
    rig.cfg = dataclasses.replace(rig.cfg, processor=LambdaProcessor(rig.cfg.processor.lambda_arn, interval_s=60))  # type: ignore[union-attr]
    rig.deliverer.start()
    await rig.put(b"a\n", b"b\n")
    await settle()
    assert rig.invoker is not None and rig.invoker.calls == []
    rig.clock.advance(61)  # the processor's interval: the function runs, S3 still waits
    await settle()
    assert len(rig.invoker.calls) == 1 and rig.objects() == {}
    await rig.put(b"c\n")
    rig.clock.advance(240)  # S3's 300 s since the first record: staged results + the rest (sent now)
    await settle()
    assert len(rig.invoker.calls) == 2 and list(rig.objects().values()) == [b"A\nB\nC\n"]
    assert rig.buffer.checkpoint == 3 and rig.buffer.untransformed_bytes == 0
    await rig.deliverer.aclose()


async def test_processor_size_bounds_each_invocation() -> None:
    rig = Rig(size_mb=128, interval=900, handler=upper)
    rig.cfg = dataclasses.replace(rig.cfg, processor=LambdaProcessor(rig.cfg.processor.lambda_arn, buffer_bytes=10_000, interval_s=900))  # type: ignore[union-attr]
    rig.deliverer.start()
    await rig.put(*([b"x" * 999 + b"\n"] * 25))  # 25 KB: two full processor batches of 10 records
    await settle()
    assert rig.invoker is not None and [len(c["records"]) for c in rig.invoker.calls] == [10, 10]
    assert rig.objects() == {}
    assert await rig.deliverer.flush(5)
    assert [len(c["records"]) for c in rig.invoker.calls] == [10, 10, 5]
    assert list(rig.objects().values()) == [(b"X" * 999 + b"\n") * 25]
    await rig.deliverer.aclose()


@pytest.mark.parametrize("options", [{}, {"append_delimiter": True}, {"compression": "GZIP"}, {"append_delimiter": True, "compression": "Snappy"}])
async def test_plain_batch_object_equals_the_general_path(options: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Streams without processor or partitioning build their object from the payloads directly: the same
    object (key apart from its uuid, body once decompressed, encoding) as the per-record path makes."""
    import uuid as uuid_module

    results = []
    for plain in (True, False):
        monkeypatch.setattr(uuid_module, "uuid4", lambda: "00000000-0000-0000-0000-000000000000")
        rig = Rig(**dict(options))
        await rig.put(b"a", b"bb\n", b"")
        rig.clock.advance(2)
        await rig.put(b"ccc")
        if not plain:  # the general path, called directly
            records = rig.buffer.read_batch()
            sources = rig.deliverer._sources(rig.cfg, records)
            ok, failed = await rig.deliverer._transform(rig.cfg, sources)
            plan = rig.deliverer._objects(rig.cfg, sources, ok, failed)
        else:
            separator = b"\n" if rig.cfg.append_delimiter else b""
            count, first, nbytes, plan = rig.deliverer._plain_objects(rig.cfg, rig.buffer.read_batch_joined(separator), separator)
            assert (count, first, nbytes) == (4, 1_700_000_000_000, 7)
        results.append([(o.bucket, o.key, compression.decompress(rig.cfg.compression, o.body), o.content_encoding, o.records, o.kind) for o in plan])
    assert results[0] == results[1]
    assert results[0][0][2] == (b"a\nbb\n\n\nccc\n" if options.get("append_delimiter") else b"abb\nccc")


class CheckedSink(DictSink):
    """A DictSink that also answers ``check`` (as both real sinks do) and counts the bodies it is given."""

    def __init__(self, *buckets: str) -> None:
        super().__init__(*buckets)
        self.checks = 0
        self.puts = 0

    async def check(self, bucket: str, *, account_id: str, region: str) -> str | None:
        self.checks += 1
        return None if bucket in self.buckets else "NoSuchBucket: The specified bucket does not exist"

    async def put_object(self, bucket: str, key: str, body: bytes, **kw: Any) -> None:
        self.puts += 1
        await super().put_object(bucket, key, body, **kw)


async def test_a_batch_waiting_for_its_destination_waits_on_disk(tmp_path: Any) -> None:
    sink = CheckedSink()
    rig = Rig(sink=sink)
    spill = tmp_path / "spill"
    rig.deliverer.spill_dir = spill
    rig.deliverer.start()
    await rig.put(b"a" * 1000, b"b" * 1000)
    task = asyncio.ensure_future(rig.deliverer.flush(timeout=None))
    for _ in range(6):
        await settle()
        rig.clock.advance(10)
    assert not task.done() and rig.deliverer.counters.delivery_failures >= 3
    # the object waits in a file, not in memory; retries asked the destination instead of re-sending it
    files = list(spill.iterdir())
    assert len(files) == 1 and files[0].read_bytes() == b"a" * 1000 + b"b" * 1000
    assert sink.puts == 1 and sink.checks >= 2
    assert "NoSuchBucket" in (rig.deliverer.counters.last_error or "")
    sink.buckets["bkt"] = {}
    for _ in range(6):
        await settle()
        rig.clock.advance(30)
    await task
    assert list(rig.objects().values()) == [b"a" * 1000 + b"b" * 1000]
    assert not list(spill.iterdir())  # delivered: the file is gone
    assert rig.deliverer.counters.delivered_bytes == 2000
    await rig.deliverer.aclose()


@pytest.mark.parametrize("size_mb", [1, 2, 40])
async def test_a_reopened_buffer_measures_its_backlog_like_a_whole_batch_read(monkeypatch: pytest.MonkeyPatch, size_mb: int) -> None:
    """Opening a stream measures what waits (oldest arrival, bytes up to the size hint, more beyond?) in
    chunks instead of reading a whole batch: the same figures as the whole read, with records that
    straddle chunk and hint boundaries (chunks made small here)."""
    from nimbus.services.firehose import buffer as buffer_module

    monkeypatch.setattr(buffer_module, "BATCH_CHUNK_BYTES", 300_000)
    rig = Rig()
    sizes = [1 + (i * 7919) % 90_000 for i in range(120)]  # ~5.4 MB of records from 1 B to 90 KB
    for i, n in enumerate(sizes):
        rig.clock.advance(0.001)
        await rig.put(bytes([i % 256]) * n)
    for skip in (0, 3, 60, 119):
        rig.storage.metadata.put("firehose.checkpoint", "acct/r/s", {"next_seq": skip})
        again = StreamBuffer(rig.log, rig.storage.metadata, "acct/r/s", rig.clock, size_bytes=size_mb * MB, interval_s=60)
        whole = rig.log.read(skip, limit=10**6, max_bytes=size_mb * MB)
        expected = sum(len(r.payload) for r in whole)
        if whole[-1].seq + 1 < rig.log.next_seq:
            expected = max(expected, size_mb * MB)
        assert (again.oldest_arrival_ms, again.pending_bytes) == (whole[0].timestamp_ms, expected)

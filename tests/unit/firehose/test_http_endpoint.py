"""http_endpoint.py: the configuration rules, the wire (body, headers, answers, request splitting) and the
HttpEndpointDeliverer on memory storage and a manual clock against a small endpoint on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from nimbus.clock import ManualClock
from nimbus.services.firehose import http_endpoint as he
from nimbus.services.firehose.buffer import StreamBuffer
from nimbus.services.firehose.errors import InvalidArgumentException
from nimbus.services.firehose.transform import SourceRecord, Transformed
from nimbus.storage import open_memory_storage
from tests.unit.firehose.test_delivery import DictSink

ARN = "arn:aws:firehose:us-east-1:000000000000:deliverystream/s"


def conf(**extra: Any) -> dict[str, Any]:
    return {
        "EndpointConfiguration": {"Url": "https://collector.example.com/in", "AccessKey": "k"},
        "S3Configuration": {"RoleARN": "r", "BucketARN": "arn:aws:s3:::bkt"},
        **extra,
    }


# ------------------------------------------------------------------------------------ configuration


def test_defaults_are_awss() -> None:
    out = he.normalize(conf(), min_interval_s=0)
    assert out["BufferingHints"] == {"SizeInMBs": 5, "IntervalInSeconds": 300}
    assert out["RetryOptions"] == {"DurationInSeconds": 300}
    assert out["RequestConfiguration"] == {"ContentEncoding": "NONE", "CommonAttributes": []}
    assert out["S3BackupMode"] == "FailedDataOnly"
    assert out["ProcessingConfiguration"] == {"Enabled": False, "Processors": []}


@pytest.mark.parametrize("extra", [
    {"EndpointConfiguration": {"Url": "ftp://x/"}},
    {"EndpointConfiguration": {"Url": "http:///nohost"}},
    {"EndpointConfiguration": {"Url": "https://x:99999/"}},
    {"EndpointConfiguration": {"Url": "https://x/", "AccessKey": "k" * 4097}},
    {"EndpointConfiguration": {"Url": "https://x/", "AccessKey": "k\r\nX-Injected: 1"}},
    {"BufferingHints": {"SizeInMBs": 65}},
    {"BufferingHints": {"IntervalInSeconds": 901}},
    {"RetryOptions": {"DurationInSeconds": 7201}},
    {"RequestConfiguration": {"ContentEncoding": "ZIP"}},
    {"RequestConfiguration": {"CommonAttributes": [{"AttributeName": "a", "AttributeValue": "1"}] * 2}},
    {"S3BackupMode": "Disabled"},
    {"S3Configuration": None},
    {"SecretsManagerConfiguration": {"Enabled": True}},
    {"ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "MetadataExtraction"}]}},
])
def test_bad_configurations_are_refused(extra: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentException):
        he.normalize(conf(**extra), min_interval_s=0)


def test_http_urls_are_accepted_for_local_endpoints() -> None:
    he.normalize(conf(EndpointConfiguration={"Url": "http://127.0.0.1:8080/x"}), min_interval_s=0)


def test_update_merges_and_keeps_the_access_key() -> None:
    old = he.normalize(conf(BufferingHints={"SizeInMBs": 2, "IntervalInSeconds": 10}), min_interval_s=0)
    new = he.merge_update(old, {
        "EndpointConfiguration": {"Url": "https://other/"}, "BufferingHints": {"IntervalInSeconds": 0},
        "S3Update": {"Prefix": "p/"}, "S3BackupMode": "AllData",
    })
    assert new["EndpointConfiguration"] == {"Url": "https://other/", "AccessKey": "k"}
    assert new["BufferingHints"] == {"SizeInMBs": 2, "IntervalInSeconds": 0}
    assert new["S3Configuration"]["Prefix"] == "p/" and new["S3Configuration"]["BucketARN"] == "arn:aws:s3:::bkt"
    with pytest.raises(InvalidArgumentException):
        he.merge_update(new, {"S3BackupMode": "FailedDataOnly"})


def test_description_never_holds_the_access_key() -> None:
    d = he.describe(he.normalize(conf(), min_interval_s=0), {"BucketARN": "arn:aws:s3:::bkt"})
    assert d["EndpointConfiguration"] == {"Url": "https://collector.example.com/in"}
    assert "k" not in json.dumps(d["EndpointConfiguration"])


# ------------------------------------------------------------------------------------------ wire


def test_headers() -> None:
    t = he.HttpTarget("http://h/", "key", True, {"a": "1"})
    h = he.request_headers(t, "rid", ARN)
    assert h["X-Amz-Firehose-Request-Id"] == "rid" and h["X-Amz-Firehose-Access-Key"] == "key"
    assert h["X-Amz-Firehose-Source-Arn"] == ARN and h["X-Amz-Firehose-Protocol-Version"] == "1.0"
    assert json.loads(h["X-Amz-Firehose-Common-Attributes"]) == {"commonAttributes": {"a": "1"}}
    assert h["Content-Encoding"] == "gzip" and h["Content-Type"] == "application/json"
    plain = he.request_headers(he.HttpTarget("http://h/", None, False), "rid", ARN)
    assert "X-Amz-Firehose-Access-Key" not in plain and "Content-Encoding" not in plain
    assert "X-Amz-Firehose-Common-Attributes" not in plain


def test_body() -> None:
    body = json.loads(he.request_body("rid", 123, [b"a", b"\xff"]))
    assert body == {"requestId": "rid", "timestamp": 123, "records": [{"data": "YQ=="}, {"data": "/w=="}]}


@pytest.mark.parametrize("status, answer, code", [
    (500, b"{}", "HttpEndpoint.DestinationException"),
    (201, b'{"requestId": "rid", "timestamp": 1}', "HttpEndpoint.DestinationException"),
    (200, b"not json", "HttpEndpoint.InvalidResponseFromDestination"),
    (200, b'{"requestId": "other", "timestamp": 1}', "HttpEndpoint.InvalidResponseFromDestination"),
    (200, b'{"requestId": "rid"}', "HttpEndpoint.InvalidResponseFromDestination"),
])
def test_answers_that_fail(status: int, answer: bytes, code: str) -> None:
    with pytest.raises(he.EndpointFailure) as e:
        he.check_response("rid", status, answer)
    assert e.value.code == code


def test_the_acknowledgement() -> None:
    he.check_response("rid", 200, b'{"requestId": "rid", "timestamp": 1700000000000}')


def test_requests_stay_within_the_size() -> None:
    items = [Transformed(SourceRecord(i, 0, b"x" * 300), b"x" * 300) for i in range(10)]
    chunks = he.split_requests(items, 1000)
    assert [len(c) for c in chunks] == [2, 2, 2, 2, 2]
    assert all(len(he.request_body("0" * 36, 1700000000000, [t.data for t in c])) <= 1000 for c in chunks)
    big = [Transformed(SourceRecord(0, 0, b"y" * 5000), b"y" * 5000)]
    assert he.split_requests(big, 1000) == [big]


# ------------------------------------------------------------------------------------- deliverer


class Collector:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.fail = 0  # answer 500 to this many requests first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append(body)
                if outer.fail:
                    outer.fail -= 1
                    status, out = 500, b"no"
                else:
                    status, out = 200, json.dumps({"requestId": body["requestId"], "timestamp": 1}).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.httpd.shutdown()
    c.httpd.server_close()


def rig(url: str, **dest: Any) -> tuple[he.HttpEndpointDeliverer, StreamBuffer, DictSink, ManualClock]:
    clock = ManualClock(start=1_700_000_000.0)
    storage = open_memory_storage()
    buffer = StreamBuffer(storage.logs.open("firehose/t"), storage.metadata, "a/r/s", clock, size_bytes=1 << 20, interval_s=0)
    doc = {
        "name": "s", "arn": ARN, "account": "000000000000", "region": "us-east-1", "version": 1, "type": "DirectPut",
        "destination": he.normalize(conf(EndpointConfiguration={"Url": url, "AccessKey": "k"}, **dest), min_interval_s=0),
    }
    cfg = he.delivery_config(doc, bucket="bkt", timeout_s=5)
    sink = DictSink("bkt")
    return he.HttpEndpointDeliverer(buffer, lambda: cfg, sink, clock), buffer, sink, clock


async def drive(task: asyncio.Future[Any], clock: ManualClock) -> Any:
    """Let a flush run, advancing the manual clock through its retry sleeps."""
    for _ in range(500):
        if task.done():
            return task.result()
        await asyncio.sleep(0.01)
        clock.advance(0.25)
    raise AssertionError("the flush never finished")


async def test_retried_until_acknowledged_then_checkpointed(collector: Collector) -> None:
    d, buffer, sink, clock = rig(collector.url)
    await buffer.append([b"a", b"b"], arrival_ms=1)
    collector.fail = 2
    assert await drive(asyncio.ensure_future(d.flush_once()), clock) == 2
    assert len(collector.bodies) == 3 and len({b["requestId"] for b in collector.bodies}) == 1
    assert buffer.checkpoint == 2 and sink.buckets["bkt"] == {}
    assert d.counters.delivered_records == 2 and d.counters.delivery_failures == 2


async def test_past_the_retry_duration_the_batch_goes_to_the_backup(collector: Collector) -> None:
    d, buffer, sink, clock = rig(collector.url, RetryOptions={"DurationInSeconds": 3}, S3BackupMode="AllData")
    await buffer.append([b"a", b"b"], arrival_ms=1)
    collector.fail = 1000
    await drive(asyncio.ensure_future(d.flush_once()), clock)
    assert buffer.checkpoint == 2
    objs = sink.buckets["bkt"]
    errors = {k: v for k, (v, _) in objs.items() if k.startswith("http-endpoint-failed/")}
    backup = {k: v for k, (v, _) in objs.items() if not k.startswith("http-endpoint-failed/")}
    (body,) = errors.values()
    recs = [json.loads(line) for line in body.splitlines()]
    assert [base64.b64decode(r["rawData"]) for r in recs] == [b"a", b"b"]
    assert recs[0]["errorCode"] == "HttpEndpoint.DestinationException" and recs[0]["attemptsMade"] >= 3
    assert list(backup.values()) == [b"ab"]  # AllData: the source records too


async def test_retry_duration_zero_means_one_attempt(collector: Collector) -> None:
    d, buffer, sink, clock = rig(collector.url, RetryOptions={"DurationInSeconds": 0})
    await buffer.append([b"a"], arrival_ms=1)
    collector.fail = 1000
    await drive(asyncio.ensure_future(d.flush_once()), clock)
    assert len(collector.bodies) == 1 and buffer.checkpoint == 1
    assert len(sink.buckets["bkt"]) == 1

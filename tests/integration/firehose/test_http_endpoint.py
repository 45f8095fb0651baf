"""HttpEndpoint destinations against a real server: the control plane (create, describe without the access
key, update, validation) and delivery to small HTTP endpoints started here on 127.0.0.1 (body, headers,
gzip, retries, the S3 backup under http-endpoint-failed/, AllData, a Lambda transform, kill -9)."""

from __future__ import annotations

import base64
import gzip
import io
import json
import threading
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess, free_port
from tests.integration.firehose.conftest import module_server
from tests.integration.firehose.test_firehose import (
    ROLE,
    TRANSFORM,
    code_of,
    create,
    flush,
    new_bucket,
    objects,
    wait_active,
)

ENV = {"NIMBUS_FIREHOSE_CREATE_DELAY_S": "0.2", "NIMBUS_FIREHOSE_HTTP_TIMEOUT_S": "1.5"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    yield from module_server(tmp_path_factory, "firehose-http", ENV)


class Endpoint:
    """A recording HTTP endpoint on 127.0.0.1. ``answer`` decides each response from the request number
    (1-based) and the parsed request: returns (status, body) or None for the proper acknowledgement."""

    def __init__(self, port: int | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answer: Callable[[int, dict[str, Any]], tuple[int, bytes] | None] = lambda n, req: None
        self.delay_s = 0.0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
                req = {"path": self.path, "headers": dict(self.headers.items()), "raw": raw, "json": json.loads(body)}
                with outer.lock:
                    outer.requests.append(req)
                    n = len(outer.requests)
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                out = outer.answer(n, req)
                req["acked"] = out is None
                if out is None:
                    out = (200, json.dumps({"requestId": req["json"]["requestId"], "timestamp": int(time.time() * 1000)}).encode())
                status, payload = out
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/ingest?token=t1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def records(self) -> list[bytes]:
        """Every record received in a request that was acknowledged."""
        with self.lock:
            reqs = list(self.requests)
        return [base64.b64decode(r["data"]) for q in reqs for r in q["json"]["records"] if q.get("acked", True)]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def transform_arn(server: NimbusProcess) -> str:
    """test_firehose's transform (upper-cases; Dropped for DROP…, ProcessingFailed for FAIL…)."""
    lam = server.client("lambda")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("fn.py", TRANSFORM)
    fn = lam.create_function(
        FunctionName=f"upper-{uuid.uuid4().hex[:6]}", Runtime="python3.11", Role=ROLE, Handler="fn.handler",
        Code={"ZipFile": buf.getvalue()}, Timeout=60,
    )
    for _ in range(200):
        if lam.get_function(FunctionName=fn["FunctionName"])["Configuration"].get("State", "Active") == "Active":
            break
        time.sleep(0.05)
    return str(fn["FunctionArn"])


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    ep = Endpoint()
    yield ep
    ep.close()


def http_stream(fh: Any, url: str, bucket: str, name: str | None = None, **extra: Any) -> str:
    name = name or f"h-{uuid.uuid4().hex[:10]}"
    conf: dict[str, Any] = {
        "EndpointConfiguration": {"Url": url, "Name": "collector", "AccessKey": "secret-key-1"},
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
        "RetryOptions": {"DurationInSeconds": 60},
        "RoleARN": ROLE,
        "S3Configuration": {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}"},
    }
    conf.update(extra)
    fh.create_delivery_stream(DeliveryStreamName=name, HttpEndpointDestinationConfiguration=conf)
    wait_active(fh, name)
    return name


def put(fh: Any, name: str, records: list[bytes]) -> None:
    resp = fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in records])
    assert resp["FailedPutCount"] == 0


def error_records(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    return [json.loads(line) for body in objects(s3, bucket, prefix).values() for line in body.splitlines()]


# ------------------------------------------------------------------------------------ control plane


def test_create_describe_update_and_validation(fh: Any, s3: Any) -> None:
    bucket = new_bucket(s3)
    name = http_stream(
        fh, "http://127.0.0.1:9/x", bucket, BufferingHints={"SizeInMBs": 2, "IntervalInSeconds": 60},
        RetryOptions={"DurationInSeconds": 30},
    )
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    (dest,) = d["Destinations"]
    assert set(dest) == {"DestinationId", "HttpEndpointDestinationDescription"}
    h = dest["HttpEndpointDestinationDescription"]
    assert h["EndpointConfiguration"] == {"Url": "http://127.0.0.1:9/x", "Name": "collector"}  # no AccessKey, ever
    assert "secret-key-1" not in json.dumps(d, default=str)
    assert h["BufferingHints"] == {"SizeInMBs": 2, "IntervalInSeconds": 60}
    assert h["RequestConfiguration"] == {"ContentEncoding": "NONE", "CommonAttributes": []}
    assert h["RetryOptions"] == {"DurationInSeconds": 30}
    assert h["S3BackupMode"] == "FailedDataOnly"
    assert h["ProcessingConfiguration"] == {"Enabled": False, "Processors": []}
    assert h["CloudWatchLoggingOptions"] == {"Enabled": False}
    assert h["S3DestinationDescription"]["BucketARN"] == f"arn:aws:s3:::{bucket}"
    assert h["S3DestinationDescription"]["BufferingHints"] == {"SizeInMBs": 5, "IntervalInSeconds": 300}

    fh.update_destination(
        DeliveryStreamName=name, CurrentDeliveryStreamVersionId=d["VersionId"], DestinationId=dest["DestinationId"],
        HttpEndpointDestinationUpdate={
            "RequestConfiguration": {"ContentEncoding": "GZIP"}, "S3BackupMode": "AllData",
            "S3Update": {"Prefix": "bk/"},
        },
    )
    d2 = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    h2 = d2["Destinations"][0]["HttpEndpointDestinationDescription"]
    assert d2["VersionId"] == "2"
    assert h2["RequestConfiguration"]["ContentEncoding"] == "GZIP" and h2["S3BackupMode"] == "AllData"
    assert h2["S3DestinationDescription"]["Prefix"] == "bk/"
    assert h2["BufferingHints"] == {"SizeInMBs": 2, "IntervalInSeconds": 60}  # kept
    # AllData cannot go back; an S3 update switching the stream to S3 must name what an S3 destination needs
    with pytest.raises(ClientError) as e:
        fh.update_destination(
            DeliveryStreamName=name, CurrentDeliveryStreamVersionId="2", DestinationId=dest["DestinationId"],
            HttpEndpointDestinationUpdate={"S3BackupMode": "FailedDataOnly"},
        )
    assert code_of(e) == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        fh.update_destination(
            DeliveryStreamName=name, CurrentDeliveryStreamVersionId="2", DestinationId=dest["DestinationId"],
            ExtendedS3DestinationUpdate={"Prefix": "x/"},
        )
    assert code_of(e) == "InvalidArgumentException"

    def refused(**extra: Any) -> str:
        with pytest.raises(ClientError) as e:
            http_stream(fh, extra.pop("url", "https://example.com/"), bucket, **extra)
        return code_of(e)

    assert refused(url="ftp://example.com/") == "ValidationException"  # the model's pattern (http:// added)
    assert refused(BufferingHints={"SizeInMBs": 65, "IntervalInSeconds": 60}) == "ValidationException"
    assert refused(RetryOptions={"DurationInSeconds": 7201}) == "ValidationException"
    assert refused(S3Configuration={"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::B_"}) == "InvalidArgumentException"
    assert refused(ProcessingConfiguration={"Enabled": True, "Processors": [{"Type": "AppendDelimiterToRecord"}]}) == "InvalidArgumentException"


# ------------------------------------------------------------------------------------------ delivery


def test_records_reach_the_endpoint_with_aws_body_and_headers(fh: Any, s3: Any, server: NimbusProcess, endpoint: Endpoint) -> None:
    bucket = new_bucket(s3)
    name = http_stream(
        fh, endpoint.url, bucket,
        RequestConfiguration={"ContentEncoding": "GZIP", "CommonAttributes": [
            {"AttributeName": "env", "AttributeValue": "test"}, {"AttributeName": "team", "AttributeValue": "data"},
        ]},
    )
    records = [b"alpha", b"\x00\x01binary\xff", json.dumps({"n": 3}).encode()]
    put(fh, name, records)
    flush(server, name)
    assert endpoint.records() == records
    (req,) = endpoint.requests
    h = {k.lower(): v for k, v in req["headers"].items()}
    body = req["json"]
    assert req["path"] == "/ingest?token=t1"  # the URL's path and query as configured
    assert set(body) == {"requestId", "timestamp", "records"} and isinstance(body["timestamp"], int)
    assert h["x-amz-firehose-request-id"] == body["requestId"]
    assert h["x-amz-firehose-access-key"] == "secret-key-1"
    assert h["x-amz-firehose-source-arn"] == f"arn:aws:firehose:us-east-1:000000000000:deliverystream/{name}"
    assert h["x-amz-firehose-protocol-version"] == "1.0"
    assert h["content-type"] == "application/json" and h["content-encoding"] == "gzip"
    assert json.loads(h["x-amz-firehose-common-attributes"]) == {"commonAttributes": {"env": "test", "team": "data"}}
    assert objects(s3, bucket) == {}  # FailedDataOnly: nothing backed up
    # the counters on /_nimbus/metrics
    with urllib.request.urlopen(f"{server.endpoint}/_nimbus/metrics", timeout=30) as r:
        text = r.read().decode()
    lines = [line for line in text.splitlines() if f'stream="{name}"' in line]
    assert any(line.startswith("nimbus_firehose_http_endpoint_delivered_records_total") and line.endswith(" 3") for line in lines), lines
    assert any("nimbus_firehose_http_endpoint_requests_total" in line and 'outcome="success"' in line for line in lines), lines


def test_requests_stay_within_the_buffer_size(fh: Any, s3: Any, server: NimbusProcess, endpoint: Endpoint) -> None:
    bucket = new_bucket(s3)
    name = http_stream(fh, endpoint.url, bucket, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60})
    records = [bytes([65 + i % 26]) * 200_000 for i in range(8)]  # 1.6 MB, 2.1 MB of base64
    put(fh, name, records[:4])
    put(fh, name, records[4:])
    flush(server, name)
    assert endpoint.records() == records
    assert len(endpoint.requests) >= 3
    assert all(len(q["raw"]) <= 1024 * 1024 for q in endpoint.requests)


def test_failing_endpoint_is_retried_until_it_answers(fh: Any, s3: Any, server: NimbusProcess, endpoint: Endpoint) -> None:
    bucket = new_bucket(s3)
    bad = {1: (500, b'{"error": "down"}'), 2: (200, b'{"requestId": "someone-else", "timestamp": 1}'), 3: (202, b"")}
    endpoint.answer = lambda n, req: bad.get(n)
    name = http_stream(fh, endpoint.url, bucket)
    put(fh, name, [b"r1", b"r2"])
    flush(server, name)
    assert len(endpoint.requests) == 4
    assert len({q["json"]["requestId"] for q in endpoint.requests}) == 1  # the same request, retried
    assert endpoint.requests[-1]["json"]["records"] == [{"data": base64.b64encode(b"r1").decode()}, {"data": base64.b64encode(b"r2").decode()}]
    assert objects(s3, bucket) == {}


@pytest.mark.parametrize("mode, code", [
    ("status", "HttpEndpoint.DestinationException"),
    ("timeout", "HttpEndpoint.RequestTimeout"),
    ("refused", "HttpEndpoint.ConnectionFailed"),
])
def test_past_the_retry_duration_records_go_to_the_s3_backup(fh: Any, s3: Any, server: NimbusProcess, endpoint: Endpoint, mode: str, code: str) -> None:
    bucket = new_bucket(s3)
    url = endpoint.url
    if mode == "status":
        endpoint.answer = lambda n, req: (503, b"busy")
    elif mode == "timeout":
        endpoint.delay_s = 2.5  # the server waits NIMBUS_FIREHOSE_HTTP_TIMEOUT_S=1.5
    else:
        url = f"http://127.0.0.1:{free_port()}/"
    name = http_stream(fh, url, bucket, RetryOptions={"DurationInSeconds": 1})
    put(fh, name, [b"lost-1", b"lost-2"])
    flush(server, name)
    errs = error_records(s3, bucket, "http-endpoint-failed/")
    assert [base64.b64decode(e["rawData"]) for e in errs] == [b"lost-1", b"lost-2"]
    e0 = errs[0]
    assert e0["errorCode"] == code and e0["errorMessage"]
    assert e0["attemptsMade"] >= 2 and e0["attemptEndingTimestamp"] >= e0["arrivalTimestamp"]
    assert all(k.startswith("http-endpoint-failed/") for k in objects(s3, bucket))
    if mode == "status":
        assert "503" in e0["errorMessage"]
    # checkpointed: the stream goes on with the next records
    endpoint.answer = lambda n, req: None
    endpoint.delay_s = 0
    if mode != "refused":
        before = len(endpoint.records())
        put(fh, name, [b"next"])
        flush(server, name)
        assert endpoint.records()[before:] == [b"next"]


def test_all_data_backs_up_every_record(fh: Any, s3: Any, server: NimbusProcess, endpoint: Endpoint) -> None:
    bucket = new_bucket(s3)
    name = http_stream(
        fh, endpoint.url, bucket, S3BackupMode="AllData",
        S3Configuration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": "all/", "CompressionFormat": "GZIP"},
    )
    put(fh, name, [b"a\n", b"b\n", b"c\n"])
    flush(server, name)
    assert endpoint.records() == [b"a\n", b"b\n", b"c\n"]
    got = objects(s3, bucket, "all/")
    assert len(got) == 1
    (key, body), = got.items()
    assert key.endswith(".gz") and gzip.decompress(body) == b"a\nb\nc\n"


def test_transform_function(fh: Any, s3: Any, server: NimbusProcess, endpoint: Endpoint, transform_arn: str) -> None:
    bucket = new_bucket(s3)
    name = http_stream(
        fh, endpoint.url, bucket,
        ProcessingConfiguration={"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
            {"ParameterName": "LambdaArn", "ParameterValue": transform_arn},
            {"ParameterName": "NumberOfRetries", "ParameterValue": "0"},
            {"ParameterName": "BufferIntervalInSeconds", "ParameterValue": "0"},
        ]}]},
    )
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    params = d["Destinations"][0]["HttpEndpointDestinationDescription"]["ProcessingConfiguration"]["Processors"][0]["Parameters"]
    assert {"ParameterName": "BufferSizeInMBs", "ParameterValue": "1"} in params  # AWS's defaults filled in
    put(fh, name, [b"hello", b"DROP me", b"FAIL me", b"world"])
    flush(server, name)
    assert endpoint.records() == [b"HELLO", b"WORLD"]
    errs = error_records(s3, bucket, "processing-failed/")
    assert [base64.b64decode(e["rawData"]) for e in errs] == [b"FAIL me"]
    assert errs[0]["lambdaARN"] == transform_arn


def test_kill9_redelivers_unacknowledged_batches(tmp_path: Path) -> None:
    ep = Endpoint()
    try:
        ep.answer = lambda n, req: (500, b"not yet")
        server = NimbusProcess(tmp_path / "data", env=ENV).start()
        try:
            fh, s3 = server.client("firehose"), server.client("s3")
            s3.create_bucket(Bucket="http-k9")
            name = http_stream(fh, ep.url, "http-k9", name="k9", RetryOptions={"DurationInSeconds": 3600})
            records = [f"rec-{i}".encode() for i in range(50)]
            put(fh, name, records)
            deadline = time.monotonic() + 20
            while not ep.requests and time.monotonic() < deadline:
                time.sleep(0.05)
            assert ep.requests  # a delivery is underway (and failing) when the server dies
            server.kill9()
            ep.answer = lambda n, req: None
            seen = len(ep.requests)
            server.start()
            flush(server, name)
            delivered = [base64.b64decode(r["data"]) for q in ep.requests[seen:] for r in q["json"]["records"]]
            assert delivered == records  # at least once: the whole batch again, in order
            assert objects(server.client("s3"), "http-k9") == {}
        finally:
            server.stop()
    finally:
        ep.close()


def test_update_fixing_the_url_applies_to_the_batch_being_retried(fh: Any, s3: Any, server: NimbusProcess, endpoint: Endpoint) -> None:
    bucket = new_bucket(s3)
    name = http_stream(fh, f"http://127.0.0.1:{free_port()}/", bucket, RetryOptions={"DurationInSeconds": 600})
    put(fh, name, [b"late"])
    deadline = time.monotonic() + 20
    while not fh_stats(server, name).get("delivery_failures") and time.monotonic() < deadline:
        time.sleep(0.05)
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    fh.update_destination(
        DeliveryStreamName=name, CurrentDeliveryStreamVersionId=d["VersionId"], DestinationId=d["Destinations"][0]["DestinationId"],
        HttpEndpointDestinationUpdate={"EndpointConfiguration": {"Url": endpoint.url, "Name": "fixed"}},
    )
    flush(server, name)
    assert endpoint.records() == [b"late"]
    h = {k.lower(): v for k, v in endpoint.requests[0]["headers"].items()}
    assert h["x-amz-firehose-access-key"] == "secret-key-1"  # kept by the update that did not give it
    assert objects(s3, bucket) == {}


def fh_stats(server: NimbusProcess, name: str) -> dict[str, Any]:
    stats = server.get_json("/_nimbus/firehose/streams")
    return dict(stats.get(f"000000000000/us-east-1/{name}", {}))


def test_update_destination_switches_between_s3_and_an_http_endpoint(fh: Any, s3: Any, server: NimbusProcess, endpoint: Endpoint) -> None:
    bucket, backup = new_bucket(s3), new_bucket(s3)
    name = create(fh, bucket, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60})
    put(fh, name, [b"to-s3-1"])
    flush(server, name)
    assert list(objects(s3, bucket).values()) == [b"to-s3-1"]
    put(fh, name, [b"buffered-before-the-switch"])  # not yet delivered: goes to the new destination
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    fh.update_destination(
        DeliveryStreamName=name, CurrentDeliveryStreamVersionId=d["VersionId"], DestinationId="destinationId-000000000001",
        HttpEndpointDestinationUpdate={
            "EndpointConfiguration": {"Url": endpoint.url, "Name": "collector", "AccessKey": "k2"},
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}, "RoleARN": ROLE,
            "S3Update": {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{backup}"},
        },
    )
    d2 = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert d2["VersionId"] == str(int(d["VersionId"]) + 1)
    (dest,) = d2["Destinations"]
    assert dest["HttpEndpointDestinationDescription"]["EndpointConfiguration"] == {"Url": endpoint.url, "Name": "collector"}
    put(fh, name, [b"to-http"])
    flush(server, name)
    assert sorted(endpoint.records()) == [b"buffered-before-the-switch", b"to-http"]
    assert list(objects(s3, bucket).values()) == [b"to-s3-1"] and objects(s3, backup) == {}
    # and back to S3, into another prefix
    with pytest.raises(ClientError) as e:  # a switch needs a whole S3 destination
        fh.update_destination(DeliveryStreamName=name, CurrentDeliveryStreamVersionId=d2["VersionId"],
                              DestinationId=dest["DestinationId"], ExtendedS3DestinationUpdate={"Prefix": "again/"})
    assert code_of(e) == "InvalidArgumentException"
    fh.update_destination(
        DeliveryStreamName=name, CurrentDeliveryStreamVersionId=d2["VersionId"], DestinationId=dest["DestinationId"],
        ExtendedS3DestinationUpdate={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": "again/",
                                     "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}},
    )
    d3 = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert d3["Destinations"][0]["ExtendedS3DestinationDescription"]["Prefix"] == "again/"
    put(fh, name, [b"to-s3-2"])
    flush(server, name)
    assert list(objects(s3, bucket, "again/").values()) == [b"to-s3-2"]
    assert len(endpoint.requests) == 1
    server.kill9()  # the switch is durable
    server.start()
    d4 = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert "ExtendedS3DestinationDescription" in d4["Destinations"][0] and d4["VersionId"] == d3["VersionId"]

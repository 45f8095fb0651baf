"""The foundation end to end: health, metrics, routing to the right service over all three codecs,
every auth rejection path, malformed bodies, unimplemented operations, settings validation, shutdown."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from unittest import mock

import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess


def raw(server: NimbusProcess, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
        *, sign: str | None = None, region: str = "us-east-1", secret: str = SECRET_KEY, access_key: str = ACCESS_KEY,
        when: datetime | None = None) -> tuple[int, dict[str, str], bytes]:
    url = server.endpoint + path
    headers = dict(headers or {})
    if sign:
        req = AWSRequest(method=method, url=url, data=body, headers=headers)
        if when is not None:
            with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
                SigV4Auth(Credentials(access_key, secret), sign, region).add_auth(req)
        else:
            SigV4Auth(Credentials(access_key, secret), sign, region).add_auth(req)
        headers = dict(req.headers.items())
    r = urllib.request.Request(url, data=body if method not in ("GET", "HEAD") else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def test_health(nimbus_server: NimbusProcess) -> None:
    doc = nimbus_server.get_json("/_nimbus/health")
    assert doc["status"] == "ready"
    assert doc["version"]
    assert doc["uptime_seconds"] >= 0
    assert "services" in doc


# one unimplemented operation per codec: json 1.1, rest-json, rest-xml
UNIMPLEMENTED = [
    ("logs", "get_delivery", {"id": "d"}, "GetDelivery"),
    ("lambda", "list_capacity_providers", {}, "ListCapacityProviders"),
    ("s3", "get_object_torrent", {"Bucket": "bucket", "Key": "k"}, "GetObjectTorrent"),
]


@pytest.mark.parametrize("service,method,kwargs,op", UNIMPLEMENTED, ids=[u[0] for u in UNIMPLEMENTED])
def test_unimplemented_operation_is_a_clear_501(nimbus_server: NimbusProcess, service: str, method: str, kwargs: dict, op: str) -> None:
    client = nimbus_server.client(service)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        getattr(client, method)(**kwargs)
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert err["Error"]["Code"] == "NotImplemented"
    assert op in err["Error"]["Message"]


AUTH_CASES = [
    # service, a call, expected codes for (unknown key, wrong secret)
    ("kinesis", lambda c: c.list_streams(), "UnrecognizedClientException", "InvalidSignatureException"),
    ("lambda", lambda c: c.list_functions(), "UnrecognizedClientException", "InvalidSignatureException"),
    ("s3", lambda c: c.list_buckets(), "InvalidAccessKeyId", "SignatureDoesNotMatch"),
]


@pytest.mark.parametrize("service,call,unknown_code,bad_sig_code", AUTH_CASES, ids=[a[0] for a in AUTH_CASES])
def test_auth_rejections(nimbus_server: NimbusProcess, service: str, call, unknown_code: str, bad_sig_code: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(nimbus_server.client(service, access_key="NKIADOESNOTEXIST0000"))
    assert e.value.response["Error"]["Code"] == unknown_code
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(nimbus_server.client(service, secret_key="not-the-secret"))
    assert e.value.response["Error"]["Code"] == bad_sig_code


def test_unsigned_requests_are_rejected(nimbus_server: NimbusProcess) -> None:
    status, headers, body = raw(nimbus_server, "POST", "/", b"{}", {"X-Amz-Target": "Kinesis_20131202.ListStreams",
                                                                      "Content-Type": "application/x-amz-json-1.1"})
    assert status in (400, 403)
    assert json.loads(body)["__type"] == "MissingAuthenticationTokenException"
    assert headers.get("x-amzn-requestid")
    status, headers, body = raw(nimbus_server, "GET", "/some-bucket/some-key")
    assert status == 403
    assert b"<Code>AccessDenied</Code>" in body
    assert headers.get("x-amz-request-id")


def test_stale_date_is_rejected(nimbus_server: NimbusProcess) -> None:
    old = datetime.now(timezone.utc) - timedelta(minutes=20)
    status, _, body = raw(nimbus_server, "POST", "/", b"{}", {"X-Amz-Target": "Kinesis_20131202.ListStreams",
                                                               "Content-Type": "application/x-amz-json-1.1"}, sign="kinesis", when=old)
    assert status == 400
    doc = json.loads(body)
    assert doc["__type"] == "InvalidSignatureException"
    assert "Signature expired" in doc["message"]
    status, _, body = raw(nimbus_server, "GET", "/", sign="s3", when=old)
    assert status == 403 and b"<Code>RequestTimeTooSkewed</Code>" in body


def test_malformed_json_body(nimbus_server: NimbusProcess) -> None:
    status, _, body = raw(nimbus_server, "POST", "/", b"{not json", {"X-Amz-Target": "Kinesis_20131202.ListStreams",
                                                                      "Content-Type": "application/x-amz-json-1.1"}, sign="kinesis")
    assert status == 400
    assert json.loads(body)["__type"] == "SerializationException"


def test_large_json_bodies_check_the_signature_before_the_body(nimbus_server: NimbusProcess) -> None:
    """The signature decides before the body is parsed: a parse or validation error only reaches a signed
    caller, whatever the body's size."""
    headers = {"X-Amz-Target": "Kinesis_20131202.PutRecords", "Content-Type": "application/x-amz-json-1.1"}
    bad_json = b"{" + b" " * 200_000
    status, _, body = raw(nimbus_server, "POST", "/", bad_json, headers, sign="kinesis", secret="wrong-secret")
    assert status == 400 and json.loads(body)["__type"] == "InvalidSignatureException"
    status, _, body = raw(nimbus_server, "POST", "/", bad_json, headers, sign="kinesis")
    assert status == 400 and json.loads(body)["__type"] == "SerializationException"
    invalid = json.dumps({"StreamName": "no such stream!", "Records": [{"Data": "QUJD" * 40_000, "PartitionKey": "k"}]}).encode()
    status, _, body = raw(nimbus_server, "POST", "/", invalid, headers, sign="kinesis", secret="wrong-secret")
    assert status == 400 and json.loads(body)["__type"] == "InvalidSignatureException"
    status, _, body = raw(nimbus_server, "POST", "/", invalid, headers, sign="kinesis")
    assert status == 400 and json.loads(body)["__type"] in ("ValidationException", "InvalidArgumentException")
    kinesis = nimbus_server.client("kinesis")
    kinesis.create_stream(StreamName="large-bodies", ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName="large-bodies", WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    records = [{"Data": bytes([i % 256]) * 1000, "PartitionKey": str(i)} for i in range(500)]
    out = kinesis.put_records(StreamName="large-bodies", Records=records)
    assert out["FailedRecordCount"] == 0
    shard = out["Records"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName="large-bodies", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = kinesis.get_records(ShardIterator=it, Limit=1000)["Records"]
    assert [r["Data"] for r in got] == [r["Data"] for r in records]


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(nimbus_server: NimbusProcess) -> None:
    """A JSON-protocol request declaring a body over the 64 MiB buffering limit is answered 413 at once and
    its connection closed; the server does not sit waiting for a body the client may never send."""
    import socket

    with socket.create_connection(("127.0.0.1", nimbus_server.port), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: Logs_20140328.DescribeLogGroups\r\n"
                  b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 99999999999\r\n\r\n{}")
        got = b""
        while chunk := s.recv(65536):  # the server closes: no timeout
            got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and b"connection: close" in head.lower()
    assert json.loads(body)["__type"] == "RequestEntityTooLargeException"
    assert nimbus_server.client("logs").describe_log_groups()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_malformed_rest_json_body(nimbus_server: NimbusProcess) -> None:
    status, headers, body = raw(nimbus_server, "POST", "/2015-03-31/functions", b"{not json",
                                {"Content-Type": "application/json"}, sign="lambda")
    assert status == 400
    assert headers.get("x-amzn-errortype", "").startswith(("InvalidRequestContentException", "SerializationException"))


def test_malformed_xml_body(nimbus_server: NimbusProcess) -> None:
    status, _, body = raw(nimbus_server, "PUT", "/bucket-xml?tagging", b"<Tagging><TagSet><Tag>", {"Content-Type": "application/xml"}, sign="s3")
    assert status == 400
    assert b"<Code>MalformedXML</Code>" in body


def test_validation_uses_the_service_code(nimbus_server: NimbusProcess) -> None:
    kinesis = nimbus_server.client("kinesis")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kinesis.describe_stream(StreamName="bad name with spaces!")
    assert e.value.response["Error"]["Code"] in ("ValidationException", "InvalidArgumentException")
    assert "bad name with spaces!" in e.value.response["Error"]["Message"]


def test_metrics_exposition(nimbus_server: NimbusProcess) -> None:
    with pytest.raises(botocore.exceptions.ClientError):
        nimbus_server.client("logs").delete_data_protection_policy(logGroupIdentifier="g")
    with urllib.request.urlopen(nimbus_server.endpoint + "/_nimbus/metrics", timeout=10) as r:
        text = r.read().decode()
        assert r.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE nimbus_requests_total counter" in text
    assert 'nimbus_requests_total{service="logs",operation="GetDelivery",status="501"}' in text
    assert "nimbus_request_duration_seconds_bucket" in text


def test_auth_off_refused_on_public_host(tmp_path) -> None:
    cp = subprocess.run([sys.executable, "-m", "nimbus", "serve", "--auth", "off", "--host", "0.0.0.0", "--data-dir", str(tmp_path)],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 2
    assert "auth off" in cp.stderr


def test_cli_help_and_version() -> None:
    cp = subprocess.run([sys.executable, "-m", "nimbus", "--help"], capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0 and "serve" in cp.stdout
    cp = subprocess.run([sys.executable, "-m", "nimbus", "version"], capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0 and cp.stdout.startswith("nimbus ")


def test_generated_credentials_are_stored_private(tmp_path) -> None:
    server = NimbusProcess(tmp_path / "data", env={"NIMBUS_ACCESS_KEY_ID": "", "NIMBUS_SECRET_ACCESS_KEY": ""})
    server.start()
    try:
        path = tmp_path / "data" / "credentials.json"
        assert (path.stat().st_mode & 0o777) == 0o600
        creds = json.loads(path.read_text())
        assert creds["secret_access_key"] in server.logs()  # printed once, on first start
        client = server.client("s3", access_key=creds["access_key_id"], secret_key=creds["secret_access_key"])
        with pytest.raises(botocore.exceptions.ClientError) as e:
            client.get_object_torrent(Bucket="b", Key="k")
        assert e.value.response["Error"]["Code"] == "NotImplemented"  # authenticated, then refused as unimplemented
        server.restart()
        assert server.logs().count(creds["secret_access_key"]) == 1  # not printed again
    finally:
        server.stop()


def test_graceful_shutdown(tmp_path) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    # uvicorn re-raises the captured SIGTERM after a clean shutdown, so -15 is a clean exit too
    assert server.stop() in (0, -15)
    assert "level=info logger=nimbus.server stopped" in server.logs()


def test_region_scoping_and_restart_keeps_metadata(tmp_path) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        east = server.client("kinesis", region="us-east-2")
        east.create_stream(StreamName="scoped", ShardCount=1)
        assert "scoped" in east.list_streams()["StreamNames"]
        assert "scoped" not in server.client("kinesis", region="eu-west-1").list_streams()["StreamNames"]
        arn = east.describe_stream_summary(StreamName="scoped")["StreamDescriptionSummary"]["StreamARN"]
        assert arn == "arn:aws:kinesis:us-east-2:000000000000:stream/scoped"
        server.restart()
        east = server.client("kinesis", region="us-east-2")
        assert "scoped" in east.list_streams()["StreamNames"]
        server.kill9()
        server.start()
        assert "scoped" in server.client("kinesis", region="us-east-2").list_streams()["StreamNames"]
    finally:
        server.stop()


def test_non_ascii_header_values_verify(nimbus_server: NimbusProcess) -> None:
    """botocore sends and signs non-ASCII header values as UTF-8; the edge reads header bytes as latin-1
    and must still compute the signature the client computed. The bytes round-trip unchanged."""
    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket="non-ascii-headers")
    for value in ("attachment; filename=café.txt", "attachment; filename=日本.txt"):
        s3.put_object(Bucket="non-ascii-headers", Key="k", Body=b"x", ContentDisposition=value)
        got = s3.head_object(Bucket="non-ascii-headers", Key="k")["ContentDisposition"]
        assert got.encode("latin-1") == value.encode("utf-8")


def _expect_continue_put(server: NimbusProcess, key: str, secret: str) -> tuple[bytes, bytes]:
    import hashlib
    import socket

    port = int(server.endpoint.rsplit(":", 1)[1])
    body = b"x" * 1024
    req = AWSRequest(method="PUT", url=f"{server.endpoint}/expect-continue/{key}", data=body,
                     headers={"Expect": "100-continue", "Content-Length": "1024",
                              "x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    from botocore.auth import S3SigV4Auth

    S3SigV4Auth(Credentials(ACCESS_KEY, secret), "s3", "us-east-1").add_auth(req)
    head = f"PUT /expect-continue/{key} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in req.headers.items())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n")
        first = sock.recv(4096)
        if not first.startswith(b"HTTP/1.1 100"):
            return first, b""
        sock.sendall(body)
        rest = b""
        while b"\r\n\r\n" not in rest:
            chunk = sock.recv(4096)
            if not chunk:
                break
            rest += chunk
        return first, rest


def test_expect_continue_is_answered_only_after_authentication(nimbus_server: NimbusProcess) -> None:
    """Nimbus answers ``Expect: 100-continue`` once the request is authenticated (before the service
    reads the body); a request that fails authentication gets its error instead, never a 100."""
    nimbus_server.client("s3").create_bucket(Bucket="expect-continue")
    first, rest = _expect_continue_put(nimbus_server, "good", SECRET_KEY)
    assert first.startswith(b"HTTP/1.1 100 Continue"), first
    assert rest.split(b"\r\n", 1)[0].startswith(b"HTTP/1.1 200"), rest
    assert nimbus_server.client("s3").get_object(Bucket="expect-continue", Key="good")["Body"].read() == b"x" * 1024
    first, _ = _expect_continue_put(nimbus_server, "bad", "wrong-secret")
    assert first.startswith(b"HTTP/1.1 403"), first

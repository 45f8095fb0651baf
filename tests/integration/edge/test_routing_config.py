"""Routing errors with their exact codes and statuses, server settings (flags and NIMBUS_* variables, refusals),
the health document, the metrics' values and the per-request debug log line, against real servers."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

import nimbus
from nimbus.services.registry import SERVICES
from tests.conftest import ACCESS_KEY, ROOT, SECRET_KEY, NimbusProcess, free_port

ACCOUNT = "123456789012"
JSON11 = "application/x-amz-json-1.1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    """--account-id beats NIMBUS_ACCOUNT_ID; --log-level debug beats NIMBUS_LOG_LEVEL=info (set by NimbusProcess)."""
    base = tmp_path_factory.mktemp("routing")
    proc = NimbusProcess(base / "data", extra_args=["--account-id", ACCOUNT, "--log-level", "debug"],
                         env={"NIMBUS_ACCOUNT_ID": "111111111111"}).start()
    try:
        yield proc
    finally:
        proc.stop()


def send(port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, *,
         sign: str | None = None, host: str | None = None, region: str = "us-east-1",
         address: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    """One HTTP request to ``address:port`` with Host ``host`` (default the address), SigV4-signed for ``sign``."""
    netloc = host or f"{address}:{port}"
    headers = dict(headers or {})
    if sign:
        req = AWSRequest(method=method, url=f"http://{netloc}{path}", data=body, headers=headers)
        (S3SigV4Auth if sign == "s3" else SigV4Auth)(Credentials(ACCESS_KEY, SECRET_KEY), sign, region).add_auth(req)
        headers = dict(req.headers.items())
    headers["Host"] = netloc
    conn = http.client.HTTPConnection(address, port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def client(port: int, service: str, *, address: str = "127.0.0.1", access_key: str = ACCESS_KEY,
           secret_key: str = SECRET_KEY, region: str = "us-east-1") -> Any:
    return boto3.client(service, region_name=region, endpoint_url=f"http://{address}:{port}", aws_access_key_id=access_key,
                        aws_secret_access_key=secret_key, config=Config(retries={"max_attempts": 1, "mode": "standard"}))


# --- 1. routing errors ------------------------------------------------------------------------------------

UNSERVED = [
    # service, call: one JSON 1.0 service, SQS (JSON now, query before), and two query-protocol services
    ("dynamodb", lambda c: c.list_tables()),
    ("sqs", lambda c: c.list_queues()),
    ("sns", lambda c: c.list_topics()),
    ("cloudformation", lambda c: c.list_stacks()),
    # rest-xml services other than S3: their clients read <ErrorResponse><Error><Code> (a JSON body was code "501")
    ("route53", lambda c: c.list_hosted_zones()),
    ("cloudfront", lambda c: c.list_distributions()),
]


@pytest.mark.parametrize("service,call", UNSERVED, ids=[u[0] for u in UNSERVED])
def test_a_service_nimbus_does_not_serve_is_501_not_implemented(server: NimbusProcess, service: str, call: Any) -> None:
    """The SDK parses the error in its own protocol (a query-protocol client given a JSON body raised a parser
    error, not a ClientError)."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(client(server.port, service))
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert err["Error"]["Code"] == "NotImplemented"
    assert f"'{service}'" in err["Error"]["Message"]
    assert err["ResponseMetadata"]["RequestId"]


def test_s3_directory_buckets_are_an_xml_not_implemented(server: NimbusProcess) -> None:
    """ListDirectoryBuckets is signed for 's3express': the S3 client reads its error as XML (a JSON body
    gave code '501')."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(server.port, "s3").list_directory_buckets()
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert err["Error"]["Code"] == "NotImplemented"
    assert "'s3express'" in err["Error"]["Message"]


def test_unserved_service_errors_on_the_wire(server: NimbusProcess) -> None:
    status, headers, body = send(server.port, "POST", "/", b"{}", {"X-Amz-Target": "DynamoDB_20120810.ListTables",
                                                                   "Content-Type": "application/x-amz-json-1.0"}, sign="dynamodb")
    assert status == 501
    assert headers["x-amzn-errortype"] == "NotImplemented" and headers["x-amzn-requestid"]
    assert json.loads(body) == {"__type": "NotImplemented", "message": "The service 'dynamodb' is not implemented by Nimbus."}
    # the query protocol (form body): XML, as query clients parse
    status, headers, body = send(server.port, "POST", "/", b"Action=ListQueues&Version=2012-11-05",
                                 {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, sign="sqs")
    assert status == 501
    request_id = headers["x-amzn-requestid"]
    assert body.decode() == ("<ErrorResponse><Error><Type>Receiver</Type><Code>NotImplemented</Code>"
                             "<Message>The service 'sqs' is not implemented by Nimbus.</Message></Error>"
                             f"<RequestId>{request_id}</RequestId></ErrorResponse>")
    status, _, body = send(server.port, "GET", "/?Action=ListStacks&Version=2010-05-15", sign="cloudformation")
    assert status == 501 and b"<Code>NotImplemented</Code>" in body
    # rest-xml (Route 53): the same XML document, whatever the method
    for method, path in (("GET", "/2013-04-01/hostedzone"), ("POST", "/2013-04-01/hostedzone"),
                         ("DELETE", "/2013-04-01/hostedzone/Z1")):
        status, headers, body = send(server.port, method, path, sign="route53")
        request_id = headers["x-amzn-requestid"]
        assert (status, headers["content-type"]) == (501, "text/xml"), (method, body)
        assert body.decode() == ("<ErrorResponse><Error><Type>Receiver</Type><Code>NotImplemented</Code>"
                                 "<Message>The service 'route53' is not implemented by Nimbus.</Message></Error>"
                                 f"<RequestId>{request_id}</RequestId></ErrorResponse>")
    # a request signed for another service on a host that looks virtual-hosted is still that service
    status, headers, body = send(server.port, "POST", "/", b"{}", {"X-Amz-Target": "DynamoDB_20120810.ListTables",
                                                                   "Content-Type": "application/x-amz-json-1.0"},
                                 sign="dynamodb", host=f"dynamodb.localhost:{server.port}")
    assert (status, headers.get("x-amzn-errortype")) == (501, "NotImplemented")


@pytest.mark.parametrize("target,signing", [
    ("Kinesis_20131202.NoSuchOperation", "kinesis"),
    ("Firehose_20150804.NoSuchOperation", "firehose"),
    ("Logs_20140328.NoSuchOperation", "logs"),
    ("Kinesis_20990101.ListStreams", "kinesis"),  # a target prefix no model has, signed for a served service
])
def test_unknown_target_of_a_served_json_service(server: NimbusProcess, target: str, signing: str) -> None:
    status, headers, body = send(server.port, "POST", "/", b"{}", {"X-Amz-Target": target, "Content-Type": JSON11}, sign=signing)
    assert status == 400
    doc = json.loads(body)
    assert doc["__type"] == headers["x-amzn-errortype"] == "UnknownOperationException"
    assert target.split(".", 1)[1] in doc["message"]
    assert headers["x-amzn-requestid"]


def test_json_service_without_target(server: NimbusProcess) -> None:
    status, headers, body = send(server.port, "POST", "/", b"{}", {"Content-Type": JSON11}, sign="kinesis")
    assert (status, json.loads(body)["__type"]) == (400, "UnknownOperationException")


@pytest.mark.parametrize("headers,signing", [
    ({"X-Amz-Target": "Kinesis_20131202.ListStreams"}, "kinesis"),
    ({}, "logs"),
    ({"X-Amz-Target": "Firehose_20150804.ListDeliveryStreams"}, "firehose"),
])
def test_get_to_a_json_service_is_404(server: NimbusProcess, headers: dict[str, str], signing: str) -> None:
    status, hdrs, body = send(server.port, "GET", "/", headers=headers, sign=signing)
    assert status == 404
    assert json.loads(body)["__type"] == hdrs["x-amzn-errortype"] == "UnknownOperationException"


@pytest.mark.parametrize("method,path", [
    ("GET", "/2015-03-31/no-such-resource"),
    ("DELETE", "/2015-03-31/functions"),
    ("PATCH", "/2015-03-31/functions/fn/configuration"),
])
def test_unmatched_lambda_path_is_404(server: NimbusProcess, method: str, path: str) -> None:
    status, headers, body = send(server.port, method, path, sign="lambda")
    assert status == 404
    assert headers["x-amzn-errortype"] == "UnknownOperationException"
    assert headers["x-amzn-requestid"]
    assert f"{method} {path}" in json.loads(body)["message"]


@pytest.mark.parametrize("method,path", [("PATCH", "/bucket/key"), ("PUT", "/"), ("DELETE", "/")])
def test_unmatched_s3_request_is_405_method_not_allowed(server: NimbusProcess, method: str, path: str) -> None:
    status, headers, body = send(server.port, method, path, sign="s3")
    assert status == 405
    assert headers["content-type"].startswith("application/xml")
    assert b"<Code>MethodNotAllowed</Code>" in body
    request_id = headers["x-amz-request-id"]
    assert f"<RequestId>{request_id}</RequestId>".encode() in body


def test_s3_endpoint_host_is_path_style_and_bucket_hosts_are_virtual(server: NimbusProcess) -> None:
    """``s3.localhost`` is the S3 endpoint itself: GET / lists the buckets (it was read as a bucket named "s3")."""
    client(server.port, "s3").create_bucket(Bucket="routing-bucket")
    client(server.port, "s3").put_object(Bucket="routing-bucket", Key="k.txt", Body=b"hello")
    for host in ("s3.localhost", "s3.us-east-2.localhost", "127.0.0.1"):
        status, _, body = send(server.port, "GET", "/", sign="s3", host=f"{host}:{server.port}")
        assert status == 200 and b"<ListAllMyBucketsResult" in body and b"<Name>routing-bucket</Name>" in body, (host, body)
        status, _, body = send(server.port, "GET", "/routing-bucket/k.txt", sign="s3", host=f"{host}:{server.port}")
        assert (status, body) == (200, b"hello"), host
    for host in ("routing-bucket.s3.localhost", "routing-bucket.s3.us-east-2.localhost", "routing-bucket.localhost"):
        status, _, body = send(server.port, "GET", "/k.txt", sign="s3", host=f"{host}:{server.port}")
        assert (status, body) == (200, b"hello"), host


def test_host_names_are_case_insensitive(server: NimbusProcess) -> None:
    """DNS names ignore case: ``Routing-Case.S3.LOCALHOST`` is bucket ``routing-case`` (S3 resolves a virtual-hosted
    name with capitals to the lower-cased bucket) and ``S3.LOCALHOST`` the S3 endpoint. The Host header is signed
    as sent (a client like curl keeps its case)."""
    s3 = client(server.port, "s3")
    s3.create_bucket(Bucket="routing-case")
    s3.put_object(Bucket="routing-case", Key="k.txt", Body=b"case")

    def as_sent(method: str, path: str, host: str, body: bytes = b"") -> tuple[int, bytes]:
        netloc = f"{host}:{server.port}"
        status, _, answer = send(server.port, method, path, body, {"Host": netloc}, sign="s3", host=netloc)
        return status, answer

    for host in ("Routing-Case.S3.localhost", "ROUTING-CASE.s3.US-EAST-2.LOCALHOST", "routing-case.LocalHost"):
        assert as_sent("GET", "/k.txt", host) == (200, b"case"), host
    status, body = as_sent("PUT", "/new.txt", "Routing-Case.S3.Localhost", b"put by a capitalised host")
    assert status == 200, body
    assert s3.get_object(Bucket="routing-case", Key="new.txt")["Body"].read() == b"put by a capitalised host"
    for host in ("S3.LOCALHOST", "S3.Us-East-2.Localhost"):
        status, body = as_sent("GET", "/", host)
        assert status == 200 and b"<Name>routing-case</Name>" in body, (host, body)
    # listed by a host in capitals: the lower-case bucket, with the object put above
    status, body = as_sent("GET", "/?list-type=2", "ROUTING-CASE.s3.localhost")
    assert status == 200 and b"<Name>routing-case</Name>" in body and b"<Key>new.txt</Key>" in body, body


# --- 2. settings --------------------------------------------------------------------------------------------

def test_account_id_flag_wins_and_is_in_arns(server: NimbusProcess) -> None:
    kinesis = client(server.port, "kinesis", region="eu-west-1")
    kinesis.create_stream(StreamName="acct-stream", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="acct-stream")["StreamDescriptionSummary"]["StreamARN"]
    assert arn == f"arn:aws:kinesis:eu-west-1:{ACCOUNT}:stream/acct-stream"
    logs = client(server.port, "logs")
    logs.create_log_group(logGroupName="acct-group")
    group = logs.describe_log_groups(logGroupNamePrefix="acct-group")["logGroups"][0]
    assert group["arn"].startswith(f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:acct-group")
    assert server.get_json("/_nimbus/health")["account_id"] == ACCOUNT


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIMBUS_"))}
    env["PYTHONPATH"] = str(ROOT / "src")
    env.update(extra)
    return env


def _free_port_on(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"nimbus exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/_nimbus/health", timeout=1) as r:
                return json.loads(r.read())  # type: ignore[no-any-return]
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nimbus did not become healthy:\n{log.read_text()}")


def test_environment_variables_set_host_port_data_dir_and_account(tmp_path: Path) -> None:
    """`nimbus serve` with no flags: NIMBUS_HOST (a loopback address other than the default), NIMBUS_PORT,
    NIMBUS_DATA_DIR, NIMBUS_ACCOUNT_ID; nothing is written to ./.nimbus of the working directory."""
    address = "127.0.0.2"
    port = _free_port_on(address)
    data_dir, cwd = tmp_path / "elsewhere" / "data", tmp_path / "cwd"
    cwd.mkdir()
    log = tmp_path / "serve.log"
    env = _clean_env(NIMBUS_HOST=address, NIMBUS_PORT=str(port), NIMBUS_DATA_DIR=str(data_dir), NIMBUS_ACCOUNT_ID="210987654321",
                     NIMBUS_ACCESS_KEY_ID=ACCESS_KEY, NIMBUS_SECRET_ACCESS_KEY=SECRET_KEY)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "nimbus", "serve"], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    try:
        health = _wait_healthy(proc, f"http://{address}:{port}", log)
        assert (health["endpoint"], health["account_id"]) == (f"http://{address}:{port}", "210987654321")
        with pytest.raises(ConnectionRefusedError):  # bound to NIMBUS_HOST only
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        kinesis = client(port, "kinesis", address=address, region="us-east-2")
        kinesis.create_stream(StreamName="env-stream", ShardCount=1)
        arn = kinesis.describe_stream_summary(StreamName="env-stream")["StreamDescriptionSummary"]["StreamARN"]
        assert arn == "arn:aws:kinesis:us-east-2:210987654321:stream/env-stream"
        assert f"Nimbus is starting on http://{address}:{port} (data in {data_dir})" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(30)
    assert (data_dir / "metadata.db").is_file()
    stored = b"".join(p.read_bytes() for p in data_dir.glob("metadata.db*"))
    assert b"env-stream" in stored
    assert not (cwd / ".nimbus").exists()
    # and it is read back from there by a server started with the same variables
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "nimbus", "serve"], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    try:
        _wait_healthy(proc, f"http://{address}:{port}", log)
        assert client(port, "kinesis", address=address, region="us-east-2").list_streams()["StreamNames"] == ["env-stream"]
    finally:
        proc.terminate()
        proc.wait(30)


def test_auth_off_on_loopback_accepts_unsigned_and_any_credentials(tmp_path: Path) -> None:
    proc = NimbusProcess(tmp_path / "data", extra_args=["--auth", "off"]).start()
    try:
        status, _, body = send(proc.port, "POST", "/", b"{}", {"X-Amz-Target": "Kinesis_20131202.ListStreams", "Content-Type": JSON11})
        assert status == 200 and json.loads(body)["StreamNames"] == []
        status, _, body = send(proc.port, "GET", "/2015-03-31/functions/")
        assert status == 200 and json.loads(body)["Functions"] == []
        status, _, body = send(proc.port, "GET", "/")
        assert status == 200 and b"<ListAllMyBucketsResult" in body
        anyone = client(proc.port, "kinesis", access_key="ANYTHING", secret_key="whatever", region="ap-south-1")
        anyone.create_stream(StreamName="open", ShardCount=1)
        arn = anyone.describe_stream_summary(StreamName="open")["StreamDescriptionSummary"]["StreamARN"]
        assert arn == "arn:aws:kinesis:ap-south-1:000000000000:stream/open"  # region from the scope, the default account
        assert client(proc.port, "s3", access_key="x", secret_key="y").list_buckets()["Buckets"] == []
        assert "authentication is OFF" in proc.logs()
    finally:
        proc.stop()
    assert "logger=nimbus.access" not in proc.logs()  # info level: no per-request lines


REFUSED = [
    (["--auth", "off", "--host", "0.0.0.0"], {}, "--auth off is only allowed with a loopback --host"),
    (["--auth", "off", "--host", "192.0.2.10"], {}, "--auth off is only allowed with a loopback --host"),
    ([], {"NIMBUS_AUTH": "off", "NIMBUS_HOST": "0.0.0.0"}, "--auth off is only allowed with a loopback --host"),
    (["--port", "70000"], {}, "port 70000 is out of range"),
    (["--port", "0"], {}, "port 0 is out of range"),
    ([], {"NIMBUS_PORT": "65536"}, "port 65536 is out of range"),
    ([], {"NIMBUS_PORT": "http"}, "NIMBUS_PORT is not a number"),
    (["--account-id", "12345"], {}, "account id '12345' must be 12 digits"),
    (["--account-id", "12345678901a"], {}, "must be 12 digits"),
    ([], {"NIMBUS_ACCOUNT_ID": "1234567890123"}, "must be 12 digits"),
    ([], {"NIMBUS_ACCOUNT_ID": "１２３４５６７８９０１２"}, "must be 12 digits"),  # digits, but not ASCII ones
    ([], {"NIMBUS_LOG_LEVEL": "verbose"}, "log level 'verbose' must be one of"),
    ([], {"NIMBUS_LAMBDA_CONCURRENCY": "lots"}, "NIMBUS_LAMBDA_CONCURRENCY is not a number"),
    ([], {"NIMBUS_AUTH": "maybe"}, "not a boolean"),
]


@pytest.mark.parametrize("args,env,message", REFUSED, ids=[" ".join(a) or " ".join(f"{k}={v}" for k, v in e.items()) for a, e, _ in REFUSED])
def test_invalid_settings_are_refused_clearly(tmp_path: Path, args: list[str], env: dict[str, str], message: str) -> None:
    data_dir = tmp_path / "data"
    cmd = [sys.executable, "-m", "nimbus", "serve", *args]
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path,
                        env=_clean_env(**{"NIMBUS_DATA_DIR": str(data_dir), "NIMBUS_PORT": str(free_port()), **env}))
    assert cp.returncode == 2, cp
    assert cp.stderr.startswith("nimbus: ") and message in cp.stderr, cp.stderr
    assert "Traceback" not in cp.stderr and cp.stdout == ""
    assert not data_dir.exists()


def test_auth_off_accepts_other_loopback_spellings(tmp_path: Path) -> None:
    from nimbus.config import from_env

    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.5"):
        assert from_env({"NIMBUS_AUTH": "off", "NIMBUS_HOST": host}).auth is False
    assert from_env({"NIMBUS_LOG_LEVEL": "DEBUG"}).log_level == "debug"


# --- 3. health, metrics, the debug log line --------------------------------------------------------------------

def test_health_document(server: NimbusProcess) -> None:
    client(server.port, "kinesis").list_streams()
    first = server.get_json("/_nimbus/health")
    assert first["status"] == "ready"
    assert first["version"] == nimbus.__version__
    assert isinstance(first["uptime_seconds"], (int, float)) and first["uptime_seconds"] >= 0
    assert set(first["services"]) == set(SERVICES)
    assert set(first["services"].values()) <= {"running", "available"}
    assert first["services"]["kinesis"] == "running"
    assert first["endpoint"] == server.endpoint
    second = server.get_json("/_nimbus/health")
    assert second["uptime_seconds"] >= first["uptime_seconds"]
    with urllib.request.urlopen(server.endpoint + "/_nimbus/health", timeout=10) as r:
        assert r.headers["Content-Type"] == "application/json"


_SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metrics(server: NimbusProcess) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(server.endpoint + "/_nimbus/metrics", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = frozenset(_LABEL.findall(m.group("labels") or ""))
        out[(m.group("name"), labels)] = float(m.group("value"))
    return out


def _labels(**kw: str) -> frozenset[tuple[str, str]]:
    return frozenset(kw.items())


def _metrics_when(server: NimbusProcess, key: tuple[str, frozenset[tuple[str, str]]], at_least: float) -> dict[Any, float]:
    """The metrics once ``key`` reached ``at_least``: a request is counted just after its response is sent, so the
    last one may be counted a moment after the client has its answer."""
    deadline = time.monotonic() + 10
    while True:
        m = metrics(server)
        if m.get(key, 0.0) >= at_least or time.monotonic() > deadline:
            return m
        time.sleep(0.01)


def test_metrics_count_each_request_once_with_its_labels(server: NimbusProcess) -> None:
    kinesis = client(server.port, "kinesis", region="us-west-2")
    kinesis.list_streams()  # the operation exists in the metrics before the baseline is read
    ok = ("nimbus_requests_total", _labels(service="kinesis", operation="ListStreams", status="200"))
    bad = ("nimbus_requests_total", _labels(service="kinesis", operation="DescribeStreamSummary", status="400"))
    before = _metrics_when(server, ok, 1)
    hist = _labels(service="kinesis", operation="ListStreams")
    n, errors = 7, 3
    for _ in range(n):
        kinesis.list_streams()
    for _ in range(errors):
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
            kinesis.describe_stream_summary(StreamName="no-such-stream")
    _metrics_when(server, bad, before.get(bad, 0.0) + errors)
    after = _metrics_when(server, ok, before[ok] + n)
    assert after[ok] - before[ok] == n
    assert after[bad] - before.get(bad, 0.0) == errors
    count = ("nimbus_request_duration_seconds_count", hist)
    total = ("nimbus_request_duration_seconds_sum", hist)
    inf = ("nimbus_request_duration_seconds_bucket", hist | {("le", "+Inf")})
    assert after[count] - before[count] == n
    assert after[inf] == after[count]
    assert after[total] >= before[total] > 0
    buckets = sorted((float(dict(labels)["le"]), v) for (name, labels), v in after.items()
                     if name == "nimbus_request_duration_seconds_bucket" and {p for p in labels if p[0] != "le"} == hist)
    assert len(buckets) > 2 and buckets[-1][0] == float("inf")
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:]))  # cumulative
    # histogram series carry service and operation only; the counter adds the status
    assert all({name for name, _ in k[1]} == {"service", "operation", "status"} for k in after if k[0] == "nimbus_requests_total")
    assert all({name for name, _ in k[1]} == {"service", "operation"}
               for k in after if k[0] in ("nimbus_request_duration_seconds_sum", "nimbus_request_duration_seconds_count"))


def test_metrics_label_routing_errors(server: NimbusProcess) -> None:
    key = ("nimbus_requests_total", _labels(service="unknown", operation="-", status="501"))
    before = metrics(server).get(key, 0.0)
    for _ in range(2):
        assert send(server.port, "POST", "/", b"{}", {"X-Amz-Target": "DynamoDB_20120810.ListTables"}, sign="dynamodb")[0] == 501
    assert _metrics_when(server, key, before + 2)[key] == before + 2


def _log_line(server: NimbusProcess, pattern: str) -> str:
    deadline = time.monotonic() + 10
    while True:
        found = [line for line in server.logs().splitlines() if re.search(pattern, line)]
        if found or time.monotonic() > deadline:
            assert len(found) == 1, f"{pattern!r} in:\n{server.logs()[-3000:]}"
            return found[0]
        time.sleep(0.02)


def test_debug_log_has_one_line_per_request(server: NimbusProcess) -> None:
    kinesis = client(server.port, "kinesis")
    rid = kinesis.list_streams()["ResponseMetadata"]["RequestId"]
    line = _log_line(server, f"request_id={rid} ")
    assert re.search(rf"level=debug logger=nimbus\.access request_id={rid} service=kinesis operation=ListStreams status=200 ms=[0-9.]+$", line)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kinesis.describe_stream_summary(StreamName="missing-for-log")
    rid = e.value.response["ResponseMetadata"]["RequestId"]
    assert "service=kinesis operation=DescribeStreamSummary status=400 " in _log_line(server, f"request_id={rid} ")
    status, headers, _ = send(server.port, "GET", "/2015-03-31/no-such-resource", sign="lambda")
    rid = headers["x-amzn-requestid"]
    assert "service=lambda operation=- status=404 " in _log_line(server, f"request_id={rid} ")
    lam = client(server.port, "lambda")
    rid = lam.list_functions()["ResponseMetadata"]["RequestId"]
    assert "service=lambda operation=ListFunctions status=200 " in _log_line(server, f"request_id={rid} ")

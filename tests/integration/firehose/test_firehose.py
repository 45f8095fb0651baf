"""Firehose through the real server with boto3 and the AWS CLI: control plane, limits and errors,
delivery into Nimbus's own S3 (interval and size triggers, keys, compression, prefixes), Lambda transforms
(Ok / Dropped / ProcessingFailed / function errors → error output), and kill -9 durability.

Intervals are the AWS minimum the model allows (0/1 s); ``/_nimbus/firehose/flush`` is used where a test
only cares about what is delivered, not when.
"""

from __future__ import annotations

import base64
import io
import json
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from nimbus.services.firehose import compression
from tests.conftest import NimbusProcess
from tests.integration.firehose.conftest import module_server

ROLE = "arn:aws:iam::000000000000:role/firehose"
ACCOUNT = "000000000000"
ENV = {"NIMBUS_FIREHOSE_CREATE_DELAY_S": "1.0"}  # long enough to observe CREATING on a loaded machine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    yield from module_server(tmp_path_factory, "firehose", ENV)


def new_bucket(s3: Any) -> str:
    name = f"fh-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def wait_active(fh: Any, name: str) -> dict[str, Any]:
    for _ in range(100):
        d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        if d["DeliveryStreamStatus"] == "ACTIVE":
            return d  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"{name} never became ACTIVE")


def create(fh: Any, bucket: str, name: str | None = None, **dest: Any) -> str:
    name = name or f"s-{uuid.uuid4().hex[:10]}"
    cfg = {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", **dest}
    fh.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration=cfg)
    wait_active(fh, name)
    return name


def objects(s3: Any, bucket: str, prefix: str = "") -> dict[str, bytes]:
    out = {}
    for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        out[o["Key"]] = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
    return out


def wait_objects(s3: Any, bucket: str, n: int = 1, prefix: str = "", timeout: float = 20) -> dict[str, bytes]:
    deadline = time.monotonic() + timeout
    while True:
        got = objects(s3, bucket, prefix)
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def flush(server: NimbusProcess, name: str, region: str = "us-east-1") -> None:
    # a Firehose call first: right after a (re)start the service (and its /_nimbus/firehose endpoints) may
    # not be loaded yet, as services are started in the background after the server answers
    server.client("firehose", region).describe_delivery_stream(DeliveryStreamName=name)
    req = urllib.request.Request(f"{server.endpoint}/_nimbus/firehose/flush/{region}/{name}", method="POST")
    with urllib.request.urlopen(req, timeout=90) as r:
        assert json.loads(r.read()) == {"flushed": True}


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


# ------------------------------------------------------------------------------------ control plane


def test_create_describe_defaults_and_lifecycle(fh: Any, s3: Any) -> None:
    bucket = new_bucket(s3)
    name = f"life-{uuid.uuid4().hex[:8]}"
    arn = fh.create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}"},
        Tags=[{"Key": "team", "Value": "data"}],
    )["DeliveryStreamARN"]
    assert arn == f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{name}"
    first = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert first["DeliveryStreamStatus"] == "CREATING"
    with pytest.raises(ClientError) as e:
        fh.put_record(DeliveryStreamName=name, Record={"Data": b"early"})
    assert code_of(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        fh.delete_delivery_stream(DeliveryStreamName=name)
    assert code_of(e) == "ResourceInUseException"
    d = wait_active(fh, name)
    assert d["VersionId"] == "1" and d["DeliveryStreamType"] == "DirectPut" and d["HasMoreDestinations"] is False
    (dest,) = d["Destinations"]
    assert dest["DestinationId"] == "destinationId-000000000001"
    ext = dest["ExtendedS3DestinationDescription"]
    assert ext["BufferingHints"] == {"SizeInMBs": 5, "IntervalInSeconds": 300}
    assert ext["CompressionFormat"] == "UNCOMPRESSED" and ext["S3BackupMode"] == "Disabled"
    assert ext["EncryptionConfiguration"] == {"NoEncryptionConfig": "NoEncryption"}
    assert dest["S3DestinationDescription"]["BucketARN"] == f"arn:aws:s3:::{bucket}"
    with pytest.raises(ClientError) as e:
        fh.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}"})
    assert code_of(e) == "ResourceInUseException"

    # tags
    fh.tag_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}])
    page = fh.list_tags_for_delivery_stream(DeliveryStreamName=name, Limit=2)
    assert [t["Key"] for t in page["Tags"]] == ["a", "b"] and page["HasMoreTags"] is True
    fh.untag_delivery_stream(DeliveryStreamName=name, TagKeys=["a", "b"])
    assert fh.list_tags_for_delivery_stream(DeliveryStreamName=name)["Tags"] == [{"Key": "team", "Value": "data"}]
    with pytest.raises(ClientError) as e:
        fh.tag_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": f"k{i}", "Value": ""} for i in range(50)])
    assert code_of(e) == "LimitExceededException"

    # update: version checks and merge
    with pytest.raises(ClientError) as e:
        fh.update_destination(DeliveryStreamName=name, CurrentDeliveryStreamVersionId="7", DestinationId=dest["DestinationId"],
                              ExtendedS3DestinationUpdate={"Prefix": "x/"})
    assert code_of(e) == "ConcurrentModificationException"
    fh.update_destination(DeliveryStreamName=name, CurrentDeliveryStreamVersionId="1", DestinationId=dest["DestinationId"],
                          ExtendedS3DestinationUpdate={"Prefix": "x/", "CompressionFormat": "GZIP"})
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    ext = d["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert d["VersionId"] == "2" and "LastUpdateTimestamp" in d
    assert ext["Prefix"] == "x/" and ext["CompressionFormat"] == "GZIP" and ext["BufferingHints"]["SizeInMBs"] == 5

    # encryption is recorded
    fh.start_delivery_stream_encryption(DeliveryStreamName=name, DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"})
    for _ in range(100):  # ENABLING, then ENABLED (NIMBUS_FIREHOSE_ENCRYPTION_DELAY_S; test_api_fidelity.py)
        d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        if d["DeliveryStreamEncryptionConfiguration"]["Status"] != "ENABLING":
            break
        time.sleep(0.05)
    assert d["DeliveryStreamEncryptionConfiguration"]["Status"] == "ENABLED"
    assert fh.put_record(DeliveryStreamName=name, Record={"Data": b"x"})["Encrypted"] is True
    fh.stop_delivery_stream_encryption(DeliveryStreamName=name)

    fh.delete_delivery_stream(DeliveryStreamName=name)
    for _ in range(100):
        try:
            fh.describe_delivery_stream(DeliveryStreamName=name)
        except ClientError as err:
            assert err.response["Error"]["Code"] == "ResourceNotFoundException"
            break
        time.sleep(0.05)
    else:
        raise AssertionError("stream not deleted")


def test_list_paging(fh: Any, s3: Any) -> None:
    bucket = new_bucket(s3)
    tag = uuid.uuid4().hex[:6]
    names = sorted(f"zz-{tag}-{i}" for i in range(3))
    for n in names:
        fh.create_delivery_stream(DeliveryStreamName=n, S3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}"})
    got: list[str] = []
    start = None
    while True:
        kw = {"Limit": 2, **({"ExclusiveStartDeliveryStreamName": start} if start else {})}
        page = fh.list_delivery_streams(**kw)
        got += page["DeliveryStreamNames"]
        if not page["HasMoreDeliveryStreams"]:
            break
        start = page["DeliveryStreamNames"][-1]
    assert [n for n in got if n.startswith(f"zz-{tag}")] == names and got == sorted(got)


@pytest.mark.parametrize(
    "dest,extra,fragment",
    [
        ({"BufferingHints": {"SizeInMBs": 1}}, {}, "together"),
        ({"BufferingHints": {"SizeInMBs": 200, "IntervalInSeconds": 60}}, {}, "validation error detected"),
        ({"Prefix": "p/!{timestamp:yyyy}/"}, {}, "ErrorOutputPrefix"),
        ({"Prefix": "p/!{firehose:error-output-type}/", "ErrorOutputPrefix": "e/!{firehose:error-output-type}/"}, {}, "error-output-type"),
        ({"Prefix": "p/", "ErrorOutputPrefix": "e/!{timestamp:yyyy}/"}, {}, "error-output-type"),
        ({"Prefix": "p/!{", "ErrorOutputPrefix": "e/"}, {}, "!{"),
        ({"Prefix": "p/!{timestamp:yyyy-bb}/", "ErrorOutputPrefix": "e/!{firehose:error-output-type}"}, {}, "pattern"),
        ({"BucketARN": "bucket-without-arn"}, {}, "bucketARN"),
        ({"ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [{"ParameterName": "LambdaArn", "ParameterValue": "not-an-arn"}]}]}}, {}, "LambdaArn"),
        ({"ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
            {"ParameterName": "LambdaArn", "ParameterValue": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"},
            {"ParameterName": "BufferSizeInMBs", "ParameterValue": "9"}]}]}}, {}, "BufferSizeInMBs"),
        ({}, {"S3DestinationConfiguration": {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::b"}}, "one destination"),
    ],
)
def test_create_is_validated(fh: Any, dest: dict[str, Any], extra: dict[str, Any], fragment: str) -> None:
    cfg = {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::some-bucket", **dest}
    name = f"bad-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as e:
        fh.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration=cfg, **extra)
    message = e.value.response["Error"]["Message"]
    # a model constraint is the framework's ValidationException ("1 validation error detected: ..."), as on
    # AWS; Firehose's own rules are its InvalidArgumentException
    assert code_of(e) == ("ValidationException" if "validation error detected" in message else "InvalidArgumentException")
    assert fragment.lower() in message.lower()
    assert name not in fh.list_delivery_streams(Limit=10000)["DeliveryStreamNames"]


def test_processor_parameter_names_are_checked(fh: Any) -> None:
    with pytest.raises(ClientError) as e:
        fh.create_delivery_stream(
            DeliveryStreamName="bad-param",
            ExtendedS3DestinationConfiguration={
                "RoleARN": ROLE, "BucketARN": "arn:aws:s3:::b",
                "ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
                    {"ParameterName": "LambdaArn", "ParameterValue": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"},
                    {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{a:.a}"}]}]},
            },
        )
    assert code_of(e) in ("InvalidArgumentException",)


def test_put_limits_and_unknown_stream(fh: Any, s3: Any) -> None:
    name = create(fh, new_bucket(s3))
    with pytest.raises(ClientError) as e:
        fh.put_record(DeliveryStreamName="nope-" + uuid.uuid4().hex, Record={"Data": b"x"})
    assert code_of(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        fh.put_record(DeliveryStreamName=name, Record={"Data": b"x" * 1_024_001})
    assert code_of(e) == "ValidationException"  # the model's limits: the framework's code, as on AWS
    with pytest.raises(ClientError) as e:
        fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x"}] * 501)
    assert code_of(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x" * 1_000_000}] * 5)
    assert code_of(e) == "InvalidArgumentException"
    out = fh.put_record(DeliveryStreamName=name, Record={"Data": b"x" * 1_024_000})
    assert out["RecordId"] and out["Encrypted"] is False


# ------------------------------------------------------------------------------------------ delivery


def test_interval_trigger_keys_and_content(fh: Any, s3: Any) -> None:
    bucket = new_bucket(s3)
    name = create(fh, bucket, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 1})
    before = time.gmtime()
    resp = fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": f"r{i}\n".encode()} for i in range(100)])
    assert resp["FailedPutCount"] == 0 and len({r["RecordId"] for r in resp["RequestResponses"]}) == 100
    got = wait_objects(s3, bucket)
    (key, body), = got.items()
    assert body == b"".join(f"r{i}\n".encode() for i in range(100))
    date, obj = key.rsplit("/", 1)
    assert date == time.strftime("%Y/%m/%d/%H", before) or date == time.strftime("%Y/%m/%d/%H", time.gmtime())
    assert obj.startswith(f"{name}-1-{date.replace('/', '-')}-") and len(obj) == len(f"{name}-1-2024-05-01-13-42-07-") + 36


def test_size_trigger_without_waiting_the_interval(fh: Any, s3: Any) -> None:
    bucket = new_bucket(s3)
    name = create(fh, bucket, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 900})
    rec = b"y" * 4000
    for _ in range(2):
        fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": rec}] * 200)  # 1.6 MB in total
    got = wait_objects(s3, bucket)
    assert len(got) == 1 and len(next(iter(got.values()))) >= 1024 * 1024 - 4000
    flush(server_of(fh), name)
    assert sum(len(v) for v in objects(s3, bucket).values()) == 1_600_000


def server_of(client: Any) -> NimbusProcess:
    return client._nimbus_server  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _link(fh: Any, server: NimbusProcess) -> None:
    fh._nimbus_server = server


@pytest.mark.parametrize("fmt", ["GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"])
def test_compression_round_trips(fh: Any, s3: Any, server: NimbusProcess, fmt: str) -> None:
    bucket = new_bucket(s3)
    name = create(fh, bucket, CompressionFormat=fmt, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 0})
    data = [json.dumps({"i": i, "pad": "z" * 50}).encode() + b"\n" for i in range(300)]
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": d} for d in data])
    flush(server, name)
    got = objects(s3, bucket)
    assert all(k.endswith(compression.EXTENSIONS[fmt]) for k in got)
    assert b"".join(compression.decompress(fmt, v) for _, v in sorted(got.items())) == b"".join(data)
    head = s3.head_object(Bucket=bucket, Key=next(iter(got)))
    assert head.get("ContentEncoding") == compression.CONTENT_ENCODINGS[fmt]


def test_custom_prefixes_and_file_extension(fh: Any, s3: Any, server: NimbusProcess) -> None:
    bucket = new_bucket(s3)
    name = create(
        fh, bucket,
        Prefix="data/year=!{timestamp:yyyy}/month=!{timestamp:MM}/!{firehose:random-string}/",
        ErrorOutputPrefix="errors/!{firehose:error-output-type}/",
        FileExtension=".ndjson",
        BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60},
    )
    fh.put_record(DeliveryStreamName=name, Record={"Data": b"{}\n"})
    flush(server, name)
    (key,) = objects(s3, bucket)
    y, m = time.strftime("%Y"), time.strftime("%m")
    parts = key.split("/")
    assert parts[:3] == ["data", f"year={y}", f"month={m}"] and len(parts[3]) == 11 and key.endswith(".ndjson")


# ------------------------------------------------------------------------------ Lambda transform

TRANSFORM = '''
import base64, json, time

def handler(event, context):
    out = []
    for r in event["records"]:
        data = base64.b64decode(r["data"])
        if data.startswith(b"DROP"):
            out.append({"recordId": r["recordId"], "result": "Dropped", "data": r["data"]})
        elif data.startswith(b"FAIL"):
            out.append({"recordId": r["recordId"], "result": "ProcessingFailed", "data": r["data"]})
        elif data.startswith(b"CRASH"):
            raise RuntimeError("boom")
        elif data.startswith(b"LOSE"):
            continue
        else:
            out.append({"recordId": r["recordId"], "result": "Ok", "data": base64.b64encode(data.upper()).decode()})
    return {"records": out}
'''


@pytest.fixture(scope="module")
def transform_arn(server: NimbusProcess) -> str:
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
    # functions run for real (Lambda is part of the build): a Lambda that cannot run them fails here, plainly
    probe = lam.invoke(FunctionName=fn["FunctionName"], Payload=b'{"records": []}')
    assert probe["StatusCode"] == 200 and not probe.get("FunctionError"), probe
    return str(fn["FunctionArn"])


def transform_stream(fh: Any, bucket: str, arn: str, **extra: Any) -> str:
    return create(
        fh, bucket, Prefix="out/", BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60},
        ProcessingConfiguration={"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
            {"ParameterName": "LambdaArn", "ParameterValue": arn},
            {"ParameterName": "NumberOfRetries", "ParameterValue": "1"},
            {"ParameterName": "BufferIntervalInSeconds", "ParameterValue": "1"},
        ]}]},
        **extra,
    )


def test_transform_ok_dropped_failed_and_backup(fh: Any, s3: Any, server: NimbusProcess, transform_arn: str) -> None:
    bucket, backup = new_bucket(s3), new_bucket(s3)
    name = transform_stream(
        fh, bucket, transform_arn, S3BackupMode="Enabled",
        S3BackupConfiguration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{backup}", "Prefix": "raw/"},
    )
    records = [b"one\n", b"DROP this\n", b"FAIL this\n", b"two\n"]
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in records])
    flush(server, name)
    got = objects(s3, bucket)
    data = {k: v for k, v in got.items() if not k.startswith("out/processing-failed/")}
    errors = {k: v for k, v in got.items() if k.startswith("out/processing-failed/")}
    assert list(data.values()) == [b"ONE\nTWO\n"] and len(errors) == 1
    (rec,) = [json.loads(line) for line in next(iter(errors.values())).splitlines()]
    assert base64.b64decode(rec["rawData"]) == b"FAIL this\n"
    assert rec["errorCode"] == "Lambda.ProcessingFailedStatus" and rec["lambdaARN"] == transform_arn
    assert {"attemptsMade", "arrivalTimestamp", "attemptEndingTimestamp", "errorMessage"} <= set(rec)
    assert list(objects(s3, backup).values()) == [b"".join(records)]


@pytest.mark.parametrize("first,code,attempts", [(b"CRASH\n", "Lambda.FunctionError", 2), (b"LOSE\n", "Lambda.MissingRecordId", 1)])
def test_transform_failures_go_to_error_output(fh: Any, s3: Any, server: NimbusProcess, transform_arn: str, first: bytes, code: str, attempts: int) -> None:
    bucket = new_bucket(s3)
    name = transform_stream(fh, bucket, transform_arn)
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": first}, {"Data": b"fine\n"}])
    flush(server, name)
    got = objects(s3, bucket)
    assert all(k.startswith("out/processing-failed/") for k in got) and len(got) == 1
    lines = [json.loads(x) for x in next(iter(got.values())).splitlines()]
    assert [base64.b64decode(x["rawData"]) for x in lines] == [first, b"fine\n"]
    assert {x["errorCode"] for x in lines} == {code} and {x["attemptsMade"] for x in lines} == {attempts}


# ------------------------------------------------------------------------------------ CLI and bad input


def test_aws_cli(server: NimbusProcess, s3: Any) -> None:
    bucket = new_bucket(s3)
    name = f"cli-{uuid.uuid4().hex[:8]}"
    server.aws("firehose", "create-delivery-stream", "--delivery-stream-name", name,
               "--extended-s3-destination-configuration", json.dumps({"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}"}))
    wait_active(server.client("firehose"), name)
    out = json.loads(server.aws("firehose", "put-record", "--delivery-stream-name", name, "--record", '{"Data":"hello"}').stdout)
    assert out["RecordId"]
    desc = json.loads(server.aws("firehose", "describe-delivery-stream", "--delivery-stream-name", name).stdout)
    assert desc["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE"
    flush(server, name)
    assert list(objects(s3, bucket).values()) == [b"hello"]
    bad = server.aws("firehose", "describe-delivery-stream", "--delivery-stream-name", "missing-one", check=False)
    assert bad.returncode != 0 and "ResourceNotFoundException" in bad.stderr


def test_malformed_requests_are_answered(server: NimbusProcess, fh: Any) -> None:
    with pytest.raises(ClientError) as e:
        fh.create_delivery_stream(DeliveryStreamName="bad name!", ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::b"})
    assert code_of(e) == "ValidationException"
    assert fh.list_delivery_streams()["ResponseMetadata"]["HTTPStatusCode"] == 200


# --------------------------------------------------------------------------------------- durability


def test_kill9_loses_no_acknowledged_record(tmp_path: Path) -> None:
    p = NimbusProcess(tmp_path / "data", env=ENV).start()
    try:
        fh, s3 = p.client("firehose"), p.client("s3")
        s3.create_bucket(Bucket="durable")
        create(fh, "durable", name="dur", BufferingHints={"SizeInMBs": 128, "IntervalInSeconds": 900})
        acked: list[bytes] = []
        for b in range(20):
            batch = [f"{b:03d}-{i:03d}\n".encode() for i in range(100)]
            resp = fh.put_record_batch(DeliveryStreamName="dur", Records=[{"Data": r} for r in batch])
            assert resp["FailedPutCount"] == 0
            acked += batch
        p.kill9()
        p.start()
        fh, s3 = p.client("firehose"), p.client("s3")
        flush(p, "dur")
        got = b"".join(v for _, v in sorted(objects(s3, "durable").items()))
        assert sorted(got.splitlines(keepends=True)) == sorted(acked)
    finally:
        p.stop()


# ------------------------------------------------------------------ processor buffer, timeouts, metrics

BATCHER = '''
import base64, time

def handler(event, context):
    n = len(event["records"])
    out = []
    for r in event["records"]:
        data = base64.b64decode(r["data"])
        if data.startswith(b"SLOW"):
            time.sleep(5)
        out.append({"recordId": r["recordId"], "result": "Ok", "data": base64.b64encode(b"%d|" % n + data).decode()})
    return {"records": out}
'''


def make_function(server: NimbusProcess, code: str, timeout: int = 60) -> str:
    lam = server.client("lambda")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("fn.py", code)
    fn = lam.create_function(
        FunctionName=f"fn-{uuid.uuid4().hex[:8]}", Runtime="python3.11", Role=ROLE, Handler="fn.handler",
        Code={"ZipFile": buf.getvalue()}, Timeout=timeout,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=fn["FunctionName"])
    return str(fn["FunctionArn"])


def stream_stats(server: NimbusProcess, name: str) -> dict[str, Any]:
    return server.get_json("/_nimbus/firehose/streams")[f"{ACCOUNT}/us-east-1/{name}"]  # type: ignore[no-any-return]


def wait_stats(server: NimbusProcess, name: str, cond: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        st = stream_stats(server, name)
        if cond(st) or time.monotonic() > deadline:
            return st
        time.sleep(0.05)


def lambda_processor(arn: str, **params: str) -> dict[str, Any]:
    return {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
        {"ParameterName": "LambdaArn", "ParameterValue": arn},
        *({"ParameterName": k, "ParameterValue": v} for k, v in params.items()),
    ]}]}


def test_processor_buffer_hints_bound_and_schedule_invocations(fh: Any, s3: Any, server: NimbusProcess, transform_arn: str) -> None:
    arn = make_function(server, BATCHER)
    bucket = new_bucket(s3)
    # S3 never flushes by itself (128 MB / 900 s); the processor's size hint (0.2 MB) schedules invocations
    name = create(fh, bucket, BufferingHints={"SizeInMBs": 128, "IntervalInSeconds": 900},
                  ProcessingConfiguration=lambda_processor(arn, BufferSizeInMBs="0.2", BufferIntervalInSeconds="900"))
    records = [b"%04d" % i + b"x" * 995 + b"\n" for i in range(600)]  # 600 KB
    for i in range(0, 600, 300):
        assert fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in records[i:i + 300]])["FailedPutCount"] == 0
    st = wait_stats(server, name, lambda s: s["transform_invocations"] >= 2)
    assert st["transform_invocations"] >= 2 and st["objects"] == 0 and objects(s3, bucket) == {}
    flush(server, name)
    (body,) = objects(s3, bucket).values()
    lines = body.splitlines(keepends=True)
    assert [line.split(b"|", 1)[1] for line in lines] == records  # order kept, transformed once each
    sizes = [int(line.split(b"|", 1)[0]) for line in lines]
    assert max(sizes) * 1000 <= 0.2 * 1024 * 1024  # every invocation within BufferSizeInMBs
    assert stream_stats(server, name)["transform_ok"] == 600

    # the processor's interval (1 s) sends records to the function although S3 waits 900 s
    bucket2 = new_bucket(s3)
    name2 = create(fh, bucket2, BufferingHints={"SizeInMBs": 128, "IntervalInSeconds": 900},
                   ProcessingConfiguration=lambda_processor(arn, BufferIntervalInSeconds="1"))
    fh.put_record(DeliveryStreamName=name2, Record={"Data": b"early\n"})
    st = wait_stats(server, name2, lambda s: s["transform_invocations"] >= 1)
    assert st["transform_invocations"] == 1 and st["staged_records"] == 1 and objects(s3, bucket2) == {}
    flush(server, name2)
    assert list(objects(s3, bucket2).values()) == [b"1|early\n"]
    assert stream_stats(server, name2)["transform_invocations"] == 1  # staged results delivered, not re-run


def test_function_timeout_goes_to_error_output(fh: Any, s3: Any, server: NimbusProcess) -> None:
    arn = make_function(server, BATCHER, timeout=1)
    bucket = new_bucket(s3)
    name = create(fh, bucket, Prefix="out/", BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60},
                  ProcessingConfiguration=lambda_processor(arn, NumberOfRetries="0"))
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"SLOW\n"}, {"Data": b"ok\n"}])
    flush(server, name)
    (key, body), = objects(s3, bucket).items()
    assert key.startswith("out/processing-failed/")
    lines = [json.loads(x) for x in body.splitlines()]
    assert [base64.b64decode(x["rawData"]) for x in lines] == [b"SLOW\n", b"ok\n"]
    assert {x["errorCode"] for x in lines} == {"Lambda.FunctionTimedOut"} and {x["attemptsMade"] for x in lines} == {1}
    assert {x["lambdaARN"] for x in lines} == {arn}


def metric(server: NimbusProcess, name: str, **labels: str) -> float:
    with urllib.request.urlopen(f"{server.endpoint}/_nimbus/metrics", timeout=30) as r:
        text = r.read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    assert want  # labels given
    return total


def test_per_stream_metrics(fh: Any, s3: Any, server: NimbusProcess, transform_arn: str) -> None:
    bucket = new_bucket(s3)
    name = transform_stream(fh, bucket, transform_arn)
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"one\n"}, {"Data": b"FAIL\n"}, {"Data": b"DROP\n"}])
    flush(server, name)
    lab = {"account": ACCOUNT, "region": "us-east-1", "stream": name}
    assert metric(server, "nimbus_firehose_incoming_records_total", **lab) == 3
    assert metric(server, "nimbus_firehose_incoming_bytes_total", **lab) == 14
    assert metric(server, "nimbus_firehose_delivered_records_total", **lab) == 1
    assert metric(server, "nimbus_firehose_delivered_objects_total", **lab, kind="data") == 1
    assert metric(server, "nimbus_firehose_delivered_objects_total", **lab, kind="error") == 1
    assert metric(server, "nimbus_firehose_transform_records_total", **lab, result="ProcessingFailed") == 1
    assert metric(server, "nimbus_firehose_transform_records_total", **lab, result="Dropped") == 1
    assert metric(server, "nimbus_firehose_delivery_latency_seconds_count", **lab) == 1


def test_null_members_count_as_absent(server: NimbusProcess, s3: Any) -> None:
    """A client without parameter validation sends JSON nulls (found by the bad-input fuzz test, seed 80:
    a tag with a null Value was a 500). AWS reads a null member as an absent one: an optional member
    takes its default, a required one is a validation error."""
    from botocore.config import Config

    raw = server.client("firehose", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    name = f"nulls-{uuid.uuid4().hex[:8]}"
    raw.create_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": "t", "Value": None}],
                               ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{new_bucket(s3)}",
                                                                   "Prefix": None})
    wait_active(raw, name)
    raw.tag_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": "k", "Value": None}])
    tags = raw.list_tags_for_delivery_stream(DeliveryStreamName=name)["Tags"]
    assert {t["Key"]: t.get("Value", "") for t in tags} == {"k": "", "t": ""}
    with pytest.raises(ClientError) as e:
        raw.tag_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": None, "Value": "v"}])
    assert code_of(e) == "ValidationException"

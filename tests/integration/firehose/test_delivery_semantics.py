"""Firehose delivery semantics end to end (issue 6), through a real server and real Lambda functions:
dynamic partitioning (Lambda partition keys and MetadataExtraction), a missing destination bucket
(buffered, counted, resumed by itself; expired after the retention), DeleteDeliveryStream and what
happens to buffered data, the transformation event the function receives, UpdateDestination, the older
S3DestinationConfiguration, custom ErrorOutputPrefix, metrics after a transform, and a processor naming a
function that does not exist.

One module-scoped server and one transform function serve most tests; the retention test has a server of
its own (NIMBUS_FIREHOSE_RETENTION_S is server-wide). Buffer intervals are 0-1 s or the flush endpoint.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.firehose.conftest import module_server
from tests.integration.firehose.test_firehose import (
    ACCOUNT,
    ROLE,
    code_of,
    create,
    flush,
    lambda_processor,
    metric,
    new_bucket,
    objects,
    stream_stats,
    wait_active,
    wait_objects,
    wait_stats,
)

REGION = "us-east-1"
DELETE_DELAY_S = 2.0  # long enough to see DELETING (and act on it) on a loaded machine
ENV = {"NIMBUS_FIREHOSE_CREATE_DELAY_S": "0.1", "NIMBUS_FIREHOSE_DELETE_DELAY_S": str(DELETE_DELAY_S)}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    yield from module_server(tmp_path_factory, "fh-sem", ENV)




# One function for every transform test; what it does depends on the record:
#   JSON with "customer"  Ok, data unchanged, metadata.partitionKeys {customer}
#   FAIL...               ProcessingFailed
#   ECHO...               Ok, data = the event as the function saw it (without the records' data) + "\n"
#   anything else         Ok, upper-cased, no metadata
TRANSFORM = '''
import base64, json

def handler(event, context):
    out = []
    for r in event["records"]:
        data = base64.b64decode(r["data"])
        item = {"recordId": r["recordId"], "result": "Ok"}
        if data.startswith(b"FAIL"):
            item.update(result="ProcessingFailed", data=r["data"])
        elif data.startswith(b"ECHO"):
            seen = {k: v for k, v in event.items() if k != "records"}
            seen["eventKeys"] = sorted(event)
            seen["count"] = len(event["records"])
            seen["record"] = r
            item["data"] = base64.b64encode(json.dumps(seen).encode() + b"\\n").decode()
        else:
            try:
                doc = json.loads(data)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and "customer" in doc:
                item.update(data=r["data"], metadata={"partitionKeys": {"customer": doc["customer"]}})
            else:
                item["data"] = base64.b64encode(data.upper()).decode()
        out.append(item)
    return {"records": out}
'''


@pytest.fixture(scope="module")
def transform_arn(server: NimbusProcess) -> str:
    lam = server.client("lambda")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("fn.py", TRANSFORM)
    fn = lam.create_function(
        FunctionName=f"sem-{uuid.uuid4().hex[:8]}", Runtime="python3.11", Role=ROLE, Handler="fn.handler",
        Code={"ZipFile": buf.getvalue()}, Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=fn["FunctionName"])
    probe = lam.invoke(FunctionName=fn["FunctionName"], Payload=b'{"records": []}')
    assert probe["StatusCode"] == 200 and not probe.get("FunctionError"), probe
    return str(fn["FunctionArn"])


def processor(arn: str, *extra: dict[str, Any], **params: str) -> dict[str, Any]:
    """A Lambda processor (1 try, 60 s processor interval so only a flush sends records) plus ``extra``."""
    pc = lambda_processor(arn, **{"NumberOfRetries": "0", **params})
    pc["Processors"] += list(extra)
    return pc


def lines(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(x) for x in body.splitlines()]


def stream_arn(name: str) -> str:
    return f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{name}"


def wait_gone(fh: Any, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fh.describe_delivery_stream(DeliveryStreamName=name)
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ResourceNotFoundException"
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} was never deleted")


# ------------------------------------------------------------------------------ dynamic partitioning


def test_dynamic_partitioning_with_lambda_partition_keys(fh: Any, s3: Any, server: NimbusProcess, transform_arn: str) -> None:
    bucket = new_bucket(s3)
    name = create(
        fh, bucket,
        Prefix="cust=!{partitionKeyFromLambda:customer}/",
        ErrorOutputPrefix="err/!{firehose:error-output-type}/",
        BufferingHints={"SizeInMBs": 64, "IntervalInSeconds": 60},
        DynamicPartitioningConfiguration={"Enabled": True},
        ProcessingConfiguration=processor(transform_arn),
    )
    recs = [b'{"customer":"a","i":1}\n', b'{"customer":"b","i":2}\n', b"no keys here\n", b'{"customer":"a","i":3}\n', b"FAIL\n"]
    before_ms = int(time.time() * 1000)
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in recs])
    after_ms = int(time.time() * 1000) + 1
    flush(server, name)
    got = objects(s3, bucket)
    data = {k: v for k, v in got.items() if k.startswith("cust=")}
    errors = {k: v for k, v in got.items() if k.startswith("err/")}
    assert sorted(k.split("/", 1)[0] for k in data) == ["cust=a", "cust=b"]  # one object per partition
    by_part = {k.split("/", 1)[0]: v for k, v in data.items()}
    assert by_part == {"cust=a": recs[0] + recs[3], "cust=b": recs[1]}
    for k in data:
        assert k.split("/", 1)[1].startswith(f"{name}-1-")
    # the record the function gave no partition key goes to the error output, in AWS's error record format,
    # under the error-output-type AWS uses for partitioning failures; a transform failure under its own
    assert sorted(k.split("/")[1] for k in errors) == ["partitioning-failed", "processing-failed"]
    ((ekey, ebody),) = [(k, v) for k, v in errors.items() if k.startswith("err/partitioning-failed/")]
    assert ekey.split("/")[2].startswith(f"{name}-1-")
    (pbody,) = [v for k, v in errors.items() if k.startswith("err/processing-failed/")]
    assert [(base64.b64decode(r["rawData"]), r["errorCode"]) for r in lines(pbody)] == [(b"FAIL\n", "Lambda.ProcessingFailedStatus")]
    (rec,) = lines(ebody)
    assert base64.b64decode(rec["rawData"]) == b"no keys here\n"
    assert rec["errorCode"] == "DynamicPartitioning.MetadataExtractionFailed" and rec["errorMessage"]
    assert {"attemptsMade", "arrivalTimestamp", "attemptEndingTimestamp"} <= set(rec)
    assert before_ms <= rec["arrivalTimestamp"] <= after_ms <= rec["attemptEndingTimestamp"] + 1
    st = stream_stats(server, name)
    assert st["delivered_records"] == 3 and st["objects"] == 2 and st["transform_ok"] == 4 and st["transform_failed"] == 1


def test_dynamic_partitioning_with_metadata_extraction_query(fh: Any, s3: Any, server: NimbusProcess) -> None:
    bucket = new_bucket(s3)
    name = create(
        fh, bucket,
        Prefix="k=!{partitionKeyFromQuery:k}/",
        ErrorOutputPrefix="err/!{firehose:error-output-type}/",
        BufferingHints={"SizeInMBs": 64, "IntervalInSeconds": 60},
        DynamicPartitioningConfiguration={"Enabled": True},
        ProcessingConfiguration={"Enabled": True, "Processors": [
            {"Type": "MetadataExtraction", "Parameters": [
                {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{k:.customer}"},
                {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
            ]},
            {"Type": "AppendDelimiterToRecord", "Parameters": []},
        ]},
    )
    first = [b'{"customer":"x","n":1}', b"not json", b'{"customer":"y","n":2}', b'{"other":1}', b'{"customer":"x","n":3}']
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in first])
    flush(server, name)
    got = objects(s3, bucket)
    assert {k.split("/", 1)[0] for k in got} == {"k=x", "k=y", "err"}
    data = {k.split("/", 1)[0]: v for k, v in got.items() if not k.startswith("err/")}
    assert data == {"k=x": first[0] + b"\n" + first[4] + b"\n", "k=y": first[2] + b"\n"}
    ((ekey, ebody),) = [(k, v) for k, v in got.items() if k.startswith("err/")]
    assert ekey.startswith("err/partitioning-failed/")
    errs = lines(ebody)
    assert [base64.b64decode(e["rawData"]) for e in errs] == [b"not json", b'{"other":1}']  # the source records
    assert {e["errorCode"] for e in errs} == {"DynamicPartitioning.MetadataExtractionFailed"}
    assert all("lambdaARN" not in e for e in errs)  # no function involved

    # a second flush: again one object per partition
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b'{"customer":"x","n":4}'}, {"Data": b'{"customer":"y","n":5}'}])
    flush(server, name)
    got = objects(s3, bucket)
    per_part: dict[str, list[bytes]] = {}
    for k, v in sorted(got.items()):
        per_part.setdefault(k.split("/", 1)[0], []).append(v)
    assert len(per_part["k=x"]) == 2 and len(per_part["k=y"]) == 2 and len(per_part["err"]) == 1
    assert b'{"customer":"x","n":4}\n' in per_part["k=x"] and b'{"customer":"y","n":5}\n' in per_part["k=y"]


# --------------------------------------------------------------------------- destination failures


def test_missing_bucket_buffers_then_resumes_by_itself(fh: Any, s3: Any, server: NimbusProcess) -> None:
    bucket = f"fh-later-{uuid.uuid4().hex[:10]}"  # not created yet
    name = create(fh, bucket, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 0})
    recs = [f"rec-{i}\n".encode() for i in range(20)]
    assert fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in recs])["FailedPutCount"] == 0
    st = wait_stats(server, name, lambda s: s["delivery_failures"] >= 1)
    assert st["delivery_failures"] >= 1 and st["objects"] == 0 and st["delivered_records"] == 0
    assert st["backlog_records"] == 20 and "NoSuchBucket" in (st["last_error"] or "")
    lab = {"account": ACCOUNT, "region": REGION, "stream": name}
    assert metric(server, "nimbus_firehose_delivery_failures_total", **lab) >= 1
    s3.create_bucket(Bucket=bucket)
    got = wait_objects(s3, bucket, timeout=60)  # no flush call: the retry delivers it
    assert b"".join(v for _, v in sorted(got.items())) == b"".join(recs)
    st = wait_stats(server, name, lambda s: s["backlog_records"] == 0)
    assert st["delivered_records"] == 20 and st["expired_records"] == 0


def test_retention_expires_undeliverable_records(tmp_path: Path) -> None:
    p = NimbusProcess(tmp_path / "data", env={"NIMBUS_FIREHOSE_CREATE_DELAY_S": "0.1", "NIMBUS_FIREHOSE_RETENTION_S": "1"}).start()
    try:
        fh, s3 = p.client("firehose"), p.client("s3")
        bucket = f"fh-gone-{uuid.uuid4().hex[:10]}"
        name = create(fh, bucket, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 0})
        fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"old-1\n"}, {"Data": b"old-2\n"}, {"Data": b"old-3\n"}])
        st = wait_stats(p, name, lambda s: s["expired_records"] >= 3)
        assert st["expired_records"] == 3 and st["backlog_records"] == 0 and st["delivered_records"] == 0
        assert st["delivery_failures"] >= 2
        lab = {"account": ACCOUNT, "region": REGION, "stream": name}
        assert metric(p, "nimbus_firehose_expired_records_total", **lab) == 3
        assert f"firehose records expired undelivered stream={name} records=3" in p.logs()
        s3.create_bucket(Bucket=bucket)
        flush(p, name)
        assert objects(s3, bucket) == {}  # expired records are never delivered later
        fh.put_record(DeliveryStreamName=name, Record={"Data": b"new\n"})
        flush(p, name)
        assert list(objects(s3, bucket).values()) == [b"new\n"]
        assert metric(p, "nimbus_firehose_expired_records_total", **lab) == 3
    finally:
        p.stop()


# ------------------------------------------------------------------------------------------- delete


def test_delete_drops_buffered_data_and_recreate_starts_empty(fh: Any, s3: Any, server: NimbusProcess) -> None:
    bucket = f"fh-del-{uuid.uuid4().hex[:10]}"  # missing: the first stream's records stay buffered
    name = f"del-{uuid.uuid4().hex[:8]}"
    create(fh, bucket, name=name, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 0})
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"old-1\n"}, {"Data": b"old-2\n"}])
    wait_stats(server, name, lambda s: s["delivery_failures"] >= 1)

    fh.delete_delivery_stream(DeliveryStreamName=name)
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert d["DeliveryStreamStatus"] == "DELETING"
    with pytest.raises(ClientError) as e:
        fh.put_record(DeliveryStreamName=name, Record={"Data": b"late\n"})
    assert code_of(e) == "ResourceInUseException"
    with pytest.raises(ClientError) as e:
        fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"late\n"}])
    assert code_of(e) == "ResourceInUseException"
    fh.delete_delivery_stream(DeliveryStreamName=name)  # deleting again is accepted
    # the bucket appears while the stream is DELETING: its delivery has stopped, nothing is written
    s3.create_bucket(Bucket=bucket)
    wait_gone(fh, name)
    assert name not in fh.list_delivery_streams(Limit=10000)["DeliveryStreamNames"]

    create(fh, bucket, name=name, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60})
    fh.put_record(DeliveryStreamName=name, Record={"Data": b"new\n"})
    flush(server, name)
    assert list(objects(s3, bucket).values()) == [b"new\n"]  # the old stream's buffered records are gone
    st = stream_stats(server, name)
    assert st["incoming_records"] == 1 and st["delivered_records"] == 1 and st["delivery_failures"] == 0


# -------------------------------------------------------------------------------- transform event


def test_transformation_event_shape(fh: Any, s3: Any, server: NimbusProcess, transform_arn: str) -> None:
    bucket = new_bucket(s3)
    name = create(fh, bucket, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60}, ProcessingConfiguration=processor(transform_arn))
    payloads = [b"ECHO one", b"ECHO \x00\xff binary", b"ECHO three"]
    before_ms = int(time.time() * 1000)
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": p} for p in payloads])
    after_ms = int(time.time() * 1000) + 1
    flush(server, name)
    (body,) = objects(s3, bucket).values()
    seen = lines(body)
    assert len(seen) == 3
    for ev, payload in zip(seen, payloads):
        assert ev["eventKeys"] == ["deliveryStreamArn", "invocationId", "records", "region"]
        assert ev["deliveryStreamArn"] == stream_arn(name)
        assert ev["region"] == REGION
        assert str(uuid.UUID(ev["invocationId"])) == ev["invocationId"]
        assert ev["count"] == 3  # one invocation for the three records
        rec = ev["record"]
        assert set(rec) == {"recordId", "approximateArrivalTimestamp", "data"}
        assert isinstance(rec["recordId"], str) and rec["recordId"]
        ts = rec["approximateArrivalTimestamp"]
        assert type(ts) is int and before_ms <= ts <= after_ms  # epoch milliseconds
        assert base64.b64decode(rec["data"], validate=True) == payload
    assert len({ev["invocationId"] for ev in seen}) == 1
    assert len({ev["record"]["recordId"] for ev in seen}) == 3


# ----------------------------------------------------------------------------- UpdateDestination


def test_update_destination_changes_new_objects(fh: Any, s3: Any, server: NimbusProcess) -> None:
    bucket = new_bucket(s3)
    name = create(fh, bucket, Prefix="v1/", BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60})
    fh.put_record(DeliveryStreamName=name, Record={"Data": b"before\n"})
    flush(server, name)
    (k1,) = objects(s3, bucket)
    assert k1.startswith("v1/") and k1.rsplit("/", 1)[1].startswith(f"{name}-1-") and not k1.endswith(".gz")

    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    dest_id = d["Destinations"][0]["DestinationId"]
    fh.update_destination(DeliveryStreamName=name, CurrentDeliveryStreamVersionId=d["VersionId"], DestinationId=dest_id,
                          ExtendedS3DestinationUpdate={"Prefix": "v2/", "CompressionFormat": "GZIP"})
    d2 = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert d2["VersionId"] == "2"
    ext = d2["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert ext["Prefix"] == "v2/" and ext["CompressionFormat"] == "GZIP" and ext["BufferingHints"]["IntervalInSeconds"] == 60

    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"after-1\n"}, {"Data": b"after-2\n"}])
    flush(server, name)
    new = {k: v for k, v in objects(s3, bucket).items() if k != k1}
    ((k2, body),) = new.items()
    assert k2.startswith("v2/") and k2.endswith(".gz")
    obj = k2.rsplit("/", 1)[1]
    assert obj.startswith(f"{name}-2-")
    assert gzip.decompress(body) == b"after-1\nafter-2\n"
    assert s3.head_object(Bucket=bucket, Key=k2).get("ContentEncoding") == "gzip"

    with pytest.raises(ClientError) as e:  # the version the caller saw first is stale now
        fh.update_destination(DeliveryStreamName=name, CurrentDeliveryStreamVersionId=d["VersionId"], DestinationId=dest_id,
                              ExtendedS3DestinationUpdate={"Prefix": "v3/"})
    assert code_of(e) == "ConcurrentModificationException"
    assert fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["VersionId"] == "2"


# ------------------------------------------------------------------------ S3DestinationConfiguration


def test_older_s3_destination_configuration(fh: Any, s3: Any, server: NimbusProcess) -> None:
    bucket = new_bucket(s3)
    name = f"legacy-{uuid.uuid4().hex[:8]}"
    fh.create_delivery_stream(DeliveryStreamName=name, S3DestinationConfiguration={
        "RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": "legacy/",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}, "CompressionFormat": "GZIP",
    })
    d = wait_active(fh, name)
    (dest,) = d["Destinations"]
    plain, ext = dest["S3DestinationDescription"], dest["ExtendedS3DestinationDescription"]
    for desc in (plain, ext):
        assert desc["RoleARN"] == ROLE and desc["BucketARN"] == f"arn:aws:s3:::{bucket}" and desc["Prefix"] == "legacy/"
        assert desc["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 60} and desc["CompressionFormat"] == "GZIP"
        assert desc["EncryptionConfiguration"] == {"NoEncryptionConfig": "NoEncryption"}
        assert desc["CloudWatchLoggingOptions"] == {"Enabled": False}
    assert "ProcessingConfiguration" not in plain and "S3BackupMode" not in plain
    # as the CloudWatch Logs guide's sample of such a stream shows: S3BackupMode, no ProcessingConfiguration
    assert ext["S3BackupMode"] == "Disabled" and "ProcessingConfiguration" not in ext

    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"a\n"}, {"Data": b"b\n"}])
    flush(server, name)
    ((key, body),) = objects(s3, bucket).items()
    assert key.startswith("legacy/") and key.rsplit("/", 1)[1].startswith(f"{name}-1-") and key.endswith(".gz")
    assert gzip.decompress(body) == b"a\nb\n"

    # S3DestinationUpdate applies to it too
    fh.update_destination(DeliveryStreamName=name, CurrentDeliveryStreamVersionId="1", DestinationId=dest["DestinationId"],
                          S3DestinationUpdate={"Prefix": "legacy2/", "CompressionFormat": "UNCOMPRESSED"})
    fh.put_record(DeliveryStreamName=name, Record={"Data": b"c\n"})
    flush(server, name)
    new = {k: v for k, v in objects(s3, bucket).items() if k != key}
    ((key2, body2),) = new.items()
    assert key2.startswith("legacy2/") and key2.rsplit("/", 1)[1].startswith(f"{name}-2-") and body2 == b"c\n"


@pytest.mark.parametrize("prefix", ["p/!{timestamp:yyyy}/", "p/!{", "p/!{nope:x}/"])
def test_older_s3_destination_prefixes_are_validated(fh: Any, prefix: str) -> None:
    name = f"legacy-bad-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as e:
        fh.create_delivery_stream(DeliveryStreamName=name, S3DestinationConfiguration={
            "RoleARN": ROLE, "BucketARN": "arn:aws:s3:::some-bucket", "Prefix": prefix,
        })
    assert code_of(e) == "InvalidArgumentException"
    assert name not in fh.list_delivery_streams(Limit=10000)["DeliveryStreamNames"]


# ---------------------------------------------------------------------------- ErrorOutputPrefix


def test_custom_error_output_prefix_for_processing_failures(fh: Any, s3: Any, server: NimbusProcess, transform_arn: str) -> None:
    bucket = new_bucket(s3)
    name = create(
        fh, bucket,
        Prefix="ok/!{timestamp:yyyy}/",
        ErrorOutputPrefix="bad/!{firehose:error-output-type}/y=!{timestamp:yyyy}/",
        BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60},
        ProcessingConfiguration=processor(transform_arn),
    )
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"fine\n"}, {"Data": b"FAIL me\n"}])
    flush(server, name)
    got = objects(s3, bucket)
    ((dkey, dbody),) = [(k, v) for k, v in got.items() if k.startswith("ok/")]
    ((ekey, ebody),) = [(k, v) for k, v in got.items() if k.startswith("bad/")]
    assert len(got) == 2 and dbody == b"FINE\n"
    (rec,) = lines(ebody)
    year = time.strftime("%Y", time.gmtime(rec["arrivalTimestamp"] / 1000))
    assert dkey.startswith(f"ok/{year}/{name}-1-")
    assert ekey.startswith(f"bad/processing-failed/y={year}/{name}-1-")
    assert base64.b64decode(rec["rawData"]) == b"FAIL me\n"
    assert rec["errorCode"] == "Lambda.ProcessingFailedStatus" and rec["lambdaARN"] == transform_arn
    assert rec["attemptsMade"] == 1


# ------------------------------------------------------------------------------------------ metrics


def test_metrics_after_a_transform_delivery(fh: Any, s3: Any, server: NimbusProcess, transform_arn: str) -> None:
    bucket = new_bucket(s3)
    name = create(fh, bucket, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60}, CompressionFormat="GZIP",
                  ProcessingConfiguration=processor(transform_arn))
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"one\n"}, {"Data": b"FAIL\n"}, {"Data": b"two\n"}])
    flush(server, name)
    got = objects(s3, bucket)
    (data_body,) = [v for k, v in got.items() if "processing-failed" not in k]
    assert gzip.decompress(data_body) == b"ONE\nTWO\n"
    lab = {"account": ACCOUNT, "region": REGION, "stream": name}
    assert metric(server, "nimbus_firehose_incoming_records_total", **lab) == 3
    assert metric(server, "nimbus_firehose_delivered_records_total", **lab) == 2
    assert metric(server, "nimbus_firehose_delivered_bytes_total", **lab) == len(data_body)  # after compression
    assert metric(server, "nimbus_firehose_delivered_objects_total", **lab, kind="data") == 1
    assert metric(server, "nimbus_firehose_delivered_objects_total", **lab, kind="error") == 1
    assert metric(server, "nimbus_firehose_transform_invocations_total", **lab) == 1
    assert metric(server, "nimbus_firehose_transform_records_total", **lab, result="Ok") == 2
    assert metric(server, "nimbus_firehose_transform_records_total", **lab, result="ProcessingFailed") == 1
    assert metric(server, "nimbus_firehose_transform_records_total", **lab, result="Dropped") == 0
    assert metric(server, "nimbus_firehose_transform_duration_seconds_count", **lab) == 1
    assert metric(server, "nimbus_firehose_transform_duration_seconds_sum", **lab) > 0
    assert metric(server, "nimbus_firehose_delivery_failures_total", **lab) == 0
    assert metric(server, "nimbus_firehose_delivery_latency_seconds_count", **lab) == 1
    st = stream_stats(server, name)
    assert st["delivered_records"] == 2 and st["delivered_bytes"] == len(data_body) and st["objects"] == 1
    assert st["transform_invocations"] == 1 and st["transform_ok"] == 2 and st["transform_failed"] == 1
    assert st["transform_ms"] > 0 and st["delivery_failures"] == 0 and st["last_delivery_ms"]


# --------------------------------------------------------------------- function that does not exist


def test_processor_with_a_function_that_does_not_exist(fh: Any, s3: Any, server: NimbusProcess) -> None:
    """AWS checks the processor's LambdaArn for form only at create time (the function is resolved at each
    invocation and its absence is logged as Lambda.ResourceNotFound); Nimbus does the same: the stream is
    created and its records go to the error output with that code."""
    bucket = new_bucket(s3)
    missing = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:nope-{uuid.uuid4().hex[:8]}"
    name = create(fh, bucket, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60},
                  ProcessingConfiguration=processor(missing, NumberOfRetries="1"))
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert d["DeliveryStreamStatus"] == "ACTIVE"
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x\n"}, {"Data": b"y\n"}])
    flush(server, name)
    ((key, body),) = objects(s3, bucket).items()
    assert key.startswith("processing-failed/")
    recs = lines(body)
    assert [base64.b64decode(r["rawData"]) for r in recs] == [b"x\n", b"y\n"]
    assert {r["errorCode"] for r in recs} == {"Lambda.ResourceNotFound"}
    assert {r["attemptsMade"] for r in recs} == {2} and {r["lambdaARN"] for r in recs} == {missing}
    st = stream_stats(server, name)
    assert st["transform_invocations"] == 2 and st["transform_failed"] == 2 and st["delivered_records"] == 0


# ------------------------------------------------------------------------------ large batches, streamed

BIG_RECORD = 4000  # bytes; 1,000 records per PutRecordBatch call = 4 MB


def _put_big(fh: Any, name: str, calls: int, tag: str) -> list[bytes]:
    sent: list[bytes] = []
    for c in range(calls):
        recs = [f"{tag}-{c}-{i:04d}:".encode().ljust(BIG_RECORD - 1, bytes([97 + (c + i) % 26])) + b"\n" for i in range(1000)]
        for start in range(0, 1000, 500):
            r = fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": d} for d in recs[start : start + 500]])
            assert r["FailedPutCount"] == 0
        sent += recs
    return sent


@pytest.mark.parametrize("fmt", ["UNCOMPRESSED", "GZIP"])
def test_a_large_batch_is_streamed_from_the_buffer_into_one_object(fh: Any, s3: Any, server: NimbusProcess, fmt: str) -> None:
    """A batch larger than the stream's read chunk (8 MB) goes from the log into its object a chunk at a
    time: 20 MB under a 32 MB size hint land as one object, byte for byte, and the counters add up."""
    bucket = new_bucket(s3)
    name = create(fh, bucket, CompressionFormat=fmt, BufferingHints={"SizeInMBs": 32, "IntervalInSeconds": 900})
    sent = _put_big(fh, name, 5, fmt)
    flush(server, name)
    got = objects(s3, bucket)
    assert len(got) == 1
    ((key, body),) = got.items()
    assert key.endswith(".gz") == (fmt == "GZIP")
    data = gzip.decompress(body) if fmt == "GZIP" else body
    assert data == b"".join(sent)
    st = stream_stats(server, name)
    assert st["delivered_records"] == len(sent) and st["objects"] == 1 and st["backlog_records"] == 0
    assert st["delivered_bytes"] == len(body)
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(body) and head["ETag"].strip('"') == hashlib.md5(body).hexdigest()
    if fmt == "GZIP":
        assert head["ContentEncoding"] == "gzip"


def test_streamed_batches_keep_to_the_size_hint(fh: Any, s3: Any, server: NimbusProcess) -> None:
    """12 MB waiting under a 1 MB size hint: streamed batches of at most 1 MiB each (no record split, none
    lost or repeated), in order."""
    bucket = new_bucket(s3)
    name = create(fh, bucket, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 900})
    sent = _put_big(fh, name, 3, "hint")
    flush(server, name)
    got = objects(s3, bucket)
    assert all(len(b) <= 1 << 20 for b in got.values()) and len(got) >= 12
    index = {line: i for i, line in enumerate(sent)}
    runs = []
    for body in got.values():  # (keys of one second sort by their random part: order by content)
        positions = [index[line] for line in body.splitlines(keepends=True)]
        assert positions == list(range(positions[0], positions[0] + len(positions)))  # consecutive records
        runs.append(positions)
    assert sorted(p for run in runs for p in run) == list(range(len(sent)))  # each record once
    assert stream_stats(server, name)["delivered_records"] == len(sent)


def test_a_streamed_batch_waits_for_its_bucket_on_disk(fh: Any, s3: Any, server: NimbusProcess) -> None:
    """A large batch whose bucket is missing stays in the log (no spill file, no memory) and is streamed
    again, whole, once the bucket exists."""
    bucket = f"fh-big-later-{uuid.uuid4().hex[:8]}"
    # (the size trigger, not the interval: a flush that starts with less than 8 MB waiting is read whole)
    name = create(fh, bucket, BufferingHints={"SizeInMBs": 16, "IntervalInSeconds": 900})
    sent = _put_big(fh, name, 5, "later")
    st = wait_stats(server, name, lambda s: s["delivery_failures"] >= 2)
    assert st["delivery_failures"] >= 2 and st["objects"] == 0
    spill = server.data_dir / "firehose" / "spill"
    assert not spill.exists() or not any(spill.iterdir())
    s3.create_bucket(Bucket=bucket)
    st = wait_stats(server, name, lambda s: s["objects"] >= 1, timeout=60)  # the retry delivers it by itself
    assert st["objects"] == 1 and st["delivered_records"] >= 4000  # the 16 MB batch, whole
    flush(server, name)  # and the rest, below the size hint, without waiting out the interval
    assert stream_stats(server, name)["delivered_records"] == len(sent)
    got = objects(s3, bucket)
    assert sorted(line for body in got.values() for line in body.splitlines(keepends=True)) == sorted(sent)


def test_a_streamed_batch_that_expires_is_counted_whole(tmp_path: Path) -> None:
    """A streamed batch still undeliverable after the retention: its records (exactly the batch the size
    hint makes, 4,194 records of 4,000 B under 16 MiB) are counted expired and logged, the rest wait."""
    p = NimbusProcess(tmp_path / "data", env={"NIMBUS_FIREHOSE_CREATE_DELAY_S": "0.1", "NIMBUS_FIREHOSE_RETENTION_S": "1"}).start()
    try:
        fh = p.client("firehose")
        name = create(fh, f"fh-never-{uuid.uuid4().hex[:8]}", BufferingHints={"SizeInMBs": 16, "IntervalInSeconds": 900})
        _put_big(fh, name, 5, "gone")
        st = wait_stats(p, name, lambda s: s["expired_records"] > 0, timeout=60)
        assert st["expired_records"] == (16 << 20) // BIG_RECORD == 4194
        assert st["delivered_records"] == 0 and st["backlog_records"] == 5000 - 4194
        assert f"firehose records expired undelivered stream={name} records=4194 bytes={4194 * BIG_RECORD}" in p.logs()
    finally:
        p.stop()

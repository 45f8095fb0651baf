"""Bucket lifecycle end to end: S3's validation of PutBucketLifecycleConfiguration, and the sweep applying
Expiration (Days and Date) and AbortIncompleteMultipartUpload, on a server whose sweep runs every 0.3 s
and whose lifecycle "day" lasts one second (NIMBUS_S3_LIFECYCLE_SWEEP_SECONDS / _DAY_SECONDS)."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.lambda_.functions import create

RECORDER = """
import json, boto3
s3 = boto3.client("s3")
def handler(event, context):
    for record in event["Records"]:
        name = record["eventName"].replace(":", "-") + "/" + record["s3"]["object"]["key"]
        s3.put_object(Bucket="lc-sink", Key=name, Body=json.dumps(record).encode())
    return "ok"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    base: Path = tmp_path_factory.mktemp("lifecycle")
    env = {"NIMBUS_S3_LIFECYCLE_SWEEP_SECONDS": "0.3", "NIMBUS_S3_LIFECYCLE_DAY_SECONDS": "1"}
    proc = NimbusProcess(base / "data", env=env).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def s3(server: NimbusProcess) -> Any:
    return server.client("s3")


def wait_for(fn: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def refused(s3: Any, rules: list[dict[str, Any]]) -> tuple[str, str]:
    with pytest.raises(ClientError) as e:
        s3.put_bucket_lifecycle_configuration(Bucket="lc-valid", LifecycleConfiguration={"Rules": rules})
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_validation(s3: Any) -> None:
    s3.create_bucket(Bucket="lc-valid")
    base = {"Status": "Enabled", "Filter": {"Prefix": ""}}
    assert refused(s3, [{**base, "ID": "a", "Expiration": {"Days": 1}}, {**base, "ID": "a", "Expiration": {"Days": 2}}]) == (
        "InvalidArgument", "Rule ID must be unique. Found same ID for more than one rule")
    assert refused(s3, [{**base, "Expiration": {"Days": 0}}]) == (
        "InvalidArgument", "'Days' for Expiration action must be a positive integer")
    assert refused(s3, [{**base}])[0] == "InvalidRequest"
    assert refused(s3, [{**base, "Expiration": {"Date": dt.datetime(2030, 1, 1, 12, tzinfo=dt.timezone.utc)}}]) == (
        "InvalidArgument", "'Date' must be at midnight GMT")
    assert refused(s3, [{"Status": "Enabled", "Filter": {"Tag": {"Key": "a", "Value": "b"}},
                         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}])[0] == "InvalidRequest"
    assert refused(s3, [{"Status": "Enabled", "Prefix": "a/", "Filter": {"Prefix": "b/"}, "Expiration": {"Days": 1}}])[0] == "MalformedXML"
    assert refused(s3, [{**base, "ID": str(i), "Expiration": {"Days": 1}} for i in range(1001)])[0] == "MalformedXML"
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="lc-valid")
    assert e.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"
    rules = [{"ID": "logs", "Status": "Enabled", "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "t", "Value": "1"}]}},
              "Expiration": {"Days": 30}, "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]},
             {"ID": "mpu", "Status": "Disabled", "Filter": {}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]
    s3.put_bucket_lifecycle_configuration(Bucket="lc-valid", LifecycleConfiguration={"Rules": rules})
    got = s3.get_bucket_lifecycle_configuration(Bucket="lc-valid")["Rules"]
    assert [r["ID"] for r in got] == ["logs", "mpu"] and got[0]["Expiration"] == {"Days": 30}
    assert got[0]["Filter"]["And"]["Tags"] == [{"Key": "t", "Value": "1"}]
    s3.put_bucket_lifecycle_configuration(Bucket="lc-valid", LifecycleConfiguration={"Rules": [
        {"Status": "Enabled", "Filter": {"Prefix": "x/"}, "Expiration": {"Days": 3}}]})
    assert len(s3.get_bucket_lifecycle_configuration(Bucket="lc-valid")["Rules"][0]["ID"]) == 48  # named by S3
    s3.delete_bucket_lifecycle(Bucket="lc-valid")
    with pytest.raises(ClientError):
        s3.get_bucket_lifecycle_configuration(Bucket="lc-valid")


def test_expiration_and_abort_by_the_sweep(server: NimbusProcess, s3: Any) -> None:
    lam = server.client("lambda")
    arn = create(lam, "lc-recorder", RECORDER, Timeout=30)["FunctionArn"]
    s3.create_bucket(Bucket="lc-src")
    s3.create_bucket(Bucket="lc-sink")
    s3.put_bucket_notification_configuration(Bucket="lc-src", NotificationConfiguration={"LambdaFunctionConfigurations": [
        {"Id": "expired", "LambdaFunctionArn": arn, "Events": ["s3:LifecycleExpiration:*"]},
        {"Id": "removed", "LambdaFunctionArn": arn, "Events": ["s3:ObjectRemoved:*"]},
    ]})
    for key in ("tmp/a", "tmp/b", "keep/c", "old/d"):
        s3.put_object(Bucket="lc-src", Key=key, Body=b"x")
    upload = s3.create_multipart_upload(Bucket="lc-src", Key="tmp/big")["UploadId"]
    s3.put_bucket_lifecycle_configuration(Bucket="lc-src", LifecycleConfiguration={"Rules": [
        {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 2},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
        {"ID": "old", "Status": "Enabled", "Filter": {"Prefix": "old/"},
         "Expiration": {"Date": dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)}},
        {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "keep/"}, "Expiration": {"Days": 1}},
    ]})
    head = s3.head_object(Bucket="lc-src", Key="keep/c")
    assert "Expiration" not in head
    assert 'rule-id="tmp"' in s3.head_object(Bucket="lc-src", Key="tmp/a")["Expiration"]
    wait_for(lambda: keys(s3, "lc-src") == ["keep/c"])
    wait_for(lambda: not s3.list_multipart_uploads(Bucket="lc-src").get("Uploads"))
    with pytest.raises(ClientError):
        s3.list_parts(Bucket="lc-src", Key="tmp/big", UploadId=upload)
    wait_for(lambda: len(keys(s3, "lc-sink")) >= 3)
    time.sleep(0.5)  # nothing else may arrive: no ObjectRemoved for lifecycle deletions
    assert sorted(keys(s3, "lc-sink")) == ["LifecycleExpiration-Delete/old/d", "LifecycleExpiration-Delete/tmp/a",
                                           "LifecycleExpiration-Delete/tmp/b"]
    record = json.loads(s3.get_object(Bucket="lc-sink", Key="LifecycleExpiration-Delete/tmp/a")["Body"].read())
    assert record["s3"]["configurationId"] == "expired" and "size" not in record["s3"]["object"]


def test_cli_put_and_get(server: NimbusProcess, s3: Any) -> None:
    s3.create_bucket(Bucket="lc-cli")
    server.aws("s3api", "put-bucket-lifecycle-configuration", "--bucket", "lc-cli", "--lifecycle-configuration",
               '{"Rules":[{"ID":"uploads","Status":"Enabled","Filter":{"Prefix":""},'
               '"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":7}}]}')
    out = json.loads(server.aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", "lc-cli").stdout)
    assert out["Rules"][0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    server.aws("s3api", "delete-bucket-lifecycle", "--bucket", "lc-cli")
    failed = server.aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", "lc-cli", check=False)
    assert failed.returncode != 0 and "NoSuchLifecycleConfiguration" in failed.stderr

"""Archived objects (GLACIER, DEEP_ARCHIVE) and RestoreObject against a real server: reads refused until a
restore completes, x-amz-restore and ListObjectsV2's RestoreStatus through a restore's life, S3's errors,
ObjectRestore notifications, the AWS CLI, and a restart in the middle of a restore."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.lambda_.functions import create

RESTORE_S = 1.5

RECORDER = """
import json, boto3
s3 = boto3.client("s3")
def handler(event, context):
    for record in event["Records"]:
        s3.put_object(Bucket="arch-events", Key=record["eventName"] + "/" + record["s3"]["object"]["key"], Body=json.dumps(record).encode())
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    base: Path = tmp_path_factory.mktemp("archive")
    proc = NimbusProcess(base / "data", env={"NIMBUS_S3_RESTORE_SECONDS": str(RESTORE_S)}).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def s3(server: NimbusProcess) -> Any:
    return server.client("s3")


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def wait_for(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def test_an_archived_object_is_read_only_after_a_restore(s3: Any) -> None:
    s3.create_bucket(Bucket="arch")
    s3.put_object(Bucket="arch", Key="cold", Body=b"frozen", StorageClass="GLACIER")
    s3.put_object(Bucket="arch", Key="warm", Body=b"x", StorageClass="STANDARD_IA")
    head = s3.head_object(Bucket="arch", Key="cold")  # HEAD works on archived objects
    assert head["StorageClass"] == "GLACIER" and "Restore" not in head
    for call in (lambda: s3.get_object(Bucket="arch", Key="cold"),
                 lambda: s3.get_object(Bucket="arch", Key="cold", Range="bytes=0-1"),
                 lambda: s3.copy_object(Bucket="arch", Key="copy", CopySource={"Bucket": "arch", "Key": "cold"})):
        with pytest.raises(ClientError) as e:
            call()
        assert code_of(e) == "InvalidObjectState" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert s3.get_object(Bucket="arch", Key="warm")["Body"].read() == b"x"  # infrequent access reads at once
    with pytest.raises(ClientError) as e:
        s3.restore_object(Bucket="arch", Key="warm", RestoreRequest={"Days": 1})
    assert code_of(e) == "InvalidObjectState"

    started = s3.restore_object(Bucket="arch", Key="cold", RestoreRequest={"Days": 2, "GlacierJobParameters": {"Tier": "Bulk"}})
    assert started["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert s3.head_object(Bucket="arch", Key="cold")["Restore"] == 'ongoing-request="true"'
    listed = s3.list_objects_v2(Bucket="arch", OptionalObjectAttributes=["RestoreStatus"])["Contents"]
    assert [o.get("RestoreStatus") for o in listed if o["Key"] == "cold"] == [{"IsRestoreInProgress": True}]
    with pytest.raises(ClientError) as e:
        s3.restore_object(Bucket="arch", Key="cold", RestoreRequest={"Days": 2})
    assert code_of(e) == "RestoreAlreadyInProgress"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="arch", Key="cold")
    assert code_of(e) == "InvalidObjectState"

    wait_for(lambda: "false" in s3.head_object(Bucket="arch", Key="cold").get("Restore", ""))
    restore = s3.head_object(Bucket="arch", Key="cold")["Restore"]
    assert restore.startswith('ongoing-request="false", expiry-date="') and "00:00:00 GMT" in restore
    assert s3.get_object(Bucket="arch", Key="cold")["Body"].read() == b"frozen"
    s3.copy_object(Bucket="arch", Key="thawed", CopySource={"Bucket": "arch", "Key": "cold"}, StorageClass="STANDARD")
    assert s3.get_object(Bucket="arch", Key="thawed")["Body"].read() == b"frozen"
    listed = s3.list_objects_v2(Bucket="arch", OptionalObjectAttributes=["RestoreStatus"])["Contents"]
    status = [o["RestoreStatus"] for o in listed if o["Key"] == "cold"][0]
    assert status["IsRestoreInProgress"] is False and "RestoreExpiryDate" in status
    again = s3.restore_object(Bucket="arch", Key="cold", RestoreRequest={"Days": 5})  # extends a completed one
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.head_object(Bucket="arch", Key="cold")["Restore"] != restore


def test_restore_errors(s3: Any) -> None:
    s3.create_bucket(Bucket="arch-errors")
    s3.put_object(Bucket="arch-errors", Key="deep", Body=b"d", StorageClass="DEEP_ARCHIVE")
    for request, code in (({}, "MalformedXML"), ({"Days": 0}, "InvalidArgument"),
                          ({"Days": 1, "GlacierJobParameters": {"Tier": "Expedited"}}, "InvalidArgument")):
        with pytest.raises(ClientError) as e:
            s3.restore_object(Bucket="arch-errors", Key="deep", RestoreRequest=request)
        assert code_of(e) == code, request
    with pytest.raises(ClientError) as e:
        s3.restore_object(Bucket="arch-errors", Key="missing", RestoreRequest={"Days": 1})
    assert code_of(e) == "NoSuchKey"
    assert "Restore" not in s3.head_object(Bucket="arch-errors", Key="deep")  # nothing was started


def test_restore_notifications(server: NimbusProcess, s3: Any) -> None:
    s3.create_bucket(Bucket="arch-events")
    s3.create_bucket(Bucket="arch-notify")
    arn = create(server.client("lambda"), "arch-recorder", RECORDER, Timeout=30)["FunctionArn"]
    server.client("lambda").add_permission(FunctionName="arch-recorder", StatementId="s3", Action="lambda:InvokeFunction",
                                           Principal="s3.amazonaws.com")
    s3.put_bucket_notification_configuration(Bucket="arch-notify", NotificationConfiguration={"LambdaFunctionConfigurations": [
        {"LambdaFunctionArn": arn, "Events": ["s3:ObjectRestore:*"]}]})
    s3.put_object(Bucket="arch-notify", Key="n", Body=b"n", StorageClass="GLACIER")
    s3.restore_object(Bucket="arch-notify", Key="n", RestoreRequest={"Days": 1})

    def names() -> list[str]:
        return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="arch-events").get("Contents", []))

    wait_for(lambda: names() == ["ObjectRestore:Completed/n", "ObjectRestore:Post/n"], timeout=30)
    record = json.loads(s3.get_object(Bucket="arch-events", Key="ObjectRestore:Post/n")["Body"].read())
    assert record["eventSource"] == "aws:s3" and record["s3"]["bucket"]["name"] == "arch-notify"


def test_cli_and_a_restart_during_a_restore(server: NimbusProcess, tmp_path: Path) -> None:
    server.aws("s3api", "create-bucket", "--bucket", "arch-cli")
    (tmp_path / "body.txt").write_text("cli body")
    server.aws("s3", "cp", str(tmp_path / "body.txt"), "s3://arch-cli/k", "--storage-class", "GLACIER")
    cp = server.aws("s3", "cp", "s3://arch-cli/k", "-", check=False)
    assert cp.returncode != 0 and "InvalidObjectState" in cp.stderr
    server.aws("s3api", "restore-object", "--bucket", "arch-cli", "--key", "k", "--restore-request", "Days=1")
    server.kill9()  # the restore was acknowledged: its state survives a hard kill
    server.start()
    wait_for(lambda: "false" in json.loads(server.aws("s3api", "head-object", "--bucket", "arch-cli", "--key", "k").stdout).get("Restore", ""))
    assert server.aws("s3", "cp", "s3://arch-cli/k", "-").stdout == "cli body"

"""CloudWatchLoggingOptions against a real server: a failing transform function and a missing destination bucket
are logged to the configured log group and stream as AWS's JSON error messages, while delivery goes on
(processing-failed records to S3; the batch retried until the bucket exists); a stream that does not exist
drops the messages without disturbing delivery."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import NimbusProcess
from tests.integration.firehose.conftest import module_server
from tests.integration.firehose.test_firehose import ROLE, create, new_bucket, objects, wait_objects

FAILING = '''
def handler(event, context):
    raise ValueError("transform exploded")
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    yield from module_server(tmp_path_factory, "firehose-errlog", {"NIMBUS_FIREHOSE_CREATE_DELAY_S": "0.2"})


@pytest.fixture(scope="module")
def logs(server: NimbusProcess) -> Any:
    return server.client("logs")


def log_stream(logs: Any, group: str, stream: str = "DestinationDelivery") -> tuple[str, str]:
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    return group, stream


def logged(logs: Any, group: str, stream: str, timeout: float = 30.0, want: int = 1) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
        if len(events) >= want or time.monotonic() > deadline:
            return [json.loads(e["message"]) for e in events]
        time.sleep(0.2)


def logging_options(group: str, stream: str) -> dict[str, Any]:
    return {"Enabled": True, "LogGroupName": group, "LogStreamName": stream}


def test_a_failing_transform_is_logged(server: NimbusProcess, fh: Any, s3: Any, logs: Any) -> None:
    lam = server.client("lambda")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("fn.py", FAILING)
    fn = lam.create_function(FunctionName=f"fail-{uuid.uuid4().hex[:6]}", Runtime="python3.11", Role=ROLE, Handler="fn.handler",
                             Code={"ZipFile": buf.getvalue()}, Timeout=30)
    bucket = new_bucket(s3)
    group, stream = log_stream(logs, "/aws/kinesisfirehose/transform-errors")
    name = create(fh, bucket, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 0},
                  CloudWatchLoggingOptions=logging_options(group, stream),
                  ProcessingConfiguration={"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
                      {"ParameterName": "LambdaArn", "ParameterValue": fn["FunctionArn"]},
                      {"ParameterName": "NumberOfRetries", "ParameterValue": "0"}]}]})
    fh.put_record(DeliveryStreamName=name, Record={"Data": b"payload"})
    wait_objects(s3, bucket, prefix="processing-failed/")  # delivery goes on: the record is kept as an error record
    (message,) = logged(logs, group, stream)
    assert message["errorCode"] == "Lambda.FunctionError" and "transform exploded" in message["message"]
    assert message["processor"] == fn["FunctionArn"]
    assert message["deliveryStreamARN"].endswith(f":deliverystream/{name}")
    assert message["destination"] == f"arn:aws:s3:::{bucket}" and message["deliveryStreamVersionId"] == 1


def test_a_missing_bucket_is_logged_until_it_exists(fh: Any, s3: Any, logs: Any) -> None:
    bucket = f"fh-{uuid.uuid4().hex[:12]}"  # not created yet
    group, stream = log_stream(logs, "/aws/kinesisfirehose/delivery-errors")
    name = create(fh, bucket, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 0},
                  CloudWatchLoggingOptions=logging_options(group, stream))
    fh.put_record(DeliveryStreamName=name, Record={"Data": b"waits for its bucket"})
    first = logged(logs, group, stream)[0]
    assert first["errorCode"] == "S3.NoSuchBucket" and first["destination"] == f"arn:aws:s3:::{bucket}"
    assert "processor" not in first
    s3.create_bucket(Bucket=bucket)
    assert list(wait_objects(s3, bucket, timeout=60).values()) == [b"waits for its bucket"]


def test_a_missing_log_stream_drops_messages_but_not_data(fh: Any, s3: Any, logs: Any) -> None:
    bucket = f"fh-{uuid.uuid4().hex[:12]}"
    name = create(fh, bucket, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 0},
                  CloudWatchLoggingOptions=logging_options("/aws/kinesisfirehose/nowhere", "DestinationDelivery"))
    fh.put_record(DeliveryStreamName=name, Record={"Data": b"still delivered"})
    time.sleep(1.5)  # a few failed attempts, each with a message that has nowhere to go
    s3.create_bucket(Bucket=bucket)
    assert list(wait_objects(s3, bucket, timeout=60).values()) == [b"still delivered"]
    assert not logs.describe_log_groups(logGroupNamePrefix="/aws/kinesisfirehose/nowhere")["logGroups"]
    assert objects(s3, bucket, "processing-failed/") == {}

"""Bucket notifications reach a Lambda function (asynchronously) in AWS's S3 event record format."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.lambda_.functions import create

# The function writes each record it receives into the "sink" bucket, through Nimbus's own S3 API.
RECORDER = """
import json, boto3
s3 = boto3.client("s3")
def handler(event, context):
    for record in event["Records"]:
        name = record["eventName"].replace(":", "-") + "/" + record["s3"]["object"]["key"]
        s3.put_object(Bucket="notify-sink", Key=name, Body=json.dumps(record).encode())
    return "ok"
"""


def wait_for(fn: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def test_object_created_and_removed_invoke_the_function(nimbus_server: Any) -> None:
    s3 = nimbus_server.client("s3")
    lam = nimbus_server.client("lambda")
    arn = create(lam, "s3-recorder", RECORDER, Timeout=30)["FunctionArn"]
    s3.create_bucket(Bucket="notify-src")
    s3.create_bucket(Bucket="notify-sink")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket="notify-src", NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn + "-missing", "Events": ["s3:ObjectCreated:*"]}]})
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
    config = {"LambdaFunctionConfigurations": [
        {"Id": "created", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}, {"Name": "suffix", "Value": ".json"}]}}},
        {"Id": "removed", "LambdaFunctionArn": arn, "Events": ["s3:ObjectRemoved:Delete"]},
    ]}
    s3.put_bucket_notification_configuration(Bucket="notify-src", NotificationConfiguration=config)
    got = s3.get_bucket_notification_configuration(Bucket="notify-src")["LambdaFunctionConfigurations"]
    assert [c["Id"] for c in got] == ["created", "removed"]
    assert got[0]["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "in/"}, {"Name": "suffix", "Value": ".json"}]

    etag = s3.put_object(Bucket="notify-src", Key="in/a b.json", Body=b"{}")["ETag"]
    s3.put_object(Bucket="notify-src", Key="in/skipped.txt", Body=b"no")  # suffix does not match
    s3.copy_object(Bucket="notify-src", Key="in/copy.json", CopySource={"Bucket": "notify-src", "Key": "in/a b.json"})
    s3.delete_object(Bucket="notify-src", Key="in/a b.json")

    def keys() -> list[str]:
        return [o["Key"] for o in s3.list_objects_v2(Bucket="notify-sink").get("Contents", [])]

    wait_for(lambda: len(keys()) >= 3)
    assert sorted(keys()) == ["ObjectCreated-Copy/in/copy.json", "ObjectCreated-Put/in/a+b.json", "ObjectRemoved-Delete/in/a+b.json"]
    put = json.loads(s3.get_object(Bucket="notify-sink", Key="ObjectCreated-Put/in/a+b.json")["Body"].read())
    assert put["eventSource"] == "aws:s3" and put["eventVersion"] == "2.1" and put["awsRegion"] == "us-east-1"
    assert put["s3"]["configurationId"] == "created"
    assert put["s3"]["bucket"] == {"name": "notify-src", "ownerIdentity": put["s3"]["bucket"]["ownerIdentity"],
                                   "arn": "arn:aws:s3:::notify-src"}
    assert put["s3"]["object"]["key"] == "in/a+b.json" and put["s3"]["object"]["size"] == 2
    assert put["s3"]["object"]["eTag"] == etag.strip('"')
    removed = json.loads(s3.get_object(Bucket="notify-sink", Key="ObjectRemoved-Delete/in/a+b.json")["Body"].read())
    assert "size" not in removed["s3"]["object"] and removed["s3"]["configurationId"] == "removed"
    assert int(removed["s3"]["object"]["sequencer"], 16) > int(put["s3"]["object"]["sequencer"], 16)

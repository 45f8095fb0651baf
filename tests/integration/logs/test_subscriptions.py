"""Subscription filters through the real server (boto3): AWS's validation and errors, delivery of matching
events to a Kinesis stream (with the CONTROL_MESSAGE test record first), a Lambda function (events from
PutLogEvents and from another function's output) and a Firehose delivery stream; the filters survive a
restart and events put while a destination was missing are not retried forever."""

from __future__ import annotations

import gzip
import io
import json
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.logs.helpers import code, now_ms

ROLE = "arn:aws:iam::000000000000:role/logs"
ENV = {"NIMBUS_LOGS_SUBSCRIPTION_RETRY_DELAYS": "0.2", "NIMBUS_FIREHOSE_CREATE_DELAY_S": "0"}

RECORDER = '''
import base64, gzip, json
def handler(event, context):
    doc = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    print("RECEIVED " + json.dumps(doc))
    return {}
'''

CHATTY = '''
def handler(event, context):
    print("payment failed code=" + str(event.get("code")))
    print("all good")
    return {}
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    p = NimbusProcess(tmp_path_factory.mktemp("logs-subs") / "data", env=ENV).start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def logs(server: NimbusProcess) -> Any:
    return server.client("logs")


def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.1)


def function(server: NimbusProcess, name: str, source: str) -> str:
    lam = server.client("lambda")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("fn.py", source)
    fn = lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="fn.handler", Code={"ZipFile": buf.getvalue()}, Timeout=30)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})
    return str(fn["FunctionArn"])


def kinesis_stream(server: NimbusProcess, name: str) -> str:
    kin = server.client("kinesis")
    kin.create_stream(StreamName=name, ShardCount=1)
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})
    return str(kin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"])


def kinesis_messages(server: NimbusProcess, name: str) -> list[dict[str, Any]]:
    kin = server.client("kinesis")
    shard = kin.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    it = kin.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return [json.loads(gzip.decompress(r["Data"])) for r in kin.get_records(ShardIterator=it)["Records"]]


def received(logs: Any, function_name: str) -> list[dict[str, Any]]:
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function_name}", filterPattern="RECEIVED")["events"]
    except ClientError:
        return []
    return [json.loads(e["message"].split("RECEIVED ", 1)[1]) for e in events]


def group(logs: Any, name: str, stream: str = "s") -> str:
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName=stream)
    return name


def put(logs: Any, name: str, *messages: str, stream: str = "s") -> None:
    t = now_ms()
    logs.put_log_events(logGroupName=name, logStreamName=stream, logEvents=[{"timestamp": t + i, "message": m} for i, m in enumerate(messages)])


def test_validation_and_errors(server: NimbusProcess, logs: Any) -> None:
    g = group(logs, "sub-errors")
    arn = kinesis_stream(server, "sub-errors-stream")
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(logGroupName="no-such-group", filterName="f", filterPattern="", destinationArn=arn, roleArn=ROLE)
    assert code(e) == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == "The specified log group does not exist."
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(logGroupName=g, filterName="f", filterPattern="", destinationArn=arn)
    assert code(e) == "InvalidParameterException"
    assert e.value.response["Error"]["Message"] == "destinationArn for vendor kinesis cannot be used without roleArn"
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(logGroupName=g, filterName="f", filterPattern="", roleArn=ROLE,
                                     destinationArn="arn:aws:kinesis:us-east-1:000000000000:stream/missing")
    assert code(e) == "InvalidParameterException" and "Kinesis stream" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(logGroupName=g, filterName="f", filterPattern="",
                                     destinationArn="arn:aws:lambda:us-east-1:000000000000:function:missing")
    assert code(e) == "InvalidParameterException" and "lambda function" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(logGroupName=g, filterName="f", filterPattern='{ $.x = ', destinationArn=arn, roleArn=ROLE)
    assert code(e) == "InvalidParameterException"

    logs.put_subscription_filter(logGroupName=g, filterName="one", filterPattern="", destinationArn=arn, roleArn=ROLE)
    logs.put_subscription_filter(logGroupName=g, filterName="two", filterPattern="ERROR", destinationArn=arn, roleArn=ROLE, distribution="Random")
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(logGroupName=g, filterName="three", filterPattern="", destinationArn=arn, roleArn=ROLE)
    assert code(e) == "LimitExceededException" and e.value.response["Error"]["Message"] == "Resource limit exceeded."
    # an update of an existing filter is no third filter
    logs.put_subscription_filter(logGroupName=g, filterName="one", filterPattern="WARN", destinationArn=arn, roleArn=ROLE)
    filters = logs.describe_subscription_filters(logGroupName=g)["subscriptionFilters"]
    assert [(f["filterName"], f["filterPattern"], f["distribution"]) for f in filters] == [("one", "WARN", "ByLogStream"), ("two", "ERROR", "Random")]
    assert filters[0]["destinationArn"] == arn and filters[0]["roleArn"] == ROLE and filters[0]["logGroupName"] == g
    assert isinstance(filters[0]["creationTime"], int) and filters[0]["applyOnTransformedLogs"] is False
    page = logs.describe_subscription_filters(logGroupName=g, limit=1)
    assert [f["filterName"] for f in page["subscriptionFilters"]] == ["one"]
    rest = logs.describe_subscription_filters(logGroupName=g, limit=1, nextToken=page["nextToken"])
    assert [f["filterName"] for f in rest["subscriptionFilters"]] == ["two"] and "nextToken" not in rest
    assert [f["filterName"] for f in logs.describe_subscription_filters(logGroupName=g, filterNamePrefix="tw")["subscriptionFilters"]] == ["two"]

    logs.delete_subscription_filter(logGroupName=g, filterName="two")
    with pytest.raises(ClientError) as e:
        logs.delete_subscription_filter(logGroupName=g, filterName="two")
    assert code(e) == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == "The specified subscription filter does not exist."
    with pytest.raises(ClientError) as e:
        logs.describe_subscription_filters(logGroupName="no-such-group")
    assert code(e) == "ResourceNotFoundException"
    # deleted with the group
    logs.delete_log_group(logGroupName=g)
    logs.create_log_group(logGroupName=g)
    assert logs.describe_subscription_filters(logGroupName=g)["subscriptionFilters"] == []


def test_kinesis_destination(server: NimbusProcess, logs: Any) -> None:
    g = group(logs, "sub-kinesis", "web-1")
    arn = kinesis_stream(server, "sub-kinesis-stream")
    logs.put_subscription_filter(logGroupName=g, filterName="errors", filterPattern="ERROR", destinationArn=arn, roleArn=ROLE)
    # the test message AWS puts when the filter is created
    (control,) = kinesis_messages(server, "sub-kinesis-stream")
    assert control["messageType"] == "CONTROL_MESSAGE" and control["logGroup"] == "" and control["subscriptionFilters"] == []
    assert control["logEvents"][0]["message"].startswith("CWL CONTROL MESSAGE")

    put(logs, g, "ERROR disk full", "INFO fine", "ERROR again", stream="web-1")
    put(logs, g, "INFO nothing to see", stream="web-1")
    messages = eventually(lambda: [m for m in kinesis_messages(server, "sub-kinesis-stream") if m["messageType"] == "DATA_MESSAGE"])
    assert len(messages) == 1
    (m,) = messages
    assert m["owner"] == "000000000000" and m["logGroup"] == g and m["logStream"] == "web-1"
    assert m["subscriptionFilters"] == ["errors"]
    assert [e["message"] for e in m["logEvents"]] == ["ERROR disk full", "ERROR again"]
    assert all(len(e["id"]) == 56 and e["id"].isdigit() for e in m["logEvents"])
    # the ids are FilterLogEvents' eventIds
    found = logs.filter_log_events(logGroupName=g, filterPattern="ERROR")["events"]
    assert [e["eventId"] for e in found] == [e["id"] for e in m["logEvents"]]
    assert [e["timestamp"] for e in found] == [e["timestamp"] for e in m["logEvents"]]


def test_lambda_destination_from_put_log_events_and_function_output(server: NimbusProcess, logs: Any) -> None:
    recorder = f"recorder-{uuid.uuid4().hex[:6]}"
    arn = function(server, recorder, RECORDER)
    g = group(logs, "sub-lambda")
    logs.put_subscription_filter(logGroupName=g, filterName="json-errors", filterPattern='{ $.level = "ERROR" }', destinationArn=arn)
    put(logs, g, json.dumps({"level": "ERROR", "n": 1}), json.dumps({"level": "INFO", "n": 2}), "plain text", json.dumps({"level": "ERROR", "n": 3}))
    (msg,) = eventually(lambda: received(logs, recorder))
    assert msg["messageType"] == "DATA_MESSAGE" and msg["logGroup"] == g and msg["logStream"] == "s"
    assert [json.loads(e["message"])["n"] for e in msg["logEvents"]] == [1, 3]

    # another function's own output (written through the runtime's log sink) is subscribed as well
    chatty = f"chatty-{uuid.uuid4().hex[:6]}"
    function(server, chatty, CHATTY)
    logs.create_log_group(logGroupName=f"/aws/lambda/{chatty}")  # as IaC does, before the first invoke
    logs.put_subscription_filter(logGroupName=f"/aws/lambda/{chatty}", filterName="payments", filterPattern='"payment failed"', destinationArn=arn)
    server.client("lambda").invoke(FunctionName=chatty, Payload=b'{"code": 42}')
    out = eventually(lambda: [m for m in received(logs, recorder) if m["logGroup"] == f"/aws/lambda/{chatty}"])
    messages = [e["message"] for m in out for e in m["logEvents"]]
    assert [x.strip() for x in messages] == ["payment failed code=42"]


def test_firehose_destination(server: NimbusProcess, logs: Any) -> None:
    s3, fh = server.client("s3"), server.client("firehose")
    s3.create_bucket(Bucket="sub-firehose")
    fh.create_delivery_stream(
        DeliveryStreamName="sub-fh",
        ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::sub-firehose",
                                            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 900}},
    )
    desc = eventually(lambda: (d := fh.describe_delivery_stream(DeliveryStreamName="sub-fh")["DeliveryStreamDescription"])["DeliveryStreamStatus"] == "ACTIVE" and d)
    g = group(logs, "sub-firehose")
    logs.put_subscription_filter(logGroupName=g, filterName="all", filterPattern="", destinationArn=desc["DeliveryStreamARN"], roleArn=ROLE)
    put(logs, g, "one", "two")

    # the control message and the data message are two gzip members; records are concatenated in one object
    def messages() -> list[dict[str, Any]]:
        req = urllib.request.Request(f"{server.endpoint}/_nimbus/firehose/flush/us-east-1/sub-fh", method="POST")
        urllib.request.urlopen(req, timeout=60).read()
        out: list[dict[str, Any]] = []
        for o in s3.list_objects_v2(Bucket="sub-firehose").get("Contents", []):
            out += _gzip_members(s3.get_object(Bucket="sub-firehose", Key=o["Key"])["Body"].read())
        return out if any(m["messageType"] == "DATA_MESSAGE" for m in out) else []

    got = eventually(messages)
    # objects delivered within one second may list in any order
    assert [m["logEvents"][0]["message"] for m in got if m["messageType"] == "CONTROL_MESSAGE"] == [
        "CWL CONTROL MESSAGE: Checking health of destination Firehose."]
    (data,) = [m for m in got if m["messageType"] == "DATA_MESSAGE"]
    assert [e["message"] for e in data["logEvents"]] == ["one", "two"]


def _gzip_members(blob: bytes) -> list[dict[str, Any]]:
    import zlib

    out = []
    while blob:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out.append(json.loads(d.decompress(blob)))
        blob = d.unused_data
    return out


def test_filters_survive_restart(tmp_path: Any) -> None:
    p = NimbusProcess(tmp_path / "data", env=ENV).start()
    try:
        logs = p.client("logs")
        arn = kinesis_stream(p, "restart-stream")
        group(logs, "sub-restart")
        logs.put_subscription_filter(logGroupName="sub-restart", filterName="f", filterPattern="keep", destinationArn=arn, roleArn=ROLE)
        put(logs, "sub-restart", "keep 1", "drop 1")
        eventually(lambda: len(kinesis_messages(p, "restart-stream")) == 2)
        p.restart()
        logs = p.client("logs")
        assert [f["filterName"] for f in logs.describe_subscription_filters(logGroupName="sub-restart")["subscriptionFilters"]] == ["f"]
        put(logs, "sub-restart", "keep 2", "drop 2")
        eventually(lambda: len(kinesis_messages(p, "restart-stream")) >= 3)
        got = kinesis_messages(p, "restart-stream")
        # nothing delivered twice across the restart
        assert [[e["message"] for e in m["logEvents"]] for m in got[1:]] == [["keep 1"], ["keep 2"]]
    finally:
        p.stop()


def test_kill9_delivers_what_was_pending_after_restart(tmp_path: Any) -> None:
    """Events acknowledged by PutLogEvents reach the destination even when the server is killed right after
    (whatever was still queued is delivered from the durable positions at boot): at least once."""
    p = NimbusProcess(tmp_path / "data", env=ENV).start()
    try:
        logs = p.client("logs")
        arn = kinesis_stream(p, "kill-stream")
        group(logs, "sub-kill")
        logs.put_subscription_filter(logGroupName="sub-kill", filterName="f", filterPattern="", destinationArn=arn, roleArn=ROLE)
        sent = [f"event {i}" for i in range(40)]
        for i in range(0, 40, 2):
            put(logs, "sub-kill", sent[i], sent[i + 1])
        p.kill9()
        p.start()

        def delivered() -> set[str]:
            return {e["message"] for m in kinesis_messages(p, "kill-stream") if m["messageType"] == "DATA_MESSAGE" for e in m["logEvents"]}

        assert eventually(lambda: delivered() >= set(sent))
    finally:
        p.stop()

"""Event source mappings (Lambda <- Kinesis) end to end: real functions in the runtime, records read back
from the functions' CloudWatch logs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import NimbusProcess
from tests.integration.kinesis.helpers import create_active, read_shard
from tests.integration.lambda_.functions import create

ENV = {"NIMBUS_KINESIS_STATE_DELAY_SECONDS": "0", "NIMBUS_KINESIS_ESM_POLL_SECONDS": "0.05"}

PRINTER = """
import base64, json
def handler(event, context):
    first = event["Records"][0]
    print("EVENT " + json.dumps({k: v for k, v in first.items() if k != "kinesis"} | {"kinesis_keys": sorted(first["kinesis"])}))
    for r in event["Records"]:
        print("GOT " + base64.b64decode(r["kinesis"]["data"]).decode())
"""

POISON = """
import base64
def handler(event, context):
    datas = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    if "poison" in datas:
        raise ValueError("poison in batch")
    for d in datas:
        print("GOT " + d)
"""

PARTIAL = """
import base64, os
def handler(event, context):
    failures = []
    for r in event["Records"]:
        d = base64.b64decode(r["kinesis"]["data"]).decode()
        print("GOT " + d)
        if d == "flaky" and not os.path.exists("/tmp/flaky-seen"):
            open("/tmp/flaky-seen", "w").close()
            failures.append({"itemIdentifier": r["kinesis"]["sequenceNumber"]})
            break
    return {"batchItemFailures": failures}
"""

WINDOW = """
import base64
def handler(event, context):
    total = event["state"].get("sum", 0) + sum(int(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"])
    if event["isFinalInvokeForWindow"]:
        print("FINAL %d" % total)
    return {"state": {"sum": total}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    p = NimbusProcess(tmp_path_factory.mktemp("kinesis-esm") / "data", env=ENV).start()
    try:
        yield p
    finally:
        p.stop()


def lines(server: NimbusProcess, function: str, prefix: str) -> list[str]:
    logs = server.client("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    except Exception:  # noqa: BLE001 - group not created yet
        return []
    events.sort(key=lambda e: (e["timestamp"], e.get("ingestionTime", 0)))
    out = []
    for e in events:
        for line in e["message"].splitlines():
            if line.startswith(prefix + " "):
                out.append(line[len(prefix) + 1 :])
    return out


def wait_for(cond: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def setup(server: NimbusProcess, name: str, source: str, shards: int = 1, **mapping: Any) -> tuple[Any, Any, str, str]:
    k, lam = server.client("kinesis"), server.client("lambda")
    create(lam, name, source)
    create_active(k, name, shards)
    arn = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON", **mapping)
    return k, lam, arn, m["UUID"]


def test_records_delivered_in_order_in_aws_format(server: NimbusProcess) -> None:
    k, lam, arn, uid = setup(server, "esm-order", PRINTER, shards=2, BatchSize=7)
    cfg = lam.get_event_source_mapping(UUID=uid)
    assert cfg["EventSourceArn"] == arn and cfg["BatchSize"] == 7 and cfg["StartingPosition"] == "TRIM_HORIZON"
    assert cfg["FunctionArn"].endswith(":function:esm-order")
    for i in range(20):
        for key in ("a", "b", "c"):
            k.put_record(StreamName="esm-order", Data=f"{key}{i}".encode(), PartitionKey=key)
    wait_for(lambda: len(lines(server, "esm-order", "GOT")) >= 60)
    got = lines(server, "esm-order", "GOT")
    assert len(got) == 60
    for key in ("a", "b", "c"):
        assert [g for g in got if g[0] == key] == [f"{key}{i}" for i in range(20)]
    event = json.loads(lines(server, "esm-order", "EVENT")[0])
    assert event["eventSource"] == "aws:kinesis" and event["eventName"] == "aws:kinesis:record"
    assert event["eventSourceARN"] == arn and event["awsRegion"] == "us-east-1" and event["eventVersion"] == "1.0"
    assert event["eventID"].startswith("shardId-00000000000") and event["invokeIdentityArn"].startswith("arn:aws:iam::")
    assert event["kinesis_keys"] == ["approximateArrivalTimestamp", "data", "kinesisSchemaVersion", "partitionKey", "sequenceNumber"]
    listed = lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uid]
    assert lam.update_event_source_mapping(UUID=uid, BatchSize=50)["BatchSize"] == 50
    lam.delete_event_source_mapping(UUID=uid)
    with pytest.raises(Exception) as e:
        lam.get_event_source_mapping(UUID=uid)
    assert "ResourceNotFoundException" in str(e.value)


def test_bisect_isolates_poison_record_and_sends_it_to_on_failure(server: NimbusProcess) -> None:
    k = server.client("kinesis")
    create_active(k, "esm-dlq", 1)
    dlq_arn = k.describe_stream_summary(StreamName="esm-dlq")["StreamDescriptionSummary"]["StreamARN"]
    records = [{"Data": (b"poison" if i == 6 else f"r{i}".encode()), "PartitionKey": "k"} for i in range(12)]
    lam = server.client("lambda")
    create(lam, "esm-poison", POISON)
    create_active(k, "esm-poison", 1)
    k.put_records(StreamName="esm-poison", Records=records)
    arn = k.describe_stream_summary(StreamName="esm-poison")["StreamDescriptionSummary"]["StreamARN"]
    lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="esm-poison", StartingPosition="TRIM_HORIZON", BatchSize=12,
        BisectBatchOnFunctionError=True, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
    )
    wait_for(lambda: len(read_shard(k, "shardId-000000000000", "esm-dlq")[0]) >= 1)
    failure = json.loads(read_shard(k, "shardId-000000000000", "esm-dlq")[0][0]["Data"])
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["KinesisBatchInfo"]["batchSize"] == 1 and failure["KinesisBatchInfo"]["streamArn"] == arn
    wait_for(lambda: len(lines(server, "esm-poison", "GOT")) >= 11)
    assert lines(server, "esm-poison", "GOT") == [f"r{i}" for i in range(12) if i != 6]


def test_report_batch_item_failures_retries_from_the_failed_record(server: NimbusProcess) -> None:
    k, lam, arn, uid = setup(server, "esm-partial", PARTIAL, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
    k.put_records(StreamName="esm-partial", Records=[{"Data": d.encode(), "PartitionKey": "k"} for d in ("a", "b", "flaky", "c", "d")])
    wait_for(lambda: lines(server, "esm-partial", "GOT")[-1:] == ["d"])
    assert lines(server, "esm-partial", "GOT") == ["a", "b", "flaky", "flaky", "c", "d"]
    assert lam.get_event_source_mapping(UUID=uid)["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_tumbling_window_sums_with_state(server: NimbusProcess) -> None:
    k, lam, arn, uid = setup(server, "esm-window", WINDOW, TumblingWindowInSeconds=1, BatchSize=2)
    k.put_records(StreamName="esm-window", Records=[{"Data": str(v).encode(), "PartitionKey": "k"} for v in (1, 2, 3, 4)])
    wait_for(lambda: bool(lines(server, "esm-window", "FINAL")))
    assert lines(server, "esm-window", "FINAL")[0] == "10"


def test_checkpoints_survive_restart(tmp_path: Any) -> None:
    server = NimbusProcess(tmp_path / "data", env=ENV).start()
    try:
        k, lam, arn, uid = setup(server, "esm-restart", PRINTER)
        k.put_records(StreamName="esm-restart", Records=[{"Data": f"x{i}".encode(), "PartitionKey": "k"} for i in range(5)])
        wait_for(lambda: len(lines(server, "esm-restart", "GOT")) == 5)
        server.restart()
        k = server.client("kinesis")
        k.put_records(StreamName="esm-restart", Records=[{"Data": f"y{i}".encode(), "PartitionKey": "k"} for i in range(3)])
        wait_for(lambda: len(lines(server, "esm-restart", "GOT")) >= 8)
        time.sleep(0.3)
        assert lines(server, "esm-restart", "GOT") == [f"x{i}" for i in range(5)] + [f"y{i}" for i in range(3)]
    finally:
        server.stop()

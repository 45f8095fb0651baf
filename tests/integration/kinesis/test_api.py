"""Kinesis Data Streams end to end with boto3 and the AWS CLI against a real server."""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.kinesis.helpers import FAST_ENV, code, create_active, read_shard, wait_active

MAX = 2**128 - 1


@pytest.fixture(scope="module")
def slow_states(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    """A server whose streams stay CREATING long enough to observe it, however loaded the machine is."""
    p = NimbusProcess(tmp_path_factory.mktemp("kinesis-states") / "data", env={**FAST_ENV, "NIMBUS_KINESIS_STATE_DELAY_SECONDS": "1.5"}).start()
    try:
        yield p
    finally:
        p.stop()


def test_create_states_and_describe(slow_states: NimbusProcess) -> None:
    k = slow_states.client("kinesis")
    k.create_stream(StreamName="life", ShardCount=3)
    first = k.describe_stream(StreamName="life")["StreamDescription"]
    assert first["StreamStatus"] == "CREATING"
    with pytest.raises(ClientError) as e:
        k.put_record(StreamName="life", Data=b"x", PartitionKey="k")
    assert code(e) == "ResourceNotFoundException"
    wait_active(k, "life")
    d = k.describe_stream(StreamName="life")["StreamDescription"]
    assert d["StreamARN"] == "arn:aws:kinesis:us-east-1:000000000000:stream/life"
    assert d["RetentionPeriodHours"] == 24 and d["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert [s["ShardId"] for s in d["Shards"]] == [f"shardId-00000000000{i}" for i in range(3)]
    ranges = [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"])) for s in d["Shards"]]
    size = (MAX + 1) // 3
    assert ranges == [(0, size - 1), (size, 2 * size - 1), (2 * size, MAX)]
    assert all(len(s["SequenceNumberRange"]["StartingSequenceNumber"]) == 56 for s in d["Shards"])
    with pytest.raises(ClientError) as e:
        k.create_stream(StreamName="life", ShardCount=1)
    assert code(e) == "ResourceInUseException"
    summary = k.describe_stream_summary(StreamARN=d["StreamARN"])["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3 and summary["ConsumerCount"] == 0
    k.delete_stream(StreamName="life")
    assert k.describe_stream(StreamName="life")["StreamDescription"]["StreamStatus"] == "DELETING"
    deadline = time.monotonic() + 5
    while True:
        try:
            k.describe_stream(StreamName="life")
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ResourceNotFoundException"
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_on_demand_and_mode_switch(k) -> None:  # type: ignore[no-untyped-def]
    k.create_stream(StreamName="od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    d = wait_active(k, "od")
    assert d["OpenShardCount"] == 4 and d["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"
    with pytest.raises(ClientError) as e:
        k.update_shard_count(StreamName="od", TargetShardCount=8, ScalingType="UNIFORM_SCALING")
    assert code(e) == "ValidationException"
    k.update_stream_mode(StreamARN=d["StreamARN"], StreamModeDetails={"StreamMode": "PROVISIONED"})
    d = wait_active(k, "od")
    assert d["StreamModeDetails"]["StreamMode"] == "PROVISIONED"


def test_list_streams_paged(k) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        k.create_stream(StreamName=f"page-{i}", ShardCount=1)
    seen: list[str] = []
    r = k.list_streams(Limit=2)
    while True:
        seen += [n for n in r["StreamNames"] if n.startswith("page-")]
        assert len(r["StreamSummaries"]) == len(r["StreamNames"])
        if not r["HasMoreStreams"]:
            break
        r = k.list_streams(NextToken=r["NextToken"], Limit=2)
    assert seen == [f"page-{i}" for i in range(5)]
    paginated = [n for page in k.get_paginator("list_streams").paginate(PaginationConfig={"PageSize": 3}) for n in page["StreamNames"]]
    assert [n for n in paginated if n.startswith("page-")] == seen
    for i in range(5):  # at most 5 streams may be CREATING at once (B.2): let later tests create theirs
        wait_active(k, f"page-{i}")


def test_put_routing_ordering_and_records(k) -> None:  # type: ignore[no-untyped-def]
    create_active(k, "rt", 4)
    shards = k.list_shards(StreamName="rt")["Shards"]
    r = k.put_record(StreamName="rt", Data=b"hello", PartitionKey="pk-1")
    h = int(hashlib.md5(b"pk-1").hexdigest(), 16)
    owner = next(s for s in shards if int(s["HashKeyRange"]["StartingHashKey"]) <= h <= int(s["HashKeyRange"]["EndingHashKey"]))
    assert r["ShardId"] == owner["ShardId"] and len(r["SequenceNumber"]) == 56
    r2 = k.put_record(StreamName="rt", Data=b"last", PartitionKey="x", ExplicitHashKey=str(MAX))
    assert r2["ShardId"] == "shardId-000000000003"
    r3 = k.put_record(StreamName="rt", Data=b"next", PartitionKey="x", ExplicitHashKey=str(MAX), SequenceNumberForOrdering=r2["SequenceNumber"])
    assert int(r3["SequenceNumber"]) > int(r2["SequenceNumber"])
    batch = k.put_records(StreamName="rt", Records=[{"Data": f"d{i}".encode(), "PartitionKey": f"k{i % 10}"} for i in range(500)])
    assert batch["FailedRecordCount"] == 0 and len(batch["Records"]) == 500
    got = {}
    for s in shards:
        records, _ = read_shard(k, s["ShardId"], "rt")
        got[s["ShardId"]] = records
        seqs = [int(x["SequenceNumber"]) for x in records]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # per-shard order equals write order
    for s in shards:
        expected = [f"d{i}".encode() for i, e in enumerate(batch["Records"]) if e["ShardId"] == s["ShardId"]]
        assert [x["Data"] for x in got[s["ShardId"]] if x["Data"].startswith(b"d")] == expected
    rec = got[owner["ShardId"]][0]
    assert rec["Data"] == b"hello" and rec["PartitionKey"] == "pk-1" and rec["ApproximateArrivalTimestamp"].year >= 2024


def test_concurrent_writers_keep_per_key_order(server: NimbusProcess) -> None:
    k0 = server.client("kinesis")
    create_active(k0, "conc", 2)

    def writer(w: int) -> None:
        kw = server.client("kinesis")
        for i in range(30):
            kw.put_record(StreamName="conc", Data=f"{w}:{i}".encode(), PartitionKey=f"writer-{w}")

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    per_writer: dict[str, list[int]] = {}
    for s in k0.list_shards(StreamName="conc")["Shards"]:
        for r in read_shard(k0, s["ShardId"], "conc")[0]:
            w, i = r["Data"].decode().split(":")
            per_writer.setdefault(w, []).append(int(i))
    assert per_writer == {str(w): list(range(30)) for w in range(4)}


def test_iterator_types(k) -> None:  # type: ignore[no-untyped-def]
    create_active(k, "its", 1)
    sid = "shardId-000000000000"
    a = k.put_record(StreamName="its", Data=b"a", PartitionKey="k")
    time.sleep(0.02)
    mid = time.time()
    time.sleep(0.02)
    b = k.put_record(StreamName="its", Data=b"b", PartitionKey="k")
    latest = k.get_shard_iterator(StreamName="its", ShardId=sid, ShardIteratorType="LATEST")["ShardIterator"]
    k.put_record(StreamName="its", Data=b"c", PartitionKey="k")
    assert [r["Data"] for r in k.get_records(ShardIterator=latest)["Records"]] == [b"c"]
    assert [r["Data"] for r in read_shard(k, sid, "its")[0]] == [b"a", b"b", b"c"]
    at = read_shard(k, sid, "its", "AT_SEQUENCE_NUMBER", StartingSequenceNumber=b["SequenceNumber"])[0]
    assert [r["Data"] for r in at] == [b"b", b"c"]
    after = read_shard(k, sid, "its", "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=a["SequenceNumber"])[0]
    assert [r["Data"] for r in after] == [b"b", b"c"]
    ts = read_shard(k, sid, "its", "AT_TIMESTAMP", Timestamp=mid)[0]
    assert [r["Data"] for r in ts] == [b"b", b"c"]
    page = k.get_records(ShardIterator=k.get_shard_iterator(StreamName="its", ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"], Limit=1)
    assert len(page["Records"]) == 1 and page["MillisBehindLatest"] >= 0 and page["NextShardIterator"]


def test_bad_input_errors(k, server: NimbusProcess) -> None:  # type: ignore[no-untyped-def]
    create_active(k, "bad", 1)
    sid = "shardId-000000000000"
    cases = [
        (lambda: k.describe_stream(StreamName="nope"), "ResourceNotFoundException"),
        (lambda: k.put_record(StreamName="nope", Data=b"x", PartitionKey="k"), "ResourceNotFoundException"),
        (lambda: k.get_shard_iterator(StreamName="bad", ShardId="shardId-000000000009", ShardIteratorType="LATEST"), "ResourceNotFoundException"),
        (lambda: k.get_shard_iterator(StreamName="bad", ShardId=sid, ShardIteratorType="AT_SEQUENCE_NUMBER"), "InvalidArgumentException"),
        (lambda: k.get_shard_iterator(StreamName="bad", ShardId=sid, ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber="123"), "InvalidArgumentException"),
        (lambda: k.get_records(ShardIterator="garbage-iterator"), "InvalidArgumentException"),
        (lambda: k.put_record(StreamName="bad", Data=b"x", PartitionKey="k", ExplicitHashKey=str(MAX + 1)), "InvalidArgumentException"),
        (lambda: k.put_record(StreamName="bad", Data=b"x" * (1024 * 1024 + 1), PartitionKey="k"), "ValidationException"),
        (lambda: k.put_records(StreamName="bad", Records=[{"Data": b"x", "PartitionKey": "k"}] * 501), "ValidationException"),
        (lambda: k.split_shard(StreamName="bad", ShardToSplit=sid, NewStartingHashKey="0"), "InvalidArgumentException"),
        (lambda: k.decrease_stream_retention_period(StreamName="bad", RetentionPeriodHours=24), "InvalidArgumentException"),
        (lambda: k.increase_stream_retention_period(StreamName="bad", RetentionPeriodHours=9000), "InvalidArgumentException"),
        (lambda: k.create_stream(StreamName="bad name!", ShardCount=1), "ValidationException"),
    ]
    for call, expected in cases:
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == expected, (expected, e.value.response["Error"])
    it = k.get_shard_iterator(StreamName="bad", ShardId=sid, ShardIteratorType="LATEST")["ShardIterator"]
    with pytest.raises(ClientError) as e:
        k.get_records(ShardIterator=it, Limit=10001)
    assert code(e) in ("InvalidArgumentException", "ValidationException")
    big = [{"Data": b"x" * 1_000_000, "PartitionKey": "k"}] * 6
    with pytest.raises(ClientError) as e:
        k.put_records(StreamName="bad", Records=big)
    assert code(e) == "InvalidArgumentException"
    # the server still serves
    assert k.put_record(StreamName="bad", Data=b"ok", PartitionKey="k")["ShardId"] == sid


def test_split_merge_update_shard_count_and_child_shards(slow_states: NimbusProcess) -> None:
    k = slow_states.client("kinesis")
    create_active(k, "rs", 1)
    for i in range(10):
        k.put_record(StreamName="rs", Data=f"p{i}".encode(), PartitionKey=f"k{i}")
    k.split_shard(StreamName="rs", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
    assert k.describe_stream_summary(StreamName="rs")["StreamDescriptionSummary"]["StreamStatus"] == "UPDATING"
    with pytest.raises(ClientError) as e:
        k.merge_shards(StreamName="rs", ShardToMerge="shardId-000000000001", AdjacentShardToMerge="shardId-000000000002")
    assert code(e) == "ResourceInUseException"
    wait_active(k, "rs")
    for i in range(10):
        k.put_record(StreamName="rs", Data=f"c{i}".encode(), PartitionKey=f"k{i}")
    shards = {s["ShardId"]: s for s in k.list_shards(StreamName="rs")["Shards"]}
    assert "EndingSequenceNumber" in shards["shardId-000000000000"]["SequenceNumberRange"]
    assert shards["shardId-000000000001"]["ParentShardId"] == "shardId-000000000000"
    parent, last = read_shard(k, "shardId-000000000000", "rs")
    assert [r["Data"] for r in parent] == [f"p{i}".encode() for i in range(10)]
    assert "NextShardIterator" not in last
    assert sorted(c["ShardId"] for c in last["ChildShards"]) == ["shardId-000000000001", "shardId-000000000002"]
    children = [r["Data"] for c in last["ChildShards"] for r in read_shard(k, c["ShardId"], "rs")[0]]
    assert sorted(children) == sorted(f"c{i}".encode() for i in range(10))
    open_only = k.list_shards(StreamName="rs", ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert [s["ShardId"] for s in open_only] == ["shardId-000000000001", "shardId-000000000002"]
    k.merge_shards(StreamName="rs", ShardToMerge="shardId-000000000001", AdjacentShardToMerge="shardId-000000000002")
    wait_active(k, "rs")
    merged = k.list_shards(StreamName="rs", ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert merged[0]["AdjacentParentShardId"] == "shardId-000000000002"
    out = k.update_shard_count(StreamName="rs", TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    assert out["CurrentShardCount"] == 1 and out["TargetShardCount"] == 2
    wait_active(k, "rs")
    assert len(k.list_shards(StreamName="rs", ShardFilter={"Type": "AT_LATEST"})["Shards"]) == 2
    # paging ListShards with NextToken
    page = k.list_shards(StreamName="rs", MaxResults=2)
    rest = k.list_shards(NextToken=page["NextToken"])
    assert len(page["Shards"]) + len(rest["Shards"]) == len(k.list_shards(StreamName="rs")["Shards"])
    with pytest.raises(ClientError) as e:
        k.list_shards(StreamName="rs", NextToken=page["NextToken"])
    assert code(e) == "InvalidArgumentException"


def test_split_while_writers_run_loses_nothing(server: NimbusProcess) -> None:
    k0 = server.client("kinesis")
    create_active(k0, "live", 1)
    acked: list[bytes] = []
    stop = threading.Event()

    def writer(w: int) -> None:
        kw = server.client("kinesis")
        i = 0
        while not stop.is_set() or i < 20:
            data = f"{w}-{i}".encode()
            r = kw.put_records(StreamName="live", Records=[{"Data": data, "PartitionKey": f"{w}-{i}"}])
            assert r["FailedRecordCount"] == 0
            acked.append(data)
            i += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    k0.split_shard(StreamName="live", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
    wait_active(k0, "live")
    k0.merge_shards(StreamName="live", ShardToMerge="shardId-000000000001", AdjacentShardToMerge="shardId-000000000002")
    stop.set()
    for t in threads:
        t.join()
    got: list[bytes] = []
    for s in k0.list_shards(StreamName="live")["Shards"]:
        got += [r["Data"] for r in read_shard(k0, s["ShardId"], "live")[0]]
    assert sorted(got) == sorted(acked) and len(got) == len(set(got))


def test_tags_retention_encryption_monitoring(k) -> None:  # type: ignore[no-untyped-def]
    create_active(k, "meta", 1)
    arn = k.describe_stream_summary(StreamName="meta")["StreamDescriptionSummary"]["StreamARN"]
    k.add_tags_to_stream(StreamName="meta", Tags={"a": "1", "b": "2", "c": "3"})
    k.remove_tags_from_stream(StreamARN=arn, TagKeys=["b"])
    t = k.list_tags_for_stream(StreamName="meta", Limit=1)
    assert t["Tags"] == [{"Key": "a", "Value": "1"}] and t["HasMoreTags"]
    assert k.list_tags_for_stream(StreamName="meta", ExclusiveStartTagKey="a")["Tags"] == [{"Key": "c", "Value": "3"}]
    k.increase_stream_retention_period(StreamName="meta", RetentionPeriodHours=48)
    assert k.describe_stream_summary(StreamName="meta")["StreamDescriptionSummary"]["RetentionPeriodHours"] == 48
    k.decrease_stream_retention_period(StreamName="meta", RetentionPeriodHours=24)
    k.start_stream_encryption(StreamName="meta", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    d = wait_active(k, "meta")
    assert d["EncryptionType"] == "KMS" and d["KeyId"] == "alias/aws/kinesis"
    assert k.put_record(StreamName="meta", Data=b"x", PartitionKey="k")["EncryptionType"] == "KMS"
    k.stop_stream_encryption(StreamName="meta", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    assert wait_active(k, "meta")["EncryptionType"] == "NONE"
    m = k.enable_enhanced_monitoring(StreamName="meta", ShardLevelMetrics=["IncomingBytes"])
    assert m["DesiredShardLevelMetrics"] == ["IncomingBytes"]
    lim = k.describe_limits()
    assert lim["ShardLimit"] == 500 and lim["OpenShardCount"] >= 1


def test_consumers_and_subscribe_to_shard(k) -> None:  # type: ignore[no-untyped-def]
    create_active(k, "efo", 1)
    arn = k.describe_stream_summary(StreamName="efo")["StreamDescriptionSummary"]["StreamARN"]
    c = k.register_stream_consumer(StreamARN=arn, ConsumerName="app")["Consumer"]
    assert c["ConsumerARN"].startswith(arn + "/consumer/app:") and c["ConsumerStatus"] == "CREATING"
    with pytest.raises(ClientError) as e:
        k.register_stream_consumer(StreamARN=arn, ConsumerName="app")
    assert code(e) == "ResourceInUseException"
    deadline = time.monotonic() + 5
    while k.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])["ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert [x["ConsumerName"] for x in k.list_stream_consumers(StreamARN=arn)["Consumers"]] == ["app"]
    for i in range(3):
        k.put_record(StreamName="efo", Data=f"e{i}".encode(), PartitionKey="k")
    sub = k.subscribe_to_shard(ConsumerARN=c["ConsumerARN"], ShardId="shardId-000000000000", StartingPosition={"Type": "TRIM_HORIZON"})
    events = sub["EventStream"]
    first = next(iter(events))["SubscribeToShardEvent"]
    assert [r["Data"] for r in first["Records"]] == [b"e0", b"e1", b"e2"]
    assert first["ContinuationSequenceNumber"] == first["Records"][-1]["SequenceNumber"]
    events.close()
    with pytest.raises(ClientError) as e:
        k.delete_stream(StreamName="efo")
    assert code(e) == "ResourceInUseException"
    k.deregister_stream_consumer(StreamARN=arn, ConsumerName="app")
    assert k.list_stream_consumers(StreamARN=arn)["Consumers"] == []
    k.register_stream_consumer(StreamARN=arn, ConsumerName="again")
    k.delete_stream(StreamName="efo", EnforceConsumerDeletion=True)


def test_aws_cli(server: NimbusProcess) -> None:
    server.aws("kinesis", "create-stream", "--stream-name", "cli", "--shard-count", "1")
    k0 = server.client("kinesis")
    wait_active(k0, "cli")
    out = json.loads(server.aws("kinesis", "put-record", "--stream-name", "cli", "--partition-key", "k", "--data", "aGVsbG8=").stdout)
    assert out["ShardId"] == "shardId-000000000000"
    it = json.loads(server.aws("kinesis", "get-shard-iterator", "--stream-name", "cli", "--shard-id", out["ShardId"], "--shard-iterator-type", "TRIM_HORIZON").stdout)["ShardIterator"]
    recs = json.loads(server.aws("kinesis", "get-records", "--shard-iterator", it).stdout)["Records"]
    assert len(recs) == 1 and recs[0]["PartitionKey"] == "k"
    names = json.loads(server.aws("kinesis", "list-streams").stdout)["StreamNames"]
    assert "cli" in names
    cp = server.aws("kinesis", "describe-stream", "--stream-name", "missing", check=False)
    assert cp.returncode != 0 and "ResourceNotFoundException" in cp.stderr


def test_put_records_fast_path_and_its_fallbacks(k) -> None:  # type: ignore[no-untyped-def]
    """One open shard, plain entries: the list-wide path; an ExplicitHashKey, a record over the limit or a
    missing key take the general path, with its answers; everything written reads back in order."""
    create_active(k, "plain", 1)
    sid = "shardId-000000000000"
    r1 = k.put_records(StreamName="plain", Records=[{"Data": f"a{i}".encode(), "PartitionKey": f"k{i}é"} for i in range(300)])
    assert r1["FailedRecordCount"] == 0 and {e["ShardId"] for e in r1["Records"]} == {sid}
    numbers = [int(e["SequenceNumber"]) for e in r1["Records"]]
    assert numbers == sorted(numbers) and len(set(numbers)) == 300
    r2 = k.put_records(StreamName="plain", Records=[{"Data": b"b0", "PartitionKey": "k"}, {"Data": b"b1", "PartitionKey": "k", "ExplicitHashKey": "7"}])
    assert r2["FailedRecordCount"] == 0 and int(r2["Records"][0]["SequenceNumber"]) > numbers[-1]
    with pytest.raises(ClientError) as e:
        k.put_records(StreamName="plain", Records=[{"Data": b"c", "PartitionKey": "k"}, {"Data": b"x" * (1024 * 1024), "PartitionKey": "kk"}])
    assert code(e) == "ValidationException" and "records.2.member.data" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        k.put_records(StreamName="nope", Records=[{"Data": b"c", "PartitionKey": "k"}])
    assert code(e) == "ResourceNotFoundException"
    records, _ = read_shard(k, sid, "plain")
    assert [r["Data"] for r in records] == [f"a{i}".encode() for i in range(300)] + [b"b0", b"b1"]
    assert [r["PartitionKey"] for r in records[:300]] == [f"k{i}é" for i in range(300)]
    assert [r["SequenceNumber"] for r in records[:300]] == [e["SequenceNumber"] for e in r1["Records"]]


def test_an_abandoned_subscription_ends_with_its_connection(tmp_path: Path) -> None:
    """A client that closes its SubscribeToShard stream ends the subscription on the server (it used to run
    its five minutes for nobody, so that a graceful shutdown timed out waiting for it)."""
    p = NimbusProcess(tmp_path / "data").start()
    try:
        k = p.client("kinesis")
        create_active(k, "gone", 1)
        arn = k.describe_stream_summary(StreamName="gone")["StreamDescriptionSummary"]["StreamARN"]
        c = k.register_stream_consumer(StreamARN=arn, ConsumerName="app")["Consumer"]
        while k.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])["ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
            time.sleep(0.05)
        events = k.subscribe_to_shard(ConsumerARN=c["ConsumerARN"], ShardId="shardId-000000000000",
                                      StartingPosition={"Type": "LATEST"})["EventStream"]
        next(iter(events))
        events.close()  # the connection goes with it
        time.sleep(2.5)  # the server notices at its next heartbeat (one a second)
        # a graceful stop finishes: nothing left streaming (else uvicorn waits its 30 s and the stop kills it)
        rc = p.stop(timeout=20)
        assert rc in (0, -signal.SIGTERM), p.logs()[-2000:]  # uvicorn re-raises the SIGTERM it handled; -9 is the kill
    finally:
        p.stop()

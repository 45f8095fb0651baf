"""Kinesis details an AWS user runs into: argument rules, limits and the wording of AWS's errors.

Each test here was written against a discrepancy found auditing Nimbus against the botocore model and
AWS's documented (or widely reported) answers.
"""

from __future__ import annotations

import re
import time

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.kinesis.helpers import FAST_ENV, code, create_active, wait_active


def message(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Message"])


def test_get_shard_iterator_argument_rules(k) -> None:  # type: ignore[no-untyped-def]
    create_active(k, "gsi", 2)
    s0, s1 = "shardId-000000000000", "shardId-000000000001"
    on_s1 = k.put_record(StreamName="gsi", Data=b"x", PartitionKey="k", ExplicitHashKey=str(2**128 - 1))
    assert on_s1["ShardId"] == s1
    seq = on_s1["SequenceNumber"]
    rule = (
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or "
        "(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
    )
    for kind in ("TRIM_HORIZON", "LATEST"):  # a sequence number with a type that takes none is refused
        with pytest.raises(ClientError) as e:
            k.get_shard_iterator(StreamName="gsi", ShardId=s1, ShardIteratorType=kind, StartingSequenceNumber=seq)
        assert code(e) == "InvalidArgumentException"
        assert message(e) == rule + f"Request specified {kind} and also a StartingSequenceNumber."
    with pytest.raises(ClientError) as e:
        k.get_shard_iterator(StreamName="gsi", ShardId=s1, ShardIteratorType="AFTER_SEQUENCE_NUMBER")
    assert message(e) == rule + "Request specified AFTER_SEQUENCE_NUMBER and no StartingSequenceNumber."
    with pytest.raises(ClientError) as e:
        k.get_shard_iterator(StreamName="gsi", ShardId=s1, ShardIteratorType="AT_TIMESTAMP")
    assert code(e) == "InvalidArgumentException"
    assert message(e) == (
        "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter."
    )
    with pytest.raises(ClientError) as e:  # a day ahead of the server's clock
        k.get_shard_iterator(StreamName="gsi", ShardId=s1, ShardIteratorType="AT_TIMESTAMP", Timestamp=time.time() + 86400)
    assert code(e) == "InvalidArgumentException"
    assert message(e).startswith("The timestampInMillis parameter cannot be greater than the currentTimestampInMillis.")
    with pytest.raises(ClientError) as e:  # a number of this stream, but of another shard
        k.get_shard_iterator(StreamName="gsi", ShardId=s0, ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=seq)
    assert code(e) == "InvalidArgumentException"
    assert message(e) == f"Invalid StartingSequenceNumber. It encodes {s1}, while it was used in a call to a shard with {s0}"
    with pytest.raises(ClientError) as e:
        k.get_shard_iterator(StreamName="gsi", ShardId=s0, ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber="123")
    assert message(e) == (
        f"StartingSequenceNumber 123 used in GetShardIterator on shard {s0} in stream gsi under account 000000000000 is invalid."
    )
    # the right combinations still work
    it = k.get_shard_iterator(StreamName="gsi", ShardId=s1, ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=seq)
    assert [r["Data"] for r in k.get_records(ShardIterator=it["ShardIterator"])["Records"]] == [b"x"]
    past = k.get_shard_iterator(StreamName="gsi", ShardId=s1, ShardIteratorType="AT_TIMESTAMP", Timestamp=time.time() - 60)
    assert [r["Data"] for r in k.get_records(ShardIterator=past["ShardIterator"])["Records"]] == [b"x"]


def test_list_shards_next_token_stands_alone(k) -> None:  # type: ignore[no-untyped-def]
    create_active(k, "lsn", 3)
    arn = k.describe_stream_summary(StreamName="lsn")["StreamDescriptionSummary"]["StreamARN"]
    token = k.list_shards(StreamARN=arn, MaxResults=1)["NextToken"]
    others = {
        "StreamName": "lsn",
        "StreamARN": arn,
        "ExclusiveStartShardId": "shardId-000000000000",
        "ShardFilter": {"Type": "AT_LATEST"},
        "StreamCreationTimestamp": 1_700_000_000,
    }
    for member, value in others.items():
        with pytest.raises(ClientError) as e:
            k.list_shards(NextToken=token, **{member: value})
        assert code(e) == "InvalidArgumentException"
        assert message(e) == f"NextToken and {member} cannot be provided together."
    rest = k.list_shards(NextToken=token, MaxResults=5)  # MaxResults may come with it
    assert [s["ShardId"] for s in rest["Shards"]] == ["shardId-000000000001", "shardId-000000000002"]


def test_dry_run_checks_and_does_nothing(k) -> None:  # type: ignore[no-untyped-def]
    """DryRun (PutRecord, PutRecords, GetShardIterator, GetRecords, SubscribeToShard): the checks of the
    real call, then DryRunOperationException; nothing is written or read."""
    create_active(k, "dry", 1)
    sid = "shardId-000000000000"

    def dry(call, **kw):  # type: ignore[no-untyped-def]
        with pytest.raises(ClientError) as e:
            call(DryRun=True, **kw)
        return code(e)

    assert dry(k.put_record, StreamName="dry", Data=b"p", PartitionKey="k") == "DryRunOperationException"
    assert dry(k.put_records, StreamName="dry", Records=[{"Data": b"r", "PartitionKey": "k"}] * 3) == "DryRunOperationException"
    # a call that would fail fails the same way
    assert dry(k.put_record, StreamName="nope", Data=b"p", PartitionKey="k") == "ResourceNotFoundException"
    assert dry(k.put_record, StreamName="dry", Data=b"p", PartitionKey="k", ExplicitHashKey=str(2**128)) == "InvalidArgumentException"
    big = [{"Data": b"x" * (1 << 20), "PartitionKey": "k"}]
    assert dry(k.put_records, StreamName="dry", Records=big) == "ValidationException"
    assert dry(k.get_shard_iterator, StreamName="dry", ShardId=sid, ShardIteratorType="TRIM_HORIZON") == "DryRunOperationException"
    assert dry(k.get_shard_iterator, StreamName="dry", ShardId="shardId-000000000007", ShardIteratorType="LATEST") == (
        "ResourceNotFoundException"
    )
    it = k.get_shard_iterator(StreamName="dry", ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert dry(k.get_records, ShardIterator=it) == "DryRunOperationException"
    assert dry(k.get_records, ShardIterator="not-an-iterator") == "InvalidArgumentException"
    # nothing was written by the dry runs
    page = k.get_records(ShardIterator=it)
    assert page["Records"] == [] and page["MillisBehindLatest"] == 0
    k.put_record(StreamName="dry", Data=b"real", PartitionKey="k")
    assert [r["Data"] for r in k.get_records(ShardIterator=page["NextShardIterator"])["Records"]] == [b"real"]


def test_subscribe_to_shard_checks_its_starting_position_up_front(k) -> None:  # type: ignore[no-untyped-def]
    create_active(k, "subdry", 1)
    arn = k.describe_stream_summary(StreamName="subdry")["StreamDescriptionSummary"]["StreamARN"]
    consumer = k.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]["ConsumerARN"]
    deadline = time.monotonic() + 10
    while k.describe_stream_consumer(ConsumerARN=consumer)["ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    sid = "shardId-000000000000"
    with pytest.raises(ClientError) as e:
        k.subscribe_to_shard(ConsumerARN=consumer, ShardId=sid, StartingPosition={"Type": "LATEST"}, DryRun=True)
    assert code(e) == "DryRunOperationException"
    with pytest.raises(ClientError) as e:
        k.subscribe_to_shard(
            ConsumerARN=consumer, ShardId=sid, StartingPosition={"Type": "AT_TIMESTAMP", "Timestamp": time.time() + 86400}
        )
    assert code(e) == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        k.subscribe_to_shard(ConsumerARN=consumer, ShardId=sid, StartingPosition={"Type": "AT_SEQUENCE_NUMBER"})
    assert code(e) == "InvalidArgumentException"


def test_put_record_too_large_names_the_data_member(k) -> None:  # type: ignore[no-untyped-def]
    """PutRecord's answer is AWS's "Value at 'data'" (applications match on it); PutRecords names the entry."""
    create_active(k, "big", 1)
    limit = "Member must have length less than or equal to 1048576"
    for kw in ({}, {"DryRun": True}):
        with pytest.raises(ClientError) as e:
            k.put_record(StreamName="big", Data=b"x" * (1 << 20), PartitionKey="k", **kw)
        assert code(e) == "ValidationException"
        assert message(e) == f"1 validation error detected: Value at 'data' failed to satisfy constraint: {limit}"
    with pytest.raises(ClientError) as e:
        k.put_records(StreamName="big", Records=[{"Data": b"x", "PartitionKey": "k"}, {"Data": b"x" * (1 << 20), "PartitionKey": "k"}])
    assert message(e) == f"1 validation error detected: Value at 'records.2.member.data' failed to satisfy constraint: {limit}"
    # data and key together may be 1 MiB
    assert k.put_record(StreamName="big", Data=b"x" * ((1 << 20) - 1), PartitionKey="k")["ShardId"] == "shardId-000000000000"


def test_update_max_record_size(k) -> None:  # type: ignore[no-untyped-def]
    create_active(k, "maxrec", 1)
    arn = k.describe_stream_summary(StreamName="maxrec")["StreamDescriptionSummary"]["StreamARN"]
    two_mib = b"x" * (2 << 20)
    with pytest.raises(ClientError) as e:
        k.put_record(StreamARN=arn, Data=two_mib, PartitionKey="k")
    assert code(e) == "ValidationException"
    k.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=4096)
    summary = wait_active(k, "maxrec")
    assert summary["MaxRecordSizeInKiB"] == 4096
    assert k.put_record(StreamARN=arn, Data=two_mib, PartitionKey="k")["ShardId"] == "shardId-000000000000"
    it = k.get_shard_iterator(StreamARN=arn, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["Data"] for r in k.get_records(ShardIterator=it)["Records"]] == [two_mib]
    with pytest.raises(ClientError) as e:
        k.update_max_record_size(StreamARN=arn + "-missing", MaxRecordSizeInKiB=2048)
    assert code(e) == "ResourceNotFoundException"


def test_delete_stream_with_consumers_in_aws_words(k) -> None:  # type: ignore[no-untyped-def]
    create_active(k, "withc", 1)
    arn = k.describe_stream_summary(StreamName="withc")["StreamDescriptionSummary"]["StreamARN"]
    k.register_stream_consumer(StreamARN=arn, ConsumerName="c")
    with pytest.raises(ClientError) as e:
        k.delete_stream(StreamARN=arn)
    assert code(e) == "ResourceInUseException"
    assert message(e) == (
        f"DeleteStream can't delete {arn} because there are consumers associated with this data stream. To delete withc "
        "anyway, set the EnforceConsumerDeletion parameter to true to force the deletion of all the consumers that are "
        "associated with it."
    )
    k.delete_stream(StreamARN=arn, EnforceConsumerDeletion=True)


def test_expired_iterator_message_reads_like_aws(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**FAST_ENV, "NIMBUS_KINESIS_ITERATOR_TTL_SECONDS": "0.3"}
    p = NimbusProcess(tmp_path / "data", env=env).start()
    try:
        kk = p.client("kinesis")
        create_active(kk, "exp", 1)
        it = kk.get_shard_iterator(StreamName="exp", ShardId="shardId-000000000000", ShardIteratorType="LATEST")["ShardIterator"]
        time.sleep(0.6)
        with pytest.raises(ClientError) as e:
            kk.get_records(ShardIterator=it)
        assert code(e) == "ExpiredIteratorException"
        date = r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d UTC \d{4}"
        assert re.fullmatch(
            f"Iterator expired. The iterator was created at time {date} while right now it is {date} "
            "which is further in the future than the tolerated delay of 300 milliseconds.",
            message(e),
        ), message(e)
    finally:
        p.stop()


def test_consumers_carry_their_own_tags(k) -> None:  # type: ignore[no-untyped-def]
    """RegisterStreamConsumer's Tags, and Tag/Untag/ListTagsForResource on a consumer ARN."""
    create_active(k, "ctags", 1)
    arn = k.describe_stream_summary(StreamName="ctags")["StreamDescriptionSummary"]["StreamARN"]
    k.add_tags_to_stream(StreamARN=arn, Tags={"owner": "stream"})
    consumer = k.register_stream_consumer(StreamARN=arn, ConsumerName="c", Tags={"team": "a"})["Consumer"]["ConsumerARN"]
    assert k.list_tags_for_resource(ResourceARN=consumer)["Tags"] == [{"Key": "team", "Value": "a"}]
    k.tag_resource(ResourceARN=consumer, Tags={"env": "dev"})
    k.untag_resource(ResourceARN=consumer, TagKeys=["team"])
    assert k.list_tags_for_resource(ResourceARN=consumer)["Tags"] == [{"Key": "env", "Value": "dev"}]
    assert k.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "owner", "Value": "stream"}]
    with pytest.raises(ClientError) as e:
        k.list_tags_for_resource(ResourceARN=f"{arn}/consumer/missing:1")
    assert code(e) == "ResourceNotFoundException"

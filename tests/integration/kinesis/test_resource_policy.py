"""Kinesis resource-based policies: Put/Get/DeleteResourcePolicy on streams and consumers, kept durably,
checked before they are kept, gone with their stream; and weighed by `--iam enforce` (a stream's policy can
grant a user what no identity policy does, and its explicit deny wins)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess, free_port
from tests.integration.kinesis.helpers import FAST_ENV, code, create_active


def _policy(principal: str, actions: list[str], effect: str = "Allow", resource: str = "*") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": effect, "Principal": {"AWS": principal}, "Action": actions, "Resource": resource}]})


def test_put_get_delete_on_a_stream(k: Any) -> None:
    create_active(k, "rp-stream")
    arn = k.describe_stream_summary(StreamName="rp-stream")["StreamDescriptionSummary"]["StreamARN"]
    assert k.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
    doc = _policy("arn:aws:iam::000000000000:root", ["kinesis:GetRecords", "kinesis:DescribeStreamSummary"])
    k.put_resource_policy(ResourceARN=arn, Policy=doc)
    assert json.loads(k.get_resource_policy(ResourceARN=arn)["Policy"]) == json.loads(doc)
    k.delete_resource_policy(ResourceARN=arn)
    assert k.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"


def test_consumer_policy_is_its_own(k: Any) -> None:
    create_active(k, "rp-consumer")
    arn = k.describe_stream_summary(StreamName="rp-consumer")["StreamDescriptionSummary"]["StreamARN"]
    consumer = k.register_stream_consumer(StreamARN=arn, ConsumerName="c1")["Consumer"]["ConsumerARN"]
    doc = _policy("arn:aws:iam::000000000000:root", ["kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"])
    k.put_resource_policy(ResourceARN=consumer, Policy=doc)
    assert json.loads(k.get_resource_policy(ResourceARN=consumer)["Policy"]) == json.loads(doc)
    assert k.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"


def test_bad_policies_and_unknown_resources_are_refused(k: Any) -> None:
    create_active(k, "rp-bad")
    arn = k.describe_stream_summary(StreamName="rp-bad")["StreamDescriptionSummary"]["StreamARN"]
    for bad in ("not json", json.dumps({"Statement": []}),
                json.dumps({"Statement": [{"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"}]}),  # no Principal
                _policy("arn:aws:iam::000000000000:root", ["s3:GetObject"])):
        with pytest.raises(ClientError) as e:
            k.put_resource_policy(ResourceARN=arn, Policy=bad)
        assert code(e) == "InvalidArgumentException", bad
    assert k.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"  # nothing stored
    missing = arn.replace("rp-bad", "rp-missing")
    with pytest.raises(ClientError) as e:
        k.get_resource_policy(ResourceARN=missing)
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        k.put_resource_policy(ResourceARN="arn:aws:s3:::bucket", Policy="{}")
    assert code(e) == "ValidationException"


def test_policy_survives_kill_and_goes_with_its_stream(server: NimbusProcess, k: Any) -> None:
    create_active(k, "rp-durable")
    arn = k.describe_stream_summary(StreamName="rp-durable")["StreamDescriptionSummary"]["StreamARN"]
    doc = _policy("arn:aws:iam::000000000000:root", ["kinesis:PutRecord"])
    k.put_resource_policy(ResourceARN=arn, Policy=doc)
    server.kill9()
    server.start()
    k2 = server.client("kinesis")
    assert json.loads(k2.get_resource_policy(ResourceARN=arn)["Policy"]) == json.loads(doc)
    k2.delete_stream(StreamName="rp-durable")
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if "rp-durable" not in k2.list_streams()["StreamNames"]:
            break
        time.sleep(0.1)
    create_active(k2, "rp-durable")
    assert k2.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"


@pytest.fixture(scope="module")
def enforced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    p = NimbusProcess(tmp_path_factory.mktemp("kinesis-iam") / "data", free_port(), extra_args=["--iam", "enforce"], env=FAST_ENV).start()
    try:
        yield p
    finally:
        p.stop()


def test_enforced_stream_policy_grants_and_denies(enforced: NimbusProcess) -> None:
    root_k = enforced.client("kinesis")
    iam = enforced.client("iam")
    create_active(root_k, "rp-enforced")
    arn = root_k.describe_stream_summary(StreamName="rp-enforced")["StreamDescriptionSummary"]["StreamARN"]
    user_arn = iam.create_user(UserName="producer")["User"]["Arn"]
    key = iam.create_access_key(UserName="producer")["AccessKey"]
    uk = enforced.client("kinesis", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    with pytest.raises(ClientError) as e:  # no identity policy, no resource policy
        uk.put_record(StreamName="rp-enforced", Data=b"x", PartitionKey="p")
    assert code(e) == "AccessDeniedException"
    root_k.put_resource_policy(ResourceARN=arn, Policy=_policy(user_arn, ["kinesis:PutRecord", "kinesis:PutRecords"], resource=arn))
    assert uk.put_record(StreamName="rp-enforced", Data=b"x", PartitionKey="p")["SequenceNumber"]
    with pytest.raises(ClientError) as e:  # the policy grants writes only
        uk.describe_stream_summary(StreamName="rp-enforced")
    assert code(e) == "AccessDeniedException"
    # an explicit deny in the stream's policy beats the user's own allow
    iam.put_user_policy(UserName="producer", PolicyName="all-kinesis", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"}]}))
    assert uk.describe_stream_summary(StreamName="rp-enforced")
    root_k.put_resource_policy(ResourceARN=arn, Policy=_policy(user_arn, ["kinesis:DescribeStreamSummary"], effect="Deny", resource=arn))
    with pytest.raises(ClientError) as e:
        uk.describe_stream_summary(StreamName="rp-enforced")
    assert code(e) == "AccessDeniedException" and "resource-based policy" in str(e.value)

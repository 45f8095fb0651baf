"""CloudWatch Logs destinations through the real server: PutDestination / PutDestinationPolicy /
DescribeDestinations (prefix, paging) / DeleteDestination with AWS's errors, a subscription filter whose
destinationArn is a destination delivering to its Kinesis target, the AWS CLI, and kill -9 (destinations, data
protection and account policies survive it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.logs.helpers import code
from tests.integration.logs.test_subscriptions import ENV, ROLE, eventually, group, kinesis_messages, kinesis_stream, put

POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "logs:PutSubscriptionFilter", "Resource": "*"}]})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    p = NimbusProcess(tmp_path_factory.mktemp("logs-dest") / "data", env=ENV).start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def logs(server: NimbusProcess) -> Any:
    return server.client("logs")


def test_destination_crud_and_errors(server: NimbusProcess, logs: Any) -> None:
    target = "arn:aws:kinesis:us-east-1:000000000000:stream/anything"
    made = logs.put_destination(destinationName="d-one", targetArn=target, roleArn=ROLE)["destination"]
    assert made["arn"] == "arn:aws:logs:us-east-1:000000000000:destination:d-one"
    assert made["targetArn"] == target and made["roleArn"] == ROLE and made["creationTime"] > 0
    logs.put_destination_policy(destinationName="d-one", accessPolicy=POLICY)
    logs.put_destination(destinationName="d-two", targetArn=target, roleArn=ROLE)
    logs.put_destination(destinationName="other", targetArn=target, roleArn=ROLE)

    first = logs.describe_destinations(DestinationNamePrefix="d-", limit=1)
    assert [d["destinationName"] for d in first["destinations"]] == ["d-one"]
    assert first["destinations"][0]["accessPolicy"] == POLICY
    second = logs.describe_destinations(DestinationNamePrefix="d-", limit=1, nextToken=first["nextToken"])
    assert [d["destinationName"] for d in second["destinations"]] == ["d-two"] and "nextToken" not in second
    assert len(logs.describe_destinations()["destinations"]) == 3

    # an update keeps the creation time and the policy
    again = logs.put_destination(destinationName="d-one", targetArn=target, roleArn=ROLE + "2")["destination"]
    assert again["creationTime"] == made["creationTime"] and again["accessPolicy"] == POLICY

    with pytest.raises(ClientError) as e:
        logs.put_destination(destinationName="bad", targetArn="arn:aws:lambda:us-east-1:000000000000:function:f", roleArn=ROLE)
    assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.put_destination_policy(destinationName="missing", accessPolicy=POLICY)
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        logs.delete_destination(destinationName="missing")
    assert code(e) == "ResourceNotFoundException"
    logs.delete_destination(destinationName="other")
    assert [d["destinationName"] for d in logs.describe_destinations()["destinations"]] == ["d-one", "d-two"]
    assert logs.describe_destinations(DestinationNamePrefix="bad")["destinations"] == []

    g = group(logs, "dest-missing")
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(logGroupName=g, filterName="f", filterPattern="",
                                     destinationArn="arn:aws:logs:us-east-1:000000000000:destination:nope")
    assert code(e) == "ResourceNotFoundException"
    assert logs.describe_subscription_filters(logGroupName=g)["subscriptionFilters"] == []


def test_subscription_through_a_destination_cli_and_kill9(server: NimbusProcess, logs: Any) -> None:
    stream_arn = kinesis_stream(server, "dest-target")
    out = json.loads(server.aws("logs", "put-destination", "--destination-name", "to-kinesis",
                                "--target-arn", stream_arn, "--role-arn", ROLE).stdout)
    dest_arn = out["destination"]["arn"]
    g = group(logs, "dest-source", "web")
    # no roleArn: the destination brings its own
    logs.put_subscription_filter(logGroupName=g, filterName="errors", filterPattern="ERROR", destinationArn=dest_arn)
    assert kinesis_messages(server, "dest-target")[0]["messageType"] == "CONTROL_MESSAGE"
    put(logs, g, "ERROR one", "INFO skip", stream="web")

    def data() -> list[dict[str, Any]]:
        return [m for m in kinesis_messages(server, "dest-target") if m["messageType"] == "DATA_MESSAGE"]

    (m,) = eventually(data)
    assert [e["message"] for e in m["logEvents"]] == ["ERROR one"] and m["subscriptionFilters"] == ["errors"]

    dp = json.dumps({"Name": "p", "Version": "2021-06-01", "Statement": []})
    logs.put_data_protection_policy(logGroupIdentifier=g, policyDocument=dp)
    logs.put_account_policy(policyName="acct", policyDocument=dp, policyType="DATA_PROTECTION_POLICY")
    server.kill9()
    server.restart()
    logs = server.client("logs")
    assert logs.get_data_protection_policy(logGroupIdentifier=g)["policyDocument"] == dp
    (acct,) = logs.describe_account_policies(policyType="DATA_PROTECTION_POLICY")["accountPolicies"]
    assert acct["policyName"] == "acct"
    listed = json.loads(server.aws("logs", "describe-destinations", "--destination-name-prefix", "to-").stdout)
    assert [d["targetArn"] for d in listed["destinations"]] == [stream_arn]
    put(logs, g, "ERROR two", stream="web")
    messages = eventually(lambda: [e["message"] for m in data() for e in m["logEvents"]] if len(data()) >= 2 else None)
    assert messages[-1] == "ERROR two" and messages.count("ERROR one") >= 1

"""DescribeLogGroups filters (pattern, class, identifiers), DescribeLogStreams fields, and the
logGroupName/logGroupIdentifier exclusivity, as botocore's model describes them."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.logs.helpers import code, now_ms, stream


def test_log_group_name_and_identifier_are_mutually_exclusive(logs) -> None:
    stream(logs, "/f/ident")
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:/f/ident"
    assert logs.describe_log_streams(logGroupIdentifier=arn)["logStreams"][0]["logStreamName"] == "s"
    for call in (
        lambda: logs.describe_log_streams(logGroupName="/f/ident", logGroupIdentifier=arn),
        lambda: logs.get_log_events(logGroupName="/f/ident", logGroupIdentifier=arn, logStreamName="s"),
        lambda: logs.filter_log_events(logGroupName="/f/ident", logGroupIdentifier="/f/ident"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "InvalidParameterException"


def test_describe_log_groups_pattern_is_case_sensitive_and_brief(logs) -> None:
    logs.create_log_group(logGroupName="/f/DataLogs", tags={"k": "v"})
    logs.create_log_group(logGroupName="/f/datalogs-lower")
    groups = logs.describe_log_groups(logGroupNamePattern="DataLogs")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/f/DataLogs"]
    # "If you specify logGroupNamePattern in your request, then only arn, creationTime, and
    # logGroupName are included in the response."
    assert set(groups[0]) == {"arn", "creationTime", "logGroupName"}


def test_describe_log_groups_filters_by_class_and_identifiers(logs) -> None:
    logs.create_log_group(logGroupName="/f/class/std")
    logs.create_log_group(logGroupName="/f/class/ia", logGroupClass="INFREQUENT_ACCESS")
    names = lambda **kw: [g["logGroupName"] for g in logs.describe_log_groups(**kw)["logGroups"]]  # noqa: E731
    assert names(logGroupNamePrefix="/f/class/", logGroupClass="STANDARD") == ["/f/class/std"]
    assert names(logGroupNamePrefix="/f/class/", logGroupClass="INFREQUENT_ACCESS") == ["/f/class/ia"]
    assert names(logGroupIdentifiers=["/f/class/ia", "/f/class/missing"]) == ["/f/class/ia"]
    assert names(logGroupIdentifiers=["arn:aws:logs:us-east-1:000000000000:log-group:/f/class/std"]) == ["/f/class/std"]


def test_stream_stored_bytes_is_zero_as_aws_reports(logs) -> None:
    # LogStream.storedBytes: "As of June 17, 2019, this parameter is no longer supported for log
    # streams, and is always reported as zero." The group's storedBytes still counts.
    stream(logs, "/f/bytes")
    logs.put_log_events(logGroupName="/f/bytes", logStreamName="s", logEvents=[{"timestamp": now_ms(), "message": "hello"}])
    assert logs.describe_log_streams(logGroupName="/f/bytes")["logStreams"][0]["storedBytes"] == 0
    assert logs.describe_log_groups(logGroupNamePrefix="/f/bytes")["logGroups"][0]["storedBytes"] > 0


def test_group_names_starting_with_aws_slash_are_reserved(logs) -> None:
    # AWS: "InvalidParameterException: Log groups starting with AWS/ are reserved for AWS."
    for name in ("aws/mine", "AWS/mine"):
        with pytest.raises(ClientError) as e:
            logs.create_log_group(logGroupName=name)
        assert code(e) == "InvalidParameterException"
    logs.create_log_group(logGroupName="/aws/lambda/reserved-ok")


def test_a_group_has_at_most_50_tags(logs) -> None:
    # TooManyTagsException: "A resource can have no more than 50 tags." (the model)
    logs.create_log_group(logGroupName="/f/tags", tags={f"k{i}": "v" for i in range(40)})
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:/f/tags"
    logs.tag_resource(resourceArn=arn, tags={f"k{i}": "new" for i in range(30, 50)})  # 10 new keys: 50
    with pytest.raises(ClientError) as e:
        logs.tag_resource(resourceArn=arn, tags={"one-too-many": "v"})
    assert code(e) == "TooManyTagsException"
    assert e.value.response["resourceName"] == arn
    with pytest.raises(ClientError) as e:
        logs.tag_log_group(logGroupName="/f/tags", tags={"one-too-many": "v"})
    assert code(e) == "InvalidParameterException"
    assert len(logs.list_tags_for_resource(resourceArn=arn)["tags"]) == 50


def test_describe_log_groups_pages_with_and_without_filters(logs) -> None:
    names = [f"/pg/g{i:02d}" for i in range(7)]
    for n in names:
        logs.create_log_group(logGroupName=n, **({"logGroupClass": "INFREQUENT_ACCESS"} if n.endswith(("1", "4")) else {}))

    def walk(**kw) -> list[str]:
        got, token = [], None
        while True:
            page = logs.describe_log_groups(limit=3, **kw, **({"nextToken": token} if token else {}))
            got += [g["logGroupName"] for g in page["logGroups"]]
            assert len(page["logGroups"]) <= 3
            token = page.get("nextToken")
            if not token:
                return got

    assert walk(logGroupNamePrefix="/pg/") == names
    assert walk(logGroupNamePattern="pg/g0") == names
    assert walk(logGroupNamePrefix="/pg/", logGroupClass="STANDARD") == [n for n in names if not n.endswith(("1", "4"))]
    full = logs.describe_log_groups(logGroupNamePrefix="/pg/", limit=7)
    assert len(full["logGroups"]) == 7 and "nextToken" not in full  # an exact last page: no token

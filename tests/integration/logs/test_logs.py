"""CloudWatch Logs end to end: groups, streams, PutLogEvents, GetLogEvents tokens, FilterLogEvents
(as ``aws logs tail`` calls it), retention, errors, the AWS CLI, ``nimbus logs``, and restart."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess


@pytest.fixture(scope="module")
def logs(nimbus_server: NimbusProcess):
    return nimbus_server.client("logs")


def now_ms() -> int:
    return int(time.time() * 1000)


def put(logs, group: str, stream: str, messages: list[str], start: int | None = None) -> int:
    t0 = start if start is not None else now_ms() - len(messages)
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": t0 + i, "message": m} for i, m in enumerate(messages)])
    return t0


def test_groups_and_streams(logs) -> None:
    logs.create_log_group(logGroupName="/t/groups", tags={"a": "b"})
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="/t/groups")
    assert e.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    groups = logs.describe_log_groups(logGroupNamePrefix="/t/groups")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/t/groups"]
    assert groups[0]["arn"] == "arn:aws:logs:us-east-1:000000000000:log-group:/t/groups:*"
    logs.create_log_stream(logGroupName="/t/groups", logStreamName="old")
    logs.create_log_stream(logGroupName="/t/groups", logStreamName="new")
    put(logs, "/t/groups", "old", ["x"], start=now_ms() - 5000)
    put(logs, "/t/groups", "new", ["y"])
    streams = logs.describe_log_streams(logGroupName="/t/groups", orderBy="LastEventTime", descending=True)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["new", "old"]
    assert streams[0]["lastEventTimestamp"] >= streams[1]["lastEventTimestamp"]
    by_name = logs.describe_log_streams(logGroupName="/t/groups")["logStreams"]
    assert [s["logStreamName"] for s in by_name] == ["new", "old"]
    logs.put_retention_policy(logGroupName="/t/groups", retentionInDays=7)
    assert logs.describe_log_groups(logGroupNamePrefix="/t/groups")["logGroups"][0]["retentionInDays"] == 7
    logs.delete_retention_policy(logGroupName="/t/groups")
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix="/t/groups")["logGroups"][0]
    with pytest.raises(ClientError) as e:
        logs.put_retention_policy(logGroupName="/t/groups", retentionInDays=8)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    assert logs.list_tags_log_group(logGroupName="/t/groups")["tags"] == {"a": "b"}
    logs.delete_log_group(logGroupName="/t/groups")
    with pytest.raises(ClientError) as e:
        logs.describe_log_streams(logGroupName="/t/groups")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_put_and_get_with_tokens(logs) -> None:
    logs.create_log_group(logGroupName="/t/get")
    logs.create_log_stream(logGroupName="/t/get", logStreamName="s")
    t0 = put(logs, "/t/get", "s", [f"line {i}" for i in range(25)], start=now_ms() - 1000)
    # from the head, in pages of 10, following nextForwardToken until it repeats
    seen: list[str] = []
    token = None
    while True:
        kw = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName="/t/get", logStreamName="s", limit=10, **kw)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert seen == [f"line {i}" for i in range(25)]
    assert token.startswith("f/")
    # default: the newest events; then backward
    tail = logs.get_log_events(logGroupName="/t/get", logStreamName="s", limit=5)
    assert [e["message"] for e in tail["events"]] == [f"line {i}" for i in range(20, 25)]
    back = logs.get_log_events(logGroupName="/t/get", logStreamName="s", limit=5, nextToken=tail["nextBackwardToken"])
    assert [e["message"] for e in back["events"]] == [f"line {i}" for i in range(15, 20)]
    assert back["nextBackwardToken"].startswith("b/")
    # time window: startTime inclusive, endTime exclusive
    window = logs.get_log_events(logGroupName="/t/get", logStreamName="s", startTime=t0 + 3, endTime=t0 + 6, startFromHead=True)
    assert [e["message"] for e in window["events"]] == ["line 3", "line 4", "line 5"]
    assert all("ingestionTime" in e for e in window["events"])


def test_put_errors(logs) -> None:
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName="/t/none", logStreamName="s", logEvents=[{"timestamp": now_ms(), "message": "x"}])
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    logs.create_log_group(logGroupName="/t/err")
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName="/t/err", logStreamName="missing", logEvents=[{"timestamp": now_ms(), "message": "x"}])
    assert e.value.response["Error"]["Message"] == "The specified log stream does not exist."
    logs.create_log_stream(logGroupName="/t/err", logStreamName="s")
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName="/t/err", logStreamName="s", logEvents=[{"timestamp": now_ms(), "message": "b"}, {"timestamp": now_ms() - 10, "message": "a"}])
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    out = logs.put_log_events(
        logGroupName="/t/err", logStreamName="s",
        logEvents=[{"timestamp": now_ms() - 20 * 86400_000, "message": "old"}, {"timestamp": now_ms() - 20 * 86400_000 + 1, "message": "old2"}],
    )
    assert out["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2}  # exclusive: two old events


def test_filter_like_logs_tail(logs) -> None:
    logs.create_log_group(logGroupName="/t/filter")
    for s in ("a", "b"):
        logs.create_log_stream(logGroupName="/t/filter", logStreamName=s)
    t0 = now_ms() - 10_000
    put(logs, "/t/filter", "a", ["START x", "ERROR disk full", "info ok", "ERROR net down"], start=t0)
    put(logs, "/t/filter", "b", ["ERROR disk full again", "warn slow"], start=t0 + 1)
    # what `aws logs tail GROUP --since 1h` sends: startTime + interleaved, paginated
    pages = list(logs.get_paginator("filter_log_events").paginate(logGroupName="/t/filter", startTime=t0 - 1, interleaved=True, PaginationConfig={"PageSize": 2}))
    events = [e for p in pages for e in p["events"]]
    assert len(events) == 6 and len(pages) == 3
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert len({e["eventId"] for e in events}) == 6
    msgs = lambda **kw: [e["message"] for e in logs.filter_log_events(logGroupName="/t/filter", **kw)["events"]]  # noqa: E731
    assert msgs(filterPattern="ERROR") == ["ERROR disk full", "ERROR disk full again", "ERROR net down"]
    assert msgs(filterPattern="ERROR disk") == ["ERROR disk full", "ERROR disk full again"]
    assert msgs(filterPattern='"disk full again"') == ["ERROR disk full again"]
    assert msgs(filterPattern="?warn ?net") == ["warn slow", "ERROR net down"] or sorted(msgs(filterPattern="?warn ?net")) == ["ERROR net down", "warn slow"]
    assert msgs(filterPattern="ERROR -again") == ["ERROR disk full", "ERROR net down"]
    assert msgs(logStreamNames=["b"]) == ["ERROR disk full again", "warn slow"]
    assert msgs(startTime=t0 + 2, endTime=t0 + 2) == ["info ok", "warn slow"] or sorted(msgs(startTime=t0 + 2, endTime=t0 + 2)) == ["info ok", "warn slow"]
    # space-delimited patterns select by field; a malformed one is refused
    assert msgs(filterPattern="[level = ERROR, what, state = full]") == ["ERROR disk full"]
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="/t/filter", filterPattern="[level, what")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"


def test_aws_cli_and_nimbus_logs(nimbus_server: NimbusProcess, logs) -> None:
    nimbus_server.aws("logs", "create-log-group", "--log-group-name", "/aws/lambda/cli-fn")
    nimbus_server.aws("logs", "create-log-stream", "--log-group-name", "/aws/lambda/cli-fn", "--log-stream-name", "s1")
    ts = now_ms()
    nimbus_server.aws(
        "logs", "put-log-events", "--log-group-name", "/aws/lambda/cli-fn", "--log-stream-name", "s1",
        "--log-events", f"timestamp={ts},message=hello-from-cli",
    )
    out = json.loads(nimbus_server.aws("logs", "filter-log-events", "--log-group-name", "/aws/lambda/cli-fn", "--start-time", str(ts - 1000)).stdout)
    assert [e["message"] for e in out["events"]] == ["hello-from-cli"]
    out = json.loads(nimbus_server.aws("logs", "get-log-events", "--log-group-name", "/aws/lambda/cli-fn", "--log-stream-name", "s1").stdout)
    assert [e["message"] for e in out["events"]] == ["hello-from-cli"]
    cp = subprocess.run(
        [sys.executable, "-m", "nimbus", "logs", "cli-fn", "--since", "1h"],
        env=nimbus_server.aws_env(), capture_output=True, text=True, timeout=60,
    )
    assert cp.returncode == 0, cp.stderr
    assert "s1 hello-from-cli" in cp.stdout


def test_logs_survive_restart(tmp_path) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        logs = server.client("logs")
        logs.create_log_group(logGroupName="/t/persist")
        logs.create_log_stream(logGroupName="/t/persist", logStreamName="s")
        put(logs, "/t/persist", "s", ["one", "two"])
        server.kill9()
        server.start()
        logs = server.client("logs")
        events = logs.get_log_events(logGroupName="/t/persist", logStreamName="s", startFromHead=True)["events"]
        assert [e["message"] for e in events] == ["one", "two"]
    finally:
        server.stop()

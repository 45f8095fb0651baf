"""FilterLogEvents' sort direction: startFromHead (default true, oldest first; false, newest first) and
the nextToken that keeps the direction, as botocore's model describes them."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError


def test_start_from_head_false_returns_newest_first_across_pages(logs) -> None:
    logs.create_log_group(logGroupName="/o/desc")
    for s in ("a", "b"):
        logs.create_log_stream(logGroupName="/o/desc", logStreamName=s)
    t0 = int(time.time() * 1000) - 1000
    logs.put_log_events(logGroupName="/o/desc", logStreamName="a", logEvents=[{"timestamp": t0 + i, "message": f"e{i}"} for i in (0, 2, 4)])
    logs.put_log_events(logGroupName="/o/desc", logStreamName="b", logEvents=[{"timestamp": t0 + i, "message": f"e{i}"} for i in (1, 3)])
    oldest_first = [e["message"] for e in logs.filter_log_events(logGroupName="/o/desc")["events"]]
    assert oldest_first == ["e0", "e1", "e2", "e3", "e4"]
    pages = list(logs.get_paginator("filter_log_events").paginate(logGroupName="/o/desc", startFromHead=False, PaginationConfig={"PageSize": 2}))
    assert [[e["message"] for e in p["events"]] for p in pages] == [["e4", "e3"], ["e2", "e1"], ["e0"]]
    # the token keeps its direction even when startFromHead says otherwise
    first = logs.filter_log_events(logGroupName="/o/desc", startFromHead=False, limit=2)
    rest = logs.filter_log_events(logGroupName="/o/desc", startFromHead=True, limit=10, nextToken=first["nextToken"])
    assert [e["message"] for e in rest["events"]] == ["e2", "e1", "e0"]


def test_start_from_head_false_needs_a_start_time_from_2024(logs) -> None:
    logs.create_log_group(logGroupName="/o/old-start")
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="/o/old-start", startFromHead=False, startTime=1_600_000_000_000)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"

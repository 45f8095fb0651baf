"""FilterLogEvents filter patterns beyond plain terms: %regex% and JSON patterns."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.logs.helpers import code, now_ms, stream


def test_filter_pattern_regex(logs) -> None:
    stream(logs, "/f/regex")
    t = now_ms() - 100
    logs.put_log_events(
        logGroupName="/f/regex", logStreamName="s",
        logEvents=[{"timestamp": t + i, "message": m} for i, m in enumerate(["color red", "colour blue", "code 404", "code 500", "other"])],
    )
    msgs = lambda p: [e["message"] for e in logs.filter_log_events(logGroupName="/f/regex", filterPattern=p)["events"]]  # noqa: E731
    assert msgs("%colou?r%") == ["color red", "colour blue"]
    assert msgs("%code [45]0[04]%") == ["code 404", "code 500"]
    assert msgs("%^other$%") == ["other"]
    with pytest.raises(ClientError) as e:
        msgs("%(a|b)%")
    assert code(e) == "InvalidParameterException"


def test_filter_pattern_json(logs) -> None:
    stream(logs, "/f/json")
    t = now_ms() - 100
    lines = ['{"level": "ERROR", "latency": 120}', '{"level": "INFO", "latency": 5}', '{"level": "ERROR", "latency": 3}', "ERROR not json"]
    logs.put_log_events(logGroupName="/f/json", logStreamName="s", logEvents=[{"timestamp": t + i, "message": m} for i, m in enumerate(lines)])
    msgs = lambda p: [e["message"] for e in logs.filter_log_events(logGroupName="/f/json", filterPattern=p)["events"]]  # noqa: E731
    assert msgs('{ $.level = "ERROR" }') == [lines[0], lines[2]]
    assert msgs('{ $.level = "ERROR" && $.latency > 100 }') == [lines[0]]
    assert msgs("{ $.latency < 10 || $.level = INF* }") == [lines[1], lines[2]]
    with pytest.raises(ClientError) as e:
        msgs("{ $.latency > fast }")
    assert code(e) == "InvalidParameterException"

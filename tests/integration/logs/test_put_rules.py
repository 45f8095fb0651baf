"""PutLogEvents' rules as the model states them: which events are rejected (and how the indexes
read), the 24-hour span over valid events, events up to the batch limit."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.logs.helpers import code, now_ms, stream

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def messages(logs, group: str, name: str = "s") -> list[str]:
    return [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=name, startFromHead=True)["events"]]


def test_rejected_events_do_not_count_towards_the_24_hour_span(logs) -> None:
    # the model: "For valid events (within 14 days in the past to 2 hours in future), the time span
    # in a single batch cannot exceed 24 hours"
    stream(logs, "/f/span")
    t = now_ms()
    out = logs.put_log_events(
        logGroupName="/f/span", logStreamName="s",
        logEvents=[
            {"timestamp": t - 20 * DAY_MS, "message": "too old"},
            {"timestamp": t - 1000, "message": "kept"},
            {"timestamp": t + 5 * HOUR_MS, "message": "too new"},
        ],
    )
    assert out["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 2}
    assert messages(logs, "/f/span") == ["kept"]
    with pytest.raises(ClientError) as e:
        logs.put_log_events(
            logGroupName="/f/span", logStreamName="s",
            logEvents=[{"timestamp": t - 3 * DAY_MS, "message": "a"}, {"timestamp": t - 1000, "message": "b"}],
        )
    assert code(e) == "InvalidParameterException"


def test_too_old_end_index_is_exclusive(logs) -> None:
    # AWS answers one rejected old event at index 0 with {"tooOldLogEventEndIndex": 1}
    stream(logs, "/f/old")
    t = now_ms()
    out = logs.put_log_events(logGroupName="/f/old", logStreamName="s", logEvents=[{"timestamp": t - 15 * DAY_MS, "message": "old"}])
    assert out["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1}
    out = logs.put_log_events(
        logGroupName="/f/old", logStreamName="s",
        logEvents=[{"timestamp": t - 15 * DAY_MS + i, "message": "old"} for i in range(3)] + [{"timestamp": t, "message": "new"}],
    )
    assert out["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 3}
    assert messages(logs, "/f/old") == ["new"]


def test_events_before_the_retention_period_are_expired(logs) -> None:
    stream(logs, "/f/expired")
    logs.put_retention_policy(logGroupName="/f/expired", retentionInDays=1)
    t = now_ms()
    out = logs.put_log_events(
        logGroupName="/f/expired", logStreamName="s",
        logEvents=[{"timestamp": t - 3 * DAY_MS, "message": "expired"}, {"timestamp": t - 2 * DAY_MS, "message": "expired too"}, {"timestamp": t, "message": "kept"}],
    )
    assert out["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 2}
    assert messages(logs, "/f/expired") == ["kept"]


def test_events_up_to_the_batch_limit_are_stored_whole(logs) -> None:
    # the model's event limit is 1 MB (bounded by the 1,048,576-byte batch); nothing is cut at 256 KB
    stream(logs, "/f/big")
    big = "x" * 600_000
    logs.put_log_events(logGroupName="/f/big", logStreamName="s", logEvents=[{"timestamp": now_ms(), "message": big}])
    assert messages(logs, "/f/big") == [big]

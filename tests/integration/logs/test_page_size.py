"""GetLogEvents and FilterLogEvents pages hold "up to 1 MB of log events or up to 10,000 log events"
(the model): big events spread over pages, and paging still reaches every event."""

from __future__ import annotations

import time

import pytest

from tests.conftest import NimbusProcess

EVENT_BYTES = 600_000


@pytest.fixture(scope="module")
def logs(nimbus_server: NimbusProcess):
    client = nimbus_server.client("logs")
    client.create_log_group(logGroupName="/p/big")
    client.create_log_stream(logGroupName="/p/big", logStreamName="s")
    t0 = int(time.time() * 1000) - 1000
    for i in range(3):  # one per call: two would pass the 1 MB batch limit
        client.put_log_events(logGroupName="/p/big", logStreamName="s", logEvents=[{"timestamp": t0 + i, "message": str(i) * EVENT_BYTES}])
    return client


def test_filter_pages_stay_under_one_megabyte(logs) -> None:
    pages = list(logs.get_paginator("filter_log_events").paginate(logGroupName="/p/big"))
    assert all(sum(len(e["message"]) for e in p["events"]) <= 1_048_576 for p in pages)
    assert [e["message"][0] for p in pages for e in p["events"]] == ["0", "1", "2"]


def test_get_pages_stay_under_one_megabyte(logs) -> None:
    seen: list[str] = []
    token = None
    while True:
        kw = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName="/p/big", logStreamName="s", **kw)
        assert sum(len(e["message"]) for e in page["events"]) <= 1_048_576
        seen += [e["message"][0] for e in page["events"]]
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert seen == ["0", "1", "2"]
    newest = logs.get_log_events(logGroupName="/p/big", logStreamName="s")
    assert [e["message"][0] for e in newest["events"]] == ["2"]

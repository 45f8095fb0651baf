"""Logs Insights through the real server (boto3): StartQuery over one or several groups, GetQueryResults
until Complete, AWS's result shape (rows of {field, value} with @ptr, statistics), fields / filter / sort /
limit / parse / stats with JSON fields discovered, StopQuery, DescribeQueries and MalformedQueryException."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.logs.helpers import code, stream


def wait(logs: Any, query_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        got = logs.get_query_results(queryId=query_id)
        assert got["status"] in ("Scheduled", "Running", "Complete"), got
        if got["status"] == "Complete":
            return got
        assert time.monotonic() < deadline, got
        time.sleep(0.05)


def rows(got: dict[str, Any]) -> list[dict[str, str]]:
    return [{f["field"]: f["value"] for f in row} for row in got["results"]]


@pytest.fixture(scope="module")
def data(logs: Any) -> dict[str, Any]:
    base = (int(time.time()) - 600) * 1000
    stream(logs, "/q/api", "web-1")
    logs.create_log_stream(logGroupName="/q/api", logStreamName="web-2")
    api = [
        ("web-1", {"level": "INFO", "path": "/a", "latency": 12, "user": {"id": "u1"}}),
        ("web-2", {"level": "ERROR", "path": "/b", "latency": 250, "user": {"id": "u2"}}),
        ("web-1", {"level": "INFO", "path": "/a", "latency": 30, "user": {"id": "u1"}}),
        ("web-2", {"level": "WARN", "path": "/c", "latency": 120, "user": {"id": "u3"}}),
        ("web-1", {"level": "ERROR", "path": "/b", "latency": 90, "user": {"id": "u1"}}),
    ]
    for i, (s, doc) in enumerate(api):
        logs.put_log_events(logGroupName="/q/api", logStreamName=s, logEvents=[{"timestamp": base + i * 1000, "message": json.dumps(doc)}])
    stream(logs, "/q/access")
    lines = ["GET /a 200 12", "GET /b 500 250", "POST /a 201 30"]
    logs.put_log_events(logGroupName="/q/access", logStreamName="s", logEvents=[{"timestamp": base + i * 1000, "message": m} for i, m in enumerate(lines)])
    return {"start": base // 1000 - 5, "end": base // 1000 + 60, "base": base}


def query(logs: Any, data: dict[str, Any], q: str, **kw: Any) -> dict[str, Any]:
    if not any(k in kw for k in ("logGroupNames", "logGroupIdentifiers")):
        kw.setdefault("logGroupName", "/q/api")
    qid = logs.start_query(startTime=data["start"], endTime=data["end"], queryString=q, **kw)["queryId"]
    return wait(logs, qid)


def test_fields_filter_sort_limit(logs: Any, data: dict[str, Any]) -> None:
    got = query(logs, data, 'fields @timestamp, level, latency, user.id | filter level = "ERROR" or latency > 100 | sort latency desc | limit 2')
    assert got["status"] == "Complete"
    assert [[f["field"] for f in row] for row in got["results"]] == [["@timestamp", "level", "latency", "user.id", "@ptr"]] * 2
    assert [(r["level"], r["latency"], r["user.id"]) for r in rows(got)] == [("ERROR", "250", "u2"), ("WARN", "120", "u3")]
    ts = time.gmtime(data["base"] // 1000 + 1)
    assert rows(got)[0]["@timestamp"] == time.strftime("%Y-%m-%d %H:%M:%S", ts) + ".000"
    assert got["statistics"]["recordsScanned"] == 5 and got["statistics"]["recordsMatched"] == 3
    assert got["statistics"]["bytesScanned"] > 0
    # the time range is inclusive at both ends, in seconds; outside it nothing is scanned
    none = logs.start_query(logGroupName="/q/api", startTime=data["end"] + 100, endTime=data["end"] + 200, queryString="fields @message")
    assert wait(logs, none["queryId"])["results"] == []
    # default: newest first, every field
    all_rows = rows(query(logs, data, "filter @logStream = 'web-1'"))
    assert [json.loads(r["@message"])["latency"] for r in all_rows] == [90, 30, 12]
    assert {"@timestamp", "@message", "@logStream", "@log", "level", "path", "latency", "user.id", "@ptr"} <= set(all_rows[0])
    assert all_rows[0]["@log"].endswith(":/q/api")
    # pages of maxItems rows
    qid = logs.start_query(logGroupName="/q/api", startTime=data["start"], endTime=data["end"], queryString="fields latency | sort latency")["queryId"]
    wait(logs, qid)
    first = logs.get_query_results(queryId=qid, maxItems=3)
    second = logs.get_query_results(queryId=qid, maxItems=3, nextToken=first["nextToken"])
    assert [r["latency"] for r in rows(first) + rows(second)] == ["12", "30", "90", "120", "250"] and "nextToken" not in second
    # GetLogRecord on a result's @ptr: every field of the event
    record = logs.get_log_record(logRecordPointer=all_rows[0]["@ptr"])["logRecord"]
    assert json.loads(record["@message"])["latency"] == 90 and record["@logStream"] == "web-1"
    assert record["@timestamp"] == str(data["base"] + 4000) and record["user.id"] == "u1"
    with pytest.raises(ClientError) as e:
        logs.get_log_record(logRecordPointer="bm9wZQ")
    assert code(e) == "InvalidParameterException"


def test_stats_and_parse(logs: Any, data: dict[str, Any]) -> None:
    got = query(logs, data, "stats count(*) as n, avg(latency) as avg, max(latency) by level | sort n desc, level asc")
    assert rows(got) == [
        {"level": "ERROR", "n": "2", "avg": "170", "max(latency)": "250"},
        {"level": "INFO", "n": "2", "avg": "21", "max(latency)": "30"},
        {"level": "WARN", "n": "1", "avg": "120", "max(latency)": "120"},
    ]
    assert all("@ptr" not in r for r in rows(got))
    binned = rows(query(logs, data, "stats count(*) by bin(1h)"))
    assert len(binned) == 1 and binned[0]["count(*)"] == "5" and binned[0]["bin(1h)"].endswith(":00:00.000")
    parsed = query(logs, data, 'parse @message "* * * *" as method, path, status, ms | filter status >= 500 or method = "POST" | fields path, status, ms | sort ms asc',
                   logGroupName="/q/access")
    assert [(r["path"], r["status"]) for r in rows(parsed)] == [("/a", "201"), ("/b", "500")]
    both = query(logs, data, "stats count(*) as n by @log | sort n desc", logGroupNames=["/q/api", "/q/access"])
    assert [r["n"] for r in rows(both)] == ["5", "3"]
    by_id = query(logs, data, "stats count(*) as n", logGroupIdentifiers=["arn:aws:logs:us-east-1:000000000000:log-group:/q/access"])
    assert rows(by_id) == [{"n": "3"}]


def test_errors_stop_and_describe(logs: Any, data: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as e:
        logs.start_query(logGroupName="/q/api", startTime=data["start"], endTime=data["end"], queryString="fields @message | frobnicate x")
    assert code(e) == "MalformedQueryException"
    err = e.value.response
    assert err["Error"]["Message"] == "unexpected symbol found frobnicate at line 1 and position 19"
    assert err["queryCompileError"]["location"] == {"startCharOffset": 18, "endCharOffset": 28}
    with pytest.raises(ClientError) as e:
        logs.start_query(logGroupName="/q/none", startTime=data["start"], endTime=data["end"], queryString="fields @message")
    assert code(e) == "ResourceNotFoundException" and "Log group '/q/none' does not exist" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        logs.start_query(startTime=data["start"], endTime=data["end"], queryString="fields @message")
    assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.get_query_results(queryId="00000000-0000-0000-0000-000000000000")
    assert code(e) == "ResourceNotFoundException"

    qid = logs.start_query(logGroupName="/q/access", startTime=data["start"], endTime=data["end"], queryString="fields @message")["queryId"]
    wait(logs, qid)
    assert logs.stop_query(queryId=qid)["success"] is False  # already complete
    described = logs.describe_queries(logGroupName="/q/access", status="Complete")["queries"]
    mine = [q for q in described if q["queryId"] == qid]
    assert mine and mine[0]["queryString"] == f'SOURCE "/q/access" START={data["start"]}000 END={data["end"]}999 | fields @message'
    assert mine[0]["logGroupName"] == "/q/access" and mine[0]["queryLanguage"] == "CWLI"
    assert logs.describe_queries(logGroupName="/q/access", status="Running")["queries"] == []

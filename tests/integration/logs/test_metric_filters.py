"""Metric filters through the real server (boto3): Put/Describe/Delete with AWS's paging and filters,
TestMetricFilter's extracted values, the running values on /_nimbus/metrics, the group's
metricFilterCount, and filters surviving a restart and going with their group."""

from __future__ import annotations

import time
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.logs.helpers import code, now_ms, stream

APACHE = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" {status} {size}'


def metric(server: NimbusProcess, namespace: str, name: str, dimensions: str = "") -> float | None:
    with urllib.request.urlopen(server.endpoint + "/_nimbus/metrics", timeout=10) as r:
        text = r.read().decode()
    want = f'nimbus_logs_metric_filter_value{{namespace="{namespace}",metric="{name}",dimensions="{dimensions}"}} '
    for line in text.splitlines():
        if line.startswith(want):
            return float(line[len(want):])
    return None


def transformation(name: str, value: str = "1", namespace: str = "App", **extra: Any) -> list[dict[str, Any]]:
    return [{"metricName": name, "metricNamespace": namespace, "metricValue": value, **extra}]


def test_put_describe_delete(logs: Any) -> None:
    stream(logs, "/mf/a")
    stream(logs, "/mf/b")
    logs.put_metric_filter(logGroupName="/mf/a", filterName="errors", filterPattern="ERROR", metricTransformations=transformation("Errors", defaultValue=0))
    logs.put_metric_filter(logGroupName="/mf/a", filterName="bytes", filterPattern="[ip, id, user, ts, request, status, size]",
                           metricTransformations=transformation("Bytes", "$size", unit="Bytes", dimensions={"Status": "$status"}))
    logs.put_metric_filter(logGroupName="/mf/b", filterName="errors-b", filterPattern="ERROR", metricTransformations=transformation("Errors"))
    got = logs.describe_metric_filters(logGroupName="/mf/a")["metricFilters"]
    assert [f["filterName"] for f in got] == ["bytes", "errors"]  # ASCII-sorted by filter name
    errors = got[1]
    assert errors["logGroupName"] == "/mf/a" and errors["filterPattern"] == "ERROR" and errors["applyOnTransformedLogs"] is False
    assert errors["metricTransformations"] == [{"metricName": "Errors", "metricNamespace": "App", "metricValue": "1", "defaultValue": 0.0}]
    assert got[0]["metricTransformations"][0]["dimensions"] == {"Status": "$status"} and got[0]["metricTransformations"][0]["unit"] == "Bytes"
    assert [f["filterName"] for f in logs.describe_metric_filters(logGroupName="/mf/a", filterNamePrefix="err")["metricFilters"]] == ["errors"]
    by_metric = logs.describe_metric_filters(metricName="Errors", metricNamespace="App")["metricFilters"]
    assert sorted((f["logGroupName"], f["filterName"]) for f in by_metric) == [("/mf/a", "errors"), ("/mf/b", "errors-b")]
    page = logs.describe_metric_filters(metricName="Errors", metricNamespace="App", limit=1)
    rest = logs.describe_metric_filters(metricName="Errors", metricNamespace="App", limit=1, nextToken=page["nextToken"])
    assert [f["filterName"] for f in page["metricFilters"] + rest["metricFilters"]] == ["errors", "errors-b"] and "nextToken" not in rest
    with pytest.raises(ClientError) as e:
        logs.describe_metric_filters(metricName="Errors")
    assert code(e) == "InvalidParameterException"
    group = logs.describe_log_groups(logGroupNamePrefix="/mf/a")["logGroups"][0]
    assert group["metricFilterCount"] == 2

    for bad in (
        dict(filterPattern="ERROR", metricTransformations=transformation("X", "$nope")),  # not a field of the pattern
        dict(filterPattern="[a, b]", metricTransformations=transformation("X", "$a", defaultValue=1, dimensions={"B": "$b"})),
        dict(filterPattern="{ $.x = ", metricTransformations=transformation("X")),
    ):
        with pytest.raises(ClientError) as e:
            logs.put_metric_filter(logGroupName="/mf/a", filterName="bad", **bad)
        assert code(e) == "InvalidParameterException", bad
    with pytest.raises(ClientError) as e:
        logs.put_metric_filter(logGroupName="/mf/none", filterName="x", filterPattern="", metricTransformations=transformation("X"))
    assert code(e) == "ResourceNotFoundException"

    logs.delete_metric_filter(logGroupName="/mf/a", filterName="errors")
    with pytest.raises(ClientError) as e:
        logs.delete_metric_filter(logGroupName="/mf/a", filterName="errors")
    assert code(e) == "ResourceNotFoundException"
    assert logs.describe_log_groups(logGroupNamePrefix="/mf/a")["logGroups"][0]["metricFilterCount"] == 1
    logs.delete_log_group(logGroupName="/mf/b")
    assert [f["logGroupName"] for f in logs.describe_metric_filters(metricName="Errors", metricNamespace="App")["metricFilters"]] == []


def test_test_metric_filter(logs: Any) -> None:
    lines = [APACHE.format(status=200, size=1534), APACHE.format(status=404, size=5324), "not an access log"]
    matches = logs.test_metric_filter(filterPattern="[ip, identity, user_id, timestamp, request, status_code = 4*, size]", logEventMessages=lines)["matches"]
    assert matches == [{
        "eventNumber": 2, "eventMessage": lines[1],
        "extractedValues": {"$ip": "127.0.0.1", "$identity": "-", "$user_id": "frank", "$timestamp": "10/Oct/2000:13:25:15 -0700",
                            "$request": "GET /apache_pb.gif HTTP/1.0", "$status_code": "404", "$size": "5324"},
    }]
    json_lines = ['{"latency": 120, "level": "ERROR"}', '{"latency": 3, "level": "ERROR"}']
    matches = logs.test_metric_filter(filterPattern="{ $.latency > 100 }", logEventMessages=json_lines)["matches"]
    assert [(m["eventNumber"], m["extractedValues"]) for m in matches] == [(1, {"$.latency": "120"})]
    matches = logs.test_metric_filter(filterPattern="ERROR", logEventMessages=["[ERROR] 400", "[INFO] 200", "[ERROR] 500"])["matches"]
    assert [(m["eventNumber"], m["extractedValues"]) for m in matches] == [(1, {}), (3, {})]
    with pytest.raises(ClientError) as e:
        logs.test_metric_filter(filterPattern="[a, b", logEventMessages=["x"])
    assert code(e) == "InvalidParameterException"


def test_values_on_prometheus(nimbus_server: NimbusProcess, logs: Any) -> None:
    stream(logs, "/mf/values")
    logs.put_metric_filter(logGroupName="/mf/values", filterName="errors", filterPattern="ERROR",
                           metricTransformations=transformation("Errors", namespace="Values", defaultValue=0))
    logs.put_metric_filter(logGroupName="/mf/values", filterName="bytes", filterPattern="[ip, id, user, ts, request, status, size]",
                           metricTransformations=transformation("Bytes", "$size", namespace="Values", dimensions={"Status": "$status"}))
    logs.put_metric_filter(logGroupName="/mf/values", filterName="latency", filterPattern="{ $.latency >= 0 }",
                           metricTransformations=transformation("Latency", "$.latency", namespace="Values"))
    t = now_ms()
    messages = ["ERROR one", "ERROR two", APACHE.format(status=200, size=100), APACHE.format(status=200, size=50),
                APACHE.format(status=500, size=7), '{"latency": 12.5}', '{"latency": 0.5}']
    logs.put_log_events(logGroupName="/mf/values", logStreamName="s", logEvents=[{"timestamp": t + i, "message": m} for i, m in enumerate(messages)])
    assert metric(nimbus_server, "Values", "Errors") == 2
    assert metric(nimbus_server, "Values", "Bytes", "Status=200") == 150
    assert metric(nimbus_server, "Values", "Bytes", "Status=500") == 7
    assert metric(nimbus_server, "Values", "Latency") == 13


def test_filters_survive_restart(tmp_path: Any) -> None:
    p = NimbusProcess(tmp_path / "data").start()
    try:
        logs = p.client("logs")
        stream(logs, "/mf/restart")
        logs.put_metric_filter(logGroupName="/mf/restart", filterName="f", filterPattern="WARN", metricTransformations=transformation("Warnings", namespace="Restart"))
        p.restart()
        logs = p.client("logs")
        assert [f["filterName"] for f in logs.describe_metric_filters(logGroupName="/mf/restart")["metricFilters"]] == ["f"]
        logs.put_log_events(logGroupName="/mf/restart", logStreamName="s", logEvents=[{"timestamp": now_ms(), "message": "WARN x"}])
        deadline = time.monotonic() + 10
        while metric(p, "Restart", "Warnings") != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert metric(p, "Restart", "Warnings") == 1
    finally:
        p.stop()

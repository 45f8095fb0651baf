"""The console's CloudWatch Logs pages in a real headless Chromium against a real server: groups, streams,
events (older pages and tail), the search over all streams, retention, and a Lambda function's own logs."""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any
from urllib.parse import quote

import pytest

By = pytest.importorskip("selenium.webdriver.common.by", reason="selenium is a test dependency").By

from tests.conftest import NimbusProcess
from tests.integration.console.conftest import go, page_text, sign_in, wait_for


def _now_ms() -> int:
    return int(time.time() * 1000)


def _hash_group(name: str) -> str:
    return "#/logs/groups/" + quote(name, safe="")


def _click(browser: Any, element_id: str) -> None:
    wait_for(browser, lambda: browser.find_element(By.ID, element_id).is_enabled(), what=element_id)
    browser.find_element(By.ID, element_id).click()


def test_stream_events_older_pages_and_tail(browser: Any, nimbus_server: NimbusProcess) -> None:
    logs = nimbus_server.client("logs")
    group, stream = "/console/test/app", "2026/01/01/[$LATEST]abc 100%?#x"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    base = _now_ms() - 60_000
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": base + i, "message": f"line {i:03d}"} for i in range(250)])
    sign_in(browser, nimbus_server)
    go(browser, nimbus_server, "#/logs")
    table = wait_for(browser, lambda: browser.find_elements(By.ID, "logs-groups"), what="log groups table")[0]
    wait_for(browser, lambda: group in table.text, what="the group listed")
    browser.find_element(By.LINK_TEXT, group).click()
    wait_for(browser, lambda: browser.find_elements(By.ID, "log-streams") and stream in browser.find_element(By.ID, "log-streams").text,
             what="the stream listed")
    browser.find_element(By.LINK_TEXT, stream).click()
    events = wait_for(browser, lambda: browser.find_elements(By.ID, "log-events"), what="events table")[0]
    wait_for(browser, lambda: "line 249" in events.text)
    assert "line 049" not in events.text  # the newest page: 200 events
    assert "line 050" in events.text
    _click(browser, "logs-load-older")
    wait_for(browser, lambda: "line 000" in browser.find_element(By.ID, "log-events").text, what="older events")
    rows = browser.find_elements(By.CSS_SELECTOR, "#log-events tr.log-event")
    assert len(rows) == 250
    assert "line 000" in rows[0].text and "line 249" in rows[-1].text
    # tail: a new event appears without reloading
    browser.find_element(By.ID, "logs-tail").click()
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": _now_ms(), "message": "tailed event"}])
    wait_for(browser, lambda: "tailed event" in browser.find_element(By.ID, "log-events").text, timeout=15, what="the tailed event")


def test_search_all_streams_finds_only_matches(browser: Any, nimbus_server: NimbusProcess) -> None:
    logs = nimbus_server.client("logs")
    group = "/console/test/search"
    logs.create_log_group(logGroupName=group)
    for s in ("a", "b"):
        logs.create_log_stream(logGroupName=group, logStreamName=s)
    now = _now_ms()
    logs.put_log_events(logGroupName=group, logStreamName="a", logEvents=[
        {"timestamp": now - 1000, "message": "INFO all good"}, {"timestamp": now - 900, "message": "ERROR disk full on a"}])
    logs.put_log_events(logGroupName=group, logStreamName="b", logEvents=[{"timestamp": now - 800, "message": "INFO still fine"}])
    sign_in(browser, nimbus_server)
    go(browser, nimbus_server, _hash_group(group) + "?tab=search")
    pattern = wait_for(browser, lambda: browser.find_elements(By.ID, "logs-filter-pattern"), what="search form")[0]
    pattern.send_keys("ERROR")
    browser.find_element(By.ID, "logs-filter-run").click()
    wait_for(browser, lambda: "1 matching event" in browser.find_element(By.ID, "logs-filter-summary").text, what="one match")
    results = browser.find_element(By.ID, "logs-filter-results").text
    assert "ERROR disk full on a" in results and "INFO" not in results
    pattern.clear()
    pattern.send_keys("INFO")
    browser.find_element(By.ID, "logs-filter-run").click()
    wait_for(browser, lambda: "2 matching events" in browser.find_element(By.ID, "logs-filter-summary").text, what="two matches")


def test_create_group_set_retention_and_delete(browser: Any, nimbus_server: NimbusProcess) -> None:
    logs = nimbus_server.client("logs")
    group = "/console/test/created"
    sign_in(browser, nimbus_server)
    go(browser, nimbus_server, "#/logs")
    _click(browser, "logs-create")
    wait_for(browser, lambda: browser.find_elements(By.ID, "logs-new-name"))[0].send_keys(group)
    browser.find_element(By.ID, "logs-create-submit").click()
    wait_for(browser, lambda: group in browser.find_element(By.ID, "logs-groups").text, what="the created group")
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]] == [group]
    # filter by prefix
    prefix = browser.find_element(By.ID, "logs-prefix")
    prefix.send_keys("/console/test/cr")
    browser.find_element(By.ID, "logs-prefix-search").click()
    wait_for(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, "#logs-groups .log-group-link")) == 1, what="one group by prefix")
    # retention on the group's page
    go(browser, nimbus_server, _hash_group(group))
    _click(browser, "logs-edit-retention")
    from selenium.webdriver.support.ui import Select

    Select(wait_for(browser, lambda: browser.find_elements(By.ID, "logs-retention"))[0]).select_by_value("14")
    browser.find_element(By.ID, "logs-retention-submit").click()
    wait_for(browser, lambda: logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0].get("retentionInDays") == 14,
             what="retention 14 seen by boto3")
    wait_for(browser, lambda: "14 days" in browser.find_element(By.ID, "log-group-retention").text, what="retention shown")
    _click(browser, "logs-edit-retention")
    Select(wait_for(browser, lambda: browser.find_elements(By.ID, "logs-retention"))[0]).select_by_value("")
    browser.find_element(By.ID, "logs-retention-submit").click()
    wait_for(browser, lambda: "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0],
             what="retention removed")
    # delete
    wait_for(browser, lambda: "Never expire" in browser.find_element(By.ID, "log-group-retention").text)
    _click(browser, "logs-delete-group")
    wait_for(browser, lambda: browser.find_elements(By.ID, "confirm-ok"))[0].click()
    wait_for(browser, lambda: browser.find_elements(By.ID, "logs-groups"), what="back on the list")
    wait_for(browser, lambda: logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == [], what="group deleted")


def test_lambda_invocation_logs_appear_under_aws_lambda(browser: Any, nimbus_server: NimbusProcess) -> None:
    lam = nimbus_server.client("lambda")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", "def lambda_handler(event, context):\n    print('console-logs-marker', event.get('n'))\n    return 'ok'\n")
    lam.create_function(FunctionName="console-logs-fn", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/r",
                        Handler="lambda_function.lambda_handler", Code={"ZipFile": buf.getvalue()})
    lam.get_waiter("function_active_v2").wait(FunctionName="console-logs-fn", WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    assert lam.invoke(FunctionName="console-logs-fn", Payload=b'{"n": 7}')["Payload"].read() == b'"ok"'
    logs = nimbus_server.client("logs")
    group = "/aws/lambda/console-logs-fn"

    def has_marker() -> bool:
        if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            return False
        return any("console-logs-marker 7" in e["message"] for e in logs.filter_log_events(logGroupName=group)["events"])

    wait_for(browser, has_marker, what="the function's output in CloudWatch Logs")
    sign_in(browser, nimbus_server)
    go(browser, nimbus_server, "#/logs")
    prefix = wait_for(browser, lambda: browser.find_elements(By.ID, "logs-prefix"))[0]
    prefix.send_keys("/aws/lambda/")
    browser.find_element(By.ID, "logs-prefix-search").click()
    wait_for(browser, lambda: group in browser.find_element(By.ID, "logs-groups").text, what="the function's group")
    browser.find_element(By.LINK_TEXT, group).click()
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#log-streams .log-stream-link"), what="the function's stream")
    browser.find_elements(By.CSS_SELECTOR, "#log-streams .log-stream-link")[0].click()
    wait_for(browser, lambda: "console-logs-marker 7" in browser.find_element(By.ID, "log-events").text, what="the printed line")
    text = page_text(browser)
    assert "START RequestId" in text or "END RequestId" in text or "REPORT RequestId" in text

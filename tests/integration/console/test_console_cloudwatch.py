"""The console's CloudWatch metrics page in headless Chromium: namespaces and metrics from ListMetrics, a
graph from GetMetricData, alarms; against a real server."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.conftest import NimbusProcess
from tests.integration.console.conftest import go, page_text, sign_in, wait_for

By = pytest.importorskip("selenium.webdriver.common.by", reason="selenium is a test dependency").By


def test_metrics_browse_and_graph(browser: Any, nimbus_server: NimbusProcess) -> None:
    cw = nimbus_server.client("cloudwatch")
    now = dt.datetime.now(dt.timezone.utc)
    cw.put_metric_data(Namespace="Console/Test", MetricData=[
        {"MetricName": "Orders", "Dimensions": [{"Name": "Shop", "Value": "north"}], "Value": 5, "Timestamp": now - dt.timedelta(minutes=2)},
        {"MetricName": "Orders", "Dimensions": [{"Name": "Shop", "Value": "north"}], "Value": 7, "Timestamp": now - dt.timedelta(minutes=1)},
    ])
    sign_in(browser, nimbus_server)
    go(browser, nimbus_server, "#/cloudwatch")
    wait_for(browser, lambda: "Console/Test" in browser.find_element(By.ID, "cw-namespaces").text, what="the namespace")
    browser.find_element(By.LINK_TEXT, "Console/Test").click()
    wait_for(browser, lambda: "Shop=north" in browser.find_element(By.ID, "cw-metrics").text, what="the metric")
    browser.find_element(By.LINK_TEXT, "Orders").click()
    values = wait_for(browser, lambda: browser.find_elements(By.ID, "cw-graph-values"), what="the graph")[0]
    wait_for(browser, lambda: "Orders 2 12" in " ".join(values.text.split()), what="two points summing to 12")
    assert browser.find_elements(By.CSS_SELECTOR, "#cw-chart polyline")
    # the statistic changes the query
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, "cw-stat")).select_by_visible_text("Maximum")
    wait_for(browser, lambda: "stat=Maximum" in browser.current_url
             and "Orders 2 12 7" in " ".join(browser.find_element(By.ID, "cw-graph-values").text.split()))


def test_alarms_listed_and_deleted(browser: Any, nimbus_server: NimbusProcess) -> None:
    cw = nimbus_server.client("cloudwatch")
    cw.put_metric_alarm(AlarmName="console-orders-high", Namespace="Console/Test", MetricName="Orders", Statistic="Sum",
                        Period=60, EvaluationPeriods=1, Threshold=100, ComparisonOperator="GreaterThanThreshold")
    sign_in(browser, nimbus_server)
    go(browser, nimbus_server, "#/cloudwatch?tab=alarms")
    table = wait_for(browser, lambda: browser.find_elements(By.ID, "cw-alarms"))[0]
    wait_for(browser, lambda: "console-orders-high" in table.text)
    row = [r for r in table.find_elements(By.TAG_NAME, "tr") if "console-orders-high" in r.text][0]
    row.find_element(By.XPATH, ".//button[text()='Delete']").click()
    browser.find_element(By.ID, "confirm-ok").click()
    wait_for(browser, lambda: not cw.describe_alarms(AlarmNames=["console-orders-high"])["MetricAlarms"], what="the alarm deleted")
    wait_for(browser, lambda: "console-orders-high" not in page_text(browser))

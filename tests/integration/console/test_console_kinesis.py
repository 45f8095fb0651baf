"""The console's Kinesis pages in a real headless Chromium against a real server: create a data stream through
the form, put a record through the page and read it in the data viewer (with records boto3 put), shards,
consumers (a Lambda event source mapping), errors shown on the page, delete."""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

import pytest

By = pytest.importorskip("selenium.webdriver.common.by", reason="selenium is a test dependency").By
Select = pytest.importorskip("selenium.webdriver.support.ui", reason="selenium is a test dependency").Select

from tests.conftest import NimbusProcess
from tests.integration.console.conftest import go, page_text, sign_in, wait_for


def _set(browser: Any, element_id: str, value: str) -> None:
    def typed() -> bool:
        el = browser.find_element(By.ID, element_id)
        el.clear()
        el.send_keys(value)
        return el.get_attribute("value") == value

    wait_for(browser, typed, what=f"#{element_id} set to {value!r}")  # the page may still be re-rendering


def _click(browser: Any, element_id: str) -> None:
    def clicked() -> bool:
        el = browser.find_element(By.ID, element_id)
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        el.click()
        return True

    wait_for(browser, clicked, what=f"#{element_id} clicked")


def _create_through_form(browser: Any, server: NimbusProcess, name: str, *, shards: int | None = None) -> None:
    go(browser, server, "#/kinesis")
    _click(browser, "ks-create")
    wait_for(browser, lambda: browser.find_element(By.ID, "ks-name"), what="the create form")
    _set(browser, "ks-name", name)
    if shards is not None:
        Select(browser.find_element(By.ID, "ks-mode")).select_by_value("PROVISIONED")
        _set(browser, "ks-shards", str(shards))
    _click(browser, "ks-submit")


def _records_text(browser: Any) -> str:
    return str(browser.find_element(By.ID, "ks-records").text)


def test_create_put_view_and_delete(browser: Any, nimbus_server: NimbusProcess) -> None:
    kinesis = nimbus_server.client("kinesis")
    name = "console-ticks"
    sign_in(browser, nimbus_server)
    _create_through_form(browser, nimbus_server, name, shards=2)
    wait_for(browser, lambda: browser.find_element(By.ID, "ks-title").text == name, what="the stream's page")
    wait_for(browser, lambda: browser.find_element(By.ID, "ks-status").text == "ACTIVE", timeout=30, what="ACTIVE")
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"]["StreamMode"] == "PROVISIONED" and summary["OpenShardCount"] == 2
    shard_ids = [s["ShardId"] for s in kinesis.list_shards(StreamName=name)["Shards"]]
    table = browser.find_element(By.ID, "ks-shards-table").text
    assert all(s in table for s in shard_ids) and "Open" in table
    assert "340282366920938463463374607431768211455" in table  # the last shard's hash range ends at 2^128 - 1

    # put a record through the page; it is in the data viewer of its shard (TRIM_HORIZON)
    _set(browser, "ks-put-key", "NMB")
    _set(browser, "ks-put-data", '{"ticker_symbol": "NMB", "sector": "TECHNOLOGY", "change": 0.01, "price": 1.0}')
    _click(browser, "ks-put-submit")
    seq = wait_for(browser, lambda: browser.find_element(By.ID, "ks-put-seq").text, what="the put's sequence number")
    result = browser.find_element(By.ID, "ks-put-result").text
    shard = next(s for s in shard_ids if s in result)
    # two more records by boto3 with the same partition key (so the same shard), one binary
    kinesis.put_record(StreamName=name, PartitionKey="NMB", Data=b"plain text from boto3")
    kinesis.put_record(StreamName=name, PartitionKey="NMB", Data=b"\xff\xfe\x00binary")

    Select(browser.find_element(By.ID, "ks-viewer-shard")).select_by_value(shard)
    Select(browser.find_element(By.ID, "ks-viewer-position")).select_by_value("TRIM_HORIZON")
    _click(browser, "ks-viewer-get")
    wait_for(browser, lambda: "3 records" in _records_text(browser), what="three records")
    text = _records_text(browser)
    assert seq in text and "NMB" in text and "plain text from boto3" in text
    assert '"ticker_symbol": "NMB",' in text  # JSON pretty-printed
    assert "binary, base64" in text
    pre = browser.find_elements(By.CSS_SELECTOR, "#ks-records pre.ks-record-data")[0].text
    assert json.loads(pre)["price"] == 1.0 and "\n" in pre

    # LATEST: nothing yet; a record put after it appears with "Get next records"
    Select(browser.find_element(By.ID, "ks-viewer-position")).select_by_value("LATEST")
    _click(browser, "ks-viewer-get")
    wait_for(browser, lambda: "0 records" in _records_text(browser), what="nothing after LATEST")
    kinesis.put_record(StreamName=name, PartitionKey="NMB", Data=b'{"later": true}')
    _click(browser, "ks-viewer-next")
    wait_for(browser, lambda: "1 record" in _records_text(browser) and '"later": true' in _records_text(browser), what="the later record")

    # AT_SEQUENCE_NUMBER: from the page's own record
    Select(browser.find_element(By.ID, "ks-viewer-position")).select_by_value("AT_SEQUENCE_NUMBER")
    _set(browser, "ks-viewer-seq", seq)
    _click(browser, "ks-viewer-get")
    wait_for(browser, lambda: "4 records" in _records_text(browser), what="four records from the first")

    # AT_TIMESTAMP an hour ago (the default): all four; a bad sequence number: the error is on the page
    Select(browser.find_element(By.ID, "ks-viewer-position")).select_by_value("AT_TIMESTAMP")
    _click(browser, "ks-viewer-get")
    wait_for(browser, lambda: "4 records" in _records_text(browser), what="four records since an hour ago")
    Select(browser.find_element(By.ID, "ks-viewer-position")).select_by_value("AT_SEQUENCE_NUMBER")
    _set(browser, "ks-viewer-seq", "not-a-number")
    _click(browser, "ks-viewer-get")
    wait_for(browser, lambda: browser.find_element(By.ID, "ks-viewer-error").text, what="the viewer's error")

    # retention and capacity edited on the page
    _click(browser, "ks-edit-retention")
    _set(browser, "ks-edit-retention-hours", "48")
    _click(browser, "ks-edit-retention-submit")
    wait_for(browser, lambda: browser.find_element(By.ID, "ks-retention").text == "48 hours", what="48 hours")
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["RetentionPeriodHours"] == 48
    _click(browser, "ks-edit-capacity")
    _set(browser, "ks-edit-shards", "4")
    _click(browser, "ks-edit-capacity-submit")
    wait_for(browser, lambda: browser.find_element(By.ID, "ks-open-shards").text == "4" and browser.find_element(By.ID, "ks-status").text == "ACTIVE",
             timeout=30, what="four open shards")
    assert "Closed" in browser.find_element(By.ID, "ks-shards-table").text  # the two parents
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["OpenShardCount"] == 4

    # the list shows it; a duplicate name is refused on the page
    go(browser, nimbus_server, "#/kinesis")
    table = wait_for(browser, lambda: (t := browser.find_element(By.ID, "ks-streams")).text and name in t.text and t)
    assert "Provisioned" in table.text and "ACTIVE" in table.text
    _create_through_form(browser, nimbus_server, name)
    wait_for(browser, lambda: "ResourceInUseException" in browser.find_element(By.ID, "ks-error").text, what="the duplicate-name error")

    # delete from the list
    go(browser, nimbus_server, "#/kinesis")
    _click(browser, f"ks-delete-{name}")
    _click(browser, "confirm-ok")

    def gone() -> bool:
        return name not in kinesis.list_streams()["StreamNames"]

    wait_for(browser, gone, timeout=30, what="the stream deleted")


def test_on_demand_stream_with_a_lambda_consumer(browser: Any, nimbus_server: NimbusProcess) -> None:
    kinesis, lam = nimbus_server.client("kinesis"), nimbus_server.client("lambda")
    name = "console-ondemand"
    sign_in(browser, nimbus_server)
    _create_through_form(browser, nimbus_server, name)
    wait_for(browser, lambda: browser.find_element(By.ID, "ks-status").text == "ACTIVE", timeout=30, what="ACTIVE")
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"
    assert "On-demand" in page_text(browser)
    _click(browser, "ks-edit-capacity")
    Select(wait_for(browser, lambda: browser.find_element(By.ID, "ks-edit-mode"))).select_by_value("PROVISIONED")
    _click(browser, "ks-edit-capacity-submit")
    wait_for(browser, lambda: kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamModeDetails"]["StreamMode"] == "PROVISIONED",
             what="provisioned mode")
    wait_for(browser, lambda: "Provisioned" in browser.find_element(By.ID, "ks-summary").text and browser.find_element(By.ID, "ks-status").text == "ACTIVE",
             timeout=30, what="the page showing it")

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", "def lambda_handler(event, context):\n    return None\n")
    fn = lam.create_function(FunctionName="console-ks-consumer", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/lambda",
                             Handler="lambda_function.lambda_handler", Code={"ZipFile": buf.getvalue()})
    mapping = lam.create_event_source_mapping(FunctionName=fn["FunctionName"], EventSourceArn=summary["StreamARN"],
                                              StartingPosition="LATEST", BatchSize=10)
    browser.refresh()
    consumers = wait_for(browser, lambda: (t := browser.find_element(By.ID, "ks-mappings")).text and "console-ks-consumer" in t.text and t,
                         what="the Lambda trigger")
    assert mapping["UUID"] in consumers.text and "LATEST" in consumers.text

    # delete from its own page (the mapping goes first, as AWS asks)
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    for _ in range(100):
        if not lam.list_event_source_mappings(EventSourceArn=summary["StreamARN"])["EventSourceMappings"]:
            break
        time.sleep(0.1)
    _click(browser, "ks-delete")
    _click(browser, "confirm-ok")
    wait_for(browser, lambda: browser.find_elements(By.ID, "ks-streams"), what="back on the list")
    wait_for(browser, lambda: name not in kinesis.list_streams()["StreamNames"], timeout=30, what="deleted")

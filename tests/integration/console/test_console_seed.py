"""The seed tutorial (../shared/seeds/aws-lambda-kinesis-tutorial.md) done the way it is written: in the
console, in a real headless Chromium, in us-east-2. Every step is a click or a keystroke on the page; boto3
and plain HTTP only check what the steps made.

1. Create a Python function, add an API Gateway trigger (Open) and GET its URL.
2. Create the transform function (the Firehose record-processing blueprint, 1-minute timeout).
3. Create the delivery stream: named, "Transform source records with AWS Lambda" on, a new bucket, buffer
   1 MB / 60 s, the default IAM role.
4. Create the producer function with the tutorial's code unchanged, test it from the console.
5. Flush the stream (Nimbus's shortcut for the 60 s wait) and find the records in the bucket, in the
   console's S3 browser and with boto3.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from typing import Any

import pytest

from tests.conftest import NimbusProcess
from tests.integration.console.conftest import go, page_text, sign_in, wait_for

By = pytest.importorskip("selenium.webdriver.common.by", reason="selenium is a test dependency").By
Select = pytest.importorskip("selenium.webdriver.support.ui", reason="selenium is a test dependency").Select

REGION = "us-east-2"
STREAM = "tm-delivery-stream"

PRODUCER = '''import json
import boto3
import random

CHOICES = ["TECHNOLOGY", "ENERGY", "FINANCIAL"]

def lambda_handler(event, context):
    # just generate some random data
    data = {"ticker_symbol":"HJK","sector":random.choice(CHOICES),"change":0.04,"price":4.79}

    # convert it to JSON -- IMPORTANT!!
    as_jsonstr = json.dumps(data)

    # initialize boto3 client
    fh = boto3.client("firehose", "us-east-2")

    # this actually pushed to our firehose datastream
    # we must "encode" in order to convert it into the
    # bytes datatype as all of AWS libs operate over
    # bytes not strings
    fh.put_record(
        DeliveryStreamName="tm-delivery-stream",
        Record={"Data": as_jsonstr.encode('utf-8')})

    # return
    return {
        'statusCode': 200,
        'body': json.dumps(f'Done! Recorded: {as_jsonstr}')
    }
'''


def _el(browser: Any, id_: str) -> Any:
    return wait_for(browser, lambda: browser.find_element(By.ID, id_), what=f"#{id_}")


def _click(browser: Any, id_: str) -> None:
    def clicked() -> bool:
        el = browser.find_element(By.ID, id_)
        if not el.is_enabled():
            return False
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        el.click()
        return True

    wait_for(browser, clicked, what=f"#{id_} clicked")


def _type(browser: Any, id_: str, text: str) -> None:
    def typed() -> bool:
        el = browser.find_element(By.ID, id_)
        el.clear()
        el.send_keys(text)
        return el.get_attribute("value") == text

    wait_for(browser, typed, what=f"#{id_} typed")


def _text(browser: Any, id_: str) -> str:
    els = browser.find_elements(By.ID, id_)
    return str(els[0].text) if els else ""


def _create_function(browser: Any, server: NimbusProcess, name: str, *, blueprint: bool = False) -> None:
    go(browser, server, "#/lambda")
    _click(browser, "create-function")
    _type(browser, "fn-name", name)
    if blueprint:
        _click(browser, "mode-blueprint")
    _click(browser, "fn-create-submit")
    wait_for(browser, lambda: f"#/lambda/functions/{name}" in browser.current_url and _el(browser, "code-editor").get_attribute("value"),
             timeout=60, what=f"the function {name} created")


def test_the_seed_tutorial_in_the_console(browser: Any, nimbus_server: NimbusProcess) -> None:
    lam = nimbus_server.client("lambda", region=REGION)
    sign_in(browser, nimbus_server, region=REGION)

    # 1. an HTTP-triggered function
    _create_function(browser, nimbus_server, "sta9760-lambda")
    go(browser, nimbus_server, "#/lambda/functions/sta9760-lambda?tab=triggers")
    _click(browser, "apigw-add")
    assert Select(_el(browser, "apigw-security")).first_selected_option.get_attribute("value") == "open"
    _click(browser, "apigw-submit")
    url = wait_for(browser, lambda: browser.find_element(By.ID, "apigw-url").get_attribute("href"), timeout=30, what="the API endpoint")
    with urllib.request.urlopen(url, timeout=60) as r:
        assert r.status == 200 and json.loads(r.read()) == "Hello from Lambda!"

    # 2. the transform function: the Firehose blueprint (its timeout is the 1 minute Firehose asks for)
    _create_function(browser, nimbus_server, "tm-transform", blueprint=True)
    assert lam.get_function_configuration(FunctionName="tm-transform")["Timeout"] == 60
    transform_arn = lam.get_function_configuration(FunctionName="tm-transform")["FunctionArn"]

    # 3. the delivery stream, with a new bucket, the transform, 1 MB / 60 s and the default role
    bucket = f"tm-bucket-{uuid.uuid4().hex[:8]}"
    go(browser, nimbus_server, "#/firehose")
    _click(browser, "fh-create")
    _type(browser, "fh-name", STREAM)
    _click(browser, "fh-transform")
    wait_for(browser, lambda: transform_arn in [o.get_attribute("value") for o in Select(browser.find_element(By.ID, "fh-function")).options])
    Select(browser.find_element(By.ID, "fh-function")).select_by_value(transform_arn)
    _click(browser, "fh-bucket-create")
    _type(browser, "fh-new-bucket-name", bucket)
    _click(browser, "fh-new-bucket-submit")
    wait_for(browser, lambda: Select(browser.find_element(By.ID, "fh-bucket")).first_selected_option.get_attribute("value") == bucket,
             what="the new bucket chosen")
    _type(browser, "fh-buffer-size", "1")
    _type(browser, "fh-buffer-interval", "60")
    _click(browser, "fh-submit")
    wait_for(browser, lambda: _text(browser, "fh-status") == "ACTIVE", timeout=30, what="the stream ACTIVE")
    dest = nimbus_server.client("firehose", region=REGION).describe_delivery_stream(DeliveryStreamName=STREAM)[
        "DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert dest["BucketARN"] == f"arn:aws:s3:::{bucket}"
    assert dest["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 60}
    assert dest["ProcessingConfiguration"]["Enabled"] is True

    # 4. the producer, the tutorial's code unchanged, tested from the console three times
    _create_function(browser, nimbus_server, "delivery-stream-processor")
    editor = _el(browser, "code-editor")
    editor.clear()
    browser.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'))", editor, PRODUCER)
    _click(browser, "deploy")
    wait_for(browser, lambda: "Successfully updated" in _text(browser, "deploy-status"), timeout=30, what="the deploy")
    go(browser, nimbus_server, "#/lambda/functions/delivery-stream-processor?tab=test")
    for _ in range(3):
        _click(browser, "test-run")
        wait_for(browser, lambda: "succeeded" in _text(browser, "test-status") and "Done! Recorded" in _text(browser, "test-payload"),
                 timeout=60, what="the producer's answer")
        browser.execute_script("document.getElementById('test-status').textContent = ''")

    # 5. flush instead of waiting 60 s, then the objects: in the console's S3 browser and with boto3
    go(browser, nimbus_server, f"#/firehose/streams/{STREAM}")
    _click(browser, "fh-flush")
    s3 = nimbus_server.client("s3", region=REGION)
    deadline = time.monotonic() + 60
    keys: list[str] = []
    while time.monotonic() < deadline and not keys:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []) if not o["Key"].startswith("processing-failed/")]
        time.sleep(0.25)
    assert keys, "no object delivered"
    records = [json.loads(line) for k in keys for line in s3.get_object(Bucket=bucket, Key=k)["Body"].read().decode().replace("}{", "}\n{").splitlines() if line]
    assert len(records) == 3 and all(r["ticker_symbol"] == "HJK" and r["sector"] in ("TECHNOLOGY", "ENERGY", "FINANCIAL") for r in records)
    year = time.strftime("%Y", time.gmtime())
    assert keys[0].startswith(f"{year}/") and keys[0].split("/")[-1].startswith(f"{STREAM}-")
    go(browser, nimbus_server, f"#/s3/buckets/{bucket}")
    wait_for(browser, lambda: f"{year}/" in page_text(browser), what="the delivered folder in the S3 browser")

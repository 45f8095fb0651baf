"""The console's Firehose pages in a real headless Chromium against a real server: create a delivery stream
through the form (with and without a Lambda transform, the IAM role created as AWS's console does), send demo
data, flush, find the objects in the bucket with boto3, edit the buffer hints, errors on the page, delete."""

from __future__ import annotations

import io
import json
import re
import time
import uuid
import zipfile
from typing import Any

import pytest

By = pytest.importorskip("selenium.webdriver.common.by", reason="selenium is a test dependency").By
Select = pytest.importorskip("selenium.webdriver.support.ui", reason="selenium is a test dependency").Select

from tests.conftest import NimbusProcess
from tests.integration.console.conftest import go, page_text, sign_in, wait_for

TRANSFORM = '''import base64
import json


def lambda_handler(event, context):
    out = []
    for record in event["records"]:
        ticker = json.loads(base64.b64decode(record["data"]))
        ticker["processed"] = True
        data = (json.dumps(ticker) + "\\n").encode()
        out.append({"recordId": record["recordId"], "result": "Ok", "data": base64.b64encode(data).decode()})
    return {"records": out}
'''


def _objects(s3: Any, bucket: str) -> dict[str, bytes]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def _records(s3: Any, bucket: str) -> list[dict[str, Any]]:
    return [json.loads(line) for body in _objects(s3, bucket).values() for line in body.decode().splitlines() if line.strip()]


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


def _create_through_form(browser: Any, server: NimbusProcess, name: str, bucket: str, *, function_arn: str | None = None,
                         size: str = "1", interval: str = "900") -> None:
    go(browser, server, "#/firehose")
    _click(browser, "fh-create")
    name_input = wait_for(browser, lambda: browser.find_element(By.ID, "fh-name"), what="the create form")
    assert re.fullmatch(r"PUT-S3-[A-Za-z0-9]{5}", name_input.get_attribute("value")), name_input.get_attribute("value")
    _set(browser, "fh-name", name)
    wait_for(browser, lambda: bucket in [o.get_attribute("value") for o in Select(browser.find_element(By.ID, "fh-bucket")).options])
    Select(browser.find_element(By.ID, "fh-bucket")).select_by_value(bucket)
    if function_arn:
        _click(browser, "fh-transform")
        Select(browser.find_element(By.ID, "fh-function")).select_by_value(function_arn)
        _set(browser, "fh-proc-buffer-interval", "0")
    _set(browser, "fh-buffer-size", size)
    _set(browser, "fh-buffer-interval", interval)
    role_name = browser.find_element(By.ID, "fh-role-name").text  # AWS's pattern, the name shortened to fit 64 characters
    assert re.fullmatch(rf"KinesisFirehoseServiceRole-{name[:8]}[\w.-]*-us-east-1-\d+", role_name) and len(role_name) <= 64, role_name
    _click(browser, "fh-submit")


def _wait_detail_active(browser: Any, name: str) -> None:
    wait_for(browser, lambda: browser.find_element(By.ID, "fh-title").text == name, what="the stream's page")
    wait_for(browser, lambda: browser.find_element(By.ID, "fh-status").text == "ACTIVE", timeout=30, what="ACTIVE")


def _send_demo_data(browser: Any, at_least: int) -> int:
    _click(browser, "fh-demo-start")
    wait_for(browser, lambda: int((re.search(r"(\d+) records sent", browser.find_element(By.ID, "fh-demo-status").text) or [0, 0])[1]) >= at_least,
             timeout=30, what=f"{at_least} demo records sent")
    _click(browser, "fh-demo-stop")
    status = wait_for(browser, lambda: (t := browser.find_element(By.ID, "fh-demo-status").text).startswith("Stopped") and t)
    return int(re.search(r"(\d+) records sent", status)[1])


def _wait_records(s3: Any, bucket: str, count: int, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        records = _records(s3, bucket)
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.25)


def test_direct_put_stream_demo_data_flush_edit_and_delete(browser: Any, nimbus_server: NimbusProcess) -> None:
    s3, fh, iam = nimbus_server.client("s3"), nimbus_server.client("firehose"), nimbus_server.client("iam")
    bucket = f"fh-console-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    name = "console-plain"
    sign_in(browser, nimbus_server)
    _create_through_form(browser, nimbus_server, name, bucket)
    _wait_detail_active(browser, name)

    desc = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    dest = desc["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert desc["DeliveryStreamType"] == "DirectPut"
    assert dest["BucketARN"] == f"arn:aws:s3:::{bucket}"
    assert dest["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 900}
    assert dest["CompressionFormat"] == "UNCOMPRESSED"
    # error logging on by default, as AWS's console: its group and streams made with the stream
    group = f"/aws/kinesisfirehose/{name}"
    assert dest["CloudWatchLoggingOptions"] == {"Enabled": True, "LogGroupName": group, "LogStreamName": "DestinationDelivery"}
    streams = nimbus_server.client("logs").describe_log_streams(logGroupName=group)["logStreams"]
    assert sorted(s["logStreamName"] for s in streams) == ["BackupDelivery", "DestinationDelivery"]
    role_name = dest["RoleARN"].rsplit("/", 1)[1]
    assert role_name.startswith(f"KinesisFirehoseServiceRole-{name}-us-east-1-")
    role = iam.get_role(RoleName=role_name)["Role"]
    assert "firehose.amazonaws.com" in json.dumps(role["AssumeRolePolicyDocument"])
    policy_names = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    assert len(policy_names) == 1
    policy = json.dumps(iam.get_role_policy(RoleName=role_name, PolicyName=policy_names[0])["PolicyDocument"])
    assert "s3:PutObject" in policy and f"arn:aws:s3:::{bucket}/*" in policy
    text = page_text(browser)
    assert bucket in text and "Direct PUT" in text and "Disabled" in text

    # demo data, then "Flush buffer now": the records are in the bucket (the interval is 900 s)
    sent = _send_demo_data(browser, 4)
    assert _records(s3, bucket) == []
    _click(browser, "fh-flush")
    records = _wait_records(s3, bucket, sent)
    assert len(records) == sent
    assert all(set(r) == {"ticker_symbol", "sector", "change", "price"} for r in records), records[:3]
    assert all(re.match(r"\d{4}/\d{2}/\d{2}/\d{2}/console-plain-", k) for k in _objects(s3, bucket))
    wait_for(browser, lambda: browser.find_element(By.ID, "fh-mon-delivered").text.startswith(f"{sent} records"), what="monitoring")
    assert browser.find_element(By.ID, "fh-mon-last").text != "never"

    # edit the destination: buffer hints, prefix, compression (UpdateDestination with the version id)
    _click(browser, "fh-edit")
    wait_for(browser, lambda: browser.find_element(By.ID, "fh-edit-buffer-size"))
    _set(browser, "fh-edit-buffer-size", "2")
    _set(browser, "fh-edit-buffer-interval", "120")
    _set(browser, "fh-edit-prefix", "ticker/")
    Select(browser.find_element(By.ID, "fh-edit-compression")).select_by_value("GZIP")
    _click(browser, "fh-edit-submit")
    wait_for(browser, lambda: browser.find_element(By.ID, "fh-cfg-buffer").text == "2 MiB or 120 seconds", what="the new hints")
    dest = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert dest["BufferingHints"] == {"SizeInMBs": 2, "IntervalInSeconds": 120}
    assert dest["Prefix"] == "ticker/" and dest["CompressionFormat"] == "GZIP"
    assert browser.find_element(By.ID, "fh-cfg-prefix").text == "ticker/"

    # a stale version id: the edit's error is shown in the dialog, not swallowed
    current = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    fh.update_destination(DeliveryStreamName=name, CurrentDeliveryStreamVersionId=current["VersionId"],
                          DestinationId=current["Destinations"][0]["DestinationId"], ExtendedS3DestinationUpdate={"Prefix": "other/"})
    _click(browser, "fh-edit")
    wait_for(browser, lambda: browser.find_element(By.ID, "fh-edit-buffer-size"))
    _set(browser, "fh-edit-buffer-size", "3")
    _click(browser, "fh-edit-submit")
    wait_for(browser, lambda: "ConcurrentModificationException" in page_text(browser), what="the stale version's error")
    _click(browser, "modal-cancel")

    # a duplicate name: the error is on the page, and the role made for it is removed again
    roles_before = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    _create_through_form(browser, nimbus_server, name, bucket)
    wait_for(browser, lambda: "ResourceInUseException" in browser.find_element(By.ID, "fh-error").text, what="the duplicate-name error")
    assert {r["RoleName"] for r in iam.list_roles()["Roles"]} == roles_before

    # the list, then delete from it
    go(browser, nimbus_server, "#/firehose")
    table = wait_for(browser, lambda: (t := browser.find_element(By.ID, "fh-streams")).text and name in t.text and t)
    assert bucket in table.text and "ACTIVE" in table.text
    _click(browser, f"fh-delete-{name}")
    _click(browser, "confirm-ok")

    def gone() -> bool:
        return name not in fh.list_delivery_streams()["DeliveryStreamNames"]

    wait_for(browser, gone, timeout=30, what="the stream deleted")
    wait_for(browser, lambda: name not in browser.find_element(By.ID, "fh-streams").text, what="the list without it")


def test_stream_with_lambda_transform_delivers_transformed_records(browser: Any, nimbus_server: NimbusProcess) -> None:
    s3, fh, lam = nimbus_server.client("s3"), nimbus_server.client("firehose"), nimbus_server.client("lambda")
    bucket = f"fh-console-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", TRANSFORM)
    fn = lam.create_function(FunctionName=f"fh-console-transform-{uuid.uuid4().hex[:6]}", Runtime="python3.11",
                             Role="arn:aws:iam::000000000000:role/lambda", Handler="lambda_function.lambda_handler",
                             Code={"ZipFile": buf.getvalue()}, Timeout=60)
    lam.get_waiter("function_active_v2").wait(FunctionName=fn["FunctionName"], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    name = "console-transform"
    sign_in(browser, nimbus_server)
    _create_through_form(browser, nimbus_server, name, bucket, function_arn=fn["FunctionArn"])
    _wait_detail_active(browser, name)

    dest = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    proc = dest["ProcessingConfiguration"]
    assert proc["Enabled"] is True
    params = {p["ParameterName"]: p["ParameterValue"] for p in proc["Processors"][0]["Parameters"]}
    assert params["LambdaArn"] == fn["FunctionArn"] + ":$LATEST"
    assert params["BufferIntervalInSeconds"] == "0"
    assert fn["FunctionName"] in browser.find_element(By.ID, "fh-cfg-transform").text
    role_name = dest["RoleARN"].rsplit("/", 1)[1]
    iam = nimbus_server.client("iam")
    policy = json.dumps(iam.get_role_policy(RoleName=role_name, PolicyName=iam.list_role_policies(RoleName=role_name)["PolicyNames"][0])["PolicyDocument"])
    assert "lambda:InvokeFunction" in policy and fn["FunctionArn"] in policy

    sent = _send_demo_data(browser, 3)
    _click(browser, "fh-flush")
    records = _wait_records(s3, bucket, sent, timeout=60)
    assert len(records) == sent, records
    assert all(r.get("processed") is True and "ticker_symbol" in r for r in records), records[:3]

    # the transform switched off and on again in "Edit destination settings" (its parameters are kept)
    _click(browser, "fh-edit")
    box = wait_for(browser, lambda: browser.find_element(By.ID, "fh-edit-transform"))
    assert box.is_selected()
    box.click()
    _click(browser, "fh-edit-submit")
    wait_for(browser, lambda: browser.find_element(By.ID, "fh-cfg-transform").text == "Disabled", what="transform disabled")
    dest = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert dest["ProcessingConfiguration"]["Enabled"] is False
    _click(browser, "fh-edit")
    wait_for(browser, lambda: browser.find_element(By.ID, "fh-edit-transform")).click()
    assert Select(browser.find_element(By.ID, "fh-edit-function")).first_selected_option.get_attribute("value") == fn["FunctionArn"]
    _click(browser, "fh-edit-submit")
    wait_for(browser, lambda: fn["FunctionName"] in browser.find_element(By.ID, "fh-cfg-transform").text, what="transform enabled")
    proc = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]["ProcessingConfiguration"]
    assert proc["Enabled"] is True
    assert {p["ParameterName"]: p["ParameterValue"] for p in proc["Processors"][0]["Parameters"]} == params

    # deleted from its own page
    _click(browser, "fh-delete")
    _click(browser, "confirm-ok")
    wait_for(browser, lambda: browser.find_elements(By.ID, "fh-streams"), what="back on the list")
    wait_for(browser, lambda: name not in fh.list_delivery_streams()["DeliveryStreamNames"], timeout=30, what="deleted")


def test_kinesis_source_with_a_new_bucket_and_an_existing_role(browser: Any, nimbus_server: NimbusProcess) -> None:
    # in the seed tutorial's region, us-east-2 (the bucket made from the form gets its LocationConstraint)
    region = "us-east-2"
    s3, fh, kinesis, iam = (nimbus_server.client(s, region=region) for s in ("s3", "firehose", "kinesis", "iam"))
    kinesis.create_stream(StreamName="console-fh-source", ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName="console-fh-source", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    stream_arn = kinesis.describe_stream_summary(StreamName="console-fh-source")["StreamDescriptionSummary"]["StreamARN"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role_arn = iam.create_role(RoleName="console-fh-existing", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    bucket = f"fh-console-new-{uuid.uuid4().hex[:8]}"
    name = "console-from-kds"
    sign_in(browser, nimbus_server, region=region)
    go(browser, nimbus_server, "#/firehose/create")
    wait_for(browser, lambda: browser.find_element(By.ID, "fh-name"), what="the create form")
    Select(browser.find_element(By.ID, "fh-source")).select_by_value("KinesisStreamAsSource")
    assert re.fullmatch(r"KDS-S3-[A-Za-z0-9]{5}", browser.find_element(By.ID, "fh-name").get_attribute("value"))
    Select(browser.find_element(By.ID, "fh-source-stream")).select_by_value(stream_arn)
    _set(browser, "fh-name", name)
    # a transform function with Lambda's default 3 s timeout: warned about (the seed tutorial's step), then not used
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", TRANSFORM)
    short = nimbus_server.client("lambda", region=region).create_function(
        FunctionName="fh-console-short-timeout", Runtime="python3.11", Role=role_arn, Handler="lambda_function.lambda_handler",
        Code={"ZipFile": buf.getvalue()})
    browser.refresh()
    wait_for(browser, lambda: browser.find_element(By.ID, "fh-name"), what="the create form again")
    Select(browser.find_element(By.ID, "fh-source")).select_by_value("KinesisStreamAsSource")
    Select(browser.find_element(By.ID, "fh-source-stream")).select_by_value(stream_arn)
    _set(browser, "fh-name", name)
    _click(browser, "fh-transform")
    Select(browser.find_element(By.ID, "fh-function")).select_by_value(short["FunctionArn"])
    assert "timeout is 3 seconds" in browser.find_element(By.ID, "fh-function-timeout").text
    _click(browser, "fh-transform")
    # "Create bucket" from the form: a dialog, then the new bucket is chosen
    _click(browser, "fh-bucket-create")
    wait_for(browser, lambda: browser.find_element(By.ID, "fh-new-bucket-name"))
    _set(browser, "fh-new-bucket-name", bucket)
    _click(browser, "fh-new-bucket-submit")
    wait_for(browser, lambda: Select(browser.find_element(By.ID, "fh-bucket")).first_selected_option.get_attribute("value") == bucket, what="the new bucket chosen")
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == region
    _set(browser, "fh-buffer-size", "1")
    _set(browser, "fh-buffer-interval", "900")
    Select(browser.find_element(By.ID, "fh-compression")).select_by_value("GZIP")
    _set(browser, "fh-prefix", "kds/")
    Select(browser.find_element(By.ID, "fh-role-mode")).select_by_value("existing")
    Select(browser.find_element(By.ID, "fh-role")).select_by_value(role_arn)
    _click(browser, "fh-submit")
    _wait_detail_active(browser, name)

    desc = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert desc["DeliveryStreamType"] == "KinesisStreamAsSource"
    assert desc["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"] == stream_arn
    assert desc["Source"]["KinesisStreamSourceDescription"]["RoleARN"] == role_arn
    dest = desc["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert dest["RoleARN"] == role_arn and dest["Prefix"] == "kds/" and dest["CompressionFormat"] == "GZIP"
    assert "Kinesis data stream console-fh-source" in page_text(browser)

    # records put into the data stream (by boto3, and the demo data, which goes into the source stream) are
    # read by Firehose; a flush writes them, gzipped, under kds/
    for i in range(3):
        kinesis.put_record(StreamName="console-fh-source", PartitionKey="k", Data=json.dumps({"n": i}).encode() + b"\n")
    sent = _send_demo_data(browser, 2)
    wait_for(browser, lambda: browser.find_element(By.ID, "fh-mon-incoming").text.startswith(f"{3 + sent} "), timeout=30, what="all records read")
    _click(browser, "fh-flush")
    import gzip

    deadline = time.monotonic() + 30
    while not (objs := _objects(s3, bucket)) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert objs and all(k.startswith("kds/") and k.endswith(".gz") for k in objs), list(objs)
    lines = [json.loads(line) for body in objs.values() for line in gzip.decompress(body).decode().splitlines() if line]
    assert sorted(r["n"] for r in lines if "n" in r) == [0, 1, 2]
    assert len([r for r in lines if "ticker_symbol" in r]) == sent

    fh.delete_delivery_stream(DeliveryStreamName=name)


def test_http_endpoint_stream_made_by_the_sdk_is_shown_not_edited(browser: Any, nimbus_server: NimbusProcess) -> None:
    s3, fh = nimbus_server.client("s3"), nimbus_server.client("firehose")
    bucket = f"fh-console-http-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    role = "arn:aws:iam::000000000000:role/firehose"
    name = "console-http"
    fh.create_delivery_stream(DeliveryStreamName=name, HttpEndpointDestinationConfiguration={
        "EndpointConfiguration": {"Url": "https://collector.example.com/ingest", "Name": "collector"},
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}, "RoleARN": role,
        "S3Configuration": {"RoleARN": role, "BucketARN": f"arn:aws:s3:::{bucket}"},
    })
    sign_in(browser, nimbus_server)
    go(browser, nimbus_server, "#/firehose")
    wait_for(browser, lambda: "HTTP endpoint https://collector.example.com/ingest" in browser.find_element(By.ID, "fh-streams").text, what="the HTTP stream listed")
    go(browser, nimbus_server, f"#/firehose/streams/{name}")
    wait_for(browser, lambda: browser.find_element(By.ID, "fh-title").text == name)
    config = wait_for(browser, lambda: browser.find_element(By.ID, "fh-config").text)
    assert "https://collector.example.com/ingest" in config and bucket in config and "1 MiB or 60 seconds" in config
    assert not browser.find_elements(By.ID, "fh-edit") and browser.find_elements(By.ID, "fh-delete")
    wait_for(browser, lambda: browser.find_element(By.ID, "fh-status").text == "ACTIVE", timeout=30, what="ACTIVE")
    fh.delete_delivery_stream(DeliveryStreamName=name)

"""The seed tutorial's own producer function, unchanged, on Nimbus.

Read byte for byte from ../shared/seeds/aws-lambda-kinesis-tutorial.md, deployed as python3.8 through boto3,
called through an API Gateway trigger (GET on its /default/<function> URL) as the tutorial does; its
``boto3.client("firehose", "us-east-2").put_record(...)`` reaches Nimbus with no endpoint in the code, and
the records arrive in the bucket transformed by a blueprint-style Lambda (examples/ticker-pipeline/transform).
"""

from __future__ import annotations

import io
import json
import re
import time
import urllib.request
import zipfile

from nimbus.cli.trigger import create_http_trigger, invoke_urls
from tests.integration.seed._seed import EXAMPLE, tutorial_producer_code, wait_for_records

REGION = "us-east-2"
ROLE = "arn:aws:iam::000000000000:role/tutorial"
CHOICES = {"TECHNOLOGY", "ENERGY", "FINANCIAL"}


def _zip(code: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("lambda_function.py", code)
    return buf.getvalue()


def test_tutorial_producer_through_http_trigger_into_s3(nimbus_server):
    producer_code = tutorial_producer_code()
    assert 'boto3.client("firehose", "us-east-2")' in producer_code and "tm-delivery-stream" in producer_code
    lam = nimbus_server.client("lambda", REGION)
    apigw = nimbus_server.client("apigateway", REGION)
    s3 = nimbus_server.client("s3", REGION)
    fh = nimbus_server.client("firehose", REGION)

    # The delivery stream with its transformation function and bucket (the tutorial's Kinesis part).
    s3.create_bucket(Bucket="tutorial-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    transform = lam.create_function(
        FunctionName="tm-transform", Runtime="python3.8", Role=ROLE, Handler="lambda_function.lambda_handler",
        Timeout=60, Code={"ZipFile": _zip((EXAMPLE / "transform" / "lambda_function.py").read_text())},
    )
    fh.create_delivery_stream(
        DeliveryStreamName="tm-delivery-stream",
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE,
            "BucketARN": "arn:aws:s3:::tutorial-bucket",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1},
            "ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
                {"ParameterName": "LambdaArn", "ParameterValue": transform["FunctionArn"]}]}]},
        },
    )

    # The producer: the tutorial's code as printed, python3.8, behind an open API Gateway trigger.
    lam.create_function(
        FunctionName="delivery-stream-processor-latest", Runtime="python3.8", Role=ROLE,
        Handler="lambda_function.lambda_handler", Code={"ZipFile": _zip(producer_code)},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="delivery-stream-processor-latest")
    assert lam.get_function_configuration(FunctionName="delivery-stream-processor-latest")["Runtime"] == "python3.8"
    for _ in range(300):  # CREATING for about a second
        if fh.describe_delivery_stream(DeliveryStreamName="tm-delivery-stream")["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    trig = create_http_trigger(lam, apigw, "delivery-stream-processor-latest", security="open", stage="default")
    url = invoke_urls(nimbus_server.endpoint, trig["restApiId"], "default", trig["resource"])[0]
    assert url.endswith("/default/delivery-stream-processor-latest")

    sent = []
    for _ in range(5):
        with urllib.request.urlopen(url, timeout=60) as r:
            assert r.status == 200
            body = json.loads(r.read())
        m = re.fullmatch(r"Done! Recorded: (\{.*\})", body)
        assert m, body
        sent.append(json.loads(m.group(1)))

    objects = wait_for_records(s3, "tutorial-bucket", len(sent))
    assert objects, "nothing was delivered"
    for key in objects:
        assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\d{2}/tm-delivery-stream-1-\d{4}(-\d{2}){5}-[0-9a-f-]{36}", key), key
    delivered = [json.loads(line) for lines in objects.values() for line in lines]
    assert len(delivered) == len(sent)
    for rec in delivered:
        assert rec["processed"] is True and isinstance(rec["arrival_ms"], int)
        assert rec["sector"] in CHOICES and rec["ticker_symbol"] == "HJK"
    strip = lambda r: {k: v for k, v in r.items() if k not in ("processed", "arrival_ms")}  # noqa: E731
    assert sorted(map(json.dumps, map(strip, delivered))) == sorted(map(json.dumps, sent))

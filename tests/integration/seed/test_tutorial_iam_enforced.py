"""The seed tutorial on a server that enforces IAM: the roles the console creates by default, plus the
Firehose permission the producer's role needs (as on AWS), carry the whole journey; Nimbus's own work
(Firehose invoking the transform, writing to S3) is not held up; a producer whose role lacks the Firehose
permission is refused, as on AWS."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest

from tests.conftest import NimbusProcess
from tests.integration.seed._seed import EXAMPLE, tutorial_producer_code, wait_for_records

REGION = "us-east-2"
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
FIREHOSE_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def _zip(code: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("lambda_function.py", code)
    return buf.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    s = NimbusProcess(tmp_path_factory.mktemp("seed-iam") / "data", env={"NIMBUS_IAM": "enforce"}).start()
    yield s
    s.stop()


def test_the_journey_under_iam_enforce(server: NimbusProcess) -> None:
    producer_code = tutorial_producer_code()
    iam = server.client("iam")
    lam, s3, fh = server.client("lambda", REGION), server.client("s3", REGION), server.client("firehose", REGION)
    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    fn_role = iam.create_role(RoleName="tutorial-fn", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    iam.attach_role_policy(RoleName="tutorial-fn", PolicyArn=basic)
    fh_role = iam.create_role(RoleName="tutorial-firehose", AssumeRolePolicyDocument=FIREHOSE_TRUST)["Role"]["Arn"]

    s3.create_bucket(Bucket="tutorial-enforced", CreateBucketConfiguration={"LocationConstraint": REGION})
    transform = lam.create_function(
        FunctionName="tm-transform", Runtime="python3.8", Role=fn_role, Handler="lambda_function.lambda_handler",
        Timeout=60, Code={"ZipFile": _zip((EXAMPLE / "transform" / "lambda_function.py").read_text())},
    )
    fh.create_delivery_stream(
        DeliveryStreamName="tm-delivery-stream",
        ExtendedS3DestinationConfiguration={
            "RoleARN": fh_role, "BucketARN": "arn:aws:s3:::tutorial-enforced",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1},
            "ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
                {"ParameterName": "LambdaArn", "ParameterValue": transform["FunctionArn"]}]}]},
        },
    )
    for _ in range(300):
        if fh.describe_delivery_stream(DeliveryStreamName="tm-delivery-stream")["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    lam.create_function(FunctionName="producer", Runtime="python3.8", Role=fn_role, Handler="lambda_function.lambda_handler",
                        Code={"ZipFile": _zip(producer_code)}, Timeout=30)
    # the console's default role does not let the producer write to Firehose: refused, as on AWS
    out = lam.invoke(FunctionName="producer", Payload=b"{}")
    assert out.get("FunctionError") == "Unhandled"
    error = json.loads(out["Payload"].read())
    assert "AccessDeniedException" in error["errorMessage"] and "firehose:PutRecord" in error["errorMessage"]
    # with the permission the tutorial's user would add, the journey runs end to end
    iam.put_role_policy(RoleName="tutorial-fn", PolicyName="firehose-put", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
                                                "Resource": f"arn:aws:firehose:{REGION}:000000000000:deliverystream/tm-delivery-stream"}]}))
    for _ in range(3):
        out = lam.invoke(FunctionName="producer", Payload=b"{}")
        assert "FunctionError" not in out, out["Payload"].read()
    objects = wait_for_records(s3, "tutorial-enforced", 3)
    lines = [json.loads(line) for body in objects.values() for line in body]
    assert len(lines) >= 3 and all(rec["ticker_symbol"] == "HJK" for rec in lines)
    # the function's logs went to CloudWatch Logs (its role allows it: AWSLambdaBasicExecutionRole)
    logs = server.client("logs", REGION)
    assert logs.describe_log_streams(logGroupName="/aws/lambda/producer")["logStreams"]

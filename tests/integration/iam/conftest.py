"""The iam client of the package's shared server, and documents every IAM test module uses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess

TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
S3_READ: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}],
}
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@pytest.fixture(scope="module")
def iam(nimbus_server: NimbusProcess) -> Any:
    return nimbus_server.client("iam")


@pytest.fixture(scope="module")
def unchecked_iam(nimbus_server: NimbusProcess) -> Any:
    """A client that sends what botocore would refuse, to see the server's own validation."""
    from botocore.config import Config

    return nimbus_server.client("iam", config=Config(parameter_validation=False, retries={"max_attempts": 1}))


def doc(value: dict[str, Any]) -> str:
    return json.dumps(value)


def error(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]

"""STS over the query protocol: who am I, temporary credentials that really sign requests (and survive a
restart), the protocol's own errors on the wire, and a function's view of its role session."""

from __future__ import annotations

import http.client
import json
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess
from tests.integration.lambda_.functions import py_zip

NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def send(server: NimbusProcess, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, *,
         sign: bool = True, secret: str = SECRET_KEY) -> tuple[int, dict[str, str], bytes]:
    headers = dict(headers or {})
    if sign:
        req = AWSRequest(method=method, url=server.endpoint + path, data=body, headers=headers)
        SigV4Auth(Credentials(ACCESS_KEY, secret), "sts", "us-east-1").add_auth(req)
        headers = dict(req.headers.items())
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def error_of(body: bytes) -> tuple[str, str, str]:
    root = ET.fromstring(body)
    assert root.tag.endswith("ErrorResponse")
    err = root.find(f"{NS}Error") if root.find(f"{NS}Error") is not None else root.find("Error")
    assert err is not None, body

    def text(name: str) -> str:
        node = err.find(f"{NS}{name}") if err.find(f"{NS}{name}") is not None else err.find(name)
        return node.text or "" if node is not None else ""

    return text("Type"), text("Code"), text("Message")


def session_client(server: NimbusProcess, service: str, creds: dict[str, Any], region: str = "us-east-1") -> Any:
    return server.client(service, region, access_key=creds["AccessKeyId"], secret_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"])


def test_get_caller_identity_of_the_root_keys(nimbus_server: NimbusProcess) -> None:
    out = nimbus_server.client("sts").get_caller_identity()
    assert (out["Account"], out["Arn"], out["UserId"]) == ("000000000000", "arn:aws:iam::000000000000:root", "000000000000")
    # any region: STS answers the same everywhere
    assert nimbus_server.client("sts", "eu-west-1").get_caller_identity()["Arn"] == out["Arn"]
    cli = json.loads(nimbus_server.aws("sts", "get-caller-identity").stdout)
    assert cli == {"UserId": "000000000000", "Account": "000000000000", "Arn": "arn:aws:iam::000000000000:root"}


def test_session_token_keys_sign_requests_to_every_service(nimbus_server: NimbusProcess) -> None:
    sts = nimbus_server.client("sts")
    before = time.time()
    creds = sts.get_session_token(DurationSeconds=7200)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    # the root user's sessions last at most an hour
    assert before + 3500 < creds["Expiration"].timestamp() <= time.time() + 3601
    assert session_client(nimbus_server, "sts", creds).get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:root"
    s3 = session_client(nimbus_server, "s3", creds)
    s3.create_bucket(Bucket="sts-session-bucket")
    assert "sts-session-bucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    # without the token the key is unknown; with a wrong secret the signature fails
    with pytest.raises(botocore.exceptions.ClientError) as e:
        nimbus_server.client("sts", access_key=creds["AccessKeyId"], secret_key=creds["SecretAccessKey"]).get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        session_client(nimbus_server, "sts", {**creds, "SecretAccessKey": "x" * 40}).get_caller_identity()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # session keys cannot make more sessions
    with pytest.raises(botocore.exceptions.ClientError) as e:
        session_client(nimbus_server, "sts", creds).get_session_token()
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_federation_token(nimbus_server: NimbusProcess) -> None:
    out = nimbus_server.client("sts").get_federation_token(Name="bob", Policy=json.dumps({"Version": "2012-10-17", "Statement": []}))
    assert out["FederatedUser"] == {"FederatedUserId": "000000000000:bob", "Arn": "arn:aws:sts::000000000000:federated-user/bob"}
    assert 1 <= out["PackedPolicySize"] <= 100
    me = session_client(nimbus_server, "sts", out["Credentials"]).get_caller_identity()
    assert (me["Arn"], me["UserId"]) == ("arn:aws:sts::000000000000:federated-user/bob", "000000000000:bob")


def test_assume_role_of_a_role_that_does_not_exist_is_denied(nimbus_server: NimbusProcess) -> None:
    sts = nimbus_server.client("sts")
    for arn in ("arn:aws:iam::000000000000:role/no-such-role", "arn:aws:iam::123456789012:role/elsewhere"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sts.assume_role(RoleArn=arn, RoleSessionName="s1")
        err = e.value.response
        assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
        assert err["Error"]["Message"] == (
            f"User: arn:aws:iam::000000000000:root is not authorized to perform: sts:AssumeRole on resource: {arn}")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn="arn:aws:s3:::not-a-role-arn", RoleSessionName="s1")
    assert e.value.response["Error"]["Code"] == "ValidationError"


def test_get_access_key_info(nimbus_server: NimbusProcess) -> None:
    assert nimbus_server.client("sts").get_access_key_info(AccessKeyId="ASIAEXAMPLEEXAMPLE12")["Account"] == "000000000000"


# --- the query protocol on the wire -------------------------------------------------------------------


def test_query_protocol_requests_and_answers_on_the_wire(nimbus_server: NimbusProcess) -> None:
    # a form body
    status, headers, body = send(nimbus_server, "POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15", {"Content-Type": FORM})
    assert (status, headers["content-type"]) == (200, "text/xml")
    root = ET.fromstring(body)
    assert root.tag == f"{NS}GetCallerIdentityResponse"
    assert root.findtext(f"{NS}GetCallerIdentityResult/{NS}Arn") == "arn:aws:iam::000000000000:root"
    assert root.findtext(f"{NS}ResponseMetadata/{NS}RequestId") == headers["x-amzn-requestid"]
    # timestamps in whole seconds, as STS writes them
    status, _, body = send(nimbus_server, "POST", "/", b"Action=GetSessionToken&DurationSeconds=900", {"Content-Type": FORM})
    expiration = ET.fromstring(body).findtext(f"{NS}GetSessionTokenResult/{NS}Credentials/{NS}Expiration")
    assert status == 200 and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", expiration or ""), expiration
    # the same in the query string of a GET
    status, _, body = send(nimbus_server, "GET", "/?Action=GetCallerIdentity&Version=2011-06-15")
    assert status == 200 and b"<Account>000000000000</Account>" in body


@pytest.mark.parametrize(
    "body,code,message",
    [
        (b"Version=2011-06-15", "MissingAction", "The request must contain the parameter Action."),
        (b"Action=FlyToTheMoon&Version=2011-06-15", "InvalidAction", "Could not find operation FlyToTheMoon for version 2011-06-15"),
        (b"Action=AssumeRole&Version=2011-06-15&RoleSessionName=s1", "ValidationError",
         "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null"),
        (b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr&RoleSessionName=a", "ValidationError",
         # the value is not quoted, as IAM and STS word it
         "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: "
         "Member must have length greater than or equal to 2"),
        (b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr&RoleSessionName=s1&DurationSeconds=soon",
         "ValidationError", None),
        (b"Action=GetSessionToken&DurationSeconds=60", "ValidationError", None),
    ],
    ids=["no-action", "unknown-action", "missing-member", "too-short", "not-an-integer", "below-minimum"],
)
def test_bad_requests_are_sender_errors_in_xml(nimbus_server: NimbusProcess, body: bytes, code: str, message: str | None) -> None:
    status, headers, raw = send(nimbus_server, "POST", "/", body, {"Content-Type": FORM})
    assert status == 400, raw
    kind, got_code, got_message = error_of(raw)
    assert (kind, got_code) == ("Sender", code)
    if message is not None:
        assert got_message == message
    assert headers["x-amzn-requestid"]


def test_a_body_that_is_not_a_form_is_refused(nimbus_server: NimbusProcess) -> None:
    status, _, raw = send(nimbus_server, "POST", "/", b'{"Action": "GetCallerIdentity"}', {"Content-Type": "application/json"})
    assert status == 400
    assert error_of(raw)[1] == "MalformedQueryString"


def test_auth_failures_in_the_query_protocol(nimbus_server: NimbusProcess) -> None:
    status, _, raw = send(nimbus_server, "POST", "/", b"Action=GetCallerIdentity", {"Content-Type": FORM}, sign=False)
    assert (status, error_of(raw)[1]) == (403, "MissingAuthenticationToken")
    status, _, raw = send(nimbus_server, "POST", "/", b"Action=GetCallerIdentity", {"Content-Type": FORM}, secret="wrong")
    assert (status, error_of(raw)[1]) == (403, "SignatureDoesNotMatch")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        nimbus_server.client("sts", access_key="AKIAUNKNOWNUNKNOWN00").get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert e.value.response["Error"]["Message"] == "The security token included in the request is invalid."


def test_an_unimplemented_sts_operation_is_501(nimbus_server: NimbusProcess) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as e:
        nimbus_server.client("sts").decode_authorization_message(EncodedMessage="x")
    err = e.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == ("NotImplemented", 501)


# --- durability and functions ------------------------------------------------------------------------


def test_sessions_survive_a_restart_and_expire(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        sts = server.client("sts")
        kept = sts.get_session_token(DurationSeconds=900)["Credentials"]
        bob = sts.get_federation_token(Name="bob")["Credentials"]
        server.kill9()
        server.start()
        assert session_client(server, "sts", kept).get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:root"
        assert session_client(server, "sts", bob).get_caller_identity()["Arn"].endswith(":federated-user/bob")
    finally:
        server.stop()


WHOAMI = """
import boto3

def handler(event, context):
    return boto3.client("sts").get_caller_identity()["Arn"]
"""


def test_a_function_sees_its_role_session(nimbus_server: NimbusProcess) -> None:
    lam = nimbus_server.client("lambda")
    lam.create_function(FunctionName="whoami", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/service-role/my-exec",
                        Handler="app.handler", Code={"ZipFile": py_zip(WHOAMI)}, Timeout=30)
    lam.get_waiter("function_active_v2").wait(FunctionName="whoami")
    out = lam.invoke(FunctionName="whoami")
    assert "FunctionError" not in out, out["Payload"].read()
    assert json.loads(out["Payload"].read()) == "arn:aws:sts::000000000000:assumed-role/my-exec/whoami"

"""The console's server side: sign-in (keys, the `nimbus console` link), sessions, the call proxy through the
AWS API, presigned object URLs, function code for the editor, static files; all against a real server."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess, free_port
from tests.integration.console.conftest import CONSOLE, ConsoleClient, ConsoleError


def test_session_requires_sign_in(nimbus_server: NimbusProcess) -> None:
    c = ConsoleClient(nimbus_server)
    status, body, _ = c.get(CONSOLE + "/api/session")
    assert status == 401 and b"SignInRequired" in body
    status, doc = c.post("call", {"service": "s3", "operation": "ListBuckets"})
    assert status == 401 and doc["error"]["code"] == "SignInRequired"


def test_wrong_keys_are_refused_and_nothing_is_signed_in(nimbus_server: NimbusProcess) -> None:
    c = ConsoleClient(nimbus_server)
    status, doc = c.post("login", {"accessKeyId": ACCESS_KEY, "secretAccessKey": "not-the-secret"})
    assert status == 401 and doc["error"]["code"] == "SignInFailed"
    assert "signature" in doc["error"]["message"].lower()
    status, doc = c.post("login", {"accessKeyId": "", "secretAccessKey": ""})
    assert status == 400
    assert c.get(CONSOLE + "/api/session")[0] == 401


def test_sign_in_then_identity_and_sign_out(nimbus_server: NimbusProcess) -> None:
    c = ConsoleClient(nimbus_server).login()
    status, body, headers = c.get(CONSOLE + "/api/session")
    assert status == 200
    import json

    doc = json.loads(body)
    assert doc["identity"]["Arn"] == "arn:aws:iam::000000000000:root"
    assert doc["defaultRegion"] and doc["authOff"] is False
    assert c.post("logout", {})[0] == 200
    assert c.get(CONSOLE + "/api/session")[0] == 401


def test_session_cookie_is_http_only_and_strict(nimbus_server: NimbusProcess) -> None:
    req = urllib.request.Request(
        nimbus_server.endpoint + CONSOLE + "/api/login", method="POST",
        data=f'{{"accessKeyId":"{ACCESS_KEY}","secretAccessKey":"{SECRET_KEY}"}}'.encode(),
        headers={"x-nimbus-console": "1", "content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and f"Path={CONSOLE}" in cookie


def test_api_posts_need_the_console_header(nimbus_server: NimbusProcess) -> None:
    c = ConsoleClient(nimbus_server).login()
    status, doc = c.post("call", {"service": "s3", "operation": "ListBuckets"}, header=False)
    assert status == 403 and doc["error"]["code"] == "Forbidden"


def test_calls_go_through_the_aws_api(console: ConsoleClient, nimbus_server: NimbusProcess) -> None:
    console.call("s3", "CreateBucket", {"Bucket": "console-calls"})
    console.call("s3", "PutObject", {"Bucket": "console-calls", "Key": "a/b.txt", "Body": "hello console"})
    got = console.call("s3", "GetObject", {"Bucket": "console-calls", "Key": "a/b.txt"})
    assert got["Body"] == "hello console" and got["ContentLength"] == 13 and got["ETag"]
    # what the console wrote, boto3 reads: one server, one API
    s3 = nimbus_server.client("s3")
    assert s3.get_object(Bucket="console-calls", Key="a/b.txt")["Body"].read() == b"hello console"
    listed = console.call("s3", "ListObjectsV2", {"Bucket": "console-calls"})
    assert [o["Key"] for o in listed["Contents"]] == ["a/b.txt"]
    assert listed["Contents"][0]["LastModified"].endswith("+00:00")  # timestamps as ISO 8601


def test_binary_blobs_round_trip_as_base64(console: ConsoleClient) -> None:
    console.call("s3", "CreateBucket", {"Bucket": "console-bin"})
    console.call("s3", "PutObject", {"Bucket": "console-bin", "Key": "x", "Body": {"$b64": "/wD+"}})
    assert console.call("s3", "GetObject", {"Bucket": "console-bin", "Key": "x"})["Body"] == {"$b64": "/wD+"}


def test_aws_errors_keep_their_codes(console: ConsoleClient) -> None:
    with pytest.raises(ConsoleError) as e:
        console.call("lambda", "GetFunction", {"FunctionName": "no-such-function"})
    assert e.value.status == 404 and e.value.code == "ResourceNotFoundException"
    with pytest.raises(ConsoleError) as e:
        console.call("s3", "GetObject", {"Bucket": "no-such-bucket-console", "Key": "k"})
    assert e.value.code == "NoSuchBucket"


def test_bad_calls_are_answered_not_obeyed(console: ConsoleClient) -> None:
    for service, op, params, code in [
        ("nosuchservice", "X", {}, "UnknownService"),
        ("s3", "NoSuchOperation", {}, "UnknownOperation"),
        ("s3", "CreateBucket", {}, "ParamValidation"),  # Bucket is required: botocore's own validation
        ("s3", "PutObject", {"Bucket": "b", "Key": "k", "Body": {"$b64": "***"}}, "ParamValidation"),
    ]:
        with pytest.raises(ConsoleError) as e:
            console.call(service, op, params)
        assert e.value.code == code, (service, op, e.value.doc)
    status, doc = console.post("call", [1, 2])  # type: ignore[arg-type]
    assert status == 400 and doc["error"]["code"] == "SerializationException"
    status, doc = console.post("nosuchapi", {})
    assert status == 404


def test_presigned_object_urls_work_from_plain_http(console: ConsoleClient, nimbus_server: NimbusProcess) -> None:
    console.call("s3", "CreateBucket", {"Bucket": "console-presign"})
    status, doc = console.post("presign", {"service": "s3", "operation": "PutObject", "params": {"Bucket": "console-presign", "Key": "up.txt"}})
    assert status == 200
    req = urllib.request.Request(doc["url"], data=b"uploaded from a browser", method="PUT")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
    status, doc = console.post("presign", {"service": "s3", "operation": "GetObject",
                                           "params": {"Bucket": "console-presign", "Key": "up.txt", "ResponseContentDisposition": "attachment"}})
    with urllib.request.urlopen(doc["url"], timeout=30) as r:
        assert r.read() == b"uploaded from a browser"
        assert r.headers["content-disposition"] == "attachment"
    status, doc = console.post("presign", {"service": "lambda", "operation": "Invoke", "params": {}})
    assert status == 400 and doc["error"]["code"] == "NotSupportedByConsole"


def test_inline_code_create_invoke_and_read_back(console: ConsoleClient) -> None:
    code = "def lambda_handler(event, context):\n    return {'statusCode': 200, 'body': event.get('name', 'nobody')}\n"
    console.call("lambda", "CreateFunction", {
        "FunctionName": "console-inline", "Runtime": "python3.12", "Handler": "lambda_function.lambda_handler",
        "Role": "arn:aws:iam::000000000000:role/console-test", "Code": {"ZipFile": {"$zip": {"lambda_function.py": code}}},
    })
    out = console.call("lambda", "Invoke", {"FunctionName": "console-inline", "Payload": '{"name": "ada"}'})
    assert out["StatusCode"] == 200 and '"body": "ada"' in out["Payload"]
    status, doc = console.post("function-code", {"params": {"FunctionName": "console-inline"}})
    assert status == 200 and doc["files"] == {"lambda_function.py": code}
    status, doc = console.post("call", {"service": "lambda", "operation": "UpdateFunctionCode", "params": {
        "FunctionName": "console-inline", "ZipFile": {"$zip": {"../evil.py": "x"}}}})
    assert status == 400 and doc["error"]["code"] == "ParamValidation"


def test_static_files_and_no_traversal(nimbus_server: NimbusProcess) -> None:
    c = ConsoleClient(nimbus_server)
    status, body, headers = c.get(CONSOLE + "/")
    assert status == 200 and b"<title>Nimbus console</title>" in body
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    status, body, headers = c.get(CONSOLE + "/static/console.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript") or headers["content-type"].startswith("application/javascript")
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/static/nope.js"):
        assert c.get(CONSOLE + path)[0] == 404, path


def _nimbus(server: NimbusProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = server.aws_env()
    return subprocess.run([str(Path(sys.executable).parent / "nimbus"), *args], env=env, capture_output=True, text=True, timeout=60)


def test_nimbus_console_link_signs_in(nimbus_server: NimbusProcess) -> None:
    cp = _nimbus(nimbus_server, "console")
    assert cp.returncode == 0, cp.stderr
    url = cp.stdout.strip()
    assert url.startswith(nimbus_server.endpoint + CONSOLE + "/login?") and SECRET_KEY not in url
    c = ConsoleClient(nimbus_server)
    status, body, _ = c.get(url[len(nimbus_server.endpoint):])  # follows the 303 to the console page, with the cookie
    assert status == 200 and b"Nimbus console" in body
    assert c.get(CONSOLE + "/api/session")[0] == 200
    # a tampered link signs nobody in
    bad = ConsoleClient(nimbus_server)
    status, body, _ = bad.get(url[len(nimbus_server.endpoint):].replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    assert status == 403 and b"not valid" in body
    assert bad.get(CONSOLE + "/api/session")[0] == 401


def test_deactivated_key_ends_its_session(nimbus_server: NimbusProcess) -> None:
    iam = nimbus_server.client("iam")
    iam.create_user(UserName="console-user")
    key = iam.create_access_key(UserName="console-user")["AccessKey"]
    c = ConsoleClient(nimbus_server).login(key["AccessKeyId"], key["SecretAccessKey"])
    status, body, _ = c.get(CONSOLE + "/api/session")
    assert status == 200 and b"user/console-user" in body
    iam.update_access_key(UserName="console-user", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert c.get(CONSOLE + "/api/session")[0] == 401
    status, doc = c.post("call", {"service": "s3", "operation": "ListBuckets"})
    assert status == 401


def test_iam_enforcement_applies_to_console_calls(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data", free_port(), extra_args=["--iam", "enforce"]).start()
    try:
        iam = server.client("iam")
        iam.create_user(UserName="reader")
        iam.put_user_policy(UserName="reader", PolicyName="s3-list", PolicyDocument=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListAllMyBuckets","sts:GetCallerIdentity"],"Resource":"*"}]}'))
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        c = ConsoleClient(server).login(key["AccessKeyId"], key["SecretAccessKey"])
        assert "Buckets" in c.call("s3", "ListBuckets")
        with pytest.raises(ConsoleError) as e:
            c.call("s3", "CreateBucket", {"Bucket": "not-allowed"})
        assert e.value.code == "AccessDenied" and e.value.status == 403
    finally:
        server.stop()


def test_auth_off_needs_no_sign_in(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data", free_port(), extra_args=["--auth", "off"]).start()
    try:
        c = ConsoleClient(server)
        status, body, _ = c.get(CONSOLE + "/api/session")
        assert status == 200 and b'"authOff":true' in body
        assert "Buckets" in c.call("s3", "ListBuckets")
    finally:
        server.stop()


def test_nimbus_endpoints_for_signed_in_users_only(nimbus_server: NimbusProcess) -> None:
    c = ConsoleClient(nimbus_server)
    status, _ = c.post("nimbus", {"method": "GET", "path": "/_nimbus/firehose/streams"})
    assert status == 401
    c.login()
    status, doc = c.post("nimbus", {"method": "GET", "path": "/_nimbus/firehose/streams"})
    assert status == 200 and isinstance(doc["data"], (dict, list))
    status, doc = c.post("nimbus", {"method": "GET", "path": "/_nimbus/health"})
    assert status == 400 and doc["error"]["code"] == "NotSupportedByConsole"


def test_only_links_made_for_the_console_sign_in(nimbus_server: NimbusProcess) -> None:
    from botocore.auth import S3SigV4QueryAuth, SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials(ACCESS_KEY, SECRET_KEY)

    def presigned(url: str, service: str) -> str:
        req = AWSRequest(method="GET", url=url)
        (S3SigV4QueryAuth if service == "s3" else SigV4QueryAuth)(creds, service, "us-east-1", expires=60).add_auth(req)
        return req.prepare().url.split("?", 1)[1]

    base = nimbus_server.endpoint
    for query in (
        presigned(f"{base}/?Action=GetCallerIdentity&Version=2011-06-15", "sts"),  # an EKS-style token: no marker
        presigned(f"{base}/", "s3"),  # a presigned S3 ListBuckets, shared for another purpose
    ):
        c = ConsoleClient(nimbus_server)
        status, body, _ = c.get(f"{CONSOLE}/login?{query}")
        assert status == 403, query
        assert c.get(CONSOLE + "/api/session")[0] == 401
    c = ConsoleClient(nimbus_server)
    ok = presigned(f"{base}/?Action=GetCallerIdentity&Version=2011-06-15&X-Nimbus-Console-Login=1", "sts")
    assert c.get(f"{CONSOLE}/login?{ok}")[0] == 200
    assert c.get(CONSOLE + "/api/session")[0] == 200


def test_s3_parameters_take_boto3s_forms(console: ConsoleClient, nimbus_server: NimbusProcess) -> None:
    """CopySource as a dict and SSE-C keys, as boto3 takes them (botocore's parameter handlers run)."""
    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket="console-forms")
    s3.put_object(Bucket="console-forms", Key="from dir/ü.txt", Body=b"copied")
    console.call("s3", "CopyObject", {"Bucket": "console-forms", "Key": "to.txt",
                                      "CopySource": {"Bucket": "console-forms", "Key": "from dir/ü.txt"}})
    assert s3.get_object(Bucket="console-forms", Key="to.txt")["Body"].read() == b"copied"
    key = "k" * 32
    console.call("s3", "PutObject", {"Bucket": "console-forms", "Key": "sse-c.txt", "Body": "secret",
                                     "SSECustomerAlgorithm": "AES256", "SSECustomerKey": key})
    got = s3.get_object(Bucket="console-forms", Key="sse-c.txt", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert got["Body"].read() == b"secret"

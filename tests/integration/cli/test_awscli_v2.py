"""AWS CLI v2, the CLI most users have (its own fork of botocore, its own S3 transfer code, and commands v1
lacks such as ``aws logs tail``), against a real server: S3 (mb, cp small and multipart both ways, ls, sync,
presign, rm --recursive, rb), Lambda (create-function, invoke), ``logs tail``, Firehose, Kinesis, IAM and STS.

The Makefile's ``test-deps`` installs Debian's ``awscli`` package (v2) when the machine has apt and runs as
root; elsewhere these tests are skipped, naming what is missing. Every call passes ``--endpoint-url``:
releases before 2.13 (Debian 12 ships 2.9) do not read AWS_ENDPOINT_URL."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess


def _aws_v2() -> str | None:
    for candidate in ("/usr/bin/aws", "/usr/local/bin/aws", shutil.which("aws") or ""):
        if candidate and os.access(candidate, os.X_OK):
            try:
                out = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=60).stdout
            except (OSError, subprocess.TimeoutExpired):
                continue
            if out.startswith("aws-cli/2."):
                return candidate
    return None


AWS2 = _aws_v2()
pytestmark = pytest.mark.skipif(AWS2 is None, reason="AWS CLI v2 is not installed (make test installs Debian's awscli as root)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    p = NimbusProcess(tmp_path_factory.mktemp("awscli2") / "data").start()
    try:
        yield p
    finally:
        p.stop()


def aws(server: NimbusProcess, *args: str, cwd: Path | None = None) -> str:
    assert AWS2 is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIMBUS_"))}
    env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_DEFAULT_REGION="us-east-2", AWS_PAGER="",
               AWS_ENDPOINT_URL=server.endpoint, AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent")
    cp = subprocess.run([AWS2, "--endpoint-url", server.endpoint, *args], env=env, cwd=cwd, capture_output=True, text=True,
                        timeout=300)
    assert cp.returncode == 0, f"aws {' '.join(args)} failed ({cp.returncode}):\n{cp.stdout}\n{cp.stderr}"
    return cp.stdout


def test_s3_commands(server: NimbusProcess, tmp_path: Path) -> None:
    small = tmp_path / "small.txt"
    small.write_text("hello v2\n")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * 1024 * 1024 + 123))  # over the CLI's 8 MiB multipart threshold
    aws(server, "s3", "mb", "s3://v2-bucket")
    aws(server, "s3", "cp", str(small), "s3://v2-bucket/a/small.txt")
    aws(server, "s3", "cp", str(big), "s3://v2-bucket/big.bin")
    aws(server, "s3", "cp", "s3://v2-bucket/big.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()
    head = json.loads(aws(server, "s3api", "head-object", "--bucket", "v2-bucket", "--key", "big.bin", "--output", "json"))
    assert head["ContentLength"] == big.stat().st_size and head["ETag"].endswith('-3"')  # 8 MiB parts: three
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    for name in ("one.txt", "sub/two.txt", "sub/three ü.txt"):
        (tree / name).write_text(name)
        os.utime(tree / name, (1_700_000_000, 1_700_000_000))  # older than the upload (LastModified has whole seconds)
    aws(server, "s3", "sync", str(tree), "s3://v2-bucket/tree")
    listed = aws(server, "s3", "ls", "s3://v2-bucket/tree/", "--recursive")
    assert all(f"tree/{name}" in listed for name in ("one.txt", "sub/two.txt", "sub/three ü.txt"))
    assert aws(server, "s3", "sync", str(tree), "s3://v2-bucket/tree").strip() == ""  # nothing changed, nothing sent
    url = aws(server, "s3", "presign", "s3://v2-bucket/a/small.txt", "--expires-in", "300").strip()
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.read() == b"hello v2\n"
    aws(server, "s3", "rm", "s3://v2-bucket", "--recursive")
    aws(server, "s3", "rb", "s3://v2-bucket")
    assert "v2-bucket" not in aws(server, "s3", "ls")


def test_lambda_invoke_and_logs_tail(server: NimbusProcess, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("lambda_function.py", "import json\ndef lambda_handler(event, context):\n"
                                          "    print('v2 saw', json.dumps(event))\n    return {'n': event['n'] * 2}\n")
    (tmp_path / "fn.zip").write_bytes(buf.getvalue())
    aws(server, "lambda", "create-function", "--function-name", "v2fn", "--runtime", "python3.11", "--handler",
        "lambda_function.lambda_handler", "--role", "arn:aws:iam::000000000000:role/r", "--zip-file", "fileb://fn.zip", cwd=tmp_path)
    aws(server, "lambda", "wait", "function-active-v2", "--function-name", "v2fn")
    out = json.loads(aws(server, "lambda", "invoke", "--function-name", "v2fn", "--cli-binary-format", "raw-in-base64-out",
                         "--payload", '{"n": 21}', "--log-type", "Tail", str(tmp_path / "out.json"), "--output", "json"))
    assert out["StatusCode"] == 200 and "v2 saw" in base64.b64decode(out["LogResult"]).decode()
    assert json.loads((tmp_path / "out.json").read_text()) == {"n": 42}
    tail = aws(server, "logs", "tail", "/aws/lambda/v2fn", "--since", "1h")  # v2 only (FilterLogEvents underneath)
    assert 'v2 saw {"n": 21}' in tail and "REPORT RequestId:" in tail


def test_firehose_and_kinesis(server: NimbusProcess) -> None:
    aws(server, "s3", "mb", "s3://v2-delivery")
    aws(server, "firehose", "create-delivery-stream", "--delivery-stream-name", "v2stream", "--extended-s3-destination-configuration",
        json.dumps({"RoleARN": "arn:aws:iam::000000000000:role/r", "BucketARN": "arn:aws:s3:::v2-delivery",
                    "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}}))
    for _ in range(100):
        status = aws(server, "firehose", "describe-delivery-stream", "--delivery-stream-name", "v2stream", "--query",
                     "DeliveryStreamDescription.DeliveryStreamStatus", "--output", "text").strip()
        if status == "ACTIVE":
            break
    assert status == "ACTIVE"
    # v2 reads blob arguments as base64 by default
    rid = json.loads(aws(server, "firehose", "put-record", "--delivery-stream-name", "v2stream", "--record",
                         json.dumps({"Data": base64.b64encode(b"one\n").decode()}), "--output", "json"))["RecordId"]
    assert rid
    batch = json.loads(aws(server, "firehose", "put-record-batch", "--delivery-stream-name", "v2stream", "--records",
                           json.dumps([{"Data": base64.b64encode(b"two\n").decode()}]), "--output", "json"))
    assert batch["FailedPutCount"] == 0
    urllib.request.urlopen(urllib.request.Request(server.endpoint + "/_nimbus/firehose/flush/us-east-2/v2stream", method="POST"),
                           timeout=60).read()
    keys = aws(server, "s3api", "list-objects-v2", "--bucket", "v2-delivery", "--query", "Contents[].Key", "--output", "text").split()
    assert len(keys) == 1
    assert aws(server, "s3", "cp", f"s3://v2-delivery/{keys[0]}", "-") == "one\ntwo\n"  # to stdout

    aws(server, "kinesis", "create-stream", "--stream-name", "v2k", "--shard-count", "1")
    aws(server, "kinesis", "wait", "stream-exists", "--stream-name", "v2k")
    aws(server, "kinesis", "put-record", "--stream-name", "v2k", "--partition-key", "k", "--data", base64.b64encode(b"hi v2").decode())
    it = aws(server, "kinesis", "get-shard-iterator", "--stream-name", "v2k", "--shard-id", "shardId-000000000000",
             "--shard-iterator-type", "TRIM_HORIZON", "--query", "ShardIterator", "--output", "text").strip()
    data = aws(server, "kinesis", "get-records", "--shard-iterator", it, "--query", "Records[].Data", "--output", "text").split()
    assert [base64.b64decode(d) for d in data] == [b"hi v2"]


def test_iam_and_sts(server: NimbusProcess) -> None:
    """The query protocol from v2: a role as deploy scripts create it, then STS on it."""
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    arn = aws(server, "iam", "create-role", "--role-name", "v2-role", "--assume-role-policy-document", trust,
              "--tags", "Key=team,Value=data", "--query", "Role.Arn", "--output", "text").strip()
    assert arn == "arn:aws:iam::000000000000:role/v2-role"
    aws(server, "iam", "attach-role-policy", "--role-name", "v2-role",
        "--policy-arn", "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    role = json.loads(aws(server, "iam", "get-role", "--role-name", "v2-role", "--output", "json"))["Role"]
    assert role["AssumeRolePolicyDocument"] == json.loads(trust)  # URL-encoded on the wire, decoded by the CLI
    me = json.loads(aws(server, "sts", "get-caller-identity", "--output", "json"))
    assert me["Arn"] == "arn:aws:iam::000000000000:root"
    creds = json.loads(aws(server, "sts", "assume-role", "--role-arn", arn, "--role-session-name", "v2", "--output", "json"))
    assert creds["AssumedRoleUser"]["Arn"] == "arn:aws:sts::000000000000:assumed-role/v2-role/v2"

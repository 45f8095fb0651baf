"""``nimbus demo``: the seed tutorial (Lambda + API Gateway, then Lambda → Firehose → Lambda transform → S3),
end to end in one command, over the AWS APIs only (boto3).

Against a running server (found as the other client commands find it) or, when none answers or with
``--embedded``, a ``nimbus serve`` subprocess it starts on a free port with its own data dir:

1. deploys the console's hello function (python3.8) behind an open API Gateway trigger, prints the URL, GETs it;
2. creates a bucket, a transformation function in the style of AWS's record-processing blueprint
   (timeout 60 s) and the delivery stream ``tm-delivery-stream`` in us-east-2 with the Lambda transform
   and the tutorial's buffering (1 MB / 60 s; ``--fast``: 0 s, the smallest interval the current
   Firehose model allows);
3. deploys the tutorial's producer function behind an HTTP trigger and calls its URL N times;
4. waits for the buffer to flush (countdown), lists the new objects under ``YYYY/MM/DD/HH/`` and prints
   the transformed records.

Every step creates or updates (never duplicates): re-running is safe. The function sources are the
constants below; ``examples/ticker-pipeline/`` holds the same files (a test keeps them equal).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from nimbus.cli.client import endpoint_url, session
from nimbus.cli.trigger import create_http_trigger, invoke_urls

REGION = "us-east-2"  # the tutorial's region; the producer's code names it
RUNTIME = "python3.8"  # the tutorial's runtime
STREAM = "tm-delivery-stream"  # the producer's code names it
BUCKET = "nimbus-demo-ticker-bucket"
HELLO_FN = "nimbus-demo-hello"
TRANSFORM_FN = "nimbus-demo-transform"
PRODUCER_FN = "nimbus-demo-producer"
ROLE_NAME = "nimbus-demo-role"  # created through IAM like the console's default; Nimbus records IAM, never evaluates it
ROLE_ARN = f"arn:aws:iam::000000000000:role/{ROLE_NAME}"
LAMBDA_TRUST = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": '
    '["lambda.amazonaws.com", "firehose.amazonaws.com"]}, "Action": "sts:AssumeRole"}]}'
)
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
TUTORIAL_INTERVAL_S = 60  # "update the Buffer size and Buffer interval to the lowest possible values (1MB, 60 seconds)"
FAST_INTERVAL_S = 0  # BufferingHints.IntervalInSeconds min in the current Firehose model (0 = zero buffering)
BUFFER_SIZE_MB = 1
TRANSFORM_TIMEOUT_S = 60  # "Kinesis requires at least a timeout of one minute"

# The console's default code for a new Python function ("Author from scratch").
HELLO_CODE = """import json

def lambda_handler(event, context):
    # TODO implement
    return {
        'statusCode': 200,
        'body': json.dumps('Hello from Lambda!')
    }
"""

# In the style of AWS's "kinesis-firehose-process-record-python" blueprint: decode each record's base64
# data, change it, re-encode it, result "Ok". The change: parse the ticker JSON, add two fields, and end
# each record with a newline so the delivered objects are JSON lines.
TRANSFORM_CODE = """import base64
import json

print('Loading function')


def lambda_handler(event, context):
    output = []

    for record in event['records']:
        payload = base64.b64decode(record['data']).decode('utf-8')

        # Do custom processing on the payload here
        ticker = json.loads(payload)
        ticker['processed'] = True
        ticker['arrival_ms'] = record['approximateArrivalTimestamp']
        transformed = json.dumps(ticker) + '\\n'

        output_record = {
            'recordId': record['recordId'],
            'result': 'Ok',
            'data': base64.b64encode(transformed.encode('utf-8')).decode('utf-8')
        }
        output.append(output_record)

    print('Successfully processed {} records.'.format(len(event['records'])))

    return {'records': output}
"""

# The tutorial's producer, as printed there (its comment layout and trailing spaces included).
PRODUCER_CODE = """import json
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

"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fast", action="store_true",
                   help=f"buffer interval {FAST_INTERVAL_S} s (the smallest Firehose allows) instead of the tutorial's {TUTORIAL_INTERVAL_S} s")
    p.add_argument("--interval", type=int, metavar="SECONDS", help="buffer interval to use (0..900; overrides --fast)")
    p.add_argument("--requests", type=int, default=10, metavar="N", help="how many times to call the producer's URL (default 10)")
    p.add_argument("--embedded", action="store_true", help="always start a private `nimbus serve` for the demo")
    p.add_argument("--data-dir", help="data dir of the embedded server (default: a temporary directory, removed at the end)")
    p.add_argument("--bucket", default=BUCKET, help=f"bucket for the delivered records (default {BUCKET})")


# ------------------------------------------------------------------------------------------ output


class Console:
    """Step headers, a progress bar and a countdown; redraws in place on a terminal, plain lines otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self._last_plain = 0.0

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def step(self, n: int, title: str) -> None:
        self.line()
        self.line(f"[{n}/4] {title}")

    def bar(self, done: int, total: int, note: str = "") -> None:
        width = 30
        filled = width * done // max(total, 1)
        text = f"  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {note}"
        if self.tty:
            self.out.write("\r" + text[:120].ljust(100))
            if done >= total:
                self.out.write("\n")
            self.out.flush()
        elif done >= total:
            self.line(text)

    def status(self, text: str, final: bool = False) -> None:
        if self.tty:
            self.out.write("\r" + text[:120].ljust(100) + ("\n" if final else ""))
            self.out.flush()
            return
        now = time.monotonic()
        if final or now - self._last_plain >= 10:
            self._last_plain = now
            self.line(text)


# ------------------------------------------------------------------------------------------ server


@dataclass
class Server:
    endpoint: str
    credentials: dict[str, str | None]
    embedded: bool = False
    proc: subprocess.Popen[bytes] | None = None
    data_dir: Path | None = None
    temp_root: Path | None = None
    log_path: Path | None = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.temp_root is not None:
            shutil.rmtree(self.temp_root, ignore_errors=True)

    def log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-3000:]


def _healthy(endpoint: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(endpoint.rstrip("/") + "/_nimbus/health", timeout=timeout) as r:
            return bool(r.status == 200)
    except (OSError, ValueError):
        return False


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_embedded(data_dir: str | None) -> Server:
    """``nimbus serve`` on a free loopback port with fresh root credentials (passed in the environment)."""
    temp_root = Path(tempfile.mkdtemp(prefix="nimbus-demo-"))
    ddir = Path(data_dir).resolve() if data_dir else temp_root / "data"
    ddir.mkdir(parents=True, exist_ok=True)
    key, secret = "NKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIMBUS_"))}
    env.update(NIMBUS_ACCESS_KEY_ID=key, NIMBUS_SECRET_ACCESS_KEY=secret)
    port = _free_port()
    log_path = temp_root / "server.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nimbus", "serve", "--port", str(port), "--data-dir", str(ddir)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(temp_root), start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", {"aws_access_key_id": key, "aws_secret_access_key": secret},
                    embedded=True, proc=proc, data_dir=ddir, temp_root=temp_root, log_path=log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = server.log_tail()
            server.stop()
            raise DemoError(f"the embedded server exited with {proc.returncode}:\n{tail}")
        if _healthy(server.endpoint, 1.0):
            return server
        time.sleep(0.1)
    tail = server.log_tail()
    server.stop()
    raise DemoError(f"the embedded server did not become healthy in 60 s:\n{tail}")


def find_server(args: argparse.Namespace, con: Console) -> Server:
    if not args.embedded:
        endpoint = endpoint_url(args.endpoint_url)
        if _healthy(endpoint):
            sess = session(REGION)
            c = sess.get_credentials()
            if c is None:
                raise DemoError(f"a server answers at {endpoint} but no credentials were found: run `eval \"$(nimbus credentials)\"` first")
            return Server(endpoint, {"aws_access_key_id": c.access_key, "aws_secret_access_key": c.secret_key,
                                     "aws_session_token": c.token})
        if args.endpoint_url:
            raise DemoError(f"no Nimbus answers at {endpoint} (GET /_nimbus/health); drop --endpoint-url to use an embedded one")
        con.line(f"No Nimbus answers at {endpoint}; starting an embedded one.")
    server = start_embedded(args.data_dir)
    con.line(f"Embedded server: {server.endpoint} (data in {server.data_dir})")
    return server


class DemoError(Exception):
    pass


# ------------------------------------------------------------------------------------------ steps


def zip_source(code: str, filename: str = "lambda_function.py") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(filename, date_time=(2020, 5, 16, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, code)
    return buf.getvalue()


def ensure_role(iam: Any) -> tuple[str, str]:
    """The execution role (the console's "Create a new role with basic Lambda permissions"). (ARN, what)."""
    from botocore.exceptions import ClientError

    try:
        return iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"], "reused"
    except ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchEntity":
            raise
    arn = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=LAMBDA_TRUST,
                          Description="nimbus demo: functions and the delivery stream")["Role"]["Arn"]
    iam.attach_role_policy(RoleName=ROLE_NAME, PolicyArn=BASIC_EXECUTION)
    return arn, "created"


def deploy_function(lam: Any, name: str, code: str, *, timeout: int | None = None, description: str = "") -> tuple[str, str]:
    """Create the function, or bring an existing one to this code and configuration. (arn, "created"/"updated")."""
    from botocore.exceptions import ClientError

    zipped = zip_source(code)
    config: dict[str, Any] = {"Runtime": RUNTIME, "Handler": "lambda_function.lambda_handler", "Description": description}
    if timeout is not None:
        config["Timeout"] = timeout
    wait = {"Delay": 1, "MaxAttempts": 120}
    try:
        current = lam.get_function_configuration(FunctionName=name)
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        out = lam.create_function(FunctionName=name, Role=ROLE_ARN, Code={"ZipFile": zipped}, **config)
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=wait)
        return out["FunctionArn"], "created"
    changed = False
    if current.get("CodeSha256") != base64.b64encode(hashlib.sha256(zipped).digest()).decode():
        lam.update_function_code(FunctionName=name, ZipFile=zipped)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=wait)
        changed = True
    if any(current.get(k) != v for k, v in config.items()):
        lam.update_function_configuration(FunctionName=name, **config)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=wait)
        changed = True
    return current["FunctionArn"], "updated" if changed else "unchanged"


def ensure_http_trigger(lam: Any, apigw: Any, endpoint: str, name: str, stage: str = "default") -> tuple[str, str]:
    """The console's "Add trigger → API Gateway (Open)": reuse ``<name>-API`` if it exists. (url, "created"/"reused")."""
    from botocore.exceptions import ClientError

    api_id = None
    for page in apigw.get_paginator("get_rest_apis").paginate():
        for api in page.get("items", []):
            if api.get("name") == f"{name}-API":
                api_id = api["id"]
                break
    if api_id is not None:
        resources = [r for page in apigw.get_paginator("get_resources").paginate(restApiId=api_id) for r in page.get("items", [])]
        stages = [s["stageName"] for s in apigw.get_stages(restApiId=api_id).get("item", [])]
        if not any(r.get("path") == f"/{name}" and "ANY" in (r.get("resourceMethods") or {}) for r in resources) or stage not in stages:
            apigw.delete_rest_api(restApiId=api_id)  # half-built (interrupted earlier): build it again
            api_id = None
    if api_id is None:
        out = create_http_trigger(lam, apigw, name, security="open", stage=stage)
        return invoke_urls(endpoint, out["restApiId"], stage, out["resource"])[0], "created"
    # The function may have been deleted and recreated since: make sure the invoke permission is there.
    fn = lam.get_function_configuration(FunctionName=name)
    _, _, _, region, account, _ = fn["FunctionArn"].split(":", 5)
    source = f"arn:aws:execute-api:{region}:{account}:{api_id}/*/*/{name}"
    try:
        policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
        allowed = any(
            s.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn") == source for s in policy.get("Statement", [])
        )
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        allowed = False
    if not allowed:
        lam.add_permission(FunctionName=name, StatementId=f"nimbus-trigger-{api_id}-{uuid.uuid4().hex[:8]}",
                           Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com", SourceArn=source)
    return invoke_urls(endpoint, api_id, stage, f"/{name}")[0], "reused"


def http_get(url: str, timeout: float = 90.0) -> tuple[int, str]:
    req = urllib.request.Request(url, method="GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def ensure_bucket(s3: Any, bucket: str) -> str:
    from botocore.exceptions import ClientError

    try:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        return "created"
    except ClientError as e:
        if e.response["Error"]["Code"] in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            s3.head_bucket(Bucket=bucket)  # BucketAlreadyExists that is not ours fails here
            return "exists"
        raise


def _destination(bucket: str, transform_arn: str, interval: int) -> dict[str, Any]:
    return {
        "RoleARN": ROLE_ARN,
        "BucketARN": f"arn:aws:s3:::{bucket}",
        "BufferingHints": {"SizeInMBs": BUFFER_SIZE_MB, "IntervalInSeconds": interval},
        "CompressionFormat": "UNCOMPRESSED",
        "ProcessingConfiguration": {
            "Enabled": True,
            "Processors": [{"Type": "Lambda", "Parameters": [{"ParameterName": "LambdaArn", "ParameterValue": transform_arn}]}],
        },
    }


def _wait_stream(fh: Any, name: str, *, gone: bool = False, timeout: float = 120.0) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    deadline = time.monotonic() + timeout
    while True:
        try:
            desc = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            if gone:
                return None
            desc = None
        if desc is not None and not gone and desc["DeliveryStreamStatus"] == "ACTIVE":
            return desc
        if desc is not None and desc["DeliveryStreamStatus"].endswith("FAILED"):
            raise DemoError(f"delivery stream {name} is {desc['DeliveryStreamStatus']}: {desc.get('FailureDescription')}")
        if time.monotonic() > deadline:
            raise DemoError(f"delivery stream {name} did not become {'deleted' if gone else 'ACTIVE'} in {timeout:.0f} s")
        time.sleep(0.5)


def _matches(dest: dict[str, Any], want: dict[str, Any]) -> bool:
    ext = dest.get("ExtendedS3DestinationDescription") or {}
    procs = (ext.get("ProcessingConfiguration") or {}).get("Processors") or []
    arns = [p["ParameterValue"] for pr in procs if pr.get("Type") == "Lambda" for p in pr.get("Parameters", [])
            if p.get("ParameterName") == "LambdaArn"]
    return (
        ext.get("BucketARN") == want["BucketARN"]
        and ext.get("BufferingHints") == want["BufferingHints"]
        and bool((ext.get("ProcessingConfiguration") or {}).get("Enabled"))
        and arns == [want["ProcessingConfiguration"]["Processors"][0]["Parameters"][0]["ParameterValue"]]
    )


def ensure_delivery_stream(fh: Any, bucket: str, transform_arn: str, interval: int) -> str:
    """Create ``tm-delivery-stream`` or bring it to this destination configuration. Returns what was done."""
    from botocore.exceptions import ClientError

    want = _destination(bucket, transform_arn, interval)
    try:
        desc = fh.describe_delivery_stream(DeliveryStreamName=STREAM)["DeliveryStreamDescription"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        desc = None
    if desc is not None and desc["DeliveryStreamStatus"] in ("DELETING", "CREATING_FAILED", "DELETING_FAILED"):
        if desc["DeliveryStreamStatus"] != "DELETING":
            fh.delete_delivery_stream(DeliveryStreamName=STREAM, AllowForceDelete=True)
        _wait_stream(fh, STREAM, gone=True)
        desc = None
    if desc is None:
        fh.create_delivery_stream(DeliveryStreamName=STREAM, DeliveryStreamType="DirectPut",
                                  ExtendedS3DestinationConfiguration=want)
        _wait_stream(fh, STREAM)
        return "created"
    desc = _wait_stream(fh, STREAM) or desc  # CREATING → ACTIVE
    dest = desc["Destinations"][0]
    if "ExtendedS3DestinationDescription" not in dest:
        raise DemoError(f"delivery stream {STREAM} exists with a destination other than S3; delete it or use another server")
    if _matches(dest, want):
        return "unchanged"
    update = {k: v for k, v in want.items() if k != "RoleARN"}
    fh.update_destination(DeliveryStreamName=STREAM, CurrentDeliveryStreamVersionId=desc["VersionId"],
                          DestinationId=dest["DestinationId"], ExtendedS3DestinationUpdate=update)
    return "updated"


def list_keys(s3: Any, bucket: str) -> dict[str, Any]:
    """Key → LastModified of every object in the bucket."""
    keys: dict[str, Any] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            keys[obj["Key"]] = obj["LastModified"]
    return keys


def read_records(s3: Any, bucket: str, key: str) -> list[str]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", "replace")
    return [line for line in body.splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------ main


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    con = Console(out or sys.stdout)
    if args.requests < 1:
        print("nimbus demo: --requests must be at least 1", file=sys.stderr)
        return 2
    interval = args.interval if args.interval is not None else (FAST_INTERVAL_S if args.fast else TUTORIAL_INTERVAL_S)
    if not 0 <= interval <= 900:
        print("nimbus demo: --interval must be between 0 and 900", file=sys.stderr)
        return 2
    try:
        server = find_server(args, con)
    except DemoError as e:
        print(f"nimbus demo: {e}", file=sys.stderr)
        return 1
    rc = 1
    try:
        rc = _run(args, con, server, interval)
    except DemoError as e:
        print(f"nimbus demo: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nnimbus demo: interrupted (re-running is safe: resources are reused)", file=sys.stderr)
        rc = 130
    except Exception as e:  # botocore and connection errors: say what failed, no traceback
        from botocore.exceptions import BotoCoreError, ClientError

        if not isinstance(e, (ClientError, BotoCoreError, OSError)):
            raise
        print(f"nimbus demo: {e}", file=sys.stderr)
    finally:
        if server.embedded:
            if rc not in (0, 130) and server.log_tail():
                print(f"--- embedded server log (tail) ---\n{server.log_tail()}", file=sys.stderr)
            server.stop()
    return rc


def _run(args: argparse.Namespace, con: Console, server: Server, interval: int) -> int:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    sess = boto3.Session(region_name=REGION, **{k: v for k, v in server.credentials.items() if v})
    cfg = Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=120, connect_timeout=10)

    def client(name: str) -> Any:
        return sess.client(name, endpoint_url=server.endpoint, config=cfg)

    lam, apigw, s3, fh = client("lambda"), client("apigateway"), client("s3"), client("firehose")
    bucket = args.bucket
    con.line(f"Nimbus demo: the seed tutorial on {server.endpoint} (region {REGION}, runtime {RUNTIME})")
    if getattr(args, "region", None) and args.region != REGION:
        con.line(f"  (--region {args.region} ignored: the tutorial's producer code names {REGION})")

    # 1. hello function + open API Gateway trigger
    con.step(1, "A function behind an HTTP trigger (Lambda console: Create function + Add trigger → API Gateway, Open)")
    _, what = ensure_role(client("iam"))
    con.line(f"  execution role {ROLE_NAME}: {what}")
    _, what = deploy_function(lam, HELLO_FN, HELLO_CODE, description="nimbus demo: hello")
    con.line(f"  function {HELLO_FN}: {what}")
    hello_url, what = ensure_http_trigger(lam, apigw, server.endpoint, HELLO_FN)
    con.line(f"  trigger ({what}): {hello_url}")
    status, body = http_get(hello_url)
    con.line(f"  GET → {status} {body}")
    if status != 200:
        raise DemoError(f"GET {hello_url} answered {status}: {body}")

    # 2. bucket, transformation function, delivery stream
    interval_note = "the tutorial's" if interval == TUTORIAL_INTERVAL_S else ("--fast" if args.interval is None else "--interval")
    con.step(2, f"Bucket, transformation function and delivery stream {STREAM} ({BUFFER_SIZE_MB} MB / {interval} s, {interval_note})")
    con.line(f"  bucket {bucket}: {ensure_bucket(s3, bucket)}")
    transform_arn, what = deploy_function(lam, TRANSFORM_FN, TRANSFORM_CODE, timeout=TRANSFORM_TIMEOUT_S,
                                          description="nimbus demo: Firehose record transformation")
    con.line(f"  function {TRANSFORM_FN} (timeout {TRANSFORM_TIMEOUT_S} s): {what}")
    try:
        what = ensure_delivery_stream(fh, bucket, transform_arn, interval)
    except ClientError as e:
        # A server started with NIMBUS_FIREHOSE_MIN_INTERVAL_S (e.g. 60, as older AWS docs say) refuses
        # shorter intervals: fall back to the tutorial's, and say so.
        err = e.response.get("Error", {})
        if interval >= TUTORIAL_INTERVAL_S or err.get("Code") != "InvalidArgumentException" or "IntervalInSeconds" not in err.get("Message", ""):
            raise
        con.line(f"  the server refuses a {interval} s interval ({err.get('Message')}); using {TUTORIAL_INTERVAL_S} s")
        interval = TUTORIAL_INTERVAL_S
        what = ensure_delivery_stream(fh, bucket, transform_arn, interval)
    con.line(f"  delivery stream {STREAM} (Lambda transform enabled): {what}")

    # 3. the tutorial's producer behind an HTTP trigger, called N times
    con.step(3, f"The tutorial's producer function behind an HTTP trigger, called {args.requests} times")
    _, what = deploy_function(lam, PRODUCER_FN, PRODUCER_CODE, description="nimbus demo: the tutorial's producer")
    con.line(f"  function {PRODUCER_FN}: {what}")
    producer_url, what = ensure_http_trigger(lam, apigw, server.endpoint, PRODUCER_FN)
    con.line(f"  trigger ({what}): {producer_url}")
    before = list_keys(s3, bucket)
    first_sent: float | None = None
    last_body = ""
    con.bar(0, args.requests)
    for i in range(args.requests):
        status, body = http_get(producer_url)
        if status != 200:
            con.line()
            raise DemoError(f"GET {producer_url} answered {status}: {body}")
        if first_sent is None:
            first_sent = time.monotonic()
        last_body = body
        con.bar(i + 1, args.requests, "calls")
    con.line(f"  last response: {last_body}")

    # 4. wait for the flush, list the objects, print the records
    con.step(4, "Waiting for Firehose to deliver the buffer into the bucket")
    assert first_sent is not None
    grace = 60.0  # after the interval: transform invocations and writes
    deadline = first_sent + interval + grace
    new: dict[str, list[str]] = {}
    written: dict[str, Any] = {}
    while True:
        keys = list_keys(s3, bucket)
        for key in sorted(keys.keys() - before.keys() - new.keys()):
            new[key] = read_records(s3, bucket, key)
            written[key] = keys[key]
        delivered = sum(len(v) for v in new.values())
        if delivered >= args.requests:
            con.status(f"  delivered {delivered}/{args.requests} records in {len(new)} object(s)", final=True)
            break
        now = time.monotonic()
        left = first_sent + interval - now
        if now > deadline:
            con.status(f"  delivered {delivered}/{args.requests} records", final=True)
            raise DemoError(f"only {delivered} of {args.requests} records reached s3://{bucket}/ within {interval + grace:.0f} s of the first call")
        if left > 0:
            con.status(f"  buffer interval: flushing in {left:4.0f} s   (delivered {delivered}/{args.requests} records)")
        else:
            con.status(f"  flushing: transform and write   (delivered {delivered}/{args.requests} records)")
        time.sleep(1.0 if left > 1 else 0.25)

    con.line(f"  objects under s3://{bucket}/ (keys: YYYY/MM/DD/HH/{STREAM}-<version>-<time>-<uuid>):")
    shown = 0
    order = sorted(new, key=lambda k: (written[k], k))
    for key in order[:20]:
        con.line(f"    {key}   ({len(new[key])} record(s))")
    if len(order) > 20:
        con.line(f"    ... and {len(order) - 20} more objects")
    con.line("  transformed records:")
    for key in order:
        for rec in new[key]:
            if shown < 20:
                con.line(f"    {rec}")
            shown += 1
    if shown > 20:
        con.line(f"    ... and {shown - 20} more")

    _print_by_hand(con, server, bucket, interval, transform_arn, hello_url, producer_url)
    return 0


def _print_by_hand(con: Console, server: Server, bucket: str, interval: int, transform_arn: str, hello_url: str, producer_url: str) -> None:
    endpoint = server.endpoint
    con.line()
    con.line("Done. Each step by hand (boto3, the AWS CLI and the SDKs read the same variables):")
    if server.embedded:
        con.line("  # the embedded server stops now; start one with `make run` (or `nimbus serve`), then:")
        endpoint = "http://127.0.0.1:4566"
    ex = "examples/ticker-pipeline"
    steps = [
        "eval \"$(nimbus credentials"
        + ("" if endpoint == "http://127.0.0.1:4566" else f" --endpoint-url {endpoint}") + f" --region {REGION})\"",
        "# 1. execution role, hello function + HTTP trigger",
        f"aws iam create-role --role-name {ROLE_NAME} --assume-role-policy-document '{LAMBDA_TRUST}'",
        f"aws iam attach-role-policy --role-name {ROLE_NAME} --policy-arn {BASIC_EXECUTION}",
        f"(cd {ex}/hello && zip -q ../hello.zip lambda_function.py)",
        f"aws lambda create-function --function-name {HELLO_FN} --runtime {RUNTIME} --handler lambda_function.lambda_handler "
        f"--role {ROLE_ARN} --zip-file fileb://{ex}/hello.zip",
        f"nimbus trigger http {HELLO_FN}        # prints the URL (…/default/{HELLO_FN})",
        f"curl {hello_url if not server.embedded else '<the URL it printed>'}",
        "# 2. bucket, transformation function, delivery stream",
        f"aws s3 mb s3://{bucket}",
        f"(cd {ex}/transform && zip -q ../transform.zip lambda_function.py)",
        f"aws lambda create-function --function-name {TRANSFORM_FN} --runtime {RUNTIME} --handler lambda_function.lambda_handler "
        f"--role {ROLE_ARN} --timeout {TRANSFORM_TIMEOUT_S} --zip-file fileb://{ex}/transform.zip",
        f"aws firehose create-delivery-stream --delivery-stream-name {STREAM} --extended-s3-destination-configuration "
        f"'{json.dumps(_destination(bucket, transform_arn, interval))}'",
        "# 3. the producer + HTTP trigger, called a few times",
        f"(cd {ex}/producer && zip -q ../producer.zip lambda_function.py)",
        f"aws lambda create-function --function-name {PRODUCER_FN} --runtime {RUNTIME} --handler lambda_function.lambda_handler "
        f"--role {ROLE_ARN} --zip-file fileb://{ex}/producer.zip",
        f"nimbus trigger http {PRODUCER_FN}",
        f"for i in 1 2 3; do curl -s {producer_url if not server.embedded else '<the URL it printed>'}; echo; done",
        "# 4. after the buffer interval",
        f"aws s3 ls --recursive s3://{bucket}/",
        f"aws s3 cp s3://{bucket}/<key> -",
    ]
    for s in steps:
        con.line(f"  {s}")
    con.line(f"  # or all of it: {ex}/build.sh (see its README.md)")

"""Invoke end to end through the real runtime: boto3 and the AWS CLI, results, errors, logs, async
retries and destinations, versions/aliases, throttling, layers, boto3 inside handlers, restart."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.lambda_.functions import ECHO, ROLE, create, make_zip, py_zip

FAST_RETRIES = {"NIMBUS_LAMBDA_RETRY_DELAYS": "0.2,0.4"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    s = NimbusProcess(tmp_path_factory.mktemp("lambda-invoke") / "data", env=FAST_RETRIES).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def lam(server: NimbusProcess):
    return server.client("lambda")


@pytest.fixture(scope="module")
def logs(server: NimbusProcess):
    return server.client("logs")


def invoke(lam, name: str, event=None, **kw):
    out = lam.invoke(FunctionName=name, Payload=json.dumps(event if event is not None else {}).encode(), **kw)
    body = out["Payload"].read()
    return out, (json.loads(body) if body else None)


def wait_for(fn, timeout: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)


def log_messages(logs, group: str, pattern: str = "") -> list[str]:
    try:
        events = logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
    except ClientError:
        return []
    return [e["message"] for e in events]


def test_invoke_echo_and_update_code(lam) -> None:
    create(lam, "echo")
    out, body = invoke(lam, "echo", {"hello": "world"})
    assert out["StatusCode"] == 200 and body == {"hello": "world"}
    assert out["ExecutedVersion"] == "$LATEST" and "FunctionError" not in out
    assert out["ResponseMetadata"]["HTTPHeaders"]["x-amz-executed-version"] == "$LATEST"
    lam.update_function_code(FunctionName="echo", ZipFile=py_zip("def handler(e, c):\n    return {'v': 2, 'got': e}\n"))
    _, body = invoke(lam, "echo", {"x": 1})
    assert body == {"v": 2, "got": {"x": 1}}
    out = lam.invoke(FunctionName="echo")  # no payload: the function gets {}
    assert json.loads(out["Payload"].read()) == {"v": 2, "got": {}}


def test_environment_and_context(lam) -> None:
    source = """
import os, time
def handler(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    second = context.get_remaining_time_in_millis()
    keys = ["STAGE", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_LOG_GROUP_NAME", "_HANDLER", "AWS_ENDPOINT_URL", "TZ"]
    cc = context.client_context
    return {"env": {k: os.environ.get(k) for k in keys}, "request_id": context.aws_request_id,
            "name": context.function_name, "version": context.function_version, "memory": context.memory_limit_in_mb,
            "arn": context.invoked_function_arn, "group": context.log_group_name, "stream": context.log_stream_name,
            "first": first, "second": second, "custom": cc.custom if cc else None}
"""
    create(lam, "ctx", source, MemorySize=256, Timeout=10, Environment={"Variables": {"STAGE": "test"}})
    cc = base64.b64encode(json.dumps({"custom": {"k": "v"}, "client": {}, "env": {}}).encode()).decode()
    out, body = invoke(lam, "ctx", ClientContext=cc)
    env = body["env"]
    assert env["STAGE"] == "test" and env["AWS_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "ctx" and env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST" and env["_HANDLER"] == "app.handler"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/ctx" and env["AWS_ENDPOINT_URL"]
    assert body["request_id"] == out["ResponseMetadata"]["RequestId"]
    assert body["name"] == "ctx" and body["version"] == "$LATEST" and int(body["memory"]) == 256
    assert body["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:ctx"
    assert body["group"] == "/aws/lambda/ctx" and "[$LATEST]" in body["stream"]
    assert 0 < body["second"] < body["first"] <= 10_000
    assert body["custom"] == {"k": "v"}


def test_function_errors(lam) -> None:
    create(lam, "raises", "def handler(e, c):\n    return e['action']\n")
    out, body = invoke(lam, "raises", {})
    assert out["StatusCode"] == 200 and out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "KeyError" and body["errorMessage"] == "'action'"
    assert isinstance(body["stackTrace"], list) and body["requestId"] == out["ResponseMetadata"]["RequestId"]

    create(lam, "slow", "import time\ndef handler(e, c):\n    time.sleep(30)\n", Timeout=1)
    out, body = invoke(lam, "slow", LogType="Tail")
    assert out["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    report = next(line for line in base64.b64decode(out["LogResult"]).decode().splitlines() if line.startswith("REPORT"))
    used = int(report.split("Max Memory Used: ")[1].split(" MB")[0])
    assert used > 0 and "Status: timeout" in report  # read before the kill, not after (it said 0)

    create(lam, "crash", "import os\ndef handler(e, c):\n    os._exit(3)\n")
    out, body = invoke(lam, "crash")
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "Runtime.ExitError"

    create(lam, "nomodule", ECHO, handler="missing.handler")
    out, body = invoke(lam, "nomodule")
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'missing'" in body["errorMessage"]

    create(lam, "nohandler", ECHO, handler="app.nothere")
    out, body = invoke(lam, "nohandler")
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "Runtime.HandlerNotFound"

    create(lam, "big", "def handler(e, c):\n    return 'x' * (7 * 1024 * 1024)\n", MemorySize=512)
    out, body = invoke(lam, "big")
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    assert body["errorMessage"] == "Response payload size exceeded maximum allowed payload size (6291556 bytes)."


def test_invoke_with_response_stream(server: NimbusProcess, lam) -> None:
    """A buffered function's answer as an event stream: one PayloadChunk, then InvokeComplete."""
    create(lam, "streamed", "def handler(e, c):\n    return {'got': e}\n")
    out = lam.invoke_with_response_stream(FunctionName="streamed", Payload=b'{"n": 1}', LogType="Tail")
    assert (out["StatusCode"], out["ExecutedVersion"]) == (200, "$LATEST")
    assert out["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    events = list(out["EventStream"])
    assert [list(e) for e in events] == [["PayloadChunk"], ["InvokeComplete"]]
    assert json.loads(events[0]["PayloadChunk"]["Payload"]) == {"got": {"n": 1}}
    assert "REPORT RequestId:" in base64.b64decode(events[1]["InvokeComplete"]["LogResult"]).decode()
    assert "ErrorCode" not in events[1]["InvokeComplete"]
    # a function error: no chunk, the error in InvokeComplete
    create(lam, "streamed-raises", "def handler(e, c):\n    raise ValueError('no')\n")
    events = list(lam.invoke_with_response_stream(FunctionName="streamed-raises")["EventStream"])
    assert [list(e) for e in events] == [["InvokeComplete"]]
    complete = events[0]["InvokeComplete"]
    assert complete["ErrorCode"] == "Unhandled"
    assert json.loads(complete["ErrorDetails"])["errorType"] == "ValueError"
    # DryRun: 204 and nothing to stream; an unknown function: the usual error
    assert lam.invoke_with_response_stream(FunctionName="streamed", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.invoke_with_response_stream(FunctionName="no-such-function")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_bad_requests(lam) -> None:
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="does-not-exist", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    create(lam, "badreq")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="badreq", Payload=b"{not json")
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="badreq", Payload=b'"' + b"x" * (6 * 1024 * 1024 + 10) + b'"')
    assert e.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    out = lam.invoke(FunctionName="badreq", InvocationType="DryRun")
    assert out["StatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="badreq", Qualifier="nope", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_log_tail_and_function_logs(server: NimbusProcess, lam, logs) -> None:
    create(lam, "printer", "def handler(e, c):\n    print('printed-line', e.get('n'))\n    return 1\n")
    out, _ = invoke(lam, "printer", {"n": 7}, LogType="Tail")
    tail = base64.b64decode(out["LogResult"]).decode()
    rid = out["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {rid} Version: $LATEST" in tail
    assert "printed-line 7" in tail and f"END RequestId: {rid}" in tail and f"REPORT RequestId: {rid}" in tail
    stream = wait_for(lambda: logs.describe_log_streams(logGroupName="/aws/lambda/printer")["logStreams"])[0]["logStreamName"]
    assert stream.startswith(time.strftime("%Y/%m/%d/", time.gmtime())) and "[$LATEST]" in stream

    def messages():
        events = logs.get_log_events(logGroupName="/aws/lambda/printer", logStreamName=stream, startFromHead=True)["events"]
        text = "".join(e["message"] for e in events)
        return text if f"REPORT RequestId: {rid}" in text else None

    text = wait_for(messages)
    assert "START RequestId" in text and "printed-line 7" in text and "Billed Duration" in text
    # `aws logs filter-log-events` and `nimbus logs` see them too
    cli = json.loads(server.aws("logs", "filter-log-events", "--log-group-name", "/aws/lambda/printer", "--filter-pattern", "printed-line").stdout)
    assert any("printed-line 7" in e["message"] for e in cli["events"])


def test_aws_cli_invoke(server: NimbusProcess, lam, tmp_path: Path) -> None:
    create(lam, "cli-echo")
    outfile = tmp_path / "out.json"
    cp = server.aws("lambda", "invoke", "--function-name", "cli-echo", "--payload", '{"from": "cli"}', str(outfile))
    meta = json.loads(cp.stdout)
    assert meta["StatusCode"] == 200 and meta["ExecutedVersion"] == "$LATEST"
    assert json.loads(outfile.read_text()) == {"from": "cli"}
    create(lam, "cli-raises", "def handler(e, c):\n    raise ValueError('nope')\n")
    meta = json.loads(server.aws("lambda", "invoke", "--function-name", "cli-raises", str(outfile)).stdout)
    assert meta["FunctionError"] == "Unhandled"
    assert json.loads(outfile.read_text())["errorType"] == "ValueError"


def test_versions_and_aliases(lam) -> None:
    create(lam, "ver", "def handler(e, c):\n    return ['v1', c.invoked_function_arn]\n")
    lam.publish_version(FunctionName="ver")
    lam.update_function_code(FunctionName="ver", ZipFile=py_zip("def handler(e, c):\n    return ['v2', c.invoked_function_arn]\n"))
    lam.create_alias(FunctionName="ver", Name="prod", FunctionVersion="1")
    out, body = invoke(lam, "ver", Qualifier="prod")
    assert body == ["v1", "arn:aws:lambda:us-east-1:000000000000:function:ver:prod"] and out["ExecutedVersion"] == "1"
    out, body = invoke(lam, "ver:1")
    assert body[0] == "v1" and out["ExecutedVersion"] == "1"
    out, body = invoke(lam, "ver")
    assert body[0] == "v2" and out["ExecutedVersion"] == "$LATEST"
    lam.update_alias(FunctionName="ver", Name="prod", FunctionVersion="$LATEST")
    assert invoke(lam, "ver", Qualifier="prod")[1][0] == "v2"


def test_reserved_concurrency_throttles(lam) -> None:
    create(lam, "one-at-a-time", "import time\ndef handler(e, c):\n    time.sleep(e.get('sleep', 0))\n    return 'done'\n", Timeout=10)
    lam.put_function_concurrency(FunctionName="one-at-a-time", ReservedConcurrentExecutions=1)
    invoke(lam, "one-at-a-time")  # warm
    results: list[str] = []

    def long_call() -> None:
        # on a loaded machine a probe below may hold the one slot first: retry until the long call runs
        while True:
            try:
                results.append(invoke(lam, "one-at-a-time", {"sleep": 3})[1])
                return
            except ClientError as e:
                if e.response["Error"]["Code"] != "TooManyRequestsException":
                    raise
                time.sleep(0.05)

    t = threading.Thread(target=long_call)
    t.start()
    throttled = None
    while t.is_alive() and throttled is None:
        try:
            invoke(lam, "one-at-a-time")
            time.sleep(0.05)
        except ClientError as e:
            throttled = e
    t.join()
    assert throttled is not None, "the second concurrent invoke was not throttled"
    assert throttled.response["Error"]["Code"] == "TooManyRequestsException"
    assert throttled.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert throttled.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert results == ["done"]
    lam.put_function_concurrency(FunctionName="one-at-a-time", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as e:
        invoke(lam, "one-at-a-time")
    assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert lam.invoke(FunctionName="one-at-a-time", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202  # queued


def test_layers(lam) -> None:
    layer = lam.publish_layer_version(LayerName="shared", Content={"ZipFile": make_zip({"python/layermod.py": "VALUE = 42\n"})})
    create(lam, "uses-layer", "import layermod\ndef handler(e, c):\n    return layermod.VALUE\n", Layers=[layer["LayerVersionArn"]])
    out, body = invoke(lam, "uses-layer")
    assert body == 42, body


def test_handler_uses_boto3_against_nimbus(lam, logs) -> None:
    source = """
import boto3, time
def handler(event, context):
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    cw = boto3.client("logs")
    try:
        cw.create_log_group(logGroupName="/from/handler")
        cw.create_log_stream(logGroupName="/from/handler", logStreamName="s")
    except cw.exceptions.ResourceAlreadyExistsException:
        pass
    cw.put_log_events(logGroupName="/from/handler", logStreamName="s", logEvents=[{"timestamp": int(time.time() * 1000), "message": "hi from " + context.function_name}])
    return names
"""
    create(lam, "uses-boto3", source, Timeout=20)
    out, body = invoke(lam, "uses-boto3")
    assert "FunctionError" not in out, body
    assert "uses-boto3" in body
    events = logs.get_log_events(logGroupName="/from/handler", logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["hi from uses-boto3"]


def test_async_retries_reach_failure_destination(lam, logs) -> None:
    create(lam, "dest", "import json\ndef handler(e, c):\n    print('DESTINATION', json.dumps(e))\n")
    create(lam, "always-fails", "def handler(e, c):\n    raise RuntimeError('boom')\n")
    create(lam, "succeeds", "def handler(e, c):\n    return {'ok': e['n']}\n")
    dest_arn = lam.get_function_configuration(FunctionName="dest")["FunctionArn"]
    lam.put_function_event_invoke_config(FunctionName="always-fails", MaximumRetryAttempts=2, DestinationConfig={"OnFailure": {"Destination": dest_arn}})
    lam.put_function_event_invoke_config(FunctionName="succeeds", DestinationConfig={"OnSuccess": {"Destination": dest_arn}})
    out = lam.invoke(FunctionName="always-fails", InvocationType="Event", Payload=b'{"n": 1}')
    assert out["StatusCode"] == 202 and out["Payload"].read() == b""
    lam.invoke(FunctionName="succeeds", InvocationType="Event", Payload=b'{"n": 2}')

    def records():
        found = [json.loads(m.split("DESTINATION ", 1)[1]) for m in log_messages(logs, "/aws/lambda/dest", "DESTINATION")]
        return found if len(found) >= 2 else None

    found = wait_for(records, timeout=30)
    failure = next(r for r in found if r["requestContext"]["condition"] == "RetriesExhausted")
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["requestContext"]["functionArn"].endswith(":always-fails:$LATEST")
    assert failure["requestPayload"] == {"n": 1}
    assert failure["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert failure["responsePayload"]["errorMessage"] == "boom"
    success = next(r for r in found if r["requestContext"]["condition"] == "Success")
    assert success["responsePayload"] == {"ok": 2} and success["version"] == "1.0"
    starts = [m for m in log_messages(logs, "/aws/lambda/always-fails") if m.startswith("START")]
    assert len(starts) == 3


def test_restart_keeps_functions_code_and_queued_events(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data", env={"NIMBUS_LAMBDA_RETRY_DELAYS": "1.5"}).start()
    try:
        lam = server.client("lambda")
        create(lam, "survivor", "def handler(e, c):\n    return 'still here'\n")
        server.kill9()
        server.start()
        lam = server.client("lambda")
        assert invoke(lam, "survivor")[1] == "still here"
        # a retry that is due after a kill -9 still runs after the restart
        create(lam, "rdest", "import json\ndef handler(e, c):\n    print('DESTINATION', json.dumps(e))\n")
        create(lam, "rfail", "def handler(e, c):\n    raise RuntimeError('x')\n")
        dest = lam.get_function_configuration(FunctionName="rdest")["FunctionArn"]
        lam.put_function_event_invoke_config(FunctionName="rfail", MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": dest}})
        lam.invoke(FunctionName="rfail", InvocationType="Event", Payload=b'{"k": 1}')
        logs = server.client("logs")
        wait_for(lambda: [m for m in log_messages(logs, "/aws/lambda/rfail") if m.startswith("REPORT")])
        server.kill9()
        server.start()
        logs = server.client("logs")
        found = wait_for(lambda: [m for m in log_messages(logs, "/aws/lambda/rdest", "DESTINATION")], timeout=30)
        record = json.loads(found[0].split("DESTINATION ", 1)[1])
        assert record["requestContext"]["condition"] == "RetriesExhausted" and record["requestPayload"] == {"k": 1}
    finally:
        server.stop()


def test_nimbus_cli_deploy_invoke_and_follow_logs(server: NimbusProcess, tmp_path: Path) -> None:
    import subprocess
    import sys

    src = tmp_path / "src"
    src.mkdir()
    (src / "lambda_function.py").write_text("def lambda_handler(e, c):\n    print('followed', e.get('n'))\n    return 'deployed'\n")
    env = server.aws_env()
    nimbus = [sys.executable, "-m", "nimbus"]
    cp = subprocess.run([*nimbus, "functions", "deploy", "cli-dep", str(src)], env=env, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0 and "created" in cp.stdout, cp.stderr
    follow = subprocess.Popen([*nimbus, "logs", "cli-dep", "--follow", "--interval", "0.2"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        cp = subprocess.run([*nimbus, "functions", "invoke", "cli-dep", '{"n": 5}'], env=env, capture_output=True, text=True, timeout=60)
        assert cp.returncode == 0 and cp.stdout.strip() == '"deployed"', cp.stderr
        assert follow.stdout is not None
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = follow.stdout.readline()
            lines.append(line)
            if "REPORT RequestId" in line:
                break
        text = "".join(lines)
        assert "followed 5" in text and "START RequestId" in text and "REPORT RequestId" in text
    finally:
        follow.terminate()
        follow.wait(10)


KEYS = """
import os
def handler(e, c):
    return {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
"""


def test_stopped_environment_keys_are_refused(server: NimbusProcess, lam) -> None:
    create(lam, "keys", KEYS)
    _, keys = invoke(lam, "keys")
    assert keys["AWS_ACCESS_KEY_ID"].startswith("ASIA") and keys["AWS_SESSION_TOKEN"]

    def with_keys():
        return server.client(
            "lambda", access_key=keys["AWS_ACCESS_KEY_ID"], secret_key=keys["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=keys["AWS_SESSION_TOKEN"],
        )

    assert with_keys().get_function(FunctionName="keys")["Configuration"]["FunctionName"] == "keys"
    # a configuration change stops the environment: its keys must stop working with it
    lam.update_function_configuration(FunctionName="keys", Description="new environment")
    _, fresh = invoke(lam, "keys")
    assert fresh["AWS_ACCESS_KEY_ID"] != keys["AWS_ACCESS_KEY_ID"]
    refused = None
    for _ in range(200):  # the old process's exit is noticed asynchronously
        try:
            with_keys().get_function(FunctionName="keys")
        except ClientError as e:
            refused = e
            break
        time.sleep(0.05)
    assert refused is not None, "a stopped environment's keys still work"
    assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_invoke_async_through_boto3(lam, logs) -> None:
    """The deprecated InvokeAsync, as boto3 sends it (a streaming body signed with its real hash and no
    x-amz-content-sha256 header): 202, and the event reaches the function."""
    create(lam, "legacy-async", "import json\ndef handler(e, c):\n    print('LEGACY', json.dumps(e))\n")
    out = lam.invoke_async(FunctionName="legacy-async", InvokeArgs=b'{"via": "InvokeAsync"}')
    assert out["Status"] == 202
    found = wait_for(lambda: log_messages(logs, "/aws/lambda/legacy-async", "LEGACY"), timeout=30)
    assert json.loads(found[0].split("LEGACY ", 1)[1]) == {"via": "InvokeAsync"}
    # a body other than the one signed (same length) is still refused
    lam.meta.events.register("before-send.lambda.InvokeAsync", _swap_body)
    try:
        with pytest.raises(ClientError) as e:
            lam.invoke_async(FunctionName="legacy-async", InvokeArgs=b'{"a": 1}')
    finally:
        lam.meta.events.unregister("before-send.lambda.InvokeAsync", _swap_body)
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"


def _swap_body(request, **kwargs) -> None:
    """After signing: send another body of the same length than the one signed."""
    request.body = b'{"b": 2}'


@pytest.mark.skipif(__import__("shutil").which("node") is None, reason="Node.js is not installed (make setup installs Debian's nodejs)")
def test_nimbus_cli_deploys_javascript_as_node(server: NimbusProcess, tmp_path: Path) -> None:
    import subprocess
    import sys

    src = tmp_path / "js"
    src.mkdir()
    (src / "index.mjs").write_text("export const handler = async (e) => ({ node: process.version.startsWith('v'), n: e.n });\n")
    env = server.aws_env()
    cp = subprocess.run([sys.executable, "-m", "nimbus", "functions", "deploy", "cli-node", str(src)], env=env, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0 and "created" in cp.stdout, cp.stderr
    cfg = server.client("lambda").get_function_configuration(FunctionName="cli-node")
    assert (cfg["Runtime"], cfg["Handler"]) == ("nodejs20.x", "index.handler")
    cp = subprocess.run([sys.executable, "-m", "nimbus", "functions", "invoke", "cli-node", '{"n": 3}'], env=env, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0 and json.loads(cp.stdout) == {"node": True, "n": 3}, cp.stderr

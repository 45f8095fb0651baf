"""Invoker end to end: real environments (zygote-forked, sandboxed when bwrap exists), real handlers."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from nimbus.runtime import TooManyRequests

from .conftest import ENDPOINT, REGION, Harness

ECHO = """
def lambda_handler(event, context):
    return event
"""


def test_echo_and_warm_reuse(harness: Harness) -> None:
    spec = harness.function(ECHO)
    first = harness.invoke(spec, b'{"hello": "world"}')
    assert json.loads(first.payload) == {"hello": "world"}
    assert first.function_error is None
    assert first.init_duration_ms is not None and first.init_duration_ms > 0
    assert first.executed_version == "$LATEST"
    second = harness.invoke(spec, b"[1, 2]")
    assert json.loads(second.payload) == [1, 2]
    assert second.init_duration_ms is None  # warm: same environment
    assert second.billed_duration_ms >= 1 and second.max_memory_used_mb > 0


def test_context_fields(harness: Harness) -> None:
    spec = harness.function(
        """
        import time
        def lambda_handler(event, context):
            a = context.get_remaining_time_in_millis()
            time.sleep(0.05)
            b = context.get_remaining_time_in_millis()
            return {"rid": context.aws_request_id, "a": a, "b": b, "mem": context.memory_limit_in_mb,
                    "name": context.function_name, "version": context.function_version,
                    "arn": context.invoked_function_arn, "group": context.log_group_name,
                    "stream": context.log_stream_name, "cc": context.client_context and context.client_context.custom}
        """,
        memory_mb=256,
        timeout_s=2.0,
    )
    r = harness.invoke(spec, request_id="11111111-2222-3333-4444-555555555555", client_context='{"custom": {"k": "v"}}')
    out = json.loads(r.payload)
    assert out["rid"] == "11111111-2222-3333-4444-555555555555"
    assert 0 < out["b"] < out["a"] <= 2000
    assert out["mem"] == "256"
    assert out["name"] == spec.function_name and out["version"] == "$LATEST"
    assert out["arn"] == spec.function_arn
    assert out["group"] == spec.log_group
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", out["stream"])
    assert out["cc"] == {"k": "v"}


def test_environment_variables_and_boto3(harness: Harness) -> None:
    spec = harness.function(
        """
        import os, sys, boto3
        def lambda_handler(event, context):
            c = boto3.client("firehose", "us-east-2")
            keys = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION", "AWS_DEFAULT_REGION",
                    "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "_HANDLER", "TZ",
                    "AWS_LAMBDA_RUNTIME_API", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                    "AWS_SESSION_TOKEN", "MY_VAR"]
            return {"env": {k: os.environ.get(k) for k in keys}, "endpoint": c.meta.endpoint_url,
                    "key": c._request_signer._credentials.access_key, "cwd": os.getcwd(), "path0": sys.path[0]}
        """,
        environment={"MY_VAR": "mine", "AWS_REGION": "eu-west-1"},  # reserved: may not override
    )
    r = harness.invoke(spec)
    assert r.function_error is None, r.payload
    out = json.loads(r.payload)
    env = out["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == spec.function_name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == spec.log_group
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["_HANDLER"] == "lambda_function.lambda_handler"
    assert env["TZ"] == ":UTC"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["AWS_ENDPOINT_URL"] == ENDPOINT == out["endpoint"]
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA") and env["AWS_SESSION_TOKEN"]
    assert harness.creds.lookup(env["AWS_ACCESS_KEY_ID"]) is not None  # scoped keys Nimbus will accept
    assert out["key"] == env["AWS_ACCESS_KEY_ID"]
    assert env["MY_VAR"] == "mine"
    assert out["cwd"] == env["LAMBDA_TASK_ROOT"] == out["path0"]


def test_handler_exception(harness: Harness) -> None:
    spec = harness.function(
        """
        def lambda_handler(event, context):
            return event["action"]
        """
    )
    r = harness.invoke(spec, b"{}", request_id="aaaaaaaa-0000-0000-0000-000000000001")
    assert r.function_error == "Unhandled"
    err = json.loads(r.payload)
    assert err["errorType"] == "KeyError"
    assert err["errorMessage"] == "'action'"
    assert err["requestId"] == "aaaaaaaa-0000-0000-0000-000000000001"
    assert any("lambda_handler" in frame for frame in err["stackTrace"])
    assert json.loads(harness.invoke(spec, b'{"action": 1}').payload) == 1  # the environment survives


def test_timeout_kills_environment(harness: Harness) -> None:
    spec = harness.function(
        """
        import time
        def lambda_handler(event, context):
            if event.get("sleep"):
                time.sleep(30)
            return "ok"
        """,
        timeout_s=1.0,
    )
    r = harness.invoke(spec, b'{"sleep": true}', request_id="bbbbbbbb-0000-0000-0000-000000000001", tail=True)
    assert r.function_error == "Unhandled"
    msg = json.loads(r.payload)["errorMessage"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z bbbbbbbb-0000-0000-0000-000000000001 Task timed out after 1\.00 seconds", msg)
    assert "Task timed out after 1.00 seconds" in (r.log_tail or "")
    again = harness.invoke(spec, b"{}")  # a fresh environment
    assert json.loads(again.payload) == "ok" and again.init_duration_ms is not None


@pytest.mark.parametrize(
    "body,expected",
    [
        ("import os; os._exit(3)", "exit status 3"),
        ("import ctypes; ctypes.string_at(0)", "signal: segmentation fault"),
    ],
)
def test_crash_gives_exit_error_and_replaces_environment(harness: Harness, body: str, expected: str) -> None:
    spec = harness.function(
        f"""
        def lambda_handler(event, context):
            if event.get("crash"):
                {body}
            return "alive"
        """
    )
    harness.invoke(spec)
    r = harness.invoke(spec, b'{"crash": 1}', request_id="cccccccc-0000-0000-0000-000000000001")
    assert r.function_error == "Unhandled"
    err = json.loads(r.payload)
    assert err["errorType"] == "Runtime.ExitError"
    assert err["errorMessage"] == f"RequestId: cccccccc-0000-0000-0000-000000000001 Error: Runtime exited with error: {expected}"
    again = harness.invoke(spec)
    assert json.loads(again.payload) == "alive" and again.init_duration_ms is not None


def test_out_of_memory(harness: Harness) -> None:
    spec = harness.function(
        """
        def lambda_handler(event, context):
            hog = []
            for _ in range(400):
                hog.append(bytearray(1024 * 1024))
            return len(hog)
        """,
        memory_mb=128,
    )
    r = harness.invoke(spec, request_id="dddddddd-0000-0000-0000-000000000001")
    assert r.function_error == "Unhandled"
    err = json.loads(r.payload)
    assert err["errorType"] in ("Runtime.OutOfMemory", "Runtime.ExitError")
    assert err["errorMessage"] == "RequestId: dddddddd-0000-0000-0000-000000000001 Error: Runtime exited with error: signal: killed"


def test_import_error(harness: Harness) -> None:
    spec = harness.function("import not_a_module_anywhere\n")
    r = harness.invoke(spec)
    assert r.function_error == "Unhandled"
    err = json.loads(r.payload)
    assert err["errorType"] == "Runtime.ImportModuleError"
    assert err["errorMessage"] == "Unable to import module 'lambda_function': No module named 'not_a_module_anywhere'"
    assert harness.invoke(spec).function_error == "Unhandled"  # every invoke retries init, as AWS does


def test_handler_not_found(harness: Harness) -> None:
    spec = harness.function("def other(event, context):\n    return 1\n")
    err = json.loads(harness.invoke(spec).payload)
    assert err["errorType"] == "Runtime.HandlerNotFound"
    assert err["errorMessage"] == "Handler 'lambda_handler' missing on module 'lambda_function'"


def test_new_environment_after_config_change(harness: Harness) -> None:
    v1 = harness.function("def lambda_handler(e, c):\n    return 'v1'\n", name="changing", config_key="k1")
    assert json.loads(harness.invoke(v1).payload) == "v1"
    assert harness.invoke(v1).init_duration_ms is None
    v2 = harness.function("def lambda_handler(e, c):\n    return 'v2'\n", name="changing", config_key="k2")
    r = harness.invoke(v2)
    assert json.loads(r.payload) == "v2" and r.init_duration_ms is not None
    harness.invoker.invalidate(v2.function_arn)
    assert harness.invoke(v2).init_duration_ms is not None


def test_reserved_concurrency_throttles(harness: Harness) -> None:
    spec = harness.function(
        """
        import time
        def lambda_handler(event, context):
            time.sleep(0.3)
            return "done"
        """,
        reserved=2,
    )

    async def burst() -> list[object]:
        return await asyncio.gather(*(harness.invoker.invoke(spec, b"{}") for _ in range(4)), return_exceptions=True)

    results = harness.run(burst())
    throttled = [r for r in results if isinstance(r, TooManyRequests)]
    assert len(throttled) == 2
    assert throttled[0].status == 429 and throttled[0].code == "TooManyRequestsException"
    assert throttled[0].fields["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    zero = harness.function(ECHO, reserved=0)
    with pytest.raises(TooManyRequests):
        harness.invoke(zero)


def test_account_concurrency_throttles(tmp_path) -> None:  # type: ignore[no-untyped-def]
    h = Harness(tmp_path, account_concurrency=1)
    try:
        spec = h.function("import time\ndef lambda_handler(e, c):\n    time.sleep(0.2)\n    return 1\n")

        async def two() -> list[object]:
            return await asyncio.gather(h.invoker.invoke(spec, b"{}"), h.invoker.invoke(spec, b"{}"), return_exceptions=True)

        results = h.run(two())
        errors = [r for r in results if isinstance(r, TooManyRequests)]
        assert len(errors) == 1 and errors[0].fields["Reason"] == "ConcurrentInvocationLimitExceeded"
    finally:
        h.close()


def test_log_lines_and_tail(harness: Harness) -> None:
    spec = harness.function(
        """
        print("cold init line")
        def lambda_handler(event, context):
            print("line one")
            print("line two")
            return 1
        """
    )
    r = harness.invoke(spec, request_id="eeeeeeee-0000-0000-0000-000000000001", tail=True)
    msgs = harness.sink.messages(spec.log_group)
    streams = {s for (g, s) in harness.sink.streams if g == spec.log_group}
    assert len(streams) == 1 and re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", streams.pop())
    rid = "eeeeeeee-0000-0000-0000-000000000001"
    start = msgs.index(f"START RequestId: {rid} Version: $LATEST\n")
    assert msgs.index("cold init line\n") < start
    assert msgs[start + 1 : start + 3] == ["line one\n", "line two\n"]
    assert msgs[start + 3] == f"END RequestId: {rid}\n"
    report = msgs[start + 4]
    assert re.fullmatch(
        rf"REPORT RequestId: {rid}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\t"
        r"Max Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\n",
        report,
    ), report
    assert r.log_tail is not None and r.log_tail.endswith(report) and "line one\nline two\n" in r.log_tail
    r2 = harness.invoke(spec, tail=True)
    assert "Init Duration" not in (r2.log_tail or "") and "cold init line" not in (r2.log_tail or "")
    assert harness.invoke(spec).log_tail is None


def test_big_output_is_bounded(harness: Harness) -> None:
    spec = harness.function(
        """
        import sys
        def lambda_handler(event, context):
            chunk = "x" * (1024 * 1024)
            for _ in range(100):
                sys.stdout.write(chunk)
            print("tail-marker")
            return "printed"
        """,
        timeout_s=20.0,
    )
    r = harness.invoke(spec, tail=True)
    assert json.loads(r.payload) == "printed"
    assert len((r.log_tail or "").encode()) <= 4096 and "tail-marker" in (r.log_tail or "")
    events = harness.sink.events(spec.log_group)
    assert max(len(m) for _, m in events) <= 256 * 1024 + 1


def test_provided_runtime_bootstrap(harness: Harness) -> None:
    bootstrap = """\
        #!/bin/sh
        set -eu
        API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
        echo "bootstrap started"
        while true; do
          HEADERS="$(mktemp)"
          EVENT=$(curl -sS -LD "$HEADERS" "$API/invocation/next")
          RID=$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
          echo "handling $RID"
          curl -sS -o /dev/null -X POST "$API/invocation/$RID/response" -d "{\\"echo\\": $EVENT, \\"handler\\": \\"$_HANDLER\\"}"
        done
        """
    spec = harness.function(bootstrap, runtime="provided.al2023", handler="my.handler", filename="bootstrap", mode=0o755)
    r = harness.invoke(spec, b'{"n": 1}')
    assert r.function_error is None, r.payload
    assert json.loads(r.payload) == {"echo": {"n": 1}, "handler": "my.handler"}
    assert json.loads(harness.invoke(spec, b'{"n": 2}').payload)["echo"] == {"n": 2}
    assert "bootstrap started\n" in harness.sink.messages(spec.log_group)


def test_provided_runtime_without_bootstrap(harness: Harness) -> None:
    spec = harness.function("echo hi\n", runtime="provided.al2", filename="not_bootstrap.sh")
    r = harness.invoke(spec)
    assert r.function_error == "Unhandled"
    assert json.loads(r.payload)["errorType"] == "Runtime.InvalidEntrypoint"


def test_idle_environments_are_reaped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    h = Harness(tmp_path, idle_env_seconds=0.2)
    try:
        spec = h.function(ECHO)
        assert h.invoke(spec).init_duration_ms is not None
        h.run(asyncio.sleep(0.6))
        assert h.invoker.stats()["idle"] == 0
        assert h.invoke(spec).init_duration_ms is not None
    finally:
        h.close()


KEYS = """
import os
def lambda_handler(event, context):
    return os.environ["AWS_ACCESS_KEY_ID"]
"""


def test_credentials_revoked_when_environment_stops(harness: Harness) -> None:
    spec = harness.function(KEYS)
    key = json.loads(harness.invoke(spec).payload)
    assert harness.creds.lookup(key) is not None
    assert json.loads(harness.invoke(spec).payload) == key  # warm: same environment, same keys
    harness.invoker.invalidate(spec.function_arn)
    for _ in range(500):  # released when the process's exit is noticed
        if harness.creds.lookup(key) is None:
            break
        harness.run(asyncio.sleep(0.01))
    assert harness.creds.lookup(key) is None


def test_environment_retired_before_its_credentials_expire(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    try:
        # keys living less than one invocation's timeout plus the margin: every environment is used once
        h.invoker.credentials_ttl_s = 2.0
        spec = h.function(KEYS, timeout_s=3.0)
        first = h.invoke(spec)
        second = h.invoke(spec)
        assert first.init_duration_ms is not None and second.init_duration_ms is not None  # two cold starts
        k1, k2 = json.loads(first.payload), json.loads(second.payload)
        assert k1 != k2
        for _ in range(500):
            if h.creds.lookup(k1) is None:
                break
            h.run(asyncio.sleep(0.01))
        assert h.creds.lookup(k1) is None
        # with the default lifetime the environment is reused
        h.invoker.credentials_ttl_s = 12 * 3600.0
        spec2 = h.function(KEYS)
        a, b = h.invoke(spec2), h.invoke(spec2)
        assert b.init_duration_ms is None and json.loads(a.payload) == json.loads(b.payload)
    finally:
        h.close()


STREAMING_BOOTSTRAP = '''\
#!/usr/bin/env python3
import base64, http.client, json, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
conn = http.client.HTTPConnection(host, int(port))
while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    r = conn.getresponse()
    event = json.loads(r.read())
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    # a streamed response, written by hand: chunked, the error (if any) in the trailers
    out = f"POST /2018-06-01/runtime/invocation/{rid}/response HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: text/csv\\r\\n"
    out += "Lambda-Runtime-Function-Response-Mode: streaming\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n"
    for part in event["parts"]:
        out += f"{len(part):x}\\r\\n{part}\\r\\n"
    out += "0\\r\\n"
    if event.get("error"):
        body = base64.b64encode(json.dumps({"errorType": "Custom.Broke", "errorMessage": "late"}).encode()).decode()
        out += f"Lambda-Runtime-Function-Error-Type: Custom.Broke\\r\\nLambda-Runtime-Function-Error-Body: {body}\\r\\n"
    out += "\\r\\n"
    conn.sock.sendall(out.encode())
    resp = http.client.HTTPResponse(conn.sock)
    resp.begin()
    resp.read()
'''


def test_streamed_response_mode_with_trailers(harness: Harness) -> None:
    """The Runtime API's streaming mode: chunks reach the invocation's ResponseStream as they come, an
    error in the trailers ends it as a function error; without a stream the chunks are gathered."""
    from nimbus.runtime import ResponseStream

    spec = harness.function(STREAMING_BOOTSTRAP, runtime="provided.al2023", handler="x", filename="bootstrap", mode=0o755)
    stream = ResponseStream()
    r = harness.invoke(spec, json.dumps({"parts": ["a,b\n", "c,d\n"]}).encode(), stream=stream)
    assert r.function_error is None and r.streamed and r.content_type == "text/csv"
    got = b""
    while not stream.chunks.empty():
        got += stream.chunks.get_nowait()
    assert got == b"a,b\nc,d\n" and stream.content_type == "text/csv"
    r = harness.invoke(spec, json.dumps({"parts": ["x\n"], "error": True}).encode())
    assert r.function_error == "Unhandled"
    assert json.loads(r.payload) == {"errorType": "Custom.Broke", "errorMessage": "late"}
    r = harness.invoke(spec, json.dumps({"parts": ["whole", " answer"]}).encode())
    assert (r.function_error, r.payload) == (None, b"whole answer")

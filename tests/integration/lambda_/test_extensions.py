"""External extensions end to end: a layer with a shell-script extension in extensions/, a function
using it, through the real server (sandbox as configured): events it receives, its output in the
function's log stream, SHUTDOWN on idle reap, a failing extension."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import NimbusProcess
from tests.integration.lambda_.functions import create, make_zip

# a log shipper's skeleton in sh + curl, as many layer extensions are
SHELL_EXTENSION = r"""#!/bin/sh
api="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
out="${TMPDIR:-/tmp}/shell-ext.log"
hdr="${TMPDIR:-/tmp}/shell-ext.headers"
curl -sS -D "$hdr" -o /dev/null -X POST "$api/register" -H "Lambda-Extension-Name: $(basename "$0")" -d '{"events":["INVOKE","SHUTDOWN"]}'
id=$(grep -i '^lambda-extension-identifier:' "$hdr" | cut -d' ' -f2 | tr -d '\r')
echo "[shell-ext] registered"
while true; do
  ev=$(curl -sS "$api/event/next" -H "Lambda-Extension-Identifier: $id")
  echo "$ev" >> "$out"
  echo "[shell-ext] $ev"
  case "$ev" in *SHUTDOWN*) exit 0;; esac
done
"""

READER = """
import os, time
def handler(event, context):
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "shell-ext.log")
    for _ in range(300):
        try:
            text = open(path).read()
        except OSError:
            text = ""
        if context.aws_request_id in text:
            return text.splitlines()
        time.sleep(0.01)
    return []
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    s = NimbusProcess(tmp_path_factory.mktemp("lambda-ext") / "data", env={"NIMBUS_LAMBDA_IDLE_SECONDS": "1"}).start()
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


def _layer(lam, name: str, script: str) -> str:
    content = make_zip({f"extensions/{name}": script}, modes={f"extensions/{name}": 0o755})
    return lam.publish_layer_version(LayerName=name, Content={"ZipFile": content})["LayerVersionArn"]


def _messages(logs, function: str) -> list[str]:
    try:
        return [e["message"] for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []


def test_shell_extension_receives_invokes_and_shutdown(lam, logs) -> None:
    create(lam, "ext-reader", READER, Layers=[_layer(lam, "shell-ext", SHELL_EXTENSION)])
    out = lam.invoke(FunctionName="ext-reader", Payload=b"{}")
    assert "FunctionError" not in out
    events = [json.loads(line) for line in json.loads(out["Payload"].read())]
    invoke = events[-1]
    assert invoke["eventType"] == "INVOKE"
    assert invoke["requestId"] == out["ResponseMetadata"]["RequestId"]
    assert invoke["invokedFunctionArn"].endswith(":function:ext-reader")
    assert invoke["deadlineMs"] > 0 and invoke["tracing"]["type"] == "X-Amzn-Trace-Id"
    # the extension's stdout lands in the function's log stream, and it is told SHUTDOWN when the idle
    # environment is reaped
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        messages = _messages(logs, "ext-reader")
        if any('"eventType":"SHUTDOWN"' in m and '"shutdownReason":"spindown"' in m for m in messages):
            break
        time.sleep(0.2)
    assert any(m.startswith("[shell-ext] registered") for m in messages)
    assert any('"eventType":"SHUTDOWN"' in m for m in messages), messages


def test_extension_exiting_at_init_fails_the_invoke(lam) -> None:
    create(lam, "ext-broken", READER, Layers=[_layer(lam, "broken-ext", "#!/bin/sh\necho cannot start\nexit 2\n")])
    out = lam.invoke(FunctionName="ext-broken", Payload=b"{}")
    assert out["FunctionError"] == "Unhandled"
    assert json.loads(out["Payload"].read())["errorType"] == "Extension.Crash"

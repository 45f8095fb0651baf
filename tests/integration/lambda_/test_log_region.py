"""Function logs land in the function's own region, as log groups are regional on AWS."""

from __future__ import annotations

import io
import time
import zipfile

from tests.conftest import NimbusProcess

CODE = "def lambda_handler(event, context):\n    print('hello from us-east-2')\n    return 'ok'\n"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", CODE)
    return buf.getvalue()


def test_function_logs_go_to_the_functions_region(nimbus_server: NimbusProcess) -> None:
    lam = nimbus_server.client("lambda", region="us-east-2")
    lam.create_function(
        FunctionName="regional-logger", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/r",
        Handler="lambda_function.lambda_handler", Code={"ZipFile": _zip()},
    )
    assert lam.invoke(FunctionName="regional-logger")["Payload"].read() == b'"ok"'
    logs = nimbus_server.client("logs", region="us-east-2")
    deadline = time.monotonic() + 20
    messages: list[str] = []
    while time.monotonic() < deadline:
        events = logs.filter_log_events(logGroupName="/aws/lambda/regional-logger").get("events", []) if logs.describe_log_groups(
            logGroupNamePrefix="/aws/lambda/regional-logger")["logGroups"] else []
        messages = [e["message"] for e in events]
        if any("hello from us-east-2" in m for m in messages):
            break
        time.sleep(0.2)
    assert any("hello from us-east-2" in m for m in messages), messages
    other = nimbus_server.client("logs", region="us-east-1")
    assert other.describe_log_groups(logGroupNamePrefix="/aws/lambda/regional-logger")["logGroups"] == []

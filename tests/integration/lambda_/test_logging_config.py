"""LoggingConfig: LogFormat JSON gives JSON platform events and JSON application logs (Python's logging
through awslambdaric, Node's console), filtered by ApplicationLogLevel and SystemLogLevel, as AWS does."""

from __future__ import annotations

import base64
import json
import shutil

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.lambda_.functions import create, make_zip, ROLE

PY = """
import logging
logger = logging.getLogger()

def handler(event, context):
    logger.debug("debug line")
    logger.info("info line")
    logger.warning("warn line")
    return "ok"
"""


@pytest.fixture(scope="module")
def lam(nimbus_server: NimbusProcess):
    return nimbus_server.client("lambda")


def _records(lam, name: str) -> list[dict]:
    out = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    assert "FunctionError" not in out, out["Payload"].read()
    lines = base64.b64decode(out["LogResult"]).decode().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_json_format_for_python(lam) -> None:
    create(lam, "log-json-py", PY, LoggingConfig={"LogFormat": "JSON"})
    cfg = lam.get_function_configuration(FunctionName="log-json-py")["LoggingConfig"]
    assert cfg == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", "LogGroup": "/aws/lambda/log-json-py"}
    records = _records(lam, "log-json-py")
    types = [r.get("type") for r in records]
    assert "platform.start" in types and "platform.report" in types
    report = next(r for r in records if r.get("type") == "platform.report")
    assert report["record"]["status"] == "success"
    assert set(report["record"]["metrics"]) >= {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"}
    app = [r for r in records if "level" in r]
    assert [(r["level"], r["message"]) for r in app] == [("INFO", "info line"), ("WARNING", "warn line")]  # awslambdaric names Python levels
    assert all(r["requestId"] == report["record"]["requestId"] for r in app)
    # levels: application DEBUG shows the debug line; system WARN hides start and report
    lam.update_function_configuration(
        FunctionName="log-json-py", LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "WARN"}
    )
    records = _records(lam, "log-json-py")
    assert not [r for r in records if "type" in r]
    assert [r["message"] for r in records if "level" in r] == ["debug line", "info line", "warn line"]
    # back to Text: the levels go, the lines are text again
    lam.update_function_configuration(FunctionName="log-json-py", LoggingConfig={"LogFormat": "Text"})
    cfg = lam.get_function_configuration(FunctionName="log-json-py")["LoggingConfig"]
    assert "ApplicationLogLevel" not in cfg and cfg["LogFormat"] == "Text"
    out = lam.invoke(FunctionName="log-json-py", Payload=b"{}", LogType="Tail")
    assert "\nSTART RequestId: " in "\n" + base64.b64decode(out["LogResult"]).decode()


def test_levels_need_json(lam) -> None:
    with pytest.raises(ClientError) as e:
        create(lam, "log-text-levels", PY, LoggingConfig={"LogFormat": "Text", "ApplicationLogLevel": "DEBUG"})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError):
        lam.get_function(FunctionName="log-text-levels")


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed (make setup installs Debian's nodejs)")
def test_json_format_for_node(lam) -> None:
    src = "export const handler = async () => { console.debug('d'); console.log('hello', {a: 1}); console.error('bad'); return 1; };"
    lam.create_function(
        FunctionName="log-json-node", Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
        Code={"ZipFile": make_zip({"index.mjs": src})}, LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO"},
    )
    app = [r for r in _records(lam, "log-json-node") if "level" in r]
    assert [(r["level"], r["message"]) for r in app] == [("INFO", "hello { a: 1 }"), ("ERROR", "bad")]
    assert all(r["requestId"] for r in app)

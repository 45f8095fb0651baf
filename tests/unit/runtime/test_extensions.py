"""External extensions (/opt/extensions in a layer) with the real Invoker: the Extensions API, the
init / post-invoke / shutdown phases, failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.runtime.conftest import Harness

# An extension in Python (stdlib only, run by the system interpreter as a layer's script would be).
# EXT_MODE (a function environment variable, which extensions see too) picks its behaviour.
EXTENSION = r'''#!/usr/bin/python3
import http.client, json, os, sys, time
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
name = os.path.basename(sys.argv[0])
mode = os.environ.get("EXT_MODE", "normal")
task = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")

def call(method, path, body=None, headers=None):
    c = http.client.HTTPConnection(host, int(port))
    c.request(method, "/2020-01-01/extension/" + path, body=body, headers=headers or {})
    r = c.getresponse()
    return r.status, r.getheader("Lambda-Extension-Identifier"), r.read()

def note(line):
    with open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "ext.log"), "a") as f:
        f.write(line + "\n")

if mode == "crash_at_init":
    sys.exit(3)
status, ident, body = call("POST", "register", json.dumps({"events": ["INVOKE", "SHUTDOWN"]}), {"Lambda-Extension-Name": name})
note(f"register {status} {json.loads(body)['functionName']}")
if mode == "telemetry":
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    class Listener(BaseHTTPRequestHandler):
        def do_POST(self):
            batch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            for rec in batch:
                note("TEL " + rec["type"] + " " + json.dumps(rec["record"]))
            self.send_response(200)
            self.end_headers()
        def log_message(self, *args):
            pass
    server = HTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sub = {"schemaVersion": "2022-12-01", "types": ["platform", "function"], "buffering": {"timeoutMs": 25},
           "destination": {"protocol": "HTTP", "URI": f"http://sandbox.localdomain:{server.server_port}/tel"}}
    c = http.client.HTTPConnection(host, int(port))
    c.request("PUT", "/2022-07-01/telemetry", body=json.dumps(sub), headers={"Lambda-Extension-Identifier": ident})
    r = c.getresponse()
    note(f"subscribe {r.status} {r.read().decode()}")
if mode == "init_error":
    call("POST", "init/error", b"{}", {"Lambda-Extension-Identifier": ident, "Lambda-Extension-Function-Error-Type": "Extension.ConfigInvalid"})
    sys.exit(1)
bad = call("GET", "event/next", headers={"Lambda-Extension-Identifier": "not-an-id"})
note(f"bad-id {bad[0]} {json.loads(bad[2])['errorType']}")
again = call("POST", "register", json.dumps({"events": ["INVOKE"]}), {"Lambda-Extension-Name": name})
note(f"register-again {again[0]}")
n = 0
while True:
    status, _, body = call("GET", "event/next", headers={"Lambda-Extension-Identifier": ident})
    event = json.loads(body)
    if event["eventType"] == "SHUTDOWN":
        print(f"{name} SHUTDOWN {event['shutdownReason']} deadline={event['deadlineMs'] > 0}", flush=True)
        sys.exit(0)
    n += 1
    note(f"INVOKE {event['requestId']} {event['invokedFunctionArn']} {event['tracing']['type']}")
    if mode == "post_invoke":
        while not os.path.exists(os.path.join(task, f"release-{n}")):
            time.sleep(0.01)
        note(f"post {event['requestId']}")
    if mode == "crash" and os.path.exists(os.path.join(task, "crash-please")):
        time.sleep(0.2)
        sys.exit(3)
'''

HANDLER = """
import os, time
def read():
    try:
        return open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "ext.log")).read()
    except OSError:
        return ""
def lambda_handler(event, context):
    for _ in range(300):  # the extension got this INVOKE at the same time: let it note it
        if context.aws_request_id in read():
            break
        time.sleep(0.01)
    return read()
"""


def _layer(tmp: Path, name: str = "my-ext") -> Path:
    layer = tmp / "layer"
    (layer / "extensions").mkdir(parents=True, exist_ok=True)
    ext = layer / "extensions" / name
    ext.write_text(EXTENSION)
    ext.chmod(0o755)
    return layer


@pytest.fixture(scope="module", params=["auto", "none"])
def h(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    harness = Harness(tmp_path_factory.mktemp("ext"), sandbox=request.param, idle_env_seconds=0.4)
    yield harness
    harness.close()


def _pool(h: Harness, spec):  # type: ignore[no-untyped-def]
    return h.invoker._pools[(spec.function_arn, spec.version, spec.config_key)]


def _wait(h: Harness, cond, timeout_s: float = 8.0) -> bool:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout_s / 0.02)):
        if cond():
            return True
        h.run(asyncio.sleep(0.02))
    return cond()


def test_extension_registers_and_sees_invokes(h: Harness) -> None:
    spec = h.function(HANDLER, layers=(_layer(h.tmp / "normal"),))
    r = h.invoke(spec, request_id="req-1")
    assert r.function_error is None, r.payload
    log = json.loads(r.payload).splitlines()
    assert log[0] == f"register 200 {spec.function_name}"
    assert "bad-id 403 Extension.InvalidExtensionIdentifier" in log
    assert "register-again 403" in log
    assert f"INVOKE req-1 {spec.function_arn} X-Amzn-Trace-Id" in log
    assert r.init_duration_ms is not None


def test_post_invoke_phase_holds_the_environment(h: Harness) -> None:
    spec = h.function(HANDLER, layers=(_layer(h.tmp / "post"),), environment={"EXT_MODE": "post_invoke"})
    r1 = h.invoke(spec, request_id="p-1")  # answered while the extension still works on p-1
    assert r1.function_error is None
    pool = _pool(h, spec)
    assert len(pool.busy) == 1 and not pool.idle
    messages = h.sink.messages(spec.log_group)
    assert not any(m.startswith("REPORT RequestId: p-1") for m in messages)
    (spec.code_dir / "release-1").touch()
    assert _wait(h, lambda: len(pool.idle) == 1)
    assert any(m.startswith("REPORT RequestId: p-1") for m in h.sink.messages(spec.log_group))
    (spec.code_dir / "release-2").touch()
    r2 = h.invoke(spec, request_id="p-2")
    log = json.loads(r2.payload).splitlines()
    assert log.index("post p-1") < log.index(f"INVOKE p-2 {spec.function_arn} X-Amzn-Trace-Id")
    assert r2.init_duration_ms is None  # the same environment


def test_shutdown_event_on_idle_reap(h: Harness) -> None:
    spec = h.function(HANDLER, layers=(_layer(h.tmp / "shut", "shipper"),))
    assert h.invoke(spec).function_error is None
    assert _wait(h, lambda: any("shipper SHUTDOWN spindown deadline=True" in m for m in h.sink.messages(spec.log_group)))


def test_extension_init_error_fails_the_init(h: Harness) -> None:
    spec = h.function(HANDLER, layers=(_layer(h.tmp / "initerr"),), environment={"EXT_MODE": "init_error"})
    r = h.invoke(spec)
    assert r.function_error == "Unhandled"
    err = json.loads(r.payload)
    assert err["errorType"] == "Extension.InitError"
    assert "Extension.ConfigInvalid" in err["errorMessage"]


def test_extension_crash_at_init(h: Harness) -> None:
    spec = h.function(HANDLER, layers=(_layer(h.tmp / "initcrash"),), environment={"EXT_MODE": "crash_at_init"})
    r = h.invoke(spec)
    assert r.function_error == "Unhandled"
    assert json.loads(r.payload)["errorType"] == "Extension.Crash"


def test_crashing_extension_fails_the_next_invocation_and_retires(h: Harness) -> None:
    spec = h.function(HANDLER, layers=(_layer(h.tmp / "crash"),), environment={"EXT_MODE": "crash"})
    assert h.invoke(spec).function_error is None
    pool = _pool(h, spec)
    assert _wait(h, lambda: len(pool.idle) == 1)  # the extension is back in event/next
    (spec.code_dir / "crash-please").touch()  # the extension exits after its next INVOKE
    r1 = h.invoke(spec)
    if r1.function_error is None:  # the extension crashed after the response (the usual case)
        assert _wait(h, lambda: len(pool.idle) == 1)  # its post-invoke phase ended with the crash
        r2 = h.invoke(spec)
        assert r2.function_error == "Unhandled"
        assert json.loads(r2.payload)["errorType"] == "Extension.Crash"
    else:  # ... or while the runtime was still answering
        assert json.loads(r1.payload)["errorType"] == "Extension.Crash"
    r3 = h.invoke(spec)
    assert r3.function_error is None
    assert r3.init_duration_ms is not None  # a new environment


def test_functions_without_extensions_still_fork(h: Harness) -> None:
    layer = h.tmp / "plain"
    (layer / "python").mkdir(parents=True, exist_ok=True)
    spec = h.function("def lambda_handler(event, context):\n    return 1\n", layers=(layer,))
    assert h.invoke(spec).function_error is None
    assert [env.extensions for env in _pool(h, spec).idle] == [None]



BOOTSTRAP = """#!/bin/sh
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
h="${TMPDIR:-/tmp}/next.headers"
while true; do
  curl -sS -D "$h" -o /dev/null "$api/invocation/next"
  rid=$(grep -i '^lambda-runtime-aws-request-id:' "$h" | cut -d' ' -f2 | tr -d '\\r')
  until grep -q "INVOKE $rid" "${TMPDIR:-/tmp}/ext.log"; do sleep 0.01; done
  curl -sS -X POST "$api/invocation/$rid/response" -d '"ok"' >/dev/null
done
"""


def test_provided_runtime_with_extension(h: Harness) -> None:
    spec = h.function(BOOTSTRAP, runtime="provided.al2023", filename="bootstrap", mode=0o755, layers=(_layer(h.tmp / "provided"),))
    r = h.invoke(spec, request_id="b-1")
    assert (r.function_error, r.payload) == (None, b'"ok"')


TELEMETRY_HANDLER = """
import os, time
def lambda_handler(event, context):
    print("hello-from-function")
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "ext.log")
    for _ in range(300):
        text = open(path).read()
        if all(w in text for w in event["wait_for"]):
            break
        time.sleep(0.01)
    return text
"""


def test_telemetry_api_delivers_function_and_platform_records(h: Harness) -> None:
    spec = h.function(TELEMETRY_HANDLER, layers=(_layer(h.tmp / "tel"),), environment={"EXT_MODE": "telemetry"})
    r1 = h.invoke(spec, b'{"wait_for": ["subscribe 200 OK"]}', request_id="t-1")
    assert r1.function_error is None, r1.payload
    pool = _pool(h, spec)
    assert _wait(h, lambda: len(pool.idle) == 1)  # t-2 goes to the same environment
    want = ['TEL function "hello-from-function', 'TEL platform.start {"requestId": "t-1"', 'TEL platform.report {"requestId": "t-1"']
    r2 = h.invoke(spec, json.dumps({"wait_for": want}).encode(), request_id="t-2")
    text = json.loads(r2.payload)
    assert all(w in text for w in want), text
    assert 'TEL platform.runtimeDone {"requestId": "t-1", "status": "success"' in text
    assert "TEL extension" not in text

"""nodejs*.x functions: handlers as AWS's Node runtime loads and calls them (ES modules, CommonJS,
callbacks), their errors and logs, layers under /opt/nodejs, and the AWS SDK v3 the runtime carries
writing to Nimbus itself. Needs Node.js (installed by `make setup`); without it these are skipped,
naming what is missing."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import NimbusProcess
from tests.integration.lambda_.functions import ROLE, make_zip

NODE = shutil.which("node")
SDK = Path(__file__).resolve().parents[3] / "src" / "nimbus" / "runtime" / "node" / "node_modules" / "@aws-sdk" / "client-s3"

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed (make setup installs Debian's nodejs)")


@pytest.fixture(scope="module")
def lam(nimbus_server: NimbusProcess):
    return nimbus_server.client("lambda")


def _create(lam, name: str, files: dict[str, str], handler: str = "index.handler", runtime: str = "nodejs20.x", **kw) -> None:
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler, Code={"ZipFile": make_zip(files)}, **kw)


def _invoke(lam, name: str, event: object = None) -> tuple[str | None, object, str]:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(event if event is not None else {}).encode(), LogType="Tail")
    return out.get("FunctionError"), json.loads(out["Payload"].read()), base64.b64decode(out["LogResult"]).decode()


def test_es_module_handler_with_context_and_logs(lam) -> None:
    _create(lam, "node-esm", {"index.mjs": """
export const handler = async (event, context) => {
  console.log("got", {a: 1});
  console.warn("two\\nlines");
  return {event, name: context.functionName, version: context.functionVersion, arn: context.invokedFunctionArn,
          id: context.awsRequestId, left: context.getRemainingTimeInMillis() > 0, mem: context.memoryLimitInMB,
          exec: process.env.AWS_EXECUTION_ENV, init: process.env.AWS_LAMBDA_INITIALIZATION_TYPE};
};"""})
    err, body, log = _invoke(lam, "node-esm", {"x": 1})
    assert err is None, body
    assert body["event"] == {"x": 1}
    assert (body["name"], body["version"], body["mem"]) == ("node-esm", "$LATEST", "128")
    assert body["arn"].endswith(":function:node-esm") and body["left"] is True
    assert (body["exec"], body["init"]) == ("AWS_Lambda_nodejs20.x", "on-demand")
    # AWS's Node log lines: time, request id, level, message; a multi-line message stays one event
    assert f"\t{body['id']}\tINFO\tgot {{ a: 1 }}" in log
    assert f"\t{body['id']}\tWARN\ttwo\nlines\n" in log
    assert "REPORT RequestId: " + body["id"] in log


def test_commonjs_callbacks_sync_returns_and_nested_handlers(lam) -> None:
    _create(lam, "node-cb", {"app.js": "exports.main = function (event, context, callback) { callback(null, 'cb:' + event.v); };"}, handler="app.main", runtime="nodejs18.x")
    assert _invoke(lam, "node-cb", {"v": 7})[:2] == (None, "cb:7")
    _create(lam, "node-nested", {"lib/h.js": "module.exports.api = { get: async (e) => ({ok: e.n + 1}) };"}, handler="lib/h.api.get")
    assert _invoke(lam, "node-nested", {"n": 1})[:2] == (None, {"ok": 2})
    _create(lam, "node-undef", {"index.js": "exports.handler = async () => undefined;"})
    assert _invoke(lam, "node-undef")[:2] == (None, None)
    _create(lam, "node-type-module", {"package.json": '{"type": "module"}', "index.js": "export const handler = async () => 'esm .js';"})
    assert _invoke(lam, "node-type-module")[:2] == (None, "esm .js")


def test_errors_as_aws_reports_them(lam) -> None:
    _create(lam, "node-throws", {"index.js": "exports.handler = async () => { throw new TypeError('bad thing'); };"})
    err, body, log = _invoke(lam, "node-throws")
    assert err == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("TypeError", "bad thing")
    assert body["trace"][0] == "TypeError: bad thing"
    assert "Invoke Error" in log
    _create(lam, "node-cb-error", {"index.js": "exports.handler = (e, c, cb) => cb(new Error('nope'));"})
    err, body, _ = _invoke(lam, "node-cb-error")
    assert (err, body["errorType"], body["errorMessage"]) == ("Unhandled", "Error", "nope")
    _create(lam, "node-no-module", {"index.js": "exports.handler = 1;"}, handler="missing.handler")
    err, body, _ = _invoke(lam, "node-no-module")
    assert (err, body["errorType"]) == ("Unhandled", "Runtime.ImportModuleError")
    assert body["errorMessage"].startswith("Error: Cannot find module 'missing'")
    _create(lam, "node-no-export", {"index.js": "exports.other = () => 1;"})
    err, body, _ = _invoke(lam, "node-no-export")
    assert (body["errorType"], body["errorMessage"]) == ("Runtime.HandlerNotFound", "index.handler is undefined or not exported")
    _create(lam, "node-syntax", {"index.js": "exports.handler = async () => {;"})
    err, body, _ = _invoke(lam, "node-syntax")
    assert body["errorType"] == "Runtime.UserCodeSyntaxError"
    # an error at init is reported on every invoke until the code changes (a new environment each time)
    _create(lam, "node-init-throws", {"index.mjs": "throw new Error('no config');\nexport const handler = async () => 1;"})
    err, body, _ = _invoke(lam, "node-init-throws")
    assert (err, body["errorType"], body["errorMessage"]) == ("Unhandled", "Error", "no config")
    lam.update_function_code(FunctionName="node-init-throws", ZipFile=make_zip({"index.mjs": "export const handler = async () => 'fixed';"}))
    assert _invoke(lam, "node-init-throws")[:2] == (None, "fixed")


def test_layers_resolve_for_es_modules_and_require(lam) -> None:
    layer = lam.publish_layer_version(
        LayerName="node-lib",
        Content={"ZipFile": make_zip({
            "nodejs/node_modules/greet/package.json": '{"name": "greet", "main": "index.js"}',
            "nodejs/node_modules/greet/index.js": "module.exports = { hello: (n) => 'hello ' + n };",
        })},
        CompatibleRuntimes=["nodejs20.x"],
    )
    arn = layer["LayerVersionArn"]
    _create(lam, "node-layer-esm", {"index.mjs": "import greet from 'greet';\nexport const handler = async (e) => greet.hello(e.n);"}, Layers=[arn])
    assert _invoke(lam, "node-layer-esm", {"n": "esm"})[:2] == (None, "hello esm")
    _create(lam, "node-layer-cjs", {"index.js": "const g = require('greet');\nexports.handler = async (e) => g.hello(e.n);"}, Layers=[arn])
    assert _invoke(lam, "node-layer-cjs", {"n": "cjs"})[:2] == (None, "hello cjs")


@pytest.mark.skipif(not SDK.is_dir(), reason="the Node.js runtime's AWS SDK is not installed (make setup runs npm ci in src/nimbus/runtime/node)")
def test_the_runtime_sdk_writes_to_nimbus_with_the_injected_endpoint(nimbus_server: NimbusProcess, lam) -> None:
    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket="node-runtime-sdk")
    _create(lam, "node-sdk", {"index.mjs": """
import { S3Client, PutObjectCommand } from "@aws-sdk/client-s3";
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
const s3 = new S3Client({ forcePathStyle: true });
export const handler = async (event) => {
  await s3.send(new PutObjectCommand({ Bucket: "node-runtime-sdk", Key: "from-node.json", Body: JSON.stringify(event) }));
  const who = await new STSClient({}).send(new GetCallerIdentityCommand({}));
  return who.Arn;
};"""})
    err, body, _ = _invoke(lam, "node-sdk", {"hello": "s3"})
    assert err is None, body
    assert body.endswith(":assumed-role/lambda-role/node-sdk")
    assert json.loads(s3.get_object(Bucket="node-runtime-sdk", Key="from-node.json")["Body"].read()) == {"hello": "s3"}


STREAMER = """
import { S3Client, HeadObjectCommand } from "@aws-sdk/client-s3";
const s3 = new S3Client({ forcePathStyle: true });
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType("text/plain");
  responseStream.write("first\\n");
  // the rest only once the caller has read the first chunk (it answers by creating the object)
  for (;;) {
    try { await s3.send(new HeadObjectCommand({ Bucket: event.bucket, Key: event.key })); break; }
    catch { await new Promise((r) => setTimeout(r, 20)); }
  }
  responseStream.write("second\\n");
  if (event.fail) throw new RangeError("after two chunks");
  responseStream.end();
});
"""


@pytest.mark.skipif(not SDK.is_dir(), reason="the Node.js runtime's AWS SDK is not installed (make setup runs npm ci in src/nimbus/runtime/node)")
def test_response_streaming_reaches_the_caller_while_the_function_runs(nimbus_server: NimbusProcess, lam) -> None:
    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket="node-stream-sync")
    _create(lam, "node-stream", {"index.mjs": STREAMER}, Timeout=30)
    for n, fail in enumerate((False, True)):
        key = f"go-{n}"
        out = lam.invoke_with_response_stream(FunctionName="node-stream", Payload=json.dumps({"bucket": "node-stream-sync", "key": key, "fail": fail}).encode())
        assert out["ResponseStreamContentType"] == "text/plain" and out["ExecutedVersion"] == "$LATEST"
        events = iter(out["EventStream"])
        first = next(events)
        assert first == {"PayloadChunk": {"Payload": b"first\n"}}
        s3.put_object(Bucket="node-stream-sync", Key=key, Body=b"")  # the function was waiting for this
        rest = list(events)
        assert rest[0] == {"PayloadChunk": {"Payload": b"second\n"}}
        complete = rest[-1]["InvokeComplete"]
        if fail:
            assert complete["ErrorCode"] == "Unhandled"
            assert json.loads(complete["ErrorDetails"])["errorType"] == "RangeError"
        else:
            assert complete == {}
    # a plain Invoke of a streaming function answers the whole response
    out = lam.invoke(FunctionName="node-stream", Payload=json.dumps({"bucket": "node-stream-sync", "key": "go-0"}).encode())
    assert "FunctionError" not in out and out["Payload"].read() == b"first\nsecond\n"


URL_STREAMER = """
import { S3Client, HeadObjectCommand } from "@aws-sdk/client-s3";
const s3 = new S3Client({ forcePathStyle: true });
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const out = awslambda.HttpResponseStream.from(responseStream, { statusCode: 201, headers: { "Content-Type": "text/event-stream", "X-Kind": "sse" } });
  out.write("data: one\\n\\n");
  for (;;) {  // the second event only once the client has read the first (it answers by creating the object)
    try { await s3.send(new HeadObjectCommand({ Bucket: "node-url-sync", Key: "go" })); break; }
    catch { await new Promise((r) => setTimeout(r, 20)); }
  }
  out.write("data: two\\n\\n");
  out.end();
});
"""


@pytest.mark.skipif(not SDK.is_dir(), reason="the Node.js runtime's AWS SDK is not installed (make setup runs npm ci in src/nimbus/runtime/node)")
def test_function_url_in_response_stream_mode(nimbus_server: NimbusProcess, lam) -> None:
    import http.client

    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket="node-url-sync")
    _create(lam, "node-url-stream", {"index.mjs": URL_STREAMER}, Timeout=30)
    lam.add_permission(FunctionName="node-url-stream", StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    url = lam.create_function_url_config(FunctionName="node-url-stream", AuthType="NONE", InvokeMode="RESPONSE_STREAM")["FunctionUrl"]
    assert lam.get_function_url_config(FunctionName="node-url-stream")["InvokeMode"] == "RESPONSE_STREAM"
    url_id = url.split("//", 1)[1].split(".", 1)[0]
    conn = http.client.HTTPConnection("127.0.0.1", nimbus_server.port, timeout=30)
    conn.request("GET", f"/_aws/lambda-url/{url_id}/events")
    resp = conn.getresponse()
    assert resp.status == 201  # the prelude's status and headers
    assert resp.getheader("Content-Type") == "text/event-stream" and resp.getheader("X-Kind") == "sse"
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert resp.read1(1024) == b"data: one\n\n"  # arrives while the function still waits
    s3.put_object(Bucket="node-url-sync", Key="go", Body=b"")
    assert resp.read() == b"data: two\n\n"
    conn.close()
    # a function that does not stream is answered whole, as in BUFFERED mode
    from tests.integration.lambda_.functions import create

    create(lam, "py-url-stream", "def handler(e, c):\n    return {'statusCode': 202, 'body': 'whole'}\n")
    lam.add_permission(FunctionName="py-url-stream", StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    url = lam.create_function_url_config(FunctionName="py-url-stream", AuthType="NONE", InvokeMode="RESPONSE_STREAM")["FunctionUrl"]
    conn = http.client.HTTPConnection("127.0.0.1", nimbus_server.port, timeout=30)
    conn.request("GET", f"/_aws/lambda-url/{url.split('//', 1)[1].split('.', 1)[0]}/")
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (202, b"whole")
    conn.close()

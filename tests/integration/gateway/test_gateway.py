"""HTTP triggers end to end: API Gateway REST APIs, HTTP APIs and function URLs on a real server,
called with plain urllib / http.client (no AWS client on the data plane)."""

from __future__ import annotations

import base64
import http.client
import io
import json
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from typing import Any

import pytest

from tests.conftest import ACCESS_KEY, SECRET_KEY

try:  # the Lambda runtime lands separately; until it does these end-to-end tests cannot invoke anything
    from nimbus.runtime import FunctionSpec, Invoker  # noqa: F401
except ImportError:  # pragma: no cover
    pytest.skip("nimbus.runtime (execution environments) is not available yet", allow_module_level=True)

HELLO = '''import json

def lambda_handler(event, context):
    return {
        'statusCode': 200,
        'body': json.dumps('Hello from Lambda!')
    }
'''

ECHO = '''import base64, json

def lambda_handler(event, context):
    q = event.get("queryStringParameters") or {}
    mode = q.get("mode")
    if mode == "malformed":
        return {"statusCode": 200, "body": {"not": "a string"}}
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "binary":
        return {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
    if mode == "bare":
        return {"hello": "world"}
    if mode == "cookies":
        return {"statusCode": 200, "cookies": ["a=1", "b=2"], "body": "c"}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json", "X-Fn-Request-Id": context.aws_request_id},
            "body": json.dumps(event)}
'''


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", source)
    return buf.getvalue()


def _create_function(lam: Any, name: str, source: str) -> str:
    fn = lam.create_function(FunctionName=name, Runtime="python3.8", Role="arn:aws:iam::000000000000:role/lambda-role",
                             Handler="lambda_function.lambda_handler", Code={"ZipFile": _zip(source)})
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    return str(fn["FunctionArn"])


def call(url: str, *, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def call_host(port: int, host: str, path: str, method: str = "GET") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, headers={"Host": f"{host}:{port}"})
    r = conn.getresponse()
    return r.status, r.read()


def signed(url: str, service: str, *, method: str = "GET", body: bytes = b"", region: str = "us-east-1") -> tuple[int, dict[str, str], bytes]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), service, region).add_auth(req)
    return call(url, method=method, body=body or None, headers=dict(req.headers.items()))


@pytest.fixture(scope="module")
def env(nimbus_server: Any) -> dict[str, Any]:
    lam = nimbus_server.client("lambda")
    return {
        "server": nimbus_server,
        "lambda": lam,
        "apigw": nimbus_server.client("apigateway"),
        "v2": nimbus_server.client("apigatewayv2"),
        "hello": _create_function(lam, "hello-world", HELLO),
        "echo": _create_function(lam, "echo", ECHO),
    }


def _trigger(env: dict[str, Any], fn: str, security: str = "open") -> dict[str, Any]:
    server = env["server"]
    cp = subprocess.run(
        [sys.executable, "-m", "nimbus", "trigger", "http", fn, "--security", security, "--json", "--endpoint-url", server.endpoint],
        env=server.aws_env(), capture_output=True, text=True, timeout=60,
    )
    assert cp.returncode == 0, cp.stderr
    return dict(json.loads(cp.stdout))


def test_seed_hello_function_open_trigger(env: dict[str, Any]) -> None:
    out = _trigger(env, "hello-world")
    assert out["url"].endswith("/default/hello-world")
    status, headers, body = call(out["url"])
    assert status == 200 and json.loads(body) == "Hello from Lambda!"
    assert headers["content-type"] == "application/json" and "x-amzn-requestid" in headers
    # the Host-based form answers the same
    server = env["server"]
    status, body = call_host(server.port, f"{out['restApiId']}.execute-api.localhost", "/default/hello-world")
    assert status == 200 and json.loads(body) == "Hello from Lambda!"
    # what the console creates
    apigw = env["apigw"]
    res = {r["path"]: r for r in apigw.get_resources(restApiId=out["restApiId"])["items"]}
    method = apigw.get_method(restApiId=out["restApiId"], resourceId=res["/hello-world"]["id"], httpMethod="ANY")
    assert method["methodIntegration"]["type"] == "AWS_PROXY"
    policy = json.loads(env["lambda"].get_policy(FunctionName="hello-world")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}
    # unknown paths and methods answer as API Gateway does
    status, _, body = call(out["url"].replace("/hello-world", "/nothing"))
    assert status == 403 and json.loads(body) == {"message": "Missing Authentication Token"}


def _sam_like_api(env: dict[str, Any], *, binary: bool = False) -> tuple[str, str]:
    """A REST API built the way SAM/Terraform drive the API: /items/{id} and /{proxy+} to echo."""
    apigw, server = env["apigw"], env["server"]
    api = apigw.create_rest_api(name="sam-like", binaryMediaTypes=["application/octet-stream"] if binary else [])
    api_id, root = api["id"], api["rootResourceId"]
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{env['echo']}/invocations"
    items = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="items")
    item = apigw.create_resource(restApiId=api_id, parentId=items["id"], pathPart="{id}")
    proxy = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="{proxy+}")
    for res in (item, proxy):
        apigw.put_method(restApiId=api_id, resourceId=res["id"], httpMethod="ANY", authorizationType="NONE")
        apigw.put_integration(restApiId=api_id, resourceId=res["id"], httpMethod="ANY", type="AWS_PROXY",
                              integrationHttpMethod="POST", uri=uri)
    apigw.create_deployment(restApiId=api_id, stageName="prod", variables={"color": "blue"})
    env["lambda"].add_permission(FunctionName="echo", StatementId=f"apigw-{api_id}", Action="lambda:InvokeFunction",
                                 Principal="apigateway.amazonaws.com", SourceArn=f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/*")
    return api_id, f"{server.endpoint}/_aws/execute-api/{api_id}/prod"


def test_rest_api_path_params_proxy_and_event_shape(env: dict[str, Any]) -> None:
    api_id, base = _sam_like_api(env)
    status, headers, body = call(base + "/items/42?tag=a&tag=b&x=1", headers={"X-Thing": "yes", "Cookie": "k=v"})
    assert status == 200, body
    ev = json.loads(body)
    assert ev["resource"] == "/items/{id}" and ev["path"] == "/items/42" and ev["httpMethod"] == "GET"
    assert ev["pathParameters"] == {"id": "42"} and ev["stageVariables"] == {"color": "blue"}
    assert ev["queryStringParameters"] == {"tag": "b", "x": "1"}
    assert ev["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "x": ["1"]}
    assert ev["headers"]["X-Thing"] == "yes" and ev["multiValueHeaders"]["X-Thing"] == ["yes"]
    # what AWS's front end adds: the caller's address, the scheme and port it came in on, a trace id
    assert ev["headers"]["X-Forwarded-For"] == "127.0.0.1" and ev["headers"]["X-Forwarded-Proto"] == "http"
    assert ev["headers"]["X-Forwarded-Port"] == str(env["server"].port)
    assert ev["headers"]["X-Amzn-Trace-Id"].startswith("Root=1-")
    ctx = ev["requestContext"]
    assert ctx["identity"]["sourceIp"] == "127.0.0.1" and ctx["stage"] == "prod" and ctx["apiId"] == api_id
    assert ctx["path"] == "/prod/items/42" and ctx["resourcePath"] == "/items/{id}"
    # the function's context has the request id the gateway answers with
    assert headers["x-fn-request-id"] == headers["x-amzn-requestid"] == ctx["requestId"]
    status, _, body = call(base + "/deep/er/path", method="POST", body=b'{"a": 1}', headers={"Content-Type": "application/json"})
    ev = json.loads(body)
    assert ev["resource"] == "/{proxy+}" and ev["pathParameters"] == {"proxy": "deep/er/path"}
    assert ev["body"] == '{"a": 1}' and ev["isBase64Encoded"] is False and ev["httpMethod"] == "POST"


def test_binary_bodies_and_failures(env: dict[str, Any]) -> None:
    _, base = _sam_like_api(env, binary=True)
    raw = bytes(range(256))
    status, _, body = call(base + "/upload", method="POST", body=raw, headers={"Content-Type": "application/octet-stream"})
    ev = json.loads(body)
    assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == raw
    status, headers, body = call(base + "/x?mode=binary", headers={"Accept": "application/octet-stream"})
    assert status == 200 and body == raw
    status, headers, body = call(base + "/x?mode=malformed")
    assert status == 502 and json.loads(body) == {"message": "Internal server error"}
    status, _, body = call(base + "/x?mode=raise")
    assert status == 502 and json.loads(body) == {"message": "Internal server error"}


def test_missing_permission_is_500(env: dict[str, Any]) -> None:
    apigw, server = env["apigw"], env["server"]
    api = apigw.create_rest_api(name="no-permission")
    apigw.put_method(restApiId=api["id"], resourceId=api["rootResourceId"], httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api["id"], resourceId=api["rootResourceId"], httpMethod="GET", type="AWS_PROXY",
                          integrationHttpMethod="POST",
                          uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{env['hello']}/invocations")
    apigw.create_deployment(restApiId=api["id"], stageName="dev")
    # the hello-world permission names only its own API, so this one may not invoke
    status, _, body = call(f"{server.endpoint}/_aws/execute-api/{api['id']}/dev/")
    assert status == 500 and json.loads(body) == {"message": "Internal server error"}


def test_api_key_security(env: dict[str, Any]) -> None:
    out = _trigger(env, "echo", "api-key")
    status, _, body = call(out["url"])
    assert status == 403 and json.loads(body) == {"message": "Forbidden"}
    status, _, body = call(out["url"], headers={"x-api-key": "wrong-key-wrong-key-wrong"})
    assert status == 403
    status, _, body = call(out["url"], headers={"x-api-key": out["apiKey"]})
    assert status == 200
    ev = json.loads(body)
    assert ev["requestContext"]["identity"]["apiKey"] == out["apiKey"]
    # usage plan throttle and quota are enforced
    apigw = env["apigw"]
    apigw.update_usage_plan(usagePlanId=out["usagePlanId"], patchOperations=[
        {"op": "replace", "path": "/quota/limit", "value": "1"}, {"op": "replace", "path": "/quota/period", "value": "DAY"}])
    assert call(out["url"], headers={"x-api-key": out["apiKey"]})[0] == 200
    status, _, body = call(out["url"], headers={"x-api-key": out["apiKey"]})
    assert status == 429 and json.loads(body) == {"message": "Limit Exceeded"}


def test_iam_security(env: dict[str, Any]) -> None:
    out = _trigger(env, "echo", "iam")
    status, _, body = call(out["url"])
    assert status == 403 and json.loads(body) == {"message": "Missing Authentication Token"}
    status, _, body = signed(out["url"], "execute-api")
    assert status == 200, body
    ident = json.loads(body)["requestContext"]["identity"]
    assert ident["accessKey"] == ACCESS_KEY and ident["accountId"] == "000000000000"
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="GET", url=out["url"])
    SigV4Auth(Credentials(ACCESS_KEY, "not-the-secret"), "execute-api", "us-east-1").add_auth(req)
    status, _, body = call(out["url"], headers=dict(req.headers.items()))
    assert status == 403 and "signature" in json.loads(body)["message"]


def test_http_api_quick_create(env: dict[str, Any]) -> None:
    v2, server = env["v2"], env["server"]
    api = v2.create_api(Name="quick", ProtocolType="HTTP", Target=env["echo"])
    assert api["ApiEndpoint"].endswith(f"{api['ApiId']}.execute-api.localhost:{server.port}")
    assert [s["StageName"] for s in v2.get_stages(ApiId=api["ApiId"])["Items"]] == ["$default"]
    env["lambda"].add_permission(FunctionName="echo", StatementId=f"v2-{api['ApiId']}", Action="lambda:InvokeFunction",
                                 Principal="apigateway.amazonaws.com")
    base = f"{server.endpoint}/_aws/execute-api/{api['ApiId']}"
    status, _, body = call(base + "/any/path?a=1&a=2", headers={"Cookie": "c1=v1; c2=v2"})
    assert status == 200, body
    ev = json.loads(body)
    assert ev["version"] == "2.0" and ev["routeKey"] == "$default" and ev["rawPath"] == "/any/path"
    assert ev["rawQueryString"] == "a=1&a=2" and ev["queryStringParameters"] == {"a": "1,2"}
    assert ev["cookies"] == ["c1=v1", "c2=v2"] and ev["requestContext"]["http"]["method"] == "GET"
    status, headers, body = call(base + "/x?mode=bare")
    assert status == 200 and json.loads(body) == {"hello": "world"}
    status, _, body = call(base + "/x?mode=raise")
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}
    # explicit form: route with a path parameter on a named stage; unknown routes are 404
    explicit = v2.create_api(Name="explicit", ProtocolType="HTTP")
    integ = v2.create_integration(ApiId=explicit["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=env["echo"],
                                  PayloadFormatVersion="2.0")
    v2.create_route(ApiId=explicit["ApiId"], RouteKey="GET /pets/{petId}", Target=f"integrations/{integ['IntegrationId']}")
    v2.create_stage(ApiId=explicit["ApiId"], StageName="live", AutoDeploy=True)
    env["lambda"].add_permission(FunctionName="echo", StatementId=f"v2-{explicit['ApiId']}", Action="lambda:InvokeFunction",
                                 Principal="apigateway.amazonaws.com")
    base = f"{server.endpoint}/_aws/execute-api/{explicit['ApiId']}/live"
    status, _, body = call(base + "/pets/7")
    ev = json.loads(body)
    assert status == 200 and ev["pathParameters"] == {"petId": "7"} and ev["routeKey"] == "GET /pets/{petId}"
    assert ev["requestContext"]["stage"] == "live"
    status, _, body = call(base + "/cats/7")
    assert status == 404 and json.loads(body) == {"message": "Not Found"}


def test_function_urls(env: dict[str, Any]) -> None:
    lam, server = env["lambda"], env["server"]
    cfg = lam.create_function_url_config(FunctionName="echo", AuthType="NONE",
                                         Cors={"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"], "MaxAge": 60})
    url_id = cfg["FunctionUrl"].split("//", 1)[1].split(".", 1)[0]
    assert len(url_id) == 32 and cfg["FunctionUrl"].endswith(f".lambda-url.us-east-1.localhost:{server.port}/")
    assert lam.get_function_url_config(FunctionName="echo")["AuthType"] == "NONE"
    assert len(lam.list_function_url_configs(FunctionName="echo")["FunctionUrlConfigs"]) == 1
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_function_url_config(FunctionName="echo", AuthType="NONE")
    base = f"{server.endpoint}/_aws/lambda-url/{url_id}"
    # AuthType NONE still needs the resource policy statement, as on AWS
    assert call(base + "/")[0] == 403
    lam.add_permission(FunctionName="echo", StatementId="url-public", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    status, headers, body = call(base + "/hello?x=1", headers={"Origin": "https://app.example", "X-Forwarded-For": "203.0.113.7"})
    assert status == 200, body
    ev = json.loads(body)
    # from a loopback peer the header is a local proxy's: its last address is the caller (uvicorn's trusted
    # proxy rule), so it is kept as it came and is the event's sourceIp
    assert ev["headers"]["x-forwarded-for"] == "203.0.113.7" and ev["requestContext"]["http"]["sourceIp"] == "203.0.113.7"
    assert ev["headers"]["x-forwarded-proto"] == "http" and ev["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    assert ev["version"] == "2.0" and ev["routeKey"] == "$default" and ev["rawPath"] == "/hello"
    assert ev["requestContext"]["apiId"] == url_id and ev["requestContext"]["stage"] == "$default"
    assert headers["access-control-allow-origin"] == "https://app.example"
    status, body = call_host(server.port, f"{url_id}.lambda-url.us-east-1.localhost", "/?mode=cookies")
    assert status == 200 and body == b"c"
    # CORS preflight is answered by the URL itself
    status, headers, _ = call(base + "/", method="OPTIONS",
                              headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert status == 200 and headers["access-control-allow-methods"] == "GET,POST" and headers["access-control-max-age"] == "60"
    # AWS_IAM: unsigned 403, SigV4 (service lambda) 200
    lam.update_function_url_config(FunctionName="echo", AuthType="AWS_IAM")
    assert call(base + "/")[0] == 403
    status, _, body = signed(base + "/", "lambda")
    assert status == 200, body
    assert json.loads(body)["requestContext"]["authorizer"]["iam"]["accessKey"] == ACCESS_KEY
    lam.delete_function_url_config(FunctionName="echo")
    assert call(base + "/")[0] == 404


def test_restart_keeps_apis(env: dict[str, Any]) -> None:
    out = _trigger(env, "hello-world")
    keyed = _trigger(env, "hello-world", "api-key")
    env["apigw"].update_usage_plan(usagePlanId=keyed["usagePlanId"], patchOperations=[
        {"op": "replace", "path": "/quota/limit", "value": "2"}, {"op": "replace", "path": "/quota/period", "value": "MONTH"}])
    assert call(keyed["url"], headers={"x-api-key": keyed["apiKey"]})[0] == 200
    env["server"].restart()
    status, _, body = call(out["url"])
    assert status == 200 and json.loads(body) == "Hello from Lambda!"
    # the quota count survived the restart: one request left this month
    assert call(keyed["url"], headers={"x-api-key": keyed["apiKey"]})[0] == 200
    status, _, body = call(keyed["url"], headers={"x-api-key": keyed["apiKey"]})
    assert status == 429 and json.loads(body) == {"message": "Limit Exceeded"}


def test_function_url_configs_go_with_the_function_and_alias(env: dict[str, Any]) -> None:
    lam, server = env["lambda"], env["server"]
    _create_function(lam, "url-owner", HELLO)
    version = lam.publish_version(FunctionName="url-owner")["Version"]
    lam.create_alias(FunctionName="url-owner", Name="live", FunctionVersion=version)
    latest = lam.create_function_url_config(FunctionName="url-owner", AuthType="NONE")["FunctionUrl"]
    aliased = lam.create_function_url_config(FunctionName="url-owner", Qualifier="live", AuthType="NONE")["FunctionUrl"]
    for qualifier in (None, "live"):
        lam.add_permission(FunctionName="url-owner", StatementId=f"url-{qualifier}", Action="lambda:InvokeFunctionUrl",
                           Principal="*", FunctionUrlAuthType="NONE", **({"Qualifier": qualifier} if qualifier else {}))
    ids = [u.split("//", 1)[1].split(".", 1)[0] for u in (latest, aliased)]
    urls = [f"{server.endpoint}/_aws/lambda-url/{i}/" for i in ids]
    assert [call(u)[0] for u in urls] == [200, 200]
    lam.delete_alias(FunctionName="url-owner", Name="live")  # the alias's URL goes with it
    assert [call(u)[0] for u in urls] == [200, 404]
    lam.delete_function(FunctionName="url-owner")  # and the function's
    assert call(urls[0])[0] == 404
    _create_function(lam, "url-owner", HELLO)  # a new function of the same name has no URL
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_url_config(FunctionName="url-owner")
    assert lam.list_function_url_configs(FunctionName="url-owner")["FunctionUrlConfigs"] == []
    lam.delete_function(FunctionName="url-owner")


def test_http_api_stages_serve_their_deployment(env: dict[str, Any]) -> None:
    v2, server, lam = env["v2"], env["server"], env["lambda"]
    api_id = v2.create_api(Name="deployed", ProtocolType="HTTP")["ApiId"]
    lam.add_permission(FunctionName="echo", StatementId=f"v2-{api_id}", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com")
    integ = v2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=env["echo"],
                                  PayloadFormatVersion="2.0")["IntegrationId"]
    v2.create_route(ApiId=api_id, RouteKey="GET /a", Target=f"integrations/{integ}")
    v2.create_stage(ApiId=api_id, StageName="manual")
    v2.create_stage(ApiId=api_id, StageName="auto", AutoDeploy=True)
    base = f"{server.endpoint}/_aws/execute-api/{api_id}"

    def status(stage: str, path: str) -> int:
        return call(f"{base}/{stage}{path}")[0]

    assert status("manual", "/a") == 404  # a stage without a deployment serves nothing
    assert status("auto", "/a") == 200  # AutoDeploy deploys when the stage is created
    first = v2.create_deployment(ApiId=api_id, StageName="manual", Description="one")
    assert first["AutoDeployed"] is False and first["DeploymentStatus"] == "DEPLOYED"
    assert v2.get_stage(ApiId=api_id, StageName="manual")["DeploymentId"] == first["DeploymentId"]
    assert status("manual", "/a") == 200
    v2.create_route(ApiId=api_id, RouteKey="GET /b", Target=f"integrations/{integ}")
    assert (status("manual", "/b"), status("auto", "/b")) == (404, 200)  # only the auto stage redeploys
    second = v2.create_deployment(ApiId=api_id, StageName="manual")
    assert status("manual", "/b") == 200
    v2.update_stage(ApiId=api_id, StageName="manual", DeploymentId=first["DeploymentId"])  # roll back
    assert (status("manual", "/a"), status("manual", "/b")) == (200, 404)
    ids = {d["DeploymentId"]: d for d in v2.get_deployments(ApiId=api_id)["Items"]}
    assert {first["DeploymentId"], second["DeploymentId"]} <= set(ids)
    assert ids[v2.get_stage(ApiId=api_id, StageName="auto")["DeploymentId"]]["AutoDeployed"] is True
    with pytest.raises(v2.exceptions.BadRequestException):
        v2.delete_deployment(ApiId=api_id, DeploymentId=first["DeploymentId"])  # in use by "manual"
    v2.delete_deployment(ApiId=api_id, DeploymentId=second["DeploymentId"])
    with pytest.raises(v2.exceptions.NotFoundException):
        v2.get_deployment(ApiId=api_id, DeploymentId=second["DeploymentId"])
    with pytest.raises(v2.exceptions.NotFoundException):
        v2.update_stage(ApiId=api_id, StageName="manual", DeploymentId=second["DeploymentId"])
    v2.delete_api(ApiId=api_id)


def test_patch_operations_with_null_members_are_bad_requests(env: dict[str, Any]) -> None:
    """A client without parameter validation sends JSON nulls inside patchOperations; each update answers
    BadRequestException (found by the bad-input fuzz test, seed 16: it was a 500), and the API is unchanged."""
    from botocore.config import Config

    apigw = env["server"].client("apigateway", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    api_id = apigw.create_rest_api(name="patch-nulls")["id"]
    for ops in ([{"path": None}], [{"op": None, "path": None, "value": None}]):
        with pytest.raises(apigw.exceptions.BadRequestException):
            apigw.update_rest_api(restApiId=api_id, patchOperations=ops)
    assert apigw.get_rest_api(restApiId=api_id)["name"] == "patch-nulls"
    key_id = apigw.create_api_key(name="k")["id"]
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.update_api_key(apiKey=key_id, patchOperations=[{"path": None, "value": "x"}])

"""Proxy event and response details checked against AWS's documented (and observed) behaviour:
which paths keep their percent-encoding, how 1.0 merges headers with multiValueHeaders, and what
a 2.0 function that returns a bare value answers. One real server; plain HTTP on the data plane."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from typing import Any

import pytest

from tests.integration.gateway.test_gateway import _create_function, call

try:
    from nimbus.runtime import FunctionSpec, Invoker  # noqa: F401
except ImportError:  # pragma: no cover
    pytest.skip("nimbus.runtime (execution environments) is not available yet", allow_module_level=True)

# Returns what the X-Return header holds (JSON), or the event it received.
MIRROR = '''import json

def lambda_handler(event, context):
    headers = event.get("headers") or {}
    wanted = headers.get("x-return") or headers.get("X-Return")
    if wanted is not None:
        return json.loads(wanted)
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}
'''


@pytest.fixture(scope="module")
def env(nimbus_server: Any) -> dict[str, Any]:
    lam = nimbus_server.client("lambda")
    arn = _create_function(lam, "mirror", MIRROR)
    apigw, v2 = nimbus_server.client("apigateway"), nimbus_server.client("apigatewayv2")
    lam.add_permission(FunctionName="mirror", StatementId="apigw", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com")
    lam.add_permission(FunctionName="mirror", StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    # REST: /{proxy+} ANY -> mirror, stage prod
    api = apigw.create_rest_api(name="fidelity")
    proxy = apigw.create_resource(restApiId=api["id"], parentId=api["rootResourceId"], pathPart="{proxy+}")
    apigw.put_method(restApiId=api["id"], resourceId=proxy["id"], httpMethod="ANY", authorizationType="NONE")
    apigw.put_integration(restApiId=api["id"], resourceId=proxy["id"], httpMethod="ANY", type="AWS_PROXY",
                          integrationHttpMethod="POST",
                          uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations")
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    http_api = v2.create_api(Name="fidelity", ProtocolType="HTTP", Target=arn)
    url = lam.create_function_url_config(FunctionName="mirror", AuthType="NONE")["FunctionUrl"]
    base = nimbus_server.endpoint
    return {
        "rest": f"{base}/_aws/execute-api/{api['id']}/prod",
        "http": f"{base}/_aws/execute-api/{http_api['ApiId']}",
        "url": f"{base}/_aws/lambda-url/{url.split('//', 1)[1].split('.', 1)[0]}",
    }


def _event(url: str) -> dict[str, Any]:
    status, _, body = call(url)
    assert status == 200, body
    return dict(json.loads(body))


def _answer(url: str, returned: Any) -> tuple[int, dict[str, str], bytes]:
    return call(url, headers={"X-Return": json.dumps(returned)})


def test_rest_path_keeps_percent_encoding(env: dict[str, Any]) -> None:
    # REST APIs pass `path` as the client sent it; path parameters are decoded
    ev = _event(env["rest"] + "/user/test%2Balias%40example.com/a%20b")
    assert ev["path"] == "/user/test%2Balias%40example.com/a%20b"
    assert ev["requestContext"]["path"] == "/prod/user/test%2Balias%40example.com/a%20b"
    assert ev["pathParameters"] == {"proxy": "user/test+alias@example.com/a b"}


def test_http_api_raw_path_is_decoded_and_function_url_raw_path_is_not(env: dict[str, Any]) -> None:
    ev = _event(env["http"] + "/files/a%20b%2Bc")
    assert ev["rawPath"] == "/files/a b+c" and ev["requestContext"]["http"]["path"] == "/files/a b+c"
    ev = _event(env["url"] + "/files/a%20b%2Bc")
    assert ev["rawPath"] == "/files/a%20b%2Bc"


def test_v1_headers_and_multi_value_headers_are_merged(env: dict[str, Any]) -> None:
    returned = {"statusCode": 200, "body": "ok",
                "headers": {"X-Both": "single", "X-Same": "v", "X-Only": "one"},
                "multiValueHeaders": {"X-Both": ["m1", "m2"], "X-Same": ["v"]}}
    u = urllib.parse.urlsplit(env["rest"] + "/h")
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)  # keeps repeated headers apart
    conn.request("GET", u.path, headers={"X-Return": json.dumps(returned)})
    r = conn.getresponse()
    assert r.status == 200 and r.read() == b"ok"
    got = [(k.lower(), v) for k, v in r.getheaders()]
    assert sorted(v for k, v in got if k == "x-both") == ["m1", "m2", "single"]
    assert [v for k, v in got if k == "x-same"] == ["v"]
    assert [v for k, v in got if k == "x-only"] == ["one"]


@pytest.mark.parametrize("kind", ["http", "url"])
def test_v2_bare_values_are_json_bodies(env: dict[str, Any], kind: str) -> None:
    # the function URL guide: returning "Hello, world!" answers the JSON text "Hello, world!" (quotes included)
    status, headers, body = _answer(env[kind] + "/", "Hello, world!")
    assert status == 200 and headers["content-type"] == "application/json"
    assert body == b'"Hello, world!"'
    status, headers, body = _answer(env[kind] + "/", {"message": "Hello, world!"})
    assert status == 200 and json.loads(body) == {"message": "Hello, world!"}
    status, _, body = _answer(env[kind] + "/", [1, 2])
    assert status == 200 and json.loads(body) == [1, 2]


@pytest.mark.parametrize("kind", ["rest", "http", "url"])
def test_status_code_may_be_a_numeric_string(env: dict[str, Any], kind: str) -> None:
    # AWS's own "microservice-http-endpoint" blueprint answers statusCode: '400' / '200'
    status, _, body = _answer(env[kind] + "/s", {"statusCode": "201", "body": "made"})
    assert status == 201 and body == b"made"
    status, _, _ = _answer(env[kind] + "/s", {"statusCode": "2o1", "body": "made"})
    assert status in (500, 502)


def test_http_api_permission_source_arn_names_the_route(nimbus_server: Any, env: dict[str, Any]) -> None:
    # the invoke permission is checked against {api}/{stage}/{METHOD}/{route path template}, or
    # {api}/{stage}/$default for the $default route: what Terraform and SAM grant
    lam, v2 = nimbus_server.client("lambda"), nimbus_server.client("apigatewayv2")
    arn = _create_function(lam, "scoped", MIRROR)
    api = v2.create_api(Name="scoped", ProtocolType="HTTP")
    integ = v2.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=arn, PayloadFormatVersion="2.0")
    for key in ("GET /pets/{petId}", "$default"):
        v2.create_route(ApiId=api["ApiId"], RouteKey=key, Target=f"integrations/{integ['IntegrationId']}")
    v2.create_stage(ApiId=api["ApiId"], StageName="live", AutoDeploy=True)
    execution_arn = f"arn:aws:execute-api:us-east-1:000000000000:{api['ApiId']}"
    base = f"{nimbus_server.endpoint}/_aws/execute-api/{api['ApiId']}/live"
    assert call(base + "/pets/7")[0] == 500  # no permission yet
    lam.add_permission(FunctionName="scoped", StatementId="pets", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com", SourceArn=f"{execution_arn}/*/*/pets/{{petId}}")
    status, _, body = call(base + "/pets/7")
    assert status == 200 and json.loads(body)["pathParameters"] == {"petId": "7"}
    assert call(base + "/other")[0] == 500
    lam.add_permission(FunctionName="scoped", StatementId="default", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com", SourceArn=f"{execution_arn}/*/$default")
    status, _, body = call(base + "/other")
    assert status == 200 and json.loads(body)["routeKey"] == "$default"

"""Patch-operation updates of REST API records (resources, integrations, method and integration
responses, deployments) and TestInvokeMethod (the console's Test button), on a real server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.gateway.test_authorizers import _permit, _uri
from tests.integration.gateway.test_gateway import ECHO, _create_function, call


@pytest.fixture(scope="module")
def env(nimbus_server: Any) -> dict[str, Any]:
    lam = nimbus_server.client("lambda")
    return {"server": nimbus_server, "lambda": lam, "apigw": nimbus_server.client("apigateway"),
            "echo": _create_function(lam, "upd-echo", ECHO)}


def test_update_resource_integration_responses_deployment(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    api = apigw.create_rest_api(name="upd")
    api_id, root = api["id"], api["rootResourceId"]
    a = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="a")
    child = apigw.create_resource(restApiId=api_id, parentId=a["id"], pathPart="{id}")
    b = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="b")
    # rename, then move under /b: the child's path follows
    out = apigw.update_resource(restApiId=api_id, resourceId=a["id"], patchOperations=[{"op": "replace", "path": "/pathPart", "value": "items"}])
    assert out["path"] == "/items"
    assert apigw.get_resource(restApiId=api_id, resourceId=child["id"])["path"] == "/items/{id}"
    apigw.update_resource(restApiId=api_id, resourceId=a["id"], patchOperations=[{"op": "replace", "path": "/parentId", "value": b["id"]}])
    assert apigw.get_resource(restApiId=api_id, resourceId=child["id"])["path"] == "/b/items/{id}"
    for ops, code in (([{"op": "replace", "path": "/parentId", "value": child["id"]}], "BadRequestException"),
                      ([{"op": "replace", "path": "/pathPart", "value": "items"}], None)):
        if code:
            with pytest.raises(ClientError) as e:
                apigw.update_resource(restApiId=api_id, resourceId=a["id"], patchOperations=ops)
            assert e.value.response["Error"]["Code"] == code
    sibling = apigw.create_resource(restApiId=api_id, parentId=b["id"], pathPart="other")
    with pytest.raises(ClientError) as e:
        apigw.update_resource(restApiId=api_id, resourceId=sibling["id"], patchOperations=[{"op": "replace", "path": "/pathPart", "value": "items"}])
    assert e.value.response["Error"]["Code"] == "ConflictException"

    rid = child["id"]
    apigw.put_method(restApiId=api_id, resourceId=rid, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=rid, httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_method_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200")
    apigw.put_integration_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200",
                                   responseTemplates={"application/json": '{"v": 1}'})
    integ = apigw.update_integration(restApiId=api_id, resourceId=rid, httpMethod="GET", patchOperations=[
        {"op": "replace", "path": "/timeoutInMillis", "value": "5000"},
        {"op": "add", "path": "/requestTemplates/text~1plain", "value": "x"}])
    assert integ["timeoutInMillis"] == 5000 and integ["requestTemplates"]["text/plain"] == "x"
    with pytest.raises(ClientError) as e:
        apigw.update_integration(restApiId=api_id, resourceId=rid, httpMethod="GET", patchOperations=[{"op": "replace", "path": "/nope", "value": "1"}])
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    ir = apigw.update_integration_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200", patchOperations=[
        {"op": "replace", "path": "/responseTemplates/application~1json", "value": '{"v": 2}'}])
    assert ir["responseTemplates"]["application/json"] == '{"v": 2}'
    assert apigw.get_integration_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200")["statusCode"] == "200"
    mr = apigw.update_method_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200", patchOperations=[
        {"op": "add", "path": "/responseParameters/method.response.header.X-A", "value": "true"}])
    assert mr["responseParameters"] == {"method.response.header.X-A": True}
    assert apigw.get_method_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200")["statusCode"] == "200"
    with pytest.raises(ClientError) as e:
        apigw.get_method_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="404")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    # the updated integration response serves after a deployment; the deployment's description is patched
    dep = apigw.create_deployment(restApiId=api_id, stageName="s", description="one")
    status, _, body = call(f"{env['server'].endpoint}/_aws/execute-api/{api_id}/s/b/items/1")
    assert status == 200 and json.loads(body) == {"v": 2}
    out = apigw.update_deployment(restApiId=api_id, deploymentId=dep["id"], patchOperations=[{"op": "replace", "path": "/description", "value": "two"}])
    assert out["description"] == "two" and apigw.get_deployment(restApiId=api_id, deploymentId=dep["id"])["description"] == "two"
    apigw.delete_integration_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200")
    apigw.delete_method_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200")
    with pytest.raises(ClientError):
        apigw.get_integration_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200")


def test_test_invoke_method(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    api = apigw.create_rest_api(name="tim")
    api_id, root = api["id"], api["rootResourceId"]
    res = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="{name}")
    apigw.put_method(restApiId=api_id, resourceId=res["id"], httpMethod="POST", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=res["id"], httpMethod="POST", type="AWS_PROXY",
                          integrationHttpMethod="POST", uri=_uri(env["echo"]))
    _permit(env, "upd-echo", api_id)
    # no deployment needed
    out = apigw.test_invoke_method(restApiId=api_id, resourceId=res["id"], httpMethod="POST", pathWithQueryString="/zed?x=1",
                                   body='{"k": 1}', headers={"X-T": "y"}, stageVariables={"v": "1"})
    assert out["status"] == 200 and out["headers"]["Content-Type"] == "application/json"
    ev = json.loads(out["body"])
    assert ev["pathParameters"] == {"name": "zed"} and ev["queryStringParameters"] == {"x": "1"} and ev["body"] == '{"k": 1}'
    assert ev["headers"]["X-T"] == "y" and ev["stageVariables"] == {"v": "1"} and ev["requestContext"]["stage"] == "test-invoke-stage"
    assert "Method completed with status: 200" in out["log"] and isinstance(out["latency"], int)
    out = apigw.test_invoke_method(restApiId=api_id, resourceId=res["id"], httpMethod="POST", pathWithQueryString="/zed?mode=raise")
    assert out["status"] == 502 and json.loads(out["body"]) == {"message": "Internal server error"}
    with pytest.raises(ClientError) as e:
        apigw.test_invoke_method(restApiId=api_id, resourceId=res["id"], httpMethod="GET")
    assert e.value.response["Error"]["Code"] == "NotFoundException"

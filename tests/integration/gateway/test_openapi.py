"""OpenAPI in and out of REST APIs: ImportRestApi (OpenAPI 3 YAML, Swagger 2 JSON) with Lambda proxy
integrations and a Lambda authorizer from securitySchemes, served over plain HTTP; PutRestApi merge and
overwrite; GetExport of a stage."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.gateway.test_authorizers import AUTHORIZER, _permit, _uri
from tests.integration.gateway.test_gateway import ECHO, _create_function, call


@pytest.fixture(scope="module")
def env(nimbus_server: Any) -> dict[str, Any]:
    lam = nimbus_server.client("lambda")
    return {
        "server": nimbus_server,
        "lambda": lam,
        "apigw": nimbus_server.client("apigateway"),
        "echo": _create_function(lam, "oas-echo", ECHO),
        "authorizer": _create_function(lam, "oas-authz", AUTHORIZER),
    }


def _oas3_yaml(env: dict[str, Any]) -> str:
    return f"""
openapi: 3.0.1
info:
  title: pets
  version: "1.0"
paths:
  /pets:
    get:
      operationId: listPets
      parameters:
        - name: limit
          in: query
      responses:
        "200":
          description: ok
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: {_uri(env['echo'])}
  /pets/{{petId}}:
    x-amazon-apigateway-any-method:
      security:
        - tokenAuth: []
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: {_uri(env['echo'])}
components:
  securitySchemes:
    tokenAuth:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: {_uri(env['authorizer'])}
        authorizerResultTtlInSeconds: 0
"""


def test_import_oas3_yaml_serves_with_authorizer_and_exports(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    api = apigw.import_rest_api(body=_oas3_yaml(env).encode())
    api_id = api["id"]
    assert api["name"] == "pets" and api["version"] == "1.0"
    res = {r["path"]: r for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert set(res) == {"/", "/pets", "/pets/{petId}"}
    get = apigw.get_method(restApiId=api_id, resourceId=res["/pets"]["id"], httpMethod="GET")
    assert get["operationName"] == "listPets" and get["requestParameters"] == {"method.request.querystring.limit": False}
    assert get["methodIntegration"]["type"] == "AWS_PROXY" and get["methodResponses"]["200"]["statusCode"] == "200"
    anym = apigw.get_method(restApiId=api_id, resourceId=res["/pets/{petId}"]["id"], httpMethod="ANY")
    auths = apigw.get_authorizers(restApiId=api_id)["items"]
    assert anym["authorizationType"] == "CUSTOM" and anym["authorizerId"] == auths[0]["id"]
    assert auths[0]["name"] == "tokenAuth" and auths[0]["identitySource"] == "method.request.header.Authorization"
    apigw.create_deployment(restApiId=api_id, stageName="v1")
    _permit(env, "oas-echo", api_id)
    _permit(env, "oas-authz", api_id)
    base = f"{env['server'].endpoint}/_aws/execute-api/{api_id}/v1"
    status, _, body = call(base + "/pets?limit=2")
    assert status == 200 and json.loads(body)["queryStringParameters"] == {"limit": "2"}
    assert call(base + "/pets/7", method="DELETE")[0] == 401
    status, _, body = call(base + "/pets/7", method="DELETE", headers={"Authorization": "gina"})
    ev = json.loads(body)
    assert status == 200 and ev["pathParameters"] == {"petId": "7"} and ev["requestContext"]["authorizer"]["principalId"] == "user-gina"
    # export: without extensions a plain document; with them, integrations and the authorizer come back
    plain = json.loads(apigw.get_export(restApiId=api_id, stageName="v1", exportType="oas30")["body"].read())
    assert plain["openapi"].startswith("3.0") and set(plain["paths"]) == {"/pets", "/pets/{petId}"}
    assert "x-amazon-apigateway-integration" not in plain["paths"]["/pets"]["get"]
    out = apigw.get_export(restApiId=api_id, stageName="v1", exportType="oas30", parameters={"extensions": "integrations"},
                           accepts="application/json")
    assert out["contentType"] == "application/json"
    doc = json.loads(out["body"].read())
    assert doc["paths"]["/pets"]["get"]["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
    assert doc["paths"]["/pets/{petId}"]["x-amazon-apigateway-any-method"]["security"] == [{"tokenAuth": []}]
    assert doc["components"]["securitySchemes"]["tokenAuth"]["x-amazon-apigateway-authorizer"]["type"] == "token"
    # the export imports back into an API that serves the same way
    again = apigw.import_rest_api(body=json.dumps(doc).encode())
    assert {r["path"] for r in apigw.get_resources(restApiId=again["id"])["items"]} == {"/", "/pets", "/pets/{petId}"}
    swagger = json.loads(apigw.get_export(restApiId=api_id, stageName="v1", exportType="swagger")["body"].read())
    assert swagger["swagger"] == "2.0" and swagger["basePath"] == "/v1"


def test_put_rest_api_merge_overwrite_and_refusals(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    swagger = {"swagger": "2.0", "info": {"title": "svc", "version": "1"}, "paths": {"/a": {"get": {
        "responses": {"200": {"description": "ok"}},
        "x-amazon-apigateway-integration": {"type": "mock", "requestTemplates": {"application/json": '{"statusCode": 200}'},
                                            "responses": {"default": {"statusCode": "200",
                                                                      "responseTemplates": {"application/json": '{"a": 1}'}}}}}}}}
    api_id = apigw.import_rest_api(body=json.dumps(swagger).encode())["id"]
    b_doc = {"swagger": "2.0", "info": {"title": "svc", "version": "2"}, "paths": {"/b": {"post": {
        "x-amazon-apigateway-integration": {"type": "aws_proxy", "httpMethod": "POST", "uri": _uri(env["echo"])}}}}}
    apigw.put_rest_api(restApiId=api_id, mode="merge", body=json.dumps(b_doc).encode())
    assert {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]} == {"/", "/a", "/b"}
    apigw.put_rest_api(restApiId=api_id, mode="overwrite", body=json.dumps(b_doc).encode())
    assert {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]} == {"/", "/b"}
    assert apigw.get_rest_api(restApiId=api_id)["version"] == "2"
    apigw.create_deployment(restApiId=api_id, stageName="s")
    _permit(env, "oas-echo", api_id)
    status, _, body = call(f"{env['server'].endpoint}/_aws/execute-api/{api_id}/s/b", method="POST", body=b"hi")
    assert status == 200 and json.loads(body)["body"] == "hi"
    # refusals leave nothing behind / the API unchanged
    before = len(apigw.get_rest_apis()["items"])
    for bad in (b"{not json or yaml: [", b'{"openapi": "1.0", "paths": {}}', b'{"swagger": "2.0", "info": {}, "paths": {}}'):
        with pytest.raises(ClientError) as e:
            apigw.import_rest_api(body=bad)
        assert e.value.response["Error"]["Code"] == "BadRequestException"
    broken = {"swagger": "2.0", "info": {"title": "svc"}, "paths": {"/c": {"get": {
        "x-amazon-apigateway-integration": {"type": "aws_proxy"}}}}}  # no uri
    with pytest.raises(ClientError):
        apigw.put_rest_api(restApiId=api_id, mode="overwrite", body=json.dumps(broken).encode())
    assert len(apigw.get_rest_apis()["items"]) == before
    assert {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]} == {"/", "/b"}
    warned = apigw.import_rest_api(body=json.dumps({"swagger": "2.0", "info": {"title": "w"}, "paths": {"/x": {"get": {}}}}).encode())
    assert warned["warnings"] and "integration" in warned["warnings"][0]
    with pytest.raises(ClientError):
        apigw.import_rest_api(failOnWarnings=True, body=json.dumps({"swagger": "2.0", "info": {"title": "w"}, "paths": {"/x": {"get": {}}}}).encode())


def test_http_api_import_and_reimport(env: dict[str, Any]) -> None:
    v2 = env["server"].client("apigatewayv2")
    spec = {
        "openapi": "3.0.1", "info": {"title": "http-pets", "version": "1"},
        "x-amazon-apigateway-cors": {"allowOrigins": ["https://example.com"], "allowMethods": ["GET"]},
        "paths": {
            "/pets/{id}": {"get": {"security": [{"lambdaAuth": []}], "x-amazon-apigateway-integration": {
                "type": "aws_proxy", "httpMethod": "POST", "uri": env["echo"], "payloadFormatVersion": "2.0"}}},
            "/open": {"x-amazon-apigateway-any-method": {"x-amazon-apigateway-integration": {
                "type": "aws_proxy", "httpMethod": "POST", "uri": env["echo"], "payloadFormatVersion": "2.0"}}},
        },
        "components": {"securitySchemes": {"lambdaAuth": {"type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authorizer": {"type": "request", "identitySource": "$request.header.Authorization",
                                               "authorizerUri": _uri(env["authorizer"]), "authorizerPayloadFormatVersion": "2.0",
                                               "enableSimpleResponses": True}}}},
    }
    api = v2.import_api(Body=json.dumps(spec))
    api_id = api["ApiId"]
    assert api["Name"] == "http-pets" and api["CorsConfiguration"]["AllowOrigins"] == ["https://example.com"]
    routes = {r["RouteKey"]: r for r in v2.get_routes(ApiId=api_id)["Items"]}
    assert set(routes) == {"GET /pets/{id}", "ANY /open"} and routes["GET /pets/{id}"]["AuthorizationType"] == "CUSTOM"
    assert len(v2.get_integrations(ApiId=api_id)["Items"]) == 1  # the same integration shared
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    _permit(env, "oas-echo", api_id)
    _permit(env, "oas-authz", api_id)
    base = f"{env['server'].endpoint}/_aws/execute-api/{api_id}"
    assert call(base + "/pets/1")[0] == 401
    assert call(base + "/pets/1", headers={"Authorization": "no"})[0] == 403
    status, _, body = call(base + "/pets/1", headers={"Authorization": "yes"})
    assert status == 200 and json.loads(body)["requestContext"]["authorizer"]["lambda"]["user"] == "yes"
    # reimport replaces routes, integrations and authorizers; the auto-deploying stage serves the new ones
    spec["paths"] = {"/v2": {"get": {"x-amazon-apigateway-integration": {"type": "aws_proxy", "uri": env["echo"]}}}}
    del spec["components"]
    v2.reimport_api(ApiId=api_id, Body=json.dumps(spec))
    assert [r["RouteKey"] for r in v2.get_routes(ApiId=api_id)["Items"]] == ["GET /v2"]
    assert v2.get_authorizers(ApiId=api_id)["Items"] == []
    assert call(base + "/v2")[0] == 200 and call(base + "/open")[0] == 404
    with pytest.raises(ClientError) as e:
        v2.import_api(Body=json.dumps({"swagger": "2.0", "info": {"title": "x"}, "paths": {}}))
    assert e.value.response["Error"]["Code"] == "BadRequestException"

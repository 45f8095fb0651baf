"""Models and request validators of REST APIs on a real server: the control plane (CreateModel &
co., the default Empty and Error models, GetModelTemplate, CreateRequestValidator & co.) and their
effect on the data plane (a request missing a required parameter, or whose body does not match the
method's model, is refused with AWS's 400 before the integration runs)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.gateway.test_gateway import call

PET_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "required": ["name", "kind"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 10, "pattern": "^[a-z]+$"},
        "kind": {"type": "string", "enum": ["cat", "dog"]},
        "age": {"type": "integer", "minimum": 0, "maximum": 30},
        "tags": {"type": "array", "items": {"type": "string"}},
        "owner": {"$ref": "https://apigateway.amazonaws.com/restapis/API/models/Owner"},
    },
}


@pytest.fixture(scope="module")
def env(nimbus_server: Any) -> dict[str, Any]:
    return {"server": nimbus_server, "apigw": nimbus_server.client("apigateway")}


def _code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def test_models_control_plane(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    api_id = apigw.create_rest_api(name="models")["id"]
    # a new API has AWS's two default models
    names = {m["name"]: m for m in apigw.get_models(restApiId=api_id)["items"]}
    assert set(names) == {"Empty", "Error"}
    assert names["Error"]["contentType"] == "application/json" and json.loads(names["Error"]["schema"])["title"] == "Error Schema"
    model = apigw.create_model(restApiId=api_id, name="Pet", contentType="application/json", description="a pet",
                               schema=json.dumps(PET_SCHEMA).replace("/API/", f"/{api_id}/"))
    assert model["name"] == "Pet" and model["id"] and model["description"] == "a pet"
    assert apigw.get_model(restApiId=api_id, modelName="Pet")["id"] == model["id"]
    for kwargs, code in (({"name": "Pet"}, "ConflictException"), ({"name": "not-alnum"}, "BadRequestException"),
                         ({"name": "Bad", "schema": "{not json"}, "BadRequestException")):
        with pytest.raises(ClientError) as e:
            apigw.create_model(restApiId=api_id, contentType="application/json", **{"schema": "{}", **kwargs})
        assert _code(e) == code
    with pytest.raises(ClientError) as e:
        apigw.get_model(restApiId=api_id, modelName="Nope")
    assert _code(e) == "NotFoundException"
    with pytest.raises(ClientError) as e:
        apigw.create_model(restApiId="nope", name="X", contentType="application/json")
    assert _code(e) == "NotFoundException"
    out = apigw.update_model(restApiId=api_id, modelName="Pet", patchOperations=[
        {"op": "replace", "path": "/description", "value": "changed"}])
    assert out["description"] == "changed"
    with pytest.raises(ClientError) as e:
        apigw.update_model(restApiId=api_id, modelName="Pet", patchOperations=[{"op": "replace", "path": "/schema", "value": "[1"}])
    assert _code(e) == "BadRequestException"
    apigw.create_model(restApiId=api_id, name="Owner", contentType="application/json",
                       schema=json.dumps({"type": "object", "properties": {"email": {"type": "string"}}}))
    flat = json.loads(apigw.get_model(restApiId=api_id, modelName="Pet", flatten=True)["schema"])
    assert flat["properties"]["owner"] == {"type": "object", "properties": {"email": {"type": "string"}}}
    assert "$ref" in json.loads(apigw.get_model(restApiId=api_id, modelName="Pet")["schema"])["properties"]["owner"]
    template = apigw.get_model_template(restApiId=api_id, modelName="Pet")["value"]
    assert template.startswith("#set($inputRoot = $input.path('$'))") and '"name" : "foo"' in template and '"age" : 42' in template
    # a model a method uses cannot be deleted (ConflictException), as AWS
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="POST", authorizationType="NONE",
                     requestModels={"application/json": "Pet"})
    with pytest.raises(ClientError) as e:
        apigw.delete_model(restApiId=api_id, modelName="Pet")
    assert _code(e) == "ConflictException"
    with pytest.raises(ClientError) as e:  # a method may only name models the API has
        apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="PUT", authorizationType="NONE",
                         requestModels={"application/json": "Ghost"})
    assert _code(e) == "BadRequestException"
    apigw.update_method(restApiId=api_id, resourceId=root, httpMethod="POST", patchOperations=[
        {"op": "remove", "path": "/requestModels/application~1json"}])
    apigw.delete_model(restApiId=api_id, modelName="Pet")
    assert {m["name"] for m in apigw.get_models(restApiId=api_id)["items"]} == {"Empty", "Error", "Owner"}


def test_request_validators_control_plane(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    api_id = apigw.create_rest_api(name="validators")["id"]
    v = apigw.create_request_validator(restApiId=api_id, name="params", validateRequestParameters=True)
    assert v["validateRequestParameters"] is True and v["validateRequestBody"] is False and v["id"]
    assert apigw.get_request_validator(restApiId=api_id, requestValidatorId=v["id"])["name"] == "params"
    out = apigw.update_request_validator(restApiId=api_id, requestValidatorId=v["id"], patchOperations=[
        {"op": "replace", "path": "/validateRequestBody", "value": "true"}, {"op": "replace", "path": "/name", "value": "all"}])
    assert out["validateRequestBody"] is True and out["name"] == "all"
    assert [x["id"] for x in apigw.get_request_validators(restApiId=api_id)["items"]] == [v["id"]]
    with pytest.raises(ClientError) as e:
        apigw.update_request_validator(restApiId=api_id, requestValidatorId=v["id"], patchOperations=[{"op": "replace", "path": "/x", "value": "1"}])
    assert _code(e) == "BadRequestException"
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    with pytest.raises(ClientError) as e:
        apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE", requestValidatorId="nope")
    assert _code(e) == "BadRequestException"
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE", requestValidatorId=v["id"])
    with pytest.raises(ClientError) as e:
        apigw.delete_request_validator(restApiId=api_id, requestValidatorId=v["id"])
    assert _code(e) == "ConflictException"
    apigw.update_method(restApiId=api_id, resourceId=root, httpMethod="GET", patchOperations=[
        {"op": "remove", "path": "/requestValidatorId"}])
    apigw.delete_request_validator(restApiId=api_id, requestValidatorId=v["id"])
    with pytest.raises(ClientError) as e:
        apigw.get_request_validator(restApiId=api_id, requestValidatorId=v["id"])
    assert _code(e) == "NotFoundException"


def _validated_api(apigw: Any) -> tuple[str, str]:
    """POST /pets/{id} with a body model and required query/header; deployed to "v"."""
    api_id = apigw.create_rest_api(name="validated")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    pets = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="pets")
    pet = apigw.create_resource(restApiId=api_id, parentId=pets["id"], pathPart="{id}")
    apigw.create_model(restApiId=api_id, name="Owner", contentType="application/json",
                       schema=json.dumps({"type": "object", "required": ["email"], "properties": {"email": {"type": "string"}}}))
    apigw.create_model(restApiId=api_id, name="Pet", contentType="application/json",
                       schema=json.dumps(PET_SCHEMA).replace("/API/", f"/{api_id}/"))
    both = apigw.create_request_validator(restApiId=api_id, name="both", validateRequestBody=True, validateRequestParameters=True)
    apigw.put_method(restApiId=api_id, resourceId=pet["id"], httpMethod="POST", authorizationType="NONE",
                     requestValidatorId=both["id"], requestModels={"application/json": "Pet"},
                     requestParameters={"method.request.querystring.mode": True, "method.request.header.X-Trace": True,
                                        "method.request.path.id": True, "method.request.querystring.optional": False})
    apigw.put_integration(restApiId=api_id, resourceId=pet["id"], httpMethod="POST", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=pet["id"], httpMethod="POST", statusCode="200",
                                   responseTemplates={"application/json": '{"ok": true}'})
    apigw.create_deployment(restApiId=api_id, stageName="v")
    return api_id, f"{both['id']}"


GOOD = {"name": "rex", "kind": "dog", "age": 3, "tags": ["a"], "owner": {"email": "a@b"}}


def test_validator_refuses_missing_parameters_and_bad_bodies(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    api_id, _ = _validated_api(apigw)
    url = f"{env['server'].endpoint}/_aws/execute-api/{api_id}/v/pets/7"
    ok_headers = {"Content-Type": "application/json", "X-Trace": "t"}
    status, _, body = call(url + "?mode=a", method="POST", body=json.dumps(GOOD).encode(), headers=ok_headers)
    assert status == 200 and json.loads(body) == {"ok": True}
    # missing required parameters: AWS's message names them, 400 BadRequestException
    status, headers, body = call(url, method="POST", body=json.dumps(GOOD).encode(), headers={"Content-Type": "application/json"})
    assert status == 400 and json.loads(body) == {"message": "Missing required request parameters: [mode, X-Trace]"}
    assert headers["x-amzn-errortype"] == "BadRequestException"
    status, _, body = call(url, method="POST", body=json.dumps(GOOD).encode(), headers=ok_headers)
    assert status == 400 and json.loads(body) == {"message": "Missing required request parameters: [mode]"}
    # present but blank counts as missing, as AWS documents ("included and not blank")
    status, _, body = call(url + "?mode=", method="POST", body=json.dumps(GOOD).encode(), headers={**ok_headers, "X-Trace": " "})
    assert status == 400 and json.loads(body) == {"message": "Missing required request parameters: [mode, X-Trace]"}
    # TestInvokeMethod validates as the stage does
    pet = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/pets/{id}")
    out = apigw.test_invoke_method(restApiId=api_id, resourceId=pet["id"], httpMethod="POST", pathWithQueryString="/pets/7",
                                   body=json.dumps(GOOD), headers={"Content-Type": "application/json"})
    assert out["status"] == 400 and json.loads(out["body"]) == {"message": "Missing required request parameters: [mode, X-Trace]"}
    assert "Request validation failed" in out["log"]
    out = apigw.test_invoke_method(restApiId=api_id, resourceId=pet["id"], httpMethod="POST", pathWithQueryString="/pets/7?mode=a",
                                   body=json.dumps(GOOD), headers=ok_headers)
    assert out["status"] == 200
    # bodies that do not match the model (or are not JSON)
    bad_bodies = [b"not json", {"name": "rex"}, {**GOOD, "kind": "cow"}, {**GOOD, "age": -1}, {**GOOD, "age": 1.5},
                  {**GOOD, "name": "REX"}, {**GOOD, "name": "abcdefghijkl"}, {**GOOD, "tags": [1]}, {**GOOD, "owner": {}},
                  [GOOD]]
    for bad in bad_bodies:
        data = bad if isinstance(bad, bytes) else json.dumps(bad).encode()
        status, headers, body = call(url + "?mode=a", method="POST", body=data, headers=ok_headers)
        assert (status, json.loads(body)) == (400, {"message": "Invalid request body"}), bad
        assert headers["x-amzn-errortype"] == "BadRequestException"
    # a content type the method has no model for is not checked
    status, _, _ = call(url + "?mode=a", method="POST", body=b"plain", headers={"Content-Type": "text/plain", "X-Trace": "t"})
    assert status == 200


def test_validator_changes_serve_after_redeployment_and_survive_restart(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    api_id, validator_id = _validated_api(apigw)
    url = f"{env['server'].endpoint}/_aws/execute-api/{api_id}/v/pets/7"
    apigw.update_request_validator(restApiId=api_id, requestValidatorId=validator_id, patchOperations=[
        {"op": "replace", "path": "/validateRequestParameters", "value": "false"}])
    status, _, _ = call(url, method="POST", body=json.dumps(GOOD).encode(), headers={"Content-Type": "application/json"})
    assert status == 400  # the deployment still has the old validator, as AWS
    apigw.create_deployment(restApiId=api_id, stageName="v")
    status, _, _ = call(url, method="POST", body=json.dumps(GOOD).encode(), headers={"Content-Type": "application/json"})
    assert status == 200
    env["server"].restart()
    apigw = env["server"].client("apigateway")
    assert {m["name"] for m in apigw.get_models(restApiId=api_id)["items"]} == {"Empty", "Error", "Owner", "Pet"}
    assert apigw.get_request_validator(restApiId=api_id, requestValidatorId=validator_id)["validateRequestParameters"] is False
    status, _, body = call(url, method="POST", body=b'{"name": "rex"}', headers={"Content-Type": "application/json"})
    assert status == 400 and json.loads(body) == {"message": "Invalid request body"}


def test_openapi_import_brings_models_validators_and_gateway_responses(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    mock = {"type": "mock", "requestTemplates": {"application/json": '{"statusCode": 200}'},
            "responses": {"default": {"statusCode": "200", "responseTemplates": {"application/json": '{"ok": true}'}}}}
    swagger = {
        "swagger": "2.0", "info": {"title": "imported", "version": "1"},
        "x-amazon-apigateway-request-validators": {"all": {"validateRequestBody": True, "validateRequestParameters": True},
                                                   "none": {"validateRequestBody": False, "validateRequestParameters": False}},
        "x-amazon-apigateway-request-validator": "all",
        "x-amazon-apigateway-gateway-responses": {
            "BAD_REQUEST_BODY": {"statusCode": 422, "responseTemplates": {"application/json": '{"why": "$context.error.message"}'}}},
        "definitions": {"Owner": {"type": "object", "required": ["email"], "properties": {"email": {"type": "string"}}},
                        "Pet": {"type": "object", "required": ["name"],
                                "properties": {"name": {"type": "string"}, "owner": {"$ref": "#/definitions/Owner"}}}},
        "paths": {
            "/pets": {"post": {"consumes": ["application/json"],
                               "parameters": [{"in": "body", "name": "pet", "required": True, "schema": {"$ref": "#/definitions/Pet"}}],
                               "x-amazon-apigateway-integration": mock},
                      "get": {"parameters": [{"in": "query", "name": "limit", "required": True, "type": "string"}],
                              "x-amazon-apigateway-request-validator": "none", "x-amazon-apigateway-integration": mock}},
        },
    }
    api_id = apigw.import_rest_api(body=json.dumps(swagger).encode())["id"]
    models = {m["name"]: m for m in apigw.get_models(restApiId=api_id)["items"]}
    assert set(models) >= {"Empty", "Error", "Pet", "Owner"}
    assert json.loads(models["Pet"]["schema"])["properties"]["owner"]["$ref"] == \
        f"https://apigateway.amazonaws.com/restapis/{api_id}/models/Owner"
    validators = {v["name"]: v for v in apigw.get_request_validators(restApiId=api_id)["items"]}
    assert validators["all"]["validateRequestBody"] is True and validators["none"]["validateRequestParameters"] is False
    assert apigw.get_gateway_response(restApiId=api_id, responseType="BAD_REQUEST_BODY")["statusCode"] == "422"
    pets = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/pets")
    post = apigw.get_method(restApiId=api_id, resourceId=pets["id"], httpMethod="POST")
    assert post["requestModels"] == {"application/json": "Pet"} and post["requestValidatorId"] == validators["all"]["id"]
    apigw.create_deployment(restApiId=api_id, stageName="v")
    url = f"{env['server'].endpoint}/_aws/execute-api/{api_id}/v/pets"
    headers = {"Content-Type": "application/json"}
    assert call(url, method="POST", body=b'{"name": "rex", "owner": {"email": "e"}}', headers=headers)[0] == 200
    status, _, body = call(url, method="POST", body=b'{"name": "rex", "owner": {}}', headers=headers)
    assert (status, json.loads(body)) == (422, {"why": "Invalid request body"})
    assert call(url)[0] == 200  # GET uses the "none" validator: its required query string is not checked
    # OpenAPI 3: components.schemas and requestBody
    oas3 = {"openapi": "3.0.1", "info": {"title": "oas3", "version": "1"},
            "x-amazon-apigateway-request-validators": {"body": {"validateRequestBody": True}},
            "components": {"schemas": {"Item": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}}},
            "paths": {"/items": {"put": {"x-amazon-apigateway-request-validator": "body",
                                         "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
                                         "x-amazon-apigateway-integration": mock}}}}
    api3 = apigw.import_rest_api(body=json.dumps(oas3).encode())["id"]
    apigw.create_deployment(restApiId=api3, stageName="v")
    url3 = f"{env['server'].endpoint}/_aws/execute-api/{api3}/v/items"
    assert call(url3, method="PUT", body=b'{"id": 1}', headers=headers)[0] == 200
    status, headers_out, body = call(url3, method="PUT", body=b'{"id": "x"}', headers=headers)
    assert (status, json.loads(body), headers_out["x-amzn-errortype"]) == (400, {"message": "Invalid request body"}, "BadRequestException")


def test_export_writes_models_validators_and_gateway_responses_back(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    api_id, validator_id = _validated_api(apigw)
    apigw.put_gateway_response(restApiId=api_id, responseType="BAD_REQUEST_BODY", statusCode="422")
    apigw.create_deployment(restApiId=api_id, stageName="v")
    for kind in ("swagger", "oas30"):
        doc = json.loads(apigw.get_export(restApiId=api_id, stageName="v", exportType=kind,
                                          parameters={"extensions": "apigateway"})["body"].read())
        schemas = doc["definitions"] if kind == "swagger" else doc["components"]["schemas"]
        prefix = "#/definitions/" if kind == "swagger" else "#/components/schemas/"
        assert set(schemas) == {"Owner", "Pet"} and schemas["Pet"]["properties"]["owner"]["$ref"] == prefix + "Owner"
        op = doc["paths"]["/pets/{id}"]["post"]
        assert op["x-amazon-apigateway-request-validator"] == "both"
        assert doc["x-amazon-apigateway-request-validators"]["both"] == {"validateRequestBody": True, "validateRequestParameters": True}
        assert doc["x-amazon-apigateway-gateway-responses"]["BAD_REQUEST_BODY"]["statusCode"] == "422"
        # the export imports back into an API that validates the same way
        copy_id = apigw.import_rest_api(body=json.dumps(doc).encode())["id"]
        pets = next(r for r in apigw.get_resources(restApiId=copy_id)["items"] if r["path"] == "/pets/{id}")
        method = apigw.get_method(restApiId=copy_id, resourceId=pets["id"], httpMethod="POST")
        assert method["requestModels"] == {"application/json": "Pet"} and method["requestValidatorId"]
        assert {m["name"] for m in apigw.get_models(restApiId=copy_id)["items"]} >= {"Owner", "Pet"}

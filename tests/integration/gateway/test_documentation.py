"""REST API documentation parts and versions (recorded only) on a real server: boto3 and the AWS CLI,
bad input refused without storing anything, ImportDocumentationParts (merge, overwrite), and a kill -9."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def env(nimbus_server: Any) -> dict[str, Any]:
    return {"server": nimbus_server, "apigw": nimbus_server.client("apigateway")}


def _code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return str(e.value.response["Error"]["Code"])


def _api(apigw: Any) -> tuple[str, str]:
    api = apigw.create_rest_api(name="documented")
    pets = apigw.create_resource(restApiId=api["id"], parentId=api["rootResourceId"], pathPart="pets")
    apigw.put_method(restApiId=api["id"], resourceId=pets["id"], httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api["id"], resourceId=pets["id"], httpMethod="GET", type="MOCK")
    return str(api["id"]), str(pets["id"])


def test_documentation_parts(env: dict[str, Any], tmp_path: Path) -> None:
    apigw, server = env["apigw"], env["server"]
    api_id, _ = _api(apigw)
    whole = apigw.create_documentation_part(restApiId=api_id, location={"type": "API"}, properties='{"info": {"description": "Pets"}}')
    assert whole["location"] == {"type": "API"} and json.loads(whole["properties"]) == {"info": {"description": "Pets"}}
    method = apigw.create_documentation_part(restApiId=api_id, location={"type": "METHOD", "path": "/pets", "method": "get"},
                                             properties='{"summary": "List pets"}')
    assert method["location"] == {"type": "METHOD", "path": "/pets", "method": "GET"}
    resp = apigw.create_documentation_part(restApiId=api_id, location={"type": "RESPONSE", "path": "/pets"},
                                           properties='{"description": "any response"}')
    assert resp["location"] == {"type": "RESPONSE", "path": "/pets", "method": "*", "statusCode": "*"}
    param = apigw.create_documentation_part(restApiId=api_id, location={"type": "QUERY_PARAMETER", "path": "/pets", "name": "limit"},
                                            properties='{"description": "page size"}')
    assert apigw.get_documentation_part(restApiId=api_id, documentationPartId=param["id"])["location"]["name"] == "limit"
    # bad input: nothing stored
    for location, properties, code in (({"type": "API"}, '{"a": 1}', "ConflictException"),
                                       ({"type": "METHOD", "path": "/pets", "method": "GET"}, "{}", "ConflictException"),
                                       ({"type": "NOPE"}, "{}", "BadRequestException"),
                                       ({"type": "API", "path": "/x"}, "{}", "BadRequestException"),
                                       ({"type": "MODEL"}, "{}", "BadRequestException"),
                                       ({"type": "RESOURCE", "path": "pets"}, "{}", "BadRequestException"),
                                       ({"type": "RESPONSE", "path": "/pets", "statusCode": "abc"}, "{}", "BadRequestException"),
                                       ({"type": "RESOURCE", "path": "/other"}, "not json", "BadRequestException"),
                                       ({"type": "RESOURCE", "path": "/other"}, "[1]", "BadRequestException")):
        assert _code(apigw.create_documentation_part, restApiId=api_id, location=location, properties=properties) == code, location
    assert _code(apigw.create_documentation_part, restApiId="nope", location={"type": "API"}, properties="{}") == "NotFoundException"
    assert len(apigw.get_documentation_parts(restApiId=api_id)["items"]) == 4
    # filters
    assert [p["id"] for p in apigw.get_documentation_parts(restApiId=api_id, type="METHOD")["items"]] == [method["id"]]
    assert [p["id"] for p in apigw.get_documentation_parts(restApiId=api_id, nameQuery="lim")["items"]] == [param["id"]]
    assert len(apigw.get_documentation_parts(restApiId=api_id, path="/pets")["items"]) == 3
    undocumented = apigw.get_documentation_parts(restApiId=api_id, locationStatus="UNDOCUMENTED")["items"]
    assert {"type": "RESOURCE", "path": "/pets"} in [p["location"] for p in undocumented]
    assert {"type": "API"} not in [p["location"] for p in undocumented] and all("id" not in p for p in undocumented)
    # update, delete
    out = apigw.update_documentation_part(restApiId=api_id, documentationPartId=method["id"],
                                          patchOperations=[{"op": "replace", "path": "/properties", "value": '{"summary": "All pets"}'}])
    assert json.loads(out["properties"]) == {"summary": "All pets"}
    assert _code(apigw.update_documentation_part, restApiId=api_id, documentationPartId=method["id"],
                 patchOperations=[{"op": "replace", "path": "/location/path", "value": "/x"}]) == "BadRequestException"
    assert _code(apigw.update_documentation_part, restApiId=api_id, documentationPartId=method["id"],
                 patchOperations=[{"op": "replace", "path": "/properties", "value": "nope"}]) == "BadRequestException"
    apigw.delete_documentation_part(restApiId=api_id, documentationPartId=resp["id"])
    assert _code(apigw.get_documentation_part, restApiId=api_id, documentationPartId=resp["id"]) == "NotFoundException"
    assert _code(apigw.delete_documentation_part, restApiId=api_id, documentationPartId=resp["id"]) == "NotFoundException"
    # import: merge replaces same-location properties and adds; a bad part is a warning (or refuses everything)
    doc = {"swagger": "2.0", "info": {"title": "documented", "version": "1"}, "paths": {},
           "x-amazon-apigateway-documentation": {"version": "1", "documentationParts": [
               {"location": {"type": "API"}, "properties": {"info": {"description": "Imported"}}},
               {"location": {"type": "MODEL", "name": "Pet"}, "properties": {"description": "a pet"}},
               {"location": {"type": "WRONG"}, "properties": {}}]}}
    body = json.dumps(doc).encode()
    assert _code(apigw.import_documentation_parts, restApiId=api_id, body=body, failOnWarnings=True) == "BadRequestException"
    assert len(apigw.get_documentation_parts(restApiId=api_id)["items"]) == 3
    out = apigw.import_documentation_parts(restApiId=api_id, body=body)
    assert len(out["ids"]) == 2 and whole["id"] in out["ids"] and len(out["warnings"]) == 1
    assert json.loads(apigw.get_documentation_part(restApiId=api_id, documentationPartId=whole["id"])["properties"]) == \
        {"info": {"description": "Imported"}}
    assert len(apigw.get_documentation_parts(restApiId=api_id)["items"]) == 4
    assert _code(apigw.import_documentation_parts, restApiId=api_id, body=b"{nope") == "BadRequestException"
    # overwrite through the AWS CLI (a YAML file): only the imported parts remain
    path = tmp_path / "doc.yaml"
    path.write_text("openapi: 3.0.1\ninfo: {title: documented, version: '1'}\npaths: {}\n"
                    "x-amazon-apigateway-documentation:\n  version: '2'\n  documentationParts:\n"
                    "    - location: {type: RESOURCE, path: /pets}\n      properties: {description: the pets}\n")
    cli = json.loads(server.aws("apigateway", "import-documentation-parts", "--rest-api-id", api_id, "--mode", "overwrite",
                                "--body", f"fileb://{path}").stdout)
    items = apigw.get_documentation_parts(restApiId=api_id)["items"]
    assert [p["id"] for p in items] == cli["ids"] and items[0]["location"] == {"type": "RESOURCE", "path": "/pets"}


def test_documentation_versions_and_durability(env: dict[str, Any]) -> None:
    apigw, server = env["apigw"], env["server"]
    api_id, _ = _api(apigw)
    part = apigw.create_documentation_part(restApiId=api_id, location={"type": "API"}, properties='{"v": 1}')
    dep = apigw.create_deployment(restApiId=api_id, stageName="prod")
    assert dep["id"]
    v1 = apigw.create_documentation_version(restApiId=api_id, documentationVersion="1.0", stageName="prod", description="first")
    assert v1["version"] == "1.0" and v1["description"] == "first" and v1["createdDate"]
    assert apigw.get_stage(restApiId=api_id, stageName="prod")["documentationVersion"] == "1.0"
    apigw.create_documentation_version(restApiId=api_id, documentationVersion="2.0")
    assert [v["version"] for v in apigw.get_documentation_versions(restApiId=api_id)["items"]] == ["1.0", "2.0"]
    out = apigw.update_documentation_version(restApiId=api_id, documentationVersion="2.0",
                                             patchOperations=[{"op": "replace", "path": "/description", "value": "second"}])
    assert out["description"] == "second"
    # errors: nothing stored
    assert _code(apigw.create_documentation_version, restApiId=api_id, documentationVersion="1.0") == "ConflictException"
    assert _code(apigw.create_documentation_version, restApiId=api_id, documentationVersion="3.0", stageName="nope") == \
        "NotFoundException"
    assert _code(apigw.get_documentation_version, restApiId=api_id, documentationVersion="3.0") == "NotFoundException"
    assert _code(apigw.update_documentation_version, restApiId=api_id, documentationVersion="2.0",
                 patchOperations=[{"op": "replace", "path": "/version", "value": "x"}]) == "BadRequestException"
    assert len(apigw.get_documentation_versions(restApiId=api_id)["items"]) == 2
    # the AWS CLI
    cli = json.loads(server.aws("apigateway", "get-documentation-version", "--rest-api-id", api_id, "--documentation-version", "2.0").stdout)
    assert cli["description"] == "second"
    # deleting a version a stage names: the stage no longer names one
    apigw.delete_documentation_version(restApiId=api_id, documentationVersion="1.0")
    assert "documentationVersion" not in apigw.get_stage(restApiId=api_id, stageName="prod")
    # durable once answered
    server.kill9()
    server.start()
    apigw = env["apigw"] = server.client("apigateway")
    assert json.loads(apigw.get_documentation_part(restApiId=api_id, documentationPartId=part["id"])["properties"]) == {"v": 1}
    assert [v["version"] for v in apigw.get_documentation_versions(restApiId=api_id)["items"]] == ["2.0"]
    assert apigw.get_documentation_version(restApiId=api_id, documentationVersion="2.0")["description"] == "second"
    # DeleteRestApi takes the documentation with it
    apigw.delete_rest_api(restApiId=api_id)
    assert _code(apigw.get_documentation_parts, restApiId=api_id) == "NotFoundException"

"""OpenAPI import and export on the in-memory metadata store: documents in, resources and methods out."""

from __future__ import annotations

import pytest

from nimbus.services.apigateway import openapi
from nimbus.services.apigateway.authorizers import RestAuthorizers
from nimbus.services.apigateway.errors import BadRequestException
from nimbus.services.apigateway.restapis import RestApis
from nimbus.storage.memory import MemoryMetadataStore

FN = "arn:aws:lambda:us-east-1:000000000000:function:f"
URI = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FN}/invocations"

YAML = f"""
swagger: "2.0"
info: {{title: shop, version: "3"}}
basePath: /api
securityDefinitions:
  sigv4: {{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4}}
  key: {{type: apiKey, name: x-api-key, in: header}}
paths:
  /orders/{{id}}:
    parameters: [{{name: id, in: path, required: true}}]
    put:
      security: [{{sigv4: []}}, {{key: []}}]
      x-amazon-apigateway-integration: {{type: aws_proxy, httpMethod: POST, uri: "{URI}"}}
"""


def _engines() -> tuple[RestApis, RestAuthorizers]:
    rest = RestApis(MemoryMetadataStore())
    return rest, RestAuthorizers(rest)


def test_documents_json_or_yaml_and_refusals() -> None:
    assert openapi.load_document(b'{"openapi": "3.0.1", "paths": {}}')["openapi"] == "3.0.1"
    assert openapi.load_document(YAML.encode())["info"]["title"] == "shop"
    for bad in (b"", b"[1, 2]", b'{"openapi": "2.5"}', b"paths: [unclosed"):
        with pytest.raises(BadRequestException):
            openapi.load_document(bad)


def test_swagger_yaml_import_with_basepath_prepend_and_security() -> None:
    rest, auths = _engines()
    api = openapi.import_api(rest, auths, "000000000000", "us-east-1", {"body": YAML.encode(), "parameters": {"basepath": "prepend"}})
    by_path = {r["path"]: r for r in rest.list_resources(api["id"], "000000000000")}
    assert set(by_path) == {"/", "/api", "/api/orders", "/api/orders/{id}"}
    put = by_path["/api/orders/{id}"]["resourceMethods"]["PUT"]
    assert put["authorizationType"] == "AWS_IAM" and put["apiKeyRequired"] is True
    assert put["requestParameters"] == {"method.request.path.id": True}
    assert put["methodIntegration"]["uri"] == URI and put["methodIntegration"]["httpMethod"] == "POST"
    assert api["version"] == "3" and "warnings" not in api


def test_export_names_what_a_stage_serves() -> None:
    rest, auths = _engines()
    api = openapi.import_api(rest, auths, "000000000000", "us-east-1", {"body": YAML.encode()})
    rest.create_deployment(api["id"], "000000000000", {"stageName": "prod"})
    view = rest.stage_view(api["id"], "prod")
    assert view is not None
    doc = openapi.export(view.api, view.stage, view.resources, view.authorizers, export_type="swagger",
                         extensions="integrations", server_url="http://x.execute-api.localhost:4566")
    op = doc["paths"]["/orders/{id}"]["put"]
    assert op["x-amazon-apigateway-integration"]["type"] == "aws_proxy" and {"sigv4": []} in op["security"]
    assert doc["securityDefinitions"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    body, ctype = openapi.dump(doc, "application/yaml")
    assert ctype == "application/yaml" and openapi.load_document(body)["basePath"] == "/prod"

"""Pure rules behind request validation, gateway responses and custom domains: the JSON-schema subset
(``schema.validate``), ``gatewayresponses.render`` and ``domains.route``."""

from __future__ import annotations

from typing import Any

import pytest

from nimbus.services.apigateway import domains, gatewayresponses, schema


def _errors(value: Any, s: dict[str, Any], models: dict[str, dict[str, Any]] | None = None) -> list[str]:
    return schema.validate(value, s, lambda name: (models or {}).get(name))


@pytest.mark.parametrize("value, s, ok", [
    ({"a": 1}, {"type": "object"}, True),
    ([1], {"type": "object"}, False),
    (2.0, {"type": "integer"}, True),
    (2.5, {"type": "integer"}, False),
    (True, {"type": "integer"}, False),
    (None, {"type": ["string", "null"]}, True),
    ("x", {"enum": ["x", "y"]}, True),
    ("z", {"enum": ["x", "y"]}, False),
    (5, {"minimum": 5, "exclusiveMinimum": True}, False),
    (5, {"maximum": 5}, True),
    ("ab", {"minLength": 3}, False),
    ("abcd", {"maxLength": 3}, False),
    ("a1", {"pattern": "^[a-z]+$"}, False),
    ("xa1", {"pattern": "[a-z]"}, True),  # ECMA 262 patterns are searched, not anchored
    ({"a": 1}, {"required": ["a", "b"]}, False),
    ({"a": 1, "b": 2}, {"properties": {"a": {}}, "additionalProperties": False}, False),
    ([1, "x"], {"items": {"type": "integer"}}, False),
    ([], {"minItems": 1}, False),
    (3, {"anyOf": [{"type": "string"}, {"minimum": 2}]}, True),
    (3, {"oneOf": [{"type": "integer"}, {"minimum": 2}]}, False),
    (3, {"not": {"type": "integer"}}, False),
    ({"x": {"n": "s"}}, {"definitions": {"D": {"properties": {"n": {"type": "integer"}}}},
                         "properties": {"x": {"$ref": "#/definitions/D"}}}, False),
    ("anything", {"format": "email", "uniqueItems": True}, True),  # keywords outside the subset are ignored
])
def test_schema_subset(value: Any, s: dict[str, Any], ok: bool) -> None:
    assert (_errors(value, s) == []) is ok


def test_schema_refs_to_other_models() -> None:
    models = {"Owner": {"type": "object", "required": ["email"]}}
    s = {"properties": {"owner": {"$ref": "https://apigateway.amazonaws.com/restapis/abc/models/Owner"}}}
    assert _errors({"owner": {"email": "e"}}, s, models) == []
    assert _errors({"owner": {}}, s, models)
    assert _errors({"owner": {}}, {"properties": {"owner": {"$ref": "https://x/models/Ghost"}}})  # unresolvable: refused


def test_gateway_response_render() -> None:
    custom = {"DEFAULT_4XX": {"statusCode": "418", "responseParameters": {"gatewayresponse.header.X-A": "'a'"},
                              "responseTemplates": {"application/json": '{"m": $context.error.messageString, "id": "$context.requestId"}'}},
              "THROTTLED": {"responseParameters": {"gatewayresponse.header.X-Q": "method.request.querystring.q"},
                            "responseTemplates": {"application/json": '{"t": "$context.error.message", "u": "$context.unknown", "v": "$!context.unknown"}'}}}
    status, headers, body = gatewayresponses.render(custom, "MISSING_AUTHENTICATION_TOKEN", 403, 'say "hi"', {"requestId": "r1"}, lambda s: None)
    assert status == 418 and ("X-A", "a") in headers and ("Content-Type", "application/json") in headers
    assert body == b'{"m": "say \\"hi\\"", "id": "r1"}'
    # a customized type without a status code takes DEFAULT_4XX's, which replaces every 4XX status
    status, headers, body = gatewayresponses.render(custom, "THROTTLED", 429, "Too Many Requests", {}, lambda s: "qv")
    assert status == 418 and ("X-Q", "qv") in headers and body == b'{"t": "Too Many Requests", "u": "$context.unknown", "v": ""}'
    assert gatewayresponses.render(custom, "DEFAULT_5XX", 502, "x", {}, lambda s: None) is None  # nothing customized for 5XX


def test_domain_route() -> None:
    doc = {"mappings": {"(none)": {"basePath": "(none)", "restApiId": "a"}, "v1": {"basePath": "v1", "restApiId": "b"},
                        "v1/admin": {"basePath": "v1/admin", "restApiId": "c"}}}
    assert domains.route(doc, "/orders/1") == (doc["mappings"]["(none)"], "/orders/1")
    assert domains.route(doc, "/v1/orders") == (doc["mappings"]["v1"], "/orders")
    assert domains.route(doc, "/v1") == (doc["mappings"]["v1"], "/")
    assert domains.route(doc, "/v1/admin/users") == (doc["mappings"]["v1/admin"], "/users")
    assert domains.route(doc, "/v10/x") == (doc["mappings"]["(none)"], "/v10/x")  # whole segments only
    assert domains.route({"mappings": {"v1": doc["mappings"]["v1"]}}, "/other") is None

"""apigatewayv2 models and integration responses (WebSocket APIs) on a real server: the control plane
through boto3 and the AWS CLI, a WebSocket client for what the gateway does with them (a route's request
model validates messages; a MOCK integration answers its $default integration response's template), and
a kill -9 for durability."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

try:
    from websockets.sync.client import connect
except ImportError:  # pragma: no cover
    pytest.skip("the websockets library is not installed", allow_module_level=True)

SCHEMA = json.dumps({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "required": ["action", "n"],
                     "properties": {"action": {"type": "string"}, "n": {"type": "integer", "minimum": 1}}})


@pytest.fixture(scope="module")
def env(nimbus_server: Any) -> dict[str, Any]:
    return {"server": nimbus_server, "v2": nimbus_server.client("apigatewayv2")}


def _code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return str(e.value.response["Error"]["Code"])


def test_models(env: dict[str, Any]) -> None:
    server, v2 = env["server"], env["v2"]
    api_id = v2.create_api(Name="ws-models", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")["ApiId"]
    model = v2.create_model(ApiId=api_id, Name="Msg", Schema=SCHEMA, ContentType="application/json", Description="a message")
    assert model["Name"] == "Msg" and model["Schema"] == SCHEMA and model["ModelId"]
    mid = model["ModelId"]
    got = v2.get_model(ApiId=api_id, ModelId=mid)
    assert {k: v for k, v in got.items() if k != "ResponseMetadata"} == {k: v for k, v in model.items() if k != "ResponseMetadata"}
    other = v2.create_model(ApiId=api_id, Name="Other", Schema='{"type": "object"}')
    assert [m["Name"] for m in v2.get_models(ApiId=api_id)["Items"]] == ["Msg", "Other"]
    template = v2.get_model_template(ApiId=api_id, ModelId=mid)["Value"]
    assert '"action" : "foo"' in template and '"n" : 42' in template
    out = v2.update_model(ApiId=api_id, ModelId=other["ModelId"], Description="changed", Name="Renamed")
    assert (out["Name"], out["Description"]) == ("Renamed", "changed")
    # bad input stores nothing
    assert _code(v2.create_model, ApiId=api_id, Name="Msg", Schema=SCHEMA) == "ConflictException"
    assert _code(v2.create_model, ApiId=api_id, Name="bad-name", Schema=SCHEMA) == "BadRequestException"
    assert _code(v2.create_model, ApiId=api_id, Name="Bad", Schema="[1, 2]") == "BadRequestException"
    assert _code(v2.create_model, ApiId=api_id, Name="Bad", Schema="not json") == "BadRequestException"
    assert _code(v2.update_model, ApiId=api_id, ModelId=mid, Name="Renamed") == "ConflictException"
    assert _code(v2.update_model, ApiId=api_id, ModelId=mid, Schema="{") == "BadRequestException"
    assert _code(v2.get_model, ApiId=api_id, ModelId="nope") == "NotFoundException"
    assert _code(v2.delete_model, ApiId=api_id, ModelId="nope") == "NotFoundException"
    assert _code(v2.get_models, ApiId="nope") == "NotFoundException"
    http_api = v2.create_api(Name="http", ProtocolType="HTTP")["ApiId"]
    assert _code(v2.create_model, ApiId=http_api, Name="Msg", Schema=SCHEMA) == "BadRequestException"
    assert _code(v2.create_route, ApiId=api_id, RouteKey="x", RequestModels={"$default": "Missing"}) == "BadRequestException"
    assert [m["Name"] for m in v2.get_models(ApiId=api_id)["Items"]] == ["Msg", "Renamed"]
    assert v2.get_model(ApiId=api_id, ModelId=mid)["Schema"] == SCHEMA
    v2.delete_model(ApiId=api_id, ModelId=other["ModelId"])
    # the AWS CLI
    cli = json.loads(server.aws("apigatewayv2", "get-models", "--api-id", api_id).stdout)
    assert [m["Name"] for m in cli["Items"]] == ["Msg"]


def test_integration_responses_served_and_durable(env: dict[str, Any]) -> None:
    server, v2 = env["server"], env["v2"]
    api_id = v2.create_api(Name="ws-mock", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")["ApiId"]
    v2.create_model(ApiId=api_id, Name="Msg", Schema=SCHEMA)
    integ = v2.create_integration(ApiId=api_id, IntegrationType="MOCK", RequestTemplates={"$default": '{"statusCode": 200}'})
    iid = integ["IntegrationId"]
    resp = v2.create_integration_response(ApiId=api_id, IntegrationId=iid, IntegrationResponseKey="$default",
                                          ResponseTemplates={"$default": '{"mocked": true}'}, TemplateSelectionExpression="\\$default")
    rid = resp["IntegrationResponseId"]
    errors = v2.create_integration_response(ApiId=api_id, IntegrationId=iid, IntegrationResponseKey="/4\\d\\d/")
    assert [r["IntegrationResponseKey"] for r in v2.get_integration_responses(ApiId=api_id, IntegrationId=iid)["Items"]] == \
        ["$default", "/4\\d\\d/"]
    out = v2.update_integration_response(ApiId=api_id, IntegrationId=iid, IntegrationResponseId=errors["IntegrationResponseId"],
                                         IntegrationResponseKey="/5\\d\\d/", ContentHandlingStrategy="CONVERT_TO_TEXT")
    assert (out["IntegrationResponseKey"], out["ContentHandlingStrategy"]) == ("/5\\d\\d/", "CONVERT_TO_TEXT")
    v2.delete_integration_response(ApiId=api_id, IntegrationId=iid, IntegrationResponseId=errors["IntegrationResponseId"])
    # errors
    assert _code(v2.create_integration_response, ApiId=api_id, IntegrationId=iid, IntegrationResponseKey="$default") == "ConflictException"
    assert _code(v2.create_integration_response, ApiId=api_id, IntegrationId=iid, IntegrationResponseKey="200") == "BadRequestException"
    assert _code(v2.create_integration_response, ApiId=api_id, IntegrationId=iid, IntegrationResponseKey="/(/") == "BadRequestException"
    assert _code(v2.create_integration_response, ApiId=api_id, IntegrationId="nope", IntegrationResponseKey="$default") == \
        "NotFoundException"
    assert _code(v2.get_integration_response, ApiId=api_id, IntegrationId=iid, IntegrationResponseId="nope") == "NotFoundException"
    http_api = v2.create_api(Name="http", ProtocolType="HTTP")["ApiId"]
    http_integ = v2.create_integration(ApiId=http_api, IntegrationType="MOCK")["IntegrationId"]
    assert _code(v2.create_integration_response, ApiId=http_api, IntegrationId=http_integ, IntegrationResponseKey="$default") == \
        "BadRequestException"
    assert len(v2.get_integration_responses(ApiId=api_id, IntegrationId=iid)["Items"]) == 1
    got = v2.get_integration(ApiId=api_id, IntegrationId=iid)  # the responses live inside, never shown there
    assert got["IntegrationType"] == "MOCK" and "responses" not in got and "IntegrationResponses" not in got
    # served: two-way routes (a route response) answer the MOCK's template; a request model validates messages
    typed = v2.create_route(ApiId=api_id, RouteKey="typed", Target=f"integrations/{iid}", RequestModels={"typed": "Msg"},
                            ModelSelectionExpression="$request.body.action")
    v2.create_route_response(ApiId=api_id, RouteId=typed["RouteId"], RouteResponseKey="$default")
    default = v2.create_route(ApiId=api_id, RouteKey="$default", Target=f"integrations/{iid}")
    v2.create_route_response(ApiId=api_id, RouteId=default["RouteId"], RouteResponseKey="$default")
    v2.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
    url = f"{server.endpoint.replace('http://', 'ws://')}/_aws/execute-api/{api_id}/prod"
    with connect(url, open_timeout=10) as ws:
        ws.send(json.dumps({"action": "other"}))
        assert json.loads(ws.recv(timeout=10)) == {"mocked": True}
        ws.send(json.dumps({"action": "typed", "n": 3}))
        assert json.loads(ws.recv(timeout=10)) == {"mocked": True}
        ws.send(json.dumps({"action": "typed", "n": 0}))
        frame = json.loads(ws.recv(timeout=10))
        assert frame["message"] == "Invalid request body" and frame["connectionId"] and frame["requestId"]
        ws.send("not json")  # the $default route: no request models, so no validation
        assert json.loads(ws.recv(timeout=10)) == {"mocked": True}
    # the AWS CLI, then kill -9: the records are there after a start
    cli = json.loads(server.aws("apigatewayv2", "get-integration-response", "--api-id", api_id, "--integration-id", iid,
                                "--integration-response-id", rid).stdout)
    assert cli["ResponseTemplates"] == {"$default": '{"mocked": true}'}
    server.kill9()
    server.start()
    v2 = env["v2"] = server.client("apigatewayv2")
    assert v2.get_integration_response(ApiId=api_id, IntegrationId=iid, IntegrationResponseId=rid)["IntegrationResponseKey"] == "$default"
    assert [m["Name"] for m in v2.get_models(ApiId=api_id)["Items"]] == ["Msg"]
    with connect(url, open_timeout=10) as ws:
        ws.send(json.dumps({"action": "typed", "n": 1}))
        assert json.loads(ws.recv(timeout=10)) == {"mocked": True}

"""Gateway responses of REST APIs on a real server: PutGatewayResponse & co. (the defaults list, a
customized type, patching, deleting) and their effect on the errors the gateway answers itself
(missing authentication token, API key, request validation, configuration errors, DEFAULT_4XX/5XX)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.gateway.test_gateway import call


@pytest.fixture(scope="module")
def env(nimbus_server: Any) -> dict[str, Any]:
    return {"server": nimbus_server, "apigw": nimbus_server.client("apigateway")}


def test_gateway_responses_control_plane(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    api_id = apigw.create_rest_api(name="gr")["id"]
    items = apigw.get_gateway_responses(restApiId=api_id, limit=500)["items"]
    by_type = {i["responseType"]: i for i in items}
    assert len(items) == 21 and all(i["defaultResponse"] for i in items)
    assert by_type["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "403" and "statusCode" not in by_type["DEFAULT_4XX"]
    assert by_type["THROTTLED"]["responseTemplates"] == {"application/json": '{"message":$context.error.messageString}'}
    out = apigw.put_gateway_response(restApiId=api_id, responseType="MISSING_AUTHENTICATION_TOKEN", statusCode="404",
                                     responseParameters={"gatewayresponse.header.X-Why": "'no route'"},
                                     responseTemplates={"application/json": '{"error":"$context.error.message"}'})
    assert out["defaultResponse"] is False and out["statusCode"] == "404"
    got = apigw.get_gateway_response(restApiId=api_id, responseType="MISSING_AUTHENTICATION_TOKEN")
    assert got["responseParameters"] == {"gatewayresponse.header.X-Why": "'no route'"} and got["defaultResponse"] is False
    out = apigw.update_gateway_response(restApiId=api_id, responseType="MISSING_AUTHENTICATION_TOKEN", patchOperations=[
        {"op": "replace", "path": "/statusCode", "value": "410"},
        {"op": "add", "path": "/responseParameters/gatewayresponse.header.X-More", "value": "'yes'"}])
    assert out["statusCode"] == "410" and len(out["responseParameters"]) == 2
    # updating a type never customized customizes it
    out = apigw.update_gateway_response(restApiId=api_id, responseType="THROTTLED", patchOperations=[
        {"op": "replace", "path": "/statusCode", "value": "503"}])
    assert out["statusCode"] == "503" and out["defaultResponse"] is False
    for call_, kwargs, code in ((apigw.put_gateway_response, {"responseType": "THROTTLED", "statusCode": "99"}, "BadRequestException"),
                                (apigw.update_gateway_response, {"responseType": "THROTTLED",
                                                                 "patchOperations": [{"op": "replace", "path": "/nope", "value": "1"}]},
                                 "BadRequestException"),
                                (apigw.get_gateway_response, {"responseType": "DEFAULT_4XX", "restApiId": "nope"}, "NotFoundException")):
        with pytest.raises(ClientError) as e:
            call_(**{"restApiId": api_id, **kwargs})
        assert e.value.response["Error"]["Code"] == code
    apigw.delete_gateway_response(restApiId=api_id, responseType="THROTTLED")
    assert apigw.get_gateway_response(restApiId=api_id, responseType="THROTTLED")["defaultResponse"] is True
    with pytest.raises(ClientError) as e:
        apigw.delete_gateway_response(restApiId=api_id, responseType="THROTTLED")
    assert e.value.response["Error"]["Code"] == "NotFoundException"


def _api(apigw: Any) -> tuple[str, str]:
    """/open (MOCK), /keyed (API key required), /checked (validator), /broken (a Lambda integration
    without permission: an API configuration error), deployed to "prod"."""
    api_id = apigw.create_rest_api(name="gr-serve")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    validator = apigw.create_request_validator(restApiId=api_id, name="p", validateRequestParameters=True)
    for part, extra in (("open", {}), ("keyed", {"apiKeyRequired": True}),
                        ("checked", {"requestValidatorId": validator["id"], "requestParameters": {"method.request.querystring.q": True}}),
                        ("broken", {})):
        rid = apigw.create_resource(restApiId=api_id, parentId=root, pathPart=part)["id"]
        apigw.put_method(restApiId=api_id, resourceId=rid, httpMethod="GET", authorizationType="NONE", **extra)
        if part == "broken":
            apigw.put_integration(restApiId=api_id, resourceId=rid, httpMethod="GET", type="AWS_PROXY", integrationHttpMethod="POST",
                                  uri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                                      "arn:aws:lambda:us-east-1:000000000000:function:ghost/invocations")
        else:
            apigw.put_integration(restApiId=api_id, resourceId=rid, httpMethod="GET", type="MOCK",
                                  requestTemplates={"application/json": '{"statusCode": 200}'})
            apigw.put_integration_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200",
                                           responseTemplates={"application/json": '{"ok": true}'})
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    return api_id, f"{env_endpoint(apigw)}/_aws/execute-api/{api_id}/prod"


def env_endpoint(client: Any) -> str:
    return str(client.meta.endpoint_url)


def test_gateway_responses_change_the_gateways_errors(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    api_id, base = _api(apigw)
    # uncustomized: AWS's built-in answers
    assert call(base + "/nowhere")[0] == 403
    status, headers, body = call(base + "/broken")
    assert (status, json.loads(body)) == (500, {"message": "Internal server error"})
    # a customized type, redeployed (gateway responses are deployed with the API, as AWS)
    apigw.put_gateway_response(restApiId=api_id, responseType="MISSING_AUTHENTICATION_TOKEN", statusCode="404",
                               responseParameters={"gatewayresponse.header.Access-Control-Allow-Origin": "'*'",
                                                   "gatewayresponse.header.X-Echo": "method.request.header.X-In"},
                               responseTemplates={"application/json": '{"error": $context.error.messageString, '
                                                                      '"type": "$context.error.responseType", "id": "$context.requestId"}'})
    assert call(base + "/nowhere")[0] == 403  # not deployed yet
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    status, headers, body = call(base + "/nowhere", headers={"X-In": "hello"})
    doc = json.loads(body)
    assert status == 404 and doc["error"] == "Missing Authentication Token" and doc["type"] == "MISSING_AUTHENTICATION_TOKEN"
    assert doc["id"] == headers["x-amzn-requestid"]
    assert headers["access-control-allow-origin"] == "*" and headers["x-echo"] == "hello"
    assert headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    # DEFAULT_4XX covers the 4XX types not customized: its headers and template; its status code replaces theirs
    apigw.put_gateway_response(restApiId=api_id, responseType="DEFAULT_4XX",
                               responseParameters={"gatewayresponse.header.X-Default": "'4xx'"},
                               responseTemplates={"application/json": '{"oops": "$context.error.message"}'})
    apigw.put_gateway_response(restApiId=api_id, responseType="DEFAULT_5XX", statusCode="503",
                               responseTemplates={"application/json": '{"down": true}'})
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    status, headers, body = call(base + "/keyed")
    assert (status, json.loads(body), headers["x-default"]) == (403, {"oops": "Forbidden"}, "4xx")
    status, _, body = call(base + "/checked")
    assert (status, json.loads(body)) == (400, {"oops": "Missing required request parameters: [q]"})
    status, headers, body = call(base + "/broken")
    assert (status, json.loads(body)) == (503, {"down": True}) and headers["x-amzn-errortype"] == "InternalServerErrorException"
    assert call(base + "/open")[0] == 200  # successes are untouched
    # a specific type wins over DEFAULT_4XX
    apigw.put_gateway_response(restApiId=api_id, responseType="BAD_REQUEST_PARAMETERS", statusCode="422",
                               responseTemplates={"application/json": '{"bad": "$context.error.message"}'})
    apigw.update_gateway_response(restApiId=api_id, responseType="DEFAULT_4XX", patchOperations=[
        {"op": "replace", "path": "/statusCode", "value": "418"}])
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    status, _, body = call(base + "/checked")
    assert (status, json.loads(body)) == (422, {"bad": "Missing required request parameters: [q]"})
    status, _, body = call(base + "/keyed")
    assert (status, json.loads(body)) == (418, {"oops": "Forbidden"})
    # they survive a restart
    env["server"].restart()
    apigw = env["server"].client("apigateway")
    assert apigw.get_gateway_response(restApiId=api_id, responseType="BAD_REQUEST_PARAMETERS")["statusCode"] == "422"
    status, _, body = call(base + "/checked")
    assert (status, json.loads(body)) == (422, {"bad": "Missing required request parameters: [q]"})

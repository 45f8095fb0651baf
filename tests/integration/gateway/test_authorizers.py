"""Lambda authorizers end to end: REST TOKEN/REQUEST authorizers and HTTP API REQUEST authorizers
(simple and IAM-policy responses) on a real server, real Python functions, plain urllib on the data
plane. Caching is observed through a nonce the authorizer puts in its context (same nonce = cached)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.gateway.test_gateway import ECHO, _create_function, call

AUTHORIZER = '''import json, uuid

def lambda_handler(event, context):
    print("authorizer event type=" + event.get("type", "?"))
    if event.get("type") == "TOKEN":
        token = event["authorizationToken"]
    else:
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        token = headers.get("authorization") or headers.get("x-user") or ""
    token = token.replace("Bearer ", "")
    if token == "unauthorized":
        raise Exception("Unauthorized")
    if token == "boom":
        raise RuntimeError("boom")
    if token == "garbage":
        return {"principalId": "x"}
    nonce = str(uuid.uuid4())
    if event.get("version") == "2.0" and token in ("yes", "no"):
        return {"isAuthorized": token == "yes", "context": {"nonce": nonce, "user": token, "nested": {"a": 1}}}
    arn = event.get("methodArn") or event.get("routeArn")
    api_part = arn.split("/", 2)  # "arn:...:{api}", "{stage}", "{VERB}/{path}"
    resource = api_part[0] + "/" + api_part[1] + "/*"
    if token == "only-list":
        resource = api_part[0] + "/" + api_part[1] + "/GET/items"
    effect = "Deny" if token == "deny" else "Allow"
    extra = {"usageIdentifierKey": token[4:]} if token.startswith("key:") else {}
    return {
        **extra,
        "principalId": "user-" + token,
        "policyDocument": {"Version": "2012-10-17",
                           "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]},
        "context": {"nonce": nonce, "n": 7, "ok": True, "eventType": event.get("type"),
                    "eventKeys": ",".join(sorted(event))},
    }
'''


@pytest.fixture(scope="module")
def env(nimbus_server: Any) -> dict[str, Any]:
    lam = nimbus_server.client("lambda")
    return {
        "server": nimbus_server,
        "lambda": lam,
        "apigw": nimbus_server.client("apigateway"),
        "v2": nimbus_server.client("apigatewayv2"),
        "echo": _create_function(lam, "authz-echo", ECHO),
        "authorizer": _create_function(lam, "authz-fn", AUTHORIZER),
    }


def _uri(fn_arn: str) -> str:
    return f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{fn_arn}/invocations"


def _permit(env: dict[str, Any], fn: str, api_id: str) -> None:
    env["lambda"].add_permission(FunctionName=fn, StatementId=f"apigw-{api_id}", Action="lambda:InvokeFunction",
                                 Principal="apigateway.amazonaws.com", SourceArn=f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/*")


def _rest_api(env: dict[str, Any], authorizer: dict[str, Any], *, permit_authorizer: bool = True, key_required: bool = False,
              **api_kwargs: Any) -> tuple[str, str, dict[str, Any]]:
    """/items and /items/{id} behind the authorizer, /open without; deployed to prod."""
    apigw = env["apigw"]
    api = apigw.create_rest_api(name="authz", **api_kwargs)
    api_id, root = api["id"], api["rootResourceId"]
    auth = apigw.create_authorizer(restApiId=api_id, authorizerUri=_uri(env["authorizer"]), **authorizer)
    items = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="items")
    item = apigw.create_resource(restApiId=api_id, parentId=items["id"], pathPart="{id}")
    opened = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="open")
    for res, kind in ((items, "CUSTOM"), (item, "CUSTOM"), (opened, "NONE")):
        extra = {"authorizerId": auth["id"]} if kind == "CUSTOM" else {}
        apigw.put_method(restApiId=api_id, resourceId=res["id"], httpMethod="GET", authorizationType=kind,
                         apiKeyRequired=key_required, **extra)
        apigw.put_integration(restApiId=api_id, resourceId=res["id"], httpMethod="GET", type="AWS_PROXY",
                              integrationHttpMethod="POST", uri=_uri(env["echo"]))
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    _permit(env, "authz-echo", api_id)
    if permit_authorizer:
        _permit(env, "authz-fn", api_id)
    return api_id, f"{env['server'].endpoint}/_aws/execute-api/{api_id}/prod", auth


def test_rest_token_authorizer(env: dict[str, Any]) -> None:
    api_id, base, auth = _rest_api(env, {"name": "tok", "type": "TOKEN", "identitySource": "method.request.header.Authorization",
                                         "identityValidationExpression": "Bearer .+"})
    assert auth["authorizerResultTtlInSeconds"] == 300 and auth["type"] == "TOKEN"
    # missing token, or one that fails identityValidationExpression: 401 without invoking
    status, _, body = call(base + "/items")
    assert status == 401 and json.loads(body) == {"message": "Unauthorized"}
    status, _, body = call(base + "/items", headers={"Authorization": "Basic abc"})
    assert status == 401 and json.loads(body) == {"message": "Unauthorized"}
    # allowed: context (stringified, as AWS) and principalId reach the integration
    status, _, body = call(base + "/items", headers={"Authorization": "Bearer alice"})
    assert status == 200, body
    authz = json.loads(body)["requestContext"]["authorizer"]
    assert authz["principalId"] == "user-alice" and authz["n"] == "7" and authz["ok"] == "true"
    assert authz["eventType"] == "TOKEN" and authz["eventKeys"] == "authorizationToken,methodArn,type"
    assert isinstance(authz["integrationLatency"], int)
    # cached per token (TTL 300): same nonce, even for another method the cached policy allows
    status, _, body = call(base + "/items/42", headers={"Authorization": "Bearer alice"})
    assert status == 200 and json.loads(body)["requestContext"]["authorizer"]["nonce"] == authz["nonce"]
    status, _, body = call(base + "/items", headers={"Authorization": "Bearer bob"})
    assert status == 200 and json.loads(body)["requestContext"]["authorizer"]["nonce"] != authz["nonce"]
    # explicit deny, implicit deny (the cached policy allows GET /items only), Unauthorized, failures
    status, _, body = call(base + "/items", headers={"Authorization": "Bearer deny"})
    assert status == 403 and json.loads(body) == {"Message": "User is not authorized to access this resource with an explicit deny"}
    assert call(base + "/items", headers={"Authorization": "Bearer only-list"})[0] == 200
    status, _, body = call(base + "/items/1", headers={"Authorization": "Bearer only-list"})
    assert status == 403 and json.loads(body) == {"Message": "User is not authorized to access this resource"}
    status, _, body = call(base + "/items", headers={"Authorization": "Bearer unauthorized"})
    assert status == 401 and json.loads(body) == {"message": "Unauthorized"}
    for token in ("boom", "garbage"):
        status, headers, body = call(base + "/items", headers={"Authorization": f"Bearer {token}"})
        assert status == 500 and json.loads(body) == {"message": None}
        assert headers["x-amzn-errortype"] == "AuthorizerConfigurationException"
    # methods without the authorizer are untouched
    assert call(base + "/open")[0] == 200


def test_rest_request_authorizer_and_ttl_zero(env: dict[str, Any]) -> None:
    _, base, _ = _rest_api(env, {"name": "req", "type": "REQUEST", "authorizerResultTtlInSeconds": 0,
                                 "identitySource": "method.request.header.X-User, method.request.querystring.tenant"})
    status, _, body = call(base + "/items", headers={"X-User": "carol"})  # no tenant
    assert status == 401 and json.loads(body) == {"message": "Unauthorized"}
    nonces = set()
    for _ in range(2):
        status, _, body = call(base + "/items/9?tenant=t1", headers={"X-User": "carol"})
        assert status == 200, body
        authz = json.loads(body)["requestContext"]["authorizer"]
        nonces.add(authz["nonce"])
    assert len(nonces) == 2  # TTL 0: no caching
    assert authz["eventType"] == "REQUEST" and authz["principalId"] == "user-carol"
    keys = set(authz["eventKeys"].split(","))
    assert {"methodArn", "headers", "multiValueHeaders", "queryStringParameters", "pathParameters", "requestContext",
            "stageVariables", "httpMethod", "resource", "path"} <= keys and "body" not in keys


def test_rest_authorizer_control_plane(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    api_id, _, auth = _rest_api(env, {"name": "cp", "type": "TOKEN"})
    assert auth["identitySource"] == "method.request.header.Authorization"
    assert apigw.get_authorizer(restApiId=api_id, authorizerId=auth["id"])["name"] == "cp"
    assert [a["id"] for a in apigw.get_authorizers(restApiId=api_id)["items"]] == [auth["id"]]
    out = apigw.update_authorizer(restApiId=api_id, authorizerId=auth["id"], patchOperations=[
        {"op": "replace", "path": "/authorizerResultTtlInSeconds", "value": "0"},
        {"op": "replace", "path": "/name", "value": "renamed"}])
    assert out["authorizerResultTtlInSeconds"] == 0 and out["name"] == "renamed"
    with pytest.raises(ClientError) as e:
        apigw.delete_authorizer(restApiId=api_id, authorizerId=auth["id"])  # still used by GET /items
    assert e.value.response["Error"]["Code"] == "ConflictException"
    root = apigw.get_rest_api(restApiId=api_id)["rootResourceId"]
    with pytest.raises(ClientError) as e:
        apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="CUSTOM", authorizerId="nope00")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        apigw.get_authorizer(restApiId=api_id, authorizerId="nope00")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError) as e:
        apigw.create_authorizer(restApiId=api_id, name="bad", type="TOKEN", authorizerUri="not-a-lambda")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    # the console's Test button
    test = apigw.test_invoke_authorizer(restApiId=api_id, authorizerId=auth["id"], headers={"Authorization": "Bearer dave"})
    assert test["clientStatus"] == 200 and test["principalId"] == "user-dave"
    assert json.loads(test["policy"])["Statement"][0]["Effect"] == "Allow" and test["authorization"]["n"] == ["7"]
    assert apigw.test_invoke_authorizer(restApiId=api_id, authorizerId=auth["id"], headers={})["clientStatus"] == 401


def test_authorizer_needs_permission_and_supplies_api_keys(env: dict[str, Any]) -> None:
    # an authorizer function whose resource policy does not allow this API: 500 {"message": null}
    _, base, _ = _rest_api(env, {"name": "noperm", "type": "TOKEN"}, permit_authorizer=False)
    status, _, body = call(base + "/items", headers={"Authorization": "alice"})
    assert status == 500 and json.loads(body) == {"message": None}
    # apiKeySource AUTHORIZER: the usage plan key comes from usageIdentifierKey, not x-api-key
    apigw = env["apigw"]
    api_id, base, _ = _rest_api(env, {"name": "keys", "type": "TOKEN"}, key_required=True, apiKeySource="AUTHORIZER")
    key = apigw.create_api_key(name="k", enabled=True, value="authorizer-supplied-key-0001")
    plan = apigw.create_usage_plan(name="p", apiStages=[{"apiId": api_id, "stage": "prod"}])
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    assert call(base + "/items", headers={"Authorization": "key:authorizer-supplied-key-0001"})[0] == 200
    status, _, body = call(base + "/items", headers={"Authorization": "key:some-other-key-00000000000",
                                                     "x-api-key": "authorizer-supplied-key-0001"})
    assert status == 403 and json.loads(body) == {"message": "Forbidden"}


def _http_api(env: dict[str, Any], authorizer: dict[str, Any], version: str = "2.0") -> tuple[str, str]:
    v2 = env["v2"]
    api = v2.create_api(Name="authz-http", ProtocolType="HTTP")
    api_id = api["ApiId"]
    auth = v2.create_authorizer(ApiId=api_id, AuthorizerType="REQUEST", AuthorizerUri=_uri(env["authorizer"]),
                                IdentitySource=["$request.header.Authorization"], **authorizer)
    integ = v2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=env["echo"], PayloadFormatVersion=version)
    v2.create_route(ApiId=api_id, RouteKey="GET /items/{id}", Target=f"integrations/{integ['IntegrationId']}",
                    AuthorizationType="CUSTOM", AuthorizerId=auth["AuthorizerId"])
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    _permit(env, "authz-echo", api_id)
    _permit(env, "authz-fn", api_id)
    return api_id, f"{env['server'].endpoint}/_aws/execute-api/{api_id}"


def test_http_api_simple_responses(env: dict[str, Any]) -> None:
    api_id, base = _http_api(env, {"Name": "simple", "AuthorizerPayloadFormatVersion": "2.0", "EnableSimpleResponses": True,
                                   "AuthorizerResultTtlInSeconds": 300})
    status, _, body = call(base + "/items/1")
    assert status == 401 and json.loads(body) == {"message": "Unauthorized"}
    status, _, body = call(base + "/items/1", headers={"Authorization": "no"})
    assert status == 403 and json.loads(body) == {"message": "Forbidden"}
    status, _, body = call(base + "/items/1", headers={"Authorization": "yes"})
    assert status == 200, body
    lam = json.loads(body)["requestContext"]["authorizer"]["lambda"]
    assert lam["user"] == "yes" and lam["nested"] == {"a": 1}  # HTTP APIs keep the context's types
    status, _, body = call(base + "/items/2", headers={"Authorization": "yes"})
    assert json.loads(body)["requestContext"]["authorizer"]["lambda"]["nonce"] == lam["nonce"]  # cached
    status, _, body = call(base + "/items/1", headers={"Authorization": "boom"})
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}
    v2 = env["v2"]
    auths = v2.get_authorizers(ApiId=api_id)["Items"]
    assert [a["Name"] for a in auths] == ["simple"] and auths[0]["EnableSimpleResponses"] is True
    with pytest.raises(ClientError) as e:
        v2.delete_authorizer(ApiId=api_id, AuthorizerId=auths[0]["AuthorizerId"])
    assert e.value.response["Error"]["Code"] == "ConflictException"


def test_http_api_policy_responses_payload_1(env: dict[str, Any]) -> None:
    _, base = _http_api(env, {"Name": "policy", "AuthorizerPayloadFormatVersion": "1.0"}, version="1.0")
    status, _, body = call(base + "/items/1", headers={"Authorization": "erin"})
    assert status == 200, body
    authz = json.loads(body)["requestContext"]["authorizer"]
    assert authz["principalId"] == "user-erin" and authz["n"] == 7 and authz["eventType"] == "REQUEST"
    assert "identitySource" in authz["eventKeys"].split(",") and "methodArn" in authz["eventKeys"].split(",")
    status, _, body = call(base + "/items/1", headers={"Authorization": "deny"})
    assert status == 403 and json.loads(body) == {"message": "Forbidden"}
    # UpdateIntegration (auto-deployed): the integration now sends payload 2.0
    v2 = env["v2"]
    api_id = base.rsplit("/", 1)[1]
    integ = v2.get_integrations(ApiId=api_id)["Items"][0]
    out = v2.update_integration(ApiId=api_id, IntegrationId=integ["IntegrationId"], PayloadFormatVersion="2.0")
    assert out["PayloadFormatVersion"] == "2.0"
    status, _, body = call(base + "/items/1", headers={"Authorization": "erin"})
    assert status == 200 and json.loads(body)["version"] == "2.0"
    assert json.loads(body)["requestContext"]["authorizer"]["lambda"]["principalId"] == "user-erin"


def test_flush_authorizer_caches(env: dict[str, Any]) -> None:
    """FlushStageAuthorizersCache (REST) and ResetAuthorizersCache (HTTP APIs) forget the stage's cached results:
    the next request invokes the authorizer again (a new nonce); FlushStageCache answers 202 (nothing cached)."""
    apigw, v2 = env["apigw"], env["v2"]
    api_id, base, _ = _rest_api(env, {"name": "flushed", "type": "TOKEN"})

    def nonce(url: str, token: str, v2_api: bool = False) -> str:
        status, _, body = call(url, headers={"Authorization": token})
        assert status == 200, body
        authz = json.loads(body)["requestContext"]["authorizer"]
        return str((authz["lambda"] if v2_api else authz)["nonce"])
    first = nonce(base + "/items", "gina")
    assert nonce(base + "/items", "gina") == first
    out = apigw.flush_stage_authorizers_cache(restApiId=api_id, stageName="prod")
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert nonce(base + "/items", "gina") != first
    assert apigw.flush_stage_cache(restApiId=api_id, stageName="prod")["ResponseMetadata"]["HTTPStatusCode"] == 202
    for call_, kwargs in ((apigw.flush_stage_authorizers_cache, {"restApiId": api_id, "stageName": "nope"}),
                          (apigw.flush_stage_cache, {"restApiId": "nope", "stageName": "prod"})):
        with pytest.raises(ClientError) as e:
            call_(**kwargs)
        assert e.value.response["Error"]["Code"] == "NotFoundException"
    http_id, http_base = _http_api(env, {"Name": "reset", "AuthorizerPayloadFormatVersion": "2.0", "EnableSimpleResponses": True,
                                         "AuthorizerResultTtlInSeconds": 300})
    first = nonce(http_base + "/items/1", "yes", True)
    assert nonce(http_base + "/items/1", "yes", True) == first
    v2.reset_authorizers_cache(ApiId=http_id, StageName="$default")
    assert nonce(http_base + "/items/1", "yes", True) != first
    with pytest.raises(ClientError) as e:
        v2.reset_authorizers_cache(ApiId=http_id, StageName="nope")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    env["server"].aws("apigatewayv2", "reset-authorizers-cache", "--api-id", http_id, "--stage-name", "$default")
    env["server"].aws("apigateway", "flush-stage-authorizers-cache", "--rest-api-id", api_id, "--stage-name", "prod")


def test_authorizers_survive_restart(env: dict[str, Any]) -> None:
    """Last in the module: restarts the module's server."""
    api_id, base, auth = _rest_api(env, {"name": "durable", "type": "TOKEN"})
    env["server"].restart()
    apigw = env["server"].client("apigateway")
    assert apigw.get_authorizer(restApiId=api_id, authorizerId=auth["id"])["name"] == "durable"
    status, _, body = call(base + "/items", headers={"Authorization": "frank"})
    assert status == 200 and json.loads(body)["requestContext"]["authorizer"]["principalId"] == "user-frank"
    assert call(base + "/items")[0] == 401
    apigw.delete_rest_api(restApiId=api_id)
    assert call(base + "/items", headers={"Authorization": "frank"})[0] == 403

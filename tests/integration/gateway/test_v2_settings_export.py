"""apigatewayv2 UpdateDeployment, the Delete* operations of single settings (CORS, access logs, route
settings, route request parameters) and ExportApi (OpenAPI 3.0, JSON and YAML, imports back with
ImportApi), on a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

FN = "arn:aws:lambda:us-east-1:000000000000:function:exported"
URI = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FN}/invocations"


@pytest.fixture(scope="module")
def env(nimbus_server: Any) -> dict[str, Any]:
    return {"server": nimbus_server, "v2": nimbus_server.client("apigatewayv2")}


def _code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return str(e.value.response["Error"]["Code"])


def test_update_deployment_and_delete_settings(env: dict[str, Any]) -> None:
    v2 = env["v2"]
    api_id = v2.create_api(Name="settings", ProtocolType="HTTP",
                           CorsConfiguration={"AllowOrigins": ["https://a.example"], "MaxAge": 60})["ApiId"]
    integ = v2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=FN)["IntegrationId"]
    route = v2.create_route(ApiId=api_id, RouteKey="GET /items", Target=f"integrations/{integ}",
                            RequestParameters={"route.request.querystring.q": {"Required": True},
                                               "route.request.header.x-id": {"Required": False}})
    dep = v2.create_deployment(ApiId=api_id, Description="first")
    out = v2.update_deployment(ApiId=api_id, DeploymentId=dep["DeploymentId"], Description="renamed")
    assert out["Description"] == "renamed" and out["DeploymentId"] == dep["DeploymentId"]
    assert v2.get_deployment(ApiId=api_id, DeploymentId=dep["DeploymentId"])["Description"] == "renamed"
    assert _code(v2.update_deployment, ApiId=api_id, DeploymentId="nope", Description="x") == "NotFoundException"
    v2.create_stage(ApiId=api_id, StageName="prod", DeploymentId=dep["DeploymentId"],
                    AccessLogSettings={"DestinationArn": "arn:aws:logs:us-east-1:000000000000:log-group:gw", "Format": "$context.requestId"},
                    RouteSettings={"GET /items": {"ThrottlingBurstLimit": 5}, "$default": {"ThrottlingRateLimit": 1.0}})
    # CORS
    v2.delete_cors_configuration(ApiId=api_id)
    assert "CorsConfiguration" not in v2.get_api(ApiId=api_id)
    v2.delete_cors_configuration(ApiId=api_id)  # none left: still fine
    assert _code(v2.delete_cors_configuration, ApiId="nope") == "NotFoundException"
    # access logs and route settings of a stage
    v2.delete_access_log_settings(ApiId=api_id, StageName="prod")
    assert "AccessLogSettings" not in v2.get_stage(ApiId=api_id, StageName="prod")
    assert _code(v2.delete_access_log_settings, ApiId=api_id, StageName="nope") == "NotFoundException"
    v2.delete_route_settings(ApiId=api_id, StageName="prod", RouteKey="GET /items")
    assert list(v2.get_stage(ApiId=api_id, StageName="prod")["RouteSettings"]) == ["$default"]
    assert _code(v2.delete_route_settings, ApiId=api_id, StageName="prod", RouteKey="GET /items") == "NotFoundException"
    # route request parameters
    v2.delete_route_request_parameter(ApiId=api_id, RouteId=route["RouteId"], RequestParameterKey="route.request.header.x-id")
    assert list(v2.get_route(ApiId=api_id, RouteId=route["RouteId"])["RequestParameters"]) == ["route.request.querystring.q"]
    assert _code(v2.delete_route_request_parameter, ApiId=api_id, RouteId=route["RouteId"],
                 RequestParameterKey="route.request.header.x-id") == "NotFoundException"
    assert _code(v2.delete_route_request_parameter, ApiId=api_id, RouteId="nope", RequestParameterKey="x") == "NotFoundException"
    # the AWS CLI, then a restart: what was deleted stays deleted, the renamed deployment stays renamed
    env["server"].aws("apigatewayv2", "delete-route-settings", "--api-id", api_id, "--stage-name", "prod", "--route-key", "$default")
    env["server"].kill9()
    env["server"].start()
    v2 = env["v2"] = env["server"].client("apigatewayv2")
    stage = v2.get_stage(ApiId=api_id, StageName="prod")
    assert stage.get("RouteSettings", {}) == {} and "AccessLogSettings" not in stage
    assert v2.get_deployment(ApiId=api_id, DeploymentId=dep["DeploymentId"])["Description"] == "renamed"


def _export_source(v2: Any) -> str:
    api_id = v2.create_api(Name="exported", ProtocolType="HTTP", Version="v7", Description="to export",
                           CorsConfiguration={"AllowOrigins": ["https://a.example"], "AllowMethods": ["GET"], "MaxAge": 60})["ApiId"]
    proxy = v2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=FN, PayloadFormatVersion="2.0",
                                  TimeoutInMillis=5000)["IntegrationId"]
    old = v2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=URI, PayloadFormatVersion="1.0")["IntegrationId"]
    req = v2.create_authorizer(ApiId=api_id, Name="lambdaAuth", AuthorizerType="REQUEST", AuthorizerUri=URI,
                               AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True, AuthorizerResultTtlInSeconds=60,
                               IdentitySource=["$request.header.Authorization"])["AuthorizerId"]
    jwt = v2.create_authorizer(ApiId=api_id, Name="jwtAuth", AuthorizerType="JWT", IdentitySource=["$request.header.Authorization"],
                               JwtConfiguration={"Issuer": "https://issuer.example", "Audience": ["aud1"]})["AuthorizerId"]
    v2.create_route(ApiId=api_id, RouteKey="GET /items/{id}", Target=f"integrations/{proxy}", AuthorizationType="CUSTOM",
                    AuthorizerId=req, OperationName="getItem")
    v2.create_route(ApiId=api_id, RouteKey="POST /items", Target=f"integrations/{old}", AuthorizationType="JWT", AuthorizerId=jwt,
                    AuthorizationScopes=["write"])
    v2.create_route(ApiId=api_id, RouteKey="ANY /files/{proxy+}", Target=f"integrations/{proxy}", AuthorizationType="AWS_IAM")
    v2.create_route(ApiId=api_id, RouteKey="$default", Target=f"integrations/{proxy}")
    return str(api_id)


def _shape(v2: Any, api_id: str) -> dict[str, Any]:
    """What must survive an export and an import: routes with their integration and authorization, CORS."""
    integs = {i["IntegrationId"]: i for i in v2.get_integrations(ApiId=api_id)["Items"]}
    auths = {a["AuthorizerId"]: a for a in v2.get_authorizers(ApiId=api_id)["Items"]}
    routes = {}
    for r in v2.get_routes(ApiId=api_id)["Items"]:
        integ = integs[r["Target"].split("/")[1]]
        auth = auths.get(r.get("AuthorizerId", ""))
        routes[r["RouteKey"]] = (integ["IntegrationUri"], integ["PayloadFormatVersion"], integ.get("TimeoutInMillis"),
                                 r["AuthorizationType"], auth and auth["Name"], tuple(r.get("AuthorizationScopes") or ()),
                                 r.get("OperationName"))
    authorizers = {a["Name"]: (a["AuthorizerType"], a.get("AuthorizerUri"), tuple(a["IdentitySource"]), a.get("JwtConfiguration"),
                               a.get("EnableSimpleResponses"), a.get("AuthorizerResultTtlInSeconds")) for a in auths.values()}
    api = v2.get_api(ApiId=api_id)
    return {"routes": routes, "authorizers": authorizers, "cors": api.get("CorsConfiguration"), "version": api.get("Version")}


def test_export_imports_back(env: dict[str, Any], tmp_path: Path) -> None:
    server, v2 = env["server"], env["v2"]
    api_id = _export_source(v2)
    body = v2.export_api(ApiId=api_id, Specification="OAS30", OutputType="JSON")["body"].read()
    doc = json.loads(body)
    assert doc["openapi"] == "3.0.1" and doc["info"] == {"title": "exported", "version": "v7", "description": "to export"}
    assert set(doc["paths"]) == {"/items/{id}", "/items", "/files/{proxy+}", "$default"}
    assert doc["paths"]["/items/{id}"]["get"]["x-amazon-apigateway-integration"]["uri"] == FN
    assert doc["paths"]["/items/{id}"]["get"]["parameters"][0]["name"] == "id"
    assert "x-amazon-apigateway-any-method" in doc["paths"]["$default"]
    assert doc["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    imported = v2.import_api(Body=body.decode())
    assert "Warnings" not in imported
    assert _shape(v2, imported["ApiId"]) == _shape(v2, api_id)
    # YAML through the AWS CLI (a stage's deployment), imported back through the AWS CLI
    v2.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
    out = tmp_path / "api.yaml"
    server.aws("apigatewayv2", "export-api", "--api-id", api_id, "--specification", "OAS30", "--output-type", "YAML",
               "--stage-name", "prod", str(out))
    ydoc = yaml.safe_load(out.read_text())
    assert ydoc["servers"][0]["variables"]["basePath"]["default"] == "prod" and len(ydoc["paths"]) == 4
    again = json.loads(server.aws("apigatewayv2", "import-api", "--body", f"file://{out}").stdout)
    assert _shape(v2, again["ApiId"]) == _shape(v2, api_id)
    # without extensions: no integrations, no authorizer settings, no CORS
    bare = json.loads(v2.export_api(ApiId=api_id, Specification="OAS30", OutputType="JSON", IncludeExtensions=False)["body"].read())
    assert "x-amazon-apigateway-cors" not in bare
    assert all("x-amazon-apigateway-integration" not in op for item in bare["paths"].values() for op in item.values())
    # errors
    ws = v2.create_api(Name="ws", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")["ApiId"]
    assert _code(v2.export_api, ApiId=ws, Specification="OAS30", OutputType="JSON") == "BadRequestException"
    assert _code(v2.export_api, ApiId="nope", Specification="OAS30", OutputType="JSON") == "NotFoundException"
    assert _code(v2.export_api, ApiId=api_id, Specification="OAS30", OutputType="JSON", StageName="nope") == "NotFoundException"
    assert _code(v2.export_api, ApiId=api_id, Specification="OAS30", OutputType="JSON", ExportVersion="2.0") == "BadRequestException"

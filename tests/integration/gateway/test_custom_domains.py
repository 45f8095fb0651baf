"""Custom domain names and base path mappings on a real server: the control plane (CreateDomainName,
CreateBasePathMapping and their kin; certificates recorded only) and routing by Host: a request whose
Host is the domain reaches the mapped REST API and stage, by base path."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

CERT = "arn:aws:acm:us-east-1:000000000000:certificate/11111111-2222-3333-4444-555555555555"


@pytest.fixture(scope="module")
def env(nimbus_server: Any) -> dict[str, Any]:
    return {"server": nimbus_server, "apigw": nimbus_server.client("apigateway")}


def _host_call(env: dict[str, Any], host: str, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", env["server"].port, timeout=60)
    try:
        conn.request(method, path, headers={"Host": host})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def _mock_api(apigw: Any, name: str, stages: tuple[str, ...]) -> str:
    """/orders and /orders/{id} answering {"api": name, "stage": <stage variable>} per stage."""
    api_id = apigw.create_rest_api(name=name)["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    orders = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="orders")["id"]
    one = apigw.create_resource(restApiId=api_id, parentId=orders, pathPart="{id}")["id"]
    for rid in (orders, one):
        apigw.put_method(restApiId=api_id, resourceId=rid, httpMethod="GET", authorizationType="NONE")
        apigw.put_integration(restApiId=api_id, resourceId=rid, httpMethod="GET", type="MOCK",
                              requestTemplates={"application/json": '{"statusCode": 200}'})
        apigw.put_integration_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200",
                                       responseTemplates={"application/json": json.dumps({"api": name, "rid": rid})})
    for stage in stages:
        apigw.create_deployment(restApiId=api_id, stageName=stage)
    return str(api_id)


def test_domain_names_control_plane(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    d = apigw.create_domain_name(domainName="edge.example.com", certificateArn=CERT, tags={"a": "1"})
    assert d["domainName"] == "edge.example.com" and d["distributionDomainName"].endswith(".cloudfront.net")
    assert d["distributionHostedZoneId"] == "Z2FDTNDATAQYW2" and d["endpointConfiguration"] == {"types": ["EDGE"]}
    assert d["domainNameStatus"] == "AVAILABLE" and d["tags"] == {"a": "1"} and d["certificateArn"] == CERT
    r = apigw.create_domain_name(domainName="regional.example.com", regionalCertificateArn=CERT,
                                 endpointConfiguration={"types": ["REGIONAL"]}, securityPolicy="TLS_1_2")
    assert r["regionalDomainName"].endswith(".execute-api.us-east-1.amazonaws.com") and r["regionalHostedZoneId"]
    names = [x["domainName"] for x in apigw.get_domain_names()["items"]]
    assert "edge.example.com" in names and "regional.example.com" in names
    assert apigw.get_domain_name(domainName="edge.example.com")["certificateArn"] == CERT
    out = apigw.update_domain_name(domainName="regional.example.com", patchOperations=[
        {"op": "replace", "path": "/regionalCertificateArn", "value": CERT + "x"}])
    assert out["regionalCertificateArn"] == CERT + "x"
    assert apigw.get_tags(resourceArn=d["domainNameArn"])["tags"] == {"a": "1"}
    for kwargs, code in (({"domainName": "edge.example.com", "certificateArn": CERT}, "ConflictException"),
                         ({"domainName": "nocert.example.com"}, "BadRequestException"),
                         ({"domainName": "bad_name!", "certificateArn": CERT}, "BadRequestException")):
        with pytest.raises(ClientError) as e:
            apigw.create_domain_name(**kwargs)
        assert e.value.response["Error"]["Code"] == code, kwargs
    with pytest.raises(ClientError) as e:
        apigw.get_domain_name(domainName="absent.example.com")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    # other regions do not see it
    assert "edge.example.com" not in [x["domainName"] for x in env["server"].client("apigateway", region="eu-west-1").get_domain_names()["items"]]

    api_id = _mock_api(apigw, "mapped", ("prod",))
    m = apigw.create_base_path_mapping(domainName="edge.example.com", restApiId=api_id, stage="prod")
    assert m == {**m, "basePath": "(none)", "restApiId": api_id, "stage": "prod"}
    apigw.create_base_path_mapping(domainName="edge.example.com", restApiId=api_id, basePath="v1")
    assert [x["basePath"] for x in apigw.get_base_path_mappings(domainName="edge.example.com")["items"]] == ["(none)", "v1"]
    for kwargs, code in (({"restApiId": api_id, "basePath": "v1"}, "ConflictException"),
                         ({"restApiId": "nope", "basePath": "v2"}, "BadRequestException"),
                         ({"restApiId": api_id, "basePath": "v2", "stage": "nope"}, "BadRequestException")):
        with pytest.raises(ClientError) as e:
            apigw.create_base_path_mapping(domainName="edge.example.com", **kwargs)
        assert e.value.response["Error"]["Code"] == code, kwargs
    out = apigw.update_base_path_mapping(domainName="edge.example.com", basePath="v1", patchOperations=[
        {"op": "replace", "path": "/basePath", "value": "v2"}, {"op": "replace", "path": "/stage", "value": "prod"}])
    assert out["basePath"] == "v2" and out["stage"] == "prod"
    assert apigw.get_base_path_mapping(domainName="edge.example.com", basePath="v2")["stage"] == "prod"
    with pytest.raises(ClientError) as e:
        apigw.get_base_path_mapping(domainName="edge.example.com", basePath="v1")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    apigw.delete_base_path_mapping(domainName="edge.example.com", basePath="v2")
    apigw.delete_domain_name(domainName="regional.example.com")
    with pytest.raises(ClientError) as e:
        apigw.delete_domain_name(domainName="regional.example.com")
    assert e.value.response["Error"]["Code"] == "NotFoundException"


def test_host_routes_to_the_mapped_api_and_stage(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    orders = _mock_api(apigw, "orders", ("prod", "beta"))
    users = _mock_api(apigw, "users", ("live",))
    apigw.create_domain_name(domainName="api.example.com", certificateArn=CERT)
    # before any mapping: the domain answers 403 Forbidden
    status, _, body = _host_call(env, "api.example.com", "/orders")
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    apigw.create_base_path_mapping(domainName="api.example.com", restApiId=orders, stage="prod")
    apigw.create_base_path_mapping(domainName="api.example.com", restApiId=users, basePath="people", stage="live")
    apigw.create_base_path_mapping(domainName="api.example.com", restApiId=orders, basePath="any")  # stage from the path
    status, headers, body = _host_call(env, "api.example.com", "/orders")
    assert status == 200 and json.loads(body)["api"] == "orders" and "x-amzn-requestid" in headers
    status, _, body = _host_call(env, "api.example.com:4566", "/orders/42")  # a port in Host is fine
    assert status == 200 and json.loads(body)["api"] == "orders"
    status, _, body = _host_call(env, "API.example.com", "/people/orders")  # the base path is stripped
    assert status == 200 and json.loads(body)["api"] == "users"
    status, _, body = _host_call(env, "api.example.com", "/any/beta/orders")
    assert status == 200 and json.loads(body)["api"] == "orders"
    assert _host_call(env, "api.example.com", "/any/nostage/orders")[0] == 403
    assert _host_call(env, "api.example.com", "/missing")[0] == 403  # no such resource: Missing Authentication Token
    assert json.loads(_host_call(env, "api.example.com", "/missing")[2]) == {"message": "Missing Authentication Token"}
    # AWS API calls and the execute-api forms are unaffected
    assert apigw.get_rest_api(restApiId=orders)["name"] == "orders"
    # mappings survive a restart; a deleted domain stops routing
    env["server"].restart()
    status, _, body = _host_call(env, "api.example.com", "/people/orders/7")
    assert status == 200 and json.loads(body)["api"] == "users"
    apigw = env["server"].client("apigateway")
    apigw.delete_domain_name(domainName="api.example.com")
    status, _, _ = _host_call(env, "api.example.com", "/orders")
    assert status != 200


def test_lambda_proxy_event_through_a_custom_domain(env: dict[str, Any]) -> None:
    from tests.integration.gateway.test_authorizers import _uri
    from tests.integration.gateway.test_gateway import ECHO, _create_function

    apigw, lam = env["apigw"], env["server"].client("lambda")
    fn = _create_function(lam, "domain-echo", ECHO)
    api_id = apigw.create_rest_api(name="fn")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    proxy = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="{proxy+}")["id"]
    apigw.put_method(restApiId=api_id, resourceId=proxy, httpMethod="ANY", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=proxy, httpMethod="ANY", type="AWS_PROXY", integrationHttpMethod="POST",
                          uri=_uri(fn))
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    lam.add_permission(FunctionName="domain-echo", StatementId="apigw", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com", SourceArn=f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/*")
    apigw.create_domain_name(domainName="fn.example.com", certificateArn=CERT)
    apigw.create_base_path_mapping(domainName="fn.example.com", restApiId=api_id, basePath="v1", stage="prod")
    status, _, body = _host_call(env, "fn.example.com", "/v1/hello/world?x=1")
    assert status == 200
    event = json.loads(body)
    # as AWS: the resource and path parameters as mapped, the path as sent (base path included)
    assert event["resource"] == "/{proxy+}" and event["pathParameters"] == {"proxy": "hello/world"}
    assert event["path"] == "/v1/hello/world" and event["requestContext"]["path"] == "/v1/hello/world"
    assert event["requestContext"]["domainName"] == "fn.example.com" and event["requestContext"]["stage"] == "prod"
    assert event["queryStringParameters"] == {"x": "1"}


def test_apigatewayv2_domain_names_and_api_mappings(env: dict[str, Any]) -> None:
    from tests.integration.gateway.test_gateway import ECHO, _create_function

    apigw, v2, lam = env["apigw"], env["server"].client("apigatewayv2"), env["server"].client("lambda")
    fn = _create_function(lam, "domain-http", ECHO)
    http_api = v2.create_api(Name="h", ProtocolType="HTTP", Target=fn)["ApiId"]
    lam.add_permission(FunctionName="domain-http", StatementId="apigw", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com", SourceArn=f"arn:aws:execute-api:us-east-1:000000000000:{http_api}/*")
    rest_api = _mock_api(apigw, "v2rest", ("prod",))
    d = v2.create_domain_name(DomainName="v2.example.com", DomainNameConfigurations=[{"CertificateArn": CERT, "EndpointType": "REGIONAL"}],
                              Tags={"t": "1"})
    cfg = d["DomainNameConfigurations"][0]
    assert d["ApiMappingSelectionExpression"] == "$request.basepath" and cfg["EndpointType"] == "REGIONAL"
    assert cfg["ApiGatewayDomainName"].endswith(".execute-api.us-east-1.amazonaws.com") and cfg["DomainNameStatus"] == "AVAILABLE"
    assert apigw.get_domain_name(domainName="v2.example.com")["regionalCertificateArn"] == CERT  # one resource, two views
    assert "v2.example.com" in [x["DomainName"] for x in v2.get_domain_names()["Items"]]
    m = v2.create_api_mapping(DomainName="v2.example.com", ApiId=http_api, Stage="$default", ApiMappingKey="h")
    assert m["ApiMappingKey"] == "h" and m["ApiMappingId"]
    apigw.create_base_path_mapping(domainName="v2.example.com", restApiId=rest_api, stage="prod")  # through v1
    mappings = {x.get("ApiMappingKey", ""): x for x in v2.get_api_mappings(DomainName="v2.example.com")["Items"]}
    assert mappings[""]["ApiId"] == rest_api and mappings["h"]["ApiId"] == http_api
    assert v2.get_api_mapping(DomainName="v2.example.com", ApiMappingId=m["ApiMappingId"])["Stage"] == "$default"
    for kwargs, code in (({"ApiId": http_api, "Stage": "$default", "ApiMappingKey": "h"}, "ConflictException"),
                         ({"ApiId": "nope", "Stage": "$default", "ApiMappingKey": "x"}, "NotFoundException"),
                         ({"ApiId": http_api, "Stage": "nope", "ApiMappingKey": "x"}, "NotFoundException")):
        with pytest.raises(ClientError) as e:
            v2.create_api_mapping(DomainName="v2.example.com", **kwargs)
        assert e.value.response["Error"]["Code"] == code, kwargs
    # the Host routes the mapping key to the HTTP API's stage (key stripped) and the rest to the REST API
    status, _, body = _host_call(env, "v2.example.com", "/h/some/path?x=1")
    assert status == 200
    event = json.loads(body)
    assert event["rawPath"] == "/some/path" and event["requestContext"]["domainName"] == "v2.example.com"
    status, _, body = _host_call(env, "v2.example.com", "/orders")
    assert status == 200 and json.loads(body)["api"] == "v2rest"
    out = v2.update_api_mapping(DomainName="v2.example.com", ApiMappingId=m["ApiMappingId"], ApiId=http_api, ApiMappingKey="h2")
    assert out["ApiMappingKey"] == "h2"
    assert _host_call(env, "v2.example.com", "/h2/x")[0] == 200
    v2.delete_api_mapping(DomainName="v2.example.com", ApiMappingId=m["ApiMappingId"])
    with pytest.raises(ClientError) as e:
        v2.get_api_mapping(DomainName="v2.example.com", ApiMappingId=m["ApiMappingId"])
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    v2.delete_domain_name(DomainName="v2.example.com")
    with pytest.raises(ClientError) as e:
        apigw.get_domain_name(domainName="v2.example.com")
    assert e.value.response["Error"]["Code"] == "NotFoundException"


def test_the_aws_cli_flow(env: dict[str, Any]) -> None:
    """The documented flow, with the AWS CLI: a domain, a (none) mapping, then a request by Host."""
    api_id = _mock_api(env["apigw"], "cli", ("prod",))
    server = env["server"]
    out = json.loads(server.aws("apigateway", "create-domain-name", "--domain-name", "cli.example.com", "--certificate-arn", CERT).stdout)
    assert out["domainName"] == "cli.example.com"
    server.aws("apigateway", "create-base-path-mapping", "--domain-name", "cli.example.com", "--rest-api-id", api_id, "--stage", "prod")
    listed = json.loads(server.aws("apigateway", "get-base-path-mappings", "--domain-name", "cli.example.com").stdout)
    assert listed["items"] == [{"basePath": "(none)", "restApiId": api_id, "stage": "prod"}]
    status, _, body = _host_call(env, "cli.example.com", "/orders")
    assert status == 200 and json.loads(body)["api"] == "cli"
    server.aws("apigateway", "delete-base-path-mapping", "--domain-name", "cli.example.com", "--base-path", "(none)")
    assert _host_call(env, "cli.example.com", "/orders")[0] == 403


def test_an_api_with_mappings_cannot_be_deleted(env: dict[str, Any]) -> None:
    apigw, v2 = env["apigw"], env["server"].client("apigatewayv2")
    rest_api = _mock_api(apigw, "mapped-rest", ("prod",))
    http_api = v2.create_api(Name="mapped-http", ProtocolType="HTTP")["ApiId"]
    v2.create_stage(ApiId=http_api, StageName="live")
    for name in ("b.mapped.example.com", "a.mapped.example.com"):
        apigw.create_domain_name(domainName=name, regionalCertificateArn=CERT, endpointConfiguration={"types": ["REGIONAL"]})
        apigw.create_base_path_mapping(domainName=name, restApiId=rest_api, stage="prod", basePath="shop")
    m = v2.create_api_mapping(DomainName="a.mapped.example.com", ApiId=http_api, Stage="live", ApiMappingKey="h")
    with pytest.raises(ClientError) as e:
        apigw.delete_rest_api(restApiId=rest_api)
    err = e.value.response["Error"]
    assert err["Code"] == "BadRequestException"
    assert err["Message"] == (f"Deleting RestApi {rest_api} failed. Please remove all base path mappings related to the "
                              "RestApi in your domains: a.mapped.example.com, b.mapped.example.com")
    with pytest.raises(ClientError) as e:
        v2.delete_api(ApiId=http_api)
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    assert "Please remove all API mappings" in e.value.response["Error"]["Message"]
    # nothing was deleted: the APIs still answer
    assert apigw.get_rest_api(restApiId=rest_api)["name"] == "mapped-rest"
    assert v2.get_api(ApiId=http_api)["Name"] == "mapped-http"
    assert _host_call(env, "a.mapped.example.com", "/shop/orders")[0] == 200
    # an unknown API is still NotFoundException
    with pytest.raises(ClientError) as e:
        apigw.delete_rest_api(restApiId="nope123456")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    # once the mappings are gone, the deletes go through
    v2.delete_api_mapping(DomainName="a.mapped.example.com", ApiMappingId=m["ApiMappingId"])
    v2.delete_api(ApiId=http_api)
    for name in ("a.mapped.example.com", "b.mapped.example.com"):
        apigw.delete_base_path_mapping(domainName=name, basePath="shop")
    apigw.delete_rest_api(restApiId=rest_api)
    with pytest.raises(ClientError) as e:
        apigw.get_rest_api(restApiId=rest_api)
    assert e.value.response["Error"]["Code"] == "NotFoundException"

"""Routing rules of custom domain names (apigatewayv2 CreateRoutingRule & co.) on a real server: the
control plane with its errors, serving by the domain's routing mode (rules by priority on headers and
base paths, then API mappings), the AWS CLI and a kill -9."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

CERT = "arn:aws:acm:us-east-1:000000000000:certificate/11111111-2222-3333-4444-555555555555"
DOMAIN = "rules.example.com"


def _code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return str(e.value.response["Error"]["Code"])


def _call(server: Any, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": DOMAIN, **(headers or {})})
        r = conn.getresponse()
        body = r.read()
        return r.status, json.loads(body) if body else None
    finally:
        conn.close()


def _mock_api(apigw: Any, name: str) -> str:
    """GET /pets and GET /v1/pets answering {"api": name, "path": <resource>}, deployed to prod."""
    api = apigw.create_rest_api(name=name)
    parent = api["rootResourceId"]
    for part, path in (("pets", "/pets"), ("v1", None), ("pets", "/v1/pets")):
        res = apigw.create_resource(restApiId=api["id"], parentId=parent, pathPart=part)["id"]
        if path is None:
            parent = res
            continue
        apigw.put_method(restApiId=api["id"], resourceId=res, httpMethod="GET", authorizationType="NONE")
        apigw.put_integration(restApiId=api["id"], resourceId=res, httpMethod="GET", type="MOCK",
                              requestTemplates={"application/json": '{"statusCode": 200}'})
        apigw.put_integration_response(restApiId=api["id"], resourceId=res, httpMethod="GET", statusCode="200",
                                       responseTemplates={"application/json": json.dumps({"api": name, "path": path})})
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    return str(api["id"])


def test_routing_rules(nimbus_server: Any) -> None:
    server = nimbus_server
    v1, v2 = server.client("apigateway"), server.client("apigatewayv2")
    blue, green, mapped = _mock_api(v1, "blue"), _mock_api(v1, "green"), _mock_api(v1, "mapped")
    v2.create_domain_name(DomainName=DOMAIN, DomainNameConfigurations=[{"CertificateArn": CERT}], RoutingMode="ROUTING_RULE_ONLY")
    v2.create_api_mapping(DomainName=DOMAIN, ApiId=mapped, Stage="prod")
    beta = v2.create_routing_rule(DomainName=DOMAIN, Priority=10,
                                  Conditions=[{"MatchHeaders": {"AnyOf": [{"Header": "X-Version", "ValueGlob": "beta*"}]}},
                                              {"MatchBasePaths": {"AnyOf": ["v1"]}}],
                                  Actions=[{"InvokeApi": {"ApiId": green, "Stage": "prod", "StripBasePath": True}}])
    assert beta["RoutingRuleArn"] == f"arn:aws:apigateway:us-east-1:000000000000:/domainnames/{DOMAIN}/routingrules/{beta['RoutingRuleId']}"
    catch_all = v2.create_routing_rule(DomainName=DOMAIN, Priority=100, Conditions=[],
                                       Actions=[{"InvokeApi": {"ApiId": blue, "Stage": "prod"}}])
    # served by priority: the beta header and the v1 base path (stripped) go to green; anything else to blue
    assert _call(server, "/v1/pets", {"x-version": "beta-2"}) == (200, {"api": "green", "path": "/pets"})
    assert _call(server, "/v1/pets", {"X-Version": "Beta"}) == (200, {"api": "blue", "path": "/v1/pets"})  # globs are case-sensitive
    assert _call(server, "/pets", {"x-version": "beta"}) == (200, {"api": "blue", "path": "/pets"})
    # ROUTING_RULE_ONLY ignores the API mapping; without a matching rule: 403
    v2.delete_routing_rule(DomainName=DOMAIN, RoutingRuleId=catch_all["RoutingRuleId"])
    assert _call(server, "/pets")[0] == 403
    # rules, then mappings
    v2.update_domain_name(DomainName=DOMAIN, RoutingMode="ROUTING_RULE_THEN_API_MAPPING")
    assert _call(server, "/pets") == (200, {"api": "mapped", "path": "/pets"})
    assert _call(server, "/v1/pets", {"x-version": "beta"}) == (200, {"api": "green", "path": "/pets"})
    # PutRoutingRule replaces a rule (same id): no stripping now
    out = v2.put_routing_rule(DomainName=DOMAIN, RoutingRuleId=beta["RoutingRuleId"], Priority=20,
                              Conditions=[{"MatchBasePaths": {"AnyOf": ["v1"]}}],
                              Actions=[{"InvokeApi": {"ApiId": green, "Stage": "prod", "StripBasePath": False}}])
    assert out["RoutingRuleId"] == beta["RoutingRuleId"] and out["Priority"] == 20
    assert _call(server, "/v1/pets") == (200, {"api": "green", "path": "/v1/pets"})
    # errors store nothing
    ok = {"Conditions": [], "Actions": [{"InvokeApi": {"ApiId": blue, "Stage": "prod"}}]}
    for kwargs, code in (({"Priority": 20, **ok}, "ConflictException"),
                         ({"Priority": 1_000_001, **ok}, "BadRequestException"),
                         ({"Priority": 30, "Conditions": [], "Actions": [{"InvokeApi": {"ApiId": blue, "Stage": "nope"}}]},
                          "BadRequestException"),
                         ({"Priority": 30, "Conditions": [], "Actions": [{"InvokeApi": {"ApiId": "nope", "Stage": "prod"}}]},
                          "BadRequestException"),
                         ({**ok, "Priority": 30, "Conditions": [{"MatchHeaders": {"AnyOf": [{"Header": "h", "ValueGlob": "a*b"}]}}]},
                          "BadRequestException"),
                         ({**ok, "Priority": 30, "Conditions": [{"MatchBasePaths": {"AnyOf": ["a"]}}, {"MatchBasePaths": {"AnyOf": ["b"]}}]},
                          "BadRequestException")):
        assert _code(v2.create_routing_rule, DomainName=DOMAIN, **kwargs) == code, kwargs
    assert _code(v2.create_routing_rule, DomainName="nope.example.com", Priority=1, **ok) == "NotFoundException"
    assert _code(v2.get_routing_rule, DomainName=DOMAIN, RoutingRuleId="nope") == "NotFoundException"
    assert [r["Priority"] for r in v2.list_routing_rules(DomainName=DOMAIN)["RoutingRules"]] == [20]
    # the AWS CLI, then kill -9
    cli = json.loads(server.aws("apigatewayv2", "list-routing-rules", "--domain-name", DOMAIN).stdout)
    assert [r["RoutingRuleId"] for r in cli["RoutingRules"]] == [beta["RoutingRuleId"]]
    server.kill9()
    server.start()
    v2 = server.client("apigatewayv2")
    assert v2.get_routing_rule(DomainName=DOMAIN, RoutingRuleId=beta["RoutingRuleId"])["Priority"] == 20
    assert _call(server, "/v1/pets") == (200, {"api": "green", "path": "/v1/pets"})

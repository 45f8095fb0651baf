"""apigatewayv2 TagResource / UntagResource / GetTags (APIs, stages, domain names, VPC links) and VPC
links of both APIs (recorded only), on a real server; the records survive a kill -9."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

NLB = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/my-nlb/0123456789abcdef"


@pytest.fixture(scope="module")
def env(nimbus_server: Any) -> dict[str, Any]:
    return {"server": nimbus_server, "v2": nimbus_server.client("apigatewayv2"), "v1": nimbus_server.client("apigateway")}


def _code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return str(e.value.response["Error"]["Code"])


def test_v2_tags(env: dict[str, Any]) -> None:
    v2, v1 = env["v2"], env["v1"]
    api = v2.create_api(Name="tagged", ProtocolType="HTTP", Tags={"team": "a"})
    arn = f"arn:aws:apigateway:us-east-1::/apis/{api['ApiId']}"
    assert v2.get_tags(ResourceArn=arn)["Tags"] == {"team": "a"}
    v2.tag_resource(ResourceArn=arn, Tags={"env": "dev", "team": "b"})
    assert v2.get_api(ApiId=api["ApiId"])["Tags"] == {"team": "b", "env": "dev"}
    v2.untag_resource(ResourceArn=arn, TagKeys=["team", "absent"])
    assert v2.get_tags(ResourceArn=arn)["Tags"] == {"env": "dev"}
    # a WebSocket API's stage
    ws = v2.create_api(Name="ws", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")
    v2.create_stage(ApiId=ws["ApiId"], StageName="prod", Tags={"tier": "1"})
    stage_arn = f"arn:aws:apigateway:us-east-1::/apis/{ws['ApiId']}/stages/prod"
    v2.tag_resource(ResourceArn=stage_arn, Tags={"x": "y"})
    assert v2.get_stage(ApiId=ws["ApiId"], StageName="prod")["Tags"] == {"tier": "1", "x": "y"}
    # a domain name: tags given at creation show through GetTags, and both APIs see the same tags
    v2.create_domain_name(DomainName="tags.example.com", Tags={"d": "1"},
                          DomainNameConfigurations=[{"CertificateArn": "arn:aws:acm:us-east-1:000000000000:certificate/x"}])
    dom_arn = "arn:aws:apigateway:us-east-1::/domainnames/tags.example.com"
    assert v2.get_tags(ResourceArn=dom_arn)["Tags"] == {"d": "1"}
    v2.tag_resource(ResourceArn=dom_arn, Tags={"e": "2"})
    assert v2.get_domain_name(DomainName="tags.example.com")["Tags"] == {"d": "1", "e": "2"}
    assert v1.get_tags(resourceArn=dom_arn)["tags"] == {"d": "1", "e": "2"}
    # errors: unknown resources, another region, reserved keys, a malformed ARN; nothing is stored
    for bad in (f"arn:aws:apigateway:us-east-1::/apis/nope", f"{arn}/stages/nope", "arn:aws:apigateway:us-east-1::/vpclinks/nope",
                f"arn:aws:apigateway:eu-west-1::/apis/{api['ApiId']}", "arn:aws:apigateway:us-east-1::/domainnames/nope.example.com"):
        assert _code(v2.get_tags, ResourceArn=bad) == "NotFoundException", bad
        assert _code(v2.tag_resource, ResourceArn=bad, Tags={"a": "b"}) == "NotFoundException", bad
    assert _code(v2.get_tags, ResourceArn="not-an-arn") == "BadRequestException"
    assert _code(v2.tag_resource, ResourceArn=arn, Tags={"aws:x": "1"}) == "BadRequestException"
    assert _code(v2.tag_resource, ResourceArn=arn, Tags={f"k{i}": "v" for i in range(50)}) == "BadRequestException"
    assert v2.get_tags(ResourceArn=arn)["Tags"] == {"env": "dev"}


def test_vpc_links_and_restart(env: dict[str, Any]) -> None:
    server, v2, v1 = env["server"], env["v2"], env["v1"]
    link = v2.create_vpc_link(Name="link", SubnetIds=["subnet-1", "subnet-2"], SecurityGroupIds=["sg-1"], Tags={"k": "v"})
    assert link["VpcLinkStatus"] == "AVAILABLE" and link["VpcLinkVersion"] == "V2" and link["Tags"] == {"k": "v"}
    link_arn = f"arn:aws:apigateway:us-east-1::/vpclinks/{link['VpcLinkId']}"
    v2.tag_resource(ResourceArn=link_arn, Tags={"k2": "v2"})
    assert v2.update_vpc_link(VpcLinkId=link["VpcLinkId"], Name="renamed")["Name"] == "renamed"
    assert [x["VpcLinkId"] for x in v2.get_vpc_links()["Items"]] == [link["VpcLinkId"]]
    gone = v2.create_vpc_link(Name="gone", SubnetIds=["subnet-3"])
    v2.delete_vpc_link(VpcLinkId=gone["VpcLinkId"])
    assert _code(v2.get_vpc_link, VpcLinkId=gone["VpcLinkId"]) == "NotFoundException"
    assert _code(v2.delete_vpc_link, VpcLinkId="nope") == "NotFoundException"
    assert _code(v2.create_vpc_link, Name="x", SubnetIds=[]) == "BadRequestException"
    # v1 (network load balancers)
    l1 = v1.create_vpc_link(name="nlb-link", targetArns=[NLB], description="d", tags={"a": "1"})
    assert l1["status"] == "AVAILABLE" and l1["targetArns"] == [NLB]
    l1_arn = f"arn:aws:apigateway:us-east-1::/vpclinks/{l1['id']}"
    v1.tag_resource(resourceArn=l1_arn, tags={"b": "2"})
    out = v1.update_vpc_link(vpcLinkId=l1["id"], patchOperations=[{"op": "replace", "path": "/name", "value": "nlb2"},
                                                                   {"op": "replace", "path": "/description", "value": "d2"}])
    assert (out["name"], out["description"]) == ("nlb2", "d2")
    assert _code(v1.create_vpc_link, name="bad", targetArns=["arn:aws:s3:::bucket"]) == "BadRequestException"
    assert _code(v1.update_vpc_link, vpcLinkId=l1["id"], patchOperations=[{"op": "replace", "path": "/targetArns", "value": "x"}]) \
        == "BadRequestException"
    # a link an integration uses cannot be deleted
    api_id = v1.create_rest_api(name="vpc")["id"]
    root = v1.get_resources(restApiId=api_id)["items"][0]["id"]
    v1.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    v1.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="HTTP_PROXY", integrationHttpMethod="GET",
                       uri="http://internal.example/", connectionType="VPC_LINK", connectionId=l1["id"])
    assert _code(v1.delete_vpc_link, vpcLinkId=l1["id"]) == "ConflictException"
    v1.delete_integration(restApiId=api_id, resourceId=root, httpMethod="GET")
    spare = v1.create_vpc_link(name="spare", targetArns=[NLB])
    v1.delete_vpc_link(vpcLinkId=spare["id"])
    # the AWS CLI round trip
    cli = json.loads(server.aws("apigatewayv2", "get-vpc-link", "--vpc-link-id", link["VpcLinkId"]).stdout)
    assert cli["Name"] == "renamed" and cli["Tags"] == {"k": "v", "k2": "v2"}
    cli = json.loads(server.aws("apigateway", "get-vpc-links").stdout)
    assert [x["id"] for x in cli["items"]] == [l1["id"]]
    # durable once answered: kill -9, start again
    server.kill9()
    server.start()
    v1, v2 = server.client("apigateway"), server.client("apigatewayv2")
    got = v2.get_vpc_link(VpcLinkId=link["VpcLinkId"])
    assert got["Name"] == "renamed" and got["Tags"] == {"k": "v", "k2": "v2"} and got["SubnetIds"] == ["subnet-1", "subnet-2"]
    assert v1.get_tags(resourceArn=l1_arn)["tags"] == {"a": "1", "b": "2"}
    assert v1.get_vpc_link(vpcLinkId=l1["id"])["name"] == "nlb2"
    assert _code(v1.get_vpc_link, vpcLinkId=spare["id"]) == "NotFoundException"
    env["v1"], env["v2"] = v1, v2

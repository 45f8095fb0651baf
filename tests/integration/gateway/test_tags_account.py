"""Tags (TagResource, UntagResource, GetTags by ARN: REST APIs, stages, domain names, API keys, usage
plans) and the account settings (GetAccount, UpdateAccount) of API Gateway, on a real server."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def env(nimbus_server: Any) -> dict[str, Any]:
    return {"server": nimbus_server, "apigw": nimbus_server.client("apigateway")}


def _mock_api(apigw: Any, **kwargs: Any) -> str:
    api_id = apigw.create_rest_api(name="tagged", **kwargs)["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    return str(api_id)


def test_tags_on_apis_and_stages(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    api_id = _mock_api(apigw, tags={"team": "a"})
    arn = f"arn:aws:apigateway:us-east-1::/restapis/{api_id}"
    assert apigw.get_tags(resourceArn=arn)["tags"] == {"team": "a"}
    apigw.tag_resource(resourceArn=arn, tags={"env": "dev", "team": "b"})
    assert apigw.get_tags(resourceArn=arn)["tags"] == {"team": "b", "env": "dev"}
    assert apigw.get_rest_api(restApiId=api_id)["tags"] == {"team": "b", "env": "dev"}
    apigw.untag_resource(resourceArn=arn, tagKeys=["team", "absent"])
    assert apigw.get_tags(resourceArn=arn)["tags"] == {"env": "dev"}
    dep = apigw.create_deployment(restApiId=api_id)
    apigw.create_stage(restApiId=api_id, stageName="s1", deploymentId=dep["id"], tags={"tier": "1"})
    stage_arn = f"{arn}/stages/s1"
    assert apigw.get_tags(resourceArn=stage_arn)["tags"] == {"tier": "1"}
    apigw.tag_resource(resourceArn=stage_arn, tags={"x": "y"})
    assert apigw.get_stage(restApiId=api_id, stageName="s1")["tags"] == {"tier": "1", "x": "y"}
    key = apigw.create_api_key(name="k", tags={"k": "1"})
    apigw.tag_resource(resourceArn=f"arn:aws:apigateway:us-east-1::/apikeys/{key['id']}", tags={"k2": "2"})
    assert apigw.get_api_key(apiKey=key["id"])["tags"] == {"k": "1", "k2": "2"}
    # errors: unknown resources, another region, reserved keys, a malformed ARN
    for bad_arn, code in ((f"arn:aws:apigateway:us-east-1::/restapis/nope", "NotFoundException"),
                          (f"{arn}/stages/nope", "NotFoundException"),
                          (f"arn:aws:apigateway:eu-west-1::/restapis/{api_id}", "NotFoundException"),
                          ("not-an-arn", "BadRequestException")):
        with pytest.raises(ClientError) as e:
            apigw.get_tags(resourceArn=bad_arn)
        assert e.value.response["Error"]["Code"] == code, bad_arn
    with pytest.raises(ClientError) as e:
        apigw.tag_resource(resourceArn=arn, tags={"aws:x": "1"})
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        apigw.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(51)})
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    # an API of another region is not found through that region's ARN
    other = env["server"].client("apigateway", region="eu-west-1")
    eu_api = other.create_rest_api(name="eu")["id"]
    other.tag_resource(resourceArn=f"arn:aws:apigateway:eu-west-1::/restapis/{eu_api}", tags={"r": "eu"})
    with pytest.raises(ClientError) as e:
        apigw.get_tags(resourceArn=f"arn:aws:apigateway:us-east-1::/restapis/{eu_api}")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    env["server"].restart()
    apigw = env["server"].client("apigateway")
    assert apigw.get_tags(resourceArn=arn)["tags"] == {"env": "dev"}
    assert apigw.get_tags(resourceArn=stage_arn)["tags"] == {"tier": "1", "x": "y"}


def test_account(env: dict[str, Any]) -> None:
    apigw = env["apigw"]
    acct = apigw.get_account()
    assert acct["throttleSettings"] == {"burstLimit": 5000, "rateLimit": 10000.0} and "cloudwatchRoleArn" not in acct
    role = "arn:aws:iam::000000000000:role/apigw-logs"
    out = apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
    assert out["cloudwatchRoleArn"] == role
    for ops in ([{"op": "replace", "path": "/cloudwatchRoleArn", "value": "nope"}],
                [{"op": "replace", "path": "/throttle/rateLimit", "value": "1"}]):
        with pytest.raises(ClientError) as e:
            apigw.update_account(patchOperations=ops)
        assert e.value.response["Error"]["Code"] == "BadRequestException"
    # per region
    assert "cloudwatchRoleArn" not in env["server"].client("apigateway", region="eu-west-1").get_account()
    env["server"].restart()
    assert env["server"].client("apigateway").get_account()["cloudwatchRoleArn"] == role

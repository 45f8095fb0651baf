"""Instance profiles: recorded as IAM keeps them (Terraform creates, reads and deletes them beside roles)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


@pytest.fixture(scope="module")
def iam(nimbus_server: NimbusProcess) -> Any:
    return nimbus_server.client("iam")


def _code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return e.value.response["Error"]["Code"]


def test_lifecycle(iam: Any) -> None:
    iam.create_role(RoleName="web-role", AssumeRolePolicyDocument=TRUST)
    created = iam.create_instance_profile(InstanceProfileName="web", Path="/app/", Tags=[{"Key": "team", "Value": "a"}])["InstanceProfile"]
    assert created["Arn"] == "arn:aws:iam::000000000000:instance-profile/app/web"
    assert created["InstanceProfileId"].startswith("AIPA") and created["Roles"] == []
    with pytest.raises(ClientError) as e:
        iam.create_instance_profile(InstanceProfileName="WEB")
    assert _code(e) == "EntityAlreadyExists"
    iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="web-role")
    got = iam.get_instance_profile(InstanceProfileName="web")["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == ["web-role"] and got["Tags"] == [{"Key": "team", "Value": "a"}]
    with pytest.raises(ClientError) as e:
        iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="web-role")
    assert _code(e) == "LimitExceeded"
    assert [p["InstanceProfileName"] for p in iam.list_instance_profiles_for_role(RoleName="web-role")["InstanceProfiles"]] == ["web"]
    assert [p["InstanceProfileName"] for p in iam.list_instance_profiles(PathPrefix="/app/")["InstanceProfiles"]] == ["web"]
    assert iam.list_instance_profiles(PathPrefix="/other/")["InstanceProfiles"] == []
    # the role and the profile hold each other: each must be let go first, as IAM says
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName="web-role")
    assert _code(e) == "DeleteConflict"
    with pytest.raises(ClientError) as e:
        iam.delete_instance_profile(InstanceProfileName="web")
    assert _code(e) == "DeleteConflict"
    iam.tag_instance_profile(InstanceProfileName="web", Tags=[{"Key": "env", "Value": "dev"}])
    iam.untag_instance_profile(InstanceProfileName="web", TagKeys=["team"])
    assert iam.list_instance_profile_tags(InstanceProfileName="web")["Tags"] == [{"Key": "env", "Value": "dev"}]
    iam.remove_role_from_instance_profile(InstanceProfileName="web", RoleName="web-role")
    iam.delete_instance_profile(InstanceProfileName="web")
    iam.delete_role(RoleName="web-role")
    with pytest.raises(ClientError) as e:
        iam.get_instance_profile(InstanceProfileName="web")
    assert _code(e) == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="web-role")
    assert _code(e) == "NoSuchEntity"

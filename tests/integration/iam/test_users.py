"""IAM users end to end with boto3 and the AWS CLI: lifecycle, rename, tags, permissions boundaries, attached
and inline policies (counted and listed with the policy's entities), paging and every error path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.iam.conftest import BASIC, S3_READ, doc, error

ACCOUNT = "000000000000"


def test_user_lifecycle(iam: Any) -> None:
    created = iam.create_user(UserName="Alice", Path="/dev/", Tags=[{"Key": "team", "Value": "data"}])["User"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/dev/Alice"
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 21 and created["UserId"].isupper()
    assert (created["Path"], created["UserName"], created["Tags"]) == ("/dev/", "Alice", [{"Key": "team", "Value": "data"}])
    assert created["CreateDate"].tzinfo is not None and "PasswordLastUsed" not in created

    got = iam.get_user(UserName="alice")["User"]  # names are case-insensitive, case kept
    assert got == created

    listed = [u for u in iam.list_users()["Users"] if u["UserName"] == "Alice"]
    assert listed == [{k: v for k, v in created.items() if k != "Tags"}]  # ListUsers: no tags, no boundary

    iam.update_user(UserName="alice", NewUserName="Alicia", NewPath="/ops/")
    moved = iam.get_user(UserName="Alicia")["User"]
    assert (moved["Arn"], moved["UserId"], moved["CreateDate"]) == (f"arn:aws:iam::{ACCOUNT}:user/ops/Alicia", created["UserId"], created["CreateDate"])
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName="Alice")
    assert error(e) == ("NoSuchEntity", "The user with name Alice cannot be found.", 404)
    iam.update_user(UserName="Alicia", NewPath="/")  # only the path
    assert iam.get_user(UserName="Alicia")["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/Alicia"

    iam.delete_user(UserName="ALICIA")
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName="Alicia")
    assert error(e) == ("NoSuchEntity", "The user with name Alicia cannot be found.", 404)


def test_user_errors(iam: Any, unchecked_iam: Any) -> None:
    iam.create_user(UserName="Bob")
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName="bob")
    assert error(e) == ("EntityAlreadyExists", "User with name bob already exists.", 409)
    with pytest.raises(ClientError) as e:
        unchecked_iam.create_user(UserName="no spaces allowed")
    assert error(e)[0::2] == ("ValidationError", 400)
    with pytest.raises(ClientError) as e:
        unchecked_iam.create_user(UserName="x", Path="no-slashes")
    assert error(e)[0::2] == ("ValidationError", 400)
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName="Bounded", PermissionsBoundary="not-a-policy-arn-at-all")
    assert error(e) == ("InvalidInput", "ARN not-a-policy-arn-at-all is not valid.", 400)
    missing = f"arn:aws:iam::{ACCOUNT}:policy/no-such-policy"
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName="Bounded", PermissionsBoundary=missing)
    assert error(e) == ("NoSuchEntity", f"Scope ARN: {missing} does not exist or is not attachable.", 404)
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName="Bounded")  # nothing was created by the refused calls
    assert error(e)[0] == "NoSuchEntity"

    iam.create_user(UserName="Carol")
    with pytest.raises(ClientError) as e:
        iam.update_user(UserName="Carol", NewUserName="BOB")
    assert error(e) == ("EntityAlreadyExists", "User with name BOB already exists.", 409)
    for call in (
        lambda: iam.update_user(UserName="Nobody", NewPath="/x/"),
        lambda: iam.delete_user(UserName="Nobody"),
        lambda: iam.tag_user(UserName="Nobody", Tags=[{"Key": "k", "Value": "v"}]),
        lambda: iam.untag_user(UserName="Nobody", TagKeys=["k"]),
        lambda: iam.list_user_tags(UserName="Nobody"),
        lambda: iam.put_user_permissions_boundary(UserName="Nobody", PermissionsBoundary=BASIC),
        lambda: iam.delete_user_permissions_boundary(UserName="Nobody"),
        lambda: iam.attach_user_policy(UserName="Nobody", PolicyArn=BASIC),
        lambda: iam.list_attached_user_policies(UserName="Nobody"),
        lambda: iam.put_user_policy(UserName="Nobody", PolicyName="p", PolicyDocument=doc(S3_READ)),
        lambda: iam.list_user_policies(UserName="Nobody"),
        lambda: iam.create_access_key(UserName="Nobody"),
        lambda: iam.list_access_keys(UserName="Nobody"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == ("NoSuchEntity", "The user with name Nobody cannot be found.", 404)
    iam.update_user(UserName="carol", NewUserName="Carol2")
    iam.update_user(UserName="Carol2", NewUserName="CAROL2")  # a change of case only is a rename
    assert iam.get_user(UserName="carol2")["User"]["UserName"] == "CAROL2"


def test_delete_user_conflicts(iam: Any) -> None:
    iam.create_user(UserName="Dave")
    iam.attach_user_policy(UserName="Dave", PolicyArn=BASIC)
    iam.put_user_policy(UserName="Dave", PolicyName="inline", PolicyDocument=doc(S3_READ))
    key = iam.create_access_key(UserName="Dave")["AccessKey"]["AccessKeyId"]
    steps = [
        ("Cannot delete entity, must detach all policies first.", lambda: iam.detach_user_policy(UserName="Dave", PolicyArn=BASIC)),
        ("Cannot delete entity, must delete policies first.", lambda: iam.delete_user_policy(UserName="Dave", PolicyName="inline")),
        ("Cannot delete entity, must delete access keys first.", lambda: iam.delete_access_key(UserName="Dave", AccessKeyId=key)),
    ]
    for message, resolve in steps:
        with pytest.raises(ClientError) as e:
            iam.delete_user(UserName="Dave")
        assert error(e) == ("DeleteConflict", message, 409)
        resolve()
    iam.delete_user(UserName="Dave")


def test_user_tags_and_boundary(iam: Any) -> None:
    arn = iam.create_policy(PolicyName="UserBoundary", PolicyDocument=doc(S3_READ))["Policy"]["Arn"]
    user = iam.create_user(UserName="Erin", PermissionsBoundary=arn)["User"]
    assert user["PermissionsBoundary"] == {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn}
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    iam.put_user_permissions_boundary(UserName="Erin", PermissionsBoundary=BASIC)
    assert iam.get_user(UserName="Erin")["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == BASIC
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 0
    assert iam.list_entities_for_policy(PolicyArn=BASIC, PolicyUsageFilter="PermissionsBoundary")["PolicyUsers"] == [
        {"UserName": "Erin", "UserId": user["UserId"]}
    ]
    iam.delete_user_permissions_boundary(UserName="Erin")
    iam.delete_user_permissions_boundary(UserName="Erin")  # without one: not an error
    assert "PermissionsBoundary" not in iam.get_user(UserName="Erin")["User"]

    iam.tag_user(UserName="Erin", Tags=[{"Key": "b", "Value": "1"}, {"Key": "A", "Value": "2"}])
    iam.tag_user(UserName="Erin", Tags=[{"Key": "B", "Value": "3"}])  # user tag keys are case-insensitive
    assert iam.list_user_tags(UserName="Erin")["Tags"] == [{"Key": "A", "Value": "2"}, {"Key": "B", "Value": "3"}]
    page = iam.list_user_tags(UserName="Erin", MaxItems=1)
    assert page["IsTruncated"] and iam.list_user_tags(UserName="Erin", Marker=page["Marker"])["Tags"] == [{"Key": "B", "Value": "3"}]
    iam.untag_user(UserName="Erin", TagKeys=["a", "missing"])
    assert iam.get_user(UserName="Erin")["User"]["Tags"] == [{"Key": "B", "Value": "3"}]
    with pytest.raises(ClientError) as e:
        iam.tag_user(UserName="Erin", Tags=[{"Key": "k", "Value": "1"}, {"Key": "K", "Value": "2"}])
    assert error(e) == ("InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive.", 400)
    with pytest.raises(ClientError) as e:
        iam.tag_user(UserName="Erin", Tags=[{"Key": f"t{i}", "Value": ""} for i in range(50)])
    assert error(e) == ("LimitExceeded", "Cannot exceed quota for TagsPerUser: 50", 409)


def test_user_policies(iam: Any) -> None:
    user = iam.create_user(UserName="Frank")["User"]
    arn = iam.create_policy(PolicyName="FrankPolicy", Path="/team/", PolicyDocument=doc(S3_READ))["Policy"]["Arn"]
    role_arn = iam.create_role(RoleName="frank", AssumeRolePolicyDocument=doc({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }))["Role"]
    for policy in (arn, BASIC, arn):  # attaching twice is not an error
        iam.attach_user_policy(UserName="Frank", PolicyArn=policy)
    iam.attach_role_policy(RoleName="frank", PolicyArn=arn)  # a role and a user of the same name
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 2  # counts users and roles
    assert [p["PolicyName"] for p in iam.list_attached_user_policies(UserName="frank")["AttachedPolicies"]] == [
        "AWSLambdaBasicExecutionRole", "FrankPolicy"
    ]
    assert iam.list_attached_user_policies(UserName="Frank", PathPrefix="/team/")["AttachedPolicies"] == [{"PolicyName": "FrankPolicy", "PolicyArn": arn}]
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert entities["PolicyUsers"] == [{"UserName": "Frank", "UserId": user["UserId"]}]
    assert entities["PolicyRoles"] == [{"RoleName": "frank", "RoleId": role_arn["RoleId"]}] and entities["PolicyGroups"] == []
    only_users = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="User")
    assert (only_users["PolicyRoles"], len(only_users["PolicyUsers"])) == ([], 1)
    only_roles = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")
    assert (only_roles["PolicyUsers"], len(only_roles["PolicyRoles"])) == ([], 1)
    assert iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Group")["PolicyUsers"] == []
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert error(e) == ("DeleteConflict", "Cannot delete a policy attached to entities.", 409)

    # renaming the user moves its attachments: counted and listed under the new name
    iam.update_user(UserName="Frank", NewUserName="Franklin", NewPath="/moved/")
    assert iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="User")["PolicyUsers"] == [{"UserName": "Franklin", "UserId": user["UserId"]}]
    assert iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="User", PathPrefix="/moved/")["PolicyUsers"][0]["UserName"] == "Franklin"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 2

    with pytest.raises(ClientError) as e:
        iam.attach_user_policy(UserName="Franklin", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/nonexistent-policy")
    assert error(e) == ("NoSuchEntity", f"Policy arn:aws:iam::{ACCOUNT}:policy/nonexistent-policy does not exist or is not attachable.", 404)
    with pytest.raises(ClientError) as e:
        iam.attach_user_policy(UserName="Franklin", PolicyArn="longpolicynamebutnoarn")
    assert error(e) == ("ValidationError", "ARN longpolicynamebutnoarn is not valid.", 400)
    with pytest.raises(ClientError) as e:
        iam.attach_user_policy(UserName="Franklin", PolicyArn="arn:aws:iam::aws:policy/aws-service-role/AWSLambdaReplicator")
    assert error(e)[0] == "PolicyNotAttachable"
    for policy in (arn, BASIC):
        iam.detach_user_policy(UserName="Franklin", PolicyArn=policy)
    with pytest.raises(ClientError) as e:
        iam.detach_user_policy(UserName="Franklin", PolicyArn=arn)
    assert error(e) == ("NoSuchEntity", f"Policy {arn} was not found.", 404)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    for i in range(10):
        iam.attach_user_policy(UserName="Franklin", PolicyArn=f"arn:aws:iam::aws:policy/Filler{i}")
    with pytest.raises(ClientError) as e:
        iam.attach_user_policy(UserName="Franklin", PolicyArn=arn)
    assert error(e) == ("LimitExceeded", "Cannot exceed quota for PoliciesPerUser: 10", 409)

    iam.put_user_policy(UserName="Franklin", PolicyName="b-inline", PolicyDocument=doc(S3_READ))
    iam.put_user_policy(UserName="Franklin", PolicyName="a-inline", PolicyDocument=doc({"Statement": S3_READ["Statement"]}))
    assert iam.list_user_policies(UserName="franklin")["PolicyNames"] == ["a-inline", "b-inline"]
    got = iam.get_user_policy(UserName="franklin", PolicyName="b-inline")
    assert (got["UserName"], got["PolicyName"], got["PolicyDocument"]) == ("Franklin", "b-inline", S3_READ)
    page = iam.list_user_policies(UserName="Franklin", MaxItems=1)
    assert page["PolicyNames"] == ["a-inline"] and iam.list_user_policies(UserName="Franklin", Marker=page["Marker"])["PolicyNames"] == ["b-inline"]
    big = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [f"s3:Get{i:05d}" for i in range(200)], "Resource": "*"}]}
    with pytest.raises(ClientError) as e:
        iam.put_user_policy(UserName="Franklin", PolicyName="big", PolicyDocument=doc(big))
    assert error(e) == ("LimitExceeded", "Maximum policy size of 2048 bytes exceeded for user Franklin", 409)
    with pytest.raises(ClientError) as e:
        iam.put_user_policy(UserName="Franklin", PolicyName="bad", PolicyDocument=doc({"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}))
    assert error(e) == ("MalformedPolicyDocument", "Policy statement must contain resources.", 400)
    with pytest.raises(ClientError) as e:
        iam.put_user_policy(UserName="Franklin", PolicyName="bad", PolicyDocument="{not json")
    assert error(e) == ("MalformedPolicyDocument", "Syntax errors in policy.", 400)
    iam.delete_user_policy(UserName="Franklin", PolicyName="a-inline")
    with pytest.raises(ClientError) as e:
        iam.get_user_policy(UserName="Franklin", PolicyName="a-inline")
    assert error(e) == ("NoSuchEntity", "The user policy with name a-inline cannot be found.", 404)
    with pytest.raises(ClientError) as e:
        iam.delete_user_policy(UserName="Franklin", PolicyName="a-inline")
    assert error(e) == ("NoSuchEntity", "The user policy with name a-inline cannot be found.", 404)


def test_list_users_pages_and_filters(iam: Any) -> None:
    for i in range(5):
        iam.create_user(UserName=f"paged-{i}", Path="/paged/" if i % 2 else "/paged/odd/")
    first = iam.list_users(PathPrefix="/paged/", MaxItems=2)
    assert first["IsTruncated"] and [u["UserName"] for u in first["Users"]] == ["paged-0", "paged-1"]
    everything = [u["UserName"] for page in iam.get_paginator("list_users").paginate(PathPrefix="/paged/", PaginationConfig={"PageSize": 2}) for u in page["Users"]]
    assert everything == [f"paged-{i}" for i in range(5)]
    assert [u["UserName"] for u in iam.list_users(PathPrefix="/paged/odd/")["Users"]] == ["paged-0", "paged-2", "paged-4"]
    assert iam.list_users(PathPrefix="/nothing-here/")["Users"] == []


def test_users_with_the_aws_cli(nimbus_server: NimbusProcess) -> None:
    out = json.loads(nimbus_server.aws("iam", "create-user", "--user-name", "cli-user", "--path", "/cli/",
                                       "--tags", "Key=k,Value=v").stdout)
    assert out["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/cli/cli-user"
    nimbus_server.aws("iam", "attach-user-policy", "--user-name", "cli-user", "--policy-arn", BASIC)
    nimbus_server.aws("iam", "put-user-policy", "--user-name", "cli-user", "--policy-name", "inline", "--policy-document", doc(S3_READ))
    got = json.loads(nimbus_server.aws("iam", "get-user-policy", "--user-name", "cli-user", "--policy-name", "inline").stdout)
    assert got["PolicyDocument"] == S3_READ
    users = json.loads(nimbus_server.aws("iam", "list-users", "--path-prefix", "/cli/").stdout)["Users"]
    assert [u["UserName"] for u in users] == ["cli-user"]
    refused = nimbus_server.aws("iam", "delete-user", "--user-name", "cli-user", check=False)
    assert refused.returncode != 0 and "DeleteConflict" in refused.stderr
    me = json.loads(nimbus_server.aws("iam", "get-user").stdout)["User"]  # the root keys: the root user
    assert (me["UserId"], me["Arn"]) == (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root") and "UserName" not in me

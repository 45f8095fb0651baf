"""IAM roles end to end with boto3 and the AWS CLI: lifecycle, every error path, paging, tags,
permissions boundaries, region independence."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.iam.conftest import BASIC, S3_READ, TRUST, doc, error

ACCOUNT = "000000000000"


def test_role_lifecycle(iam: Any) -> None:
    created = iam.create_role(
        RoleName="LifeRole", Path="/app/", AssumeRolePolicyDocument=doc(TRUST), Description="first",
        MaxSessionDuration=7200, Tags=[{"Key": "team", "Value": "data"}],
    )["Role"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/app/LifeRole"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    assert created["AssumeRolePolicyDocument"] == TRUST  # URL-encoded on the wire, a dict in boto3
    assert created["Tags"] == [{"Key": "team", "Value": "data"}]
    # CreateRole answers what AWS answers: no Description, MaxSessionDuration or RoleLastUsed
    assert not {"Description", "MaxSessionDuration", "RoleLastUsed"} & set(created)
    assert created["CreateDate"].tzinfo is not None

    got = iam.get_role(RoleName="liferole")["Role"]  # names are case-insensitive
    assert got["RoleName"] == "LifeRole" and got["RoleLastUsed"] == {}
    assert (got["Description"], got["MaxSessionDuration"], got["Path"]) == ("first", 7200, "/app/")
    assert got["CreateDate"] == created["CreateDate"]

    iam.update_role(RoleName="LifeRole", Description="second", MaxSessionDuration=43200)
    described = iam.update_role_description(RoleName="LifeRole", Description="third")["Role"]
    assert described["Description"] == "third" and "MaxSessionDuration" not in described
    trust2 = {**TRUST, "Statement": [{**TRUST["Statement"][0], "Principal": {"Service": ["lambda.amazonaws.com", "firehose.amazonaws.com"]}}]}
    iam.update_assume_role_policy(RoleName="LifeRole", PolicyDocument=doc(trust2))
    got = iam.get_role(RoleName="LifeRole")["Role"]
    assert (got["Description"], got["MaxSessionDuration"], got["AssumeRolePolicyDocument"]) == ("third", 43200, trust2)

    # what a tool deleting a role asks first (Terraform): no instance profiles here
    assert iam.list_instance_profiles_for_role(RoleName="LifeRole")["InstanceProfiles"] == []
    iam.delete_role(RoleName="LifeRole")
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName="LifeRole")
    assert error(e) == ("NoSuchEntity", "The role with name LifeRole cannot be found.", 404)
    with pytest.raises(ClientError) as e:
        iam.list_instance_profiles_for_role(RoleName="LifeRole")
    assert error(e)[0] == "NoSuchEntity"


def test_role_errors(iam: Any, unchecked_iam: Any) -> None:
    iam.create_role(RoleName="ErrRole", AssumeRolePolicyDocument=doc(TRUST))
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="errrole", AssumeRolePolicyDocument=doc(TRUST))
    assert error(e) == ("EntityAlreadyExists", "Role with name errrole already exists.", 409)
    with pytest.raises(ClientError) as e:
        unchecked_iam.create_role(RoleName="Short", AssumeRolePolicyDocument=doc(TRUST), MaxSessionDuration=1800)
    assert error(e)[0] == "ValidationError" and error(e)[2] == 400

    bad_trust = [
        ("{not json", "This policy contains invalid Json"),
        (doc({"Version": "2012-10-17"}), "Syntax errors in policy."),
        (doc({"Version": "2013-01-01", "Statement": TRUST["Statement"]}), "Syntax errors in policy."),
        (doc({"Statement": [{**TRUST["Statement"][0], "Resource": "*"}]}), "Has prohibited field Resource"),
        (doc({"Statement": [{**TRUST["Statement"][0], "Action": "s3:GetObject"}]}), "AssumeRole policy may only specify STS AssumeRole actions."),
    ]
    for text, message in bad_trust:
        with pytest.raises(ClientError) as e:
            iam.create_role(RoleName="Bad", AssumeRolePolicyDocument=text)
        assert error(e) == ("MalformedPolicyDocument", message, 400)
        with pytest.raises(ClientError) as e:
            iam.update_assume_role_policy(RoleName="ErrRole", PolicyDocument=text)
        assert error(e) == ("MalformedPolicyDocument", message, 400)
    big = {**TRUST, "Statement": [{**TRUST["Statement"][0], "Sid": "x" * 2100}]}
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="Big", AssumeRolePolicyDocument=doc(big))
    assert error(e) == ("LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048", 409)
    # white space does not count against the quota
    iam.create_role(RoleName="Padded", AssumeRolePolicyDocument=json.dumps(TRUST, indent=200))

    iam.attach_role_policy(RoleName="ErrRole", PolicyArn=BASIC)
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName="ErrRole")
    assert error(e) == ("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409)
    iam.detach_role_policy(RoleName="ErrRole", PolicyArn=BASIC)
    iam.put_role_policy(RoleName="ErrRole", PolicyName="inline", PolicyDocument=doc(S3_READ))
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName="ErrRole")
    assert error(e) == ("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
    iam.delete_role_policy(RoleName="ErrRole", PolicyName="inline")
    iam.delete_role(RoleName="ErrRole")

    missing = "The role with name Ghost cannot be found."
    calls = [
        lambda: iam.delete_role(RoleName="Ghost"),
        lambda: iam.update_role(RoleName="Ghost", Description="x"),
        lambda: iam.update_role_description(RoleName="Ghost", Description="x"),
        lambda: iam.update_assume_role_policy(RoleName="Ghost", PolicyDocument=doc(TRUST)),
        lambda: iam.tag_role(RoleName="Ghost", Tags=[{"Key": "a", "Value": "b"}]),
        lambda: iam.untag_role(RoleName="Ghost", TagKeys=["a"]),
        lambda: iam.list_role_tags(RoleName="Ghost"),
        lambda: iam.attach_role_policy(RoleName="Ghost", PolicyArn=BASIC),
        lambda: iam.detach_role_policy(RoleName="Ghost", PolicyArn=BASIC),
        lambda: iam.list_attached_role_policies(RoleName="Ghost"),
        lambda: iam.put_role_policy(RoleName="Ghost", PolicyName="p", PolicyDocument=doc(S3_READ)),
        lambda: iam.get_role_policy(RoleName="Ghost", PolicyName="p"),
        lambda: iam.delete_role_policy(RoleName="Ghost", PolicyName="p"),
        lambda: iam.list_role_policies(RoleName="Ghost"),
        lambda: iam.put_role_permissions_boundary(RoleName="Ghost", PermissionsBoundary=BASIC),
        lambda: iam.delete_role_permissions_boundary(RoleName="Ghost"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == ("NoSuchEntity", missing, 404)


def test_list_roles_pages(iam: Any) -> None:
    for i in range(7):
        iam.create_role(RoleName=f"page-{i}", Path="/paging/", AssumeRolePolicyDocument=doc(TRUST), Description=f"role {i}")
    first = iam.list_roles(PathPrefix="/paging/", MaxItems=3)
    assert first["IsTruncated"] is True and [r["RoleName"] for r in first["Roles"]] == ["page-0", "page-1", "page-2"]
    # ListRoles leaves out tags, the boundary and RoleLastUsed, keeps Description and MaxSessionDuration
    assert first["Roles"][0]["Description"] == "role 0" and first["Roles"][0]["MaxSessionDuration"] == 3600
    assert "RoleLastUsed" not in first["Roles"][0]
    second = iam.list_roles(PathPrefix="/paging/", MaxItems=3, Marker=first["Marker"])
    third = iam.list_roles(PathPrefix="/paging/", MaxItems=3, Marker=second["Marker"])
    assert [r["RoleName"] for r in second["Roles"] + third["Roles"]] == [f"page-{i}" for i in range(3, 7)]
    assert third["IsTruncated"] is False and "Marker" not in third
    paged = [r["RoleName"] for p in iam.get_paginator("list_roles").paginate(PathPrefix="/paging/", PaginationConfig={"PageSize": 2}) for r in p["Roles"]]
    assert paged == [f"page-{i}" for i in range(7)]
    assert iam.list_roles(PathPrefix="/nothing-here/")["Roles"] == []


def test_role_tags(iam: Any, unchecked_iam: Any) -> None:
    iam.create_role(RoleName="Tagged", AssumeRolePolicyDocument=doc(TRUST), Tags=[{"Key": "b", "Value": "1"}, {"Key": "a", "Value": ""}])
    iam.tag_role(RoleName="Tagged", Tags=[{"Key": "B", "Value": "2"}, {"Key": "c", "Value": "3"}])  # keys are case-insensitive
    assert iam.list_role_tags(RoleName="Tagged")["Tags"] == [{"Key": "B", "Value": "2"}, {"Key": "a", "Value": ""}, {"Key": "c", "Value": "3"}]
    iam.untag_role(RoleName="Tagged", TagKeys=["b", "not-there"])
    assert [t["Key"] for t in iam.get_role(RoleName="Tagged")["Role"]["Tags"]] == ["a", "c"]
    with pytest.raises(ClientError) as e:
        iam.tag_role(RoleName="Tagged", Tags=[{"Key": "x", "Value": ""}, {"Key": "X", "Value": ""}])
    assert error(e) == ("InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive.", 400)
    iam.tag_role(RoleName="Tagged", Tags=[{"Key": f"k{i:02d}", "Value": "v"} for i in range(48)])
    with pytest.raises(ClientError) as e:
        iam.tag_role(RoleName="Tagged", Tags=[{"Key": "one-too-many", "Value": "v"}])
    assert error(e) == ("LimitExceeded", "Cannot exceed quota for TagsPerRole: 50", 409)
    with pytest.raises(ClientError) as e:
        unchecked_iam.tag_role(RoleName="Tagged", Tags=[{"Key": f"n{i}", "Value": "v"} for i in range(51)])
    assert error(e)[0] == "ValidationError"
    page = iam.list_role_tags(RoleName="Tagged", MaxItems=40)
    rest = iam.list_role_tags(RoleName="Tagged", Marker=page["Marker"])
    assert page["IsTruncated"] and len(page["Tags"]) + len(rest["Tags"]) == 50 and not rest["IsTruncated"]


def test_permissions_boundary(iam: Any) -> None:
    arn = iam.create_policy(PolicyName="Boundary", PolicyDocument=doc(S3_READ))["Policy"]["Arn"]
    role = iam.create_role(RoleName="Bounded", AssumeRolePolicyDocument=doc(TRUST), PermissionsBoundary=arn)["Role"]
    assert role["PermissionsBoundary"] == {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn}
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    assert "PermissionsBoundary" not in iam.list_roles(PathPrefix="/")["Roles"][0]
    iam.delete_role_permissions_boundary(RoleName="Bounded")
    assert "PermissionsBoundary" not in iam.get_role(RoleName="Bounded")["Role"]
    iam.put_role_permissions_boundary(RoleName="Bounded", PermissionsBoundary=BASIC)
    assert iam.get_role(RoleName="Bounded")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == BASIC
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 0
    bad = f"arn:aws:iam::{ACCOUNT}:not_a_policy/invalid"
    with pytest.raises(ClientError) as e:
        iam.put_role_permissions_boundary(RoleName="Bounded", PermissionsBoundary=bad)
    assert error(e) == ("InvalidInput", f"ARN {bad} is not valid.", 400)
    missing = f"arn:aws:iam::{ACCOUNT}:policy/nonexistent-policy"
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="Bounded2", AssumeRolePolicyDocument=doc(TRUST), PermissionsBoundary=missing)
    assert error(e) == ("NoSuchEntity", f"Scope ARN: {missing} does not exist or is not attachable.", 404)


def test_iam_is_global(nimbus_server: NimbusProcess) -> None:
    east, west = nimbus_server.client("iam", "us-east-1"), nimbus_server.client("iam", "eu-west-1")
    arn = east.create_role(RoleName="Everywhere", AssumeRolePolicyDocument=doc(TRUST))["Role"]["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:role/Everywhere"  # no region in IAM ARNs
    assert west.get_role(RoleName="Everywhere")["Role"]["Arn"] == arn
    west.attach_role_policy(RoleName="Everywhere", PolicyArn=BASIC)
    assert [p["PolicyArn"] for p in east.list_attached_role_policies(RoleName="Everywhere")["AttachedPolicies"]] == [BASIC]


def test_unimplemented_iam_operations_say_so(iam: Any) -> None:
    with pytest.raises(ClientError) as e:
        iam.list_virtual_mfa_devices()  # MFA devices are not implemented
    assert error(e)[0] == "NotImplemented" and error(e)[2] == 501


def test_aws_cli(nimbus_server: NimbusProcess, tmp_path: Any) -> None:
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(TRUST, indent=2))
    created = json.loads(nimbus_server.aws("iam", "create-role", "--role-name", "CliRole", "--assume-role-policy-document", f"file://{trust}").stdout)
    assert created["Role"]["AssumeRolePolicyDocument"] == TRUST
    nimbus_server.aws("iam", "attach-role-policy", "--role-name", "CliRole", "--policy-arn", BASIC)
    attached = json.loads(nimbus_server.aws("iam", "list-attached-role-policies", "--role-name", "CliRole").stdout)
    assert attached["AttachedPolicies"] == [{"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC}]
    failed = nimbus_server.aws("iam", "get-role", "--role-name", "NoSuchCliRole", check=False)
    assert failed.returncode != 0 and "(NoSuchEntity)" in failed.stderr and "cannot be found" in failed.stderr


def test_sts_assumes_a_role_created_here(nimbus_server: NimbusProcess, iam: Any) -> None:
    arn = iam.create_role(RoleName="Assumable", Path="/svc/", AssumeRolePolicyDocument=doc(TRUST), MaxSessionDuration=7200)["Role"]["Arn"]
    sts = nimbus_server.client("sts")
    out = sts.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=7200)
    assert out["AssumedRoleUser"]["AssumedRoleId"].startswith(iam.get_role(RoleName="Assumable")["Role"]["RoleId"] + ":")
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=7201)
    assert "MaxSessionDuration" in error(e)[1]
    # a role session assuming a role again (role chaining) gets at most an hour
    creds = out["Credentials"]
    chained = nimbus_server.client("sts", access_key=creds["AccessKeyId"], secret_key=creds["SecretAccessKey"],
                                   aws_session_token=creds["SessionToken"])
    with pytest.raises(ClientError) as e:
        chained.assume_role(RoleArn=arn, RoleSessionName="s2", DurationSeconds=3601)
    assert error(e)[0] == "ValidationError" and "role chaining" in error(e)[1]
    again = chained.assume_role(RoleArn=arn, RoleSessionName="s2", DurationSeconds=3600)["AssumedRoleUser"]["Arn"]
    assert again == "arn:aws:sts::000000000000:assumed-role/Assumable/s2"

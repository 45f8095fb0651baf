"""IAM groups end to end with boto3 and the AWS CLI: lifecycle, membership and paging, attached and inline
policies (counted and listed with the policy's entities), renames, every error path, and kill -9."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.iam.conftest import BASIC, S3_READ, doc, error

ACCOUNT = "000000000000"


def test_group_lifecycle(iam: Any) -> None:
    created = iam.create_group(GroupName="Admins", Path="/ops/")["Group"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/ops/Admins"
    assert created["GroupId"].startswith("AGPA") and len(created["GroupId"]) == 21 and created["GroupId"][4:].isalnum()
    assert created["GroupId"] == created["GroupId"].upper() and created["CreateDate"].tzinfo is not None
    assert (created["Path"], created["GroupName"]) == ("/ops/", "Admins")

    got = iam.get_group(GroupName="admins")  # names are case-insensitive, case kept
    assert (got["Group"], got["Users"], got["IsTruncated"]) == (created, [], False)
    assert [g for g in iam.list_groups(PathPrefix="/ops/")["Groups"]] == [created]

    iam.update_group(GroupName="admins", NewGroupName="Operators", NewPath="/team/")
    moved = iam.get_group(GroupName="operators")["Group"]
    assert (moved["Arn"], moved["GroupId"], moved["CreateDate"]) == (f"arn:aws:iam::{ACCOUNT}:group/team/Operators", created["GroupId"], created["CreateDate"])
    with pytest.raises(ClientError) as e:
        iam.get_group(GroupName="Admins")
    assert error(e) == ("NoSuchEntity", "The group with name Admins cannot be found.", 404)
    iam.update_group(GroupName="Operators", NewPath="/")  # only the path
    iam.update_group(GroupName="Operators")  # nothing to change
    assert iam.get_group(GroupName="Operators")["Group"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/Operators"

    iam.delete_group(GroupName="OPERATORS")
    with pytest.raises(ClientError) as e:
        iam.delete_group(GroupName="Operators")
    assert error(e) == ("NoSuchEntity", "The group with name Operators cannot be found.", 404)


def test_group_errors(iam: Any, unchecked_iam: Any) -> None:
    iam.create_group(GroupName="Devs")
    iam.create_group(GroupName="Testers")
    with pytest.raises(ClientError) as e:
        iam.create_group(GroupName="DEVS")
    assert error(e) == ("EntityAlreadyExists", "Group with name DEVS already exists.", 409)
    with pytest.raises(ClientError) as e:
        iam.update_group(GroupName="Testers", NewGroupName="devs")
    assert error(e) == ("EntityAlreadyExists", "Group with name devs already exists.", 409)
    with pytest.raises(ClientError) as e:
        unchecked_iam.create_group(GroupName="no spaces")
    assert error(e)[0::2] == ("ValidationError", 400)
    with pytest.raises(ClientError) as e:
        unchecked_iam.create_group(GroupName="x", Path="no-slashes")
    assert error(e)[0::2] == ("ValidationError", 400)
    iam.create_user(UserName="ghost-check")
    for call in (
        lambda: iam.get_group(GroupName="Nobody"),
        lambda: iam.update_group(GroupName="Nobody", NewPath="/x/"),
        lambda: iam.delete_group(GroupName="Nobody"),
        lambda: iam.add_user_to_group(GroupName="Nobody", UserName="ghost-check"),
        lambda: iam.remove_user_from_group(GroupName="Nobody", UserName="ghost-check"),
        lambda: iam.attach_group_policy(GroupName="Nobody", PolicyArn=BASIC),
        lambda: iam.detach_group_policy(GroupName="Nobody", PolicyArn=BASIC),
        lambda: iam.list_attached_group_policies(GroupName="Nobody"),
        lambda: iam.put_group_policy(GroupName="Nobody", PolicyName="p", PolicyDocument=doc(S3_READ)),
        lambda: iam.get_group_policy(GroupName="Nobody", PolicyName="p"),
        lambda: iam.delete_group_policy(GroupName="Nobody", PolicyName="p"),
        lambda: iam.list_group_policies(GroupName="Nobody"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == ("NoSuchEntity", "The group with name Nobody cannot be found.", 404)
    for call in (
        lambda: iam.add_user_to_group(GroupName="Devs", UserName="Ghost"),
        lambda: iam.remove_user_from_group(GroupName="Devs", UserName="Ghost"),
        lambda: iam.list_groups_for_user(UserName="Ghost"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == ("NoSuchEntity", "The user with name Ghost cannot be found.", 404)


def test_membership_and_paging(iam: Any) -> None:
    users = [iam.create_user(UserName=f"member-{i}", Path="/m/")["User"] for i in range(5)]
    iam.create_group(GroupName="Crew")
    for user in reversed(users):
        iam.add_user_to_group(GroupName="crew", UserName=user["UserName"].upper())
    iam.add_user_to_group(GroupName="Crew", UserName="member-0")  # adding twice is not an error
    listed = iam.get_group(GroupName="Crew")["Users"]
    assert listed == users  # in name order; as ListUsers shows them (no tags)
    first = iam.get_group(GroupName="Crew", MaxItems=2)
    assert first["IsTruncated"] and [u["UserName"] for u in first["Users"]] == ["member-0", "member-1"]
    assert first["Group"]["GroupName"] == "Crew"
    everything = [u["UserName"] for page in iam.get_paginator("get_group").paginate(GroupName="Crew", PaginationConfig={"PageSize": 2}) for u in page["Users"]]
    assert everything == [f"member-{i}" for i in range(5)]

    for i in range(9, -1, -1):  # a user in at most 10 groups
        iam.create_group(GroupName=f"g{i:02d}", Path="/many/")
    for i in range(9):
        iam.add_user_to_group(GroupName=f"g{i:02d}", UserName="member-0")
    iam.add_user_to_group(GroupName="g00", UserName="member-0")  # already in: no-op, not the 11th
    with pytest.raises(ClientError) as e:
        iam.add_user_to_group(GroupName="g09", UserName="member-0")
    assert error(e) == ("LimitExceeded", "Cannot exceed quota for GroupsPerUser: 10", 409)
    groups = iam.list_groups_for_user(UserName="MEMBER-0")["Groups"]
    assert [g["GroupName"] for g in groups] == ["Crew"] + [f"g{i:02d}" for i in range(9)]
    assert groups[0] == iam.get_group(GroupName="Crew")["Group"]
    page = iam.list_groups_for_user(UserName="member-0", MaxItems=4)
    assert page["IsTruncated"] and len(page["Groups"]) == 4
    rest = iam.list_groups_for_user(UserName="member-0", Marker=page["Marker"])
    assert [g["GroupName"] for g in rest["Groups"]] == [f"g{i:02d}" for i in range(3, 9)] and not rest["IsTruncated"]
    listed_groups = [g["GroupName"] for p in iam.get_paginator("list_groups").paginate(PathPrefix="/many/", PaginationConfig={"PageSize": 3}) for g in p["Groups"]]
    assert listed_groups == [f"g{i:02d}" for i in range(10)]
    assert iam.list_groups(PathPrefix="/nothing/")["Groups"] == []

    iam.remove_user_from_group(GroupName="g00", UserName="member-0")
    iam.remove_user_from_group(GroupName="g00", UserName="member-0")  # not a member: no-op, as on AWS
    iam.add_user_to_group(GroupName="g09", UserName="member-0")  # room again
    assert len(iam.list_groups_for_user(UserName="member-0")["Groups"]) == 10
    assert [u["UserName"] for u in iam.get_group(GroupName="g00")["Users"]] == []


def test_group_policies_and_counts(iam: Any) -> None:
    group = iam.create_group(GroupName="Readers")["Group"]
    arn = iam.create_policy(PolicyName="ReadersPolicy", Path="/team/", PolicyDocument=doc(S3_READ))["Policy"]["Arn"]
    user = iam.create_user(UserName="Readers")["User"]  # a user of the same name
    for policy in (arn, BASIC, arn):  # attaching twice is not an error
        iam.attach_group_policy(GroupName="Readers", PolicyArn=policy)
    iam.attach_user_policy(UserName="Readers", PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 2  # counts groups and users
    assert [p["PolicyName"] for p in iam.list_attached_group_policies(GroupName="readers")["AttachedPolicies"]] == ["AWSLambdaBasicExecutionRole", "ReadersPolicy"]
    assert iam.list_attached_group_policies(GroupName="Readers", PathPrefix="/team/")["AttachedPolicies"] == [{"PolicyName": "ReadersPolicy", "PolicyArn": arn}]
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert entities["PolicyGroups"] == [{"GroupName": "Readers", "GroupId": group["GroupId"]}]
    assert entities["PolicyUsers"] == [{"UserName": "Readers", "UserId": user["UserId"]}] and entities["PolicyRoles"] == []
    only_groups = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Group")
    assert (len(only_groups["PolicyGroups"]), only_groups["PolicyUsers"], only_groups["PolicyRoles"]) == (1, [], [])
    assert iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="User")["PolicyGroups"] == []
    assert iam.list_entities_for_policy(PolicyArn=BASIC, EntityFilter="Group")["PolicyGroups"][0]["GroupName"] == "Readers"
    assert iam.get_policy(PolicyArn=BASIC)["Policy"]["AttachmentCount"] >= 1
    assert any(p["Arn"] == arn for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"])

    # DeletePolicy refuses while a group has it; renaming the group carries the attachment
    iam.detach_user_policy(UserName="Readers", PolicyArn=arn)
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert error(e) == ("DeleteConflict", "Cannot delete a policy attached to entities.", 409)
    iam.update_group(GroupName="Readers", NewGroupName="Auditors", NewPath="/audit/")
    assert iam.list_entities_for_policy(PolicyArn=arn, PathPrefix="/audit/")["PolicyGroups"] == [{"GroupName": "Auditors", "GroupId": group["GroupId"]}]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1

    with pytest.raises(ClientError) as e:
        iam.attach_group_policy(GroupName="Auditors", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/nonexistent")
    assert error(e) == ("NoSuchEntity", f"Policy arn:aws:iam::{ACCOUNT}:policy/nonexistent does not exist or is not attachable.", 404)
    with pytest.raises(ClientError) as e:
        iam.attach_group_policy(GroupName="Auditors", PolicyArn="longpolicynamebutnoarn")
    assert error(e) == ("ValidationError", "ARN longpolicynamebutnoarn is not valid.", 400)
    with pytest.raises(ClientError) as e:
        iam.attach_group_policy(GroupName="Auditors", PolicyArn="arn:aws:iam::aws:policy/aws-service-role/AWSLambdaReplicator")
    assert error(e)[0::2] == ("PolicyNotAttachable", 400)
    iam.detach_group_policy(GroupName="Auditors", PolicyArn=arn)
    with pytest.raises(ClientError) as e:
        iam.detach_group_policy(GroupName="Auditors", PolicyArn=arn)
    assert error(e) == ("NoSuchEntity", f"Policy {arn} was not found.", 404)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    iam.delete_policy(PolicyArn=arn)
    for i in range(9):
        iam.attach_group_policy(GroupName="Auditors", PolicyArn=f"arn:aws:iam::aws:policy/GroupFiller{i}")
    with pytest.raises(ClientError) as e:
        iam.attach_group_policy(GroupName="Auditors", PolicyArn="arn:aws:iam::aws:policy/OneTooMany")
    assert error(e) == ("LimitExceeded", "Cannot exceed quota for PoliciesPerGroup: 10", 409)

    # inline policies: the group's total is 5,120 characters without white space
    iam.put_group_policy(GroupName="Auditors", PolicyName="b-inline", PolicyDocument=doc(S3_READ))
    iam.put_group_policy(GroupName="auditors", PolicyName="a-inline", PolicyDocument=doc({"Statement": S3_READ["Statement"]}))
    assert iam.list_group_policies(GroupName="Auditors")["PolicyNames"] == ["a-inline", "b-inline"]
    got = iam.get_group_policy(GroupName="auditors", PolicyName="b-inline")
    assert (got["GroupName"], got["PolicyName"], got["PolicyDocument"]) == ("Auditors", "b-inline", S3_READ)
    page = iam.list_group_policies(GroupName="Auditors", MaxItems=1)
    assert page["PolicyNames"] == ["a-inline"] and iam.list_group_policies(GroupName="Auditors", Marker=page["Marker"])["PolicyNames"] == ["b-inline"]
    fits = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [f"s3:Get{i:05d}" for i in range(200)], "Resource": "*"}]}
    iam.put_group_policy(GroupName="Auditors", PolicyName="big", PolicyDocument=doc(fits))  # > a user's 2,048, < 5,120
    with pytest.raises(ClientError) as e:
        iam.put_group_policy(GroupName="Auditors", PolicyName="bigger", PolicyDocument=doc(fits))
    assert error(e) == ("LimitExceeded", "Maximum policy size of 5120 bytes exceeded for group Auditors", 409)
    with pytest.raises(ClientError) as e:
        iam.put_group_policy(GroupName="Auditors", PolicyName="bad", PolicyDocument=doc({"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}))
    assert error(e) == ("MalformedPolicyDocument", "Policy statement must contain resources.", 400)
    with pytest.raises(ClientError) as e:
        iam.put_group_policy(GroupName="Auditors", PolicyName="bad", PolicyDocument="{not json")
    assert error(e) == ("MalformedPolicyDocument", "Syntax errors in policy.", 400)
    iam.delete_group_policy(GroupName="Auditors", PolicyName="a-inline")
    for call in (
        lambda: iam.get_group_policy(GroupName="Auditors", PolicyName="a-inline"),
        lambda: iam.delete_group_policy(GroupName="Auditors", PolicyName="a-inline"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == ("NoSuchEntity", "The group policy with name a-inline cannot be found.", 404)


def test_delete_conflicts_and_renamed_members(iam: Any) -> None:
    iam.create_group(GroupName="Staff")
    iam.create_user(UserName="Hank")
    iam.add_user_to_group(GroupName="Staff", UserName="Hank")
    iam.attach_group_policy(GroupName="Staff", PolicyArn=BASIC)
    iam.put_group_policy(GroupName="Staff", PolicyName="inline", PolicyDocument=doc(S3_READ))

    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName="Hank")
    assert error(e) == ("DeleteConflict", "Cannot delete entity, must remove users from group first.", 409)

    # renaming the user keeps its memberships; renaming the group keeps its members
    iam.update_user(UserName="Hank", NewUserName="Henry", NewPath="/people/")
    assert [u["Arn"] for u in iam.get_group(GroupName="Staff")["Users"]] == [f"arn:aws:iam::{ACCOUNT}:user/people/Henry"]
    iam.update_group(GroupName="Staff", NewGroupName="Personnel")
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="Henry")["Groups"]] == ["Personnel"]
    assert [u["UserName"] for u in iam.get_group(GroupName="Personnel")["Users"]] == ["Henry"]
    iam.update_group(GroupName="Personnel", NewGroupName="PERSONNEL")  # a change of case only is a rename
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="henry")["Groups"]] == ["PERSONNEL"]

    steps = [
        ("Cannot delete entity, must remove users from group first.", lambda: iam.remove_user_from_group(GroupName="personnel", UserName="HENRY")),
        ("Cannot delete entity, must detach all policies first.", lambda: iam.detach_group_policy(GroupName="Personnel", PolicyArn=BASIC)),
        ("Cannot delete entity, must delete policies first.", lambda: iam.delete_group_policy(GroupName="Personnel", PolicyName="inline")),
    ]
    for message, resolve in steps:
        with pytest.raises(ClientError) as e:
            iam.delete_group(GroupName="Personnel")
        assert error(e) == ("DeleteConflict", message, 409)
        resolve()
    iam.delete_group(GroupName="Personnel")
    assert iam.list_groups_for_user(UserName="Henry")["Groups"] == []
    iam.delete_user(UserName="Henry")  # no longer in a group


def test_groups_with_the_aws_cli(nimbus_server: NimbusProcess) -> None:
    out = json.loads(nimbus_server.aws("iam", "create-group", "--group-name", "cli-group", "--path", "/cli/").stdout)
    assert out["Group"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/cli/cli-group"
    nimbus_server.aws("iam", "create-user", "--user-name", "cli-member")
    nimbus_server.aws("iam", "add-user-to-group", "--group-name", "cli-group", "--user-name", "cli-member")
    nimbus_server.aws("iam", "put-group-policy", "--group-name", "cli-group", "--policy-name", "inline", "--policy-document", doc(S3_READ))
    got = json.loads(nimbus_server.aws("iam", "get-group", "--group-name", "cli-group").stdout)
    assert [u["UserName"] for u in got["Users"]] == ["cli-member"]
    policy = json.loads(nimbus_server.aws("iam", "get-group-policy", "--group-name", "cli-group", "--policy-name", "inline").stdout)
    assert policy["PolicyDocument"] == S3_READ
    refused = nimbus_server.aws("iam", "delete-group", "--group-name", "cli-group", check=False)
    assert refused.returncode != 0 and "DeleteConflict" in refused.stderr


def test_groups_survive_kill9(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        iam = server.client("iam")
        group = iam.create_group(GroupName="Durable", Path="/d/")["Group"]
        user = iam.create_user(UserName="Keeper")["User"]
        iam.add_user_to_group(GroupName="Durable", UserName="Keeper")
        arn = iam.create_policy(PolicyName="DurablePolicy", PolicyDocument=doc(S3_READ))["Policy"]["Arn"]
        iam.attach_group_policy(GroupName="Durable", PolicyArn=arn)
        iam.put_group_policy(GroupName="Durable", PolicyName="inline", PolicyDocument=doc(S3_READ))
        iam.update_group(GroupName="Durable", NewGroupName="Lasting")

        server.kill9()
        server.start()
        iam = server.client("iam", "eu-west-1")
        got = iam.get_group(GroupName="lasting")
        assert (got["Group"]["GroupId"], got["Group"]["Arn"], got["Group"]["CreateDate"]) == (group["GroupId"], f"arn:aws:iam::{ACCOUNT}:group/d/Lasting", group["CreateDate"])
        assert [u["UserId"] for u in got["Users"]] == [user["UserId"]]
        assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="Keeper")["Groups"]] == ["Lasting"]
        assert iam.list_attached_group_policies(GroupName="Lasting")["AttachedPolicies"] == [{"PolicyName": "DurablePolicy", "PolicyArn": arn}]
        assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
        assert iam.list_entities_for_policy(PolicyArn=arn)["PolicyGroups"] == [{"GroupName": "Lasting", "GroupId": group["GroupId"]}]
        assert iam.get_group_policy(GroupName="Lasting", PolicyName="inline")["PolicyDocument"] == S3_READ
    finally:
        server.stop()

"""The IAM engine on the in-memory metadata store: roles, policies, attachments, versions, tags, paging."""

from __future__ import annotations

import json

import pytest

from nimbus.services.iam.engine import MAX_MANAGED_POLICIES_PER_ROLE, Iam, Tag
from nimbus.services.iam.errors import (
    AccessDeniedException,
    DeleteConflictException,
    EntityAlreadyExistsException,
    IamValidationError,
    InvalidInputException,
    LimitExceededException,
    NoSuchEntityException,
    PolicyNotAttachableException,
)
from nimbus.storage import open_memory_storage

ACCOUNT = "123456789012"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@pytest.fixture()
def iam() -> Iam:
    now = [1_700_000_000.5]

    def clock() -> float:
        now[0] += 1
        return now[0]

    return Iam(open_memory_storage().metadata, clock_time=clock)


def test_role_lifecycle(iam: Iam) -> None:
    role = iam.create_role(ACCOUNT, "Worker", TRUST, path="/app/", description="d", tags=[Tag("k", "v")])
    assert role.arn == f"arn:aws:iam::{ACCOUNT}:role/app/Worker"
    assert role.role_id.startswith("AROA") and len(role.role_id) == 21 and role.role_id.isupper()
    assert role.max_session == 3600 and role.created == int(role.created)
    assert iam.get_role(ACCOUNT, "worker").name == "Worker"  # names are case-insensitive, case kept
    with pytest.raises(EntityAlreadyExistsException, match="Role with name WORKER already exists."):
        iam.create_role(ACCOUNT, "WORKER", TRUST)
    iam.update_role(ACCOUNT, "Worker", max_session=7200)
    assert iam.update_role_description(ACCOUNT, "Worker", "new").description == "new"
    assert iam.get_role(ACCOUNT, "Worker").max_session == 7200
    iam.update_role(ACCOUNT, "Worker", description="")
    assert iam.get_role(ACCOUNT, "Worker").description is None
    iam.delete_role(ACCOUNT, "Worker")
    with pytest.raises(NoSuchEntityException, match="The role with name Worker cannot be found."):
        iam.get_role(ACCOUNT, "Worker")


def test_roles_are_per_account(iam: Iam) -> None:
    iam.create_role(ACCOUNT, "r", TRUST)
    iam.create_role("210987654321", "r", TRUST)
    assert [r.arn for r in iam.list_roles("210987654321").items] == ["arn:aws:iam::210987654321:role/r"]


def test_list_roles_pages_and_filters(iam: Iam) -> None:
    for i in range(7):
        iam.create_role(ACCOUNT, f"role-{i}", TRUST, path="/a/" if i % 2 else "/")
    names: list[str] = []
    marker = None
    while True:
        page = iam.list_roles(ACCOUNT, marker=marker, max_items=3)
        names += [r.name for r in page.items]
        if page.marker is None:
            break
        marker = page.marker
    assert names == [f"role-{i}" for i in range(7)]
    assert [r.name for r in iam.list_roles(ACCOUNT, path_prefix="/a/").items] == ["role-1", "role-3", "role-5"]
    with pytest.raises(InvalidInputException):
        iam.list_roles(ACCOUNT, marker="!!not a marker!!")


def test_attachments_and_delete_conflicts(iam: Iam) -> None:
    iam.create_role(ACCOUNT, "r", TRUST)
    policy = iam.create_policy(ACCOUNT, "p", POLICY, path="/team/")
    iam.attach_role_policy(ACCOUNT, "r", policy.arn)
    iam.attach_role_policy(ACCOUNT, "r", policy.arn)  # twice is fine
    iam.attach_role_policy(ACCOUNT, "r", BASIC)
    iam.attach_role_policy(ACCOUNT, "r", "arn:aws:iam::aws:policy/SomethingNimbusDoesNotKnow")
    assert iam.get_policy(ACCOUNT, policy.arn).attachments == 1
    assert iam.get_policy(ACCOUNT, BASIC).attachments == 1
    attached = iam.attached_role_policies(ACCOUNT, "r")
    assert [a.name for a in attached.items] == ["AWSLambdaBasicExecutionRole", "p", "SomethingNimbusDoesNotKnow"]
    assert [a.name for a in iam.attached_role_policies(ACCOUNT, "r", path_prefix="/team/").items] == ["p"]
    assert [r.name for r in iam.entities_for_policy(ACCOUNT, policy.arn).items] == ["r"]
    with pytest.raises(DeleteConflictException, match="must detach all policies first"):
        iam.delete_role(ACCOUNT, "r")
    with pytest.raises(DeleteConflictException, match="Cannot delete a policy attached to entities."):
        iam.delete_policy(ACCOUNT, policy.arn)
    for arn in (policy.arn, BASIC, "arn:aws:iam::aws:policy/SomethingNimbusDoesNotKnow"):
        iam.detach_role_policy(ACCOUNT, "r", arn)
    with pytest.raises(NoSuchEntityException, match=f"Policy {policy.arn} was not found."):
        iam.detach_role_policy(ACCOUNT, "r", policy.arn)
    assert iam.get_policy(ACCOUNT, policy.arn).attachments == 0
    iam.put_role_policy(ACCOUNT, "r", "inline", POLICY)
    with pytest.raises(DeleteConflictException, match="must delete policies first"):
        iam.delete_role(ACCOUNT, "r")
    iam.delete_role_policy(ACCOUNT, "r", "inline")
    iam.delete_role(ACCOUNT, "r")
    iam.delete_policy(ACCOUNT, policy.arn)


def test_attach_errors(iam: Iam) -> None:
    iam.create_role(ACCOUNT, "r", TRUST)
    with pytest.raises(IamValidationError, match="ARN not-an-arn is not valid."):
        iam.attach_role_policy(ACCOUNT, "r", "not-an-arn")
    missing = f"arn:aws:iam::{ACCOUNT}:policy/missing"
    with pytest.raises(NoSuchEntityException, match=f"Policy {missing} does not exist or is not attachable."):
        iam.attach_role_policy(ACCOUNT, "r", missing)
    with pytest.raises(PolicyNotAttachableException):
        iam.attach_role_policy(ACCOUNT, "r", "arn:aws:iam::aws:policy/aws-service-role/AWSLambdaReplicator")
    for i in range(MAX_MANAGED_POLICIES_PER_ROLE):
        iam.attach_role_policy(ACCOUNT, "r", f"arn:aws:iam::aws:policy/P{i}")
    with pytest.raises(LimitExceededException, match="PoliciesPerRole: 10"):
        iam.attach_role_policy(ACCOUNT, "r", "arn:aws:iam::aws:policy/One-too-many")
    with pytest.raises(NoSuchEntityException, match="The role with name nope cannot be found."):
        iam.attach_role_policy(ACCOUNT, "nope", BASIC)


def test_policy_versions(iam: Iam) -> None:
    arn = iam.create_policy(ACCOUNT, "p", POLICY).arn
    with pytest.raises(EntityAlreadyExistsException, match="A policy called P already exists. Duplicate names are not allowed."):
        iam.create_policy(ACCOUNT, "P", POLICY)
    assert iam.create_policy_version(ACCOUNT, arn, POLICY, set_default=True).version_id == "v2"
    for expected in ("v3", "v4", "v5"):
        version = iam.create_policy_version(ACCOUNT, arn, POLICY)
        assert (version.version_id, version.is_default) == (expected, False)
    with pytest.raises(LimitExceededException, match="up to 5 versions"):
        iam.create_policy_version(ACCOUNT, arn, POLICY)
    assert [v.version_id for v in iam.list_policy_versions(ACCOUNT, arn).items] == ["v5", "v4", "v3", "v2", "v1"]
    with pytest.raises(DeleteConflictException, match="Cannot delete the default version of a policy."):
        iam.delete_policy_version(ACCOUNT, arn, "v2")
    with pytest.raises(DeleteConflictException, match="more than one version"):
        iam.delete_policy(ACCOUNT, arn)
    iam.delete_policy_version(ACCOUNT, arn, "v5")
    assert iam.create_policy_version(ACCOUNT, arn, POLICY).version_id == "v6"  # ids are never reused
    with pytest.raises(NoSuchEntityException, match=f"Policy {arn} version v9 does not exist or is not attachable."):
        iam.get_policy_version(ACCOUNT, arn, "v9")
    iam.set_default_policy_version(ACCOUNT, arn, "v1")
    policy = iam.get_policy(ACCOUNT, arn)
    assert policy.default_version == "v1" and policy.updated > policy.created
    for v in ("v2", "v3", "v4", "v6"):
        iam.delete_policy_version(ACCOUNT, arn, v)
    iam.delete_policy(ACCOUNT, arn)
    with pytest.raises(NoSuchEntityException, match=f"Policy {arn} was not found."):
        iam.get_policy(ACCOUNT, arn)


def test_aws_managed_policies(iam: Iam) -> None:
    policy = iam.get_policy(ACCOUNT, BASIC)
    assert (policy.name, policy.path, policy.default_version) == ("AWSLambdaBasicExecutionRole", "/service-role/", "v1")
    assert policy.policy_id == iam.get_policy(ACCOUNT, BASIC).policy_id  # stable
    document = json.loads(iam.get_policy_version(ACCOUNT, BASIC, "v1").document)
    assert document["Statement"][0]["Action"] == ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    with pytest.raises(NoSuchEntityException):
        iam.get_policy(ACCOUNT, "arn:aws:iam::aws:policy/NotInNimbus")
    with pytest.raises(AccessDeniedException):
        iam.delete_policy(ACCOUNT, BASIC)
    names = [p.name for p in iam.list_policies(ACCOUNT, scope="AWS").items]
    assert "AdministratorAccess" in names and "AWSLambda_FullAccess" in names and len(names) == 11
    assert iam.list_policies(ACCOUNT, scope="Local").items == []


def test_list_policies_filters(iam: Iam) -> None:
    iam.create_role(ACCOUNT, "r", TRUST)
    a = iam.create_policy(ACCOUNT, "a", POLICY, path="/x/")
    b = iam.create_policy(ACCOUNT, "b", POLICY)
    iam.attach_role_policy(ACCOUNT, "r", a.arn)
    iam.put_role_boundary(ACCOUNT, "r", b.arn)
    assert iam.get_policy(ACCOUNT, b.arn).boundary_uses == 1
    assert [p.name for p in iam.list_policies(ACCOUNT, scope="Local", path_prefix="/x/").items] == ["a"]
    assert [p.name for p in iam.list_policies(ACCOUNT, scope="Local", usage="PermissionsBoundary").items] == ["b"]
    assert [p.name for p in iam.list_policies(ACCOUNT, only_attached=True).items] == ["a", "b"]
    everything = iam.list_policies(ACCOUNT, max_items=5)
    rest = iam.list_policies(ACCOUNT, marker=everything.marker)
    assert len(everything.items) + len(rest.items) == 13 and rest.marker is None
    with pytest.raises(DeleteConflictException):
        iam.delete_policy(ACCOUNT, b.arn)  # in use as a boundary
    iam.delete_role_boundary(ACCOUNT, "r")
    assert iam.get_policy(ACCOUNT, b.arn).boundary_uses == 0


def test_boundary_errors(iam: Iam) -> None:
    iam.create_role(ACCOUNT, "r", TRUST)
    bad = f"arn:aws:iam::{ACCOUNT}:not_a_policy/invalid"
    with pytest.raises(InvalidInputException, match=f"ARN {bad} is not valid."):
        iam.put_role_boundary(ACCOUNT, "r", bad)
    missing = f"arn:aws:iam::{ACCOUNT}:policy/nonexistent-policy"
    with pytest.raises(NoSuchEntityException, match=f"Scope ARN: {missing} does not exist or is not attachable."):
        iam.create_role(ACCOUNT, "r2", TRUST, boundary=missing)


def test_tags(iam: Iam) -> None:
    iam.create_role(ACCOUNT, "r", TRUST, tags=[Tag("b", "1"), Tag("a", "2")])
    iam.tag_role(ACCOUNT, "r", [Tag("B", "3")])  # role tag keys are case-insensitive
    assert [(t.key, t.value) for t in iam.get_role(ACCOUNT, "r").tags] == [("B", "3"), ("a", "2")]
    assert [t.key for t in iam.role_tags(ACCOUNT, "r").items] == ["B", "a"]
    with pytest.raises(InvalidInputException, match="Tag keys are case insensitive"):
        iam.tag_role(ACCOUNT, "r", [Tag("x", ""), Tag("X", "")])
    iam.untag_role(ACCOUNT, "r", ["b", "missing"])
    assert [t.key for t in iam.get_role(ACCOUNT, "r").tags] == ["a"]
    iam.tag_role(ACCOUNT, "r", [Tag(f"k{i}", "") for i in range(49)])
    with pytest.raises(LimitExceededException, match="TagsPerRole: 50"):
        iam.tag_role(ACCOUNT, "r", [Tag("one-more", "")])
    page = iam.role_tags(ACCOUNT, "r", max_items=30)
    assert len(page.items) == 30 and len(iam.role_tags(ACCOUNT, "r", marker=page.marker).items) == 20
    arn = iam.create_policy(ACCOUNT, "p", POLICY, tags=[Tag("a", "lower"), Tag("A", "upper")]).arn  # case-sensitive
    assert [t.key for t in iam.policy_tags(ACCOUNT, arn).items] == ["A", "a"]
    with pytest.raises(InvalidInputException, match="^Duplicate tag keys found.$"):
        iam.tag_policy(ACCOUNT, arn, [Tag("z", ""), Tag("z", "")])
    iam.untag_policy(ACCOUNT, arn, ["a"])
    assert [t.key for t in iam.policy_tags(ACCOUNT, arn).items] == ["A"]


def test_inline_policies(iam: Iam) -> None:
    iam.create_role(ACCOUNT, "r", TRUST)
    iam.put_role_policy(ACCOUNT, "r", "b", POLICY)
    iam.put_role_policy(ACCOUNT, "r", "a", POLICY)
    assert iam.role_policy_names(ACCOUNT, "r").items == ["a", "b"]
    assert iam.get_role_policy(ACCOUNT, "R", "a").document == POLICY
    with pytest.raises(NoSuchEntityException, match="The role policy with name c cannot be found."):
        iam.get_role_policy(ACCOUNT, "r", "c")
    big = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [f"s3:Get{i:05d}" for i in range(500)], "Resource": "*"}]})
    iam.put_role_policy(ACCOUNT, "r", "big1", big)
    with pytest.raises(LimitExceededException, match="Maximum policy size of 10240 bytes exceeded for role r"):
        iam.put_role_policy(ACCOUNT, "r", "big2", big)
    iam.put_role_policy(ACCOUNT, "r", "big1", POLICY)  # replacing one frees its share
    iam.put_role_policy(ACCOUNT, "r", "big2", big)

"""The IAM engine's groups on the in-memory metadata store: one membership document per link, so members,
counts and a user's groups agree after adds, removes and renames of either side."""

from __future__ import annotations

import json

import pytest

from nimbus.services.iam.engine import ATTACHMENT, MEMBER, Iam, PolicyGroup
from nimbus.services.iam.errors import (
    DeleteConflictException,
    EntityAlreadyExistsException,
    LimitExceededException,
    NoSuchEntityException,
)
from nimbus.services.iam.groups import MAX_GROUPS_PER_ACCOUNT
from nimbus.storage import MetadataStore, open_memory_storage

ACCOUNT = "123456789012"
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})


@pytest.fixture()
def db() -> MetadataStore:
    return open_memory_storage().metadata


@pytest.fixture()
def iam(db: MetadataStore) -> Iam:
    now = [1_700_000_000.5]

    def clock() -> float:
        now[0] += 1
        return now[0]

    return Iam(db, clock_time=clock)


def test_group_lifecycle_per_account(iam: Iam) -> None:
    group = iam.create_group(ACCOUNT, "Admins", path="/ops/")
    assert group.arn == f"arn:aws:iam::{ACCOUNT}:group/ops/Admins" and group.created == int(group.created)
    assert group.group_id.startswith("AGPA") and len(group.group_id) == 21 and group.group_id.isupper()
    assert iam.get_group(ACCOUNT, "ADMINS") == (group, iam.get_group(ACCOUNT, "admins")[1])
    assert iam.list_groups("210987654321").items == []  # per account
    with pytest.raises(EntityAlreadyExistsException, match="Group with name admins already exists."):
        iam.create_group(ACCOUNT, "admins")
    iam.delete_group(ACCOUNT, "admins")
    with pytest.raises(NoSuchEntityException, match="The group with name Admins cannot be found."):
        iam.get_group(ACCOUNT, "Admins")


def test_groups_per_account_quota(iam: Iam) -> None:
    for i in range(MAX_GROUPS_PER_ACCOUNT):
        iam.create_group(ACCOUNT, f"g{i}")
    with pytest.raises(LimitExceededException, match="Cannot exceed quota for GroupsPerAccount: 300"):
        iam.create_group(ACCOUNT, "one-more")
    iam.create_group("210987654321", "one-more")  # another account's quota


def test_memberships_follow_renames_of_both_sides(iam: Iam, db: MetadataStore) -> None:
    iam.create_group(ACCOUNT, "Crew")
    iam.create_user(ACCOUNT, "ann")
    iam.create_user(ACCOUNT, "bob")
    iam.add_user_to_group(ACCOUNT, "crew", "ANN")
    iam.add_user_to_group(ACCOUNT, "Crew", "ann")  # twice: one membership
    iam.add_user_to_group(ACCOUNT, "Crew", "bob")
    assert db.count(MEMBER, f"{ACCOUNT}|crew|") == 2

    iam.update_user(ACCOUNT, "ann", new_name="Anna", new_path="/p/")
    iam.update_group(ACCOUNT, "Crew", new_name="Team")
    iam.update_group(ACCOUNT, "Team", new_name="TEAM")  # case only
    group, members = iam.get_group(ACCOUNT, "team")
    assert group.name == "TEAM" and [(u.name, u.path) for u in members.items] == [("Anna", "/p/"), ("bob", "/")]
    assert [k for k, _ in db.list(MEMBER, f"{ACCOUNT}|")] == [f"{ACCOUNT}|team|anna", f"{ACCOUNT}|team|bob"]
    assert [g.name for g in iam.groups_for_user(ACCOUNT, "anna").items] == ["TEAM"]

    iam.remove_user_from_group(ACCOUNT, "TEAM", "anna")
    iam.remove_user_from_group(ACCOUNT, "TEAM", "anna")  # not a member: nothing to do
    assert db.count(MEMBER, f"{ACCOUNT}|") == 1 and iam.groups_for_user(ACCOUNT, "Anna").items == []
    iam.delete_user(ACCOUNT, "Anna")
    with pytest.raises(DeleteConflictException, match="must remove users from group first"):
        iam.delete_user(ACCOUNT, "bob")
    with pytest.raises(DeleteConflictException, match="must remove users from group first"):
        iam.delete_group(ACCOUNT, "team")


def test_group_attachments_are_counted_and_listed(iam: Iam, db: MetadataStore) -> None:
    group = iam.create_group(ACCOUNT, "Readers")
    arn = iam.create_policy(ACCOUNT, "read", POLICY).arn
    iam.attach_group_policy(ACCOUNT, "Readers", arn)
    assert iam.get_policy(ACCOUNT, arn).attachments == 1
    assert iam.entities_for_policy(ACCOUNT, arn, entity_filter="Group").items == [PolicyGroup("Readers", group.group_id)]
    assert iam.entities_for_policy(ACCOUNT, arn, entity_filter="Role").items == []
    iam.update_group(ACCOUNT, "Readers", new_name="Auditors")
    assert [k for k, _ in db.list(ATTACHMENT, f"{ACCOUNT}|")] == [f"{ACCOUNT}|{arn}|group/auditors"]
    with pytest.raises(DeleteConflictException, match="Cannot delete a policy attached to entities."):
        iam.delete_policy(ACCOUNT, arn)
    with pytest.raises(DeleteConflictException, match="must detach all policies first"):
        iam.delete_group(ACCOUNT, "Auditors")
    iam.detach_group_policy(ACCOUNT, "auditors", arn)
    iam.put_group_policy(ACCOUNT, "Auditors", "inline", POLICY)
    assert iam.get_group_policy(ACCOUNT, "auditors", "inline").owner == "Auditors"
    with pytest.raises(DeleteConflictException, match="must delete policies first"):
        iam.delete_group(ACCOUNT, "Auditors")
    iam.delete_group_policy(ACCOUNT, "Auditors", "inline")
    iam.delete_group(ACCOUNT, "Auditors")
    iam.delete_policy(ACCOUNT, arn)


def test_a_refused_add_changes_nothing(iam: Iam, db: MetadataStore) -> None:
    iam.create_user(ACCOUNT, "busy")
    for i in range(10):
        iam.create_group(ACCOUNT, f"g{i}")
        iam.add_user_to_group(ACCOUNT, f"g{i}", "busy")
    iam.create_group(ACCOUNT, "eleventh")
    with pytest.raises(LimitExceededException, match="Cannot exceed quota for GroupsPerUser: 10"):
        iam.add_user_to_group(ACCOUNT, "eleventh", "busy")
    assert db.count(MEMBER, f"{ACCOUNT}|") == 10 and len(iam.groups_for_user(ACCOUNT, "busy").items) == 10
    assert iam.get_group(ACCOUNT, "eleventh")[1].items == []

"""The IAM engine's users and access keys on the in-memory metadata store, with a real credential store bound
to it: keys are accepted while active, follow a renamed user, and the store's memory matches its documents
after a rolled-back transaction."""

from __future__ import annotations

import json

import pytest

from nimbus.credentials import CredentialStore, Credentials
from nimbus.services.iam.engine import ACCESS_KEY, USER, Iam, PolicyRole, PolicyUser, Tag
from nimbus.services.iam.errors import (
    DeleteConflictException,
    EntityAlreadyExistsException,
    InvalidInputException,
    LimitExceededException,
    NoSuchEntityException,
)
from nimbus.storage import MetadataStore, open_memory_storage

ACCOUNT = "123456789012"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})


@pytest.fixture()
def db() -> MetadataStore:
    return open_memory_storage().metadata


@pytest.fixture()
def keys(db: MetadataStore) -> CredentialStore:
    store = CredentialStore(Credentials("NKIAROOT000000000000", "root-secret"), ACCOUNT)
    store.bind(db)
    return store


@pytest.fixture()
def iam(db: MetadataStore, keys: CredentialStore) -> Iam:
    now = [1_700_000_000.5]

    def clock() -> float:
        now[0] += 1
        return now[0]

    return Iam(db, keys=keys, clock_time=clock)


def test_user_lifecycle(iam: Iam) -> None:
    user = iam.create_user(ACCOUNT, "Alice", path="/dev/", tags=[Tag("k", "v")])
    assert user.arn == f"arn:aws:iam::{ACCOUNT}:user/dev/Alice" and user.principal == "user/dev/Alice"
    assert user.user_id.startswith("AIDA") and len(user.user_id) == 21 and user.created == int(user.created)
    assert iam.get_user(ACCOUNT, "ALICE") == user
    with pytest.raises(EntityAlreadyExistsException, match="User with name alice already exists."):
        iam.create_user(ACCOUNT, "alice")
    assert [u.name for u in iam.list_users("210987654321").items] == []  # per account
    iam.delete_user(ACCOUNT, "alice")
    with pytest.raises(NoSuchEntityException, match="The user with name Alice cannot be found."):
        iam.get_user(ACCOUNT, "Alice")


def test_keys_are_credentials_while_active(iam: Iam, keys: CredentialStore) -> None:
    user = iam.create_user(ACCOUNT, "bob", path="/p/")
    key = iam.create_access_key(ACCOUNT, "bob")
    assert key.secret and key.status == "Active"
    creds = keys.lookup(key.access_key_id)
    assert creds is not None and (creds.secret_access_key, creds.user_id, creds.arn) == (key.secret, user.user_id, user.arn)
    assert iam.caller_user(ACCOUNT, creds.principal, creds.user_id) == user
    assert iam.access_key_owner(ACCOUNT, key.access_key_id) == "bob" and iam.access_key_owner("210987654321", key.access_key_id) is None

    iam.update_access_key(ACCOUNT, "bob", key.access_key_id, "Inactive")
    assert keys.lookup(key.access_key_id) is None
    assert [k.status for k in iam.access_keys(ACCOUNT, "bob").items] == ["Inactive"]
    iam.update_access_key(ACCOUNT, "bob", key.access_key_id, "Active")
    assert keys.lookup(key.access_key_id) == creds
    with pytest.raises(InvalidInputException):
        iam.update_access_key(ACCOUNT, "bob", key.access_key_id, "Expired")

    iam.create_access_key(ACCOUNT, "bob")
    with pytest.raises(LimitExceededException, match="Cannot exceed quota for AccessKeysPerUser: 2"):
        iam.create_access_key(ACCOUNT, "bob")
    with pytest.raises(DeleteConflictException, match="must delete access keys first"):
        iam.delete_user(ACCOUNT, "bob")
    iam.delete_access_key(ACCOUNT, "bob", key.access_key_id)
    assert keys.lookup(key.access_key_id) is None and iam.access_key_owner(ACCOUNT, key.access_key_id) is None
    with pytest.raises(NoSuchEntityException, match=f"The Access Key with id {key.access_key_id} cannot be found."):
        iam.delete_access_key(ACCOUNT, "bob", key.access_key_id)


def test_a_rename_carries_keys_links_and_identity(iam: Iam, keys: CredentialStore, db: MetadataStore) -> None:
    user = iam.create_user(ACCOUNT, "carol")
    arn = iam.create_policy(ACCOUNT, "pol", POLICY).arn
    iam.attach_user_policy(ACCOUNT, "carol", arn)
    iam.put_user_boundary(ACCOUNT, "carol", arn)
    key = iam.create_access_key(ACCOUNT, "carol")
    iam.update_user(ACCOUNT, "carol", new_name="Caroline", new_path="/x/")

    creds = keys.lookup(key.access_key_id)
    assert creds is not None and creds.arn == f"arn:aws:iam::{ACCOUNT}:user/x/Caroline" and creds.user_id == user.user_id
    assert iam.caller_user(ACCOUNT, creds.principal, creds.user_id).name == "Caroline"
    assert iam.access_key_owner(ACCOUNT, key.access_key_id) == "Caroline"
    assert iam.get_policy(ACCOUNT, arn).attachments == 1 and iam.get_policy(ACCOUNT, arn).boundary_uses == 1
    assert iam.entities_for_policy(ACCOUNT, arn).items == [PolicyUser("Caroline", user.user_id)]
    assert db.get(USER, f"{ACCOUNT}:carol") is None
    with pytest.raises(NoSuchEntityException):
        iam.caller_user(ACCOUNT, "user/carol", user.user_id)  # the old name is gone

    iam.create_user(ACCOUNT, "dave")
    with pytest.raises(EntityAlreadyExistsException, match="User with name DAVE already exists."):
        iam.update_user(ACCOUNT, "Caroline", new_name="DAVE")
    assert db.get(ACCESS_KEY, key.access_key_id) == {"account": ACCOUNT, "user": "Caroline"}


def test_entities_list_every_role_and_user(iam: Iam) -> None:
    arn = iam.create_policy(ACCOUNT, "shared", POLICY).arn
    roles = [iam.create_role(ACCOUNT, f"role-{i}", TRUST) for i in range(3)]
    users = [iam.create_user(ACCOUNT, f"user-{i}") for i in range(2)]
    for r in roles:
        iam.attach_role_policy(ACCOUNT, r.name, arn)
    for u in users:
        iam.attach_user_policy(ACCOUNT, u.name, arn)
    everything = iam.entities_for_policy(ACCOUNT, arn).items
    assert [e for e in everything if isinstance(e, PolicyRole)] == [PolicyRole(r.name, r.role_id) for r in roles]
    assert [e for e in everything if isinstance(e, PolicyUser)] == [PolicyUser(u.name, u.user_id) for u in users]
    page = iam.entities_for_policy(ACCOUNT, arn, max_items=2)
    rest = iam.entities_for_policy(ACCOUNT, arn, marker=page.marker)
    assert page.items + rest.items == everything
    assert iam.entities_for_policy(ACCOUNT, arn, entity_filter="User").items == [PolicyUser(u.name, u.user_id) for u in users]
    assert iam.get_policy(ACCOUNT, arn).attachments == 5


def test_a_rolled_back_rename_leaves_keys_as_stored(db: MetadataStore, keys: CredentialStore) -> None:
    """The credential store method UpdateUser uses, inside a transaction that fails after it ran."""
    key = keys.create_user_key("user/erin", "AIDAERIN")
    with pytest.raises(RuntimeError):
        with db.transaction():
            keys.set_user_key_principal(key.access_key_id, "user/renamed/erin")
            found = keys.lookup(key.access_key_id)
            assert found is not None and found.arn == f"arn:aws:iam::{ACCOUNT}:user/renamed/erin"
            raise RuntimeError("a later write failed")
    keys.forget_uncommitted([key.access_key_id])
    assert keys.lookup(key.access_key_id) == key
    keys.set_user_key_principal("AKIANOSUCHKEY0000000", "user/x")  # an unknown key: nothing to do
    keys.set_user_key_active(key.access_key_id, False)
    keys.set_user_key_principal(key.access_key_id, "user/other")
    assert keys.lookup(key.access_key_id) is None  # renaming an inactive key does not activate it

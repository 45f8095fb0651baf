"""Roles, users and their access keys, managed and inline policies and attachments of one account, as
metadata documents (groups and memberships: ``groups``; what roles, users and groups share: ``holders``).

IAM is global: everything is keyed by account, never by region. Names are unique and looked up
case-insensitively (IAM: "names are not distinguished by case") and kept in the case given.

Documents (kind → key):

    iam.role        <account>:<role name, lower case>      the role, its tags, attached ARNs, inline policies
    iam.user        <account>:<user name, lower case>      the user, its tags, attached ARNs, inline policies,
                                                           its access keys' status and creation date, its groups
    iam.group       <account>:<group name, lower case>     the group, its attached ARNs, inline policies
    iam.member      <account>|<group>|<user>               a user's membership of a group (lower case)
    iam.policy      <account>:<policy name, lower case>    a customer-managed policy and its versions
    iam.attachment  <account>|<policy ARN>|<entity>        a managed policy attached to a role, user or group
    iam.boundary    <account>|<policy ARN>|<entity>        a policy used as a role's or user's boundary
    iam.access_key  <access key id>                        the account and user an access key belongs to
    iam.account     <account>                              when the account's root user was first seen

where <entity> is the role name, ``user/<user name>`` or ``group/<group name>``, in lower case. Attachments are documents of
their own so a policy's AttachmentCount is a count of keys (always right) and ListEntitiesForPolicy a
prefix scan; a change touching several documents is one transaction. A user's access keys are real: the
credential store (``nimbus.credentials``) keeps their secrets and active flag in its own ``iam.key``
documents, written in the same transaction. Policy documents are stored as the text sent; ``documents``
checks them, nothing evaluates them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nimbus.services.iam import aws_managed, documents
from nimbus.services.iam.documents import (
    MAX_GROUP_INLINE_CHARS,
    MAX_MANAGED_POLICY_CHARS,
    MAX_ROLE_INLINE_CHARS,
    MAX_TRUST_POLICY_CHARS,
    MAX_USER_INLINE_CHARS,
    Kind,
)
from nimbus.services.iam.errors import (
    AccessDeniedException,
    DeleteConflictException,
    EntityAlreadyExistsException,
    InvalidInputException,
    LimitExceededException,
    NoSuchEntityException,
)
from nimbus.services.iam.groups import MAX_GROUPS_PER_ACCOUNT, MAX_GROUPS_PER_USER, Group, Groups, PolicyGroup
from nimbus.services.iam.holders import (
    ACCESS_KEY,
    ACCOUNT,
    ATTACHMENT,
    BOUNDARY,
    GROUP,
    MAX_MANAGED_POLICIES_PER_GROUP,
    MAX_MANAGED_POLICIES_PER_ROLE,
    MAX_MANAGED_POLICIES_PER_USER,
    MEMBER,
    POLICY,
    ROLE,
    USER,
    AttachedPolicy,
    Holder,
    InlinePolicy,
    Tag,
    User,
    not_found,
    tags_of,
    user_entity,
    user_not_found,
)
from nimbus.services.iam.names import (
    POLICY_ID_PREFIX,
    ROLE_ID_PREFIX,
    USER_ID_PREFIX,
    PolicyArn,
    new_id,
    policy_arn,
    role_arn,
    user_principal,
)
from nimbus.services.iam.paging import DEFAULT_MAX_ITEMS, Page
from nimbus.services.iam.paging import page as _page
from nimbus.services.iam.paging import unmark as _unmark

if TYPE_CHECKING:
    from nimbus.credentials import CredentialStore

__all__ = [  # what the api and tests take from here; groups, holders and paging define some of them
    "ACCESS_KEY", "ACCOUNT", "ATTACHMENT", "BOUNDARY", "DEFAULT_MAX_ITEMS", "GROUP", "MAX_MANAGED_POLICIES_PER_ROLE",
    "MAX_MANAGED_POLICIES_PER_USER", "MEMBER", "POLICY", "ROLE", "USER", "AccessKey", "AttachedPolicy", "Group", "Iam",
    "InlinePolicy", "Page", "Policy", "PolicyGroup", "PolicyRole", "PolicyUser", "PolicyVersion", "Role", "Tag", "User",
]

# IAM quotas (IAM object quotas; defaults)
MAX_ROLES_PER_ACCOUNT = 1000
MAX_USERS_PER_ACCOUNT = 5000
MAX_POLICIES_PER_ACCOUNT = 1500
MAX_ACCESS_KEYS_PER_USER = 2
MAX_TAGS = 50
MAX_POLICY_VERSIONS = 5
DEFAULT_MAX_SESSION_S = 3600
ACTIVE, INACTIVE = "Active", "Inactive"  # an access key's Status


@dataclass(slots=True, frozen=True)
class Role:
    name: str
    role_id: str
    arn: str
    path: str
    created: float
    trust_policy: str
    description: str | None
    max_session: int
    boundary: str | None
    tags: tuple[Tag, ...]


@dataclass(slots=True, frozen=True)
class Policy:
    name: str
    policy_id: str
    arn: str
    path: str
    default_version: str
    attachments: int
    boundary_uses: int
    description: str | None
    created: float
    updated: float
    tags: tuple[Tag, ...]


@dataclass(slots=True, frozen=True)
class PolicyVersion:
    version_id: str
    document: str
    is_default: bool
    created: float


@dataclass(slots=True, frozen=True)
class PolicyRole:
    name: str
    role_id: str


@dataclass(slots=True, frozen=True)
class PolicyUser:
    name: str
    user_id: str


@dataclass(slots=True, frozen=True)
class AccessKey:
    user: str
    access_key_id: str
    status: str  # "Active" or "Inactive"
    created: float
    secret: str | None = None  # only CreateAccessKey's answer carries it


def _role_not_found(name: str) -> NoSuchEntityException:
    return NoSuchEntityException(f"The role with name {name} cannot be found.")


def _entity_kind(link: dict[str, Any]) -> str:
    """Which EntityFilter an attachment or boundary document's entity answers to."""
    return "User" if "user" in link else "Group" if "group" in link else "Role"


def _no_version(arn: str, version: str) -> NoSuchEntityException:
    return NoSuchEntityException(f"Policy {arn} version {version} does not exist or is not attachable.")


class Iam(Groups):
    """The IAM engine. Synchronous: every operation is a few metadata reads and one transaction. Groups
    (``groups.Groups``) and what roles, users and groups share (``holders.HolderStore``) are its bases."""


    # --- roles ----------------------------------------------------------------------------------

    @staticmethod
    def _role_key(account: str, name: str) -> str:
        return f"{account}:{name.lower()}"

    def _role_doc(self, account: str, name: str) -> dict[str, Any]:
        doc = self.db.get(ROLE, self._role_key(account, name))
        if doc is None:
            raise _role_not_found(name)
        return doc

    @staticmethod
    def _role(account: str, doc: dict[str, Any]) -> Role:
        return Role(
            name=doc["name"],
            role_id=doc["id"],
            arn=role_arn(account, doc["path"], doc["name"]),
            path=doc["path"],
            created=doc["created"],
            trust_policy=doc["trust"],
            description=doc.get("description"),
            max_session=doc["max_session"],
            boundary=doc.get("boundary"),
            tags=tags_of(doc["tags"]),
        )

    def create_role(
        self,
        account: str,
        name: str,
        trust_policy: str,
        *,
        path: str = "/",
        description: str | None = None,
        max_session: int | None = None,
        boundary: str | None = None,
        tags: list[Tag] | None = None,
    ) -> Role:
        documents.check(trust_policy, Kind.TRUST)
        tag_list = self._merge_tags([], tags or [], case_blind=True, quota="TagsPerRole")
        boundary_arn = self._boundary_arn(account, boundary) if boundary else None
        key = self._role_key(account, name)
        if self.db.get(ROLE, key) is not None:
            raise EntityAlreadyExistsException(f"Role with name {name} already exists.")
        if self.db.count(ROLE, f"{account}:") >= MAX_ROLES_PER_ACCOUNT:
            raise LimitExceededException(f"Cannot exceed quota for RolesPerAccount: {MAX_ROLES_PER_ACCOUNT}")
        doc: dict[str, Any] = {
            "name": name,
            "id": new_id(ROLE_ID_PREFIX),
            "path": path,
            "created": self._stamp(),
            "trust": trust_policy,
            "max_session": max_session or DEFAULT_MAX_SESSION_S,
            "tags": tag_list,
            "attached": [],
            "inline": {},
        }
        if description:
            doc["description"] = description
        if boundary_arn:
            doc["boundary"] = boundary_arn
        with self.db.transaction():
            self.db.put(ROLE, key, doc)
            if boundary_arn:
                self.db.put(BOUNDARY, self._link_key(account, boundary_arn, name), self._link(doc))
        return self._role(account, doc)

    def get_role(self, account: str, name: str) -> Role:
        return self._role(account, self._role_doc(account, name))

    def list_roles(self, account: str, *, path_prefix: str | None = None, marker: str | None = None, max_items: int | None = None) -> Page[Role]:
        prefix = path_prefix or "/"
        start = _unmark(marker) if marker else None
        rows = self._scan(ROLE, f"{account}:", lambda doc: doc["path"].startswith(prefix), start=start)
        return _page(((k, self._role(account, d)) for k, d in rows), marker, max_items)

    def delete_role(self, account: str, name: str) -> None:
        doc = self._role_doc(account, name)
        if doc["attached"]:
            raise DeleteConflictException("Cannot delete entity, must detach all policies first.")
        if doc["inline"]:
            raise DeleteConflictException("Cannot delete entity, must delete policies first.")
        from nimbus.services.iam.profiles import KIND as PROFILE

        if any(doc["name"].lower() in (r.lower() for r in p["roles"]) for _, p in self.db.list(PROFILE, f"{account}:")):
            raise DeleteConflictException("Cannot delete entity, must remove roles from instance profile first.")
        with self.db.transaction():
            if doc.get("boundary"):
                self.db.delete(BOUNDARY, self._link_key(account, doc["boundary"], doc["name"]))
            self.db.delete(ROLE, self._role_key(account, name))

    def update_role(self, account: str, name: str, *, description: str | None = None, max_session: int | None = None) -> None:
        doc = self._role_doc(account, name)
        if description is not None:
            self._set_description(doc, description)
        if max_session is not None:
            doc["max_session"] = max_session
        self.db.put(ROLE, self._role_key(account, name), doc)

    def update_role_description(self, account: str, name: str, description: str) -> Role:
        doc = self._role_doc(account, name)
        self._set_description(doc, description)
        self.db.put(ROLE, self._role_key(account, name), doc)
        return self._role(account, doc)

    @staticmethod
    def _set_description(doc: dict[str, Any], description: str) -> None:
        if description:
            doc["description"] = description
        else:  # an empty Description clears it
            doc.pop("description", None)

    def update_trust_policy(self, account: str, name: str, trust_policy: str) -> None:
        doc = self._role_doc(account, name)
        documents.check(trust_policy, Kind.TRUST)
        doc["trust"] = trust_policy
        self.db.put(ROLE, self._role_key(account, name), doc)

    # --- tags -----------------------------------------------------------------------------------

    @staticmethod
    def _merge_tags(current: list[list[str]], new: list[Tag], *, case_blind: bool, quota: str) -> list[list[str]]:
        """``current`` with ``new`` set; role tag keys are case-insensitive, policy tag keys are not."""
        fold: Callable[[str], str] = str.lower if case_blind else str
        keys = [fold(t.key) for t in new]
        if len(keys) != len(set(keys)):
            hint = " Please note that Tag keys are case insensitive." if case_blind else ""
            raise InvalidInputException(f"Duplicate tag keys found.{hint}")
        merged = [list(t) for t in current]
        for tag in new:
            for entry in merged:
                if fold(entry[0]) == fold(tag.key):
                    entry[:] = [tag.key, tag.value]
                    break
            else:
                merged.append([tag.key, tag.value])
        if len(merged) > MAX_TAGS:
            raise LimitExceededException(f"Cannot exceed quota for {quota}: {MAX_TAGS}")
        return merged

    @staticmethod
    def _drop_tags(current: list[list[str]], keys: list[str], *, case_blind: bool) -> list[list[str]]:
        fold: Callable[[str], str] = str.lower if case_blind else str
        gone = {fold(k) for k in keys}
        return [t for t in current if fold(t[0]) not in gone]

    @staticmethod
    def _tag_page(raw: list[list[str]], marker: str | None, max_items: int | None) -> Page[Tag]:
        # List*Tags answers in key order (AWS-validated: "A" before "a")
        return _page(sorted(((k, Tag(k, v)) for k, v in raw), key=lambda e: e[0]), marker, max_items)

    def tag_role(self, account: str, name: str, tags: list[Tag]) -> None:
        doc = self._role_doc(account, name)
        doc["tags"] = self._merge_tags(doc["tags"], tags, case_blind=True, quota="TagsPerRole")
        self.db.put(ROLE, self._role_key(account, name), doc)

    def untag_role(self, account: str, name: str, keys: list[str]) -> None:
        doc = self._role_doc(account, name)
        doc["tags"] = self._drop_tags(doc["tags"], keys, case_blind=True)
        self.db.put(ROLE, self._role_key(account, name), doc)

    def role_tags(self, account: str, name: str, *, marker: str | None = None, max_items: int | None = None) -> Page[Tag]:
        return self._tag_page(self._role_doc(account, name)["tags"], marker, max_items)

    # --- a role's boundary, attached and inline policies (the machinery is ``holders.HolderStore``'s) -----

    def _role_holder(self, account: str, name: str) -> Holder:
        doc = self._role_doc(account, name)
        return Holder(ROLE, self._role_key(account, name), doc, doc["name"], self._link(doc))

    def put_role_boundary(self, account: str, name: str, boundary: str) -> None:
        self._put_boundary(account, self._role_holder(account, name), boundary)

    def delete_role_boundary(self, account: str, name: str) -> None:
        self._delete_boundary(account, self._role_holder(account, name))

    @staticmethod
    def _link(role_doc: dict[str, Any]) -> dict[str, Any]:
        return {"role": role_doc["name"], "role_id": role_doc["id"], "path": role_doc["path"]}

    def attach_role_policy(self, account: str, name: str, arn: str) -> None:
        self._attach(account, self._role_holder(account, name), arn)

    def detach_role_policy(self, account: str, name: str, arn: str) -> None:
        self._detach(account, self._role_holder(account, name), arn)

    def attached_role_policies(
        self, account: str, name: str, *, path_prefix: str | None = None, marker: str | None = None, max_items: int | None = None
    ) -> Page[AttachedPolicy]:
        return self._attached(self._role_holder(account, name), path_prefix, marker, max_items)

    def put_role_policy(self, account: str, name: str, policy_name: str, document: str) -> None:
        self._put_inline(self._role_holder(account, name), policy_name, document)

    def get_role_policy(self, account: str, name: str, policy_name: str) -> InlinePolicy:
        return self._inline(self._role_holder(account, name), policy_name)

    def delete_role_policy(self, account: str, name: str, policy_name: str) -> None:
        self._delete_inline(self._role_holder(account, name), policy_name)

    def role_policy_names(self, account: str, name: str, *, marker: str | None = None, max_items: int | None = None) -> Page[str]:
        return self._inline_names(self._role_holder(account, name), marker, max_items)

    # --- users ----------------------------------------------------------------------------------------

    @staticmethod
    def _user_link(doc: dict[str, Any]) -> dict[str, Any]:
        return {"user": doc["name"], "user_id": doc["id"], "path": doc["path"]}

    def _user_holder(self, account: str, name: str) -> Holder:
        doc = self._user_doc(account, name)
        return Holder(USER, self._user_key(account, name), doc, user_entity(doc["name"]), self._user_link(doc))

    def create_user(
        self, account: str, name: str, *, path: str = "/", boundary: str | None = None, tags: list[Tag] | None = None
    ) -> User:
        tag_list = self._merge_tags([], tags or [], case_blind=True, quota="TagsPerUser")
        boundary_arn = self._boundary_arn(account, boundary) if boundary else None
        key = self._user_key(account, name)
        if self.db.get(USER, key) is not None:
            raise EntityAlreadyExistsException(f"User with name {name} already exists.")
        if self.db.count(USER, f"{account}:") >= MAX_USERS_PER_ACCOUNT:
            raise LimitExceededException(f"Cannot exceed quota for UsersPerAccount: {MAX_USERS_PER_ACCOUNT}")
        doc: dict[str, Any] = {
            "name": name,
            "id": new_id(USER_ID_PREFIX),
            "path": path,
            "created": self._stamp(),
            "tags": tag_list,
            "attached": [],
            "inline": {},
            "keys": {},  # access key id -> {"status", "created"}; the secret lives in the credential store
        }
        if boundary_arn:
            doc["boundary"] = boundary_arn
        with self.db.transaction():
            self.db.put(USER, key, doc)
            if boundary_arn:
                self.db.put(BOUNDARY, self._link_key(account, boundary_arn, user_entity(name)), self._user_link(doc))
        return self._user(account, doc)

    def get_user(self, account: str, name: str) -> User:
        return self._user(account, self._user_doc(account, name))

    def caller_user(self, account: str, principal: str, user_id: str) -> User:
        """The user whose access key signed a request: ``principal`` is ``user<path><name>``, ``user_id`` its id."""
        name = principal.rsplit("/", 1)[-1]
        doc = self.db.get(USER, self._user_key(account, name))
        if doc is None or doc["id"] != user_id:
            raise user_not_found(name)
        return self._user(account, doc)

    def list_users(self, account: str, *, path_prefix: str | None = None, marker: str | None = None, max_items: int | None = None) -> Page[User]:
        prefix = path_prefix or "/"
        start = _unmark(marker) if marker else None
        rows = self._scan(USER, f"{account}:", lambda doc: doc["path"].startswith(prefix), start=start)
        return _page(((k, self._user(account, d)) for k, d in rows), marker, max_items)

    def update_user(self, account: str, name: str, *, new_name: str | None = None, new_path: str | None = None) -> None:
        """Rename or move a user: its key, ARN and links follow, and so do its access keys' principal."""
        old_key = self._user_key(account, name)
        doc = self._user_doc(account, name)
        old_entity = user_entity(doc["name"])
        renamed = dict(doc, name=new_name or doc["name"], path=new_path or doc["path"])
        new_key = self._user_key(account, renamed["name"])
        if new_key != old_key and self.db.get(USER, new_key) is not None:
            raise EntityAlreadyExistsException(f"User with name {renamed['name']} already exists.")
        if (renamed["name"], renamed["path"]) == (doc["name"], doc["path"]):
            return
        entity, link = user_entity(renamed["name"]), self._user_link(renamed)
        principal = user_principal(renamed["path"], renamed["name"])
        with self._keys_changing(list(doc["keys"])):
            self.db.delete(USER, old_key)
            self.db.put(USER, new_key, renamed)
            for arn in doc["attached"]:
                self.db.delete(ATTACHMENT, self._link_key(account, arn, old_entity))
                self.db.put(ATTACHMENT, self._link_key(account, arn, entity), link)
            if doc.get("boundary"):
                self.db.delete(BOUNDARY, self._link_key(account, doc["boundary"], old_entity))
                self.db.put(BOUNDARY, self._link_key(account, doc["boundary"], entity), link)
            for key_id in doc["keys"]:
                self.db.put(ACCESS_KEY, key_id, {"account": account, "user": renamed["name"]})
                self._store().set_user_key_principal(key_id, principal)
            self._move_memberships(account, doc, renamed)

    def delete_user(self, account: str, name: str) -> None:
        doc = self._user_doc(account, name)
        # the order of the checks is LocalStack's (recorded against AWS), then groups; DeleteUser's AWS message for each
        if doc.get("login"):  # a console password first, as AWS's DeleteUser reference lists it
            raise DeleteConflictException("Cannot delete entity, must delete login profile first.")
        if doc["attached"]:
            raise DeleteConflictException("Cannot delete entity, must detach all policies first.")
        if doc["inline"]:
            raise DeleteConflictException("Cannot delete entity, must delete policies first.")
        if doc["keys"]:
            raise DeleteConflictException("Cannot delete entity, must delete access keys first.")
        self._check_not_member(doc)  # AWS's DeleteUser reference lists group memberships last
        with self.db.transaction():
            if doc.get("boundary"):
                self.db.delete(BOUNDARY, self._link_key(account, doc["boundary"], user_entity(doc["name"])))
            self.db.delete(USER, self._user_key(account, name))

    def tag_user(self, account: str, name: str, tags: list[Tag]) -> None:
        holder = self._user_holder(account, name)
        holder.doc["tags"] = self._merge_tags(holder.doc["tags"], tags, case_blind=True, quota="TagsPerUser")
        self._save(holder)

    def untag_user(self, account: str, name: str, keys: list[str]) -> None:
        holder = self._user_holder(account, name)
        holder.doc["tags"] = self._drop_tags(holder.doc["tags"], keys, case_blind=True)
        self._save(holder)

    def user_tags(self, account: str, name: str, *, marker: str | None = None, max_items: int | None = None) -> Page[Tag]:
        return self._tag_page(self._user_doc(account, name)["tags"], marker, max_items)

    def put_user_boundary(self, account: str, name: str, boundary: str) -> None:
        self._put_boundary(account, self._user_holder(account, name), boundary)

    def delete_user_boundary(self, account: str, name: str) -> None:
        self._delete_boundary(account, self._user_holder(account, name))

    def attach_user_policy(self, account: str, name: str, arn: str) -> None:
        self._attach(account, self._user_holder(account, name), arn)

    def detach_user_policy(self, account: str, name: str, arn: str) -> None:
        self._detach(account, self._user_holder(account, name), arn)

    def attached_user_policies(
        self, account: str, name: str, *, path_prefix: str | None = None, marker: str | None = None, max_items: int | None = None
    ) -> Page[AttachedPolicy]:
        return self._attached(self._user_holder(account, name), path_prefix, marker, max_items)

    def put_user_policy(self, account: str, name: str, policy_name: str, document: str) -> None:
        self._put_inline(self._user_holder(account, name), policy_name, document)

    def get_user_policy(self, account: str, name: str, policy_name: str) -> InlinePolicy:
        return self._inline(self._user_holder(account, name), policy_name)

    def delete_user_policy(self, account: str, name: str, policy_name: str) -> None:
        self._delete_inline(self._user_holder(account, name), policy_name)

    def user_policy_names(self, account: str, name: str, *, marker: str | None = None, max_items: int | None = None) -> Page[str]:
        return self._inline_names(self._user_holder(account, name), marker, max_items)

    # --- access keys: the secret and the active flag live in the credential store (``iam.key``), written in
    # the same transaction as the user's document; ``iam.access_key`` maps a key id to its account and user.

    def _store(self) -> CredentialStore:
        if self.keys is None:
            raise RuntimeError("this IAM engine has no credential store: access keys need one")
        return self.keys

    @contextmanager
    def _keys_changing(self, key_ids: list[str]) -> Iterator[None]:
        """A transaction that changes access keys: if it rolls back, the keys the credential store holds in
        memory go back to what its documents say."""
        try:
            with self.db.transaction():
                yield
        except BaseException:
            if self.keys is not None:
                self.keys.forget_uncommitted(key_ids)
            raise

    @staticmethod
    def _access_key(doc: dict[str, Any], key_id: str) -> AccessKey:
        meta = doc["keys"][key_id]
        return AccessKey(doc["name"], key_id, meta["status"], meta["created"])

    @staticmethod
    def _key_of(doc: dict[str, Any], key_id: str) -> dict[str, Any]:
        meta: dict[str, Any] | None = doc["keys"].get(key_id)
        if meta is None:
            raise NoSuchEntityException(f"The Access Key with id {key_id} cannot be found.")
        return meta

    def create_access_key(self, account: str, name: str) -> AccessKey:
        store = self._store()
        holder = self._user_holder(account, name)
        doc = holder.doc
        if len(doc["keys"]) >= MAX_ACCESS_KEYS_PER_USER:
            raise LimitExceededException(f"Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}")
        created: list[str] = []
        now = self._stamp()
        with self._keys_changing(created):
            creds = store.create_user_key(user_principal(doc["path"], doc["name"]), doc["id"])
            created.append(creds.access_key_id)
            doc["keys"][creds.access_key_id] = {"status": ACTIVE, "created": now}
            self._save(holder)
            self.db.put(ACCESS_KEY, creds.access_key_id, {"account": account, "user": doc["name"]})
        return AccessKey(doc["name"], creds.access_key_id, ACTIVE, now, creds.secret_access_key)

    def access_keys(self, account: str, name: str, *, marker: str | None = None, max_items: int | None = None) -> Page[AccessKey]:
        doc = self._user_doc(account, name)
        entries = sorted((f"{meta['created']:012d}{key_id}", self._access_key(doc, key_id)) for key_id, meta in doc["keys"].items())
        return _page(entries, marker, max_items)

    def update_access_key(self, account: str, name: str, key_id: str, status: str) -> None:
        if status not in (ACTIVE, INACTIVE):
            # the model's enum has "Expired" too, which only AWS sets
            raise InvalidInputException(f"Invalid status {status}: an access key is Active or Inactive.")
        holder = self._user_holder(account, name)
        meta = self._key_of(holder.doc, key_id)
        if meta["status"] == status:
            return
        store = self._store()
        with self._keys_changing([key_id]):
            meta["status"] = status
            self._save(holder)
            store.set_user_key_active(key_id, status == ACTIVE)

    def delete_access_key(self, account: str, name: str, key_id: str) -> None:
        holder = self._user_holder(account, name)
        self._key_of(holder.doc, key_id)
        store = self._store()
        with self._keys_changing([key_id]):
            del holder.doc["keys"][key_id]
            self._save(holder)
            self.db.delete(ACCESS_KEY, key_id)
            store.delete_user_key(key_id)

    def access_key_owner(self, account: str, key_id: str) -> str | None:
        """The name of the user an access key belongs to in ``account``, or None."""
        index = self.db.get(ACCESS_KEY, key_id)
        return None if index is None or index["account"] != account else str(index["user"])

    def account_created(self, account: str) -> int:
        """When Nimbus first answered for the account's root user (GetUser's CreateDate for root), kept."""
        self.db.insert(ACCOUNT, account, {"created": self._stamp()})
        doc = self.db.get(ACCOUNT, account)
        return int(doc["created"]) if doc is not None else self._stamp()

    # --- the account: its alias and summary --------------------------------------------------------

    def account_aliases(self, account: str) -> list[str]:
        doc = self.db.get(ACCOUNT, account)
        return [str(doc["alias"])] if doc is not None and doc.get("alias") else []

    def create_account_alias(self, account: str, alias: str) -> None:
        """An account has one alias: a new name replaces the old (as IAM does); the name it already has is
        EntityAlreadyExists."""
        with self.db.transaction():
            self.account_created(account)
            doc = self.db.get(ACCOUNT, account) or {"created": self._stamp()}
            if doc.get("alias") == alias:
                raise EntityAlreadyExistsException(f"The account alias {alias} already exists.")
            self.db.put(ACCOUNT, account, {**doc, "alias": alias})

    def delete_account_alias(self, account: str, alias: str) -> None:
        with self.db.transaction():
            doc = self.db.get(ACCOUNT, account)
            if doc is None or doc.get("alias") != alias:
                raise NoSuchEntityException(f"The account alias {alias} cannot be found.")
            self.db.put(ACCOUNT, account, {k: v for k, v in doc.items() if k != "alias"})

    def account_summary(self, account: str) -> dict[str, int]:
        """GetAccountSummary's SummaryMap: this account's counts beside IAM's default quotas."""
        prefix = f"{account}:"
        versions = sum(len(doc["versions"]) for _, doc in self.db.list(POLICY, prefix))
        return {
            "Users": self.db.count(USER, prefix), "UsersQuota": MAX_USERS_PER_ACCOUNT,
            "Groups": self.db.count(GROUP, prefix), "GroupsQuota": MAX_GROUPS_PER_ACCOUNT,
            "Roles": self.db.count(ROLE, prefix), "RolesQuota": MAX_ROLES_PER_ACCOUNT,
            "Policies": self.db.count(POLICY, prefix), "PoliciesQuota": MAX_POLICIES_PER_ACCOUNT,
            "PolicyVersionsInUse": versions, "PolicyVersionsInUseQuota": 10000,
            "VersionsPerPolicyQuota": MAX_POLICY_VERSIONS, "PolicySizeQuota": MAX_MANAGED_POLICY_CHARS,
            "UserPolicySizeQuota": MAX_USER_INLINE_CHARS, "GroupPolicySizeQuota": MAX_GROUP_INLINE_CHARS,
            "RolePolicySizeQuota": MAX_ROLE_INLINE_CHARS, "AssumeRolePolicySizeQuota": MAX_TRUST_POLICY_CHARS,
            "AccessKeysPerUserQuota": MAX_ACCESS_KEYS_PER_USER, "GroupsPerUserQuota": MAX_GROUPS_PER_USER,
            "AttachedPoliciesPerRoleQuota": MAX_MANAGED_POLICIES_PER_ROLE,
            "AttachedPoliciesPerUserQuota": MAX_MANAGED_POLICIES_PER_USER,
            "AttachedPoliciesPerGroupQuota": MAX_MANAGED_POLICIES_PER_GROUP,
            "InstanceProfiles": 0, "InstanceProfilesQuota": 1000, "Providers": 0,
            "ServerCertificates": 0, "ServerCertificatesQuota": 20, "SigningCertificatesPerUserQuota": 2,
            "MFADevices": 0, "MFADevicesInUse": 0, "AccountMFAEnabled": 0,
            "AccountAccessKeysPresent": 1,  # the root keys
            "AccountPasswordPresent": 0, "AccountSigningCertificatesPresent": 0, "GlobalEndpointTokenVersion": 1,
        }

    # --- managed policies -------------------------------------------------------------------------

    def _local(self, account: str, arn: str, missing: Callable[[], Exception]) -> tuple[PolicyArn, dict[str, Any]]:
        """A customer-managed policy's document; AWS-managed ones cannot be changed by the caller."""
        parsed = self._parse(arn)
        doc = self._policy_doc_for(account, parsed)
        if doc is None:
            raise missing()
        return parsed, doc

    def _writable(self, account: str, arn: str, action: str, missing: Callable[[], Exception]) -> tuple[PolicyArn, dict[str, Any]]:
        parsed = self._parse(arn)
        if parsed.aws_managed:
            # the policy lives in AWS's account: a caller's write is refused as IAM refuses it
            raise AccessDeniedException(f"User: arn:aws:iam::{account}:root is not authorized to perform: iam:{action} on resource: policy {arn}")
        return self._local(account, arn, missing)

    def _usage(self, account: str, arn: str) -> tuple[int, int]:
        prefix = f"{account}|{arn}|"
        return self.db.count(ATTACHMENT, prefix), self.db.count(BOUNDARY, prefix)

    def _policy(self, account: str, doc: dict[str, Any]) -> Policy:
        arn = policy_arn(account, doc["path"], doc["name"])
        attachments, boundary_uses = self._usage(account, arn)
        return Policy(
            name=doc["name"],
            policy_id=doc["id"],
            arn=arn,
            path=doc["path"],
            default_version=doc["default"],
            attachments=attachments,
            boundary_uses=boundary_uses,
            description=doc.get("description"),
            created=doc["created"],
            # UpdateDate: the newest version's creation (IAM API reference, Policy data type)
            updated=max(v["created"] for v in doc["versions"].values()),
            tags=tags_of(doc["tags"]),
        )

    def _aws_policy(self, account: str, known: aws_managed.AwsPolicy) -> Policy:
        attachments, boundary_uses = self._usage(account, known.arn)
        return Policy(
            name=known.name,
            policy_id=known.policy_id,
            arn=known.arn,
            path=known.path,
            default_version=aws_managed.VERSION_ID,
            attachments=attachments,
            boundary_uses=boundary_uses,
            description=known.description,
            created=known.created,
            updated=known.created,
            tags=(),
        )

    def create_policy(
        self,
        account: str,
        name: str,
        document: str,
        *,
        path: str = "/",
        description: str | None = None,
        tags: list[Tag] | None = None,
    ) -> Policy:
        documents.check(document, Kind.MANAGED)
        tag_list = self._merge_tags([], tags or [], case_blind=False, quota="TagsPerPolicy")
        key = self._policy_key(account, name)
        if self.db.get(POLICY, key) is not None:
            raise EntityAlreadyExistsException(f"A policy called {name} already exists. Duplicate names are not allowed.")
        if self.db.count(POLICY, f"{account}:") >= MAX_POLICIES_PER_ACCOUNT:
            raise LimitExceededException(f"Cannot exceed quota for PoliciesPerAccount: {MAX_POLICIES_PER_ACCOUNT}")
        now = self._stamp()
        doc: dict[str, Any] = {
            "name": name,
            "id": new_id(POLICY_ID_PREFIX),
            "path": path,
            "created": now,
            "default": "v1",
            "next": 2,
            "versions": {"v1": {"document": document, "created": now}},
            "tags": tag_list,
        }
        if description:
            doc["description"] = description
        self.db.put(POLICY, key, doc)
        return self._policy(account, doc)

    def get_policy(self, account: str, arn: str) -> Policy:
        parsed = self._parse(arn)
        if parsed.aws_managed:
            known = aws_managed.lookup(arn)
            if known is None:
                raise not_found(arn)
            return self._aws_policy(account, known)
        _, doc = self._local(account, arn, lambda: not_found(arn))
        return self._policy(account, doc)

    def delete_policy(self, account: str, arn: str) -> None:
        parsed, doc = self._writable(account, arn, "DeletePolicy", lambda: not_found(arn))
        canonical = policy_arn(account, doc["path"], doc["name"])
        if any(self._usage(account, canonical)):
            raise DeleteConflictException("Cannot delete a policy attached to entities.")
        if len(doc["versions"]) > 1:
            raise DeleteConflictException(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's "
                "versions. The default version is deleted with the policy."
            )
        self.db.delete(POLICY, self._policy_key(account, parsed.name))

    def list_policies(
        self,
        account: str,
        *,
        scope: str | None = None,
        only_attached: bool = False,
        path_prefix: str | None = None,
        usage: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[Policy]:
        scope = scope or "All"
        candidates: list[Policy] = []
        if scope in ("All", "AWS"):
            candidates += [self._aws_policy(account, p) for p in aws_managed.CATALOGUE]
        if scope in ("All", "Local"):
            candidates += [self._policy(account, d) for _, d in self._scan(POLICY, f"{account}:", lambda d: True)]
        prefix = path_prefix or "/"

        def keep(p: Policy) -> bool:
            if not p.path.startswith(prefix):
                return False
            if only_attached and not (p.attachments or p.boundary_uses):  # attached either way
                return False
            if usage == "PermissionsPolicy":
                return p.attachments > 0
            if usage == "PermissionsBoundary":
                return p.boundary_uses > 0
            return True

        entries = sorted(((f"{p.name.lower()}\x00{p.arn}", p) for p in candidates if keep(p)), key=lambda e: e[0])
        return _page(entries, marker, max_items)

    # --- policy versions ---------------------------------------------------------------------------

    @staticmethod
    def _version_key(version_id: str) -> str:
        """Sort key listing newest first: v12 before v3 (ListPolicyVersions order, AWS-validated)."""
        try:
            number = int(version_id[1:].split(".")[0])
        except ValueError:
            number = 0
        return f"{10**9 - number:010d}"

    def create_policy_version(self, account: str, arn: str, document: str, *, set_default: bool = False) -> PolicyVersion:
        parsed, doc = self._writable(account, arn, "CreatePolicyVersion", lambda: not_found(arn))
        documents.check(document, Kind.MANAGED)
        if len(doc["versions"]) >= MAX_POLICY_VERSIONS:
            raise LimitExceededException(
                f"A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you create a new version, "
                "you must delete an existing version."
            )
        version_id = f"v{doc['next']}"
        now = self._stamp()
        doc["next"] += 1
        doc["versions"][version_id] = {"document": document, "created": now}
        if set_default:
            doc["default"] = version_id
        self.db.put(POLICY, self._policy_key(account, parsed.name), doc)
        return PolicyVersion(version_id, document, doc["default"] == version_id, now)

    def get_policy_version(self, account: str, arn: str, version_id: str) -> PolicyVersion:
        parsed = self._parse(arn)
        if parsed.aws_managed:
            known = aws_managed.lookup(arn)
            if known is None or version_id != aws_managed.VERSION_ID:
                raise _no_version(arn, version_id)
            return PolicyVersion(version_id, known.document, True, known.created)
        _, doc = self._local(account, arn, lambda: _no_version(arn, version_id))
        version = doc["versions"].get(version_id)
        if version is None:
            raise _no_version(arn, version_id)
        return PolicyVersion(version_id, version["document"], doc["default"] == version_id, version["created"])

    def list_policy_versions(self, account: str, arn: str, *, marker: str | None = None, max_items: int | None = None) -> Page[PolicyVersion]:
        parsed = self._parse(arn)
        if parsed.aws_managed:
            known = aws_managed.lookup(arn)
            if known is None:
                raise not_found(arn)
            only = PolicyVersion(aws_managed.VERSION_ID, known.document, True, known.created)
            return _page([(self._version_key(only.version_id), only)], marker, max_items)
        _, doc = self._local(account, arn, lambda: not_found(arn))
        entries = sorted(
            (
                (self._version_key(vid), PolicyVersion(vid, v["document"], vid == doc["default"], v["created"]))
                for vid, v in doc["versions"].items()
            ),
            key=lambda e: e[0],
        )
        return _page(entries, marker, max_items)

    def delete_policy_version(self, account: str, arn: str, version_id: str) -> None:
        parsed, doc = self._writable(account, arn, "DeletePolicyVersion", lambda: _no_version(arn, version_id))
        if version_id not in doc["versions"]:
            raise _no_version(arn, version_id)
        if doc["default"] == version_id:
            raise DeleteConflictException("Cannot delete the default version of a policy.")
        del doc["versions"][version_id]
        self.db.put(POLICY, self._policy_key(account, parsed.name), doc)

    def set_default_policy_version(self, account: str, arn: str, version_id: str) -> None:
        parsed, doc = self._writable(account, arn, "SetDefaultPolicyVersion", lambda: _no_version(arn, version_id))
        if version_id not in doc["versions"]:
            raise _no_version(arn, version_id)
        doc["default"] = version_id
        self.db.put(POLICY, self._policy_key(account, parsed.name), doc)

    # --- policy tags --------------------------------------------------------------------------------

    def tag_policy(self, account: str, arn: str, tags: list[Tag]) -> None:
        parsed, doc = self._writable(account, arn, "TagPolicy", lambda: not_found(arn))
        doc["tags"] = self._merge_tags(doc["tags"], tags, case_blind=False, quota="TagsPerPolicy")
        self.db.put(POLICY, self._policy_key(account, parsed.name), doc)

    def untag_policy(self, account: str, arn: str, keys: list[str]) -> None:
        parsed, doc = self._writable(account, arn, "UntagPolicy", lambda: not_found(arn))
        doc["tags"] = self._drop_tags(doc["tags"], keys, case_blind=False)
        self.db.put(POLICY, self._policy_key(account, parsed.name), doc)

    def policy_tags(self, account: str, arn: str, *, marker: str | None = None, max_items: int | None = None) -> Page[Tag]:
        parsed = self._parse(arn)
        if parsed.aws_managed:
            if aws_managed.lookup(arn) is None:
                raise not_found(arn)
            return Page([])
        _, doc = self._local(account, arn, lambda: not_found(arn))
        return self._tag_page(doc["tags"], marker, max_items)

    # --- entities ------------------------------------------------------------------------------------

    def entities_for_policy(
        self,
        account: str,
        arn: str,
        *,
        entity_filter: str | None = None,
        path_prefix: str | None = None,
        usage: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[PolicyRole | PolicyUser | PolicyGroup]:
        """The roles, users and groups a policy is attached to or bounds (groups have no boundaries)."""
        parsed = self._parse(arn)
        if parsed.aws_managed:
            known = aws_managed.lookup(arn)
            canonical = known.arn if known else arn
            if known is None and not any(self._usage(account, canonical)):
                raise not_found(arn)
        else:
            _, doc = self._local(account, arn, lambda: not_found(arn))
            canonical = policy_arn(account, doc["path"], doc["name"])
        if entity_filter not in (None, "Role", "User", "Group"):
            return Page([])  # LocalManagedPolicy / AWSManagedPolicy: policies are attached to no policy
        kinds = {"PermissionsPolicy": [ATTACHMENT], "PermissionsBoundary": [BOUNDARY]}.get(usage or "", [ATTACHMENT, BOUNDARY])
        prefix = f"{account}|{canonical}|"
        path = path_prefix or "/"

        def keep(link: dict[str, Any]) -> bool:
            if entity_filter is not None and _entity_kind(link) != entity_filter:
                return False
            return bool(link["path"].startswith(path))

        entities: dict[str, PolicyRole | PolicyUser | PolicyGroup] = {}
        for kind in kinds:
            for key, link in self._scan(kind, prefix, keep):
                entity: PolicyRole | PolicyUser | PolicyGroup
                if "user" in link:
                    entity = PolicyUser(link["user"], link["user_id"])
                elif "group" in link:
                    entity = PolicyGroup(link["group"], link["group_id"])
                else:
                    entity = PolicyRole(link["role"], link["role_id"])
                entities[key] = entity  # the key after the prefix: the entity
        return _page(sorted(entities.items(), key=lambda e: e[0]), marker, max_items)

"""IAM groups: the group, its members, and its attached and inline policies, as metadata documents.

    iam.group   <account>:<group name, lower case>            the group, its attached ARNs, inline policies
    iam.member  <account>|<group, lower case>|<user, lower>   one user's membership of one group

A membership is a document of its own, so a group's members are a prefix scan (GetGroup) and "has it
members?" a count, the way attachments are counted; the user's document also lists its groups' names
(at most 10), so ListGroupsForUser and DeleteUser read one document. Both change in one transaction, and
so does everything a rename touches: the group's key, its attachment documents (entity
``group/<name>``) and memberships, and each member's list. Names are unique case-insensitively, kept in
the case given, as roles' and users' are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nimbus.services.iam.errors import (
    DeleteConflictException,
    EntityAlreadyExistsException,
    LimitExceededException,
    NoSuchEntityException,
)
from nimbus.services.iam.holders import (
    ATTACHMENT,
    GROUP,
    MEMBER,
    USER,
    AttachedPolicy,
    Holder,
    HolderStore,
    InlinePolicy,
    User,
)
from nimbus.services.iam.names import GROUP_ID_PREFIX, group_arn, new_id
from nimbus.services.iam.paging import Page
from nimbus.services.iam.paging import page as _page
from nimbus.services.iam.paging import unmark as _unmark

# IAM quotas (IAM object quotas; defaults)
MAX_GROUPS_PER_ACCOUNT = 300
MAX_GROUPS_PER_USER = 10


@dataclass(slots=True, frozen=True)
class Group:
    name: str
    group_id: str
    arn: str
    path: str
    created: float


@dataclass(slots=True, frozen=True)
class PolicyGroup:
    """A group as ListEntitiesForPolicy lists it."""

    name: str
    group_id: str


def group_entity(name: str) -> str:
    """A group's part of attachment keys (a role's is its name, which has no "/"; a user's ``user/<name>``)."""
    return f"group/{name}"


def _group_not_found(name: str) -> NoSuchEntityException:
    return NoSuchEntityException(f"The group with name {name} cannot be found.")


def _members_first() -> DeleteConflictException:
    # AWS's wording, for DeleteGroup with members and for DeleteUser of a member alike
    return DeleteConflictException("Cannot delete entity, must remove users from group first.")


class Groups(HolderStore):
    """Group operations of the IAM engine (``engine.Iam`` derives from this)."""

    # --- documents ------------------------------------------------------------------------------

    @staticmethod
    def _group_key(account: str, name: str) -> str:
        return f"{account}:{name.lower()}"

    @staticmethod
    def _member_key(account: str, group: str, user: str) -> str:
        return f"{account}|{group.lower()}|{user.lower()}"

    @staticmethod
    def _members_prefix(account: str, group: str) -> str:
        return f"{account}|{group.lower()}|"

    def _group_doc(self, account: str, name: str) -> dict[str, Any]:
        doc = self.db.get(GROUP, self._group_key(account, name))
        if doc is None:
            raise _group_not_found(name)
        return doc

    @staticmethod
    def _group_link(doc: dict[str, Any]) -> dict[str, Any]:
        return {"group": doc["name"], "group_id": doc["id"], "path": doc["path"]}

    def _group_holder(self, account: str, name: str) -> Holder:
        doc = self._group_doc(account, name)
        return Holder(GROUP, self._group_key(account, name), doc, group_entity(doc["name"]), self._group_link(doc))

    @staticmethod
    def _group(account: str, doc: dict[str, Any]) -> Group:
        return Group(doc["name"], doc["id"], group_arn(account, doc["path"], doc["name"]), doc["path"], doc["created"])

    # --- groups ---------------------------------------------------------------------------------

    def create_group(self, account: str, name: str, *, path: str = "/") -> Group:
        key = self._group_key(account, name)
        if self.db.get(GROUP, key) is not None:
            raise EntityAlreadyExistsException(f"Group with name {name} already exists.")
        if self.db.count(GROUP, f"{account}:") >= MAX_GROUPS_PER_ACCOUNT:
            raise LimitExceededException(f"Cannot exceed quota for GroupsPerAccount: {MAX_GROUPS_PER_ACCOUNT}")
        doc: dict[str, Any] = {
            "name": name,
            "id": new_id(GROUP_ID_PREFIX),
            "path": path,
            "created": self._stamp(),
            "attached": [],
            "inline": {},
        }
        self.db.put(GROUP, key, doc)
        return self._group(account, doc)

    def get_group(
        self, account: str, name: str, *, marker: str | None = None, max_items: int | None = None
    ) -> tuple[Group, Page[User]]:
        """The group and a page of its members, in user-name order (case-insensitive)."""
        doc = self._group_doc(account, name)
        start = _unmark(marker) if marker else None
        rows = self._scan(MEMBER, self._members_prefix(account, name), lambda _: True, start=start)
        page = _page(rows, marker, max_items)
        users = []
        for member in page.items:
            user = self.db.get(USER, self._user_key(account, member["user"]))
            if user is not None:  # always, while memberships move with their user
                users.append(self._user(account, user))
        return self._group(account, doc), Page(users, page.marker)

    def list_groups(
        self, account: str, *, path_prefix: str | None = None, marker: str | None = None, max_items: int | None = None
    ) -> Page[Group]:
        prefix = path_prefix or "/"
        start = _unmark(marker) if marker else None
        rows = self._scan(GROUP, f"{account}:", lambda doc: doc["path"].startswith(prefix), start=start)
        return _page(((k, self._group(account, d)) for k, d in rows), marker, max_items)

    def update_group(self, account: str, name: str, *, new_name: str | None = None, new_path: str | None = None) -> None:
        """Rename or move a group: its key, ARN, attachments and memberships follow, and so do its members'
        lists of groups."""
        old_key = self._group_key(account, name)
        doc = self._group_doc(account, name)
        renamed = dict(doc, name=new_name or doc["name"], path=new_path or doc["path"])
        new_key = self._group_key(account, renamed["name"])
        if new_key != old_key and self.db.get(GROUP, new_key) is not None:
            raise EntityAlreadyExistsException(f"Group with name {renamed['name']} already exists.")
        if (renamed["name"], renamed["path"]) == (doc["name"], doc["path"]):
            return
        old_entity, entity, link = group_entity(doc["name"]), group_entity(renamed["name"]), self._group_link(renamed)
        members = list(self._scan(MEMBER, self._members_prefix(account, doc["name"]), lambda _: True))
        with self.db.transaction():
            self.db.delete(GROUP, old_key)
            self.db.put(GROUP, new_key, renamed)
            for arn in doc["attached"]:
                self.db.delete(ATTACHMENT, self._link_key(account, arn, old_entity))
                self.db.put(ATTACHMENT, self._link_key(account, arn, entity), link)
            for _, member in members:
                self.db.delete(MEMBER, self._member_key(account, doc["name"], member["user"]))
                self.db.put(MEMBER, self._member_key(account, renamed["name"], member["user"]), {**member, "group": renamed["name"]})
                user_key = self._user_key(account, member["user"])
                user = self.db.get(USER, user_key)
                if user is not None:
                    user["groups"] = [renamed["name"] if g.lower() == doc["name"].lower() else g for g in user.get("groups", [])]
                    self.db.put(USER, user_key, user)

    def delete_group(self, account: str, name: str) -> None:
        doc = self._group_doc(account, name)
        # members first (AWS's DeleteGroup reference: "must not contain any users or have any attached
        # policies"), then attached and inline policies in DeleteUser's order; AWS's message for each
        if self.db.count(MEMBER, self._members_prefix(account, doc["name"])):
            raise _members_first()
        if doc["attached"]:
            raise DeleteConflictException("Cannot delete entity, must detach all policies first.")
        if doc["inline"]:
            raise DeleteConflictException("Cannot delete entity, must delete policies first.")
        self.db.delete(GROUP, self._group_key(account, name))

    # --- membership -----------------------------------------------------------------------------

    def add_user_to_group(self, account: str, group: str, user: str) -> None:
        group_doc = self._group_doc(account, group)
        user_key = self._user_key(account, user)
        user_doc = self._user_doc(account, user)
        groups: list[str] = user_doc.setdefault("groups", [])
        if any(g.lower() == group_doc["name"].lower() for g in groups):
            return  # adding twice is not an error (AWS answers success)
        if len(groups) >= MAX_GROUPS_PER_USER:
            raise LimitExceededException(f"Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}")
        groups.append(group_doc["name"])
        with self.db.transaction():
            self.db.put(MEMBER, self._member_key(account, group_doc["name"], user_doc["name"]), {"group": group_doc["name"], "user": user_doc["name"]})
            self.db.put(USER, user_key, user_doc)

    def remove_user_from_group(self, account: str, group: str, user: str) -> None:
        group_doc = self._group_doc(account, group)
        user_key = self._user_key(account, user)
        user_doc = self._user_doc(account, user)
        groups: list[str] = user_doc.get("groups", [])
        kept = [g for g in groups if g.lower() != group_doc["name"].lower()]
        if len(kept) == len(groups):
            return  # not a member: nothing to do (AWS answers success, as for a second AddUserToGroup)
        user_doc["groups"] = kept
        with self.db.transaction():
            self.db.delete(MEMBER, self._member_key(account, group_doc["name"], user_doc["name"]))
            self.db.put(USER, user_key, user_doc)

    def groups_for_user(self, account: str, user: str, *, marker: str | None = None, max_items: int | None = None) -> Page[Group]:
        """The user's groups, in group-name order (case-insensitive)."""
        user_doc = self._user_doc(account, user)
        entries = []
        for name in user_doc.get("groups", []):
            doc = self.db.get(GROUP, self._group_key(account, name))
            if doc is not None:
                entries.append((name.lower(), self._group(account, doc)))
        return _page(sorted(entries, key=lambda e: e[0]), marker, max_items)

    def _move_memberships(self, account: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """A user renamed from ``old`` to ``new`` (documents): its membership documents follow. Called inside
        the rename's transaction."""
        if old["name"] == new["name"]:
            return
        for group in old.get("groups", []):
            self.db.delete(MEMBER, self._member_key(account, group, old["name"]))
            self.db.put(MEMBER, self._member_key(account, group, new["name"]), {"group": group, "user": new["name"]})

    @staticmethod
    def _check_not_member(user_doc: dict[str, Any]) -> None:
        """DeleteUser's check for group memberships."""
        if user_doc.get("groups"):
            raise _members_first()

    # --- group policies -------------------------------------------------------------------------

    def attach_group_policy(self, account: str, name: str, arn: str) -> None:
        self._attach(account, self._group_holder(account, name), arn)

    def detach_group_policy(self, account: str, name: str, arn: str) -> None:
        self._detach(account, self._group_holder(account, name), arn)

    def attached_group_policies(
        self, account: str, name: str, *, path_prefix: str | None = None, marker: str | None = None, max_items: int | None = None
    ) -> Page[AttachedPolicy]:
        return self._attached(self._group_holder(account, name), path_prefix, marker, max_items)

    def put_group_policy(self, account: str, name: str, policy_name: str, document: str) -> None:
        self._put_inline(self._group_holder(account, name), policy_name, document)

    def get_group_policy(self, account: str, name: str, policy_name: str) -> InlinePolicy:
        return self._inline(self._group_holder(account, name), policy_name)

    def delete_group_policy(self, account: str, name: str, policy_name: str) -> None:
        self._delete_inline(self._group_holder(account, name), policy_name)

    def group_policy_names(self, account: str, name: str, *, marker: str | None = None, max_items: int | None = None) -> Page[str]:
        return self._inline_names(self._group_holder(account, name), marker, max_items)

"""What roles, users and groups share: their documents' kinds, permissions boundaries, attached managed
policies and inline policies, and the metadata plumbing (scans, policy ARNs) every part of the engine uses.

``HolderStore`` is the base of the engine (``groups.Groups``, then ``engine.Iam``): a role, a user or a
group is a ``Holder`` (its document, where it is stored, and the entity part of its attachment and boundary
keys: "<role>", "user/<user>" or "group/<group>"; no role name has a "/", so they never collide and a
policy's AttachmentCount stays one count of keys).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nimbus.services.iam import aws_managed, documents
from nimbus.services.iam.documents import Kind
from nimbus.services.iam.errors import (
    IamValidationError,
    InvalidInputException,
    LimitExceededException,
    NoSuchEntityException,
    PolicyNotAttachableException,
)
from nimbus.services.iam.names import PolicyArn, parse_policy_arn, policy_arn, user_arn, user_principal
from nimbus.services.iam.paging import Page
from nimbus.services.iam.paging import page as _page
from nimbus.storage import MetadataStore

if TYPE_CHECKING:
    from nimbus.credentials import CredentialStore

# document kinds (the engine module's docstring maps each to its key)
ROLE = "iam.role"
USER = "iam.user"
GROUP = "iam.group"
POLICY = "iam.policy"
ATTACHMENT = "iam.attachment"
BOUNDARY = "iam.boundary"
MEMBER = "iam.member"
ACCESS_KEY = "iam.access_key"
ACCOUNT = "iam.account"

# IAM quotas (IAM object quotas; defaults)
MAX_MANAGED_POLICIES_PER_ROLE = 10
MAX_MANAGED_POLICIES_PER_USER = 10
MAX_MANAGED_POLICIES_PER_GROUP = 10
SCAN_CHUNK = 256
SERVICE_ROLE_POLICY_PATH = "/aws-service-role/"  # AWS policies only service-linked roles may carry


@dataclass(slots=True, frozen=True)
class Tag:
    key: str
    value: str


@dataclass(slots=True, frozen=True)
class AttachedPolicy:
    name: str
    arn: str


@dataclass(slots=True, frozen=True)
class InlinePolicy:
    owner: str  # the role's, user's or group's name
    name: str
    document: str


@dataclass(slots=True, frozen=True)
class User:
    name: str
    user_id: str
    arn: str
    path: str
    created: float
    boundary: str | None
    tags: tuple[Tag, ...]

    @property
    def principal(self) -> str:
        """Whom the user's access keys speak for in the credential store: ``user<path><name>``."""
        return user_principal(self.path, self.name)


@dataclass(slots=True)
class Holder:
    """A role, a user or a group, as permissions boundaries, attached and inline policies see it."""

    kind: str  # ROLE, USER or GROUP
    key: str  # its document's key
    doc: dict[str, Any]
    entity: str  # the entity part of its attachment and boundary keys: "<role>", "user/<user>", "group/<group>"
    link: dict[str, Any]  # what ListEntitiesForPolicy answers of it


@dataclass(slots=True, frozen=True)
class Limits:
    noun: str
    managed: int
    managed_quota: str
    inline_chars: int
    service_role_policy: str  # PolicyNotAttachable's message for an /aws-service-role/ policy


LIMITS = {
    ROLE: Limits(
        "role", MAX_MANAGED_POLICIES_PER_ROLE, "PoliciesPerRole", documents.MAX_ROLE_INLINE_CHARS,
        "Cannot attach a Service Role Policy to a Customer Role.",
    ),
    USER: Limits(
        "user", MAX_MANAGED_POLICIES_PER_USER, "PoliciesPerUser", documents.MAX_USER_INLINE_CHARS,
        "Cannot attach a Service Role Policy to an IAM user.",
    ),
    GROUP: Limits(
        "group", MAX_MANAGED_POLICIES_PER_GROUP, "PoliciesPerGroup", documents.MAX_GROUP_INLINE_CHARS,
        "Cannot attach a Service Role Policy to an IAM group.",
    ),
}


def tags_of(raw: list[list[str]]) -> tuple[Tag, ...]:
    return tuple(Tag(k, v) for k, v in raw)


def user_not_found(name: str) -> NoSuchEntityException:
    return NoSuchEntityException(f"The user with name {name} cannot be found.")


def user_entity(name: str) -> str:
    """A user's part of attachment and boundary keys (a role's is its name, which has no "/")."""
    return f"user/{name}"


def not_found(arn: str) -> NoSuchEntityException:
    return NoSuchEntityException(f"Policy {arn} was not found.")


def not_attachable(arn: str) -> NoSuchEntityException:
    return NoSuchEntityException(f"Policy {arn} does not exist or is not attachable.")


class _Writes:
    """The metadata store as the IAM engine uses it, counting its writes: ``generation`` changes whenever
    anything of IAM may have changed (the authorizer's cache of compiled policies keys on it)."""

    def __init__(self, metadata: MetadataStore) -> None:
        self._db = metadata
        self.generation = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        self.generation += 1
        self._db.put(kind, key, doc)

    def insert(self, kind: str, key: str, doc: dict[str, Any]) -> bool:
        self.generation += 1
        return self._db.insert(kind, key, doc)

    def delete(self, kind: str, key: str) -> bool:
        self.generation += 1
        return self._db.delete(kind, key)

    def transaction(self) -> Any:
        self.generation += 1
        return self._db.transaction()


class HolderStore:
    """The engine's base: the metadata store, the clock, and what roles, users and groups share."""

    def __init__(
        self, metadata: MetadataStore, *, keys: CredentialStore | None = None, clock_time: Callable[[], float] = time.time
    ) -> None:
        self.db: Any = _Writes(metadata)
        self.keys = keys  # users' access keys are real keys: the credential store accepts them
        self.now = clock_time

    def _stamp(self) -> int:
        return int(self.now())  # IAM dates have whole seconds

    def _save(self, holder: Holder) -> None:
        self.db.put(holder.kind, holder.key, holder.doc)

    @staticmethod
    def _user_key(account: str, name: str) -> str:
        return f"{account}:{name.lower()}"

    def _user_doc(self, account: str, name: str) -> dict[str, Any]:
        doc = self.db.get(USER, self._user_key(account, name))
        if doc is None:
            raise user_not_found(name)
        return doc

    @staticmethod
    def _user(account: str, doc: dict[str, Any]) -> User:
        return User(
            name=doc["name"],
            user_id=doc["id"],
            arn=user_arn(account, doc["path"], doc["name"]),
            path=doc["path"],
            created=doc["created"],
            boundary=doc.get("boundary"),
            tags=tags_of(doc["tags"]),
        )

    @staticmethod
    def _policy_key(account: str, name: str) -> str:
        return f"{account}:{name.lower()}"

    @staticmethod
    def _parse(arn: str) -> PolicyArn:
        parsed = parse_policy_arn(arn)
        if parsed is None:
            raise IamValidationError(f"ARN {arn} is not valid.")
        return parsed

    def _policy_doc_for(self, account: str, parsed: PolicyArn) -> dict[str, Any] | None:
        if parsed.aws_managed or parsed.account != account:
            return None
        doc = self.db.get(POLICY, self._policy_key(account, parsed.name))
        return doc if doc is not None and doc["path"] == parsed.path else None

    def _scan(
        self, kind: str, prefix: str, keep: Callable[[dict[str, Any]], bool], *, start: str | None = None
    ) -> Iterable[tuple[str, dict[str, Any]]]:
        """The documents under ``prefix`` that ``keep`` accepts, as (key after prefix, doc), in key order,
        from past ``start`` (a key after prefix) when given."""
        after = prefix + start if start is not None else None
        while True:
            rows = self.db.list(kind, prefix, after=after, limit=SCAN_CHUNK)
            for key, doc in rows:
                if keep(doc):
                    yield key[len(prefix):], doc
            if len(rows) < SCAN_CHUNK:
                return
            after = rows[-1][0]

    # --- permissions boundaries ----------------------------------------------------------------------

    def _boundary_arn(self, account: str, arn: str) -> str:
        """The canonical ARN of a policy usable as a permissions boundary (InvalidInput, NoSuchEntity)."""
        parsed = parse_policy_arn(arn)
        if parsed is None:
            raise InvalidInputException(f"ARN {arn} is not valid.")
        found = self._attachable(account, parsed)
        if found is None:
            raise NoSuchEntityException(f"Scope ARN: {arn} does not exist or is not attachable.")
        return found

    def _put_boundary(self, account: str, holder: Holder, boundary: str) -> None:
        arn = self._boundary_arn(account, boundary)
        doc = holder.doc
        with self.db.transaction():
            if doc.get("boundary"):
                self.db.delete(BOUNDARY, self._link_key(account, doc["boundary"], holder.entity))
            doc["boundary"] = arn
            self.db.put(BOUNDARY, self._link_key(account, arn, holder.entity), holder.link)
            self._save(holder)

    def _delete_boundary(self, account: str, holder: Holder) -> None:
        if not holder.doc.get("boundary"):
            return
        with self.db.transaction():
            self.db.delete(BOUNDARY, self._link_key(account, holder.doc.pop("boundary"), holder.entity))
            self._save(holder)

    # --- managed policies attached to roles, users and groups ----------------------------------------

    @staticmethod
    def _link_key(account: str, arn: str, entity: str) -> str:
        return f"{account}|{arn}|{entity.lower()}"

    def _attachable(self, account: str, parsed: PolicyArn) -> str | None:
        """The canonical ARN of an attachable policy, or None when there is no such policy.

        Any well-formed AWS-managed ARN is attachable (Nimbus records, AWS's catalogue is not shipped);
        a customer-managed one must exist in the caller's account.
        """
        if parsed.aws_managed:
            known = aws_managed.lookup(parsed.arn)
            return known.arn if known else parsed.arn
        doc = self._policy_doc_for(account, parsed)
        return None if doc is None else policy_arn(account, doc["path"], doc["name"])

    def _attach(self, account: str, holder: Holder, arn: str) -> None:
        limits = LIMITS[holder.kind]
        doc = holder.doc
        parsed = self._parse(arn)
        canonical = self._attachable(account, parsed)
        if canonical is None:
            raise not_attachable(arn)
        if parsed.aws_managed and parsed.path.startswith(SERVICE_ROLE_POLICY_PATH):
            raise PolicyNotAttachableException(limits.service_role_policy)
        if canonical in doc["attached"]:
            return  # attaching twice is not an error
        if len(doc["attached"]) >= limits.managed:
            raise LimitExceededException(f"Cannot exceed quota for {limits.managed_quota}: {limits.managed}")
        doc["attached"].append(canonical)
        with self.db.transaction():
            self.db.put(ATTACHMENT, self._link_key(account, canonical, holder.entity), holder.link)
            self._save(holder)

    def _detach(self, account: str, holder: Holder, arn: str) -> None:
        doc = holder.doc
        parsed = self._parse(arn)
        attached = {a.lower(): a for a in doc["attached"]}
        canonical = attached.get(parsed.arn.lower())
        if canonical is None:
            raise not_found(arn)
        doc["attached"].remove(canonical)
        with self.db.transaction():
            self.db.delete(ATTACHMENT, self._link_key(account, canonical, holder.entity))
            self._save(holder)

    @staticmethod
    def _attached(holder: Holder, path_prefix: str | None, marker: str | None, max_items: int | None) -> Page[AttachedPolicy]:
        prefix = path_prefix or "/"
        entries = []
        for arn in holder.doc["attached"]:
            parsed = parse_policy_arn(arn)
            if parsed is not None and parsed.path.startswith(prefix):
                entries.append((f"{parsed.name.lower()}\x00{arn}", AttachedPolicy(parsed.name, arn)))
        return _page(sorted(entries, key=lambda e: e[0]), marker, max_items)

    # --- inline policies of roles, users and groups --------------------------------------------------

    def _put_inline(self, holder: Holder, policy_name: str, document: str) -> None:
        limits = LIMITS[holder.kind]
        documents.check(document, Kind.INLINE)
        inline = dict(holder.doc["inline"])
        inline[policy_name] = document
        if sum(documents.size(text) for text in inline.values()) > limits.inline_chars:
            raise LimitExceededException(
                f"Maximum policy size of {limits.inline_chars} bytes exceeded for {limits.noun} {holder.doc['name']}"
            )
        holder.doc["inline"] = inline
        self._save(holder)

    @staticmethod
    def _inline(holder: Holder, policy_name: str) -> InlinePolicy:
        if policy_name not in holder.doc["inline"]:
            raise NoSuchEntityException(f"The {LIMITS[holder.kind].noun} policy with name {policy_name} cannot be found.")
        return InlinePolicy(holder.doc["name"], policy_name, holder.doc["inline"][policy_name])

    def _delete_inline(self, holder: Holder, policy_name: str) -> None:
        self._inline(holder, policy_name)
        del holder.doc["inline"][policy_name]
        self._save(holder)

    @staticmethod
    def _inline_names(holder: Holder, marker: str | None, max_items: int | None) -> Page[str]:
        return _page(((n, n) for n in sorted(holder.doc["inline"])), marker, max_items)

"""Instance profiles: the containers EC2 passes a role through. Nimbus runs no EC2 instances, but
infrastructure code creates them beside roles (Terraform's aws_iam_instance_profile, CloudFormation
stacks, CDK), reads them back and deletes them before their role: they are recorded as IAM keeps them.

Documents: ``iam.profile`` (``<account>:<name, lower case>`` → the profile: name, path, id, created, the
role names it holds (at most one, IAM's quota), tags). A role in a profile cannot be deleted
(DeleteConflict, as IAM answers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nimbus.services.iam.errors import DeleteConflictException, EntityAlreadyExistsException, LimitExceededException, NoSuchEntityException
from nimbus.services.iam.names import new_id

if TYPE_CHECKING:
    from nimbus.services.iam.engine import Iam

KIND = "iam.profile"
PROFILE_ID_PREFIX = "AIPA"
MAX_ROLES = 1  # InstanceSessionsPerInstanceProfile
MAX_TAGS = 50


def profile_arn(account: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:instance-profile{path}{name}"


class Profiles:
    def __init__(self, engine: Iam) -> None:
        self.engine = engine
        self.db = engine.db

    @staticmethod
    def _key(account: str, name: str) -> str:
        return f"{account}:{name.lower()}"

    def _doc(self, account: str, name: str) -> dict[str, Any]:
        doc = self.db.get(KIND, self._key(account, name))
        if doc is None:
            raise NoSuchEntityException(f"Instance Profile {name} cannot be found.")
        return doc

    def create(self, account: str, name: str, path: str, tags: list[dict[str, str]]) -> dict[str, Any]:
        doc = {"name": name, "path": path, "id": new_id(PROFILE_ID_PREFIX), "created": int(self.engine.now()), "roles": [],
               "tags": [[t["Key"], t["Value"]] for t in tags]}
        if len(doc["tags"]) > MAX_TAGS:
            raise LimitExceededException(f"Cannot exceed quota for TagsPerInstanceProfile: {MAX_TAGS}.")
        if not self.db.insert(KIND, self._key(account, name), doc):
            raise EntityAlreadyExistsException(f"Instance Profile {name} already exists.")
        return doc

    def get(self, account: str, name: str) -> dict[str, Any]:
        return self._doc(account, name)

    def delete(self, account: str, name: str) -> None:
        doc = self._doc(account, name)
        if doc["roles"]:
            raise DeleteConflictException("Cannot delete entity, must remove roles from instance profile first.")
        self.db.delete(KIND, self._key(account, name))

    def list(self, account: str, path_prefix: str | None) -> list[dict[str, Any]]:
        prefix = path_prefix or "/"
        return [d for _, d in self.db.list(KIND, f"{account}:") if d["path"].startswith(prefix)]

    def add_role(self, account: str, name: str, role: str) -> None:
        doc = self._doc(account, name)
        found = self.engine.get_role(account, role)  # NoSuchEntity for a missing role
        if len(doc["roles"]) >= MAX_ROLES:
            raise LimitExceededException(f"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {MAX_ROLES}.")
        doc["roles"].append(found.name)
        self.db.put(KIND, self._key(account, name), doc)

    def remove_role(self, account: str, name: str, role: str) -> None:
        doc = self._doc(account, name)
        kept = [r for r in doc["roles"] if r.lower() != role.lower()]
        if len(kept) == len(doc["roles"]):
            raise NoSuchEntityException(f"The role with name {role} cannot be found.")
        doc["roles"] = kept
        self.db.put(KIND, self._key(account, name), doc)

    def of_role(self, account: str, role: str) -> list[dict[str, Any]]:
        return [d for _, d in self.db.list(KIND, f"{account}:") if any(r.lower() == role.lower() for r in d["roles"])]

    def tag(self, account: str, name: str, tags: list[dict[str, str]]) -> None:
        doc = self._doc(account, name)
        current = {k: v for k, v in doc["tags"]}
        current.update({t["Key"]: t["Value"] for t in tags})
        if len(current) > MAX_TAGS:
            raise LimitExceededException(f"Cannot exceed quota for TagsPerInstanceProfile: {MAX_TAGS}.")
        doc["tags"] = [[k, v] for k, v in current.items()]
        self.db.put(KIND, self._key(account, name), doc)

    def untag(self, account: str, name: str, keys: list[str]) -> None:
        doc = self._doc(account, name)
        doc["tags"] = [[k, v] for k, v in doc["tags"] if k not in keys]
        self.db.put(KIND, self._key(account, name), doc)

"""Policy documents: the checks IAM applies before it stores one, in AWS's order and wording (pure).

Documents are stored as the text sent and never evaluated. Three kinds are checked:

* ``TRUST``    a role's AssumeRolePolicyDocument: needs Principal, refuses Resource, only sts:AssumeRole*
               actions; any JSON error reads "This policy contains invalid Json".
* ``INLINE``   a PutRolePolicy, PutUserPolicy or PutGroupPolicy document: an identity policy (no Principal, needs Action and
               Resource); Version 2008-10-17, 2012-10-17 or absent.
* ``MANAGED``  CreatePolicy / CreatePolicyVersion: as INLINE, and Version must be 2012-10-17
               ("Policy document must be version 2012-10-17 or greater.", AWS-validated).

Sizes are counted as IAM counts them, without white space (IAM quotas: "IAM doesn't count white space").
"""

from __future__ import annotations

import enum
import json
import re
from typing import Any

from nimbus.services.iam.errors import LimitExceededException, MalformedPolicyDocumentException

VERSIONS = ("2012-10-17", "2008-10-17")
TOP_LEVEL = frozenset({"Version", "Id", "Statement"})
STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition", "Principal", "NotPrincipal"}
)
# IAM quotas (IAM and STS character limits), white space not counted
MAX_TRUST_POLICY_CHARS = 2048  # "Role trust policy length"
MAX_MANAGED_POLICY_CHARS = 6144  # "Managed policy length"
MAX_ROLE_INLINE_CHARS = 10240  # "Role policy length": all of a role's inline policies together
MAX_USER_INLINE_CHARS = 2048  # "User policy length": all of a user's inline policies together
MAX_GROUP_INLINE_CHARS = 5120  # "Group policy length": all of a group's inline policies together

_WHITESPACE = re.compile(r"\s+")
_VENDOR = re.compile(r"[a-zA-Z0-9\-.]+")


class Kind(enum.Enum):
    TRUST = "trust"
    INLINE = "inline"
    MANAGED = "managed"


def size(text: str) -> int:
    """A document's size as IAM's quotas count it: characters other than white space."""
    return len(_WHITESPACE.sub("", text))


def check(text: str, kind: Kind) -> None:
    """Raise MalformedPolicyDocument (or LimitExceeded for the per-document quotas) if IAM would."""
    doc = _parse(text, kind)
    statements = _statements(doc)
    if kind is Kind.TRUST:
        _check_trust(statements)
    else:
        _check_identity(doc, statements, managed=kind is Kind.MANAGED)
    if kind is Kind.TRUST and size(text) > MAX_TRUST_POLICY_CHARS:
        raise LimitExceededException(f"Cannot exceed quota for ACLSizePerRole: {MAX_TRUST_POLICY_CHARS}")
    if kind is Kind.MANAGED and size(text) > MAX_MANAGED_POLICY_CHARS:
        raise LimitExceededException(f"Cannot exceed quota for PolicySize: {MAX_MANAGED_POLICY_CHARS}")


def _syntax() -> MalformedPolicyDocumentException:
    return MalformedPolicyDocumentException("Syntax errors in policy.")


def _parse(text: str, kind: Kind) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError:
        # AWS-validated: a trust policy says "invalid Json", CreatePolicy says "Syntax errors"
        if kind is Kind.TRUST:
            raise MalformedPolicyDocumentException("This policy contains invalid Json") from None
        raise _syntax() from None
    if not isinstance(doc, dict) or not set(doc) <= TOP_LEVEL:
        raise _syntax()
    if "Version" in doc and doc["Version"] not in VERSIONS:
        raise _syntax()
    if "Id" in doc and not isinstance(doc["Id"], str):
        raise _syntax()
    return doc


def _strings(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    raw = doc.get("Statement")
    statements = [raw] if isinstance(raw, dict) else raw
    if not isinstance(statements, list) or not statements:
        raise _syntax()
    for st in statements:
        if not isinstance(st, dict) or not set(st) <= STATEMENT_KEYS:
            raise _syntax()
        if ("Action" in st and "NotAction" in st) or ("Resource" in st and "NotResource" in st):
            raise _syntax()
        if ("Principal" in st and "NotPrincipal" in st) or "Sid" in st and not isinstance(st["Sid"], str):
            raise _syntax()
        effect = st.get("Effect")
        if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
            raise _syntax()
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in st and not _strings(st[key]):
                raise _syntax()
        if "Condition" in st and not (
            isinstance(st["Condition"], dict) and all(isinstance(v, dict) for v in st["Condition"].values())
        ):
            raise _syntax()
    return statements


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _check_common(statements: list[dict[str, Any]]) -> None:
    for st in statements:
        if st["Effect"] not in ("Allow", "Deny"):  # syntax is case-blind, the legacy parser is not
            raise MalformedPolicyDocumentException("The policy failed legacy parsing")
    sids = [st["Sid"] for st in statements if st.get("Sid")]
    if len(sids) != len(set(sids)):
        raise MalformedPolicyDocumentException("Statement IDs (SID) in a single policy must be unique.")
    for st in statements:
        actions = st.get("Action", st.get("NotAction"))
        if actions is None or actions == []:
            raise MalformedPolicyDocumentException("Policy statement must contain actions.")


def _check_trust(statements: list[dict[str, Any]]) -> None:
    _check_common(statements)
    for st in statements:
        for field in ("Resource", "NotResource"):
            if field in st:
                raise MalformedPolicyDocumentException(f"Has prohibited field {field}")
        if "Principal" not in st and "NotPrincipal" not in st:
            raise MalformedPolicyDocumentException("Missing required field Principal")
        for action in _as_list(st.get("Action", st.get("NotAction", []))):
            if not action.lower().startswith("sts:"):
                raise MalformedPolicyDocumentException("AssumeRole policy may only specify STS AssumeRole actions.")


def _check_identity(doc: dict[str, Any], statements: list[dict[str, Any]], *, managed: bool) -> None:
    for st in statements:
        if "Principal" in st or "NotPrincipal" in st:
            raise MalformedPolicyDocumentException("Policy document should not specify a principal.")
    if managed and doc.get("Version") != "2012-10-17":
        raise MalformedPolicyDocumentException("Policy document must be version 2012-10-17 or greater.")
    _check_common(statements)
    for st in statements:
        resources = st.get("Resource", st.get("NotResource"))
        if resources is None or resources == []:
            raise MalformedPolicyDocumentException("Policy statement must contain resources.")
    for st in statements:
        for resource in _as_list(st.get("Resource", st.get("NotResource", []))):
            if resource != "*" and ":" not in resource:
                raise MalformedPolicyDocumentException(f'Resource {resource} must be in ARN format or "*".')
    for st in statements:
        for action in _as_list(st.get("Action", st.get("NotAction", []))):
            _check_action(action)


def _check_action(action: str) -> None:
    parts = action.split(":")
    if len(parts) == 1 and action != "*":
        raise MalformedPolicyDocumentException("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
    if len(parts) > 2:
        raise MalformedPolicyDocumentException("Actions/Condition can contain only one colon.")
    if len(parts) == 2 and parts[0] != "*" and not _VENDOR.fullmatch(parts[0]):
        raise MalformedPolicyDocumentException(f"Vendor {parts[0]} is not valid")

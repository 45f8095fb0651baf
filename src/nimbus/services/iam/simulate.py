"""The IAM policy simulator: SimulatePrincipalPolicy and SimulateCustomPolicy, decided by the same
evaluation that ``--iam enforce`` applies (``evaluate.py``), whether or not the server enforces IAM.

For every action and resource asked (``*`` when none), a result: ``allowed``, ``explicitDeny`` or
``implicitDeny``; the statements that decided it (``MatchedStatements``: the denies for an explicit deny,
the allows for an allow), by source (``SourcePolicyId``: an inline policy's name, a managed policy's
name, ``PolicyInputList.N``, ``ResourcePolicy``; ``SourcePolicyType``: ``user`` / ``group`` / ``role``
for inline policies, ``aws-managed`` / ``user-managed``, ``IAM Policy`` for the input list,
``resource``); the condition keys those statements read that the context does not give
(``MissingContextValues``); the permissions boundary's verdict when there is one. Statement positions
are not tracked: ``StartPosition`` and ``EndPosition`` are line 1, column 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nimbus.services.iam.errors import InvalidInputException, NoSuchEntityException
from nimbus.services.iam.evaluate import Policy, Statement, for_principal, parse, select, statement_applies
from nimbus.services.iam.holders import GROUP, ROLE, USER
from nimbus.services.iam.names import parse_policy_arn

if TYPE_CHECKING:
    from nimbus.services.iam.authorize import Authorizer
    from nimbus.services.iam.engine import Iam

MAX_RESULTS = 1000
_LIST_TYPES = ("stringList", "numericList", "booleanList", "ipList", "binaryList", "dateList")


@dataclass(frozen=True, slots=True)
class Source:
    policy_id: str
    policy_type: str
    policy: Policy


def _parse_input(text: str, where: str) -> Policy:
    try:
        return parse(text)
    except (ValueError, TypeError, AttributeError) as e:
        raise InvalidInputException(f"{where} is not a valid policy document: {e}") from None


def inputs(texts: Sequence[str] | None, prefix: str) -> list[Source]:
    return [Source(f"{prefix}.{i}", "IAM Policy", _parse_input(t, f"{prefix}.{i}")) for i, t in enumerate(texts or [], 1)]


def principal_sources(
    engine: Iam, authorizer: Authorizer, account: str, arn: str, exclusions: Sequence[dict[str, Any]] | None,
) -> tuple[list[Source], list[Source] | None, frozenset[str]]:
    """The identity policies of the user, group or role ``arn`` names (less the PolicyExclusionList's), its
    boundary, and its names."""
    excluded = {str(e.get("PolicyArn")) for e in exclusions or [] if e.get("PolicyArn")}
    inline_out = {
        (str(i.get("AttachmentType", "")).lower(), str(i.get("AttachmentName", "")).lower(), str(i.get("PolicyName", "")))
        for e in exclusions or [] if (i := e.get("InlinePolicyIdentifier"))
    }
    types_out = {str(e["PolicyType"]) for e in exclusions or [] if e.get("PolicyType")}  # every policy of a type
    no_boundary = "permission-boundary" in types_out
    kind, _, rest = arn.split(":", 5)[-1].partition("/")
    name = rest.rsplit("/", 1)[-1]
    db = engine.db
    table = {"user": USER, "group": GROUP, "role": ROLE}.get(kind)
    doc = db.get(table, f"{account}:{name.lower()}") if table else None
    if doc is None:
        raise NoSuchEntityException(f"The {kind or 'entity'} with name {name} cannot be found." if table else f"Invalid PolicySourceArn: {arn}")
    holders: list[tuple[str, dict[str, Any]]] = [(kind, doc)]
    if kind == "user":
        for group in engine.groups_for_user(account, doc["name"]).items:
            gdoc = db.get(GROUP, f"{account}:{group.name.lower()}")
            if gdoc is not None:
                holders.append(("group", gdoc))
    sources: list[Source] = []
    for holder_kind, holder in holders:
        for policy_name, text in holder.get("inline", {}).items():
            if "inline" not in types_out and (holder_kind, holder["name"].lower(), policy_name) not in inline_out:
                sources.append(Source(policy_name, holder_kind, authorizer._parse(text)))
        for policy_arn in holder.get("attached", []):
            parsed = parse_policy_arn(policy_arn)
            if policy_arn in excluded or (parsed is not None and ("aws-managed" if parsed.aws_managed else "user-managed") in types_out):
                continue
            policy = authorizer._managed(account, policy_arn)
            if policy is not None and parsed is not None:
                sources.append(Source(parsed.name, "aws-managed" if parsed.aws_managed else "user-managed", policy))
    boundary: list[Source] | None = None
    if doc.get("boundary") and not no_boundary and doc["boundary"] not in excluded:
        policy = authorizer._managed(account, doc["boundary"])
        parsed = parse_policy_arn(doc["boundary"])
        boundary = [Source(parsed.name if parsed else doc["boundary"], "permissions-boundary", policy or ())]
    names = frozenset({"*", f"arn:aws:iam::{account}:{kind}{doc.get('path', '/')}{doc['name']}", f"arn:aws:iam::{account}:{kind}/{doc['name']}"})
    return sources, boundary, names


def context_of(entries: Sequence[dict[str, Any]] | None) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    for entry in entries or []:
        values = [str(v) for v in entry.get("ContextKeyValues") or []]
        key = str(entry.get("ContextKeyName", "")).lower()
        ctx[key] = values if entry.get("ContextKeyType") in _LIST_TYPES else (values[0] if values else None)
    return ctx


def simulate(
    identity: list[Source], boundary: list[Source] | None, resource_policy: str | None, caller: frozenset[str],
    actions: Sequence[str], resources: Sequence[str] | None, context: dict[str, Any],
) -> list[dict[str, Any]]:
    resource_sources = [Source("ResourcePolicy", "resource", _parse_input(resource_policy, "ResourcePolicy"))] if resource_policy else []
    results = []
    for action in actions:
        for resource in resources or ["*"]:
            matched_id = _matching(identity, action, resource, context)
            matched_b = _matching(boundary, action, resource, context) if boundary is not None else []
            matched_r = [(src, st) for src, st in _matching(resource_sources, action, resource, context)
                         if for_principal([st], caller)]
            denies = [(src, st) for src, st in (*matched_id, *matched_b, *matched_r) if not st.allow]
            id_allows = [(src, st) for src, st in matched_id if st.allow]
            b_allows = [(src, st) for src, st in matched_b if st.allow]
            r_allows = [(src, st) for src, st in matched_r if st.allow]
            if denies:
                decision, deciding = "explicitDeny", denies
            elif r_allows or (id_allows and (boundary is None or b_allows)):
                decision, deciding = "allowed", (r_allows or []) + (id_allows if boundary is None or b_allows else [])
            else:
                decision, deciding = "implicitDeny", []
            result: dict[str, Any] = {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": decision,
                "MatchedStatements": [_statement(src) for src, _ in deciding],
                "MissingContextValues": _missing(identity, boundary, resource_sources, action, resource, context),
            }
            if boundary is not None:
                result["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": bool(b_allows) and not any(
                    not st.allow for _, st in matched_b)}
            results.append(result)
    return results


def _matching(sources: Sequence[Source] | None, action: str, resource: str, ctx: dict[str, Any]) -> list[tuple[Source, Statement]]:
    out = []
    for src in sources or []:
        for st in select([src.policy], action):
            if statement_applies(st, resource, ctx):
                out.append((src, st))
    return out


def _missing(identity: Sequence[Source], boundary: Sequence[Source] | None, resource_sources: Sequence[Source], action: str,
             resource: str, ctx: dict[str, Any]) -> list[str]:
    keys: list[str] = []
    for src in (*identity, *(boundary or []), *resource_sources):
        for st in select([src.policy], action):
            if not statement_applies(st, resource, {}, conditions=False):
                continue
            for (op, key, _), spelled in zip(st.conditions, st.condition_keys):
                if key not in ctx and not op.startswith("Null") and spelled not in keys:
                    keys.append(spelled)
    return keys


def _statement(src: Source) -> dict[str, Any]:
    return {"SourcePolicyId": src.policy_id, "SourcePolicyType": src.policy_type,
            "StartPosition": {"Line": 1, "Column": 1}, "EndPosition": {"Line": 1, "Column": 1}}


def page(results: list[dict[str, Any]], marker: str | None, max_items: int | None) -> dict[str, Any]:
    start = int(marker) if marker and marker.isdigit() else 0
    size = max_items or MAX_RESULTS
    chunk = results[start:start + size]
    out: dict[str, Any] = {"EvaluationResults": chunk, "IsTruncated": start + size < len(results)}
    if out["IsTruncated"]:
        out["Marker"] = str(start + size)
    return out

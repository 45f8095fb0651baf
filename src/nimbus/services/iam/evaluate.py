"""IAM policy evaluation (pure): is an action on a resource allowed by a set of policy documents?

AWS's logic for one account without SCPs or session policies: an explicit Deny in any policy (identity
or permissions boundary) denies; else the action is allowed when an identity-based policy allows it and,
if a permissions boundary is set, the boundary allows it too; else it is implicitly denied.

A statement matches when its Action (or NotAction) matches the action (case-insensitive, ``*`` and
``?`` wildcards), its Resource (or NotResource) matches one of the resources (case-sensitive wildcards,
with the policy variables ``${aws:username}``, ``${aws:userid}``, ``${aws:PrincipalAccount}`` and
``${aws:CurrentTime}`` substituted from the request's context) and every Condition holds. Conditions:
the String*, Arn*, Numeric*, Date*, Bool, Null and IpAddress / NotIpAddress operators, the ``IfExists``
suffix and the ``ForAnyValue:`` / ``ForAllValues:`` set prefixes; keys compared case-insensitively.
An operator Nimbus does not know never matches (a statement that depends on it does not apply: an
Allow grants nothing, a Deny denies nothing), and is logged once.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

log = logging.getLogger(__name__)

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "Allow", "ExplicitDeny", "ImplicitDeny"
_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_warned: set[str] = set()


@dataclass(frozen=True, slots=True)
class Statement:
    allow: bool
    actions: tuple[re.Pattern[str], ...] | None  # None: NotAction applies
    not_actions: tuple[re.Pattern[str], ...] | None
    resources: tuple[str, ...] | None  # patterns (variables substituted per request)
    not_resources: tuple[str, ...] | None
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]  # (operator, key lower-cased, values)
    dynamic: bool = False  # depends on the request's context (conditions, policy variables)
    principals: tuple[str, ...] | None = None  # a resource policy's Principal: "*", ARNs, account ids, "service:<name>"
    not_principals: tuple[str, ...] | None = None
    condition_keys: tuple[str, ...] = ()  # the condition keys as the policy spells them (the simulator reports them)


Policy = tuple[Statement, ...]


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


@lru_cache(maxsize=4096)
def _action_pattern(text: str) -> re.Pattern[str]:
    return re.compile(_glob(text), re.IGNORECASE | re.DOTALL)


def _glob(text: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text) + r"\Z"


@lru_cache(maxsize=4096)
def _resource_pattern(text: str) -> re.Pattern[str]:
    return re.compile(_glob(text), re.DOTALL)


def parse(document: str | Mapping[str, Any]) -> Policy:
    """A policy document (JSON text, URL-encoded text as IAM returns it, or a dict) as statements."""
    if isinstance(document, str):
        text = document.strip()
        if text.startswith("%7B") or text.startswith("%7b"):
            text = unquote(text)
        doc = json.loads(text)
    else:
        doc = document
    out = []
    for st in _list(doc.get("Statement")):
        if not isinstance(st, Mapping):
            continue
        conditions = []
        for op, block in (st.get("Condition") or {}).items():
            for key, values in (block or {}).items():
                conditions.append((str(op), str(key).lower(), tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in _list(values))))
        resources = tuple(str(r) for r in _list(st.get("Resource"))) if "Resource" in st else None
        not_resources = tuple(str(r) for r in _list(st.get("NotResource"))) if "NotResource" in st else None
        out.append(
            Statement(
                allow=st.get("Effect") == "Allow",
                actions=tuple(_action_pattern(a) for a in _list(st.get("Action"))) if "Action" in st else None,
                not_actions=tuple(_action_pattern(a) for a in _list(st.get("NotAction"))) if "NotAction" in st else None,
                resources=resources,
                not_resources=not_resources,
                conditions=tuple(conditions),
                dynamic=bool(conditions) or any("${" in r for r in (*(resources or ()), *(not_resources or ()))),
                principals=_principals(st["Principal"]) if "Principal" in st else None,
                not_principals=_principals(st["NotPrincipal"]) if "NotPrincipal" in st else None,
                condition_keys=tuple(str(k) for block in (st.get("Condition") or {}).values() for k in (block or {})),
            )
        )
    return tuple(out)


def _principals(value: Any) -> tuple[str, ...]:
    if value == "*":
        return ("*",)
    out: list[str] = []
    if isinstance(value, Mapping):
        for kind, names in value.items():
            for name in _list(names):
                out.append(str(name) if kind == "AWS" else f"{str(kind).lower()}:{name}")
    return tuple(out)


def for_principal(statements: Sequence[Statement], caller: frozenset[str], *, ignore_public: bool = False) -> tuple[Statement, ...]:
    """The statements of a resource-based policy that apply to a caller named by ``caller`` (its ARNs, and
    "*"): Principal "*" names everyone (unless ``ignore_public``: S3's RestrictPublicBuckets), an ARN names
    that principal; an account id or its root names no one by itself (it delegates to the account's own
    IAM policies, as AWS reads it for callers of the same account)."""
    out = []
    for st in statements:
        if st.principals is not None:
            if "*" in st.principals:
                if ignore_public and st.allow:
                    continue
                out.append(st)
            elif caller & set(st.principals):
                out.append(st)
        elif st.not_principals is not None and not caller & set(st.not_principals):
            out.append(st)
    return tuple(out)


def evaluate(
    identity: Sequence[Policy],
    action: str,
    resources: Sequence[str],
    context: Mapping[str, Any],
    *,
    boundary: Sequence[Policy] | None = None,
) -> str:
    """ALLOW, EXPLICIT_DENY or IMPLICIT_DENY for ``action`` on every one of ``resources``."""
    ctx = {k.lower(): v for k, v in context.items()}
    return decide(select(identity, action), None if boundary is None else select(boundary, action), resources, ctx)


def select(policies: Sequence[Policy], action: str) -> tuple[Statement, ...]:
    """The statements of ``policies`` whose Action / NotAction covers ``action`` (what ``decide`` reads)."""
    return tuple(st for policy in policies for st in policy if _action_matches(st, action))


def decide(
    identity: Sequence[Statement], boundary: Sequence[Statement] | None, resources: Sequence[str], ctx: Mapping[str, Any],
    session: Sequence[Statement] | None = None,
) -> str:
    """The decision from statements already ``select``ed for the action; ``ctx`` keys in lower case. A
    permissions ``boundary`` and a ``session`` policy each limit what the identity statements allow (the
    action must be allowed by every one given), and a Deny in any of them denies."""
    denied, allowed = _scan(identity, resources, ctx)
    for limit in (boundary, session):
        if limit is not None:
            l_denied, l_allowed = _scan(limit, resources, ctx)
            denied = denied or l_denied
            allowed = allowed and l_allowed
    if denied:
        return EXPLICIT_DENY
    return ALLOW if allowed else IMPLICIT_DENY


def _scan(statements: Sequence[Statement], resources: Sequence[str], ctx: Mapping[str, Any]) -> tuple[bool, bool]:
    """(some statement denies, every resource is allowed by some statement)."""
    allowed_each = [False] * len(resources)
    for st in statements:
        hits = [_resource_matches(st, r, ctx) for r in resources]
        if not any(hits) or not _conditions_hold(st.conditions, ctx):
            continue
        if not st.allow:
            return True, False
        allowed_each = [a or h for a, h in zip(allowed_each, hits)]
    return False, all(allowed_each) and bool(resources)


def statement_applies(st: Statement, resource: str, ctx: Mapping[str, Any], *, conditions: bool = True) -> bool:
    """Whether a statement (already ``select``ed for the action) covers ``resource`` and, unless told
    otherwise, its conditions hold in ``ctx`` (keys in lower case)."""
    return _resource_matches(st, resource, ctx) and (not conditions or _conditions_hold(st.conditions, ctx))


def _action_matches(st: Statement, action: str) -> bool:
    if st.actions is not None:
        return any(p.match(action) for p in st.actions)
    if st.not_actions is not None:
        return not any(p.match(action) for p in st.not_actions)
    return False


def _substitute(pattern: str, ctx: Mapping[str, Any]) -> str:
    if "${" not in pattern:
        return pattern

    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in ("*", "?", "$"):
            return name
        v = ctx.get(name.lower())
        return m.group(0) if v is None else str(v)

    return _VARIABLE.sub(value, pattern)


def _resource_matches(st: Statement, resource: str, ctx: Mapping[str, Any]) -> bool:
    if st.resources is not None:
        return any(_resource_pattern(_substitute(p, ctx)).match(resource) for p in st.resources)
    if st.not_resources is not None:
        return not any(_resource_pattern(_substitute(p, ctx)).match(resource) for p in st.not_resources)
    return False


def _conditions_hold(conditions: Iterable[tuple[str, str, tuple[str, ...]]], ctx: Mapping[str, Any]) -> bool:
    return all(_condition(op, key, values, ctx) for op, key, values in conditions)


def _condition(op: str, key: str, expected: tuple[str, ...], ctx: Mapping[str, Any]) -> bool:
    set_mode = ""
    if ":" in op:
        set_mode, _, op = op.partition(":")
        set_mode = set_mode.lower()
    if_exists = op.endswith("IfExists")
    if if_exists:
        op = op[: -len("IfExists")]
    present = key in ctx and ctx[key] is not None
    if op == "Null":
        want_null = expected[0].lower() == "true" if expected else True
        return (not present) == want_null
    if not present:
        return if_exists or (set_mode == "forallvalues")
    raw = ctx[key]
    actual = [str(v) for v in raw] if isinstance(raw, (list, tuple, set)) else [str(raw)]
    test = _OPERATORS.get(op)
    if test is None:
        if op not in _warned:
            _warned.add(op)
            log.warning("IAM condition operator %s is not evaluated by Nimbus: statements using it do not apply", op)
        return False
    negated = op.startswith(("StringNot", "ArnNot", "NotIp")) or op in ("NumericNotEquals", "DateNotEquals")
    if set_mode == "forallvalues":
        return all(test(a, expected) for a in actual)
    if negated and set_mode != "foranyvalue":
        return all(test(a, expected) for a in actual)
    return any(test(a, expected) for a in actual)


def _like(value: str, patterns: tuple[str, ...], flags: int = 0) -> bool:
    return any(re.compile(_glob(p), flags | re.DOTALL).match(value) for p in patterns)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def _compare(convert: Any, check: Any) -> Any:
    def test(actual: str, expected: tuple[str, ...]) -> bool:
        a = convert(actual)
        return a is not None and any((e := convert(x)) is not None and check(a, e) for x in expected)

    return test


def _ip_in(actual: str, expected: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(actual)
    except ValueError:
        return False
    for cidr in expected:
        try:
            if ip in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue
    return False


_OPERATORS: dict[str, Any] = {
    "StringEquals": lambda a, e: a in e,
    "StringNotEquals": lambda a, e: a not in e,
    "StringEqualsIgnoreCase": lambda a, e: a.lower() in {x.lower() for x in e},
    "StringNotEqualsIgnoreCase": lambda a, e: a.lower() not in {x.lower() for x in e},
    "StringLike": lambda a, e: _like(a, e),
    "StringNotLike": lambda a, e: not _like(a, e),
    "ArnEquals": lambda a, e: a in e,
    "ArnLike": lambda a, e: _like(a, e),
    "ArnNotEquals": lambda a, e: a not in e,
    "ArnNotLike": lambda a, e: not _like(a, e),
    "Bool": lambda a, e: a.lower() in {x.lower() for x in e},
    "NumericEquals": _compare(_number, lambda a, e: a == e),
    "NumericNotEquals": lambda a, e: not _OPERATORS["NumericEquals"](a, e),
    "NumericLessThan": _compare(_number, lambda a, e: a < e),
    "NumericLessThanEquals": _compare(_number, lambda a, e: a <= e),
    "NumericGreaterThan": _compare(_number, lambda a, e: a > e),
    "NumericGreaterThanEquals": _compare(_number, lambda a, e: a >= e),
    "DateEquals": _compare(_date, lambda a, e: a == e),
    "DateNotEquals": lambda a, e: not _OPERATORS["DateEquals"](a, e),
    "DateLessThan": _compare(_date, lambda a, e: a < e),
    "DateLessThanEquals": _compare(_date, lambda a, e: a <= e),
    "DateGreaterThan": _compare(_date, lambda a, e: a > e),
    "DateGreaterThanEquals": _compare(_date, lambda a, e: a >= e),
    "IpAddress": _ip_in,
    "NotIpAddress": lambda a, e: not _ip_in(a, e),
}

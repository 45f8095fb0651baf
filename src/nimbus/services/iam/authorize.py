"""IAM enforcement (``nimbus serve --iam enforce``): may this caller make this request?

The caller is who signed it (``nimbus.credentials.Credentials.principal``):

- the account's root user: always (as on AWS);
- an IAM user: its inline and attached policies and those of its groups, within its permissions boundary;
- a role session (``aws sts assume-role``, and every function's own keys, which speak for the function's
  execution role): the role's inline and attached policies, within its boundary. A function whose role
  does not exist in IAM may do nothing (on AWS it could not have been created);
- a federated user (GetFederationToken): nothing but what needs no permission (Nimbus keeps no session
  policy).

The action and resources come from ``actions``; the policies are compiled once per principal and
recompiled when anything in IAM changes (the engine's write ``generation``). AWS-managed policies are
evaluated by the documents Nimbus has of them (``aws_managed``); another AWS-managed ARN grants nothing.
Resource-based policies (bucket policies, Lambda permissions) are not evaluated: same-account access is
decided by the caller's identity policies alone.

A refusal is AWS's ``AccessDenied`` in the service's own code and words, e.g. ``User: arn:aws:iam::
000000000000:user/bob is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::b/k" because
no identity-based policy allows the s3:PutObject action``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from nimbus.errors import ServiceError
from nimbus.services.iam import aws_managed
from nimbus.services.iam.actions import ALWAYS_ALLOWED, action_for, resources_for
from nimbus.services.iam.evaluate import ALLOW, EXPLICIT_DENY, Policy, Statement, decide, for_principal, parse, select
from nimbus.services.iam.holders import GROUP, POLICY, ROLE, USER
from nimbus.services.iam.names import parse_policy_arn

if TYPE_CHECKING:
    from nimbus.credentials import Credentials
    from nimbus.services.iam.engine import Iam

log = logging.getLogger(__name__)

# the service's own error code for a refusal (botocore raises the matching exception class)
DENIED_CODE = {
    "s3": ("AccessDenied", 403), "iam": ("AccessDenied", 403), "sts": ("AccessDenied", 403),
    "lambda": ("AccessDeniedException", 403), "apigateway": ("AccessDeniedException", 403),
    "apigatewayv2": ("AccessDeniedException", 403), "cloudwatch": ("AccessDenied", 403),
}


_clock: list[Any] = [-1, ("", "")]


def _now() -> tuple[str, str]:
    """(aws:EpochTime, aws:CurrentTime) of this second (formatted once per second)."""
    second = int(time.time())
    if _clock[0] != second:
        _clock[0] = second
        _clock[1] = (str(second), datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return _clock[1]  # type: ignore[no-any-return]


@dataclass(slots=True)
class _Compiled:
    """A caller's policies, parsed, as of an IAM ``generation``; with what was worked out from them."""

    generation: int
    identity: list[Policy]
    boundary: list[Policy] | None
    variables: dict[str, str]
    caller: frozenset[str] = frozenset({"*"})
    session: list[Policy] | None = None  # an STS session's session policies (they limit, as a boundary does)  # how resource policies may name this caller
    for_action: dict[str, tuple[tuple[Statement, ...], tuple[Statement, ...] | None, tuple[Statement, ...] | None]] = field(default_factory=dict)
    decisions: dict[tuple[str, ...], str] = field(default_factory=dict)  # context-free decisions by (action, resources)
    static_context: dict[str, Any] | None = None  # the caller's own condition keys


class Authorizer:
    def __init__(
        self, engine: Iam, resource_policy: Callable[[str, str, str, dict[str, Any]], tuple[str, bool] | None] | None = None,
    ) -> None:
        self.engine = engine
        # (service, account, region, params) -> (the resource's policy text, ignore public grants) or None: S3
        # bucket policies, Lambda functions' permissions
        self.resource_policy = resource_policy
        self._compiled: dict[tuple[str, ...], _Compiled] = {}

    def check(
        self, creds: Credentials | None, service: str, operation: str, params: dict[str, Any], *, region: str, method: str = "",
        path: str = "", source_ip: str | None = None, account_id: str = "", resources: list[str] | None = None,
    ) -> None:
        """``creds`` None is an anonymous request (unsigned S3: allowed only by a bucket policy); ``resources``
        overrides what ``actions`` would name (HTTP triggers: the method's execute-api ARN)."""
        if creds is not None and (creds.principal == "root" or (service, operation) in ALWAYS_ALLOWED):
            return
        account = creds.account_id if creds is not None else account_id
        action = action_for(service, operation, method)
        if resources is None:
            resources = resources_for(service, operation, params, region=region, account=account, path=path)
        compiled = self._policies(creds) if creds is not None else _ANONYMOUS
        relevant = compiled.for_action.get(action)
        if relevant is None:
            relevant = compiled.for_action[action] = (
                select(compiled.identity, action),
                None if compiled.boundary is None else select(compiled.boundary, action),
                None if compiled.session is None else select(compiled.session, action),
            )
        identity, boundary, session = relevant
        if action == "sts:AssumeRole" and creds is not None:
            self._check_trust(creds, compiled, params, identity, boundary, region, source_ip)
            return
        found = self.resource_policy(service, account, region, params) if self.resource_policy is not None else None
        resource: tuple[Statement, ...] = ()
        if found is not None:
            text, ignore_public = found
            resource = for_principal(select([_parse_cached(text)], action), compiled.caller, ignore_public=ignore_public)
        dynamic = any(st.dynamic for st in (*identity, *(boundary or ()), *(session or ()), *resource))
        memo_key = (action, found[0] if found is not None else "", "public-ignored" if found is not None and found[1] else "", *resources)
        decision = None if dynamic else compiled.decisions.get(memo_key)
        context: dict[str, Any] = {}
        if decision is None:
            if dynamic:
                context = self._context(creds, compiled, region, source_ip, params, service)
            decision = decide(identity, boundary, resources, context, session)
            if resource:
                by_resource = decide(resource, None, resources, context)
                if by_resource == EXPLICIT_DENY:
                    decision = EXPLICIT_DENY
                elif by_resource == ALLOW and decision != EXPLICIT_DENY and (
                        session is None or decide(session, None, resources, context) == ALLOW):
                    decision = ALLOW
            if not dynamic and len(compiled.decisions) < 4096:
                compiled.decisions[memo_key] = decision
        if decision == ALLOW:
            return
        if not context:
            context = self._context(creds, compiled, region, source_ip, params, service)
        code, status = DENIED_CODE.get(service, ("AccessDeniedException", 400))
        if creds is None:
            raise ServiceError("Access Denied", code=code, status=status)  # S3 tells an anonymous caller no more
        named = resources[0] if len(resources) == 1 else ", ".join(resources)
        if decision == EXPLICIT_DENY:
            if resource and decide(resource, None, resources, context) == EXPLICIT_DENY:
                where = "a resource-based policy"
            elif boundary is not None and decide(boundary, None, resources, context) == EXPLICIT_DENY:
                where = "a permissions boundary"
            elif session is not None and decide(session, None, resources, context) == EXPLICIT_DENY:
                where = "a session policy"
            else:
                where = "an identity-based policy"
            why = f"with an explicit deny in {where}"
        elif decide(identity, None, resources, context) != ALLOW:
            why = f"because no identity-based policy allows the {action} action"
        elif boundary is not None and decide(boundary, None, resources, context) != ALLOW:
            why = f"because no permissions boundary allows the {action} action"
        else:
            why = f"because no session policy allows the {action} action"
        arn = compiled.variables.get("arn", creds.arn)
        raise ServiceError(f"User: {arn} is not authorized to perform: {action} on resource: {named} {why}", code=code, status=status)

    def _check_trust(
        self, creds: Credentials, compiled: _Compiled, params: dict[str, Any], identity: tuple[Statement, ...],
        boundary: tuple[Statement, ...] | None, region: str, source_ip: str | None,
    ) -> None:
        """AssumeRole as AWS decides it in one account: the role's trust policy must allow the caller; when it
        names the caller itself that is enough, when it names the account the caller's identity policies
        (within its boundary) must also allow sts:AssumeRole on the role. A Deny in either denies."""
        role_arn = str(params.get("RoleArn", ""))
        name = role_arn.rsplit("/", 1)[-1]
        doc = self.engine.db.get(ROLE, f"{creds.account_id}:{name.lower()}")
        context = self._context(creds, compiled, region, source_ip, params, "sts")
        # a trust policy names no Resource: its statements are about the role itself
        trust = tuple(replace(st, resources=("*",), not_resources=None) for st in select([_parse_cached(doc["trust"])], "sts:AssumeRole")) if (
            doc is not None) else ()
        account_names = frozenset({creds.account_id, f"arn:aws:iam::{creds.account_id}:root"})
        direct = [st for st in for_principal(trust, compiled.caller) if "*" not in (st.principals or ())]
        everyone = [st for st in trust if st.principals is not None and "*" in st.principals]
        via_account = [st for st in trust if st.principals is not None and account_names & set(st.principals)]
        resources = [role_arn]
        by_identity = decide(identity, boundary, resources, context)
        trust_direct = decide(direct + everyone, None, resources, context) if (direct or everyone) else "ImplicitDeny"
        trust_account = decide(via_account, None, resources, context) if via_account else "ImplicitDeny"
        if EXPLICIT_DENY in (by_identity, trust_direct, trust_account):
            decision = EXPLICIT_DENY
        elif trust_direct == ALLOW or (trust_account == ALLOW and by_identity == ALLOW):
            return
        else:
            decision = "ImplicitDeny"
        arn = compiled.variables.get("arn", creds.arn)
        why = "with an explicit deny" if decision == EXPLICIT_DENY else (
            "because no identity-based policy allows the sts:AssumeRole action" if trust_account == ALLOW
            else "because the role's trust policy does not allow it")
        raise ServiceError(f"User: {arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn} {why}",
                           code="AccessDenied", status=403)

    @staticmethod
    def _context(
        creds: Credentials | None, compiled: _Compiled, region: str, source_ip: str | None, params: dict[str, Any], service: str
    ) -> dict[str, Any]:
        """The request's condition keys (lower case), for statements with conditions or policy variables: the
        caller's own (worked out once per compiled caller), then the request's."""
        static = compiled.static_context
        if static is None:
            variables = compiled.variables
            static = compiled.static_context = {
                "aws:principalarn": variables.get("arn", creds.arn if creds is not None else None),
                "aws:principalaccount": creds.account_id if creds is not None else None,
                "aws:userid": variables.get("userid", (creds.user_id or creds.account_id) if creds is not None else None),
                "aws:username": variables.get("username"),
                "aws:securetransport": "false",
                "aws:principaltype": variables.get("type"),
            }
        epoch, iso = _now()
        context = dict(static)
        context["aws:requestedregion"] = region
        context["aws:currenttime"] = iso
        context["aws:epochtime"] = epoch
        context["aws:sourceip"] = source_ip
        if service == "s3" and params.get("Prefix") is not None:
            context["s3:prefix"] = params["Prefix"]
        return context

    # --- the caller's policies -----------------------------------------------------------------------

    def _policies(self, creds: Credentials) -> _Compiled:
        key = (creds.account_id, creds.principal, *creds.session_policies)
        generation = self.engine.db.generation
        hit = self._compiled.get(key)
        if hit is not None and hit.generation == generation:
            return hit
        identity, boundary, variables = self._load(creds)
        if len(self._compiled) > 10_000:
            self._compiled.clear()
        caller = frozenset({"*", creds.arn, *variables.get("names", "").split()} - {""})
        session = [self._parse(text) for text in creds.session_policies] if creds.session_policies else None
        compiled = self._compiled[key] = _Compiled(generation, identity, boundary, variables, caller, session=session)
        return compiled

    def _load(self, creds: Credentials) -> tuple[list[Policy], list[Policy] | None, dict[str, str]]:
        account, principal = creds.account_id, creds.principal
        db = self.engine.db
        if principal.startswith("user/"):
            name = principal.rsplit("/", 1)[-1]
            doc = db.get(USER, f"{account}:{name.lower()}")
            if doc is None:
                return [], None, {}
            holders = [doc]
            for group in self.engine.groups_for_user(account, doc["name"]).items:
                gdoc = db.get(GROUP, f"{account}:{group.name.lower()}")
                if gdoc is not None:
                    holders.append(gdoc)
            variables = {"username": doc["name"], "userid": doc["id"], "type": "User",
                         "names": f"arn:aws:iam::{account}:user{doc['path']}{doc['name']} arn:aws:iam::{account}:user/{doc['name']}"}
        elif principal.startswith("assumed-role/"):
            role = principal.split("/")[1]
            doc = db.get(ROLE, f"{account}:{role.lower()}")
            if doc is None:
                return [], None, {}
            holders = [doc]
            session = principal.split("/", 2)[2] if principal.count("/") >= 2 else ""
            variables = {"userid": f"{doc['id']}:{session}", "type": "AssumedRole",
                         "names": f"arn:aws:iam::{account}:role{doc['path']}{doc['name']} arn:aws:iam::{account}:role/{doc['name']}"}
        else:
            return [], None, {}
        identity: list[Policy] = []
        for holder in holders:
            for text in holder.get("inline", {}).values():
                identity.append(self._parse(text))
            for arn in holder.get("attached", []):
                policy = self._managed(account, arn)
                if policy is not None:
                    identity.append(policy)
        boundary: list[Policy] | None = None
        if doc.get("boundary"):
            found = self._managed(account, doc["boundary"])
            boundary = [found] if found is not None else [()]
        return identity, boundary, variables

    def _managed(self, account: str, arn: str) -> Policy | None:
        parsed = parse_policy_arn(arn)
        if parsed is None:
            return None
        if parsed.aws_managed:
            known = aws_managed.lookup(arn)
            return self._parse(known.document) if known is not None else None
        doc = self.engine.db.get(POLICY, f"{account}:{parsed.name.lower()}")
        if doc is None:
            return None
        return self._parse(doc["versions"][doc["default"]]["document"])

    @staticmethod
    def _parse(text: str) -> Policy:
        return _parse_text(text)


@lru_cache(maxsize=1024)
def _parse_cached(text: str) -> Policy:
    return _parse_text(text)


def _parse_text(text: str) -> Policy:
    try:
        return parse(text)
    except (ValueError, TypeError, AttributeError):
        log.warning("an IAM policy document could not be evaluated; it grants nothing")
        return ()


_ANONYMOUS = _Compiled(-1, [], None, {}, frozenset({"*"}))  # an unsigned request: no identity policies

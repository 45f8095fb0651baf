"""StsApi: the Security Token Service (query protocol): who am I, and temporary credentials.

Keys issued here are real: Nimbus verifies requests signed with them (``ASIA...`` key, secret and session
token) until they expire, and keeps them in the metadata store so they survive a restart, as STS's do.
Nimbus does not evaluate IAM policies: a session can do what the root keys can. AssumeRole does check
what STS itself checks before any policy: the role exists in IAM (Nimbus's own roles; an ARN of another
account is refused), the session name, and the duration against the role's MaxSessionDuration.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from nimbus.errors import ServiceError
from nimbus.services.base import RequestContext

if TYPE_CHECKING:
    from nimbus.credentials import Credentials
    from nimbus.server import Nimbus

ROLE_SESSION_DEFAULT_S = 3600
SESSION_TOKEN_DEFAULT_S = 12 * 3600
ROOT_SESSION_MAX_S = 3600  # the root user's GetSessionToken sessions last at most an hour
FEDERATION_DEFAULT_S = 12 * 3600


def create_api(core: Nimbus) -> StsApi:
    return StsApi(core)


class AccessDenied(ServiceError):
    code = "AccessDenied"
    status = 403


def _validation(message: str) -> ServiceError:
    return ServiceError(message, code="ValidationError", status=400)


def _expiration(creds: Credentials) -> dt.datetime:
    assert creds.expires_at is not None
    return dt.datetime.fromtimestamp(int(creds.expires_at), dt.timezone.utc)


def _credentials_out(creds: Credentials) -> dict[str, Any]:
    return {
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "SessionToken": creds.session_token,
        "Expiration": _expiration(creds),
    }


_EMPTY_POLICY = '{"Version": "2012-10-17", "Statement": []}'


def _packed_size(params: dict[str, Any]) -> int | None:
    """PackedPolicySize: the session policy and tags as a percentage of what a session may carry."""
    policy = params.get("Policy")
    arns = params.get("PolicyArns") or []
    tags = params.get("Tags") or []
    if not policy and not arns and not tags:
        return None
    used = len(policy or "") + sum(len(p.get("arn", "")) for p in arns) + sum(len(t["Key"]) + len(t["Value"]) for t in tags)
    return max(1, min(100, used * 100 // 2048))


class StsApi:
    def __init__(self, core: Nimbus) -> None:
        self.core = core

    def _caller(self, ctx: RequestContext) -> Credentials:
        store = self.core.credentials
        creds = store.lookup(ctx.access_key) if ctx.access_key else None
        return creds if creds is not None else store.root

    async def get_caller_identity(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        creds = self._caller(ctx)
        return {"UserId": creds.user_id or creds.account_id, "Account": creds.account_id, "Arn": creds.arn}

    async def get_access_key_info(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        # STS answers any well-formed key id with the account it would belong to; Nimbus has one account
        return {"Account": self.core.settings.account_id}

    async def assume_role(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role_arn: str = params["RoleArn"]
        session: str = params["RoleSessionName"]
        caller = self._caller(ctx)
        parts = role_arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or not parts[5].startswith("role/"):
            raise _validation(f"{role_arn} is invalid")
        account = parts[4]
        role_name = parts[5].rsplit("/", 1)[-1]
        denied = AccessDenied(f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")
        if account != ctx.account_id:
            raise denied  # Nimbus holds one account: another account's role trusts no one here
        role = await self._role(ctx, role_name)
        if role is None or str(role.get("Arn", "")).lower() != role_arn.lower():
            raise denied
        duration = int(params.get("DurationSeconds") or ROLE_SESSION_DEFAULT_S)
        if duration > int(role["MaxSessionDuration"]):
            raise _validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
        if duration > ROLE_SESSION_DEFAULT_S and caller.principal.startswith("assumed-role/"):
            raise _validation("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
        role_id = role["RoleId"]
        principal = f"assumed-role/{role['RoleName']}/{session}"
        creds = self.core.credentials.issue(principal, duration, user_id=f"{role_id}:{session}", durable=True,
                                            session_policies=self._session_policies(ctx, params))
        out: dict[str, Any] = {
            "Credentials": _credentials_out(creds),
            "AssumedRoleUser": {"AssumedRoleId": f"{role_id}:{session}", "Arn": creds.arn},
        }
        packed = _packed_size(params)
        if packed is not None:
            out["PackedPolicySize"] = packed
        if params.get("SourceIdentity"):
            out["SourceIdentity"] = params["SourceIdentity"]
        return out

    async def _role(self, ctx: RequestContext, name: str) -> dict[str, Any] | None:
        """The IAM role ``name`` (IAM's own GetRole), or None."""
        try:
            found = await self.core.api("iam").get_role(ctx, {"RoleName": name})
        except ServiceError as e:
            if e.code == "NoSuchEntity":
                return None
            raise
        return found.get("Role")  # type: ignore[no-any-return]

    def _session_policies(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[str, ...]:
        """AssumeRole's session policies as documents (``Policy``, and each of ``PolicyArns`` read now): under
        --iam enforce they limit the session. A policy ARN IAM does not know grants nothing."""
        out: list[str] = []
        if params.get("Policy"):
            out.append(str(params["Policy"]))
        for item in params.get("PolicyArns") or []:
            arn = str(item.get("arn") or "")
            text = _EMPTY_POLICY
            try:
                iam = self.core.api("iam").engine
                policy = iam.get_policy(ctx.account_id, arn)
                text = iam.get_policy_version(ctx.account_id, arn, policy.default_version).document
            except Exception:  # noqa: BLE001 - an unknown ARN: the session may do nothing through it
                pass
            out.append(text)
        return tuple(out)

    async def get_session_token(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        caller = self._caller(ctx)
        if caller.session_token is not None:
            raise AccessDenied("Cannot call GetSessionToken with session credentials")
        duration = int(params.get("DurationSeconds") or SESSION_TOKEN_DEFAULT_S)
        if caller.principal == "root":
            duration = min(duration, ROOT_SESSION_MAX_S)
        creds = self.core.credentials.issue(caller.principal, duration, user_id=caller.user_id, durable=True)
        return {"Credentials": _credentials_out(creds)}

    async def get_federation_token(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        caller = self._caller(ctx)
        if caller.session_token is not None:
            raise AccessDenied("Cannot call GetFederationToken with session credentials")
        name: str = params["Name"]
        duration = int(params.get("DurationSeconds") or FEDERATION_DEFAULT_S)
        if caller.principal == "root":
            duration = min(duration, ROOT_SESSION_MAX_S)
        user_id = f"{caller.account_id}:{name}"
        creds = self.core.credentials.issue(f"federated-user/{name}", duration, user_id=user_id, durable=True)
        out: dict[str, Any] = {
            "Credentials": _credentials_out(creds),
            "FederatedUser": {"FederatedUserId": user_id, "Arn": creds.arn},
        }
        packed = _packed_size(params)
        if packed is not None:
            out["PackedPolicySize"] = packed
        return out

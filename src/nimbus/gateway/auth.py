"""Who may call a trigger URL: API keys with usage plans, IAM (SigV4), and CORS (D.1, C.4).

``GatewayError`` carries the status and the ``{"message": ...}`` body API Gateway answers with;
``UsageMeter`` enforces usage-plan throttles (token bucket) and quotas per key; ``verify_iam`` checks
a SigV4 signature with the one implementation Nimbus has (``nimbus.sigv4``) and returns the
caller's identity; ``preflight`` / ``cors_headers`` apply a function URL's or HTTP API's CORS settings.
"""

from __future__ import annotations

import calendar
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from nimbus.credentials import CredentialStore, Credentials
from nimbus import sigv4


class GatewayError(Exception):
    """An answer the gateway gives itself (no function involved), e.g. 403 Forbidden."""

    def __init__(self, status: int, message: str | None, *, error_type: str = "", key: str = "message",
                 headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.key = key
        self.headers = headers or []

    def body(self) -> bytes:
        return orjson.dumps({self.key: self.message})


# Gateway responses (supported-gateway-response-types; D.1)
def missing_token() -> GatewayError:
    return GatewayError(403, "Missing Authentication Token", error_type="MissingAuthenticationTokenException")


def forbidden() -> GatewayError:
    return GatewayError(403, "Forbidden", error_type="ForbiddenException")


# --- usage plans ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


@dataclass(slots=True)
class UsageMeter:
    """Throttle (rateLimit req/s refilling a bucket of burstLimit) and quota (limit per DAY/WEEK/MONTH)
    per (usage plan, api key). Counters live in memory: a restart starts a new count (documented)."""

    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)
    _quota: dict[tuple[str, str, int], int] = field(default_factory=dict)

    def check(self, plan: dict[str, Any], key_id: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        plan_id = plan["id"]
        throttle = plan.get("throttle") or {}
        rate = float(throttle.get("rateLimit") or 0)
        burst = float(throttle.get("burstLimit") or 0)
        if rate > 0 or burst > 0:
            burst = burst or max(rate, 1.0)
            b = self._buckets.get((plan_id, key_id))
            if b is None:
                b = self._buckets[(plan_id, key_id)] = _Bucket(burst, now)
            b.tokens = min(burst, b.tokens + (now - b.updated) * rate)
            b.updated = now
            if b.tokens < 1.0:
                raise GatewayError(429, "Too Many Requests", error_type="TooManyRequestsException")
        quota = plan.get("quota") or {}
        limit = int(quota.get("limit") or 0)
        if limit > 0:
            start = period_start(str(quota.get("period") or "DAY"), int(quota.get("offset") or 0), now)
            k = (plan_id, key_id, start)
            used = self._quota.get(k, 0)
            if used >= limit:
                raise GatewayError(429, "Limit Exceeded", error_type="LimitExceededException")
            self._quota[k] = used + 1
        if rate > 0 or burst > 0:
            self._buckets[(plan_id, key_id)].tokens -= 1.0

    def used(self, plan_id: str, key_id: str, period: str = "DAY", offset: int = 0, now: float | None = None) -> int:
        start = period_start(period, offset, time.time() if now is None else now)
        return self._quota.get((plan_id, key_id, start), 0)


def period_start(period: str, offset: int, now: float) -> int:
    """Start (epoch s, UTC) of the quota period containing ``now``; offset shifts the start by days
    (WEEK: 0 = Sunday... as AWS counts from the period's first day)."""
    t = time.gmtime(now)
    day = calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0))
    if period == "WEEK":
        # tm_wday: Monday=0; AWS weeks start on Sunday
        start = day - ((t.tm_wday + 1) % 7) * 86400
    elif period == "MONTH":
        start = calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0))
    else:
        start = day
    start += offset * 86400
    return start if start <= now else start - {"WEEK": 7 * 86400, "MONTH": 31 * 86400}.get(period, 86400)


# --- IAM ------------------------------------------------------------------------------------------

_IAM_MESSAGES = {
    "missing": "Missing Authentication Token",
    "unknown_key": "The security token included in the request is invalid.",
    "bad_token": "The security token included in the request is invalid.",
}


def verify_iam(
    store: CredentialStore,
    *,
    service: str,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: dict[str, str],
    body: bytes,
) -> Credentials:
    """SigV4 for ``execute-api`` (REST methods with AWS_IAM) or ``lambda`` (function URLs with
    AWS_IAM). Failures -> 403 with API Gateway's message; any valid Nimbus key is authorized
    (Nimbus has no IAM policies)."""
    try:
        identity = sigv4.verify(
            store,
            method=method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=headers,
            body_sha256=hashlib.sha256(body).hexdigest(),
        )
    except sigv4.AuthError as e:
        message = _IAM_MESSAGES.get(e.kind, e.message)
        error_type = "MissingAuthenticationTokenException" if e.kind == "missing" else (
            "UnrecognizedClientException" if e.kind in ("unknown_key", "bad_token") else "InvalidSignatureException")
        raise GatewayError(403, message, error_type=error_type) from e
    if identity.service != service:
        raise GatewayError(403, f"Credential should be scoped to correct service: '{service}'. ",
                           error_type="InvalidSignatureException")
    return identity.credentials


def caller_arn(creds: Credentials) -> str:
    if creds.principal == "root":
        return f"arn:aws:iam::{creds.account_id}:root"
    return f"arn:aws:sts::{creds.account_id}:assumed-role/{creds.principal}"


def v1_identity(creds: Credentials) -> dict[str, Any]:
    """requestContext.identity fields an AWS_IAM method fills (D.2)."""
    return {
        "accessKey": creds.access_key_id,
        "accountId": creds.account_id,
        "caller": creds.access_key_id if creds.principal == "root" else f"{creds.access_key_id}:{creds.principal}",
        "user": creds.access_key_id if creds.principal == "root" else f"{creds.access_key_id}:{creds.principal}",
        "userArn": caller_arn(creds),
    }


def v2_iam_authorizer(creds: Credentials) -> dict[str, Any]:
    """requestContext.authorizer for payload 2.0 with AWS_IAM (C.4)."""
    user = creds.access_key_id if creds.principal == "root" else f"{creds.access_key_id}:{creds.principal}"
    return {
        "iam": {
            "accessKey": creds.access_key_id,
            "accountId": creds.account_id,
            "callerId": user,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": caller_arn(creds),
            "userId": user,
        }
    }


# --- CORS (function URLs, HTTP APIs) ---------------------------------------------------------------


def _origin_allowed(cors: dict[str, Any], origin: str) -> str | None:
    origins = [o.rstrip("/") for o in cors.get("AllowOrigins") or []]
    if "*" in origins:
        return origin if cors.get("AllowCredentials") else "*"
    return origin if origin.rstrip("/") in origins else None


def preflight(cors: dict[str, Any] | None, method: str, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]]] | None:
    """An OPTIONS preflight answered by the gateway itself when CORS is configured."""
    if not cors or method != "OPTIONS":
        return None
    origin = headers.get("origin")
    req_method = headers.get("access-control-request-method")
    if not origin or not req_method:
        return None
    out: list[tuple[str, str]] = []
    allowed = _origin_allowed(cors, origin)
    if allowed is not None:
        methods = [m.upper() for m in cors.get("AllowMethods") or []]
        if "*" in methods or req_method.upper() in methods:
            out.append(("Access-Control-Allow-Origin", allowed))
            out.append(("Access-Control-Allow-Methods", ",".join(methods) if "*" not in methods else req_method.upper()))
            allow_headers = cors.get("AllowHeaders") or []
            if allow_headers:
                if "*" in allow_headers:
                    requested = headers.get("access-control-request-headers")
                    out.append(("Access-Control-Allow-Headers", requested or "*"))
                else:
                    out.append(("Access-Control-Allow-Headers", ",".join(h.lower() for h in allow_headers)))
            if cors.get("AllowCredentials"):
                out.append(("Access-Control-Allow-Credentials", "true"))
            if cors.get("MaxAge") is not None:
                out.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
            if allowed != "*":
                out.append(("Vary", "Origin"))
    return 200, out


def cors_headers(cors: dict[str, Any] | None, headers: dict[str, str]) -> list[tuple[str, str]]:
    """Headers added to an actual (non-preflight) response; they replace the function's own."""
    if not cors:
        return []
    origin = headers.get("origin")
    if not origin:
        return []
    allowed = _origin_allowed(cors, origin)
    if allowed is None:
        return []
    out = [("Access-Control-Allow-Origin", allowed)]
    if cors.get("ExposeHeaders"):
        out.append(("Access-Control-Expose-Headers", ",".join(cors["ExposeHeaders"])))
    if cors.get("AllowCredentials"):
        out.append(("Access-Control-Allow-Credentials", "true"))
    if allowed != "*":
        out.append(("Vary", "Origin"))
    return out

"""Who may call a trigger URL: API keys with usage plans, IAM (SigV4), and CORS (D.1, C.4).

``GatewayError`` carries the status and the ``{"message": ...}`` body API Gateway answers with;
``UsageMeter`` enforces usage-plan throttles (token bucket) and quotas per key; ``verify_iam`` checks
a SigV4 signature with the one implementation Nimbus has (``nimbus.sigv4``) and returns the
caller's identity; ``preflight`` / ``cors_headers`` apply a function URL's or HTTP API's CORS settings.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson

from nimbus.credentials import CredentialStore, Credentials
from nimbus import sigv4

log = logging.getLogger(__name__)


class GatewayError(Exception):
    """An answer the gateway gives itself (no function involved), e.g. 403 Forbidden."""

    def __init__(self, status: int, message: str | None, *, error_type: str = "", key: str = "message",
                 headers: list[tuple[str, str]] | None = None, raw: bytes | None = None, response_type: str = "") -> None:
        super().__init__(message)
        self.response_type = response_type  # the REST gateway response type, when error_type does not tell it
        self.validation_errors = ""  # $context.error.validationErrorString of a refused request body
        self.raw = raw  # a body given as is (AWS's `{"message": null}`)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.key = key
        self.headers = headers or []

    def body(self) -> bytes:
        if self.raw is not None:
            return self.raw
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


QUOTA_KIND = "apigw.quota"  # key: "{plan id}/{key id}/{period start}" -> {"used": n, "plan", "key", "start"}
FLUSH_EVERY = 100  # write-behind: persist once this many counted requests are unsaved...
FLUSH_INTERVAL_S = 1.0  # ...or this long after the first unsaved one


class UsageMeter:
    """Throttle (rateLimit req/s refilling a bucket of burstLimit) and quota (limit per DAY/WEEK/MONTH)
    per (usage plan, api key).

    Throttle buckets live in memory (a restart refills them, as a new second would). Quota usage is
    persisted in the metadata store (``store``, kind ``apigw.quota``, one document per plan, key and
    period), write-behind: the counters are saved in one transaction once ``FLUSH_EVERY`` counted
    requests are unsaved, at most ``FLUSH_INTERVAL_S`` after the first unsaved one (a timer), and at
    shutdown (``aclose``). A counter is loaded from the store the first time it is used. So a restart
    keeps the count, and a kill -9 forgets at most the last ``FLUSH_EVERY`` requests / second of it (the
    error is in the caller's favour). Rows of past periods are deleted when a key enters a new period.
    Without a store (unit tests) everything stays in memory.
    """

    def __init__(self, store: Any = None, *, flush_every: int = FLUSH_EVERY, flush_interval_s: float = FLUSH_INTERVAL_S) -> None:
        self.store = store
        self.flush_every = flush_every
        self.flush_interval_s = flush_interval_s
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._quota: dict[tuple[str, str, int], int] = {}
        self._dirty: set[tuple[str, str, int]] = set()
        self._unsaved = 0
        self._timer: Any = None

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
            used = self._quota.get(k)
            if used is None:
                used = self._load(k)
            if used >= limit:
                raise GatewayError(429, "Limit Exceeded", error_type="LimitExceededException")
            self._quota[k] = used + 1
            self._counted(k)
        if rate > 0 or burst > 0:
            self._buckets[(plan_id, key_id)].tokens -= 1.0

    def used(self, plan_id: str, key_id: str, period: str = "DAY", offset: int = 0, now: float | None = None) -> int:
        k = (plan_id, key_id, period_start(period, offset, time.time() if now is None else now))
        used = self._quota.get(k)
        return self._load(k) if used is None else used

    # --- persistence (write-behind) ----------------------------------------------------------------

    @staticmethod
    def _row(k: tuple[str, str, int]) -> str:
        return f"{k[0]}/{k[1]}/{k[2]}"

    def _load(self, k: tuple[str, str, int]) -> int:
        used = 0
        if self.store is not None:
            doc = self.store.get(QUOTA_KIND, self._row(k))
            used = int(doc["used"]) if doc else 0
            # a key entering a new period: its rows of earlier periods are done with
            stale = [row for row, d in self.store.list(QUOTA_KIND, f"{k[0]}/{k[1]}/") if int(d.get("start", 0)) < k[2]]
            if stale:
                with self.store.transaction():
                    for row in stale:
                        self.store.delete(QUOTA_KIND, row)
        for old in [o for o in self._quota if o[:2] == k[:2] and o[2] < k[2] and o not in self._dirty]:
            del self._quota[old]
        self._quota[k] = used
        return used

    def _counted(self, k: tuple[str, str, int]) -> None:
        if self.store is None:
            return
        self._dirty.add(k)
        self._unsaved += 1
        if self._unsaved >= self.flush_every:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # called outside an event loop (unit tests): no timer, count-based only
                return
            self._timer = loop.call_later(self.flush_interval_s, self._timed_flush)

    def _timed_flush(self) -> None:
        self._timer = None
        self.flush()

    def flush(self) -> None:
        """Save every unsaved quota counter (one transaction)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.store is None or not self._dirty:
            return
        dirty, self._dirty, self._unsaved = self._dirty, set(), 0
        try:
            with self.store.transaction():
                for k in dirty:
                    self.store.put(QUOTA_KIND, self._row(k), {"used": self._quota.get(k, 0), "plan": k[0], "key": k[1], "start": k[2]})
        except Exception:  # noqa: BLE001 - keep counting in memory; the next flush tries again
            log.warning("usage-plan quota counters not saved", exc_info=True)
            self._dirty |= dirty

    async def aclose(self) -> None:
        self.flush()


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
    AWS_IAM). Failures -> 403 with API Gateway's message. Any valid Nimbus key is authenticated here; under
    ``--iam enforce`` the gateway then asks IAM for execute-api:Invoke / lambda:InvokeFunctionUrl."""
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
    return creds.arn


def caller_id(creds: Credentials) -> str:
    """requestContext's caller/user: the access key for root, the user id (AIDA...) for an IAM user, else
    ``<key>:<session>``."""
    if creds.principal == "root":
        return creds.access_key_id
    if creds.principal.startswith("user/") and creds.user_id:
        return creds.user_id
    return f"{creds.access_key_id}:{creds.principal}"


def v1_identity(creds: Credentials) -> dict[str, Any]:
    """requestContext.identity fields an AWS_IAM method fills (D.2)."""
    return {
        "accessKey": creds.access_key_id,
        "accountId": creds.account_id,
        "caller": caller_id(creds),
        "user": caller_id(creds),
        "userArn": caller_arn(creds),
    }


def v2_iam_authorizer(creds: Credentials) -> dict[str, Any]:
    """requestContext.authorizer for payload 2.0 with AWS_IAM (C.4)."""
    user = caller_id(creds)
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

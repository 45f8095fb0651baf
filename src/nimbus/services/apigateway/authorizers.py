"""Lambda authorizers: their records (REST ``apigateway`` and HTTP API ``apigatewayv2``) and the pure
rules the gateway applies when a method or route uses one (docs/services/apigateway.md, "Authorizers").

Records live inside their API's document (key ``authorizers``), so they survive restarts and go with
the API. A REST deployment freezes the API's authorizers beside its resources (AWS: an authorizer
change needs a redeployment); HTTP APIs serve their current authorizers.

Serving rules here are pure: ``identity_values`` reads the identity sources off a request,
``parse_policy_result`` / ``parse_simple_result`` check what the function answered, ``decide``
evaluates the returned IAM policy for a method ARN, and ``ResultCache`` keeps results per identity
for ``authorizerResultTtlInSeconds``. Invoking the function is the caller's (one invoke path).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from nimbus.services.apigateway import ids, wsapis
from nimbus.services.apigateway.errors import BadRequestException, ConflictException, NotFoundException
from nimbus.services.apigateway.httpapis import HttpApis, lambda_uri_function
from nimbus.services.apigateway.restapis import API, RestApis

REST_TYPES = ("TOKEN", "REQUEST", "COGNITO_USER_POOLS")
DEFAULT_REST_TTL_S = 300  # AWS: authorizerResultTtlInSeconds defaults to 300; 0 disables caching
DEFAULT_HTTP_TTL_S = 0  # apigatewayv2: caching only when AuthorizerResultTtlInSeconds > 0
MAX_TTL_S = 3600
AUTHORIZER_ID_LEN = 6
MAX_CACHED = 10_000

_REST_SOURCE = re.compile(r"(method\.request\.(header|querystring|multivalueheader|multivaluequerystring)|stageVariables|context)\.([^\s,]+)")
_HTTP_SOURCE = re.compile(r"\$(request\.(header|querystring)|stageVariables|context)\.([^\s,]+)")


# --- REST API authorizers (apigateway) ------------------------------------------------------------


def _check_rest(auth: dict[str, Any]) -> None:
    kind = auth["type"]
    if kind not in REST_TYPES:
        raise BadRequestException(f"Invalid authorizer type specified: {kind}. Valid values: TOKEN, REQUEST, COGNITO_USER_POOLS")
    if kind in ("TOKEN", "REQUEST"):
        uri = auth.get("authorizerUri")
        if not uri or lambda_uri_function(uri) is None:
            raise BadRequestException("Invalid Authorizer URI specified")
    elif not auth.get("providerARNs"):
        raise BadRequestException("Invalid Provider ARNs specified: COGNITO_USER_POOLS authorizers need providerARNs")
    source = (auth.get("identitySource") or "").strip()
    if kind in ("TOKEN", "COGNITO_USER_POOLS"):
        if not source.startswith("method.request.header.") or "," in source:
            raise BadRequestException(f"Invalid identity source specified: {source or '(empty)'}; "
                                      "a TOKEN authorizer reads one header: method.request.header.<name>")
    elif source:
        for part in source.split(","):
            if not _REST_SOURCE.fullmatch(part.strip()):
                raise BadRequestException(f"Invalid identity source specified: {part.strip()}")
    ttl = auth.get("authorizerResultTtlInSeconds")
    if ttl is not None and not (0 <= int(ttl) <= MAX_TTL_S):
        raise BadRequestException(f"Invalid TTL specified: {ttl}; it must be between 0 and {MAX_TTL_S} seconds")
    expr = auth.get("identityValidationExpression")
    if expr:
        try:
            re.compile(expr)
        except re.error:
            raise BadRequestException(f"Invalid identity validation expression specified: {expr}") from None


class RestAuthorizers:
    """CreateAuthorizer & co. for REST APIs, stored in the API document under ``authorizers``."""

    FIELDS = ("name", "type", "providerARNs", "authType", "authorizerUri", "authorizerCredentials", "identitySource",
              "identityValidationExpression", "authorizerResultTtlInSeconds")

    def __init__(self, rest: RestApis) -> None:
        self.rest = rest

    def _save(self, doc: dict[str, Any]) -> None:
        self.rest.db.put(API, doc["id"], doc)
        self.rest._changed()

    @staticmethod
    def _get(doc: dict[str, Any], auth_id: str) -> dict[str, Any]:
        auth: dict[str, Any] | None = doc.get("authorizers", {}).get(auth_id)
        if auth is None:
            raise NotFoundException("Invalid Authorizer identifier specified")
        return auth

    def create(self, api_id: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.rest.get_api(api_id, account)
        auths = doc.setdefault("authorizers", {})
        if any(a["name"] == params["name"] for a in auths.values()):
            raise ConflictException(f"Authorizer with name '{params['name']}' already exists")
        auth: dict[str, Any] = {"id": ids.new_id(AUTHORIZER_ID_LEN)}
        for k in self.FIELDS:
            if params.get(k) is not None:
                auth[k] = params[k]
        if auth["type"] == "TOKEN" and not auth.get("identitySource"):
            auth["identitySource"] = "method.request.header.Authorization"
        if auth["type"] in ("TOKEN", "REQUEST") and "authorizerResultTtlInSeconds" not in auth:
            auth["authorizerResultTtlInSeconds"] = DEFAULT_REST_TTL_S
        _check_rest(auth)
        auths[auth["id"]] = auth
        self._save(doc)
        return auth

    def get(self, api_id: str, account: str, auth_id: str) -> dict[str, Any]:
        return self._get(self.rest.get_api(api_id, account), auth_id)

    def list(self, api_id: str, account: str) -> list[dict[str, Any]]:
        return sorted(self.rest.get_api(api_id, account).get("authorizers", {}).values(), key=lambda a: a["name"])

    def update(self, api_id: str, account: str, auth_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        doc = self.rest.get_api(api_id, account)
        auth = dict(self._get(doc, auth_id))
        for op in ops:
            path, value, kind = op.get("path", ""), op.get("value"), op.get("op", "replace")
            name = path[1:]
            if path == "/authorizerResultTtlInSeconds":
                try:
                    auth[name] = int(str(value))
                except ValueError:
                    raise BadRequestException(f"Invalid value '{value}' for patch path {path}: expected a number") from None
            elif path == "/providerARNs" or path.startswith("/providerARNs/"):
                arns = [a for a in auth.get("providerARNs", []) if a != value]
                if kind in ("add", "replace"):
                    arns.append(str(value))
                auth["providerARNs"] = arns
            elif name in self.FIELDS and name != "providerARNs":
                if kind == "remove":
                    auth.pop(name, None)
                else:
                    auth[name] = value
            else:
                raise BadRequestException(f"Invalid patch path {path}")
        _check_rest(auth)
        doc["authorizers"][auth_id] = auth
        self._save(doc)
        return auth

    def delete(self, api_id: str, account: str, auth_id: str) -> None:
        doc = self.rest.get_api(api_id, account)
        auth = self._get(doc, auth_id)
        for res in doc["resources"].values():
            for verb, method in res["resourceMethods"].items():
                if method.get("authorizerId") == auth_id and method.get("authorizationType") in ("CUSTOM", "COGNITO_USER_POOLS"):
                    raise ConflictException(f"Cannot delete authorizer '{auth['name']}', is referenced in method: {verb}{res['path']}")
        del doc["authorizers"][auth_id]
        self._save(doc)


# --- HTTP API authorizers (apigatewayv2) ----------------------------------------------------------


def _check_http(auth: dict[str, Any]) -> None:
    kind = auth["AuthorizerType"]
    if kind == "REQUEST":
        uri = auth.get("AuthorizerUri")
        if not uri or lambda_uri_function(uri) is None:
            raise BadRequestException("AuthorizerUri is required for a REQUEST authorizer and must name a Lambda function")
        version = auth.get("AuthorizerPayloadFormatVersion")
        if version not in ("1.0", "2.0"):
            raise BadRequestException("AuthorizerPayloadFormatVersion is required for REQUEST authorizers: 1.0 or 2.0")
        if auth.get("EnableSimpleResponses") and version != "2.0":
            raise BadRequestException("EnableSimpleResponses is only supported with AuthorizerPayloadFormatVersion 2.0")
        for part in auth.get("IdentitySource") or []:
            if not _HTTP_SOURCE.fullmatch(part.strip()):
                raise BadRequestException(f"Invalid identity source: {part}")
        ttl = int(auth.get("AuthorizerResultTtlInSeconds") or 0)
        if not 0 <= ttl <= MAX_TTL_S:
            raise BadRequestException(f"AuthorizerResultTtlInSeconds must be between 0 and {MAX_TTL_S}")
        if ttl > 0 and not auth.get("IdentitySource"):
            raise BadRequestException("IdentitySource is required when authorizer caching is enabled")
    elif kind == "JWT":
        jwt = auth.get("JwtConfiguration") or {}
        if not jwt.get("Issuer") or not auth.get("IdentitySource"):
            raise BadRequestException("JWT authorizers need JwtConfiguration.Issuer and an IdentitySource")
    else:
        raise BadRequestException(f"Invalid AuthorizerType {kind}: REQUEST or JWT")


class HttpAuthorizers:
    """CreateAuthorizer & co. for HTTP APIs, stored in the API document under ``authorizers``."""

    FIELDS = ("AuthorizerCredentialsArn", "AuthorizerPayloadFormatVersion", "AuthorizerResultTtlInSeconds",
              "AuthorizerType", "AuthorizerUri", "EnableSimpleResponses", "IdentitySource",
              "IdentityValidationExpression", "JwtConfiguration", "Name")

    def __init__(self, http: HttpApis) -> None:
        self.http = http

    @staticmethod
    def _get(doc: dict[str, Any], auth_id: str) -> dict[str, Any]:
        auth: dict[str, Any] | None = doc.get("authorizers", {}).get(auth_id)
        if auth is None:
            raise NotFoundException(f"Unable to find Authorizer with id '{auth_id}'", ResourceType="Authorizer")
        return auth

    def create(self, api_id: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.http.get_api(api_id, account)
        auth: dict[str, Any] = {"AuthorizerId": ids.new_id(AUTHORIZER_ID_LEN)}
        for k in self.FIELDS:
            if params.get(k) is not None:
                auth[k] = params[k]
        if doc.get("ProtocolType") == "WEBSOCKET":
            wsapis.check_authorizer(auth)
        else:
            if auth["AuthorizerType"] == "REQUEST":
                auth.setdefault("AuthorizerResultTtlInSeconds", DEFAULT_HTTP_TTL_S)
                auth.setdefault("EnableSimpleResponses", False)
            _check_http(auth)
        doc.setdefault("authorizers", {})[auth["AuthorizerId"]] = auth
        self.http._save(doc)
        return auth

    def get(self, api_id: str, account: str, auth_id: str) -> dict[str, Any]:
        return self._get(self.http.get_api(api_id, account), auth_id)

    def list(self, api_id: str, account: str) -> list[dict[str, Any]]:
        return sorted(self.http.get_api(api_id, account).get("authorizers", {}).values(), key=lambda a: a["Name"])

    def update(self, api_id: str, account: str, auth_id: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.http.get_api(api_id, account)
        auth = dict(self._get(doc, auth_id))
        for k in self.FIELDS:
            if params.get(k) is not None:
                auth[k] = params[k]
        if doc.get("ProtocolType") == "WEBSOCKET":
            wsapis.check_authorizer(auth)
        else:
            _check_http(auth)
        doc["authorizers"][auth_id] = auth
        self.http._save(doc)
        return auth

    def delete(self, api_id: str, account: str, auth_id: str) -> None:
        doc = self.http.get_api(api_id, account)
        self._get(doc, auth_id)
        users = [r["RouteKey"] for r in doc["routes"].values() if r.get("AuthorizerId") == auth_id]
        if users:
            raise ConflictException(f"Cannot delete authorizer '{auth_id}': it is used by route(s) {', '.join(users)}")
        del doc["authorizers"][auth_id]
        self.http._save(doc)


# --- serving rules (pure) -----------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class IdentityRequest:
    """What identity sources may read: lower-case header names, query, stage variables, $context."""

    headers: dict[str, str]
    query: dict[str, str]
    stage_variables: dict[str, str]
    context: dict[str, str] = field(default_factory=dict)


def identity_values(sources: list[str], req: IdentityRequest) -> list[str] | None:
    """The values of ``sources`` (REST ``method.request.header.X`` or HTTP API ``$request.header.X``
    forms) in order; None when one is missing or empty (the gateway answers 401 without invoking)."""
    values: list[str] = []
    for source in sources:
        source = source.strip()
        m = _REST_SOURCE.fullmatch(source) or _HTTP_SOURCE.fullmatch(source)
        if m is None:
            return None
        where, sub, name = m.group(1), m.group(2), m.group(3)
        if sub in ("header", "multivalueheader"):  # the gateway's headers hold repeated values comma-joined
            value = req.headers.get(name.lower())
        elif sub in ("querystring", "multivaluequerystring"):
            value = req.query.get(name)
        elif where == "stageVariables":
            value = req.stage_variables.get(name)
        else:
            value = req.context.get(name)
        if not value:
            return None
        values.append(value)
    return values


def rest_sources(auth: dict[str, Any]) -> list[str]:
    return [s.strip() for s in (auth.get("identitySource") or "").split(",") if s.strip()]


class AuthorizerFailure(Exception):
    """The function answered something that is not a valid authorizer result (AWS: 500,
    AuthorizerConfigurationException)."""


@dataclass(slots=True, frozen=True)
class Grant:
    """A valid authorizer result: the policy (or simple verdict), principal and context."""

    principal_id: str | None
    policy: dict[str, Any] | None  # None for simple responses
    authorized: bool | None  # simple responses only
    context: dict[str, Any]
    usage_key: str | None = None


def parse_policy_result(doc: Any, *, stringify: bool) -> Grant:
    """An IAM-policy result: ``principalId``, ``policyDocument``, optional ``context`` of scalars
    (REST passes them on as strings, as AWS does) and ``usageIdentifierKey``."""
    if not isinstance(doc, dict):
        raise AuthorizerFailure("the authorizer response is not a JSON object")
    policy = doc.get("policyDocument")
    if not isinstance(policy, dict) or not isinstance(policy.get("Statement"), (list, dict)):
        raise AuthorizerFailure("the authorizer response has no valid policyDocument")
    principal = doc.get("principalId")
    if principal is None and stringify:
        raise AuthorizerFailure("the authorizer response has no principalId")
    context = doc.get("context") or {}
    if not isinstance(context, dict):
        raise AuthorizerFailure("the authorizer context must be an object")
    if stringify:
        out: dict[str, Any] = {}
        for k, v in context.items():
            if isinstance(v, (dict, list)) or v is None:
                raise AuthorizerFailure(f"the authorizer context value for {k} is not a string, number or boolean")
            out[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
        context = out
    usage = doc.get("usageIdentifierKey")
    return Grant(None if principal is None else str(principal), policy, None, context, usage if isinstance(usage, str) else None)


def parse_simple_result(doc: Any) -> Grant:
    """An HTTP API simple response: ``{"isAuthorized": bool, "context": {...}}``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("isAuthorized"), bool):
        raise AuthorizerFailure("a simple authorizer response needs a boolean isAuthorized")
    context = doc.get("context") or {}
    if not isinstance(context, dict):
        raise AuthorizerFailure("the authorizer context must be an object")
    return Grant(None, None, doc["isAuthorized"], context)


def _wildcard(pattern: str) -> re.Pattern[str]:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one character; nothing else is special."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(patterns: Any, value: str, *, ignore_case: bool = False) -> bool:
    for p in _as_list(patterns):
        if isinstance(p, str):
            if ignore_case and _wildcard(p.lower()).fullmatch(value.lower()):
                return True
            if not ignore_case and _wildcard(p).fullmatch(value):
                return True
    return False


def decide(policy: dict[str, Any], method_arn: str, action: str = "execute-api:Invoke") -> str:
    """``Allow``, ``Deny`` (an explicit deny matched) or ``NoMatch`` (no statement allows: implicit deny)."""
    allowed = False
    for st in _as_list(policy.get("Statement")):
        if not isinstance(st, dict):
            continue
        if "Action" in st and not _matches(st["Action"], action, ignore_case=True):
            continue
        if "NotAction" in st and _matches(st["NotAction"], action, ignore_case=True):
            continue
        if "Resource" in st and not _matches(st["Resource"], method_arn):
            continue
        if "NotResource" in st and _matches(st["NotResource"], method_arn):
            continue
        effect = str(st.get("Effect", "")).capitalize()
        if effect == "Deny":
            return "Deny"
        if effect == "Allow":
            allowed = True
    return "Allow" if allowed else "NoMatch"


class ResultCache:
    """Authorizer results per (authorizer, identity values) for the authorizer's TTL. In memory: a
    restart empties it, as a redeployment does on AWS."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._items: dict[tuple[Any, ...], tuple[float, Grant]] = {}

    def get(self, key: tuple[Any, ...]) -> Grant | None:
        hit = self._items.get(key)
        if hit is None:
            return None
        if hit[0] <= self._clock():
            del self._items[key]
            return None
        return hit[1]

    def flush(self, api_id: str, stage: str) -> int:
        """Forget every result cached for one stage of an API (FlushStageAuthorizersCache,
        ResetAuthorizersCache): keys start with (api id, stage). Returns how many were dropped."""
        doomed = [k for k in self._items if k[:2] == (api_id, stage)]
        for k in doomed:
            del self._items[k]
        return len(doomed)

    def put(self, key: tuple[Any, ...], grant: Grant, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        if len(self._items) >= MAX_CACHED:
            now = self._clock()
            self._items = {k: v for k, v in self._items.items() if v[0] > now}
            if len(self._items) >= MAX_CACHED:
                self._items.clear()
        self._items[key] = (self._clock() + ttl_s, grant)

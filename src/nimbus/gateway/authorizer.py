"""Lambda authorizers on the serving path (REST ``CUSTOM`` methods, HTTP API ``CUSTOM`` routes).

The identity sources are read first (one missing: 401 ``Unauthorized`` without invoking), then the
cache (per authorizer, deployment and identity values, for the authorizer's TTL), then the function
through the gateway's one invoke path. The result (an IAM policy, or an HTTP API simple response) is
evaluated for this request's method/route ARN every time, cached or not, as AWS does (a cached policy
that allows only ``GET /a`` denies ``GET /b``). Wordings: docs/services/apigateway.md "Authorizers".
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from nimbus.gateway.auth import GatewayError
from nimbus.services.apigateway.authorizers import (
    DEFAULT_HTTP_TTL_S,
    DEFAULT_REST_TTL_S,
    AuthorizerFailure,
    Grant,
    IdentityRequest,
    ResultCache,
    decide,
    identity_values,
    parse_policy_result,
    parse_simple_result,
    rest_sources,
)
from nimbus.services.apigateway.httpapis import lambda_uri_function

log = logging.getLogger(__name__)

AUTHORIZER_TIMEOUT_MS = 30_000  # the gateway waits at most this long for an authorizer function

Invoke = Callable[..., Awaitable[Any]]
Permitted = Callable[[str, str, str], bool]


def unauthorized() -> GatewayError:
    return GatewayError(401, "Unauthorized", error_type="UnauthorizedException")


def rest_failure() -> GatewayError:
    """AWS's AUTHORIZER_CONFIGURATION_ERROR / AUTHORIZER_FAILURE: 500 ``{"message": null}``."""
    return GatewayError(500, None, error_type="AuthorizerConfigurationException", raw=b'{"message":null}')


def rest_denied(explicit: bool) -> GatewayError:
    text = "User is not authorized to access this resource" + (" with an explicit deny" if explicit else "")
    return GatewayError(403, text, key="Message", error_type="AccessDeniedException")


def http_failure() -> GatewayError:
    return GatewayError(500, "Internal Server Error", error_type="AuthorizerConfigurationException")


def http_forbidden() -> GatewayError:
    return GatewayError(403, "Forbidden", error_type="ForbiddenException")


def method_arn(region: str, account: str, api_id: str, stage: str, method: str, path: str) -> str:
    """``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{VERB}/{path}`` (the request's path)."""
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{method}/{path.lstrip('/')}"


class Authorizers:
    """Runs authorizers for the gateway; ``invoke`` and ``permitted`` are the gateway's own."""

    def __init__(self, invoke: Invoke, permitted: Permitted, cache: ResultCache) -> None:
        self._invoke = invoke
        self._permitted = permitted
        self.cache = cache

    async def _call(self, auth_id: str, uri: str, region: str, account: str, api_id: str, event: dict[str, Any],
                    failure: GatewayError, credentials: str | None) -> tuple[Any, int]:
        fn_arn = lambda_uri_function(uri)
        if fn_arn is None:
            raise failure
        source_arn = f"arn:aws:execute-api:{region}:{account}:{api_id}/authorizers/{auth_id}"
        # with authorizerCredentials API Gateway assumes that role instead of using the resource policy
        if not credentials and not self._permitted(fn_arn, source_arn, "apigateway.amazonaws.com"):
            log.info("gateway: authorizer lacks permission to invoke function=%s authorizer=%s", fn_arn, auth_id)
            raise failure
        started = time.perf_counter()
        result = await self._invoke(fn_arn, event, str(uuid.uuid4()), AUTHORIZER_TIMEOUT_MS, on_timeout=failure, on_reject=failure)
        latency = int((time.perf_counter() - started) * 1000)
        try:
            doc = orjson.loads(result.payload or b"null")
        except orjson.JSONDecodeError:
            log.info("gateway: authorizer answered non-JSON authorizer=%s", auth_id)
            raise failure from None
        if result.function_error:
            # AWS's convention: an authorizer that fails with the message "Unauthorized" means 401
            if isinstance(doc, dict) and doc.get("errorMessage") == "Unauthorized":
                raise unauthorized()
            log.info("gateway: authorizer function failed authorizer=%s", auth_id)
            raise failure
        return doc, latency

    # --- REST APIs ------------------------------------------------------------------------------

    async def rest(self, auth: dict[str, Any], *, api: dict[str, Any], api_id: str, stage: str, deployment_id: str,
                   arn: str, ident: IdentityRequest, request_event: Callable[[], dict[str, Any]]) -> tuple[Grant, int]:
        """(grant, latency ms) for a CUSTOM method, or a GatewayError."""
        kind = auth.get("type")
        if kind == "COGNITO_USER_POOLS":
            raise unauthorized()  # no Cognito in Nimbus: documented choice
        sources = rest_sources(auth)
        values = identity_values(sources, ident) if sources else []
        if values is None:
            raise unauthorized()
        if kind == "TOKEN":
            expr = auth.get("identityValidationExpression")
            if expr and not re.fullmatch(expr, values[0]):
                raise unauthorized()
        ttl = int(auth.get("authorizerResultTtlInSeconds", DEFAULT_REST_TTL_S) or 0) if sources else 0
        key = (api_id, stage, deployment_id, auth["id"], tuple(values))
        grant = self.cache.get(key) if ttl > 0 else None
        latency = 0
        if grant is None:
            if kind == "TOKEN":
                event: dict[str, Any] = {"type": "TOKEN", "methodArn": arn, "authorizationToken": values[0]}
            else:
                event = {"type": "REQUEST", "methodArn": arn, **request_event()}
            doc, latency = await self._call(auth["id"], auth.get("authorizerUri", ""), api["region"], api["account"], api_id,
                                            event, rest_failure(), auth.get("authorizerCredentials"))
            try:
                grant = parse_policy_result(doc, stringify=True)
            except AuthorizerFailure as e:
                log.info("gateway: invalid authorizer response authorizer=%s reason=%s", auth["id"], e)
                raise rest_failure() from e
            self.cache.put(key, grant, ttl)
        if grant.policy is None:
            raise rest_failure()
        verdict = decide(grant.policy, arn)
        if verdict != "Allow":
            raise rest_denied(explicit=verdict == "Deny")
        return grant, latency

    # --- HTTP APIs ------------------------------------------------------------------------------

    async def http(self, auth: dict[str, Any], *, doc: dict[str, Any], api_id: str, stage: str, arn: str,
                   ident: IdentityRequest, event_v1: Callable[[], dict[str, Any]],
                   event_v2: Callable[[], dict[str, Any]]) -> tuple[Grant, int]:
        if auth.get("AuthorizerType") != "REQUEST":
            raise unauthorized()  # JWT: recorded, not verified (no JWKS fetching): documented choice
        sources = [s for s in auth.get("IdentitySource") or [] if s.strip()]
        values = identity_values(sources, ident) if sources else []
        if values is None:
            raise unauthorized()
        ttl = int(auth.get("AuthorizerResultTtlInSeconds", DEFAULT_HTTP_TTL_S) or 0) if sources else 0
        # HTTP APIs serve the current authorizer: its settings are part of the key, so an update starts afresh
        settings = (auth.get("AuthorizerUri"), auth.get("AuthorizerPayloadFormatVersion"), bool(auth.get("EnableSimpleResponses")), ttl,
                    tuple(sources))
        key = (api_id, stage, settings, auth["AuthorizerId"], tuple(values))
        grant = self.cache.get(key) if ttl > 0 else None
        latency = 0
        if grant is None:
            if auth.get("AuthorizerPayloadFormatVersion") == "1.0":
                event: dict[str, Any] = {"version": "1.0", "type": "REQUEST", "methodArn": arn,
                                         "identitySource": ",".join(values), "authorizationToken": values[0] if values else None,
                                         **event_v1()}
            else:
                event = {"version": "2.0", "type": "REQUEST", "routeArn": arn, "identitySource": values, **event_v2()}
            out, latency = await self._call(auth["AuthorizerId"], auth.get("AuthorizerUri", ""), doc["region"], doc["account"],
                                            api_id, event, http_failure(), auth.get("AuthorizerCredentialsArn"))
            try:
                grant = parse_simple_result(out) if auth.get("EnableSimpleResponses") else parse_policy_result(out, stringify=False)
            except AuthorizerFailure as e:
                log.info("gateway: invalid authorizer response authorizer=%s reason=%s", auth["AuthorizerId"], e)
                raise http_failure() from e
            self.cache.put(key, grant, ttl)
        if grant.policy is None:
            if not grant.authorized:
                raise http_forbidden()
        elif decide(grant.policy, arn) != "Allow":
            raise http_forbidden()
        return grant, latency

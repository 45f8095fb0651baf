"""WebSocket APIs (API Gateway v2, ProtocolType WEBSOCKET): the rules their control plane adds to
``httpapis.HttpApis``, which keeps them in the same document (routes, integrations, stages,
deployments). Serving lives in ``nimbus.gateway.websocket``.

On AWS a WebSocket API needs a ``RouteSelectionExpression`` (``$request.body.action`` is the usual
one), its route keys are free strings (``$connect``, ``$disconnect``, ``$default`` or any custom key
the expression may select), only the ``$default`` route response exists, and there is no quick create.
"""

from __future__ import annotations

import re
from typing import Any

from nimbus.services.apigateway import ids
from nimbus.services.apigateway.errors import BadRequestException, ConflictException

DEFAULT_TIMEOUT_MS = 29_000  # WebSocket integrations: 50 ms..29 s, as REST APIs
SPECIAL_ROUTE_KEYS = ("$connect", "$disconnect", "$default")
MAX_ROUTE_KEY_LEN = 128  # route keys are 1..128 characters
INTEGRATION_TYPES = ("AWS_PROXY", "MOCK")  # served; AWS, HTTP and HTTP_PROXY are not (docs)
# WebSocket identity sources: route.request.header.X, route.request.querystring.X, stageVariables.X, context.X
_SOURCE = re.compile(r"(route\.request\.(header|querystring)|stageVariables|context)\.[^\s,]+")


def _unbraced(expr: str) -> str:
    """``${request.body.action}`` is ``$request.body.action`` (both spellings are accepted by AWS)."""
    return "$" + expr[2:-1] if expr.startswith("${") and expr.endswith("}") else expr


def check_selection_expression(expr: str) -> str:
    """``$request.body.<path>`` (JSON path of the message body, dotted) or a constant key; anything else
    with ``$request`` in it is refused, since Nimbus could not evaluate it."""
    expr = expr.strip()
    inner = _unbraced(expr)
    if inner.startswith("$request.body.") and len(inner) > len("$request.body."):
        return expr
    if "$" not in expr:
        return expr  # a constant: every message selects that route key
    raise BadRequestException(f"Invalid RouteSelectionExpression {expr}: expected $request.body.<property>")


def check_create(params: dict[str, Any]) -> None:
    expr = params.get("RouteSelectionExpression")
    if not expr:
        raise BadRequestException("RouteSelectionExpression is required for a WEBSOCKET API")
    check_selection_expression(expr)
    if params.get("Target") or params.get("RouteKey"):
        raise BadRequestException("Quick create (Target, RouteKey) is not supported for WEBSOCKET APIs")
    if params.get("CorsConfiguration"):
        raise BadRequestException("CorsConfiguration is not supported for WEBSOCKET APIs")


def check_route_key(key: str) -> None:
    if not key or len(key) > MAX_ROUTE_KEY_LEN:
        raise BadRequestException(f"Invalid route key {key!r}: 1 to {MAX_ROUTE_KEY_LEN} characters")
    if key.startswith("$") and key not in SPECIAL_ROUTE_KEYS:
        raise BadRequestException(f"Invalid route key {key}: keys starting with $ are reserved ($connect, $disconnect, $default)")


def check_integration_type(kind: str) -> None:
    if kind not in INTEGRATION_TYPES:
        raise BadRequestException(f"Integration type {kind} is not supported by Nimbus for WEBSOCKET APIs (AWS_PROXY or MOCK)")


def new_route_response(params: dict[str, Any], existing: dict[str, Any]) -> dict[str, Any]:
    key = params["RouteResponseKey"]
    if key != "$default":
        raise BadRequestException("Only the $default route response is supported for WebSocket APIs")
    if any(r["RouteResponseKey"] == key for r in existing.values()):
        raise ConflictException(f"Unable to create route response. Route response key {key} already exists for this route")
    out: dict[str, Any] = {"RouteResponseId": ids.new_id(ids.ROUTE_ID_LEN), "RouteResponseKey": key}
    for k in ("ModelSelectionExpression", "ResponseModels", "ResponseParameters"):
        if params.get(k) is not None:
            out[k] = params[k]
    return out


def check_model_names(doc: dict[str, Any], models: dict[str, Any] | None, what: str) -> None:
    """A route's ``RequestModels`` (or a route response's ``ResponseModels``) must name models of the API."""
    known = {m["Name"] for m in (doc.get("models") or {}).values()}
    for name in (models or {}).values():
        if name not in known:
            raise BadRequestException(f"Invalid model specified in {what}: {name} is not a model of this API")


INTEGRATION_RESPONSE_FIELDS = ("IntegrationResponseKey", "ContentHandlingStrategy", "ResponseParameters", "ResponseTemplates",
                               "TemplateSelectionExpression")


def check_integration_response_key(key: str) -> str:
    """``$default`` or a selection pattern ``/regex/`` matched against the integration's status."""
    if key == "$default":
        return key
    if len(key) >= 3 and key.startswith("/") and key.endswith("/"):
        try:
            re.compile(key[1:-1])
        except re.error:
            raise BadRequestException(f"Invalid IntegrationResponseKey {key}: the pattern is not a valid regular expression") from None
        return key
    raise BadRequestException(f"Invalid IntegrationResponseKey {key}: $default or a selection pattern such as /4\\d{{2}}/")


def new_integration_response(params: dict[str, Any], existing: dict[str, Any]) -> dict[str, Any]:
    key = check_integration_response_key(params["IntegrationResponseKey"])
    if any(r["IntegrationResponseKey"] == key for r in existing.values()):
        raise ConflictException(f"Unable to create integration response. Integration response key {key} already exists "
                                "for this integration")
    out: dict[str, Any] = {"IntegrationResponseId": ids.new_id(ids.ROUTE_ID_LEN)}
    for k in INTEGRATION_RESPONSE_FIELDS:
        if params.get(k) is not None:
            out[k] = params[k]
    return out


def mock_reply(integ: dict[str, Any]) -> str | None:
    """What a MOCK integration answers a message: its ``$default`` integration response's template (the
    one ``TemplateSelectionExpression`` names when it is a constant, else ``$default``, else the only
    one), verbatim: Nimbus runs no VTL."""
    response = next((r for r in (integ.get("responses") or {}).values() if r.get("IntegrationResponseKey") == "$default"), None)
    templates = (response or {}).get("ResponseTemplates") or {}
    if not templates:
        return None
    expr = str((response or {}).get("TemplateSelectionExpression") or "").replace("\\$", "$")  # "\\$default" is "$default"
    for key in (expr, "$default"):
        if key in templates:
            return str(templates[key])
    return str(next(iter(templates.values()))) if len(templates) == 1 else None


def select_route(expr: str, body: Any) -> str | None:
    """The route key a message selects: the value at ``$request.body.<path>`` of its JSON body (a string,
    or a number/boolean as its JSON text), None when absent (the ``$default`` route then)."""
    inner = _unbraced(expr)
    if not inner.startswith("$request.body."):
        return inner  # a constant expression
    node = body
    for part in inner[len("$request.body."):].split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, (str, int, float)):
        return str(node)
    return None


def check_authorizer(auth: dict[str, Any]) -> None:
    """A WebSocket API's authorizer: a REQUEST Lambda authorizer on ``$connect`` (no JWT, no caching)."""
    from nimbus.services.apigateway.httpapis import lambda_uri_function

    if auth.get("AuthorizerType") != "REQUEST":
        raise BadRequestException("WebSocket APIs support REQUEST authorizers only")
    uri = auth.get("AuthorizerUri")
    if not uri or lambda_uri_function(uri) is None:
        raise BadRequestException("AuthorizerUri is required for a REQUEST authorizer and must name a Lambda function")
    for part in auth.get("IdentitySource") or []:
        if not _SOURCE.fullmatch(part.strip()):
            raise BadRequestException(f"Invalid identity source: {part}")
    for k in ("AuthorizerPayloadFormatVersion", "EnableSimpleResponses", "AuthorizerResultTtlInSeconds"):
        if auth.get(k) is not None:
            raise BadRequestException(f"{k} is supported only for HTTP APIs")

"""Gateway responses of REST APIs: the records (PutGatewayResponse & co.) and the pure rule that turns
an error the gateway raised itself into the API's customized answer (supported-gateway-response-types).

Customized responses live in the API document under ``gatewayResponses`` (by type) and are frozen by a
deployment, as AWS (a change serves after the next CreateDeployment). A type not customized answers its
default record (``defaultResponse: true``). Serving: the error's own type if customized, else
``DEFAULT_4XX`` / ``DEFAULT_5XX`` if customized (whose status code, when set, replaces every 4XX/5XX
status, as AWS documents), else the gateway's built-in answer unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from nimbus.services.apigateway.errors import BadRequestException, NotFoundException
from nimbus.services.apigateway.restapis import API, RestApis, _unescape

# type -> default status code (None for the two fallbacks), in the model's order
TYPES: dict[str, str | None] = {
    "DEFAULT_4XX": None, "DEFAULT_5XX": None, "RESOURCE_NOT_FOUND": "404", "UNAUTHORIZED": "401",
    "INVALID_API_KEY": "403", "ACCESS_DENIED": "403", "AUTHORIZER_FAILURE": "500", "AUTHORIZER_CONFIGURATION_ERROR": "500",
    "INVALID_SIGNATURE": "403", "EXPIRED_TOKEN": "403", "MISSING_AUTHENTICATION_TOKEN": "403", "INTEGRATION_FAILURE": "504",
    "INTEGRATION_TIMEOUT": "504", "API_CONFIGURATION_ERROR": "500", "UNSUPPORTED_MEDIA_TYPE": "415",
    "BAD_REQUEST_PARAMETERS": "400", "BAD_REQUEST_BODY": "400", "REQUEST_TOO_LARGE": "413", "THROTTLED": "429",
    "QUOTA_EXCEEDED": "429", "WAF_FILTERED": "403",
}
DEFAULT_TEMPLATE = '{"message":$context.error.messageString}'

# the x-amzn-ErrorType of an error the gateway raised -> its gateway response type (when the raiser named none)
BY_ERROR_TYPE = {
    "MissingAuthenticationTokenException": "MISSING_AUTHENTICATION_TOKEN",
    "AccessDeniedException": "ACCESS_DENIED",
    "UnauthorizedException": "UNAUTHORIZED",
    "AuthorizerConfigurationException": "AUTHORIZER_CONFIGURATION_ERROR",
    "TooManyRequestsException": "THROTTLED",
    "LimitExceededException": "QUOTA_EXCEEDED",
    "IntegrationTimeout": "INTEGRATION_TIMEOUT",
    "InvalidSignatureException": "INVALID_SIGNATURE",
    "IncompleteSignatureException": "INVALID_SIGNATURE",
    "RequestTooLarge": "REQUEST_TOO_LARGE",
    "NotFoundException": "RESOURCE_NOT_FOUND",
}


def default_record(kind: str) -> dict[str, Any]:
    rec: dict[str, Any] = {"responseType": kind, "responseParameters": {}, "responseTemplates": {"application/json": DEFAULT_TEMPLATE},
                           "defaultResponse": True}
    if TYPES[kind] is not None:
        rec["statusCode"] = TYPES[kind]
    return rec


def _check_type(kind: str) -> None:
    if kind not in TYPES:
        raise BadRequestException(f"Invalid gateway response type specified: {kind}. Valid values: {', '.join(TYPES)}")


def _check_status(value: Any) -> str:
    code = str(value)
    if not re.fullmatch(r"[1-5]\d\d", code):
        raise BadRequestException(f"Invalid status code specified: {code}")
    return code


class GatewayResponses:
    def __init__(self, rest: RestApis) -> None:
        self.rest = rest

    def _save(self, doc: dict[str, Any]) -> None:
        self.rest.db.put(API, doc["id"], doc)
        self.rest._changed()

    def put(self, api_id: str, account: str, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        _check_type(kind)
        doc = self.rest.get_api(api_id, account)
        rec: dict[str, Any] = {"responseType": kind, "defaultResponse": False,
                               "responseParameters": dict(params.get("responseParameters") or {}),
                               "responseTemplates": dict(params.get("responseTemplates") or {})}
        if params.get("statusCode") is not None:
            rec["statusCode"] = _check_status(params["statusCode"])
        doc.setdefault("gatewayResponses", {})[kind] = rec
        self._save(doc)
        return rec

    def get(self, api_id: str, account: str, kind: str) -> dict[str, Any]:
        _check_type(kind)
        doc = self.rest.get_api(api_id, account)
        rec: dict[str, Any] | None = (doc.get("gatewayResponses") or {}).get(kind)
        return rec if rec is not None else default_record(kind)

    def list(self, api_id: str, account: str) -> list[dict[str, Any]]:
        custom = self.rest.get_api(api_id, account).get("gatewayResponses") or {}
        return [custom.get(kind) or default_record(kind) for kind in TYPES]

    def update(self, api_id: str, account: str, kind: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        _check_type(kind)
        doc = self.rest.get_api(api_id, account)
        custom = doc.setdefault("gatewayResponses", {})
        rec = dict(custom.get(kind) or default_record(kind))
        rec["defaultResponse"] = False
        for op in ops:
            path, value, action = op.get("path", ""), op.get("value"), op.get("op", "replace")
            if path == "/statusCode":
                if action == "remove" or value is None:
                    rec.pop("statusCode", None)
                else:
                    rec["statusCode"] = _check_status(value)
                continue
            for key in ("responseParameters", "responseTemplates"):
                prefix = f"/{key}/"
                if path.startswith(prefix):
                    target = rec[key] = dict(rec.get(key) or {})
                    name = _unescape(path[len(prefix):])
                    if action == "remove":
                        target.pop(name, None)
                    else:
                        target[name] = "" if value is None else str(value)
                    break
            else:
                raise BadRequestException(f"Invalid patch path {path}")
        custom[kind] = rec
        self._save(doc)
        return rec

    def delete(self, api_id: str, account: str, kind: str) -> None:
        _check_type(kind)
        doc = self.rest.get_api(api_id, account)
        if kind not in (doc.get("gatewayResponses") or {}):
            raise NotFoundException("Invalid Gateway Response type specified")
        del doc["gatewayResponses"][kind]
        self._save(doc)


# --- serving (pure) -----------------------------------------------------------------------------------

_VAR = re.compile(r"\$(!?)\{context\.([\w.]+)\}|\$(!?)context\.(\w+(?:\.\w+)*)")


def render(custom: dict[str, dict[str, Any]], kind: str, status: int, message: str | None,
           context: dict[str, str], lookup: Callable[[str], str | None]) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """The customized answer for an error of ``kind`` (None: nothing customized applies).

    ``context`` holds ``$context.*`` values (``error.message`` and ``error.messageString`` are added);
    ``lookup`` resolves a response parameter's source (``method.request.header.X`` and the like)."""
    fallback = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
    rec = custom.get(kind)
    if rec is not None:
        code = int(rec.get("statusCode") or (custom.get(fallback) or {}).get("statusCode") or status)
    else:
        rec = custom.get(fallback)
        if rec is None:
            return None
        code = int(rec.get("statusCode") or status)
    values = {**context, "error.message": "" if message is None else message,
              "error.messageString": orjson.dumps(message).decode(), "error.responseType": kind}

    def sub(m: re.Match[str]) -> str:
        quiet, name = (m.group(1), m.group(2)) if m.group(2) is not None else (m.group(3), m.group(4))
        if name in values:
            return values[name]
        return "" if quiet else m.group(0)

    templates = rec.get("responseTemplates") or {}
    template = templates.get("application/json")
    if template is None:
        template = next(iter(templates.values()), DEFAULT_TEMPLATE)
    body = _VAR.sub(sub, template).encode()
    headers: list[tuple[str, str]] = []
    for name, source in (rec.get("responseParameters") or {}).items():
        if not name.startswith("gatewayresponse.header."):
            continue
        if len(source) >= 2 and source[0] == source[-1] == "'":
            value: str | None = source[1:-1]
        elif source.startswith("context."):
            value = values.get(source[len("context."):])
        else:
            value = lookup(source)
        if value is not None:
            headers.append((name[len("gatewayresponse.header."):], value))
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.insert(0, ("Content-Type", "application/json"))
    return code, headers, body

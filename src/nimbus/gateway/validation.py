"""Request validation of REST API methods (a method's ``requestValidatorId``), before the integration
runs, as AWS does:

- ``validateRequestParameters``: every ``method.request.{querystring,header,path}.{name}`` the method
  marks required (``true``) must be present and not blank (AWS's words), else 400
  ``Missing required request parameters: [a, b]``;
- ``validateRequestBody``: the body must be JSON conforming to the method's request model for the
  request's Content-Type (``application/json`` when none; the ``$default`` entry otherwise), else 400
  ``Invalid request body``. A method without a model for the type (or the ``Empty`` model) is not checked.

Both answer ``x-amzn-ErrorType: BadRequestException`` and are the gateway responses
``BAD_REQUEST_PARAMETERS`` / ``BAD_REQUEST_BODY``. Only methods with a validator come here.
"""

from __future__ import annotations

from typing import Any

import orjson

from nimbus.gateway import events
from nimbus.gateway.auth import GatewayError
from nimbus.services.apigateway import schema

_SCHEMAS: dict[str, Any] = {}  # schema text -> parsed (bounded)
MAX_CACHED_SCHEMAS = 1024


def _parsed(text: str) -> Any:
    hit = _SCHEMAS.get(text)
    if hit is None:
        try:
            hit = orjson.loads(text)
        except orjson.JSONDecodeError:
            hit = {}
        if len(_SCHEMAS) >= MAX_CACHED_SCHEMAS:
            _SCHEMAS.clear()
        _SCHEMAS[text] = hit
    return hit


def check(view: Any, method: dict[str, Any], req: events.Request, path_params: dict[str, str]) -> None:
    validator = view.validators.get(method["requestValidatorId"])
    if validator is None:
        return
    if validator.get("validateRequestParameters") and method.get("requestParameters"):
        missing = _missing_parameters(method["requestParameters"], req, path_params)
        if missing:
            raise GatewayError(400, f"Missing required request parameters: [{', '.join(missing)}]", error_type="BadRequestException",
                               response_type="BAD_REQUEST_PARAMETERS")
    if validator.get("validateRequestBody") and method.get("requestModels"):
        _check_body(view, method["requestModels"], req)


def _missing_parameters(params: dict[str, Any], req: events.Request, path_params: dict[str, str]) -> list[str]:
    query: dict[str, str] | None = None
    missing: list[str] = []
    for key, required in params.items():
        if not required:
            continue
        where, _, name = key.removeprefix("method.request.").partition(".")
        if where in ("querystring", "multivaluequerystring"):
            if query is None:
                query = dict(events.parse_query(req.raw_query)) if req.raw_query else {}
            present = bool(query.get(name, "").strip())
        elif where in ("header", "multivalueheader"):
            present = bool((req.header(name.lower()) or "").strip())
        elif where == "path":
            present = bool(path_params.get(name))
        else:
            continue
        if not present:
            missing.append(name)
    return missing


def _check_body(view: Any, models: dict[str, str], req: events.Request) -> None:
    ctype = (req.header("content-type") or "application/json").split(";", 1)[0].strip().lower()
    name = models.get(ctype)
    if name is None:
        name = next((v for k, v in models.items() if k.lower() == ctype), None) or models.get("$default")
    if not name or name == "Empty":
        return
    model = view.models.get(name)
    if model is None or not model.get("schema"):
        return
    invalid = GatewayError(400, "Invalid request body", error_type="BadRequestException", response_type="BAD_REQUEST_BODY")
    try:
        value = orjson.loads(req.body or b"")
    except orjson.JSONDecodeError:
        invalid.validation_errors = "[Invalid JSON in the request body]"
        raise invalid from None
    root = _parsed(model["schema"])

    def resolve(ref_name: str) -> dict[str, Any] | None:
        target = view.models.get(ref_name)
        parsed = _parsed(target["schema"]) if target is not None and target.get("schema") else None
        return parsed if isinstance(parsed, dict) else None

    errors = schema.validate(value, root, resolve) if isinstance(root, dict) else []
    if errors:
        invalid.validation_errors = "[" + ", ".join(errors) + "]"
        raise invalid

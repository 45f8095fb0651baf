"""REST API models and request validators (CreateModel, CreateRequestValidator and their kin).

Both live inside their API's document (keys ``models``, by name, and ``requestValidators``, by id),
so they survive restarts and go with the API; a deployment freezes them beside the resources, as AWS
(a changed schema serves after the next CreateDeployment). A new API has AWS's two default models,
``Empty`` and ``Error``. The gateway applies a method's validator (``gateway/validation.py``) with the
JSON-schema subset of ``schema.py``.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from nimbus.services.apigateway import ids
from nimbus.services.apigateway.errors import BadRequestException, ConflictException, NotFoundException
from nimbus.services.apigateway.restapis import API, RestApis

MODEL_ID_LEN = 6
VALIDATOR_ID_LEN = 6
_MODEL_NAME = re.compile(r"[A-Za-z0-9]+")
MODEL_REF_PREFIX = "https://apigateway.amazonaws.com/restapis/"  # a $ref to another model: …/{api}/models/{name}

DEFAULT_MODELS: dict[str, dict[str, str]] = {
    "Empty": {
        "name": "Empty",
        "description": "This is a default empty schema model",
        "contentType": "application/json",
        "schema": '{\n  "$schema": "http://json-schema.org/draft-04/schema#",\n  "title" : "Empty Schema",\n  "type" : "object"\n}',
    },
    "Error": {
        "name": "Error",
        "description": "This is a default error schema model",
        "contentType": "application/json",
        "schema": '{\n  "$schema" : "http://json-schema.org/draft-04/schema#",\n  "title" : "Error Schema",\n  "type" : "object",\n'
                  '  "properties" : {\n    "message" : { "type" : "string" }\n  }\n}',
    },
}


def default_models() -> dict[str, dict[str, Any]]:
    """The models every new REST API starts with (AWS's Empty and Error)."""
    return {name: {"id": ids.new_id(MODEL_ID_LEN), **m} for name, m in DEFAULT_MODELS.items()}


def check_schema(schema: Any) -> None:
    if schema is None or schema == "":
        return
    try:
        parsed = orjson.loads(schema)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise BadRequestException("Invalid model specified: Validation Result: warnings : [], errors : [Invalid model schema specified]")


def _uses(doc: dict[str, Any], name: str) -> str | None:
    """Where a method request or response names the model (``/path/VERB``), if anywhere."""
    for res in doc["resources"].values():
        for verb, method in (res.get("resourceMethods") or {}).items():
            if name in (method.get("requestModels") or {}).values():
                return f"method request: {res['path']}/{verb}"
            for resp in (method.get("methodResponses") or {}).values():
                if name in (resp.get("responseModels") or {}).values():
                    return f"method response: {res['path']}/{verb}"
    return None


class Models:
    def __init__(self, rest: RestApis) -> None:
        self.rest = rest

    def _save(self, doc: dict[str, Any]) -> None:
        self.rest.db.put(API, doc["id"], doc)
        self.rest._changed()

    @staticmethod
    def _get(doc: dict[str, Any], name: str) -> dict[str, Any]:
        model: dict[str, Any] | None = (doc.get("models") or {}).get(name)
        if model is None:
            raise NotFoundException(f"Invalid model name specified: {name}")
        return model

    def create(self, api_id: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.rest.get_api(api_id, account)
        name = params["name"]
        if not _MODEL_NAME.fullmatch(name):
            raise BadRequestException("Invalid model name specified: Model names must be alphanumeric")
        models = doc.setdefault("models", {})
        if name in models:
            raise ConflictException("Model name already exists for this REST API")
        check_schema(params.get("schema"))
        model: dict[str, Any] = {"id": ids.new_id(MODEL_ID_LEN), "name": name, "contentType": params["contentType"]}
        for k in ("description", "schema"):
            if params.get(k) is not None:
                model[k] = params[k]
        models[name] = model
        self._save(doc)
        return model

    def get(self, api_id: str, account: str, name: str, *, flatten: bool = False) -> dict[str, Any]:
        """A model; ``flatten``: its references to other models replaced by their schemas."""
        doc = self.rest.get_api(api_id, account)
        model = self._get(doc, name)
        if not flatten or not model.get("schema"):
            return model
        try:
            schema = orjson.loads(model["schema"])
        except orjson.JSONDecodeError:
            return model
        return {**model, "schema": orjson.dumps(_inline(schema, doc.get("models") or {}, 0)).decode()}

    def list(self, api_id: str, account: str) -> list[dict[str, Any]]:
        return sorted((self.rest.get_api(api_id, account).get("models") or {}).values(), key=lambda m: m["name"])

    def update(self, api_id: str, account: str, name: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        doc = self.rest.get_api(api_id, account)
        model = self._get(doc, name)
        for op in ops:
            path, value, kind = op.get("path", ""), op.get("value"), op.get("op", "replace")
            if path not in ("/schema", "/description") or kind not in ("replace", "add", "remove"):
                raise BadRequestException(f"Invalid patch path {path}")
            if kind == "remove" or value is None:
                model.pop(path[1:], None)
                continue
            if path == "/schema":
                check_schema(value)
            model[path[1:]] = value
        self._save(doc)
        return model

    def delete(self, api_id: str, account: str, name: str) -> None:
        doc = self.rest.get_api(api_id, account)
        self._get(doc, name)
        where = _uses(doc, name)
        if where is not None:
            raise ConflictException(f"Cannot delete model '{name}', is referenced in {where}")
        del doc["models"][name]
        self._save(doc)

    def template(self, api_id: str, account: str, name: str) -> str:
        """GetModelTemplate: a mapping template producing a sample of the model's JSON shape."""
        doc = self.rest.get_api(api_id, account)
        return mapping_template(self._get(doc, name).get("schema"), doc.get("models") or {})


def mapping_template(schema_text: str | None, models: dict[str, Any]) -> str:
    """A mapping template producing a sample of a schema's JSON shape; ``models`` by name, each with its
    ``schema`` text, for the ``$ref``s (also apigatewayv2's GetModelTemplate)."""
    try:
        schema = orjson.loads(schema_text or "{}")
    except orjson.JSONDecodeError:
        schema = {}
    lines = ["#set($inputRoot = $input.path('$'))"]
    lines.extend(_sample(schema if isinstance(schema, dict) else {}, models, 0).splitlines())
    return "\n".join(lines)


def _inline(node: Any, models: dict[str, Any], depth: int) -> Any:
    """A schema with ``$ref``s to the API's models replaced by those models' schemas (GetModel flatten)."""
    if isinstance(node, list):
        return [_inline(v, models, depth) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(MODEL_REF_PREFIX) and depth < 16:
        target = models.get(ref.rsplit("/", 1)[-1])
        if target is not None:
            try:
                inlined = orjson.loads(target.get("schema") or "{}")
            except orjson.JSONDecodeError:
                return node
            if isinstance(inlined, dict):
                inlined.pop("$schema", None)
                return _inline(inlined, models, depth + 1)
    return {k: _inline(v, models, depth) for k, v in node.items()}


def _sample(schema: dict[str, Any], models: dict[str, Any], depth: int) -> str:
    """A JSON text shaped like the schema (AWS's template uses "foo", 42, true and one-item arrays)."""
    pad = "  " * depth
    ref = schema.get("$ref")
    if isinstance(ref, str) and depth < 8:
        target = models.get(ref.rstrip("/").rsplit("/", 1)[-1])
        if target is not None:
            try:
                schema = orjson.loads(target.get("schema") or "{}")
            except orjson.JSONDecodeError:
                schema = {}
    kind = schema.get("type")
    if kind == "array" and depth < 8:
        item = _sample(schema.get("items") if isinstance(schema.get("items"), dict) else {}, models, depth + 1)
        return f"[\n{pad}  {item.lstrip()}\n{pad}]"
    if kind == "string":
        return '"foo"'
    if kind in ("integer", "number"):
        return "42"
    if kind == "boolean":
        return "true"
    props = schema.get("properties")
    if isinstance(props, dict) and props and depth < 8:
        parts = [f'{pad}  "{k}" : {_sample(v if isinstance(v, dict) else {}, models, depth + 1)}' for k, v in props.items()]
        return "{\n" + ",\n".join(parts) + f"\n{pad}}}"
    return "{ }" if kind == "object" or not kind else '"foo"'


class RequestValidators:
    """Create/Get/Update/DeleteRequestValidator, stored in the API document under ``requestValidators``."""

    def __init__(self, rest: RestApis) -> None:
        self.rest = rest

    def _save(self, doc: dict[str, Any]) -> None:
        self.rest.db.put(API, doc["id"], doc)
        self.rest._changed()

    @staticmethod
    def _get(doc: dict[str, Any], validator_id: str) -> dict[str, Any]:
        v: dict[str, Any] | None = (doc.get("requestValidators") or {}).get(validator_id)
        if v is None:
            raise NotFoundException("Invalid Request Validator identifier specified")
        return v

    def create(self, api_id: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.rest.get_api(api_id, account)
        validators = doc.setdefault("requestValidators", {})
        v = {"id": ids.new_id(VALIDATOR_ID_LEN), "name": params.get("name") or "",
             "validateRequestBody": bool(params.get("validateRequestBody", False)),
             "validateRequestParameters": bool(params.get("validateRequestParameters", False))}
        validators[v["id"]] = v
        self._save(doc)
        return v

    def get(self, api_id: str, account: str, validator_id: str) -> dict[str, Any]:
        return self._get(self.rest.get_api(api_id, account), validator_id)

    def list(self, api_id: str, account: str) -> list[dict[str, Any]]:
        return sorted((self.rest.get_api(api_id, account).get("requestValidators") or {}).values(), key=lambda v: v["name"])

    def update(self, api_id: str, account: str, validator_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        doc = self.rest.get_api(api_id, account)
        v = self._get(doc, validator_id)
        for op in ops:
            path, value = op.get("path", ""), op.get("value")
            if path in ("/validateRequestBody", "/validateRequestParameters"):
                v[path[1:]] = str(value).lower() == "true"
            elif path == "/name":
                v["name"] = "" if value is None else str(value)
            else:
                raise BadRequestException(f"Invalid patch path {path}")
        self._save(doc)
        return v

    def delete(self, api_id: str, account: str, validator_id: str) -> None:
        doc = self.rest.get_api(api_id, account)
        self._get(doc, validator_id)
        for res in doc["resources"].values():
            for verb, method in (res.get("resourceMethods") or {}).items():
                if method.get("requestValidatorId") == validator_id:
                    raise ConflictException(f"Cannot delete request validator '{validator_id}', is referenced in method: "
                                            f"{res['path']}/{verb}")
        del doc["requestValidators"][validator_id]
        self._save(doc)

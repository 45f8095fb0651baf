"""apigatewayv2 models (CreateModel & co.): JSON schemas that a WebSocket API's routes name in
``RequestModels`` (and route responses in ``ResponseModels``). AWS supports them only for WebSocket
APIs; an HTTP API's are refused (``BadRequestException``).

They live in their API's document (key ``models``, by ``ModelId``), so they survive restarts and go with
the API. The gateway validates a message against its route's request model with the same JSON-schema
subset as REST APIs (``schema.py``), from the API's current models (like HTTP API authorizers: no
redeployment needed).
"""

from __future__ import annotations

from typing import Any

from nimbus.services.apigateway import ids
from nimbus.services.apigateway.errors import BadRequestException, ConflictException, NotFoundException
from nimbus.services.apigateway.httpapis import HttpApis
from nimbus.services.apigateway.models import _MODEL_NAME, MODEL_ID_LEN, check_schema, mapping_template

MAX_NAME_LEN = 128
FIELDS = ("Name", "ContentType", "Description", "Schema")


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name) or len(name) > MAX_NAME_LEN:
        raise BadRequestException(f"Invalid model name specified: {name}. Model names must be alphanumeric")
    return name


def _check_schema(schema: Any) -> None:
    if not schema:
        raise BadRequestException("Invalid model specified: Schema must not be empty")
    check_schema(schema)


def models_by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An API's models by name, each with its ``schema`` text (what ``schema.py`` and templates resolve)."""
    return {m["Name"]: {"schema": m.get("Schema")} for m in (doc.get("models") or {}).values()}


class WebSocketModels:
    def __init__(self, http: HttpApis) -> None:
        self.http = http

    def _api(self, api_id: str, account: str) -> dict[str, Any]:
        doc = self.http.get_api(api_id, account)
        if doc.get("ProtocolType") != "WEBSOCKET":
            raise BadRequestException("Models are supported only for WebSocket APIs")
        return doc

    @staticmethod
    def _get(doc: dict[str, Any], model_id: str) -> dict[str, Any]:
        model: dict[str, Any] | None = (doc.get("models") or {}).get(model_id)
        if model is None:
            raise NotFoundException(f"Unable to find Model with id '{model_id}'", ResourceType="Model")
        return model

    def create(self, api_id: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self._api(api_id, account)
        name = _check_name(params["Name"])
        models = doc.setdefault("models", {})
        if any(m["Name"] == name for m in models.values()):
            raise ConflictException(f"Unable to create model. Model with name '{name}' already exists for this API")
        _check_schema(params.get("Schema"))
        model_id = ids.new_id(MODEL_ID_LEN)
        while model_id in models:
            model_id = ids.new_id(MODEL_ID_LEN)
        model: dict[str, Any] = {"ModelId": model_id}
        for k in FIELDS:
            if params.get(k) is not None:
                model[k] = params[k]
        models[model_id] = model
        self.http._save(doc)
        return model

    def get(self, api_id: str, account: str, model_id: str) -> dict[str, Any]:
        return self._get(self._api(api_id, account), model_id)

    def list(self, api_id: str, account: str) -> list[dict[str, Any]]:
        return sorted((self._api(api_id, account).get("models") or {}).values(), key=lambda m: m["Name"])

    def update(self, api_id: str, account: str, model_id: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self._api(api_id, account)
        model = dict(self._get(doc, model_id))
        if params.get("Name") is not None and params["Name"] != model["Name"]:
            name = _check_name(params["Name"])
            if any(m["Name"] == name for m in doc["models"].values()):
                raise ConflictException(f"Unable to update model. Model with name '{name}' already exists for this API")
        if params.get("Schema") is not None:
            _check_schema(params["Schema"])
        for k in FIELDS:
            if params.get(k) is not None:
                model[k] = params[k]
        doc["models"][model_id] = model
        self.http._save(doc)
        return model

    def delete(self, api_id: str, account: str, model_id: str) -> None:
        doc = self._api(api_id, account)
        self._get(doc, model_id)
        del doc["models"][model_id]
        self.http._save(doc)

    def template(self, api_id: str, account: str, model_id: str) -> str:
        doc = self._api(api_id, account)
        return mapping_template(self._get(doc, model_id).get("Schema"), models_by_name(doc))


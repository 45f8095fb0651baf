"""REST APIs (API Gateway v1): APIs, resources, methods, integrations, deployments, stages, API keys
and usage plans, as JSON documents in the metadata store.

An API is one document holding its working resource tree; ``CreateDeployment`` freezes a copy of
that tree (what a stage serves), so edits are invisible until redeployed, as on AWS. ``generation``
increases on every write so the gateway can cache what it compiled from a stage.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

from nimbus.services.apigateway import ids
from nimbus.services.apigateway.errors import BadRequestException, ConflictException, NotFoundException

API = "apigw.restapi"  # key: api id
DEPLOYMENT = "apigw.deployment"  # key: api id/deployment id
STAGE = "apigw.stage"  # key: api id/stage name
API_KEY = "apigw.apikey"  # key: key id
USAGE_PLAN = "apigw.usageplan"  # key: plan id
DOC_PART = "apigw.docpart"  # key: api id/part id (documentation.py)
DOC_VERSION = "apigw.docversion"  # key: api id/version

# what a deployment freezes of its API (StageView's fields after the stage, in this order)
DEPLOYED = ("resources", "authorizers", "models", "requestValidators", "gatewayResponses")
HTTP_METHODS = ("ANY", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
INTEGRATION_TYPES = ("AWS", "AWS_PROXY", "HTTP", "HTTP_PROXY", "MOCK")
DEFAULT_TIMEOUT_MS = 29_000  # D.1: 50 ms..29 s, default 29 s


def _patch_number(value: Any, path: str, cast: type = int) -> Any:
    """A patch operation's string value as a number, or BadRequestException (never a ValueError)."""
    try:
        number = cast(str(value))
    except (TypeError, ValueError):
        raise BadRequestException(f"Invalid value '{value}' for patch path {path}: expected a number") from None
    if number != number or number in (float("inf"), float("-inf")):  # NaN, infinities
        raise BadRequestException(f"Invalid value '{value}' for patch path {path}: expected a number")
    return number


@dataclass(slots=True, frozen=True)
class StageView:
    """What the gateway needs to serve one stage of a REST API."""

    api: dict[str, Any]
    stage: dict[str, Any]
    resources: list[dict[str, Any]]
    authorizers: dict[str, dict[str, Any]] = field(default_factory=dict)  # as deployed
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # by name, as deployed
    validators: dict[str, dict[str, Any]] = field(default_factory=dict)  # by id, as deployed
    gateway_responses: dict[str, dict[str, Any]] = field(default_factory=dict)  # customized ones, by type, as deployed


def _unescape(part: str) -> str:
    """JSON-patch paths escape ``/`` as ``~1`` and ``~`` as ``~0``."""
    return part.replace("~1", "/").replace("~0", "~")


class RestApis:
    def __init__(self, metadata: Any) -> None:
        self.db = metadata
        self.generation = 0
        self._views: dict[tuple[str, str], StageView | None] = {}
        self._keys_by_value: dict[str, dict[str, Any]] | None = None
        self._plans: list[dict[str, Any]] | None = None

    def _changed(self) -> None:
        self.generation += 1
        self._views.clear()
        self._keys_by_value = None
        self._plans = None

    # --- APIs ----------------------------------------------------------------------------------

    def create_api(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        api_id = ids.new_id(ids.REST_API_ID_LEN)
        root_id = ids.new_id(ids.RESOURCE_ID_LEN)
        now = time.time()
        doc: dict[str, Any] = {
            "id": api_id,
            "name": params["name"],
            "createdDate": now,
            "apiKeySource": params.get("apiKeySource") or "HEADER",
            "endpointConfiguration": params.get("endpointConfiguration") or {"types": ["EDGE"]},
            "disableExecuteApiEndpoint": bool(params.get("disableExecuteApiEndpoint", False)),
            "rootResourceId": root_id,
            "account": account,
            "region": region,
            "resources": {root_id: {"id": root_id, "path": "/", "resourceMethods": {}}},
        }
        from nimbus.services.apigateway.models import default_models  # models.py builds on this module

        doc["models"] = default_models()
        for k in ("description", "version", "binaryMediaTypes", "minimumCompressionSize", "policy", "tags"):
            if params.get(k) is not None:
                doc[k] = params[k]
        self.db.put(API, api_id, doc)
        self._changed()
        return doc

    def get_api(self, api_id: str, account: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] | None = self.db.get(API, api_id)
        if doc is None or (account is not None and doc["account"] != account):
            raise NotFoundException(f"Invalid API identifier specified {account or ''}:{api_id}")
        if "models" not in doc:  # an API stored before models were recorded gets AWS's defaults, once
            from nimbus.services.apigateway.models import default_models

            doc["models"] = default_models()
            self.db.put(API, api_id, doc)
        return doc

    def list_apis(self, account: str, region: str) -> list[dict[str, Any]]:
        return [d for _, d in self.db.list(API) if d["account"] == account and d["region"] == region]

    def update_api(self, api_id: str, account: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        for op in ops:
            path, value, kind = op.get("path", ""), op.get("value"), op.get("op", "replace")
            if path.startswith("/binaryMediaTypes/"):
                mt = _unescape(path[len("/binaryMediaTypes/"):])
                types = [t for t in doc.get("binaryMediaTypes", []) if t != mt]
                if kind in ("add", "replace"):
                    types.append(mt)
                doc["binaryMediaTypes"] = types
            elif path in ("/name", "/description", "/version", "/apiKeySource", "/policy") and kind in ("replace", "add"):
                doc[path[1:]] = value
            elif path == "/minimumCompressionSize":
                doc["minimumCompressionSize"] = _patch_number(value, path) if value not in (None, "") else None
            elif path == "/disableExecuteApiEndpoint":
                doc["disableExecuteApiEndpoint"] = str(value).lower() == "true"
            else:
                raise BadRequestException(f"Invalid patch path {path}")
        self.db.put(API, api_id, doc)
        self._changed()
        return doc

    def delete_api(self, api_id: str, account: str) -> None:
        self.get_api(api_id, account)
        with self.db.transaction():
            for key, _ in self.db.list(DEPLOYMENT, f"{api_id}/"):
                self.db.delete(DEPLOYMENT, key)
            for kind in (STAGE, DOC_PART, DOC_VERSION):
                for key, _ in self.db.list(kind, f"{api_id}/"):
                    self.db.delete(kind, key)
            self.db.delete(API, api_id)
        self._changed()

    # --- resources -----------------------------------------------------------------------------

    @staticmethod
    def _resource(doc: dict[str, Any], resource_id: str) -> dict[str, Any]:
        res: dict[str, Any] | None = doc["resources"].get(resource_id)
        if res is None:
            raise NotFoundException("Invalid Resource identifier specified")
        return res

    def create_resource(self, api_id: str, account: str, parent_id: str, path_part: str) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        parent = self._resource(doc, parent_id)
        if parent["path"].endswith("+}"):
            raise BadRequestException("Cannot create a child of a resource with a greedy path variable")
        if not path_part or "/" in path_part:
            raise BadRequestException(f"Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace. Got: {path_part}")
        siblings = [r for r in doc["resources"].values() if r.get("parentId") == parent_id]
        for s in siblings:
            if s["pathPart"] == path_part:
                raise ConflictException(f"Another resource with the same parent already has this name: {path_part}")
            if path_part.startswith("{") and s["pathPart"].startswith("{"):
                raise BadRequestException(
                    f"A sibling ({s['pathPart']}) of this resource already has a variable path part -- only one is allowed"
                )
        rid = ids.new_id(ids.RESOURCE_ID_LEN)
        path = ("" if parent["path"] == "/" else parent["path"]) + "/" + path_part
        res = {"id": rid, "parentId": parent_id, "pathPart": path_part, "path": path, "resourceMethods": {}}
        doc["resources"][rid] = res
        self.db.put(API, api_id, doc)
        self._changed()
        return res

    def get_resource(self, api_id: str, account: str, resource_id: str) -> dict[str, Any]:
        return self._resource(self.get_api(api_id, account), resource_id)

    def list_resources(self, api_id: str, account: str) -> list[dict[str, Any]]:
        doc = self.get_api(api_id, account)
        return sorted(doc["resources"].values(), key=lambda r: r["path"])

    def delete_resource(self, api_id: str, account: str, resource_id: str) -> None:
        doc = self.get_api(api_id, account)
        res = self._resource(doc, resource_id)
        if resource_id == doc["rootResourceId"]:
            raise BadRequestException("Cannot delete the root resource")
        prefix = res["path"] + "/"
        for rid in [r["id"] for r in doc["resources"].values() if r["id"] == resource_id or r["path"].startswith(prefix)]:
            del doc["resources"][rid]
        self.db.put(API, api_id, doc)
        self._changed()

    # --- methods and integrations --------------------------------------------------------------

    @staticmethod
    def _method(res: dict[str, Any], http_method: str) -> dict[str, Any]:
        m: dict[str, Any] | None = res["resourceMethods"].get(http_method.upper())
        if m is None:
            raise NotFoundException("Invalid Method identifier specified")
        return m

    def put_method(self, api_id: str, account: str, resource_id: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        res = self._resource(doc, resource_id)
        http_method = params["httpMethod"].upper()
        if http_method not in HTTP_METHODS:
            raise BadRequestException(f"Invalid HttpMethod specified. Valid options are {','.join(HTTP_METHODS)}")
        auth = params["authorizationType"]
        if auth not in ("NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"):
            raise BadRequestException("Invalid authorization type specified. Valid options: NONE, AWS_IAM, CUSTOM, COGNITO_USER_POOLS")
        method: dict[str, Any] = {
            "httpMethod": http_method,
            "authorizationType": auth,
            "apiKeyRequired": bool(params.get("apiKeyRequired", False)),
        }
        for k in ("authorizerId", "operationName", "requestParameters", "requestModels", "requestValidatorId", "authorizationScopes"):
            if params.get(k) is not None:
                method[k] = params[k]
        self._check_authorizer(doc, method)
        self._check_request(doc, method)
        res["resourceMethods"][http_method] = method
        self.db.put(API, api_id, doc)
        self._changed()
        return method

    def get_method(self, api_id: str, account: str, resource_id: str, http_method: str) -> dict[str, Any]:
        return self._method(self.get_resource(api_id, account, resource_id), http_method)

    def update_method(self, api_id: str, account: str, resource_id: str, http_method: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        method = self._method(self._resource(doc, resource_id), http_method)
        for op in ops:
            path, value, kind = op.get("path", ""), op.get("value"), op.get("op", "replace")
            if path == "/apiKeyRequired":
                method["apiKeyRequired"] = str(value).lower() == "true"
            elif path in ("/authorizationType", "/authorizerId", "/operationName", "/requestValidatorId"):
                if kind == "remove" or value in (None, ""):
                    method.pop(path[1:], None)
                else:
                    method[path[1:]] = value
            elif path.startswith("/requestParameters/"):
                params = method.setdefault("requestParameters", {})
                name = _unescape(path[len("/requestParameters/"):])
                if kind == "remove":
                    params.pop(name, None)
                else:
                    params[name] = str(value).lower() == "true"
                if not params:
                    method.pop("requestParameters")
            elif path.startswith("/requestModels/"):
                models = method.setdefault("requestModels", {})
                name = _unescape(path[len("/requestModels/"):])
                if kind == "remove":
                    models.pop(name, None)
                else:
                    models[name] = "" if value is None else str(value)
                if not models:
                    method.pop("requestModels")
            elif path.startswith("/authorizationScopes"):
                scopes = [x for x in method.get("authorizationScopes", []) if x != value]
                method["authorizationScopes"] = scopes + ([str(value)] if kind == "add" and value else [])
            else:
                raise BadRequestException(f"Invalid patch path {path}")
        self._check_authorizer(doc, method)
        self._check_request(doc, method)
        self.db.put(API, api_id, doc)
        self._changed()
        return method

    @staticmethod
    def _check_authorizer(doc: dict[str, Any], method: dict[str, Any]) -> None:
        if method.get("authorizationType") in ("CUSTOM", "COGNITO_USER_POOLS"):
            auth = (doc.get("authorizers") or {}).get(method.get("authorizerId") or "")
            wanted = ("COGNITO_USER_POOLS",) if method["authorizationType"] == "COGNITO_USER_POOLS" else ("TOKEN", "REQUEST")
            if auth is None or auth["type"] not in wanted:
                raise BadRequestException("Invalid authorizer ID specified. Setting the authorization type to CUSTOM or "
                                          "COGNITO_USER_POOLS requires a valid authorizer.")
        else:
            method.pop("authorizerId", None)

    @staticmethod
    def _check_request(doc: dict[str, Any], method: dict[str, Any]) -> None:
        """A method's request validator and request models must exist in the API (BadRequestException)."""
        vid = method.get("requestValidatorId")
        if vid and vid not in (doc.get("requestValidators") or {}):
            raise BadRequestException("Invalid Request Validator identifier specified")
        for name in (method.get("requestModels") or {}).values():
            if name not in (doc.get("models") or {}):
                raise BadRequestException(f"Invalid model identifier specified: {name}")

    def delete_method(self, api_id: str, account: str, resource_id: str, http_method: str) -> None:
        doc = self.get_api(api_id, account)
        res = self._resource(doc, resource_id)
        self._method(res, http_method)
        del res["resourceMethods"][http_method.upper()]
        self.db.put(API, api_id, doc)
        self._changed()

    def put_integration(self, api_id: str, account: str, resource_id: str, http_method: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        method = self._method(self._resource(doc, resource_id), http_method)
        kind = params["type"]
        if kind not in INTEGRATION_TYPES:
            raise BadRequestException(f"Invalid integration type specified: {kind}")
        if kind in ("AWS", "AWS_PROXY", "HTTP", "HTTP_PROXY"):
            if not params.get("uri"):
                raise BadRequestException("Enumeration value for Integration uri must be non-empty")
            if not params.get("integrationHttpMethod"):
                raise BadRequestException("Enumeration value for HttpMethod must be non-empty")
        timeout = params.get("timeoutInMillis") or DEFAULT_TIMEOUT_MS
        if not (50 <= timeout <= DEFAULT_TIMEOUT_MS):
            raise BadRequestException("Timeout should be between 50 ms and 29000 ms")
        integ: dict[str, Any] = {
            "type": kind,
            "passthroughBehavior": params.get("passthroughBehavior") or "WHEN_NO_MATCH",
            "timeoutInMillis": timeout,
            "cacheNamespace": params.get("cacheNamespace") or resource_id,
            "cacheKeyParameters": params.get("cacheKeyParameters") or [],
        }
        if params.get("integrationHttpMethod"):
            integ["httpMethod"] = params["integrationHttpMethod"].upper()
        for k in ("uri", "credentials", "requestParameters", "requestTemplates", "contentHandling", "connectionType", "connectionId"):
            if params.get(k) is not None:
                integ[k] = params[k]
        method["methodIntegration"] = integ
        self.db.put(API, api_id, doc)
        self._changed()
        return integ

    def get_integration(self, api_id: str, account: str, resource_id: str, http_method: str) -> dict[str, Any]:
        method = self.get_method(api_id, account, resource_id, http_method)
        integ: dict[str, Any] | None = method.get("methodIntegration")
        if integ is None:
            raise NotFoundException("Invalid Integration identifier specified")
        return integ

    def delete_integration(self, api_id: str, account: str, resource_id: str, http_method: str) -> None:
        doc = self.get_api(api_id, account)
        method = self._method(self._resource(doc, resource_id), http_method)
        if method.pop("methodIntegration", None) is None:
            raise NotFoundException("Invalid Integration identifier specified")
        self.db.put(API, api_id, doc)
        self._changed()

    def put_method_response(self, api_id: str, account: str, resource_id: str, http_method: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        method = self._method(self._resource(doc, resource_id), http_method)
        resp = {"statusCode": params["statusCode"]}
        for k in ("responseParameters", "responseModels"):
            if params.get(k) is not None:
                resp[k] = params[k]
        method.setdefault("methodResponses", {})[params["statusCode"]] = resp
        self.db.put(API, api_id, doc)
        self._changed()
        return resp

    def put_integration_response(self, api_id: str, account: str, resource_id: str, http_method: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        method = self._method(self._resource(doc, resource_id), http_method)
        integ = method.get("methodIntegration")
        if integ is None:
            raise NotFoundException("Invalid Integration identifier specified")
        resp = {"statusCode": params["statusCode"]}
        for k in ("selectionPattern", "responseParameters", "responseTemplates", "contentHandling"):
            if params.get(k) is not None:
                resp[k] = params[k]
        integ.setdefault("integrationResponses", {})[params["statusCode"]] = resp
        self.db.put(API, api_id, doc)
        self._changed()
        return resp

    # --- deployments and stages ----------------------------------------------------------------

    def create_deployment(self, api_id: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        if not any(r["resourceMethods"] for r in doc["resources"].values()):
            raise BadRequestException("The REST API doesn't contain any methods")
        dep_id = ids.new_id(ids.DEPLOYMENT_ID_LEN)
        dep = {
            "id": dep_id,
            "createdDate": time.time(),
            "resources": copy.deepcopy(list(doc["resources"].values())),
            "authorizers": copy.deepcopy(doc.get("authorizers") or {}),
            "models": copy.deepcopy(doc.get("models") or {}),
            "requestValidators": copy.deepcopy(doc.get("requestValidators") or {}),
            "gatewayResponses": copy.deepcopy(doc.get("gatewayResponses") or {}),
        }
        if params.get("description") is not None:
            dep["description"] = params["description"]
        stage_name = params.get("stageName")
        with self.db.transaction():
            self.db.put(DEPLOYMENT, f"{api_id}/{dep_id}", dep)
            if stage_name:
                stage = self.db.get(STAGE, f"{api_id}/{stage_name}")
                now = time.time()
                if stage is None:
                    stage = {"stageName": stage_name, "createdDate": now, "methodSettings": {}, "tracingEnabled": False,
                             "cacheClusterEnabled": False, "cacheClusterStatus": "NOT_AVAILABLE"}
                    if params.get("stageDescription") is not None:
                        stage["description"] = params["stageDescription"]
                stage["deploymentId"] = dep_id
                stage["lastUpdatedDate"] = now
                if params.get("variables") is not None:
                    stage["variables"] = dict(params["variables"])
                self.db.put(STAGE, f"{api_id}/{stage_name}", stage)
        self._changed()
        return dep

    def get_deployment(self, api_id: str, account: str, dep_id: str) -> dict[str, Any]:
        self.get_api(api_id, account)
        dep: dict[str, Any] | None = self.db.get(DEPLOYMENT, f"{api_id}/{dep_id}")
        if dep is None:
            raise NotFoundException("Invalid Deployment identifier specified")
        return dep

    def list_deployments(self, api_id: str, account: str) -> list[dict[str, Any]]:
        self.get_api(api_id, account)
        return [d for _, d in self.db.list(DEPLOYMENT, f"{api_id}/")]

    def delete_deployment(self, api_id: str, account: str, dep_id: str) -> None:
        self.get_deployment(api_id, account, dep_id)
        if any(s.get("deploymentId") == dep_id for s in self.list_stages(api_id, account)):
            raise BadRequestException("Active stages pointing to this deployment must be moved or deleted")
        self.db.delete(DEPLOYMENT, f"{api_id}/{dep_id}")
        self._changed()

    def create_stage(self, api_id: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        self.get_deployment(api_id, account, params["deploymentId"])
        name = params["stageName"]
        now = time.time()
        stage: dict[str, Any] = {
            "stageName": name,
            "deploymentId": params["deploymentId"],
            "createdDate": now,
            "lastUpdatedDate": now,
            "methodSettings": {},
            "tracingEnabled": bool(params.get("tracingEnabled", False)),
            "cacheClusterEnabled": bool(params.get("cacheClusterEnabled", False)),
            "cacheClusterStatus": "NOT_AVAILABLE",
        }
        for k in ("description", "variables", "tags", "documentationVersion"):
            if params.get(k) is not None:
                stage[k] = params[k]
        if not self.db.insert(STAGE, f"{api_id}/{name}", stage):
            raise ConflictException("Stage already exists")
        self._changed()
        return stage

    def get_stage(self, api_id: str, account: str, name: str) -> dict[str, Any]:
        self.get_api(api_id, account)
        stage: dict[str, Any] | None = self.db.get(STAGE, f"{api_id}/{name}")
        if stage is None:
            raise NotFoundException("Invalid Stage identifier specified")
        return stage

    def list_stages(self, api_id: str, account: str) -> list[dict[str, Any]]:
        self.get_api(api_id, account)
        return [s for _, s in self.db.list(STAGE, f"{api_id}/")]

    def update_stage(self, api_id: str, account: str, name: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        stage = self.get_stage(api_id, account, name)
        for op in ops:
            path, value, kind = op.get("path", ""), op.get("value"), op.get("op", "replace")
            if path.startswith("/variables/"):
                var = _unescape(path[len("/variables/"):])
                variables = stage.setdefault("variables", {})
                if kind == "remove":
                    variables.pop(var, None)
                else:
                    variables[var] = value or ""
            elif path == "/deploymentId":
                self.get_deployment(api_id, account, str(value))
                stage["deploymentId"] = value
            elif path in ("/description", "/documentationVersion"):
                stage[path[1:]] = value
            elif path == "/clientCertificateId":
                from nimbus.services.apigateway.clientcerts import CLIENT_CERT

                if kind == "remove" or not value:
                    stage.pop("clientCertificateId", None)
                elif self.db.get(CLIENT_CERT, str(value)) is None:
                    raise NotFoundException("Invalid Client Certificate identifier specified")
                else:
                    stage["clientCertificateId"] = str(value)
            elif path == "/tracingEnabled":
                stage["tracingEnabled"] = str(value).lower() == "true"
            elif path.startswith("/*/*/") or path.startswith("/~1"):
                continue  # method settings (logging, metrics, stage throttles): accepted, not enforced
            else:
                raise BadRequestException(f"Invalid patch path {path}")
        stage["lastUpdatedDate"] = time.time()
        self.db.put(STAGE, f"{api_id}/{name}", stage)
        self._changed()
        return stage

    def delete_stage(self, api_id: str, account: str, name: str) -> None:
        self.get_stage(api_id, account, name)
        self.db.delete(STAGE, f"{api_id}/{name}")
        self._changed()

    def stage_view(self, api_id: str, stage_name: str) -> StageView | None:
        """The deployed resources a stage serves (cached until the next control-plane write)."""
        k = (api_id, stage_name)
        if k in self._views:
            return self._views[k]
        view = None
        api = self.db.get(API, api_id)
        stage = self.db.get(STAGE, f"{api_id}/{stage_name}") if api is not None else None
        if api is not None and stage is not None:
            dep = self.db.get(DEPLOYMENT, f"{api_id}/{stage['deploymentId']}")
            if dep is not None:
                slim = {k2: v for k2, v in api.items() if k2 not in DEPLOYED}
                # deployments made before a record kind was deployed serve the API's current ones
                deployed = [dep[k2] if k2 in dep else api.get(k2) or {} for k2 in DEPLOYED[1:]]
                view = StageView(slim, stage, dep["resources"], *deployed)
        self._views[k] = view
        return view

    # --- API keys and usage plans ----------------------------------------------------------------

    def create_key(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        value = params.get("value") or ids.new_key_value()
        if len(value) < 20:
            raise BadRequestException("API Key value should be at least 20 characters")
        if any(k["value"] == value for _, k in self.db.list(API_KEY)):
            raise ConflictException("API Key already exists")
        now = time.time()
        key: dict[str, Any] = {
            "id": ids.new_id(ids.API_KEY_ID_LEN),
            "value": value,
            "name": params.get("name") or "",
            "enabled": bool(params.get("enabled", False)),
            "createdDate": now,
            "lastUpdatedDate": now,
            "stageKeys": [f"{s.get('restApiId')}/{s.get('stageName')}" for s in params.get("stageKeys") or []],
            "account": account,
            "region": region,
        }
        for k in ("description", "customerId", "tags"):
            if params.get(k) is not None:
                key[k] = params[k]
        self.db.put(API_KEY, key["id"], key)
        self._changed()
        return key

    def get_key(self, key_id: str, account: str) -> dict[str, Any]:
        key: dict[str, Any] | None = self.db.get(API_KEY, key_id)
        if key is None or key["account"] != account:
            raise NotFoundException("Invalid API Key identifier specified")
        return key

    def list_keys(self, account: str, region: str) -> list[dict[str, Any]]:
        return [k for _, k in self.db.list(API_KEY) if k["account"] == account and k["region"] == region]

    def update_key(self, key_id: str, account: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        key = self.get_key(key_id, account)
        for op in ops:
            path, value = op.get("path", ""), op.get("value")
            if path == "/enabled":
                key["enabled"] = str(value).lower() == "true"
            elif path in ("/name", "/description", "/customerId"):
                key[path[1:]] = value
            else:
                raise BadRequestException(f"Invalid patch path {path}")
        key["lastUpdatedDate"] = time.time()
        self.db.put(API_KEY, key_id, key)
        self._changed()
        return key

    def delete_key(self, key_id: str, account: str) -> None:
        self.get_key(key_id, account)
        with self.db.transaction():
            self.db.delete(API_KEY, key_id)
            for pid, plan in self.db.list(USAGE_PLAN):
                if key_id in plan.get("keys", []):
                    plan["keys"].remove(key_id)
                    self.db.put(USAGE_PLAN, pid, plan)
        self._changed()

    def create_plan(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        plan: dict[str, Any] = {
            "id": ids.new_id(ids.USAGE_PLAN_ID_LEN),
            "name": params["name"],
            "apiStages": params.get("apiStages") or [],
            "keys": [],
            "account": account,
            "region": region,
        }
        for s in plan["apiStages"]:
            if not s.get("apiId") or not s.get("stage"):
                raise BadRequestException("Invalid API Stage specified: apiId and stage are required")
            self.get_stage(s["apiId"], account, s["stage"])
        for k in ("description", "throttle", "quota", "tags"):
            if params.get(k) is not None:
                plan[k] = params[k]
        self.db.put(USAGE_PLAN, plan["id"], plan)
        self._changed()
        return plan

    def get_plan(self, plan_id: str, account: str) -> dict[str, Any]:
        plan: dict[str, Any] | None = self.db.get(USAGE_PLAN, plan_id)
        if plan is None or plan["account"] != account:
            raise NotFoundException("Invalid Usage Plan ID specified")
        return plan

    def list_plans(self, account: str, region: str, key_id: str | None = None) -> list[dict[str, Any]]:
        return [
            p for _, p in self.db.list(USAGE_PLAN)
            if p["account"] == account and p["region"] == region and (key_id is None or key_id in p.get("keys", []))
        ]

    def update_plan(self, plan_id: str, account: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        plan = self.get_plan(plan_id, account)
        for op in ops:
            path, value, kind = op.get("path", ""), op.get("value"), op.get("op", "replace")
            if path == "/apiStages":
                api_id, _, stage = str(value).partition(":")
                stages = [s for s in plan["apiStages"] if (s["apiId"], s["stage"]) != (api_id, stage)]
                if kind == "add":
                    self.get_stage(api_id, account, stage)
                    stages.append({"apiId": api_id, "stage": stage})
                plan["apiStages"] = stages
            elif path in ("/throttle/rateLimit", "/throttle/burstLimit"):
                plan.setdefault("throttle", {})[path.rsplit("/", 1)[1]] = _patch_number(value, path, float if "rate" in path else int)
            elif path in ("/quota/limit", "/quota/offset"):
                plan.setdefault("quota", {"period": "DAY"})[path.rsplit("/", 1)[1]] = _patch_number(value, path)
            elif path == "/quota/period":
                plan.setdefault("quota", {})["period"] = value
            elif path in ("/name", "/description"):
                plan[path[1:]] = value
            else:
                raise BadRequestException(f"Invalid patch path {path}")
        self.db.put(USAGE_PLAN, plan_id, plan)
        self._changed()
        return plan

    def delete_plan(self, plan_id: str, account: str) -> None:
        self.get_plan(plan_id, account)
        self.db.delete(USAGE_PLAN, plan_id)
        self._changed()

    def add_plan_key(self, plan_id: str, account: str, key_id: str, key_type: str) -> dict[str, Any]:
        plan = self.get_plan(plan_id, account)
        if key_type != "API_KEY":
            raise BadRequestException("The only supported key type is API_KEY")
        key = self.get_key(key_id, account)
        if key_id in plan["keys"]:
            raise ConflictException(f"Usage Plan {plan_id} cannot be added because API Key {key_id} cannot reference it")
        plan["keys"].append(key_id)
        self.db.put(USAGE_PLAN, plan_id, plan)
        self._changed()
        return key

    def list_plan_keys(self, plan_id: str, account: str) -> list[dict[str, Any]]:
        plan = self.get_plan(plan_id, account)
        return [k for k in (self.db.get(API_KEY, kid) for kid in plan["keys"]) if k is not None]

    def get_plan_key(self, plan_id: str, account: str, key_id: str) -> dict[str, Any]:
        plan = self.get_plan(plan_id, account)
        if key_id not in plan["keys"]:
            raise NotFoundException("Invalid Usage Plan Key identifier specified")
        return self.get_key(key_id, account)

    def import_keys(self, account: str, region: str, body: bytes, *, fail_on_warnings: bool) -> tuple[list[str], list[str]]:
        """ImportApiKeys (CSV, AWS's API key file format): columns Name and Key (required), Description,
        Enabled (default true), UsagePlanIds (comma-separated, double-quoted when several), any order and
        case; others ignored. A key value already stored is overwritten (same id). A bad row or an unknown
        usage plan is a warning (with ``fail_on_warnings`` nothing is imported). One transaction."""
        import csv
        import io

        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig", "replace"))))
        rows = [r for r in rows if any(c.strip() for c in r)]
        header = [c.strip().lower() for c in rows[0]] if rows else []
        if "name" not in header or "key" not in header:
            raise BadRequestException("Invalid API key file: the Name and Key columns are required")
        existing = {k["value"]: k for k in self.list_keys(account, region)}
        plans = {p["id"]: p for p in self.list_plans(account, region)}
        warnings: list[str] = []
        wanted: list[tuple[dict[str, str], list[str]]] = []
        for n, row in enumerate(rows[1:], start=2):
            rec = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)}
            value, name = rec.get("key", ""), rec.get("name", "")
            if not 20 <= len(value) <= 128 or len(name) > 1024:
                warnings.append(f"Line {n}: the Key must be 20 to 128 characters and the Name at most 1024")
                continue
            plan_ids = [x.strip() for x in rec.get("usageplanids", "").strip("'\"").split(",") if x.strip()]
            unknown = [x for x in plan_ids if x not in plans]
            if unknown:
                warnings.append(f"Line {n}: unknown usage plan(s) {', '.join(unknown)}")
                continue
            wanted.append((rec, plan_ids))
        if warnings and fail_on_warnings:
            raise BadRequestException("Warnings found during import:\n\t" + "\n\t".join(warnings))
        ids_out: list[str] = []
        now = time.time()
        with self.db.transaction():
            for rec, plan_ids in wanted:
                key = existing.get(rec["key"])
                if key is None:
                    key = {"id": ids.new_id(ids.API_KEY_ID_LEN), "value": rec["key"], "createdDate": now, "stageKeys": [],
                           "account": account, "region": region}
                    existing[rec["key"]] = key
                key.update(name=rec["name"], lastUpdatedDate=now, enabled=rec.get("enabled", "true").lower() != "false")
                if rec.get("description"):
                    key["description"] = rec["description"]
                else:
                    key.pop("description", None)
                self.db.put(API_KEY, key["id"], key)
                for plan_id in plan_ids:
                    plan = plans[plan_id]
                    if key["id"] not in plan["keys"]:
                        plan["keys"].append(key["id"])
                        self.db.put(USAGE_PLAN, plan_id, plan)
                ids_out.append(key["id"])
        self._changed()
        return ids_out, warnings

    def remove_plan_key(self, plan_id: str, account: str, key_id: str) -> None:
        plan = self.get_plan(plan_id, account)
        if key_id not in plan["keys"]:
            raise NotFoundException("Invalid API Key identifier specified")
        plan["keys"].remove(key_id)
        self.db.put(USAGE_PLAN, plan_id, plan)
        self._changed()

    # --- data plane lookups ----------------------------------------------------------------------

    def key_by_value(self, value: str) -> dict[str, Any] | None:
        if self._keys_by_value is None:
            self._keys_by_value = {k["value"]: k for _, k in self.db.list(API_KEY)}
        return self._keys_by_value.get(value)

    def plans_for(self, key_id: str, api_id: str, stage: str) -> list[dict[str, Any]]:
        if self._plans is None:
            self._plans = [p for _, p in self.db.list(USAGE_PLAN)]
        return [
            p for p in self._plans
            if key_id in p.get("keys", []) and any(s["apiId"] == api_id and s["stage"] == stage for s in p.get("apiStages", []))
        ]

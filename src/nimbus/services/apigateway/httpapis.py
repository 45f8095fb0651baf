"""HTTP APIs (API Gateway v2, ProtocolType HTTP): APIs with their routes, integrations and stages in
one metadata document each. Quick create (``Target``) makes the integration, the route and an
auto-deploying ``$default`` stage, as AWS does.

Deployments (AWS semantics): a deployment is a frozen copy of the API's routes and integrations, kept in
the API document under ``deployments``. A stage serves the deployment its ``DeploymentId`` names (nothing,
404, until it has one). ``CreateDeployment`` (optionally with ``StageName``) freezes the current routes;
a stage with ``AutoDeploy`` gets a new deployment whenever a route or integration changes, when it is
created and when AutoDeploy is turned on. Auto deployments no stage uses any more are dropped; explicit
ones stay until DeleteDeployment. Documents written before deployments existed get one on first use,
given to every stage without one (they served the current routes).
"""

from __future__ import annotations

import copy
import time
from typing import Any

from nimbus.services.apigateway import ids, wsapis
from nimbus.services.apigateway.errors import BadRequestException, ConflictException, NotFoundException

API = "apigw2.api"  # key: api id

DEFAULT_TIMEOUT_MS = 30_000  # HTTP API integrations: 50 ms..30 s


def lambda_uri_function(uri: str) -> str | None:
    """The function ARN in a Lambda integration URI: a plain function ARN, or API Gateway's
    ``arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{fnArn}/invocations``."""
    if ":lambda:path/" in uri:
        marker = "/functions/"
        start = uri.find(marker)
        if start < 0:
            return None
        rest = uri[start + len(marker):]
        end = rest.find("/invocations")
        return rest[:end] if end >= 0 else rest
    if uri.startswith("arn:") and ":lambda:" in uri and ":function:" in uri:
        return uri
    return None


class HttpApis:
    def __init__(self, metadata: Any) -> None:
        self.db = metadata
        self.generation = 0
        self._cache: dict[str, dict[str, Any] | None] = {}

    def _save(self, doc: dict[str, Any]) -> None:
        self.db.put(API, doc["ApiId"], doc)
        self.generation += 1
        self._cache.clear()

    def create_api(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        protocol = params["ProtocolType"]
        if protocol not in ("HTTP", "WEBSOCKET"):
            raise BadRequestException(f"Invalid ProtocolType {protocol}: HTTP or WEBSOCKET")
        if protocol == "WEBSOCKET":
            wsapis.check_create(params)
        api_id = ids.new_id(ids.HTTP_API_ID_LEN)
        now = time.time()
        doc: dict[str, Any] = {
            "ApiId": api_id,
            "Name": params["Name"],
            "ProtocolType": protocol,
            "CreatedDate": now,
            "RouteSelectionExpression": params.get("RouteSelectionExpression") or "$request.method $request.path",
            "ApiKeySelectionExpression": params.get("ApiKeySelectionExpression") or "$request.header.x-api-key",
            "DisableExecuteApiEndpoint": bool(params.get("DisableExecuteApiEndpoint", False)),
            "Tags": params.get("Tags") or {},
            "account": account,
            "region": region,
            "routes": {},
            "integrations": {},
            "stages": {},
            "deployments": {},
        }
        for k in ("Description", "Version", "CorsConfiguration"):
            if params.get(k) is not None:
                doc[k] = params[k]
        if protocol == "WEBSOCKET":
            doc.pop("DisableExecuteApiEndpoint")  # not an attribute of WebSocket APIs on AWS
            doc["DisableSchemaValidation"] = bool(params.get("DisableSchemaValidation", False))
        target = params.get("Target")
        if target:
            if lambda_uri_function(target) is None:
                raise BadRequestException("Target must be a Lambda function ARN for an HTTP API quick create")
            integ_id = ids.new_id(ids.ROUTE_ID_LEN)
            doc["integrations"][integ_id] = {
                "IntegrationId": integ_id,
                "ApiGatewayManaged": True,
                "ConnectionType": "INTERNET",
                "IntegrationMethod": "POST",
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": target,
                "PayloadFormatVersion": "2.0",
                "TimeoutInMillis": DEFAULT_TIMEOUT_MS,
            }
            if params.get("CredentialsArn"):
                doc["integrations"][integ_id]["CredentialsArn"] = params["CredentialsArn"]
            route_id = ids.new_id(ids.ROUTE_ID_LEN)
            doc["routes"][route_id] = {
                "RouteId": route_id,
                "RouteKey": params.get("RouteKey") or "$default",
                "ApiGatewayManaged": True,
                "ApiKeyRequired": False,
                "AuthorizationType": "NONE",
                "Target": f"integrations/{integ_id}",
            }
            doc["stages"]["$default"] = self._new_stage({"StageName": "$default", "AutoDeploy": True}, managed=True)
            self._auto_deploy(doc)
        self._save(doc)
        return doc

    @staticmethod
    def _new_stage(params: dict[str, Any], managed: bool = False) -> dict[str, Any]:
        now = time.time()
        stage: dict[str, Any] = {
            "StageName": params["StageName"],
            "AutoDeploy": bool(params.get("AutoDeploy", False)),
            "CreatedDate": now,
            "LastUpdatedDate": now,
            "DefaultRouteSettings": params.get("DefaultRouteSettings") or {"DetailedMetricsEnabled": False},
            "RouteSettings": params.get("RouteSettings") or {},
            "StageVariables": params.get("StageVariables") or {},
            "Tags": params.get("Tags") or {},
        }
        if managed:
            stage["ApiGatewayManaged"] = True
        for k in ("Description", "DeploymentId", "AccessLogSettings"):
            if params.get(k) is not None:
                stage[k] = params[k]
        return stage

    def get_api(self, api_id: str, account: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] | None = self.db.get(API, api_id)
        if doc is None or (account is not None and doc["account"] != account):
            raise NotFoundException(f"Invalid API identifier specified {account or ''}:{api_id}", ResourceType="Api")
        return self._upgrade(doc)

    # --- deployments -----------------------------------------------------------------------------

    def _upgrade(self, doc: dict[str, Any]) -> dict[str, Any]:
        """A document from before deployments: its stages served the current routes; freeze those now."""
        if "deployments" not in doc:
            doc["deployments"] = {}
            if doc["stages"]:
                dep = self._snapshot(doc, auto=False, description="routes served before deployments were recorded")
                for stage in doc["stages"].values():
                    stage.setdefault("DeploymentId", dep["DeploymentId"])
        return doc

    @staticmethod
    def _snapshot(doc: dict[str, Any], *, auto: bool, description: str | None = None) -> dict[str, Any]:
        dep_id = ids.new_id(ids.DEPLOYMENT_ID_LEN)
        while dep_id in doc["deployments"]:
            dep_id = ids.new_id(ids.DEPLOYMENT_ID_LEN)
        dep: dict[str, Any] = {
            "DeploymentId": dep_id,
            "DeploymentStatus": "DEPLOYED",
            "CreatedDate": time.time(),
            "AutoDeployed": auto,
            "routes": copy.deepcopy(doc["routes"]),
            "integrations": copy.deepcopy(doc["integrations"]),
        }
        if description is not None:
            dep["Description"] = description
        doc["deployments"][dep_id] = dep
        return dep

    @staticmethod
    def _point(stage: dict[str, Any], dep_id: str) -> None:
        stage["DeploymentId"] = dep_id
        stage["LastDeploymentStatusMessage"] = f"Successfully deployed stage with deployment ID '{dep_id}'"
        stage["LastUpdatedDate"] = time.time()

    def _auto_deploy(self, doc: dict[str, Any], only: str | None = None) -> None:
        """Routes or integrations changed (or a stage turned AutoDeploy on): redeploy the auto stages."""
        stages = [s for name, s in doc["stages"].items() if s.get("AutoDeploy") and (only is None or name == only)]
        if stages:
            dep = self._snapshot(doc, auto=True)
            for stage in stages:
                self._point(stage, dep["DeploymentId"])
        self._prune(doc)

    @staticmethod
    def _prune(doc: dict[str, Any]) -> None:
        used = {s.get("DeploymentId") for s in doc["stages"].values()}
        for dep_id in [d for d, dep in doc["deployments"].items() if dep.get("AutoDeployed") and d not in used]:
            del doc["deployments"][dep_id]

    @staticmethod
    def deployment_out(dep: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in dep.items() if k not in ("routes", "integrations")}

    def get_deployment(self, api_id: str, account: str, dep_id: str) -> dict[str, Any]:
        dep: dict[str, Any] | None = self.get_api(api_id, account)["deployments"].get(dep_id)
        if dep is None:
            raise NotFoundException(f"Unable to find Deployment with id '{dep_id}'", ResourceType="Deployment")
        return dep

    def list_deployments(self, api_id: str, account: str) -> list[dict[str, Any]]:
        return sorted(self.get_api(api_id, account)["deployments"].values(), key=lambda d: d["CreatedDate"])

    def delete_deployment(self, api_id: str, account: str, dep_id: str) -> None:
        doc = self.get_api(api_id, account)
        if dep_id not in doc["deployments"]:
            raise NotFoundException(f"Unable to find Deployment with id '{dep_id}'", ResourceType="Deployment")
        users = [n for n, s in doc["stages"].items() if s.get("DeploymentId") == dep_id]
        if users:
            raise BadRequestException(f"Deployment {dep_id} is used by stage(s) {', '.join(users)}: point them elsewhere or delete them first")
        del doc["deployments"][dep_id]
        self._save(doc)

    def stage_view(self, doc: dict[str, Any], stage: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
        """(deployment id, routes, integrations) the stage serves; None when it has no deployment."""
        dep = self._upgrade(doc)["deployments"].get(stage.get("DeploymentId") or "")
        if dep is None:
            return None
        return dep["DeploymentId"], dep["routes"], dep["integrations"]

    def list_apis(self, account: str, region: str) -> list[dict[str, Any]]:
        return [d for _, d in self.db.list(API) if d["account"] == account and d["region"] == region]

    def update_api(self, api_id: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        for k in ("Name", "Description", "Version", "CorsConfiguration", "DisableExecuteApiEndpoint"):
            if params.get(k) is not None:
                doc[k] = params[k]
        if doc["ProtocolType"] == "WEBSOCKET" and params.get("RouteSelectionExpression") is not None:
            doc["RouteSelectionExpression"] = wsapis.check_selection_expression(params["RouteSelectionExpression"])
        self._save(doc)
        return doc

    def delete_api(self, api_id: str, account: str) -> None:
        self.get_api(api_id, account)
        self.db.delete(API, api_id)
        self.generation += 1
        self._cache.clear()

    # --- routes, integrations, stages ------------------------------------------------------------

    def create_integration(self, api_id: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        kind = params["IntegrationType"]
        websocket = doc["ProtocolType"] == "WEBSOCKET"
        if websocket:
            wsapis.check_integration_type(kind)
        elif kind not in ("AWS_PROXY", "HTTP_PROXY", "MOCK"):
            raise BadRequestException(f"Integration type {kind} is not supported for HTTP APIs")
        version = params.get("PayloadFormatVersion") or ("2.0" if kind == "AWS_PROXY" and not websocket else "1.0")
        if version not in ("1.0", "2.0"):
            raise BadRequestException("PayloadFormatVersion must be 1.0 or 2.0")
        integ_id = ids.new_id(ids.ROUTE_ID_LEN)
        integ: dict[str, Any] = {
            "IntegrationId": integ_id,
            "ConnectionType": params.get("ConnectionType") or "INTERNET",
            "IntegrationMethod": params.get("IntegrationMethod") or "POST",
            "IntegrationType": kind,
            "PayloadFormatVersion": version,
            "TimeoutInMillis": params.get("TimeoutInMillis") or (wsapis.DEFAULT_TIMEOUT_MS if websocket else DEFAULT_TIMEOUT_MS),
        }
        if websocket:
            integ["PassthroughBehavior"] = params.get("PassthroughBehavior") or "WHEN_NO_MATCH"
        for k in ("IntegrationUri", "Description", "CredentialsArn", "RequestParameters", "ResponseParameters",
                  "RequestTemplates", "TemplateSelectionExpression", "ContentHandlingStrategy"):
            if params.get(k) is not None:
                integ[k] = params[k]
        doc["integrations"][integ_id] = integ
        self._auto_deploy(doc)
        self._save(doc)
        return integ

    def get_integration(self, api_id: str, account: str, integ_id: str) -> dict[str, Any]:
        integ: dict[str, Any] | None = self.get_api(api_id, account)["integrations"].get(integ_id)
        if integ is None:
            raise NotFoundException(f"Unable to find Integration with id '{integ_id}'", ResourceType="Integration")
        return integ

    def update_integration(self, api_id: str, account: str, integ_id: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        integ = doc["integrations"].get(integ_id)
        if integ is None:
            raise NotFoundException(f"Unable to find Integration with id '{integ_id}'", ResourceType="Integration")
        if params.get("IntegrationType") is not None and doc["ProtocolType"] == "WEBSOCKET":
            wsapis.check_integration_type(params["IntegrationType"])
        elif params.get("IntegrationType") is not None and params["IntegrationType"] not in ("AWS_PROXY", "HTTP_PROXY", "MOCK"):
            raise BadRequestException(f"Integration type {params['IntegrationType']} is not supported for HTTP APIs")
        if params.get("PayloadFormatVersion") is not None and params["PayloadFormatVersion"] not in ("1.0", "2.0"):
            raise BadRequestException("PayloadFormatVersion must be 1.0 or 2.0")
        for k in ("IntegrationType", "IntegrationUri", "IntegrationMethod", "PayloadFormatVersion", "TimeoutInMillis", "Description",
                  "CredentialsArn", "RequestParameters", "ResponseParameters", "ConnectionType", "RequestTemplates",
                  "TemplateSelectionExpression", "ContentHandlingStrategy", "PassthroughBehavior"):
            if params.get(k) is not None:
                integ[k] = params[k]
        self._auto_deploy(doc)
        self._save(doc)
        return dict(integ)

    def delete_integration(self, api_id: str, account: str, integ_id: str) -> None:
        doc = self.get_api(api_id, account)
        if doc["integrations"].pop(integ_id, None) is None:
            raise NotFoundException(f"Unable to find Integration with id '{integ_id}'", ResourceType="Integration")
        self._auto_deploy(doc)
        self._save(doc)

    def create_route(self, api_id: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        key = params["RouteKey"].strip()
        if doc["ProtocolType"] == "WEBSOCKET":
            wsapis.check_route_key(key)
        elif key != "$default":
            method, _, path = key.partition(" ")
            if not path.startswith("/") or method.upper() not in ("ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
                raise BadRequestException(f"Unable to create route {key}: the route key must be $default or 'METHOD /path'")
        if any(r["RouteKey"] == key for r in doc["routes"].values()):
            raise ConflictException(f"Unable to create route. Route key {key} already exists for this API")
        route_id = ids.new_id(ids.ROUTE_ID_LEN)
        route: dict[str, Any] = {
            "RouteId": route_id,
            "RouteKey": key,
            "ApiKeyRequired": bool(params.get("ApiKeyRequired", False)),
            "AuthorizationType": params.get("AuthorizationType") or "NONE",
        }
        target = params.get("Target")
        if target:
            self._check_target(doc, target)
            route["Target"] = target
        for k in ("OperationName", "AuthorizerId", "AuthorizationScopes", "RequestParameters", "RouteResponseSelectionExpression",
                  "ModelSelectionExpression", "RequestModels"):
            if params.get(k) is not None:
                route[k] = params[k]
        self._check_authorizer(doc, route)
        if doc["ProtocolType"] == "WEBSOCKET":
            wsapis.check_model_names(doc, route.get("RequestModels"), "RequestModels")
        doc["routes"][route_id] = route
        self._auto_deploy(doc)
        self._save(doc)
        return route

    @staticmethod
    def _check_authorizer(doc: dict[str, Any], route: dict[str, Any]) -> None:
        kind = route.get("AuthorizationType") or "NONE"
        if kind not in ("NONE", "AWS_IAM", "CUSTOM", "JWT"):
            raise BadRequestException(f"Invalid AuthorizationType {kind}: NONE, AWS_IAM, CUSTOM or JWT")
        if kind in ("CUSTOM", "JWT"):
            auth_id = route.get("AuthorizerId") or ""
            auth = (doc.get("authorizers") or {}).get(auth_id)
            if auth is None:
                raise NotFoundException(f"Unable to find Authorizer with id '{auth_id}'", ResourceType="Authorizer")
            if (auth["AuthorizerType"] == "JWT") != (kind == "JWT"):
                raise BadRequestException(f"AuthorizationType {kind} does not match the {auth['AuthorizerType']} authorizer {auth_id}")
        else:
            route.pop("AuthorizerId", None)

    @staticmethod
    def _check_target(doc: dict[str, Any], target: str) -> None:
        if not target.startswith("integrations/") or target.split("/", 1)[1] not in doc["integrations"]:
            raise BadRequestException(f"Invalid Target {target}: expected integrations/<IntegrationId> of this API")

    def update_route(self, api_id: str, account: str, route_id: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        route = self._route(doc, route_id)
        if params.get("Target"):
            self._check_target(doc, params["Target"])
        if params.get("RouteKey") is not None and doc["ProtocolType"] == "WEBSOCKET":
            wsapis.check_route_key(params["RouteKey"])
        if doc["ProtocolType"] == "WEBSOCKET":
            wsapis.check_model_names(doc, params.get("RequestModels"), "RequestModels")
        for k in ("RouteKey", "Target", "AuthorizationType", "ApiKeyRequired", "OperationName", "AuthorizerId", "AuthorizationScopes",
                  "RouteResponseSelectionExpression", "ModelSelectionExpression", "RequestModels", "RequestParameters"):
            if params.get(k) is not None:
                route[k] = params[k]
        self._check_authorizer(doc, route)
        self._auto_deploy(doc)
        self._save(doc)
        return route

    @staticmethod
    def _route(doc: dict[str, Any], route_id: str) -> dict[str, Any]:
        route: dict[str, Any] | None = doc["routes"].get(route_id)
        if route is None:
            raise NotFoundException(f"Unable to find Route with id '{route_id}'", ResourceType="Route")
        return route

    def get_route(self, api_id: str, account: str, route_id: str) -> dict[str, Any]:
        return self._route(self.get_api(api_id, account), route_id)

    def delete_route(self, api_id: str, account: str, route_id: str) -> None:
        doc = self.get_api(api_id, account)
        self._route(doc, route_id)
        del doc["routes"][route_id]
        self._auto_deploy(doc)
        self._save(doc)

    def create_stage(self, api_id: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        name = params["StageName"]
        if name in doc["stages"]:
            raise ConflictException(f"Unable to create stage. Stage {name} already exists for this API")
        if params.get("DeploymentId") is not None and params["DeploymentId"] not in doc["deployments"]:
            raise NotFoundException(f"Unable to find Deployment with id '{params['DeploymentId']}'", ResourceType="Deployment")
        stage = self._new_stage(params)
        doc["stages"][name] = stage
        if stage["AutoDeploy"]:
            self._auto_deploy(doc, only=name)
        self._save(doc)
        return stage

    def get_stage(self, api_id: str, account: str, name: str) -> dict[str, Any]:
        stage: dict[str, Any] | None = self.get_api(api_id, account)["stages"].get(name)
        if stage is None:
            raise NotFoundException(f"Unable to find Stage with name '{name}'", ResourceType="Stage")
        return stage

    def update_stage(self, api_id: str, account: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        stage = doc["stages"].get(name)
        if stage is None:
            raise NotFoundException(f"Unable to find Stage with name '{name}'", ResourceType="Stage")
        if params.get("DeploymentId") is not None and params["DeploymentId"] not in doc["deployments"]:
            raise NotFoundException(f"Unable to find Deployment with id '{params['DeploymentId']}'", ResourceType="Deployment")
        was_auto = bool(stage.get("AutoDeploy"))
        for k in ("AutoDeploy", "Description", "StageVariables", "DeploymentId", "DefaultRouteSettings", "RouteSettings", "AccessLogSettings"):
            if params.get(k) is not None:
                stage[k] = params[k]
        stage["LastUpdatedDate"] = time.time()
        if stage.get("AutoDeploy") and not was_auto:
            self._auto_deploy(doc, only=name)
        else:
            self._prune(doc)
        self._save(doc)
        return stage

    def delete_stage(self, api_id: str, account: str, name: str) -> None:
        doc = self.get_api(api_id, account)
        if doc["stages"].pop(name, None) is None:
            raise NotFoundException(f"Unable to find Stage with name '{name}'", ResourceType="Stage")
        self._prune(doc)
        self._save(doc)

    def create_deployment(self, api_id: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        stage_name = params.get("StageName")
        stage = None
        if stage_name:
            stage = doc["stages"].get(stage_name)
            if stage is None:
                raise NotFoundException(f"Unable to find Stage with name '{stage_name}'", ResourceType="Stage")
        dep = self._snapshot(doc, auto=False, description=params.get("Description"))
        if stage is not None:
            self._point(stage, dep["DeploymentId"])
            self._prune(doc)
        self._save(doc)
        return self.deployment_out(dep)

    def update_deployment(self, api_id: str, account: str, dep_id: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        dep = doc["deployments"].get(dep_id)
        if dep is None:
            raise NotFoundException(f"Unable to find Deployment with id '{dep_id}'", ResourceType="Deployment")
        if params.get("Description") is not None:
            dep["Description"] = params["Description"]
        self._save(doc)
        return self.deployment_out(dep)

    # --- the Delete* operations of single settings ------------------------------------------------------

    def delete_cors(self, api_id: str, account: str) -> None:
        """DeleteCorsConfiguration: CORS applies from the current API, so no redeployment is needed."""
        doc = self.get_api(api_id, account)
        if doc.pop("CorsConfiguration", None) is not None:
            self._save(doc)

    def _stage(self, doc: dict[str, Any], name: str) -> dict[str, Any]:
        stage: dict[str, Any] | None = doc["stages"].get(name)
        if stage is None:
            raise NotFoundException(f"Unable to find Stage with name '{name}'", ResourceType="Stage")
        return stage

    def delete_access_log_settings(self, api_id: str, account: str, stage_name: str) -> None:
        doc = self.get_api(api_id, account)
        stage = self._stage(doc, stage_name)
        if stage.pop("AccessLogSettings", None) is not None:
            stage["LastUpdatedDate"] = time.time()
            self._save(doc)

    def delete_route_settings(self, api_id: str, account: str, stage_name: str, route_key: str) -> None:
        doc = self.get_api(api_id, account)
        stage = self._stage(doc, stage_name)
        if (stage.get("RouteSettings") or {}).pop(route_key, None) is None:
            raise NotFoundException(f"Unable to find RouteSettings for route key '{route_key}' in stage '{stage_name}'",
                                    ResourceType="RouteSettings")
        stage["LastUpdatedDate"] = time.time()
        self._save(doc)

    def delete_route_request_parameter(self, api_id: str, account: str, route_id: str, key: str) -> None:
        doc = self.get_api(api_id, account)
        route = self._route(doc, route_id)
        params = route.get("RequestParameters") or {}
        if params.pop(key, None) is None:
            raise NotFoundException(f"Unable to find RequestParameter with key '{key}' on route '{route_id}'",
                                    ResourceType="RequestParameter")
        if not params:
            route.pop("RequestParameters", None)
        self._auto_deploy(doc)
        self._save(doc)

    def check_stage(self, api_id: str, account: str, stage_name: str) -> dict[str, Any]:
        """The API's document, once its stage is known to exist (NotFoundException otherwise)."""
        doc = self.get_api(api_id, account)
        self._stage(doc, stage_name)
        return doc

    # --- route responses (WebSocket APIs) ------------------------------------------------------------
    # Kept inside their route (key "responses"), so a deployment's snapshot of the routes freezes them too.

    def create_route_response(self, api_id: str, account: str, route_id: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        route = self._route(doc, route_id)
        wsapis.check_model_names(doc, params.get("ResponseModels"), "ResponseModels")
        responses = route.setdefault("responses", {})
        out = wsapis.new_route_response(params, responses)
        responses[out["RouteResponseId"]] = out
        self._auto_deploy(doc)
        self._save(doc)
        return out

    def route_responses(self, api_id: str, account: str, route_id: str) -> list[dict[str, Any]]:
        return list((self._route(self.get_api(api_id, account), route_id).get("responses") or {}).values())

    def get_route_response(self, api_id: str, account: str, route_id: str, response_id: str) -> dict[str, Any]:
        found: dict[str, Any] | None = (self._route(self.get_api(api_id, account), route_id).get("responses") or {}).get(response_id)
        if found is None:
            raise NotFoundException(f"Unable to find RouteResponse with id '{response_id}'", ResourceType="RouteResponse")
        return found

    def update_route_response(self, api_id: str, account: str, route_id: str, response_id: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        found = (self._route(doc, route_id).get("responses") or {}).get(response_id)
        if found is None:
            raise NotFoundException(f"Unable to find RouteResponse with id '{response_id}'", ResourceType="RouteResponse")
        wsapis.check_model_names(doc, params.get("ResponseModels"), "ResponseModels")
        for k in ("RouteResponseKey", "ModelSelectionExpression", "ResponseModels", "ResponseParameters"):
            if params.get(k) is not None:
                found[k] = params[k]
        if found["RouteResponseKey"] != "$default":
            raise BadRequestException("Only the $default route response is supported for WebSocket APIs")
        self._auto_deploy(doc)
        self._save(doc)
        return dict(found)

    def delete_route_response(self, api_id: str, account: str, route_id: str, response_id: str) -> None:
        doc = self.get_api(api_id, account)
        if (self._route(doc, route_id).get("responses") or {}).pop(response_id, None) is None:
            raise NotFoundException(f"Unable to find RouteResponse with id '{response_id}'", ResourceType="RouteResponse")
        self._auto_deploy(doc)
        self._save(doc)

    # --- integration responses (WebSocket APIs) ---------------------------------------------------------
    # Kept inside their integration (key "responses"), so a deployment's snapshot freezes them too.

    def _integration_responses(self, doc: dict[str, Any], integ_id: str) -> dict[str, Any]:
        if doc["ProtocolType"] != "WEBSOCKET":
            raise BadRequestException("Integration responses are supported only for WebSocket APIs")
        integ = doc["integrations"].get(integ_id)
        if integ is None:
            raise NotFoundException(f"Unable to find Integration with id '{integ_id}'", ResourceType="Integration")
        responses: dict[str, Any] = integ.setdefault("responses", {})
        return responses

    @staticmethod
    def _integration_response(responses: dict[str, Any], response_id: str) -> dict[str, Any]:
        found: dict[str, Any] | None = responses.get(response_id)
        if found is None:
            raise NotFoundException(f"Unable to find IntegrationResponse with id '{response_id}'", ResourceType="IntegrationResponse")
        return found

    def create_integration_response(self, api_id: str, account: str, integ_id: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        responses = self._integration_responses(doc, integ_id)
        out = wsapis.new_integration_response(params, responses)
        responses[out["IntegrationResponseId"]] = out
        self._auto_deploy(doc)
        self._save(doc)
        return out

    def integration_responses(self, api_id: str, account: str, integ_id: str) -> list[dict[str, Any]]:
        return sorted(self._integration_responses(self.get_api(api_id, account), integ_id).values(),
                      key=lambda r: r["IntegrationResponseKey"])

    def get_integration_response(self, api_id: str, account: str, integ_id: str, response_id: str) -> dict[str, Any]:
        return self._integration_response(self._integration_responses(self.get_api(api_id, account), integ_id), response_id)

    def update_integration_response(self, api_id: str, account: str, integ_id: str, response_id: str,
                                    params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_api(api_id, account)
        responses = self._integration_responses(doc, integ_id)
        found = self._integration_response(responses, response_id)
        key = params.get("IntegrationResponseKey")
        if key is not None and key != found["IntegrationResponseKey"]:
            wsapis.check_integration_response_key(key)
            if any(r["IntegrationResponseKey"] == key for r in responses.values()):
                raise ConflictException(f"Unable to update integration response. Integration response key {key} already exists "
                                        "for this integration")
        for k in wsapis.INTEGRATION_RESPONSE_FIELDS:
            if params.get(k) is not None:
                found[k] = params[k]
        self._auto_deploy(doc)
        self._save(doc)
        return dict(found)

    def delete_integration_response(self, api_id: str, account: str, integ_id: str, response_id: str) -> None:
        doc = self.get_api(api_id, account)
        responses = self._integration_responses(doc, integ_id)
        self._integration_response(responses, response_id)
        del responses[response_id]
        self._auto_deploy(doc)
        self._save(doc)

    # --- data plane --------------------------------------------------------------------------------

    def serving(self, api_id: str) -> dict[str, Any] | None:
        if api_id in self._cache:
            return self._cache[api_id]
        doc = self.db.get(API, api_id)
        self._cache[api_id] = doc
        return doc

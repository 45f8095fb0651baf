"""``apigatewayv2`` (HTTP APIs) operation handlers: parsed input -> HttpApis engine -> output shape."""

from __future__ import annotations

from typing import Any

from nimbus.services.apigateway.api import execute_api_url
from nimbus.services.apigateway.domains import v2_domain, v2_mapping
from nimbus.services.apigateway.engine import ApiGatewayEngine, engine_of
from nimbus.services.apigateway.errors import BadRequestException, NotFoundException
from nimbus.services.apigateway.vpclinks import v2_out as vpc_link_out
from nimbus.services.base import RequestContext

Ctx = RequestContext
Out = dict[str, Any]
_API_INTERNAL = ("account", "region", "routes", "integrations", "stages", "deployments", "authorizers", "models")


def _page(items: list[Any], params: dict[str, Any]) -> Out:
    start = int(params["NextToken"]) if str(params.get("NextToken") or "").isdigit() else 0
    limit = int(params["MaxResults"]) if str(params.get("MaxResults") or "").isdigit() else 100
    out: Out = {"Items": items[start:start + limit]}
    if start + limit < len(items):
        out["NextToken"] = str(start + limit)
    return out


class ApiGatewayV2Api:
    def __init__(self, engine: ApiGatewayEngine) -> None:
        self.engine = engine
        self.http = engine.http
        self.authorizers = engine.http_authorizers
        self.domains = engine.domains

    async def create_authorizer(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.authorizers.create(params["ApiId"], ctx.account_id, params)

    async def get_authorizer(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.authorizers.get(params["ApiId"], ctx.account_id, params["AuthorizerId"])

    async def get_authorizers(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _page(self.authorizers.list(params["ApiId"], ctx.account_id), params)

    async def update_authorizer(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.authorizers.update(params["ApiId"], ctx.account_id, params["AuthorizerId"], params)

    async def delete_authorizer(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.authorizers.delete(params["ApiId"], ctx.account_id, params["AuthorizerId"])
        return {}

    @staticmethod
    def _api_out(ctx: Ctx, doc: dict[str, Any]) -> Out:
        out = {k: v for k, v in doc.items() if k not in _API_INTERNAL}
        out["ApiEndpoint"] = execute_api_url(ctx, doc["ApiId"], None)
        if doc.get("ProtocolType") == "WEBSOCKET":  # ws://{api}.execute-api.localhost:{port} (AWS: wss://…amazonaws.com)
            out["ApiEndpoint"] = "ws://" + out["ApiEndpoint"].split("://", 1)[1]
        return out

    async def create_api(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self._api_out(ctx, self.http.create_api(ctx.account_id, ctx.region, params))

    async def get_api(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self._api_out(ctx, self.http.get_api(params["ApiId"], ctx.account_id))

    async def get_apis(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        docs = sorted(self.http.list_apis(ctx.account_id, ctx.region), key=lambda d: d["CreatedDate"])
        return _page([self._api_out(ctx, d) for d in docs], params)

    async def update_api(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self._api_out(ctx, self.http.update_api(params["ApiId"], ctx.account_id, params))

    async def delete_api(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        api_id = params["ApiId"]
        self.http.get_api(api_id, ctx.account_id)  # NotFoundException first
        if self.domains.mapped_to(ctx.account_id, api_id):
            raise BadRequestException(f"Deleting API {api_id} failed. Please remove all API mappings for the API "
                                      "from your custom domain names.")
        self.http.delete_api(api_id, ctx.account_id)
        return {}

    async def import_api(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        from nimbus.services.apigateway.openapi import import_http_api

        return self._api_out(ctx, import_http_api(self.http, self.authorizers, ctx.account_id, ctx.region, params))

    async def reimport_api(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        from nimbus.services.apigateway.openapi import reimport_http_api

        return self._api_out(ctx, reimport_http_api(self.http, self.authorizers, ctx.account_id, params["ApiId"], params))

    async def create_route(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.create_route(params["ApiId"], ctx.account_id, params)

    async def get_route(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.get_route(params["ApiId"], ctx.account_id, params["RouteId"])

    async def get_routes(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _page(list(self.http.get_api(params["ApiId"], ctx.account_id)["routes"].values()), params)

    async def update_route(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.update_route(params["ApiId"], ctx.account_id, params["RouteId"], params)

    async def delete_route(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.http.delete_route(params["ApiId"], ctx.account_id, params["RouteId"])
        return {}

    async def create_route_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.create_route_response(params["ApiId"], ctx.account_id, params["RouteId"], params)

    async def get_route_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.get_route_response(params["ApiId"], ctx.account_id, params["RouteId"], params["RouteResponseId"])

    async def get_route_responses(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _page(self.http.route_responses(params["ApiId"], ctx.account_id, params["RouteId"]), params)

    async def update_route_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.update_route_response(params["ApiId"], ctx.account_id, params["RouteId"], params["RouteResponseId"], params)

    async def delete_route_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.http.delete_route_response(params["ApiId"], ctx.account_id, params["RouteId"], params["RouteResponseId"])
        return {}

    async def create_integration(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.create_integration(params["ApiId"], ctx.account_id, params)

    async def get_integration(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.get_integration(params["ApiId"], ctx.account_id, params["IntegrationId"])

    async def get_integrations(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _page(list(self.http.get_api(params["ApiId"], ctx.account_id)["integrations"].values()), params)

    async def update_integration(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.update_integration(params["ApiId"], ctx.account_id, params["IntegrationId"], params)

    async def delete_integration(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.http.delete_integration(params["ApiId"], ctx.account_id, params["IntegrationId"])
        return {}

    async def create_stage(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.create_stage(params["ApiId"], ctx.account_id, params)

    async def get_stage(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.get_stage(params["ApiId"], ctx.account_id, params["StageName"])

    async def get_stages(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _page(list(self.http.get_api(params["ApiId"], ctx.account_id)["stages"].values()), params)

    async def update_stage(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.update_stage(params["ApiId"], ctx.account_id, params["StageName"], params)

    async def delete_stage(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.http.delete_stage(params["ApiId"], ctx.account_id, params["StageName"])
        return {}

    async def create_deployment(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.create_deployment(params["ApiId"], ctx.account_id, params)

    async def get_deployment(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.deployment_out(self.http.get_deployment(params["ApiId"], ctx.account_id, params["DeploymentId"]))

    async def get_deployments(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _page([self.http.deployment_out(d) for d in self.http.list_deployments(params["ApiId"], ctx.account_id)], params)

    async def delete_deployment(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.http.delete_deployment(params["ApiId"], ctx.account_id, params["DeploymentId"])
        return {}

    async def update_deployment(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.update_deployment(params["ApiId"], ctx.account_id, params["DeploymentId"], params)

    # --- single settings, the authorizer cache, export ------------------------------------------------

    async def delete_cors_configuration(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.http.delete_cors(params["ApiId"], ctx.account_id)
        return {}

    async def delete_access_log_settings(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.http.delete_access_log_settings(params["ApiId"], ctx.account_id, params["StageName"])
        return {}

    async def delete_route_settings(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.http.delete_route_settings(params["ApiId"], ctx.account_id, params["StageName"], params["RouteKey"])
        return {}

    async def delete_route_request_parameter(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.http.delete_route_request_parameter(params["ApiId"], ctx.account_id, params["RouteId"], params["RequestParameterKey"])
        return {}

    async def reset_authorizers_cache(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.http.check_stage(params["ApiId"], ctx.account_id, params["StageName"])
        self.engine.authorizer_cache.flush(params["ApiId"], params["StageName"])
        return {}

    async def export_api(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        from nimbus.services.apigateway import openapi

        doc = self.http.get_api(params["ApiId"], ctx.account_id)
        if doc.get("ProtocolType") != "HTTP":
            raise BadRequestException("Only HTTP APIs can be exported")
        if params["Specification"] != "OAS30":
            raise BadRequestException(f"Invalid Specification {params['Specification']}: OAS30")
        if params["OutputType"] not in ("JSON", "YAML"):
            raise BadRequestException(f"Invalid OutputType {params['OutputType']}: JSON or YAML")
        if params.get("ExportVersion") not in (None, "1.0"):
            raise BadRequestException(f"Invalid ExportVersion {params['ExportVersion']}: 1.0")
        stage_name = params.get("StageName")
        routes, integrations = doc["routes"], doc["integrations"]
        if stage_name:
            stage = doc["stages"].get(stage_name)
            if stage is None:
                raise NotFoundException(f"Unable to find Stage with name '{stage_name}'", ResourceType="Stage")
            view = self.http.stage_view(doc, stage)
            if view is None:
                raise NotFoundException(f"Stage '{stage_name}' has no deployment to export", ResourceType="Deployment")
            _, routes, integrations = view
        include = params.get("IncludeExtensions")
        out = openapi.export_http_api(doc, routes, integrations, stage=stage_name or None, include_extensions=include is None or bool(include),
                                      server_url=execute_api_url(ctx, doc["ApiId"], None))
        body, _ = openapi.dump(out, "yaml" if params["OutputType"] == "YAML" else None)
        return {"body": body}

    # --- integration responses (WebSocket APIs) ---------------------------------------------------------

    async def create_integration_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.create_integration_response(params["ApiId"], ctx.account_id, params["IntegrationId"], params)

    async def get_integration_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.get_integration_response(params["ApiId"], ctx.account_id, params["IntegrationId"],
                                                  params["IntegrationResponseId"])

    async def get_integration_responses(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _page(self.http.integration_responses(params["ApiId"], ctx.account_id, params["IntegrationId"]), params)

    async def update_integration_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.http.update_integration_response(params["ApiId"], ctx.account_id, params["IntegrationId"],
                                                     params["IntegrationResponseId"], params)

    async def delete_integration_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.http.delete_integration_response(params["ApiId"], ctx.account_id, params["IntegrationId"], params["IntegrationResponseId"])
        return {}

    # --- models (WebSocket APIs: wsmodels.py) ------------------------------------------------------------

    async def create_model(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.ws_models.create(params["ApiId"], ctx.account_id, params)

    async def get_model(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.ws_models.get(params["ApiId"], ctx.account_id, params["ModelId"])

    async def get_models(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _page(self.engine.ws_models.list(params["ApiId"], ctx.account_id), params)

    async def update_model(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.ws_models.update(params["ApiId"], ctx.account_id, params["ModelId"], params)

    async def delete_model(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.ws_models.delete(params["ApiId"], ctx.account_id, params["ModelId"])
        return {}

    async def get_model_template(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return {"Value": self.engine.ws_models.template(params["ApiId"], ctx.account_id, params["ModelId"])}

    # --- custom domain names and API mappings (shared with apigateway's domain names) -----------------

    async def create_domain_name(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return v2_domain(self.domains.create_v2(ctx.account_id, ctx.region, params))

    async def get_domain_name(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return v2_domain(self.domains.get(ctx.account_id, ctx.region, params["DomainName"]))

    async def get_domain_names(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _page([v2_domain(d) for d in self.domains.list(ctx.account_id, ctx.region)], params)

    async def update_domain_name(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return v2_domain(self.domains.update_v2(ctx.account_id, ctx.region, params["DomainName"], params))

    async def delete_domain_name(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.domains.delete(ctx.account_id, ctx.region, params["DomainName"])
        return {}

    async def create_api_mapping(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return v2_mapping(self.domains.create_api_mapping(ctx.account_id, ctx.region, params["DomainName"], params))

    async def get_api_mapping(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return v2_mapping(self.domains.get_api_mapping(ctx.account_id, ctx.region, params["DomainName"], params["ApiMappingId"]))

    async def get_api_mappings(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _page([v2_mapping(m) for m in self.domains.list_mappings(ctx.account_id, ctx.region, params["DomainName"])], params)

    async def update_api_mapping(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return v2_mapping(self.domains.update_api_mapping(ctx.account_id, ctx.region, params["DomainName"], params["ApiMappingId"], params))

    async def delete_api_mapping(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.domains.delete_api_mapping(ctx.account_id, ctx.region, params["DomainName"], params["ApiMappingId"])
        return {}

    # --- routing rules of custom domain names (routingrules.py) --------------------------------------------

    @staticmethod
    def _rule_out(rule: dict[str, Any]) -> Out:
        return dict(rule)

    async def create_routing_rule(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self._rule_out(self.engine.routing_rules.create(ctx.account_id, ctx.region, params["DomainName"], params))

    async def get_routing_rule(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self._rule_out(self.engine.routing_rules.get(ctx.account_id, ctx.region, params["DomainName"], params["RoutingRuleId"]))

    async def list_routing_rules(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        page = _page(self.engine.routing_rules.list(ctx.account_id, ctx.region, params["DomainName"]), params)
        out: Out = {"RoutingRules": [self._rule_out(r) for r in page["Items"]]}
        if page.get("NextToken"):
            out["NextToken"] = page["NextToken"]
        return out

    async def put_routing_rule(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self._rule_out(self.engine.routing_rules.put(ctx.account_id, ctx.region, params["DomainName"], params["RoutingRuleId"],
                                                            params))

    async def delete_routing_rule(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.routing_rules.delete(ctx.account_id, ctx.region, params["DomainName"], params["RoutingRuleId"])
        return {}

    # --- tags (every taggable resource of both APIs, by ARN: tagging.py) -----------------------------

    async def tag_resource(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.tags.tag(ctx.account_id, ctx.region, params["ResourceArn"], params.get("Tags") or {})
        return {}

    async def untag_resource(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.tags.untag(ctx.account_id, ctx.region, params["ResourceArn"], params["TagKeys"])
        return {}

    async def get_tags(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return {"Tags": self.engine.tags.get(ctx.account_id, ctx.region, params["ResourceArn"])}

    # --- VPC links (recorded only: vpclinks.py) ---------------------------------------------------------

    async def create_vpc_link(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return vpc_link_out(self.engine.vpclinks.create_v2(ctx.account_id, ctx.region, params))

    async def get_vpc_link(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return vpc_link_out(self.engine.vpclinks.get_v2(ctx.account_id, ctx.region, params["VpcLinkId"]))

    async def get_vpc_links(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _page([vpc_link_out(d) for d in self.engine.vpclinks.list_v2(ctx.account_id, ctx.region)], params)

    async def update_vpc_link(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return vpc_link_out(self.engine.vpclinks.update_v2(ctx.account_id, ctx.region, params["VpcLinkId"], params))

    async def delete_vpc_link(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.vpclinks.delete_v2(ctx.account_id, ctx.region, params["VpcLinkId"])
        return {}


def build(core: Any) -> ApiGatewayV2Api:
    return ApiGatewayV2Api(engine_of(core))

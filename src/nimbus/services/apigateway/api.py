"""``apigateway`` (REST APIs) operation handlers: parsed input -> RestApis engine -> output shape.

Also ``FunctionUrlApi``: the Lambda API's *FunctionUrlConfig operations, to which the Lambda
service's Api delegates (they are Lambda operations; their state lives beside the gateway's).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

from nimbus.services.apigateway.clientcerts import cert_out
from nimbus.services.apigateway.documentation import part_out, version_out
from nimbus.services.apigateway.domains import v1_mapping
from nimbus.services.apigateway.engine import METHOD_TESTER, ApiGatewayEngine, MethodTester, engine_of
from nimbus.services.apigateway.errors import BadRequestException, NotFoundException
from nimbus.services.apigateway.vpclinks import v1_out as vpc_link_out
from nimbus.services.base import RequestContext

Ctx = RequestContext
Out = dict[str, Any]

_INTERNAL = ("account", "region", "resources", "keys", "authorizers", "models", "requestValidators", "gatewayResponses", "mappings", "rules")
_DEPLOYMENT_INTERNAL = ("resources", "authorizers", "models", "requestValidators", "gatewayResponses")


def _public(doc: dict[str, Any]) -> Out:
    return {k: v for k, v in doc.items() if k not in _INTERNAL}


def _resource_out(res: dict[str, Any]) -> Out:
    out = {k: v for k, v in res.items() if k != "resourceMethods"}
    if res.get("resourceMethods"):
        out["resourceMethods"] = res["resourceMethods"]
    return out


def _page(items: list[Any], params: dict[str, Any], default_limit: int = 25, max_limit: int = 500) -> tuple[list[Any], str | None]:
    start = int(params.get("position") or 0) if str(params.get("position") or "0").isdigit() else 0
    limit = min(int(params.get("limit") or default_limit), max_limit)
    page = items[start:start + limit]
    nxt = str(start + limit) if start + limit < len(items) else None
    return page, nxt


def endpoint_port(ctx: Ctx) -> str:
    """The port the caller reached Nimbus on (execute-api and lambda-url hosts use the same one)."""
    parts = urlsplit(ctx.endpoint_url)
    return f":{parts.port}" if parts.port else ""


def execute_api_url(ctx: Ctx, api_id: str, stage: str | None) -> str:
    base = f"http://{api_id}.execute-api.localhost{endpoint_port(ctx)}"
    return f"{base}/{stage}" if stage and stage != "$default" else base


class ApiGatewayApi:
    def __init__(self, engine: ApiGatewayEngine, core: Any = None) -> None:
        self.engine = engine
        self.core = core
        self.rest = engine.rest
        self.authorizers = engine.rest_authorizers

    # --- authorizers -----------------------------------------------------------------------------

    async def create_authorizer(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.authorizers.create(params["restApiId"], ctx.account_id, params)

    async def get_authorizer(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.authorizers.get(params["restApiId"], ctx.account_id, params["authorizerId"])

    async def get_authorizers(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        page, nxt = _page(self.authorizers.list(params["restApiId"], ctx.account_id), params)
        return {"items": page, "position": nxt}

    async def update_authorizer(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.authorizers.update(params["restApiId"], ctx.account_id, params["authorizerId"], params.get("patchOperations") or [])

    async def delete_authorizer(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.authorizers.delete(params["restApiId"], ctx.account_id, params["authorizerId"])
        return {}

    async def test_invoke_authorizer(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        from nimbus.services.apigateway.testinvoke import test_invoke_authorizer

        api = self.rest.get_api(params["restApiId"], ctx.account_id)
        auth = self.authorizers.get(params["restApiId"], ctx.account_id, params["authorizerId"])
        return await test_invoke_authorizer(self.core, api, auth, params)

    # --- REST APIs -------------------------------------------------------------------------------

    async def create_rest_api(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _public(self.rest.create_api(ctx.account_id, ctx.region, params))

    async def get_rest_api(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _public(self.rest.get_api(params["restApiId"], ctx.account_id))

    async def get_rest_apis(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        items = sorted(self.rest.list_apis(ctx.account_id, ctx.region), key=lambda d: d["createdDate"])
        page, nxt = _page(items, params)
        return {"items": [_public(d) for d in page], "position": nxt}

    async def update_rest_api(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _public(self.rest.update_api(params["restApiId"], ctx.account_id, params.get("patchOperations") or []))

    async def delete_rest_api(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        api_id = params["restApiId"]
        self.rest.get_api(api_id, ctx.account_id)  # NotFoundException first
        mapped = self.engine.domains.mapped_to(ctx.account_id, api_id)
        if mapped:
            raise BadRequestException(f"Deleting RestApi {api_id} failed. Please remove all base path mappings "
                                      f"related to the RestApi in your domains: {', '.join(mapped)}")
        self.rest.delete_api(api_id, ctx.account_id)
        return {}

    # --- OpenAPI ------------------------------------------------------------------------------------

    async def import_rest_api(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        from nimbus.services.apigateway import openapi

        return _public(openapi.import_api(self.rest, self.authorizers, ctx.account_id, ctx.region, params))

    async def put_rest_api(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        from nimbus.services.apigateway import openapi

        return _public(openapi.put_api(self.rest, self.authorizers, ctx.account_id, params["restApiId"], params))

    async def get_export(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        from nimbus.services.apigateway import openapi

        api_id, kind = params["restApiId"], params["exportType"]
        if kind not in ("oas30", "swagger"):
            raise BadRequestException(f"Invalid export type {kind}: oas30 or swagger")
        self.rest.get_stage(api_id, ctx.account_id, params["stageName"])
        view = self.rest.stage_view(api_id, params["stageName"])
        if view is None:
            raise NotFoundException("Invalid Stage identifier specified")
        doc = openapi.export(view.api, view.stage, view.resources, view.authorizers, export_type=kind,
                             extensions=str((params.get("parameters") or {}).get("extensions") or ""),
                             server_url=execute_api_url(ctx, api_id, None), models=view.models, validators=view.validators,
                             gateway_responses=view.gateway_responses)
        body, content_type = openapi.dump(doc, params.get("accepts"))
        ext = "yaml" if content_type == "application/yaml" else "json"
        return {"contentType": content_type, "body": body,
                "contentDisposition": f'attachment; filename="{kind}_{time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}.{ext}"'}

    # --- resources ---------------------------------------------------------------------------------

    async def get_resources(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        items = self.rest.list_resources(params["restApiId"], ctx.account_id)
        page, nxt = _page(items, params)
        return {"items": [_resource_out(r) for r in page], "position": nxt}

    async def get_resource(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _resource_out(self.rest.get_resource(params["restApiId"], ctx.account_id, params["resourceId"]))

    async def create_resource(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _resource_out(self.rest.create_resource(params["restApiId"], ctx.account_id, params["parentId"], params["pathPart"]))

    async def update_resource(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _resource_out(self.engine.updates.update_resource(params["restApiId"], ctx.account_id, params["resourceId"],
                                                                 params.get("patchOperations") or []))

    async def delete_resource(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.rest.delete_resource(params["restApiId"], ctx.account_id, params["resourceId"])
        return {}

    # --- methods and integrations ----------------------------------------------------------------

    async def put_method(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.rest.put_method(params["restApiId"], ctx.account_id, params["resourceId"], params)

    async def get_method(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.rest.get_method(params["restApiId"], ctx.account_id, params["resourceId"], params["httpMethod"])

    async def update_method(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.rest.update_method(params["restApiId"], ctx.account_id, params["resourceId"], params["httpMethod"],
                                       params.get("patchOperations") or [])

    async def delete_method(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.rest.delete_method(params["restApiId"], ctx.account_id, params["resourceId"], params["httpMethod"])
        return {}

    async def put_integration(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.rest.put_integration(params["restApiId"], ctx.account_id, params["resourceId"], params["httpMethod"], params)

    async def get_integration(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.rest.get_integration(params["restApiId"], ctx.account_id, params["resourceId"], params["httpMethod"])

    async def delete_integration(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.rest.delete_integration(params["restApiId"], ctx.account_id, params["resourceId"], params["httpMethod"])
        return {}

    async def put_method_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.rest.put_method_response(params["restApiId"], ctx.account_id, params["resourceId"], params["httpMethod"], params)

    async def put_integration_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.rest.put_integration_response(params["restApiId"], ctx.account_id, params["resourceId"], params["httpMethod"], params)

    async def update_integration(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.updates.update_integration(params["restApiId"], ctx.account_id, params["resourceId"], params["httpMethod"],
                                                      params.get("patchOperations") or [])

    async def get_method_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.updates.get_method_response(params["restApiId"], ctx.account_id, params["resourceId"], params["httpMethod"],
                                                       params["statusCode"])

    async def update_method_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.updates.update_method_response(params["restApiId"], ctx.account_id, params["resourceId"],
                                                          params["httpMethod"], params["statusCode"], params.get("patchOperations") or [])

    async def delete_method_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.updates.delete_method_response(params["restApiId"], ctx.account_id, params["resourceId"], params["httpMethod"],
                                                   params["statusCode"])
        return {}

    async def get_integration_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.updates.get_integration_response(params["restApiId"], ctx.account_id, params["resourceId"],
                                                            params["httpMethod"], params["statusCode"])

    async def update_integration_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.updates.update_integration_response(params["restApiId"], ctx.account_id, params["resourceId"],
                                                               params["httpMethod"], params["statusCode"],
                                                               params.get("patchOperations") or [])

    async def delete_integration_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.updates.delete_integration_response(params["restApiId"], ctx.account_id, params["resourceId"],
                                                        params["httpMethod"], params["statusCode"])
        return {}

    async def test_invoke_method(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        api = self.rest.get_api(params["restApiId"], ctx.account_id)
        resource = self.rest.get_resource(params["restApiId"], ctx.account_id, params["resourceId"])
        self.rest.get_method(params["restApiId"], ctx.account_id, params["resourceId"], params["httpMethod"])
        tester: MethodTester | None = self.core.component(METHOD_TESTER, lambda: None) if self.core is not None else None
        if tester is None:
            raise BadRequestException("TestInvokeMethod needs the gateway (HTTP triggers) mounted on this server")
        return await tester(api, resource, params)

    # --- deployments and stages ----------------------------------------------------------------------

    async def create_deployment(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        dep = self.rest.create_deployment(params["restApiId"], ctx.account_id, params)
        return {k: v for k, v in dep.items() if k not in _DEPLOYMENT_INTERNAL}

    async def get_deployment(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        dep = self.rest.get_deployment(params["restApiId"], ctx.account_id, params["deploymentId"])
        return {k: v for k, v in dep.items() if k not in _DEPLOYMENT_INTERNAL}

    async def get_deployments(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        items = sorted(self.rest.list_deployments(params["restApiId"], ctx.account_id), key=lambda d: d["createdDate"])
        page, nxt = _page(items, params)
        return {"items": [{k: v for k, v in d.items() if k not in _DEPLOYMENT_INTERNAL} for d in page], "position": nxt}

    async def update_deployment(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        dep = self.engine.updates.update_deployment(params["restApiId"], ctx.account_id, params["deploymentId"],
                                                    params.get("patchOperations") or [])
        return {k: v for k, v in dep.items() if k not in _DEPLOYMENT_INTERNAL}

    async def delete_deployment(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.rest.delete_deployment(params["restApiId"], ctx.account_id, params["deploymentId"])
        return {}

    async def create_stage(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.rest.create_stage(params["restApiId"], ctx.account_id, params)

    async def get_stage(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.rest.get_stage(params["restApiId"], ctx.account_id, params["stageName"])

    async def get_stages(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        stages = self.rest.list_stages(params["restApiId"], ctx.account_id)
        if params.get("deploymentId"):
            stages = [s for s in stages if s.get("deploymentId") == params["deploymentId"]]
        return {"item": stages}

    async def update_stage(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.rest.update_stage(params["restApiId"], ctx.account_id, params["stageName"], params.get("patchOperations") or [])

    async def delete_stage(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.rest.delete_stage(params["restApiId"], ctx.account_id, params["stageName"])
        return {}

    async def flush_stage_cache(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        """Nimbus caches no integration responses (cacheClusterEnabled is recorded only): nothing to flush."""
        self.rest.get_stage(params["restApiId"], ctx.account_id, params["stageName"])
        return {}

    async def flush_stage_authorizers_cache(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.rest.get_stage(params["restApiId"], ctx.account_id, params["stageName"])
        self.engine.authorizer_cache.flush(params["restApiId"], params["stageName"])
        return {}

    # --- API keys and usage plans ----------------------------------------------------------------------

    @staticmethod
    def _key_out(key: dict[str, Any], include_value: bool) -> Out:
        out = _public(key)
        if not include_value:
            out.pop("value", None)
        return out

    async def create_api_key(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self._key_out(self.rest.create_key(ctx.account_id, ctx.region, params), True)

    async def get_api_key(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self._key_out(self.rest.get_key(params["apiKey"], ctx.account_id), bool(params.get("includeValue")))

    async def get_api_keys(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        keys = sorted(self.rest.list_keys(ctx.account_id, ctx.region), key=lambda k: k["createdDate"])
        if params.get("nameQuery"):
            keys = [k for k in keys if k["name"].startswith(params["nameQuery"])]
        if params.get("customerId"):
            keys = [k for k in keys if k.get("customerId") == params["customerId"]]
        page, nxt = _page(keys, params)
        return {"items": [self._key_out(k, bool(params.get("includeValues"))) for k in page], "position": nxt}

    async def update_api_key(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self._key_out(self.rest.update_key(params["apiKey"], ctx.account_id, params.get("patchOperations") or []), False)

    async def delete_api_key(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.rest.delete_key(params["apiKey"], ctx.account_id)
        return {}

    async def create_usage_plan(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _public(self.rest.create_plan(ctx.account_id, ctx.region, params))

    async def get_usage_plan(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _public(self.rest.get_plan(params["usagePlanId"], ctx.account_id))

    async def get_usage_plans(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        plans = self.rest.list_plans(ctx.account_id, ctx.region, params.get("keyId"))
        page, nxt = _page(plans, params)
        return {"items": [_public(p) for p in page], "position": nxt}

    async def update_usage_plan(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _public(self.rest.update_plan(params["usagePlanId"], ctx.account_id, params.get("patchOperations") or []))

    async def delete_usage_plan(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.rest.delete_plan(params["usagePlanId"], ctx.account_id)
        return {}

    @staticmethod
    def _plan_key_out(key: dict[str, Any]) -> Out:
        return {"id": key["id"], "type": "API_KEY", "value": key["value"], "name": key.get("name")}

    async def create_usage_plan_key(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        key = self.rest.add_plan_key(params["usagePlanId"], ctx.account_id, params["keyId"], params["keyType"])
        return self._plan_key_out(key)

    async def get_usage_plan_keys(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        keys = self.rest.list_plan_keys(params["usagePlanId"], ctx.account_id)
        page, nxt = _page(keys, params)
        return {"items": [self._plan_key_out(k) for k in page], "position": nxt}

    async def get_usage_plan_key(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self._plan_key_out(self.rest.get_plan_key(params["usagePlanId"], ctx.account_id, params["keyId"]))

    async def import_api_keys(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        if str(params.get("format") or "").lower() != "csv":
            raise BadRequestException(f"Invalid format {params.get('format')}: only csv is supported")
        body = params.get("body") or b""
        key_ids, warnings = self.rest.import_keys(ctx.account_id, ctx.region, body if isinstance(body, bytes) else str(body).encode(),
                                                  fail_on_warnings=bool(params.get("failOnWarnings")))
        out: Out = {"ids": key_ids}
        if warnings:
            out["warnings"] = warnings
        return out

    async def delete_usage_plan_key(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.rest.remove_plan_key(params["usagePlanId"], ctx.account_id, params["keyId"])
        return {}


    # --- tags ----------------------------------------------------------------------------------------

    async def tag_resource(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.tags.tag(ctx.account_id, ctx.region, params["resourceArn"], params["tags"])
        return {}

    async def untag_resource(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.tags.untag(ctx.account_id, ctx.region, params["resourceArn"], params["tagKeys"])
        return {}

    async def get_tags(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return {"tags": self.engine.tags.get(ctx.account_id, ctx.region, params["resourceArn"])}

    # --- models ----------------------------------------------------------------------------------------

    async def create_model(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.models.create(params["restApiId"], ctx.account_id, params)

    async def get_model(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.models.get(params["restApiId"], ctx.account_id, params["modelName"], flatten=bool(params.get("flatten")))

    async def get_models(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        page, nxt = _page(self.engine.models.list(params["restApiId"], ctx.account_id), params)
        return {"items": page, "position": nxt}

    async def update_model(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.models.update(params["restApiId"], ctx.account_id, params["modelName"], params.get("patchOperations") or [])

    async def delete_model(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.models.delete(params["restApiId"], ctx.account_id, params["modelName"])
        return {}

    async def get_model_template(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return {"value": self.engine.models.template(params["restApiId"], ctx.account_id, params["modelName"])}

    # --- request validators ----------------------------------------------------------------------------

    async def create_request_validator(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.validators.create(params["restApiId"], ctx.account_id, params)

    async def get_request_validator(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.validators.get(params["restApiId"], ctx.account_id, params["requestValidatorId"])

    async def get_request_validators(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        page, nxt = _page(self.engine.validators.list(params["restApiId"], ctx.account_id), params)
        return {"items": page, "position": nxt}

    async def update_request_validator(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.validators.update(params["restApiId"], ctx.account_id, params["requestValidatorId"],
                                             params.get("patchOperations") or [])

    async def delete_request_validator(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.validators.delete(params["restApiId"], ctx.account_id, params["requestValidatorId"])
        return {}

    # --- gateway responses -------------------------------------------------------------------------------

    async def put_gateway_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.gateway_responses.put(params["restApiId"], ctx.account_id, params["responseType"], params)

    async def get_gateway_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.gateway_responses.get(params["restApiId"], ctx.account_id, params["responseType"])

    async def get_gateway_responses(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        page, nxt = _page(self.engine.gateway_responses.list(params["restApiId"], ctx.account_id), params)
        return {"items": page, "position": nxt}

    async def update_gateway_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.gateway_responses.update(params["restApiId"], ctx.account_id, params["responseType"],
                                                    params.get("patchOperations") or [])

    async def delete_gateway_response(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.gateway_responses.delete(params["restApiId"], ctx.account_id, params["responseType"])
        return {}

    # --- account -----------------------------------------------------------------------------------------

    async def get_account(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.account.get(ctx.account_id, ctx.region)

    async def update_account(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.account.update(ctx.account_id, ctx.region, params.get("patchOperations") or [])

    # --- custom domain names and base path mappings --------------------------------------------------------

    async def create_domain_name(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _public(self.engine.domains.create(ctx.account_id, ctx.region, params))

    async def get_domain_name(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _public(self.engine.domains.get(ctx.account_id, ctx.region, params["domainName"]))

    async def get_domain_names(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        page, nxt = _page(self.engine.domains.list(ctx.account_id, ctx.region), params)
        return {"items": [_public(d) for d in page], "position": nxt}

    async def update_domain_name(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return _public(self.engine.domains.update(ctx.account_id, ctx.region, params["domainName"], params.get("patchOperations") or []))

    async def delete_domain_name(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.domains.delete(ctx.account_id, ctx.region, params["domainName"])
        return {}

    async def create_base_path_mapping(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return v1_mapping(self.engine.domains.create_mapping(ctx.account_id, ctx.region, params["domainName"], params))

    async def get_base_path_mapping(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return v1_mapping(self.engine.domains.get_mapping(ctx.account_id, ctx.region, params["domainName"], params["basePath"]))

    async def get_base_path_mappings(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        page, nxt = _page(self.engine.domains.list_mappings(ctx.account_id, ctx.region, params["domainName"]), params)
        return {"items": [v1_mapping(m) for m in page], "position": nxt}

    async def update_base_path_mapping(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return v1_mapping(self.engine.domains.update_mapping(ctx.account_id, ctx.region, params["domainName"], params["basePath"],
                                                             params.get("patchOperations") or []))

    async def delete_base_path_mapping(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.domains.delete_mapping(ctx.account_id, ctx.region, params["domainName"], params["basePath"])
        return {}

    # --- documentation parts and versions (recorded only: documentation.py) -----------------------------

    async def create_documentation_part(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return part_out(self.engine.documentation.create_part(params["restApiId"], ctx.account_id, params))

    async def get_documentation_part(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return part_out(self.engine.documentation.get_part(params["restApiId"], ctx.account_id, params["documentationPartId"]))

    async def get_documentation_parts(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        page, nxt = _page(self.engine.documentation.list_parts(params["restApiId"], ctx.account_id, params), params)
        return {"items": [part_out(p) for p in page], "position": nxt}

    async def update_documentation_part(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return part_out(self.engine.documentation.update_part(params["restApiId"], ctx.account_id, params["documentationPartId"],
                                                              params.get("patchOperations") or []))

    async def delete_documentation_part(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.documentation.delete_part(params["restApiId"], ctx.account_id, params["documentationPartId"])
        return {}

    async def import_documentation_parts(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return self.engine.documentation.import_parts(params["restApiId"], ctx.account_id, params)

    async def create_documentation_version(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return version_out(self.engine.documentation.create_version(params["restApiId"], ctx.account_id, params))

    async def get_documentation_version(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return version_out(self.engine.documentation.get_version(params["restApiId"], ctx.account_id, params["documentationVersion"]))

    async def get_documentation_versions(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        page, nxt = _page(self.engine.documentation.list_versions(params["restApiId"], ctx.account_id), params)
        return {"items": [version_out(v) for v in page], "position": nxt}

    async def update_documentation_version(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return version_out(self.engine.documentation.update_version(params["restApiId"], ctx.account_id, params["documentationVersion"],
                                                                    params.get("patchOperations") or []))

    async def delete_documentation_version(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.documentation.delete_version(params["restApiId"], ctx.account_id, params["documentationVersion"])
        return {}

    # --- client certificates (recorded only: clientcerts.py) --------------------------------------------

    async def generate_client_certificate(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        # an RSA key takes a few hundred milliseconds of CPU: off the event loop
        return cert_out(await asyncio.to_thread(self.engine.client_certs.generate, ctx.account_id, ctx.region, params))

    async def get_client_certificate(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return cert_out(self.engine.client_certs.get(ctx.account_id, ctx.region, params["clientCertificateId"]))

    async def get_client_certificates(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        page, nxt = _page(self.engine.client_certs.list(ctx.account_id, ctx.region), params)
        return {"items": [cert_out(c) for c in page], "position": nxt}

    async def update_client_certificate(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return cert_out(self.engine.client_certs.update(ctx.account_id, ctx.region, params["clientCertificateId"],
                                                        params.get("patchOperations") or []))

    async def delete_client_certificate(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.client_certs.delete(ctx.account_id, ctx.region, params["clientCertificateId"])
        return {}

    # --- VPC links (recorded only: vpclinks.py) ---------------------------------------------------------

    async def create_vpc_link(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return vpc_link_out(self.engine.vpclinks.create_v1(ctx.account_id, ctx.region, params))

    async def get_vpc_link(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return vpc_link_out(self.engine.vpclinks.get_v1(ctx.account_id, ctx.region, params["vpcLinkId"]))

    async def get_vpc_links(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        page, nxt = _page(self.engine.vpclinks.list_v1(ctx.account_id, ctx.region), params)
        return {"items": [vpc_link_out(d) for d in page], "position": nxt}

    async def update_vpc_link(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        return vpc_link_out(self.engine.vpclinks.update_v1(ctx.account_id, ctx.region, params["vpcLinkId"],
                                                           params.get("patchOperations") or []))

    async def delete_vpc_link(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        self.engine.vpclinks.delete_v1(ctx.account_id, ctx.region, params["vpcLinkId"])
        return {}


def build(core: Any) -> ApiGatewayApi:
    return ApiGatewayApi(engine_of(core), core)

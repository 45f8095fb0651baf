"""The Lambda API's function URL operations (Create/Get/Update/Delete/ListFunctionUrlConfigs, C.4).

``LambdaApi`` delegates these five methods here: they are Lambda operations, but their state and the
serving of the URLs belong with the gateway. The function must exist (checked with the Lambda
engine); the URL names the host the caller reached Nimbus on.
"""

from __future__ import annotations

from typing import Any

from nimbus.services.apigateway.api import endpoint_port
from nimbus.services.apigateway.engine import engine_of
from nimbus.services.apigateway.urls import InvalidParameterValue, ResourceNotFound, url_host
from nimbus.services.base import RequestContext

Ctx = RequestContext
Out = dict[str, Any]

MAX_LIST_ITEMS = 50


def function_url(ctx: Ctx, doc: dict[str, Any]) -> str:
    return f"http://{url_host(doc['urlId'], doc['region'])}{endpoint_port(ctx)}/"


def _out(ctx: Ctx, doc: dict[str, Any], *, modified: bool = True) -> Out:
    out: Out = {
        "FunctionUrl": function_url(ctx, doc),
        "FunctionArn": doc["FunctionArn"],
        "AuthType": doc["AuthType"],
        "CreationTime": doc["CreationTime"],
        "InvokeMode": doc.get("InvokeMode", "BUFFERED"),
    }
    if doc.get("Cors") is not None:
        out["Cors"] = doc["Cors"]
    if modified:
        out["LastModifiedTime"] = doc["LastModifiedTime"]
    return out


class FunctionUrlConfigApi:
    def __init__(self, core: Any) -> None:
        self.core = core

    @property
    def urls(self) -> Any:
        return engine_of(self.core).urls

    def _function(self, ctx: Ctx, params: dict[str, Any]) -> tuple[Any, str]:
        """(FunctionRef, function ARN as the URL config reports it); the function (and alias) must exist."""
        from nimbus.services.lambda_.invoke import lambda_engine
        from nimbus.services.lambda_.names import parse_function_ref

        ref = parse_function_ref(params["FunctionName"], region=ctx.region, account=ctx.account_id, qualifier=params.get("Qualifier"))
        functions = lambda_engine(self.core).functions
        functions.function_doc(ref)
        q = ref.qualifier
        if q is not None and q != "$LATEST" and not q.isdigit() and functions.alias_doc(ref, q) is None:
            raise ResourceNotFound(f"Function not found: {ref.qualified_arn()}", Type="User")
        return ref, ref.qualified_arn()

    async def create_function_url_config(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        ref, arn = self._function(ctx, params)
        doc = self.urls.create(ref.account, ref.region, ref.name, arn, ref.qualifier, params)
        return _out(ctx, doc, modified=False)

    async def get_function_url_config(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        ref, _ = self._function(ctx, params)
        return _out(ctx, self.urls.get(ref.account, ref.region, ref.name, ref.qualifier))

    async def update_function_url_config(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        ref, _ = self._function(ctx, params)
        return _out(ctx, self.urls.update(ref.account, ref.region, ref.name, ref.qualifier, params))

    async def delete_function_url_config(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        ref, _ = self._function(ctx, params)
        self.urls.delete(ref.account, ref.region, ref.name, ref.qualifier)
        return {}

    async def list_function_url_configs(self, ctx: Ctx, params: dict[str, Any]) -> Out:
        ref, _ = self._function(ctx, {"FunctionName": params["FunctionName"]})
        if ref.qualifier:
            raise InvalidParameterValue("ListFunctionUrlConfigs takes an unqualified function name")
        docs = sorted(self.urls.list_for(ref.account, ref.region, ref.name), key=lambda d: d["CreationTime"])
        start = int(params["Marker"]) if str(params.get("Marker") or "").isdigit() else 0
        limit = min(int(params.get("MaxItems") or MAX_LIST_ITEMS), MAX_LIST_ITEMS)
        out: Out = {"FunctionUrlConfigs": [_out(ctx, d) for d in docs[start:start + limit]]}
        if start + limit < len(docs):
            out["NextMarker"] = str(start + limit)
        return out


    def function_deleted(self, account: str, region: str, function: str, alias: str | None = None) -> None:
        """The Lambda API deleted a function (``alias`` None) or one of its aliases: its URL configs go too."""
        self.urls.delete_all(account, region, function, alias)


def function_url_configs(core: Any) -> FunctionUrlConfigApi:
    return core.component("apigateway.function-url-configs", lambda: FunctionUrlConfigApi(core))

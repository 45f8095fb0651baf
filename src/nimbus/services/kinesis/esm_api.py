"""The Lambda API's event source mapping operations, as methods LambdaApi takes into its class body.

They stay here, beside the engine that runs the mappings (``mappings.py``), so the Lambda package only
names them; each is shape in -> ``Mappings`` call -> shape out, like any api method.
"""

from __future__ import annotations

from typing import Any

from nimbus.services.base import RequestContext
from nimbus.services.kinesis.mappings import mappings_of

DEFAULT_MAX_ITEMS = 100


async def create_event_source_mapping(self: Any, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return mappings_of(self.core).create(ctx.account_id, ctx.region, params)


async def get_event_source_mapping(self: Any, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return mappings_of(self.core).get(params["UUID"])


async def update_event_source_mapping(self: Any, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return mappings_of(self.core).update(params["UUID"], params)


async def delete_event_source_mapping(self: Any, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return mappings_of(self.core).delete(params["UUID"])


async def list_event_source_mappings(self: Any, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    mappings = mappings_of(self.core)
    function = params.get("FunctionName")
    function_arn = None
    if function:
        function_arn, _ = mappings._describe(function, ctx.account_id, ctx.region)
    found = mappings.list(ctx.account_id, ctx.region, function_arn=function_arn, source_arn=params.get("EventSourceArn"))
    found.sort(key=lambda d: d["UUID"])
    marker = params.get("Marker")
    if marker:
        found = [d for d in found if d["UUID"] > marker]
    limit = params.get("MaxItems") or DEFAULT_MAX_ITEMS
    out: dict[str, Any] = {"EventSourceMappings": found[:limit]}
    if len(found) > limit:
        out["NextMarker"] = found[limit - 1]["UUID"]
    return out

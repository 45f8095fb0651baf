"""The API Gateway engine shared by the control plane and the gateway: component "apigateway.engine"."""

from __future__ import annotations

from typing import Any

from nimbus.services.apigateway.authorizers import HttpAuthorizers, RestAuthorizers, ResultCache
from nimbus.services.apigateway.httpapis import HttpApis
from nimbus.services.apigateway.restapis import RestApis
from nimbus.services.apigateway.urls import FunctionUrls

COMPONENT = "apigateway.engine"


class ApiGatewayEngine:
    def __init__(self, metadata: Any) -> None:
        self.rest = RestApis(metadata)
        self.http = HttpApis(metadata)
        self.urls = FunctionUrls(metadata)
        self.rest_authorizers = RestAuthorizers(self.rest)
        self.http_authorizers = HttpAuthorizers(self.http)
        self.authorizer_cache = ResultCache()


def engine_of(core: Any) -> ApiGatewayEngine:
    return core.component(COMPONENT, lambda: ApiGatewayEngine(core.storage.metadata))

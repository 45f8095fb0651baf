"""The API Gateway engine shared by the control plane and the gateway: component "apigateway.engine"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nimbus.services.apigateway.account import Account
from nimbus.services.apigateway.authorizers import HttpAuthorizers, RestAuthorizers, ResultCache
from nimbus.services.apigateway.clientcerts import ClientCertificates
from nimbus.services.apigateway.documentation import Documentation
from nimbus.services.apigateway.domains import DomainNames
from nimbus.services.apigateway.gatewayresponses import GatewayResponses
from nimbus.services.apigateway.httpapis import HttpApis
from nimbus.services.apigateway.models import Models, RequestValidators
from nimbus.services.apigateway.restapis import RestApis
from nimbus.services.apigateway.routingrules import RoutingRules
from nimbus.services.apigateway.tagging import Tags
from nimbus.services.apigateway.updates import RestUpdates
from nimbus.services.apigateway.urls import FunctionUrls
from nimbus.services.apigateway.vpclinks import VpcLinks
from nimbus.services.apigateway.wsmodels import WebSocketModels

COMPONENT = "apigateway.engine"
# TestInvokeMethod runs a method the way the gateway serves it: the gateway registers this component
# (its test_invoke_method) when it is mounted, since the control plane may not import the data plane.
METHOD_TESTER = "gateway.method-tester"
MethodTester = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], Awaitable[dict[str, Any]]]


class ApiGatewayEngine:
    def __init__(self, metadata: Any) -> None:
        self.rest = RestApis(metadata)
        self.http = HttpApis(metadata)
        self.urls = FunctionUrls(metadata)
        self.rest_authorizers = RestAuthorizers(self.rest)
        self.http_authorizers = HttpAuthorizers(self.http)
        self.authorizer_cache = ResultCache()
        self.updates = RestUpdates(self.rest)
        self.models = Models(self.rest)
        self.ws_models = WebSocketModels(self.http)
        self.validators = RequestValidators(self.rest)
        self.documentation = Documentation(self.rest)
        self.gateway_responses = GatewayResponses(self.rest)
        self.domains = DomainNames(self.rest, self.http)
        self.routing_rules = RoutingRules(self.domains)
        self.vpclinks = VpcLinks(metadata)
        self.client_certs = ClientCertificates(metadata)
        self.tags = Tags(self.rest, self.domains, self.http, self.vpclinks, self.client_certs)
        self.account = Account(metadata)


def engine_of(core: Any) -> ApiGatewayEngine:
    return core.component(COMPONENT, lambda: ApiGatewayEngine(core.storage.metadata))

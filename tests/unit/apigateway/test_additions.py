"""Pure rules and engines of this round's API Gateway additions, on the in-memory metadata store:
documentation locations, WebSocket integration response keys and MOCK replies, the authorizer cache flush,
the client certificate's signature, and an HTTP API's export importing back."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest

from nimbus.services.apigateway import openapi
from nimbus.services.apigateway.authorizers import Grant, HttpAuthorizers, ResultCache
from nimbus.services.apigateway.clientcerts import self_signed_pem
from nimbus.services.apigateway.documentation import location
from nimbus.services.apigateway.errors import BadRequestException
from nimbus.services.apigateway.httpapis import HttpApis
from nimbus.services.apigateway.wsapis import check_integration_response_key, mock_reply
from nimbus.storage.memory import MemoryMetadataStore

FN = "arn:aws:lambda:us-east-1:000000000000:function:f"


def test_documentation_locations() -> None:
    assert location({"type": "API"}) == {"type": "API"}
    assert location({"type": "RESPONSE_HEADER", "name": "x-id"}) == \
        {"type": "RESPONSE_HEADER", "path": "/", "method": "*", "statusCode": "*", "name": "x-id"}
    assert location({"type": "METHOD", "path": "/a", "method": "post"})["method"] == "POST"
    for bad in ({"type": "API", "name": "x"}, {"type": "MODEL"}, {"type": "RESOURCE", "path": "a"}, {"type": "METHOD", "method": "FETCH"},
                {"type": "RESPONSE", "statusCode": "600"}, {"type": "nope"}, "API"):
        with pytest.raises(BadRequestException):
            location(bad)


def test_integration_response_keys_and_mock_replies() -> None:
    assert check_integration_response_key("$default") == "$default"
    assert check_integration_response_key("/4\\d\\d/") == "/4\\d\\d/"
    for bad in ("200", "/(/", "//", "default"):
        with pytest.raises(BadRequestException):
            check_integration_response_key(bad)
    integ = {"responses": {"a": {"IntegrationResponseKey": "$default", "TemplateSelectionExpression": "\\$default",
                                 "ResponseTemplates": {"$default": "hi", "other": "no"}}}}
    assert mock_reply(integ) == "hi"
    integ["responses"]["a"]["TemplateSelectionExpression"] = "other"
    assert mock_reply(integ) == "no"
    assert mock_reply({"responses": {"a": {"IntegrationResponseKey": "/5\\d\\d/", "ResponseTemplates": {"$default": "x"}}}}) is None
    assert mock_reply({}) is None


def test_result_cache_flush_is_per_stage() -> None:
    cache = ResultCache()
    grant = Grant("p", None, True, {})
    for key in (("api", "prod", "d1", "a", ("t",)), ("api", "prod", "d1", "a", ("u",)), ("api", "dev", "d1", "a", ("t",)),
                ("other", "prod", "d1", "a", ("t",))):
        cache.put(key, grant, 300)
    assert cache.flush("api", "prod") == 2
    assert cache.get(("api", "prod", "d1", "a", ("t",))) is None
    assert cache.get(("api", "dev", "d1", "a", ("t",))) is grant and cache.get(("other", "prod", "d1", "a", ("t",))) is grant


def _der_items(der: bytes) -> list[bytes]:
    """The elements of a DER SEQUENCE (each with its tag and length)."""
    def length(i: int) -> tuple[int, int]:
        first = der[i]
        if first < 0x80:
            return first, i + 1
        n = first & 0x7F
        return int.from_bytes(der[i + 1:i + 1 + n], "big"), i + 1 + n
    size, i = length(1)
    out, end = [], i + size
    while i < end:
        n, body = length(i + 1)
        out.append(der[i:body + n])
        i = body + n
    return out


def test_client_certificate_signature_verifies() -> None:
    now = time.time()
    pem = self_signed_pem("ApiGateway t", now, now + 86400)
    der = base64.b64decode("".join(pem.strip().splitlines()[1:-1]))
    tbs, _, sig = _der_items(der)
    # the public key is the last element of the TBS certificate: SEQ(alg, BIT STRING(0 + SEQ(n, e)))
    spki = _der_items(tbs)[-1]
    bits = _der_items(spki)[1]
    key = bits[bits.index(b"\x00\x30") + 1:]
    n_der, e_der = _der_items(key)
    n, e = int.from_bytes(n_der[2:] if n_der[1] < 0x80 else n_der[2 + (n_der[1] & 0x7F):], "big"), int.from_bytes(e_der[2:], "big")
    signature = int.from_bytes(sig[-((n.bit_length() + 7) // 8):], "big")  # the BIT STRING's last bytes
    padded = pow(signature, e, n).to_bytes((n.bit_length() + 7) // 8, "big")
    assert e == 65537 and padded.startswith(b"\x00\x01\xff") and padded.endswith(hashlib.sha256(tbs).digest())


def test_http_api_export_imports_back() -> None:
    http = HttpApis(MemoryMetadataStore())
    auths = HttpAuthorizers(http)
    api = http.create_api("000000000000", "us-east-1", {"Name": "x", "ProtocolType": "HTTP", "Version": "1",
                                                        "CorsConfiguration": {"AllowOrigins": ["*"]}})
    integ = http.create_integration(api["ApiId"], "000000000000", {"IntegrationType": "AWS_PROXY", "IntegrationUri": FN})
    auth = auths.create(api["ApiId"], "000000000000", {"Name": "a", "AuthorizerType": "JWT", "IdentitySource": ["$request.header.Authorization"],
                                                       "JwtConfiguration": {"Issuer": "https://i", "Audience": ["x"]}})
    http.create_route(api["ApiId"], "000000000000", {"RouteKey": "GET /p/{id}", "Target": f"integrations/{integ['IntegrationId']}",
                                                     "AuthorizationType": "JWT", "AuthorizerId": auth["AuthorizerId"]})
    doc = http.get_api(api["ApiId"], "000000000000")
    exported = openapi.export_http_api(doc, doc["routes"], doc["integrations"], stage=None, include_extensions=True,
                                       server_url="http://x.execute-api.localhost")
    body, _ = openapi.dump(exported, None)
    back = openapi.import_http_api(http, auths, "000000000000", "us-east-1", {"Body": body})
    assert "Warnings" not in back and back["CorsConfiguration"] == {"AllowOrigins": ["*"]}
    route = next(iter(back["routes"].values()))
    assert route["RouteKey"] == "GET /p/{id}" and route["AuthorizationType"] == "JWT"
    assert back["authorizers"][route["AuthorizerId"]]["JwtConfiguration"] == {"Issuer": "https://i", "Audience": ["x"]}
    assert back["integrations"][route["Target"].split("/")[1]]["IntegrationUri"] == FN

"""Custom domain names and their mappings, as documents in the metadata store (kind ``apigw.domain``,
key ``{region}/{domain name}``; the mappings live inside their domain's document, by base path).

One store for both APIs, as on AWS, where they are views of the same resources: ``apigateway``'s
CreateDomainName / CreateBasePathMapping and ``apigatewayv2``'s CreateDomainName / CreateApiMapping
(whose ``ApiMappingKey`` is the base path, and which may also map HTTP APIs). Each mapping has an
``apiMappingId`` and a ``kind`` (``rest`` or ``http``) for routing.

Certificates are recorded only: Nimbus serves plain HTTP and checks no certificate. The gateway routes
a request whose Host is a domain name to the mapped API and stage (``route``); ``hosts`` (host name ->
document) is kept in memory, loaded once and updated on every write, so the edge's claim for a Host is
one dict lookup.
"""

from __future__ import annotations

import re
import time
from typing import Any

from nimbus.services.apigateway import ids
from nimbus.services.apigateway.errors import BadRequestException, ConflictException, NotFoundException
from nimbus.services.apigateway.httpapis import HttpApis
from nimbus.services.apigateway.restapis import STAGE, RestApis, _unescape

DOMAIN = "apigw.domain"  # key: region/domain name
NONE_BASE_PATH = "(none)"
MAPPING_ID_LEN = 6
_DOMAIN_NAME = re.compile(r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")
_BASE_PATH = re.compile(r"[A-Za-z0-9$_.+!*'()-]+(/[A-Za-z0-9$_.+!*'()-]+)*")
# Route 53 alias targets: AWS's published hosted zone ids (edge: CloudFront's)
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
REGIONAL_ZONE_IDS = {"us-east-1": "Z1UJRXOUMOOFQ8", "us-east-2": "ZOJJZC49E0EPZ", "us-west-1": "Z2MUQ32089INYE",
                     "us-west-2": "Z2OJLYMUO9EFXC", "eu-west-1": "ZLY8HYME6SFDD", "eu-central-1": "Z1U9ULNL0V5AJ3"}
_CERT_FIELDS = ("certificateName", "certificateArn", "regionalCertificateName", "regionalCertificateArn",
                "ownershipVerificationCertificateArn")


class DomainNames:
    def __init__(self, rest: RestApis, http: HttpApis | None = None) -> None:
        self.rest = rest
        self.http = http
        self.db = rest.db
        # host name -> domain document (first region wins), for the data plane: always this dict object,
        # refilled in place on every write, so the gateway may hold on to it
        self.hosts: dict[str, dict[str, Any]] = {}
        self._load_hosts()

    def _load_hosts(self) -> None:
        hosts: dict[str, dict[str, Any]] = {}
        for _, doc in self.db.list(DOMAIN):
            hosts.setdefault(doc["domainName"], doc)
        self.hosts.clear()
        self.hosts.update(hosts)

    def _changed(self) -> None:
        self._load_hosts()
        self.rest._changed()

    def _save(self, doc: dict[str, Any]) -> None:
        self.db.put(DOMAIN, f"{doc['region']}/{doc['domainName']}", doc)
        self._changed()

    # --- domain names ------------------------------------------------------------------------------

    def create(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params["domainName"]).lower().rstrip(".")
        if not _DOMAIN_NAME.fullmatch(name) or len(name) > 253:
            raise BadRequestException(f"Invalid domain name specified: {params['domainName']}")
        types = list(((params.get("endpointConfiguration") or {}).get("types")) or ["EDGE"])
        if len(types) != 1 or types[0] not in ("EDGE", "REGIONAL", "PRIVATE"):
            raise BadRequestException("Invalid endpoint configuration: exactly one of EDGE, REGIONAL or PRIVATE")
        edge = types[0] == "EDGE"
        if edge and not (params.get("certificateArn") or params.get("certificateBody")):
            raise BadRequestException("A certificate (certificateArn, or certificateBody and certificatePrivateKey) is "
                                      "required for an EDGE domain name")
        if not edge and not params.get("regionalCertificateArn") and types[0] == "REGIONAL":
            raise BadRequestException("A regional certificate (regionalCertificateArn) is required for a REGIONAL domain name")
        doc: dict[str, Any] = {
            "domainName": name,
            "domainNameArn": f"arn:aws:apigateway:{region}::/domainnames/{name}",
            "endpointConfiguration": {"types": types},
            "domainNameStatus": "AVAILABLE",
            "securityPolicy": params.get("securityPolicy") or "TLS_1_2",
            "tags": dict(params.get("tags") or {}),
            "account": account,
            "region": region,
            "mappings": {},
        }
        for k in (*_CERT_FIELDS, "mutualTlsAuthentication", "endpointAccessMode", "policy", "routingMode"):
            if params.get(k) is not None:
                doc[k] = params[k]
        if params.get("certificateBody"):  # uploaded (recorded only; the private key is not kept)
            doc.setdefault("certificateName", name)
        if edge:
            doc["distributionDomainName"] = f"d{ids.new_id(13)}.cloudfront.net"
            doc["distributionHostedZoneId"] = CLOUDFRONT_ZONE_ID
            doc["certificateUploadDate"] = time.time()
        else:
            doc["regionalDomainName"] = f"d-{ids.new_id(10)}.execute-api.{region}.amazonaws.com"
            doc["regionalHostedZoneId"] = REGIONAL_ZONE_IDS.get(region, REGIONAL_ZONE_IDS["us-east-1"])
        if not self.db.insert(DOMAIN, f"{region}/{name}", doc):
            raise ConflictException("The domain name you provided already exists.")
        self._changed()
        return doc

    def get(self, account: str, region: str, name: str) -> dict[str, Any]:
        doc: dict[str, Any] | None = self.db.get(DOMAIN, f"{region}/{name.lower()}")
        if doc is None or doc["account"] != account:
            raise NotFoundException("Invalid domain name identifier specified")
        return doc

    def list(self, account: str, region: str) -> list[dict[str, Any]]:
        return sorted((d for _, d in self.db.list(DOMAIN, f"{region}/") if d["account"] == account), key=lambda d: d["domainName"])

    def update(self, account: str, region: str, name: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        doc = self.get(account, region, name)
        for op in ops:
            path, value, kind = op.get("path", ""), op.get("value"), op.get("op", "replace")
            if path in tuple(f"/{k}" for k in (*_CERT_FIELDS, "securityPolicy", "policy", "routingMode", "endpointAccessMode")):
                if kind == "remove":
                    doc.pop(path[1:], None)
                else:
                    doc[path[1:]] = value
            elif path.startswith("/endpointConfiguration/types"):
                if str(value) not in ("EDGE", "REGIONAL", "PRIVATE"):
                    raise BadRequestException(f"Invalid endpoint type specified: {value}")
                doc["endpointConfiguration"] = {"types": [str(value)]}
            elif path.startswith("/mutualTlsAuthentication/"):
                doc.setdefault("mutualTlsAuthentication", {})[path.rsplit("/", 1)[1]] = value
            else:
                raise BadRequestException(f"Invalid patch path {path}")
        self._save(doc)
        return doc

    def delete(self, account: str, region: str, name: str) -> None:
        doc = self.get(account, region, name)
        self.db.delete(DOMAIN, f"{region}/{doc['domainName']}")
        self._changed()

    def mapped_to(self, account: str, api_id: str) -> list[str]:
        """The custom domain names that map a path to the API: AWS refuses to delete an API that has one."""
        return sorted({
            doc["domainName"] for _, doc in self.db.list(DOMAIN)
            if doc["account"] == account and any(m.get("restApiId") == api_id for m in doc["mappings"].values())
        })

    def set_tags(self, doc: dict[str, Any], tags: dict[str, str]) -> None:
        doc["tags"] = tags
        self._save(doc)

    # --- base path mappings --------------------------------------------------------------------------

    @staticmethod
    def _base_path(value: Any) -> str:
        path = str(value or "").strip("/") or NONE_BASE_PATH
        if path != NONE_BASE_PATH and not _BASE_PATH.fullmatch(path):
            raise BadRequestException(f"Invalid base path specified: {value}")
        return path

    def _check_target(self, account: str, api_id: str, stage: str | None) -> None:
        try:
            self.rest.get_api(api_id, account)
        except NotFoundException:
            raise BadRequestException("Invalid REST API identifier specified") from None
        if stage and self.db.get(STAGE, f"{api_id}/{stage}") is None:
            raise BadRequestException("Invalid stage identifier specified")

    @staticmethod
    def _mapping(doc: dict[str, Any], base_path: str) -> dict[str, Any]:
        m: dict[str, Any] | None = doc["mappings"].get(_unescape(base_path).strip("/") or NONE_BASE_PATH)
        if m is None:
            raise NotFoundException("Invalid base path mapping identifier specified")
        return m

    def create_mapping(self, account: str, region: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get(account, region, name)
        base = self._base_path(params.get("basePath"))
        self._check_target(account, params["restApiId"], params.get("stage"))
        if base in doc["mappings"]:
            raise ConflictException("Base path already exists for this domain name")
        m = {"basePath": base, "restApiId": params["restApiId"], "apiMappingId": ids.new_id(MAPPING_ID_LEN), "kind": "rest"}
        if params.get("stage"):
            m["stage"] = params["stage"]
        doc["mappings"][base] = m
        self._save(doc)
        return m

    def get_mapping(self, account: str, region: str, name: str, base_path: str) -> dict[str, Any]:
        return self._mapping(self.get(account, region, name), base_path)

    def list_mappings(self, account: str, region: str, name: str) -> list[dict[str, Any]]:
        return sorted(self.get(account, region, name)["mappings"].values(), key=lambda m: m["basePath"])

    def update_mapping(self, account: str, region: str, name: str, base_path: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        doc = self.get(account, region, name)
        m = dict(self._mapping(doc, base_path))
        old = m["basePath"]
        for op in ops:
            path, value, kind = op.get("path", ""), op.get("value"), op.get("op", "replace")
            if path == "/basePath":
                m["basePath"] = self._base_path(value)
            elif path in ("/restapiId", "/restApiId"):
                m["restApiId"] = str(value)
            elif path == "/stage":
                if kind == "remove" or not value:
                    m.pop("stage", None)
                else:
                    m["stage"] = str(value)
            else:
                raise BadRequestException(f"Invalid patch path {path}")
        self._check_target(account, m["restApiId"], m.get("stage"))
        m["kind"] = "rest"
        if m["basePath"] != old and m["basePath"] in doc["mappings"]:
            raise ConflictException("Base path already exists for this domain name")
        del doc["mappings"][old]
        doc["mappings"][m["basePath"]] = m
        self._save(doc)
        return m

    def delete_mapping(self, account: str, region: str, name: str, base_path: str) -> None:
        doc = self.get(account, region, name)
        m = self._mapping(doc, base_path)
        del doc["mappings"][m["basePath"]]
        self._save(doc)


    # --- apigatewayv2: domain names and API mappings ------------------------------------------------------

    def create_v2(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        configs = params.get("DomainNameConfigurations") or [{}]
        cfg = configs[0] or {}
        if (cfg.get("EndpointType") or "REGIONAL") != "REGIONAL":
            raise BadRequestException("Only REGIONAL domain names are supported by apigatewayv2")
        v1: dict[str, Any] = {"domainName": params["DomainName"], "endpointConfiguration": {"types": ["REGIONAL"]},
                              "regionalCertificateArn": cfg.get("CertificateArn"), "regionalCertificateName": cfg.get("CertificateName"),
                              "securityPolicy": cfg.get("SecurityPolicy"), "tags": params.get("Tags"),
                              "ownershipVerificationCertificateArn": cfg.get("OwnershipVerificationCertificateArn"),
                              "routingMode": params.get("RoutingMode")}
        if params.get("MutualTlsAuthentication"):
            v1["mutualTlsAuthentication"] = {"truststoreUri": params["MutualTlsAuthentication"].get("TruststoreUri"),
                                             "truststoreVersion": params["MutualTlsAuthentication"].get("TruststoreVersion")}
        return self.create(account, region, v1)

    def update_v2(self, account: str, region: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get(account, region, name)
        for cfg in (params.get("DomainNameConfigurations") or [])[:1]:
            for src, dst in (("CertificateArn", "regionalCertificateArn"), ("CertificateName", "regionalCertificateName"),
                             ("SecurityPolicy", "securityPolicy"), ("OwnershipVerificationCertificateArn", "ownershipVerificationCertificateArn")):
                if cfg.get(src) is not None:
                    doc[dst] = cfg[src]
        if params.get("RoutingMode") is not None:
            doc["routingMode"] = params["RoutingMode"]
        if params.get("MutualTlsAuthentication") is not None:
            doc["mutualTlsAuthentication"] = {"truststoreUri": params["MutualTlsAuthentication"].get("TruststoreUri"),
                                              "truststoreVersion": params["MutualTlsAuthentication"].get("TruststoreVersion")}
        self._save(doc)
        return doc

    def _target(self, account: str, api_id: str, stage: str) -> str:
        """``rest`` or ``http``: the kind of API a v2 mapping names (its stage must exist)."""
        try:
            self.rest.get_api(api_id, account)
        except NotFoundException:
            if self.http is None:
                raise
            doc = self.http.get_api(api_id, account)  # NotFoundException when neither
            if stage not in (doc.get("stages") or {}):
                raise NotFoundException(f"Invalid stage identifier specified: {stage}") from None
            return "http"
        if self.db.get(STAGE, f"{api_id}/{stage}") is None:
            raise NotFoundException(f"Invalid stage identifier specified: {stage}")
        return "rest"

    @staticmethod
    def _by_id(doc: dict[str, Any], mapping_id: str) -> dict[str, Any]:
        for m in doc["mappings"].values():
            if m.get("apiMappingId") == mapping_id:
                return m
        raise NotFoundException(f"Unable to find ApiMapping with id '{mapping_id}'")

    def create_api_mapping(self, account: str, region: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get(account, region, name)
        base = self._base_path(params.get("ApiMappingKey"))
        kind = self._target(account, params["ApiId"], params["Stage"])
        if base in doc["mappings"]:
            raise ConflictException(f"ApiMapping with key '{params.get('ApiMappingKey') or ''}' already exists for this domain name")
        m = {"basePath": base, "restApiId": params["ApiId"], "stage": params["Stage"], "apiMappingId": ids.new_id(MAPPING_ID_LEN),
             "kind": kind}
        doc["mappings"][base] = m
        self._save(doc)
        return m

    def get_api_mapping(self, account: str, region: str, name: str, mapping_id: str) -> dict[str, Any]:
        return self._by_id(self.get(account, region, name), mapping_id)

    def update_api_mapping(self, account: str, region: str, name: str, mapping_id: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get(account, region, name)
        m = dict(self._by_id(doc, mapping_id))
        old = m["basePath"]
        if params.get("ApiMappingKey") is not None:
            m["basePath"] = self._base_path(params["ApiMappingKey"])
        m["restApiId"] = params["ApiId"]
        if params.get("Stage") is not None:
            m["stage"] = params["Stage"]
        m["kind"] = self._target(account, m["restApiId"], m.get("stage") or "")
        if m["basePath"] != old and m["basePath"] in doc["mappings"]:
            raise ConflictException("ApiMapping with this key already exists for this domain name")
        del doc["mappings"][old]
        doc["mappings"][m["basePath"]] = m
        self._save(doc)
        return m

    def delete_api_mapping(self, account: str, region: str, name: str, mapping_id: str) -> None:
        doc = self.get(account, region, name)
        del doc["mappings"][self._by_id(doc, mapping_id)["basePath"]]
        self._save(doc)


def v1_mapping(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in ("basePath", "restApiId", "stage") if k in m}


def v2_mapping(m: dict[str, Any]) -> dict[str, Any]:
    out = {"ApiId": m["restApiId"], "ApiMappingId": m.get("apiMappingId", ""), "Stage": m.get("stage", "")}
    if m["basePath"] != NONE_BASE_PATH:
        out["ApiMappingKey"] = m["basePath"]
    return out


def v2_domain(doc: dict[str, Any]) -> dict[str, Any]:
    """A domain name as apigatewayv2 shows it."""
    cfg: dict[str, Any] = {"DomainNameStatus": doc.get("domainNameStatus", "AVAILABLE"), "SecurityPolicy": doc.get("securityPolicy", "TLS_1_2")}
    if "REGIONAL" in doc["endpointConfiguration"]["types"]:
        cfg.update(ApiGatewayDomainName=doc.get("regionalDomainName"), EndpointType="REGIONAL", HostedZoneId=doc.get("regionalHostedZoneId"),
                   CertificateArn=doc.get("regionalCertificateArn"), CertificateName=doc.get("regionalCertificateName"))
    else:
        cfg.update(ApiGatewayDomainName=doc.get("distributionDomainName"), EndpointType="EDGE",
                   HostedZoneId=doc.get("distributionHostedZoneId"), CertificateArn=doc.get("certificateArn"),
                   CertificateName=doc.get("certificateName"))
    out: dict[str, Any] = {"DomainName": doc["domainName"], "DomainNameArn": doc["domainNameArn"],
                           "ApiMappingSelectionExpression": "$request.basepath",
                           "DomainNameConfigurations": [{k: v for k, v in cfg.items() if v is not None}], "Tags": doc.get("tags") or {}}
    mtls = doc.get("mutualTlsAuthentication")
    if mtls:
        out["MutualTlsAuthentication"] = {"TruststoreUri": mtls.get("truststoreUri"), "TruststoreVersion": mtls.get("truststoreVersion")}
    if doc.get("routingMode"):
        out["RoutingMode"] = doc["routingMode"]
    return out


def route(doc: dict[str, Any], path: str) -> tuple[dict[str, Any], str] | None:
    """The mapping serving ``path`` on a domain and the path left after its base path: the longest
    named base path that is a whole-segment prefix, else the ``(none)`` mapping."""
    mappings: dict[str, dict[str, Any]] = doc.get("mappings") or {}
    stripped = path.lstrip("/")
    best: tuple[dict[str, Any], str] | None = None
    for base, m in mappings.items():
        if base == NONE_BASE_PATH:
            continue
        if stripped == base or stripped.startswith(base + "/"):
            if best is None or len(base) > len(best[0]["basePath"]):
                best = (m, "/" + stripped[len(base) + 1:])
    if best is None and NONE_BASE_PATH in mappings:
        best = (mappings[NONE_BASE_PATH], path if path.startswith("/") else "/" + path)
    return best

"""Custom domain names of REST APIs and their base path mappings (CreateDomainName,
CreateBasePathMapping and their kin), as documents in the metadata store (kind ``apigw.domain``, key
``{region}/{domain name}``; the mappings live inside their domain's document).

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
from nimbus.services.apigateway.restapis import STAGE, RestApis, _unescape

DOMAIN = "apigw.domain"  # key: region/domain name
NONE_BASE_PATH = "(none)"
_DOMAIN_NAME = re.compile(r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")
_BASE_PATH = re.compile(r"[A-Za-z0-9$_.+!*'()-]+(/[A-Za-z0-9$_.+!*'()-]+)*")
# Route 53 alias targets: AWS's published hosted zone ids (edge: CloudFront's)
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
REGIONAL_ZONE_IDS = {"us-east-1": "Z1UJRXOUMOOFQ8", "us-east-2": "ZOJJZC49E0EPZ", "us-west-1": "Z2MUQ32089INYE",
                     "us-west-2": "Z2OJLYMUO9EFXC", "eu-west-1": "ZLY8HYME6SFDD", "eu-central-1": "Z1U9ULNL0V5AJ3"}
_CERT_FIELDS = ("certificateName", "certificateArn", "regionalCertificateName", "regionalCertificateArn",
                "ownershipVerificationCertificateArn")


class DomainNames:
    def __init__(self, rest: RestApis) -> None:
        self.rest = rest
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
        m = {"basePath": base, "restApiId": params["restApiId"]}
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

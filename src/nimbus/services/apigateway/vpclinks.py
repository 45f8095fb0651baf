"""VPC links: ``apigateway`` CreateVpcLink & co. (to network load balancers, by ``targetArns``) and
``apigatewayv2`` CreateVpcLink & co. (to subnets and security groups). Recorded only: Nimbus has no
VPC, so no traffic goes through a link (an integration naming one is recorded, not served).

Each link is one metadata document (v1 ``apigw.vpclink``, v2 ``apigw2.vpclink``, key: id) holding its
account and region; a link is ``AVAILABLE`` as soon as it is created (AWS: PENDING for minutes).
"""

from __future__ import annotations

import re
import time
from typing import Any

from nimbus.services.apigateway import ids
from nimbus.services.apigateway.errors import BadRequestException, ConflictException, NotFoundException
from nimbus.services.apigateway.restapis import API

V1_LINK = "apigw.vpclink"  # key: link id
V2_LINK = "apigw2.vpclink"  # key: link id
VPC_LINK_ID_LEN = 6  # AWS: e.g. "abc123"
V1_READY = "Your vpc link is ready for use"
V2_READY = "VPC link is ready to route traffic"
_NLB_ARN = re.compile(r"arn:aws[\w-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer/net/.+")


class VpcLinks:
    def __init__(self, metadata: Any) -> None:
        self.db = metadata

    def _new_id(self, kind: str) -> str:
        link_id = ids.new_id(VPC_LINK_ID_LEN)
        while self.db.get(kind, link_id) is not None:
            link_id = ids.new_id(VPC_LINK_ID_LEN)
        return link_id

    @staticmethod
    def _mine(doc: dict[str, Any] | None, account: str, region: str) -> bool:
        return doc is not None and doc["account"] == account and doc["region"] == region

    # --- apigateway (REST APIs) ----------------------------------------------------------------

    def create_v1(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        arns = list(params.get("targetArns") or [])
        if len(arns) != 1:  # AWS: exactly one network load balancer per link
            raise BadRequestException("Invalid targetArns specified: a VPC link targets exactly one network load balancer")
        if not _NLB_ARN.fullmatch(arns[0]):
            raise BadRequestException(f"Invalid ARN specified in the request: {arns[0]} is not a network load balancer ARN")
        if not str(params.get("name") or "").strip():
            raise BadRequestException("Invalid VPC link name specified: it must not be empty")
        link: dict[str, Any] = {"id": self._new_id(V1_LINK), "name": params["name"], "targetArns": arns, "status": "AVAILABLE",
                                "statusMessage": V1_READY, "tags": dict(params.get("tags") or {}), "account": account, "region": region}
        if params.get("description") is not None:
            link["description"] = params["description"]
        self.db.put(V1_LINK, link["id"], link)
        return link

    def get_v1(self, account: str, region: str, link_id: str) -> dict[str, Any]:
        doc: dict[str, Any] | None = self.db.get(V1_LINK, link_id)
        if doc is None or not self._mine(doc, account, region):
            raise NotFoundException(f"VPC link {link_id} not found")
        return doc

    def list_v1(self, account: str, region: str) -> list[dict[str, Any]]:
        return sorted((d for _, d in self.db.list(V1_LINK) if self._mine(d, account, region)), key=lambda d: d["name"])

    def update_v1(self, account: str, region: str, link_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        link = dict(self.get_v1(account, region, link_id))
        for op in ops:
            path, value, kind = op.get("path", ""), op.get("value"), op.get("op", "replace")
            if path == "/name" and kind == "replace" and str(value or "").strip():
                link["name"] = str(value)
            elif path == "/description":
                if kind == "remove" or value is None:
                    link.pop("description", None)
                else:
                    link["description"] = str(value)
            else:
                raise BadRequestException(f"Invalid patch path {path}")
        self.db.put(V1_LINK, link_id, link)
        return link

    def delete_v1(self, account: str, region: str, link_id: str) -> None:
        self.get_v1(account, region, link_id)
        for _, api in self.db.list(API):  # AWS refuses to delete a link an integration still uses
            if api["account"] != account:
                continue
            for res in api["resources"].values():
                for verb, method in (res.get("resourceMethods") or {}).items():
                    integ = method.get("methodIntegration") or {}
                    if integ.get("connectionType") == "VPC_LINK" and integ.get("connectionId") == link_id:
                        raise ConflictException(f"Cannot delete vpc link. Vpc link '{link_id}', is referenced in "
                                                f"[{verb}:{res['id']}] in format [Method:Resource].")
        self.db.delete(V1_LINK, link_id)

    def set_tags_v1(self, doc: dict[str, Any], tags: dict[str, str]) -> None:
        doc["tags"] = tags
        self.db.put(V1_LINK, doc["id"], doc)

    # --- apigatewayv2 ---------------------------------------------------------------------------

    def create_v2(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        if not str(params.get("Name") or "").strip():
            raise BadRequestException("Invalid VPC link name specified: it must not be empty")
        if not params.get("SubnetIds"):
            raise BadRequestException("SubnetIds must contain at least one subnet")
        link: dict[str, Any] = {"VpcLinkId": self._new_id(V2_LINK), "Name": params["Name"], "CreatedDate": time.time(),
                                "SubnetIds": list(params["SubnetIds"]), "SecurityGroupIds": list(params.get("SecurityGroupIds") or []),
                                "Tags": dict(params.get("Tags") or {}), "VpcLinkStatus": "AVAILABLE", "VpcLinkStatusMessage": V2_READY,
                                "VpcLinkVersion": "V2", "account": account, "region": region}
        self.db.put(V2_LINK, link["VpcLinkId"], link)
        return link

    def get_v2(self, account: str, region: str, link_id: str) -> dict[str, Any]:
        doc: dict[str, Any] | None = self.db.get(V2_LINK, link_id)
        if doc is None or not self._mine(doc, account, region):
            raise NotFoundException(f"Unable to find VpcLink with id '{link_id}'", ResourceType="VpcLink")
        return doc

    def list_v2(self, account: str, region: str) -> list[dict[str, Any]]:
        return sorted((d for _, d in self.db.list(V2_LINK) if self._mine(d, account, region)), key=lambda d: d["CreatedDate"])

    def update_v2(self, account: str, region: str, link_id: str, params: dict[str, Any]) -> dict[str, Any]:
        link = self.get_v2(account, region, link_id)
        if params.get("Name") is not None:
            if not str(params["Name"]).strip():
                raise BadRequestException("Invalid VPC link name specified: it must not be empty")
            link["Name"] = params["Name"]
        self.db.put(V2_LINK, link_id, link)
        return link

    def delete_v2(self, account: str, region: str, link_id: str) -> None:
        self.get_v2(account, region, link_id)
        self.db.delete(V2_LINK, link_id)

    def set_tags_v2(self, doc: dict[str, Any], tags: dict[str, str]) -> None:
        doc["Tags"] = tags
        self.db.put(V2_LINK, doc["VpcLinkId"], doc)


def v1_out(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("account", "region")}


def v2_out(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("account", "region")}

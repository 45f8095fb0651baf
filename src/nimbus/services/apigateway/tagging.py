"""TagResource, UntagResource and GetTags of both APIs (``apigateway`` and ``apigatewayv2``), by ARN:
``arn:aws:apigateway:{region}::/restapis/{id}``, ``…/restapis/{id}/stages/{name}``, ``…/apikeys/{id}``,
``…/usageplans/{id}``, ``…/apis/{id}`` (HTTP and WebSocket APIs), ``…/apis/{id}/stages/{name}``,
``…/domainnames/{name}`` (one resource seen by both APIs), ``…/vpclinks/{id}`` (a v1 or a v2 link) and
``…/clientcertificates/{id}``.
Tags live in the resource's own document (``tags``, or ``Tags`` for apigatewayv2 records), where the
Create* operations put them, so they are returned by the Get* operations too and go with the resource.
"""

from __future__ import annotations

import re
from typing import Any

from nimbus.services.apigateway.clientcerts import ClientCertificates
from nimbus.services.apigateway.domains import DomainNames
from nimbus.services.apigateway.errors import BadRequestException, NotFoundException
from nimbus.services.apigateway.httpapis import HttpApis
from nimbus.services.apigateway.restapis import API, API_KEY, STAGE, USAGE_PLAN, RestApis
from nimbus.services.apigateway.vpclinks import V1_LINK, V2_LINK, VpcLinks

MAX_TAGS = 50  # per resource (apigateway limits)
MAX_KEY_LEN = 128
MAX_VALUE_LEN = 256
_ARN = re.compile(r"arn:aws[\w-]*:apigateway:([a-z0-9-]+)::(/.+)")


class Tags:
    def __init__(self, rest: RestApis, domains: DomainNames, http: HttpApis, links: VpcLinks, certs: ClientCertificates) -> None:
        self.rest = rest
        self.domains = domains
        self.http = http
        self.links = links
        self.certs = certs

    def _resource(self, account: str, region: str, arn: str) -> tuple[dict[str, Any], Any]:
        """The document an ARN names and a function that saves it with new tags."""
        m = _ARN.fullmatch(arn)
        if m is None:
            raise BadRequestException(f"Invalid ARN specified: {arn}")
        if m.group(1) != region:
            raise NotFoundException(f"Invalid resource ARN specified: {arn} is not in {region}")
        parts = m.group(2).strip("/").split("/")
        db = self.rest.db
        if parts[0] == "restapis" and len(parts) >= 2 and self.rest.get_api(parts[1], account).get("region") not in (None, region):
            raise NotFoundException(f"Invalid resource ARN specified: {arn} is not in {region}")
        if parts[0] == "restapis" and len(parts) == 2:
            doc = self.rest.get_api(parts[1], account)

            def save(tags: dict[str, str]) -> None:
                doc["tags"] = tags
                db.put(API, parts[1], doc)
                self.rest._changed()
            return doc, save
        if parts[0] == "restapis" and len(parts) == 4 and parts[2] == "stages":
            stage = self.rest.get_stage(parts[1], account, parts[3])

            def save_stage(tags: dict[str, str]) -> None:
                stage["tags"] = tags
                db.put(STAGE, f"{parts[1]}/{parts[3]}", stage)
                self.rest._changed()
            return stage, save_stage
        if parts[0] == "domainnames" and len(parts) == 2:
            domain = self.domains.get(account, region, parts[1])
            return domain, lambda tags: self.domains.set_tags(domain, tags)
        if parts[0] in ("apikeys", "usageplans") and len(parts) == 2:
            kind = API_KEY if parts[0] == "apikeys" else USAGE_PLAN
            rec = self.rest.get_key(parts[1], account) if kind == API_KEY else self.rest.get_plan(parts[1], account)

            def save_rec(tags: dict[str, str]) -> None:
                rec["tags"] = tags
                db.put(kind, parts[1], rec)
                self.rest._changed()
            return rec, save_rec
        if parts[0] == "apis" and len(parts) in (2, 4) and (len(parts) == 2 or parts[2] == "stages"):
            return self._v2_api(account, region, arn, parts)
        if parts[0] == "clientcertificates" and len(parts) == 2:
            cert = self.certs.get(account, region, parts[1])
            return cert, lambda tags: self.certs.set_tags(cert, tags)
        if parts[0] == "vpclinks" and len(parts) == 2:
            v1 = self.links.db.get(V1_LINK, parts[1])
            if v1 is not None:
                link = self.links.get_v1(account, region, parts[1])
                return link, lambda tags: self.links.set_tags_v1(link, tags)
            if self.links.db.get(V2_LINK, parts[1]) is not None:
                link = self.links.get_v2(account, region, parts[1])
                return {"tags": link.get("Tags") or {}}, lambda tags: self.links.set_tags_v2(link, tags)
        raise NotFoundException(f"Invalid resource ARN specified: {arn}")

    def _v2_api(self, account: str, region: str, arn: str, parts: list[str]) -> tuple[dict[str, Any], Any]:
        """An HTTP or WebSocket API (``Tags``), or one of its stages."""
        doc = self.http.get_api(parts[1], account)
        if doc.get("region") != region:
            raise NotFoundException(f"Invalid resource ARN specified: {arn} is not in {region}")
        target = doc
        if len(parts) == 4:
            target = doc["stages"].get(parts[3])
            if target is None:
                raise NotFoundException(f"Unable to find Stage with name '{parts[3]}'", ResourceType="Stage")

        def save(tags: dict[str, str]) -> None:
            target["Tags"] = tags
            self.http._save(doc)
        return {"tags": target.get("Tags") or {}}, save

    def get(self, account: str, region: str, arn: str) -> dict[str, str]:
        doc, _ = self._resource(account, region, arn)
        return dict(doc.get("tags") or {})

    def tag(self, account: str, region: str, arn: str, tags: dict[str, str]) -> None:
        doc, save = self._resource(account, region, arn)
        merged = {**(doc.get("tags") or {})}
        for k, v in tags.items():
            if not k or len(k) > MAX_KEY_LEN or len(v) > MAX_VALUE_LEN:
                raise BadRequestException(f"Invalid tag: keys are 1-{MAX_KEY_LEN} characters, values at most {MAX_VALUE_LEN}")
            if k.lower().startswith("aws:"):
                raise BadRequestException("Tag keys starting with 'aws:' are reserved for AWS use")
            merged[k] = v
        if len(merged) > MAX_TAGS:
            raise BadRequestException(f"Too many tags: a resource can have at most {MAX_TAGS}")
        save(merged)

    def untag(self, account: str, region: str, arn: str, keys: list[str]) -> None:
        doc, save = self._resource(account, region, arn)
        save({k: v for k, v in (doc.get("tags") or {}).items() if k not in set(keys)})

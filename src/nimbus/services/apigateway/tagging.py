"""TagResource, UntagResource and GetTags for REST API resources, by ARN
(``arn:aws:apigateway:{region}::/restapis/{id}``, ``…/restapis/{id}/stages/{name}``,
``…/domainnames/{name}``, ``…/apikeys/{id}``, ``…/usageplans/{id}``). Tags live in the resource's own
document (``tags``), where CreateRestApi, CreateStage, CreateDomainName, CreateApiKey and CreateUsagePlan
put them, so they are returned by the Get* operations too and go with the resource.
"""

from __future__ import annotations

import re
from typing import Any

from nimbus.services.apigateway.domains import DomainNames
from nimbus.services.apigateway.errors import BadRequestException, NotFoundException
from nimbus.services.apigateway.restapis import API, API_KEY, STAGE, USAGE_PLAN, RestApis

MAX_TAGS = 50  # per resource (apigateway limits)
MAX_KEY_LEN = 128
MAX_VALUE_LEN = 256
_ARN = re.compile(r"arn:aws[\w-]*:apigateway:([a-z0-9-]+)::(/.+)")


class Tags:
    def __init__(self, rest: RestApis, domains: DomainNames) -> None:
        self.rest = rest
        self.domains = domains

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
        raise NotFoundException(f"Invalid resource ARN specified: {arn}")

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

"""Layers and layer versions. Their zips live in the code store like function packages; a function
records the packages of the layer versions it references (so deleting a layer version later does not
change functions that use it, as on AWS), and the runtime mounts their extracted directories at /opt.

Documents: ``lambda.layer`` (acct:region:name → next version) and ``lambda.layerver``
(acct:region:name:0000000001 → the LayerVersion as AWS returns it, plus ``_code``).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from nimbus.services.lambda_.code import CodeStore
from nimbus.services.lambda_.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from nimbus.services.lambda_.names import layer_arn, parse_layer_ref
from nimbus.storage import MetadataStore

LAYER = "lambda.layer"
LAYER_VERSION = "lambda.layerver"
LAYER_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,140}$")
LIST_PAGE_MAX = 50


def created_date(now: float) -> str:
    ms = int(now * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{ms:03d}+0000"


class Layers:
    def __init__(self, metadata: MetadataStore, code: CodeStore, *, clock_time: Callable[[], float] = time.time) -> None:
        self.db = metadata
        self.code = code
        self.now = clock_time

    def _out(self, doc: dict[str, Any], endpoint_url: str | None) -> dict[str, Any]:
        out = {k: v for k, v in doc.items() if not k.startswith("_")}
        if endpoint_url is not None:
            out["Content"] = {**out["Content"], "Location": self.code.location(endpoint_url, doc["_code"]["sha256_hex"])}
        return out

    async def publish(self, region: str, account: str, name: str, params: dict[str, Any], endpoint_url: str) -> dict[str, Any]:
        if not LAYER_NAME_RE.match(name):
            raise InvalidParameterValueException(f"Invalid layer name: {name}")
        content = params.get("Content") or {}
        data = content.get("ZipFile")
        if data is None:
            raise InvalidParameterValueException("Nimbus accepts layer content as Content.ZipFile.")
        pkg = await self.code.store(bytes(data))
        key = f"{account}:{region}:{name}"
        layer = self.db.get(LAYER, key) or {"NextVersion": 1, "LayerName": name, "LayerArn": layer_arn(region, account, name)}
        number = int(layer["NextVersion"])
        layer["NextVersion"] = number + 1
        arn = layer_arn(region, account, name)
        doc: dict[str, Any] = {
            "Content": {"CodeSha256": pkg.sha256_b64, "CodeSize": pkg.size},
            "LayerArn": arn,
            "LayerVersionArn": f"{arn}:{number}",
            "Description": params.get("Description") or "",
            "CreatedDate": created_date(self.now()),
            "Version": number,
            "_code": pkg.doc(),
        }
        for k in ("CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
            if params.get(k):
                doc[k] = params[k]
        with self.db.transaction():
            self.db.put(LAYER, key, layer)
            self.db.put(LAYER_VERSION, f"{key}:{number:010d}", doc)
        return self._out(doc, endpoint_url)

    def _version_doc(self, region: str, account: str, name: str, version: int) -> dict[str, Any]:
        doc = self.db.get(LAYER_VERSION, f"{account}:{region}:{name}:{version:010d}")
        if doc is None:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return doc

    def get(self, region: str, account: str, name: str, version: int, endpoint_url: str) -> dict[str, Any]:
        region, account, name, _ = parse_layer_ref(name, region=region, account=account)
        return self._out(self._version_doc(region, account, name, version), endpoint_url)

    def get_by_arn(self, arn: str, endpoint_url: str) -> dict[str, Any]:
        region, account, name, version = parse_layer_ref(arn, region="", account="")
        if version is None:
            raise InvalidParameterValueException(f"Invalid layer version ARN: {arn}")
        return self._out(self._version_doc(region, account, name, version), endpoint_url)

    # --- layer version permissions (who may use a layer version: "lambda:GetLayerVersion") ----------------

    def add_permission(self, region: str, account: str, name: str, version: int, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
        region, account, name, _ = parse_layer_ref(name, region=region, account=account)
        key = f"{account}:{region}:{name}:{version:010d}"
        doc = self._version_doc(region, account, name, version)
        policy = doc.get("_policy") or {"Statement": [], "RevisionId": str(uuid.uuid4())}
        if params.get("RevisionId") and params["RevisionId"] != policy["RevisionId"]:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id")
        sid = params["StatementId"]
        if any(st["Sid"] == sid for st in policy["Statement"]):
            raise ResourceConflictException(
                f"The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement.")
        if params["Action"] != "lambda:GetLayerVersion":
            raise InvalidParameterValueException("The only supported action for layer version permissions is lambda:GetLayerVersion.")
        principal = str(params["Principal"])
        statement: dict[str, Any] = {
            "Sid": sid, "Effect": "Allow",
            "Principal": "*" if principal == "*" else {"AWS": principal if principal.startswith("arn:") else f"arn:aws:iam::{principal}:root"},
            "Action": "lambda:GetLayerVersion", "Resource": doc["LayerVersionArn"],
        }
        if params.get("OrganizationId"):
            statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": params["OrganizationId"]}}
        policy = {"Statement": [*policy["Statement"], statement], "RevisionId": str(uuid.uuid4())}
        doc["_policy"] = policy
        self.db.put(LAYER_VERSION, key, doc)
        return statement, policy["RevisionId"]

    def get_policy(self, region: str, account: str, name: str, version: int) -> tuple[dict[str, Any], str]:
        region, account, name, _ = parse_layer_ref(name, region=region, account=account)
        policy = self._version_doc(region, account, name, version).get("_policy")
        if not policy or not policy["Statement"]:
            raise ResourceNotFoundException("No policy is associated with the given resource.")
        return {"Version": "2012-10-17", "Id": "default", "Statement": policy["Statement"]}, policy["RevisionId"]

    def remove_permission(self, region: str, account: str, name: str, version: int, sid: str, revision_id: str | None) -> None:
        region, account, name, _ = parse_layer_ref(name, region=region, account=account)
        key = f"{account}:{region}:{name}:{version:010d}"
        doc = self._version_doc(region, account, name, version)
        policy = doc.get("_policy") or {"Statement": [], "RevisionId": ""}
        if revision_id and revision_id != policy["RevisionId"]:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id")
        kept = [st for st in policy["Statement"] if st["Sid"] != sid]
        if len(kept) == len(policy["Statement"]):
            raise ResourceNotFoundException(f"Statement {sid} is not found in resource policy.")
        doc["_policy"] = {"Statement": kept, "RevisionId": str(uuid.uuid4())}
        self.db.put(LAYER_VERSION, key, doc)

    def delete(self, region: str, account: str, name: str, version: int) -> None:
        region, account, name, _ = parse_layer_ref(name, region=region, account=account)
        self.db.delete(LAYER_VERSION, f"{account}:{region}:{name}:{version:010d}")  # 204 even if missing

    def list_versions(self, region: str, account: str, name: str, runtime: str | None, marker: str | None, max_items: int | None) -> tuple[list[dict[str, Any]], str | None]:
        region, account, name, _ = parse_layer_ref(name, region=region, account=account)
        docs = [d for _, d in self.db.list(LAYER_VERSION, f"{account}:{region}:{name}:")]
        docs.reverse()  # newest first, as AWS lists them
        if runtime:
            docs = [d for d in docs if runtime in (d.get("CompatibleRuntimes") or [])]
        start = int(marker) if marker and marker.isdigit() else 0
        limit = min(max_items or LIST_PAGE_MAX, LIST_PAGE_MAX)
        page = docs[start : start + limit]
        out = [self._out(d, None) for d in page]
        for o in out:
            o.pop("Content", None)
        return out, (str(start + limit) if start + limit < len(docs) else None)

    def list_layers(self, region: str, account: str, runtime: str | None, marker: str | None, max_items: int | None) -> tuple[list[dict[str, Any]], str | None]:
        out: list[dict[str, Any]] = []
        for key, layer in self.db.list(LAYER, f"{account}:{region}:"):
            versions = [d for _, d in self.db.list(LAYER_VERSION, key + ":")]
            if runtime:
                versions = [d for d in versions if runtime in (d.get("CompatibleRuntimes") or [])]
            if not versions:
                continue
            latest = {k: v for k, v in versions[-1].items() if not k.startswith("_") and k not in ("Content", "LayerArn")}
            latest["LayerVersionArn"] = versions[-1]["LayerVersionArn"]
            out.append({"LayerName": layer["LayerName"], "LayerArn": layer["LayerArn"], "LatestMatchingVersion": latest})
        start = int(marker) if marker and marker.isdigit() else 0
        limit = min(max_items or LIST_PAGE_MAX, LIST_PAGE_MAX)
        return out[start : start + limit], (str(start + limit) if start + limit < len(out) else None)

    def resolve(self, arns: list[str], region: str, account: str) -> list[dict[str, Any]]:
        """Function ``Layers`` (layer version ARNs) → [{arn, sha256_hex, size}], in order."""
        out: list[dict[str, Any]] = []
        for arn in arns:
            r, a, name, version = parse_layer_ref(arn, region=region, account=account)
            doc = self.db.get(LAYER_VERSION, f"{a}:{r}:{name}:{version:010d}") if version is not None else None
            if doc is None:
                raise InvalidParameterValueException(f"Layer version {arn} does not exist.")
            out.append({"arn": arn, "sha256_hex": doc["_code"]["sha256_hex"], "size": doc["Content"]["CodeSize"]})
        return out

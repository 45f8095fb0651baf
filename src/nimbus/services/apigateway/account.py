"""GetAccount / UpdateAccount: API Gateway's per-account, per-region settings, one document in the
metadata store (kind ``apigw.account``, key ``{account}/{region}``). Recorded only: the CloudWatch
role is not used (Nimbus writes no execution logs) and ``throttleSettings`` shows AWS's account
defaults, which Nimbus does not enforce.
"""

from __future__ import annotations

import re
from typing import Any

from nimbus.services.apigateway.errors import BadRequestException

ACCOUNT = "apigw.account"
# AWS's default account-level throttle (requests per second, burst)
DEFAULT_THROTTLE = {"burstLimit": 5000, "rateLimit": 10000.0}
_ROLE_ARN = re.compile(r"arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+")


class Account:
    def __init__(self, metadata: Any) -> None:
        self.db = metadata

    def get(self, account: str, region: str) -> dict[str, Any]:
        doc: dict[str, Any] | None = self.db.get(ACCOUNT, f"{account}/{region}")
        out: dict[str, Any] = {"throttleSettings": dict(DEFAULT_THROTTLE), "features": ["UsagePlans"], "apiKeyVersion": "4"}
        if doc is not None:
            out.update(doc)
        return out

    def update(self, account: str, region: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        doc = self.get(account, region)
        for op in ops:
            path, value, kind = op.get("path", ""), op.get("value"), op.get("op", "replace")
            if path == "/cloudwatchRoleArn":
                if kind == "remove" or not value:
                    doc.pop("cloudwatchRoleArn", None)
                elif not _ROLE_ARN.fullmatch(str(value)):
                    raise BadRequestException("The role ARN is not well formed")
                else:
                    doc["cloudwatchRoleArn"] = str(value)
            elif path == "/features":
                features = [f for f in doc.get("features", []) if f != value]
                doc["features"] = features + ([str(value)] if kind in ("add", "replace") and value else [])
            else:
                raise BadRequestException(f"Invalid patch path {path}")
        self.db.put(ACCOUNT, f"{account}/{region}", doc)
        return doc

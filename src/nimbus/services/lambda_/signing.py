"""Code signing configurations: recorded, and attached to functions, as Lambda keeps them; not applied
(Nimbus has no AWS Signer to check a package's signature against, so ``UntrustedArtifactOnDeployment:
Enforce`` refuses nothing). Tools that manage them (Terraform's aws_lambda_code_signing_config, CDK) read
back what they wrote.

Documents: ``lambda.csc`` (acct:region:csc-id → the CodeSigningConfig as AWS returns it); a function's
``CodeSigningConfigArn`` is a member of its ``lambda.fn`` document.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from nimbus.services.lambda_.errors import ResourceConflictException, ResourceNotFoundException
from nimbus.services.lambda_.functions import FN, Functions, last_modified
from nimbus.services.lambda_.names import FunctionRef

KIND = "lambda.csc"
PAGE_MAX = 50


class CodeSigning:
    def __init__(self, functions: Functions, clock_time: Callable[[], float]) -> None:
        self.functions = functions
        self.db = functions.db
        self.now = clock_time

    @staticmethod
    def _id(arn: str) -> str:
        return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]

    def _doc(self, account: str, region: str, arn: str) -> dict[str, Any]:
        doc = self.db.get(KIND, f"{account}:{region}:{self._id(arn)}")
        if doc is None:
            raise ResourceNotFoundException(f"The code signing configuration cannot be found. Check that the provided configuration is not deleted: {arn}.")
        return doc

    def create(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        csc_id = "csc-" + secrets.token_hex(9)[:17]
        doc = {
            "CodeSigningConfigId": csc_id,
            "CodeSigningConfigArn": f"arn:aws:lambda:{region}:{account}:code-signing-config:{csc_id}",
            "Description": params.get("Description") or "",
            "AllowedPublishers": params["AllowedPublishers"],
            "CodeSigningPolicies": params.get("CodeSigningPolicies") or {"UntrustedArtifactOnDeployment": "Warn"},
            "LastModified": last_modified(self.now()),
        }
        self.db.put(KIND, f"{account}:{region}:{csc_id}", doc)
        return doc

    def get(self, account: str, region: str, arn: str) -> dict[str, Any]:
        return self._doc(account, region, arn)

    def update(self, account: str, region: str, arn: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self._doc(account, region, arn)
        for member in ("Description", "AllowedPublishers", "CodeSigningPolicies"):
            if params.get(member) is not None:
                doc[member] = params[member]
        doc["LastModified"] = last_modified(self.now())
        self.db.put(KIND, f"{account}:{region}:{doc['CodeSigningConfigId']}", doc)
        return doc

    def delete(self, account: str, region: str, arn: str) -> None:
        doc = self._doc(account, region, arn)
        if self._users(account, region, doc["CodeSigningConfigArn"]):
            raise ResourceConflictException("The code signing configuration cannot be deleted because it is used by one or more functions.")
        self.db.delete(KIND, f"{account}:{region}:{doc['CodeSigningConfigId']}")

    def list(self, account: str, region: str, marker: str | None, max_items: int | None) -> tuple[list[dict[str, Any]], str | None]:
        docs = [d for _, d in self.db.list(KIND, f"{account}:{region}:")]
        start = int(marker) if marker and marker.isdigit() else 0
        size = min(max_items or PAGE_MAX, PAGE_MAX)
        return docs[start:start + size], (str(start + size) if start + size < len(docs) else None)

    def _users(self, account: str, region: str, arn: str) -> list[str]:
        return [fn["Arn"] for _, fn in self.db.list(FN, f"{account}:{region}:") if fn.get("CodeSigningConfigArn") == arn]

    def functions_using(self, account: str, region: str, arn: str, marker: str | None, max_items: int | None) -> tuple[list[str], str | None]:
        self._doc(account, region, arn)
        arns = self._users(account, region, arn)
        start = int(marker) if marker and marker.isdigit() else 0
        size = min(max_items or PAGE_MAX, PAGE_MAX)
        return arns[start:start + size], (str(start + size) if start + size < len(arns) else None)

    def attach(self, ref: FunctionRef, arn: str | None) -> None:
        fn = self.functions.function_doc(ref)
        if arn is not None:
            self._doc(ref.account, ref.region, arn)
            fn["CodeSigningConfigArn"] = arn
        else:
            fn.pop("CodeSigningConfigArn", None)
        self.db.put(FN, ref.key, fn)

    def of(self, ref: FunctionRef) -> str:
        return str(self.functions.function_doc(ref).get("CodeSigningConfigArn") or "")

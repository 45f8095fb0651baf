"""Identity providers: OpenID Connect (GitHub Actions, EKS, Cognito...) and SAML. Recorded as IAM keeps them,
so that infrastructure code (Terraform's aws_iam_openid_connect_provider and aws_iam_saml_provider,
CloudFormation, CDK) creates, reads, updates, tags and deletes them. Nimbus's STS does not federate through
them (AssumeRoleWithWebIdentity and AssumeRoleWithSAML answer 501).

Documents: ``iam.oidc`` (``<account>:<url without https://>``) and ``iam.saml`` (``<account>:<name>``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from nimbus.services.iam.errors import EntityAlreadyExistsException, InvalidInputException, LimitExceededException, NoSuchEntityException

if TYPE_CHECKING:
    from nimbus.services.iam.engine import Iam

OIDC = "iam.oidc"
SAML = "iam.saml"
MAX_CLIENT_IDS = 100
MAX_THUMBPRINTS = 5
MAX_TAGS = 50
MAX_PROVIDERS = 100  # OpenIdConnectProvidersPerAccount; SAML: 100 as well
_THUMBPRINT = re.compile(r"^[0-9a-fA-F]{40}$")
_SAML_NAME = re.compile(r"^[\w._-]{1,128}$")


def oidc_arn(account: str, url: str) -> str:
    return f"arn:aws:iam::{account}:oidc-provider/{url}"


def saml_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:saml-provider/{name}"


def _tags(current: list[list[str]], added: list[dict[str, str]], what: str) -> list[list[str]]:
    merged = {k: v for k, v in current}
    merged.update({t["Key"]: t.get("Value", "") for t in added})
    if len(merged) > MAX_TAGS:
        raise LimitExceededException(f"Cannot exceed quota for TagsPer{what}: {MAX_TAGS}.")
    return [[k, v] for k, v in merged.items()]


class Providers:
    def __init__(self, engine: Iam) -> None:
        self.engine = engine
        self.db = engine.db

    # --- OpenID Connect -----------------------------------------------------------------------------------

    def _oidc_key(self, account: str, arn: str) -> str:
        prefix = f"arn:aws:iam::{account}:oidc-provider/"
        if not arn.startswith(prefix):
            raise InvalidInputException(f"Invalid ARN {arn}: not an OpenID Connect provider of this account.")
        return f"{account}:{arn[len(prefix):]}"

    def oidc(self, account: str, arn: str) -> dict[str, Any]:
        doc = self.db.get(OIDC, self._oidc_key(account, arn))
        if doc is None:
            raise NoSuchEntityException(f"OpenIDConnect Provider not found for arn {arn}")
        return doc

    def create_oidc(self, account: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        url = str(params["Url"])
        if not url.lower().startswith("https://") or len(url) <= len("https://"):
            raise InvalidInputException("Invalid Url: it must begin with https://")
        host = url[len("https://"):].rstrip("/")
        clients = list(dict.fromkeys(params.get("ClientIDList") or []))
        prints = [t.lower() for t in params.get("ThumbprintList") or []]
        if len(clients) > MAX_CLIENT_IDS:
            raise LimitExceededException(f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}.")
        self._check_thumbprints(prints)
        if self.db.count(OIDC, f"{account}:") >= MAX_PROVIDERS:
            raise LimitExceededException(f"Cannot exceed quota for OpenIdConnectProvidersPerAccount: {MAX_PROVIDERS}.")
        doc = {"url": host, "clients": clients, "thumbprints": prints, "created": int(self.engine.now()),
               "tags": _tags([], params.get("Tags") or [], "OpenIdConnectProvider")}
        if not self.db.insert(OIDC, f"{account}:{host}", doc):
            raise EntityAlreadyExistsException(f"Provider with url https://{host} already exists.")
        return oidc_arn(account, host), doc

    @staticmethod
    def _check_thumbprints(prints: list[str]) -> None:
        if len(prints) > MAX_THUMBPRINTS:
            raise LimitExceededException(f"Thumbprint list must contain fewer than {MAX_THUMBPRINTS + 1} entries.")
        for t in prints:
            if not _THUMBPRINT.match(t):
                raise InvalidInputException(f"Thumbprint {t} must be 40 hexadecimal characters.")

    def update_oidc(self, account: str, arn: str, change: Any) -> None:
        doc = self.oidc(account, arn)
        change(doc)
        self.db.put(OIDC, self._oidc_key(account, arn), doc)

    def set_thumbprints(self, account: str, arn: str, prints: list[str]) -> None:
        prints = [t.lower() for t in prints]
        self._check_thumbprints(prints)
        self.update_oidc(account, arn, lambda d: d.__setitem__("thumbprints", prints))

    def add_client(self, account: str, arn: str, client: str) -> None:
        def change(doc: dict[str, Any]) -> None:
            if client not in doc["clients"]:
                if len(doc["clients"]) >= MAX_CLIENT_IDS:
                    raise LimitExceededException(f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}.")
                doc["clients"].append(client)
        self.update_oidc(account, arn, change)

    def remove_client(self, account: str, arn: str, client: str) -> None:
        self.update_oidc(account, arn, lambda d: d.__setitem__("clients", [c for c in d["clients"] if c != client]))

    def delete_oidc(self, account: str, arn: str) -> None:
        self.oidc(account, arn)
        self.db.delete(OIDC, self._oidc_key(account, arn))

    def list_oidc(self, account: str) -> list[str]:
        return [oidc_arn(account, d["url"]) for _, d in self.db.list(OIDC, f"{account}:")]

    def tag_oidc(self, account: str, arn: str, tags: list[dict[str, str]]) -> None:
        self.update_oidc(account, arn, lambda d: d.__setitem__("tags", _tags(d["tags"], tags, "OpenIdConnectProvider")))

    def untag_oidc(self, account: str, arn: str, keys: list[str]) -> None:
        self.update_oidc(account, arn, lambda d: d.__setitem__("tags", [[k, v] for k, v in d["tags"] if k not in keys]))

    # --- SAML -------------------------------------------------------------------------------------------

    def _saml_key(self, account: str, arn: str) -> str:
        prefix = f"arn:aws:iam::{account}:saml-provider/"
        if not arn.startswith(prefix):
            raise InvalidInputException(f"Invalid ARN {arn}: not a SAML provider of this account.")
        return f"{account}:{arn[len(prefix):]}"

    def saml(self, account: str, arn: str) -> dict[str, Any]:
        doc = self.db.get(SAML, self._saml_key(account, arn))
        if doc is None:
            raise NoSuchEntityException(f"Manifest not found for arn {arn}")
        return doc

    @staticmethod
    def _check_metadata(text: str) -> str:
        if "EntityDescriptor" not in text:
            raise InvalidInputException("Could not parse metadata")
        return text

    def create_saml(self, account: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = str(params["Name"])
        if not _SAML_NAME.match(name):
            raise InvalidInputException(f"Invalid SAML provider name {name}.")
        if self.db.count(SAML, f"{account}:") >= MAX_PROVIDERS:
            raise LimitExceededException(f"Cannot exceed quota for SAMLProvidersPerAccount: {MAX_PROVIDERS}.")
        doc = {"name": name, "metadata": self._check_metadata(str(params["SAMLMetadataDocument"])),
               "created": int(self.engine.now()), "tags": _tags([], params.get("Tags") or [], "SAMLProvider")}
        if not self.db.insert(SAML, f"{account}:{name}", doc):
            raise EntityAlreadyExistsException(f"SAMLProvider {name} already exists.")
        return saml_arn(account, name), doc

    def update_saml(self, account: str, arn: str, change: Any) -> dict[str, Any]:
        doc = self.saml(account, arn)
        change(doc)
        self.db.put(SAML, self._saml_key(account, arn), doc)
        return doc

    def set_metadata(self, account: str, arn: str, text: str) -> None:
        text = self._check_metadata(text)
        self.update_saml(account, arn, lambda d: d.__setitem__("metadata", text))

    def delete_saml(self, account: str, arn: str) -> None:
        self.saml(account, arn)
        self.db.delete(SAML, self._saml_key(account, arn))

    def list_saml(self, account: str) -> list[dict[str, Any]]:
        return [d for _, d in self.db.list(SAML, f"{account}:")]

    def tag_saml(self, account: str, arn: str, tags: list[dict[str, str]]) -> None:
        self.update_saml(account, arn, lambda d: d.__setitem__("tags", _tags(d["tags"], tags, "SAMLProvider")))

    def untag_saml(self, account: str, arn: str, keys: list[str]) -> None:
        self.update_saml(account, arn, lambda d: d.__setitem__("tags", [[k, v] for k, v in d["tags"] if k not in keys]))

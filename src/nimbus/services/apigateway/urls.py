"""Lambda function URL configs (aws-contracts.md C.4): one per function and qualifier, found by the
32-character url id that names its host. The Lambda API's *FunctionUrlConfig operations delegate
here; ``nimbus.gateway`` serves the URLs.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from nimbus.errors import ServiceError
from nimbus.services.apigateway import ids

URL = "lambda.url"  # key: url id
BY_FUNCTION = "lambda.url-fn"  # key: account/region/function/qualifier -> {"urlId"}

AUTH_TYPES = ("NONE", "AWS_IAM")
INVOKE_MODES = ("BUFFERED", "RESPONSE_STREAM")
MAX_CORS_METHODS = 6
MAX_CORS_AGE_S = 86_400


class ResourceNotFound(ServiceError):
    code = "ResourceNotFoundException"
    status = 404


class ResourceConflict(ServiceError):
    code = "ResourceConflictException"
    status = 409


class InvalidParameterValue(ServiceError):
    code = "InvalidParameterValueException"
    status = 400


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_cors(cors: dict[str, Any] | None) -> None:
    if not cors:
        return
    if len(cors.get("AllowMethods") or []) > MAX_CORS_METHODS:
        raise InvalidParameterValue(f"AllowMethods can have at most {MAX_CORS_METHODS} entries")
    age = cors.get("MaxAge")
    if age is not None and not (0 <= age <= MAX_CORS_AGE_S):
        raise InvalidParameterValue(f"MaxAge must be between 0 and {MAX_CORS_AGE_S}")


def url_host(url_id: str, region: str) -> str:
    return f"{url_id}.lambda-url.{region}.localhost"


class FunctionUrls:
    def __init__(self, metadata: Any) -> None:
        self.db = metadata
        self._cache: dict[str, dict[str, Any] | None] = {}

    def _changed(self) -> None:
        self._cache.clear()

    @staticmethod
    def _index_key(account: str, region: str, function: str, qualifier: str | None) -> str:
        return f"{account}/{region}/{function}/{qualifier or ''}"

    def find(self, account: str, region: str, function: str, qualifier: str | None) -> dict[str, Any] | None:
        ref = self.db.get(BY_FUNCTION, self._index_key(account, region, function, qualifier))
        if ref is None:
            return None
        doc: dict[str, Any] | None = self.db.get(URL, ref["urlId"])
        return doc

    def get(self, account: str, region: str, function: str, qualifier: str | None) -> dict[str, Any]:
        doc = self.find(account, region, function, qualifier)
        if doc is None:
            raise ResourceNotFound("The resource you requested does not exist.", Type="User")
        return doc

    def create(self, account: str, region: str, function: str, function_arn: str, qualifier: str | None,
               params: dict[str, Any]) -> dict[str, Any]:
        auth = params["AuthType"]
        if auth not in AUTH_TYPES:
            raise InvalidParameterValue(f"AuthType must be one of {', '.join(AUTH_TYPES)}")
        mode = params.get("InvokeMode") or "BUFFERED"
        if mode not in INVOKE_MODES:
            raise InvalidParameterValue(f"InvokeMode must be one of {', '.join(INVOKE_MODES)}")
        _check_cors(params.get("Cors"))
        if qualifier is not None and (qualifier == "$LATEST" or qualifier.isdigit()):
            raise InvalidParameterValue("Function URLs can only be created for $LATEST (no qualifier) or an alias.")
        url_id = ids.new_id(ids.URL_ID_LEN)
        now = _now()
        doc: dict[str, Any] = {
            "urlId": url_id,
            "FunctionName": function,
            "Qualifier": qualifier,
            "FunctionArn": function_arn,
            "AuthType": auth,
            "InvokeMode": mode,
            "CreationTime": now,
            "LastModifiedTime": now,
            "account": account,
            "region": region,
        }
        if params.get("Cors") is not None:
            doc["Cors"] = params["Cors"]
        with self.db.transaction():
            if not self.db.insert(BY_FUNCTION, self._index_key(account, region, function, qualifier), {"urlId": url_id}):
                raise ResourceConflict(f"Failed to create function url config for [functionArn = {function_arn}]. Error message:  FunctionUrlConfig exists for this Lambda function", Type="User")
            self.db.put(URL, url_id, doc)
        self._changed()
        return doc

    def update(self, account: str, region: str, function: str, qualifier: str | None, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get(account, region, function, qualifier)
        if params.get("AuthType") is not None:
            if params["AuthType"] not in AUTH_TYPES:
                raise InvalidParameterValue(f"AuthType must be one of {', '.join(AUTH_TYPES)}")
            doc["AuthType"] = params["AuthType"]
        if params.get("InvokeMode") is not None:
            doc["InvokeMode"] = params["InvokeMode"]
        if params.get("Cors") is not None:
            _check_cors(params["Cors"])
            doc["Cors"] = params["Cors"]
        doc["LastModifiedTime"] = _now()
        self.db.put(URL, doc["urlId"], doc)
        self._changed()
        return doc

    def delete(self, account: str, region: str, function: str, qualifier: str | None) -> None:
        doc = self.get(account, region, function, qualifier)
        with self.db.transaction():
            self.db.delete(BY_FUNCTION, self._index_key(account, region, function, qualifier))
            self.db.delete(URL, doc["urlId"])
        self._changed()

    def delete_all(self, account: str, region: str, function: str, qualifier: str | None = None) -> int:
        """When the function is deleted its URLs go with it (every qualifier), when an alias is deleted its
        URL does (``qualifier``), as on AWS. Returns how many configs were deleted."""
        if qualifier is None:
            rows = self.db.list(BY_FUNCTION, f"{account}/{region}/{function}/")
        else:
            key = self._index_key(account, region, function, qualifier)
            ref = self.db.get(BY_FUNCTION, key)
            rows = [] if ref is None else [(key, ref)]
        if rows:
            with self.db.transaction():
                for key, ref in rows:
                    self.db.delete(BY_FUNCTION, key)
                    self.db.delete(URL, ref["urlId"])
            self._changed()
        return len(rows)

    def list_for(self, account: str, region: str, function: str) -> list[dict[str, Any]]:
        out = []
        for _, ref in self.db.list(BY_FUNCTION, f"{account}/{region}/{function}/"):
            doc = self.db.get(URL, ref["urlId"])
            if doc is not None:
                out.append(doc)
        return out

    def by_id(self, url_id: str) -> dict[str, Any] | None:
        if url_id in self._cache:
            return self._cache[url_id]
        doc: dict[str, Any] | None = self.db.get(URL, url_id)
        self._cache[url_id] = doc
        return doc
